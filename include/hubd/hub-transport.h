/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-transport.h - cloud transports, plugin ABI v1.
 *
 * A transport is the dialect the hub speaks with one cloud: its topics, its
 * payloads and its provisioning protocol. The core owns everything the
 * dialects share, and offers it through the host table (hub-plugin.h, the
 * "cloud" section):
 *   - the MQTT session service: one libmosquitto client per session, TLS
 *     from a certificate role, backoff that never gives up, a per-client-id
 *     connect rate limit, keepalive, status on D-Bus and in hubctl;
 *   - the certificate roles (CSR from a key generated in the store, store
 *     or import the cloud's certificate; erasing is the core's, when it
 *     offboards);
 *   - the hub's identity (iotmi_config.json): read the OEM's "ro" fields,
 *     update the "rw" provisioning state atomically;
 *   - offboarding: the core checks for child devices, erases the permanent
 *     identity and the device data and resets the identity; the transport
 *     only tells the cloud;
 *   - the uplink: every state change, event, lifecycle change, capability
 *     report and answer to the cloud, in the shapes of doc/cloud-contract.md,
 *     through the durable outbox, on the session and topics the transport
 *     names (host->uplink_attach);
 *   - the downlink: the transport hands commands and setup tasks it received
 *     to the core (host->downlink), which validates, executes and answers
 *     them through the uplink.
 *
 * A transport is a plugin of kind HUB_PLUGIN_KIND_TRANSPORT whose
 * descriptor's ops point at a struct hub_transport_ops. One transport is
 * active at a time: the one named by [cloud] transport= in hubd.conf.
 *
 * Threading: every op and callback runs on the main thread.
 */
#ifndef HUBD_HUB_TRANSPORT_H
#define HUBD_HUB_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include <hubd/hub-plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Provisioning states (identity key "state"); the same as the seed's
 * iot_provisioning_state values. */
#define HUB_PROVISIONING_STATE_NOT_PROVISIONED UINT32_C(0)
#define HUB_PROVISIONING_STATE_PROVISIONING    UINT32_C(1)
#define HUB_PROVISIONING_STATE_PROVISIONED     UINT32_C(2)
#define HUB_PROVISIONING_STATE_OFFBOARDING     UINT32_C(3)

/* MQTT session states (struct hub_mqtt_callbacks.state_changed). */
#define HUB_MQTT_SESSION_DISCONNECTED UINT32_C(0)
#define HUB_MQTT_SESSION_CONNECTING   UINT32_C(1)
#define HUB_MQTT_SESSION_CONNECTED    UINT32_C(2)
#define HUB_MQTT_SESSION_BACKING_OFF  UINT32_C(3)

/* offboard() flags. */
#define HUB_OFFBOARD_FROM_CLOUD UINT32_C(1) /* the cloud asked (host->offboard_request) */

/* Uplink message kinds: struct hub_uplink_params.topics is indexed by them. */
#define HUB_UPLINK_COMMAND_ACK      UINT32_C(0) /* COMMAND_ACK: a command was accepted or refused */
#define HUB_UPLINK_COMMAND_RESPONSE UINT32_C(1) /* DEVICE_COMMAND_RESPONSE: its final result */
#define HUB_UPLINK_SETUP_RESPONSE   UINT32_C(2) /* SETUP_RESPONSE: the answer to a setup task */
#define HUB_UPLINK_STATE            UINT32_C(3) /* DEVICE_STATE: property changes, full states */
#define HUB_UPLINK_EVENT            UINT32_C(4) /* DEVICE_EVENT: data-model events */
#define HUB_UPLINK_LIFECYCLE        UINT32_C(5) /* DEVICE_LIFE_CYCLE: added, removed, on-/offline */
#define HUB_UPLINK_CAPABILITIES     UINT32_C(6) /* CAPABILITY_REPORT: what a device can do */
#define HUB_UPLINK_N_KINDS          UINT32_C(7)

/* Downlink channels (host->downlink). */
#define HUB_DOWNLINK_COMMAND UINT32_C(0) /* a command (SendManagedThingCommand shape) */
#define HUB_DOWNLINK_SETUP   UINT32_C(1) /* a setup task (device onboarding) */

/* Where the core publishes the uplink (host->uplink_attach). */
struct hub_uplink_params {
	uint32_t struct_size; /* sizeof(struct hub_uplink_params) */
	uint32_t n_topics;    /* entries in @topics, at most HUB_UPLINK_N_KINDS */
	/* The topic of each kind; NULL: the transport carries no such messages
	 * (they are dropped and counted as unsendable). Copied by the host. */
	const char *const *topics;
};

/* struct hub_mqtt_params.flags */
#define HUB_MQTT_PLAIN UINT32_C(1) /* no TLS: plain TCP (a local broker only) */

/* What host->mqtt_open() connects to. By default the identity's endpoint,
 * [cloud] port and the identity's keepalive; a transport that talks to a
 * broker of its own configuration names it (host and the fields after it).
 * Backoff and the connect rate limit always come from the hub's
 * configuration. */
struct hub_mqtt_params {
	uint32_t struct_size; /* sizeof(struct hub_mqtt_params) */
	/* The client certificate: HUB_CERT_ROLE_CLAIM or HUB_CERT_ROLE_PERMANENT
	 * (hub-certstore.h), or 0: none (the server is still verified against
	 * the root-ca role unless HUB_MQTT_PLAIN). */
	uint32_t cert_role;
	const char *client_id; /* required, 1-128 characters */
	/* Optional; NULL / 0: the identity's endpoint and the [cloud] settings. */
	const char *host;
	uint32_t port;         /* 0: [cloud] port */
	uint32_t flags;        /* HUB_MQTT_* */
	const char *username;  /* MQTT user name and password, or NULL */
	const char *password;  /* copied and wiped by the host when the session is freed */
	uint32_t keepalive_s;  /* 30-1200; 0: the identity's, else 300 */
	uint32_t reserved;
};

/* Session callbacks; @user_data is the one given to mqtt_open(). */
struct hub_mqtt_callbacks {
	uint32_t struct_size; /* sizeof(struct hub_mqtt_callbacks) */
	uint32_t reserved;
	/* The session's state changed (HUB_MQTT_SESSION_*). @error says why the
	 * last attempt or connection failed, or is NULL. Subscriptions are
	 * renewed before CONNECTED is reported, so a request published from
	 * here comes after them. The first call (CONNECTING) comes from inside
	 * mqtt_open(), before the transport knows the session id. */
	void (*state_changed)(uint32_t state, const char *error, void *user_data);
	/* A message on a subscribed topic. @payload is not NUL-terminated and
	 * is valid during the call only. */
	void (*message)(const char *topic, const void *payload, size_t len, void *user_data);
	/* The broker acknowledged the QoS 1 publish @message_id. May be NULL. */
	void (*published)(int32_t message_id, void *user_data);
};

/* Identity fields an update changes; NULL leaves a field as it is, "" clears
 * it. The update is written to the identity file atomically. */
struct hub_identity_update {
	uint32_t struct_size; /* sizeof(struct hub_identity_update) */
	int32_t state;        /* HUB_PROVISIONING_STATE_*, or -1: unchanged */
	const char *step;     /* the provisioning step reached (the transport's own names) */
	const char *failure_reason;
	const char *client_id;
	const char *managed_thing_id;
	const char *certificate_id;
};

struct hub_transport_ops {
	uint32_t struct_size; /* sizeof(struct hub_transport_ops) */
	uint32_t reserved;

	/* The daemon has loaded every plugin and the identity. The transport
	 * resumes from the identity's state: provisions when it is
	 * NOT_PROVISIONED or PROVISIONING (from the step reached), connects with
	 * the permanent identity when PROVISIONED. Returns 0 or -errno. */
	int (*start)(void *user_data);

	/* `hubctl provision`: start or resume provisioning now, without
	 * waiting for a retry delay. -EALREADY when provisioned. On failure
	 * write one sentence into @message (@message_size bytes). */
	int (*provision)(void *user_data, char *message, size_t message_size);

	/* The core is offboarding the hub (state OFFBOARDING is persisted; also
	 * at start when a stop interrupted one). Tell the cloud (when @flags
	 * has HUB_OFFBOARD_FROM_CLOUD, acknowledge its request), close every
	 * session and forget provisioning progress, then call
	 * host->offboard_done() exactly once, also when the cloud cannot be
	 * reached (after a bounded wait; say so in the log). The core erases
	 * the permanent identity and the devices afterwards, then calls
	 * start() again, from inside offboard_done(). If the transport takes
	 * longer than the core's own bound (30 s) the core closes its sessions
	 * and calls start() without waiting: start() then begins afresh. */
	int (*offboard)(void *user_data, uint32_t flags);
};

#ifdef __cplusplus
}
#endif

#endif /* HUBD_HUB_TRANSPORT_H */
