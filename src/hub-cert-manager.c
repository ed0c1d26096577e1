/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-cert-manager.c - roles to stores, in hubd itself and free of OpenSSL.
 * Everything that parses, signs or builds TLS contexts is in the
 * hubd-cloud.so module (hub-cert-engine.c), loaded with the first operation
 * on a role whose store is loaded. A hub without certificate stores (the
 * embedded default) never maps libcrypto/libssl.
 */
#include "config.h"

#include <errno.h>

#include "hub-cert-engine.h"
#include "hub-cloud-module.h"
#include "hub-error.h"

struct _HubCertManager {
	HubConfig *config;
	HubPluginLoader *loader;
	const HubCertEngine *engine; /* NULL until loaded */
};

gboolean hub_cert_role_from_string(const char *name, guint32 *role)
{
	if (!name)
		return FALSE;
	for (guint32 i = 1; i <= HUB_CERT_ROLE_COUNT; i++)
		if (g_ascii_strcasecmp(name, hub_cert_role_to_string(i)) == 0) {
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

static const HubCertEngine *engine(HubCertManager *manager, GError **error)
{
	if (!manager->engine)
		manager->engine = hub_cloud_module_table(HUB_CERT_ENGINE_QUERY_SYMBOL, sizeof(HubCertEngine), error);
	return manager->engine;
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
			    name ? name : "(none)", hub_cert_role_to_string(role));
		return NULL;
	}
	return plugin;
}

/* The store for @role and the engine, or FALSE with @error. */
static HubPlugin *prepare(HubCertManager *manager, guint32 role, const HubCertEngine **out, GError **error)
{
	HubPlugin *plugin = store_for(manager, role, error);

	if (!plugin)
		return NULL;
	*out = engine(manager, error);
	return *out ? plugin : NULL;
}

HubCertStatus *hub_cert_manager_get_status(HubCertManager *manager, guint32 role)
{
	HubCertStatus *status = g_new0(HubCertStatus, 1);
	g_autoptr(GError) error = NULL;
	const HubCertEngine *e = NULL;
	HubPlugin *plugin;

	status->role = role;
	status->store = g_strdup(role < G_N_ELEMENTS(manager->config->cert_stores) ? manager->config->cert_stores[role]
										   : NULL);
	plugin = prepare(manager, role, &e, &error);
	if (!plugin) {
		if (role != HUB_CERT_ROLE_ATTESTATION)
			status->error = g_strdup(error->message);
		else
			g_clear_pointer(&status->store, g_free);
		return status;
	}
	e->fill_status(plugin, role, status);
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
			g_info("Certificate role %s: no certificate store loaded", hub_cert_role_to_string(role));
		else if (status->error)
			g_warning("Certificate role %s: %s", hub_cert_role_to_string(role), status->error);
		else if (status->key_mismatch)
			g_warning("Certificate role %s (store %s): the certificate %s does not match the key", hub_cert_role_to_string(role),
				  status->store, status->subject);
		else if (status->expired)
			g_warning("Certificate role %s (store %s): the certificate %s expired at %s", hub_cert_role_to_string(role),
				  status->store, status->subject, until_text);
		else if (status->not_yet_valid)
			g_warning("Certificate role %s (store %s): the certificate %s is not valid yet", hub_cert_role_to_string(role),
				  status->store, status->subject);
		else if (status->has_certificate)
			g_info("Certificate role %s (store %s): %s, valid until %s%s", hub_cert_role_to_string(role), status->store,
			       status->subject, until_text,
			       status->capabilities & HUB_CERTSTORE_CAP_HARDWARE ? ", key in hardware" : "");
		else
			g_info("Certificate role %s (store %s): %s", hub_cert_role_to_string(role), status->store, state);
	}
}

gboolean hub_cert_manager_load(HubCertManager *manager, guint32 role, STACK_OF(X509) **chain, EVP_PKEY **key,
			       GError **error)
{
	const HubCertEngine *e;
	HubPlugin *plugin = prepare(manager, role, &e, error);

	return plugin && e->load(plugin, role, chain, key, error);
}

gboolean hub_cert_manager_generate_key(HubCertManager *manager, guint32 role, guint32 key_type, GError **error)
{
	const HubCertEngine *e;
	HubPlugin *plugin = prepare(manager, role, &e, error);

	return plugin && e->generate_key(plugin, role, key_type, error);
}

char *hub_cert_manager_create_csr(HubCertManager *manager, guint32 role, GError **error)
{
	const HubCertEngine *e;
	HubPlugin *plugin = prepare(manager, role, &e, error);

	return plugin ? e->create_csr(plugin, role, manager->config->serial_number, error) : NULL;
}

gboolean hub_cert_manager_store_certificates(HubCertManager *manager, guint32 role, const char *pem,
					     GError **error)
{
	const HubCertEngine *e;
	HubPlugin *plugin = prepare(manager, role, &e, error);

	return plugin && e->store_certificates(plugin, role, pem, error);
}

gboolean hub_cert_manager_import(HubCertManager *manager, guint32 role, const char *cert_pem, const char *key_pem,
				 GError **error)
{
	const HubCertEngine *e;
	HubPlugin *plugin = prepare(manager, role, &e, error);

	return plugin && e->import(plugin, role, cert_pem, key_pem, error);
}

gboolean hub_cert_manager_erase(HubCertManager *manager, guint32 role, GError **error)
{
	const HubCertEngine *e;
	HubPlugin *plugin = prepare(manager, role, &e, error);

	return plugin && e->erase(plugin, role, error);
}

SSL_CTX *hub_cert_manager_tls_context(HubCertManager *manager, guint32 role, const HubTlsOptions *options,
				      GError **error)
{
	const HubCertEngine *e;
	HubPlugin *plugin, *root;

	if (role != HUB_CERT_ROLE_CLAIM && role != HUB_CERT_ROLE_PERMANENT && role != 0) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "role %s cannot authenticate a TLS client",
			    hub_cert_role_to_string(role) ? hub_cert_role_to_string(role) : "?");
		return NULL;
	}
	/* Role 0: no client certificate; the root-ca role still verifies the server. */
	plugin = prepare(manager, role ? role : HUB_CERT_ROLE_ROOT_CA, &e, error);
	root = plugin ? store_for(manager, HUB_CERT_ROLE_ROOT_CA, error) : NULL;
	return root ? e->tls_context(role ? plugin : NULL, root, role, options, error) : NULL;
}
