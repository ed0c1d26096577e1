/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-virtual.c - the "virtual" protocol plugin: descriptor, init/exit and
 * the protocol operations (start/stop, discovery, onboarding, removal and
 * command dispatch). Device behaviour lives in hub-virtual-device.c and
 * hub-virtual-command.c.
 *
 * Onboarding survives restarts through the host's key/value store:
 * "onboarded.<id>" = "1" for a device onboarded at run time,
 * "removed.<id>" = "1" for a device declared onboarded but removed.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hub-virtual.h"

#define DISCOVERY_INTERVAL_MS 200 /* one device announced per tick */

/* ---- persistent onboarding ---- */

static gboolean kv_flag(VirtualPlugin *vp, const char *prefix, const char *id)
{
	g_autofree char *key = g_strconcat(prefix, id, NULL);
	char *value = vp->host->kv_get(vp->handle, key);
	gboolean set = value && strcmp(value, "1") == 0;

	free(value);
	return set;
}

static void kv_store(VirtualPlugin *vp, const char *prefix, const char *id, const char *value)
{
	g_autofree char *key = g_strconcat(prefix, id, NULL);
	int r = vp->host->kv_set(vp->handle, key, value);

	if (r < 0)
		virtual_log(vp, HUB_LOG_WARNING, "Failed to store %s: %s, ignoring", key, g_strerror(-r));
}

static VirtualDevice *lookup(VirtualPlugin *vp, const char *id)
{
	return id ? g_hash_table_lookup(vp->by_id, id) : NULL;
}

/* ---- init / exit ---- */

static void virtual_stop(void *user_data);

static void virtual_plugin_free(VirtualPlugin *vp)
{
	if (!vp)
		return;
	g_clear_pointer(&vp->by_id, g_hash_table_unref);
	g_clear_pointer(&vp->devices, g_ptr_array_unref);
	g_free(vp);
}

static int virtual_init(const struct hub_host *host, struct hub_plugin *plugin, void **user_data)
{
	VirtualPlugin *vp;
	int r;

	/* every host call we make must be in the table the host built */
	if (!host || !user_data || !HUB_STRUCT_HAS(host, host->struct_size, device_discovered))
		return -EPROTO;

	vp = g_new0(VirtualPlugin, 1);
	vp->host = host;
	vp->handle = plugin;
	vp->devices = g_ptr_array_new_with_free_func((GDestroyNotify)virtual_device_free);
	vp->by_id = g_hash_table_new(g_str_hash, g_str_equal);
	g_queue_init(&vp->commands);

	r = virtual_config_load(vp);
	if (r < 0) {
		virtual_plugin_free(vp);
		return r;
	}
	virtual_log(vp, HUB_LOG_INFO, "%u virtual devices configured, latency %u ms, sensor interval %u ms",
		    vp->devices->len, vp->latency_ms, vp->sensor_interval_ms);
	*user_data = vp;
	return 0;
}

static void virtual_exit(void *user_data)
{
	VirtualPlugin *vp = user_data;

	if (!vp)
		return;
	if (vp->started) /* the host should have stopped us; never leave timers behind */
		virtual_stop(vp);
	virtual_plugin_free(vp);
}

/* ---- start / stop ---- */

static int virtual_start(void *user_data)
{
	VirtualPlugin *vp = user_data;
	guint published = 0, waiting = 0;

	if (vp->started)
		return 0;
	vp->started = TRUE;
	for (guint i = 0; i < vp->devices->len; i++) {
		VirtualDevice *dev = g_ptr_array_index(vp->devices, i);

		if (dev->config_onboarded)
			dev->onboarded = !kv_flag(vp, "removed.", dev->id);
		else
			dev->onboarded = kv_flag(vp, "onboarded.", dev->id);
		if (!dev->onboarded)
			waiting++;
		else if (virtual_device_publish(dev) == 0)
			published++;
	}
	virtual_log(vp, HUB_LOG_INFO, "Started with %u onboarded devices, %u waiting for discovery", published,
		    waiting);
	return 0;
}

static void virtual_stop(void *user_data)
{
	VirtualPlugin *vp = user_data;

	if (!vp->started)
		return;
	vp->started = FALSE;
	vp->discovering = FALSE;
	if (vp->discovery_timer > 0)
		vp->host->timer_remove(vp->handle, vp->discovery_timer);
	vp->discovery_timer = 0;
	virtual_command_cancel(vp, NULL, 503, "PLUGIN_STOPPED", "the virtual plugin stopped");
	for (guint i = 0; i < vp->devices->len; i++)
		virtual_device_unpublish(g_ptr_array_index(vp->devices, i));
}

/* ---- discovery ---- */

static int discovery_tick(void *data)
{
	VirtualPlugin *vp = data;
	gint64 timer = vp->discovery_timer;

	for (guint i = 0; i < vp->devices->len; i++) {
		VirtualDevice *dev = g_ptr_array_index(vp->devices, i);

		if (dev->onboarded || dev->announced)
			continue;
		dev->announced = TRUE;
		vp->host->device_discovered(vp->handle, dev->id, virtual_device_name(dev), dev->type->device_types);
		return timer != 0 && vp->discovery_timer == timer;
	}
	/* everything announced; remove() re-arms it if a device comes back */
	if (vp->discovery_timer == timer)
		vp->discovery_timer = 0;
	return 0;
}

static int discovery_arm(VirtualPlugin *vp)
{
	int64_t timer;

	if (vp->discovery_timer > 0)
		return 0;
	timer = vp->host->timer_add(vp->handle, DISCOVERY_INTERVAL_MS, discovery_tick, vp);
	if (timer <= 0) {
		virtual_log(vp, HUB_LOG_ERR, "Failed to start discovery: %s",
			    g_strerror(timer < 0 ? (int)-timer : EIO));
		return timer < 0 ? (int)timer : -EIO;
	}
	vp->discovery_timer = timer;
	return 0;
}

static int virtual_discovery_start(void *user_data, uint32_t seconds)
{
	VirtualPlugin *vp = user_data;
	int r;

	if (!vp->started)
		return -EAGAIN;
	/* a new window announces everything again */
	for (guint i = 0; i < vp->devices->len; i++)
		((VirtualDevice *)g_ptr_array_index(vp->devices, i))->announced = FALSE;
	r = discovery_arm(vp);
	if (r < 0)
		return r;
	vp->discovering = TRUE;
	virtual_log(vp, HUB_LOG_DEBUG, "Discovery window of %u s opened", seconds);
	return 0;
}

static int virtual_discovery_stop(void *user_data)
{
	VirtualPlugin *vp = user_data;

	vp->discovering = FALSE;
	if (vp->discovery_timer > 0)
		vp->host->timer_remove(vp->handle, vp->discovery_timer);
	vp->discovery_timer = 0;
	return 0;
}

/* ---- onboarding and removal ---- */

/* Simple Setup: the auth material is the device id, its serial, or "virtual:<id>". */
static VirtualDevice *lookup_by_auth(VirtualPlugin *vp, const char *auth)
{
	VirtualDevice *dev = lookup(vp, auth);

	if (!dev && g_str_has_prefix(auth, "virtual:"))
		dev = lookup(vp, auth + strlen("virtual:"));
	for (guint i = 0; !dev && i < vp->devices->len; i++) {
		VirtualDevice *d = g_ptr_array_index(vp->devices, i);
		g_autofree char *serial = virtual_device_serial(d); /* the derived one is on the label too */

		if (strcmp(serial, auth) == 0)
			dev = d;
	}
	return dev;
}

static int virtual_onboard(void *user_data, const char *discovered_id, const char *auth_material,
			   char *device_id, size_t device_id_size)
{
	VirtualPlugin *vp = user_data;
	VirtualDevice *dev;
	int r;

	if (!vp->started)
		return -EAGAIN;
	if (!device_id || device_id_size == 0)
		return -EINVAL;
	if (discovered_id && *discovered_id)
		dev = lookup(vp, discovered_id);
	else if (auth_material && *auth_material)
		dev = lookup_by_auth(vp, auth_material);
	else
		return -EINVAL;
	if (!dev)
		return -ENOENT;
	if (dev->onboarded)
		return -EEXIST;
	if (strlen(dev->id) >= device_id_size)
		return -ENOSPC;

	virtual_device_reset_state(dev); /* a re-included device starts factory-fresh */
	dev->onboarded = TRUE;
	dev->announced = FALSE;
	r = virtual_device_publish(dev);
	if (r < 0) {
		dev->onboarded = FALSE;
		return r;
	}
	kv_store(vp, "onboarded.", dev->id, "1");
	kv_store(vp, "removed.", dev->id, NULL);
	g_strlcpy(device_id, dev->id, device_id_size);
	virtual_log(vp, HUB_LOG_INFO, "Onboarded %s (%s)", dev->id, dev->type->name);
	return 0;
}

static int virtual_remove(void *user_data, const char *device_id)
{
	VirtualPlugin *vp = user_data;
	VirtualDevice *dev = lookup(vp, device_id);
	int r;

	if (!vp->started)
		return -EAGAIN;
	if (!dev || !dev->onboarded)
		return -ENOENT;

	virtual_command_cancel(vp, dev, 410, "DEVICE_REMOVED", "the device was removed");
	virtual_device_unpublish(dev);
	dev->onboarded = FALSE;
	dev->announced = FALSE;
	r = vp->host->device_remove(vp->handle, dev->id);
	if (r < 0)
		virtual_log(vp, HUB_LOG_WARNING, "Failed to remove device %s from the registry: %s, ignoring",
			    dev->id, g_strerror(-r));
	kv_store(vp, "onboarded.", dev->id, NULL);
	if (dev->config_onboarded)
		kv_store(vp, "removed.", dev->id, "1");
	virtual_log(vp, HUB_LOG_INFO, "Removed %s", dev->id);
	/* it advertises again, like a device reset to factory settings */
	if (vp->discovering)
		discovery_arm(vp);
	return 0;
}

/* ---- commands ---- */

static int command_target(VirtualPlugin *vp, const char *device_id, const char *endpoint_id,
			  const char *capability_id, VirtualDevice **dev, VirtualCap *cap)
{
	if (!vp->started)
		return -EAGAIN;
	*dev = lookup(vp, device_id);
	if (!*dev || !(*dev)->published)
		return -ENOENT;
	if (!virtual_device_find_cap(*dev, endpoint_id, capability_id, cap))
		return -ENOENT;
	return 0;
}

static int virtual_invoke(void *user_data, uint64_t command_id, const char *device_id, const char *endpoint_id,
			  const char *capability_id, const char *action, const struct hub_param *params,
			  size_t n_params)
{
	VirtualPlugin *vp = user_data;
	VirtualDevice *dev;
	VirtualCap cap;
	int r = command_target(vp, device_id, endpoint_id, capability_id, &dev, &cap);

	if (r < 0)
		return r;
	if (n_params && !params)
		return -EINVAL;
	return virtual_command_invoke(vp, command_id, dev, cap, action, params, n_params);
}

static int virtual_read_properties(void *user_data, uint64_t command_id, const char *device_id,
				   const char *endpoint_id, const char *capability_id, const char *const *names,
				   size_t n_names)
{
	VirtualPlugin *vp = user_data;
	VirtualDevice *dev;
	VirtualCap cap;
	int r = command_target(vp, device_id, endpoint_id, capability_id, &dev, &cap);

	if (r < 0)
		return r;
	if (n_names && !names)
		return -EINVAL;
	return virtual_command_read(vp, command_id, dev, cap, names, n_names);
}

static int virtual_write_properties(void *user_data, uint64_t command_id, const char *device_id,
				    const char *endpoint_id, const char *capability_id,
				    const struct hub_param *props, size_t n_props)
{
	VirtualPlugin *vp = user_data;
	VirtualDevice *dev;
	VirtualCap cap;
	int r = command_target(vp, device_id, endpoint_id, capability_id, &dev, &cap);

	if (r < 0)
		return r;
	if (n_props && !props)
		return -EINVAL;
	return virtual_command_write(vp, command_id, dev, cap, props, n_props);
}

/* ---- descriptor ---- */

static const struct hub_protocol_ops virtual_ops = {
	.struct_size = sizeof(struct hub_protocol_ops),
	.start = virtual_start,
	.stop = virtual_stop,
	.discovery_start = virtual_discovery_start,
	.discovery_stop = virtual_discovery_stop,
	.onboard = virtual_onboard,
	.remove = virtual_remove,
	.invoke = virtual_invoke,
	.read_properties = virtual_read_properties,
	.write_properties = virtual_write_properties,
};

static const struct hub_plugin_descriptor virtual_descriptor = {
	.abi_major = HUB_PLUGIN_ABI_MAJOR,
	.abi_minor = HUB_PLUGIN_ABI_MINOR,
	.struct_size = sizeof(struct hub_plugin_descriptor),
	.kind = HUB_PLUGIN_KIND_PROTOCOL,
	.name = "virtual",
	.version = VIRTUAL_VERSION,
	.init = virtual_init,
	.exit = virtual_exit,
	.ops = &virtual_ops,
#ifdef HUB_IN_TREE
	.flags = HUB_PLUGIN_FLAG_IN_TREE,
#else
	.flags = 0,
#endif
};

static const struct hub_plugin_descriptor *const virtual_descriptors[] = { &virtual_descriptor, NULL };

HUB_PLUGIN_EXPORT const struct hub_plugin_descriptor *const *hub_plugin_query(void);

HUB_PLUGIN_EXPORT const struct hub_plugin_descriptor *const *hub_plugin_query(void)
{
	return virtual_descriptors;
}
