/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>

#include <hubd/hub-protocol.h>

#include "hub-daemon.h"
#include "hub-error.h"
#include "hub-host.h"

/* Persists what the registry and the pipeline announce. */
static void persist_event(const HubEvent *event, gpointer user_data)
{
	HubDaemon *daemon = user_data;

	switch (event->type) {
	case HUB_EVENT_DEVICE_ADDED:
	case HUB_EVENT_DEVICE_UPDATED: {
		/* Values arrive as PROPERTY_CHANGED; a re-description keeps the stored ones. */
		g_autoptr(JsonNode) description = hub_device_describe(event->device);

		hub_store_put_device(daemon->store, event->device->id, event->device->protocol, description);
		break;
	}
	case HUB_EVENT_DEVICE_REMOVED:
		hub_store_delete_device(daemon->store, event->device_id);
		break;
	case HUB_EVENT_PROPERTY_CHANGED:
		hub_store_put_property(daemon->store, event->device_id, event->endpoint_id, event->capability_id,
				       event->name, event->value, event->timestamp_ms);
		break;
	default:
		break;
	}
}

static void restore_device(const char *device_id, const char *protocol, JsonNode *description, gpointer user_data)
{
	HubDaemon *daemon = user_data;
	g_autoptr(GError) error = NULL;

	if (!hub_registry_restore_device(daemon->registry, protocol, device_id, description, &error))
		g_warning("Failed to restore device %s: %s, ignoring", device_id, error->message);
}

static void restore_property(const char *device_id, const char *endpoint_id, const char *capability_id,
			     const char *property, JsonNode *value, gint64 last_changed_ms, gpointer user_data)
{
	HubDaemon *daemon = user_data;

	hub_registry_restore_property(daemon->registry, device_id, endpoint_id, capability_id, property, value,
				      last_changed_ms);
}

/* Only the transport and the certificate stores the configuration names are
 * initialised: an installed but unused one would only check settings nobody wrote. */
static void want_configured_plugins(HubPluginLoader *loader, HubConfig *config)
{
	const char *transport[] = { config->cloud.transport, NULL };
	const char *stores[G_N_ELEMENTS(config->cert_stores) + 1] = { NULL };
	guint n = 0;

	for (guint role = 0; role < G_N_ELEMENTS(config->cert_stores); role++)
		if (config->cert_stores[role])
			stores[n++] = config->cert_stores[role];
	hub_plugin_loader_set_wanted(loader, HUB_PLUGIN_KIND_TRANSPORT, transport);
	hub_plugin_loader_set_wanted(loader, HUB_PLUGIN_KIND_CERTSTORE, stores);
}

HubDaemon *hub_daemon_new(HubConfig *config, GError **error)
{
	g_autoptr(HubDaemon) daemon = g_new0(HubDaemon, 1);
	g_autofree char *db_path = NULL;
	gint loaded;

	daemon->config = config;
	daemon->plugin_data = g_ptr_array_new();
	daemon->timers = hub_timer_queue_new();
	daemon->bus = hub_event_bus_new();
	daemon->catalog = hub_catalog_new();
	loaded = hub_catalog_load_dir(daemon->catalog, config->capability_dir, error);
	if (loaded < 0)
		return NULL;
	if (loaded == 0) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "no capability definitions in %s",
			    config->capability_dir);
		return NULL;
	}
	g_info("Loaded %d capability definitions from %s", loaded, config->capability_dir);

	if (g_mkdir_with_parents(config->state_dir, 0700) < 0) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_FAILED, "cannot create state directory %s: %s", config->state_dir,
			    g_strerror(errno));
		return NULL;
	}
	db_path = g_build_filename(config->state_dir, "hubd.db", NULL);
	daemon->store = hub_store_open(db_path, error);
	if (!daemon->store)
		return NULL;

	daemon->registry = hub_registry_new(daemon->catalog, daemon->bus);
	hub_store_load_devices(daemon->store, restore_device, daemon);
	hub_store_load_state(daemon->store, restore_property, daemon);
	daemon->store_subscription = hub_event_bus_subscribe(daemon->bus, persist_event, daemon);
	daemon->commands = hub_command_pipeline_new(daemon->registry, daemon->bus, daemon->store,
						    config->command_timeout_ms, hub_host_dispatch_command, daemon);
	daemon->loader = hub_plugin_loader_new(HUB_PLUGIN_ABI_MAJOR, HUB_PLUGIN_ABI_MINOR, hub_host_table(), daemon);
	hub_plugin_loader_set_prepare_func(daemon->loader, hub_host_prepare_plugin);
	hub_plugin_loader_set_release_func(daemon->loader, hub_host_release_plugin);
	want_configured_plugins(daemon->loader, config);
	daemon->discovery = hub_discovery_new(daemon->loader, daemon->bus);
	daemon->certs = hub_cert_manager_new(config, daemon->loader);
	daemon->cloud = hub_cloud_new(daemon);
	return g_steal_pointer(&daemon);
}

gboolean hub_daemon_start(HubDaemon *daemon, GError **error)
{
	GPtrArray *plugins;

	/* The identity may say where the claim credential is: before the stores load. */
	hub_cloud_prepare(daemon->cloud);
	if (!hub_plugin_loader_load_dir(daemon->loader, daemon->config->plugin_dir,
					(const char *const *)daemon->config->plugins, error))
		return FALSE;
	plugins = hub_plugin_loader_get_plugins(daemon->loader);
	for (guint i = 0; i < plugins->len; i++) {
		HubPlugin *plugin = g_ptr_array_index(plugins, i);
		const struct hub_protocol_ops *ops = plugin->kind == HUB_PLUGIN_KIND_PROTOCOL ? plugin->desc->ops : NULL;
		int r;

		if (!ops || !ops->start)
			continue;
		r = ops->start(plugin->user_data);
		if (r < 0)
			g_warning("Plugin %s failed to start: %s, continuing without its devices", plugin->name,
				  g_strerror(-r));
	}
	daemon->started = TRUE;
	/* The claim connect goes first: the status below parses every role (~2 ms). */
	hub_cloud_start(daemon->cloud);
	hub_cert_manager_log_status(daemon->certs);
	return TRUE;
}

HubPlugin *hub_daemon_find_protocol(HubDaemon *daemon, const char *name)
{
	HubPlugin *plugin = name && daemon->loader ? hub_plugin_loader_find(daemon->loader, name) : NULL;

	return plugin && plugin->kind == HUB_PLUGIN_KIND_PROTOCOL ? plugin : NULL;
}

void hub_daemon_stop(HubDaemon *daemon)
{
	if (daemon->stopped)
		return;
	daemon->stopped = TRUE;
	if (daemon->discovery)
		hub_discovery_stop(daemon->discovery);
	if (daemon->loader && daemon->started) {
		GPtrArray *plugins = hub_plugin_loader_get_plugins(daemon->loader);

		for (guint i = plugins->len; i > 0; i--) {
			HubPlugin *plugin = g_ptr_array_index(plugins, i - 1);
			const struct hub_protocol_ops *ops =
				plugin->kind == HUB_PLUGIN_KIND_PROTOCOL ? plugin->desc->ops : NULL;

			if (ops && ops->stop)
				ops->stop(plugin->user_data);
		}
	}
	/* Sessions hold TLS contexts with keys from the stores: gone before exit(). */
	if (daemon->cloud)
		hub_cloud_stop(daemon->cloud);
	/* exit() may still complete commands or report: everything it reaches is alive. */
	g_clear_pointer(&daemon->certs, hub_cert_manager_free);
	g_clear_pointer(&daemon->loader, hub_plugin_loader_free);
	if (daemon->plugin_data)
		hub_host_release_all(daemon);
	g_clear_pointer(&daemon->commands, hub_command_pipeline_free);
}

void hub_daemon_free(HubDaemon *daemon)
{
	if (!daemon)
		return;
	hub_daemon_stop(daemon);
	hub_discovery_free(daemon->discovery);
	hub_cloud_free(daemon->cloud);
	if (daemon->plugin_data)
		g_ptr_array_unref(daemon->plugin_data);
	hub_timer_queue_free(daemon->timers);
	if (daemon->bus && daemon->store_subscription)
		hub_event_bus_unsubscribe(daemon->bus, daemon->store_subscription);
	hub_registry_free(daemon->registry);
	hub_store_free(daemon->store);
	hub_catalog_free(daemon->catalog);
	hub_event_bus_free(daemon->bus);
	hub_config_free(daemon->config);
	g_free(daemon);
}
