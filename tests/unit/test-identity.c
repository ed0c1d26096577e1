/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-identity.c - the iotmi_config.json identity file (src/hub-identity.c). */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "hub-error.h"
#include "hub-identity.h"

#define SAMPLE_RO                                                                                          \
	"\"iot_provisioning_method\": \"FLEET_PROVISIONING\", \"iot_claim_cert_path\": \"SECURE_STORAGE\", " \
	"\"iot_claim_pk_path\": \"SECURE_STORAGE\", \"fp_template_name\": \"device-integration-example\", "  \
	"\"SN\": \"1234567890\", \"UPC\": \"841667145075\""

static char *dir;

static char *write_file(const char *name, const char *text)
{
	char *path = g_build_filename(dir, name, NULL);

	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	return path;
}

static char *config(const char *ro_extra, const char *rw)
{
	return g_strdup_printf("{\"ro\": {" SAMPLE_RO "%s}, \"rw\": {%s}}", ro_extra, rw);
}

static void expect_error(const char *text, const char *needle)
{
	g_autofree char *path = write_file("bad.json", text);
	g_autoptr(GError) error = NULL;
	g_autoptr(HubIdentity) id = hub_identity_load(path, &error);

	g_assert_null(id);
	g_assert_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT);
	g_test_message("%s", error->message);
	if (!strstr(error->message, needle))
		g_error("expected \"%s\" in: %s", needle, error->message);
}

static void test_seed_sample(void)
{
	g_autofree char *text = config(", \"endpoint_url\": \"abc-ats.iot.eu-west-1.amazonaws.com\"",
				       "\"iot_provisioning_state\": \"NOT_PROVISIONED\"");
	g_autofree char *path = write_file("iotmi_config.json", text);
	g_autoptr(GError) error = NULL;
	g_autoptr(HubIdentity) id = hub_identity_load(path, &error);

	g_assert_no_error(error);
	g_assert_cmpstr(id->method, ==, "FLEET_PROVISIONING");
	g_assert_null(id->claim_cert_path); /* SECURE_STORAGE: the configured store */
	g_assert_null(id->claim_key_path);
	g_assert_cmpstr(id->template_name, ==, "device-integration-example");
	g_assert_cmpstr(id->endpoint, ==, "abc-ats.iot.eu-west-1.amazonaws.com");
	g_assert_cmpstr(id->serial_number, ==, "1234567890");
	g_assert_cmpstr(id->upc, ==, "841667145075");
	g_assert_null(id->ean);
	g_assert_cmpuint(id->keepalive_s, ==, 300);
	g_assert_cmpint(id->state, ==, HUB_PROVISIONING_NOT_PROVISIONED);
}

static void test_endpoint_spellings(void)
{
	g_autofree char *text = config(", \"iot_endpoint_url\": \"abc-ats.iot.eu-west-1.amazonaws.com\", "
				       "\"mqtt_keep_alive_interval\": 60",
				       "\"iot_provisioning_state\": \"NOT_PROVISIONED\"");
	g_autofree char *path = write_file("spelled.json", text);
	g_autoptr(GError) error = NULL;
	g_autoptr(HubIdentity) id = NULL;

	g_test_expect_message("hubd", G_LOG_LEVEL_WARNING, "*ro.iot_endpoint_url is read as ro.endpoint_url*");
	id = hub_identity_load(path, &error);
	g_test_assert_expected_messages();
	g_assert_no_error(error);
	g_assert_cmpstr(id->endpoint, ==, "abc-ats.iot.eu-west-1.amazonaws.com");
	g_assert_cmpuint(id->keepalive_s, ==, 60);
}

static void test_bad_fields(void)
{
	const char *rw = "\"iot_provisioning_state\": \"NOT_PROVISIONED\"";
	const char *endpoint = ", \"endpoint_url\": \"e.example.com\"";
	struct {
		const char *ro_extra;
		const char *rw;
		const char *needle;
	} cases[] = {
		{ "", rw, "ro.endpoint_url: missing" },
		{ ", \"endpoint_url\": \"https://e.example.com/\"", rw, "ro.endpoint_url: must be a host name" },
		{ ", \"endpoint_url\": \"a.example.com\", \"sh_endpoint_url\": \"b.example.com\"", rw, "disagrees" },
		{ ", \"endpoint_url\": 5", rw, "ro.endpoint_url: must be a string" },
		{ ", \"endpoint_url\": \"<SPECIFY_THIS_FIELD>\"", rw, "ro.endpoint_url: still holds" },
		{ ", \"endpoint_url\": \"e.example.com\", \"mqtt_keep_alive_interval\": 10", rw,
		  "ro.mqtt_keep_alive_interval: must be 30-1200" },
		{ ", \"endpoint_url\": \"e.example.com\", \"mqtt_keep_alive_interval\": 1201", rw, "30-1200" },
		{ ", \"endpoint_url\": \"e.example.com\", \"mqtt_keep_alive_interval\": \"300\"", rw, "whole number" },
		{ ", \"endpoint_url\": \"e.example.com\", \"EAN\": \"4006381333931\"", rw, "ro.EAN: give UPC or EAN" },
		{ endpoint, "\"iot_provisioning_state\": \"DONE\"", "rw.iot_provisioning_state: must be" },
		{ endpoint, "", "rw.iot_provisioning_state: missing" },
		{ endpoint, "\"iot_provisioning_state\": \"PROVISIONED\"", "rw.client_id: missing although" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *text = config(cases[i].ro_extra, cases[i].rw);

		expect_error(text, cases[i].needle);
	}
	expect_error("not json", "not valid JSON");
	expect_error("[1, 2]", "must be a JSON object");
	expect_error("{\"rw\": {}}", "the \"ro\" section is missing");
	expect_error("{\"ro\": [], \"rw\": {}}", "\"ro\" must be an object");
	expect_error("{\"ro\": {\"iot_provisioning_method\": \"JITP\"}, \"rw\": {}}",
		     "ro.iot_provisioning_method: unknown provisioning method");
	expect_error("{\"ro\": {\"iot_provisioning_method\": \"FLEET_PROVISIONING\", \"iot_claim_cert_path\": "
		     "\"relative/claim.pem\"}, \"rw\": {}}",
		     "ro.iot_claim_cert_path: must be an absolute path");
	expect_error("{\"ro\": {\"iot_provisioning_method\": \"FLEET_PROVISIONING\", \"iot_claim_cert_path\": "
		     "\"SECURE_STORAGE\", \"iot_claim_pk_path\": \"/k.pem\"}, \"rw\": {}}",
		     "SECURE_STORAGE must be given for both");
}

static void test_missing_file(void)
{
	g_autofree char *path = g_build_filename(dir, "absent.json", NULL);
	g_autoptr(GError) error = NULL;

	g_assert_null(hub_identity_load(path, &error));
	g_assert_error(error, HUB_ERROR, HUB_ERROR_NOT_FOUND);
}

/* Saving rewrites rw only, keeps members it does not know, and a failed
 * save leaves the file as it was. */
static void test_save(void)
{
	g_autofree char *text = config(", \"endpoint_url\": \"e.example.com\", \"oem_note\": \"keep me\"",
				       "\"iot_provisioning_state\": \"NOT_PROVISIONED\", \"oem_counter\": 7");
	g_autofree char *path = write_file("save.json", text);
	g_autofree char *moved = g_build_filename(dir, "moved", NULL);
	g_autofree char *subdir = g_build_filename(dir, "sub", NULL);
	g_autofree char *sub_path = g_build_filename(subdir, "id.json", NULL);
	g_autofree char *after = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(HubIdentity) id = hub_identity_load(path, &error);
	g_autoptr(HubIdentity) again = NULL;
	g_autoptr(HubIdentity) lost = NULL;

	g_assert_no_error(error);
	id->state = HUB_PROVISIONING_PROVISIONED;
	id->client_id = g_strdup("hub-client-1");
	id->managed_thing_id = g_strdup("59d3c90c55c4491192d841879192d33f");
	id->step = g_strdup("done");
	g_assert_true(hub_identity_save(id, &error));
	g_assert_no_error(error);
	g_assert_cmpint(id->last_updated, >, 0);

	again = hub_identity_load(path, &error);
	g_assert_no_error(error);
	g_assert_cmpint(again->state, ==, HUB_PROVISIONING_PROVISIONED);
	g_assert_cmpstr(again->client_id, ==, "hub-client-1");
	g_assert_cmpstr(again->managed_thing_id, ==, "59d3c90c55c4491192d841879192d33f");
	g_assert_cmpint(again->last_updated, ==, id->last_updated);
	g_assert_true(g_file_get_contents(path, &after, NULL, NULL));
	g_assert_nonnull(strstr(after, "keep me"));
	g_assert_nonnull(strstr(after, "\"oem_counter\" : 7"));

	/* Clearing a member removes it. */
	g_clear_pointer(&again->step, g_free);
	again->state = HUB_PROVISIONING_NOT_PROVISIONED;
	g_clear_pointer(&again->client_id, g_free);
	g_assert_true(hub_identity_save(again, &error));
	g_clear_pointer(&after, g_free);
	g_assert_true(g_file_get_contents(path, &after, NULL, NULL));
	g_assert_null(strstr(after, "provisioning_step"));
	g_assert_null(strstr(after, "hub-client-1"));

	/* Its directory gone: the save fails and writes nothing anywhere. */
	g_assert_cmpint(g_mkdir(subdir, 0700), ==, 0);
	g_assert_true(g_file_set_contents(sub_path, text, -1, NULL));
	lost = hub_identity_load(sub_path, &error);
	g_assert_no_error(error);
	g_assert_cmpint(g_rename(subdir, moved), ==, 0);
	lost->state = HUB_PROVISIONING_PROVISIONING;
	g_assert_false(hub_identity_save(lost, &error));
	g_assert_error(error, HUB_ERROR, HUB_ERROR_FAILED);
	g_assert_false(g_file_test(subdir, G_FILE_TEST_EXISTS));
}

int main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	int status;

	g_test_init(&argc, &argv, NULL);
	dir = g_dir_make_tmp("hubd-identity-XXXXXX", &error);
	g_assert_no_error(error);
	g_test_add_func("/identity/seed-sample", test_seed_sample);
	g_test_add_func("/identity/endpoint-spellings", test_endpoint_spellings);
	g_test_add_func("/identity/bad-fields", test_bad_fields);
	g_test_add_func("/identity/missing-file", test_missing_file);
	g_test_add_func("/identity/save", test_save);
	status = g_test_run();
	{
		g_autofree char *quoted = g_shell_quote(dir);
		g_autofree char *command = g_strdup_printf("rm -rf %s", quoted);

		g_assert_cmpint(system(command), ==, 0);
	}
	g_free(dir);
	return status;
}
