/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "hub-error.h"
#include "hub-openssl.h"
#include "hub-tls-context.h"

/* RFC 7301: each name 1..255 bytes, each prefixed by its length. */
static GByteArray *alpn_wire_format(const char *const *protocols, GError **error)
{
	g_autoptr(GByteArray) wire = g_byte_array_new();

	for (guint i = 0; protocols[i]; i++) {
		gsize len = strlen(protocols[i]);
		guint8 prefix = (guint8)len;

		if (len == 0 || len > 255) {
			g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT,
				    "ALPN protocol name %u has %zu bytes; it must have 1 to 255", i + 1, len);
			return NULL;
		}
		g_byte_array_append(wire, &prefix, 1);
		g_byte_array_append(wire, (const guint8 *)protocols[i], (guint)len);
		/* The whole list goes into one 16-bit length field. */
		if (wire->len > 65535) {
			g_set_error_literal(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "The ALPN list is too long");
			return NULL;
		}
	}
	return g_steal_pointer(&wire);
}

static gboolean set_peer_name(SSL_CTX *ctx, const HubTlsOptions *options, GError **error)
{
	X509_VERIFY_PARAM *param = SSL_CTX_get0_param(ctx);

	if (options->hostname && *options->hostname) {
		/* A literal address would be matched against DNS names and never verify. */
		if (X509_VERIFY_PARAM_set1_ip_asc(param, options->hostname))
			return TRUE;
		ERR_clear_error();
		X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (!X509_VERIFY_PARAM_set1_host(param, options->hostname, 0)) {
			hub_openssl_set_error(error, HUB_ERROR_INVALID_ARGUMENT, "Cannot verify the host name \"%s\"",
					      options->hostname);
			return FALSE;
		}
		return TRUE;
	}
	if (options->ip && *options->ip) {
		if (!X509_VERIFY_PARAM_set1_ip_asc(param, options->ip)) {
			hub_openssl_set_error(error, HUB_ERROR_INVALID_ARGUMENT, "\"%s\" is not an IP address",
					      options->ip);
			return FALSE;
		}
		return TRUE;
	}
	/* Without a name any certificate from a trusted CA would be accepted. */
	g_set_error_literal(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT,
			    "Neither a host name nor an IP address to verify the server against");
	return FALSE;
}

static gboolean set_trust_anchors(SSL_CTX *ctx, STACK_OF(X509) *trust_anchors, GError **error)
{
	g_autoptr(X509_STORE) store = X509_STORE_new();

	if (!store) {
		hub_openssl_set_error(error, HUB_ERROR_FAILED, "Cannot create a certificate store");
		return FALSE;
	}
	for (int i = 0; i < sk_X509_num(trust_anchors); i++) {
		X509 *anchor = sk_X509_value(trust_anchors, i);

		if (!X509_STORE_add_cert(store, anchor)) {
			g_autofree char *subject = hub_openssl_subject(anchor);

			hub_openssl_set_error(error, HUB_ERROR_FAILED, "Cannot trust \"%s\"", subject);
			return FALSE;
		}
	}
	/* Replaces the context's store, so no default verify paths are ever consulted. */
	SSL_CTX_set_cert_store(ctx, g_steal_pointer(&store));
	return TRUE;
}

static gboolean set_credentials(SSL_CTX *ctx, STACK_OF(X509) *chain, EVP_PKEY *key, GError **error)
{
	X509 *leaf = sk_X509_value(chain, 0);
	g_autofree char *subject = hub_openssl_subject(leaf);

	/* Checked first: OpenSSL's own failure for this is "key values mismatch"
	 * from SSL_CTX_use_PrivateKey, or a late "no certificate assigned". */
	if (X509_check_private_key(leaf, key) != 1) {
		hub_openssl_set_error(error, HUB_ERROR_INVALID_ARGUMENT,
				      "The private key does not match the certificate \"%s\"", subject);
		return FALSE;
	}
	if (SSL_CTX_use_certificate(ctx, leaf) != 1) {
		hub_openssl_set_error(error, HUB_ERROR_FAILED, "Cannot use the certificate \"%s\"", subject);
		return FALSE;
	}
	for (int i = 1; i < sk_X509_num(chain); i++) {
		if (SSL_CTX_add1_chain_cert(ctx, sk_X509_value(chain, i)) != 1) {
			hub_openssl_set_error(error, HUB_ERROR_FAILED, "Cannot add certificate %d of the chain", i + 1);
			return FALSE;
		}
	}
	if (SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		hub_openssl_set_error(error, HUB_ERROR_INVALID_ARGUMENT,
				      "The private key does not match the certificate \"%s\"", subject);
		return FALSE;
	}
	return TRUE;
}

SSL_CTX *hub_tls_context_new(STACK_OF(X509) *chain, EVP_PKEY *key, STACK_OF(X509) *trust_anchors,
			     const HubTlsOptions *options, GError **error)
{
	g_autoptr(SSL_CTX) ctx = NULL;
	g_autoptr(GByteArray) alpn = NULL;

	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	/* Neither: a server-authenticated session (a broker that takes a password). */
	if (chain || key) {
		if (!chain || sk_X509_num(chain) < 1 || !sk_X509_value(chain, 0)) {
			g_set_error_literal(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "No client certificate");
			return NULL;
		}
		if (!key) {
			g_set_error_literal(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "No private key");
			return NULL;
		}
	}
	if (!trust_anchors || sk_X509_num(trust_anchors) < 1) {
		g_set_error_literal(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT,
				    "No trust anchors to verify the server with");
		return NULL;
	}
	if (!options) {
		g_set_error_literal(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "No TLS options");
		return NULL;
	}
	if (options->alpn && options->alpn[0]) {
		alpn = alpn_wire_format(options->alpn, error);
		if (!alpn)
			return NULL;
	}
	/* Whatever is queued belongs to someone else's failure. */
	ERR_clear_error();

	ctx = SSL_CTX_new_ex(options->libctx, options->propq, TLS_client_method());
	if (!ctx) {
		hub_openssl_set_error(error, HUB_ERROR_FAILED, "Cannot create a TLS context");
		return NULL;
	}
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) {
		hub_openssl_set_error(error, HUB_ERROR_FAILED, "Cannot require TLS 1.2");
		return NULL;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (!set_trust_anchors(ctx, trust_anchors, error) || !set_peer_name(ctx, options, error) ||
	    (chain && !set_credentials(ctx, chain, key, error)))
		return NULL;
	/* Beware: returns 0 on success. */
	if (alpn && SSL_CTX_set_alpn_protos(ctx, alpn->data, alpn->len) != 0) {
		hub_openssl_set_error(error, HUB_ERROR_FAILED, "Cannot set the ALPN protocols");
		return NULL;
	}
	return g_steal_pointer(&ctx);
}

char *hub_tls_describe_peer(SSL *ssl)
{
	const unsigned char *alpn = NULL;
	unsigned int alpn_len = 0;
	X509 *peer;
	long verify;
	g_autofree char *subject = NULL;
	g_autofree char *verdict = NULL;

	if (!ssl)
		return g_strdup("no TLS session");
	peer = SSL_get0_peer_certificate(ssl);
	subject = peer ? hub_openssl_subject(peer) : g_strdup("(no certificate)");
	verify = SSL_get_verify_result(ssl);
	verdict = verify == X509_V_OK ? g_strdup("verified") : g_strdup_printf("not verified: %s",
									      X509_verify_cert_error_string(verify));
	SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
	return g_strdup_printf("%s %s, server %s (%s), ALPN %.*s", SSL_get_version(ssl),
			       SSL_get_cipher_name(ssl) ? SSL_get_cipher_name(ssl) : "(none)", subject, verdict,
			       alpn_len ? (int)alpn_len : 4, alpn_len ? (const char *)alpn : "none");
}
