/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-downlink.h - what the cloud asks of the hub, as the transport received
 * it (doc/cloud-contract.md):
 *   - commands in the SendManagedThingCommand shape go through the command
 *     pipeline: acknowledged at once (COMMAND_ACK, before any device is
 *     touched), answered with the final result (DEVICE_COMMAND_RESPONSE)
 *     once every action finished; a traceId seen before is not executed
 *     again and gets the stored result;
 *   - {"operation":"DeleteManagedThing","managedThingId":<the hub's>}: the
 *     cloud deleted the hub, which offboards (the transport reports it);
 *   - setup tasks (device onboarding) are checked and answered "not
 *     supported yet" (SETUP_RESPONSE, 501).
 * Anything malformed (not JSON, too large or deep, wrong types, unknown
 * members, another hub's client id, an unknown device, invalid parameters)
 * is answered with a code and a message, logged, and executes nothing.
 *
 * Main thread only.
 */
#pragma once

#include <glib.h>

#include "hub-command.h"
#include "hub-uplink.h"

#define HUB_DOWNLINK_MAX_BYTES (64 * 1024)

typedef struct _HubDownlink HubDownlink;

void hub_downlink_free(HubDownlink *downlink); /* NULL-safe */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HubDownlink, hub_downlink_free)

/* The cloud deleted the hub: offboard it. */
typedef void (*HubDownlinkOffboardFunc)(gpointer user_data);

HubDownlink *hub_downlink_new(HubCommandPipeline *commands, HubUplink *uplink, HubDownlinkOffboardFunc offboard,
			      gpointer offboard_data);

/* The hub's own ids: a message naming another client id or managed thing is refused. */
void hub_downlink_set_identity(HubDownlink *downlink, const char *client_id, const char *managed_thing_id);

void hub_downlink_command(HubDownlink *downlink, const void *payload, gsize len);
void hub_downlink_setup(HubDownlink *downlink, const void *payload, gsize len);
