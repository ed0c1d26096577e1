/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mock-multi - one file, two plugins (multi-a, multi-b); each is loaded on its own. */
#include "mock-plugin.h"

static struct mock_state state_a = { .name = "multi-a" };
static struct mock_state state_b = { .name = "multi-b" };

static int multi_a_init(const struct hub_host *host, struct hub_plugin *plugin, void **user_data)
{
	return mock_init(&state_a, 0, host, plugin, user_data);
}

static int multi_b_init(const struct hub_host *host, struct hub_plugin *plugin, void **user_data)
{
	return mock_init(&state_b, 0, host, plugin, user_data);
}

static const struct hub_plugin_descriptor descriptor_a = {
	.abi_major = HUB_PLUGIN_ABI_MAJOR,
	.abi_minor = HUB_PLUGIN_ABI_MINOR,
	.struct_size = sizeof(struct hub_plugin_descriptor),
	.kind = HUB_PLUGIN_KIND_PROTOCOL,
	.name = "multi-a",
	.version = "1.0.0",
	.init = multi_a_init,
	.exit = mock_exit,
	.ops = &mock_ops,
	.flags = HUB_PLUGIN_FLAG_IN_TREE,
};

static const struct hub_plugin_descriptor descriptor_b = {
	.abi_major = HUB_PLUGIN_ABI_MAJOR,
	.abi_minor = HUB_PLUGIN_ABI_MINOR,
	.struct_size = sizeof(struct hub_plugin_descriptor),
	.kind = HUB_PLUGIN_KIND_PROTOCOL,
	.name = "multi-b",
	.version = "1.0.0",
	.init = multi_b_init,
	.exit = mock_exit,
	.ops = &mock_ops,
	.flags = HUB_PLUGIN_FLAG_IN_TREE,
};

static const struct hub_plugin_descriptor *const descriptors[] = { &descriptor_a, &descriptor_b, NULL };

const struct hub_plugin_descriptor *const *hub_plugin_query(void)
{
	return descriptors;
}
