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
 * Unlike AWS, a reply goes to every client subscribed to the reply topic
 * (mosquitto cannot address one connection), so run one claim client at a
 * time. Failures to start the broker abort the test (like HubTestBroker).
 * All functions may be called from any thread.
 */
#pragma once

#include <glib.h>

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

/* A certificate the cloud issued. thing_name and managed_thing_id are NULL
 * until RegisterThing used its ownership token. */
typedef struct {
	char *certificate_id; /* hex SHA-256 of the DER certificate, as AWS */
	char *certificate_pem;
	HubCloudsimApi api;   /* CREATE_FROM_CSR or CREATE_KEYS */
	char *thing_name;     /* the MQTT client id the hub must use */
	char *managed_thing_id;
} HubCloudsimIssued;

/* A managed thing registered beforehand (owned by the cloudsim). */
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

/* Registers a managed thing: RegisterThing accepts only parameters whose
 * "SerialNumber" (or "SN") and "UPC" (or "EAN") match a registered thing.
 * Its ids are made up (managedThingId "mt-<hex>", thing name / client id
 * "hub-<hex>", different from each other). */
const HubCloudsimThing *hub_cloudsim_add_managed_thing(HubCloudsim *sim, const char *serial_number,
						       const char *product_code);
/* Only RegisterThing for template @name succeeds (default
 * HUB_CLOUDSIM_DEFAULT_TEMPLATE); others get 404 ResourceNotFoundException. */
void hub_cloudsim_set_template(HubCloudsim *sim, const char *name);
/* The next @n requests to @api get 429 "Throttling". */
void hub_cloudsim_set_throttle(HubCloudsim *sim, HubCloudsimApi api, guint n);

/* Requests received per API (answered or not). */
guint hub_cloudsim_count(HubCloudsim *sim, HubCloudsimApi api);
/* Accepted and rejected answers sent per API. */
guint hub_cloudsim_accepted(HubCloudsim *sim, HubCloudsimApi api);
guint hub_cloudsim_rejected(HubCloudsim *sim, HubCloudsimApi api);
/* A snapshot of the certificates issued so far, oldest first
 * (HubCloudsimIssued *, g_ptr_array_unref frees them). */
GPtrArray *hub_cloudsim_issued(HubCloudsim *sim);
