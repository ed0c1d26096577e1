/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hub-json.h - conversions between struct hub_value, JsonNode and text, and timestamps. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include <hubd/hub-value.h>

/* Wall-clock time in ms since the Unix epoch. */
gint64 hub_now_ms(void);

/* ISO 8601 UTC with milliseconds: "2025-06-03T21:50:39.886Z". g_free the result. */
char *hub_time_format_ms(gint64 ms);

/* A JsonNode for @value; HUB_VALUE_JSON must be an array or object, strings
 * valid UTF-8. NULL with HUB_ERROR_INVALID_ARGUMENT otherwise. */
JsonNode *hub_json_from_value(const struct hub_value *value, GError **error);

/* Fills @value from @node. Scalars and strings borrow from @node; arrays and
 * objects are serialised into *@storage (g_free it after the call). */
void hub_json_to_value(JsonNode *node, struct hub_value *value, char **storage);

/* Limits on JSON from outside (D-Bus callers, plugins): json-glib parses
 * recursively, so depth is checked before parsing. */
#define HUB_JSON_MAX_TEXT (1024 * 1024)
#define HUB_JSON_MAX_DEPTH 64
#define HUB_JSON_MAX_STRING (64 * 1024)

/* Parses @len bytes of @text (-1: NUL-terminated) from an untrusted source:
 * size, nesting depth and UTF-8 of every string and member name are checked
 * (json-glib turns "\ud800" into invalid UTF-8). HUB_ERROR_INVALID_ARGUMENT. */
JsonNode *hub_json_parse(const char *text, gssize len, GError **error);

/* As hub_json_parse(), and the document must be an object. */
JsonObject *hub_json_parse_object(const char *text, GError **error);

/* Compact text of @node. */
char *hub_json_to_string(JsonNode *node);
