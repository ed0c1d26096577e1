/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <sqlite3.h>

#include "hub-error.h"
#include "hub-json.h"
#include "hub-store.h"

#define COMMIT_DELAY_MS 100
#define SCHEMA_VERSION 1

enum {
	STMT_PUT_DEVICE,
	STMT_DELETE_DEVICE,
	STMT_DELETE_DEVICE_STATE,
	STMT_PUT_PROPERTY,
	STMT_PUT_RESULT,
	STMT_GET_RESULT,
	STMT_KV_GET,
	STMT_KV_SET,
	STMT_KV_DELETE,
	N_STMTS
};

static const char *const stmt_sql[N_STMTS] = {
	/* An unchanged description (every start-up) writes nothing. */
	[STMT_PUT_DEVICE] = "INSERT INTO devices(id, protocol, description) VALUES(?1, ?2, ?3) "
			    "ON CONFLICT(id) DO UPDATE SET protocol = excluded.protocol, description = excluded.description "
			    "WHERE protocol != excluded.protocol OR description != excluded.description",
	[STMT_DELETE_DEVICE] = "DELETE FROM devices WHERE id = ?1",
	[STMT_DELETE_DEVICE_STATE] = "DELETE FROM state WHERE device_id = ?1",
	[STMT_PUT_PROPERTY] = "INSERT INTO state(device_id, endpoint_id, capability_id, property, value, "
			      "last_changed_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6) "
			      "ON CONFLICT(device_id, endpoint_id, capability_id, property) DO UPDATE SET "
			      "value = excluded.value, last_changed_ms = excluded.last_changed_ms "
			      "WHERE value != excluded.value OR last_changed_ms != excluded.last_changed_ms",
	[STMT_PUT_RESULT] = "INSERT OR REPLACE INTO command_results(trace_id, device_id, completed_ms, "
			    "response_code, result) VALUES(?1, ?2, ?3, ?4, ?5)",
	[STMT_GET_RESULT] = "SELECT response_code, result FROM command_results WHERE trace_id = ?1",
	[STMT_KV_GET] = "SELECT value FROM plugin_kv WHERE owner = ?1 AND key = ?2",
	[STMT_KV_SET] = "INSERT OR REPLACE INTO plugin_kv(owner, key, value) VALUES(?1, ?2, ?3)",
	[STMT_KV_DELETE] = "DELETE FROM plugin_kv WHERE owner = ?1 AND key = ?2",
};

static const char schema_sql[] =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA synchronous=NORMAL;"
	/* The state cache lives in memory already; a small page cache is enough. */
	"PRAGMA cache_size=-128;"
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS devices(id TEXT PRIMARY KEY, protocol TEXT NOT NULL, description TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS state(device_id TEXT NOT NULL, endpoint_id TEXT NOT NULL,"
	" capability_id TEXT NOT NULL, property TEXT NOT NULL, value TEXT NOT NULL, last_changed_ms INTEGER NOT NULL,"
	" PRIMARY KEY(device_id, endpoint_id, capability_id, property));"
	"CREATE TABLE IF NOT EXISTS command_results(trace_id TEXT PRIMARY KEY, device_id TEXT NOT NULL,"
	" completed_ms INTEGER NOT NULL, response_code INTEGER NOT NULL, result TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS command_results_by_time ON command_results(completed_ms);"
	"CREATE TABLE IF NOT EXISTS plugin_kv(owner TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
	" PRIMARY KEY(owner, key));"
	"INSERT OR IGNORE INTO meta(key, value) VALUES('schema-version', '1');";

struct _HubStore {
	sqlite3 *db;
	sqlite3_stmt *stmts[N_STMTS];
	char *path;
	gboolean in_transaction;
	guint commit_source;
	gboolean recreated;
};

static void close_db(HubStore *store)
{
	for (guint i = 0; i < N_STMTS; i++) {
		sqlite3_finalize(store->stmts[i]);
		store->stmts[i] = NULL;
	}
	sqlite3_close(store->db);
	store->db = NULL;
}

/* Opens, checks and prepares; on failure leaves the store closed. Returns the
 * SQLite result code so the caller can tell damage from other trouble. */
static int try_open(HubStore *store, GError **error)
{
	sqlite3_stmt *check = NULL;
	char *errmsg = NULL;
	int rc;

	rc = sqlite3_open_v2(store->path, &store->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	/* Before the first statement: another process holding a lock is waited for, not mistaken for damage. */
	if (store->db)
		sqlite3_busy_timeout(store->db, 2000);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(store->db, schema_sql, NULL, NULL, &errmsg);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(store->db, "PRAGMA quick_check", -1, &check, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(check);
		if (rc == SQLITE_ROW && g_strcmp0((const char *)sqlite3_column_text(check, 0), "ok") == 0)
			rc = SQLITE_OK;
		else if (rc == SQLITE_ROW)
			rc = SQLITE_CORRUPT;
		sqlite3_finalize(check);
	}
	for (guint i = 0; rc == SQLITE_OK && i < N_STMTS; i++)
		rc = sqlite3_prepare_v3(store->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &store->stmts[i], NULL);
	if (rc != SQLITE_OK) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_FAILED, "%s",
			    errmsg ? errmsg : (store->db ? sqlite3_errmsg(store->db) : sqlite3_errstr(rc)));
		sqlite3_free(errmsg);
		close_db(store);
		return rc;
	}
	/* quick_check read every page; hand that memory back. */
	sqlite3_db_release_memory(store->db);
	return SQLITE_OK;
}

/* Keeps the damaged file and its journal for inspection: committed data may still sit in the WAL. */
static void move_aside(const char *path)
{
	g_autoptr(GDateTime) now = g_date_time_new_now_utc();
	g_autofree char *stamp = g_date_time_format(now, "%Y%m%dT%H%M%S");
	const char *suffixes[] = { "", "-wal", "-shm" };

	for (guint i = 0; i < G_N_ELEMENTS(suffixes); i++) {
		g_autofree char *from = g_strconcat(path, suffixes[i], NULL);
		g_autofree char *to = g_strdup_printf("%s.corrupt-%s%s", path, stamp, suffixes[i]);

		if (g_rename(from, to) < 0 && errno != ENOENT) {
			g_warning("Failed to move %s aside: %s, deleting it", from, g_strerror(errno));
			g_unlink(from);
		}
	}
}

HubStore *hub_store_open(const char *path, GError **error)
{
	g_autoptr(GError) local = NULL;
	HubStore *store = g_new0(HubStore, 1);
	int rc;

	store->path = g_strdup(path);
	rc = try_open(store, &local);
	if (rc == SQLITE_OK)
		return store;
	/* Only damage is repaired by starting afresh; a lock, a permission or a
	 * full disk must not cost the hub its devices. */
	if ((rc & 0xff) != SQLITE_CORRUPT && (rc & 0xff) != SQLITE_NOTADB) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_FAILED, "cannot open database %s: %s", path, local->message);
		g_free(store->path);
		g_free(store);
		return NULL;
	}
	g_warning("Database %s is unusable (%s); moving it aside as %s.corrupt-<time> and starting with an empty one",
		  path, local->message, path);
	move_aside(path);
	g_clear_error(&local);
	if (try_open(store, &local) != SQLITE_OK) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_FAILED, "cannot create database %s: %s", path, local->message);
		g_free(store->path);
		g_free(store);
		return NULL;
	}
	store->recreated = TRUE;
	return store;
}

gboolean hub_store_was_recreated(HubStore *store)
{
	return store->recreated;
}

static gboolean commit_cb(gpointer user_data);

/* TRUE when the pending writes are committed (or there were none). */
static gboolean commit(HubStore *store)
{
	g_clear_handle_id(&store->commit_source, g_source_remove);
	if (!store->in_transaction)
		return TRUE;
	if (sqlite3_exec(store->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK || sqlite3_get_autocommit(store->db)) {
		store->in_transaction = FALSE;
		return TRUE;
	}
	return FALSE;
}

gboolean hub_store_flush(HubStore *store)
{
	if (commit(store))
		return TRUE;
	/* Still inside the transaction (e.g. the disk is busy): keep the writes and try again. */
	g_warning("Failed to commit to %s: %s, retrying", store->path, sqlite3_errmsg(store->db));
	store->commit_source = g_timeout_add(COMMIT_DELAY_MS * 10, commit_cb, store);
	return FALSE;
}

void hub_store_free(HubStore *store)
{
	if (!store)
		return;
	if (!commit(store)) {
		g_warning("Failed to commit the last writes to %s: %s; they are lost", store->path,
			  sqlite3_errmsg(store->db));
		sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
	}
	close_db(store);
	g_free(store->path);
	g_free(store);
}

static gboolean commit_cb(gpointer user_data)
{
	HubStore *store = user_data;

	store->commit_source = 0;
	hub_store_flush(store);
	return G_SOURCE_REMOVE;
}

/* Every write joins the batch transaction. */
static void begin_write(HubStore *store)
{
	if (store->in_transaction)
		return;
	if (sqlite3_exec(store->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		g_warning("Failed to begin a transaction on %s: %s", store->path, sqlite3_errmsg(store->db));
		return;
	}
	store->in_transaction = TRUE;
	store->commit_source = g_timeout_add(COMMIT_DELAY_MS, commit_cb, store);
}

static sqlite3_stmt *stmt(HubStore *store, guint which)
{
	sqlite3_stmt *s = store->stmts[which];

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

static void run_write(HubStore *store, sqlite3_stmt *s)
{
	if (sqlite3_step(s) != SQLITE_DONE)
		g_warning("Failed to write to %s: %s", store->path, sqlite3_errmsg(store->db));
	sqlite3_reset(s);
}

static void bind_text(sqlite3_stmt *s, int col, const char *text)
{
	sqlite3_bind_text(s, col, text, -1, SQLITE_TRANSIENT);
}

/* @parser is reused across rows: one per row dominated start-up with many devices. */
static JsonNode *parse_column(JsonParser *parser, sqlite3_stmt *s, int col)
{
	const char *text = (const char *)sqlite3_column_text(s, col);

	if (!text || !json_parser_load_from_data(parser, text, -1, NULL) || !json_parser_get_root(parser))
		return NULL;
	return json_node_copy(json_parser_get_root(parser));
}

void hub_store_load_devices(HubStore *store, HubStoreDeviceFunc func, gpointer user_data)
{
	g_autoptr(JsonParser) parser = NULL;
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(store->db, "SELECT id, protocol, description FROM devices ORDER BY id", -1, &s, NULL) !=
	    SQLITE_OK) {
		g_warning("Failed to read devices from %s: %s", store->path, sqlite3_errmsg(store->db));
		return;
	}
	parser = json_parser_new();
	while (sqlite3_step(s) == SQLITE_ROW) {
		g_autoptr(JsonNode) description = parse_column(parser, s, 2);

		if (!description) {
			g_warning("Stored device %s has an unreadable description, ignoring", sqlite3_column_text(s, 0));
			continue;
		}
		func((const char *)sqlite3_column_text(s, 0), (const char *)sqlite3_column_text(s, 1), description,
		     user_data);
	}
	sqlite3_finalize(s);
}

void hub_store_load_state(HubStore *store, HubStoreStateFunc func, gpointer user_data)
{
	g_autoptr(JsonParser) parser = NULL;
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(store->db,
			       "SELECT device_id, endpoint_id, capability_id, property, value, last_changed_ms FROM state",
			       -1, &s, NULL) != SQLITE_OK) {
		g_warning("Failed to read state from %s: %s", store->path, sqlite3_errmsg(store->db));
		return;
	}
	/* One parser for every row: creating one per value dominated warm start-up. */
	parser = json_parser_new();
	while (sqlite3_step(s) == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(s, 4);

		/* Values are stored as JSON documents "[value]" so scalars parse too. */
		if (!text || !json_parser_load_from_data(parser, text, -1, NULL) ||
		    !JSON_NODE_HOLDS_ARRAY(json_parser_get_root(parser)) ||
		    json_array_get_length(json_node_get_array(json_parser_get_root(parser))) != 1)
			continue;
		func((const char *)sqlite3_column_text(s, 0), (const char *)sqlite3_column_text(s, 1),
		     (const char *)sqlite3_column_text(s, 2), (const char *)sqlite3_column_text(s, 3),
		     json_array_get_element(json_node_get_array(json_parser_get_root(parser)), 0),
		     sqlite3_column_int64(s, 5), user_data);
	}
	sqlite3_finalize(s);
}

void hub_store_put_device(HubStore *store, const char *device_id, const char *protocol, JsonNode *description)
{
	g_autofree char *text = hub_json_to_string(description);
	sqlite3_stmt *s = stmt(store, STMT_PUT_DEVICE);

	begin_write(store);
	bind_text(s, 1, device_id);
	bind_text(s, 2, protocol);
	bind_text(s, 3, text);
	run_write(store, s);
}

void hub_store_delete_device(HubStore *store, const char *device_id)
{
	sqlite3_stmt *s;

	begin_write(store);
	s = stmt(store, STMT_DELETE_DEVICE);
	bind_text(s, 1, device_id);
	run_write(store, s);
	s = stmt(store, STMT_DELETE_DEVICE_STATE);
	bind_text(s, 1, device_id);
	run_write(store, s);
}

void hub_store_put_property(HubStore *store, const char *device_id, const char *endpoint_id,
			    const char *capability_id, const char *property, JsonNode *value, gint64 last_changed_ms)
{
	g_autoptr(JsonArray) wrapper = json_array_new();
	g_autoptr(JsonNode) node = json_node_new(JSON_NODE_ARRAY);
	g_autofree char *text = NULL;
	sqlite3_stmt *s = stmt(store, STMT_PUT_PROPERTY);

	json_array_add_element(wrapper, json_node_copy(value));
	json_node_set_array(node, wrapper);
	text = hub_json_to_string(node);
	begin_write(store);
	bind_text(s, 1, device_id);
	bind_text(s, 2, endpoint_id);
	bind_text(s, 3, capability_id);
	bind_text(s, 4, property);
	bind_text(s, 5, text);
	sqlite3_bind_int64(s, 6, last_changed_ms);
	run_write(store, s);
}

void hub_store_put_command_result(HubStore *store, const char *trace_id, const char *device_id,
				  gint64 completed_ms, gint response_code, JsonNode *result)
{
	g_autofree char *text = hub_json_to_string(result);
	sqlite3_stmt *s = stmt(store, STMT_PUT_RESULT);

	begin_write(store);
	bind_text(s, 1, trace_id);
	bind_text(s, 2, device_id);
	sqlite3_bind_int64(s, 3, completed_ms);
	sqlite3_bind_int(s, 4, response_code);
	bind_text(s, 5, text);
	run_write(store, s);
}

JsonNode *hub_store_get_command_result(HubStore *store, const char *trace_id, gint *response_code)
{
	sqlite3_stmt *s = stmt(store, STMT_GET_RESULT);
	JsonNode *result = NULL;

	bind_text(s, 1, trace_id);
	if (sqlite3_step(s) == SQLITE_ROW) {
		g_autoptr(JsonParser) parser = json_parser_new();

		if (response_code)
			*response_code = sqlite3_column_int(s, 0);
		result = parse_column(parser, s, 1);
	}
	sqlite3_reset(s);
	return result;
}

guint hub_store_mark_interrupted_commands(HubStore *store)
{
	static const char sql[] =
		"UPDATE command_results SET response_code = 503, result = json_set(result, "
		"'$.status', 'interrupted', '$.responseCode', 503, "
		"'$.error', json_object('code', 'INTERRUPTED', 'message', "
		"'the hub stopped before the command finished; it may or may not have run')) "
		"WHERE response_code = 0";

	begin_write(store);
	if (sqlite3_exec(store->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		g_warning("Failed to mark interrupted commands in %s: %s", store->path, sqlite3_errmsg(store->db));
		return 0;
	}
	return (guint)sqlite3_changes(store->db);
}

void hub_store_trim_command_results(HubStore *store, guint keep)
{
	g_autofree char *sql = g_strdup_printf("DELETE FROM command_results WHERE trace_id NOT IN "
					       "(SELECT trace_id FROM command_results ORDER BY completed_ms DESC LIMIT %u)",
					       keep);

	begin_write(store);
	if (sqlite3_exec(store->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		g_warning("Failed to trim command results in %s: %s", store->path, sqlite3_errmsg(store->db));
}

char *hub_store_kv_get(HubStore *store, const char *owner, const char *key)
{
	sqlite3_stmt *s = stmt(store, STMT_KV_GET);
	char *value = NULL;

	bind_text(s, 1, owner);
	bind_text(s, 2, key);
	if (sqlite3_step(s) == SQLITE_ROW)
		value = g_strdup((const char *)sqlite3_column_text(s, 0));
	sqlite3_reset(s);
	return value;
}

void hub_store_kv_set(HubStore *store, const char *owner, const char *key, const char *value)
{
	sqlite3_stmt *s = stmt(store, value ? STMT_KV_SET : STMT_KV_DELETE);

	begin_write(store);
	bind_text(s, 1, owner);
	bind_text(s, 2, key);
	if (value)
		bind_text(s, 3, value);
	run_write(store, s);
}
