/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * oem-plug.c - an example hubd protocol plugin, built out of tree against the
 * installed SDK (pkg-config hubd-plugin) and nothing else: plain C and libc.
 *
 * It drives "smart plugs" on an imaginary OEM bus: each plug is one device
 * with one endpoint and the matter.OnOff@1.4 capability. A real plugin would
 * talk to its radio or serial bus where this one starts a timer.
 *
 *   [plugin.oem-plug]
 *   plugs=2            plugs present from the start, oem-plug-1 ... (0-16)
 *   latency-ms=50      time a plug takes to switch (0-10000)
 *
 * A discovery window finds one more plug, "oem-plug-new", which onboard()
 * adds. The on/off state and the onboarded plug survive restarts in the
 * host's key/value store.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hubd/hub-protocol.h>

#define MAX_PLUGS       17 /* 16 from the configuration and the discoverable one */
#define MAX_PENDING     32
#define ONOFF           "matter.OnOff@1.4"
#define ENDPOINT        "1"
#define NEW_PLUG_ID     "oem-plug-new"
#define KV_NEW_ONBOARDS "onboarded." NEW_PLUG_ID

struct plug {
	char id[32];
	int present;
	int on;
};

/* A command waiting for the plug to switch. */
struct pending {
	struct oem *oem;
	uint64_t command_id;
	struct plug *plug;
	int target; /* the state to reach; -1 for a read */
	int64_t timer;
};

struct oem {
	const struct hub_host *host;
	struct hub_plugin *handle;
	uint32_t latency_ms;
	struct plug plugs[MAX_PLUGS];
	struct pending pending[MAX_PENDING];
};

/* Reads an integer setting in [min, max]; logs and keeps @fallback otherwise. */
static long config_long(struct oem *oem, const char *key, long min, long max, long fallback)
{
	const char *text = oem->host->config_get(oem->handle, key);
	char *end = NULL;
	long value;

	if (!text)
		return fallback;
	errno = 0;
	value = strtol(text, &end, 10);
	if (errno || end == text || *end || value < min || value > max) {
		oem->host->log(oem->handle, HUB_LOG_WARNING, "%s=%s is not a number in %ld-%ld, using %ld", key, text,
			       min, max, fallback);
		return fallback;
	}
	return value;
}

static struct plug *find_plug(struct oem *oem, const char *id)
{
	for (int i = 0; i < MAX_PLUGS; i++)
		if (oem->plugs[i].present && id && strcmp(oem->plugs[i].id, id) == 0)
			return &oem->plugs[i];
	return NULL;
}

static void load_state(struct oem *oem, struct plug *plug)
{
	char key[48];
	char *value;

	snprintf(key, sizeof(key), "on.%s", plug->id);
	value = oem->host->kv_get(oem->handle, key);
	plug->on = value && strcmp(value, "1") == 0;
	free(value);
}

static void save_state(struct oem *oem, const struct plug *plug)
{
	char key[48];
	int r;

	snprintf(key, sizeof(key), "on.%s", plug->id);
	r = oem->host->kv_set(oem->handle, key, plug->on ? "1" : "0");
	if (r < 0)
		oem->host->log(oem->handle, HUB_LOG_WARNING, "Failed to save %s: %s, ignoring", key, strerror(-r));
}

static void report_onoff(struct oem *oem, const struct plug *plug)
{
	struct hub_value value = hub_value_bool(plug->on);

	oem->host->report_property(oem->handle, plug->id, ENDPOINT, ONOFF, "OnOff", &value);
}

/* Describes a plug to the registry and publishes it with its current state. */
static int publish_plug(struct oem *oem, struct plug *plug)
{
	struct hub_device_info info = {
		.struct_size = sizeof(info),
		.id = plug->id,
		.name = plug->id,
		.manufacturer = "Example OEM",
		.model = "Plug 1",
		.serial = plug->id,
	};
	int r;

	r = oem->host->device_add(oem->handle, &info);
	if (r >= 0)
		r = oem->host->endpoint_add(oem->handle, plug->id, ENDPOINT, "On/Off Plug-in Unit");
	if (r >= 0)
		r = oem->host->capability_add(oem->handle, plug->id, ENDPOINT, ONOFF);
	if (r >= 0)
		r = oem->host->device_ready(oem->handle, plug->id);
	if (r < 0) {
		oem->host->log(oem->handle, HUB_LOG_ERR, "Failed to add %s: %s", plug->id, strerror(-r));
		return r;
	}
	report_onoff(oem, plug);
	oem->host->set_online(oem->handle, plug->id, 1);
	return 0;
}

/* ---- commands: each finishes after the plug's latency ---- */

static struct pending *pending_new(struct oem *oem)
{
	for (int i = 0; i < MAX_PENDING; i++)
		if (!oem->pending[i].oem)
			return &oem->pending[i];
	return NULL;
}

static int pending_fire(void *user_data)
{
	struct pending *p = user_data;
	struct oem *oem = p->oem;

	if (p->target >= 0 && p->plug->on != p->target) {
		p->plug->on = p->target;
		save_state(oem, p->plug);
	}
	/* The confirmed state first, then the completion that reports it. */
	report_onoff(oem, p->plug);
	oem->host->command_complete(oem->handle, p->command_id, 200, NULL, 0, NULL, NULL);
	memset(p, 0, sizeof(*p));
	return 0; /* one shot */
}

static int start_switch(struct oem *oem, uint64_t command_id, const char *device_id, const char *endpoint_id,
			const char *capability_id, int target)
{
	struct plug *plug = find_plug(oem, device_id);
	struct pending *p;

	if (!plug || !endpoint_id || strcmp(endpoint_id, ENDPOINT) != 0 || !capability_id ||
	    strcmp(capability_id, ONOFF) != 0)
		return -ENOENT;
	p = pending_new(oem);
	if (!p)
		return -EBUSY;
	*p = (struct pending){ .oem = oem, .command_id = command_id, .plug = plug, .target = target };
	p->timer = oem->host->timer_add(oem->handle, oem->latency_ms, pending_fire, p);
	if (p->timer < 0) {
		int r = (int)p->timer;

		memset(p, 0, sizeof(*p));
		return r;
	}
	return 0;
}

static int oem_invoke(void *user_data, uint64_t command_id, const char *device_id, const char *endpoint_id,
		      const char *capability_id, const char *action, const struct hub_param *params,
		      size_t n_params)
{
	struct oem *oem = user_data;
	struct plug *plug = find_plug(oem, device_id);
	int target;

	if (!plug)
		return -ENOENT;
	if (strcmp(action, "On") == 0)
		target = 1;
	else if (strcmp(action, "Off") == 0)
		target = 0;
	else if (strcmp(action, "Toggle") == 0)
		target = !plug->on;
	else
		return -ENOTSUP;
	return start_switch(oem, command_id, device_id, endpoint_id, capability_id, target);
}

static int oem_read(void *user_data, uint64_t command_id, const char *device_id, const char *endpoint_id,
		    const char *capability_id, const char *const *names, size_t n_names)
{
	return start_switch(user_data, command_id, device_id, endpoint_id, capability_id, -1);
}

static int oem_write(void *user_data, uint64_t command_id, const char *device_id, const char *endpoint_id,
		     const char *capability_id, const struct hub_param *props, size_t n_props)
{
	const struct hub_param *onoff = hub_param_find(props, n_props, "OnOff");

	/* The host validated the values against the catalog; this plug only switches. */
	if (!onoff || n_props != 1 || onoff->value.type != HUB_VALUE_BOOL)
		return -ENOTSUP;
	return start_switch(user_data, command_id, device_id, endpoint_id, capability_id, onoff->value.u.b);
}

/* ---- life cycle, discovery, onboarding ---- */

static int oem_start(void *user_data)
{
	struct oem *oem = user_data;

	for (int i = 0; i < MAX_PLUGS; i++)
		if (oem->plugs[i].present)
			publish_plug(oem, &oem->plugs[i]);
	return 0;
}

static void oem_stop(void *user_data)
{
	struct oem *oem = user_data;

	/* Unfinished commands: the host times them out; their timers go now. */
	for (int i = 0; i < MAX_PENDING; i++)
		if (oem->pending[i].oem) {
			oem->host->timer_remove(oem->handle, oem->pending[i].timer);
			memset(&oem->pending[i], 0, sizeof(oem->pending[i]));
		}
}

static int oem_discovery_start(void *user_data, uint32_t seconds)
{
	struct oem *oem = user_data;

	/* A real bus would listen for @seconds; this one answers at once. */
	if (!find_plug(oem, NEW_PLUG_ID))
		oem->host->device_discovered(oem->handle, NEW_PLUG_ID, "New OEM plug", "On/Off Plug-in Unit");
	return 0;
}

static int oem_discovery_stop(void *user_data)
{
	return 0;
}

static int oem_onboard(void *user_data, const char *discovered_id, const char *auth_material, char *device_id,
		       size_t device_id_size)
{
	struct oem *oem = user_data;
	struct plug *plug = &oem->plugs[MAX_PLUGS - 1];
	int r;

	if (!discovered_id || strcmp(discovered_id, NEW_PLUG_ID) != 0)
		return -ENOENT;
	if (plug->present)
		return -EEXIST;
	snprintf(plug->id, sizeof(plug->id), "%s", NEW_PLUG_ID);
	plug->present = 1;
	plug->on = 0;
	r = publish_plug(oem, plug);
	if (r < 0) {
		plug->present = 0;
		return r;
	}
	oem->host->kv_set(oem->handle, KV_NEW_ONBOARDS, "1");
	snprintf(device_id, device_id_size, "%s", plug->id);
	return 0;
}

static int oem_remove(void *user_data, const char *device_id)
{
	struct oem *oem = user_data;
	struct plug *plug = find_plug(oem, device_id);

	if (!plug)
		return -ENOENT;
	for (int i = 0; i < MAX_PENDING; i++)
		if (oem->pending[i].oem && oem->pending[i].plug == plug) {
			oem->host->timer_remove(oem->handle, oem->pending[i].timer);
			oem->host->command_complete(oem->handle, oem->pending[i].command_id, 410, NULL, 0, "REMOVED",
						    "the plug was removed");
			memset(&oem->pending[i], 0, sizeof(oem->pending[i]));
		}
	if (plug == &oem->plugs[MAX_PLUGS - 1])
		oem->host->kv_set(oem->handle, KV_NEW_ONBOARDS, NULL);
	plug->present = 0;
	return oem->host->device_remove(oem->handle, device_id);
}

/* ---- init / exit and the descriptor ---- */

static int oem_init(const struct hub_host *host, struct hub_plugin *plugin, void **user_data)
{
	struct oem *oem;
	char *onboarded;
	long plugs;

	/* Every host call used here must be in the table this host built. */
	if (!host || !HUB_STRUCT_HAS(host, host->struct_size, device_discovered))
		return -EPROTO;
	oem = calloc(1, sizeof(*oem));
	if (!oem)
		return -ENOMEM;
	oem->host = host;
	oem->handle = plugin;
	plugs = config_long(oem, "plugs", 0, MAX_PLUGS - 1, 2);
	oem->latency_ms = (uint32_t)config_long(oem, "latency-ms", 0, 10000, 50);
	for (long i = 0; i < plugs; i++) {
		snprintf(oem->plugs[i].id, sizeof(oem->plugs[i].id), "oem-plug-%ld", i + 1);
		oem->plugs[i].present = 1;
		load_state(oem, &oem->plugs[i]);
	}
	onboarded = host->kv_get(plugin, KV_NEW_ONBOARDS);
	if (onboarded && strcmp(onboarded, "1") == 0) {
		struct plug *plug = &oem->plugs[MAX_PLUGS - 1];

		snprintf(plug->id, sizeof(plug->id), "%s", NEW_PLUG_ID);
		plug->present = 1;
		load_state(oem, plug);
	}
	free(onboarded);
	host->log(plugin, HUB_LOG_INFO, "%ld plugs, switching in %u ms", plugs, oem->latency_ms);
	*user_data = oem;
	return 0;
}

static void oem_exit(void *user_data)
{
	free(user_data);
}

static const struct hub_protocol_ops oem_ops = {
	.struct_size = sizeof(struct hub_protocol_ops),
	.start = oem_start,
	.stop = oem_stop,
	.discovery_start = oem_discovery_start,
	.discovery_stop = oem_discovery_stop,
	.onboard = oem_onboard,
	.remove = oem_remove,
	.invoke = oem_invoke,
	.read_properties = oem_read,
	.write_properties = oem_write,
};

static const struct hub_plugin_descriptor oem_descriptor = {
	.abi_major = HUB_PLUGIN_ABI_MAJOR,
	.abi_minor = HUB_PLUGIN_ABI_MINOR,
	.struct_size = sizeof(struct hub_plugin_descriptor),
	.kind = HUB_PLUGIN_KIND_PROTOCOL,
	.name = "oem-plug",
	.version = "1.0.0",
	.init = oem_init,
	.exit = oem_exit,
	.ops = &oem_ops,
	/* No HUB_PLUGIN_FLAG_IN_TREE: hubd marks the plugin as built out of tree. */
};

static const struct hub_plugin_descriptor *const oem_descriptors[] = { &oem_descriptor, NULL };

HUB_PLUGIN_EXPORT const struct hub_plugin_descriptor *const *hub_plugin_query(void)
{
	return oem_descriptors;
}
