/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-test-env.h - a private world for integration tests: a temporary
 * directory, a private dbus-daemon, and the real hubd from the build tree
 * with the real virtual plugin. Everything started is stopped by
 * hub_test_env_free(), and children die with the test (PR_SET_PDEATHSIG).
 *
 * HUB_TEST_WRAPPER (e.g. "valgrind --leak-check=full --error-exitcode=99")
 * runs hubd under a wrapper; hub_test_env_stop_hubd() then fails the test if
 * the wrapper reports errors.
 */
#pragma once

#include <gio/gio.h>

/* json-glib's own typedef (C11 allows repeating it): users of the
 * harness need not build against json-glib unless they use the object. */
typedef struct _JsonObject JsonObject;

typedef struct {
	char *tmpdir;
	char *bus_address;
	GSubprocess *dbus_daemon;
	GDBusConnection *conn;
	GSubprocess *hubd;
	char *config_path;
	char *state_dir;
	char *plugin_dir;
	char *capability_dir;
	char *log_path;
	guint hubd_runs;
} HubTestEnv;

/* Temporary dir, private bus, plugin dir holding a copy of the virtual plugin
 * (mode 0755), capability dir = the source tree's data/capabilities. */
HubTestEnv *hub_test_env_new(void);
/* The same, but the bus is a system-type bus that denies method calls by
 * default (like Debian's system.conf) and includes the policy files in
 * @policy_dir: for testing dbus/org.hubd.Hub1.conf. */
HubTestEnv *hub_test_env_new_system_bus(const char *policy_dir);
void hub_test_env_free(HubTestEnv *env);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HubTestEnv, hub_test_env_free)

/* Writes hubd.conf ([hubd] with the env's dirs plus @hubd_extra lines) and
 * devices.conf (@devices) for the virtual plugin. */
void hub_test_env_write_config(HubTestEnv *env, const char *hubd_extra, const char *devices);

/* Removes @path and everything below it (symlinks are removed, not followed). */
void hub_test_remove_tree(const char *path);

/* A path inside the temp dir (g_free). */
char *hub_test_env_path(HubTestEnv *env, const char *name);

/* Copies a built module ($HUB_TOP_BUILDDIR/<relative>) into the plugin dir with @mode. */
void hub_test_env_install_plugin(HubTestEnv *env, const char *relative, const char *name, guint mode);

/* Starts hubd --session --config --state-dir and waits (10 s max) for the bus name. */
void hub_test_env_start_hubd(HubTestEnv *env);
/* Starts hubd and returns it without waiting (for tests of failing starts). */
GSubprocess *hub_test_env_spawn_hubd(HubTestEnv *env);
/* SIGTERM, wait, and assert a clean exit. */
void hub_test_env_stop_hubd(HubTestEnv *env);
/* hubd's stderr so far (all runs), g_free. */
char *hub_test_env_read_log(HubTestEnv *env);

/* Synchronous call on org.hubd.Hub1; NULL with @error on failure. */
GVariant *hub_test_call(HubTestEnv *env, const char *path, const char *iface, const char *method,
			GVariant *params, const char *reply_type, GError **error);
/* Object path of a device, as the daemon encodes it (g_free). */
char *hub_test_device_path(const char *device_id);
/* A property of a device object (Properties.Get); asserts success. */
GVariant *hub_test_get_device_property(HubTestEnv *env, const char *device_id, const char *property);
/* Manager property; asserts success. */
GVariant *hub_test_get_manager_property(HubTestEnv *env, const char *property);

/* Iterates the main context until @done(@data) or @timeout_ms; returns the final @done(). */
gboolean hub_test_wait_until(gboolean (*done)(gpointer data), gpointer data, guint timeout_ms);

/* Runs a program from the build tree (e.g. "tools/hubctl") with the test bus
 * address in its environment. Returns the exit status; output in @out and @err. */
gint hub_test_run_tool(HubTestEnv *env, const char *const *argv, char **out, char **err);

/* Runs tools/hubctl --session @... (NULL-terminated arguments) and returns
 * its exit status; a failure's stderr goes to the test log. @out and @err
 * (may be NULL) receive the output (g_free). */
gint hub_test_env_hubctl(HubTestEnv *env, char **out, char **err, ...) G_GNUC_NULL_TERMINATED;
/* The entry of @role in `hubctl --json cert status` (asserted to succeed). */
JsonObject *hub_test_env_cert_status(HubTestEnv *env, const char *role);
/* Manager.GetCloudStatus, parsed (json_object_unref); the test fails on a D-Bus error. */
JsonObject *hub_test_env_cloud_status(HubTestEnv *env);
/* @text as a JSON object (json_object_unref), or NULL when it is not one. */
JsonObject *hub_test_parse_object(const char *text);
