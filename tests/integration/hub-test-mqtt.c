/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* POLLRDHUP */
#define _GNU_SOURCE
#include "config.h"

#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>

#include "hub-error.h"
#include "hub-test-mqtt.h"

#define LOOP_SLICE_MS 50

typedef struct {
	char *topic;
	char *payload;
} Message;

struct _HubTestMqtt {
	struct mosquitto *mosq;
	gboolean connected;
	gboolean disconnected;
	int connack;
	int disconnect_rc;
	int acked_mid;
	int acked_reason;
	int subscribed_mid;
	int granted_qos;
	GQueue messages;
	GString *log;
};

static void message_free(gpointer data)
{
	Message *message = data;

	g_free(message->topic);
	g_free(message->payload);
	g_free(message);
}

static void on_connect(struct mosquitto *mosq, void *data, int rc)
{
	HubTestMqtt *client = data;

	client->connack = rc;
	client->connected = rc == 0;
	client->disconnected = rc != 0;
}

static void on_disconnect(struct mosquitto *mosq, void *data, int rc)
{
	HubTestMqtt *client = data;

	client->connected = FALSE;
	client->disconnected = TRUE;
	client->disconnect_rc = rc;
}

static void on_publish(struct mosquitto *mosq, void *data, int mid, int reason, const mosquitto_property *props)
{
	HubTestMqtt *client = data;

	client->acked_mid = mid;
	client->acked_reason = reason;
}

static void on_subscribe(struct mosquitto *mosq, void *data, int mid, int count, const int *granted)
{
	HubTestMqtt *client = data;

	client->subscribed_mid = mid;
	client->granted_qos = count > 0 ? granted[0] : 0x80;
}

static void on_message(struct mosquitto *mosq, void *data, const struct mosquitto_message *msg)
{
	HubTestMqtt *client = data;
	Message *message = g_new0(Message, 1);

	message->topic = g_strdup(msg->topic);
	message->payload = g_strndup(msg->payload, (gsize)msg->payloadlen);
	g_queue_push_tail(&client->messages, message);
}

static void on_log(struct mosquitto *mosq, void *data, int level, const char *line)
{
	HubTestMqtt *client = data;

	if (g_getenv("HUB_TEST_MQTT_DEBUG"))
		g_printerr("mosquitto[%d]: %s\n", level, line);
	if (level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING))
		g_string_append_printf(client->log, "%s%s", client->log->len ? "; " : "", line);
}

static gpointer init_once(gpointer data)
{
	/* OpenSSL writes to the socket with write(): a peer that already closed
	 * (a refused handshake) would kill the test with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	mosquitto_lib_init();
	return NULL;
}

HubTestMqtt *hub_test_mqtt_new(const char *client_id, SSL_CTX *ctx, int protocol)
{
	static GOnce once = G_ONCE_INIT;
	HubTestMqtt *client = g_new0(HubTestMqtt, 1);

	g_once(&once, init_once, NULL);
	client->log = g_string_new(NULL);
	client->mosq = mosquitto_new(client_id, true, client);
	g_assert_nonnull(client->mosq);
	g_assert_cmpint(mosquitto_int_option(client->mosq, MOSQ_OPT_PROTOCOL_VERSION, protocol), ==, MOSQ_ERR_SUCCESS);
	g_assert_cmpint(mosquitto_int_option(client->mosq, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 0), ==, MOSQ_ERR_SUCCESS);
	/* Small MQTT packets after a TLS record must not wait for a delayed ACK. */
	g_assert_cmpint(mosquitto_int_option(client->mosq, MOSQ_OPT_TCP_NODELAY, 1), ==, MOSQ_ERR_SUCCESS);
	/* NULL: plain TCP. */
	if (ctx)
		g_assert_cmpint(mosquitto_void_option(client->mosq, MOSQ_OPT_SSL_CTX, ctx), ==, MOSQ_ERR_SUCCESS);
	mosquitto_connect_callback_set(client->mosq, on_connect);
	mosquitto_disconnect_callback_set(client->mosq, on_disconnect);
	mosquitto_publish_v5_callback_set(client->mosq, on_publish);
	mosquitto_subscribe_callback_set(client->mosq, on_subscribe);
	mosquitto_message_callback_set(client->mosq, on_message);
	mosquitto_log_callback_set(client->mosq, on_log);
	return client;
}

void hub_test_mqtt_free(HubTestMqtt *client)
{
	if (!client)
		return;
	if (client->connected)
		hub_test_mqtt_disconnect(client, 1000);
	mosquitto_destroy(client->mosq);
	g_queue_clear_full(&client->messages, message_free);
	g_string_free(client->log, TRUE);
	g_free(client);
}

/* A refused TCP connect (connect_async) or a reset during the handshake can
 * leave libmosquitto 2.0.11 retrying SSL_connect on a dead socket, each
 * mosquitto_loop() returning success at once: a busy loop until our timeout
 * unless we look at the socket ourselves. */
static gboolean peer_hung_up(HubTestMqtt *client)
{
	struct pollfd pfd = { .fd = mosquitto_socket(client->mosq), .events = POLLRDHUP };

	if (pfd.fd < 0 || client->connected)
		return FALSE;
	return poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

static const char *hang_up_reason(HubTestMqtt *client)
{
	int so_error = 0;
	socklen_t len = sizeof(so_error);

	if (getsockopt(mosquitto_socket(client->mosq), SOL_SOCKET, SO_ERROR, &so_error, &len) == 0 && so_error)
		return g_strerror(so_error);
	return "the connection was refused or dropped";
}

/* Sets @error to "@what: @reason", plus what libmosquitto logged, and returns FALSE. */
static gboolean fail(HubTestMqtt *client, GError **error, gint code, const char *what, const char *reason)
{
	if (client->log->len)
		g_set_error(error, HUB_ERROR, code, "%s: %s (libmosquitto: %s)", what, reason, client->log->str);
	else
		g_set_error(error, HUB_ERROR, code, "%s: %s", what, reason);
	return FALSE;
}

typedef gboolean (*DoneFunc)(HubTestMqtt *client, gpointer data);

static gboolean run_until(HubTestMqtt *client, DoneFunc done, gpointer data, guint timeout_ms, const char *what,
			  GError **error)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * G_TIME_SPAN_MILLISECOND;
	guint hangups = 0;

	while (!done(client, data)) {
		gint64 left_ms = (deadline - g_get_monotonic_time()) / G_TIME_SPAN_MILLISECOND;
		int rc;

		if (client->disconnected && client->connack)
			return fail(client, error, HUB_ERROR_ACCESS_DENIED, what,
				    mosquitto_connack_string(client->connack));
		if (client->disconnected)
			return fail(client, error, HUB_ERROR_FAILED, what, "the connection was closed");
		if (left_ms <= 0) {
			g_autofree char *reason = g_strdup_printf("no answer within %u ms", timeout_ms);

			return fail(client, error, HUB_ERROR_TIMEOUT, what, reason);
		}
		rc = mosquitto_loop(client->mosq, (int)MIN(left_ms, LOOP_SLICE_MS), 1);
		if (rc != MOSQ_ERR_SUCCESS && !done(client, data))
			return fail(client, error, HUB_ERROR_FAILED, what, mosquitto_strerror(rc));
		/* Twice in a row: a single hangup may just be data not yet read. */
		hangups = peer_hung_up(client) ? hangups + 1 : 0;
		if (hangups >= 2)
			return fail(client, error, HUB_ERROR_FAILED, what, hang_up_reason(client));
	}
	return TRUE;
}

static gboolean is_connected(HubTestMqtt *client, gpointer data)
{
	return client->connected;
}

gboolean hub_test_mqtt_connect(HubTestMqtt *client, const char *host, guint16 port, guint timeout_ms,
			       GError **error)
{
	g_autofree char *what = g_strdup_printf("Connecting to %s:%u", host, port);
	int rc;

	client->disconnected = FALSE;
	client->connack = 0;
	g_string_truncate(client->log, 0);
	/* Async: the TCP connect and the handshake then run inside our bounded loop. */
	rc = mosquitto_connect_async(client->mosq, host, port, 30);
	if (rc != MOSQ_ERR_SUCCESS)
		return fail(client, error, HUB_ERROR_FAILED, what, mosquitto_strerror(rc));
	return run_until(client, is_connected, NULL, timeout_ms, what, error);
}

static gboolean is_subscribed(HubTestMqtt *client, gpointer data)
{
	return client->subscribed_mid == *(int *)data;
}

gboolean hub_test_mqtt_subscribe(HubTestMqtt *client, const char *topic, guint timeout_ms, GError **error)
{
	int mid = 0;
	int rc = mosquitto_subscribe(client->mosq, &mid, topic, 1);

	if (rc != MOSQ_ERR_SUCCESS) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_FAILED, "Subscribing to %s: %s", topic, mosquitto_strerror(rc));
		return FALSE;
	}
	if (!run_until(client, is_subscribed, &mid, timeout_ms, "Subscribing", error))
		return FALSE;
	if (client->granted_qos >= 0x80) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_ACCESS_DENIED, "The broker refused the subscription to %s",
			    topic);
		return FALSE;
	}
	return TRUE;
}

static gboolean is_acked(HubTestMqtt *client, gpointer data)
{
	return client->acked_mid == *(int *)data;
}

gboolean hub_test_mqtt_publish(HubTestMqtt *client, const char *topic, const char *payload, guint timeout_ms,
			       GError **error)
{
	int mid = 0;
	int rc = mosquitto_publish(client->mosq, &mid, topic, (int)strlen(payload), payload, 1, false);

	if (rc != MOSQ_ERR_SUCCESS) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_FAILED, "Publishing to %s: %s", topic, mosquitto_strerror(rc));
		return FALSE;
	}
	if (!run_until(client, is_acked, &mid, timeout_ms, "Waiting for PUBACK", error))
		return FALSE;
	/* MQTT 5 reason codes >= 0x80 are failures; 3.1.1 always reports 0. */
	if (client->acked_reason >= 0x80) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_ACCESS_DENIED, "The broker refused the message: %s",
			    mosquitto_reason_string(client->acked_reason));
		return FALSE;
	}
	return TRUE;
}

static gint match_topic(gconstpointer message, gconstpointer topic)
{
	return g_strcmp0(((const Message *)message)->topic, topic);
}

static gboolean has_message(HubTestMqtt *client, gpointer topic)
{
	return g_queue_find_custom(&client->messages, topic, match_topic) != NULL;
}

char *hub_test_mqtt_wait_message(HubTestMqtt *client, const char *topic, guint timeout_ms, GError **error)
{
	GList *link;
	Message *message;
	char *payload;

	if (!run_until(client, has_message, (gpointer)topic, timeout_ms, "Waiting for a message", error))
		return NULL;
	link = g_queue_find_custom(&client->messages, topic, match_topic);
	message = link->data;
	g_queue_delete_link(&client->messages, link);
	payload = g_steal_pointer(&message->payload);
	message_free(message);
	return payload;
}

static gboolean is_closed(HubTestMqtt *client, gpointer data)
{
	return client->disconnected || mosquitto_socket(client->mosq) < 0;
}

void hub_test_mqtt_disconnect(HubTestMqtt *client, guint timeout_ms)
{
	g_autoptr(GError) error = NULL;

	if (mosquitto_disconnect(client->mosq) != MOSQ_ERR_SUCCESS)
		return;
	/* DISCONNECT is only queued: keep looping until it is out. */
	if (!run_until(client, is_closed, NULL, timeout_ms, "Disconnecting", &error) &&
	    !g_error_matches(error, HUB_ERROR, HUB_ERROR_FAILED))
		g_test_message("%s", error->message);
	client->connected = FALSE;
}

SSL *hub_test_mqtt_ssl(HubTestMqtt *client)
{
	return mosquitto_ssl_get(client->mosq);
}

const char *hub_test_mqtt_log(HubTestMqtt *client)
{
	return client->log->str;
}
