/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-csr.h - PKCS#10 certificate signing requests for keys the hub may not
 * be able to read: the key only has to sign (a TPM, HSM or engine key works
 * as well as a software key).
 */
#pragma once

#include <glib.h>
#include <openssl/evp.h>

/* X.520 upper bounds (ub-common-name, ub-serial-number), in characters. */
#define HUB_CSR_MAX_COMMON_NAME   64
#define HUB_CSR_MAX_SERIAL_NUMBER 64

/* Builds a version 1 (value 0) PKCS#10 request for @key's public key with the
 * subject CN=@common_name and, when @serial_number is not NULL,
 * serialNumber=@serial_number, signed by @key with SHA-256.
 *
 * @common_name: UTF-8, 1 to 64 characters, no control characters.
 * @serial_number: 1 to 64 PrintableString characters (A-Z a-z 0-9 space
 * and '()+,-./:=?), as X.520 requires for this attribute; or NULL.
 *
 * Returns the PEM text ("-----BEGIN CERTIFICATE REQUEST-----"), g_free; or
 * NULL with @error: HUB_ERROR_INVALID_ARGUMENT for bad input, HUB_ERROR_FAILED
 * with OpenSSL's reason when encoding or signing fails (e.g. the device
 * refused to sign). Never asks for the private key's bytes. Any thread, but
 * @key must not be used concurrently. */
char *hub_csr_create(EVP_PKEY *key, const char *common_name, const char *serial_number, GError **error);

/* TRUE when @csr_pem is a PKCS#10 request whose self-signature verifies and
 * whose public key is @key's. Compares public parts only, so hardware keys
 * work. Leaves OpenSSL's error queue empty. */
gboolean hub_csr_matches_key(const char *csr_pem, EVP_PKEY *key);
