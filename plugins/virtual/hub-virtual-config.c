/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-virtual-config.c - the [plugin.virtual] keys and the device file.
 *
 * A bad device is logged with the file, the group and what is wrong, then
 * skipped: one typo must not take the whole demo down.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hub-virtual.h"

#define MAX_LATENCY_MS  600000u   /* 10 min */
#define MIN_INTERVAL_MS 10u
#define MAX_INTERVAL_MS 86400000u /* 1 day */
#define MAX_GENERATE    100000u

static const char *const device_keys[] = {
	"type",	       "name",		     "manufacturer",	  "model",
	"serial",      "onboarded",	     "latency-ms",	  "report-interval-ms",
	"offline-period-ms", "offline-duration-ms", "battery", "pin",
	NULL,
};

typedef struct {
	VirtualPlugin *vp;
	GKeyFile *kf;
	const char *path;
	const char *group;
} Parser;

gboolean virtual_id_is_valid(const char *id)
{
	size_t n = 0;

	if (!id)
		return FALSE;
	for (const char *p = id; *p; p++, n++)
		if (!g_ascii_isalnum(*p) && !strchr("._:-", *p))
			return FALSE;
	return n >= 1 && n <= 128;
}

static gboolean pin_is_valid(const char *pin)
{
	size_t n = strlen(pin);

	for (const char *p = pin; *p; p++)
		if (!g_ascii_isdigit(*p))
			return FALSE;
	return n >= 4 && n <= 8;
}

static gboolean parse_uint(const char *text, guint32 min, guint32 max, guint32 *out)
{
	g_autofree char *copy = g_strstrip(g_strdup(text ? text : ""));
	guint64 value;

	if (!g_ascii_string_to_unsigned(copy, 10, min, max, &value, NULL))
		return FALSE;
	*out = (guint32)value;
	return TRUE;
}

/* ---- [plugin.virtual] ---- */

static void plugin_uint(VirtualPlugin *vp, const char *key, guint32 min, guint32 max, guint32 *value)
{
	const char *text = vp->host->config_get(vp->handle, key);

	if (text && !parse_uint(text, min, max, value))
		virtual_log(vp, HUB_LOG_WARNING,
			    "Invalid %s \"%s\" in [plugin.virtual] (expected an integer %u-%u), using %u", key,
			    text, min, max, *value);
}

/* ---- device file ---- */

/* Logs a problem with the current device; the device is skipped. */
#define parser_error(ps, fmt, ...)                                                                       \
	virtual_log((ps)->vp, HUB_LOG_ERR, "%s: [%s]: " fmt ", skipping device", (ps)->path, (ps)->group, \
		    ##__VA_ARGS__)
#define parser_warning(ps, fmt, ...)                                                                  \
	virtual_log((ps)->vp, HUB_LOG_WARNING, "%s: [%s]: " fmt ", ignoring", (ps)->path, (ps)->group, \
		    ##__VA_ARGS__)

/* *out is NULL when the key is absent or empty. FALSE (logged) when the
 * value cannot be read (bad escape, invalid UTF-8). */
static gboolean parser_string(const Parser *ps, const char *key, char **out)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *value = NULL;

	*out = NULL;
	if (!g_key_file_has_key(ps->kf, ps->group, key, NULL))
		return TRUE;
	value = g_key_file_get_string(ps->kf, ps->group, key, &error);
	if (!value) {
		parser_error(ps, "invalid %s: %s", key, error->message);
		return FALSE;
	}
	g_strstrip(value);
	if (*value)
		*out = g_steal_pointer(&value);
	return TRUE;
}

/* *present tells whether the key was there; FALSE (logged) when malformed. */
static gboolean parser_uint(const Parser *ps, const char *key, guint32 min, guint32 max, guint32 *out,
			    gboolean *present)
{
	g_autofree char *text = NULL;

	if (present)
		*present = FALSE;
	if (!parser_string(ps, key, &text))
		return FALSE;
	if (!text)
		return TRUE;
	if (!parse_uint(text, min, max, out)) {
		parser_error(ps, "invalid %s \"%s\" (expected an integer %u-%u)", key, text, min, max);
		return FALSE;
	}
	if (present)
		*present = TRUE;
	return TRUE;
}

static gboolean parser_bool(const Parser *ps, const char *key, gboolean *out)
{
	g_autofree char *text = NULL;

	if (!parser_string(ps, key, &text))
		return FALSE;
	if (!text)
		return TRUE;
	if (g_ascii_strcasecmp(text, "true") == 0 || strcmp(text, "1") == 0) {
		*out = TRUE;
	} else if (g_ascii_strcasecmp(text, "false") == 0 || strcmp(text, "0") == 0) {
		*out = FALSE;
	} else {
		parser_error(ps, "invalid %s \"%s\" (expected true or false)", key, text);
		return FALSE;
	}
	return TRUE;
}

static char *type_names(void)
{
	GString *names = g_string_new(NULL);

	for (guint i = 0; i < virtual_type_count(); i++)
		g_string_append_printf(names, "%s%s", i ? ", " : "", virtual_type_nth(i)->name);
	return g_string_free(names, FALSE);
}

static void warn_unknown_keys(const Parser *ps)
{
	g_auto(GStrv) keys = g_key_file_get_keys(ps->kf, ps->group, NULL, NULL);

	for (guint i = 0; keys && keys[i]; i++)
		if (!g_strv_contains(device_keys, keys[i]))
			parser_warning(ps, "unknown key \"%s\"", keys[i]);
}

static VirtualDevice *parse_device(const Parser *ps, const char *id)
{
	VirtualPlugin *vp = ps->vp;
	g_autoptr(VirtualDevice) dev = NULL;
	g_autofree char *type_name = NULL;
	g_autofree char *pin = NULL;
	const VirtualTypeDef *type;
	gboolean onboarded = TRUE, has_interval, has_period, has_duration, has_battery;
	guint32 battery = 100;

	if (!virtual_id_is_valid(id)) {
		parser_error(ps, "invalid device id \"%s\" (expected 1-128 characters of A-Z a-z 0-9 . _ : -)", id);
		return NULL;
	}
	if (g_hash_table_contains(vp->by_id, id)) {
		parser_error(ps, "device %s is declared twice", id);
		return NULL;
	}
	warn_unknown_keys(ps);

	if (!parser_string(ps, "type", &type_name))
		return NULL;
	if (!type_name) {
		parser_error(ps, "missing key \"type\"");
		return NULL;
	}
	type = virtual_type_lookup(type_name);
	if (!type) {
		g_autofree char *known = type_names();

		parser_error(ps, "unknown type \"%s\" (expected one of %s)", type_name, known);
		return NULL;
	}

	dev = virtual_device_new(vp, id, type);
	if (!parser_string(ps, "name", &dev->name) || !parser_string(ps, "manufacturer", &dev->manufacturer) ||
	    !parser_string(ps, "model", &dev->model) || !parser_string(ps, "serial", &dev->serial) ||
	    !parser_bool(ps, "onboarded", &onboarded) ||
	    !parser_uint(ps, "latency-ms", 0, MAX_LATENCY_MS, &dev->latency_ms, NULL) ||
	    !parser_uint(ps, "report-interval-ms", MIN_INTERVAL_MS, MAX_INTERVAL_MS, &dev->report_interval_ms,
			 &has_interval) ||
	    !parser_uint(ps, "offline-period-ms", MIN_INTERVAL_MS, MAX_INTERVAL_MS, &dev->offline_period_ms,
			 &has_period) ||
	    !parser_uint(ps, "offline-duration-ms", 1, MAX_INTERVAL_MS, &dev->offline_duration_ms,
			 &has_duration) ||
	    !parser_uint(ps, "battery", 0, 100, &battery, &has_battery) || !parser_string(ps, "pin", &pin))
		return NULL;

	if (has_period != has_duration) {
		parser_error(ps, "offline-period-ms and offline-duration-ms must be given together");
		return NULL;
	}
	if (has_period && dev->offline_duration_ms >= dev->offline_period_ms) {
		parser_error(ps, "offline-duration-ms (%u) must be shorter than offline-period-ms (%u)",
			     dev->offline_duration_ms, dev->offline_period_ms);
		return NULL;
	}
	if (has_interval && !(type->flags & VIRTUAL_TYPE_PERIODIC))
		parser_warning(ps, "report-interval-ms does not apply to a %s", type->name);
	if (has_battery && !(type->flags & VIRTUAL_TYPE_BATTERY))
		parser_warning(ps, "battery does not apply to a %s", type->name);
	if (pin && strcmp(type->name, "door-lock") != 0) {
		parser_warning(ps, "pin does not apply to a %s", type->name);
	} else if (pin && !pin_is_valid(pin)) { /* never echo a PIN */
		parser_error(ps, "invalid pin (expected 4 to 8 digits, like Matter's PINCode)");
		return NULL;
	} else {
		dev->pin = g_steal_pointer(&pin);
	}

	dev->config_onboarded = onboarded;
	dev->initial_battery = (guint8)battery;
	virtual_device_reset_state(dev);
	return g_steal_pointer(&dev);
}

static void add_device(VirtualPlugin *vp, VirtualDevice *dev)
{
	g_ptr_array_add(vp->devices, dev);
	g_hash_table_insert(vp->by_id, dev->id, dev);
}

static int load_device_file(VirtualPlugin *vp, const char *path)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) groups = NULL;

	if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &error)) {
		virtual_log(vp, HUB_LOG_ERR, "Failed to load device file %s: %s", path, error->message);
		return g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT) ? -ENOENT : -EINVAL;
	}
	groups = g_key_file_get_groups(kf, NULL);
	for (guint i = 0; groups && groups[i]; i++) {
		Parser ps = { vp, kf, path, groups[i] };
		VirtualDevice *dev;

		if (!g_str_has_prefix(groups[i], "device ")) {
			virtual_log(vp, HUB_LOG_WARNING, "%s: unknown group [%s], ignoring", path, groups[i]);
			continue;
		}
		dev = parse_device(&ps, groups[i] + strlen("device "));
		if (dev)
			add_device(vp, dev);
	}
	return 0;
}

/* Benchmark devices: every type in turn, all onboarded, no strings beyond the id. */
static void generate_devices(VirtualPlugin *vp, guint32 count)
{
	for (guint32 i = 1; i <= count; i++) {
		g_autofree char *id = g_strdup_printf("gen-%05u", i);
		VirtualDevice *dev;

		if (g_hash_table_contains(vp->by_id, id)) {
			virtual_log(vp, HUB_LOG_WARNING, "Generated device %s is already in the device file, ignoring",
				    id);
			continue;
		}
		dev = virtual_device_new(vp, id, virtual_type_nth((i - 1) % virtual_type_count()));
		dev->generated = TRUE;
		dev->config_onboarded = TRUE;
		add_device(vp, dev);
	}
}

int virtual_config_load(VirtualPlugin *vp)
{
	const char *devices = vp->host->config_get(vp->handle, "devices");
	guint32 generate = 0;

	vp->latency_ms = 100;
	vp->sensor_interval_ms = 30000;
	plugin_uint(vp, "latency-ms", 0, MAX_LATENCY_MS, &vp->latency_ms);
	plugin_uint(vp, "sensor-interval-ms", MIN_INTERVAL_MS, MAX_INTERVAL_MS, &vp->sensor_interval_ms);
	plugin_uint(vp, "generate", 0, MAX_GENERATE, &generate);

	if (devices && *devices) {
		char *path = vp->host->config_resolve_path(vp->handle, devices);
		int r;

		if (!path) {
			virtual_log(vp, HUB_LOG_ERR, "Failed to resolve device file path \"%s\"", devices);
			return -ENOENT;
		}
		r = load_device_file(vp, path);
		free(path);
		if (r < 0)
			return r;
	}
	generate_devices(vp, generate);
	if (vp->devices->len == 0)
		virtual_log(vp, HUB_LOG_NOTICE, "No devices configured (set devices= or generate= in [plugin.virtual])");
	return 0;
}
