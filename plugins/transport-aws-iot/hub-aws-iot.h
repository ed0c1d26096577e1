/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-aws-iot.h - private declarations of the aws-iot transport plugin.
 *
 *   hub-aws-iot.c               descriptor, configuration, transport ops, the
 *                               permanent session, the cloud's delete request
 *                               and offboarding
 *   hub-aws-iot-provisioning.c  fleet provisioning by claim
 *
 * Provisioning progress is persisted in the identity's rw section
 * (host->identity_update) as a step, so a crash at any point resumes:
 *   (none) / "claim-connect"  nothing usable yet: ask for a certificate
 *   "certificate-issued"      the permanent certificate is in the store and
 *                             the ownership token in the plugin's kv store:
 *                             RegisterThing next
 *   "thing-registered"        client id and managed thing id are saved:
 *                             connect with the permanent identity
 * PROVISIONED is written after the first CONNACK with the permanent identity.
 *
 * Everything runs on the host's main thread.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include <hubd/hub-certstore.h>
#include <hubd/hub-plugin.h>
#include <hubd/hub-transport.h>

#ifdef PACKAGE_VERSION
#define AWS_IOT_VERSION PACKAGE_VERSION
#else
#define AWS_IOT_VERSION "0.1.0"
#endif

#define AWS_IOT_STEP_CLAIM_CONNECT "claim-connect"
#define AWS_IOT_STEP_CERTIFICATE_ISSUED "certificate-issued"
#define AWS_IOT_STEP_THING_REGISTERED "thing-registered"

/* kv key of the certificate ownership token between the two API calls. */
#define AWS_IOT_KV_OWNERSHIP_TOKEN "ownership-token"

/* Larger answers are refused: a certificate with its key is about 5 KB. */
#define AWS_IOT_MAX_RESPONSE_BYTES 65536

typedef enum {
	AWS_IOT_IDLE,
	AWS_IOT_PROVISIONING,   /* claim session: requests and answers */
	AWS_IOT_CONNECTING,     /* permanent session, not provisioned yet or reconnecting */
	AWS_IOT_OFFBOARDING,
} AwsIotPhase;

typedef struct {
	const struct hub_host *host;
	struct hub_plugin *handle;

	/* [plugin.aws-iot] */
	gboolean create_keys;       /* certificate-method=create-keys */
	guint response_timeout_ms;  /* an API answer must come within it */
	guint retry_base_ms;        /* full-jitter backoff after a failed step */
	guint retry_cap_ms;

	AwsIotPhase phase;
	int64_t session;            /* the open session (claim or permanent), 0 = none */
	gboolean connected;
	char *client_id;            /* of the permanent session */
	char *managed_thing_id;

	/* provisioning */
	guint failures;             /* consecutive failed steps, for the backoff */
	int64_t response_timer;
	int64_t retry_timer;
	char *pending_api;          /* the API whose answer is awaited, NULL when none */

	/* offboarding */
	int32_t offboard_mid;       /* the lifecycle report's message id, -1 = not sent */
	int64_t offboard_timer;
} AwsIot;

void aws_iot_log(AwsIot *aws, int level, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
/* A fresh copy of an identity field (g_free), or NULL. */
char *aws_iot_identity(AwsIot *aws, const char *key);
/* Writes an identity update; logs and returns FALSE on failure. */
gboolean aws_iot_update(AwsIot *aws, const struct hub_identity_update *update);
/* Closes the open session, if any. */
void aws_iot_close_session(AwsIot *aws);
/* Connects with the permanent identity saved in the identity. */
void aws_iot_connect_permanent(AwsIot *aws);

/* hub-aws-iot-provisioning.c */
/* Counts a failure, shows @reason (identity and log) and calls @retry
 * after a full-jitter delay (retry-base-ms doubling up to retry-cap-ms). */
void aws_iot_retry_later(AwsIot *aws, const char *reason, int (*retry)(void *user_data));
/* Starts or resumes fleet provisioning from the identity's step. */
void aws_iot_provisioning_begin(AwsIot *aws);
/* `hubctl provision` while provisioning: retry now instead of after the delay. */
void aws_iot_provisioning_retry_now(AwsIot *aws);
/* Cancels the provisioning timers and forgets what was awaited. */
void aws_iot_provisioning_reset(AwsIot *aws);
