/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-certs.c - the certificate stores through the real daemon, hubctl and
 * a real mosquitto broker that requires client certificates.
 *
 * For each store (file; pkcs11 on SoftHSM2; tpm2 on swtpm): hubd generates
 * the permanent key and a CSR, a test CA signs it, hubctl stores the
 * certificate; then the core's TLS context built from that role completes a
 * mutual-TLS handshake with the broker and publishes one message that a
 * subscriber receives; hubd restarts and finds the same identity. Bad input
 * gets a clear error and the daemon keeps serving.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "hub-daemon.h"
#include "hub-pem.h"
#include "hub-test-broker.h"
#include "hub-test-env.h"
#include "hub-test-mqtt.h"
#include "hub-test-pki.h"
#include "hub-test-softhsm.h"
#include "hub-test-swtpm.h"

#define SERIAL "HUB-TEST-0042"
#define PIN "731946"
#define TOKEN_LABEL "hubd-test"

typedef struct {
	const char *backend;
	HubTestEnv *env;
	HubTestPki *pki;
	HubTestSwtpm *tpm;
	HubTestSoftHsm *hsm;
	char *store_config; /* [certificates] and [plugin.*] groups for hubd.conf */
} Fixture;

/* ---- set-up ---- */

static void install_store(HubTestEnv *env, const char *backend)
{
	g_autofree char *relative = g_strdup_printf("certhandlers/%s/.libs/certstore-%s.so", backend, backend);
	g_autofree char *name = g_strdup_printf("certstore-%s.so", backend);

	hub_test_env_install_plugin(env, relative, name, 0755);
}

/* Writes hubd.conf with the stores loaded and @backend serving claim and
 * permanent (the root CA always in the file store). */
static void write_config(Fixture *f, const char *plugins)
{
	g_autofree char *extra = g_strdup_printf("plugins=%s\nserial-number=" SERIAL "\n\n"
						 "[certificates]\nclaim=%s\npermanent=%s\nroot-ca=file\n\n%s",
						 plugins, f->backend, f->backend, f->store_config ? f->store_config : "");

	hub_test_env_write_config(f->env, extra, "");
}

static Fixture *fixture_new(const char *backend)
{
	Fixture *f = g_new0(Fixture, 1);
	g_autofree char *pki_dir = NULL;
	g_autofree char *plugins = NULL;

	f->backend = backend;
	f->env = hub_test_env_new();
	pki_dir = hub_test_env_path(f->env, "pki");
	g_assert_cmpint(g_mkdir_with_parents(pki_dir, 0700), ==, 0);
	f->pki = hub_test_pki_new(pki_dir, "hubd Test CA");
	install_store(f->env, "file");
	if (g_str_equal(backend, "pkcs11")) {
		g_autofree char *hsm_dir = hub_test_env_path(f->env, "softhsm");
		g_autofree char *pin_file = hub_test_env_path(f->env, "pkcs11.pin");
		g_autoptr(GError) error = NULL;

		f->hsm = hub_test_softhsm_new(hsm_dir, TOKEN_LABEL, PIN, "97531864", &error);
		g_assert_no_error(error);
		g_assert_true(g_file_set_contents(pin_file, PIN "\n", -1, NULL));
		g_assert_cmpint(chmod(pin_file, 0600), ==, 0);
		install_store(f->env, "pkcs11");
		f->store_config = g_strdup_printf("[plugin.pkcs11]\nmodule=%s\ntoken-label=" TOKEN_LABEL "\npin-file=%s\n",
						  HUB_TEST_SOFTHSM_MODULE, pin_file);
	} else if (g_str_equal(backend, "tpm2")) {
		g_autofree char *tpm_dir = hub_test_env_path(f->env, "swtpm");

		f->tpm = hub_test_swtpm_new(tpm_dir);
		install_store(f->env, "tpm2");
		f->store_config = g_strdup_printf("[plugin.tpm2]\ntcti=%s\n", hub_test_swtpm_get_tcti(f->tpm));
	}
	plugins = g_str_equal(backend, "file") ? g_strdup("virtual,file") : g_strdup_printf("virtual,file,%s", backend);
	write_config(f, plugins);
	return f;
}

static void fixture_free(Fixture *f)
{
	hub_test_env_free(f->env);
	if (f->tpm)
		hub_test_swtpm_free(f->tpm);
	hub_test_softhsm_free(f->hsm);
	hub_test_pki_free(f->pki);
	g_free(f->store_config);
	g_free(f);
}

/* ---- through hubctl ---- */

static const char *member(JsonObject *object, const char *name)
{
	return json_object_has_member(object, name) ? json_object_get_string_member(object, name) : "";
}

/* Generate a key and CSR in hubd, sign it with the test CA, store it and the CA. */
static char *enroll_permanent(Fixture *f, const char *key_type)
{
	g_autofree char *csr_path = hub_test_env_path(f->env, "permanent.csr");
	g_autofree char *cert_path = hub_test_env_path(f->env, "permanent.crt");
	g_autofree char *csr = NULL;
	g_autofree char *err = NULL;
	g_autoptr(GError) error = NULL;
	char *cert;

	g_assert_cmpint(hub_test_env_hubctl(f->env, NULL, &err, "cert", "csr", "permanent", "--key-type", key_type,
					    "--out", csr_path,
			       NULL), ==, 0);
	g_assert_true(g_file_get_contents(csr_path, &csr, NULL, NULL));
	g_assert_true(g_str_has_prefix(csr, "-----BEGIN CERTIFICATE REQUEST-----"));
	cert = hub_test_pki_sign_csr(f->pki, csr, 30, &error);
	g_assert_no_error(error);
	g_assert_true(g_file_set_contents(cert_path, cert, -1, NULL));
	g_assert_cmpint(hub_test_env_hubctl(f->env, NULL, NULL, "cert", "import", "root-ca", "--cert",
					    hub_test_pki_ca_path(f->pki), NULL),
			==, 0);
	g_assert_cmpint(hub_test_env_hubctl(f->env, NULL, NULL, "cert", "import", "permanent", "--cert", cert_path,
					    NULL), ==, 0);
	return cert;
}

/* The daemon's whole output must hold no PEM block and no PIN. */
static void assert_log_has_no_secrets(Fixture *f)
{
	g_autofree char *log = hub_test_env_read_log(f->env);

	g_assert_null(strstr(log, "-----BEGIN"));
	g_assert_null(strstr(log, "PRIVATE KEY"));
	g_assert_null(strstr(log, PIN));
}

/* ---- mutual TLS from the role, in this process ---- */

/* The core, as hubd assembles it, on the same configuration and state but
 * with only the certificate stores loaded (hubd itself is stopped: a TPM
 * simulator serves one client at a time). */
static HubDaemon *core_new(Fixture *f)
{
	g_autofree char *plugins = g_str_equal(f->backend, "file") ? g_strdup("file")
								   : g_strdup_printf("file,%s", f->backend);
	g_autoptr(GError) error = NULL;
	HubConfig *config;
	HubDaemon *daemon;

	write_config(f, plugins);
	config = hub_config_load(f->env->config_path, &error);
	g_assert_no_error(error);
	g_free(config->state_dir);
	config->state_dir = g_strdup(f->env->state_dir);
	daemon = hub_daemon_new(config, &error);
	g_assert_no_error(error);
	g_assert_true(hub_daemon_start(daemon, &error));
	g_assert_no_error(error);
	return daemon;
}

static void publish_with_role(Fixture *f, HubDaemon *daemon, HubTestBroker *broker)
{
	const HubTlsOptions options = { .hostname = "localhost" };
	g_autoptr(GError) error = NULL;
	g_autoptr(HubTestMqtt) hub = NULL;
	g_autoptr(HubTestMqtt) listener = NULL;
	g_autofree char *listener_cert = NULL;
	g_autofree char *listener_key = NULL;
	g_autofree char *message = NULL;
	STACK_OF(X509) *listener_chain = NULL;
	EVP_PKEY *listener_pkey = NULL;
	STACK_OF(X509) *trust = hub_test_pki_trust_anchors(f->pki);
	SSL_CTX *hub_ctx, *listener_ctx;

	/* A subscriber with a software identity from the same CA. */
	listener_cert = hub_test_pki_issue_client(f->pki, "listener", 30, &listener_key);
	listener_chain = hub_test_pem_to_chain(listener_cert);
	listener_pkey = hub_test_pem_to_key(listener_key);
	listener_ctx = hub_tls_context_new(listener_chain, listener_pkey, trust, &options, &error);
	g_assert_no_error(error);
	listener = hub_test_mqtt_new("listener", listener_ctx, 4);
	g_assert_true(hub_test_mqtt_connect(listener, "127.0.0.1", hub_test_broker_port(broker), 5000, &error));
	g_assert_no_error(error);
	g_assert_true(hub_test_mqtt_subscribe(listener, "hub/+/hello", 5000, &error));

	hub_ctx = hub_cert_manager_tls_context(daemon->certs, HUB_CERT_ROLE_PERMANENT, &options, &error);
	g_assert_no_error(error);
	g_assert_nonnull(hub_ctx);
	hub = hub_test_mqtt_new(SERIAL, hub_ctx, 4);
	g_assert_true(hub_test_mqtt_connect(hub, "127.0.0.1", hub_test_broker_port(broker), 5000, &error));
	g_assert_no_error(error);
	g_assert_true(hub_test_mqtt_publish(hub, "hub/" SERIAL "/hello", f->backend, 5000, &error));
	g_assert_no_error(error);
	message = hub_test_mqtt_wait_message(listener, "hub/" SERIAL "/hello", 5000, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(message, ==, f->backend);
	/* The broker took the certificate's CN as the user name. */
	g_assert_true(hub_test_broker_wait_log(broker, SERIAL, 2000));
	hub_test_mqtt_disconnect(hub, 2000);
	hub_test_mqtt_disconnect(listener, 2000);
	g_clear_pointer(&hub, hub_test_mqtt_free);
	SSL_CTX_free(hub_ctx);
	SSL_CTX_free(listener_ctx);
	sk_X509_pop_free(listener_chain, X509_free);
	sk_X509_pop_free(trust, X509_free);
	EVP_PKEY_free(listener_pkey);
}

/* A hardware key signs but cannot be exported; a file key can. */
static void check_key_export(Fixture *f, HubDaemon *daemon)
{
	g_autoptr(GError) error = NULL;
	EVP_PKEY *key = NULL;
	BIO *bio = BIO_new(BIO_s_mem());
	int exported;

	g_assert_true(hub_cert_manager_load(daemon->certs, HUB_CERT_ROLE_PERMANENT, NULL, &key, &error));
	g_assert_nonnull(key);
	exported = PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL);
	ERR_clear_error();
	if (g_str_equal(f->backend, "file"))
		g_assert_cmpint(exported, ==, 1);
	else
		g_assert_cmpint(exported, !=, 1);
	if (!g_str_equal(f->backend, "file"))
		g_assert_cmpint(i2d_PrivateKey(key, NULL), <=, 0);
	ERR_clear_error();
	BIO_free(bio);
	EVP_PKEY_free(key);
}

/* ---- the identity round trip, per store ---- */

static void test_identity(gconstpointer data)
{
	const char *backend = data;
	Fixture *f = fixture_new(backend);
	g_autoptr(HubTestBroker) broker = NULL;
	g_autoptr(JsonObject) before = NULL;
	g_autoptr(JsonObject) after = NULL;
	g_autoptr(JsonObject) claim = NULL;
	g_autofree char *cert = NULL;
	g_autofree char *broker_dir = hub_test_env_path(f->env, "broker");
	HubDaemon *daemon;

	hub_test_env_start_hubd(f->env);
	cert = enroll_permanent(f, "ec-p256");
	before = hub_test_env_cert_status(f->env, "permanent");
	g_assert_cmpstr(member(before, "state"), ==, "ok");
	g_assert_cmpstr(member(before, "store"), ==, backend);
	g_assert_cmpstr(member(before, "keyType"), ==, "EC P-256");
	g_assert_true(strstr(member(before, "subject"), "CN=" SERIAL) != NULL);
	g_assert_true(strstr(member(before, "issuer"), "hubd Test CA") != NULL);
	g_assert_cmpint(json_object_get_boolean_member(before, "hardwareBacked"), ==, !g_str_equal(backend, "file"));
	g_assert_cmpint(json_object_get_boolean_member(before, "keyImportable"), ==, !g_str_equal(backend, "tpm2"));
	g_assert_true(strlen(member(before, "notAfter")) > 0);
	claim = hub_test_env_cert_status(f->env, "claim");
	g_assert_cmpstr(member(claim, "state"), ==, "empty");
	hub_test_env_stop_hubd(f->env);

	/* A real broker requiring client certificates; the role's key signs the handshake. */
	g_assert_cmpint(g_mkdir_with_parents(broker_dir, 0700), ==, 0);
	broker = hub_test_broker_start(f->pki, broker_dir);
	daemon = core_new(f);
	check_key_export(f, daemon);
	publish_with_role(f, daemon, broker);
	hub_daemon_free(daemon);

	/* Restart: the same identity is found in the store. */
	write_config(f, g_str_equal(backend, "file") ? "virtual,file" : (g_str_equal(backend, "pkcs11")
									 ? "virtual,file,pkcs11"
									 : "virtual,file,tpm2"));
	hub_test_env_start_hubd(f->env);
	after = hub_test_env_cert_status(f->env, "permanent");
	g_assert_cmpstr(member(after, "state"), ==, "ok");
	g_assert_cmpstr(member(after, "serial"), ==, member(before, "serial"));
	g_assert_cmpstr(member(after, "subject"), ==, member(before, "subject"));
	hub_test_env_stop_hubd(f->env);
	assert_log_has_no_secrets(f);
	fixture_free(f);
}

/* RSA 2048 on request, through the same path. */
static void test_rsa_key(gconstpointer data)
{
	Fixture *f = fixture_new(data);
	g_autoptr(JsonObject) status = NULL;
	g_autofree char *cert = NULL;

	hub_test_env_start_hubd(f->env);
	cert = enroll_permanent(f, "rsa-2048");
	status = hub_test_env_cert_status(f->env, "permanent");
	g_assert_cmpstr(member(status, "state"), ==, "ok");
	g_assert_cmpstr(member(status, "keyType"), ==, "RSA 2048");
	hub_test_env_stop_hubd(f->env);
	assert_log_has_no_secrets(f);
	fixture_free(f);
}

/* ---- bad input ---- */

static void assert_still_serving(Fixture *f)
{
	g_autofree char *out = NULL;

	g_assert_cmpint(hub_test_env_hubctl(f->env, &out, NULL, "status", NULL), ==, 0);
	g_assert_nonnull(strstr(out, "Version"));
}

/* Imports @cert_pem (and @key_pem) from files; returns hubctl's stderr. */
static char *import_expect_failure(Fixture *f, const char *role, const char *cert_pem, const char *key_pem)
{
	g_autofree char *cert_path = hub_test_env_path(f->env, "input.crt");
	g_autofree char *key_path = hub_test_env_path(f->env, "input.key");
	char *err = NULL;
	gint status;

	g_assert_true(g_file_set_contents(cert_path, cert_pem, -1, NULL));
	if (key_pem) {
		g_assert_true(g_file_set_contents(key_path, key_pem, -1, NULL));
		status = hub_test_env_hubctl(f->env, NULL, &err, "cert", "import", role, "--cert", cert_path, "--key",
					     key_path, NULL);
	} else {
		status = hub_test_env_hubctl(f->env, NULL, &err, "cert", "import", role, "--cert", cert_path, NULL);
	}
	g_assert_cmpint(status, ==, 1);
	return err;
}

static char *escape_newlines(const char *pem)
{
	g_auto(GStrv) lines = g_strsplit(pem, "\n", -1);

	return g_strjoinv("\\n", lines);
}

static void test_file_bad_input(void)
{
	Fixture *f = fixture_new("file");
	g_autofree char *key = NULL;
	g_autofree char *other_key = NULL;
	g_autofree char *cert = hub_test_pki_issue_client(f->pki, "claim-1", 30, &key);
	g_autofree char *other = hub_test_pki_issue_client(f->pki, "claim-2", 30, &other_key);
	g_autofree char *expired_key = NULL;
	g_autofree char *expired = hub_test_pki_issue_client(f->pki, "old", HUB_TEST_PKI_EXPIRED, &expired_key);
	g_autofree char *escaped = escape_newlines(cert);
	g_autofree char *corrupt = g_strdup(cert);
	g_autofree char *err = NULL;
	g_autofree char *key_path = NULL;
	g_autofree char *log = NULL;
	g_autoptr(JsonObject) status = NULL;

	hub_test_env_start_hubd(f->env);

	/* Corrupt PEM: the base64 body damaged. */
	corrupt[strlen("-----BEGIN CERTIFICATE-----\n") + 10] = '*';
	err = import_expect_failure(f, "claim", corrupt, key);
	g_assert_nonnull(strstr(err, "corrupt"));
	g_clear_pointer(&err, g_free);

	/* Escaped newlines, as copied out of a JSON string. */
	err = import_expect_failure(f, "claim", escaped, key);
	g_assert_nonnull(strstr(err, "\\n"));
	g_assert_nonnull(strstr(err, "line breaks"));
	g_clear_pointer(&err, g_free);

	/* Certificate and key that do not belong together. */
	err = import_expect_failure(f, "claim", cert, other_key);
	g_assert_nonnull(strstr(err, "do not belong together"));
	g_clear_pointer(&err, g_free);

	/* A key where the certificate belongs. */
	err = import_expect_failure(f, "claim", key, key);
	g_assert_nonnull(strstr(err, "only a private key"));
	g_clear_pointer(&err, g_free);

	/* Nothing of the above was stored. */
	status = hub_test_env_cert_status(f->env, "claim");
	g_assert_cmpstr(member(status, "state"), ==, "empty");
	g_clear_pointer(&status, json_object_unref);

	/* Unknown role, reserved role. */
	g_assert_cmpint(hub_test_env_hubctl(f->env, NULL, &err, "cert", "erase", "bogus", NULL), ==, 1);
	g_assert_nonnull(strstr(err, "unknown role"));
	g_clear_pointer(&err, g_free);
	g_assert_cmpint(hub_test_env_hubctl(f->env, NULL, &err, "cert", "erase", "attestation", NULL), ==, 1);
	g_assert_nonnull(strstr(err, "reserved"));
	g_clear_pointer(&err, g_free);

	/* An expired certificate is stored, shown as expired and warned about. */
	{
		g_autofree char *cert_path = hub_test_env_path(f->env, "old.crt");
		g_autofree char *path = hub_test_env_path(f->env, "old.key");

		g_assert_true(g_file_set_contents(cert_path, expired, -1, NULL));
		g_assert_true(g_file_set_contents(path, expired_key, -1, NULL));
		g_assert_cmpint(hub_test_env_hubctl(f->env, NULL, NULL, "cert", "import", "claim", "--cert",
						    cert_path, "--key", path, NULL),
				==, 0);
	}
	status = hub_test_env_cert_status(f->env, "claim");
	g_assert_cmpstr(member(status, "state"), ==, "expired");
	g_clear_pointer(&status, json_object_unref);

	/* A key file others can read is refused, with the fix in the message. */
	key_path = g_build_filename(f->env->state_dir, "plugins", "file", "claim.key", NULL);
	g_assert_cmpint(chmod(key_path, 0644), ==, 0);
	status = hub_test_env_cert_status(f->env, "claim");
	g_assert_cmpstr(member(status, "state"), ==, "error");
	g_assert_nonnull(strstr(member(status, "error"), "chmod 600"));
	g_clear_pointer(&status, json_object_unref);
	assert_still_serving(f);

	/* Restart: both problems are logged as warnings. */
	hub_test_env_stop_hubd(f->env);
	g_assert_cmpint(chmod(key_path, 0600), ==, 0);
	hub_test_env_start_hubd(f->env);
	hub_test_env_stop_hubd(f->env);
	log = hub_test_env_read_log(f->env);
	g_assert_nonnull(strstr(log, "expired"));
	assert_log_has_no_secrets(f);
	fixture_free(f);
}

/* The claim credential from the JSON answer of CreateProvisioningProfile. */
static void test_import_profile(void)
{
	Fixture *f = fixture_new("file");
	g_autofree char *key = NULL;
	g_autofree char *cert = hub_test_pki_issue_client(f->pki, "claim-from-profile", 30, &key);
	g_autofree char *profile_path = hub_test_env_path(f->env, "profile.json");
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autoptr(JsonGenerator) generator = json_generator_new();
	g_autoptr(JsonNode) root = NULL;
	g_autoptr(JsonObject) status = NULL;
	g_autofree char *json = NULL;
	g_autofree char *err = NULL;

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "Arn");
	json_builder_add_string_value(builder, "arn:aws:iot-managed-integrations:eu-west-1:1:provisioning-profile/p");
	json_builder_set_member_name(builder, "ClaimCertificate");
	json_builder_add_string_value(builder, cert);
	json_builder_set_member_name(builder, "ClaimCertificatePrivateKey");
	json_builder_add_string_value(builder, key);
	json_builder_set_member_name(builder, "Name");
	json_builder_add_string_value(builder, "p");
	json_builder_end_object(builder);
	root = json_builder_get_root(builder);
	json_generator_set_root(generator, root);
	json = json_generator_to_data(generator, NULL);
	g_assert_true(g_file_set_contents(profile_path, json, -1, NULL));

	hub_test_env_start_hubd(f->env);
	g_assert_cmpint(hub_test_env_hubctl(f->env, NULL, &err, "cert", "import", "claim", "--profile", profile_path,
					    NULL), ==, 0);
	status = hub_test_env_cert_status(f->env, "claim");
	g_assert_cmpstr(member(status, "state"), ==, "ok");
	g_assert_nonnull(strstr(member(status, "subject"), "claim-from-profile"));
	g_clear_pointer(&status, json_object_unref);

	/* A profile without the credential members. */
	g_assert_true(g_file_set_contents(profile_path, "{\"Name\": \"p\"}", -1, NULL));
	g_clear_pointer(&err, g_free);
	g_assert_cmpint(hub_test_env_hubctl(f->env, NULL, &err, "cert", "import", "claim", "--profile", profile_path,
					    NULL), ==, 1);
	g_assert_nonnull(strstr(err, "ClaimCertificatePrivateKey"));

	/* Erase, and the claim role is empty again. */
	g_assert_cmpint(hub_test_env_hubctl(f->env, NULL, NULL, "cert", "erase", "claim", NULL), ==, 0);
	status = hub_test_env_cert_status(f->env, "claim");
	g_assert_cmpstr(member(status, "state"), ==, "empty");
	hub_test_env_stop_hubd(f->env);
	assert_log_has_no_secrets(f);
	fixture_free(f);
}

/* hubd without its certificate module: a clear error, nothing else breaks. */
static void test_engine_missing(void)
{
	Fixture *f = fixture_new("file");
	g_autofree char *module = g_strdup(g_getenv("HUBD_CLOUD_MODULE"));
	g_autoptr(JsonObject) status = NULL;
	g_autofree char *err = NULL;

	g_setenv("HUBD_CLOUD_MODULE", "/nonexistent/hubd-cloud.so", TRUE);
	hub_test_env_start_hubd(f->env);
	if (module)
		g_setenv("HUBD_CLOUD_MODULE", module, TRUE);
	else
		g_unsetenv("HUBD_CLOUD_MODULE");
	status = hub_test_env_cert_status(f->env, "permanent");
	g_assert_cmpstr(member(status, "state"), ==, "error");
	g_assert_nonnull(strstr(member(status, "error"), "/nonexistent/hubd-cloud.so"));
	g_assert_cmpint(hub_test_env_hubctl(f->env, NULL, &err, "cert", "generate", "permanent", NULL), ==, 1);
	g_assert_nonnull(strstr(err, "cloud module"));
	assert_still_serving(f);
	hub_test_env_stop_hubd(f->env);
	fixture_free(f);
}

/* Wrong PIN, missing module, missing token: clear errors, hubd serves on,
 * and a corrected PIN works without a restart. */
static void test_pkcs11_bad_input(void)
{
	Fixture *f = fixture_new("pkcs11");
	g_autofree char *pin_file = hub_test_env_path(f->env, "pkcs11.pin");
	g_autofree char *good_config = g_strdup(f->store_config);
	g_autoptr(JsonObject) status = NULL;
	g_autofree char *err = NULL;
	g_autofree char *log = NULL;

	/* Wrong PIN. */
	g_assert_true(g_file_set_contents(pin_file, "000000\n", -1, NULL));
	g_assert_cmpint(chmod(pin_file, 0600), ==, 0);
	hub_test_env_start_hubd(f->env);
	g_assert_cmpint(hub_test_env_hubctl(f->env, NULL, &err, "cert", "generate", "permanent", NULL), ==, 1);
	g_assert_nonnull(strstr(err, "CKR_PIN_INCORRECT"));
	g_assert_null(strstr(err, "000000"));
	status = hub_test_env_cert_status(f->env, "permanent");
	g_assert_cmpstr(member(status, "state"), ==, "error");
	g_clear_pointer(&status, json_object_unref);
	assert_still_serving(f);
	/* The right PIN in the file: works at once. */
	g_assert_true(g_file_set_contents(pin_file, PIN "\n", -1, NULL));
	g_assert_cmpint(chmod(pin_file, 0600), ==, 0);
	g_clear_pointer(&err, g_free);
	g_assert_cmpint(hub_test_env_hubctl(f->env, NULL, &err, "cert", "generate", "permanent", NULL), ==, 0);
	hub_test_env_stop_hubd(f->env);

	/* The module is missing. */
	g_free(f->store_config);
	f->store_config = g_strdup_printf("[plugin.pkcs11]\nmodule=/nonexistent/libmissing.so\ntoken-label=" TOKEN_LABEL
					  "\npin-file=%s\n", pin_file);
	write_config(f, "virtual,file,pkcs11");
	hub_test_env_start_hubd(f->env);
	status = hub_test_env_cert_status(f->env, "permanent");
	g_assert_cmpstr(member(status, "state"), ==, "error");
	g_assert_nonnull(strstr(member(status, "error"), "/nonexistent/libmissing.so"));
	g_clear_pointer(&status, json_object_unref);
	assert_still_serving(f);
	hub_test_env_stop_hubd(f->env);

	/* No token with that label. */
	g_free(f->store_config);
	f->store_config = g_strdup_printf("[plugin.pkcs11]\nmodule=%s\ntoken-label=no-such-token\npin-file=%s\n",
					  HUB_TEST_SOFTHSM_MODULE, pin_file);
	write_config(f, "virtual,file,pkcs11");
	hub_test_env_start_hubd(f->env);
	status = hub_test_env_cert_status(f->env, "permanent");
	g_assert_cmpstr(member(status, "state"), ==, "error");
	g_assert_nonnull(strstr(member(status, "error"), "no-such-token"));
	g_clear_pointer(&status, json_object_unref);
	assert_still_serving(f);
	hub_test_env_stop_hubd(f->env);

	/* Restored configuration: the key generated above is still there. */
	g_free(f->store_config);
	f->store_config = g_steal_pointer(&good_config);
	write_config(f, "virtual,file,pkcs11");
	hub_test_env_start_hubd(f->env);
	status = hub_test_env_cert_status(f->env, "permanent");
	g_assert_cmpstr(member(status, "state"), ==, "key-only");
	hub_test_env_stop_hubd(f->env);
	log = hub_test_env_read_log(f->env);
	g_assert_null(strstr(log, "000000"));
	assert_log_has_no_secrets(f);
	fixture_free(f);
}

/* A TPM refuses keys born elsewhere; a TPM that stops answering is an error
 * per operation, and hubd serves on and recovers when it is back. */
static void test_tpm2_bad_input(void)
{
	Fixture *f = fixture_new("tpm2");
	g_autofree char *key = NULL;
	g_autofree char *cert = hub_test_pki_issue_client(f->pki, "from-the-cloud", 30, &key);
	g_autoptr(JsonObject) status = NULL;
	g_autofree char *err = NULL;
	g_autofree char *enrolled = NULL;

	hub_test_env_start_hubd(f->env);
	err = import_expect_failure(f, "permanent", cert, key);
	g_assert_nonnull(strstr(err, "only holds keys generated inside the TPM"));
	g_clear_pointer(&err, g_free);
	enrolled = enroll_permanent(f, "ec-p256");

	/* The TPM goes away: a clear error, the daemon keeps serving. */
	hub_test_swtpm_stop(f->tpm);
	status = hub_test_env_cert_status(f->env, "permanent");
	g_assert_cmpstr(member(status, "state"), ==, "error");
	g_assert_nonnull(strstr(member(status, "error"), "cannot reach the TPM"));
	g_clear_pointer(&status, json_object_unref);
	g_assert_cmpint(hub_test_env_hubctl(f->env, NULL, &err, "cert", "generate", "permanent", NULL), ==, 1);
	g_assert_nonnull(strstr(err, "cannot reach the TPM"));
	assert_still_serving(f);

	/* Back again: the same identity, without a restart of hubd. */
	hub_test_swtpm_start(f->tpm);
	status = hub_test_env_cert_status(f->env, "permanent");
	g_assert_cmpstr(member(status, "state"), ==, "ok");
	hub_test_env_stop_hubd(f->env);
	assert_log_has_no_secrets(f);
	fixture_free(f);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_data_func("/certs/file/identity-mtls-restart", "file", test_identity);
	g_test_add_data_func("/certs/file/rsa-2048", "file", test_rsa_key);
	g_test_add_func("/certs/file/bad-input", test_file_bad_input);
	g_test_add_func("/certs/file/import-provisioning-profile", test_import_profile);
	g_test_add_func("/certs/engine-missing", test_engine_missing);
	g_test_add_data_func("/certs/pkcs11/identity-mtls-restart", "pkcs11", test_identity);
	g_test_add_data_func("/certs/pkcs11/rsa-2048", "pkcs11", test_rsa_key);
	g_test_add_func("/certs/pkcs11/bad-input", test_pkcs11_bad_input);
	g_test_add_data_func("/certs/tpm2/identity-mtls-restart", "tpm2", test_identity);
	g_test_add_data_func("/certs/tpm2/rsa-2048", "tpm2", test_rsa_key);
	g_test_add_func("/certs/tpm2/bad-input", test_tpm2_bad_input);
	return g_test_run();
}
