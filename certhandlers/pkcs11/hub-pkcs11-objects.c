/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-pkcs11-objects.c - token objects of the store: find, read, write.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>

#include "hub-pkcs11-objects.h"

#define ATTRIBUTE_MAX (1024 * 1024) /* no certificate or key attribute is larger */

/* Adds one attribute to a template being built. */
#define ADD_ATTR(tmpl, n, t, v, l)                                \
	do {                                                      \
		g_assert((n) < G_N_ELEMENTS(tmpl));               \
		(tmpl)[(n)++] = (CK_ATTRIBUTE){ (t), (void *)(v), (l) }; \
	} while (0)

static CK_BBOOL ck_true = CK_TRUE;
static CK_BBOOL ck_false = CK_FALSE;

/* DER of the OID prime256v1, the CKA_EC_PARAMS of a P-256 key. */
static const guint8 p256_params[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };

gsize hub_pkcs11_make_id(guint8 role_id, guint index, gboolean pending, guint8 id[HUB_PKCS11_ID_MAX])
{
	gsize len = 0;

	if (pending)
		id[len++] = HUB_PKCS11_ID_PENDING;
	id[len++] = role_id;
	if (index > 0)
		id[len++] = (guint8)index;
	return len;
}

/* ---- finding ---- */

int hub_pkcs11_objects_find(HubPkcs11Op *op, CK_OBJECT_CLASS cls, const char *label, guint8 role_id, GArray **out)
{
	g_autoptr(GArray) objects = g_array_new(FALSE, TRUE, sizeof(HubPkcs11Object));
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, (void *)label, strlen(label) },
	};
	CK_OBJECT_HANDLE handles[16];
	CK_ULONG n = 0;
	CK_RV rv, final;

	rv = op->p11->C_FindObjectsInit(op->session, tmpl, G_N_ELEMENTS(tmpl));
	if (rv != CKR_OK)
		return hub_pkcs11_op_fail(op, rv, -EIO, "Searching objects");
	do {
		rv = op->p11->C_FindObjects(op->session, handles, G_N_ELEMENTS(handles), &n);
		for (CK_ULONG i = 0; rv == CKR_OK && i < n; i++) {
			HubPkcs11Object obj = { .handle = handles[i] };

			g_array_append_val(objects, obj);
		}
	} while (rv == CKR_OK && n > 0);
	final = op->p11->C_FindObjectsFinal(op->session);
	if (rv == CKR_OK)
		rv = final;
	if (rv != CKR_OK)
		return hub_pkcs11_op_fail(op, rv, -EIO, "Searching objects");

	for (guint i = 0; i < objects->len; i++) {
		HubPkcs11Object *obj = &g_array_index(objects, HubPkcs11Object, i);
		CK_ATTRIBUTE attr = { CKA_ID, obj->id, sizeof(obj->id) };

		rv = op->p11->C_GetAttributeValue(op->session, obj->handle, &attr, 1);
		if (rv == CKR_OK && attr.ulValueLen != CK_UNAVAILABLE_INFORMATION)
			obj->id_len = attr.ulValueLen;
		else if (rv != CKR_OK && rv != CKR_BUFFER_TOO_SMALL && rv != CKR_ATTRIBUTE_TYPE_INVALID)
			/* an id too long for us is simply not one of ours */
			return hub_pkcs11_op_fail(op, rv, -EIO, "Reading CKA_ID");
		obj->pending = obj->id_len >= 2 && obj->id[0] == HUB_PKCS11_ID_PENDING && obj->id[1] == role_id;
	}
	*out = g_steal_pointer(&objects);
	return 0;
}

static gint object_compare(gconstpointer a, gconstpointer b)
{
	const HubPkcs11Object *x = a, *y = b;

	if (x->id_len != y->id_len)
		return x->id_len < y->id_len ? -1 : 1;
	return memcmp(x->id, y->id, x->id_len);
}

void hub_pkcs11_objects_select(GArray *objects)
{
	gboolean committed = FALSE;

	for (guint i = 0; i < objects->len; i++)
		committed |= !g_array_index(objects, HubPkcs11Object, i).pending;
	for (guint i = objects->len; i-- > 0;)
		if (g_array_index(objects, HubPkcs11Object, i).pending == committed)
			g_array_remove_index(objects, i);
	g_array_sort(objects, object_compare);
}

/* ---- reading ---- */

static int get_attribute(HubPkcs11Op *op, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type, GByteArray **out,
			 const char *what)
{
	g_autoptr(GByteArray) value = NULL;
	CK_ATTRIBUTE attr = { type, NULL, 0 };
	CK_RV rv;

	rv = op->p11->C_GetAttributeValue(op->session, object, &attr, 1);
	if (rv != CKR_OK)
		return hub_pkcs11_op_fail(op, rv, -EIO, what);
	if (attr.ulValueLen == CK_UNAVAILABLE_INFORMATION || attr.ulValueLen > ATTRIBUTE_MAX) {
		g_snprintf(op->message, op->message_size, "%s on token '%s' failed: no usable value", what,
			   hub_pkcs11_module_get_token_label(op->store->module));
		return -EIO;
	}
	value = g_byte_array_sized_new((guint)attr.ulValueLen);
	g_byte_array_set_size(value, (guint)attr.ulValueLen);
	attr.pValue = value->data;
	rv = op->p11->C_GetAttributeValue(op->session, object, &attr, 1);
	if (rv != CKR_OK)
		return hub_pkcs11_op_fail(op, rv, -EIO, what);
	g_byte_array_set_size(value, (guint)attr.ulValueLen);
	*out = g_steal_pointer(&value);
	return 0;
}

int hub_pkcs11_object_read_certificate(HubPkcs11Op *op, CK_OBJECT_HANDLE object, X509 **out)
{
	g_autoptr(GByteArray) der = NULL;
	const unsigned char *p;
	X509 *cert;
	int r;

	r = get_attribute(op, object, CKA_VALUE, &der, "Reading a certificate");
	if (r < 0)
		return r;
	p = der->data;
	cert = d2i_X509(NULL, &p, der->len);
	if (!cert || p != der->data + der->len) {
		X509_free(cert);
		g_snprintf(op->message, op->message_size,
			   "A certificate object on token '%s' does not hold a valid DER X.509 certificate",
			   hub_pkcs11_module_get_token_label(op->store->module));
		return -EIO;
	}
	*out = cert;
	return 0;
}

static EVP_PKEY *pkey_from_params(const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *pkey = NULL;

	if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pkey;
}

static EVP_PKEY *ec_public_key(const GByteArray *params, const GByteArray *point)
{
	const unsigned char *p = params->data;
	ASN1_OBJECT *curve = d2i_ASN1_OBJECT(NULL, &p, params->len);
	int nid = curve ? OBJ_obj2nid(curve) : NID_undef;
	ASN1_OCTET_STRING *octets = NULL;
	const guint8 *pt = point->data;
	gsize pt_len = point->len;
	OSSL_PARAM_BLD *bld;
	EVP_PKEY *pkey = NULL;

	ASN1_OBJECT_free(curve);
	if (nid == NID_undef)
		return NULL;
	/* CKA_EC_POINT is a DER OCTET STRING; a few modules give the raw point. */
	p = point->data;
	octets = d2i_ASN1_OCTET_STRING(NULL, &p, point->len);
	if (octets && p == point->data + point->len) {
		pt = ASN1_STRING_get0_data(octets);
		pt_len = (gsize)ASN1_STRING_length(octets);
	}
	bld = OSSL_PARAM_BLD_new();
	if (bld && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, OBJ_nid2sn(nid), 0) == 1 &&
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, pt_len) == 1)
		pkey = pkey_from_params("EC", bld);
	OSSL_PARAM_BLD_free(bld);
	ASN1_OCTET_STRING_free(octets);
	return pkey;
}

static EVP_PKEY *rsa_public_key(const GByteArray *modulus, const GByteArray *exponent)
{
	BIGNUM *n = BN_bin2bn(modulus->data, (int)modulus->len, NULL);
	BIGNUM *e = BN_bin2bn(exponent->data, (int)exponent->len, NULL);
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	EVP_PKEY *pkey = NULL;

	if (n && e && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) == 1 &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) == 1)
		pkey = pkey_from_params("RSA", bld);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	return pkey;
}

int hub_pkcs11_object_read_public_key(HubPkcs11Op *op, CK_OBJECT_HANDLE object, EVP_PKEY **out)
{
	g_autoptr(GByteArray) type = NULL;
	g_autoptr(GByteArray) a = NULL;
	g_autoptr(GByteArray) b = NULL;
	CK_KEY_TYPE key_type;
	EVP_PKEY *pkey = NULL;
	int r;

	r = get_attribute(op, object, CKA_KEY_TYPE, &type, "Reading a public key");
	if (r < 0)
		return r;
	if (type->len != sizeof(key_type)) {
		g_snprintf(op->message, op->message_size, "A public key object on token '%s' has a malformed type",
			   hub_pkcs11_module_get_token_label(op->store->module));
		return -EIO;
	}
	memcpy(&key_type, type->data, sizeof(key_type));
	if (key_type == CKK_EC) {
		r = get_attribute(op, object, CKA_EC_PARAMS, &a, "Reading a public key");
		if (r == 0)
			r = get_attribute(op, object, CKA_EC_POINT, &b, "Reading a public key");
		if (r == 0)
			pkey = ec_public_key(a, b);
	} else if (key_type == CKK_RSA) {
		r = get_attribute(op, object, CKA_MODULUS, &a, "Reading a public key");
		if (r == 0)
			r = get_attribute(op, object, CKA_PUBLIC_EXPONENT, &b, "Reading a public key");
		if (r == 0)
			pkey = rsa_public_key(a, b);
	} else {
		g_snprintf(op->message, op->message_size,
			   "A public key object on token '%s' is of an unsupported key type (0x%lx)",
			   hub_pkcs11_module_get_token_label(op->store->module), (unsigned long)key_type);
		return -EINVAL;
	}
	if (r < 0)
		return r;
	if (!pkey) {
		g_snprintf(op->message, op->message_size, "A public key object on token '%s' holds no valid key",
			   hub_pkcs11_module_get_token_label(op->store->module));
		return -EIO;
	}
	*out = pkey;
	return 0;
}

/* ---- writing ---- */

int hub_pkcs11_object_write_certificate(HubPkcs11Op *op, X509 *cert, const char *label, const guint8 *id,
					gsize id_len, CK_OBJECT_HANDLE *out)
{
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_CERTIFICATE_TYPE cert_type = CKC_X_509;
	unsigned char *der = NULL, *subject = NULL, *issuer = NULL, *serial = NULL;
	int der_len, subject_len, issuer_len, serial_len;
	int r = 0;
	CK_RV rv;

	der_len = i2d_X509(cert, &der);
	subject_len = i2d_X509_NAME(X509_get_subject_name(cert), &subject);
	issuer_len = i2d_X509_NAME(X509_get_issuer_name(cert), &issuer);
	serial_len = i2d_ASN1_INTEGER(X509_get0_serialNumber(cert), &serial);
	if (der_len <= 0 || subject_len <= 0 || issuer_len <= 0 || serial_len <= 0) {
		g_snprintf(op->message, op->message_size, "A certificate to store cannot be encoded");
		r = -EINVAL;
	} else {
		CK_ATTRIBUTE tmpl[] = {
			{ CKA_CLASS, &cls, sizeof(cls) },
			{ CKA_CERTIFICATE_TYPE, &cert_type, sizeof(cert_type) },
			{ CKA_TOKEN, &ck_true, sizeof(ck_true) },
			{ CKA_PRIVATE, &ck_false, sizeof(ck_false) },
			{ CKA_LABEL, (void *)label, strlen(label) },
			{ CKA_ID, (void *)id, id_len },
			{ CKA_SUBJECT, subject, (CK_ULONG)subject_len },
			{ CKA_ISSUER, issuer, (CK_ULONG)issuer_len },
			{ CKA_SERIAL_NUMBER, serial, (CK_ULONG)serial_len },
			{ CKA_VALUE, der, (CK_ULONG)der_len },
		};

		rv = op->p11->C_CreateObject(op->session, tmpl, G_N_ELEMENTS(tmpl), out);
		if (rv != CKR_OK)
			r = hub_pkcs11_op_fail(op, rv, -EIO, "Writing a certificate");
	}
	OPENSSL_free(der);
	OPENSSL_free(subject);
	OPENSSL_free(issuer);
	OPENSSL_free(serial);
	return r;
}

int hub_pkcs11_object_generate_key(HubPkcs11Op *op, uint32_t key_type, const HubPkcs11Role *role,
				   const guint8 *id, gsize id_len, CK_OBJECT_HANDLE *priv, CK_OBJECT_HANDLE *pub)
{
	static const guint8 rsa_exponent[] = { 0x01, 0x00, 0x01 };
	CK_ULONG modulus_bits = 2048;
	CK_MECHANISM mech = { key_type == HUB_KEY_TYPE_RSA_2048 ? CKM_RSA_PKCS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN,
			      NULL, 0 };
	CK_ATTRIBUTE pub_tmpl[8], priv_tmpl[10];
	CK_ULONG n_pub = 0, n_priv = 0;
	CK_RV rv;

	ADD_ATTR(pub_tmpl, n_pub, CKA_TOKEN, &ck_true, sizeof(CK_BBOOL));
	ADD_ATTR(pub_tmpl, n_pub, CKA_PRIVATE, &ck_false, sizeof(CK_BBOOL));
	ADD_ATTR(pub_tmpl, n_pub, CKA_VERIFY, &ck_true, sizeof(CK_BBOOL));
	ADD_ATTR(pub_tmpl, n_pub, CKA_ENCRYPT, &ck_false, sizeof(CK_BBOOL));
	ADD_ATTR(pub_tmpl, n_pub, CKA_LABEL, role->pub_label, strlen(role->pub_label));
	ADD_ATTR(pub_tmpl, n_pub, CKA_ID, id, id_len);
	if (key_type == HUB_KEY_TYPE_RSA_2048) {
		ADD_ATTR(pub_tmpl, n_pub, CKA_MODULUS_BITS, &modulus_bits, sizeof(modulus_bits));
		ADD_ATTR(pub_tmpl, n_pub, CKA_PUBLIC_EXPONENT, rsa_exponent, sizeof(rsa_exponent));
	} else {
		ADD_ATTR(pub_tmpl, n_pub, CKA_EC_PARAMS, p256_params, sizeof(p256_params));
	}

	ADD_ATTR(priv_tmpl, n_priv, CKA_TOKEN, &ck_true, sizeof(CK_BBOOL));
	ADD_ATTR(priv_tmpl, n_priv, CKA_PRIVATE, &ck_true, sizeof(CK_BBOOL));
	ADD_ATTR(priv_tmpl, n_priv, CKA_SENSITIVE, &ck_true, sizeof(CK_BBOOL));
	ADD_ATTR(priv_tmpl, n_priv, CKA_EXTRACTABLE, &ck_false, sizeof(CK_BBOOL));
	ADD_ATTR(priv_tmpl, n_priv, CKA_SIGN, &ck_true, sizeof(CK_BBOOL));
	ADD_ATTR(priv_tmpl, n_priv, CKA_DECRYPT, &ck_false, sizeof(CK_BBOOL));
	ADD_ATTR(priv_tmpl, n_priv, CKA_UNWRAP, &ck_false, sizeof(CK_BBOOL));
	ADD_ATTR(priv_tmpl, n_priv, CKA_DERIVE, &ck_false, sizeof(CK_BBOOL));
	ADD_ATTR(priv_tmpl, n_priv, CKA_LABEL, role->key_label, strlen(role->key_label));
	ADD_ATTR(priv_tmpl, n_priv, CKA_ID, id, id_len);

	rv = op->p11->C_GenerateKeyPair(op->session, &mech, pub_tmpl, n_pub, priv_tmpl, n_priv, pub, priv);
	if (rv == CKR_MECHANISM_INVALID) {
		g_snprintf(op->message, op->message_size, "Token '%s' cannot generate %s keys",
			   hub_pkcs11_module_get_token_label(op->store->module),
			   key_type == HUB_KEY_TYPE_RSA_2048 ? "RSA 2048" : "EC P-256");
		return -ENOTSUP;
	}
	if (rv != CKR_OK)
		return hub_pkcs11_op_fail(op, rv, -EIO, "Generating a key pair");
	return 0;
}

/* ---- import ---- */

/* A private value copied out of an EVP_PKEY; wiped by secrets_clear(). */
typedef struct {
	guint8 *data;
	gsize len;
} Secret;

static void secrets_clear(Secret *secrets, gsize n)
{
	for (gsize i = 0; i < n; i++) {
		if (secrets[i].data)
			OPENSSL_cleanse(secrets[i].data, secrets[i].len);
		g_free(secrets[i].data);
		secrets[i].data = NULL;
	}
}

/* @pad: fixed length (big-endian, left-padded), or 0 for the minimal length. */
static gboolean bn_param(EVP_PKEY *key, const char *name, gsize pad, Secret *out)
{
	BIGNUM *bn = NULL;
	gsize len;
	gboolean ok;

	if (EVP_PKEY_get_bn_param(key, name, &bn) != 1)
		return FALSE;
	len = pad ? pad : (gsize)BN_num_bytes(bn);
	if (len == 0)
		len = 1;
	out->data = g_malloc0(len);
	out->len = len;
	ok = BN_bn2binpad(bn, out->data, (int)len) == (int)len;
	BN_clear_free(bn);
	return ok;
}

static gboolean is_p256(EVP_PKEY *key)
{
	char group[64];

	if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL) != 1)
		return FALSE;
	return OBJ_sn2nid(group) == NID_X9_62_prime256v1 || EC_curve_nist2nid(group) == NID_X9_62_prime256v1;
}

int hub_pkcs11_object_import_key(HubPkcs11Op *op, EVP_PKEY *key, const HubPkcs11Role *role, const guint8 *id,
				 gsize id_len, CK_OBJECT_HANDLE *priv, CK_OBJECT_HANDLE *pub)
{
	static const char *const rsa_names[] = {
		OSSL_PKEY_PARAM_RSA_N,         OSSL_PKEY_PARAM_RSA_E,         OSSL_PKEY_PARAM_RSA_D,
		OSSL_PKEY_PARAM_RSA_FACTOR1,   OSSL_PKEY_PARAM_RSA_FACTOR2,   OSSL_PKEY_PARAM_RSA_EXPONENT1,
		OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
	};
	static const CK_ATTRIBUTE_TYPE rsa_attrs[] = {
		CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_PRIVATE_EXPONENT, CKA_PRIME_1,
		CKA_PRIME_2, CKA_EXPONENT_1,      CKA_EXPONENT_2,       CKA_COEFFICIENT,
	};
	const char *token = hub_pkcs11_module_get_token_label(op->store->module);
	int type = EVP_PKEY_get_base_id(key);
	CK_OBJECT_CLASS priv_cls = CKO_PRIVATE_KEY, pub_cls = CKO_PUBLIC_KEY;
	CK_KEY_TYPE ck_type = type == EVP_PKEY_EC ? CKK_EC : CKK_RSA;
	CK_ATTRIBUTE priv_tmpl[24], pub_tmpl[12];
	CK_ULONG n_priv = 0, n_pub = 0;
	Secret s[G_N_ELEMENTS(rsa_names)] = { { 0 } };
	guint8 point[2 + 65]; /* DER OCTET STRING of the uncompressed P-256 point */
	int r = 0;
	CK_RV rv;

	if (type == EVP_PKEY_EC && !is_p256(key)) {
		g_snprintf(op->message, op->message_size, "Only EC P-256 and RSA keys can be imported");
		return -ENOTSUP;
	}
	if (type == EVP_PKEY_RSA && (EVP_PKEY_get_bits(key) < 2048 || EVP_PKEY_get_bits(key) > 4096)) {
		g_snprintf(op->message, op->message_size, "Only RSA keys of 2048 to 4096 bits can be imported, not %d",
			   EVP_PKEY_get_bits(key));
		return -ENOTSUP;
	}
	if (type != EVP_PKEY_EC && type != EVP_PKEY_RSA) {
		g_snprintf(op->message, op->message_size, "Only EC P-256 and RSA keys can be imported, not %s",
			   OBJ_nid2sn(type));
		return -ENOTSUP;
	}

	ADD_ATTR(priv_tmpl, n_priv, CKA_CLASS, &priv_cls, sizeof(priv_cls));
	ADD_ATTR(priv_tmpl, n_priv, CKA_KEY_TYPE, &ck_type, sizeof(ck_type));
	ADD_ATTR(priv_tmpl, n_priv, CKA_TOKEN, &ck_true, sizeof(CK_BBOOL));
	ADD_ATTR(priv_tmpl, n_priv, CKA_PRIVATE, &ck_true, sizeof(CK_BBOOL));
	ADD_ATTR(priv_tmpl, n_priv, CKA_SENSITIVE, &ck_true, sizeof(CK_BBOOL));
	ADD_ATTR(priv_tmpl, n_priv, CKA_EXTRACTABLE, &ck_false, sizeof(CK_BBOOL));
	ADD_ATTR(priv_tmpl, n_priv, CKA_SIGN, &ck_true, sizeof(CK_BBOOL));
	ADD_ATTR(priv_tmpl, n_priv, CKA_DECRYPT, &ck_false, sizeof(CK_BBOOL));
	ADD_ATTR(priv_tmpl, n_priv, CKA_UNWRAP, &ck_false, sizeof(CK_BBOOL));
	ADD_ATTR(priv_tmpl, n_priv, CKA_DERIVE, &ck_false, sizeof(CK_BBOOL));
	ADD_ATTR(priv_tmpl, n_priv, CKA_LABEL, role->key_label, strlen(role->key_label));
	ADD_ATTR(priv_tmpl, n_priv, CKA_ID, id, id_len);

	ADD_ATTR(pub_tmpl, n_pub, CKA_CLASS, &pub_cls, sizeof(pub_cls));
	ADD_ATTR(pub_tmpl, n_pub, CKA_KEY_TYPE, &ck_type, sizeof(ck_type));
	ADD_ATTR(pub_tmpl, n_pub, CKA_TOKEN, &ck_true, sizeof(CK_BBOOL));
	ADD_ATTR(pub_tmpl, n_pub, CKA_PRIVATE, &ck_false, sizeof(CK_BBOOL));
	ADD_ATTR(pub_tmpl, n_pub, CKA_VERIFY, &ck_true, sizeof(CK_BBOOL));
	ADD_ATTR(pub_tmpl, n_pub, CKA_ENCRYPT, &ck_false, sizeof(CK_BBOOL));
	ADD_ATTR(pub_tmpl, n_pub, CKA_LABEL, role->pub_label, strlen(role->pub_label));
	ADD_ATTR(pub_tmpl, n_pub, CKA_ID, id, id_len);

	if (type == EVP_PKEY_EC) {
		/* s[0]: the private scalar, s[1], s[2]: the public coordinates */
		if (!bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, 32, &s[0]) ||
		    !bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, 32, &s[1]) ||
		    !bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, 32, &s[2]))
			r = -EINVAL;
		if (r == 0) {
			point[0] = 0x04; /* OCTET STRING */
			point[1] = 65;
			point[2] = 0x04; /* uncompressed point */
			memcpy(point + 3, s[1].data, 32);
			memcpy(point + 35, s[2].data, 32);
			ADD_ATTR(priv_tmpl, n_priv, CKA_EC_PARAMS, p256_params, sizeof(p256_params));
			ADD_ATTR(priv_tmpl, n_priv, CKA_VALUE, s[0].data, s[0].len);
			ADD_ATTR(pub_tmpl, n_pub, CKA_EC_PARAMS, p256_params, sizeof(p256_params));
			ADD_ATTR(pub_tmpl, n_pub, CKA_EC_POINT, point, sizeof(point));
		}
	} else {
		for (gsize i = 0; r == 0 && i < G_N_ELEMENTS(rsa_names); i++) {
			if (!bn_param(key, rsa_names[i], 0, &s[i]))
				r = -EINVAL;
			else
				ADD_ATTR(priv_tmpl, n_priv, rsa_attrs[i], s[i].data, s[i].len);
		}
		if (r == 0) {
			ADD_ATTR(pub_tmpl, n_pub, CKA_MODULUS, s[0].data, s[0].len);
			ADD_ATTR(pub_tmpl, n_pub, CKA_PUBLIC_EXPONENT, s[1].data, s[1].len);
		}
	}
	if (r < 0) {
		secrets_clear(s, G_N_ELEMENTS(s));
		g_snprintf(op->message, op->message_size,
			   "The key to import has no private part that can be read (is it a hardware key?)");
		return r;
	}

	rv = op->p11->C_CreateObject(op->session, priv_tmpl, n_priv, priv);
	secrets_clear(s + (type == EVP_PKEY_EC ? 0 : 2), type == EVP_PKEY_EC ? 1 : G_N_ELEMENTS(s) - 2);
	if (rv != CKR_OK) {
		secrets_clear(s, G_N_ELEMENTS(s));
		return hub_pkcs11_op_fail(op, rv, -EIO, "Importing a private key");
	}
	rv = op->p11->C_CreateObject(op->session, pub_tmpl, n_pub, pub);
	secrets_clear(s, G_N_ELEMENTS(s));
	if (rv != CKR_OK) {
		r = hub_pkcs11_op_fail(op, rv, -EIO, "Importing a public key");
		if (r != HUB_PKCS11_RETRY && hub_pkcs11_module_destroy_object(op->store->module, *priv) != CKR_OK)
			hub_pkcs11_store_log(op->store, HUB_LOG_WARNING,
					     "Cannot remove the half-imported key '%s' from token '%s', ignoring",
					     role->key_label, token);
		return r;
	}
	return 0;
}

int hub_pkcs11_object_set_id(HubPkcs11Op *op, CK_OBJECT_HANDLE object, const guint8 *id, gsize id_len)
{
	CK_ATTRIBUTE attr = { CKA_ID, (void *)id, id_len };
	CK_RV rv = op->p11->C_SetAttributeValue(op->session, object, &attr, 1);

	return rv == CKR_OK ? 0 : hub_pkcs11_op_fail(op, rv, -EIO, "Setting CKA_ID");
}

int hub_pkcs11_object_destroy(HubPkcs11Op *op, CK_OBJECT_HANDLE object)
{
	CK_RV rv = hub_pkcs11_module_destroy_object(op->store->module, object);

	return rv == CKR_OK ? 0 : hub_pkcs11_op_fail(op, rv, -EIO, "Destroying an object");
}
