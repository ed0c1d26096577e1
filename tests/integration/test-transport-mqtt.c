/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-transport-mqtt - the real hubd with the mqtt transport: on a plain
 * mosquitto with a user name and password (a wrong password is refused and
 * shown), and on a TLS broker that requires a client certificate, which the
 * hub takes from its permanent role once it is imported; the same payloads
 * as aws-iot under the configured topic prefix; bad configuration refuses
 * the plugin, not the hub.
 */
#include "config.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

#include "hub-cloudsim.h"
#include "hub-test-broker.h"
#include "hub-test-env.h"
#include "hub-test-mqtt.h"
#include "hub-test-pki.h"

#define TIMEOUT_MS 20000
#define DEVICES "[device plug-1]\ntype=plug\nlatency-ms=10\n"
#define COMMAND                                                                                            \
	"{\"traceId\": \"mqtt-1\", \"deviceId\": \"plug-1\", \"endpoints\": [{\"endpointId\": \"1\","    \
	" \"capabilities\": [{\"id\": \"matter.OnOff@1.4\", \"actions\": [{\"name\": \"On\"}]}]}]}"

static JsonObject *cloud_status(HubTestEnv *env)
{
	return hub_test_env_cloud_status(env);
}

typedef struct {
	HubTestEnv *env;
	const char *state;
	const char *error; /* or: a lastError containing this */
} ConnectionWait;

static gboolean connection_reached(gpointer data)
{
	ConnectionWait *w = data;
	g_autoptr(JsonObject) status = cloud_status(w->env);
	JsonObject *connection = json_object_get_object_member(status, "connection");
	const char *error = json_object_get_string_member_with_default(connection, "lastError", NULL);

	if (w->state && g_strcmp0(json_object_get_string_member(connection, "state"), w->state) == 0)
		return TRUE;
	return w->error && error && strstr(error, w->error);
}

static void wait_connection(HubTestEnv *env, const char *state, const char *error)
{
	ConnectionWait w = { env, state, error };

	if (!hub_test_wait_until(connection_reached, &w, TIMEOUT_MS)) {
		g_autoptr(JsonObject) status = cloud_status(env);
		g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), status);
		g_autofree char *text = json_to_string(node, FALSE);

		g_error("the connection did not become %s / show %s; the status: %s", state ? state : "-",
			error ? error : "-", text);
	}
}

/* ---- a plain mosquitto with a password file ---- */

typedef struct {
	char *dir;
	GSubprocess *process;
	HubTestPki *pki;
	guint16 hub_port;  /* user name and password required */
	guint16 tls_port;  /* the same over TLS, no client certificate */
	guint16 open_port; /* anonymous: the test's observer */
} PlainBroker;

static gboolean accepts(guint16 port)
{
	g_autoptr(GSocketClient) client = g_socket_client_new();
	g_autoptr(GSocketConnection) connection =
		g_socket_client_connect_to_host(client, "127.0.0.1", port, NULL, NULL);

	return connection != NULL;
}

static void die_with_parent(gpointer user_data)
{
	prctl(PR_SET_PDEATHSIG, SIGTERM);
}

static PlainBroker *plain_broker_start(HubTestEnv *env)
{
	PlainBroker *b = g_new0(PlainBroker, 1);
	g_autofree char *passwords = NULL, *conf = NULL, *text = NULL, *log = NULL;
	g_autoptr(GError) error = NULL;
	const char *passwd_argv[] = { "mosquitto_passwd", "-b", "-c", NULL, "hub", "s3cret-pass", NULL };
	gint status = 0;

	b->dir = hub_test_env_path(env, "plain-broker");
	g_assert_cmpint(g_mkdir_with_parents(b->dir, 0700), ==, 0);
	passwords = g_build_filename(b->dir, "passwords", NULL);
	passwd_argv[3] = passwords;
	g_assert_true(g_spawn_sync(NULL, (char **)passwd_argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
				   NULL, NULL, NULL, NULL, &status, &error));
	g_assert_no_error(error);
	g_assert_true(g_spawn_check_wait_status(status, NULL));
	b->hub_port = hub_test_free_port();
	b->tls_port = hub_test_free_port();
	b->open_port = hub_test_free_port();
	{
		g_autofree char *pki_dir = g_build_filename(b->dir, "pki", NULL);

		b->pki = hub_test_pki_new(pki_dir, "Plain Broker CA");
	}
	conf = g_build_filename(b->dir, "mosquitto.conf", NULL);
	log = g_build_filename(b->dir, "mosquitto.log", NULL);
	text = g_strdup_printf("per_listener_settings true\npersistence false\nlog_dest file %s\n"
			       "connection_messages true\n%s"
			       "listener %u 127.0.0.1\nallow_anonymous false\npassword_file %s\n"
			       "listener %u 127.0.0.1\nallow_anonymous false\npassword_file %s\n"
			       "cafile %s\ncertfile %s\nkeyfile %s\nrequire_certificate false\n"
			       "listener %u 127.0.0.1\nallow_anonymous true\n",
			       log, geteuid() == 0 ? "user root\n" : "", b->hub_port, passwords, b->tls_port, passwords,
			       hub_test_pki_ca_path(b->pki), hub_test_pki_server_cert_path(b->pki),
			       hub_test_pki_server_key_path(b->pki), b->open_port);
	g_assert_true(g_file_set_contents(conf, text, -1, NULL));
	{
		g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(
			G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE);

		/* Gone with the test, also when it aborts. */
		g_subprocess_launcher_set_child_setup(launcher, die_with_parent, NULL, NULL);
		b->process = g_subprocess_launcher_spawn(launcher, &error, hub_test_broker_path(), "-c", conf, NULL);
		g_assert_no_error(error);
	}
	for (guint i = 0; i < 200 && !(accepts(b->hub_port) && accepts(b->tls_port) && accepts(b->open_port)); i++)
		g_usleep(20 * 1000);
	g_assert_true(accepts(b->open_port));
	return b;
}

static void plain_broker_free(PlainBroker *b)
{
	g_subprocess_send_signal(b->process, SIGTERM);
	g_subprocess_wait(b->process, NULL, NULL);
	g_object_unref(b->process);
	hub_test_pki_free(b->pki);
	g_free(b->dir);
	g_free(b);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PlainBroker, plain_broker_free)

static void write_password(HubTestEnv *env, const char *password)
{
	g_autofree char *path = hub_test_env_path(env, "mqtt.password");

	g_assert_true(g_file_set_contents(path, password, -1, NULL));
	g_assert_cmpint(g_chmod(path, 0600), ==, 0);
}

static void test_plain_password(void)
{
	g_autoptr(HubTestEnv) env = hub_test_env_new();
	g_autoptr(PlainBroker) broker = plain_broker_start(env);
	g_autoptr(HubTestMqtt) observer = hub_test_mqtt_new("observer", NULL, MQTT_PROTOCOL_V311);
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonObject) state = NULL, ack = NULL, response = NULL;
	g_autofree char *extra = NULL, *text = NULL, *out = NULL, *err = NULL;

	hub_test_env_install_plugin(env, "plugins/transport-mqtt/.libs/mqtt.so", "mqtt.so", 0755);
	extra = g_strdup_printf("plugins=virtual,mqtt\n\n[cloud]\ntransport=mqtt\nbackoff-base-ms=50\nbackoff-cap-ms=300\n"
				"connect-interval-ms=20\n\n[plugin.mqtt]\nhost=127.0.0.1\nport=%u\ntls=false\n"
				"username=hub\npassword-file=mqtt.password\nclient-id=hub-plain\ntopic-prefix=site/7/hub\n",
				broker->hub_port);
	hub_test_env_write_config(env, extra, DEVICES);

	/* A wrong password: refused by the broker, shown, retried. */
	write_password(env, "wrong\n");
	hub_test_env_start_hubd(env);
	wait_connection(env, NULL, "not authorised");
	hub_test_env_stop_hubd(env);

	g_assert_true(hub_test_mqtt_connect(observer, "127.0.0.1", broker->open_port, TIMEOUT_MS, &error));
	g_assert_no_error(error);
	g_assert_true(hub_test_mqtt_subscribe(observer, "site/7/hub/#", TIMEOUT_MS, &error));
	g_assert_no_error(error);
	write_password(env, "s3cret-pass\n");
	hub_test_env_start_hubd(env);
	wait_connection(env, "connected", NULL);

	/* The same payloads as aws-iot, under the prefix. */
	text = hub_test_mqtt_wait_message(observer, "site/7/hub/state", TIMEOUT_MS, &error);
	g_assert_no_error(error);
	state = hub_test_parse_object(text);
	g_assert_cmpstr(json_object_get_string_member(state, "messageType"), ==, "DEVICE_STATE");
	g_assert_true(json_object_get_boolean_member(json_object_get_object_member(state, "payload"), "full"));
	g_clear_pointer(&text, g_free);

	g_assert_true(hub_test_mqtt_publish(observer, "site/7/hub/command", COMMAND, TIMEOUT_MS, &error));
	g_assert_no_error(error);
	text = hub_test_mqtt_wait_message(observer, "site/7/hub/command/ack", TIMEOUT_MS, &error);
	g_assert_no_error(error);
	ack = hub_test_parse_object(text);
	g_assert_cmpstr(json_object_get_string_member(json_object_get_object_member(ack, "payload"), "status"), ==,
			"ACCEPTED");
	g_clear_pointer(&text, g_free);
	text = hub_test_mqtt_wait_message(observer, "site/7/hub/command/response", TIMEOUT_MS, &error);
	g_assert_no_error(error);
	response = hub_test_parse_object(text);
	g_assert_cmpint(json_object_get_int_member(json_object_get_object_member(response, "payload"), "responseCode"),
			==, 200);

	/* Nothing to provision. */
	g_assert_cmpint(hub_test_env_hubctl(env, &out, &err, "provision", NULL), !=, 0);
	g_assert_nonnull(strstr(err, "provisions nothing"));
}

/* TLS without a client certificate: the broker verified against the
 * root-ca role, the hub authenticated by its password. */
static void test_tls_password(void)
{
	g_autoptr(HubTestEnv) env = hub_test_env_new();
	g_autoptr(PlainBroker) broker = plain_broker_start(env);
	g_autoptr(HubTestMqtt) observer = hub_test_mqtt_new("observer-tls", NULL, MQTT_PROTOCOL_V311);
	g_autoptr(GError) error = NULL;
	g_autofree char *extra = NULL, *text = NULL, *log = NULL;

	hub_test_env_install_plugin(env, "certhandlers/file/.libs/certstore-file.so", "certstore-file.so", 0755);
	hub_test_env_install_plugin(env, "plugins/transport-mqtt/.libs/mqtt.so", "mqtt.so", 0755);
	extra = g_strdup_printf("plugins=virtual,file,mqtt\n\n[certificates]\nroot-ca=file\n\n[plugin.file]\nroot-ca=%s\n\n"
				"[cloud]\ntransport=mqtt\nbackoff-base-ms=50\nbackoff-cap-ms=300\nconnect-interval-ms=20\n\n"
				"[plugin.mqtt]\nhost=127.0.0.1\nport=%u\nusername=hub\npassword-file=mqtt.password\n"
				"client-id=hub-tls\ntopic-prefix=site/8/hub\n",
				hub_test_pki_ca_path(broker->pki), broker->tls_port);
	hub_test_env_write_config(env, extra, DEVICES);
	write_password(env, "s3cret-pass\n");
	g_assert_true(hub_test_mqtt_connect(observer, "127.0.0.1", broker->open_port, TIMEOUT_MS, &error));
	g_assert_no_error(error);
	g_assert_true(hub_test_mqtt_subscribe(observer, "site/8/hub/#", TIMEOUT_MS, &error));
	g_assert_no_error(error);
	hub_test_env_start_hubd(env);
	wait_connection(env, "connected", NULL);
	text = hub_test_mqtt_wait_message(observer, "site/8/hub/state", TIMEOUT_MS, &error);
	g_assert_no_error(error);
	g_assert_nonnull(strstr(text, "\"DEVICE_STATE\""));
	log = hub_test_env_read_log(env);
	g_assert_nonnull(strstr(log, "with TLS and a user name"));
}

/* ---- TLS with the permanent role's client certificate ---- */

static void test_tls_client_certificate(void)
{
	g_autoptr(HubTestEnv) env = hub_test_env_new();
	g_autofree char *cloud_dir = hub_test_env_path(env, "cloud");
	g_autoptr(GError) error = NULL;
	g_autoptr(HubCloudsim) sim = hub_cloudsim_start(cloud_dir, &error);
	g_autofree char *extra = NULL, *key = NULL, *cert = NULL, *cert_path = NULL, *key_path = NULL;
	g_autofree char *out = NULL, *err = NULL, *log = NULL;
	gboolean acked = FALSE;

	g_assert_no_error(error);
	hub_test_env_install_plugin(env, "certhandlers/file/.libs/certstore-file.so", "certstore-file.so", 0755);
	hub_test_env_install_plugin(env, "plugins/transport-mqtt/.libs/mqtt.so", "mqtt.so", 0755);
	/* The cloudsim ACL confines a client to north/<client id>/# and south/<client id>/#. */
	extra = g_strdup_printf("plugins=virtual,file,mqtt\n\n[certificates]\npermanent=file\nroot-ca=file\n\n"
				"[plugin.file]\nroot-ca=%s\n\n[cloud]\ntransport=mqtt\nbackoff-base-ms=50\n"
				"backoff-cap-ms=300\nconnect-interval-ms=20\n\n[plugin.mqtt]\nhost=127.0.0.1\nport=%u\n"
				"client-certificate=true\nclient-id=hub-mqtt-1\ntopic-prefix=north/hub-mqtt-1\n",
				hub_cloudsim_ca_path(sim), hub_cloudsim_port(sim));
	hub_test_env_write_config(env, extra, DEVICES);
	hub_test_env_start_hubd(env);

	/* No certificate yet: waited for, then used. */
	cert = hub_cloudsim_issue_client(sim, "hub-mqtt-1", &key);
	cert_path = hub_test_env_path(env, "hub.crt");
	key_path = hub_test_env_path(env, "hub.key");
	g_assert_true(g_file_set_contents(cert_path, cert, -1, NULL));
	g_assert_true(g_file_set_contents(key_path, key, -1, NULL));
	g_assert_cmpint(g_chmod(key_path, 0600), ==, 0);
	g_assert_cmpint(hub_test_env_hubctl(env, &out, &err, "cert", "import", "permanent", "--cert", cert_path, "--key",
					    key_path, NULL), ==, 0);
	wait_connection(env, "connected", NULL);
	/* Published after its SUBSCRIBEs: from now on a command reaches it. */
	g_assert_true(hub_cloudsim_wait_uplink(sim, 1, TIMEOUT_MS));
	log = hub_cloudsim_read_log(sim);
	g_assert_nonnull(strstr(log, "as hub-mqtt-1 (p2, c1"));
	g_assert_nonnull(strstr(log, "u'hub-mqtt-1'"));

	g_assert_true(hub_cloudsim_send(sim, "north/hub-mqtt-1/command", COMMAND, strlen(COMMAND)));
	for (guint i = 0; i < TIMEOUT_MS / 20 && !acked; i++) {
		g_autoptr(GPtrArray) messages = hub_cloudsim_uplink(sim, 0);

		for (guint m = 0; m < messages->len && !acked; m++) {
			HubCloudsimMessage *message = g_ptr_array_index(messages, m);

			acked = g_str_equal(message->topic, "north/hub-mqtt-1/command/response") &&
				strstr(message->payload, "\"mqtt-1\"") != NULL;
		}
		if (!acked)
			g_usleep(20 * 1000);
	}
	g_assert_true(acked);
	g_assert_cmpuint(hub_cloudsim_uplink_count(sim), >=, 3);
	hub_test_env_stop_hubd(env);
}

/* ---- bad configuration ---- */

static void test_bad_config(void)
{
	const struct {
		const char *plugin_config;
		const char *message;
	} cases[] = {
		{ "port=1883\n", "host must name the broker" },
		{ "host=127.0.0.1\ntls=false\nclient-certificate=true\n", "needs tls=true" },
		{ "host=127.0.0.1\ntopic-prefix=hubs/#\n", "topic-prefix must be" },
		{ "host=127.0.0.1\nport=99999\n", "port must be 1-65535" },
		{ "host=127.0.0.1\nusername=u\npassword-file=/nonexistent/pw\n", "password-file" },
		{ "host=127.0.0.1\nkeepalive=5\n", "keepalive must be 30-1200" },
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(HubTestEnv) env = hub_test_env_new();
		g_autofree char *extra = g_strdup_printf("plugins=virtual,mqtt\n\n[cloud]\ntransport=mqtt\n\n[plugin.mqtt]\n%s",
							 cases[i].plugin_config);
		g_autofree char *log = NULL;
		g_autoptr(JsonObject) status = NULL;

		hub_test_env_install_plugin(env, "plugins/transport-mqtt/.libs/mqtt.so", "mqtt.so", 0755);
		hub_test_env_write_config(env, extra, DEVICES);
		hub_test_env_start_hubd(env);
		/* The hub runs on; the cloud is off and says why. */
		status = cloud_status(env);
		g_assert_nonnull(strstr(json_object_get_string_member(status, "failureReason"), "not loaded"));
		log = hub_test_env_read_log(env);
		if (!strstr(log, cases[i].message))
			g_error("case %u: \"%s\" not in the log:\n%s", i, cases[i].message, log);
		hub_test_env_stop_hubd(env);
	}
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	if (!hub_test_broker_available())
		g_error("mosquitto is required (.ci/install-deps installs it)");
	g_test_add_func("/transport-mqtt/plain-password", test_plain_password);
	g_test_add_func("/transport-mqtt/tls-password", test_tls_password);
	g_test_add_func("/transport-mqtt/tls-client-certificate", test_tls_client_certificate);
	g_test_add_func("/transport-mqtt/bad-config", test_bad_config);
	return g_test_run();
}
