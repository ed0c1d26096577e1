/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

#include "hub-test-env.h"

static const char bus_config[] =
	"<busconfig><type>session</type><listen>unix:dir=%s</listen><auth>EXTERNAL</auth>"
	"<policy context=\"default\"><allow user=\"*\"/><allow send_destination=\"*\" eavesdrop=\"true\"/>"
	"<allow eavesdrop=\"true\"/><allow own=\"*\"/></policy></busconfig>";

/* A system bus in miniature: method calls denied unless a policy allows them. */
static const char system_bus_config[] =
	"<busconfig><type>system</type><listen>unix:dir=%s</listen><auth>EXTERNAL</auth>"
	"<policy context=\"default\">"
	"<allow user=\"*\"/><deny own=\"*\"/><deny send_type=\"method_call\"/>"
	"<allow send_type=\"signal\"/>"
	"<allow send_requested_reply=\"true\" send_type=\"method_return\"/>"
	"<allow send_requested_reply=\"true\" send_type=\"error\"/>"
	"<allow receive_type=\"method_call\"/><allow receive_type=\"method_return\"/>"
	"<allow receive_type=\"error\"/><allow receive_type=\"signal\"/>"
	"<allow send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus\"/>"
	"<allow send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus.Introspectable\"/>"
	"</policy><includedir>%s</includedir></busconfig>";

static const char *builddir(void)
{
	const char *dir = g_getenv("HUB_TOP_BUILDDIR");

	return dir ? dir : ".";
}

static const char *srcdir(void)
{
	const char *dir = g_getenv("HUB_TOP_SRCDIR");

	return dir ? dir : ".";
}

/* Everything hubd reads lives in the test's directory, readable by any user
 * (the policy tests run hubd as nobody; a clone may sit in a 0700 directory). */
static void copy_capabilities(const char *to_dir)
{
	g_autofree char *from_dir = g_build_filename(srcdir(), "data", "capabilities", NULL);
	g_autoptr(GDir) dir = g_dir_open(from_dir, 0, NULL);
	const char *name;

	g_assert_nonnull(dir);
	g_assert_cmpint(g_mkdir(to_dir, 0755), ==, 0);
	while ((name = g_dir_read_name(dir))) {
		g_autofree char *from = g_build_filename(from_dir, name, NULL);
		g_autofree char *to = g_build_filename(to_dir, name, NULL);
		g_autofree char *text = NULL;
		gsize len = 0;

		g_assert_true(g_file_get_contents(from, &text, &len, NULL));
		g_assert_true(g_file_set_contents(to, text, (gssize)len, NULL));
		g_assert_cmpint(g_chmod(to, 0644), ==, 0);
	}
}

static void child_setup(gpointer user_data)
{
	prctl(PR_SET_PDEATHSIG, SIGTERM);
}

static GSubprocessLauncher *launcher_new(HubTestEnv *env, GSubprocessFlags flags)
{
	GSubprocessLauncher *launcher = g_subprocess_launcher_new(flags);

	g_subprocess_launcher_set_child_setup(launcher, child_setup, NULL, NULL);
	if (env->bus_address)
		g_subprocess_launcher_setenv(launcher, "DBUS_SESSION_BUS_ADDRESS", env->bus_address, TRUE);
	return launcher;
}

char *hub_test_env_path(HubTestEnv *env, const char *name)
{
	return g_build_filename(env->tmpdir, name, NULL);
}

void hub_test_env_install_plugin(HubTestEnv *env, const char *relative, const char *name, guint mode)
{
	g_autofree char *from = g_build_filename(builddir(), relative, NULL);
	g_autofree char *to = g_build_filename(env->plugin_dir, name, NULL);
	g_autofree char *contents = NULL;
	g_autoptr(GError) error = NULL;
	gsize len = 0;

	if (!g_file_get_contents(from, &contents, &len, &error))
		g_error("Cannot read plugin %s (was it built?): %s", from, error->message);
	g_assert_true(g_file_set_contents(to, contents, (gssize)len, &error));
	g_assert_no_error(error);
	g_assert_cmpint(g_chmod(to, (int)mode), ==, 0);
}

static HubTestEnv *env_new(const char *policy_dir);

HubTestEnv *hub_test_env_new(void)
{
	return env_new(NULL);
}

HubTestEnv *hub_test_env_new_system_bus(const char *policy_dir)
{
	return env_new(policy_dir);
}

static HubTestEnv *env_new(const char *policy_dir)
{
	HubTestEnv *env = g_new0(HubTestEnv, 1);
	g_autoptr(GSubprocessLauncher) launcher = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GDataInputStream) in = NULL;
	g_autofree char *conf = NULL;
	g_autofree char *conf_path = NULL;
	g_autofree char *sock_dir = NULL;

	env->tmpdir = g_dir_make_tmp("hubd-test-XXXXXX", &error);
	g_assert_no_error(error);
	env->state_dir = hub_test_env_path(env, "state");
	env->plugin_dir = hub_test_env_path(env, "plugins");
	env->log_path = hub_test_env_path(env, "hubd.log");
	env->config_path = hub_test_env_path(env, "hubd.conf");
	env->capability_dir = hub_test_env_path(env, "capabilities");
	copy_capabilities(env->capability_dir);
	g_assert_cmpint(g_mkdir(env->plugin_dir, 0755), ==, 0);
	hub_test_env_install_plugin(env, "plugins/virtual/.libs/virtual.so", "virtual.so", 0755);

	sock_dir = hub_test_env_path(env, "bus");
	/* Reachable by other users: tests check what an unprivileged caller may do. */
	g_assert_cmpint(g_mkdir(sock_dir, 0755), ==, 0);
	g_assert_cmpint(g_chmod(env->tmpdir, 0755), ==, 0);
	conf = policy_dir ? g_strdup_printf(system_bus_config, sock_dir, policy_dir) : g_strdup_printf(bus_config, sock_dir);
	conf_path = hub_test_env_path(env, "bus.conf");
	g_assert_true(g_file_set_contents(conf_path, conf, -1, NULL));
	launcher = launcher_new(env, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
	env->dbus_daemon = g_subprocess_launcher_spawn(launcher, &error, "dbus-daemon", "--nofork", "--print-address=1",
						       "--config-file", conf_path, NULL);
	g_assert_no_error(error);
	in = g_data_input_stream_new(g_subprocess_get_stdout_pipe(env->dbus_daemon));
	env->bus_address = g_data_input_stream_read_line(in, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_nonnull(env->bus_address);
	env->conn = g_dbus_connection_new_for_address_sync(env->bus_address,
							   G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
								   G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
							   NULL, NULL, &error);
	g_assert_no_error(error);
	return env;
}

void hub_test_env_write_config(HubTestEnv *env, const char *hubd_extra, const char *devices)
{
	g_autofree char *devices_path = hub_test_env_path(env, "devices.conf");
	g_autofree char *conf = g_strdup_printf("[hubd]\nplugin-dir=%s\ncapability-dir=%s\n%s\n"
						"[plugin.virtual]\ndevices=devices.conf\nlatency-ms=20\n",
						env->plugin_dir, env->capability_dir, hubd_extra ? hubd_extra : "");

	g_assert_true(g_file_set_contents(env->config_path, conf, -1, NULL));
	g_assert_true(g_file_set_contents(devices_path, devices ? devices : "", -1, NULL));
}

GSubprocess *hub_test_env_spawn_hubd(HubTestEnv *env)
{
	g_autoptr(GSubprocessLauncher) launcher = launcher_new(env, G_SUBPROCESS_FLAGS_NONE);
	g_autofree char *hubd = g_build_filename(builddir(), "src", "hubd", NULL);
	g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
	const char *wrapper = g_getenv("HUB_TEST_WRAPPER");
	g_autoptr(GError) error = NULL;
	GSubprocess *process;
	int fd;

	if (wrapper && *wrapper) {
		g_auto(GStrv) words = g_strsplit(wrapper, " ", -1);

		for (guint i = 0; words[i]; i++)
			if (*words[i])
				g_ptr_array_add(argv, g_strdup(words[i]));
	}
	g_ptr_array_add(argv, g_strdup(hubd));
	g_ptr_array_add(argv, g_strdup("--session"));
	g_ptr_array_add(argv, g_strdup("--verbose"));
	g_ptr_array_add(argv, g_strdup("--config"));
	g_ptr_array_add(argv, g_strdup(env->config_path));
	g_ptr_array_add(argv, g_strdup("--state-dir"));
	g_ptr_array_add(argv, g_strdup(env->state_dir));
	g_ptr_array_add(argv, NULL);
	fd = g_open(env->log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
	g_assert_cmpint(fd, >=, 0);
	/* GLib prints info and debug messages on stdout: keep both in the log. */
	g_subprocess_launcher_take_stdout_fd(launcher, dup(fd));
	g_subprocess_launcher_take_stderr_fd(launcher, fd);
	g_subprocess_launcher_setenv(launcher, "G_DEBUG", "fatal-criticals", TRUE);
	process = g_subprocess_launcher_spawnv(launcher, (const char *const *)argv->pdata, &error);
	g_assert_no_error(error);
	env->hubd_runs++;
	return process;
}

static gboolean name_owned(gpointer data)
{
	HubTestEnv *env = data;
	g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
		env->conn, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "NameHasOwner",
		g_variant_new("(s)", "org.hubd.Hub1"), G_VARIANT_TYPE("(b)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
	gboolean owned = FALSE;

	if (reply)
		g_variant_get(reply, "(b)", &owned);
	return owned;
}

void hub_test_env_start_hubd(HubTestEnv *env)
{
	gboolean wrapped = g_getenv("HUB_TEST_WRAPPER") && *g_getenv("HUB_TEST_WRAPPER");

	g_assert_null(env->hubd);
	env->hubd = hub_test_env_spawn_hubd(env);
	if (!hub_test_wait_until(name_owned, env, wrapped ? 60000 : 10000)) {
		g_autofree char *log = hub_test_env_read_log(env);

		g_error("hubd did not own org.hubd.Hub1; its log:\n%s", log);
	}
}

void hub_test_env_stop_hubd(HubTestEnv *env)
{
	g_autoptr(GError) error = NULL;

	if (!env->hubd)
		return;
	g_subprocess_send_signal(env->hubd, SIGTERM);
	g_subprocess_wait(env->hubd, NULL, &error);
	g_assert_no_error(error);
	if (!g_subprocess_get_if_exited(env->hubd) || g_subprocess_get_exit_status(env->hubd) != 0) {
		g_autofree char *log = hub_test_env_read_log(env);

		g_error("hubd did not exit cleanly (status %d); its log:\n%s", g_subprocess_get_status(env->hubd), log);
	}
	g_clear_object(&env->hubd);
}

char *hub_test_env_read_log(HubTestEnv *env)
{
	char *contents = NULL;

	if (!g_file_get_contents(env->log_path, &contents, NULL, NULL))
		return g_strdup("");
	return contents;
}

void hub_test_remove_tree(const char *path)
{
	g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
	const char *name;

	while (dir && (name = g_dir_read_name(dir))) {
		g_autofree char *child = g_build_filename(path, name, NULL);

		if (g_file_test(child, G_FILE_TEST_IS_DIR) && !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
			hub_test_remove_tree(child);
		else
			g_unlink(child);
	}
	g_rmdir(path);
}

void hub_test_env_free(HubTestEnv *env)
{
	if (!env)
		return;
	if (env->hubd) {
		g_subprocess_force_exit(env->hubd);
		g_subprocess_wait(env->hubd, NULL, NULL);
		g_clear_object(&env->hubd);
	}
	g_clear_object(&env->conn);
	if (env->dbus_daemon) {
		g_subprocess_send_signal(env->dbus_daemon, SIGTERM);
		g_subprocess_wait(env->dbus_daemon, NULL, NULL);
		g_clear_object(&env->dbus_daemon);
	}
	if (!g_getenv("HUB_TEST_KEEP"))
		hub_test_remove_tree(env->tmpdir);
	g_free(env->tmpdir);
	g_free(env->bus_address);
	g_free(env->config_path);
	g_free(env->state_dir);
	g_free(env->plugin_dir);
	g_free(env->capability_dir);
	g_free(env->log_path);
	g_free(env);
}

GVariant *hub_test_call(HubTestEnv *env, const char *path, const char *iface, const char *method,
			GVariant *params, const char *reply_type, GError **error)
{
	return g_dbus_connection_call_sync(env->conn, "org.hubd.Hub1", path, iface, method, params,
					   reply_type ? G_VARIANT_TYPE(reply_type) : NULL, G_DBUS_CALL_FLAGS_NONE, 20000,
					   NULL, error);
}

char *hub_test_device_path(const char *device_id)
{
	GString *path = g_string_new("/org/hubd/Hub1/devices/");

	/* sd_bus_path_encode: alphanumerics stay, everything else becomes _xx. */
	for (const char *p = device_id; *p; p++) {
		if (g_ascii_isalnum(*p))
			g_string_append_c(path, *p);
		else
			g_string_append_printf(path, "_%02x", (unsigned char)*p);
	}
	return g_string_free(path, FALSE);
}

GVariant *hub_test_get_device_property(HubTestEnv *env, const char *device_id, const char *property)
{
	g_autofree char *path = hub_test_device_path(device_id);
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = hub_test_call(env, path, "org.freedesktop.DBus.Properties", "Get",
						  g_variant_new("(ss)", "org.hubd.Hub1.Device", property), "(v)", &error);
	GVariant *value = NULL;

	g_assert_no_error(error);
	g_variant_get(reply, "(v)", &value);
	return value;
}

GVariant *hub_test_get_manager_property(HubTestEnv *env, const char *property)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = hub_test_call(env, "/org/hubd/Hub1", "org.freedesktop.DBus.Properties", "Get",
						  g_variant_new("(ss)", "org.hubd.Hub1.Manager", property), "(v)", &error);
	GVariant *value = NULL;

	g_assert_no_error(error);
	g_variant_get(reply, "(v)", &value);
	return value;
}

static gboolean deadline_cb(gpointer data)
{
	*(gboolean *)data = TRUE;
	return G_SOURCE_REMOVE;
}

gboolean hub_test_wait_until(gboolean (*done)(gpointer data), gpointer data, guint timeout_ms)
{
	gboolean expired = FALSE;
	guint source = g_timeout_add(timeout_ms, deadline_cb, &expired);

	/* Poll: predicates may look at state outside the main context. */
	while (!done(data) && !expired)
		if (!g_main_context_iteration(NULL, FALSE))
			g_usleep(1000);
	if (!expired)
		g_source_remove(source);
	return done(data);
}

gint hub_test_run_tool(HubTestEnv *env, const char *const *argv, char **out, char **err)
{
	g_autoptr(GSubprocessLauncher) launcher =
		launcher_new(env, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
	g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GSubprocess) process = NULL;
	g_autoptr(GError) error = NULL;

	g_ptr_array_add(args, g_build_filename(builddir(), argv[0], NULL));
	for (guint i = 1; argv[i]; i++)
		g_ptr_array_add(args, g_strdup(argv[i]));
	g_ptr_array_add(args, NULL);
	process = g_subprocess_launcher_spawnv(launcher, (const char *const *)args->pdata, &error);
	g_assert_no_error(error);
	g_subprocess_communicate_utf8(process, NULL, NULL, out, err, &error);
	g_assert_no_error(error);
	return g_subprocess_get_exit_status(process);
}

gint hub_test_env_hubctl(HubTestEnv *env, char **out, char **err, ...)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autofree char *my_out = NULL;
	g_autofree char *my_err = NULL;
	const char *arg;
	gint status;
	va_list ap;

	g_ptr_array_add(argv, (gpointer) "tools/hubctl");
	g_ptr_array_add(argv, (gpointer) "--session");
	va_start(ap, err);
	while ((arg = va_arg(ap, const char *)))
		g_ptr_array_add(argv, (gpointer)arg);
	va_end(ap);
	g_ptr_array_add(argv, NULL);
	status = hub_test_run_tool(env, (const char *const *)argv->pdata, out ? out : &my_out, err ? err : &my_err);
	if (status != 0)
		g_test_message("hubctl exited %d: %s", status, err ? *err : my_err);
	return status;
}

JsonObject *hub_test_env_cert_status(HubTestEnv *env, const char *role)
{
	g_autofree char *out = NULL;
	g_autoptr(JsonParser) parser = json_parser_new();
	JsonArray *roles;

	g_assert_cmpint(hub_test_env_hubctl(env, &out, NULL, "--json", "cert", "status", NULL), ==, 0);
	g_assert_true(json_parser_load_from_data(parser, out, -1, NULL));
	roles = json_node_get_array(json_parser_get_root(parser));
	for (guint i = 0; i < json_array_get_length(roles); i++) {
		JsonObject *entry = json_array_get_object_element(roles, i);

		if (g_str_equal(json_object_get_string_member(entry, "role"), role))
			return json_object_ref(entry);
	}
	g_error("no role %s in hubctl cert status", role);
}

JsonObject *hub_test_parse_object(const char *text)
{
	g_autoptr(JsonParser) parser = json_parser_new();

	if (!text || !json_parser_load_from_data(parser, text, -1, NULL) ||
	    !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)))
		return NULL;
	return json_object_ref(json_node_get_object(json_parser_get_root(parser)));
}

JsonObject *hub_test_env_cloud_status(HubTestEnv *env)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = hub_test_call(env, "/org/hubd/Hub1", "org.hubd.Hub1.Manager", "GetCloudStatus",
						  NULL, "(s)", &error);
	const char *text;
	JsonObject *status;

	g_assert_no_error(error);
	g_variant_get(reply, "(&s)", &text);
	status = hub_test_parse_object(text);
	g_assert_nonnull(status);
	return status;
}
