/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-abi-probe.c - a shared object whose only job is to carry the plugin ABI
 * (every struct and callback type of include/hubd/) in its debug info, so
 * that abidw/abidiff can compare it with the committed baseline. Each public
 * struct reaches one exported function through a pointer parameter.
 */
#include <hubd/hub-certstore.h>
#include <hubd/hub-plugin.h>
#include <hubd/hub-protocol.h>
#include <hubd/hub-transport.h>
#include <hubd/hub-value.h>

__attribute__((visibility("default"))) void hub_abi_probe(
	const struct hub_plugin_descriptor *descriptor, hub_plugin_query_fn query, const struct hub_host *host,
	const struct hub_device_info *device_info, const struct hub_value *value, const struct hub_param *param,
	const struct hub_protocol_ops *protocol_ops, const struct hub_certstore_ops *certstore_ops,
	const struct hub_transport_ops *transport_ops, const struct hub_uplink_params *uplink_params,
	const struct hub_mqtt_params *mqtt_params, const struct hub_mqtt_callbacks *mqtt_callbacks,
	const struct hub_identity_update *identity_update);

void hub_abi_probe(const struct hub_plugin_descriptor *descriptor, hub_plugin_query_fn query,
		   const struct hub_host *host, const struct hub_device_info *device_info,
		   const struct hub_value *value, const struct hub_param *param,
		   const struct hub_protocol_ops *protocol_ops, const struct hub_certstore_ops *certstore_ops,
		   const struct hub_transport_ops *transport_ops, const struct hub_uplink_params *uplink_params,
		   const struct hub_mqtt_params *mqtt_params, const struct hub_mqtt_callbacks *mqtt_callbacks,
		   const struct hub_identity_update *identity_update)
{
}
