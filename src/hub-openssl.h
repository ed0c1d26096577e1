/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-openssl.h - OpenSSL glue for core code: g_autoptr() for the OpenSSL
 * types we hold, and the thread-local error queue as GError text.
 */
#pragma once

#include <glib.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(BIO, BIO_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_MD_CTX, EVP_MD_CTX_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_PKEY, EVP_PKEY_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_PKEY_CTX, EVP_PKEY_CTX_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SSL, SSL_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SSL_CTX, SSL_CTX_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509, X509_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509_NAME, X509_NAME_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509_REQ, X509_REQ_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509_STORE, X509_STORE_free)

/* Drains the calling thread's OpenSSL error queue and returns its entries as
 * one line, "; "-separated, or NULL when the queue is empty (g_free). */
char *hub_openssl_error_take(void);

/* Sets @error (HUB_ERROR, @code) to the formatted message followed by ": "
 * and the drained error queue, or to the message alone when the queue is
 * empty. The queue is left empty either way, so a stale entry never shows
 * up in a later, unrelated error. */
void hub_openssl_set_error(GError **error, gint code, const char *format, ...) G_GNUC_PRINTF(3, 4);

/* A distinguished name in RFC 2253 form, for messages (g_free). */
char *hub_openssl_name_to_string(const X509_NAME *name);
/* The certificate's subject in RFC 2253 form (g_free). */
char *hub_openssl_subject(X509 *cert);
