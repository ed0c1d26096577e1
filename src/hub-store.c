/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "hub-error.h"
#include "hub-json.h"
#include "hub-sqlite.h"
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
	STMT_KV_CLEAR,
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
	[STMT_KV_CLEAR] = "DELETE FROM plugin_kv WHERE owner = ?1",
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
	HubSqlite *db;
};

HubStore *hub_store_open(const char *path, GError **error)
{
	HubSqlite *db = hub_sqlite_open(path, schema_sql, stmt_sql, N_STMTS, COMMIT_DELAY_MS, error);
	HubStore *store;

	if (!db)
		return NULL;
	store = g_new0(HubStore, 1);
	store->db = db;
	return store;
}

gboolean hub_store_was_recreated(HubStore *store)
{
	return hub_sqlite_was_recreated(store->db);
}

gboolean hub_store_flush(HubStore *store)
{
	return hub_sqlite_flush(store->db);
}

void hub_store_free(HubStore *store)
{
	if (!store)
		return;
	hub_sqlite_free(store->db);
	g_free(store);
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
	sqlite3 *db = hub_sqlite_handle(store->db);
	g_autoptr(JsonParser) parser = NULL;
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(db, "SELECT id, protocol, description FROM devices ORDER BY id", -1, &s, NULL) != SQLITE_OK) {
		g_warning("Failed to read devices from %s: %s", hub_sqlite_path(store->db), sqlite3_errmsg(db));
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
	sqlite3 *db = hub_sqlite_handle(store->db);
	g_autoptr(JsonParser) parser = NULL;
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(db, "SELECT device_id, endpoint_id, capability_id, property, value, last_changed_ms FROM state",
			       -1, &s, NULL) != SQLITE_OK) {
		g_warning("Failed to read state from %s: %s", hub_sqlite_path(store->db), sqlite3_errmsg(db));
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
	sqlite3_stmt *s = hub_sqlite_stmt(store->db, STMT_PUT_DEVICE);

	hub_sqlite_begin_write(store->db);
	bind_text(s, 1, device_id);
	bind_text(s, 2, protocol);
	bind_text(s, 3, text);
	hub_sqlite_run(store->db, s);
}

void hub_store_delete_device(HubStore *store, const char *device_id)
{
	sqlite3_stmt *s;

	hub_sqlite_begin_write(store->db);
	s = hub_sqlite_stmt(store->db, STMT_DELETE_DEVICE);
	bind_text(s, 1, device_id);
	hub_sqlite_run(store->db, s);
	s = hub_sqlite_stmt(store->db, STMT_DELETE_DEVICE_STATE);
	bind_text(s, 1, device_id);
	hub_sqlite_run(store->db, s);
}

void hub_store_put_property(HubStore *store, const char *device_id, const char *endpoint_id,
			    const char *capability_id, const char *property, JsonNode *value, gint64 last_changed_ms)
{
	g_autoptr(JsonArray) wrapper = json_array_new();
	g_autoptr(JsonNode) node = json_node_new(JSON_NODE_ARRAY);
	g_autofree char *text = NULL;
	sqlite3_stmt *s = hub_sqlite_stmt(store->db, STMT_PUT_PROPERTY);

	json_array_add_element(wrapper, json_node_copy(value));
	json_node_set_array(node, wrapper);
	text = hub_json_to_string(node);
	hub_sqlite_begin_write(store->db);
	bind_text(s, 1, device_id);
	bind_text(s, 2, endpoint_id);
	bind_text(s, 3, capability_id);
	bind_text(s, 4, property);
	bind_text(s, 5, text);
	sqlite3_bind_int64(s, 6, last_changed_ms);
	hub_sqlite_run(store->db, s);
}

void hub_store_put_command_result(HubStore *store, const char *trace_id, const char *device_id,
				  gint64 completed_ms, gint response_code, JsonNode *result)
{
	g_autofree char *text = hub_json_to_string(result);
	sqlite3_stmt *s = hub_sqlite_stmt(store->db, STMT_PUT_RESULT);

	hub_sqlite_begin_write(store->db);
	bind_text(s, 1, trace_id);
	bind_text(s, 2, device_id);
	sqlite3_bind_int64(s, 3, completed_ms);
	sqlite3_bind_int(s, 4, response_code);
	bind_text(s, 5, text);
	hub_sqlite_run(store->db, s);
}

JsonNode *hub_store_get_command_result(HubStore *store, const char *trace_id, gint *response_code)
{
	sqlite3_stmt *s = hub_sqlite_stmt(store->db, STMT_GET_RESULT);
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

	hub_sqlite_begin_write(store->db);
	if (!hub_sqlite_exec(store->db, sql, "mark interrupted commands"))
		return 0;
	return (guint)sqlite3_changes(hub_sqlite_handle(store->db));
}

void hub_store_trim_command_results(HubStore *store, guint keep)
{
	g_autofree char *sql = g_strdup_printf("DELETE FROM command_results WHERE trace_id NOT IN "
					       "(SELECT trace_id FROM command_results ORDER BY completed_ms DESC LIMIT %u)",
					       keep);

	hub_sqlite_begin_write(store->db);
	hub_sqlite_exec(store->db, sql, "trim command results");
}

char *hub_store_kv_get(HubStore *store, const char *owner, const char *key)
{
	sqlite3_stmt *s = hub_sqlite_stmt(store->db, STMT_KV_GET);
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
	sqlite3_stmt *s = hub_sqlite_stmt(store->db, value ? STMT_KV_SET : STMT_KV_DELETE);

	hub_sqlite_begin_write(store->db);
	bind_text(s, 1, owner);
	bind_text(s, 2, key);
	if (value)
		bind_text(s, 3, value);
	hub_sqlite_run(store->db, s);
}

void hub_store_kv_clear(HubStore *store, const char *owner)
{
	sqlite3_stmt *s = hub_sqlite_stmt(store->db, STMT_KV_CLEAR);

	hub_sqlite_begin_write(store->db);
	bind_text(s, 1, owner);
	hub_sqlite_run(store->db, s);
}
