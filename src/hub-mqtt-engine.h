/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-mqtt-engine.h - the MQTT session service (hub-mqtt-session.h) as a
 * table that hubd reaches in the hubd-cloud.so module, so hubd itself does
 * not link libmosquitto. Private to hubd: both sides are built from this
 * tree, so the table has no versioning beyond its size.
 */
#pragma once

#include <hubd/hub-plugin.h>

#include "hub-mqtt-session.h"

#define HUB_MQTT_ENGINE_QUERY_SYMBOL "hub_mqtt_engine_query"

typedef struct {
	gsize size; /* sizeof(HubMqttEngine) */
	void (*tls_options)(const char *host, guint16 port, HubTlsOptions *options);
	/* As hub_mqtt_session_new(), but takes the caller's reference to
	 * @tls_ctx, also on failure (hubd cannot call SSL_CTX_free). */
	HubMqttSession *(*session_new)(const HubMqttOptions *options, SSL_CTX *tls_ctx,
				       const HubMqttCallbacks *callbacks, gpointer user_data, GError **error);
	void (*session_free)(HubMqttSession *session);
	void (*start)(HubMqttSession *session);
	void (*stop)(HubMqttSession *session);
	HubMqttState (*get_state)(HubMqttSession *session);
	const char *(*get_last_error)(HubMqttSession *session);
	gint64 (*get_next_attempt)(HubMqttSession *session);
	guint (*get_attempts)(HubMqttSession *session);
	gboolean (*subscribe)(HubMqttSession *session, const char *topic, int qos, GError **error);
	gboolean (*publish)(HubMqttSession *session, const char *topic, const void *payload, gsize len, int qos,
			    gboolean retain, int *mid, GError **error);
} HubMqttEngine;

/* The module's second exported symbol. */
HUB_PLUGIN_EXPORT const HubMqttEngine *hub_mqtt_engine_query(void);
