/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cloudsim - runs a hub-cloudsim for manual use and for tests in other
 * processes.
 *
 *   cloudsim [--template NAME] [--thing SN:UPC]... DIR
 *
 * starts the broker and the responder in DIR, prints KEY=VALUE lines
 * (PORT, HOST, CA, CLAIM_CERT, CLAIM_KEY, TEMPLATE, LOG, and per --thing
 * THING_<n>=SN:UPC:MANAGED_THING_ID:THING_NAME), then READY=1, and runs
 * until SIGTERM or SIGINT.
 *
 * With --tap or without DIR (as "make check" runs every check program) it
 * is a TAP smoke test: start in a temporary directory, print the lines as comments, stop.
 */
#include "config.h"

#include <glib-unix.h>
#include <glib/gstdio.h>
#include <stdio.h>

#include "hub-cloudsim.h"
#include "hub-test-env.h"

static gboolean on_signal(gpointer data)
{
	g_main_loop_quit(data);
	return G_SOURCE_REMOVE;
}

static void print_info(HubCloudsim *sim, const char *prefix, const char *template_name, char **things)
{
	printf("%sPORT=%u\n", prefix, hub_cloudsim_port(sim));
	printf("%sHOST=127.0.0.1\n", prefix);
	printf("%sCA=%s\n", prefix, hub_cloudsim_ca_path(sim));
	printf("%sCLAIM_CERT=%s\n", prefix, hub_cloudsim_claim_cert_path(sim));
	printf("%sCLAIM_KEY=%s\n", prefix, hub_cloudsim_claim_key_path(sim));
	printf("%sTEMPLATE=%s\n", prefix, template_name);
	printf("%sLOG=%s\n", prefix, hub_cloudsim_log_path(sim));
	for (guint i = 0; things && things[i]; i++) {
		g_auto(GStrv) parts = g_strsplit(things[i], ":", 2);
		const HubCloudsimThing *thing;

		if (g_strv_length(parts) != 2) {
			g_printerr("cloudsim: --thing wants SN:UPC, not %s\n", things[i]);
			continue;
		}
		thing = hub_cloudsim_add_managed_thing(sim, parts[0], parts[1]);
		printf("%sTHING_%u=%s:%s:%s:%s\n", prefix, i, thing->serial_number, thing->product_code,
		       thing->managed_thing_id, thing->thing_name);
	}
	fflush(stdout);
}

int main(int argc, char **argv)
{
	g_autofree char *template_name = NULL;
	gboolean tap = FALSE;
	g_auto(GStrv) things = NULL;
	g_auto(GStrv) rest = NULL;
	const GOptionEntry entries[] = {
		{ "template", 't', 0, G_OPTION_ARG_STRING, &template_name, "Provisioning template name", "NAME" },
		{ "thing", 0, 0, G_OPTION_ARG_STRING_ARRAY, &things, "Register a managed thing", "SN:UPC" },
		{ "tap", 0, 0, G_OPTION_ARG_NONE, &tap, "TAP smoke test (what make check runs)", NULL },
		{ G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &rest, NULL, "DIR" },
		{ NULL }
	};
	g_autoptr(GOptionContext) context = g_option_context_new("DIR - a test cloud for hub onboarding");
	g_autoptr(GError) error = NULL;
	g_autoptr(HubCloudsim) sim = NULL;
	g_autoptr(GMainLoop) loop = NULL;
	g_autofree char *tmpdir = NULL;
	gboolean smoke;

	g_option_context_add_main_entries(context, entries, NULL);
	if (!g_option_context_parse(context, &argc, &argv, &error)) {
		g_printerr("cloudsim: %s\n", error->message);
		return 2;
	}
	if (!template_name)
		template_name = g_strdup(HUB_CLOUDSIM_DEFAULT_TEMPLATE);
	smoke = tap || !rest || !rest[0];
	if (smoke) {
		tmpdir = g_dir_make_tmp("cloudsim-XXXXXX", &error);
		if (!tmpdir) {
			printf("1..1\nnot ok 1 - temporary directory: %s\n", error->message);
			return 1;
		}
	}
	sim = hub_cloudsim_start(smoke ? tmpdir : rest[0], &error);
	if (!sim) {
		if (smoke)
			printf("1..1\nnot ok 1 - cloudsim start: %s\n", error->message);
		else
			g_printerr("cloudsim: %s\n", error->message);
		return 1;
	}
	hub_cloudsim_set_template(sim, template_name);
	if (smoke) {
		printf("1..1\n");
		print_info(sim, "# ", template_name, things);
		hub_cloudsim_stop(sim);
		printf("ok 1 - cloudsim starts and stops (run with a DIR for manual use)\n");
		g_clear_pointer(&sim, hub_cloudsim_free);
		hub_test_remove_tree(tmpdir);
		return 0;
	}
	print_info(sim, "", template_name, things);
	printf("READY=1\n");
	fflush(stdout);
	loop = g_main_loop_new(NULL, FALSE);
	g_unix_signal_add(SIGTERM, on_signal, loop);
	g_unix_signal_add(SIGINT, on_signal, loop);
	g_main_loop_run(loop);
	hub_cloudsim_stop(sim);
	return 0;
}
