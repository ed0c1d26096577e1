/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mock-out-of-tree - well-formed but without HUB_PLUGIN_FLAG_IN_TREE: loads, tainted. */
#include "mock-plugin.h"

static struct mock_state state = { .name = "mock-out-of-tree" };

static int out_of_tree_init(const struct hub_host *host, struct hub_plugin *plugin, void **user_data)
{
	return mock_init(&state, 0, host, plugin, user_data);
}

static const struct hub_plugin_descriptor descriptor = {
	.abi_major = HUB_PLUGIN_ABI_MAJOR,
	.abi_minor = HUB_PLUGIN_ABI_MINOR,
	.struct_size = sizeof(struct hub_plugin_descriptor),
	.kind = HUB_PLUGIN_KIND_PROTOCOL,
	.name = "mock-out-of-tree",
	.version = "0.0.1",
	.init = out_of_tree_init,
	.exit = mock_exit,
	.ops = &mock_ops,
	.flags = 0, /* not built in the hubd tree, whatever HUB_IN_TREE says */
};

static const struct hub_plugin_descriptor *const descriptors[] = { &descriptor, NULL };

const struct hub_plugin_descriptor *const *hub_plugin_query(void)
{
	return descriptors;
}
