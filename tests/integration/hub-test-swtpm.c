/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hub-test-env.h"
#include "hub-test-swtpm.h"

#define START_TIMEOUT_MS 10000
#define PORT_ATTEMPTS    20

struct _HubTestSwtpm {
	char *state_dir;
	gboolean own_state_dir;
	guint16 port;
	char *tcti;
	GSubprocess *process;
};

gboolean hub_test_swtpm_available(void)
{
	g_autofree char *path = g_find_program_in_path("swtpm");

	return path != NULL;
}

/* Binds 127.0.0.1:@port (0: any); returns the socket and the port it got, or -1. */
static int bind_loopback(guint16 port, guint16 *bound)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port) };
	socklen_t len = sizeof(addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	g_assert_cmpint(fd, >=, 0);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&addr, &len) < 0) {
		close(fd);
		return -1;
	}
	*bound = ntohs(addr.sin_port);
	return fd;
}

/* A port P such that P and P+1 are both free right now (the kernel picks P). */
static guint16 free_port_pair(void)
{
	for (guint i = 0; i < 100; i++) {
		guint16 port = 0, next = 0;
		int a = bind_loopback(0, &port);
		int b = a >= 0 && port < G_MAXUINT16 ? bind_loopback((guint16)(port + 1), &next) : -1;

		if (a >= 0)
			close(a);
		if (b >= 0) {
			close(b);
			return port;
		}
	}
	g_error("no free pair of adjacent loopback ports");
	return 0;
}

static gboolean accepts_connections(guint16 port)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	gboolean ok;

	g_assert_cmpint(fd, >=, 0);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;
	close(fd);
	return ok;
}

static void child_setup(gpointer user_data)
{
	prctl(PR_SET_PDEATHSIG, SIGTERM);
}

/* Spawns swtpm on tpm->port; FALSE if it exited before accepting connections
 * (typically: somebody took the port in the meantime). */
static gboolean spawn(HubTestSwtpm *tpm)
{
	g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
	g_autofree char *state = g_strdup_printf("dir=%s", tpm->state_dir);
	g_autofree char *server = g_strdup_printf("type=tcp,port=%u,bindaddr=127.0.0.1", tpm->port);
	g_autofree char *ctrl = g_strdup_printf("type=tcp,port=%u,bindaddr=127.0.0.1", tpm->port + 1);
	g_autoptr(GError) error = NULL;
	gint64 deadline = g_get_monotonic_time() + START_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;

	g_subprocess_launcher_set_child_setup(launcher, child_setup, NULL, NULL);
	/* no --daemon: the GSubprocess must be swtpm itself to stop it */
	tpm->process = g_subprocess_launcher_spawn(launcher, &error, "swtpm", "socket", "--tpm2", "--tpmstate", state,
						   "--server", server, "--ctrl", ctrl, "--flags",
						   "not-need-init,startup-clear", NULL);
	g_assert_no_error(error);
	while (g_get_monotonic_time() < deadline) {
		/* NULL once GLib's worker thread has reaped it */
		if (!g_subprocess_get_identifier(tpm->process)) {
			g_clear_object(&tpm->process);
			return FALSE;
		}
		if (accepts_connections(tpm->port))
			return TRUE;
		g_usleep(5000);
	}
	g_error("swtpm did not accept connections on 127.0.0.1:%u within %d ms", tpm->port, START_TIMEOUT_MS);
	return FALSE;
}

HubTestSwtpm *hub_test_swtpm_new(const char *state_dir)
{
	HubTestSwtpm *tpm = g_new0(HubTestSwtpm, 1);
	g_autoptr(GError) error = NULL;

	if (state_dir) {
		tpm->state_dir = g_strdup(state_dir);
		g_assert_cmpint(g_mkdir_with_parents(state_dir, 0700), ==, 0);
	} else {
		tpm->state_dir = g_dir_make_tmp("hubd-swtpm-XXXXXX", &error);
		g_assert_no_error(error);
		tpm->own_state_dir = TRUE;
	}
	/* a free pair may be taken between the check and swtpm's bind(): retry */
	for (guint i = 0; i < PORT_ATTEMPTS && !tpm->process; i++) {
		tpm->port = free_port_pair();
		spawn(tpm);
	}
	if (!tpm->process)
		g_error("swtpm exited at start %u times in a row", PORT_ATTEMPTS);
	tpm->tcti = g_strdup_printf("swtpm:host=127.0.0.1,port=%u", tpm->port);
	return tpm;
}

void hub_test_swtpm_stop(HubTestSwtpm *tpm)
{
	g_autoptr(GError) error = NULL;

	if (!tpm->process)
		return;
	g_subprocess_send_signal(tpm->process, SIGTERM);
	g_subprocess_wait(tpm->process, NULL, &error);
	g_assert_no_error(error);
	g_clear_object(&tpm->process);
}

void hub_test_swtpm_start(HubTestSwtpm *tpm)
{
	if (tpm->process)
		return;
	/* the same ports, so the TCTI the code under test holds stays valid */
	if (!spawn(tpm))
		g_error("swtpm could not start again on 127.0.0.1:%u", tpm->port);
}

void hub_test_swtpm_restart(HubTestSwtpm *tpm)
{
	hub_test_swtpm_stop(tpm);
	hub_test_swtpm_start(tpm);
}

const char *hub_test_swtpm_get_tcti(HubTestSwtpm *tpm)
{
	return tpm->tcti;
}

guint16 hub_test_swtpm_get_port(HubTestSwtpm *tpm)
{
	return tpm->port;
}

const char *hub_test_swtpm_get_state_dir(HubTestSwtpm *tpm)
{
	return tpm->state_dir;
}

gboolean hub_test_swtpm_is_running(HubTestSwtpm *tpm)
{
	return tpm->process != NULL;
}

void hub_test_swtpm_free(HubTestSwtpm *tpm)
{
	if (!tpm)
		return;
	if (tpm->process) {
		g_subprocess_send_signal(tpm->process, SIGTERM);
		g_subprocess_wait(tpm->process, NULL, NULL);
		g_clear_object(&tpm->process);
	}
	if (tpm->own_state_dir && !g_getenv("HUB_TEST_KEEP"))
		hub_test_remove_tree(tpm->state_dir);
	g_free(tpm->state_dir);
	g_free(tpm->tcti);
	g_free(tpm);
}
