/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mock-failing-init - init() fails with -EIO; the loader must refuse it and never call exit(). */
#include "mock-plugin.h"

static struct mock_state state = { .name = "mock-failing-init" };

static int failing_init(const struct hub_host *host, struct hub_plugin *plugin, void **user_data)
{
	return mock_init(&state, -EIO, host, plugin, user_data);
}

static const struct hub_plugin_descriptor descriptor = {
	.abi_major = HUB_PLUGIN_ABI_MAJOR,
	.abi_minor = HUB_PLUGIN_ABI_MINOR,
	.struct_size = sizeof(struct hub_plugin_descriptor),
	.kind = HUB_PLUGIN_KIND_PROTOCOL,
	.name = "mock-failing-init",
	.version = "1.0.0",
	.init = failing_init,
	.exit = mock_exit, /* logs "mock-failing-init exit", which the test must never see */
	.ops = &mock_ops,
	.flags = HUB_PLUGIN_FLAG_IN_TREE,
};

static const struct hub_plugin_descriptor *const descriptors[] = { &descriptor, NULL };

const struct hub_plugin_descriptor *const *hub_plugin_query(void)
{
	return descriptors;
}
