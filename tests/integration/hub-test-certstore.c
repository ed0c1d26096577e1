/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-test-certstore.c - a certificate store plugin under test, behind the
 * real plugin loader and a minimal host.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "hub-test-certstore.h"
#include "hub-test-env.h"

/* ---- the host ---- */

static void capture_line(struct hub_plugin *plugin, int level, const char *text)
{
	HubTestCertstore *t = plugin->host_ctx;

	g_test_message("host->log(%s, %d): %s", plugin->name, level, text);
	g_mutex_lock(&t->log_lock);
	g_string_append_printf(t->log, "%s\n", text);
	g_mutex_unlock(&t->log_lock);
}

static void host_vlog(struct hub_plugin *plugin, int level, const char *fmt, va_list ap) HUB_PRINTF(3, 0);

static void host_vlog(struct hub_plugin *plugin, int level, const char *fmt, va_list ap)
{
	g_autofree char *text = g_strdup_vprintf(fmt, ap);

	capture_line(plugin, level, text);
}

static void host_log(struct hub_plugin *plugin, int level, const char *fmt, ...) HUB_PRINTF(3, 4);

static void host_log(struct hub_plugin *plugin, int level, const char *fmt, ...)
{
	g_autofree char *text = NULL;
	va_list ap;

	va_start(ap, fmt);
	text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	capture_line(plugin, level, text);
}

static const char *host_config_get(struct hub_plugin *plugin, const char *key)
{
	HubTestCertstore *t = plugin->host_ctx;

	return g_hash_table_lookup(t->config, key);
}

static char *host_config_resolve_path(struct hub_plugin *plugin, const char *path)
{
	HubTestCertstore *t = plugin->host_ctx;
	g_autofree char *resolved = NULL;

	if (!path)
		return NULL;
	resolved = g_path_is_absolute(path) ? g_strdup(path) : g_build_filename(t->tmpdir, path, NULL);
	return strdup(resolved); /* the plugin free()s it */
}

static const char *host_state_dir(struct hub_plugin *plugin)
{
	HubTestCertstore *t = plugin->host_ctx;

	if (g_mkdir_with_parents(t->state_dir, 0700) < 0) {
		host_log(plugin, HUB_LOG_ERR, "Cannot create %s: %s", t->state_dir, g_strerror(errno));
		return NULL;
	}
	return t->state_dir;
}

static const struct hub_host certstore_test_host = {
	.struct_size = sizeof(struct hub_host),
	.abi_major = HUB_PLUGIN_ABI_MAJOR,
	.abi_minor = HUB_PLUGIN_ABI_MINOR,
	.config_get = host_config_get,
	.config_resolve_path = host_config_resolve_path,
	.log = host_log,
	.vlog = host_vlog,
	.state_dir = host_state_dir,
};

/* ---- life cycle ---- */

HubTestCertstore *hub_test_certstore_new(const char *plugin_relative_path, const char *name)
{
	HubTestCertstore *t = g_new0(HubTestCertstore, 1);
	const char *builddir = g_getenv("HUB_TOP_BUILDDIR");
	g_autofree char *template = g_strdup_printf("hub-certstore-%s-XXXXXX", name);
	g_autofree char *built = g_build_filename(builddir ? builddir : ".", plugin_relative_path, NULL);
	g_autofree char *basename = g_path_get_basename(plugin_relative_path);
	g_autofree char *stage = NULL;
	g_autoptr(GFile) from = NULL;
	g_autoptr(GFile) to = NULL;
	g_autoptr(GError) error = NULL;

	t->tmpdir = g_dir_make_tmp(template, &error);
	g_assert_no_error(error);
	t->state_dir = g_build_filename(t->tmpdir, "state", NULL);
	stage = g_build_filename(t->tmpdir, "plugin", NULL);
	g_assert_cmpint(g_mkdir(stage, 0700), ==, 0);
	t->plugin_path = g_build_filename(stage, basename, NULL);
	from = g_file_new_for_path(built);
	to = g_file_new_for_path(t->plugin_path);
	if (!g_file_copy(from, to, G_FILE_COPY_NONE, NULL, NULL, NULL, &error))
		g_error("Cannot stage the %s plugin %s (was it built?): %s", name, built, error->message);
	g_assert_cmpint(g_chmod(t->plugin_path, 0755), ==, 0);
	t->name = g_strdup(name);
	t->log = g_string_new(NULL);
	g_mutex_init(&t->log_lock);
	t->config = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	t->retired = g_ptr_array_new_with_free_func(g_free);
	return t;
}

void hub_test_certstore_free(HubTestCertstore *t)
{
	if (!t)
		return;
	hub_test_certstore_unload(t);
	if (!g_getenv("HUB_TEST_KEEP"))
		hub_test_remove_tree(t->tmpdir);
	else
		g_test_message("kept %s (HUB_TEST_KEEP)", t->tmpdir);
	g_hash_table_unref(t->config);
	g_ptr_array_unref(t->retired);
	g_string_free(t->log, TRUE);
	g_mutex_clear(&t->log_lock);
	g_free(t->name);
	g_free(t->plugin_path);
	g_free(t->state_dir);
	g_free(t->tmpdir);
	g_free(t);
}

/* Takes @key out of the table but keeps its strings until the plugin's
 * exit(): config_get() promised them that long. */
static void retire_config(HubTestCertstore *t, const char *key)
{
	gpointer old_key, old_value;

	if (g_hash_table_steal_extended(t->config, key, &old_key, &old_value)) {
		g_ptr_array_add(t->retired, old_key);
		g_ptr_array_add(t->retired, old_value);
	}
}

void hub_test_certstore_set_config(HubTestCertstore *t, const char *key, const char *value)
{
	retire_config(t, key);
	if (value)
		g_hash_table_insert(t->config, g_strdup(key), g_strdup(value));
}

void hub_test_certstore_clear_config(HubTestCertstore *t)
{
	g_autofree const char **keys = (const char **)g_hash_table_get_keys_as_array(t->config, NULL);

	for (gsize i = 0; keys[i]; i++)
		retire_config(t, keys[i]);
}

gboolean hub_test_certstore_load(HubTestCertstore *t, GError **error)
{
	HubPlugin *plugin;

	hub_test_certstore_unload(t);
	t->loader = hub_plugin_loader_new(HUB_PLUGIN_ABI_MAJOR, HUB_PLUGIN_ABI_MINOR, &certstore_test_host, t);
	if (!hub_plugin_loader_load_file(t->loader, t->plugin_path, error))
		return FALSE;
	plugin = hub_plugin_loader_find(t->loader, t->name);
	g_assert_nonnull(plugin);
	g_assert_cmpuint(plugin->kind, ==, HUB_PLUGIN_KIND_CERTSTORE);
	g_assert_false(plugin->tainted);
	t->ops = plugin->desc->ops;
	t->user_data = plugin->user_data;
	return TRUE;
}

void hub_test_certstore_assert_load(HubTestCertstore *t)
{
	g_autoptr(GError) error = NULL;

	if (!hub_test_certstore_load(t, &error))
		g_error("The %s plugin was refused: %s", t->name, error->message);
}

void hub_test_certstore_unload(HubTestCertstore *t)
{
	g_clear_pointer(&t->loader, hub_plugin_loader_free);
	t->ops = NULL;
	t->user_data = NULL;
	g_ptr_array_set_size(t->retired, 0);
}

/* ---- the ops ---- */

static const struct hub_certstore_ops *begin_op(HubTestCertstore *t)
{
	g_assert_nonnull(t->ops); /* hub_test_certstore_load() first */
	t->message[0] = '\0';
	return t->ops;
}

int hub_test_certstore_load_role(HubTestCertstore *t, uint32_t role, STACK_OF(X509) **chain, EVP_PKEY **key)
{
	return begin_op(t)->load(t->user_data, role, chain, key, t->message, sizeof(t->message));
}

int hub_test_certstore_generate(HubTestCertstore *t, uint32_t role, uint32_t key_type)
{
	return begin_op(t)->generate_key(t->user_data, role, key_type, t->message, sizeof(t->message));
}

int hub_test_certstore_store(HubTestCertstore *t, uint32_t role, STACK_OF(X509) *chain)
{
	return begin_op(t)->store_certificates(t->user_data, role, chain, t->message, sizeof(t->message));
}

int hub_test_certstore_import(HubTestCertstore *t, uint32_t role, EVP_PKEY *key)
{
	return begin_op(t)->import_key(t->user_data, role, key, t->message, sizeof(t->message));
}

int hub_test_certstore_erase(HubTestCertstore *t, uint32_t role)
{
	return begin_op(t)->erase(t->user_data, role, t->message, sizeof(t->message));
}

uint32_t hub_test_certstore_capabilities(HubTestCertstore *t, uint32_t role)
{
	g_assert_nonnull(t->ops);
	return t->ops->capabilities(t->user_data, role);
}

int hub_test_certstore_describe(HubTestCertstore *t, uint32_t role, char *buf, size_t buf_size)
{
	g_assert_nonnull(t->ops);
	return t->ops->describe(t->user_data, role, buf, buf_size);
}

/* ---- keys ---- */

EVP_PKEY *hub_test_certstore_public_copy(EVP_PKEY *key)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	EVP_PKEY *pub;
	int len = i2d_PUBKEY(key, &der);

	g_assert_cmpint(len, >, 0);
	p = der;
	pub = d2i_PUBKEY(NULL, &p, len);
	OPENSSL_free(der);
	g_assert_nonnull(pub);
	return pub;
}
