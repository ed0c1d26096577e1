/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-certstore-tpm2.c - the "tpm2" certificate store: descriptor,
 * configuration ([plugin.tpm2]) and the certstore ops.
 *
 * The claim and permanent roles each have a key generated in the TPM and
 * kept at a persistent handle, and a certificate in a PEM file of the state
 * directory or in an NV index. The root CA role is PEM files only. See
 * README.md for the keys and the layout.
 *
 * init() only reads the configuration: the TPM is first touched by an op,
 * so an absent TPM gives each op -ENODEV instead of stopping the daemon.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "hub-tpm2.h"

#define DEFAULT_TCTI             "device:/dev/tpmrm0"
#define DEFAULT_CLAIM_HANDLE     0x81000100u
#define DEFAULT_PERMANENT_HANDLE 0x81000101u
#define DEFAULT_CLAIM_NV         0x01500100u
#define DEFAULT_PERMANENT_NV     0x01500101u

#define PERSISTENT_MIN 0x81000000u
#define PERSISTENT_MAX 0x81ffffffu
#define NV_MIN         0x01000000u
#define NV_MAX         0x01ffffffu

#define KEY_ROLE_CAPS                                                                     \
	(HUB_CERTSTORE_CAP_CERTIFICATES | HUB_CERTSTORE_CAP_GENERATE_KEY | HUB_CERTSTORE_CAP_HARDWARE | \
	 HUB_CERTSTORE_CAP_RSA_2048)

typedef struct {
	const struct hub_host *host;
	struct hub_plugin *handle;
	HubTpm2Context *ctx;
	TPM2_HANDLE key_handle[2]; /* [0] claim, [1] permanent */
	TPM2_HANDLE nv_index[2];
	gboolean nv_storage;       /* certificate-storage=nv */
} Tpm2Store;

#define tpm2_log(st, level, ...) (st)->host->log((st)->handle, (level), __VA_ARGS__)

/* ---- roles and paths ---- */

static const char *role_name(uint32_t role)
{
	switch (role) {
	case HUB_CERT_ROLE_CLAIM:
		return "claim";
	case HUB_CERT_ROLE_PERMANENT:
		return "permanent";
	case HUB_CERT_ROLE_ROOT_CA:
		return "root-ca";
	default:
		return NULL;
	}
}

static gboolean role_has_key(uint32_t role)
{
	return role == HUB_CERT_ROLE_CLAIM || role == HUB_CERT_ROLE_PERMANENT;
}

/* 0 for a role this store serves; @need_key refuses the root CA role. */
static int check_role(uint32_t role, gboolean need_key, char *msg, size_t size)
{
	if (role == HUB_CERT_ROLE_ATTESTATION) {
		hub_tpm2_message(msg, size, "the TPM store does not serve the attestation role");
		return -ENOTSUP;
	}
	if (!role_name(role)) {
		hub_tpm2_message(msg, size, "unknown certificate role %u", role);
		return -EINVAL;
	}
	if (need_key && !role_has_key(role)) {
		hub_tpm2_message(msg, size, "the root CA role holds certificates only, no key");
		return -ENOTSUP;
	}
	return 0;
}

/* <state-dir>/<role><suffix> (g_free), or NULL with -EIO in @msg. */
static char *role_path(Tpm2Store *st, uint32_t role, const char *suffix, char *msg, size_t size)
{
	const char *dir = st->host->state_dir(st->handle);
	g_autofree char *name = NULL;

	if (!dir) {
		hub_tpm2_message(msg, size, "the TPM store has no state directory for its certificate files");
		return NULL;
	}
	name = g_strconcat(role_name(role), suffix, NULL);
	return g_build_filename(dir, name, NULL);
}

/* ---- configuration ---- */

static int parse_handle(Tpm2Store *st, const char *key, TPM2_HANDLE fallback, TPM2_HANDLE min, TPM2_HANDLE max,
			TPM2_HANDLE *out)
{
	const char *text = st->host->config_get(st->handle, key);
	const char *digits = text;
	size_t len;
	guint64 value;

	*out = fallback;
	if (!text)
		return 0;
	if (digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X'))
		digits += 2;
	len = strlen(digits);
	for (size_t i = 0; i < len; i++)
		if (!g_ascii_isxdigit(digits[i]))
			len = 0;
	value = len > 0 && len <= 8 ? g_ascii_strtoull(digits, NULL, 16) : 0;
	if (len == 0 || len > 8 || value < min || value > max) {
		tpm2_log(st, HUB_LOG_ERR, "Invalid %s \"%s\" in [plugin.tpm2]: expected a hexadecimal handle 0x%08x-0x%08x",
			 key, text, min, max);
		return -EINVAL;
	}
	*out = (TPM2_HANDLE)value;
	return 0;
}

static int parse_config(Tpm2Store *st)
{
	const char *tcti = st->host->config_get(st->handle, "tcti");
	const char *storage = st->host->config_get(st->handle, "certificate-storage");
	int r;

	if (tcti && !*tcti) {
		tpm2_log(st, HUB_LOG_ERR, "Invalid tcti \"\" in [plugin.tpm2]: expected e.g. %s", DEFAULT_TCTI);
		return -EINVAL;
	}
	if (!storage || strcmp(storage, "file") == 0) {
		st->nv_storage = FALSE;
	} else if (strcmp(storage, "nv") == 0) {
		st->nv_storage = TRUE;
	} else {
		tpm2_log(st, HUB_LOG_ERR, "Invalid certificate-storage \"%s\" in [plugin.tpm2]: expected file or nv",
			 storage);
		return -EINVAL;
	}
	r = parse_handle(st, "claim-handle", DEFAULT_CLAIM_HANDLE, PERSISTENT_MIN, PERSISTENT_MAX, &st->key_handle[0]);
	if (r == 0)
		r = parse_handle(st, "permanent-handle", DEFAULT_PERMANENT_HANDLE, PERSISTENT_MIN, PERSISTENT_MAX,
				 &st->key_handle[1]);
	if (r == 0)
		r = parse_handle(st, "claim-nv-index", DEFAULT_CLAIM_NV, NV_MIN, NV_MAX, &st->nv_index[0]);
	if (r == 0)
		r = parse_handle(st, "permanent-nv-index", DEFAULT_PERMANENT_NV, NV_MIN, NV_MAX, &st->nv_index[1]);
	if (r < 0)
		return r;
	if (st->key_handle[0] == st->key_handle[1]) {
		tpm2_log(st, HUB_LOG_ERR, "claim-handle and permanent-handle in [plugin.tpm2] are both 0x%08x",
			 st->key_handle[0]);
		return -EINVAL;
	}
	if (st->nv_storage && st->nv_index[0] == st->nv_index[1]) {
		tpm2_log(st, HUB_LOG_ERR, "claim-nv-index and permanent-nv-index in [plugin.tpm2] are both 0x%08x",
			 st->nv_index[0]);
		return -EINVAL;
	}
	st->ctx = hub_tpm2_context_new(tcti ? tcti : DEFAULT_TCTI);
	return 0;
}

/* ---- certificates of the key roles ---- */

/* The role's certificates, or *@certs = NULL when none are stored. */
static int read_certificates(Tpm2Store *st, uint32_t role, STACK_OF(X509) **certs, char *msg, size_t size)
{
	g_autofree char *path = role_path(st, role, st->nv_storage ? "-chain.pem" : ".pem", msg, size);
	g_autofree guint8 *der = NULL;
	STACK_OF(X509) *chain = NULL;
	const unsigned char *p;
	X509 *leaf;
	size_t len = 0;
	int r;

	*certs = NULL;
	if (!path)
		return -EIO;
	if (!st->nv_storage) {
		r = hub_tpm2_files_read(path, certs, msg, size);
		return r == -ENOENT ? 0 : r;
	}
	r = hub_tpm2_nv_read(st->ctx, st->nv_index[role - 1], &der, &len, msg, size);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	p = der;
	leaf = len <= G_MAXLONG ? d2i_X509(NULL, &p, (long)len) : NULL;
	if (!leaf || p != der + len) {
		X509_free(leaf);
		hub_tpm2_message(msg, size, "NV index 0x%08x holds a corrupt certificate", st->nv_index[role - 1]);
		return -EINVAL;
	}
	r = hub_tpm2_files_read(path, &chain, msg, size);
	if (r < 0 && r != -ENOENT) {
		X509_free(leaf);
		return r;
	}
	if (!chain)
		chain = sk_X509_new_null();
	if (!chain || !sk_X509_insert(chain, leaf, 0)) {
		X509_free(leaf);
		sk_X509_pop_free(chain, X509_free);
		return -ENOMEM;
	}
	*certs = chain;
	return 0;
}

static int delete_certificates(Tpm2Store *st, uint32_t role, char *msg, size_t size)
{
	g_autofree char *file = role_path(st, role, ".pem", msg, size);
	g_autofree char *chain = role_path(st, role, "-chain.pem", msg, size);
	int r;

	if (!file || !chain)
		return -EIO;
	r = hub_tpm2_files_remove(file, msg, size);
	if (r == 0)
		r = hub_tpm2_files_remove(chain, msg, size);
	if (r == 0 && st->nv_storage)
		r = hub_tpm2_nv_erase(st->ctx, st->nv_index[role - 1], msg, size);
	return r;
}

/* ---- ops ---- */

static uint32_t tpm2_capabilities(void *user_data, uint32_t role)
{
	if (role_has_key(role))
		return KEY_ROLE_CAPS;
	if (role == HUB_CERT_ROLE_ROOT_CA)
		return HUB_CERTSTORE_CAP_CERTIFICATES;
	return 0;
}

static int load_root_ca(Tpm2Store *st, STACK_OF(X509) **chain, char *msg, size_t size)
{
	g_autofree char *path = role_path(st, HUB_CERT_ROLE_ROOT_CA, ".pem", msg, size);
	STACK_OF(X509) *certs = NULL;
	int r;

	if (!path)
		return -EIO;
	r = hub_tpm2_files_read(path, &certs, msg, size);
	if (r == -ENOENT)
		hub_tpm2_message(msg, size, "no root CA certificates stored (%s)", path);
	if (r < 0)
		return r;
	if (chain)
		*chain = certs;
	else
		sk_X509_pop_free(certs, X509_free);
	return 0;
}

static int tpm2_load(void *user_data, uint32_t role, STACK_OF(X509) **chain, EVP_PKEY **key, char *msg,
		     size_t size)
{
	Tpm2Store *st = user_data;
	g_autoptr(GMutexLocker) locker = NULL;
	STACK_OF(X509) *certs = NULL;
	TPM2_HANDLE handle;
	gboolean exists = FALSE;
	int r;

	if (chain)
		*chain = NULL;
	if (key)
		*key = NULL;
	r = check_role(role, FALSE, msg, size);
	if (r < 0)
		return r;
	if (role == HUB_CERT_ROLE_ROOT_CA)
		return load_root_ca(st, chain, msg, size);

	handle = st->key_handle[role - 1];
	locker = hub_tpm2_context_lock(st->ctx);
	r = read_certificates(st, role, &certs, msg, size);
	if (r < 0)
		return r;
	/* without certificates, the key decides between "key only" and -ENOENT */
	if (key || !certs) {
		r = hub_tpm2_context_handle_exists(st->ctx, handle, &exists, msg, size);
		if (r == 0 && key && exists)
			r = hub_tpm2_key_new(st->ctx, handle, key, msg, size);
		if (r < 0) {
			sk_X509_pop_free(certs, X509_free);
			return r;
		}
	}
	if (!certs && !exists) {
		hub_tpm2_message(msg, size, "nothing stored for the %s role: no key at persistent handle 0x%08x, no certificate",
				 role_name(role), handle);
		return -ENOENT;
	}
	if (chain)
		*chain = certs;
	else
		sk_X509_pop_free(certs, X509_free);
	return 0;
}

static int tpm2_generate_key(void *user_data, uint32_t role, uint32_t key_type, char *msg, size_t size)
{
	Tpm2Store *st = user_data;
	g_autoptr(GMutexLocker) locker = NULL;
	TPM2_HANDLE handle;
	int r;

	r = check_role(role, TRUE, msg, size);
	if (r < 0)
		return r;
	if (key_type != HUB_KEY_TYPE_EC_P256 && key_type != HUB_KEY_TYPE_RSA_2048) {
		hub_tpm2_message(msg, size, "unknown key type %u", key_type);
		return -EINVAL;
	}
	handle = st->key_handle[role - 1];
	locker = hub_tpm2_context_lock(st->ctx);
	r = hub_tpm2_object_generate(st->ctx, handle, key_type, msg, size);
	if (r < 0)
		return r;
	/* the old certificate certifies the old key */
	r = delete_certificates(st, role, msg, size);
	if (r < 0)
		return r;
	tpm2_log(st, HUB_LOG_INFO, "Generated a new %s key for the %s role at persistent handle 0x%08x",
		 key_type == HUB_KEY_TYPE_RSA_2048 ? "RSA 2048" : "EC P-256", role_name(role), handle);
	return 0;
}

static int tpm2_store_certificates(void *user_data, uint32_t role, STACK_OF(X509) *chain, char *msg, size_t size)
{
	Tpm2Store *st = user_data;
	g_autoptr(GMutexLocker) locker = NULL;
	g_autofree unsigned char *der = NULL;
	g_autofree char *path = NULL;
	unsigned char *p;
	int r, len;

	r = check_role(role, FALSE, msg, size);
	if (r < 0)
		return r;
	if (!chain || sk_X509_num(chain) == 0) {
		hub_tpm2_message(msg, size, "no certificate to store");
		return -EINVAL;
	}
	path = role_path(st, role, st->nv_storage && role_has_key(role) ? "-chain.pem" : ".pem", msg, size);
	if (!path)
		return -EIO;
	if (!st->nv_storage || !role_has_key(role))
		return hub_tpm2_files_write(path, chain, 0, msg, size);

	len = i2d_X509(sk_X509_value(chain, 0), NULL);
	if (len <= 0) {
		hub_tpm2_message(msg, size, "cannot encode the certificate");
		return -EINVAL;
	}
	der = g_malloc((size_t)len);
	p = der;
	i2d_X509(sk_X509_value(chain, 0), &p);
	locker = hub_tpm2_context_lock(st->ctx);
	/* the leaf first: it is what identifies the hub */
	r = hub_tpm2_nv_write(st->ctx, st->nv_index[role - 1], der, (size_t)len, msg, size);
	if (r < 0)
		return r;
	return hub_tpm2_files_write(path, chain, 1, msg, size);
}

static int tpm2_import_key(void *user_data, uint32_t role, EVP_PKEY *key, char *msg, size_t size)
{
	int r = check_role(role, TRUE, msg, size);

	if (r < 0)
		return r;
	hub_tpm2_message(msg, size,
			 "the TPM store only holds keys generated inside the TPM; generate a key and use a CSR "
			 "(CreateCertificateFromCsr)");
	return -ENOTSUP;
}

static int tpm2_erase(void *user_data, uint32_t role, char *msg, size_t size)
{
	Tpm2Store *st = user_data;
	g_autoptr(GMutexLocker) locker = NULL;
	g_autofree char *path = NULL;
	int r;

	r = check_role(role, FALSE, msg, size);
	if (r < 0)
		return r;
	if (role == HUB_CERT_ROLE_ROOT_CA) {
		path = role_path(st, role, ".pem", msg, size);
		return path ? hub_tpm2_files_remove(path, msg, size) : -EIO;
	}
	locker = hub_tpm2_context_lock(st->ctx);
	r = hub_tpm2_object_evict(st->ctx, st->key_handle[role - 1], msg, size);
	if (r < 0)
		return r;
	return delete_certificates(st, role, msg, size);
}

static int tpm2_describe(void *user_data, uint32_t role, char *buf, size_t size)
{
	Tpm2Store *st = user_data;
	g_autofree char *path = NULL;
	char msg[256];
	int r;

	r = check_role(role, FALSE, msg, sizeof(msg));
	if (r < 0)
		return r;
	if (!role_has_key(role) || !st->nv_storage) {
		path = role_path(st, role, ".pem", msg, sizeof(msg));
		if (!path)
			return -EIO;
	}
	if (!role_has_key(role))
		hub_tpm2_message(buf, size, "certificates in %s", path);
	else if (st->nv_storage)
		hub_tpm2_message(buf, size, "TPM 2.0 (tcti %s), key at persistent handle 0x%08x, certificate in NV index 0x%08x",
				 hub_tpm2_context_get_tcti(st->ctx), st->key_handle[role - 1], st->nv_index[role - 1]);
	else
		hub_tpm2_message(buf, size, "TPM 2.0 (tcti %s), key at persistent handle 0x%08x, certificates in %s",
				 hub_tpm2_context_get_tcti(st->ctx), st->key_handle[role - 1], path);
	return 0;
}

/* ---- init / exit ---- */

static void tpm2_store_free(Tpm2Store *st)
{
	if (!st)
		return;
	hub_tpm2_context_unref(st->ctx);
	g_free(st);
}

static int tpm2_init(const struct hub_host *host, struct hub_plugin *plugin, void **user_data)
{
	Tpm2Store *st;
	int r;

	/* every host call we make must be in the table the host built */
	if (!host || !user_data || !HUB_STRUCT_HAS(host, host->struct_size, state_dir) || !host->log ||
	    !host->config_get || !host->state_dir)
		return -EPROTO;

	st = g_new0(Tpm2Store, 1);
	st->host = host;
	st->handle = plugin;
	r = parse_config(st);
	if (r == 0)
		r = hub_tpm2_key_methods_init();
	if (r < 0) {
		tpm2_store_free(st);
		return r;
	}
	if (st->nv_storage)
		tpm2_log(st, HUB_LOG_INFO,
			 "TPM through TCTI '%s' (connected on first use): keys at 0x%08x (claim) and 0x%08x (permanent), "
			 "certificates in NV indices 0x%08x and 0x%08x",
			 hub_tpm2_context_get_tcti(st->ctx), st->key_handle[0], st->key_handle[1], st->nv_index[0],
			 st->nv_index[1]);
	else
		tpm2_log(st, HUB_LOG_INFO,
			 "TPM through TCTI '%s' (connected on first use): keys at 0x%08x (claim) and 0x%08x (permanent), "
			 "certificates in the state directory",
			 hub_tpm2_context_get_tcti(st->ctx), st->key_handle[0], st->key_handle[1]);
	*user_data = st;
	return 0;
}

static void tpm2_exit(void *user_data)
{
	tpm2_store_free(user_data);
}

/* ---- descriptor ---- */

static const struct hub_certstore_ops tpm2_ops = {
	.struct_size = sizeof(struct hub_certstore_ops),
	.capabilities = tpm2_capabilities,
	.load = tpm2_load,
	.generate_key = tpm2_generate_key,
	.store_certificates = tpm2_store_certificates,
	.import_key = tpm2_import_key,
	.erase = tpm2_erase,
	.describe = tpm2_describe,
};

static const struct hub_plugin_descriptor tpm2_descriptor = {
	.abi_major = HUB_PLUGIN_ABI_MAJOR,
	.abi_minor = HUB_PLUGIN_ABI_MINOR,
	.struct_size = sizeof(struct hub_plugin_descriptor),
	.kind = HUB_PLUGIN_KIND_CERTSTORE,
	.name = "tpm2",
	.version = HUB_TPM2_VERSION,
	.init = tpm2_init,
	.exit = tpm2_exit,
	.ops = &tpm2_ops,
#ifdef HUB_IN_TREE
	.flags = HUB_PLUGIN_FLAG_IN_TREE,
#else
	.flags = 0,
#endif
};

static const struct hub_plugin_descriptor *const tpm2_descriptors[] = { &tpm2_descriptor, NULL };

HUB_PLUGIN_EXPORT const struct hub_plugin_descriptor *const *hub_plugin_query(void);

HUB_PLUGIN_EXPORT const struct hub_plugin_descriptor *const *hub_plugin_query(void)
{
	return tpm2_descriptors;
}
