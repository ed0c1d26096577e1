/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>

#include <hubd/hub-protocol.h>

#include "hub-discovery.h"
#include "hub-error.h"
#include "hub-json.h"

struct _HubDiscovery {
	HubPluginLoader *loader;
	HubEventBus *bus;
	gboolean running;
	guint timeout_source;
	GPtrArray *found; /* HubDiscoveredDevice* */
};

static void discovered_free(gpointer data)
{
	HubDiscoveredDevice *d = data;

	g_free(d->discovered_id);
	g_free(d->protocol);
	g_free(d->name);
	g_free(d->device_types);
	g_free(d);
}

HubDiscovery *hub_discovery_new(HubPluginLoader *loader, HubEventBus *bus)
{
	HubDiscovery *discovery = g_new0(HubDiscovery, 1);

	discovery->loader = loader;
	discovery->bus = bus;
	discovery->found = g_ptr_array_new_with_free_func(discovered_free);
	return discovery;
}

void hub_discovery_free(HubDiscovery *discovery)
{
	if (!discovery)
		return;
	hub_discovery_stop(discovery);
	g_ptr_array_unref(discovery->found);
	g_free(discovery);
}

static const struct hub_protocol_ops *protocol_ops(HubPlugin *plugin)
{
	if (plugin->kind != HUB_PLUGIN_KIND_PROTOCOL)
		return NULL;
	return plugin->desc->ops;
}

static void emit_changed(HubDiscovery *discovery)
{
	HubEvent event = { .type = HUB_EVENT_DISCOVERY_CHANGED, .response_code = discovery->running,
			   .count = discovery->found->len, .timestamp_ms = hub_now_ms() };

	hub_event_bus_emit(discovery->bus, &event);
}

static gboolean timeout_cb(gpointer user_data)
{
	HubDiscovery *discovery = user_data;

	discovery->timeout_source = 0;
	hub_discovery_stop(discovery);
	return G_SOURCE_REMOVE;
}

gboolean hub_discovery_start(HubDiscovery *discovery, guint seconds, GError **error)
{
	GPtrArray *plugins = hub_plugin_loader_get_plugins(discovery->loader);
	guint started = 0;

	if (seconds < 1 || seconds > 3600) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "a discovery window lasts 1-3600 s, not %u",
			    seconds);
		return FALSE;
	}
	if (discovery->running) {
		g_set_error_literal(error, HUB_ERROR, HUB_ERROR_BUSY, "a discovery window is already open");
		return FALSE;
	}
	g_ptr_array_set_size(discovery->found, 0);
	discovery->running = TRUE;
	for (guint i = 0; i < plugins->len; i++) {
		HubPlugin *plugin = g_ptr_array_index(plugins, i);
		const struct hub_protocol_ops *ops = protocol_ops(plugin);
		int r;

		if (!ops || !ops->discovery_start)
			continue;
		r = ops->discovery_start(plugin->user_data, seconds);
		if (r < 0)
			g_warning("Plugin %s failed to start discovery: %s, ignoring", plugin->name, g_strerror(-r));
		else
			started++;
	}
	if (started == 0) {
		discovery->running = FALSE;
		g_set_error_literal(error, HUB_ERROR, HUB_ERROR_NOT_SUPPORTED, "no loaded plugin can discover devices");
		return FALSE;
	}
	discovery->timeout_source = g_timeout_add_seconds(seconds, timeout_cb, discovery);
	g_message("Discovery window open for %u s on %u plugin(s)", seconds, started);
	emit_changed(discovery);
	return TRUE;
}

void hub_discovery_stop(HubDiscovery *discovery)
{
	GPtrArray *plugins;

	if (!discovery->running)
		return;
	g_clear_handle_id(&discovery->timeout_source, g_source_remove);
	discovery->running = FALSE;
	plugins = hub_plugin_loader_get_plugins(discovery->loader);
	for (guint i = 0; i < plugins->len; i++) {
		HubPlugin *plugin = g_ptr_array_index(plugins, i);
		const struct hub_protocol_ops *ops = protocol_ops(plugin);

		if (ops && ops->discovery_stop)
			ops->discovery_stop(plugin->user_data);
	}
	g_message("Discovery window closed, %u device(s) found", discovery->found->len);
	emit_changed(discovery);
}

gboolean hub_discovery_is_running(HubDiscovery *discovery)
{
	return discovery->running;
}

GPtrArray *hub_discovery_get_found(HubDiscovery *discovery)
{
	return discovery->found;
}

int hub_discovery_add_found(HubDiscovery *discovery, const char *protocol, const char *discovered_id,
			    const char *name, const char *device_types)
{
	HubDiscoveredDevice *d;
	HubEvent event = { .type = HUB_EVENT_DEVICE_DISCOVERED };

	if (!discovery->running)
		return -EAGAIN;
	if (!discovered_id || !*discovered_id || strlen(discovered_id) > 256 ||
	    !g_utf8_validate(discovered_id, -1, NULL) || (name && !g_utf8_validate(name, -1, NULL)) ||
	    (device_types && !g_utf8_validate(device_types, -1, NULL)))
		return -EINVAL;
	for (guint i = 0; i < discovery->found->len; i++) {
		HubDiscoveredDevice *known = g_ptr_array_index(discovery->found, i);

		if (g_strcmp0(known->protocol, protocol) == 0 && g_strcmp0(known->discovered_id, discovered_id) == 0)
			return 0;
	}
	d = g_new0(HubDiscoveredDevice, 1);
	d->discovered_id = g_strdup(discovered_id);
	d->protocol = g_strdup(protocol);
	d->name = g_strdup(name ? name : "");
	d->device_types = g_strdup(device_types ? device_types : "");
	g_ptr_array_add(discovery->found, d);

	event.name = d->discovered_id;
	event.protocol = d->protocol;
	event.display_name = d->name;
	event.device_types = d->device_types;
	event.count = discovery->found->len;
	event.timestamp_ms = hub_now_ms();
	hub_event_bus_emit(discovery->bus, &event);
	return 0;
}
