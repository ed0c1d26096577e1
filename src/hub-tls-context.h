/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-tls-context.h - client SSL_CTX for mutual TLS to a cloud endpoint.
 *
 * libmosquitto, given an SSL_CTX (MOSQ_OPT_SSL_CTX with
 * MOSQ_OPT_SSL_CTX_WITH_DEFAULTS = 0), configures nothing itself: no
 * hostname check and no ALPN. Everything is therefore set on the context:
 * the peer name on its X509_VERIFY_PARAM (copied into each SSL libmosquitto
 * creates from it), the ALPN list, the trust anchors and our credentials.
 */
#pragma once

#include <glib.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

typedef struct {
	/* Name the server certificate must carry (subjectAltName DNS, or the CN
	 * when it has no DNS names); no partial wildcards. An IP literal here is
	 * verified as an address. NULL only for endpoints given as an IP address. */
	const char *hostname;
	/* The address to verify (subjectAltName IP) when @hostname is NULL. */
	const char *ip;
	/* NULL-terminated protocol names offered with ALPN, e.g.
	 * {"x-amzn-mqtt-ca", NULL}; NULL or empty = no ALPN. */
	const char *const *alpn;
	/* Library context and property query for provider-backed keys (tpm2
	 * provider in a private OSSL_LIB_CTX); NULL = the default context. */
	OSSL_LIB_CTX *libctx;
	const char *propq;
} HubTlsOptions;

/* Builds a TLS client context: TLS 1.2 or newer, renegotiation off, the
 * server verified against @trust_anchors only (no system CA paths) and
 * against the name in @options, @chain (leaf first, then intermediates) and
 * @key presented as the client certificate; both NULL: no client
 * certificate (a broker that authenticates by password). @key may be
 * hardware-backed: it is only used to sign.
 *
 * The context takes its own references: the caller keeps ownership of
 * @chain, @key and @trust_anchors and may free them at once. Returns a new
 * SSL_CTX (SSL_CTX_free; libmosquitto takes its own reference), or NULL with
 * @error: HUB_ERROR_INVALID_ARGUMENT for missing or malformed input, a key
 * that does not match the leaf certificate (the message says so and names
 * the certificate) or a bad ALPN name; HUB_ERROR_FAILED when OpenSSL refuses
 * (its reason is in the message). OpenSSL's error queue is left empty. */
SSL_CTX *hub_tls_context_new(STACK_OF(X509) *chain, EVP_PKEY *key, STACK_OF(X509) *trust_anchors,
			     const HubTlsOptions *options, GError **error);

/* One line on an established connection for logs and tests, e.g.
 * "TLSv1.3 TLS_AES_256_GCM_SHA384, server CN=localhost (verified), ALPN none"
 * (g_free). Never NULL; says "no TLS session" for a NULL @ssl. */
char *hub_tls_describe_peer(SSL *ssl);
