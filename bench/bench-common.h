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
