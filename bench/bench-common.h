/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-common.h - shared by the benchmark driver and its baseline services
 * (bench/README.md). Not part of hubd.
 */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(sd_bus, sd_bus_flush_close_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(sd_bus_message, sd_bus_message_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(sd_bus_slot, sd_bus_slot_unref)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(sd_bus_error, sd_bus_error_free)

/* CLOCK_MONOTONIC in nanoseconds. Thread-safe, never fails. */
gint64 bench_now_ns(void);

/* The @q quantile (0.5 = p50) of @samples_ns (gint64) by nearest rank, in
 * microseconds; 0 when empty. Sorts @samples_ns in place. */
double bench_percentile_us(GArray *samples_ns, double q);

/* The report table of bench-hubd and bench-mqtt: one row per figure, hubd next to its
 * baseline from the same run, the ratio hubd / baseline and the target. */
typedef enum {
	BENCH_TARGET_NONE,
	BENCH_TARGET_MET,
	BENCH_TARGET_MISSED,
} BenchTarget;

/* MET when @value <= @limit, else MISSED. */
BenchTarget bench_check(double value, double limit);
void bench_print_header(void);
void bench_print_rule(void);
/* @hub or @base <= 0 (not measured) prints "-" for it and the ratio; @target may be NULL. */
void bench_print_row(const char *number, const char *label, double hub, double base, const char *unit,
		     const char *target, BenchTarget result);

/* A baseline service: a GMainLoop that SIGTERM/SIGINT end. Create it before
 * owning a bus name, so that a stop right after the name appears is clean. */
typedef struct _BenchService BenchService;

BenchService *bench_service_new(void);
void bench_service_free(BenchService *service);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BenchService, bench_service_free)

/* Connects to the session bus ($DBUS_SESSION_BUS_ADDRESS), as hubd --session
 * does. Returns a negative errno on failure; *bus is the caller's. */
int bench_service_open(sd_bus **bus);

/* Dispatches @bus from the default GMainContext until a stop signal or a
 * connection failure. Returns the exit status. */
int bench_service_run(BenchService *service, sd_bus *bus);
