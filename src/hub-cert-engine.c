/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-cert-engine.c - the OpenSSL half of the certificate manager, built as
 * a module (hubd-cloud.so) that hubd loads with the first certificate
 * operation. A hub that uses no certificates never maps libcrypto/libssl
 * (about 1.7 MB of resident memory); see hub-cert-manager.c.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>

#include "hub-cert-engine.h"
#include "hub-csr.h"
#include "hub-error.h"
#include "hub-openssl.h"
#include "hub-pem.h"

#define MESSAGE_SIZE 512

/* EACCES from a store (wrong PIN, a key file others can read) stays Failed:
 * it is not the caller's access, and AccessDenied would send them to group hubd. */
static gint error_code_from_errno(int err)
{
	switch (err) {
	case ENOENT:
		return HUB_ERROR_NOT_FOUND;
	case ENOTSUP:
		return HUB_ERROR_NOT_SUPPORTED;
	case ENODEV:
	case ENXIO:
	case ECONNREFUSED:
	case EHOSTUNREACH:
		return HUB_ERROR_UNAVAILABLE;
	case EINVAL:
		return HUB_ERROR_INVALID_ARGUMENT;
	default:
		return HUB_ERROR_FAILED;
	}
}

static const struct hub_certstore_ops *ops_of(HubPlugin *plugin)
{
	return plugin->desc->ops;
}

/* Turns a store's answer into a GError naming the store and the role. */
static gboolean store_result(HubPlugin *plugin, guint32 role, int r, const char *message, GError **error)
{
	if (r >= 0)
		return TRUE;
	g_set_error(error, HUB_ERROR, error_code_from_errno(-r), "certificate store '%s', role %s: %s", plugin->name,
		    hub_cert_role_to_string(role), message[0] ? message : g_strerror(-r));
	return FALSE;
}

static gboolean engine_load(HubPlugin *plugin, guint32 role, STACK_OF(X509) **chain, EVP_PKEY **key, GError **error)
{
	char message[MESSAGE_SIZE] = "";
	int r;

	if (chain)
		*chain = NULL;
	if (key)
		*key = NULL;
	r = ops_of(plugin)->load(plugin->user_data, role, chain, key, message, sizeof(message));
	ERR_clear_error();
	return store_result(plugin, role, r, message, error);
}

static gint64 asn1_time_to_unix(const ASN1_TIME *when)
{
	struct tm tm;

	if (!when || !ASN1_TIME_to_tm(when, &tm))
		return 0;
	return (gint64)timegm(&tm);
}

static char *serial_to_string(const ASN1_INTEGER *serial)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	char *text = g_strdup(hex ? hex : "");

	OPENSSL_free(hex);
	BN_free(bn);
	return text;
}

static void engine_fill_status(HubPlugin *plugin, guint32 role, HubCertStatus *status)
{
	g_autoptr(GError) error = NULL;
	STACK_OF(X509) *chain = NULL;
	EVP_PKEY *key = NULL;
	char buf[MESSAGE_SIZE] = "";

	status->capabilities = ops_of(plugin)->capabilities(plugin->user_data, role);
	if (ops_of(plugin)->describe && ops_of(plugin)->describe(plugin->user_data, role, buf, sizeof(buf)) == 0)
		status->location = g_strndup(buf, sizeof(buf));
	if (!engine_load(plugin, role, &chain, role == HUB_CERT_ROLE_ROOT_CA ? NULL : &key, &error)) {
		if (!g_error_matches(error, HUB_ERROR, HUB_ERROR_NOT_FOUND))
			status->error = g_strdup(error->message);
		return;
	}
	status->has_key = key != NULL;
	status->key_type = key ? hub_pem_describe_key(key) : NULL;
	if (chain && sk_X509_num(chain) > 0) {
		X509 *leaf = sk_X509_value(chain, 0);
		time_t now = time(NULL);

		status->has_certificate = TRUE;
		status->n_certificates = (guint)sk_X509_num(chain);
		status->subject = hub_openssl_subject(leaf);
		status->issuer = hub_openssl_name_to_string(X509_get_issuer_name(leaf));
		status->serial = serial_to_string(X509_get0_serialNumber(leaf));
		status->not_before = asn1_time_to_unix(X509_get0_notBefore(leaf));
		status->not_after = asn1_time_to_unix(X509_get0_notAfter(leaf));
		status->expired = status->not_after && status->not_after < (gint64)now;
		status->not_yet_valid = status->not_before > (gint64)now;
		status->key_mismatch = key && !hub_pem_key_matches(leaf, key);
	}
	sk_X509_pop_free(chain, X509_free);
	EVP_PKEY_free(key);
}

static gboolean engine_generate_key(HubPlugin *plugin, guint32 role, guint32 key_type, GError **error)
{
	char message[MESSAGE_SIZE] = "";
	int r;

	if (role == HUB_CERT_ROLE_ROOT_CA) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "the root-ca role holds certificates only");
		return FALSE;
	}
	r = ops_of(plugin)->generate_key(plugin->user_data, role, key_type, message, sizeof(message));
	ERR_clear_error();
	if (!store_result(plugin, role, r, message, error))
		return FALSE;
	g_info("Generated a new %s key for role %s in store %s", key_type == HUB_KEY_TYPE_RSA_2048 ? "RSA 2048" : "EC P-256",
	       hub_cert_role_to_string(role), plugin->name);
	return TRUE;
}

static char *engine_create_csr(HubPlugin *plugin, guint32 role, const char *serial_number, GError **error)
{
	EVP_PKEY *key = NULL;
	char *csr;

	if (role == HUB_CERT_ROLE_ROOT_CA) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "the root-ca role has no key to sign a CSR");
		return NULL;
	}
	if (!engine_load(plugin, role, NULL, &key, error))
		return NULL;
	if (!key) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_NOT_FOUND, "role %s has no key yet; generate one first",
			    hub_cert_role_to_string(role));
		return NULL;
	}
	csr = hub_csr_create(key, serial_number, serial_number, error);
	EVP_PKEY_free(key);
	return csr;
}

static STACK_OF(X509) *parse_chain(const char *pem, GError **error)
{
	char message[MESSAGE_SIZE] = "";
	STACK_OF(X509) *chain = hub_pem_parse_certificates(pem, pem ? strlen(pem) : 0, message, sizeof(message));

	if (!chain)
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "%s", message);
	return chain;
}

/* Warns about a certificate that is already expired; storing it is still the
 * user's call (status shows it). */
static void warn_if_expired(guint32 role, X509 *leaf)
{
	if (X509_cmp_current_time(X509_get0_notAfter(leaf)) < 0)
		g_warning("The certificate stored for role %s has already expired", hub_cert_role_to_string(role));
	else if (X509_cmp_current_time(X509_get0_notBefore(leaf)) > 0)
		g_warning("The certificate stored for role %s is not valid yet", hub_cert_role_to_string(role));
}

static gboolean store_chain(HubPlugin *plugin, guint32 role, STACK_OF(X509) *chain, GError **error)
{
	char message[MESSAGE_SIZE] = "";
	int r = ops_of(plugin)->store_certificates(plugin->user_data, role, chain, message, sizeof(message));

	ERR_clear_error();
	if (!store_result(plugin, role, r, message, error))
		return FALSE;
	warn_if_expired(role, sk_X509_value(chain, 0));
	g_info("Stored %d certificate(s) for role %s in store %s", sk_X509_num(chain), hub_cert_role_to_string(role), plugin->name);
	return TRUE;
}

static gboolean engine_store_certificates(HubPlugin *plugin, guint32 role, const char *pem, GError **error)
{
	STACK_OF(X509) *chain = NULL;
	EVP_PKEY *key = NULL;
	gboolean ok = FALSE;

	chain = parse_chain(pem, error);
	if (!chain)
		return FALSE;
	if (role != HUB_CERT_ROLE_ROOT_CA) {
		if (!engine_load(plugin, role, NULL, &key, error))
			goto out;
		if (!key) {
			g_set_error(error, HUB_ERROR, HUB_ERROR_NOT_FOUND,
				    "role %s has no key; generate one (and a CSR) or import the key with the certificate",
				    hub_cert_role_to_string(role));
			goto out;
		}
		if (!hub_pem_key_matches(sk_X509_value(chain, 0), key)) {
			g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT,
				    "the certificate does not match the key of role %s", hub_cert_role_to_string(role));
			goto out;
		}
	}
	ok = store_chain(plugin, role, chain, error);
out:
	EVP_PKEY_free(key);
	sk_X509_pop_free(chain, X509_free);
	return ok;
}

static gboolean engine_import(HubPlugin *plugin, guint32 role, const char *cert_pem, const char *key_pem, GError **error)
{
	STACK_OF(X509) *chain = NULL;
	EVP_PKEY *key = NULL;
	char message[MESSAGE_SIZE] = "";
	gboolean ok = FALSE;
	int r;

	if (!key_pem || !*key_pem)
		return engine_store_certificates(plugin, role, cert_pem, error);
	if (role == HUB_CERT_ROLE_ROOT_CA) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "the root-ca role holds certificates only");
		return FALSE;
	}
	chain = parse_chain(cert_pem, error);
	if (!chain)
		return FALSE;
	key = hub_pem_parse_private_key(key_pem, strlen(key_pem), message, sizeof(message));
	if (!key) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "%s", message);
		goto out;
	}
	if (!hub_pem_key_matches(sk_X509_value(chain, 0), key)) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT,
			    "the certificate and the private key do not belong together");
		goto out;
	}
	if (!(ops_of(plugin)->capabilities(plugin->user_data, role) & HUB_CERTSTORE_CAP_IMPORT_KEY)) {
		/* Still ask the store: its message says why it cannot. */
		r = ops_of(plugin)->import_key(plugin->user_data, role, key, message, sizeof(message));
		if (r >= 0)
			r = -ENOTSUP;
		store_result(plugin, role, r, message[0] ? message : "this store cannot import keys", error);
		goto out;
	}
	r = ops_of(plugin)->import_key(plugin->user_data, role, key, message, sizeof(message));
	ERR_clear_error();
	if (!store_result(plugin, role, r, message, error))
		goto out;
	ok = store_chain(plugin, role, chain, error);
out:
	EVP_PKEY_free(key);
	sk_X509_pop_free(chain, X509_free);
	return ok;
}

static gboolean engine_erase(HubPlugin *plugin, guint32 role, GError **error)
{
	char message[MESSAGE_SIZE] = "";
	int r;

	r = ops_of(plugin)->erase(plugin->user_data, role, message, sizeof(message));
	ERR_clear_error();
	if (!store_result(plugin, role, r, message, error))
		return FALSE;
	g_info("Erased role %s in store %s", hub_cert_role_to_string(role), plugin->name);
	return TRUE;
}

static SSL_CTX *engine_tls_context(HubPlugin *plugin, HubPlugin *root, guint32 role, const HubTlsOptions *options,
				   GError **error)
{
	STACK_OF(X509) *chain = NULL;
	STACK_OF(X509) *trust = NULL;
	EVP_PKEY *key = NULL;
	SSL_CTX *ctx = NULL;

	/* No @plugin: no client certificate, the server is still verified. */
	if ((plugin && !engine_load(plugin, role, &chain, &key, error)) ||
	    !engine_load(root, HUB_CERT_ROLE_ROOT_CA, &trust, NULL, error))
		goto out;
	if (plugin && (!chain || !key)) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_NOT_FOUND, "role %s has no %s", hub_cert_role_to_string(role),
			    !key ? "key" : "certificate");
		goto out;
	}
	if (!trust || sk_X509_num(trust) == 0) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_NOT_FOUND, "role root-ca has no certificate to trust");
		goto out;
	}
	ctx = hub_tls_context_new(chain, key, trust, options, error);
out:
	sk_X509_pop_free(chain, X509_free);
	sk_X509_pop_free(trust, X509_free);
	EVP_PKEY_free(key);
	return ctx;
}

static const HubCertEngine engine = {
	.size = sizeof(HubCertEngine),
	.fill_status = engine_fill_status,
	.load = engine_load,
	.generate_key = engine_generate_key,
	.create_csr = engine_create_csr,
	.store_certificates = engine_store_certificates,
	.import = engine_import,
	.erase = engine_erase,
	.tls_context = engine_tls_context,
};

HUB_PLUGIN_EXPORT const HubCertEngine *hub_cert_engine_query(void)
{
	return &engine;
}
