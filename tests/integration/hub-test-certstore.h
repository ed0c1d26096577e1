/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-test-certstore.h - a certificate store plugin under test, loaded by the
 * real plugin loader (hub-plugin-loader.h) with a minimal host, so a test
 * can do to a store what daemon starts and stops do, without the daemon.
 *
 * The host table follows include/hubd/hub-plugin.h: log and vlog append the
 * line to @log (under a lock: any thread) and show it as a TAP comment;
 * config_get reads what hub_test_certstore_set_config() set (a value stays
 * valid until the plugin's exit() returns, even if the test replaces it);
 * config_resolve_path resolves relative paths against @tmpdir and returns
 * malloc'ed memory the plugin free()s; state_dir returns @state_dir,
 * created 0700 on the first call. The other services are NULL: a store
 * needs no timers, registry or key/value store.
 *
 * Every HubTestCertstore has its own temporary directory: the plugin is
 * copied to <tmpdir>/plugin/ with mode 0755 (the loader refuses files
 * writable by group or other, which a build with umask 002 makes), the
 * state dir is <tmpdir>/state, and the rest is the test's. Set-up failures
 * abort the test. Call everything from the test's main thread.
 */
#pragma once

#include <glib.h>

#include <hubd/hub-certstore.h>

#include "hub-plugin-loader.h"

/* The fields are read-only for tests; change them through the functions. */
typedef struct {
	char *tmpdir;     /* the test's temporary directory; relative config paths resolve here */
	char *state_dir;  /* <tmpdir>/state, what host->state_dir() returns */
	char *plugin_path; /* the staged copy of the plugin */
	char *name;       /* the descriptor name load() looks for, e.g. "pkcs11" */
	GString *log;     /* every line the plugin logged, each ending in '\n'; tests may truncate it between ops */
	HubPluginLoader *loader;             /* the last load()'s loader, refused or not; NULL once unloaded */
	const struct hub_certstore_ops *ops; /* NULL unless loaded */
	void *user_data;  /* what init() stored: the first argument of every op */
	char message[512]; /* the last op shorthand's message ("" before the op) */

	/* private */
	GHashTable *config;  /* key -> value for host->config_get() */
	GPtrArray *retired;  /* replaced config strings, kept until the plugin's exit() */
	GMutex log_lock;
} HubTestCertstore;

/* Stages $HUB_TOP_BUILDDIR/@plugin_relative_path (e.g.
 * "certhandlers/tpm2/.libs/certstore-tpm2.so"; HUB_TOP_BUILDDIR defaults to
 * ".") in a new temporary directory. @name is the descriptor name the plugin
 * must register. The configuration starts empty; nothing is loaded yet. */
HubTestCertstore *hub_test_certstore_new(const char *plugin_relative_path, const char *name);
/* Unloads the plugin, removes the temporary directory with everything in it
 * (kept when HUB_TEST_KEEP is set, for a look after a failure) and frees @t.
 * Stop any service whose files live in @tmpdir first. NULL-safe. */
void hub_test_certstore_free(HubTestCertstore *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HubTestCertstore, hub_test_certstore_free)

/* Sets @key of the plugin's configuration group ([plugin.<name>]) to a copy
 * of @value; a NULL @value removes the key. Read by the next load(). */
void hub_test_certstore_set_config(HubTestCertstore *t, const char *key, const char *value);
/* Removes every key: the plugin's defaults apply at the next load(). */
void hub_test_certstore_clear_config(HubTestCertstore *t);

/* A daemon start: unloads what is loaded, then loads the plugin with a new
 * loader and the current configuration. Returns FALSE with the loader's
 * refusal in @error (also in hub_plugin_loader_get_refusals(@t->loader))
 * when the loader or the plugin's init() refuses it. Asserts that an
 * accepted plugin is an in-tree certstore called @t->name. */
gboolean hub_test_certstore_load(HubTestCertstore *t, GError **error);
/* The same for a start that must work: fails the test with the refusal. */
void hub_test_certstore_assert_load(HubTestCertstore *t);
/* A daemon stop: the plugin's exit(), then dlclose(). Free every key the
 * plugin handed out first. No-op when nothing is loaded. */
void hub_test_certstore_unload(HubTestCertstore *t);

/* The ops, one call each on the loaded store (asserted), writing the store's
 * message into @t->message. They return what the op returned: 0 or a
 * negative errno. Arguments and ownership as in hub-certstore.h. */
int hub_test_certstore_load_role(HubTestCertstore *t, uint32_t role, STACK_OF(X509) **chain, EVP_PKEY **key);
int hub_test_certstore_generate(HubTestCertstore *t, uint32_t role, uint32_t key_type);
int hub_test_certstore_store(HubTestCertstore *t, uint32_t role, STACK_OF(X509) *chain);
int hub_test_certstore_import(HubTestCertstore *t, uint32_t role, EVP_PKEY *key);
int hub_test_certstore_erase(HubTestCertstore *t, uint32_t role);

/* The two ops that need no device, likewise on the loaded store (asserted).
 * describe() writes into @buf as the op does; it leaves @t->message alone. */
uint32_t hub_test_certstore_capabilities(HubTestCertstore *t, uint32_t role);
int hub_test_certstore_describe(HubTestCertstore *t, uint32_t role, char *buf, size_t buf_size);

/* Fails the test unless @expr (an op shorthand on @t) returns @expected; the
 * failure names the call, the errno and the store's message. */
#define hub_test_certstore_assert_op(t, expr, expected)                                                   \
	G_STMT_START                                                                                      \
	{                                                                                                 \
		int r_ = (expr);                                                                          \
		if (r_ != (expected))                                                                     \
			g_error("%s returned %d (%s), expected %d; message: %s", #expr, r_,               \
				r_ < 0 ? g_strerror(-r_) : "ok", (int)(expected), (t)->message);          \
	}                                                                                                 \
	G_STMT_END

/* The public half of @key (a store's key, maybe hardware-backed) as a plain
 * software key, so a verification owes nothing to the store. Free it with
 * EVP_PKEY_free(). */
EVP_PKEY *hub_test_certstore_public_copy(EVP_PKEY *key);
