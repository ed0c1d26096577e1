/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>

#include "hub-error.h"
#include "hub-sqlite.h"

#define RETRY_FACTOR 10 /* a failed commit is retried after this many commit delays */

struct _HubSqlite {
	sqlite3 *db;
	sqlite3_stmt **stmts;
	guint n_stmts;
	char *path;
	guint commit_delay_ms;
	gboolean in_transaction;
	guint commit_source;
	gboolean recreated;
	HubSqliteCommitFunc commit_func;
	gpointer commit_data;
};

static void close_db(HubSqlite *db)
{
	for (guint i = 0; i < db->n_stmts; i++) {
		sqlite3_finalize(db->stmts[i]);
		db->stmts[i] = NULL;
	}
	sqlite3_close(db->db);
	db->db = NULL;
}

/* Opens, checks and prepares; on failure leaves @db closed. Returns the
 * SQLite result code so the caller can tell damage from other trouble. */
static int try_open(HubSqlite *db, const char *schema_sql, const char *const *stmt_sql, GError **error)
{
	sqlite3_stmt *check = NULL;
	char *errmsg = NULL;
	int rc;

	rc = sqlite3_open_v2(db->path, &db->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	/* Before the first statement: another process holding a lock is waited for, not mistaken for damage. */
	if (db->db)
		sqlite3_busy_timeout(db->db, 2000);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db->db, schema_sql, NULL, NULL, &errmsg);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db->db, "PRAGMA quick_check", -1, &check, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(check);
		if (rc == SQLITE_ROW && g_strcmp0((const char *)sqlite3_column_text(check, 0), "ok") == 0)
			rc = SQLITE_OK;
		else if (rc == SQLITE_ROW)
			rc = SQLITE_CORRUPT;
		sqlite3_finalize(check);
	}
	for (guint i = 0; rc == SQLITE_OK && i < db->n_stmts; i++)
		rc = sqlite3_prepare_v3(db->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &db->stmts[i], NULL);
	if (rc != SQLITE_OK) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_FAILED, "%s",
			    errmsg ? errmsg : (db->db ? sqlite3_errmsg(db->db) : sqlite3_errstr(rc)));
		sqlite3_free(errmsg);
		close_db(db);
		return rc;
	}
	/* quick_check read every page; hand that memory back. */
	sqlite3_db_release_memory(db->db);
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

static void db_free_struct(HubSqlite *db)
{
	g_free(db->stmts);
	g_free(db->path);
	g_free(db);
}

HubSqlite *hub_sqlite_open(const char *path, const char *schema_sql, const char *const *stmt_sql, guint n_stmts,
			   guint commit_delay_ms, GError **error)
{
	g_autoptr(GError) local = NULL;
	HubSqlite *db = g_new0(HubSqlite, 1);
	int rc;

	db->path = g_strdup(path);
	db->n_stmts = n_stmts;
	db->stmts = g_new0(sqlite3_stmt *, MAX(n_stmts, 1));
	db->commit_delay_ms = MAX(commit_delay_ms, 1);
	rc = try_open(db, schema_sql, stmt_sql, &local);
	if (rc == SQLITE_OK)
		return db;
	/* Only damage is repaired by starting afresh; a lock, a permission or a
	 * full disk must not cost the hub its data. */
	if ((rc & 0xff) != SQLITE_CORRUPT && (rc & 0xff) != SQLITE_NOTADB) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_FAILED, "cannot open database %s: %s", path, local->message);
		db_free_struct(db);
		return NULL;
	}
	g_warning("Database %s is unusable (%s); moving it aside as %s.corrupt-<time> and starting with an empty one",
		  path, local->message, path);
	move_aside(path);
	g_clear_error(&local);
	if (try_open(db, schema_sql, stmt_sql, &local) != SQLITE_OK) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_FAILED, "cannot create database %s: %s", path, local->message);
		db_free_struct(db);
		return NULL;
	}
	db->recreated = TRUE;
	return db;
}

gboolean hub_sqlite_was_recreated(HubSqlite *db)
{
	return db->recreated;
}

sqlite3 *hub_sqlite_handle(HubSqlite *db)
{
	return db->db;
}

const char *hub_sqlite_path(HubSqlite *db)
{
	return db->path;
}

void hub_sqlite_set_commit_func(HubSqlite *db, HubSqliteCommitFunc func, gpointer user_data)
{
	db->commit_func = func;
	db->commit_data = user_data;
}

static gboolean commit_cb(gpointer user_data);

/* TRUE when the pending writes are committed (or there were none). */
static gboolean commit(HubSqlite *db)
{
	g_clear_handle_id(&db->commit_source, g_source_remove);
	if (!db->in_transaction)
		return TRUE;
	if (db->commit_func)
		db->commit_func(db, db->commit_data);
	if (sqlite3_exec(db->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK || sqlite3_get_autocommit(db->db)) {
		db->in_transaction = FALSE;
		return TRUE;
	}
	return FALSE;
}

gboolean hub_sqlite_flush(HubSqlite *db)
{
	if (commit(db))
		return TRUE;
	/* Still inside the transaction (e.g. the disk is busy): keep the writes and try again. */
	g_warning("Failed to commit to %s: %s, retrying", db->path, sqlite3_errmsg(db->db));
	db->commit_source = g_timeout_add(db->commit_delay_ms * RETRY_FACTOR, commit_cb, db);
	return FALSE;
}

void hub_sqlite_free(HubSqlite *db)
{
	if (!db)
		return;
	if (!commit(db)) {
		g_warning("Failed to commit the last writes to %s: %s; they are lost", db->path, sqlite3_errmsg(db->db));
		sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
	}
	close_db(db);
	db_free_struct(db);
}

static gboolean commit_cb(gpointer user_data)
{
	HubSqlite *db = user_data;

	db->commit_source = 0;
	hub_sqlite_flush(db);
	return G_SOURCE_REMOVE;
}

void hub_sqlite_begin_write(HubSqlite *db)
{
	if (db->in_transaction)
		return;
	if (sqlite3_exec(db->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		g_warning("Failed to begin a transaction on %s: %s", db->path, sqlite3_errmsg(db->db));
		return;
	}
	db->in_transaction = TRUE;
	db->commit_source = g_timeout_add(db->commit_delay_ms, commit_cb, db);
}

sqlite3_stmt *hub_sqlite_stmt(HubSqlite *db, guint which)
{
	sqlite3_stmt *s = db->stmts[which];

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

gboolean hub_sqlite_run(HubSqlite *db, sqlite3_stmt *s)
{
	gboolean ok = sqlite3_step(s) == SQLITE_DONE;

	if (!ok)
		g_warning("Failed to write to %s: %s", db->path, sqlite3_errmsg(db->db));
	sqlite3_reset(s);
	return ok;
}

gboolean hub_sqlite_exec(HubSqlite *db, const char *sql, const char *what)
{
	if (sqlite3_exec(db->db, sql, NULL, NULL, NULL) == SQLITE_OK)
		return TRUE;
	g_warning("Failed to %s in %s: %s", what, db->path, sqlite3_errmsg(db->db));
	return FALSE;
}
