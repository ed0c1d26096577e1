/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-config.h - the daemon's settings (hubd.conf, GKeyFile).
 *
 *   [hubd]
 *   plugin-dir=/usr/lib/x86_64-linux-gnu/hubd/plugins
 *   capability-dir=/usr/share/hubd/capabilities
 *   state-dir=/var/lib/hubd
 *   plugins=virtual,file       # optional: load only these, "," or ";" between (default: all)
 *   command-timeout-ms=10000
 *   serial-number=HUB-0001     # subject of CSRs (default: the identity's ro.SN, else
 *                              # /etc/machine-id, else the host name)
 *
 *   [certificates]             # which certificate store serves each role (default: file)
 *   claim=file
 *   permanent=pkcs11
 *   root-ca=file
 *
 *   [cloud]                    # optional: onboard and connect to a cloud
 *   transport=aws-iot          # the transport plugin that speaks to it
 *   identity=/data/aws/iotmi/config/iotmi_config.json   # the seed's format (aws-iot; mqtt needs none)
 *   port=8883                  # or 443 (ALPN x-amzn-mqtt-ca)
 *   backoff-base-ms=1000       # full-jitter exponential backoff between attempts
 *   backoff-cap-ms=120000
 *   connect-interval-ms=1000   # least time between two connects of one client id
 *   connect-timeout-ms=15000   # TCP + TLS + CONNACK
 *
 *   [outbox]                   # the durable uplink queue (state-dir/outbox.db)
 *   max-bytes=16777216         # payload bytes; then the drop policy applies
 *   max-records=100000
 *   commit-interval-ms=200     # writes wait this long to share one commit
 *
 *   [plugin.virtual]           # one group per plugin, read through host->config_get
 *   devices=demo-devices.conf
 *
 * Relative paths are resolved against the directory of the configuration file.
 */
#pragma once

#include <glib.h>

typedef struct {
	GKeyFile *keyfile;
	char *path;            /* the file, absolute; NULL when built-in defaults */
	char *dir;             /* its directory */
	char *plugin_dir;
	char *capability_dir;
	char *state_dir;
	char **plugins;        /* NULL = all */
	guint command_timeout_ms;
	char *serial_number;
	char *cert_stores[5];  /* by HUB_CERT_ROLE_*: store plugin name, NULL = none */
	gboolean cert_stores_configured; /* [certificates] present (else the defaults) */
	struct {
		char *transport; /* NULL: no cloud */
		char *identity;  /* absolute path of iotmi_config.json; NULL: none (nothing to provision) */
		guint port;
		guint backoff_base_ms;
		guint backoff_cap_ms;
		guint connect_interval_ms;
		guint connect_timeout_ms;
	} cloud;
	struct {
		guint max_bytes;          /* payload bytes kept at most */
		guint max_records;
		guint commit_interval_ms; /* how long writes wait to share one commit */
	} outbox;
} HubConfig;

/* Loads @path (NULL: defaults only). HUB_ERROR_INVALID_ARGUMENT with the
 * file, group and key for a malformed file or value. Unknown keys in [hubd]
 * are logged as warnings. */
HubConfig *hub_config_load(const char *path, GError **error);
void hub_config_free(HubConfig *config); /* NULL-safe */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HubConfig, hub_config_free)

/* @path made absolute against the configuration file's directory. g_free. */
char *hub_config_resolve_path(HubConfig *config, const char *path);

/* Value of @key in group "plugin.<plugin>", or NULL. g_free. */
char *hub_config_get_plugin_value(HubConfig *config, const char *plugin, const char *key);
