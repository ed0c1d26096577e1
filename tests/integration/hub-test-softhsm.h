/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-test-softhsm.h - SoftHSM2 tokens for tests, in a directory the test
 * owns.
 *
 * hub_test_softhsm_new() writes <dir>/softhsm2.conf (token directory
 * <dir>/tokens, file object store, log level ERROR), points SOFTHSM2_CONF at
 * it with g_setenv() (the module reads it when it is loaded, and child
 * processes such as pkcs11-tool inherit it), and initialises one token with
 * softhsm2-util. Further tokens can be added in the same store.
 *
 * Call it before the SoftHSM module is first loaded in the process, and
 * before starting threads (g_setenv). Nothing is deleted: the test removes
 * @dir. Not thread-safe.
 */
#pragma once

#include <glib.h>

/* Where Debian installs the module. */
#define HUB_TEST_SOFTHSM_MODULE "/usr/lib/softhsm/libsofthsm2.so"

typedef struct {
	char *dir;       /* as given */
	char *conf_path; /* <dir>/softhsm2.conf, the value of SOFTHSM2_CONF */
	char *token_dir; /* <dir>/tokens */
	char *label;     /* the first token */
	char *pin;       /* its user PIN */
	char *so_pin;    /* its security officer PIN */
} HubTestSoftHsm;

/* TRUE when the module and softhsm2-util are installed (tests skip otherwise). */
gboolean hub_test_softhsm_available(void);

/* Creates the configuration in @dir (which must exist) and a token labelled
 * @label with the user PIN @pin and the SO PIN @so_pin. Returns NULL and
 * sets @error if softhsm2-util fails. Free with hub_test_softhsm_free(). */
HubTestSoftHsm *hub_test_softhsm_new(const char *dir, const char *label, const char *pin, const char *so_pin,
				     GError **error);

/* Initialises one more token in the same store. */
gboolean hub_test_softhsm_add_token(HubTestSoftHsm *hsm, const char *label, const char *pin, const char *so_pin,
				    GError **error);

/* Frees the record; leaves the files and SOFTHSM2_CONF alone. NULL-safe. */
void hub_test_softhsm_free(HubTestSoftHsm *hsm);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HubTestSoftHsm, hub_test_softhsm_free)
