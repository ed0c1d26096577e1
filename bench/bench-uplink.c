/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-uplink.c - figures 8-11 (bench/README.md): the cloud link, hubd
 * with the aws-iot transport onboarded to tests/cloudsim (mosquitto, mutual
 * TLS), every message through the outbox, against bare libmosquitto clients
 * on the same broker in the same run:
 *   8  uplink: virtual sensors reporting as fast as they can, QoS 1, vs a
 *      bare publisher of 200-byte messages (and of hubd's message size);
 *   9  a cloud command -> the device -> the final response at the broker,
 *      vs a bare client that answers at once (p50, p99);
 *  10  draining a backlog as big as 10 minutes offline with 1000 devices
 *      reporting every second, vs the bare publisher at that message size;
 *  11  bytes written to disk per uplink message, vs SQLite committing each
 *      message on its own (the naive durable queue).
 *
 * Environment: HUB_TOP_BUILDDIR, HUB_TOP_SRCDIR, HUB_MOSQUITTO,
 * HUBD_CLOUD_MODULE (as the tests).
 */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <mosquitto.h>

#include "bench-common.h"
#include "hub-cloudsim.h"
#include "hub-test-env.h"
#include "hub-test-mqtt.h"

#define SERIAL "HUB-BENCH-0001"
#define UPC "012345678905"
#define TIMEOUT_MS 60000
#define IN_FLIGHT 100     /* the core's send maximum (AWS IoT's limit) */
#define BARE_QUEUE 256    /* what the core hands libmosquitto at most */

#ifndef BENCH_CFLAGS
#define BENCH_CFLAGS "unknown"
#endif

static gint opt_seconds = 5;
static gint opt_sensors = 100;
static gint opt_overload = 300;
static gint opt_commands = 200;
static gint opt_backlog = 600000;
static gboolean opt_keep;

static const GOptionEntry option_entries[] = {
	{ "seconds", 's', 0, G_OPTION_ARG_INT, &opt_seconds, "Measuring window of figure 8 (default 5)", "S" },
	{ "sensors", 0, 0, G_OPTION_ARG_INT, &opt_sensors, "Sensors reporting every 10 ms in figure 8 (default 100)",
	  "N" },
	{ "overload", 0, 0, G_OPTION_ARG_INT, &opt_overload,
	  "Sensors of figure 8's overload row, beyond what hubd can take (default 300)", "N" },
	{ "commands", 'n', 0, G_OPTION_ARG_INT, &opt_commands, "Commands of figure 9 (default 200)", "N" },
	{ "backlog", 'b', 0, G_OPTION_ARG_INT, &opt_backlog,
	  "Messages queued offline in figure 10 (default 600000: 10 min x 1000 devices x 1/s)", "N" },
	{ "keep", 'k', 0, G_OPTION_ARG_NONE, &opt_keep, "Keep the temporary directories (hubd's logs, state)", NULL },
	{ NULL },
};

/* ---- hubd onboarded to the cloudsim ---- */

typedef struct {
	HubTestEnv *env;
	HubCloudsim *sim;
	const HubCloudsimThing *thing;
	char *identity_path;
} Hub;

static void hub_write_config(Hub *h, const char *devices, const char *extra)
{
	g_autofree char *conf = g_strdup_printf(
		"plugins=virtual,file,aws-iot\nserial-number=" SERIAL "\n\n"
		"[certificates]\nclaim=file\npermanent=file\nroot-ca=file\n\n[plugin.file]\nroot-ca=%s\n\n"
		"[cloud]\ntransport=aws-iot\nidentity=%s\nport=%u\nbackoff-base-ms=50\nbackoff-cap-ms=300\n"
		"connect-interval-ms=20\n\n%s",
		hub_cloudsim_ca_path(h->sim), h->identity_path, hub_cloudsim_port(h->sim), extra ? extra : "");

	hub_test_env_write_config(h->env, conf, devices);
}

static Hub *hub_new(HubCloudsim *sim, const HubCloudsimThing *thing)
{
	Hub *h = g_new0(Hub, 1);
	g_autofree char *identity = NULL;

	h->env = hub_test_env_new();
	h->sim = sim;
	h->thing = thing;
	h->identity_path = hub_test_env_path(h->env, "iotmi_config.json");
	identity = g_strdup_printf(
		"{\"ro\": {\"iot_provisioning_method\": \"FLEET_PROVISIONING\", \"iot_claim_cert_path\": \"%s\","
		" \"iot_claim_pk_path\": \"%s\", \"fp_template_name\": \"" HUB_CLOUDSIM_DEFAULT_TEMPLATE "\","
		" \"endpoint_url\": \"127.0.0.1\", \"SN\": \"%s\", \"UPC\": \"" UPC "\"},"
		" \"rw\": {\"iot_provisioning_state\": \"NOT_PROVISIONED\"}}",
		hub_cloudsim_claim_cert_path(sim), hub_cloudsim_claim_key_path(sim), thing->serial_number);
	g_assert_true(g_file_set_contents(h->identity_path, identity, -1, NULL));
	hub_test_env_install_plugin(h->env, "certhandlers/file/.libs/certstore-file.so", "certstore-file.so", 0755);
	hub_test_env_install_plugin(h->env, "plugins/transport-aws-iot/.libs/aws-iot.so", "aws-iot.so", 0755);
	return h;
}

static void hub_free(Hub *h)
{
	if (!h)
		return;
	hub_test_env_stop_hubd(h->env);
	if (opt_keep)
		g_printerr("kept %s\n", hub_test_env_path(h->env, ""));
	hub_test_env_free(h->env);
	g_free(h->identity_path);
	g_free(h);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Hub, hub_free)

static JsonObject *cloud_status(Hub *h)
{
	return hub_test_env_cloud_status(h->env);
}

static gint64 outbox_figure(Hub *h, const char *member)
{
	g_autoptr(JsonObject) status = cloud_status(h);

	return json_object_get_int_member(json_object_get_object_member(status, "outbox"), member);
}

static gboolean connected(gpointer data)
{
	g_autoptr(JsonObject) status = cloud_status(data);

	return g_strcmp0(json_object_get_string_member(json_object_get_object_member(status, "connection"), "state"),
			 "connected") == 0 &&
	       g_strcmp0(json_object_get_string_member_with_default(status, "provisioningState", ""), "PROVISIONED") == 0;
}

static void hub_start_connected(Hub *h)
{
	hub_test_env_start_hubd(h->env);
	if (!hub_test_wait_until(connected, h, TIMEOUT_MS))
		g_error("hubd did not connect within %d ms", TIMEOUT_MS);
}

/* Bytes this process had storage write for it (/proc/PID/io write_bytes). */
static guint64 write_bytes_of(const char *pid)
{
	g_autofree char *path = g_strdup_printf("/proc/%s/io", pid);
	g_autofree char *text = NULL;
	const char *line;

	if (!g_file_get_contents(path, &text, NULL, NULL) || !(line = strstr(text, "\nwrite_bytes: ")))
		return 0;
	return g_ascii_strtoull(line + strlen("\nwrite_bytes: "), NULL, 10);
}

static char *sensors_conf(guint n, guint interval_ms)
{
	GString *conf = g_string_new(NULL);

	for (guint i = 0; i < n; i++)
		g_string_append_printf(conf, "[device sensor-%04u]\ntype=temp-humidity-sensor\nreport-interval-ms=%u\n\n",
				       i, interval_ms);
	return g_string_free(conf, FALSE);
}

/* ---- a bare libmosquitto client with a client certificate from the cloud's CA ---- */

typedef struct {
	struct mosquitto *mosq;
	GMutex lock;
	guint in_flight;
	guint64 acked;
} Bare;

static SSL_CTX *client_context(HubCloudsim *sim, const char *cn)
{
	g_autofree char *key_pem = NULL;
	g_autofree char *cert_pem = hub_cloudsim_issue_client(sim, cn, &key_pem);

	return hub_cloudsim_client_context(sim, cert_pem, key_pem);
}

static void bare_on_publish(struct mosquitto *mosq, void *data, int mid)
{
	Bare *b = data;

	b->in_flight--;
	b->acked++;
}

/* Publishes @len-byte messages as fast as a window of BARE_QUEUE (IN_FLIGHT
 * unacknowledged, as the core) allows for @seconds; returns messages/s. */
static double bare_publish_rate(HubCloudsim *sim, const char *client_id, gsize len, double seconds)
{
	g_autofree char *topic = g_strdup_printf("north/%s/state", client_id);
	g_autofree char *payload = g_strnfill(len, 'x');
	SSL_CTX *ctx = client_context(sim, client_id);
	Bare b = { 0 };
	gint64 start, end, deadline;
	guint64 acked_at_start;
	int rc;

	b.mosq = mosquitto_new(client_id, true, &b);
	mosquitto_int_option(b.mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
	mosquitto_int_option(b.mosq, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 0);
	mosquitto_int_option(b.mosq, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_int_option(b.mosq, MOSQ_OPT_SEND_MAXIMUM, IN_FLIGHT);
	mosquitto_void_option(b.mosq, MOSQ_OPT_SSL_CTX, ctx);
	mosquitto_publish_callback_set(b.mosq, bare_on_publish);
	rc = mosquitto_connect(b.mosq, "127.0.0.1", hub_cloudsim_port(sim), 60);
	g_assert_cmpint(rc, ==, MOSQ_ERR_SUCCESS);
	/* Until CONNACK. */
	for (guint i = 0; i < 100; i++)
		mosquitto_loop(b.mosq, 10, 1);
	/* One second of warm-up, then the window. */
	start = bench_now_ns();
	deadline = start + (gint64)((1.0 + seconds) * 1e9);
	acked_at_start = 0;
	end = start;
	while ((end = bench_now_ns()) < deadline) {
		while (b.in_flight < BARE_QUEUE) {
			rc = mosquitto_publish(b.mosq, NULL, topic, (int)len, payload, 1, false);
			g_assert_cmpint(rc, ==, MOSQ_ERR_SUCCESS);
			b.in_flight++;
		}
		mosquitto_loop(b.mosq, 1, 1);
		if (!acked_at_start && end - start >= 1000000000) {
			acked_at_start = b.acked ? b.acked : 1;
			start = end;
		}
	}
	mosquitto_disconnect(b.mosq);
	mosquitto_loop(b.mosq, 10, 1);
	mosquitto_destroy(b.mosq);
	SSL_CTX_free(ctx);
	return (double)(b.acked - acked_at_start) / ((double)(end - start) / 1e9);
}

/* ---- figure 8 and 11: the uplink under load ---- */

typedef struct {
	double hub_rate;
	double offered_rate;
	double message_bytes;
	double disk_per_message;
	gint64 dropped;
} UplinkResult;

static UplinkResult measure_uplink(HubCloudsim *sim, const char *serial, guint sensors)
{
	const HubCloudsimThing *thing = hub_cloudsim_add_managed_thing(sim, serial, UPC);
	g_autoptr(Hub) h = hub_new(sim, thing);
	g_autofree char *devices = sensors_conf(sensors, 10);
	UplinkResult r = { 0 };
	gint64 acked0, pushed0, t0, t1;
	guint64 disk0, disk1, seen0, seen_bytes0;
	const char *pid;

	hub_write_config(h, devices, "[plugin.virtual]\nsensor-interval-ms=10\n");
	hub_start_connected(h);
	pid = g_subprocess_get_identifier(h->env->hubd);
	g_usleep(G_USEC_PER_SEC); /* warm-up */
	acked0 = outbox_figure(h, "acknowledged");
	pushed0 = outbox_figure(h, "pushed");
	seen0 = hub_cloudsim_uplink_count(sim);
	seen_bytes0 = hub_cloudsim_uplink_bytes(sim);
	disk0 = write_bytes_of(pid);
	t0 = bench_now_ns();
	g_usleep((gulong)opt_seconds * G_USEC_PER_SEC);
	t1 = bench_now_ns();
	disk1 = write_bytes_of(pid);
	r.hub_rate = (double)(outbox_figure(h, "acknowledged") - acked0) / ((double)(t1 - t0) / 1e9);
	r.offered_rate = (double)(outbox_figure(h, "pushed") - pushed0) / ((double)(t1 - t0) / 1e9);
	r.dropped = outbox_figure(h, "droppedOverflow") + outbox_figure(h, "droppedExpired");
	/* What arrived at the cloud side in the window: the messages' own size. */
	r.message_bytes = (double)(hub_cloudsim_uplink_bytes(sim) - seen_bytes0) /
			  (double)MAX(hub_cloudsim_uplink_count(sim) - seen0, 1u);
	r.disk_per_message = (double)(disk1 - disk0) / MAX(r.hub_rate * ((double)(t1 - t0) / 1e9), 1.0);
	return r;
}

/* ---- figure 9: command -> final response ---- */

static GArray *command_round_trips(HubCloudsim *sim, const char *client_id, gboolean *ok)
{
	g_autofree char *command_topic = g_strdup_printf("south/%s/control", client_id);
	g_autofree char *response_topic = g_strdup_printf("north/%s/control/response", client_id);
	SSL_CTX *ctx = client_context(sim, HUB_CLOUDSIM_RESPONDER_CN);
	g_autoptr(HubTestMqtt) cloud = hub_test_mqtt_new("bench-cloud", ctx, MQTT_PROTOCOL_V311);
	GArray *samples = g_array_new(FALSE, FALSE, sizeof(gint64));
	g_autoptr(GError) error = NULL;

	SSL_CTX_free(ctx);
	*ok = hub_test_mqtt_connect(cloud, "127.0.0.1", hub_cloudsim_port(sim), TIMEOUT_MS, &error) &&
	      hub_test_mqtt_subscribe(cloud, response_topic, TIMEOUT_MS, &error);
	for (gint i = 0; *ok && i < opt_commands + 10; i++) {
		g_autofree char *command = g_strdup_printf(
			"{\"traceId\": \"bench-%d-%u\", \"deviceId\": \"plug-1\", \"endpoints\": [{\"endpointId\": \"1\","
			" \"capabilities\": [{\"id\": \"matter.OnOff@1.4\", \"actions\": [{\"name\": \"Toggle\"}]}]}]}",
			i, g_random_int());
		g_autofree char *response = NULL;
		gint64 sent = bench_now_ns();

		*ok = hub_test_mqtt_publish(cloud, command_topic, command, TIMEOUT_MS, &error) &&
		      (response = hub_test_mqtt_wait_message(cloud, response_topic, TIMEOUT_MS, &error)) != NULL;
		if (*ok && i >= 10) {
			gint64 took = bench_now_ns() - sent;

			g_array_append_val(samples, took);
		}
	}
	if (!*ok)
		g_printerr("figure 9: %s\n", error ? error->message : "failed");
	return samples;
}

/* The baseline: a bare client that answers every command at once. */
typedef struct {
	HubCloudsim *sim;
	gint stop;
} Echo;

static void echo_on_message(struct mosquitto *mosq, void *data, const struct mosquitto_message *msg)
{
	mosquitto_publish(mosq, NULL, "north/bench-echo/control/response", msg->payloadlen, msg->payload, 1, false);
}

static gpointer echo_thread(gpointer data)
{
	Echo *e = data;
	SSL_CTX *ctx = client_context(e->sim, "bench-echo");
	struct mosquitto *mosq = mosquitto_new("bench-echo", true, e);

	mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
	mosquitto_int_option(mosq, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 0);
	mosquitto_int_option(mosq, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_void_option(mosq, MOSQ_OPT_SSL_CTX, ctx);
	mosquitto_message_callback_set(mosq, echo_on_message);
	if (mosquitto_connect(mosq, "127.0.0.1", hub_cloudsim_port(e->sim), 60) == MOSQ_ERR_SUCCESS) {
		mosquitto_subscribe(mosq, NULL, "south/bench-echo/control", 1);
		while (!g_atomic_int_get(&e->stop))
			mosquitto_loop(mosq, 10, 1);
		mosquitto_disconnect(mosq);
	}
	mosquitto_destroy(mosq);
	SSL_CTX_free(ctx);
	return NULL;
}

/* ---- figure 10: draining a backlog ---- */

typedef struct {
	double rate;
	gint64 backlog;
	double message_bytes;
	double seconds;
} DrainResult;

static DrainResult measure_drain(HubCloudsim *sim)
{
	const HubCloudsimThing *thing = hub_cloudsim_add_managed_thing(sim, "HUB-BENCH-DRAIN", UPC);
	g_autoptr(Hub) h = hub_new(sim, thing);
	g_autofree char *fast = sensors_conf(1000, 10);
	g_autofree char *slow = sensors_conf(1000, 1000);
	g_autofree char *outbox = g_strdup_printf("[outbox]\nmax-records=%d\nmax-bytes=%u\n", opt_backlog + 100000,
						  G_MAXUINT32);
	DrainResult r = { 0 };
	gint64 start, deadline;

	/* Onboarded, then offline: 1000 sensors queue their reports fast until
	 * the backlog is there. */
	hub_write_config(h, fast, outbox);
	hub_start_connected(h);
	hub_cloudsim_broker_stop(sim);
	deadline = bench_now_ns() + G_GINT64_CONSTANT(600) * 1000000000;
	while (outbox_figure(h, "records") < opt_backlog && bench_now_ns() < deadline)
		g_usleep(200 * 1000);
	hub_test_env_stop_hubd(h->env);
	/* Back at the real rate, 1000 devices every second, and the broker back. */
	hub_write_config(h, slow, outbox);
	hub_test_env_start_hubd(h->env);
	r.backlog = outbox_figure(h, "records");
	r.message_bytes = (double)outbox_figure(h, "bytes") / (double)MAX(r.backlog, 1);
	g_assert_true(hub_cloudsim_broker_start(sim));
	start = bench_now_ns();
	/* Done when what is left is the live reports of about a second. */
	while (outbox_figure(h, "records") > 2000 && bench_now_ns() - start < G_GINT64_CONSTANT(600) * 1000000000)
		g_usleep(100 * 1000);
	r.seconds = (double)(bench_now_ns() - start) / 1e9;
	r.rate = (double)r.backlog / r.seconds;
	return r;
}

/* ---- figure 11's baseline: one SQLite commit per message ---- */

static double naive_disk_per_message(const char *dir, gsize len, guint n)
{
	g_autofree char *path = g_build_filename(dir, "naive.db", NULL);
	g_autofree char *payload = g_strnfill(len, 'x');
	sqlite3 *db = NULL;
	sqlite3_stmt *insert = NULL, *delete = NULL;
	guint64 before, after;

	g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
	sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
			 "CREATE TABLE q(id INTEGER PRIMARY KEY, payload BLOB NOT NULL);",
		     NULL, NULL, NULL);
	sqlite3_prepare_v2(db, "INSERT INTO q(id, payload) VALUES(?1, ?2)", -1, &insert, NULL);
	sqlite3_prepare_v2(db, "DELETE FROM q WHERE id = ?1", -1, &delete, NULL);
	before = write_bytes_of("self");
	for (guint i = 1; i <= n; i++) {
		sqlite3_bind_int64(insert, 1, i);
		sqlite3_bind_blob(insert, 2, payload, (int)len, SQLITE_STATIC);
		sqlite3_step(insert);
		sqlite3_reset(insert);
		sqlite3_bind_int64(delete, 1, i);
		sqlite3_step(delete);
		sqlite3_reset(delete);
	}
	after = write_bytes_of("self");
	sqlite3_finalize(insert);
	sqlite3_finalize(delete);
	sqlite3_close(db);
	return (double)(after - before) / n;
}

/* ---- report ---- */

static void print_system(void)
{
	struct utsname u;

	uname(&u);
	printf("hubd uplink benchmarks: %s %s %s, %ld CPUs; libmosquitto %d.%d.%d; CFLAGS %s\n", u.sysname, u.release,
	       u.machine, sysconf(_SC_NPROCESSORS_ONLN), LIBMOSQUITTO_MAJOR, LIBMOSQUITTO_MINOR, LIBMOSQUITTO_REVISION,
	       BENCH_CFLAGS);
	printf("Every baseline ran in this run against the same broker (mosquitto, mutual TLS, QoS 1); "
	       "ratio = hubd / baseline.\n");
}

int main(int argc, char **argv)
{
	g_autoptr(GOptionContext) context = g_option_context_new("- hubd uplink benchmarks (figures 8-11)");
	g_autoptr(GError) error = NULL;
	g_autofree char *dir = NULL;
	g_autoptr(HubCloudsim) sim = NULL;
	g_autoptr(GArray) hub_samples = NULL, echo_samples = NULL;
	UplinkResult up, over;
	DrainResult drain;
	double bare_200, bare_same, bare_drain, naive;
	gboolean ok = FALSE;
	char target[64];

	g_option_context_add_main_entries(context, option_entries, NULL);
	if (!g_option_context_parse(context, &argc, &argv, &error)) {
		g_printerr("%s\n", error->message);
		return 2;
	}
	dir = g_dir_make_tmp("bench-uplink-XXXXXX", &error);
	g_assert_no_error(error);
	{
		g_autofree char *cloud = g_build_filename(dir, "cloud", NULL);

		sim = hub_cloudsim_start(cloud, &error);
		g_assert_no_error(error);
	}
	/* The cloud side counts what arrives and keeps nothing. */
	hub_cloudsim_set_count_only(sim, TRUE);

	g_printerr("Figure 8: %d sensors reporting every 10 ms for %d s through hubd, then the bare publisher...\n",
		   opt_sensors, opt_seconds);
	up = measure_uplink(sim, "HUB-BENCH-UPLINK", (guint)opt_sensors);
	over = measure_uplink(sim, "HUB-BENCH-OVERLOAD", (guint)opt_overload);
	bare_200 = bare_publish_rate(sim, "bench-bare-200", 200, opt_seconds);
	bare_same = bare_publish_rate(sim, "bench-bare-same", (gsize)MAX(up.message_bytes, 1), opt_seconds);

	g_printerr("Figure 9: %d commands, hubd and the echo client...\n", opt_commands);
	{
		const HubCloudsimThing *thing = hub_cloudsim_add_managed_thing(sim, "HUB-BENCH-COMMANDS", UPC);
		g_autoptr(Hub) h = hub_new(sim, thing);
		Echo echo = { sim, 0 };
		GThread *thread;
		gboolean echo_ok = FALSE;

		hub_write_config(h, "[device plug-1]\ntype=plug\nlatency-ms=0\n", NULL);
		hub_start_connected(h);
		g_usleep(200 * 1000); /* its subscriptions are in place */
		hub_samples = command_round_trips(sim, thing->thing_name, &ok);
		thread = g_thread_new("bench-echo", echo_thread, &echo);
		g_usleep(300 * 1000);
		echo_samples = command_round_trips(sim, "bench-echo", &echo_ok);
		g_atomic_int_set(&echo.stop, 1);
		g_thread_join(thread);
		ok = ok && echo_ok;
	}

	g_printerr("Figure 10: a backlog of %d messages offline, then the drain...\n", opt_backlog);
	drain = measure_drain(sim);
	bare_drain = bare_publish_rate(sim, "bench-bare-drain", (gsize)MAX(drain.message_bytes, 1), opt_seconds);

	g_printerr("Figure 11: SQLite committing each message...\n");
	naive = naive_disk_per_message(dir, (gsize)MAX(up.message_bytes, 1), 20000);

	print_system();
	bench_print_header();
	bench_print_rule();
	g_snprintf(target, sizeof(target), "ratio >= 0.25");
	bench_print_row("8", "uplink, messages/s acknowledged", up.hub_rate, bare_200, "/s", target,
			up.hub_rate / bare_200 >= 0.25 ? BENCH_TARGET_MET : BENCH_TARGET_MISSED);
	bench_print_row("", "  vs the bare publisher at hubd's message size", up.hub_rate, bare_same, "/s", NULL,
			BENCH_TARGET_NONE);
	bench_print_row("", "  offered by the sensors", up.offered_rate, -1, "/s", NULL, BENCH_TARGET_NONE);
	bench_print_row("", "  overload: acknowledged", over.hub_rate, bare_200, "/s", NULL, BENCH_TARGET_NONE);
	bench_print_row("", "  overload: offered (the excess is dropped)", over.offered_rate, -1, "/s", NULL,
			BENCH_TARGET_NONE);
	if (ok) {
		bench_print_row("9", "cloud command -> final response, p50", bench_percentile_us(hub_samples, 0.5) / 1000,
				bench_percentile_us(echo_samples, 0.5) / 1000, "ms", NULL, BENCH_TARGET_NONE);
		bench_print_row("", "  p99", bench_percentile_us(hub_samples, 0.99) / 1000,
				bench_percentile_us(echo_samples, 0.99) / 1000, "ms", NULL, BENCH_TARGET_NONE);
	}
	bench_print_row("10", "backlog drain, messages/s", drain.rate, bare_drain, "/s", NULL, BENCH_TARGET_NONE);
	bench_print_row("11", "bytes written to disk per uplink message", up.disk_per_message, naive, "B", NULL,
			BENCH_TARGET_NONE);
	bench_print_row("", "  per payload byte", up.disk_per_message / MAX(up.message_bytes, 1), 1, "", NULL,
			BENCH_TARGET_NONE);
	bench_print_rule();
	printf("8: %d temp-humidity sensors every 10 ms (two changes each), %d s after 1 s of warm-up; acknowledged =\n"
	       "   PUBACKs the outbox saw (GetCloudStatus). hubd's messages are %.0f B (the envelope of\n"
	       "   doc/cloud-contract.md); baseline: libmosquitto publishing from memory with the same window\n"
	       "   (%d unacknowledged, %d queued). Dropped by the outbox's bounds: %" G_GINT64_FORMAT ";\n"
	       "   overload: %d sensors, %" G_GINT64_FORMAT " dropped.\n",
	       opt_sensors, opt_seconds, up.message_bytes, IN_FLIGHT, BARE_QUEUE, up.dropped, opt_overload,
	       over.dropped);
	printf("9: %d sequential commands (Toggle, device latency 0) after 10 warm-up, from publish to the\n"
	       "   DEVICE_COMMAND_RESPONSE at a subscriber; baseline: a client that republishes at once.\n",
	       opt_commands);
	printf("10: %" G_GINT64_FORMAT " messages of %.0f B queued while the broker was down (1000 sensors, then\n"
	       "   hubd restarted with them reporting every second), drained in %.1f s; baseline: the bare\n"
	       "   publisher at that size.\n",
	       drain.backlog, drain.message_bytes, drain.seconds);
	printf("11: /proc/PID/io write_bytes of hubd during figure 8, per acknowledged message; baseline: SQLite\n"
	       "   (WAL, synchronous=NORMAL) inserting and deleting each message in its own transaction.\n");
	hub_cloudsim_free(g_steal_pointer(&sim));
	if (!opt_keep)
		hub_test_remove_tree(dir);
	return 0;
}
