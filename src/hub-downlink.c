/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "hub-downlink.h"
#include "hub-error.h"
#include "hub-json.h"

struct _HubDownlink {
	HubCommandPipeline *commands;
	HubUplink *uplink;
	HubDownlinkOffboardFunc offboard;
	gpointer offboard_data;
	char *client_id;
	char *managed_thing_id;
};

/* Top-level members a command may have. The seed's C2C association ids are
 * accepted and ignored. */
static const char *const command_members[] = {
	"operation", "traceId", "clientId", "deviceId", "endpoints", "Endpoints",
	"AccountAssociationId", "ConnectorAssociationId", NULL,
};

HubDownlink *hub_downlink_new(HubCommandPipeline *commands, HubUplink *uplink, HubDownlinkOffboardFunc offboard,
			      gpointer offboard_data)
{
	HubDownlink *downlink = g_new0(HubDownlink, 1);

	downlink->commands = commands;
	downlink->uplink = uplink;
	downlink->offboard = offboard;
	downlink->offboard_data = offboard_data;
	return downlink;
}

void hub_downlink_free(HubDownlink *downlink)
{
	if (!downlink)
		return;
	g_free(downlink->client_id);
	g_free(downlink->managed_thing_id);
	g_free(downlink);
}

void hub_downlink_set_identity(HubDownlink *downlink, const char *client_id, const char *managed_thing_id)
{
	g_free(downlink->client_id);
	downlink->client_id = g_strdup(client_id);
	g_free(downlink->managed_thing_id);
	downlink->managed_thing_id = g_strdup(managed_thing_id);
}

/* At most 64 characters of @text for a message (g_utf8_substring() reads
 * past the end of a shorter string). */
static char *shortened(const char *text)
{
	return g_utf8_substring(text, 0, MIN(g_utf8_strlen(text, -1), 64));
}

/* ---- answers ---- */

static JsonObject *answer(const char *trace_id, const char *device_id, const char *status, gint code,
			  gint64 received_ms)
{
	JsonObject *payload = json_object_new();
	g_autofree char *received = hub_time_format_ms(received_ms);

	if (trace_id)
		json_object_set_string_member(payload, "traceId", trace_id);
	else
		json_object_set_null_member(payload, "traceId");
	if (device_id)
		json_object_set_string_member(payload, "deviceId", device_id);
	json_object_set_string_member(payload, "status", status);
	json_object_set_int_member(payload, "responseCode", code);
	json_object_set_string_member(payload, "receivedAt", received);
	return payload;
}

static void add_error(JsonObject *payload, const char *code, const char *message)
{
	JsonArray *errors = json_array_new();
	JsonObject *error = json_object_new();

	json_object_set_string_member(error, "code", code);
	json_object_set_string_member(error, "message", message);
	json_array_add_object_element(errors, error);
	json_object_set_array_member(payload, "errors", errors);
}

/* A refusal: nothing was executed. */
static void refuse(HubDownlink *downlink, HubUplinkKind kind, const char *what, const char *trace_id,
		   const char *device_id, gint code, const char *error_code, const char *message, gint64 received_ms)
{
	JsonObject *payload = answer(trace_id, device_id, "REJECTED", code, received_ms);

	g_message("Refused a %s from the cloud (trace %s): %d %s: %s", what, trace_id ? trace_id : "none", code,
		  error_code, message);
	add_error(payload, error_code, message);
	hub_uplink_push(downlink->uplink, kind,
			kind == HUB_UPLINK_KIND_COMMAND_ACK ? "COMMAND_ACK" : "SETUP_RESPONSE", payload);
}

static gint code_of(const GError *error, const char **error_code)
{
	if (error->domain == HUB_ERROR) {
		switch (error->code) {
		case HUB_ERROR_NOT_FOUND:
			*error_code = "NOT_FOUND";
			return 404;
		case HUB_ERROR_NOT_SUPPORTED:
			*error_code = "NOT_SUPPORTED";
			return 405;
		case HUB_ERROR_BUSY:
			*error_code = "BUSY";
			return 503;
		case HUB_ERROR_INVALID_ARGUMENT:
			*error_code = "INVALID_REQUEST";
			return 400;
		default:
			break;
		}
	}
	*error_code = "FAILED";
	return 500;
}

/* ---- checks shared by both channels ---- */

/* The document as an object, or NULL after refusing it. */
static JsonNode *parse(HubDownlink *downlink, HubUplinkKind kind, const char *what, const void *payload, gsize len,
		       gint64 received_ms)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *message = NULL;
	JsonNode *root;

	if (len > HUB_DOWNLINK_MAX_BYTES) {
		message = g_strdup_printf("the message has %zu bytes, at most %d are accepted", len,
					  HUB_DOWNLINK_MAX_BYTES);
		refuse(downlink, kind, what, NULL, NULL, 413, "PAYLOAD_TOO_LARGE", message, received_ms);
		return NULL;
	}
	root = hub_json_parse(payload, (gssize)len, &error);
	if (!root) {
		refuse(downlink, kind, what, NULL, NULL, 400, "INVALID_JSON", error->message, received_ms);
		return NULL;
	}
	if (!JSON_NODE_HOLDS_OBJECT(root)) {
		refuse(downlink, kind, what, NULL, NULL, 400, "INVALID_REQUEST", "the message is not a JSON object",
		       received_ms);
		json_node_unref(root);
		return NULL;
	}
	return root;
}

/* A string member, NULL when absent; @bad set when present and not a string. */
static const char *string_member(JsonObject *object, const char *name, gboolean *bad)
{
	JsonNode *node = json_object_get_member(object, name);

	if (!node)
		return NULL;
	if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING) {
		*bad = TRUE;
		return NULL;
	}
	return json_node_get_string(node);
}

/* traceId and clientId, shared by commands and setup tasks: FALSE after refusing. */
static gboolean check_header(HubDownlink *downlink, HubUplinkKind kind, const char *what, JsonObject *request,
			     const char **trace_id, gint64 received_ms)
{
	gboolean bad_trace = FALSE, bad_client = FALSE;
	const char *client_id;

	*trace_id = string_member(request, "traceId", &bad_trace);
	if (bad_trace || (*trace_id && !hub_registry_id_is_valid(*trace_id))) {
		*trace_id = NULL;
		refuse(downlink, kind, what, NULL, NULL, 400, "INVALID_REQUEST",
		       "\"traceId\" must be 1-128 of A-Z a-z 0-9 . _ : -", received_ms);
		return FALSE;
	}
	client_id = string_member(request, "clientId", &bad_client);
	if (bad_client || (client_id && g_strcmp0(client_id, downlink->client_id) != 0)) {
		g_autofree char *message = g_strdup_printf("the message is for client id %s, this hub is %s",
							   client_id ? client_id : "(not a string)",
							   downlink->client_id ? downlink->client_id : "(none)");

		refuse(downlink, kind, what, *trace_id, NULL, 403, "WRONG_HUB", message, received_ms);
		return FALSE;
	}
	return TRUE;
}

/* ---- commands ---- */

static void push_ack(HubDownlink *downlink, const char *trace_id, const char *device_id, const char *status, gint code,
		     gint64 received_ms)
{
	hub_uplink_push(downlink->uplink, HUB_UPLINK_KIND_COMMAND_ACK, "COMMAND_ACK",
			answer(trace_id, device_id, status, code, received_ms));
}

/* A traceId seen before: no second execution; the stored result goes out
 * again, or goes out when the first delivery finishes. */
static void answer_duplicate(HubDownlink *downlink, const char *trace_id, const char *device_id, gint64 received_ms)
{
	g_autoptr(JsonNode) result = hub_command_pipeline_get_result(downlink->commands, trace_id, NULL);
	JsonObject *obj = result && JSON_NODE_HOLDS_OBJECT(result) ? json_node_get_object(result) : NULL;

	g_message("Cloud command %s was delivered again; not executing it twice", trace_id);
	push_ack(downlink, trace_id, device_id, "DUPLICATE", 200, received_ms);
	if (obj && g_strcmp0(json_object_get_string_member_with_default(obj, "status", NULL), "pending") != 0)
		hub_uplink_push(downlink->uplink, HUB_UPLINK_KIND_COMMAND_RESPONSE, "DEVICE_COMMAND_RESPONSE",
				json_object_ref(obj));
	else
		hub_uplink_track_command(downlink->uplink, trace_id);
}

/* The cloud deleted the hub. Answered by the transport's offboarding report. */
static void delete_hub(HubDownlink *downlink, JsonObject *message, const char *trace_id, gint64 received_ms)
{
	gboolean bad = FALSE;
	const char *managed = string_member(message, "managedThingId", &bad);

	if (bad || !managed || g_strcmp0(managed, downlink->managed_thing_id) != 0) {
		g_autofree char *text = g_strdup_printf("DeleteManagedThing names managed thing %s, this hub is %s",
							managed ? managed : "(none)",
							downlink->managed_thing_id ? downlink->managed_thing_id : "(none)");

		refuse(downlink, HUB_UPLINK_KIND_COMMAND_ACK, "command", trace_id, NULL, 403, "WRONG_HUB", text,
		       received_ms);
		return;
	}
	g_message("The cloud deleted managed thing %s: offboarding", managed);
	if (downlink->offboard)
		downlink->offboard(downlink->offboard_data);
}

void hub_downlink_command(HubDownlink *downlink, const void *payload, gsize len)
{
	const char *what = "command";
	gint64 received_ms = hub_now_ms();
	g_autoptr(JsonNode) root = parse(downlink, HUB_UPLINK_KIND_COMMAND_ACK, what, payload, len, received_ms);
	g_autoptr(JsonObject) request = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *accepted = NULL;
	g_autoptr(GList) members = NULL;
	JsonObject *message;
	JsonNode *endpoints;
	const char *trace_id = NULL, *device_id, *operation, *error_code;
	gboolean bad = FALSE, duplicate = FALSE;
	gint code;

	if (!root)
		return;
	message = json_node_get_object(root);
	if (!check_header(downlink, HUB_UPLINK_KIND_COMMAND_ACK, what, message, &trace_id, received_ms))
		return;
	operation = string_member(message, "operation", &bad);
	if (g_strcmp0(operation, "DeleteManagedThing") == 0) {
		delete_hub(downlink, message, trace_id, received_ms);
		return;
	}
	if (bad || (operation && g_strcmp0(operation, "SendManagedThingCommand") != 0)) {
		refuse(downlink, HUB_UPLINK_KIND_COMMAND_ACK, what, trace_id, NULL, 400, "UNKNOWN_OPERATION",
		       "\"operation\" must be \"SendManagedThingCommand\" (the default) or \"DeleteManagedThing\"",
		       received_ms);
		return;
	}
	members = json_object_get_members(message);
	for (GList *l = members; l; l = l->next) {
		g_autofree char *text = NULL;

		if (g_strv_contains(command_members, l->data))
			continue;
		g_autofree char *name = shortened(l->data);

		text = g_str_equal(l->data, "managedThingId")
			       ? g_strdup("\"managedThingId\" is not supported yet (devices are addressed by "
					  "\"deviceId\" until device onboarding exists)")
			       : g_strdup_printf("unknown member \"%s\"", name);
		refuse(downlink, HUB_UPLINK_KIND_COMMAND_ACK, what, trace_id, NULL, 400, "INVALID_REQUEST", text,
		       received_ms);
		return;
	}
	device_id = string_member(message, "deviceId", &bad);
	if (bad || !device_id) {
		refuse(downlink, HUB_UPLINK_KIND_COMMAND_ACK, what, trace_id, NULL, 400, "INVALID_REQUEST",
		       "\"deviceId\" must be a string", received_ms);
		return;
	}
	endpoints = json_object_get_member(message, "endpoints");
	if (!endpoints)
		endpoints = json_object_get_member(message, "Endpoints");

	/* The pipeline's request: every check of endpoints, capabilities,
	 * actions and parameters is its own. */
	request = json_object_new();
	if (trace_id)
		json_object_set_string_member(request, "traceId", trace_id);
	json_object_set_string_member(request, "deviceId", device_id);
	if (endpoints)
		json_object_set_member(request, "endpoints", json_node_copy(endpoints));
	accepted = hub_command_pipeline_submit(downlink->commands, request, &duplicate, &error);
	if (!accepted) {
		code = code_of(error, &error_code);
		refuse(downlink, HUB_UPLINK_KIND_COMMAND_ACK, what, trace_id, device_id, code, error_code,
		       error->message, received_ms);
		return;
	}
	if (duplicate) {
		answer_duplicate(downlink, accepted, device_id, received_ms);
		return;
	}
	hub_uplink_track_command(downlink->uplink, accepted);
	push_ack(downlink, accepted, device_id, "ACCEPTED", 202, received_ms);
}

/* ---- setup tasks ---- */

void hub_downlink_setup(HubDownlink *downlink, const void *payload, gsize len)
{
	const char *what = "setup task";
	gint64 received_ms = hub_now_ms();
	g_autoptr(JsonNode) root = parse(downlink, HUB_UPLINK_KIND_SETUP_RESPONSE, what, payload, len, received_ms);
	g_autofree char *name = NULL;
	g_autofree char *text = NULL;
	JsonObject *message;
	const char *trace_id = NULL, *operation;
	gboolean bad = FALSE;

	if (!root)
		return;
	message = json_node_get_object(root);
	if (!check_header(downlink, HUB_UPLINK_KIND_SETUP_RESPONSE, what, message, &trace_id, received_ms))
		return;
	operation = string_member(message, "operation", &bad);
	if (bad || !operation || !*operation) {
		refuse(downlink, HUB_UPLINK_KIND_SETUP_RESPONSE, what, trace_id, NULL, 400, "INVALID_REQUEST",
		       "\"operation\" must be a non-empty string", received_ms);
		return;
	}
	name = shortened(operation);
	text = g_strdup_printf("setup task \"%s\" is not supported yet: this hub onboards no devices for the cloud",
			       name);
	refuse(downlink, HUB_UPLINK_KIND_SETUP_RESPONSE, what, trace_id, NULL, 501, "NOT_SUPPORTED", text, received_ms);
}
