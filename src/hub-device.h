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

/* A property's value is kept compact: most are scalars, and a hub holds
 * thousands. Arrays and objects keep their JsonNode. */
typedef enum {
	HUB_STATE_NONE,   /* never reported */
	HUB_STATE_NULL,
	HUB_STATE_BOOL,
	HUB_STATE_INT,
	HUB_STATE_DOUBLE,
	HUB_STATE_STRING,
	HUB_STATE_JSON,
} HubStateKind;

typedef struct {
	const HubPropertyDef *def;
	gint64 last_changed_ms;
	HubStateKind kind;
	union {
		gboolean b;
		gint64 i;
		double d;
		char *s;
		JsonNode *node;
	} v;
} HubPropertyState;

gboolean hub_property_state_has_value(const HubPropertyState *state);
/* The value as a new JsonNode (json_node_unref it), or NULL when never reported. */
JsonNode *hub_property_state_dup_value(const HubPropertyState *state);
gboolean hub_property_state_equals(const HubPropertyState *state, JsonNode *value);
/* Stores a copy of @value (borrowed). */
void hub_property_state_set_value(HubPropertyState *state, JsonNode *value);

typedef struct {
	const HubCapabilityDef *def;
	guint n_properties;
	HubPropertyState *properties; /* one block, in def->properties order */
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
	GArray *health;        /* HubHealthEntry, a few per device */
	GPtrArray *endpoints;  /* HubEndpoint* */
	gpointer dbus_data;    /* owned by the D-Bus adapter */
};

/* A health figure ("battery", "rssi", ...): a scalar kept like a property value. */
typedef struct {
	char *key;
	HubPropertyState value; /* value.def is NULL */
} HubHealthEntry;

HubHealthEntry *hub_device_find_health(HubDevice *device, const char *key);
/* TRUE when the value changed. @value is borrowed. */
gboolean hub_device_set_health(HubDevice *device, const char *key, JsonNode *value);

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
