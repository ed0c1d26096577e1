/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-certstores.c - mutual-TLS connections per second with the permanent
 * identity in each certificate store, against one local mosquitto broker
 * that requires client certificates, in the same run. The file store is the
 * baseline; the hardware stores are reported as ratios to it.
 *
 * One connection is: TCP connect (TCP_NODELAY), TLS handshake with the
 * store's key signing the CertificateVerify, MQTT CONNECT, CONNACK (so the
 * broker has verified the client certificate), DISCONNECT, close. The
 * context is built by the core (hub_cert_manager_tls_context), the key comes
 * from the real plugin, the token is SoftHSM2 and the TPM is swtpm.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "hub-daemon.h"
#include "hub-test-broker.h"
#include "hub-test-pki.h"
#include "hub-test-softhsm.h"
#include "hub-test-swtpm.h"

#define PIN "246810"

static gint opt_connections = 200;
static gint opt_warmup = 10;
static gboolean opt_keep;

static const GOptionEntry option_entries[] = {
	{ "connections", 'n', 0, G_OPTION_ARG_INT, &opt_connections, "Connections per store (default 200)", "N" },
	{ "warmup", 'w', 0, G_OPTION_ARG_INT, &opt_warmup, "Warm-up connections per store, not counted (default 10)",
	  "N" },
	{ "keep", 'k', 0, G_OPTION_ARG_NONE, &opt_keep, "Keep the temporary directory", NULL },
	{ NULL },
};

typedef struct {
	const char *store;
	double per_second;
	double median_ms;
	gboolean hardware;
} Result;

static gint64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (gint64)ts.tv_sec * G_GINT64_CONSTANT(1000000000) + ts.tv_nsec;
}

static void copy_plugin(const char *plugin_dir, const char *store)
{
	g_autofree char *from = g_strdup_printf("%s/certhandlers/%s/.libs/certstore-%s.so", g_getenv("HUB_TOP_BUILDDIR"),
						store, store);
	g_autofree char *to = g_strdup_printf("%s/certstore-%s.so", plugin_dir, store);
	g_autofree char *data = NULL;
	gsize len = 0;
	g_autoptr(GError) error = NULL;

	if (!g_file_get_contents(from, &data, &len, &error) || !g_file_set_contents(to, data, (gssize)len, &error))
		g_error("cannot install %s: %s", from, error->message);
	g_chmod(to, 0755);
}

/* The core on a configuration where @store serves the permanent role. */
static HubDaemon *core_for(const char *dir, const char *store, const char *store_config)
{
	g_autofree char *config_path = g_build_filename(dir, "hubd.conf", NULL);
	g_autofree char *text = NULL;
	g_autoptr(GError) error = NULL;
	HubConfig *config;
	HubDaemon *daemon;

	text = g_strdup_printf("[hubd]\nplugin-dir=%s/plugins\ncapability-dir=%s/data/capabilities\nstate-dir=%s/state-%s\n"
			       "plugins=file,%s\nserial-number=BENCH-HUB\n\n[certificates]\nclaim=file\npermanent=%s\n"
			       "root-ca=file\n\n%s",
			       dir, g_getenv("HUB_TOP_SRCDIR"), dir, store, store, store, store_config ? store_config : "");
	if (!g_file_set_contents(config_path, text, -1, &error))
		g_error("%s", error->message);
	config = hub_config_load(config_path, &error);
	if (!config)
		g_error("%s", error->message);
	daemon = hub_daemon_new(config, &error);
	if (!daemon || !hub_daemon_start(daemon, &error))
		g_error("%s", error->message);
	return daemon;
}

/* Key in the store, CSR, signed by the test CA, stored; the CA as root. */
static void enroll(HubDaemon *daemon, HubTestPki *pki)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *csr = NULL;
	g_autofree char *cert = NULL;
	g_autofree char *ca = NULL;

	if (!hub_cert_manager_generate_key(daemon->certs, HUB_CERT_ROLE_PERMANENT, HUB_KEY_TYPE_EC_P256, &error) ||
	    !(csr = hub_cert_manager_create_csr(daemon->certs, HUB_CERT_ROLE_PERMANENT, &error)) ||
	    !(cert = hub_test_pki_sign_csr(pki, csr, 30, &error)) ||
	    !hub_cert_manager_store_certificates(daemon->certs, HUB_CERT_ROLE_PERMANENT, cert, &error) ||
	    !g_file_get_contents(hub_test_pki_ca_path(pki), &ca, NULL, &error) ||
	    !hub_cert_manager_store_certificates(daemon->certs, HUB_CERT_ROLE_ROOT_CA, ca, &error))
		g_error("enrolment failed: %s", error->message);
}

static gboolean write_all(SSL *ssl, const void *data, int len)
{
	return SSL_write(ssl, data, len) == len;
}

/* One full mutual-TLS MQTT connection; FALSE with a message on failure. */
static gboolean connect_once(SSL_CTX *ctx, guint16 port, char **failure)
{
	static const unsigned char connect_packet[] = {
		0x10, 17, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3c, 0x00, 0x05, 'b', 'e', 'n', 'c', 'h',
	};
	static const unsigned char disconnect_packet[] = { 0xe0, 0x00 };
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port),
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	unsigned char connack[4];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	gboolean ok = FALSE;
	SSL *ssl = NULL;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		*failure = g_strdup_printf("connect: %s", g_strerror(errno));
		goto out;
	}
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1) {
		*failure = g_strdup_printf("TLS handshake failed: %s", ERR_error_string(ERR_get_error(), NULL));
		goto out;
	}
	if (!write_all(ssl, connect_packet, sizeof(connect_packet)) || SSL_read(ssl, connack, 4) != 4 ||
	    connack[0] != 0x20 || connack[3] != 0) {
		*failure = g_strdup("no CONNACK accepting the connection");
		goto out;
	}
	write_all(ssl, disconnect_packet, sizeof(disconnect_packet));
	SSL_shutdown(ssl);
	ok = TRUE;
out:
	ERR_clear_error();
	SSL_free(ssl);
	close(fd);
	return ok;
}

static int compare_int64(gconstpointer a, gconstpointer b)
{
	gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;

	return x < y ? -1 : x > y;
}

static Result measure(const char *dir, const char *store, const char *store_config, HubTestPki *pki,
		      HubTestBroker *broker)
{
	const HubTlsOptions options = { .hostname = "localhost" };
	g_autoptr(GArray) samples = g_array_new(FALSE, FALSE, sizeof(gint64));
	g_autoptr(GError) error = NULL;
	HubDaemon *daemon = core_for(dir, store, store_config);
	g_autoptr(HubCertStatus) status = NULL;
	Result result = { .store = store };
	SSL_CTX *ctx;
	gint64 total = 0;

	enroll(daemon, pki);
	status = hub_cert_manager_get_status(daemon->certs, HUB_CERT_ROLE_PERMANENT);
	result.hardware = !!(status->capabilities & HUB_CERTSTORE_CAP_HARDWARE);
	ctx = hub_cert_manager_tls_context(daemon->certs, HUB_CERT_ROLE_PERMANENT, &options, &error);
	if (!ctx)
		g_error("%s: %s", store, error->message);
	for (gint i = 0; i < opt_warmup + opt_connections; i++) {
		g_autofree char *failure = NULL;
		gint64 t0 = now_ns(), t;

		if (!connect_once(ctx, hub_test_broker_port(broker), &failure))
			g_error("%s: connection %d: %s", store, i + 1, failure);
		t = now_ns() - t0;
		if (i >= opt_warmup) {
			g_array_append_val(samples, t);
			total += t;
		}
	}
	g_array_sort(samples, compare_int64);
	result.per_second = (double)opt_connections / ((double)total / 1e9);
	result.median_ms = (double)g_array_index(samples, gint64, samples->len / 2) / 1e6;
	SSL_CTX_free(ctx);
	hub_daemon_free(daemon);
	return result;
}

/* The loader's "Loaded plugin" lines would bury the table. */
static void drop_message(const char *domain, GLogLevelFlags level, const char *message, gpointer user_data)
{
}

int main(int argc, char **argv)
{
	g_autoptr(GOptionContext) context = g_option_context_new("- mutual-TLS connections per certificate store");
	g_autoptr(GError) error = NULL;
	g_autofree char *dir = NULL;
	g_autofree char *pki_dir = NULL;
	g_autofree char *broker_dir = NULL;
	g_autofree char *plugin_dir = NULL;
	g_autofree char *hsm_dir = NULL;
	g_autofree char *tpm_dir = NULL;
	g_autofree char *pin_file = NULL;
	g_autofree char *pkcs11_config = NULL;
	g_autofree char *tpm2_config = NULL;
	HubTestPki *pki;
	HubTestBroker *broker;
	HubTestSoftHsm *hsm;
	HubTestSwtpm *tpm;
	Result results[3];

	g_option_context_add_main_entries(context, option_entries, NULL);
	if (!g_option_context_parse(context, &argc, &argv, &error) || opt_connections < 1 || opt_warmup < 0) {
		g_printerr("bench-certstores: %s\n", error ? error->message : "need --connections >= 1, --warmup >= 0");
		return 2;
	}
	if (!g_getenv("HUB_TOP_BUILDDIR") || !g_getenv("HUB_TOP_SRCDIR")) {
		g_printerr("bench-certstores: set HUB_TOP_BUILDDIR and HUB_TOP_SRCDIR (make bench does)\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	g_log_set_handler("hubd", G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO, drop_message, NULL);
	g_log_set_handler("hubd-tpm2", G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO, drop_message, NULL);
	dir = g_dir_make_tmp("hubd-bench-certs-XXXXXX", &error);
	if (!dir)
		g_error("%s", error->message);
	g_chmod(dir, 0755);
	pki_dir = g_build_filename(dir, "pki", NULL);
	broker_dir = g_build_filename(dir, "broker", NULL);
	plugin_dir = g_build_filename(dir, "plugins", NULL);
	hsm_dir = g_build_filename(dir, "softhsm", NULL);
	tpm_dir = g_build_filename(dir, "swtpm", NULL);
	pin_file = g_build_filename(dir, "pin", NULL);
	g_mkdir_with_parents(pki_dir, 0700);
	g_mkdir_with_parents(broker_dir, 0700);
	g_mkdir_with_parents(plugin_dir, 0755);
	for (guint i = 0; i < 3; i++)
		copy_plugin(plugin_dir, (const char *[]){ "file", "pkcs11", "tpm2" }[i]);

	pki = hub_test_pki_new(pki_dir, "bench CA");
	broker = hub_test_broker_start(pki, broker_dir);
	hsm = hub_test_softhsm_new(hsm_dir, "bench", PIN, "13579135", &error);
	if (!hsm)
		g_error("%s", error->message);
	tpm = hub_test_swtpm_new(tpm_dir);
	g_file_set_contents(pin_file, PIN "\n", -1, NULL);
	g_chmod(pin_file, 0600);
	pkcs11_config = g_strdup_printf("[plugin.pkcs11]\nmodule=%s\ntoken-label=bench\npin-file=%s\n",
					HUB_TEST_SOFTHSM_MODULE, pin_file);
	tpm2_config = g_strdup_printf("[plugin.tpm2]\ntcti=%s\n", hub_test_swtpm_get_tcti(tpm));

	g_printerr("Mutual-TLS MQTT connections, %d per store (after %d warm-up), EC P-256 keys...\n",
		   opt_connections, opt_warmup);
	results[0] = measure(dir, "file", NULL, pki, broker);
	results[1] = measure(dir, "pkcs11", pkcs11_config, pki, broker);
	results[2] = measure(dir, "tpm2", tpm2_config, pki, broker);

	printf("\nMutual-TLS connections per second, same broker, same run (connect + TLS + MQTT CONNECT/CONNACK)\n");
	printf("  %-8s %-9s %12s %12s %16s\n", "store", "key", "conn/s", "median ms", "ratio to file");
	for (guint i = 0; i < G_N_ELEMENTS(results); i++)
		printf("  %-8s %-9s %12.1f %12.2f %16.2f\n", results[i].store, results[i].hardware ? "hardware" : "software",
		       results[i].per_second, results[i].median_ms, results[i].per_second / results[0].per_second);
	printf("  (pkcs11 is SoftHSM2, a software token; tpm2 is swtpm over TCP. Real devices are slower:\n"
	       "   a discrete TPM signs in tens of milliseconds.)\n");
	fflush(stdout);

	hub_test_swtpm_free(tpm);
	hub_test_softhsm_free(hsm);
	hub_test_broker_free(broker);
	hub_test_pki_free(pki);
	if (!opt_keep) {
		g_autofree char *quoted = g_shell_quote(dir);
		g_autofree char *command = g_strdup_printf("rm -rf %s", quoted);

		if (system(command) != 0)
			g_printerr("bench-certstores: could not remove %s\n", dir);
	} else {
		g_printerr("Kept %s\n", dir);
	}
	return 0;
}
