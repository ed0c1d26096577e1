/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hubctl-discover.c - "hubctl discover": opens a discovery window, shows
 * each device as it is found (with a live status line on a terminal) and a
 * summary; "hubctl discover --list" lists what the last window found.
 */
#include "config.h"

#include <stdio.h>
#include <glib-unix.h>

#include "hubctl.h"

typedef struct {
	HubctlContext *ctx;
	GMainLoop *loop;
	GSource *bus_source;
	gint64 window_end;      /* monotonic, usec */
	guint window_timeout;   /* source id, 0 once it ran */
	guint found;            /* DeviceDiscovered signals seen */
	gboolean finished;      /* DiscoveryFinished seen */
	guint finished_found;   /* its count */
	gboolean interrupted;
	gboolean status_shown;
	gint64 shown_left;      /* what the status line says now */
	guint shown_found;
	int exit_status;
} Discover;

static gboolean
live_status(Discover *d)
{
	return d->ctx->tty && !d->ctx->json;
}

static void
clear_status(Discover *d)
{
	if (!d->status_shown)
		return;
	fputs("\r\033[K", stdout);
	d->status_shown = FALSE;
}

static void
draw_status(Discover *d)
{
	gint64 left_usec = d->window_end - g_get_monotonic_time();
	gint64 left = left_usec > 0 ? (left_usec + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC : 0;

	if (!live_status(d) || (d->status_shown && d->shown_left == left && d->shown_found == d->found))
		return;
	d->shown_left = left;
	d->shown_found = d->found;
	printf("\r\033[KDiscovering%s %" G_GINT64_FORMAT " s left, %u found",
	       d->ctx->utf8 ? "\u2026" : "...", left, d->found);
	fflush(stdout);
	d->status_shown = TRUE;
}

static gboolean
on_tick(gpointer userdata)
{
	draw_status(userdata);
	return G_SOURCE_CONTINUE;
}

static void
print_found(Discover *d, const char *discovered_id, const char *protocol, const char *name, const char *types)
{
	if (d->ctx->json) {
		g_autoptr(JsonBuilder) builder = json_builder_new();
		g_autoptr(JsonNode) root = NULL;

		json_builder_begin_object(builder);
		json_builder_set_member_name(builder, "discoveredId");
		json_builder_add_string_value(builder, discovered_id);
		json_builder_set_member_name(builder, "protocol");
		json_builder_add_string_value(builder, protocol);
		json_builder_set_member_name(builder, "name");
		json_builder_add_string_value(builder, name);
		json_builder_set_member_name(builder, "deviceTypes");
		json_builder_add_string_value(builder, types);
		json_builder_end_object(builder);
		root = json_builder_get_root(builder);
		hubctl_print_json(root, FALSE);
		return;
	}
	clear_status(d);
	printf("Found %s %s \"%s\"", protocol, discovered_id, name);
	if (types[0])
		printf(" (%s)", types);
	fputc('\n', stdout);
	fflush(stdout);
	draw_status(d);
}

static int
on_manager_signal(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	Discover *d = userdata;
	const char *member = sd_bus_message_get_member(m);

	if (member && g_str_equal(member, "DeviceDiscovered")) {
		const char *discovered_id, *protocol, *name, *types;

		if (sd_bus_message_read(m, "ssss", &discovered_id, &protocol, &name, &types) < 0)
			return 0;
		d->found++;
		print_found(d, discovered_id, protocol, name, types);
	} else if (member && g_str_equal(member, "DiscoveryFinished")) {
		uint32_t found;

		if (sd_bus_message_read(m, "u", &found) < 0)
			return 0;
		d->finished = TRUE;
		d->finished_found = found;
		g_main_loop_quit(d->loop);
	}
	return 0;
}

static gboolean
on_window_over(gpointer userdata)
{
	Discover *d = userdata;

	d->window_timeout = 0;
	g_main_loop_quit(d->loop);
	return G_SOURCE_REMOVE;
}

static gboolean
on_interrupt(gpointer userdata)
{
	Discover *d = userdata;
	_cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
	int r;

	d->interrupted = TRUE;
	clear_status(d);
	r = hubctl_call(d->ctx->bus, HUBCTL_ROOT_PATH, HUBCTL_MANAGER_IFACE, "StopDiscovery", 0, &error, NULL, NULL);
	if (r < 0) {
		hubctl_fail("discover: StopDiscovery", &error, r);
		d->exit_status = HUBCTL_EXIT_FAILURE;
	}
	g_main_loop_quit(d->loop);
	return G_SOURCE_CONTINUE;
}

static gboolean
on_bus_lost(gpointer userdata)
{
	Discover *d = userdata;

	clear_status(d);
	fprintf(stderr, "hubctl: discover: lost the connection to the bus: %s\n",
		g_strerror(-hubctl_bus_source_get_error(d->bus_source)));
	d->exit_status = HUBCTL_EXIT_FAILURE;
	g_main_loop_quit(d->loop);
	return G_SOURCE_REMOVE;
}

static void
print_summary(Discover *d)
{
	guint found = d->finished ? d->finished_found : d->found;
	const char *how = d->interrupted ? "stopped" : d->finished ? "finished" : "window closed";

	if (d->ctx->json) {
		g_autoptr(JsonBuilder) builder = json_builder_new();
		g_autoptr(JsonNode) root = NULL;

		json_builder_begin_object(builder);
		json_builder_set_member_name(builder, "summary");
		json_builder_add_boolean_value(builder, TRUE);
		json_builder_set_member_name(builder, "found");
		json_builder_add_int_value(builder, found);
		json_builder_set_member_name(builder, "finished");
		json_builder_add_boolean_value(builder, d->finished);
		json_builder_set_member_name(builder, "interrupted");
		json_builder_add_boolean_value(builder, d->interrupted);
		json_builder_end_object(builder);
		root = json_builder_get_root(builder);
		hubctl_print_json(root, FALSE);
		return;
	}
	clear_status(d);
	printf("Discovery %s: %u device%s found.\n", how, found, found == 1 ? "" : "s");
	if (!d->finished && !d->interrupted)
		printf("(hubd sent no DiscoveryFinished signal within %u s.)\n", d->ctx->seconds + 2);
	if (found > 0)
		printf("Onboard one with: hubctl onboard PROTOCOL ID [AUTH]\n");
	fflush(stdout);
}

static int
discover_list(HubctlContext *ctx)
{
	static const char *const header[] = { "ID", "PROTOCOL", "NAME", "DEVICE TYPES" };
	_cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) devices = NULL;
	g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
	g_autoptr(JsonBuilder) builder = json_builder_new();
	const char *discovered_id, *protocol, *name, *types;
	GVariantIter iter;
	int r;

	r = hubctl_call(ctx->bus, HUBCTL_ROOT_PATH, HUBCTL_MANAGER_IFACE, "GetDiscoveredDevices", 0,
			&error, &reply, NULL);
	if (r < 0)
		return hubctl_fail("discover --list", &error, r);
	if (!g_variant_is_of_type(reply, G_VARIANT_TYPE("(a(ssss))"))) {
		fprintf(stderr, "hubctl: discover --list: unexpected reply of type %s\n",
			g_variant_get_type_string(reply));
		return HUBCTL_EXIT_FAILURE;
	}
	devices = g_variant_get_child_value(reply, 0);
	json_builder_begin_array(builder);
	g_variant_iter_init(&iter, devices);
	while (g_variant_iter_next(&iter, "(&s&s&s&s)", &discovered_id, &protocol, &name, &types)) {
		char **row = g_new0(char *, 5);

		row[0] = g_strdup(discovered_id);
		row[1] = g_strdup(protocol);
		row[2] = g_strdup(name);
		row[3] = g_strdup(types);
		g_ptr_array_add(rows, row);

		json_builder_begin_object(builder);
		json_builder_set_member_name(builder, "discoveredId");
		json_builder_add_string_value(builder, discovered_id);
		json_builder_set_member_name(builder, "protocol");
		json_builder_add_string_value(builder, protocol);
		json_builder_set_member_name(builder, "name");
		json_builder_add_string_value(builder, name);
		json_builder_set_member_name(builder, "deviceTypes");
		json_builder_add_string_value(builder, types);
		json_builder_end_object(builder);
	}
	json_builder_end_array(builder);
	if (ctx->json) {
		g_autoptr(JsonNode) root = json_builder_get_root(builder);

		hubctl_print_json(root, TRUE);
		return HUBCTL_EXIT_OK;
	}
	hubctl_print_table(rows, 4, ctx->tty ? header : NULL);
	return HUBCTL_EXIT_OK;
}

int
hubctl_cmd_discover(HubctlContext *ctx)
{
	static const char rule[] =
		"type='signal',sender='" HUBCTL_SERVICE "',interface='" HUBCTL_MANAGER_IFACE "',"
		"path='" HUBCTL_ROOT_PATH "'";
	_cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
	_cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
	g_autoptr(GMainLoop) loop = NULL;
	Discover d = { .ctx = ctx };
	guint sigint, sigterm, tick = 0;
	int r;

	if (ctx->list)
		return discover_list(ctx);

	loop = g_main_loop_new(NULL, FALSE);
	d.loop = loop;
	/* Subscribe first: the first device may be found at once. */
	r = sd_bus_add_match(ctx->bus, &slot, rule, on_manager_signal, &d);
	if (r < 0)
		return hubctl_fail("discover: subscribing to signals", NULL, r);
	r = hubctl_call(ctx->bus, HUBCTL_ROOT_PATH, HUBCTL_MANAGER_IFACE, "StartDiscovery", 0, &error, NULL,
			"u", (uint32_t)ctx->seconds);
	if (r < 0)
		return hubctl_fail("discover", &error, r);

	d.window_end = g_get_monotonic_time() + (gint64)ctx->seconds * G_USEC_PER_SEC;
	if (live_status(&d)) {
		draw_status(&d);
		tick = g_timeout_add(250, on_tick, &d);
	} else if (!ctx->json) {
		printf("Discovering for %u s...\n", ctx->seconds);
		fflush(stdout);
	}

	d.bus_source = hubctl_bus_source_new(ctx->bus);
	g_source_set_callback(d.bus_source, on_bus_lost, &d, NULL);
	g_source_attach(d.bus_source, NULL);
	sigint = g_unix_signal_add(SIGINT, on_interrupt, &d);
	sigterm = g_unix_signal_add(SIGTERM, on_interrupt, &d);
	d.window_timeout = g_timeout_add((ctx->seconds + 2) * 1000, on_window_over, &d);

	g_main_loop_run(loop);

	g_source_remove(sigint);
	g_source_remove(sigterm);
	if (tick)
		g_source_remove(tick);
	if (!g_source_is_destroyed(d.bus_source))
		g_source_destroy(d.bus_source);
	g_source_unref(d.bus_source);
	if (d.window_timeout)
		g_source_remove(d.window_timeout);
	if (d.exit_status == HUBCTL_EXIT_OK)
		print_summary(&d);
	else
		clear_status(&d);
	return d.exit_status;
}
