/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hubctl-monitor.c - "hubctl monitor": one line per change, event, command
 * and discovery signal of hubd, until SIGINT or SIGTERM.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <glib-unix.h>

#include "hubctl.h"

typedef struct {
	HubctlContext *ctx;
	GMainLoop *loop;
	GSource *bus_source;
	GHashTable *states;     /* object path -> last known State (a{s(vx)}) */
	GHashTable *ids;        /* object path -> device id */
	int exit_status;
} Monitor;

static void
emit_text(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* "12:00:01.234 <text>" */
static void
emit_text(const char *fmt, ...)
{
	g_autofree char *clock = hubctl_format_local_clock(g_get_real_time());
	g_autofree char *text = NULL;
	va_list ap;

	va_start(ap, fmt);
	text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	printf("%s %s\n", clock, text);
	fflush(stdout);
}

/* A JSON line: {"time": ISO 8601, "type": @type, ...members added by the
 * caller before end_json()}. */
static JsonBuilder *
begin_json(const char *type)
{
	JsonBuilder *builder = json_builder_new();
	g_autofree char *time = hubctl_format_time_ms(g_get_real_time() / 1000);

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "time");
	json_builder_add_string_value(builder, time);
	json_builder_set_member_name(builder, "type");
	json_builder_add_string_value(builder, type);
	return builder;
}

static void
end_json(JsonBuilder *builder)
{
	g_autoptr(JsonNode) root = NULL;

	json_builder_end_object(builder);
	root = json_builder_get_root(builder);
	hubctl_print_json(root, FALSE);
	g_object_unref(builder);
}

static void
json_add_string(JsonBuilder *builder, const char *name, const char *value)
{
	json_builder_set_member_name(builder, name);
	json_builder_add_string_value(builder, value);
}

static void
json_add_json_text(JsonBuilder *builder, const char *name, const char *text)
{
	JsonNode *node = hubctl_parse_json(text, NULL);

	json_builder_set_member_name(builder, name);
	if (node) {
		json_builder_add_value(builder, node);
	} else {
		json_builder_add_string_value(builder, text);
	}
}

static const char *
device_id(Monitor *mon, const char *path)
{
	const char *id = g_hash_table_lookup(mon->ids, path);

	if (!id) {
		char *decoded = hubctl_device_id_from_path(path);

		g_hash_table_insert(mon->ids, g_strdup(path), decoded);
		id = decoded;
	}
	return id;
}

static void
remember_device(Monitor *mon, const char *path, GVariant *props)
{
	const char *id = hubctl_lookup_string(props, "Id");
	GVariant *state = g_variant_lookup_value(props, "State", G_VARIANT_TYPE("a{s(vx)}"));

	g_hash_table_insert(mon->ids, g_strdup(path), id[0] ? g_strdup(id) : hubctl_device_id_from_path(path));
	if (state)
		g_hash_table_insert(mon->states, g_strdup(path), state);
}

static void
forget_device(Monitor *mon, const char *path)
{
	g_hash_table_remove(mon->states, path);
	g_hash_table_remove(mon->ids, path);
}

/* Fetches every device and its State; the baseline for diffs. */
static int
load_devices(Monitor *mon)
{
	_cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
	g_autoptr(GPtrArray) devices = NULL;
	int r;

	g_hash_table_remove_all(mon->states);
	g_hash_table_remove_all(mon->ids);
	r = hubctl_get_devices(mon->ctx->bus, &error, &devices);
	if (r < 0) {
		if (hubctl_error_is_no_service(&error)) {
			fprintf(stderr, "hubctl: monitor: hubd is not running; waiting for it\n");
			return 0;
		}
		hubctl_fail("monitor: listing devices", &error, r);
		return r;
	}
	for (guint i = 0; i < devices->len; i++) {
		HubctlDevice *device = devices->pdata[i];

		remember_device(mon, device->path, device->props);
	}
	return 0;
}

static void
print_state_change(Monitor *mon, const char *id, HubctlStateEntry *entry)
{
	g_autofree char *value = hubctl_variant_to_json_string(entry->value);
	g_autofree char *changed = hubctl_format_time_ms(entry->last_changed_ms);
	JsonBuilder *builder;

	if (!mon->ctx->json) {
		emit_text("%s %s = %s", id, entry->key, value);
		return;
	}
	builder = begin_json("property");
	json_add_string(builder, "device", id);
	json_add_string(builder, "endpoint", entry->endpoint);
	json_add_string(builder, "capability", entry->capability);
	json_add_string(builder, "property", entry->property);
	json_builder_set_member_name(builder, "value");
	json_builder_add_value(builder, hubctl_variant_to_json(entry->value));
	/* ISO 8601, as in the daemon's state reports; null when unknown. */
	json_builder_set_member_name(builder, "lastChangedAt");
	if (entry->last_changed_ms > 0)
		json_builder_add_string_value(builder, changed);
	else
		json_builder_add_null_value(builder);
	end_json(builder);
}

static void
print_state_removed(Monitor *mon, const char *id, const char *key)
{
	JsonBuilder *builder;

	if (!mon->ctx->json) {
		emit_text("%s %s removed", id, key);
		return;
	}
	builder = begin_json("property-removed");
	json_add_string(builder, "device", id);
	json_add_string(builder, "key", key);
	end_json(builder);
}

/* Prints the State keys whose value or lastChangedAt differ from the last
 * known State of @path, then remembers @state. */
static void
diff_state(Monitor *mon, const char *path, GVariant *state)
{
	GVariant *old = g_hash_table_lookup(mon->states, path);
	g_autoptr(GPtrArray) entries = hubctl_state_parse(state);
	const char *id = device_id(mon, path);

	if (!g_variant_is_of_type(state, G_VARIANT_TYPE("a{s(vx)}")))
		return;
	for (guint i = 0; i < entries->len; i++) {
		HubctlStateEntry *entry = entries->pdata[i];
		g_autoptr(GVariant) before = old ? g_variant_lookup_value(old, entry->key, G_VARIANT_TYPE("(vx)")) : NULL;
		g_autoptr(GVariant) now = g_variant_lookup_value(state, entry->key, G_VARIANT_TYPE("(vx)"));

		if (!before || !now || !g_variant_equal(before, now))
			print_state_change(mon, id, entry);
	}
	if (old) {
		g_autoptr(GPtrArray) old_entries = hubctl_state_parse(old);

		for (guint i = 0; i < old_entries->len; i++) {
			HubctlStateEntry *entry = old_entries->pdata[i];
			g_autoptr(GVariant) now = g_variant_lookup_value(state, entry->key, NULL);

			if (!now)
				print_state_removed(mon, id, entry->key);
		}
	}
	g_hash_table_insert(mon->states, g_strdup(path), g_variant_ref(state));
}

static void
print_device_property(Monitor *mon, const char *path, const char *name, GVariant *value)
{
	const char *id = device_id(mon, path);
	JsonBuilder *builder;

	if (g_str_equal(name, "State")) {
		diff_state(mon, path, value);
		return;
	}
	if (!mon->ctx->json) {
		if (g_str_equal(name, "Online") && g_variant_is_of_type(value, G_VARIANT_TYPE_BOOLEAN)) {
			emit_text("%s %s", id, g_variant_get_boolean(value) ? "online" : "offline");
		} else if (g_str_equal(name, "Health")) {
			g_autofree char *health = hubctl_health_to_text(value);

			emit_text("%s health %s", id, health);
		} else {
			g_autofree char *text = hubctl_variant_to_json_string(value);

			emit_text("%s %s = %s", id, name, text);
		}
		return;
	}
	if (g_str_equal(name, "Online") && g_variant_is_of_type(value, G_VARIANT_TYPE_BOOLEAN)) {
		builder = begin_json("online");
		json_add_string(builder, "device", id);
		json_builder_set_member_name(builder, "online");
		json_builder_add_boolean_value(builder, g_variant_get_boolean(value));
	} else {
		builder = begin_json("device-property");
		json_add_string(builder, "device", id);
		json_add_string(builder, "name", name);
		json_builder_set_member_name(builder, "value");
		json_builder_add_value(builder, hubctl_variant_to_json(value));
	}
	end_json(builder);
}

static void
print_hub_property(Monitor *mon, const char *name, GVariant *value)
{
	g_autofree char *text = NULL;
	JsonBuilder *builder;

	if (!mon->ctx->json) {
		text = hubctl_variant_to_json_string(value);
		emit_text("hub %s = %s", name, text);
		return;
	}
	builder = begin_json("hub-property");
	json_add_string(builder, "name", name);
	json_builder_set_member_name(builder, "value");
	json_builder_add_value(builder, hubctl_variant_to_json(value));
	end_json(builder);
}

static void
property_changed(Monitor *mon, const char *path, const char *interface, const char *name, GVariant *value)
{
	if (g_str_equal(interface, HUBCTL_DEVICE_IFACE))
		print_device_property(mon, path, name, value);
	else if (g_str_equal(interface, HUBCTL_MANAGER_IFACE))
		print_hub_property(mon, name, value);
}

static int
on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	Monitor *mon = userdata;
	const char *path = sd_bus_message_get_path(m);
	g_autoptr(GVariant) args = NULL;
	g_autoptr(GVariant) changed = NULL;
	g_autofree const char **invalidated = NULL;
	const char *interface;
	GVariantIter iter;
	const char *name;
	GVariant *value;

	if (!path || hubctl_message_read_tuple(m, &args) < 0 ||
	    !g_variant_is_of_type(args, G_VARIANT_TYPE("(sa{sv}as)")))
		return 0;
	g_variant_get(args, "(&s@a{sv}^a&s)", &interface, &changed, &invalidated);
	g_variant_iter_init(&iter, changed);
	while (g_variant_iter_loop(&iter, "{&sv}", &name, &value))
		property_changed(mon, path, interface, name, value);
	for (gsize i = 0; invalidated && invalidated[i]; i++) {
		_cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
		g_autoptr(GVariant) fetched = NULL;

		if (hubctl_get_property(mon->ctx->bus, path, interface, invalidated[i], &error, &fetched) >= 0)
			property_changed(mon, path, interface, invalidated[i], fetched);
	}
	return 0;
}

static int
on_interfaces_added(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	Monitor *mon = userdata;
	g_autoptr(GVariant) args = NULL;
	g_autoptr(GVariant) props = NULL;
	const char *path;
	JsonBuilder *builder;

	if (hubctl_message_read_tuple(m, &args) < 0 || !g_variant_is_of_type(args, G_VARIANT_TYPE("(oa{sa{sv}})")))
		return 0;
	g_variant_get_child(args, 0, "&o", &path);
	{
		g_autoptr(GVariant) interfaces = g_variant_get_child_value(args, 1);

		props = g_variant_lookup_value(interfaces, HUBCTL_DEVICE_IFACE, G_VARIANT_TYPE("a{sv}"));
	}
	if (!props)
		return 0;
	remember_device(mon, path, props);
	if (!mon->ctx->json) {
		emit_text("device added %s", device_id(mon, path));
		return 0;
	}
	builder = begin_json("device-added");
	json_add_string(builder, "device", device_id(mon, path));
	json_add_string(builder, "path", path);
	json_add_string(builder, "name", hubctl_lookup_string(props, "Name"));
	json_add_string(builder, "protocol", hubctl_lookup_string(props, "Protocol"));
	end_json(builder);
	return 0;
}

static int
on_interfaces_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	Monitor *mon = userdata;
	g_autoptr(GVariant) args = NULL;
	g_autofree const char **interfaces = NULL;
	g_autofree char *id = NULL;
	const char *path;
	JsonBuilder *builder;

	if (hubctl_message_read_tuple(m, &args) < 0 || !g_variant_is_of_type(args, G_VARIANT_TYPE("(oas)")))
		return 0;
	g_variant_get(args, "(&o^a&s)", &path, &interfaces);
	if (!interfaces || !g_strv_contains(interfaces, HUBCTL_DEVICE_IFACE))
		return 0;
	id = g_strdup(device_id(mon, path));
	forget_device(mon, path);
	if (!mon->ctx->json) {
		emit_text("device removed %s", id);
		return 0;
	}
	builder = begin_json("device-removed");
	json_add_string(builder, "device", id);
	json_add_string(builder, "path", path);
	end_json(builder);
	return 0;
}

static int
on_device_event(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	Monitor *mon = userdata;
	const char *path = sd_bus_message_get_path(m);
	const char *endpoint, *capability, *event, *params;
	JsonBuilder *builder;
	const char *id;

	if (!path || sd_bus_message_read(m, "ssss", &endpoint, &capability, &event, &params) < 0)
		return 0;
	id = device_id(mon, path);
	if (!mon->ctx->json) {
		emit_text("%s event %s/%s/%s %s", id, endpoint, capability, event, params);
		return 0;
	}
	builder = begin_json("event");
	json_add_string(builder, "device", id);
	json_add_string(builder, "endpoint", endpoint);
	json_add_string(builder, "capability", capability);
	json_add_string(builder, "event", event);
	json_add_json_text(builder, "parameters", params);
	end_json(builder);
	return 0;
}

static void
on_command_accepted(Monitor *mon, sd_bus_message *m)
{
	const char *trace_id, *device;
	JsonBuilder *builder;

	if (sd_bus_message_read(m, "ss", &trace_id, &device) < 0)
		return;
	if (!mon->ctx->json) {
		emit_text("command %s accepted %s", trace_id, device);
		return;
	}
	builder = begin_json("command-accepted");
	json_add_string(builder, "traceId", trace_id);
	json_add_string(builder, "device", device);
	end_json(builder);
}

static void
on_command_completed(Monitor *mon, sd_bus_message *m)
{
	const char *trace_id, *device, *result;
	int32_t code;
	JsonBuilder *builder;

	if (sd_bus_message_read(m, "ssis", &trace_id, &device, &code, &result) < 0)
		return;
	if (!mon->ctx->json) {
		emit_text("command %s completed %d %s", trace_id, code, device);
		return;
	}
	builder = begin_json("command-completed");
	json_add_string(builder, "traceId", trace_id);
	json_add_string(builder, "device", device);
	json_builder_set_member_name(builder, "responseCode");
	json_builder_add_int_value(builder, code);
	json_add_json_text(builder, "result", result);
	end_json(builder);
}

static void
on_device_discovered(Monitor *mon, sd_bus_message *m)
{
	const char *discovered_id, *protocol, *name, *types;
	JsonBuilder *builder;

	if (sd_bus_message_read(m, "ssss", &discovered_id, &protocol, &name, &types) < 0)
		return;
	if (!mon->ctx->json) {
		emit_text("discovered %s %s \"%s\" %s", protocol, discovered_id, name, types);
		return;
	}
	builder = begin_json("discovered");
	json_add_string(builder, "discoveredId", discovered_id);
	json_add_string(builder, "protocol", protocol);
	json_add_string(builder, "name", name);
	json_add_string(builder, "deviceTypes", types);
	end_json(builder);
}

static void
on_discovery_finished(Monitor *mon, sd_bus_message *m)
{
	uint32_t found;
	JsonBuilder *builder;

	if (sd_bus_message_read(m, "u", &found) < 0)
		return;
	if (!mon->ctx->json) {
		emit_text("discovery finished, %u found", found);
		return;
	}
	builder = begin_json("discovery-finished");
	json_builder_set_member_name(builder, "found");
	json_builder_add_int_value(builder, found);
	end_json(builder);
}

static int
on_manager_signal(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	Monitor *mon = userdata;
	const char *member = sd_bus_message_get_member(m);

	if (!member)
		return 0;
	if (g_str_equal(member, "CommandAccepted"))
		on_command_accepted(mon, m);
	else if (g_str_equal(member, "CommandCompleted"))
		on_command_completed(mon, m);
	else if (g_str_equal(member, "DeviceDiscovered"))
		on_device_discovered(mon, m);
	else if (g_str_equal(member, "DiscoveryFinished"))
		on_discovery_finished(mon, m);
	return 0;
}

/* hubd (re)started or stopped: say so, and start over from its devices. */
static int
on_name_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	Monitor *mon = userdata;
	const char *name, *old_owner, *new_owner;
	gboolean running;

	if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0 || !g_str_equal(name, HUBCTL_SERVICE))
		return 0;
	running = new_owner[0] != '\0';
	if (mon->ctx->json)
		end_json(begin_json(running ? "hubd-started" : "hubd-stopped"));
	else
		emit_text("hubd %s", running ? "started" : "stopped");
	g_hash_table_remove_all(mon->states);
	g_hash_table_remove_all(mon->ids);
	if (running && load_devices(mon) < 0) {
		mon->exit_status = HUBCTL_EXIT_FAILURE;
		g_main_loop_quit(mon->loop);
	}
	return 0;
}

static gboolean
on_quit_signal(gpointer userdata)
{
	Monitor *mon = userdata;

	g_main_loop_quit(mon->loop);
	return G_SOURCE_CONTINUE;
}

static gboolean
on_bus_lost(gpointer userdata)
{
	Monitor *mon = userdata;

	fprintf(stderr, "hubctl: monitor: lost the connection to the bus: %s\n",
		g_strerror(-hubctl_bus_source_get_error(mon->bus_source)));
	mon->exit_status = HUBCTL_EXIT_FAILURE;
	g_main_loop_quit(mon->loop);
	return G_SOURCE_REMOVE;
}

static void
slot_unref(gpointer slot)
{
	sd_bus_slot_unref(slot);
}

static const struct {
	const char *rule;
	sd_bus_message_handler_t handler;
} monitor_matches[] = {
	{ "type='signal',sender='" HUBCTL_SERVICE "',interface='" HUBCTL_PROPERTIES_IFACE "',"
	  "member='PropertiesChanged',path_namespace='" HUBCTL_ROOT_PATH "'", on_properties_changed },
	{ "type='signal',sender='" HUBCTL_SERVICE "',interface='" HUBCTL_OM_IFACE "',"
	  "member='InterfacesAdded',path='" HUBCTL_ROOT_PATH "'", on_interfaces_added },
	{ "type='signal',sender='" HUBCTL_SERVICE "',interface='" HUBCTL_OM_IFACE "',"
	  "member='InterfacesRemoved',path='" HUBCTL_ROOT_PATH "'", on_interfaces_removed },
	{ "type='signal',sender='" HUBCTL_SERVICE "',interface='" HUBCTL_DEVICE_IFACE "',"
	  "member='Event',path_namespace='" HUBCTL_DEVICES_PATH "'", on_device_event },
	{ "type='signal',sender='" HUBCTL_SERVICE "',interface='" HUBCTL_MANAGER_IFACE "',"
	  "path='" HUBCTL_ROOT_PATH "'", on_manager_signal },
	{ "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',"
	  "member='NameOwnerChanged',arg0='" HUBCTL_SERVICE "'", on_name_owner_changed },
};

int
hubctl_cmd_monitor(HubctlContext *ctx)
{
	g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
	g_autoptr(GHashTable) states = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
							     (GDestroyNotify)g_variant_unref);
	g_autoptr(GHashTable) ids = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	Monitor mon = { .ctx = ctx, .loop = loop, .states = states, .ids = ids };
	g_autoptr(GPtrArray) slots = g_ptr_array_new_with_free_func(slot_unref);
	guint sigint, sigterm;
	int r;

	for (gsize i = 0; i < G_N_ELEMENTS(monitor_matches); i++) {
		sd_bus_slot *slot = NULL;

		r = sd_bus_add_match(ctx->bus, &slot, monitor_matches[i].rule, monitor_matches[i].handler, &mon);
		if (r < 0)
			return hubctl_fail("monitor: subscribing to signals", NULL, r);
		g_ptr_array_add(slots, slot);
	}
	/* After the matches, so no change falls between the two. */
	if (load_devices(&mon) < 0)
		return HUBCTL_EXIT_FAILURE;

	mon.bus_source = hubctl_bus_source_new(ctx->bus);
	g_source_set_callback(mon.bus_source, on_bus_lost, &mon, NULL);
	g_source_attach(mon.bus_source, NULL);
	sigint = g_unix_signal_add(SIGINT, on_quit_signal, &mon);
	sigterm = g_unix_signal_add(SIGTERM, on_quit_signal, &mon);
	fprintf(stderr, "Monitoring hubd; press Ctrl-C to stop.\n");

	g_main_loop_run(loop);

	g_source_remove(sigint);
	g_source_remove(sigterm);
	if (!g_source_is_destroyed(mon.bus_source))
		g_source_destroy(mon.bus_source);
	g_source_unref(mon.bus_source);
	return mon.exit_status;
}
