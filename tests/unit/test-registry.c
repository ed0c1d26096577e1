/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-registry.c - the registry: descriptions, validated reports, events, reports in the seed's shapes. */
#include "config.h"

#include "hub-error.h"
#include "hub-json.h"
#include "hub-registry.h"

typedef struct {
	HubCatalog *catalog;
	HubEventBus *bus;
	HubRegistry *registry;
	GPtrArray *events; /* HubEventType as pointers */
	gint64 last_ts;
} Fixture;

static void record(const HubEvent *event, gpointer user_data)
{
	Fixture *f = user_data;

	g_ptr_array_add(f->events, GINT_TO_POINTER(event->type));
	f->last_ts = event->timestamp_ms;
}

static void setup(Fixture *f, gconstpointer data)
{
	g_autofree char *dir = g_build_filename(g_getenv("HUB_TOP_SRCDIR") ? g_getenv("HUB_TOP_SRCDIR") : ".", "data",
						"capabilities", NULL);
	g_autoptr(GError) error = NULL;

	f->catalog = hub_catalog_new();
	g_assert_cmpint(hub_catalog_load_dir(f->catalog, dir, &error), >=, 12);
	g_assert_no_error(error);
	f->bus = hub_event_bus_new();
	f->registry = hub_registry_new(f->catalog, f->bus);
	f->events = g_ptr_array_new();
	hub_event_bus_subscribe(f->bus, record, f);
}

static void teardown(Fixture *f, gconstpointer data)
{
	hub_registry_free(f->registry);
	hub_event_bus_free(f->bus);
	hub_catalog_free(f->catalog);
	g_ptr_array_unref(f->events);
}

static void add_light(Fixture *f, const char *id)
{
	g_autoptr(GError) error = NULL;
	HubDevice *draft = hub_registry_begin_device(f->registry, "virtual", id, &error);

	g_assert_no_error(error);
	draft->name = g_strdup("Light");
	g_assert_true(hub_registry_add_endpoint(f->registry, "virtual", id, "1", "Extended Color Light", &error));
	g_assert_true(hub_registry_add_capability(f->registry, "virtual", id, "1", "matter.OnOff@1.4", &error));
	g_assert_true(hub_registry_add_capability(f->registry, "virtual", id, "1", "matter.LevelControl", &error));
	g_assert_true(hub_registry_device_ready(f->registry, "virtual", id, TRUE, &error));
	g_assert_no_error(error);
}

static JsonNode *int_node(gint64 v)
{
	JsonNode *node = json_node_new(JSON_NODE_VALUE);

	json_node_set_int(node, v);
	return node;
}

static JsonNode *string_node(const char *s)
{
	JsonNode *node = json_node_new(JSON_NODE_VALUE);

	json_node_set_string(node, s);
	return node;
}

static void test_describe_and_publish(Fixture *f, gconstpointer data)
{
	HubDevice *device;

	add_light(f, "light-1");
	device = hub_registry_lookup(f->registry, "light-1");
	g_assert_nonnull(device);
	g_assert_true(device->online);
	g_assert_cmpuint(hub_registry_size(f->registry), ==, 1);
	g_assert_cmpuint(f->events->len, ==, 1);
	g_assert_cmpint(GPOINTER_TO_INT(f->events->pdata[0]), ==, HUB_EVENT_DEVICE_ADDED);
	/* Short capability ids resolve to the catalog's full id. */
	g_assert_nonnull(hub_device_lookup_capability(device, "1", "matter.LevelControl@1.4", NULL));
}

static void test_bad_descriptions(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) e1 = NULL, e2 = NULL, e3 = NULL, e4 = NULL, e5 = NULL;

	g_assert_null(hub_registry_begin_device(f->registry, "virtual", "bad id!", &e1));
	g_assert_error(e1, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT);
	g_assert_nonnull(hub_registry_begin_device(f->registry, "virtual", "dev-1", NULL));
	g_assert_true(hub_registry_add_endpoint(f->registry, "virtual", "dev-1", "1", NULL, NULL));
	g_assert_false(hub_registry_add_capability(f->registry, "virtual", "dev-1", "1", "acme.Nothing@1.0", &e2));
	g_assert_error(e2, HUB_ERROR, HUB_ERROR_NOT_FOUND);
	g_assert_false(hub_registry_add_capability(f->registry, "virtual", "dev-1", "7", "matter.OnOff@1.4", &e3));
	g_assert_error(e3, HUB_ERROR, HUB_ERROR_NOT_FOUND);
	/* A device with no capability is refused at publication. */
	g_assert_false(hub_registry_device_ready(f->registry, "virtual", "dev-1", TRUE, &e4));
	g_assert_error(e4, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT);
	g_assert_null(hub_registry_lookup(f->registry, "dev-1"));
	/* Another plugin cannot take over an id. */
	add_light(f, "light-1");
	g_assert_null(hub_registry_begin_device(f->registry, "zigbee", "light-1", &e5));
	g_assert_error(e5, HUB_ERROR, HUB_ERROR_EXISTS);
}

static void test_reports_validated(Fixture *f, gconstpointer data)
{
	g_autoptr(JsonNode) good = int_node(100);
	g_autoptr(JsonNode) too_high = int_node(300);
	g_autoptr(JsonNode) wrong_type = string_node("bright");
	g_autoptr(GError) e1 = NULL, e2 = NULL, e3 = NULL, e4 = NULL;
	HubPropertyState *state;
	gint64 ts;

	add_light(f, "light-1");
	g_ptr_array_set_size(f->events, 0);
	g_assert_true(hub_registry_report_property(f->registry, "virtual", "light-1", "1", "matter.LevelControl@1.4",
						   "CurrentLevel", good, FALSE, NULL));
	g_assert_cmpuint(f->events->len, ==, 1);
	g_assert_cmpint(GPOINTER_TO_INT(f->events->pdata[0]), ==, HUB_EVENT_PROPERTY_CHANGED);
	state = hub_capability_find_property(
		hub_device_lookup_capability(hub_registry_lookup(f->registry, "light-1"), "1", "matter.LevelControl@1.4",
					     NULL),
		"CurrentLevel");
	ts = state->last_changed_ms;
	g_assert_cmpint(ts, >, 0);

	g_assert_false(hub_registry_report_property(f->registry, "virtual", "light-1", "1", "matter.LevelControl@1.4",
						    "CurrentLevel", too_high, FALSE, &e1));
	g_assert_error(e1, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT);
	g_assert_false(hub_registry_report_property(f->registry, "virtual", "light-1", "1", "matter.LevelControl@1.4",
						    "CurrentLevel", wrong_type, FALSE, &e2));
	g_assert_error(e2, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT);
	g_assert_false(hub_registry_report_property(f->registry, "virtual", "light-1", "1", "matter.LevelControl@1.4",
						    "Brightness", good, FALSE, &e3));
	g_assert_error(e3, HUB_ERROR, HUB_ERROR_NOT_FOUND);
	g_assert_false(hub_registry_report_property(f->registry, "zigbee", "light-1", "1", "matter.LevelControl@1.4",
						    "CurrentLevel", good, FALSE, &e4));
	g_assert_error(e4, HUB_ERROR, HUB_ERROR_NOT_FOUND);
	/* Nothing invalid was stored; the same value again is no change. */
	g_assert_cmpint(state->kind, ==, HUB_STATE_INT);
	g_assert_cmpint(state->v.i, ==, 100);
	g_usleep(2000);
	g_assert_true(hub_registry_report_property(f->registry, "virtual", "light-1", "1", "matter.LevelControl@1.4",
						   "CurrentLevel", good, FALSE, NULL));
	g_assert_cmpint(state->last_changed_ms, ==, ts);
	g_assert_cmpuint(f->events->len, ==, 1);
}

static void test_redescribe_keeps_state(Fixture *f, gconstpointer data)
{
	g_autoptr(JsonNode) level = int_node(55);
	HubPropertyState *state;

	add_light(f, "light-1");
	g_assert_true(hub_registry_report_property(f->registry, "virtual", "light-1", "1", "matter.LevelControl@1.4",
						   "CurrentLevel", level, FALSE, NULL));
	g_ptr_array_set_size(f->events, 0);
	add_light(f, "light-1");
	g_assert_cmpint(GPOINTER_TO_INT(f->events->pdata[0]), ==, HUB_EVENT_DEVICE_UPDATED);
	state = hub_capability_find_property(
		hub_device_lookup_capability(hub_registry_lookup(f->registry, "light-1"), "1", "matter.LevelControl@1.4",
					     NULL),
		"CurrentLevel");
	g_assert_cmpint(state->kind, ==, HUB_STATE_INT);
	g_assert_cmpint(state->v.i, ==, 55);
}

static void test_events_online_health_remove(Fixture *f, gconstpointer data)
{
	g_autoptr(JsonNode) params = json_node_new(JSON_NODE_OBJECT);
	g_autoptr(JsonNode) bad_params = json_node_new(JSON_NODE_OBJECT);
	g_autoptr(JsonNode) battery = int_node(80);
	g_autoptr(GError) e1 = NULL, e2 = NULL;
	JsonObject *obj = json_object_new();
	JsonObject *bad = json_object_new();
	HubDevice *draft = hub_registry_begin_device(f->registry, "virtual", "door-1", NULL);

	g_assert_nonnull(draft);
	g_assert_true(hub_registry_add_endpoint(f->registry, "virtual", "door-1", "1", "Contact Sensor", NULL));
	g_assert_true(hub_registry_add_capability(f->registry, "virtual", "door-1", "1", "matter.BooleanState@1.4", NULL));
	g_assert_true(hub_registry_device_ready(f->registry, "virtual", "door-1", TRUE, NULL));
	json_object_set_boolean_member(obj, "StateValue", TRUE);
	json_node_take_object(params, obj);
	json_object_set_string_member(bad, "StateValue", "open");
	json_node_take_object(bad_params, bad);
	g_ptr_array_set_size(f->events, 0);
	g_assert_true(hub_registry_report_event(f->registry, "virtual", "door-1", "1", "matter.BooleanState@1.4",
						"StateChange", params, NULL));
	g_assert_false(hub_registry_report_event(f->registry, "virtual", "door-1", "1", "matter.BooleanState@1.4",
						 "StateChange", bad_params, &e1));
	g_assert_error(e1, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT);
	g_assert_false(hub_registry_report_event(f->registry, "virtual", "door-1", "1", "matter.BooleanState@1.4",
						 "Exploded", params, &e2));
	g_assert_nonnull(e2);
	g_assert_true(hub_registry_set_online(f->registry, "virtual", "door-1", FALSE, NULL));
	g_assert_true(hub_registry_set_online(f->registry, "virtual", "door-1", FALSE, NULL));
	g_assert_true(hub_registry_report_health(f->registry, "virtual", "door-1", "battery", battery, NULL));
	g_assert_true(hub_registry_remove_device(f->registry, "virtual", "door-1", NULL));
	g_assert_cmpuint(f->events->len, ==, 4);
	g_assert_cmpint(GPOINTER_TO_INT(f->events->pdata[0]), ==, HUB_EVENT_DEVICE_EVENT);
	g_assert_cmpint(GPOINTER_TO_INT(f->events->pdata[1]), ==, HUB_EVENT_ONLINE_CHANGED);
	g_assert_cmpint(GPOINTER_TO_INT(f->events->pdata[2]), ==, HUB_EVENT_HEALTH_CHANGED);
	g_assert_cmpint(GPOINTER_TO_INT(f->events->pdata[3]), ==, HUB_EVENT_DEVICE_REMOVED);
	g_assert_null(hub_registry_lookup(f->registry, "door-1"));
}

static void test_reports_in_seed_shapes(Fixture *f, gconstpointer data)
{
	g_autoptr(JsonNode) on = json_node_new(JSON_NODE_VALUE);
	g_autoptr(JsonNode) caps = NULL;
	g_autoptr(JsonNode) state = NULL;
	g_autofree char *caps_text = NULL;
	g_autofree char *state_text = NULL;
	JsonObject *ep;
	JsonObject *prop;

	add_light(f, "light-1");
	json_node_set_boolean(on, TRUE);
	g_assert_true(hub_registry_report_property(f->registry, "virtual", "light-1", "1", "matter.OnOff@1.4", "OnOff",
						   on, FALSE, NULL));
	caps = hub_device_build_capability_report(hub_registry_lookup(f->registry, "light-1"));
	caps_text = hub_json_to_string(caps);
	ep = json_array_get_object_element(json_object_get_array_member(json_node_get_object(caps), "endpoints"), 0);
	g_assert_cmpstr(json_object_get_string_member(ep, "id"), ==, "1");
	g_assert_cmpstr(json_array_get_string_element(json_object_get_array_member(ep, "deviceTypes"), 0), ==,
			"Extended Color Light");
	g_assert_nonnull(strstr(caps_text, "\"id\":\"matter.OnOff@1.4\",\"name\":\"On/Off\",\"version\":\"1.4\""));
	g_assert_nonnull(strstr(caps_text, "\"actions\":[\"Off\",\"On\",\"Toggle\"]"));

	state = hub_device_build_state_report(hub_registry_lookup(f->registry, "light-1"), "1", "matter.OnOff", "OnOff");
	state_text = hub_json_to_string(state);
	ep = json_array_get_object_element(json_object_get_array_member(json_node_get_object(state), "endpoints"), 0);
	g_assert_cmpstr(json_object_get_string_member(ep, "endpointId"), ==, "1");
	prop = json_array_get_object_element(
		json_object_get_array_member(
			json_array_get_object_element(json_object_get_array_member(ep, "capabilities"), 0), "properties"),
		0);
	g_assert_cmpstr(json_object_get_string_member(prop, "name"), ==, "OnOff");
	g_assert_true(json_object_get_boolean_member(json_object_get_object_member(prop, "value"), "propertyValue"));
	/* ISO 8601 UTC with milliseconds. */
	g_assert_true(g_regex_match_simple("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z$",
					   json_object_get_string_member(json_object_get_object_member(prop, "value"),
									 "lastChangedAt"),
					   0, 0));
}

static void test_not_reportable_only_when_read(Fixture *f, gconstpointer data)
{
	g_autofree char *extra = g_build_filename(g_getenv("HUB_TOP_SRCDIR") ? g_getenv("HUB_TOP_SRCDIR") : ".", "tests",
						  "data", "capabilities-extra", "acme.Meter@1.0.json", NULL);
	g_autoptr(JsonNode) count = int_node(7);
	g_autoptr(GError) error = NULL;

	g_assert_true(hub_catalog_load_file(f->catalog, extra, &error));
	g_assert_nonnull(hub_registry_begin_device(f->registry, "virtual", "meter-1", NULL));
	g_assert_true(hub_registry_add_endpoint(f->registry, "virtual", "meter-1", "1", NULL, NULL));
	g_assert_true(hub_registry_add_capability(f->registry, "virtual", "meter-1", "1", "acme.Meter@1.0", NULL));
	g_assert_true(hub_registry_device_ready(f->registry, "virtual", "meter-1", TRUE, NULL));
	/* Reportable: fine any time. Not reportable: only as the answer to a read. */
	g_assert_true(hub_registry_report_property(f->registry, "virtual", "meter-1", "1", "acme.Meter@1.0", "Reading",
						   count, FALSE, NULL));
	g_assert_false(hub_registry_report_property(f->registry, "virtual", "meter-1", "1", "acme.Meter@1.0", "Counter",
						    count, FALSE, &error));
	g_assert_error(error, HUB_ERROR, HUB_ERROR_NOT_SUPPORTED);
	g_assert_nonnull(strstr(error->message, "not reportable"));
	g_assert_true(hub_registry_report_property(f->registry, "virtual", "meter-1", "1", "acme.Meter@1.0", "Counter",
						   count, TRUE, NULL));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add("/hub/registry/" path, Fixture, NULL, setup, fn, teardown)
	ADD("describe-and-publish", test_describe_and_publish);
	ADD("bad-descriptions", test_bad_descriptions);
	ADD("reports-validated", test_reports_validated);
	ADD("redescribe-keeps-state", test_redescribe_keeps_state);
	ADD("events-online-health-remove", test_events_online_health_remove);
	ADD("reports-in-seed-shapes", test_reports_in_seed_shapes);
	ADD("not-reportable-only-when-read", test_not_reportable_only_when_read);
#undef ADD
	return g_test_run();
}
