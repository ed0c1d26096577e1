/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-test-mqtt.h - a blocking MQTT test client on libmosquitto over an
 * SSL_CTX we built. Every call drives mosquitto_loop() in the calling
 * thread until its goal or its timeout, so a test never hangs; failures come
 * back as GError with libmosquitto's reason and its OpenSSL error lines.
 * One thread per client. HUB_TEST_MQTT_DEBUG=1 prints libmosquitto's log.
 */
#pragma once

#include <glib.h>
#include <mosquitto.h>
#include <openssl/ssl.h>

typedef struct _HubTestMqtt HubTestMqtt;

/* A client with @client_id speaking @protocol (MQTT_PROTOCOL_V311 or
 * MQTT_PROTOCOL_V5) over @ctx only: libmosquitto adds no defaults of its own
 * (MOSQ_OPT_SSL_CTX_WITH_DEFAULTS = 0). The client takes its own reference on
 * @ctx; NULL: plain TCP. Initialises libmosquitto and ignores SIGPIPE, once
 * per process. */
HubTestMqtt *hub_test_mqtt_new(const char *client_id, SSL_CTX *ctx, int protocol);
/* Disconnects if needed (1 s max) and frees. NULL-safe. */
void hub_test_mqtt_free(HubTestMqtt *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HubTestMqtt, hub_test_mqtt_free)

/* Connects, completes the TLS handshake and waits for CONNACK. FALSE with
 * @error: HUB_ERROR_TIMEOUT, HUB_ERROR_ACCESS_DENIED when the broker refused
 * the CONNECT, HUB_ERROR_FAILED for socket or TLS failures (with OpenSSL's
 * reason, e.g. "certificate verify failed" or "tlsv1 alert unknown ca"). */
gboolean hub_test_mqtt_connect(HubTestMqtt *client, const char *host, guint16 port, guint timeout_ms,
			       GError **error);
/* Subscribes with QoS 1 and waits for a SUBACK granting it. */
gboolean hub_test_mqtt_subscribe(HubTestMqtt *client, const char *topic, guint timeout_ms, GError **error);
/* Publishes @payload with QoS 1 and waits for its PUBACK. */
gboolean hub_test_mqtt_publish(HubTestMqtt *client, const char *topic, const char *payload, guint timeout_ms,
			       GError **error);
/* The payload of the first message received on @topic (g_free), waiting up
 * to @timeout_ms for one; NULL with @error on timeout or loss. */
char *hub_test_mqtt_wait_message(HubTestMqtt *client, const char *topic, guint timeout_ms, GError **error);
/* Sends DISCONNECT and waits for the connection to close. */
void hub_test_mqtt_disconnect(HubTestMqtt *client, guint timeout_ms);

/* The TLS connection libmosquitto made (NULL when not connected). */
SSL *hub_test_mqtt_ssl(HubTestMqtt *client);
/* Error and warning lines libmosquitto logged so far (owned by @client). */
const char *hub_test_mqtt_log(HubTestMqtt *client);
