/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-protocol.h - operations of a protocol plugin (descriptor.kind ==
 * HUB_PLUGIN_KIND_PROTOCOL, descriptor.ops points to struct hub_protocol_ops).
 *
 * All operations run on the main thread and must not block. Every pointer
 * argument is borrowed for the duration of the call. A NULL operation means
 * "not supported" and the host answers the caller with an error.
 *
 * Commands: invoke, read_properties and write_properties receive a
 * @command_id. Returning 0 means "accepted"; the plugin then calls
 * host->command_complete(command_id, ...) exactly once, later or before
 * returning. Returning a negative errno means the command was not started
 * and command_complete must not be called for it. The host enforces a
 * per-command timeout; a late command_complete gets -ENOENT.
 */
#ifndef HUBD_HUB_PROTOCOL_H
#define HUBD_HUB_PROTOCOL_H

#include <hubd/hub-plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

struct hub_protocol_ops {
	uint32_t struct_size; /* sizeof(struct hub_protocol_ops) */
	uint32_t reserved;

	/* Starts the radio/bus and re-adds the devices already onboarded
	 * (host->device_add ... device_ready). */
	int (*start)(void *user_data);
	/* Stops all activity; no host registry calls afterwards. */
	void (*stop)(void *user_data);

	/* Opens a discovery window of @seconds; devices found are reported with
	 * host->device_discovered(). The host calls discovery_stop when the
	 * window ends or a user stops it. */
	int (*discovery_start)(void *user_data, uint32_t seconds);
	int (*discovery_stop)(void *user_data);

	/* Onboards a discovered device (@discovered_id from device_discovered) or,
	 * with Simple Setup, one given by @auth_material (may be NULL). On
	 * success the plugin adds the device through the registry calls and
	 * writes its id into @device_id (size @device_id_size). -ENOENT: not
	 * found. */
	int (*onboard)(void *user_data, const char *discovered_id, const char *auth_material,
		       char *device_id, size_t device_id_size);
	/* Removes (excludes) a device; the plugin calls host->device_remove. */
	int (*remove)(void *user_data, const char *device_id);

	/* Executes action @action of a capability (not ReadState/UpdateState,
	 * which the host maps to read/write_properties). @params are validated
	 * against the catalog before the call. */
	int (*invoke)(void *user_data, uint64_t command_id, const char *device_id, const char *endpoint_id,
		      const char *capability_id, const char *action, const struct hub_param *params,
		      size_t n_params);
	/* Refreshes @names from the device, reporting each with
	 * host->report_property, then completes the command. */
	int (*read_properties)(void *user_data, uint64_t command_id, const char *device_id,
			       const char *endpoint_id, const char *capability_id, const char *const *names,
			       size_t n_names);
	/* Writes mutable properties (validated before the call); the device's
	 * confirmation arrives as report_property, then command_complete. */
	int (*write_properties)(void *user_data, uint64_t command_id, const char *device_id,
				const char *endpoint_id, const char *capability_id,
				const struct hub_param *props, size_t n_props);
};

#ifdef __cplusplus
}
#endif

#endif /* HUBD_HUB_PROTOCOL_H */
