/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hub-main.c - hubd: options, main loop, start-up and shutdown order. */
#include "config.h"

#include <signal.h>

#include <glib-unix.h>
#include <locale.h>
#include <malloc.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>

#include "hub-daemon.h"
#include "hub-dbus.h"
#include "hub-error.h"

#include <hubd/hub-plugin.h>

static gboolean quit_cb(gpointer user_data)
{
	g_main_loop_quit(user_data);
	return G_SOURCE_CONTINUE;
}

/* From the main loop: a loop that hangs stops pinging, and systemd restarts hubd. */
static gboolean watchdog_cb(gpointer user_data)
{
	sd_notify(0, "WATCHDOG=1");
	return G_SOURCE_CONTINUE;
}

static gboolean bus_lost_cb(gpointer user_data)
{
	g_warning("Lost the D-Bus connection, exiting");
	g_main_loop_quit(user_data);
	return G_SOURCE_REMOVE;
}

int main(int argc, char **argv)
{
	g_autofree char *config_path = NULL;
	g_autofree char *state_dir = NULL;
	gboolean session = FALSE;
	gboolean version = FALSE;
	gboolean verbose = FALSE;
	GOptionEntry entries[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path, "Configuration file (default " HUB_CONFIG_FILE ")",
		  "FILE" },
		{ "session", 0, 0, G_OPTION_ARG_NONE, &session, "Use the session bus instead of the system bus", NULL },
		{ "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &state_dir, "Directory for the database (overrides the file)",
		  "DIR" },
		{ "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Log debug messages", NULL },
		{ "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
		G_OPTION_ENTRY_NULL,
	};
	g_autoptr(GOptionContext) context = g_option_context_new("- IoT hub daemon");
	g_autoptr(GError) error = NULL;
	g_autoptr(HubConfig) config = NULL;
	g_autoptr(HubDaemon) daemon = NULL;
	g_autoptr(HubDbus) dbus = NULL;
	g_autoptr(GMainLoop) loop = NULL;
	gint64 started = g_get_monotonic_time();
	guint sigterm, sigint, watchdog = 0;
	uint64_t watchdog_usec = 0;

	setlocale(LC_ALL, "");
	g_option_context_add_main_entries(context, entries, NULL);
	if (!g_option_context_parse(context, &argc, &argv, &error)) {
		g_printerr("hubd: %s\n", error->message);
		return 2;
	}
	if (version) {
		g_print("hubd %s (plugin ABI %d.%d)\n", PACKAGE_VERSION, HUB_PLUGIN_ABI_MAJOR, HUB_PLUGIN_ABI_MINOR);
		return 0;
	}
	if (verbose)
		g_setenv("G_MESSAGES_DEBUG", "all", TRUE);

	config = hub_config_load(config_path ? config_path : (g_file_test(HUB_CONFIG_FILE, G_FILE_TEST_EXISTS) ?
							       HUB_CONFIG_FILE : NULL),
				 &error);
	if (!config) {
		g_printerr("hubd: %s\n", error->message);
		return 1;
	}
	if (state_dir) {
		g_free(config->state_dir);
		config->state_dir = g_canonicalize_filename(state_dir, NULL);
	}
	loop = g_main_loop_new(NULL, FALSE);
	/* Before anything starts: a SIGTERM during start-up still shuts down cleanly. */
	sigterm = g_unix_signal_add(SIGTERM, quit_cb, loop);
	sigint = g_unix_signal_add(SIGINT, quit_cb, loop);
	/* A peer that closes a socket (broker, TPM simulator) is an error to
	 * handle where the write fails, not a reason to die. */
	signal(SIGPIPE, SIG_IGN);
	daemon = hub_daemon_new(g_steal_pointer(&config), &error);
	if (!daemon || !hub_daemon_start(daemon, &error)) {
		g_printerr("hubd: %s\n", error->message);
		g_source_remove(sigterm);
		g_source_remove(sigint);
		return 1;
	}
	dbus = hub_dbus_new(daemon, session, bus_lost_cb, loop, &error);
	if (!dbus) {
		g_printerr("hubd: %s\n", error->message);
		g_source_remove(sigterm);
		g_source_remove(sigint);
		return 1;
	}
	sd_notify(0, "READY=1");
	/* WatchdogSec= in the unit: ping twice per period. */
	if (sd_watchdog_enabled(0, &watchdog_usec) > 0 && watchdog_usec > 0)
		watchdog = g_timeout_add((guint)MAX(watchdog_usec / 2000, 1), watchdog_cb, NULL);
	/* Start-up parsed and validated every stored value; return the freed heap. */
	malloc_trim(0);
	g_message("hubd %s ready on the %s bus: %u devices, %u plugins, started in %.1f ms", PACKAGE_VERSION,
		  session ? "session" : "system", hub_registry_size(daemon->registry),
		  hub_plugin_loader_get_plugins(daemon->loader)->len, (g_get_monotonic_time() - started) / 1000.0);

	g_main_loop_run(loop);
	g_clear_handle_id(&watchdog, g_source_remove);
	g_source_remove(sigterm);
	g_source_remove(sigint);
	sd_notify(0, "STOPPING=1");
	g_message("hubd stopping");
	/* Plugins and commands finish while the bus still carries their answers. */
	hub_daemon_stop(daemon);
	g_clear_pointer(&dbus, hub_dbus_free);
	return 0;
}
