/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-identity.h - the hub's cloud identity file, in the seed's
 * iotmi_config.json format, so a file written for the AWS SDK works as is:
 *
 *   { "ro": { written by the OEM: method, claim paths, template, endpoint, SN, UPC/EAN },
 *     "rw": { written by hubd: provisioning state, client id, managed thing id, ... } }
 *
 * Loading validates every field and names the one that is wrong. The
 * endpoint's canonical key is "endpoint_url"; the seed's other spellings
 * ("iot_endpoint_url", "sh_endpoint_url") are accepted with a warning. A
 * claim path of "SECURE_STORAGE" means "the certificate store configured for
 * the claim role". Saving rewrites only "rw" (unknown members kept, "ro" kept
 * byte for byte as a JSON value) and is atomic: a crash leaves the old file
 * or the new one.
 */
#pragma once

#include <glib.h>

typedef enum {
	HUB_PROVISIONING_NOT_PROVISIONED,
	HUB_PROVISIONING_PROVISIONING,
	HUB_PROVISIONING_PROVISIONED,
	HUB_PROVISIONING_OFFBOARDING,
} HubProvisioningState;

/* "NOT_PROVISIONED", "PROVISIONING", "PROVISIONED", "OFFBOARDING". */
const char *hub_provisioning_state_to_string(HubProvisioningState state);
gboolean hub_provisioning_state_from_string(const char *text, HubProvisioningState *state);

#define HUB_IDENTITY_SECURE_STORAGE "SECURE_STORAGE"

typedef struct {
	/* ro */
	char *method;          /* "FLEET_PROVISIONING" */
	char *claim_cert_path; /* NULL: SECURE_STORAGE, the configured store */
	char *claim_key_path;  /* NULL: SECURE_STORAGE */
	char *template_name;   /* fp_template_name */
	char *endpoint;        /* endpoint_url, a host name */
	char *serial_number;   /* SN */
	char *upc;             /* UPC, or NULL */
	char *ean;             /* EAN, or NULL (exactly one of the two) */
	guint keepalive_s;     /* mqtt_keep_alive_interval, 30-1200, default 300 */

	/* rw: change them, then hub_identity_save() */
	HubProvisioningState state;
	char *step;            /* hubd: the provisioning step reached, to resume after a crash */
	char *failure_reason;  /* hubd: why the last attempt failed, NULL when none */
	char *client_id;
	char *managed_thing_id;
	char *certificate_id;  /* hubd: the permanent certificate's id in the cloud */
	gint64 last_updated;   /* metadata.last_updated_epoch_time, seconds */

	/* private */
	char *path;
	struct _JsonNode *document;
} HubIdentity;

/* Loads and validates @path. HUB_ERROR_NOT_FOUND when it does not exist,
 * HUB_ERROR_INVALID_ARGUMENT naming the file and the field otherwise. */
HubIdentity *hub_identity_load(const char *path, GError **error);
void hub_identity_free(HubIdentity *identity); /* NULL-safe */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HubIdentity, hub_identity_free)

/* Writes the rw members back (and metadata.last_updated_epoch_time = now),
 * atomically. On failure the file on disk is unchanged. */
gboolean hub_identity_save(HubIdentity *identity, GError **error);
