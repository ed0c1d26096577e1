/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <mosquitto.h>
#include <openssl/err.h>

#include "hub-error.h"
#include "hub-mqtt-session.h"

#define CLIENT_ID_MAX 128
#define MISC_INTERVAL_US G_USEC_PER_SEC /* keepalive pings and timeouts: mosquitto_loop_misc() */
#define READS_PER_DISPATCH 64 /* loop_read() calls per wake-up, while data is waiting */

/* Watches the socket while an attempt or a connection is alive. */
typedef struct {
	GSource source;
	HubMqttSession *session;
	gpointer tag;
	int fd;
	GIOCondition events;
} MqttSource;

struct _HubMqttSession {
	char *host;
	char *client_id;
	char *username;
	char *password;
	guint16 port;
	guint keepalive_s;
	guint base_ms;
	guint cap_ms;
	guint interval_ms;
	guint connect_timeout_ms;
	guint send_maximum;       /* unacknowledged QoS 1 publishes in flight; 0: libmosquitto's 20 */
	SSL_CTX *tls_ctx;
	struct mosquitto *mosq;
	HubMqttCallbacks callbacks;
	gpointer user_data;

	HubMqttState state;
	char *last_error;
	char *last_log_error;     /* libmosquitto's last error line (it drains OpenSSL's queue) */
	gint64 next_attempt;      /* real time of the next attempt, 0 when none */
	gint64 last_connect;      /* monotonic time of the last attempt, 0 before the first */
	guint attempts;
	guint failures;           /* in a row, the backoff exponent */
	gboolean running;         /* between start() and stop() */
	guint retry_source;
	GSource *io;
	GHashTable *subscriptions; /* topic -> GINT_TO_POINTER(qos + 1) */
};

/* client id -> monotonic time of its last connect, for every session of the
 * process: the interval is a promise to the broker, not to one object. */
static GHashTable *last_connects;

static gint64 last_connect_of(const char *client_id)
{
	gpointer value = last_connects ? g_hash_table_lookup(last_connects, client_id) : NULL;

	return value ? *(gint64 *)value : 0;
}

static void remember_connect(const char *client_id, gint64 when)
{
	gint64 *value = g_new(gint64, 1);

	if (!last_connects)
		last_connects = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	*value = when;
	g_hash_table_insert(last_connects, g_strdup(client_id), value);
}

/* Milliseconds until this client id may connect again (0: now). */
static guint64 interval_wait_ms(HubMqttSession *session)
{
	gint64 last = last_connect_of(session->client_id);
	gint64 since_ms = (g_get_monotonic_time() - last) / 1000;

	return last && since_ms < (gint64)session->interval_ms ? (guint64)((gint64)session->interval_ms - since_ms) : 0;
}

void hub_mqtt_session_tls_options(const char *host, guint16 port, HubTlsOptions *options)
{
	static const char *const aws_alpn[] = { "x-amzn-mqtt-ca", NULL };

	memset(options, 0, sizeof(*options));
	if (g_hostname_is_ip_address(host))
		options->ip = host;
	else
		options->hostname = host;
	/* MQTT over 443 is told apart from HTTPS by ALPN (AWS IoT). */
	if (port == 443)
		options->alpn = aws_alpn;
}

static void set_state(HubMqttSession *session, HubMqttState state)
{
	if (session->state == state)
		return;
	session->state = state;
	if (session->callbacks.state_changed)
		session->callbacks.state_changed(state, session->user_data);
}

/* The reason for @rc, with OpenSSL's when the TLS layer failed. */
static void set_error(HubMqttSession *session, const char *what, int rc)
{
	char tls[256] = "";
	unsigned long code = ERR_peek_last_error();
	const char *reason = rc == MOSQ_ERR_ERRNO ? g_strerror(errno) : mosquitto_strerror(rc);

	if (code)
		ERR_error_string_n(code, tls, sizeof(tls));
	else if (session->last_log_error)
		g_strlcpy(tls, session->last_log_error, sizeof(tls));
	ERR_clear_error();
	g_free(session->last_error);
	session->last_error = tls[0] ? g_strdup_printf("%s: %s (%s)", what, reason, tls)
				     : g_strdup_printf("%s: %s", what, reason);
	g_debug("MQTT %s@%s:%u: %s", session->client_id, session->host, session->port, session->last_error);
}

/* ---- the socket on the main loop ---- */

static void stop_watching(HubMqttSession *session)
{
	if (!session->io)
		return;
	g_source_destroy(session->io);
	g_source_unref(session->io);
	session->io = NULL;
}

static void schedule_retry(HubMqttSession *session);
static gboolean new_client(HubMqttSession *session, GError **error);

/* The attempt or the connection is over: stop watching the socket (a
 * refused TLS handshake would otherwise keep it readable forever) and back
 * off. libmosquitto closes the socket on the next attempt. */
static void connection_failed(HubMqttSession *session, const char *what, int rc)
{
	set_error(session, what, rc);
	stop_watching(session);
	if (session->running)
		schedule_retry(session);
	else
		set_state(session, HUB_MQTT_STATE_DISCONNECTED);
}

static gboolean source_prepare(GSource *source, gint *timeout)
{
	MqttSource *ms = (MqttSource *)source;
	HubMqttSession *session = ms->session;
	int fd = mosquitto_socket(session->mosq);
	GIOCondition want;

	if (fd != ms->fd) {
		if (ms->tag)
			g_source_remove_unix_fd(source, ms->tag);
		ms->tag = fd >= 0 ? g_source_add_unix_fd(source, fd, G_IO_IN) : NULL;
		ms->fd = fd;
		ms->events = G_IO_IN;
	}
	want = G_IO_IN | (mosquitto_want_write(session->mosq) ? G_IO_OUT : 0);
	/* Only on change: every modify wakes the main context. */
	if (ms->tag && want != ms->events) {
		g_source_modify_unix_fd(source, ms->tag, want);
		ms->events = want;
	}
	*timeout = -1;
	return FALSE;
}

/* Bytes waiting in the socket or decrypted in the TLS layer. */
static gboolean more_to_read(HubMqttSession *session)
{
	int fd = mosquitto_socket(session->mosq);
	SSL *ssl = mosquitto_ssl_get(session->mosq);
	int queued = 0;

	if (ssl && SSL_pending(ssl) > 0)
		return TRUE;
	return fd >= 0 && ioctl(fd, FIONREAD, &queued) == 0 && queued > 0;
}

static gboolean source_dispatch(GSource *source, GSourceFunc callback, gpointer user_data)
{
	MqttSource *ms = (MqttSource *)source;
	HubMqttSession *session = ms->session;
	GIOCondition revents = ms->tag ? g_source_query_unix_fd(source, ms->tag) : 0;
	gint64 now = g_get_monotonic_time();
	int rc = MOSQ_ERR_SUCCESS;

	/* Every libmosquitto call may run a callback that ends this source. */
	if (revents & (G_IO_IN | G_IO_HUP | G_IO_ERR)) {
		for (guint i = 0; i < READS_PER_DISPATCH; i++) {
			/* loop_read() stops after one packet when errno still says
			 * EAGAIN from some earlier call: a busy loop then took one
			 * PUBACK per iteration. */
			errno = 0;
			rc = mosquitto_loop_read(session->mosq, 1);
			if (rc != MOSQ_ERR_SUCCESS || session->io != source || !more_to_read(session))
				break;
		}
	}
	if (session->io != source)
		return G_SOURCE_REMOVE;
	if (rc == MOSQ_ERR_SUCCESS && (revents & G_IO_OUT))
		rc = mosquitto_loop_write(session->mosq, 1);
	if (session->io != source)
		return G_SOURCE_REMOVE;
	if (rc == MOSQ_ERR_SUCCESS && now >= g_source_get_ready_time(source)) {
		if (session->state == HUB_MQTT_STATE_CONNECTING &&
		    now - session->last_connect >= (gint64)session->connect_timeout_ms * 1000) {
			/* A broker that accepts TCP and never answers would
			 * otherwise hold us until the keepalive runs out. */
			errno = ETIMEDOUT;
			connection_failed(session, "connect timed out", MOSQ_ERR_ERRNO);
			return G_SOURCE_REMOVE;
		}
		rc = mosquitto_loop_misc(session->mosq);
		if (session->io != source)
			return G_SOURCE_REMOVE;
		g_source_set_ready_time(source, now + MIN(MISC_INTERVAL_US, (gint64)session->connect_timeout_ms * 1000));
	}
	if (rc == MOSQ_ERR_SUCCESS && (revents & (G_IO_HUP | G_IO_ERR)) && mosquitto_socket(session->mosq) >= 0)
		rc = MOSQ_ERR_CONN_LOST; /* hung up without libmosquitto noticing */
	if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN)
		connection_failed(session, session->state == HUB_MQTT_STATE_CONNECTED ? "connection lost"
										 : "connect failed", rc);
	else if (rc == MOSQ_ERR_NO_CONN)
		connection_failed(session, "connection closed", MOSQ_ERR_CONN_LOST);
	return session->io == source ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static GSourceFuncs source_funcs = {
	.prepare = source_prepare,
	.dispatch = source_dispatch,
};

static void start_watching(HubMqttSession *session)
{
	MqttSource *ms;

	stop_watching(session);
	session->io = g_source_new(&source_funcs, sizeof(MqttSource));
	ms = (MqttSource *)session->io;
	ms->session = session;
	ms->fd = -1;
	g_source_set_name(session->io, "hubd MQTT session");
	/* Before the devices' timers: acknowledgements make room for what is
	 * queued; a flood of reports must not starve its own delivery. */
	g_source_set_priority(session->io, G_PRIORITY_HIGH);
	g_source_set_ready_time(session->io,
				g_get_monotonic_time() + MIN(MISC_INTERVAL_US, (gint64)session->connect_timeout_ms * 1000));
	g_source_attach(session->io, NULL);
}

/* ---- connecting and backing off ---- */

static void attempt(HubMqttSession *session)
{
	int rc;

	session->next_attempt = 0;
	session->last_connect = g_get_monotonic_time();
	remember_connect(session->client_id, session->last_connect);
	g_clear_pointer(&session->last_log_error, g_free);
	session->attempts++;
	set_state(session, HUB_MQTT_STATE_CONNECTING);
	/* The owner may have stopped the session from that callback. */
	if (!session->running)
		return;
	if (session->attempts > 1) {
		g_autoptr(GError) error = NULL;

		/* Closes the old socket too. */
		stop_watching(session);
		if (!new_client(session, &error)) {
			g_free(session->last_error);
			session->last_error = g_strdup(error->message);
			schedule_retry(session);
			return;
		}
	}
	rc = mosquitto_connect_async(session->mosq, session->host, session->port, (int)session->keepalive_s);
	if (rc != MOSQ_ERR_SUCCESS) {
		connection_failed(session, "connect failed", rc);
		return;
	}
	start_watching(session);
}

static gboolean retry_cb(gpointer user_data)
{
	HubMqttSession *session = user_data;

	session->retry_source = 0;
	if (session->running)
		attempt(session);
	return G_SOURCE_REMOVE;
}

/* Full jitter: uniform in [0, min(cap, base * 2^failures)], but never
 * sooner than the connect interval after the last attempt. */
static void schedule_retry(HubMqttSession *session)
{
	guint shift = MIN(session->failures, 20u);
	guint64 ceiling = MIN((guint64)session->cap_ms, (guint64)session->base_ms << shift);
	guint64 delay_ms = (guint64)g_random_double_range(0, (double)ceiling + 1);

	session->failures++;
	delay_ms = MAX(delay_ms, interval_wait_ms(session));
	if (session->retry_source)
		g_source_remove(session->retry_source);
	session->retry_source = g_timeout_add((guint)delay_ms, retry_cb, session);
	session->next_attempt = g_get_real_time() + (gint64)delay_ms * 1000;
	set_state(session, HUB_MQTT_STATE_BACKING_OFF);
}

/* ---- libmosquitto callbacks (from inside loop_read/loop_write) ---- */

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
	HubMqttSession *session = obj;
	GHashTableIter iter;
	gpointer topic, qos;

	if (rc != 0) {
		g_free(session->last_error);
		session->last_error = g_strdup_printf("the broker refused the connection: %s",
						      mosquitto_connack_string(rc));
		stop_watching(session);
		if (session->running)
			schedule_retry(session);
		return;
	}
	session->failures = 0;
	/* Subscribe before telling the owner: the broker handles packets in
	 * order, so a request it publishes from state_changed() comes after
	 * the subscription to its reply topics. */
	g_hash_table_iter_init(&iter, session->subscriptions);
	while (g_hash_table_iter_next(&iter, &topic, &qos))
		mosquitto_subscribe(mosq, NULL, topic, GPOINTER_TO_INT(qos) - 1);
	set_state(session, HUB_MQTT_STATE_CONNECTED);
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
	HubMqttSession *session = obj;

	if (!session->running || rc == 0) {
		stop_watching(session);
		set_state(session, HUB_MQTT_STATE_DISCONNECTED);
		return;
	}
	/* A refused CONNACK was handled by on_connect(), which stopped watching:
	 * its reason stays, and the backoff counts the attempt once. */
	if (!session->io)
		return;
	connection_failed(session, session->state == HUB_MQTT_STATE_CONNECTED ? "connection lost" : "connect failed", rc);
}

/* libmosquitto logs the TLS reason and drains OpenSSL's error queue. */
static void on_log(struct mosquitto *mosq, void *obj, int level, const char *text)
{
	HubMqttSession *session = obj;
	const char *reason = text;

	if (level != MOSQ_LOG_ERR || !text)
		return;
	/* "OpenSSL Error[0]: error:0A000418:SSL routines::tlsv1 alert unknown ca" */
	if (g_str_has_prefix(text, "OpenSSL Error") && strstr(text, ": "))
		reason = strstr(text, ": ") + 2;
	g_free(session->last_log_error);
	session->last_log_error = g_strdup(reason);
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *message)
{
	HubMqttSession *session = obj;

	if (session->callbacks.message && message->topic)
		session->callbacks.message(message->topic, message->payload, (gsize)MAX(message->payloadlen, 0),
					   session->user_data);
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid)
{
	HubMqttSession *session = obj;

	if (session->callbacks.published)
		session->callbacks.published(mid, session->user_data);
}

/* ---- public ---- */

static gpointer lib_init(gpointer data)
{
	mosquitto_lib_init();
	return NULL;
}

static gboolean check_options(const HubMqttOptions *o, GError **error)
{
	const char *problem = NULL;

	if (!o->host || !*o->host)
		problem = "host: missing";
	else if (o->port == 0)
		problem = "port: must be 1-65535";
	else if (!o->client_id || !*o->client_id)
		problem = "client_id: missing";
	else if (strlen(o->client_id) > CLIENT_ID_MAX || !g_utf8_validate(o->client_id, -1, NULL))
		problem = "client_id: must be 1-128 characters of UTF-8";
	else if (o->keepalive_s && (o->keepalive_s < HUB_MQTT_KEEPALIVE_MIN || o->keepalive_s > HUB_MQTT_KEEPALIVE_MAX))
		problem = "keepalive: must be 30-1200 seconds";
	else if ((o->backoff_cap_ms ? o->backoff_cap_ms : 120000) < (o->backoff_base_ms ? o->backoff_base_ms : 1000))
		problem = "backoff cap: must not be below the backoff base";
	if (!problem)
		return TRUE;
	g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "MQTT session %s", problem);
	return FALSE;
}

/* A fresh libmosquitto client. One per connection: libmosquitto would
 * resend a lost connection's unacknowledged publishes after the next
 * CONNACK (even with a clean session), behind the back of an owner that
 * has already decided what to send again (a provisioning request that
 * must not reach the cloud twice, the outbox's own resend). */
static gboolean new_client(HubMqttSession *session, GError **error)
{
	int rc;

	if (session->mosq)
		mosquitto_destroy(session->mosq);
	session->mosq = mosquitto_new(session->client_id, TRUE, session);
	if (!session->mosq) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_FAILED, "cannot create an MQTT client: %s", g_strerror(errno));
		return FALSE;
	}
	mosquitto_int_option(session->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
	mosquitto_int_option(session->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	if (session->send_maximum)
		mosquitto_int_option(session->mosq, MOSQ_OPT_SEND_MAXIMUM, (int)session->send_maximum);
	if (session->tls_ctx) {
		/* Our context is complete; libmosquitto must not add or drop checks. */
		mosquitto_int_option(session->mosq, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 0);
		rc = mosquitto_void_option(session->mosq, MOSQ_OPT_SSL_CTX, session->tls_ctx);
		if (rc != MOSQ_ERR_SUCCESS) {
			g_set_error(error, HUB_ERROR, HUB_ERROR_FAILED, "cannot use the TLS context: %s",
				    mosquitto_strerror(rc));
			return FALSE;
		}
	}
	if (session->username)
		mosquitto_username_pw_set(session->mosq, session->username, session->password);
	mosquitto_connect_callback_set(session->mosq, on_connect);
	mosquitto_disconnect_callback_set(session->mosq, on_disconnect);
	mosquitto_message_callback_set(session->mosq, on_message);
	mosquitto_publish_callback_set(session->mosq, on_publish);
	mosquitto_log_callback_set(session->mosq, on_log);
	return TRUE;
}

HubMqttSession *hub_mqtt_session_new(const HubMqttOptions *options, SSL_CTX *tls_ctx,
				     const HubMqttCallbacks *callbacks, gpointer user_data, GError **error)
{
	static GOnce once = G_ONCE_INIT;
	HubMqttSession *session;

	if (!check_options(options, error))
		return NULL;
	g_once(&once, lib_init, NULL);
	session = g_new0(HubMqttSession, 1);
	session->host = g_strdup(options->host);
	session->port = options->port;
	session->client_id = g_strdup(options->client_id);
	session->username = g_strdup(options->username);
	session->password = g_strdup(options->password);
	session->keepalive_s = options->keepalive_s ? options->keepalive_s : HUB_MQTT_KEEPALIVE_DEFAULT;
	session->base_ms = options->backoff_base_ms ? options->backoff_base_ms : 1000;
	session->cap_ms = options->backoff_cap_ms ? options->backoff_cap_ms : 120000;
	session->interval_ms = options->connect_interval_ms ? options->connect_interval_ms : 1000;
	session->connect_timeout_ms = options->connect_timeout_ms ? options->connect_timeout_ms : 15000;
	session->send_maximum = MIN(options->send_maximum, 65535u);
	if (callbacks)
		session->callbacks = *callbacks;
	session->user_data = user_data;
	session->subscriptions = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	if (tls_ctx) {
		session->tls_ctx = tls_ctx;
		SSL_CTX_up_ref(tls_ctx);
	}
	if (!new_client(session, error)) {
		hub_mqtt_session_free(session);
		return NULL;
	}
	return session;
}

void hub_mqtt_session_start(HubMqttSession *session)
{
	guint64 wait_ms;

	if (session->running)
		return;
	session->running = TRUE;
	session->failures = 0;
	wait_ms = interval_wait_ms(session);
	if (!wait_ms) {
		attempt(session);
		return;
	}
	/* Too soon after the last connect of this client id. */
	session->retry_source = g_timeout_add((guint)wait_ms, retry_cb, session);
	session->next_attempt = g_get_real_time() + (gint64)wait_ms * 1000;
	set_state(session, HUB_MQTT_STATE_BACKING_OFF);
}

void hub_mqtt_session_stop(HubMqttSession *session)
{
	if (!session->running && session->state == HUB_MQTT_STATE_DISCONNECTED)
		return;
	session->running = FALSE;
	if (session->retry_source) {
		g_source_remove(session->retry_source);
		session->retry_source = 0;
	}
	session->next_attempt = 0;
	/* Outside a callback libmosquitto writes the DISCONNECT at once; then
	 * the connection is closed from our side, also one still being set up
	 * (libmosquitto keeps the descriptor and closes it later). */
	if (session->state == HUB_MQTT_STATE_CONNECTED)
		mosquitto_disconnect(session->mosq);
	if (mosquitto_socket(session->mosq) >= 0)
		shutdown(mosquitto_socket(session->mosq), SHUT_RDWR);
	stop_watching(session);
	set_state(session, HUB_MQTT_STATE_DISCONNECTED);
}

void hub_mqtt_session_free(HubMqttSession *session)
{
	if (!session)
		return;
	if (session->mosq)
		hub_mqtt_session_stop(session);
	/* Whatever state it was left in, nothing may call back into freed memory. */
	stop_watching(session);
	g_clear_handle_id(&session->retry_source, g_source_remove);
	if (session->mosq)
		mosquitto_destroy(session->mosq);
	if (session->tls_ctx)
		SSL_CTX_free(session->tls_ctx);
	if (session->password)
		memset(session->password, 0, strlen(session->password));
	g_hash_table_unref(session->subscriptions);
	g_free(session->host);
	g_free(session->client_id);
	g_free(session->username);
	g_free(session->password);
	g_free(session->last_error);
	g_free(session->last_log_error);
	g_free(session);
}

HubMqttState hub_mqtt_session_get_state(HubMqttSession *session)
{
	return session->state;
}

const char *hub_mqtt_session_get_last_error(HubMqttSession *session)
{
	return session->last_error;
}

gint64 hub_mqtt_session_get_next_attempt(HubMqttSession *session)
{
	return session->state == HUB_MQTT_STATE_BACKING_OFF ? session->next_attempt : 0;
}

guint hub_mqtt_session_get_attempts(HubMqttSession *session)
{
	return session->attempts;
}

gboolean hub_mqtt_session_subscribe(HubMqttSession *session, const char *topic, int qos, GError **error)
{
	int rc;

	if (!topic || !*topic || qos < 0 || qos > 1 || mosquitto_sub_topic_check(topic) != MOSQ_ERR_SUCCESS) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "invalid subscription '%s' (QoS %d)",
			    topic ? topic : "", qos);
		return FALSE;
	}
	g_hash_table_insert(session->subscriptions, g_strdup(topic), GINT_TO_POINTER(qos + 1));
	if (session->state != HUB_MQTT_STATE_CONNECTED)
		return TRUE;
	rc = mosquitto_subscribe(session->mosq, NULL, topic, qos);
	if (rc != MOSQ_ERR_SUCCESS) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_FAILED, "cannot subscribe to %s: %s", topic,
			    mosquitto_strerror(rc));
		return FALSE;
	}
	return TRUE;
}

gboolean hub_mqtt_session_publish(HubMqttSession *session, const char *topic, const void *payload, gsize len,
				  int qos, gboolean retain, int *mid, GError **error)
{
	int rc;

	if (!topic || !*topic || qos < 0 || qos > 1 || len > G_MAXINT ||
	    mosquitto_pub_topic_check(topic) != MOSQ_ERR_SUCCESS) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "invalid publish to '%s' (QoS %d)",
			    topic ? topic : "", qos);
		return FALSE;
	}
	if (session->state != HUB_MQTT_STATE_CONNECTED) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_UNAVAILABLE, "not connected to %s:%u (%s)", session->host,
			    session->port, hub_mqtt_state_to_string(session->state));
		return FALSE;
	}
	rc = mosquitto_publish(session->mosq, mid, topic, (int)len, payload, qos, retain);
	if (rc != MOSQ_ERR_SUCCESS) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_FAILED, "cannot publish to %s: %s", topic,
			    mosquitto_strerror(rc));
		return FALSE;
	}
	return TRUE;
}
