/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-device.h - one device of the registry: identity, endpoints,
 * capabilities with the current value and lastChangedAt of every property,
 * online state and health. Devices are owned by the HubRegistry; others
 * only borrow them (a HubDevice* is valid until HUB_EVENT_DEVICE_REMOVED).
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "hub-catalog.h"
#include "hub-event-bus.h"

typedef struct {
	const HubPropertyDef *def;
	JsonNode *value;       /* NULL until first reported */
	gint64 last_changed_ms;
} HubPropertyState;

typedef struct {
	const HubCapabilityDef *def;
	GPtrArray *properties; /* HubPropertyState*, in def->properties order */
} HubCapability;

typedef struct {
	char *id;
	char *device_types;    /* comma-separated, may be "" */
	GPtrArray *capabilities; /* HubCapability* */
} HubEndpoint;

struct _HubDevice {
	char *id;
	char *protocol;        /* owning plugin's name */
	char *name;
	char *manufacturer;
	char *model;
	char *serial;
	char *firmware;
	gboolean online;
	gboolean ready;        /* published */
	GHashTable *health;    /* char* key -> JsonNode* */
	GPtrArray *endpoints;  /* HubEndpoint* */
	gpointer dbus_data;    /* owned by the D-Bus adapter */
};

HubDevice *hub_device_new(const char *id, const char *protocol);
void hub_device_free(HubDevice *device); /* NULL-safe */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HubDevice, hub_device_free)

HubEndpoint *hub_device_find_endpoint(HubDevice *device, const char *endpoint_id);
HubEndpoint *hub_device_add_endpoint(HubDevice *device, const char *endpoint_id, const char *device_types);
/* @capability_id matches a full id or a short id ("matter.OnOff"). */
HubCapability *hub_endpoint_find_capability(HubEndpoint *endpoint, const char *capability_id);
HubCapability *hub_endpoint_add_capability(HubEndpoint *endpoint, const HubCapabilityDef *def);
HubPropertyState *hub_capability_find_property(HubCapability *capability, const char *name);

/* Looks up endpoint + capability with HUB_ERROR_NOT_FOUND messages naming what is missing. */
HubCapability *hub_device_lookup_capability(HubDevice *device, const char *endpoint_id,
					    const char *capability_id, GError **error);

/* Copies values and timestamps of matching properties from @old (restart of a description). */
void hub_device_copy_state(HubDevice *device, HubDevice *old);

/* The seed's capability report:
 * {"version":"1.0.0","nodeId","endpoints":[{"id","deviceTypes":[],"capabilities":
 *  [{"id","name","version","properties":[names],"actions":[names],"events":[names]}]}]} */
JsonNode *hub_device_build_capability_report(HubDevice *device);

/* The seed's state report, optionally filtered (NULL = all):
 * {"endpoints":[{"endpointId","capabilities":[{"id","name","version","properties":
 *  [{"name","value":{"propertyValue","lastChangedAt"}}]}]}]} */
JsonNode *hub_device_build_state_report(HubDevice *device, const char *endpoint_id,
					const char *capability_id, const char *property);

/* One property entry of a state report: {"name","value":{"propertyValue","lastChangedAt"}}. */
JsonNode *hub_property_state_to_json(const HubPropertyState *state);

/* The description (identity + endpoints + capability ids) as stored in the database. */
JsonNode *hub_device_describe(HubDevice *device);
