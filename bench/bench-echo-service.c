/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-echo-service.c - the latency baseline of bench-hubd: the least an
 * sd-bus service can do to answer a call shaped like
 * org.hubd.Hub1.Device.GetProperty ((sss) -> (vx), the variant a boolean).
 *
 * Usage: bench-echo-service [--glib] NAME
 * Owns NAME on the session bus and serves org.hubd.BenchEcho1 on
 * /org/hubd/BenchEcho1. The default loop is sd_bus_wait()/sd_bus_process();
 * --glib dispatches from a GMainLoop instead, as hubd does.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "bench-common.h"

#define ECHO_PATH "/org/hubd/BenchEcho1"
#define ECHO_IFACE "org.hubd.BenchEcho1"

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int signo)
{
	stop_requested = 1;
}

static int method_get_property(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	const char *endpoint, *capability, *property;
	int r;

	r = sd_bus_message_read(m, "sss", &endpoint, &capability, &property);
	if (r < 0)
		return r;
	return sd_bus_reply_method_return(m, "vx", "b", 1, (int64_t)(bench_now_ns() / 1000000));
}

static const sd_bus_vtable echo_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD_WITH_ARGS("GetProperty", SD_BUS_ARGS("s", endpoint, "s", capability, "s", property),
				SD_BUS_RESULT("v", value, "x", last_changed_ms), method_get_property,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_VTABLE_END,
};

/* SIGTERM interrupts sd_bus_wait() (no SA_RESTART) and ends the loop. */
static void catch_stop_signals(void)
{
	struct sigaction action;

	memset(&action, 0, sizeof(action));
	action.sa_handler = on_stop_signal;
	sigaction(SIGTERM, &action, NULL);
	sigaction(SIGINT, &action, NULL);
}

static int run_plain(sd_bus *bus)
{
	int r;

	while (!stop_requested) {
		r = sd_bus_process(bus, NULL);
		if (r > 0)
			continue;
		/* The timeout bounds a stop signal lost between the check and the wait. */
		if (r >= 0)
			r = sd_bus_wait(bus, 100000);
		if (r < 0 && r != -EINTR) {
			g_printerr("D-Bus connection failed: %s\n", g_strerror(-r));
			return 1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	g_autoptr(BenchService) service = NULL;
	g_autoptr(sd_bus) bus = NULL;
	gboolean glib = argc == 3 && g_str_equal(argv[1], "--glib");
	const char *name = argv[argc - 1];
	int r;

	if (argc != 2 && !glib) {
		g_printerr("Usage: %s [--glib] NAME\n", argv[0]);
		return 2;
	}
	/* Before the name is owned: a stop right after it appears is clean. */
	if (glib)
		service = bench_service_new();
	else
		catch_stop_signals();
	r = bench_service_open(&bus);
	if (r >= 0)
		r = sd_bus_add_object_vtable(bus, NULL, ECHO_PATH, ECHO_IFACE, echo_vtable, NULL);
	if (r >= 0)
		r = sd_bus_request_name(bus, name, 0);
	if (r < 0) {
		g_printerr("Failed to serve %s: %s\n", name, g_strerror(-r));
		return 1;
	}
	return glib ? bench_service_run(service, bus) : run_plain(bus);
}
