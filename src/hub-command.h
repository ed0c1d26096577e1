/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-command.h - the command pipeline. Every command, from D-Bus or a cloud
 * transport, takes this path: parse and validate the whole request (nothing
 * runs if any part is invalid), dedupe by trace id (a trace id seen before
 * returns the stored result and never runs again), accept at once
 * (HUB_EVENT_COMMAND_ACCEPTED), dispatch each action to the protocol plugin,
 * collect completions under a per-command timeout, and publish the final
 * result (HUB_EVENT_COMMAND_COMPLETED) with a responseCode 100-599, per-action
 * errors[] and the properties the device confirmed. Results are stored so
 * dedupe survives a restart.
 *
 * Request document (SendManagedThingCommand shape):
 *   {"deviceId": "light-1", "traceId": "optional",
 *    "endpoints": [{"endpointId": "1", "capabilities": [{"id": "matter.OnOff@1.4",
 *      "actions": [{"name": "On", "parameters": {}}]}]}]}
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "hub-event-bus.h"
#include "hub-registry.h"
#include "hub-store.h"

typedef struct _HubCommandPipeline HubCommandPipeline;

/* Hands one action to the device's protocol plugin. ReadState arrives with
 * its names resolved ("*" expanded) in @params "propertiesToRead". Returns 0
 * when started (the plugin then completes @command_id) or a negative errno. */
typedef int (*HubCommandDispatchFunc)(HubDevice *device, guint64 command_id, const char *endpoint_id,
				      const char *capability_id, const char *action, JsonObject *params,
				      gpointer user_data);

/* Called once with the final result, or with @error (timeout while waiting,
 * unknown trace id, shutdown). @result is borrowed. */
typedef void (*HubCommandDoneFunc)(const char *trace_id, gint response_code, JsonNode *result,
				   const GError *error, gpointer user_data);

HubCommandPipeline *hub_command_pipeline_new(HubRegistry *registry, HubEventBus *bus, HubStore *store,
					     guint timeout_ms, HubCommandDispatchFunc dispatch,
					     gpointer dispatch_data);
/* Fails every waiter with "shutting down". NULL-safe. */
void hub_command_pipeline_free(HubCommandPipeline *pipeline);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HubCommandPipeline, hub_command_pipeline_free)

/* Validates and accepts @request. Returns the trace id (g_free) or NULL with
 * HUB_ERROR_* (INVALID_ARGUMENT, NOT_FOUND, NOT_SUPPORTED) naming the bad part.
 * *@duplicate (may be NULL) tells whether the trace id was already known. */
char *hub_command_pipeline_submit(HubCommandPipeline *pipeline, JsonObject *request, gboolean *duplicate,
				  GError **error);

/* A plugin's completion of one action. HUB_ERROR_NOT_FOUND for an unknown or
 * finished command id, HUB_ERROR_INVALID_ARGUMENT for a code outside 100-599
 * (the action then completes with 500). */
gboolean hub_command_pipeline_complete(HubCommandPipeline *pipeline, guint64 command_id, gint response_code,
				       JsonObject *params, const char *error_code, const char *error_message,
				       GError **error);

/* Calls @done when the command finishes, at once if it already has (from
 * memory or the store), or with HUB_ERROR_TIMEOUT after @timeout_ms
 * (0 = the pipeline's command timeout plus a second). */
void hub_command_pipeline_wait(HubCommandPipeline *pipeline, const char *trace_id, guint timeout_ms,
			       HubCommandDoneFunc done, gpointer user_data);

/* TRUE while a running ReadState or UpdateState waits for @property of that
 * device, endpoint and capability (full or short id): a value the plugin
 * reports now answers it. */
gboolean hub_command_pipeline_expects_report(HubCommandPipeline *pipeline, const char *device_id,
					 const char *endpoint_id, const char *capability_id, const char *property);

/* The trace id of the newest command running on @device_id, or NULL: what
 * a property change is reported with while that command runs. */
const char *hub_command_pipeline_running_trace(HubCommandPipeline *pipeline, const char *device_id);

/* The current document: the final result, or {"traceId","deviceId","status":"pending",...}.
 * NULL with HUB_ERROR_NOT_FOUND for an unknown trace id. */
JsonNode *hub_command_pipeline_get_result(HubCommandPipeline *pipeline, const char *trace_id, GError **error);
