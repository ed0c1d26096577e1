/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-pkcs11-key.h - an EVP_PKEY whose private operations run on the token.
 *
 * The key is a "legacy" EC_KEY or RSA with a method table that sends the
 * signature to the token (CKM_ECDSA; CKM_RSA_PKCS or CKM_RSA_X_509 for
 * PSS, which OpenSSL pads itself), the route libp11 takes too. It holds a
 * reference to the HubPkcs11Module, so it keeps working (reconnecting if
 * needed) until EVP_PKEY_free(). Some modules (SoftHSM) renumber private
 * objects after a logout, so when its handle is no longer valid the key
 * finds its object again by class, label and CKA_ID, and checks the next
 * signature against its public key in software before returning it: a
 * different key under the same label makes signing fail. So does a key
 * whose object this plugin destroyed (replaced or erased). Failures queue
 * an OpenSSL error saying why. Private key bytes never exist in the
 * process: serialising the key fails.
 *
 * The method tables live in this plugin's code, so every such key must be
 * freed before the plugin is unloaded (the certstore ABI requires it).
 */
#pragma once

#include <openssl/evp.h>

#include "hub-pkcs11-module.h"

/* Builds the key for the private key @object, labelled @label with CKA_ID
 * @id (@id_len bytes, may be 0); @public_key (not taken over) gives the
 * public half: EC (any named curve) or RSA. The caller holds the module
 * lock. Returns 0 and *@out (EVP_PKEY_free), or -EINVAL (unsupported public
 * key) / -ENOMEM with a sentence in @message. */
int hub_pkcs11_key_new(HubPkcs11Module *module, CK_OBJECT_HANDLE object, const char *label, const guint8 *id,
		       gsize id_len, EVP_PKEY *public_key, EVP_PKEY **out, char *message, size_t message_size);
