/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mock-older-minor - built for ABI 1.0; the test loads it as a 1.1 host, which must accept it. */
#include "mock-plugin.h"

static struct mock_state state = { .name = "mock-older-minor" };

static int older_minor_init(const struct hub_host *host, struct hub_plugin *plugin, void **user_data)
{
	return mock_init(&state, 0, host, plugin, user_data);
}

static const struct hub_plugin_descriptor descriptor = {
	.abi_major = 1,
	.abi_minor = 0, /* deliberately not HUB_PLUGIN_ABI_MINOR */
	.struct_size = sizeof(struct hub_plugin_descriptor),
	.kind = HUB_PLUGIN_KIND_PROTOCOL,
	.name = "mock-older-minor",
	.version = "1.0.0",
	.init = older_minor_init,
	.exit = mock_exit,
	.ops = &mock_ops,
	.flags = HUB_PLUGIN_FLAG_IN_TREE,
};

static const struct hub_plugin_descriptor *const descriptors[] = { &descriptor, NULL };

const struct hub_plugin_descriptor *const *hub_plugin_query(void)
{
	return descriptors;
}
