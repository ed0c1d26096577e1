/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-policy.c - dbus/org.hubd.Hub1.conf on a private system-type bus that
 * denies method calls by default: root may own the name and do everything,
 * everyone may read, other users may neither write nor own the name.
 */
#include "config.h"

#include <glib/gstdio.h>
#include <unistd.h>

#include "hub-test-env.h"

#define DEVICES "[device light-1]\ntype=color-light\nlatency-ms=20\n"

/* Runs a program as user nobody; returns its exit status, stderr in @err. */
static gint run_as_nobody(HubTestEnv *env, const char *const *args, char **err)
{
	g_autoptr(GSubprocessLauncher) launcher =
		g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
	g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GSubprocess) process = NULL;
	g_autoptr(GError) error = NULL;

	g_ptr_array_add(argv, g_strdup("setpriv"));
	g_ptr_array_add(argv, g_strdup("--reuid=nobody"));
	g_ptr_array_add(argv, g_strdup("--regid=nogroup"));
	g_ptr_array_add(argv, g_strdup("--clear-groups"));
	for (guint i = 0; args[i]; i++)
		g_ptr_array_add(argv, g_strdup(args[i]));
	g_ptr_array_add(argv, NULL);
	g_subprocess_launcher_setenv(launcher, "DBUS_SESSION_BUS_ADDRESS", env->bus_address, TRUE);
	process = g_subprocess_launcher_spawnv(launcher, (const char *const *)argv->pdata, &error);
	g_assert_no_error(error);
	g_subprocess_communicate_utf8(process, NULL, NULL, NULL, err, &error);
	g_assert_no_error(error);
	return g_subprocess_get_exit_status(process);
}

static gboolean can_switch_user(void)
{
	g_autofree char *setpriv = g_find_program_in_path("setpriv");

	return geteuid() == 0 && setpriv;
}

/* The bus watches its include directory, so the copy stays until the test ends. */
static HubTestEnv *env_with_policy(char **policy_dir)
{
	g_autofree char *policy = g_build_filename(g_getenv("HUB_TOP_SRCDIR") ? g_getenv("HUB_TOP_SRCDIR") : ".", "dbus",
						   "org.hubd.Hub1.conf", NULL);
	g_autofree char *copy = NULL;
	g_autofree char *text = NULL;

	*policy_dir = g_dir_make_tmp("hubd-policy-XXXXXX", NULL);
	copy = g_build_filename(*policy_dir, "org.hubd.Hub1.conf", NULL);
	g_assert_true(g_file_get_contents(policy, &text, NULL, NULL));
	g_assert_true(g_file_set_contents(copy, text, -1, NULL));
	return hub_test_env_new_system_bus(*policy_dir);
}

static void remove_policy_dir(char *dir)
{
	g_autofree char *copy = g_build_filename(dir, "org.hubd.Hub1.conf", NULL);

	g_unlink(copy);
	g_rmdir(dir);
	g_free(dir);
}

static void test_unprivileged_reads_but_cannot_write(void)
{
	g_autoptr(HubTestEnv) env = NULL;
	g_autofree char *hubctl = NULL;
	g_autofree char *err_get = NULL, *err_set = NULL, *err_list = NULL;
	g_autofree char *err_status = NULL, *err_erase = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	char *policy_dir = NULL;

	if (!can_switch_user()) {
		g_test_skip("needs root and setpriv to act as another user");
		return;
	}
	env = env_with_policy(&policy_dir);
	hub_test_env_install_plugin(env, "certhandlers/file/.libs/certstore-file.so", "certstore-file.so", 0755);
	hub_test_env_write_config(env, "plugins=virtual,file", DEVICES);
	hub_test_env_start_hubd(env);
	hubctl = g_build_filename(g_getenv("HUB_TOP_BUILDDIR"), "tools", "hubctl", NULL);
	{
		const char *status[] = { hubctl, "--session", "cert", "status", NULL };
		const char *erase[] = { hubctl, "--session", "cert", "erase", "claim", NULL };

		/* The credentials' status is public; changing them is not. */
		g_assert_cmpint(run_as_nobody(env, status, &err_status), ==, 0);
		g_assert_cmpint(run_as_nobody(env, erase, &err_erase), ==, 1);
		if (!strstr(err_erase, "Rejected send message") || !strstr(err_erase, "Erase"))
			g_error("expected the bus to reject Certificates.Erase, got: %s", err_erase);
	}
	{
		const char *list[] = { hubctl, "--session", "list", NULL };
		const char *get[] = { hubctl, "--session", "get", "light-1", "1", "matter.OnOff@1.4", "OnOff", NULL };
		const char *set[] = { hubctl, "--session", "set", "light-1", "1", "matter.OnOff@1.4", "OnOff", "true", NULL };

		g_assert_cmpint(run_as_nobody(env, list, &err_list), ==, 0);
		g_assert_cmpint(run_as_nobody(env, get, &err_get), ==, 0);
		g_assert_cmpint(run_as_nobody(env, set, &err_set), ==, 1);
		/* Refused by the bus itself, before the daemon sees it. */
		if (!strstr(err_set, "Rejected send message") || !strstr(err_set, "SetProperty"))
			g_error("expected the bus to reject SetProperty, got: %s", err_set);
	}
	/* Root (allowed by the policy) may write. */
	reply = hub_test_call(env, "/org/hubd/Hub1/devices/light_2d1", "org.hubd.Hub1.Device", "SetProperty",
			      g_variant_new("(sssv)", "1", "matter.OnOff@1.4", "OnOff", g_variant_new_boolean(TRUE)),
			      "(is)", &error);
	g_assert_no_error(error);
	hub_test_env_stop_hubd(env);
	g_clear_pointer(&env, hub_test_env_free);
	remove_policy_dir(policy_dir);
}

static void test_unprivileged_cannot_own_name(void)
{
	g_autoptr(HubTestEnv) env = NULL;
	g_autofree char *hubd = NULL;
	g_autofree char *state = NULL;
	g_autofree char *err = NULL;
	char *policy_dir = NULL;

	if (!can_switch_user()) {
		g_test_skip("needs root and setpriv to act as another user");
		return;
	}
	env = env_with_policy(&policy_dir);
	hub_test_env_write_config(env, "plugins=virtual", DEVICES);
	hubd = g_build_filename(g_getenv("HUB_TOP_BUILDDIR"), "src", "hubd", NULL);
	state = hub_test_env_path(env, "nobody-state");
	g_assert_cmpint(g_mkdir(state, 0777), ==, 0);
	g_assert_cmpint(g_chmod(state, 0777), ==, 0);
	{
		const char *args[] = { hubd, "--session", "--config", env->config_path, "--state-dir", state, NULL };

		g_assert_cmpint(run_as_nobody(env, args, &err), ==, 1);
	}
	if (!strstr(err, "org.hubd.Hub1"))
		g_error("expected hubd to be refused the name, got: %s", err);
	/* The name is still free for the daemon's own user. */
	hub_test_env_start_hubd(env);
	hub_test_env_stop_hubd(env);
	g_clear_pointer(&env, hub_test_env_free);
	remove_policy_dir(policy_dir);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/hub/policy/unprivileged-reads-but-cannot-write", test_unprivileged_reads_but_cannot_write);
	g_test_add_func("/hub/policy/unprivileged-cannot-own-name", test_unprivileged_cannot_own_name);
	return g_test_run();
}
