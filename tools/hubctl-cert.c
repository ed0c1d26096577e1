/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hubctl-cert.c - "hubctl cert": the hub's credentials by role
 * (org.hubd.Hub1.Certificates). Private keys only travel to the daemon
 * (import of a credential made elsewhere); nothing here prints one.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hubctl.h"

#define MAX_INPUT_FILE (1024 * 1024)

static gint64
lookup_int64(GVariant *dict, const char *name)
{
	gint64 value = 0;

	g_variant_lookup(dict, name, "x", &value);
	return value;
}

static void
add_string(JsonBuilder *builder, const char *name, const char *value)
{
	json_builder_set_member_name(builder, name);
	json_builder_add_string_value(builder, value);
}

static void
add_role_json(JsonBuilder *builder, GVariant *role)
{
	static const char *const strings[][2] = {
		{ "role", "Role" }, { "state", "State" }, { "store", "Store" }, { "location", "Location" },
		{ "keyType", "KeyType" }, { "subject", "Subject" }, { "issuer", "Issuer" }, { "serial", "Serial" },
		{ "error", "Error" },
	};
	guint32 certificates = 0;

	json_builder_begin_object(builder);
	for (gsize i = 0; i < G_N_ELEMENTS(strings); i++) {
		const char *value = NULL;

		/* Absent and empty members are left out of the JSON. */
		if (g_variant_lookup(role, strings[i][1], "&s", &value) && *value)
			add_string(builder, strings[i][0], value);
	}
	json_builder_set_member_name(builder, "hardwareBacked");
	json_builder_add_boolean_value(builder, hubctl_lookup_boolean(role, "HardwareBacked", FALSE));
	json_builder_set_member_name(builder, "keyImportable");
	json_builder_add_boolean_value(builder, hubctl_lookup_boolean(role, "KeyImportable", FALSE));
	json_builder_set_member_name(builder, "hasKey");
	json_builder_add_boolean_value(builder, hubctl_lookup_boolean(role, "HasKey", FALSE));
	g_variant_lookup(role, "Certificates", "u", &certificates);
	json_builder_set_member_name(builder, "certificates");
	json_builder_add_int_value(builder, certificates);
	if (lookup_int64(role, "NotAfter")) {
		g_autofree char *before = hubctl_format_time_ms(lookup_int64(role, "NotBefore") * 1000);
		g_autofree char *after = hubctl_format_time_ms(lookup_int64(role, "NotAfter") * 1000);

		add_string(builder, "notBefore", before);
		add_string(builder, "notAfter", after);
	}
	json_builder_end_object(builder);
}

static void
print_role_text(GVariant *role)
{
	const char *key_type = hubctl_lookup_string(role, "KeyType");
	gboolean hardware = hubctl_lookup_boolean(role, "HardwareBacked", FALSE);

	printf("%s: %s\n", hubctl_lookup_string(role, "Role"), hubctl_lookup_string(role, "State"));
	if (*hubctl_lookup_string(role, "Store"))
		printf("  store:     %s (%s)\n", hubctl_lookup_string(role, "Store"), hardware ? "hardware-backed" : "software");
	if (*hubctl_lookup_string(role, "Location"))
		printf("  location:  %s\n", hubctl_lookup_string(role, "Location"));
	if (hubctl_lookup_boolean(role, "HasKey", FALSE))
		printf("  key:       %s%s\n", key_type, hardware ? ", never leaves the device" : "");
	if (*hubctl_lookup_string(role, "Subject")) {
		g_autofree char *after = hubctl_format_time_ms(lookup_int64(role, "NotAfter") * 1000);

		printf("  subject:   %s\n", hubctl_lookup_string(role, "Subject"));
		printf("  issuer:    %s\n", hubctl_lookup_string(role, "Issuer"));
		printf("  expires:   %s%s\n", after, g_str_equal(hubctl_lookup_string(role, "State"), "expired") ? " (EXPIRED)" : "");
	}
	if (*hubctl_lookup_string(role, "Error"))
		printf("  error:     %s\n", hubctl_lookup_string(role, "Error"));
}

static int
cert_status(HubctlContext *ctx)
{
	_cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) roles = NULL;
	g_autoptr(JsonBuilder) builder = json_builder_new();
	GVariantIter iter;
	GVariant *role;
	int r;

	r = hubctl_call(ctx->bus, HUBCTL_ROOT_PATH, HUBCTL_CERTIFICATES_IFACE, "GetStatus", 0, &error, &reply, "");
	if (r < 0)
		return hubctl_fail("cert status", &error, r);
	if (!g_variant_is_of_type(reply, G_VARIANT_TYPE("(aa{sv})"))) {
		fprintf(stderr, "hubctl: cert status: unexpected reply of type %s\n", g_variant_get_type_string(reply));
		return HUBCTL_EXIT_FAILURE;
	}
	roles = g_variant_get_child_value(reply, 0);
	json_builder_begin_array(builder);
	g_variant_iter_init(&iter, roles);
	while ((role = g_variant_iter_next_value(&iter))) {
		if (ctx->json)
			add_role_json(builder, role);
		else
			print_role_text(role);
		g_variant_unref(role);
	}
	json_builder_end_array(builder);
	if (ctx->json) {
		g_autoptr(JsonNode) root = json_builder_get_root(builder);

		hubctl_print_json(root, TRUE);
	}
	fflush(stdout);
	return HUBCTL_EXIT_OK;
}

/* Reads a PEM or JSON input file ("-" = stdin), bounded in size. */
static char *
read_input(const char *path, GError **error)
{
	g_autoptr(GString) text = g_string_new(NULL);
	FILE *file = g_str_equal(path, "-") ? stdin : fopen(path, "re");
	char buf[4096];
	size_t n;

	if (!file) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno), "cannot open %s: %s", path,
			    g_strerror(errno));
		return NULL;
	}
	while ((n = fread(buf, 1, sizeof(buf), file)) > 0) {
		if (text->len + n > MAX_INPUT_FILE) {
			g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s is larger than %d bytes", path,
				    MAX_INPUT_FILE);
			break;
		}
		g_string_append_len(text, buf, (gssize)n);
	}
	if (file != stdin)
		fclose(file);
	if (error && *error)
		return NULL;
	if (!g_utf8_validate(text->str, (gssize)text->len, NULL) || strlen(text->str) != text->len) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s is not text (PEM or JSON expected)", path);
		return NULL;
	}
	return g_string_free(g_steal_pointer(&text), FALSE);
}

/* Wipes a buffer that held a private key before freeing it. */
static void
free_secret(char *text)
{
	if (!text)
		return;
	memset(text, 0, strlen(text));
	__asm__ __volatile__("" : : "r"(text) : "memory");
	g_free(text);
}

/* The claim credential from the JSON answer of CreateProvisioningProfile. */
static gboolean
read_profile(const char *path, char **cert_pem, char **key_pem, GError **error)
{
	g_autofree char *text = read_input(path, error);
	g_autoptr(JsonNode) root = NULL;
	JsonObject *object;
	const char *cert, *key;

	if (!text)
		return FALSE;
	root = hubctl_parse_json(text, error);
	memset(text, 0, strlen(text));
	if (!root)
		return FALSE;
	object = JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : NULL;
	cert = object ? hubctl_json_object_string(object, "ClaimCertificate") : NULL;
	key = object ? hubctl_json_object_string(object, "ClaimCertificatePrivateKey") : NULL;
	if (!cert || !*cert || !key || !*key) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
			    "%s has no string members ClaimCertificate and ClaimCertificatePrivateKey "
			    "(the answer of CreateProvisioningProfile)", path);
		return FALSE;
	}
	*cert_pem = g_strdup(cert);
	*key_pem = g_strdup(key);
	/* The parsed document holds the key too; wipe it before it is freed. */
	memset((char *)key, 0, strlen(key));
	return TRUE;
}

static int
cert_import(HubctlContext *ctx, const char *role)
{
	_cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
	g_autoptr(GError) gerror = NULL;
	g_autofree char *what = g_strdup_printf("cert import %s", role);
	g_autofree char *cert_pem = NULL;
	char *key_pem = NULL;
	gboolean with_key;
	int r;

	if (ctx->profile_file && (ctx->cert_file || ctx->key_file))
		return hubctl_usage_error("cert import: --profile excludes --cert and --key");
	if (!ctx->profile_file && !ctx->cert_file)
		return hubctl_usage_error("cert import: give --cert FILE [--key FILE] or --profile FILE");
	if (ctx->profile_file) {
		if (!read_profile(ctx->profile_file, &cert_pem, &key_pem, &gerror)) {
			fprintf(stderr, "hubctl: %s: %s\n", what, gerror->message);
			return HUBCTL_EXIT_FAILURE;
		}
	} else {
		cert_pem = read_input(ctx->cert_file, &gerror);
		if (cert_pem && ctx->key_file)
			key_pem = read_input(ctx->key_file, &gerror);
		if (!cert_pem || (ctx->key_file && !key_pem)) {
			fprintf(stderr, "hubctl: %s: %s\n", what, gerror->message);
			return HUBCTL_EXIT_FAILURE;
		}
	}
	with_key = key_pem != NULL;
	if (with_key)
		r = hubctl_call(ctx->bus, HUBCTL_ROOT_PATH, HUBCTL_CERTIFICATES_IFACE, "Import", HUBCTL_WAIT_TIMEOUT_USEC,
				&error, NULL, "sss", role, cert_pem, key_pem);
	else
		r = hubctl_call(ctx->bus, HUBCTL_ROOT_PATH, HUBCTL_CERTIFICATES_IFACE, "StoreCertificate",
				HUBCTL_WAIT_TIMEOUT_USEC, &error, NULL, "ss", role, cert_pem);
	free_secret(key_pem);
	if (r < 0)
		return hubctl_fail(what, &error, r);
	if (!ctx->json)
		printf("Stored the %s for role %s\n", with_key ? "certificate and key" : "certificate", role);
	fflush(stdout);
	return HUBCTL_EXIT_OK;
}

static int
cert_generate(HubctlContext *ctx, const char *role)
{
	_cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
	g_autofree char *what = g_strdup_printf("cert generate %s", role);
	int r;

	r = hubctl_call(ctx->bus, HUBCTL_ROOT_PATH, HUBCTL_CERTIFICATES_IFACE, "GenerateKey", HUBCTL_WAIT_TIMEOUT_USEC,
			&error, NULL, "ss", role, ctx->key_type ? ctx->key_type : "");
	if (r < 0)
		return hubctl_fail(what, &error, r);
	return HUBCTL_EXIT_OK;
}

/* TRUE when the daemon reports a key for @role. */
static int
role_has_key(HubctlContext *ctx, const char *role, gboolean *has_key)
{
	_cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) roles = NULL;
	GVariantIter iter;
	GVariant *entry;
	int r;

	*has_key = FALSE;
	r = hubctl_call(ctx->bus, HUBCTL_ROOT_PATH, HUBCTL_CERTIFICATES_IFACE, "GetStatus", 0, &error, &reply, "");
	if (r < 0)
		return hubctl_fail("cert csr", &error, r);
	roles = g_variant_get_child_value(reply, 0);
	g_variant_iter_init(&iter, roles);
	while ((entry = g_variant_iter_next_value(&iter))) {
		if (g_str_equal(hubctl_lookup_string(entry, "Role"), role))
			*has_key = hubctl_lookup_boolean(entry, "HasKey", FALSE);
		g_variant_unref(entry);
	}
	return HUBCTL_EXIT_OK;
}

static int
cert_csr(HubctlContext *ctx, const char *role)
{
	_cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GError) gerror = NULL;
	g_autofree char *what = g_strdup_printf("cert csr %s", role);
	gboolean has_key = FALSE;
	const char *csr;
	int r;

	if (!ctx->new_key) {
		r = role_has_key(ctx, role, &has_key);
		if (r != HUBCTL_EXIT_OK)
			return r;
	}
	if (ctx->new_key || !has_key) {
		r = cert_generate(ctx, role);
		if (r != HUBCTL_EXIT_OK)
			return r;
	}
	r = hubctl_call(ctx->bus, HUBCTL_ROOT_PATH, HUBCTL_CERTIFICATES_IFACE, "CreateCsr", HUBCTL_WAIT_TIMEOUT_USEC,
			&error, &reply, "s", role);
	if (r < 0)
		return hubctl_fail(what, &error, r);
	g_variant_get(reply, "(&s)", &csr);
	if (ctx->out_file) {
		if (!g_file_set_contents(ctx->out_file, csr, -1, &gerror)) {
			fprintf(stderr, "hubctl: %s: %s\n", what, gerror->message);
			return HUBCTL_EXIT_FAILURE;
		}
	} else {
		fputs(csr, stdout);
	}
	fflush(stdout);
	return HUBCTL_EXIT_OK;
}

static int
cert_erase(HubctlContext *ctx, const char *role)
{
	_cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
	g_autofree char *what = g_strdup_printf("cert erase %s", role);
	int r;

	r = hubctl_call(ctx->bus, HUBCTL_ROOT_PATH, HUBCTL_CERTIFICATES_IFACE, "Erase", HUBCTL_WAIT_TIMEOUT_USEC, &error,
			NULL, "s", role);
	if (r < 0)
		return hubctl_fail(what, &error, r);
	if (!ctx->json)
		printf("Erased role %s\n", role);
	fflush(stdout);
	return HUBCTL_EXIT_OK;
}

int
hubctl_cmd_cert(HubctlContext *ctx)
{
	const char *sub = ctx->args[0];
	const char *role = ctx->n_args > 1 ? ctx->args[1] : NULL;
	gboolean is_csr = g_str_equal(sub, "csr"), is_import = g_str_equal(sub, "import");
	gboolean is_generate = g_str_equal(sub, "generate");

	if (g_str_equal(sub, "status")) {
		if (role)
			return hubctl_usage_error("cert status: too many arguments");
		if (ctx->key_type || ctx->cert_file || ctx->key_file || ctx->profile_file || ctx->out_file || ctx->new_key)
			return hubctl_usage_error("cert status: takes no options");
		return cert_status(ctx);
	}
	if (!is_csr && !is_import && !is_generate && !g_str_equal(sub, "erase"))
		return hubctl_usage_error("cert: unknown subcommand '%s' (status, generate, csr, import, erase)", sub);
	if (!role)
		return hubctl_usage_error("cert %s: missing ROLE (claim, permanent, root-ca)", sub);
	if ((ctx->cert_file || ctx->key_file || ctx->profile_file) && !is_import)
		return hubctl_usage_error("cert %s: --cert, --key and --profile apply to cert import", sub);
	if ((ctx->out_file || ctx->new_key) && !is_csr)
		return hubctl_usage_error("cert %s: --out and --new-key apply to cert csr", sub);
	if (ctx->key_type && !is_csr && !is_generate)
		return hubctl_usage_error("cert %s: --key-type applies to cert generate and cert csr", sub);
	if (is_import)
		return cert_import(ctx, role);
	if (is_csr)
		return cert_csr(ctx, role);
	if (is_generate) {
		int r = cert_generate(ctx, role);

		if (r == HUBCTL_EXIT_OK && !ctx->json)
			printf("Generated a new key for role %s\n", role);
		fflush(stdout);
		return r;
	}
	return cert_erase(ctx, role);
}
