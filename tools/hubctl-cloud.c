/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hubctl-cloud.c - the hub and its cloud: the cloud part of status,
 * provision, offboard.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>

#include "hubctl.h"

JsonNode *
hubctl_cloud_status(HubctlContext *ctx, sd_bus_error *error)
{
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GError) parse_error = NULL;
	const char *text;
	JsonNode *node;
	int r;

	r = hubctl_call(ctx->bus, HUBCTL_ROOT_PATH, HUBCTL_MANAGER_IFACE, "GetCloudStatus", 0, error, &reply, NULL);
	if (r < 0 || !g_variant_is_of_type(reply, G_VARIANT_TYPE("(s)")))
		return NULL;
	g_variant_get(reply, "(&s)", &text);
	node = hubctl_parse_json(text, &parse_error);
	if (!node || !JSON_NODE_HOLDS_OBJECT(node)) {
		g_clear_pointer(&node, json_node_unref);
		sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "the daemon's cloud status is not a JSON object");
	}
	return node;
}

static const char *
member(JsonObject *object, const char *name)
{
	return json_object_get_string_member_with_default(object, name, NULL);
}

void
hubctl_cloud_print(JsonObject *cloud)
{
	JsonObject *connection = json_object_get_object_member(cloud, "connection");
	const char *state, *failure, *client_id, *thing, *step;
	JsonNode *outbox;

	if (!json_object_get_boolean_member_with_default(cloud, "configured", FALSE)) {
		printf("Cloud:        none configured\n");
		return;
	}
	printf("Cloud:        %s, %s\n", member(cloud, "transport"),
	       member(cloud, "endpoint") ? member(cloud, "endpoint") : "(no endpoint)");
	state = member(cloud, "provisioningState");
	step = member(cloud, "step");
	client_id = member(cloud, "clientId");
	thing = member(cloud, "managedThingId");
	printf("Provisioning: %s", state ? state : "unknown");
	if (step)
		printf(" (step %s)", step);
	printf("\n");
	if (client_id)
		printf("Client id:    %s\n", client_id);
	if (thing)
		printf("Managed thing: %s\n", thing);
	failure = member(cloud, "failureReason");
	if (failure)
		printf("Last failure: %s\n", failure);
	if (connection) {
		const char *identity = member(connection, "identity");
		const char *error = member(connection, "lastError");
		gint64 next_ms = json_object_get_int_member_with_default(connection, "nextAttemptMs", 0);

		printf("Connection:   %s", member(connection, "state"));
		if (identity)
			printf(" (%s identity, attempt %" G_GINT64_FORMAT ")", identity,
			       json_object_get_int_member_with_default(connection, "attempts", 0));
		printf("\n");
		if (error)
			printf("  Last error: %s\n", error);
		if (next_ms > 0) {
			gint64 in_ms = next_ms - g_get_real_time() / 1000;

			printf("  Next attempt in %.1f s\n", MAX(in_ms, 0) / 1000.0);
		}
	}
	outbox = json_object_get_member(cloud, "outbox");
	if (outbox && JSON_NODE_HOLDS_OBJECT(outbox)) {
		JsonObject *o = json_node_get_object(outbox);
		g_autofree char *bytes = g_format_size((guint64)json_object_get_int_member_with_default(o, "bytes", 0));
		g_autofree char *max = g_format_size((guint64)json_object_get_int_member_with_default(o, "maxBytes", 0));

		printf("Outbox:       %" G_GINT64_FORMAT " message(s), %s of %s, %" G_GINT64_FORMAT
		       " in flight, oldest %.1f s\n",
		       json_object_get_int_member_with_default(o, "records", 0), bytes, max,
		       json_object_get_int_member_with_default(o, "inFlight", 0),
		       json_object_get_int_member_with_default(o, "oldestAgeMs", 0) / 1000.0);
		printf("  Sent %" G_GINT64_FORMAT ", resent %" G_GINT64_FORMAT ", dropped %" G_GINT64_FORMAT
		       " expired, %" G_GINT64_FORMAT " over the quota, %" G_GINT64_FORMAT " unsendable\n",
		       json_object_get_int_member_with_default(o, "acknowledged", 0),
		       json_object_get_int_member_with_default(o, "resent", 0),
		       json_object_get_int_member_with_default(o, "droppedExpired", 0),
		       json_object_get_int_member_with_default(o, "droppedOverflow", 0),
		       json_object_get_int_member_with_default(o, "droppedUnsendable", 0));
	}
}

/* Prints @done, or with --json the cloud status after the call. */
static int
report(HubctlContext *ctx, const char *done)
{
	_cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
	g_autoptr(JsonNode) status = NULL;

	if (!ctx->json) {
		printf("%s\n", done);
		fflush(stdout);
		return HUBCTL_EXIT_OK;
	}
	status = hubctl_cloud_status(ctx, &error);
	if (!status)
		return hubctl_fail(ctx->command, &error, -EIO);
	hubctl_print_json(status, TRUE);
	return HUBCTL_EXIT_OK;
}

int
hubctl_cmd_provision(HubctlContext *ctx)
{
	_cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
	int r;

	r = hubctl_call(ctx->bus, HUBCTL_ROOT_PATH, HUBCTL_MANAGER_IFACE, "Provision", HUBCTL_WAIT_TIMEOUT_USEC,
			&error, NULL, NULL);
	if (r < 0)
		return hubctl_fail("provision", &error, r);
	return report(ctx, "Provisioning started; 'hubctl status' shows how it goes");
}

int
hubctl_cmd_offboard(HubctlContext *ctx)
{
	_cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
	int r;

	r = hubctl_call(ctx->bus, HUBCTL_ROOT_PATH, HUBCTL_MANAGER_IFACE, "Offboard", HUBCTL_WAIT_TIMEOUT_USEC,
			&error, NULL, "b", (int)ctx->force);
	if (r < 0)
		return hubctl_fail("offboard", &error, r);
	return report(ctx, "Offboarded: the permanent identity and the devices are erased, the claim credential is kept");
}
