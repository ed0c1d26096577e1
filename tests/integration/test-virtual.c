/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-virtual.c - the virtual protocol plugin as plugins/virtual/README.md
 * promises it, seen through the real hubd on a private bus: device types,
 * latency, the door lock, sensors, offline cycles, discovery, onboarding,
 * removal, generate= and mistakes in the configuration.
 */
#include "config.h"

#include <string.h>

#include <json-glib/json-glib.h>

#include "hub-test-env.h"

#define PLUGIN_KEYS "devices=devices.conf\nlatency-ms=20\n"

/* ---- environment ---- */

/* hubd.conf with [plugin.virtual] = @plugin_keys, devices.conf = @devices. */
static void write_config(HubTestEnv *env, const char *plugin_keys, const char *devices)
{
	g_autofree char *conf = g_strdup_printf("[hubd]\nplugin-dir=%s\ncapability-dir=%s\nplugins=virtual\n"
						"command-timeout-ms=5000\n\n[plugin.virtual]\n%s\n",
						env->plugin_dir, env->capability_dir, plugin_keys);

	hub_test_env_write_config(env, NULL, devices);
	g_assert_true(g_file_set_contents(env->config_path, conf, -1, NULL));
}

static HubTestEnv *start_with(const char *plugin_keys, const char *devices)
{
	HubTestEnv *env = hub_test_env_new();

	write_config(env, plugin_keys, devices);
	hub_test_env_start_hubd(env);
	return env;
}

static HubTestEnv *start(const char *devices)
{
	return start_with(PLUGIN_KEYS, devices);
}

static void restart(HubTestEnv *env)
{
	hub_test_env_stop_hubd(env);
	hub_test_env_start_hubd(env);
}

/* ---- calls ---- */

static GVariant *device_call(HubTestEnv *env, const char *device_id, const char *method, GVariant *params,
			     const char *reply_type, GError **error)
{
	g_autofree char *path = hub_test_device_path(device_id);

	return hub_test_call(env, path, "org.hubd.Hub1.Device", method, params, reply_type, error);
}

static GVariant *manager_call(HubTestEnv *env, const char *method, GVariant *params, const char *reply_type,
			      GError **error)
{
	return hub_test_call(env, "/org/hubd/Hub1", "org.hubd.Hub1.Manager", method, params, reply_type, error);
}

static GVariant *get_value(HubTestEnv *env, const char *device_id, const char *ep, const char *cap, const char *prop)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = device_call(env, device_id, "GetProperty", g_variant_new("(sss)", ep, cap, prop),
						"(vx)", &error);
	GVariant *value = NULL;

	if (!reply)
		g_error("GetProperty %s %s/%s/%s: %s", device_id, ep, cap, prop, error->message);
	g_variant_get(reply, "(vx)", &value, NULL);
	return value;
}

static gint64 get_int(HubTestEnv *env, const char *device_id, const char *ep, const char *cap, const char *prop)
{
	g_autoptr(GVariant) value = get_value(env, device_id, ep, cap, prop);

	return g_variant_get_int64(value);
}

static gboolean get_bool(HubTestEnv *env, const char *device_id, const char *ep, const char *cap, const char *prop)
{
	g_autoptr(GVariant) value = get_value(env, device_id, ep, cap, prop);

	return g_variant_get_boolean(value);
}

static char *get_string(HubTestEnv *env, const char *device_id, const char *ep, const char *cap, const char *prop)
{
	g_autoptr(GVariant) value = get_value(env, device_id, ep, cap, prop);

	return g_variant_dup_string(value, NULL);
}

static char *device_string_property(HubTestEnv *env, const char *device_id, const char *property)
{
	g_autoptr(GVariant) value = hub_test_get_device_property(env, device_id, property);

	return g_variant_dup_string(value, NULL);
}

static guint device_count(HubTestEnv *env)
{
	g_autoptr(GVariant) count = hub_test_get_manager_property(env, "DeviceCount");

	return g_variant_get_uint32(count);
}

static gboolean device_online(HubTestEnv *env, const char *device_id)
{
	g_autoptr(GVariant) online = hub_test_get_device_property(env, device_id, "Online");

	return g_variant_get_boolean(online);
}

static gboolean device_exists(HubTestEnv *env, const char *device_id)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = device_call(env, device_id, "GetStateReport", NULL, "(s)", &error);

	return reply != NULL;
}

/* InvokeAndWait; returns the response code, the result document in @result. */
static gint invoke(HubTestEnv *env, const char *device_id, const char *ep, const char *cap, const char *action,
		   const char *params, char **result)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = device_call(env, device_id, "InvokeAndWait",
						g_variant_new("(ssssu)", ep, cap, action, params, 0), "(sis)", &error);
	const char *json;
	gint code;

	if (!reply)
		g_error("%s %s %s: %s", device_id, action, params, error->message);
	g_variant_get(reply, "(&si&s)", NULL, &code, &json);
	if (result)
		*result = g_strdup(json);
	return code;
}

/* Invoke (two-phase); returns the trace id (g_free). */
static char *invoke_async(HubTestEnv *env, const char *device_id, const char *ep, const char *cap,
			  const char *action, const char *params)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = device_call(env, device_id, "Invoke", g_variant_new("(ssss)", ep, cap, action, params),
						"(s)", &error);
	char *trace = NULL;

	g_assert_no_error(error);
	g_variant_get(reply, "(s)", &trace);
	return trace;
}

static gint set_value(HubTestEnv *env, const char *device_id, const char *ep, const char *cap, const char *prop,
		      GVariant *value)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = device_call(env, device_id, "SetProperty",
						g_variant_new("(sssv)", ep, cap, prop, value), "(is)", &error);
	gint code = 0;

	g_assert_no_error(error);
	g_variant_get(reply, "(i&s)", &code, NULL);
	return code;
}

static JsonNode *parse_json(const char *text)
{
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error = NULL;

	if (!json_parser_load_from_data(parser, text, -1, &error))
		g_error("not JSON (%s): %s", error->message, text);
	return json_node_copy(json_parser_get_root(parser));
}

/* The error code of the first action of a command result, or NULL (g_free). */
static char *result_error_code(const char *result)
{
	g_autoptr(JsonNode) root = parse_json(result);
	JsonObject *o = json_node_get_object(root);
	JsonArray *a;

	a = json_object_get_array_member(o, "endpoints");
	o = json_array_get_object_element(a, 0);
	a = json_object_get_array_member(o, "capabilities");
	o = json_array_get_object_element(a, 0);
	a = json_object_get_array_member(o, "actions");
	o = json_array_get_object_element(a, 0);
	if (!json_object_has_member(o, "errors"))
		return NULL;
	a = json_object_get_array_member(o, "errors");
	if (json_array_get_length(a) == 0)
		return NULL;
	return g_strdup(json_object_get_string_member(json_array_get_object_element(a, 0), "code"));
}

static void assert_refused(gint code, const char *result, gint want_code, const char *want_error)
{
	g_autofree char *error_code = result_error_code(result);

	if (code != want_code || g_strcmp0(error_code, want_error) != 0)
		g_error("expected %d %s, got %d %s: %s", want_code, want_error, code, error_code, result);
}

static void assert_log_has(const char *log, const char *text)
{
	if (!strstr(log, text))
		g_error("expected \"%s\" in the log:\n%s", text, log);
}

static gint64 ms_since(gint64 start_us)
{
	return (g_get_monotonic_time() - start_us) / 1000;
}

/* Iterates the main loop for @ms (signals keep arriving meanwhile). */
static gboolean never(gpointer data)
{
	return FALSE;
}

static void spin(guint ms)
{
	hub_test_wait_until(never, NULL, ms);
}

/* ---- signals ---- */

typedef struct {
	char *trace;
	gint code;
	char *result;
	gint64 at_us; /* monotonic time of arrival */
} Completion;

typedef struct {
	char *path;          /* the device followed, or NULL */
	char *key;           /* State key whose values are recorded, or NULL */
	GPtrArray *values;   /* printed values of @key, one per change */
	GArray *value_times; /* monotonic µs of each value */
	GPtrArray *events;   /* "<event> <parameters_json>" of the device */
	guint went_offline, came_online;
	guint health_changes;
	GPtrArray *completions; /* Completion* */
	GPtrArray *discovered;
	guint discovery_finished;
	guint added, removed;
	guint subscription;
	HubTestEnv *env;
} Watch;

static void completion_free(Completion *c)
{
	g_free(c->trace);
	g_free(c->result);
	g_free(c);
}

static void record_value(Watch *w, GVariant *value)
{
	g_autofree char *text = g_variant_print(value, FALSE);
	const char *last = w->values->len ? g_ptr_array_index(w->values, w->values->len - 1) : NULL;
	gint64 now = g_get_monotonic_time();

	if (g_strcmp0(last, text) == 0)
		return;
	g_ptr_array_add(w->values, g_steal_pointer(&text));
	g_array_append_val(w->value_times, now);
}

static void on_signal(GDBusConnection *conn, const char *sender, const char *path, const char *iface,
		      const char *signal, GVariant *params, gpointer user_data)
{
	Watch *w = user_data;
	gboolean ours = w->path && g_strcmp0(path, w->path) == 0;

	if (ours && g_strcmp0(signal, "PropertiesChanged") == 0) {
		g_autoptr(GVariant) changed = g_variant_get_child_value(params, 1);
		g_autoptr(GVariant) online = g_variant_lookup_value(changed, "Online", G_VARIANT_TYPE_BOOLEAN);
		g_autoptr(GVariant) state = g_variant_lookup_value(changed, "State", G_VARIANT_TYPE("a{s(vx)}"));
		g_autoptr(GVariant) health = g_variant_lookup_value(changed, "Health", NULL);

		if (online && g_variant_get_boolean(online))
			w->came_online++;
		else if (online)
			w->went_offline++;
		if (health)
			w->health_changes++;
		if (state && w->key) {
			g_autoptr(GVariant) entry = g_variant_lookup_value(state, w->key, G_VARIANT_TYPE("(vx)"));

			if (entry) {
				g_autoptr(GVariant) value = NULL;

				g_variant_get(entry, "(vx)", &value, NULL);
				record_value(w, value);
			}
		}
	} else if (ours && g_strcmp0(signal, "Event") == 0) {
		const char *event, *json;

		g_variant_get(params, "(&s&s&s&s)", NULL, NULL, &event, &json);
		g_ptr_array_add(w->events, g_strdup_printf("%s %s", event, json));
	} else if (g_strcmp0(signal, "CommandCompleted") == 0) {
		Completion *c = g_new0(Completion, 1);

		g_variant_get(params, "(s&sis)", &c->trace, NULL, &c->code, &c->result);
		c->at_us = g_get_monotonic_time();
		g_ptr_array_add(w->completions, c);
	} else if (g_strcmp0(signal, "DeviceDiscovered") == 0) {
		const char *id;

		g_variant_get(params, "(&s&s&s&s)", &id, NULL, NULL, NULL);
		g_ptr_array_add(w->discovered, g_strdup(id));
	} else if (g_strcmp0(signal, "DiscoveryFinished") == 0) {
		w->discovery_finished++;
	} else if (g_strcmp0(signal, "InterfacesAdded") == 0) {
		w->added++;
	} else if (g_strcmp0(signal, "InterfacesRemoved") == 0) {
		w->removed++;
	}
}

/* Follows @device_id (may be NULL) and, when @key ("<ep>/<cap>/<prop>") is
 * given, records each new value of that property starting with the current. */
static void watch_start(Watch *w, HubTestEnv *env, const char *device_id, const char *key)
{
	memset(w, 0, sizeof(*w));
	w->env = env;
	w->path = device_id ? hub_test_device_path(device_id) : NULL;
	w->key = g_strdup(key);
	w->values = g_ptr_array_new_with_free_func(g_free);
	w->value_times = g_array_new(FALSE, FALSE, sizeof(gint64));
	w->events = g_ptr_array_new_with_free_func(g_free);
	w->completions = g_ptr_array_new_with_free_func((GDestroyNotify)completion_free);
	w->discovered = g_ptr_array_new_with_free_func(g_free);
	w->subscription = g_dbus_connection_signal_subscribe(env->conn, "org.hubd.Hub1", NULL, NULL, NULL, NULL,
							     G_DBUS_SIGNAL_FLAGS_NONE, on_signal, w, NULL);
	if (key) {
		g_auto(GStrv) parts = g_strsplit(key, "/", 3);
		g_autoptr(GVariant) value = get_value(env, device_id, parts[0], parts[1], parts[2]);

		record_value(w, value);
	}
}

static void watch_stop(Watch *w)
{
	g_dbus_connection_signal_unsubscribe(w->env->conn, w->subscription);
	g_free(w->path);
	g_free(w->key);
	g_ptr_array_unref(w->values);
	g_array_unref(w->value_times);
	g_ptr_array_unref(w->events);
	g_ptr_array_unref(w->completions);
	g_ptr_array_unref(w->discovered);
}

typedef struct {
	Watch *w;
	const char *trace;
	guint count;
	const char *text;
} Until;

static Completion *find_completion(Watch *w, const char *trace)
{
	for (guint i = 0; i < w->completions->len; i++) {
		Completion *c = g_ptr_array_index(w->completions, i);

		if (g_strcmp0(c->trace, trace) == 0)
			return c;
	}
	return NULL;
}

static gboolean completed(gpointer data)
{
	Until *u = data;

	return find_completion(u->w, u->trace) != NULL;
}

static Completion *wait_completion(Watch *w, const char *trace)
{
	Until u = { w, trace, 0, NULL };

	if (!hub_test_wait_until(completed, &u, 5000))
		g_error("command %s never completed", trace);
	return find_completion(w, trace);
}

static gboolean enough_events(gpointer data)
{
	Until *u = data;

	return u->w->events->len >= u->count;
}

static void wait_events(Watch *w, guint count)
{
	Until u = { w, NULL, count, NULL };

	if (!hub_test_wait_until(enough_events, &u, 5000))
		g_error("expected %u events, saw %u", count, w->events->len);
}

static gboolean enough_values(gpointer data)
{
	Until *u = data;

	return u->w->values->len >= u->count;
}

static void wait_values(Watch *w, guint count)
{
	Until u = { w, NULL, count, NULL };

	if (!hub_test_wait_until(enough_values, &u, 5000))
		g_error("expected %u values of %s, saw %u", count, w->key, w->values->len);
}

static gboolean value_reached(gpointer data)
{
	Until *u = data;

	return u->w->values->len && g_strcmp0(g_ptr_array_index(u->w->values, u->w->values->len - 1), u->text) == 0;
}

static void wait_value(Watch *w, const char *printed)
{
	Until u = { w, NULL, 0, printed };

	if (!hub_test_wait_until(value_reached, &u, 5000))
		g_error("%s never became %s", w->key, printed);
}

static gint64 value_int(Watch *w, guint i)
{
	return g_ascii_strtoll(g_ptr_array_index(w->values, i), NULL, 10);
}

static gboolean offline_seen(gpointer data)
{
	return ((Watch *)data)->went_offline > 0;
}

static gboolean offline_twice(gpointer data)
{
	return ((Watch *)data)->went_offline >= 2;
}

static gboolean online_seen(gpointer data)
{
	return ((Watch *)data)->came_online > 0;
}

static gboolean discovery_finished(gpointer data)
{
	return ((Watch *)data)->discovery_finished > 0;
}

static gboolean something_discovered(gpointer data)
{
	return ((Watch *)data)->discovered->len > 0;
}

static void assert_discovered(Watch *w, const char *const *ids)
{
	g_assert_cmpuint(w->discovered->len, ==, g_strv_length((char **)ids));
	for (guint i = 0; ids[i]; i++)
		if (!g_ptr_array_find_with_equal_func(w->discovered, ids[i], g_str_equal, NULL))
			g_error("%s was not discovered", ids[i]);
}

/* ---- what the README promises for each type ---- */

typedef struct {
	const char *id;
	const char *device_type;
	const char *caps[4];
} EndpointSpec;

typedef struct {
	const char *type;
	gboolean battery;
	EndpointSpec endpoints[3];
} TypeSpec;

static const TypeSpec type_specs[] = {
	{ "color-light", FALSE, { { "1", "Extended Color Light", { "OnOff", "LevelControl", "ColorControl" } } } },
	{ "dimmable-light", FALSE, { { "1", "Dimmable Light", { "OnOff", "LevelControl" } } } },
	{ "plug", FALSE, { { "1", "On/Off Plug-in Unit", { "OnOff" } } } },
	{ "thermostat", FALSE, { { "1", "Thermostat", { "Thermostat" } } } },
	{ "door-contact", TRUE, { { "1", "Contact Sensor", { "BooleanState", "PowerSource" } } } },
	{ "temp-humidity-sensor",
	  TRUE,
	  { { "1", "Temperature Sensor", { "TemperatureMeasurement", "PowerSource" } },
	    { "2", "Humidity Sensor", { "RelativeHumidityMeasurement" } } } },
	{ "occupancy-sensor", TRUE, { { "1", "Occupancy Sensor", { "OccupancySensing", "PowerSource" } } } },
	{ "door-lock", TRUE, { { "1", "Door Lock", { "DoorLock", "PowerSource" } } } },
	{ "fan", FALSE, { { "1", "Fan", { "FanControl", "OnOff" } } } },
	{ "window-covering", FALSE, { { "1", "Window Covering", { "WindowCovering" } } } },
};

static const struct {
	const char *cap;
	const char *props[7];
} cap_props[] = {
	{ "OnOff", { "OnOff", "OnTime", "OffWaitTime" } },
	{ "LevelControl", { "CurrentLevel", "MinLevel", "MaxLevel", "OnLevel" } },
	{ "ColorControl",
	  { "CurrentHue", "CurrentSaturation", "CurrentX", "CurrentY", "ColorTemperatureMireds", "ColorMode" } },
	{ "Thermostat",
	  { "LocalTemperature", "OccupiedCoolingSetpoint", "OccupiedHeatingSetpoint", "SystemMode",
	    "ThermostatRunningState" } },
	{ "FanControl", { "FanMode", "PercentSetting", "PercentCurrent" } },
	{ "WindowCovering",
	  { "CurrentPositionLiftPercent100ths", "TargetPositionLiftPercent100ths", "OperationalStatus" } },
	{ "DoorLock", { "LockState", "ActuatorEnabled", "OperatingMode" } },
	{ "BooleanState", { "StateValue" } },
	{ "OccupancySensing", { "Occupancy", "OccupancySensorTypeBitmap", "HoldTime" } },
	{ "TemperatureMeasurement", { "MeasuredValue", "MinMeasuredValue", "MaxMeasuredValue", "Tolerance" } },
	{ "RelativeHumidityMeasurement", { "MeasuredValue", "MinMeasuredValue", "MaxMeasuredValue", "Tolerance" } },
	{ "PowerSource",
	  { "Status", "Order", "Description", "BatPercentRemaining", "BatChargeLevel", "BatVoltage" } },
};

static char *cap_id(const char *name)
{
	return g_strdup_printf("matter.%s@1.4", name);
}

/* One device of every type, named after its type. */
static char *every_type_devices(void)
{
	GString *conf = g_string_new(NULL);

	for (guint i = 0; i < G_N_ELEMENTS(type_specs); i++)
		g_string_append_printf(conf, "[device %s]\ntype=%s\n", type_specs[i].type, type_specs[i].type);
	return g_string_free(conf, FALSE);
}

/* ---- device types ---- */

static void test_types_capability_report(void)
{
	g_autofree char *devices = every_type_devices();
	g_autoptr(HubTestEnv) env = start(devices);

	g_assert_cmpuint(device_count(env), ==, G_N_ELEMENTS(type_specs));
	for (guint t = 0; t < G_N_ELEMENTS(type_specs); t++) {
		const TypeSpec *spec = &type_specs[t];
		g_autoptr(GError) error = NULL;
		g_autoptr(GVariant) reply = device_call(env, spec->type, "GetCapabilityReport", NULL, "(s)", &error);
		g_autoptr(GVariant) caps = hub_test_get_device_property(env, spec->type, "Capabilities");
		g_autoptr(JsonNode) root = NULL;
		JsonArray *endpoints;
		guint n_endpoints = 0, n_pairs = 0;
		const char *json;

		g_test_message("type %s", spec->type);
		g_assert_no_error(error);
		g_variant_get(reply, "(&s)", &json);
		root = parse_json(json);
		endpoints = json_object_get_array_member(json_node_get_object(root), "endpoints");
		for (; n_endpoints < G_N_ELEMENTS(spec->endpoints) && spec->endpoints[n_endpoints].id; n_endpoints++) {
			const EndpointSpec *es = &spec->endpoints[n_endpoints];
			JsonObject *ep = json_array_get_object_element(endpoints, n_endpoints);
			JsonArray *types = json_object_get_array_member(ep, "deviceTypes");
			JsonArray *ep_caps = json_object_get_array_member(ep, "capabilities");
			guint n_caps = 0;

			g_assert_cmpstr(json_object_get_string_member(ep, "id"), ==, es->id);
			g_assert_cmpuint(json_array_get_length(types), ==, 1);
			g_assert_cmpstr(json_array_get_string_element(types, 0), ==, es->device_type);
			for (; n_caps < G_N_ELEMENTS(es->caps) && es->caps[n_caps]; n_caps++) {
				g_autofree char *id = cap_id(es->caps[n_caps]);
				const char *got = json_object_get_string_member(
					json_array_get_object_element(ep_caps, n_caps), "id");
				const char *ep_id, *pair_cap;

				g_assert_cmpstr(got, ==, id);
				g_variant_get_child(caps, n_pairs++, "(&s&s)", &ep_id, &pair_cap);
				g_assert_cmpstr(ep_id, ==, es->id);
				g_assert_cmpstr(pair_cap, ==, id);
			}
			g_assert_cmpuint(json_array_get_length(ep_caps), ==, n_caps);
		}
		g_assert_cmpuint(json_array_get_length(endpoints), ==, n_endpoints);
		g_assert_cmpuint(g_variant_n_children(caps), ==, n_pairs);
	}
	hub_test_env_stop_hubd(env);
}

static void test_types_every_property_reported(void)
{
	g_autofree char *devices = every_type_devices();
	g_autoptr(HubTestEnv) env = start(devices);

	for (guint t = 0; t < G_N_ELEMENTS(type_specs); t++) {
		const TypeSpec *spec = &type_specs[t];
		g_autoptr(GVariant) state = hub_test_get_device_property(env, spec->type, "State");
		guint expected = 0;

		g_test_message("type %s", spec->type);
		for (guint e = 0; e < G_N_ELEMENTS(spec->endpoints) && spec->endpoints[e].id; e++) {
			for (guint c = 0; c < G_N_ELEMENTS(spec->endpoints[e].caps) && spec->endpoints[e].caps[c]; c++) {
				const char *name = spec->endpoints[e].caps[c];
				guint k = 0;

				while (g_strcmp0(cap_props[k].cap, name) != 0)
					k++;
				for (guint p = 0; p < G_N_ELEMENTS(cap_props[k].props) && cap_props[k].props[p]; p++) {
					g_autofree char *id = cap_id(name);
					g_autofree char *key = g_strdup_printf("%s/%s/%s", spec->endpoints[e].id, id,
									       cap_props[k].props[p]);
					g_autoptr(GVariant) entry = g_variant_lookup_value(state, key, NULL);

					if (!entry)
						g_error("%s did not report %s", spec->type, key);
					expected++;
				}
			}
		}
		g_assert_cmpuint(g_variant_n_children(state), ==, expected);
	}
	hub_test_env_stop_hubd(env);
}

static void test_types_constant_properties(void)
{
	g_autoptr(HubTestEnv) env = start("[device light]\ntype=color-light\n"
					  "[device climate]\ntype=temp-humidity-sensor\n"
					  "[device motion]\ntype=occupancy-sensor\n");
	g_autofree char *description = get_string(env, "climate", "1", "matter.PowerSource@1.4", "Description");

	g_assert_cmpint(get_int(env, "light", "1", "matter.LevelControl@1.4", "MinLevel"), ==, 1);
	g_assert_cmpint(get_int(env, "light", "1", "matter.LevelControl@1.4", "MaxLevel"), ==, 254);
	g_assert_cmpint(get_int(env, "light", "1", "matter.LevelControl@1.4", "OnLevel"), ==, 254);
	g_assert_cmpint(get_int(env, "climate", "1", "matter.TemperatureMeasurement@1.4", "MinMeasuredValue"), ==, -4000);
	g_assert_cmpint(get_int(env, "climate", "1", "matter.TemperatureMeasurement@1.4", "MaxMeasuredValue"), ==, 8500);
	g_assert_cmpint(get_int(env, "climate", "1", "matter.TemperatureMeasurement@1.4", "Tolerance"), ==, 50);
	g_assert_cmpint(get_int(env, "climate", "2", "matter.RelativeHumidityMeasurement@1.4", "MinMeasuredValue"), ==, 0);
	g_assert_cmpint(get_int(env, "climate", "2", "matter.RelativeHumidityMeasurement@1.4", "MaxMeasuredValue"), ==,
			10000);
	g_assert_cmpint(get_int(env, "climate", "2", "matter.RelativeHumidityMeasurement@1.4", "Tolerance"), ==, 200);
	g_assert_cmpint(get_int(env, "motion", "1", "matter.OccupancySensing@1.4", "OccupancySensorTypeBitmap"), ==, 1);
	g_assert_cmpstr(description, ==, "Battery");
	hub_test_env_stop_hubd(env);
}

static void test_device_info(void)
{
	g_autoptr(HubTestEnv) env = start("[device plain-1]\ntype=fan\n"
					  "[device named-1]\ntype=plug\nname=Desk lamp\nmanufacturer=Acme\n"
					  "model=P-100\nserial=SN-0042\n");
	struct {
		const char *device, *property, *value;
	} want[] = {
		{ "plain-1", "Name", "plain-1" },	{ "plain-1", "Manufacturer", "hubd" },
		{ "plain-1", "Model", "fan" },		{ "plain-1", "Protocol", "virtual" },
		{ "plain-1", "ProvisioningStatus", "ACTIVATED" },
		{ "named-1", "Name", "Desk lamp" },	{ "named-1", "Manufacturer", "Acme" },
		{ "named-1", "Model", "P-100" },	{ "named-1", "SerialNumber", "SN-0042" },
	};
	g_autofree char *serial = device_string_property(env, "plain-1", "SerialNumber");
	g_autoptr(GVariant) online = hub_test_get_device_property(env, "plain-1", "Online");

	for (guint i = 0; i < G_N_ELEMENTS(want); i++) {
		g_autofree char *got = device_string_property(env, want[i].device, want[i].property);

		g_assert_cmpstr(got, ==, want[i].value);
	}
	g_assert_true(g_str_has_prefix(serial, "VIRT-"));
	g_assert_cmpuint(strlen(serial), >, strlen("VIRT-"));
	g_assert_true(g_variant_get_boolean(online));
	hub_test_env_stop_hubd(env);
}

/* ---- health ---- */

static void test_health_rssi_and_battery(void)
{
	g_autofree char *devices = every_type_devices();
	g_autoptr(HubTestEnv) env = start(devices);

	for (guint t = 0; t < G_N_ELEMENTS(type_specs); t++) {
		g_autoptr(GVariant) health = hub_test_get_device_property(env, type_specs[t].type, "Health");
		g_autoptr(GVariant) rssi = g_variant_lookup_value(health, "rssi", G_VARIANT_TYPE_INT64);
		g_autoptr(GVariant) battery = g_variant_lookup_value(health, "battery", G_VARIANT_TYPE_INT64);

		g_test_message("type %s", type_specs[t].type);
		g_assert_nonnull(rssi);
		g_assert_cmpint(g_variant_get_int64(rssi), <=, -45);
		g_assert_cmpint(g_variant_get_int64(rssi), >=, -84);
		if (type_specs[t].battery) {
			g_assert_nonnull(battery);
			g_assert_cmpint(g_variant_get_int64(battery), ==, 100);
		} else {
			g_assert_null(battery);
		}
	}
	hub_test_env_stop_hubd(env);
}

static void test_health_configured_battery(void)
{
	g_autoptr(HubTestEnv) env = start("[device contact-1]\ntype=door-contact\nbattery=15\n");
	g_autoptr(GVariant) health = hub_test_get_device_property(env, "contact-1", "Health");
	g_autoptr(GVariant) battery = g_variant_lookup_value(health, "battery", G_VARIANT_TYPE_INT64);
	g_autofree char *level = get_string(env, "contact-1", "1", "matter.PowerSource@1.4", "BatChargeLevel");
	gint64 mv = get_int(env, "contact-1", "1", "matter.PowerSource@1.4", "BatVoltage");

	g_assert_nonnull(battery);
	g_assert_cmpint(g_variant_get_int64(battery), ==, 15);
	/* BatPercentRemaining counts half percents. */
	g_assert_cmpint(get_int(env, "contact-1", "1", "matter.PowerSource@1.4", "BatPercentRemaining"), ==, 30);
	g_assert_cmpstr(level, ==, "Warning");
	g_assert_cmpint(mv, >=, 2400);
	g_assert_cmpint(mv, <, 3000);
	hub_test_env_stop_hubd(env);
}

/* ---- latency ---- */

/* Sends On to a plug whose latency is 400 ms: nothing changes before, the
 * command completes and the plug is on after. */
static void assert_latency_400(HubTestEnv *env, const char *device_id)
{
	Watch w;
	g_autofree char *trace = NULL;
	Completion *c;
	gint64 start_us, read_ms;
	gboolean on_early;

	watch_start(&w, env, device_id, NULL);
	g_assert_false(get_bool(env, device_id, "1", "matter.OnOff@1.4", "OnOff"));
	start_us = g_get_monotonic_time();
	trace = invoke_async(env, device_id, "1", "matter.OnOff@1.4", "On", "{}");
	on_early = get_bool(env, device_id, "1", "matter.OnOff@1.4", "OnOff");
	read_ms = ms_since(start_us);
	/* The read was answered before the latency could have passed. */
	g_assert_cmpint(read_ms, <, 400);
	g_assert_false(on_early);
	g_assert_null(find_completion(&w, trace));

	c = wait_completion(&w, trace);
	g_assert_cmpint(c->code, ==, 200);
	g_assert_cmpint((c->at_us - start_us) / 1000, >=, 300);
	g_assert_true(get_bool(env, device_id, "1", "matter.OnOff@1.4", "OnOff"));
	watch_stop(&w);
}

static void test_command_device_latency(void)
{
	g_autoptr(HubTestEnv) env = start("[device slow-1]\ntype=plug\nlatency-ms=400\n");

	assert_latency_400(env, "slow-1");
	hub_test_env_stop_hubd(env);
}

static void test_command_plugin_latency(void)
{
	g_autoptr(HubTestEnv) env = start_with("devices=devices.conf\nlatency-ms=400\n", "[device slow-2]\ntype=plug\n");

	assert_latency_400(env, "slow-2");
	hub_test_env_stop_hubd(env);
}

/* ---- door lock ---- */

#define LOCK_CONF "[device lock-1]\ntype=door-lock\npin=1234\n"
#define DOOR_LOCK "matter.DoorLock@1.4"

static void test_lock_wrong_pin(void)
{
	g_autoptr(HubTestEnv) env = start(LOCK_CONF);
	g_autofree char *r1 = NULL, *r2 = NULL, *state = NULL;
	Watch w;
	gint code;

	watch_start(&w, env, "lock-1", NULL);
	code = invoke(env, "lock-1", "1", DOOR_LOCK, "UnlockDoor", "{\"PINCode\": \"9999\"}", &r1);
	assert_refused(code, r1, 401, "INVALID_PIN");
	code = invoke(env, "lock-1", "1", DOOR_LOCK, "UnlockDoor", "{}", &r2);
	assert_refused(code, r2, 401, "INVALID_PIN");
	state = get_string(env, "lock-1", "1", DOOR_LOCK, "LockState");
	g_assert_cmpstr(state, ==, "Locked");
	spin(200);
	g_assert_cmpuint(w.events->len, ==, 0);
	watch_stop(&w);
	hub_test_env_stop_hubd(env);
}

static void assert_lock_operation(const char *event, const char *type)
{
	g_autoptr(JsonNode) params = NULL;
	JsonObject *o;

	g_assert_true(g_str_has_prefix(event, "LockOperation "));
	params = parse_json(event + strlen("LockOperation "));
	o = json_node_get_object(params);
	g_assert_cmpstr(json_object_get_string_member(o, "LockOperationType"), ==, type);
	g_assert_cmpstr(json_object_get_string_member(o, "OperationSource"), ==, "Remote");
}

static void test_lock_right_pin(void)
{
	g_autoptr(HubTestEnv) env = start(LOCK_CONF);
	g_autofree char *unlocked = NULL, *locked = NULL;
	Watch w;

	watch_start(&w, env, "lock-1", NULL);
	g_assert_cmpint(invoke(env, "lock-1", "1", DOOR_LOCK, "UnlockDoor", "{\"PINCode\": \"1234\"}", NULL), ==, 200);
	unlocked = get_string(env, "lock-1", "1", DOOR_LOCK, "LockState");
	g_assert_cmpstr(unlocked, ==, "Unlocked");
	wait_events(&w, 1);
	assert_lock_operation(g_ptr_array_index(w.events, 0), "Unlock");

	g_assert_cmpint(invoke(env, "lock-1", "1", DOOR_LOCK, "LockDoor", "{\"PINCode\": \"1234\"}", NULL), ==, 200);
	locked = get_string(env, "lock-1", "1", DOOR_LOCK, "LockState");
	g_assert_cmpstr(locked, ==, "Locked");
	wait_events(&w, 2);
	assert_lock_operation(g_ptr_array_index(w.events, 1), "Lock");
	watch_stop(&w);
	hub_test_env_stop_hubd(env);
}

static void test_lock_without_pin(void)
{
	g_autoptr(HubTestEnv) env = start("[device lock-2]\ntype=door-lock\n");
	g_autofree char *state = NULL;

	g_assert_cmpint(invoke(env, "lock-2", "1", DOOR_LOCK, "UnlockDoor", "{}", NULL), ==, 200);
	state = get_string(env, "lock-2", "1", DOOR_LOCK, "LockState");
	g_assert_cmpstr(state, ==, "Unlocked");
	hub_test_env_stop_hubd(env);
}

static void test_lock_no_remote_lock_unlock(void)
{
	g_autoptr(HubTestEnv) env = start(LOCK_CONF);
	g_autofree char *result = NULL, *state = NULL;
	gboolean enabled = get_bool(env, "lock-1", "1", DOOR_LOCK, "ActuatorEnabled");
	gint code;

	g_assert_true(enabled);
	g_assert_cmpint(set_value(env, "lock-1", "1", DOOR_LOCK, "OperatingMode",
				  g_variant_new_string("NoRemoteLockUnlock")),
			==, 200);
	code = invoke(env, "lock-1", "1", DOOR_LOCK, "UnlockDoor", "{\"PINCode\": \"1234\"}", &result);
	assert_refused(code, result, 403, "REMOTE_OPERATION_DISABLED");
	state = get_string(env, "lock-1", "1", DOOR_LOCK, "LockState");
	g_assert_cmpstr(state, ==, "Locked");
	hub_test_env_stop_hubd(env);
}

/* ---- sensors ---- */

static void test_sensor_periodic_reports(void)
{
	g_autoptr(HubTestEnv) env = start("[device climate-1]\ntype=temp-humidity-sensor\nreport-interval-ms=100\n");
	Watch temp, humidity;

	watch_start(&temp, env, "climate-1", "1/matter.TemperatureMeasurement@1.4/MeasuredValue");
	watch_start(&humidity, env, "climate-1", "2/matter.RelativeHumidityMeasurement@1.4/MeasuredValue");
	/* Every report is a random step, never zero: ten intervals is a second. */
	wait_values(&temp, 5);
	wait_values(&humidity, 5);
	for (guint i = 0; i < temp.values->len; i++) {
		g_assert_cmpint(value_int(&temp, i), >=, 1650); /* about 21.5 °C */
		g_assert_cmpint(value_int(&temp, i), <=, 2650);
	}
	for (guint i = 0; i < humidity.values->len; i++) {
		g_assert_cmpint(value_int(&humidity, i), >=, 2000); /* about 45 % */
		g_assert_cmpint(value_int(&humidity, i), <=, 7000);
	}
	watch_stop(&temp);
	watch_stop(&humidity);
	hub_test_env_stop_hubd(env);
}

static gboolean health_changed(gpointer data)
{
	return ((Watch *)data)->health_changes > 0;
}

static void test_sensor_rssi_jitters(void)
{
	g_autoptr(HubTestEnv) env = start("[device climate-2]\ntype=temp-humidity-sensor\nreport-interval-ms=50\n");
	g_autoptr(GVariant) health = NULL;
	g_autoptr(GVariant) rssi = NULL;
	Watch w;

	watch_start(&w, env, "climate-2", NULL);
	g_assert_true(hub_test_wait_until(health_changed, &w, 5000));
	health = hub_test_get_device_property(env, "climate-2", "Health");
	rssi = g_variant_lookup_value(health, "rssi", G_VARIANT_TYPE_INT64);
	g_assert_nonnull(rssi);
	g_assert_cmpint(g_variant_get_int64(rssi), <=, -45);
	g_assert_cmpint(g_variant_get_int64(rssi), >=, -84);
	watch_stop(&w);
	hub_test_env_stop_hubd(env);
}

static void test_sensor_door_contact_events(void)
{
	g_autoptr(HubTestEnv) env = start("[device door-1]\ntype=door-contact\nreport-interval-ms=50\n");
	Watch w;
	gboolean last = TRUE; /* closed at start */

	watch_start(&w, env, "door-1", "1/matter.BooleanState@1.4/StateValue");
	/* Every 4th interval: a change about every 200 ms. */
	wait_events(&w, 2);
	for (guint i = 0; i < 2; i++) {
		const char *event = g_ptr_array_index(w.events, i);
		g_autoptr(JsonNode) params = NULL;

		g_assert_true(g_str_has_prefix(event, "StateChange "));
		params = parse_json(event + strlen("StateChange "));
		g_assert_cmpint(json_object_get_boolean_member(json_node_get_object(params), "StateValue"), ==, !last);
		last = !last;
	}
	/* The property follows: true, false, true. */
	wait_values(&w, 3);
	g_assert_cmpstr(g_ptr_array_index(w.values, 0), ==, "true");
	g_assert_cmpstr(g_ptr_array_index(w.values, 1), ==, "false");
	g_assert_cmpstr(g_ptr_array_index(w.values, 2), ==, "true");
	watch_stop(&w);
	hub_test_env_stop_hubd(env);
}

static void test_sensor_occupancy_at_plugin_interval(void)
{
	/* No report-interval-ms: the plugin's sensor-interval-ms applies. */
	g_autoptr(HubTestEnv) env = start_with(PLUGIN_KEYS "sensor-interval-ms=50\n",
					       "[device motion-1]\ntype=occupancy-sensor\n");
	Watch w;

	watch_start(&w, env, "motion-1", "1/matter.OccupancySensing@1.4/Occupancy");
	wait_events(&w, 2);
	for (guint i = 0; i < 2; i++) {
		const char *event = g_ptr_array_index(w.events, i);
		g_autoptr(JsonNode) params = NULL;

		g_assert_true(g_str_has_prefix(event, "OccupancyChanged "));
		params = parse_json(event + strlen("OccupancyChanged "));
		g_assert_cmpint(json_object_get_int_member(json_node_get_object(params), "Occupancy"), ==, i == 0);
	}
	wait_values(&w, 2);
	g_assert_cmpstr(g_ptr_array_index(w.values, 0), ==, "0");
	g_assert_cmpstr(g_ptr_array_index(w.values, 1), ==, "1");
	watch_stop(&w);
	hub_test_env_stop_hubd(env);
}

/* ---- offline ---- */

static void test_offline_commands_refused(void)
{
	g_autoptr(HubTestEnv) env = start("[device flaky-1]\ntype=plug\nlatency-ms=2000\n"
					  "offline-period-ms=600\noffline-duration-ms=500\n");
	g_autofree char *result = NULL;
	gint64 start_us;
	Watch w;
	gint code;

	watch_start(&w, env, "flaky-1", NULL);
	g_assert_true(hub_test_wait_until(offline_seen, &w, 5000));
	g_assert_false(device_online(env, "flaky-1"));
	start_us = g_get_monotonic_time();
	code = invoke(env, "flaky-1", "1", "matter.OnOff@1.4", "On", "{}", &result);
	assert_refused(code, result, 503, "DEVICE_OFFLINE");
	/* Refused on arrival, without waiting for its 2 s latency. */
	g_assert_cmpint(ms_since(start_us), <, 1000);
	g_assert_false(get_bool(env, "flaky-1", "1", "matter.OnOff@1.4", "OnOff"));
	watch_stop(&w);
	hub_test_env_stop_hubd(env);
}

static void test_offline_during_latency(void)
{
	/* Online 400 ms, offline 600 ms; the command's 500 ms latency ends offline. */
	g_autoptr(HubTestEnv) env = start("[device flaky-2]\ntype=plug\nlatency-ms=500\n"
					  "offline-period-ms=1000\noffline-duration-ms=600\n");
	g_autofree char *result = NULL;
	gint64 start_us;
	Watch w;
	gint code;

	watch_start(&w, env, "flaky-2", NULL);
	g_assert_true(hub_test_wait_until(offline_seen, &w, 5000));
	g_assert_true(hub_test_wait_until(online_seen, &w, 5000));
	start_us = g_get_monotonic_time();
	code = invoke(env, "flaky-2", "1", "matter.OnOff@1.4", "On", "{}", &result);
	assert_refused(code, result, 503, "DEVICE_OFFLINE");
	/* Accepted online (it waited its latency), refused because it went offline. */
	g_assert_cmpint(ms_since(start_us), >=, 400);
	g_assert_true(hub_test_wait_until(offline_twice, &w, 5000));
	watch_stop(&w);
	hub_test_env_stop_hubd(env);
}

/* ---- discovery, onboarding, removal ---- */

#define NEW_DEVICES                                                                         \
	"[device plug-1]\ntype=plug\n"                                                      \
	"[device light-1]\ntype=color-light\n"                                              \
	"[device new-a]\ntype=plug\nonboarded=false\nname=New plug\nserial=SN-A-0001\n"     \
	"[device new-b]\ntype=door-lock\nonboarded=false\n"                                 \
	"[device new-c]\ntype=temp-humidity-sensor\nonboarded=false\n"

static void test_discovery_finds_not_onboarded(void)
{
	g_autoptr(HubTestEnv) env = start(NEW_DEVICES);
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) r = NULL, reply = NULL, list = NULL;
	const char *const want[] = { "new-a", "new-b", "new-c", NULL };
	Watch w;

	g_assert_cmpuint(device_count(env), ==, 2);
	g_assert_false(device_exists(env, "new-a"));
	watch_start(&w, env, NULL, NULL);
	r = manager_call(env, "StartDiscovery", g_variant_new("(u)", 1), NULL, &error);
	g_assert_no_error(error);
	g_assert_true(hub_test_wait_until(discovery_finished, &w, 5000));
	assert_discovered(&w, want);

	reply = manager_call(env, "GetDiscoveredDevices", NULL, "(a(ssss))", &error);
	g_assert_no_error(error);
	list = g_variant_get_child_value(reply, 0);
	g_assert_cmpuint(g_variant_n_children(list), ==, 3);
	for (guint i = 0; i < 3; i++) {
		const char *id, *protocol, *name, *types;

		g_variant_get_child(list, i, "(&s&s&s&s)", &id, &protocol, &name, &types);
		g_assert_cmpstr(protocol, ==, "virtual");
		if (g_str_equal(id, "new-a")) {
			g_assert_cmpstr(name, ==, "New plug");
			g_assert_cmpstr(types, ==, "On/Off Plug-in Unit");
		} else if (g_str_equal(id, "new-b")) {
			g_assert_cmpstr(name, ==, "new-b");
			g_assert_cmpstr(types, ==, "Door Lock");
		} else {
			g_assert_cmpstr(types, ==, "Temperature Sensor,Humidity Sensor");
		}
	}
	watch_stop(&w);
	hub_test_env_stop_hubd(env);
}

static void onboard(HubTestEnv *env, const char *discovered_id, const char *auth, const char *want_id)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = manager_call(env, "OnboardDevice", g_variant_new("(sss)", "virtual", discovered_id, auth),
						 "(so)", &error);
	const char *id;

	if (!reply)
		g_error("onboarding \"%s\" \"%s\": %s", discovered_id, auth, error->message);
	g_variant_get(reply, "(&s&o)", &id, NULL);
	g_assert_cmpstr(id, ==, want_id);
	g_assert_true(device_exists(env, want_id));
}

static void test_onboard_auth_material(void)
{
	g_autoptr(HubTestEnv) env = start(NEW_DEVICES);
	g_autoptr(GError) unknown = NULL, again = NULL;
	g_autoptr(GVariant) r1 = NULL, r2 = NULL;
	g_autofree char *remote = NULL, *remote_again = NULL;

	/* Simple Setup, no discovery window: the serial, "virtual:<id>", the id. */
	onboard(env, "", "SN-A-0001", "new-a");
	onboard(env, "", "virtual:new-b", "new-b");
	onboard(env, "", "new-c", "new-c");
	g_assert_cmpuint(device_count(env), ==, 5);
	g_assert_false(get_bool(env, "new-a", "1", "matter.OnOff@1.4", "OnOff"));

	r1 = manager_call(env, "OnboardDevice", g_variant_new("(sss)", "virtual", "", "SN-NOBODY"), "(so)", &unknown);
	g_assert_null(r1);
	remote = g_dbus_error_get_remote_error(unknown);
	g_assert_cmpstr(remote, ==, "org.hubd.Hub1.Error.NotFound");
	/* Already onboarded: refused, nothing added twice. */
	r2 = manager_call(env, "OnboardDevice", g_variant_new("(sss)", "virtual", "", "virtual:new-b"), "(so)", &again);
	g_assert_null(r2);
	remote_again = g_dbus_error_get_remote_error(again);
	g_assert_cmpstr(remote_again, ==, "org.hubd.Hub1.Error.Exists");
	g_assert_cmpuint(device_count(env), ==, 5);
	hub_test_env_stop_hubd(env);
}

static void remove_device(HubTestEnv *env, const char *device_id)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = manager_call(env, "RemoveDevice", g_variant_new("(s)", device_id), NULL, &error);

	g_assert_no_error(error);
}

static void test_onboard_default_serial(void)
{
	/* The derived serial (VIRT-<hash>) is the one on the device's label. */
	g_autoptr(HubTestEnv) env = start("[device plug-7]\ntype=plug\n");
	g_autofree char *serial = device_string_property(env, "plug-7", "SerialNumber");

	remove_device(env, "plug-7");
	g_assert_false(device_exists(env, "plug-7"));
	onboard(env, "", serial, "plug-7");
	hub_test_env_stop_hubd(env);
}

static void test_remove_survives_restart(void)
{
	g_autoptr(HubTestEnv) env = start("[device plug-1]\ntype=plug\n[device plug-2]\ntype=plug\n");
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) r = NULL;
	const char *const want[] = { "plug-2", NULL };
	Watch w;

	remove_device(env, "plug-2");
	g_assert_cmpuint(device_count(env), ==, 1);
	restart(env);
	g_assert_cmpuint(device_count(env), ==, 1);
	g_assert_false(device_exists(env, "plug-2"));

	/* Declared onboarded but removed: it can be found again. */
	watch_start(&w, env, NULL, NULL);
	r = manager_call(env, "StartDiscovery", g_variant_new("(u)", 1), NULL, &error);
	g_assert_no_error(error);
	g_assert_true(hub_test_wait_until(discovery_finished, &w, 5000));
	assert_discovered(&w, want);
	watch_stop(&w);
	hub_test_env_stop_hubd(env);
}

static void test_remove_discoverable_in_open_window(void)
{
	g_autoptr(HubTestEnv) env = start("[device plug-1]\ntype=plug\n[device plug-2]\ntype=plug\n");
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) r1 = NULL, r2 = NULL;
	const char *const want[] = { "plug-2", NULL };
	Watch w;

	watch_start(&w, env, NULL, NULL);
	r1 = manager_call(env, "StartDiscovery", g_variant_new("(u)", 5), NULL, &error);
	g_assert_no_error(error);
	spin(300); /* nothing to announce yet */
	g_assert_cmpuint(w.discovered->len, ==, 0);
	remove_device(env, "plug-2");
	g_assert_true(hub_test_wait_until(something_discovered, &w, 3000));
	assert_discovered(&w, want);
	r2 = manager_call(env, "StopDiscovery", NULL, NULL, &error);
	g_assert_no_error(error);
	watch_stop(&w);
	hub_test_env_stop_hubd(env);
}

static void test_reonboard_factory_state(void)
{
	g_autoptr(HubTestEnv) env = start("[device plug-1]\ntype=plug\n[device plug-2]\ntype=plug\n");

	g_assert_cmpint(set_value(env, "plug-2", "1", "matter.OnOff@1.4", "OnOff", g_variant_new_boolean(TRUE)), ==, 200);
	remove_device(env, "plug-2");
	onboard(env, "plug-2", "", "plug-2");
	g_assert_false(get_bool(env, "plug-2", "1", "matter.OnOff@1.4", "OnOff"));
	hub_test_env_stop_hubd(env);
}

static void test_reonboard_survives_restart(void)
{
	g_autoptr(HubTestEnv) env = start("[device plug-1]\ntype=plug\n[device plug-2]\ntype=plug\n");

	remove_device(env, "plug-2");
	restart(env);
	onboard(env, "plug-2", "", "plug-2");
	restart(env);
	/* Published by the plugin again, not only remembered by the daemon. */
	g_assert_cmpuint(device_count(env), ==, 2);
	g_assert_true(device_online(env, "plug-2"));
	g_assert_cmpint(invoke(env, "plug-2", "1", "matter.OnOff@1.4", "On", "{}", NULL), ==, 200);
	hub_test_env_stop_hubd(env);
}

static void test_remove_pending_command(void)
{
	g_autoptr(HubTestEnv) env = start("[device slow-1]\ntype=plug\nlatency-ms=2000\n");
	g_autofree char *trace = NULL;
	Completion *c;
	Watch w;

	watch_start(&w, env, "slow-1", NULL);
	trace = invoke_async(env, "slow-1", "1", "matter.OnOff@1.4", "On", "{}");
	/* hubd hands accepted commands to the plugin from an idle source: let
	 * it run, or the daemon itself answers 404 for a device already gone. */
	spin(300);
	remove_device(env, "slow-1");
	c = wait_completion(&w, trace);
	assert_refused(c->code, c->result, 410, "DEVICE_REMOVED");
	watch_stop(&w);
	hub_test_env_stop_hubd(env);
}

static void test_command_plugin_stopped(void)
{
	g_autoptr(HubTestEnv) env = start("[device slow-1]\ntype=plug\nlatency-ms=3000\n");
	g_autofree char *trace = invoke_async(env, "slow-1", "1", "matter.OnOff@1.4", "On", "{}");
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(JsonNode) root = NULL;
	const char *status, *result;

	/* Stopping the daemon stops the plugin with the command still waiting
	 * (once hubd's idle dispatch has handed it over, see pending-command). */
	spin(300);
	restart(env);
	reply = manager_call(env, "GetCommandResult", g_variant_new("(s)", trace), "(ss)", &error);
	g_assert_no_error(error);
	g_variant_get(reply, "(&s&s)", &status, &result);
	g_assert_cmpstr(status, ==, "completed");
	root = parse_json(result);
	assert_refused((gint)json_object_get_int_member(json_node_get_object(root), "responseCode"), result, 503,
		       "PLUGIN_STOPPED");
	hub_test_env_stop_hubd(env);
}

/* ---- generate= ---- */

static void test_generate_thousand(void)
{
	g_autoptr(HubTestEnv) env = start_with(PLUGIN_KEYS "generate=1000\n",
					       "[device plug-1]\ntype=plug\n[device lock-1]\ntype=door-lock\n");
	g_autofree char *first = NULL, *last = NULL;

	g_assert_cmpuint(device_count(env), ==, 1002);
	/* The ten types in turn: 1 is a color light, 3 a plug, 1000 a window covering. */
	first = device_string_property(env, "gen-00001", "Model");
	last = device_string_property(env, "gen-01000", "Model");
	g_assert_cmpstr(first, ==, "color-light");
	g_assert_cmpstr(last, ==, "window-covering");
	g_assert_false(device_exists(env, "gen-01001"));
	g_assert_false(get_bool(env, "gen-00503", "1", "matter.OnOff@1.4", "OnOff"));
	g_assert_cmpint(invoke(env, "gen-00503", "1", "matter.OnOff@1.4", "Toggle", "{}", NULL), ==, 200);
	g_assert_true(get_bool(env, "gen-00503", "1", "matter.OnOff@1.4", "OnOff"));
	hub_test_env_stop_hubd(env);
}

/* ---- configuration mistakes ---- */

static void test_config_bad_devices(void)
{
	g_autoptr(HubTestEnv) env = start("[device good-1]\ntype=plug\n"
					  "[device good-2]\ntype=door-contact\ncolour=blue\n"
					  "[device good-3]\ntype=plug\nbattery=50\n"
					  "[device bad-type]\ntype=toaster\n"
					  "[device no-type]\nname=Nothing\n"
					  "[device bad id!]\ntype=plug\n"
					  "[device bad-latency]\ntype=plug\nlatency-ms=fast\n"
					  "[device bad-offline]\ntype=plug\noffline-duration-ms=100\n"
					  "[device bad-offline-2]\ntype=plug\noffline-period-ms=100\noffline-duration-ms=100\n"
					  "[device bad-onboarded]\ntype=plug\nonboarded=maybe\n"
					  "[device bad-battery]\ntype=door-contact\nbattery=150\n"
					  "[device bad-pin]\ntype=door-lock\npin=12ab\n"
					  "[device bad-interval]\ntype=thermostat\nreport-interval-ms=5\n"
					  "[gadget x]\ntype=plug\n");
	g_autofree char *log = hub_test_env_read_log(env);
	const char *bad[] = { "bad-type", "no-type",	   "bad id!",	    "bad-latency",  "bad-offline",
			      "bad-offline-2", "bad-onboarded", "bad-battery", "bad-pin", "bad-interval" };
	const char *reasons[] = {
		"devices.conf: [device bad-type]: unknown type \"toaster\"",
		"devices.conf: [device no-type]: missing key \"type\", skipping device",
		"devices.conf: [device bad id!]: invalid device id \"bad id!\"",
		"devices.conf: [device bad-latency]: invalid latency-ms \"fast\"",
		"devices.conf: [device bad-offline]: offline-period-ms and offline-duration-ms must be given together",
		"devices.conf: [device bad-offline-2]: offline-duration-ms (100) must be shorter than offline-period-ms (100)",
		"devices.conf: [device bad-onboarded]: invalid onboarded \"maybe\"",
		"devices.conf: [device bad-battery]: invalid battery \"150\"",
		"devices.conf: [device bad-pin]: invalid pin",
		"devices.conf: [device bad-interval]: invalid report-interval-ms \"5\"",
		/* warnings: the device is kept */
		"devices.conf: [device good-2]: unknown key \"colour\", ignoring",
		"devices.conf: [device good-3]: battery does not apply to a plug, ignoring",
		"devices.conf: unknown group [gadget x], ignoring",
	};

	g_assert_cmpuint(device_count(env), ==, 3);
	g_assert_true(device_exists(env, "good-1"));
	g_assert_true(device_exists(env, "good-2"));
	g_assert_true(device_exists(env, "good-3"));
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++)
		g_assert_false(device_exists(env, bad[i]));
	for (guint i = 0; i < G_N_ELEMENTS(reasons); i++)
		assert_log_has(log, reasons[i]);
	/* One error line per bad device, and never the PIN. */
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autofree char *group = g_strdup_printf("[device %s]: ", bad[i]);
		const char *at = strstr(log, group);

		g_assert_nonnull(at);
		g_assert_null(strstr(at + 1, group));
	}
	g_assert_null(strstr(log, "12ab"));
	hub_test_env_stop_hubd(env);
}

static void assert_plugin_refused(HubTestEnv *env, const char *reason)
{
	g_autoptr(GVariant) plugins = hub_test_get_manager_property(env, "Plugins");
	g_autofree char *log = hub_test_env_read_log(env);

	/* The daemon serves without the plugin. */
	g_assert_cmpuint(g_variant_n_children(plugins), ==, 0);
	g_assert_cmpuint(device_count(env), ==, 0);
	assert_log_has(log, reason);
	hub_test_env_stop_hubd(env);
}

static void test_config_missing_device_file(void)
{
	g_autoptr(HubTestEnv) env = start_with("devices=no-such-file.conf\n", NULL);
	g_autofree char *path = hub_test_env_path(env, "no-such-file.conf");
	g_autofree char *reason = g_strdup_printf("Failed to load device file %s", path);

	assert_plugin_refused(env, reason);
}

static void test_config_unparsable_device_file(void)
{
	g_autoptr(HubTestEnv) env = start("this is not a key file\n[device plug-1]\ntype=plug\n");
	g_autofree char *path = hub_test_env_path(env, "devices.conf");
	g_autofree char *reason = g_strdup_printf("Failed to load device file %s", path);

	assert_plugin_refused(env, reason);
}

static void test_config_invalid_plugin_keys(void)
{
	g_autoptr(HubTestEnv) env = start_with("devices=devices.conf\nlatency-ms=soon\nsensor-interval-ms=5\n"
					       "generate=-3\n",
					       "[device plug-1]\ntype=plug\n");
	g_autofree char *log = hub_test_env_read_log(env);

	assert_log_has(log, "Invalid latency-ms \"soon\" in [plugin.virtual] (expected an integer 0-600000), using 100");
	assert_log_has(log, "Invalid sensor-interval-ms \"5\" in [plugin.virtual]");
	assert_log_has(log, "Invalid generate \"-3\" in [plugin.virtual]");
	g_assert_cmpuint(device_count(env), ==, 1);
	g_assert_cmpint(invoke(env, "plug-1", "1", "matter.OnOff@1.4", "On", "{}", NULL), ==, 200);
	hub_test_env_stop_hubd(env);
}

/* ---- device behaviour ---- */

#define THERMOSTAT "matter.Thermostat@1.4"

static void test_thermostat_setpoint_raise_lower(void)
{
	g_autoptr(HubTestEnv) env = start("[device thermo-1]\ntype=thermostat\n");
	gint64 heat = get_int(env, "thermo-1", "1", THERMOSTAT, "OccupiedHeatingSetpoint");
	gint64 cool = get_int(env, "thermo-1", "1", THERMOSTAT, "OccupiedCoolingSetpoint");

	/* Amount is in 0.1 °C, setpoints in 0.01 °C. */
	g_assert_cmpint(invoke(env, "thermo-1", "1", THERMOSTAT, "SetpointRaiseLower",
			       "{\"Mode\": \"Heat\", \"Amount\": 5}", NULL),
			==, 200);
	g_assert_cmpint(get_int(env, "thermo-1", "1", THERMOSTAT, "OccupiedHeatingSetpoint"), ==, heat + 50);
	g_assert_cmpint(get_int(env, "thermo-1", "1", THERMOSTAT, "OccupiedCoolingSetpoint"), ==, cool);
	g_assert_cmpint(invoke(env, "thermo-1", "1", THERMOSTAT, "SetpointRaiseLower",
			       "{\"Mode\": \"Both\", \"Amount\": -10}", NULL),
			==, 200);
	g_assert_cmpint(get_int(env, "thermo-1", "1", THERMOSTAT, "OccupiedHeatingSetpoint"), ==, heat - 50);
	g_assert_cmpint(get_int(env, "thermo-1", "1", THERMOSTAT, "OccupiedCoolingSetpoint"), ==, cool - 100);
	hub_test_env_stop_hubd(env);
}

static void test_thermostat_dead_band(void)
{
	g_autoptr(HubTestEnv) env = start("[device thermo-2]\ntype=thermostat\n");

	/* Heat to 30 °C (its maximum) pushes cool to its maximum 32 °C, and
	 * the 2.5 °C dead band then pulls heat back to 29.5 °C. */
	g_assert_cmpint(invoke(env, "thermo-2", "1", THERMOSTAT, "SetpointRaiseLower",
			       "{\"Mode\": \"Heat\", \"Amount\": 127}", NULL),
			==, 200);
	g_assert_cmpint(get_int(env, "thermo-2", "1", THERMOSTAT, "OccupiedHeatingSetpoint"), ==, 2950);
	g_assert_cmpint(get_int(env, "thermo-2", "1", THERMOSTAT, "OccupiedCoolingSetpoint"), ==, 3200);
	hub_test_env_stop_hubd(env);
}

static void test_thermostat_heats_towards_setpoint(void)
{
	g_autoptr(HubTestEnv) env = start("[device thermo-3]\ntype=thermostat\nreport-interval-ms=50\n");
	Watch w;

	/* 20 °C + 8 °C: well above the room, so it heats. */
	g_assert_cmpint(invoke(env, "thermo-3", "1", THERMOSTAT, "SetpointRaiseLower",
			       "{\"Mode\": \"Heat\", \"Amount\": 80}", NULL),
			==, 200);
	g_assert_cmpint(get_int(env, "thermo-3", "1", THERMOSTAT, "ThermostatRunningState"), ==, 1);
	watch_start(&w, env, "thermo-3", "1/" THERMOSTAT "/LocalTemperature");
	wait_values(&w, 4);
	for (guint i = 1; i < w.values->len; i++)
		g_assert_cmpint(value_int(&w, i) - value_int(&w, i - 1), ==, 50);
	watch_stop(&w);
	hub_test_env_stop_hubd(env);
}

#define COVERING "matter.WindowCovering@1.4"

static void test_covering_moves_over_time(void)
{
	g_autoptr(HubTestEnv) env = start("[device blind-1]\ntype=window-covering\n");
	Watch w;
	gint64 done_us;

	g_assert_cmpint(get_int(env, "blind-1", "1", COVERING, "CurrentPositionLiftPercent100ths"), ==, 0);
	watch_start(&w, env, "blind-1", "1/" COVERING "/CurrentPositionLiftPercent100ths");
	g_assert_cmpint(invoke(env, "blind-1", "1", COVERING, "GoToLiftPercentage", "{\"LiftPercent100thsValue\": 6000}",
			       NULL),
			==, 200);
	done_us = g_get_monotonic_time();
	/* Completed when the motor starts: closing, not there yet. */
	g_assert_cmpint(get_int(env, "blind-1", "1", COVERING, "OperationalStatus"), ==, 10);
	g_assert_cmpint(get_int(env, "blind-1", "1", COVERING, "TargetPositionLiftPercent100ths"), ==, 6000);
	g_assert_cmpint(get_int(env, "blind-1", "1", COVERING, "CurrentPositionLiftPercent100ths"), <, 6000);
	wait_value(&w, "6000");
	/* 20 % per 200 ms step: 0, 2000, 4000, 6000. */
	g_assert_cmpuint(w.values->len, ==, 4);
	for (guint i = 0; i < w.values->len; i++)
		g_assert_cmpint(value_int(&w, i), ==, 2000 * i);
	g_assert_cmpint((g_array_index(w.value_times, gint64, 3) - done_us) / 1000, >=, 300);
	spin(50);
	g_assert_cmpint(get_int(env, "blind-1", "1", COVERING, "OperationalStatus"), ==, 0);
	watch_stop(&w);
	hub_test_env_stop_hubd(env);
}

static void test_covering_stop_motion(void)
{
	g_autoptr(HubTestEnv) env = start("[device blind-2]\ntype=window-covering\n");
	Watch w;
	gint64 stopped;

	watch_start(&w, env, "blind-2", "1/" COVERING "/CurrentPositionLiftPercent100ths");
	g_assert_cmpint(invoke(env, "blind-2", "1", COVERING, "DownOrClose", "{}", NULL), ==, 200);
	wait_value(&w, "2000");
	g_assert_cmpint(invoke(env, "blind-2", "1", COVERING, "StopMotion", "{}", NULL), ==, 200);
	stopped = get_int(env, "blind-2", "1", COVERING, "CurrentPositionLiftPercent100ths");
	g_assert_cmpint(stopped, >=, 2000);
	g_assert_cmpint(stopped, <, 10000);
	g_assert_cmpint(get_int(env, "blind-2", "1", COVERING, "OperationalStatus"), ==, 0);
	spin(500);
	g_assert_cmpint(get_int(env, "blind-2", "1", COVERING, "CurrentPositionLiftPercent100ths"), ==, stopped);
	watch_stop(&w);
	hub_test_env_stop_hubd(env);
}

#define FAN "matter.FanControl@1.4"

static void assert_fan(HubTestEnv *env, const char *mode, gint64 percent, gboolean on)
{
	g_autofree char *got = get_string(env, "fan-1", "1", FAN, "FanMode");

	g_assert_cmpstr(got, ==, mode);
	g_assert_cmpint(get_int(env, "fan-1", "1", FAN, "PercentSetting"), ==, percent);
	g_assert_cmpint(get_int(env, "fan-1", "1", FAN, "PercentCurrent"), ==, percent);
	g_assert_cmpint(get_bool(env, "fan-1", "1", "matter.OnOff@1.4", "OnOff"), ==, on);
}

static void fan_step(HubTestEnv *env, const char *params)
{
	g_assert_cmpint(invoke(env, "fan-1", "1", FAN, "Step", params, NULL), ==, 200);
}

static void test_fan_step(void)
{
	g_autoptr(HubTestEnv) env = start("[device fan-1]\ntype=fan\n");

	assert_fan(env, "Off", 0, FALSE);
	fan_step(env, "{\"Direction\": \"Increase\"}");
	assert_fan(env, "Low", 33, TRUE);
	fan_step(env, "{\"Direction\": \"Increase\"}");
	assert_fan(env, "Medium", 66, TRUE);
	fan_step(env, "{\"Direction\": \"Increase\"}");
	assert_fan(env, "High", 100, TRUE);
	fan_step(env, "{\"Direction\": \"Increase\"}"); /* no Wrap: stays */
	assert_fan(env, "High", 100, TRUE);
	fan_step(env, "{\"Direction\": \"Increase\", \"Wrap\": true}"); /* LowestOff: wraps to Off */
	assert_fan(env, "Off", 0, FALSE);
	fan_step(env, "{\"Direction\": \"Decrease\", \"Wrap\": true, \"LowestOff\": false}");
	assert_fan(env, "High", 100, TRUE);
	fan_step(env, "{\"Direction\": \"Decrease\"}");
	assert_fan(env, "Medium", 66, TRUE);
	hub_test_env_stop_hubd(env);
}

static void test_fan_on_off_restores_mode(void)
{
	g_autoptr(HubTestEnv) env = start("[device fan-1]\ntype=fan\n");

	/* Writing PercentSetting picks the mode. */
	g_assert_cmpint(set_value(env, "fan-1", "1", FAN, "PercentSetting", g_variant_new_int64(20)), ==, 200);
	assert_fan(env, "Low", 20, TRUE);
	g_assert_cmpint(invoke(env, "fan-1", "1", "matter.OnOff@1.4", "Off", "{}", NULL), ==, 200);
	assert_fan(env, "Off", 0, FALSE);
	g_assert_cmpint(invoke(env, "fan-1", "1", "matter.OnOff@1.4", "On", "{}", NULL), ==, 200);
	assert_fan(env, "Low", 33, TRUE);
	hub_test_env_stop_hubd(env);
}

#define COLOR "matter.ColorControl@1.4"

static void assert_color_mode(HubTestEnv *env, const char *want)
{
	g_autofree char *mode = get_string(env, "light-1", "1", COLOR, "ColorMode");

	g_assert_cmpstr(mode, ==, want);
}

static void test_light_color_mode_follows_action(void)
{
	g_autoptr(HubTestEnv) env = start("[device light-1]\ntype=color-light\n");

	g_assert_cmpint(invoke(env, "light-1", "1", COLOR, "MoveToHue", "{\"Hue\": 100}", NULL), ==, 200);
	g_assert_cmpint(get_int(env, "light-1", "1", COLOR, "CurrentHue"), ==, 100);
	assert_color_mode(env, "CurrentHueAndCurrentSaturation");
	g_assert_cmpint(invoke(env, "light-1", "1", COLOR, "MoveToColor", "{\"ColorX\": 30000, \"ColorY\": 20000}",
			       NULL),
			==, 200);
	g_assert_cmpint(get_int(env, "light-1", "1", COLOR, "CurrentX"), ==, 30000);
	assert_color_mode(env, "CurrentXAndCurrentY");
	g_assert_cmpint(invoke(env, "light-1", "1", COLOR, "MoveToColorTemperature",
			       "{\"ColorTemperatureMireds\": 370}", NULL),
			==, 200);
	g_assert_cmpint(get_int(env, "light-1", "1", COLOR, "ColorTemperatureMireds"), ==, 370);
	assert_color_mode(env, "ColorTemperatureMireds");
	hub_test_env_stop_hubd(env);
}

#define LEVEL "matter.LevelControl@1.4"

static void test_light_on_restores_on_level(void)
{
	g_autoptr(HubTestEnv) env = start("[device light-1]\ntype=dimmable-light\n");

	g_assert_cmpint(invoke(env, "light-1", "1", LEVEL, "MoveToLevelWithOnOff", "{\"Level\": 0}", NULL), ==, 200);
	g_assert_false(get_bool(env, "light-1", "1", "matter.OnOff@1.4", "OnOff"));
	g_assert_cmpint(get_int(env, "light-1", "1", LEVEL, "CurrentLevel"), ==, 1); /* MinLevel */
	g_assert_cmpint(invoke(env, "light-1", "1", "matter.OnOff@1.4", "On", "{}", NULL), ==, 200);
	g_assert_true(get_bool(env, "light-1", "1", "matter.OnOff@1.4", "OnOff"));
	g_assert_cmpint(get_int(env, "light-1", "1", LEVEL, "CurrentLevel"), ==, 254); /* OnLevel */
	g_assert_cmpint(invoke(env, "light-1", "1", LEVEL, "MoveToLevelWithOnOff", "{\"Level\": 80}", NULL), ==, 200);
	g_assert_cmpint(get_int(env, "light-1", "1", LEVEL, "CurrentLevel"), ==, 80);
	hub_test_env_stop_hubd(env);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/hub/virtual/types/capability-report", test_types_capability_report);
	g_test_add_func("/hub/virtual/types/every-property-reported", test_types_every_property_reported);
	g_test_add_func("/hub/virtual/types/constant-properties", test_types_constant_properties);
	g_test_add_func("/hub/virtual/device-info", test_device_info);
	g_test_add_func("/hub/virtual/health/rssi-and-battery", test_health_rssi_and_battery);
	g_test_add_func("/hub/virtual/health/configured-battery", test_health_configured_battery);
	g_test_add_func("/hub/virtual/command/device-latency", test_command_device_latency);
	g_test_add_func("/hub/virtual/command/plugin-latency", test_command_plugin_latency);
	g_test_add_func("/hub/virtual/lock/wrong-pin", test_lock_wrong_pin);
	g_test_add_func("/hub/virtual/lock/right-pin", test_lock_right_pin);
	g_test_add_func("/hub/virtual/lock/without-pin", test_lock_without_pin);
	g_test_add_func("/hub/virtual/lock/no-remote-lock-unlock", test_lock_no_remote_lock_unlock);
	g_test_add_func("/hub/virtual/sensor/periodic-reports", test_sensor_periodic_reports);
	g_test_add_func("/hub/virtual/sensor/rssi-jitters", test_sensor_rssi_jitters);
	g_test_add_func("/hub/virtual/sensor/door-contact-events", test_sensor_door_contact_events);
	g_test_add_func("/hub/virtual/sensor/occupancy-at-plugin-interval", test_sensor_occupancy_at_plugin_interval);
	g_test_add_func("/hub/virtual/offline/commands-refused", test_offline_commands_refused);
	g_test_add_func("/hub/virtual/offline/during-latency", test_offline_during_latency);
	g_test_add_func("/hub/virtual/discovery/finds-not-onboarded", test_discovery_finds_not_onboarded);
	g_test_add_func("/hub/virtual/onboard/auth-material", test_onboard_auth_material);
	g_test_add_func("/hub/virtual/onboard/default-serial", test_onboard_default_serial);
	g_test_add_func("/hub/virtual/onboard/after-removal-factory-state", test_reonboard_factory_state);
	g_test_add_func("/hub/virtual/onboard/after-removal-survives-restart", test_reonboard_survives_restart);
	g_test_add_func("/hub/virtual/remove/survives-restart", test_remove_survives_restart);
	g_test_add_func("/hub/virtual/remove/discoverable-in-open-window", test_remove_discoverable_in_open_window);
	g_test_add_func("/hub/virtual/remove/pending-command", test_remove_pending_command);
	g_test_add_func("/hub/virtual/command/plugin-stopped", test_command_plugin_stopped);
	g_test_add_func("/hub/virtual/generate/thousand", test_generate_thousand);
	g_test_add_func("/hub/virtual/config/bad-devices", test_config_bad_devices);
	g_test_add_func("/hub/virtual/config/missing-device-file", test_config_missing_device_file);
	g_test_add_func("/hub/virtual/config/unparsable-device-file", test_config_unparsable_device_file);
	g_test_add_func("/hub/virtual/config/invalid-plugin-keys", test_config_invalid_plugin_keys);
	g_test_add_func("/hub/virtual/thermostat/setpoint-raise-lower", test_thermostat_setpoint_raise_lower);
	g_test_add_func("/hub/virtual/thermostat/dead-band", test_thermostat_dead_band);
	g_test_add_func("/hub/virtual/thermostat/heats-towards-setpoint", test_thermostat_heats_towards_setpoint);
	g_test_add_func("/hub/virtual/covering/moves-over-time", test_covering_moves_over_time);
	g_test_add_func("/hub/virtual/covering/stop-motion", test_covering_stop_motion);
	g_test_add_func("/hub/virtual/fan/step", test_fan_step);
	g_test_add_func("/hub/virtual/fan/on-off-restores-mode", test_fan_on_off_restores_mode);
	g_test_add_func("/hub/virtual/light/color-mode-follows-action", test_light_color_mode_follows_action);
	g_test_add_func("/hub/virtual/light/on-restores-on-level", test_light_on_restores_on_level);
	return g_test_run();
}
