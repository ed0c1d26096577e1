/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-certstore-pkcs11.c - the "pkcs11" certificate store: descriptor,
 * configuration and the certstore operations.
 *
 * init() only reads the configuration; the token is reached on the first
 * operation, so a missing module or token makes operations fail (-ENODEV)
 * while the daemon keeps running. Each operation runs under the module lock
 * and is retried once, on a fresh session, if the session went away.
 * Writes create the new objects first (with a pending CKA_ID), then destroy
 * the ones they replace, then give the new ones their final CKA_ID (see
 * hub-pkcs11-objects.h), so a failure leaves the previous credentials.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hub-certstore-pkcs11.h"
#include "hub-pkcs11-key.h"
#include "hub-pkcs11-objects.h"

static const HubPkcs11Role roles[] = {
	{ HUB_CERT_ROLE_CLAIM, "claim", "Claim Key", "Claim Pub Key", "Claim Cert", 0x01 },
	{ HUB_CERT_ROLE_PERMANENT, "permanent", "Device Priv TLS Key", "Device Pub TLS Key", "Device Cert", 0x02 },
	{ HUB_CERT_ROLE_ROOT_CA, "root CA", NULL, NULL, "Root Cert", 0x03 },
};

#define CHAIN_MAX 255 /* the index of a certificate is one CKA_ID byte */

void hub_pkcs11_store_log(HubPkcs11Store *store, int level, const char *fmt, ...)
{
	g_autofree char *text = NULL;
	va_list ap;

	va_start(ap, fmt);
	text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	store->host->log(store->plugin, level, "%s", text);
}

int hub_pkcs11_op_fail(HubPkcs11Op *op, CK_RV rv, int err, const char *what)
{
	char rvbuf[32];

	g_snprintf(op->message, op->message_size, "%s on token '%s' failed: %s", what,
		   hub_pkcs11_module_get_token_label(op->store->module), hub_pkcs11_rv_to_string(rv, rvbuf));
	if (hub_pkcs11_module_session_lost(op->store->module, rv))
		return HUB_PKCS11_RETRY;
	if (rv == CKR_DEVICE_ERROR || rv == CKR_DEVICE_MEMORY)
		return -EIO;
	return err;
}

/* ---- plumbing ---- */

typedef int (*OpFunc)(HubPkcs11Op *op, const HubPkcs11Role *role, gpointer data);

/* @message may be NULL or short in a careless host: write somewhere anyway. */
typedef struct {
	char *message;
	size_t size;
	char fallback[256];
} Message;

static void message_init(Message *m, char *message, size_t size)
{
	if (message && size > 0) {
		m->message = message;
		m->size = size;
	} else {
		m->message = m->fallback;
		m->size = sizeof(m->fallback);
	}
	m->message[0] = '\0';
}

static int role_lookup(uint32_t role, gboolean needs_key, const HubPkcs11Role **out, Message *m)
{
	if (role == HUB_CERT_ROLE_ATTESTATION) {
		g_snprintf(m->message, m->size, "The PKCS#11 store does not serve the attestation role");
		return -ENOTSUP;
	}
	for (gsize i = 0; i < G_N_ELEMENTS(roles); i++) {
		if (roles[i].role != role)
			continue;
		if (needs_key && !roles[i].key_label) {
			g_snprintf(m->message, m->size, "The %s role holds certificates only, no key", roles[i].name);
			return -ENOTSUP;
		}
		*out = &roles[i];
		return 0;
	}
	g_snprintf(m->message, m->size, "Unknown certificate role %u", role);
	return -EINVAL;
}

static int run_op(HubPkcs11Store *store, const HubPkcs11Role *role, OpFunc func, gpointer data, Message *m)
{
	HubPkcs11Op op = { .store = store, .message = m->message, .message_size = m->size };
	int r;

	hub_pkcs11_module_lock(store->module);
	for (int attempt = 0;; attempt++) {
		r = hub_pkcs11_module_session(store->module, &op.p11, &op.session, m->message, m->size);
		if (r == 0)
			r = func(&op, role, data);
		if (r != HUB_PKCS11_RETRY)
			break;
		if (attempt > 0) {
			r = -ENODEV; /* the message says which call lost the session */
			break;
		}
		hub_pkcs11_store_log(store, HUB_LOG_WARNING, "%s; reconnecting to token '%s'", m->message,
				     hub_pkcs11_module_get_token_label(store->module));
	}
	hub_pkcs11_module_unlock(store->module);
	if (r == 0)
		m->message[0] = '\0';
	return r;
}

/* Every object of the role (any CKA_ID), in the order to destroy them:
 * private keys first, so a failure there leaves the role as it was. */
static int role_objects(HubPkcs11Op *op, const HubPkcs11Role *role, gboolean keys, GArray **out)
{
	const struct {
		CK_OBJECT_CLASS cls;
		const char *label;
	} kinds[] = {
		{ CKO_PRIVATE_KEY, keys ? role->key_label : NULL },
		{ CKO_PUBLIC_KEY, keys ? role->pub_label : NULL },
		{ CKO_CERTIFICATE, role->cert_label },
	};
	g_autoptr(GArray) all = g_array_new(FALSE, TRUE, sizeof(HubPkcs11Object));

	for (gsize i = 0; i < G_N_ELEMENTS(kinds); i++) {
		g_autoptr(GArray) found = NULL;
		int r;

		if (!kinds[i].label)
			continue;
		r = hub_pkcs11_objects_find(op, kinds[i].cls, kinds[i].label, role->id, &found);
		if (r < 0)
			return r;
		g_array_append_vals(all, found->data, found->len);
	}
	*out = g_steal_pointer(&all);
	return 0;
}

/* Destroys @old after new objects were created. A failure on the first one
 * (a private key, if any) undoes nothing yet, so the caller can roll back;
 * *@destroyed says how many went. */
static int destroy_objects(HubPkcs11Op *op, GArray *old, guint *destroyed)
{
	*destroyed = 0;
	for (guint i = 0; i < old->len; i++) {
		int r = hub_pkcs11_object_destroy(op, g_array_index(old, HubPkcs11Object, i).handle);

		if (r < 0)
			return r;
		(*destroyed)++;
	}
	return 0;
}

/* Gives pending objects their final CKA_ID. A failure is not fatal: readers
 * accept pending objects when no committed one exists. */
static void commit_ids(HubPkcs11Op *op, const CK_OBJECT_HANDLE *objects, const guint8 (*ids)[HUB_PKCS11_ID_MAX],
		       const gsize *id_lens, guint n)
{
	for (guint i = 0; i < n; i++) {
		char saved[256];

		g_strlcpy(saved, op->message, sizeof(saved));
		if (hub_pkcs11_object_set_id(op, objects[i], ids[i], id_lens[i]) < 0) {
			hub_pkcs11_store_log(op->store, HUB_LOG_WARNING, "%s; the object keeps its pending id, ignoring",
					     op->message);
			g_strlcpy(op->message, saved, op->message_size);
		}
	}
}

/* Replaces the role's objects by a new pending key pair: destroys the old
 * ones (rolling the new pair back if that fails at once) and commits. */
static int replace_key(HubPkcs11Op *op, const HubPkcs11Role *role, GArray *old, CK_OBJECT_HANDLE priv,
		       CK_OBJECT_HANDLE pub)
{
	CK_OBJECT_HANDLE objects[2] = { priv, pub };
	guint8 ids[2][HUB_PKCS11_ID_MAX];
	gsize id_lens[2];
	guint destroyed;
	int r;

	r = destroy_objects(op, old, &destroyed);
	if (r == HUB_PKCS11_RETRY)
		return r; /* the retry finds the new pair among the old objects */
	if (r < 0 && destroyed == 0) {
		hub_pkcs11_module_destroy_object(op->store->module, priv);
		hub_pkcs11_module_destroy_object(op->store->module, pub);
		return r;
	}
	id_lens[0] = id_lens[1] = hub_pkcs11_make_id(role->id, 0, FALSE, ids[0]);
	memcpy(ids[1], ids[0], id_lens[0]);
	commit_ids(op, objects, (const guint8(*)[HUB_PKCS11_ID_MAX])ids, id_lens, 2);
	if (r < 0) {
		char cause[256];

		g_strlcpy(cause, op->message, sizeof(cause));
		g_snprintf(op->message, op->message_size,
			   "The new key of the %s role is in place, but objects of the previous one remain: %s",
			   role->name, cause);
	}
	return r;
}

/* ---- load ---- */

typedef struct {
	STACK_OF(X509) **chain;
	EVP_PKEY **key;
} LoadArgs;

static int read_chain(HubPkcs11Op *op, GArray *certs, STACK_OF(X509) **out)
{
	STACK_OF(X509) *chain = sk_X509_new_null();
	int r = chain ? 0 : -ENOMEM;

	for (guint i = 0; r == 0 && i < certs->len; i++) {
		X509 *cert = NULL;

		r = hub_pkcs11_object_read_certificate(op, g_array_index(certs, HubPkcs11Object, i).handle, &cert);
		if (r == 0 && !sk_X509_push(chain, cert)) {
			X509_free(cert);
			r = -ENOMEM;
		}
	}
	if (r < 0) {
		sk_X509_pop_free(chain, X509_free);
		return r;
	}
	*out = chain;
	return 0;
}

/* The token-backed key for @priv. Its public half comes from the public
 * key object with the same CKA_ID or, failing that, the leaf certificate. */
static int read_key(HubPkcs11Op *op, const HubPkcs11Role *role, const HubPkcs11Object *priv,
		    STACK_OF(X509) *chain, EVP_PKEY **out)
{
	g_autoptr(GArray) pubs = NULL;
	EVP_PKEY *public_key = NULL;
	int r;

	r = hub_pkcs11_objects_find(op, CKO_PUBLIC_KEY, role->pub_label, role->id, &pubs);
	if (r < 0)
		return r;
	hub_pkcs11_objects_select(pubs);
	for (guint i = 0; i < pubs->len; i++) {
		const HubPkcs11Object *pub = &g_array_index(pubs, HubPkcs11Object, i);

		if (pub->id_len == priv->id_len && memcmp(pub->id, priv->id, pub->id_len) == 0) {
			r = hub_pkcs11_object_read_public_key(op, pub->handle, &public_key);
			if (r < 0)
				return r;
			break;
		}
	}
	if (!public_key && chain && sk_X509_num(chain) > 0)
		public_key = X509_get_pubkey(sk_X509_value(chain, 0));
	if (!public_key) {
		g_snprintf(op->message, op->message_size,
			   "Token '%s' holds the private key '%s' but neither its public key '%s' nor a certificate",
			   hub_pkcs11_module_get_token_label(op->store->module), role->key_label, role->pub_label);
		return -EIO;
	}
	r = hub_pkcs11_key_new(op->store->module, priv->handle, role->key_label, priv->id, priv->id_len, public_key,
			       out, op->message, op->message_size);
	EVP_PKEY_free(public_key);
	return r;
}

static int op_load(HubPkcs11Op *op, const HubPkcs11Role *role, gpointer data)
{
	LoadArgs *args = data;
	const char *token = hub_pkcs11_module_get_token_label(op->store->module);
	g_autoptr(GArray) certs = NULL;
	g_autoptr(GArray) privs = NULL;
	const HubPkcs11Object *priv = NULL;
	STACK_OF(X509) *chain = NULL;
	int r;

	r = hub_pkcs11_objects_find(op, CKO_CERTIFICATE, role->cert_label, role->id, &certs);
	if (r == 0 && role->key_label)
		r = hub_pkcs11_objects_find(op, CKO_PRIVATE_KEY, role->key_label, role->id, &privs);
	if (r < 0)
		return r;
	hub_pkcs11_objects_select(certs);
	if (privs) {
		hub_pkcs11_objects_select(privs);
		if (privs->len > 1)
			hub_pkcs11_store_log(op->store, HUB_LOG_WARNING,
					     "Token '%s' holds %u private keys labelled '%s'; using the first by CKA_ID",
					     token, privs->len, role->key_label);
		if (privs->len > 0)
			priv = &g_array_index(privs, HubPkcs11Object, 0);
	}
	if (certs->len == 0 && !priv) {
		g_snprintf(op->message, op->message_size, "Nothing is stored for the %s role on token '%s'",
			   role->name, token);
		return -ENOENT;
	}

	/* The chain is read for the key too: it may hold the public key. */
	if (certs->len > 0 && (args->chain || (args->key && priv)))
		r = read_chain(op, certs, &chain);
	if (r == 0 && args->key && priv)
		r = read_key(op, role, priv, chain, args->key);
	if (r == 0 && args->chain)
		*args->chain = g_steal_pointer(&chain);
	sk_X509_pop_free(chain, X509_free);
	return r;
}

static int pkcs11_load(void *user_data, uint32_t role, STACK_OF(X509) **chain, EVP_PKEY **key, char *message,
		       size_t message_size)
{
	HubPkcs11Store *store = user_data;
	LoadArgs args = { chain, key };
	const HubPkcs11Role *r_role;
	Message m;
	int r;

	message_init(&m, message, message_size);
	if (chain)
		*chain = NULL;
	if (key)
		*key = NULL;
	r = role_lookup(role, FALSE, &r_role, &m);
	if (r < 0)
		return r;
	if (!r_role->key_label)
		args.key = NULL; /* the root CA role has no key: *key stays NULL */
	return run_op(store, r_role, op_load, &args, &m);
}

/* ---- generate_key / import_key ---- */

typedef struct {
	uint32_t key_type;
	EVP_PKEY *key; /* import: the key to import */
} KeyArgs;

static int op_new_key(HubPkcs11Op *op, const HubPkcs11Role *role, gpointer data)
{
	KeyArgs *args = data;
	g_autoptr(GArray) old = NULL;
	CK_OBJECT_HANDLE priv, pub;
	guint8 id[HUB_PKCS11_ID_MAX];
	gsize id_len = hub_pkcs11_make_id(role->id, 0, TRUE, id);
	int r;

	/* Collected before the new pair exists, so it is never among them. */
	r = role_objects(op, role, TRUE, &old);
	if (r < 0)
		return r;
	if (args->key)
		r = hub_pkcs11_object_import_key(op, args->key, role, id, id_len, &priv, &pub);
	else
		r = hub_pkcs11_object_generate_key(op, args->key_type, role, id, id_len, &priv, &pub);
	if (r < 0)
		return r;
	return replace_key(op, role, old, priv, pub);
}

static int pkcs11_generate_key(void *user_data, uint32_t role, uint32_t key_type, char *message, size_t message_size)
{
	HubPkcs11Store *store = user_data;
	KeyArgs args = { .key_type = key_type };
	const HubPkcs11Role *r_role;
	Message m;
	int r;

	message_init(&m, message, message_size);
	r = role_lookup(role, TRUE, &r_role, &m);
	if (r < 0)
		return r;
	if (key_type != HUB_KEY_TYPE_EC_P256 && key_type != HUB_KEY_TYPE_RSA_2048) {
		g_snprintf(m.message, m.size, "The PKCS#11 store generates EC P-256 and RSA 2048 keys, not key type %u",
			   key_type);
		return -ENOTSUP;
	}
	return run_op(store, r_role, op_new_key, &args, &m);
}

static int pkcs11_import_key(void *user_data, uint32_t role, EVP_PKEY *key, char *message, size_t message_size)
{
	HubPkcs11Store *store = user_data;
	KeyArgs args = { .key = key };
	const HubPkcs11Role *r_role;
	Message m;
	int r;

	message_init(&m, message, message_size);
	r = role_lookup(role, TRUE, &r_role, &m);
	if (r < 0)
		return r;
	if (!store->allow_import) {
		g_snprintf(m.message, m.size,
			   "The PKCS#11 store is configured with allow-import=false: keys are generated on token '%s' only",
			   hub_pkcs11_module_get_token_label(store->module));
		return -ENOTSUP;
	}
	if (!key) {
		g_snprintf(m.message, m.size, "No key to import");
		return -EINVAL;
	}
	return run_op(store, r_role, op_new_key, &args, &m);
}

/* ---- store_certificates ---- */

static int op_store_certificates(HubPkcs11Op *op, const HubPkcs11Role *role, gpointer data)
{
	STACK_OF(X509) *chain = data;
	int n = sk_X509_num(chain);
	g_autofree CK_OBJECT_HANDLE *created = g_new0(CK_OBJECT_HANDLE, n);
	g_autofree guint8(*ids)[HUB_PKCS11_ID_MAX] = g_malloc0_n((gsize)n, HUB_PKCS11_ID_MAX);
	g_autofree gsize *id_lens = g_new0(gsize, n);
	g_autoptr(GArray) old = NULL;
	guint destroyed;
	int r, i;

	r = hub_pkcs11_objects_find(op, CKO_CERTIFICATE, role->cert_label, role->id, &old);
	if (r < 0)
		return r;
	for (i = 0; i < n; i++) {
		guint8 id[HUB_PKCS11_ID_MAX];
		gsize id_len = hub_pkcs11_make_id(role->id, (guint)i, TRUE, id);

		r = hub_pkcs11_object_write_certificate(op, sk_X509_value(chain, i), role->cert_label, id, id_len,
							&created[i]);
		if (r < 0)
			break;
		id_lens[i] = hub_pkcs11_make_id(role->id, (guint)i, FALSE, ids[i]);
	}
	destroyed = 0;
	if (r == 0)
		r = destroy_objects(op, old, &destroyed);
	if (r == HUB_PKCS11_RETRY)
		return r; /* the retry finds what was written among the old objects */
	if (r < 0 && destroyed == 0) {
		/* Leave the previous certificates; drop what was written. */
		while (i-- > 0)
			hub_pkcs11_module_destroy_object(op->store->module, created[i]);
		return r;
	}
	commit_ids(op, created, (const guint8(*)[HUB_PKCS11_ID_MAX])ids, id_lens, (guint)n);
	if (r < 0) {
		char cause[256];

		g_strlcpy(cause, op->message, sizeof(cause));
		g_snprintf(op->message, op->message_size,
			   "The new certificates of the %s role are in place, but some previous ones remain: %s",
			   role->name, cause);
	}
	return r;
}

static int pkcs11_store_certificates(void *user_data, uint32_t role, STACK_OF(X509) *chain, char *message,
				     size_t message_size)
{
	HubPkcs11Store *store = user_data;
	const HubPkcs11Role *r_role;
	Message m;
	int r;

	message_init(&m, message, message_size);
	r = role_lookup(role, FALSE, &r_role, &m);
	if (r < 0)
		return r;
	if (!chain || sk_X509_num(chain) <= 0 || sk_X509_num(chain) > CHAIN_MAX) {
		g_snprintf(m.message, m.size, "Between 1 and %d certificates can be stored for a role", CHAIN_MAX);
		return -EINVAL;
	}
	for (int i = 0; i < sk_X509_num(chain); i++) {
		if (!sk_X509_value(chain, i)) {
			g_snprintf(m.message, m.size, "Certificate %d of the chain is missing", i);
			return -EINVAL;
		}
	}
	return run_op(store, r_role, op_store_certificates, chain, &m);
}

/* ---- erase ---- */

static int op_erase(HubPkcs11Op *op, const HubPkcs11Role *role, gpointer data)
{
	g_autoptr(GArray) old = NULL;
	guint destroyed;
	int r;

	r = role_objects(op, role, role->key_label != NULL, &old);
	if (r == 0)
		r = destroy_objects(op, old, &destroyed);
	return r;
}

static int pkcs11_erase(void *user_data, uint32_t role, char *message, size_t message_size)
{
	HubPkcs11Store *store = user_data;
	const HubPkcs11Role *r_role;
	Message m;
	int r;

	message_init(&m, message, message_size);
	r = role_lookup(role, FALSE, &r_role, &m);
	if (r < 0)
		return r;
	return run_op(store, r_role, op_erase, NULL, &m);
}

/* ---- capabilities / describe ---- */

static uint32_t pkcs11_capabilities(void *user_data, uint32_t role)
{
	HubPkcs11Store *store = user_data;
	uint32_t caps = HUB_CERTSTORE_CAP_CERTIFICATES | HUB_CERTSTORE_CAP_GENERATE_KEY | HUB_CERTSTORE_CAP_HARDWARE |
			HUB_CERTSTORE_CAP_RSA_2048;

	switch (role) {
	case HUB_CERT_ROLE_CLAIM:
	case HUB_CERT_ROLE_PERMANENT:
		return caps | (store->allow_import ? HUB_CERTSTORE_CAP_IMPORT_KEY : 0);
	case HUB_CERT_ROLE_ROOT_CA:
		return HUB_CERTSTORE_CAP_CERTIFICATES;
	default:
		return 0;
	}
}

static int pkcs11_describe(void *user_data, uint32_t role, char *buf, size_t size)
{
	HubPkcs11Store *store = user_data;
	const HubPkcs11Role *r_role;
	Message m;
	int r;

	message_init(&m, buf, size);
	r = role_lookup(role, FALSE, &r_role, &m);
	if (r < 0)
		return r;
	if (r_role->key_label)
		g_snprintf(m.message, m.size, "PKCS#11 token '%s' (module %s), labels '%s' / '%s'",
			   hub_pkcs11_module_get_token_label(store->module), hub_pkcs11_module_get_path(store->module),
			   r_role->key_label, r_role->cert_label);
	else
		g_snprintf(m.message, m.size, "PKCS#11 token '%s' (module %s), label '%s'",
			   hub_pkcs11_module_get_token_label(store->module), hub_pkcs11_module_get_path(store->module),
			   r_role->cert_label);
	return 0;
}

/* ---- init / exit ---- */

static int parse_bool(const char *value, gboolean *out)
{
	if (!g_ascii_strcasecmp(value, "true") || !g_ascii_strcasecmp(value, "yes") || !strcmp(value, "1"))
		*out = TRUE;
	else if (!g_ascii_strcasecmp(value, "false") || !g_ascii_strcasecmp(value, "no") || !strcmp(value, "0"))
		*out = FALSE;
	else
		return -EINVAL;
	return 0;
}

static int pkcs11_init(const struct hub_host *host, struct hub_plugin *plugin, void **user_data)
{
	const char *module_path, *token_label, *pin_file, *pin_env, *allow_import;
	g_autofree char *pin_path = NULL;
	gboolean allow = TRUE;
	HubPkcs11Store *store;

	/* every host call we make must be in the table the host built */
	if (!host || !user_data || !HUB_STRUCT_HAS(host, host->struct_size, config_resolve_path) || !host->log ||
	    !host->config_get || !host->config_resolve_path)
		return -EPROTO;

	module_path = host->config_get(plugin, "module");
	token_label = host->config_get(plugin, "token-label");
	pin_file = host->config_get(plugin, "pin-file");
	pin_env = host->config_get(plugin, "pin-env");
	allow_import = host->config_get(plugin, "allow-import");
	if (!module_path || !*module_path || !token_label || !*token_label) {
		host->log(plugin, HUB_LOG_ERR, "Missing required configuration key '%s'",
			  !module_path || !*module_path ? "module" : "token-label");
		return -EINVAL;
	}
	if (allow_import && parse_bool(allow_import, &allow) < 0) {
		host->log(plugin, HUB_LOG_ERR, "Invalid value '%s' for allow-import: use true or false", allow_import);
		return -EINVAL;
	}
	if (pin_file && *pin_file) {
		char *resolved = host->config_resolve_path(plugin, pin_file);

		/* Resolved strings come from malloc(): hand them to GLib as a copy. */
		pin_path = g_strdup(resolved ? resolved : pin_file);
		free(resolved);
		if (pin_env && *pin_env)
			host->log(plugin, HUB_LOG_WARNING, "Both pin-file and pin-env are set; using pin-file");
	}

	store = g_new0(HubPkcs11Store, 1);
	store->host = host;
	store->plugin = plugin;
	store->allow_import = allow;
	store->module = hub_pkcs11_module_new(module_path, token_label,
					      hub_pkcs11_pin_new(pin_path, pin_env && *pin_env ? pin_env : NULL));
	*user_data = store;
	return 0;
}

static void pkcs11_exit(void *user_data)
{
	HubPkcs11Store *store = user_data;

	if (!store)
		return;
	/* Keys still alive keep the module (the ABI says the host frees them first). */
	hub_pkcs11_module_unref(store->module);
	g_free(store);
}

/* ---- descriptor ---- */

static const struct hub_certstore_ops pkcs11_ops = {
	.struct_size = sizeof(struct hub_certstore_ops),
	.capabilities = pkcs11_capabilities,
	.load = pkcs11_load,
	.generate_key = pkcs11_generate_key,
	.store_certificates = pkcs11_store_certificates,
	.import_key = pkcs11_import_key,
	.erase = pkcs11_erase,
	.describe = pkcs11_describe,
};

static const struct hub_plugin_descriptor pkcs11_descriptor = {
	.abi_major = HUB_PLUGIN_ABI_MAJOR,
	.abi_minor = HUB_PLUGIN_ABI_MINOR,
	.struct_size = sizeof(struct hub_plugin_descriptor),
	.kind = HUB_PLUGIN_KIND_CERTSTORE,
	.name = "pkcs11",
	.version = PKCS11_VERSION,
	.init = pkcs11_init,
	.exit = pkcs11_exit,
	.ops = &pkcs11_ops,
#ifdef HUB_IN_TREE
	.flags = HUB_PLUGIN_FLAG_IN_TREE,
#else
	.flags = 0,
#endif
};

static const struct hub_plugin_descriptor *const pkcs11_descriptors[] = { &pkcs11_descriptor, NULL };

HUB_PLUGIN_EXPORT const struct hub_plugin_descriptor *const *hub_plugin_query(void);

HUB_PLUGIN_EXPORT const struct hub_plugin_descriptor *const *hub_plugin_query(void)
{
	return pkcs11_descriptors;
}
