/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-provisioning-baseline.c - fleet provisioning by claim with bare
 * libmosquitto calls (bench-provisioning-baseline.h). Each step runs
 * mosquitto_loop() until its answer arrives, the way a small client without
 * an event loop would.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <json-glib/json-glib.h>
#include <mosquitto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "bench-common.h"
#include "bench-provisioning-baseline.h"
#include "hub-openssl.h" /* g_autoptr() for OpenSSL types only */

#define HOST "127.0.0.1"
#define KEEPALIVE_S 300
#define STEP_TIMEOUT_NS (G_GINT64_CONSTANT(10) * 1000000000)
#define CSR_TOPIC "$aws/certificates/create-from-csr/json"
#define REGISTER_TOPIC "$aws/provisioning-templates/" HUB_CLOUDSIM_DEFAULT_TEMPLATE "/provision/json"

#define BARE_ERROR (g_quark_from_static_string("bench-bare-provision"))

/* What the callbacks saw. */
typedef struct {
	gboolean connacked;
	gint64 connack_ns;
	int connack_rc;
	int sub_mid;
	gboolean subacked;
	gboolean sub_refused;
	const char *request_topic; /* answers come on request_topic + "/accepted" or "/rejected" */
	gboolean answered;
	char *answer_topic;
	char *answer;
} Client;

static void client_clear(Client *client)
{
	client->answered = FALSE;
	g_clear_pointer(&client->answer_topic, g_free);
	g_clear_pointer(&client->answer, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Client, client_clear)

typedef struct mosquitto BareMqtt;

static void bare_mqtt_free(BareMqtt *mosq)
{
	if (!mosq)
		return;
	/* Outside a callback libmosquitto writes the DISCONNECT at once. */
	mosquitto_disconnect(mosq);
	mosquitto_destroy(mosq);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(BareMqtt, bare_mqtt_free)

static void on_connect(struct mosquitto *mosq, void *data, int rc)
{
	Client *client = data;

	client->connack_ns = bench_now_ns();
	client->connacked = TRUE;
	client->connack_rc = rc;
}

static void on_subscribe(struct mosquitto *mosq, void *data, int mid, int count, const int *granted)
{
	Client *client = data;

	if (mid != client->sub_mid)
		return;
	client->subacked = TRUE;
	for (int i = 0; i < count; i++)
		client->sub_refused |= granted[i] >= 0x80;
}

static void on_message(struct mosquitto *mosq, void *data, const struct mosquitto_message *message)
{
	Client *client = data;

	/* The first answer to the pending request; anything else is noise. */
	if (client->answered || !client->request_topic || !g_str_has_prefix(message->topic, client->request_topic))
		return;
	client->answered = TRUE;
	client->answer_topic = g_strdup(message->topic);
	client->answer = g_strndup(message->payload, (gsize)MAX(message->payloadlen, 0));
}

/* Runs the client until *@done or STEP_TIMEOUT_NS. */
static gboolean run_until(BareMqtt *mosq, const gboolean *done, const char *what, GError **error)
{
	gint64 deadline = bench_now_ns() + STEP_TIMEOUT_NS;

	while (!*done) {
		int rc = mosquitto_loop(mosq, 100, 1);

		if (rc != MOSQ_ERR_SUCCESS) {
			g_set_error(error, BARE_ERROR, 0, "%s: %s", what, mosquitto_strerror(rc));
			return FALSE;
		}
		if (!*done && bench_now_ns() > deadline) {
			g_set_error(error, BARE_ERROR, 0, "%s: nothing within 10 s", what);
			return FALSE;
		}
	}
	return TRUE;
}

static gpointer lib_init(gpointer data)
{
	mosquitto_lib_init();
	return NULL;
}

static BareMqtt *client_new(const char *client_id, Client *client, GError **error)
{
	static GOnce once = G_ONCE_INIT;
	BareMqtt *mosq;

	g_once(&once, lib_init, NULL);
	mosq = mosquitto_new(client_id, true, client);
	if (!mosq) {
		g_set_error(error, BARE_ERROR, 0, "mosquitto_new: %s", g_strerror(errno));
		return NULL;
	}
	mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
	/* Without it TLS 1.3 tickets and Nagle add ~40 ms to the connect. */
	mosquitto_int_option(mosq, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_connect_callback_set(mosq, on_connect);
	mosquitto_subscribe_callback_set(mosq, on_subscribe);
	mosquitto_message_callback_set(mosq, on_message);
	return mosq;
}

static gboolean connect_client(BareMqtt *mosq, Client *client, guint16 port, GError **error)
{
	int rc = mosquitto_connect(mosq, HOST, port, KEEPALIVE_S);

	if (rc != MOSQ_ERR_SUCCESS) {
		g_set_error(error, BARE_ERROR, 0, "connect: %s", mosquitto_strerror(rc));
		return FALSE;
	}
	if (!run_until(mosq, &client->connacked, "waiting for CONNACK", error))
		return FALSE;
	if (client->connack_rc != 0) {
		g_set_error(error, BARE_ERROR, 0, "the broker refused the connection: %s",
			    mosquitto_connack_string(client->connack_rc));
		return FALSE;
	}
	return TRUE;
}

static void set_openssl_error(GError **error, const char *what)
{
	g_set_error(error, BARE_ERROR, 0, "%s: %s", what, ERR_error_string(ERR_get_error(), NULL));
	ERR_clear_error();
}

/* An EC P-256 key (*@key_out) and a CSR with CN=@serial as PEM (g_free). */
static char *make_csr(const char *serial, EVP_PKEY **key_out, GError **error)
{
	g_autoptr(EVP_PKEY) key = EVP_EC_gen("P-256");
	g_autoptr(X509_REQ) req = X509_REQ_new();
	g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
	char *data = NULL;
	long len;

	if (!key || !req || !bio || !X509_REQ_set_version(req, 0) ||
	    !X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_UTF8,
					(const unsigned char *)serial, -1, -1, 0) ||
	    !X509_REQ_set_pubkey(req, key) || !X509_REQ_sign(req, key, EVP_sha256()) ||
	    !PEM_write_bio_X509_REQ(bio, req)) {
		set_openssl_error(error, "making the key and CSR");
		return NULL;
	}
	len = BIO_get_mem_data(bio, &data);
	*key_out = g_steal_pointer(&key);
	return g_strndup(data, (gsize)len);
}

static char *to_json(JsonBuilder *builder)
{
	g_autoptr(JsonNode) root = json_builder_get_root(builder);
	g_autoptr(JsonGenerator) generator = json_generator_new();

	json_generator_set_root(generator, root);
	return json_generator_to_data(generator, NULL);
}

static const char *string_member(JsonObject *object, const char *name)
{
	JsonNode *node = json_object_get_member(object, name);

	if (!node || !JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING)
		return NULL;
	return json_node_get_string(node);
}

/* Subscribes to @topic's accepted and rejected topics, publishes @payload to
 * @topic and waits for the answer. Returns the accepted answer (owned by
 * @parser), or NULL with the rejection's errorCode and errorMessage. */
static JsonObject *call(BareMqtt *mosq, Client *client, const char *topic, const char *payload, JsonParser *parser,
			GError **error)
{
	g_autofree char *accepted = g_strconcat(topic, "/accepted", NULL);
	g_autofree char *rejected = g_strconcat(topic, "/rejected", NULL);
	char *const topics[] = { accepted, rejected };
	g_autofree char *waiting = NULL;
	JsonObject *object;
	JsonNode *root;
	int rc;

	client_clear(client);
	client->request_topic = topic;
	client->subacked = client->sub_refused = FALSE;
	/* An answer reaches only subscriptions that exist when it is sent: wait for the SUBACK. */
	rc = mosquitto_subscribe_multiple(mosq, &client->sub_mid, G_N_ELEMENTS(topics), topics, 1, 0, NULL);
	if (rc != MOSQ_ERR_SUCCESS) {
		g_set_error(error, BARE_ERROR, 0, "subscribing to %s: %s", accepted, mosquitto_strerror(rc));
		return NULL;
	}
	if (!run_until(mosq, &client->subacked, "waiting for SUBACK", error))
		return NULL;
	if (client->sub_refused) {
		g_set_error(error, BARE_ERROR, 0, "the broker refused the subscription to %s", accepted);
		return NULL;
	}
	rc = mosquitto_publish(mosq, NULL, topic, (int)strlen(payload), payload, 1, false);
	if (rc != MOSQ_ERR_SUCCESS) {
		g_set_error(error, BARE_ERROR, 0, "publishing to %s: %s", topic, mosquitto_strerror(rc));
		return NULL;
	}
	waiting = g_strdup_printf("waiting for the answer to %s", topic);
	if (!run_until(mosq, &client->answered, waiting, error) ||
	    !json_parser_load_from_data(parser, client->answer, -1, error))
		return NULL;
	root = json_parser_get_root(parser);
	if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
		g_set_error(error, BARE_ERROR, 0, "the answer on %s is not a JSON object", client->answer_topic);
		return NULL;
	}
	object = json_node_get_object(root);
	if (g_str_equal(client->answer_topic, rejected)) {
		const char *code = string_member(object, "errorCode");
		const char *message = string_member(object, "errorMessage");

		g_set_error(error, BARE_ERROR, 0, "%s rejected: %s: %s", topic, code ? code : "?",
			    message ? message : "?");
		return NULL;
	}
	return object;
}

/* Steps 2 and 3: the new certificate (PEM, g_free) and *@thing_name (g_free). */
static char *claim_certificate(HubCloudsim *sim, const char *serial, const char *upc, const char *csr,
			       char **thing_name, GError **error)
{
	g_autofree char *client_id = g_strdup_printf("claim-%s", serial);
	g_autoptr(JsonParser) csr_parser = json_parser_new();
	g_autoptr(JsonParser) register_parser = json_parser_new();
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autofree char *payload = NULL;
	g_auto(Client) client = { 0 };
	g_autoptr(BareMqtt) mosq = client_new(client_id, &client, error);
	JsonObject *certificate, *thing;
	const char *pem, *token, *name;
	int rc;

	if (!mosq)
		return NULL;
	rc = mosquitto_tls_set(mosq, hub_cloudsim_ca_path(sim), NULL, hub_cloudsim_claim_cert_path(sim),
			       hub_cloudsim_claim_key_path(sim), NULL);
	if (rc != MOSQ_ERR_SUCCESS) {
		g_set_error(error, BARE_ERROR, 0, "mosquitto_tls_set: %s", mosquitto_strerror(rc));
		return NULL;
	}
	if (!connect_client(mosq, &client, hub_cloudsim_port(sim), error))
		return NULL;

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "certificateSigningRequest");
	json_builder_add_string_value(builder, csr);
	json_builder_end_object(builder);
	payload = to_json(builder);
	certificate = call(mosq, &client, CSR_TOPIC, payload, csr_parser, error);
	if (!certificate)
		return NULL;
	pem = string_member(certificate, "certificatePem");
	token = string_member(certificate, "certificateOwnershipToken");
	if (!pem || !token) {
		g_set_error(error, BARE_ERROR, 0, "CreateCertificateFromCsr: no certificatePem or ownership token");
		return NULL;
	}

	json_builder_reset(builder);
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "certificateOwnershipToken");
	json_builder_add_string_value(builder, token);
	json_builder_set_member_name(builder, "parameters");
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "SerialNumber");
	json_builder_add_string_value(builder, serial);
	json_builder_set_member_name(builder, "UPC");
	json_builder_add_string_value(builder, upc);
	json_builder_end_object(builder);
	json_builder_end_object(builder);
	g_free(payload);
	payload = to_json(builder);
	thing = call(mosq, &client, REGISTER_TOPIC, payload, register_parser, error);
	if (!thing)
		return NULL;
	name = string_member(thing, "thingName");
	if (!name) {
		g_set_error(error, BARE_ERROR, 0, "RegisterThing: no thingName");
		return NULL;
	}
	*thing_name = g_strdup(name);
	return g_strdup(pem);
}

/* The certificate the cloud issued and our key, trusting only the cloud's CA
 * and checking the broker's address: libmosquitto checks nothing on a
 * context it is given. */
static SSL_CTX *permanent_context(const char *ca_path, const char *cert_pem, EVP_PKEY *key, GError **error)
{
	g_autoptr(SSL_CTX) ctx = SSL_CTX_new(TLS_client_method());
	g_autoptr(BIO) bio = BIO_new_mem_buf(cert_pem, -1);
	g_autoptr(X509) leaf = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;

	if (!ctx || !leaf || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    !SSL_CTX_load_verify_file(ctx, ca_path) || !X509_VERIFY_PARAM_set1_ip_asc(SSL_CTX_get0_param(ctx), HOST) ||
	    !SSL_CTX_use_certificate(ctx, leaf) || !SSL_CTX_use_PrivateKey(ctx, key) ||
	    !SSL_CTX_check_private_key(ctx)) {
		set_openssl_error(error, "building the TLS context");
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return g_steal_pointer(&ctx);
}

/* Step 4: connected as the thing; the time of its CONNACK in *@connack_ns. */
static gboolean connect_as_thing(HubCloudsim *sim, const char *thing_name, const char *cert_pem, EVP_PKEY *key,
				 gint64 *connack_ns, GError **error)
{
	g_autoptr(SSL_CTX) ctx = permanent_context(hub_cloudsim_ca_path(sim), cert_pem, key, error);
	g_auto(Client) client = { 0 };
	g_autoptr(BareMqtt) mosq = NULL;
	int rc;

	if (!ctx || !(mosq = client_new(thing_name, &client, error)))
		return FALSE;
	mosquitto_int_option(mosq, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 0);
	rc = mosquitto_void_option(mosq, MOSQ_OPT_SSL_CTX, ctx);
	if (rc != MOSQ_ERR_SUCCESS) {
		g_set_error(error, BARE_ERROR, 0, "MOSQ_OPT_SSL_CTX: %s", mosquitto_strerror(rc));
		return FALSE;
	}
	if (!connect_client(mosq, &client, hub_cloudsim_port(sim), error))
		return FALSE;
	*connack_ns = client.connack_ns;
	return TRUE;
}

double bench_bare_provision_ms(HubCloudsim *sim, const char *serial, const char *upc)
{
	gint64 start_ns = bench_now_ns();
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) key = NULL;
	g_autofree char *csr = make_csr(serial, &key, &error);
	g_autofree char *thing_name = NULL;
	g_autofree char *certificate = NULL;
	gint64 connack_ns = 0;

	if (csr)
		certificate = claim_certificate(sim, serial, upc, csr, &thing_name, &error);
	if (!certificate || !connect_as_thing(sim, thing_name, certificate, key, &connack_ns, &error)) {
		g_printerr("bare fleet provisioning of %s failed: %s\n", serial, error->message);
		return -1;
	}
	return (double)(connack_ns - start_ns) / 1e6;
}
