/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>

#include "hub-dbus-json.h"

#define MAX_DEPTH 32

static int append_variant(sd_bus_message *m, JsonNode *node, guint depth);

static int append_array(sd_bus_message *m, JsonArray *array, guint depth)
{
	int r = sd_bus_message_open_container(m, 'a', "v");

	for (guint i = 0; r >= 0 && array && i < json_array_get_length(array); i++)
		r = append_variant(m, json_array_get_element(array, i), depth + 1);
	return r < 0 ? r : sd_bus_message_close_container(m);
}

static int append_object(sd_bus_message *m, JsonObject *obj, guint depth)
{
	JsonObjectIter iter;
	const char *name;
	JsonNode *member;
	int r = sd_bus_message_open_container(m, 'a', "{sv}");

	json_object_iter_init(&iter, obj);
	while (r >= 0 && json_object_iter_next(&iter, &name, &member)) {
		r = sd_bus_message_open_container(m, 'e', "sv");
		if (r >= 0)
			r = sd_bus_message_append(m, "s", name);
		if (r >= 0)
			r = append_variant(m, member, depth + 1);
		if (r >= 0)
			r = sd_bus_message_close_container(m);
	}
	return r < 0 ? r : sd_bus_message_close_container(m);
}

static int append_variant(sd_bus_message *m, JsonNode *node, guint depth)
{
	if (depth > MAX_DEPTH)
		return -ELOOP;
	if (!node || JSON_NODE_HOLDS_NULL(node))
		return sd_bus_message_append(m, "v", "av", 0);
	if (JSON_NODE_HOLDS_ARRAY(node) && json_array_get_length(json_node_get_array(node)) == 0)
		/* An empty "av" already means null; an empty array travels as "as". */
		return sd_bus_message_append(m, "v", "as", 0);
	if (JSON_NODE_HOLDS_ARRAY(node)) {
		int r = sd_bus_message_open_container(m, 'v', "av");

		if (r >= 0)
			r = append_array(m, json_node_get_array(node), depth);
		return r < 0 ? r : sd_bus_message_close_container(m);
	}
	if (JSON_NODE_HOLDS_OBJECT(node)) {
		int r = sd_bus_message_open_container(m, 'v', "a{sv}");

		if (r >= 0)
			r = append_object(m, json_node_get_object(node), depth);
		return r < 0 ? r : sd_bus_message_close_container(m);
	}
	switch (json_node_get_value_type(node)) {
	case G_TYPE_BOOLEAN:
		return sd_bus_message_append(m, "v", "b", (int)json_node_get_boolean(node));
	case G_TYPE_INT64:
		return sd_bus_message_append(m, "v", "x", (int64_t)json_node_get_int(node));
	case G_TYPE_DOUBLE:
		return sd_bus_message_append(m, "v", "d", json_node_get_double(node));
	default:
		return sd_bus_message_append(m, "v", "s", json_node_get_string(node));
	}
}

int hub_dbus_append_state_variant(sd_bus_message *m, const HubPropertyState *state)
{
	switch (state->kind) {
	case HUB_STATE_BOOL:
		return sd_bus_message_append(m, "v", "b", (int)state->v.b);
	case HUB_STATE_INT:
		return sd_bus_message_append(m, "v", "x", (int64_t)state->v.i);
	case HUB_STATE_DOUBLE:
		return sd_bus_message_append(m, "v", "d", state->v.d);
	case HUB_STATE_STRING:
		return sd_bus_message_append(m, "v", "s", state->v.s);
	case HUB_STATE_JSON:
		return append_variant(m, state->v.node, 0);
	case HUB_STATE_NONE:
	case HUB_STATE_NULL:
	default:
		return append_variant(m, NULL, 0);
	}
}

static int read_value(sd_bus_message *m, char type, const char *contents, JsonNode **out, guint depth);

static int read_variant(sd_bus_message *m, JsonNode **out, guint depth)
{
	const char *contents = NULL;
	char type;
	int r;

	if (depth > MAX_DEPTH)
		return -ELOOP;
	r = sd_bus_message_peek_type(m, &type, &contents);
	if (r <= 0)
		return r < 0 ? r : -EINVAL;
	if (type != 'v')
		return -EINVAL;
	r = sd_bus_message_enter_container(m, 'v', contents);
	if (r < 0)
		return r;
	r = sd_bus_message_peek_type(m, &type, &contents);
	if (r <= 0)
		return r < 0 ? r : -EINVAL;
	r = read_value(m, type, contents, out, depth + 1);
	if (r < 0)
		return r;
	r = sd_bus_message_exit_container(m);
	if (r < 0)
		g_clear_pointer(out, json_node_unref);
	return r;
}

static int read_value(sd_bus_message *m, char type, const char *contents, JsonNode **out, guint depth)
{
	JsonNode *node = NULL;
	int r;

	if (depth > MAX_DEPTH)
		return -ELOOP;
	switch (type) {
	case 'b': {
		int v;

		r = sd_bus_message_read_basic(m, type, &v);
		if (r >= 0) {
			node = json_node_new(JSON_NODE_VALUE);
			json_node_set_boolean(node, v != 0);
		}
		break;
	}
	case 'y': case 'n': case 'q': case 'i': case 'u': case 'x': case 't': {
		union { uint8_t y; int16_t n; uint16_t q; int32_t i; uint32_t u; int64_t x; uint64_t t; } v;
		gint64 value;

		r = sd_bus_message_read_basic(m, type, &v);
		if (r < 0)
			break;
		value = type == 'y' ? v.y : type == 'n' ? v.n : type == 'q' ? v.q : type == 'i' ? v.i :
			type == 'u' ? (gint64)v.u : type == 'x' ? v.x : (gint64)MIN(v.t, (uint64_t)G_MAXINT64);
		node = json_node_new(JSON_NODE_VALUE);
		json_node_set_int(node, value);
		break;
	}
	case 'd': {
		double v;

		r = sd_bus_message_read_basic(m, type, &v);
		if (r >= 0) {
			node = json_node_new(JSON_NODE_VALUE);
			json_node_set_double(node, v);
		}
		break;
	}
	case 's': {
		const char *v;

		r = sd_bus_message_read_basic(m, type, &v);
		if (r >= 0) {
			node = json_node_new(JSON_NODE_VALUE);
			json_node_set_string(node, v);
		}
		break;
	}
	case 'v':
		return read_variant(m, out, depth);
	case 'a':
		if (g_strcmp0(contents, "{sv}") == 0) {
			JsonObject *obj = json_object_new();

			r = sd_bus_message_enter_container(m, 'a', "{sv}");
			while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
				const char *key;
				JsonNode *member = NULL;

				r = sd_bus_message_read(m, "s", &key);
				if (r >= 0)
					r = read_variant(m, &member, depth + 1);
				if (r >= 0) {
					json_object_set_member(obj, key, member);
					r = sd_bus_message_exit_container(m);
				}
			}
			if (r >= 0)
				r = sd_bus_message_exit_container(m);
			node = json_node_new(JSON_NODE_OBJECT);
			json_node_take_object(node, obj);
		} else if (contents && (contents[0] != 'a' && contents[0] != '{' && contents[0] != '(' &&
					contents[1] == '\0')) {
			JsonArray *array = json_array_new();
			char inner;
			const char *inner_contents;

			r = sd_bus_message_enter_container(m, 'a', contents);
			while (r >= 0 && (r = sd_bus_message_peek_type(m, &inner, &inner_contents)) > 0) {
				JsonNode *element = NULL;

				r = read_value(m, inner, inner_contents, &element, depth + 1);
				if (r >= 0)
					json_array_add_element(array, element);
			}
			if (r >= 0)
				r = sd_bus_message_exit_container(m);
			node = json_node_new(JSON_NODE_ARRAY);
			json_node_take_array(node, array);
			/* An empty "av" is how null travels. */
			if (r >= 0 && contents[0] == 'v' && json_array_get_length(json_node_get_array(node)) == 0) {
				json_node_unref(node);
				node = json_node_new(JSON_NODE_NULL);
			}
		} else {
			r = -EINVAL;
		}
		break;
	default:
		r = -EINVAL;
		break;
	}
	if (r < 0) {
		if (node)
			json_node_unref(node);
		return r;
	}
	*out = node;
	return 0;
}

int hub_dbus_read_json_variant(sd_bus_message *m, JsonNode **out)
{
	*out = NULL;
	return read_variant(m, out, 0);
}
