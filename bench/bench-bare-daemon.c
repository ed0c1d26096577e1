/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-bare-daemon.c - the memory and start-up baseline of bench-hubd: a
 * daemon with hubd's libraries (GLib/GIO/GModule, json-glib, libsystemd,
 * SQLite) and nothing else. It connects to the session bus, owns NAME,
 * and idles in a GMainLoop until SIGTERM.
 *
 * Usage: bench-bare-daemon NAME
 */
#include "config.h"

#include <gio/gio.h>
#include <gmodule.h>
#include <json-glib/json-glib.h>
#include <locale.h>
#include <sqlite3.h>

#include "bench-common.h"

int main(int argc, char **argv)
{
	g_autoptr(BenchService) service = NULL;
	g_autoptr(sd_bus) bus = NULL;
	int r;

	if (argc != 2) {
		g_printerr("Usage: %s NAME\n", argv[0]);
		return 2;
	}
	/* hubd's first call; it maps the locale like any daemon would. */
	setlocale(LC_ALL, "");
	service = bench_service_new();
	/* One call into each library, so that the linker keeps every one
	 * (--as-needed) and they are mapped as they are in hubd. */
	g_debug("bare daemon: sqlite %s, %s %s, %s, modules %s", sqlite3_libversion(), g_type_name(JSON_TYPE_NODE),
		g_type_name(G_TYPE_FILE), g_type_name(G_TYPE_OBJECT), g_module_supported() ? "yes" : "no");
	r = bench_service_open(&bus);
	if (r >= 0)
		r = sd_bus_request_name(bus, argv[1], 0);
	if (r < 0) {
		g_printerr("Failed to own %s: %s\n", argv[1], g_strerror(-r));
		return 1;
	}
	return bench_service_run(service, bus);
}
