/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-hubctl.c - the real tools/hubctl against the real hubd and virtual
 * plugin on a private bus: every command, its text and JSON output, exit
 * codes and error messages, as doc/hubctl.md promises them.
 */
#include "config.h"

#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/prctl.h>

#include <json-glib/json-glib.h>

#include "hub-test-env.h"

#define DEVICES_CONF                                                                \
	"[device plug-1]\ntype=plug\nname=Test plug\n"                              \
	"[device light-1]\ntype=color-light\nname=Test light\n"                     \
	"[device fan-1]\ntype=fan\n"                                                \
	"[device thermostat-1]\ntype=thermostat\n"                                  \
	"[device lock-1]\ntype=door-lock\npin=1234\n"                               \
	"[device bulb-new-1]\ntype=dimmable-light\nname=New bulb\nonboarded=false\n"
#define N_ONBOARDED 5

#define ISO_TIME_RE "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z"
#define CLOCK_RE "[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}"
#define USAGE_HINT "Try 'hubctl --help' for more information."
#define NOT_RUNNING "hubd is not running (nobody owns org.hubd.Hub1 on this bus)"

static HubTestEnv *start_default(void)
{
	HubTestEnv *env = hub_test_env_new();

	hub_test_env_write_config(env, "plugins=virtual\ncommand-timeout-ms=5000", DEVICES_CONF);
	hub_test_env_start_hubd(env);
	return env;
}

static const char *builddir(void)
{
	const char *dir = g_getenv("HUB_TOP_BUILDDIR");

	return dir ? dir : ".";
}

/* ---- running hubctl ---- */

typedef struct {
	gint status;
	char *out;
	char *err;
} HubctlRun;

static void hubctl_run_clear(HubctlRun *run)
{
	g_clear_pointer(&run->out, g_free);
	g_clear_pointer(&run->err, g_free);
	run->status = -1;
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(HubctlRun, hubctl_run_clear)

static void run_va(HubTestEnv *env, HubctlRun *run, gboolean session, va_list ap)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autofree char *line = NULL;
	const char *arg;

	hubctl_run_clear(run);
	g_ptr_array_add(argv, (gpointer) "tools/hubctl");
	if (session)
		g_ptr_array_add(argv, (gpointer) "--session");
	while ((arg = va_arg(ap, const char *)))
		g_ptr_array_add(argv, (gpointer)arg);
	g_ptr_array_add(argv, NULL);
	/* A crash makes hub_test_run_tool() ask for the exit status of a
	 * signalled process: a critical, fatal under gtest. */
	run->status = hub_test_run_tool(env, (const char *const *)argv->pdata, &run->out, &run->err);
	line = g_strjoinv(" ", (char **)argv->pdata);
	g_test_message("$ %s -> exit %d\n%s%s", line, run->status, run->out, run->err);
}

/* hubctl --session ARGS..., NULL-terminated; the result in @run. */
static void hubctl(HubTestEnv *env, HubctlRun *run, ...) G_GNUC_NULL_TERMINATED;
static void hubctl(HubTestEnv *env, HubctlRun *run, ...)
{
	va_list ap;

	va_start(ap, run);
	run_va(env, run, TRUE, ap);
	va_end(ap);
}

/* hubctl ARGS... without --session. */
static void hubctl_bare(HubTestEnv *env, HubctlRun *run, ...) G_GNUC_NULL_TERMINATED;
static void hubctl_bare(HubTestEnv *env, HubctlRun *run, ...)
{
	va_list ap;

	va_start(ap, run);
	run_va(env, run, FALSE, ap);
	va_end(ap);
}

static void assert_success(const HubctlRun *run)
{
	if (run->status != 0)
		g_error("hubctl exited %d, expected 0; stderr:\n%s", run->status, run->err);
	g_assert_cmpstr(run->err, ==, "");
}

/* Exit @status, nothing on stdout, and @message on stderr. */
static void assert_failure(const HubctlRun *run, gint status, const char *message)
{
	if (run->status != status)
		g_error("hubctl exited %d, expected %d; stderr:\n%s", run->status, status, run->err);
	if (!strstr(run->err, message))
		g_error("expected \"%s\" on stderr, got:\n%s", message, run->err);
	g_assert_true(g_str_has_prefix(run->err, "hubctl: "));
	g_assert_cmpstr(run->out, ==, "");
}

static void assert_usage_error(const HubctlRun *run, const char *message)
{
	assert_failure(run, 2, message);
	g_assert_nonnull(strstr(run->err, USAGE_HINT));
}

static void assert_matches(const char *pattern, const char *text)
{
	if (!g_regex_match_simple(pattern, text, G_REGEX_MULTILINE, 0))
		g_error("expected /%s/ in:\n%s", pattern, text);
}

/* The lines of @text without the empty string after the last newline. */
static GStrv split_lines(const char *text)
{
	g_autofree char *copy = g_strdup(text);

	g_assert_true(copy[0] == '\0' || g_str_has_suffix(copy, "\n"));
	if (copy[0])
		copy[strlen(copy) - 1] = '\0';
	return copy[0] ? g_strsplit(copy, "\n", -1) : g_new0(char *, 1);
}

/* The value hubctl get prints for one property. */
static char *get_value(HubTestEnv *env, const char *device, const char *cap, const char *prop)
{
	g_auto(HubctlRun) run = { 0 };

	hubctl(env, &run, "get", device, "1", cap, prop, NULL);
	assert_success(&run);
	return g_strdup(g_strchomp(run.out));
}

static void assert_value(HubTestEnv *env, const char *device, const char *cap, const char *prop, const char *want)
{
	g_autofree char *value = get_value(env, device, cap, prop);

	g_assert_cmpstr(value, ==, want);
}

/* ---- JSON ---- */

static JsonNode *parse_json(const char *text)
{
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error = NULL;

	if (!json_parser_load_from_data(parser, text, -1, &error))
		g_error("not JSON (%s):\n%s", error->message, text);
	return json_parser_steal_root(parser);
}

static JsonObject *as_object(JsonNode *node)
{
	g_assert_nonnull(node);
	g_assert_true(JSON_NODE_HOLDS_OBJECT(node));
	return json_node_get_object(node);
}

static JsonArray *as_array(JsonNode *node)
{
	g_assert_nonnull(node);
	g_assert_true(JSON_NODE_HOLDS_ARRAY(node));
	return json_node_get_array(node);
}

static JsonObject *object_member(JsonObject *object, const char *name)
{
	return as_object(json_object_get_member(object, name));
}

static JsonArray *array_member(JsonObject *object, const char *name)
{
	return as_array(json_object_get_member(object, name));
}

static JsonObject *object_element(JsonArray *array, guint index)
{
	g_assert_cmpuint(index, <, json_array_get_length(array));
	return as_object(json_array_get_element(array, index));
}

static const char *string_member(JsonObject *object, const char *name)
{
	JsonNode *node = json_object_get_member(object, name);

	g_assert_nonnull(node);
	g_assert_cmpint(json_node_get_value_type(node), ==, G_TYPE_STRING);
	return json_node_get_string(node);
}

static gboolean boolean_member(JsonObject *object, const char *name)
{
	JsonNode *node = json_object_get_member(object, name);

	g_assert_nonnull(node);
	g_assert_cmpint(json_node_get_value_type(node), ==, G_TYPE_BOOLEAN);
	return json_node_get_boolean(node);
}

static gint64 int_member(JsonObject *object, const char *name)
{
	JsonNode *node = json_object_get_member(object, name);

	g_assert_nonnull(node);
	g_assert_cmpint(json_node_get_value_type(node), ==, G_TYPE_INT64);
	return json_node_get_int(node);
}

/* @object has exactly the members @names (NULL-terminated), no others. */
static void assert_members(JsonObject *object, const char *const *names)
{
	g_autoptr(GList) members = json_object_get_members(object);
	guint n = 0;

	for (; names[n]; n++)
		if (!json_object_has_member(object, names[n]))
			g_error("member \"%s\" missing", names[n]);
	if (g_list_length(members) != n) {
		g_autoptr(GString) all = g_string_new(NULL);

		for (GList *l = members; l; l = l->next)
			g_string_append_printf(all, " %s", (const char *)l->data);
		g_error("expected %u members, got:%s", n, all->str);
	}
}

/* ["a", "b"] -> "a,b" */
static char *join_strings(JsonArray *array)
{
	GString *text = g_string_new(NULL);

	for (guint i = 0; i < json_array_get_length(array); i++) {
		JsonNode *node = json_array_get_element(array, i);

		g_assert_cmpint(json_node_get_value_type(node), ==, G_TYPE_STRING);
		g_string_append_printf(text, "%s%s", i ? "," : "", json_node_get_string(node));
	}
	return g_string_free(text, FALSE);
}

static void assert_strings(JsonArray *array, const char *want)
{
	g_autofree char *got = join_strings(array);

	g_assert_cmpstr(got, ==, want);
}

/* A Device method returning one JSON document (GetCapabilityReport, GetStateReport). */
static JsonNode *device_report(HubTestEnv *env, const char *device, const char *method)
{
	g_autofree char *path = hub_test_device_path(device);
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = hub_test_call(env, path, "org.hubd.Hub1.Device", method, NULL, "(s)", &error);
	const char *text;

	g_assert_no_error(error);
	g_variant_get(reply, "(&s)", &text);
	return parse_json(text);
}

static void assert_json_equal(JsonNode *got, JsonNode *want)
{
	if (!json_node_equal(got, want)) {
		g_autofree char *a = json_to_string(got, TRUE);
		g_autofree char *b = json_to_string(want, TRUE);

		g_error("hubctl printed\n%s\nbut the daemon sent\n%s", a, b);
	}
}

/* ---- a hubctl running in the background (monitor) ---- */

typedef struct {
	GDataInputStream *in;
	GPtrArray *lines;
	gboolean eof;
	const char *name;
} LineReader;

static void reader_next(LineReader *reader);

static void on_line(GObject *source, GAsyncResult *result, gpointer user_data)
{
	LineReader *reader = user_data;
	g_autoptr(GError) error = NULL;
	char *line = g_data_input_stream_read_line_finish_utf8(G_DATA_INPUT_STREAM(source), result, NULL, &error);

	if (!line) {
		if (error)
			g_test_message("monitor %s: %s", reader->name, error->message);
		reader->eof = TRUE;
		return;
	}
	g_test_message("monitor %s: %s", reader->name, line);
	g_ptr_array_add(reader->lines, line);
	reader_next(reader);
}

static void reader_next(LineReader *reader)
{
	g_data_input_stream_read_line_async(reader->in, G_PRIORITY_DEFAULT, NULL, on_line, reader);
}

static void reader_init(LineReader *reader, GInputStream *stream, const char *name)
{
	reader->in = g_data_input_stream_new(stream);
	reader->lines = g_ptr_array_new_with_free_func(g_free);
	reader->name = name;
	reader_next(reader);
}

static gboolean reader_done(gpointer data)
{
	return ((LineReader *)data)->eof;
}

typedef struct {
	LineReader *reader;
	const char *pattern;
	guint from;
	gint found;
} LineWait;

static gboolean line_found(gpointer data)
{
	LineWait *w = data;

	for (guint i = w->from; i < w->reader->lines->len; i++)
		if (g_regex_match_simple(w->pattern, w->reader->lines->pdata[i], 0, 0)) {
			w->found = (gint)i;
			return TRUE;
		}
	return FALSE;
}

/* Index of the first line from @from on that matches @pattern; fails the
 * test after @timeout_ms. */
static guint wait_for_line(LineReader *reader, const char *pattern, guint from, guint timeout_ms)
{
	LineWait w = { reader, pattern, from, -1 };

	if (!hub_test_wait_until(line_found, &w, timeout_ms))
		g_error("no line matching /%s/ on the monitor's %s within %u ms", pattern, reader->name, timeout_ms);
	return (guint)w.found;
}

static guint count_lines(LineReader *reader, const char *pattern)
{
	guint n = 0;

	for (guint i = 0; i < reader->lines->len; i++)
		n += g_regex_match_simple(pattern, reader->lines->pdata[i], 0, 0);
	return n;
}

typedef struct {
	GSubprocess *process;
	LineReader out;
	LineReader err;
} Monitor;

static void die_with_parent(gpointer data)
{
	prctl(PR_SET_PDEATHSIG, SIGTERM);
}

/* Starts hubctl --session monitor [--json]; returns once it printed its
 * readiness line on stderr. */
static Monitor *monitor_start(HubTestEnv *env, gboolean json)
{
	g_autoptr(GSubprocessLauncher) launcher =
		g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
	g_autofree char *path = g_build_filename(builddir(), "tools", "hubctl", NULL);
	g_autoptr(GError) error = NULL;
	Monitor *mon = g_new0(Monitor, 1);

	g_subprocess_launcher_setenv(launcher, "DBUS_SESSION_BUS_ADDRESS", env->bus_address, TRUE);
	g_subprocess_launcher_set_child_setup(launcher, die_with_parent, NULL, NULL);
	mon->process = g_subprocess_launcher_spawn(launcher, &error, path, "--session", "monitor",
						   json ? "--json" : NULL, NULL);
	g_assert_no_error(error);
	reader_init(&mon->out, g_subprocess_get_stdout_pipe(mon->process), "stdout");
	reader_init(&mon->err, g_subprocess_get_stderr_pipe(mon->process), "stderr");
	wait_for_line(&mon->err, "^Monitoring hubd; press Ctrl-C to stop\\.$", 0, 10000);
	return mon;
}

/* SIGTERM, then both pipes to their end; asserts exit status 0. */
static void monitor_stop(Monitor *mon)
{
	g_autoptr(GError) error = NULL;

	g_subprocess_send_signal(mon->process, SIGTERM);
	g_assert_true(hub_test_wait_until(reader_done, &mon->out, 10000));
	g_assert_true(hub_test_wait_until(reader_done, &mon->err, 10000));
	g_subprocess_wait(mon->process, NULL, &error);
	g_assert_no_error(error);
	if (!g_subprocess_get_if_exited(mon->process) || g_subprocess_get_exit_status(mon->process) != 0)
		g_error("hubctl monitor did not exit 0 on SIGTERM (wait status %d)", g_subprocess_get_status(mon->process));
}

static void monitor_free(Monitor *mon)
{
	if (!mon)
		return;
	/* Only after monitor_stop(): no read is pending on the streams. */
	g_assert_true(mon->out.eof && mon->err.eof);
	g_clear_object(&mon->out.in);
	g_clear_object(&mon->err.in);
	g_ptr_array_unref(mon->out.lines);
	g_ptr_array_unref(mon->err.lines);
	g_clear_object(&mon->process);
	g_free(mon);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Monitor, monitor_free)

/* ---- version, help, usage ---- */

static void test_version_and_help(void)
{
	g_autoptr(HubTestEnv) env = hub_test_env_new();
	g_auto(HubctlRun) run = { 0 };
	const char *commands[] = { "status", "plugins", "list", "show DEV", "get DEV", "set DEV", "invoke DEV",
				   "monitor", "discover", "onboard PROTOCOL", "remove DEV" };
	const char *help_forms[] = { "--help", "-h", "help" };

	hubctl_bare(env, &run, "--version", NULL);
	assert_success(&run);
	g_assert_cmpstr(run.out, ==, "hubctl " PACKAGE_VERSION "\n");

	for (guint f = 0; f < G_N_ELEMENTS(help_forms); f++) {
		hubctl_bare(env, &run, help_forms[f], NULL);
		assert_success(&run);
		g_assert_true(g_str_has_prefix(run.out, "Usage: hubctl "));
		for (guint i = 0; i < G_N_ELEMENTS(commands); i++)
			if (!strstr(run.out, commands[i]))
				g_error("%s does not mention \"%s\"", help_forms[f], commands[i]);
	}
}

/* No hubd runs: every case must be refused before hubctl touches the bus. */
static void test_usage_errors(void)
{
	g_autoptr(HubTestEnv) env = hub_test_env_new();
	g_auto(HubctlRun) run = { 0 };

	hubctl(env, &run, "frobnicate", NULL);
	assert_usage_error(&run, "unknown command 'frobnicate'");
	hubctl(env, &run, NULL);
	assert_usage_error(&run, "no command given");
	hubctl(env, &run, "show", NULL);
	assert_usage_error(&run, "show: missing arguments");
	hubctl(env, &run, "set", "light-1", "1", "matter.OnOff@1.4", "OnOff", NULL);
	assert_usage_error(&run, "set: missing arguments");
	hubctl(env, &run, "invoke", "light-1", "1", "matter.OnOff@1.4", NULL);
	assert_usage_error(&run, "invoke: missing arguments");
	hubctl(env, &run, "get", "light-1", "1", "matter.OnOff@1.4", "OnOff", "extra", NULL);
	assert_usage_error(&run, "get: too many arguments");
	hubctl(env, &run, "status", "now", NULL);
	assert_usage_error(&run, "status: too many arguments");
	hubctl(env, &run, "--address", env->bus_address, "status", NULL);
	assert_usage_error(&run, "--system, --session and --address exclude each other");
	hubctl(env, &run, "--system", "list", NULL);
	assert_usage_error(&run, "exclude each other");
	hubctl(env, &run, "--bogus", "status", NULL);
	assert_usage_error(&run, "unknown option '--bogus'");
	hubctl(env, &run, "status", "--seconds", "3", NULL);
	assert_usage_error(&run, "option --seconds does not apply");
	hubctl(env, &run, "discover", "--seconds", "0", NULL);
	assert_usage_error(&run, "--seconds: expected a number from 1 to 3600, got '0'");
	hubctl(env, &run, "discover", "--seconds", "ten", NULL);
	assert_usage_error(&run, "--seconds");
	hubctl(env, &run, "discover", "--list", "--seconds", "2", NULL);
	assert_usage_error(&run, "--list and --seconds exclude each other");
	hubctl(env, &run, "invoke", "--no-wait", "--timeout", "5", "light-1", "1", "matter.OnOff@1.4", "On", NULL);
	assert_usage_error(&run, "--no-wait and --timeout exclude each other");
	hubctl(env, &run, "invoke", "light-1", "1", "matter.LevelControl@1.4", "MoveToLevel", "Level", NULL);
	assert_usage_error(&run, "parameter 'Level' is not NAME=VALUE");
	hubctl(env, &run, "invoke", "light-1", "1", "matter.LevelControl@1.4", "MoveToLevel", "=5", NULL);
	assert_usage_error(&run, "is not NAME=VALUE");
	hubctl(env, &run, "invoke", "light-1", "1", "matter.LevelControl@1.4", "MoveToLevel", "Level=1", "Level=2",
	       NULL);
	assert_usage_error(&run, "parameter 'Level' given twice");
	hubctl(env, &run, "show", "", NULL);
	assert_usage_error(&run, "argument 1 is empty");
}

/* ---- reading ---- */

static void test_status(void)
{
	g_autoptr(HubTestEnv) env = start_default();
	g_auto(HubctlRun) run = { 0 };
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(JsonNode) root = NULL;
	JsonObject *status;
	const char *const members[] = { "version", "abiVersion", "deviceCount", "onlineDeviceCount", "discovering",
					"pluginCount", "cloud", NULL };
	g_autofree char *want_devices = g_strdup_printf("Devices:      %d (%d online)\n", N_ONBOARDED, N_ONBOARDED);

	hubctl(env, &run, "status", NULL);
	assert_success(&run);
	g_assert_true(g_str_has_prefix(run.out, "Version:      " PACKAGE_VERSION "\n"));
	g_assert_nonnull(strstr(run.out, "\nABI version:  1.0\n"));
	g_assert_nonnull(strstr(run.out, want_devices));
	g_assert_nonnull(strstr(run.out, "\nDiscovering:  no\n"));
	g_assert_true(g_str_has_suffix(run.out, "\nPlugins:      1\nCloud:        none configured\n"));

	hubctl(env, &run, "--json", "status", NULL);
	assert_success(&run);
	root = parse_json(run.out);
	status = as_object(root);
	assert_members(status, members);
	g_assert_cmpstr(string_member(status, "version"), ==, PACKAGE_VERSION);
	g_assert_cmpstr(string_member(status, "abiVersion"), ==, "1.0");
	g_assert_cmpint(int_member(status, "deviceCount"), ==, N_ONBOARDED);
	g_assert_cmpint(int_member(status, "onlineDeviceCount"), ==, N_ONBOARDED);
	g_assert_false(boolean_member(status, "discovering"));
	g_assert_cmpint(int_member(status, "pluginCount"), ==, 1);
	g_assert_false(json_object_get_boolean_member(json_object_get_object_member(status, "cloud"), "configured"));

	/* Discovering follows the Manager's property. */
	reply = hub_test_call(env, "/org/hubd/Hub1", "org.hubd.Hub1.Manager", "StartDiscovery", g_variant_new("(u)", 5),
			      NULL, &error);
	g_assert_no_error(error);
	hubctl(env, &run, "status", NULL);
	assert_success(&run);
	g_assert_nonnull(strstr(run.out, "\nDiscovering:  yes\n"));
	hubctl(env, &run, "status", "--json", NULL);
	assert_success(&run);
	g_clear_pointer(&root, json_node_unref);
	root = parse_json(run.out);
	g_assert_true(boolean_member(as_object(root), "discovering"));
	hub_test_env_stop_hubd(env);
}

static void test_plugins(void)
{
	g_autoptr(HubTestEnv) env = start_default();
	g_auto(HubctlRun) run = { 0 };
	g_autoptr(JsonNode) root = NULL;
	g_autofree char *so = g_build_filename(env->plugin_dir, "virtual.so", NULL);
	g_autofree char *line_re = NULL;
	const char *const members[] = { "name", "kind", "version", "abi", "tainted", "path", NULL };
	JsonArray *plugins;
	JsonObject *plugin;

	hubctl(env, &run, "plugins", "--json", NULL);
	assert_success(&run);
	root = parse_json(run.out);
	plugins = as_array(root);
	g_assert_cmpuint(json_array_get_length(plugins), ==, 1);
	plugin = object_element(plugins, 0);
	assert_members(plugin, members);
	g_assert_cmpstr(string_member(plugin, "name"), ==, "virtual");
	g_assert_cmpstr(string_member(plugin, "kind"), ==, "protocol");
	g_assert_cmpstr(string_member(plugin, "abi"), ==, "1.0");
	g_assert_false(boolean_member(plugin, "tainted"));
	g_assert_cmpstr(string_member(plugin, "path"), ==, so);
	g_assert_cmpstr(string_member(plugin, "version"), !=, "");

	/* Not a terminal: no header, one line. */
	hubctl(env, &run, "plugins", NULL);
	assert_success(&run);
	line_re = g_strdup_printf("^virtual +protocol +\\S+ +1\\.0 +no +%s\n$", so);
	g_assert_true(g_regex_match_simple(line_re, run.out, 0, 0));
	hub_test_env_stop_hubd(env);
}

#define LIST_CONF                                                             \
	"[device plug-1]\ntype=plug\nname=Test plug\n"                        \
	"[device light-1]\ntype=color-light\nname=Test light\n"               \
	"[device door.1]\ntype=door-contact\nname=Front door\n"

static void test_list(void)
{
	g_autoptr(HubTestEnv) env = hub_test_env_new();
	g_auto(HubctlRun) run = { 0 };
	g_autoptr(JsonNode) root = NULL;
	const char *const members[] = { "id", "name", "protocol", "online", "provisioningStatus", "path", NULL };
	/* Byte order: upper case before lower case. */
	const char *ids[] = { "Lamp-2", "door.1", "light-1", "plug-1" };
	const gboolean online[] = { FALSE, TRUE, TRUE, TRUE };
	const char *names[] = { "Desk lamp", "Front door", "Test light", "Test plug" };
	g_auto(GStrv) lines = NULL;
	JsonArray *devices;

	/* Lamp-2 is known from the first run; without it in the device
	 * file, the second run has it offline. */
	hub_test_env_write_config(env, "plugins=virtual",
				  LIST_CONF "[device Lamp-2]\ntype=dimmable-light\nname=Desk lamp\n");
	hub_test_env_start_hubd(env);
	hubctl(env, &run, "list", NULL);
	assert_success(&run);
	g_assert_nonnull(strstr(run.out, "Lamp-2"));
	hub_test_env_stop_hubd(env);
	hub_test_env_write_config(env, "plugins=virtual", LIST_CONF);
	hub_test_env_start_hubd(env);

	hubctl(env, &run, "list", NULL);
	assert_success(&run);
	lines = split_lines(run.out);
	g_assert_cmpuint(g_strv_length(lines), ==, G_N_ELEMENTS(ids));
	for (guint i = 0; i < G_N_ELEMENTS(ids); i++) {
		g_autofree char *re = g_strdup_printf("^%s +virtual +%s +%s$", ids[i], online[i] ? "online " : "offline",
						      names[i]);

		if (!g_regex_match_simple(re, lines[i], 0, 0))
			g_error("line %u: expected /%s/, got \"%s\"", i, re, lines[i]);
	}

	hubctl(env, &run, "list", "--json", NULL);
	assert_success(&run);
	root = parse_json(run.out);
	devices = as_array(root);
	g_assert_cmpuint(json_array_get_length(devices), ==, G_N_ELEMENTS(ids));
	for (guint i = 0; i < G_N_ELEMENTS(ids); i++) {
		JsonObject *device = object_element(devices, i);
		g_autofree char *path = hub_test_device_path(ids[i]);

		assert_members(device, members);
		g_assert_cmpstr(string_member(device, "id"), ==, ids[i]);
		g_assert_cmpstr(string_member(device, "name"), ==, names[i]);
		g_assert_cmpstr(string_member(device, "protocol"), ==, "virtual");
		g_assert_cmpint(boolean_member(device, "online"), ==, online[i]);
		g_assert_cmpstr(string_member(device, "provisioningStatus"), !=, "");
		g_assert_cmpstr(string_member(device, "path"), ==, path);
	}

	hubctl(env, &run, "status", NULL);
	assert_success(&run);
	g_assert_nonnull(strstr(run.out, "\nDevices:      4 (3 online)\n"));
	hub_test_env_stop_hubd(env);
}

static void check_capability(JsonObject *cap, const char *id, const char *name, const char *properties,
			     const char *actions, const char *events)
{
	const char *const members[] = { "id", "name", "version", "properties", "actions", "events", NULL };

	assert_members(cap, members);
	g_assert_cmpstr(string_member(cap, "id"), ==, id);
	g_assert_cmpstr(string_member(cap, "name"), ==, name);
	g_assert_cmpstr(string_member(cap, "version"), ==, "1.4");
	assert_strings(array_member(cap, "properties"), properties);
	assert_strings(array_member(cap, "actions"), actions);
	assert_strings(array_member(cap, "events"), events);
}

static void test_show_json(void)
{
	g_autoptr(HubTestEnv) env = start_default();
	g_auto(HubctlRun) run = { 0 };
	g_autoptr(JsonNode) root = NULL;
	g_autoptr(JsonNode) by_path = NULL;
	g_autoptr(JsonNode) want = NULL;
	g_autofree char *path = hub_test_device_path("light-1");
	const char *const endpoint_members[] = { "id", "deviceTypes", "capabilities", NULL };
	JsonArray *endpoints, *caps;
	JsonObject *ep;

	hubctl(env, &run, "show", "light-1", "--json", NULL);
	assert_success(&run);
	root = parse_json(run.out);
	/* Exactly the daemon's document... */
	want = device_report(env, "light-1", "GetCapabilityReport");
	assert_json_equal(root, want);
	/* ...which has the documented shape. */
	g_assert_cmpstr(string_member(as_object(root), "nodeId"), ==, "light-1");
	endpoints = array_member(as_object(root), "endpoints");
	g_assert_cmpuint(json_array_get_length(endpoints), ==, 1);
	ep = object_element(endpoints, 0);
	assert_members(ep, endpoint_members);
	g_assert_cmpstr(string_member(ep, "id"), ==, "1");
	assert_strings(array_member(ep, "deviceTypes"), "Extended Color Light");
	caps = array_member(ep, "capabilities");
	g_assert_cmpuint(json_array_get_length(caps), ==, 3);
	check_capability(object_element(caps, 0), "matter.OnOff@1.4", "On/Off", "OnOff,OnTime,OffWaitTime",
			 "Off,On,Toggle", "");
	check_capability(object_element(caps, 1), "matter.LevelControl@1.4", "Level Control",
			 "CurrentLevel,MinLevel,MaxLevel,OnLevel", "MoveToLevel,MoveToLevelWithOnOff,Stop", "");
	check_capability(object_element(caps, 2), "matter.ColorControl@1.4", "Color Control",
			 "CurrentHue,CurrentSaturation,CurrentX,CurrentY,ColorTemperatureMireds,ColorMode",
			 "MoveToHue,MoveToSaturation,MoveToHueAndSaturation,MoveToColor,MoveToColorTemperature", "");

	/* The object path names the same device. */
	hubctl(env, &run, "--json", "show", path, NULL);
	assert_success(&run);
	by_path = parse_json(run.out);
	assert_json_equal(by_path, want);
	hub_test_env_stop_hubd(env);
}

static void test_show_text(void)
{
	g_autoptr(HubTestEnv) env = start_default();
	g_auto(HubctlRun) run = { 0 };
	const char *expected[] = {
		"Device lock-1\n\tPath: /org/hubd/Hub1/devices/lock_2d1\n\tName: lock-1\n\tProtocol: virtual\n",
		"\tManufacturer: hubd\n",
		"\tProvisioningStatus: ACTIVATED\n\tOnline: yes\n\tHealth: battery=100 rssi=",
		"\tEndpoint 1 (Door Lock)\n",
		"\t\tmatter.DoorLock@1.4 (Door Lock, version 1.4)\n\t\t\tProperties: LockState, ActuatorEnabled, "
		"OperatingMode\n\t\t\tActions: LockDoor, UnlockDoor\n\t\t\tEvents: DoorLockAlarm, LockOperation\n",
		"\t\tmatter.PowerSource@1.4 (Power Source, version 1.4)\n",
	};

	hubctl(env, &run, "show", "lock-1", NULL);
	assert_success(&run);
	g_assert_true(g_str_has_prefix(run.out, expected[0]));
	for (guint i = 1; i < G_N_ELEMENTS(expected); i++)
		if (!strstr(run.out, expected[i]))
			g_error("expected \"%s\" in:\n%s", expected[i], run.out);
	hub_test_env_stop_hubd(env);
}

/* One property of a state report: {"name", "value": {"propertyValue", "lastChangedAt"}}. */
static JsonNode *check_state_property(JsonObject *prop)
{
	const char *const members[] = { "name", "value", NULL };
	const char *const value_members[] = { "propertyValue", "lastChangedAt", NULL };
	JsonObject *value;

	assert_members(prop, members);
	value = object_member(prop, "value");
	assert_members(value, value_members);
	assert_matches("^" ISO_TIME_RE "$", string_member(value, "lastChangedAt"));
	return json_object_get_member(value, "propertyValue");
}

static void check_state_capability(JsonObject *cap, const char *id, const char *name)
{
	const char *const members[] = { "id", "name", "version", "properties", NULL };
	JsonArray *props;

	assert_members(cap, members);
	g_assert_cmpstr(string_member(cap, "id"), ==, id);
	g_assert_cmpstr(string_member(cap, "name"), ==, name);
	g_assert_cmpstr(string_member(cap, "version"), ==, "1.4");
	props = array_member(cap, "properties");
	g_assert_cmpuint(json_array_get_length(props), >, 0);
	for (guint i = 0; i < json_array_get_length(props); i++)
		check_state_property(object_element(props, i));
}

static void test_get_json(void)
{
	g_autoptr(HubTestEnv) env = start_default();
	g_auto(HubctlRun) run = { 0 };
	g_autoptr(JsonNode) root = NULL;
	g_autoptr(JsonNode) want = NULL;
	g_autoptr(JsonNode) one = NULL;
	g_autoptr(JsonNode) cap_only = NULL;
	const char *const root_members[] = { "endpoints", NULL };
	const char *const endpoint_members[] = { "endpointId", "capabilities", NULL };
	JsonArray *endpoints, *caps, *props;
	JsonObject *ep;
	JsonNode *value;

	hubctl(env, &run, "get", "light-1", "--json", NULL);
	assert_success(&run);
	root = parse_json(run.out);
	want = device_report(env, "light-1", "GetStateReport");
	assert_json_equal(root, want);
	assert_members(as_object(root), root_members);
	endpoints = array_member(as_object(root), "endpoints");
	g_assert_cmpuint(json_array_get_length(endpoints), ==, 1);
	ep = object_element(endpoints, 0);
	assert_members(ep, endpoint_members);
	g_assert_cmpstr(string_member(ep, "endpointId"), ==, "1");
	caps = array_member(ep, "capabilities");
	g_assert_cmpuint(json_array_get_length(caps), ==, 3);
	for (guint i = 0; i < json_array_get_length(caps); i++) {
		JsonObject *cap = object_element(caps, i);
		const char *id = string_member(cap, "id");

		check_state_capability(cap, id,
				       g_str_equal(id, "matter.OnOff@1.4")	      ? "On/Off" :
				       g_str_equal(id, "matter.LevelControl@1.4") ? "Level Control" :
										    "Color Control");
	}

	/* EP CAP PROP: the same shape, reduced to one property. */
	hubctl(env, &run, "--json", "get", "light-1", "1", "matter.LevelControl@1.4", "CurrentLevel", NULL);
	assert_success(&run);
	one = parse_json(run.out);
	assert_members(as_object(one), root_members);
	endpoints = array_member(as_object(one), "endpoints");
	g_assert_cmpuint(json_array_get_length(endpoints), ==, 1);
	ep = object_element(endpoints, 0);
	assert_members(ep, endpoint_members);
	caps = array_member(ep, "capabilities");
	g_assert_cmpuint(json_array_get_length(caps), ==, 1);
	check_state_capability(object_element(caps, 0), "matter.LevelControl@1.4", "Level Control");
	props = array_member(object_element(caps, 0), "properties");
	g_assert_cmpuint(json_array_get_length(props), ==, 1);
	g_assert_cmpstr(string_member(object_element(props, 0), "name"), ==, "CurrentLevel");
	value = check_state_property(object_element(props, 0));
	g_assert_cmpint(json_node_get_value_type(value), ==, G_TYPE_INT64);
	g_assert_cmpint(json_node_get_int(value), ==, 254);

	/* EP CAP, the capability without its version. */
	hubctl(env, &run, "--json", "get", "light-1", "1", "matter.OnOff", NULL);
	assert_success(&run);
	cap_only = parse_json(run.out);
	caps = array_member(object_element(array_member(as_object(cap_only), "endpoints"), 0), "capabilities");
	g_assert_cmpuint(json_array_get_length(caps), ==, 1);
	check_state_capability(object_element(caps, 0), "matter.OnOff@1.4", "On/Off");
	g_assert_cmpuint(json_array_get_length(array_member(object_element(caps, 0), "properties")), ==, 3);
	hub_test_env_stop_hubd(env);
}

static void test_get_text(void)
{
	g_autoptr(HubTestEnv) env = start_default();
	g_auto(HubctlRun) run = { 0 };
	g_autoptr(GVariant) state = hub_test_get_device_property(env, "light-1", "State");
	g_auto(GStrv) lines = NULL;
	g_auto(GStrv) onoff = NULL;

	/* One line per State key, sorted by endpoint, capability, property. */
	hubctl(env, &run, "get", "light-1", NULL);
	assert_success(&run);
	lines = split_lines(run.out);
	g_assert_cmpuint(g_strv_length(lines), ==, g_variant_n_children(state));
	for (guint i = 0; lines[i]; i++) {
		assert_matches("^1 matter\\.[A-Za-z]+@1\\.4 [A-Za-z]+ = \\S+ \\(changed " ISO_TIME_RE "\\)$", lines[i]);
		if (i > 0)
			g_assert_cmpint(strcmp(lines[i - 1], lines[i]), <, 0);
	}
	g_assert_nonnull(strstr(run.out, "1 matter.LevelControl@1.4 CurrentLevel = 254 (changed "));
	g_assert_nonnull(strstr(run.out, "1 matter.OnOff@1.4 OnOff = false (changed "));
	g_assert_nonnull(strstr(run.out, "1 matter.ColorControl@1.4 ColorMode = \"ColorTemperatureMireds\" (changed "));

	/* EP alone, EP CAP, and CAP without its version filter the lines. */
	hubctl(env, &run, "get", "light-1", "1", NULL);
	assert_success(&run);
	g_strfreev(lines);
	lines = split_lines(run.out);
	g_assert_cmpuint(g_strv_length(lines), ==, g_variant_n_children(state));
	hubctl(env, &run, "get", "light-1", "1", "matter.OnOff@1.4", NULL);
	assert_success(&run);
	onoff = split_lines(run.out);
	g_assert_cmpuint(g_strv_length(onoff), ==, 3);
	for (guint i = 0; onoff[i]; i++)
		g_assert_true(g_str_has_prefix(onoff[i], "1 matter.OnOff@1.4 "));
	hubctl(env, &run, "get", "light-1", "1", "matter.OnOff", NULL);
	assert_success(&run);
	g_strfreev(lines);
	lines = split_lines(run.out);
	g_assert_true(g_strv_equal((const char *const *)lines, (const char *const *)onoff));

	/* EP CAP PROP: the value alone, strings without quotes. */
	assert_value(env, "light-1", "matter.LevelControl@1.4", "CurrentLevel", "254");
	assert_value(env, "light-1", "matter.OnOff@1.4", "OnOff", "false");
	assert_value(env, "light-1", "matter.ColorControl@1.4", "ColorMode", "ColorTemperatureMireds");
	hubctl(env, &run, "get", "light-1", "1", "matter.OnOff@1.4", "OnOff", NULL);
	g_assert_cmpstr(run.out, ==, "false\n");

	/* What the device does not have is an error, named. */
	hubctl(env, &run, "get", "light-1", "9", NULL);
	assert_failure(&run, 1, "hubctl: get light-1 9: device 'light-1' has no endpoint 9");
	hubctl(env, &run, "get", "light-1", "1", "matter.DoorLock", NULL);
	assert_failure(&run, 1, "has no capability matter.DoorLock on endpoint 1");
	hubctl(env, &run, "get", "light-1", "1", "matter.OnOff@1.4", "Brightness", NULL);
	assert_failure(&run, 1, "hubctl: get light-1 1 matter.OnOff@1.4 Brightness: ");
	g_assert_nonnull(strstr(run.err, "Brightness"));
	hub_test_env_stop_hubd(env);
}

/* ---- writing ---- */

static void test_set(void)
{
	g_autoptr(HubTestEnv) env = start_default();
	g_auto(HubctlRun) run = { 0 };
	g_autoptr(JsonNode) result = NULL;
	JsonObject *doc;

	hubctl(env, &run, "set", "light-1", "1", "matter.LevelControl@1.4", "CurrentLevel", "42", NULL);
	assert_success(&run);
	g_assert_true(g_str_has_prefix(run.out, "Response code: 200 (OK)\n"));
	assert_matches("^1 matter\\.LevelControl@1\\.4 CurrentLevel = 42 \\(changed " ISO_TIME_RE "\\)$", run.out);
	assert_value(env, "light-1", "matter.LevelControl@1.4", "CurrentLevel", "42");

	hubctl(env, &run, "set", "light-1", "1", "matter.OnOff@1.4", "OnOff", "true", NULL);
	assert_success(&run);
	assert_value(env, "light-1", "matter.OnOff@1.4", "OnOff", "true");

	/* A plain word is a string: an enum value; the device moves the rest. */
	hubctl(env, &run, "set", "fan-1", "1", "matter.FanControl@1.4", "FanMode", "High", NULL);
	assert_success(&run);
	assert_matches("^1 matter\\.FanControl@1\\.4 FanMode = \"High\" \\(changed ", run.out);
	assert_value(env, "fan-1", "matter.FanControl@1.4", "FanMode", "High");
	assert_value(env, "fan-1", "matter.FanControl@1.4", "PercentSetting", "100");

	/* --json: the command's result document. */
	hubctl(env, &run, "--json", "set", "fan-1", "1", "matter.FanControl@1.4", "FanMode", "\"Low\"", NULL);
	assert_success(&run);
	result = parse_json(run.out);
	doc = as_object(result);
	g_assert_cmpstr(string_member(doc, "deviceId"), ==, "fan-1");
	g_assert_cmpstr(string_member(doc, "status"), ==, "completed");
	g_assert_cmpint(int_member(doc, "responseCode"), ==, 200);
	assert_matches("^" ISO_TIME_RE "$", string_member(doc, "completedAt"));
	assert_value(env, "fan-1", "matter.FanControl@1.4", "FanMode", "Low");
	hub_test_env_stop_hubd(env);
}

typedef struct {
	const char *device, *cap, *prop, *value, *message;
} BadWrite;

static void test_set_rejected(void)
{
	g_autoptr(HubTestEnv) env = start_default();
	g_auto(HubctlRun) run = { 0 };
	const BadWrite cases[] = {
		{ "light-1", "matter.LevelControl@1.4", "CurrentLevel", "300", "value 300 is above the maximum 254" },
		/* A negative number is an argument, not an option. */
		{ "light-1", "matter.LevelControl@1.4", "CurrentLevel", "-5", "value -5 is below the minimum" },
		{ "light-1", "matter.LevelControl@1.4", "CurrentLevel", "bright", "expected integer, got string \"bright\"" },
		{ "thermostat-1", "matter.Thermostat@1.4", "SystemMode", "Boiling", "\"Boiling\" is not one of" },
		{ "thermostat-1", "matter.Thermostat@1.4", "LocalTemperature", "2000",
		  "property LocalTemperature is not mutable" },
		{ "light-1", "matter.OnOff@1.4", "NoSuchProperty", "true", "has no property \"NoSuchProperty\"" },
		{ "light-1", "matter.OnOff@1.4", "OnOff", "5", "expected boolean, got integer 5" },
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		const BadWrite *c = &cases[i];
		g_autofree char *before = g_str_equal(c->prop, "NoSuchProperty") ? NULL :
						  get_value(env, c->device, c->cap, c->prop);
		g_autofree char *what = g_strdup_printf("hubctl: set %s 1 %s %s: ", c->device, c->cap, c->prop);

		hubctl(env, &run, "set", c->device, "1", c->cap, c->prop, c->value, NULL);
		assert_failure(&run, 1, c->message);
		g_assert_true(g_str_has_prefix(run.err, what));
		if (before)
			assert_value(env, c->device, c->cap, c->prop, before);
	}
	hub_test_env_stop_hubd(env);
}

static JsonNode *parse_invoke_output(const char *out, char **trace_id)
{
	g_auto(GStrv) head = g_strsplit(out, "\n", 3);
	JsonNode *result;

	g_assert_cmpuint(g_strv_length(head), ==, 3);
	g_assert_true(g_str_has_prefix(head[0], "Trace ID: "));
	g_assert_cmpstr(head[1], ==, "Response code: 200 (OK)");
	result = parse_json(head[2]);
	*trace_id = g_strdup(head[0] + strlen("Trace ID: "));
	return result;
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

static void test_invoke(void)
{
	g_autoptr(HubTestEnv) env = start_default();
	g_auto(HubctlRun) run = { 0 };
	g_autoptr(JsonNode) result = NULL;
	g_autoptr(JsonNode) json_result = NULL;
	g_autoptr(JsonNode) no_wait = NULL;
	g_autofree char *trace = NULL;
	g_autofree char *props = NULL;
	JsonObject *doc;

	/* Numbers. */
	hubctl(env, &run, "invoke", "light-1", "1", "matter.LevelControl@1.4", "MoveToLevel", "Level=77",
	       "TransitionTime=0", NULL);
	assert_success(&run);
	result = parse_invoke_output(run.out, &trace);
	doc = as_object(result);
	g_assert_cmpstr(string_member(doc, "traceId"), ==, trace);
	g_assert_cmpstr(string_member(doc, "deviceId"), ==, "light-1");
	g_assert_cmpint(int_member(doc, "responseCode"), ==, 200);
	props = json_to_string(json_object_get_member(doc, "endpoints"), FALSE);
	g_assert_nonnull(strstr(props, "\"CurrentLevel\""));
	assert_value(env, "light-1", "matter.LevelControl@1.4", "CurrentLevel", "77");

	/* Strings and booleans: from High, a wrapping step up with
	 * LowestOff=false lands on Low (Off if either boolean were lost). */
	hubctl(env, &run, "set", "fan-1", "1", "matter.FanControl@1.4", "FanMode", "High", NULL);
	assert_success(&run);
	hubctl(env, &run, "invoke", "fan-1", "1", "matter.FanControl@1.4", "Step", "Direction=Increase", "Wrap=true",
	       "LowestOff=false", NULL);
	assert_success(&run);
	assert_value(env, "fan-1", "matter.FanControl@1.4", "FanMode", "Low");

	/* A quoted number is a string; a bare one is not. */
	hubctl(env, &run, "invoke", "lock-1", "1", "matter.DoorLock@1.4", "UnlockDoor", "PINCode=1234", NULL);
	assert_failure(&run, 1, "hubctl: invoke lock-1 1 matter.DoorLock@1.4 UnlockDoor: ");
	g_assert_nonnull(strstr(run.err, "parameter PINCode: expected string, got integer 1234"));
	assert_value(env, "lock-1", "matter.DoorLock@1.4", "LockState", "Locked");
	hubctl(env, &run, "invoke", "lock-1", "1", "matter.DoorLock@1.4", "UnlockDoor", "PINCode=\"1234\"", NULL);
	assert_success(&run);
	assert_value(env, "lock-1", "matter.DoorLock@1.4", "LockState", "Unlocked");

	/* --json: the result document only. */
	hubctl(env, &run, "--json", "invoke", "light-1", "1", "matter.OnOff@1.4", "ReadState",
	       "propertiesToRead=[\"OnOff\"]", NULL);
	assert_success(&run);
	json_result = parse_json(run.out);
	g_assert_cmpint(int_member(as_object(json_result), "responseCode"), ==, 200);
	g_assert_cmpstr(string_member(as_object(json_result), "status"), ==, "completed");

	/* --no-wait: the trace id alone, and the command still runs. */
	assert_value(env, "plug-1", "matter.OnOff@1.4", "OnOff", "false");
	hubctl(env, &run, "invoke", "--no-wait", "plug-1", "1", "matter.OnOff@1.4", "Toggle", NULL);
	assert_success(&run);
	assert_matches("\\A[0-9A-Za-z-]{16,}\n\\z", run.out);
	g_strchomp(run.out);
	g_assert_cmpint(wait_command(env, run.out), ==, 200);
	assert_value(env, "plug-1", "matter.OnOff@1.4", "OnOff", "true");
	hubctl(env, &run, "invoke", "--json", "--no-wait", "plug-1", "1", "matter.OnOff@1.4", "Off", NULL);
	assert_success(&run);
	no_wait = parse_json(run.out);
	g_assert_cmpuint(json_object_get_size(as_object(no_wait)), ==, 1);
	g_assert_cmpint(wait_command(env, string_member(as_object(no_wait), "traceId")), ==, 200);

	/* What the capability does not have. */
	hubctl(env, &run, "invoke", "light-1", "1", "matter.OnOff@1.4", "Explode", NULL);
	assert_failure(&run, 1, "hubctl: invoke light-1 1 matter.OnOff@1.4 Explode: ");
	g_assert_nonnull(strstr(run.err, "\"Explode\""));
	hubctl(env, &run, "invoke", "light-1", "1", "matter.LevelControl@1.4", "MoveToLevel", "Level=300", NULL);
	assert_failure(&run, 1, "parameter Level: value 300 is above the maximum 254");
	assert_value(env, "light-1", "matter.LevelControl@1.4", "CurrentLevel", "77");
	hub_test_env_stop_hubd(env);
}

/* ---- monitor ---- */

static void test_monitor(void)
{
	g_autoptr(HubTestEnv) env = start_default();
	g_auto(HubctlRun) run = { 0 };
	g_autoptr(Monitor) mon = monitor_start(env, FALSE);

	hubctl(env, &run, "set", "light-1", "1", "matter.LevelControl@1.4", "CurrentLevel", "99", NULL);
	assert_success(&run);
	wait_for_line(&mon->out, "^" CLOCK_RE " light-1 1/matter\\.LevelControl@1\\.4/CurrentLevel = 99$", 0, 5000);
	wait_for_line(&mon->out, "^" CLOCK_RE " command \\S+ completed 200 light-1$", 0, 5000);
	/* Only the key that changed. */
	g_assert_cmpuint(count_lines(&mon->out, " light-1 1/"), ==, 1);

	/* hubd leaving the bus is a line, not the end of monitor. */
	hub_test_env_stop_hubd(env);
	wait_for_line(&mon->out, "^" CLOCK_RE " hubd stopped$", 0, 5000);
	monitor_stop(mon);
}

static void test_monitor_json(void)
{
	g_autoptr(HubTestEnv) env = start_default();
	g_auto(HubctlRun) run = { 0 };
	g_autoptr(Monitor) mon = monitor_start(env, TRUE);
	const char *const property_members[] = { "time",     "type",  "device",        "endpoint", "capability",
						 "property", "value", "lastChangedAt", NULL };
	gboolean property_seen = FALSE, completed_seen = FALSE;

	hubctl(env, &run, "set", "light-1", "1", "matter.OnOff@1.4", "OnOff", "true", NULL);
	assert_success(&run);
	wait_for_line(&mon->out, "\"type\":\"command-completed\"", 0, 5000);
	wait_for_line(&mon->out, "\"type\":\"property\"", 0, 5000);
	hub_test_env_stop_hubd(env);
	wait_for_line(&mon->out, "\"type\":\"hubd-stopped\"", 0, 5000);
	monitor_stop(mon);

	/* One JSON object per line, each with a time and a type. */
	for (guint i = 0; i < mon->out.lines->len; i++) {
		g_autoptr(JsonNode) node = parse_json(mon->out.lines->pdata[i]);
		JsonObject *event = as_object(node);
		const char *type = string_member(event, "type");

		assert_matches("^" ISO_TIME_RE "$", string_member(event, "time"));
		if (g_str_equal(type, "property")) {
			JsonNode *value = json_object_get_member(event, "value");

			assert_members(event, property_members);
			g_assert_cmpstr(string_member(event, "device"), ==, "light-1");
			g_assert_cmpstr(string_member(event, "endpoint"), ==, "1");
			g_assert_cmpstr(string_member(event, "capability"), ==, "matter.OnOff@1.4");
			g_assert_cmpstr(string_member(event, "property"), ==, "OnOff");
			g_assert_cmpint(json_node_get_value_type(value), ==, G_TYPE_BOOLEAN);
			g_assert_true(json_node_get_boolean(value));
			assert_matches("^" ISO_TIME_RE "$", string_member(event, "lastChangedAt"));
			property_seen = TRUE;
		} else if (g_str_equal(type, "command-completed")) {
			g_assert_cmpstr(string_member(event, "device"), ==, "light-1");
			g_assert_cmpint(int_member(event, "responseCode"), ==, 200);
			g_assert_cmpstr(string_member(object_member(event, "result"), "traceId"), ==,
					string_member(event, "traceId"));
			completed_seen = TRUE;
		}
	}
	g_assert_true(property_seen);
	g_assert_true(completed_seen);
}

/* ---- discovery, onboarding, removal ---- */

static void test_discover_onboard_remove(void)
{
	g_autoptr(HubTestEnv) env = start_default();
	g_auto(HubctlRun) run = { 0 };
	g_autoptr(JsonNode) listed = NULL;
	g_autoptr(JsonNode) onboarded = NULL;
	g_autoptr(JsonNode) removed = NULL;
	g_auto(GStrv) lines = NULL;
	const char *const found_members[] = { "discoveredId", "protocol", "name", "deviceTypes", NULL };
	JsonArray *found;
	JsonObject *device;

	/* Only the device that is not onboarded is found. */
	hubctl(env, &run, "discover", "--seconds", "1", NULL);
	assert_success(&run);
	lines = split_lines(run.out);
	g_assert_cmpuint(g_strv_length(lines), ==, 4);
	g_assert_cmpstr(lines[0], ==, "Discovering for 1 s...");
	g_assert_cmpstr(lines[1], ==, "Found virtual bulb-new-1 \"New bulb\" (Dimmable Light)");
	g_assert_cmpstr(lines[2], ==, "Discovery finished: 1 device found.");
	g_assert_cmpstr(lines[3], ==, "Onboard one with: hubctl onboard PROTOCOL ID [AUTH]");

	hubctl(env, &run, "discover", "--list", NULL);
	assert_success(&run);
	assert_matches("\\Abulb-new-1 +virtual +New bulb +Dimmable Light\n\\z", run.out);
	hubctl(env, &run, "discover", "--list", "--json", NULL);
	assert_success(&run);
	listed = parse_json(run.out);
	found = as_array(listed);
	g_assert_cmpuint(json_array_get_length(found), ==, 1);
	device = object_element(found, 0);
	assert_members(device, found_members);
	g_assert_cmpstr(string_member(device, "discoveredId"), ==, "bulb-new-1");
	g_assert_cmpstr(string_member(device, "protocol"), ==, "virtual");
	g_assert_cmpstr(string_member(device, "name"), ==, "New bulb");
	g_assert_cmpstr(string_member(device, "deviceTypes"), ==, "Dimmable Light");

	hubctl(env, &run, "onboard", "virtual", "bulb-new-1", NULL);
	assert_success(&run);
	g_assert_cmpstr(run.out, ==, "Onboarded bulb-new-1 as device bulb-new-1 (/org/hubd/Hub1/devices/bulb_2dnew_2d1)\n");
	hubctl(env, &run, "list", NULL);
	assert_success(&run);
	assert_matches("^bulb-new-1 +virtual +online +New bulb$", run.out);

	hubctl(env, &run, "remove", "bulb-new-1", NULL);
	assert_success(&run);
	g_assert_cmpstr(run.out, ==, "Removed device bulb-new-1\n");
	hubctl(env, &run, "list", NULL);
	assert_success(&run);
	g_assert_null(strstr(run.out, "bulb-new-1"));
	hubctl(env, &run, "remove", "bulb-new-1", NULL);
	assert_failure(&run, 1, "hubctl: remove bulb-new-1: device 'bulb-new-1' not found");

	/* Removed, it can be found again; the JSON forms. */
	hubctl(env, &run, "--json", "discover", "--seconds", "1", NULL);
	assert_success(&run);
	g_strfreev(lines);
	lines = split_lines(run.out);
	g_assert_cmpuint(g_strv_length(lines), ==, 2);
	g_assert_cmpstr(lines[0], ==,
			"{\"discoveredId\":\"bulb-new-1\",\"protocol\":\"virtual\",\"name\":\"New bulb\","
			"\"deviceTypes\":\"Dimmable Light\"}");
	g_assert_cmpstr(lines[1], ==, "{\"summary\":true,\"found\":1,\"finished\":true,\"interrupted\":false}");
	hubctl(env, &run, "--json", "onboard", "virtual", "bulb-new-1", NULL);
	assert_success(&run);
	onboarded = parse_json(run.out);
	g_assert_cmpstr(string_member(as_object(onboarded), "deviceId"), ==, "bulb-new-1");
	g_assert_cmpstr(string_member(as_object(onboarded), "path"), ==, "/org/hubd/Hub1/devices/bulb_2dnew_2d1");
	hubctl(env, &run, "--json", "remove", "/org/hubd/Hub1/devices/bulb_2dnew_2d1", NULL);
	assert_success(&run);
	removed = parse_json(run.out);
	g_assert_cmpstr(string_member(as_object(removed), "deviceId"), ==, "bulb-new-1");
	g_assert_true(boolean_member(as_object(removed), "removed"));

	hubctl(env, &run, "onboard", "virtual", "no-such-thing", NULL);
	assert_failure(&run, 1, "hubctl: onboard virtual no-such-thing: ");
	hub_test_env_stop_hubd(env);
}

/* ---- failures ---- */

static void test_unknown_device(void)
{
	g_autoptr(HubTestEnv) env = start_default();
	g_auto(HubctlRun) run = { 0 };
	const char *const commands[][7] = {
		{ "show", "ghost-9", NULL },
		{ "show", "--json", "ghost-9", NULL },
		{ "get", "ghost-9", NULL },
		{ "get", "--json", "ghost-9", NULL },
		{ "get", "ghost-9", "1", "matter.OnOff@1.4", "OnOff", NULL },
		{ "set", "ghost-9", "1", "matter.OnOff@1.4", "OnOff", "true", NULL },
		{ "invoke", "ghost-9", "1", "matter.OnOff@1.4", "On", NULL },
		{ "invoke", "--no-wait", "ghost-9", "1", "matter.OnOff@1.4", "On", NULL },
		{ "remove", "ghost-9", NULL },
	};

	for (guint i = 0; i < G_N_ELEMENTS(commands); i++) {
		const char *const *c = commands[i];

		hubctl(env, &run, c[0], c[1], c[2], c[3], c[4], c[5], NULL);
		assert_failure(&run, 1, "device 'ghost-9' not found");
	}
	hub_test_env_stop_hubd(env);
}

static void test_daemon_not_running(void)
{
	g_autoptr(HubTestEnv) env = start_default();
	g_auto(HubctlRun) run = { 0 };
	g_autoptr(Monitor) mon = NULL;
	const char *const commands[][7] = {
		{ "status", NULL },
		{ "plugins", NULL },
		{ "list", NULL },
		{ "--json", "list", NULL },
		{ "show", "light-1", NULL },
		{ "get", "light-1", NULL },
		{ "get", "light-1", "1", "matter.OnOff@1.4", "OnOff", NULL },
		{ "set", "light-1", "1", "matter.OnOff@1.4", "OnOff", "true", NULL },
		{ "invoke", "light-1", "1", "matter.OnOff@1.4", "On", NULL },
		{ "discover", "--seconds", "1", NULL },
		{ "discover", "--list", NULL },
		{ "onboard", "virtual", "bulb-new-1", NULL },
		{ "remove", "light-1", NULL },
	};

	/* Answering proves hubd is up, past its start-up. */
	hubctl(env, &run, "status", NULL);
	assert_success(&run);
	hub_test_env_stop_hubd(env);
	for (guint i = 0; i < G_N_ELEMENTS(commands); i++) {
		const char *const *c = commands[i];

		hubctl(env, &run, c[0], c[1], c[2], c[3], c[4], c[5], NULL);
		assert_failure(&run, 1, NOT_RUNNING);
	}
	/* No bus at all. */
	hubctl_bare(env, &run, "--address", "unix:path=/nonexistent/hubd-test-bus", "status", NULL);
	assert_failure(&run, 1, "hubctl: cannot connect to the bus: ");

	/* monitor waits for hubd and follows it when it comes. */
	mon = monitor_start(env, FALSE);
	g_assert_cmpuint(count_lines(&mon->err, "^hubctl: monitor: hubd is not running; waiting for it$"), ==, 1);
	hub_test_env_start_hubd(env);
	wait_for_line(&mon->out, "^" CLOCK_RE " hubd started$", 0, 5000);
	hubctl(env, &run, "set", "light-1", "1", "matter.OnOff@1.4", "OnOff", "true", NULL);
	assert_success(&run);
	wait_for_line(&mon->out, "^" CLOCK_RE " light-1 1/matter\\.OnOff@1\\.4/OnOff = true$", 0, 5000);
	monitor_stop(mon);
	hub_test_env_stop_hubd(env);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/hub/hubctl/version-and-help", test_version_and_help);
	g_test_add_func("/hub/hubctl/usage-errors", test_usage_errors);
	g_test_add_func("/hub/hubctl/status", test_status);
	g_test_add_func("/hub/hubctl/plugins", test_plugins);
	g_test_add_func("/hub/hubctl/list", test_list);
	g_test_add_func("/hub/hubctl/show-json", test_show_json);
	g_test_add_func("/hub/hubctl/show-text", test_show_text);
	g_test_add_func("/hub/hubctl/get-json", test_get_json);
	g_test_add_func("/hub/hubctl/get-text", test_get_text);
	g_test_add_func("/hub/hubctl/set", test_set);
	g_test_add_func("/hub/hubctl/set-rejected", test_set_rejected);
	g_test_add_func("/hub/hubctl/invoke", test_invoke);
	g_test_add_func("/hub/hubctl/monitor", test_monitor);
	g_test_add_func("/hub/hubctl/monitor-json", test_monitor_json);
	g_test_add_func("/hub/hubctl/discover-onboard-remove", test_discover_onboard_remove);
	g_test_add_func("/hub/hubctl/unknown-device", test_unknown_device);
	g_test_add_func("/hub/hubctl/daemon-not-running", test_daemon_not_running);
	return g_test_run();
}
