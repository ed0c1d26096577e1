/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-virtual.h - private declarations of the virtual protocol plugin.
 *
 * The plugin is split in four objects:
 *   hub-virtual.c         descriptor, init/exit and the protocol ops
 *   hub-virtual-config.c  [plugin.virtual] keys and the device file
 *   hub-virtual-device.c  device types, state, registry publishing, simulation
 *   hub-virtual-command.c commands: parsing, latency, applying, completing
 *
 * Everything runs on the host's main thread; timers come only from
 * host->timer_add so the plugin never touches a GLib main loop.
 */
#pragma once

#include <glib.h>

#include <hubd/hub-plugin.h>
#include <hubd/hub-protocol.h>

#ifdef PACKAGE_VERSION
#define VIRTUAL_VERSION PACKAGE_VERSION
#else
#define VIRTUAL_VERSION "0.1.0"
#endif

/* Capabilities the simulated devices implement. */
typedef enum {
	VIRTUAL_CAP_ON_OFF,
	VIRTUAL_CAP_LEVEL,
	VIRTUAL_CAP_COLOR,
	VIRTUAL_CAP_THERMOSTAT,
	VIRTUAL_CAP_FAN,
	VIRTUAL_CAP_COVERING,
	VIRTUAL_CAP_LOCK,
	VIRTUAL_CAP_BOOLEAN_STATE,
	VIRTUAL_CAP_OCCUPANCY,
	VIRTUAL_CAP_TEMPERATURE,
	VIRTUAL_CAP_HUMIDITY,
	VIRTUAL_CAP_POWER,
	VIRTUAL_N_CAPS
} VirtualCap;

/* How a property is stored in VirtualState and reported. */
typedef enum {
	VIRTUAL_PROP_BOOL, /* 0/1 */
	VIRTUAL_PROP_INT,
	VIRTUAL_PROP_ENUM, /* index into values[], reported as the string */
	VIRTUAL_PROP_TEXT, /* constant values[0], not stored */
} VirtualPropKind;

/* String enums, stored as their index. */
enum { VIRTUAL_COLOR_MODE_HS, VIRTUAL_COLOR_MODE_XY, VIRTUAL_COLOR_MODE_CT };
enum {
	VIRTUAL_SYSTEM_MODE_OFF,
	VIRTUAL_SYSTEM_MODE_AUTO,
	VIRTUAL_SYSTEM_MODE_COOL,
	VIRTUAL_SYSTEM_MODE_HEAT,
	VIRTUAL_SYSTEM_MODE_EMERGENCY_HEAT,
	VIRTUAL_SYSTEM_MODE_PRECOOLING,
	VIRTUAL_SYSTEM_MODE_FAN_ONLY,
	VIRTUAL_SYSTEM_MODE_DRY,
	VIRTUAL_SYSTEM_MODE_SLEEP,
};
enum {
	VIRTUAL_FAN_MODE_OFF,
	VIRTUAL_FAN_MODE_LOW,
	VIRTUAL_FAN_MODE_MEDIUM,
	VIRTUAL_FAN_MODE_HIGH,
	VIRTUAL_FAN_MODE_ON,
	VIRTUAL_FAN_MODE_AUTO,
	VIRTUAL_FAN_MODE_SMART,
};
enum {
	VIRTUAL_LOCK_STATE_NOT_FULLY_LOCKED,
	VIRTUAL_LOCK_STATE_LOCKED,
	VIRTUAL_LOCK_STATE_UNLOCKED,
	VIRTUAL_LOCK_STATE_UNLATCHED,
};
enum {
	VIRTUAL_OPERATING_MODE_NORMAL,
	VIRTUAL_OPERATING_MODE_VACATION,
	VIRTUAL_OPERATING_MODE_PRIVACY,
	VIRTUAL_OPERATING_MODE_NO_REMOTE_LOCK_UNLOCK,
	VIRTUAL_OPERATING_MODE_PASSAGE,
};
enum { VIRTUAL_POWER_STATUS_UNSPECIFIED, VIRTUAL_POWER_STATUS_ACTIVE };
enum { VIRTUAL_CHARGE_OK, VIRTUAL_CHARGE_WARNING, VIRTUAL_CHARGE_CRITICAL };

/* WindowCovering OperationalStatus bits: global (0-1) and lift (2-3). */
#define VIRTUAL_COVERING_OPENING 0x05
#define VIRTUAL_COVERING_CLOSING 0x0a

/* ThermostatRunningState bits. */
#define VIRTUAL_RUNNING_HEAT 0x01
#define VIRTUAL_RUNNING_COOL 0x02

/* Every property of every type, flat: one device uses a subset. A flat
 * struct of int32 keeps reporting generic (VirtualPropDef.offset) and costs
 * under 200 bytes per device. */
typedef struct {
	gint32 on_off, on_time, off_wait_time;
	gint32 level, min_level, max_level, on_level;
	gint32 hue, saturation, color_x, color_y, mireds, color_mode;
	gint32 local_temperature, cooling_setpoint, heating_setpoint, system_mode, running_state;
	gint32 fan_mode, percent_setting, percent_current, fan_last_mode;
	gint32 lift_current, lift_target, operational_status;
	gint32 lock_state, actuator_enabled, operating_mode;
	gint32 state_value;
	gint32 occupancy, occupancy_type, hold_time;
	gint32 temperature, temperature_min, temperature_max, temperature_tolerance;
	gint32 humidity, humidity_min, humidity_max, humidity_tolerance;
	gint32 power_status, power_order, battery_half_percent, battery_charge_level, battery_mv;
} VirtualState;

typedef struct {
	const char *name;
	VirtualPropKind kind;
	guint16 offset;            /* into VirtualState (BOOL, INT, ENUM) */
	const char *const *values; /* ENUM: NULL-terminated names; TEXT: values[0] */
} VirtualPropDef;

typedef struct {
	const char *id; /* "matter.OnOff@1.4" */
	const VirtualPropDef *props;
	guint n_props;
} VirtualCapDef;

extern const VirtualCapDef virtual_caps[VIRTUAL_N_CAPS];

#define VIRTUAL_TYPE_BATTERY  (1u << 0) /* PowerSource, "battery" health, drains */
#define VIRTUAL_TYPE_PERIODIC (1u << 1) /* has a report-interval timer */

#define VIRTUAL_MAX_ENDPOINTS 2
#define VIRTUAL_MAX_CAPS      3

typedef struct {
	const char *id;           /* "1" */
	const char *device_types; /* "Extended Color Light" */
	guint8 caps[VIRTUAL_MAX_CAPS];
	guint8 n_caps;
} VirtualEndpointDef;

typedef struct {
	const char *name;         /* "color-light", the device file's type */
	const char *device_types; /* every endpoint's, for device_discovered */
	guint flags;              /* VIRTUAL_TYPE_* */
	guint n_endpoints;
	VirtualEndpointDef endpoints[VIRTUAL_MAX_ENDPOINTS];
} VirtualTypeDef;

typedef struct _VirtualPlugin VirtualPlugin;

typedef struct {
	VirtualPlugin *plugin;
	char *id;
	char *name;         /* NULL: the id */
	char *manufacturer; /* NULL: "hubd" */
	char *model;        /* NULL: the type name */
	char *serial;       /* NULL: derived from the id */
	char *pin;          /* door-lock PIN or NULL; never logged */
	const VirtualTypeDef *type;

	guint32 latency_ms;
	guint32 report_interval_ms;
	guint32 offline_period_ms; /* 0: always online */
	guint32 offline_duration_ms;
	guint32 rng;               /* xorshift32 state, seeded from the id */
	guint32 ticks;             /* report intervals elapsed */
	gint32 rssi;
	guint16 missing_caps;      /* bit per VirtualCap the host refused */
	guint8 initial_battery;    /* percent */

	guint config_onboarded : 1; /* "onboarded" in the device file */
	guint onboarded : 1;
	guint published : 1;        /* added to the registry in this run */
	guint online : 1;
	guint announced : 1;        /* reported in the current discovery window */
	guint generated : 1;

	gint64 report_timer;
	gint64 offline_timer;
	gint64 online_timer;
	gint64 motion_timer;

	VirtualState state;
} VirtualDevice;

struct _VirtualPlugin {
	const struct hub_host *host;
	struct hub_plugin *handle;

	guint32 latency_ms;         /* "latency-ms" */
	guint32 sensor_interval_ms; /* "sensor-interval-ms" */

	GPtrArray *devices; /* VirtualDevice*, owned; device file order, then generated */
	GHashTable *by_id;  /* id -> VirtualDevice*, borrowed */
	GQueue commands;    /* VirtualCommand*, waiting for their latency */

	gint64 discovery_timer;
	gboolean started;
	gboolean discovering;
};

#define virtual_log(vp, level, ...) (vp)->host->log((vp)->handle, (level), __VA_ARGS__)

/* hub-virtual-config.c */

/* Reads [plugin.virtual] and the device file into vp->devices. Problems with
 * one device are logged and the device skipped; an unreadable device file
 * is logged and returns -ENOENT or -EINVAL. */
int virtual_config_load(VirtualPlugin *vp);
gboolean virtual_id_is_valid(const char *id);

/* hub-virtual-device.c */

const VirtualTypeDef *virtual_type_lookup(const char *name);
const VirtualTypeDef *virtual_type_nth(guint i);
guint virtual_type_count(void);

/* Allocates a device with its initial state; the caller owns it. */
VirtualDevice *virtual_device_new(VirtualPlugin *vp, const char *id, const VirtualTypeDef *type);
void virtual_device_free(VirtualDevice *dev); /* NULL-safe; cancels nothing */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VirtualDevice, virtual_device_free)
void virtual_device_reset_state(VirtualDevice *dev);
const char *virtual_device_name(const VirtualDevice *dev);
/* The serial number the device reports: "serial" or VIRT-<hash of id> (g_free). */
char *virtual_device_serial(const VirtualDevice *dev);

/* The endpoint holding @cap on this device, or NULL. */
const char *virtual_device_cap_endpoint(const VirtualDevice *dev, VirtualCap cap);
/* Maps (@endpoint_id, @capability_id) to a capability of the device. */
gboolean virtual_device_find_cap(const VirtualDevice *dev, const char *endpoint_id,
				 const char *capability_id, VirtualCap *cap);
int virtual_cap_find_prop(VirtualCap cap, const char *name);

/* Adds the device to the registry, reports its whole state, sets it online
 * and arms its timers. Returns 0 or the host's negative errno (logged). */
int virtual_device_publish(VirtualDevice *dev);
/* Cancels the device's timers and forgets it is published; no host calls. */
void virtual_device_unpublish(VirtualDevice *dev);

void virtual_device_report_prop(VirtualDevice *dev, VirtualCap cap, guint prop);
void virtual_device_report_all(VirtualDevice *dev);
/* Reports every property that differs from @before. */
void virtual_device_report_changes(VirtualDevice *dev, const VirtualState *before);
void virtual_device_report_health(VirtualDevice *dev, gboolean battery);

/* Simulation helpers shared with the command code. */
void virtual_device_update_thermostat(VirtualDevice *dev);
void virtual_device_start_motion(VirtualDevice *dev);
void virtual_device_stop_motion(VirtualDevice *dev);
void virtual_device_set_fan_mode(VirtualDevice *dev, gint32 mode);
void virtual_device_set_fan_percent(VirtualDevice *dev, gint32 percent);
void virtual_device_set_on_off(VirtualDevice *dev, gboolean on);

/* hub-virtual-command.c */

int virtual_command_invoke(VirtualPlugin *vp, guint64 command_id, VirtualDevice *dev, VirtualCap cap,
			   const char *action, const struct hub_param *params, size_t n_params);
int virtual_command_read(VirtualPlugin *vp, guint64 command_id, VirtualDevice *dev, VirtualCap cap,
			 const char *const *names, size_t n_names);
int virtual_command_write(VirtualPlugin *vp, guint64 command_id, VirtualDevice *dev, VirtualCap cap,
			  const struct hub_param *props, size_t n_props);
/* Completes the pending commands of @dev (all when NULL) with @code/@error_code. */
void virtual_command_cancel(VirtualPlugin *vp, VirtualDevice *dev, gint32 code, const char *error_code,
			    const char *error_message);

/* Compares a borrowed hub_value string (not NUL-terminated) with @str. */
gboolean virtual_value_is(const struct hub_value *value, const char *str);
