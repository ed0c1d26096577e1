/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-plugin.h - plugin descriptor, version negotiation and the host table.
 *
 * hubd plugin ABI v1. A plugin is a shared object that exports exactly one
 * symbol, hub_plugin_query(). It returns a NULL-terminated array of
 * descriptors (one .so may provide several plugins). The host accepts a
 * descriptor when abi_major equals HUB_PLUGIN_ABI_MAJOR and abi_minor is not
 * greater than the host's HUB_PLUGIN_ABI_MINOR.
 *
 * Growth rule: every struct crossing the boundary starts with a size or
 * version field and only grows by appending members. A reader checks
 * struct_size before touching a member added in a later minor version
 * (see HUB_STRUCT_HAS()).
 *
 * Threading: the host runs one main loop. Every host function and every
 * plugin callback runs on the main thread unless its comment says otherwise.
 * A plugin that must block uses its own thread and hands work back with
 * host->invoke_main(), which is the one call that is safe from any thread
 * (host->log is too).
 *
 * Errors: functions return 0 or a positive count on success and a negative
 * errno on failure. Where a message helps, the host logs it; plugins log
 * through host->log().
 */
#ifndef HUBD_HUB_PLUGIN_H
#define HUBD_HUB_PLUGIN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <hubd/hub-value.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HUB_PLUGIN_ABI_MAJOR 1
#define HUB_PLUGIN_ABI_MINOR 0

#if defined(__GNUC__)
#define HUB_PLUGIN_EXPORT __attribute__((visibility("default")))
#define HUB_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define HUB_PLUGIN_EXPORT
#define HUB_PRINTF(a, b)
#endif

/* True when a struct of @size bytes contains @member (for tables that grew). */
#define HUB_STRUCT_HAS(ptr, size, member) \
	((size_t)(size) >= offsetof(__typeof__(*(ptr)), member) + sizeof((ptr)->member))

/* Plugin kinds (descriptor.kind). */
#define HUB_PLUGIN_KIND_PROTOCOL  UINT32_C(1) /* ops: struct hub_protocol_ops */
#define HUB_PLUGIN_KIND_CERTSTORE UINT32_C(2) /* ops: struct hub_certstore_ops (hub-certstore.h) */
#define HUB_PLUGIN_KIND_TRANSPORT UINT32_C(3) /* ops: struct hub_transport_ops (hub-transport.h) */

/* Descriptor flags. */
#define HUB_PLUGIN_FLAG_IN_TREE UINT32_C(1) /* built from the hubd source tree; others taint */

/* Log levels for host->log (syslog numbering). */
#define HUB_LOG_ERR     3
#define HUB_LOG_WARNING 4
#define HUB_LOG_NOTICE  5
#define HUB_LOG_INFO    6
#define HUB_LOG_DEBUG   7

/* Opaque handle the host gives each plugin instance; pass it back on every host call. */
struct hub_plugin;
/* Defined in hub-transport.h. */
struct hub_identity_update;
struct hub_mqtt_params;
struct hub_mqtt_callbacks;
struct hub_uplink_params;

/* Device identity a protocol plugin gives when it adds a device. */
struct hub_device_info {
	uint32_t struct_size;     /* sizeof(struct hub_device_info) */
	uint32_t reserved;
	const char *id;           /* required: unique and stable within the plugin, [A-Za-z0-9._:-]{1,128} */
	const char *name;         /* optional human-readable name */
	const char *manufacturer; /* optional */
	const char *model;        /* optional */
	const char *serial;       /* optional */
	const char *firmware;     /* optional */
};

struct hub_host {
	uint32_t struct_size; /* sizeof(struct hub_host) of the host that built it */
	uint32_t abi_major;   /* the host's HUB_PLUGIN_ABI_MAJOR */
	uint32_t abi_minor;   /* the host's HUB_PLUGIN_ABI_MINOR */
	uint32_t reserved;

	/* ---- general services ---- */

	/* Logs a message in the plugin's log domain. Any thread. Never log secrets. */
	void (*log)(struct hub_plugin *plugin, int level, const char *fmt, ...) HUB_PRINTF(3, 4);

	/* Returns the value of @key in the plugin's configuration group
	 * ("[plugin.<name>]" in hubd.conf), or NULL. The string stays valid until
	 * exit() returns. */
	const char *(*config_get)(struct hub_plugin *plugin, const char *key);

	/* Resolves @path against the directory of the daemon's configuration file.
	 * Returns a malloc'ed string the plugin frees with free(), or NULL. */
	char *(*config_resolve_path)(struct hub_plugin *plugin, const char *path);

	/* Calls @fn(@user_data) after @interval_ms, again every @interval_ms while
	 * it returns non-zero. Returns a timer id > 0, or a negative errno. */
	int64_t (*timer_add)(struct hub_plugin *plugin, uint32_t interval_ms,
			     int (*fn)(void *user_data), void *user_data);
	/* Cancels a timer; unknown or fired ids are ignored. */
	void (*timer_remove)(struct hub_plugin *plugin, int64_t timer_id);

	/* Calls @fn(@fd, @revents, @user_data) when @fd has any of @events (poll
	 * bits). The plugin keeps owning @fd. Returns a watch id > 0 or -errno. */
	int64_t (*fd_watch_add)(struct hub_plugin *plugin, int fd, uint32_t events,
				void (*fn)(int fd, uint32_t revents, void *user_data), void *user_data);
	void (*fd_watch_remove)(struct hub_plugin *plugin, int64_t watch_id);

	/* Queues @fn(@user_data) to run on the main loop. Safe from any thread.
	 * Returns 0 or -errno. */
	int (*invoke_main)(struct hub_plugin *plugin, void (*fn)(void *user_data), void *user_data);

	/* Small persistent key/value store private to the plugin (kept in the
	 * daemon's database). kv_get returns a malloc'ed copy (free() it) or NULL.
	 * A value kv_set stored survives a crash once kv_set has returned 0;
	 * -EIO when the database could not commit it (it may still be later). */
	char *(*kv_get)(struct hub_plugin *plugin, const char *key);
	int (*kv_set)(struct hub_plugin *plugin, const char *key, const char *value); /* NULL deletes */

	/* ---- registry (protocol plugins) ---- */

	/* Starts adding a device. Then add endpoints and capabilities, then call
	 * device_ready() to publish it. Adding an id that exists restarts its
	 * description (used on every start for already-onboarded devices).
	 * -EINVAL: bad id; -EEXIST: id owned by another plugin. */
	int (*device_add)(struct hub_plugin *plugin, const struct hub_device_info *info);
	/* @device_types: comma-separated, e.g. "Extended Color Light"; may be NULL. */
	int (*endpoint_add)(struct hub_plugin *plugin, const char *device_id, const char *endpoint_id,
			    const char *device_types);
	/* @capability_id: "matter.OnOff@1.4". -ENOENT when the catalog has no such capability. */
	int (*capability_add)(struct hub_plugin *plugin, const char *device_id, const char *endpoint_id,
			      const char *capability_id);
	/* Validates and publishes the device (on D-Bus, in the store). */
	int (*device_ready)(struct hub_plugin *plugin, const char *device_id);
	/* Removes the device and its state everywhere. */
	int (*device_remove)(struct hub_plugin *plugin, const char *device_id);

	/* Reports the current value of a property. The host validates it against
	 * the capability catalog and stamps lastChangedAt when it differs from
	 * the stored one. Errors (logged by the host, value not stored): -EINVAL
	 * for a value that violates the schema, -ENOENT for an unknown device,
	 * endpoint, capability or property, -ENOTSUP for a property the catalog
	 * marks not "reportable" outside a read or write of it in progress. */
	int (*report_property)(struct hub_plugin *plugin, const char *device_id, const char *endpoint_id,
			       const char *capability_id, const char *property, const struct hub_value *value);
	/* Reports an event defined by the capability. -ENOENT: unknown event. */
	int (*report_event)(struct hub_plugin *plugin, const char *device_id, const char *endpoint_id,
			    const char *capability_id, const char *event, const struct hub_param *params,
			    size_t n_params);
	/* Online (1) or offline (0). */
	int (*set_online)(struct hub_plugin *plugin, const char *device_id, int32_t online);
	/* Health figures: keys "battery" (percent), "rssi" (dBm), "lqi", ... */
	int (*report_health)(struct hub_plugin *plugin, const char *device_id, const char *key,
			     const struct hub_value *value);

	/* Completes a command the host started with invoke/read/write. Call it
	 * exactly once per command id, on success or failure, possibly from within
	 * the op itself. @response_code is 100-599 (HTTP semantics). @params are
	 * the action's response parameters. @error_code ([A-Za-z0-9_]{1,64}) and
	 * @error_message may be NULL. -ENOENT: unknown or already finished id
	 * (for example timed out). */
	int (*command_complete)(struct hub_plugin *plugin, uint64_t command_id, int32_t response_code,
				const struct hub_param *params, size_t n_params, const char *error_code,
				const char *error_message);

	/* During a discovery window: reports a device that can be onboarded.
	 * @discovered_id is what onboard() will receive. */
	int (*device_discovered)(struct hub_plugin *plugin, const char *discovered_id, const char *name,
				 const char *device_types);

	/* As log(), with a va_list, for plugins that wrap logging in their own
	 * variadic helpers. Any thread. */
	void (*vlog)(struct hub_plugin *plugin, int level, const char *fmt, va_list ap) HUB_PRINTF(3, 0);

	/* A directory private to the plugin (<state-dir>/plugins/<name>, mode
	 * 0700, owned by the daemon's user), created on the first call. NULL
	 * (logged) when it cannot be created. Valid until exit() returns. */
	const char *(*state_dir)(struct hub_plugin *plugin);

	/* ---- cloud (transport plugins, hub-transport.h) ----
	 * Only the active transport ([cloud] transport=) may call these; others
	 * get -EPERM (NULL for the calls that return strings). Failures write
	 * one sentence into @message (@message_size bytes) where there is one. */

	/* A field of the hub's identity, malloc'ed (free() it), or NULL when it
	 * is not set. Keys: "state" (NOT_PROVISIONED, ...), "step",
	 * "failure_reason", "method", "template_name", "endpoint",
	 * "serial_number", "upc", "ean", "client_id", "managed_thing_id",
	 * "certificate_id". */
	char *(*identity_get)(struct hub_plugin *plugin, const char *key);
	/* Applies @update and saves the identity atomically; on failure nothing
	 * changes, in memory or on disk. */
	int (*identity_update)(struct hub_plugin *plugin, const struct hub_identity_update *update, char *message,
			       size_t message_size);

	/* A PEM CSR (malloc'ed) signed by @role's key, subject CN and
	 * serialNumber = the hub's serial number ([hubd] serial-number, else
	 * the identity's ro.SN, else /etc/machine-id). @new_key non-zero generates the key in the store
	 * first (EC P-256); otherwise the stored key is used (one is generated
	 * when there is none). NULL on failure. */
	char *(*cert_create_csr)(struct hub_plugin *plugin, uint32_t role, int32_t new_key, char *message,
				 size_t message_size);
	/* Stores a PEM certificate chain for @role; refused (nothing written)
	 * when the leaf does not match the role's key. */
	int (*cert_store)(struct hub_plugin *plugin, uint32_t role, const char *certificate_pem, char *message,
			  size_t message_size);
	/* Imports a certificate and its private key (PEM) into @role; refused
	 * when they do not match or the store cannot import keys. */
	int (*cert_import)(struct hub_plugin *plugin, uint32_t role, const char *certificate_pem,
			   const char *key_pem, char *message, size_t message_size);

	/* Opens an MQTT session to the hub's cloud endpoint with the identity
	 * of @params->cert_role and starts connecting (then reconnecting for as
	 * long as it is open). Returns a session id > 0 or -errno. The latest
	 * session a transport opened is the one hubctl status shows. */
	int64_t (*mqtt_open)(struct hub_plugin *plugin, const struct hub_mqtt_params *params,
			     const struct hub_mqtt_callbacks *callbacks, void *user_data, char *message,
			     size_t message_size);
	/* Disconnects (DISCONNECT when connected) and frees the session; no
	 * callback runs after it returns. Unknown ids are ignored. */
	void (*mqtt_close)(struct hub_plugin *plugin, int64_t session_id);
	/* Subscribes now when connected and again on every reconnect. QoS 0 or 1. */
	int (*mqtt_subscribe)(struct hub_plugin *plugin, int64_t session_id, const char *topic, int32_t qos);
	/* Publishes when connected: returns the message id (>= 0) or -ENOTCONN,
	 * -EINVAL (topic, QoS), -ENOENT (no such session), -EIO. The session
	 * does not keep messages while disconnected. */
	int32_t (*mqtt_publish)(struct hub_plugin *plugin, int64_t session_id, const char *topic,
				const void *payload, size_t len, int32_t qos, int32_t retain);

	/* The cloud asked to delete the hub: the core offboards it (see
	 * hub_transport_ops.offboard) without checking for child devices, since
	 * the cloud has decided. 0 or -errno (-EALREADY: already offboarding). */
	int (*offboard_request)(struct hub_plugin *plugin);
	/* The transport finished its part of an offboarding; the core erases the
	 * permanent identity and the device data and resets the identity. */
	void (*offboard_done)(struct hub_plugin *plugin);

	/* The core publishes the uplink (hub-transport.h) on @session_id from
	 * now on, QoS 1, whenever the session is connected: the outbox in queue
	 * order, after a full state of every device on each connect. The
	 * session's published() callback then sees only the transport's own
	 * message ids. Until the session is closed or another is attached.
	 * 0 or -EINVAL (a topic), -ENOENT (no such session), -EIO (no outbox). */
	int (*uplink_attach)(struct hub_plugin *plugin, int64_t session_id, const struct hub_uplink_params *params);
	/* A message from the cloud on @channel (HUB_DOWNLINK_*), @payload not
	 * NUL-terminated. The core answers through the uplink, errors included.
	 * 0 or -EINVAL (unknown channel). */
	int (*downlink)(struct hub_plugin *plugin, uint32_t channel, const void *payload, size_t len);
};

/*
 * The descriptor. Static and const in the plugin; the host never writes it.
 *
 * init() is called once, on the main thread, after negotiation. It receives
 * the host table (valid until exit() returns) and the plugin's handle, and
 * stores its own state in *@user_data. A negative errno refuses the plugin
 * (logged with the reason); exit() is not called then.
 * exit() releases everything; after it the plugin makes no host calls.
 */
struct hub_plugin_descriptor {
	uint32_t abi_major;   /* HUB_PLUGIN_ABI_MAJOR the plugin was built with */
	uint32_t abi_minor;   /* HUB_PLUGIN_ABI_MINOR the plugin was built with */
	uint32_t struct_size; /* sizeof(struct hub_plugin_descriptor) */
	uint32_t kind;        /* HUB_PLUGIN_KIND_* */
	const char *name;     /* [a-z0-9][a-z0-9-]{0,31}, unique across loaded plugins */
	const char *version;  /* the plugin's own version string */
	int (*init)(const struct hub_host *host, struct hub_plugin *plugin, void **user_data);
	void (*exit)(void *user_data);
	const void *ops;      /* kind-specific table, e.g. const struct hub_protocol_ops * */
	uint32_t flags;       /* HUB_PLUGIN_FLAG_* */
	uint32_t reserved[7]; /* zero */
};

/* The one exported symbol. Returns a NULL-terminated array of descriptors that
 * lives as long as the shared object is loaded. */
typedef const struct hub_plugin_descriptor *const *(*hub_plugin_query_fn)(void);
HUB_PLUGIN_EXPORT const struct hub_plugin_descriptor *const *hub_plugin_query(void);
#define HUB_PLUGIN_QUERY_SYMBOL "hub_plugin_query"

#ifdef __cplusplus
}
#endif

#endif /* HUBD_HUB_PLUGIN_H */
