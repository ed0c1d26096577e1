/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-mqtt-transport.c - transport "mqtt": the hub contract
 * (doc/cloud-contract.md) on any MQTT broker, under a configurable topic
 * prefix. Plain TCP or TLS; a user name and password, the permanent role's
 * client certificate, or both. Nothing to provision: the session opens at
 * start and the core's uplink (the outbox) is attached to it.
 *
 * Like every transport it links neither OpenSSL nor libmosquitto: the host
 * owns the session, TLS and the outbox.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <string.h>

#include <glib.h>
#include <hubd/hub-certstore.h>
#include <hubd/hub-plugin.h>
#include <hubd/hub-transport.h>

#define MQTT_TRANSPORT_VERSION "0.1.0"
#define PASSWORD_MAX 1024
#define OPEN_RETRY_MIN_MS 1000
#define OPEN_RETRY_MAX_MS 60000

typedef struct {
	const struct hub_host *host;
	struct hub_plugin *handle;

	char *broker;
	guint port;
	gboolean tls;
	gboolean client_certificate;
	char *username;
	char *password;
	char *client_id;
	char *prefix;
	guint keepalive_s;

	int64_t session;
	int64_t retry_timer;
	guint retry_ms;
	char *command_topic;
	char *setup_topic;
} MqttTransport;

static void mqtt_log(MqttTransport *t, int level, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static void mqtt_log(MqttTransport *t, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	t->host->vlog(t->handle, level, fmt, ap);
	va_end(ap);
}

/* Uplink topics by kind (HUB_UPLINK_*), under the prefix. */
static const char *const uplink_suffixes[HUB_UPLINK_N_KINDS] = {
	[HUB_UPLINK_COMMAND_ACK] = "command/ack",
	[HUB_UPLINK_COMMAND_RESPONSE] = "command/response",
	[HUB_UPLINK_SETUP_RESPONSE] = "setup/response",
	[HUB_UPLINK_STATE] = "state",
	[HUB_UPLINK_EVENT] = "event",
	[HUB_UPLINK_LIFECYCLE] = "lifecycle",
	[HUB_UPLINK_CAPABILITIES] = "capabilities",
};

/* ---- the session ---- */

static void on_state(uint32_t state, const char *error, void *user_data)
{
	MqttTransport *t = user_data;

	if (state == HUB_MQTT_SESSION_CONNECTED)
		mqtt_log(t, HUB_LOG_INFO, "Connected to %s:%u as %s", t->broker, t->port, t->client_id);
	else if (state == HUB_MQTT_SESSION_BACKING_OFF && error)
		mqtt_log(t, HUB_LOG_WARNING, "%s:%u: %s", t->broker, t->port, error);
}

static void on_message(const char *topic, const void *payload, size_t len, void *user_data)
{
	MqttTransport *t = user_data;

	if (g_str_equal(topic, t->command_topic))
		t->host->downlink(t->handle, HUB_DOWNLINK_COMMAND, payload, len);
	else if (g_str_equal(topic, t->setup_topic))
		t->host->downlink(t->handle, HUB_DOWNLINK_SETUP, payload, len);
	else
		mqtt_log(t, HUB_LOG_WARNING, "Dropping a message on %s: not a topic of this hub", topic);
}

static const struct hub_mqtt_callbacks callbacks = {
	.struct_size = sizeof(struct hub_mqtt_callbacks),
	.state_changed = on_state,
	.message = on_message,
};

static int mqtt_start(void *user_data);

static int on_retry(void *user_data)
{
	MqttTransport *t = user_data;

	t->retry_timer = 0;
	mqtt_start(t);
	return 0;
}

static int mqtt_start(void *user_data)
{
	MqttTransport *t = user_data;
	struct hub_mqtt_params params = {
		.struct_size = sizeof(params),
		.cert_role = t->client_certificate ? HUB_CERT_ROLE_PERMANENT : 0,
		.client_id = t->client_id,
		.host = t->broker,
		.port = t->port,
		.flags = t->tls ? 0 : HUB_MQTT_PLAIN,
		.username = t->username,
		.password = t->password,
		.keepalive_s = t->keepalive_s,
	};
	char *topics[HUB_UPLINK_N_KINDS] = { NULL };
	struct hub_uplink_params uplink = {
		.struct_size = sizeof(uplink),
		.n_topics = HUB_UPLINK_N_KINDS,
		.topics = (const char *const *)topics,
	};
	char message[512] = "";
	int64_t id;
	int r;

	if (t->session || t->retry_timer)
		return 0;
	id = t->host->mqtt_open(t->handle, &params, &callbacks, t, message, sizeof(message));
	if (id < 0) {
		/* E.g. no client certificate in the store yet: try again, never give up. */
		t->retry_ms = t->retry_ms ? MIN(t->retry_ms * 2, OPEN_RETRY_MAX_MS) : OPEN_RETRY_MIN_MS;
		mqtt_log(t, HUB_LOG_WARNING, "Cannot open a session to %s:%u: %s; trying again in %u s", t->broker,
			 t->port, message, t->retry_ms / 1000);
		t->retry_timer = MAX(t->host->timer_add(t->handle, t->retry_ms, on_retry, t), 0);
		return 0;
	}
	t->retry_ms = 0;
	t->session = id;
	t->host->mqtt_subscribe(t->handle, id, t->command_topic, 1);
	t->host->mqtt_subscribe(t->handle, id, t->setup_topic, 1);
	for (guint i = 0; i < HUB_UPLINK_N_KINDS; i++)
		topics[i] = g_strdup_printf("%s/%s", t->prefix, uplink_suffixes[i]);
	r = t->host->uplink_attach(t->handle, id, &uplink);
	for (guint i = 0; i < HUB_UPLINK_N_KINDS; i++)
		g_free(topics[i]);
	if (r < 0)
		mqtt_log(t, HUB_LOG_WARNING, "Nothing will be reported to the broker: %s", g_strerror(-r));
	return 0;
}

static int mqtt_provision(void *user_data, char *message, size_t message_size)
{
	g_strlcpy(message, "the mqtt transport has nothing to provision: it connects with its configuration",
		  message_size);
	return -ENOTSUP;
}

static void close_session(MqttTransport *t)
{
	if (t->retry_timer)
		t->host->timer_remove(t->handle, t->retry_timer);
	t->retry_timer = 0;
	if (t->session)
		t->host->mqtt_close(t->handle, t->session);
	t->session = 0;
}

/* Nothing to tell a plain broker: close and hand back. */
static int mqtt_offboard(void *user_data, uint32_t flags)
{
	MqttTransport *t = user_data;

	close_session(t);
	t->host->offboard_done(t->handle);
	return 0;
}

static const struct hub_transport_ops mqtt_ops = {
	.struct_size = sizeof(struct hub_transport_ops),
	.start = mqtt_start,
	.provision = mqtt_provision,
	.offboard = mqtt_offboard,
};

/* ---- configuration ---- */

static int config_number(MqttTransport *t, const char *key, guint min, guint max, guint *out)
{
	const char *text = t->host->config_get(t->handle, key);
	guint64 value;

	if (!text)
		return 0;
	if (!g_ascii_string_to_unsigned(text, 10, min, max, &value, NULL)) {
		mqtt_log(t, HUB_LOG_ERR, "[plugin.mqtt] %s must be %u-%u, not \"%s\"", key, min, max, text);
		return -EINVAL;
	}
	*out = (guint)value;
	return 0;
}

static int config_bool(MqttTransport *t, const char *key, gboolean *out)
{
	const char *text = t->host->config_get(t->handle, key);

	if (!text)
		return 0;
	if (g_str_equal(text, "true") || g_str_equal(text, "yes") || g_str_equal(text, "1"))
		*out = TRUE;
	else if (g_str_equal(text, "false") || g_str_equal(text, "no") || g_str_equal(text, "0"))
		*out = FALSE;
	else {
		mqtt_log(t, HUB_LOG_ERR, "[plugin.mqtt] %s must be true or false, not \"%s\"", key, text);
		return -EINVAL;
	}
	return 0;
}

/* The password from a file of its own (hubd.conf is often world-readable):
 * the first line, without its line end. */
static int read_password(MqttTransport *t, const char *key)
{
	const char *name = t->host->config_get(t->handle, key);
	g_autofree char *path = NULL;
	g_autofree char *text = NULL;
	g_autoptr(GError) error = NULL;
	gsize len = 0;

	if (!name)
		return 0;
	path = t->host->config_resolve_path(t->handle, name);
	if (!path || !g_file_get_contents(path, &text, &len, &error)) {
		mqtt_log(t, HUB_LOG_ERR, "[plugin.mqtt] %s: %s", key, error ? error->message : "no such path");
		return -EINVAL;
	}
	text[strcspn(text, "\r\n")] = '\0';
	if (!*text || strlen(text) > PASSWORD_MAX || !g_utf8_validate(text, -1, NULL)) {
		mqtt_log(t, HUB_LOG_ERR, "[plugin.mqtt] %s: %s must hold a password of 1-%d UTF-8 bytes on its first line",
			 key, path, PASSWORD_MAX);
		explicit_bzero(text, len);
		return -EINVAL;
	}
	t->password = g_strdup(text);
	explicit_bzero(text, len);
	return 0;
}

/* A topic prefix: no wildcards, no empty level at either end, UTF-8. */
static gboolean prefix_ok(const char *prefix)
{
	return *prefix && strlen(prefix) <= 512 && g_utf8_validate(prefix, -1, NULL) && !strpbrk(prefix, "+#") &&
	       prefix[0] != '/' && prefix[strlen(prefix) - 1] != '/';
}

static int load_config(MqttTransport *t)
{
	const char *broker = t->host->config_get(t->handle, "host");
	const char *client_id = t->host->config_get(t->handle, "client-id");
	const char *username = t->host->config_get(t->handle, "username");
	const char *prefix = t->host->config_get(t->handle, "topic-prefix");

	t->tls = TRUE;
	t->keepalive_s = 60;
	if (!broker || !*broker) {
		mqtt_log(t, HUB_LOG_ERR, "[plugin.mqtt] host must name the broker");
		return -EINVAL;
	}
	t->broker = g_strdup(broker);
	if (config_bool(t, "tls", &t->tls) < 0 || config_bool(t, "client-certificate", &t->client_certificate) < 0)
		return -EINVAL;
	t->port = t->tls ? 8883 : 1883;
	if (config_number(t, "port", 1, 65535, &t->port) < 0 || config_number(t, "keepalive", 30, 1200, &t->keepalive_s) < 0)
		return -EINVAL;
	if (t->client_certificate && !t->tls) {
		mqtt_log(t, HUB_LOG_ERR, "[plugin.mqtt] client-certificate=true needs tls=true");
		return -EINVAL;
	}
	if (username && (!*username || strlen(username) > 256 || !g_utf8_validate(username, -1, NULL))) {
		mqtt_log(t, HUB_LOG_ERR, "[plugin.mqtt] username must be 1-256 bytes of UTF-8");
		return -EINVAL;
	}
	t->username = g_strdup(username);
	if (read_password(t, "password-file") < 0)
		return -EINVAL;
	if (t->password && !t->username) {
		mqtt_log(t, HUB_LOG_ERR, "[plugin.mqtt] password-file needs a username");
		return -EINVAL;
	}
	t->client_id = client_id ? g_strdup(client_id) : g_strdup_printf("hubd-%s", g_get_host_name());
	if (!*t->client_id || strlen(t->client_id) > 128 || !g_utf8_validate(t->client_id, -1, NULL) ||
	    strpbrk(t->client_id, "+#/")) {
		mqtt_log(t, HUB_LOG_ERR, "[plugin.mqtt] client-id must be 1-128 characters without + # /, not \"%s\"",
			 t->client_id);
		return -EINVAL;
	}
	t->prefix = prefix ? g_strdup(prefix) : g_strdup_printf("hubd/%s", t->client_id);
	if (!prefix_ok(t->prefix)) {
		mqtt_log(t, HUB_LOG_ERR,
			 "[plugin.mqtt] topic-prefix must be a topic without + or # and without a leading or trailing /, "
			 "not \"%s\"",
			 t->prefix);
		return -EINVAL;
	}
	t->command_topic = g_strdup_printf("%s/command", t->prefix);
	t->setup_topic = g_strdup_printf("%s/setup", t->prefix);
	return 0;
}

/* ---- init / exit ---- */

static void mqtt_free(MqttTransport *t)
{
	g_free(t->broker);
	g_free(t->username);
	if (t->password)
		explicit_bzero(t->password, strlen(t->password));
	g_free(t->password);
	g_free(t->client_id);
	g_free(t->prefix);
	g_free(t->command_topic);
	g_free(t->setup_topic);
	g_free(t);
}

static void mqtt_exit(void *user_data)
{
	MqttTransport *t = user_data;

	close_session(t);
	mqtt_free(t);
}

static int mqtt_init(const struct hub_host *host, struct hub_plugin *plugin, void **user_data)
{
	MqttTransport *t;

	/* Every host call we make must be in the table the host built. */
	if (!host || !user_data || !HUB_STRUCT_HAS(host, host->struct_size, downlink))
		return -EPROTO;
	t = g_new0(MqttTransport, 1);
	t->host = host;
	t->handle = plugin;
	if (load_config(t) < 0) {
		mqtt_free(t);
		return -EINVAL;
	}
	mqtt_log(t, HUB_LOG_INFO, "Broker %s:%u (%s%s%s), client id %s, topics under %s/", t->broker, t->port,
		 t->tls ? "TLS" : "plain TCP", t->client_certificate ? ", client certificate" : "",
		 t->username ? ", user name and password" : "", t->client_id, t->prefix);
	*user_data = t;
	return 0;
}

static const struct hub_plugin_descriptor mqtt_descriptor = {
	.abi_major = HUB_PLUGIN_ABI_MAJOR,
	.abi_minor = HUB_PLUGIN_ABI_MINOR,
	.struct_size = sizeof(struct hub_plugin_descriptor),
	.kind = HUB_PLUGIN_KIND_TRANSPORT,
	.name = "mqtt",
	.version = MQTT_TRANSPORT_VERSION,
	.init = mqtt_init,
	.exit = mqtt_exit,
	.ops = &mqtt_ops,
	.flags = HUB_PLUGIN_FLAG_IN_TREE,
};

static const struct hub_plugin_descriptor *const descriptors[] = { &mqtt_descriptor, NULL };

HUB_PLUGIN_EXPORT const struct hub_plugin_descriptor *const *hub_plugin_query(void)
{
	return descriptors;
}
