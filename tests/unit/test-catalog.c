/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-catalog.c - capability documents and the validation built on them (src/hub-catalog.c). */
#include "config.h"

#include <string.h>
#include <glib/gstdio.h>

#include "hub-catalog.h"
#include "hub-error.h"

#define N_BUNDLED 12

/* ---- helpers ---------------------------------------------------------- */

static char *srcdir_path(const char *first, ...) G_GNUC_NULL_TERMINATED;

static char *srcdir_path(const char *first, ...)
{
	const char *top = g_getenv("HUB_TOP_SRCDIR");
	g_autoptr(GPtrArray) parts = g_ptr_array_new();
	va_list ap;

	g_ptr_array_add(parts, (gpointer)(top != NULL ? top : "."));
	va_start(ap, first);
	for (const char *p = first; p != NULL; p = va_arg(ap, const char *))
		g_ptr_array_add(parts, (gpointer)p);
	va_end(ap);
	g_ptr_array_add(parts, NULL);
	return g_build_filenamev((char **)parts->pdata);
}

static void assert_contains(const char *message, const char *fragment)
{
	if (strstr(message, fragment) == NULL)
		g_error("message \"%s\" does not contain \"%s\"", message, fragment);
}

static JsonNode *parse(const char *text)
{
	g_autoptr(GError) error = NULL;
	JsonNode *node = json_from_string(text, &error);

	g_assert_no_error(error);
	return node;
}

static JsonObject *parse_object(const char *text)
{
	g_autoptr(JsonNode) node = parse(text);

	g_assert_true(JSON_NODE_HOLDS_OBJECT(node));
	return json_object_ref(json_node_get_object(node));
}

static HubCatalog *load_bundled(void)
{
	g_autofree char *dir = srcdir_path("data", "capabilities", NULL);
	g_autoptr(HubCatalog) catalog = hub_catalog_new();
	g_autoptr(GError) error = NULL;

	gint loaded = hub_catalog_load_dir(catalog, dir, &error);

	/* run from the top source directory, or set HUB_TOP_SRCDIR */
	g_assert_no_error(error);
	g_assert_cmpint(loaded, ==, N_BUNDLED);
	return g_steal_pointer(&catalog);
}

static const HubCapabilityDef *lookup(HubCatalog *catalog, const char *id)
{
	const HubCapabilityDef *cap = hub_catalog_lookup(catalog, id);

	if (cap == NULL)
		g_error("capability %s is not loaded", id);
	return cap;
}

/* A scratch directory, emptied and removed by tmpdir_free(). */
typedef struct {
	char *path;
} TmpDir;

static TmpDir *tmpdir_new(void)
{
	g_autoptr(GError) error = NULL;
	TmpDir *t = g_new0(TmpDir, 1);

	t->path = g_dir_make_tmp("hub-test-catalog-XXXXXX", &error);
	g_assert_no_error(error);
	return t;
}

static void tmpdir_free(TmpDir *t)
{
	g_autoptr(GDir) d = NULL;
	const char *name;

	if (t == NULL)
		return;
	d = g_dir_open(t->path, 0, NULL);
	while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
		g_autofree char *p = g_build_filename(t->path, name, NULL);

		g_assert_cmpint(g_remove(p), ==, 0);
	}
	g_assert_cmpint(g_rmdir(t->path), ==, 0);
	g_free(t->path);
	g_free(t);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(TmpDir, tmpdir_free)

static char *tmpdir_write(TmpDir *t, const char *name, const char *contents, gssize len)
{
	g_autoptr(GError) error = NULL;
	char *path = g_build_filename(t->path, name, NULL);

	g_assert_true(g_file_set_contents(path, contents, len, &error));
	g_assert_no_error(error);
	return path;
}

static char *tmpdir_copy(TmpDir *t, const char *from, const char *name)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *contents = NULL;
	gsize len;

	g_assert_true(g_file_get_contents(from, &contents, &len, &error));
	g_assert_no_error(error);
	return tmpdir_write(t, name, contents, len);
}

/* A small valid document: a property per flag combination, one action, one event, $defs. */
static const char widget_doc[] =
	"{\n"
	"  \"$id\": \"/schema-versions/capability/acme.Widget@%s\",\n"
	"  \"$ref\": \"/schema-versions/definition/aws.capability@1.0\",\n"
	"  \"name\": \"Acme Widget\",\n"
	"  \"extrinsicId\": \"0x13570001\",\n"
	"  \"extrinsicVersion\": \"1\",\n"
	"  \"$defs\": { \"Speed\": { \"type\": \"string\", \"enum\": [\"Slow\", \"Fast\"],\n"
	"                          \"extrinsicIdMap\": { \"Slow\": \"0\", \"Fast\": \"1\" } } },\n"
	"  \"properties\": {\n"
	"    \"Secret\": { \"extrinsicId\": \"0x0000\", \"value\": { \"type\": \"integer\" },\n"
	"                \"mutable\": true },\n"
	"    \"Speed\": { \"extrinsicId\": \"0x0001\", \"value\": { \"$ref\": \"#/$defs/Speed\" },\n"
	"               \"retrievable\": true, \"mutable\": true, \"reportable\": true }\n"
	"  },\n"
	"  \"actions\": [ { \"name\": \"Spin\", \"extrinsicId\": \"0x00\",\n"
	"    \"request\": { \"parameters\": { \"Speed\": { \"extrinsicId\": \"0x0000\",\n"
	"                                                \"value\": { \"$ref\": \"#/$defs/Speed\" } } },\n"
	"                 \"required\": [ \"Speed\" ] },\n"
	"    \"response\": { \"parameters\": { } } } ],\n"
	"  \"events\": [ { \"name\": \"Jammed\", \"extrinsicId\": \"0x00\" } ]\n"
	"}\n";

static char *widget_text(const char *version)
{
	return g_strdup_printf(widget_doc, version);
}

/* Loads @text (from @name in a scratch dir) and expects the failure @code naming @fragment. */
static void assert_document_refused(const char *name, const char *text, gint code, const char *fragment)
{
	g_autoptr(TmpDir) t = tmpdir_new();
	g_autofree char *path = tmpdir_write(t, name, text, -1);
	g_autoptr(HubCatalog) catalog = hub_catalog_new();
	g_autoptr(GError) error = NULL;

	if (hub_catalog_load_file(catalog, path, &error))
		g_error("%s was accepted:\n%s", name, text);
	g_assert_error(error, HUB_ERROR, code);
	assert_contains(error->message, path);
	assert_contains(error->message, fragment);
	g_assert_cmpuint(hub_catalog_size(catalog), ==, 0);
}

/* widget_doc with @from replaced by @to, which must be refused with @fragment. */
static void assert_widget_variant_refused(const char *from, const char *to, const char *fragment)
{
	g_autofree char *doc = widget_text("1.0");
	g_autoptr(GString) text = g_string_new(doc);

	g_assert_cmpuint(g_string_replace(text, from, to, 1), ==, 1);
	assert_document_refused("variant.json", text->str, HUB_ERROR_INVALID_ARGUMENT, fragment);
}

static void assert_error(GError *error, gint code, const char *fragment)
{
	g_assert_nonnull(error);
	g_assert_error(error, HUB_ERROR, code);
	assert_contains(error->message, fragment);
}

static void assert_action(const HubCapabilityDef *cap, const char *action, const char *params,
			  gint code, const char *fragment)
{
	g_autoptr(JsonObject) p = params != NULL ? parse_object(params) : NULL;
	g_autoptr(GError) error = NULL;
	gboolean ok = hub_capability_def_validate_action(cap, action, p, &error);

	if (code < 0) {
		if (!ok)
			g_error("%s %s rejected: %s", action, params, error->message);
		return;
	}
	g_assert_false(ok);
	assert_error(error, code, fragment);
}

static void assert_event(const HubCapabilityDef *cap, const char *event, const char *params,
			 gint code, const char *fragment)
{
	g_autoptr(JsonObject) p = params != NULL ? parse_object(params) : NULL;
	g_autoptr(GError) error = NULL;
	gboolean ok = hub_capability_def_validate_event(cap, event, p, &error);

	if (code < 0) {
		if (!ok)
			g_error("%s %s rejected: %s", event, params, error->message);
		return;
	}
	g_assert_false(ok);
	assert_error(error, code, fragment);
}

#define VALID (-1)

/* ---- the bundled table ------------------------------------------------ */

/* A schema as written in the table: "int 0..254?", "bool", "enum(Off=0,...)", "string max 60". */
static char *render_schema(JsonNode *schema)
{
	JsonObject *o = json_node_get_object(schema);
	const char *type = json_object_get_string_member_with_default(o, "type", "?");
	g_autoptr(GString) s = g_string_new(NULL);

	if (json_object_has_member(o, "enum")) {
		JsonArray *values = json_object_get_array_member(o, "enum");
		JsonObject *map = json_object_get_object_member(o, "extrinsicIdMap");

		g_assert_cmpstr(type, ==, "string");
		g_assert_nonnull(map);
		g_string_append(s, "enum(");
		for (guint i = 0; i < json_array_get_length(values); i++) {
			const char *v = json_array_get_string_element(values, i);

			g_string_append_printf(s, "%s%s=%s", i > 0 ? "," : "", v,
					       json_object_get_string_member_with_default(map, v, "MISSING"));
		}
		g_assert_cmpuint(json_object_get_size(map), ==, json_array_get_length(values));
		g_string_append(s, ")");
	} else if (g_str_equal(type, "integer")) {
		g_string_append_printf(s, "int %" G_GINT64_FORMAT "..%" G_GINT64_FORMAT,
				       json_object_get_int_member(o, "minimum"), json_object_get_int_member(o, "maximum"));
	} else if (g_str_equal(type, "boolean")) {
		g_string_append(s, "bool");
	} else if (g_str_equal(type, "string")) {
		g_string_append(s, "string");
		if (json_object_has_member(o, "maxLength"))
			g_string_append_printf(s, " max %" G_GINT64_FORMAT, json_object_get_int_member(o, "maxLength"));
		if (json_object_has_member(o, "pattern"))
			g_string_append_printf(s, " /%s/", json_object_get_string_member(o, "pattern"));
	} else {
		g_string_append_printf(s, "unexpected type %s", type);
	}
	if (json_object_get_boolean_member_with_default(o, "nullable", FALSE))
		g_string_append(s, "?");
	return g_string_free(g_steal_pointer(&s), FALSE);
}

static void render_params(GString *line, GPtrArray *params)
{
	for (guint i = 0; i < params->len; i++) {
		HubParamDef *p = g_ptr_array_index(params, i);
		g_autofree char *schema = render_schema(p->schema);

		g_string_append_printf(line, "%s %s%s %s %s", i > 0 ? "," : "", p->name,
				       p->required ? "" : " (optional)", p->extrinsic_id, schema);
	}
}

static GPtrArray *render_capability(const HubCapabilityDef *cap)
{
	GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);

	g_ptr_array_add(lines, g_strdup_printf("%s \"%s\" %s rev %s", cap->id, cap->name, cap->extrinsic_id,
					       cap->extrinsic_version));
	for (guint i = 0; i < cap->properties->len; i++) {
		HubPropertyDef *p = g_ptr_array_index(cap->properties, i);
		g_autofree char *schema = render_schema(p->schema);

		g_ptr_array_add(lines, g_strdup_printf("property %s %s %s%s%s %s", p->name, p->extrinsic_id,
						       p->retrievable ? "R" : "", p->mutable_ ? "M" : "",
						       p->reportable ? "P" : "", schema));
	}
	for (guint i = 0; i < cap->actions->len; i++) {
		HubActionDef *a = g_ptr_array_index(cap->actions, i);
		GString *line = g_string_new(NULL);

		g_string_append_printf(line, "action %s %s", a->name, a->extrinsic_id);
		render_params(line, a->params);
		g_ptr_array_add(lines, g_string_free(line, FALSE));
	}
	for (guint i = 0; i < cap->events->len; i++) {
		HubEventDef *e = g_ptr_array_index(cap->events, i);
		GString *line = g_string_new(NULL);

		g_string_append_printf(line, "event %s %s", e->name, e->extrinsic_id);
		render_params(line, e->params);
		g_ptr_array_add(lines, g_string_free(line, FALSE));
	}
	return lines;
}

/* The table the virtual-device plugin is written against; one entry per line. */
static const char *const bundled_table[] = {
	"matter.BooleanState@1.4 \"Boolean State\" 0x0045 rev 1",
	"property StateValue 0x0000 RP bool",
	"event StateChange 0x00 StateValue 0x0000 bool",
	"",
	"matter.ColorControl@1.4 \"Color Control\" 0x0300 rev 7",
	"property CurrentHue 0x0000 RP int 0..254",
	"property CurrentSaturation 0x0001 RP int 0..254",
	"property CurrentX 0x0003 RP int 0..65279",
	"property CurrentY 0x0004 RP int 0..65279",
	"property ColorTemperatureMireds 0x0007 RP int 0..65279",
	"property ColorMode 0x0008 RP enum(CurrentHueAndCurrentSaturation=0,CurrentXAndCurrentY=1,ColorTemperatureMireds=2)",
	"action MoveToHue 0x00 Hue 0x0000 int 0..254, Direction (optional) 0x0001 enum(Shortest=0,Longest=1,Up=2,Down=3),"
	" TransitionTime (optional) 0x0002 int 0..65535",
	"action MoveToSaturation 0x03 Saturation 0x0000 int 0..254, TransitionTime (optional) 0x0001 int 0..65535",
	"action MoveToHueAndSaturation 0x06 Hue 0x0000 int 0..254, Saturation 0x0001 int 0..254,"
	" TransitionTime (optional) 0x0002 int 0..65535",
	"action MoveToColor 0x07 ColorX 0x0000 int 0..65279, ColorY 0x0001 int 0..65279,"
	" TransitionTime (optional) 0x0002 int 0..65535",
	"action MoveToColorTemperature 0x0A ColorTemperatureMireds 0x0000 int 0..65279,"
	" TransitionTime (optional) 0x0001 int 0..65535",
	"",
	"matter.DoorLock@1.4 \"Door Lock\" 0x0101 rev 7",
	"property LockState 0x0000 RP enum(NotFullyLocked=0,Locked=1,Unlocked=2,Unlatched=3)?",
	"property ActuatorEnabled 0x0002 RP bool",
	"property OperatingMode 0x0025 RMP enum(Normal=0,Vacation=1,Privacy=2,NoRemoteLockUnlock=3,Passage=4)",
	"action LockDoor 0x00 PINCode (optional) 0x0000 string /^[0-9]{4,8}$/",
	"action UnlockDoor 0x01 PINCode (optional) 0x0000 string /^[0-9]{4,8}$/",
	"event DoorLockAlarm 0x00 AlarmCode 0x0000 enum(LockJammed=0,LockFactoryReset=1,LockRadioPowerCycled=3,"
	"WrongCodeEntryLimit=4,FrontEsceutcheonRemoved=5,DoorForcedOpen=6,DoorAjar=7,ForcedUser=8)",
	"event LockOperation 0x02 LockOperationType 0x0000 enum(Lock=0,Unlock=1,NonAccessUserEvent=2,ForcedUserEvent=3,"
	"Unlatch=4), OperationSource 0x0001 enum(Unspecified=0,Manual=1,ProprietaryRemote=2,Keypad=3,Auto=4,Button=5,"
	"Schedule=6,Remote=7,RFID=8,Biometric=9)",
	"",
	"matter.FanControl@1.4 \"Fan Control\" 0x0202 rev 4",
	"property FanMode 0x0000 RMP enum(Off=0,Low=1,Medium=2,High=3,On=4,Auto=5,Smart=6)",
	"property PercentSetting 0x0002 RMP int 0..100?",
	"property PercentCurrent 0x0003 RP int 0..100",
	"action Step 0x00 Direction 0x0000 enum(Increase=0,Decrease=1), Wrap (optional) 0x0001 bool,"
	" LowestOff (optional) 0x0002 bool",
	"",
	"matter.LevelControl@1.4 \"Level Control\" 0x0008 rev 5",
	"property CurrentLevel 0x0000 RMP int 0..254?",
	"property MinLevel 0x0002 RP int 0..254",
	"property MaxLevel 0x0003 RP int 0..254",
	"property OnLevel 0x0011 RMP int 0..254?",
	"action MoveToLevel 0x00 Level 0x0000 int 0..254, TransitionTime (optional) 0x0001 int 0..65535",
	"action MoveToLevelWithOnOff 0x04 Level 0x0000 int 0..254, TransitionTime (optional) 0x0001 int 0..65535",
	"action Stop 0x03",
	"",
	"matter.OccupancySensing@1.4 \"Occupancy Sensing\" 0x0406 rev 5",
	"property Occupancy 0x0000 RP int 0..1",
	"property OccupancySensorTypeBitmap 0x0002 RP int 0..7",
	"property HoldTime 0x0003 RMP int 0..65535",
	"event OccupancyChanged 0x00 Occupancy 0x0000 int 0..1",
	"",
	"matter.OnOff@1.4 \"On/Off\" 0x0006 rev 6",
	"property OnOff 0x0000 RMP bool",
	"property OnTime 0x4001 RMP int 0..65535",
	"property OffWaitTime 0x4002 RMP int 0..65535",
	"action Off 0x00",
	"action On 0x01",
	"action Toggle 0x02",
	"",
	"matter.PowerSource@1.4 \"Power Source\" 0x002F rev 2",
	"property Status 0x0000 RP enum(Unspecified=0,Active=1,Standby=2,Unavailable=3)",
	"property Order 0x0001 RP int 0..255",
	"property Description 0x0002 RP string max 60",
	"property BatPercentRemaining 0x000C RP int 0..200?",
	"property BatChargeLevel 0x000E RP enum(OK=0,Warning=1,Critical=2)",
	"property BatVoltage 0x000B RP int 0..4294967295?",
	"",
	"matter.RelativeHumidityMeasurement@1.4 \"Relative Humidity Measurement\" 0x0405 rev 3",
	"property MeasuredValue 0x0000 RP int 0..10000?",
	"property MinMeasuredValue 0x0001 RP int 0..9999?",
	"property MaxMeasuredValue 0x0002 RP int 1..10000?",
	"property Tolerance 0x0003 RP int 0..2048",
	"",
	"matter.TemperatureMeasurement@1.4 \"Temperature Measurement\" 0x0402 rev 4",
	"property MeasuredValue 0x0000 RP int -27315..32767?",
	"property MinMeasuredValue 0x0001 RP int -27315..32766?",
	"property MaxMeasuredValue 0x0002 RP int -27314..32767?",
	"property Tolerance 0x0003 RP int 0..2048",
	"",
	"matter.Thermostat@1.4 \"Thermostat\" 0x0201 rev 7",
	"property LocalTemperature 0x0000 RP int -27315..32767?",
	"property OccupiedCoolingSetpoint 0x0011 RMP int -27315..32767",
	"property OccupiedHeatingSetpoint 0x0012 RMP int -27315..32767",
	"property SystemMode 0x001C RMP enum(Off=0,Auto=1,Cool=3,Heat=4,EmergencyHeat=5,Precooling=6,FanOnly=7,Dry=8,Sleep=9)",
	"property ThermostatRunningState 0x0029 RP int 0..127",
	"action SetpointRaiseLower 0x00 Mode 0x0000 enum(Heat=0,Cool=1,Both=2), Amount 0x0001 int -128..127",
	"",
	"matter.WindowCovering@1.4 \"Window Covering\" 0x0102 rev 5",
	"property CurrentPositionLiftPercent100ths 0x000E RP int 0..10000?",
	"property TargetPositionLiftPercent100ths 0x000B RP int 0..10000?",
	"property OperationalStatus 0x000A RP int 0..63",
	"action UpOrOpen 0x00",
	"action DownOrClose 0x01",
	"action StopMotion 0x02",
	"action GoToLiftPercentage 0x05 LiftPercent100thsValue 0x0000 int 0..10000",
	"",
};

static void test_load_bundled(void)
{
	g_autoptr(HubCatalog) catalog = load_bundled();
	g_autoptr(GPtrArray) ids = hub_catalog_list_ids(catalog);
	static const char *const expected[] = {
		"matter.BooleanState@1.4", "matter.ColorControl@1.4", "matter.DoorLock@1.4",
		"matter.FanControl@1.4", "matter.LevelControl@1.4", "matter.OccupancySensing@1.4",
		"matter.OnOff@1.4", "matter.PowerSource@1.4", "matter.RelativeHumidityMeasurement@1.4",
		"matter.TemperatureMeasurement@1.4", "matter.Thermostat@1.4", "matter.WindowCovering@1.4",
	};

	g_assert_cmpuint(hub_catalog_size(catalog), ==, N_BUNDLED);
	g_assert_cmpuint(ids->len, ==, G_N_ELEMENTS(expected));
	for (guint i = 0; i < ids->len; i++) {
		const HubCapabilityDef *cap = lookup(catalog, expected[i]);
		g_autofree char *base = g_path_get_basename(cap->path);
		g_autofree char *file = g_strconcat(expected[i], ".json", NULL);
		g_autofree char *short_id = g_strndup(expected[i], strchr(expected[i], '@') - expected[i]);

		g_assert_cmpstr(g_ptr_array_index(ids, i), ==, expected[i]);
		g_assert_cmpstr(cap->id, ==, expected[i]);
		g_assert_cmpstr(cap->short_id, ==, short_id);
		g_assert_cmpstr(cap->version, ==, "1.4");
		/* each file is named after the capability it defines */
		g_assert_cmpstr(base, ==, file);
	}
}

static void test_bundled_table(void)
{
	g_autoptr(HubCatalog) catalog = load_bundled();
	g_autoptr(GPtrArray) ids = hub_catalog_list_ids(catalog);
	gsize row = 0;

	for (guint i = 0; i < ids->len; i++) {
		g_autoptr(GPtrArray) lines = render_capability(lookup(catalog, g_ptr_array_index(ids, i)));

		for (guint l = 0; l < lines->len; l++, row++) {
			g_assert_cmpuint(row, <, G_N_ELEMENTS(bundled_table));
			g_assert_cmpstr(g_ptr_array_index(lines, l), ==, bundled_table[row]);
		}
		g_assert_cmpstr(bundled_table[row], ==, "");
		row++;
	}
	g_assert_cmpuint(row, ==, G_N_ELEMENTS(bundled_table));
}

static void test_lookup(void)
{
	g_autoptr(TmpDir) t = tmpdir_new();
	g_autoptr(HubCatalog) catalog = load_bundled();
	static const char *const versions[] = { "1.2", "1.10", "1.9.3" };
	const HubCapabilityDef *cap;

	cap = lookup(catalog, "matter.OnOff@1.4");
	g_assert_cmpstr(cap->name, ==, "On/Off");
	g_assert_cmpstr(cap->extrinsic_id, ==, "0x0006");
	g_assert_true(lookup(catalog, "matter.OnOff") == cap);
	g_assert_null(hub_catalog_lookup(catalog, "matter.OnOff@1.5"));
	g_assert_null(hub_catalog_lookup(catalog, "matter.Nothing"));
	g_assert_null(hub_catalog_lookup(catalog, "OnOff"));

	/* a short id means the highest version, compared as numbers */
	for (gsize i = 0; i < G_N_ELEMENTS(versions); i++) {
		g_autofree char *text = widget_text(versions[i]);
		g_autofree char *name = g_strdup_printf("acme.Widget@%s.json", versions[i]);
		g_autofree char *path = tmpdir_write(t, name, text, -1);
		g_autoptr(GError) error = NULL;

		g_assert_true(hub_catalog_load_file(catalog, path, &error));
		g_assert_no_error(error);
	}
	g_assert_cmpuint(hub_catalog_size(catalog), ==, N_BUNDLED + 3);
	g_assert_cmpstr(lookup(catalog, "acme.Widget")->id, ==, "acme.Widget@1.10");
	g_assert_cmpstr(lookup(catalog, "acme.Widget@1.2")->version, ==, "1.2");
	g_assert_cmpstr(lookup(catalog, "acme.Widget@1.9.3")->version, ==, "1.9.3");
}

static void test_duplicate_id(void)
{
	g_autofree char *path = srcdir_path("data", "capabilities", "matter.OnOff@1.4.json", NULL);
	g_autoptr(HubCatalog) catalog = hub_catalog_new();
	g_autoptr(GError) error = NULL;

	g_assert_true(hub_catalog_load_file(catalog, path, &error));
	g_assert_no_error(error);
	g_assert_false(hub_catalog_load_file(catalog, path, &error));
	assert_error(error, HUB_ERROR_EXISTS, "capability matter.OnOff@1.4 is already loaded");
	g_assert_cmpuint(hub_catalog_size(catalog), ==, 1);
}

/* ---- reports and writes ----------------------------------------------- */

static void test_validate_report(void)
{
	g_autoptr(HubCatalog) catalog = load_bundled();
	static const struct {
		const char *cap;
		const char *property;
		const char *value;
		gint code;
		const char *fragment;
	} cases[] = {
		{ "matter.LevelControl@1.4", "CurrentLevel", "254", VALID, NULL },
		{ "matter.LevelControl@1.4", "CurrentLevel", "null", VALID, NULL },
		{ "matter.LevelControl@1.4", "CurrentLevel", "300", HUB_ERROR_INVALID_ARGUMENT,
		  "property CurrentLevel: value 300 is above the maximum 254" },
		{ "matter.LevelControl@1.4", "MinLevel", "null", HUB_ERROR_INVALID_ARGUMENT,
		  "property MinLevel: expected integer, got null" },
		{ "matter.OnOff@1.4", "OnOff", "\"on\"", HUB_ERROR_INVALID_ARGUMENT,
		  "property OnOff: expected boolean, got string \"on\"" },
		{ "matter.OnOff@1.4", "OnTime", "12.5", HUB_ERROR_INVALID_ARGUMENT,
		  "property OnTime: expected integer, got number 12.5" },
		{ "matter.FanControl@1.4", "FanMode", "\"Purple\"", HUB_ERROR_INVALID_ARGUMENT,
		  "property FanMode: \"Purple\" is not one of Off, Low, Medium, High, On, Auto, Smart" },
		{ "matter.Thermostat@1.4", "LocalTemperature", "-27316", HUB_ERROR_INVALID_ARGUMENT,
		  "value -27316 is below the minimum -27315" },
		{ "matter.PowerSource@1.4", "BatVoltage", "4294967295", VALID, NULL },
		{ "matter.PowerSource@1.4", "Description", "\"Primary Battery\"", VALID, NULL },
		{ "matter.OnOff@1.4", "Brightness", "1", HUB_ERROR_NOT_FOUND,
		  "capability matter.OnOff@1.4 has no property \"Brightness\"" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(JsonNode) v = parse(cases[i].value);
		g_autoptr(GError) error = NULL;
		gboolean ok = hub_capability_def_validate_report(lookup(catalog, cases[i].cap), cases[i].property,
								  v, &error);

		if (cases[i].code == VALID) {
			g_assert_no_error(error);
			g_assert_true(ok);
		} else {
			g_assert_false(ok);
			assert_error(error, cases[i].code, cases[i].fragment);
		}
	}
}

static void test_validate_write(void)
{
	g_autoptr(HubCatalog) catalog = load_bundled();
	static const struct {
		const char *cap;
		const char *property;
		const char *value;
		gint code;
		const char *fragment;
	} cases[] = {
		{ "matter.OnOff@1.4", "OnOff", "true", VALID, NULL },
		{ "matter.Thermostat@1.4", "OccupiedHeatingSetpoint", "2150", VALID, NULL },
		{ "matter.Thermostat@1.4", "SystemMode", "\"Heat\"", VALID, NULL },
		{ "matter.Thermostat@1.4", "LocalTemperature", "2000", HUB_ERROR_NOT_SUPPORTED,
		  "property LocalTemperature is not mutable" },
		{ "matter.LevelControl@1.4", "MaxLevel", "200", HUB_ERROR_NOT_SUPPORTED,
		  "property MaxLevel is not mutable" },
		{ "matter.Thermostat@1.4", "SystemMode", "\"Warm\"", HUB_ERROR_INVALID_ARGUMENT,
		  "property SystemMode: \"Warm\" is not one of Off, Auto, Cool, Heat, EmergencyHeat" },
		{ "matter.Thermostat@1.4", "SystemMode", "4", HUB_ERROR_INVALID_ARGUMENT,
		  "property SystemMode: expected string, got integer 4" },
		{ "matter.FanControl@1.4", "PercentSetting", "101", HUB_ERROR_INVALID_ARGUMENT,
		  "property PercentSetting: value 101 is above the maximum 100" },
		{ "matter.FanControl@1.4", "Speed", "1", HUB_ERROR_NOT_FOUND,
		  "capability matter.FanControl@1.4 has no property \"Speed\"" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(JsonNode) v = parse(cases[i].value);
		g_autoptr(GError) error = NULL;
		gboolean ok = hub_capability_def_validate_write(lookup(catalog, cases[i].cap), cases[i].property,
								 v, &error);

		if (cases[i].code == VALID) {
			g_assert_no_error(error);
			g_assert_true(ok);
		} else {
			g_assert_false(ok);
			assert_error(error, cases[i].code, cases[i].fragment);
		}
	}
}

/* ---- actions and events ----------------------------------------------- */

static void test_validate_action(void)
{
	g_autoptr(HubCatalog) catalog = load_bundled();
	const HubCapabilityDef *onoff = lookup(catalog, "matter.OnOff@1.4");
	const HubCapabilityDef *level = lookup(catalog, "matter.LevelControl@1.4");
	const HubCapabilityDef *color = lookup(catalog, "matter.ColorControl@1.4");
	const HubCapabilityDef *lock = lookup(catalog, "matter.DoorLock@1.4");
	const HubCapabilityDef *fan = lookup(catalog, "matter.FanControl@1.4");
	const HubCapabilityDef *thermostat = lookup(catalog, "matter.Thermostat@1.4");

	assert_action(onoff, "Toggle", NULL, VALID, NULL);
	assert_action(onoff, "On", "{}", VALID, NULL);
	assert_action(onoff, "Toggle", "{\"Effect\": 1}", HUB_ERROR_INVALID_ARGUMENT,
		      "action Toggle has no parameter \"Effect\"");
	assert_action(onoff, "Blink", NULL, HUB_ERROR_NOT_FOUND, "capability matter.OnOff@1.4 has no action \"Blink\"");

	assert_action(level, "MoveToLevel", "{\"Level\": 128}", VALID, NULL);
	assert_action(level, "MoveToLevel", "{\"Level\": 128, \"TransitionTime\": 10}", VALID, NULL);
	assert_action(level, "MoveToLevel", "{\"Level\": 300}", HUB_ERROR_INVALID_ARGUMENT,
		      "action MoveToLevel, parameter Level: value 300 is above the maximum 254");
	assert_action(level, "MoveToLevel", "{\"Level\": \"high\"}", HUB_ERROR_INVALID_ARGUMENT,
		      "action MoveToLevel, parameter Level: expected integer, got string \"high\"");
	assert_action(level, "MoveToLevel", "{\"TransitionTime\": 10}", HUB_ERROR_INVALID_ARGUMENT,
		      "action MoveToLevel: missing required parameter Level");
	assert_action(level, "MoveToLevel", NULL, HUB_ERROR_INVALID_ARGUMENT,
		      "action MoveToLevel: missing required parameter Level");
	assert_action(level, "MoveToLevel", "{\"Level\": 1, \"Speed\": 3}", HUB_ERROR_INVALID_ARGUMENT,
		      "action MoveToLevel has no parameter \"Speed\"");
	assert_action(level, "MoveToLevelWithOnOff", "{\"Level\": 0, \"TransitionTime\": 65536}",
		      HUB_ERROR_INVALID_ARGUMENT, "parameter TransitionTime: value 65536 is above the maximum 65535");

	assert_action(color, "MoveToHue", "{\"Hue\": 10, \"Direction\": \"Up\"}", VALID, NULL);
	assert_action(color, "MoveToHue", "{\"Hue\": 10, \"Direction\": \"Sideways\"}", HUB_ERROR_INVALID_ARGUMENT,
		      "parameter Direction: \"Sideways\" is not one of Shortest, Longest, Up, Down");
	assert_action(color, "MoveToColor", "{\"ColorX\": 100}", HUB_ERROR_INVALID_ARGUMENT,
		      "missing required parameter ColorY");

	assert_action(lock, "UnlockDoor", NULL, VALID, NULL);
	assert_action(lock, "UnlockDoor", "{\"PINCode\": \"1234\"}", VALID, NULL);
	assert_action(lock, "UnlockDoor", "{\"PINCode\": \"12ab\"}", HUB_ERROR_INVALID_ARGUMENT,
		      "parameter PINCode: string \"12ab\" does not match the pattern ^[0-9]{4,8}$");
	assert_action(lock, "LockDoor", "{\"PINCode\": 1234}", HUB_ERROR_INVALID_ARGUMENT,
		      "parameter PINCode: expected string, got integer 1234");

	assert_action(fan, "Step", "{\"Direction\": \"Increase\", \"Wrap\": true}", VALID, NULL);
	assert_action(fan, "Step", "{\"Direction\": \"Increase\", \"Wrap\": \"yes\"}", HUB_ERROR_INVALID_ARGUMENT,
		      "parameter Wrap: expected boolean, got string \"yes\"");

	assert_action(thermostat, "SetpointRaiseLower", "{\"Mode\": \"Both\", \"Amount\": -128}", VALID, NULL);
	assert_action(thermostat, "SetpointRaiseLower", "{\"Mode\": \"Both\", \"Amount\": -129}",
		      HUB_ERROR_INVALID_ARGUMENT, "parameter Amount: value -129 is below the minimum -128");
	assert_action(thermostat, "SetpointRaiseLower", "{\"Amount\": 5}", HUB_ERROR_INVALID_ARGUMENT,
		      "missing required parameter Mode");
}

static void test_read_state(void)
{
	g_autoptr(TmpDir) t = tmpdir_new();
	g_autofree char *text = widget_text("1.0");
	g_autofree char *path = tmpdir_write(t, "acme.Widget@1.0.json", text, -1);
	g_autoptr(HubCatalog) catalog = load_bundled();
	g_autoptr(GError) error = NULL;
	const HubCapabilityDef *onoff = lookup(catalog, "matter.OnOff@1.4");
	const HubCapabilityDef *widget;

	g_assert_true(hub_catalog_load_file(catalog, path, &error));
	g_assert_no_error(error);
	widget = lookup(catalog, "acme.Widget@1.0");

	assert_action(onoff, "ReadState", "{\"propertiesToRead\": [\"OnOff\"]}", VALID, NULL);
	assert_action(onoff, "ReadState", "{\"propertiesToRead\": [\"OnOff\", \"OnTime\"]}", VALID, NULL);
	assert_action(onoff, "ReadState", "{\"propertiesToRead\": [\"*\"]}", VALID, NULL);
	assert_action(onoff, "ReadState", "{\"propertiesToRead\": [\"OnOff\", \"Colour\"]}", HUB_ERROR_NOT_FOUND,
		      "capability matter.OnOff@1.4 has no property \"Colour\"");
	assert_action(onoff, "ReadState", "{\"propertiesToRead\": [\"*\", \"OnOff\"]}", HUB_ERROR_INVALID_ARGUMENT,
		      "\"*\" must be the only entry of propertiesToRead");
	assert_action(onoff, "ReadState", "{\"propertiesToRead\": []}", HUB_ERROR_INVALID_ARGUMENT,
		      "propertiesToRead is empty");
	assert_action(onoff, "ReadState", "{\"propertiesToRead\": \"OnOff\"}", HUB_ERROR_INVALID_ARGUMENT,
		      "propertiesToRead must be an array");
	assert_action(onoff, "ReadState", "{\"propertiesToRead\": [3]}", HUB_ERROR_INVALID_ARGUMENT,
		      "propertiesToRead[0] is not a property name");
	assert_action(onoff, "ReadState", NULL, HUB_ERROR_INVALID_ARGUMENT,
		      "action ReadState: missing required parameter propertiesToRead");
	assert_action(onoff, "ReadState", "{\"propertiesToRead\": [\"*\"], \"fresh\": true}",
		      HUB_ERROR_INVALID_ARGUMENT, "action ReadState has no parameter \"fresh\"");
	/* "Secret" has no "retrievable": it defaults to false */
	assert_action(widget, "ReadState", "{\"propertiesToRead\": [\"Speed\"]}", VALID, NULL);
	assert_action(widget, "ReadState", "{\"propertiesToRead\": [\"Secret\"]}", HUB_ERROR_NOT_SUPPORTED,
		      "property Secret is not retrievable");
}

static void test_update_state(void)
{
	g_autoptr(HubCatalog) catalog = load_bundled();
	const HubCapabilityDef *onoff = lookup(catalog, "matter.OnOff@1.4");
	const HubCapabilityDef *thermostat = lookup(catalog, "matter.Thermostat@1.4");

	/* digest A §1.13 example */
	assert_action(onoff, "UpdateState", "{\"OnTime\": 5}", VALID, NULL);
	assert_action(onoff, "UpdateState", "{\"OnOff\": false, \"OffWaitTime\": 0}", VALID, NULL);
	assert_action(onoff, "UpdateState", "{}", HUB_ERROR_INVALID_ARGUMENT,
		      "action UpdateState needs at least one property to write");
	assert_action(onoff, "UpdateState", NULL, HUB_ERROR_INVALID_ARGUMENT,
		      "action UpdateState needs at least one property to write");
	assert_action(onoff, "UpdateState", "{\"OnTime\": 70000}", HUB_ERROR_INVALID_ARGUMENT,
		      "property OnTime: value 70000 is above the maximum 65535");
	assert_action(onoff, "UpdateState", "{\"OnTime\": 5, \"Dimmer\": 3}", HUB_ERROR_NOT_FOUND,
		      "capability matter.OnOff@1.4 has no property \"Dimmer\"");
	assert_action(thermostat, "UpdateState", "{\"SystemMode\": \"Cool\", \"LocalTemperature\": 2000}",
		      HUB_ERROR_NOT_SUPPORTED, "property LocalTemperature is not mutable");
}

static void test_validate_event(void)
{
	g_autoptr(HubCatalog) catalog = load_bundled();
	const HubCapabilityDef *lock = lookup(catalog, "matter.DoorLock@1.4");
	const HubCapabilityDef *contact = lookup(catalog, "matter.BooleanState@1.4");
	const HubCapabilityDef *occupancy = lookup(catalog, "matter.OccupancySensing@1.4");

	assert_event(lock, "DoorLockAlarm", "{\"AlarmCode\": \"DoorAjar\"}", VALID, NULL);
	assert_event(lock, "DoorLockAlarm", "{\"AlarmCode\": \"Fire\"}", HUB_ERROR_INVALID_ARGUMENT,
		     "event DoorLockAlarm, parameter AlarmCode: \"Fire\" is not one of LockJammed");
	assert_event(lock, "DoorLockAlarm", "{}", HUB_ERROR_INVALID_ARGUMENT,
		     "event DoorLockAlarm: missing required parameter AlarmCode");
	assert_event(lock, "LockOperation", "{\"LockOperationType\": \"Unlock\", \"OperationSource\": \"Keypad\"}",
		     VALID, NULL);
	assert_event(lock, "LockOperation", "{\"LockOperationType\": \"Unlock\"}", HUB_ERROR_INVALID_ARGUMENT,
		     "missing required parameter OperationSource");
	assert_event(lock, "DoorOpened", NULL, HUB_ERROR_NOT_FOUND, "capability matter.DoorLock@1.4 has no event \"DoorOpened\"");
	assert_event(contact, "StateChange", "{\"StateValue\": true}", VALID, NULL);
	assert_event(contact, "StateChange", "{\"StateValue\": true, \"Extra\": 1}", HUB_ERROR_INVALID_ARGUMENT,
		     "event StateChange has no parameter \"Extra\"");
	assert_event(occupancy, "OccupancyChanged", "{\"Occupancy\": 2}", HUB_ERROR_INVALID_ARGUMENT,
		     "parameter Occupancy: value 2 is above the maximum 1");
}

/* ---- refused documents ------------------------------------------------ */

static void test_bad_files(void)
{
	static const struct {
		const char *file;
		const char *fragment;
	} cases[] = {
		{ "invalid-json.json", "invalid JSON at line 3" },
		{ "missing-id.json", "missing required member \"$id\"" },
		{ "bad-id.json", "$id \"/schema-version/capability/acme.BadId@1.0\" must start with \"/schema-versions/\"" },
		{ "schema-not.json", "properties.Level.value: the \"not\" keyword is not supported" },
		{ "property-space.json", "properties: property name \"On Off\" is not alphanumeric" },
		{ "unknown-keyword.json",
		  "actions[0].request.parameters.Label.value: unknown schema keyword \"maxSize\"" },
		{ "unresolvable-ref.json",
		  "events[0].request.parameters.Code.value: unresolvable $ref \"#/$defs/AlarmCode\"" },
	};
	g_autoptr(HubCatalog) catalog = hub_catalog_new();

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *path = srcdir_path("tests", "data", "capabilities-bad", cases[i].file, NULL);
		g_autoptr(GError) error = NULL;

		g_assert_false(hub_catalog_load_file(catalog, path, &error));
		g_assert_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT);
		/* the message names the file, then the place in it */
		g_assert_true(g_str_has_prefix(error->message, path));
		assert_contains(error->message, cases[i].fragment);
	}
	g_assert_cmpuint(hub_catalog_size(catalog), ==, 0);
}

static void test_missing_file(void)
{
	g_autoptr(HubCatalog) catalog = hub_catalog_new();
	g_autoptr(GError) error = NULL;

	g_assert_false(hub_catalog_load_file(catalog, "/nonexistent/matter.OnOff@1.4.json", &error));
	assert_error(error, HUB_ERROR_NOT_FOUND, "/nonexistent/matter.OnOff@1.4.json");
	g_clear_error(&error);
	g_assert_cmpint(hub_catalog_load_dir(catalog, "/nonexistent", &error), ==, -1);
	assert_error(error, HUB_ERROR_NOT_FOUND, "Cannot read capability directory /nonexistent");
}

/* widget_doc padded with spaces to exactly @chars characters */
static char *padded_widget(glong chars)
{
	g_autofree char *doc = widget_text("1.0");
	glong len = g_utf8_strlen(doc, -1);
	g_autoptr(GString) s = g_string_new(doc);

	g_assert_cmpint(len, <=, chars);
	g_string_append_printf(s, "%*s", (int)(chars - len), "");
	return g_string_free(g_steal_pointer(&s), FALSE);
}

static void test_size_limit(void)
{
	g_autoptr(TmpDir) t = tmpdir_new();
	g_autofree char *at_limit = padded_widget(50000);
	g_autofree char *over_limit = padded_widget(50001);
	g_autofree char *ok_path = tmpdir_write(t, "at-limit.json", at_limit, -1);
	g_autoptr(HubCatalog) catalog = hub_catalog_new();
	g_autoptr(GError) error = NULL;
	g_autoptr(GString) comment = g_string_new("\"$comment\": \"");
	g_autoptr(GString) multibyte = NULL;
	g_autofree char *doc = widget_text("2.0");

	g_assert_true(hub_catalog_load_file(catalog, ok_path, &error));
	g_assert_no_error(error);
	assert_document_refused("over-limit.json", over_limit, HUB_ERROR_INVALID_ARGUMENT,
				"the document is 50001 characters long, more than the limit of 50000");

	/* the limit counts characters: 40,000 two-byte characters are within it */
	for (guint i = 0; i < 40000; i++)
		g_string_append(comment, "\u00e9");
	g_string_append(comment, "\", \"name\"");
	multibyte = g_string_new(doc);
	g_assert_cmpuint(g_string_replace(multibyte, "\"name\"", comment->str, 1), ==, 1);
	g_assert_cmpuint(multibyte->len, >, 80000);
	g_clear_pointer(&ok_path, g_free);
	ok_path = tmpdir_write(t, "multibyte.json", multibyte->str, -1);
	g_assert_true(hub_catalog_load_file(catalog, ok_path, &error));
	g_assert_no_error(error);
}

static void test_nesting_limit(void)
{
	g_autofree char *doc = widget_text("1.0");
	g_autoptr(GString) text = g_string_new(doc);
	g_autoptr(GString) deep = g_string_new("\"$comment\": ");

	for (guint i = 0; i < 10000; i++)
		g_string_append_c(deep, '[');
	for (guint i = 0; i < 10000; i++)
		g_string_append_c(deep, ']');
	g_string_append(deep, ", \"name\"");
	g_string_replace(text, "\"name\"", deep->str, 1);
	assert_document_refused("deep.json", text->str, HUB_ERROR_INVALID_ARGUMENT, "nested deeper than 64 levels");
}

static void test_document_rules(void)
{
	static const struct {
		const char *from;
		const char *to;
		const char *fragment;
	} cases[] = {
		{ "acme.Widget@", "ab.Widget@", "root namespace \"ab\" must be 3 to 12 characters long" },
		{ "acme.Widget@", "acmecorporation.Widget@", "root namespace \"acmecorporation\"" },
		{ "acme.Widget@", "Widget@", "must name <namespace>.<Name>" },
		{ "acme.Widget@1.0", "acme.Widget@1.x", "version \"1.x\" must be MAJOR.MINOR[.PATCH]" },
		{ "acme.Widget@1.0", "acme.Widget", "has no \"@<version>\"" },
		{ "capability/acme", "definition/acme", "is not a capability id" },
		{ "aws.capability@1.0", "aws.definition@1.0", "$ref of a capability must be" },
		{ "\"Acme Widget\"", "\"Acme_Widget\"", "name \"Acme_Widget\" may only hold" },
		{ "\"Acme Widget\"", "\"9 Widget\"", "name \"9 Widget\" must start with a letter" },
		{ "\"Acme Widget\"", "\"A Widget With A Name Far Longer Than Sixty Four Characters Is Refused\"",
		  "name: longer than 64 characters" },
		{ "\"0x13570001\"", "\"0x135700011\"", "extrinsicId: \"0x135700011\" is not a decimal number" },
		{ "\"0x13570001\"", "13570001", "extrinsicId: expected a string" },
		{ "\"extrinsicVersion\": \"1\"", "\"extrinsicVersion\": \"v1\"", "extrinsicVersion \"v1\" must be" },
		{ "\"extrinsicVersion\": \"1\",", "", "missing required member \"extrinsicVersion\"" },
		{ "\"$defs\"", "\"defs\"", "unknown member \"defs\"" },
		{ "\"mutable\": true }", "\"mutable\": \"yes\" }", "properties.Secret.mutable: expected true or false" },
		{ "\"mutable\": true }", "\"mutable\": true, \"writable\": true }", "properties.Secret: unknown member \"writable\"" },
		{ "\"Secret\": { \"extrinsicId\": \"0x0000\", ", "\"Secret\": { ",
		  "properties.Secret: missing required member \"extrinsicId\"" },
		{ "\"extrinsicId\": \"0x0001\"", "\"extrinsicId\": \"0x00\"",
		  "properties.Speed: extrinsicId 0x00 is already used by property Secret" },
		{ "\"value\": { \"type\": \"integer\" },", "", "properties.Secret: missing required member \"value\"" },
		{ "\"name\": \"Spin\"", "\"name\": \"ReadState\"", "ReadState is built into every capability" },
		{ "\"name\": \"Spin\"", "\"name\": \"Spin It\"", "actions[0].name: \"Spin It\" is not alphanumeric" },
		{ "\"required\": [ \"Speed\" ]", "\"required\": [ \"Sped\" ]",
		  "actions[0].request.required: \"Sped\" is not one of the parameters" },
		{ "\"request\": { \"parameters\"", "\"request\": { \"params\"", "actions[0].request: unknown member \"params\"" },
		{ "\"response\": { \"parameters\": { } }", "\"response\": { }",
		  "actions[0].response: missing required member \"parameters\"" },
		{ "[ { \"name\": \"Jammed\", \"extrinsicId\": \"0x00\" } ]",
		  "[ { \"name\": \"Jammed\", \"extrinsicId\": \"0x00\" }, { \"name\": \"Jammed\", \"extrinsicId\": \"0x01\" } ]",
		  "events[1]: a second event named Jammed" },
		{ "\"Speed\": { \"type\": \"string\"", "\"Speed\": { \"type\": \"text\"", "$defs.Speed: unknown type \"text\"" },
		{ "\"$defs\": { \"Speed\"", "\"$defs\": { \"Sp eed\"", "$defs: name \"Sp eed\" may only hold" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++)
		assert_widget_variant_refused(cases[i].from, cases[i].to, cases[i].fragment);
}

static void test_needs_an_element(void)
{
	static const char doc[] =
		"{ \"$id\": \"/schema-versions/capability/acme.Empty@1.0\", \"name\": \"Empty\","
		"  \"extrinsicId\": \"0x13570009\", \"extrinsicVersion\": \"1\","
		"  \"properties\": {}, \"actions\": [], \"events\": [] }";

	assert_document_refused("empty.json", doc, HUB_ERROR_INVALID_ARGUMENT,
				"a capability needs at least one property, action or event");
	assert_document_refused("array.json", "[1, 2]", HUB_ERROR_INVALID_ARGUMENT,
				"the document must be a JSON object");
	assert_document_refused("nothing.json", "", HUB_ERROR_INVALID_ARGUMENT, "invalid JSON");
	assert_document_refused("latin1.json", "{\"name\": \"\xe9\"}", HUB_ERROR_INVALID_ARGUMENT,
				"the document is not valid UTF-8 text");
}

static void test_reserved_namespaces_allowed(void)
{
	g_autoptr(TmpDir) t = tmpdir_new();
	g_autofree char *doc = widget_text("1.0");
	g_autoptr(GString) text = g_string_new(doc);
	g_autofree char *path = NULL;
	g_autoptr(HubCatalog) catalog = hub_catalog_new();
	g_autoptr(GError) error = NULL;

	/* aws (3 characters) and matter are the bundled namespaces; they load */
	g_string_replace(text, "acme.Widget", "aws.Widget", 1);
	path = tmpdir_write(t, "aws.Widget@1.0.json", text->str, -1);
	g_assert_true(hub_catalog_load_file(catalog, path, &error));
	g_assert_no_error(error);
	g_assert_nonnull(hub_catalog_lookup(catalog, "aws.Widget"));
}

static void test_load_dir_mixed(void)
{
	g_autoptr(TmpDir) t = tmpdir_new();
	g_autoptr(HubCatalog) catalog = hub_catalog_new();
	g_autoptr(GError) error = NULL;
	g_autofree char *oversize = padded_widget(60000);
	g_autofree char *good1 = srcdir_path("data", "capabilities", "matter.OnOff@1.4.json", NULL);
	g_autofree char *good2 = srcdir_path("data", "capabilities", "matter.DoorLock@1.4.json", NULL);
	g_autofree char *bad1 = srcdir_path("tests", "data", "capabilities-bad", "invalid-json.json", NULL);
	g_autofree char *bad2 = srcdir_path("tests", "data", "capabilities-bad", "schema-not.json", NULL);
	static const char *const ignored[] = { ".hidden.json", "README", "notes.json~" };

	g_free(tmpdir_copy(t, good1, "matter.OnOff@1.4.json"));
	g_free(tmpdir_copy(t, good2, "matter.DoorLock@1.4.json"));
	g_free(tmpdir_copy(t, bad1, "invalid-json.json"));
	g_free(tmpdir_copy(t, bad2, "schema-not.json"));
	g_free(tmpdir_write(t, "oversize.json", oversize, -1));
	/* a duplicate of a good file under another name is refused too */
	g_free(tmpdir_copy(t, good1, "zz-copy.json"));
	for (gsize i = 0; i < G_N_ELEMENTS(ignored); i++)
		g_free(tmpdir_write(t, ignored[i], "not JSON", -1));

	/* files load in name order; each refused one is logged once */
	g_test_expect_message("hubd", G_LOG_LEVEL_WARNING,
			      "Failed to load capability file */invalid-json.json: invalid JSON at line 3*, ignoring");
	g_test_expect_message("hubd", G_LOG_LEVEL_WARNING,
			      "Failed to load capability file */oversize.json: the document is 60000 characters long*, ignoring");
	g_test_expect_message("hubd", G_LOG_LEVEL_WARNING,
			      "Failed to load capability file */schema-not.json: properties.Level.value: the \"not\" keyword*, ignoring");
	g_test_expect_message("hubd", G_LOG_LEVEL_WARNING,
			      "Failed to load capability file */zz-copy.json: capability matter.OnOff@1.4 is already loaded from *, ignoring");
	g_assert_cmpint(hub_catalog_load_dir(catalog, t->path, &error), ==, 2);
	g_test_assert_expected_messages();
	g_assert_no_error(error);
	g_assert_cmpuint(hub_catalog_size(catalog), ==, 2);
	g_assert_nonnull(hub_catalog_lookup(catalog, "matter.OnOff@1.4"));
	g_assert_nonnull(hub_catalog_lookup(catalog, "matter.DoorLock@1.4"));
}

static void test_load_dir_all_bad(void)
{
	g_autofree char *dir = srcdir_path("tests", "data", "capabilities-bad", NULL);
	g_autoptr(HubCatalog) catalog = hub_catalog_new();
	g_autoptr(GError) error = NULL;
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	guint n = 0;

	g_assert_nonnull(d);
	while (g_dir_read_name(d) != NULL) {
		g_test_expect_message("hubd", G_LOG_LEVEL_WARNING, "Failed to load capability file *, ignoring");
		n++;
	}
	g_assert_cmpuint(n, >=, 7);
	g_assert_cmpint(hub_catalog_load_dir(catalog, dir, &error), ==, 0);
	g_test_assert_expected_messages();
	g_assert_no_error(error);
	g_assert_cmpuint(hub_catalog_size(catalog), ==, 0);
}

static void test_defs_in_use(void)
{
	g_autoptr(TmpDir) t = tmpdir_new();
	g_autofree char *text = widget_text("1.0");
	g_autofree char *path = tmpdir_write(t, "acme.Widget@1.0.json", text, -1);
	g_autoptr(HubCatalog) catalog = hub_catalog_new();
	g_autoptr(GError) error = NULL;
	const HubCapabilityDef *widget;

	g_assert_true(hub_catalog_load_file(catalog, path, &error));
	g_assert_no_error(error);
	widget = lookup(catalog, "acme.Widget");
	g_assert_nonnull(widget->defs);
	g_assert_cmpstr(widget->path, ==, path);
	assert_action(widget, "Spin", "{\"Speed\": \"Fast\"}", VALID, NULL);
	assert_action(widget, "Spin", "{\"Speed\": \"Warp\"}", HUB_ERROR_INVALID_ARGUMENT,
		      "action Spin, parameter Speed: \"Warp\" is not one of Slow, Fast");
	/* an event with no request takes no parameters */
	assert_event(widget, "Jammed", NULL, VALID, NULL);
	assert_event(widget, "Jammed", "{\"Where\": 1}", HUB_ERROR_INVALID_ARGUMENT, "event Jammed has no parameter \"Where\"");
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	g_test_add_func("/hub/catalog/load-bundled", test_load_bundled);
	g_test_add_func("/hub/catalog/bundled-table", test_bundled_table);
	g_test_add_func("/hub/catalog/lookup", test_lookup);
	g_test_add_func("/hub/catalog/duplicate-id", test_duplicate_id);
	g_test_add_func("/hub/catalog/validate-report", test_validate_report);
	g_test_add_func("/hub/catalog/validate-write", test_validate_write);
	g_test_add_func("/hub/catalog/validate-action", test_validate_action);
	g_test_add_func("/hub/catalog/read-state", test_read_state);
	g_test_add_func("/hub/catalog/update-state", test_update_state);
	g_test_add_func("/hub/catalog/validate-event", test_validate_event);
	g_test_add_func("/hub/catalog/defs-in-use", test_defs_in_use);
	g_test_add_func("/hub/catalog/bad-files", test_bad_files);
	g_test_add_func("/hub/catalog/missing-file", test_missing_file);
	g_test_add_func("/hub/catalog/size-limit", test_size_limit);
	g_test_add_func("/hub/catalog/nesting-limit", test_nesting_limit);
	g_test_add_func("/hub/catalog/document-rules", test_document_rules);
	g_test_add_func("/hub/catalog/needs-an-element", test_needs_an_element);
	g_test_add_func("/hub/catalog/reserved-namespaces-allowed", test_reserved_namespaces_allowed);
	g_test_add_func("/hub/catalog/load-dir-mixed", test_load_dir_mixed);
	g_test_add_func("/hub/catalog/load-dir-all-bad", test_load_dir_all_bad);

	return g_test_run();
}
