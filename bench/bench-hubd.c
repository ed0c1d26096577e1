/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-hubd.c - hubd's benchmarks (bench/README.md). Starts a private
 * dbus-daemon in a temporary directory, the hubd of the build tree with the
 * virtual plugin, and the baselines of this folder; measures each figure for
 * hubd and for its baseline in the same run and prints both with their ratio.
 * Timing never fails the run: the exit status is non-zero only when something
 * could not be measured.
 *
 * Environment: HUB_TOP_BUILDDIR, HUB_TOP_SRCDIR (default "."), DBUS_DAEMON.
 */
#include "config.h"

#define _GNU_SOURCE 1 /* sched_setaffinity() */
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <locale.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bench-common.h"

#define HUB_NAME "org.hubd.Hub1"
#define HUB_ROOT "/org/hubd/Hub1"
#define HUB_DEVICES "/org/hubd/Hub1/devices"
#define HUB_DEVICE_IFACE "org.hubd.Hub1.Device"
#define ECHO_NAME "org.hubd.BenchEcho1"
#define ECHO_GLIB_NAME "org.hubd.BenchEchoGLib1"
#define ECHO_PATH "/org/hubd/BenchEcho1"
#define ECHO_IFACE "org.hubd.BenchEcho1"
#define BARE_NAME "org.hubd.BenchBare1"

/* The property every latency figure reads or writes: gen-00001 is a color light. */
#define LIGHT_ID "gen-00001"
#define ONOFF_ENDPOINT "1"
#define ONOFF_CAPABILITY "matter.OnOff@1.4"
#define ONOFF_PROPERTY "OnOff"
#define ONOFF_STATE_KEY ONOFF_ENDPOINT "/" ONOFF_CAPABILITY "/" ONOFF_PROPERTY

#define START_TIMEOUT_NS (G_GINT64_CONSTANT(30) * G_TIME_SPAN_SECOND * 1000)
#define SET_TIMEOUT_NS (G_GINT64_CONSTANT(10) * G_TIME_SPAN_SECOND * 1000)
#define IDLE_SETTLE_US (1 * G_USEC_PER_SEC)
#define MEM_READS 5
#define MEM_READ_INTERVAL_US (G_USEC_PER_SEC / 4)
#define BLOCK 100 /* figure 1: calls in a row to one service */

#ifndef BENCH_CFLAGS
#define BENCH_CFLAGS "unknown"
#endif

static gint opt_iterations = 20000;
static gint opt_warmup = 2000;
static gint opt_set_iterations = 2000;
static gint opt_runs = 7;
static gint opt_devices = 1000;
static gint opt_cpu = -2; /* -2: the first CPU we may use; -1: no pinning */
static gboolean opt_keep;
static char *opt_samples_dir;

static const GOptionEntry option_entries[] = {
	{ "iterations", 'n', 0, G_OPTION_ARG_INT, &opt_iterations, "Calls per service for figure 1 (default 20000)",
	  "N" },
	{ "warmup", 'w', 0, G_OPTION_ARG_INT, &opt_warmup, "Warm-up calls per service (default 2000)", "N" },
	{ "set-iterations", 's', 0, G_OPTION_ARG_INT, &opt_set_iterations,
	  "SetProperty round trips for figure 2 (default 2000)", "N" },
	{ "runs", 'r', 0, G_OPTION_ARG_INT, &opt_runs, "Start-up runs per case for figure 4 (default 7)", "N" },
	{ "devices", 'd', 0, G_OPTION_ARG_INT, &opt_devices, "Virtual devices (default 1000)", "N" },
	{ "cpu", 'c', 0, G_OPTION_ARG_INT, &opt_cpu,
	  "Pin figures 1 and 2 to CPU N (default: the first CPU allowed; -1: do not pin)", "N" },
	{ "keep", 'k', 0, G_OPTION_ARG_NONE, &opt_keep, "Keep the temporary directory (logs, databases)", NULL },
	{ "samples", 0, 0, G_OPTION_ARG_FILENAME, &opt_samples_dir,
	  "Write every latency sample (ns, one a line, in the order taken) to DIR/<figure>.txt", "DIR" },
	G_OPTION_ENTRY_NULL,
};

/* ---- errors ---- */

static gboolean fail_errno(GError **error, int r, const char *what)
{
	g_set_error(error, G_IO_ERROR, g_io_error_from_errno(-r), "%s: %s", what, g_strerror(-r));
	return FALSE;
}

static gboolean fail_call(GError **error, int r, const sd_bus_error *bus_error, const char *what)
{
	if (sd_bus_error_is_set(bus_error)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s: %s", what, bus_error->name,
			    bus_error->message);
		return FALSE;
	}
	return fail_errno(error, r, what);
}

/* ---- samples ---- */

typedef struct {
	double p50, p90, p99; /* microseconds */
} Percentiles;

static Percentiles percentiles(GArray *samples_ns)
{
	return (Percentiles){ bench_percentile_us(samples_ns, 0.50), bench_percentile_us(samples_ns, 0.90),
			      bench_percentile_us(samples_ns, 0.99) };
}

static double median_ms(GArray *samples_ns)
{
	return bench_percentile_us(samples_ns, 0.5) / 1000.0;
}

/* Before the percentiles sort them. */
static gboolean write_samples(const char *name, GArray *samples_ns, GError **error)
{
	g_autoptr(GString) text = g_string_new(NULL);
	g_autofree char *path = NULL;

	if (!opt_samples_dir)
		return TRUE;
	if (g_mkdir_with_parents(opt_samples_dir, 0755) < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "mkdir %s: %s", opt_samples_dir,
			    g_strerror(errno));
		return FALSE;
	}
	for (guint i = 0; i < samples_ns->len; i++)
		g_string_append_printf(text, "%" G_GINT64_FORMAT "\n", g_array_index(samples_ns, gint64, i));
	path = g_build_filename(opt_samples_dir, name, NULL);
	return g_file_set_contents(path, text->str, (gssize)text->len, error);
}

/* ---- memory ---- */

typedef enum {
	MEM_RSS,
	MEM_PSS,
	MEM_PSS_ANON,
	MEM_PSS_FILE,
	N_MEM_FIELDS,
} MemField;

static const char *const mem_keys[N_MEM_FIELDS] = { "Rss:", "Pss:", "Pss_Anon:", "Pss_File:" };

typedef struct {
	guint64 kb[N_MEM_FIELDS];
} MemUsage;

static gboolean read_smaps_rollup(GSubprocess *process, MemUsage *usage, GError **error)
{
	const char *pid = g_subprocess_get_identifier(process);
	g_autofree char *path = NULL;
	g_autofree char *text = NULL;
	g_auto(GStrv) lines = NULL;

	if (!pid) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "the process has exited");
		return FALSE;
	}
	path = g_strdup_printf("/proc/%s/smaps_rollup", pid);
	if (!g_file_get_contents(path, &text, NULL, error))
		return FALSE;
	*usage = (MemUsage){ 0 };
	lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i]; i++)
		for (guint f = 0; f < N_MEM_FIELDS; f++)
			if (g_str_has_prefix(lines[i], mem_keys[f]))
				usage->kb[f] = g_ascii_strtoull(lines[i] + strlen(mem_keys[f]), NULL, 10);
	if (!usage->kb[MEM_RSS] || !usage->kb[MEM_PSS]) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s has no Rss/Pss", path);
		return FALSE;
	}
	return TRUE;
}

static gint compare_guint64(gconstpointer a, gconstpointer b)
{
	guint64 x = *(const guint64 *)a, y = *(const guint64 *)b;

	return x < y ? -1 : x > y;
}

/* PSS moves with whatever else maps the same libraries at the moment (other
 * programs on the machine): after @settle_us idle, the median of each field
 * over MEM_READS reads. */
static gboolean measure_memory(GSubprocess *process, gulong settle_us, MemUsage *usage, GError **error)
{
	MemUsage reads[MEM_READS];

	g_usleep(settle_us);
	for (guint i = 0; i < MEM_READS; i++) {
		if (i)
			g_usleep(MEM_READ_INTERVAL_US);
		if (!read_smaps_rollup(process, &reads[i], error))
			return FALSE;
	}
	for (guint f = 0; f < N_MEM_FIELDS; f++) {
		guint64 column[MEM_READS];

		for (guint i = 0; i < MEM_READS; i++)
			column[i] = reads[i].kb[f];
		qsort(column, MEM_READS, sizeof(guint64), compare_guint64);
		usage->kb[f] = column[MEM_READS / 2];
	}
	return TRUE;
}

/* ---- CPU pinning ---- */

static int first_allowed_cpu(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return -1;
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &set))
			return cpu;
	return -1;
}

/* Every thread of @process, or the calling thread for NULL, onto @cpu. */
static gboolean pin_to_cpu(GSubprocess *process, int cpu, GError **error)
{
	g_autofree char *task_dir = NULL;
	g_autoptr(GDir) dir = NULL;
	const char *tid;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (!process) {
		if (sched_setaffinity(0, sizeof(set), &set) < 0)
			return fail_errno(error, -errno, "sched_setaffinity");
		return TRUE;
	}
	if (!g_subprocess_get_identifier(process)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot pin a process that has exited");
		return FALSE;
	}
	task_dir = g_strdup_printf("/proc/%s/task", g_subprocess_get_identifier(process));
	dir = g_dir_open(task_dir, 0, error);
	if (!dir)
		return FALSE;
	while ((tid = g_dir_read_name(dir)))
		if (sched_setaffinity((pid_t)g_ascii_strtoll(tid, NULL, 10), sizeof(set), &set) < 0 && errno != ESRCH)
			return fail_errno(error, -errno, "sched_setaffinity");
	return TRUE;
}

/* ---- the private world ---- */

typedef struct {
	char *tmpdir;
	char *bus_address;
	char *plugin_dir;
	char *capability_dir;
	char *config_path;
	GSubprocess *dbus_daemon;
	GPtrArray *children; /* GSubprocess still running, stopped by bench_free() */
	sd_bus *client;      /* makes the calls */
	sd_bus *listener;    /* a second connection, receives the signals */
	gboolean keep;
} Bench;

static const char bus_config[] =
	"<busconfig><type>session</type><listen>unix:dir=%s</listen><auth>EXTERNAL</auth>"
	"<policy context=\"default\"><allow send_destination=\"*\" eavesdrop=\"true\"/>"
	"<allow eavesdrop=\"true\"/><allow own=\"*\"/></policy></busconfig>";

static const char *builddir(void)
{
	const char *dir = g_getenv("HUB_TOP_BUILDDIR");

	return dir ? dir : ".";
}

static const char *srcdir(void)
{
	const char *dir = g_getenv("HUB_TOP_SRCDIR");

	return dir ? dir : ".";
}

static char *bench_path(Bench *b, const char *name)
{
	return g_build_filename(b->tmpdir, name, NULL);
}

static void remove_tree(const char *path)
{
	g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
	const char *name;

	while (dir && (name = g_dir_read_name(dir))) {
		g_autofree char *child = g_build_filename(path, name, NULL);

		if (g_file_test(child, G_FILE_TEST_IS_DIR) && !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
			remove_tree(child);
		else
			g_unlink(child);
	}
	g_rmdir(path);
}

static void kill_and_reap(GSubprocess *process)
{
	if (!g_subprocess_get_identifier(process))
		return;
	g_subprocess_send_signal(process, SIGTERM);
	g_subprocess_wait(process, NULL, NULL);
}

static void bench_free(Bench *b)
{
	if (!b)
		return;
	if (b->children) {
		for (guint i = 0; i < b->children->len; i++)
			kill_and_reap(g_ptr_array_index(b->children, i));
		g_ptr_array_unref(b->children);
	}
	g_clear_pointer(&b->client, sd_bus_flush_close_unref);
	g_clear_pointer(&b->listener, sd_bus_flush_close_unref);
	if (b->dbus_daemon) {
		kill_and_reap(b->dbus_daemon);
		g_object_unref(b->dbus_daemon);
	}
	if (b->tmpdir && b->keep)
		g_printerr("Kept %s\n", b->tmpdir);
	else if (b->tmpdir)
		remove_tree(b->tmpdir);
	g_free(b->tmpdir);
	g_free(b->bus_address);
	g_free(b->plugin_dir);
	g_free(b->capability_dir);
	g_free(b->config_path);
	g_free(b);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Bench, bench_free)

static void child_setup(gpointer user_data)
{
	/* Nothing outlives the benchmark, even when it is killed. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
}

/* Starts @argv with the private bus in its environment; stderr goes to
 * <tmpdir>/<log_name>. The process is stopped by bench_free() at the latest. */
static GSubprocess *bench_spawn(Bench *b, const char *log_name, const char *const *argv, GError **error)
{
	g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
	g_autofree char *log_path = bench_path(b, log_name);
	GSubprocess *process;
	int fd;

	fd = g_open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "cannot open %s: %s", log_path,
			    g_strerror(errno));
		return NULL;
	}
	g_subprocess_launcher_take_stderr_fd(launcher, fd);
	g_subprocess_launcher_set_child_setup(launcher, child_setup, NULL, NULL);
	g_subprocess_launcher_setenv(launcher, "DBUS_SESSION_BUS_ADDRESS", b->bus_address, TRUE);
	g_subprocess_launcher_unsetenv(launcher, "G_MESSAGES_DEBUG");
	process = g_subprocess_launcher_spawnv(launcher, argv, error);
	if (process)
		g_ptr_array_add(b->children, g_object_ref(process));
	return process;
}

/* SIGTERM, wait, and insist on a clean exit (hubd's shutdown is part of what runs). */
static gboolean bench_stop(Bench *b, GSubprocess *process, const char *log_name, GError **error)
{
	g_subprocess_send_signal(process, SIGTERM);
	if (!g_subprocess_wait(process, NULL, error))
		return FALSE;
	g_ptr_array_remove(b->children, process);
	if (!g_subprocess_get_if_exited(process) || g_subprocess_get_exit_status(process) != 0) {
		g_autofree char *log_path = bench_path(b, log_name);

		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s did not exit cleanly (wait status %d), see %s",
			    log_name, g_subprocess_get_status(process), log_path);
		b->keep = TRUE;
		return FALSE;
	}
	return TRUE;
}

static gboolean bus_connect(const char *address, sd_bus **out, GError **error)
{
	g_autoptr(sd_bus) bus = NULL;
	int r;

	r = sd_bus_new(&bus);
	if (r >= 0)
		r = sd_bus_set_address(bus, address);
	if (r >= 0)
		r = sd_bus_set_bus_client(bus, 1);
	if (r >= 0)
		r = sd_bus_start(bus);
	if (r < 0)
		return fail_errno(error, r, "cannot connect to the private bus");
	*out = g_steal_pointer(&bus);
	return TRUE;
}

static gboolean copy_plugin(Bench *b, GError **error)
{
	g_autofree char *from = g_build_filename(builddir(), "plugins", "virtual", ".libs", "virtual.so", NULL);
	g_autofree char *to = g_build_filename(b->plugin_dir, "virtual.so", NULL);
	g_autofree char *contents = NULL;
	gsize len = 0;

	if (!g_file_get_contents(from, &contents, &len, error)) {
		g_prefix_error(error, "the virtual plugin (was it built?): ");
		return FALSE;
	}
	if (!g_file_set_contents(to, contents, (gssize)len, error))
		return FALSE;
	/* The loader refuses group/other-writable plugins. */
	if (g_chmod(to, 0755) < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "chmod %s: %s", to, g_strerror(errno));
		return FALSE;
	}
	return TRUE;
}

static gboolean write_hubd_config(Bench *b, GError **error)
{
	/* latency-ms=0: figure 2 measures hubd, not the simulated radio. The long
	 * sensor interval keeps the 500 periodic devices quiet while latency is
	 * measured, for hubd and the baselines alike. */
	g_autofree char *conf = g_strdup_printf("[hubd]\nplugin-dir=%s\ncapability-dir=%s\nplugins=virtual\n\n"
						"[plugin.virtual]\ngenerate=%d\nlatency-ms=0\n"
						"sensor-interval-ms=86400000\n",
						b->plugin_dir, b->capability_dir, opt_devices);

	return g_file_set_contents(b->config_path, conf, -1, error);
}

static Bench *bench_new(GError **error)
{
	g_autoptr(Bench) b = g_new0(Bench, 1);
	g_autoptr(GSubprocessLauncher) launcher = NULL;
	g_autoptr(GDataInputStream) in = NULL;
	g_autofree char *sock_dir = NULL;
	g_autofree char *conf = NULL;
	g_autofree char *conf_path = NULL;
	const char *dbus_daemon = g_getenv("DBUS_DAEMON");

	b->keep = opt_keep;
	b->children = g_ptr_array_new_with_free_func(g_object_unref);
	b->tmpdir = g_dir_make_tmp("hubd-bench-XXXXXX", error);
	if (!b->tmpdir)
		return NULL;
	b->plugin_dir = bench_path(b, "plugins");
	b->config_path = bench_path(b, "hubd.conf");
	b->capability_dir = g_build_filename(srcdir(), "data", "capabilities", NULL);
	sock_dir = bench_path(b, "bus");
	if (g_mkdir(b->plugin_dir, 0755) < 0 || g_mkdir(sock_dir, 0700) < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "mkdir in %s: %s", b->tmpdir,
			    g_strerror(errno));
		return NULL;
	}
	if (!copy_plugin(b, error) || !write_hubd_config(b, error))
		return NULL;

	conf = g_strdup_printf(bus_config, sock_dir);
	conf_path = bench_path(b, "bus.conf");
	if (!g_file_set_contents(conf_path, conf, -1, error))
		return NULL;
	launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
	g_subprocess_launcher_set_child_setup(launcher, child_setup, NULL, NULL);
	b->dbus_daemon = g_subprocess_launcher_spawn(launcher, error, dbus_daemon ? dbus_daemon : "dbus-daemon",
						     "--nofork", "--print-address=1", "--config-file", conf_path, NULL);
	if (!b->dbus_daemon)
		return NULL;
	in = g_data_input_stream_new(g_subprocess_get_stdout_pipe(b->dbus_daemon));
	b->bus_address = g_data_input_stream_read_line(in, NULL, NULL, error);
	if (!b->bus_address) {
		if (error && !*error)
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "dbus-daemon printed no address");
		return NULL;
	}
	if (!bus_connect(b->bus_address, &b->client, error) || !bus_connect(b->bus_address, &b->listener, error))
		return NULL;
	return g_steal_pointer(&b);
}

/* ---- waiting on the listener connection ---- */

typedef struct {
	gboolean owned;
	gint64 owned_ns;
} NameWatch;

static int on_name_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	NameWatch *watch = userdata;
	gint64 now = bench_now_ns();
	const char *name, *old_owner, *new_owner;

	if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) >= 0 && *new_owner && !watch->owned) {
		watch->owned = TRUE;
		watch->owned_ns = now;
	}
	return 0;
}

/* Processes @bus until *@flag, @deadline_ns, or the exit of @child (if any). */
static gboolean wait_for_flag(sd_bus *bus, const gboolean *flag, GSubprocess *child, gint64 deadline_ns,
			      const char *what, GError **error)
{
	int r;

	while (!*flag) {
		r = sd_bus_process(bus, NULL);
		if (r < 0)
			return fail_errno(error, r, what);
		if (r > 0)
			continue;
		if (child && !g_subprocess_get_identifier(child)) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: the process exited", what);
			return FALSE;
		}
		if (bench_now_ns() > deadline_ns) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "%s: timed out", what);
			return FALSE;
		}
		/* The socket wakes us at once; the timeout only notices a dead child. */
		r = sd_bus_wait(bus, 10000);
		if (r < 0 && r != -EINTR)
			return fail_errno(error, r, what);
	}
	return TRUE;
}

/* ---- figure 4: start-up ---- */

typedef struct {
	GArray *name_ns;      /* spawn -> name owned */
	GArray *published_ns; /* spawn -> GetManagedObjects lists every device */
	GArray *gmo_ns;       /* the last GetManagedObjects call alone */
} StartSamples;

static void start_samples_init(StartSamples *s)
{
	s->name_ns = g_array_new(FALSE, FALSE, sizeof(gint64));
	s->published_ns = g_array_new(FALSE, FALSE, sizeof(gint64));
	s->gmo_ns = g_array_new(FALSE, FALSE, sizeof(gint64));
}

static void start_samples_clear(StartSamples *s)
{
	g_clear_pointer(&s->name_ns, g_array_unref);
	g_clear_pointer(&s->published_ns, g_array_unref);
	g_clear_pointer(&s->gmo_ns, g_array_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(StartSamples, start_samples_clear)

/* Objects under HUB_DEVICES implementing the device interface. */
static int count_devices(sd_bus_message *reply)
{
	const char *path, *iface;
	int count = 0, r;

	r = sd_bus_message_enter_container(reply, 'a', "{oa{sa{sv}}}");
	while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "oa{sa{sv}}")) > 0) {
		gboolean device_path;

		r = sd_bus_message_read(reply, "o", &path);
		if (r < 0)
			break;
		device_path = g_str_has_prefix(path, HUB_DEVICES "/");
		r = sd_bus_message_enter_container(reply, 'a', "{sa{sv}}");
		while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "sa{sv}")) > 0) {
			r = sd_bus_message_read(reply, "s", &iface);
			if (r >= 0 && device_path && g_str_equal(iface, HUB_DEVICE_IFACE))
				count++;
			if (r >= 0)
				r = sd_bus_message_skip(reply, "a{sv}");
			if (r >= 0)
				r = sd_bus_message_exit_container(reply);
		}
		if (r >= 0)
			r = sd_bus_message_exit_container(reply);
		if (r >= 0)
			r = sd_bus_message_exit_container(reply);
	}
	return r < 0 ? r : count;
}

static gboolean name_has_owner(Bench *b, const char *name, GError **error)
{
	g_auto(sd_bus_error) bus_error = SD_BUS_ERROR_NULL;
	g_autoptr(sd_bus_message) reply = NULL;
	int owned = 0;
	int r;

	r = sd_bus_call_method(b->client, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
			       "NameHasOwner", &bus_error, &reply, "s", name);
	if (r >= 0)
		r = sd_bus_message_read(reply, "b", &owned);
	if (r < 0)
		return fail_call(error, r, &bus_error, "NameHasOwner");
	if (!owned)
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s announced but not owned", name);
	return owned;
}

/* Spawns @argv, waits for @name and, with @devices > 0, until GetManagedObjects
 * lists @devices devices. Appends to @samples; returns the running process. */
static GSubprocess *measure_start(Bench *b, const char *const *argv, const char *log_name, const char *name,
				  int devices, StartSamples *samples, GError **error)
{
	g_autoptr(sd_bus_slot) slot = NULL;
	g_autoptr(GSubprocess) process = NULL;
	g_autofree char *rule = g_strdup_printf("type='signal',sender='org.freedesktop.DBus',"
						"interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='%s'",
						name);
	NameWatch watch = { FALSE, 0 };
	g_autofree char *what = g_strdup_printf("waiting for %s (see %s in the temporary directory)", name, log_name);
	gint64 start_ns, gmo_start_ns = 0, now;
	int r;

	/* The bus announces the owner the moment it has one: no polling delay,
	 * and no polling load on the two processes being measured. */
	r = sd_bus_add_match(b->listener, &slot, rule, on_name_owner_changed, &watch);
	if (r < 0) {
		fail_errno(error, r, "AddMatch NameOwnerChanged");
		return NULL;
	}
	start_ns = bench_now_ns();
	process = bench_spawn(b, log_name, argv, error);
	if (!process)
		return NULL;
	if (!wait_for_flag(b->listener, &watch.owned, process, start_ns + START_TIMEOUT_NS, what, error)) {
		b->keep = TRUE;
		return NULL;
	}
	g_array_append_val(samples->name_ns, (gint64){ watch.owned_ns - start_ns });
	while (devices > 0) {
		g_auto(sd_bus_error) bus_error = SD_BUS_ERROR_NULL;
		g_autoptr(sd_bus_message) reply = NULL;
		int count;

		gmo_start_ns = bench_now_ns();
		r = sd_bus_call_method(b->client, name, HUB_ROOT, "org.freedesktop.DBus.ObjectManager",
				       "GetManagedObjects", &bus_error, &reply, "");
		if (r < 0) {
			fail_call(error, r, &bus_error, "GetManagedObjects");
			return NULL;
		}
		count = count_devices(reply);
		now = bench_now_ns();
		if (count < 0) {
			fail_errno(error, count, "parsing GetManagedObjects");
			return NULL;
		}
		if (count >= devices) {
			g_array_append_val(samples->published_ns, (gint64){ now - start_ns });
			g_array_append_val(samples->gmo_ns, (gint64){ now - gmo_start_ns });
			break;
		}
		if (now - start_ns > START_TIMEOUT_NS) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "only %d of %d devices published", count,
				    devices);
			return NULL;
		}
	}
	if (!name_has_owner(b, name, error))
		return NULL;
	return g_steal_pointer(&process);
}

static GSubprocess *spawn_hubd_measured(Bench *b, const char *state_dir, StartSamples *samples, GError **error)
{
	g_autofree char *hubd = g_build_filename(builddir(), "src", "hubd", NULL);
	const char *argv[] = { hubd, "--session", "--config", b->config_path, "--state-dir", state_dir, NULL };

	return measure_start(b, argv, "hubd.log", HUB_NAME, opt_devices, samples, error);
}

/* @runs start-ups of hubd: each on a new state directory (@first_run) or all on
 * @state_dir, which a first start creates beforehand. Stops every run. */
static gboolean measure_hubd_starts(Bench *b, gboolean first_run, const char *state_dir, StartSamples *samples,
				    GError **error)
{
	if (!first_run && !g_file_test(state_dir, G_FILE_TEST_IS_DIR)) {
		g_auto(StartSamples) unused = { 0 };
		g_autoptr(GSubprocess) hubd = NULL;

		start_samples_init(&unused);
		hubd = spawn_hubd_measured(b, state_dir, &unused, error);
		if (!hubd || !bench_stop(b, hubd, "hubd.log", error))
			return FALSE;
	}
	for (gint i = 0; i < opt_runs; i++) {
		g_autofree char *name = g_strdup_printf("state-first-%d", i);
		g_autofree char *dir = first_run ? bench_path(b, name) : g_strdup(state_dir);
		g_autoptr(GSubprocess) hubd = spawn_hubd_measured(b, dir, samples, error);

		if (!hubd || !bench_stop(b, hubd, "hubd.log", error))
			return FALSE;
		g_usleep(100000);
	}
	return TRUE;
}

static char *bench_program(const char *name)
{
	return g_build_filename(builddir(), "bench", name, NULL);
}

static GSubprocess *spawn_bare_measured(Bench *b, StartSamples *samples, GError **error)
{
	g_autofree char *bare = bench_program("bench-bare-daemon");
	const char *argv[] = { bare, BARE_NAME, NULL };

	return measure_start(b, argv, "bare-daemon.log", BARE_NAME, 0, samples, error);
}

/* ---- figure 1: one property read ---- */

typedef struct {
	const char *label;
	const char *destination;
	const char *path;
	const char *iface;
	GArray *samples_ns;
} Target;

static gboolean get_onoff(sd_bus *bus, const Target *t, int *value, GError **error)
{
	g_auto(sd_bus_error) bus_error = SD_BUS_ERROR_NULL;
	g_autoptr(sd_bus_message) reply = NULL;
	int64_t last_changed_ms;
	int r;

	r = sd_bus_call_method(bus, t->destination, t->path, t->iface, "GetProperty", &bus_error, &reply, "sss",
			       ONOFF_ENDPOINT, ONOFF_CAPABILITY, ONOFF_PROPERTY);
	if (r >= 0)
		r = sd_bus_message_read(reply, "vx", "b", value, &last_changed_ms);
	if (r < 0)
		return fail_call(error, r, &bus_error, t->label);
	return TRUE;
}

/* Blocks of BLOCK calls alternate between the services (in a rotating order)
 * so that a slow phase of the machine hits all of them alike. */
static gboolean measure_reads(Bench *b, Target *targets, guint n_targets, GError **error)
{
	guint rounds = ((guint)opt_iterations + BLOCK - 1) / BLOCK;
	int value;

	for (guint t = 0; t < n_targets; t++)
		for (gint i = 0; i < opt_warmup; i++)
			if (!get_onoff(b->client, &targets[t], &value, error))
				return FALSE;
	for (guint round = 0; round < rounds; round++) {
		for (guint k = 0; k < n_targets; k++) {
			Target *t = &targets[(round + k) % n_targets];

			for (guint i = 0; i < BLOCK && round * BLOCK + i < (guint)opt_iterations; i++) {
				gint64 start = bench_now_ns();

				if (!get_onoff(b->client, t, &value, error))
					return FALSE;
				g_array_append_val(t->samples_ns, (gint64){ bench_now_ns() - start });
			}
		}
	}
	return TRUE;
}

/* ---- figure 2: set -> PropertiesChanged on another connection ---- */

typedef struct {
	int expected;         /* the OnOff value being written */
	gboolean got_signal;  /* State announced with that value */
	gboolean got_reply;
	gint64 signal_ns;
	gint64 reply_ns;
	int response_code;
	char *error;
} SetRound;

/* True when the State variant at the read position holds ONOFF_STATE_KEY = @expected. */
static gboolean state_has_onoff(sd_bus_message *m, int expected)
{
	const char *key;
	int value = -1;
	int r;

	r = sd_bus_message_enter_container(m, 'v', "a{s(vx)}");
	if (r > 0)
		r = sd_bus_message_enter_container(m, 'a', "{s(vx)}");
	while (r > 0 && (r = sd_bus_message_enter_container(m, 'e', "s(vx)")) > 0) {
		r = sd_bus_message_read(m, "s", &key);
		if (r >= 0 && g_str_equal(key, ONOFF_STATE_KEY)) {
			int64_t last_changed_ms;

			r = sd_bus_message_read(m, "(vx)", "b", &value, &last_changed_ms);
			return r >= 0 && value == expected;
		}
		if (r >= 0)
			r = sd_bus_message_skip(m, "(vx)");
		if (r >= 0)
			r = sd_bus_message_exit_container(m);
	}
	return FALSE;
}

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	SetRound *round = userdata;
	gint64 now = bench_now_ns();
	const char *iface, *name;
	int r;

	r = sd_bus_message_read(m, "s", &iface);
	if (r < 0 || !g_str_equal(iface, HUB_DEVICE_IFACE))
		return 0;
	r = sd_bus_message_enter_container(m, 'a', "{sv}");
	while (r > 0 && (r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
		r = sd_bus_message_read(m, "s", &name);
		if (r < 0)
			return 0;
		if (g_str_equal(name, "State")) {
			if (state_has_onoff(m, round->expected) && !round->got_signal) {
				round->got_signal = TRUE;
				round->signal_ns = now;
			}
			return 0;
		}
		r = sd_bus_message_skip(m, "v");
		if (r >= 0)
			r = sd_bus_message_exit_container(m);
	}
	return 0;
}

static int on_set_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	SetRound *round = userdata;
	const char *result_json;
	int r;

	round->reply_ns = bench_now_ns();
	round->got_reply = TRUE;
	if (sd_bus_message_is_method_error(m, NULL)) {
		const sd_bus_error *e = sd_bus_message_get_error(m);

		round->error = g_strdup_printf("%s: %s", e->name, e->message);
		return 0;
	}
	r = sd_bus_message_read(m, "is", &round->response_code, &result_json);
	if (r < 0)
		round->error = g_strdup_printf("bad SetProperty reply: %s", g_strerror(-r));
	else if (round->response_code != 200)
		round->error = g_strdup_printf("SetProperty answered %d: %s", round->response_code, result_json);
	return 0;
}

static int process_all(sd_bus *bus)
{
	int r;

	while ((r = sd_bus_process(bus, NULL)) > 0)
		;
	return r;
}

/* One SetProperty from the client; waits for its reply and for the listener's
 * signal. @round is the match's user data too. */
static gboolean set_once(Bench *b, const char *device_path, SetRound *round, int value, GError **error)
{
	g_autoptr(sd_bus_slot) reply_slot = NULL;
	gint64 start_ns;
	int r;

	g_clear_pointer(&round->error, g_free);
	*round = (SetRound){ .expected = value };
	start_ns = bench_now_ns();
	r = sd_bus_call_method_async(b->client, &reply_slot, HUB_NAME, device_path, HUB_DEVICE_IFACE, "SetProperty",
				     on_set_reply, round, "sssv", ONOFF_ENDPOINT, ONOFF_CAPABILITY, ONOFF_PROPERTY,
				     "b", value);
	if (r < 0)
		return fail_errno(error, r, "SetProperty");
	while (!round->got_signal || !round->got_reply) {
		struct pollfd fds[2];

		r = process_all(b->client);
		if (r >= 0)
			r = process_all(b->listener);
		if (r < 0)
			return fail_errno(error, r, "SetProperty round");
		if (round->error) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s", round->error);
			return FALSE;
		}
		if (round->got_signal && round->got_reply)
			break;
		if (bench_now_ns() - start_ns > SET_TIMEOUT_NS) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
				    "SetProperty round timed out (reply %s, State signal %s)",
				    round->got_reply ? "yes" : "no", round->got_signal ? "yes" : "no");
			return FALSE;
		}
		fds[0] = (struct pollfd){ sd_bus_get_fd(b->client), (short)sd_bus_get_events(b->client), 0 };
		fds[1] = (struct pollfd){ sd_bus_get_fd(b->listener), (short)sd_bus_get_events(b->listener), 0 };
		if (poll(fds, G_N_ELEMENTS(fds), 100) < 0 && errno != EINTR)
			return fail_errno(error, -errno, "poll");
	}
	round->signal_ns -= start_ns;
	round->reply_ns -= start_ns;
	return TRUE;
}

typedef struct {
	GArray *signal_ns; /* send -> the listener has the PropertiesChanged */
	GArray *reply_ns;  /* send -> the client has SetProperty's reply */
} SetSamples;

/* Toggles the light's OnOff; the first rounds (up to 200) are warm-up. */
static gboolean measure_sets(Bench *b, const Target *hub, SetSamples *samples, GError **error)
{
	g_autoptr(sd_bus_slot) slot = NULL;
	g_autofree char *device_path = NULL;
	g_autofree char *rule = NULL;
	SetRound round = { 0 };
	gboolean ok = TRUE;
	char *path = NULL;
	int value = 0;
	int r;

	r = sd_bus_path_encode(HUB_DEVICES, LIGHT_ID, &path);
	if (r < 0)
		return fail_errno(error, r, "sd_bus_path_encode");
	device_path = g_strdup(path);
	free(path);
	rule = g_strdup_printf("type='signal',path='%s',interface='org.freedesktop.DBus.Properties',"
			       "member='PropertiesChanged',arg0='" HUB_DEVICE_IFACE "'",
			       device_path);
	r = sd_bus_add_match(b->listener, &slot, rule, on_properties_changed, &round);
	if (r < 0)
		return fail_errno(error, r, "AddMatch PropertiesChanged");
	if (!get_onoff(b->client, hub, &value, error))
		return FALSE;
	for (gint i = -MIN(200, opt_warmup); ok && i < opt_set_iterations; i++) {
		value = !value;
		ok = set_once(b, device_path, &round, value, error);
		if (ok && i >= 0) {
			g_array_append_val(samples->signal_ns, round.signal_ns);
			g_array_append_val(samples->reply_ns, round.reply_ns);
		}
	}
	g_free(round.error);
	return ok;
}

/* ---- report ---- */

static char *format_runs_ms(GArray *samples_ns)
{
	GString *text = g_string_new(NULL);

	for (guint i = 0; i < samples_ns->len; i++)
		g_string_append_printf(text, "%s%.1f", i ? " " : "", g_array_index(samples_ns, gint64, i) / 1e6);
	return g_string_free(text, FALSE);
}

static double kb_to_mb(guint64 kb)
{
	return kb / 1024.0;
}

/* ---- main ---- */

static GSubprocess *start_echo(Bench *b, gboolean glib, GError **error)
{
	g_autofree char *echo = bench_program("bench-echo-service");
	const char *argv_plain[] = { echo, ECHO_NAME, NULL };
	const char *argv_glib[] = { echo, "--glib", ECHO_GLIB_NAME, NULL };
	g_auto(StartSamples) unused = { 0 };

	start_samples_init(&unused);
	return measure_start(b, glib ? argv_glib : argv_plain, glib ? "echo-glib.log" : "echo.log",
			     glib ? ECHO_GLIB_NAME : ECHO_NAME, 0, &unused, error);
}

static GArray *samples_new(void)
{
	return g_array_new(FALSE, FALSE, sizeof(gint64));
}

static gboolean check_options(GError **error)
{
	if (opt_iterations < 1 || opt_warmup < 0 || opt_set_iterations < 1 || opt_runs < 1 || opt_devices < 1 ||
	    opt_devices > 100000 || opt_cpu < -2 || opt_cpu >= CPU_SETSIZE) {
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			    "need --iterations >= 1, --warmup >= 0, --set-iterations >= 1, --runs >= 1, "
			    "--devices 1-100000, --cpu -1 or a CPU number");
		return FALSE;
	}
	return TRUE;
}

int main(int argc, char **argv)
{
	g_autoptr(GOptionContext) context = g_option_context_new("- hubd benchmarks (bench/README.md)");
	g_autoptr(GError) error = NULL;
	g_autoptr(Bench) b = NULL;
	g_autoptr(GSubprocess) bare = NULL;
	g_autoptr(GSubprocess) hubd = NULL;
	g_autoptr(GSubprocess) echo = NULL;
	g_autoptr(GSubprocess) echo_glib = NULL;
	g_autofree char *warm_state = NULL;
	g_autofree char *first_runs = NULL;
	g_autofree char *warm_runs = NULL;
	g_autofree char *bare_runs = NULL;
	g_auto(StartSamples) bare_start = { 0 };
	g_auto(StartSamples) hub_first = { 0 };
	g_auto(StartSamples) hub_warm = { 0 };
	g_auto(StartSamples) unused = { 0 };
	g_autoptr(GArray) echo_ns = samples_new();
	g_autoptr(GArray) echo_glib_ns = samples_new();
	g_autoptr(GArray) hub_ns = samples_new();
	g_autoptr(GArray) signal_ns = samples_new();
	g_autoptr(GArray) reply_ns = samples_new();
	SetSamples sets = { signal_ns, reply_ns };
	Target targets[] = {
		{ "echo", ECHO_NAME, ECHO_PATH, ECHO_IFACE, echo_ns },
		{ "echo-glib", ECHO_GLIB_NAME, ECHO_PATH, ECHO_IFACE, echo_glib_ns },
		{ "hubd", HUB_NAME, NULL, HUB_DEVICE_IFACE, hub_ns },
	};
	g_autofree char *light_path = NULL;
	MemUsage bare_mem, hub_mem, hub_mem_loaded;
	Percentiles echo_p, echo_glib_p, hub_p, signal_p, reply_p;
	double bare_name_ms;
	struct utsname uts;
	char *encoded = NULL;
	gboolean ok;

	setlocale(LC_ALL, "");
	g_option_context_add_main_entries(context, option_entries, NULL);
	if (!g_option_context_parse(context, &argc, &argv, &error) || !check_options(&error)) {
		g_printerr("bench-hubd: %s\n", error->message);
		return 2;
	}
	if (sd_bus_path_encode(HUB_DEVICES, LIGHT_ID, &encoded) < 0)
		return 1;
	light_path = g_strdup(encoded);
	free(encoded);
	targets[2].path = light_path;
	start_samples_init(&bare_start);
	start_samples_init(&hub_first);
	start_samples_init(&hub_warm);
	start_samples_init(&unused);

	b = bench_new(&error);
	ok = b != NULL;
	warm_state = ok ? bench_path(b, "state") : NULL;

	/* Figures 3 and 4, baseline: the bare daemon; the last one stays up for its memory. */
	if (ok)
		g_printerr("Start-up and memory of the bare daemon (%d runs)...\n", opt_runs);
	for (gint i = 0; ok && i < opt_runs; i++) {
		g_clear_object(&bare);
		bare = spawn_bare_measured(b, &bare_start, &error);
		ok = bare != NULL;
		if (ok && i == opt_runs - 1)
			ok = measure_memory(bare, IDLE_SETTLE_US, &bare_mem, &error);
		if (ok)
			ok = bench_stop(b, bare, "bare-daemon.log", &error);
		if (ok)
			g_usleep(100000);
	}
	/* Figure 4: hubd on a new database each time, then on an existing one. */
	if (ok) {
		g_printerr("Start-up of hubd with %d devices, first run and warm (%d runs each)...\n", opt_devices,
			   opt_runs);
		ok = measure_hubd_starts(b, TRUE, NULL, &hub_first, &error) &&
		     measure_hubd_starts(b, FALSE, warm_state, &hub_warm, &error);
	}
	/* Figure 3: hubd idle; it stays up for figures 1 and 2. */
	if (ok) {
		g_printerr("Memory of hubd, idle...\n");
		hubd = spawn_hubd_measured(b, warm_state, &unused, &error);
		ok = hubd != NULL;
	}
	if (ok)
		ok = measure_memory(hubd, IDLE_SETTLE_US, &hub_mem, &error);
	/* Figures 1 and 2. */
	if (ok) {
		echo = start_echo(b, FALSE, &error);
		ok = echo != NULL;
	}
	if (ok) {
		echo_glib = start_echo(b, TRUE, &error);
		ok = echo_glib != NULL;
	}
	/* On one CPU every hand-off is a plain context switch: the figures are the
	 * work done, not where the scheduler put four processes on idle cores. */
	if (ok && opt_cpu == -2)
		opt_cpu = first_allowed_cpu();
	if (ok && opt_cpu >= 0)
		ok = pin_to_cpu(NULL, opt_cpu, &error) && pin_to_cpu(b->dbus_daemon, opt_cpu, &error) &&
		     pin_to_cpu(hubd, opt_cpu, &error) && pin_to_cpu(echo, opt_cpu, &error) &&
		     pin_to_cpu(echo_glib, opt_cpu, &error);
	if (ok) {
		g_printerr("GetProperty round trips (%d per service after %d warm-up)...\n", opt_iterations,
			   opt_warmup);
		ok = measure_reads(b, targets, G_N_ELEMENTS(targets), &error);
	}
	if (ok) {
		g_printerr("SetProperty -> PropertiesChanged (%d rounds)...\n", opt_set_iterations);
		ok = measure_sets(b, &targets[2], &sets, &error);
	}
	if (ok)
		ok = measure_memory(hubd, IDLE_SETTLE_US, &hub_mem_loaded, &error);
	if (ok)
		ok = bench_stop(b, hubd, "hubd.log", &error) && bench_stop(b, echo, "echo.log", &error) &&
		     bench_stop(b, echo_glib, "echo-glib.log", &error);
	for (guint t = 0; ok && t < G_N_ELEMENTS(targets); t++) {
		g_autofree char *name = g_strdup_printf("get-property-%s.txt", targets[t].label);

		ok = write_samples(name, targets[t].samples_ns, &error);
	}
	if (ok)
		ok = write_samples("set-signal-hubd.txt", sets.signal_ns, &error) &&
		     write_samples("set-reply-hubd.txt", sets.reply_ns, &error);
	if (!ok) {
		g_printerr("bench-hubd: %s\n", error->message);
		return 1;
	}

	echo_p = percentiles(targets[0].samples_ns);
	echo_glib_p = percentiles(targets[1].samples_ns);
	hub_p = percentiles(targets[2].samples_ns);
	signal_p = percentiles(sets.signal_ns);
	reply_p = percentiles(sets.reply_ns);
	/* Before the medians sort them: the runs in the order they ran. */
	first_runs = format_runs_ms(hub_first.published_ns);
	warm_runs = format_runs_ms(hub_warm.published_ns);
	bare_runs = format_runs_ms(bare_start.name_ns);
	bare_name_ms = median_ms(bare_start.name_ns);
	uname(&uts);

	g_print("\nhubd benchmarks: %d virtual devices; %s %s %s, %ld CPUs; CFLAGS %s\n", opt_devices, uts.sysname,
		uts.release, uts.machine, sysconf(_SC_NPROCESSORS_ONLN), BENCH_CFLAGS);
	g_print("Every baseline ran in this run on the same private bus; ratio = hubd / baseline.\n");
	if (opt_cpu >= 0)
		g_print("Figures 1 and 2: client, dbus-daemon, hubd and echo services pinned to CPU %d (--cpu).\n\n",
			opt_cpu);
	else
		g_print("Figures 1 and 2: not pinned (--cpu=-1).\n\n");
	bench_print_header();
	bench_print_rule();
	bench_print_row("1", "Device.GetProperty round trip, p50", hub_p.p50, echo_p.p50, "us", "ratio <= 1.5",
			bench_check(hub_p.p50 / echo_p.p50, 1.5));
	bench_print_row("", "  p90", hub_p.p90, echo_p.p90, "us", NULL, BENCH_TARGET_NONE);
	bench_print_row("", "  p99", hub_p.p99, echo_p.p99, "us", NULL, BENCH_TARGET_NONE);
	bench_print_row("", "  p50 vs echo in a GLib main loop", hub_p.p50, echo_glib_p.p50, "us", NULL,
			BENCH_TARGET_NONE);
	bench_print_row("", "  p90 vs echo in a GLib main loop", hub_p.p90, echo_glib_p.p90, "us", NULL,
			BENCH_TARGET_NONE);
	bench_print_row("", "  p99 vs echo in a GLib main loop", hub_p.p99, echo_glib_p.p99, "us", NULL,
			BENCH_TARGET_NONE);
	bench_print_rule();
	bench_print_row("2", "SetProperty -> PropertiesChanged seen, p50", signal_p.p50, echo_p.p50, "us", NULL,
			BENCH_TARGET_NONE);
	bench_print_row("", "  p90", signal_p.p90, echo_p.p50, "us", NULL, BENCH_TARGET_NONE);
	bench_print_row("", "  p99", signal_p.p99, echo_p.p50, "us", NULL, BENCH_TARGET_NONE);
	bench_print_row("", "  SetProperty reply, p50", reply_p.p50, echo_p.p50, "us", NULL, BENCH_TARGET_NONE);
	bench_print_rule();
	bench_print_row("3", "PSS, idle", kb_to_mb(hub_mem.kb[MEM_PSS]), kb_to_mb(bare_mem.kb[MEM_PSS]), "MB",
			"<= 6 MB", bench_check(kb_to_mb(hub_mem.kb[MEM_PSS]), 6));
	/* The issue sets 6 MB against a bare daemon of about 2 MB: 3x, judged in the same run. */
	bench_print_row("", "  PSS as a ratio to the bare daemon", kb_to_mb(hub_mem.kb[MEM_PSS]),
			kb_to_mb(bare_mem.kb[MEM_PSS]), "MB", "ratio <= 3.0",
			bench_check(hub_mem.kb[MEM_PSS] / (double)MAX(bare_mem.kb[MEM_PSS], 1), 3.0));
	bench_print_row("", "  RSS, idle", kb_to_mb(hub_mem.kb[MEM_RSS]), kb_to_mb(bare_mem.kb[MEM_RSS]), "MB", NULL,
			BENCH_TARGET_NONE);
	bench_print_row("", "  PSS anonymous (heap, stacks)", kb_to_mb(hub_mem.kb[MEM_PSS_ANON]),
			kb_to_mb(bare_mem.kb[MEM_PSS_ANON]), "MB", NULL, BENCH_TARGET_NONE);
	bench_print_row("", "  PSS file-backed (code, shared)", kb_to_mb(hub_mem.kb[MEM_PSS_FILE]),
			kb_to_mb(bare_mem.kb[MEM_PSS_FILE]), "MB", NULL, BENCH_TARGET_NONE);
	bench_print_row("", "  PSS after figures 1 and 2", kb_to_mb(hub_mem_loaded.kb[MEM_PSS]),
			kb_to_mb(bare_mem.kb[MEM_PSS]), "MB", NULL, BENCH_TARGET_NONE);
	bench_print_row("", "  PSS anonymous after figures 1 and 2", kb_to_mb(hub_mem_loaded.kb[MEM_PSS_ANON]),
			kb_to_mb(bare_mem.kb[MEM_PSS_ANON]), "MB", NULL, BENCH_TARGET_NONE);
	bench_print_rule();
	bench_print_row("4", "start -> all devices published, first run", median_ms(hub_first.published_ns),
			bare_name_ms, "ms", "<= 100 ms", bench_check(median_ms(hub_first.published_ns), 100));
	bench_print_row("", "start -> all devices published, warm", median_ms(hub_warm.published_ns), bare_name_ms,
			"ms", "<= 100 ms", bench_check(median_ms(hub_warm.published_ns), 100));
	bench_print_row("", "  start -> name owned, first run", median_ms(hub_first.name_ns), bare_name_ms, "ms", NULL,
			BENCH_TARGET_NONE);
	bench_print_row("", "  start -> name owned, warm", median_ms(hub_warm.name_ns), bare_name_ms, "ms", NULL,
			BENCH_TARGET_NONE);
	bench_print_row("", "  GetManagedObjects call alone, warm", median_ms(hub_warm.gmo_ns), 0, "ms", NULL,
			BENCH_TARGET_NONE);
	bench_print_rule();
	g_print("1: %d calls per service after %d warm-up, in alternating blocks of %d; baseline bench-echo-service "
		"(sd_bus_wait loop).\n",
		opt_iterations, opt_warmup, BLOCK);
	g_print("2: %d OnOff toggles of %s (latency-ms=0); baseline = figure 1's echo round trip p50.\n",
		opt_set_iterations, LIGHT_ID);
	g_print("3: /proc/PID/smaps_rollup, median of %d reads after %d s idle; baseline bench-bare-daemon "
		"(MB = 1024 kB).\n",
		MEM_READS, (int)(IDLE_SETTLE_US / G_USEC_PER_SEC));
	g_print("4: medians of %d runs; baseline bench-bare-daemon start -> name owned.\n", opt_runs);
	g_print("   runs (ms): first %s | warm %s | bare %s\n", first_runs, warm_runs, bare_runs);

	return 0;
}
