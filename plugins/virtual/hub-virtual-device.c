/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-virtual-device.c - the simulated device models: the static capability
 * and type tables, per-device state, publishing to the registry and the
 * timers that make sensors, thermostats, blinds and flaky radios move.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "hub-virtual.h"

/* ---- capability tables (shared by every device) ---- */

static const char *const color_modes[] = { "CurrentHueAndCurrentSaturation", "CurrentXAndCurrentY",
					   "ColorTemperatureMireds", NULL };
static const char *const system_modes[] = { "Off",	  "Auto",    "Cool", "Heat",  "EmergencyHeat",
					    "Precooling", "FanOnly", "Dry",  "Sleep", NULL };
static const char *const fan_modes[] = { "Off", "Low", "Medium", "High", "On", "Auto", "Smart", NULL };
static const char *const lock_states[] = { "NotFullyLocked", "Locked", "Unlocked", "Unlatched", NULL };
static const char *const operating_modes[] = { "Normal", "Vacation", "Privacy", "NoRemoteLockUnlock",
					       "Passage", NULL };
static const char *const power_statuses[] = { "Unspecified", "Active", "Standby", "Unavailable", NULL };
static const char *const charge_levels[] = { "OK", "Warning", "Critical", NULL };
static const char *const battery_description[] = { "Battery", NULL };

#define P_BOOL(n, f)    { n, VIRTUAL_PROP_BOOL, offsetof(VirtualState, f), NULL }
#define P_INT(n, f)     { n, VIRTUAL_PROP_INT, offsetof(VirtualState, f), NULL }
#define P_ENUM(n, f, v) { n, VIRTUAL_PROP_ENUM, offsetof(VirtualState, f), v }
#define P_TEXT(n, v)    { n, VIRTUAL_PROP_TEXT, 0, v }

static const VirtualPropDef on_off_props[] = {
	P_BOOL("OnOff", on_off),
	P_INT("OnTime", on_time),
	P_INT("OffWaitTime", off_wait_time),
};
static const VirtualPropDef level_props[] = {
	P_INT("CurrentLevel", level),
	P_INT("MinLevel", min_level),
	P_INT("MaxLevel", max_level),
	P_INT("OnLevel", on_level),
};
static const VirtualPropDef color_props[] = {
	P_INT("CurrentHue", hue),
	P_INT("CurrentSaturation", saturation),
	P_INT("CurrentX", color_x),
	P_INT("CurrentY", color_y),
	P_INT("ColorTemperatureMireds", mireds),
	P_ENUM("ColorMode", color_mode, color_modes),
};
static const VirtualPropDef thermostat_props[] = {
	P_INT("LocalTemperature", local_temperature),
	P_INT("OccupiedCoolingSetpoint", cooling_setpoint),
	P_INT("OccupiedHeatingSetpoint", heating_setpoint),
	P_ENUM("SystemMode", system_mode, system_modes),
	P_INT("ThermostatRunningState", running_state),
};
static const VirtualPropDef fan_props[] = {
	P_ENUM("FanMode", fan_mode, fan_modes),
	P_INT("PercentSetting", percent_setting),
	P_INT("PercentCurrent", percent_current),
};
static const VirtualPropDef covering_props[] = {
	P_INT("CurrentPositionLiftPercent100ths", lift_current),
	P_INT("TargetPositionLiftPercent100ths", lift_target),
	P_INT("OperationalStatus", operational_status),
};
static const VirtualPropDef lock_props[] = {
	P_ENUM("LockState", lock_state, lock_states),
	P_BOOL("ActuatorEnabled", actuator_enabled),
	P_ENUM("OperatingMode", operating_mode, operating_modes),
};
static const VirtualPropDef boolean_state_props[] = {
	P_BOOL("StateValue", state_value),
};
static const VirtualPropDef occupancy_props[] = {
	P_INT("Occupancy", occupancy),
	P_INT("OccupancySensorTypeBitmap", occupancy_type),
	P_INT("HoldTime", hold_time),
};
static const VirtualPropDef temperature_props[] = {
	P_INT("MeasuredValue", temperature),
	P_INT("MinMeasuredValue", temperature_min),
	P_INT("MaxMeasuredValue", temperature_max),
	P_INT("Tolerance", temperature_tolerance),
};
static const VirtualPropDef humidity_props[] = {
	P_INT("MeasuredValue", humidity),
	P_INT("MinMeasuredValue", humidity_min),
	P_INT("MaxMeasuredValue", humidity_max),
	P_INT("Tolerance", humidity_tolerance),
};
static const VirtualPropDef power_props[] = {
	P_ENUM("Status", power_status, power_statuses),
	P_INT("Order", power_order),
	P_TEXT("Description", battery_description),
	P_INT("BatPercentRemaining", battery_half_percent),
	P_ENUM("BatChargeLevel", battery_charge_level, charge_levels),
	P_INT("BatVoltage", battery_mv),
};

#define CAP(id, props) { id, props, G_N_ELEMENTS(props) }

const VirtualCapDef virtual_caps[VIRTUAL_N_CAPS] = {
	[VIRTUAL_CAP_ON_OFF] = CAP("matter.OnOff@1.4", on_off_props),
	[VIRTUAL_CAP_LEVEL] = CAP("matter.LevelControl@1.4", level_props),
	[VIRTUAL_CAP_COLOR] = CAP("matter.ColorControl@1.4", color_props),
	[VIRTUAL_CAP_THERMOSTAT] = CAP("matter.Thermostat@1.4", thermostat_props),
	[VIRTUAL_CAP_FAN] = CAP("matter.FanControl@1.4", fan_props),
	[VIRTUAL_CAP_COVERING] = CAP("matter.WindowCovering@1.4", covering_props),
	[VIRTUAL_CAP_LOCK] = CAP("matter.DoorLock@1.4", lock_props),
	[VIRTUAL_CAP_BOOLEAN_STATE] = CAP("matter.BooleanState@1.4", boolean_state_props),
	[VIRTUAL_CAP_OCCUPANCY] = CAP("matter.OccupancySensing@1.4", occupancy_props),
	[VIRTUAL_CAP_TEMPERATURE] = CAP("matter.TemperatureMeasurement@1.4", temperature_props),
	[VIRTUAL_CAP_HUMIDITY] = CAP("matter.RelativeHumidityMeasurement@1.4", humidity_props),
	[VIRTUAL_CAP_POWER] = CAP("matter.PowerSource@1.4", power_props),
};

/* ---- device types ---- */

#define EP1(types, ...)                                                                          \
	{ "1", types, { __VA_ARGS__ }, sizeof((guint8[]){ __VA_ARGS__ }) / sizeof(guint8) }

static const VirtualTypeDef types[] = {
	{ "color-light", "Extended Color Light", 0, 1,
	  { EP1("Extended Color Light", VIRTUAL_CAP_ON_OFF, VIRTUAL_CAP_LEVEL, VIRTUAL_CAP_COLOR) } },
	{ "dimmable-light", "Dimmable Light", 0, 1,
	  { EP1("Dimmable Light", VIRTUAL_CAP_ON_OFF, VIRTUAL_CAP_LEVEL) } },
	{ "plug", "On/Off Plug-in Unit", 0, 1, { EP1("On/Off Plug-in Unit", VIRTUAL_CAP_ON_OFF) } },
	{ "thermostat", "Thermostat", VIRTUAL_TYPE_PERIODIC, 1, { EP1("Thermostat", VIRTUAL_CAP_THERMOSTAT) } },
	{ "door-contact", "Contact Sensor", VIRTUAL_TYPE_PERIODIC | VIRTUAL_TYPE_BATTERY, 1,
	  { EP1("Contact Sensor", VIRTUAL_CAP_BOOLEAN_STATE, VIRTUAL_CAP_POWER) } },
	{ "temp-humidity-sensor", "Temperature Sensor,Humidity Sensor",
	  VIRTUAL_TYPE_PERIODIC | VIRTUAL_TYPE_BATTERY, 2,
	  { EP1("Temperature Sensor", VIRTUAL_CAP_TEMPERATURE, VIRTUAL_CAP_POWER),
	    { "2", "Humidity Sensor", { VIRTUAL_CAP_HUMIDITY }, 1 } } },
	{ "occupancy-sensor", "Occupancy Sensor", VIRTUAL_TYPE_PERIODIC | VIRTUAL_TYPE_BATTERY, 1,
	  { EP1("Occupancy Sensor", VIRTUAL_CAP_OCCUPANCY, VIRTUAL_CAP_POWER) } },
	{ "door-lock", "Door Lock", VIRTUAL_TYPE_PERIODIC | VIRTUAL_TYPE_BATTERY, 1,
	  { EP1("Door Lock", VIRTUAL_CAP_LOCK, VIRTUAL_CAP_POWER) } },
	{ "fan", "Fan", 0, 1, { EP1("Fan", VIRTUAL_CAP_FAN, VIRTUAL_CAP_ON_OFF) } },
	{ "window-covering", "Window Covering", 0, 1, { EP1("Window Covering", VIRTUAL_CAP_COVERING) } },
};

const VirtualTypeDef *virtual_type_lookup(const char *name)
{
	for (guint i = 0; name && i < G_N_ELEMENTS(types); i++)
		if (strcmp(types[i].name, name) == 0)
			return &types[i];
	return NULL;
}

const VirtualTypeDef *virtual_type_nth(guint i)
{
	return i < G_N_ELEMENTS(types) ? &types[i] : NULL;
}

guint virtual_type_count(void)
{
	return G_N_ELEMENTS(types);
}

/* ---- simulation constants ---- */

#define AMBIENT_TEMPERATURE  1800  /* where an idle thermostat's room drifts */
#define HEAT_SETPOINT_MIN    700
#define HEAT_SETPOINT_MAX    3000
#define COOL_SETPOINT_MIN    1600
#define COOL_SETPOINT_MAX    3200
#define CONTACT_EVERY_TICKS  4     /* door contact opens/closes every 4th interval */
#define OCCUPANCY_EVERY_TICKS 3
#define BATTERY_EVERY_TICKS  100   /* half a percent every 100th interval: a week at 30 s */
#define MOTION_INTERVAL_MS   200
#define MOTION_STEP          2000  /* 0.01 % per motion step: full travel in 1 s */

/* ---- small helpers ---- */

static guint32 id_hash(const char *id)
{
	guint32 h = 2166136261u; /* FNV-1a: stable across runs and GLib versions */

	for (const unsigned char *p = (const unsigned char *)id; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

/* xorshift32: cheap and deterministic per device, so runs are repeatable. */
static guint32 device_random(VirtualDevice *dev)
{
	guint32 x = dev->rng;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	dev->rng = x;
	return x;
}

static gint32 state_get(const VirtualState *state, const VirtualPropDef *prop)
{
	return *(const gint32 *)((const char *)state + prop->offset);
}

static const char *enum_name(const char *const *values, gint32 index)
{
	for (gint32 i = 0; values[i]; i++)
		if (i == index)
			return values[i];
	return values[0];
}

static gboolean device_has_cap(const VirtualDevice *dev, VirtualCap cap)
{
	return virtual_device_cap_endpoint(dev, cap) != NULL;
}

static int64_t device_timer_add(VirtualDevice *dev, guint32 interval_ms, int (*fn)(void *))
{
	VirtualPlugin *vp = dev->plugin;
	int64_t id = vp->host->timer_add(vp->handle, interval_ms, fn, dev);

	if (id <= 0) {
		virtual_log(vp, HUB_LOG_WARNING, "Failed to add a timer for device %s: %s, ignoring", dev->id,
			    g_strerror((int)-id));
		return 0;
	}
	return id;
}

static void device_timer_remove(VirtualDevice *dev, gint64 *timer)
{
	if (*timer > 0)
		dev->plugin->host->timer_remove(dev->plugin->handle, *timer);
	*timer = 0;
}

static void battery_update(VirtualState *s)
{
	s->battery_half_percent = CLAMP(s->battery_half_percent, 0, 200);
	s->battery_charge_level = s->battery_half_percent >= 40   ? VIRTUAL_CHARGE_OK
				  : s->battery_half_percent >= 20 ? VIRTUAL_CHARGE_WARNING
								  : VIRTUAL_CHARGE_CRITICAL;
	/* a CR123A-like cell: 2.4 V empty, 3.0 V full */
	s->battery_mv = 2400 + s->battery_half_percent * 3;
}

static gint32 temperature_base(const VirtualDevice *dev)
{
	return 2150 + (gint32)(id_hash(dev->id) % 101) - 50;
}

static gint32 humidity_base(const VirtualDevice *dev)
{
	return 4500 + (gint32)(id_hash(dev->id) % 501) - 250;
}

/* ---- lifetime ---- */

VirtualDevice *virtual_device_new(VirtualPlugin *vp, const char *id, const VirtualTypeDef *type)
{
	VirtualDevice *dev = g_new0(VirtualDevice, 1);

	dev->plugin = vp;
	dev->id = g_strdup(id);
	dev->type = type;
	dev->latency_ms = vp->latency_ms;
	dev->report_interval_ms = vp->sensor_interval_ms;
	dev->initial_battery = 100;
	virtual_device_reset_state(dev);
	return dev;
}

void virtual_device_free(VirtualDevice *dev)
{
	if (!dev)
		return;
	g_free(dev->id);
	g_free(dev->name);
	g_free(dev->manufacturer);
	g_free(dev->model);
	g_free(dev->serial);
	if (dev->pin)
		memset(dev->pin, 0, strlen(dev->pin));
	g_free(dev->pin);
	g_free(dev);
}

/* The state a device has out of the box (also after a remove/re-onboard). */
void virtual_device_reset_state(VirtualDevice *dev)
{
	VirtualState *s = &dev->state;
	guint32 hash = id_hash(dev->id);

	memset(s, 0, sizeof(*s));
	dev->rng = hash ? hash : 0x9e3779b9u;
	dev->ticks = 0;
	dev->rssi = -45 - (gint32)(hash % 40);

	s->level = 254;
	s->min_level = 1;
	s->max_level = 254;
	s->on_level = 254;

	s->color_x = 20493; /* D65 white: x 0.3127, y 0.3290 */
	s->color_y = 21561;
	s->mireds = 250;
	s->color_mode = VIRTUAL_COLOR_MODE_CT;

	s->local_temperature = 2150;
	s->cooling_setpoint = 2600;
	s->heating_setpoint = 2000;
	s->system_mode = VIRTUAL_SYSTEM_MODE_HEAT;

	s->fan_mode = VIRTUAL_FAN_MODE_OFF;
	s->fan_last_mode = VIRTUAL_FAN_MODE_MEDIUM;

	s->lock_state = VIRTUAL_LOCK_STATE_LOCKED;
	s->actuator_enabled = 1;
	s->operating_mode = VIRTUAL_OPERATING_MODE_NORMAL;

	s->state_value = 1; /* contact: the door is closed */

	s->occupancy_type = 1; /* PIR */
	s->hold_time = 30;

	s->temperature = temperature_base(dev);
	s->temperature_min = -4000;
	s->temperature_max = 8500;
	s->temperature_tolerance = 50;

	s->humidity = humidity_base(dev);
	s->humidity_min = 0;
	s->humidity_max = 10000;
	s->humidity_tolerance = 200;

	s->power_status = VIRTUAL_POWER_STATUS_ACTIVE;
	s->battery_half_percent = dev->initial_battery * 2;
	battery_update(s);

	virtual_device_update_thermostat(dev);
}

const char *virtual_device_name(const VirtualDevice *dev)
{
	return dev->name ? dev->name : dev->id;
}

char *virtual_device_serial(const VirtualDevice *dev)
{
	return dev->serial ? g_strdup(dev->serial) : g_strdup_printf("VIRT-%08X", id_hash(dev->id));
}

/* ---- capability lookup ---- */

const char *virtual_device_cap_endpoint(const VirtualDevice *dev, VirtualCap cap)
{
	for (guint e = 0; e < dev->type->n_endpoints; e++) {
		const VirtualEndpointDef *ep = &dev->type->endpoints[e];

		for (guint c = 0; c < ep->n_caps; c++)
			if (ep->caps[c] == cap)
				return ep->id;
	}
	return NULL;
}

/* Accepts the full id ("matter.OnOff@1.4") and the short one ("matter.OnOff"). */
static gboolean cap_id_matches(const char *ours, const char *theirs)
{
	size_t n;

	if (strcmp(ours, theirs) == 0)
		return TRUE;
	if (strchr(theirs, '@'))
		return FALSE;
	n = strlen(theirs);
	return strncmp(ours, theirs, n) == 0 && ours[n] == '@';
}

gboolean virtual_device_find_cap(const VirtualDevice *dev, const char *endpoint_id, const char *capability_id,
				 VirtualCap *cap)
{
	if (!endpoint_id || !capability_id)
		return FALSE;
	for (guint e = 0; e < dev->type->n_endpoints; e++) {
		const VirtualEndpointDef *ep = &dev->type->endpoints[e];

		if (strcmp(ep->id, endpoint_id) != 0)
			continue;
		for (guint c = 0; c < ep->n_caps; c++) {
			if (cap_id_matches(virtual_caps[ep->caps[c]].id, capability_id)) {
				*cap = ep->caps[c];
				return TRUE;
			}
		}
	}
	return FALSE;
}

int virtual_cap_find_prop(VirtualCap cap, const char *name)
{
	const VirtualCapDef *def = &virtual_caps[cap];

	for (guint i = 0; name && i < def->n_props; i++)
		if (strcmp(def->props[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* ---- reporting ---- */

void virtual_device_report_prop(VirtualDevice *dev, VirtualCap cap, guint prop)
{
	VirtualPlugin *vp = dev->plugin;
	const VirtualPropDef *def = &virtual_caps[cap].props[prop];
	const char *endpoint = virtual_device_cap_endpoint(dev, cap);
	struct hub_value value;
	int r;

	if (!endpoint || (dev->missing_caps & (1u << cap)))
		return;
	switch (def->kind) {
	case VIRTUAL_PROP_BOOL:
		value = hub_value_bool(state_get(&dev->state, def));
		break;
	case VIRTUAL_PROP_INT:
		value = hub_value_int(state_get(&dev->state, def));
		break;
	case VIRTUAL_PROP_ENUM:
		value = hub_value_string(enum_name(def->values, state_get(&dev->state, def)));
		break;
	case VIRTUAL_PROP_TEXT:
	default:
		value = hub_value_string(def->values[0]);
		break;
	}
	r = vp->host->report_property(vp->handle, dev->id, endpoint, virtual_caps[cap].id, def->name, &value);
	if (r < 0) /* the host logs why */
		virtual_log(vp, HUB_LOG_DEBUG, "Report of %s %s.%s failed: %s", dev->id, virtual_caps[cap].id,
			    def->name, g_strerror(-r));
}

void virtual_device_report_all(VirtualDevice *dev)
{
	for (guint e = 0; e < dev->type->n_endpoints; e++) {
		const VirtualEndpointDef *ep = &dev->type->endpoints[e];

		for (guint c = 0; c < ep->n_caps; c++)
			for (guint p = 0; p < virtual_caps[ep->caps[c]].n_props; p++)
				virtual_device_report_prop(dev, ep->caps[c], p);
	}
}

void virtual_device_report_changes(VirtualDevice *dev, const VirtualState *before)
{
	for (guint e = 0; e < dev->type->n_endpoints; e++) {
		const VirtualEndpointDef *ep = &dev->type->endpoints[e];

		for (guint c = 0; c < ep->n_caps; c++) {
			const VirtualCapDef *cap = &virtual_caps[ep->caps[c]];

			for (guint p = 0; p < cap->n_props; p++) {
				const VirtualPropDef *prop = &cap->props[p];

				if (prop->kind != VIRTUAL_PROP_TEXT &&
				    state_get(before, prop) != state_get(&dev->state, prop))
					virtual_device_report_prop(dev, ep->caps[c], p);
			}
		}
	}
}

void virtual_device_report_health(VirtualDevice *dev, gboolean battery)
{
	VirtualPlugin *vp = dev->plugin;
	struct hub_value value = hub_value_int(dev->rssi);

	vp->host->report_health(vp->handle, dev->id, "rssi", &value);
	if (battery && (dev->type->flags & VIRTUAL_TYPE_BATTERY)) {
		value = hub_value_int(dev->state.battery_half_percent / 2);
		vp->host->report_health(vp->handle, dev->id, "battery", &value);
	}
}

static void report_event(VirtualDevice *dev, VirtualCap cap, const char *event, const struct hub_param *params,
			 size_t n_params)
{
	VirtualPlugin *vp = dev->plugin;
	const char *endpoint = virtual_device_cap_endpoint(dev, cap);
	int r;

	if (!endpoint || (dev->missing_caps & (1u << cap)))
		return;
	r = vp->host->report_event(vp->handle, dev->id, endpoint, virtual_caps[cap].id, event, params, n_params);
	if (r < 0)
		virtual_log(vp, HUB_LOG_DEBUG, "Event %s of %s failed: %s", event, dev->id, g_strerror(-r));
}

/* ---- behaviour shared with commands ---- */

void virtual_device_update_thermostat(VirtualDevice *dev)
{
	VirtualState *s = &dev->state;
	gboolean heat = s->local_temperature < s->heating_setpoint;
	gboolean cool = s->local_temperature > s->cooling_setpoint;

	switch (s->system_mode) {
	case VIRTUAL_SYSTEM_MODE_HEAT:
	case VIRTUAL_SYSTEM_MODE_EMERGENCY_HEAT:
		s->running_state = heat ? VIRTUAL_RUNNING_HEAT : 0;
		break;
	case VIRTUAL_SYSTEM_MODE_COOL:
	case VIRTUAL_SYSTEM_MODE_PRECOOLING:
		s->running_state = cool ? VIRTUAL_RUNNING_COOL : 0;
		break;
	case VIRTUAL_SYSTEM_MODE_AUTO:
		s->running_state = heat ? VIRTUAL_RUNNING_HEAT : cool ? VIRTUAL_RUNNING_COOL : 0;
		break;
	default:
		s->running_state = 0;
		break;
	}
}

void virtual_device_set_fan_mode(VirtualDevice *dev, gint32 mode)
{
	VirtualState *s = &dev->state;

	s->fan_mode = CLAMP(mode, VIRTUAL_FAN_MODE_OFF, VIRTUAL_FAN_MODE_SMART);
	switch (s->fan_mode) {
	case VIRTUAL_FAN_MODE_OFF:
		s->percent_setting = 0;
		break;
	case VIRTUAL_FAN_MODE_LOW:
		s->percent_setting = 33;
		break;
	case VIRTUAL_FAN_MODE_MEDIUM:
		s->percent_setting = 66;
		break;
	case VIRTUAL_FAN_MODE_HIGH:
	case VIRTUAL_FAN_MODE_ON:
		s->percent_setting = 100;
		break;
	default: /* Auto, Smart: the fan picks a speed */
		s->percent_setting = 50;
		break;
	}
	s->percent_current = s->percent_setting;
	if (s->fan_mode != VIRTUAL_FAN_MODE_OFF)
		s->fan_last_mode = s->fan_mode;
	if (device_has_cap(dev, VIRTUAL_CAP_ON_OFF))
		s->on_off = s->fan_mode != VIRTUAL_FAN_MODE_OFF;
}

void virtual_device_set_fan_percent(VirtualDevice *dev, gint32 percent)
{
	VirtualState *s = &dev->state;

	percent = CLAMP(percent, 0, 100);
	virtual_device_set_fan_mode(dev, percent == 0    ? VIRTUAL_FAN_MODE_OFF
					 : percent <= 33 ? VIRTUAL_FAN_MODE_LOW
					 : percent <= 66 ? VIRTUAL_FAN_MODE_MEDIUM
							 : VIRTUAL_FAN_MODE_HIGH);
	s->percent_setting = percent;
	s->percent_current = percent;
}

void virtual_device_set_on_off(VirtualDevice *dev, gboolean on)
{
	VirtualState *s = &dev->state;

	s->on_off = on ? 1 : 0;
	/* A light switched off by MoveToLevelWithOnOff(0) sits at MinLevel;
	 * switching it on brings it to OnLevel rather than a glimmer. */
	if (on && device_has_cap(dev, VIRTUAL_CAP_LEVEL) && s->level <= s->min_level)
		s->level = CLAMP(s->on_level, s->min_level, s->max_level);
	if (device_has_cap(dev, VIRTUAL_CAP_FAN)) {
		if (!on)
			virtual_device_set_fan_mode(dev, VIRTUAL_FAN_MODE_OFF);
		else if (s->fan_mode == VIRTUAL_FAN_MODE_OFF)
			virtual_device_set_fan_mode(dev, s->fan_last_mode);
	}
}

static int device_motion(void *data)
{
	VirtualDevice *dev = data;
	VirtualState *s = &dev->state;
	VirtualState before = *s;
	gint64 timer = dev->motion_timer;
	gint32 diff = s->lift_target - s->lift_current;

	s->lift_current += CLAMP(diff, -MOTION_STEP, MOTION_STEP);
	if (s->lift_current == s->lift_target) {
		s->operational_status = 0;
		dev->motion_timer = 0; /* returning 0 below removes it */
	}
	if (dev->online)
		virtual_device_report_changes(dev, &before);
	return timer != 0 && dev->motion_timer == timer;
}

void virtual_device_start_motion(VirtualDevice *dev)
{
	VirtualState *s = &dev->state;

	s->lift_target = CLAMP(s->lift_target, 0, 10000);
	if (s->lift_target == s->lift_current) {
		virtual_device_stop_motion(dev);
		return;
	}
	/* 0 is fully open: moving towards it is opening */
	s->operational_status = s->lift_target < s->lift_current ? VIRTUAL_COVERING_OPENING
								  : VIRTUAL_COVERING_CLOSING;
	if (!dev->motion_timer)
		dev->motion_timer = device_timer_add(dev, MOTION_INTERVAL_MS, device_motion);
	if (!dev->motion_timer) { /* no timer: arrive at once */
		s->lift_current = s->lift_target;
		s->operational_status = 0;
	}
}

void virtual_device_stop_motion(VirtualDevice *dev)
{
	device_timer_remove(dev, &dev->motion_timer);
	dev->state.lift_target = dev->state.lift_current;
	dev->state.operational_status = 0;
}

/* ---- periodic simulation ---- */

/* A bounded random walk that leans back towards @base. */
static gint32 random_walk(VirtualDevice *dev, gint32 value, gint32 base, gint32 max_step, gint32 min, gint32 max)
{
	gint32 step = (gint32)(device_random(dev) % (guint32)(2 * max_step + 1)) - max_step;

	step += (base - value) / 10;
	if (step == 0)
		step = (device_random(dev) & 1) ? 1 : -1;
	return CLAMP(value + step, min, max);
}

static void simulate_thermostat(VirtualDevice *dev)
{
	VirtualState *s = &dev->state;
	gint32 target = AMBIENT_TEMPERATURE;
	gint32 step = 10; /* an idle room drifts slowly */

	if (s->running_state & VIRTUAL_RUNNING_HEAT) {
		target = s->heating_setpoint;
		step = 50;
	} else if (s->running_state & VIRTUAL_RUNNING_COOL) {
		target = s->cooling_setpoint;
		step = 50;
	}
	s->local_temperature += CLAMP(target - s->local_temperature, -step, step);
	virtual_device_update_thermostat(dev);
}

static void device_simulate(VirtualDevice *dev)
{
	VirtualState *s = &dev->state;
	VirtualState before = *s;
	gint32 battery_before = s->battery_half_percent / 2;
	gboolean contact_changed = FALSE, occupancy_changed = FALSE;

	dev->ticks++;
	if (device_has_cap(dev, VIRTUAL_CAP_TEMPERATURE))
		s->temperature = random_walk(dev, s->temperature, temperature_base(dev), 20, s->temperature_min,
					     s->temperature_max);
	if (device_has_cap(dev, VIRTUAL_CAP_HUMIDITY))
		s->humidity = random_walk(dev, s->humidity, humidity_base(dev), 100, s->humidity_min,
					  s->humidity_max);
	if (device_has_cap(dev, VIRTUAL_CAP_THERMOSTAT))
		simulate_thermostat(dev);
	if (device_has_cap(dev, VIRTUAL_CAP_BOOLEAN_STATE) && dev->ticks % CONTACT_EVERY_TICKS == 0) {
		s->state_value = !s->state_value;
		contact_changed = TRUE;
	}
	if (device_has_cap(dev, VIRTUAL_CAP_OCCUPANCY) && dev->ticks % OCCUPANCY_EVERY_TICKS == 0) {
		s->occupancy = !s->occupancy;
		occupancy_changed = TRUE;
	}
	if ((dev->type->flags & VIRTUAL_TYPE_BATTERY) && dev->ticks % BATTERY_EVERY_TICKS == 0 &&
	    s->battery_half_percent > 0) {
		s->battery_half_percent--;
		battery_update(s);
	}
	dev->rssi = -45 - (gint32)(id_hash(dev->id) % 40) + (gint32)(device_random(dev) % 5) - 2;

	if (!dev->online) /* nobody hears it; the state is re-reported when it is back */
		return;
	virtual_device_report_changes(dev, &before);
	if (contact_changed) {
		struct hub_param param = { "StateValue", hub_value_bool(s->state_value) };

		report_event(dev, VIRTUAL_CAP_BOOLEAN_STATE, "StateChange", &param, 1);
	}
	if (occupancy_changed) {
		struct hub_param param = { "Occupancy", hub_value_int(s->occupancy) };

		report_event(dev, VIRTUAL_CAP_OCCUPANCY, "OccupancyChanged", &param, 1);
	}
	virtual_device_report_health(dev, s->battery_half_percent / 2 != battery_before);
}

static int device_tick(void *data)
{
	VirtualDevice *dev = data;
	gint64 timer = dev->report_timer;

	device_simulate(dev);
	/* the device may have been removed (its timer cancelled) meanwhile */
	return timer != 0 && dev->report_timer == timer;
}

/* Generated devices start at a spread-out phase so a thousand sensors do
 * not all report in the same main-loop iteration. */
static int device_first_tick(void *data)
{
	VirtualDevice *dev = data;

	dev->report_timer = device_timer_add(dev, dev->report_interval_ms, device_tick);
	device_simulate(dev);
	return 0;
}

static int device_go_online(void *data)
{
	VirtualDevice *dev = data;
	VirtualPlugin *vp = dev->plugin;

	dev->online_timer = 0;
	if (!dev->published || dev->online)
		return 0;
	dev->online = TRUE;
	vp->host->set_online(vp->handle, dev->id, 1);
	virtual_device_report_all(dev);
	virtual_device_report_health(dev, TRUE);
	return 0;
}

static int device_go_offline(void *data)
{
	VirtualDevice *dev = data;
	VirtualPlugin *vp = dev->plugin;
	gint64 timer = dev->offline_timer;

	if (dev->online) {
		dev->online = FALSE;
		vp->host->set_online(vp->handle, dev->id, 0);
		device_timer_remove(dev, &dev->online_timer);
		if (dev->offline_timer == timer)
			dev->online_timer = device_timer_add(dev, dev->offline_duration_ms, device_go_online);
	}
	return timer != 0 && dev->offline_timer == timer;
}

static void device_arm_timers(VirtualDevice *dev)
{
	if ((dev->type->flags & VIRTUAL_TYPE_PERIODIC) && dev->report_interval_ms > 0) {
		guint32 interval = dev->report_interval_ms;
		guint32 first = interval;

		if (dev->generated)
			first = interval / 2 + id_hash(dev->id) % (interval / 2 + 1);
		dev->report_timer =
			device_timer_add(dev, first, first == interval ? device_tick : device_first_tick);
	}
	if (dev->offline_period_ms > 0)
		dev->offline_timer = device_timer_add(dev, dev->offline_period_ms, device_go_offline);
}

/* ---- registry ---- */

int virtual_device_publish(VirtualDevice *dev)
{
	VirtualPlugin *vp = dev->plugin;
	const struct hub_host *host = vp->host;
	g_autofree char *serial = virtual_device_serial(dev);
	struct hub_device_info info;
	int r;

	memset(&info, 0, sizeof(info));
	info.struct_size = sizeof(info);
	info.id = dev->id;
	info.name = virtual_device_name(dev);
	info.manufacturer = dev->manufacturer ? dev->manufacturer : "hubd";
	info.model = dev->model ? dev->model : dev->type->name;
	info.serial = serial;
	info.firmware = VIRTUAL_VERSION;

	r = host->device_add(vp->handle, &info);
	if (r < 0) {
		virtual_log(vp, HUB_LOG_ERR, "Failed to add device %s: %s", dev->id, g_strerror(-r));
		return r;
	}
	dev->missing_caps = 0;
	for (guint e = 0; e < dev->type->n_endpoints; e++) {
		const VirtualEndpointDef *ep = &dev->type->endpoints[e];

		r = host->endpoint_add(vp->handle, dev->id, ep->id, ep->device_types);
		if (r < 0) {
			virtual_log(vp, HUB_LOG_WARNING, "Failed to add endpoint %s of device %s: %s, ignoring",
				    ep->id, dev->id, g_strerror(-r));
			for (guint c = 0; c < ep->n_caps; c++)
				dev->missing_caps |= 1u << ep->caps[c];
			continue;
		}
		for (guint c = 0; c < ep->n_caps; c++) {
			r = host->capability_add(vp->handle, dev->id, ep->id, virtual_caps[ep->caps[c]].id);
			if (r < 0) {
				virtual_log(vp, HUB_LOG_WARNING,
					    "Failed to add capability %s to device %s endpoint %s: %s, ignoring",
					    virtual_caps[ep->caps[c]].id, dev->id, ep->id, g_strerror(-r));
				dev->missing_caps |= 1u << ep->caps[c];
			}
		}
	}
	r = host->device_ready(vp->handle, dev->id);
	if (r < 0) {
		virtual_log(vp, HUB_LOG_ERR, "Failed to publish device %s: %s", dev->id, g_strerror(-r));
		return r;
	}

	dev->published = TRUE;
	virtual_device_report_all(dev);
	virtual_device_report_health(dev, TRUE);
	dev->online = TRUE;
	host->set_online(vp->handle, dev->id, 1);
	device_arm_timers(dev);
	return 0;
}

void virtual_device_unpublish(VirtualDevice *dev)
{
	device_timer_remove(dev, &dev->report_timer);
	device_timer_remove(dev, &dev->offline_timer);
	device_timer_remove(dev, &dev->online_timer);
	device_timer_remove(dev, &dev->motion_timer);
	/* a blind stopped mid-travel stays where it is */
	dev->state.lift_target = dev->state.lift_current;
	dev->state.operational_status = 0;
	dev->published = FALSE;
	dev->online = FALSE;
}
