/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-test-softhsm.c - SoftHSM2 tokens for tests.
 */
#include "config.h"

#include <errno.h>

#include <glib/gstdio.h>
#include <gio/gio.h>

#include "hub-test-softhsm.h"

gboolean hub_test_softhsm_available(void)
{
	g_autofree char *util = g_find_program_in_path("softhsm2-util");

	return util && g_file_test(HUB_TEST_SOFTHSM_MODULE, G_FILE_TEST_EXISTS);
}

gboolean hub_test_softhsm_add_token(HubTestSoftHsm *hsm, const char *label, const char *pin, const char *so_pin,
				    GError **error)
{
	g_autoptr(GSubprocess) util = NULL;
	g_autofree char *out = NULL;
	g_autofree char *err = NULL;

	util = g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, error,
				"softhsm2-util", "--init-token", "--free", "--label", label, "--pin", pin, "--so-pin",
				so_pin, NULL);
	if (!util || !g_subprocess_communicate_utf8(util, NULL, NULL, &out, &err, error))
		return FALSE;
	if (!g_subprocess_get_if_exited(util) || g_subprocess_get_exit_status(util) != 0) {
		g_set_error(error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED, "softhsm2-util --init-token failed: %s%s",
			    out ? out : "", err ? err : "");
		return FALSE;
	}
	return TRUE;
}

HubTestSoftHsm *hub_test_softhsm_new(const char *dir, const char *label, const char *pin, const char *so_pin,
				     GError **error)
{
	g_autoptr(HubTestSoftHsm) hsm = g_new0(HubTestSoftHsm, 1);
	g_autofree char *conf = NULL;

	hsm->dir = g_strdup(dir);
	hsm->conf_path = g_build_filename(dir, "softhsm2.conf", NULL);
	hsm->token_dir = g_build_filename(dir, "tokens", NULL);
	hsm->label = g_strdup(label);
	hsm->pin = g_strdup(pin);
	hsm->so_pin = g_strdup(so_pin);

	if (g_mkdir_with_parents(hsm->token_dir, 0700) < 0) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno), "Cannot create %s: %s", hsm->token_dir,
			    g_strerror(errno));
		return NULL;
	}
	conf = g_strdup_printf("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n"
			       "slots.removable = false\n",
			       hsm->token_dir);
	if (!g_file_set_contents(hsm->conf_path, conf, -1, error))
		return NULL;
	g_setenv("SOFTHSM2_CONF", hsm->conf_path, TRUE);
	if (!hub_test_softhsm_add_token(hsm, label, pin, so_pin, error))
		return NULL;
	return g_steal_pointer(&hsm);
}

void hub_test_softhsm_free(HubTestSoftHsm *hsm)
{
	if (!hsm)
		return;
	g_free(hsm->dir);
	g_free(hsm->conf_path);
	g_free(hsm->token_dir);
	g_free(hsm->label);
	g_free(hsm->pin);
	g_free(hsm->so_pin);
	g_free(hsm);
}
