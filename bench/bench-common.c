/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib-unix.h>
#include <time.h>

#include "bench-common.h"

gint64 bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (gint64)ts.tv_sec * G_GINT64_CONSTANT(1000000000) + ts.tv_nsec;
}

static gint compare_gint64(gconstpointer a, gconstpointer b)
{
	gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;

	return x < y ? -1 : x > y;
}

double bench_percentile_us(GArray *samples_ns, double q)
{
	guint rank;

	if (samples_ns->len == 0)
		return 0;
	g_array_sort(samples_ns, compare_gint64);
	rank = (guint)(q * samples_ns->len);
	if (rank < q * samples_ns->len) /* ceil() without libm */
		rank++;
	rank = CLAMP(rank, 1, samples_ns->len);
	return g_array_index(samples_ns, gint64, rank - 1) / 1000.0;
}

BenchTarget bench_check(double value, double limit)
{
	return value <= limit ? BENCH_TARGET_MET : BENCH_TARGET_MISSED;
}

void bench_print_header(void)
{
	g_print("%-2s %-48s %12s %12s %7s  %-15s %s\n", "#", "figure", "hubd", "baseline", "ratio", "target", "");
}

void bench_print_rule(void)
{
	g_print("%s\n", "----------------------------------------------------------------------------------------------"
			"----------");
}

void bench_print_row(const char *number, const char *label, double hub, double base, const char *unit,
		     const char *target, BenchTarget result)
{
	g_autofree char *hub_text = hub > 0 ? g_strdup_printf("%.*f %s", hub < 100 ? 2 : 1, hub, unit) : g_strdup("-");
	g_autofree char *base_text = base > 0 ? g_strdup_printf("%.*f %s", base < 100 ? 2 : 1, base, unit) :
						g_strdup("-");
	g_autofree char *ratio_text = hub > 0 && base > 0 ? g_strdup_printf("%.2f", hub / base) : g_strdup("-");
	const char *verdict = result == BENCH_TARGET_MET ? "met" : result == BENCH_TARGET_MISSED ? "MISSED" : "";

	g_print("%-2s %-48s %12s %12s %7s  %-15s %s\n", number, label, hub_text, base_text, ratio_text,
		target ? target : "", verdict);
}

struct _BenchService {
	GMainLoop *loop;
	sd_bus *bus;
	guint sigterm, sigint;
	int status;
};

static gboolean quit_cb(gpointer user_data)
{
	BenchService *service = user_data;

	g_main_loop_quit(service->loop);
	return G_SOURCE_CONTINUE;
}

BenchService *bench_service_new(void)
{
	BenchService *service = g_new0(BenchService, 1);

	service->loop = g_main_loop_new(NULL, FALSE);
	/* A signal that arrives before the loop runs waits for it. */
	service->sigterm = g_unix_signal_add(SIGTERM, quit_cb, service);
	service->sigint = g_unix_signal_add(SIGINT, quit_cb, service);
	return service;
}

void bench_service_free(BenchService *service)
{
	if (!service)
		return;
	g_source_remove(service->sigterm);
	g_source_remove(service->sigint);
	g_main_loop_unref(service->loop);
	g_free(service);
}

int bench_service_open(sd_bus **bus)
{
	return sd_bus_open_user(bus);
}

/* The least a GLib daemon does per wake-up: drain the connection, then flush
 * (a reply that did not fit the socket buffer; a no-op otherwise). */
static gboolean bus_ready_cb(gint fd, GIOCondition condition, gpointer user_data)
{
	BenchService *service = user_data;
	int r;

	while ((r = sd_bus_process(service->bus, NULL)) > 0)
		;
	if (r >= 0)
		r = sd_bus_flush(service->bus);
	if (r < 0) {
		g_printerr("D-Bus connection failed: %s\n", g_strerror(-r));
		service->status = 1;
		g_main_loop_quit(service->loop);
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

int bench_service_run(BenchService *service, sd_bus *bus)
{
	guint watch;

	service->bus = bus;
	/* Messages read while owning the name are queued already: the fd stays quiet. */
	if (!bus_ready_cb(-1, G_IO_IN, service))
		return service->status;
	watch = g_unix_fd_add(sd_bus_get_fd(bus), G_IO_IN, bus_ready_cb, service);
	g_main_loop_run(service->loop);
	if (service->status == 0) /* else the watch removed itself */
		g_source_remove(watch);
	service->bus = NULL;
	return service->status;
}
