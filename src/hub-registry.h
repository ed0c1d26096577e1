/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-registry.h - every device the hub knows, and the only place that
 * changes them. Reports from protocol plugins are validated against the
 * capability catalog here; every change is announced on the event bus.
 *
 * Describing a device is a small transaction: begin_device, add_endpoint,
 * add_capability..., device_ready. Until device_ready the draft is invisible;
 * re-describing a published device keeps its property values and
 * lastChangedAt where the new description still has the property.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "hub-catalog.h"
#include "hub-device.h"
#include "hub-event-bus.h"

typedef struct _HubRegistry HubRegistry;

HubRegistry *hub_registry_new(HubCatalog *catalog, HubEventBus *bus);
void hub_registry_free(HubRegistry *registry); /* NULL-safe; emits nothing */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HubRegistry, hub_registry_free)

HubCatalog *hub_registry_get_catalog(HubRegistry *registry);

/* Published devices. */
HubDevice *hub_registry_lookup(HubRegistry *registry, const char *device_id);
guint hub_registry_size(HubRegistry *registry);
/* Published devices sorted by id; g_ptr_array_unref (does not own the devices). */
GPtrArray *hub_registry_list(HubRegistry *registry);

/* TRUE when @id is a valid device id: [A-Za-z0-9._:-]{1,128}. */
gboolean hub_registry_id_is_valid(const char *id);

/* Returns the draft to fill (name, manufacturer, ...). HUB_ERROR_INVALID_ARGUMENT
 * for a bad id, HUB_ERROR_EXISTS when another protocol owns the id. */
HubDevice *hub_registry_begin_device(HubRegistry *registry, const char *protocol, const char *device_id,
				     GError **error);
gboolean hub_registry_add_endpoint(HubRegistry *registry, const char *protocol, const char *device_id,
				   const char *endpoint_id, const char *device_types, GError **error);
gboolean hub_registry_add_capability(HubRegistry *registry, const char *protocol, const char *device_id,
				     const char *endpoint_id, const char *capability_id, GError **error);
/* Publishes the draft (HUB_EVENT_DEVICE_ADDED, or _UPDATED when it replaces a
 * published device). @online: initial online state of a new device. */
gboolean hub_registry_device_ready(HubRegistry *registry, const char *protocol, const char *device_id,
				   gboolean online, GError **error);
/* @protocol NULL: any owner. */
gboolean hub_registry_remove_device(HubRegistry *registry, const char *protocol, const char *device_id,
				    GError **error);

/* Validates @value (borrowed) against the catalog; stores it and stamps
 * lastChangedAt when it differs. @solicited: the value answers a read of this
 * property; a property that is not "reportable" is only accepted then
 * (HUB_ERROR_NOT_SUPPORTED otherwise). */
gboolean hub_registry_report_property(HubRegistry *registry, const char *protocol, const char *device_id,
				      const char *endpoint_id, const char *capability_id, const char *property,
				      JsonNode *value, gboolean solicited, GError **error);
/* @params: a JSON object node (borrowed), validated against the event's definition. */
gboolean hub_registry_report_event(HubRegistry *registry, const char *protocol, const char *device_id,
				   const char *endpoint_id, const char *capability_id, const char *event,
				   JsonNode *params, GError **error);
gboolean hub_registry_set_online(HubRegistry *registry, const char *protocol, const char *device_id,
				 gboolean online, GError **error);
gboolean hub_registry_report_health(HubRegistry *registry, const char *protocol, const char *device_id,
				    const char *key, JsonNode *value, GError **error);

/* Restoring from the store at start-up: no events, devices start offline. */
gboolean hub_registry_restore_device(HubRegistry *registry, const char *protocol, const char *device_id,
				     JsonNode *description, GError **error);
void hub_registry_restore_property(HubRegistry *registry, const char *device_id, const char *endpoint_id,
				   const char *capability_id, const char *property, JsonNode *value,
				   gint64 last_changed_ms);
