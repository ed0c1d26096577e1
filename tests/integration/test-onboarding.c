/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-onboarding - the real hubd with the aws-iot transport onboards itself
 * against tests/cloudsim (a real mosquitto with mutual TLS and an ACL, and a
 * fleet-provisioning responder): first boot with each certificate store,
 * kill -9 at each step, the broker down, killed or refusing TLS, the ACL,
 * offboarding (local and from the cloud) and onboarding again, hostile
 * answers, rejections and bad configuration. Status is read the way a user
 * reads it: D-Bus GetCloudStatus, hubctl and the identity file.
 */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hub-cloudsim.h"
#include "hub-openssl.h"
#include "hub-test-broker.h"
#include "hub-test-env.h"
#include "hub-test-mqtt.h"
#include "hub-test-pki.h"
#include "hub-test-softhsm.h"
#include "hub-test-swtpm.h"

#define SERIAL "HUB-ONB-0001"
#define UPC "012345678905"
#define PIN "246813"
#define TOKEN_LABEL "hubd-onboarding"
#define TIMEOUT_MS 20000
#define BACKOFF_CAP_MS 1000

#define DEVICES_CONF "[device plug-1]\ntype=plug\nname=Child plug\n"

typedef struct {
	const char *store;    /* the permanent role's store */
	const char *claim;    /* the claim role's store */
	HubTestEnv *env;
	HubCloudsim *sim;
	const HubCloudsimThing *thing;
	HubTestSwtpm *tpm;
	HubTestSoftHsm *hsm;
	char *identity_path;
	char *store_config;
	char *aws_config;     /* extra [plugin.aws-iot] lines */
	const char *devices;  /* devices.conf of the virtual plugin */
	const char *cloud_extra; /* extra [cloud] lines */
} Fixture;

/* ---- set-up ---- */

static void install(HubTestEnv *env, const char *relative, const char *name)
{
	hub_test_env_install_plugin(env, relative, name, 0755);
}

static void write_config(Fixture *f)
{
	g_autofree char *plugins = g_strdup_printf("virtual,file%s%s,aws-iot", g_str_equal(f->store, "file") ? "" : ",",
						   g_str_equal(f->store, "file") ? "" : f->store);
	g_autofree char *extra = g_strdup_printf(
		"plugins=%s\nserial-number=" SERIAL "\n\n"
		"[certificates]\nclaim=%s\npermanent=%s\nroot-ca=file\n\n"
		"[plugin.file]\nroot-ca=%s\n\n%s\n"
		"[cloud]\ntransport=aws-iot\nidentity=%s\nport=%u\nbackoff-base-ms=100\nbackoff-cap-ms=%u\n"
		"connect-interval-ms=50\nconnect-timeout-ms=5000\n%s\n"
		"[plugin.aws-iot]\nretry-base-ms=50\nretry-cap-ms=400\nresponse-timeout-ms=3000\n%s",
		plugins, f->claim, f->store, hub_cloudsim_ca_path(f->sim), f->store_config ? f->store_config : "",
		f->identity_path, hub_cloudsim_port(f->sim), BACKOFF_CAP_MS, f->cloud_extra ? f->cloud_extra : "",
		f->aws_config ? f->aws_config : "");

	hub_test_env_write_config(f->env, extra, f->devices ? f->devices : "");
}

/* iotmi_config.json as the OEM writes it; the claim credential is named by
 * path for the file store and SECURE_STORAGE otherwise. */
static void write_identity_full(Fixture *f, const char *ro_extra, const char *rw)
{
	g_autofree char *claim_cert = NULL, *claim_key = NULL, *text = NULL;

	if (g_str_equal(f->claim, "file")) {
		claim_cert = g_strdup(hub_cloudsim_claim_cert_path(f->sim));
		claim_key = g_strdup(hub_cloudsim_claim_key_path(f->sim));
	} else {
		claim_cert = g_strdup("SECURE_STORAGE");
		claim_key = g_strdup("SECURE_STORAGE");
	}
	text = g_strdup_printf("{\n \"ro\": {\"iot_provisioning_method\": \"FLEET_PROVISIONING\",\n"
			       "  \"iot_claim_cert_path\": \"%s\", \"iot_claim_pk_path\": \"%s\",\n"
			       "  \"fp_template_name\": \"" HUB_CLOUDSIM_DEFAULT_TEMPLATE "\",\n"
			       "  \"endpoint_url\": \"127.0.0.1\", \"SN\": \"" SERIAL "\", \"UPC\": \"" UPC "\"%s},\n"
			       " \"rw\": %s\n}\n",
			       claim_cert, claim_key, ro_extra ? ro_extra : "",
			       rw ? rw : "{\"iot_provisioning_state\": \"NOT_PROVISIONED\"}");
	g_assert_true(g_file_set_contents(f->identity_path, text, -1, NULL));
}

static void write_identity(Fixture *f)
{
	write_identity_full(f, NULL, NULL);
}

static Fixture *fixture_new(const char *store)
{
	Fixture *f = g_new0(Fixture, 1);
	g_autofree char *cloud_dir = NULL;
	g_autoptr(GError) error = NULL;

	f->store = store;
	/* The TPM cannot take the factory's claim key: it stays a file, as on real hubs. */
	f->claim = g_str_equal(store, "pkcs11") ? "pkcs11" : "file";
	f->env = hub_test_env_new();
	cloud_dir = hub_test_env_path(f->env, "cloud");
	f->sim = hub_cloudsim_start(cloud_dir, &error);
	g_assert_no_error(error);
	f->thing = hub_cloudsim_add_managed_thing(f->sim, SERIAL, UPC);
	f->identity_path = hub_test_env_path(f->env, "iotmi_config.json");
	install(f->env, "certhandlers/file/.libs/certstore-file.so", "certstore-file.so");
	install(f->env, "plugins/transport-aws-iot/.libs/aws-iot.so", "aws-iot.so");
	if (g_str_equal(store, "pkcs11")) {
		g_autofree char *hsm_dir = hub_test_env_path(f->env, "softhsm");
		g_autofree char *pin_file = hub_test_env_path(f->env, "pkcs11.pin");

		f->hsm = hub_test_softhsm_new(hsm_dir, TOKEN_LABEL, PIN, "97531864", &error);
		g_assert_no_error(error);
		g_assert_true(g_file_set_contents(pin_file, PIN "\n", -1, NULL));
		g_assert_cmpint(chmod(pin_file, 0600), ==, 0);
		install(f->env, "certhandlers/pkcs11/.libs/certstore-pkcs11.so", "certstore-pkcs11.so");
		f->store_config = g_strdup_printf("[plugin.pkcs11]\nmodule=%s\ntoken-label=" TOKEN_LABEL "\npin-file=%s\n",
						  HUB_TEST_SOFTHSM_MODULE, pin_file);
	} else if (g_str_equal(store, "tpm2")) {
		g_autofree char *tpm_dir = hub_test_env_path(f->env, "swtpm");

		f->tpm = hub_test_swtpm_new(tpm_dir);
		install(f->env, "certhandlers/tpm2/.libs/certstore-tpm2.so", "certstore-tpm2.so");
		f->store_config = g_strdup_printf("[plugin.tpm2]\ntcti=%s\n", hub_test_swtpm_get_tcti(f->tpm));
	}
	write_config(f);
	write_identity(f);
	return f;
}

static void fixture_free(Fixture *f)
{
	hub_test_env_stop_hubd(f->env);
	hub_cloudsim_free(f->sim);
	hub_test_env_free(f->env);
	if (f->tpm)
		hub_test_swtpm_free(f->tpm);
	hub_test_softhsm_free(f->hsm);
	g_free(f->identity_path);
	g_free(f->store_config);
	g_free(f->aws_config);
	g_free(f);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Fixture, fixture_free)

/* ---- reading the state ---- */

/* The identity file, asserted to be a JSON object. */
static JsonObject *parse_object(const char *text)
{
	JsonObject *object = hub_test_parse_object(text);

	g_assert_nonnull(object);
	return object;
}

/* Manager.GetCloudStatus. */
static JsonObject *cloud_status(Fixture *f)
{
	return hub_test_env_cloud_status(f->env);
}

static const char *string_or_null(JsonObject *object, const char *name)
{
	return json_object_get_string_member_with_default(object, name, NULL);
}

/* The identity file's rw section. */
static JsonObject *identity_rw(Fixture *f)
{
	g_autofree char *text = NULL;
	g_autoptr(JsonObject) root = NULL;

	g_assert_true(g_file_get_contents(f->identity_path, &text, NULL, NULL));
	root = parse_object(text);
	return json_object_ref(json_object_get_object_member(root, "rw"));
}

typedef struct {
	Fixture *f;
	const char *state;   /* provisioningState to reach */
	const char *failure; /* or: a failureReason containing this */
	JsonObject *last;
} Wait;

static gboolean reached(gpointer data)
{
	Wait *w = data;
	const char *failure;

	g_clear_pointer(&w->last, json_object_unref);
	w->last = cloud_status(w->f);
	if (w->state && g_strcmp0(string_or_null(w->last, "provisioningState"), w->state) == 0)
		return TRUE;
	failure = string_or_null(w->last, "failureReason");
	return w->failure && failure && strstr(failure, w->failure);
}

static gboolean wait_quietly(Fixture *f, const char *state, const char *failure, guint timeout_ms,
			     JsonObject **last)
{
	Wait w = { f, state, failure, NULL };
	gboolean ok = hub_test_wait_until(reached, &w, timeout_ms);

	if (last)
		*last = g_steal_pointer(&w.last);
	g_clear_pointer(&w.last, json_object_unref);
	return ok;
}

/* Waits for @state or a failure containing @failure; fails the test with
 * the status and hubd's log otherwise. */
static JsonObject *wait_for(Fixture *f, const char *state, const char *failure)
{
	JsonObject *last = NULL;

	if (!wait_quietly(f, state, failure, TIMEOUT_MS, &last)) {
		g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), last);
		g_autofree char *text = json_to_string(node, TRUE);
		g_autofree char *log = hub_test_env_read_log(f->env);

		g_error("waited for %s%s%s; last status %s\nhubd's log:\n%s", state ? state : "",
			failure ? " / failure " : "", failure ? failure : "", text, log);
	}
	return last;
}

static JsonObject *wait_provisioned(Fixture *f)
{
	return wait_for(f, "PROVISIONED", NULL);
}

/* `hubctl provision`; the hub's own retry may have finished first. */
static void provision_now(Fixture *f)
{
	g_autofree char *err = NULL;
	gint status = hub_test_env_hubctl(f->env, NULL, &err, "provision", NULL);

	if (status != 0)
		g_assert_nonnull(strstr(err, "already provisioned"));
}

static gboolean connected_permanently(gpointer data)
{
	Fixture *f = data;
	g_autoptr(JsonObject) status = cloud_status(f);
	JsonObject *connection = json_object_get_object_member(status, "connection");

	return g_strcmp0(string_or_null(status, "provisioningState"), "PROVISIONED") == 0 &&
	       g_strcmp0(string_or_null(connection, "state"), "connected") == 0;
}

static void kill9(Fixture *f)
{
	g_subprocess_force_exit(f->env->hubd);
	g_subprocess_wait(f->env->hubd, NULL, NULL);
	g_clear_object(&f->env->hubd);
}

/* User plus system CPU time of hubd so far, in ms. */
static guint64 hubd_cpu_ms(Fixture *f)
{
	g_autofree char *path = g_strdup_printf("/proc/%s/stat", g_subprocess_get_identifier(f->env->hubd));
	g_autofree char *text = NULL;
	g_auto(GStrv) fields = NULL;
	const char *after;

	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	/* Fields after the command name, which may contain spaces: 3 is the state. */
	after = strrchr(text, ')');
	g_assert_nonnull(after);
	fields = g_strsplit(after + 2, " ", -1);
	return (g_ascii_strtoull(fields[11], NULL, 10) + g_ascii_strtoull(fields[12], NULL, 10)) * 1000 /
	       (guint64)sysconf(_SC_CLK_TCK);
}

/* The checks every successful onboarding passes. */
static void assert_onboarded(Fixture *f, JsonObject *status)
{
	g_autoptr(JsonObject) rw = identity_rw(f);
	g_autoptr(JsonObject) permanent = hub_test_env_cert_status(f->env, "permanent");
	JsonObject *connection = json_object_get_object_member(status, "connection");
	g_autofree char *log = hub_cloudsim_read_log(f->sim);
	g_autofree char *permanent_line = g_strdup_printf(" as %s ", f->thing->thing_name);
	const char *line;

	g_assert_cmpstr(string_or_null(status, "clientId"), ==, f->thing->thing_name);
	g_assert_cmpstr(string_or_null(status, "managedThingId"), ==, f->thing->managed_thing_id);
	g_assert_null(string_or_null(status, "failureReason"));
	g_assert_null(string_or_null(status, "step"));
	g_assert_cmpstr(string_or_null(connection, "identity"), ==, "permanent");
	g_assert_cmpstr(string_or_null(connection, "state"), ==, "connected");
	/* What the AWS SDK's processes read from iotmi_config.json. */
	g_assert_cmpstr(json_object_get_string_member(rw, "iot_provisioning_state"), ==, "PROVISIONED");
	g_assert_cmpstr(json_object_get_string_member(rw, "client_id"), ==, f->thing->thing_name);
	g_assert_cmpstr(json_object_get_string_member(rw, "managed_thing_id"), ==, f->thing->managed_thing_id);
	g_assert_cmpstr(json_object_get_string_member(permanent, "state"), ==, "ok");
	/* The permanent session uses the hub's own certificate, never the claim's. */
	line = strstr(log, permanent_line);
	g_assert_nonnull(line);
	line = strstr(line, "u'");
	g_assert_nonnull(line);
	g_assert_false(g_str_has_prefix(line, "u'" HUB_CLOUDSIM_CLAIM_CN "'"));
}

/* ---- first boot with each store ---- */

static void import_claim_into_store(Fixture *f)
{
	g_autofree char *err = NULL;

	g_assert_cmpint(hub_test_env_hubctl(f->env, NULL, &err, "cert", "import", "claim", "--cert",
					    hub_cloudsim_claim_cert_path(f->sim), "--key",
					    hub_cloudsim_claim_key_path(f->sim), NULL), ==, 0);
}

static void test_first_boot(gconstpointer data)
{
	g_autoptr(Fixture) f = fixture_new(data);
	g_autoptr(JsonObject) status = NULL;
	g_autoptr(JsonObject) permanent = NULL;
	g_autofree char *log = NULL;

	hub_test_env_start_hubd(f->env);
	if (g_str_equal(f->claim, "pkcs11")) {
		/* A token without the claim credential: the failure says so, and
		 * `hubctl provision` retries at once after it is imported. */
		g_autoptr(JsonObject) failed = wait_for(f, NULL, "claim");

		g_assert_cmpstr(string_or_null(failed, "provisioningState"), ==, "PROVISIONING");
		import_claim_into_store(f);
		provision_now(f);
	}
	status = wait_provisioned(f);
	assert_onboarded(f, status);
	g_assert_cmpuint(hub_cloudsim_accepted(f->sim, HUB_CLOUDSIM_API_CREATE_FROM_CSR), ==, 1);
	g_assert_cmpuint(hub_cloudsim_count(f->sim, HUB_CLOUDSIM_API_CREATE_KEYS), ==, 0);
	g_assert_cmpuint(hub_cloudsim_accepted(f->sim, HUB_CLOUDSIM_API_REGISTER_THING), ==, 1);
	permanent = hub_test_env_cert_status(f->env, "permanent");
	g_assert_true(json_object_get_boolean_member(permanent, "hardwareBacked") == !g_str_equal(f->store, "file"));

	/* A restart connects with the permanent identity at once: no API call. */
	hub_test_env_stop_hubd(f->env);
	hub_test_env_start_hubd(f->env);
	g_assert_true(hub_test_wait_until(connected_permanently, f, TIMEOUT_MS));
	g_clear_pointer(&status, json_object_unref);
	status = cloud_status(f);
	assert_onboarded(f, status);
	g_assert_cmpuint(hub_cloudsim_count(f->sim, HUB_CLOUDSIM_API_CREATE_FROM_CSR), ==, 1);
	g_assert_cmpuint(hub_cloudsim_count(f->sim, HUB_CLOUDSIM_API_REGISTER_THING), ==, 1);

	log = hub_test_env_read_log(f->env);
	g_assert_null(strstr(log, "PRIVATE KEY"));
	g_assert_null(strstr(log, PIN));
}

static void test_create_keys(void)
{
	g_autoptr(Fixture) f = fixture_new("file");
	g_autoptr(JsonObject) status = NULL;
	g_autofree char *log = NULL;

	f->aws_config = g_strdup("certificate-method=create-keys\n");
	write_config(f);
	hub_test_env_start_hubd(f->env);
	status = wait_provisioned(f);
	assert_onboarded(f, status);
	g_assert_cmpuint(hub_cloudsim_accepted(f->sim, HUB_CLOUDSIM_API_CREATE_KEYS), ==, 1);
	g_assert_cmpuint(hub_cloudsim_count(f->sim, HUB_CLOUDSIM_API_CREATE_FROM_CSR), ==, 0);
	log = hub_test_env_read_log(f->env);
	g_assert_null(strstr(log, "PRIVATE KEY"));
}

/* A TPM cannot import the cloud's key: a clear failure, nothing stored. */
static void test_create_keys_tpm2(void)
{
	g_autoptr(Fixture) f = fixture_new("tpm2");
	g_autoptr(JsonObject) status = NULL;
	g_autoptr(JsonObject) permanent = NULL;

	f->aws_config = g_strdup("certificate-method=create-keys\n");
	write_config(f);
	hub_test_env_start_hubd(f->env);
	status = wait_for(f, NULL, "was refused");
	g_assert_nonnull(strstr(string_or_null(status, "failureReason"), "CreateKeysAndCertificate"));
	g_assert_cmpstr(string_or_null(status, "provisioningState"), ==, "PROVISIONING");
	permanent = hub_test_env_cert_status(f->env, "permanent");
	g_assert_cmpint(json_object_get_int_member(permanent, "certificates"), ==, 0);
}

/* ---- kill -9 at each step ---- */

static void resume_after_kill(HubCloudsimApi held, const char *step)
{
	g_autoptr(Fixture) f = fixture_new("file");
	g_autoptr(JsonObject) rw = NULL;
	g_autoptr(JsonObject) status = NULL;

	hub_cloudsim_hold(f->sim, held, TRUE);
	hub_test_env_start_hubd(f->env);
	g_assert_true(hub_cloudsim_wait_count(f->sim, held, 1, TIMEOUT_MS));
	kill9(f);
	rw = identity_rw(f);
	g_assert_cmpstr(json_object_get_string_member(rw, "iot_provisioning_state"), ==, "PROVISIONING");
	g_assert_cmpstr(json_object_get_string_member(rw, "provisioning_step"), ==, step);

	hub_cloudsim_hold(f->sim, held, FALSE);
	hub_test_env_start_hubd(f->env);
	status = wait_provisioned(f);
	assert_onboarded(f, status);
	if (held == HUB_CLOUDSIM_API_REGISTER_THING) {
		/* Resumed from the stored certificate: no second certificate. */
		g_assert_cmpuint(hub_cloudsim_count(f->sim, HUB_CLOUDSIM_API_CREATE_FROM_CSR), ==, 1);
		g_assert_cmpuint(hub_cloudsim_count(f->sim, HUB_CLOUDSIM_API_REGISTER_THING), ==, 2);
	} else {
		g_assert_cmpuint(hub_cloudsim_count(f->sim, HUB_CLOUDSIM_API_CREATE_FROM_CSR), ==, 2);
	}
}

static void test_kill_waiting_certificate(void)
{
	resume_after_kill(HUB_CLOUDSIM_API_CREATE_FROM_CSR, "claim-connect");
}

static void test_kill_waiting_registration(void)
{
	resume_after_kill(HUB_CLOUDSIM_API_REGISTER_THING, "certificate-issued");
}

/* Killed after RegisterThing was saved, before the permanent CONNACK: the
 * identity says so and the store holds the certificate the cloud issued. */
static void test_kill_before_permanent_connect(void)
{
	g_autoptr(Fixture) f = fixture_new("file");
	g_autoptr(JsonObject) status = NULL;
	g_autofree char *key = NULL;
	g_autofree char *cert = hub_cloudsim_issue_client(f->sim, SERIAL, &key);
	g_autofree char *cert_path = hub_test_env_path(f->env, "issued.crt");
	g_autofree char *key_path = hub_test_env_path(f->env, "issued.key");
	g_autofree char *rw = g_strdup_printf("{\"iot_provisioning_state\": \"PROVISIONING\", \"provisioning_step\": "
					      "\"thing-registered\", \"client_id\": \"%s\", \"managed_thing_id\": \"%s\"}",
					      f->thing->thing_name, f->thing->managed_thing_id);

	write_identity_full(f, NULL, rw);
	hub_test_env_start_hubd(f->env);
	g_assert_true(g_file_set_contents(cert_path, cert, -1, NULL));
	g_assert_true(g_file_set_contents(key_path, key, -1, NULL));
	g_assert_cmpint(chmod(key_path, 0600), ==, 0);
	/* Until then the permanent connect fails and is retried by itself. */
	g_assert_cmpint(hub_test_env_hubctl(f->env, NULL, NULL, "cert", "import", "permanent", "--cert", cert_path,
					    "--key", key_path, NULL), ==, 0);
	status = wait_provisioned(f);
	assert_onboarded(f, status);
	g_assert_cmpuint(hub_cloudsim_count(f->sim, HUB_CLOUDSIM_API_CREATE_FROM_CSR), ==, 0);
	g_assert_cmpuint(hub_cloudsim_count(f->sim, HUB_CLOUDSIM_API_REGISTER_THING), ==, 0);
}

/* ---- the broker down, killed, refusing TLS ---- */

typedef struct {
	GHashTable *next_attempts; /* distinct nextAttemptMs values seen */
	guint max_attempts;
	gint64 longest_wait_ms;    /* nextAttemptMs - now, at most */
} Backoff;

/* Samples the status for @ms and checks the backoff: several attempts,
 * jittered delays within the cap, and almost no CPU (no busy loop). */
static void assert_backing_off(Fixture *f, guint ms, const char *error_part)
{
	Backoff b = { g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL), 0, 0 };
	guint64 cpu_before = hubd_cpu_ms(f), cpu;
	gint64 end = g_get_monotonic_time() + ms * 1000;
	gboolean error_seen = FALSE;

	while (g_get_monotonic_time() < end) {
		g_autoptr(JsonObject) status = cloud_status(f);
		JsonObject *connection = json_object_get_object_member(status, "connection");
		gint64 next = json_object_get_int_member(connection, "nextAttemptMs");
		const char *last_error = string_or_null(connection, "lastError");

		if (next > 0) {
			gint64 *copy = g_new(gint64, 1);

			*copy = next;
			b.longest_wait_ms = MAX(b.longest_wait_ms, next - g_get_real_time() / 1000);
			g_hash_table_add(b.next_attempts, copy);
		}
		b.max_attempts = MAX(b.max_attempts, (guint)json_object_get_int_member(connection, "attempts"));
		if (last_error && strstr(last_error, error_part))
			error_seen = TRUE;
		g_usleep(20000);
	}
	cpu = hubd_cpu_ms(f) - cpu_before;
	g_test_message("%u attempts, %u distinct delays, longest %" G_GINT64_FORMAT " ms, CPU %" G_GUINT64_FORMAT
		       " ms in %u ms",
		       b.max_attempts, g_hash_table_size(b.next_attempts), b.longest_wait_ms, cpu, ms);
	g_assert_true(error_seen);
	g_assert_cmpuint(b.max_attempts, >=, 3);
	g_assert_cmpuint(g_hash_table_size(b.next_attempts), >=, 3);
	g_assert_cmpint(b.longest_wait_ms, <=, BACKOFF_CAP_MS + 100);
	/* A busy loop burns the whole interval; polling D-Bus costs a little.
	 * Under a wrapper (valgrind) the CPU time is the wrapper's. */
	if (!g_getenv("HUB_TEST_WRAPPER") || !*g_getenv("HUB_TEST_WRAPPER"))
		g_assert_cmpuint(cpu, <, ms / 5);
	g_hash_table_destroy(b.next_attempts);
}

static void test_broker_down_at_start(void)
{
	g_autoptr(Fixture) f = fixture_new("file");
	g_autoptr(JsonObject) status = NULL;

	hub_cloudsim_broker_stop(f->sim);
	hub_test_env_start_hubd(f->env);
	assert_backing_off(f, 3000, "");
	g_assert_true(hub_cloudsim_broker_start(f->sim));
	status = wait_provisioned(f);
	assert_onboarded(f, status);
}

static void test_broker_killed_mid_provisioning(void)
{
	g_autoptr(Fixture) f = fixture_new("file");
	g_autoptr(JsonObject) status = NULL;

	hub_cloudsim_hold(f->sim, HUB_CLOUDSIM_API_REGISTER_THING, TRUE);
	hub_test_env_start_hubd(f->env);
	g_assert_true(hub_cloudsim_wait_count(f->sim, HUB_CLOUDSIM_API_REGISTER_THING, 1, TIMEOUT_MS));
	hub_cloudsim_broker_kill(f->sim);
	assert_backing_off(f, 3000, "");
	hub_cloudsim_hold(f->sim, HUB_CLOUDSIM_API_REGISTER_THING, FALSE);
	g_assert_true(hub_cloudsim_broker_start(f->sim));
	status = wait_provisioned(f);
	assert_onboarded(f, status);
	g_assert_cmpuint(hub_cloudsim_count(f->sim, HUB_CLOUDSIM_API_CREATE_FROM_CSR), ==, 1);
}

/* The broker refuses the handshake: a claim certificate from a CA it does not trust. */
static void test_tls_refused(void)
{
	g_autoptr(Fixture) f = fixture_new("file");
	g_autoptr(JsonObject) status = NULL;
	g_autofree char *pki_dir = hub_test_env_path(f->env, "rogue-pki");
	g_autoptr(HubTestPki) rogue = NULL;
	g_autofree char *key = NULL;
	g_autofree char *cert = NULL;
	g_autofree char *good_cert = NULL, *good_key = NULL;

	g_assert_cmpint(g_mkdir_with_parents(pki_dir, 0700), ==, 0);
	rogue = hub_test_pki_new(pki_dir, "Rogue CA");
	cert = hub_test_pki_issue_client(rogue, HUB_CLOUDSIM_CLAIM_CN, 30, &key);
	g_assert_true(g_file_get_contents(hub_cloudsim_claim_cert_path(f->sim), &good_cert, NULL, NULL));
	g_assert_true(g_file_get_contents(hub_cloudsim_claim_key_path(f->sim), &good_key, NULL, NULL));
	g_assert_true(g_file_set_contents(hub_cloudsim_claim_cert_path(f->sim), cert, -1, NULL));
	g_assert_true(g_file_set_contents(hub_cloudsim_claim_key_path(f->sim), key, -1, NULL));
	g_assert_cmpint(chmod(hub_cloudsim_claim_key_path(f->sim), 0600), ==, 0);
	hub_test_env_start_hubd(f->env);
	assert_backing_off(f, 3000, "unknown ca");
	g_clear_pointer(&status, json_object_unref);
	status = cloud_status(f);
	g_assert_cmpstr(string_or_null(status, "provisioningState"), ==, "PROVISIONING");
	g_assert_cmpuint(hub_cloudsim_count(f->sim, HUB_CLOUDSIM_API_CREATE_FROM_CSR), ==, 0);

	/* The right credential back; provision reads it again at once. */
	g_assert_true(g_file_set_contents(hub_cloudsim_claim_cert_path(f->sim), good_cert, -1, NULL));
	g_assert_true(g_file_set_contents(hub_cloudsim_claim_key_path(f->sim), good_key, -1, NULL));
	g_assert_cmpint(chmod(hub_cloudsim_claim_key_path(f->sim), 0600), ==, 0);
	g_assert_cmpint(hub_test_env_hubctl(f->env, NULL, NULL, "provision", NULL), ==, 0);
	g_clear_pointer(&status, json_object_unref);
	status = wait_provisioned(f);
	assert_onboarded(f, status);
}

/* ---- the ACL ---- */

static SSL_CTX *context_from_files(Fixture *f, const char *cert_path, const char *key_path)
{
	g_autofree char *cert = NULL, *key = NULL;

	g_assert_true(g_file_get_contents(cert_path, &cert, NULL, NULL));
	g_assert_true(g_file_get_contents(key_path, &key, NULL, NULL));
	return hub_cloudsim_client_context(f->sim, cert, key);
}

/* The hub's own permanent identity (the file store's files) cannot reach another hub's topics. */
static void test_acl(void)
{
	g_autoptr(Fixture) f = fixture_new("file");
	g_autoptr(JsonObject) status = NULL;
	const HubCloudsimThing *other = hub_cloudsim_add_managed_thing(f->sim, "HUB-ONB-OTHER", UPC);
	g_autofree char *dir = g_build_filename(f->env->state_dir, "plugins", "file", NULL);
	g_autofree char *cert_path = g_build_filename(dir, "permanent.crt", NULL);
	g_autofree char *key_path = g_build_filename(dir, "permanent.key", NULL);
	g_autofree char *observer_key = NULL;
	g_autofree char *observer_cert = hub_cloudsim_issue_client(f->sim, HUB_CLOUDSIM_RESPONDER_CN, &observer_key);
	g_autofree char *observer_cert_path = hub_test_env_path(f->env, "observer.crt");
	g_autofree char *observer_key_path = hub_test_env_path(f->env, "observer.key");
	g_autofree char *own = g_strdup_printf("north/%s/lifecycle", f->thing->thing_name);
	g_autofree char *theirs = g_strdup_printf("south/%s/control", other->thing_name);
	g_autoptr(SSL_CTX) ctx = NULL;
	g_autoptr(SSL_CTX) observer_ctx = NULL;
	g_autoptr(HubTestMqtt) intruder = NULL;
	g_autoptr(HubTestMqtt) observer = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *payload = NULL;

	hub_test_env_start_hubd(f->env);
	status = wait_provisioned(f);
	hub_test_env_stop_hubd(f->env);

	g_assert_true(g_file_set_contents(observer_cert_path, observer_cert, -1, NULL));
	g_assert_true(g_file_set_contents(observer_key_path, observer_key, -1, NULL));
	observer_ctx = context_from_files(f, observer_cert_path, observer_key_path);
	observer = hub_test_mqtt_new("acl-observer", observer_ctx, MQTT_PROTOCOL_V311);
	hub_test_mqtt_connect(observer, "127.0.0.1", hub_cloudsim_port(f->sim), TIMEOUT_MS, &error);
	g_assert_no_error(error);
	hub_test_mqtt_subscribe(observer, "south/#", TIMEOUT_MS, &error);
	g_assert_no_error(error);
	hub_test_mqtt_subscribe(observer, "north/#", TIMEOUT_MS, &error);
	g_assert_no_error(error);

	ctx = context_from_files(f, cert_path, key_path);
	intruder = hub_test_mqtt_new(f->thing->thing_name, ctx, MQTT_PROTOCOL_V311);
	hub_test_mqtt_connect(intruder, "127.0.0.1", hub_cloudsim_port(f->sim), TIMEOUT_MS, &error);
	g_assert_no_error(error);
	/* Its own topic works ... */
	hub_test_mqtt_publish(intruder, own, "{\"event\":\"PING\"}", TIMEOUT_MS, &error);
	g_assert_no_error(error);
	payload = hub_test_mqtt_wait_message(observer, own, TIMEOUT_MS, &error);
	g_assert_no_error(error);
	g_clear_pointer(&payload, g_free);
	/* ... the other hub's is dropped by the broker (3.1.1 still sends PUBACK). */
	hub_test_mqtt_publish(intruder, theirs, "{\"operation\":\"DeleteManagedThing\"}", TIMEOUT_MS, &error);
	g_assert_no_error(error);
	payload = hub_test_mqtt_wait_message(observer, theirs, 1000, &error);
	g_assert_null(payload);
	g_assert_nonnull(error);
}

/* ---- offboarding ---- */

static void test_offboard_and_onboard_again(void)
{
	g_autoptr(Fixture) f = fixture_new("file");
	g_autoptr(JsonObject) status = NULL;
	g_autoptr(JsonObject) rw = NULL;
	g_autoptr(JsonObject) permanent = NULL;
	g_autoptr(JsonObject) claim = NULL;
	g_autoptr(JsonObject) before = NULL;
	g_autofree char *old_serial = NULL;
	g_autofree char *err = NULL;
	g_autofree char *out = NULL;
	g_autoptr(GVariant) count = NULL;
	const HubCloudsimThing *again;

	f->devices = DEVICES_CONF;
	write_config(f);
	hub_test_env_start_hubd(f->env);
	status = wait_provisioned(f);
	before = hub_test_env_cert_status(f->env, "permanent");
	old_serial = g_strdup(string_or_null(before, "serial"));
	g_assert_nonnull(old_serial);

	/* A child device remains: refused, nothing changes. */
	g_assert_cmpint(hub_test_env_hubctl(f->env, NULL, &err, "offboard", NULL), ==, 1);
	g_assert_nonnull(strstr(err, "1 child device remains"));
	g_clear_pointer(&status, json_object_unref);
	status = cloud_status(f);
	g_assert_cmpstr(string_or_null(status, "provisioningState"), ==, "PROVISIONED");
	g_assert_cmpuint(hub_cloudsim_offboarded(f->sim), ==, 0);

	/* --force removes it; the cloud hears of it; the claim stays. */
	g_assert_cmpint(hub_test_env_hubctl(f->env, &out, NULL, "offboard", "--force", NULL), ==, 0);
	/* The broker acknowledged the report; the responder reads it on its own time. */
	g_assert_true(hub_cloudsim_wait_offboarded(f->sim, 1, TIMEOUT_MS));
	g_assert_null(hub_cloudsim_thing_status(f->sim, f->thing->managed_thing_id));
	rw = identity_rw(f);
	g_assert_false(json_object_has_member(rw, "client_id"));
	g_assert_false(json_object_has_member(rw, "managed_thing_id"));
	/* The old identity is gone (onboarding may already be making a new one). */
	permanent = hub_test_env_cert_status(f->env, "permanent");
	g_assert_cmpstr(string_or_null(permanent, "serial"), !=, old_serial);
	claim = hub_test_env_cert_status(f->env, "claim");
	g_assert_cmpstr(json_object_get_string_member(claim, "state"), ==, "ok");
	count = hub_test_get_manager_property(f->env, "DeviceCount");
	g_assert_cmpuint(g_variant_get_uint32(count), ==, 0);

	/* Onboarding starts again and fails until the cloud has a managed thing again. */
	g_clear_pointer(&status, json_object_unref);
	status = wait_for(f, NULL, "PreProvisioningHookFailed");
	g_assert_nonnull(strstr(string_or_null(status, "failureReason"), "RegisterThing rejected: 403"));
	again = hub_cloudsim_add_managed_thing(f->sim, SERIAL, UPC);
	g_assert_cmpstr(again->thing_name, !=, f->thing->thing_name);
	f->thing = again;
	g_clear_pointer(&status, json_object_unref);
	status = wait_provisioned(f);
	assert_onboarded(f, status);
}

static void test_offboard_from_cloud(void)
{
	g_autoptr(Fixture) f = fixture_new("file");
	g_autoptr(JsonObject) status = NULL;
	g_autoptr(JsonObject) before = NULL;
	g_autoptr(JsonObject) permanent = NULL;
	g_autofree char *old_serial = NULL;
	g_autofree char *log = NULL;

	f->devices = DEVICES_CONF;
	write_config(f);
	hub_test_env_start_hubd(f->env);
	status = wait_provisioned(f);
	before = hub_test_env_cert_status(f->env, "permanent");
	old_serial = g_strdup(string_or_null(before, "serial"));
	g_assert_nonnull(old_serial);
	g_assert_true(hub_cloudsim_delete_managed_thing(f->sim, f->thing->managed_thing_id));
	g_clear_pointer(&status, json_object_unref);
	/* The cloud decided: offboarded although a child device was there. */
	status = wait_for(f, NULL, "PreProvisioningHookFailed");
	g_assert_cmpuint(hub_cloudsim_offboarded(f->sim), ==, 1);
	g_assert_null(hub_cloudsim_thing_status(f->sim, f->thing->managed_thing_id));
	/* The old identity is gone (onboarding may already have a new one). */
	permanent = hub_test_env_cert_status(f->env, "permanent");
	g_assert_cmpstr(string_or_null(permanent, "serial"), !=, old_serial);
	log = hub_test_env_read_log(f->env);
	g_assert_nonnull(strstr(log, "at the cloud's request"));
	g_assert_nonnull(strstr(log, "Hub offboarded"));
}

/* ---- bad answers, rejections, bad configuration ---- */

typedef struct {
	HubCloudsimApi api;
	const char *payload; /* NULL: a huge one */
	const char *reason;  /* part of the failure reason */
} BadAnswer;

static void test_bad_answers(void)
{
	g_autoptr(Fixture) f = fixture_new("file");
	g_autofree char *huge = g_strnfill(100 * 1024, 'x');
	g_autofree char *huge_json = g_strdup_printf("{\"certificateId\": \"%s\"}", huge);
	g_autofree char *other_key = NULL;
	g_autofree char *other_cert = hub_cloudsim_issue_client(f->sim, SERIAL, &other_key);
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autoptr(JsonNode) mismatch_node = NULL;
	g_autofree char *mismatch = NULL;
	g_autoptr(JsonObject) status = NULL;
	g_autoptr(JsonObject) permanent = NULL;
	const BadAnswer answers[] = {
		{ HUB_CLOUDSIM_API_CREATE_FROM_CSR, "this is not JSON", "not valid JSON" },
		{ HUB_CLOUDSIM_API_CREATE_FROM_CSR, "[1, 2]", "not a JSON object" },
		{ HUB_CLOUDSIM_API_CREATE_FROM_CSR, "{\"certificateId\": \"x\", \"certificateOwnershipToken\": \"t\"}",
		  "has no certificatePem" },
		{ HUB_CLOUDSIM_API_CREATE_FROM_CSR,
		  "{\"certificateId\": 7, \"certificatePem\": \"x\", \"certificateOwnershipToken\": \"t\"}",
		  "certificateId is not a non-empty string" },
		{ HUB_CLOUDSIM_API_CREATE_FROM_CSR, NULL, "too large" },
		{ HUB_CLOUDSIM_API_CREATE_FROM_CSR, "", "does not match" },
		{ HUB_CLOUDSIM_API_REGISTER_THING, "{\"deviceConfiguration\": {}}", "has no thingName" },
		{ HUB_CLOUDSIM_API_REGISTER_THING, "{\"thingName\": \"a/#\", \"deviceConfiguration\": {}}",
		  "not a valid thing name" },
		{ HUB_CLOUDSIM_API_REGISTER_THING, "{\"thingName\": \"t1\", \"deviceConfiguration\": []}",
		  "no deviceConfiguration object" },
	};

	/* A real certificate for another key: the store must refuse it. */
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "certificateId");
	json_builder_add_string_value(builder, "mismatch");
	json_builder_set_member_name(builder, "certificatePem");
	json_builder_add_string_value(builder, other_cert);
	json_builder_set_member_name(builder, "certificateOwnershipToken");
	json_builder_add_string_value(builder, "token");
	json_builder_end_object(builder);
	mismatch_node = json_builder_get_root(builder);
	mismatch = json_to_string(mismatch_node, FALSE);

	/* Unanswered requests are retried quickly (not too quickly under valgrind). */
	f->aws_config = g_strdup(g_getenv("HUB_TEST_WRAPPER") && *g_getenv("HUB_TEST_WRAPPER")
					 ? "response-timeout-ms=3000\n"
					 : "response-timeout-ms=300\n");
	write_config(f);
	/* Held APIs drop every request but serve one hostile answer at a time. */
	hub_cloudsim_hold(f->sim, HUB_CLOUDSIM_API_CREATE_FROM_CSR, TRUE);
	hub_cloudsim_hold(f->sim, HUB_CLOUDSIM_API_REGISTER_THING, TRUE);
	hub_test_env_start_hubd(f->env);
	for (guint i = 0; i < G_N_ELEMENTS(answers); i++) {
		const char *payload = answers[i].payload ? (*answers[i].payload ? answers[i].payload : mismatch)
							 : huge_json;

		g_test_message("bad answer %u: %s", i, answers[i].reason);
		if (answers[i].api == HUB_CLOUDSIM_API_REGISTER_THING &&
		    hub_cloudsim_accepted(f->sim, HUB_CLOUDSIM_API_CREATE_FROM_CSR) == i) {
			/* Let one real certificate through: RegisterThing comes next. */
			hub_cloudsim_hold(f->sim, HUB_CLOUDSIM_API_CREATE_FROM_CSR, FALSE);
			g_assert_true(hub_cloudsim_wait_count(f->sim, HUB_CLOUDSIM_API_REGISTER_THING, 1, TIMEOUT_MS));
		}
		hub_cloudsim_set_reply(f->sim, answers[i].api, payload);
		g_clear_pointer(&status, json_object_unref);
		status = wait_for(f, NULL, answers[i].reason);
		g_assert_cmpstr(string_or_null(status, "provisioningState"), ==, "PROVISIONING");
		if (answers[i].api == HUB_CLOUDSIM_API_CREATE_FROM_CSR) {
			/* Nothing was stored from a bad certificate answer. */
			g_clear_pointer(&permanent, json_object_unref);
			permanent = hub_test_env_cert_status(f->env, "permanent");
			g_assert_cmpstr(json_object_get_string_member(permanent, "state"), ==, "key-only");
		} else {
			g_assert_cmpstr(string_or_null(status, "step"), ==, "certificate-issued");
			g_assert_null(string_or_null(status, "clientId"));
		}
	}
	hub_cloudsim_hold(f->sim, HUB_CLOUDSIM_API_REGISTER_THING, FALSE);
	provision_now(f);
	g_clear_pointer(&status, json_object_unref);
	status = wait_provisioned(f);
	assert_onboarded(f, status);
}

static void test_rejections(void)
{
	g_autoptr(Fixture) f = fixture_new("file");
	g_autoptr(JsonObject) status = NULL;
	g_autofree char *out = NULL;
	g_autofree char *log = NULL;

	hub_cloudsim_set_throttle(f->sim, HUB_CLOUDSIM_API_CREATE_FROM_CSR, 2);
	hub_cloudsim_set_template(f->sim, "another-template");
	hub_test_env_start_hubd(f->env);
	status = wait_for(f, NULL, "ResourceNotFoundException");
	g_assert_nonnull(strstr(string_or_null(status, "failureReason"), "RegisterThing rejected: 404"));
	g_assert_cmpuint(hub_cloudsim_rejected(f->sim, HUB_CLOUDSIM_API_CREATE_FROM_CSR), ==, 2);
	/* Where a user looks: hubctl status and the log. */
	g_assert_cmpint(hub_test_env_hubctl(f->env, &out, NULL, "status", NULL), ==, 0);
	g_assert_nonnull(strstr(out, "Provisioning: PROVISIONING"));
	g_assert_nonnull(strstr(out, "Last failure: RegisterThing rejected: 404 ResourceNotFoundException"));
	log = hub_test_env_read_log(f->env);
	g_assert_nonnull(strstr(log, "CreateCertificateFromCsr rejected: 429 Throttling: Rate exceeded"));

	hub_cloudsim_set_template(f->sim, HUB_CLOUDSIM_DEFAULT_TEMPLATE);
	g_clear_pointer(&status, json_object_unref);
	status = wait_provisioned(f);
	assert_onboarded(f, status);
}

/* A broken identity file: hubd runs on (local control), says what is wrong
 * with the field named, and changes nothing on disk. */
static void assert_identity_refused(Fixture *f, const char *text, const char *message)
{
	g_autofree char *after = NULL;
	g_autofree char *err = NULL;
	g_autoptr(JsonObject) status = NULL;

	g_assert_true(g_file_set_contents(f->identity_path, text, -1, NULL));
	hub_test_env_start_hubd(f->env);
	status = cloud_status(f);
	g_assert_null(string_or_null(status, "provisioningState"));
	g_assert_nonnull(strstr(string_or_null(status, "failureReason"), message));
	g_assert_cmpint(hub_test_env_hubctl(f->env, NULL, &err, "provision", NULL), ==, 1);
	g_assert_nonnull(strstr(err, message));
	hub_test_env_stop_hubd(f->env);
	g_assert_true(g_file_get_contents(f->identity_path, &after, NULL, NULL));
	g_assert_cmpstr(after, ==, text);
	g_assert_cmpuint(hub_cloudsim_count(f->sim, HUB_CLOUDSIM_API_CREATE_FROM_CSR), ==, 0);
}

static void test_bad_config(void)
{
	g_autoptr(Fixture) f = fixture_new("file");
	static const struct {
		const char *text;
		const char *message;
	} identities[] = {
		{ "{\"ro\": {\"iot_provisioning_method\": \"FLEET_PROVISIONING\", \"iot_claim_cert_path\": \"SECURE_STORAGE\", "
		  "\"iot_claim_pk_path\": \"SECURE_STORAGE\", \"fp_template_name\": \"t\", \"endpoint_url\": \"127.0.0.1\", "
		  "\"UPC\": \"1\"}, \"rw\": {\"iot_provisioning_state\": \"NOT_PROVISIONED\"}}",
		  "ro.SN" },
		{ "{\"ro\": {\"iot_provisioning_method\": \"JITP\", \"iot_claim_cert_path\": \"SECURE_STORAGE\", "
		  "\"iot_claim_pk_path\": \"SECURE_STORAGE\", \"fp_template_name\": \"t\", \"endpoint_url\": \"127.0.0.1\", "
		  "\"SN\": \"s\", \"UPC\": \"1\"}, \"rw\": {\"iot_provisioning_state\": \"NOT_PROVISIONED\"}}",
		  "unknown provisioning method" },
		{ "{\"ro\": {\"iot_provisioning_method\": \"FLEET_PROVISIONING\", \"iot_claim_cert_path\": \"SECURE_STORAGE\", "
		  "\"iot_claim_pk_path\": \"SECURE_STORAGE\", \"fp_template_name\": \"t\", \"endpoint_url\": \"127.0.0.1\", "
		  "\"SN\": \"s\", \"UPC\": \"1\", \"mqtt_keep_alive_interval\": 10}, "
		  "\"rw\": {\"iot_provisioning_state\": \"NOT_PROVISIONED\"}}",
		  "mqtt_keep_alive_interval" },
		{ "{\"ro\": {}, \"rw\": ", "not valid JSON" },
	};
	g_autoptr(GSubprocess) hubd = NULL;
	g_autofree char *log = NULL;

	for (guint i = 0; i < G_N_ELEMENTS(identities); i++)
		assert_identity_refused(f, identities[i].text, identities[i].message);

	/* A bad plugin setting refuses the plugin (local control goes on), named in the log. */
	f->aws_config = g_strdup("certificate-method=magic\n");
	write_config(f);
	write_identity(f);
	hub_test_env_start_hubd(f->env);
	log = hub_test_env_read_log(f->env);
	g_assert_nonnull(strstr(log, "certificate-method must be csr"));
	hub_test_env_stop_hubd(f->env);

	/* hubd.conf errors stop hubd with the group and key named (a later key wins in GKeyFile). */
	g_clear_pointer(&f->aws_config, g_free);
	f->cloud_extra = "port=0\n";
	write_config(f);
	hubd = hub_test_env_spawn_hubd(f->env);
	g_assert_true(g_subprocess_wait(hubd, NULL, NULL));
	g_assert_cmpint(g_subprocess_get_exit_status(hubd), !=, 0);
	g_clear_pointer(&log, g_free);
	log = hub_test_env_read_log(f->env);
	g_assert_nonnull(strstr(log, "[cloud] port must be 1-65535"));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	if (!hub_test_broker_available() || !hub_test_softhsm_available() || !hub_test_swtpm_available())
		g_error("mosquitto, softhsm2 and swtpm are required (.ci/install-deps installs them)");
	g_test_add_data_func("/onboarding/first-boot/file", "file", test_first_boot);
	g_test_add_data_func("/onboarding/first-boot/pkcs11", "pkcs11", test_first_boot);
	g_test_add_data_func("/onboarding/first-boot/tpm2", "tpm2", test_first_boot);
	g_test_add_func("/onboarding/create-keys/file", test_create_keys);
	g_test_add_func("/onboarding/create-keys/tpm2-refused", test_create_keys_tpm2);
	g_test_add_func("/onboarding/kill/waiting-certificate", test_kill_waiting_certificate);
	g_test_add_func("/onboarding/kill/waiting-registration", test_kill_waiting_registration);
	g_test_add_func("/onboarding/kill/before-permanent-connect", test_kill_before_permanent_connect);
	g_test_add_func("/onboarding/broker/down-at-start", test_broker_down_at_start);
	g_test_add_func("/onboarding/broker/killed-mid-provisioning", test_broker_killed_mid_provisioning);
	g_test_add_func("/onboarding/broker/tls-refused", test_tls_refused);
	g_test_add_func("/onboarding/acl", test_acl);
	g_test_add_func("/onboarding/offboard/local", test_offboard_and_onboard_again);
	g_test_add_func("/onboarding/offboard/from-cloud", test_offboard_from_cloud);
	g_test_add_func("/onboarding/bad-answers", test_bad_answers);
	g_test_add_func("/onboarding/rejections", test_rejections);
	g_test_add_func("/onboarding/bad-config", test_bad_config);
	return g_test_run();
}
