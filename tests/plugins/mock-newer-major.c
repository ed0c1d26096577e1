/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mock-newer-major - claims the next major ABI; must be refused before anything else is read. */
#include "mock-plugin.h"

static struct mock_state state = { .name = "mock-newer-major" };

static int newer_major_init(const struct hub_host *host, struct hub_plugin *plugin, void **user_data)
{
	return mock_init(&state, 0, host, plugin, user_data);
}

static const struct hub_plugin_descriptor descriptor = {
	.abi_major = HUB_PLUGIN_ABI_MAJOR + 1,
	.abi_minor = 0,
	.struct_size = sizeof(struct hub_plugin_descriptor),
	.kind = HUB_PLUGIN_KIND_PROTOCOL,
	.name = "mock-newer-major",
	.version = "2.0.0",
	.init = newer_major_init,
	.exit = mock_exit,
	.ops = &mock_ops,
	.flags = HUB_PLUGIN_FLAG_IN_TREE,
};

static const struct hub_plugin_descriptor *const descriptors[] = { &descriptor, NULL };

const struct hub_plugin_descriptor *const *hub_plugin_query(void)
{
	return descriptors;
}
