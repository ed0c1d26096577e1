/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>

#include "hub-cert-manager.h"
#include "hub-csr.h"
#include "hub-error.h"
#include "hub-openssl.h"
#include "hub-pem.h"

#define MESSAGE_SIZE 512

struct _HubCertManager {
	HubConfig *config;
	HubPluginLoader *loader;
};

static const char *const role_names[] = { NULL, "claim", "permanent", "root-ca", "attestation" };

const char *hub_cert_role_to_string(guint32 role)
{
	return role >= 1 && role <= HUB_CERT_ROLE_COUNT ? role_names[role] : NULL;
}

gboolean hub_cert_role_from_string(const char *name, guint32 *role)
{
	if (!name)
		return FALSE;
	for (guint32 i = 1; i <= HUB_CERT_ROLE_COUNT; i++)
		if (g_ascii_strcasecmp(name, role_names[i]) == 0) {
			*role = i;
			return TRUE;
		}
	if (g_ascii_strcasecmp(name, "root_ca") == 0 || g_ascii_strcasecmp(name, "rootca") == 0) {
		*role = HUB_CERT_ROLE_ROOT_CA;
		return TRUE;
	}
	return FALSE;
}

gboolean hub_cert_key_type_from_string(const char *name, guint32 *key_type)
{
	if (!name || !*name || g_ascii_strcasecmp(name, "ec-p256") == 0 || g_ascii_strcasecmp(name, "ec") == 0)
		*key_type = HUB_KEY_TYPE_EC_P256;
	else if (g_ascii_strcasecmp(name, "rsa-2048") == 0 || g_ascii_strcasecmp(name, "rsa") == 0)
		*key_type = HUB_KEY_TYPE_RSA_2048;
	else
		return FALSE;
	return TRUE;
}

void hub_cert_status_free(HubCertStatus *status)
{
	if (!status)
		return;
	g_free(status->store);
	g_free(status->location);
	g_free(status->key_type);
	g_free(status->subject);
	g_free(status->issuer);
	g_free(status->serial);
	g_free(status->error);
	g_free(status);
}

const char *hub_cert_status_state(const HubCertStatus *status)
{
	if (!status->store)
		return "unconfigured";
	if (status->error)
		return "error";
	if (status->key_mismatch)
		return "mismatch";
	if (status->has_certificate && status->expired)
		return "expired";
	if (status->has_certificate && status->not_yet_valid)
		return "not-yet-valid";
	if (status->role == HUB_CERT_ROLE_ROOT_CA)
		return status->has_certificate ? "ok" : "empty";
	if (status->has_key && status->has_certificate)
		return "ok";
	if (status->has_key)
		return "key-only";
	return status->has_certificate ? "certificate-only" : "empty";
}

HubCertManager *hub_cert_manager_new(HubConfig *config, HubPluginLoader *loader)
{
	HubCertManager *manager = g_new0(HubCertManager, 1);

	manager->config = config;
	manager->loader = loader;
	return manager;
}

void hub_cert_manager_free(HubCertManager *manager)
{
	g_free(manager);
}

static gint error_code_from_errno(int err)
{
	switch (err) {
	case ENOENT:
		return HUB_ERROR_NOT_FOUND;
	case ENOTSUP:
		return HUB_ERROR_NOT_SUPPORTED;
	/* EACCES from a store (wrong PIN, a key file others can read) is not
	 * the caller's access: AccessDenied would send them to group hubd. */
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

/* Finds the store serving @role; sets @error when the role is unknown,
 * reserved or served by a store that is not loaded. */
static HubPlugin *store_for(HubCertManager *manager, guint32 role, GError **error)
{
	const char *name;
	HubPlugin *plugin;

	if (!hub_cert_role_to_string(role)) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "unknown certificate role %u", role);
		return NULL;
	}
	if (role == HUB_CERT_ROLE_ATTESTATION) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_NOT_SUPPORTED,
			    "the attestation role is reserved and not supported yet");
		return NULL;
	}
	name = manager->config->cert_stores[role];
	plugin = name ? hub_plugin_loader_find(manager->loader, name) : NULL;
	if (!plugin || plugin->kind != HUB_PLUGIN_KIND_CERTSTORE) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_UNAVAILABLE,
			    "certificate store '%s' for role %s is not loaded (check [certificates] and [hubd] plugins)",
			    name ? name : "(none)", role_names[role]);
		return NULL;
	}
	return plugin;
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
		    role_names[role], message[0] ? message : g_strerror(-r));
	return FALSE;
}

gboolean hub_cert_manager_load(HubCertManager *manager, guint32 role, STACK_OF(X509) **chain, EVP_PKEY **key,
			       GError **error)
{
	HubPlugin *plugin = store_for(manager, role, error);
	char message[MESSAGE_SIZE] = "";
	int r;

	if (!plugin)
		return FALSE;
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

HubCertStatus *hub_cert_manager_get_status(HubCertManager *manager, guint32 role)
{
	HubCertStatus *status = g_new0(HubCertStatus, 1);
	g_autoptr(GError) error = NULL;
	STACK_OF(X509) *chain = NULL;
	EVP_PKEY *key = NULL;
	HubPlugin *plugin;
	char buf[MESSAGE_SIZE] = "";

	status->role = role;
	status->store = g_strdup(role < G_N_ELEMENTS(manager->config->cert_stores) ? manager->config->cert_stores[role]
										   : NULL);
	plugin = store_for(manager, role, &error);
	if (!plugin) {
		if (role != HUB_CERT_ROLE_ATTESTATION)
			status->error = g_strdup(error->message);
		else
			g_clear_pointer(&status->store, g_free);
		return status;
	}
	status->capabilities = ops_of(plugin)->capabilities(plugin->user_data, role);
	if (ops_of(plugin)->describe && ops_of(plugin)->describe(plugin->user_data, role, buf, sizeof(buf)) == 0)
		status->location = g_strndup(buf, sizeof(buf));
	if (!hub_cert_manager_load(manager, role, &chain, role == HUB_CERT_ROLE_ROOT_CA ? NULL : &key, &error)) {
		if (!g_error_matches(error, HUB_ERROR, HUB_ERROR_NOT_FOUND))
			status->error = g_strdup(error->message);
		return status;
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
	return status;
}

void hub_cert_manager_log_status(HubCertManager *manager)
{
	for (guint32 role = HUB_CERT_ROLE_CLAIM; role <= HUB_CERT_ROLE_ROOT_CA; role++) {
		g_autoptr(HubCertStatus) status = hub_cert_manager_get_status(manager, role);
		const char *state = hub_cert_status_state(status);
		g_autoptr(GDateTime) until = NULL;
		g_autofree char *until_text = NULL;

		if (status->not_after) {
			until = g_date_time_new_from_unix_utc(status->not_after);
			until_text = g_date_time_format_iso8601(until);
		}
		if (status->error && !manager->config->cert_stores_configured &&
		    !hub_plugin_loader_find(manager->loader, status->store))
			/* Nothing asked for certificates: a hub without a cloud. */
			g_info("Certificate role %s: no certificate store loaded", role_names[role]);
		else if (status->error)
			g_warning("Certificate role %s: %s", role_names[role], status->error);
		else if (status->key_mismatch)
			g_warning("Certificate role %s (store %s): the certificate %s does not match the key", role_names[role],
				  status->store, status->subject);
		else if (status->expired)
			g_warning("Certificate role %s (store %s): the certificate %s expired at %s", role_names[role],
				  status->store, status->subject, until_text);
		else if (status->not_yet_valid)
			g_warning("Certificate role %s (store %s): the certificate %s is not valid yet", role_names[role],
				  status->store, status->subject);
		else if (status->has_certificate)
			g_info("Certificate role %s (store %s): %s, valid until %s%s", role_names[role], status->store,
			       status->subject, until_text,
			       status->capabilities & HUB_CERTSTORE_CAP_HARDWARE ? ", key in hardware" : "");
		else
			g_info("Certificate role %s (store %s): %s", role_names[role], status->store, state);
	}
}

gboolean hub_cert_manager_generate_key(HubCertManager *manager, guint32 role, guint32 key_type, GError **error)
{
	HubPlugin *plugin = store_for(manager, role, error);
	char message[MESSAGE_SIZE] = "";
	int r;

	if (!plugin)
		return FALSE;
	if (role == HUB_CERT_ROLE_ROOT_CA) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "the root-ca role holds certificates only");
		return FALSE;
	}
	r = ops_of(plugin)->generate_key(plugin->user_data, role, key_type, message, sizeof(message));
	ERR_clear_error();
	if (!store_result(plugin, role, r, message, error))
		return FALSE;
	g_info("Generated a new %s key for role %s in store %s", key_type == HUB_KEY_TYPE_RSA_2048 ? "RSA 2048" : "EC P-256",
	       role_names[role], plugin->name);
	return TRUE;
}

char *hub_cert_manager_create_csr(HubCertManager *manager, guint32 role, GError **error)
{
	EVP_PKEY *key = NULL;
	char *csr;

	if (role == HUB_CERT_ROLE_ROOT_CA) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "the root-ca role has no key to sign a CSR");
		return NULL;
	}
	if (!hub_cert_manager_load(manager, role, NULL, &key, error))
		return NULL;
	if (!key) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_NOT_FOUND, "role %s has no key yet; generate one first",
			    role_names[role]);
		return NULL;
	}
	csr = hub_csr_create(key, manager->config->serial_number, manager->config->serial_number, error);
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
		g_warning("The certificate stored for role %s has already expired", role_names[role]);
	else if (X509_cmp_current_time(X509_get0_notBefore(leaf)) > 0)
		g_warning("The certificate stored for role %s is not valid yet", role_names[role]);
}

static gboolean store_chain(HubCertManager *manager, HubPlugin *plugin, guint32 role, STACK_OF(X509) *chain,
			    GError **error)
{
	char message[MESSAGE_SIZE] = "";
	int r = ops_of(plugin)->store_certificates(plugin->user_data, role, chain, message, sizeof(message));

	ERR_clear_error();
	if (!store_result(plugin, role, r, message, error))
		return FALSE;
	warn_if_expired(role, sk_X509_value(chain, 0));
	g_info("Stored %d certificate(s) for role %s in store %s", sk_X509_num(chain), role_names[role], plugin->name);
	return TRUE;
}

gboolean hub_cert_manager_store_certificates(HubCertManager *manager, guint32 role, const char *pem,
					     GError **error)
{
	HubPlugin *plugin = store_for(manager, role, error);
	STACK_OF(X509) *chain = NULL;
	EVP_PKEY *key = NULL;
	gboolean ok = FALSE;

	if (!plugin)
		return FALSE;
	chain = parse_chain(pem, error);
	if (!chain)
		return FALSE;
	if (role != HUB_CERT_ROLE_ROOT_CA) {
		if (!hub_cert_manager_load(manager, role, NULL, &key, error))
			goto out;
		if (!key) {
			g_set_error(error, HUB_ERROR, HUB_ERROR_NOT_FOUND,
				    "role %s has no key; generate one (and a CSR) or import the key with the certificate",
				    role_names[role]);
			goto out;
		}
		if (!hub_pem_key_matches(sk_X509_value(chain, 0), key)) {
			g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT,
				    "the certificate does not match the key of role %s", role_names[role]);
			goto out;
		}
	}
	ok = store_chain(manager, plugin, role, chain, error);
out:
	EVP_PKEY_free(key);
	sk_X509_pop_free(chain, X509_free);
	return ok;
}

gboolean hub_cert_manager_import(HubCertManager *manager, guint32 role, const char *cert_pem, const char *key_pem,
				 GError **error)
{
	HubPlugin *plugin;
	STACK_OF(X509) *chain = NULL;
	EVP_PKEY *key = NULL;
	char message[MESSAGE_SIZE] = "";
	gboolean ok = FALSE;
	int r;

	if (!key_pem || !*key_pem)
		return hub_cert_manager_store_certificates(manager, role, cert_pem, error);
	plugin = store_for(manager, role, error);
	if (!plugin)
		return FALSE;
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
	ok = store_chain(manager, plugin, role, chain, error);
out:
	EVP_PKEY_free(key);
	sk_X509_pop_free(chain, X509_free);
	return ok;
}

gboolean hub_cert_manager_erase(HubCertManager *manager, guint32 role, GError **error)
{
	HubPlugin *plugin = store_for(manager, role, error);
	char message[MESSAGE_SIZE] = "";
	int r;

	if (!plugin)
		return FALSE;
	r = ops_of(plugin)->erase(plugin->user_data, role, message, sizeof(message));
	ERR_clear_error();
	if (!store_result(plugin, role, r, message, error))
		return FALSE;
	g_info("Erased role %s in store %s", role_names[role], plugin->name);
	return TRUE;
}

SSL_CTX *hub_cert_manager_tls_context(HubCertManager *manager, guint32 role, const HubTlsOptions *options,
				      GError **error)
{
	STACK_OF(X509) *chain = NULL;
	STACK_OF(X509) *trust = NULL;
	EVP_PKEY *key = NULL;
	SSL_CTX *ctx = NULL;

	if (role != HUB_CERT_ROLE_CLAIM && role != HUB_CERT_ROLE_PERMANENT) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "role %s cannot authenticate a TLS client",
			    hub_cert_role_to_string(role) ? hub_cert_role_to_string(role) : "?");
		return NULL;
	}
	if (!hub_cert_manager_load(manager, role, &chain, &key, error) ||
	    !hub_cert_manager_load(manager, HUB_CERT_ROLE_ROOT_CA, &trust, NULL, error))
		goto out;
	if (!chain || !key) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_NOT_FOUND, "role %s has no %s", role_names[role],
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
