/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-aws-iot-provisioning.c - AWS IoT fleet provisioning by claim over the
 * core's MQTT session service:
 *   1. connect with the claim identity (client id = the hub's SN);
 *   2. CreateCertificateFromCsr with a CSR from a key generated in the
 *      permanent role's store (default), or CreateKeysAndCertificate and
 *      import the key when certificate-method=create-keys;
 *   3. RegisterThing with the template and the SN, UPC or EAN parameters;
 *   4. disconnect, connect with the permanent identity (hub-aws-iot.c).
 * Each answer is checked field by field before anything is stored; a
 * rejected, malformed or missing answer is a failure with a reason that
 * goes to the identity (hubctl status) and the log, and the step is
 * retried after a full-jitter delay, forever.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hub-aws-iot.h"

#define TOPIC_CSR "$aws/certificates/create-from-csr/json"
#define TOPIC_KEYS "$aws/certificates/create/json"
#define API_CSR "CreateCertificateFromCsr"
#define API_KEYS "CreateKeysAndCertificate"
#define API_REGISTER "RegisterThing"

static void send_current_request(AwsIot *aws);

static char *register_topic(AwsIot *aws)
{
	g_autofree char *template_name = aws_iot_identity(aws, "template_name");

	return g_strdup_printf("$aws/provisioning-templates/%s/provision/json", template_name);
}

static int on_retry(void *user_data)
{
	AwsIot *aws = user_data;

	aws->retry_timer = 0;
	if (aws->phase == AWS_IOT_PROVISIONING && aws->connected)
		send_current_request(aws);
	else if (aws->phase == AWS_IOT_IDLE && !aws->session)
		/* The claim session could not even be opened (no claim credential yet). */
		aws_iot_provisioning_begin(aws);
	/* Otherwise the session sends it once it is connected. */
	return 0;
}

/* Full jitter: uniform in [0, min(retry-cap-ms, retry-base-ms * 2^(failures - 1))]. */
static guint retry_delay_ms(AwsIot *aws)
{
	guint64 ceiling = aws->retry_base_ms;

	for (guint i = 1; i < aws->failures && ceiling < aws->retry_cap_ms; i++)
		ceiling *= 2;
	ceiling = MIN(ceiling, aws->retry_cap_ms);
	return (guint)g_random_int_range(0, (gint32)ceiling + 1);
}

void aws_iot_retry_later(AwsIot *aws, const char *reason, int (*retry)(void *user_data))
{
	struct hub_identity_update update = { .struct_size = sizeof(update), .state = -1, .failure_reason = reason };
	guint delay;

	aws->failures++;
	delay = retry_delay_ms(aws);
	aws_iot_log(aws, HUB_LOG_WARNING, "%s; retrying in %u ms", reason, delay);
	aws_iot_update(aws, &update);
	if (aws->retry_timer)
		aws->host->timer_remove(aws->handle, aws->retry_timer);
	aws->retry_timer = aws->host->timer_add(aws->handle, MAX(delay, 1), retry, aws);
}

/* A provisioning step failed: forget what was awaited, say why, try again later. */
static void fail(AwsIot *aws, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void fail(AwsIot *aws, const char *fmt, ...)
{
	g_autofree char *reason = NULL;
	va_list ap;

	va_start(ap, fmt);
	reason = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (aws->response_timer)
		aws->host->timer_remove(aws->handle, aws->response_timer);
	aws->response_timer = 0;
	g_clear_pointer(&aws->pending_api, g_free);
	aws_iot_retry_later(aws, reason, on_retry);
}

static int on_response_timeout(void *user_data)
{
	AwsIot *aws = user_data;
	g_autofree char *api = g_strdup(aws->pending_api);

	aws->response_timer = 0;
	fail(aws, "no answer to %s within %u ms", api ? api : "the request", aws->response_timeout_ms);
	return 0;
}

static void publish_request(AwsIot *aws, const char *api, const char *topic, JsonBuilder *builder)
{
	g_autoptr(JsonGenerator) generator = json_generator_new();
	g_autoptr(JsonNode) root = json_builder_get_root(builder);
	g_autofree char *payload = NULL;
	int32_t mid;

	json_generator_set_root(generator, root);
	payload = json_generator_to_data(generator, NULL);
	mid = aws->host->mqtt_publish(aws->handle, aws->session, topic, payload, strlen(payload), 1, 0);
	if (mid < 0) {
		fail(aws, "cannot send %s: %s", api, g_strerror(-mid));
		return;
	}
	aws_iot_log(aws, HUB_LOG_INFO, "Sent %s", api);
	g_free(aws->pending_api);
	aws->pending_api = g_strdup(api);
	if (aws->response_timer)
		aws->host->timer_remove(aws->handle, aws->response_timer);
	aws->response_timer = aws->host->timer_add(aws->handle, aws->response_timeout_ms, on_response_timeout, aws);
}

static void request_certificate(AwsIot *aws)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();
	char message[512] = "";
	char *csr;

	json_builder_begin_object(builder);
	if (aws->create_keys) {
		json_builder_end_object(builder);
		publish_request(aws, API_KEYS, TOPIC_KEYS, builder);
		return;
	}
	/* The key is made in (or reused from) the permanent role's store and never leaves it. */
	csr = aws->host->cert_create_csr(aws->handle, HUB_CERT_ROLE_PERMANENT, 0, message, sizeof(message));
	if (!csr) {
		fail(aws, "cannot make the CSR: %s", message);
		return;
	}
	json_builder_set_member_name(builder, "certificateSigningRequest");
	json_builder_add_string_value(builder, csr);
	json_builder_end_object(builder);
	free(csr);
	publish_request(aws, API_CSR, TOPIC_CSR, builder);
}

static void request_registration(AwsIot *aws, const char *token)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autofree char *topic = register_topic(aws);
	g_autofree char *serial = aws_iot_identity(aws, "serial_number");
	g_autofree char *upc = aws_iot_identity(aws, "upc");
	g_autofree char *ean = aws_iot_identity(aws, "ean");

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "certificateOwnershipToken");
	json_builder_add_string_value(builder, token);
	json_builder_set_member_name(builder, "parameters");
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "SerialNumber");
	json_builder_add_string_value(builder, serial);
	json_builder_set_member_name(builder, upc ? "UPC" : "EAN");
	json_builder_add_string_value(builder, upc ? upc : ean);
	json_builder_end_object(builder);
	json_builder_end_object(builder);
	publish_request(aws, API_REGISTER, topic, builder);
}

static void send_current_request(AwsIot *aws)
{
	g_autofree char *step = aws_iot_identity(aws, "step");
	char *token = NULL;

	if (g_strcmp0(step, AWS_IOT_STEP_CERTIFICATE_ISSUED) == 0)
		token = aws->host->kv_get(aws->handle, AWS_IOT_KV_OWNERSHIP_TOKEN);
	if (token) {
		request_registration(aws, token);
		explicit_bzero(token, strlen(token));
		free(token);
	} else {
		request_certificate(aws);
	}
}

/* ---- answers ---- */

/* A required string member, or NULL with a failure naming it. */
static const char *required_string(AwsIot *aws, const char *api, JsonObject *object, const char *member)
{
	JsonNode *node = json_object_get_member(object, member);

	if (!node) {
		fail(aws, "the %s answer has no %s", api, member);
		return NULL;
	}
	if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING ||
	    !*json_node_get_string(node)) {
		fail(aws, "the %s answer's %s is not a non-empty string", api, member);
		return NULL;
	}
	return json_node_get_string(node);
}

/* AWS thing names: [a-zA-Z0-9:_-]{1,128}; also what goes into our topics. */
static gboolean thing_name_ok(const char *name)
{
	gsize len = strlen(name);

	if (len == 0 || len > 128)
		return FALSE;
	for (gsize i = 0; i < len; i++)
		if (!g_ascii_isalnum(name[i]) && !strchr(":_-", name[i]))
			return FALSE;
	return TRUE;
}

static void handle_certificate(AwsIot *aws, const char *api, JsonObject *answer)
{
	struct hub_identity_update update = {
		.struct_size = sizeof(update),
		.state = -1,
		.step = AWS_IOT_STEP_CERTIFICATE_ISSUED,
		.failure_reason = "",
	};
	const char *id, *pem, *token, *key = NULL;
	char message[512] = "";
	int r;

	if (!(id = required_string(aws, api, answer, "certificateId")) ||
	    !(pem = required_string(aws, api, answer, "certificatePem")) ||
	    !(token = required_string(aws, api, answer, "certificateOwnershipToken")))
		return;
	if (aws->create_keys) {
		key = required_string(aws, api, answer, "privateKey");
		if (!key)
			return;
		r = aws->host->cert_import(aws->handle, HUB_CERT_ROLE_PERMANENT, pem, key, message, sizeof(message));
		/* Our parsed copy goes at once; the MQTT and JSON buffers it came
		 * through are freed (not wiped) with the message. The CSR route
		 * avoids all of this. */
		explicit_bzero((char *)key, strlen(key));
	} else {
		r = aws->host->cert_store(aws->handle, HUB_CERT_ROLE_PERMANENT, pem, message, sizeof(message));
	}
	if (r < 0) {
		fail(aws, "the certificate from %s was refused: %s", api, message);
		return;
	}
	r = aws->host->kv_set(aws->handle, AWS_IOT_KV_OWNERSHIP_TOKEN, token);
	if (r < 0) {
		fail(aws, "cannot keep the certificate ownership token: %s", g_strerror(-r));
		return;
	}
	update.certificate_id = id;
	if (!aws_iot_update(aws, &update)) {
		fail(aws, "cannot save the provisioning step");
		return;
	}
	aws->failures = 0;
	aws_iot_log(aws, HUB_LOG_INFO, "%s: certificate %s stored for the permanent identity", api, id);
	request_registration(aws, token);
}

static void handle_registration(AwsIot *aws, JsonObject *answer)
{
	struct hub_identity_update update = {
		.struct_size = sizeof(update),
		.state = -1,
		.step = AWS_IOT_STEP_THING_REGISTERED,
		.failure_reason = "",
	};
	JsonNode *config_node = json_object_get_member(answer, "deviceConfiguration");
	JsonObject *config;
	const char *thing, *managed;

	thing = required_string(aws, API_REGISTER, answer, "thingName");
	if (!thing)
		return;
	if (!thing_name_ok(thing)) {
		fail(aws, "the RegisterThing answer's thingName is not a valid thing name ([A-Za-z0-9:_-], 1-128)");
		return;
	}
	if (!config_node || !JSON_NODE_HOLDS_OBJECT(config_node)) {
		fail(aws, "the RegisterThing answer has no deviceConfiguration object");
		return;
	}
	config = json_node_get_object(config_node);
	managed = required_string(aws, API_REGISTER, config, "managedThingId");
	if (!managed)
		return;
	update.client_id = thing;
	update.managed_thing_id = managed;
	if (!aws_iot_update(aws, &update)) {
		fail(aws, "cannot save the registered thing");
		return;
	}
	aws->host->kv_set(aws->handle, AWS_IOT_KV_OWNERSHIP_TOKEN, NULL);
	aws_iot_log(aws, HUB_LOG_INFO, "RegisterThing: thing %s, managed thing %s; reconnecting with the permanent identity",
		    thing, managed);
	aws_iot_provisioning_reset(aws);
	aws->failures = 0;
	aws_iot_close_session(aws);
	aws_iot_connect_permanent(aws);
}

static void handle_rejection(AwsIot *aws, const char *api, JsonObject *answer)
{
	JsonNode *status = answer ? json_object_get_member(answer, "statusCode") : NULL;
	const char *code = answer ? json_object_get_string_member_with_default(answer, "errorCode", NULL) : NULL;
	const char *text = answer ? json_object_get_string_member_with_default(answer, "errorMessage", NULL) : NULL;
	gint64 status_code = status && JSON_NODE_HOLDS_VALUE(status) && json_node_get_value_type(status) == G_TYPE_INT64
				     ? json_node_get_int(status)
				     : 0;

	/* A used or expired token cannot be retried: a new certificate brings a new one. */
	if (g_strcmp0(api, API_REGISTER) == 0 && g_strcmp0(code, "InvalidToken") == 0) {
		struct hub_identity_update update = {
			.struct_size = sizeof(update), .state = -1, .step = AWS_IOT_STEP_CLAIM_CONNECT
		};

		aws->host->kv_set(aws->handle, AWS_IOT_KV_OWNERSHIP_TOKEN, NULL);
		aws_iot_update(aws, &update);
	}
	fail(aws, "%s rejected: %" G_GINT64_FORMAT " %s: %s", api, status_code, code ? code : "(no errorCode)",
	     text ? text : "(no errorMessage)");
}

/* Which API an answer topic belongs to, and whether it accepts. */
static const char *classify(AwsIot *aws, const char *topic, gboolean *accepted)
{
	g_autofree char *reg = register_topic(aws);
	static const struct {
		const char *api;
		const char *prefix;
	} apis[] = { { API_CSR, TOPIC_CSR }, { API_KEYS, TOPIC_KEYS }, { API_REGISTER, NULL } };

	for (guint i = 0; i < G_N_ELEMENTS(apis); i++) {
		const char *prefix = apis[i].prefix ? apis[i].prefix : reg;
		gsize len = strlen(prefix);

		if (strncmp(topic, prefix, len) != 0)
			continue;
		if (g_str_equal(topic + len, "/accepted")) {
			*accepted = TRUE;
			return apis[i].api;
		}
		if (g_str_equal(topic + len, "/rejected")) {
			*accepted = FALSE;
			return apis[i].api;
		}
	}
	return NULL;
}

static void on_claim_message(const char *topic, const void *payload, size_t len, void *user_data)
{
	AwsIot *aws = user_data;
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error = NULL;
	JsonNode *root;
	gboolean accepted = FALSE;
	const char *api = classify(aws, topic, &accepted);

	if (!api) {
		aws_iot_log(aws, HUB_LOG_DEBUG, "Ignoring a message on %s", topic);
		return;
	}
	if (!aws->pending_api || !g_str_equal(api, aws->pending_api)) {
		aws_iot_log(aws, HUB_LOG_INFO, "Ignoring an unexpected %s answer", api);
		return;
	}
	if (aws->response_timer)
		aws->host->timer_remove(aws->handle, aws->response_timer);
	aws->response_timer = 0;
	g_clear_pointer(&aws->pending_api, g_free);
	if (len > AWS_IOT_MAX_RESPONSE_BYTES) {
		fail(aws, "the %s answer is too large (%zu bytes, at most %d)", api, len, AWS_IOT_MAX_RESPONSE_BYTES);
		return;
	}
	if (!json_parser_load_from_data(parser, payload, (gssize)len, &error)) {
		fail(aws, "the %s answer is not valid JSON: %s", api, error->message);
		return;
	}
	root = json_parser_get_root(parser);
	if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
		fail(aws, "the %s answer is not a JSON object", api);
		return;
	}
	if (!accepted)
		handle_rejection(aws, api, json_node_get_object(root));
	else if (g_str_equal(api, API_REGISTER))
		handle_registration(aws, json_node_get_object(root));
	else
		handle_certificate(aws, api, json_node_get_object(root));
}

static void on_claim_state(uint32_t state, const char *error, void *user_data)
{
	AwsIot *aws = user_data;

	aws->connected = state == HUB_MQTT_SESSION_CONNECTED;
	if (aws->connected) {
		aws_iot_log(aws, HUB_LOG_INFO, "Connected with the claim identity");
		/* A retry delay still running keeps its turn. */
		if (!aws->retry_timer)
			send_current_request(aws);
	} else if (aws->pending_api) {
		/* The answer to a request sent on a lost connection never comes. */
		fail(aws, "the connection was lost while waiting for %s%s%s", aws->pending_api, error ? ": " : "",
		     error ? error : "");
	}
}

static const struct hub_mqtt_callbacks claim_callbacks = {
	.struct_size = sizeof(struct hub_mqtt_callbacks),
	.state_changed = on_claim_state,
	.message = on_claim_message,
};

void aws_iot_provisioning_reset(AwsIot *aws)
{
	if (aws->response_timer)
		aws->host->timer_remove(aws->handle, aws->response_timer);
	if (aws->retry_timer)
		aws->host->timer_remove(aws->handle, aws->retry_timer);
	aws->response_timer = aws->retry_timer = 0;
	g_clear_pointer(&aws->pending_api, g_free);
}

void aws_iot_provisioning_begin(AwsIot *aws)
{
	struct hub_identity_update update = { .struct_size = sizeof(update),
					      .state = HUB_PROVISIONING_STATE_PROVISIONING };
	struct hub_mqtt_params params = { .struct_size = sizeof(params), .cert_role = HUB_CERT_ROLE_CLAIM };
	g_autofree char *step = aws_iot_identity(aws, "step");
	g_autofree char *serial = aws_iot_identity(aws, "serial_number");
	g_autofree char *reg = NULL;
	char message[512] = "";
	int64_t id;

	if (g_strcmp0(step, AWS_IOT_STEP_THING_REGISTERED) == 0) {
		aws_iot_log(aws, HUB_LOG_INFO, "Resuming provisioning: the thing is registered, connecting");
		aws_iot_connect_permanent(aws);
		return;
	}
	if (!step)
		update.step = AWS_IOT_STEP_CLAIM_CONNECT;
	if (!aws_iot_update(aws, &update)) {
		/* Retried from IDLE by the timer fail() arms. */
		aws->phase = AWS_IOT_IDLE;
		fail(aws, "cannot save the provisioning state");
		return;
	}
	aws_iot_log(aws, HUB_LOG_INFO, "Provisioning by claim%s%s", step ? ", resuming after " : "", step ? step : "");
	aws->phase = AWS_IOT_PROVISIONING;
	aws->connected = FALSE;
	params.client_id = serial;
	id = aws->host->mqtt_open(aws->handle, &params, &claim_callbacks, aws, message, sizeof(message));
	if (id < 0) {
		fail(aws, "cannot connect with the claim identity: %s", message);
		aws->phase = AWS_IOT_IDLE;
		return;
	}
	aws->session = id;
	/* Subscribed before any request: the session renews them before CONNECTED. */
	reg = register_topic(aws);
	for (guint i = 0; i < 2; i++) {
		const char *base = i == 0 ? (aws->create_keys ? TOPIC_KEYS : TOPIC_CSR) : reg;
		g_autofree char *accepted = g_strconcat(base, "/accepted", NULL);
		g_autofree char *rejected = g_strconcat(base, "/rejected", NULL);

		aws->host->mqtt_subscribe(aws->handle, id, accepted, 1);
		aws->host->mqtt_subscribe(aws->handle, id, rejected, 1);
	}
}

void aws_iot_provisioning_retry_now(AwsIot *aws)
{
	aws->failures = 0;
	if (aws->retry_timer) {
		aws->host->timer_remove(aws->handle, aws->retry_timer);
		aws->retry_timer = 0;
	}
	/* Waiting for nothing (a step that stopped short): send it again. */
	if (aws->phase == AWS_IOT_PROVISIONING && aws->connected && !aws->pending_api)
		send_current_request(aws);
}
