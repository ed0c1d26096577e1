/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-catalog.c - loads capability documents (digest A §1) and validates
 * reported values, writes, action and event parameters against them.
 *
 * A document is checked completely at load time, every schema included, so
 * the validation calls below only meet definitions that are known good.
 */
#include "config.h"

#ifndef G_LOG_DOMAIN
#define G_LOG_DOMAIN "hubd"
#endif

#include <stdio.h>
#include <string.h>
#include <glib/gstdio.h>

#include "hub-catalog.h"
#include "hub-error.h"
#include "hub-schema.h"

#define ID_PREFIX "/schema-versions/"
#define CAPABILITY_REF "/schema-versions/definition/aws.capability@1.0"

/* digest A §0.3, §1, §10.5 */
#define MAX_DOCUMENT_CHARS 50000
#define MAX_NAME_CHARS 64
#define MAX_TITLE_CHARS 256
#define MAX_DESCRIPTION_CHARS 2048
#define MAX_ACTION_DESCRIPTION_CHARS 1536
#define MAX_PARAM_DESCRIPTION_CHARS 1024
#define MAX_EVENT_DESCRIPTION_CHARS 512
#define MAX_EXTRINSIC_PROPERTIES 20
/* Deeper JSON than this is refused before parsing: the parser recurses. */
#define MAX_JSON_NESTING 64

typedef struct {
	HubCapabilityDef pub;
	JsonNode *root; /* the parsed document; every node in pub points into it */
} CapabilityDef;

struct _HubCatalog {
	GHashTable *by_id;  /* "matter.OnOff@1.4" -> CapabilityDef*, owned */
	GHashTable *latest; /* "matter.OnOff" -> CapabilityDef* of the highest version */
};

/* ---- freeing ---------------------------------------------------------- */

static void property_def_free(HubPropertyDef *p)
{
	if (p == NULL)
		return;
	g_free(p->name);
	g_free(p->extrinsic_id);
	g_clear_pointer(&p->schema, json_node_unref);
	g_free(p);
}

static void param_def_free(HubParamDef *p)
{
	if (p == NULL)
		return;
	g_free(p->name);
	g_free(p->extrinsic_id);
	g_clear_pointer(&p->schema, json_node_unref);
	g_free(p);
}

static void action_def_free(HubActionDef *a)
{
	if (a == NULL)
		return;
	g_free(a->name);
	g_free(a->extrinsic_id);
	g_clear_pointer(&a->params, g_ptr_array_unref);
	g_free(a);
}

static void event_def_free(HubEventDef *e)
{
	if (e == NULL)
		return;
	g_free(e->name);
	g_free(e->extrinsic_id);
	g_clear_pointer(&e->params, g_ptr_array_unref);
	g_free(e);
}

static void capability_def_free(CapabilityDef *c)
{
	if (c == NULL)
		return;
	g_free(c->pub.id);
	g_free(c->pub.short_id);
	g_free(c->pub.name);
	g_free(c->pub.version);
	g_free(c->pub.extrinsic_id);
	g_free(c->pub.extrinsic_version);
	g_clear_pointer(&c->pub.properties, g_ptr_array_unref);
	g_clear_pointer(&c->pub.actions, g_ptr_array_unref);
	g_clear_pointer(&c->pub.events, g_ptr_array_unref);
	g_clear_pointer(&c->pub.defs, json_object_unref);
	g_free(c->pub.path);
	g_clear_pointer(&c->root, json_node_unref);
	g_free(c);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(HubPropertyDef, property_def_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HubParamDef, param_def_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HubActionDef, action_def_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HubEventDef, event_def_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CapabilityDef, capability_def_free)

/* ---- small helpers ---------------------------------------------------- */

static gboolean invalid(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static gboolean invalid(GError **error, const char *fmt, ...)
{
	g_autofree char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error_literal(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, msg);
	return FALSE;
}

/* "where.key", or "key" at the top of the document */
static char *loc(const char *where, const char *key)
{
	if (where == NULL || *where == '\0')
		return g_strdup(key);
	return g_strdup_printf("%s.%s", where, key);
}

/* @s as a JSON string literal, so odd input cannot garble a message. */
static char *quote(const char *s)
{
	g_autoptr(JsonNode) n = json_node_init_string(json_node_alloc(), s);

	return json_to_string(n, FALSE);
}

static gboolean node_is(JsonNode *node, GType type)
{
	return node != NULL && JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == type;
}

static gboolean is_alnum_name(const char *s)
{
	if (s == NULL || *s == '\0')
		return FALSE;
	for (const char *p = s; *p != '\0'; p++)
		if (!g_ascii_isalnum(*p))
			return FALSE;
	return TRUE;
}

static gboolean all_digits(const char *s, gsize min, gsize max)
{
	gsize n = strlen(s);

	if (n < min || n > max)
		return FALSE;
	for (gsize i = 0; i < n; i++)
		if (!g_ascii_isdigit(s[i]))
			return FALSE;
	return TRUE;
}

/* Decimal 1-10 digits, or 0x/0X and 1-8 hex digits (digest A §1.8). */
static gboolean parse_extrinsic_id(const char *s, guint64 *value)
{
	gsize n;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		n = strlen(s + 2);
		if (n < 1 || n > 8)
			return FALSE;
		for (gsize i = 0; i < n; i++)
			if (!g_ascii_isxdigit(s[2 + i]))
				return FALSE;
		*value = g_ascii_strtoull(s + 2, NULL, 16);
		return TRUE;
	}
	if (!all_digits(s, 1, 10))
		return FALSE;
	*value = g_ascii_strtoull(s, NULL, 10);
	return TRUE;
}

/* MAJOR(<=3 digits).MINOR(<=3)[.PATCH(<=4)], 3-12 chars (digest A §1.2, §1.6). */
static gboolean parse_semver(const char *s, guint v[3])
{
	static const gsize max_digits[] = { 3, 3, 4 };
	g_auto(GStrv) parts = NULL;
	guint n;

	if (strlen(s) < 3 || strlen(s) > 12)
		return FALSE;
	parts = g_strsplit(s, ".", -1);
	n = g_strv_length(parts);
	if (n < 2 || n > 3)
		return FALSE;
	v[2] = 0;
	for (guint i = 0; i < n; i++) {
		if (!all_digits(parts[i], 1, max_digits[i]))
			return FALSE;
		v[i] = (guint)g_ascii_strtoull(parts[i], NULL, 10);
	}
	return TRUE;
}

static int semver_cmp(const char *a, const char *b)
{
	guint va[3] = { 0 }, vb[3] = { 0 };

	parse_semver(a, va);
	parse_semver(b, vb);
	for (guint i = 0; i < 3; i++)
		if (va[i] != vb[i])
			return va[i] < vb[i] ? -1 : 1;
	return 0;
}

/* ---- document parsing ------------------------------------------------- */

typedef struct {
	JsonObject *defs; /* "$defs" of the document, or NULL */
} Doc;

/* Refuses members of @o not named in @allowed (NULL-terminated). */
static gboolean check_members(JsonObject *o, const char *where, const char *const *allowed, GError **error)
{
	g_autoptr(GList) names = json_object_get_members(o);

	for (GList *l = names; l != NULL; l = l->next) {
		gboolean known = FALSE;

		for (gsize i = 0; allowed[i] != NULL && !known; i++)
			known = g_str_equal(l->data, allowed[i]);
		if (!known) {
			g_autofree char *q = quote(l->data);

			if (where == NULL || *where == '\0')
				return invalid(error, "unknown member %s", q);
			return invalid(error, "%s: unknown member %s", where, q);
		}
	}
	return TRUE;
}

static JsonObject *get_object(JsonNode *node, const char *where, GError **error)
{
	if (node == NULL || !JSON_NODE_HOLDS_OBJECT(node)) {
		invalid(error, "%s: expected an object", where);
		return NULL;
	}
	return json_node_get_object(node);
}

/*
 * The string member @key of @o (NULL and TRUE when absent and optional).
 * @max_chars 0 means no length limit.
 */
static gboolean get_string(JsonObject *o, const char *where, const char *key, gboolean required,
			   glong max_chars, const char **out, GError **error)
{
	JsonNode *m = json_object_get_member(o, key);
	g_autofree char *l = loc(where, key);

	*out = NULL;
	if (m == NULL) {
		if (!required)
			return TRUE;
		if (where == NULL || *where == '\0')
			return invalid(error, "missing required member \"%s\"", key);
		return invalid(error, "%s: missing required member \"%s\"", where, key);
	}
	if (!node_is(m, G_TYPE_STRING))
		return invalid(error, "%s: expected a string", l);
	if (max_chars > 0 && g_utf8_strlen(json_node_get_string(m), -1) > max_chars)
		return invalid(error, "%s: longer than %ld characters", l, max_chars);
	*out = json_node_get_string(m);
	return TRUE;
}

static gboolean get_bool(JsonObject *o, const char *where, const char *key, gboolean *out, GError **error)
{
	JsonNode *m = json_object_get_member(o, key);

	*out = FALSE;
	if (m == NULL)
		return TRUE;
	if (!node_is(m, G_TYPE_BOOLEAN)) {
		g_autofree char *l = loc(where, key);

		return invalid(error, "%s: expected true or false", l);
	}
	*out = json_node_get_boolean(m);
	return TRUE;
}

static gboolean get_extrinsic_id(JsonObject *o, const char *where, const char *key, gboolean required,
				 const char **out, GError **error)
{
	guint64 value;

	if (!get_string(o, where, key, required, 0, out, error))
		return FALSE;
	if (*out != NULL && !parse_extrinsic_id(*out, &value)) {
		g_autofree char *l = loc(where, key);
		g_autofree char *q = quote(*out);

		return invalid(error, "%s: %s is not a decimal number of 1-10 digits or 0x and 1-8 hex digits",
			       l, q);
	}
	return TRUE;
}

/* Rejects a second use of one Matter id among attributes, commands, events or fields. */
static gboolean check_unique_id(GHashTable *seen, const char *extrinsic_id, const char *owner,
				const char *where, GError **error)
{
	guint64 value = 0;
	const char *other;

	parse_extrinsic_id(extrinsic_id, &value);
	other = g_hash_table_lookup(seen, &value);
	if (other != NULL)
		return invalid(error, "%s: extrinsicId %s is already used by %s", where, extrinsic_id, other);
	g_hash_table_insert(seen, g_memdup2(&value, sizeof(value)), g_strdup(owner));
	return TRUE;
}

static GHashTable *id_set_new(void)
{
	return g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
}

static gboolean check_extrinsic_properties(JsonObject *o, const char *where, GError **error)
{
	g_autofree char *l = loc(where, "extrinsicProperties");
	g_autoptr(GList) names = NULL;
	JsonNode *m = json_object_get_member(o, "extrinsicProperties");
	JsonObject *ep;

	if (m == NULL)
		return TRUE;
	ep = get_object(m, l, error);
	if (ep == NULL)
		return FALSE;
	if (json_object_get_size(ep) > MAX_EXTRINSIC_PROPERTIES)
		return invalid(error, "%s: more than %d entries", l, MAX_EXTRINSIC_PROPERTIES);
	names = json_object_get_members(ep);
	for (GList *n = names; n != NULL; n = n->next) {
		if (!is_alnum_name(n->data)) {
			g_autofree char *q = quote(n->data);

			return invalid(error, "%s: name %s is not alphanumeric", l, q);
		}
	}
	return TRUE;
}

static gboolean check_schema(const Doc *doc, JsonObject *o, const char *where, JsonNode **out, GError **error)
{
	JsonNode *m = json_object_get_member(o, "value");
	g_autofree char *l = loc(where, "value");

	if (m == NULL)
		return invalid(error, "%s: missing required member \"value\"", where);
	if (!hub_schema_check(m, doc->defs, l, error))
		return FALSE;
	*out = json_node_ref(m);
	return TRUE;
}

static gboolean parse_property(const Doc *doc, const char *name, JsonNode *node, const char *where,
			       HubPropertyDef **out, GError **error)
{
	static const char *const allowed[] = {
		"extrinsicId", "value", "retrievable", "mutable", "reportable", "description",
		"extrinsicProperties", "$comment", NULL,
	};
	g_autoptr(HubPropertyDef) p = g_new0(HubPropertyDef, 1);
	const char *s;
	JsonObject *o;

	o = get_object(node, where, error);
	if (o == NULL || !check_members(o, where, allowed, error))
		return FALSE;
	p->name = g_strdup(name);
	if (!get_extrinsic_id(o, where, "extrinsicId", TRUE, &s, error))
		return FALSE;
	p->extrinsic_id = g_strdup(s);
	if (!get_string(o, where, "description", FALSE, 0, &s, error) ||
	    !get_bool(o, where, "retrievable", &p->retrievable, error) ||
	    !get_bool(o, where, "mutable", &p->mutable_, error) ||
	    !get_bool(o, where, "reportable", &p->reportable, error) ||
	    !check_extrinsic_properties(o, where, error) ||
	    !check_schema(doc, o, where, &p->schema, error))
		return FALSE;
	*out = g_steal_pointer(&p);
	return TRUE;
}

static gboolean parse_params(const Doc *doc, JsonObject *request, const char *where, GPtrArray *params,
			     GError **error)
{
	static const char *const allowed[] = {
		"extrinsicId", "value", "description", "extrinsicProperties", "$comment", NULL,
	};
	g_autofree char *params_where = loc(where, "parameters");
	g_autofree char *req_where = loc(where, "required");
	g_autoptr(GHashTable) ids = id_set_new();
	g_autoptr(GList) names = NULL;
	JsonObject *map;
	JsonNode *req;

	if (!json_object_has_member(request, "parameters"))
		return invalid(error, "%s: missing required member \"parameters\"", where);
	map = get_object(json_object_get_member(request, "parameters"), params_where, error);
	if (map == NULL)
		return FALSE;
	names = json_object_get_members(map);
	for (GList *l = names; l != NULL; l = l->next) {
		const char *name = l->data;
		g_autofree char *w = loc(params_where, name);
		g_autoptr(HubParamDef) p = g_new0(HubParamDef, 1);
		g_autofree char *owner = g_strdup_printf("parameter %s", name);
		const char *s;
		JsonObject *o;

		if (!is_alnum_name(name)) {
			g_autofree char *q = quote(name);

			return invalid(error, "%s: parameter name %s is not alphanumeric", params_where, q);
		}
		o = get_object(json_object_get_member(map, name), w, error);
		if (o == NULL || !check_members(o, w, allowed, error))
			return FALSE;
		p->name = g_strdup(name);
		if (!get_extrinsic_id(o, w, "extrinsicId", TRUE, &s, error))
			return FALSE;
		p->extrinsic_id = g_strdup(s);
		if (!check_unique_id(ids, s, owner, w, error) ||
		    !get_string(o, w, "description", FALSE, MAX_PARAM_DESCRIPTION_CHARS, &s, error) ||
		    !check_extrinsic_properties(o, w, error) ||
		    !check_schema(doc, o, w, &p->schema, error))
			return FALSE;
		g_ptr_array_add(params, g_steal_pointer(&p));
	}

	req = json_object_get_member(request, "required");
	if (req != NULL) {
		JsonArray *a;

		if (!JSON_NODE_HOLDS_ARRAY(req))
			return invalid(error, "%s: expected an array of parameter names", req_where);
		a = json_node_get_array(req);
		for (guint i = 0; i < json_array_get_length(a); i++) {
			JsonNode *e = json_array_get_element(a, i);
			HubParamDef *found = NULL;

			if (!node_is(e, G_TYPE_STRING))
				return invalid(error, "%s[%u]: expected a parameter name", req_where, i);
			for (guint j = 0; j < params->len && found == NULL; j++) {
				HubParamDef *p = g_ptr_array_index(params, j);

				if (g_str_equal(p->name, json_node_get_string(e)))
					found = p;
			}
			if (found == NULL) {
				g_autofree char *q = quote(json_node_get_string(e));

				return invalid(error, "%s: %s is not one of the parameters", req_where, q);
			}
			if (found->required)
				return invalid(error, "%s: \"%s\" is listed twice", req_where, found->name);
			found->required = TRUE;
		}
	}
	return TRUE;
}

/* An action's "response": checked like a request, then dropped (nothing uses it yet). */
static gboolean check_response(const Doc *doc, JsonObject *action, const char *where, GError **error)
{
	static const char *const allowed[] = {
		"parameters", "required", "name", "description", "extrinsicId", "extrinsicProperties",
		"errors", "$comment", NULL,
	};
	g_autofree char *w = loc(where, "response");
	g_autoptr(GPtrArray) params = g_ptr_array_new_with_free_func((GDestroyNotify)param_def_free);
	JsonNode *m = json_object_get_member(action, "response");
	JsonObject *o;
	const char *s;

	if (m == NULL)
		return TRUE;
	o = get_object(m, w, error);
	if (o == NULL || !check_members(o, w, allowed, error))
		return FALSE;
	if (!get_string(o, w, "name", FALSE, MAX_NAME_CHARS, &s, error) ||
	    !get_string(o, w, "description", FALSE, MAX_DESCRIPTION_CHARS, &s, error) ||
	    !get_extrinsic_id(o, w, "extrinsicId", FALSE, &s, error) ||
	    !check_extrinsic_properties(o, w, error))
		return FALSE;
	if (json_object_has_member(o, "errors") && !JSON_NODE_HOLDS_ARRAY(json_object_get_member(o, "errors")))
		return invalid(error, "%s.errors: expected an array", w);
	return parse_params(doc, o, w, params, error);
}

static gboolean parse_action(const Doc *doc, JsonNode *node, const char *where, HubActionDef **out,
			     GError **error)
{
	static const char *const allowed[] = {
		"name", "extrinsicId", "description", "extrinsicProperties", "request", "response",
		"$comment", NULL,
	};
	static const char *const request_allowed[] = {
		"parameters", "required", "description", "extrinsicId", "extrinsicProperties", "$comment", NULL,
	};
	g_autoptr(HubActionDef) a = g_new0(HubActionDef, 1);
	JsonObject *o;
	JsonNode *m;
	const char *s;

	o = get_object(node, where, error);
	if (o == NULL || !check_members(o, where, allowed, error))
		return FALSE;
	a->params = g_ptr_array_new_with_free_func((GDestroyNotify)param_def_free);
	if (!get_string(o, where, "name", TRUE, MAX_NAME_CHARS, &s, error))
		return FALSE;
	if (!is_alnum_name(s)) {
		g_autofree char *q = quote(s);

		return invalid(error, "%s.name: %s is not alphanumeric", where, q);
	}
	if (g_str_equal(s, "ReadState") || g_str_equal(s, "UpdateState"))
		return invalid(error, "%s.name: %s is built into every capability and cannot be defined", where, s);
	a->name = g_strdup(s);
	if (!get_extrinsic_id(o, where, "extrinsicId", TRUE, &s, error))
		return FALSE;
	a->extrinsic_id = g_strdup(s);
	if (!get_string(o, where, "description", FALSE, MAX_ACTION_DESCRIPTION_CHARS, &s, error) ||
	    !check_extrinsic_properties(o, where, error))
		return FALSE;
	m = json_object_get_member(o, "request");
	if (m != NULL) {
		g_autofree char *w = loc(where, "request");
		JsonObject *req = get_object(m, w, error);

		if (req == NULL || !check_members(req, w, request_allowed, error))
			return FALSE;
		if (!get_string(req, w, "description", FALSE, MAX_DESCRIPTION_CHARS, &s, error) ||
		    !get_extrinsic_id(req, w, "extrinsicId", FALSE, &s, error) ||
		    !check_extrinsic_properties(req, w, error) ||
		    !parse_params(doc, req, w, a->params, error))
			return FALSE;
	}
	if (!check_response(doc, o, where, error))
		return FALSE;
	*out = g_steal_pointer(&a);
	return TRUE;
}

static gboolean parse_event(const Doc *doc, JsonNode *node, const char *where, HubEventDef **out,
			    GError **error)
{
	static const char *const allowed[] = {
		"name", "extrinsicId", "description", "extrinsicProperties", "request", "$comment", NULL,
	};
	/* digest A §1.14: nothing but parameters; "required" is ours, as for actions */
	static const char *const request_allowed[] = { "parameters", "required", "$comment", NULL };
	g_autoptr(HubEventDef) e = g_new0(HubEventDef, 1);
	JsonObject *o;
	JsonNode *m;
	const char *s;

	o = get_object(node, where, error);
	if (o == NULL || !check_members(o, where, allowed, error))
		return FALSE;
	e->params = g_ptr_array_new_with_free_func((GDestroyNotify)param_def_free);
	if (!get_string(o, where, "name", TRUE, MAX_NAME_CHARS, &s, error))
		return FALSE;
	if (!is_alnum_name(s)) {
		g_autofree char *q = quote(s);

		return invalid(error, "%s.name: %s is not alphanumeric", where, q);
	}
	e->name = g_strdup(s);
	if (!get_extrinsic_id(o, where, "extrinsicId", TRUE, &s, error))
		return FALSE;
	e->extrinsic_id = g_strdup(s);
	if (!get_string(o, where, "description", FALSE, MAX_EVENT_DESCRIPTION_CHARS, &s, error) ||
	    !check_extrinsic_properties(o, where, error))
		return FALSE;
	m = json_object_get_member(o, "request");
	if (m != NULL) {
		g_autofree char *w = loc(where, "request");
		JsonObject *req = get_object(m, w, error);

		if (req == NULL || !check_members(req, w, request_allowed, error) ||
		    !parse_params(doc, req, w, e->params, error))
			return FALSE;
	}
	*out = g_steal_pointer(&e);
	return TRUE;
}

/*
 * "/schema-versions/capability/<ns>.<Name>@<semver>" (digest A §1.2). The
 * reserved-namespace rule is for documents uploaded to the cloud; the
 * bundled matter.* and aws.* definitions are ours.
 */
static gboolean parse_id(const char *id, CapabilityDef *cap, GError **error)
{
	g_autofree char *q = quote(id);
	g_auto(GStrv) fragments = NULL;
	const char *rest, *at;
	g_autofree char *identity = NULL;
	guint v[3];

	if (!g_str_has_prefix(id, ID_PREFIX))
		return invalid(error, "$id %s must start with \"" ID_PREFIX "\"", q);
	rest = id + strlen(ID_PREFIX);
	if (!g_str_has_prefix(rest, "capability/"))
		return invalid(error, "$id %s is not a capability id (\"" ID_PREFIX "capability/<namespace>.<Name>@<version>\")", q);
	rest += strlen("capability/");
	at = strrchr(rest, '@');
	if (at == NULL)
		return invalid(error, "$id %s has no \"@<version>\"", q);
	identity = g_strndup(rest, at - rest);
	fragments = g_strsplit(identity, ".", -1);
	if (g_strv_length(fragments) < 2)
		return invalid(error, "$id %s must name <namespace>.<Name>", q);
	for (guint i = 0; fragments[i] != NULL; i++)
		if (!is_alnum_name(fragments[i]))
			return invalid(error, "$id %s: \"%s\" must be one or more letters or digits", q, fragments[i]);
	if (strlen(fragments[0]) < 3 || strlen(fragments[0]) > 12)
		return invalid(error, "$id %s: root namespace \"%s\" must be 3 to 12 characters long", q, fragments[0]);
	if (!parse_semver(at + 1, v))
		return invalid(error, "$id %s: version \"%s\" must be MAJOR.MINOR[.PATCH] (up to 3, 3 and 4 digits)",
			       q, at + 1);
	cap->pub.id = g_strdup(rest);
	cap->pub.short_id = g_steal_pointer(&identity);
	cap->pub.version = g_strdup(at + 1);
	return TRUE;
}

static gboolean parse_header(JsonObject *root, CapabilityDef *cap, GError **error)
{
	const char *s;
	guint v[3];

	if (!get_string(root, "", "$id", TRUE, 0, &s, error) || !parse_id(s, cap, error))
		return FALSE;
	if (!get_string(root, "", "$ref", FALSE, 0, &s, error))
		return FALSE;
	if (s != NULL && !g_str_equal(s, CAPABILITY_REF))
		return invalid(error, "$ref of a capability must be \"" CAPABILITY_REF "\"");
	if (!get_string(root, "", "name", TRUE, MAX_NAME_CHARS, &s, error))
		return FALSE;
	if (!g_ascii_isalpha(s[0]))
		return invalid(error, "name \"%s\" must start with a letter", s);
	for (const char *p = s; *p != '\0'; p++)
		if (!g_ascii_isalnum(*p) && strchr("./ -", *p) == NULL)
			return invalid(error, "name \"%s\" may only hold letters, digits, '.', '/', '-' and spaces", s);
	cap->pub.name = g_strdup(s);
	if (!get_string(root, "", "title", FALSE, MAX_TITLE_CHARS, &s, error) ||
	    !get_string(root, "", "description", FALSE, MAX_DESCRIPTION_CHARS, &s, error) ||
	    !get_string(root, "", "version", FALSE, 0, &s, error))
		return FALSE;
	if (s != NULL && !parse_semver(s, v))
		return invalid(error, "version \"%s\" must be MAJOR.MINOR[.PATCH] (up to 3, 3 and 4 digits)", s);
	if (!get_extrinsic_id(root, "", "extrinsicId", TRUE, &s, error))
		return FALSE;
	cap->pub.extrinsic_id = g_strdup(s);
	if (!get_string(root, "", "extrinsicVersion", TRUE, 0, &s, error))
		return FALSE;
	if (!all_digits(s, 1, 10))
		return invalid(error, "extrinsicVersion \"%s\" must be 1 to 10 decimal digits", s);
	cap->pub.extrinsic_version = g_strdup(s);
	return TRUE;
}

static gboolean parse_defs(JsonObject *root, Doc *doc, GError **error)
{
	g_autoptr(GList) names = NULL;
	JsonNode *m = json_object_get_member(root, "$defs");

	if (m == NULL)
		return TRUE;
	doc->defs = get_object(m, "$defs", error);
	if (doc->defs == NULL)
		return FALSE;
	names = json_object_get_members(doc->defs);
	for (GList *l = names; l != NULL; l = l->next) {
		const char *name = l->data;
		g_autofree char *w = loc("$defs", name);

		if (*name == '\0')
			return invalid(error, "$defs: empty name");
		for (const char *p = name; *p != '\0'; p++) {
			if (!g_ascii_isalnum(*p) && strchr("-._~", *p) == NULL) {
				g_autofree char *q = quote(name);

				return invalid(error, "$defs: name %s may only hold letters, digits and - . _ ~", q);
			}
		}
		if (!hub_schema_check(json_object_get_member(doc->defs, name), doc->defs, w, error))
			return FALSE;
	}
	return TRUE;
}

static gboolean parse_properties(JsonObject *root, const Doc *doc, CapabilityDef *cap, GError **error)
{
	g_autoptr(GHashTable) ids = id_set_new();
	g_autoptr(GList) names = NULL;
	JsonNode *m = json_object_get_member(root, "properties");
	JsonObject *map;

	if (m == NULL)
		return TRUE;
	map = get_object(m, "properties", error);
	if (map == NULL)
		return FALSE;
	names = json_object_get_members(map);
	for (GList *l = names; l != NULL; l = l->next) {
		const char *name = l->data;
		g_autofree char *w = loc("properties", name);
		g_autofree char *owner = g_strdup_printf("property %s", name);
		HubPropertyDef *p = NULL;

		if (!is_alnum_name(name)) {
			g_autofree char *q = quote(name);

			return invalid(error, "properties: property name %s is not alphanumeric", q);
		}
		if (!parse_property(doc, name, json_object_get_member(map, name), w, &p, error))
			return FALSE;
		g_ptr_array_add(cap->pub.properties, p);
		if (!check_unique_id(ids, p->extrinsic_id, owner, w, error))
			return FALSE;
	}
	return TRUE;
}

static gboolean parse_actions(JsonObject *root, const Doc *doc, CapabilityDef *cap, GError **error)
{
	g_autoptr(GHashTable) ids = id_set_new();
	JsonNode *m = json_object_get_member(root, "actions");
	JsonArray *a;

	if (m == NULL)
		return TRUE;
	if (!JSON_NODE_HOLDS_ARRAY(m))
		return invalid(error, "actions: expected an array");
	a = json_node_get_array(m);
	for (guint i = 0; i < json_array_get_length(a); i++) {
		g_autofree char *w = g_strdup_printf("actions[%u]", i);
		g_autofree char *owner = NULL;
		g_autoptr(HubActionDef) action = NULL;

		if (!parse_action(doc, json_array_get_element(a, i), w, &action, error))
			return FALSE;
		if (hub_capability_def_find_action(&cap->pub, action->name) != NULL)
			return invalid(error, "%s: a second action named %s", w, action->name);
		owner = g_strdup_printf("action %s", action->name);
		if (!check_unique_id(ids, action->extrinsic_id, owner, w, error))
			return FALSE;
		g_ptr_array_add(cap->pub.actions, g_steal_pointer(&action));
	}
	return TRUE;
}

static gboolean parse_events(JsonObject *root, const Doc *doc, CapabilityDef *cap, GError **error)
{
	g_autoptr(GHashTable) ids = id_set_new();
	JsonNode *m = json_object_get_member(root, "events");
	JsonArray *a;

	if (m == NULL)
		return TRUE;
	if (!JSON_NODE_HOLDS_ARRAY(m))
		return invalid(error, "events: expected an array");
	a = json_node_get_array(m);
	for (guint i = 0; i < json_array_get_length(a); i++) {
		g_autofree char *w = g_strdup_printf("events[%u]", i);
		g_autofree char *owner = NULL;
		g_autoptr(HubEventDef) event = NULL;

		if (!parse_event(doc, json_array_get_element(a, i), w, &event, error))
			return FALSE;
		if (hub_capability_def_find_event(&cap->pub, event->name) != NULL)
			return invalid(error, "%s: a second event named %s", w, event->name);
		owner = g_strdup_printf("event %s", event->name);
		if (!check_unique_id(ids, event->extrinsic_id, owner, w, error))
			return FALSE;
		g_ptr_array_add(cap->pub.events, g_steal_pointer(&event));
	}
	return TRUE;
}

static gboolean parse_document(JsonNode *root_node, CapabilityDef *cap, GError **error)
{
	static const char *const allowed[] = {
		"$id", "$ref", "name", "title", "description", "version", "extrinsicId", "extrinsicVersion",
		"$defs", "properties", "actions", "events", "$comment", NULL,
	};
	Doc doc = { NULL };
	JsonObject *root;

	if (!JSON_NODE_HOLDS_OBJECT(root_node))
		return invalid(error, "the document must be a JSON object");
	root = json_node_get_object(root_node);
	if (!parse_header(root, cap, error) || !check_members(root, "", allowed, error) ||
	    !parse_defs(root, &doc, error))
		return FALSE;
	if (doc.defs != NULL)
		cap->pub.defs = json_object_ref(doc.defs);
	if (!parse_properties(root, &doc, cap, error) || !parse_actions(root, &doc, cap, error) ||
	    !parse_events(root, &doc, cap, error))
		return FALSE;
	if (cap->pub.properties->len + cap->pub.actions->len + cap->pub.events->len == 0)
		return invalid(error, "a capability needs at least one property, action or event");
	return TRUE;
}

/* json-glib's parser recurses per nesting level; refuse absurd nesting first. */
static gboolean check_nesting(const char *text, gsize len, GError **error)
{
	gboolean in_string = FALSE, escaped = FALSE;
	guint depth = 0;

	for (gsize i = 0; i < len; i++) {
		char c = text[i];

		if (in_string) {
			if (escaped)
				escaped = FALSE;
			else if (c == '\\')
				escaped = TRUE;
			else if (c == '"')
				in_string = FALSE;
		} else if (c == '"') {
			in_string = TRUE;
		} else if (c == '{' || c == '[') {
			if (++depth > MAX_JSON_NESTING)
				return invalid(error, "JSON is nested deeper than %d levels", MAX_JSON_NESTING);
		} else if ((c == '}' || c == ']') && depth > 0) {
			depth--;
		}
	}
	return TRUE;
}

static JsonNode *parse_json(const char *text, gsize len, GError **error)
{
	g_autoptr(JsonParser) parser = json_parser_new_immutable();
	g_autoptr(GError) local = NULL;
	JsonNode *root;
	guint line, column;
	int skip = 0;

	if (!json_parser_load_from_data(parser, text, len, &local)) {
		/* "<data>:3:7: Parse error: unexpected ..." */
		if (sscanf(local->message, "<data>:%u:%u: Parse error: %n", &line, &column, &skip) == 2 && skip > 0)
			invalid(error, "invalid JSON at line %u, column %u: %s", line, column, local->message + skip);
		else
			invalid(error, "invalid JSON: %s", local->message);
		return NULL;
	}
	root = json_parser_get_root(parser);
	if (root == NULL) {
		invalid(error, "invalid JSON: the file is empty");
		return NULL;
	}
	return json_node_ref(root);
}

static gint io_error_code(const GError *e)
{
	return g_error_matches(e, G_FILE_ERROR, G_FILE_ERROR_NOENT) ? HUB_ERROR_NOT_FOUND : HUB_ERROR_FAILED;
}

static gboolean read_document(const char *path, char **text, gsize *len, GError **error)
{
	g_autoptr(GError) local = NULL;
	GStatBuf st;
	glong chars;

	/* a file four times the limit cannot be within it, even in UTF-8 */
	if (g_stat(path, &st) == 0 && st.st_size > 4 * MAX_DOCUMENT_CHARS)
		return invalid(error, "the document is %lld bytes long, more than the limit of %d characters",
			       (long long)st.st_size, MAX_DOCUMENT_CHARS);
	if (!g_file_get_contents(path, text, len, &local)) {
		g_set_error(error, HUB_ERROR, io_error_code(local), "cannot read the file: %s", local->message);
		return FALSE;
	}
	if (!g_utf8_validate(*text, *len, NULL))
		return invalid(error, "the document is not valid UTF-8 text");
	chars = g_utf8_strlen(*text, *len);
	if (chars > MAX_DOCUMENT_CHARS)
		return invalid(error, "the document is %ld characters long, more than the limit of %d",
			       chars, MAX_DOCUMENT_CHARS);
	return TRUE;
}

/* Errors do not name the file; the callers add it. */
static gboolean load_file(HubCatalog *catalog, const char *path, GError **error)
{
	g_autoptr(CapabilityDef) cap = g_new0(CapabilityDef, 1);
	g_autofree char *text = NULL;
	CapabilityDef *existing, *latest;
	gsize len = 0;

	if (!read_document(path, &text, &len, error) || !check_nesting(text, len, error))
		return FALSE;
	cap->root = parse_json(text, len, error);
	if (cap->root == NULL)
		return FALSE;
	cap->pub.properties = g_ptr_array_new_with_free_func((GDestroyNotify)property_def_free);
	cap->pub.actions = g_ptr_array_new_with_free_func((GDestroyNotify)action_def_free);
	cap->pub.events = g_ptr_array_new_with_free_func((GDestroyNotify)event_def_free);
	cap->pub.path = g_strdup(path);
	if (!parse_document(cap->root, cap, error))
		return FALSE;

	existing = g_hash_table_lookup(catalog->by_id, cap->pub.id);
	if (existing != NULL) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_EXISTS, "capability %s is already loaded from %s",
			    cap->pub.id, existing->pub.path);
		return FALSE;
	}
	latest = g_hash_table_lookup(catalog->latest, cap->pub.short_id);
	if (latest == NULL || semver_cmp(cap->pub.version, latest->pub.version) > 0)
		g_hash_table_replace(catalog->latest, cap->pub.short_id, cap);
	g_hash_table_insert(catalog->by_id, cap->pub.id, cap);
	g_steal_pointer(&cap);
	return TRUE;
}

/* ---- the catalog ------------------------------------------------------ */

HubCatalog *hub_catalog_new(void)
{
	HubCatalog *catalog = g_new0(HubCatalog, 1);

	/* keys are the id strings inside the values */
	catalog->by_id = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
					       (GDestroyNotify)capability_def_free);
	catalog->latest = g_hash_table_new(g_str_hash, g_str_equal);
	return catalog;
}

void hub_catalog_free(HubCatalog *catalog)
{
	if (catalog == NULL)
		return;
	g_hash_table_unref(catalog->latest);
	g_hash_table_unref(catalog->by_id);
	g_free(catalog);
}

gboolean hub_catalog_load_file(HubCatalog *catalog, const char *path, GError **error)
{
	g_return_val_if_fail(catalog != NULL, FALSE);
	g_return_val_if_fail(path != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	if (!load_file(catalog, path, error)) {
		g_prefix_error(error, "%s: ", path);
		return FALSE;
	}
	return TRUE;
}

static gint compare_strings(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

gint hub_catalog_load_dir(HubCatalog *catalog, const char *dir, GError **error)
{
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GError) local = NULL;
	g_autoptr(GDir) d = NULL;
	const char *name;
	gint loaded = 0;

	g_return_val_if_fail(catalog != NULL, -1);
	g_return_val_if_fail(dir != NULL, -1);
	g_return_val_if_fail(error == NULL || *error == NULL, -1);

	d = g_dir_open(dir, 0, &local);
	if (d == NULL) {
		g_set_error(error, HUB_ERROR, io_error_code(local), "Cannot read capability directory %s: %s",
			    dir, local->message);
		return -1;
	}
	while ((name = g_dir_read_name(d)) != NULL)
		if (name[0] != '.' && g_str_has_suffix(name, ".json"))
			g_ptr_array_add(names, g_strdup(name));
	g_ptr_array_sort(names, compare_strings);

	for (guint i = 0; i < names->len; i++) {
		g_autofree char *path = g_build_filename(dir, g_ptr_array_index(names, i), NULL);
		g_autoptr(GError) failure = NULL;

		if (!g_file_test(path, G_FILE_TEST_IS_REGULAR))
			continue;
		if (!load_file(catalog, path, &failure)) {
			g_warning("Failed to load capability file %s: %s, ignoring", path, failure->message);
			continue;
		}
		loaded++;
	}
	return loaded;
}

const HubCapabilityDef *hub_catalog_lookup(HubCatalog *catalog, const char *id)
{
	CapabilityDef *cap;

	g_return_val_if_fail(catalog != NULL, NULL);
	g_return_val_if_fail(id != NULL, NULL);

	if (strchr(id, '@') != NULL)
		cap = g_hash_table_lookup(catalog->by_id, id);
	else
		cap = g_hash_table_lookup(catalog->latest, id);
	return cap != NULL ? &cap->pub : NULL;
}

guint hub_catalog_size(HubCatalog *catalog)
{
	g_return_val_if_fail(catalog != NULL, 0);

	return g_hash_table_size(catalog->by_id);
}

GPtrArray *hub_catalog_list_ids(HubCatalog *catalog)
{
	GPtrArray *ids;
	GHashTableIter iter;
	gpointer key;

	g_return_val_if_fail(catalog != NULL, NULL);

	ids = g_ptr_array_new_full(g_hash_table_size(catalog->by_id), g_free);
	g_hash_table_iter_init(&iter, catalog->by_id);
	while (g_hash_table_iter_next(&iter, &key, NULL))
		g_ptr_array_add(ids, g_strdup(key));
	g_ptr_array_sort(ids, compare_strings);
	return ids;
}

/* ---- lookups within a capability -------------------------------------- */

const HubPropertyDef *hub_capability_def_find_property(const HubCapabilityDef *cap, const char *name)
{
	g_return_val_if_fail(cap != NULL, NULL);
	g_return_val_if_fail(name != NULL, NULL);

	for (guint i = 0; i < cap->properties->len; i++) {
		const HubPropertyDef *p = g_ptr_array_index(cap->properties, i);

		if (g_str_equal(p->name, name))
			return p;
	}
	return NULL;
}

const HubActionDef *hub_capability_def_find_action(const HubCapabilityDef *cap, const char *name)
{
	g_return_val_if_fail(cap != NULL, NULL);
	g_return_val_if_fail(name != NULL, NULL);

	for (guint i = 0; i < cap->actions->len; i++) {
		const HubActionDef *a = g_ptr_array_index(cap->actions, i);

		if (g_str_equal(a->name, name))
			return a;
	}
	return NULL;
}

const HubEventDef *hub_capability_def_find_event(const HubCapabilityDef *cap, const char *name)
{
	g_return_val_if_fail(cap != NULL, NULL);
	g_return_val_if_fail(name != NULL, NULL);

	for (guint i = 0; i < cap->events->len; i++) {
		const HubEventDef *e = g_ptr_array_index(cap->events, i);

		if (g_str_equal(e->name, name))
			return e;
	}
	return NULL;
}

/* ---- validation ------------------------------------------------------- */

static const HubPropertyDef *require_property(const HubCapabilityDef *cap, const char *property,
					      GError **error)
{
	const HubPropertyDef *p = hub_capability_def_find_property(cap, property);

	if (p == NULL) {
		g_autofree char *q = quote(property);

		g_set_error(error, HUB_ERROR, HUB_ERROR_NOT_FOUND, "capability %s has no property %s", cap->id, q);
	}
	return p;
}

/* Sets INVALID_ARGUMENT "<what>: <problem>", e.g. "property CurrentLevel: value 300 is above ...". */
static gboolean validate_value(const HubCapabilityDef *cap, JsonNode *schema, JsonNode *value,
			       const char *what, GError **error)
{
	g_autoptr(GError) local = NULL;

	if (hub_schema_validate(schema, cap->defs, value, &local))
		return TRUE;
	return invalid(error, "%s: %s", what, local->message);
}

gboolean hub_capability_def_validate_report(const HubCapabilityDef *cap, const char *property,
					    JsonNode *value, GError **error)
{
	g_autofree char *what = NULL;
	const HubPropertyDef *p;

	g_return_val_if_fail(cap != NULL, FALSE);
	g_return_val_if_fail(property != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	p = require_property(cap, property, error);
	if (p == NULL)
		return FALSE;
	what = g_strdup_printf("property %s", p->name);
	return validate_value(cap, p->schema, value, what, error);
}

gboolean hub_capability_def_validate_write(const HubCapabilityDef *cap, const char *property,
					   JsonNode *value, GError **error)
{
	g_autofree char *what = NULL;
	const HubPropertyDef *p;

	g_return_val_if_fail(cap != NULL, FALSE);
	g_return_val_if_fail(property != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	p = require_property(cap, property, error);
	if (p == NULL)
		return FALSE;
	if (!p->mutable_) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_NOT_SUPPORTED, "property %s is not mutable", p->name);
		return FALSE;
	}
	what = g_strdup_printf("property %s", p->name);
	return validate_value(cap, p->schema, value, what, error);
}

/* {"propertiesToRead": ["OnOff", ...]} or {"propertiesToRead": ["*"]} */
static gboolean validate_read_state(const HubCapabilityDef *cap, JsonObject *params, GError **error)
{
	g_autoptr(GList) names = NULL;
	JsonNode *m;
	JsonArray *a;
	guint n;

	names = params != NULL ? json_object_get_members(params) : NULL;
	for (GList *l = names; l != NULL; l = l->next) {
		if (!g_str_equal(l->data, "propertiesToRead")) {
			g_autofree char *q = quote(l->data);

			return invalid(error, "action ReadState has no parameter %s", q);
		}
	}
	m = params != NULL ? json_object_get_member(params, "propertiesToRead") : NULL;
	if (m == NULL)
		return invalid(error, "action ReadState: missing required parameter propertiesToRead");
	if (!JSON_NODE_HOLDS_ARRAY(m))
		return invalid(error, "action ReadState: propertiesToRead must be an array of property names or [\"*\"]");
	a = json_node_get_array(m);
	n = json_array_get_length(a);
	if (n == 0)
		return invalid(error, "action ReadState: propertiesToRead is empty; name properties or use [\"*\"]");
	for (guint i = 0; i < n; i++) {
		JsonNode *e = json_array_get_element(a, i);
		const HubPropertyDef *p;
		const char *name;

		if (!node_is(e, G_TYPE_STRING))
			return invalid(error, "action ReadState: propertiesToRead[%u] is not a property name", i);
		name = json_node_get_string(e);
		if (g_str_equal(name, "*")) {
			if (n > 1)
				return invalid(error, "action ReadState: \"*\" must be the only entry of propertiesToRead");
			return TRUE;
		}
		p = require_property(cap, name, error);
		if (p == NULL)
			return FALSE;
		if (!p->retrievable) {
			g_set_error(error, HUB_ERROR, HUB_ERROR_NOT_SUPPORTED, "property %s is not retrievable", p->name);
			return FALSE;
		}
	}
	return TRUE;
}

/* {"Property": value, ...}: at least one, each a valid write. */
static gboolean validate_update_state(const HubCapabilityDef *cap, JsonObject *params, GError **error)
{
	g_autoptr(GList) names = NULL;

	if (params == NULL || json_object_get_size(params) == 0)
		return invalid(error, "action UpdateState needs at least one property to write");
	names = json_object_get_members(params);
	for (GList *l = names; l != NULL; l = l->next)
		if (!hub_capability_def_validate_write(cap, l->data, json_object_get_member(params, l->data), error))
			return FALSE;
	return TRUE;
}

/* @kind "action" or "event" named @name with definitions @defs. */
static gboolean validate_params(const HubCapabilityDef *cap, const char *kind, const char *name,
				GPtrArray *defs, JsonObject *params, GError **error)
{
	g_autoptr(GList) names = params != NULL ? json_object_get_members(params) : NULL;

	for (GList *l = names; l != NULL; l = l->next) {
		const HubParamDef *def = NULL;
		g_autofree char *what = NULL;

		for (guint i = 0; i < defs->len && def == NULL; i++) {
			const HubParamDef *d = g_ptr_array_index(defs, i);

			if (g_str_equal(d->name, l->data))
				def = d;
		}
		if (def == NULL) {
			g_autofree char *q = quote(l->data);

			return invalid(error, "%s %s has no parameter %s", kind, name, q);
		}
		/* "action MoveToLevel, parameter Level: value 300 is above the maximum 254" */
		what = g_strdup_printf("%s %s, parameter %s", kind, name, def->name);
		if (!validate_value(cap, def->schema, json_object_get_member(params, l->data), what, error))
			return FALSE;
	}
	for (guint i = 0; i < defs->len; i++) {
		const HubParamDef *d = g_ptr_array_index(defs, i);

		if (d->required && (params == NULL || !json_object_has_member(params, d->name)))
			return invalid(error, "%s %s: missing required parameter %s", kind, name, d->name);
	}
	return TRUE;
}

gboolean hub_capability_def_validate_action(const HubCapabilityDef *cap, const char *action,
					    JsonObject *params, GError **error)
{
	const HubActionDef *a;

	g_return_val_if_fail(cap != NULL, FALSE);
	g_return_val_if_fail(action != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	if (g_str_equal(action, "ReadState"))
		return validate_read_state(cap, params, error);
	if (g_str_equal(action, "UpdateState"))
		return validate_update_state(cap, params, error);
	a = hub_capability_def_find_action(cap, action);
	if (a == NULL) {
		g_autofree char *q = quote(action);

		g_set_error(error, HUB_ERROR, HUB_ERROR_NOT_FOUND, "capability %s has no action %s", cap->id, q);
		return FALSE;
	}
	return validate_params(cap, "action", a->name, a->params, params, error);
}

gboolean hub_capability_def_validate_event(const HubCapabilityDef *cap, const char *event,
					   JsonObject *params, GError **error)
{
	const HubEventDef *e;

	g_return_val_if_fail(cap != NULL, FALSE);
	g_return_val_if_fail(event != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	e = hub_capability_def_find_event(cap, event);
	if (e == NULL) {
		g_autofree char *q = quote(event);

		g_set_error(error, HUB_ERROR, HUB_ERROR_NOT_FOUND, "capability %s has no event %s", cap->id, q);
		return FALSE;
	}
	return validate_params(cap, "event", e->name, e->params, params, error);
}
