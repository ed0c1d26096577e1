/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mock-no-descriptor - exports hub_plugin_query but returns an empty list; must be refused. */
#include "mock-plugin.h"

static const struct hub_plugin_descriptor *const descriptors[] = { NULL };

const struct hub_plugin_descriptor *const *hub_plugin_query(void)
{
	return descriptors;
}
