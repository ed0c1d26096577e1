/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <dlfcn.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hub-cloud-module.h"
#include "hub-error.h"

static void *module; /* main thread only, like every caller */

gpointer hub_cloud_module_symbol(const char *symbol, GError **error)
{
	const char *path = g_getenv("HUBD_CLOUD_MODULE");
	struct stat st;
	void *sym;

	if (!path || !*path)
		path = HUB_CLOUD_MODULE;
	if (!module) {
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_uid != 0 && st.st_uid != geteuid()) ||
		    (st.st_mode & 022)) {
			g_set_error(error, HUB_ERROR, HUB_ERROR_UNAVAILABLE,
				    "the cloud module %s is missing or not safe to load (owner, mode)", path);
			return NULL;
		}
		module = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
		if (!module) {
			g_set_error(error, HUB_ERROR, HUB_ERROR_UNAVAILABLE, "cannot load the cloud module %s: %s",
				    path, dlerror());
			return NULL;
		}
	}
	sym = dlsym(module, symbol);
	if (!sym)
		g_set_error(error, HUB_ERROR, HUB_ERROR_UNAVAILABLE, "the cloud module %s does not match hubd (no %s)",
			    path, symbol);
	return sym;
}

gconstpointer hub_cloud_module_table(const char *symbol, gsize min_size, GError **error)
{
	gpointer sym = hub_cloud_module_symbol(symbol, error);
	gconstpointer (*query)(void);
	const gsize *table;

	if (!sym)
		return NULL;
	/* POSIX guarantees that a data pointer from dlsym() converts to a function pointer. */
	query = (gconstpointer(*)(void))(uintptr_t)sym;
	table = query();
	if (!table || *table < min_size) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_UNAVAILABLE, "the cloud module does not match hubd (%s)", symbol);
		return NULL;
	}
	return table;
}
