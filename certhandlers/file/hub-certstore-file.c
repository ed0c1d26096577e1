/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-certstore-file.c - the "file" certificate store: PEM files.
 *
 * Keys are software keys: generated with OpenSSL, kept in files of mode 0600
 * owned by the daemon's user, and refused when anyone else could read them.
 * Every write is atomic (write, fsync, rename, fsync the directory), so a
 * power cut leaves the old credential or the new one, never half of either.
 * This store is the baseline the hardware stores are measured against.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <hubd/hub-certstore.h>

#include "hub-atomic-file.h"
#include "hub-pem.h"

#define FILE_STORE_VERSION PACKAGE_VERSION
#define MAX_PEM_FILE (1024 * 1024)

typedef struct {
	const struct hub_host *host;
	struct hub_plugin *plugin;
	char *cert_path[HUB_CERT_ROLE_ROOT_CA + 1];
	char *key_path[HUB_CERT_ROLE_ROOT_CA + 1];
} FileStore;

static const char *const role_names[] = { NULL, "claim", "permanent", "root-ca" };

static gboolean role_valid(guint32 role)
{
	return role >= HUB_CERT_ROLE_CLAIM && role <= HUB_CERT_ROLE_ROOT_CA;
}

static gboolean role_has_key(guint32 role)
{
	return role == HUB_CERT_ROLE_CLAIM || role == HUB_CERT_ROLE_PERMANENT;
}

static int unsupported_role(guint32 role, char *message, size_t message_size)
{
	g_snprintf(message, message_size, "the file store does not serve role %u", role);
	return -ENOTSUP;
}

/* Reads a whole file. -ENOENT when it does not exist. For key files the
 * owner and mode are checked on the open descriptor (no race with a rename). */
static int read_file(const char *path, gboolean is_key, char **out, gsize *out_len, char *message,
		     size_t message_size)
{
	struct stat st;
	char *data;
	gsize done = 0;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		err = errno;
		if (err != ENOENT)
			g_snprintf(message, message_size, "cannot open %s: %s", path, g_strerror(err));
		return -err;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		g_snprintf(message, message_size, "%s is not a regular file", path);
		close(fd);
		return -EINVAL;
	}
	if (is_key && st.st_uid != geteuid()) {
		g_snprintf(message, message_size,
			   "key file %s is owned by uid %u, not by the daemon's user (uid %u); refusing to use it",
			   path, (unsigned)st.st_uid, (unsigned)geteuid());
		close(fd);
		return -EACCES;
	}
	if (is_key && (st.st_mode & 077)) {
		g_snprintf(message, message_size,
			   "key file %s has mode %04o: it must not be accessible to group or others (chmod 600 %s)",
			   path, (unsigned)(st.st_mode & 07777), path);
		close(fd);
		return -EACCES;
	}
	if (st.st_size > MAX_PEM_FILE) {
		g_snprintf(message, message_size, "%s is larger than %d bytes", path, MAX_PEM_FILE);
		close(fd);
		return -EINVAL;
	}
	data = g_malloc((gsize)st.st_size + 1);
	while (done < (gsize)st.st_size) {
		ssize_t n = read(fd, data + done, (gsize)st.st_size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? errno : EIO;
			g_snprintf(message, message_size, "cannot read %s: %s", path, g_strerror(err));
			hub_pem_free_secret(data, (gsize)st.st_size + 1);
			close(fd);
			return -err;
		}
		done += (gsize)n;
	}
	close(fd);
	data[done] = '\0';
	*out = data;
	*out_len = done;
	return 0;
}

static int load_chain(FileStore *store, guint32 role, STACK_OF(X509) **chain, char *message, size_t message_size)
{
	char *text = NULL;
	gsize len = 0;
	char reason[200];
	int r;

	r = read_file(store->cert_path[role], FALSE, &text, &len, message, message_size);
	if (r < 0)
		return r;
	*chain = hub_pem_parse_certificates(text, len, reason, sizeof(reason));
	g_free(text);
	if (!*chain) {
		g_snprintf(message, message_size, "%s: %s", store->cert_path[role], reason);
		return -EINVAL;
	}
	return 0;
}

static int load_key(FileStore *store, guint32 role, EVP_PKEY **key, char *message, size_t message_size)
{
	char *text = NULL;
	gsize len = 0;
	char reason[200];
	int r;

	r = read_file(store->key_path[role], TRUE, &text, &len, message, message_size);
	if (r < 0)
		return r;
	*key = hub_pem_parse_private_key(text, len, reason, sizeof(reason));
	hub_pem_free_secret(text, len + 1);
	if (!*key) {
		g_snprintf(message, message_size, "%s: %s", store->key_path[role], reason);
		return -EINVAL;
	}
	return 0;
}

static uint32_t file_capabilities(void *user_data, uint32_t role)
{
	if (role_has_key(role))
		return HUB_CERTSTORE_CAP_CERTIFICATES | HUB_CERTSTORE_CAP_GENERATE_KEY | HUB_CERTSTORE_CAP_IMPORT_KEY |
		       HUB_CERTSTORE_CAP_RSA_2048;
	return role == HUB_CERT_ROLE_ROOT_CA ? HUB_CERTSTORE_CAP_CERTIFICATES : 0;
}

static int file_load(void *user_data, uint32_t role, STACK_OF(X509) **chain, EVP_PKEY **key, char *message,
		     size_t message_size)
{
	FileStore *store = user_data;
	STACK_OF(X509) *certs = NULL;
	EVP_PKEY *pkey = NULL;
	int rc, rk = -ENOENT;

	if (!role_valid(role))
		return unsupported_role(role, message, message_size);
	rc = load_chain(store, role, &certs, message, message_size);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	if (role_has_key(role)) {
		rk = load_key(store, role, &pkey, message, message_size);
		if (rk < 0 && rk != -ENOENT) {
			sk_X509_pop_free(certs, X509_free);
			return rk;
		}
	}
	if (rc == -ENOENT && rk == -ENOENT) {
		g_snprintf(message, message_size, "nothing stored for %s in %s", role_names[role],
			   store->cert_path[role]);
		return -ENOENT;
	}
	if (chain)
		*chain = certs;
	else
		sk_X509_pop_free(certs, X509_free);
	if (key)
		*key = pkey;
	else
		EVP_PKEY_free(pkey);
	return 0;
}

static int remove_file(const char *path, char *message, size_t message_size)
{
	if (unlink(path) < 0 && errno != ENOENT) {
		int err = errno;

		g_snprintf(message, message_size, "cannot remove %s: %s", path, g_strerror(err));
		return -err;
	}
	return 0;
}

/* Writes the key file, then drops the certificates that belonged to the old key. */
static int write_key(FileStore *store, guint32 role, EVP_PKEY *key, char *message, size_t message_size)
{
	gsize len = 0;
	char *pem = hub_pem_format_private_key(key, &len);
	int r;

	if (!pem) {
		g_snprintf(message, message_size, "the key cannot be written as PEM (is it a hardware key?)");
		return -EINVAL;
	}
	r = hub_atomic_file_write(store->key_path[role], pem, len, 0600, message, message_size);
	hub_pem_free_secret(pem, len);
	if (r < 0)
		return r;
	return remove_file(store->cert_path[role], message, message_size);
}

static int file_generate_key(void *user_data, uint32_t role, uint32_t key_type, char *message,
			     size_t message_size)
{
	FileStore *store = user_data;
	EVP_PKEY *key;
	int r;

	if (!role_has_key(role))
		return unsupported_role(role, message, message_size);
	if (key_type == HUB_KEY_TYPE_EC_P256)
		key = EVP_EC_gen("P-256");
	else if (key_type == HUB_KEY_TYPE_RSA_2048)
		key = EVP_RSA_gen(2048);
	else {
		g_snprintf(message, message_size, "unknown key type %u", key_type);
		return -EINVAL;
	}
	if (!key) {
		g_snprintf(message, message_size, "key generation failed");
		ERR_clear_error();
		return -EIO;
	}
	r = write_key(store, role, key, message, message_size);
	EVP_PKEY_free(key);
	return r;
}

static int file_store_certificates(void *user_data, uint32_t role, STACK_OF(X509) *chain, char *message,
				   size_t message_size)
{
	FileStore *store = user_data;
	g_autofree char *pem = NULL;

	if (!role_valid(role))
		return unsupported_role(role, message, message_size);
	pem = hub_pem_format_certificates(chain);
	if (!pem || !*pem) {
		g_snprintf(message, message_size, "the certificates cannot be written as PEM");
		return -EINVAL;
	}
	return hub_atomic_file_write(store->cert_path[role], pem, strlen(pem), 0644, message, message_size);
}

static int file_import_key(void *user_data, uint32_t role, EVP_PKEY *key, char *message, size_t message_size)
{
	FileStore *store = user_data;

	if (!role_has_key(role))
		return unsupported_role(role, message, message_size);
	return write_key(store, role, key, message, message_size);
}

static int file_erase(void *user_data, uint32_t role, char *message, size_t message_size)
{
	FileStore *store = user_data;
	int r = 0;

	if (!role_valid(role))
		return unsupported_role(role, message, message_size);
	if (store->key_path[role])
		r = remove_file(store->key_path[role], message, message_size);
	if (r == 0)
		r = remove_file(store->cert_path[role], message, message_size);
	return r;
}

static int file_describe(void *user_data, uint32_t role, char *buf, size_t size)
{
	FileStore *store = user_data;

	if (!role_valid(role))
		return -ENOTSUP;
	if (store->key_path[role])
		g_snprintf(buf, size, "PEM files %s and %s", store->cert_path[role], store->key_path[role]);
	else
		g_snprintf(buf, size, "PEM file %s", store->cert_path[role]);
	return 0;
}

/* A configured path, resolved against the configuration file, or @dir/@name. */
static char *config_path(FileStore *store, const char *key, const char *dir, const char *name)
{
	const char *value = store->host->config_get(store->plugin, key);
	char *resolved;
	char *copy;

	if (!value || !*value)
		return g_build_filename(dir, name, NULL);
	resolved = store->host->config_resolve_path(store->plugin, value);
	copy = g_strdup(resolved);
	free(resolved);
	return copy;
}

static void file_exit(void *user_data)
{
	FileStore *store = user_data;

	for (guint i = 0; i < G_N_ELEMENTS(store->cert_path); i++) {
		g_free(store->cert_path[i]);
		g_free(store->key_path[i]);
	}
	g_free(store);
}

static int file_init(const struct hub_host *host, struct hub_plugin *plugin, void **user_data)
{
	FileStore *store = g_new0(FileStore, 1);
	g_autofree char *dir = NULL;
	const char *value;

	store->host = host;
	store->plugin = plugin;
	value = host->config_get(plugin, "directory");
	if (value && *value) {
		char *resolved = host->config_resolve_path(plugin, value);

		dir = g_strdup(resolved);
		free(resolved);
		if (dir && g_mkdir_with_parents(dir, 0700) < 0)
			host->log(plugin, HUB_LOG_WARNING, "Cannot create %s: %s", dir, g_strerror(errno));
	} else {
		dir = g_strdup(host->state_dir(plugin));
	}
	if (!dir) {
		host->log(plugin, HUB_LOG_ERR, "No directory for the certificate files");
		file_exit(store);
		return -EINVAL;
	}
	store->cert_path[HUB_CERT_ROLE_CLAIM] = config_path(store, "claim-certificate", dir, "claim.crt");
	store->key_path[HUB_CERT_ROLE_CLAIM] = config_path(store, "claim-key", dir, "claim.key");
	store->cert_path[HUB_CERT_ROLE_PERMANENT] = config_path(store, "permanent-certificate", dir, "permanent.crt");
	store->key_path[HUB_CERT_ROLE_PERMANENT] = config_path(store, "permanent-key", dir, "permanent.key");
	store->cert_path[HUB_CERT_ROLE_ROOT_CA] = config_path(store, "root-ca", dir, "root-ca.crt");
	*user_data = store;
	return 0;
}

static const struct hub_certstore_ops file_ops = {
	.struct_size = sizeof(struct hub_certstore_ops),
	.capabilities = file_capabilities,
	.load = file_load,
	.generate_key = file_generate_key,
	.store_certificates = file_store_certificates,
	.import_key = file_import_key,
	.erase = file_erase,
	.describe = file_describe,
};

static const struct hub_plugin_descriptor file_descriptor = {
	.abi_major = HUB_PLUGIN_ABI_MAJOR,
	.abi_minor = HUB_PLUGIN_ABI_MINOR,
	.struct_size = sizeof(struct hub_plugin_descriptor),
	.kind = HUB_PLUGIN_KIND_CERTSTORE,
	.name = "file",
	.version = FILE_STORE_VERSION,
	.init = file_init,
	.exit = file_exit,
	.ops = &file_ops,
#ifdef HUB_IN_TREE
	.flags = HUB_PLUGIN_FLAG_IN_TREE,
#endif
};

static const struct hub_plugin_descriptor *const file_descriptors[] = { &file_descriptor, NULL };

HUB_PLUGIN_EXPORT const struct hub_plugin_descriptor *const *hub_plugin_query(void);

HUB_PLUGIN_EXPORT const struct hub_plugin_descriptor *const *hub_plugin_query(void)
{
	return file_descriptors;
}
