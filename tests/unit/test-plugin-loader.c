/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-plugin-loader - what the loader accepts and refuses, and why.
 *
 * The mock plugins come from tests/plugins/ and are found in
 * "$HUB_TOP_BUILDDIR/tests/plugins/.libs/<name>.so" ("." when unset). Each
 * is copied with mode 0755 into a private stage directory before use, so the
 * result does not depend on the umask the tree was built with.
 */
#define _GNU_SOURCE 1 /* RTLD_NOLOAD */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include <hubd/hub-plugin.h>
#include <hubd/hub-protocol.h>

#include "hub-error.h"
#include "hub-plugin-loader.h"

static char *stage_dir;     /* staged mock copies and per-test scratch dirs */
static GPtrArray *host_log; /* "<plugin name>: <message>" from host->log */
static GPtrArray *core_log; /* "<LEVEL>: <message>" logged by the loader (domain "hubd") */
static int host_ctx_token;  /* its address is the host_ctx given to loaders */

static void test_host_log(struct hub_plugin *plugin, int level, const char *fmt, ...) HUB_PRINTF(3, 4);

static void test_host_log(struct hub_plugin *plugin, int level, const char *fmt, ...)
{
	g_autofree char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_test_message("host->log(%s, %d): %s", plugin ? plugin->name : "(null)", level, msg);
	g_ptr_array_add(host_log, g_strdup_printf("%s: %s", plugin ? plugin->name : "(null)", msg));
}

/* Only log is set: the mocks call nothing else. */
static const struct hub_host test_host = {
	.struct_size = sizeof(struct hub_host),
	.abi_major = HUB_PLUGIN_ABI_MAJOR,
	.abi_minor = HUB_PLUGIN_ABI_MINOR,
	.log = test_host_log,
};

/* Records what the loader logs (domain "hubd") so tests can assert on it,
 * instead of printing it to stderr; GLib's test framework still shows each
 * message as a TAP comment. Everything else goes to the default writer. */
static GLogWriterOutput capture_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
				       gpointer user_data)
{
	g_autofree char *message = NULL;
	const char *domain = NULL;
	const char *prefix;

	for (gsize i = 0; i < n_fields; i++) {
		const char *value = fields[i].value;

		if (g_str_equal(fields[i].key, "GLIB_DOMAIN"))
			domain = value;
		else if (g_str_equal(fields[i].key, "MESSAGE"))
			message = fields[i].length < 0 ? g_strdup(value) : g_strndup(value, fields[i].length);
	}

	if (g_strcmp0(domain, "hubd") != 0 || !message)
		return g_log_writer_default(level, fields, n_fields, user_data);

	if (level & G_LOG_LEVEL_WARNING)
		prefix = "WARNING";
	else if (level & G_LOG_LEVEL_MESSAGE)
		prefix = "MESSAGE";
	else if (level & G_LOG_LEVEL_INFO)
		prefix = "INFO";
	else if (level & G_LOG_LEVEL_DEBUG)
		prefix = "DEBUG";
	else
		return g_log_writer_default(level, fields, n_fields, user_data);

	/* No echo: the test framework already prints it as a TAP comment. */
	g_ptr_array_add(core_log, g_strdup_printf("%s: %s", prefix, message));
	return G_LOG_WRITER_HANDLED;
}

/* ---- helpers ---- */

static void rm_rf(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
		const char *name;

		while (dir && (name = g_dir_read_name(dir))) {
			g_autofree char *child = g_build_filename(path, name, NULL);

			rm_rf(child);
		}
		g_rmdir(path);
	} else {
		g_unlink(path);
	}
}

static void copy_file(const char *src, const char *dst, mode_t mode)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *contents = NULL;
	struct stat st;
	gsize len;

	g_file_get_contents(src, &contents, &len, &error);
	g_assert_no_error(error);
	g_file_set_contents(dst, contents, len, &error);
	g_assert_no_error(error);
	g_assert_cmpint(g_chmod(dst, mode), ==, 0);
	/* chmod may quietly drop setgid (group not ours): that would test nothing. */
	g_assert_cmpint(lstat(dst, &st), ==, 0);
	g_assert_cmpuint(st.st_mode & 07777, ==, mode);
}

static const char *top_builddir(void)
{
	const char *dir = g_getenv("HUB_TOP_BUILDDIR");

	return dir && *dir ? dir : ".";
}

/* Path of the staged (mode 0755) copy of mock @name; fails the test if it was not built. */
static char *mock_path(const char *name)
{
	g_autofree char *file = g_strconcat(name, ".so", NULL);
	g_autofree char *built = g_build_filename(top_builddir(), "tests", "plugins", ".libs", file, NULL);
	char *staged = g_build_filename(stage_dir, file, NULL);

	if (!g_file_test(staged, G_FILE_TEST_EXISTS)) {
		if (!g_file_test(built, G_FILE_TEST_IS_REGULAR))
			g_error("mock plugin %s was not built: %s does not exist "
				"(build it with \"make check\"; HUB_TOP_BUILDDIR=%s)",
				name, built, top_builddir());
		copy_file(built, staged, 0755);
	}
	return staged;
}

/* A fresh empty directory inside the stage directory. */
static char *scratch_dir(void)
{
	char *dir = g_build_filename(stage_dir, "scratch-XXXXXX", NULL);

	g_assert_nonnull(g_mkdtemp(dir));
	return dir;
}

static HubPluginLoader *new_loader(guint32 abi_major, guint32 abi_minor)
{
	g_ptr_array_set_size(host_log, 0);
	g_ptr_array_set_size(core_log, 0);
	return hub_plugin_loader_new(abi_major, abi_minor, &test_host, &host_ctx_token);
}

static gboolean log_has(GPtrArray *log, const char *line)
{
	for (guint i = 0; i < log->len; i++) {
		if (g_str_equal(g_ptr_array_index(log, i), line))
			return TRUE;
	}
	return FALSE;
}

static guint core_warnings(void)
{
	guint n = 0;

	for (guint i = 0; i < core_log->len; i++) {
		if (g_str_has_prefix(g_ptr_array_index(core_log, i), "WARNING: "))
			n++;
	}
	return n;
}

#define assert_log_has(log, line)                                                         \
	G_STMT_START                                                                      \
	{                                                                                 \
		const char *line_ = (line);                                               \
		if (!log_has((log), line_))                                               \
			g_error("%s:%d: %s lacks \"%s\"", __FILE__, __LINE__, #log, line_); \
	}                                                                                 \
	G_STMT_END

static void assert_refusal(HubPluginLoader *loader, guint index, const char *path, const char *name,
			   const char *reason)
{
	GPtrArray *refusals = hub_plugin_loader_get_refusals(loader);
	HubPluginRefusal *refusal;
	g_autofree char *label = NULL;
	g_autofree char *line = NULL;

	g_assert_cmpuint(index, <, refusals->len);
	refusal = g_ptr_array_index(refusals, index);
	g_assert_cmpstr(refusal->path, ==, path);
	g_assert_cmpstr(refusal->name, ==, name);
	g_assert_cmpstr(refusal->reason, ==, reason);

	label = name ? g_strdup_printf("%s (%s)", name, path) : g_strdup(path);
	line = g_strdup_printf("WARNING: Refusing plugin %s: %s", label, reason);
	assert_log_has(core_log, line);
}

/* Loads @path with load_file and checks that it was refused as a whole:
 * FALSE, the GError, one refusal, nothing loaded. */
static void assert_file_refused(HubPluginLoader *loader, const char *path, gint code, const char *name,
				const char *reason)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *message = g_strdup_printf("%s: %s", path, reason);
	guint n_plugins = hub_plugin_loader_get_plugins(loader)->len;
	guint n_refusals = hub_plugin_loader_get_refusals(loader)->len;

	g_assert_false(hub_plugin_loader_load_file(loader, path, &error));
	g_assert_error(error, HUB_ERROR, code);
	g_assert_cmpstr(error->message, ==, message);
	g_assert_cmpuint(hub_plugin_loader_get_plugins(loader)->len, ==, n_plugins);
	g_assert_cmpuint(hub_plugin_loader_get_refusals(loader)->len, ==, n_refusals + 1);
	assert_refusal(loader, n_refusals, path, name, reason);
}

/* Whether @path is mapped in this process right now. */
static gboolean module_is_loaded(const char *path)
{
	void *handle = dlopen(path, RTLD_NOW | RTLD_NOLOAD);

	if (!handle)
		return FALSE;
	dlclose(handle);
	return TRUE;
}

static HubPlugin *plugin_at(HubPluginLoader *loader, guint index)
{
	GPtrArray *plugins = hub_plugin_loader_get_plugins(loader);

	g_assert_cmpuint(index, <, plugins->len);
	return g_ptr_array_index(plugins, index);
}

/* ---- the negotiation rule ---- */

static void test_abi_compatible(void)
{
	static const struct {
		guint32 host_major, host_minor, plugin_major, plugin_minor;
		const char *reason; /* NULL: compatible */
	} cases[] = {
		{ 1, 0, 1, 0, NULL },
		{ 1, 1, 1, 0, NULL },
		{ 1, 1, 1, 1, NULL },
		{ 1, 1, 1, 2, "plugin ABI 1.2 is newer than this hubd's ABI 1.1" },
		{ 1, 0, 1, 5, "plugin ABI 1.5 is newer than this hubd's ABI 1.0" },
		{ 1, 1, 2, 0, "plugin ABI 2.0 is not supported by this hubd (ABI 1.1): major version differs" },
		{ 1, 0, 0, 9, "plugin ABI 0.9 is not supported by this hubd (ABI 1.0): major version differs" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *reason = NULL;
		gboolean ok = hub_plugin_abi_compatible(cases[i].host_major, cases[i].host_minor,
							cases[i].plugin_major, cases[i].plugin_minor, &reason);

		g_test_message("plugin %u.%u on host %u.%u", cases[i].plugin_major, cases[i].plugin_minor,
			       cases[i].host_major, cases[i].host_minor);
		g_assert_cmpint(ok, ==, cases[i].reason == NULL);
		g_assert_cmpstr(reason, ==, cases[i].reason);
		/* @reason is optional. */
		g_assert_cmpint(hub_plugin_abi_compatible(cases[i].host_major, cases[i].host_minor,
							  cases[i].plugin_major, cases[i].plugin_minor, NULL),
				==, ok);
	}
}

/* ---- one test per mock ---- */

static void test_current(void)
{
	g_autoptr(HubPluginLoader) loader = new_loader(HUB_PLUGIN_ABI_MAJOR, HUB_PLUGIN_ABI_MINOR);
	g_autofree char *path = mock_path("mock-current");
	g_autofree char *loaded = NULL;
	g_autoptr(GError) error = NULL;
	const struct hub_protocol_ops *ops;
	HubPlugin *plugin;

	g_assert_true(hub_plugin_loader_load_file(loader, path, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(hub_plugin_loader_get_plugins(loader)->len, ==, 1);
	g_assert_cmpuint(hub_plugin_loader_get_refusals(loader)->len, ==, 0);

	plugin = plugin_at(loader, 0);
	g_assert_cmpstr(plugin->name, ==, "mock-current");
	g_assert_cmpstr(plugin->desc->name, ==, "mock-current");
	g_assert_cmpstr(plugin->desc->version, ==, "1.2.3");
	g_assert_cmpstr(plugin->path, ==, path);
	g_assert_cmpstr(plugin->log_domain, ==, "hubd-mock-current");
	g_assert_cmpuint(plugin->kind, ==, HUB_PLUGIN_KIND_PROTOCOL);
	g_assert_cmpuint(plugin->abi_major, ==, HUB_PLUGIN_ABI_MAJOR);
	g_assert_cmpuint(plugin->abi_minor, ==, HUB_PLUGIN_ABI_MINOR);
	g_assert_false(plugin->tainted);
	g_assert_true(plugin->initialised);
	g_assert_nonnull(plugin->user_data);
	g_assert_true(plugin->host_ctx == &host_ctx_token);
	g_assert_null(plugin->host_data);
	g_assert_true(hub_plugin_loader_find(loader, "mock-current") == plugin);
	g_assert_null(hub_plugin_loader_find(loader, "mock-other"));

	/* init() got the host table and this very handle. */
	g_assert_cmpuint(host_log->len, ==, 1);
	assert_log_has(host_log, "mock-current: mock-current init");

	/* The ops table is the plugin's and works with the user_data init() set. */
	ops = plugin->desc->ops;
	g_assert_nonnull(ops);
	g_assert_nonnull(ops->start);
	g_assert_cmpint(ops->start(plugin->user_data), ==, 0);

	loaded = g_strdup_printf("MESSAGE: Loaded plugin mock-current 1.2.3 (protocol, ABI %u.%u) from %s",
				 HUB_PLUGIN_ABI_MAJOR, HUB_PLUGIN_ABI_MINOR, path);
	assert_log_has(core_log, loaded);
	g_assert_cmpuint(core_warnings(), ==, 0);
}

static void test_exit_on_free(void)
{
	HubPluginLoader *loader = new_loader(HUB_PLUGIN_ABI_MAJOR, HUB_PLUGIN_ABI_MINOR);
	g_autofree char *current = mock_path("mock-current");
	g_autofree char *multi = mock_path("mock-multi");

	g_assert_true(hub_plugin_loader_load_file(loader, current, NULL));
	g_assert_true(hub_plugin_loader_load_file(loader, multi, NULL));
	g_assert_cmpuint(host_log->len, ==, 3);

	g_assert_true(module_is_loaded(current));
	g_assert_true(module_is_loaded(multi));

	hub_plugin_loader_free(loader);

	/* Unloaded, after exit() of each, in reverse load order, with the user_data init() set
	 * (the mock only logs when it gets its own state back). */
	g_assert_cmpuint(host_log->len, ==, 6);
	g_assert_cmpstr(g_ptr_array_index(host_log, 3), ==, "multi-b: multi-b exit");
	g_assert_cmpstr(g_ptr_array_index(host_log, 4), ==, "multi-a: multi-a exit");
	g_assert_cmpstr(g_ptr_array_index(host_log, 5), ==, "mock-current: mock-current exit");
	g_assert_false(module_is_loaded(current));
	g_assert_false(module_is_loaded(multi));
}

static void test_older_minor(void)
{
	/* Pretend to be a newer host (ABI x.1) loading a plugin built for x.0. */
	g_autoptr(HubPluginLoader) loader = new_loader(1, 1);
	g_autofree char *path = mock_path("mock-older-minor");
	g_autofree char *loaded = NULL;
	g_autoptr(GError) error = NULL;
	HubPlugin *plugin;

	g_assert_true(hub_plugin_loader_load_file(loader, path, &error));
	g_assert_no_error(error);
	plugin = plugin_at(loader, 0);
	g_assert_cmpstr(plugin->name, ==, "mock-older-minor");
	g_assert_cmpuint(plugin->abi_major, ==, 1);
	g_assert_cmpuint(plugin->abi_minor, ==, 0);
	g_assert_false(plugin->tainted);
	assert_log_has(host_log, "mock-older-minor: mock-older-minor init");

	loaded = g_strdup_printf("MESSAGE: Loaded plugin mock-older-minor 1.0.0 (protocol, ABI 1.0) from %s", path);
	assert_log_has(core_log, loaded);
}

static void test_newer_minor(void)
{
	g_autoptr(HubPluginLoader) loader = new_loader(HUB_PLUGIN_ABI_MAJOR, HUB_PLUGIN_ABI_MINOR);
	g_autofree char *path = mock_path("mock-newer-minor");
	g_autofree char *reason = g_strdup_printf("plugin ABI %u.%u is newer than this hubd's ABI %u.%u",
						  HUB_PLUGIN_ABI_MAJOR, HUB_PLUGIN_ABI_MINOR + 1,
						  HUB_PLUGIN_ABI_MAJOR, HUB_PLUGIN_ABI_MINOR);

	/* Same major, so the name is readable and reported. */
	assert_file_refused(loader, path, HUB_ERROR_NOT_SUPPORTED, "mock-newer-minor", reason);
	g_assert_cmpuint(host_log->len, ==, 0);
	g_assert_cmpuint(core_warnings(), ==, 1);
	/* None of its plugins ran: unloaded at once. */
	g_assert_false(module_is_loaded(path));
}

static void test_newer_major(void)
{
	g_autoptr(HubPluginLoader) loader = new_loader(HUB_PLUGIN_ABI_MAJOR, HUB_PLUGIN_ABI_MINOR);
	g_autofree char *path = mock_path("mock-newer-major");
	g_autofree char *reason =
		g_strdup_printf("plugin ABI %u.0 is not supported by this hubd (ABI %u.%u): major version differs",
				HUB_PLUGIN_ABI_MAJOR + 1, HUB_PLUGIN_ABI_MAJOR, HUB_PLUGIN_ABI_MINOR);

	/* Another major may lay the descriptor out differently: no name is read. */
	assert_file_refused(loader, path, HUB_ERROR_NOT_SUPPORTED, NULL, reason);
	g_assert_cmpuint(host_log->len, ==, 0);
	g_assert_cmpuint(core_warnings(), ==, 1);
}

static void test_missing_symbol(void)
{
	g_autoptr(HubPluginLoader) loader = new_loader(HUB_PLUGIN_ABI_MAJOR, HUB_PLUGIN_ABI_MINOR);
	g_autofree char *path = mock_path("mock-missing-symbol");

	assert_file_refused(loader, path, HUB_ERROR_FAILED, NULL, "does not export hub_plugin_query");
	g_assert_cmpuint(core_warnings(), ==, 1);
}

static void test_no_descriptor(void)
{
	g_autoptr(HubPluginLoader) loader = new_loader(HUB_PLUGIN_ABI_MAJOR, HUB_PLUGIN_ABI_MINOR);
	g_autofree char *path = mock_path("mock-no-descriptor");

	assert_file_refused(loader, path, HUB_ERROR_FAILED, NULL, "hub_plugin_query returned no descriptor");
	g_assert_cmpuint(core_warnings(), ==, 1);
}

static void test_failing_init(void)
{
	HubPluginLoader *loader = new_loader(HUB_PLUGIN_ABI_MAJOR, HUB_PLUGIN_ABI_MINOR);
	g_autofree char *path = mock_path("mock-failing-init");
	/* g_strerror() follows the locale; in C it is "Input/output error". */
	g_autofree char *reason = g_strdup_printf("init failed: %s", g_strerror(EIO));

	assert_file_refused(loader, path, HUB_ERROR_FAILED, "mock-failing-init", reason);
	g_assert_cmpuint(host_log->len, ==, 1);
	assert_log_has(host_log, "mock-failing-init: mock-failing-init init");
	g_assert_null(hub_plugin_loader_find(loader, "mock-failing-init"));
	/* init() may have left the host callbacks into it: stays mapped until free. */
	g_assert_true(module_is_loaded(path));

	/* A plugin whose init() failed never gets exit(). */
	hub_plugin_loader_free(loader);
	g_assert_cmpuint(host_log->len, ==, 1);
	g_assert_false(module_is_loaded(path));
}

static void test_out_of_tree(void)
{
	g_autoptr(HubPluginLoader) loader = new_loader(HUB_PLUGIN_ABI_MAJOR, HUB_PLUGIN_ABI_MINOR);
	g_autofree char *path = mock_path("mock-out-of-tree");
	g_autofree char *loaded = NULL;
	g_autoptr(GError) error = NULL;
	HubPlugin *plugin;

	g_assert_true(hub_plugin_loader_load_file(loader, path, &error));
	g_assert_no_error(error);
	plugin = plugin_at(loader, 0);
	g_assert_cmpstr(plugin->name, ==, "mock-out-of-tree");
	g_assert_true(plugin->tainted);
	g_assert_true(plugin->initialised);

	loaded = g_strdup_printf("MESSAGE: Loaded plugin mock-out-of-tree 0.0.1 (protocol, ABI %u.%u, tainted) from %s",
				 HUB_PLUGIN_ABI_MAJOR, HUB_PLUGIN_ABI_MINOR, path);
	assert_log_has(core_log, loaded);
	g_assert_cmpuint(core_warnings(), ==, 0);
}

static void test_multi(void)
{
	g_autoptr(HubPluginLoader) loader = new_loader(HUB_PLUGIN_ABI_MAJOR, HUB_PLUGIN_ABI_MINOR);
	g_autofree char *path = mock_path("mock-multi");
	g_autoptr(GError) error = NULL;
	HubPlugin *a, *b;

	g_assert_true(hub_plugin_loader_load_file(loader, path, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(hub_plugin_loader_get_plugins(loader)->len, ==, 2);
	a = plugin_at(loader, 0);
	b = plugin_at(loader, 1);
	g_assert_cmpstr(a->name, ==, "multi-a");
	g_assert_cmpstr(b->name, ==, "multi-b");
	g_assert_cmpstr(a->path, ==, path);
	g_assert_cmpstr(b->path, ==, path);
	g_assert_cmpstr(b->log_domain, ==, "hubd-multi-b");
	g_assert_true(a->user_data != b->user_data);
	g_assert_cmpuint(host_log->len, ==, 2);
	g_assert_cmpstr(g_ptr_array_index(host_log, 0), ==, "multi-a: multi-a init");
	g_assert_cmpstr(g_ptr_array_index(host_log, 1), ==, "multi-b: multi-b init");
}

/* Refusing one descriptor of a file keeps the others. */
static void test_multi_partial(void)
{
	g_autoptr(HubPluginLoader) loader = new_loader(HUB_PLUGIN_ABI_MAJOR, HUB_PLUGIN_ABI_MINOR);
	g_autofree char *staged = mock_path("mock-multi");
	g_autofree char *dir = scratch_dir();
	g_autofree char *path = g_build_filename(dir, "mock-multi.so", NULL);
	const char *const only[] = { "multi-a", NULL };
	g_autoptr(GError) error = NULL;
	g_autofree char *message = NULL;

	copy_file(staged, path, 0755);
	g_assert_true(hub_plugin_loader_load_dir(loader, dir, only, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(hub_plugin_loader_get_plugins(loader)->len, ==, 1);
	g_assert_cmpstr(plugin_at(loader, 0)->name, ==, "multi-a");

	/* multi-a again: refused, and that is what the call reports ... */
	g_assert_false(hub_plugin_loader_load_file(loader, path, &error));
	message = g_strdup_printf("%s: a plugin named multi-a is already loaded", path);
	g_assert_error(error, HUB_ERROR, HUB_ERROR_FAILED);
	g_assert_cmpstr(error->message, ==, message);
	g_assert_cmpuint(hub_plugin_loader_get_refusals(loader)->len, ==, 1);
	assert_refusal(loader, 0, path, "multi-a", "a plugin named multi-a is already loaded");

	/* ... but multi-b from the same file is loaded all the same. */
	g_assert_cmpuint(hub_plugin_loader_get_plugins(loader)->len, ==, 2);
	g_assert_cmpstr(plugin_at(loader, 1)->name, ==, "multi-b");
	g_assert_true(plugin_at(loader, 1)->initialised);

	rm_rf(dir);
}

static void test_bad_descriptors(void)
{
	g_autoptr(HubPluginLoader) loader = new_loader(HUB_PLUGIN_ABI_MAJOR, HUB_PLUGIN_ABI_MINOR);
	g_autofree char *path = mock_path("mock-bad-descriptors");
	g_autofree char *message = NULL;
	g_autoptr(GError) error = NULL;
	static const struct {
		const char *name;
		const char *reason;
	} refused[] = {
		{ "bd-small", "descriptor too small" },
		{ "bd-kind", "unknown plugin kind 99" },
		{ NULL, "invalid plugin name" }, /* "BD_name" */
		{ NULL, "invalid plugin name" }, /* "-bd-dash" */
		{ NULL, "invalid plugin name" }, /* 33 characters */
		{ NULL, "invalid plugin name" }, /* NULL */
		{ "bd-no-ops", "protocol ops table missing or too small" },
		{ "bd-small-ops", "protocol ops table missing or too small" },
		{ "bd-ok", "a plugin named bd-ok is already loaded" },
		{ "bd-certstore-no-ops", "certstore ops table missing, too small or incomplete" },
		{ "bd-transport-no-ops", "transport ops table missing, too small or incomplete" },
	};
	HubPlugin *plugin;

	/* The file counts as refused and the error names the first problem ... */
	g_assert_false(hub_plugin_loader_load_file(loader, path, &error));
	message = g_strdup_printf("%s: descriptor too small", path);
	g_assert_error(error, HUB_ERROR, HUB_ERROR_FAILED);
	g_assert_cmpstr(error->message, ==, message);

	g_assert_cmpuint(hub_plugin_loader_get_refusals(loader)->len, ==, G_N_ELEMENTS(refused));
	for (gsize i = 0; i < G_N_ELEMENTS(refused); i++)
		assert_refusal(loader, i, path, refused[i].name, refused[i].reason);
	g_assert_cmpuint(core_warnings(), ==, G_N_ELEMENTS(refused));
	for (guint i = 0; i < host_log->len; i++)
		g_assert_null(strstr(g_ptr_array_index(host_log, i), "unexpected init"));

	/* ... while the good descriptors are loaded. */
	g_assert_cmpuint(hub_plugin_loader_get_plugins(loader)->len, ==, 4);

	plugin = plugin_at(loader, 0);
	g_assert_cmpstr(plugin->name, ==, "bd-ok");
	g_assert_false(plugin->tainted);

	/* IN_TREE is set, but flags lies beyond struct_size: not believed. */
	plugin = plugin_at(loader, 1);
	g_assert_cmpstr(plugin->name, ==, "bd-no-flags");
	g_assert_true(plugin->tainted);

	plugin = plugin_at(loader, 2);
	g_assert_cmpstr(plugin->name, ==, "bd-12345678901234567890123456789"); /* 32: the longest name */

	/* A complete transport table; init and exit are optional. */
	plugin = plugin_at(loader, 3);
	g_assert_cmpstr(plugin->name, ==, "bd-transport");
	g_assert_cmpuint(plugin->kind, ==, HUB_PLUGIN_KIND_TRANSPORT);
	g_assert_true(plugin->initialised);
	g_assert_null(plugin->user_data);

	g_assert_cmpuint(host_log->len, ==, 3);
	assert_log_has(host_log, "bd-ok: bd-ok init");
	assert_log_has(host_log, "bd-no-flags: bd-no-flags init");
}

static void test_duplicate(void)
{
	g_autoptr(HubPluginLoader) loader = new_loader(HUB_PLUGIN_ABI_MAJOR, HUB_PLUGIN_ABI_MINOR);
	g_autofree char *path = mock_path("mock-current");

	g_assert_true(hub_plugin_loader_load_file(loader, path, NULL));
	assert_file_refused(loader, path, HUB_ERROR_FAILED, "mock-current",
			    "a plugin named mock-current is already loaded");
	g_assert_cmpuint(hub_plugin_loader_get_plugins(loader)->len, ==, 1);
	g_assert_cmpuint(host_log->len, ==, 1); /* init() ran once */
}

/* ---- file checks ---- */

static void test_permissions(void)
{
	g_autoptr(HubPluginLoader) loader = new_loader(HUB_PLUGIN_ABI_MAJOR, HUB_PLUGIN_ABI_MINOR);
	g_autofree char *staged = mock_path("mock-current");
	g_autofree char *dir = scratch_dir();
	g_autofree char *world = g_build_filename(dir, "world-writable.so", NULL);
	g_autofree char *group = g_build_filename(dir, "group-writable.so", NULL);
	g_autofree char *setuid = g_build_filename(dir, "setuid.so", NULL);
	g_autofree char *setgid = g_build_filename(dir, "setgid.so", NULL);
	g_autofree char *control = g_build_filename(dir, "control.so", NULL);
	g_autoptr(GError) error = NULL;

	copy_file(staged, world, 0666);
	copy_file(staged, group, 0775);
	copy_file(staged, setuid, 04755);
	copy_file(staged, setgid, 02755);
	copy_file(staged, control, 0755);

	assert_file_refused(loader, world, HUB_ERROR_ACCESS_DENIED, NULL,
			    "file is writable by group or other (mode 0666)");
	assert_file_refused(loader, group, HUB_ERROR_ACCESS_DENIED, NULL,
			    "file is writable by group or other (mode 0775)");
	assert_file_refused(loader, setuid, HUB_ERROR_ACCESS_DENIED, NULL, "file is setuid or setgid");
	assert_file_refused(loader, setgid, HUB_ERROR_ACCESS_DENIED, NULL, "file is setuid or setgid");
	/* Refused before dlopen(): no plugin code ran. */
	g_assert_cmpuint(host_log->len, ==, 0);

	/* The same bytes with mode 0755 load. */
	g_assert_true(hub_plugin_loader_load_file(loader, control, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(hub_plugin_loader_get_plugins(loader)->len, ==, 1);
	g_assert_cmpstr(plugin_at(loader, 0)->path, ==, control);

	g_clear_pointer(&loader, hub_plugin_loader_free);
	rm_rf(dir);
}

static void test_owner(void)
{
	g_autoptr(HubPluginLoader) loader = NULL;
	g_autofree char *staged = mock_path("mock-current");
	g_autofree char *dir = NULL;
	g_autofree char *foreign = NULL;
	g_autofree char *reason = NULL;
	const uid_t nobody = 65534;

	if (geteuid() != 0) {
		/* Every file we can create is ours, and ours is allowed. */
		g_test_skip("only root can give a file to another user");
		return;
	}

	loader = new_loader(HUB_PLUGIN_ABI_MAJOR, HUB_PLUGIN_ABI_MINOR);
	dir = scratch_dir();
	foreign = g_build_filename(dir, "foreign.so", NULL);
	copy_file(staged, foreign, 0755);
	g_assert_cmpint(chown(foreign, nobody, nobody), ==, 0);

	reason = g_strdup_printf("owned by uid %u, not root or the daemon's user", (unsigned)nobody);
	assert_file_refused(loader, foreign, HUB_ERROR_ACCESS_DENIED, NULL, reason);
	g_assert_cmpuint(host_log->len, ==, 0);

	g_clear_pointer(&loader, hub_plugin_loader_free);
	rm_rf(dir);
}

static void test_not_regular_file(void)
{
	g_autoptr(HubPluginLoader) loader = new_loader(HUB_PLUGIN_ABI_MAJOR, HUB_PLUGIN_ABI_MINOR);
	g_autofree char *staged = mock_path("mock-current");
	g_autofree char *dir = scratch_dir();
	g_autofree char *link = g_build_filename(dir, "link.so", NULL);
	g_autofree char *subdir = g_build_filename(dir, "subdir.so", NULL);
	g_autofree char *missing = g_build_filename(dir, "missing.so", NULL);
	g_autofree char *reason = g_strdup_printf("cannot be read: %s", g_strerror(ENOENT));

	/* A symlink is refused even when its target would be fine. */
	g_assert_cmpint(symlink(staged, link), ==, 0);
	g_assert_cmpint(g_mkdir(subdir, 0755), ==, 0);

	assert_file_refused(loader, link, HUB_ERROR_FAILED, NULL, "not a regular file");
	assert_file_refused(loader, subdir, HUB_ERROR_FAILED, NULL, "not a regular file");
	assert_file_refused(loader, missing, HUB_ERROR_FAILED, NULL, reason);
	g_assert_cmpuint(host_log->len, ==, 0);

	rm_rf(dir);
}

static void test_not_loadable(void)
{
	g_autoptr(HubPluginLoader) loader = new_loader(HUB_PLUGIN_ABI_MAJOR, HUB_PLUGIN_ABI_MINOR);
	g_autofree char *dir = scratch_dir();
	g_autofree char *path = g_build_filename(dir, "garbage.so", NULL);
	g_autoptr(GError) error = NULL;
	HubPluginRefusal *refusal;

	g_assert_true(g_file_set_contents(path, "not an ELF file\n", -1, NULL));
	g_assert_cmpint(g_chmod(path, 0755), ==, 0);

	g_assert_false(hub_plugin_loader_load_file(loader, path, &error));
	g_assert_error(error, HUB_ERROR, HUB_ERROR_FAILED);
	g_assert_true(g_str_has_prefix(error->message, path));
	g_assert_nonnull(strstr(error->message, ": cannot be loaded: "));

	/* The rest of the reason is dlerror()'s. */
	g_assert_cmpuint(hub_plugin_loader_get_refusals(loader)->len, ==, 1);
	refusal = g_ptr_array_index(hub_plugin_loader_get_refusals(loader), 0);
	g_assert_cmpstr(refusal->path, ==, path);
	g_assert_null(refusal->name);
	g_assert_true(g_str_has_prefix(refusal->reason, "cannot be loaded: "));
	g_assert_cmpuint(strlen(refusal->reason), >, strlen("cannot be loaded: "));

	rm_rf(dir);
}

/* ---- directory scans ---- */

static void test_dir_scan(void)
{
	g_autoptr(HubPluginLoader) loader = new_loader(HUB_PLUGIN_ABI_MAJOR, HUB_PLUGIN_ABI_MINOR);
	g_autofree char *current = mock_path("mock-current");
	g_autofree char *out_of_tree = mock_path("mock-out-of-tree");
	g_autofree char *failing = mock_path("mock-failing-init");
	g_autofree char *newer_major = mock_path("mock-newer-major");
	g_autofree char *multi = mock_path("mock-multi");
	g_autofree char *dir = scratch_dir();
	g_autofree char *garbage = g_build_filename(dir, "a-garbage.so", NULL);
	g_autofree char *writable = g_build_filename(dir, "b-writable.so", NULL);
	g_autofree char *good1 = g_build_filename(dir, "mock-current.so", NULL);
	g_autofree char *bad1 = g_build_filename(dir, "mock-failing-init.so", NULL);
	g_autofree char *bad2 = g_build_filename(dir, "mock-newer-major.so", NULL);
	g_autofree char *good2 = g_build_filename(dir, "mock-out-of-tree.so", NULL);
	g_autofree char *subdir = g_build_filename(dir, "subdir.so", NULL);
	g_autofree char *hidden = g_build_filename(dir, ".hidden.so", NULL);
	g_autofree char *not_so = g_build_filename(dir, "mock-multi.so.disabled", NULL);
	g_autofree char *init_failed = g_strdup_printf("init failed: %s", g_strerror(EIO));
	g_autofree char *major = g_strdup_printf(
		"plugin ABI %u.0 is not supported by this hubd (ABI %u.%u): major version differs",
		HUB_PLUGIN_ABI_MAJOR + 1, HUB_PLUGIN_ABI_MAJOR, HUB_PLUGIN_ABI_MINOR);
	g_autoptr(GError) error = NULL;
	HubPluginRefusal *refusal;

	g_assert_true(g_file_set_contents(garbage, "not an ELF file\n", -1, NULL));
	g_assert_cmpint(g_chmod(garbage, 0755), ==, 0);
	copy_file(current, writable, 0666);
	copy_file(current, good1, 0755);
	copy_file(failing, bad1, 0755);
	copy_file(newer_major, bad2, 0755);
	copy_file(out_of_tree, good2, 0755);
	g_assert_cmpint(g_mkdir(subdir, 0755), ==, 0);
	/* Neither of these is a candidate: they would load multi-a and multi-b. */
	copy_file(multi, hidden, 0755);
	copy_file(multi, not_so, 0755);

	g_assert_true(hub_plugin_loader_load_dir(loader, dir, NULL, &error));
	g_assert_no_error(error);

	/* The good ones, in file name order. */
	g_assert_cmpuint(hub_plugin_loader_get_plugins(loader)->len, ==, 2);
	g_assert_cmpstr(plugin_at(loader, 0)->name, ==, "mock-current");
	g_assert_cmpstr(plugin_at(loader, 0)->path, ==, good1);
	g_assert_false(plugin_at(loader, 0)->tainted);
	g_assert_cmpstr(plugin_at(loader, 1)->name, ==, "mock-out-of-tree");
	g_assert_cmpstr(plugin_at(loader, 1)->path, ==, good2);
	g_assert_true(plugin_at(loader, 1)->tainted);

	/* The bad ones, in file name order, each with its reason. */
	g_assert_cmpuint(hub_plugin_loader_get_refusals(loader)->len, ==, 5);
	refusal = g_ptr_array_index(hub_plugin_loader_get_refusals(loader), 0);
	g_assert_cmpstr(refusal->path, ==, garbage);
	g_assert_null(refusal->name);
	g_assert_true(g_str_has_prefix(refusal->reason, "cannot be loaded: "));
	assert_refusal(loader, 1, writable, NULL, "file is writable by group or other (mode 0666)");
	assert_refusal(loader, 2, bad1, "mock-failing-init", init_failed);
	assert_refusal(loader, 3, bad2, NULL, major);
	assert_refusal(loader, 4, subdir, NULL, "not a regular file");
	g_assert_cmpuint(core_warnings(), ==, 5);

	g_assert_cmpuint(host_log->len, ==, 3);
	g_assert_cmpstr(g_ptr_array_index(host_log, 0), ==, "mock-current: mock-current init");
	g_assert_cmpstr(g_ptr_array_index(host_log, 1), ==, "mock-failing-init: mock-failing-init init");
	g_assert_cmpstr(g_ptr_array_index(host_log, 2), ==, "mock-out-of-tree: mock-out-of-tree init");

	g_clear_pointer(&loader, hub_plugin_loader_free);
	rm_rf(dir);
}

static void test_dir_only(void)
{
	g_autoptr(HubPluginLoader) loader = new_loader(HUB_PLUGIN_ABI_MAJOR, HUB_PLUGIN_ABI_MINOR);
	g_autofree char *dir = scratch_dir();
	const char *const mocks[] = { "mock-current",	  "mock-failing-init", "mock-multi",
				      "mock-newer-major", "mock-newer-minor",  "mock-out-of-tree" };
	const char *const only[] = { "mock-out-of-tree", "multi-b", "mock-failing-init", "not-installed", NULL };
	g_autofree char *failing = g_build_filename(dir, "mock-failing-init.so", NULL);
	g_autofree char *newer_major = g_build_filename(dir, "mock-newer-major.so", NULL);
	g_autofree char *init_failed = g_strdup_printf("init failed: %s", g_strerror(EIO));
	g_autofree char *major_reason = g_strdup_printf(
		"plugin ABI %u.0 is not supported by this hubd (ABI %u.%u): major version differs",
		HUB_PLUGIN_ABI_MAJOR + 1, HUB_PLUGIN_ABI_MAJOR, HUB_PLUGIN_ABI_MINOR);
	g_autoptr(GError) error = NULL;

	for (gsize i = 0; i < G_N_ELEMENTS(mocks); i++) {
		g_autofree char *staged = mock_path(mocks[i]);
		g_autofree char *file = g_strconcat(mocks[i], ".so", NULL);
		g_autofree char *path = g_build_filename(dir, file, NULL);

		copy_file(staged, path, 0755);
	}

	g_assert_true(hub_plugin_loader_load_dir(loader, dir, only, &error));
	g_assert_no_error(error);

	/* Only wanted plugins are initialised. mock-current, multi-a and
	 * mock-newer-minor are skipped silently, even though the last one would
	 * be refused. */
	g_assert_cmpuint(hub_plugin_loader_get_plugins(loader)->len, ==, 2);
	g_assert_cmpstr(plugin_at(loader, 0)->name, ==, "multi-b");
	g_assert_cmpstr(plugin_at(loader, 1)->name, ==, "mock-out-of-tree");
	g_assert_cmpuint(host_log->len, ==, 3);
	g_assert_cmpstr(g_ptr_array_index(host_log, 0), ==, "mock-failing-init: mock-failing-init init");
	g_assert_cmpstr(g_ptr_array_index(host_log, 1), ==, "multi-b: multi-b init");
	g_assert_cmpstr(g_ptr_array_index(host_log, 2), ==, "mock-out-of-tree: mock-out-of-tree init");

	/* A wanted plugin that is refused is still reported. So is a file of
	 * another major ABI: its name cannot be read, so it cannot be ruled out. */
	g_assert_cmpuint(hub_plugin_loader_get_refusals(loader)->len, ==, 2);
	assert_refusal(loader, 0, failing, "mock-failing-init", init_failed);
	assert_refusal(loader, 1, newer_major, NULL, major_reason);
	g_assert_cmpuint(core_warnings(), ==, 2);

	g_clear_pointer(&loader, hub_plugin_loader_free);
	rm_rf(dir);
}

static void test_dir_unreadable(void)
{
	g_autoptr(HubPluginLoader) loader = new_loader(HUB_PLUGIN_ABI_MAJOR, HUB_PLUGIN_ABI_MINOR);
	g_autofree char *dir = g_build_filename(stage_dir, "no-such-dir", NULL);
	g_autoptr(GError) error = NULL;

	g_assert_false(hub_plugin_loader_load_dir(loader, dir, NULL, &error));
	g_assert_error(error, HUB_ERROR, HUB_ERROR_NOT_FOUND);
	g_assert_nonnull(strstr(error->message, dir));
	g_assert_cmpuint(hub_plugin_loader_get_plugins(loader)->len, ==, 0);
	g_assert_cmpuint(hub_plugin_loader_get_refusals(loader)->len, ==, 0);
}

static void test_free_null(void)
{
	g_autoptr(HubPluginLoader) unused = NULL;
	HubPluginLoader *empty = new_loader(HUB_PLUGIN_ABI_MAJOR, HUB_PLUGIN_ABI_MINOR);

	hub_plugin_loader_free(NULL);
	hub_plugin_loader_free(empty);
	g_assert_cmpuint(host_log->len, ==, 0);
	g_assert_cmpuint(core_log->len, ==, 0);
}

/* The stage directory lives in the build tree, where code may be executed
 * (/tmp can be noexec). Its name is fixed so that a run that failed halfway
 * leaves at most one behind, removed by the next run. */
static char *make_stage_dir(void)
{
	g_autofree char *parent = g_build_filename(top_builddir(), "tests", "plugins", NULL);
	char *dir = g_build_filename(parent, "test-plugin-loader.stage", NULL);

	rm_rf(dir);
	if (g_mkdir(dir, 0755) == 0)
		return dir;
	g_free(dir);
	dir = g_dir_make_tmp("hubd-test-plugin-loader-XXXXXX", NULL);
	g_assert_nonnull(dir);
	return dir;
}

int main(int argc, char **argv)
{
	int ret;

	g_test_init(&argc, &argv, NULL);
	/* The loader warns about every refusal; those are expected here and
	 * checked through capture_writer. Criticals stay fatal. */
	g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
	g_log_set_writer_func(capture_writer, NULL, NULL);

	host_log = g_ptr_array_new_with_free_func(g_free);
	core_log = g_ptr_array_new_with_free_func(g_free);
	stage_dir = make_stage_dir();

	g_test_add_func("/hub/plugin-loader/abi-compatible", test_abi_compatible);
	g_test_add_func("/hub/plugin-loader/current", test_current);
	g_test_add_func("/hub/plugin-loader/exit-on-free", test_exit_on_free);
	g_test_add_func("/hub/plugin-loader/older-minor", test_older_minor);
	g_test_add_func("/hub/plugin-loader/newer-minor", test_newer_minor);
	g_test_add_func("/hub/plugin-loader/newer-major", test_newer_major);
	g_test_add_func("/hub/plugin-loader/missing-symbol", test_missing_symbol);
	g_test_add_func("/hub/plugin-loader/no-descriptor", test_no_descriptor);
	g_test_add_func("/hub/plugin-loader/failing-init", test_failing_init);
	g_test_add_func("/hub/plugin-loader/out-of-tree-tainted", test_out_of_tree);
	g_test_add_func("/hub/plugin-loader/multi", test_multi);
	g_test_add_func("/hub/plugin-loader/multi-partial-refusal", test_multi_partial);
	g_test_add_func("/hub/plugin-loader/bad-descriptors", test_bad_descriptors);
	g_test_add_func("/hub/plugin-loader/duplicate-name", test_duplicate);
	g_test_add_func("/hub/plugin-loader/permissions", test_permissions);
	g_test_add_func("/hub/plugin-loader/owner", test_owner);
	g_test_add_func("/hub/plugin-loader/not-regular-file", test_not_regular_file);
	g_test_add_func("/hub/plugin-loader/not-loadable", test_not_loadable);
	g_test_add_func("/hub/plugin-loader/dir-scan", test_dir_scan);
	g_test_add_func("/hub/plugin-loader/dir-only", test_dir_only);
	g_test_add_func("/hub/plugin-loader/dir-unreadable", test_dir_unreadable);
	g_test_add_func("/hub/plugin-loader/free-null", test_free_null);

	ret = g_test_run();

	rm_rf(stage_dir);
	g_free(stage_dir);
	g_ptr_array_unref(host_log);
	g_ptr_array_unref(core_log);
	return ret;
}
