/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mock-missing-symbol - a valid descriptor behind the wrong symbol name; the
 * loader must refuse it because hub_plugin_query is not exported. Built
 * without PLUGIN_LDFLAGS' export regex so that its one symbol survives.
 */
#include <hubd/hub-plugin.h>

HUB_PLUGIN_EXPORT const struct hub_plugin_descriptor *const *mock_missing_symbol_query(void);

static const struct hub_plugin_descriptor descriptor = {
	.abi_major = HUB_PLUGIN_ABI_MAJOR,
	.abi_minor = HUB_PLUGIN_ABI_MINOR,
	.struct_size = sizeof(struct hub_plugin_descriptor),
	.kind = HUB_PLUGIN_KIND_PROTOCOL,
	.name = "mock-missing-symbol",
	.version = "1.0.0",
	.flags = HUB_PLUGIN_FLAG_IN_TREE,
};

static const struct hub_plugin_descriptor *const descriptors[] = { &descriptor, NULL };

const struct hub_plugin_descriptor *const *mock_missing_symbol_query(void)
{
	return descriptors;
}
