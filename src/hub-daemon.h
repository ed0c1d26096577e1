/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-daemon.h - the core assembled: configuration, catalog, store, registry,
 * command pipeline, plugins and discovery, wired through the event bus.
 * The D-Bus adapter and (later) transports sit on top of it.
 */
#pragma once

#include <glib.h>

#include "hub-catalog.h"
#include "hub-cert-manager.h"
#include "hub-cloud.h"
#include "hub-command.h"
#include "hub-config.h"
#include "hub-discovery.h"
#include "hub-event-bus.h"
#include "hub-plugin-loader.h"
#include "hub-registry.h"
#include "hub-store.h"
#include "hub-timer-queue.h"

typedef struct _HubDaemon {
	HubConfig *config;
	HubEventBus *bus;
	HubCatalog *catalog;
	HubStore *store;
	HubRegistry *registry;
	HubCommandPipeline *commands;
	HubPluginLoader *loader;
	HubDiscovery *discovery;
	HubCertManager *certs;   /* credentials by role, through the certstore plugins */
	HubCloud *cloud;         /* identity, provisioning and the MQTT sessions of the transport */
	GPtrArray *plugin_data;  /* host-side per-plugin state (hub-host.c) */
	HubTimerQueue *timers;   /* every plugin timer, behind one GSource */
	guint store_subscription;
	gboolean started;
	gboolean stopped;
} HubDaemon;

/* Takes @config. Creates the state directory (0700) if needed, loads the
 * catalog, opens (or recreates) the database and restores devices. */
HubDaemon *hub_daemon_new(HubConfig *config, GError **error);
/* Loads plugins and starts the protocol plugins. Refused plugins are logged,
 * not fatal. */
gboolean hub_daemon_start(HubDaemon *daemon, GError **error);
/* Closes the discovery window, stops the plugins and calls their exit()
 * (they may still call the host until it returns), then answers every
 * running command and waiter. Call it while the D-Bus adapter still runs so
 * those answers reach their callers. Idempotent. */
void hub_daemon_stop(HubDaemon *daemon);
/* Stops (if not yet), flushes the store and frees everything. NULL-safe. */
void hub_daemon_free(HubDaemon *daemon);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HubDaemon, hub_daemon_free)

/* The protocol plugin named @name, or NULL. */
HubPlugin *hub_daemon_find_protocol(HubDaemon *daemon, const char *name);
