/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <glib-unix.h>
#include <stdlib.h>
#include <string.h>

#include <hubd/hub-protocol.h>
#include <hubd/hub-transport.h>

#include "hub-error.h"
#include "hub-host.h"
#include "hub-json.h"

#define MAX_TEXT 4096
#define MAX_KV_VALUE 65536

typedef struct {
	HubDaemon *daemon;
	char *name;
	GHashTable *timers;        /* gint64* id -> Timer* */
	GHashTable *config_values; /* key -> value (kept until release) */
	char *state_dir;           /* host->state_dir(), once created */
	GMutex invoke_lock;
	GHashTable *invokes;       /* guint source id -> NULL */
} PluginData;

typedef struct {
	PluginData *pd;
	gint64 id;
	guint source;      /* fd watches: their GSource */
	guint64 queue_id;  /* timers: their entry in the daemon's timer queue */
	gboolean firing;
	gboolean cancelled;
	int (*timer_fn)(void *user_data);
	void (*watch_fn)(int fd, uint32_t revents, void *user_data);
	int fd;
	void *user_data;
} Timer;

typedef struct {
	PluginData *pd;
	guint source;
	void (*fn)(void *user_data);
	void *user_data;
} Invoke;

static gint64 next_timer_id = 1;

static void timer_free(gpointer data)
{
	Timer *timer = data;

	if (timer->source)
		g_source_remove(timer->source);
	if (timer->queue_id)
		hub_timer_queue_remove(timer->pd->daemon->timers, timer->queue_id);
	g_free(timer);
}

static PluginData *plugin_data(struct hub_plugin *plugin)
{
	HubDaemon *daemon = plugin->host_ctx;
	PluginData *pd = plugin->host_data;

	if (pd)
		return pd;
	pd = g_new0(PluginData, 1);
	pd->daemon = daemon;
	pd->name = g_strdup(plugin->name);
	pd->timers = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, timer_free);
	pd->config_values = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	g_mutex_init(&pd->invoke_lock);
	pd->invokes = g_hash_table_new(NULL, NULL);
	plugin->host_data = pd;
	g_ptr_array_add(daemon->plugin_data, pd);
	return pd;
}

static int errno_from_error(const GError *error)
{
	if (!error || error->domain != HUB_ERROR)
		return -EIO;
	switch (error->code) {
	case HUB_ERROR_NOT_FOUND:
		return -ENOENT;
	case HUB_ERROR_INVALID_ARGUMENT:
		return -EINVAL;
	case HUB_ERROR_EXISTS:
		return -EEXIST;
	case HUB_ERROR_NOT_SUPPORTED:
		return -ENOTSUP;
	case HUB_ERROR_BUSY:
		return -EBUSY;
	default:
		return -EIO;
	}
}

static gboolean text_ok(const char *text)
{
	return !text || (strlen(text) <= MAX_TEXT && g_utf8_validate(text, -1, NULL));
}

/* ---- general services ---- */

static void host_vlog(struct hub_plugin *plugin, int level, const char *fmt, va_list ap)
{
	g_autofree char *message = fmt ? g_strdup_vprintf(fmt, ap) : g_strdup("(no message)");
	GLogLevelFlags flags;

	if (!g_utf8_validate(message, -1, NULL)) {
		char *valid = g_utf8_make_valid(message, -1);

		g_free(message);
		message = valid;
	}
	/* Plugin errors are warnings for us: never abort the daemon. */
	if (level <= HUB_LOG_WARNING)
		flags = G_LOG_LEVEL_WARNING;
	else if (level == HUB_LOG_NOTICE)
		flags = G_LOG_LEVEL_MESSAGE;
	else if (level == HUB_LOG_INFO)
		flags = G_LOG_LEVEL_INFO;
	else
		flags = G_LOG_LEVEL_DEBUG;
	g_log(plugin && plugin->log_domain ? plugin->log_domain : "hubd-plugin", flags, "%s", message);
}

static void host_log(struct hub_plugin *plugin, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	host_vlog(plugin, level, fmt, ap);
	va_end(ap);
}

static const char *host_config_get(struct hub_plugin *plugin, const char *key)
{
	PluginData *pd = plugin_data(plugin);
	char *value;

	if (!key)
		return NULL;
	value = g_hash_table_lookup(pd->config_values, key);
	if (value)
		return value;
	value = hub_config_get_plugin_value(pd->daemon->config, plugin->name, key);
	if (!value)
		return NULL;
	g_hash_table_insert(pd->config_values, g_strdup(key), value);
	return value;
}

static char *host_config_resolve_path(struct hub_plugin *plugin, const char *path)
{
	HubDaemon *daemon = plugin->host_ctx;
	g_autofree char *resolved = NULL;

	if (!path || !*path || !text_ok(path))
		return NULL;
	resolved = hub_config_resolve_path(daemon->config, path);
	return resolved ? strdup(resolved) : NULL;
}

static const char *host_state_dir(struct hub_plugin *plugin)
{
	PluginData *pd = plugin_data(plugin);
	g_autofree char *dir = NULL;

	if (pd->state_dir)
		return pd->state_dir;
	dir = g_build_filename(pd->daemon->config->state_dir, "plugins", plugin->name, NULL);
	if (g_mkdir_with_parents(dir, 0700) < 0) {
		g_warning("Cannot create the state directory %s of plugin %s: %s", dir, plugin->name,
			  g_strerror(errno));
		return NULL;
	}
	pd->state_dir = g_steal_pointer(&dir);
	return pd->state_dir;
}

static gboolean timer_cb(gpointer user_data)
{
	Timer *timer = user_data;
	int again;

	timer->firing = TRUE;
	again = timer->timer_fn(timer->user_data);
	timer->firing = FALSE;
	if (again && !timer->cancelled)
		return TRUE;
	/* The queue drops its entry when we return FALSE. */
	timer->queue_id = 0;
	g_hash_table_remove(timer->pd->timers, &timer->id);
	return FALSE;
}

static int64_t host_timer_add(struct hub_plugin *plugin, uint32_t interval_ms, int (*fn)(void *), void *user_data)
{
	PluginData *pd = plugin_data(plugin);
	Timer *timer;

	if (!fn)
		return -EINVAL;
	timer = g_new0(Timer, 1);
	timer->pd = pd;
	timer->id = next_timer_id++;
	timer->timer_fn = fn;
	timer->user_data = user_data;
	timer->queue_id = hub_timer_queue_add(pd->daemon->timers, interval_ms, timer_cb, timer);
	g_hash_table_insert(pd->timers, &timer->id, timer);
	return timer->id;
}

static void host_timer_remove(struct hub_plugin *plugin, int64_t timer_id)
{
	PluginData *pd = plugin_data(plugin);
	Timer *timer = g_hash_table_lookup(pd->timers, &timer_id);

	if (!timer)
		return;
	if (timer->firing) {
		/* Freed by timer_cb when the callback returns. */
		timer->cancelled = TRUE;
		return;
	}
	g_hash_table_remove(pd->timers, &timer_id);
}

static gboolean watch_cb(gint fd, GIOCondition condition, gpointer user_data)
{
	Timer *watch = user_data;

	watch->firing = TRUE;
	watch->watch_fn(fd, (uint32_t)condition, watch->user_data);
	watch->firing = FALSE;
	if (!watch->cancelled)
		return G_SOURCE_CONTINUE;
	watch->source = 0;
	g_hash_table_remove(watch->pd->timers, &watch->id);
	return G_SOURCE_REMOVE;
}

static int64_t host_fd_watch_add(struct hub_plugin *plugin, int fd, uint32_t events,
				 void (*fn)(int, uint32_t, void *), void *user_data)
{
	PluginData *pd = plugin_data(plugin);
	Timer *watch;

	if (fd < 0 || !fn)
		return -EINVAL;
	watch = g_new0(Timer, 1);
	watch->pd = pd;
	watch->id = next_timer_id++;
	watch->watch_fn = fn;
	watch->fd = fd;
	watch->user_data = user_data;
	watch->source = g_unix_fd_add(fd, (GIOCondition)events, watch_cb, watch);
	g_hash_table_insert(pd->timers, &watch->id, watch);
	return watch->id;
}

static gboolean invoke_cb(gpointer user_data)
{
	Invoke *invoke = user_data;
	PluginData *pd = invoke->pd;

	g_mutex_lock(&pd->invoke_lock);
	g_hash_table_remove(pd->invokes, GUINT_TO_POINTER(invoke->source));
	g_mutex_unlock(&pd->invoke_lock);
	invoke->fn(invoke->user_data);
	return G_SOURCE_REMOVE;
}

static int host_invoke_main(struct hub_plugin *plugin, void (*fn)(void *), void *user_data)
{
	PluginData *pd = plugin->host_data;
	Invoke *invoke;

	/* Created before init() (hub_host_prepare_plugin), so never NULL for a loaded plugin. */
	if (!fn || !pd)
		return -EINVAL;
	invoke = g_new0(Invoke, 1);
	invoke->pd = pd;
	invoke->fn = fn;
	invoke->user_data = user_data;
	g_mutex_lock(&pd->invoke_lock);
	invoke->source = g_idle_add_full(G_PRIORITY_DEFAULT, invoke_cb, invoke, g_free);
	g_hash_table_add(pd->invokes, GUINT_TO_POINTER(invoke->source));
	g_mutex_unlock(&pd->invoke_lock);
	return 0;
}

static char *host_kv_get(struct hub_plugin *plugin, const char *key)
{
	HubDaemon *daemon = plugin->host_ctx;
	g_autofree char *value = NULL;

	if (!key || !*key || !text_ok(key))
		return NULL;
	value = hub_store_kv_get(daemon->store, plugin->name, key);
	return value ? strdup(value) : NULL;
}

static int host_kv_set(struct hub_plugin *plugin, const char *key, const char *value)
{
	HubDaemon *daemon = plugin->host_ctx;

	if (!key || !*key || !text_ok(key) ||
	    (value && (strlen(value) > MAX_KV_VALUE || !g_utf8_validate(value, -1, NULL))))
		return -EINVAL;
	hub_store_kv_set(daemon->store, plugin->name, key, value);
	/* Plugins keep resume points here: durable when the call returns, not
	 * up to a batch later (a kill -9 in between would lose it). */
	return hub_store_flush(daemon->store) ? 0 : -EIO;
}

/* ---- registry ---- */

static int fail(struct hub_plugin *plugin, const char *what, GError *error)
{
	g_log(plugin->log_domain, G_LOG_LEVEL_WARNING, "%s refused: %s", what, error->message);
	return errno_from_error(error);
}

static int host_device_add(struct hub_plugin *plugin, const struct hub_device_info *info)
{
	HubDaemon *daemon = plugin->host_ctx;
	g_autoptr(GError) error = NULL;
	HubDevice *draft;

	if (!info || info->struct_size < G_STRUCT_OFFSET(struct hub_device_info, name) + sizeof(info->name))
		return -EINVAL;
	draft = hub_registry_begin_device(daemon->registry, plugin->name, info->id, &error);
	if (!draft)
		return fail(plugin, "device_add", error);
#define COPY(field)                                                               \
	if (HUB_STRUCT_HAS(info, info->struct_size, field) && text_ok(info->field)) \
		draft->field = g_strdup(info->field)
	COPY(name);
	COPY(manufacturer);
	COPY(model);
	COPY(serial);
	COPY(firmware);
#undef COPY
	return 0;
}

static int host_endpoint_add(struct hub_plugin *plugin, const char *device_id, const char *endpoint_id,
			     const char *device_types)
{
	HubDaemon *daemon = plugin->host_ctx;
	g_autoptr(GError) error = NULL;

	if (!hub_registry_add_endpoint(daemon->registry, plugin->name, device_id, endpoint_id, device_types, &error))
		return fail(plugin, "endpoint_add", error);
	return 0;
}

static int host_capability_add(struct hub_plugin *plugin, const char *device_id, const char *endpoint_id,
			       const char *capability_id)
{
	HubDaemon *daemon = plugin->host_ctx;
	g_autoptr(GError) error = NULL;

	if (!hub_registry_add_capability(daemon->registry, plugin->name, device_id, endpoint_id, capability_id,
					 &error))
		return fail(plugin, "capability_add", error);
	return 0;
}

static int host_device_ready(struct hub_plugin *plugin, const char *device_id)
{
	HubDaemon *daemon = plugin->host_ctx;
	g_autoptr(GError) error = NULL;

	if (!hub_registry_device_ready(daemon->registry, plugin->name, device_id, TRUE, &error))
		return fail(plugin, "device_ready", error);
	return 0;
}

static int host_device_remove(struct hub_plugin *plugin, const char *device_id)
{
	HubDaemon *daemon = plugin->host_ctx;
	g_autoptr(GError) error = NULL;

	if (!hub_registry_remove_device(daemon->registry, plugin->name, device_id, &error))
		return fail(plugin, "device_remove", error);
	return 0;
}

static int host_report_property(struct hub_plugin *plugin, const char *device_id, const char *endpoint_id,
				const char *capability_id, const char *property, const struct hub_value *value)
{
	HubDaemon *daemon = plugin->host_ctx;
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) node = NULL;
	gboolean solicited = FALSE;

	if (!value)
		return -EINVAL;
	node = hub_json_from_value(value, &error);
	if (node)
		solicited = hub_command_pipeline_expects_report(daemon->commands, device_id, endpoint_id, capability_id,
								property);
	if (!node || !hub_registry_report_property(daemon->registry, plugin->name, device_id, endpoint_id,
						   capability_id, property, node, solicited, &error)) {
		g_log(plugin->log_domain, G_LOG_LEVEL_WARNING, "Invalid report of %s %s/%s/%s: %s, ignoring",
		      device_id ? device_id : "(null)", endpoint_id ? endpoint_id : "(null)",
		      capability_id ? capability_id : "(null)", property ? property : "(null)", error->message);
		return errno_from_error(error);
	}
	return 0;
}

/* NULL with @error when a parameter cannot be converted. */
static JsonObject *params_to_object(const struct hub_param *params, size_t n_params, GError **error)
{
	g_autoptr(JsonObject) obj = json_object_new();

	if (n_params > 0 && !params) {
		g_set_error_literal(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "parameters missing");
		return NULL;
	}
	for (size_t i = 0; i < n_params; i++) {
		JsonNode *node;

		if (!params[i].name || !text_ok(params[i].name)) {
			g_set_error_literal(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "parameter without a valid name");
			return NULL;
		}
		node = hub_json_from_value(&params[i].value, error);
		if (!node) {
			g_prefix_error(error, "parameter %s: ", params[i].name);
			return NULL;
		}
		json_object_set_member(obj, params[i].name, node);
	}
	return g_steal_pointer(&obj);
}

static int host_report_event(struct hub_plugin *plugin, const char *device_id, const char *endpoint_id,
			     const char *capability_id, const char *event, const struct hub_param *params,
			     size_t n_params)
{
	HubDaemon *daemon = plugin->host_ctx;
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonObject) obj = params_to_object(params, n_params, &error);
	g_autoptr(JsonNode) node = NULL;

	if (obj) {
		node = json_node_new(JSON_NODE_OBJECT);
		json_node_set_object(node, obj);
	}
	if (!node || !hub_registry_report_event(daemon->registry, plugin->name, device_id, endpoint_id, capability_id,
						event, node, &error)) {
		g_log(plugin->log_domain, G_LOG_LEVEL_WARNING, "Invalid event %s from %s: %s, ignoring",
		      event ? event : "(null)", device_id ? device_id : "(null)", error->message);
		return errno_from_error(error);
	}
	return 0;
}

static int host_set_online(struct hub_plugin *plugin, const char *device_id, int32_t online)
{
	HubDaemon *daemon = plugin->host_ctx;
	g_autoptr(GError) error = NULL;

	if (!hub_registry_set_online(daemon->registry, plugin->name, device_id, online != 0, &error))
		return fail(plugin, "set_online", error);
	return 0;
}

static int host_report_health(struct hub_plugin *plugin, const char *device_id, const char *key,
			      const struct hub_value *value)
{
	HubDaemon *daemon = plugin->host_ctx;
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) node = value ? hub_json_from_value(value, &error) : NULL;

	if (!value)
		return -EINVAL;
	if (!node ||
	    !hub_registry_report_health(daemon->registry, plugin->name, device_id, key, node, &error))
		return fail(plugin, "report_health", error);
	return 0;
}

static int host_command_complete(struct hub_plugin *plugin, uint64_t command_id, int32_t response_code,
				 const struct hub_param *params, size_t n_params, const char *error_code,
				 const char *error_message)
{
	HubDaemon *daemon = plugin->host_ctx;
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonObject) obj = params_to_object(params, n_params, &error);

	if (!obj) {
		g_log(plugin->log_domain, G_LOG_LEVEL_WARNING, "Command %" G_GUINT64_FORMAT " result: %s, dropping parameters",
		      command_id, error->message);
		g_clear_error(&error);
	}
	if (!hub_command_pipeline_complete(daemon->commands, command_id, response_code, obj, error_code, error_message,
					   &error)) {
		g_log(plugin->log_domain, G_LOG_LEVEL_INFO, "command_complete: %s", error->message);
		return errno_from_error(error);
	}
	return 0;
}

static int host_device_discovered(struct hub_plugin *plugin, const char *discovered_id, const char *name,
				  const char *device_types)
{
	HubDaemon *daemon = plugin->host_ctx;

	return hub_discovery_add_found(daemon->discovery, plugin->name, discovered_id, name, device_types);
}

/* ---- cloud (transport plugins) ---- */

/* The cloud calls belong to the active transport only. */
static HubCloud *cloud_for(struct hub_plugin *plugin)
{
	HubDaemon *daemon = plugin->host_ctx;

	if (!daemon->cloud || !hub_cloud_is_transport(daemon->cloud, plugin)) {
		g_warning("Plugin %s is not the active transport ([cloud] transport=); cloud call refused", plugin->name);
		return NULL;
	}
	return daemon->cloud;
}

/* Writes @error's message for the plugin and returns its errno. */
static int fail_message(GError *error, char *message, size_t message_size)
{
	if (message && message_size)
		g_strlcpy(message, error ? error->message : "failed", message_size);
	return errno_from_error(error);
}

static char *host_identity_get(struct hub_plugin *plugin, const char *key)
{
	HubCloud *cloud = cloud_for(plugin);
	g_autofree char *value = cloud ? hub_cloud_identity_get(cloud, key) : NULL;

	/* The plugin frees with free(). */
	return value ? strdup(value) : NULL;
}

static int host_identity_update(struct hub_plugin *plugin, const struct hub_identity_update *update, char *message,
				size_t message_size)
{
	HubCloud *cloud = cloud_for(plugin);
	g_autoptr(GError) error = NULL;

	if (!cloud)
		return -EPERM;
	if (!hub_cloud_identity_update(cloud, update, &error))
		return fail_message(error, message, message_size);
	return 0;
}

static char *host_cert_create_csr(struct hub_plugin *plugin, uint32_t role, int32_t new_key, char *message,
				  size_t message_size)
{
	HubDaemon *daemon = plugin->host_ctx;
	g_autoptr(GError) error = NULL;
	g_autofree char *csr = NULL;

	if (!cloud_for(plugin)) {
		g_strlcpy(message, "not the active transport", message_size);
		return NULL;
	}
	if (!new_key)
		csr = hub_cert_manager_create_csr(daemon->certs, role, &error);
	/* No key yet (or a new one wanted): make it in the store, then sign. */
	if (!csr && (new_key || g_error_matches(error, HUB_ERROR, HUB_ERROR_NOT_FOUND))) {
		g_clear_error(&error);
		if (hub_cert_manager_generate_key(daemon->certs, role, HUB_KEY_TYPE_EC_P256, &error))
			csr = hub_cert_manager_create_csr(daemon->certs, role, &error);
	}
	if (!csr) {
		fail_message(error, message, message_size);
		return NULL;
	}
	return strdup(csr);
}

static int host_cert_store(struct hub_plugin *plugin, uint32_t role, const char *certificate_pem, char *message,
			   size_t message_size)
{
	HubDaemon *daemon = plugin->host_ctx;
	g_autoptr(GError) error = NULL;

	if (!cloud_for(plugin))
		return -EPERM;
	if (!hub_cert_manager_store_certificates(daemon->certs, role, certificate_pem, &error))
		return fail_message(error, message, message_size);
	return 0;
}

static int host_cert_import(struct hub_plugin *plugin, uint32_t role, const char *certificate_pem,
			    const char *key_pem, char *message, size_t message_size)
{
	HubDaemon *daemon = plugin->host_ctx;
	g_autoptr(GError) error = NULL;

	if (!cloud_for(plugin))
		return -EPERM;
	if (!hub_cert_manager_import(daemon->certs, role, certificate_pem, key_pem, &error))
		return fail_message(error, message, message_size);
	return 0;
}

static int64_t host_mqtt_open(struct hub_plugin *plugin, const struct hub_mqtt_params *params,
			      const struct hub_mqtt_callbacks *callbacks, void *user_data, char *message,
			      size_t message_size)
{
	HubCloud *cloud = cloud_for(plugin);
	g_autoptr(GError) error = NULL;
	gint64 id;

	if (!cloud)
		return -EPERM;
	id = hub_cloud_mqtt_open(cloud, params, callbacks, user_data, &error);
	if (id < 0)
		return fail_message(error, message, message_size);
	return id;
}

static void host_mqtt_close(struct hub_plugin *plugin, int64_t session_id)
{
	HubDaemon *daemon = plugin->host_ctx;

	/* Also from exit(), after the cloud has stopped: then there is nothing to close. */
	if (daemon->cloud && hub_cloud_is_transport(daemon->cloud, plugin))
		hub_cloud_mqtt_close(daemon->cloud, session_id);
}

static int host_mqtt_subscribe(struct hub_plugin *plugin, int64_t session_id, const char *topic, int32_t qos)
{
	HubCloud *cloud = cloud_for(plugin);
	g_autoptr(GError) error = NULL;

	if (!cloud)
		return -EPERM;
	if (!hub_cloud_mqtt_subscribe(cloud, session_id, topic, qos, &error)) {
		host_log(plugin, HUB_LOG_WARNING, "%s", error->message);
		return errno_from_error(error);
	}
	return 0;
}

static int32_t host_mqtt_publish(struct hub_plugin *plugin, int64_t session_id, const char *topic,
				 const void *payload, size_t len, int32_t qos, int32_t retain)
{
	HubCloud *cloud = cloud_for(plugin);
	g_autoptr(GError) error = NULL;
	int mid;

	if (!cloud)
		return -EPERM;
	mid = hub_cloud_mqtt_publish(cloud, session_id, topic, payload, len, qos, retain != 0, &error);
	if (mid < 0)
		return g_error_matches(error, HUB_ERROR, HUB_ERROR_UNAVAILABLE) ? -ENOTCONN : errno_from_error(error);
	return mid;
}

static int host_offboard_request(struct hub_plugin *plugin)
{
	HubCloud *cloud = cloud_for(plugin);
	g_autoptr(GError) error = NULL;

	if (!cloud)
		return -EPERM;
	if (!hub_cloud_offboard_request(cloud, &error)) {
		host_log(plugin, HUB_LOG_WARNING, "cannot offboard: %s", error->message);
		return g_error_matches(error, HUB_ERROR, HUB_ERROR_BUSY) ? -EALREADY : errno_from_error(error);
	}
	return 0;
}

static void host_offboard_done(struct hub_plugin *plugin)
{
	HubCloud *cloud = cloud_for(plugin);

	if (cloud)
		hub_cloud_offboard_done(cloud);
}

static int host_uplink_attach(struct hub_plugin *plugin, int64_t session_id, const struct hub_uplink_params *params)
{
	HubCloud *cloud = cloud_for(plugin);
	g_autoptr(GError) error = NULL;

	if (!cloud)
		return -EPERM;
	if (!hub_cloud_uplink_attach(cloud, session_id, params, &error)) {
		host_log(plugin, HUB_LOG_WARNING, "%s", error->message);
		return errno_from_error(error);
	}
	return 0;
}

static int host_downlink(struct hub_plugin *plugin, uint32_t channel, const void *payload, size_t len)
{
	HubCloud *cloud = cloud_for(plugin);

	if (!cloud)
		return -EPERM;
	return hub_cloud_downlink(cloud, channel, payload, len);
}

static const struct hub_host host_table = {
	.struct_size = sizeof(struct hub_host),
	.abi_major = HUB_PLUGIN_ABI_MAJOR,
	.abi_minor = HUB_PLUGIN_ABI_MINOR,
	.log = host_log,
	.config_get = host_config_get,
	.config_resolve_path = host_config_resolve_path,
	.timer_add = host_timer_add,
	.timer_remove = host_timer_remove,
	.fd_watch_add = host_fd_watch_add,
	.fd_watch_remove = host_timer_remove,
	.invoke_main = host_invoke_main,
	.kv_get = host_kv_get,
	.kv_set = host_kv_set,
	.device_add = host_device_add,
	.endpoint_add = host_endpoint_add,
	.capability_add = host_capability_add,
	.device_ready = host_device_ready,
	.device_remove = host_device_remove,
	.report_property = host_report_property,
	.report_event = host_report_event,
	.set_online = host_set_online,
	.report_health = host_report_health,
	.command_complete = host_command_complete,
	.device_discovered = host_device_discovered,
	.vlog = host_vlog,
	.state_dir = host_state_dir,
	.identity_get = host_identity_get,
	.identity_update = host_identity_update,
	.cert_create_csr = host_cert_create_csr,
	.cert_store = host_cert_store,
	.cert_import = host_cert_import,
	.mqtt_open = host_mqtt_open,
	.mqtt_close = host_mqtt_close,
	.mqtt_subscribe = host_mqtt_subscribe,
	.mqtt_publish = host_mqtt_publish,
	.offboard_request = host_offboard_request,
	.offboard_done = host_offboard_done,
	.uplink_attach = host_uplink_attach,
	.downlink = host_downlink,
};

const struct hub_host *hub_host_table(void)
{
	return &host_table;
}

/* ---- calls into protocol plugins ---- */

static const struct hub_protocol_ops *protocol_ops(HubPlugin *plugin)
{
	return plugin && plugin->kind == HUB_PLUGIN_KIND_PROTOCOL ? plugin->desc->ops : NULL;
}

int hub_host_dispatch_command(HubDevice *device, guint64 command_id, const char *endpoint_id,
			      const char *capability_id, const char *action, JsonObject *params, gpointer user_data)
{
	HubDaemon *daemon = user_data;
	HubPlugin *plugin = hub_daemon_find_protocol(daemon, device->protocol);
	const struct hub_protocol_ops *ops = protocol_ops(plugin);
	/* The plugin may remove or re-describe the device during the call. */
	g_autofree char *device_id = g_strdup(device->id);
	g_autoptr(GPtrArray) storage = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GArray) args = NULL;
	GList *members;

	if (!ops)
		return -EHOSTUNREACH;
	if (g_strcmp0(action, "ReadState") == 0) {
		JsonArray *names = json_object_get_array_member(params, "propertiesToRead");
		guint n = json_array_get_length(names);
		g_autofree const char **list = g_new0(const char *, n + 1);

		if (!ops->read_properties)
			return -ENOTSUP;
		for (guint i = 0; i < n; i++)
			list[i] = json_array_get_string_element(names, i);
		return ops->read_properties(plugin->user_data, command_id, device_id, endpoint_id, capability_id, list,
					    n);
	}
	args = g_array_new(FALSE, TRUE, sizeof(struct hub_param));
	members = json_object_get_members(params);
	for (GList *l = members; l; l = l->next) {
		struct hub_param param = { .name = l->data };
		char *text = NULL;

		hub_json_to_value(json_object_get_member(params, l->data), &param.value, &text);
		if (text)
			g_ptr_array_add(storage, text);
		g_array_append_val(args, param);
	}
	g_list_free(members);
	if (g_strcmp0(action, "UpdateState") == 0) {
		if (!ops->write_properties)
			return -ENOTSUP;
		return ops->write_properties(plugin->user_data, command_id, device_id, endpoint_id, capability_id,
					     (const struct hub_param *)(void *)args->data, args->len);
	}
	if (!ops->invoke)
		return -ENOTSUP;
	return ops->invoke(plugin->user_data, command_id, device_id, endpoint_id, capability_id, action,
			   (const struct hub_param *)(void *)args->data, args->len);
}

/* What a plugin's negative errno means to a D-Bus caller. */
static HubError error_from_errno(int r)
{
	switch (-r) {
	case ENOENT:
	case ENODEV:
		return HUB_ERROR_NOT_FOUND;
	case EEXIST:
		return HUB_ERROR_EXISTS;
	case EINVAL:
		return HUB_ERROR_INVALID_ARGUMENT;
	case EBUSY:
	case EAGAIN:
		return HUB_ERROR_BUSY;
	case ETIMEDOUT:
		return HUB_ERROR_TIMEOUT;
	case ENOTSUP:
		return HUB_ERROR_NOT_SUPPORTED;
	case EACCES:
	case EPERM:
		return HUB_ERROR_ACCESS_DENIED;
	default:
		return HUB_ERROR_FAILED;
	}
}

char *hub_host_onboard(HubDaemon *daemon, const char *protocol, const char *discovered_id,
		       const char *auth_material, GError **error)
{
	HubPlugin *plugin = hub_daemon_find_protocol(daemon, protocol);
	const struct hub_protocol_ops *ops = protocol_ops(plugin);
	char device_id[256] = "";
	int r;

	if (!ops) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_NOT_FOUND, "no protocol plugin \"%s\"", protocol);
		return NULL;
	}
	if (!ops->onboard) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_NOT_SUPPORTED, "plugin %s cannot onboard devices", protocol);
		return NULL;
	}
	r = ops->onboard(plugin->user_data, discovered_id, auth_material && *auth_material ? auth_material : NULL,
			 device_id, sizeof(device_id));
	if (r < 0) {
		g_set_error(error, HUB_ERROR, error_from_errno(r), "plugin %s could not onboard \"%s\": %s", protocol,
			    discovered_id, g_strerror(-r));
		return NULL;
	}
	device_id[sizeof(device_id) - 1] = '\0';
	if (!hub_registry_lookup(daemon->registry, device_id)) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_FAILED, "plugin %s onboarded \"%s\" but published no device \"%s\"",
			    protocol, discovered_id, device_id);
		return NULL;
	}
	return g_strdup(device_id);
}

gboolean hub_host_remove_device(HubDaemon *daemon, const char *device_id, GError **error)
{
	HubDevice *device = hub_registry_lookup(daemon->registry, device_id);
	HubPlugin *plugin;
	const struct hub_protocol_ops *ops;
	int r;

	if (!device) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_NOT_FOUND, "no device \"%s\"", device_id);
		return FALSE;
	}
	plugin = hub_daemon_find_protocol(daemon, device->protocol);
	ops = protocol_ops(plugin);
	if (ops && ops->remove) {
		r = ops->remove(plugin->user_data, device_id);
		if (r < 0 && r != -ENOENT) {
			g_set_error(error, HUB_ERROR, error_from_errno(r), "plugin %s could not remove %s: %s",
				    plugin->name, device_id, g_strerror(-r));
			return FALSE;
		}
	}
	/* The plugin is gone or forgot to tell us: the registry must not keep a ghost. */
	if (hub_registry_lookup(daemon->registry, device_id))
		return hub_registry_remove_device(daemon->registry, NULL, device_id, error);
	return TRUE;
}

static void cancel_invokes(PluginData *pd)
{
	GHashTableIter iter;
	gpointer key;

	g_mutex_lock(&pd->invoke_lock);
	g_hash_table_iter_init(&iter, pd->invokes);
	while (g_hash_table_iter_next(&iter, &key, NULL))
		g_source_remove(GPOINTER_TO_UINT(key));
	g_hash_table_remove_all(pd->invokes);
	g_mutex_unlock(&pd->invoke_lock);
}

void hub_host_release_plugin(HubPlugin *plugin)
{
	PluginData *pd = plugin->host_data;

	if (!pd)
		return;
	g_hash_table_remove_all(pd->timers);
	cancel_invokes(pd);
}

void hub_host_prepare_plugin(HubPlugin *plugin)
{
	plugin_data(plugin);
}

void hub_host_release_all(HubDaemon *daemon)
{
	for (guint i = 0; i < daemon->plugin_data->len; i++) {
		PluginData *pd = g_ptr_array_index(daemon->plugin_data, i);

		g_hash_table_unref(pd->timers);
		g_hash_table_unref(pd->config_values);
		cancel_invokes(pd);
		g_hash_table_unref(pd->invokes);
		g_mutex_clear(&pd->invoke_lock);
		g_free(pd->name);
		g_free(pd->state_dir);
		g_free(pd);
	}
	g_ptr_array_set_size(daemon->plugin_data, 0);
}
