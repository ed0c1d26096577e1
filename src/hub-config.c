/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "hub-config.h"
#include "hub-error.h"

static const char *const known_keys[] = {
	"plugin-dir", "capability-dir", "state-dir", "plugins", "command-timeout-ms", "serial-number", NULL,
};

/* [certificates] keys, by HUB_CERT_ROLE_* (1..3); attestation is reserved. */
static const char *const cert_role_keys[] = { NULL, "claim", "permanent", "root-ca" };

/* The hub's serial number when the configuration gives none: the machine id
 * is unique and stable per installation; the host name is the last resort. */
static char *default_serial_number(void)
{
	g_autofree char *machine_id = NULL;

	if (g_file_get_contents("/etc/machine-id", &machine_id, NULL, NULL)) {
		g_strstrip(machine_id);
		if (strlen(machine_id) >= 8 && strlen(machine_id) <= 64)
			return g_steal_pointer(&machine_id);
	}
	return g_strndup(g_get_host_name(), 64);
}

static gboolean read_certificates(HubConfig *config, GError **error)
{
	g_auto(GStrv) keys = NULL;

	for (guint role = 1; role < G_N_ELEMENTS(cert_role_keys); role++)
		config->cert_stores[role] = g_strdup("file");
	if (!config->keyfile || !g_key_file_has_group(config->keyfile, "certificates"))
		return TRUE;
	config->cert_stores_configured = TRUE;
	keys = g_key_file_get_keys(config->keyfile, "certificates", NULL, NULL);
	for (guint i = 0; keys && keys[i]; i++) {
		g_autofree char *value = g_key_file_get_string(config->keyfile, "certificates", keys[i], NULL);
		guint role = 0;

		for (guint r = 1; r < G_N_ELEMENTS(cert_role_keys); r++)
			if (g_str_equal(keys[i], cert_role_keys[r]))
				role = r;
		if (!role) {
			g_warning("%s: unknown key [certificates] %s (roles: claim, permanent, root-ca), ignoring",
				  config->path, keys[i]);
			continue;
		}
		if (!value || !*g_strstrip(value)) {
			g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT,
				    "%s: [certificates] %s must name a certificate store", config->path, keys[i]);
			return FALSE;
		}
		g_free(config->cert_stores[role]);
		config->cert_stores[role] = g_steal_pointer(&value);
	}
	return TRUE;
}

static gboolean read_number(HubConfig *config, const char *group, const char *key, guint min, guint max, guint *out,
			    GError **error)
{
	g_autofree char *text = NULL;
	guint64 value = 0;

	if (!g_key_file_has_key(config->keyfile, group, key, NULL))
		return TRUE;
	text = g_key_file_get_string(config->keyfile, group, key, NULL);
	if (!text || !g_ascii_string_to_unsigned(g_strstrip(text), 10, min, max, &value, NULL)) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "%s: [%s] %s must be %u-%u, not \"%s\"",
			    config->path, group, key, min, max, text ? text : "(unreadable)");
		return FALSE;
	}
	*out = (guint)value;
	return TRUE;
}

static gboolean read_cloud_number(HubConfig *config, const char *key, guint min, guint max, guint *out,
				  GError **error)
{
	return read_number(config, "cloud", key, min, max, out, error);
}

/* [outbox]: the bounds of the durable uplink queue (hub-outbox.h). */
static gboolean read_outbox(HubConfig *config, GError **error)
{
	static const char *const keys[] = { "max-bytes", "max-records", "commit-interval-ms", NULL };
	g_auto(GStrv) present = NULL;

	config->outbox.max_bytes = 16u * 1024 * 1024;
	config->outbox.max_records = 100000;
	config->outbox.commit_interval_ms = 200;
	if (!config->keyfile || !g_key_file_has_group(config->keyfile, "outbox"))
		return TRUE;
	present = g_key_file_get_keys(config->keyfile, "outbox", NULL, NULL);
	for (guint i = 0; present && present[i]; i++)
		if (!g_strv_contains(keys, present[i]))
			g_warning("%s: unknown key [outbox] %s, ignoring", config->path, present[i]);
	return read_number(config, "outbox", "max-bytes", 4096, G_MAXUINT32, &config->outbox.max_bytes, error) &&
	       read_number(config, "outbox", "max-records", 1, 100000000, &config->outbox.max_records, error) &&
	       read_number(config, "outbox", "commit-interval-ms", 1, 60000, &config->outbox.commit_interval_ms, error);
}

/* [cloud]: which transport, the identity file and the session's timing. */
static gboolean read_cloud(HubConfig *config, GError **error)
{
	static const char *const keys[] = { "transport",	  "identity",	       "port",
					    "backoff-base-ms",	  "backoff-cap-ms",    "connect-interval-ms",
					    "connect-timeout-ms", NULL };
	g_auto(GStrv) present = NULL;
	g_autofree char *identity = NULL;

	config->cloud.port = 8883;
	config->cloud.backoff_base_ms = 1000;
	config->cloud.backoff_cap_ms = 120000;
	config->cloud.connect_interval_ms = 1000;
	config->cloud.connect_timeout_ms = 15000;
	if (!config->keyfile || !g_key_file_has_group(config->keyfile, "cloud"))
		return TRUE;
	present = g_key_file_get_keys(config->keyfile, "cloud", NULL, NULL);
	/* A group with every key commented out (the packaged hubd.conf) is no cloud. */
	if (!present || !present[0])
		return TRUE;
	for (guint i = 0; present[i]; i++)
		if (!g_strv_contains(keys, present[i]))
			g_warning("%s: unknown key [cloud] %s, ignoring", config->path, present[i]);
	config->cloud.transport = g_key_file_get_string(config->keyfile, "cloud", "transport", NULL);
	if (!config->cloud.transport || !*g_strstrip(config->cloud.transport)) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT,
			    "%s: [cloud] transport must name a transport plugin (for example aws-iot)", config->path);
		return FALSE;
	}
	/* Optional: a transport with a broker of its own (mqtt) provisions nothing. */
	identity = g_key_file_get_string(config->keyfile, "cloud", "identity", NULL);
	if (identity && !*g_strstrip(identity)) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT,
			    "%s: [cloud] identity must name the identity file (iotmi_config.json)", config->path);
		return FALSE;
	}
	config->cloud.identity = hub_config_resolve_path(config, identity);
	if (!read_cloud_number(config, "port", 1, 65535, &config->cloud.port, error) ||
	    !read_cloud_number(config, "backoff-base-ms", 10, 600000, &config->cloud.backoff_base_ms, error) ||
	    !read_cloud_number(config, "backoff-cap-ms", 10, 3600000, &config->cloud.backoff_cap_ms, error) ||
	    !read_cloud_number(config, "connect-interval-ms", 1, 600000, &config->cloud.connect_interval_ms, error) ||
	    !read_cloud_number(config, "connect-timeout-ms", 1000, 600000, &config->cloud.connect_timeout_ms, error))
		return FALSE;
	if (config->cloud.backoff_cap_ms < config->cloud.backoff_base_ms) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT,
			    "%s: [cloud] backoff-cap-ms (%u) must not be less than backoff-base-ms (%u)", config->path,
			    config->cloud.backoff_cap_ms, config->cloud.backoff_base_ms);
		return FALSE;
	}
	return TRUE;
}

char *hub_config_resolve_path(HubConfig *config, const char *path)
{
	if (!path)
		return NULL;
	if (g_path_is_absolute(path))
		return g_strdup(path);
	return g_canonicalize_filename(path, config->dir);
}

static gboolean read_path(HubConfig *config, const char *key, char **out, GError **error)
{
	g_autofree char *value = NULL;

	if (!config->keyfile || !g_key_file_has_key(config->keyfile, "hubd", key, NULL))
		return TRUE;
	value = g_key_file_get_string(config->keyfile, "hubd", key, NULL);
	if (!value) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "%s: [hubd] %s cannot be read (bad escape?)",
			    config->path, key);
		return FALSE;
	}
	g_strstrip(value);
	if (!*value) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "%s: [hubd] %s is empty", config->path, key);
		return FALSE;
	}
	g_free(*out);
	*out = hub_config_resolve_path(config, value);
	return TRUE;
}

/* Defaults that apply with or without a file. */
static gboolean finish(HubConfig *config, GError **error)
{
	if (!config->serial_number)
		config->serial_number = default_serial_number();
	return read_certificates(config, error) && read_cloud(config, error) && read_outbox(config, error);
}

HubConfig *hub_config_load(const char *path, GError **error)
{
	g_autoptr(HubConfig) config = g_new0(HubConfig, 1);
	g_autoptr(GError) local = NULL;

	config->plugin_dir = g_strdup(HUB_PLUGINS_DIR);
	config->capability_dir = g_strdup(HUB_CAPABILITIES_DIR);
	config->state_dir = g_strdup(HUB_STATE_DIR);
	config->command_timeout_ms = 10000;
	if (!path) {
		config->dir = g_get_current_dir();
		if (!finish(config, error))
			return NULL;
		return g_steal_pointer(&config);
	}
	config->path = g_canonicalize_filename(path, NULL);
	config->dir = g_path_get_dirname(config->path);
	config->keyfile = g_key_file_new();
	if (!g_key_file_load_from_file(config->keyfile, config->path, G_KEY_FILE_NONE, &local)) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "cannot read configuration %s: %s",
			    config->path, local->message);
		return NULL;
	}
	if (g_key_file_has_group(config->keyfile, "hubd")) {
		g_auto(GStrv) keys = g_key_file_get_keys(config->keyfile, "hubd", NULL, NULL);

		for (guint i = 0; keys && keys[i]; i++)
			if (!g_strv_contains(known_keys, keys[i]))
				g_warning("%s: unknown key [hubd] %s, ignoring", config->path, keys[i]);
	}
	if (!read_path(config, "plugin-dir", &config->plugin_dir, error) ||
	    !read_path(config, "capability-dir", &config->capability_dir, error) ||
	    !read_path(config, "state-dir", &config->state_dir, error))
		return NULL;
	if (g_key_file_has_key(config->keyfile, "hubd", "plugins", NULL)) {
		/* GKeyFile lists use ';'; people write ','. Both separate names. */
		g_autofree char *text = g_key_file_get_string(config->keyfile, "hubd", "plugins", NULL);
		g_auto(GStrv) names = g_strsplit_set(text ? text : "", ",;", -1);
		g_autoptr(GPtrArray) kept = g_ptr_array_new();

		for (guint i = 0; names[i]; i++)
			if (*g_strstrip(names[i]))
				g_ptr_array_add(kept, g_strdup(names[i]));
		g_ptr_array_add(kept, NULL);
		config->plugins = (char **)g_ptr_array_free(g_steal_pointer(&kept), FALSE);
	}
	if (g_key_file_has_key(config->keyfile, "hubd", "command-timeout-ms", NULL)) {
		g_autofree char *text = g_key_file_get_string(config->keyfile, "hubd", "command-timeout-ms", NULL);
		guint64 value = 0;

		if (!text || !g_ascii_string_to_unsigned(g_strstrip(text), 10, 100, 600000, &value, NULL)) {
			g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT,
				    "%s: [hubd] command-timeout-ms must be 100-600000, not \"%s\"", config->path,
				    text ? text : "(unreadable)");
			return NULL;
		}
		config->command_timeout_ms = (guint)value;
	}
	if (g_key_file_has_key(config->keyfile, "hubd", "serial-number", NULL)) {
		config->serial_number = g_key_file_get_string(config->keyfile, "hubd", "serial-number", NULL);
		if (!config->serial_number || !*g_strstrip(config->serial_number) ||
		    strlen(config->serial_number) > 64 || !g_utf8_validate(config->serial_number, -1, NULL)) {
			g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT,
				    "%s: [hubd] serial-number must be 1-64 characters of UTF-8", config->path);
			return NULL;
		}
	}
	if (!finish(config, error))
		return NULL;
	return g_steal_pointer(&config);
}

void hub_config_free(HubConfig *config)
{
	if (!config)
		return;
	if (config->keyfile)
		g_key_file_unref(config->keyfile);
	g_free(config->path);
	g_free(config->dir);
	g_free(config->plugin_dir);
	g_free(config->capability_dir);
	g_free(config->state_dir);
	g_strfreev(config->plugins);
	g_free(config->serial_number);
	for (guint i = 0; i < G_N_ELEMENTS(config->cert_stores); i++)
		g_free(config->cert_stores[i]);
	g_free(config->cloud.transport);
	g_free(config->cloud.identity);
	g_free(config);
}

char *hub_config_get_plugin_value(HubConfig *config, const char *plugin, const char *key)
{
	g_autofree char *group = g_strdup_printf("plugin.%s", plugin);
	char *value;

	if (!config->keyfile)
		return NULL;
	value = g_key_file_get_string(config->keyfile, group, key, NULL);
	return value ? g_strstrip(value) : NULL;
}
