/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-daemon.c - the real hubd on a private bus with the real virtual
 * plugin: the D-Bus API, commands, persistence and every kind of bad input.
 */
#include "config.h"

#include <glib/gstdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

#include "hub-test-env.h"

#define LIGHT_CONF \
	"[device light-1]\ntype=color-light\nname=Test light\nlatency-ms=20\n" \
	"[device plug-1]\ntype=plug\nname=Test plug\nlatency-ms=20\n"         \
	"[device thermostat-1]\ntype=thermostat\nlatency-ms=20\n"

static HubTestEnv *start_default(void)
{
	HubTestEnv *env = hub_test_env_new();

	hub_test_env_write_config(env, "plugins=virtual\ncommand-timeout-ms=2000", LIGHT_CONF);
	hub_test_env_start_hubd(env);
	return env;
}

static GVariant *device_call(HubTestEnv *env, const char *device_id, const char *method, GVariant *params,
			     const char *reply_type, GError **error)
{
	g_autofree char *path = hub_test_device_path(device_id);

	return hub_test_call(env, path, "org.hubd.Hub1.Device", method, params, reply_type, error);
}

static GVariant *get_value(HubTestEnv *env, const char *device_id, const char *ep, const char *cap,
			   const char *prop, gint64 *last_changed)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = device_call(env, device_id, "GetProperty", g_variant_new("(sss)", ep, cap, prop),
						"(vx)", &error);
	GVariant *value = NULL;
	gint64 ts = 0;

	g_assert_no_error(error);
	g_variant_get(reply, "(vx)", &value, &ts);
	if (last_changed)
		*last_changed = ts;
	return value;
}

static gint set_value(HubTestEnv *env, const char *device_id, const char *ep, const char *cap, const char *prop,
		      GVariant *value, GError **error)
{
	g_autoptr(GVariant) reply = device_call(env, device_id, "SetProperty",
						g_variant_new("(sssv)", ep, cap, prop, value), "(is)", error);
	gint code = 0;

	if (reply)
		g_variant_get(reply, "(i&s)", &code, NULL);
	return code;
}

static void assert_dbus_error(GError *error, const char *name)
{
	g_autofree char *remote = NULL;

	g_assert_nonnull(error);
	remote = g_dbus_error_get_remote_error(error);
	if (g_strcmp0(remote, name) != 0)
		g_error("expected %s, got %s: %s", name, remote, error->message);
}

/* ---- the API ---- */

static void test_objects_published(void)
{
	g_autoptr(HubTestEnv) env = start_default();
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = hub_test_call(env, "/org/hubd/Hub1", "org.freedesktop.DBus.ObjectManager",
						  "GetManagedObjects", NULL, "(a{oa{sa{sv}}})", &error);
	g_autoptr(GVariant) objects = NULL;
	g_autoptr(GVariant) count = NULL;
	g_autoptr(GVariant) version = NULL;
	g_autofree char *light = hub_test_device_path("light-1");
	g_autoptr(GVariant) light_ifaces = NULL;

	g_assert_no_error(error);
	objects = g_variant_get_child_value(reply, 0);
	g_assert_cmpuint(g_variant_n_children(objects), ==, 3);
	light_ifaces = g_variant_lookup_value(objects, light, G_VARIANT_TYPE("a{sa{sv}}"));
	g_assert_nonnull(light_ifaces);
	count = hub_test_get_manager_property(env, "DeviceCount");
	g_assert_cmpuint(g_variant_get_uint32(count), ==, 3);
	version = hub_test_get_manager_property(env, "Version");
	g_assert_cmpstr(g_variant_get_string(version, NULL), ==, PACKAGE_VERSION);
	hub_test_env_stop_hubd(env);
}

static void test_plugins_property(void)
{
	g_autoptr(HubTestEnv) env = start_default();
	g_autoptr(GVariant) plugins = hub_test_get_manager_property(env, "Plugins");
	const char *name, *kind, *version, *abi, *path;
	gboolean tainted;

	g_assert_cmpuint(g_variant_n_children(plugins), ==, 1);
	g_variant_get_child(plugins, 0, "(&s&s&s&s&sb)", &name, &kind, &version, &abi, &path, &tainted);
	g_assert_cmpstr(name, ==, "virtual");
	g_assert_cmpstr(kind, ==, "protocol");
	g_assert_cmpstr(abi, ==, "1.0");
	g_assert_false(tainted);
	hub_test_env_stop_hubd(env);
}

typedef struct {
	char *path;
	guint state_changes;
	guint completed;
	char *completed_trace;
	gint completed_code;
	GPtrArray *discovered;
	guint discovery_finished;
	guint added;
	guint removed;
	gboolean online_seen_false;
	gboolean online_seen_true_after;
} Watch;

static void on_signal(GDBusConnection *conn, const char *sender, const char *path, const char *iface,
		      const char *signal, GVariant *params, gpointer user_data)
{
	Watch *w = user_data;

	if (g_strcmp0(signal, "PropertiesChanged") == 0 && g_strcmp0(path, w->path) == 0) {
		g_autoptr(GVariant) changed = g_variant_get_child_value(params, 1);
		g_autoptr(GVariant) online = g_variant_lookup_value(changed, "Online", G_VARIANT_TYPE_BOOLEAN);

		if (g_variant_lookup_value(changed, "State", NULL))
			w->state_changes++;
		if (online && !g_variant_get_boolean(online))
			w->online_seen_false = TRUE;
		if (online && g_variant_get_boolean(online) && w->online_seen_false)
			w->online_seen_true_after = TRUE;
	} else if (g_strcmp0(signal, "CommandCompleted") == 0) {
		const char *trace;

		g_variant_get(params, "(&s&si&s)", &trace, NULL, &w->completed_code, NULL);
		g_free(w->completed_trace);
		w->completed_trace = g_strdup(trace);
		w->completed++;
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

static guint watch_signals(HubTestEnv *env, Watch *w, const char *device_id)
{
	w->path = device_id ? hub_test_device_path(device_id) : NULL;
	w->discovered = g_ptr_array_new_with_free_func(g_free);
	return g_dbus_connection_signal_subscribe(env->conn, "org.hubd.Hub1", NULL, NULL, NULL, NULL,
						  G_DBUS_SIGNAL_FLAGS_NONE, on_signal, w, NULL);
}

static void watch_clear(HubTestEnv *env, Watch *w, guint id)
{
	g_dbus_connection_signal_unsubscribe(env->conn, id);
	g_free(w->path);
	g_free(w->completed_trace);
	g_ptr_array_unref(w->discovered);
}

static gboolean state_changed(gpointer data)
{
	return ((Watch *)data)->state_changes > 0;
}

static void test_set_changes_state(void)
{
	g_autoptr(HubTestEnv) env = start_default();
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) before = NULL;
	g_autoptr(GVariant) after = NULL;
	gint64 ts_before = 0, ts_after = 0;
	Watch w = { 0 };
	guint sub = watch_signals(env, &w, "light-1");
	gboolean target;

	before = get_value(env, "light-1", "1", "matter.OnOff@1.4", "OnOff", &ts_before);
	target = !g_variant_get_boolean(before);
	g_assert_cmpint(set_value(env, "light-1", "1", "matter.OnOff@1.4", "OnOff", g_variant_new_boolean(target),
				  &error),
			==, 200);
	g_assert_no_error(error);
	g_assert_true(hub_test_wait_until(state_changed, &w, 5000));
	after = get_value(env, "light-1", "1", "matter.OnOff@1.4", "OnOff", &ts_after);
	g_assert_cmpint(g_variant_get_boolean(after), ==, target);
	g_assert_cmpint(ts_after, >=, ts_before);
	g_assert_cmpint(ts_after, >, 0);
	watch_clear(env, &w, sub);
	hub_test_env_stop_hubd(env);
}

static gboolean command_completed(gpointer data)
{
	return ((Watch *)data)->completed > 0;
}

static void test_invoke_two_phase(void)
{
	g_autoptr(HubTestEnv) env = start_default();
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) level = NULL;
	Watch w = { 0 };
	guint sub = watch_signals(env, &w, "light-1");
	const char *trace;

	reply = device_call(env, "light-1", "Invoke",
			    g_variant_new("(ssss)", "1", "matter.LevelControl@1.4", "MoveToLevel", "{\"Level\": 77}"),
			    "(s)", &error);
	g_assert_no_error(error);
	g_variant_get(reply, "(&s)", &trace);
	g_assert_cmpuint(strlen(trace), >, 0);
	g_assert_true(hub_test_wait_until(command_completed, &w, 5000));
	g_assert_cmpstr(w.completed_trace, ==, trace);
	g_assert_cmpint(w.completed_code, ==, 200);
	level = get_value(env, "light-1", "1", "matter.LevelControl@1.4", "CurrentLevel", NULL);
	g_assert_cmpint(g_variant_get_int64(level), ==, 77);
	watch_clear(env, &w, sub);
	hub_test_env_stop_hubd(env);
}

static void test_invoke_and_wait_result(void)
{
	g_autoptr(HubTestEnv) env = start_default();
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(JsonParser) parser = json_parser_new();
	const char *trace, *result;
	gint code;
	JsonObject *root;
	JsonArray *props;

	reply = device_call(env, "light-1", "InvokeAndWait",
			    g_variant_new("(ssssu)", "1", "matter.LevelControl@1.4", "MoveToLevelWithOnOff",
					  "{\"Level\": 120}", 0),
			    "(sis)", &error);
	g_assert_no_error(error);
	g_variant_get(reply, "(&si&s)", &trace, &code, &result);
	g_assert_cmpint(code, ==, 200);
	g_assert_true(json_parser_load_from_data(parser, result, -1, NULL));
	root = json_node_get_object(json_parser_get_root(parser));
	g_assert_cmpstr(json_object_get_string_member(root, "traceId"), ==, trace);
	g_assert_cmpstr(json_object_get_string_member(root, "status"), ==, "completed");
	g_assert_cmpint(json_object_get_int_member(root, "responseCode"), ==, 200);
	/* The result carries the properties the device confirmed changing. */
	props = json_object_get_array_member(json_array_get_object_element(
		json_object_get_array_member(json_array_get_object_element(json_object_get_array_member(root, "endpoints"), 0),
					     "capabilities"), 0), "properties");
	g_assert_nonnull(props);
	g_assert_cmpuint(json_array_get_length(props), >=, 1);
	g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(props, 0), "name"), ==,
			"CurrentLevel");
	hub_test_env_stop_hubd(env);
}

static void test_read_state(void)
{
	g_autoptr(HubTestEnv) env = start_default();
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(JsonParser) parser = json_parser_new();
	const char *result;
	gint code;

	reply = device_call(env, "thermostat-1", "InvokeAndWait",
			    g_variant_new("(ssssu)", "1", "matter.Thermostat@1.4", "ReadState",
					  "{\"propertiesToRead\": [\"*\"]}", 0),
			    "(sis)", &error);
	g_assert_no_error(error);
	g_variant_get(reply, "(&si&s)", NULL, &code, &result);
	g_assert_cmpint(code, ==, 200);
	g_assert_nonnull(strstr(result, "\"LocalTemperature\""));
	g_assert_nonnull(strstr(result, "\"SystemMode\""));
	g_assert_nonnull(strstr(result, "\"lastChangedAt\""));
	hub_test_env_stop_hubd(env);
}

static const char *send_command(HubTestEnv *env, const char *json, GError **error, GVariant **keep)
{
	GVariant *reply = hub_test_call(env, "/org/hubd/Hub1", "org.hubd.Hub1.Manager", "SendCommand",
					g_variant_new("(s)", json), "(s)", error);
	const char *trace = NULL;

	if (reply)
		g_variant_get(reply, "(&s)", &trace);
	*keep = reply;
	return trace;
}

static gint wait_command(HubTestEnv *env, const char *trace)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = hub_test_call(env, "/org/hubd/Hub1", "org.hubd.Hub1.Manager", "WaitCommand",
						  g_variant_new("(su)", trace, 5000), "(is)", &error);
	gint code = 0;

	g_assert_no_error(error);
	g_variant_get(reply, "(i&s)", &code, NULL);
	return code;
}

#define TOGGLE_CMD                                                                                       \
	"{\"deviceId\": \"plug-1\", \"traceId\": \"%s\", \"endpoints\": [{\"endpointId\": \"1\", "     \
	"\"capabilities\": [{\"id\": \"matter.OnOff@1.4\", \"actions\": [{\"name\": \"Toggle\"}]}]}]}"

static void test_trace_id_runs_once(void)
{
	g_autoptr(HubTestEnv) env = start_default();
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) r1 = NULL;
	g_autoptr(GVariant) r2 = NULL;
	g_autoptr(GVariant) r3 = NULL;
	g_autoptr(GVariant) before = get_value(env, "plug-1", "1", "matter.OnOff@1.4", "OnOff", NULL);
	g_autoptr(GVariant) after = NULL;
	g_autoptr(GVariant) after_restart = NULL;
	g_autofree char *cmd = g_strdup_printf(TOGGLE_CMD, "trace-once-1");
	const char *trace;

	trace = send_command(env, cmd, &error, &r1);
	g_assert_no_error(error);
	g_assert_cmpstr(trace, ==, "trace-once-1");
	g_assert_cmpint(wait_command(env, trace), ==, 200);
	/* The same trace id again: the stored result, no second toggle. */
	trace = send_command(env, cmd, &error, &r2);
	g_assert_no_error(error);
	g_assert_cmpstr(trace, ==, "trace-once-1");
	g_assert_cmpint(wait_command(env, trace), ==, 200);
	g_usleep(200000);
	after = get_value(env, "plug-1", "1", "matter.OnOff@1.4", "OnOff", NULL);
	g_assert_cmpint(g_variant_get_boolean(after), ==, !g_variant_get_boolean(before));

	/* Still known after a restart: never re-executed. */
	hub_test_env_stop_hubd(env);
	hub_test_env_start_hubd(env);
	after = get_value(env, "plug-1", "1", "matter.OnOff@1.4", "OnOff", NULL);
	trace = send_command(env, cmd, &error, &r3);
	g_assert_no_error(error);
	g_assert_cmpint(wait_command(env, trace), ==, 200);
	g_usleep(200000);
	after_restart = get_value(env, "plug-1", "1", "matter.OnOff@1.4", "OnOff", NULL);
	g_assert_cmpint(g_variant_get_boolean(after_restart), ==, g_variant_get_boolean(after));
	hub_test_env_stop_hubd(env);
}

static void test_command_timeout(void)
{
	g_autoptr(HubTestEnv) env = hub_test_env_new();
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	const char *result;
	gint code;

	hub_test_env_write_config(env, "plugins=virtual\ncommand-timeout-ms=300",
				  "[device slow-1]\ntype=plug\nlatency-ms=3000\n");
	hub_test_env_start_hubd(env);
	reply = device_call(env, "slow-1", "InvokeAndWait",
			    g_variant_new("(ssssu)", "1", "matter.OnOff@1.4", "On", "{}", 0), "(sis)", &error);
	g_assert_no_error(error);
	g_variant_get(reply, "(&si&s)", NULL, &code, &result);
	g_assert_cmpint(code, ==, 504);
	g_assert_nonnull(strstr(result, "TIMEOUT"));
	/* The late completion is ignored; the daemon keeps serving. */
	g_usleep(3200000);
	g_variant_unref(get_value(env, "slow-1", "1", "matter.OnOff@1.4", "OnOff", NULL));
	hub_test_env_stop_hubd(env);
}

static void test_multi_action_command(void)
{
	g_autoptr(HubTestEnv) env = start_default();
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) r = NULL;
	g_autoptr(GVariant) result = NULL;
	const char *trace = send_command(
		env,
		"{\"deviceId\": \"light-1\", \"endpoints\": [{\"endpointId\": \"1\", \"capabilities\": ["
		"{\"id\": \"matter.OnOff@1.4\", \"actions\": [{\"name\": \"On\"}]},"
		"{\"id\": \"matter.ColorControl@1.4\", \"actions\": [{\"name\": \"MoveToHueAndSaturation\","
		" \"parameters\": {\"Hue\": 10, \"Saturation\": 200}}]}]}]}",
		&error, &r);
	const char *doc;

	g_assert_no_error(error);
	g_assert_cmpint(wait_command(env, trace), ==, 200);
	result = hub_test_call(env, "/org/hubd/Hub1", "org.hubd.Hub1.Manager", "GetCommandResult",
			       g_variant_new("(s)", trace), "(ss)", &error);
	g_assert_no_error(error);
	g_variant_get(result, "(&s&s)", NULL, &doc);
	g_assert_nonnull(strstr(doc, "\"On\""));
	g_assert_nonnull(strstr(doc, "\"MoveToHueAndSaturation\""));
	g_assert_nonnull(strstr(doc, "\"CurrentHue\""));
	hub_test_env_stop_hubd(env);
}

/* ---- bad input: a clear error, the daemon keeps running, nothing changes ---- */

static void assert_still_serving(HubTestEnv *env)
{
	g_autoptr(GVariant) count = hub_test_get_manager_property(env, "DeviceCount");

	g_assert_cmpuint(g_variant_get_uint32(count), ==, 3);
}

static void test_bad_targets(void)
{
	g_autoptr(HubTestEnv) env = start_default();
	struct {
		const char *device, *ep, *cap, *action, *params, *error;
	} cases[] = {
		{ "light-1", "9", "matter.OnOff@1.4", "On", "{}", "org.hubd.Hub1.Error.NotFound" },
		{ "light-1", "1", "matter.DoorLock@1.4", "LockDoor", "{}", "org.hubd.Hub1.Error.NotFound" },
		{ "light-1", "1", "matter.OnOff@1.4", "Explode", "{}", "org.hubd.Hub1.Error.NotFound" },
		{ "light-1", "1", "matter.LevelControl@1.4", "MoveToLevel", "{\"Level\": \"high\"}",
		  "org.hubd.Hub1.Error.InvalidArgument" },
		{ "light-1", "1", "matter.LevelControl@1.4", "MoveToLevel", "{\"Level\": 300}",
		  "org.hubd.Hub1.Error.InvalidArgument" },
		{ "light-1", "1", "matter.LevelControl@1.4", "MoveToLevel", "{}", "org.hubd.Hub1.Error.InvalidArgument" },
		{ "light-1", "1", "matter.LevelControl@1.4", "MoveToLevel", "{\"Level\": 3, \"Bogus\": 1}",
		  "org.hubd.Hub1.Error.InvalidArgument" },
		{ "light-1", "1", "matter.ColorControl@1.4", "MoveToHue", "{\"Hue\": 3, \"Direction\": \"Sideways\"}",
		  "org.hubd.Hub1.Error.InvalidArgument" },
		{ "light-1", "1", "matter.OnOff@1.4", "On", "not json", "org.hubd.Hub1.Error.InvalidArgument" },
		{ "light-1", "1", "matter.OnOff@1.4", "On", "[1, 2]", "org.hubd.Hub1.Error.InvalidArgument" },
		{ "light-1", "1", "matter.OnOff@1.4", "ReadState", "{\"propertiesToRead\": [\"Nope\"]}",
		  "org.hubd.Hub1.Error.NotFound" },
		{ "light-1", "1", "matter.ColorControl@1.4", "UpdateState", "{\"CurrentHue\": 3}",
		  "org.hubd.Hub1.Error.NotSupported" },
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(GVariant) reply = device_call(env, cases[i].device, "Invoke",
							g_variant_new("(ssss)", cases[i].ep, cases[i].cap, cases[i].action,
								      cases[i].params),
							"(s)", &error);

		g_test_message("case %u: %s %s %s", i, cases[i].cap, cases[i].action, cases[i].params);
		g_assert_null(reply);
		assert_dbus_error(error, cases[i].error);
		g_assert_cmpuint(strlen(error->message), >, 10);
	}
	assert_still_serving(env);
	hub_test_env_stop_hubd(env);
}

static void test_bad_writes(void)
{
	g_autoptr(HubTestEnv) env = start_default();
	g_autoptr(GError) e1 = NULL, e2 = NULL, e3 = NULL, e4 = NULL, e5 = NULL;
	g_autoptr(GVariant) level_before = get_value(env, "light-1", "1", "matter.LevelControl@1.4", "CurrentLevel", NULL);
	g_autoptr(GVariant) level_after = NULL;

	set_value(env, "light-1", "1", "matter.LevelControl@1.4", "CurrentLevel", g_variant_new_int64(999), &e1);
	assert_dbus_error(e1, "org.hubd.Hub1.Error.InvalidArgument");
	g_assert_nonnull(strstr(e1->message, "254"));
	set_value(env, "light-1", "1", "matter.LevelControl@1.4", "CurrentLevel", g_variant_new_string("bright"), &e2);
	assert_dbus_error(e2, "org.hubd.Hub1.Error.InvalidArgument");
	set_value(env, "thermostat-1", "1", "matter.Thermostat@1.4", "LocalTemperature", g_variant_new_int64(2000), &e3);
	assert_dbus_error(e3, "org.hubd.Hub1.Error.NotSupported");
	g_assert_nonnull(strstr(e3->message, "mutable"));
	set_value(env, "thermostat-1", "1", "matter.Thermostat@1.4", "SystemMode", g_variant_new_string("Boiling"), &e4);
	assert_dbus_error(e4, "org.hubd.Hub1.Error.InvalidArgument");
	set_value(env, "light-1", "1", "matter.OnOff@1.4", "NoSuchProperty", g_variant_new_boolean(TRUE), &e5);
	assert_dbus_error(e5, "org.hubd.Hub1.Error.NotFound");
	level_after = get_value(env, "light-1", "1", "matter.LevelControl@1.4", "CurrentLevel", NULL);
	g_assert_true(g_variant_equal(level_before, level_after));
	assert_still_serving(env);
	hub_test_env_stop_hubd(env);
}

static void test_bad_calls(void)
{
	g_autoptr(HubTestEnv) env = start_default();
	g_autoptr(GError) e1 = NULL, e2 = NULL, e3 = NULL, e4 = NULL, e5 = NULL, e6 = NULL, e7 = NULL;
	g_autoptr(GVariant) r1 = NULL, r2 = NULL, r3 = NULL, r4 = NULL, r5 = NULL, r6 = NULL, r7 = NULL;

	/* Unknown device object. */
	r1 = device_call(env, "ghost-9", "GetStateReport", NULL, "(s)", &e1);
	g_assert_null(r1);
	assert_dbus_error(e1, "org.freedesktop.DBus.Error.UnknownObject");
	/* Malformed arguments: wrong signature. */
	r2 = device_call(env, "light-1", "GetProperty", g_variant_new("(si)", "1", 5), NULL, &e2);
	g_assert_null(r2);
	assert_dbus_error(e2, "org.freedesktop.DBus.Error.InvalidArgs");
	/* SendCommand with broken or hostile documents. */
	r3 = hub_test_call(env, "/org/hubd/Hub1", "org.hubd.Hub1.Manager", "SendCommand",
			   g_variant_new("(s)", "{\"deviceId\": \"light-1\", \"endpoints\": 5}"), "(s)", &e3);
	assert_dbus_error(e3, "org.hubd.Hub1.Error.InvalidArgument");
	r4 = hub_test_call(env, "/org/hubd/Hub1", "org.hubd.Hub1.Manager", "SendCommand",
			   g_variant_new("(s)", "{\"deviceId\": \"nobody\", \"endpoints\": []}"), "(s)", &e4);
	assert_dbus_error(e4, "org.hubd.Hub1.Error.NotFound");
	r5 = hub_test_call(env, "/org/hubd/Hub1", "org.hubd.Hub1.Manager", "SendCommand",
			   g_variant_new("(s)", "{{{{"), "(s)", &e5);
	assert_dbus_error(e5, "org.hubd.Hub1.Error.InvalidArgument");
	r6 = hub_test_call(env, "/org/hubd/Hub1", "org.hubd.Hub1.Manager", "WaitCommand",
			   g_variant_new("(su)", "never-sent", 100), "(is)", &e6);
	assert_dbus_error(e6, "org.hubd.Hub1.Error.NotFound");
	r7 = hub_test_call(env, "/org/hubd/Hub1", "org.hubd.Hub1.Manager", "StartDiscovery", g_variant_new("(u)", 0),
			   NULL, &e7);
	assert_dbus_error(e7, "org.hubd.Hub1.Error.InvalidArgument");
	/* Hostile documents: very deep nesting, a lone surrogate, 2 MB of text. */
	{
		g_autofree char *deep = g_strnfill(100000, '[');
		g_autofree char *big = g_strnfill(2 * 1024 * 1024, ' ');
		const char *hostile[] = { deep, "{\"deviceId\": \"\\ud800\", \"endpoints\": []}", big };

		for (guint i = 0; i < G_N_ELEMENTS(hostile); i++) {
			g_autoptr(GError) e = NULL;
			g_autoptr(GVariant) r = hub_test_call(env, "/org/hubd/Hub1", "org.hubd.Hub1.Manager", "SendCommand",
							      g_variant_new("(s)", hostile[i]), "(s)", &e);

			assert_dbus_error(e, "org.hubd.Hub1.Error.InvalidArgument");
		}
	}
	assert_still_serving(env);
	hub_test_env_stop_hubd(env);
}

/* ---- discovery, onboarding, removal ---- */

static gboolean discovery_finished(gpointer data)
{
	return ((Watch *)data)->discovery_finished > 0;
}

static gboolean device_added(gpointer data)
{
	return ((Watch *)data)->added > 0;
}

static gboolean device_removed(gpointer data)
{
	return ((Watch *)data)->removed > 0;
}

static void test_discovery_onboard_remove(void)
{
	g_autoptr(HubTestEnv) env = hub_test_env_new();
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) r1 = NULL, r2 = NULL, r3 = NULL, r4 = NULL, count = NULL;
	g_autoptr(GError) busy = NULL;
	Watch w = { 0 };
	guint sub;
	const char *device_id;

	hub_test_env_write_config(env, "plugins=virtual",
				  "[device plug-1]\ntype=plug\n[device bulb-new-1]\ntype=color-light\nonboarded=false\n");
	hub_test_env_start_hubd(env);
	sub = watch_signals(env, &w, NULL);
	r1 = hub_test_call(env, "/org/hubd/Hub1", "org.hubd.Hub1.Manager", "StartDiscovery", g_variant_new("(u)", 1),
			   NULL, &error);
	g_assert_no_error(error);
	r4 = hub_test_call(env, "/org/hubd/Hub1", "org.hubd.Hub1.Manager", "StartDiscovery", g_variant_new("(u)", 1),
			   NULL, &busy);
	assert_dbus_error(busy, "org.hubd.Hub1.Error.Busy");
	g_assert_true(hub_test_wait_until(discovery_finished, &w, 5000));
	g_assert_cmpuint(w.discovered->len, ==, 1);
	g_assert_cmpstr(g_ptr_array_index(w.discovered, 0), ==, "bulb-new-1");

	r2 = hub_test_call(env, "/org/hubd/Hub1", "org.hubd.Hub1.Manager", "OnboardDevice",
			   g_variant_new("(sss)", "virtual", "bulb-new-1", ""), "(so)", &error);
	g_assert_no_error(error);
	g_variant_get(r2, "(&s&o)", &device_id, NULL);
	g_assert_cmpstr(device_id, ==, "bulb-new-1");
	g_assert_true(hub_test_wait_until(device_added, &w, 5000));
	count = hub_test_get_manager_property(env, "DeviceCount");
	g_assert_cmpuint(g_variant_get_uint32(count), ==, 2);

	/* Onboarded survives a restart. */
	hub_test_env_stop_hubd(env);
	hub_test_env_start_hubd(env);
	g_clear_pointer(&count, g_variant_unref);
	count = hub_test_get_manager_property(env, "DeviceCount");
	g_assert_cmpuint(g_variant_get_uint32(count), ==, 2);

	r3 = hub_test_call(env, "/org/hubd/Hub1", "org.hubd.Hub1.Manager", "RemoveDevice",
			   g_variant_new("(s)", "bulb-new-1"), NULL, &error);
	g_assert_no_error(error);
	g_assert_true(hub_test_wait_until(device_removed, &w, 5000));
	g_clear_pointer(&count, g_variant_unref);
	count = hub_test_get_manager_property(env, "DeviceCount");
	g_assert_cmpuint(g_variant_get_uint32(count), ==, 1);
	watch_clear(env, &w, sub);
	hub_test_env_stop_hubd(env);
}

static gboolean came_back_online(gpointer data)
{
	return ((Watch *)data)->online_seen_true_after;
}

static void test_offline_and_back(void)
{
	g_autoptr(HubTestEnv) env = hub_test_env_new();
	Watch w = { 0 };
	guint sub;

	hub_test_env_write_config(env, "plugins=virtual",
				  "[device flaky-1]\ntype=plug\noffline-period-ms=300\noffline-duration-ms=200\n");
	hub_test_env_start_hubd(env);
	sub = watch_signals(env, &w, "flaky-1");
	g_assert_true(hub_test_wait_until(came_back_online, &w, 5000));
	watch_clear(env, &w, sub);
	hub_test_env_stop_hubd(env);
}

static gboolean two_state_changes(gpointer data)
{
	return ((Watch *)data)->state_changes >= 2;
}

static void test_sensor_reports(void)
{
	g_autoptr(HubTestEnv) env = hub_test_env_new();
	Watch w = { 0 };
	guint sub;

	hub_test_env_write_config(env, "plugins=virtual",
				  "[device climate-1]\ntype=temp-humidity-sensor\nreport-interval-ms=100\n");
	hub_test_env_start_hubd(env);
	sub = watch_signals(env, &w, "climate-1");
	g_assert_true(hub_test_wait_until(two_state_changes, &w, 5000));
	watch_clear(env, &w, sub);
	hub_test_env_stop_hubd(env);
}

/* ---- persistence and start-up problems ---- */

static void test_state_survives_restart(void)
{
	g_autoptr(HubTestEnv) env = start_default();
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) value = NULL;
	g_autoptr(GVariant) online = NULL;
	gint64 ts = 0, ts_restored = 0;

	g_assert_cmpint(set_value(env, "light-1", "1", "matter.LevelControl@1.4", "CurrentLevel",
				  g_variant_new_int64(42), &error),
			==, 200);
	g_assert_no_error(error);
	g_variant_unref(get_value(env, "light-1", "1", "matter.LevelControl@1.4", "CurrentLevel", &ts));
	hub_test_env_stop_hubd(env);

	/* Without its plugin, the device is still known, offline, with its state. */
	hub_test_env_write_config(env, "plugins=none-loaded", LIGHT_CONF);
	hub_test_env_start_hubd(env);
	value = get_value(env, "light-1", "1", "matter.LevelControl@1.4", "CurrentLevel", &ts_restored);
	g_assert_cmpint(g_variant_get_int64(value), ==, 42);
	g_assert_cmpint(ts_restored, ==, ts);
	online = hub_test_get_device_property(env, "light-1", "Online");
	g_assert_false(g_variant_get_boolean(online));
	hub_test_env_stop_hubd(env);
}

static void test_corrupt_database(void)
{
	g_autoptr(HubTestEnv) env = hub_test_env_new();
	g_autofree char *db = g_build_filename(env->state_dir, "hubd.db", NULL);
	g_autofree char *log = NULL;
	g_autoptr(GDir) dir = NULL;
	const char *name;
	gboolean aside = FALSE;

	g_assert_cmpint(g_mkdir(env->state_dir, 0700), ==, 0);
	g_assert_true(g_file_set_contents(db, "this is not an SQLite database, it is garbage. 0123456789abcdef"
					      "0123456789abcdef0123456789abcdef0123456789abcdef",
					  -1, NULL));
	hub_test_env_write_config(env, "plugins=virtual", LIGHT_CONF);
	hub_test_env_start_hubd(env);
	assert_still_serving(env);
	log = hub_test_env_read_log(env);
	g_assert_nonnull(strstr(log, "unusable"));
	dir = g_dir_open(env->state_dir, 0, NULL);
	while ((name = g_dir_read_name(dir)))
		aside |= g_str_has_prefix(name, "hubd.db.corrupt-");
	g_assert_true(aside);
	hub_test_env_stop_hubd(env);
}

/* data/hubd.conf as the package installs it (only the install paths pointed
 * at the test's): every section commented out still makes a working hub. */
static void test_packaged_config(void)
{
	g_autoptr(HubTestEnv) env = hub_test_env_new();
	g_autofree char *packaged = g_build_filename(g_getenv("HUB_TOP_SRCDIR"), "data", "hubd.conf", NULL);
	g_autofree char *text = NULL;
	g_autofree char *plugin_dir = g_strdup_printf("plugin-dir=%s", env->plugin_dir);
	g_autofree char *capability_dir = g_strdup_printf("capability-dir=%s", env->capability_dir);
	g_autoptr(GString) conf = NULL;
	g_autoptr(GVariant) count = NULL;
	g_autoptr(GVariant) cloud = NULL;
	g_autoptr(GVariant) plugins = NULL;
	g_autofree char *log = NULL;

	g_assert_true(g_file_get_contents(packaged, &text, NULL, NULL));
	conf = g_string_new(text);
	g_assert_cmpuint(g_string_replace(conf, "#plugin-dir=/usr/lib/<arch>/hubd/plugins", plugin_dir, 1), ==, 1);
	g_assert_cmpuint(g_string_replace(conf, "#capability-dir=/usr/share/hubd/capabilities", capability_dir, 1), ==,
			 1);
	g_assert_true(g_file_set_contents(env->config_path, conf->str, -1, NULL));
	/* The plugins of the hubd package (virtual is there already). */
	hub_test_env_install_plugin(env, "certhandlers/file/.libs/certstore-file.so", "certstore-file.so", 0755);
	hub_test_env_install_plugin(env, "plugins/transport-mqtt/.libs/mqtt.so", "mqtt.so", 0755);
	hub_test_env_install_plugin(env, "plugins/transport-aws-iot/.libs/aws-iot.so", "aws-iot.so", 0755);
	hub_test_env_start_hubd(env);
	count = hub_test_get_manager_property(env, "DeviceCount");
	g_assert_cmpuint(g_variant_get_uint32(count), ==, 0);
	cloud = hub_test_get_manager_property(env, "CloudState");
	g_assert_cmpstr(g_variant_get_string(cloud, NULL), ==, ""); /* no cloud configured */
	/* The transports are installed but unused: not initialised. */
	plugins = hub_test_get_manager_property(env, "Plugins");
	g_assert_cmpuint(g_variant_n_children(plugins), ==, 2);
	for (guint i = 0; i < 2; i++) {
		const char *name, *kind;

		g_variant_get_child(plugins, i, "(&s&s&s&s&sb)", &name, &kind, NULL, NULL, NULL, NULL);
		g_assert_true(g_str_equal(name, "virtual") || g_str_equal(name, "file"));
	}
	hub_test_env_stop_hubd(env);
	log = hub_test_env_read_log(env);
	g_assert_null(strstr(log, "unknown key"));
	g_assert_null(strstr(log, "WARNING"));
}

static void test_missing_state_dir(void)
{
	g_autoptr(HubTestEnv) env = hub_test_env_new();

	g_assert_false(g_file_test(env->state_dir, G_FILE_TEST_EXISTS));
	hub_test_env_write_config(env, "plugins=virtual", LIGHT_CONF);
	hub_test_env_start_hubd(env);
	assert_still_serving(env);
	g_assert_true(g_file_test(env->state_dir, G_FILE_TEST_IS_DIR));
	hub_test_env_stop_hubd(env);
}

static void test_second_daemon_refused(void)
{
	g_autoptr(HubTestEnv) env = start_default();
	g_autoptr(GSubprocess) second = NULL;
	g_autofree char *log = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *other_state = hub_test_env_path(env, "state2");
	g_autofree char *saved = g_strdup(env->state_dir);

	g_free(env->state_dir);
	env->state_dir = g_strdup(other_state);
	second = hub_test_env_spawn_hubd(env);
	g_subprocess_wait(second, NULL, &error);
	g_assert_no_error(error);
	g_assert_true(g_subprocess_get_if_exited(second));
	g_assert_cmpint(g_subprocess_get_exit_status(second), ==, 1);
	log = hub_test_env_read_log(env);
	g_assert_nonnull(strstr(log, "already owns org.hubd.Hub1"));
	g_free(env->state_dir);
	env->state_dir = g_strdup(saved);
	assert_still_serving(env);
	hub_test_env_stop_hubd(env);
}

static void test_plugin_bad_permissions(void)
{
	g_autoptr(HubTestEnv) env = hub_test_env_new();
	g_autofree char *path = g_build_filename(env->plugin_dir, "virtual.so", NULL);
	g_autofree char *log = NULL;
	g_autoptr(GVariant) plugins = NULL;
	g_autoptr(GVariant) count = NULL;

	g_assert_cmpint(g_chmod(path, 0666), ==, 0);
	hub_test_env_write_config(env, NULL, LIGHT_CONF);
	hub_test_env_start_hubd(env);
	plugins = hub_test_get_manager_property(env, "Plugins");
	g_assert_cmpuint(g_variant_n_children(plugins), ==, 0);
	count = hub_test_get_manager_property(env, "DeviceCount");
	g_assert_cmpuint(g_variant_get_uint32(count), ==, 0);
	log = hub_test_env_read_log(env);
	g_assert_nonnull(strstr(log, "writable by group or other"));
	hub_test_env_stop_hubd(env);
}

static void test_bad_capability_file(void)
{
	g_autoptr(HubTestEnv) env = hub_test_env_new();
	g_autofree char *caps = hub_test_env_path(env, "caps");
	g_autoptr(GDir) dir = g_dir_open(env->capability_dir, 0, NULL);
	g_autofree char *bad1 = g_build_filename(caps, "broken.json", NULL);
	g_autofree char *bad2 = g_build_filename(caps, "wrong-schema.json", NULL);
	g_autofree char *log = NULL;
	const char *name;

	g_assert_cmpint(g_mkdir(caps, 0755), ==, 0);
	while ((name = g_dir_read_name(dir))) {
		g_autofree char *from = g_build_filename(env->capability_dir, name, NULL);
		g_autofree char *to = g_build_filename(caps, name, NULL);
		g_autofree char *text = NULL;

		g_assert_true(g_file_get_contents(from, &text, NULL, NULL));
		g_assert_true(g_file_set_contents(to, text, -1, NULL));
	}
	g_assert_true(g_file_set_contents(bad1, "{ \"$id\": ", -1, NULL));
	g_assert_true(g_file_set_contents(bad2, "{\"$id\": \"/schema-versions/capability/acme.Thing@1.0\", "
					  "\"name\": \"Thing\", \"extrinsicId\": \"0x1\", \"extrinsicVersion\": \"1\", "
					  "\"properties\": {\"X\": {\"extrinsicId\": \"0x0\", \"value\": {\"not\": {}}}}}",
					  -1, NULL));
	g_free(env->capability_dir);
	env->capability_dir = g_strdup(caps);
	hub_test_env_write_config(env, "plugins=virtual", LIGHT_CONF);
	hub_test_env_start_hubd(env);
	assert_still_serving(env);
	log = hub_test_env_read_log(env);
	g_assert_nonnull(strstr(log, "broken.json"));
	g_assert_nonnull(strstr(log, "wrong-schema.json"));
	hub_test_env_stop_hubd(env);
}

typedef struct {
	HubTestEnv *env;
	const char *text;
} LogWait;

static gboolean log_has(gpointer data)
{
	LogWait *w = data;
	g_autofree char *log = hub_test_env_read_log(w->env);

	return strstr(log, w->text) != NULL;
}

static void test_plugin_reports_violations(void)
{
	g_autoptr(HubTestEnv) env = hub_test_env_new();
	g_autoptr(GVariant) level = NULL;
	g_autoptr(GVariant) on = NULL;
	g_autofree char *log = NULL;
	const char *refused[] = { "device_add(bad id) returned -22", "capability_add(unknown) returned -2",
				  "report(out of range) returned -22", "report(wrong type) returned -22",
				  "report(broken json) returned -22", "report(unknown property) returned -2",
				  "report(unknown endpoint) returned -2", "report(foreign device) returned -2",
				  "report(null value pointer) returned -22", "event(bad parameter) returned -22",
				  "event(unknown) returned -2", "command_complete(unknown id) returned -2",
				  "report(valid CurrentLevel) returned 0",
				  "report(unsolicited non-reportable) returned -95", "report(read Counter) returned 0",
				  "report_health(absurd length) returned -22", "timer_add(0 ms, repeating) returned 0",
				  "zero timer fired 20 times", "device_remove(inside command) returned 0",
				  "still reads bad-2 after removing it" };
	g_autofree char *extra = g_build_filename(g_getenv("HUB_TOP_SRCDIR") ? g_getenv("HUB_TOP_SRCDIR") : ".", "tests",
						  "data", "capabilities-extra", "acme.Meter@1.0.json", NULL);
	g_autofree char *extra_copy = g_build_filename(env->capability_dir, "acme.Meter@1.0.json", NULL);
	g_autofree char *extra_text = NULL;
	g_autoptr(GVariant) read = NULL;
	g_autoptr(GVariant) counter = NULL;
	g_autoptr(GError) error = NULL;
	gint code = 0;

	/* A capability with a property that is not reportable. */
	g_assert_true(g_file_get_contents(extra, &extra_text, NULL, NULL));
	g_assert_true(g_file_set_contents(extra_copy, extra_text, -1, NULL));
	hub_test_env_install_plugin(env, "tests/plugins/.libs/mock-bad-reporter.so", "mock-bad-reporter.so", 0755);
	hub_test_env_write_config(env, "plugins=bad-reporter", "");
	hub_test_env_start_hubd(env);
	/* Only the valid reports were stored. */
	level = get_value(env, "bad-1", "1", "matter.LevelControl@1.4", "CurrentLevel", NULL);
	g_assert_cmpint(g_variant_get_int64(level), ==, 10);
	on = get_value(env, "bad-1", "1", "matter.OnOff@1.4", "OnOff", NULL);
	g_assert_true(g_variant_get_boolean(on));
	/* Not reportable: refused unsolicited, accepted as the answer to ReadState. */
	read = device_call(env, "bad-1", "InvokeAndWait",
			   g_variant_new("(ssssu)", "1", "acme.Meter@1.0", "ReadState", "{\"propertiesToRead\": [\"Counter\"]}", 0),
			   "(sis)", &error);
	g_assert_no_error(error);
	g_variant_get(read, "(&si&s)", NULL, &code, NULL);
	g_assert_cmpint(code, ==, 200);
	counter = get_value(env, "bad-1", "1", "acme.Meter@1.0", "Counter", NULL);
	g_assert_cmpint(g_variant_get_int64(counter), ==, 7);
	/* A device removed inside its own command: no crash, the command answered. */
	{
		g_autoptr(GVariant) r1 = device_call(env, "bad-2", "InvokeAndWait",
						     g_variant_new("(ssssu)", "1", "matter.OnOff@1.4", "On", "{}", 0),
						     "(sis)", &error);

		g_assert_no_error(error);
		g_variant_get(r1, "(&si&s)", NULL, &code, NULL);
		g_assert_cmpint(code, ==, 200);
	}
	/* Garbage in a completion still answers the caller, in valid UTF-8. */
	{
		g_autoptr(GVariant) r2 = device_call(env, "bad-1", "InvokeAndWait",
						     g_variant_new("(ssssu)", "1", "matter.OnOff@1.4", "Off", "{}", 0),
						     "(sis)", &error);
		const char *doc;

		g_assert_no_error(error);
		g_variant_get(r2, "(&si&s)", NULL, &code, &doc);
		g_assert_cmpint(code, ==, 500);
		g_assert_true(g_utf8_validate(doc, -1, NULL));
	}
	/* Parked until exit(), which completes it while the daemon stops. */
	{
		g_autoptr(GVariant) r3 = device_call(env, "bad-1", "Invoke",
						     g_variant_new("(ssss)", "1", "matter.OnOff@1.4", "Toggle", "{}"),
						     "(s)", &error);

		g_assert_no_error(error);
	}
	/* The 0 ms repeating timer runs on its own schedule; the daemon kept serving meanwhile. */
	{
		LogWait w = { env, "zero timer fired 20 times" };

		g_assert_true(hub_test_wait_until(log_has, &w, 5000));
	}
	log = hub_test_env_read_log(env);
	for (guint i = 0; i < G_N_ELEMENTS(refused); i++)
		if (!strstr(log, refused[i]))
			g_error("expected \"%s\" in the log:\n%s", refused[i], log);
	g_assert_nonnull(strstr(log, "value 999 is above the maximum 254"));
	hub_test_env_stop_hubd(env);
	g_free(log);
	log = hub_test_env_read_log(env);
	g_assert_nonnull(strstr(log, "command_complete(from exit) returned 0"));
}

/* Runs hubctl as user nobody (setpriv); returns its exit status. */
static gint run_hubctl_as_nobody(HubTestEnv *env, const char *const *args, char **err)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GSubprocess) process = NULL;
	g_autoptr(GError) error = NULL;

	g_ptr_array_add(argv, g_strdup("setpriv"));
	g_ptr_array_add(argv, g_strdup("--reuid=nobody"));
	g_ptr_array_add(argv, g_strdup("--regid=nogroup"));
	g_ptr_array_add(argv, g_strdup("--clear-groups"));
	g_ptr_array_add(argv, g_build_filename(g_getenv("HUB_TOP_BUILDDIR"), "tools", "hubctl", NULL));
	g_ptr_array_add(argv, g_strdup("--address"));
	g_ptr_array_add(argv, g_strdup(env->bus_address));
	for (guint i = 0; args[i]; i++)
		g_ptr_array_add(argv, g_strdup(args[i]));
	g_ptr_array_add(argv, NULL);
	process = g_subprocess_newv((const char *const *)argv->pdata,
				    G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
	g_assert_no_error(error);
	g_subprocess_communicate_utf8(process, NULL, NULL, NULL, err, &error);
	g_assert_no_error(error);
	return g_subprocess_get_exit_status(process);
}

static void test_writes_need_group_hubd(void)
{
	g_autoptr(HubTestEnv) env = NULL;
	g_autofree char *err1 = NULL, *err2 = NULL, *err3 = NULL;
	g_autoptr(GVariant) before = NULL, after = NULL;
	const char *erase[] = { "cert", "erase", "claim", NULL };
	const char *set[] = { "set", "light-1", "1", "matter.OnOff@1.4", "OnOff", "true", NULL };
	const char *get[] = { "get", "light-1", "1", "matter.OnOff@1.4", "OnOff", NULL };
	g_autofree char *setpriv = g_find_program_in_path("setpriv");

	if (geteuid() != 0 || !setpriv) {
		g_test_skip("needs root and setpriv to act as another user");
		return;
	}
	env = start_default();
	before = get_value(env, "light-1", "1", "matter.OnOff@1.4", "OnOff", NULL);
	/* Reading is open to everyone... */
	g_assert_cmpint(run_hubctl_as_nobody(env, get, &err1), ==, 0);
	/* ...changing needs group hubd, checked by the daemon even on an open bus. */
	g_assert_cmpint(run_hubctl_as_nobody(env, set, &err2), !=, 0);
	g_assert_nonnull(strstr(err2, "group hubd"));
	g_assert_cmpint(run_hubctl_as_nobody(env, erase, &err3), !=, 0);
	g_assert_nonnull(strstr(err3, "group hubd"));
	after = get_value(env, "light-1", "1", "matter.OnOff@1.4", "OnOff", NULL);
	g_assert_true(g_variant_equal(before, after));
	hub_test_env_stop_hubd(env);
}

/* ---- the XML is the contract ---- */

static void assert_interface_matches(GDBusInterfaceInfo *want, GDBusInterfaceInfo *got)
{
	g_assert_nonnull(got);
	for (guint i = 0; want->methods && want->methods[i]; i++) {
		GDBusMethodInfo *wm = want->methods[i];
		GDBusMethodInfo *gm = g_dbus_interface_info_lookup_method(got, wm->name);

		if (!gm)
			g_error("%s.%s is in the XML but not on the bus", want->name, wm->name);
		for (guint a = 0; wm->in_args && wm->in_args[a]; a++) {
			g_assert_nonnull(gm->in_args[a]);
			g_assert_cmpstr(wm->in_args[a]->name, ==, gm->in_args[a]->name);
			g_assert_cmpstr(wm->in_args[a]->signature, ==, gm->in_args[a]->signature);
		}
		for (guint a = 0; wm->out_args && wm->out_args[a]; a++) {
			g_assert_nonnull(gm->out_args[a]);
			g_assert_cmpstr(wm->out_args[a]->name, ==, gm->out_args[a]->name);
			g_assert_cmpstr(wm->out_args[a]->signature, ==, gm->out_args[a]->signature);
		}
	}
	for (guint i = 0; got->methods && got->methods[i]; i++)
		if (!g_dbus_interface_info_lookup_method(want, got->methods[i]->name))
			g_error("%s.%s is on the bus but not in the XML", want->name, got->methods[i]->name);
	for (guint i = 0; want->properties && want->properties[i]; i++) {
		GDBusPropertyInfo *gp = g_dbus_interface_info_lookup_property(got, want->properties[i]->name);

		if (!gp)
			g_error("property %s.%s missing on the bus", want->name, want->properties[i]->name);
		g_assert_cmpstr(gp->signature, ==, want->properties[i]->signature);
		g_assert_cmpint(gp->flags, ==, want->properties[i]->flags);
	}
	for (guint i = 0; got->properties && got->properties[i]; i++)
		if (!g_dbus_interface_info_lookup_property(want, got->properties[i]->name))
			g_error("property %s.%s is on the bus but not in the XML", want->name, got->properties[i]->name);
	for (guint i = 0; want->signals && want->signals[i]; i++) {
		GDBusSignalInfo *gs = g_dbus_interface_info_lookup_signal(got, want->signals[i]->name);

		if (!gs)
			g_error("signal %s.%s missing on the bus", want->name, want->signals[i]->name);
		for (guint a = 0; want->signals[i]->args && want->signals[i]->args[a]; a++) {
			g_assert_nonnull(gs->args[a]);
			g_assert_cmpstr(want->signals[i]->args[a]->name, ==, gs->args[a]->name);
			g_assert_cmpstr(want->signals[i]->args[a]->signature, ==, gs->args[a]->signature);
		}
	}
	for (guint i = 0; got->signals && got->signals[i]; i++)
		if (!g_dbus_interface_info_lookup_signal(want, got->signals[i]->name))
			g_error("signal %s.%s is on the bus but not in the XML", want->name, got->signals[i]->name);
}

static void check_introspection(HubTestEnv *env, const char *xml_name, const char *path, const char *iface)
{
	g_autofree char *xml_path = g_build_filename(g_getenv("HUB_TOP_SRCDIR") ? g_getenv("HUB_TOP_SRCDIR") : ".",
						     "dbus", xml_name, NULL);
	g_autofree char *xml = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GDBusNodeInfo) want = NULL;
	g_autoptr(GDBusNodeInfo) got = NULL;
	g_autoptr(GVariant) reply = NULL;
	const char *text;

	g_assert_true(g_file_get_contents(xml_path, &xml, NULL, &error));
	want = g_dbus_node_info_new_for_xml(xml, &error);
	g_assert_no_error(error);
	reply = hub_test_call(env, path, "org.freedesktop.DBus.Introspectable", "Introspect", NULL, "(s)", &error);
	g_assert_no_error(error);
	g_variant_get(reply, "(&s)", &text);
	got = g_dbus_node_info_new_for_xml(text, &error);
	g_assert_no_error(error);
	assert_interface_matches(g_dbus_node_info_lookup_interface(want, iface),
				 g_dbus_node_info_lookup_interface(got, iface));
}

static void test_introspection_matches_xml(void)
{
	g_autoptr(HubTestEnv) env = start_default();
	g_autofree char *light = hub_test_device_path("light-1");

	check_introspection(env, "org.hubd.Hub1.Manager.xml", "/org/hubd/Hub1", "org.hubd.Hub1.Manager");
	check_introspection(env, "org.hubd.Hub1.Device.xml", light, "org.hubd.Hub1.Device");
	check_introspection(env, "org.hubd.Hub1.Certificates.xml", "/org/hubd/Hub1", "org.hubd.Hub1.Certificates");
	hub_test_env_stop_hubd(env);
}

/* Type=notify and WatchdogSec= (systemd): READY=1 once the bus name is
 * owned, WATCHDOG=1 from the main loop twice per period, STOPPING=1. */
static void test_systemd_notify(void)
{
	g_autoptr(HubTestEnv) env = hub_test_env_new();
	g_autofree char *path = hub_test_env_path(env, "notify.sock");
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	GString *got = g_string_new(NULL);
	g_autofree char *all = NULL;
	guint pings = 0;
	gint64 deadline;
	int fd;

	g_assert_cmpuint(strlen(path), <, sizeof(addr.sun_path));
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
	hub_test_env_write_config(env, "plugins=virtual", LIGHT_CONF);
	g_setenv("NOTIFY_SOCKET", path, TRUE);
	g_setenv("WATCHDOG_USEC", "200000", TRUE);
	hub_test_env_start_hubd(env);
	g_unsetenv("NOTIFY_SOCKET");
	g_unsetenv("WATCHDOG_USEC");
	/* One second: about ten pings at 100 ms. */
	deadline = g_get_monotonic_time() + G_USEC_PER_SEC;
	while (g_get_monotonic_time() < deadline) {
		char buf[256];
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);

		if (n > 0) {
			buf[n] = '\0';
			g_string_append_printf(got, "%s\n", buf);
			pings += strstr(buf, "WATCHDOG=1") != NULL;
		} else {
			g_usleep(10 * 1000);
		}
	}
	g_assert_true(g_str_has_prefix(got->str, "READY=1\n"));
	g_assert_cmpuint(pings, >=, 5);
	g_assert_cmpuint(pings, <=, 15);
	hub_test_env_stop_hubd(env);
	{
		char buf[256];
		ssize_t n;

		while ((n = recv(fd, buf, sizeof(buf) - 1, 0)) > 0) {
			buf[n] = '\0';
			g_string_append_printf(got, "%s\n", buf);
		}
	}
	all = g_string_free(got, FALSE);
	g_assert_nonnull(strstr(all, "STOPPING=1"));
	close(fd);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/hub/daemon/objects-published", test_objects_published);
	g_test_add_func("/hub/daemon/systemd-notify", test_systemd_notify);
	g_test_add_func("/hub/daemon/plugins-property", test_plugins_property);
	g_test_add_func("/hub/daemon/set-changes-state", test_set_changes_state);
	g_test_add_func("/hub/daemon/invoke-two-phase", test_invoke_two_phase);
	g_test_add_func("/hub/daemon/invoke-and-wait-result", test_invoke_and_wait_result);
	g_test_add_func("/hub/daemon/read-state", test_read_state);
	g_test_add_func("/hub/daemon/trace-id-runs-once", test_trace_id_runs_once);
	g_test_add_func("/hub/daemon/command-timeout", test_command_timeout);
	g_test_add_func("/hub/daemon/multi-action-command", test_multi_action_command);
	g_test_add_func("/hub/daemon/bad-input/targets-and-parameters", test_bad_targets);
	g_test_add_func("/hub/daemon/bad-input/writes", test_bad_writes);
	g_test_add_func("/hub/daemon/bad-input/calls", test_bad_calls);
	g_test_add_func("/hub/daemon/discovery-onboard-remove", test_discovery_onboard_remove);
	g_test_add_func("/hub/daemon/offline-and-back", test_offline_and_back);
	g_test_add_func("/hub/daemon/sensor-reports", test_sensor_reports);
	g_test_add_func("/hub/daemon/state-survives-restart", test_state_survives_restart);
	g_test_add_func("/hub/daemon/bad-input/corrupt-database", test_corrupt_database);
	g_test_add_func("/hub/daemon/missing-state-dir", test_missing_state_dir);
	g_test_add_func("/hub/daemon/packaged-config", test_packaged_config);
	g_test_add_func("/hub/daemon/bad-input/second-daemon", test_second_daemon_refused);
	g_test_add_func("/hub/daemon/bad-input/plugin-permissions", test_plugin_bad_permissions);
	g_test_add_func("/hub/daemon/bad-input/capability-file", test_bad_capability_file);
	g_test_add_func("/hub/daemon/introspection-matches-xml", test_introspection_matches_xml);
	g_test_add_func("/hub/daemon/bad-input/plugin-reports-violations", test_plugin_reports_violations);
	g_test_add_func("/hub/daemon/writes-need-group-hubd", test_writes_need_group_hubd);
	return g_test_run();
}
