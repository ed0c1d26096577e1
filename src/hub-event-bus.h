/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-event-bus.h - in-process publish/subscribe of everything that happens
 * in the hub. Synchronous: subscribers run inside hub_event_bus_emit(), in
 * subscription order, on the main thread. Subscribers must not emit
 * recursively into a loop and must not keep pointers from the event.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

typedef struct _HubDevice HubDevice;

typedef enum {
	HUB_EVENT_DEVICE_ADDED,        /* device */
	HUB_EVENT_DEVICE_UPDATED,      /* device: description re-declared (identity, endpoints) */
	HUB_EVENT_DEVICE_REMOVED,      /* device: still valid during the emission */
	HUB_EVENT_PROPERTY_CHANGED,    /* device, endpoint_id, capability_id, name, value, timestamp_ms */
	HUB_EVENT_DEVICE_EVENT,        /* device, endpoint_id, capability_id, name, value (params object) */
	HUB_EVENT_ONLINE_CHANGED,      /* device */
	HUB_EVENT_HEALTH_CHANGED,      /* device, name (key), value */
	HUB_EVENT_COMMAND_ACCEPTED,    /* trace_id, device_id */
	HUB_EVENT_COMMAND_COMPLETED,   /* trace_id, device_id, response_code, value (result document) */
	HUB_EVENT_DEVICE_DISCOVERED,   /* name (discovered id), protocol, device_types, endpoint_id unused */
	HUB_EVENT_DISCOVERY_CHANGED,   /* count: devices found; discovering flag in response_code (0/1) */
	HUB_EVENT_CLOUD_CHANGED,       /* provisioning or connection state (hub_cloud_get_status) */
} HubEventType;

typedef struct {
	HubEventType type;
	HubDevice *device;
	const char *device_id;
	const char *endpoint_id;
	const char *capability_id;
	const char *name;
	JsonNode *value;
	gint64 timestamp_ms;
	const char *trace_id;
	gint response_code;
	const char *protocol;
	const char *display_name;
	const char *device_types;
	guint count;
} HubEvent;

typedef void (*HubEventFunc)(const HubEvent *event, gpointer user_data);

typedef struct _HubEventBus HubEventBus;

HubEventBus *hub_event_bus_new(void);
void hub_event_bus_free(HubEventBus *bus); /* NULL-safe */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HubEventBus, hub_event_bus_free)

/* Returns a subscription id > 0. */
guint hub_event_bus_subscribe(HubEventBus *bus, HubEventFunc func, gpointer user_data);
void hub_event_bus_unsubscribe(HubEventBus *bus, guint id);
void hub_event_bus_emit(HubEventBus *bus, const HubEvent *event);
