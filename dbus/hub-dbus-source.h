/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hub-dbus-source.h - drives an sd_bus connection from the GLib main loop. */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

/* Attaches @bus to the default main context; the source holds a reference
 * and flushes and closes the bus when destroyed. @on_lost (may be NULL) runs
 * once when the connection fails. */
GSource *hub_dbus_source_attach(sd_bus *bus, GSourceFunc on_lost, gpointer user_data);
