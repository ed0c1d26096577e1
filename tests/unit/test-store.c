/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-store.c - the SQLite store: round trips across reopen, batching, corrupt files. */
#include "config.h"

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "hub-json.h"
#include "hub-store.h"

static char *make_dir(void)
{
	g_autoptr(GError) error = NULL;
	char *dir = g_dir_make_tmp("hubd-store-XXXXXX", &error);

	g_assert_no_error(error);
	return dir;
}

static void remove_dir(const char *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const char *name;

	while (d && (name = g_dir_read_name(d))) {
		g_autofree char *path = g_build_filename(dir, name, NULL);

		g_unlink(path);
	}
	g_rmdir(dir);
}

static JsonNode *parse(const char *text)
{
	g_autoptr(JsonParser) parser = json_parser_new();

	g_assert_true(json_parser_load_from_data(parser, text, -1, NULL));
	return json_node_copy(json_parser_get_root(parser));
}

static void count_device(const char *id, const char *protocol, JsonNode *description, gpointer user_data)
{
	g_assert_cmpstr(id, ==, "light-1");
	g_assert_cmpstr(protocol, ==, "virtual");
	g_assert_cmpstr(json_object_get_string_member(json_node_get_object(description), "name"), ==, "Lamp");
	(*(guint *)user_data)++;
}

static void check_state(const char *device, const char *ep, const char *cap, const char *prop, JsonNode *value,
			gint64 ts, gpointer user_data)
{
	g_assert_cmpstr(device, ==, "light-1");
	g_assert_cmpstr(prop, ==, "OnOff");
	g_assert_true(json_node_get_boolean(value));
	g_assert_cmpint(ts, ==, 1234567);
	(*(guint *)user_data)++;
}

static void test_round_trip(void)
{
	g_autofree char *dir = make_dir();
	g_autofree char *path = g_build_filename(dir, "hubd.db", NULL);
	g_autoptr(JsonNode) description = parse("{\"name\": \"Lamp\", \"endpoints\": []}");
	g_autoptr(JsonNode) value = parse("true");
	g_autoptr(JsonNode) result = parse("{\"traceId\": \"t-1\"}");
	g_autoptr(JsonNode) stored = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *kv = NULL;
	HubStore *store;
	guint devices = 0, states = 0;
	gint code = 0;

	store = hub_store_open(path, &error);
	g_assert_no_error(error);
	g_assert_false(hub_store_was_recreated(store));
	hub_store_put_device(store, "light-1", "virtual", description);
	hub_store_put_device(store, "gone-1", "virtual", description);
	hub_store_delete_device(store, "gone-1");
	hub_store_put_property(store, "light-1", "1", "matter.OnOff@1.4", "OnOff", value, 1234567);
	hub_store_put_command_result(store, "t-1", "light-1", 99, 200, result);
	hub_store_kv_set(store, "virtual", "onboarded.x", "1");
	hub_store_kv_set(store, "virtual", "removed.y", "1");
	hub_store_kv_set(store, "virtual", "removed.y", NULL);
	hub_store_free(store);

	store = hub_store_open(path, &error);
	g_assert_no_error(error);
	hub_store_load_devices(store, count_device, &devices);
	hub_store_load_state(store, check_state, &states);
	g_assert_cmpuint(devices, ==, 1);
	g_assert_cmpuint(states, ==, 1);
	stored = hub_store_get_command_result(store, "t-1", &code);
	g_assert_nonnull(stored);
	g_assert_cmpint(code, ==, 200);
	g_assert_null(hub_store_get_command_result(store, "t-2", NULL));
	kv = hub_store_kv_get(store, "virtual", "onboarded.x");
	g_assert_cmpstr(kv, ==, "1");
	g_assert_null(hub_store_kv_get(store, "virtual", "removed.y"));
	g_assert_null(hub_store_kv_get(store, "other", "onboarded.x"));
	hub_store_free(store);
	remove_dir(dir);
}

static void test_trim_results(void)
{
	g_autofree char *dir = make_dir();
	g_autofree char *path = g_build_filename(dir, "hubd.db", NULL);
	g_autoptr(JsonNode) result = parse("{}");
	HubStore *store = hub_store_open(path, NULL);

	for (int i = 0; i < 20; i++) {
		g_autofree char *id = g_strdup_printf("t-%d", i);

		hub_store_put_command_result(store, id, "d", i, 200, result);
	}
	hub_store_trim_command_results(store, 5);
	g_assert_null(hub_store_get_command_result(store, "t-14", NULL));
	g_assert_nonnull(result);
	{
		g_autoptr(JsonNode) newest = hub_store_get_command_result(store, "t-19", NULL);

		g_assert_nonnull(newest);
	}
	hub_store_free(store);
	remove_dir(dir);
}

static void test_corrupt_file_recreated(void)
{
	g_autofree char *dir = make_dir();
	g_autofree char *path = g_build_filename(dir, "hubd.db", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(GDir) d = NULL;
	const char *name;
	gboolean aside = FALSE;
	guint devices = 0;
	HubStore *store;

	g_assert_true(g_file_set_contents(path, "garbage garbage garbage garbage garbage garbage garbage garbage "
						"garbage garbage garbage garbage garbage garbage garbage garbage",
					  -1, NULL));
	g_test_expect_message("hubd", G_LOG_LEVEL_WARNING, "*unusable*");
	store = hub_store_open(path, &error);
	g_test_assert_expected_messages();
	g_assert_no_error(error);
	g_assert_true(hub_store_was_recreated(store));
	hub_store_load_devices(store, count_device, &devices);
	g_assert_cmpuint(devices, ==, 0);
	hub_store_free(store);
	d = g_dir_open(dir, 0, NULL);
	while ((name = g_dir_read_name(d)))
		aside |= g_str_has_prefix(name, "hubd.db.corrupt-");
	g_assert_true(aside);
	remove_dir(dir);
}

static void test_uncreatable_path_fails_cleanly(void)
{
	g_autoptr(GError) error = NULL;
	HubStore *store;

	store = hub_store_open("/nonexistent-hubd-dir/sub/hubd.db", &error);
	g_assert_null(store);
	g_assert_nonnull(error);
	g_assert_nonnull(strstr(error->message, "/nonexistent-hubd-dir/sub/hubd.db"));
}

static void test_locked_database_is_not_discarded(void)
{
	g_autofree char *dir = make_dir();
	g_autofree char *path = g_build_filename(dir, "hubd.db", NULL);
	g_autoptr(JsonNode) description = parse("{\"name\": \"Lamp\", \"endpoints\": []}");
	g_autoptr(GError) error = NULL;
	HubStore *store = hub_store_open(path, NULL);
	sqlite3 *other = NULL;
	guint devices = 0;

	hub_store_put_device(store, "light-1", "virtual", description);
	hub_store_free(store);
	/* Another process holds the database: hubd must fail, not throw it away. */
	g_assert_cmpint(sqlite3_open(path, &other), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_exec(other, "PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE;", NULL, NULL, NULL), ==,
			SQLITE_OK);
	store = hub_store_open(path, &error);
	g_assert_null(store);
	g_assert_nonnull(error);
	g_assert_nonnull(strstr(error->message, "locked"));
	sqlite3_exec(other, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(other);
	store = hub_store_open(path, NULL);
	g_assert_nonnull(store);
	g_assert_false(hub_store_was_recreated(store));
	hub_store_load_devices(store, count_device, &devices);
	g_assert_cmpuint(devices, ==, 1);
	hub_store_free(store);
	remove_dir(dir);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/hub/store/round-trip", test_round_trip);
	g_test_add_func("/hub/store/trim-results", test_trim_results);
	g_test_add_func("/hub/store/corrupt-file-recreated", test_corrupt_file_recreated);
	g_test_add_func("/hub/store/uncreatable-path-fails-cleanly", test_uncreatable_path_fails_cleanly);
	g_test_add_func("/hub/store/locked-database-is-not-discarded", test_locked_database_is_not_discarded);
	return g_test_run();
}
