/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-onboarding.c - figure 7 (bench/README.md): the time from starting
 * hubd to PROVISIONED against the test cloud (tests/cloudsim), with the
 * permanent key in the file store, next to a bare libmosquitto client doing
 * the same fleet provisioning (bench-provisioning-baseline.h) in the same
 * run, interleaved. Every run onboards a new managed thing: hubd with a new
 * state directory and identity file, the bare client in memory.
 *
 * Environment: HUB_TOP_BUILDDIR, HUB_TOP_SRCDIR (default "."), HUB_MOSQUITTO,
 * HUBD_CLOUD_MODULE (default $HUB_TOP_BUILDDIR/src/.libs/hubd-cloud.so).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <mosquitto.h>
#include <openssl/crypto.h>

#include "bench-common.h"
#include "bench-provisioning-baseline.h"
#include "hub-cloudsim.h"
#include "hub-test-env.h"

#define UPC "012345678905"
#define IDENTITY_NAME "iotmi_config.json"
#define RUN_TIMEOUT_NS (G_GINT64_CONSTANT(30) * 1000000000)
#define HEARTBEAT_MS 50 /* how soon a dead hubd or the timeout is noticed */

#ifndef BENCH_CFLAGS
#define BENCH_CFLAGS "unknown"
#endif

static gint opt_runs = 7;
static gint opt_warmup = 1;
static gboolean opt_verbose;
static gboolean opt_keep;

static const GOptionEntry option_entries[] = {
	{ "runs", 'r', 0, G_OPTION_ARG_INT, &opt_runs, "Provisionings by hubd and by the bare client (default 7)",
	  "N" },
	{ "warmup", 'w', 0, G_OPTION_ARG_INT, &opt_warmup, "Warm-up rounds of each, not counted (default 1)", "N" },
	{ "verbose", 'v', 0, G_OPTION_ARG_NONE, &opt_verbose, "Run hubd with --verbose (its logs stay with -k)",
	  NULL },
	{ "keep", 'k', 0, G_OPTION_ARG_NONE, &opt_keep, "Keep the temporary directory (hubd's logs, state, cloud)",
	  NULL },
	{ NULL },
};

#define BENCH_ONBOARDING_ERROR (g_quark_from_static_string("bench-onboarding"))

/* What the bench sees of one hubd onboarding, in the order it happens. */
typedef enum {
	MARK_PROVISIONING, /* identity rewritten as PROVISIONING: the transport starts */
	MARK_READY,        /* org.hubd.Hub1 owned */
	MARK_CERTIFICATE,  /* provisioning_step certificate-issued */
	MARK_THING,        /* provisioning_step thing-registered */
	MARK_PROVISIONED,  /* PROVISIONED */
	N_MARKS
} Mark;

typedef struct {
	char *dir;
	char *identity_path;
	gint64 start_ns;
	gint64 mark_ns[N_MARKS]; /* 0: not seen yet */
} HubdRun;

typedef struct {
	HubTestEnv *env;
	HubCloudsim *sim;
	char *hubd;
	char *cloud_module;
	guint serials;
	HubdRun *run; /* the run in progress, for the callbacks */
	GArray *hubd_ns[N_MARKS]; /* per counted run, spawn -> mark */
	GArray *bare_ns;
	GString *hubd_text; /* every run in the order they ran */
	GString *bare_text;
} Bench;

static void bench_clear(Bench *b)
{
	g_clear_pointer(&b->sim, hub_cloudsim_free);
	g_clear_pointer(&b->env, hub_test_env_free);
	g_clear_pointer(&b->hubd, g_free);
	g_clear_pointer(&b->cloud_module, g_free);
	for (guint m = 0; m < N_MARKS; m++)
		g_clear_pointer(&b->hubd_ns[m], g_array_unref);
	g_clear_pointer(&b->bare_ns, g_array_unref);
	if (b->hubd_text)
		g_string_free(g_steal_pointer(&b->hubd_text), TRUE);
	if (b->bare_text)
		g_string_free(g_steal_pointer(&b->bare_text), TRUE);
}

static const char *builddir(void)
{
	const char *dir = g_getenv("HUB_TOP_BUILDDIR");

	return dir ? dir : ".";
}

static void child_setup(gpointer user_data)
{
	/* Nothing outlives the benchmark, even when it is killed. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
}

/* ---- watching hubd ---- */

static void set_mark(HubdRun *run, Mark mark, gint64 now_ns)
{
	if (!run->mark_ns[mark])
		run->mark_ns[mark] = now_ns;
}

static void on_name_owner_changed(GDBusConnection *conn, const char *sender, const char *path, const char *iface,
				  const char *signal, GVariant *params, gpointer user_data)
{
	Bench *b = user_data;
	gint64 now_ns = bench_now_ns();
	const char *name, *old_owner, *new_owner;

	g_variant_get(params, "(&s&s&s)", &name, &old_owner, &new_owner);
	if (b->run && *new_owner)
		set_mark(b->run, MARK_READY, now_ns);
}

/* The identity as it is now: the step it shows. */
static void read_identity(HubdRun *run, gint64 now_ns)
{
	g_autoptr(JsonParser) parser = json_parser_new();
	JsonNode *root, *rw_node;
	JsonObject *rw;
	const char *state, *step;
	Mark seen;

	if (!json_parser_load_from_mapped_file(parser, run->identity_path, NULL))
		return;
	root = json_parser_get_root(parser);
	if (!root || !JSON_NODE_HOLDS_OBJECT(root))
		return;
	rw_node = json_object_get_member(json_node_get_object(root), "rw");
	if (!rw_node || !JSON_NODE_HOLDS_OBJECT(rw_node))
		return;
	rw = json_node_get_object(rw_node);
	state = json_object_get_string_member_with_default(rw, "iot_provisioning_state", "");
	step = json_object_get_string_member_with_default(rw, "provisioning_step", "");
	if (g_str_equal(state, "PROVISIONED"))
		seen = MARK_PROVISIONED;
	else if (g_str_equal(step, "thing-registered"))
		seen = MARK_THING;
	else if (g_str_equal(step, "certificate-issued"))
		seen = MARK_CERTIFICATE;
	else if (g_str_equal(state, "PROVISIONING"))
		seen = MARK_PROVISIONING;
	else
		return;
	/* A rewrite can replace one not read yet: the later step then stands
	 * for the earlier ones too (late, never early). */
	for (Mark m = MARK_PROVISIONING; m <= seen; m++)
		if (m != MARK_READY)
			set_mark(run, m, now_ns);
}

/* hubd replaces the identity by rename(): IN_MOVED_TO, no polling load on
 * the processes measured. The wake-up is the time; the file is read after. */
static gboolean on_inotify(gint fd, GIOCondition condition, gpointer user_data)
{
	Bench *b = user_data;
	gint64 now_ns = bench_now_ns();
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	gboolean changed = FALSE;
	ssize_t len;

	while ((len = read(fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + len;) {
			const struct inotify_event *event = (const struct inotify_event *)p;

			changed |= event->len && g_str_equal(event->name, IDENTITY_NAME);
			p += sizeof(*event) + event->len;
		}
	}
	if (changed && b->run)
		read_identity(b->run, now_ns);
	return G_SOURCE_CONTINUE;
}

static gboolean on_heartbeat(gpointer user_data)
{
	return G_SOURCE_CONTINUE;
}

/* ---- one hubd onboarding ---- */

static gboolean write_run_files(Bench *b, HubdRun *run, const char *serial, GError **error)
{
	g_autofree char *state_dir = g_build_filename(run->dir, "state", NULL);
	g_autofree char *conf_path = g_build_filename(run->dir, "hubd.conf", NULL);
	g_autofree char *conf = NULL;
	g_autofree char *identity = NULL;

	conf = g_strdup_printf("[hubd]\nplugin-dir=%s\ncapability-dir=%s\nstate-dir=%s\nplugins=file,aws-iot\n"
			       "serial-number=%s\n\n[plugin.file]\nroot-ca=%s\n\n"
			       "[cloud]\ntransport=aws-iot\nidentity=%s\nport=%u\nconnect-interval-ms=1\n",
			       b->env->plugin_dir, b->env->capability_dir, state_dir, serial,
			       hub_cloudsim_ca_path(b->sim), run->identity_path, hub_cloudsim_port(b->sim));
	identity = g_strdup_printf(
		"{\"ro\":{\"iot_provisioning_method\":\"FLEET_PROVISIONING\",\"iot_claim_cert_path\":\"%s\","
		"\"iot_claim_pk_path\":\"%s\",\"fp_template_name\":\"" HUB_CLOUDSIM_DEFAULT_TEMPLATE "\","
		"\"endpoint_url\":\"127.0.0.1\",\"SN\":\"%s\",\"UPC\":\"" UPC "\"},"
		"\"rw\":{\"iot_provisioning_state\":\"NOT_PROVISIONED\"}}\n",
		hub_cloudsim_claim_cert_path(b->sim), hub_cloudsim_claim_key_path(b->sim), serial);
	if (g_mkdir_with_parents(run->dir, 0700) < 0) {
		g_set_error(error, BENCH_ONBOARDING_ERROR, 0, "mkdir %s: %s", run->dir, g_strerror(errno));
		return FALSE;
	}
	return g_file_set_contents(conf_path, conf, -1, error) &&
	       g_file_set_contents(run->identity_path, identity, -1, error);
}

/* Not hub_test_env_spawn_hubd(): that one adds --verbose, and the figure is
 * hubd as it runs on a hub. */
static GSubprocess *spawn_hubd(Bench *b, HubdRun *run, GError **error)
{
	g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);
	g_autofree char *conf_path = g_build_filename(run->dir, "hubd.conf", NULL);
	g_autofree char *log_path = g_build_filename(run->dir, "hubd.log", NULL);
	const char *argv[] = { b->hubd, "--session", "--config", conf_path, opt_verbose ? "--verbose" : NULL, NULL };
	int fd = g_open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0) {
		g_set_error(error, BENCH_ONBOARDING_ERROR, 0, "cannot open %s: %s", log_path, g_strerror(errno));
		return NULL;
	}
	/* GLib prints info and debug messages on stdout. */
	g_subprocess_launcher_take_stdout_fd(launcher, dup(fd));
	g_subprocess_launcher_take_stderr_fd(launcher, fd);
	g_subprocess_launcher_set_child_setup(launcher, child_setup, NULL, NULL);
	g_subprocess_launcher_setenv(launcher, "DBUS_SESSION_BUS_ADDRESS", b->env->bus_address, TRUE);
	g_subprocess_launcher_setenv(launcher, "HUBD_CLOUD_MODULE", b->cloud_module, TRUE);
	g_subprocess_launcher_unsetenv(launcher, "G_MESSAGES_DEBUG");
	run->start_ns = bench_now_ns();
	return g_subprocess_launcher_spawnv(launcher, argv, error);
}

/* SIGTERM, wait, and insist on a clean exit that logged the provisioning. */
static gboolean stop_hubd(GSubprocess *process, HubdRun *run, GError **error)
{
	g_autofree char *log_path = g_build_filename(run->dir, "hubd.log", NULL);
	g_autofree char *log = NULL;

	g_subprocess_send_signal(process, SIGTERM);
	if (!g_subprocess_wait(process, NULL, error))
		return FALSE;
	if (!g_subprocess_get_if_exited(process) || g_subprocess_get_exit_status(process) != 0) {
		g_set_error(error, BENCH_ONBOARDING_ERROR, 0, "hubd did not exit cleanly (wait status %d), see %s",
			    g_subprocess_get_status(process), log_path);
		return FALSE;
	}
	if (!g_file_get_contents(log_path, &log, NULL, error))
		return FALSE;
	if (!strstr(log, "Hub provisioned")) {
		g_set_error(error, BENCH_ONBOARDING_ERROR, 0, "hubd did not log \"Hub provisioned\", see %s",
			    log_path);
		return FALSE;
	}
	return TRUE;
}

/* Starts hubd on a new state directory and identity for @serial and waits
 * for PROVISIONED; stops it afterwards (not timed). */
static gboolean hubd_provision(Bench *b, const char *serial, HubdRun *run, GError **error)
{
	g_autoptr(GSubprocess) process = NULL;
	int fd = -1;
	guint watch = 0, heartbeat = 0;
	gboolean ok;

	run->dir = g_build_filename(b->env->tmpdir, "runs", serial, NULL);
	run->identity_path = g_build_filename(run->dir, IDENTITY_NAME, NULL);
	if (!write_run_files(b, run, serial, error))
		return FALSE;
	fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0 || inotify_add_watch(fd, run->dir, IN_MOVED_TO) < 0) {
		g_set_error(error, BENCH_ONBOARDING_ERROR, 0, "inotify on %s: %s", run->dir, g_strerror(errno));
		if (fd >= 0)
			close(fd);
		return FALSE;
	}
	watch = g_unix_fd_add(fd, G_IO_IN, on_inotify, b);
	heartbeat = g_timeout_add(HEARTBEAT_MS, on_heartbeat, NULL);
	b->run = run;
	process = spawn_hubd(b, run, error);
	ok = process != NULL;
	while (ok && !run->mark_ns[MARK_PROVISIONED]) {
		g_main_context_iteration(NULL, TRUE);
		if (!run->mark_ns[MARK_PROVISIONED] && !g_subprocess_get_identifier(process)) {
			g_set_error(error, BENCH_ONBOARDING_ERROR, 0, "hubd exited before PROVISIONED, see %s/hubd.log",
				    run->dir);
			ok = FALSE;
		} else if (!run->mark_ns[MARK_PROVISIONED] && bench_now_ns() - run->start_ns > RUN_TIMEOUT_NS) {
			g_set_error(error, BENCH_ONBOARDING_ERROR, 0, "not PROVISIONED within 30 s, see %s/hubd.log",
				    run->dir);
			ok = FALSE;
		}
	}
	/* The name may be announced after PROVISIONED: the stop waits for it. */
	while (ok && !run->mark_ns[MARK_READY] && g_subprocess_get_identifier(process) &&
	       bench_now_ns() - run->start_ns < RUN_TIMEOUT_NS)
		g_main_context_iteration(NULL, TRUE);
	b->run = NULL;
	g_source_remove(heartbeat);
	g_source_remove(watch);
	close(fd);
	if (process && g_subprocess_get_identifier(process) && !ok) {
		g_subprocess_force_exit(process);
		g_subprocess_wait(process, NULL, NULL);
	} else if (process && ok) {
		ok = stop_hubd(process, run, error);
	}
	if (ok && !run->mark_ns[MARK_READY]) {
		g_set_error(error, BENCH_ONBOARDING_ERROR, 0, "hubd never owned org.hubd.Hub1, see %s/hubd.log",
			    run->dir);
		ok = FALSE;
	}
	return ok;
}

/* ---- the runs ---- */

static void append_ms(GString *text, gint64 ns)
{
	g_string_append_printf(text, "%s%.1f", text->len ? " " : "", ns / 1e6);
}

static gboolean hubd_round(Bench *b, gboolean counted, GError **error)
{
	g_autofree char *serial = g_strdup_printf("BENCH-SN-%04u", b->serials++);
	HubdRun run = { 0 };
	gboolean ok;

	hub_cloudsim_add_managed_thing(b->sim, serial, UPC);
	ok = hubd_provision(b, serial, &run, error);
	if (ok && counted) {
		for (guint m = 0; m < N_MARKS; m++)
			g_array_append_val(b->hubd_ns[m], (gint64){ run.mark_ns[m] - run.start_ns });
		append_ms(b->hubd_text, run.mark_ns[MARK_PROVISIONED] - run.start_ns);
	}
	g_free(run.dir);
	g_free(run.identity_path);
	return ok;
}

static gboolean bare_round(Bench *b, gboolean counted, GError **error)
{
	g_autofree char *serial = g_strdup_printf("BENCH-SN-%04u", b->serials++);
	double ms;

	hub_cloudsim_add_managed_thing(b->sim, serial, UPC);
	ms = bench_bare_provision_ms(b->sim, serial, UPC);
	if (ms < 0) {
		g_set_error(error, BENCH_ONBOARDING_ERROR, 0, "bare fleet provisioning failed (cloud log: %s)",
			    hub_cloudsim_log_path(b->sim));
		return FALSE;
	}
	if (counted) {
		g_array_append_val(b->bare_ns, (gint64){ (gint64)(ms * 1e6) });
		append_ms(b->bare_text, (gint64)(ms * 1e6));
	}
	return TRUE;
}

/* Rounds alternate which client goes first, so neither always follows the
 * other's teardown (hubd's exit, the broker dropping its sessions). */
static gboolean measure(Bench *b, GError **error)
{
	for (gint i = 0; i < opt_warmup + opt_runs; i++) {
		gboolean counted = i >= opt_warmup;
		gboolean hubd_first = i % 2 == 0;

		if (!(hubd_first ? hubd_round(b, counted, error) : bare_round(b, counted, error)) ||
		    !(hubd_first ? bare_round(b, counted, error) : hubd_round(b, counted, error)))
			return FALSE;
	}
	return TRUE;
}

static gboolean setup(Bench *b, GError **error)
{
	g_autofree char *cloud_dir = NULL;
	const char *module = g_getenv("HUBD_CLOUD_MODULE");

	b->env = hub_test_env_new();
	b->hubd = g_build_filename(builddir(), "src", "hubd", NULL);
	b->cloud_module = module && *module ? g_strdup(module)
					    : g_build_filename(builddir(), "src", ".libs", "hubd-cloud.so", NULL);
	hub_test_env_install_plugin(b->env, "plugins/transport-aws-iot/.libs/aws-iot.so", "aws-iot.so", 0755);
	hub_test_env_install_plugin(b->env, "certhandlers/file/.libs/certstore-file.so", "certstore-file.so", 0755);
	cloud_dir = hub_test_env_path(b->env, "cloud");
	b->sim = hub_cloudsim_start(cloud_dir, error);
	if (!b->sim)
		return FALSE;
	/* Subscribed once, long before the first hubd asks for its name. */
	g_dbus_connection_signal_subscribe(b->env->conn, "org.freedesktop.DBus", "org.freedesktop.DBus",
					   "NameOwnerChanged", "/org/freedesktop/DBus", "org.hubd.Hub1",
					   G_DBUS_SIGNAL_FLAGS_NONE, on_name_owner_changed, b, NULL);
	return TRUE;
}

/* ---- report ---- */

static double percentile_ms(GArray *samples_ns, double q)
{
	return bench_percentile_us(samples_ns, q) / 1000;
}

/* The q quantile over runs of mark @to minus mark @from. */
static double step_ms(Bench *b, Mark from, Mark to, double q)
{
	g_autoptr(GArray) steps = g_array_new(FALSE, FALSE, sizeof(gint64));

	for (guint i = 0; i < b->hubd_ns[to]->len; i++) {
		gint64 from_ns = g_array_index(b->hubd_ns[from], gint64, i);

		g_array_append_val(steps, (gint64){ g_array_index(b->hubd_ns[to], gint64, i) - from_ns });
	}
	return percentile_ms(steps, q);
}

static void report(Bench *b)
{
	/* Steps first: the percentiles of whole runs sort the arrays the steps pair up. */
	double claim_p50 = step_ms(b, MARK_PROVISIONING, MARK_CERTIFICATE, 0.5);
	double register_p50 = step_ms(b, MARK_CERTIFICATE, MARK_THING, 0.5);
	double permanent_p50 = step_ms(b, MARK_THING, MARK_PROVISIONED, 0.5);
	double onboard_p50 = step_ms(b, MARK_PROVISIONING, MARK_PROVISIONED, 0.5);
	double onboard_p90 = step_ms(b, MARK_PROVISIONING, MARK_PROVISIONED, 0.9);
	double bare_p50 = percentile_ms(b->bare_ns, 0.5);
	double bare_p90 = percentile_ms(b->bare_ns, 0.9);
	struct utsname uts;

	uname(&uts);
	g_print("\nhubd onboarding benchmark: %s %s %s, %ld CPUs; %s; libmosquitto %d.%d.%d; CFLAGS %s\n",
		uts.sysname, uts.release, uts.machine, sysconf(_SC_NPROCESSORS_ONLN), OpenSSL_version(OPENSSL_VERSION),
		LIBMOSQUITTO_MAJOR, LIBMOSQUITTO_MINOR, LIBMOSQUITTO_REVISION, BENCH_CFLAGS);
	g_print("The baseline ran in this run against the same cloud; ratio = hubd / baseline.\n\n");
	bench_print_header();
	bench_print_rule();
	bench_print_row("7", "hubd start -> PROVISIONED, file store, p50",
			percentile_ms(b->hubd_ns[MARK_PROVISIONED], 0.5), bare_p50, "ms", NULL, BENCH_TARGET_NONE);
	bench_print_row("", "  p90", percentile_ms(b->hubd_ns[MARK_PROVISIONED], 0.9), bare_p90, "ms", NULL,
			BENCH_TARGET_NONE);
	bench_print_row("", "  p50 from PROVISIONING written (no start-up)", onboard_p50, bare_p50, "ms", NULL,
			BENCH_TARGET_NONE);
	bench_print_row("", "  p90 from PROVISIONING written (no start-up)", onboard_p90, bare_p90, "ms", NULL,
			BENCH_TARGET_NONE);
	bench_print_row("", "  step: start -> PROVISIONING written",
			percentile_ms(b->hubd_ns[MARK_PROVISIONING], 0.5), -1, "ms", NULL, BENCH_TARGET_NONE);
	bench_print_row("", "  step: -> certificate-issued written", claim_p50, -1, "ms", NULL, BENCH_TARGET_NONE);
	bench_print_row("", "  step: -> thing-registered written", register_p50, -1, "ms", NULL, BENCH_TARGET_NONE);
	bench_print_row("", "  step: -> PROVISIONED written", permanent_p50, -1, "ms", NULL, BENCH_TARGET_NONE);
	bench_print_row("", "  start -> bus name owned (ready)", percentile_ms(b->hubd_ns[MARK_READY], 0.5), -1, "ms",
			NULL, BENCH_TARGET_NONE);
	bench_print_rule();
	g_print("7: %d runs of each after %d warm-up, interleaved, a new managed thing each. hubd: from spawning\n"
		"   src/hubd (new state directory and identity file) to its identity file saying PROVISIONED, seen by\n"
		"   inotify; the steps are its rewrites of the identity, each a p50 of its own. Baseline:\n"
		"   bench_bare_provision_ms(), the same protocol with bare libmosquitto, everything in memory.\n",
		opt_runs, opt_warmup);
	g_print("   runs (ms): hubd %s; bare %s\n", b->hubd_text->str, b->bare_text->str);
}

int main(int argc, char **argv)
{
	g_autoptr(GOptionContext) context = g_option_context_new("- hubd start -> PROVISIONED against a bare client");
	g_autoptr(GError) error = NULL;
	Bench b = { 0 };
	gboolean ok;

	g_option_context_add_main_entries(context, option_entries, NULL);
	if (!g_option_context_parse(context, &argc, &argv, &error) || opt_runs < 1 || opt_warmup < 0) {
		g_printerr("bench-onboarding: %s\n", error ? error->message : "need --runs >= 1, --warmup >= 0");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	for (guint m = 0; m < N_MARKS; m++)
		b.hubd_ns[m] = g_array_new(FALSE, FALSE, sizeof(gint64));
	b.bare_ns = g_array_new(FALSE, FALSE, sizeof(gint64));
	b.hubd_text = g_string_new(NULL);
	b.bare_text = g_string_new(NULL);
	mosquitto_lib_init();
	g_printerr("hubd start -> PROVISIONED against the test cloud, %d runs of hubd and of the bare client...\n",
		   opt_runs);
	ok = setup(&b, &error) && measure(&b, &error);
	if (ok)
		report(&b);
	else
		g_printerr("bench-onboarding: %s\n", error->message);
	if (b.env && (opt_keep || !ok)) {
		g_setenv("HUB_TEST_KEEP", "1", TRUE);
		g_printerr("Kept %s\n", b.env->tmpdir);
	}
	bench_clear(&b);
	mosquitto_lib_cleanup();
	return ok ? 0 : 1;
}
