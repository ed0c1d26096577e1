/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "hub-error.h"
#include "hub-json.h"
#include "hub-registry.h"

struct _HubRegistry {
	HubCatalog *catalog;
	HubEventBus *bus;
	GHashTable *devices; /* id -> HubDevice*, published */
	GHashTable *drafts;  /* id -> HubDevice*, being described */
};

HubRegistry *hub_registry_new(HubCatalog *catalog, HubEventBus *bus)
{
	HubRegistry *registry = g_new0(HubRegistry, 1);

	registry->catalog = catalog;
	registry->bus = bus;
	registry->devices = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)hub_device_free);
	registry->drafts = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)hub_device_free);
	return registry;
}

void hub_registry_free(HubRegistry *registry)
{
	if (!registry)
		return;
	g_hash_table_unref(registry->drafts);
	g_hash_table_unref(registry->devices);
	g_free(registry);
}

HubCatalog *hub_registry_get_catalog(HubRegistry *registry)
{
	return registry->catalog;
}

HubDevice *hub_registry_lookup(HubRegistry *registry, const char *device_id)
{
	return device_id ? g_hash_table_lookup(registry->devices, device_id) : NULL;
}

guint hub_registry_size(HubRegistry *registry)
{
	return g_hash_table_size(registry->devices);
}

static gint compare_devices(gconstpointer a, gconstpointer b)
{
	const HubDevice *da = *(HubDevice *const *)a;
	const HubDevice *db = *(HubDevice *const *)b;

	return strcmp(da->id, db->id);
}

GPtrArray *hub_registry_list(HubRegistry *registry)
{
	GPtrArray *list = g_ptr_array_sized_new(g_hash_table_size(registry->devices));
	GHashTableIter iter;
	gpointer value;

	g_hash_table_iter_init(&iter, registry->devices);
	while (g_hash_table_iter_next(&iter, NULL, &value))
		g_ptr_array_add(list, value);
	g_ptr_array_sort(list, compare_devices);
	return list;
}

gboolean hub_registry_id_is_valid(const char *id)
{
	gsize len;

	if (!id)
		return FALSE;
	len = strlen(id);
	if (len == 0 || len > 128)
		return FALSE;
	for (const char *p = id; *p; p++)
		if (!g_ascii_isalnum(*p) && !strchr("._:-", *p))
			return FALSE;
	return TRUE;
}

static void emit_device(HubRegistry *registry, HubEventType type, HubDevice *device)
{
	HubEvent event = { .type = type, .device = device, .device_id = device->id, .timestamp_ms = hub_now_ms() };

	hub_event_bus_emit(registry->bus, &event);
}

/* A published device owned by @protocol (NULL: any owner). */
static HubDevice *owned_device(HubRegistry *registry, const char *protocol, const char *device_id, GError **error)
{
	HubDevice *device = hub_registry_lookup(registry, device_id);

	if (!device || (protocol && g_strcmp0(device->protocol, protocol) != 0)) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_NOT_FOUND, "no device \"%s\"%s%s", device_id ? device_id : "(null)",
			    protocol ? " owned by plugin " : "", protocol ? protocol : "");
		return NULL;
	}
	return device;
}

HubDevice *hub_registry_begin_device(HubRegistry *registry, const char *protocol, const char *device_id,
				     GError **error)
{
	HubDevice *existing;
	HubDevice *draft;

	if (!hub_registry_id_is_valid(device_id)) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT,
			    "invalid device id \"%s\" (allowed: 1-128 of A-Z a-z 0-9 . _ : -)",
			    device_id ? device_id : "(null)");
		return NULL;
	}
	existing = hub_registry_lookup(registry, device_id);
	if (!existing)
		existing = g_hash_table_lookup(registry->drafts, device_id);
	if (existing && g_strcmp0(existing->protocol, protocol) != 0) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_EXISTS, "device id \"%s\" belongs to plugin %s", device_id,
			    existing->protocol);
		return NULL;
	}
	draft = hub_device_new(device_id, protocol);
	g_hash_table_replace(registry->drafts, draft->id, draft);
	return draft;
}

static HubDevice *find_draft(HubRegistry *registry, const char *protocol, const char *device_id, GError **error)
{
	HubDevice *draft = device_id ? g_hash_table_lookup(registry->drafts, device_id) : NULL;

	if (!draft || g_strcmp0(draft->protocol, protocol) != 0) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_NOT_FOUND, "device \"%s\" is not being described (call device_add first)",
			    device_id ? device_id : "(null)");
		return NULL;
	}
	return draft;
}

gboolean hub_registry_add_endpoint(HubRegistry *registry, const char *protocol, const char *device_id,
				   const char *endpoint_id, const char *device_types, GError **error)
{
	HubDevice *draft = find_draft(registry, protocol, device_id, error);

	if (!draft)
		return FALSE;
	if (!hub_registry_id_is_valid(endpoint_id)) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "invalid endpoint id \"%s\"",
			    endpoint_id ? endpoint_id : "(null)");
		return FALSE;
	}
	if (device_types && !g_utf8_validate(device_types, -1, NULL)) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "device types are not valid UTF-8");
		return FALSE;
	}
	hub_device_add_endpoint(draft, endpoint_id, device_types);
	return TRUE;
}

gboolean hub_registry_add_capability(HubRegistry *registry, const char *protocol, const char *device_id,
				     const char *endpoint_id, const char *capability_id, GError **error)
{
	HubDevice *draft = find_draft(registry, protocol, device_id, error);
	const HubCapabilityDef *def;
	HubEndpoint *ep;

	if (!draft)
		return FALSE;
	ep = hub_device_find_endpoint(draft, endpoint_id);
	if (!ep) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_NOT_FOUND, "device %s has no endpoint \"%s\"", device_id,
			    endpoint_id ? endpoint_id : "(null)");
		return FALSE;
	}
	def = capability_id ? hub_catalog_lookup(registry->catalog, capability_id) : NULL;
	if (!def) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_NOT_FOUND, "capability \"%s\" is not in the catalog",
			    capability_id ? capability_id : "(null)");
		return FALSE;
	}
	hub_endpoint_add_capability(ep, def);
	return TRUE;
}

gboolean hub_registry_device_ready(HubRegistry *registry, const char *protocol, const char *device_id,
				   gboolean online, GError **error)
{
	HubDevice *draft = find_draft(registry, protocol, device_id, error);
	HubDevice *old;
	gboolean has_capability = FALSE;

	if (!draft)
		return FALSE;
	for (guint e = 0; e < draft->endpoints->len; e++)
		if (((HubEndpoint *)g_ptr_array_index(draft->endpoints, e))->capabilities->len > 0)
			has_capability = TRUE;
	if (!has_capability) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "device %s has no endpoint with a capability",
			    device_id);
		g_hash_table_remove(registry->drafts, device_id);
		return FALSE;
	}
	g_hash_table_steal(registry->drafts, device_id);
	draft->ready = TRUE;
	old = hub_registry_lookup(registry, device_id);
	if (old) {
		hub_device_copy_state(draft, old);
		draft->dbus_data = old->dbus_data;
		old->dbus_data = NULL;
		draft->online = online;
		/* replace frees @old; the event then reports the new description */
		g_hash_table_replace(registry->devices, draft->id, draft);
		emit_device(registry, HUB_EVENT_DEVICE_UPDATED, draft);
		return TRUE;
	}
	draft->online = online;
	g_hash_table_replace(registry->devices, draft->id, draft);
	emit_device(registry, HUB_EVENT_DEVICE_ADDED, draft);
	return TRUE;
}

gboolean hub_registry_remove_device(HubRegistry *registry, const char *protocol, const char *device_id,
				    GError **error)
{
	HubDevice *device = owned_device(registry, protocol, device_id, error);

	if (!device)
		return FALSE;
	/* Subscribers still see the device during the event. */
	emit_device(registry, HUB_EVENT_DEVICE_REMOVED, device);
	g_hash_table_remove(registry->devices, device_id);
	return TRUE;
}

gboolean hub_registry_report_property(HubRegistry *registry, const char *protocol, const char *device_id,
				      const char *endpoint_id, const char *capability_id, const char *property,
				      JsonNode *value, gboolean solicited, GError **error)
{
	HubDevice *device = owned_device(registry, protocol, device_id, error);
	HubCapability *cap;
	HubPropertyState *state;
	HubEvent event = { .type = HUB_EVENT_PROPERTY_CHANGED };

	if (!device)
		return FALSE;
	cap = hub_device_lookup_capability(device, endpoint_id, capability_id, error);
	if (!cap)
		return FALSE;
	if (!hub_capability_def_validate_report(cap->def, property, value, error))
		return FALSE;
	state = hub_capability_find_property(cap, property);
	if (!state) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_NOT_FOUND, "capability %s has no property \"%s\"", cap->def->id,
			    property);
		return FALSE;
	}
	if (!state->def->reportable && !solicited) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_NOT_SUPPORTED,
			    "property %s is not reportable: a device sends it only when it is read", property);
		return FALSE;
	}
	if (hub_property_state_equals(state, value))
		return TRUE;
	hub_property_state_set_value(state, value);
	state->last_changed_ms = hub_now_ms();

	event.device = device;
	event.device_id = device->id;
	event.endpoint_id = endpoint_id;
	event.capability_id = cap->def->id;
	event.name = state->def->name;
	event.value = value;
	event.timestamp_ms = state->last_changed_ms;
	hub_event_bus_emit(registry->bus, &event);
	return TRUE;
}

gboolean hub_registry_report_event(HubRegistry *registry, const char *protocol, const char *device_id,
				   const char *endpoint_id, const char *capability_id, const char *event_name,
				   JsonNode *params, GError **error)
{
	HubDevice *device = owned_device(registry, protocol, device_id, error);
	HubCapability *cap;
	HubEvent event = { .type = HUB_EVENT_DEVICE_EVENT };

	if (!device)
		return FALSE;
	cap = hub_device_lookup_capability(device, endpoint_id, capability_id, error);
	if (!cap)
		return FALSE;
	if (!params || !JSON_NODE_HOLDS_OBJECT(params)) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "event parameters must be an object");
		return FALSE;
	}
	if (!hub_capability_def_validate_event(cap->def, event_name, json_node_get_object(params), error))
		return FALSE;
	event.device = device;
	event.device_id = device->id;
	event.endpoint_id = endpoint_id;
	event.capability_id = cap->def->id;
	event.name = event_name;
	event.value = params;
	event.timestamp_ms = hub_now_ms();
	hub_event_bus_emit(registry->bus, &event);
	return TRUE;
}

gboolean hub_registry_set_online(HubRegistry *registry, const char *protocol, const char *device_id,
				 gboolean online, GError **error)
{
	HubDevice *device = owned_device(registry, protocol, device_id, error);

	if (!device)
		return FALSE;
	if (device->online == !!online)
		return TRUE;
	device->online = !!online;
	emit_device(registry, HUB_EVENT_ONLINE_CHANGED, device);
	return TRUE;
}

gboolean hub_registry_report_health(HubRegistry *registry, const char *protocol, const char *device_id,
				    const char *key, JsonNode *value, GError **error)
{
	HubDevice *device = owned_device(registry, protocol, device_id, error);
	HubEvent event = { .type = HUB_EVENT_HEALTH_CHANGED };

	if (!device)
		return FALSE;
	if (!hub_registry_id_is_valid(key) || !value || !JSON_NODE_HOLDS_VALUE(value)) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT,
			    "health \"%s\" needs a valid key and a scalar value", key ? key : "(null)");
		return FALSE;
	}
	if (!hub_device_set_health(device, key, value))
		return TRUE;
	event.device = device;
	event.device_id = device->id;
	event.name = key;
	event.value = value;
	event.timestamp_ms = hub_now_ms();
	hub_event_bus_emit(registry->bus, &event);
	return TRUE;
}

gboolean hub_registry_restore_device(HubRegistry *registry, const char *protocol, const char *device_id,
				     JsonNode *description, GError **error)
{
	g_autoptr(HubDevice) device = NULL;
	JsonObject *obj;
	JsonArray *endpoints;

	if (!hub_registry_id_is_valid(device_id) || !description || !JSON_NODE_HOLDS_OBJECT(description)) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "stored device \"%s\" is malformed",
			    device_id ? device_id : "(null)");
		return FALSE;
	}
	obj = json_node_get_object(description);
	device = hub_device_new(device_id, protocol);
	device->name = g_strdup(json_object_get_string_member_with_default(obj, "name", NULL));
	device->manufacturer = g_strdup(json_object_get_string_member_with_default(obj, "manufacturer", NULL));
	device->model = g_strdup(json_object_get_string_member_with_default(obj, "model", NULL));
	device->serial = g_strdup(json_object_get_string_member_with_default(obj, "serial", NULL));
	device->firmware = g_strdup(json_object_get_string_member_with_default(obj, "firmware", NULL));
	endpoints = json_object_get_array_member(obj, "endpoints");
	for (guint e = 0; endpoints && e < json_array_get_length(endpoints); e++) {
		JsonObject *ep_obj = json_array_get_object_element(endpoints, e);
		JsonArray *caps;
		HubEndpoint *ep;

		if (!ep_obj || !hub_registry_id_is_valid(json_object_get_string_member_with_default(ep_obj, "id", NULL)))
			continue;
		ep = hub_device_add_endpoint(device, json_object_get_string_member(ep_obj, "id"),
					     json_object_get_string_member_with_default(ep_obj, "deviceTypes", ""));
		caps = json_object_get_array_member(ep_obj, "capabilities");
		for (guint c = 0; caps && c < json_array_get_length(caps); c++) {
			const char *cap_id = json_array_get_string_element(caps, c);
			const HubCapabilityDef *def = cap_id ? hub_catalog_lookup(registry->catalog, cap_id) : NULL;

			if (def)
				hub_endpoint_add_capability(ep, def);
			else
				g_warning("Stored device %s uses capability %s, which is not in the catalog, ignoring",
					  device_id, cap_id ? cap_id : "(null)");
		}
	}
	device->ready = TRUE;
	device->online = FALSE;
	g_hash_table_replace(registry->devices, device->id, device);
	device = NULL;
	return TRUE;
}

void hub_registry_restore_property(HubRegistry *registry, const char *device_id, const char *endpoint_id,
				   const char *capability_id, const char *property, JsonNode *value,
				   gint64 last_changed_ms)
{
	HubDevice *device = hub_registry_lookup(registry, device_id);
	HubCapability *cap = device ? hub_device_lookup_capability(device, endpoint_id, capability_id, NULL) : NULL;
	HubPropertyState *state = cap ? hub_capability_find_property(cap, property) : NULL;

	/* Values that no longer validate (catalog changed) are dropped, not trusted. */
	if (!state || !hub_capability_def_validate_report(cap->def, property, value, NULL))
		return;
	hub_property_state_set_value(state, value);
	state->last_changed_ms = last_changed_ms;
}
