/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>

#include "hub-command.h"
#include "hub-error.h"
#include "hub-json.h"

#define MAX_ACTIONS 64
#define MAX_RUNNING 1024u
#define RESULTS_IN_MEMORY 64
#define RESULTS_IN_STORE 10000

typedef struct _Command Command;

typedef struct {
	Command *command;
	guint64 id;
	char *endpoint_id;
	char *capability_id; /* full id */
	char *name;
	char *action_trace_id;
	JsonObject *params;
	GPtrArray *result_properties; /* names always reported (ReadState/UpdateState) */
	gboolean done;
	gint response_code;
	JsonObject *response_params;
	JsonArray *errors;
} Action;

typedef struct {
	HubCommandDoneFunc func;
	gpointer user_data;
	guint timeout_source;
	char *trace_id;
	HubCommandPipeline *pipeline;
} Waiter;

struct _Command {
	HubCommandPipeline *pipeline;
	char *trace_id;
	char *device_id;
	gint64 received_ms;
	GPtrArray *actions;   /* Action* */
	guint pending;
	guint dispatch_source;
	guint timeout_source;
	GHashTable *changed;  /* "ep\x1fcap\x1fprop" -> NULL, properties changed while running */
};

typedef struct {
	gint response_code;
	JsonNode *result;
} Completed;

struct _HubCommandPipeline {
	HubRegistry *registry;
	HubEventBus *bus;
	HubStore *store;
	guint timeout_ms;
	HubCommandDispatchFunc dispatch;
	gpointer dispatch_data;
	guint subscription;
	guint64 next_action_id;
	GHashTable *running;    /* trace id -> Command* */
	GHashTable *actions;    /* guint64* id -> Action* (pending ones) */
	GHashTable *completed;  /* trace id -> Completed* */
	GQueue completed_order; /* trace ids, oldest first (owned by the table's keys) */
	GList *waiters;         /* Waiter* */
	guint completions;
};

static void action_free(gpointer data)
{
	Action *action = data;

	g_free(action->endpoint_id);
	g_free(action->capability_id);
	g_free(action->name);
	g_free(action->action_trace_id);
	if (action->params)
		json_object_unref(action->params);
	if (action->result_properties)
		g_ptr_array_unref(action->result_properties);
	if (action->response_params)
		json_object_unref(action->response_params);
	if (action->errors)
		json_array_unref(action->errors);
	g_free(action);
}

static void command_free(Command *command)
{
	g_clear_handle_id(&command->dispatch_source, g_source_remove);
	g_clear_handle_id(&command->timeout_source, g_source_remove);
	g_free(command->trace_id);
	g_free(command->device_id);
	g_ptr_array_unref(command->actions);
	g_hash_table_unref(command->changed);
	g_free(command);
}

static void completed_free(gpointer data)
{
	Completed *c = data;

	json_node_unref(c->result);
	g_free(c);
}

static void waiter_free(Waiter *waiter)
{
	g_clear_handle_id(&waiter->timeout_source, g_source_remove);
	g_free(waiter->trace_id);
	g_free(waiter);
}

static char *changed_key(const char *ep, const char *cap, const char *prop)
{
	return g_strdup_printf("%s\x1f%s\x1f%s", ep, cap, prop);
}

static void on_event(const HubEvent *event, gpointer user_data)
{
	HubCommandPipeline *pipeline = user_data;
	GHashTableIter iter;
	gpointer value;

	if (event->type != HUB_EVENT_PROPERTY_CHANGED || g_hash_table_size(pipeline->running) == 0)
		return;
	g_hash_table_iter_init(&iter, pipeline->running);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		Command *command = value;

		if (g_strcmp0(command->device_id, event->device_id) == 0)
			g_hash_table_add(command->changed,
					 changed_key(event->endpoint_id, event->capability_id, event->name));
	}
}

static void stop_running_commands(HubCommandPipeline *pipeline);

HubCommandPipeline *hub_command_pipeline_new(HubRegistry *registry, HubEventBus *bus, HubStore *store,
					     guint timeout_ms, HubCommandDispatchFunc dispatch,
					     gpointer dispatch_data)
{
	HubCommandPipeline *pipeline = g_new0(HubCommandPipeline, 1);
	guint interrupted;

	pipeline->registry = registry;
	pipeline->bus = bus;
	pipeline->store = store;
	pipeline->timeout_ms = timeout_ms ? timeout_ms : 10000;
	pipeline->dispatch = dispatch;
	pipeline->dispatch_data = dispatch_data;
	pipeline->next_action_id = 1;
	pipeline->running = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)command_free);
	pipeline->actions = g_hash_table_new(g_int64_hash, g_int64_equal);
	pipeline->completed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, completed_free);
	g_queue_init(&pipeline->completed_order);
	pipeline->subscription = hub_event_bus_subscribe(bus, on_event, pipeline);
	interrupted = hub_store_mark_interrupted_commands(store);
	if (interrupted > 0)
		g_warning("%u command(s) were interrupted by the last shutdown; their results say so", interrupted);
	return pipeline;
}

void hub_command_pipeline_free(HubCommandPipeline *pipeline)
{
	g_autoptr(GError) error = NULL;

	if (!pipeline)
		return;
	stop_running_commands(pipeline);
	error = g_error_new_literal(HUB_ERROR, HUB_ERROR_FAILED, "the hub is shutting down");
	while (pipeline->waiters) {
		Waiter *waiter = pipeline->waiters->data;

		pipeline->waiters = g_list_delete_link(pipeline->waiters, pipeline->waiters);
		waiter->func(waiter->trace_id, 0, NULL, error, waiter->user_data);
		waiter_free(waiter);
	}
	hub_event_bus_unsubscribe(pipeline->bus, pipeline->subscription);
	g_hash_table_unref(pipeline->actions);
	g_hash_table_unref(pipeline->running);
	g_queue_clear(&pipeline->completed_order);
	g_hash_table_unref(pipeline->completed);
	g_free(pipeline);
}

/* ---- results ---- */

static JsonObject *find_or_add(JsonArray *array, const char *key, const char *value)
{
	JsonObject *obj;

	for (guint i = 0; i < json_array_get_length(array); i++) {
		obj = json_array_get_object_element(array, i);
		if (g_strcmp0(json_object_get_string_member_with_default(obj, key, NULL), value) == 0)
			return obj;
	}
	obj = json_object_new();
	json_object_set_string_member(obj, key, value);
	json_array_add_object_element(array, obj);
	return obj;
}

static JsonArray *ensure_array(JsonObject *obj, const char *member)
{
	JsonArray *array;

	if (json_object_has_member(obj, member))
		return json_object_get_array_member(obj, member);
	array = json_array_new();
	json_object_set_array_member(obj, member, array);
	return array;
}

static JsonObject *result_capability(HubCommandPipeline *pipeline, JsonArray *endpoints, HubDevice *device,
				     const char *endpoint_id, const char *capability_id)
{
	JsonObject *ep = find_or_add(endpoints, "endpointId", endpoint_id);
	JsonObject *cap = find_or_add(ensure_array(ep, "capabilities"), "id", capability_id);
	const HubCapabilityDef *def = hub_catalog_lookup(hub_registry_get_catalog(pipeline->registry), capability_id);

	if (def && !json_object_has_member(cap, "name")) {
		json_object_set_string_member(cap, "name", def->name);
		json_object_set_string_member(cap, "version", def->version);
	}
	return cap;
}

static void add_property(JsonObject *cap_obj, HubDevice *device, const char *endpoint_id, const char *capability_id,
			 const char *property)
{
	HubCapability *cap = device ? hub_device_lookup_capability(device, endpoint_id, capability_id, NULL) : NULL;
	HubPropertyState *state = cap ? hub_capability_find_property(cap, property) : NULL;
	JsonArray *props = ensure_array(cap_obj, "properties");

	if (!state || !hub_property_state_has_value(state))
		return;
	for (guint i = 0; i < json_array_get_length(props); i++)
		if (g_strcmp0(json_object_get_string_member(json_array_get_object_element(props, i), "name"),
			      property) == 0)
			return;
	json_array_add_element(props, hub_property_state_to_json(state));
}

static JsonNode *build_result(HubCommandPipeline *pipeline, Command *command, gint response_code,
			      gboolean completed)
{
	HubDevice *device = hub_registry_lookup(pipeline->registry, command->device_id);
	JsonObject *root = json_object_new();
	JsonArray *endpoints = json_array_new();
	JsonNode *node = json_node_new(JSON_NODE_OBJECT);
	g_autofree char *received = hub_time_format_ms(command->received_ms);
	GHashTableIter iter;
	gpointer key;

	json_object_set_string_member(root, "traceId", command->trace_id);
	json_object_set_string_member(root, "deviceId", command->device_id);
	json_object_set_string_member(root, "status", completed ? "completed" : "pending");
	if (completed)
		json_object_set_int_member(root, "responseCode", response_code);
	json_object_set_string_member(root, "receivedAt", received);
	if (completed) {
		g_autofree char *now = hub_time_format_ms(hub_now_ms());

		json_object_set_string_member(root, "completedAt", now);
	}
	for (guint i = 0; i < command->actions->len; i++) {
		Action *action = g_ptr_array_index(command->actions, i);
		JsonObject *cap = result_capability(pipeline, endpoints, device, action->endpoint_id,
						    action->capability_id);
		JsonObject *act = json_object_new();

		json_object_set_string_member(act, "name", action->name);
		if (action->action_trace_id)
			json_object_set_string_member(act, "actionTraceId", action->action_trace_id);
		if (action->done) {
			json_object_set_int_member(act, "responseCode", action->response_code);
			json_object_set_object_member(act, "parameters", action->response_params ?
							   json_object_ref(action->response_params) : json_object_new());
			json_object_set_array_member(act, "errors", action->errors ? json_array_ref(action->errors) :
										     json_array_new());
		}
		json_array_add_object_element(ensure_array(cap, "actions"), act);
		if (completed && action->result_properties)
			for (guint p = 0; p < action->result_properties->len; p++)
				add_property(cap, device, action->endpoint_id, action->capability_id,
					     g_ptr_array_index(action->result_properties, p));
	}
	if (completed) {
		g_hash_table_iter_init(&iter, command->changed);
		while (g_hash_table_iter_next(&iter, &key, NULL)) {
			g_auto(GStrv) parts = g_strsplit(key, "\x1f", 3);

			if (g_strv_length(parts) == 3)
				add_property(result_capability(pipeline, endpoints, device, parts[0], parts[1]), device,
					     parts[0], parts[1], parts[2]);
		}
	}
	json_object_set_array_member(root, "endpoints", endpoints);
	json_node_take_object(node, root);
	return node;
}

static void remember_completed(HubCommandPipeline *pipeline, const char *trace_id, gint code, JsonNode *result)
{
	Completed *c = g_new0(Completed, 1);
	char *key = g_strdup(trace_id);

	c->response_code = code;
	c->result = json_node_ref(result);
	g_hash_table_replace(pipeline->completed, key, c);
	g_queue_push_tail(&pipeline->completed_order, key);
	while (g_queue_get_length(&pipeline->completed_order) > RESULTS_IN_MEMORY) {
		char *oldest = g_queue_pop_head(&pipeline->completed_order);

		g_hash_table_remove(pipeline->completed, oldest);
	}
}

static void notify_waiters(HubCommandPipeline *pipeline, const char *trace_id, gint code, JsonNode *result)
{
	GList *l = pipeline->waiters;

	while (l) {
		GList *next = l->next;
		Waiter *waiter = l->data;

		if (g_strcmp0(waiter->trace_id, trace_id) == 0) {
			pipeline->waiters = g_list_delete_link(pipeline->waiters, l);
			waiter->func(trace_id, code, result, NULL, waiter->user_data);
			waiter_free(waiter);
		}
		l = next;
	}
}

static void finish_command(HubCommandPipeline *pipeline, Command *command)
{
	g_autoptr(JsonNode) result = NULL;
	gint code = 100;
	HubEvent event = { .type = HUB_EVENT_COMMAND_COMPLETED };

	/* The worst action decides the command's code. */
	for (guint i = 0; i < command->actions->len; i++)
		code = MAX(code, ((Action *)g_ptr_array_index(command->actions, i))->response_code);
	result = build_result(pipeline, command, code, TRUE);
	hub_store_put_command_result(pipeline->store, command->trace_id, command->device_id, hub_now_ms(), code,
				     result);
	if (++pipeline->completions % 500 == 0)
		hub_store_trim_command_results(pipeline->store, RESULTS_IN_STORE);
	remember_completed(pipeline, command->trace_id, code, result);

	g_hash_table_steal(pipeline->running, command->trace_id);
	event.trace_id = command->trace_id;
	event.device_id = command->device_id;
	event.response_code = code;
	event.value = result;
	event.timestamp_ms = hub_now_ms();
	hub_event_bus_emit(pipeline->bus, &event);
	notify_waiters(pipeline, command->trace_id, code, result);
	command_free(command);
}

static void complete_action(HubCommandPipeline *pipeline, Action *action, gint code, JsonObject *params,
			    const char *error_code, const char *error_message)
{
	Command *command = action->command;

	if (action->done)
		return;
	action->done = TRUE;
	action->response_code = code;
	action->response_params = params ? json_object_ref(params) : NULL;
	if (error_code || error_message) {
		JsonObject *err = json_object_new();

		action->errors = json_array_new();
		json_object_set_string_member(err, "code", error_code ? error_code : "ERROR");
		json_object_set_string_member(err, "message", error_message ? error_message : "");
		json_array_add_object_element(action->errors, err);
	}
	g_hash_table_remove(pipeline->actions, &action->id);
	if (--command->pending == 0)
		finish_command(pipeline, command);
}

gboolean hub_command_pipeline_complete(HubCommandPipeline *pipeline, guint64 command_id, gint response_code,
				       JsonObject *params, const char *error_code, const char *error_message,
				       GError **error)
{
	Action *action = g_hash_table_lookup(pipeline->actions, &command_id);

	if (!action) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_NOT_FOUND,
			    "command %" G_GUINT64_FORMAT " is unknown or already finished (timed out?)", command_id);
		return FALSE;
	}
	/* Before any branch below can copy it into a result. */
	if (error_message && !g_utf8_validate(error_message, -1, NULL))
		error_message = "(message was not valid UTF-8)";
	if (response_code < 100 || response_code > 599) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "response code %d is outside 100-599",
			    response_code);
		complete_action(pipeline, action, 500, NULL, "INVALID_RESPONSE_CODE",
				"the plugin answered with a response code outside 100-599");
		return FALSE;
	}
	if (error_code && (!*error_code || strlen(error_code) > 64 ||
			   strspn(error_code, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") !=
				   strlen(error_code))) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "error code must be 1-64 of [A-Za-z0-9_]");
		complete_action(pipeline, action, response_code, params, "PLUGIN_ERROR", error_message);
		return FALSE;
	}
	complete_action(pipeline, action, response_code, params, error_code, error_message);
	return TRUE;
}

/* At shutdown every unfinished action gets an answer, which is stored. */
static void stop_running_commands(HubCommandPipeline *pipeline)
{
	g_autofree gpointer *trace_ids = g_hash_table_get_keys_as_array(pipeline->running, NULL);

	for (guint i = 0; trace_ids[i]; i++) {
		g_autofree char *trace_id = g_strdup(trace_ids[i]);
		Command *command = g_hash_table_lookup(pipeline->running, trace_id);
		g_autoptr(GPtrArray) actions = command ? g_ptr_array_ref(command->actions) : NULL;

		for (guint a = 0; actions && a < actions->len; a++) {
			Action *action = g_ptr_array_index(actions, a);

			if (!action->done)
				complete_action(pipeline, action, 503, NULL, "HUB_STOPPED",
						"the hub stopped before the device answered");
		}
	}
}

/* ---- execution ---- */

static gint errno_to_code(int err, const char **error_code)
{
	switch (err) {
	case ENOTSUP:
		*error_code = "UNSUPPORTED";
		return 501;
	case ENOENT:
	case ENODEV:
		*error_code = "NOT_FOUND";
		return 404;
	case EBUSY:
	case EAGAIN:
	case EHOSTUNREACH:
		*error_code = "UNAVAILABLE";
		return 503;
	case EINVAL:
		*error_code = "INVALID_ARGUMENT";
		return 400;
	default:
		*error_code = "PLUGIN_ERROR";
		return 500;
	}
}

static gboolean dispatch_cb(gpointer user_data)
{
	Command *command = user_data;
	HubCommandPipeline *pipeline = command->pipeline;
	g_autoptr(GPtrArray) actions = g_ptr_array_ref(command->actions);
	g_autofree char *trace_id = g_strdup(command->trace_id);

	command->dispatch_source = 0;
	for (guint i = 0; i < actions->len; i++) {
		Action *action = g_ptr_array_index(actions, i);
		HubDevice *device = hub_registry_lookup(pipeline->registry, command->device_id);
		int r;

		if (!device) {
			complete_action(pipeline, action, 410, NULL, "DEVICE_REMOVED", "the device was removed");
		} else {
			r = pipeline->dispatch(device, action->id, action->endpoint_id, action->capability_id,
					       action->name, action->params, pipeline->dispatch_data);
			if (r < 0 && g_hash_table_contains(pipeline->actions, &action->id)) {
				const char *error_code = NULL;
				gint code = errno_to_code(-r, &error_code);

				complete_action(pipeline, action, code, NULL, error_code, g_strerror(-r));
			}
		}
		/* The last completion frees the command. */
		if (!g_hash_table_contains(pipeline->running, trace_id))
			break;
	}
	return G_SOURCE_REMOVE;
}

static gboolean timeout_cb(gpointer user_data)
{
	Command *command = user_data;
	HubCommandPipeline *pipeline = command->pipeline;
	g_autoptr(GPtrArray) actions = g_ptr_array_ref(command->actions);
	g_autofree char *message =
		g_strdup_printf("the device did not answer within %u ms", pipeline->timeout_ms);

	command->timeout_source = 0;
	for (guint i = 0; i < actions->len; i++) {
		Action *action = g_ptr_array_index(actions, i);

		if (!action->done)
			complete_action(pipeline, action, 504, NULL, "TIMEOUT", message);
	}
	return G_SOURCE_REMOVE;
}

static const char *get_string(JsonObject *obj, const char *member, const char *where, GError **error)
{
	JsonNode *node = json_object_get_member(obj, member);

	if (!node || !JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "%s: \"%s\" must be a string", where, member);
		return NULL;
	}
	return json_node_get_string(node);
}

static JsonArray *get_array(JsonObject *obj, const char *member, const char *where, GError **error)
{
	JsonNode *node = json_object_get_member(obj, member);

	if (!node || !JSON_NODE_HOLDS_ARRAY(node) || json_array_get_length(json_node_get_array(node)) == 0) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "%s: \"%s\" must be a non-empty array", where,
			    member);
		return NULL;
	}
	return json_node_get_array(node);
}

static JsonObject *get_object_element(JsonArray *array, guint i, const char *where, GError **error)
{
	JsonNode *node = json_array_get_element(array, i);

	if (!JSON_NODE_HOLDS_OBJECT(node)) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "%s[%u] must be an object", where, i);
		return NULL;
	}
	return json_node_get_object(node);
}

/* Builds one validated Action; NULL with @error otherwise. */
static Action *parse_action(HubDevice *device, const char *endpoint_id, HubCapability *cap, JsonObject *act_obj,
			    const char *where, GError **error)
{
	const char *name = get_string(act_obj, "name", where, error);
	JsonNode *params_node;
	g_autoptr(JsonObject) params = NULL;
	Action *action;

	if (!name)
		return NULL;
	params_node = json_object_get_member(act_obj, "parameters");
	if (params_node && !JSON_NODE_HOLDS_NULL(params_node) && !JSON_NODE_HOLDS_OBJECT(params_node)) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "%s: \"parameters\" must be an object", where);
		return NULL;
	}
	params = params_node && JSON_NODE_HOLDS_OBJECT(params_node) ? json_object_ref(json_node_get_object(params_node))
								      : json_object_new();
	if (!hub_capability_def_validate_action(cap->def, name, params, error)) {
		g_prefix_error(error, "%s %s %s: ", endpoint_id, cap->def->id, name);
		return NULL;
	}
	action = g_new0(Action, 1);
	action->endpoint_id = g_strdup(endpoint_id);
	action->capability_id = g_strdup(cap->def->id);
	action->name = g_strdup(name);
	if (json_object_has_member(act_obj, "actionTraceId") &&
	    JSON_NODE_HOLDS_VALUE(json_object_get_member(act_obj, "actionTraceId")))
		action->action_trace_id = g_strdup(json_object_get_string_member(act_obj, "actionTraceId"));

	if (g_strcmp0(name, "ReadState") == 0) {
		/* Resolve "*" so plugins always get explicit names. */
		JsonArray *names = json_object_get_array_member(params, "propertiesToRead");
		JsonArray *resolved = json_array_new();
		gboolean all = FALSE;

		action->result_properties = g_ptr_array_new_with_free_func(g_free);
		for (guint i = 0; i < json_array_get_length(names); i++)
			if (g_strcmp0(json_array_get_string_element(names, i), "*") == 0)
				all = TRUE;
		for (guint i = 0; i < cap->def->properties->len; i++) {
			const HubPropertyDef *prop = g_ptr_array_index(cap->def->properties, i);
			gboolean wanted = all;

			for (guint j = 0; !wanted && j < json_array_get_length(names); j++)
				wanted = g_strcmp0(json_array_get_string_element(names, j), prop->name) == 0;
			if (wanted && prop->retrievable) {
				json_array_add_string_element(resolved, prop->name);
				g_ptr_array_add(action->result_properties, g_strdup(prop->name));
			}
		}
		action->params = json_object_new();
		json_object_set_array_member(action->params, "propertiesToRead", resolved);
	} else {
		action->params = g_steal_pointer(&params);
		if (g_strcmp0(name, "UpdateState") == 0) {
			GList *members = json_object_get_members(action->params);

			action->result_properties = g_ptr_array_new_with_free_func(g_free);
			for (GList *l = members; l; l = l->next)
				g_ptr_array_add(action->result_properties, g_strdup(l->data));
			g_list_free(members);
		}
	}
	return action;
}

static gboolean parse_request(HubCommandPipeline *pipeline, JsonObject *request, Command *command, GError **error)
{
	HubDevice *device;
	JsonArray *endpoints;
	const char *device_id = get_string(request, "deviceId", "request", error);

	if (!device_id)
		return FALSE;
	device = hub_registry_lookup(pipeline->registry, device_id);
	if (!device) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_NOT_FOUND, "no device \"%s\"", device_id);
		return FALSE;
	}
	command->device_id = g_strdup(device_id);
	endpoints = get_array(request, "endpoints", "request", error);
	if (!endpoints)
		return FALSE;
	for (guint e = 0; e < json_array_get_length(endpoints); e++) {
		g_autofree char *ep_where = g_strdup_printf("endpoints[%u]", e);
		JsonObject *ep_obj = get_object_element(endpoints, e, "endpoints", error);
		const char *endpoint_id;
		JsonArray *caps;

		if (!ep_obj || !(endpoint_id = get_string(ep_obj, "endpointId", ep_where, error)) ||
		    !(caps = get_array(ep_obj, "capabilities", ep_where, error)))
			return FALSE;
		for (guint c = 0; c < json_array_get_length(caps); c++) {
			g_autofree char *cap_where = g_strdup_printf("%s.capabilities[%u]", ep_where, c);
			JsonObject *cap_obj = get_object_element(caps, c, cap_where, error);
			const char *cap_id;
			JsonArray *acts;
			HubCapability *cap;

			if (!cap_obj || !(cap_id = get_string(cap_obj, "id", cap_where, error)) ||
			    !(acts = get_array(cap_obj, "actions", cap_where, error)))
				return FALSE;
			cap = hub_device_lookup_capability(device, endpoint_id, cap_id, error);
			if (!cap)
				return FALSE;
			for (guint a = 0; a < json_array_get_length(acts); a++) {
				g_autofree char *act_where = g_strdup_printf("%s.actions[%u]", cap_where, a);
				JsonObject *act_obj = get_object_element(acts, a, act_where, error);
				Action *action;

				if (!act_obj)
					return FALSE;
				if (command->actions->len >= MAX_ACTIONS) {
					g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT,
						    "a command may hold at most %d actions", MAX_ACTIONS);
					return FALSE;
				}
				action = parse_action(device, endpoint_id, cap, act_obj, act_where, error);
				if (!action)
					return FALSE;
				action->command = command;
				g_ptr_array_add(command->actions, action);
			}
		}
	}
	return TRUE;
}

static gboolean trace_id_known(HubCommandPipeline *pipeline, const char *trace_id)
{
	g_autoptr(JsonNode) stored = NULL;

	if (g_hash_table_contains(pipeline->running, trace_id) || g_hash_table_contains(pipeline->completed, trace_id))
		return TRUE;
	stored = hub_store_get_command_result(pipeline->store, trace_id, NULL);
	return stored != NULL;
}

char *hub_command_pipeline_submit(HubCommandPipeline *pipeline, JsonObject *request, gboolean *duplicate,
				  GError **error)
{
	Command *command;
	JsonNode *trace_node = json_object_get_member(request, "traceId");
	g_autofree char *trace_id = NULL;
	HubEvent event = { .type = HUB_EVENT_COMMAND_ACCEPTED };

	if (duplicate)
		*duplicate = FALSE;
	if (trace_node && !JSON_NODE_HOLDS_NULL(trace_node)) {
		if (!JSON_NODE_HOLDS_VALUE(trace_node) || json_node_get_value_type(trace_node) != G_TYPE_STRING ||
		    !hub_registry_id_is_valid(json_node_get_string(trace_node))) {
			g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT,
				    "request: \"traceId\" must be 1-128 of A-Z a-z 0-9 . _ : -");
			return NULL;
		}
		trace_id = g_strdup(json_node_get_string(trace_node));
		if (trace_id_known(pipeline, trace_id)) {
			if (duplicate)
				*duplicate = TRUE;
			g_debug("Command %s was seen before; not executing it again", trace_id);
			return g_steal_pointer(&trace_id);
		}
	} else {
		trace_id = g_uuid_string_random();
	}
	if (g_hash_table_size(pipeline->running) >= MAX_RUNNING) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_BUSY, "%u commands are already in progress; try again later",
			    MAX_RUNNING);
		return NULL;
	}

	command = g_new0(Command, 1);
	command->pipeline = pipeline;
	command->trace_id = g_strdup(trace_id);
	command->received_ms = hub_now_ms();
	command->actions = g_ptr_array_new_with_free_func(action_free);
	command->changed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	if (!parse_request(pipeline, request, command, error)) {
		command_free(command);
		return NULL;
	}
	for (guint i = 0; i < command->actions->len; i++) {
		Action *action = g_ptr_array_index(command->actions, i);

		action->id = pipeline->next_action_id++;
		g_hash_table_insert(pipeline->actions, &action->id, action);
	}
	command->pending = command->actions->len;
	g_hash_table_insert(pipeline->running, command->trace_id, command);
	/* Dispatch after the caller has sent its acknowledgement. */
	command->dispatch_source = g_idle_add(dispatch_cb, command);
	command->timeout_source = g_timeout_add(pipeline->timeout_ms, timeout_cb, command);

	/* Remembered from acceptance on, so a crash can never let a retry run it twice. */
	{
		g_autoptr(JsonNode) pending = build_result(pipeline, command, 0, FALSE);

		hub_store_put_command_result(pipeline->store, command->trace_id, command->device_id,
					     command->received_ms, 0, pending);
	}
	event.trace_id = command->trace_id;
	event.device_id = command->device_id;
	event.timestamp_ms = command->received_ms;
	hub_event_bus_emit(pipeline->bus, &event);
	return g_steal_pointer(&trace_id);
}

/* ---- waiting and queries ---- */

gboolean hub_command_pipeline_expects_report(HubCommandPipeline *pipeline, const char *device_id,
					 const char *endpoint_id, const char *capability_id, const char *property)
{
	const HubCapabilityDef *def;
	GHashTableIter iter;
	gpointer value;

	/* Most reports arrive with no command running: nothing to resolve then. */
	if (g_hash_table_size(pipeline->running) == 0)
		return FALSE;
	/* Actions hold full ids; a plugin may name the capability by its short id. */
	def = capability_id ? hub_catalog_lookup(hub_registry_get_catalog(pipeline->registry), capability_id) : NULL;
	if (!def)
		return FALSE;
	g_hash_table_iter_init(&iter, pipeline->running);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		Command *command = value;

		if (g_strcmp0(command->device_id, device_id) != 0)
			continue;
		for (guint i = 0; i < command->actions->len; i++) {
			Action *action = g_ptr_array_index(command->actions, i);

			/* ReadState asks for values; UpdateState expects the device to confirm them. */
			if (action->done || !action->result_properties ||
			    g_strcmp0(action->endpoint_id, endpoint_id) != 0 ||
			    g_strcmp0(action->capability_id, def->id) != 0)
				continue;
			for (guint p = 0; p < action->result_properties->len; p++)
				if (g_strcmp0(g_ptr_array_index(action->result_properties, p), property) == 0)
					return TRUE;
		}
	}
	return FALSE;
}

const char *hub_command_pipeline_running_trace(HubCommandPipeline *pipeline, const char *device_id)
{
	Command *newest = NULL;
	GHashTableIter iter;
	gpointer value;

	if (g_hash_table_size(pipeline->running) == 0)
		return NULL;
	g_hash_table_iter_init(&iter, pipeline->running);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		Command *command = value;

		if (g_strcmp0(command->device_id, device_id) == 0 &&
		    (!newest || command->received_ms >= newest->received_ms))
			newest = command;
	}
	return newest ? newest->trace_id : NULL;
}

static gboolean waiter_timeout_cb(gpointer user_data)
{
	Waiter *waiter = user_data;
	g_autoptr(GError) error = g_error_new(HUB_ERROR, HUB_ERROR_TIMEOUT, "command %s did not finish in time",
					      waiter->trace_id);

	waiter->timeout_source = 0;
	waiter->pipeline->waiters = g_list_remove(waiter->pipeline->waiters, waiter);
	waiter->func(waiter->trace_id, 0, NULL, error, waiter->user_data);
	waiter_free(waiter);
	return G_SOURCE_REMOVE;
}

static JsonNode *lookup_completed(HubCommandPipeline *pipeline, const char *trace_id, gint *code)
{
	Completed *c = g_hash_table_lookup(pipeline->completed, trace_id);
	JsonNode *stored;

	if (c) {
		*code = c->response_code;
		return json_node_ref(c->result);
	}
	stored = hub_store_get_command_result(pipeline->store, trace_id, code);
	/* Code 0 is the record of a command still running here. */
	if (stored && *code == 0)
		g_clear_pointer(&stored, json_node_unref);
	return stored;
}

void hub_command_pipeline_wait(HubCommandPipeline *pipeline, const char *trace_id, guint timeout_ms,
			       HubCommandDoneFunc done, gpointer user_data)
{
	g_autoptr(JsonNode) result = NULL;
	Waiter *waiter;
	gint code = 0;

	/* A running command (the usual case) needs no look into the store. */
	if (!g_hash_table_contains(pipeline->running, trace_id))
		result = lookup_completed(pipeline, trace_id, &code);
	if (result) {
		done(trace_id, code, result, NULL, user_data);
		return;
	}
	if (!g_hash_table_contains(pipeline->running, trace_id)) {
		g_autoptr(GError) error = g_error_new(HUB_ERROR, HUB_ERROR_NOT_FOUND, "no command with trace id \"%s\"",
						      trace_id);

		done(trace_id, 0, NULL, error, user_data);
		return;
	}
	waiter = g_new0(Waiter, 1);
	waiter->func = done;
	waiter->user_data = user_data;
	waiter->trace_id = g_strdup(trace_id);
	waiter->pipeline = pipeline;
	waiter->timeout_source = g_timeout_add(timeout_ms ? timeout_ms : pipeline->timeout_ms + 1000,
					       waiter_timeout_cb, waiter);
	pipeline->waiters = g_list_prepend(pipeline->waiters, waiter);
}

JsonNode *hub_command_pipeline_get_result(HubCommandPipeline *pipeline, const char *trace_id, GError **error)
{
	Command *command = g_hash_table_lookup(pipeline->running, trace_id);
	JsonNode *result;
	gint code = 0;

	if (command)
		return build_result(pipeline, command, 0, FALSE);
	result = lookup_completed(pipeline, trace_id, &code);
	if (!result)
		g_set_error(error, HUB_ERROR, HUB_ERROR_NOT_FOUND, "no command with trace id \"%s\"", trace_id);
	return result;
}
