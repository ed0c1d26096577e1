/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hub-dbus-device.c - org.hubd.Hub1.Device on /org/hubd/Hub1/devices/<id>. */
#include "config.h"

#include <errno.h>

#include "hub-dbus-json.h"
#include "hub-dbus-private.h"
#include "hub-error.h"
#include "hub-json.h"

int hub_dbus_device_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
			 sd_bus_error *error)
{
	HubDbus *dbus = userdata;
	char *id = NULL;
	HubDevice *device;

	if (sd_bus_path_decode(path, HUB_DBUS_DEVICES, &id) <= 0)
		return 0;
	device = hub_registry_lookup(dbus->daemon->registry, id);
	free(id);
	if (!device)
		return 0;
	device->dbus_data = dbus;
	*found = device;
	return 1;
}

int hub_dbus_device_enumerate(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error)
{
	HubDbus *dbus = userdata;
	g_autoptr(GPtrArray) devices = hub_registry_list(dbus->daemon->registry);
	char **list = calloc(devices->len + 1, sizeof(char *));

	if (!list)
		return -ENOMEM;
	for (guint i = 0; i < devices->len; i++) {
		HubDevice *device = g_ptr_array_index(devices, i);

		if (sd_bus_path_encode(HUB_DBUS_DEVICES, device->id, &list[i]) < 0) {
			for (guint j = 0; j < i; j++)
				free(list[j]);
			free(list);
			return -ENOMEM;
		}
	}
	*nodes = list;
	return 1;
}

#define STRING_GETTER(fn, field)                                                                            \
	static int fn(sd_bus *bus, const char *path, const char *interface, const char *property,             \
		      sd_bus_message *reply, void *userdata, sd_bus_error *error)                              \
	{                                                                                                      \
		HubDevice *device = userdata;                                                                  \
		return sd_bus_message_append(reply, "s", device->field ? device->field : "");                  \
	}

STRING_GETTER(get_id, id)
STRING_GETTER(get_name, name)
STRING_GETTER(get_protocol, protocol)
STRING_GETTER(get_manufacturer, manufacturer)
STRING_GETTER(get_model, model)
STRING_GETTER(get_serial, serial)
STRING_GETTER(get_firmware, firmware)

static int get_provisioning_status(sd_bus *bus, const char *path, const char *interface, const char *property,
				   sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
	/* Every device in the registry has been onboarded by its plugin. */
	return sd_bus_message_append(reply, "s", "ACTIVATED");
}

static int get_online(sd_bus *bus, const char *path, const char *interface, const char *property,
		      sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
	HubDevice *device = userdata;

	return sd_bus_message_append(reply, "b", (int)device->online);
}

static int get_health(sd_bus *bus, const char *path, const char *interface, const char *property,
		      sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
	HubDevice *device = userdata;
	int r = sd_bus_message_open_container(reply, 'a', "{sv}");

	for (guint i = 0; r >= 0 && i < device->health->len; i++) {
		HubHealthEntry *entry = &g_array_index(device->health, HubHealthEntry, i);

		r = sd_bus_message_open_container(reply, 'e', "sv");
		if (r >= 0)
			r = sd_bus_message_append(reply, "s", entry->key);
		if (r >= 0)
			r = hub_dbus_append_state_variant(reply, &entry->value);
		if (r >= 0)
			r = sd_bus_message_close_container(reply);
	}
	return r < 0 ? r : sd_bus_message_close_container(reply);
}

static int get_capabilities(sd_bus *bus, const char *path, const char *interface, const char *property,
			    sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
	HubDevice *device = userdata;
	int r = sd_bus_message_open_container(reply, 'a', "(ss)");

	for (guint e = 0; r >= 0 && e < device->endpoints->len; e++) {
		HubEndpoint *ep = g_ptr_array_index(device->endpoints, e);

		for (guint c = 0; r >= 0 && c < ep->capabilities->len; c++) {
			HubCapability *cap = g_ptr_array_index(ep->capabilities, c);

			r = sd_bus_message_append(reply, "(ss)", ep->id, cap->def->id);
		}
	}
	return r < 0 ? r : sd_bus_message_close_container(reply);
}

static int get_state(sd_bus *bus, const char *path, const char *interface, const char *property,
		     sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
	HubDevice *device = userdata;
	int r = sd_bus_message_open_container(reply, 'a', "{s(vx)}");

	for (guint e = 0; r >= 0 && e < device->endpoints->len; e++) {
		HubEndpoint *ep = g_ptr_array_index(device->endpoints, e);

		for (guint c = 0; r >= 0 && c < ep->capabilities->len; c++) {
			HubCapability *cap = g_ptr_array_index(ep->capabilities, c);

			for (guint p = 0; r >= 0 && p < cap->n_properties; p++) {
				HubPropertyState *state = &cap->properties[p];
				g_autofree char *key = NULL;

				if (!hub_property_state_has_value(state))
					continue;
				key = g_strdup_printf("%s/%s/%s", ep->id, cap->def->id, state->def->name);
				r = sd_bus_message_open_container(reply, 'e', "s(vx)");
				if (r >= 0)
					r = sd_bus_message_append(reply, "s", key);
				if (r >= 0)
					r = sd_bus_message_open_container(reply, 'r', "vx");
				if (r >= 0)
					r = hub_dbus_append_state_variant(reply, state);
				if (r >= 0)
					r = sd_bus_message_append(reply, "x", (int64_t)state->last_changed_ms);
				if (r >= 0)
					r = sd_bus_message_close_container(reply);
				if (r >= 0)
					r = sd_bus_message_close_container(reply);
			}
		}
	}
	return r < 0 ? r : sd_bus_message_close_container(reply);
}

static int method_get_property(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	HubDevice *device = userdata;
	__attribute__((cleanup(sd_bus_message_unrefp))) sd_bus_message *reply = NULL;
	g_autoptr(GError) gerror = NULL;
	const char *endpoint, *capability, *property;
	HubCapability *cap;
	HubPropertyState *state;
	int r;

	r = sd_bus_message_read(m, "sss", &endpoint, &capability, &property);
	if (r < 0)
		return r;
	cap = hub_device_lookup_capability(device, endpoint, capability, &gerror);
	if (!cap)
		return hub_dbus_error_from_gerror(error, gerror);
	state = hub_capability_find_property(cap, property);
	if (!state)
		return sd_bus_error_setf(error, "org.hubd.Hub1.Error.NotFound", "capability %s has no property \"%s\"",
					 cap->def->id, property);
	if (!state->def->retrievable)
		return sd_bus_error_setf(error, "org.hubd.Hub1.Error.NotSupported", "property %s is not retrievable",
					 property);
	r = sd_bus_message_new_method_return(m, &reply);
	if (r >= 0)
		r = hub_dbus_append_state_variant(reply, state);
	if (r >= 0)
		r = sd_bus_message_append(reply, "x", (int64_t)state->last_changed_ms);
	return r < 0 ? r : sd_bus_send(NULL, reply, NULL);
}

/* The request document for one action on one capability. */
static JsonObject *single_action_request(HubDevice *device, const char *endpoint, const char *capability,
					 const char *action, JsonObject *params)
{
	JsonObject *request = json_object_new();
	JsonArray *endpoints = json_array_new();
	JsonObject *ep = json_object_new();
	JsonArray *caps = json_array_new();
	JsonObject *cap = json_object_new();
	JsonArray *actions = json_array_new();
	JsonObject *act = json_object_new();

	json_object_set_string_member(act, "name", action);
	json_object_set_object_member(act, "parameters", json_object_ref(params));
	json_array_add_object_element(actions, act);
	json_object_set_string_member(cap, "id", capability);
	json_object_set_array_member(cap, "actions", actions);
	json_array_add_object_element(caps, cap);
	json_object_set_string_member(ep, "endpointId", endpoint);
	json_object_set_array_member(ep, "capabilities", caps);
	json_array_add_object_element(endpoints, ep);
	json_object_set_string_member(request, "deviceId", device->id);
	json_object_set_array_member(request, "endpoints", endpoints);
	return request;
}

static int method_set_property(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	HubDevice *device = userdata;
	HubDbus *dbus = device->dbus_data;
	g_autoptr(GError) gerror = NULL;
	g_autoptr(JsonNode) value = NULL;
	g_autoptr(JsonObject) params = json_object_new();
	g_autoptr(JsonObject) request = NULL;
	g_autofree char *trace_id = NULL;
	const char *endpoint, *capability, *property;
	HubCapability *cap;
	int r;

	r = hub_dbus_check_write(dbus, m, method_set_property, error);
	if (r <= 0)
		return r < 0 ? r : 1;
	r = sd_bus_message_read(m, "sss", &endpoint, &capability, &property);
	if (r < 0)
		return r;
	r = hub_dbus_read_json_variant(m, &value);
	if (r < 0)
		return sd_bus_error_setf(error, "org.hubd.Hub1.Error.InvalidArgument",
					 "the value's D-Bus type has no JSON meaning");
	cap = hub_device_lookup_capability(device, endpoint, capability, &gerror);
	if (!cap)
		return hub_dbus_error_from_gerror(error, gerror);
	/* A string holding JSON text stands for an array, object or number when the
	 * property wants one (documented in org.hubd.Hub1.Device.md). */
	if (JSON_NODE_HOLDS_VALUE(value) && json_node_get_value_type(value) == G_TYPE_STRING &&
	    !hub_capability_def_validate_write(cap->def, property, value, NULL)) {
		g_autoptr(JsonNode) parsed = hub_json_parse(json_node_get_string(value), -1, NULL);

		if (parsed && hub_capability_def_validate_write(cap->def, property, parsed, NULL)) {
			json_node_unref(value);
			value = g_steal_pointer(&parsed);
		}
	}
	json_object_set_member(params, property, json_node_ref(value));
	request = single_action_request(device, endpoint, cap->def->id, "UpdateState", params);
	trace_id = hub_command_pipeline_submit(dbus->daemon->commands, request, NULL, &gerror);
	if (!trace_id)
		return hub_dbus_error_from_gerror(error, gerror);
	hub_dbus_reply_when_done(dbus, m, trace_id, 0, FALSE);
	return 1;
}

static int invoke(sd_bus_message *m, HubDevice *device, sd_bus_error *error, gboolean wait)
{
	HubDbus *dbus = device->dbus_data;
	g_autoptr(GError) gerror = NULL;
	g_autoptr(JsonObject) params = NULL;
	g_autoptr(JsonObject) request = NULL;
	g_autofree char *trace_id = NULL;
	const char *endpoint, *capability, *action, *params_json;
	uint32_t timeout_ms = 0;
	int r;

	r = sd_bus_message_read(m, "ssss", &endpoint, &capability, &action, &params_json);
	if (r >= 0 && wait)
		r = sd_bus_message_read(m, "u", &timeout_ms);
	if (r < 0)
		return r;
	params = hub_json_parse_object(*params_json ? params_json : "{}", &gerror);
	if (!params) {
		g_prefix_error(&gerror, "parameters_json: ");
		return hub_dbus_error_from_gerror(error, gerror);
	}
	request = single_action_request(device, endpoint, capability, action, params);
	trace_id = hub_command_pipeline_submit(dbus->daemon->commands, request, NULL, &gerror);
	if (!trace_id)
		return hub_dbus_error_from_gerror(error, gerror);
	if (!wait)
		return sd_bus_reply_method_return(m, "s", trace_id);
	hub_dbus_reply_when_done(dbus, m, trace_id, timeout_ms, TRUE);
	return 1;
}

static int method_invoke(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	HubDevice *device = userdata;
	int r = hub_dbus_check_write(device->dbus_data, m, method_invoke, error);

	if (r <= 0)
		return r < 0 ? r : 1;
	return invoke(m, device, error, FALSE);
}

static int method_invoke_and_wait(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	HubDevice *device = userdata;
	int r = hub_dbus_check_write(device->dbus_data, m, method_invoke_and_wait, error);

	if (r <= 0)
		return r < 0 ? r : 1;
	return invoke(m, device, error, TRUE);
}

static int reply_json(sd_bus_message *m, JsonNode *node)
{
	g_autofree char *text = hub_json_to_string(node);

	return sd_bus_reply_method_return(m, "s", text);
}

static int method_get_capability_report(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	g_autoptr(JsonNode) report = hub_device_build_capability_report(userdata);

	return reply_json(m, report);
}

static int method_get_state_report(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	g_autoptr(JsonNode) report = hub_device_build_state_report(userdata, NULL, NULL, NULL);

	return reply_json(m, report);
}

const sd_bus_vtable hub_dbus_device_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_PROPERTY("Id", "s", get_id, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Name", "s", get_name, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("Protocol", "s", get_protocol, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Manufacturer", "s", get_manufacturer, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("Model", "s", get_model, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("SerialNumber", "s", get_serial, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("Firmware", "s", get_firmware, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("ProvisioningStatus", "s", get_provisioning_status, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("Online", "b", get_online, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("Health", "a{sv}", get_health, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("Capabilities", "a(ss)", get_capabilities, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("State", "a{s(vx)}", get_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_METHOD_WITH_ARGS("GetProperty", SD_BUS_ARGS("s", endpoint, "s", capability, "s", property),
				SD_BUS_RESULT("v", value, "x", last_changed_ms), method_get_property,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("SetProperty",
				SD_BUS_ARGS("s", endpoint, "s", capability, "s", property, "v", value),
				SD_BUS_RESULT("i", response_code, "s", result_json), method_set_property,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("Invoke",
				SD_BUS_ARGS("s", endpoint, "s", capability, "s", action, "s", parameters_json),
				SD_BUS_RESULT("s", trace_id), method_invoke, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("InvokeAndWait",
				SD_BUS_ARGS("s", endpoint, "s", capability, "s", action, "s", parameters_json, "u",
					    timeout_ms),
				SD_BUS_RESULT("s", trace_id, "i", response_code, "s", result_json),
				method_invoke_and_wait, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("GetCapabilityReport", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", report_json),
				method_get_capability_report, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("GetStateReport", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", report_json),
				method_get_state_report, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_SIGNAL_WITH_ARGS("Event", SD_BUS_ARGS("s", endpoint, "s", capability, "s", event, "s", parameters_json),
				0),
	SD_BUS_VTABLE_END,
};
