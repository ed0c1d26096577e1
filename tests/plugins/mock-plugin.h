/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mock-plugin.h - the parts every mock plugin shares. Each mock-*.c includes
 * it once and spells out its own descriptor, so the one thing that mock gets
 * wrong (or right) stays visible in its own file.
 *
 * A mock logs "<name> init" from init() and "<name> exit" from exit()
 * through host->log, which is how tests see that the loader called them with
 * the right host table, handle and user_data.
 */
#pragma once

#include <errno.h>
#include <stddef.h>

#include <hubd/hub-plugin.h>
#include <hubd/hub-protocol.h>
#include <hubd/hub-transport.h>

#define MOCK_UNUSED __attribute__((unused))

HUB_PLUGIN_EXPORT const struct hub_plugin_descriptor *const *hub_plugin_query(void);

/* One per descriptor: what init() was given. */
struct mock_state {
	const char *name;
	const struct hub_host *host;
	struct hub_plugin *plugin;
};

/* Remembers the host, logs "<name> init" and returns @result (0 or -errno). */
static inline int mock_init(struct mock_state *state, int result, const struct hub_host *host,
			    struct hub_plugin *plugin, void **user_data)
{
	state->host = host;
	state->plugin = plugin;
	*user_data = state;
	host->log(plugin, HUB_LOG_INFO, "%s init", state->name);
	return result;
}

/* exit() of every mock: @user_data must be the state init() stored. */
static inline void mock_exit(void *user_data)
{
	struct mock_state *state = user_data;

	if (!state || !state->host)
		return;
	state->host->log(state->plugin, HUB_LOG_INFO, "%s exit", state->name);
	state->host = NULL;
	state->plugin = NULL;
}

static inline int mock_start(void *user_data)
{
	struct mock_state *state = user_data;

	return state && state->host ? 0 : -EINVAL;
}

/* A complete ABI 1.0 protocol table: only start() does anything. */
static const struct hub_protocol_ops mock_ops MOCK_UNUSED = {
	.struct_size = sizeof(struct hub_protocol_ops),
	.start = mock_start,
};
