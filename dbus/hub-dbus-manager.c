/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hub-dbus-manager.c - org.hubd.Hub1.Manager on /org/hubd/Hub1. */
#include "config.h"

#include <errno.h>

#include <hubd/hub-plugin.h>

#include "hub-dbus-private.h"
#include "hub-error.h"
#include "hub-host.h"
#include "hub-json.h"

static int get_version(sd_bus *bus, const char *path, const char *interface, const char *property,
		       sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
	return sd_bus_message_append(reply, "s", PACKAGE_VERSION);
}

static int get_abi_version(sd_bus *bus, const char *path, const char *interface, const char *property,
			   sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
	g_autofree char *abi = g_strdup_printf("%d.%d", HUB_PLUGIN_ABI_MAJOR, HUB_PLUGIN_ABI_MINOR);

	return sd_bus_message_append(reply, "s", abi);
}

static int get_plugins(sd_bus *bus, const char *path, const char *interface, const char *property,
		       sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
	HubDbus *dbus = userdata;
	GPtrArray *plugins = hub_plugin_loader_get_plugins(dbus->daemon->loader);
	int r = sd_bus_message_open_container(reply, 'a', "(sssssb)");

	for (guint i = 0; r >= 0 && i < plugins->len; i++) {
		HubPlugin *plugin = g_ptr_array_index(plugins, i);
		g_autofree char *abi = g_strdup_printf("%u.%u", plugin->abi_major, plugin->abi_minor);

		/* The loader refuses unknown kinds, so every loaded plugin has a name for its kind. */
		r = sd_bus_message_append(reply, "(sssssb)", plugin->name, hub_plugin_kind_to_string(plugin->kind),
					  plugin->desc->version ? plugin->desc->version : "", abi, plugin->path,
					  (int)plugin->tainted);
	}
	return r < 0 ? r : sd_bus_message_close_container(reply);
}

static int get_device_count(sd_bus *bus, const char *path, const char *interface, const char *property,
			    sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
	HubDbus *dbus = userdata;

	return sd_bus_message_append(reply, "u", hub_registry_size(dbus->daemon->registry));
}

static int get_discovering(sd_bus *bus, const char *path, const char *interface, const char *property,
			   sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
	HubDbus *dbus = userdata;

	return sd_bus_message_append(reply, "b", (int)hub_discovery_is_running(dbus->daemon->discovery));
}

static int method_send_command(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	HubDbus *dbus = userdata;
	g_autoptr(GError) gerror = NULL;
	g_autoptr(JsonObject) request = NULL;
	g_autofree char *trace_id = NULL;
	const char *text;
	int r;

	r = hub_dbus_check_write(dbus, m, method_send_command, error);
	if (r <= 0)
		return r < 0 ? r : 1;
	r = sd_bus_message_read(m, "s", &text);
	if (r < 0)
		return r;
	request = hub_json_parse_object(text, &gerror);
	if (request)
		trace_id = hub_command_pipeline_submit(dbus->daemon->commands, request, NULL, &gerror);
	if (!trace_id)
		return hub_dbus_error_from_gerror(error, gerror);
	return sd_bus_reply_method_return(m, "s", trace_id);
}

static int method_wait_command(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	HubDbus *dbus = userdata;
	const char *trace_id;
	uint32_t timeout_ms;
	int r;

	r = sd_bus_message_read(m, "su", &trace_id, &timeout_ms);
	if (r < 0)
		return r;
	hub_dbus_reply_when_done(dbus, m, trace_id, timeout_ms, FALSE);
	return 1;
}

static int method_get_command_result(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	HubDbus *dbus = userdata;
	g_autoptr(GError) gerror = NULL;
	g_autoptr(JsonNode) result = NULL;
	g_autofree char *text = NULL;
	const char *trace_id;
	int r;

	r = sd_bus_message_read(m, "s", &trace_id);
	if (r < 0)
		return r;
	result = hub_command_pipeline_get_result(dbus->daemon->commands, trace_id, &gerror);
	if (!result)
		return hub_dbus_error_from_gerror(error, gerror);
	text = hub_json_to_string(result);
	return sd_bus_reply_method_return(
		m, "ss", json_object_get_string_member_with_default(json_node_get_object(result), "status", "completed"),
		text);
}

static int method_start_discovery(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	HubDbus *dbus = userdata;
	g_autoptr(GError) gerror = NULL;
	uint32_t seconds;
	int r;

	r = hub_dbus_check_write(dbus, m, method_start_discovery, error);
	if (r <= 0)
		return r < 0 ? r : 1;
	r = sd_bus_message_read(m, "u", &seconds);
	if (r < 0)
		return r;
	if (!hub_discovery_start(dbus->daemon->discovery, seconds, &gerror))
		return hub_dbus_error_from_gerror(error, gerror);
	return sd_bus_reply_method_return(m, "");
}

static int method_stop_discovery(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	HubDbus *dbus = userdata;
	int r;

	r = hub_dbus_check_write(dbus, m, method_stop_discovery, error);
	if (r <= 0)
		return r < 0 ? r : 1;
	hub_discovery_stop(dbus->daemon->discovery);
	return sd_bus_reply_method_return(m, "");
}

static int method_get_discovered(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	HubDbus *dbus = userdata;
	__attribute__((cleanup(sd_bus_message_unrefp))) sd_bus_message *reply = NULL;
	GPtrArray *found = hub_discovery_get_found(dbus->daemon->discovery);
	int r;

	r = sd_bus_message_new_method_return(m, &reply);
	if (r >= 0)
		r = sd_bus_message_open_container(reply, 'a', "(ssss)");
	for (guint i = 0; r >= 0 && i < found->len; i++) {
		HubDiscoveredDevice *d = g_ptr_array_index(found, i);

		r = sd_bus_message_append(reply, "(ssss)", d->discovered_id, d->protocol, d->name, d->device_types);
	}
	if (r >= 0)
		r = sd_bus_message_close_container(reply);
	return r < 0 ? r : sd_bus_send(NULL, reply, NULL);
}

static int method_onboard(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	HubDbus *dbus = userdata;
	g_autoptr(GError) gerror = NULL;
	g_autofree char *device_id = NULL;
	g_autofree char *path = NULL;
	const char *protocol, *discovered_id, *auth;
	int r;

	r = hub_dbus_check_write(dbus, m, method_onboard, error);
	if (r <= 0)
		return r < 0 ? r : 1;
	r = sd_bus_message_read(m, "sss", &protocol, &discovered_id, &auth);
	if (r < 0)
		return r;
	device_id = hub_host_onboard(dbus->daemon, protocol, discovered_id, auth, &gerror);
	if (!device_id)
		return hub_dbus_error_from_gerror(error, gerror);
	path = hub_dbus_device_path(device_id);
	return sd_bus_reply_method_return(m, "so", device_id, path);
}

static int method_remove_device(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	HubDbus *dbus = userdata;
	g_autoptr(GError) gerror = NULL;
	const char *device_id;
	int r;

	r = hub_dbus_check_write(dbus, m, method_remove_device, error);
	if (r <= 0)
		return r < 0 ? r : 1;
	r = sd_bus_message_read(m, "s", &device_id);
	if (r < 0)
		return r;
	if (!hub_host_remove_device(dbus->daemon, device_id, &gerror))
		return hub_dbus_error_from_gerror(error, gerror);
	return sd_bus_reply_method_return(m, "");
}

static int get_provisioning_state(sd_bus *bus, const char *path, const char *interface, const char *property,
				  sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
	HubDbus *dbus = userdata;
	g_autoptr(HubCloudStatus) status = hub_cloud_get_status(dbus->daemon->cloud);

	return sd_bus_message_append(reply, "s", status->provisioning_state ? status->provisioning_state : "");
}

static int get_cloud_state(sd_bus *bus, const char *path, const char *interface, const char *property,
			   sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
	HubDbus *dbus = userdata;
	g_autoptr(HubCloudStatus) status = hub_cloud_get_status(dbus->daemon->cloud);

	return sd_bus_message_append(reply, "s", status->configured ? status->connection_state : "");
}

static void add_string(JsonBuilder *builder, const char *name, const char *value)
{
	json_builder_set_member_name(builder, name);
	if (value)
		json_builder_add_string_value(builder, value);
	else
		json_builder_add_null_value(builder);
}

static void add_int(JsonBuilder *builder, const char *name, gint64 value)
{
	json_builder_set_member_name(builder, name);
	json_builder_add_int_value(builder, value);
}

static void add_outbox(JsonBuilder *builder, const HubOutboxStats *o)
{
	json_builder_begin_object(builder);
	add_int(builder, "records", o->records);
	add_int(builder, "bytes", (gint64)o->bytes);
	add_int(builder, "maxRecords", o->max_records);
	add_int(builder, "maxBytes", (gint64)o->max_bytes);
	add_int(builder, "inFlight", o->in_flight);
	add_int(builder, "oldestAgeMs", o->oldest_ms ? MAX(hub_now_ms() - o->oldest_ms, 0) : 0);
	add_int(builder, "pushed", (gint64)o->pushed);
	add_int(builder, "acknowledged", (gint64)o->acknowledged);
	add_int(builder, "droppedExpired", (gint64)o->dropped_expired);
	add_int(builder, "droppedOverflow", (gint64)o->dropped_overflow);
	add_int(builder, "droppedUnsendable", (gint64)o->dropped_unsendable);
	add_int(builder, "resent", (gint64)o->resent);
	json_builder_end_object(builder);
}

static int method_get_cloud_status(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	HubDbus *dbus = userdata;
	g_autoptr(HubCloudStatus) status = hub_cloud_get_status(dbus->daemon->cloud);
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autoptr(JsonNode) root = NULL;
	g_autofree char *text = NULL;

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "configured");
	json_builder_add_boolean_value(builder, status->configured);
	add_string(builder, "transport", status->transport);
	add_string(builder, "endpoint", status->endpoint);
	add_string(builder, "provisioningState", status->provisioning_state);
	add_string(builder, "step", status->step);
	add_string(builder, "failureReason", status->failure_reason);
	add_string(builder, "clientId", status->client_id);
	add_string(builder, "managedThingId", status->managed_thing_id);
	add_string(builder, "certificateId", status->certificate_id);
	json_builder_set_member_name(builder, "connection");
	json_builder_begin_object(builder);
	add_string(builder, "state", status->connection_state);
	add_string(builder, "identity", status->connection_identity);
	add_string(builder, "lastError", status->connection_error);
	json_builder_set_member_name(builder, "nextAttemptMs");
	json_builder_add_int_value(builder, status->next_attempt / 1000);
	json_builder_set_member_name(builder, "attempts");
	json_builder_add_int_value(builder, status->attempts);
	json_builder_end_object(builder);
	json_builder_set_member_name(builder, "outbox");
	if (status->has_outbox)
		add_outbox(builder, &status->outbox);
	else
		json_builder_add_null_value(builder);
	json_builder_end_object(builder);
	root = json_builder_get_root(builder);
	text = hub_json_to_string(root);
	return sd_bus_reply_method_return(m, "s", text);
}

static int method_provision(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	HubDbus *dbus = userdata;
	g_autoptr(GError) gerror = NULL;
	int r;

	r = hub_dbus_check_write(dbus, m, method_provision, error);
	if (r <= 0)
		return r < 0 ? r : 1;
	if (!hub_cloud_provision(dbus->daemon->cloud, &gerror))
		return hub_dbus_error_from_gerror(error, gerror);
	return sd_bus_reply_method_return(m, "");
}

/* The reply to Offboard waits for the end of the offboarding. */
static void offboard_done(const GError *gerror, gpointer user_data)
{
	sd_bus_message *m = user_data;
	__attribute__((cleanup(sd_bus_error_free))) sd_bus_error error = SD_BUS_ERROR_NULL;

	if (gerror) {
		hub_dbus_error_from_gerror(&error, gerror);
		sd_bus_reply_method_error(m, &error);
	} else {
		sd_bus_reply_method_return(m, "");
	}
	sd_bus_message_unref(m);
}

static int method_offboard(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	HubDbus *dbus = userdata;
	g_autoptr(GError) gerror = NULL;
	int force = 0;
	int r;

	r = hub_dbus_check_write(dbus, m, method_offboard, error);
	if (r <= 0)
		return r < 0 ? r : 1;
	r = sd_bus_message_read(m, "b", &force);
	if (r < 0)
		return r;
	sd_bus_message_ref(m);
	if (!hub_cloud_offboard(dbus->daemon->cloud, force, offboard_done, m, &gerror)) {
		sd_bus_message_unref(m);
		return hub_dbus_error_from_gerror(error, gerror);
	}
	return 1;
}

const sd_bus_vtable hub_dbus_manager_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_PROPERTY("Version", "s", get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("AbiVersion", "s", get_abi_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Plugins", "a(sssssb)", get_plugins, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("DeviceCount", "u", get_device_count, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("Discovering", "b", get_discovering, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("ProvisioningState", "s", get_provisioning_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("CloudState", "s", get_cloud_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_METHOD_WITH_ARGS("SendCommand", SD_BUS_ARGS("s", request_json), SD_BUS_RESULT("s", trace_id),
				method_send_command, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("WaitCommand", SD_BUS_ARGS("s", trace_id, "u", timeout_ms),
				SD_BUS_RESULT("i", response_code, "s", result_json), method_wait_command,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("GetCommandResult", SD_BUS_ARGS("s", trace_id),
				SD_BUS_RESULT("s", status, "s", result_json), method_get_command_result,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("StartDiscovery", SD_BUS_ARGS("u", seconds), SD_BUS_NO_RESULT,
				method_start_discovery, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("StopDiscovery", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_stop_discovery,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("GetDiscoveredDevices", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(ssss)", devices),
				method_get_discovered, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("OnboardDevice",
				SD_BUS_ARGS("s", protocol, "s", discovered_id, "s", auth_material),
				SD_BUS_RESULT("s", device_id, "o", device), method_onboard, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("RemoveDevice", SD_BUS_ARGS("s", device_id), SD_BUS_NO_RESULT, method_remove_device,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("GetCloudStatus", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", status_json),
				method_get_cloud_status, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("Provision", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_provision,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("Offboard", SD_BUS_ARGS("b", force), SD_BUS_NO_RESULT, method_offboard,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_SIGNAL_WITH_ARGS("CommandAccepted", SD_BUS_ARGS("s", trace_id, "s", device_id), 0),
	SD_BUS_SIGNAL_WITH_ARGS("CommandCompleted",
				SD_BUS_ARGS("s", trace_id, "s", device_id, "i", response_code, "s", result_json), 0),
	SD_BUS_SIGNAL_WITH_ARGS("DeviceDiscovered",
				SD_BUS_ARGS("s", discovered_id, "s", protocol, "s", name, "s", device_types), 0),
	SD_BUS_SIGNAL_WITH_ARGS("DiscoveryFinished", SD_BUS_ARGS("u", found), 0),
	SD_BUS_VTABLE_END,
};
