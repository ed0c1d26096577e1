/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-cloudsim.c - the test cloud against real MQTT clients: fleet
 * provisioning by claim (CreateCertificateFromCsr and
 * CreateKeysAndCertificate, then RegisterThing), every rejection with
 * statusCode/errorCode/errorMessage, throttling, the broker's
 * AWS-IoT-like policies for device and claim identities, offboarding
 * (DeleteManagedThing on south/<thing>/control, OFFBOARDED reports on
 * north/<client id>/lifecycle), hostile and held replies, and a broker that
 * goes away and comes back on the same port.
 */
#include "config.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "hub-cloudsim.h"
#include "hub-csr.h"
#include "hub-error.h"
#include "hub-openssl.h"
#include "hub-test-broker.h"
#include "hub-test-env.h"
#include "hub-test-mqtt.h"
#include "hub-test-pki.h"

#define TIMEOUT_MS 5000
/* How long a message that must not arrive is waited for. */
#define ABSENT_MS 400

#define CSR_TOPIC  "$aws/certificates/create-from-csr/json"
#define KEYS_TOPIC "$aws/certificates/create/json"
#define PROVISION_TOPIC(template) "$aws/provisioning-templates/" template "/provision/json"
#define DEFAULT_PROVISION_TOPIC PROVISION_TOPIC(HUB_CLOUDSIM_DEFAULT_TEMPLATE)

static struct {
	char *tmpdir;
	HubCloudsim *sim;
} world;

static void chain_free(STACK_OF(X509) *chain)
{
	sk_X509_pop_free(chain, X509_free);
}

static SSL_CTX *context_for(const char *cert_pem, const char *key_pem)
{
	return hub_cloudsim_client_context(world.sim, cert_pem, key_pem);
}

/* A connected client with credentials from PEM text. */
static HubTestMqtt *connect_pem(const char *client_id, const char *cert_pem, const char *key_pem, int protocol)
{
	g_autoptr(SSL_CTX) ctx = context_for(cert_pem, key_pem);
	g_autoptr(GError) error = NULL;
	HubTestMqtt *client = hub_test_mqtt_new(client_id, ctx, protocol);

	hub_test_mqtt_connect(client, "127.0.0.1", hub_cloudsim_port(world.sim), TIMEOUT_MS, &error);
	g_assert_no_error(error);
	return client;
}

/* A connected client with the claim certificate from its files. */
static HubTestMqtt *connect_claim(const char *client_id)
{
	g_autofree char *cert = NULL;
	g_autofree char *key = NULL;
	GStatBuf st;

	g_assert_cmpint(g_stat(hub_cloudsim_claim_key_path(world.sim), &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0600);
	g_assert_true(g_file_get_contents(hub_cloudsim_claim_cert_path(world.sim), &cert, NULL, NULL));
	g_assert_true(g_file_get_contents(hub_cloudsim_claim_key_path(world.sim), &key, NULL, NULL));
	return connect_pem(client_id, cert, key, MQTT_PROTOCOL_V311);
}

/* A connected client with a fresh certificate CN=@cn from the cloud's CA. */
static HubTestMqtt *connect_identity(const char *client_id, const char *cn, int protocol)
{
	g_autofree char *key = NULL;
	g_autofree char *cert = hub_cloudsim_issue_client(world.sim, cn, &key);

	return connect_pem(client_id, cert, key, protocol);
}

static void subscribe(HubTestMqtt *client, const char *topic)
{
	g_autoptr(GError) error = NULL;

	hub_test_mqtt_subscribe(client, topic, TIMEOUT_MS, &error);
	g_assert_no_error(error);
}

static void publish(HubTestMqtt *client, const char *topic, const char *payload)
{
	g_autoptr(GError) error = NULL;

	hub_test_mqtt_publish(client, topic, payload, TIMEOUT_MS, &error);
	g_assert_no_error(error);
}

/* Subscribes to @topic/accepted and /rejected. */
static void subscribe_replies(HubTestMqtt *client, const char *topic)
{
	g_autofree char *accepted = g_strconcat(topic, "/accepted", NULL);
	g_autofree char *rejected = g_strconcat(topic, "/rejected", NULL);

	subscribe(client, accepted);
	subscribe(client, rejected);
}

/* Publishes @payload to @topic and returns the parsed reply on
 * @topic/@outcome ("accepted" or "rejected"). */
static JsonObject *request(HubTestMqtt *client, const char *topic, const char *payload, const char *outcome)
{
	g_autofree char *reply_topic = g_strconcat(topic, "/", outcome, NULL);
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error = NULL;
	g_autofree char *reply = NULL;

	publish(client, topic, payload);
	reply = hub_test_mqtt_wait_message(client, reply_topic, TIMEOUT_MS, &error);
	g_test_message("%s: %s", reply_topic, reply);
	g_assert_no_error(error);
	g_assert_true(json_parser_load_from_data(parser, reply, -1, &error));
	g_assert_no_error(error);
	g_assert_true(JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)));
	return json_object_ref(json_node_get_object(json_parser_get_root(parser)));
}

static void assert_rejected(HubTestMqtt *client, const char *topic, const char *payload, gint64 status,
			    const char *code)
{
	g_autoptr(JsonObject) reply = request(client, topic, payload, "rejected");

	g_assert_cmpint(json_object_get_int_member(reply, "statusCode"), ==, status);
	g_assert_cmpstr(json_object_get_string_member(reply, "errorCode"), ==, code);
	g_assert_cmpuint(strlen(json_object_get_string_member(reply, "errorMessage")), >, 0);
}

static char *json_string(JsonBuilder *builder)
{
	g_autoptr(JsonNode) root = json_builder_get_root(builder);

	return json_to_string(root, FALSE);
}

static char *csr_request(const char *csr)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "certificateSigningRequest");
	json_builder_add_string_value(builder, csr);
	json_builder_end_object(builder);
	return json_string(builder);
}

static char *provision_request(const char *token, const char *serial_key, const char *serial, const char *code_key,
			       const char *code)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "certificateOwnershipToken");
	json_builder_add_string_value(builder, token);
	json_builder_set_member_name(builder, "parameters");
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, serial_key);
	json_builder_add_string_value(builder, serial);
	json_builder_set_member_name(builder, code_key);
	json_builder_add_string_value(builder, code);
	json_builder_end_object(builder);
	json_builder_end_object(builder);
	return json_string(builder);
}

/* Checks that @pem is a clientAuth certificate the cloud's CA issued for
 * @key, with the certificate id AWS would give it. */
static void assert_issued(const char *pem, const char *certificate_id, EVP_PKEY *key)
{
	g_autoptr(BIO) bio = BIO_new_mem_buf(pem, -1);
	g_autoptr(X509) cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	g_autoptr(X509_STORE) store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	g_autofree char *ca_pem = NULL;
	STACK_OF(X509) *anchors;
	unsigned char *der = NULL;
	g_autofree char *id = NULL;
	int len;

	g_assert_nonnull(cert);
	g_assert_true(g_file_get_contents(hub_cloudsim_ca_path(world.sim), &ca_pem, NULL, NULL));
	anchors = hub_test_pem_to_chain(ca_pem);
	g_assert_cmpint(X509_STORE_add_cert(store, sk_X509_value(anchors, 0)), ==, 1);
	g_assert_cmpint(X509_STORE_CTX_init(ctx, store, cert, NULL), ==, 1);
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
	g_assert_cmpint(X509_verify_cert(ctx), ==, 1);
	X509_STORE_CTX_free(ctx);
	chain_free(anchors);
	g_assert_cmpint(EVP_PKEY_eq(X509_get0_pubkey(cert), key), ==, 1);
	len = i2d_X509(cert, &der);
	id = g_compute_checksum_for_data(G_CHECKSUM_SHA256, der, (gsize)len);
	OPENSSL_free(der);
	g_assert_cmpstr(id, ==, certificate_id);
}

static const HubCloudsimIssued *find_issued(GPtrArray *issued, const char *certificate_id)
{
	for (guint i = 0; i < issued->len; i++) {
		const HubCloudsimIssued *entry = g_ptr_array_index(issued, i);

		if (g_str_equal(entry->certificate_id, certificate_id))
			return entry;
	}
	return NULL;
}

/* The new identity works: own topics yes. */
static void assert_identity_works(const char *thing_name, const char *cert_pem, const char *key_pem)
{
	g_autoptr(HubTestMqtt) device = connect_pem(thing_name, cert_pem, key_pem, MQTT_PROTOCOL_V311);
	g_autofree char *south = g_strdup_printf("south/%s/control", thing_name);
	g_autofree char *sub = g_strdup_printf("south/%s/#", thing_name);
	g_autoptr(GError) error = NULL;
	g_autofree char *payload = NULL;

	subscribe(device, sub);
	publish(device, south, "{\"on\":true}");
	payload = hub_test_mqtt_wait_message(device, south, TIMEOUT_MS, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(payload, ==, "{\"on\":true}");
}

/* No message on @topic within ABSENT_MS. */
static void assert_no_message(HubTestMqtt *client, const char *topic)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *payload = hub_test_mqtt_wait_message(client, topic, ABSENT_MS, &error);

	g_assert_null(payload);
	g_assert_error(error, HUB_ERROR, HUB_ERROR_TIMEOUT);
}

/* The next message on @topic, parsed as a JSON object. */
static JsonObject *wait_json(HubTestMqtt *client, const char *topic)
{
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error = NULL;
	g_autofree char *payload = hub_test_mqtt_wait_message(client, topic, TIMEOUT_MS, &error);

	g_assert_no_error(error);
	g_test_message("%s: %s", topic, payload);
	g_assert_true(json_parser_load_from_data(parser, payload, -1, &error));
	g_assert_no_error(error);
	g_assert_true(JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)));
	return json_object_ref(json_node_get_object(json_parser_get_root(parser)));
}

/* Publishes @payload to @topic and returns the raw reply on @topic/accepted. */
static char *raw_request(HubTestMqtt *client, const char *topic, const char *payload)
{
	g_autofree char *reply_topic = g_strconcat(topic, "/accepted", NULL);
	g_autoptr(GError) error = NULL;
	char *reply;

	publish(client, topic, payload);
	reply = hub_test_mqtt_wait_message(client, reply_topic, TIMEOUT_MS, &error);
	g_assert_no_error(error);
	return reply;
}

static void assert_status(const HubCloudsimThing *thing, const char *expected)
{
	g_autofree char *status = hub_cloudsim_thing_status(world.sim, thing->managed_thing_id);

	g_assert_cmpstr(status, ==, expected);
}

/* Provisioning */

static void test_csr_register(void)
{
	const HubCloudsimThing *thing = hub_cloudsim_add_managed_thing(world.sim, "SN-CSR-0001", "012345678905");
	g_autoptr(HubTestMqtt) claim = connect_claim("claim-csr");
	g_autoptr(EVP_PKEY) key = hub_test_key_new("EC");
	g_autoptr(GError) error = NULL;
	g_autofree char *csr = hub_csr_create(key, "hub-csr", "SN-CSR-0001", &error);
	g_autofree char *body = NULL;
	g_autofree char *provision = NULL;
	g_autoptr(JsonObject) created = NULL;
	g_autoptr(JsonObject) registered = NULL;
	g_autoptr(GPtrArray) issued = NULL;
	g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
	const HubCloudsimIssued *entry;
	const char *token, *cert_pem, *id;
	JsonObject *config;
	char *key_pem_data = NULL;
	long key_pem_len;
	g_autofree char *key_pem = NULL;
	guint before = hub_cloudsim_accepted(world.sim, HUB_CLOUDSIM_API_REGISTER_THING);

	g_assert_no_error(error);
	subscribe_replies(claim, CSR_TOPIC);
	subscribe_replies(claim, DEFAULT_PROVISION_TOPIC);
	body = csr_request(csr);
	created = request(claim, CSR_TOPIC, body, "accepted");
	g_assert_false(json_object_has_member(created, "privateKey"));
	id = json_object_get_string_member(created, "certificateId");
	cert_pem = json_object_get_string_member(created, "certificatePem");
	token = json_object_get_string_member(created, "certificateOwnershipToken");
	g_assert_cmpuint(strlen(token), >=, 32);
	assert_issued(cert_pem, id, key);

	provision = provision_request(token, "SerialNumber", "SN-CSR-0001", "UPC", "012345678905");
	registered = request(claim, DEFAULT_PROVISION_TOPIC, provision, "accepted");
	g_assert_cmpstr(json_object_get_string_member(registered, "thingName"), ==, thing->thing_name);
	config = json_object_get_object_member(registered, "deviceConfiguration");
	g_assert_nonnull(config);
	g_assert_cmpstr(json_object_get_string_member(config, "managedThingId"), ==, thing->managed_thing_id);
	g_assert_cmpstr(thing->managed_thing_id, !=, thing->thing_name);
	g_assert_cmpuint(hub_cloudsim_accepted(world.sim, HUB_CLOUDSIM_API_REGISTER_THING), ==, before + 1);

	issued = hub_cloudsim_issued(world.sim);
	entry = find_issued(issued, id);
	g_assert_nonnull(entry);
	g_assert_cmpint(entry->api, ==, HUB_CLOUDSIM_API_CREATE_FROM_CSR);
	g_assert_cmpstr(entry->thing_name, ==, thing->thing_name);
	g_assert_cmpstr(entry->managed_thing_id, ==, thing->managed_thing_id);

	/* The token is spent. */
	assert_rejected(claim, DEFAULT_PROVISION_TOPIC, provision, 400, "InvalidToken");

	g_assert_cmpint(PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL), ==, 1);
	key_pem_len = BIO_get_mem_data(bio, &key_pem_data);
	key_pem = g_strndup(key_pem_data, (gsize)key_pem_len);
	assert_identity_works(thing->thing_name, cert_pem, key_pem);
}

static void test_create_keys_register(void)
{
	const HubCloudsimThing *thing = hub_cloudsim_add_managed_thing(world.sim, "SN-KEYS-0002", "4006381333931");
	g_autoptr(HubTestMqtt) claim = connect_claim("claim-keys");
	g_autoptr(JsonObject) created = NULL;
	g_autoptr(JsonObject) registered = NULL;
	g_autoptr(EVP_PKEY) key = NULL;
	g_autofree char *provision = NULL;
	g_autoptr(GPtrArray) issued = NULL;
	const char *id, *cert_pem, *key_pem, *token;

	subscribe_replies(claim, KEYS_TOPIC);
	subscribe_replies(claim, DEFAULT_PROVISION_TOPIC);
	created = request(claim, KEYS_TOPIC, "{}", "accepted");
	id = json_object_get_string_member(created, "certificateId");
	cert_pem = json_object_get_string_member(created, "certificatePem");
	key_pem = json_object_get_string_member(created, "privateKey");
	token = json_object_get_string_member(created, "certificateOwnershipToken");
	key = hub_test_pem_to_key(key_pem);
	g_assert_nonnull(key);
	g_assert_cmpint(EVP_PKEY_get_base_id(key), ==, EVP_PKEY_EC);
	assert_issued(cert_pem, id, key);

	/* SN and EAN are accepted as well. */
	provision = provision_request(token, "SN", "SN-KEYS-0002", "EAN", "4006381333931");
	registered = request(claim, DEFAULT_PROVISION_TOPIC, provision, "accepted");
	g_assert_cmpstr(json_object_get_string_member(registered, "thingName"), ==, thing->thing_name);

	issued = hub_cloudsim_issued(world.sim);
	g_assert_cmpint(find_issued(issued, id)->api, ==, HUB_CLOUDSIM_API_CREATE_KEYS);
	g_assert_cmpstr(find_issued(issued, id)->thing_name, ==, thing->thing_name);
	assert_identity_works(thing->thing_name, cert_pem, key_pem);
}

static void test_rejected(void)
{
	g_autoptr(HubTestMqtt) claim = connect_claim("claim-rejected");
	g_autoptr(JsonObject) created = NULL;
	g_autofree char *bad_csr = csr_request("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE "
					       "REQUEST-----\n");
	g_autofree char *unknown_token = NULL;
	g_autofree char *unmatched = NULL;
	g_autofree char *wrong_template = NULL;
	const char *token;

	hub_cloudsim_add_managed_thing(world.sim, "SN-REJ-0003", "036000291452");
	subscribe_replies(claim, CSR_TOPIC);
	subscribe_replies(claim, KEYS_TOPIC);
	subscribe_replies(claim, DEFAULT_PROVISION_TOPIC);
	subscribe_replies(claim, PROVISION_TOPIC("no-such-template"));

	assert_rejected(claim, CSR_TOPIC, bad_csr, 400, "InvalidCSR");
	assert_rejected(claim, CSR_TOPIC, "{not json", 400, "InvalidPayload");
	assert_rejected(claim, CSR_TOPIC, "{}", 400, "InvalidPayload");
	assert_rejected(claim, KEYS_TOPIC, "[1,2", 400, "InvalidPayload");
	assert_rejected(claim, DEFAULT_PROVISION_TOPIC, "nope", 400, "InvalidPayload");

	unknown_token = provision_request("0123456789abcdef0123456789abcdef", "SerialNumber", "SN-REJ-0003", "UPC",
					  "036000291452");
	assert_rejected(claim, DEFAULT_PROVISION_TOPIC, unknown_token, 400, "InvalidToken");

	created = request(claim, KEYS_TOPIC, "{}", "accepted");
	token = json_object_get_string_member(created, "certificateOwnershipToken");
	wrong_template = provision_request(token, "SerialNumber", "SN-REJ-0003", "UPC", "036000291452");
	assert_rejected(claim, PROVISION_TOPIC("no-such-template"), wrong_template, 404, "ResourceNotFoundException");
	unmatched = provision_request(token, "SerialNumber", "SN-REJ-0003", "UPC", "999999999999");
	assert_rejected(claim, DEFAULT_PROVISION_TOPIC, unmatched, 403, "PreProvisioningHookFailed");

	/* The token survives rejections; another template name can be set. */
	hub_cloudsim_set_template(world.sim, "no-such-template");
	g_clear_pointer(&created, json_object_unref);
	created = request(claim, PROVISION_TOPIC("no-such-template"), wrong_template, "accepted");
	hub_cloudsim_set_template(world.sim, HUB_CLOUDSIM_DEFAULT_TEMPLATE);
	g_assert_cmpuint(hub_cloudsim_rejected(world.sim, HUB_CLOUDSIM_API_CREATE_FROM_CSR), >=, 3);
}

static void test_throttle(void)
{
	g_autoptr(HubTestMqtt) claim = connect_claim("claim-throttle");
	g_autoptr(JsonObject) created = NULL;
	guint count = hub_cloudsim_count(world.sim, HUB_CLOUDSIM_API_CREATE_KEYS);
	guint accepted = hub_cloudsim_accepted(world.sim, HUB_CLOUDSIM_API_CREATE_KEYS);
	guint rejected = hub_cloudsim_rejected(world.sim, HUB_CLOUDSIM_API_CREATE_KEYS);

	subscribe_replies(claim, KEYS_TOPIC);
	subscribe_replies(claim, CSR_TOPIC);
	hub_cloudsim_set_throttle(world.sim, HUB_CLOUDSIM_API_CREATE_KEYS, 2);
	assert_rejected(claim, KEYS_TOPIC, "{}", 429, "Throttling");
	assert_rejected(claim, KEYS_TOPIC, "{}", 429, "Throttling");
	created = request(claim, KEYS_TOPIC, "{}", "accepted");
	g_assert_cmpuint(hub_cloudsim_count(world.sim, HUB_CLOUDSIM_API_CREATE_KEYS), ==, count + 3);
	g_assert_cmpuint(hub_cloudsim_accepted(world.sim, HUB_CLOUDSIM_API_CREATE_KEYS), ==, accepted + 1);
	g_assert_cmpuint(hub_cloudsim_rejected(world.sim, HUB_CLOUDSIM_API_CREATE_KEYS), ==, rejected + 2);

	/* Per API: the CSR API is not throttled; throttled even if malformed. */
	hub_cloudsim_set_throttle(world.sim, HUB_CLOUDSIM_API_CREATE_FROM_CSR, 1);
	assert_rejected(claim, CSR_TOPIC, "garbage", 429, "Throttling");
	assert_rejected(claim, CSR_TOPIC, "garbage", 400, "InvalidPayload");
}

/* Offboarding */

/* A certificate and its ownership token from CreateKeysAndCertificate
 * (@claim is subscribed to its replies). */
static char *create_keys(HubTestMqtt *claim, char **cert_pem, char **key_pem)
{
	g_autoptr(JsonObject) created = request(claim, KEYS_TOPIC, "{}", "accepted");

	if (cert_pem)
		*cert_pem = g_strdup(json_object_get_string_member(created, "certificatePem"));
	if (key_pem)
		*key_pem = g_strdup(json_object_get_string_member(created, "privateKey"));
	return g_strdup(json_object_get_string_member(created, "certificateOwnershipToken"));
}

static void test_offboard_delete(void)
{
	const HubCloudsimThing *thing = hub_cloudsim_add_managed_thing(world.sim, "SN-DEL-0004", "725272730706");
	g_autoptr(HubTestMqtt) hub = connect_identity(thing->thing_name, "hub-del", MQTT_PROTOCOL_V311);
	g_autoptr(HubTestMqtt) claim = connect_claim("claim-delete");
	g_autofree char *control = g_strdup_printf("south/%s/control", thing->thing_name);
	g_autofree char *filter = g_strdup_printf("south/%s/#", thing->thing_name);
	g_autofree char *token = NULL;
	g_autofree char *provision = NULL;
	g_autoptr(JsonObject) message = NULL;
	g_autoptr(JsonObject) again = NULL;

	subscribe(hub, filter);
	subscribe_replies(claim, KEYS_TOPIC);
	subscribe_replies(claim, DEFAULT_PROVISION_TOPIC);
	assert_status(thing, HUB_CLOUDSIM_STATUS_PRE_ASSOCIATED);

	g_assert_true(hub_cloudsim_delete_managed_thing(world.sim, thing->managed_thing_id));
	message = wait_json(hub, control);
	g_assert_cmpuint(json_object_get_size(message), ==, 2);
	g_assert_cmpstr(json_object_get_string_member(message, "operation"), ==, "DeleteManagedThing");
	g_assert_cmpstr(json_object_get_string_member(message, "managedThingId"), ==, thing->managed_thing_id);
	assert_status(thing, HUB_CLOUDSIM_STATUS_DELETE_IN_PROGRESS);

	/* Asking again sends again; the thing stays until its hub reports. */
	g_assert_true(hub_cloudsim_delete_managed_thing(world.sim, thing->managed_thing_id));
	again = wait_json(hub, control);
	g_assert_cmpstr(json_object_get_string_member(again, "managedThingId"), ==, thing->managed_thing_id);
	assert_status(thing, HUB_CLOUDSIM_STATUS_DELETE_IN_PROGRESS);

	/* A thing being deleted cannot be provisioned. */
	token = create_keys(claim, NULL, NULL);
	provision = provision_request(token, "SerialNumber", "SN-DEL-0004", "UPC", "725272730706");
	assert_rejected(claim, DEFAULT_PROVISION_TOPIC, provision, 403, "PreProvisioningHookFailed");

	g_assert_false(hub_cloudsim_delete_managed_thing(world.sim, "mt-0000000000000000"));
	g_assert_null(hub_cloudsim_thing_status(world.sim, "mt-0000000000000000"));
}

static char *lifecycle_report(const char *event, const char *managed_thing_id)
{
	return g_strdup_printf("{\"event\":\"%s\",\"managedThingId\":\"%s\"}", event, managed_thing_id);
}

static void test_offboard_lifecycle(void)
{
	const char *serial = "SN-OFF-0005", *upc = "614141000036";
	const HubCloudsimThing *thing = hub_cloudsim_add_managed_thing(world.sim, serial, upc);
	const HubCloudsimThing *readded;
	g_autoptr(HubTestMqtt) claim = connect_claim("claim-offboard");
	g_autoptr(HubTestMqtt) hub = NULL;
	g_autoptr(HubTestMqtt) intruder = connect_identity("hub-intruder", "hub-intruder", MQTT_PROTOCOL_V311);
	g_autoptr(JsonObject) registered = NULL;
	g_autoptr(JsonObject) reregistered = NULL;
	g_autofree char *cert_pem = NULL;
	g_autofree char *key_pem = NULL;
	g_autofree char *token = NULL;
	g_autofree char *token2 = NULL;
	g_autofree char *provision = NULL;
	g_autofree char *provision2 = NULL;
	g_autofree char *lifecycle = g_strdup_printf("north/%s/lifecycle", thing->thing_name);
	g_autofree char *offboarded = lifecycle_report("OFFBOARDED", thing->managed_thing_id);
	g_autofree char *onboarded = lifecycle_report("ONBOARDED", thing->managed_thing_id);
	g_autofree char *unknown = lifecycle_report("OFFBOARDED", "mt-0000000000000000");
	g_autofree char *not_string = g_strdup("{\"event\":\"OFFBOARDED\",\"managedThingId\":42}");
	guint before = hub_cloudsim_offboarded(world.sim);
	guint ignored = hub_cloudsim_lifecycle_ignored(world.sim);

	subscribe_replies(claim, KEYS_TOPIC);
	subscribe_replies(claim, DEFAULT_PROVISION_TOPIC);
	token = create_keys(claim, &cert_pem, &key_pem);
	provision = provision_request(token, "SerialNumber", serial, "UPC", upc);
	registered = request(claim, DEFAULT_PROVISION_TOPIC, provision, "accepted");
	g_assert_cmpstr(json_object_get_string_member(registered, "thingName"), ==, thing->thing_name);
	assert_status(thing, HUB_CLOUDSIM_STATUS_ACTIVATED);

	/* Another hub cannot offboard this one's thing (the ACL keeps it on
	 * its own north/<client id>/ topics). */
	publish(intruder, "north/hub-intruder/lifecycle", offboarded);
	/* What the cloud does not act on. */
	hub = connect_pem(thing->thing_name, cert_pem, key_pem, MQTT_PROTOCOL_V311);
	publish(hub, lifecycle, "not json");
	publish(hub, lifecycle, "[\"OFFBOARDED\"]");
	publish(hub, lifecycle, onboarded);
	publish(hub, lifecycle, "{\"event\":\"OFFBOARDED\"}");
	publish(hub, lifecycle, unknown);
	publish(hub, lifecycle, not_string);
	/* The real thing, after those (one publisher: in order). */
	publish(hub, lifecycle, offboarded);
	g_assert_true(hub_cloudsim_wait_offboarded(world.sim, before + 1, TIMEOUT_MS));
	g_assert_cmpuint(hub_cloudsim_offboarded(world.sim), ==, before + 1);
	g_assert_cmpuint(hub_cloudsim_lifecycle_ignored(world.sim), ==, ignored + 7);
	assert_status(thing, NULL);
	g_assert_false(hub_cloudsim_delete_managed_thing(world.sim, thing->managed_thing_id));

	/* Deleted: RegisterThing for its SN/UPC is refused... */
	token2 = create_keys(claim, NULL, NULL);
	provision2 = provision_request(token2, "SerialNumber", serial, "UPC", upc);
	assert_rejected(claim, DEFAULT_PROVISION_TOPIC, provision2, 403, "PreProvisioningHookFailed");

	/* ...until the thing is added again, as a new one. The old pointer stays valid. */
	readded = hub_cloudsim_add_managed_thing(world.sim, serial, upc);
	g_assert_true(readded != thing);
	g_assert_cmpstr(thing->serial_number, ==, serial);
	g_assert_cmpstr(readded->managed_thing_id, !=, thing->managed_thing_id);
	g_assert_cmpstr(readded->thing_name, !=, thing->thing_name);
	assert_status(readded, HUB_CLOUDSIM_STATUS_PRE_ASSOCIATED);
	reregistered = request(claim, DEFAULT_PROVISION_TOPIC, provision2, "accepted");
	g_assert_cmpstr(json_object_get_string_member(reregistered, "thingName"), ==, readded->thing_name);
	g_assert_cmpstr(json_object_get_string_member(json_object_get_object_member(reregistered,
										     "deviceConfiguration"),
						      "managedThingId"),
			==, readded->managed_thing_id);
	assert_status(readded, HUB_CLOUDSIM_STATUS_ACTIVATED);
	assert_status(thing, NULL);

	/* A repeated report is counted and touches nothing else. */
	publish(hub, lifecycle, offboarded);
	g_assert_true(hub_cloudsim_wait_offboarded(world.sim, before + 2, TIMEOUT_MS));
	assert_status(readded, HUB_CLOUDSIM_STATUS_ACTIVATED);
}

/* Hostile and held replies */

static void test_set_reply(void)
{
	g_autoptr(HubTestMqtt) claim = connect_claim("claim-hostile");
	g_autoptr(GPtrArray) issued_before = hub_cloudsim_issued(world.sim);
	g_autoptr(GPtrArray) issued_after = NULL;
	g_autoptr(GString) huge = g_string_new("{\"certificatePem\":\"");
	const char *invalid = "{\"certificateId\": \"abc\", \"certificatePem\": ";
	g_autofree char *reply = NULL;
	g_autofree char *other_key = NULL;
	g_autofree char *other_cert = hub_cloudsim_issue_client(world.sim, "someone-else", &other_key);
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autofree char *mismatched = NULL;
	guint count = hub_cloudsim_count(world.sim, HUB_CLOUDSIM_API_CREATE_FROM_CSR);
	guint accepted = hub_cloudsim_accepted(world.sim, HUB_CLOUDSIM_API_CREATE_FROM_CSR);
	guint rejected = hub_cloudsim_rejected(world.sim, HUB_CLOUDSIM_API_CREATE_FROM_CSR);

	subscribe_replies(claim, CSR_TOPIC);
	subscribe_replies(claim, KEYS_TOPIC);
	subscribe_replies(claim, DEFAULT_PROVISION_TOPIC);

	/* Invalid JSON, verbatim, for a request that would be rejected. */
	hub_cloudsim_set_reply(world.sim, HUB_CLOUDSIM_API_CREATE_FROM_CSR, invalid);
	reply = raw_request(claim, CSR_TOPIC, "garbage");
	g_assert_cmpstr(reply, ==, invalid);
	assert_no_message(claim, CSR_TOPIC "/rejected");
	g_assert_cmpuint(hub_cloudsim_count(world.sim, HUB_CLOUDSIM_API_CREATE_FROM_CSR), ==, count + 1);
	g_assert_cmpuint(hub_cloudsim_accepted(world.sim, HUB_CLOUDSIM_API_CREATE_FROM_CSR), ==, accepted + 1);
	g_assert_cmpuint(hub_cloudsim_rejected(world.sim, HUB_CLOUDSIM_API_CREATE_FROM_CSR), ==, rejected);
	/* One-shot: the next request is handled normally. */
	assert_rejected(claim, CSR_TOPIC, "garbage", 400, "InvalidPayload");

	/* A megabyte. */
	for (guint i = 0; i < 16384; i++)
		g_string_append(huge, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	g_string_append(huge, "\"}");
	hub_cloudsim_set_reply(world.sim, HUB_CLOUDSIM_API_CREATE_KEYS, huge->str);
	g_clear_pointer(&reply, g_free);
	reply = raw_request(claim, KEYS_TOPIC, "{}");
	g_assert_cmpuint(strlen(reply), ==, huge->len);
	g_assert_cmpstr(reply, ==, huge->str);

	/* Well-formed, but a certificate for another key and a made-up token. */
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "certificateId");
	json_builder_add_string_value(builder, "0000");
	json_builder_set_member_name(builder, "certificatePem");
	json_builder_add_string_value(builder, other_cert);
	json_builder_set_member_name(builder, "certificateOwnershipToken");
	json_builder_add_string_value(builder, "made-up");
	json_builder_end_object(builder);
	mismatched = json_string(builder);
	hub_cloudsim_set_reply(world.sim, HUB_CLOUDSIM_API_CREATE_KEYS, mismatched);
	g_clear_pointer(&reply, g_free);
	reply = raw_request(claim, KEYS_TOPIC, "{}");
	g_assert_cmpstr(reply, ==, mismatched);

	/* Missing fields on RegisterThing; its request is not even looked at. */
	hub_cloudsim_set_reply(world.sim, HUB_CLOUDSIM_API_REGISTER_THING, "{}");
	g_clear_pointer(&reply, g_free);
	reply = raw_request(claim, DEFAULT_PROVISION_TOPIC, "nope");
	g_assert_cmpstr(reply, ==, "{}");

	/* None of them issued anything. */
	issued_after = hub_cloudsim_issued(world.sim);
	g_assert_cmpuint(issued_after->len, ==, issued_before->len);

	/* NULL cancels a pending reply. */
	hub_cloudsim_set_reply(world.sim, HUB_CLOUDSIM_API_CREATE_FROM_CSR, "never sent");
	hub_cloudsim_set_reply(world.sim, HUB_CLOUDSIM_API_CREATE_FROM_CSR, NULL);
	assert_rejected(claim, CSR_TOPIC, "garbage", 400, "InvalidPayload");
}

static void test_hold(void)
{
	const HubCloudsimApi api = HUB_CLOUDSIM_API_CREATE_KEYS;
	g_autoptr(HubTestMqtt) claim = connect_claim("claim-hold");
	g_autofree char *reply = NULL;
	g_autofree char *token = NULL;
	guint count = hub_cloudsim_count(world.sim, api);
	guint accepted = hub_cloudsim_accepted(world.sim, api);
	guint rejected = hub_cloudsim_rejected(world.sim, api);

	subscribe_replies(claim, KEYS_TOPIC);
	subscribe_replies(claim, CSR_TOPIC);
	hub_cloudsim_hold(world.sim, api, TRUE);
	/* A pending hostile reply is served even while held (one at a time)... */
	hub_cloudsim_set_reply(world.sim, api, "{\"served\":true}");
	reply = raw_request(claim, KEYS_TOPIC, "{}");
	g_assert_cmpstr(reply, ==, "{\"served\":true}");
	/* ... the requests after it are dropped. */
	publish(claim, KEYS_TOPIC, "{}");
	publish(claim, KEYS_TOPIC, "{}");
	/* The PUBACK came from the broker: the responder may not have them yet. */
	g_assert_true(hub_cloudsim_wait_count(world.sim, api, count + 3, TIMEOUT_MS));
	g_assert_false(hub_cloudsim_wait_count(world.sim, api, count + 4, ABSENT_MS));
	assert_no_message(claim, KEYS_TOPIC "/accepted");
	assert_no_message(claim, KEYS_TOPIC "/rejected");
	g_assert_cmpuint(hub_cloudsim_count(world.sim, api), ==, count + 3);
	g_assert_cmpuint(hub_cloudsim_accepted(world.sim, api), ==, accepted + 1);
	g_assert_cmpuint(hub_cloudsim_rejected(world.sim, api), ==, rejected);

	/* Other APIs still answer. */
	assert_rejected(claim, CSR_TOPIC, "garbage", 400, "InvalidPayload");

	/* Released: the dropped requests are not answered after all. */
	hub_cloudsim_hold(world.sim, api, FALSE);
	token = create_keys(claim, NULL, NULL);
	g_assert_nonnull(token);
	assert_no_message(claim, KEYS_TOPIC "/accepted");
	g_assert_cmpuint(hub_cloudsim_count(world.sim, api), ==, count + 4);
	g_assert_cmpuint(hub_cloudsim_accepted(world.sim, api), ==, accepted + 2);
}

/* The broker goes away */

/* Nothing accepts an MQTT connection on @port. */
static void assert_refused(guint16 port)
{
	g_autofree char *key = NULL;
	g_autofree char *cert = hub_cloudsim_issue_client(world.sim, "nobody", &key);
	g_autoptr(SSL_CTX) ctx = context_for(cert, key);
	g_autoptr(HubTestMqtt) client = hub_test_mqtt_new("nobody", ctx, MQTT_PROTOCOL_V311);
	g_autoptr(GError) error = NULL;

	g_assert_false(hub_test_mqtt_connect(client, "127.0.0.1", port, TIMEOUT_MS, &error));
	g_assert_error(error, HUB_ERROR, HUB_ERROR_FAILED);
}

static void test_broker_restart(void)
{
	const HubCloudsimThing *thing = hub_cloudsim_add_managed_thing(world.sim, "SN-RST-0006", "9780201379624");
	guint16 port = hub_cloudsim_port(world.sim);
	g_autoptr(HubTestMqtt) old = connect_claim("claim-before-restart");
	g_autoptr(HubTestMqtt) claim = NULL;
	g_autoptr(HubTestMqtt) hub = NULL;
	g_autoptr(JsonObject) registered = NULL;
	g_autoptr(JsonObject) control = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *payload = NULL;
	g_autofree char *token = NULL;
	g_autofree char *provision = NULL;
	g_autofree char *topic = g_strdup_printf("south/%s/control", thing->thing_name);
	g_autofree char *filter = g_strdup_printf("south/%s/#", thing->thing_name);

	subscribe_replies(old, KEYS_TOPIC);
	hub_cloudsim_restart(world.sim);
	g_assert_cmpuint(hub_cloudsim_port(world.sim), ==, port);
	/* Clients lost their connection... */
	payload = hub_test_mqtt_wait_message(old, KEYS_TOPIC "/accepted", TIMEOUT_MS, &error);
	g_assert_null(payload);
	g_assert_error(error, HUB_ERROR, HUB_ERROR_FAILED);
	g_clear_error(&error);
	/* ...and a new one is answered on the same port. */
	claim = connect_claim("claim-after-restart");
	subscribe_replies(claim, KEYS_TOPIC);
	token = create_keys(claim, NULL, NULL);

	/* Killed between CreateKeysAndCertificate and RegisterThing: nothing
	 * listens, then the cloud comes back with its state. */
	hub_cloudsim_broker_kill(world.sim);
	assert_refused(port);
	g_assert_true(hub_cloudsim_broker_start(world.sim));
	g_assert_cmpuint(hub_cloudsim_port(world.sim), ==, port);
	g_clear_pointer(&claim, hub_test_mqtt_free);
	claim = connect_claim("claim-after-kill");
	subscribe_replies(claim, DEFAULT_PROVISION_TOPIC);
	provision = provision_request(token, "SerialNumber", "SN-RST-0006", "UPC", "9780201379624");
	registered = request(claim, DEFAULT_PROVISION_TOPIC, provision, "accepted");
	g_assert_cmpstr(json_object_get_string_member(registered, "thingName"), ==, thing->thing_name);

	/* The responder publishes again too. */
	hub = connect_identity(thing->thing_name, "hub-rst", MQTT_PROTOCOL_V311);
	subscribe(hub, filter);
	g_assert_true(hub_cloudsim_delete_managed_thing(world.sim, thing->managed_thing_id));
	control = wait_json(hub, topic);
	g_assert_cmpstr(json_object_get_string_member(control, "managedThingId"), ==, thing->managed_thing_id);
}

/* Policies */

/* mosquitto's acl_file grants every SUBSCRIBE (it checks "read" when it
 * delivers each message), unlike AWS IoT, which refuses it: subscribing to
 * @filter is granted, but the message @publisher sends to @topic never
 * reaches @client. */
static void assert_subscription_useless(HubTestMqtt *client, const char *filter, HubTestMqtt *publisher,
					const char *topic)
{
	subscribe(client, filter);
	publish(publisher, topic, "not for you");
	assert_no_message(client, topic);
}

static void test_acl_device(void)
{
	g_autoptr(HubTestMqtt) a = connect_identity("dev-a", "device-a", MQTT_PROTOCOL_V311);
	g_autoptr(HubTestMqtt) b = connect_identity("dev-b", "device-b", MQTT_PROTOCOL_V311);
	g_autoptr(HubTestMqtt) a5 = NULL;
	g_autoptr(HubTestMqtt) observer = connect_identity("observer", HUB_CLOUDSIM_RESPONDER_CN, MQTT_PROTOCOL_V311);
	g_autoptr(GError) error = NULL;
	g_autofree char *payload = NULL;

	subscribe(observer, "north/#");
	subscribe(observer, "south/#");
	subscribe(a, "south/dev-a/#");
	subscribe(b, "south/dev-b/#");

	/* Own topics work both ways. */
	publish(a, "north/dev-a/state", "a1");
	payload = hub_test_mqtt_wait_message(observer, "north/dev-a/state", TIMEOUT_MS, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(payload, ==, "a1");
	g_clear_pointer(&payload, g_free);
	publish(observer, "south/dev-a/control", "c1");
	payload = hub_test_mqtt_wait_message(a, "south/dev-a/control", TIMEOUT_MS, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(payload, ==, "c1");
	g_clear_pointer(&payload, g_free);
	payload = hub_test_mqtt_wait_message(observer, "south/dev-a/control", TIMEOUT_MS, &error);
	g_assert_no_error(error);
	g_clear_pointer(&payload, g_free);

	/* A may not publish to B (3.1.1: PUBACK, but the broker drops it). */
	publish(a, "south/dev-b/control", "evil");
	assert_no_message(b, "south/dev-b/control");
	assert_no_message(observer, "south/dev-b/control");
	/* ...nor read B's topics, also not through a wildcard. */
	assert_subscription_useless(a, "south/dev-b/#", observer, "south/dev-b/control");
	assert_subscription_useless(a, "north/+/state", observer, "north/dev-b/state");
	assert_subscription_useless(a, "#", observer, "south/dev-b/status");
	assert_subscription_useless(a, "$aws/things/dev-b/#", observer, "$aws/things/dev-b/jobs/notify-next");
	payload = hub_test_mqtt_wait_message(b, "south/dev-b/control", TIMEOUT_MS, &error);
	g_assert_no_error(error);
	g_clear_pointer(&payload, g_free);
	/* Its own $aws/things tree is fine. */
	subscribe(a, "$aws/things/dev-a/jobs/notify-next");

	/* %u is the certificate's CN, not the client id. */
	subscribe(observer, "cn/#");
	publish(a, "cn/device-a/hello", "cn");
	payload = hub_test_mqtt_wait_message(observer, "cn/device-a/hello", TIMEOUT_MS, &error);
	g_assert_no_error(error);
	g_clear_pointer(&payload, g_free);
	publish(a, "cn/dev-a/hello", "id");
	assert_no_message(observer, "cn/dev-a/hello");

	/* MQTT 5 says so in the PUBACK. */
	a5 = connect_identity("dev-a5", "device-a", MQTT_PROTOCOL_V5);
	g_assert_false(hub_test_mqtt_publish(a5, "south/dev-b/control", "evil5", TIMEOUT_MS, &error));
	g_assert_error(error, HUB_ERROR, HUB_ERROR_ACCESS_DENIED);
	g_clear_error(&error);
	assert_no_message(b, "south/dev-b/control");

	/* B's own traffic still works. */
	publish(observer, "south/dev-b/control", "good");
	payload = hub_test_mqtt_wait_message(b, "south/dev-b/control", TIMEOUT_MS, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(payload, ==, "good");
}

static void test_acl_claim(void)
{
	/* Client id "x": the %c patterns alone would allow south/x/#. */
	g_autoptr(HubTestMqtt) claim = connect_claim("x");
	g_autoptr(HubTestMqtt) observer = connect_identity("observer2", HUB_CLOUDSIM_RESPONDER_CN, MQTT_PROTOCOL_V311);

	subscribe(observer, "south/#");
	subscribe(observer, "north/#");
	publish(claim, "south/x/control", "claim");
	assert_no_message(observer, "south/x/control");
	publish(claim, "north/x/state", "claim");
	assert_no_message(observer, "north/x/state");
	assert_subscription_useless(claim, "south/x/#", observer, "south/x/control");
	assert_subscription_useless(claim, "$aws/things/x/jobs/notify-next", observer, "$aws/things/x/jobs/notify-next");
	assert_subscription_useless(claim, "#", observer, "north/x/anything");
	/* It can only use the provisioning APIs. */
	subscribe_replies(claim, KEYS_TOPIC);
	subscribe_replies(claim, DEFAULT_PROVISION_TOPIC);
}

int main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	int rc;

	g_test_init(&argc, &argv, NULL);
	if (!hub_test_broker_available()) {
		g_printerr("mosquitto is not installed at %s\n", hub_test_broker_path());
		return 1;
	}
	world.tmpdir = g_dir_make_tmp("test-cloudsim-XXXXXX", &error);
	g_assert_no_error(error);
	world.sim = hub_cloudsim_start(world.tmpdir, &error);
	g_assert_no_error(error);

	g_test_add_func("/cloudsim/provision/csr", test_csr_register);
	g_test_add_func("/cloudsim/provision/create-keys", test_create_keys_register);
	g_test_add_func("/cloudsim/provision/rejected", test_rejected);
	g_test_add_func("/cloudsim/provision/throttle", test_throttle);
	g_test_add_func("/cloudsim/acl/device", test_acl_device);
	g_test_add_func("/cloudsim/acl/claim", test_acl_claim);
	g_test_add_func("/cloudsim/offboard/delete", test_offboard_delete);
	g_test_add_func("/cloudsim/offboard/lifecycle", test_offboard_lifecycle);
	g_test_add_func("/cloudsim/hostile/set-reply", test_set_reply);
	g_test_add_func("/cloudsim/hostile/hold", test_hold);
	/* Last: it takes the broker away. */
	g_test_add_func("/cloudsim/broker/restart", test_broker_restart);
	rc = g_test_run();

	hub_cloudsim_free(world.sim);
	hub_test_remove_tree(world.tmpdir);
	g_free(world.tmpdir);
	return rc;
}
