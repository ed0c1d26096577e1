/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The legacy key-method API is deprecated in OpenSSL 3.0 but is exactly what
 * hardware keys on bookworm look like (libp11, the ESYS signer). */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "config.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include "hub-openssl.h"
#include "hub-test-opaque-key.h"

typedef struct {
	EVP_PKEY *hidden;
	guint signatures;
} Hidden;

static int ec_index = -1;
static int rsa_index = -1;
static EC_KEY_METHOD *ec_method;
static RSA_METHOD *rsa_method;

static void hidden_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	Hidden *hidden = ptr;

	if (hidden) {
		EVP_PKEY_free(hidden->hidden);
		g_free(hidden);
	}
}

/* Raw signature of @in with the hidden key; DER for ECDSA. */
static gboolean hidden_sign(Hidden *hidden, int rsa_padding, const unsigned char *in, size_t in_len,
			    unsigned char *out, size_t *out_len)
{
	g_autoptr(EVP_PKEY_CTX) ctx = EVP_PKEY_CTX_new_from_pkey(NULL, hidden->hidden, NULL);

	if (!ctx || EVP_PKEY_sign_init(ctx) != 1 ||
	    (rsa_padding && EVP_PKEY_CTX_set_rsa_padding(ctx, rsa_padding) != 1) ||
	    EVP_PKEY_sign(ctx, out, out_len, in, in_len) != 1)
		return FALSE;
	hidden->signatures++;
	return TRUE;
}

static int ec_sign(int type, const unsigned char *digest, int digest_len, unsigned char *sig, unsigned int *sig_len,
		   const BIGNUM *kinv, const BIGNUM *r, EC_KEY *ec)
{
	size_t len = (size_t)ECDSA_size(ec);

	if (!hidden_sign(EC_KEY_get_ex_data(ec, ec_index), 0, digest, (size_t)digest_len, sig, &len))
		return 0;
	*sig_len = (unsigned int)len;
	return 1;
}

static ECDSA_SIG *ec_sign_sig(const unsigned char *digest, int digest_len, const BIGNUM *kinv, const BIGNUM *r,
			      EC_KEY *ec)
{
	unsigned char der[256];
	const unsigned char *p = der;
	size_t len = sizeof(der);

	if (!hidden_sign(EC_KEY_get_ex_data(ec, ec_index), 0, digest, (size_t)digest_len, der, &len))
		return NULL;
	return d2i_ECDSA_SIG(NULL, &p, (long)len);
}

/* Called for PKCS#1 v1.5 (input = DigestInfo) and for PSS (input already
 * encoded, no padding): the same two cases a PKCS#11 token serves. */
static int rsa_priv_enc(int in_len, const unsigned char *in, unsigned char *out, RSA *rsa, int padding)
{
	size_t len = (size_t)RSA_size(rsa);

	if (padding != RSA_PKCS1_PADDING && padding != RSA_NO_PADDING)
		return -1;
	if (!hidden_sign(RSA_get_ex_data(rsa, rsa_index), padding, in, (size_t)in_len, out, &len))
		return -1;
	return (int)len;
}

static gpointer init_methods(gpointer data)
{
	int (*sign_setup)(EC_KEY *, BN_CTX *, BIGNUM **, BIGNUM **) = NULL;

	ec_index = CRYPTO_get_ex_new_index(CRYPTO_EX_INDEX_EC_KEY, 0, NULL, NULL, NULL, hidden_free);
	rsa_index = CRYPTO_get_ex_new_index(CRYPTO_EX_INDEX_RSA, 0, NULL, NULL, NULL, hidden_free);
	ec_method = EC_KEY_METHOD_new(EC_KEY_OpenSSL());
	EC_KEY_METHOD_get_sign(EC_KEY_OpenSSL(), NULL, &sign_setup, NULL);
	EC_KEY_METHOD_set_sign(ec_method, ec_sign, sign_setup, ec_sign_sig);
	rsa_method = RSA_meth_dup(RSA_PKCS1_OpenSSL());
	RSA_meth_set1_name(rsa_method, "hub-test-opaque");
	RSA_meth_set_flags(rsa_method, RSA_meth_get_flags(rsa_method) | RSA_FLAG_EXT_PKEY);
	RSA_meth_set_priv_enc(rsa_method, rsa_priv_enc);
	g_assert_true(ec_index >= 0 && rsa_index >= 0 && ec_method && rsa_method);
	return NULL;
}

static EVP_PKEY *opaque_ec(EVP_PKEY *software, Hidden *hidden)
{
	unsigned char point[133];
	size_t len = 0;
	EC_KEY *ec = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1);
	EVP_PKEY *key = EVP_PKEY_new();

	g_assert_true(EVP_PKEY_get_octet_string_param(software, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point), &len));
	g_assert_true(ec && key && EC_KEY_oct2key(ec, point, len, NULL));
	g_assert_true(EC_KEY_set_method(ec, ec_method));
	g_assert_true(EC_KEY_set_ex_data(ec, ec_index, hidden));
	g_assert_true(EVP_PKEY_assign_EC_KEY(key, ec));
	return key;
}

static EVP_PKEY *opaque_rsa(EVP_PKEY *software, Hidden *hidden)
{
	BIGNUM *n = NULL;
	BIGNUM *e = NULL;
	RSA *rsa = RSA_new_method(NULL);
	EVP_PKEY *key = EVP_PKEY_new();

	g_assert_true(EVP_PKEY_get_bn_param(software, OSSL_PKEY_PARAM_RSA_N, &n));
	g_assert_true(EVP_PKEY_get_bn_param(software, OSSL_PKEY_PARAM_RSA_E, &e));
	g_assert_true(rsa && key && RSA_set0_key(rsa, n, e, NULL));
	g_assert_true(RSA_set_method(rsa, rsa_method));
	g_assert_true(RSA_set_ex_data(rsa, rsa_index, hidden));
	g_assert_true(EVP_PKEY_assign_RSA(key, rsa));
	return key;
}

EVP_PKEY *hub_test_opaque_key_new(EVP_PKEY *software)
{
	static GOnce once = G_ONCE_INIT;
	Hidden *hidden = g_new0(Hidden, 1);

	g_once(&once, init_methods, NULL);
	g_assert_true(EVP_PKEY_up_ref(software));
	hidden->hidden = software;
	if (EVP_PKEY_is_a(software, "EC"))
		return opaque_ec(software, hidden);
	if (EVP_PKEY_is_a(software, "RSA"))
		return opaque_rsa(software, hidden);
	g_error("hub_test_opaque_key_new: only EC and RSA keys");
}

guint hub_test_opaque_key_signatures(EVP_PKEY *opaque)
{
	const EC_KEY *ec = EVP_PKEY_get0_EC_KEY(opaque);
	const RSA *rsa = ec ? NULL : EVP_PKEY_get0_RSA(opaque);
	Hidden *hidden = ec ? EC_KEY_get_ex_data(ec, ec_index) : rsa ? RSA_get_ex_data(rsa, rsa_index) : NULL;

	ERR_clear_error();
	g_assert_nonnull(hidden);
	return hidden->signatures;
}
