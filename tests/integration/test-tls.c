/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-tls.c - hub_tls_context_new against the real mosquitto: mutual TLS
 * works with software and sign-only keys, and every check that should refuse
 * a connection does (foreign or expired client certificate, wrong server
 * name, untrusted server, mismatched key), quickly and with a reason. ALPN
 * is checked on the wire with an openssl s_server peer.
 */
#include "config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "hub-csr.h"
#include "hub-error.h"
#include "hub-openssl.h"
#include "hub-test-env.h"
#include "hub-test-broker.h"
#include "hub-test-mqtt.h"
#include "hub-test-opaque-key.h"
#include "hub-test-pki.h"
#include "hub-tls-context.h"

#define CONNECT_TIMEOUT_MS 5000
#define MESSAGE_TIMEOUT_MS 5000

/* One PKI and one broker for the whole binary; tests do not share clients. */
static struct {
	char *tmpdir;
	HubTestPki *pki;
	HubTestPki *other_pki;
	HubTestBroker *broker;
} world;

static const HubTlsOptions localhost = { .hostname = "localhost" };

static void chain_free(STACK_OF(X509) *chain)
{
	sk_X509_pop_free(chain, X509_free);
}

/* A context from PEM material; the stacks are freed at once, as callers may. */
static SSL_CTX *context_new(const char *cert_pem, EVP_PKEY *key, HubTestPki *trusted, const HubTlsOptions *options,
			    GError **error)
{
	STACK_OF(X509) *chain = hub_test_pem_to_chain(cert_pem);
	STACK_OF(X509) *anchors = hub_test_pki_trust_anchors(trusted);
	SSL_CTX *ctx;

	g_assert_nonnull(chain);
	ctx = hub_tls_context_new(chain, key, anchors, options, error);
	chain_free(chain);
	chain_free(anchors);
	g_assert_cmpuint(ERR_peek_error(), ==, 0);
	return ctx;
}

/* A context for a fresh client certificate CN=@cn issued by @issuer. */
static SSL_CTX *client_context(const char *cn, HubTestPki *issuer, int days, HubTestPki *trusted,
			       const HubTlsOptions *options)
{
	g_autofree char *key_pem = NULL;
	g_autofree char *cert_pem = hub_test_pki_issue_client(issuer, cn, days, &key_pem);
	g_autoptr(EVP_PKEY) key = hub_test_pem_to_key(key_pem);
	g_autoptr(GError) error = NULL;
	SSL_CTX *ctx = context_new(cert_pem, key, trusted, options, &error);

	g_assert_no_error(error);
	g_assert_nonnull(ctx);
	return ctx;
}

static HubTestMqtt *connected_client(const char *client_id, SSL_CTX *ctx, double *elapsed_ms)
{
	HubTestMqtt *client = hub_test_mqtt_new(client_id, ctx, MQTT_PROTOCOL_V311);
	g_autoptr(GError) error = NULL;
	gint64 start = g_get_monotonic_time();

	hub_test_mqtt_connect(client, "localhost", hub_test_broker_port(world.broker), CONNECT_TIMEOUT_MS, &error);
	g_assert_no_error(error);
	if (elapsed_ms)
		*elapsed_ms = (double)(g_get_monotonic_time() - start) / 1000.0;
	return client;
}

static guint log_count(const char *needle)
{
	g_autofree char *log = hub_test_broker_read_log(world.broker);
	guint count = 0;

	for (const char *p = strstr(log, needle); p; p = strstr(p + 1, needle))
		count++;
	return count;
}

/* The broker logs a refused handshake a moment after the client sees it. */
static void assert_broker_logged(const char *needle, guint before)
{
	gint64 deadline = g_get_monotonic_time() + 2 * G_TIME_SPAN_SECOND;

	while (log_count(needle) <= before && g_get_monotonic_time() < deadline)
		g_usleep(10 * 1000);
	g_assert_cmpuint(log_count(needle), >, before);
}

/* The connection must fail, and fast: a refusal that only shows up as a
 * timeout would leave the daemon waiting for nothing. @reason (may be NULL)
 * must appear in the error. */
static void assert_connect_refused(SSL_CTX *ctx, const char *host, const char *reason)
{
	g_autoptr(HubTestMqtt) client = hub_test_mqtt_new("hub-test-refused", ctx, MQTT_PROTOCOL_V311);
	g_autoptr(GError) error = NULL;
	gint64 start = g_get_monotonic_time();
	double elapsed_ms;

	g_assert_false(
		hub_test_mqtt_connect(client, host, hub_test_broker_port(world.broker), CONNECT_TIMEOUT_MS, &error));
	elapsed_ms = (double)(g_get_monotonic_time() - start) / 1000.0;
	g_assert_nonnull(error);
	g_test_message("Refused after %.1f ms: %s", elapsed_ms, error->message);
	g_assert_false(g_error_matches(error, HUB_ERROR, HUB_ERROR_TIMEOUT));
	g_assert_cmpfloat(elapsed_ms, <, CONNECT_TIMEOUT_MS / 2);
	if (reason && !strstr(error->message, reason))
		g_error("Expected \"%s\" in \"%s\"", reason, error->message);
}

/* The broker refuses our certificate. Under TLS 1.3 our handshake is over
 * before the broker checks it; the broker then closes with our last flight
 * unread, the kernel answers with a reset, and the alert saying why is lost:
 * libmosquitto only reports the failed CONNECT write. TLS 1.2 carries the
 * alert inside the handshake, so the reason reaches us there. */
static void assert_broker_refuses(SSL_CTX *ctx, const char *tls12_reason)
{
	guint before = log_count("certificate verify failed");

	assert_connect_refused(ctx, "localhost", NULL);
	assert_broker_logged("certificate verify failed", before);
	g_assert_true(SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION));
	assert_connect_refused(ctx, "localhost", tls12_reason);
	assert_broker_logged("certificate verify failed", before + 1);
}

static void test_publish_qos1_received(void)
{
	g_autoptr(SSL_CTX) sub_ctx = NULL;
	g_autoptr(SSL_CTX) pub_ctx = NULL;
	g_autoptr(HubTestMqtt) subscriber = NULL;
	g_autoptr(HubTestMqtt) publisher = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *payload = NULL;
	g_autofree char *peer = NULL;
	g_autofree char *log = NULL;
	double handshake_ms = 0;

	if (!hub_test_broker_require(world.broker))
		return;
	sub_ctx = client_context("hub-test-subscriber", world.pki, 30, world.pki, &localhost);
	pub_ctx = client_context("hub-test-publisher", world.pki, 30, world.pki, &localhost);
	subscriber = connected_client("subscriber", sub_ctx, NULL);
	g_assert_true(hub_test_mqtt_subscribe(subscriber, "hub/test/tls", MESSAGE_TIMEOUT_MS, &error));
	g_assert_no_error(error);

	publisher = connected_client("publisher", pub_ctx, &handshake_ms);
	peer = hub_tls_describe_peer(hub_test_mqtt_ssl(publisher));
	g_test_message("Connect + TLS handshake + CONNACK: %.1f ms; %s", handshake_ms, peer);
	g_assert_nonnull(strstr(peer, "server CN=localhost (verified)"));
	g_assert_true(g_str_has_prefix(peer, "TLSv1.3 ") || g_str_has_prefix(peer, "TLSv1.2 "));
	g_assert_true(hub_test_mqtt_publish(publisher, "hub/test/tls", "hello over mTLS", MESSAGE_TIMEOUT_MS, &error));
	g_assert_no_error(error);

	payload = hub_test_mqtt_wait_message(subscriber, "hub/test/tls", MESSAGE_TIMEOUT_MS, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(payload, ==, "hello over mTLS");
	/* use_identity_as_username: the broker saw our certificate's CN. */
	log = hub_test_broker_read_log(world.broker);
	g_assert_nonnull(strstr(log, "u'hub-test-publisher'"));
}

/* The onboarding path: CSR from a key that only signs, certificate from the
 * CA, then mutual TLS with that key (it signs the CertificateVerify). */
static void test_csr_and_sign_only_key(void)
{
	const char *const types[] = { "EC", "RSA" };

	if (!hub_test_broker_require(world.broker))
		return;
	for (guint i = 0; i < G_N_ELEMENTS(types); i++) {
		g_autoptr(EVP_PKEY) software = hub_test_key_new(types[i]);
		g_autoptr(EVP_PKEY) opaque = hub_test_opaque_key_new(software);
		g_autoptr(GError) error = NULL;
		g_autofree char *cn = g_strdup_printf("hub-sign-only-%s", types[i]);
		g_autofree char *csr = hub_csr_create(opaque, cn, "HUB-0001", &error);
		g_autofree char *cert = NULL;
		g_autofree char *needle = NULL;
		g_autofree char *log = NULL;
		g_autoptr(SSL_CTX) ctx = NULL;
		g_autoptr(HubTestMqtt) client = NULL;
		guint signatures;

		g_assert_no_error(error);
		cert = hub_test_pki_sign_csr(world.pki, csr, 30, &error);
		g_assert_no_error(error);
		ctx = context_new(cert, opaque, world.pki, &localhost, &error);
		g_assert_no_error(error);
		signatures = hub_test_opaque_key_signatures(opaque);
		client = connected_client(cn, ctx, NULL);
		g_assert_cmpuint(hub_test_opaque_key_signatures(opaque), >, signatures);
		g_assert_true(hub_test_mqtt_publish(client, "hub/test/sign-only", "signed", MESSAGE_TIMEOUT_MS, &error));
		g_assert_no_error(error);
		needle = g_strdup_printf("u'%s'", cn);
		log = hub_test_broker_read_log(world.broker);
		g_assert_nonnull(strstr(log, needle));
	}
}

static void test_sign_csr_checks_signature(void)
{
	g_autoptr(EVP_PKEY) key = hub_test_key_new("EC");
	g_autoptr(GError) error = NULL;
	g_autofree char *csr = hub_csr_create(key, "hub-tampered", NULL, &error);
	g_autofree char *cert = NULL;
	char *body;

	g_assert_no_error(error);
	/* Flip one character of the base64 body, well inside the signed part. */
	body = csr + strlen("-----BEGIN CERTIFICATE REQUEST-----\n") + 40;
	*body = *body == 'A' ? 'B' : 'A';
	cert = hub_test_pki_sign_csr(world.pki, csr, 30, &error);
	g_assert_null(cert);
	g_assert_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT);
}

static void test_client_from_other_ca_rejected(void)
{
	g_autoptr(SSL_CTX) ctx = NULL;
	g_autofree char *log = NULL;

	if (!hub_test_broker_require(world.broker))
		return;
	ctx = client_context("hub-test-foreign", world.other_pki, 30, world.pki, &localhost);
	assert_broker_refuses(ctx, "tlsv1 alert unknown ca");
	log = hub_test_broker_read_log(world.broker);
	g_assert_null(strstr(log, "u'hub-test-foreign'"));
}

static void test_expired_client_rejected(void)
{
	g_autoptr(SSL_CTX) valid_ctx = NULL;
	g_autoptr(SSL_CTX) expired_ctx = NULL;
	g_autoptr(HubTestMqtt) valid = NULL;
	g_autofree char *log = NULL;

	if (!hub_test_broker_require(world.broker))
		return;
	/* Same CA, same name: only the dates differ. */
	valid_ctx = client_context("hub-test-expiry", world.pki, 1, world.pki, &localhost);
	valid = connected_client("hub-test-expiry", valid_ctx, NULL);
	hub_test_mqtt_disconnect(valid, 1000);
	expired_ctx = client_context("hub-test-expiry", world.pki, HUB_TEST_PKI_EXPIRED, world.pki, &localhost);
	assert_broker_refuses(expired_ctx, "sslv3 alert certificate expired");
	log = hub_test_broker_read_log(world.broker);
	g_assert_cmpuint(log_count("u'hub-test-expiry'"), ==, 1);
}

static void test_wrong_hostname_fails(void)
{
	const HubTlsOptions wrong_name = { .hostname = "broker.example.com" };
	const HubTlsOptions wrong_ip = { .ip = "127.0.0.2" };
	const HubTlsOptions right_ip = { .ip = "127.0.0.1" };
	const HubTlsOptions ip_as_hostname = { .hostname = "127.0.0.1" };
	g_autoptr(SSL_CTX) wrong_name_ctx = NULL;
	g_autoptr(SSL_CTX) wrong_ip_ctx = NULL;
	g_autoptr(SSL_CTX) right_ip_ctx = NULL;
	g_autoptr(SSL_CTX) ip_as_hostname_ctx = NULL;
	g_autoptr(HubTestMqtt) by_ip = NULL;
	g_autoptr(HubTestMqtt) by_literal = NULL;
	g_autoptr(GError) error = NULL;

	if (!hub_test_broker_require(world.broker))
		return;
	/* Same CA, same broker: only the name check can refuse these. */
	wrong_name_ctx = client_context("hub-test-name", world.pki, 30, world.pki, &wrong_name);
	assert_connect_refused(wrong_name_ctx, "localhost", "certificate verify failed");
	wrong_ip_ctx = client_context("hub-test-name", world.pki, 30, world.pki, &wrong_ip);
	assert_connect_refused(wrong_ip_ctx, "127.0.0.1", "certificate verify failed");

	/* The certificate's IP SAN verifies, given as ip or as a literal hostname. */
	right_ip_ctx = client_context("hub-test-ip", world.pki, 30, world.pki, &right_ip);
	by_ip = hub_test_mqtt_new("by-ip", right_ip_ctx, MQTT_PROTOCOL_V5);
	g_assert_true(hub_test_mqtt_connect(by_ip, "127.0.0.1", hub_test_broker_port(world.broker),
					    CONNECT_TIMEOUT_MS, &error));
	g_assert_no_error(error);
	ip_as_hostname_ctx = client_context("hub-test-ip", world.pki, 30, world.pki, &ip_as_hostname);
	by_literal = hub_test_mqtt_new("by-literal", ip_as_hostname_ctx, MQTT_PROTOCOL_V5);
	g_assert_true(hub_test_mqtt_connect(by_literal, "127.0.0.1", hub_test_broker_port(world.broker),
					    CONNECT_TIMEOUT_MS, &error));
	g_assert_no_error(error);
}

static void test_untrusted_server_fails(void)
{
	g_autoptr(SSL_CTX) ctx = NULL;

	if (!hub_test_broker_require(world.broker))
		return;
	/* Our certificate is fine for the broker; its certificate is not for us. */
	ctx = client_context("hub-test-distrustful", world.pki, 30, world.other_pki, &localhost);
	assert_connect_refused(ctx, "localhost", "certificate verify failed");
}

static void assert_context_error(const char *cert_pem, EVP_PKEY *key, const HubTlsOptions *options,
				 const char *expected)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(SSL_CTX) ctx = context_new(cert_pem, key, world.pki, options, &error);

	g_assert_null(ctx);
	g_assert_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT);
	g_test_message("%s", error->message);
	if (!strstr(error->message, expected))
		g_error("Expected \"%s\" in \"%s\"", expected, error->message);
}

static void test_key_mismatch(void)
{
	g_autofree char *key_pem = NULL;
	g_autofree char *cert_pem = hub_test_pki_issue_client(world.pki, "hub-test-mismatch", 30, &key_pem);
	g_autoptr(EVP_PKEY) other_ec = hub_test_key_new("EC");
	g_autoptr(EVP_PKEY) other_rsa = hub_test_key_new("RSA");

	assert_context_error(cert_pem, other_ec, &localhost,
			     "private key does not match the certificate \"CN=hub-test-mismatch\"");
	assert_context_error(cert_pem, other_ec, &localhost, "key values mismatch");
	assert_context_error(cert_pem, other_rsa, &localhost,
			     "private key does not match the certificate \"CN=hub-test-mismatch\"");
}

static void test_bad_options(void)
{
	const char *const empty_name[] = { "mqtt", "", NULL };
	g_autofree char *long_name = g_strnfill(256, 'x');
	const char *const too_long[] = { long_name, NULL };
	const HubTlsOptions no_name = { 0 };
	const HubTlsOptions bad_ip = { .ip = "not-an-ip" };
	const HubTlsOptions bad_alpn = { .hostname = "localhost", .alpn = empty_name };
	const HubTlsOptions long_alpn = { .hostname = "localhost", .alpn = too_long };
	g_autofree char *key_pem = NULL;
	g_autofree char *cert_pem = hub_test_pki_issue_client(world.pki, "hub-test-options", 30, &key_pem);
	g_autoptr(EVP_PKEY) key = hub_test_pem_to_key(key_pem);
	STACK_OF(X509) *chain = hub_test_pem_to_chain(cert_pem);
	STACK_OF(X509) *no_anchors = sk_X509_new_null();
	g_autoptr(GError) error = NULL;

	assert_context_error(cert_pem, key, &no_name, "Neither a host name nor an IP address");
	assert_context_error(cert_pem, key, &bad_ip, "\"not-an-ip\" is not an IP address");
	assert_context_error(cert_pem, key, &bad_alpn, "ALPN protocol name 2 has 0 bytes");
	assert_context_error(cert_pem, key, &long_alpn, "ALPN protocol name 1 has 256 bytes");
	g_assert_null(hub_tls_context_new(chain, key, no_anchors, &localhost, &error));
	g_assert_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	g_assert_null(hub_tls_context_new(NULL, key, no_anchors, &localhost, &error));
	g_assert_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	g_assert_null(hub_tls_context_new(chain, NULL, no_anchors, &localhost, &error));
	g_assert_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT);
	chain_free(chain);
	chain_free(no_anchors);
}

static int select_alpn(SSL *ssl, const unsigned char **out, unsigned char *out_len, const unsigned char *in,
		       unsigned int in_len, void *data)
{
	g_byte_array_append(data, in, in_len);
	return SSL_TLSEXT_ERR_NOACK;
}

/* A full handshake between @client_ctx and a server of the test PKI over a
 * memory BIO pair; what the client offered with ALPN goes to @offered. */
static gboolean handshake_in_memory(SSL_CTX *client_ctx, GByteArray *offered)
{
	g_autoptr(SSL_CTX) server_ctx = SSL_CTX_new(TLS_server_method());
	g_autoptr(SSL) server = NULL;
	g_autoptr(SSL) client = NULL;
	BIO *client_bio = NULL;
	BIO *server_bio = NULL;
	int client_rc = 0;
	int server_rc = 0;

	g_assert_true(SSL_CTX_use_certificate_chain_file(server_ctx, hub_test_pki_server_cert_path(world.pki)));
	g_assert_true(SSL_CTX_use_PrivateKey_file(server_ctx, hub_test_pki_server_key_path(world.pki), SSL_FILETYPE_PEM));
	g_assert_true(SSL_CTX_load_verify_locations(server_ctx, hub_test_pki_ca_path(world.pki), NULL));
	SSL_CTX_set_verify(server_ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_alpn_select_cb(server_ctx, select_alpn, offered);
	server = SSL_new(server_ctx);
	client = SSL_new(client_ctx);
	g_assert_true(BIO_new_bio_pair(&client_bio, 0, &server_bio, 0));
	SSL_set_bio(client, client_bio, client_bio);
	SSL_set_bio(server, server_bio, server_bio);
	SSL_set_connect_state(client);
	SSL_set_accept_state(server);
	for (guint round = 0; round < 20 && (client_rc != 1 || server_rc != 1); round++) {
		if (client_rc != 1)
			client_rc = SSL_do_handshake(client);
		if (server_rc != 1)
			server_rc = SSL_do_handshake(server);
	}
	ERR_clear_error();
	return client_rc == 1 && server_rc == 1 && SSL_get_verify_result(client) == X509_V_OK;
}

/* What the context promises, checked without a broker. */
static void test_context_settings(void)
{
	const char *const alpn[] = { "x-amzn-mqtt-ca", "mqtt", NULL };
	const HubTlsOptions options = { .hostname = "localhost", .alpn = alpn };
	const HubTlsOptions other_name = { .hostname = "other.example" };
	g_autoptr(SSL_CTX) ctx = client_context("hub-test-settings", world.pki, 30, world.pki, &options);
	g_autoptr(SSL_CTX) other_ctx = client_context("hub-test-settings", world.pki, 30, world.pki, &other_name);
	g_autoptr(SSL) ssl = SSL_new(ctx);
	g_autoptr(GByteArray) offered = g_byte_array_new();
	g_autoptr(GByteArray) ignored = g_byte_array_new();
	X509_VERIFY_PARAM *param = SSL_CTX_get0_param(ctx);

	g_assert_cmpint(SSL_CTX_get_min_proto_version(ctx), ==, TLS1_2_VERSION);
	g_assert_cmpint(SSL_CTX_get_verify_mode(ctx), ==, SSL_VERIFY_PEER);
	g_assert_true(SSL_CTX_get_options(ctx) & SSL_OP_NO_RENEGOTIATION);
	g_assert_cmpstr(X509_VERIFY_PARAM_get0_host(param, 0), ==, "localhost");
	/* Exactly our CA: no system store was loaded. */
	g_assert_cmpint(sk_X509_OBJECT_num(X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx))), ==, 1);
	/* libmosquitto makes its SSL from the context: the name check carries over. */
	g_assert_cmpstr(X509_VERIFY_PARAM_get0_host(SSL_get0_param(ssl), 0), ==, "localhost");

	g_assert_true(handshake_in_memory(ctx, offered));
	g_assert_cmpmem(offered->data, offered->len, "\x0ex-amzn-mqtt-ca\x04mqtt", 20);
	g_assert_false(handshake_in_memory(other_ctx, ignored));
	g_assert_cmpuint(ignored->len, ==, 0);
}

static void child_setup(gpointer user_data)
{
	prctl(PR_SET_PDEATHSIG, SIGTERM);
}

static gboolean file_contains(const char *path, const char *needle)
{
	g_autofree char *text = NULL;

	return g_file_get_contents(path, &text, NULL, NULL) && strstr(text, needle);
}

/* An openssl s_server that offers @alpn and requires a client certificate
 * from our CA; one connection, output in @out_path. */
static GSubprocess *s_server_start(const char *alpn, const char *out_path, guint16 *port)
{
	for (guint attempt = 0; attempt < 5; attempt++) {
		g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDIN_PIPE);
		g_autoptr(GSubprocess) server = NULL;
		g_autoptr(GError) error = NULL;
		g_autofree char *accept = NULL;
		gint64 deadline = g_get_monotonic_time() + 10 * G_TIME_SPAN_SECOND;
		int fd;

		*port = hub_test_free_port();
		accept = g_strdup_printf("127.0.0.1:%u", *port);
		fd = g_open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		g_assert_cmpint(fd, >=, 0);
		g_subprocess_launcher_take_stdout_fd(launcher, dup(fd));
		g_subprocess_launcher_take_stderr_fd(launcher, fd);
		g_subprocess_launcher_set_child_setup(launcher, child_setup, NULL, NULL);
		/* stdin stays open: s_server quits on EOF there. */
		server = g_subprocess_launcher_spawn(launcher, &error, "openssl", "s_server", "-accept", accept, "-cert",
						     hub_test_pki_server_cert_path(world.pki), "-key",
						     hub_test_pki_server_key_path(world.pki), "-CAfile",
						     hub_test_pki_ca_path(world.pki), "-Verify", "1", "-alpn", alpn,
						     "-naccept", "1", NULL);
		g_assert_no_error(error);
		while (g_get_monotonic_time() < deadline && g_subprocess_get_identifier(server) &&
		       !file_contains(out_path, "ACCEPT"))
			g_usleep(10 * 1000);
		if (file_contains(out_path, "ACCEPT"))
			return g_steal_pointer(&server);
		g_subprocess_force_exit(server);
		g_subprocess_wait(server, NULL, NULL);
	}
	g_error("openssl s_server did not start");
}

/* s_server flushes what it printed when it exits by itself, which it does
 * once its one connection is closed; kill it only if it does not. */
static void s_server_stop(GSubprocess *server)
{
	gint64 deadline = g_get_monotonic_time() + 5 * G_TIME_SPAN_SECOND;

	while (g_subprocess_get_identifier(server) && g_get_monotonic_time() < deadline)
		g_usleep(10 * 1000);
	g_subprocess_force_exit(server);
	g_subprocess_wait(server, NULL, NULL);
	g_object_unref(server);
}

/* Connects to s_server; there is no MQTT there, so no CONNACK: the TLS
 * session is what we look at. Returns the negotiated ALPN protocol. */
static char *alpn_negotiated(const HubTlsOptions *options, const char *out_path)
{
	g_autoptr(SSL_CTX) ctx = client_context("hub-test-alpn", world.pki, 30, world.pki, options);
	g_autoptr(HubTestMqtt) client = hub_test_mqtt_new("hub-test-alpn", ctx, MQTT_PROTOCOL_V311);
	g_autoptr(GError) error = NULL;
	g_autofree char *peer = NULL;
	const unsigned char *selected = NULL;
	unsigned int selected_len = 0;
	char *protocol;
	GSubprocess *server;
	guint16 port;

	server = s_server_start("x-amzn-mqtt-ca", out_path, &port);
	g_assert_false(hub_test_mqtt_connect(client, "localhost", port, 300, &error));
	g_assert_error(error, HUB_ERROR, HUB_ERROR_TIMEOUT);
	peer = hub_tls_describe_peer(hub_test_mqtt_ssl(client));
	g_test_message("s_server session: %s", peer);
	g_assert_nonnull(strstr(peer, "(verified)"));
	SSL_get0_alpn_selected(hub_test_mqtt_ssl(client), &selected, &selected_len);
	protocol = selected ? g_strndup((const char *)selected, selected_len) : g_strdup("");
	g_clear_pointer(&client, hub_test_mqtt_free);
	s_server_stop(server);
	return protocol;
}

static void test_alpn_on_the_wire(void)
{
	const char *const alpn[] = { "x-amzn-mqtt-ca", NULL };
	const HubTlsOptions with_alpn = { .hostname = "localhost", .alpn = alpn };
	g_autofree char *out_path = g_build_filename(world.tmpdir, "s_server.out", NULL);
	g_autofree char *plain_path = g_build_filename(world.tmpdir, "s_server-plain.out", NULL);
	g_autofree char *selected = NULL;
	g_autofree char *none = NULL;
	g_autoptr(SSL_CTX) ctx = NULL;
	g_autoptr(HubTestMqtt) client = NULL;
	g_autofree char *openssl = g_find_program_in_path("openssl");

	if (!hub_test_broker_require(world.broker))
		return;
	/* mosquitto ignores ALPN: a client that offers it still gets in. */
	ctx = client_context("hub-test-alpn", world.pki, 30, world.pki, &with_alpn);
	client = connected_client("hub-test-alpn", ctx, NULL);

	if (!openssl) {
		g_test_fail_printf("openssl(1) is not installed (run .ci/install-deps): ALPN not checked on the wire");
		return;
	}
	selected = alpn_negotiated(&with_alpn, out_path);
	g_assert_cmpstr(selected, ==, "x-amzn-mqtt-ca");
	g_assert_true(file_contains(out_path, "ALPN protocols advertised by the client: x-amzn-mqtt-ca"));

	none = alpn_negotiated(&localhost, plain_path);
	g_assert_cmpstr(none, ==, "");
	g_assert_false(file_contains(plain_path, "ALPN protocols advertised"));
}

typedef struct {
	int listener;
	gboolean reset;
} Closer;

/* Accepts one connection and drops it, with a reset when asked. */
static gpointer accept_and_close(gpointer data)
{
	Closer *closer = data;
	struct linger abort_on_close = { .l_onoff = 1, .l_linger = 0 };
	char hello[512];
	int fd = accept(closer->listener, NULL, NULL);

	g_assert_cmpint(fd, >=, 0);
	/* Wait for the ClientHello so the client is inside its handshake. */
	(void)!read(fd, hello, sizeof(hello));
	if (closer->reset)
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof(abort_on_close));
	close(fd);
	return NULL;
}

/* libmosquitto 2.0.11 keeps retrying SSL_connect after SSL_ERROR_SYSCALL
 * (e.g. a refused TCP connect under connect_async); the client must notice
 * the dead peer instead of spinning until its timeout. */
static void test_peer_drops_handshake(void)
{
	g_autoptr(SSL_CTX) nobody_ctx = client_context("hub-test-nobody", world.pki, 30, world.pki, &localhost);
	g_autoptr(HubTestMqtt) nobody = hub_test_mqtt_new("hub-test-nobody", nobody_ctx, MQTT_PROTOCOL_V311);
	g_autoptr(GError) refused = NULL;
	gint64 refused_start = g_get_monotonic_time();

	/* Nothing listens there. */
	g_assert_false(hub_test_mqtt_connect(nobody, "localhost", hub_test_free_port(), CONNECT_TIMEOUT_MS, &refused));
	g_test_message("Refused after %.1f ms: %s", (double)(g_get_monotonic_time() - refused_start) / 1000.0,
		       refused->message);
	g_assert_false(g_error_matches(refused, HUB_ERROR, HUB_ERROR_TIMEOUT));

	for (guint reset = 0; reset <= 1; reset++) {
		struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t len = sizeof(addr);
		Closer closer = { .listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), .reset = reset };
		g_autoptr(SSL_CTX) ctx = client_context("hub-test-dropped", world.pki, 30, world.pki, &localhost);
		g_autoptr(HubTestMqtt) client = hub_test_mqtt_new("hub-test-dropped", ctx, MQTT_PROTOCOL_V311);
		g_autoptr(GError) error = NULL;
		gint64 start;
		GThread *thread;

		g_assert_cmpint(bind(closer.listener, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
		g_assert_cmpint(getsockname(closer.listener, (struct sockaddr *)&addr, &len), ==, 0);
		g_assert_cmpint(listen(closer.listener, 1), ==, 0);
		thread = g_thread_new("closer", accept_and_close, &closer);
		start = g_get_monotonic_time();
		g_assert_false(hub_test_mqtt_connect(client, "localhost", ntohs(addr.sin_port), CONNECT_TIMEOUT_MS, &error));
		g_test_message("%s after %.1f ms: %s", reset ? "Reset" : "Closed",
			       (double)(g_get_monotonic_time() - start) / 1000.0, error->message);
		g_assert_false(g_error_matches(error, HUB_ERROR, HUB_ERROR_TIMEOUT));
		g_thread_join(thread);
		close(closer.listener);
	}
}

int main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *pki_dir = NULL;
	g_autofree char *other_dir = NULL;
	int status;

	g_test_init(&argc, &argv, NULL);
	world.tmpdir = g_dir_make_tmp("hubd-tls-XXXXXX", &error);
	g_assert_no_error(error);
	pki_dir = g_build_filename(world.tmpdir, "pki", NULL);
	other_dir = g_build_filename(world.tmpdir, "other-pki", NULL);
	world.pki = hub_test_pki_new(pki_dir, "hubd Test CA");
	world.other_pki = hub_test_pki_new(other_dir, "Another Test CA");
	if (hub_test_broker_available())
		world.broker = hub_test_broker_start(world.pki, world.tmpdir);

	g_test_add_func("/hub/tls/publish-qos1-received", test_publish_qos1_received);
	g_test_add_func("/hub/tls/csr-and-sign-only-key", test_csr_and_sign_only_key);
	g_test_add_func("/hub/tls/ca-checks-csr-signature", test_sign_csr_checks_signature);
	g_test_add_func("/hub/tls/client-from-other-ca-rejected", test_client_from_other_ca_rejected);
	g_test_add_func("/hub/tls/expired-client-rejected", test_expired_client_rejected);
	g_test_add_func("/hub/tls/wrong-hostname-fails", test_wrong_hostname_fails);
	g_test_add_func("/hub/tls/untrusted-server-fails", test_untrusted_server_fails);
	g_test_add_func("/hub/tls/key-mismatch", test_key_mismatch);
	g_test_add_func("/hub/tls/bad-options", test_bad_options);
	g_test_add_func("/hub/tls/context-settings", test_context_settings);
	g_test_add_func("/hub/tls/alpn-on-the-wire", test_alpn_on_the_wire);
	g_test_add_func("/hub/tls/peer-drops-handshake", test_peer_drops_handshake);
	status = g_test_run();

	hub_test_broker_free(world.broker);
	hub_test_pki_free(world.pki);
	hub_test_pki_free(world.other_pki);
	if (!g_getenv("HUB_TEST_KEEP"))
		hub_test_remove_tree(world.tmpdir);
	g_free(world.tmpdir);
	return status;
}
