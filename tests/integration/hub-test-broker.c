/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hub-test-broker.h"

#define START_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS  5000
#define START_ATTEMPTS   5

struct _HubTestBroker {
	GSubprocess *process;
	guint16 port;
	char *config_path;
	char *log_path;
};

const char *hub_test_broker_path(void)
{
	const char *path = g_getenv("HUB_MOSQUITTO");

	return path && *path ? path : "/usr/sbin/mosquitto";
}

gboolean hub_test_broker_available(void)
{
	return g_file_test(hub_test_broker_path(), G_FILE_TEST_IS_EXECUTABLE);
}

guint16 hub_test_free_port(void)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
	g_assert_cmpint(getsockname(fd, (struct sockaddr *)&addr, &len), ==, 0);
	close(fd);
	return ntohs(addr.sin_port);
}

static gboolean port_accepts(guint16 port)
{
	struct sockaddr_in addr = { .sin_family = AF_INET,
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				    .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	gboolean ok;

	g_assert_cmpint(fd, >=, 0);
	/* Loopback connects complete or fail at once; no timeout needed. */
	ok = connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;
	close(fd);
	return ok;
}

static void child_setup(gpointer user_data)
{
	prctl(PR_SET_PDEATHSIG, SIGTERM);
}

static void write_config(HubTestBroker *broker, HubTestPki *pki, const char *extra_config)
{
	g_autoptr(GString) conf = g_string_new(NULL);
	g_autoptr(GError) error = NULL;

	g_string_append(conf, "per_listener_settings false\n"
			      "allow_anonymous false\n"
			      "persistence false\n"
			      "log_dest stderr\n"
			      "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
			      "log_type subscribe\n"
			      "connection_messages true\n"
			      /* Else CONNACK, queued behind TLS 1.3 session tickets, waits
			       * ~40 ms for the client's delayed ACK (Nagle). */
			      "set_tcp_nodelay true\n");
	/* As root, mosquitto switches to user "mosquitto" before reading the
	 * 0600 server key; as anyone else "user" has no effect. */
	if (geteuid() == 0)
		g_string_append(conf, "user root\n");
	if (extra_config)
		g_string_append(conf, extra_config);
	g_string_append_printf(conf,
			       "listener %u 127.0.0.1\n"
			       "cafile %s\ncertfile %s\nkeyfile %s\n"
			       "require_certificate true\n"
			       "use_identity_as_username true\n"
			       "tls_version tlsv1.2\n",
			       broker->port, hub_test_pki_ca_path(pki), hub_test_pki_server_cert_path(pki),
			       hub_test_pki_server_key_path(pki));
	g_file_set_contents(broker->config_path, conf->str, -1, &error);
	g_assert_no_error(error);
}

static gboolean running(HubTestBroker *broker)
{
	/* NULL once GLib's worker thread has reaped the child. */
	return broker->process && g_subprocess_get_identifier(broker->process) != NULL;
}

static GSubprocess *spawn(HubTestBroker *broker)
{
	g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);
	g_autoptr(GError) error = NULL;
	GSubprocess *process;
	int fd = g_open(broker->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

	g_assert_cmpint(fd, >=, 0);
	g_subprocess_launcher_set_child_setup(launcher, child_setup, NULL, NULL);
	g_subprocess_launcher_take_stdout_fd(launcher, dup(fd));
	g_subprocess_launcher_take_stderr_fd(launcher, fd);
	process = g_subprocess_launcher_spawn(launcher, &error, hub_test_broker_path(), "-c", broker->config_path,
					      NULL);
	g_assert_no_error(error);
	return process;
}

/* TRUE: up. FALSE: it exited because the port was taken (try another). */
static gboolean wait_started(HubTestBroker *broker, gsize log_offset)
{
	gint64 deadline = g_get_monotonic_time() + START_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;
	g_autofree char *tail = NULL;

	while (g_get_monotonic_time() < deadline) {
		g_autofree char *log = hub_test_broker_read_log(broker);
		gboolean up;

		g_free(tail);
		tail = g_strdup(strlen(log) > log_offset ? log + log_offset : "");
		/* Both: a port thief would accept the connection too. */
		up = running(broker) && strstr(tail, " running") && port_accepts(broker->port);
		if (up)
			return TRUE;
		if (!running(broker)) {
			if (strstr(tail, "Address already in use"))
				return FALSE;
			g_error("mosquitto exited at start; its log:\n%s", tail);
		}
		g_usleep(10 * 1000);
	}
	g_error("mosquitto did not accept connections on port %u within %d ms; its log:\n%s", broker->port,
		START_TIMEOUT_MS, tail ? tail : "");
}

HubTestBroker *hub_test_broker_start(HubTestPki *pki, const char *dir)
{
	return hub_test_broker_start_full(pki, dir, NULL);
}

HubTestBroker *hub_test_broker_start_full(HubTestPki *pki, const char *dir, const char *extra_config)
{
	HubTestBroker *broker = g_new0(HubTestBroker, 1);

	broker->config_path = g_build_filename(dir, "mosquitto.conf", NULL);
	broker->log_path = g_build_filename(dir, "mosquitto.log", NULL);
	for (guint attempt = 1;; attempt++) {
		g_autofree char *log = hub_test_broker_read_log(broker);

		broker->port = hub_test_free_port();
		write_config(broker, pki, extra_config);
		broker->process = spawn(broker);
		if (wait_started(broker, strlen(log)))
			return broker;
		g_clear_object(&broker->process);
		if (attempt == START_ATTEMPTS)
			g_error("mosquitto found no free port in %u attempts", attempt);
		g_test_message("Port %u was taken before mosquitto bound it, retrying", broker->port);
	}
}

void hub_test_broker_stop(HubTestBroker *broker)
{
	gint64 deadline;

	if (!broker || !broker->process)
		return;
	deadline = g_get_monotonic_time() + STOP_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;
	g_subprocess_send_signal(broker->process, SIGTERM);
	while (running(broker) && g_get_monotonic_time() < deadline)
		g_usleep(5 * 1000);
	if (running(broker)) {
		g_test_message("mosquitto ignored SIGTERM for %d ms, killing it", STOP_TIMEOUT_MS);
		g_subprocess_force_exit(broker->process);
	}
	g_subprocess_wait(broker->process, NULL, NULL);
	g_clear_object(&broker->process);
}

void hub_test_broker_kill(HubTestBroker *broker)
{
	if (!broker || !broker->process)
		return;
	g_subprocess_force_exit(broker->process);
	g_subprocess_wait(broker->process, NULL, NULL);
	g_clear_object(&broker->process);
}

/* The state letter of /proc/PID/stat ('T': stopped), or 0. */
static char process_state(HubTestBroker *broker)
{
	const char *pid = g_subprocess_get_identifier(broker->process);
	g_autofree char *path = pid ? g_strdup_printf("/proc/%s/stat", pid) : NULL;
	g_autofree char *text = NULL;
	const char *after;

	if (!path || !g_file_get_contents(path, &text, NULL, NULL) || !(after = strrchr(text, ')')) || !after[1])
		return 0;
	return after[2];
}

void hub_test_broker_pause(HubTestBroker *broker)
{
	g_subprocess_send_signal(broker->process, SIGSTOP);
	/* The signal is asynchronous: a broker busy on another CPU could still
	 * answer a packet sent right after kill() returned. */
	for (guint i = 0; i < 200 && process_state(broker) != 'T'; i++)
		g_usleep(5 * 1000);
	g_assert_cmpint(process_state(broker), ==, 'T');
}

void hub_test_broker_resume(HubTestBroker *broker)
{
	g_subprocess_send_signal(broker->process, SIGCONT);
}

gboolean hub_test_broker_restart(HubTestBroker *broker)
{
	g_autofree char *log = NULL;

	g_return_val_if_fail(broker->process == NULL, FALSE);
	log = hub_test_broker_read_log(broker);
	broker->process = spawn(broker);
	if (wait_started(broker, strlen(log)))
		return TRUE;
	g_clear_object(&broker->process);
	return FALSE;
}

void hub_test_broker_free(HubTestBroker *broker)
{
	if (!broker)
		return;
	hub_test_broker_stop(broker);
	g_free(broker->config_path);
	g_free(broker->log_path);
	g_free(broker);
}

guint16 hub_test_broker_port(HubTestBroker *broker)
{
	return broker->port;
}

gboolean hub_test_broker_require(HubTestBroker *broker)
{
	if (broker)
		return TRUE;
	g_test_fail_printf("mosquitto is not installed (run .ci/install-deps)");
	return FALSE;
}

const char *hub_test_broker_log_path(HubTestBroker *broker)
{
	return broker->log_path;
}

char *hub_test_broker_read_log(HubTestBroker *broker)
{
	char *contents = NULL;

	if (!g_file_get_contents(broker->log_path, &contents, NULL, NULL))
		return g_strdup("");
	return contents;
}

gboolean hub_test_broker_wait_log(HubTestBroker *broker, const char *needle, guint timeout_ms)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * G_TIME_SPAN_MILLISECOND;

	do {
		g_autofree char *log = hub_test_broker_read_log(broker);

		if (strstr(log, needle))
			return TRUE;
		g_usleep(10 * 1000);
	} while (g_get_monotonic_time() < deadline);
	return FALSE;
}
