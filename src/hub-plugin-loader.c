/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#ifndef G_LOG_DOMAIN
#define G_LOG_DOMAIN "hubd"
#endif

#include "hub-plugin-loader.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hubd/hub-certstore.h>
#include <hubd/hub-transport.h>
#include <hubd/hub-protocol.h>

#include "hub-error.h"

/* Smallest descriptor we read: everything up to (not including) flags, which
 * is optional and only read when struct_size covers it. */
#define DESCRIPTOR_MIN_SIZE offsetof(struct hub_plugin_descriptor, flags)

/* The ABI 1.0 protocol table ends with write_properties; later minors append. */
#define PROTOCOL_OPS_MIN_SIZE                                  \
	(offsetof(struct hub_protocol_ops, write_properties) + \
	 sizeof(((struct hub_protocol_ops *)NULL)->write_properties))

/* The ABI 1.0 certstore table ends with describe. */
#define CERTSTORE_OPS_MIN_SIZE                           \
	(offsetof(struct hub_certstore_ops, describe) + \
	 sizeof(((struct hub_certstore_ops *)NULL)->describe))

/* The ABI 1.0 transport table ends with offboard. */
#define TRANSPORT_OPS_MIN_SIZE                           \
	(offsetof(struct hub_transport_ops, offboard) + \
	 sizeof(((struct hub_transport_ops *)NULL)->offboard))

#define PLUGIN_NAME_MAX 32

/* One dlopen()ed file; kept until the loader is freed. */
typedef struct {
	void *handle;
	char *path;
} HubPluginModule;

struct _HubPluginLoader {
	guint32 abi_major;
	guint32 abi_minor;
	const struct hub_host *host;
	gpointer host_ctx;
	GPtrArray *plugins;  /* HubPlugin*, load order */
	GPtrArray *failed;   /* HubPlugin* whose init() failed; see load_descriptor() */
	HubPluginReleaseFunc release;
	HubPluginPrepareFunc prepare;
	GPtrArray *refusals; /* HubPluginRefusal*, in order */
	GPtrArray *modules;  /* HubPluginModule*, load order */
	/* Per kind (HUB_PLUGIN_KIND_*): the names to initialise; NULL: all. */
	char **kind_wanted[HUB_PLUGIN_KIND_TRANSPORT + 1];
};

static void hub_plugin_free(HubPlugin *plugin)
{
	if (!plugin)
		return;
	g_free(plugin->name);
	g_free(plugin->path);
	g_free(plugin->log_domain);
	g_free(plugin);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HubPlugin, hub_plugin_free)

static void hub_plugin_refusal_free(HubPluginRefusal *refusal)
{
	if (!refusal)
		return;
	g_free(refusal->path);
	g_free(refusal->name);
	g_free(refusal->reason);
	g_free(refusal);
}

static void hub_plugin_module_free(HubPluginModule *module)
{
	if (!module)
		return;
	if (module->handle && dlclose(module->handle) != 0) {
		const char *msg = dlerror();
		g_warning("Failed to unload %s: %s, ignoring", module->path, msg ? msg : "unknown error");
	}
	g_free(module->path);
	g_free(module);
}

HubPluginLoader *hub_plugin_loader_new(guint32 abi_major, guint32 abi_minor, const struct hub_host *host,
				       gpointer host_ctx)
{
	HubPluginLoader *loader = g_new0(HubPluginLoader, 1);

	loader->abi_major = abi_major;
	loader->abi_minor = abi_minor;
	loader->host = host;
	loader->host_ctx = host_ctx;
	loader->plugins = g_ptr_array_new();
	loader->failed = g_ptr_array_new_with_free_func((GDestroyNotify)hub_plugin_free);
	loader->refusals = g_ptr_array_new_with_free_func((GDestroyNotify)hub_plugin_refusal_free);
	loader->modules = g_ptr_array_new();
	return loader;
}

void hub_plugin_loader_set_release_func(HubPluginLoader *loader, HubPluginReleaseFunc release)
{
	loader->release = release;
}

void hub_plugin_loader_set_prepare_func(HubPluginLoader *loader, HubPluginPrepareFunc prepare)
{
	loader->prepare = prepare;
}

void hub_plugin_loader_set_wanted(HubPluginLoader *loader, guint32 kind, const char *const *names)
{
	g_return_if_fail(kind < G_N_ELEMENTS(loader->kind_wanted));
	g_strfreev(loader->kind_wanted[kind]);
	/* An empty list, not NULL, when none is wanted. */
	loader->kind_wanted[kind] = names ? g_strdupv((char **)names) : g_new0(char *, 1);
}

void hub_plugin_loader_free(HubPluginLoader *loader)
{
	if (!loader)
		return;

	/* exit() may still use code or data of other plugins' modules, so every
	 * plugin is shut down before any module is unloaded. */
	for (guint i = loader->plugins->len; i > 0; i--) {
		HubPlugin *plugin = g_ptr_array_index(loader->plugins, i - 1);

		if (plugin->initialised && plugin->desc->exit)
			plugin->desc->exit(plugin->user_data);
		plugin->initialised = FALSE;
		if (loader->release)
			loader->release(plugin);
		hub_plugin_free(plugin);
	}
	g_ptr_array_unref(loader->plugins);
	g_ptr_array_unref(loader->failed);

	for (guint i = loader->modules->len; i > 0; i--)
		hub_plugin_module_free(g_ptr_array_index(loader->modules, i - 1));
	g_ptr_array_unref(loader->modules);

	g_ptr_array_unref(loader->refusals);
	for (guint i = 0; i < G_N_ELEMENTS(loader->kind_wanted); i++)
		g_strfreev(loader->kind_wanted[i]);
	g_free(loader);
}

gboolean hub_plugin_abi_compatible(guint32 host_major, guint32 host_minor, guint32 plugin_major,
				   guint32 plugin_minor, char **reason)
{
	if (plugin_major != host_major) {
		if (reason)
			*reason = g_strdup_printf("plugin ABI %u.%u is not supported by this hubd (ABI %u.%u): "
						  "major version differs",
						  plugin_major, plugin_minor, host_major, host_minor);
		return FALSE;
	}
	if (plugin_minor > host_minor) {
		if (reason)
			*reason = g_strdup_printf("plugin ABI %u.%u is newer than this hubd's ABI %u.%u",
						  plugin_major, plugin_minor, host_major, host_minor);
		return FALSE;
	}
	return TRUE;
}

const char *hub_plugin_kind_to_string(guint32 kind)
{
	switch (kind) {
	case HUB_PLUGIN_KIND_PROTOCOL:
		return "protocol";
	case HUB_PLUGIN_KIND_CERTSTORE:
		return "certstore";
	case HUB_PLUGIN_KIND_TRANSPORT:
		return "transport";
	default:
		return NULL;
	}
}

static gboolean plugin_name_is_valid(const char *name)
{
	size_t len;

	if (!name)
		return FALSE;
	len = strnlen(name, PLUGIN_NAME_MAX + 1);
	if (len == 0 || len > PLUGIN_NAME_MAX)
		return FALSE;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			continue;
		if (c == '-' && i > 0)
			continue;
		return FALSE;
	}
	return TRUE;
}

/* The descriptor's name if it can be read safely and is valid, else NULL. */
static const char *descriptor_known_name(const HubPluginLoader *loader, const struct hub_plugin_descriptor *desc)
{
	if (desc->abi_major != loader->abi_major || !HUB_STRUCT_HAS(desc, desc->struct_size, name))
		return NULL;
	return plugin_name_is_valid(desc->name) ? desc->name : NULL;
}

/* Logs, records and (if @error is still unset) reports one refusal. Takes @reason. */
static void refuse(HubPluginLoader *loader, const char *path, const char *name, HubError code, char *reason,
		   GError **error)
{
	HubPluginRefusal *refusal = g_new0(HubPluginRefusal, 1);
	g_autofree char *label = name ? g_strdup_printf("%s (%s)", name, path) : g_strdup(path);

	g_warning("Refusing plugin %s: %s", label, reason);

	if (error && !*error)
		g_set_error(error, HUB_ERROR, code, "%s: %s", path, reason);

	refusal->path = g_strdup(path);
	refusal->name = g_strdup(name);
	refusal->reason = reason;
	g_ptr_array_add(loader->refusals, refusal);
}

static gboolean check_file(const char *path, HubError *code, char **reason)
{
	struct stat st;

	if (lstat(path, &st) < 0) {
		int errsv = errno;

		*code = errsv == EACCES ? HUB_ERROR_ACCESS_DENIED : HUB_ERROR_FAILED;
		*reason = g_strdup_printf("cannot be read: %s", g_strerror(errsv));
		return FALSE;
	}
	if (!S_ISREG(st.st_mode)) {
		*code = HUB_ERROR_FAILED;
		*reason = g_strdup("not a regular file");
		return FALSE;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		*code = HUB_ERROR_ACCESS_DENIED;
		*reason = g_strdup_printf("owned by uid %u, not root or the daemon's user", (unsigned)st.st_uid);
		return FALSE;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		*code = HUB_ERROR_ACCESS_DENIED;
		*reason = g_strdup_printf("file is writable by group or other (mode 0%03o)",
					  (unsigned)(st.st_mode & 07777));
		return FALSE;
	}
	if (st.st_mode & (S_ISUID | S_ISGID)) {
		*code = HUB_ERROR_ACCESS_DENIED;
		*reason = g_strdup("file is setuid or setgid");
		return FALSE;
	}
	return TRUE;
}

static gboolean name_is_wanted(const char *name, const char *const *only)
{
	return !only || g_strv_contains(only, name);
}

static char *init_failure_reason(int r)
{
	if (r > -4096)
		return g_strdup_printf("init failed: %s", g_strerror(-r));
	return g_strdup_printf("init failed: error %d", r);
}

typedef enum {
	LOAD_ACCEPTED,
	LOAD_SKIPPED,             /* not in @only */
	LOAD_REFUSED,             /* before init() */
	LOAD_REFUSED_AFTER_INIT,  /* init() ran and failed */
} LoadResult;

/* Negotiates, checks and initialises one descriptor; refusals are recorded. */
static LoadResult load_descriptor(HubPluginLoader *loader, const char *path, const struct hub_plugin_descriptor *desc,
				  const char *const *only, GError **error)
{
	g_autoptr(HubPlugin) plugin = NULL;
	const char *name = descriptor_known_name(loader, desc);
	char *reason = NULL;
	gboolean tainted;
	int r;

	/* Not wanted: say nothing, even if it would be refused. A descriptor
	 * whose name cannot be read is checked (and reported) as usual. */
	if (only && name && !name_is_wanted(name, only))
		return LOAD_SKIPPED;
	/* A transport or store the configuration does not use would have nothing
	 * to do: it is not initialised, so its unused settings are not checked. */
	if (name && desc->kind < G_N_ELEMENTS(loader->kind_wanted) && loader->kind_wanted[desc->kind] &&
	    !g_strv_contains((const char *const *)loader->kind_wanted[desc->kind], name)) {
		g_debug("Skipping plugin %s (%s): the configuration does not use it", name, path);
		return LOAD_SKIPPED;
	}

	/* Only abi_major and abi_minor are common to every ABI; check them first. */
	if (!hub_plugin_abi_compatible(loader->abi_major, loader->abi_minor, desc->abi_major, desc->abi_minor,
				       &reason)) {
		refuse(loader, path, name, HUB_ERROR_NOT_SUPPORTED, reason, error);
		return LOAD_REFUSED;
	}
	if (desc->struct_size < DESCRIPTOR_MIN_SIZE) {
		refuse(loader, path, name, HUB_ERROR_FAILED, g_strdup("descriptor too small"), error);
		return LOAD_REFUSED;
	}
	if (!hub_plugin_kind_to_string(desc->kind)) {
		refuse(loader, path, name, HUB_ERROR_FAILED, g_strdup_printf("unknown plugin kind %u", desc->kind),
		       error);
		return LOAD_REFUSED;
	}
	if (!name) {
		refuse(loader, path, NULL, HUB_ERROR_FAILED, g_strdup("invalid plugin name"), error);
		return LOAD_REFUSED;
	}
	if (hub_plugin_loader_find(loader, name)) {
		refuse(loader, path, name, HUB_ERROR_FAILED,
		       g_strdup_printf("a plugin named %s is already loaded", name), error);
		return LOAD_REFUSED;
	}
	if (desc->kind == HUB_PLUGIN_KIND_PROTOCOL) {
		const struct hub_protocol_ops *ops = desc->ops;

		if (!ops || ops->struct_size < PROTOCOL_OPS_MIN_SIZE) {
			refuse(loader, path, name, HUB_ERROR_FAILED, g_strdup("protocol ops table missing or too small"),
			       error);
			return LOAD_REFUSED;
		}
	}
	if (desc->kind == HUB_PLUGIN_KIND_CERTSTORE) {
		const struct hub_certstore_ops *ops = desc->ops;

		if (!ops || ops->struct_size < CERTSTORE_OPS_MIN_SIZE || !ops->capabilities || !ops->load ||
		    !ops->generate_key || !ops->store_certificates || !ops->import_key || !ops->erase) {
			refuse(loader, path, name, HUB_ERROR_FAILED,
			       g_strdup("certstore ops table missing, too small or incomplete"), error);
			return LOAD_REFUSED;
		}
	}

	if (desc->kind == HUB_PLUGIN_KIND_TRANSPORT) {
		const struct hub_transport_ops *ops = desc->ops;

		if (!ops || ops->struct_size < TRANSPORT_OPS_MIN_SIZE || !ops->start || !ops->provision ||
		    !ops->offboard) {
			refuse(loader, path, name, HUB_ERROR_FAILED,
			       g_strdup("transport ops table missing, too small or incomplete"), error);
			return LOAD_REFUSED;
		}
	}

	tainted = !(HUB_STRUCT_HAS(desc, desc->struct_size, flags) && (desc->flags & HUB_PLUGIN_FLAG_IN_TREE));

	plugin = g_new0(HubPlugin, 1);
	plugin->desc = desc;
	plugin->name = g_strdup(name);
	plugin->path = g_strdup(path);
	plugin->log_domain = g_strdup_printf("hubd-%s", name);
	plugin->kind = desc->kind;
	plugin->abi_major = desc->abi_major;
	plugin->abi_minor = desc->abi_minor;
	plugin->tainted = tainted;
	plugin->host_ctx = loader->host_ctx;

	if (loader->prepare)
		loader->prepare(plugin);
	if (desc->init) {
		r = desc->init(loader->host, plugin, &plugin->user_data);
		if (r < 0) {
			refuse(loader, path, name, HUB_ERROR_FAILED, init_failure_reason(r), error);
			/* The host drops whatever init() registered before failing. */
			if (loader->release)
				loader->release(plugin);
			/* init() may have handed the host callbacks (timers, watches)
			 * that still point at this handle and this module's code, so
			 * both stay valid until the loader is freed. */
			g_ptr_array_add(loader->failed, g_steal_pointer(&plugin));
			return LOAD_REFUSED_AFTER_INIT;
		}
	}
	plugin->initialised = TRUE;

	g_message("Loaded plugin %s %s (%s, ABI %u.%u%s) from %s", plugin->name,
		  desc->version ? desc->version : "(no version)", hub_plugin_kind_to_string(plugin->kind), plugin->abi_major,
		  plugin->abi_minor, plugin->tainted ? ", tainted" : "", plugin->path);
	g_ptr_array_add(loader->plugins, g_steal_pointer(&plugin));
	return LOAD_ACCEPTED;
}

/* Loads every descriptor of @path. Returns FALSE if the file or any of its
 * descriptors was refused; the descriptors that passed stay loaded. */
static gboolean load_file(HubPluginLoader *loader, const char *path, const char *const *only, GError **error)
{
	const struct hub_plugin_descriptor *const *descs;
	hub_plugin_query_fn query;
	HubPluginModule *module;
	gboolean refused = FALSE;
	gboolean keep_module = FALSE;
	HubError code;
	char *reason = NULL;
	void *handle;
	void *sym;

	if (!check_file(path, &code, &reason)) {
		refuse(loader, path, NULL, code, reason, error);
		return FALSE;
	}

	handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!handle) {
		const char *msg = dlerror();

		refuse(loader, path, NULL, HUB_ERROR_FAILED,
		       g_strdup_printf("cannot be loaded: %s", msg ? msg : "unknown error"), error);
		return FALSE;
	}

	/* Every path below either keeps this record or frees it (unloading the file). */
	module = g_new0(HubPluginModule, 1);
	module->handle = handle;
	module->path = g_strdup(path);

	dlerror();
	sym = dlsym(handle, HUB_PLUGIN_QUERY_SYMBOL);
	if (!sym) {
		refuse(loader, path, NULL, HUB_ERROR_FAILED, g_strdup("does not export " HUB_PLUGIN_QUERY_SYMBOL),
		       error);
		hub_plugin_module_free(module);
		return FALSE;
	}
	/* POSIX guarantees that a data pointer from dlsym() converts to a function pointer. */
	query = (hub_plugin_query_fn)(uintptr_t)sym;

	descs = query();
	if (!descs || !descs[0]) {
		refuse(loader, path, NULL, HUB_ERROR_FAILED, g_strdup("hub_plugin_query returned no descriptor"),
		       error);
		hub_plugin_module_free(module);
		return FALSE;
	}

	for (size_t i = 0; descs[i]; i++) {
		switch (load_descriptor(loader, path, descs[i], only, error)) {
		case LOAD_ACCEPTED:
			keep_module = TRUE;
			/* A certstore's keys live on in certificates, CSRs and TLS
			 * contexts that reference them; their methods are in this
			 * file, so it stays mapped for the life of the process. */
			if (descs[i]->kind == HUB_PLUGIN_KIND_CERTSTORE)
				dlopen(path, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
			break;
		case LOAD_REFUSED_AFTER_INIT:
			keep_module = TRUE;
			refused = TRUE;
			break;
		case LOAD_REFUSED:
			refused = TRUE;
			break;
		case LOAD_SKIPPED:
			break;
		}
	}

	/* Unload at once unless a plugin was kept or an init() ran (see load_descriptor()). */
	if (keep_module)
		g_ptr_array_add(loader->modules, module);
	else
		hub_plugin_module_free(module);

	return !refused;
}

gboolean hub_plugin_loader_load_file(HubPluginLoader *loader, const char *path, GError **error)
{
	g_return_val_if_fail(loader != NULL, FALSE);
	g_return_val_if_fail(path != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	return load_file(loader, path, NULL, error);
}

static gint compare_strings(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

gboolean hub_plugin_loader_load_dir(HubPluginLoader *loader, const char *dir, const char *const *only,
				    GError **error)
{
	g_autoptr(GError) local_error = NULL;
	g_autoptr(GPtrArray) names = NULL;
	g_autoptr(GDir) gdir = NULL;
	const char *entry;

	g_return_val_if_fail(loader != NULL, FALSE);
	g_return_val_if_fail(dir != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	gdir = g_dir_open(dir, 0, &local_error);
	if (!gdir) {
		HubError code = HUB_ERROR_FAILED;

		if (g_error_matches(local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
			code = HUB_ERROR_NOT_FOUND;
		else if (g_error_matches(local_error, G_FILE_ERROR, G_FILE_ERROR_ACCES))
			code = HUB_ERROR_ACCESS_DENIED;
		g_set_error(error, HUB_ERROR, code, "Cannot read plugin directory: %s", local_error->message);
		return FALSE;
	}

	names = g_ptr_array_new_with_free_func(g_free);
	while ((entry = g_dir_read_name(gdir))) {
		if (entry[0] != '.' && g_str_has_suffix(entry, ".so"))
			g_ptr_array_add(names, g_strdup(entry));
	}
	/* Byte order, not the locale's collation: load order must not depend on LANG. */
	g_ptr_array_sort(names, compare_strings);

	for (guint i = 0; i < names->len; i++) {
		g_autofree char *path = g_build_filename(dir, g_ptr_array_index(names, i), NULL);

		/* Refusals are logged and recorded by load_file(). */
		load_file(loader, path, only, NULL);
	}
	return TRUE;
}

GPtrArray *hub_plugin_loader_get_plugins(HubPluginLoader *loader)
{
	g_return_val_if_fail(loader != NULL, NULL);
	return loader->plugins;
}

GPtrArray *hub_plugin_loader_get_refusals(HubPluginLoader *loader)
{
	g_return_val_if_fail(loader != NULL, NULL);
	return loader->refusals;
}

HubPlugin *hub_plugin_loader_find(HubPluginLoader *loader, const char *name)
{
	g_return_val_if_fail(loader != NULL, NULL);
	g_return_val_if_fail(name != NULL, NULL);

	for (guint i = 0; i < loader->plugins->len; i++) {
		HubPlugin *plugin = g_ptr_array_index(loader->plugins, i);

		if (g_str_equal(plugin->name, name))
			return plugin;
	}
	return NULL;
}
