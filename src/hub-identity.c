/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include <json-glib/json-glib.h>

#include "hub-atomic-file.h"
#include "hub-error.h"
#include "hub-identity.h"
#include "hub-json.h"

#define PLACEHOLDER "<SPECIFY_THIS_FIELD>"
#define FIELD_MAX 512

static const char *const state_names[] = { "NOT_PROVISIONED", "PROVISIONING", "PROVISIONED", "OFFBOARDING" };

const char *hub_provisioning_state_to_string(HubProvisioningState state)
{
	return (guint)state < G_N_ELEMENTS(state_names) ? state_names[state] : "NOT_PROVISIONED";
}

gboolean hub_provisioning_state_from_string(const char *text, HubProvisioningState *state)
{
	for (guint i = 0; text && i < G_N_ELEMENTS(state_names); i++)
		if (g_str_equal(text, state_names[i])) {
			*state = (HubProvisioningState)i;
			return TRUE;
		}
	return FALSE;
}

void hub_identity_free(HubIdentity *identity)
{
	if (!identity)
		return;
	g_free(identity->method);
	g_free(identity->claim_cert_path);
	g_free(identity->claim_key_path);
	g_free(identity->template_name);
	g_free(identity->endpoint);
	g_free(identity->serial_number);
	g_free(identity->upc);
	g_free(identity->ean);
	g_free(identity->step);
	g_free(identity->failure_reason);
	g_free(identity->client_id);
	g_free(identity->managed_thing_id);
	g_free(identity->certificate_id);
	g_free(identity->path);
	if (identity->document)
		json_node_unref(identity->document);
	g_free(identity);
}

/* Errors name the file and the member, e.g. "…/iotmi_config.json: ro.SN: missing". */
static gboolean field_error(GError **error, const char *path, const char *section, const char *key,
			    const char *problem)
{
	g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "%s: %s.%s: %s", path, section, key, problem);
	return FALSE;
}

/* A string member: absent is allowed unless @required; when present it must
 * be a non-empty string of printable text without the template placeholder. */
static gboolean read_string(JsonObject *object, const char *path, const char *section, const char *key,
			    gboolean required, char **out, GError **error)
{
	JsonNode *node = json_object_get_member(object, key);
	const char *text;

	if (!node || JSON_NODE_HOLDS_NULL(node)) {
		if (required)
			return field_error(error, path, section, key, "missing");
		return TRUE;
	}
	if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING)
		return field_error(error, path, section, key, "must be a string");
	text = json_node_get_string(node);
	if (!*text)
		return field_error(error, path, section, key, "is empty");
	if (strstr(text, PLACEHOLDER))
		return field_error(error, path, section, key, "still holds the template's " PLACEHOLDER);
	if (strlen(text) > FIELD_MAX)
		return field_error(error, path, section, key, "is too long");
	for (const char *p = text; *p; p = g_utf8_next_char(p))
		if (g_unichar_iscntrl(g_utf8_get_char(p)))
			return field_error(error, path, section, key, "contains control characters");
	g_free(*out);
	*out = g_strdup(text);
	return TRUE;
}

/* The endpoint under its canonical key or one of the seed's other spellings. */
static gboolean read_endpoint(JsonObject *ro, const char *path, char **out, GError **error)
{
	static const char *const keys[] = { "endpoint_url", "iot_endpoint_url", "sh_endpoint_url" };

	for (guint i = 0; i < G_N_ELEMENTS(keys); i++) {
		g_autofree char *value = NULL;

		if (!read_string(ro, path, "ro", keys[i], FALSE, &value, error))
			return FALSE;
		if (!value)
			continue;
		if (*out && !g_str_equal(*out, value))
			return field_error(error, path, "ro", keys[i], "disagrees with another spelling of endpoint_url");
		if (i > 0)
			g_warning("%s: ro.%s is read as ro.endpoint_url; please rename it", path, keys[i]);
		if (!*out)
			*out = g_steal_pointer(&value);
	}
	if (!*out)
		return field_error(error, path, "ro", "endpoint_url", "missing");
	if (strchr(*out, '/') || strchr(*out, ' ') || strchr(*out, ':'))
		return field_error(error, path, "ro", "endpoint_url",
				   "must be a host name such as PREFIX-ats.iot.REGION.amazonaws.com (no scheme, port or path)");
	return TRUE;
}

static gboolean read_claim_path(JsonObject *ro, const char *path, const char *key, char **out, GError **error)
{
	if (!read_string(ro, path, "ro", key, TRUE, out, error))
		return FALSE;
	if (g_str_equal(*out, HUB_IDENTITY_SECURE_STORAGE))
		g_clear_pointer(out, g_free);
	else if (!g_path_is_absolute(*out))
		return field_error(error, path, "ro", key, "must be an absolute path or SECURE_STORAGE");
	return TRUE;
}

static gboolean read_ro(HubIdentity *id, JsonObject *ro, GError **error)
{
	const char *path = id->path;
	JsonNode *keepalive;

	if (!read_string(ro, path, "ro", "iot_provisioning_method", TRUE, &id->method, error))
		return FALSE;
	if (!g_str_equal(id->method, "FLEET_PROVISIONING"))
		return field_error(error, path, "ro", "iot_provisioning_method",
				   "unknown provisioning method (supported: FLEET_PROVISIONING)");
	if (!read_claim_path(ro, path, "iot_claim_cert_path", &id->claim_cert_path, error) ||
	    !read_claim_path(ro, path, "iot_claim_pk_path", &id->claim_key_path, error))
		return FALSE;
	if ((id->claim_cert_path == NULL) != (id->claim_key_path == NULL))
		return field_error(error, path, "ro", "iot_claim_pk_path",
				   "SECURE_STORAGE must be given for both claim paths or neither");
	if (!read_string(ro, path, "ro", "fp_template_name", TRUE, &id->template_name, error) ||
	    !read_endpoint(ro, path, &id->endpoint, error) ||
	    !read_string(ro, path, "ro", "SN", TRUE, &id->serial_number, error) ||
	    !read_string(ro, path, "ro", "UPC", FALSE, &id->upc, error) ||
	    !read_string(ro, path, "ro", "EAN", FALSE, &id->ean, error))
		return FALSE;
	if (strlen(id->serial_number) > 64)
		return field_error(error, path, "ro", "SN", "must be at most 64 characters");
	if (id->upc && id->ean)
		return field_error(error, path, "ro", "EAN", "give UPC or EAN, not both");
	if (!id->upc && !id->ean)
		return field_error(error, path, "ro", "UPC", "missing (or EAN)");
	id->keepalive_s = 300;
	keepalive = json_object_get_member(ro, "mqtt_keep_alive_interval");
	if (keepalive) {
		gint64 value;

		if (!JSON_NODE_HOLDS_VALUE(keepalive) || json_node_get_value_type(keepalive) != G_TYPE_INT64)
			return field_error(error, path, "ro", "mqtt_keep_alive_interval", "must be a whole number of seconds");
		value = json_node_get_int(keepalive);
		if (value < 30 || value > 1200)
			return field_error(error, path, "ro", "mqtt_keep_alive_interval", "must be 30-1200 seconds");
		id->keepalive_s = (guint)value;
	}
	return TRUE;
}

static gboolean read_rw(HubIdentity *id, JsonObject *rw, GError **error)
{
	const char *path = id->path;
	g_autofree char *state = NULL;
	JsonNode *metadata;

	if (!read_string(rw, path, "rw", "iot_provisioning_state", TRUE, &state, error))
		return FALSE;
	if (!hub_provisioning_state_from_string(state, &id->state))
		return field_error(error, path, "rw", "iot_provisioning_state",
				   "must be NOT_PROVISIONED, PROVISIONING, PROVISIONED or OFFBOARDING");
	if (!read_string(rw, path, "rw", "provisioning_step", FALSE, &id->step, error) ||
	    !read_string(rw, path, "rw", "failure_reason", FALSE, &id->failure_reason, error) ||
	    !read_string(rw, path, "rw", "client_id", FALSE, &id->client_id, error) ||
	    !read_string(rw, path, "rw", "managed_thing_id", FALSE, &id->managed_thing_id, error) ||
	    !read_string(rw, path, "rw", "certificate_id", FALSE, &id->certificate_id, error))
		return FALSE;
	if (id->state == HUB_PROVISIONING_PROVISIONED && !id->client_id)
		return field_error(error, path, "rw", "client_id", "missing although the hub is PROVISIONED");
	metadata = json_object_get_member(rw, "metadata");
	if (metadata && JSON_NODE_HOLDS_OBJECT(metadata)) {
		JsonNode *when = json_object_get_member(json_node_get_object(metadata), "last_updated_epoch_time");

		if (when && JSON_NODE_HOLDS_VALUE(when) && json_node_get_value_type(when) == G_TYPE_INT64)
			id->last_updated = json_node_get_int(when);
	}
	return TRUE;
}

static JsonObject *section(JsonObject *root, const char *path, const char *name, GError **error)
{
	JsonNode *node = json_object_get_member(root, name);

	if (!node) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "%s: the \"%s\" section is missing", path, name);
		return NULL;
	}
	if (!JSON_NODE_HOLDS_OBJECT(node)) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "%s: \"%s\" must be an object", path, name);
		return NULL;
	}
	return json_node_get_object(node);
}

HubIdentity *hub_identity_load(const char *path, GError **error)
{
	g_autoptr(HubIdentity) id = g_new0(HubIdentity, 1);
	g_autoptr(GError) local = NULL;
	g_autofree char *text = NULL;
	gsize len = 0;
	JsonObject *ro, *rw;

	id->path = g_strdup(path);
	if (!g_file_get_contents(path, &text, &len, &local)) {
		g_set_error(error, HUB_ERROR,
			    g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT) ? HUB_ERROR_NOT_FOUND : HUB_ERROR_FAILED,
			    "cannot read the identity file: %s", local->message);
		return NULL;
	}
	id->document = hub_json_parse(text, (gssize)len, &local);
	if (!id->document) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "%s: not valid JSON: %s", path, local->message);
		return NULL;
	}
	if (!JSON_NODE_HOLDS_OBJECT(id->document)) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "%s: must be a JSON object with ro and rw", path);
		return NULL;
	}
	ro = section(json_node_get_object(id->document), path, "ro", error);
	if (!ro || !read_ro(id, ro, error))
		return NULL;
	rw = section(json_node_get_object(id->document), path, "rw", error);
	if (!rw || !read_rw(id, rw, error))
		return NULL;
	return g_steal_pointer(&id);
}

/* Sets or removes (@value NULL) a string member of rw. */
static void put_string(JsonObject *rw, const char *key, const char *value)
{
	if (value)
		json_object_set_string_member(rw, key, value);
	else if (json_object_has_member(rw, key))
		json_object_remove_member(rw, key);
}

gboolean hub_identity_save(HubIdentity *id, GError **error)
{
	g_autoptr(JsonNode) copy = json_node_copy(id->document);
	g_autoptr(JsonGenerator) generator = json_generator_new();
	g_autofree char *text = NULL;
	JsonObject *root = json_node_get_object(copy);
	JsonObject *rw = json_object_new();
	JsonObject *old_rw = json_object_get_object_member(root, "rw");
	JsonObject *metadata = json_object_new();
	char message[256] = "";
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	GList *members;

	/* Members hubd does not know are kept as they were. */
	members = json_object_get_members(old_rw);
	for (GList *l = members; l; l = l->next)
		json_object_set_member(rw, l->data, json_node_copy(json_object_get_member(old_rw, l->data)));
	g_list_free(members);
	json_object_set_string_member(rw, "iot_provisioning_state", hub_provisioning_state_to_string(id->state));
	put_string(rw, "provisioning_step", id->step);
	put_string(rw, "failure_reason", id->failure_reason);
	put_string(rw, "client_id", id->client_id);
	put_string(rw, "managed_thing_id", id->managed_thing_id);
	put_string(rw, "certificate_id", id->certificate_id);
	json_object_set_int_member(metadata, "last_updated_epoch_time", now);
	json_object_set_object_member(rw, "metadata", metadata);
	json_object_set_object_member(root, "rw", rw);

	json_generator_set_root(generator, copy);
	json_generator_set_pretty(generator, TRUE);
	text = json_generator_to_data(generator, NULL);
	if (hub_atomic_file_write(id->path, text, strlen(text), 0644, message, sizeof(message)) < 0) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_FAILED, "cannot save the identity: %s", message);
		return FALSE;
	}
	json_node_unref(id->document);
	id->document = g_steal_pointer(&copy);
	id->last_updated = now;
	return TRUE;
}
