/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-mqtt-session.h - the core's MQTT session service: one libmosquitto
 * client driven from the GLib main loop (no thread), that connects, keeps
 * the connection and reconnects forever.
 *
 * - TLS comes from an SSL_CTX the caller built from a certificate role
 *   (hub_cert_manager_tls_context); hostname verification and ALPN must be
 *   set on that context because libmosquitto skips both when given one
 *   (hub_mqtt_session_tls_options() says what to set). NULL = plain TCP.
 * - Reconnects use full-jitter exponential backoff: the n-th delay is
 *   uniform in [0, min(cap, base * 2^n)], never less than the connect
 *   interval, and it never gives up. A successful CONNACK resets it. The
 *   interval holds per client id across every session of the process (a
 *   broker such as AWS IoT throttles connects per client id).
 * - An attempt that has no CONNACK within the connect timeout fails.
 * - A socket that fails (refused, TLS rejected, reset) is no longer watched
 *   until the next attempt, so a broker that refuses TLS cannot make the
 *   loop spin (libmosquitto 2.0.11 would).
 * - Subscriptions are remembered and renewed on every connect.
 * - Publishes do not outlive their connection: each attempt uses a fresh
 *   libmosquitto client, so the owner alone decides what to send again
 *   (libmosquitto would resend unacknowledged ones after the next CONNACK).
 * - TCP_NODELAY is on: without it TLS 1.3 tickets and Nagle add ~40 ms to
 *   every connect.
 *
 * Main thread only.
 */
#pragma once

#include <glib.h>
#include <openssl/ssl.h>

#include "hub-tls-context.h"

typedef enum {
	HUB_MQTT_STATE_DISCONNECTED, /* not started, or stopped */
	HUB_MQTT_STATE_CONNECTING,   /* TCP/TLS/CONNECT under way */
	HUB_MQTT_STATE_CONNECTED,    /* CONNACK accepted */
	HUB_MQTT_STATE_BACKING_OFF,  /* waiting for the next attempt */
} HubMqttState;

/* "disconnected", "connecting", "connected", "backing-off". Inline: hubd
 * names states without loading the module. */
static inline const char *hub_mqtt_state_to_string(HubMqttState state)
{
	static const char *const names[] = { "disconnected", "connecting", "connected", "backing-off" };

	return (guint)state < G_N_ELEMENTS(names) ? names[state] : "disconnected";
}

#define HUB_MQTT_KEEPALIVE_MIN 30
#define HUB_MQTT_KEEPALIVE_MAX 1200
#define HUB_MQTT_KEEPALIVE_DEFAULT 300

typedef struct {
	const char *host;           /* required; also the SNI name */
	guint16 port;               /* required: 8883, or 443 with ALPN x-amzn-mqtt-ca */
	const char *client_id;      /* required, 1-128 characters */
	const char *username;       /* optional */
	const char *password;       /* optional; never logged */
	guint keepalive_s;          /* 30-1200; 0 = 300 */
	guint backoff_base_ms;      /* 0 = 1000 */
	guint backoff_cap_ms;       /* 0 = 120000; >= base */
	guint connect_interval_ms;  /* least time between two connects of this client id; 0 = 1000 */
	guint connect_timeout_ms;   /* TCP + TLS + CONNACK must finish within it; 0 = 15000 */
	guint send_maximum;         /* QoS 1 publishes awaiting PUBACK at once; 0 = libmosquitto's 20 */
} HubMqttOptions;

typedef struct {
	/* The state changed; last_error/next_attempt are current. */
	void (*state_changed)(HubMqttState state, gpointer user_data);
	/* A message on a subscribed topic. @payload is not NUL-terminated. */
	void (*message)(const char *topic, const void *payload, gsize len, gpointer user_data);
	/* The broker acknowledged the QoS 1 publish with @mid. */
	void (*published)(int mid, gpointer user_data);
} HubMqttCallbacks;

typedef struct _HubMqttSession HubMqttSession;

/* The TLS options a context for @host:@port needs: hostname (or IP)
 * verification, and ALPN x-amzn-mqtt-ca on port 443. Strings point into
 * @host and static data. */
void hub_mqtt_session_tls_options(const char *host, guint16 port, HubTlsOptions *options);

/* Checks @options (clear errors naming the field) and creates the client;
 * nothing connects before start(). @tls_ctx (may be NULL) is referenced. */
HubMqttSession *hub_mqtt_session_new(const HubMqttOptions *options, SSL_CTX *tls_ctx,
				     const HubMqttCallbacks *callbacks, gpointer user_data, GError **error);
/* Disconnects if needed and frees. NULL-safe. */
void hub_mqtt_session_free(HubMqttSession *session);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HubMqttSession, hub_mqtt_session_free)

/* Starts connecting (now, or after the connect interval). */
void hub_mqtt_session_start(HubMqttSession *session);
/* Sends DISCONNECT when connected, closes the connection (also one still
 * being set up) and stops reconnecting. */
void hub_mqtt_session_stop(HubMqttSession *session);

HubMqttState hub_mqtt_session_get_state(HubMqttSession *session);
/* Why the last attempt or connection failed, or NULL. */
const char *hub_mqtt_session_get_last_error(HubMqttSession *session);
/* g_get_real_time() of the next attempt while backing off, else 0. */
gint64 hub_mqtt_session_get_next_attempt(HubMqttSession *session);
/* Connect attempts since start (for status and tests). */
guint hub_mqtt_session_get_attempts(HubMqttSession *session);

/* Subscribes now when connected, and on every later connect. */
gboolean hub_mqtt_session_subscribe(HubMqttSession *session, const char *topic, int qos, GError **error);
/* Publishes when connected; HUB_ERROR_UNAVAILABLE otherwise (the outbox
 * keeps messages, not the session). Returns the message id in *@mid. */
gboolean hub_mqtt_session_publish(HubMqttSession *session, const char *topic, const void *payload, gsize len,
				  int qos, gboolean retain, int *mid, GError **error);
