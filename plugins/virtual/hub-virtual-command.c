/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-virtual-command.c - commands to simulated devices. A command is parsed
 * when it arrives (so nothing borrowed from the host is kept), waits for the
 * device's latency on a one-shot host timer, then changes the state, reports
 * what changed and completes.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "hub-virtual.h"

typedef enum {
	COMMAND_INVOKE,
	COMMAND_READ,
	COMMAND_WRITE,
} CommandKind;

typedef enum {
	OP_OFF,
	OP_ON,
	OP_TOGGLE,
	OP_MOVE_TO_LEVEL,
	OP_MOVE_TO_LEVEL_WITH_ON_OFF,
	OP_LEVEL_STOP,
	OP_MOVE_TO_HUE,
	OP_MOVE_TO_SATURATION,
	OP_MOVE_TO_HUE_AND_SATURATION,
	OP_MOVE_TO_COLOR,
	OP_MOVE_TO_COLOR_TEMPERATURE,
	OP_SETPOINT_RAISE_LOWER,
	OP_FAN_STEP,
	OP_UP_OR_OPEN,
	OP_DOWN_OR_CLOSE,
	OP_STOP_MOTION,
	OP_GO_TO_LIFT_PERCENTAGE,
	OP_LOCK_DOOR,
	OP_UNLOCK_DOOR,
} Op;

typedef enum {
	ARG_INT,
	ARG_BOOL,
	ARG_ENUM, /* a string, stored as its index in values[] */
	ARG_PIN,  /* compared with the device's PIN, never stored */
} ArgKind;

#define MAX_ARGS 3

typedef struct {
	const char *name;
	ArgKind kind;
	gboolean required;
	const char *const *values; /* ARG_ENUM */
	gint32 fallback;           /* when absent and optional */
} ArgSpec;

typedef struct {
	VirtualCap cap;
	const char *name;
	Op op;
	ArgSpec args[MAX_ARGS];
} ActionDef;

enum { RAISE_LOWER_HEAT, RAISE_LOWER_COOL, RAISE_LOWER_BOTH };
enum { STEP_INCREASE, STEP_DECREASE };

static const char *const raise_lower_modes[] = { "Heat", "Cool", "Both", NULL };
static const char *const step_directions[] = { "Increase", "Decrease", NULL };

#define ARG(n)          { n, ARG_INT, TRUE, NULL, 0 }
#define ARG_OPT_BOOL(n, def) { n, ARG_BOOL, FALSE, NULL, def }

/* Parameters the catalog may add (OptionsMask, TransitionTime, ...) are
 * accepted and ignored: transitions are instantaneous after the latency. */
static const ActionDef actions[] = {
	{ VIRTUAL_CAP_ON_OFF, "Off", OP_OFF, { { 0 } } },
	{ VIRTUAL_CAP_ON_OFF, "On", OP_ON, { { 0 } } },
	{ VIRTUAL_CAP_ON_OFF, "Toggle", OP_TOGGLE, { { 0 } } },
	{ VIRTUAL_CAP_LEVEL, "MoveToLevel", OP_MOVE_TO_LEVEL, { ARG("Level") } },
	{ VIRTUAL_CAP_LEVEL, "MoveToLevelWithOnOff", OP_MOVE_TO_LEVEL_WITH_ON_OFF, { ARG("Level") } },
	{ VIRTUAL_CAP_LEVEL, "Stop", OP_LEVEL_STOP, { { 0 } } },
	{ VIRTUAL_CAP_COLOR, "MoveToHue", OP_MOVE_TO_HUE, { ARG("Hue") } },
	{ VIRTUAL_CAP_COLOR, "MoveToSaturation", OP_MOVE_TO_SATURATION, { ARG("Saturation") } },
	{ VIRTUAL_CAP_COLOR, "MoveToHueAndSaturation", OP_MOVE_TO_HUE_AND_SATURATION,
	  { ARG("Hue"), ARG("Saturation") } },
	{ VIRTUAL_CAP_COLOR, "MoveToColor", OP_MOVE_TO_COLOR, { ARG("ColorX"), ARG("ColorY") } },
	{ VIRTUAL_CAP_COLOR, "MoveToColorTemperature", OP_MOVE_TO_COLOR_TEMPERATURE,
	  { ARG("ColorTemperatureMireds") } },
	{ VIRTUAL_CAP_THERMOSTAT, "SetpointRaiseLower", OP_SETPOINT_RAISE_LOWER,
	  { { "Mode", ARG_ENUM, TRUE, raise_lower_modes, 0 }, ARG("Amount") } },
	{ VIRTUAL_CAP_FAN, "Step", OP_FAN_STEP,
	  { { "Direction", ARG_ENUM, TRUE, step_directions, 0 }, ARG_OPT_BOOL("Wrap", 0),
	    ARG_OPT_BOOL("LowestOff", 1) } },
	{ VIRTUAL_CAP_COVERING, "UpOrOpen", OP_UP_OR_OPEN, { { 0 } } },
	{ VIRTUAL_CAP_COVERING, "DownOrClose", OP_DOWN_OR_CLOSE, { { 0 } } },
	{ VIRTUAL_CAP_COVERING, "StopMotion", OP_STOP_MOTION, { { 0 } } },
	{ VIRTUAL_CAP_COVERING, "GoToLiftPercentage", OP_GO_TO_LIFT_PERCENTAGE, { ARG("LiftPercent100thsValue") } },
	{ VIRTUAL_CAP_LOCK, "LockDoor", OP_LOCK_DOOR, { { "PINCode", ARG_PIN, FALSE, NULL, 0 } } },
	{ VIRTUAL_CAP_LOCK, "UnlockDoor", OP_UNLOCK_DOOR, { { "PINCode", ARG_PIN, FALSE, NULL, 0 } } },
};

typedef struct {
	guint8 prop;
	gint32 value;
} Write;

typedef struct {
	GList link; /* in vp->commands, data points back here */
	VirtualPlugin *vp;
	VirtualDevice *dev;
	guint64 id;
	gint64 timer;
	CommandKind kind;
	VirtualCap cap;
	Op op;
	gint32 args[MAX_ARGS];
	gboolean pin_rejected;
	guint64 read_mask; /* bit per property index */
	guint n_writes;
	Write writes[];
} VirtualCommand;

/* ---- values ---- */

gboolean virtual_value_is(const struct hub_value *value, const char *str)
{
	size_t n = strlen(str);

	return value->type == HUB_VALUE_STRING && value->u.s.ptr && value->u.s.len == n &&
	       memcmp(value->u.s.ptr, str, n) == 0;
}

static gboolean value_to_int(const struct hub_value *value, gint32 *out)
{
	switch (value->type) {
	case HUB_VALUE_INT:
		*out = (gint32)CLAMP(value->u.i, (int64_t)G_MININT32, (int64_t)G_MAXINT32);
		return TRUE;
	case HUB_VALUE_DOUBLE: /* 21.0 is an integer to JSON Schema too (NaN fails both tests) */
		if (!(value->u.d >= (double)G_MININT32 && value->u.d <= (double)G_MAXINT32) ||
		    value->u.d != (double)(gint32)value->u.d)
			return FALSE;
		*out = (gint32)value->u.d;
		return TRUE;
	default:
		return FALSE;
	}
}

static gboolean value_to_enum(const struct hub_value *value, const char *const *values, gint32 *out)
{
	for (gint32 i = 0; values[i]; i++) {
		if (virtual_value_is(value, values[i])) {
			*out = i;
			return TRUE;
		}
	}
	return FALSE;
}

static gboolean value_to_bool(const struct hub_value *value, gint32 *out)
{
	if (value->type != HUB_VALUE_BOOL)
		return FALSE;
	*out = value->u.b ? 1 : 0;
	return TRUE;
}

/* ---- completion ---- */

static void complete(VirtualPlugin *vp, guint64 command_id, gint32 code, const char *error_code,
		     const char *error_message)
{
	int r = vp->host->command_complete(vp->handle, command_id, code, NULL, 0, error_code, error_message);

	if (r < 0) /* typically timed out by the host meanwhile */
		virtual_log(vp, HUB_LOG_DEBUG, "Completing command %" G_GUINT64_FORMAT " failed: %s", command_id,
			    g_strerror(-r));
}

static void complete_offline(VirtualPlugin *vp, guint64 command_id, VirtualDevice *dev)
{
	g_autofree char *message = g_strdup_printf("device %s is offline", dev->id);

	complete(vp, command_id, 503, "DEVICE_OFFLINE", message);
}

/* ---- applying ---- */

static void fan_step(VirtualDevice *dev, gint32 direction, gboolean wrap, gboolean lowest_off)
{
	VirtualState *s = &dev->state;
	gint32 lowest = lowest_off ? 0 : 1;
	gint32 speed; /* 0 off, 1 low, 2 medium, 3 high */

	speed = s->percent_setting == 0 ? 0 : s->percent_setting <= 33 ? 1 : s->percent_setting <= 66 ? 2 : 3;
	if (direction == STEP_INCREASE)
		speed = speed >= 3 ? (wrap ? lowest : 3) : speed + 1;
	else
		speed = speed <= lowest ? (wrap ? 3 : lowest) : speed - 1;
	virtual_device_set_fan_mode(dev, (gint32[]){ VIRTUAL_FAN_MODE_OFF, VIRTUAL_FAN_MODE_LOW,
						     VIRTUAL_FAN_MODE_MEDIUM, VIRTUAL_FAN_MODE_HIGH }[speed]);
}

static void setpoint_raise_lower(VirtualDevice *dev, gint32 mode, gint32 amount)
{
	VirtualState *s = &dev->state;
	gint32 delta = (gint32)CLAMP((gint64)amount * 10, -100000, 100000); /* 0.1 °C -> 0.01 °C */

	if (mode != RAISE_LOWER_COOL)
		s->heating_setpoint = CLAMP(s->heating_setpoint + delta, 700, 3000);
	if (mode != RAISE_LOWER_HEAT)
		s->cooling_setpoint = CLAMP(s->cooling_setpoint + delta, 1600, 3200);
	/* keep Matter's default 2.5 °C dead band by pushing the other setpoint */
	if (s->heating_setpoint + 250 > s->cooling_setpoint) {
		if (mode == RAISE_LOWER_COOL)
			s->heating_setpoint = MAX(700, s->cooling_setpoint - 250);
		else
			s->cooling_setpoint = MIN(3200, s->heating_setpoint + 250);
		if (s->heating_setpoint + 250 > s->cooling_setpoint)
			s->heating_setpoint = s->cooling_setpoint - 250;
	}
	virtual_device_update_thermostat(dev);
}

static void apply_op(VirtualDevice *dev, Op op, const gint32 *args)
{
	VirtualState *s = &dev->state;

	switch (op) {
	case OP_OFF:
		virtual_device_set_on_off(dev, FALSE);
		break;
	case OP_ON:
		virtual_device_set_on_off(dev, TRUE);
		break;
	case OP_TOGGLE:
		virtual_device_set_on_off(dev, !s->on_off);
		break;
	case OP_MOVE_TO_LEVEL:
		s->level = CLAMP(args[0], s->min_level, s->max_level);
		break;
	case OP_MOVE_TO_LEVEL_WITH_ON_OFF:
		s->level = CLAMP(args[0], s->min_level, s->max_level);
		s->on_off = args[0] > 0;
		break;
	case OP_LEVEL_STOP: /* levels move at once, nothing is in flight */
		break;
	case OP_MOVE_TO_HUE:
		s->hue = CLAMP(args[0], 0, 254);
		s->color_mode = VIRTUAL_COLOR_MODE_HS;
		break;
	case OP_MOVE_TO_SATURATION:
		s->saturation = CLAMP(args[0], 0, 254);
		s->color_mode = VIRTUAL_COLOR_MODE_HS;
		break;
	case OP_MOVE_TO_HUE_AND_SATURATION:
		s->hue = CLAMP(args[0], 0, 254);
		s->saturation = CLAMP(args[1], 0, 254);
		s->color_mode = VIRTUAL_COLOR_MODE_HS;
		break;
	case OP_MOVE_TO_COLOR:
		s->color_x = CLAMP(args[0], 0, 65279);
		s->color_y = CLAMP(args[1], 0, 65279);
		s->color_mode = VIRTUAL_COLOR_MODE_XY;
		break;
	case OP_MOVE_TO_COLOR_TEMPERATURE:
		s->mireds = CLAMP(args[0], 0, 65279);
		s->color_mode = VIRTUAL_COLOR_MODE_CT;
		break;
	case OP_SETPOINT_RAISE_LOWER:
		setpoint_raise_lower(dev, args[0], args[1]);
		break;
	case OP_FAN_STEP:
		fan_step(dev, args[0], args[1], args[2]);
		break;
	case OP_UP_OR_OPEN:
		s->lift_target = 0;
		virtual_device_start_motion(dev);
		break;
	case OP_DOWN_OR_CLOSE:
		s->lift_target = 10000;
		virtual_device_start_motion(dev);
		break;
	case OP_STOP_MOTION:
		virtual_device_stop_motion(dev);
		break;
	case OP_GO_TO_LIFT_PERCENTAGE:
		s->lift_target = CLAMP(args[0], 0, 10000);
		virtual_device_start_motion(dev);
		break;
	case OP_LOCK_DOOR:
		s->lock_state = VIRTUAL_LOCK_STATE_LOCKED;
		break;
	case OP_UNLOCK_DOOR:
		s->lock_state = VIRTUAL_LOCK_STATE_UNLOCKED;
		break;
	}
}

static void apply_write(VirtualDevice *dev, VirtualCap cap, guint prop, gint32 value)
{
	const VirtualPropDef *def = &virtual_caps[cap].props[prop];
	VirtualState *s = &dev->state;
	size_t offset = def->offset;

	/* Properties with side effects behave like the matching command. */
	if (offset == offsetof(VirtualState, on_off)) {
		virtual_device_set_on_off(dev, value != 0);
	} else if (offset == offsetof(VirtualState, level)) {
		apply_op(dev, OP_MOVE_TO_LEVEL, &value);
	} else if (offset == offsetof(VirtualState, fan_mode)) {
		virtual_device_set_fan_mode(dev, value);
	} else if (offset == offsetof(VirtualState, percent_setting)) {
		virtual_device_set_fan_percent(dev, value);
	} else if (offset == offsetof(VirtualState, lift_target)) {
		apply_op(dev, OP_GO_TO_LIFT_PERCENTAGE, &value);
	} else {
		*(gint32 *)((char *)s + offset) = value;
		if (cap == VIRTUAL_CAP_THERMOSTAT)
			virtual_device_update_thermostat(dev);
	}
}

/* ---- lifetime of a pending command ---- */

static void command_execute(VirtualCommand *cmd)
{
	VirtualPlugin *vp = cmd->vp;
	VirtualDevice *dev = cmd->dev;
	VirtualState before = dev->state;
	const VirtualState *s = &dev->state;

	if (!dev->online) {
		complete_offline(vp, cmd->id, dev);
		return;
	}
	switch (cmd->kind) {
	case COMMAND_READ:
		for (guint p = 0; p < virtual_caps[cmd->cap].n_props; p++)
			if (cmd->read_mask & (G_GUINT64_CONSTANT(1) << p))
				virtual_device_report_prop(dev, cmd->cap, p);
		break;
	case COMMAND_WRITE:
		for (guint i = 0; i < cmd->n_writes; i++)
			apply_write(dev, cmd->cap, cmd->writes[i].prop, cmd->writes[i].value);
		virtual_device_report_changes(dev, &before);
		break;
	case COMMAND_INVOKE:
		if (cmd->op == OP_LOCK_DOOR || cmd->op == OP_UNLOCK_DOOR) {
			if (cmd->pin_rejected) {
				complete(vp, cmd->id, 401, "INVALID_PIN", "wrong or missing PINCode");
				return;
			}
			if (!s->actuator_enabled) {
				complete(vp, cmd->id, 409, "ACTUATOR_DISABLED", "the lock's actuator is disabled");
				return;
			}
			if (s->operating_mode == VIRTUAL_OPERATING_MODE_NO_REMOTE_LOCK_UNLOCK) {
				complete(vp, cmd->id, 403, "REMOTE_OPERATION_DISABLED",
					 "the lock is in NoRemoteLockUnlock mode");
				return;
			}
		}
		apply_op(dev, cmd->op, cmd->args);
		virtual_device_report_changes(dev, &before);
		if (cmd->op == OP_LOCK_DOOR || cmd->op == OP_UNLOCK_DOOR) {
			const char *endpoint = virtual_device_cap_endpoint(dev, VIRTUAL_CAP_LOCK);
			struct hub_param params[] = {
				{ "LockOperationType", hub_value_string(cmd->op == OP_LOCK_DOOR ? "Lock" : "Unlock") },
				{ "OperationSource", hub_value_string("Remote") },
			};

			if (endpoint && !(dev->missing_caps & (1u << VIRTUAL_CAP_LOCK)))
				vp->host->report_event(vp->handle, dev->id, endpoint, virtual_caps[VIRTUAL_CAP_LOCK].id,
						       "LockOperation", params, G_N_ELEMENTS(params));
		}
		break;
	}
	complete(vp, cmd->id, 200, NULL, NULL);
}

static int command_fire(void *data)
{
	VirtualCommand *cmd = data;

	cmd->timer = 0; /* one-shot: returning 0 removes it */
	g_queue_unlink(&cmd->vp->commands, &cmd->link);
	command_execute(cmd);
	g_free(cmd);
	return 0;
}

static VirtualCommand *command_new(VirtualPlugin *vp, VirtualDevice *dev, guint64 id, CommandKind kind,
				   VirtualCap cap, guint n_writes)
{
	VirtualCommand *cmd = g_malloc0(sizeof(VirtualCommand) + n_writes * sizeof(Write));

	cmd->link.data = cmd;
	cmd->vp = vp;
	cmd->dev = dev;
	cmd->id = id;
	cmd->kind = kind;
	cmd->cap = cap;
	return cmd;
}

/* Takes @cmd; returns 0 when it is pending, or the timer's -errno (command
 * not started, so the host must not wait for a completion). */
static int command_schedule(VirtualCommand *cmd)
{
	VirtualPlugin *vp = cmd->vp;
	int64_t timer = vp->host->timer_add(vp->handle, cmd->dev->latency_ms, command_fire, cmd);

	if (timer <= 0) {
		virtual_log(vp, HUB_LOG_ERR, "Failed to schedule command %" G_GUINT64_FORMAT " for %s: %s", cmd->id,
			    cmd->dev->id, g_strerror(timer < 0 ? (int)-timer : EIO));
		g_free(cmd);
		return timer < 0 ? (int)timer : -EIO;
	}
	cmd->timer = timer;
	g_queue_push_tail_link(&vp->commands, &cmd->link);
	return 0;
}

/* ---- entry points ---- */

static const ActionDef *action_lookup(VirtualCap cap, const char *name)
{
	for (guint i = 0; name && i < G_N_ELEMENTS(actions); i++)
		if (actions[i].cap == cap && strcmp(actions[i].name, name) == 0)
			return &actions[i];
	return NULL;
}

int virtual_command_invoke(VirtualPlugin *vp, guint64 command_id, VirtualDevice *dev, VirtualCap cap,
			   const char *action, const struct hub_param *params, size_t n_params)
{
	const ActionDef *def = action_lookup(cap, action);
	g_autofree VirtualCommand *cmd = NULL;

	if (!dev->online) {
		complete_offline(vp, command_id, dev);
		return 0;
	}
	if (!def) {
		g_autofree char *message =
			g_strdup_printf("%s has no action %s", virtual_caps[cap].id, action ? action : "(null)");

		complete(vp, command_id, 501, "UNSUPPORTED_ACTION", message);
		return 0;
	}

	cmd = command_new(vp, dev, command_id, COMMAND_INVOKE, cap, 0);
	cmd->op = def->op;
	for (guint i = 0; i < MAX_ARGS && def->args[i].name; i++) {
		const ArgSpec *spec = &def->args[i];
		const struct hub_param *param = hub_param_find(params, n_params, spec->name);
		gboolean ok;

		if (spec->kind == ARG_PIN) {
			cmd->pin_rejected = dev->pin && (!param || !virtual_value_is(&param->value, dev->pin));
			continue;
		}
		if (!param || param->value.type == HUB_VALUE_NULL) {
			if (spec->required) {
				g_autofree char *message = g_strdup_printf("%s needs %s", def->name, spec->name);

				complete(vp, command_id, 400, "INVALID_PARAMETER", message);
				return 0;
			}
			cmd->args[i] = spec->fallback;
			continue;
		}
		switch (spec->kind) {
		case ARG_BOOL:
			ok = value_to_bool(&param->value, &cmd->args[i]);
			break;
		case ARG_ENUM:
			ok = value_to_enum(&param->value, spec->values, &cmd->args[i]);
			break;
		case ARG_INT:
		default:
			ok = value_to_int(&param->value, &cmd->args[i]);
			break;
		}
		if (!ok) {
			g_autofree char *message = g_strdup_printf("invalid %s for %s", spec->name, def->name);

			complete(vp, command_id, 400, "INVALID_PARAMETER", message);
			return 0;
		}
	}
	return command_schedule(g_steal_pointer(&cmd));
}

int virtual_command_read(VirtualPlugin *vp, guint64 command_id, VirtualDevice *dev, VirtualCap cap,
			 const char *const *names, size_t n_names)
{
	VirtualCommand *cmd;
	guint n_props = virtual_caps[cap].n_props;
	guint64 all = (G_GUINT64_CONSTANT(1) << n_props) - 1;

	if (!dev->online) {
		complete_offline(vp, command_id, dev);
		return 0;
	}
	cmd = command_new(vp, dev, command_id, COMMAND_READ, cap, 0);
	if (!names || n_names == 0 || (n_names == 1 && names[0] && strcmp(names[0], "*") == 0)) {
		cmd->read_mask = all;
	} else {
		for (size_t i = 0; i < n_names; i++) {
			int p = virtual_cap_find_prop(cap, names[i]);

			if (p >= 0)
				cmd->read_mask |= G_GUINT64_CONSTANT(1) << p;
			else /* the host validated the names; a mismatch means catalog skew */
				virtual_log(vp, HUB_LOG_DEBUG, "%s has no property %s, not read", virtual_caps[cap].id,
					    names[i] ? names[i] : "(null)");
		}
	}
	return command_schedule(cmd);
}

int virtual_command_write(VirtualPlugin *vp, guint64 command_id, VirtualDevice *dev, VirtualCap cap,
			  const struct hub_param *props, size_t n_props)
{
	g_autofree VirtualCommand *cmd = NULL;

	if (!dev->online) {
		complete_offline(vp, command_id, dev);
		return 0;
	}
	if (n_props > 64) {
		complete(vp, command_id, 400, "INVALID_PARAMETER", "too many properties");
		return 0;
	}
	cmd = command_new(vp, dev, command_id, COMMAND_WRITE, cap, (guint)n_props);
	for (size_t i = 0; i < n_props; i++) {
		int p = props ? virtual_cap_find_prop(cap, props[i].name) : -1;
		const VirtualPropDef *def = p >= 0 ? &virtual_caps[cap].props[p] : NULL;
		gboolean ok = FALSE;
		gint32 value = 0;

		if (def) {
			switch (def->kind) {
			case VIRTUAL_PROP_BOOL:
				ok = value_to_bool(&props[i].value, &value);
				break;
			case VIRTUAL_PROP_INT:
				ok = value_to_int(&props[i].value, &value);
				break;
			case VIRTUAL_PROP_ENUM:
				ok = value_to_enum(&props[i].value, def->values, &value);
				break;
			case VIRTUAL_PROP_TEXT:
				break;
			}
		}
		if (!ok) {
			g_autofree char *message = g_strdup_printf(
				"cannot write %s.%s", virtual_caps[cap].id,
				props && props[i].name ? props[i].name : "(null)");

			complete(vp, command_id, 400, "INVALID_PROPERTY", message);
			return 0;
		}
		cmd->writes[cmd->n_writes].prop = (guint8)p;
		cmd->writes[cmd->n_writes].value = value;
		cmd->n_writes++;
	}
	return command_schedule(g_steal_pointer(&cmd));
}

void virtual_command_cancel(VirtualPlugin *vp, VirtualDevice *dev, gint32 code, const char *error_code,
			    const char *error_message)
{
	GQueue cancelled = G_QUEUE_INIT;
	GList *l = vp->commands.head;

	/* Unlink first: completing may re-enter the plugin with new commands. */
	while (l) {
		GList *next = l->next;
		VirtualCommand *cmd = l->data;

		if (!dev || cmd->dev == dev) {
			g_queue_unlink(&vp->commands, &cmd->link);
			g_queue_push_tail_link(&cancelled, &cmd->link);
		}
		l = next;
	}
	while (cancelled.head) {
		VirtualCommand *cmd = cancelled.head->data;

		g_queue_unlink(&cancelled, &cmd->link);
		if (cmd->timer > 0)
			vp->host->timer_remove(vp->handle, cmd->timer);
		complete(vp, cmd->id, code, error_code, error_message);
		g_free(cmd);
	}
}
