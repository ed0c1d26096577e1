/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <hubd/hub-certstore.h>

#include "hub-cloud-module.h"
#include "hub-cloud.h"
#include "hub-daemon.h"
#include "hub-downlink.h"
#include "hub-error.h"
#include "hub-host.h"
#include "hub-mqtt-engine.h"
#include "hub-outbox.h"
#include "hub-uplink.h"

/* How long the transport may take to tell the cloud before the core
 * finishes an offboarding without it. */
#define OFFBOARD_TIMEOUT_S 30

typedef struct {
	HubCloud *cloud;
	gint64 id;
	HubMqttSession *session;
	guint32 role;
	struct hub_mqtt_callbacks callbacks; /* the transport's, zero-extended */
	void *user_data;
} Session;

typedef struct {
	HubCloudDoneFunc func;
	gpointer user_data;
} Waiter;

struct _HubCloud {
	HubDaemon *daemon;
	HubIdentity *identity;     /* NULL: no cloud, or the file could not be read */
	char *identity_error;      /* why it could not */
	char *transport_error;     /* why [cloud] transport= is not usable */
	HubPlugin *transport;      /* the active transport, once started */
	const HubMqttEngine *mqtt; /* NULL until the first session */
	GHashTable *sessions;      /* gint64 id -> Session */
	GPtrArray *closing;        /* Sessions closed inside their own callbacks, freed from an idle */
	guint closing_source;
	gint64 next_session_id;
	gint64 current_session;    /* the transport's latest: what the status shows */
	gboolean offboarding;      /* the transport's part is under way */
	guint offboard_timeout;
	GArray *offboard_waiters;  /* Waiter */
	gboolean stopped;

	HubOutbox *outbox;         /* NULL: no cloud, or the file could not be opened */
	HubUplink *uplink;
	HubDownlink *downlink;
	gint64 uplink_session;     /* the session the uplink is attached to, 0: none */
	gboolean uplink_connected;
};

void hub_cloud_status_free(HubCloudStatus *status)
{
	if (!status)
		return;
	g_free(status->transport);
	g_free(status->endpoint);
	g_free(status->provisioning_state);
	g_free(status->step);
	g_free(status->failure_reason);
	g_free(status->client_id);
	g_free(status->managed_thing_id);
	g_free(status->certificate_id);
	g_free(status->connection_state);
	g_free(status->connection_identity);
	g_free(status->connection_error);
	g_free(status);
}

static void session_free(Session *s)
{
	/* Whatever the session reports while it goes down reaches nobody. */
	memset(&s->callbacks, 0, sizeof(s->callbacks));
	s->cloud->current_session = s->cloud->current_session == s->id ? 0 : s->cloud->current_session;
	if (s->session)
		s->cloud->mqtt->session_free(s->session);
	g_free(s);
}

HubCloud *hub_cloud_new(HubDaemon *daemon)
{
	HubCloud *cloud = g_new0(HubCloud, 1);

	cloud->daemon = daemon;
	cloud->sessions = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, (GDestroyNotify)session_free);
	cloud->closing = g_ptr_array_new_with_free_func((GDestroyNotify)session_free);
	cloud->offboard_waiters = g_array_new(FALSE, FALSE, sizeof(Waiter));
	cloud->next_session_id = 1;
	return cloud;
}

static void changed(HubCloud *cloud)
{
	HubEvent event = { .type = HUB_EVENT_CLOUD_CHANGED };

	if (!cloud->stopped)
		hub_event_bus_emit(cloud->daemon->bus, &event);
}

static void finish_waiters(HubCloud *cloud, const GError *error)
{
	g_autoptr(GArray) waiters = cloud->offboard_waiters;

	cloud->offboard_waiters = g_array_new(FALSE, FALSE, sizeof(Waiter));
	for (guint i = 0; i < waiters->len; i++) {
		Waiter *w = &g_array_index(waiters, Waiter, i);

		w->func(error, w->user_data);
	}
}

void hub_cloud_stop(HubCloud *cloud)
{
	g_autoptr(GError) error = NULL;

	if (cloud->stopped)
		return;
	g_clear_handle_id(&cloud->offboard_timeout, g_source_remove);
	if (cloud->offboard_waiters->len) {
		error = g_error_new(HUB_ERROR, HUB_ERROR_FAILED,
				    "hubd is stopping; the offboarding resumes when it starts again");
		finish_waiters(cloud, error);
	}
	cloud->stopped = TRUE;
	if (cloud->uplink)
		hub_uplink_detach(cloud->uplink);
	cloud->uplink_session = 0;
	g_hash_table_remove_all(cloud->sessions);
	g_ptr_array_set_size(cloud->closing, 0);
	g_clear_handle_id(&cloud->closing_source, g_source_remove);
}

void hub_cloud_free(HubCloud *cloud)
{
	if (!cloud)
		return;
	hub_cloud_stop(cloud);
	g_hash_table_unref(cloud->sessions);
	g_ptr_array_unref(cloud->closing);
	g_array_unref(cloud->offboard_waiters);
	hub_downlink_free(cloud->downlink);
	hub_uplink_free(cloud->uplink);
	hub_outbox_free(cloud->outbox);
	hub_identity_free(cloud->identity);
	g_free(cloud->identity_error);
	g_free(cloud->transport_error);
	g_free(cloud);
}

/* ---- identity ---- */

/* Claim paths in iotmi_config.json are where the file store finds the
 * claim credential; any other store cannot take a path. */
static gboolean apply_claim_paths(HubCloud *cloud, HubIdentity *identity, GError **error)
{
	HubConfig *config = cloud->daemon->config;
	const char *store = config->cert_stores[HUB_CERT_ROLE_CLAIM];
	g_autofree char *group = NULL;

	if (!identity->claim_cert_path)
		return TRUE;
	if (g_strcmp0(store, "file") != 0) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT,
			    "%s: ro.iot_claim_cert_path names a file, but the claim role is kept by the '%s' store; "
			    "set it and ro.iot_claim_pk_path to SECURE_STORAGE",
			    identity->path, store ? store : "(none)");
		return FALSE;
	}
	group = g_strdup_printf("plugin.%s", store);
	g_key_file_set_string(config->keyfile, group, "claim-certificate", identity->claim_cert_path);
	g_key_file_set_string(config->keyfile, group, "claim-key", identity->claim_key_path);
	return TRUE;
}

/* The uplink queues while the hub is provisioned; commands must name this hub. */
static void sync_uplink(HubCloud *cloud)
{
	if (!cloud->uplink)
		return;
	/* Without an identity file (a broker of the transport's own) there is nothing to provision. */
	hub_uplink_set_enabled(cloud->uplink, cloud->identity ? cloud->identity->state == HUB_PROVISIONING_PROVISIONED
							      : !cloud->daemon->config->cloud.identity);
	hub_downlink_set_identity(cloud->downlink, cloud->identity ? cloud->identity->client_id : NULL,
				  cloud->identity ? cloud->identity->managed_thing_id : NULL);
}

static gboolean config_has_serial(HubConfig *config)
{
	return config->keyfile && g_key_file_has_key(config->keyfile, "hubd", "serial-number", NULL);
}

static gboolean load_identity(HubCloud *cloud, GError **error)
{
	g_autoptr(HubIdentity) identity = hub_identity_load(cloud->daemon->config->cloud.identity, error);

	if (!identity || !apply_claim_paths(cloud, identity, error))
		return FALSE;
	hub_identity_free(cloud->identity);
	cloud->identity = g_steal_pointer(&identity);
	g_clear_pointer(&cloud->identity_error, g_free);
	/* The CSR's subject is the serial the cloud registers the hub under,
	 * unless hubd.conf names one. */
	if (!config_has_serial(cloud->daemon->config)) {
		g_free(cloud->daemon->config->serial_number);
		cloud->daemon->config->serial_number = g_strdup(cloud->identity->serial_number);
	}
	sync_uplink(cloud);
	return TRUE;
}

static void offboard_from_cloud(gpointer user_data)
{
	g_autoptr(GError) error = NULL;

	if (!hub_cloud_offboard_request(user_data, &error) && !g_error_matches(error, HUB_ERROR, HUB_ERROR_BUSY))
		g_warning("Cannot offboard at the cloud's request: %s", error->message);
}

/* The outbox and what fills and empties it. Without it the hub still
 * onboards and serves local apps; the cloud just hears nothing. */
static void open_uplink(HubCloud *cloud)
{
	HubDaemon *daemon = cloud->daemon;
	HubOutboxLimits limits = {
		.max_bytes = daemon->config->outbox.max_bytes,
		.max_records = daemon->config->outbox.max_records,
		.commit_interval_ms = daemon->config->outbox.commit_interval_ms,
	};
	g_autofree char *path = g_build_filename(daemon->config->state_dir, "outbox.db", NULL);
	g_autoptr(GError) error = NULL;

	cloud->outbox = hub_outbox_open(path, &limits, &error);
	if (!cloud->outbox) {
		g_warning("Cloud uplink disabled: %s", error->message);
		return;
	}
	cloud->uplink = hub_uplink_new(daemon->registry, daemon->bus, daemon->commands, daemon->store, cloud->outbox);
	cloud->downlink = hub_downlink_new(daemon->commands, cloud->uplink, offboard_from_cloud, cloud);
}

void hub_cloud_prepare(HubCloud *cloud)
{
	g_autoptr(GError) error = NULL;

	if (!cloud->daemon->config->cloud.transport)
		return;
	open_uplink(cloud);
	if (!cloud->daemon->config->cloud.identity) {
		sync_uplink(cloud);
		return;
	}
	if (!load_identity(cloud, &error)) {
		g_warning("Cloud disabled: %s", error->message);
		cloud->identity_error = g_strdup(error->message);
		return;
	}
	g_info("Hub identity %s: %s%s%s", cloud->identity->path,
	       hub_provisioning_state_to_string(cloud->identity->state),
	       cloud->identity->step ? ", step " : "", cloud->identity->step ? cloud->identity->step : "");
}

static const struct hub_transport_ops *transport_ops(HubCloud *cloud)
{
	return cloud->transport ? cloud->transport->desc->ops : NULL;
}

static void begin_offboarding(HubCloud *cloud, guint32 flags);

static void start_transport(HubCloud *cloud)
{
	int r;

	if (!cloud->transport || (!cloud->identity && cloud->daemon->config->cloud.identity))
		return;
	r = transport_ops(cloud)->start(cloud->transport->user_data);
	if (r < 0)
		g_warning("Transport %s failed to start: %s", cloud->transport->name, g_strerror(-r));
}

void hub_cloud_start(HubCloud *cloud)
{
	const char *name = cloud->daemon->config->cloud.transport;
	HubPlugin *plugin;

	if (!name)
		return;
	plugin = hub_plugin_loader_find(cloud->daemon->loader, name);
	if (!plugin || plugin->kind != HUB_PLUGIN_KIND_TRANSPORT) {
		g_warning("Cloud disabled: [cloud] transport=%s is not a loaded transport plugin (check [hubd] plugins)",
			   name);
		cloud->transport_error = g_strdup_printf("transport %s is not loaded (check [hubd] plugins and the log)",
							 name);
		return;
	}
	cloud->transport = plugin;
	if (!cloud->identity) {
		/* A transport without an identity file starts at once; one whose file is broken waits for it. */
		if (!cloud->daemon->config->cloud.identity)
			start_transport(cloud);
		return;
	}
	if (cloud->identity->state == HUB_PROVISIONING_OFFBOARDING) {
		g_info("Resuming the offboarding interrupted by the last stop");
		begin_offboarding(cloud, 0);
		return;
	}
	start_transport(cloud);
}

gboolean hub_cloud_is_transport(HubCloud *cloud, HubPlugin *plugin)
{
	return cloud->transport && cloud->transport == plugin && !cloud->stopped;
}

char *hub_cloud_identity_get(HubCloud *cloud, const char *key)
{
	HubIdentity *id = cloud->identity;
	const char *value = NULL;

	if (!id || !key)
		return NULL;
	if (g_str_equal(key, "state"))
		value = hub_provisioning_state_to_string(id->state);
	else if (g_str_equal(key, "step"))
		value = id->step;
	else if (g_str_equal(key, "failure_reason"))
		value = id->failure_reason;
	else if (g_str_equal(key, "method"))
		value = id->method;
	else if (g_str_equal(key, "template_name"))
		value = id->template_name;
	else if (g_str_equal(key, "endpoint"))
		value = id->endpoint;
	else if (g_str_equal(key, "serial_number"))
		value = id->serial_number;
	else if (g_str_equal(key, "upc"))
		value = id->upc;
	else if (g_str_equal(key, "ean"))
		value = id->ean;
	else if (g_str_equal(key, "client_id"))
		value = id->client_id;
	else if (g_str_equal(key, "managed_thing_id"))
		value = id->managed_thing_id;
	else if (g_str_equal(key, "certificate_id"))
		value = id->certificate_id;
	return g_strdup(value);
}

/* NULL: unchanged; "": cleared. Returns the old value for a rollback. */
static char *swap_field(char **field, const char *value)
{
	char *old = *field;

	if (!value)
		return g_strdup(old);
	*field = *value ? g_strdup(value) : NULL;
	return old;
}

static gboolean field_ok(const char *value)
{
	return !value || (strlen(value) <= 4096 && g_utf8_validate(value, -1, NULL));
}

gboolean hub_cloud_identity_update(HubCloud *cloud, const struct hub_identity_update *update, GError **error)
{
	HubIdentity *id = cloud->identity;
	g_autofree char *old_step = NULL, *old_failure = NULL, *old_client = NULL, *old_thing = NULL,
			*old_certificate = NULL;
	HubProvisioningState old_state;
	gboolean was_provisioned;

	if (!id) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_UNAVAILABLE, "the hub has no identity: %s",
			    cloud->identity_error ? cloud->identity_error : "no [cloud]");
		return FALSE;
	}
	if (!update || update->struct_size < sizeof(struct hub_identity_update) || update->state < -1 ||
	    update->state > (int32_t)HUB_PROVISIONING_STATE_OFFBOARDING || !field_ok(update->step) ||
	    !field_ok(update->failure_reason) || !field_ok(update->client_id) ||
	    !field_ok(update->managed_thing_id) || !field_ok(update->certificate_id)) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "invalid identity update");
		return FALSE;
	}
	if (update->state == (int32_t)HUB_PROVISIONING_STATE_PROVISIONED &&
	    !(update->client_id ? *update->client_id : id->client_id != NULL)) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "a PROVISIONED hub needs a client id");
		return FALSE;
	}
	old_state = id->state;
	was_provisioned = old_state == HUB_PROVISIONING_PROVISIONED;
	if (update->state >= 0)
		id->state = (HubProvisioningState)update->state;
	old_step = swap_field(&id->step, update->step);
	old_failure = swap_field(&id->failure_reason, update->failure_reason);
	old_client = swap_field(&id->client_id, update->client_id);
	old_thing = swap_field(&id->managed_thing_id, update->managed_thing_id);
	old_certificate = swap_field(&id->certificate_id, update->certificate_id);
	if (!hub_identity_save(id, error)) {
		/* Nothing changes, in memory or on disk. */
		id->state = old_state;
		g_free(swap_field(&id->step, old_step ? old_step : ""));
		g_free(swap_field(&id->failure_reason, old_failure ? old_failure : ""));
		g_free(swap_field(&id->client_id, old_client ? old_client : ""));
		g_free(swap_field(&id->managed_thing_id, old_thing ? old_thing : ""));
		g_free(swap_field(&id->certificate_id, old_certificate ? old_certificate : ""));
		return FALSE;
	}
	if (!was_provisioned && id->state == HUB_PROVISIONING_PROVISIONED)
		g_message("Hub provisioned: client id %s, managed thing %s", id->client_id,
			  id->managed_thing_id ? id->managed_thing_id : "(none)");
	sync_uplink(cloud);
	changed(cloud);
	return TRUE;
}

/* ---- MQTT sessions ---- */

static const HubMqttEngine *mqtt_engine(HubCloud *cloud, GError **error)
{
	if (!cloud->mqtt)
		cloud->mqtt = hub_cloud_module_table(HUB_MQTT_ENGINE_QUERY_SYMBOL, sizeof(HubMqttEngine), error);
	return cloud->mqtt;
}

static Session *lookup_session(HubCloud *cloud, gint64 id)
{
	return g_hash_table_lookup(cloud->sessions, &id);
}

static void on_state_changed(HubMqttState state, gpointer user_data)
{
	Session *s = user_data;
	HubCloud *cloud = s->cloud;
	gint64 id = s->id;

	if (s->callbacks.state_changed)
		s->callbacks.state_changed((uint32_t)state, cloud->mqtt->get_last_error(s->session), s->user_data);
	/* The callback may have closed any session, this one too. After it,
	 * so that a transport that wrote PROVISIONED there gets its snapshot. */
	if (id == cloud->uplink_session && lookup_session(cloud, id)) {
		if (state == HUB_MQTT_STATE_CONNECTED) {
			/* Not twice when the transport attached from this very callback. */
			if (!cloud->uplink_connected)
				hub_uplink_connected(cloud->uplink);
			cloud->uplink_connected = TRUE;
		} else if (cloud->uplink_connected) {
			cloud->uplink_connected = FALSE;
			hub_uplink_disconnected(cloud->uplink);
		}
	}
	if (id == cloud->current_session)
		changed(cloud);
}

static void on_message(const char *topic, const void *payload, gsize len, gpointer user_data)
{
	Session *s = user_data;

	if (s->callbacks.message)
		s->callbacks.message(topic, payload, len, s->user_data);
}

static void on_published(int mid, gpointer user_data)
{
	Session *s = user_data;

	if (s->id == s->cloud->uplink_session && hub_uplink_published(s->cloud->uplink, mid))
		return;
	if (s->callbacks.published)
		s->callbacks.published(mid, s->user_data);
}

gint64 hub_cloud_mqtt_open(HubCloud *cloud, const struct hub_mqtt_params *params,
			   const struct hub_mqtt_callbacks *callbacks, void *user_data, GError **error)
{
	static const HubMqttCallbacks forward = { on_state_changed, on_message, on_published };
	HubConfig *config = cloud->daemon->config;
	const HubMqttEngine *mqtt;
	HubTlsOptions tls = { 0 };
	HubMqttOptions options = { 0 };
	SSL_CTX *ctx;
	Session *s;

	struct hub_mqtt_params p = { 0 };
	gboolean tls_on;

	/* Plugins built before the broker fields were appended pass a shorter struct. */
	if (!params || params->struct_size < offsetof(struct hub_mqtt_params, host) || !callbacks ||
	    callbacks->struct_size < offsetof(struct hub_mqtt_callbacks, published) + sizeof(callbacks->published)) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "invalid MQTT session parameters");
		return -1;
	}
	memcpy(&p, params, MIN(sizeof(p), params->struct_size));
	if (p.cert_role != 0 && p.cert_role != HUB_CERT_ROLE_CLAIM && p.cert_role != HUB_CERT_ROLE_PERMANENT) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT,
			    "invalid MQTT session parameters (the identity must be the claim or the permanent role, or none)");
		return -1;
	}
	if ((p.flags & ~HUB_MQTT_PLAIN) || p.port > 65535 || (p.host && !*p.host)) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "invalid MQTT session parameters (host, port, flags)");
		return -1;
	}
	if ((p.flags & HUB_MQTT_PLAIN) && p.cert_role) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "a client certificate needs TLS");
		return -1;
	}
	if (!p.host && !cloud->identity) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_UNAVAILABLE, "the hub has no identity: %s",
			    cloud->identity_error ? cloud->identity_error : "no [cloud] identity=");
		return -1;
	}
	mqtt = mqtt_engine(cloud, error);
	if (!mqtt)
		return -1;
	options.host = p.host ? p.host : cloud->identity->endpoint;
	options.port = (guint16)(p.port ? p.port : config->cloud.port);
	tls_on = !(p.flags & HUB_MQTT_PLAIN);
	if (!tls_on) {
		ctx = NULL;
	} else {
		mqtt->tls_options(options.host, options.port, &tls);
		ctx = hub_cert_manager_tls_context(cloud->daemon->certs, p.cert_role, &tls, error);
		if (!ctx)
			return -1;
	}
	options.client_id = p.client_id;
	options.username = p.username;
	options.password = p.password;
	options.keepalive_s = p.keepalive_s ? p.keepalive_s : cloud->identity ? cloud->identity->keepalive_s : 0;
	options.backoff_base_ms = config->cloud.backoff_base_ms;
	options.backoff_cap_ms = config->cloud.backoff_cap_ms;
	options.connect_interval_ms = config->cloud.connect_interval_ms;
	options.connect_timeout_ms = config->cloud.connect_timeout_ms;
	/* AWS IoT's limit of unacknowledged QoS 1 publishes per connection. */
	options.send_maximum = 100;

	s = g_new0(Session, 1);
	s->cloud = cloud;
	s->role = params->cert_role;
	memcpy(&s->callbacks, callbacks, MIN(sizeof(s->callbacks), callbacks->struct_size));
	s->user_data = user_data;
	s->session = mqtt->session_new(&options, ctx, &forward, s, error);
	if (!s->session) {
		g_free(s);
		return -1;
	}
	s->id = cloud->next_session_id++;
	g_hash_table_insert(cloud->sessions, &s->id, s);
	cloud->current_session = s->id;
	g_info("Cloud session %" G_GINT64_FORMAT ": %s:%u as %s with %s%s%s", s->id, options.host, options.port,
	       options.client_id, s->role ? "the " : tls_on ? "TLS and " : "plain TCP and ",
	       s->role ? hub_cert_role_to_string(s->role) : options.username ? "a user name" : "no credentials",
	       s->role ? " identity" : "");
	mqtt->start(s->session);
	changed(cloud);
	return s->id;
}

static gboolean free_closing(gpointer user_data)
{
	HubCloud *cloud = user_data;

	cloud->closing_source = 0;
	g_ptr_array_set_size(cloud->closing, 0);
	return G_SOURCE_REMOVE;
}

void hub_cloud_mqtt_close(HubCloud *cloud, gint64 session_id)
{
	Session *s = lookup_session(cloud, session_id);

	if (!s)
		return;
	if (session_id == cloud->uplink_session) {
		hub_uplink_detach(cloud->uplink);
		cloud->uplink_session = 0;
		cloud->uplink_connected = FALSE;
	}
	g_hash_table_steal(cloud->sessions, &session_id);
	/* No callback reaches the transport after this. The session may be
	 * inside one of its callbacks, where libmosquitto would only queue the
	 * DISCONNECT: it is stopped (DISCONNECT sent) and freed from an idle. */
	memset(&s->callbacks, 0, sizeof(s->callbacks));
	g_ptr_array_add(cloud->closing, s);
	if (!cloud->closing_source)
		cloud->closing_source = g_idle_add(free_closing, cloud);
	if (cloud->current_session == session_id)
		changed(cloud);
}

gboolean hub_cloud_mqtt_subscribe(HubCloud *cloud, gint64 session_id, const char *topic, int qos, GError **error)
{
	Session *s = lookup_session(cloud, session_id);

	if (!s) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_NOT_FOUND, "no MQTT session %" G_GINT64_FORMAT, session_id);
		return FALSE;
	}
	return cloud->mqtt->subscribe(s->session, topic, qos, error);
}

int hub_cloud_mqtt_publish(HubCloud *cloud, gint64 session_id, const char *topic, const void *payload, gsize len,
			   int qos, gboolean retain, GError **error)
{
	Session *s = lookup_session(cloud, session_id);
	int mid = 0;

	if (!s) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_NOT_FOUND, "no MQTT session %" G_GINT64_FORMAT, session_id);
		return -1;
	}
	if (!cloud->mqtt->publish(s->session, topic, payload, len, qos, retain, &mid, error))
		return -1;
	return mid;
}

/* ---- uplink and downlink ---- */

static int publish_uplink(const char *topic, const void *payload, gsize len, gpointer user_data)
{
	HubCloud *cloud = user_data;
	g_autoptr(GError) error = NULL;
	int mid = hub_cloud_mqtt_publish(cloud, cloud->uplink_session, topic, payload, len, 1, FALSE, &error);

	if (mid >= 0)
		return mid;
	if (g_error_matches(error, HUB_ERROR, HUB_ERROR_UNAVAILABLE) || g_error_matches(error, HUB_ERROR, HUB_ERROR_NOT_FOUND))
		return -ENOTCONN;
	g_warning("Outbox: cannot send a message of %zu bytes to %s: %s", len, topic, error->message);
	return -EINVAL;
}

/* A topic the broker takes for a publish: no wildcards, no control
 * characters, UTF-8, MQTT's length (libmosquitto refuses the rest). */
static gboolean publish_topic_ok(const char *topic)
{
	if (!topic || !*topic || strlen(topic) > 65535 || !g_utf8_validate(topic, -1, NULL) || strpbrk(topic, "+#"))
		return FALSE;
	for (const char *c = topic; *c; c++)
		if ((guchar)*c < 0x20 || *c == 0x7f)
			return FALSE;
	return TRUE;
}

gboolean hub_cloud_uplink_attach(HubCloud *cloud, gint64 session_id, const struct hub_uplink_params *params,
				 GError **error)
{
	const char *topics[HUB_UPLINK_N_KINDS] = { NULL };
	Session *s = lookup_session(cloud, session_id);

	if (!cloud->uplink) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_FAILED, "the uplink is disabled: the outbox could not be opened");
		return FALSE;
	}
	if (!s) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_NOT_FOUND, "no MQTT session %" G_GINT64_FORMAT, session_id);
		return FALSE;
	}
	if (!params || params->struct_size < sizeof(struct hub_uplink_params) || (params->n_topics && !params->topics)) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "invalid uplink parameters");
		return FALSE;
	}
	/* Kinds of a newer ABI than ours are ignored. */
	for (guint i = 0; i < MIN(params->n_topics, HUB_UPLINK_N_KINDS); i++) {
		if (params->topics[i] && !publish_topic_ok(params->topics[i])) {
			g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT,
				    "uplink topic %u is not a valid topic to publish to", i);
			return FALSE;
		}
		topics[i] = params->topics[i];
	}
	hub_uplink_attach(cloud->uplink, topics, publish_uplink, cloud);
	cloud->uplink_session = session_id;
	cloud->uplink_connected = cloud->mqtt->get_state(s->session) == HUB_MQTT_STATE_CONNECTED;
	if (cloud->uplink_connected)
		hub_uplink_connected(cloud->uplink);
	return TRUE;
}

int hub_cloud_downlink(HubCloud *cloud, guint32 channel, const void *payload, gsize len)
{
	if (!cloud->downlink) {
		g_message("Ignoring a message from the cloud: the uplink to answer it is disabled");
		return 0;
	}
	switch (channel) {
	case HUB_DOWNLINK_COMMAND:
		hub_downlink_command(cloud->downlink, payload, len);
		return 0;
	case HUB_DOWNLINK_SETUP:
		hub_downlink_setup(cloud->downlink, payload, len);
		return 0;
	default:
		return -EINVAL;
	}
}

/* ---- status ---- */

HubCloudStatus *hub_cloud_get_status(HubCloud *cloud)
{
	HubCloudStatus *status = g_new0(HubCloudStatus, 1);
	HubConfig *config = cloud->daemon->config;
	HubIdentity *id = cloud->identity;
	Session *s = lookup_session(cloud, cloud->current_session);

	status->configured = config->cloud.transport != NULL;
	if (!status->configured)
		return status;
	status->transport = g_strdup(config->cloud.transport);
	if (id) {
		status->endpoint = g_strdup_printf("%s:%u", id->endpoint, config->cloud.port);
		status->provisioning_state = g_strdup(hub_provisioning_state_to_string(id->state));
		status->step = g_strdup(id->step);
		status->failure_reason = g_strdup(id->failure_reason);
		status->client_id = g_strdup(id->client_id);
		status->managed_thing_id = g_strdup(id->managed_thing_id);
		status->certificate_id = g_strdup(id->certificate_id);
	} else {
		status->failure_reason = g_strdup(cloud->identity_error);
	}
	/* A transport that is not there explains everything else. */
	if (cloud->transport_error) {
		g_free(status->failure_reason);
		status->failure_reason = g_strdup(cloud->transport_error);
	}
	if (s) {
		HubMqttState state = cloud->mqtt->get_state(s->session);

		status->connection_state = g_strdup(hub_mqtt_state_to_string(state));
		status->connection_identity = g_strdup(hub_cert_role_to_string(s->role));
		status->connection_error = g_strdup(cloud->mqtt->get_last_error(s->session));
		status->next_attempt = cloud->mqtt->get_next_attempt(s->session);
		status->attempts = cloud->mqtt->get_attempts(s->session);
	} else {
		status->connection_state = g_strdup("disconnected");
	}
	if (cloud->outbox) {
		status->has_outbox = TRUE;
		hub_outbox_get_stats(cloud->outbox, &status->outbox);
	}
	return status;
}

/* ---- provisioning and offboarding ---- */

static gboolean need_cloud(HubCloud *cloud, GError **error)
{
	if (!cloud->daemon->config->cloud.transport) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_NOT_SUPPORTED,
			    "no cloud is configured ([cloud] in hubd.conf)");
		return FALSE;
	}
	if (!cloud->transport) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_UNAVAILABLE, "transport %s is not loaded",
			    cloud->daemon->config->cloud.transport);
		return FALSE;
	}
	return TRUE;
}

gboolean hub_cloud_provision(HubCloud *cloud, GError **error)
{
	char message[512] = "";
	int r;

	if (!need_cloud(cloud, error))
		return FALSE;
	if (!cloud->daemon->config->cloud.identity) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_NOT_SUPPORTED,
			    "no identity file is configured ([cloud] identity=): transport %s provisions nothing",
			    cloud->daemon->config->cloud.transport);
		return FALSE;
	}
	/* An operator who fixed the identity file should not need a restart. */
	if (!cloud->identity) {
		if (!load_identity(cloud, error)) {
			g_free(cloud->identity_error);
			cloud->identity_error = g_strdup((*error)->message);
			changed(cloud);
			return FALSE;
		}
		if (cloud->identity->claim_cert_path)
			g_warning("%s: the claim paths take effect at the next start of hubd", cloud->identity->path);
		changed(cloud);
		if (cloud->identity->state == HUB_PROVISIONING_PROVISIONED ||
		    cloud->identity->state == HUB_PROVISIONING_OFFBOARDING) {
			/* What a start would have done with this file. */
			if (cloud->identity->state == HUB_PROVISIONING_OFFBOARDING)
				begin_offboarding(cloud, 0);
			else
				start_transport(cloud);
			return TRUE;
		}
	}
	if (cloud->identity->state == HUB_PROVISIONING_PROVISIONED) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_EXISTS, "the hub is already provisioned (client id %s)",
			    cloud->identity->client_id);
		return FALSE;
	}
	if (cloud->identity->state == HUB_PROVISIONING_OFFBOARDING || cloud->offboarding) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_BUSY, "the hub is being offboarded");
		return FALSE;
	}
	r = transport_ops(cloud)->provision(cloud->transport->user_data, message, sizeof(message));
	if (r < 0) {
		g_set_error(error, HUB_ERROR, r == -EALREADY ? HUB_ERROR_EXISTS : HUB_ERROR_FAILED, "%s",
			    *message ? message : g_strerror(-r));
		return FALSE;
	}
	return TRUE;
}

static gboolean offboard_timed_out(gpointer user_data)
{
	HubCloud *cloud = user_data;

	cloud->offboard_timeout = 0;
	g_warning("Transport %s did not finish offboarding within %d s; finishing without it "
		  "(the cloud may still list the hub: delete it there with --force)",
		  cloud->transport->name, OFFBOARD_TIMEOUT_S);
	hub_cloud_offboard_done(cloud);
	return G_SOURCE_REMOVE;
}

static void begin_offboarding(HubCloud *cloud, guint32 flags)
{
	int r;

	cloud->offboarding = TRUE;
	cloud->offboard_timeout = g_timeout_add_seconds(OFFBOARD_TIMEOUT_S, offboard_timed_out, cloud);
	r = transport_ops(cloud)->offboard(cloud->transport->user_data, flags);
	if (r < 0 && cloud->offboarding) {
		g_warning("Transport %s could not offboard: %s; finishing without it", cloud->transport->name,
			  g_strerror(-r));
		hub_cloud_offboard_done(cloud);
	}
}

static gboolean start_offboarding(HubCloud *cloud, gboolean force, guint32 flags, HubCloudDoneFunc done,
				  gpointer user_data, GError **error)
{
	struct hub_identity_update update = {
		.struct_size = sizeof(update),
		.state = HUB_PROVISIONING_STATE_OFFBOARDING,
		.failure_reason = "",
	};
	guint devices = hub_registry_size(cloud->daemon->registry);

	if (!need_cloud(cloud, error))
		return FALSE;
	if (!cloud->identity) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_UNAVAILABLE, "the hub has no identity: %s",
			    cloud->identity_error);
		return FALSE;
	}
	if (cloud->offboarding) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_BUSY, "the hub is already being offboarded");
		return FALSE;
	}
	if (!force && cloud->identity->state != HUB_PROVISIONING_PROVISIONED) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_NOT_SUPPORTED,
			    "the hub is %s, not PROVISIONED; --force resets it anyway",
			    hub_provisioning_state_to_string(cloud->identity->state));
		return FALSE;
	}
	if (!force && devices > 0) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_BUSY,
			    "%u child device%s remain%s; remove them first, or --force removes them too", devices,
			    devices == 1 ? "" : "s", devices == 1 ? "s" : "");
		return FALSE;
	}
	if (!hub_cloud_identity_update(cloud, &update, error))
		return FALSE;
	g_message("Offboarding the hub%s (%u child devices)",
		  flags & HUB_OFFBOARD_FROM_CLOUD ? " at the cloud's request" : "", devices);
	if (done) {
		Waiter w = { done, user_data };

		g_array_append_val(cloud->offboard_waiters, w);
	}
	begin_offboarding(cloud, flags);
	return TRUE;
}

gboolean hub_cloud_offboard(HubCloud *cloud, gboolean force, HubCloudDoneFunc done, gpointer user_data,
			    GError **error)
{
	return start_offboarding(cloud, force, 0, done, user_data, error);
}

gboolean hub_cloud_offboard_request(HubCloud *cloud, GError **error)
{
	return start_offboarding(cloud, TRUE, HUB_OFFBOARD_FROM_CLOUD, NULL, NULL, error);
}

/* Removes every device through its plugin, so radios forget them too. */
static void erase_devices(HubCloud *cloud)
{
	g_autoptr(GPtrArray) devices = hub_registry_list(cloud->daemon->registry);
	g_auto(GStrv) ids = g_new0(char *, devices->len + 1);

	for (guint i = 0; i < devices->len; i++)
		ids[i] = g_strdup(((HubDevice *)g_ptr_array_index(devices, i))->id);
	for (guint i = 0; ids[i]; i++) {
		g_autoptr(GError) error = NULL;

		if (!hub_host_remove_device(cloud->daemon, ids[i], &error))
			g_warning("Offboarding: cannot remove device %s: %s", ids[i], error->message);
	}
}

void hub_cloud_offboard_done(HubCloud *cloud)
{
	struct hub_identity_update reset = {
		.struct_size = sizeof(reset),
		.state = HUB_PROVISIONING_STATE_NOT_PROVISIONED,
		.step = "",
		.failure_reason = "",
		.client_id = "",
		.managed_thing_id = "",
		.certificate_id = "",
	};
	g_autoptr(GArray) open = g_array_new(FALSE, FALSE, sizeof(gint64));
	g_autoptr(GError) error = NULL;
	GHashTableIter iter;
	gpointer value;

	if (!cloud->offboarding)
		return;
	cloud->offboarding = FALSE;
	g_clear_handle_id(&cloud->offboard_timeout, g_source_remove);
	/* Whatever the transport left open goes now. */
	g_hash_table_iter_init(&iter, cloud->sessions);
	while (g_hash_table_iter_next(&iter, NULL, &value))
		g_array_append_val(open, ((Session *)value)->id);
	for (guint i = 0; i < open->len; i++)
		hub_cloud_mqtt_close(cloud, g_array_index(open, gint64, i));
	if (!hub_cert_manager_erase(cloud->daemon->certs, HUB_CERT_ROLE_PERMANENT, &error) &&
	    !g_error_matches(error, HUB_ERROR, HUB_ERROR_NOT_FOUND)) {
		struct hub_identity_update failed = { .struct_size = sizeof(failed), .state = -1 };
		g_autofree char *reason = g_strdup_printf("offboarding could not erase the permanent identity: %s",
							  error->message);

		g_autoptr(GError) failure = NULL;

		g_warning("%s; hubctl offboard --force tries again", reason);
		failed.failure_reason = reason;
		hub_cloud_identity_update(cloud, &failed, NULL);
		failure = g_error_new(HUB_ERROR, HUB_ERROR_FAILED, "%s", reason);
		finish_waiters(cloud, failure);
		return;
	}
	g_clear_error(&error);
	erase_devices(cloud);
	/* What was queued for the old identity must not reach the cloud under a new one. */
	if (cloud->uplink)
		hub_uplink_clear(cloud->uplink);
	if (!hub_cloud_identity_update(cloud, &reset, &error)) {
		g_warning("Offboarding: %s", error->message);
		finish_waiters(cloud, error);
		return;
	}
	g_message("Hub offboarded: permanent identity and device data erased, claim credential kept");
	finish_waiters(cloud, NULL);
	/* NOT_PROVISIONED: the transport onboards again (the cloud must have
	 * a managed thing for the hub again before it can succeed). */
	start_transport(cloud);
}
