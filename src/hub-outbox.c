/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "hub-error.h"
#include "hub-json.h"
#include "hub-outbox.h"
#include "hub-sqlite.h"

#define DEFAULT_MAX_BYTES (16u * 1024 * 1024)
#define DEFAULT_MAX_RECORDS 100000u
#define DEFAULT_COMMIT_INTERVAL_MS 200u
#define READ_AHEAD 256          /* records read from the file at once */
#define DROP_BATCH 64           /* candidates fetched per look for what to drop */
#define EXPIRY_SWEEP_S 60       /* expired messages go even when nothing is sent */
#define DROP_LOG_INTERVAL_US (10 * G_USEC_PER_SEC)
/* How far ahead of what is handed out the file promises: a crash can then
 * only have sent ids below the promise, at the cost of one commit per this
 * many messages. */
#define HANDED_AHEAD 8192

enum {
	STMT_INSERT,
	STMT_DELETE,
	STMT_READ_URGENT,
	STMT_READ_QUEUE,
	STMT_EXPIRED,
	STMT_OLDEST_OF_PRIORITY,
	STMT_OLDEST,
	STMT_META_SET,
	STMT_EXISTS,
	N_STMTS
};

static const char *const stmt_sql[N_STMTS] = {
	[STMT_INSERT] = "INSERT INTO outbox(id, kind, priority, created_ms, expires_ms, payload) "
			"VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
	[STMT_DELETE] = "DELETE FROM outbox WHERE id = ?1 RETURNING length(payload), priority",
	[STMT_READ_URGENT] = "SELECT id, kind, priority, created_ms, expires_ms, payload FROM outbox "
			     "WHERE priority = 3 AND id >= ?1 ORDER BY priority, id LIMIT ?2",
	[STMT_READ_QUEUE] = "SELECT id, kind, priority, created_ms, expires_ms, payload FROM outbox "
			    "WHERE id >= ?1 AND priority < 3 ORDER BY id LIMIT ?2",
	[STMT_EXPIRED] = "SELECT id FROM outbox WHERE expires_ms <= ?1 ORDER BY expires_ms LIMIT ?2",
	[STMT_OLDEST_OF_PRIORITY] = "SELECT id FROM outbox WHERE priority = ?1 ORDER BY id LIMIT ?2",
	[STMT_OLDEST] = "SELECT created_ms FROM outbox ORDER BY id LIMIT 1",
	[STMT_META_SET] = "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)",
	[STMT_EXISTS] = "SELECT 1 FROM outbox WHERE id = ?1",
};

static const char schema_sql[] =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA synchronous=NORMAL;"
	"PRAGMA cache_size=-256;"
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS outbox(id INTEGER PRIMARY KEY, kind INTEGER NOT NULL, priority INTEGER NOT NULL,"
	" created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL, payload BLOB NOT NULL);"
	"CREATE INDEX IF NOT EXISTS outbox_by_priority ON outbox(priority, id);"
	"CREATE INDEX IF NOT EXISTS outbox_by_expiry ON outbox(expires_ms);";

/* Counters kept in the meta table across restarts. */
typedef enum {
	COUNTER_PUSHED,
	COUNTER_ACKNOWLEDGED,
	COUNTER_DROPPED_EXPIRED,
	COUNTER_DROPPED_OVERFLOW,
	COUNTER_RESENT,
	COUNTER_DROPPED_UNSENDABLE,
	COUNTER_HANDED_MAX_URGENT, /* per lane: no id above it was handed out (a restart sends up to it again) */
	COUNTER_HANDED_MAX_QUEUE,
	COUNTER_LAST_ID,
	N_COUNTERS
} Counter;

static const char *const counter_keys[N_COUNTERS] = {
	"pushed", "acknowledged", "dropped-expired", "dropped-overflow", "resent", "dropped-unsendable", "handed-max-urgent", "handed-max-queue", "last-id",
};

/* A record read ahead, not handed out yet. */
typedef struct {
	HubOutboxRecord record;
	gint64 expires_ms;
} Entry;

/* Urgent messages (the top priority) overtake the queue; within a lane
 * the order is the queue's. */
enum { LANE_URGENT, LANE_QUEUE, N_LANES };

typedef struct {
	guint stmt;
	guint64 cursor;    /* the next id to read from the file */
	GQueue read_ahead; /* Entry*, ids below @cursor */
	guint64 handed;    /* the highest id handed out, exactly */
	gboolean drained;  /* the file holds nothing at or after @cursor: no query until that changes */
} Lane;

struct _HubOutbox {
	HubSqlite *db;
	guint64 max_bytes;
	guint max_records;

	guint records_by_priority[HUB_OUTBOX_PRIORITIES];
	guint64 bytes_by_priority[HUB_OUTBOX_PRIORITIES];
	guint records;
	guint64 bytes;
	guint64 counters[N_COUNTERS];
	gboolean counters_dirty;

	Lane lanes[N_LANES];
	/* Pushed since the last commit, not in the file yet: written at the
	 * commit unless acknowledged (or dropped) before, so a message the
	 * broker takes within one commit interval never reaches the disk. */
	GQueue fresh;          /* Entry*, by id */
	GHashTable *fresh_ids; /* guint64* id (the entry's) -> GList* in @fresh */
	GHashTable *in_flight; /* guint64* id -> GUINT_TO_POINTER(lane + 1) */
	guint64 resend_upto[N_LANES]; /* ids up to this one were handed out before, per lane */
	guint sweep_source;

	guint64 drops_unlogged;
	gint64 last_drop_log;
};

static void entry_free(gpointer data)
{
	Entry *entry = data;

	g_bytes_unref(entry->record.payload);
	g_free(entry);
}

void hub_outbox_record_free(HubOutboxRecord *record)
{
	if (!record)
		return;
	g_bytes_unref(record->payload);
	g_free(record);
}

static void count(HubOutbox *outbox, Counter counter, guint64 n)
{
	outbox->counters[counter] += n;
	outbox->counters_dirty = TRUE;
}

static guint lane_of(guint priority)
{
	return priority == HUB_OUTBOX_PRIORITIES - 1 ? LANE_URGENT : LANE_QUEUE;
}

/* The fresh messages still queued go to the file. */
static void write_fresh(HubOutbox *outbox)
{
	Entry *entry;

	/* What was fresh and not handed out yet is in the file from now on. */
	if (!g_queue_is_empty(&outbox->fresh))
		for (guint i = 0; i < N_LANES; i++)
			outbox->lanes[i].drained = FALSE;
	while ((entry = g_queue_pop_head(&outbox->fresh))) {
		sqlite3_stmt *s = hub_sqlite_stmt(outbox->db, STMT_INSERT);
		gsize len;
		const void *data = g_bytes_get_data(entry->record.payload, &len);

		g_hash_table_remove(outbox->fresh_ids, &entry->record.id);
		sqlite3_bind_int64(s, 1, (sqlite3_int64)entry->record.id);
		sqlite3_bind_int(s, 2, (int)entry->record.kind);
		sqlite3_bind_int(s, 3, (int)entry->record.priority);
		sqlite3_bind_int64(s, 4, entry->record.created_ms);
		sqlite3_bind_int64(s, 5, entry->expires_ms);
		/* Never NULL: that would bind SQL NULL, not an empty payload. */
		sqlite3_bind_blob64(s, 6, data ? data : "", len, SQLITE_STATIC);
		hub_sqlite_run(outbox->db, s);
		sqlite3_clear_bindings(s);
		entry_free(entry);
	}
}

/* Inside the batch, right before it commits: the fresh messages, and one
 * row per counter, not one per message. */
static void before_commit(HubSqlite *db, gpointer user_data)
{
	HubOutbox *outbox = user_data;

	write_fresh(outbox);
	if (!outbox->counters_dirty)
		return;
	for (guint i = 0; i < N_COUNTERS; i++) {
		sqlite3_stmt *s = hub_sqlite_stmt(db, STMT_META_SET);

		sqlite3_bind_text(s, 1, counter_keys[i], -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)outbox->counters[i]);
		hub_sqlite_run(db, s);
	}
	outbox->counters_dirty = FALSE;
}

static gboolean load(HubOutbox *outbox, GError **error)
{
	sqlite3 *db = hub_sqlite_handle(outbox->db);
	sqlite3_stmt *s = NULL;
	guint64 max_id = 0;

	if (sqlite3_prepare_v2(db, "SELECT key, value FROM meta", -1, &s, NULL) != SQLITE_OK)
		goto failed;
	while (sqlite3_step(s) == SQLITE_ROW)
		for (guint i = 0; i < N_COUNTERS; i++)
			if (g_strcmp0((const char *)sqlite3_column_text(s, 0), counter_keys[i]) == 0)
				outbox->counters[i] = (guint64)MAX(sqlite3_column_int64(s, 1), 0);
	sqlite3_finalize(s);
	if (sqlite3_prepare_v2(db, "SELECT priority, COUNT(*), TOTAL(length(payload)), MAX(id) FROM outbox GROUP BY priority",
			       -1, &s, NULL) != SQLITE_OK)
		goto failed;
	while (sqlite3_step(s) == SQLITE_ROW) {
		gint64 priority = sqlite3_column_int64(s, 0);
		guint n = (guint)sqlite3_column_int64(s, 1);

		if (priority < 0 || priority >= HUB_OUTBOX_PRIORITIES)
			continue;
		outbox->records_by_priority[priority] = n;
		outbox->bytes_by_priority[priority] = (guint64)sqlite3_column_double(s, 2);
		outbox->records += n;
		outbox->bytes += outbox->bytes_by_priority[priority];
		max_id = MAX(max_id, (guint64)sqlite3_column_int64(s, 3));
	}
	sqlite3_finalize(s);
	/* Rows of an unknown priority (a newer hubd's file) would never be accounted for. */
	hub_sqlite_exec(outbox->db, "DELETE FROM outbox WHERE priority NOT BETWEEN 0 AND 3", "drop unknown priorities");
	outbox->counters[COUNTER_LAST_ID] = MAX(outbox->counters[COUNTER_LAST_ID], max_id);
	/* What the last run handed out may have reached the broker already;
	 * within a lane ids are handed out in order. */
	for (guint i = 0; i < N_LANES; i++) {
		outbox->resend_upto[i] = outbox->counters[COUNTER_HANDED_MAX_URGENT + i];
		outbox->counters[COUNTER_LAST_ID] = MAX(outbox->counters[COUNTER_LAST_ID], outbox->resend_upto[i]);
	}
	return TRUE;

failed:
	g_set_error(error, HUB_ERROR, HUB_ERROR_FAILED, "cannot read outbox %s: %s", hub_sqlite_path(outbox->db),
		    sqlite3_errmsg(db));
	sqlite3_finalize(s);
	return FALSE;
}

static void drop_expired(HubOutbox *outbox, gint64 now_ms);

static gboolean sweep_cb(gpointer user_data)
{
	drop_expired(user_data, hub_now_ms());
	return G_SOURCE_CONTINUE;
}

HubOutbox *hub_outbox_open(const char *path, const HubOutboxLimits *limits, GError **error)
{
	HubOutboxLimits none = { 0 };
	HubOutbox *outbox;
	HubSqlite *db;

	if (!limits)
		limits = &none;
	db = hub_sqlite_open(path, schema_sql, stmt_sql, N_STMTS,
			     limits->commit_interval_ms ? limits->commit_interval_ms : DEFAULT_COMMIT_INTERVAL_MS, error);
	if (!db)
		return NULL;
	outbox = g_new0(HubOutbox, 1);
	outbox->db = db;
	outbox->max_bytes = limits->max_bytes ? limits->max_bytes : DEFAULT_MAX_BYTES;
	outbox->max_records = limits->max_records ? limits->max_records : DEFAULT_MAX_RECORDS;
	outbox->in_flight = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	g_queue_init(&outbox->fresh);
	outbox->fresh_ids = g_hash_table_new(g_int64_hash, g_int64_equal);
	for (guint i = 0; i < N_LANES; i++)
		g_queue_init(&outbox->lanes[i].read_ahead);
	outbox->lanes[LANE_URGENT].stmt = STMT_READ_URGENT;
	outbox->lanes[LANE_QUEUE].stmt = STMT_READ_QUEUE;
	if (!load(outbox, error)) {
		hub_outbox_free(outbox);
		return NULL;
	}
	hub_sqlite_set_commit_func(db, before_commit, outbox);
	outbox->sweep_source = g_timeout_add_seconds(EXPIRY_SWEEP_S, sweep_cb, outbox);
	return outbox;
}

void hub_outbox_free(HubOutbox *outbox)
{
	if (!outbox)
		return;
	g_clear_handle_id(&outbox->sweep_source, g_source_remove);
	if (outbox->db) {
		/* A clean stop knows exactly what was handed out. */
		for (guint i = 0; i < N_LANES; i++)
			outbox->counters[COUNTER_HANDED_MAX_URGENT + i] =
				MAX(outbox->lanes[i].handed, outbox->resend_upto[i]);
		outbox->counters_dirty = TRUE;
		hub_sqlite_begin_write(outbox->db);
		hub_sqlite_free(outbox->db);
	}
	for (guint i = 0; i < N_LANES; i++)
		g_queue_clear_full(&outbox->lanes[i].read_ahead, entry_free);
	/* Written by the last commit above, unless the file refused. */
	g_hash_table_unref(outbox->fresh_ids);
	g_queue_clear_full(&outbox->fresh, entry_free);
	g_hash_table_unref(outbox->in_flight);
	g_free(outbox);
}

gboolean hub_outbox_flush(HubOutbox *outbox)
{
	return hub_sqlite_flush(outbox->db);
}

/* ---- deleting ---- */

/* The read-ahead may hold what a drop deletes: read it again later. */
static void forget_read_ahead(HubOutbox *outbox)
{
	for (guint i = 0; i < N_LANES; i++) {
		Lane *lane = &outbox->lanes[i];
		Entry *head = g_queue_peek_head(&lane->read_ahead);

		if (head)
			lane->cursor = head->record.id;
		g_queue_clear_full(&lane->read_ahead, entry_free);
		lane->drained = FALSE;
	}
}

/* A dropped record must not be sent from the read-ahead. Drops take the
 * oldest, which are mostly in flight already, so this is rarely a scan
 * that finds something; re-reading the whole read-ahead instead cost a
 * query of 256 rows per message while the queue was full. */
static void forget_entry(HubOutbox *outbox, guint64 id)
{
	for (guint i = 0; i < N_LANES; i++) {
		GQueue *q = &outbox->lanes[i].read_ahead;
		Entry *head = g_queue_peek_head(q);
		Entry *tail = g_queue_peek_tail(q);

		if (!head || id < head->record.id || id > tail->record.id)
			continue;
		for (GList *l = q->head; l; l = l->next) {
			Entry *entry = l->data;

			if (entry->record.id == id) {
				g_queue_delete_link(q, l);
				entry_free(entry);
				return;
			}
		}
	}
}

static void unaccount(HubOutbox *outbox, gint64 priority, guint64 len)
{
	outbox->bytes -= MIN(outbox->bytes, len);
	outbox->records -= MIN(outbox->records, 1u);
	if (priority >= 0 && priority < HUB_OUTBOX_PRIORITIES) {
		outbox->records_by_priority[priority] -= MIN(outbox->records_by_priority[priority], 1u);
		outbox->bytes_by_priority[priority] -= MIN(outbox->bytes_by_priority[priority], len);
	}
}

/* Deletes message @id, fresh or in the file, keeping the accounting; FALSE
 * when it was not there. */
static gboolean delete_row(HubOutbox *outbox, guint64 id)
{
	sqlite3_stmt *s;
	GList *link = g_hash_table_lookup(outbox->fresh_ids, &id);
	gboolean found = FALSE;
	int rc;

	if (link) {
		Entry *entry = link->data;

		/* Never written: nothing to delete on disk. */
		g_hash_table_remove(outbox->fresh_ids, &id);
		g_queue_delete_link(&outbox->fresh, link);
		unaccount(outbox, entry->record.priority, g_bytes_get_size(entry->record.payload));
		entry_free(entry);
		g_hash_table_remove(outbox->in_flight, &id);
		return TRUE;
	}
	s = hub_sqlite_stmt(outbox->db, STMT_DELETE);
	hub_sqlite_begin_write(outbox->db);
	sqlite3_bind_int64(s, 1, (sqlite3_int64)id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		found = TRUE;
		unaccount(outbox, sqlite3_column_int64(s, 1), (guint64)MAX(sqlite3_column_int64(s, 0), 0));
		rc = sqlite3_step(s);
	}
	if (rc != SQLITE_DONE)
		g_warning("Failed to delete from %s: %s", hub_sqlite_path(outbox->db),
			  sqlite3_errmsg(hub_sqlite_handle(outbox->db)));
	sqlite3_reset(s);
	g_hash_table_remove(outbox->in_flight, &id);
	return found;
}

static void log_drops(HubOutbox *outbox, guint64 n, const char *why)
{
	gint64 now = g_get_monotonic_time();

	outbox->drops_unlogged += n;
	/* One line per interval: a full queue under a steady stream drops on every push. */
	if (outbox->last_drop_log && now - outbox->last_drop_log < DROP_LOG_INTERVAL_US)
		return;
	g_warning("Outbox: dropped %" G_GUINT64_FORMAT " message(s) (%s); %" G_GUINT64_FORMAT
		  " expired, %" G_GUINT64_FORMAT " over the quota and %" G_GUINT64_FORMAT " unsendable in all",
		  outbox->drops_unlogged, why, outbox->counters[COUNTER_DROPPED_EXPIRED],
		  outbox->counters[COUNTER_DROPPED_OVERFLOW], outbox->counters[COUNTER_DROPPED_UNSENDABLE]);
	outbox->drops_unlogged = 0;
	outbox->last_drop_log = now;
}

/* Ids selected by @which (bound by @bind_first), deleted; returns how many. */
static guint drop_selected(HubOutbox *outbox, guint which, gint64 bind_first, guint limit, Counter counter)
{
	sqlite3_stmt *s = hub_sqlite_stmt(outbox->db, which);
	g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(guint64));
	guint dropped = 0;

	sqlite3_bind_int64(s, 1, bind_first);
	sqlite3_bind_int(s, 2, (int)limit);
	while (sqlite3_step(s) == SQLITE_ROW) {
		guint64 id = (guint64)sqlite3_column_int64(s, 0);

		g_array_append_val(ids, id);
	}
	sqlite3_reset(s);
	/* The fresh messages are newer than every one in the file. */
	for (GList *l = outbox->fresh.head; l && ids->len < limit; l = l->next) {
		Entry *entry = l->data;

		if (which == STMT_EXPIRED ? entry->expires_ms <= bind_first : (gint64)entry->record.priority == bind_first)
			g_array_append_val(ids, entry->record.id);
	}
	if (ids->len == 0)
		return 0;
	for (guint i = 0; i < ids->len; i++) {
		guint64 id = g_array_index(ids, guint64, i);

		forget_entry(outbox, id);
		if (delete_row(outbox, id))
			dropped++;
	}
	count(outbox, counter, dropped);
	return dropped;
}

static void drop_expired(HubOutbox *outbox, gint64 now_ms)
{
	guint dropped = 0, n;

	if (outbox->records == 0)
		return;
	do {
		n = drop_selected(outbox, STMT_EXPIRED, now_ms, DROP_BATCH, COUNTER_DROPPED_EXPIRED);
		dropped += n;
	} while (n == DROP_BATCH);
	if (dropped)
		log_drops(outbox, dropped, "expired");
}

/* ---- pushing ---- */

static gboolean fits(HubOutbox *outbox, gsize len)
{
	return outbox->records < outbox->max_records && outbox->bytes + len <= outbox->max_bytes;
}

static int lowest_priority(HubOutbox *outbox)
{
	for (guint p = 0; p < HUB_OUTBOX_PRIORITIES; p++)
		if (outbox->records_by_priority[p] > 0)
			return (int)p;
	return -1;
}

/* Whether dropping everything of @priority and below would make room: if
 * not, the new message is the one to drop, and nothing else goes. */
static gboolean room_possible(HubOutbox *outbox, guint priority, gsize len)
{
	guint64 records = 0, bytes = 0;

	for (guint p = 0; p <= priority; p++) {
		records += outbox->records_by_priority[p];
		bytes += outbox->bytes_by_priority[p];
	}
	return outbox->records - records < outbox->max_records && outbox->bytes - bytes + len <= outbox->max_bytes;
}

/* The drop policy: expired first, then the lowest priority, oldest first.
 * FALSE when the new message is the one to drop. */
static gboolean make_room(HubOutbox *outbox, guint priority, gsize len)
{
	guint dropped = 0;

	if (fits(outbox, len))
		return TRUE;
	drop_expired(outbox, hub_now_ms());
	if (!fits(outbox, len) && !room_possible(outbox, priority, len))
		return FALSE;
	while (!fits(outbox, len)) {
		int lowest = lowest_priority(outbox);

		if (lowest < 0 || (int)priority < lowest)
			break;
		if (drop_selected(outbox, STMT_OLDEST_OF_PRIORITY, lowest, 1, COUNTER_DROPPED_OVERFLOW) == 0)
			break; /* the file and the accounting disagree: do not loop */
		dropped++;
	}
	if (dropped)
		log_drops(outbox, dropped, "the queue is full; oldest of the lowest priority first");
	return fits(outbox, len);
}

gboolean hub_outbox_push(HubOutbox *outbox, guint kind, guint priority, guint ttl_s, const void *payload,
			 gsize len, GError **error)
{
	gint64 now = hub_now_ms();
	guint64 id;
	Entry *entry;

	priority = MIN(priority, HUB_OUTBOX_PRIORITIES - 1);
	if (len > outbox->max_bytes || !make_room(outbox, priority, len)) {
		count(outbox, COUNTER_DROPPED_OVERFLOW, 1);
		log_drops(outbox, 1, "the queue is full of messages of a higher priority");
		g_set_error(error, HUB_ERROR, HUB_ERROR_BUSY,
			    len > outbox->max_bytes ? "the message (%zu bytes) is larger than the outbox (%" G_GUINT64_FORMAT
						      " bytes)"
						    : "the outbox is full (%zu bytes to add to %" G_GUINT64_FORMAT ")",
			    len, len > outbox->max_bytes ? outbox->max_bytes : outbox->bytes);
		return FALSE;
	}
	id = ++outbox->counters[COUNTER_LAST_ID];
	entry = g_new0(Entry, 1);
	entry->record.id = id;
	entry->record.kind = kind;
	entry->record.priority = priority;
	entry->record.created_ms = now;
	entry->expires_ms = now + (gint64)ttl_s * 1000;
	entry->record.payload = g_bytes_new(payload, len);
	g_queue_push_tail(&outbox->fresh, entry);
	g_hash_table_insert(outbox->fresh_ids, &entry->record.id, outbox->fresh.tail);
	/* Opens the batch: the commit writes what is still fresh then. */
	hub_sqlite_begin_write(outbox->db);
	outbox->records++;
	outbox->records_by_priority[priority]++;
	outbox->bytes_by_priority[priority] += len;
	outbox->bytes += len;
	count(outbox, COUNTER_PUSHED, 1);
	return TRUE;
}

guint64 hub_outbox_last_id(HubOutbox *outbox)
{
	return outbox->counters[COUNTER_LAST_ID];
}

gboolean hub_outbox_contains(HubOutbox *outbox, guint64 id)
{
	sqlite3_stmt *s;
	gboolean found;

	if (g_hash_table_contains(outbox->fresh_ids, &id))
		return TRUE;
	s = hub_sqlite_stmt(outbox->db, STMT_EXISTS);
	sqlite3_bind_int64(s, 1, (sqlite3_int64)id);
	found = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_reset(s);
	return found;
}

/* ---- sending ---- */

static void read_ahead(HubOutbox *outbox, Lane *lane)
{
	sqlite3_stmt *s = hub_sqlite_stmt(outbox->db, lane->stmt);
	guint n = 0;

	sqlite3_bind_int64(s, 1, (sqlite3_int64)lane->cursor);
	sqlite3_bind_int(s, 2, READ_AHEAD);
	while (sqlite3_step(s) == SQLITE_ROW) {
		Entry *entry = g_new0(Entry, 1);

		entry->record.id = (guint64)sqlite3_column_int64(s, 0);
		entry->record.kind = (guint)sqlite3_column_int(s, 1);
		entry->record.priority = (guint)sqlite3_column_int(s, 2);
		entry->record.created_ms = sqlite3_column_int64(s, 3);
		entry->expires_ms = sqlite3_column_int64(s, 4);
		entry->record.payload = g_bytes_new(sqlite3_column_blob(s, 5), (gsize)sqlite3_column_bytes(s, 5));
		lane->cursor = entry->record.id + 1;
		g_queue_push_tail(&lane->read_ahead, entry);
		n++;
	}
	sqlite3_reset(s);
	lane->drained = n < READ_AHEAD;
}

/* The lane's next fresh message at or after its cursor, as a copy (the
 * fresh one stays until it is committed or acknowledged). Fresh ids are
 * nearly consecutive, so this looks them up one by one from the cursor. */
static Entry *next_fresh(HubOutbox *outbox, guint lane_index)
{
	Lane *lane = &outbox->lanes[lane_index];
	Entry *first = g_queue_peek_head(&outbox->fresh);
	Entry *last = g_queue_peek_tail(&outbox->fresh);

	if (!first)
		return NULL;
	for (guint64 id = MAX(lane->cursor, first->record.id); id <= last->record.id; id++) {
		GList *link = g_hash_table_lookup(outbox->fresh_ids, &id);
		Entry *entry, *copy;

		if (!link)
			continue;
		entry = link->data;
		if (lane_of(entry->record.priority) != lane_index)
			continue;
		copy = g_new(Entry, 1);
		*copy = *entry;
		g_bytes_ref(copy->record.payload);
		lane->cursor = id + 1;
		return copy;
	}
	return NULL;
}

/* The next entry to send, read ahead if needed; NULL when both lanes are empty. */
static Entry *pop_entry(HubOutbox *outbox, guint *lane_index)
{
	for (guint i = 0; i < N_LANES; i++) {
		Lane *lane = &outbox->lanes[i];
		Entry *entry;

		/* Nothing urgent is queued (the usual case): no read needed. */
		if (i == LANE_URGENT && outbox->records_by_priority[HUB_OUTBOX_PRIORITIES - 1] == 0 &&
		    g_queue_is_empty(&lane->read_ahead))
			continue;
		if (g_queue_is_empty(&lane->read_ahead) && !lane->drained)
			read_ahead(outbox, lane);
		if (!g_queue_is_empty(&lane->read_ahead)) {
			*lane_index = i;
			return g_queue_pop_head(&lane->read_ahead);
		}
		entry = next_fresh(outbox, i);
		if (entry) {
			*lane_index = i;
			return entry;
		}
	}
	return NULL;
}

HubOutboxRecord *hub_outbox_next(HubOutbox *outbox)
{
	gint64 now = hub_now_ms();
	HubOutboxRecord *record = NULL;
	guint expired = 0;
	guint lane;
	Entry *entry;

	while ((entry = pop_entry(outbox, &lane))) {
		guint64 *key;

		if (entry->expires_ms <= now) {
			if (delete_row(outbox, entry->record.id)) {
				count(outbox, COUNTER_DROPPED_EXPIRED, 1);
				expired++;
			}
			entry_free(entry);
			continue;
		}
		record = g_new(HubOutboxRecord, 1);
		*record = entry->record;
		g_free(entry);
		if (record->id <= outbox->resend_upto[lane]) {
			record->resent = TRUE;
			count(outbox, COUNTER_RESENT, 1);
		}
		outbox->lanes[lane].handed = MAX(outbox->lanes[lane].handed, record->id);
		/* The file must know before the broker can: kill -9 may follow. */
		if (record->id > outbox->counters[COUNTER_HANDED_MAX_URGENT + lane]) {
			/* Ids go on from the last one; a restart starts above the
			 * promise (load()), so new messages are never taken for resent. */
			outbox->counters[COUNTER_HANDED_MAX_URGENT + lane] = record->id + HANDED_AHEAD;
			outbox->counters_dirty = TRUE;
			hub_sqlite_begin_write(outbox->db);
			hub_sqlite_flush(outbox->db);
		}
		key = g_new(guint64, 1);
		*key = record->id;
		g_hash_table_insert(outbox->in_flight, key, GUINT_TO_POINTER(lane + 1));
		break;
	}
	if (expired)
		log_drops(outbox, expired, "expired before they could be sent");
	return record;
}

void hub_outbox_ack(HubOutbox *outbox, guint64 id)
{
	if (!g_hash_table_contains(outbox->in_flight, &id))
		return;
	if (delete_row(outbox, id))
		count(outbox, COUNTER_ACKNOWLEDGED, 1);
}

void hub_outbox_discard(HubOutbox *outbox, guint64 id)
{
	if (g_hash_table_contains(outbox->in_flight, &id) && delete_row(outbox, id)) {
		count(outbox, COUNTER_DROPPED_UNSENDABLE, 1);
		log_drops(outbox, 1, "the transport cannot send it");
	}
}

void hub_outbox_rewind(HubOutbox *outbox)
{
	GHashTableIter iter;
	gpointer key, lane;

	for (guint i = 0; i < N_LANES; i++)
		outbox->resend_upto[i] = MAX(outbox->resend_upto[i], outbox->lanes[i].handed);
	forget_read_ahead(outbox);
	g_hash_table_iter_init(&iter, outbox->in_flight);
	while (g_hash_table_iter_next(&iter, &key, &lane)) {
		Lane *l = &outbox->lanes[GPOINTER_TO_UINT(lane) - 1];

		l->cursor = MIN(l->cursor, *(guint64 *)key);
	}
	g_hash_table_remove_all(outbox->in_flight);
}

gboolean hub_outbox_clear(HubOutbox *outbox)
{
	hub_sqlite_begin_write(outbox->db);
	/* Committed at once: a crash must not bring them back under a new identity. */
	if (!hub_sqlite_exec(outbox->db, "DELETE FROM outbox", "clear the outbox"))
		return FALSE;
	for (guint i = 0; i < N_LANES; i++) {
		g_queue_clear_full(&outbox->lanes[i].read_ahead, entry_free);
		outbox->lanes[i].cursor = outbox->counters[COUNTER_LAST_ID] + 1;
		outbox->lanes[i].drained = FALSE;
	}
	g_hash_table_remove_all(outbox->fresh_ids);
	g_queue_clear_full(&outbox->fresh, entry_free);
	g_hash_table_remove_all(outbox->in_flight);
	memset(outbox->records_by_priority, 0, sizeof(outbox->records_by_priority));
	memset(outbox->bytes_by_priority, 0, sizeof(outbox->bytes_by_priority));
	outbox->records = 0;
	outbox->bytes = 0;
	outbox->counters_dirty = TRUE;
	return hub_sqlite_flush(outbox->db);
}

void hub_outbox_get_stats(HubOutbox *outbox, HubOutboxStats *stats)
{
	sqlite3_stmt *s;

	memset(stats, 0, sizeof(*stats));
	stats->records = outbox->records;
	stats->bytes = outbox->bytes;
	stats->in_flight = g_hash_table_size(outbox->in_flight);
	stats->max_bytes = outbox->max_bytes;
	stats->max_records = outbox->max_records;
	stats->pushed = outbox->counters[COUNTER_PUSHED];
	stats->acknowledged = outbox->counters[COUNTER_ACKNOWLEDGED];
	stats->dropped_expired = outbox->counters[COUNTER_DROPPED_EXPIRED];
	stats->dropped_overflow = outbox->counters[COUNTER_DROPPED_OVERFLOW];
	stats->resent = outbox->counters[COUNTER_RESENT];
	stats->dropped_unsendable = outbox->counters[COUNTER_DROPPED_UNSENDABLE];
	if (outbox->records == 0)
		return;
	s = hub_sqlite_stmt(outbox->db, STMT_OLDEST);
	if (sqlite3_step(s) == SQLITE_ROW)
		stats->oldest_ms = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	/* Fresh messages are the newest: they count only when the file is empty. */
	if (!stats->oldest_ms && !g_queue_is_empty(&outbox->fresh))
		stats->oldest_ms = ((Entry *)g_queue_peek_head(&outbox->fresh))->record.created_ms;
}
