/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-mqtt.c - figure 6 (bench/README.md): MQTT CONNECT -> CONNACK with
 * mutual TLS through the core's session service (HubMqttSession on the GLib
 * main loop) against bare libmosquitto clients, one given the PEM files (the
 * baseline) and one given the session's SSL_CTX, interleaved on one local
 * mosquitto that requires client certificates. Figure 7 is in
 * bench-onboarding.c.
 *
 * Environment: HUB_MOSQUITTO (default /usr/sbin/mosquitto).
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <mosquitto.h>
#include <openssl/pem.h>

#include "bench-common.h"
#include "hub-mqtt-session.h"
#include "hub-openssl.h"
#include "hub-test-broker.h"
#include "hub-test-pki.h"

#define HOST "127.0.0.1"
#define KEEPALIVE_S HUB_MQTT_KEEPALIVE_DEFAULT
#define CONNECT_TIMEOUT_MS 10000
#define CERT_DAYS 30

#ifndef BENCH_CFLAGS
#define BENCH_CFLAGS "unknown"
#endif

static gint opt_connections = 200;
static gint opt_warmup = 10;
static gboolean opt_keep;

static const GOptionEntry option_entries[] = {
	{ "connections", 'n', 0, G_OPTION_ARG_INT, &opt_connections,
	  "Connections per client for figure 6 (default 200)", "N" },
	{ "warmup", 'w', 0, G_OPTION_ARG_INT, &opt_warmup, "Warm-up connections per client, not counted (default 10)",
	  "N" },
	{ "keep", 'k', 0, G_OPTION_ARG_NONE, &opt_keep, "Keep the temporary directory", NULL },
	{ NULL },
};

#define BENCH_MQTT_ERROR (g_quark_from_static_string("bench-mqtt"))

/* The identity every client presents: the files, and the session's context built from them. */
typedef struct {
	char *ca_path;
	char *cert_path;
	char *key_path;
	SSL_CTX *hub_ctx;
} Identity;

/* ---- the baselines: bare libmosquitto ---- */

typedef struct {
	gboolean connacked;
	int rc;
	gint64 connack_ns;
	gboolean describe; /* fill tls in */
	char *tls;
} BareRun;

static void bare_on_connect(struct mosquitto *mosq, void *data, int rc)
{
	BareRun *run = data;
	SSL *ssl = mosquitto_ssl_get(mosq);

	run->connack_ns = bench_now_ns();
	run->connacked = TRUE;
	run->rc = rc;
	if (run->describe && ssl) {
		g_free(run->tls);
		run->tls = g_strdup_printf("%s %s, %s", SSL_get_version(ssl), SSL_get_cipher_name(ssl),
					   OBJ_nid2sn(SSL_get_negotiated_group(ssl)));
	}
}

/* One connection: client set up untimed; timed from mosquitto_connect()
 * (TCP, TLS, CONNECT) to the on_connect callback; DISCONNECT untimed. With
 * @ctx NULL the client is given the PEM files (mosquitto_tls_set), as a bare
 * client is; else @ctx, as the session is. *@tls (when not NULL) gets the
 * protocol, cipher and group negotiated (g_free). */
static gboolean bare_connect_once(const Identity *id, SSL_CTX *ctx, guint16 port, const char *client_id,
				  gint64 *elapsed_ns, char **tls, GError **error)
{
	BareRun run = { .describe = tls != NULL };
	struct mosquitto *mosq = mosquitto_new(client_id, true, &run);
	gint64 start_ns, deadline_ns;
	int rc;

	if (!mosq) {
		g_set_error(error, BENCH_MQTT_ERROR, 0, "mosquitto_new: %s", g_strerror(errno));
		return FALSE;
	}
	mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311); /* as the session */
	mosquitto_int_option(mosq, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_connect_callback_set(mosq, bare_on_connect);
	if (ctx) {
		mosquitto_int_option(mosq, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 0);
		rc = mosquitto_void_option(mosq, MOSQ_OPT_SSL_CTX, ctx);
	} else {
		rc = mosquitto_tls_set(mosq, id->ca_path, NULL, id->cert_path, id->key_path, NULL);
	}
	start_ns = bench_now_ns();
	deadline_ns = start_ns + (gint64)CONNECT_TIMEOUT_MS * 1000000;
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_connect(mosq, HOST, port, KEEPALIVE_S);
	while (rc == MOSQ_ERR_SUCCESS && !run.connacked) {
		rc = mosquitto_loop(mosq, 100, 1);
		if (rc == MOSQ_ERR_SUCCESS && !run.connacked && bench_now_ns() > deadline_ns)
			rc = MOSQ_ERR_TIMEOUT;
	}
	if (rc != MOSQ_ERR_SUCCESS || run.rc != 0)
		g_set_error(error, BENCH_MQTT_ERROR, 0, "bare client %s: %s", client_id,
			    rc != MOSQ_ERR_SUCCESS ? mosquitto_strerror(rc) : mosquitto_connack_string(run.rc));
	else
		*elapsed_ns = run.connack_ns - start_ns;
	mosquitto_disconnect(mosq);
	mosquitto_destroy(mosq);
	if (tls)
		*tls = run.tls;
	else
		g_free(run.tls);
	return rc == MOSQ_ERR_SUCCESS && run.rc == 0;
}

/* ---- hubd: the core's session service on the GLib main loop ---- */

typedef struct {
	HubMqttState state;
	gint64 connected_ns;
} HubRun;

static void hub_state_changed(HubMqttState state, gpointer user_data)
{
	HubRun *run = user_data;

	if (state == HUB_MQTT_STATE_CONNECTED)
		run->connected_ns = bench_now_ns();
	run->state = state;
}

/* One connection: session created untimed; timed from start() to
 * state_changed(CONNECTED); stop and free untimed. A new client id each
 * time, so the process-wide connect interval per client id never waits
 * (the interval is also 1 ms, the least the options take). */
static gboolean hub_connect_once(const Identity *id, guint16 port, const char *client_id, gint64 *elapsed_ns,
				 GError **error)
{
	const HubMqttOptions options = {
		.host = HOST,
		.port = port,
		.client_id = client_id,
		.keepalive_s = KEEPALIVE_S,
		.connect_interval_ms = 1,
		.connect_timeout_ms = CONNECT_TIMEOUT_MS,
	};
	const HubMqttCallbacks callbacks = { .state_changed = hub_state_changed };
	HubRun run = { .state = HUB_MQTT_STATE_DISCONNECTED };
	g_autoptr(HubMqttSession) session = hub_mqtt_session_new(&options, id->hub_ctx, &callbacks, &run, error);
	gint64 start_ns;

	if (!session)
		return FALSE;
	start_ns = bench_now_ns();
	hub_mqtt_session_start(session);
	/* A failed attempt backs off (after the connect timeout at most). */
	while (run.state != HUB_MQTT_STATE_CONNECTED && run.state != HUB_MQTT_STATE_BACKING_OFF)
		g_main_context_iteration(NULL, TRUE);
	if (run.state != HUB_MQTT_STATE_CONNECTED) {
		g_set_error(error, BENCH_MQTT_ERROR, 0, "hubd session %s: %s", client_id,
			    hub_mqtt_session_get_last_error(session) ? hub_mqtt_session_get_last_error(session)
								     : "did not connect");
		return FALSE;
	}
	*elapsed_ns = run.connected_ns - start_ns;
	hub_mqtt_session_stop(session);
	return TRUE;
}

/* The session's context from the same files, read with OpenSSL, and the
 * TLS options the session asks for (for an IP literal, the address is verified). */
static SSL_CTX *hub_context(const Identity *id, guint16 port, GError **error)
{
	g_autoptr(BIO) cert_bio = BIO_new_file(id->cert_path, "r");
	g_autoptr(BIO) key_bio = BIO_new_file(id->key_path, "r");
	g_autoptr(BIO) ca_bio = BIO_new_file(id->ca_path, "r");
	g_autoptr(X509) leaf = cert_bio ? PEM_read_bio_X509(cert_bio, NULL, NULL, NULL) : NULL;
	g_autoptr(EVP_PKEY) key = key_bio ? PEM_read_bio_PrivateKey(key_bio, NULL, NULL, NULL) : NULL;
	g_autoptr(X509) ca = ca_bio ? PEM_read_bio_X509(ca_bio, NULL, NULL, NULL) : NULL;
	STACK_OF(X509) *chain = sk_X509_new_null();
	STACK_OF(X509) *anchors = sk_X509_new_null();
	HubTlsOptions options;
	SSL_CTX *ctx = NULL;

	hub_mqtt_session_tls_options(HOST, port, &options);
	if (!leaf || !key || !ca)
		g_set_error(error, BENCH_MQTT_ERROR, 0, "cannot read %s, %s or %s", id->cert_path, id->key_path,
			    id->ca_path);
	else if (sk_X509_push(chain, leaf) && sk_X509_push(anchors, ca))
		ctx = hub_tls_context_new(chain, key, anchors, &options, error);
	/* The context holds its own references. */
	sk_X509_free(chain);
	sk_X509_free(anchors);
	return ctx;
}

/* ---- figure 6 ---- */

typedef enum {
	CLIENT_BARE,     /* libmosquitto, mosquitto_tls_set() with the files */
	CLIENT_BARE_CTX, /* libmosquitto given the session's SSL_CTX */
	CLIENT_HUB,      /* HubMqttSession */
	N_CLIENTS
} Client;

typedef struct {
	GArray *ns[N_CLIENTS];
	char *tls[2]; /* negotiated by CLIENT_BARE, CLIENT_BARE_CTX */
} Samples;

static void samples_clear(Samples *samples)
{
	for (guint c = 0; c < N_CLIENTS; c++)
		g_clear_pointer(&samples->ns[c], g_array_unref);
	g_clear_pointer(&samples->tls[0], g_free);
	g_clear_pointer(&samples->tls[1], g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Samples, samples_clear)

static gboolean connect_once(const Identity *id, Client client, guint16 port, gint i, gint64 *elapsed_ns,
			     Samples *samples, GError **error)
{
	/* A new client id each time, all of one length (same CONNECT). */
	g_autofree char *client_id = g_strdup_printf("bench-%d-%06d", client, i);

	switch (client) {
	case CLIENT_BARE:
		return bare_connect_once(id, NULL, port, client_id, elapsed_ns, i ? NULL : &samples->tls[0], error);
	case CLIENT_BARE_CTX:
		return bare_connect_once(id, id->hub_ctx, port, client_id, elapsed_ns, i ? NULL : &samples->tls[1],
					 error);
	case CLIENT_HUB:
	default:
		return hub_connect_once(id, port, client_id, elapsed_ns, error);
	}
}

/* Each round connects every client once, starting with a different one
 * each round, so no client always follows the same other's teardown. */
static gboolean measure_connects(const Identity *id, guint16 port, Samples *samples, GError **error)
{
	for (gint i = 0; i < opt_warmup + opt_connections; i++) {
		for (gint k = 0; k < N_CLIENTS; k++) {
			Client client = (Client)((i + k) % N_CLIENTS);
			gint64 elapsed_ns = 0;

			if (!connect_once(id, client, port, i, &elapsed_ns, samples, error))
				return FALSE;
			if (i >= opt_warmup)
				g_array_append_val(samples->ns[client], elapsed_ns);
		}
	}
	return TRUE;
}

static gboolean write_identity(HubTestPki *pki, const char *dir, Identity *id, GError **error)
{
	g_autofree char *key_pem = NULL;
	g_autofree char *cert_pem = hub_test_pki_issue_client(pki, "bench-client", CERT_DAYS, &key_pem);

	id->ca_path = g_strdup(hub_test_pki_ca_path(pki));
	id->cert_path = g_build_filename(dir, "client.crt", NULL);
	id->key_path = g_build_filename(dir, "client.key", NULL);
	return g_file_set_contents(id->cert_path, cert_pem, -1, error) &&
	       g_file_set_contents_full(id->key_path, key_pem, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
}

static void identity_clear(Identity *id)
{
	g_clear_pointer(&id->ca_path, g_free);
	g_clear_pointer(&id->cert_path, g_free);
	g_clear_pointer(&id->key_path, g_free);
	g_clear_pointer(&id->hub_ctx, SSL_CTX_free);
}

static gboolean figure_6(const char *dir, Samples *samples, GError **error)
{
	g_autofree char *pki_dir = g_build_filename(dir, "pki", NULL);
	g_autofree char *broker_dir = g_build_filename(dir, "broker", NULL);
	g_autoptr(HubTestPki) pki = hub_test_pki_new(pki_dir, "bench CA");
	g_autoptr(HubTestBroker) broker = NULL;
	Identity id = { 0 };
	gboolean ok;

	if (g_mkdir_with_parents(broker_dir, 0700) < 0) {
		g_set_error(error, BENCH_MQTT_ERROR, 0, "mkdir %s: %s", broker_dir, g_strerror(errno));
		return FALSE;
	}
	if (!write_identity(pki, dir, &id, error)) {
		identity_clear(&id);
		return FALSE;
	}
	broker = hub_test_broker_start(pki, broker_dir);
	id.hub_ctx = hub_context(&id, hub_test_broker_port(broker), error);
	g_printerr("MQTT CONNECT -> CONNACK with mutual TLS, %d per client after %d warm-up...\n", opt_connections,
		   opt_warmup);
	ok = id.hub_ctx && measure_connects(&id, hub_test_broker_port(broker), samples, error);
	if (!ok)
		g_printerr("Broker log: %s\n", hub_test_broker_log_path(broker));
	identity_clear(&id);
	return ok;
}

/* ---- report ---- */

static double percentile_ms(GArray *samples_ns, double q)
{
	return bench_percentile_us(samples_ns, q) / 1000;
}

static void report(Samples *samples)
{
	GArray *bare = samples->ns[CLIENT_BARE];
	GArray *bare_ctx = samples->ns[CLIENT_BARE_CTX];
	GArray *hub = samples->ns[CLIENT_HUB];
	struct utsname uts;

	uname(&uts);
	g_print("\nhubd MQTT benchmarks: %s %s %s, %ld CPUs; %s; libmosquitto %d.%d.%d; CFLAGS %s\n", uts.sysname,
		uts.release, uts.machine, sysconf(_SC_NPROCESSORS_ONLN), OpenSSL_version(OPENSSL_VERSION),
		LIBMOSQUITTO_MAJOR, LIBMOSQUITTO_MINOR, LIBMOSQUITTO_REVISION, BENCH_CFLAGS);
	g_print("Every baseline ran in this run against the same broker; ratio = hubd / baseline.\n\n");
	bench_print_header();
	bench_print_rule();
	bench_print_row("6", "MQTT CONNECT -> CONNACK, mutual TLS, p50", percentile_ms(hub, 0.5),
			percentile_ms(bare, 0.5), "ms", NULL, BENCH_TARGET_NONE);
	bench_print_row("", "  p90", percentile_ms(hub, 0.9), percentile_ms(bare, 0.9), "ms", NULL, BENCH_TARGET_NONE);
	bench_print_row("", "  p50 vs libmosquitto given the same SSL_CTX", percentile_ms(hub, 0.5),
			percentile_ms(bare_ctx, 0.5), "ms", NULL, BENCH_TARGET_NONE);
	bench_print_row("", "  p90 vs libmosquitto given the same SSL_CTX", percentile_ms(hub, 0.9),
			percentile_ms(bare_ctx, 0.9), "ms", NULL, BENCH_TARGET_NONE);
	bench_print_rule();
	g_print("6: %d connections per client after %d warm-up, interleaved, a new client id each; EC P-256\n"
		"   client certificate. Baseline: libmosquitto with mosquitto_tls_set() on the PEM files (each new\n"
		"   client builds its SSL_CTX while connecting) and a blocking mosquitto_connect().\n"
		"   Negotiated: %s (files), %s (SSL_CTX).\n",
		opt_connections, opt_warmup, samples->tls[0] ? samples->tls[0] : "?",
		samples->tls[1] ? samples->tls[1] : "?");
}

int main(int argc, char **argv)
{
	g_autoptr(GOptionContext) context = g_option_context_new("- MQTT connect with mutual TLS, hubd vs bare");
	g_autoptr(GError) error = NULL;
	g_auto(Samples) samples = { 0 };
	g_autofree char *dir = NULL;
	gboolean ok;

	g_option_context_add_main_entries(context, option_entries, NULL);
	if (!g_option_context_parse(context, &argc, &argv, &error) || opt_connections < 1 || opt_warmup < 0) {
		g_printerr("bench-mqtt: %s\n", error ? error->message : "need --connections >= 1, --warmup >= 0");
		return 2;
	}
	for (guint c = 0; c < N_CLIENTS; c++)
		samples.ns[c] = g_array_new(FALSE, FALSE, sizeof(gint64));
	signal(SIGPIPE, SIG_IGN);
	mosquitto_lib_init();
	dir = g_dir_make_tmp("hubd-bench-mqtt-XXXXXX", &error);
	if (!dir) {
		g_printerr("bench-mqtt: %s\n", error->message);
		return 1;
	}
	ok = figure_6(dir, &samples, &error);
	if (ok)
		report(&samples);
	else
		g_printerr("bench-mqtt: %s\n", error->message);
	if (opt_keep || !ok) {
		g_printerr("Kept %s\n", dir);
	} else {
		g_autofree char *quoted = g_shell_quote(dir);
		g_autofree char *command = g_strdup_printf("rm -rf %s", quoted);

		if (system(command) != 0)
			g_printerr("bench-mqtt: could not remove %s\n", dir);
	}
	mosquitto_lib_cleanup();
	return ok ? 0 : 1;
}
