/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mock-newer-minor - claims one minor version more than this hubd implements; must be refused. */
#include "mock-plugin.h"

static struct mock_state state = { .name = "mock-newer-minor" };

static int newer_minor_init(const struct hub_host *host, struct hub_plugin *plugin, void **user_data)
{
	return mock_init(&state, 0, host, plugin, user_data);
}

static const struct hub_plugin_descriptor descriptor = {
	.abi_major = HUB_PLUGIN_ABI_MAJOR,
	.abi_minor = HUB_PLUGIN_ABI_MINOR + 1,
	.struct_size = sizeof(struct hub_plugin_descriptor),
	.kind = HUB_PLUGIN_KIND_PROTOCOL,
	.name = "mock-newer-minor",
	.version = "1.0.0",
	.init = newer_minor_init,
	.exit = mock_exit,
	.ops = &mock_ops,
	.flags = HUB_PLUGIN_FLAG_IN_TREE,
};

static const struct hub_plugin_descriptor *const descriptors[] = { &descriptor, NULL };

const struct hub_plugin_descriptor *const *hub_plugin_query(void)
{
	return descriptors;
}
