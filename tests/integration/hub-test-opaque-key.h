/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-test-opaque-key.h - an EVP_PKEY that behaves like a TPM or HSM key
 * without the hardware: it holds only the public half and signs through a
 * legacy EC_KEY_METHOD / RSA_METHOD (the mechanism libp11 and our ESYS
 * signer use) that delegates to a software key kept out of reach. Code that
 * works with it never needed the private key's bytes.
 */
#pragma once

#include <glib.h>
#include <openssl/evp.h>

/* A sign-only twin of @software (an EC P-256 or RSA key; the twin takes its
 * own reference). EVP_PKEY_free. */
EVP_PKEY *hub_test_opaque_key_new(EVP_PKEY *software);
/* How many signatures the twin has made. */
guint hub_test_opaque_key_signatures(EVP_PKEY *opaque);
