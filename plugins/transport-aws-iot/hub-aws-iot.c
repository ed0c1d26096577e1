/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-aws-iot.c - the "aws-iot" transport: AWS IoT (managed integrations)
 * dialect over the core's MQTT session service. Descriptor, configuration,
 * the transport ops, the permanent session and offboarding. Fleet
 * provisioning is in hub-aws-iot-provisioning.c.
 *
 * Topics of the permanent session (doc/cloud-contract.md):
 *   south/<client id>/control   the cloud's requests (DeleteManagedThing, ...)
 *   north/<client id>/lifecycle the hub's reports ({"event":"OFFBOARDED", ...})
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "hub-aws-iot.h"

/* How long offboarding waits for the cloud to acknowledge its report. */
#define OFFBOARD_WAIT_MS 10000

void aws_iot_log(AwsIot *aws, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	aws->host->vlog(aws->handle, level, fmt, ap);
	va_end(ap);
}

char *aws_iot_identity(AwsIot *aws, const char *key)
{
	char *value = aws->host->identity_get(aws->handle, key);
	char *copy = g_strdup(value);

	free(value);
	return copy;
}

gboolean aws_iot_update(AwsIot *aws, const struct hub_identity_update *update)
{
	char message[512] = "";
	int r = aws->host->identity_update(aws->handle, update, message, sizeof(message));

	if (r < 0)
		aws_iot_log(aws, HUB_LOG_ERR, "Cannot save the provisioning state: %s", message);
	return r >= 0;
}

void aws_iot_close_session(AwsIot *aws)
{
	if (aws->session)
		aws->host->mqtt_close(aws->handle, aws->session);
	aws->session = 0;
	aws->connected = FALSE;
}

/* ---- offboarding ---- */

static void offboard_finish(AwsIot *aws)
{
	if (aws->offboard_timer)
		aws->host->timer_remove(aws->handle, aws->offboard_timer);
	aws->offboard_timer = 0;
	aws->offboard_mid = -1;
	aws_iot_provisioning_reset(aws);
	aws->host->kv_set(aws->handle, AWS_IOT_KV_OWNERSHIP_TOKEN, NULL);
	aws_iot_close_session(aws);
	g_clear_pointer(&aws->client_id, g_free);
	g_clear_pointer(&aws->managed_thing_id, g_free);
	aws->phase = AWS_IOT_IDLE;
	aws->failures = 0;
	aws->host->offboard_done(aws->handle);
}

static int on_offboard_timeout(void *user_data)
{
	AwsIot *aws = user_data;

	aws->offboard_timer = 0;
	aws_iot_log(aws, HUB_LOG_WARNING,
		    "The cloud did not acknowledge the offboarding within %d ms; offboarding locally "
		    "(delete managed thing %s in the cloud with --force if it remains)",
		    OFFBOARD_WAIT_MS, aws->managed_thing_id ? aws->managed_thing_id : "(unknown)");
	offboard_finish(aws);
	return 0;
}

/* Reports OFFBOARDED; the PUBACK finishes the offboarding. */
static void offboard_report(AwsIot *aws)
{
	g_autofree char *topic = g_strdup_printf("north/%s/lifecycle", aws->client_id);
	g_autofree char *payload = NULL;
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autoptr(JsonGenerator) generator = json_generator_new();
	g_autoptr(JsonNode) root = NULL;

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "event");
	json_builder_add_string_value(builder, "OFFBOARDED");
	json_builder_set_member_name(builder, "managedThingId");
	json_builder_add_string_value(builder, aws->managed_thing_id ? aws->managed_thing_id : "");
	json_builder_end_object(builder);
	root = json_builder_get_root(builder);
	json_generator_set_root(generator, root);
	payload = json_generator_to_data(generator, NULL);
	aws->offboard_mid = aws->host->mqtt_publish(aws->handle, aws->session, topic, payload, strlen(payload), 1, 0);
	if (aws->offboard_mid < 0)
		aws_iot_log(aws, HUB_LOG_WARNING, "Cannot report the offboarding: %s", g_strerror(-aws->offboard_mid));
}

/* ---- the permanent session ---- */

/* The hub topics: commands and setup tasks down, everything else up
 * (doc/cloud-contract.md). The core validates, executes and answers. */
static void on_permanent_message(const char *topic, const void *payload, size_t len, void *user_data)
{
	AwsIot *aws = user_data;
	g_autofree char *control = g_strdup_printf("south/%s/control", aws->client_id);
	g_autofree char *setup = g_strdup_printf("south/%s/setup", aws->client_id);

	if (g_str_equal(topic, control))
		aws->host->downlink(aws->handle, HUB_DOWNLINK_COMMAND, payload, len);
	else if (g_str_equal(topic, setup))
		aws->host->downlink(aws->handle, HUB_DOWNLINK_SETUP, payload, len);
	else
		aws_iot_log(aws, HUB_LOG_WARNING, "Dropping a message on %s: not a topic of this hub", topic);
}

static void on_permanent_state(uint32_t state, const char *error, void *user_data)
{
	AwsIot *aws = user_data;
	g_autofree char *provisioning = NULL;

	aws->connected = state == HUB_MQTT_SESSION_CONNECTED;
	if (!aws->connected)
		return;
	if (aws->phase == AWS_IOT_OFFBOARDING) {
		offboard_report(aws);
		return;
	}
	provisioning = aws_iot_identity(aws, "state");
	if (g_strcmp0(provisioning, "PROVISIONED") != 0) {
		struct hub_identity_update update = {
			.struct_size = sizeof(update),
			.state = HUB_PROVISIONING_STATE_PROVISIONED,
			.step = "",
			.failure_reason = "",
		};

		aws_iot_update(aws, &update);
	}
	aws_iot_log(aws, HUB_LOG_INFO, "Connected as %s", aws->client_id);
	(void)error;
}

static void on_permanent_published(int32_t message_id, void *user_data)
{
	AwsIot *aws = user_data;

	if (aws->phase == AWS_IOT_OFFBOARDING && aws->offboard_mid >= 0 && message_id == aws->offboard_mid) {
		aws_iot_log(aws, HUB_LOG_INFO, "The cloud has the offboarding report");
		offboard_finish(aws);
	}
}

static const struct hub_mqtt_callbacks permanent_callbacks = {
	.struct_size = sizeof(struct hub_mqtt_callbacks),
	.state_changed = on_permanent_state,
	.message = on_permanent_message,
	.published = on_permanent_published,
};

static int on_reconnect(void *user_data)
{
	AwsIot *aws = user_data;

	aws->retry_timer = 0;
	if (!aws->session)
		aws_iot_connect_permanent(aws);
	return 0;
}

/* Uplink topics by kind (HUB_UPLINK_*), under north/<client id>/. */
static const char *const uplink_topics[HUB_UPLINK_N_KINDS] = {
	[HUB_UPLINK_COMMAND_ACK] = "control/ack",
	[HUB_UPLINK_COMMAND_RESPONSE] = "control/response",
	[HUB_UPLINK_SETUP_RESPONSE] = "setup/response",
	[HUB_UPLINK_STATE] = "state",
	[HUB_UPLINK_EVENT] = "event",
	[HUB_UPLINK_LIFECYCLE] = "lifecycle",
	[HUB_UPLINK_CAPABILITIES] = "capabilities",
};
static const char *const downlink_topics[] = { "control", "setup" };

void aws_iot_connect_permanent(AwsIot *aws)
{
	struct hub_mqtt_params params = { .struct_size = sizeof(params), .cert_role = HUB_CERT_ROLE_PERMANENT };
	char *uplink[HUB_UPLINK_N_KINDS] = { NULL };
	struct hub_uplink_params uplink_params = {
		.struct_size = sizeof(uplink_params),
		.n_topics = HUB_UPLINK_N_KINDS,
		.topics = (const char *const *)uplink,
	};
	char message[512] = "";
	int64_t id;
	int r;

	g_free(aws->client_id);
	aws->client_id = aws_iot_identity(aws, "client_id");
	g_free(aws->managed_thing_id);
	aws->managed_thing_id = aws_iot_identity(aws, "managed_thing_id");
	if (!aws->client_id) {
		aws_iot_log(aws, HUB_LOG_ERR, "The identity has no client_id to connect with");
		return;
	}
	if (aws->phase != AWS_IOT_OFFBOARDING)
		aws->phase = AWS_IOT_CONNECTING;
	params.client_id = aws->client_id;
	id = aws->host->mqtt_open(aws->handle, &params, &permanent_callbacks, aws, message, sizeof(message));
	if (id < 0) {
		g_autofree char *reason = g_strdup_printf("cannot connect with the permanent identity: %s", message);

		/* The store may come back (a TPM, a token): try again, never give up. */
		aws_iot_retry_later(aws, reason, on_reconnect);
		return;
	}
	aws->failures = 0;
	aws->session = id;
	for (guint i = 0; i < G_N_ELEMENTS(downlink_topics); i++) {
		g_autofree char *topic = g_strdup_printf("south/%s/%s", aws->client_id, downlink_topics[i]);

		aws->host->mqtt_subscribe(aws->handle, id, topic, 1);
	}
	for (guint i = 0; i < HUB_UPLINK_N_KINDS; i++)
		uplink[i] = g_strdup_printf("north/%s/%s", aws->client_id, uplink_topics[i]);
	r = aws->host->uplink_attach(aws->handle, id, &uplink_params);
	if (r < 0)
		aws_iot_log(aws, HUB_LOG_WARNING, "Nothing will be reported to the cloud: %s", g_strerror(-r));
	for (guint i = 0; i < HUB_UPLINK_N_KINDS; i++)
		g_free(uplink[i]);
}

/* ---- transport ops ---- */

static int aws_start(void *user_data)
{
	AwsIot *aws = user_data;
	g_autofree char *state = aws_iot_identity(aws, "state");
	g_autofree char *serial = aws_iot_identity(aws, "serial_number");

	if (!serial) {
		aws_iot_log(aws, HUB_LOG_ERR, "aws-iot needs the hub's identity file: set [cloud] identity= in hubd.conf");
		return -ENOENT;
	}
	if (aws->phase == AWS_IOT_OFFBOARDING) {
		/* The core finished the offboarding without us (its own bound)
		 * and closed our sessions: begin afresh. */
		if (aws->offboard_timer)
			aws->host->timer_remove(aws->handle, aws->offboard_timer);
		aws->offboard_timer = 0;
		aws_iot_provisioning_reset(aws);
		aws->session = 0;
		aws->connected = FALSE;
		aws->phase = AWS_IOT_IDLE;
	}
	if (aws->session)
		return 0;
	if (g_strcmp0(state, "PROVISIONED") == 0)
		aws_iot_connect_permanent(aws);
	else
		aws_iot_provisioning_begin(aws);
	return 0;
}

static int aws_provision(void *user_data, char *message, size_t message_size)
{
	AwsIot *aws = user_data;
	g_autofree char *state = aws_iot_identity(aws, "state");

	if (g_strcmp0(state, "PROVISIONED") == 0) {
		g_strlcpy(message, "the hub is already provisioned", message_size);
		return -EALREADY;
	}
	if (aws->phase == AWS_IOT_OFFBOARDING) {
		g_strlcpy(message, "the hub is being offboarded", message_size);
		return -EBUSY;
	}
	if (aws->session && !aws->connected) {
		/* A new session reads the credentials again (an operator may
		 * have replaced a claim certificate the broker refused). */
		aws_iot_provisioning_reset(aws);
		aws_iot_close_session(aws);
		aws->phase = AWS_IOT_IDLE;
	}
	aws->failures = 0;
	if (!aws->session) {
		/* Nothing open (a store that failed, or idle): from the step reached. */
		aws_iot_provisioning_reset(aws);
		aws_iot_provisioning_begin(aws);
		return 0;
	}
	aws_iot_provisioning_retry_now(aws);
	return 0;
}

static int aws_offboard(void *user_data, uint32_t flags)
{
	AwsIot *aws = user_data;
	g_autofree char *client_id = aws_iot_identity(aws, "client_id");
	gboolean permanent = aws->session && aws->phase == AWS_IOT_CONNECTING;

	aws_iot_provisioning_reset(aws);
	aws->offboard_mid = -1;
	if (!client_id) {
		/* Never registered: the cloud has nothing to forget. */
		aws->phase = AWS_IOT_OFFBOARDING;
		offboard_finish(aws);
		return 0;
	}
	aws_iot_log(aws, HUB_LOG_INFO, "Reporting the offboarding to the cloud%s",
		    flags & HUB_OFFBOARD_FROM_CLOUD ? " (its request)" : "");
	if (!permanent) {
		/* The claim session, or none: reconnect with the permanent identity to report. */
		aws_iot_close_session(aws);
		aws->phase = AWS_IOT_OFFBOARDING;
		aws_iot_connect_permanent(aws);
	} else {
		aws->phase = AWS_IOT_OFFBOARDING;
		if (aws->connected)
			offboard_report(aws);
	}
	aws->offboard_timer = aws->host->timer_add(aws->handle, OFFBOARD_WAIT_MS, on_offboard_timeout, aws);
	return 0;
}

static const struct hub_transport_ops aws_ops = {
	.struct_size = sizeof(struct hub_transport_ops),
	.start = aws_start,
	.provision = aws_provision,
	.offboard = aws_offboard,
};

/* ---- configuration, init / exit ---- */

static int config_number(AwsIot *aws, const char *key, guint min, guint max, guint *out)
{
	const char *text = aws->host->config_get(aws->handle, key);
	guint64 value;

	if (!text)
		return 0;
	if (!g_ascii_string_to_unsigned(text, 10, min, max, &value, NULL)) {
		aws_iot_log(aws, HUB_LOG_ERR, "[plugin.aws-iot] %s must be %u-%u, not \"%s\"", key, min, max, text);
		return -EINVAL;
	}
	*out = (guint)value;
	return 0;
}

static int load_config(AwsIot *aws)
{
	const char *method = aws->host->config_get(aws->handle, "certificate-method");

	aws->response_timeout_ms = 30000;
	aws->retry_base_ms = 2000;
	aws->retry_cap_ms = 300000;
	if (method && g_str_equal(method, "create-keys"))
		aws->create_keys = TRUE;
	else if (method && !g_str_equal(method, "csr")) {
		aws_iot_log(aws, HUB_LOG_ERR,
			    "[plugin.aws-iot] certificate-method must be csr (CreateCertificateFromCsr, the key stays "
			    "in the store) or create-keys (CreateKeysAndCertificate), not \"%s\"",
			    method);
		return -EINVAL;
	}
	if (config_number(aws, "response-timeout-ms", 100, 600000, &aws->response_timeout_ms) < 0 ||
	    config_number(aws, "retry-base-ms", 1, 600000, &aws->retry_base_ms) < 0 ||
	    config_number(aws, "retry-cap-ms", 1, 3600000, &aws->retry_cap_ms) < 0)
		return -EINVAL;
	if (aws->retry_cap_ms < aws->retry_base_ms) {
		aws_iot_log(aws, HUB_LOG_ERR, "[plugin.aws-iot] retry-cap-ms must not be less than retry-base-ms");
		return -EINVAL;
	}
	return 0;
}

static void aws_exit(void *user_data)
{
	AwsIot *aws = user_data;

	aws_iot_provisioning_reset(aws);
	if (aws->offboard_timer)
		aws->host->timer_remove(aws->handle, aws->offboard_timer);
	aws_iot_close_session(aws);
	g_free(aws->client_id);
	g_free(aws->managed_thing_id);
	g_free(aws);
}

static int aws_init(const struct hub_host *host, struct hub_plugin *plugin, void **user_data)
{
	AwsIot *aws;

	/* Every host call we make must be in the table the host built. */
	if (!host || !user_data || !HUB_STRUCT_HAS(host, host->struct_size, downlink))
		return -EPROTO;
	aws = g_new0(AwsIot, 1);
	aws->host = host;
	aws->handle = plugin;
	aws->offboard_mid = -1;
	if (load_config(aws) < 0) {
		g_free(aws);
		return -EINVAL;
	}
	if (aws->create_keys)
		aws_iot_log(aws, HUB_LOG_NOTICE,
			    "certificate-method=create-keys: the cloud generates the permanent key and sends it to the hub");
	*user_data = aws;
	return 0;
}

static const struct hub_plugin_descriptor aws_descriptor = {
	.abi_major = HUB_PLUGIN_ABI_MAJOR,
	.abi_minor = HUB_PLUGIN_ABI_MINOR,
	.struct_size = sizeof(struct hub_plugin_descriptor),
	.kind = HUB_PLUGIN_KIND_TRANSPORT,
	.name = "aws-iot",
	.version = AWS_IOT_VERSION,
	.init = aws_init,
	.exit = aws_exit,
	.ops = &aws_ops,
	.flags = HUB_PLUGIN_FLAG_IN_TREE,
};

static const struct hub_plugin_descriptor *const descriptors[] = { &aws_descriptor, NULL };

HUB_PLUGIN_EXPORT const struct hub_plugin_descriptor *const *hub_plugin_query(void)
{
	return descriptors;
}
