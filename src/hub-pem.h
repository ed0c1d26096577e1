/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-pem.h - certificates and private keys as PEM text, with the errors a
 * person can act on. Shared by the core and the file certificate store, so
 * it reports into a message buffer instead of a GError.
 *
 * The seed warns that PEM copied out of a JSON string often arrives with its
 * line breaks written as the two characters '\' 'n'; that is detected and
 * named instead of reported as a generic decoding failure.
 */
#pragma once

#include <stddef.h>

#include <glib.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

/* TRUE when @text contains a PEM header and the two-character sequence "\n"
 * where a line break belongs. */
gboolean hub_pem_has_escaped_newlines(const char *text, gsize len);

/* Every certificate in @text, in order (leaf first for a chain). NULL with
 * @message for: empty text, escaped newlines, no CERTIFICATE block, a private
 * key where a certificate was expected, or a corrupt block. Free with
 * sk_X509_pop_free(chain, X509_free). */
STACK_OF(X509) *hub_pem_parse_certificates(const char *text, gsize len, char *message, gsize message_size);

/* The one unencrypted private key in @text (PKCS#8, SEC1 EC or PKCS#1 RSA).
 * NULL with @message for: empty text, escaped newlines, an encrypted key, a
 * certificate where a key was expected, or a corrupt block. */
EVP_PKEY *hub_pem_parse_private_key(const char *text, gsize len, char *message, gsize message_size);

/* PEM text of @chain (g_free), or NULL on an encoding failure. */
char *hub_pem_format_certificates(STACK_OF(X509) *chain);

/* PKCS#8 PEM of a software key in memory that is wiped when freed: free it
 * with hub_pem_free_secret(). NULL when the key cannot be exported (for
 * example a key that lives in a TPM). */
char *hub_pem_format_private_key(EVP_PKEY *key, gsize *len);
void hub_pem_free_secret(char *pem, gsize len);

/* "EC P-256", "RSA 2048", ... (g_free). */
char *hub_pem_describe_key(EVP_PKEY *key);

/* TRUE when @key is the private half of @cert's public key. */
gboolean hub_pem_key_matches(X509 *cert, EVP_PKEY *key);
