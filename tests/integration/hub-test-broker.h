/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-test-broker.h - the real mosquitto broker for integration tests: one
 * mutual-TLS listener on 127.0.0.1 and a free port, the test PKI's server
 * certificate, client certificates required (the certificate's CN is the
 * MQTT user name), TLS 1.2 or newer, TCP_NODELAY, no persistence, log in
 * the test's directory. It runs in the foreground as our child and dies with the test
 * (PR_SET_PDEATHSIG). Failures to start abort the test with the log.
 */
#pragma once

#include <glib.h>

#include "hub-test-pki.h"

typedef struct _HubTestBroker HubTestBroker;

/* The broker binary: $HUB_MOSQUITTO, else /usr/sbin/mosquitto. */
const char *hub_test_broker_path(void);
/* Whether that binary exists and is executable (tests skip when not). */
gboolean hub_test_broker_available(void);

/* Writes @dir/mosquitto.conf and starts the broker, logging to
 * @dir/mosquitto.log. Returns once it accepts TCP connections (10 s max);
 * picks another port and retries when the chosen one was taken meanwhile. */
HubTestBroker *hub_test_broker_start(HubTestPki *pki, const char *dir);
/* The same, with @extra_config (whole lines, e.g. "acl_file /x/acl\n")
 * added to mosquitto.conf before the listener. */
HubTestBroker *hub_test_broker_start_full(HubTestPki *pki, const char *dir, const char *extra_config);
/* SIGTERM and wait (5 s, then SIGKILL). Idempotent. */
void hub_test_broker_stop(HubTestBroker *broker);
/* SIGKILL and reap: no clean shutdown, clients just lose the connection.
 * Idempotent. */
void hub_test_broker_kill(HubTestBroker *broker);
/* SIGSTOP: connections stay open and nothing is answered (SIGKILL still works). */
void hub_test_broker_pause(HubTestBroker *broker);
void hub_test_broker_resume(HubTestBroker *broker);
/* Starts a stopped or killed @broker again with the same mosquitto.conf,
 * so on the same port; returns once it accepts connections. FALSE when
 * something else took the port meanwhile (other failures abort the test). */
gboolean hub_test_broker_restart(HubTestBroker *broker);
/* Stops the broker if needed and frees @broker. NULL-safe. */
void hub_test_broker_free(HubTestBroker *broker);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HubTestBroker, hub_test_broker_free)

guint16 hub_test_broker_port(HubTestBroker *broker);
/* The broker's log so far (g_free). */
char *hub_test_broker_read_log(HubTestBroker *broker);
/* TRUE when @broker was started; otherwise fails the current test (no
 * silent pass: .ci/install-deps installs mosquitto) and returns FALSE. */
gboolean hub_test_broker_require(HubTestBroker *broker);
/* Where the broker writes its log (owned by @broker). */
const char *hub_test_broker_log_path(HubTestBroker *broker);

/* Waits (up to @timeout_ms) until the log contains @needle; TRUE if it does.
 * The broker logs a refused handshake a moment after the client sees it. */
gboolean hub_test_broker_wait_log(HubTestBroker *broker, const char *needle, guint timeout_ms);

/* A TCP port on 127.0.0.1 that was free a moment ago. */
guint16 hub_test_free_port(void);
