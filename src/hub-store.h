/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-store.h - the daemon's SQLite database (WAL): devices, the state cache,
 * command results (for trace-id dedupe) and plugin key/value pairs.
 *
 * Writes go into one open transaction that is committed by a short timer
 * (or hub_store_flush), so a burst of reports costs one commit, not one
 * fsync per row. A database that cannot be opened or fails its integrity
 * check is moved aside ("hubd.db.corrupt-<time>") and recreated, with a
 * warning; the daemon never refuses to start over it.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

typedef struct _HubStore HubStore;

/* Opens or creates @path (its directory must exist). Fails only when a fresh
 * database cannot be created either. */
HubStore *hub_store_open(const char *path, GError **error);
/* Commits pending writes and closes. NULL-safe. */
void hub_store_free(HubStore *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HubStore, hub_store_free)

/* TRUE when opening found a damaged database and replaced it. */
gboolean hub_store_was_recreated(HubStore *store);

/* Commits the pending transaction now; FALSE (logged, retried later) when it cannot. */
gboolean hub_store_flush(HubStore *store);

typedef void (*HubStoreDeviceFunc)(const char *device_id, const char *protocol, JsonNode *description,
				   gpointer user_data);
typedef void (*HubStoreStateFunc)(const char *device_id, const char *endpoint_id, const char *capability_id,
				  const char *property, JsonNode *value, gint64 last_changed_ms, gpointer user_data);
void hub_store_load_devices(HubStore *store, HubStoreDeviceFunc func, gpointer user_data);
void hub_store_load_state(HubStore *store, HubStoreStateFunc func, gpointer user_data);

void hub_store_put_device(HubStore *store, const char *device_id, const char *protocol, JsonNode *description);
void hub_store_delete_device(HubStore *store, const char *device_id);
void hub_store_put_property(HubStore *store, const char *device_id, const char *endpoint_id,
			    const char *capability_id, const char *property, JsonNode *value, gint64 last_changed_ms);

void hub_store_put_command_result(HubStore *store, const char *trace_id, const char *device_id,
				  gint64 completed_ms, gint response_code, JsonNode *result);
/* The stored result document, or NULL. */
JsonNode *hub_store_get_command_result(HubStore *store, const char *trace_id, gint *response_code);
/* Results stored with response code 0 are commands that were accepted but
 * never finished (the hub crashed): they become 503 with status
 * "interrupted", so a retry gets an answer and never runs them again.
 * Returns how many were marked. */
guint hub_store_mark_interrupted_commands(HubStore *store);
/* Keeps the newest @keep results. */
void hub_store_trim_command_results(HubStore *store, guint keep);

char *hub_store_kv_get(HubStore *store, const char *owner, const char *key);
void hub_store_kv_set(HubStore *store, const char *owner, const char *key, const char *value); /* NULL deletes */
void hub_store_kv_clear(HubStore *store, const char *owner);
