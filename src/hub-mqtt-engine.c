/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-mqtt-engine.c - the module side of hub-mqtt-engine.h.
 */
#include "config.h"

#include <hubd/hub-plugin.h>

#include "hub-mqtt-engine.h"

static HubMqttSession *session_new(const HubMqttOptions *options, SSL_CTX *tls_ctx, const HubMqttCallbacks *callbacks,
				   gpointer user_data, GError **error)
{
	HubMqttSession *session = hub_mqtt_session_new(options, tls_ctx, callbacks, user_data, error);

	/* The session holds its own reference. */
	SSL_CTX_free(tls_ctx);
	return session;
}

static const HubMqttEngine engine = {
	.size = sizeof(HubMqttEngine),
	.tls_options = hub_mqtt_session_tls_options,
	.session_new = session_new,
	.session_free = hub_mqtt_session_free,
	.start = hub_mqtt_session_start,
	.stop = hub_mqtt_session_stop,
	.get_state = hub_mqtt_session_get_state,
	.get_last_error = hub_mqtt_session_get_last_error,
	.get_next_attempt = hub_mqtt_session_get_next_attempt,
	.get_attempts = hub_mqtt_session_get_attempts,
	.subscribe = hub_mqtt_session_subscribe,
	.publish = hub_mqtt_session_publish,
};

HUB_PLUGIN_EXPORT const HubMqttEngine *hub_mqtt_engine_query(void)
{
	return &engine;
}
