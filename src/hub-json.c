/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "hub-error.h"
#include "hub-json.h"

#include <math.h>

gint64 hub_now_ms(void)
{
	return g_get_real_time() / 1000;
}

char *hub_time_format_ms(gint64 ms)
{
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(ms / 1000);
	g_autofree char *base = NULL;

	if (!dt)
		return g_strdup("1970-01-01T00:00:00.000Z");
	base = g_date_time_format(dt, "%Y-%m-%dT%H:%M:%S");
	return g_strdup_printf("%s.%03dZ", base, (int)(ms % 1000));
}

JsonNode *hub_json_from_value(const struct hub_value *value, GError **error)
{
	JsonNode *node = NULL;

	switch (value->type) {
	case HUB_VALUE_NULL:
		return json_node_new(JSON_NODE_NULL);
	case HUB_VALUE_BOOL:
		node = json_node_new(JSON_NODE_VALUE);
		json_node_set_boolean(node, value->u.b != 0);
		return node;
	case HUB_VALUE_INT:
		node = json_node_new(JSON_NODE_VALUE);
		json_node_set_int(node, value->u.i);
		return node;
	case HUB_VALUE_DOUBLE:
		if (!isfinite(value->u.d)) {
			g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "number is not finite");
			return NULL;
		}
		node = json_node_new(JSON_NODE_VALUE);
		json_node_set_double(node, value->u.d);
		return node;
	case HUB_VALUE_STRING: {
		g_autofree char *copy = NULL;

		if (!value->u.s.ptr && value->u.s.len > 0) {
			g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "string without data");
			return NULL;
		}
		/* Check the length before touching the bytes: it comes from a plugin. */
		if (value->u.s.len > HUB_JSON_MAX_STRING) {
			g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "string longer than %d bytes",
				    HUB_JSON_MAX_STRING);
			return NULL;
		}
		if (value->u.s.len > 0 && memchr(value->u.s.ptr, '\0', value->u.s.len)) {
			g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "string contains a NUL byte");
			return NULL;
		}
		copy = g_strndup(value->u.s.ptr ? value->u.s.ptr : "", value->u.s.len);
		if (!g_utf8_validate(copy, -1, NULL)) {
			g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "string is not valid UTF-8");
			return NULL;
		}
		node = json_node_new(JSON_NODE_VALUE);
		json_node_set_string(node, copy);
		return node;
	}
	case HUB_VALUE_JSON: {
		g_autoptr(JsonNode) root = NULL;

		if (!value->u.s.ptr || value->u.s.len > HUB_JSON_MAX_TEXT) {
			g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "JSON value missing or longer than %d bytes",
				    HUB_JSON_MAX_TEXT);
			return NULL;
		}
		root = hub_json_parse(value->u.s.ptr, (gssize)value->u.s.len, error);
		if (!root)
			return NULL;
		if (!JSON_NODE_HOLDS_ARRAY(root) && !JSON_NODE_HOLDS_OBJECT(root)) {
			g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT,
				    "a JSON value must be an array or an object");
			return NULL;
		}
		return g_steal_pointer(&root);
	}
	default:
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "unknown value type %u", value->type);
		return NULL;
	}
}

void hub_json_to_value(JsonNode *node, struct hub_value *value, char **storage)
{
	*storage = NULL;
	if (!node || JSON_NODE_HOLDS_NULL(node)) {
		*value = hub_value_null();
		return;
	}
	if (JSON_NODE_HOLDS_VALUE(node)) {
		switch (json_node_get_value_type(node)) {
		case G_TYPE_BOOLEAN:
			*value = hub_value_bool(json_node_get_boolean(node));
			return;
		case G_TYPE_INT64:
			*value = hub_value_int(json_node_get_int(node));
			return;
		case G_TYPE_DOUBLE:
			*value = hub_value_double(json_node_get_double(node));
			return;
		default:
			*value = hub_value_string(json_node_get_string(node));
			return;
		}
	}
	*storage = hub_json_to_string(node);
	*value = hub_value_json(*storage);
}

/* Deepest bracket nesting of @text, ignoring brackets inside strings. */
static guint nesting_depth(const char *text, gsize len)
{
	guint depth = 0, deepest = 0;
	gboolean in_string = FALSE;

	for (gsize i = 0; i < len; i++) {
		char c = text[i];

		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = FALSE;
		} else if (c == '"') {
			in_string = TRUE;
		} else if (c == '[' || c == '{') {
			deepest = MAX(deepest, ++depth);
		} else if ((c == ']' || c == '}') && depth > 0) {
			depth--;
		}
	}
	return deepest;
}

/* Every string and member name must be valid UTF-8; the depth is already bounded. */
static gboolean strings_valid(JsonNode *node)
{
	if (JSON_NODE_HOLDS_OBJECT(node)) {
		JsonObjectIter iter;
		const char *name;
		JsonNode *member;

		json_object_iter_init(&iter, json_node_get_object(node));
		while (json_object_iter_next(&iter, &name, &member))
			if (!g_utf8_validate(name, -1, NULL) || !strings_valid(member))
				return FALSE;
		return TRUE;
	}
	if (JSON_NODE_HOLDS_ARRAY(node)) {
		JsonArray *array = json_node_get_array(node);

		for (guint i = 0; i < json_array_get_length(array); i++)
			if (!strings_valid(json_array_get_element(array, i)))
				return FALSE;
		return TRUE;
	}
	if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING)
		return g_utf8_validate(json_node_get_string(node), -1, NULL);
	return TRUE;
}

JsonNode *hub_json_parse(const char *text, gssize len, GError **error)
{
	g_autoptr(JsonParser) parser = NULL;
	g_autoptr(GError) local = NULL;
	gsize size;
	JsonNode *root;

	if (!text) {
		g_set_error_literal(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "no JSON text");
		return NULL;
	}
	size = len < 0 ? strlen(text) : (gsize)len;
	if (size > HUB_JSON_MAX_TEXT) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "JSON text longer than %d bytes",
			    HUB_JSON_MAX_TEXT);
		return NULL;
	}
	if (nesting_depth(text, size) > HUB_JSON_MAX_DEPTH) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "JSON nested deeper than %d levels",
			    HUB_JSON_MAX_DEPTH);
		return NULL;
	}
	parser = json_parser_new();
	if (!json_parser_load_from_data(parser, text, (gssize)size, &local)) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "invalid JSON: %s", local->message);
		return NULL;
	}
	root = json_parser_get_root(parser);
	if (!root) {
		g_set_error_literal(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "empty JSON text");
		return NULL;
	}
	if (!strings_valid(root)) {
		g_set_error_literal(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT,
				    "JSON text holds a string that is not valid UTF-8 (a lone surrogate escape?)");
		return NULL;
	}
	return json_node_copy(root);
}

JsonObject *hub_json_parse_object(const char *text, GError **error)
{
	g_autoptr(JsonNode) root = hub_json_parse(text, -1, error);

	if (!root)
		return NULL;
	if (!JSON_NODE_HOLDS_OBJECT(root)) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "expected a JSON object");
		return NULL;
	}
	return json_object_ref(json_node_get_object(root));
}

char *hub_json_to_string(JsonNode *node)
{
	return json_to_string(node, FALSE);
}
