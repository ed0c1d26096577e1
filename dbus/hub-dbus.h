/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-dbus.h - publishes the core on D-Bus as org.hubd.Hub1 (see the XML in
 * this folder, which is the contract). Connects, registers the objects,
 * follows the event bus, then owns the name.
 */
#pragma once

#include <glib.h>

#include "hub-daemon.h"

typedef struct _HubDbus HubDbus;

/* @session: the session bus instead of the system bus. @on_lost runs once if
 * the connection fails later. Fails with HUB_ERROR_EXISTS when another
 * process owns org.hubd.Hub1. */
HubDbus *hub_dbus_new(HubDaemon *daemon, gboolean session, GSourceFunc on_lost, gpointer on_lost_data,
		      GError **error);
void hub_dbus_free(HubDbus *dbus); /* NULL-safe */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HubDbus, hub_dbus_free)
