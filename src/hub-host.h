/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-host.h - the struct hub_host table given to plugins, and the calls from
 * the core into protocol plugins (commands, onboarding, removal).
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include <hubd/hub-plugin.h>

#include "hub-daemon.h"

/* The table; static, valid for the life of the process. */
const struct hub_host *hub_host_table(void);

/* HubCommandDispatchFunc for the pipeline; @user_data is the HubDaemon. */
int hub_host_dispatch_command(HubDevice *device, guint64 command_id, const char *endpoint_id,
			      const char *capability_id, const char *action, JsonObject *params, gpointer user_data);

/* Onboards through the named plugin; returns the new device id (g_free). */
char *hub_host_onboard(HubDaemon *daemon, const char *protocol, const char *discovered_id,
		       const char *auth_material, GError **error);
/* Removes through the owning plugin (or directly when the plugin is gone). */
gboolean hub_host_remove_device(HubDaemon *daemon, const char *device_id, GError **error);

/* HubPluginPrepareFunc: creates the host-side state of a plugin before its
 * init(), so a thread it starts there can use invoke_main at once. */
void hub_host_prepare_plugin(HubPlugin *plugin);

/* HubPluginReleaseFunc: cancels one plugin's timers, watches and queued calls. */
void hub_host_release_plugin(HubPlugin *plugin);

/* Cancels the timers and watches a plugin left behind and frees host-side
 * state; after every plugin's exit(). */
void hub_host_release_all(HubDaemon *daemon);
