/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-uplink.h - what the hub tells the cloud, in the shapes of
 * doc/cloud-contract.md, through the outbox:
 *   - DEVICE_STATE for every property change (with the traceId of the
 *     command that caused it), and a full state of every device on every
 *     (re)connect;
 *   - DEVICE_EVENT for every data-model event;
 *   - DEVICE_LIFE_CYCLE when a device is added, removed, goes on- or offline;
 *   - CAPABILITY_REPORT when a device is added or its description changes
 *     (also for devices that existed before the hub was provisioned), until
 *     the broker acknowledged that very report;
 *   - the answers to the cloud's commands and setup tasks (hub-downlink.c).
 * Messages are queued while the hub is provisioned, sent in queue order
 * (QoS 1) over the session the transport attached whenever it is
 * connected, on the topic the transport gave for their kind, and deleted
 * at the broker's PUBACK.
 *
 * Main thread only.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include <hubd/hub-transport.h>

#include "hub-command.h"
#include "hub-event-bus.h"
#include "hub-outbox.h"
#include "hub-registry.h"
#include "hub-store.h"

/* Kinds of uplink messages, numbered as the transport ABI's topics
 * (HUB_UPLINK_N_KINDS of them). */
typedef enum {
	HUB_UPLINK_KIND_COMMAND_ACK = HUB_UPLINK_COMMAND_ACK,
	HUB_UPLINK_KIND_COMMAND_RESPONSE = HUB_UPLINK_COMMAND_RESPONSE,
	HUB_UPLINK_KIND_SETUP_RESPONSE = HUB_UPLINK_SETUP_RESPONSE,
	HUB_UPLINK_KIND_STATE = HUB_UPLINK_STATE,
	HUB_UPLINK_KIND_EVENT = HUB_UPLINK_EVENT,
	HUB_UPLINK_KIND_LIFECYCLE = HUB_UPLINK_LIFECYCLE,
	HUB_UPLINK_KIND_CAPABILITIES = HUB_UPLINK_CAPABILITIES,
} HubUplinkKind;

typedef struct _HubUplink HubUplink;

/* Publishes on the attached session (QoS 1): the message id, -ENOTCONN, or
 * another negative errno when the message can never be sent. */
typedef int (*HubUplinkPublishFunc)(const char *topic, const void *payload, gsize len, gpointer user_data);

HubUplink *hub_uplink_new(HubRegistry *registry, HubEventBus *bus, HubCommandPipeline *commands, HubStore *store,
			  HubOutbox *outbox);
void hub_uplink_free(HubUplink *uplink); /* NULL-safe */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HubUplink, hub_uplink_free)

/* Messages are queued only while enabled (the hub is provisioned). */
void hub_uplink_set_enabled(HubUplink *uplink, gboolean enabled);

/* Sends over a session: @topics has HUB_UPLINK_N_KINDS topics (NULL: the
 * transport carries no such messages; they are dropped and counted). Call hub_uplink_connected() when (or
 * if) the session is connected. */
void hub_uplink_attach(HubUplink *uplink, const char *const *topics, HubUplinkPublishFunc publish,
		       gpointer user_data);
void hub_uplink_detach(HubUplink *uplink);
/* The attached session connected: every device's state is queued, then the queue is sent. */
void hub_uplink_connected(HubUplink *uplink);
/* It lost its connection: what was in flight is sent again after the next connect. */
void hub_uplink_disconnected(HubUplink *uplink);
/* The broker acknowledged @mid; FALSE when it was not the uplink's. */
gboolean hub_uplink_published(HubUplink *uplink, int mid);

/* Queues @payload (taken) in the envelope of @kind. FALSE when it was not
 * queued (disabled, or dropped by the outbox: counted and logged there). */
gboolean hub_uplink_push(HubUplink *uplink, HubUplinkKind kind, const char *message_type, JsonObject *payload);
/* The final result of @trace_id goes to the cloud when the command completes. */
void hub_uplink_track_command(HubUplink *uplink, const char *trace_id);

/* Offboarding: every queued message and every report memory goes. */
void hub_uplink_clear(HubUplink *uplink);
