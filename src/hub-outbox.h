/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-outbox.h - the durable uplink queue. Every message for the cloud is
 * written here first and deleted only once the broker acknowledged it
 * (QoS 1 PUBACK), so neither a lost link nor a crash of hubd loses it.
 *
 * - Bounded by records and by payload bytes. When a new message does not
 *   fit, the drop policy makes room, in this order:
 *     1. expired messages (each has a time to live);
 *     2. the lowest priority present, oldest first; a new message that
 *        would not fit even then (below every queued priority, or too
 *        large for what its priority and lower ones hold) is itself the one
 *        dropped, and nothing else.
 *   Every drop is counted (expired, overflow) and logged.
 * - Sent in queue order (oldest first) whatever the priority, so a report
 *   never overtakes an older report of the same device; only the top
 *   priority (answers to the cloud's commands, which it waits for) overtakes
 *   the queue, in its own queue order.
 * - Writes join a batch transaction committed every commit interval, so
 *   a burst costs one commit instead of one fsync-bound commit per message,
 *   and a message queued in a batch is written only at its commit: one the
 *   broker acknowledged by then never reaches the disk (the common case
 *   while the link is up). A message pushed less than one interval before
 *   a crash may be lost; one acknowledged less than one interval before a
 *   crash is sent again.
 * - A message handed out again after a reconnect or a restart may reach the
 *   broker twice (QoS 1 allows it); such messages are counted as resent.
 *   After a crash the count is an upper bound: the file promises ids up to
 *   8192 ahead of what was handed out.
 *
 * Main thread only.
 */
#pragma once

#include <glib.h>

typedef struct _HubOutbox HubOutbox;

#define HUB_OUTBOX_PRIORITIES 4 /* 0 (lowest) to 3 */

typedef struct {
	guint64 max_bytes;        /* payload bytes; 0 = 16 MiB */
	guint max_records;        /* 0 = 100000 */
	guint commit_interval_ms; /* 0 = 200 */
} HubOutboxLimits;

typedef struct {
	guint64 id;          /* increasing, never reused */
	guint kind;          /* the caller's message kind (a topic) */
	guint priority;
	gint64 created_ms;   /* real time */
	gboolean resent;     /* handed out before: may reach the broker twice */
	GBytes *payload;
} HubOutboxRecord;

typedef struct {
	guint records;
	guint64 bytes;
	guint in_flight;          /* handed out, not yet acknowledged */
	gint64 oldest_ms;         /* created_ms of the oldest record, 0 when empty */
	guint64 max_bytes;
	guint max_records;
	/* Since the file was created: */
	guint64 pushed;
	guint64 acknowledged;
	guint64 dropped_expired;
	guint64 dropped_overflow;
	guint64 dropped_unsendable; /* the transport could not send them (no topic, refused) */
	guint64 resent;
} HubOutboxStats;

/* Opens or creates the queue in @path. */
HubOutbox *hub_outbox_open(const char *path, const HubOutboxLimits *limits, GError **error);
/* Commits and closes. NULL-safe. */
void hub_outbox_free(HubOutbox *outbox);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HubOutbox, hub_outbox_free)

/* Queues a message that expires @ttl_s seconds from now. FALSE with @error
 * when the message itself is dropped (larger than the byte bound, or of a
 * priority below everything that fills the queue), counted as overflow. */
gboolean hub_outbox_push(HubOutbox *outbox, guint kind, guint priority, guint ttl_s, const void *payload,
			 gsize len, GError **error);

/* The id the last successful hub_outbox_push() gave its message. */
guint64 hub_outbox_last_id(HubOutbox *outbox);
/* Whether message @id is still queued (not acknowledged, dropped or expired). */
gboolean hub_outbox_contains(HubOutbox *outbox, guint64 id);

/* The oldest message not handed out yet, now in flight; NULL when there is
 * none. Expired messages met on the way are dropped. */
HubOutboxRecord *hub_outbox_next(HubOutbox *outbox);
void hub_outbox_record_free(HubOutboxRecord *record);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HubOutboxRecord, hub_outbox_record_free)

/* The broker has message @id: it is deleted. Unknown ids (dropped while in
 * flight) are ignored. */
void hub_outbox_ack(HubOutbox *outbox, guint64 id);
/* Message @id (in flight) can never be sent: deleted and counted. */
void hub_outbox_discard(HubOutbox *outbox, guint64 id);
/* The connection is gone: every message in flight is handed out again,
 * from the oldest. */
void hub_outbox_rewind(HubOutbox *outbox);
/* Deletes every message (offboarding: they belong to an identity that is
 * gone), committed before it returns. FALSE (logged) when the file refused. */
gboolean hub_outbox_clear(HubOutbox *outbox);
/* Commits the batch now. */
gboolean hub_outbox_flush(HubOutbox *outbox);

void hub_outbox_get_stats(HubOutbox *outbox, HubOutboxStats *stats);
