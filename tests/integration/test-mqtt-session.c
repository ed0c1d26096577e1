/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-mqtt-session.c - HubMqttSession against the real mosquitto with
 * mutual TLS: connect, subscribe, receive and publish QoS 1, a clean
 * DISCONNECT; full-jitter backoff while the broker is down, without spinning,
 * also when the broker refuses our certificate; subscriptions renewed after a
 * broker restart; option checks.
 *
 * The session lives on the default main context. The tests iterate it
 * blocking (never polling), so the CPU time measured meanwhile is the
 * session's own.
 */
#include "config.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>

#include "hub-error.h"
#include "hub-mqtt-session.h"
#include "hub-openssl.h"
#include "hub-test-broker.h"
#include "hub-test-env.h"
#include "hub-test-mqtt.h"
#include "hub-test-pki.h"
#include "hub-tls-context.h"

#define CONNECT_TIMEOUT_MS 5000
#define MESSAGE_TIMEOUT_MS 5000
/* Wakes the blocking main loop so that waits can look at the broker log. */
#define TICK_MS 10
/* Timer and scheduling slack on top of a computed delay. */
#define SLACK_MS 150
/* next_attempt is computed, not measured: only clock granularity. */
#define NEXT_ATTEMPT_SLACK_US (2 * G_TIME_SPAN_MILLISECOND)
#define CPU_LIMIT_S 0.3

/* Small backoff, so that a test sees many attempts. */
#define FAST_BASE_MS     50
#define FAST_CAP_MS      400
#define FAST_INTERVAL_MS 20

/* One PKI, a foreign PKI and one broker for the binary; the tests that stop
 * a broker start their own. */
static struct {
	char *tmpdir;
	HubTestPki *pki;
	HubTestPki *other_pki;
	HubTestBroker *broker;
} world;

static const HubTlsOptions localhost = { .hostname = "localhost" };

static double cpu_seconds(void)
{
	struct rusage usage;

	g_assert_cmpint(getrusage(RUSAGE_SELF, &usage), ==, 0);
	return (double)(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
	       (double)(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

/* Main loop */

static gboolean tick(gpointer data)
{
	return G_SOURCE_CONTINUE;
}

/* Iterates the default context until @done(@data) or @timeout_ms; returns
 * the final @done(). */
static gboolean wait_for(gboolean (*done)(gpointer data), gpointer data, guint timeout_ms)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * G_TIME_SPAN_MILLISECOND;
	guint ticker = g_timeout_add(TICK_MS, tick, NULL);

	while (!done(data) && g_get_monotonic_time() < deadline)
		g_main_context_iteration(NULL, TRUE);
	g_source_remove(ticker);
	return done(data);
}

static gboolean set_true(gpointer data)
{
	*(gboolean *)data = TRUE;
	return G_SOURCE_REMOVE;
}

/* Lets the session run for @ms with nothing else waking the loop. */
static void run_for(guint ms)
{
	gboolean expired = FALSE;

	g_timeout_add(ms, set_true, &expired);
	while (!expired)
		g_main_context_iteration(NULL, TRUE);
}

/* TLS material */

static void chain_free(STACK_OF(X509) *chain)
{
	sk_X509_pop_free(chain, X509_free);
}

/* A context presenting a fresh certificate CN=@cn issued by @issuer and
 * trusting the broker's CA. */
static SSL_CTX *client_context(const char *cn, HubTestPki *issuer, const HubTlsOptions *options)
{
	g_autofree char *key_pem = NULL;
	g_autofree char *cert_pem = hub_test_pki_issue_client(issuer, cn, 30, &key_pem);
	g_autoptr(EVP_PKEY) key = hub_test_pem_to_key(key_pem);
	g_autoptr(GError) error = NULL;
	STACK_OF(X509) *chain = hub_test_pem_to_chain(cert_pem);
	STACK_OF(X509) *anchors = hub_test_pki_trust_anchors(world.pki);
	SSL_CTX *ctx = hub_tls_context_new(chain, key, anchors, options, &error);

	chain_free(chain);
	chain_free(anchors);
	g_assert_no_error(error);
	g_assert_nonnull(ctx);
	return ctx;
}

/* The context a session for localhost:@port needs, as the daemon builds it. */
static SSL_CTX *session_context(const char *cn, HubTestPki *issuer, guint16 port)
{
	HubTlsOptions options;

	hub_mqtt_session_tls_options("localhost", port, &options);
	g_assert_cmpstr(options.hostname, ==, "localhost");
	g_assert_null(options.alpn);
	return client_context(cn, issuer, &options);
}

static HubTestMqtt *peer_connect(const char *client_id, guint16 port)
{
	g_autoptr(SSL_CTX) ctx = client_context(client_id, world.pki, &localhost);
	HubTestMqtt *peer = hub_test_mqtt_new(client_id, ctx, MQTT_PROTOCOL_V311);
	g_autoptr(GError) error = NULL;

	hub_test_mqtt_connect(peer, "localhost", port, CONNECT_TIMEOUT_MS, &error);
	g_assert_no_error(error);
	return peer;
}

static void peer_publish(HubTestMqtt *peer, const char *topic, const char *payload)
{
	g_autoptr(GError) error = NULL;

	hub_test_mqtt_publish(peer, topic, payload, MESSAGE_TIMEOUT_MS, &error);
	g_assert_no_error(error);
}

/* Broker log */

static guint count_in(const char *text, const char *needle)
{
	guint count = 0;

	for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
		count++;
	return count;
}

static guint log_count(HubTestBroker *broker, const char *needle)
{
	g_autofree char *log = hub_test_broker_read_log(broker);

	return count_in(log, needle);
}

typedef struct {
	HubTestBroker *broker;
	const char *needle;
	guint count;
} LogGoal;

static gboolean log_reached(gpointer data)
{
	LogGoal *goal = data;

	return log_count(goal->broker, goal->needle) >= goal->count;
}

/* Waits, running the session, until the broker logged @needle @count times. */
static void assert_log_count(HubTestBroker *broker, const char *needle, guint count)
{
	LogGoal goal = { broker, needle, count };

	if (!wait_for(log_reached, &goal, MESSAGE_TIMEOUT_MS)) {
		g_autofree char *log = hub_test_broker_read_log(broker);

		g_error("The broker logged \"%s\" %u times, not %u, within %d ms; its log:\n%s", needle,
			log_count(broker, needle), count, MESSAGE_TIMEOUT_MS, log);
	}
}

/* Relay */

/* hub_test_broker_start() picks its own port, but a session keeps the one
 * it was given. It is given the relay's: closed, that port refuses
 * connections like a broker that is down; open, it forwards each connection
 * to the current broker, or with upstream 0 accepts connections and never
 * answers (a stalled broker). Remove the forwarding once the harness can
 * start a broker on a chosen port. */
typedef struct {
	guint16 port;
	guint16 upstream;
	GSocketService *service; /* NULL while closed */
	guint open_splices;
	GPtrArray *held;          /* GSocketConnection, with upstream 0 */
	GCancellable *held_reads; /* cancels reads on @held */
	guint open_held;          /* held connections the session has not closed */
	char sink[4096];
} Relay;

static void relay_init(Relay *relay)
{
	relay->port = hub_test_free_port();
	relay->held = g_ptr_array_new_with_free_func(g_object_unref);
	relay->held_reads = g_cancellable_new();
}

/* Reads and drops what a held connection sends, until it closes. */
static void held_read(GObject *source, GAsyncResult *result, gpointer user_data)
{
	Relay *relay = user_data;

	if (g_input_stream_read_finish(G_INPUT_STREAM(source), result, NULL) > 0) {
		g_input_stream_read_async(G_INPUT_STREAM(source), relay->sink, sizeof(relay->sink),
					  G_PRIORITY_DEFAULT, relay->held_reads, held_read, relay);
		return;
	}
	relay->open_held--;
}

static void relay_spliced(GObject *source, GAsyncResult *result, gpointer user_data)
{
	Relay *relay = user_data;

	/* A reset is how most relayed connections end here. */
	g_io_stream_splice_finish(result, NULL);
	relay->open_splices--;
}

static gboolean relay_incoming(GSocketService *service, GSocketConnection *downstream, GObject *source,
			       gpointer user_data)
{
	Relay *relay = user_data;
	g_autoptr(GSocketClient) client = g_socket_client_new();
	g_autoptr(GSocketConnection) upstream = NULL;
	g_autoptr(GError) error = NULL;

	if (!relay->upstream) {
		g_ptr_array_add(relay->held, g_object_ref(downstream));
		relay->open_held++;
		g_input_stream_read_async(g_io_stream_get_input_stream(G_IO_STREAM(downstream)), relay->sink,
					  sizeof(relay->sink), G_PRIORITY_DEFAULT, relay->held_reads, held_read, relay);
		return TRUE;
	}
	/* Blocking, but a loopback connect completes or fails at once. */
	upstream = g_socket_client_connect_to_host(client, "127.0.0.1", relay->upstream, NULL, &error);
	if (!upstream) {
		/* Dropping @downstream closes it: the session sees a reset. */
		g_test_message("Relay: no broker on port %u: %s", relay->upstream, error->message);
		return TRUE;
	}
	relay->open_splices++;
	g_io_stream_splice_async(G_IO_STREAM(downstream), G_IO_STREAM(upstream),
				 G_IO_STREAM_SPLICE_CLOSE_STREAM1 | G_IO_STREAM_SPLICE_CLOSE_STREAM2, G_PRIORITY_DEFAULT,
				 NULL, relay_spliced, relay);
	return TRUE;
}

static void relay_open(Relay *relay, guint16 upstream)
{
	g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
	g_autoptr(GSocketAddress) address = g_inet_socket_address_new(loopback, relay->port);
	g_autoptr(GError) error = NULL;

	g_assert_null(relay->service);
	relay->upstream = upstream;
	relay->service = g_socket_service_new();
	if (!g_socket_listener_add_address(G_SOCKET_LISTENER(relay->service), address, G_SOCKET_TYPE_STREAM,
					   G_SOCKET_PROTOCOL_TCP, NULL, NULL, &error))
		g_error("Relay: cannot listen on 127.0.0.1:%u: %s", relay->port, error->message);
	g_signal_connect(relay->service, "incoming", G_CALLBACK(relay_incoming), relay);
	g_socket_service_start(relay->service);
}

/* Stops listening; relayed connections end with either of their peers. */
static void relay_close(Relay *relay)
{
	if (!relay->service)
		return;
	g_socket_service_stop(relay->service);
	g_socket_listener_close(G_SOCKET_LISTENER(relay->service));
	g_clear_object(&relay->service);
}

static gboolean splices_closed(gpointer data)
{
	return ((Relay *)data)->open_splices == 0;
}

static gboolean held_closed(gpointer data)
{
	return ((Relay *)data)->open_held == 0;
}

/* Call once the session is freed: a relayed connection still open then is
 * a socket the session did not close. */
static void relay_finish(Relay *relay)
{
	relay_close(relay);
	if (!wait_for(splices_closed, relay, CONNECT_TIMEOUT_MS))
		g_error("%u relayed connections still open %d ms after the session was freed", relay->open_splices,
			CONNECT_TIMEOUT_MS);
	g_cancellable_cancel(relay->held_reads);
	if (!wait_for(held_closed, relay, CONNECT_TIMEOUT_MS))
		g_error("%u held reads still pending", relay->open_held);
	g_ptr_array_unref(relay->held);
	g_object_unref(relay->held_reads);
}

/* Recorder */

typedef struct {
	HubMqttState state;
	HubMqttState reported; /* hub_mqtt_session_get_state() in the callback */
	gint64 monotonic;
	gint64 real;
	gint64 next_attempt;
	char *last_error;
	guint attempts;
} Change;

typedef struct {
	char *topic;
	GBytes *payload;
} Received;

/* A session and everything its callbacks reported. */
typedef struct {
	HubMqttSession *session;
	GArray *changes;     /* Change */
	GPtrArray *messages; /* Received */
	GArray *published;   /* int */
} Recorder;

static void on_state_changed(HubMqttState state, gpointer user_data)
{
	Recorder *rec = user_data;
	Change change = { .state = state, .monotonic = g_get_monotonic_time(), .real = g_get_real_time() };

	/* NULL while hub_mqtt_session_free() runs. */
	if (rec->session) {
		change.reported = hub_mqtt_session_get_state(rec->session);
		change.next_attempt = hub_mqtt_session_get_next_attempt(rec->session);
		change.last_error = g_strdup(hub_mqtt_session_get_last_error(rec->session));
		change.attempts = hub_mqtt_session_get_attempts(rec->session);
	} else {
		change.reported = state;
	}
	g_test_message("state %s (attempt %u, next in %" G_GINT64_FORMAT " ms, last error: %s)",
		       hub_mqtt_state_to_string(state), change.attempts,
		       change.next_attempt ? (change.next_attempt - change.real) / 1000 : 0,
		       change.last_error ? change.last_error : "none");
	g_array_append_val(rec->changes, change);
}

static void on_message(const char *topic, const void *payload, gsize len, gpointer user_data)
{
	Recorder *rec = user_data;
	Received *received = g_new0(Received, 1);

	received->topic = g_strdup(topic);
	received->payload = g_bytes_new(payload, len);
	g_ptr_array_add(rec->messages, received);
}

static void on_published(int mid, gpointer user_data)
{
	Recorder *rec = user_data;

	g_array_append_val(rec->published, mid);
}

static const HubMqttCallbacks callbacks = {
	.state_changed = on_state_changed,
	.message = on_message,
	.published = on_published,
};

static void change_clear(gpointer data)
{
	g_free(((Change *)data)->last_error);
}

static void received_free(gpointer data)
{
	Received *received = data;

	g_free(received->topic);
	g_bytes_unref(received->payload);
	g_free(received);
}

static Recorder *recorder_new(const HubMqttOptions *options, SSL_CTX *tls_ctx)
{
	Recorder *rec = g_new0(Recorder, 1);
	g_autoptr(GError) error = NULL;

	rec->changes = g_array_new(FALSE, TRUE, sizeof(Change));
	g_array_set_clear_func(rec->changes, change_clear);
	rec->messages = g_ptr_array_new_with_free_func(received_free);
	rec->published = g_array_new(FALSE, FALSE, sizeof(int));
	rec->session = hub_mqtt_session_new(options, tls_ctx, &callbacks, rec, &error);
	g_assert_no_error(error);
	g_assert_nonnull(rec->session);
	g_assert_cmpint(hub_mqtt_session_get_state(rec->session), ==, HUB_MQTT_STATE_DISCONNECTED);
	g_assert_cmpuint(hub_mqtt_session_get_attempts(rec->session), ==, 0);
	g_assert_cmpint(hub_mqtt_session_get_next_attempt(rec->session), ==, 0);
	return rec;
}

/* Frees the session (its callbacks still count) and then the record. */
static void recorder_free_session(Recorder *rec)
{
	HubMqttSession *session = g_steal_pointer(&rec->session);

	hub_mqtt_session_free(session);
}

static void recorder_free(Recorder *rec)
{
	if (!rec)
		return;
	recorder_free_session(rec);
	g_array_unref(rec->changes);
	g_ptr_array_unref(rec->messages);
	g_array_unref(rec->published);
	g_free(rec);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Recorder, recorder_free)

static const Change *change_at(Recorder *rec, guint i)
{
	g_assert_cmpuint(i, <, rec->changes->len);
	return &g_array_index(rec->changes, Change, i);
}

static guint count_state(Recorder *rec, guint from, HubMqttState state)
{
	guint count = 0;

	for (guint i = from; i < rec->changes->len; i++)
		count += change_at(rec, i)->state == state;
	return count;
}

/* Index of the first change to @state at or after @from, or -1. */
static int find_state(Recorder *rec, guint from, HubMqttState state)
{
	for (guint i = from; i < rec->changes->len; i++)
		if (change_at(rec, i)->state == state)
			return (int)i;
	return -1;
}

static char *describe_changes(Recorder *rec)
{
	GString *text = g_string_new(NULL);
	gint64 start = rec->changes->len ? change_at(rec, 0)->monotonic : 0;

	for (guint i = 0; i < rec->changes->len; i++) {
		const Change *change = change_at(rec, i);

		g_string_append_printf(text, "  +%" G_GINT64_FORMAT " ms %s (%s)\n",
				       (change->monotonic - start) / 1000, hub_mqtt_state_to_string(change->state),
				       change->last_error ? change->last_error : "no error");
	}
	return g_string_free(text, FALSE);
}

typedef struct {
	Recorder *rec;
	HubMqttState state;
	gboolean equal;
} StateGoal;

static gboolean state_reached(gpointer data)
{
	StateGoal *goal = data;

	return (hub_mqtt_session_get_state(goal->rec->session) == goal->state) == goal->equal;
}

static void assert_state_within(Recorder *rec, HubMqttState state, gboolean equal, guint timeout_ms)
{
	StateGoal goal = { rec, state, equal };

	if (!wait_for(state_reached, &goal, timeout_ms)) {
		g_autofree char *history = describe_changes(rec);

		g_error("The session is %s, expected %s%s within %u ms; its states:\n%s",
			hub_mqtt_state_to_string(hub_mqtt_session_get_state(rec->session)), equal ? "" : "to leave ",
			hub_mqtt_state_to_string(state), timeout_ms, history);
	}
}

static gboolean has_messages(gpointer data)
{
	Recorder *rec = ((gpointer *)data)[0];

	return rec->messages->len >= GPOINTER_TO_UINT(((gpointer *)data)[1]);
}

/* Waits for message number @n (from 1) and checks it. */
static void assert_message(Recorder *rec, guint n, const char *topic, const char *payload)
{
	gpointer goal[] = { rec, GUINT_TO_POINTER(n) };
	Received *received;
	gsize len;
	const char *data;

	if (!wait_for(has_messages, goal, MESSAGE_TIMEOUT_MS))
		g_error("Message %u (%s on %s) did not arrive within %d ms (%u did)", n, payload, topic,
			MESSAGE_TIMEOUT_MS, rec->messages->len);
	received = g_ptr_array_index(rec->messages, n - 1);
	g_assert_cmpstr(received->topic, ==, topic);
	data = g_bytes_get_data(received->payload, &len);
	g_assert_cmpmem(data, len, payload, strlen(payload));
}

static gboolean has_published(gpointer data)
{
	Recorder *rec = ((gpointer *)data)[0];
	int mid = GPOINTER_TO_INT(((gpointer *)data)[1]);

	for (guint i = 0; i < rec->published->len; i++)
		if (g_array_index(rec->published, int, i) == mid)
			return TRUE;
	return FALSE;
}

/* After stop() nothing more is attempted. */
static void assert_stays_stopped(Recorder *rec)
{
	guint attempts;

	assert_state_within(rec, HUB_MQTT_STATE_DISCONNECTED, TRUE, 2000);
	attempts = hub_mqtt_session_get_attempts(rec->session);
	run_for(5 * FAST_CAP_MS / 4);
	g_assert_cmpint(hub_mqtt_session_get_state(rec->session), ==, HUB_MQTT_STATE_DISCONNECTED);
	g_assert_cmpuint(hub_mqtt_session_get_attempts(rec->session), ==, attempts);
	g_assert_cmpint(hub_mqtt_session_get_next_attempt(rec->session), ==, 0);
}

/* Whether a BACKING_OFF @change after @failures earlier ones waits exactly
 * min(cap, base * 2^k), k counted from 0 or 1: a schedule without jitter. */
static gboolean on_fixed_schedule(const Change *change, guint failures)
{
	gint64 delay = change->next_attempt - change->real;

	for (guint k = failures; k <= failures + 1; k++) {
		gint64 ceiling = MIN(FAST_CAP_MS, (gint64)FAST_BASE_MS << MIN(k, 16u)) * G_TIME_SPAN_MILLISECOND;

		if (ABS(delay - ceiling) <= NEXT_ATTEMPT_SLACK_US)
			return TRUE;
	}
	return FALSE;
}

static char *make_dir(const char *name)
{
	char *dir = g_build_filename(world.tmpdir, name, NULL);

	g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
	return dir;
}

/* Tests */

static void test_connect_publish_subscribe(void)
{
	const char *id = "hub-session-basic";
	g_autofree char *all = g_strdup_printf("hub/%s/#", id);
	g_autofree char *down = g_strdup_printf("hub/%s/down", id);
	g_autofree char *up = g_strdup_printf("hub/%s/up", id);
	g_autofree char *disconnected = g_strdup_printf("Client %s disconnected.", id);
	g_autofree char *log = NULL;
	g_autofree char *payload = NULL;
	g_auto(GStrv) lines = NULL;
	g_autoptr(SSL_CTX) ctx = NULL;
	g_autoptr(Recorder) rec = NULL;
	g_autoptr(HubTestMqtt) peer = NULL;
	g_autoptr(GError) error = NULL;
	HubMqttOptions options;
	gpointer published[2];
	guint16 port;
	int mid = 0;

	if (!hub_test_broker_require(world.broker))
		return;
	port = hub_test_broker_port(world.broker);
	ctx = session_context(id, world.pki, port);
	options = (HubMqttOptions){ .host = "localhost", .port = port, .client_id = id };
	rec = recorder_new(&options, ctx);

	hub_mqtt_session_start(rec->session);
	assert_state_within(rec, HUB_MQTT_STATE_CONNECTED, TRUE, CONNECT_TIMEOUT_MS);
	g_assert_cmpuint(rec->changes->len, ==, 2);
	g_assert_cmpint(change_at(rec, 0)->state, ==, HUB_MQTT_STATE_CONNECTING);
	g_assert_cmpint(change_at(rec, 1)->state, ==, HUB_MQTT_STATE_CONNECTED);
	g_assert_cmpint(change_at(rec, 1)->reported, ==, HUB_MQTT_STATE_CONNECTED);
	g_assert_cmpint(change_at(rec, 1)->next_attempt, ==, 0);
	g_assert_null(hub_mqtt_session_get_last_error(rec->session));
	g_assert_cmpuint(hub_mqtt_session_get_attempts(rec->session), ==, 1);
	g_test_message("Connected in %" G_GINT64_FORMAT " ms",
		       (change_at(rec, 1)->monotonic - change_at(rec, 0)->monotonic) / 1000);

	g_assert_true(hub_mqtt_session_subscribe(rec->session, all, 1, &error));
	g_assert_no_error(error);
	/* The broker logs "<client id> <qos> <topic>" for each subscription. */
	assert_log_count(world.broker, all, 1);

	peer = peer_connect("hub-session-basic-peer", port);
	hub_test_mqtt_subscribe(peer, up, MESSAGE_TIMEOUT_MS, &error);
	g_assert_no_error(error);
	peer_publish(peer, down, "to the hub");
	assert_message(rec, 1, down, "to the hub");

	g_assert_true(hub_mqtt_session_publish(rec->session, up, "from the hub", strlen("from the hub"), 1, FALSE,
					       &mid, &error));
	g_assert_no_error(error);
	g_assert_cmpint(mid, >, 0);
	published[0] = rec;
	published[1] = GINT_TO_POINTER(mid);
	if (!wait_for(has_published, published, MESSAGE_TIMEOUT_MS))
		g_error("published(%d) not called within %d ms (%u other calls)", mid, MESSAGE_TIMEOUT_MS,
			rec->published->len);
	payload = hub_test_mqtt_wait_message(peer, up, MESSAGE_TIMEOUT_MS, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(payload, ==, "from the hub");

	hub_mqtt_session_stop(rec->session);
	assert_stays_stopped(rec);
	g_assert_cmpint(change_at(rec, rec->changes->len - 1)->state, ==, HUB_MQTT_STATE_DISCONNECTED);
	/* "disconnected." only follows a DISCONNECT packet; a dropped socket
	 * is "closed its connection". */
	assert_log_count(world.broker, disconnected, 1);
	log = hub_test_broker_read_log(world.broker);
	lines = g_strsplit(log, "\n", -1);
	for (guint i = 0; lines[i]; i++) {
		g_autofree char *lower = g_ascii_strdown(lines[i], -1);

		if (strstr(lines[i], id) && strstr(lower, "protocol error"))
			g_error("The broker saw a protocol error from the session: %s", lines[i]);
	}
}

static void test_broker_down_at_start(void)
{
	const char *id = "hub-session-down";
	g_autofree char *all = g_strdup_printf("hub/%s/#", id);
	g_autofree char *down = g_strdup_printf("hub/%s/down", id);
	g_autofree char *dir = NULL;
	g_autofree char *history = NULL;
	g_autoptr(SSL_CTX) ctx = NULL;
	g_autoptr(Recorder) rec = NULL;
	g_autoptr(HubTestBroker) broker = NULL;
	g_autoptr(HubTestMqtt) peer = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GArray) gaps = g_array_new(FALSE, FALSE, sizeof(gint64));
	Relay relay = { 0 };
	HubMqttOptions options = { .host = "localhost",
				   .client_id = id,
				   .backoff_base_ms = FAST_BASE_MS,
				   .backoff_cap_ms = FAST_CAP_MS,
				   .connect_interval_ms = FAST_INTERVAL_MS };
	gint64 last_connecting = 0, min_gap = G_MAXINT64, max_gap = 0, up_at;
	guint failures = 0, jittered = 0, mark;
	double cpu;
	int backoff;

	if (!hub_test_broker_require(world.broker))
		return;
	relay_init(&relay);
	options.port = relay.port;
	ctx = session_context(id, world.pki, relay.port);
	rec = recorder_new(&options, ctx);
	/* Remembered now, sent on the first connect. */
	g_assert_true(hub_mqtt_session_subscribe(rec->session, all, 1, &error));
	g_assert_no_error(error);

	cpu = cpu_seconds();
	hub_mqtt_session_start(rec->session);
	run_for(1500);
	cpu = cpu_seconds() - cpu;
	history = describe_changes(rec);
	g_test_message("Backing off for 1.5 s took %.3f s of CPU; states:\n%s", cpu, history);
	g_assert_cmpfloat(cpu, <, CPU_LIMIT_S);

	for (guint i = 0; i < rec->changes->len; i++) {
		const Change *change = change_at(rec, i);

		g_assert_cmpint(change->reported, ==, change->state);
		if (i > 0)
			g_assert_cmpint(change->state, !=, change_at(rec, i - 1)->state);
		if (change->state == HUB_MQTT_STATE_CONNECTING) {
			g_assert_cmpint(change->next_attempt, ==, 0);
			if (last_connecting) {
				gint64 gap = change->monotonic - last_connecting;

				g_array_append_val(gaps, gap);
				min_gap = MIN(min_gap, gap);
				max_gap = MAX(max_gap, gap);
			}
			last_connecting = change->monotonic;
		} else {
			/* The k-th delay is at most base * 2^k, k from 0 or 1. */
			gint64 bound_ms = MAX(FAST_INTERVAL_MS, MIN(FAST_CAP_MS, FAST_BASE_MS << MIN(failures + 1, 16)));

			g_assert_cmpint(change->state, ==, HUB_MQTT_STATE_BACKING_OFF);
			g_assert_cmpint(change->next_attempt, >, change->real);
			g_assert_cmpint(change->next_attempt - change->real, <=,
					bound_ms * G_TIME_SPAN_MILLISECOND + NEXT_ATTEMPT_SLACK_US);
			g_assert_nonnull(change->last_error);
			g_assert_cmpstr(change->last_error, !=, "");
			if (!on_fixed_schedule(change, failures))
				jittered++;
			failures++;
		}
	}
	g_assert_cmpuint(count_state(rec, 0, HUB_MQTT_STATE_CONNECTING), >=, 4);
	g_assert_cmpuint(hub_mqtt_session_get_attempts(rec->session), ==,
			 count_state(rec, 0, HUB_MQTT_STATE_CONNECTING));
	for (guint i = 0; i < gaps->len; i++) {
		gint64 gap = g_array_index(gaps, gint64, i);

		g_test_message("Gap %u between attempts: %.1f ms", i + 1, (double)gap / 1000);
		/* 1 ms: the callback runs a moment after the connect it reports. */
		g_assert_cmpint(gap, >=, (FAST_INTERVAL_MS - 1) * G_TIME_SPAN_MILLISECOND);
		g_assert_cmpint(gap, <=, (FAST_CAP_MS + SLACK_MS) * G_TIME_SPAN_MILLISECOND);
	}
	/* Jitter: neither equal gaps nor delays of exactly base * 2^k. */
	g_assert_cmpint(max_gap - min_gap, >=, 10 * G_TIME_SPAN_MILLISECOND);
	g_assert_cmpuint(jittered, >=, 1);
	g_assert_cmpint(hub_mqtt_session_get_state(rec->session), !=, HUB_MQTT_STATE_CONNECTED);

	/* The broker comes up on the port the session keeps trying. */
	dir = make_dir("down-at-start");
	broker = hub_test_broker_start(world.pki, dir);
	relay_open(&relay, hub_test_broker_port(broker));
	up_at = g_get_monotonic_time();
	assert_state_within(rec, HUB_MQTT_STATE_CONNECTED, TRUE, CONNECT_TIMEOUT_MS);
	g_test_message("Connected %" G_GINT64_FORMAT " ms after the broker came up",
		       (g_get_monotonic_time() - up_at) / 1000);
	g_assert_cmpint(g_get_monotonic_time() - up_at, <, (FAST_CAP_MS + 1000) * G_TIME_SPAN_MILLISECOND);
	assert_log_count(broker, all, 1);
	peer = peer_connect("hub-session-down-peer", hub_test_broker_port(broker));
	peer_publish(peer, down, "subscribed before start");
	assert_message(rec, 1, down, "subscribed before start");
	g_clear_pointer(&peer, hub_test_mqtt_free);

	/* A CONNACK reset the backoff: the next failure waits a short delay. */
	mark = rec->changes->len;
	relay_close(&relay);
	hub_test_broker_stop(broker);
	assert_state_within(rec, HUB_MQTT_STATE_BACKING_OFF, TRUE, CONNECT_TIMEOUT_MS);
	backoff = find_state(rec, mark, HUB_MQTT_STATE_BACKING_OFF);
	g_assert_cmpint(backoff, >, 0);
	{
		const Change *change = change_at(rec, (guint)backoff);
		gboolean direct = change_at(rec, (guint)backoff - 1)->state == HUB_MQTT_STATE_CONNECTED;
		gint64 bound_ms = MAX(FAST_INTERVAL_MS, FAST_BASE_MS * (direct ? 2 : 4));

		g_test_message("First delay after losing the broker: %" G_GINT64_FORMAT " ms (at most %" G_GINT64_FORMAT
			       " ms)",
			       (change->next_attempt - change->real) / 1000, bound_ms);
		g_assert_nonnull(change->last_error);
		g_assert_cmpint(change->next_attempt - change->real, <=,
				bound_ms * G_TIME_SPAN_MILLISECOND + NEXT_ATTEMPT_SLACK_US);
	}

	hub_mqtt_session_stop(rec->session);
	assert_stays_stopped(rec);
	recorder_free_session(rec);
	relay_finish(&relay);
}

/* The broker refuses our certificate, for 2 s: retries with backoff, no
 * spinning. @max_version: 0, or TLS1_2_VERSION, where the broker's alert
 * arrives during the handshake (TLS 1.3 reports it after ours is done). */
static void assert_refused_without_spinning(const char *id, int max_version)
{
	g_autofree char *history = NULL;
	g_autoptr(SSL_CTX) ctx = NULL;
	g_autoptr(Recorder) rec = NULL;
	HubMqttOptions options;
	guint refusals;
	double cpu;

	/* Issued by a CA the broker does not trust; the broker's own is trusted. */
	ctx = session_context(id, world.other_pki, hub_test_broker_port(world.broker));
	if (max_version)
		g_assert_true(SSL_CTX_set_max_proto_version(ctx, max_version));
	options = (HubMqttOptions){ .host = "localhost",
				    .port = hub_test_broker_port(world.broker),
				    .client_id = id,
				    .backoff_base_ms = 100,
				    .backoff_cap_ms = 800,
				    .connect_interval_ms = 50 };
	rec = recorder_new(&options, ctx);
	refusals = log_count(world.broker, "certificate verify failed");

	cpu = cpu_seconds();
	hub_mqtt_session_start(rec->session);
	run_for(2000);
	cpu = cpu_seconds() - cpu;
	history = describe_changes(rec);
	g_test_message("%s refused for 2 s: %u attempts, %.3f s of CPU; states:\n%s", max_version ? "TLS 1.2" : "TLS",
		       hub_mqtt_session_get_attempts(rec->session), cpu, history);
	g_assert_cmpfloat(cpu, <, CPU_LIMIT_S);

	g_assert_cmpint(find_state(rec, 0, HUB_MQTT_STATE_CONNECTED), ==, -1);
	g_assert_cmpuint(hub_mqtt_session_get_attempts(rec->session), >, 1);
	g_assert_cmpuint(count_state(rec, 0, HUB_MQTT_STATE_BACKING_OFF), >=, 1);
	g_assert_nonnull(hub_mqtt_session_get_last_error(rec->session));
	g_assert_cmpstr(hub_mqtt_session_get_last_error(rec->session), !=, "");
	/* It was the TLS refusal, not something else. */
	assert_log_count(world.broker, "certificate verify failed", refusals + 1);
	/* Over TLS 1.2 the broker's alert reaches us; the error names it. */
	if (max_version)
		g_assert_nonnull(strstr(hub_mqtt_session_get_last_error(rec->session), "unknown ca"));

	hub_mqtt_session_stop(rec->session);
	assert_stays_stopped(rec);
}

static void test_tls_refused_no_busy_loop(void)
{
	if (!hub_test_broker_require(world.broker))
		return;
	assert_refused_without_spinning("hub-session-foreign", 0);
	assert_refused_without_spinning("hub-session-foreign-tls12", TLS1_2_VERSION);
}

/* A publish lost with its connection is not sent again by the session
 * (libmosquitto would resend it after the next CONNACK): its owner decides. */
static void test_lost_publish_not_resent(void)
{
	const char *id = "hub-session-lost";
	g_autofree char *up = g_strdup_printf("hub/%s/up", id);
	g_autofree char *dir = make_dir("lost");
	g_autofree char *first = NULL;
	g_autoptr(SSL_CTX) ctx = NULL;
	g_autoptr(Recorder) rec = NULL;
	g_autoptr(HubTestBroker) broker = NULL;
	g_autoptr(HubTestMqtt) peer = NULL;
	g_autoptr(GError) error = NULL;
	Relay relay = { 0 };
	HubMqttOptions options = { .host = "localhost",
				   .client_id = id,
				   .backoff_base_ms = FAST_BASE_MS,
				   .backoff_cap_ms = FAST_CAP_MS,
				   .connect_interval_ms = FAST_INTERVAL_MS };
	gpointer published[2];
	guint mark;
	int mid = 0;

	if (!hub_test_broker_require(world.broker))
		return;
	relay_init(&relay);
	options.port = relay.port;
	broker = hub_test_broker_start(world.pki, dir);
	relay_open(&relay, hub_test_broker_port(broker));
	ctx = session_context(id, world.pki, relay.port);
	rec = recorder_new(&options, ctx);
	hub_mqtt_session_start(rec->session);
	assert_state_within(rec, HUB_MQTT_STATE_CONNECTED, TRUE, CONNECT_TIMEOUT_MS);

	/* Sent, never acknowledged: the broker is frozen, then dies. */
	hub_test_broker_pause(broker);
	g_assert_true(hub_mqtt_session_publish(rec->session, up, "lost", 4, 1, FALSE, &mid, &error));
	g_assert_no_error(error);
	run_for(100);
	mark = rec->changes->len;
	relay_close(&relay);
	hub_test_broker_kill(broker);
	assert_state_within(rec, HUB_MQTT_STATE_CONNECTED, FALSE, CONNECT_TIMEOUT_MS);
	g_assert_cmpuint(rec->published->len, ==, 0);

	g_clear_pointer(&broker, hub_test_broker_free);
	broker = hub_test_broker_start(world.pki, dir);
	peer = peer_connect("hub-session-lost-peer", hub_test_broker_port(broker));
	hub_test_mqtt_subscribe(peer, up, MESSAGE_TIMEOUT_MS, &error);
	g_assert_no_error(error);
	relay_open(&relay, hub_test_broker_port(broker));
	assert_state_within(rec, HUB_MQTT_STATE_CONNECTED, TRUE, CONNECT_TIMEOUT_MS);
	g_assert_cmpint(find_state(rec, mark, HUB_MQTT_STATE_CONNECTED), >=, (int)mark);
	g_assert_true(hub_mqtt_session_publish(rec->session, up, "after", 5, 1, FALSE, &mid, &error));
	g_assert_no_error(error);
	published[0] = rec;
	published[1] = GINT_TO_POINTER(mid);
	g_assert_true(wait_for(has_published, published, MESSAGE_TIMEOUT_MS));
	/* A resend would come first, on the same connection. */
	first = hub_test_mqtt_wait_message(peer, up, MESSAGE_TIMEOUT_MS, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(first, ==, "after");

	hub_mqtt_session_stop(rec->session);
	relay_close(&relay);
	recorder_free_session(rec);
	relay_finish(&relay);
}

static void test_reconnect_after_broker_restart(void)
{
	const char *id = "hub-session-restart";
	g_autofree char *all = g_strdup_printf("hub/%s/#", id);
	g_autofree char *down = g_strdup_printf("hub/%s/down", id);
	g_autofree char *dir = NULL;
	g_autoptr(SSL_CTX) ctx = NULL;
	g_autoptr(Recorder) rec = NULL;
	g_autoptr(HubTestBroker) broker = NULL;
	g_autoptr(HubTestMqtt) peer = NULL;
	g_autoptr(GError) error = NULL;
	Relay relay = { 0 };
	HubMqttOptions options = { .host = "localhost",
				   .client_id = id,
				   .backoff_base_ms = FAST_BASE_MS,
				   .backoff_cap_ms = FAST_CAP_MS,
				   .connect_interval_ms = FAST_INTERVAL_MS };
	guint mark, subscriptions;
	gint64 restarted_at;

	if (!hub_test_broker_require(world.broker))
		return;
	relay_init(&relay);
	options.port = relay.port;
	dir = make_dir("restart");
	broker = hub_test_broker_start(world.pki, dir);
	relay_open(&relay, hub_test_broker_port(broker));
	ctx = session_context(id, world.pki, relay.port);
	rec = recorder_new(&options, ctx);
	hub_mqtt_session_start(rec->session);
	assert_state_within(rec, HUB_MQTT_STATE_CONNECTED, TRUE, CONNECT_TIMEOUT_MS);
	g_assert_true(hub_mqtt_session_subscribe(rec->session, all, 1, &error));
	g_assert_no_error(error);
	assert_log_count(broker, all, 1);
	peer = peer_connect("hub-session-restart-peer", hub_test_broker_port(broker));
	peer_publish(peer, down, "before the restart");
	assert_message(rec, 1, down, "before the restart");
	g_clear_pointer(&peer, hub_test_mqtt_free);

	mark = rec->changes->len;
	subscriptions = log_count(broker, all);
	relay_close(&relay);
	hub_test_broker_stop(broker);
	assert_state_within(rec, HUB_MQTT_STATE_CONNECTED, FALSE, CONNECT_TIMEOUT_MS);
	g_assert_nonnull(hub_mqtt_session_get_last_error(rec->session));
	run_for(2 * FAST_CAP_MS);
	g_assert_cmpint(find_state(rec, mark, HUB_MQTT_STATE_CONNECTED), ==, -1);

	/* Same directory, so the log goes on; another port behind the relay. */
	g_clear_pointer(&broker, hub_test_broker_free);
	broker = hub_test_broker_start(world.pki, dir);
	relay_open(&relay, hub_test_broker_port(broker));
	restarted_at = g_get_monotonic_time();
	assert_state_within(rec, HUB_MQTT_STATE_CONNECTED, TRUE, CONNECT_TIMEOUT_MS);
	g_test_message("Reconnected %" G_GINT64_FORMAT " ms after the broker came back",
		       (g_get_monotonic_time() - restarted_at) / 1000);
	g_assert_cmpint(find_state(rec, mark, HUB_MQTT_STATE_BACKING_OFF), >=, (int)mark);
	/* Renewed by the session: this test subscribed only once. */
	assert_log_count(broker, all, subscriptions + 1);
	peer = peer_connect("hub-session-restart-peer", hub_test_broker_port(broker));
	peer_publish(peer, down, "after the restart");
	assert_message(rec, 2, down, "after the restart");
	g_clear_pointer(&peer, hub_test_mqtt_free);

	hub_mqtt_session_stop(rec->session);
	assert_stays_stopped(rec);
	/* DISCONNECT, then the session closes: the relayed connection ends. */
	relay_close(&relay);
	if (!wait_for(splices_closed, &relay, 2000))
		g_error("The connection is still open 2 s after stop()");
	recorder_free_session(rec);
	relay_finish(&relay);
}

static void assert_options_refused(const HubMqttOptions *options, const char *field)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(HubMqttSession) session = hub_mqtt_session_new(options, NULL, &callbacks, NULL, &error);

	if (session)
		g_error("Accepted, expected an error naming \"%s\": host %s, port %u, client id %s (%zu characters), "
			"keepalive %u s, backoff %u-%u ms",
			field, options->host ? options->host : "NULL", options->port,
			options->client_id ? options->client_id : "NULL",
			options->client_id ? strlen(options->client_id) : 0, options->keepalive_s,
			options->backoff_base_ms, options->backoff_cap_ms);
	g_assert_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT);
	if (!strstr(error->message, field))
		g_error("Expected \"%s\" in \"%s\"", field, error->message);
}

static void assert_options_accepted(const HubMqttOptions *options)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(HubMqttSession) session = hub_mqtt_session_new(options, NULL, &callbacks, NULL, &error);

	g_assert_no_error(error);
	g_assert_nonnull(session);
	g_assert_cmpint(hub_mqtt_session_get_state(session), ==, HUB_MQTT_STATE_DISCONNECTED);
}

static void test_bad_options(void)
{
	const HubMqttOptions good = { .host = "localhost", .port = 8883, .client_id = "hub-session-options" };
	g_autofree char *id_200 = g_strnfill(200, 'a');
	g_autofree char *id_128 = g_strnfill(128, 'a');
	g_autofree char *id_129 = g_strnfill(129, 'a');
	HubMqttOptions options;

	assert_options_accepted(&good);
	hub_mqtt_session_free(NULL);

	options = good;
	options.keepalive_s = 10;
	assert_options_refused(&options, "keepalive");
	options.keepalive_s = HUB_MQTT_KEEPALIVE_MIN - 1;
	assert_options_refused(&options, "keepalive");
	options.keepalive_s = HUB_MQTT_KEEPALIVE_MAX + 1;
	assert_options_refused(&options, "keepalive");
	options.keepalive_s = 30;
	assert_options_accepted(&options);
	options.keepalive_s = 1200;
	assert_options_accepted(&options);
	options.keepalive_s = 0; /* the default */
	assert_options_accepted(&options);

	options = good;
	options.host = NULL;
	assert_options_refused(&options, "host");
	options.host = "";
	assert_options_refused(&options, "host");

	options = good;
	options.port = 0;
	assert_options_refused(&options, "port");

	/* "client" matches "client_id" and "client id". */
	options = good;
	options.client_id = NULL;
	assert_options_refused(&options, "client");
	options.client_id = "";
	assert_options_refused(&options, "client");
	options.client_id = id_200;
	assert_options_refused(&options, "client");
	options.client_id = id_129;
	assert_options_refused(&options, "client");
	options.client_id = id_128;
	assert_options_accepted(&options);

	options = good;
	options.backoff_base_ms = 1000;
	options.backoff_cap_ms = 999;
	assert_options_refused(&options, "cap");
	options.backoff_cap_ms = 1000;
	assert_options_accepted(&options);
}

static void test_publish_while_disconnected(void)
{
	g_autoptr(Recorder) rec = NULL;
	g_autoptr(GError) error = NULL;
	HubMqttOptions options = { .host = "127.0.0.1",
				   .port = hub_test_free_port(),
				   .client_id = "hub-session-offline",
				   .backoff_base_ms = FAST_BASE_MS,
				   .backoff_cap_ms = FAST_CAP_MS,
				   .connect_interval_ms = FAST_INTERVAL_MS };
	int mid = -1;

	/* Plain TCP to a closed port: this never gets as far as TLS. */
	rec = recorder_new(&options, NULL);
	g_assert_null(hub_mqtt_session_get_last_error(rec->session));
	g_assert_false(hub_mqtt_session_publish(rec->session, "hub/offline/up", "x", 1, 1, FALSE, &mid, &error));
	g_assert_error(error, HUB_ERROR, HUB_ERROR_UNAVAILABLE);
	g_clear_error(&error);

	hub_mqtt_session_start(rec->session);
	assert_state_within(rec, HUB_MQTT_STATE_BACKING_OFF, TRUE, CONNECT_TIMEOUT_MS);
	g_assert_false(hub_mqtt_session_publish(rec->session, "hub/offline/up", "x", 1, 1, FALSE, &mid, &error));
	g_assert_error(error, HUB_ERROR, HUB_ERROR_UNAVAILABLE);
	g_clear_error(&error);

	hub_mqtt_session_stop(rec->session);
	assert_stays_stopped(rec);
	g_assert_false(hub_mqtt_session_publish(rec->session, "hub/offline/up", "x", 1, 0, FALSE, NULL, &error));
	g_assert_error(error, HUB_ERROR, HUB_ERROR_UNAVAILABLE);
}

/* Options for the shared broker with a connect interval. */
static HubMqttOptions interval_options(const char *id, guint interval_ms)
{
	return (HubMqttOptions){ .host = "localhost",
				 .port = hub_test_broker_port(world.broker),
				 .client_id = id,
				 .connect_interval_ms = interval_ms };
}

/* Brokers throttle connects per client id (AWS IoT: one a second): a
 * stop() and start() must not connect sooner than the interval. */
static void test_restart_respects_connect_interval(void)
{
	const char *id = "hub-session-interval";
	const guint interval_ms = 500;
	g_autoptr(SSL_CTX) ctx = NULL;
	g_autoptr(Recorder) rec = NULL;
	HubMqttOptions options;
	gint64 gap;
	int second;

	if (!hub_test_broker_require(world.broker))
		return;
	ctx = session_context(id, world.pki, hub_test_broker_port(world.broker));
	options = interval_options(id, interval_ms);
	rec = recorder_new(&options, ctx);
	hub_mqtt_session_start(rec->session);
	assert_state_within(rec, HUB_MQTT_STATE_CONNECTED, TRUE, CONNECT_TIMEOUT_MS);
	hub_mqtt_session_stop(rec->session);
	hub_mqtt_session_start(rec->session);
	assert_state_within(rec, HUB_MQTT_STATE_CONNECTED, TRUE, CONNECT_TIMEOUT_MS + interval_ms);
	second = find_state(rec, 1, HUB_MQTT_STATE_CONNECTING);
	g_assert_cmpint(second, >, 0);
	gap = change_at(rec, (guint)second)->monotonic - change_at(rec, 0)->monotonic;
	g_test_message("stop() + start(): connected again %.1f ms after the previous connect", (double)gap / 1000);
	if (gap < (gint64)(interval_ms - 1) * G_TIME_SPAN_MILLISECOND)
		g_test_fail_printf("start() connected %.1f ms after the previous connect of %s; the connect "
				   "interval is %u ms",
				   (double)gap / 1000, id, interval_ms);
	hub_mqtt_session_stop(rec->session);
}

/* "least time between two connects of this client id": also when the
 * daemon replaces the session (a renewed certificate). */
static void test_connect_interval_per_client_id(void)
{
	const char *id = "hub-session-same-id";
	const guint interval_ms = 500;
	g_autoptr(SSL_CTX) ctx = NULL;
	g_autoptr(Recorder) first = NULL;
	g_autoptr(Recorder) second = NULL;
	HubMqttOptions options;
	gint64 gap;

	if (!hub_test_broker_require(world.broker))
		return;
	ctx = session_context(id, world.pki, hub_test_broker_port(world.broker));
	options = interval_options(id, interval_ms);
	first = recorder_new(&options, ctx);
	hub_mqtt_session_start(first->session);
	assert_state_within(first, HUB_MQTT_STATE_CONNECTED, TRUE, CONNECT_TIMEOUT_MS);
	recorder_free_session(first);
	second = recorder_new(&options, ctx);
	hub_mqtt_session_start(second->session);
	assert_state_within(second, HUB_MQTT_STATE_CONNECTED, TRUE, CONNECT_TIMEOUT_MS + interval_ms);
	gap = change_at(second, find_state(second, 0, HUB_MQTT_STATE_CONNECTING))->monotonic -
	      change_at(first, 0)->monotonic;
	g_test_message("A second session for %s connected %.1f ms after the first", id, (double)gap / 1000);
	if (gap < (gint64)(interval_ms - 1) * G_TIME_SPAN_MILLISECOND)
		g_test_fail_printf("A new session for client id %s connected %.1f ms after the previous one; the "
				   "connect interval is %u ms",
				   id, (double)gap / 1000, interval_ms);
	hub_mqtt_session_stop(second->session);
}

/* A broker that accepts TCP and never answers: stop() must not leave that
 * connection open (DISCONNECTED is "stopped"; a late CONNACK would make the
 * broker see a client nobody serves). */
static void test_stop_closes_pending_connect(void)
{
	g_autoptr(Recorder) rec = NULL;
	g_autoptr(SSL_CTX) ctx = NULL;
	Relay relay = { 0 };
	HubMqttOptions options = { .host = "localhost", .client_id = "hub-session-stalled" };
	gboolean closed;

	if (!hub_test_broker_require(world.broker))
		return;
	relay_init(&relay);
	options.port = relay.port;
	relay_open(&relay, 0);
	ctx = session_context(options.client_id, world.pki, relay.port);
	rec = recorder_new(&options, ctx);
	hub_mqtt_session_start(rec->session);
	run_for(300);
	g_assert_cmpuint(relay.held->len, ==, 1);
	g_assert_cmpint(hub_mqtt_session_get_state(rec->session), ==, HUB_MQTT_STATE_CONNECTING);

	hub_mqtt_session_stop(rec->session);
	g_assert_cmpint(hub_mqtt_session_get_state(rec->session), ==, HUB_MQTT_STATE_DISCONNECTED);
	closed = wait_for(held_closed, &relay, 1000);
	if (!closed)
		g_test_fail_printf("stop() during CONNECTING left the connection open (checked for 1 s); "
				   "only hub_mqtt_session_free() closes it");
	recorder_free_session(rec);
	relay_finish(&relay);
}

/* A broker that accepts TCP and never answers: the attempt fails after the
 * connect timeout instead of waiting for the keepalive (300 s by default). */
static void test_connect_timeout(void)
{
	g_autoptr(Recorder) rec = NULL;
	g_autoptr(SSL_CTX) ctx = NULL;
	Relay relay = { 0 };
	HubMqttOptions options = { .host = "localhost", .client_id = "hub-session-timeout", .connect_timeout_ms = 400,
				   .backoff_base_ms = 5000, .backoff_cap_ms = 5000 };
	gint64 start;

	if (!hub_test_broker_require(world.broker))
		return;
	relay_init(&relay);
	options.port = relay.port;
	relay_open(&relay, 0);
	ctx = session_context(options.client_id, world.pki, relay.port);
	rec = recorder_new(&options, ctx);
	start = g_get_monotonic_time();
	hub_mqtt_session_start(rec->session);
	assert_state_within(rec, HUB_MQTT_STATE_BACKING_OFF, TRUE, 3000);
	g_assert_cmpint(g_get_monotonic_time() - start, >=, 400 * G_TIME_SPAN_MILLISECOND);
	g_assert_nonnull(strstr(hub_mqtt_session_get_last_error(rec->session), "timed out"));
	hub_mqtt_session_stop(rec->session);
	recorder_free_session(rec);
	relay_finish(&relay);
}

int main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *pki_dir = NULL;
	g_autofree char *other_dir = NULL;
	int status;

	g_test_init(&argc, &argv, NULL);
	/* As hubd does (hub-main.c): OpenSSL write()s to sockets the broker
	 * may have reset. */
	signal(SIGPIPE, SIG_IGN);
	world.tmpdir = g_dir_make_tmp("hubd-mqtt-session-XXXXXX", &error);
	g_assert_no_error(error);
	pki_dir = g_build_filename(world.tmpdir, "pki", NULL);
	other_dir = g_build_filename(world.tmpdir, "other-pki", NULL);
	world.pki = hub_test_pki_new(pki_dir, "hubd Test CA");
	world.other_pki = hub_test_pki_new(other_dir, "Another Test CA");
	if (hub_test_broker_available())
		world.broker = hub_test_broker_start(world.pki, world.tmpdir);

	g_test_add_func("/hub/mqtt-session/connect-publish-subscribe", test_connect_publish_subscribe);
	g_test_add_func("/hub/mqtt-session/broker-down-at-start", test_broker_down_at_start);
	g_test_add_func("/hub/mqtt-session/tls-refused-no-busy-loop", test_tls_refused_no_busy_loop);
	g_test_add_func("/hub/mqtt-session/reconnect-after-broker-restart", test_reconnect_after_broker_restart);
	g_test_add_func("/hub/mqtt-session/lost-publish-not-resent", test_lost_publish_not_resent);
	g_test_add_func("/hub/mqtt-session/bad-options", test_bad_options);
	g_test_add_func("/hub/mqtt-session/publish-while-disconnected", test_publish_while_disconnected);
	g_test_add_func("/hub/mqtt-session/restart-respects-connect-interval", test_restart_respects_connect_interval);
	g_test_add_func("/hub/mqtt-session/connect-interval-per-client-id", test_connect_interval_per_client_id);
	g_test_add_func("/hub/mqtt-session/stop-closes-pending-connect", test_stop_closes_pending_connect);
	g_test_add_func("/hub/mqtt-session/connect-timeout", test_connect_timeout);
	status = g_test_run();

	hub_test_broker_free(world.broker);
	hub_test_pki_free(world.pki);
	hub_test_pki_free(world.other_pki);
	if (!g_getenv("HUB_TEST_KEEP"))
		hub_test_remove_tree(world.tmpdir);
	g_free(world.tmpdir);
	return status;
}
