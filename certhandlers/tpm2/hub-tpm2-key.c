/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-tpm2-key.c - an EVP_PKEY whose private operation runs in the TPM.
 *
 * The key is a legacy EC_KEY or RSA carrying only the public half, with an
 * EC_KEY_METHOD / RSA_METHOD whose private operation calls ESYS: TPM2_Sign
 * for ECDSA, the raw TPM2_RSA_Decrypt for RSA. OpenSSL 3.0 treats such keys
 * as "foreign" and runs every signature (X509_sign, CSRs, TLS) through the
 * legacy path, so only the signature itself touches the TPM; digests,
 * padding and verification stay in software.
 *
 * Why not the tpm2-openssl provider: bookworm ships 1.1.1, which without a
 * resource manager exhausts the TPM's transient slots (it duplicates
 * contexts) and exports TPM keys to the default provider without their
 * private half (fixed in 1.2). This route works on a bare swtpm as well as on
 * /dev/tpmrm0, and needs neither tpm2-abrmd nor an openssl.cnf.
 */

/* The legacy EC_KEY_METHOD/RSA_METHOD API is deprecated in OpenSSL 3.0 but
 * is the only way to plug a custom signer in without a provider (see above).
 * Nothing else in hubd may use deprecated OpenSSL API: this file only. */
#define OPENSSL_SUPPRESS_DEPRECATED
#define _GNU_SOURCE /* dladdr() */

#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include "hub-tpm2.h"

/* What a key needs to reach its TPM object. Shared (refcounted) between an
 * EC_KEY and its copies. */
typedef struct {
	gatomicrefcount ref;
	HubTpm2Context *ctx;
	TPM2_HANDLE handle;
	TPM2B_NAME name; /* of the object we loaded: a replaced key is refused */
} KeyData;

/* Process-wide (see methods_create()): OpenSSL finds a key's data through an ex_data index. */
static int ec_index = -1;
static int rsa_index = -1;
static EC_KEY_METHOD *ec_method;
static RSA_METHOD *rsa_method;
static int (*rsa_default_finish)(RSA *rsa);

static KeyData *key_data_ref(KeyData *kd)
{
	g_atomic_ref_count_inc(&kd->ref);
	return kd;
}

static void key_data_unref(KeyData *kd)
{
	if (!kd || !g_atomic_ref_count_dec(&kd->ref))
		return;
	hub_tpm2_context_unref(kd->ctx);
	g_free(kd);
}

/* The private operation's error, for whoever reads the OpenSSL error queue. */
static void raise_error(int lib, const char *msg)
{
	ERR_raise_data(lib, ERR_R_OPERATION_FAIL, "TPM: %s", msg);
}

/* Locked. An ESYS handle for the key's persistent object, checked to still be
 * the object this EVP_PKEY was made for. Close it with hub_tpm2_context_close_tr(). */
static int key_data_open(KeyData *kd, ESYS_CONTEXT **esys, ESYS_TR *tr, char *msg, size_t size)
{
	g_autofree TPM2B_NAME *name = NULL;
	TSS2_RC rc;
	int r;

	*tr = ESYS_TR_NONE;
	r = hub_tpm2_context_connect(kd->ctx, esys, msg, size);
	if (r < 0)
		return r;
	rc = Esys_TR_FromTPMPublic(*esys, kd->handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, tr);
	if (rc != TSS2_RC_SUCCESS) {
		*tr = ESYS_TR_NONE;
		return hub_tpm2_context_fail(kd->ctx, rc, msg, size, "no key at persistent handle 0x%08x", kd->handle);
	}
	rc = Esys_TR_GetName(*esys, *tr, &name);
	if (rc != TSS2_RC_SUCCESS) {
		hub_tpm2_context_close_tr(kd->ctx, tr);
		return hub_tpm2_context_fail(kd->ctx, rc, msg, size, "cannot read the name of handle 0x%08x",
					     kd->handle);
	}
	if (name->size != kd->name.size || memcmp(name->name, kd->name.name, name->size) != 0) {
		hub_tpm2_context_close_tr(kd->ctx, tr);
		hub_tpm2_message(msg, size, "the key at persistent handle 0x%08x was replaced since it was loaded",
				 kd->handle);
		return -ESTALE;
	}
	return 0;
}

/* ---- EC ---- */

/*
 * ECDSA only ever uses the leftmost bits of a digest, as many as the group
 * order has (256 for P-256), read as a big-endian integer. So any digest can
 * be signed as an order-sized one: a longer digest (SHA-384, SHA-512 in TLS)
 * is cut to its leftmost bytes, a shorter one (SHA-1) gets leading zero bytes,
 * which leave its value unchanged. The TPM then always signs with the
 * matching hash scheme (SHA-256 for P-256, which every TPM supports) and the
 * signature verifies against the original digest. TPM2_Sign insists that the
 * digest length equals the scheme hash's, which this also satisfies.
 */
static ECDSA_SIG *ec_sign_sig(const unsigned char *dgst, int dgst_len, const BIGNUM *kinv, const BIGNUM *rp,
			      EC_KEY *eckey)
{
	KeyData *kd = EC_KEY_get_ex_data(eckey, ec_index);
	g_autofree TPMT_SIGNATURE *signature = NULL;
	TPMT_TK_HASHCHECK no_ticket = { .tag = TPM2_ST_HASHCHECK, .hierarchy = TPM2_RH_NULL };
	TPMT_SIG_SCHEME scheme = { .scheme = TPM2_ALG_ECDSA };
	TPM2B_DIGEST digest = { 0 };
	g_autoptr(GMutexLocker) locker = NULL;
	ECDSA_SIG *sig = NULL;
	BIGNUM *r = NULL, *s = NULL;
	ESYS_CONTEXT *esys;
	ESYS_TR tr = ESYS_TR_NONE;
	char msg[256];
	int order_len;
	TSS2_RC rc;

	if (!kd || dgst_len < 0) {
		raise_error(ERR_LIB_EC, "the key has no TPM object");
		return NULL;
	}
	order_len = (EC_GROUP_order_bits(EC_KEY_get0_group(eckey)) + 7) / 8;
	if (order_len == 32) {
		scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
	} else if (order_len == 48) {
		scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA384;
	} else {
		raise_error(ERR_LIB_EC, "unsupported curve");
		return NULL;
	}
	digest.size = (UINT16)order_len;
	if (dgst_len >= order_len)
		memcpy(digest.buffer, dgst, (size_t)order_len);
	else
		memcpy(digest.buffer + order_len - dgst_len, dgst, (size_t)dgst_len);

	locker = hub_tpm2_context_lock(kd->ctx);
	if (key_data_open(kd, &esys, &tr, msg, sizeof(msg)) < 0) {
		raise_error(ERR_LIB_EC, msg);
		return NULL;
	}
	rc = Esys_Sign(esys, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &digest, &scheme, &no_ticket,
		       &signature);
	hub_tpm2_context_close_tr(kd->ctx, &tr);
	if (rc != TSS2_RC_SUCCESS) {
		hub_tpm2_context_fail(kd->ctx, rc, msg, sizeof(msg), "TPM2_Sign with handle 0x%08x failed", kd->handle);
		raise_error(ERR_LIB_EC, msg);
		return NULL;
	}
	r = BN_bin2bn(signature->signature.ecdsa.signatureR.buffer, signature->signature.ecdsa.signatureR.size, NULL);
	s = BN_bin2bn(signature->signature.ecdsa.signatureS.buffer, signature->signature.ecdsa.signatureS.size, NULL);
	sig = ECDSA_SIG_new();
	if (!r || !s || !sig || !ECDSA_SIG_set0(sig, r, s)) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(sig);
		raise_error(ERR_LIB_EC, "out of memory");
		return NULL;
	}
	return sig;
}

static void ec_finish(EC_KEY *eckey)
{
	key_data_unref(EC_KEY_get_ex_data(eckey, ec_index));
	EC_KEY_set_ex_data(eckey, ec_index, NULL);
}

/* EC_KEY_copy has already copied the ex_data pointer: the copy shares it. */
static int ec_copy(EC_KEY *dest, const EC_KEY *src)
{
	KeyData *kd = EC_KEY_get_ex_data(src, ec_index);

	if (kd)
		key_data_ref(kd);
	return EC_KEY_set_ex_data(dest, ec_index, kd);
}

/* ---- RSA ---- */

/* RSA_private_encrypt: the signature primitive. OpenSSL pads PSS itself and
 * asks for RSA_NO_PADDING; PKCS#1 v1.5 arrives as RSA_PKCS1_PADDING with the
 * DigestInfo, padded here. The TPM computes m^d mod n and nothing else. */
static int rsa_priv_enc(int flen, const unsigned char *from, unsigned char *to, RSA *rsa, int padding)
{
	KeyData *kd = RSA_get_ex_data(rsa, rsa_index);
	g_autofree TPM2B_PUBLIC_KEY_RSA *result = NULL;
	TPMT_RSA_DECRYPT raw = { .scheme = TPM2_ALG_NULL };
	TPM2B_PUBLIC_KEY_RSA input = { 0 };
	TPM2B_DATA no_label = { 0 };
	g_autoptr(GMutexLocker) locker = NULL;
	int n = RSA_size(rsa);
	ESYS_CONTEXT *esys;
	ESYS_TR tr = ESYS_TR_NONE;
	char msg[256];
	TSS2_RC rc;

	if (!kd || n <= 0 || (size_t)n > sizeof(input.buffer) || flen < 0) {
		raise_error(ERR_LIB_RSA, "the key has no TPM object");
		return -1;
	}
	switch (padding) {
	case RSA_PKCS1_PADDING:
		if (!RSA_padding_add_PKCS1_type_1(input.buffer, n, from, flen))
			return -1;
		break;
	case RSA_NO_PADDING:
		if (flen != n) {
			raise_error(ERR_LIB_RSA, "input is not the size of the modulus");
			return -1;
		}
		memcpy(input.buffer, from, (size_t)n);
		break;
	default:
		raise_error(ERR_LIB_RSA, "unsupported padding");
		return -1;
	}
	input.size = (UINT16)n;

	locker = hub_tpm2_context_lock(kd->ctx);
	if (key_data_open(kd, &esys, &tr, msg, sizeof(msg)) < 0) {
		raise_error(ERR_LIB_RSA, msg);
		return -1;
	}
	rc = Esys_RSA_Decrypt(esys, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &input, &raw, &no_label,
			      &result);
	hub_tpm2_context_close_tr(kd->ctx, &tr);
	if (rc != TSS2_RC_SUCCESS) {
		hub_tpm2_context_fail(kd->ctx, rc, msg, sizeof(msg), "TPM2_RSA_Decrypt with handle 0x%08x failed",
				      kd->handle);
		raise_error(ERR_LIB_RSA, msg);
		return -1;
	}
	if (result->size > n) {
		raise_error(ERR_LIB_RSA, "the TPM returned an oversized result");
		return -1;
	}
	/* some TPMs drop leading zero bytes; a signature is always modulus-sized */
	memset(to, 0, (size_t)(n - result->size));
	memcpy(to + n - result->size, result->buffer, result->size);
	return n;
}

/* Decryption with a signing identity is not something hubd does; refuse it
 * instead of letting the software method run without a private exponent. */
static int rsa_priv_dec(int flen, const unsigned char *from, unsigned char *to, RSA *rsa, int padding)
{
	raise_error(ERR_LIB_RSA, "decryption with a TPM key is not supported");
	return -1;
}

static int rsa_finish(RSA *rsa)
{
	key_data_unref(RSA_get_ex_data(rsa, rsa_index));
	RSA_set_ex_data(rsa, rsa_index, NULL);
	return rsa_default_finish ? rsa_default_finish(rsa) : 1;
}

/* ---- methods ---- */

/*
 * A key can outlive the plugin: X509_set_pubkey() and X509_REQ_set_pubkey()
 * keep a reference to it, so a certificate or CSR the host built frees it
 * whenever it goes, perhaps after the plugin was unloaded. Its methods point
 * into this file, so the module is pinned in memory (RTLD_NODELETE) and the
 * methods and ex_data indices live as long as the process.
 */
static gpointer methods_create(gpointer data)
{
	int (*ec_sign)(int type, const unsigned char *dgst, int dlen, unsigned char *sig, unsigned int *siglen,
		       const BIGNUM *kinv, const BIGNUM *r, EC_KEY *eckey) = NULL;
	Dl_info info;

	if (!dladdr((void *)methods_create, &info) || !info.dli_fname ||
	    !dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE))
		return GINT_TO_POINTER(-ELIBACC);
	ec_index = EC_KEY_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	rsa_index = RSA_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	ec_method = EC_KEY_METHOD_new(EC_KEY_OpenSSL());
	rsa_method = RSA_meth_dup(RSA_PKCS1_OpenSSL());
	if (ec_index < 0 || rsa_index < 0 || !ec_method || !rsa_method)
		return GINT_TO_POINTER(-ENOMEM);
	/* the default sign() formats the signature and calls our sign_sig() */
	EC_KEY_METHOD_get_sign(EC_KEY_OpenSSL(), &ec_sign, NULL, NULL);
	EC_KEY_METHOD_set_sign(ec_method, ec_sign, NULL, ec_sign_sig);
	EC_KEY_METHOD_set_init(ec_method, NULL, ec_finish, ec_copy, NULL, NULL, NULL);

	rsa_default_finish = RSA_meth_get_finish(RSA_PKCS1_OpenSSL());
	RSA_meth_set1_name(rsa_method, "hubd TPM 2.0 RSA");
	RSA_meth_set_priv_enc(rsa_method, rsa_priv_enc);
	RSA_meth_set_priv_dec(rsa_method, rsa_priv_dec);
	RSA_meth_set_finish(rsa_method, rsa_finish);
	return GINT_TO_POINTER(1);
}

int hub_tpm2_key_methods_init(void)
{
	static GOnce once = G_ONCE_INIT;
	int r = GPOINTER_TO_INT(g_once(&once, methods_create, NULL));

	return r < 0 ? r : 0;
}

/* ---- keys ---- */

static int ec_key_new(const TPMT_PUBLIC *pub, KeyData *kd, EVP_PKEY **out)
{
	const TPMS_ECC_POINT *point = &pub->unique.ecc;
	g_autoptr(EVP_PKEY) pkey = NULL;
	EC_KEY *eckey = NULL;
	BIGNUM *x = NULL, *y = NULL;
	int nid, ok;

	switch (pub->parameters.eccDetail.curveID) {
	case TPM2_ECC_NIST_P256:
		nid = NID_X9_62_prime256v1;
		break;
	case TPM2_ECC_NIST_P384:
		nid = NID_secp384r1;
		break;
	default:
		return -EINVAL;
	}
	eckey = EC_KEY_new_by_curve_name(nid);
	if (!eckey || !EC_KEY_set_method(eckey, ec_method)) {
		EC_KEY_free(eckey);
		return -ENOMEM;
	}
	/* from here EC_KEY_free() releases kd through ec_finish() */
	EC_KEY_set_ex_data(eckey, ec_index, key_data_ref(kd));
	x = BN_bin2bn(point->x.buffer, point->x.size, NULL);
	y = BN_bin2bn(point->y.buffer, point->y.size, NULL);
	ok = x && y && EC_KEY_set_public_key_affine_coordinates(eckey, x, y);
	BN_free(x);
	BN_free(y);
	pkey = EVP_PKEY_new();
	if (!ok || !pkey || !EVP_PKEY_assign_EC_KEY(pkey, eckey)) {
		EC_KEY_free(eckey);
		return -EINVAL;
	}
	*out = g_steal_pointer(&pkey);
	return 0;
}

static int rsa_key_new(const TPMT_PUBLIC *pub, KeyData *kd, EVP_PKEY **out)
{
	UINT32 exponent = pub->parameters.rsaDetail.exponent ? pub->parameters.rsaDetail.exponent : 65537;
	g_autoptr(EVP_PKEY) pkey = NULL;
	BIGNUM *n = NULL, *e = NULL;
	RSA *rsa = RSA_new();

	if (!rsa || !RSA_set_method(rsa, rsa_method)) {
		RSA_free(rsa);
		return -ENOMEM;
	}
	RSA_set_ex_data(rsa, rsa_index, key_data_ref(kd));
	n = BN_bin2bn(pub->unique.rsa.buffer, pub->unique.rsa.size, NULL);
	e = BN_new();
	if (!n || !e || !BN_set_word(e, exponent) || !RSA_set0_key(rsa, n, e, NULL)) {
		BN_free(n);
		BN_free(e);
		RSA_free(rsa);
		return -ENOMEM;
	}
	pkey = EVP_PKEY_new();
	if (!pkey || !EVP_PKEY_assign_RSA(pkey, rsa)) {
		RSA_free(rsa);
		return -ENOMEM;
	}
	*out = g_steal_pointer(&pkey);
	return 0;
}

int hub_tpm2_key_new(HubTpm2Context *ctx, TPM2_HANDLE handle, EVP_PKEY **key, char *msg, size_t size)
{
	g_autofree TPM2B_PUBLIC *public = NULL;
	g_autofree TPM2B_NAME *name = NULL;
	KeyData *kd;
	ESYS_CONTEXT *esys;
	ESYS_TR tr = ESYS_TR_NONE;
	TPMA_OBJECT attributes;
	TSS2_RC rc;
	int r;

	*key = NULL;
	r = hub_tpm2_context_connect(ctx, &esys, msg, size);
	if (r < 0)
		return r;
	rc = Esys_TR_FromTPMPublic(esys, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &tr);
	if (rc == TSS2_RC_SUCCESS)
		rc = Esys_ReadPublic(esys, tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &public, &name, NULL);
	hub_tpm2_context_close_tr(ctx, &tr);
	if (rc != TSS2_RC_SUCCESS)
		return hub_tpm2_context_fail(ctx, rc, msg, size, "cannot read the key at persistent handle 0x%08x",
					     handle);

	attributes = public->publicArea.objectAttributes;
	if (!(attributes & TPMA_OBJECT_SIGN_ENCRYPT) || (attributes & TPMA_OBJECT_RESTRICTED)) {
		hub_tpm2_message(msg, size, "the object at persistent handle 0x%08x is not an unrestricted signing key",
				 handle);
		return -EINVAL;
	}
	if (public->publicArea.type == TPM2_ALG_RSA && !(attributes & TPMA_OBJECT_DECRYPT)) {
		/* TPM2_Sign would do, but PSS salt lengths then depend on the TPM */
		hub_tpm2_message(msg, size, "the RSA key at persistent handle 0x%08x lacks the decrypt attribute", handle);
		return -EINVAL;
	}

	kd = g_new0(KeyData, 1);
	g_atomic_ref_count_init(&kd->ref);
	kd->ctx = hub_tpm2_context_ref(ctx);
	kd->handle = handle;
	kd->name = *name;
	if (public->publicArea.type == TPM2_ALG_ECC)
		r = ec_key_new(&public->publicArea, kd, key);
	else if (public->publicArea.type == TPM2_ALG_RSA)
		r = rsa_key_new(&public->publicArea, kd, key);
	else
		r = -EINVAL;
	key_data_unref(kd);
	if (r < 0)
		hub_tpm2_message(msg, size, "cannot use the key at persistent handle 0x%08x: %s", handle,
				 r == -EINVAL ? "unsupported key type or curve" : g_strerror(-r));
	return r;
}
