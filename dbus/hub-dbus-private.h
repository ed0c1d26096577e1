/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hub-dbus-private.h - shared by the D-Bus adapter's files only. */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

#include "hub-daemon.h"
#include "hub-dbus.h"

#define HUB_DBUS_NAME "org.hubd.Hub1"
#define HUB_DBUS_ROOT "/org/hubd/Hub1"
#define HUB_DBUS_DEVICES "/org/hubd/Hub1/devices"
#define HUB_DBUS_MANAGER_IFACE "org.hubd.Hub1.Manager"
#define HUB_DBUS_DEVICE_IFACE "org.hubd.Hub1.Device"
#define HUB_DBUS_CERTIFICATES_IFACE "org.hubd.Hub1.Certificates"

struct _HubDbus {
	HubDaemon *daemon;
	sd_bus *bus;
	GSource *source;
	guint subscription;
	GHashTable *dirty;    /* device id -> GHashTable set of property names to announce */
	guint flush_source;
	gboolean name_owned;
	gboolean count_dirty; /* Manager.DeviceCount to announce */
	GHashTable *writers;  /* unique bus name -> GINT_TO_POINTER(allowed + 1) */
	GHashTable *pending_writes; /* PendingWrite* set: writes waiting for credentials */
};

extern const sd_bus_vtable hub_dbus_manager_vtable[];
extern const sd_bus_vtable hub_dbus_device_vtable[];
extern const sd_bus_vtable hub_dbus_certificates_vtable[];

/* Fallback-vtable lookup and ObjectManager enumeration of device objects. */
int hub_dbus_device_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
			 sd_bus_error *error);
int hub_dbus_device_enumerate(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error);

/* Object path of a device (g_free). */
char *hub_dbus_device_path(const char *device_id);

/* Sets @error and returns a negative errno for a GError from the core. */
int hub_dbus_error_from_gerror(sd_bus_error *error, const GError *gerror);

typedef int (*HubDbusHandler)(sd_bus_message *m, void *userdata, sd_bus_error *error);

/* Writes need root, the daemon's own user, or group hubd. Returns 1 when the
 * sender may write, a negative errno with @error set when it may not, or 0
 * when the answer is being fetched from the bus: the method handler then
 * returns 1 at once and @handler is called again with @m once it is known
 * (the bus is never waited for on the main loop). */
int hub_dbus_check_write(HubDbus *dbus, sd_bus_message *m, HubDbusHandler handler, sd_bus_error *error);

/* Replies to @m (a ref it drops) once the command finishes: "is" for WaitCommand,
 * "sis" for InvokeAndWait, "is" for SetProperty. */
void hub_dbus_reply_when_done(HubDbus *dbus, sd_bus_message *m, const char *trace_id, guint timeout_ms,
			      gboolean with_trace_id);
