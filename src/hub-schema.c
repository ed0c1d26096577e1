/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-schema.c - checks and applies the JSON Schema subset of the seed's
 * capability documents (digest A §1.11, §2.3).
 *
 * Schemas are interpreted straight from their JsonNodes. hub_schema_check()
 * runs once when a document is loaded; hub_schema_validate() still guards
 * every keyword it reads, so an unchecked or hostile schema yields an error,
 * never a crash. Recursion is bounded by MAX_DEPTH in both.
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "hub-error.h"
#include "hub-schema.h"

#define MAX_DEPTH 32
#define LOCAL_REF_PREFIX "#/$defs/"
#define BUILTIN_PREFIX "/schema-versions/definition/"
/* Longest rendering of a value inside a message, in characters. */
#define MAX_SHOWN_CHARS 64
/* 2^53: the largest integer a JSON number carries exactly everywhere. */
#define MAX_SAFE_INTEGER G_GINT64_CONSTANT(9007199254740992)

typedef enum {
	BUILTIN_BOOLEAN,
	BUILTIN_INTEGER,
	BUILTIN_STRING,
} BuiltinKind;

typedef struct {
	const char *ref;
	BuiltinKind kind;
	gint64 minimum;
	gint64 maximum;
} Builtin;

static const Builtin builtins[] = {
	{ BUILTIN_PREFIX "matter.bool@1.4", BUILTIN_BOOLEAN, 0, 0 },
	{ BUILTIN_PREFIX "matter.uint8@1.4", BUILTIN_INTEGER, 0, 255 },
	{ BUILTIN_PREFIX "matter.uint16@1.4", BUILTIN_INTEGER, 0, 65535 },
	{ BUILTIN_PREFIX "matter.uint32@1.4", BUILTIN_INTEGER, 0, G_GINT64_CONSTANT(4294967295) },
	{ BUILTIN_PREFIX "matter.uint64@1.4", BUILTIN_INTEGER, 0, MAX_SAFE_INTEGER },
	{ BUILTIN_PREFIX "matter.int8@1.4", BUILTIN_INTEGER, -128, 127 },
	{ BUILTIN_PREFIX "matter.int16@1.4", BUILTIN_INTEGER, -32768, 32767 },
	{ BUILTIN_PREFIX "matter.int32@1.4", BUILTIN_INTEGER,
	  G_GINT64_CONSTANT(-2147483648), G_GINT64_CONSTANT(2147483647) },
	{ BUILTIN_PREFIX "matter.int64@1.4", BUILTIN_INTEGER, -MAX_SAFE_INTEGER, MAX_SAFE_INTEGER },
	{ BUILTIN_PREFIX "matter.percent@1.4", BUILTIN_INTEGER, 0, 100 },
	{ BUILTIN_PREFIX "matter.percent100ths@1.4", BUILTIN_INTEGER, 0, 10000 },
	{ BUILTIN_PREFIX "matter.string@1.4", BUILTIN_STRING, 0, 0 },
};

static const char *const type_names[] = {
	"boolean", "integer", "number", "string", "null", "array", "object",
};

/* What hub_schema_check() expects as the value of each keyword. */
typedef enum {
	KW_TYPE,
	KW_BOOLEAN,
	KW_ENUM,
	KW_NUMBER,
	KW_POSITIVE_NUMBER,
	KW_COUNT,
	KW_PATTERN,
	KW_SCHEMA,
	KW_SCHEMA_LIST,
	KW_SCHEMA_MAP,
	KW_PATTERN_SCHEMA_MAP,
	KW_NAME_LIST,
	KW_REF,
	KW_ANNOTATION,
} KeywordKind;

typedef struct {
	const char *name;
	KeywordKind kind;
} Keyword;

static const Keyword keywords[] = {
	{ "type", KW_TYPE },
	{ "nullable", KW_BOOLEAN },
	{ "enum", KW_ENUM },
	{ "minimum", KW_NUMBER },
	{ "maximum", KW_NUMBER },
	{ "exclusiveMinimum", KW_NUMBER },
	{ "exclusiveMaximum", KW_NUMBER },
	{ "multipleOf", KW_POSITIVE_NUMBER },
	{ "minLength", KW_COUNT },
	{ "maxLength", KW_COUNT },
	{ "pattern", KW_PATTERN },
	{ "items", KW_SCHEMA },
	{ "prefixItems", KW_SCHEMA_LIST },
	{ "minItems", KW_COUNT },
	{ "maxItems", KW_COUNT },
	{ "uniqueItems", KW_BOOLEAN },
	{ "properties", KW_SCHEMA_MAP },
	{ "required", KW_NAME_LIST },
	{ "propertyNames", KW_SCHEMA },
	{ "patternProperties", KW_PATTERN_SCHEMA_MAP },
	{ "additionalProperties", KW_SCHEMA },
	{ "anyOf", KW_SCHEMA_LIST },
	{ "oneOf", KW_SCHEMA_LIST },
	{ "$ref", KW_REF },
	/* Annotations: kept for documentation and protocol mapping, never checked. */
	{ "title", KW_ANNOTATION },
	{ "description", KW_ANNOTATION },
	{ "default", KW_ANNOTATION },
	{ "examples", KW_ANNOTATION },
	{ "$comment", KW_ANNOTATION },
	{ "extrinsicId", KW_ANNOTATION },
	{ "extrinsicIdMap", KW_ANNOTATION },
	{ "extrinsicProperties", KW_ANNOTATION },
};

/* ---- numbers ---------------------------------------------------------- */

typedef struct {
	gboolean is_int; /* held as gint64 (else as a finite double) */
	gint64 i;
	double d;
} Num;

/* Bounds of the doubles that convert to gint64 without overflow. */
#define INT64_LOWER_AS_DOUBLE (-9223372036854775808.0)
#define INT64_UPPER_AS_DOUBLE (9223372036854775808.0)

static gboolean double_fits_int64(double d)
{
	return d >= INT64_LOWER_AS_DOUBLE && d < INT64_UPPER_AS_DOUBLE;
}

static gboolean double_is_integral(double d)
{
	if (!isfinite(d))
		return FALSE;
	/* every double this large is a whole number */
	if (!double_fits_int64(d))
		return TRUE;
	return d == (double)(gint64)d;
}

static gboolean num_get(JsonNode *node, Num *n)
{
	GType type;

	if (node == NULL || !JSON_NODE_HOLDS_VALUE(node))
		return FALSE;
	type = json_node_get_value_type(node);
	if (type == G_TYPE_INT64) {
		n->is_int = TRUE;
		n->i = json_node_get_int(node);
		n->d = (double)n->i;
		return TRUE;
	}
	if (type == G_TYPE_DOUBLE) {
		n->is_int = FALSE;
		n->i = 0;
		n->d = json_node_get_double(node);
		return isfinite(n->d);
	}
	return FALSE;
}

static gboolean num_is_integral(const Num *n)
{
	return n->is_int || double_is_integral(n->d);
}

static int cmp_int64(gint64 a, gint64 b)
{
	return (a > b) - (a < b);
}

static int num_cmp(const Num *a, const Num *b)
{
	if (a->is_int && b->is_int)
		return cmp_int64(a->i, b->i);
	/* an integer against a whole double: compare exactly, as integers */
	if (a->is_int && double_is_integral(b->d) && double_fits_int64(b->d))
		return cmp_int64(a->i, (gint64)b->d);
	if (b->is_int && double_is_integral(a->d) && double_fits_int64(a->d))
		return cmp_int64((gint64)a->d, b->i);
	return (a->d > b->d) - (a->d < b->d);
}

static char *num_to_string(const Num *n)
{
	char buf[G_ASCII_DTOSTR_BUF_SIZE];

	if (n->is_int)
		return g_strdup_printf("%" G_GINT64_FORMAT, n->i);
	/* shortest form that reads back as the same double */
	g_ascii_formatd(buf, sizeof(buf), "%.15g", n->d);
	if (g_ascii_strtod(buf, NULL) != n->d)
		g_ascii_formatd(buf, sizeof(buf), "%.17g", n->d);
	return g_strdup(buf);
}

static gboolean num_is_multiple_of(const Num *v, const Num *m)
{
	double q, r, diff, scale;

	if (v->is_int && m->is_int && m->i > 0)
		return v->i % m->i == 0;
	q = v->d / m->d;
	if (!isfinite(q))
		return FALSE;
	if (!double_fits_int64(q * 2))
		return TRUE; /* too large to hold a fraction */
	r = (double)(gint64)(q + (q >= 0 ? 0.5 : -0.5));
	diff = q > r ? q - r : r - q;
	scale = q > 1 ? q : (q < -1 ? -q : 1);
	/* 0.4 / 0.2 is not exactly 2 in binary floating point */
	return diff <= 1e-9 * scale;
}

/* ---- messages --------------------------------------------------------- */

/* @value as compact JSON, long strings shortened. */
static char *render(JsonNode *value)
{
	if (JSON_NODE_HOLDS_VALUE(value) && json_node_get_value_type(value) == G_TYPE_STRING) {
		const char *s = json_node_get_string(value);
		g_autoptr(JsonNode) shown = json_node_alloc();

		if (g_utf8_validate(s, -1, NULL) && g_utf8_strlen(s, -1) > MAX_SHOWN_CHARS) {
			g_autofree char *head = g_utf8_substring(s, 0, MAX_SHOWN_CHARS - 3);
			g_autofree char *cut = g_strconcat(head, "...", NULL);

			json_node_init_string(shown, cut);
		} else {
			json_node_init_string(shown, s);
		}
		return json_to_string(shown, FALSE);
	}
	if (JSON_NODE_HOLDS_VALUE(value) && json_node_get_value_type(value) == G_TYPE_DOUBLE) {
		Num n;

		if (num_get(value, &n))
			return num_to_string(&n);
	}
	return json_to_string(value, FALSE);
}

static const char *kind_of(JsonNode *value)
{
	switch (JSON_NODE_TYPE(value)) {
	case JSON_NODE_NULL:
		return "null";
	case JSON_NODE_OBJECT:
		return "object";
	case JSON_NODE_ARRAY:
		return "array";
	case JSON_NODE_VALUE:
		break;
	}
	switch (json_node_get_value_type(value)) {
	case G_TYPE_INT64:
		return "integer";
	case G_TYPE_DOUBLE:
		return "number";
	case G_TYPE_BOOLEAN:
		return "boolean";
	case G_TYPE_STRING:
		return "string";
	default:
		return "value";
	}
}

/* "string \"abc\"", "integer 3", "null", "object" */
static char *describe(JsonNode *value)
{
	g_autofree char *shown = NULL;

	if (!JSON_NODE_HOLDS_VALUE(value))
		return g_strdup(kind_of(value));
	shown = render(value);
	return g_strdup_printf("%s %s", kind_of(value), shown);
}

static gboolean fail(GError **error, const char *path, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/* Sets INVALID_ARGUMENT "<path>: <message>" (no prefix at the top) and returns FALSE. */
static gboolean fail(GError **error, const char *path, const char *fmt, ...)
{
	g_autofree char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (path != NULL && *path != '\0')
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "%s: %s", path, msg);
	else
		g_set_error_literal(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, msg);
	return FALSE;
}

static char *path_member(const char *path, const char *name)
{
	if (path == NULL || *path == '\0')
		return g_strdup(name);
	return g_strdup_printf("%s.%s", path, name);
}

static char *path_index(const char *path, guint i)
{
	return g_strdup_printf("%s[%u]", path != NULL ? path : "", i);
}

/* ---- small accessors --------------------------------------------------- */

static gboolean node_is(JsonNode *node, GType type)
{
	return node != NULL && JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == type;
}

static gboolean member_is_true(JsonObject *o, const char *name)
{
	JsonNode *m = json_object_get_member(o, name);

	return node_is(m, G_TYPE_BOOLEAN) && json_node_get_boolean(m);
}

/* A non-negative whole number that fits gint64. */
static gboolean count_get(JsonNode *node, gint64 *out)
{
	Num n;

	if (!num_get(node, &n) || !num_is_integral(&n))
		return FALSE;
	if (n.is_int) {
		*out = n.i;
	} else {
		if (!double_fits_int64(n.d))
			return FALSE;
		*out = (gint64)n.d;
	}
	return *out >= 0;
}

static gboolean value_has_type(JsonNode *value, const char *type)
{
	Num n;

	if (g_str_equal(type, "null"))
		return JSON_NODE_HOLDS_NULL(value);
	if (g_str_equal(type, "object"))
		return JSON_NODE_HOLDS_OBJECT(value);
	if (g_str_equal(type, "array"))
		return JSON_NODE_HOLDS_ARRAY(value);
	if (g_str_equal(type, "boolean"))
		return node_is(value, G_TYPE_BOOLEAN);
	if (g_str_equal(type, "string"))
		return node_is(value, G_TYPE_STRING);
	if (g_str_equal(type, "number"))
		return num_get(value, &n);
	if (g_str_equal(type, "integer"))
		return num_get(value, &n) && num_is_integral(&n);
	return FALSE;
}

static gboolean is_type_name(const char *s)
{
	for (gsize i = 0; i < G_N_ELEMENTS(type_names); i++)
		if (g_str_equal(s, type_names[i]))
			return TRUE;
	return FALSE;
}

static const Builtin *find_builtin(const char *ref)
{
	for (gsize i = 0; i < G_N_ELEMENTS(builtins); i++)
		if (g_str_equal(ref, builtins[i].ref))
			return &builtins[i];
	return NULL;
}

static const Keyword *find_keyword(const char *name)
{
	for (gsize i = 0; i < G_N_ELEMENTS(keywords); i++)
		if (g_str_equal(name, keywords[i].name))
			return &keywords[i];
	return NULL;
}

static GRegex *regex_new(const char *pattern, GError **error)
{
	return g_regex_new(pattern, G_REGEX_DEFAULT, G_REGEX_MATCH_DEFAULT, error);
}

/* ---- validation ------------------------------------------------------- */

typedef struct {
	JsonObject *defs;
} ValidateCtx;

static gboolean validate_node(const ValidateCtx *ctx, JsonNode *schema, JsonNode *value,
			      const char *path, guint depth, GError **error);

static gboolean validate_range(const Num *v, gint64 minimum, gint64 maximum, const char *path,
			       GError **error)
{
	Num lo = { .is_int = TRUE, .i = minimum, .d = (double)minimum };
	Num hi = { .is_int = TRUE, .i = maximum, .d = (double)maximum };
	g_autofree char *shown = num_to_string(v);

	if (num_cmp(v, &lo) < 0)
		return fail(error, path, "value %s is below the minimum %" G_GINT64_FORMAT, shown, minimum);
	if (num_cmp(v, &hi) > 0)
		return fail(error, path, "value %s is above the maximum %" G_GINT64_FORMAT, shown, maximum);
	return TRUE;
}

static gboolean validate_builtin(const Builtin *b, JsonNode *value, const char *path, GError **error)
{
	g_autofree char *got = describe(value);
	Num n;

	switch (b->kind) {
	case BUILTIN_BOOLEAN:
		if (!node_is(value, G_TYPE_BOOLEAN))
			return fail(error, path, "expected boolean, got %s", got);
		return TRUE;
	case BUILTIN_STRING:
		if (!node_is(value, G_TYPE_STRING))
			return fail(error, path, "expected string, got %s", got);
		return TRUE;
	case BUILTIN_INTEGER:
		if (!num_get(value, &n) || !num_is_integral(&n))
			return fail(error, path, "expected integer, got %s", got);
		return validate_range(&n, b->minimum, b->maximum, path, error);
	}
	return fail(error, path, "invalid schema: bad built-in definition");
}

static gboolean validate_ref(const ValidateCtx *ctx, JsonNode *ref, JsonNode *value,
			     const char *path, guint depth, GError **error)
{
	const char *s;
	const Builtin *b;

	if (!node_is(ref, G_TYPE_STRING))
		return fail(error, path, "invalid schema: $ref is not a string");
	s = json_node_get_string(ref);
	if (g_str_has_prefix(s, LOCAL_REF_PREFIX)) {
		const char *name = s + strlen(LOCAL_REF_PREFIX);
		JsonNode *def = ctx->defs != NULL ? json_object_get_member(ctx->defs, name) : NULL;

		if (def == NULL)
			return fail(error, path, "invalid schema: unresolvable $ref \"%s\"", s);
		return validate_node(ctx, def, value, path, depth + 1, error);
	}
	b = find_builtin(s);
	if (b == NULL)
		return fail(error, path, "invalid schema: unresolvable $ref \"%s\"", s);
	return validate_builtin(b, value, path, error);
}

static gboolean validate_type(JsonNode *type, JsonNode *value, const char *path, GError **error)
{
	g_autoptr(GString) expected = g_string_new(NULL);
	g_autofree char *got = NULL;

	if (node_is(type, G_TYPE_STRING)) {
		if (value_has_type(value, json_node_get_string(type)))
			return TRUE;
		g_string_append(expected, json_node_get_string(type));
	} else if (JSON_NODE_HOLDS_ARRAY(type)) {
		JsonArray *a = json_node_get_array(type);

		for (guint i = 0; i < json_array_get_length(a); i++) {
			JsonNode *t = json_array_get_element(a, i);

			if (!node_is(t, G_TYPE_STRING))
				return fail(error, path, "invalid schema: type names must be strings");
			if (value_has_type(value, json_node_get_string(t)))
				return TRUE;
			if (expected->len > 0)
				g_string_append(expected, " or ");
			g_string_append(expected, json_node_get_string(t));
		}
	} else {
		return fail(error, path, "invalid schema: type must be a string or an array");
	}
	got = describe(value);
	return fail(error, path, "expected %s, got %s", expected->str, got);
}

static gboolean validate_enum(JsonNode *values, JsonNode *value, const char *path, GError **error)
{
	g_autoptr(GString) list = g_string_new(NULL);
	g_autofree char *shown = NULL;
	JsonArray *a;

	if (!JSON_NODE_HOLDS_ARRAY(values))
		return fail(error, path, "invalid schema: enum is not an array");
	a = json_node_get_array(values);
	for (guint i = 0; i < json_array_get_length(a); i++) {
		JsonNode *e = json_array_get_element(a, i);

		if (json_node_equal(e, value))
			return TRUE;
		if (list->len > 0)
			g_string_append(list, ", ");
		if (node_is(e, G_TYPE_STRING)) {
			g_string_append(list, json_node_get_string(e));
		} else {
			g_autofree char *s = render(e);

			g_string_append(list, s);
		}
	}
	shown = render(value);
	return fail(error, path, "%s is not one of %s", shown, list->str);
}

static gboolean validate_number(JsonObject *s, JsonNode *value, const char *path, GError **error)
{
	static const struct {
		const char *keyword;
		int bad_sign;     /* the comparison v <=> limit that fails */
		gboolean or_equal; /* also fails when equal */
		const char *what;
	} limits[] = {
		{ "minimum", -1, FALSE, "is below the minimum" },
		{ "maximum", 1, FALSE, "is above the maximum" },
		{ "exclusiveMinimum", -1, TRUE, "is not above the exclusive minimum" },
		{ "exclusiveMaximum", 1, TRUE, "is not below the exclusive maximum" },
	};
	g_autofree char *shown = NULL;
	JsonNode *m;
	Num v, lim;

	if (!num_get(value, &v))
		return TRUE;
	shown = num_to_string(&v);
	for (gsize i = 0; i < G_N_ELEMENTS(limits); i++) {
		g_autofree char *lim_shown = NULL;
		int c;

		m = json_object_get_member(s, limits[i].keyword);
		if (m == NULL)
			continue;
		if (!num_get(m, &lim))
			return fail(error, path, "invalid schema: %s is not a number", limits[i].keyword);
		c = num_cmp(&v, &lim);
		if (c != limits[i].bad_sign && !(limits[i].or_equal && c == 0))
			continue;
		lim_shown = num_to_string(&lim);
		return fail(error, path, "value %s %s %s", shown, limits[i].what, lim_shown);
	}
	m = json_object_get_member(s, "multipleOf");
	if (m != NULL) {
		g_autofree char *lim_shown = NULL;

		if (!num_get(m, &lim) || lim.d <= 0)
			return fail(error, path, "invalid schema: multipleOf is not a positive number");
		if (num_is_multiple_of(&v, &lim))
			return TRUE;
		lim_shown = num_to_string(&lim);
		return fail(error, path, "value %s is not a multiple of %s", shown, lim_shown);
	}
	return TRUE;
}

static gboolean validate_string(JsonObject *s, JsonNode *value, const char *path, GError **error)
{
	const char *str;
	g_autofree char *shown = NULL;
	JsonNode *m;
	glong len;
	gint64 limit;

	if (!node_is(value, G_TYPE_STRING))
		return TRUE;
	str = json_node_get_string(value);
	if (!g_utf8_validate(str, -1, NULL))
		return fail(error, path, "string is not valid UTF-8");
	shown = render(value);
	len = g_utf8_strlen(str, -1);
	m = json_object_get_member(s, "minLength");
	if (m != NULL) {
		if (!count_get(m, &limit))
			return fail(error, path, "invalid schema: minLength is not a non-negative integer");
		if (len < limit)
			return fail(error, path, "string %s is %ld characters long, shorter than the minimum length %" G_GINT64_FORMAT,
				    shown, len, limit);
	}
	m = json_object_get_member(s, "maxLength");
	if (m != NULL) {
		if (!count_get(m, &limit))
			return fail(error, path, "invalid schema: maxLength is not a non-negative integer");
		if (len > limit)
			return fail(error, path, "string %s is %ld characters long, longer than the maximum length %" G_GINT64_FORMAT,
				    shown, len, limit);
	}
	m = json_object_get_member(s, "pattern");
	if (m != NULL) {
		g_autoptr(GRegex) re = NULL;
		g_autoptr(GError) local = NULL;
		const char *pattern;
		gboolean matched;

		if (!node_is(m, G_TYPE_STRING))
			return fail(error, path, "invalid schema: pattern is not a string");
		pattern = json_node_get_string(m);
		re = regex_new(pattern, &local);
		if (re == NULL)
			return fail(error, path, "invalid schema: bad pattern %s: %s", pattern, local->message);
		/* unanchored: a match anywhere in the string counts (digest A §2.3) */
		matched = g_regex_match_full(re, str, -1, 0, G_REGEX_MATCH_DEFAULT, NULL, &local);
		if (local != NULL)
			return fail(error, path, "string %s could not be matched against the pattern %s: %s",
				    shown, pattern, local->message);
		if (!matched)
			return fail(error, path, "string %s does not match the pattern %s", shown, pattern);
	}
	return TRUE;
}

static gboolean validate_array(const ValidateCtx *ctx, JsonObject *s, JsonNode *value,
			       const char *path, guint depth, GError **error)
{
	JsonArray *a;
	JsonArray *prefix = NULL;
	JsonNode *items;
	JsonNode *m;
	guint n, n_prefix = 0;
	gint64 limit;

	if (!JSON_NODE_HOLDS_ARRAY(value))
		return TRUE;
	a = json_node_get_array(value);
	n = json_array_get_length(a);
	m = json_object_get_member(s, "minItems");
	if (m != NULL) {
		if (!count_get(m, &limit))
			return fail(error, path, "invalid schema: minItems is not a non-negative integer");
		if (n < limit)
			return fail(error, path, "array has %u items, fewer than the minimum %" G_GINT64_FORMAT,
				    n, limit);
	}
	m = json_object_get_member(s, "maxItems");
	if (m != NULL) {
		if (!count_get(m, &limit))
			return fail(error, path, "invalid schema: maxItems is not a non-negative integer");
		if (n > limit)
			return fail(error, path, "array has %u items, more than the maximum %" G_GINT64_FORMAT,
				    n, limit);
	}
	if (member_is_true(s, "uniqueItems")) {
		for (guint i = 0; i < n; i++)
			for (guint j = i + 1; j < n; j++)
				if (json_node_equal(json_array_get_element(a, i), json_array_get_element(a, j)))
					return fail(error, path, "array items [%u] and [%u] are equal, but items must be unique",
						    i, j);
	}
	m = json_object_get_member(s, "prefixItems");
	if (m != NULL) {
		if (!JSON_NODE_HOLDS_ARRAY(m))
			return fail(error, path, "invalid schema: prefixItems is not an array");
		prefix = json_node_get_array(m);
		n_prefix = json_array_get_length(prefix);
	}
	items = json_object_get_member(s, "items");
	for (guint i = 0; i < n; i++) {
		g_autofree char *p = NULL;
		JsonNode *item_schema = i < n_prefix ? json_array_get_element(prefix, i) : items;

		if (item_schema == NULL)
			continue; /* items after prefixItems are allowed by default */
		p = path_index(path, i);
		if (!validate_node(ctx, item_schema, json_array_get_element(a, i), p, depth + 1, error))
			return FALSE;
	}
	return TRUE;
}

static gboolean validate_object(const ValidateCtx *ctx, JsonObject *s, JsonNode *value,
				const char *path, guint depth, GError **error)
{
	g_autoptr(GPtrArray) patterns = g_ptr_array_new_with_free_func((GDestroyNotify)g_regex_unref);
	g_autoptr(GList) members = NULL;
	JsonObject *o, *props = NULL, *pattern_props = NULL;
	JsonNode *m, *names, *additional;

	if (!JSON_NODE_HOLDS_OBJECT(value))
		return TRUE;
	o = json_node_get_object(value);
	m = json_object_get_member(s, "required");
	if (m != NULL) {
		JsonArray *req;

		if (!JSON_NODE_HOLDS_ARRAY(m))
			return fail(error, path, "invalid schema: required is not an array");
		req = json_node_get_array(m);
		for (guint i = 0; i < json_array_get_length(req); i++) {
			JsonNode *r = json_array_get_element(req, i);

			if (!node_is(r, G_TYPE_STRING))
				return fail(error, path, "invalid schema: required names must be strings");
			if (!json_object_has_member(o, json_node_get_string(r)))
				return fail(error, path, "missing required member \"%s\"", json_node_get_string(r));
		}
	}
	m = json_object_get_member(s, "properties");
	if (m != NULL) {
		if (!JSON_NODE_HOLDS_OBJECT(m))
			return fail(error, path, "invalid schema: properties is not an object");
		props = json_node_get_object(m);
	}
	m = json_object_get_member(s, "patternProperties");
	if (m != NULL) {
		g_autoptr(GList) keys = NULL;

		if (!JSON_NODE_HOLDS_OBJECT(m))
			return fail(error, path, "invalid schema: patternProperties is not an object");
		pattern_props = json_node_get_object(m);
		keys = json_object_get_members(pattern_props);
		for (GList *l = keys; l != NULL; l = l->next) {
			g_autoptr(GError) local = NULL;
			GRegex *re = regex_new(l->data, &local);

			if (re == NULL)
				return fail(error, path, "invalid schema: bad pattern %s: %s",
					    (const char *)l->data, local->message);
			g_ptr_array_add(patterns, re);
		}
	}
	names = json_object_get_member(s, "propertyNames");
	additional = json_object_get_member(s, "additionalProperties");

	members = json_object_get_members(o);
	for (GList *l = members; l != NULL; l = l->next) {
		const char *name = l->data;
		JsonNode *member = json_object_get_member(o, name);
		g_autofree char *p = path_member(path, name);
		gboolean matched = FALSE;

		if (names != NULL) {
			g_autoptr(JsonNode) name_node = json_node_init_string(json_node_alloc(), name);
			g_autoptr(GError) local = NULL;

			if (!validate_node(ctx, names, name_node, "", depth + 1, &local))
				return fail(error, path, "invalid member name \"%s\": %s", name, local->message);
		}
		if (props != NULL && json_object_has_member(props, name)) {
			matched = TRUE;
			if (!validate_node(ctx, json_object_get_member(props, name), member, p, depth + 1, error))
				return FALSE;
		}
		if (pattern_props != NULL) {
			g_autoptr(GList) keys = json_object_get_members(pattern_props);
			guint i = 0;

			for (GList *k = keys; k != NULL; k = k->next, i++) {
				if (!g_regex_match(g_ptr_array_index(patterns, i), name, G_REGEX_MATCH_DEFAULT, NULL))
					continue;
				matched = TRUE;
				if (!validate_node(ctx, json_object_get_member(pattern_props, k->data), member,
						   p, depth + 1, error))
					return FALSE;
			}
		}
		if (matched || additional == NULL)
			continue;
		if (node_is(additional, G_TYPE_BOOLEAN) && !json_node_get_boolean(additional))
			return fail(error, path, "member \"%s\" is not allowed", name);
		if (!validate_node(ctx, additional, member, p, depth + 1, error))
			return FALSE;
	}
	return TRUE;
}

/* anyOf (@exactly_one FALSE) or oneOf (TRUE). Alternatives report relative to @path. */
static gboolean validate_alternatives(const ValidateCtx *ctx, JsonNode *list, gboolean exactly_one,
				      JsonNode *value, const char *path, guint depth, GError **error)
{
	const char *keyword = exactly_one ? "oneOf" : "anyOf";
	g_autoptr(GString) reasons = g_string_new(NULL);
	JsonArray *a;
	guint matches = 0, first = 0;

	if (!JSON_NODE_HOLDS_ARRAY(list))
		return fail(error, path, "invalid schema: %s is not an array", keyword);
	a = json_node_get_array(list);
	for (guint i = 0; i < json_array_get_length(a); i++) {
		g_autoptr(GError) local = NULL;

		if (validate_node(ctx, json_array_get_element(a, i), value, "", depth + 1, &local)) {
			if (!exactly_one)
				return TRUE;
			if (matches++ == 0) {
				first = i;
				continue;
			}
			return fail(error, path, "value matches both %s alternatives [%u] and [%u], but must match exactly one",
				    keyword, first, i);
		}
		g_string_append_printf(reasons, "%s[%u] %s", reasons->len > 0 ? "; " : "", i, local->message);
	}
	if (matches == 1)
		return TRUE;
	return fail(error, path, "value matches none of the %s alternatives: %s", keyword, reasons->str);
}

static gboolean validate_node(const ValidateCtx *ctx, JsonNode *schema, JsonNode *value,
			      const char *path, guint depth, GError **error)
{
	JsonObject *s;
	JsonNode *m;

	if (depth > MAX_DEPTH)
		return fail(error, path, "schema or value is nested deeper than %d levels", MAX_DEPTH);
	if (node_is(schema, G_TYPE_BOOLEAN)) {
		if (json_node_get_boolean(schema))
			return TRUE;
		return fail(error, path, "no value is allowed here");
	}
	if (schema == NULL || !JSON_NODE_HOLDS_OBJECT(schema))
		return fail(error, path, "invalid schema: not an object");
	s = json_node_get_object(schema);

	if (JSON_NODE_HOLDS_NULL(value) && member_is_true(s, "nullable"))
		return TRUE;
	m = json_object_get_member(s, "$ref");
	if (m != NULL && !validate_ref(ctx, m, value, path, depth, error))
		return FALSE;
	m = json_object_get_member(s, "type");
	if (m != NULL && !validate_type(m, value, path, error))
		return FALSE;
	m = json_object_get_member(s, "enum");
	if (m != NULL && !validate_enum(m, value, path, error))
		return FALSE;
	if (!validate_number(s, value, path, error))
		return FALSE;
	if (!validate_string(s, value, path, error))
		return FALSE;
	if (!validate_array(ctx, s, value, path, depth, error))
		return FALSE;
	if (!validate_object(ctx, s, value, path, depth, error))
		return FALSE;
	m = json_object_get_member(s, "anyOf");
	if (m != NULL && !validate_alternatives(ctx, m, FALSE, value, path, depth, error))
		return FALSE;
	m = json_object_get_member(s, "oneOf");
	if (m != NULL && !validate_alternatives(ctx, m, TRUE, value, path, depth, error))
		return FALSE;
	return TRUE;
}

gboolean hub_schema_validate(JsonNode *schema, JsonObject *defs, JsonNode *value, GError **error)
{
	ValidateCtx ctx = { .defs = defs };

	g_return_val_if_fail(schema != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	if (value == NULL)
		return fail(error, NULL, "missing value");
	return validate_node(&ctx, schema, value, "", 0, error);
}

/* ---- checking --------------------------------------------------------- */

typedef enum {
	REF_VISITING = 1,
	REF_DONE,
} RefState;

typedef struct {
	JsonObject *defs;
	GHashTable *checked; /* $defs names whose schema was (or is being) checked */
	GHashTable *walked;  /* $defs name -> RefState, for the $ref loop search */
} CheckCtx;

static gboolean check_node(CheckCtx *ctx, JsonNode *node, const char *where, guint depth, GError **error);

static gboolean bad(GError **error, const char *where, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static gboolean bad(GError **error, const char *where, const char *fmt, ...)
{
	g_autofree char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "%s: %s",
		    where != NULL && *where != '\0' ? where : "schema", msg);
	return FALSE;
}

static gboolean walk_same_instance(CheckCtx *ctx, JsonNode *node, const char *where, guint depth,
				   GError **error);

/*
 * A $ref chain that comes back to where it started without descending into
 * the value ("A": {"anyOf": [{"$ref": "#/$defs/A"}]}) would recurse forever.
 * Recursion through items or properties is fine: the value bounds it.
 */
static gboolean find_ref_loop(CheckCtx *ctx, const char *name, const char *where, guint depth,
			      GError **error)
{
	gpointer state = g_hash_table_lookup(ctx->walked, name);
	g_autofree char *def_where = g_strdup_printf("$defs.%s", name);
	gboolean ok;

	if (GPOINTER_TO_INT(state) == REF_DONE)
		return TRUE;
	if (GPOINTER_TO_INT(state) == REF_VISITING)
		return bad(error, where, "$ref loop: \"" LOCAL_REF_PREFIX "%s\" leads back to itself", name);
	if (depth > MAX_DEPTH)
		return bad(error, where, "$ref chain is longer than %d links", MAX_DEPTH);
	g_hash_table_insert(ctx->walked, g_strdup(name), GINT_TO_POINTER(REF_VISITING));
	ok = walk_same_instance(ctx, json_object_get_member(ctx->defs, name), def_where, depth + 1, error);
	g_hash_table_insert(ctx->walked, g_strdup(name), GINT_TO_POINTER(REF_DONE));
	return ok;
}

static gboolean walk_same_instance(CheckCtx *ctx, JsonNode *node, const char *where, guint depth,
				   GError **error)
{
	static const char *const lists[] = { "anyOf", "oneOf" };
	JsonObject *s;
	JsonNode *m;

	if (depth > MAX_DEPTH)
		return bad(error, where, "schema is nested deeper than %d levels", MAX_DEPTH);
	if (node == NULL || !JSON_NODE_HOLDS_OBJECT(node))
		return TRUE;
	s = json_node_get_object(node);
	m = json_object_get_member(s, "$ref");
	if (node_is(m, G_TYPE_STRING) && g_str_has_prefix(json_node_get_string(m), LOCAL_REF_PREFIX) &&
	    ctx->defs != NULL) {
		const char *name = json_node_get_string(m) + strlen(LOCAL_REF_PREFIX);

		if (json_object_has_member(ctx->defs, name) &&
		    !find_ref_loop(ctx, name, where, depth + 1, error))
			return FALSE;
	}
	for (gsize k = 0; k < G_N_ELEMENTS(lists); k++) {
		JsonArray *a;

		m = json_object_get_member(s, lists[k]);
		if (m == NULL || !JSON_NODE_HOLDS_ARRAY(m))
			continue;
		a = json_node_get_array(m);
		for (guint i = 0; i < json_array_get_length(a); i++) {
			g_autofree char *p = g_strdup_printf("%s.%s[%u]", where, lists[k], i);

			if (!walk_same_instance(ctx, json_array_get_element(a, i), p, depth + 1, error))
				return FALSE;
		}
	}
	return TRUE;
}

static gboolean check_ref(CheckCtx *ctx, JsonNode *m, const char *where, guint depth, GError **error)
{
	const char *ref;
	const char *name;
	JsonNode *def;

	if (!node_is(m, G_TYPE_STRING))
		return bad(error, where, "$ref must be a string");
	ref = json_node_get_string(m);
	if (!g_str_has_prefix(ref, LOCAL_REF_PREFIX)) {
		if (find_builtin(ref) == NULL)
			return bad(error, where, "unresolvable $ref \"%s\"", ref);
		return TRUE;
	}
	name = ref + strlen(LOCAL_REF_PREFIX);
	def = ctx->defs != NULL ? json_object_get_member(ctx->defs, name) : NULL;
	if (def == NULL)
		return bad(error, where, "unresolvable $ref \"%s\": no such entry in $defs", ref);
	if (!g_hash_table_contains(ctx->checked, name)) {
		g_autofree char *def_where = g_strdup_printf("$defs.%s", name);

		g_hash_table_add(ctx->checked, g_strdup(name));
		if (!check_node(ctx, def, def_where, depth + 1, error))
			return FALSE;
	}
	return find_ref_loop(ctx, name, where, depth + 1, error);
}

static gboolean check_type(JsonNode *m, const char *where, GError **error)
{
	JsonArray *a;

	if (node_is(m, G_TYPE_STRING)) {
		if (!is_type_name(json_node_get_string(m)))
			return bad(error, where, "unknown type \"%s\"", json_node_get_string(m));
		return TRUE;
	}
	if (!JSON_NODE_HOLDS_ARRAY(m) || json_array_get_length(json_node_get_array(m)) == 0)
		return bad(error, where, "type must be a type name or a non-empty array of them");
	a = json_node_get_array(m);
	for (guint i = 0; i < json_array_get_length(a); i++) {
		JsonNode *t = json_array_get_element(a, i);

		if (!node_is(t, G_TYPE_STRING) || !is_type_name(json_node_get_string(t)))
			return bad(error, where, "type[%u] is not a type name", i);
		for (guint j = 0; j < i; j++)
			if (json_node_equal(t, json_array_get_element(a, j)))
				return bad(error, where, "type \"%s\" is listed twice", json_node_get_string(t));
	}
	return TRUE;
}

static gboolean check_enum(JsonObject *s, JsonNode *m, const char *where, GError **error)
{
	JsonNode *type = json_object_get_member(s, "type");
	JsonArray *a;

	if (!JSON_NODE_HOLDS_ARRAY(m) || json_array_get_length(json_node_get_array(m)) == 0)
		return bad(error, where, "enum must be a non-empty array");
	a = json_node_get_array(m);
	for (guint i = 0; i < json_array_get_length(a); i++) {
		JsonNode *e = json_array_get_element(a, i);

		for (guint j = 0; j < i; j++) {
			if (json_node_equal(e, json_array_get_element(a, j))) {
				g_autofree char *shown = render(e);

				return bad(error, where, "enum value %s is listed twice", shown);
			}
		}
		/* a value the type rules out could never be accepted */
		if (node_is(type, G_TYPE_STRING) && !value_has_type(e, json_node_get_string(type))) {
			g_autofree char *shown = render(e);

			return bad(error, where, "enum value %s is not of type %s", shown,
				   json_node_get_string(type));
		}
	}
	return TRUE;
}

static gboolean check_pattern_string(const char *pattern, const char *where, GError **error)
{
	g_autoptr(GError) local = NULL;
	g_autoptr(GRegex) re = regex_new(pattern, &local);

	if (re == NULL)
		return bad(error, where, "invalid pattern \"%s\": %s", pattern, local->message);
	return TRUE;
}

static gboolean check_keyword(CheckCtx *ctx, JsonObject *s, const char *name, JsonNode *m,
			      const char *where, guint depth, GError **error)
{
	const Keyword *kw = find_keyword(name);
	g_autofree char *sub = path_member(where, name);
	Num n;
	gint64 count;

	if (g_str_equal(name, "not"))
		return bad(error, where, "the \"not\" keyword is not supported");
	if (kw == NULL)
		return bad(error, where, "unknown schema keyword \"%s\"", name);

	switch (kw->kind) {
	case KW_ANNOTATION:
		return TRUE;
	case KW_TYPE:
		return check_type(m, where, error);
	case KW_BOOLEAN:
		if (!node_is(m, G_TYPE_BOOLEAN))
			return bad(error, where, "%s must be true or false", name);
		return TRUE;
	case KW_ENUM:
		return check_enum(s, m, where, error);
	case KW_NUMBER:
		if (!num_get(m, &n))
			return bad(error, where, "%s must be a number", name);
		return TRUE;
	case KW_POSITIVE_NUMBER:
		if (!num_get(m, &n) || n.d <= 0)
			return bad(error, where, "%s must be a number above 0", name);
		return TRUE;
	case KW_COUNT:
		if (!count_get(m, &count))
			return bad(error, where, "%s must be a non-negative integer", name);
		return TRUE;
	case KW_PATTERN:
		if (!node_is(m, G_TYPE_STRING))
			return bad(error, where, "pattern must be a string");
		return check_pattern_string(json_node_get_string(m), where, error);
	case KW_SCHEMA:
		return check_node(ctx, m, sub, depth + 1, error);
	case KW_SCHEMA_LIST: {
		JsonArray *a;

		if (!JSON_NODE_HOLDS_ARRAY(m) || json_array_get_length(json_node_get_array(m)) == 0)
			return bad(error, where, "%s must be a non-empty array of schemas", name);
		a = json_node_get_array(m);
		for (guint i = 0; i < json_array_get_length(a); i++) {
			g_autofree char *p = path_index(sub, i);

			if (!check_node(ctx, json_array_get_element(a, i), p, depth + 1, error))
				return FALSE;
		}
		return TRUE;
	}
	case KW_SCHEMA_MAP:
	case KW_PATTERN_SCHEMA_MAP: {
		g_autoptr(GList) keys = NULL;
		JsonObject *o;

		if (!JSON_NODE_HOLDS_OBJECT(m))
			return bad(error, where, "%s must be an object", name);
		o = json_node_get_object(m);
		keys = json_object_get_members(o);
		for (GList *l = keys; l != NULL; l = l->next) {
			g_autofree char *p = path_member(sub, l->data);

			if (kw->kind == KW_PATTERN_SCHEMA_MAP && !check_pattern_string(l->data, sub, error))
				return FALSE;
			if (!check_node(ctx, json_object_get_member(o, l->data), p, depth + 1, error))
				return FALSE;
		}
		return TRUE;
	}
	case KW_NAME_LIST: {
		JsonArray *a;

		if (!JSON_NODE_HOLDS_ARRAY(m))
			return bad(error, where, "%s must be an array of names", name);
		a = json_node_get_array(m);
		for (guint i = 0; i < json_array_get_length(a); i++) {
			JsonNode *e = json_array_get_element(a, i);

			if (!node_is(e, G_TYPE_STRING))
				return bad(error, where, "%s[%u] is not a string", name, i);
			for (guint j = 0; j < i; j++)
				if (json_node_equal(e, json_array_get_element(a, j)))
					return bad(error, where, "%s lists \"%s\" twice", name,
						   json_node_get_string(e));
		}
		return TRUE;
	}
	case KW_REF:
		return check_ref(ctx, m, where, depth, error);
	}
	return bad(error, where, "unhandled keyword \"%s\"", name);
}

static gboolean check_order(JsonObject *s, const char *low, const char *high, const char *where,
			    GError **error)
{
	Num lo, hi;

	if (!num_get(json_object_get_member(s, low), &lo) || !num_get(json_object_get_member(s, high), &hi))
		return TRUE;
	if (num_cmp(&lo, &hi) > 0) {
		g_autofree char *a = num_to_string(&lo);
		g_autofree char *b = num_to_string(&hi);

		return bad(error, where, "%s %s is above %s %s, so no value can match", low, a, high, b);
	}
	return TRUE;
}

static gboolean check_node(CheckCtx *ctx, JsonNode *node, const char *where, guint depth, GError **error)
{
	g_autoptr(GList) members = NULL;
	JsonObject *s;

	if (depth > MAX_DEPTH)
		return bad(error, where, "schema is nested deeper than %d levels", MAX_DEPTH);
	if (node_is(node, G_TYPE_BOOLEAN))
		return TRUE;
	if (node == NULL || !JSON_NODE_HOLDS_OBJECT(node))
		return bad(error, where, "a schema must be an object (or true/false)");
	s = json_node_get_object(node);
	members = json_object_get_members(s);
	for (GList *l = members; l != NULL; l = l->next) {
		if (!check_keyword(ctx, s, l->data, json_object_get_member(s, l->data), where, depth, error))
			return FALSE;
	}
	if (!check_order(s, "minimum", "maximum", where, error) ||
	    !check_order(s, "minLength", "maxLength", where, error) ||
	    !check_order(s, "minItems", "maxItems", where, error))
		return FALSE;
	return TRUE;
}

gboolean hub_schema_check(JsonNode *schema, JsonObject *defs, const char *where, GError **error)
{
	g_autoptr(GHashTable) checked = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_autoptr(GHashTable) walked = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	CheckCtx ctx = { .defs = defs, .checked = checked, .walked = walked };

	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	return check_node(&ctx, schema, where != NULL ? where : "", 0, error);
}
