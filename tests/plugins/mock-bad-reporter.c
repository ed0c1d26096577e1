/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mock-bad-reporter.c - a protocol plugin that breaks the rules on purpose:
 * it reports values, events and descriptions that violate the capability
 * catalog, then valid ones. Each host answer is logged as
 * "bad-reporter <what> returned <errno>" so the integration test can check
 * that every violation was refused and nothing of it was stored.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <hubd/hub-plugin.h>
#include <hubd/hub-protocol.h>

static const struct hub_host *host;
static struct hub_plugin *self;
static unsigned zero_timer_fires;
static uint64_t parked_command; /* a command left unanswered until exit() */

#define TRY(what, call) host->log(self, HUB_LOG_NOTICE, "bad-reporter %s returned %d", what, (int)(call))

/* A 0 ms repeating timer must not stall the daemon's main loop. */
static int zero_timer(void *user_data)
{
	if (++zero_timer_fires == 20)
		host->log(self, HUB_LOG_NOTICE, "bad-reporter zero timer fired 20 times");
	return zero_timer_fires < 20;
}

static int bad_start(void *user_data)
{
	struct hub_device_info info = { .struct_size = sizeof(info), .id = "bad-1", .name = "Rule breaker" };
	struct hub_device_info bad_id = { .struct_size = sizeof(info), .id = "bad id with spaces" };
	struct hub_value on = hub_value_bool(1);
	struct hub_value too_high = hub_value_int(999);
	struct hub_value wrong_type = hub_value_string("yes");
	struct hub_value broken_json = hub_value_json("{not json");
	struct hub_value level = hub_value_int(10);
	struct hub_param bad_event[] = { { "StateValue", hub_value_string("open") } };

	TRY("device_add(bad id)", host->device_add(self, &bad_id));
	TRY("device_add", host->device_add(self, &info));
	TRY("endpoint_add", host->endpoint_add(self, "bad-1", "1", "Dimmable Light"));
	TRY("capability_add(unknown)", host->capability_add(self, "bad-1", "1", "acme.Nothing@9.9"));
	TRY("capability_add", host->capability_add(self, "bad-1", "1", "matter.OnOff@1.4"));
	TRY("capability_add", host->capability_add(self, "bad-1", "1", "matter.LevelControl@1.4"));
	TRY("capability_add", host->capability_add(self, "bad-1", "1", "matter.BooleanState@1.4"));
	TRY("capability_add", host->capability_add(self, "bad-1", "1", "acme.Meter@1.0"));
	TRY("device_ready", host->device_ready(self, "bad-1"));

	TRY("report(valid OnOff)", host->report_property(self, "bad-1", "1", "matter.OnOff@1.4", "OnOff", &on));
	TRY("report(out of range)",
	    host->report_property(self, "bad-1", "1", "matter.LevelControl@1.4", "CurrentLevel", &too_high));
	TRY("report(wrong type)", host->report_property(self, "bad-1", "1", "matter.OnOff@1.4", "OnOff", &wrong_type));
	TRY("report(broken json)",
	    host->report_property(self, "bad-1", "1", "matter.LevelControl@1.4", "CurrentLevel", &broken_json));
	TRY("report(unknown property)", host->report_property(self, "bad-1", "1", "matter.OnOff@1.4", "Bogus", &on));
	TRY("report(unknown endpoint)", host->report_property(self, "bad-1", "9", "matter.OnOff@1.4", "OnOff", &on));
	TRY("report(foreign device)", host->report_property(self, "someone-else", "1", "matter.OnOff@1.4", "OnOff", &on));
	TRY("report(null value pointer)", host->report_property(self, "bad-1", "1", "matter.OnOff@1.4", "OnOff", NULL));
	TRY("event(bad parameter)",
	    host->report_event(self, "bad-1", "1", "matter.BooleanState@1.4", "StateChange", bad_event, 1));
	TRY("event(unknown)", host->report_event(self, "bad-1", "1", "matter.BooleanState@1.4", "Exploded", NULL, 0));
	TRY("command_complete(unknown id)", host->command_complete(self, 987654321, 200, NULL, 0, NULL, NULL));
	TRY("report(unsolicited non-reportable)",
	    host->report_property(self, "bad-1", "1", "acme.Meter@1.0", "Counter", &level));
	{
		struct hub_value absurd = hub_value_string("x");
		struct hub_device_info second = { .struct_size = sizeof(second), .id = "bad-2" };

		absurd.u.s.len = SIZE_MAX;
		TRY("report_health(absurd length)", host->report_health(self, "bad-1", "rssi", &absurd));
		TRY("device_add(bad-2)", host->device_add(self, &second));
		TRY("endpoint_add(bad-2)", host->endpoint_add(self, "bad-2", "1", "On/Off Plug-in Unit"));
		TRY("capability_add(bad-2)", host->capability_add(self, "bad-2", "1", "matter.OnOff@1.4"));
		TRY("device_ready(bad-2)", host->device_ready(self, "bad-2"));
		TRY("timer_add(0 ms, repeating)", host->timer_add(self, 0, zero_timer, NULL) > 0 ? 0 : -1);
	}
	TRY("report(valid CurrentLevel)",
	    host->report_property(self, "bad-1", "1", "matter.LevelControl@1.4", "CurrentLevel", &level));
	return 0;
}

static void bad_stop(void *user_data)
{
}

static int bad_invoke(void *user_data, uint64_t command_id, const char *device_id, const char *endpoint_id,
		      const char *capability_id, const char *action, const struct hub_param *params, size_t n_params)
{
	if (strcmp(action, "On") == 0 && strcmp(device_id, "bad-2") == 0) {
		/* The device goes away inside its own command; device_id must stay readable. */
		TRY("device_remove(inside command)", host->device_remove(self, device_id));
		host->log(self, HUB_LOG_NOTICE, "bad-reporter still reads %s after removing it", device_id);
		return host->command_complete(self, command_id, 200, NULL, 0, NULL, NULL) < 0 ? -EIO : 0;
	}
	if (strcmp(action, "Off") == 0) {
		/* An error code outside the rules and a message that is not UTF-8. */
		host->command_complete(self, command_id, 500, NULL, 0, "bad code!", "\xff\xfe broken");
		return 0;
	}
	if (strcmp(action, "Toggle") == 0) {
		parked_command = command_id;
		return 0;
	}
	return -ENOTSUP;
}

/* Answers a read properly: the meter's Counter is sent only when asked. */
static int bad_read(void *user_data, uint64_t command_id, const char *device_id, const char *endpoint_id,
		    const char *capability_id, const char *const *names, size_t n_names)
{
	struct hub_value counter = hub_value_int(7);

	for (size_t i = 0; i < n_names; i++)
		if (strcmp(names[i], "Counter") == 0)
			TRY("report(read Counter)",
			    host->report_property(self, device_id, endpoint_id, capability_id, "Counter", &counter));
	return host->command_complete(self, command_id, 200, NULL, 0, NULL, NULL) < 0 ? -EIO : 0;
}

static const struct hub_protocol_ops bad_ops = {
	.struct_size = sizeof(struct hub_protocol_ops),
	.start = bad_start,
	.stop = bad_stop,
	.read_properties = bad_read,
	.invoke = bad_invoke,
};

static int bad_init(const struct hub_host *h, struct hub_plugin *plugin, void **user_data)
{
	host = h;
	self = plugin;
	*user_data = NULL;
	return 0;
}

static void bad_exit(void *user_data)
{
	/* Host calls are allowed until exit() returns. */
	TRY("command_complete(from exit)", host->command_complete(self, parked_command, 200, NULL, 0, NULL, NULL));
	TRY("device_discovered(from exit)", host->device_discovered(self, "late-1", "Late", "Light"));
	host = NULL;
	self = NULL;
}

static const struct hub_plugin_descriptor bad_descriptor = {
	.abi_major = HUB_PLUGIN_ABI_MAJOR,
	.abi_minor = HUB_PLUGIN_ABI_MINOR,
	.struct_size = sizeof(struct hub_plugin_descriptor),
	.kind = HUB_PLUGIN_KIND_PROTOCOL,
	.name = "bad-reporter",
	.version = "1",
	.init = bad_init,
	.exit = bad_exit,
	.ops = &bad_ops,
	.flags = HUB_PLUGIN_FLAG_IN_TREE,
};

static const struct hub_plugin_descriptor *const descriptors[] = { &bad_descriptor, NULL };

HUB_PLUGIN_EXPORT const struct hub_plugin_descriptor *const *hub_plugin_query(void)
{
	return descriptors;
}
