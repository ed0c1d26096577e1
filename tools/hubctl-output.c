/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hubctl-output.c - how hubctl prints: times, values, JSON documents and
 * tables. Output goes through stdio (not g_print) so UTF-8 reaches pipes
 * unchanged whatever the locale.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hubctl.h"

/* 1748987439886 -> "2025-06-03T21:50:39.886Z" */
char *
hubctl_format_time_ms(gint64 ms)
{
	gint64 secs = ms / 1000;
	gint64 millis = ms % 1000;
	time_t t;
	struct tm tm;

	if (ms <= 0)
		return g_strdup("never");
	t = (time_t)secs;
	if (!gmtime_r(&t, &tm))
		return g_strdup_printf("%" G_GINT64_FORMAT, ms);
	return g_strdup_printf("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
			       tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			       tm.tm_hour, tm.tm_min, tm.tm_sec, (int)millis);
}

/* Local wall clock "12:00:01.234" of a g_get_real_time() value. */
char *
hubctl_format_local_clock(gint64 real_usec)
{
	time_t t = (time_t)(real_usec / G_USEC_PER_SEC);
	int millis = (int)((real_usec % G_USEC_PER_SEC) / 1000);
	struct tm tm;

	if (!localtime_r(&t, &tm))
		return g_strdup("??:??:??.???");
	return g_strdup_printf("%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
}

static JsonNode *
new_value_node(void)
{
	return json_node_alloc();
}

static JsonNode *
dict_to_json(GVariant *value)
{
	JsonObject *object = json_object_new();
	JsonNode *node = json_node_init_object(new_value_node(), object);
	gsize n = g_variant_n_children(value);

	for (gsize i = 0; i < n; i++) {
		g_autoptr(GVariant) entry = g_variant_get_child_value(value, i);
		g_autoptr(GVariant) key = g_variant_get_child_value(entry, 0);
		g_autoptr(GVariant) member = g_variant_get_child_value(entry, 1);
		g_autofree char *name = NULL;

		if (g_variant_is_of_type(key, G_VARIANT_TYPE_STRING) ||
		    g_variant_is_of_type(key, G_VARIANT_TYPE_OBJECT_PATH) ||
		    g_variant_is_of_type(key, G_VARIANT_TYPE_SIGNATURE))
			name = g_variant_dup_string(key, NULL);
		else
			name = g_variant_print(key, FALSE);
		json_object_set_member(object, name, hubctl_variant_to_json(member));
	}
	json_object_unref(object);
	return node;
}

/* A D-Bus value as JSON the way hubd carries JSON on the bus: variants
 * unboxed, a{sv} as objects, arrays and structs as arrays, an empty "av" as
 * null; numbers that JSON cannot hold (NaN, infinities) as null. */
JsonNode *
hubctl_variant_to_json(GVariant *value)
{
	JsonNode *node;

	if (!value)
		return json_node_init_null(new_value_node());
	switch (g_variant_classify(value)) {
	case G_VARIANT_CLASS_BOOLEAN:
		return json_node_init_boolean(new_value_node(), g_variant_get_boolean(value));
	case G_VARIANT_CLASS_BYTE:
		return json_node_init_int(new_value_node(), g_variant_get_byte(value));
	case G_VARIANT_CLASS_INT16:
		return json_node_init_int(new_value_node(), g_variant_get_int16(value));
	case G_VARIANT_CLASS_UINT16:
		return json_node_init_int(new_value_node(), g_variant_get_uint16(value));
	case G_VARIANT_CLASS_INT32:
		return json_node_init_int(new_value_node(), g_variant_get_int32(value));
	case G_VARIANT_CLASS_UINT32:
		return json_node_init_int(new_value_node(), g_variant_get_uint32(value));
	case G_VARIANT_CLASS_INT64:
		return json_node_init_int(new_value_node(), g_variant_get_int64(value));
	case G_VARIANT_CLASS_HANDLE:
		return json_node_init_int(new_value_node(), g_variant_get_handle(value));
	case G_VARIANT_CLASS_UINT64:
		if (g_variant_get_uint64(value) <= G_MAXINT64)
			return json_node_init_int(new_value_node(), (gint64)g_variant_get_uint64(value));
		return json_node_init_double(new_value_node(), (double)g_variant_get_uint64(value));
	case G_VARIANT_CLASS_DOUBLE:
		if (!isfinite(g_variant_get_double(value)))
			return json_node_init_null(new_value_node());
		return json_node_init_double(new_value_node(), g_variant_get_double(value));
	case G_VARIANT_CLASS_STRING:
	case G_VARIANT_CLASS_OBJECT_PATH:
	case G_VARIANT_CLASS_SIGNATURE:
		return json_node_init_string(new_value_node(), g_variant_get_string(value, NULL));
	case G_VARIANT_CLASS_VARIANT: {
		g_autoptr(GVariant) inner = g_variant_get_variant(value);

		return hubctl_variant_to_json(inner);
	}
	case G_VARIANT_CLASS_MAYBE: {
		g_autoptr(GVariant) inner = g_variant_get_maybe(value);

		return hubctl_variant_to_json(inner);
	}
	case G_VARIANT_CLASS_ARRAY:
		if (g_variant_is_of_type(value, G_VARIANT_TYPE("av")) && g_variant_n_children(value) == 0)
			return json_node_init_null(new_value_node());
		if (g_variant_type_is_dict_entry(g_variant_type_element(g_variant_get_type(value))))
			return dict_to_json(value);
		break;
	default:
		break;
	}
	/* Arrays, tuples and anything else with children. */
	{
		JsonArray *array = json_array_new();
		gsize n = g_variant_n_children(value);

		for (gsize i = 0; i < n; i++) {
			g_autoptr(GVariant) child = g_variant_get_child_value(value, i);

			json_array_add_element(array, hubctl_variant_to_json(child));
		}
		node = json_node_init_array(new_value_node(), array);
		json_array_unref(array);
		return node;
	}
}

static char *
node_to_string(JsonNode *node, gboolean pretty)
{
	g_autoptr(JsonGenerator) generator = json_generator_new();

	json_generator_set_pretty(generator, pretty);
	json_generator_set_indent(generator, 2);
	json_generator_set_root(generator, node);
	return json_generator_to_data(generator, NULL);
}

char *
hubctl_variant_to_json_string(GVariant *value)
{
	g_autoptr(JsonNode) node = hubctl_variant_to_json(value);

	return node_to_string(node, FALSE);
}

/* A value for humans and scripts: strings as they are, the rest as JSON. */
char *
hubctl_variant_to_text(GVariant *value)
{
	if (value && g_variant_is_of_type(value, G_VARIANT_TYPE_VARIANT)) {
		g_autoptr(GVariant) inner = g_variant_get_variant(value);

		return hubctl_variant_to_text(inner);
	}
	if (value && (g_variant_is_of_type(value, G_VARIANT_TYPE_STRING) ||
		      g_variant_is_of_type(value, G_VARIANT_TYPE_OBJECT_PATH)))
		return g_variant_dup_string(value, NULL);
	return hubctl_variant_to_json_string(value);
}

/* Parses a JSON document; the root may be any value, e.g. "42". */
JsonNode *
hubctl_parse_json(const char *text, GError **error)
{
	g_autoptr(JsonParser) parser = json_parser_new();
	JsonNode *root;

	if (!text || !g_utf8_validate(text, -1, NULL)) {
		g_set_error_literal(error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_INVALID_DATA, "not UTF-8 text");
		return NULL;
	}
	if (!json_parser_load_from_data(parser, text, -1, error))
		return NULL;
	root = json_parser_get_root(parser);
	if (!root) {
		g_set_error_literal(error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_PARSE, "empty document");
		return NULL;
	}
	return json_node_copy(root);
}

/* A strict RFC 8259 check: json-glib alone also takes 0x10, 'x' and
 * integers that overflow 64 bits (as garbage). */
typedef struct {
	const char *p;
	guint depth;
} JsonScan;

#define JSON_MAX_DEPTH 128

static gboolean scan_value(JsonScan *s);

static void
scan_space(JsonScan *s)
{
	while (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')
		s->p++;
}

static gboolean
scan_string(JsonScan *s)
{
	if (*s->p != '"')
		return FALSE;
	s->p++;
	while (*s->p != '"') {
		if ((unsigned char)*s->p < 0x20)
			return FALSE; /* also the end of the text */
		if (*s->p != '\\') {
			s->p++;
			continue;
		}
		s->p++;
		if (*s->p == 'u') {
			for (int i = 1; i <= 4; i++)
				if (!g_ascii_isxdigit(s->p[i]))
					return FALSE;
			s->p += 5;
		} else if (*s->p && strchr("\"\\/bfnrt", *s->p)) {
			s->p++;
		} else {
			return FALSE;
		}
	}
	s->p++;
	return TRUE;
}

static gboolean
scan_number(JsonScan *s)
{
	const char *start = s->p;
	gboolean integer = TRUE;
	g_autofree char *text = NULL;

	if (*s->p == '-')
		s->p++;
	if (*s->p == '0')
		s->p++;
	else if (*s->p >= '1' && *s->p <= '9')
		while (g_ascii_isdigit(*s->p))
			s->p++;
	else
		return FALSE;
	if (*s->p == '.') {
		integer = FALSE;
		s->p++;
		if (!g_ascii_isdigit(*s->p))
			return FALSE;
		while (g_ascii_isdigit(*s->p))
			s->p++;
	}
	if (*s->p == 'e' || *s->p == 'E') {
		integer = FALSE;
		s->p++;
		if (*s->p == '+' || *s->p == '-')
			s->p++;
		if (!g_ascii_isdigit(*s->p))
			return FALSE;
		while (g_ascii_isdigit(*s->p))
			s->p++;
	}
	text = g_strndup(start, s->p - start);
	if (integer)
		return g_ascii_string_to_signed(text, 10, G_MININT64, G_MAXINT64, NULL, NULL);
	return isfinite(g_ascii_strtod(text, NULL));
}

static gboolean
scan_literal(JsonScan *s, const char *literal)
{
	gsize len = strlen(literal);

	if (strncmp(s->p, literal, len) != 0)
		return FALSE;
	s->p += len;
	return TRUE;
}

/* The members of an object or the elements of an array, after the opening
 * bracket. */
static gboolean
scan_container(JsonScan *s, char close, gboolean object)
{
	if (++s->depth > JSON_MAX_DEPTH)
		return FALSE;
	scan_space(s);
	if (*s->p == close) {
		s->p++;
		s->depth--;
		return TRUE;
	}
	for (;;) {
		scan_space(s);
		if (object) {
			if (!scan_string(s))
				return FALSE;
			scan_space(s);
			if (*s->p != ':')
				return FALSE;
			s->p++;
		}
		if (!scan_value(s))
			return FALSE;
		scan_space(s);
		if (*s->p == ',') {
			s->p++;
			continue;
		}
		if (*s->p != close)
			return FALSE;
		s->p++;
		s->depth--;
		return TRUE;
	}
}

static gboolean
scan_value(JsonScan *s)
{
	scan_space(s);
	switch (*s->p) {
	case '{':
		s->p++;
		return scan_container(s, '}', TRUE);
	case '[':
		s->p++;
		return scan_container(s, ']', FALSE);
	case '"':
		return scan_string(s);
	case 't':
		return scan_literal(s, "true");
	case 'f':
		return scan_literal(s, "false");
	case 'n':
		return scan_literal(s, "null");
	default:
		return scan_number(s);
	}
}

static gboolean
is_strict_json(const char *text)
{
	JsonScan s = { .p = text };

	if (!scan_value(&s))
		return FALSE;
	scan_space(&s);
	return *s.p == '\0';
}

/* A command-line value: JSON when it is JSON (true, 42, 1.5, "x", [..],
 * {..}, null), otherwise the text itself as a string. */
JsonNode *
hubctl_parse_json_argument(const char *text)
{
	JsonNode *node = is_strict_json(text) ? hubctl_parse_json(text, NULL) : NULL;

	if (node)
		return node;
	node = json_node_alloc();
	json_node_init_string(node, text);
	return node;
}

void
hubctl_print_json(JsonNode *node, gboolean pretty)
{
	g_autofree char *text = node_to_string(node, pretty);

	fputs(text, stdout);
	fputc('\n', stdout);
	fflush(stdout);
}

/* A JSON document from the daemon, pretty-printed; printed as it came when
 * it does not parse. */
void
hubctl_print_json_text(const char *text)
{
	g_autoptr(JsonNode) node = hubctl_parse_json(text, NULL);

	if (node) {
		hubctl_print_json(node, TRUE);
		return;
	}
	fputs(text ? text : "", stdout);
	fputc('\n', stdout);
	fflush(stdout);
}

static glong
display_width(const char *s)
{
	return g_utf8_validate(s, -1, NULL) ? g_utf8_strlen(s, -1) : (glong)strlen(s);
}

static void
print_row(const char *const *cells, guint n_columns, const glong *widths)
{
	for (guint c = 0; c < n_columns; c++) {
		const char *cell = cells[c] ? cells[c] : "";

		fputs(cell, stdout);
		if (c + 1 < n_columns) {
			for (glong pad = display_width(cell); pad < widths[c] + 2; pad++)
				fputc(' ', stdout);
		}
	}
	fputc('\n', stdout);
}

/* @rows holds char *[n_columns] (GStrv); @header may be NULL. Columns are
 * separated by two spaces; the last is not padded. */
void
hubctl_print_table(GPtrArray *rows, guint n_columns, const char *const *header)
{
	g_autofree glong *widths = g_new0(glong, n_columns);

	for (guint c = 0; header && c < n_columns; c++)
		widths[c] = display_width(header[c]);
	for (guint i = 0; i < rows->len; i++) {
		const char *const *row = rows->pdata[i];

		for (guint c = 0; c < n_columns; c++)
			widths[c] = MAX(widths[c], display_width(row[c] ? row[c] : ""));
	}
	if (header)
		print_row(header, n_columns, widths);
	for (guint i = 0; i < rows->len; i++)
		print_row(rows->pdata[i], n_columns, widths);
	fflush(stdout);
}

const char *
hubctl_reason_phrase(gint code)
{
	static const struct {
		gint code;
		const char *phrase;
	} phrases[] = {
		{ 100, "Continue" },
		{ 200, "OK" },
		{ 201, "Created" },
		{ 202, "Accepted" },
		{ 204, "No Content" },
		{ 400, "Bad Request" },
		{ 401, "Unauthorized" },
		{ 403, "Forbidden" },
		{ 404, "Not Found" },
		{ 405, "Method Not Allowed" },
		{ 408, "Request Timeout" },
		{ 409, "Conflict" },
		{ 410, "Gone" },
		{ 422, "Unprocessable Content" },
		{ 429, "Too Many Requests" },
		{ 500, "Internal Server Error" },
		{ 501, "Not Implemented" },
		{ 502, "Bad Gateway" },
		{ 503, "Service Unavailable" },
		{ 504, "Gateway Timeout" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(phrases); i++)
		if (phrases[i].code == code)
			return phrases[i].phrase;
	return NULL;
}

/* A string member, "" when absent or not a string. */
const char *
hubctl_json_object_string(JsonObject *object, const char *member)
{
	JsonNode *node = json_object_get_member(object, member);

	if (node && JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING)
		return json_node_get_string(node);
	return "";
}

/* An array member, NULL when absent or not an array. */
JsonArray *
hubctl_json_object_array(JsonObject *object, const char *member)
{
	JsonNode *node = json_object_get_member(object, member);

	return node && JSON_NODE_HOLDS_ARRAY(node) ? json_node_get_array(node) : NULL;
}

/* A string as it is, anything else as compact JSON. */
char *
hubctl_json_to_text(JsonNode *node)
{
	if (!node)
		return g_strdup("");
	if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING)
		return g_strdup(json_node_get_string(node));
	return node_to_string(node, FALSE);
}

static void
print_action_errors(const char *endpoint, const char *capability, JsonObject *action)
{
	JsonArray *errors = hubctl_json_object_array(action, "errors");

	for (guint i = 0; errors && i < json_array_get_length(errors); i++) {
		JsonNode *node = json_array_get_element(errors, i);
		JsonObject *error;
		g_autofree char *code = NULL;

		if (!JSON_NODE_HOLDS_OBJECT(node))
			continue;
		error = json_node_get_object(node);
		code = hubctl_json_to_text(json_object_get_member(error, "code"));
		printf("Error: %s %s %s: %s: %s\n", endpoint, capability,
		       hubctl_json_object_string(action, "name"), code,
		       hubctl_json_object_string(error, "message"));
	}
}

static void
print_property(const char *endpoint, const char *capability, JsonObject *property)
{
	JsonNode *value_node = json_object_get_member(property, "value");
	JsonNode *value = NULL;
	JsonNode *changed = NULL;
	g_autofree char *value_text = NULL;
	g_autofree char *changed_text = NULL;

	if (value_node && JSON_NODE_HOLDS_OBJECT(value_node)) {
		value = json_object_get_member(json_node_get_object(value_node), "propertyValue");
		changed = json_object_get_member(json_node_get_object(value_node), "lastChangedAt");
	}
	value_text = value ? node_to_string(value, FALSE) : g_strdup("null");
	if (changed && JSON_NODE_HOLDS_VALUE(changed) && json_node_get_value_type(changed) == G_TYPE_INT64)
		changed_text = hubctl_format_time_ms(json_node_get_int(changed));
	else
		changed_text = hubctl_json_to_text(changed);
	printf("%s %s %s = %s", endpoint, capability, hubctl_json_object_string(property, "name"), value_text);
	if (changed_text[0])
		printf(" (changed %s)", changed_text);
	fputc('\n', stdout);
}

typedef void (*ResultFunc)(const char *endpoint, const char *capability, JsonObject *item);

/* Calls @func for every endpoints[].capabilities[].@member[] object. */
static void
walk_result(JsonNode *result, const char *member, ResultFunc func)
{
	JsonArray *endpoints;

	if (!result || !JSON_NODE_HOLDS_OBJECT(result))
		return;
	endpoints = hubctl_json_object_array(json_node_get_object(result), "endpoints");
	for (guint e = 0; endpoints && e < json_array_get_length(endpoints); e++) {
		JsonNode *enode = json_array_get_element(endpoints, e);
		JsonArray *caps;
		g_autofree char *endpoint = NULL;

		if (!JSON_NODE_HOLDS_OBJECT(enode))
			continue;
		endpoint = hubctl_json_to_text(json_object_get_member(json_node_get_object(enode), "endpointId"));
		caps = hubctl_json_object_array(json_node_get_object(enode), "capabilities");
		for (guint c = 0; caps && c < json_array_get_length(caps); c++) {
			JsonNode *cnode = json_array_get_element(caps, c);
			JsonArray *items;

			if (!JSON_NODE_HOLDS_OBJECT(cnode))
				continue;
			items = hubctl_json_object_array(json_node_get_object(cnode), member);
			for (guint i = 0; items && i < json_array_get_length(items); i++) {
				JsonNode *inode = json_array_get_element(items, i);

				if (JSON_NODE_HOLDS_OBJECT(inode))
					func(endpoint, hubctl_json_object_string(json_node_get_object(cnode), "id"),
					     json_node_get_object(inode));
			}
		}
	}
	fflush(stdout);
}

/* The errors[] of every action in a command result, one line each. */
void
hubctl_print_result_errors(JsonNode *result)
{
	walk_result(result, "actions", print_action_errors);
}

/* The properties of a command result or state report, one line each:
 * "1 matter.OnOff@1.4 OnOff = true (changed 2025-06-03T21:50:39.886Z)". */
void
hubctl_print_result_properties(JsonNode *result)
{
	walk_result(result, "properties", print_property);
}

static gint
compare_strings(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "battery=87 rssi=-60"; "-" when empty. */
char *
hubctl_health_to_text(GVariant *health)
{
	GString *text = g_string_new(NULL);
	g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func(g_free);
	GVariantIter iter;
	const char *key;
	GVariant *value;

	/* Sorted by key, so the line reads the same whatever order the daemon keeps. */
	if (health && g_variant_is_of_type(health, G_VARIANT_TYPE("a{sv}"))) {
		g_variant_iter_init(&iter, health);
		while (g_variant_iter_loop(&iter, "{&sv}", &key, &value)) {
			g_autofree char *v = hubctl_variant_to_text(value);

			g_ptr_array_add(items, g_strdup_printf("%s=%s", key, v));
		}
		g_ptr_array_sort(items, compare_strings);
		for (guint i = 0; i < items->len; i++)
			g_string_append_printf(text, "%s%s", text->len ? " " : "", (char *)items->pdata[i]);
	}
	if (text->len == 0)
		g_string_append(text, "-");
	return g_string_free(text, FALSE);
}
