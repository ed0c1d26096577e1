/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-cloud-link - the real hubd, onboarded by the aws-iot transport to
 * tests/cloudsim, talking the hub contract (doc/cloud-contract.md): commands
 * from the cloud reach virtual devices and are answered (ACK, final
 * response, state with the same traceId), a repeated traceId runs once,
 * hostile downlink payloads are refused and the daemon keeps serving; state,
 * events and capability reports go up; the outbox keeps every report while
 * the broker is down, also across a kill -9, and applies its drop policy
 * when full.
 */
#include "config.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "hub-cloudsim.h"
#include "hub-test-broker.h"
#include "hub-test-env.h"

#define SERIAL "HUB-LINK-0001"
#define UPC "012345678905"
#define TIMEOUT_MS 20000
#define ACK_BUDGET_US (2 * G_USEC_PER_SEC)

#define PLUGS_CONF                                                                                         \
	"[device plug-1]\ntype=plug\nlatency-ms=20\n\n"                                                    \
	"[device lamp-1]\ntype=dimmable-light\nlatency-ms=20\n"

typedef struct {
	HubTestEnv *env;
	HubCloudsim *sim;
	const HubCloudsimThing *thing;
	char *identity_path;
	const char *devices;
	char *extra; /* more hubd.conf */
} Fixture;

static void write_config(Fixture *f)
{
	g_autofree char *extra = g_strdup_printf(
		"plugins=virtual,file,aws-iot\nserial-number=" SERIAL "\n\n"
		"[certificates]\nclaim=file\npermanent=file\nroot-ca=file\n\n"
		"[plugin.file]\nroot-ca=%s\n\n"
		"[cloud]\ntransport=aws-iot\nidentity=%s\nport=%u\nbackoff-base-ms=50\nbackoff-cap-ms=300\n"
		"connect-interval-ms=20\nconnect-timeout-ms=5000\n\n"
		"[plugin.aws-iot]\nretry-base-ms=50\nretry-cap-ms=300\nresponse-timeout-ms=3000\n\n%s",
		hub_cloudsim_ca_path(f->sim), f->identity_path, hub_cloudsim_port(f->sim), f->extra ? f->extra : "");

	hub_test_env_write_config(f->env, extra, f->devices);
}

static void write_identity(Fixture *f)
{
	g_autofree char *text = g_strdup_printf(
		"{\"ro\": {\"iot_provisioning_method\": \"FLEET_PROVISIONING\", \"iot_claim_cert_path\": \"%s\","
		" \"iot_claim_pk_path\": \"%s\", \"fp_template_name\": \"" HUB_CLOUDSIM_DEFAULT_TEMPLATE "\","
		" \"endpoint_url\": \"127.0.0.1\", \"SN\": \"" SERIAL "\", \"UPC\": \"" UPC "\"},"
		" \"rw\": {\"iot_provisioning_state\": \"NOT_PROVISIONED\"}}",
		hub_cloudsim_claim_cert_path(f->sim), hub_cloudsim_claim_key_path(f->sim));

	g_assert_true(g_file_set_contents(f->identity_path, text, -1, NULL));
}

static Fixture *fixture_new(const char *devices, const char *extra)
{
	Fixture *f = g_new0(Fixture, 1);
	g_autofree char *cloud_dir = NULL;
	g_autoptr(GError) error = NULL;

	f->devices = devices;
	f->extra = g_strdup(extra);
	f->env = hub_test_env_new();
	cloud_dir = hub_test_env_path(f->env, "cloud");
	f->sim = hub_cloudsim_start(cloud_dir, &error);
	g_assert_no_error(error);
	f->thing = hub_cloudsim_add_managed_thing(f->sim, SERIAL, UPC);
	f->identity_path = hub_test_env_path(f->env, "iotmi_config.json");
	hub_test_env_install_plugin(f->env, "certhandlers/file/.libs/certstore-file.so", "certstore-file.so", 0755);
	hub_test_env_install_plugin(f->env, "plugins/transport-aws-iot/.libs/aws-iot.so", "aws-iot.so", 0755);
	write_config(f);
	write_identity(f);
	return f;
}

static void fixture_free(Fixture *f)
{
	hub_test_env_stop_hubd(f->env);
	hub_cloudsim_free(f->sim);
	hub_test_env_free(f->env);
	g_free(f->identity_path);
	g_free(f->extra);
	g_free(f);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Fixture, fixture_free)

/* ---- reading what the hub published ---- */

static const char *string_or_null(JsonObject *object, const char *name)
{
	return object ? json_object_get_string_member_with_default(object, name, NULL) : NULL;
}

static JsonObject *payload_of(JsonObject *envelope)
{
	return json_object_get_object_member(envelope, "payload");
}

typedef struct {
	Fixture *f;
	const char *type;
	const char *trace_id; /* NULL: any; "": none */
	const char *device_id;
	guint count;          /* matches found */
	JsonObject *first;
	gint64 first_received_us;
} Match;

static void match_clear(Match *m)
{
	g_clear_pointer(&m->first, json_object_unref);
	m->count = 0;
}

/* Every recorded envelope of @m's type (and trace id, device): counted, the first kept. */
static gboolean scan(gpointer data)
{
	Match *m = data;
	g_autoptr(GPtrArray) messages = hub_cloudsim_uplink(m->f->sim, 0);

	match_clear(m);
	for (guint i = 0; i < messages->len; i++) {
		HubCloudsimMessage *message = g_ptr_array_index(messages, i);
		g_autoptr(JsonObject) envelope = hub_test_parse_object(message->payload);
		JsonObject *payload = envelope ? payload_of(envelope) : NULL;
		const char *trace = string_or_null(payload, "traceId");

		if (!payload || g_strcmp0(string_or_null(envelope, "messageType"), m->type) != 0)
			continue;
		if (m->trace_id && (*m->trace_id ? g_strcmp0(trace, m->trace_id) != 0 : trace != NULL))
			continue;
		if (m->device_id && g_strcmp0(string_or_null(payload, "deviceId"), m->device_id) != 0)
			continue;
		if (m->count++ == 0) {
			m->first = g_steal_pointer(&envelope);
			m->first_received_us = message->received_us;
		}
	}
	return m->count > 0;
}

/* The payload of the first @type message for @trace_id (NULL: any); fails the test after TIMEOUT_MS. */
static JsonObject *wait_message(Fixture *f, const char *type, const char *trace_id, const char *device_id,
				gint64 *received_us)
{
	Match m = { f, type, trace_id, device_id, 0, NULL, 0 };
	JsonObject *payload;

	if (!hub_test_wait_until(scan, &m, TIMEOUT_MS)) {
		g_autofree char *log = hub_test_env_read_log(f->env);

		g_error("no %s message for trace %s within %d ms; hubd's log:\n%s", type, trace_id ? trace_id : "(any)",
			TIMEOUT_MS, log);
	}
	if (received_us)
		*received_us = m.first_received_us;
	payload = json_object_ref(payload_of(m.first));
	match_clear(&m);
	return payload;
}

static guint count_messages(Fixture *f, const char *type, const char *trace_id, const char *device_id)
{
	Match m = { f, type, trace_id, device_id, 0, NULL, 0 };
	guint n;

	scan(&m);
	n = m.count;
	match_clear(&m);
	return n;
}

/* ---- driving the hub ---- */

static JsonObject *cloud_status(Fixture *f)
{
	return hub_test_env_cloud_status(f->env);
}

static JsonObject *outbox_status(Fixture *f)
{
	g_autoptr(JsonObject) status = cloud_status(f);

	return json_object_ref(json_object_get_object_member(status, "outbox"));
}

static gboolean is_connected(gpointer data)
{
	g_autoptr(JsonObject) status = cloud_status(data);
	JsonObject *connection = json_object_get_object_member(status, "connection");

	return g_strcmp0(string_or_null(status, "provisioningState"), "PROVISIONED") == 0 &&
	       g_strcmp0(string_or_null(connection, "state"), "connected") == 0;
}

/* Starts hubd and waits until it is onboarded, its uplink connected and
 * its subscriptions in place: the broker handles a client's packets in
 * order, so once something it published after connecting has arrived, its
 * SUBSCRIBEs were handled and a command cannot be lost. Every fixture has
 * devices, whose full states go up on connect. */
static void start_connected(Fixture *f)
{
	guint before = hub_cloudsim_uplink_count(f->sim);

	hub_test_env_start_hubd(f->env);
	if (!hub_test_wait_until(is_connected, f, TIMEOUT_MS) ||
	    !hub_cloudsim_wait_uplink(f->sim, before + 1, TIMEOUT_MS)) {
		g_autofree char *log = hub_test_env_read_log(f->env);

		g_error("hubd did not connect within %d ms; its log:\n%s", TIMEOUT_MS, log);
	}
}

static char *control_topic(Fixture *f, const char *channel)
{
	return g_strdup_printf("south/%s/%s", f->thing->thing_name, channel);
}

static gint64 send_to(Fixture *f, const char *channel, const char *payload, gsize len)
{
	g_autofree char *topic = control_topic(f, channel);
	gint64 sent = g_get_monotonic_time();

	g_assert_true(hub_cloudsim_send(f->sim, topic, payload, len));
	return sent;
}

static gint64 send_command(Fixture *f, const char *json)
{
	return send_to(f, "control", json, strlen(json));
}

static char *toggle_command(const char *trace_id, const char *device_id)
{
	return g_strdup_printf("{\"traceId\": \"%s\", \"deviceId\": \"%s\", \"endpoints\": [{\"endpointId\": \"1\","
			       " \"capabilities\": [{\"id\": \"matter.OnOff@1.4\", \"name\": \"On/Off\", \"version\": \"1\","
			       " \"actions\": [{\"name\": \"Toggle\", \"parameters\": {}}]}]}]}",
			       trace_id, device_id);
}

static gboolean device_on_off(Fixture *f, const char *device_id)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *path = hub_test_device_path(device_id);
	g_autoptr(GVariant) reply = hub_test_call(f->env, path, "org.hubd.Hub1.Device", "GetProperty",
						  g_variant_new("(sss)", "1", "matter.OnOff@1.4", "OnOff"), "(vx)", &error);
	g_autoptr(GVariant) value = NULL;
	gint64 changed;

	g_assert_no_error(error);
	g_variant_get(reply, "(vx)", &value, &changed);
	return g_variant_get_boolean(value);
}

/* The value of @property in the first capability of the first endpoint of
 * a state-shaped object ({"endpoints":[{"capabilities":[{"properties":[...]}]}]}). */
static JsonNode *property_in(JsonObject *with_endpoints, const char *property)
{
	JsonArray *endpoints = json_object_get_array_member(with_endpoints, "endpoints");

	for (guint e = 0; endpoints && e < json_array_get_length(endpoints); e++) {
		JsonArray *caps = json_object_get_array_member(json_array_get_object_element(endpoints, e), "capabilities");

		for (guint c = 0; caps && c < json_array_get_length(caps); c++) {
			JsonObject *cap = json_array_get_object_element(caps, c);
			JsonArray *props = json_object_has_member(cap, "properties")
						   ? json_object_get_array_member(cap, "properties")
						   : NULL;

			for (guint p = 0; props && p < json_array_get_length(props); p++) {
				JsonObject *prop = json_array_get_object_element(props, p);

				if (g_strcmp0(string_or_null(prop, "name"), property) == 0)
					return json_object_get_member(json_object_get_object_member(prop, "value"),
								      "propertyValue");
			}
		}
	}
	return NULL;
}

/* ---- commands ---- */

static void test_command_round_trip(void)
{
	g_autoptr(Fixture) f = fixture_new(PLUGS_CONF, NULL);
	g_autofree char *command = toggle_command("trace-toggle-1", "plug-1");
	g_autoptr(JsonObject) ack = NULL, response = NULL, state = NULL, again = NULL;
	g_autoptr(GPtrArray) messages = NULL;
	JsonNode *on_off;
	gint64 sent, acked;

	start_connected(f);
	g_assert_false(device_on_off(f, "plug-1"));
	sent = send_command(f, command);

	ack = wait_message(f, "COMMAND_ACK", "trace-toggle-1", NULL, &acked);
	g_assert_cmpstr(string_or_null(ack, "status"), ==, "ACCEPTED");
	g_assert_cmpint(json_object_get_int_member(ack, "responseCode"), ==, 202);
	g_assert_cmpstr(string_or_null(ack, "deviceId"), ==, "plug-1");
	g_assert_cmpint(acked - sent, <, ACK_BUDGET_US);
	g_test_message("ACK %.1f ms after the command", (acked - sent) / 1000.0);

	/* The final response carries the property the device confirmed. */
	response = wait_message(f, "DEVICE_COMMAND_RESPONSE", "trace-toggle-1", NULL, NULL);
	g_assert_cmpstr(string_or_null(response, "status"), ==, "completed");
	g_assert_cmpint(json_object_get_int_member(response, "responseCode"), ==, 200);
	on_off = property_in(response, "OnOff");
	g_assert_nonnull(on_off);
	g_assert_true(json_node_get_boolean(on_off));
	/* So does the state report, with the same traceId. */
	state = wait_message(f, "DEVICE_STATE", "trace-toggle-1", "plug-1", NULL);
	on_off = property_in(json_object_get_object_member(state, "addedStates"), "OnOff");
	g_assert_nonnull(on_off);
	g_assert_true(json_node_get_boolean(on_off));
	g_assert_true(device_on_off(f, "plug-1"));

	/* Delivered again: acknowledged as a duplicate, answered with the stored
	 * result, and not toggled back. */
	send_command(f, command);
	again = wait_message(f, "COMMAND_ACK", "trace-toggle-1", NULL, NULL);
	while (count_messages(f, "COMMAND_ACK", "trace-toggle-1", NULL) < 2)
		g_usleep(10 * 1000);
	while (count_messages(f, "DEVICE_COMMAND_RESPONSE", "trace-toggle-1", NULL) < 2)
		g_usleep(10 * 1000);
	messages = hub_cloudsim_uplink(f->sim, 0);
	for (guint i = messages->len, n = 0; i-- > 0 && n == 0;) {
		g_autoptr(JsonObject) envelope = hub_test_parse_object(((HubCloudsimMessage *)g_ptr_array_index(messages, i))->payload);

		if (g_strcmp0(string_or_null(envelope, "messageType"), "COMMAND_ACK") == 0) {
			g_assert_cmpstr(string_or_null(payload_of(envelope), "status"), ==, "DUPLICATE");
			n++;
		}
	}
	g_usleep(300 * 1000);
	g_assert_true(device_on_off(f, "plug-1"));
	g_assert_cmpuint(count_messages(f, "DEVICE_STATE", "trace-toggle-1", "plug-1"), ==, 1);
}

/* Several capabilities and actions in one command: a result for each. */
static void test_command_batch(void)
{
	g_autoptr(Fixture) f = fixture_new(PLUGS_CONF, NULL);
	const char *command =
		"{\"traceId\": \"trace-batch\", \"deviceId\": \"lamp-1\", \"Endpoints\": [{\"endpointId\": \"1\","
		" \"capabilities\": ["
		"  {\"id\": \"matter.OnOff@1.4\", \"actions\": [{\"name\": \"On\", \"actionTraceId\": \"a-on\"}]},"
		"  {\"id\": \"matter.LevelControl@1.4\", \"actions\": [{\"name\": \"MoveToLevel\", \"actionTraceId\": \"a-level\","
		"   \"parameters\": {\"Level\": 77}}, {\"name\": \"ReadState\", \"actionTraceId\": \"a-read\","
		"   \"parameters\": {\"propertiesToRead\": [\"CurrentLevel\"]}}]}]}]}";
	g_autoptr(JsonObject) response = NULL;
	JsonArray *caps;
	guint actions = 0;

	start_connected(f);
	send_command(f, command);
	response = wait_message(f, "DEVICE_COMMAND_RESPONSE", "trace-batch", NULL, NULL);
	g_assert_cmpint(json_object_get_int_member(response, "responseCode"), ==, 200);
	caps = json_object_get_array_member(
		json_array_get_object_element(json_object_get_array_member(response, "endpoints"), 0), "capabilities");
	for (guint c = 0; c < json_array_get_length(caps); c++) {
		JsonArray *acts = json_object_get_array_member(json_array_get_object_element(caps, c), "actions");

		for (guint a = 0; a < json_array_get_length(acts); a++) {
			JsonObject *act = json_array_get_object_element(acts, a);

			g_assert_nonnull(string_or_null(act, "actionTraceId"));
			g_assert_cmpint(json_object_get_int_member(act, "responseCode"), ==, 200);
			actions++;
		}
	}
	g_assert_cmpuint(actions, ==, 3);
	g_assert_cmpint(json_node_get_int(property_in(response, "CurrentLevel")), ==, 77);
	g_assert_true(json_node_get_boolean(property_in(response, "OnOff")));
}

typedef struct {
	const char *name;
	const char *payload; /* NULL: built by the test */
	const char *trace_id;
	gint code;
	const char *error_code;
} BadCase;

static JsonObject *wait_refusal(Fixture *f, const char *type, const char *trace_id, guint before)
{
	g_autoptr(JsonObject) payload = NULL;
	JsonObject *found = NULL;
	gint64 deadline = g_get_monotonic_time() + TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;

	/* The newest refusal after @before messages. */
	while (!found && g_get_monotonic_time() < deadline) {
		g_autoptr(GPtrArray) messages = hub_cloudsim_uplink(f->sim, before);

		for (guint i = 0; i < messages->len && !found; i++) {
			g_autoptr(JsonObject) envelope =
				hub_test_parse_object(((HubCloudsimMessage *)g_ptr_array_index(messages, i))->payload);
			JsonObject *p = envelope ? payload_of(envelope) : NULL;

			if (p && g_strcmp0(string_or_null(envelope, "messageType"), type) == 0 &&
			    g_strcmp0(string_or_null(p, "status"), "REJECTED") == 0 &&
			    g_strcmp0(string_or_null(p, "traceId"), trace_id) == 0)
				found = json_object_ref(p);
		}
		if (!found)
			g_usleep(10 * 1000);
	}
	if (!found) {
		g_autofree char *log = hub_test_env_read_log(f->env);

		g_error("no refusal (%s) for trace %s; hubd's log:\n%s", type, trace_id ? trace_id : "(none)", log);
	}
	return found;
}

/* Malformed and hostile commands: each is refused with a code and a
 * message, nothing runs, and the hub keeps serving. */
static void test_command_bad_input(void)
{
	g_autoptr(Fixture) f = fixture_new(PLUGS_CONF, NULL);
	g_autofree char *huge = NULL;
	g_autofree char *deep = NULL;
	g_autofree char *other_hub = NULL;
	g_autofree char *after = toggle_command("trace-after", "plug-1");
	g_autofree char *log = NULL;
	const BadCase cases[] = {
		{ "not JSON", "{\"traceId\": \"t-bad-json\", ", NULL, 400, "INVALID_JSON" },
		{ "not an object", "[1, 2, 3]", NULL, 400, "INVALID_REQUEST" },
		{ "traceId a number", "{\"traceId\": 7, \"deviceId\": \"plug-1\"}", NULL, 400, "INVALID_REQUEST" },
		{ "unknown device",
		  "{\"traceId\": \"t-unknown-device\", \"deviceId\": \"nope\", \"endpoints\": [{\"endpointId\": \"1\","
		  " \"capabilities\": [{\"id\": \"matter.OnOff@1.4\", \"actions\": [{\"name\": \"On\"}]}]}]}",
		  "t-unknown-device", 404, "NOT_FOUND" },
		{ "unknown member", "{\"traceId\": \"t-unknown-member\", \"deviceId\": \"plug-1\", \"sneaky\": true}",
		  "t-unknown-member", 400, "INVALID_REQUEST" },
		{ "deviceId an array", "{\"traceId\": \"t-wrong-type\", \"deviceId\": [\"plug-1\"]}", "t-wrong-type", 400,
		  "INVALID_REQUEST" },
		{ "invalid parameters",
		  "{\"traceId\": \"t-bad-params\", \"deviceId\": \"lamp-1\", \"endpoints\": [{\"endpointId\": \"1\","
		  " \"capabilities\": [{\"id\": \"matter.LevelControl@1.4\", \"actions\": [{\"name\": \"MoveToLevel\","
		  " \"parameters\": {\"Level\": \"bright\"}}]}]}]}",
		  "t-bad-params", 400, "INVALID_REQUEST" },
		{ "unknown action",
		  "{\"traceId\": \"t-bad-action\", \"deviceId\": \"plug-1\", \"endpoints\": [{\"endpointId\": \"1\","
		  " \"capabilities\": [{\"id\": \"matter.OnOff@1.4\", \"actions\": [{\"name\": \"Explode\"}]}]}]}",
		  "t-bad-action", 404, "NOT_FOUND" },
		{ "another hub's client id", "{\"traceId\": \"t-other-hub\", \"clientId\": \"hub-elsewhere\", \"deviceId\": \"plug-1\"}",
		  "t-other-hub", 403, "WRONG_HUB" },
		{ "unknown operation", "{\"traceId\": \"t-op\", \"operation\": \"RebootEverything\"}", "t-op", 400,
		  "UNKNOWN_OPERATION" },
		{ "managedThingId addressing", "{\"traceId\": \"t-mt\", \"managedThingId\": \"mt-1\"}", "t-mt", 400,
		  "INVALID_REQUEST" },
		{ "DeleteManagedThing for another hub",
		  "{\"operation\": \"DeleteManagedThing\", \"managedThingId\": \"mt-someone-else\"}", NULL, 403,
		  "WRONG_HUB" },
	};
	GString *nested = g_string_new("{\"traceId\": \"t-deep\", \"deviceId\": \"plug-1\", \"x\": ");
	g_autoptr(JsonObject) refusal = NULL;

	start_connected(f);
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(JsonObject) answer = NULL;
		guint before = hub_cloudsim_uplink_count(f->sim);
		JsonObject *error;

		g_test_message("case: %s", cases[i].name);
		send_command(f, cases[i].payload);
		answer = wait_refusal(f, "COMMAND_ACK", cases[i].trace_id, before);
		g_assert_cmpint(json_object_get_int_member(answer, "responseCode"), ==, cases[i].code);
		error = json_array_get_object_element(json_object_get_array_member(answer, "errors"), 0);
		g_assert_cmpstr(string_or_null(error, "code"), ==, cases[i].error_code);
		g_assert_nonnull(string_or_null(error, "message"));
		g_assert_cmpuint(strlen(string_or_null(error, "message")), >, 0);
	}

	/* 1 MB: refused without being parsed. */
	huge = g_strnfill(1024 * 1024, ' ');
	memcpy(huge, "{\"traceId\": \"t-huge\"", 20);
	{
		guint before = hub_cloudsim_uplink_count(f->sim);

		send_to(f, "control", huge, strlen(huge));
		refusal = wait_refusal(f, "COMMAND_ACK", NULL, before);
		g_assert_cmpint(json_object_get_int_member(refusal, "responseCode"), ==, 413);
		g_clear_pointer(&refusal, json_object_unref);
	}
	/* 10000 levels of nesting: refused, the daemon does not recurse into it. */
	for (guint i = 0; i < 10000; i++)
		g_string_append_c(nested, '[');
	for (guint i = 0; i < 10000; i++)
		g_string_append_c(nested, ']');
	g_string_append_c(nested, '}');
	deep = g_string_free(nested, FALSE);
	{
		guint before = hub_cloudsim_uplink_count(f->sim);

		send_to(f, "control", deep, strlen(deep));
		refusal = wait_refusal(f, "COMMAND_ACK", NULL, before);
		g_assert_cmpint(json_object_get_int_member(refusal, "responseCode"), ==, 400);
		g_clear_pointer(&refusal, json_object_unref);
	}
	/* Another hub's topic never reaches this hub (the ACL and the subscription). */
	other_hub = toggle_command("t-other-topic", "plug-1");
	g_assert_true(hub_cloudsim_send(f->sim, "south/hub-elsewhere/control", other_hub, strlen(other_hub)));

	/* Setup tasks: checked and answered "not supported yet". */
	{
		const char *setup = "{\"traceId\": \"t-setup\", \"operation\": \"StartDeviceDiscovery\"}";
		guint before = hub_cloudsim_uplink_count(f->sim);

		send_to(f, "setup", setup, strlen(setup));
		refusal = wait_refusal(f, "SETUP_RESPONSE", "t-setup", before);
		g_assert_cmpint(json_object_get_int_member(refusal, "responseCode"), ==, 501);
		g_clear_pointer(&refusal, json_object_unref);
		before = hub_cloudsim_uplink_count(f->sim);
		send_to(f, "setup", "{]", 2);
		refusal = wait_refusal(f, "SETUP_RESPONSE", NULL, before);
		g_assert_cmpint(json_object_get_int_member(refusal, "responseCode"), ==, 400);
	}

	/* Still serving; nothing of the above ran. */
	send_command(f, after);
	g_clear_pointer(&refusal, json_object_unref);
	refusal = wait_message(f, "DEVICE_COMMAND_RESPONSE", "trace-after", NULL, NULL);
	g_assert_true(device_on_off(f, "plug-1"));
	g_assert_cmpuint(count_messages(f, "DEVICE_STATE", "t-other-topic", NULL), ==, 0);
	g_assert_cmpuint(count_messages(f, "COMMAND_ACK", "t-other-topic", NULL), ==, 0);
	g_assert_cmpuint(count_messages(f, "DEVICE_COMMAND_RESPONSE", NULL, NULL), ==, 1);
	log = hub_test_env_read_log(f->env);
	g_assert_nonnull(strstr(log, "Refused a command from the cloud"));
}

/* ---- reports ---- */

#define REPORTS_CONF                                                                                       \
	"[device plug-1]\ntype=plug\nlatency-ms=20\n\n"                                                    \
	"[device temp-1]\ntype=temp-humidity-sensor\nreport-interval-ms=100\n"

static void test_reports(void)
{
	g_autoptr(Fixture) f = fixture_new(REPORTS_CONF, NULL);
	g_autoptr(JsonObject) report = NULL, full = NULL, spontaneous = NULL, local = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GError) error = NULL;
	const char *trace_id;
	JsonArray *endpoints;

	start_connected(f);
	/* On connect: what each device can do, and its whole state. */
	report = wait_message(f, "CAPABILITY_REPORT", NULL, "temp-1", NULL);
	endpoints = json_object_get_array_member(json_object_get_object_member(report, "capabilityReport"), "endpoints");
	g_assert_cmpuint(json_array_get_length(endpoints), ==, 2);
	full = wait_message(f, "DEVICE_STATE", NULL, "plug-1", NULL);
	g_assert_true(json_object_get_boolean_member(full, "full"));
	g_assert_nonnull(property_in(json_object_get_object_member(full, "addedStates"), "OnOff"));

	/* A sensor's own changes: no traceId. */
	while (count_messages(f, "DEVICE_STATE", "", "temp-1") < 3)
		g_usleep(20 * 1000);
	spontaneous = wait_message(f, "DEVICE_STATE", "", "temp-1", NULL);

	/* A local app's command: its state change carries the local trace id;
	 * only the cloud's own commands get a DEVICE_COMMAND_RESPONSE. */
	reply = hub_test_call(f->env, "/org/hubd/Hub1", "org.hubd.Hub1.Manager", "SendCommand",
			      g_variant_new("(s)", "{\"deviceId\": \"plug-1\", \"endpoints\": [{\"endpointId\": \"1\","
						   " \"capabilities\": [{\"id\": \"matter.OnOff@1.4\", \"actions\": "
						   "[{\"name\": \"On\"}]}]}]}"),
			      "(s)", &error);
	g_assert_no_error(error);
	g_variant_get(reply, "(&s)", &trace_id);
	local = wait_message(f, "DEVICE_STATE", trace_id, "plug-1", NULL);
	g_assert_false(json_object_get_boolean_member(local, "full"));
	g_usleep(200 * 1000);
	g_assert_cmpuint(count_messages(f, "DEVICE_COMMAND_RESPONSE", trace_id, NULL), ==, 0);

	/* A restart sends the state again, not the unchanged capability reports. */
	hub_test_env_stop_hubd(f->env);
	{
		guint reports = count_messages(f, "CAPABILITY_REPORT", NULL, NULL);
		guint fulls = count_messages(f, "DEVICE_STATE", NULL, "plug-1");

		start_connected(f);
		while (count_messages(f, "DEVICE_STATE", NULL, "plug-1") == fulls)
			g_usleep(20 * 1000);
		g_usleep(200 * 1000);
		g_assert_cmpuint(count_messages(f, "CAPABILITY_REPORT", NULL, NULL), ==, reports);
	}
}

/* ---- the outbox ---- */

#define PLUGS 10
#define SWITCHES 150 /* per plug */

static char *plugs_conf(guint n)
{
	GString *conf = g_string_new(NULL);

	for (guint i = 0; i < n; i++)
		g_string_append_printf(conf, "[device plug-%02u]\ntype=plug\nlatency-ms=0\n\n", i);
	return g_string_free(conf, FALSE);
}

/* Switches plug @plug on (even @i) or off through a local app's command;
 * returns its trace id. */
static char *switch_plug(Fixture *f, guint plug, guint i)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *request = g_strdup_printf(
		"{\"deviceId\": \"plug-%02u\", \"endpoints\": [{\"endpointId\": \"1\", \"capabilities\": "
		"[{\"id\": \"matter.OnOff@1.4\", \"actions\": [{\"name\": \"%s\"}]}]}]}",
		plug, i % 2 == 0 ? "On" : "Off");
	g_autoptr(GVariant) reply = hub_test_call(f->env, "/org/hubd/Hub1", "org.hubd.Hub1.Manager", "SendCommand",
						  g_variant_new("(s)", request), "(s)", &error);
	char *trace_id;

	g_assert_no_error(error);
	g_variant_get(reply, "(s)", &trace_id);
	return trace_id;
}

static void wait_command(Fixture *f, const char *trace_id)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = hub_test_call(f->env, "/org/hubd/Hub1", "org.hubd.Hub1.Manager", "WaitCommand",
						  g_variant_new("(su)", trace_id, 10000), "(is)", &error);
	gint code;
	const char *result;

	g_assert_no_error(error);
	g_variant_get(reply, "(i&s)", &code, &result);
	g_assert_cmpint(code, ==, 200);
}

/* Every plug switched @n times, in turns; a plug's next switch waits for
 * its last (a device takes one command at a time). */
static void switch_plugs(Fixture *f, guint plugs, guint n)
{
	g_auto(GStrv) last = g_new0(char *, plugs + 1);

	for (guint i = 0; i < n; i++)
		for (guint p = 0; p < plugs; p++) {
			if (last[p])
				wait_command(f, last[p]);
			g_free(last[p]);
			last[p] = switch_plug(f, p, i);
		}
	for (guint p = 0; p < plugs; p++)
		wait_command(f, last[p]);
}

typedef struct {
	Fixture *f;
	const char *member;
	gint64 value;
	gboolean at_least;
} OutboxWait;

static gboolean outbox_reached(gpointer data)
{
	OutboxWait *w = data;
	g_autoptr(JsonObject) outbox = outbox_status(w->f);
	gint64 now = json_object_get_int_member(outbox, w->member);

	return w->at_least ? now >= w->value : now == w->value;
}

static void wait_outbox(Fixture *f, const char *member, gint64 value, gboolean at_least)
{
	OutboxWait w = { f, member, value, at_least };

	if (!hub_test_wait_until(outbox_reached, &w, 60000)) {
		g_autoptr(JsonObject) outbox = outbox_status(f);
		g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), outbox);
		g_autofree char *text = json_to_string(node, FALSE);

		g_error("outbox %s did not reach %s%" G_GINT64_FORMAT ": %s", member, at_least ? ">= " : "", value, text);
	}
}

static gboolean disconnected(gpointer data)
{
	return !is_connected(data);
}

typedef struct {
	guint received;   /* state changes received, duplicates included */
	guint distinct;   /* distinct message ids */
	GHashTable *seen; /* message id -> NULL */
	GPtrArray *values[PLUGS]; /* per plug, in arrival order, each message once: "1"/"0" */
} Received;

static void received_clear(Received *r)
{
	g_clear_pointer(&r->seen, g_hash_table_unref);
	for (guint i = 0; i < PLUGS; i++)
		g_clear_pointer(&r->values[i], g_ptr_array_unref);
}

/* The OnOff changes the cloud received from messages @from on (no full states). */
static void collect(Fixture *f, guint from, Received *r)
{
	g_autoptr(GPtrArray) messages = hub_cloudsim_uplink(f->sim, from);

	memset(r, 0, sizeof(*r));
	r->seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	for (guint i = 0; i < PLUGS; i++)
		r->values[i] = g_ptr_array_new();
	for (guint i = 0; i < messages->len; i++) {
		g_autoptr(JsonObject) envelope = hub_test_parse_object(((HubCloudsimMessage *)g_ptr_array_index(messages, i))->payload);
		JsonObject *payload = envelope ? payload_of(envelope) : NULL;
		const char *device;
		JsonNode *on_off;
		guint plug;

		if (!payload || g_strcmp0(string_or_null(envelope, "messageType"), "DEVICE_STATE") != 0 ||
		    json_object_get_boolean_member(payload, "full"))
			continue;
		device = string_or_null(payload, "deviceId");
		on_off = property_in(json_object_get_object_member(payload, "addedStates"), "OnOff");
		if (!device || !on_off || sscanf(device, "plug-%u", &plug) != 1 || plug >= PLUGS)
			continue;
		r->received++;
		if (!g_hash_table_add(r->seen, g_strdup(string_or_null(envelope, "messageId"))))
			continue;
		r->distinct++;
		g_ptr_array_add(r->values[plug], json_node_get_boolean(on_off) ? "1" : "0");
	}
}

/* Each plug's changes arrived complete and in order: on, off, on, ... */
static void assert_every_switch(Received *r, guint plugs, guint n)
{
	for (guint p = 0; p < plugs; p++) {
		g_assert_cmpuint(r->values[p]->len, ==, n);
		for (guint i = 0; i < n; i++)
			if (g_strcmp0(g_ptr_array_index(r->values[p], i), i % 2 == 0 ? "1" : "0") != 0)
				g_error("plug-%02u: change %u is %s, expected %s (out of order or lost)", p, i,
					(const char *)g_ptr_array_index(r->values[p], i), i % 2 == 0 ? "1" : "0");
	}
}

/* Collects until every plug's @n changes are in (the broker forwards them
 * to the cloud after acknowledging them to the hub), then checks them. */
static void collect_switches(Fixture *f, guint from, guint plugs, guint n, Received *r)
{
	gint64 deadline = g_get_monotonic_time() + TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;

	for (;;) {
		gboolean complete = TRUE;

		collect(f, from, r);
		for (guint p = 0; p < plugs; p++)
			complete = complete && r->values[p]->len >= n;
		if (complete || g_get_monotonic_time() > deadline)
			break;
		received_clear(r);
		g_usleep(20 * 1000);
	}
	assert_every_switch(r, plugs, n);
}

/* Builds a backlog while the broker is down; returns the uplink count before it. */
static guint build_backlog(Fixture *f)
{
	g_autoptr(JsonObject) outbox = NULL;
	g_autofree char *out = NULL;
	g_autofree char *err = NULL;
	guint before;

	start_connected(f);
	/* The full states of every plug were sent: the backlog is all that follows. */
	while (count_messages(f, "DEVICE_STATE", NULL, NULL) < PLUGS)
		g_usleep(20 * 1000);
	wait_outbox(f, "records", 0, FALSE);
	before = hub_cloudsim_uplink_count(f->sim);
	hub_cloudsim_broker_stop(f->sim);
	g_assert_true(hub_test_wait_until(disconnected, f, TIMEOUT_MS));
	switch_plugs(f, PLUGS, SWITCHES);
	wait_outbox(f, "records", PLUGS * SWITCHES, TRUE);
	outbox = outbox_status(f);
	g_assert_cmpint(json_object_get_int_member(outbox, "bytes"), >, 0);
	g_assert_cmpint(json_object_get_int_member(outbox, "droppedOverflow"), ==, 0);
	g_usleep(300 * 1000);
	g_clear_pointer(&outbox, json_object_unref);
	outbox = outbox_status(f);
	g_assert_cmpint(json_object_get_int_member(outbox, "oldestAgeMs"), >=, 300);
	/* What an operator sees. */
	g_assert_cmpint(hub_test_env_hubctl(f->env, &out, &err, "status", NULL), ==, 0);
	g_assert_nonnull(strstr(out, "Outbox:"));
	g_test_message("Backlog: %" G_GINT64_FORMAT " messages, %" G_GINT64_FORMAT " bytes",
		       json_object_get_int_member(outbox, "records"), json_object_get_int_member(outbox, "bytes"));
	return before;
}

static void test_offline_backlog(void)
{
	g_autofree char *conf = plugs_conf(PLUGS);
	g_autoptr(Fixture) f = fixture_new(conf, NULL);
	g_autoptr(JsonObject) outbox = NULL;
	Received r;
	guint from;
	gint64 started;

	from = build_backlog(f);
	started = g_get_monotonic_time();
	g_assert_true(hub_cloudsim_broker_start(f->sim));
	wait_outbox(f, "records", 0, FALSE);
	g_test_message("Drained %u messages in %.0f ms after the broker came back", PLUGS * SWITCHES,
		       (g_get_monotonic_time() - started) / 1000.0);
	collect_switches(f, from, PLUGS, SWITCHES, &r);
	g_assert_cmpuint(r.received, ==, r.distinct);
	outbox = outbox_status(f);
	g_assert_cmpint(json_object_get_int_member(outbox, "resent"), ==, 0);
	g_assert_cmpint(json_object_get_int_member(outbox, "inFlight"), ==, 0);
	received_clear(&r);
}

static void test_kill_during_drain(void)
{
	g_autofree char *conf = plugs_conf(PLUGS);
	g_autoptr(Fixture) f = fixture_new(conf, NULL);
	g_autoptr(JsonObject) outbox = NULL;
	Received r;
	guint from, duplicates;
	gint64 resent;

	from = build_backlog(f);
	g_assert_true(hub_cloudsim_broker_start(f->sim));
	/* Part of the backlog is through: kill -9. */
	g_assert_true(hub_cloudsim_wait_uplink(f->sim, from + PLUGS * SWITCHES / 5, TIMEOUT_MS));
	g_subprocess_force_exit(f->env->hubd);
	g_subprocess_wait(f->env->hubd, NULL, NULL);
	g_clear_object(&f->env->hubd);
	collect(f, from, &r);
	g_test_message("%u of %u changes were through at the kill", r.distinct, PLUGS * SWITCHES);
	g_assert_cmpuint(r.distinct, <, PLUGS * SWITCHES);
	received_clear(&r);

	start_connected(f);
	wait_outbox(f, "records", 0, FALSE);
	collect_switches(f, from, PLUGS, SWITCHES, &r);
	outbox = outbox_status(f);
	resent = json_object_get_int_member(outbox, "resent");
	duplicates = r.received - r.distinct;
	g_test_message("%u duplicates received, %" G_GINT64_FORMAT " messages counted as resent", duplicates, resent);
	/* Duplicates only as QoS 1 allows, and never more than counted. */
	g_assert_cmpint(duplicates, <=, resent);
	received_clear(&r);
}

/* Starts hubd with one plug, waits until its full state went up and the
 * outbox is empty; returns the uplink count from then on. */
static guint start_quiet(Fixture *f)
{
	start_connected(f);
	while (count_messages(f, "DEVICE_STATE", NULL, "plug-00") < 1)
		g_usleep(20 * 1000);
	wait_outbox(f, "records", 0, FALSE);
	return hub_cloudsim_uplink_count(f->sim);
}

/* Over its quota the outbox drops exactly as documented: the oldest of the
 * lowest priority first, and a message below everything queued itself. */
static void test_quota(void)
{
	g_autofree char *conf = plugs_conf(1);
	g_autoptr(Fixture) f = fixture_new(conf, "[outbox]\nmax-records=100\n");
	g_autoptr(JsonObject) outbox = NULL;
	g_autofree char *log = NULL;
	gint64 pushed;
	Received r;
	guint from;

	from = start_quiet(f);
	outbox = outbox_status(f);
	pushed = json_object_get_int_member(outbox, "pushed");
	g_clear_pointer(&outbox, json_object_unref);
	hub_cloudsim_broker_stop(f->sim);
	g_assert_true(hub_test_wait_until(disconnected, f, TIMEOUT_MS));
	switch_plugs(f, 1, 300);
	wait_outbox(f, "pushed", pushed + 300, FALSE);
	outbox = outbox_status(f);
	g_assert_cmpint(json_object_get_int_member(outbox, "records"), ==, 100);
	g_assert_cmpint(json_object_get_int_member(outbox, "droppedOverflow"), ==, 200);
	g_clear_pointer(&outbox, json_object_unref);

	g_assert_true(hub_cloudsim_broker_start(f->sim));
	wait_outbox(f, "records", 0, FALSE);
	/* The newest 100 changes (switches 200-299) arrive; the full state pushed
	 * at the reconnect (priority 0, below every queued change) was dropped. */
	collect_switches(f, from, 1, 100, &r);
	for (guint i = 0; i < 100; i++)
		g_assert_cmpstr(g_ptr_array_index(r.values[0], i), ==, (200 + i) % 2 == 0 ? "1" : "0");
	outbox = outbox_status(f);
	g_assert_cmpint(json_object_get_int_member(outbox, "droppedOverflow"), ==, 201);
	g_assert_cmpint(json_object_get_int_member(outbox, "droppedExpired"), ==, 0);
	log = hub_test_env_read_log(f->env);
	g_assert_nonnull(strstr(log, "Outbox: dropped"));
	received_clear(&r);
}

/* Messages stay queued until the broker acknowledges them. */
static void test_unacknowledged_kept(void)
{
	g_autofree char *conf = plugs_conf(1);
	g_autoptr(Fixture) f = fixture_new(conf, NULL);
	g_autoptr(JsonObject) outbox = NULL;
	Received r;
	guint from;

	from = start_quiet(f);
	hub_cloudsim_broker_pause(f->sim, TRUE);
	switch_plugs(f, 1, 20);
	wait_outbox(f, "inFlight", 20, FALSE);
	g_usleep(300 * 1000);
	outbox = outbox_status(f);
	g_assert_cmpint(json_object_get_int_member(outbox, "records"), ==, 20);
	g_assert_cmpint(json_object_get_int_member(outbox, "acknowledged"), ==,
			json_object_get_int_member(outbox, "pushed") - 20);
	hub_cloudsim_broker_pause(f->sim, FALSE);
	wait_outbox(f, "records", 0, FALSE);
	collect_switches(f, from, 1, 20, &r);
	g_assert_cmpuint(r.received, ==, 20);
	received_clear(&r);
}

/* Acknowledgements that never come (the broker froze, then died): the
 * messages are sent again after the reconnect, counted as resent, none lost. */
static void test_acknowledgements_lost(void)
{
	g_autofree char *conf = plugs_conf(1);
	/* The hub's attempt while the broker is down holds its next one back
	 * 1.5 s: the cloud side, whose session a killed broker may not have
	 * saved, is subscribed again by then. */
	g_autoptr(Fixture) f = fixture_new(conf, "[cloud]\nconnect-interval-ms=1500\n");
	g_autoptr(JsonObject) outbox = NULL;
	Received r;
	guint from;

	from = start_quiet(f);
	hub_cloudsim_broker_pause(f->sim, TRUE);
	switch_plugs(f, 1, 20);
	wait_outbox(f, "inFlight", 20, FALSE);
	hub_cloudsim_broker_kill(f->sim);
	g_assert_true(hub_cloudsim_broker_start(f->sim));
	wait_outbox(f, "records", 0, FALSE);
	collect_switches(f, from, 1, 20, &r);
	outbox = outbox_status(f);
	g_assert_cmpint(json_object_get_int_member(outbox, "resent"), ==, 20);
	received_clear(&r);
}

/* Bad [outbox] values stop hubd with the group and key named. */
static void test_outbox_bad_config(void)
{
	const struct {
		const char *config;
		const char *message;
	} cases[] = {
		{ "[outbox]\nmax-records=0\n", "[outbox] max-records must be 1-100000000" },
		{ "[outbox]\nmax-bytes=10\n", "[outbox] max-bytes must be 4096-4294967295" },
		{ "[outbox]\ncommit-interval-ms=soon\n", "[outbox] commit-interval-ms must be 1-60000" },
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(Fixture) f = fixture_new(PLUGS_CONF, cases[i].config);
		g_autoptr(GSubprocess) hubd = hub_test_env_spawn_hubd(f->env);
		g_autofree char *log = NULL;

		g_assert_true(g_subprocess_wait(hubd, NULL, NULL));
		g_assert_cmpint(g_subprocess_get_exit_status(hubd), !=, 0);
		log = hub_test_env_read_log(f->env);
		if (!strstr(log, cases[i].message))
			g_error("\"%s\" not in hubd's log:\n%s", cases[i].message, log);
	}
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	if (!hub_test_broker_available())
		g_error("mosquitto is required (.ci/install-deps installs it)");
	g_test_add_func("/cloud/command/round-trip", test_command_round_trip);
	g_test_add_func("/cloud/command/batch", test_command_batch);
	g_test_add_func("/cloud/command/bad-input", test_command_bad_input);
	g_test_add_func("/cloud/reports", test_reports);
	g_test_add_func("/cloud/outbox/offline-backlog", test_offline_backlog);
	g_test_add_func("/cloud/outbox/kill-during-drain", test_kill_during_drain);
	g_test_add_func("/cloud/outbox/quota", test_quota);
	g_test_add_func("/cloud/outbox/unacknowledged-kept", test_unacknowledged_kept);
	g_test_add_func("/cloud/outbox/acknowledgements-lost", test_acknowledgements_lost);
	g_test_add_func("/cloud/outbox/bad-config", test_outbox_bad_config);
	return g_test_run();
}
