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

#define TRY(what, call) host->log(self, HUB_LOG_NOTICE, "bad-reporter %s returned %d", what, (int)(call))

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
	TRY("report(valid CurrentLevel)",
	    host->report_property(self, "bad-1", "1", "matter.LevelControl@1.4", "CurrentLevel", &level));
	return 0;
}

static void bad_stop(void *user_data)
{
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
