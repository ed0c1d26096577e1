/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-plugin-loader.h - finds, checks, negotiates and initialises plugins.
 *
 * A candidate is every "*.so" in the plugin directory. It is refused, with
 * the reason logged and kept for D-Bus/tests, when:
 *  - it is not a regular file, is not owned by root or by the daemon's user,
 *    is writable by group or other, or is setuid/setgid;
 *  - dlopen fails, or it does not export hub_plugin_query;
 *  - hub_plugin_query returns NULL or no descriptor;
 *  - a descriptor's abi_major differs from the host's, or its abi_minor is
 *    newer than the host's, or its struct_size is too small, or the kind is
 *    unknown, or the name is invalid or already loaded;
 *  - init() returns a negative errno.
 * Accepted plugins are logged with their negotiated ABI. A plugin whose
 * descriptor lacks HUB_PLUGIN_FLAG_IN_TREE is "tainted" (built out of tree).
 */
#pragma once

#include <glib.h>
#include <gmodule.h>

#include <hubd/hub-plugin.h>

/* The host's record of one loaded plugin; plugins only see the pointer. */
struct hub_plugin {
	const struct hub_plugin_descriptor *desc;
	char *name;            /* desc->name */
	char *path;            /* file it came from */
	char *log_domain;      /* "hubd-<name>" */
	guint32 kind;          /* desc->kind */
	guint32 abi_major;     /* as declared by the plugin */
	guint32 abi_minor;
	gboolean tainted;      /* no HUB_PLUGIN_FLAG_IN_TREE */
	gboolean initialised;  /* init() succeeded; exit() due */
	void *user_data;       /* set by init() */
	gpointer host_ctx;     /* the host's context (see hub_plugin_loader_new) */
	gpointer host_data;    /* free for the host (timers, config group, ...) */
};
typedef struct hub_plugin HubPlugin;

/* A refused candidate. */
typedef struct {
	char *path;
	char *name;   /* descriptor name when known, else NULL */
	char *reason; /* e.g. "file is writable by group or other" */
} HubPluginRefusal;

typedef struct _HubPluginLoader HubPluginLoader;

/* @abi_major/@abi_minor: the ABI the host implements (the daemon passes
 * HUB_PLUGIN_ABI_MAJOR/MINOR; tests may pretend to be a newer host).
 * @host: the table given to every init(); must outlive the loader.
 * @host_ctx: stored in every struct hub_plugin. */
HubPluginLoader *hub_plugin_loader_new(guint32 abi_major, guint32 abi_minor, const struct hub_host *host,
				       gpointer host_ctx);
/* Called after a plugin's exit(), and after an init() that failed, so the
 * host can cancel the timers, watches and queued calls the plugin left. */
typedef void (*HubPluginReleaseFunc)(HubPlugin *plugin);
void hub_plugin_loader_set_release_func(HubPluginLoader *loader, HubPluginReleaseFunc release);
/* Called right before a plugin's init(), so the host's own state for it exists
 * before the plugin can make any call (from any thread). */
typedef void (*HubPluginPrepareFunc)(HubPlugin *plugin);
void hub_plugin_loader_set_prepare_func(HubPluginLoader *loader, HubPluginPrepareFunc prepare);

/* From now on initialises plugins of @kind (HUB_PLUGIN_KIND_*) only when
 * @names (NULL-terminated, may be NULL: none) has their name, and skips the
 * others silently, as if they were not in the plugin directory. */
void hub_plugin_loader_set_wanted(HubPluginLoader *loader, guint32 kind, const char *const *names);

/* Calls exit() on every initialised plugin in reverse load order, then unloads. NULL-safe. */
void hub_plugin_loader_free(HubPluginLoader *loader);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HubPluginLoader, hub_plugin_loader_free)

/* Pure negotiation rule, exposed for tests: TRUE when a plugin built for
 * @plugin_major.@plugin_minor can be loaded by host @host_major.@host_minor;
 * otherwise FALSE and *@reason (g_free) says why. */
gboolean hub_plugin_abi_compatible(guint32 host_major, guint32 host_minor, guint32 plugin_major,
				   guint32 plugin_minor, char **reason);

/* Loads one file. On refusal returns FALSE, records a HubPluginRefusal,
 * logs "Refusing plugin %s: %s" and sets @error (HUB_ERROR_*) with the reason. */
gboolean hub_plugin_loader_load_file(HubPluginLoader *loader, const char *path, GError **error);

/* Loads every "*.so" in @dir in name order; refusals are logged and recorded,
 * not fatal. If @only is non-NULL, only plugins whose name is in it are
 * initialised (others are skipped silently). Returns FALSE only if @dir
 * cannot be read. */
gboolean hub_plugin_loader_load_dir(HubPluginLoader *loader, const char *dir, const char *const *only,
				    GError **error);

/* Loaded plugins (HubPlugin*), in load order. Owned by the loader. */
GPtrArray *hub_plugin_loader_get_plugins(HubPluginLoader *loader);
/* Refusals (HubPluginRefusal*), in order. Owned by the loader. */
GPtrArray *hub_plugin_loader_get_refusals(HubPluginLoader *loader);
HubPlugin *hub_plugin_loader_find(HubPluginLoader *loader, const char *name);

/* "protocol", "certstore", "transport", or NULL for an unknown kind. */
const char *hub_plugin_kind_to_string(guint32 kind);
