/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mock-bad-descriptors - one file whose descriptors each break one rule the
 * loader checks after the ABI (size, kind, name, duplicate, ops), mixed with
 * a few that must load. Refusing one descriptor must not refuse the others.
 */
#include <stdio.h>

#include "mock-plugin.h"

static struct mock_state state_ok = { .name = "bd-ok" };
static struct mock_state state_no_flags = { .name = "bd-no-flags" };
static struct mock_state state_longest = { .name = "bd-12345678901234567890123456789" };

static int ok_init(const struct hub_host *host, struct hub_plugin *plugin, void **user_data)
{
	return mock_init(&state_ok, 0, host, plugin, user_data);
}

static int no_flags_init(const struct hub_host *host, struct hub_plugin *plugin, void **user_data)
{
	return mock_init(&state_no_flags, 0, host, plugin, user_data);
}

static int longest_init(const struct hub_host *host, struct hub_plugin *plugin, void **user_data)
{
	return mock_init(&state_longest, 0, host, plugin, user_data);
}

/* For descriptors that must be refused before init(). */
static int unexpected_init(const struct hub_host *host, struct hub_plugin *plugin, void **user_data)
{
	host->log(plugin, HUB_LOG_ERR, "bad-descriptors: unexpected init");
	return -EINVAL;
}

/* Protocol table from before write_properties existed: smaller than ABI 1.0's. */
static const struct hub_protocol_ops small_ops = {
	.struct_size = offsetof(struct hub_protocol_ops, write_properties),
	.start = mock_start,
};

/* A transport that does nothing, complete for ABI 1.0. */
static int transport_start(void *user_data)
{
	(void)user_data;
	return 0;
}

static int transport_provision(void *user_data, char *message, size_t message_size)
{
	(void)user_data;
	snprintf(message, message_size, "not a real transport");
	return -ENOTSUP;
}

static int transport_offboard(void *user_data, uint32_t flags)
{
	(void)user_data;
	(void)flags;
	return -ENOTSUP;
}

static const struct hub_transport_ops transport_ops = {
	.struct_size = sizeof(struct hub_transport_ops),
	.start = transport_start,
	.provision = transport_provision,
	.offboard = transport_offboard,
};

#define DESC(name_, kind_, size_, ops_, flags_, init_, exit_)         \
	{                                                             \
		.abi_major = HUB_PLUGIN_ABI_MAJOR,                    \
		.abi_minor = HUB_PLUGIN_ABI_MINOR,                    \
		.struct_size = (size_),                               \
		.kind = (kind_),                                      \
		.name = (name_),                                      \
		.version = "1.0.0",                                   \
		.init = (init_),                                      \
		.exit = (exit_),                                      \
		.ops = (ops_),                                        \
		.flags = (flags_),                                    \
	}

#define FULL sizeof(struct hub_plugin_descriptor)
#define NO_FLAGS offsetof(struct hub_plugin_descriptor, flags)
#define PROTOCOL HUB_PLUGIN_KIND_PROTOCOL
#define IN_TREE HUB_PLUGIN_FLAG_IN_TREE

static const struct hub_plugin_descriptor d_small =
	DESC("bd-small", PROTOCOL, NO_FLAGS - 1, &mock_ops, IN_TREE, unexpected_init, mock_exit);
static const struct hub_plugin_descriptor d_kind =
	DESC("bd-kind", 99, FULL, &mock_ops, IN_TREE, unexpected_init, mock_exit);
static const struct hub_plugin_descriptor d_upper =
	DESC("BD_name", PROTOCOL, FULL, &mock_ops, IN_TREE, unexpected_init, mock_exit);
static const struct hub_plugin_descriptor d_dash =
	DESC("-bd-dash", PROTOCOL, FULL, &mock_ops, IN_TREE, unexpected_init, mock_exit);
static const struct hub_plugin_descriptor d_too_long = /* 33 characters */
	DESC("bd-123456789012345678901234567890", PROTOCOL, FULL, &mock_ops, IN_TREE, unexpected_init, mock_exit);
static const struct hub_plugin_descriptor d_null_name =
	DESC(NULL, PROTOCOL, FULL, &mock_ops, IN_TREE, unexpected_init, mock_exit);
static const struct hub_plugin_descriptor d_no_ops =
	DESC("bd-no-ops", PROTOCOL, FULL, NULL, IN_TREE, unexpected_init, mock_exit);
static const struct hub_plugin_descriptor d_small_ops =
	DESC("bd-small-ops", PROTOCOL, FULL, &small_ops, IN_TREE, unexpected_init, mock_exit);
static const struct hub_plugin_descriptor d_ok =
	DESC("bd-ok", PROTOCOL, FULL, &mock_ops, IN_TREE, ok_init, mock_exit);
static const struct hub_plugin_descriptor d_ok_again =
	DESC("bd-ok", PROTOCOL, FULL, &mock_ops, IN_TREE, unexpected_init, mock_exit);
/* flags lies beyond struct_size, so its IN_TREE bit must not be believed. */
static const struct hub_plugin_descriptor d_no_flags =
	DESC("bd-no-flags", PROTOCOL, NO_FLAGS, &mock_ops, IN_TREE, no_flags_init, mock_exit);
static const struct hub_plugin_descriptor d_longest = /* 32 characters */
	DESC("bd-12345678901234567890123456789", PROTOCOL, FULL, &mock_ops, IN_TREE, longest_init, mock_exit);
/* init and exit are optional. */
static const struct hub_plugin_descriptor d_transport =
	DESC("bd-transport", HUB_PLUGIN_KIND_TRANSPORT, FULL, &transport_ops, IN_TREE, NULL, NULL);
/* A transport must bring its table. */
static const struct hub_plugin_descriptor d_transport_no_ops =
	DESC("bd-transport-no-ops", HUB_PLUGIN_KIND_TRANSPORT, FULL, NULL, IN_TREE, unexpected_init, mock_exit);
/* A certstore must bring its table. */
static const struct hub_plugin_descriptor d_certstore_no_ops =
	DESC("bd-certstore-no-ops", HUB_PLUGIN_KIND_CERTSTORE, FULL, NULL, IN_TREE, unexpected_init, mock_exit);

static const struct hub_plugin_descriptor *const descriptors[] = {
	&d_small, &d_kind,    &d_upper, &d_dash,       &d_too_long,  &d_null_name, &d_no_ops,
	&d_small_ops, &d_ok, &d_ok_again, &d_no_flags, &d_longest, &d_transport, &d_certstore_no_ops,
	&d_transport_no_ops, NULL,
};

const struct hub_plugin_descriptor *const *hub_plugin_query(void)
{
	return descriptors;
}
