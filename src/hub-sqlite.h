/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-sqlite.h - one SQLite database file of the daemon (hubd.db, outbox.db):
 * opened with its schema and prepared statements, repaired by starting
 * afresh only when it is damaged, and written in batch transactions that
 * a timer commits, so a burst of writes costs one commit.
 *
 * Journal: WAL with synchronous=NORMAL. A commit survives a crash of hubd
 * (kill -9) at once and a power cut from the next checkpoint on.
 *
 * Main thread only.
 */
#pragma once

#include <glib.h>
#include <sqlite3.h>

typedef struct _HubSqlite HubSqlite;

/* Called right before each batch commit, inside the transaction. */
typedef void (*HubSqliteCommitFunc)(HubSqlite *db, gpointer user_data);

/* Opens or creates @path (its directory must exist), runs @schema_sql,
 * checks the file and prepares @n_stmts statements. A damaged file is moved
 * aside as <path>.corrupt-<time> (with its WAL) and replaced by an empty
 * one; a lock, a permission or a full disk is an error that touches nothing. */
HubSqlite *hub_sqlite_open(const char *path, const char *schema_sql, const char *const *stmt_sql, guint n_stmts,
			   guint commit_delay_ms, GError **error);
/* Commits pending writes and closes. NULL-safe. */
void hub_sqlite_free(HubSqlite *db);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HubSqlite, hub_sqlite_free)

gboolean hub_sqlite_was_recreated(HubSqlite *db);
sqlite3 *hub_sqlite_handle(HubSqlite *db);
const char *hub_sqlite_path(HubSqlite *db);
void hub_sqlite_set_commit_func(HubSqlite *db, HubSqliteCommitFunc func, gpointer user_data);

/* Prepared statement @which, reset and with its bindings cleared. */
sqlite3_stmt *hub_sqlite_stmt(HubSqlite *db, guint which);
/* Joins (or opens) the batch transaction, committed @commit_delay_ms after it opened. */
void hub_sqlite_begin_write(HubSqlite *db);
/* Steps a write statement of the batch; FALSE (logged) when it failed. */
gboolean hub_sqlite_run(HubSqlite *db, sqlite3_stmt *s);
/* Runs @sql in the batch; FALSE (logged with @what) when it failed. */
gboolean hub_sqlite_exec(HubSqlite *db, const char *sql, const char *what);
/* Commits the batch now; FALSE (logged, retried later) when it cannot. */
gboolean hub_sqlite_flush(HubSqlite *db);
