/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hubctl-device.c - commands on devices (org.hubd.Hub1.Device): list,
 * show, get, set, invoke.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hubctl.h"

static void
builder_add_string(JsonBuilder *builder, const char *name, const char *value)
{
	json_builder_set_member_name(builder, name);
	json_builder_add_string_value(builder, value);
}

int
hubctl_cmd_list(HubctlContext *ctx)
{
	static const char *const header[] = { "ID", "PROTOCOL", "STATE", "NAME" };
	_cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
	g_autoptr(GPtrArray) devices = NULL;
	g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
	int r;

	r = hubctl_get_devices(ctx->bus, &error, &devices);
	if (r < 0)
		return hubctl_fail("list", &error, r);

	if (ctx->json) {
		g_autoptr(JsonBuilder) builder = json_builder_new();
		g_autoptr(JsonNode) root = NULL;

		json_builder_begin_array(builder);
		for (guint i = 0; i < devices->len; i++) {
			HubctlDevice *device = devices->pdata[i];

			json_builder_begin_object(builder);
			builder_add_string(builder, "id", device->id);
			builder_add_string(builder, "name", hubctl_lookup_string(device->props, "Name"));
			builder_add_string(builder, "protocol", hubctl_lookup_string(device->props, "Protocol"));
			json_builder_set_member_name(builder, "online");
			json_builder_add_boolean_value(builder, hubctl_lookup_boolean(device->props, "Online", FALSE));
			builder_add_string(builder, "provisioningStatus",
					   hubctl_lookup_string(device->props, "ProvisioningStatus"));
			builder_add_string(builder, "path", device->path);
			json_builder_end_object(builder);
		}
		json_builder_end_array(builder);
		root = json_builder_get_root(builder);
		hubctl_print_json(root, TRUE);
		return HUBCTL_EXIT_OK;
	}

	for (guint i = 0; i < devices->len; i++) {
		HubctlDevice *device = devices->pdata[i];
		char **row = g_new0(char *, 5);

		row[0] = g_strdup(device->id);
		row[1] = g_strdup(hubctl_lookup_string(device->props, "Protocol"));
		row[2] = g_strdup(hubctl_lookup_boolean(device->props, "Online", FALSE) ? "online" : "offline");
		row[3] = g_strdup(hubctl_lookup_string(device->props, "Name"));
		g_ptr_array_add(rows, row);
	}
	hubctl_print_table(rows, 4, ctx->tty ? header : NULL);
	return HUBCTL_EXIT_OK;
}

/* Returns the report's endpoint object with @id, or NULL. */
static JsonObject *
report_find_endpoint(JsonNode *report, const char *id)
{
	JsonArray *endpoints;

	if (!report || !JSON_NODE_HOLDS_OBJECT(report))
		return NULL;
	endpoints = hubctl_json_object_array(json_node_get_object(report), "endpoints");
	for (guint i = 0; endpoints && i < json_array_get_length(endpoints); i++) {
		JsonNode *node = json_array_get_element(endpoints, i);
		g_autofree char *eid = NULL;

		if (!JSON_NODE_HOLDS_OBJECT(node))
			continue;
		eid = hubctl_json_to_text(json_object_get_member(json_node_get_object(node), "id"));
		if (g_str_equal(eid, id))
			return json_node_get_object(node);
	}
	return NULL;
}

static JsonObject *
report_find_capability(JsonObject *endpoint, const char *id)
{
	JsonArray *caps = endpoint ? hubctl_json_object_array(endpoint, "capabilities") : NULL;

	for (guint i = 0; caps && i < json_array_get_length(caps); i++) {
		JsonNode *node = json_array_get_element(caps, i);

		if (JSON_NODE_HOLDS_OBJECT(node) &&
		    g_str_equal(hubctl_json_object_string(json_node_get_object(node), "id"), id))
			return json_node_get_object(node);
	}
	return NULL;
}

/* ["Off", "On"] or [{"name": "Off"}, ...] -> "Off, On"; "-" when empty. */
static char *
names_to_text(JsonObject *object, const char *member)
{
	JsonArray *array = object ? hubctl_json_object_array(object, member) : NULL;
	GString *text = g_string_new(NULL);

	for (guint i = 0; array && i < json_array_get_length(array); i++) {
		JsonNode *node = json_array_get_element(array, i);
		g_autofree char *name = NULL;

		if (JSON_NODE_HOLDS_OBJECT(node))
			name = g_strdup(hubctl_json_object_string(json_node_get_object(node), "name"));
		else
			name = hubctl_json_to_text(node);
		g_string_append_printf(text, "%s%s", text->len ? ", " : "", name);
	}
	if (text->len == 0)
		g_string_append(text, "-");
	return g_string_free(text, FALSE);
}

static void
print_capability(const char *id, JsonObject *cap)
{
	const char *name = cap ? hubctl_json_object_string(cap, "name") : "";
	g_autofree char *version = cap ? hubctl_json_to_text(json_object_get_member(cap, "version")) : g_strdup("");
	g_autofree char *properties = names_to_text(cap, "properties");
	g_autofree char *actions = names_to_text(cap, "actions");
	g_autofree char *events = names_to_text(cap, "events");

	printf("\t\t%s", id);
	if (name[0] && version[0])
		printf(" (%s, version %s)", name, version);
	else if (name[0])
		printf(" (%s)", name);
	fputc('\n', stdout);
	if (!cap)
		return;
	printf("\t\t\tProperties: %s\n", properties);
	printf("\t\t\tActions: %s\n", actions);
	printf("\t\t\tEvents: %s\n", events);
}

static void
print_endpoints(GVariant *capabilities, JsonNode *report)
{
	g_autoptr(GPtrArray) endpoints = g_ptr_array_new();
	GVariantIter iter;
	const char *endpoint, *cap;

	if (!capabilities || !g_variant_is_of_type(capabilities, G_VARIANT_TYPE("a(ss)")))
		return;
	/* Endpoints in the order they first appear. */
	g_variant_iter_init(&iter, capabilities);
	while (g_variant_iter_next(&iter, "(&s&s)", &endpoint, &cap))
		if (!g_ptr_array_find_with_equal_func(endpoints, endpoint, g_str_equal, NULL))
			g_ptr_array_add(endpoints, (gpointer)endpoint);

	for (guint i = 0; i < endpoints->len; i++) {
		JsonObject *ep = report_find_endpoint(report, endpoints->pdata[i]);
		g_autofree char *types = names_to_text(ep, "deviceTypes");

		printf("\tEndpoint %s", (const char *)endpoints->pdata[i]);
		if (ep && !g_str_equal(types, "-"))
			printf(" (%s)", types);
		fputc('\n', stdout);
		g_variant_iter_init(&iter, capabilities);
		while (g_variant_iter_next(&iter, "(&s&s)", &endpoint, &cap))
			if (g_str_equal(endpoint, endpoints->pdata[i]))
				print_capability(cap, report_find_capability(ep, cap));
	}
}

static int
get_report(HubctlContext *ctx, const char *path, const char *method, sd_bus_error *error, char **ret)
{
	g_autoptr(GVariant) reply = NULL;
	int r;

	r = hubctl_call(ctx->bus, path, HUBCTL_DEVICE_IFACE, method, 0, error, &reply, NULL);
	if (r < 0)
		return r;
	if (!g_variant_is_of_type(reply, G_VARIANT_TYPE("(s)")))
		return -EBADMSG;
	g_variant_get(reply, "(s)", ret);
	return 0;
}

int
hubctl_cmd_show(HubctlContext *ctx)
{
	static const char *const fields[] = {
		"Name", "Protocol", "Manufacturer", "Model", "SerialNumber", "Firmware", "ProvisioningStatus",
	};
	_cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
	g_autofree char *what = hubctl_what(ctx);
	g_autofree char *path = hubctl_device_path(ctx->args[0]);
	g_autofree char *report_text = NULL;
	g_autoptr(JsonNode) report = NULL;
	g_autoptr(GVariant) props = NULL;
	g_autoptr(GVariant) health = NULL;
	g_autoptr(GVariant) capabilities = NULL;
	g_autofree char *health_text = NULL;
	const char *id;
	int r;

	if (ctx->json) {
		r = get_report(ctx, path, "GetCapabilityReport", &error, &report_text);
		if (r < 0)
			return hubctl_fail_device(ctx->bus, what, ctx->args[0], &error, r);
		hubctl_print_json_text(report_text);
		return HUBCTL_EXIT_OK;
	}

	r = hubctl_get_all_properties(ctx->bus, path, HUBCTL_DEVICE_IFACE, &error, &props);
	if (r < 0)
		return hubctl_fail_device(ctx->bus, what, ctx->args[0], &error, r);
	/* The report only adds names and members; show the rest without it. */
	if (get_report(ctx, path, "GetCapabilityReport", NULL, &report_text) >= 0)
		report = hubctl_parse_json(report_text, NULL);

	id = hubctl_lookup_string(props, "Id");
	printf("Device %s\n", id[0] ? id : ctx->args[0]);
	printf("\tPath: %s\n", path);
	for (gsize i = 0; i < G_N_ELEMENTS(fields); i++)
		printf("\t%s: %s\n", fields[i], hubctl_lookup_string(props, fields[i]));
	printf("\tOnline: %s\n", hubctl_lookup_boolean(props, "Online", FALSE) ? "yes" : "no");
	health = g_variant_lookup_value(props, "Health", G_VARIANT_TYPE("a{sv}"));
	health_text = hubctl_health_to_text(health);
	printf("\tHealth: %s\n", health_text);
	capabilities = g_variant_lookup_value(props, "Capabilities", G_VARIANT_TYPE("a(ss)"));
	print_endpoints(capabilities, report);
	fflush(stdout);
	return HUBCTL_EXIT_OK;
}

/* Whether the device lists @endpoint (and @capability, when given). */
static gboolean
has_capability(GVariant *capabilities, const char *endpoint, const char *capability)
{
	GVariantIter iter;
	const char *ep, *cap;

	if (!capabilities || !g_variant_is_of_type(capabilities, G_VARIANT_TYPE("a(ss)")))
		return FALSE;
	g_variant_iter_init(&iter, capabilities);
	while (g_variant_iter_next(&iter, "(&s&s)", &ep, &cap))
		if (g_str_equal(ep, endpoint) && (!capability || hubctl_capability_matches(cap, capability)))
			return TRUE;
	return FALSE;
}

static int
fail_no_capability(const char *what, const char *device, const char *endpoint, const char *capability)
{
	if (capability)
		fprintf(stderr, "hubctl: %s: device '%s' has no capability %s on endpoint %s\n",
			what, device, capability, endpoint);
	else
		fprintf(stderr, "hubctl: %s: device '%s' has no endpoint %s\n", what, device, endpoint);
	return HUBCTL_EXIT_FAILURE;
}

/* Copies @report keeping only the selected endpoint, capability and
 * property; counts what was kept. */
static JsonNode *
filter_state_report(JsonNode *report, const char *endpoint, const char *capability, const char *property,
		    guint *n_caps, guint *n_props)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();
	JsonObject *root = json_node_get_object(report);
	JsonArray *endpoints = hubctl_json_object_array(root, "endpoints");
	g_autoptr(GList) members = json_object_get_members(root);

	json_builder_begin_object(builder);
	for (GList *l = members; l; l = l->next) {
		if (g_str_equal(l->data, "endpoints"))
			continue;
		json_builder_set_member_name(builder, l->data);
		json_builder_add_value(builder, json_node_copy(json_object_get_member(root, l->data)));
	}
	json_builder_set_member_name(builder, "endpoints");
	json_builder_begin_array(builder);
	for (guint e = 0; endpoints && e < json_array_get_length(endpoints); e++) {
		JsonNode *enode = json_array_get_element(endpoints, e);
		JsonObject *ep;
		JsonArray *caps;
		g_autofree char *eid = NULL;
		g_autoptr(GList) ep_members = NULL;

		if (!JSON_NODE_HOLDS_OBJECT(enode))
			continue;
		ep = json_node_get_object(enode);
		eid = hubctl_json_to_text(json_object_get_member(ep, "endpointId"));
		if (endpoint && !g_str_equal(eid, endpoint))
			continue;
		caps = hubctl_json_object_array(ep, "capabilities");
		ep_members = json_object_get_members(ep);
		json_builder_begin_object(builder);
		for (GList *l = ep_members; l; l = l->next) {
			if (g_str_equal(l->data, "capabilities"))
				continue;
			json_builder_set_member_name(builder, l->data);
			json_builder_add_value(builder, json_node_copy(json_object_get_member(ep, l->data)));
		}
		json_builder_set_member_name(builder, "capabilities");
		json_builder_begin_array(builder);
		for (guint c = 0; caps && c < json_array_get_length(caps); c++) {
			JsonNode *cnode = json_array_get_element(caps, c);
			JsonObject *cap;
			JsonArray *props;
			g_autoptr(GList) cap_members = NULL;

			if (!JSON_NODE_HOLDS_OBJECT(cnode))
				continue;
			cap = json_node_get_object(cnode);
			if (capability && !hubctl_capability_matches(hubctl_json_object_string(cap, "id"), capability))
				continue;
			(*n_caps)++;
			props = hubctl_json_object_array(cap, "properties");
			cap_members = json_object_get_members(cap);
			json_builder_begin_object(builder);
			for (GList *l = cap_members; l; l = l->next) {
				if (g_str_equal(l->data, "properties"))
					continue;
				json_builder_set_member_name(builder, l->data);
				json_builder_add_value(builder, json_node_copy(json_object_get_member(cap, l->data)));
			}
			json_builder_set_member_name(builder, "properties");
			json_builder_begin_array(builder);
			for (guint p = 0; props && p < json_array_get_length(props); p++) {
				JsonNode *pnode = json_array_get_element(props, p);

				if (!JSON_NODE_HOLDS_OBJECT(pnode))
					continue;
				if (property && !g_str_equal(hubctl_json_object_string(json_node_get_object(pnode),
										      "name"), property))
					continue;
				(*n_props)++;
				json_builder_add_value(builder, json_node_copy(pnode));
			}
			json_builder_end_array(builder);
			json_builder_end_object(builder);
		}
		json_builder_end_array(builder);
		json_builder_end_object(builder);
	}
	json_builder_end_array(builder);
	json_builder_end_object(builder);
	return json_builder_get_root(builder);
}

static int
get_one(HubctlContext *ctx, const char *what, const char *path, sd_bus_error *error, GVariant **value,
	gint64 *last_changed_ms)
{
	const char *const *a = (const char *const *)ctx->args;
	g_autoptr(GVariant) reply = NULL;
	int r;

	r = hubctl_call(ctx->bus, path, HUBCTL_DEVICE_IFACE, "GetProperty", 0, error, &reply,
			"sss", a[1], a[2], a[3]);
	if (r < 0)
		return hubctl_fail_device(ctx->bus, what, a[0], error, r);
	if (!g_variant_is_of_type(reply, G_VARIANT_TYPE("(vx)"))) {
		fprintf(stderr, "hubctl: %s: unexpected reply of type %s\n", what, g_variant_get_type_string(reply));
		return HUBCTL_EXIT_FAILURE;
	}
	g_variant_get(reply, "(vx)", value, last_changed_ms);
	return HUBCTL_EXIT_OK;
}

static int
get_json(HubctlContext *ctx, const char *what, const char *path, const char *endpoint,
	 const char *capability, const char *property)
{
	_cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
	g_autofree char *text = NULL;
	g_autoptr(JsonNode) report = NULL;
	g_autoptr(JsonNode) filtered = NULL;
	g_autoptr(GError) parse_error = NULL;
	guint n_caps = 0, n_props = 0;
	int r;

	r = get_report(ctx, path, "GetStateReport", &error, &text);
	if (r < 0)
		return hubctl_fail_device(ctx->bus, what, ctx->args[0], &error, r);
	report = hubctl_parse_json(text, &parse_error);
	if (!report || !JSON_NODE_HOLDS_OBJECT(report)) {
		fprintf(stderr, "hubctl: %s: the daemon sent a state report that is not a JSON object%s%s\n",
			what, parse_error ? ": " : "", parse_error ? parse_error->message : "");
		return HUBCTL_EXIT_FAILURE;
	}
	if (!endpoint) {
		hubctl_print_json(report, TRUE);
		return HUBCTL_EXIT_OK;
	}
	filtered = filter_state_report(report, endpoint, capability, property, &n_caps, &n_props);
	if (property && n_props == 0) {
		/* Let the daemon say why: unknown property, or no value yet. */
		g_autoptr(GVariant) value = NULL;
		gint64 ms;

		r = get_one(ctx, what, path, &error, &value, &ms);
		if (r != HUBCTL_EXIT_OK)
			return r;
	} else if (n_caps == 0) {
		g_autoptr(GVariant) caps = NULL;

		r = hubctl_get_property(ctx->bus, path, HUBCTL_DEVICE_IFACE, "Capabilities", &error, &caps);
		if (r < 0)
			return hubctl_fail_device(ctx->bus, what, ctx->args[0], &error, r);
		if (!has_capability(caps, endpoint, capability))
			return fail_no_capability(what, ctx->args[0], endpoint, capability);
	}
	hubctl_print_json(filtered, TRUE);
	return HUBCTL_EXIT_OK;
}

int
hubctl_cmd_get(HubctlContext *ctx)
{
	_cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
	g_autofree char *what = hubctl_what(ctx);
	g_autofree char *path = hubctl_device_path(ctx->args[0]);
	const char *endpoint = ctx->n_args > 1 ? ctx->args[1] : NULL;
	const char *capability = ctx->n_args > 2 ? ctx->args[2] : NULL;
	const char *property = ctx->n_args > 3 ? ctx->args[3] : NULL;
	g_autoptr(GVariant) props = NULL;
	g_autoptr(GVariant) state = NULL;
	g_autoptr(GVariant) capabilities = NULL;
	g_autoptr(GPtrArray) entries = NULL;
	guint shown = 0;
	int r;

	if (ctx->json)
		return get_json(ctx, what, path, endpoint, capability, property);

	if (property) {
		g_autoptr(GVariant) value = NULL;
		g_autofree char *text = NULL;
		gint64 ms;

		r = get_one(ctx, what, path, &error, &value, &ms);
		if (r != HUBCTL_EXIT_OK)
			return r;
		text = hubctl_variant_to_text(value);
		printf("%s\n", text);
		fflush(stdout);
		return HUBCTL_EXIT_OK;
	}

	r = hubctl_get_all_properties(ctx->bus, path, HUBCTL_DEVICE_IFACE, &error, &props);
	if (r < 0)
		return hubctl_fail_device(ctx->bus, what, ctx->args[0], &error, r);
	state = g_variant_lookup_value(props, "State", G_VARIANT_TYPE("a{s(vx)}"));
	entries = hubctl_state_parse(state);
	for (guint i = 0; i < entries->len; i++) {
		HubctlStateEntry *entry = entries->pdata[i];
		g_autofree char *value = NULL;
		g_autofree char *changed = NULL;

		if (endpoint && !g_str_equal(entry->endpoint, endpoint))
			continue;
		if (capability && !hubctl_capability_matches(entry->capability, capability))
			continue;
		value = hubctl_variant_to_json_string(entry->value);
		changed = hubctl_format_time_ms(entry->last_changed_ms);
		printf("%s %s %s = %s (changed %s)\n", entry->endpoint, entry->capability, entry->property,
		       value, changed);
		shown++;
	}
	fflush(stdout);
	if (shown == 0 && endpoint) {
		capabilities = g_variant_lookup_value(props, "Capabilities", G_VARIANT_TYPE("a(ss)"));
		if (!has_capability(capabilities, endpoint, capability))
			return fail_no_capability(what, ctx->args[0], endpoint, capability);
	}
	return HUBCTL_EXIT_OK;
}

static gboolean
response_ok(gint32 code)
{
	return code >= 200 && code <= 299;
}

static void
print_response_code(gint32 code)
{
	const char *phrase = hubctl_reason_phrase(code);

	if (phrase)
		printf("Response code: %d (%s)\n", code, phrase);
	else
		printf("Response code: %d\n", code);
}

static int
fail_response(const char *what, gint32 code)
{
	const char *phrase = hubctl_reason_phrase(code);

	fprintf(stderr, "hubctl: %s: the device answered %d%s%s%s\n", what, code,
		phrase ? " (" : "", phrase ? phrase : "", phrase ? ")" : "");
	return HUBCTL_EXIT_FAILURE;
}

/* With --json: the result document, or a minimal one when the daemon sent
 * none. */
static void
print_result_json(const char *trace_id, gint32 code, JsonNode *result)
{
	g_autoptr(JsonBuilder) builder = NULL;
	g_autoptr(JsonNode) root = NULL;

	if (result && JSON_NODE_HOLDS_OBJECT(result)) {
		hubctl_print_json(result, TRUE);
		return;
	}
	builder = json_builder_new();
	json_builder_begin_object(builder);
	if (trace_id)
		builder_add_string(builder, "traceId", trace_id);
	json_builder_set_member_name(builder, "responseCode");
	json_builder_add_int_value(builder, code);
	json_builder_end_object(builder);
	root = json_builder_get_root(builder);
	hubctl_print_json(root, TRUE);
}

int
hubctl_cmd_set(HubctlContext *ctx)
{
	const char *const *a = (const char *const *)ctx->args;
	_cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
	g_autofree char *what = hubctl_what(ctx);
	g_autofree char *path = hubctl_device_path(a[0]);
	g_autoptr(JsonNode) value = hubctl_parse_json_argument(a[4]);
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(JsonNode) result = NULL;
	const char *result_text;
	gint32 code;
	int r;

	r = hubctl_new_call(ctx->bus, path, HUBCTL_DEVICE_IFACE, "SetProperty", &m);
	if (r >= 0)
		r = sd_bus_message_append(m, "sss", a[1], a[2], a[3]);
	if (r >= 0)
		r = hubctl_append_json_variant(m, value);
	if (r >= 0)
		r = hubctl_call_message(ctx->bus, m, HUBCTL_WAIT_TIMEOUT_USEC, &error, &reply);
	if (r < 0)
		return hubctl_fail_device(ctx->bus, what, a[0], &error, r);
	if (!g_variant_is_of_type(reply, G_VARIANT_TYPE("(is)"))) {
		fprintf(stderr, "hubctl: %s: unexpected reply of type %s\n", what, g_variant_get_type_string(reply));
		return HUBCTL_EXIT_FAILURE;
	}
	g_variant_get(reply, "(i&s)", &code, &result_text);
	result = hubctl_parse_json(result_text, NULL);

	if (ctx->json) {
		print_result_json(NULL, code, result);
	} else {
		print_response_code(code);
		hubctl_print_result_properties(result);
		hubctl_print_result_errors(result);
		fflush(stdout);
	}
	return response_ok(code) ? HUBCTL_EXIT_OK : fail_response(what, code);
}

/* NAME=VALUE... -> {"NAME": VALUE, ...}; NULL after a usage error. */
static char *
build_parameters(char **args, guint n_args)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_autoptr(JsonNode) root = NULL;

	json_builder_begin_object(builder);
	for (guint i = 0; i < n_args; i++) {
		const char *eq = strchr(args[i], '=');
		g_autofree char *name = NULL;

		if (!eq || eq == args[i]) {
			hubctl_usage_error("invoke: parameter '%s' is not NAME=VALUE", args[i]);
			return NULL;
		}
		name = g_strndup(args[i], eq - args[i]);
		if (!g_hash_table_add(seen, g_strdup(name))) {
			hubctl_usage_error("invoke: parameter '%s' given twice", name);
			return NULL;
		}
		json_builder_set_member_name(builder, name);
		json_builder_add_value(builder, hubctl_parse_json_argument(eq + 1));
	}
	json_builder_end_object(builder);
	root = json_builder_get_root(builder);
	return hubctl_json_to_text(root);
}

static int
invoke_no_wait(HubctlContext *ctx, const char *what, const char *path, const char *params)
{
	const char *const *a = (const char *const *)ctx->args;
	_cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
	g_autoptr(GVariant) reply = NULL;
	const char *trace_id;
	int r;

	r = hubctl_call(ctx->bus, path, HUBCTL_DEVICE_IFACE, "Invoke", 0, &error, &reply,
			"ssss", a[1], a[2], a[3], params);
	if (r < 0)
		return hubctl_fail_device(ctx->bus, what, a[0], &error, r);
	if (!g_variant_is_of_type(reply, G_VARIANT_TYPE("(s)"))) {
		fprintf(stderr, "hubctl: %s: unexpected reply of type %s\n", what, g_variant_get_type_string(reply));
		return HUBCTL_EXIT_FAILURE;
	}
	g_variant_get(reply, "(&s)", &trace_id);
	if (ctx->json) {
		g_autoptr(JsonBuilder) builder = json_builder_new();
		g_autoptr(JsonNode) root = NULL;

		json_builder_begin_object(builder);
		builder_add_string(builder, "traceId", trace_id);
		json_builder_end_object(builder);
		root = json_builder_get_root(builder);
		hubctl_print_json(root, TRUE);
	} else {
		printf("%s\n", trace_id);
		fflush(stdout);
	}
	return HUBCTL_EXIT_OK;
}

int
hubctl_cmd_invoke(HubctlContext *ctx)
{
	const char *const *a = (const char *const *)ctx->args;
	_cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
	g_autofree char *what = hubctl_what(ctx);
	g_autofree char *path = hubctl_device_path(a[0]);
	g_autofree char *params = build_parameters(ctx->args + 4, ctx->n_args - 4);
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(JsonNode) result = NULL;
	uint64_t timeout_usec;
	const char *trace_id, *result_text;
	gint32 code;
	int r;

	if (!params)
		return HUBCTL_EXIT_USAGE;
	if (ctx->no_wait)
		return invoke_no_wait(ctx, what, path, params);

	/* Leave the daemon time to answer Timeout itself. */
	timeout_usec = ctx->timeout_ms ? (uint64_t)ctx->timeout_ms * 1000 + 10 * G_USEC_PER_SEC :
		HUBCTL_WAIT_TIMEOUT_USEC;
	r = hubctl_call(ctx->bus, path, HUBCTL_DEVICE_IFACE, "InvokeAndWait", timeout_usec, &error, &reply,
			"ssssu", a[1], a[2], a[3], params, (uint32_t)ctx->timeout_ms);
	if (r < 0)
		return hubctl_fail_device(ctx->bus, what, a[0], &error, r);
	if (!g_variant_is_of_type(reply, G_VARIANT_TYPE("(sis)"))) {
		fprintf(stderr, "hubctl: %s: unexpected reply of type %s\n", what, g_variant_get_type_string(reply));
		return HUBCTL_EXIT_FAILURE;
	}
	g_variant_get(reply, "(&si&s)", &trace_id, &code, &result_text);
	result = hubctl_parse_json(result_text, NULL);

	if (ctx->json) {
		print_result_json(trace_id, code, result);
	} else {
		printf("Trace ID: %s\n", trace_id);
		print_response_code(code);
		hubctl_print_result_errors(result);
		if (result)
			hubctl_print_json(result, TRUE);
		else if (result_text[0])
			printf("%s\n", result_text);
		fflush(stdout);
	}
	return response_ok(code) ? HUBCTL_EXIT_OK : fail_response(what, code);
}
