/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-cloud.h - the core's side of the cloud: the hub's identity
 * (iotmi_config.json), the active transport plugin ([cloud] transport=),
 * the MQTT sessions it opens through the host table, provisioning and
 * offboarding.
 *
 * The transport speaks the cloud's dialect (topics, payloads, the
 * provisioning protocol); this object owns what is the same for every
 * cloud: the persisted provisioning state, the certificate roles, the
 * sessions' status (D-Bus, hubctl) and offboarding (child devices checked,
 * permanent identity and device data erased, identity reset). Main thread.
 */
#pragma once

#include <glib.h>

#include <hubd/hub-transport.h>

#include "hub-identity.h"
#include "hub-outbox.h"
#include "hub-plugin-loader.h"

typedef struct _HubDaemon HubDaemon;
typedef struct _HubCloud HubCloud;

typedef struct {
	gboolean configured;      /* [cloud] present */
	char *transport;          /* plugin name */
	char *endpoint;           /* host:port, or NULL */
	char *provisioning_state; /* NOT_PROVISIONED, PROVISIONING, PROVISIONED, OFFBOARDING; NULL: unknown */
	char *step;               /* provisioning step reached, or NULL */
	char *failure_reason;     /* the last failure (also an unreadable identity file), or NULL */
	char *client_id;
	char *managed_thing_id;
	char *certificate_id;
	char *connection_state;   /* disconnected, connecting, connected, backing-off */
	char *connection_identity; /* the role of the current session: claim, permanent; NULL: none */
	char *connection_error;   /* why its last attempt failed, or NULL */
	gint64 next_attempt;      /* g_get_real_time() of its next attempt while backing off, else 0 */
	guint attempts;           /* its connect attempts */
	gboolean has_outbox;      /* the outbox is open; then: */
	HubOutboxStats outbox;
} HubCloudStatus;

void hub_cloud_status_free(HubCloudStatus *status);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HubCloudStatus, hub_cloud_status_free)

HubCloud *hub_cloud_new(HubDaemon *daemon);
/* Closes every session; call before the plugins' exit(). Idempotent. */
void hub_cloud_stop(HubCloud *cloud);
void hub_cloud_free(HubCloud *cloud); /* NULL-safe */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HubCloud, hub_cloud_free)

/* Before the plugins load: reads the identity file. Claim paths in it
 * become the file store's claim-certificate/claim-key. An unreadable or
 * invalid file is logged and shown in the status (the hub keeps running
 * without a cloud); never fatal. */
void hub_cloud_prepare(HubCloud *cloud);
/* After the plugins load: starts the transport (or resumes an offboarding). */
void hub_cloud_start(HubCloud *cloud);

HubCloudStatus *hub_cloud_get_status(HubCloud *cloud);

/* `hubctl provision`: (re)reads an identity file that could not be read,
 * then asks the transport to provision now. */
gboolean hub_cloud_provision(HubCloud *cloud, GError **error);

/* Called once when an offboarding ends; @error is NULL on success. */
typedef void (*HubCloudDoneFunc)(const GError *error, gpointer user_data);
/* `hubctl offboard`: refused (FALSE, @error) when there is no cloud, when
 * the hub is not provisioned or child devices remain, unless @force (which
 * also resets a hub stuck in any state). Otherwise starts it and calls
 * @done when it has finished. */
gboolean hub_cloud_offboard(HubCloud *cloud, gboolean force, HubCloudDoneFunc done, gpointer user_data,
			    GError **error);

/* ---- for the host table (hub-host.c); @plugin must be the active transport ---- */
gboolean hub_cloud_is_transport(HubCloud *cloud, HubPlugin *plugin);
char *hub_cloud_identity_get(HubCloud *cloud, const char *key);
gboolean hub_cloud_identity_update(HubCloud *cloud, const struct hub_identity_update *update, GError **error);
gint64 hub_cloud_mqtt_open(HubCloud *cloud, const struct hub_mqtt_params *params,
			   const struct hub_mqtt_callbacks *callbacks, void *user_data, GError **error);
void hub_cloud_mqtt_close(HubCloud *cloud, gint64 session_id);
gboolean hub_cloud_mqtt_subscribe(HubCloud *cloud, gint64 session_id, const char *topic, int qos, GError **error);
/* The message id, or -1 with @error. */
int hub_cloud_mqtt_publish(HubCloud *cloud, gint64 session_id, const char *topic, const void *payload, gsize len,
			   int qos, gboolean retain, GError **error);
gboolean hub_cloud_offboard_request(HubCloud *cloud, GError **error);
gboolean hub_cloud_uplink_attach(HubCloud *cloud, gint64 session_id, const struct hub_uplink_params *params,
				 GError **error);
int hub_cloud_downlink(HubCloud *cloud, guint32 channel, const void *payload, gsize len);
void hub_cloud_offboard_done(HubCloud *cloud);
