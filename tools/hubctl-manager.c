/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hubctl-manager.c - commands on the hub as a whole (org.hubd.Hub1.Manager):
 * status, plugins, onboard, remove.
 */
#include "config.h"

#include <stdio.h>

#include "hubctl.h"

static guint
count_online(GPtrArray *devices)
{
	guint online = 0;

	for (guint i = 0; i < devices->len; i++) {
		HubctlDevice *device = devices->pdata[i];

		if (hubctl_lookup_boolean(device->props, "Online", FALSE))
			online++;
	}
	return online;
}

int
hubctl_cmd_status(HubctlContext *ctx)
{
	_cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
	_cleanup_(sd_bus_error_free) sd_bus_error cloud_error = SD_BUS_ERROR_NULL;
	g_autoptr(GVariant) props = NULL;
	g_autoptr(GVariant) plugins = NULL;
	g_autoptr(GPtrArray) devices = NULL;
	g_autoptr(JsonNode) cloud = NULL;
	guint32 device_count = 0;
	gboolean discovering;
	guint n_plugins;
	guint online;
	int r;

	r = hubctl_get_all_properties(ctx->bus, HUBCTL_ROOT_PATH, HUBCTL_MANAGER_IFACE, &error, &props);
	if (r < 0)
		return hubctl_fail("status", &error, r);
	r = hubctl_get_devices(ctx->bus, &error, &devices);
	if (r < 0)
		return hubctl_fail("status: listing devices", &error, r);

	if (!g_variant_lookup(props, "DeviceCount", "u", &device_count))
		device_count = devices->len;
	discovering = hubctl_lookup_boolean(props, "Discovering", FALSE);
	plugins = g_variant_lookup_value(props, "Plugins", G_VARIANT_TYPE("a(sssssb)"));
	n_plugins = plugins ? (guint)g_variant_n_children(plugins) : 0;
	online = count_online(devices);
	cloud = hubctl_cloud_status(ctx, &cloud_error);

	if (ctx->json) {
		g_autoptr(JsonBuilder) builder = json_builder_new();
		g_autoptr(JsonNode) root = NULL;

		json_builder_begin_object(builder);
		json_builder_set_member_name(builder, "version");
		json_builder_add_string_value(builder, hubctl_lookup_string(props, "Version"));
		json_builder_set_member_name(builder, "abiVersion");
		json_builder_add_string_value(builder, hubctl_lookup_string(props, "AbiVersion"));
		json_builder_set_member_name(builder, "deviceCount");
		json_builder_add_int_value(builder, device_count);
		json_builder_set_member_name(builder, "onlineDeviceCount");
		json_builder_add_int_value(builder, online);
		json_builder_set_member_name(builder, "discovering");
		json_builder_add_boolean_value(builder, discovering);
		json_builder_set_member_name(builder, "pluginCount");
		json_builder_add_int_value(builder, n_plugins);
		if (cloud) {
			json_builder_set_member_name(builder, "cloud");
			json_builder_add_value(builder, json_node_ref(cloud));
		}
		json_builder_end_object(builder);
		root = json_builder_get_root(builder);
		hubctl_print_json(root, TRUE);
		return HUBCTL_EXIT_OK;
	}
	printf("Version:      %s\n", hubctl_lookup_string(props, "Version"));
	printf("ABI version:  %s\n", hubctl_lookup_string(props, "AbiVersion"));
	printf("Devices:      %u (%u online)\n", device_count, online);
	printf("Discovering:  %s\n", discovering ? "yes" : "no");
	printf("Plugins:      %u\n", n_plugins);
	if (cloud)
		hubctl_cloud_print(json_node_get_object(cloud));
	fflush(stdout);
	return HUBCTL_EXIT_OK;
}

int
hubctl_cmd_plugins(HubctlContext *ctx)
{
	static const char *const header[] = { "NAME", "KIND", "VERSION", "ABI", "TAINTED", "PATH" };
	_cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
	g_autoptr(GVariant) plugins = NULL;
	g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
	g_autoptr(JsonBuilder) builder = json_builder_new();
	const char *name, *kind, *version, *abi, *path;
	gboolean tainted;
	GVariantIter iter;
	int r;

	r = hubctl_get_property(ctx->bus, HUBCTL_ROOT_PATH, HUBCTL_MANAGER_IFACE, "Plugins", &error, &plugins);
	if (r < 0)
		return hubctl_fail("plugins", &error, r);
	if (!g_variant_is_of_type(plugins, G_VARIANT_TYPE("a(sssssb)"))) {
		fprintf(stderr, "hubctl: plugins: the daemon sent Plugins as %s, expected a(sssssb)\n",
			g_variant_get_type_string(plugins));
		return HUBCTL_EXIT_FAILURE;
	}

	json_builder_begin_array(builder);
	g_variant_iter_init(&iter, plugins);
	while (g_variant_iter_next(&iter, "(&s&s&s&s&sb)", &name, &kind, &version, &abi, &path, &tainted)) {
		char **row = g_new0(char *, 7);

		row[0] = g_strdup(name);
		row[1] = g_strdup(kind);
		row[2] = g_strdup(version);
		row[3] = g_strdup(abi);
		row[4] = g_strdup(tainted ? "yes" : "no");
		row[5] = g_strdup(path);
		g_ptr_array_add(rows, row);

		json_builder_begin_object(builder);
		json_builder_set_member_name(builder, "name");
		json_builder_add_string_value(builder, name);
		json_builder_set_member_name(builder, "kind");
		json_builder_add_string_value(builder, kind);
		json_builder_set_member_name(builder, "version");
		json_builder_add_string_value(builder, version);
		json_builder_set_member_name(builder, "abi");
		json_builder_add_string_value(builder, abi);
		json_builder_set_member_name(builder, "tainted");
		json_builder_add_boolean_value(builder, tainted);
		json_builder_set_member_name(builder, "path");
		json_builder_add_string_value(builder, path);
		json_builder_end_object(builder);
	}
	json_builder_end_array(builder);

	if (ctx->json) {
		g_autoptr(JsonNode) root = json_builder_get_root(builder);

		hubctl_print_json(root, TRUE);
		return HUBCTL_EXIT_OK;
	}
	hubctl_print_table(rows, 6, ctx->tty ? header : NULL);
	return HUBCTL_EXIT_OK;
}

int
hubctl_cmd_onboard(HubctlContext *ctx)
{
	_cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autofree char *what = hubctl_what(ctx);
	const char *auth = ctx->n_args > 2 ? ctx->args[2] : "";
	const char *device_id, *path;
	int r;

	r = hubctl_call(ctx->bus, HUBCTL_ROOT_PATH, HUBCTL_MANAGER_IFACE, "OnboardDevice",
			HUBCTL_WAIT_TIMEOUT_USEC, &error, &reply, "sss", ctx->args[0], ctx->args[1], auth);
	if (r < 0)
		return hubctl_fail(what, &error, r);
	if (!g_variant_is_of_type(reply, G_VARIANT_TYPE("(so)"))) {
		fprintf(stderr, "hubctl: %s: unexpected reply of type %s\n", what, g_variant_get_type_string(reply));
		return HUBCTL_EXIT_FAILURE;
	}
	g_variant_get(reply, "(&s&o)", &device_id, &path);
	if (ctx->json) {
		g_autoptr(JsonBuilder) builder = json_builder_new();
		g_autoptr(JsonNode) root = NULL;

		json_builder_begin_object(builder);
		json_builder_set_member_name(builder, "deviceId");
		json_builder_add_string_value(builder, device_id);
		json_builder_set_member_name(builder, "path");
		json_builder_add_string_value(builder, path);
		json_builder_end_object(builder);
		root = json_builder_get_root(builder);
		hubctl_print_json(root, TRUE);
		return HUBCTL_EXIT_OK;
	}
	printf("Onboarded %s as device %s (%s)\n", ctx->args[1], device_id, path);
	fflush(stdout);
	return HUBCTL_EXIT_OK;
}

int
hubctl_cmd_remove(HubctlContext *ctx)
{
	_cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
	g_autofree char *what = hubctl_what(ctx);
	g_autofree char *device_id = NULL;
	int r;

	/* RemoveDevice takes an id; accept an object path as elsewhere. */
	device_id = g_str_has_prefix(ctx->args[0], HUBCTL_DEVICES_PATH "/") ?
		hubctl_device_id_from_path(ctx->args[0]) : g_strdup(ctx->args[0]);
	r = hubctl_call(ctx->bus, HUBCTL_ROOT_PATH, HUBCTL_MANAGER_IFACE, "RemoveDevice",
			HUBCTL_WAIT_TIMEOUT_USEC, &error, NULL, "s", device_id);
	if (r < 0)
		return hubctl_fail_device(ctx->bus, what, device_id, &error, r);
	if (ctx->json) {
		g_autoptr(JsonBuilder) builder = json_builder_new();
		g_autoptr(JsonNode) root = NULL;

		json_builder_begin_object(builder);
		json_builder_set_member_name(builder, "deviceId");
		json_builder_add_string_value(builder, device_id);
		json_builder_set_member_name(builder, "removed");
		json_builder_add_boolean_value(builder, TRUE);
		json_builder_end_object(builder);
		root = json_builder_get_root(builder);
		hubctl_print_json(root, TRUE);
		return HUBCTL_EXIT_OK;
	}
	printf("Removed device %s\n", device_id);
	fflush(stdout);
	return HUBCTL_EXIT_OK;
}
