/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-pkcs11-key.c - EC_KEY_METHOD and RSA_METHOD that sign on the token.
 */

/* OpenSSL 3.0 deprecates EC_KEY_METHOD and RSA_METHOD, but they are the only
 * way to put a PKCS#11 key behind an EVP_PKEY on bookworm: pkcs11-provider
 * is not packaged there. This file alone uses them. */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include "config.h"

#include <errno.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include "hub-pkcs11-key.h"

#define EC_SIG_MAX (2 * 66) /* r || s for P-521, the largest named curve */

/* What each token-backed EC_KEY or RSA carries in its ex_data. The handle
 * and stamp change (under the module lock) when the object is found again. */
typedef struct {
	HubPkcs11Module *module;
	CK_OBJECT_HANDLE object;
	uint64_t stamp; /* hub_pkcs11_module_object_stamp() when @object was found */
	char *label;
	guint8 *id;
	gsize id_len;
} KeyRef;

/* Shared by every key; created with the first key and freed with the last,
 * so nothing is left behind when the plugin is unloaded. The ex_data
 * indexes have no callbacks: libcrypto would call them for every EC_KEY
 * and RSA in the process, even after this plugin is unloaded. */
static GMutex methods_lock;
static guint methods_users;
static EC_KEY_METHOD *ec_method;
static RSA_METHOD *rsa_method;
static int ec_index = -1;
static int rsa_index = -1;

static void methods_free(void)
{
	g_clear_pointer(&ec_method, EC_KEY_METHOD_free);
	g_clear_pointer(&rsa_method, RSA_meth_free);
}

static gboolean methods_acquire(void);
static void methods_release(void);

static KeyRef *key_ref_new(HubPkcs11Module *module, CK_OBJECT_HANDLE object, uint64_t stamp, const char *label,
			   const guint8 *id, gsize id_len)
{
	KeyRef *ref;

	if (!methods_acquire())
		return NULL;
	ref = g_new0(KeyRef, 1);
	ref->module = hub_pkcs11_module_ref(module);
	ref->object = object;
	ref->stamp = stamp;
	ref->label = g_strdup(label);
	ref->id = g_memdup2(id, id_len);
	ref->id_len = id_len;
	return ref;
}

static KeyRef *key_ref_copy(const KeyRef *ref)
{
	KeyRef *copy;

	hub_pkcs11_module_lock(ref->module);
	copy = key_ref_new(ref->module, ref->object, ref->stamp, ref->label, ref->id, ref->id_len);
	hub_pkcs11_module_unlock(ref->module);
	return copy;
}

static void key_ref_free(KeyRef *ref)
{
	if (!ref)
		return;
	hub_pkcs11_module_unref(ref->module);
	g_free(ref->label);
	g_free(ref->id);
	g_free(ref);
	methods_release();
}

/* Finds the private key object again by class, label and CKA_ID; it must be unique. */
static CK_RV find_again(KeyRef *ref, CK_FUNCTION_LIST_PTR p11, CK_SESSION_HANDLE session)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, ref->label, strlen(ref->label) },
		{ CKA_ID, ref->id, ref->id_len },
	};
	CK_OBJECT_HANDLE found[2];
	CK_ULONG n = 0;
	CK_RV rv, final;

	rv = p11->C_FindObjectsInit(session, tmpl, ref->id_len ? 3 : 2);
	if (rv != CKR_OK)
		return rv;
	rv = p11->C_FindObjects(session, found, G_N_ELEMENTS(found), &n);
	final = p11->C_FindObjectsFinal(session);
	if (rv == CKR_OK)
		rv = final;
	if (rv != CKR_OK)
		return rv;
	if (n != 1)
		return CKR_KEY_HANDLE_INVALID;
	ref->object = found[0];
	ref->stamp = hub_pkcs11_module_object_stamp(ref->module, found[0]);
	return CKR_OK;
}

/* Signs @in with the mechanism on the token. *@check is set when the
 * object had to be found again: the caller then verifies the signature.
 * On failure, queues an OpenSSL error saying why and returns FALSE. */
static gboolean token_sign(KeyRef *ref, CK_MECHANISM_TYPE mechanism, const unsigned char *in, size_t in_len,
			   unsigned char *out, size_t *out_len, gboolean *check)
{
	HubPkcs11Module *module = ref->module;
	const char *token = hub_pkcs11_module_get_token_label(module);
	CK_MECHANISM mech = { mechanism, NULL, 0 };
	gboolean ok = FALSE, refind = FALSE;
	char message[256];
	char rvbuf[32];

	*check = FALSE;
	hub_pkcs11_module_lock(module);
	/* At most one reconnection and one search, in either order. */
	for (int retries = 0;; retries++) {
		CK_FUNCTION_LIST_PTR p11;
		CK_SESSION_HANDLE session;
		CK_ULONG len = *out_len;
		uint64_t stamp;
		CK_RV rv;

		if (hub_pkcs11_module_session(module, &p11, &session, message, sizeof(message)) < 0) {
			ERR_raise_data(ERR_LIB_USER, ERR_R_OPERATION_FAIL, "%s", message);
			break;
		}
		stamp = hub_pkcs11_module_object_stamp(module, ref->object);
		if (stamp >> 32 != ref->stamp >> 32) {
			refind = TRUE; /* the module was initialised again: handles are void */
		} else if (stamp != ref->stamp) {
			ERR_raise_data(ERR_LIB_USER, ERR_R_OPERATION_FAIL,
				       "The private key '%s' on token '%s' was replaced or erased; load it again",
				       ref->label, token);
			break;
		}
		rv = CKR_OK;
		if (refind) {
			rv = find_again(ref, p11, session);
			refind = FALSE;
			*check = rv == CKR_OK;
		}
		if (rv == CKR_OK)
			rv = p11->C_SignInit(session, &mech, ref->object);
		if (rv == CKR_OK)
			rv = p11->C_Sign(session, (CK_BYTE_PTR)in, in_len, out, &len);
		if (rv == CKR_OK) {
			*out_len = len;
			ok = TRUE;
			break;
		}
		if (retries < 2 && hub_pkcs11_module_session_lost(module, rv))
			continue;
		if (retries < 2 && !*check && (rv == CKR_KEY_HANDLE_INVALID || rv == CKR_OBJECT_HANDLE_INVALID)) {
			refind = TRUE;
			continue;
		}
		ERR_raise_data(ERR_LIB_USER, ERR_R_OPERATION_FAIL, "Signing with '%s' on token '%s' failed: %s",
			       ref->label, token, hub_pkcs11_rv_to_string(rv, rvbuf));
		break;
	}
	hub_pkcs11_module_unlock(module);
	return ok;
}

static void raise_changed(KeyRef *ref)
{
	ERR_raise_data(ERR_LIB_USER, ERR_R_OPERATION_FAIL,
		       "The private key '%s' on token '%s' is no longer the one loaded; load it again", ref->label,
		       hub_pkcs11_module_get_token_label(ref->module));
}

/* ---- EC ---- */

static ECDSA_SIG *ec_sign_sig(const unsigned char *dgst, int dgst_len, const BIGNUM *kinv, const BIGNUM *rp,
			      EC_KEY *ec)
{
	KeyRef *ref = EC_KEY_get_ex_data(ec, ec_index);
	unsigned char sig[EC_SIG_MAX];
	size_t sig_len = sizeof(sig);
	gboolean check;
	ECDSA_SIG *ecdsa;
	BIGNUM *r, *s;

	if (!ref || dgst_len < 0 || !token_sign(ref, CKM_ECDSA, dgst, (size_t)dgst_len, sig, &sig_len, &check))
		return NULL;
	/* PKCS#11 returns r || s, each as long as the order. */
	if (sig_len == 0 || sig_len % 2) {
		ERR_raise_data(ERR_LIB_USER, ERR_R_OPERATION_FAIL, "The token returned a malformed ECDSA signature");
		return NULL;
	}
	r = BN_bin2bn(sig, (int)(sig_len / 2), NULL);
	s = BN_bin2bn(sig + sig_len / 2, (int)(sig_len / 2), NULL);
	ecdsa = ECDSA_SIG_new();
	if (!r || !s || !ecdsa || ECDSA_SIG_set0(ecdsa, r, s) != 1) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(ecdsa);
		return NULL;
	}
	if (check && ECDSA_do_verify(dgst, dgst_len, ecdsa, ec) != 1) {
		raise_changed(ref);
		ECDSA_SIG_free(ecdsa);
		return NULL;
	}
	return ecdsa;
}

static int ec_sign(int type, const unsigned char *dgst, int dgst_len, unsigned char *sig, unsigned int *sig_len,
		   const BIGNUM *kinv, const BIGNUM *r, EC_KEY *ec)
{
	ECDSA_SIG *ecdsa = ec_sign_sig(dgst, dgst_len, kinv, r, ec);
	int len;

	*sig_len = 0;
	if (!ecdsa)
		return 0;
	len = i2d_ECDSA_SIG(ecdsa, &sig);
	ECDSA_SIG_free(ecdsa);
	if (len <= 0)
		return 0;
	*sig_len = (unsigned int)len;
	return 1;
}

static void ec_finish(EC_KEY *ec)
{
	KeyRef *ref = EC_KEY_get_ex_data(ec, ec_index);

	EC_KEY_set_ex_data(ec, ec_index, NULL);
	key_ref_free(ref);
}

/* EC_KEY_copy() has already copied the pointer: give the copy its own reference. */
static int ec_copy(EC_KEY *dest, const EC_KEY *src)
{
	KeyRef *ref = EC_KEY_get_ex_data(src, ec_index);
	KeyRef *copy = ref ? key_ref_copy(ref) : NULL;

	EC_KEY_set_ex_data(dest, ec_index, copy);
	return !ref || copy;
}

/* The key lives on the token: no software private key may be attached. */
static int ec_set_private(EC_KEY *ec, const BIGNUM *priv)
{
	return 0;
}

static int ec_keygen(EC_KEY *ec)
{
	return 0;
}

static int ec_compute_key(unsigned char **psec, size_t *pseclen, const EC_POINT *pub_key, const EC_KEY *ecdh)
{
	return 0;
}

/* ---- RSA ---- */

static int rsa_priv_enc(int flen, const unsigned char *from, unsigned char *to, RSA *rsa, int padding)
{
	KeyRef *ref = RSA_get_ex_data(rsa, rsa_index);
	size_t len = (size_t)RSA_size(rsa);
	CK_MECHANISM_TYPE mech;
	gboolean check;

	switch (padding) {
	case RSA_PKCS1_PADDING:
		mech = CKM_RSA_PKCS;
		break;
	case RSA_NO_PADDING:
		/* PSS, padded by OpenSSL (TLS 1.3 CertificateVerify takes this way). */
		mech = CKM_RSA_X_509;
		break;
	default:
		ERR_raise_data(ERR_LIB_USER, ERR_R_OPERATION_FAIL, "RSA padding %d is not supported on the token",
			       padding);
		return -1;
	}
	if (!ref || flen < 0 || !token_sign(ref, mech, from, (size_t)flen, to, &len, &check))
		return -1;
	if (check) {
		g_autofree unsigned char *back = g_malloc((gsize)RSA_size(rsa));
		int n = RSA_public_decrypt((int)len, to, back, rsa, padding);

		if (n != flen || CRYPTO_memcmp(back, from, (size_t)flen) != 0) {
			raise_changed(ref);
			return -1;
		}
	}
	return (int)len;
}

static int rsa_priv_dec(int flen, const unsigned char *from, unsigned char *to, RSA *rsa, int padding)
{
	ERR_raise_data(ERR_LIB_USER, ERR_R_OPERATION_FAIL, "The token key only signs");
	return -1;
}

static int rsa_finish(RSA *rsa)
{
	int (*ossl_finish)(RSA *) = RSA_meth_get_finish(RSA_PKCS1_OpenSSL());
	KeyRef *ref = RSA_get_ex_data(rsa, rsa_index);

	RSA_set_ex_data(rsa, rsa_index, NULL);
	key_ref_free(ref);
	return ossl_finish ? ossl_finish(rsa) : 1;
}

/* ---- method tables ---- */

static gboolean methods_create(void)
{
	int (*init)(EC_KEY *) = NULL;
	void (*finish)(EC_KEY *) = NULL;
	int (*copy)(EC_KEY *, const EC_KEY *) = NULL;
	int (*set_group)(EC_KEY *, const EC_GROUP *) = NULL;
	int (*set_private)(EC_KEY *, const BIGNUM *) = NULL;
	int (*set_public)(EC_KEY *, const EC_POINT *) = NULL;

	if (ec_index < 0)
		ec_index = EC_KEY_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	if (rsa_index < 0)
		rsa_index = RSA_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	if (ec_index < 0 || rsa_index < 0)
		return FALSE;

	ec_method = EC_KEY_METHOD_new(EC_KEY_OpenSSL());
	rsa_method = RSA_meth_dup(RSA_PKCS1_OpenSSL());
	if (!ec_method || !rsa_method) {
		methods_free();
		return FALSE;
	}
	EC_KEY_METHOD_get_init(EC_KEY_OpenSSL(), &init, &finish, &copy, &set_group, &set_private, &set_public);
	EC_KEY_METHOD_set_init(ec_method, init, ec_finish, ec_copy, set_group, ec_set_private, set_public);
	EC_KEY_METHOD_set_sign(ec_method, ec_sign, NULL, ec_sign_sig);
	EC_KEY_METHOD_set_keygen(ec_method, ec_keygen);
	EC_KEY_METHOD_set_compute_key(ec_method, ec_compute_key);

	if (RSA_meth_set1_name(rsa_method, "hubd PKCS#11 RSA") != 1 ||
	    RSA_meth_set_priv_enc(rsa_method, rsa_priv_enc) != 1 ||
	    RSA_meth_set_priv_dec(rsa_method, rsa_priv_dec) != 1 ||
	    RSA_meth_set_finish(rsa_method, rsa_finish) != 1) {
		methods_free();
		return FALSE;
	}
	return TRUE;
}

static gboolean methods_acquire(void)
{
	gboolean ok = TRUE;

	g_mutex_lock(&methods_lock);
	if (methods_users == 0)
		ok = methods_create();
	if (ok)
		methods_users++;
	g_mutex_unlock(&methods_lock);
	return ok;
}

/* Called from the last finish(): EC_KEY_free() and RSA_free() no longer
 * touch the method after it. */
static void methods_release(void)
{
	g_mutex_lock(&methods_lock);
	if (--methods_users == 0)
		methods_free();
	g_mutex_unlock(&methods_lock);
}

/* ---- constructor ---- */

static EVP_PKEY *ec_key_new(KeyRef *ref, EVP_PKEY *public_key)
{
	EC_KEY *ec = EVP_PKEY_get1_EC_KEY(public_key);
	EVP_PKEY *pkey;

	if (!ec) {
		key_ref_free(ref);
		return NULL;
	}
	/* From here the key owns @ref: ec_finish() frees it. */
	EC_KEY_set_ex_data(ec, ec_index, ref);
	if (EC_KEY_set_method(ec, ec_method) != 1) {
		EC_KEY_set_ex_data(ec, ec_index, NULL);
		key_ref_free(ref);
		EC_KEY_free(ec);
		return NULL;
	}
	pkey = EVP_PKEY_new();
	if (!pkey || EVP_PKEY_assign_EC_KEY(pkey, ec) != 1) {
		EVP_PKEY_free(pkey);
		EC_KEY_free(ec);
		return NULL;
	}
	return pkey;
}

static EVP_PKEY *rsa_key_new(KeyRef *ref, EVP_PKEY *public_key)
{
	RSA *rsa = EVP_PKEY_get1_RSA(public_key);
	EVP_PKEY *pkey;

	if (!rsa) {
		key_ref_free(ref);
		return NULL;
	}
	RSA_set_ex_data(rsa, rsa_index, ref);
	if (RSA_set_method(rsa, rsa_method) != 1) {
		RSA_set_ex_data(rsa, rsa_index, NULL);
		key_ref_free(ref);
		RSA_free(rsa);
		return NULL;
	}
	RSA_set_flags(rsa, RSA_FLAG_EXT_PKEY);
	pkey = EVP_PKEY_new();
	if (!pkey || EVP_PKEY_assign_RSA(pkey, rsa) != 1) {
		EVP_PKEY_free(pkey);
		RSA_free(rsa);
		return NULL;
	}
	return pkey;
}

int hub_pkcs11_key_new(HubPkcs11Module *module, CK_OBJECT_HANDLE object, const char *label, const guint8 *id,
		       gsize id_len, EVP_PKEY *public_key, EVP_PKEY **out, char *message, size_t message_size)
{
	int type = EVP_PKEY_get_base_id(public_key);
	EVP_PKEY *pkey = NULL;
	KeyRef *ref;

	*out = NULL;
	if (type != EVP_PKEY_EC && type != EVP_PKEY_RSA) {
		g_snprintf(message, message_size, "The key on token '%s' is of an unsupported type (%s)",
			   hub_pkcs11_module_get_token_label(module), OBJ_nid2sn(type));
		return -EINVAL;
	}
	ref = key_ref_new(module, object, hub_pkcs11_module_object_stamp(module, object), label, id, id_len);
	if (ref)
		pkey = type == EVP_PKEY_EC ? ec_key_new(ref, public_key) : rsa_key_new(ref, public_key);
	if (!pkey) {
		g_snprintf(message, message_size, "Cannot build the OpenSSL key for token '%s'",
			   hub_pkcs11_module_get_token_label(module));
		return -ENOMEM;
	}
	*out = pkey;
	return 0;
}
