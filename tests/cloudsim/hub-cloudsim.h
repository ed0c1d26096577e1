/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-cloudsim.h - a test cloud for hub onboarding that behaves like AWS IoT
 * fleet provisioning by claim, on a real mosquitto broker on 127.0.0.1.
 *
 * hub_cloudsim_start() makes a throwaway CA (HubTestPki), a claim identity
 * (CN "claim") and starts mosquitto with mutual TLS on a free port. The
 * certificate's CN is the MQTT user name (use_identity_as_username) and an
 * ACL file plays the role of the AWS IoT policies:
 *   - every identity: south/<client id>/#, north/<client id>/# and
 *     $aws/things/<client id>/# only (like ${iot:ClientId});
 *   - user "claim": the three fleet-provisioning APIs only, nothing else;
 *   - user "cloudsim-responder" (the responder below): everything.
 *
 * A responder in this process (a libmosquitto thread, so it also answers
 * while a test blocks in HubTestMqtt calls or iterates a GLib loop) serves:
 *   $aws/certificates/create-from-csr/json  CreateCertificateFromCsr
 *   $aws/certificates/create/json           CreateKeysAndCertificate
 *   $aws/provisioning-templates/<name>/provision/json  RegisterThing
 * answering on <request topic>/accepted or /rejected with the AWS payloads;
 * rejections carry statusCode, errorCode and errorMessage.
 *
 * Offboarding: the cloud's DeleteManagedThing reaches the hub as
 *   south/<thing name>/control  {"operation":"DeleteManagedThing","managedThingId":"<id>"}
 * and the hub (client id = thing name) reports, after that request or on its
 * own, with QoS 1
 *   north/<client id>/lifecycle {"event":"OFFBOARDED","managedThingId":"<id>"}
 * which deletes the managed thing.
 *
 * The hub topics (doc/cloud-contract.md): hub_cloudsim_send() publishes as
 * the cloud (e.g. a command on south/<client id>/control), and everything
 * hubs publish on north/# is recorded in arrival order
 * (hub_cloudsim_uplink()).
 *
 * The responder reconnects and subscribes again by itself when the broker
 * comes back (hub_cloudsim_broker_start()). Its session persists, so what
 * hubs publish before it is back waits for it; a killed broker has it from
 * its last autosave (every second).
 *
 * Unlike AWS, a reply goes to every client subscribed to the reply topic
 * (mosquitto cannot address one connection), so run one claim client at a
 * time. Failures to start the broker abort the test (like HubTestBroker).
 * All functions may be called from any thread.
 */
#pragma once

#include <glib.h>
#include <openssl/ssl.h>

typedef struct _HubCloudsim HubCloudsim;

typedef enum {
	HUB_CLOUDSIM_API_CREATE_FROM_CSR, /* $aws/certificates/create-from-csr/json */
	HUB_CLOUDSIM_API_CREATE_KEYS,     /* $aws/certificates/create/json */
	HUB_CLOUDSIM_API_REGISTER_THING,  /* $aws/provisioning-templates/+/provision/json */
	HUB_CLOUDSIM_N_APIS
} HubCloudsimApi;

/* The default provisioning template name. */
#define HUB_CLOUDSIM_DEFAULT_TEMPLATE "hub-fleet-template"
/* The CN of the claim certificate (= its MQTT user name). */
#define HUB_CLOUDSIM_CLAIM_CN "claim"
/* The CN of the responder's certificate. */
#define HUB_CLOUDSIM_RESPONDER_CN "cloudsim-responder"
/* The CN CreateKeysAndCertificate gives its certificates (as AWS does). */
#define HUB_CLOUDSIM_CREATED_CN "AWS IoT Certificate"

/* Managed thing states (hub_cloudsim_thing_status()). */
#define HUB_CLOUDSIM_STATUS_PRE_ASSOCIATED     "PRE_ASSOCIATED"
#define HUB_CLOUDSIM_STATUS_ACTIVATED          "ACTIVATED"
#define HUB_CLOUDSIM_STATUS_DELETE_IN_PROGRESS "DELETE_IN_PROGRESS"

/* A certificate the cloud issued. thing_name and managed_thing_id are NULL
 * until RegisterThing used its ownership token. */
typedef struct {
	char *certificate_id; /* hex SHA-256 of the DER certificate, as AWS */
	char *certificate_pem;
	HubCloudsimApi api;   /* CREATE_FROM_CSR or CREATE_KEYS */
	char *thing_name;     /* the MQTT client id the hub must use */
	char *managed_thing_id;
} HubCloudsimIssued;

/* A managed thing registered beforehand (owned by the cloudsim; stays valid
 * until hub_cloudsim_free(), also once the thing was deleted). */
typedef struct {
	char *serial_number;
	char *product_code; /* UPC or EAN */
	char *managed_thing_id;
	char *thing_name; /* = the client id the hub must use afterwards */
} HubCloudsimThing;

/* Creates @dir (0700) and in it: the CA (ca.crt), the broker's certificate,
 * claim.crt and claim.key (0600), mosquitto.conf, acl and mosquitto.log;
 * starts the broker and the responder. NULL with @error when the responder
 * cannot connect or subscribe. */
HubCloudsim *hub_cloudsim_start(const char *dir, GError **error);
/* Stops the responder and the broker (SIGTERM, 5 s, then SIGKILL). Idempotent. */
void hub_cloudsim_stop(HubCloudsim *sim);
/* Stops if needed and frees. NULL-safe. */
void hub_cloudsim_free(HubCloudsim *sim);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HubCloudsim, hub_cloudsim_free)

guint16 hub_cloudsim_port(HubCloudsim *sim);
/* Paths owned by @sim: the root CA the hub must trust (it also issued the
 * broker's certificate for localhost / 127.0.0.1), the claim credentials,
 * the broker's log. */
const char *hub_cloudsim_ca_path(HubCloudsim *sim);
const char *hub_cloudsim_claim_cert_path(HubCloudsim *sim);
const char *hub_cloudsim_claim_key_path(HubCloudsim *sim);
const char *hub_cloudsim_log_path(HubCloudsim *sim);
/* The broker's log so far (g_free). */
char *hub_cloudsim_read_log(HubCloudsim *sim);

/* Issues a client certificate CN=@common_name from the cloud's CA (for
 * tests that need a permanent identity without provisioning). Returns the
 * PEM; the PKCS#8 key goes to @key_pem (both g_free). */
char *hub_cloudsim_issue_client(HubCloudsim *sim, const char *common_name, char **key_pem);
/* A client TLS context (SSL_CTX_free) presenting @cert_pem and @key_pem and
 * trusting the cloud's CA, for the broker as "localhost". */
SSL_CTX *hub_cloudsim_client_context(HubCloudsim *sim, const char *cert_pem, const char *key_pem);

/* Registers a managed thing (status PRE_ASSOCIATED): RegisterThing accepts
 * only parameters whose "SerialNumber" (or "SN") and "UPC" (or "EAN") match
 * a registered thing that was not deleted, the newest if several do. Its
 * ids are made up and new on every call (managedThingId "mt-<hex>", thing
 * name / client id "hub-<hex>", different from each other). */
const HubCloudsimThing *hub_cloudsim_add_managed_thing(HubCloudsim *sim, const char *serial_number,
						       const char *product_code);
/* The cloud's DeleteManagedThing: publishes (QoS 1, from the responder)
 * {"operation":"DeleteManagedThing","managedThingId":@managed_thing_id} on
 * south/<thing name>/control and sets the status to DELETE_IN_PROGRESS,
 * in which RegisterThing for it is rejected (403 PreProvisioningHookFailed).
 * The thing is deleted once its hub reports OFFBOARDED. Calling it again
 * publishes again. FALSE (nothing sent) when no such thing exists or it was
 * deleted. While the broker is stopped the message is lost. */
gboolean hub_cloudsim_delete_managed_thing(HubCloudsim *sim, const char *managed_thing_id);
/* The managed thing's status: a HUB_CLOUDSIM_STATUS_* string (g_free), ACTIVATED
 * once a RegisterThing for it was accepted; NULL when it does not exist or
 * was deleted. */
char *hub_cloudsim_thing_status(HubCloudsim *sim, const char *managed_thing_id);
/* OFFBOARDED reports received on north/<client id>/lifecycle whose
 * managedThingId names a managed thing with that thing name (client id).
 * The first one deletes the thing (whatever its status; from then on
 * RegisterThing for its SN/UPC gets 403 PreProvisioningHookFailed until a
 * test adds it again); repeats are counted and change nothing. */
guint hub_cloudsim_offboarded(HubCloudsim *sim);
/* Lifecycle messages the cloud did not act on: not a JSON object, another
 * event, a missing or unknown managedThingId, or another hub's thing. */
guint hub_cloudsim_lifecycle_ignored(HubCloudsim *sim);
/* Waits (up to @timeout_ms, on the sim's condition variable) until
 * hub_cloudsim_offboarded() >= @n; FALSE on timeout. */
gboolean hub_cloudsim_wait_offboarded(HubCloudsim *sim, guint n, guint timeout_ms);

/* Only RegisterThing for template @name succeeds (default
 * HUB_CLOUDSIM_DEFAULT_TEMPLATE); others get 404 ResourceNotFoundException. */
void hub_cloudsim_set_template(HubCloudsim *sim, const char *name);
/* The next @n requests to @api get 429 "Throttling". */
void hub_cloudsim_set_throttle(HubCloudsim *sim, HubCloudsimApi api, guint n);
/* The next request to @api (one-shot) is answered on <request
 * topic>/accepted with @payload verbatim (copied; any text: invalid JSON,
 * missing fields, a certificate for another key, megabytes), and nothing
 * else happens: no certificate, token or thing changes. It counts as
 * accepted. Checked before throttling; NULL cancels a pending reply. */
void hub_cloudsim_set_reply(HubCloudsim *sim, HubCloudsimApi api, const char *payload);
/* While @hold, requests to @api are counted but dropped unanswered (as if
 * the cloud never replied; a pending throttle is kept for later). A
 * pending set_reply is still served, so a test can hand out one hostile
 * answer at a time. Releasing does not answer the dropped ones. */
void hub_cloudsim_hold(HubCloudsim *sim, HubCloudsimApi api, gboolean hold);

/* Requests received per API (answered or not). */
guint hub_cloudsim_count(HubCloudsim *sim, HubCloudsimApi api);
/* Waits (up to @timeout_ms, on the sim's condition variable, no polling)
 * until hub_cloudsim_count(@api) >= @n; FALSE on timeout. */
gboolean hub_cloudsim_wait_count(HubCloudsim *sim, HubCloudsimApi api, guint n, guint timeout_ms);
/* Accepted and rejected answers sent per API. */
guint hub_cloudsim_accepted(HubCloudsim *sim, HubCloudsimApi api);
guint hub_cloudsim_rejected(HubCloudsim *sim, HubCloudsimApi api);
/* A snapshot of the certificates issued so far, oldest first
 * (HubCloudsimIssued *, g_ptr_array_unref frees them). */
GPtrArray *hub_cloudsim_issued(HubCloudsim *sim);

/* "The broker went away": all clients lose their connection, the port stays
 * reserved in mosquitto.conf. Stop: SIGTERM (like hub_cloudsim_stop());
 * kill: SIGKILL. Both return once the responder saw its connection drop. */
void hub_cloudsim_broker_stop(HubCloudsim *sim);
void hub_cloudsim_broker_kill(HubCloudsim *sim);
/* Starts the stopped or killed broker again on the same port and returns
 * once the responder has reconnected and subscribed again (state, counters,
 * things and issued certificates are kept; clients must reconnect). FALSE
 * when another process took the port meanwhile or the responder did not
 * subscribe within 5 s. Not after hub_cloudsim_stop(). */
gboolean hub_cloudsim_broker_start(HubCloudsim *sim);
/* hub_cloudsim_broker_stop() then hub_cloudsim_broker_start(); aborts the
 * test when the broker does not come back. */
void hub_cloudsim_restart(HubCloudsim *sim);
/* SIGSTOP (TRUE) or SIGCONT the broker: acknowledgements wait, connections stay. */
void hub_cloudsim_broker_pause(HubCloudsim *sim, gboolean pause);

/* A message a hub published on north/#. */
typedef struct {
	char *topic;
	char *payload; /* NUL-terminated copy */
	gsize len;
	gint64 received_us; /* monotonic */
} HubCloudsimMessage;
void hub_cloudsim_message_free(HubCloudsimMessage *message);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HubCloudsimMessage, hub_cloudsim_message_free)

/* Publishes @payload on @topic as the cloud (QoS 1). */
gboolean hub_cloudsim_send(HubCloudsim *sim, const char *topic, const void *payload, gsize len);
/* Copies of the messages recorded from index @from on (g_ptr_array_unref). */
GPtrArray *hub_cloudsim_uplink(HubCloudsim *sim, guint from);
/* Messages received on north/#, recorded or not. */
guint hub_cloudsim_uplink_count(HubCloudsim *sim);
/* The payload bytes of those messages. */
guint64 hub_cloudsim_uplink_bytes(HubCloudsim *sim);
/* TRUE: count what arrives, keep nothing (benchmarks; recorded indices then
 * no longer match the count). */
void hub_cloudsim_set_count_only(HubCloudsim *sim, gboolean count_only);
/* TRUE once at least @n messages were recorded. */
gboolean hub_cloudsim_wait_uplink(HubCloudsim *sim, guint n, guint timeout_ms);
