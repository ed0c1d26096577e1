/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-command.c - the command pipeline with the real registry, catalog and
 * store. The protocol side is played in-process by the dispatch callback,
 * which records what reached it and completes like a plugin would.
 */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>

#include "hub-command.h"
#include "hub-error.h"
#include "hub-json.h"

typedef struct {
	char *dir;
	HubCatalog *catalog;
	HubEventBus *bus;
	HubRegistry *registry;
	HubStore *store;
	HubCommandPipeline *pipeline;
	GPtrArray *dispatched;   /* "action" names */
	GArray *command_ids;     /* guint64 */
	gboolean auto_complete;  /* complete inside dispatch with 200 */
	int dispatch_result;
	guint accepted;
	guint completed;
	gint last_code;
	JsonNode *last_result;
} Fixture;

static int dispatch(HubDevice *device, guint64 command_id, const char *endpoint_id, const char *capability_id,
		    const char *action, JsonObject *params, gpointer user_data)
{
	Fixture *f = user_data;

	g_ptr_array_add(f->dispatched, g_strdup(action));
	g_array_append_val(f->command_ids, command_id);
	if (f->dispatch_result < 0)
		return f->dispatch_result;
	if (g_strcmp0(action, "On") == 0) {
		/* The device confirms the change before completing, like a plugin. */
		g_autoptr(JsonNode) on = json_node_new(JSON_NODE_VALUE);

		json_node_set_boolean(on, TRUE);
		g_assert_true(hub_registry_report_property(f->registry, "test", device->id, endpoint_id, capability_id,
							   "OnOff", on, FALSE, NULL));
	}
	if (f->auto_complete)
		g_assert_true(hub_command_pipeline_complete(f->pipeline, command_id, 200, NULL, NULL, NULL, NULL));
	return 0;
}

static void on_event(const HubEvent *event, gpointer user_data)
{
	Fixture *f = user_data;

	if (event->type == HUB_EVENT_COMMAND_ACCEPTED)
		f->accepted++;
	if (event->type == HUB_EVENT_COMMAND_COMPLETED) {
		f->completed++;
		f->last_code = event->response_code;
		if (f->last_result)
			json_node_unref(f->last_result);
		f->last_result = json_node_copy(event->value);
	}
}

static void open_pipeline(Fixture *f, guint timeout_ms)
{
	g_autofree char *path = g_build_filename(f->dir, "hubd.db", NULL);

	f->store = hub_store_open(path, NULL);
	g_assert_nonnull(f->store);
	f->pipeline = hub_command_pipeline_new(f->registry, f->bus, f->store, timeout_ms, dispatch, f);
}

static void close_pipeline(Fixture *f)
{
	g_clear_pointer(&f->pipeline, hub_command_pipeline_free);
	g_clear_pointer(&f->store, hub_store_free);
}

static void setup(Fixture *f, gconstpointer data)
{
	g_autofree char *caps = g_build_filename(g_getenv("HUB_TOP_SRCDIR") ? g_getenv("HUB_TOP_SRCDIR") : ".", "data",
						 "capabilities", NULL);

	f->dir = g_dir_make_tmp("hubd-command-XXXXXX", NULL);
	f->catalog = hub_catalog_new();
	g_assert_cmpint(hub_catalog_load_dir(f->catalog, caps, NULL), >=, 12);
	f->bus = hub_event_bus_new();
	f->registry = hub_registry_new(f->catalog, f->bus);
	f->dispatched = g_ptr_array_new_with_free_func(g_free);
	f->command_ids = g_array_new(FALSE, FALSE, sizeof(guint64));
	f->auto_complete = TRUE;
	hub_event_bus_subscribe(f->bus, on_event, f);
	g_assert_nonnull(hub_registry_begin_device(f->registry, "test", "light-1", NULL));
	g_assert_true(hub_registry_add_endpoint(f->registry, "test", "light-1", "1", NULL, NULL));
	g_assert_true(hub_registry_add_capability(f->registry, "test", "light-1", "1", "matter.OnOff@1.4", NULL));
	g_assert_true(hub_registry_add_capability(f->registry, "test", "light-1", "1", "matter.LevelControl@1.4", NULL));
	g_assert_true(hub_registry_device_ready(f->registry, "test", "light-1", TRUE, NULL));
	open_pipeline(f, 200);
}

static void teardown(Fixture *f, gconstpointer data)
{
	g_autofree char *db = g_build_filename(f->dir, "hubd.db", NULL);
	g_autofree char *wal = g_build_filename(f->dir, "hubd.db-wal", NULL);
	g_autofree char *shm = g_build_filename(f->dir, "hubd.db-shm", NULL);

	close_pipeline(f);
	hub_registry_free(f->registry);
	hub_event_bus_free(f->bus);
	hub_catalog_free(f->catalog);
	g_ptr_array_unref(f->dispatched);
	g_array_unref(f->command_ids);
	if (f->last_result)
		json_node_unref(f->last_result);
	g_unlink(db);
	g_unlink(wal);
	g_unlink(shm);
	g_rmdir(f->dir);
	g_free(f->dir);
}

static JsonObject *request(const char *trace_id, const char *cap, const char *action, const char *params)
{
	g_autofree char *text = g_strdup_printf(
		"{\"deviceId\": \"light-1\", %s%s%s \"endpoints\": [{\"endpointId\": \"1\", \"capabilities\": "
		"[{\"id\": \"%s\", \"actions\": [{\"name\": \"%s\", \"parameters\": %s}]}]}]}",
		trace_id ? "\"traceId\": \"" : "", trace_id ? trace_id : "", trace_id ? "\"," : "", cap, action, params);
	JsonObject *obj = hub_json_parse_object(text, NULL);

	g_assert_nonnull(obj);
	return obj;
}

static gboolean completed_once(gpointer data)
{
	return ((Fixture *)data)->completed > 0;
}

static void run_until_completed(Fixture *f)
{
	for (int i = 0; i < 2000 && !completed_once(f); i++)
		g_main_context_iteration(NULL, TRUE);
	g_assert_cmpuint(f->completed, >, 0);
}

static void test_accept_then_complete(Fixture *f, gconstpointer data)
{
	g_autoptr(JsonObject) req = request(NULL, "matter.OnOff@1.4", "On", "{}");
	g_autoptr(GError) error = NULL;
	g_autofree char *trace = hub_command_pipeline_submit(f->pipeline, req, NULL, &error);
	g_autofree char *text = NULL;

	g_assert_no_error(error);
	g_assert_nonnull(trace);
	/* Accepted at once; nothing reached the device yet. */
	g_assert_cmpuint(f->accepted, ==, 1);
	g_assert_cmpuint(f->dispatched->len, ==, 0);
	run_until_completed(f);
	g_assert_cmpint(f->last_code, ==, 200);
	text = hub_json_to_string(f->last_result);
	g_assert_nonnull(strstr(text, trace));
	g_assert_nonnull(strstr(text, "\"status\":\"completed\""));
	/* The changed property is in the result. */
	g_assert_nonnull(strstr(text, "\"name\":\"OnOff\",\"value\":{\"propertyValue\":true"));
}

static void test_duplicate_trace_never_reruns(Fixture *f, gconstpointer data)
{
	g_autoptr(JsonObject) req = request("abc-1", "matter.OnOff@1.4", "Toggle", "{}");
	g_autofree char *t1 = NULL, *t2 = NULL, *t3 = NULL;
	gboolean duplicate = TRUE;

	t1 = hub_command_pipeline_submit(f->pipeline, req, &duplicate, NULL);
	g_assert_false(duplicate);
	/* While running and after completion. */
	t2 = hub_command_pipeline_submit(f->pipeline, req, &duplicate, NULL);
	g_assert_true(duplicate);
	run_until_completed(f);
	close_pipeline(f);
	open_pipeline(f, 200);
	t3 = hub_command_pipeline_submit(f->pipeline, req, &duplicate, NULL);
	g_assert_true(duplicate);
	g_assert_cmpstr(t1, ==, "abc-1");
	g_assert_cmpstr(t2, ==, "abc-1");
	g_assert_cmpstr(t3, ==, "abc-1");
	for (int i = 0; i < 5; i++)
		g_main_context_iteration(NULL, FALSE);
	g_assert_cmpuint(f->dispatched->len, ==, 1);
	g_assert_cmpuint(f->accepted, ==, 1);
}

static void test_invalid_runs_nothing(Fixture *f, gconstpointer data)
{
	struct {
		const char *cap, *action, *params;
		gint code;
	} cases[] = {
		{ "matter.OnOff@1.4", "Fly", "{}", HUB_ERROR_NOT_FOUND },
		{ "matter.DoorLock@1.4", "LockDoor", "{}", HUB_ERROR_NOT_FOUND },
		{ "matter.LevelControl@1.4", "MoveToLevel", "{\"Level\": -1}", HUB_ERROR_INVALID_ARGUMENT },
		{ "matter.LevelControl@1.4", "MoveToLevel", "{\"Level\": 1.5}", HUB_ERROR_INVALID_ARGUMENT },
		{ "matter.LevelControl@1.4", "UpdateState", "{\"MinLevel\": 3}", HUB_ERROR_NOT_SUPPORTED },
		{ "matter.OnOff@1.4", "On", "[]", HUB_ERROR_INVALID_ARGUMENT },
	};
	g_autoptr(JsonObject) bad_trace = request("has spaces", "matter.OnOff@1.4", "On", "{}");
	g_autoptr(JsonObject) no_device = hub_json_parse_object("{\"deviceId\": \"ghost\", \"endpoints\": []}", NULL);
	g_autoptr(GError) e1 = NULL, e2 = NULL;

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(JsonObject) req = request(NULL, cases[i].cap, cases[i].action, cases[i].params);
		g_autoptr(GError) error = NULL;
		g_autofree char *trace = hub_command_pipeline_submit(f->pipeline, req, NULL, &error);

		g_assert_null(trace);
		g_assert_error(error, HUB_ERROR, cases[i].code);
	}
	g_assert_null(hub_command_pipeline_submit(f->pipeline, bad_trace, NULL, &e1));
	g_assert_error(e1, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT);
	g_assert_null(hub_command_pipeline_submit(f->pipeline, no_device, NULL, &e2));
	g_assert_error(e2, HUB_ERROR, HUB_ERROR_NOT_FOUND);
	for (int i = 0; i < 5; i++)
		g_main_context_iteration(NULL, FALSE);
	g_assert_cmpuint(f->dispatched->len, ==, 0);
	g_assert_cmpuint(f->accepted, ==, 0);
}

static void test_timeout_and_late_completion(Fixture *f, gconstpointer data)
{
	g_autoptr(JsonObject) req = request(NULL, "matter.OnOff@1.4", "Off", "{}");
	g_autofree char *trace = NULL;
	g_autofree char *text = NULL;
	g_autoptr(GError) late = NULL;

	f->auto_complete = FALSE;
	trace = hub_command_pipeline_submit(f->pipeline, req, NULL, NULL);
	run_until_completed(f);
	g_assert_cmpint(f->last_code, ==, 504);
	text = hub_json_to_string(f->last_result);
	g_assert_nonnull(strstr(text, "\"code\":\"TIMEOUT\""));
	g_assert_false(hub_command_pipeline_complete(f->pipeline, g_array_index(f->command_ids, guint64, 0), 200, NULL,
						     NULL, NULL, &late));
	g_assert_error(late, HUB_ERROR, HUB_ERROR_NOT_FOUND);
}

static void test_bad_completions(Fixture *f, gconstpointer data)
{
	g_autoptr(JsonObject) req = request(NULL, "matter.OnOff@1.4", "Off", "{}");
	g_autofree char *trace = NULL;
	g_autoptr(GError) error = NULL;

	f->auto_complete = FALSE;
	trace = hub_command_pipeline_submit(f->pipeline, req, NULL, NULL);
	for (int i = 0; i < 5 && f->dispatched->len == 0; i++)
		g_main_context_iteration(NULL, TRUE);
	g_assert_false(hub_command_pipeline_complete(f->pipeline, g_array_index(f->command_ids, guint64, 0), 42, NULL,
						     NULL, NULL, &error));
	g_assert_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT);
	/* The action still finishes, as a server error. */
	g_assert_cmpuint(f->completed, ==, 1);
	g_assert_cmpint(f->last_code, ==, 500);
}

static void test_dispatch_failure_maps_to_code(Fixture *f, gconstpointer data)
{
	g_autoptr(JsonObject) req = request(NULL, "matter.OnOff@1.4", "On", "{}");
	g_autofree char *trace = NULL;

	f->dispatch_result = -ENOTSUP;
	trace = hub_command_pipeline_submit(f->pipeline, req, NULL, NULL);
	run_until_completed(f);
	g_assert_cmpint(f->last_code, ==, 501);
}

static void test_read_state_wildcard(Fixture *f, gconstpointer data)
{
	g_autoptr(JsonObject) req = request(NULL, "matter.LevelControl@1.4", "ReadState", "{\"propertiesToRead\": [\"*\"]}");
	g_autofree char *trace = hub_command_pipeline_submit(f->pipeline, req, NULL, NULL);

	g_assert_nonnull(trace);
	run_until_completed(f);
	g_assert_cmpstr(g_ptr_array_index(f->dispatched, 0), ==, "ReadState");
	g_assert_cmpint(f->last_code, ==, 200);
}

static void wait_done(const char *trace_id, gint code, JsonNode *result, const GError *error, gpointer user_data)
{
	*(gint *)user_data = error ? -error->code : code;
}

static void test_wait(Fixture *f, gconstpointer data)
{
	g_autoptr(JsonObject) req = request("wait-1", "matter.OnOff@1.4", "On", "{}");
	g_autofree char *trace = hub_command_pipeline_submit(f->pipeline, req, NULL, NULL);
	g_autoptr(JsonNode) pending = hub_command_pipeline_get_result(f->pipeline, trace, NULL);
	g_autoptr(GError) error = NULL;
	gint code = 0, unknown = 0;

	g_assert_cmpstr(json_object_get_string_member(json_node_get_object(pending), "status"), ==, "pending");
	hub_command_pipeline_wait(f->pipeline, trace, 0, wait_done, &code);
	run_until_completed(f);
	g_assert_cmpint(code, ==, 200);
	code = 0;
	hub_command_pipeline_wait(f->pipeline, trace, 0, wait_done, &code);
	g_assert_cmpint(code, ==, 200);
	hub_command_pipeline_wait(f->pipeline, "nope", 0, wait_done, &unknown);
	g_assert_cmpint(unknown, ==, -HUB_ERROR_NOT_FOUND);
	g_assert_null(hub_command_pipeline_get_result(f->pipeline, "nope", &error));
	g_assert_error(error, HUB_ERROR, HUB_ERROR_NOT_FOUND);
}

static void test_shutdown_answers_and_remembers(Fixture *f, gconstpointer data)
{
	g_autoptr(JsonObject) req = request("stop-1", "matter.OnOff@1.4", "On", "{}");
	g_autofree char *trace = NULL;
	g_autofree char *again = NULL;
	g_autoptr(JsonNode) result = NULL;
	gboolean duplicate = FALSE;

	/* Accepted, never handed to the device: the hub stops first. */
	trace = hub_command_pipeline_submit(f->pipeline, req, NULL, NULL);
	g_assert_nonnull(trace);
	close_pipeline(f);
	g_assert_cmpuint(f->completed, ==, 1);
	g_assert_cmpint(f->last_code, ==, 503);
	open_pipeline(f, 200);
	again = hub_command_pipeline_submit(f->pipeline, req, &duplicate, NULL);
	g_assert_true(duplicate);
	result = hub_command_pipeline_get_result(f->pipeline, "stop-1", NULL);
	g_assert_cmpint(json_object_get_int_member(json_node_get_object(result), "responseCode"), ==, 503);
	for (int i = 0; i < 5; i++)
		g_main_context_iteration(NULL, FALSE);
	g_assert_cmpuint(f->dispatched->len, ==, 0);
}

static void test_crash_leaves_interrupted_result(Fixture *f, gconstpointer data)
{
	g_autoptr(JsonObject) req = request("crash-1", "matter.OnOff@1.4", "On", "{}");
	g_autofree char *trace = NULL;
	g_autofree char *again = NULL;
	g_autoptr(JsonNode) result = NULL;
	g_autofree char *db = g_build_filename(f->dir, "hubd.db", NULL);
	gboolean duplicate = FALSE;
	HubStore *other;

	trace = hub_command_pipeline_submit(f->pipeline, req, NULL, NULL);
	hub_store_flush(f->store);
	/* A second process opening the same database sees what a restart after a crash sees. */
	g_test_expect_message("hubd", G_LOG_LEVEL_WARNING, "*interrupted*");
	other = hub_store_open(db, NULL);
	{
		g_autoptr(HubCommandPipeline) restarted =
			hub_command_pipeline_new(f->registry, f->bus, other, 200, dispatch, f);

		g_test_assert_expected_messages();
		again = hub_command_pipeline_submit(restarted, req, &duplicate, NULL);
		g_assert_true(duplicate);
		result = hub_command_pipeline_get_result(restarted, "crash-1", NULL);
		g_assert_cmpstr(json_object_get_string_member(json_node_get_object(result), "status"), ==, "interrupted");
		g_assert_cmpint(json_object_get_int_member(json_node_get_object(result), "responseCode"), ==, 503);
	}
	hub_store_free(other);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add("/hub/command/" path, Fixture, NULL, setup, fn, teardown)
	ADD("accept-then-complete", test_accept_then_complete);
	ADD("duplicate-trace-never-reruns", test_duplicate_trace_never_reruns);
	ADD("invalid-runs-nothing", test_invalid_runs_nothing);
	ADD("timeout-and-late-completion", test_timeout_and_late_completion);
	ADD("bad-completions", test_bad_completions);
	ADD("dispatch-failure-maps-to-code", test_dispatch_failure_maps_to_code);
	ADD("read-state-wildcard", test_read_state_wildcard);
	ADD("wait", test_wait);
	ADD("shutdown-answers-and-remembers", test_shutdown_answers_and_remembers);
	ADD("crash-leaves-interrupted-result", test_crash_leaves_interrupted_result);
#undef ADD
	return g_test_run();
}
