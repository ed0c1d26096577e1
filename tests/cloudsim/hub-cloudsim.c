/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <mosquitto.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "hub-cloudsim.h"
#include "hub-error.h"
#include "hub-openssl.h"
#include "hub-test-broker.h"
#include "hub-test-pki.h"
#include "hub-tls-context.h"

#define SUBSCRIBE_TIMEOUT_MS 5000
#define CERT_DAYS            365
/* How long mosquitto_loop() may block: the responder thread's stop latency. */
#define LOOP_TIMEOUT_MS      100
#define RECONNECT_MS         100
/* How long the responder may take to notice that the broker went away. */
#define DISCONNECT_TIMEOUT_MS 5000

#define TOPIC_CSR      "$aws/certificates/create-from-csr/json"
#define TOPIC_KEYS     "$aws/certificates/create/json"
#define TOPIC_TEMPLATE "$aws/provisioning-templates/"
#define TOPIC_PROVISION_SUFFIX "/provision/json"
#define TOPIC_NORTH    "north/"
#define TOPIC_LIFECYCLE_SUFFIX "/lifecycle"

/* What the responder subscribes to, after every (re)connect. */
static const char *const responder_topics[] = {
	TOPIC_CSR,
	TOPIC_KEYS,
	TOPIC_TEMPLATE "+" TOPIC_PROVISION_SUFFIX,
	TOPIC_NORTH "#",
};

/* A managed thing; deleted ones stay (status NULL) because tests hold
 * pointers to them. */
typedef struct {
	HubCloudsimThing pub; /* what hub_cloudsim_add_managed_thing() returns */
	const char *status;   /* HUB_CLOUDSIM_STATUS_*, NULL once deleted */
} Thing;

struct _HubCloudsim {
	char *dir;
	HubTestPki *pki;
	char *claim_cert_path;
	char *claim_key_path;
	char *acl_path;
	HubTestBroker *broker;
	struct mosquitto *responder;
	GThread *loop_thread;

	/* Everything below is shared with the responder thread. */
	GMutex lock;
	GCond cond;
	gint stopping; /* atomic: the loop also reads it without the lock */
	gboolean connected;
	guint subscribed;
	char *template_name;
	guint throttle[HUB_CLOUDSIM_N_APIS];
	gboolean held[HUB_CLOUDSIM_N_APIS];
	char *reply[HUB_CLOUDSIM_N_APIS];
	guint count[HUB_CLOUDSIM_N_APIS];
	guint accepted[HUB_CLOUDSIM_N_APIS];
	guint rejected[HUB_CLOUDSIM_N_APIS];
	guint offboarded;
	guint lifecycle_ignored;
	GPtrArray *issued;   /* HubCloudsimIssued * */
	GHashTable *tokens;  /* unused ownership token -> HubCloudsimIssued * (in @issued) */
	GPtrArray *things;   /* Thing *, oldest first, deleted ones included */
	GPtrArray *uplink;   /* HubCloudsimMessage *: what hubs published on north/#, in order */
	guint uplink_received; /* also those not recorded */
	guint64 uplink_bytes;  /* their payloads */
	gboolean count_only;  /* benchmarks: count, keep nothing */
};

/* Broker */

/* The AWS IoT policies as a mosquitto ACL. Patterns apply to every user;
 * "deny" lines are checked before grants (mosquitto >= 2.0), which keeps
 * the claim identity out of the device topics whatever client id it uses.
 * A "#" never matches a topic starting with '$', hence the "$aws/#" line. */
static const char acl_text[] = "# Written by hub-cloudsim: AWS IoT policies with ${iot:ClientId} = %c.\n"
			       "pattern readwrite south/%c/#\n"
			       "pattern readwrite north/%c/#\n"
			       "pattern readwrite $aws/things/%c/#\n"
			       "# %u is the certificate CN (use_identity_as_username); not an AWS\n"
			       "# policy variable, here to show how mosquitto substitutes it.\n"
			       "pattern readwrite cn/%u/#\n"
			       "\n"
			       "user " HUB_CLOUDSIM_CLAIM_CN "\n"
			       "topic deny south/#\n"
			       "topic deny north/#\n"
			       "topic deny $aws/things/#\n"
			       "topic deny cn/#\n"
			       "topic write " TOPIC_CSR "\n"
			       "topic read " TOPIC_CSR "/#\n"
			       "topic write " TOPIC_KEYS "\n"
			       "topic read " TOPIC_KEYS "/#\n"
			       "topic write " TOPIC_TEMPLATE "+/provision/json\n"
			       "topic read " TOPIC_TEMPLATE "+/provision/json/#\n"
			       "\n"
			       "user " HUB_CLOUDSIM_RESPONDER_CN "\n"
			       "topic readwrite #\n"
			       "topic readwrite $aws/#\n";

/* Records */

static void issued_free(gpointer data)
{
	HubCloudsimIssued *issued = data;

	g_free(issued->certificate_id);
	g_free(issued->certificate_pem);
	g_free(issued->thing_name);
	g_free(issued->managed_thing_id);
	g_free(issued);
}

static HubCloudsimIssued *issued_copy(const HubCloudsimIssued *issued)
{
	HubCloudsimIssued *copy = g_new0(HubCloudsimIssued, 1);

	copy->certificate_id = g_strdup(issued->certificate_id);
	copy->certificate_pem = g_strdup(issued->certificate_pem);
	copy->api = issued->api;
	copy->thing_name = g_strdup(issued->thing_name);
	copy->managed_thing_id = g_strdup(issued->managed_thing_id);
	return copy;
}

static void thing_free(gpointer data)
{
	Thing *thing = data;

	g_free(thing->pub.serial_number);
	g_free(thing->pub.product_code);
	g_free(thing->pub.managed_thing_id);
	g_free(thing->pub.thing_name);
	g_free(thing);
}

static char *random_hex(gsize bytes)
{
	g_autofree guchar *buf = g_malloc(bytes);
	GString *hex = g_string_sized_new(bytes * 2);

	g_assert_cmpint(RAND_bytes(buf, (int)bytes), ==, 1);
	for (gsize i = 0; i < bytes; i++)
		g_string_append_printf(hex, "%02x", buf[i]);
	return g_string_free(hex, FALSE);
}

/* The AWS certificate id: hex SHA-256 of the DER certificate. */
static char *certificate_id(const char *pem)
{
	g_autoptr(BIO) bio = BIO_new_mem_buf(pem, -1);
	g_autoptr(X509) cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	unsigned char *der = NULL;
	int len;
	char *id;

	g_assert_nonnull(cert);
	len = i2d_X509(cert, &der);
	g_assert_cmpint(len, >, 0);
	id = g_compute_checksum_for_data(G_CHECKSUM_SHA256, der, (gsize)len);
	OPENSSL_free(der);
	return id;
}

/* Records a new certificate and its ownership token (lock held). */
static HubCloudsimIssued *record_issued(HubCloudsim *sim, HubCloudsimApi api, char *pem, char **token)
{
	HubCloudsimIssued *issued = g_new0(HubCloudsimIssued, 1);

	issued->certificate_pem = pem;
	issued->certificate_id = certificate_id(pem);
	issued->api = api;
	g_ptr_array_add(sim->issued, issued);
	*token = random_hex(48);
	g_hash_table_insert(sim->tokens, g_strdup(*token), issued);
	return issued;
}

/* Responder */

static void publish_text(HubCloudsim *sim, const char *topic, const char *text)
{
	int rc = mosquitto_publish(sim->responder, NULL, topic, (int)strlen(text), text, 1, false);

	if (rc != MOSQ_ERR_SUCCESS)
		g_printerr("cloudsim: publishing to %s: %s\n", topic, mosquitto_strerror(rc));
}

static void publish_json(HubCloudsim *sim, const char *topic, JsonBuilder *builder)
{
	g_autoptr(JsonNode) root = json_builder_get_root(builder);
	g_autofree char *text = json_to_string(root, FALSE);

	publish_text(sim, topic, text);
}

static void reject(HubCloudsim *sim, HubCloudsimApi api, const char *request_topic, int status, const char *code,
		   const char *message)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autofree char *topic = g_strconcat(request_topic, "/rejected", NULL);

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "statusCode");
	json_builder_add_int_value(builder, status);
	json_builder_set_member_name(builder, "errorCode");
	json_builder_add_string_value(builder, code);
	json_builder_set_member_name(builder, "errorMessage");
	json_builder_add_string_value(builder, message);
	json_builder_end_object(builder);
	sim->rejected[api]++;
	publish_json(sim, topic, builder);
}

static void accept_certificate(HubCloudsim *sim, HubCloudsimApi api, const char *request_topic,
			       HubCloudsimIssued *issued, const char *private_key, const char *token)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autofree char *topic = g_strconcat(request_topic, "/accepted", NULL);

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "certificateId");
	json_builder_add_string_value(builder, issued->certificate_id);
	json_builder_set_member_name(builder, "certificatePem");
	json_builder_add_string_value(builder, issued->certificate_pem);
	if (private_key) {
		json_builder_set_member_name(builder, "privateKey");
		json_builder_add_string_value(builder, private_key);
	}
	json_builder_set_member_name(builder, "certificateOwnershipToken");
	json_builder_add_string_value(builder, token);
	json_builder_end_object(builder);
	sim->accepted[api]++;
	publish_json(sim, topic, builder);
}

/* The request's JSON object, or NULL after rejecting it with 400 InvalidPayload. */
static JsonObject *parse_request(HubCloudsim *sim, HubCloudsimApi api, const char *topic, const char *payload,
				 JsonParser *parser)
{
	g_autoptr(GError) error = NULL;
	JsonNode *root;

	if (!json_parser_load_from_data(parser, payload, -1, &error)) {
		g_autofree char *message = g_strdup_printf("The payload is not valid JSON: %s", error->message);

		reject(sim, api, topic, 400, "InvalidPayload", message);
		return NULL;
	}
	root = json_parser_get_root(parser);
	if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
		reject(sim, api, topic, 400, "InvalidPayload", "The payload is not a JSON object");
		return NULL;
	}
	return json_node_get_object(root);
}

static const char *string_member(JsonObject *object, const char *name)
{
	JsonNode *node = object ? json_object_get_member(object, name) : NULL;

	if (!node || !JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING)
		return NULL;
	return json_node_get_string(node);
}

static void handle_create_from_csr(HubCloudsim *sim, const char *topic, const char *payload)
{
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error = NULL;
	JsonObject *request = parse_request(sim, HUB_CLOUDSIM_API_CREATE_FROM_CSR, topic, payload, parser);
	const char *csr;
	g_autofree char *token = NULL;
	HubCloudsimIssued *issued;
	char *pem;

	if (!request)
		return;
	csr = string_member(request, "certificateSigningRequest");
	if (!csr) {
		reject(sim, HUB_CLOUDSIM_API_CREATE_FROM_CSR, topic, 400, "InvalidPayload",
		       "certificateSigningRequest is missing or not a string");
		return;
	}
	pem = hub_test_pki_sign_csr(sim->pki, csr, CERT_DAYS, &error);
	if (!pem) {
		g_autofree char *message = g_strdup_printf("Invalid CSR: %s", error->message);

		reject(sim, HUB_CLOUDSIM_API_CREATE_FROM_CSR, topic, 400, "InvalidCSR", message);
		return;
	}
	issued = record_issued(sim, HUB_CLOUDSIM_API_CREATE_FROM_CSR, pem, &token);
	accept_certificate(sim, HUB_CLOUDSIM_API_CREATE_FROM_CSR, topic, issued, NULL, token);
}

static void handle_create_keys(HubCloudsim *sim, const char *topic, const char *payload)
{
	g_autoptr(JsonParser) parser = json_parser_new();
	JsonObject *request = parse_request(sim, HUB_CLOUDSIM_API_CREATE_KEYS, topic, payload, parser);
	g_autofree char *key_pem = NULL;
	g_autofree char *token = NULL;
	HubCloudsimIssued *issued;
	char *pem;

	if (!request)
		return;
	pem = hub_test_pki_issue_client(sim->pki, HUB_CLOUDSIM_CREATED_CN, CERT_DAYS, &key_pem);
	issued = record_issued(sim, HUB_CLOUDSIM_API_CREATE_KEYS, pem, &token);
	accept_certificate(sim, HUB_CLOUDSIM_API_CREATE_KEYS, topic, issued, key_pem, token);
}

/* The newest thing with that SN and UPC/EAN that was not deleted. */
static Thing *find_thing(HubCloudsim *sim, const char *serial, const char *code)
{
	if (!serial || !code)
		return NULL;
	for (guint i = sim->things->len; i > 0; i--) {
		Thing *thing = g_ptr_array_index(sim->things, i - 1);

		if (thing->status && g_str_equal(thing->pub.serial_number, serial) &&
		    g_str_equal(thing->pub.product_code, code))
			return thing;
	}
	return NULL;
}

/* Deleted ones included. */
static Thing *find_thing_by_id(HubCloudsim *sim, const char *managed_thing_id)
{
	for (guint i = 0; i < sim->things->len; i++) {
		Thing *thing = g_ptr_array_index(sim->things, i);

		if (g_str_equal(thing->pub.managed_thing_id, managed_thing_id))
			return thing;
	}
	return NULL;
}

static void handle_register_thing(HubCloudsim *sim, const char *topic, const char *template_name,
				  const char *payload)
{
	const HubCloudsimApi api = HUB_CLOUDSIM_API_REGISTER_THING;
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(JsonBuilder) builder = NULL;
	g_autofree char *accepted_topic = NULL;
	JsonObject *request, *parameters = NULL;
	JsonNode *node;
	HubCloudsimIssued *issued;
	Thing *thing;
	const char *token, *serial, *code;

	if (g_strcmp0(template_name, sim->template_name) != 0) {
		g_autofree char *message = g_strdup_printf("Template %s does not exist", template_name);

		reject(sim, api, topic, 404, "ResourceNotFoundException", message);
		return;
	}
	request = parse_request(sim, api, topic, payload, parser);
	if (!request)
		return;
	token = string_member(request, "certificateOwnershipToken");
	issued = token ? g_hash_table_lookup(sim->tokens, token) : NULL;
	if (!issued) {
		reject(sim, api, topic, 400, "InvalidToken",
		       token ? "The certificate ownership token is unknown or was already used"
			     : "certificateOwnershipToken is missing");
		return;
	}
	node = json_object_get_member(request, "parameters");
	if (node && !JSON_NODE_HOLDS_OBJECT(node)) {
		reject(sim, api, topic, 400, "InvalidPayload", "parameters is not an object");
		return;
	}
	parameters = node ? json_node_get_object(node) : NULL;
	serial = string_member(parameters, "SerialNumber");
	if (!serial)
		serial = string_member(parameters, "SN");
	code = string_member(parameters, "UPC");
	if (!code)
		code = string_member(parameters, "EAN");
	thing = find_thing(sim, serial, code);
	if (!thing) {
		g_autofree char *message =
			g_strdup_printf("Pre-provisioning hook failed: no managed thing with SerialNumber %s and "
					"UPC/EAN %s",
					serial ? serial : "(missing)", code ? code : "(missing)");

		reject(sim, api, topic, 403, "PreProvisioningHookFailed", message);
		return;
	}
	if (g_strcmp0(thing->status, HUB_CLOUDSIM_STATUS_DELETE_IN_PROGRESS) == 0) {
		g_autofree char *message =
			g_strdup_printf("Pre-provisioning hook failed: managed thing %s is being deleted",
					thing->pub.managed_thing_id);

		reject(sim, api, topic, 403, "PreProvisioningHookFailed", message);
		return;
	}
	thing->status = HUB_CLOUDSIM_STATUS_ACTIVATED;
	g_free(issued->thing_name);
	issued->thing_name = g_strdup(thing->pub.thing_name);
	g_free(issued->managed_thing_id);
	issued->managed_thing_id = g_strdup(thing->pub.managed_thing_id);
	g_hash_table_remove(sim->tokens, token);

	builder = json_builder_new();
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "deviceConfiguration");
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "managedThingId");
	json_builder_add_string_value(builder, thing->pub.managed_thing_id);
	json_builder_end_object(builder);
	json_builder_set_member_name(builder, "thingName");
	json_builder_add_string_value(builder, thing->pub.thing_name);
	json_builder_end_object(builder);
	sim->accepted[api]++;
	accepted_topic = g_strconcat(topic, "/accepted", NULL);
	publish_json(sim, accepted_topic, builder);
}

/* The API of a request topic; @template_name gets RegisterThing's template. */
static gboolean classify(const char *topic, HubCloudsimApi *api, char **template_name)
{
	if (g_str_equal(topic, TOPIC_CSR)) {
		*api = HUB_CLOUDSIM_API_CREATE_FROM_CSR;
		return TRUE;
	}
	if (g_str_equal(topic, TOPIC_KEYS)) {
		*api = HUB_CLOUDSIM_API_CREATE_KEYS;
		return TRUE;
	}
	if (g_str_has_prefix(topic, TOPIC_TEMPLATE) && g_str_has_suffix(topic, TOPIC_PROVISION_SUFFIX)) {
		gsize start = strlen(TOPIC_TEMPLATE);
		gsize len = strlen(topic) - start - strlen(TOPIC_PROVISION_SUFFIX);

		if ((gssize)len <= 0)
			return FALSE;
		*template_name = g_strndup(topic + start, len);
		*api = HUB_CLOUDSIM_API_REGISTER_THING;
		return !strchr(*template_name, '/');
	}
	return FALSE;
}

/* The client id in north/<client id>/lifecycle, or NULL. */
static char *lifecycle_client(const char *topic)
{
	gsize start = strlen(TOPIC_NORTH);
	gsize len;

	if (!g_str_has_prefix(topic, TOPIC_NORTH) || !g_str_has_suffix(topic, TOPIC_LIFECYCLE_SUFFIX))
		return NULL;
	len = strlen(topic) - start;
	if (len <= strlen(TOPIC_LIFECYCLE_SUFFIX))
		return NULL;
	len -= strlen(TOPIC_LIFECYCLE_SUFFIX);
	if (memchr(topic + start, '/', len))
		return NULL;
	return g_strndup(topic + start, len);
}

/* A hub's {"event":"OFFBOARDED","managedThingId":...} deletes its managed
 * thing; the ACL already confines @client_id to the publisher's own. */
static void handle_lifecycle(HubCloudsim *sim, const char *client_id, const char *payload)
{
	g_autoptr(JsonParser) parser = json_parser_new();
	JsonObject *report = NULL;
	const char *id = NULL;
	Thing *thing = NULL;

	if (json_parser_load_from_data(parser, payload, -1, NULL) && json_parser_get_root(parser) &&
	    JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)))
		report = json_node_get_object(json_parser_get_root(parser));
	/* A device's lifecycle (an uplink envelope), not the hub's own report. */
	if (report && json_object_has_member(report, "messageType"))
		return;
	if (g_strcmp0(string_member(report, "event"), "OFFBOARDED") == 0)
		id = string_member(report, "managedThingId");
	if (id)
		thing = find_thing_by_id(sim, id);
	if (!thing || !g_str_equal(thing->pub.thing_name, client_id)) {
		sim->lifecycle_ignored++;
		return;
	}
	thing->status = NULL;
	sim->offboarded++;
}

static void on_message(struct mosquitto *mosq, void *data, const struct mosquitto_message *msg)
{
	HubCloudsim *sim = data;
	g_autofree char *payload = g_strndup(msg->payload, (gsize)msg->payloadlen);
	g_autofree char *template_name = NULL;
	g_autofree char *client_id = lifecycle_client(msg->topic);
	HubCloudsimApi api;

	if (g_str_has_prefix(msg->topic, TOPIC_NORTH)) {
		HubCloudsimMessage *copy = NULL;

		if (!g_atomic_int_get(&sim->count_only)) {
			copy = g_new0(HubCloudsimMessage, 1);
			copy->topic = g_strdup(msg->topic);
			copy->payload = g_strndup(msg->payload, (gsize)msg->payloadlen);
			copy->len = (gsize)msg->payloadlen;
			copy->received_us = g_get_monotonic_time();
		}
		g_mutex_lock(&sim->lock);
		sim->uplink_received++;
		sim->uplink_bytes += (guint64)MAX(msg->payloadlen, 0);
		if (copy)
			g_ptr_array_add(sim->uplink, copy);
		if (client_id)
			handle_lifecycle(sim, client_id, payload);
		g_cond_broadcast(&sim->cond);
		g_mutex_unlock(&sim->lock);
		return;
	}
	if (!classify(msg->topic, &api, &template_name))
		return;
	g_mutex_lock(&sim->lock);
	sim->count[api]++;
	if (sim->reply[api]) {
		g_autofree char *reply = g_steal_pointer(&sim->reply[api]);
		g_autofree char *topic = g_strconcat(msg->topic, "/accepted", NULL);

		sim->accepted[api]++;
		publish_text(sim, topic, reply);
	} else if (sim->held[api]) {
		/* Dropped, as if the cloud never answered. */
	} else if (sim->throttle[api] > 0) {
		sim->throttle[api]--;
		reject(sim, api, msg->topic, 429, "Throttling", "Rate exceeded");
	} else if (api == HUB_CLOUDSIM_API_CREATE_FROM_CSR) {
		handle_create_from_csr(sim, msg->topic, payload);
	} else if (api == HUB_CLOUDSIM_API_CREATE_KEYS) {
		handle_create_keys(sim, msg->topic, payload);
	} else {
		handle_register_thing(sim, msg->topic, template_name, payload);
	}
	g_cond_broadcast(&sim->cond);
	g_mutex_unlock(&sim->lock);
}

/* The session is clean: subscribe again after every connect. */
static void on_connect(struct mosquitto *mosq, void *data, int rc)
{
	HubCloudsim *sim = data;

	if (rc != 0)
		return;
	g_mutex_lock(&sim->lock);
	sim->connected = TRUE;
	sim->subscribed = 0;
	g_cond_broadcast(&sim->cond);
	g_mutex_unlock(&sim->lock);
	for (guint i = 0; i < G_N_ELEMENTS(responder_topics); i++) {
		rc = mosquitto_subscribe(mosq, NULL, responder_topics[i], 1);
		if (rc != MOSQ_ERR_SUCCESS)
			g_printerr("cloudsim: subscribing to %s: %s\n", responder_topics[i], mosquitto_strerror(rc));
	}
}

static void on_disconnect(struct mosquitto *mosq, void *data, int rc)
{
	HubCloudsim *sim = data;

	g_mutex_lock(&sim->lock);
	sim->connected = FALSE;
	sim->subscribed = 0;
	g_cond_broadcast(&sim->cond);
	g_mutex_unlock(&sim->lock);
}

static void on_subscribe(struct mosquitto *mosq, void *data, int mid, int count, const int *granted)
{
	HubCloudsim *sim = data;

	g_mutex_lock(&sim->lock);
	if (count > 0 && granted[0] < 0x80)
		sim->subscribed++;
	g_cond_broadcast(&sim->cond);
	g_mutex_unlock(&sim->lock);
}

typedef gboolean (*DoneFunc)(HubCloudsim *sim, gconstpointer data);

/* Waits on @sim's condition until @done (called with the lock held) or
 * @timeout_ms; returns @done's last answer. */
static gboolean wait_for(HubCloudsim *sim, DoneFunc done, gconstpointer data, guint timeout_ms)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * G_TIME_SPAN_MILLISECOND;
	gboolean ok;

	g_mutex_lock(&sim->lock);
	while (!(ok = done(sim, data)) && g_cond_wait_until(&sim->cond, &sim->lock, deadline))
		;
	g_mutex_unlock(&sim->lock);
	return ok;
}

static gboolean is_ready(HubCloudsim *sim, gconstpointer data)
{
	return sim->connected && sim->subscribed == G_N_ELEMENTS(responder_topics);
}

static gboolean is_disconnected(HubCloudsim *sim, gconstpointer data)
{
	return !sim->connected;
}

/* Not mosquitto_loop_forever(): libmosquitto 2.0.11 gives up reconnecting
 * when a TLS connection ends (OpenSSL leaves errno = EPROTO), and it waits
 * whole seconds between attempts. */
static gpointer responder_loop(gpointer data)
{
	HubCloudsim *sim = data;

	while (!g_atomic_int_get(&sim->stopping)) {
		gint64 retry_at;

		if (mosquitto_loop(sim->responder, LOOP_TIMEOUT_MS, 1) == MOSQ_ERR_SUCCESS)
			continue;
		retry_at = g_get_monotonic_time() + RECONNECT_MS * G_TIME_SPAN_MILLISECOND;
		g_mutex_lock(&sim->lock);
		while (!g_atomic_int_get(&sim->stopping) && g_cond_wait_until(&sim->cond, &sim->lock, retry_at))
			;
		g_mutex_unlock(&sim->lock);
		if (!g_atomic_int_get(&sim->stopping))
			mosquitto_reconnect(sim->responder);
	}
	return NULL;
}

static gpointer init_once(gpointer data)
{
	signal(SIGPIPE, SIG_IGN);
	mosquitto_lib_init();
	return NULL;
}

static gboolean start_responder(HubCloudsim *sim, GError **error)
{
	static GOnce once = G_ONCE_INIT;
	static const HubTlsOptions options = { .hostname = "localhost" };
	g_autofree char *key_pem = NULL;
	g_autofree char *cert_pem = hub_test_pki_issue_client(sim->pki, HUB_CLOUDSIM_RESPONDER_CN, CERT_DAYS, &key_pem);
	g_autoptr(EVP_PKEY) key = hub_test_pem_to_key(key_pem);
	STACK_OF(X509) *chain = hub_test_pem_to_chain(cert_pem);
	STACK_OF(X509) *anchors = hub_test_pki_trust_anchors(sim->pki);
	g_autoptr(SSL_CTX) ctx = hub_tls_context_new(chain, key, anchors, &options, error);
	int rc;

	sk_X509_pop_free(chain, X509_free);
	sk_X509_pop_free(anchors, X509_free);
	if (!ctx)
		return FALSE;
	g_once(&once, init_once, NULL);
	sim->responder = mosquitto_new(HUB_CLOUDSIM_RESPONDER_CN, false, sim);
	g_assert_nonnull(sim->responder);
	mosquitto_int_option(sim->responder, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
	mosquitto_int_option(sim->responder, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 0);
	mosquitto_int_option(sim->responder, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_void_option(sim->responder, MOSQ_OPT_SSL_CTX, ctx);
	/* Our own loop thread: calls from other threads only queue packets. */
	mosquitto_threaded_set(sim->responder, true);
	mosquitto_connect_callback_set(sim->responder, on_connect);
	mosquitto_disconnect_callback_set(sim->responder, on_disconnect);
	mosquitto_message_callback_set(sim->responder, on_message);
	mosquitto_subscribe_callback_set(sim->responder, on_subscribe);
	/* Blocking: libmosquitto 2.0.11 spins on a refused async TLS connect. */
	rc = mosquitto_connect(sim->responder, "127.0.0.1", hub_test_broker_port(sim->broker), 30);
	if (rc != MOSQ_ERR_SUCCESS) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_FAILED, "cloudsim responder: connecting: %s",
			    mosquitto_strerror(rc));
		return FALSE;
	}
	sim->loop_thread = g_thread_new("cloudsim-responder", responder_loop, sim);
	if (!wait_for(sim, is_ready, NULL, SUBSCRIBE_TIMEOUT_MS)) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_TIMEOUT,
			    "cloudsim responder: the broker did not grant its subscriptions");
		return FALSE;
	}
	return TRUE;
}

static void stop_responder(HubCloudsim *sim)
{
	if (!sim->responder)
		return;
	if (sim->loop_thread) {
		g_mutex_lock(&sim->lock);
		g_atomic_int_set(&sim->stopping, 1);
		g_cond_broadcast(&sim->cond);
		g_mutex_unlock(&sim->lock);
		g_thread_join(g_steal_pointer(&sim->loop_thread));
	}
	/* Back to one thread: DISCONNECT is written at once. */
	mosquitto_threaded_set(sim->responder, false);
	mosquitto_disconnect(sim->responder);
	mosquitto_destroy(sim->responder);
	sim->responder = NULL;
}

/* API */

static void write_file(const char *path, const char *text, int mode)
{
	g_autoptr(GError) error = NULL;

	g_file_set_contents_full(path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, mode, &error);
	g_assert_no_error(error);
}

HubCloudsim *hub_cloudsim_start(const char *dir, GError **error)
{
	HubCloudsim *sim = g_new0(HubCloudsim, 1);
	g_autofree char *claim_key = NULL;
	g_autofree char *claim_cert = NULL;

	g_mutex_init(&sim->lock);
	g_cond_init(&sim->cond);
	sim->dir = g_strdup(dir);
	sim->template_name = g_strdup(HUB_CLOUDSIM_DEFAULT_TEMPLATE);
	sim->issued = g_ptr_array_new_with_free_func(issued_free);
	sim->tokens = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	sim->things = g_ptr_array_new_with_free_func(thing_free);
	sim->uplink = g_ptr_array_new_with_free_func((GDestroyNotify)hub_cloudsim_message_free);
	sim->pki = hub_test_pki_new(dir, "Cloudsim Root CA");
	sim->claim_cert_path = g_build_filename(dir, "claim.crt", NULL);
	sim->claim_key_path = g_build_filename(dir, "claim.key", NULL);
	sim->acl_path = g_build_filename(dir, "acl", NULL);

	claim_cert = hub_test_pki_issue_client(sim->pki, HUB_CLOUDSIM_CLAIM_CN, CERT_DAYS, &claim_key);
	write_file(sim->claim_cert_path, claim_cert, 0644);
	write_file(sim->claim_key_path, claim_key, 0600);
	write_file(sim->acl_path, acl_text, 0644);

	{
		/* The cloud side loses nothing, like AWS IoT's rules: the
		 * responder's session (clean_session false) and its subscriptions
		 * survive a broker restart, so what a hub publishes before the
		 * responder is back is queued for it, without the default limit
		 * of 1000 queued messages (0, "no limit", makes mosquitto 2.0.11
		 * drop publishing clients). */
		g_autofree char *acl_line = g_strdup_printf("acl_file %s\nmax_queued_messages 1000000\n"
							    "persistence true\npersistence_location %s/\n"
							    "autosave_interval 1\n",
							    sim->acl_path, dir);

		sim->broker = hub_test_broker_start_full(sim->pki, dir, acl_line);
	}
	if (!start_responder(sim, error)) {
		hub_cloudsim_free(sim);
		return NULL;
	}
	return sim;
}

void hub_cloudsim_stop(HubCloudsim *sim)
{
	if (!sim)
		return;
	stop_responder(sim);
	hub_test_broker_stop(sim->broker);
}

void hub_cloudsim_free(HubCloudsim *sim)
{
	if (!sim)
		return;
	hub_cloudsim_stop(sim);
	hub_test_broker_free(sim->broker);
	hub_test_pki_free(sim->pki);
	g_free(sim->dir);
	g_free(sim->claim_cert_path);
	g_free(sim->claim_key_path);
	g_free(sim->acl_path);
	g_free(sim->template_name);
	for (guint i = 0; i < HUB_CLOUDSIM_N_APIS; i++)
		g_free(sim->reply[i]);
	g_hash_table_unref(sim->tokens);
	g_ptr_array_unref(sim->issued);
	g_ptr_array_unref(sim->things);
	g_ptr_array_unref(sim->uplink);
	g_mutex_clear(&sim->lock);
	g_cond_clear(&sim->cond);
	g_free(sim);
}

guint16 hub_cloudsim_port(HubCloudsim *sim)
{
	return hub_test_broker_port(sim->broker);
}

const char *hub_cloudsim_ca_path(HubCloudsim *sim)
{
	return hub_test_pki_ca_path(sim->pki);
}

const char *hub_cloudsim_claim_cert_path(HubCloudsim *sim)
{
	return sim->claim_cert_path;
}

const char *hub_cloudsim_claim_key_path(HubCloudsim *sim)
{
	return sim->claim_key_path;
}

const char *hub_cloudsim_log_path(HubCloudsim *sim)
{
	return hub_test_broker_log_path(sim->broker);
}

char *hub_cloudsim_read_log(HubCloudsim *sim)
{
	return hub_test_broker_read_log(sim->broker);
}

char *hub_cloudsim_issue_client(HubCloudsim *sim, const char *common_name, char **key_pem)
{
	char *pem;

	g_mutex_lock(&sim->lock);
	pem = hub_test_pki_issue_client(sim->pki, common_name, CERT_DAYS, key_pem);
	g_mutex_unlock(&sim->lock);
	return pem;
}

const HubCloudsimThing *hub_cloudsim_add_managed_thing(HubCloudsim *sim, const char *serial_number,
						       const char *product_code)
{
	Thing *thing = g_new0(Thing, 1);
	g_autofree char *mt = random_hex(8);
	g_autofree char *name = random_hex(8);

	thing->pub.serial_number = g_strdup(serial_number);
	thing->pub.product_code = g_strdup(product_code);
	thing->pub.managed_thing_id = g_strconcat("mt-", mt, NULL);
	thing->pub.thing_name = g_strconcat("hub-", name, NULL);
	thing->status = HUB_CLOUDSIM_STATUS_PRE_ASSOCIATED;
	g_mutex_lock(&sim->lock);
	g_ptr_array_add(sim->things, thing);
	g_mutex_unlock(&sim->lock);
	return &thing->pub;
}

gboolean hub_cloudsim_delete_managed_thing(HubCloudsim *sim, const char *managed_thing_id)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autofree char *topic = NULL;
	Thing *thing;

	g_mutex_lock(&sim->lock);
	thing = find_thing_by_id(sim, managed_thing_id);
	if (thing && thing->status) {
		thing->status = HUB_CLOUDSIM_STATUS_DELETE_IN_PROGRESS;
		topic = g_strdup_printf("south/%s/control", thing->pub.thing_name);
	}
	g_mutex_unlock(&sim->lock);
	if (!topic)
		return FALSE;
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "operation");
	json_builder_add_string_value(builder, "DeleteManagedThing");
	json_builder_set_member_name(builder, "managedThingId");
	json_builder_add_string_value(builder, managed_thing_id);
	json_builder_end_object(builder);
	publish_json(sim, topic, builder);
	return TRUE;
}

char *hub_cloudsim_thing_status(HubCloudsim *sim, const char *managed_thing_id)
{
	char *status = NULL;
	Thing *thing;

	g_mutex_lock(&sim->lock);
	thing = find_thing_by_id(sim, managed_thing_id);
	if (thing)
		status = g_strdup(thing->status);
	g_mutex_unlock(&sim->lock);
	return status;
}

/* @field of @sim, read under its lock. */
static guint read_locked(HubCloudsim *sim, const guint *field)
{
	guint value;

	g_mutex_lock(&sim->lock);
	value = *field;
	g_mutex_unlock(&sim->lock);
	return value;
}

guint hub_cloudsim_offboarded(HubCloudsim *sim)
{
	return read_locked(sim, &sim->offboarded);
}

guint hub_cloudsim_lifecycle_ignored(HubCloudsim *sim)
{
	return read_locked(sim, &sim->lifecycle_ignored);
}

static gboolean offboarded_reached(HubCloudsim *sim, gconstpointer data)
{
	return sim->offboarded >= GPOINTER_TO_UINT(data);
}

gboolean hub_cloudsim_wait_offboarded(HubCloudsim *sim, guint n, guint timeout_ms)
{
	return wait_for(sim, offboarded_reached, GUINT_TO_POINTER(n), timeout_ms);
}

void hub_cloudsim_set_template(HubCloudsim *sim, const char *name)
{
	g_mutex_lock(&sim->lock);
	g_free(sim->template_name);
	sim->template_name = g_strdup(name);
	g_mutex_unlock(&sim->lock);
}

void hub_cloudsim_set_throttle(HubCloudsim *sim, HubCloudsimApi api, guint n)
{
	g_return_if_fail(api < HUB_CLOUDSIM_N_APIS);
	g_mutex_lock(&sim->lock);
	sim->throttle[api] = n;
	g_mutex_unlock(&sim->lock);
}

void hub_cloudsim_set_reply(HubCloudsim *sim, HubCloudsimApi api, const char *payload)
{
	g_return_if_fail(api < HUB_CLOUDSIM_N_APIS);
	g_mutex_lock(&sim->lock);
	g_free(sim->reply[api]);
	sim->reply[api] = g_strdup(payload);
	g_mutex_unlock(&sim->lock);
}

void hub_cloudsim_hold(HubCloudsim *sim, HubCloudsimApi api, gboolean hold)
{
	g_return_if_fail(api < HUB_CLOUDSIM_N_APIS);
	g_mutex_lock(&sim->lock);
	sim->held[api] = hold;
	g_mutex_unlock(&sim->lock);
}

static guint read_counter(HubCloudsim *sim, const guint *counters, HubCloudsimApi api)
{
	g_return_val_if_fail(api < HUB_CLOUDSIM_N_APIS, 0);
	return read_locked(sim, &counters[api]);
}

guint hub_cloudsim_count(HubCloudsim *sim, HubCloudsimApi api)
{
	return read_counter(sim, sim->count, api);
}

guint hub_cloudsim_accepted(HubCloudsim *sim, HubCloudsimApi api)
{
	return read_counter(sim, sim->accepted, api);
}

guint hub_cloudsim_rejected(HubCloudsim *sim, HubCloudsimApi api)
{
	return read_counter(sim, sim->rejected, api);
}

GPtrArray *hub_cloudsim_issued(HubCloudsim *sim)
{
	GPtrArray *copy = g_ptr_array_new_with_free_func(issued_free);

	g_mutex_lock(&sim->lock);
	for (guint i = 0; i < sim->issued->len; i++)
		g_ptr_array_add(copy, issued_copy(g_ptr_array_index(sim->issued, i)));
	g_mutex_unlock(&sim->lock);
	return copy;
}

typedef struct {
	HubCloudsimApi api;
	guint n;
} CountGoal;

static gboolean count_reached(HubCloudsim *sim, gconstpointer data)
{
	const CountGoal *goal = data;

	return sim->count[goal->api] >= goal->n;
}

gboolean hub_cloudsim_wait_count(HubCloudsim *sim, HubCloudsimApi api, guint n, guint timeout_ms)
{
	const CountGoal goal = { api, n };

	g_return_val_if_fail(api < HUB_CLOUDSIM_N_APIS, FALSE);
	return wait_for(sim, count_reached, &goal, timeout_ms);
}

/* The broker */

/* Returns once the responder has seen the connection drop, so that a
 * following hub_cloudsim_broker_start() waits for a fresh subscription. */
static void wait_responder_disconnected(HubCloudsim *sim)
{
	if (!wait_for(sim, is_disconnected, NULL, DISCONNECT_TIMEOUT_MS))
		g_error("cloudsim responder: still connected %d ms after the broker went away", DISCONNECT_TIMEOUT_MS);
}

void hub_cloudsim_broker_stop(HubCloudsim *sim)
{
	hub_test_broker_stop(sim->broker);
	wait_responder_disconnected(sim);
}

void hub_cloudsim_broker_kill(HubCloudsim *sim)
{
	hub_test_broker_kill(sim->broker);
	wait_responder_disconnected(sim);
}

gboolean hub_cloudsim_broker_start(HubCloudsim *sim)
{
	g_return_val_if_fail(sim->loop_thread != NULL, FALSE);
	if (!hub_test_broker_restart(sim->broker))
		return FALSE;
	return wait_for(sim, is_ready, NULL, SUBSCRIBE_TIMEOUT_MS);
}

void hub_cloudsim_restart(HubCloudsim *sim)
{
	hub_cloudsim_broker_stop(sim);
	if (!hub_cloudsim_broker_start(sim))
		g_error("cloudsim: the broker did not come back on port %u with the responder subscribed",
			hub_cloudsim_port(sim));
}

/* The hub topics */

void hub_cloudsim_message_free(HubCloudsimMessage *message)
{
	if (!message)
		return;
	g_free(message->topic);
	g_free(message->payload);
	g_free(message);
}

gboolean hub_cloudsim_send(HubCloudsim *sim, const char *topic, const void *payload, gsize len)
{
	int rc = mosquitto_publish(sim->responder, NULL, topic, (int)len, payload, 1, false);

	if (rc != MOSQ_ERR_SUCCESS)
		g_test_message("cloudsim: publishing to %s: %s", topic, mosquitto_strerror(rc));
	return rc == MOSQ_ERR_SUCCESS;
}

GPtrArray *hub_cloudsim_uplink(HubCloudsim *sim, guint from)
{
	GPtrArray *copy = g_ptr_array_new_with_free_func((GDestroyNotify)hub_cloudsim_message_free);

	g_mutex_lock(&sim->lock);
	for (guint i = from; i < sim->uplink->len; i++) {
		HubCloudsimMessage *m = g_ptr_array_index(sim->uplink, i);
		HubCloudsimMessage *c = g_new0(HubCloudsimMessage, 1);

		c->topic = g_strdup(m->topic);
		c->payload = g_strdup(m->payload);
		c->len = m->len;
		c->received_us = m->received_us;
		g_ptr_array_add(copy, c);
	}
	g_mutex_unlock(&sim->lock);
	return copy;
}

static gboolean has_uplink(HubCloudsim *sim, gconstpointer data)
{
	return sim->uplink_received > GPOINTER_TO_UINT(data);
}

gboolean hub_cloudsim_wait_uplink(HubCloudsim *sim, guint n, guint timeout_ms)
{
	return n == 0 || wait_for(sim, has_uplink, GUINT_TO_POINTER(n - 1), timeout_ms);
}

guint hub_cloudsim_uplink_count(HubCloudsim *sim)
{
	return read_locked(sim, &sim->uplink_received);
}

guint64 hub_cloudsim_uplink_bytes(HubCloudsim *sim)
{
	guint64 n;

	g_mutex_lock(&sim->lock);
	n = sim->uplink_bytes;
	g_mutex_unlock(&sim->lock);
	return n;
}

void hub_cloudsim_set_count_only(HubCloudsim *sim, gboolean count_only)
{
	g_atomic_int_set(&sim->count_only, count_only);
}

void hub_cloudsim_broker_pause(HubCloudsim *sim, gboolean pause)
{
	if (pause)
		hub_test_broker_pause(sim->broker);
	else
		hub_test_broker_resume(sim->broker);
}

SSL_CTX *hub_cloudsim_client_context(HubCloudsim *sim, const char *cert_pem, const char *key_pem)
{
	static const HubTlsOptions options = { .hostname = "localhost" };
	g_autoptr(EVP_PKEY) key = hub_test_pem_to_key(key_pem);
	g_autoptr(GError) error = NULL;
	g_autofree char *ca_pem = NULL;
	STACK_OF(X509) *chain = hub_test_pem_to_chain(cert_pem);
	STACK_OF(X509) *anchors;
	SSL_CTX *ctx;

	g_assert_true(g_file_get_contents(hub_cloudsim_ca_path(sim), &ca_pem, NULL, NULL));
	anchors = hub_test_pem_to_chain(ca_pem);
	ctx = hub_tls_context_new(chain, key, anchors, &options, &error);
	sk_X509_pop_free(chain, X509_free);
	sk_X509_pop_free(anchors, X509_free);
	g_assert_no_error(error);
	return ctx;
}
