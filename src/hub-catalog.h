/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-catalog.h - the capability catalog: capability definitions loaded from
 * data/capabilities/<id>.json in the seed's capability schema format
 * (digest A §1), and validation of reported values and command parameters
 * against them.
 *
 * A capability is known by the id taken from its "$id"
 * ("/schema-versions/capability/matter.OnOff@1.4" -> "matter.OnOff@1.4");
 * its version is the part after '@' (digest C §6.4: the "version" field of
 * reports is unreliable).
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

typedef struct {
	char *name;          /* alphanumeric */
	char *extrinsic_id;  /* Matter attribute id, e.g. "0x0000" */
	JsonNode *schema;    /* the "value" schema */
	gboolean retrievable;
	gboolean mutable_;   /* "mutable" */
	gboolean reportable;
} HubPropertyDef;

typedef struct {
	char *name;
	char *extrinsic_id; /* Matter field id */
	JsonNode *schema;   /* the "value" schema */
	gboolean required;  /* listed in the request's "required" array, if any */
} HubParamDef;

typedef struct {
	char *name;
	char *extrinsic_id;  /* Matter command id */
	GPtrArray *params;   /* HubParamDef*, request parameters in file order */
} HubActionDef;

typedef struct {
	char *name;
	char *extrinsic_id;  /* Matter event id */
	GPtrArray *params;   /* HubParamDef* */
} HubEventDef;

typedef struct {
	char *id;                /* "matter.OnOff@1.4" */
	char *short_id;          /* "matter.OnOff" */
	char *name;              /* "On/Off" */
	char *version;           /* "1.4" (from the id) */
	char *extrinsic_id;      /* Matter cluster id, "0x0006" */
	char *extrinsic_version; /* Matter cluster revision, "6" */
	GPtrArray *properties;   /* HubPropertyDef*, file order */
	GPtrArray *actions;      /* HubActionDef*, file order */
	GPtrArray *events;       /* HubEventDef*, file order */
	JsonObject *defs;        /* "$defs" or NULL */
	char *path;              /* file it came from */
} HubCapabilityDef;

typedef struct _HubCatalog HubCatalog;

HubCatalog *hub_catalog_new(void);
void hub_catalog_free(HubCatalog *catalog); /* NULL-safe */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HubCatalog, hub_catalog_free)

/* Loads one capability document. Fails with HUB_ERROR_INVALID_ARGUMENT and a
 * message naming the file and the problem (invalid JSON, missing "$id",
 * bad "$id" format, unknown schema keyword, ...). A second file with the same
 * id replaces nothing and fails with HUB_ERROR_EXISTS. */
gboolean hub_catalog_load_file(HubCatalog *catalog, const char *path, GError **error);

/* Loads every JSON file in @dir, in name order. A file that fails is logged
 * ("Failed to load capability file %s: %s, ignoring") and skipped. Returns
 * the number loaded, or -1 with @error when @dir cannot be read. */
gint hub_catalog_load_dir(HubCatalog *catalog, const char *dir, GError **error);

/* By full id "matter.OnOff@1.4", or by short id "matter.OnOff" (the highest
 * version loaded). NULL when unknown. */
const HubCapabilityDef *hub_catalog_lookup(HubCatalog *catalog, const char *id);
guint hub_catalog_size(HubCatalog *catalog);
/* Sorted list of full ids; free with g_ptr_array_unref (strings owned by the array). */
GPtrArray *hub_catalog_list_ids(HubCatalog *catalog);

const HubPropertyDef *hub_capability_def_find_property(const HubCapabilityDef *cap, const char *name);
const HubActionDef *hub_capability_def_find_action(const HubCapabilityDef *cap, const char *name);
const HubEventDef *hub_capability_def_find_event(const HubCapabilityDef *cap, const char *name);

/* A value a device reports for @property: the property must exist and the
 * value must match its schema. HUB_ERROR_NOT_FOUND / HUB_ERROR_INVALID_ARGUMENT. */
gboolean hub_capability_def_validate_report(const HubCapabilityDef *cap, const char *property,
					    JsonNode *value, GError **error);

/* A write (UpdateState) of @property: exists (NOT_FOUND), mutable
 * (HUB_ERROR_NOT_SUPPORTED "property X is not mutable"), value valid. */
gboolean hub_capability_def_validate_write(const HubCapabilityDef *cap, const char *property,
					   JsonNode *value, GError **error);

/* Parameters of an action. ReadState: {"propertiesToRead": ["Name"...] | ["*"]},
 * every named property exists and is retrievable. UpdateState: every member
 * is a valid write. Other actions: the action exists (NOT_FOUND), no unknown
 * parameter, every required one present, every value valid (INVALID_ARGUMENT). */
gboolean hub_capability_def_validate_action(const HubCapabilityDef *cap, const char *action,
					    JsonObject *params, GError **error);

/* Parameters of an event a device reports (same rules as an action's). */
gboolean hub_capability_def_validate_event(const HubCapabilityDef *cap, const char *event,
					   JsonObject *params, GError **error);
