/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-discovery.h - the discovery window (User-Guided Setup): opens discovery
 * on every protocol plugin that supports it, collects the devices they find,
 * and closes after the requested time or on request.
 */
#pragma once

#include <glib.h>

#include "hub-event-bus.h"
#include "hub-plugin-loader.h"

typedef struct {
	char *discovered_id;
	char *protocol;
	char *name;
	char *device_types;
} HubDiscoveredDevice;

typedef struct _HubDiscovery HubDiscovery;

HubDiscovery *hub_discovery_new(HubPluginLoader *loader, HubEventBus *bus);
void hub_discovery_free(HubDiscovery *discovery); /* stops a running window; NULL-safe */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HubDiscovery, hub_discovery_free)

/* 1-3600 s (HUB_ERROR_INVALID_ARGUMENT), HUB_ERROR_BUSY when already open,
 * HUB_ERROR_NOT_SUPPORTED when no plugin can discover. Clears the last results. */
gboolean hub_discovery_start(HubDiscovery *discovery, guint seconds, GError **error);
/* Closes the window; no-op when closed. */
void hub_discovery_stop(HubDiscovery *discovery);
gboolean hub_discovery_is_running(HubDiscovery *discovery);
/* Found devices (HubDiscoveredDevice*), owned by the discovery. */
GPtrArray *hub_discovery_get_found(HubDiscovery *discovery);
/* From a plugin: records (deduplicated) and announces a found device. -EINVAL/-EAGAIN as errno. */
int hub_discovery_add_found(HubDiscovery *discovery, const char *protocol, const char *discovered_id,
			    const char *name, const char *device_types);
