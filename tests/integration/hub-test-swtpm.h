/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-test-swtpm.h - a private TPM 2.0 simulator (swtpm) for tests.
 *
 * swtpm runs in the foreground as a GSubprocess, listening on 127.0.0.1 on
 * a free pair of adjacent ports P (TPM commands) and P+1 (control): the
 * swtpm TCTI always uses port+1 for control. It is started with
 * --flags not-need-init,startup-clear, so it is ready for commands, and dies
 * with the test (PR_SET_PDEATHSIG). Its state directory survives stop and
 * start, so persistent handles and NV indices outlive a "reboot", and the
 * ports stay the same, so the TCTI string stays valid.
 *
 * Not thread-safe; call from the test's main thread. Every function asserts
 * (fails the test) instead of returning errors.
 */
#pragma once

#include <gio/gio.h>

typedef struct _HubTestSwtpm HubTestSwtpm;

/* TRUE when the swtpm binary is in PATH (tests g_test_skip() otherwise). */
gboolean hub_test_swtpm_available(void);

/* Starts swtpm with its state in @state_dir (created 0700 if missing, kept
 * by free), or in a temporary directory removed by free when NULL. Returns
 * once it accepts connections. */
HubTestSwtpm *hub_test_swtpm_new(const char *state_dir);
/* Stops swtpm (SIGTERM, then waits) and removes its own temporary state
 * directory unless HUB_TEST_KEEP is set. NULL-safe. */
void hub_test_swtpm_free(HubTestSwtpm *tpm);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HubTestSwtpm, hub_test_swtpm_free)

/* SIGTERM and wait; the state directory and ports are kept. No-op when stopped. */
void hub_test_swtpm_stop(HubTestSwtpm *tpm);
/* Starts it again on the same ports and state; returns once it accepts
 * connections. No-op when running. */
void hub_test_swtpm_start(HubTestSwtpm *tpm);
/* Stop then start: what a reboot does to a real TPM (volatile state lost,
 * persistent objects and NV kept). */
void hub_test_swtpm_restart(HubTestSwtpm *tpm);

/* "swtpm:host=127.0.0.1,port=P", for Tss2_TctiLdr_Initialize() and
 * TPM2TOOLS_TCTI. Owned by @tpm. */
const char *hub_test_swtpm_get_tcti(HubTestSwtpm *tpm);
/* P, the command port (P+1 is the control port). */
guint16 hub_test_swtpm_get_port(HubTestSwtpm *tpm);
const char *hub_test_swtpm_get_state_dir(HubTestSwtpm *tpm);
gboolean hub_test_swtpm_is_running(HubTestSwtpm *tpm);
