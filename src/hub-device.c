/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "hub-device.h"
#include "hub-error.h"
#include "hub-json.h"

static void property_state_clear(HubPropertyState *state)
{
	if (state->kind == HUB_STATE_STRING)
		g_free(state->v.s);
	else if (state->kind == HUB_STATE_JSON)
		json_node_unref(state->v.node);
	state->kind = HUB_STATE_NONE;
}


gboolean hub_property_state_has_value(const HubPropertyState *state)
{
	return state->kind != HUB_STATE_NONE;
}

JsonNode *hub_property_state_dup_value(const HubPropertyState *state)
{
	JsonNode *node;

	switch (state->kind) {
	case HUB_STATE_NONE:
		return NULL;
	case HUB_STATE_NULL:
		return json_node_new(JSON_NODE_NULL);
	case HUB_STATE_JSON:
		return json_node_ref(state->v.node);
	default:
		break;
	}
	node = json_node_new(JSON_NODE_VALUE);
	if (state->kind == HUB_STATE_BOOL)
		json_node_set_boolean(node, state->v.b);
	else if (state->kind == HUB_STATE_INT)
		json_node_set_int(node, state->v.i);
	else if (state->kind == HUB_STATE_DOUBLE)
		json_node_set_double(node, state->v.d);
	else
		json_node_set_string(node, state->v.s);
	return node;
}

gboolean hub_property_state_equals(const HubPropertyState *state, JsonNode *value)
{
	if (!value)
		return state->kind == HUB_STATE_NONE;
	switch (state->kind) {
	case HUB_STATE_NONE:
		return FALSE;
	case HUB_STATE_NULL:
		return JSON_NODE_HOLDS_NULL(value);
	case HUB_STATE_JSON:
		return json_node_equal(state->v.node, value);
	default:
		break;
	}
	if (!JSON_NODE_HOLDS_VALUE(value))
		return FALSE;
	switch (json_node_get_value_type(value)) {
	case G_TYPE_BOOLEAN:
		return state->kind == HUB_STATE_BOOL && state->v.b == json_node_get_boolean(value);
	case G_TYPE_INT64:
		return state->kind == HUB_STATE_INT && state->v.i == json_node_get_int(value);
	case G_TYPE_DOUBLE:
		return state->kind == HUB_STATE_DOUBLE && state->v.d == json_node_get_double(value);
	case G_TYPE_STRING:
		return state->kind == HUB_STATE_STRING && g_strcmp0(state->v.s, json_node_get_string(value)) == 0;
	default:
		return FALSE;
	}
}

void hub_property_state_set_value(HubPropertyState *state, JsonNode *value)
{
	property_state_clear(state);
	if (!value)
		return;
	if (JSON_NODE_HOLDS_NULL(value)) {
		state->kind = HUB_STATE_NULL;
		return;
	}
	if (!JSON_NODE_HOLDS_VALUE(value)) {
		state->kind = HUB_STATE_JSON;
		state->v.node = json_node_copy(value);
		return;
	}
	switch (json_node_get_value_type(value)) {
	case G_TYPE_BOOLEAN:
		state->kind = HUB_STATE_BOOL;
		state->v.b = json_node_get_boolean(value);
		break;
	case G_TYPE_INT64:
		state->kind = HUB_STATE_INT;
		state->v.i = json_node_get_int(value);
		break;
	case G_TYPE_DOUBLE:
		state->kind = HUB_STATE_DOUBLE;
		state->v.d = json_node_get_double(value);
		break;
	default:
		state->kind = HUB_STATE_STRING;
		state->v.s = g_strdup(json_node_get_string(value));
		break;
	}
}

static void capability_free(gpointer data)
{
	HubCapability *cap = data;

	for (guint i = 0; i < cap->n_properties; i++)
		property_state_clear(&cap->properties[i]);
	g_free(cap->properties);
	g_free(cap);
}

static void endpoint_free(gpointer data)
{
	HubEndpoint *ep = data;

	g_free(ep->id);
	g_free(ep->device_types);
	g_ptr_array_unref(ep->capabilities);
	g_free(ep);
}

static void health_entry_clear(gpointer data)
{
	HubHealthEntry *entry = data;

	g_free(entry->key);
	property_state_clear(&entry->value);
}

HubHealthEntry *hub_device_find_health(HubDevice *device, const char *key)
{
	for (guint i = 0; i < device->health->len; i++) {
		HubHealthEntry *entry = &g_array_index(device->health, HubHealthEntry, i);

		if (g_strcmp0(entry->key, key) == 0)
			return entry;
	}
	return NULL;
}

gboolean hub_device_set_health(HubDevice *device, const char *key, JsonNode *value)
{
	HubHealthEntry *entry = hub_device_find_health(device, key);

	if (!entry) {
		HubHealthEntry fresh = { .key = g_strdup(key) };

		g_array_append_val(device->health, fresh);
		entry = &g_array_index(device->health, HubHealthEntry, device->health->len - 1);
	} else if (hub_property_state_equals(&entry->value, value)) {
		return FALSE;
	}
	hub_property_state_set_value(&entry->value, value);
	return TRUE;
}

HubDevice *hub_device_new(const char *id, const char *protocol)
{
	HubDevice *device = g_new0(HubDevice, 1);

	device->id = g_strdup(id);
	device->protocol = g_strdup(protocol);
	device->health = g_array_new(FALSE, TRUE, sizeof(HubHealthEntry));
	g_array_set_clear_func(device->health, health_entry_clear);
	device->endpoints = g_ptr_array_new_with_free_func(endpoint_free);
	return device;
}

void hub_device_free(HubDevice *device)
{
	if (!device)
		return;
	g_free(device->id);
	g_free(device->protocol);
	g_free(device->name);
	g_free(device->manufacturer);
	g_free(device->model);
	g_free(device->serial);
	g_free(device->firmware);
	g_array_unref(device->health);
	g_ptr_array_unref(device->endpoints);
	g_free(device);
}

HubEndpoint *hub_device_find_endpoint(HubDevice *device, const char *endpoint_id)
{
	for (guint i = 0; i < device->endpoints->len; i++) {
		HubEndpoint *ep = g_ptr_array_index(device->endpoints, i);

		if (g_strcmp0(ep->id, endpoint_id) == 0)
			return ep;
	}
	return NULL;
}

HubEndpoint *hub_device_add_endpoint(HubDevice *device, const char *endpoint_id, const char *device_types)
{
	HubEndpoint *ep = hub_device_find_endpoint(device, endpoint_id);

	if (ep) {
		g_free(ep->device_types);
		ep->device_types = g_strdup(device_types ? device_types : "");
		return ep;
	}
	ep = g_new0(HubEndpoint, 1);
	ep->id = g_strdup(endpoint_id);
	ep->device_types = g_strdup(device_types ? device_types : "");
	ep->capabilities = g_ptr_array_new_with_free_func(capability_free);
	g_ptr_array_add(device->endpoints, ep);
	return ep;
}

HubCapability *hub_endpoint_find_capability(HubEndpoint *endpoint, const char *capability_id)
{
	for (guint i = 0; i < endpoint->capabilities->len; i++) {
		HubCapability *cap = g_ptr_array_index(endpoint->capabilities, i);

		if (g_strcmp0(cap->def->id, capability_id) == 0 || g_strcmp0(cap->def->short_id, capability_id) == 0)
			return cap;
	}
	return NULL;
}

HubCapability *hub_endpoint_add_capability(HubEndpoint *endpoint, const HubCapabilityDef *def)
{
	HubCapability *cap = hub_endpoint_find_capability(endpoint, def->id);

	if (cap)
		return cap;
	cap = g_new0(HubCapability, 1);
	cap->def = def;
	/* One block per capability: a hub holds thousands of property states. */
	cap->n_properties = def->properties->len;
	cap->properties = g_new0(HubPropertyState, cap->n_properties);
	for (guint i = 0; i < cap->n_properties; i++)
		cap->properties[i].def = g_ptr_array_index(def->properties, i);
	g_ptr_array_add(endpoint->capabilities, cap);
	return cap;
}

HubPropertyState *hub_capability_find_property(HubCapability *capability, const char *name)
{
	for (guint i = 0; i < capability->n_properties; i++) {
		HubPropertyState *state = &capability->properties[i];

		if (g_strcmp0(state->def->name, name) == 0)
			return state;
	}
	return NULL;
}

HubCapability *hub_device_lookup_capability(HubDevice *device, const char *endpoint_id,
					    const char *capability_id, GError **error)
{
	HubEndpoint *ep = hub_device_find_endpoint(device, endpoint_id);
	HubCapability *cap;

	if (!ep) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_NOT_FOUND, "device %s has no endpoint \"%s\"", device->id,
			    endpoint_id);
		return NULL;
	}
	cap = hub_endpoint_find_capability(ep, capability_id);
	if (!cap) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_NOT_FOUND, "endpoint %s of device %s has no capability \"%s\"",
			    endpoint_id, device->id, capability_id);
		return NULL;
	}
	return cap;
}

void hub_device_copy_state(HubDevice *device, HubDevice *old)
{
	for (guint e = 0; e < device->endpoints->len; e++) {
		HubEndpoint *ep = g_ptr_array_index(device->endpoints, e);
		HubEndpoint *old_ep = hub_device_find_endpoint(old, ep->id);

		if (!old_ep)
			continue;
		for (guint c = 0; c < ep->capabilities->len; c++) {
			HubCapability *cap = g_ptr_array_index(ep->capabilities, c);
			HubCapability *old_cap = hub_endpoint_find_capability(old_ep, cap->def->id);

			if (!old_cap)
				continue;
			for (guint p = 0; p < cap->n_properties; p++) {
				HubPropertyState *state = &cap->properties[p];
				HubPropertyState *old_state = hub_capability_find_property(old_cap, state->def->name);

				g_autoptr(JsonNode) old_value = NULL;

				if (!old_state || !hub_property_state_has_value(old_state) ||
				    hub_property_state_has_value(state))
					continue;
				old_value = hub_property_state_dup_value(old_state);
				hub_property_state_set_value(state, old_value);
				state->last_changed_ms = old_state->last_changed_ms;
			}
		}
	}
	for (guint i = 0; i < old->health->len; i++) {
		HubHealthEntry *entry = &g_array_index(old->health, HubHealthEntry, i);
		g_autoptr(JsonNode) value = NULL;

		if (hub_device_find_health(device, entry->key))
			continue;
		value = hub_property_state_dup_value(&entry->value);
		hub_device_set_health(device, entry->key, value);
	}
}

static void add_name_array(JsonBuilder *b, const char *member, GPtrArray *defs, gsize name_offset)
{
	json_builder_set_member_name(b, member);
	json_builder_begin_array(b);
	for (guint i = 0; i < defs->len; i++) {
		const char *const *name = (const char *const *)((const char *)g_ptr_array_index(defs, i) + name_offset);

		json_builder_add_string_value(b, *name);
	}
	json_builder_end_array(b);
}

static void add_device_types(JsonBuilder *b, const char *types)
{
	g_auto(GStrv) parts = g_strsplit(types ? types : "", ",", -1);

	json_builder_begin_array(b);
	for (guint i = 0; parts[i]; i++) {
		g_strstrip(parts[i]);
		if (*parts[i])
			json_builder_add_string_value(b, parts[i]);
	}
	json_builder_end_array(b);
}

JsonNode *hub_device_build_capability_report(HubDevice *device)
{
	g_autoptr(JsonBuilder) b = json_builder_new();

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "version");
	json_builder_add_string_value(b, "1.0.0");
	json_builder_set_member_name(b, "nodeId");
	json_builder_add_string_value(b, device->id);
	json_builder_set_member_name(b, "endpoints");
	json_builder_begin_array(b);
	for (guint e = 0; e < device->endpoints->len; e++) {
		HubEndpoint *ep = g_ptr_array_index(device->endpoints, e);

		json_builder_begin_object(b);
		json_builder_set_member_name(b, "id");
		json_builder_add_string_value(b, ep->id);
		json_builder_set_member_name(b, "deviceTypes");
		add_device_types(b, ep->device_types);
		json_builder_set_member_name(b, "capabilities");
		json_builder_begin_array(b);
		for (guint c = 0; c < ep->capabilities->len; c++) {
			HubCapability *cap = g_ptr_array_index(ep->capabilities, c);

			json_builder_begin_object(b);
			json_builder_set_member_name(b, "id");
			json_builder_add_string_value(b, cap->def->id);
			json_builder_set_member_name(b, "name");
			json_builder_add_string_value(b, cap->def->name);
			json_builder_set_member_name(b, "version");
			json_builder_add_string_value(b, cap->def->version);
			add_name_array(b, "properties", cap->def->properties, G_STRUCT_OFFSET(HubPropertyDef, name));
			add_name_array(b, "actions", cap->def->actions, G_STRUCT_OFFSET(HubActionDef, name));
			add_name_array(b, "events", cap->def->events, G_STRUCT_OFFSET(HubEventDef, name));
			json_builder_end_object(b);
		}
		json_builder_end_array(b);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);
	return json_builder_get_root(b);
}

JsonNode *hub_property_state_to_json(const HubPropertyState *state)
{
	JsonObject *obj = json_object_new();
	JsonObject *value = json_object_new();
	JsonNode *node = json_node_new(JSON_NODE_OBJECT);

	json_object_set_string_member(obj, "name", state->def->name);
	JsonNode *current = hub_property_state_dup_value(state);

	json_object_set_member(value, "propertyValue", current ? current : json_node_new(JSON_NODE_NULL));
	if (state->last_changed_ms > 0) {
		g_autofree char *when = hub_time_format_ms(state->last_changed_ms);

		json_object_set_string_member(value, "lastChangedAt", when);
	}
	json_object_set_object_member(obj, "value", value);
	json_node_take_object(node, obj);
	return node;
}

JsonNode *hub_device_build_state_report(HubDevice *device, const char *endpoint_id,
					const char *capability_id, const char *property)
{
	JsonObject *root = json_object_new();
	JsonArray *endpoints = json_array_new();
	JsonNode *node = json_node_new(JSON_NODE_OBJECT);

	for (guint e = 0; e < device->endpoints->len; e++) {
		HubEndpoint *ep = g_ptr_array_index(device->endpoints, e);
		JsonObject *ep_obj;
		JsonArray *caps;

		if (endpoint_id && g_strcmp0(ep->id, endpoint_id) != 0)
			continue;
		ep_obj = json_object_new();
		caps = json_array_new();
		json_object_set_string_member(ep_obj, "endpointId", ep->id);
		for (guint c = 0; c < ep->capabilities->len; c++) {
			HubCapability *cap = g_ptr_array_index(ep->capabilities, c);
			JsonObject *cap_obj;
			JsonArray *props;

			if (capability_id && g_strcmp0(cap->def->id, capability_id) != 0 &&
			    g_strcmp0(cap->def->short_id, capability_id) != 0)
				continue;
			cap_obj = json_object_new();
			props = json_array_new();
			json_object_set_string_member(cap_obj, "id", cap->def->id);
			json_object_set_string_member(cap_obj, "name", cap->def->name);
			json_object_set_string_member(cap_obj, "version", cap->def->version);
			for (guint p = 0; p < cap->n_properties; p++) {
				HubPropertyState *state = &cap->properties[p];

				if (property && g_strcmp0(state->def->name, property) != 0)
					continue;
				if (!hub_property_state_has_value(state))
					continue;
				json_array_add_element(props, hub_property_state_to_json(state));
			}
			json_object_set_array_member(cap_obj, "properties", props);
			json_array_add_object_element(caps, cap_obj);
		}
		json_object_set_array_member(ep_obj, "capabilities", caps);
		json_array_add_object_element(endpoints, ep_obj);
	}
	json_object_set_array_member(root, "endpoints", endpoints);
	json_node_take_object(node, root);
	return node;
}

JsonNode *hub_device_describe(HubDevice *device)
{
	JsonObject *root = json_object_new();
	JsonArray *endpoints = json_array_new();
	JsonNode *node = json_node_new(JSON_NODE_OBJECT);

#define SET_OPT(key, field) \
	if (device->field)  \
		json_object_set_string_member(root, key, device->field)
	SET_OPT("name", name);
	SET_OPT("manufacturer", manufacturer);
	SET_OPT("model", model);
	SET_OPT("serial", serial);
	SET_OPT("firmware", firmware);
#undef SET_OPT
	for (guint e = 0; e < device->endpoints->len; e++) {
		HubEndpoint *ep = g_ptr_array_index(device->endpoints, e);
		JsonObject *ep_obj = json_object_new();
		JsonArray *caps = json_array_new();

		json_object_set_string_member(ep_obj, "id", ep->id);
		json_object_set_string_member(ep_obj, "deviceTypes", ep->device_types);
		for (guint c = 0; c < ep->capabilities->len; c++) {
			HubCapability *cap = g_ptr_array_index(ep->capabilities, c);

			json_array_add_string_element(caps, cap->def->id);
		}
		json_object_set_array_member(ep_obj, "capabilities", caps);
		json_array_add_object_element(endpoints, ep_obj);
	}
	json_object_set_array_member(root, "endpoints", endpoints);
	json_node_take_object(node, root);
	return node;
}
