/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-certstore-tpm2.c - the built "tpm2" certificate store, loaded through
 * the real plugin loader, against a private swtpm: keys that sign in the TPM
 * and cannot leave it, certificates that survive a TPM and daemon restart
 * (file and NV storage), erase, an unreachable TPM, and bad configuration.
 *
 * hub-test-certstore.h plays the host. The test talks to the same swtpm
 * through its own ESYS connection to check what the plugin left in the TPM
 * (attributes, handles, NV indices).
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include <hubd/hub-certstore.h>

#include "hub-test-certstore.h"
#include "hub-test-swtpm.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_PKEY, EVP_PKEY_free)

#define CLAIM_HANDLE     0x81000100u
#define PERMANENT_HANDLE 0x81000101u
#define CLAIM_NV         0x01500100u
/* tss2's TPM2_TRANSIENT_FIRST shifts a promoted int into the sign bit (UBSan). */
#define TRANSIENT_FIRST 0x80000000u
#define TRANSIENT_LAST  0x80fffffeu
#define PERMANENT_NV     0x01500101u

typedef struct {
	HubTestCertstore *cs; /* the plugin, its host, [plugin.tpm2], log and temp dir */
	HubTestSwtpm *tpm;    /* NULL without swtpm */
} Fixture;

/* ---- fixture ---- */

static void fixture_set_up(Fixture *fx, gconstpointer data)
{
	g_autofree char *tpm_dir = NULL;

	fx->cs = hub_test_certstore_new("certhandlers/tpm2/.libs/certstore-tpm2.so", "tpm2");
	if (!hub_test_swtpm_available())
		return;
	tpm_dir = g_build_filename(fx->cs->tmpdir, "tpm", NULL);
	fx->tpm = hub_test_swtpm_new(tpm_dir);
	hub_test_certstore_set_config(fx->cs, "tcti", hub_test_swtpm_get_tcti(fx->tpm));
}

static void fixture_tear_down(Fixture *fx, gconstpointer data)
{
	hub_test_certstore_unload(fx->cs); /* exit() while the TPM is still there */
	g_clear_pointer(&fx->tpm, hub_test_swtpm_free);
	hub_test_certstore_free(fx->cs);
}

static gboolean skip_without_swtpm(Fixture *fx)
{
	if (fx->tpm)
		return FALSE;
	/* A missing simulator must not pass silently: .ci/install-deps installs it. */
	g_test_fail_printf("swtpm is not installed (run .ci/install-deps)");
	return TRUE;
}

#define assert_op(fx, expr, expected) hub_test_certstore_assert_op((fx)->cs, expr, expected)

static EVP_PKEY *load_key(Fixture *fx, uint32_t role)
{
	EVP_PKEY *key = NULL;

	assert_op(fx, hub_test_certstore_load_role(fx->cs, role, NULL, &key), 0);
	g_assert_nonnull(key);
	return key;
}

/* ---- a second look into the TPM ---- */

typedef struct {
	TSS2_TCTI_CONTEXT *tcti;
	ESYS_CONTEXT *esys;
} TestEsys;

static void test_esys_close(TestEsys *t)
{
	if (t->esys)
		Esys_Finalize(&t->esys);
	if (t->tcti)
		Tss2_TctiLdr_Finalize(&t->tcti);
	g_free(t);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TestEsys, test_esys_close)

static TestEsys *test_esys_open(Fixture *fx)
{
	TestEsys *t = g_new0(TestEsys, 1);

	g_assert_cmphex(Tss2_TctiLdr_Initialize(hub_test_swtpm_get_tcti(fx->tpm), &t->tcti), ==, TSS2_RC_SUCCESS);
	g_assert_cmphex(Esys_Initialize(&t->esys, t->tcti, NULL), ==, TSS2_RC_SUCCESS);
	return t;
}

static guint32 tpm_count_handles(Fixture *fx, TPM2_HANDLE first, TPM2_HANDLE last)
{
	g_autoptr(TestEsys) t = test_esys_open(fx);
	g_autofree TPMS_CAPABILITY_DATA *data = NULL;
	TPMI_YES_NO more;
	guint32 n = 0;

	g_assert_cmphex(Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES, first,
					   TPM2_MAX_CAP_HANDLES, &more, &data),
			==, TSS2_RC_SUCCESS);
	for (guint32 i = 0; i < data->data.handles.count; i++)
		if (data->data.handles.handle[i] <= last)
			n++;
	return n;
}

/* swtpm has three transient slots and no resource manager: leaks show at once. */
static void assert_no_transient_objects(Fixture *fx)
{
	g_assert_cmpuint(tpm_count_handles(fx, TRANSIENT_FIRST, TRANSIENT_LAST), ==, 0);
}

static gboolean tpm_has_handle(Fixture *fx, TPM2_HANDLE handle)
{
	return tpm_count_handles(fx, handle, handle) == 1;
}

static TPM2B_PUBLIC *tpm_read_public(Fixture *fx, TPM2_HANDLE handle)
{
	g_autoptr(TestEsys) t = test_esys_open(fx);
	TPM2B_PUBLIC *public = NULL;
	ESYS_TR tr = ESYS_TR_NONE;

	g_assert_cmphex(Esys_TR_FromTPMPublic(t->esys, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &tr), ==,
			TSS2_RC_SUCCESS);
	g_assert_cmphex(Esys_ReadPublic(t->esys, tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &public, NULL, NULL),
			==, TSS2_RC_SUCCESS);
	Esys_TR_Close(t->esys, &tr);
	return public;
}

static guint32 tpm_property(Fixture *fx, TPM2_PT property)
{
	g_autoptr(TestEsys) t = test_esys_open(fx);
	g_autofree TPMS_CAPABILITY_DATA *data = NULL;
	TPMI_YES_NO more;

	g_assert_cmphex(Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_TPM_PROPERTIES,
					   property, 1, &more, &data),
			==, TSS2_RC_SUCCESS);
	g_assert_cmpuint(data->data.tpmProperties.count, ==, 1);
	g_assert_cmphex(data->data.tpmProperties.tpmProperty[0].property, ==, property);
	return data->data.tpmProperties.tpmProperty[0].value;
}

/* TPM2_Duplicate of @handle to no new parent, authorized by the only kind of
 * session the command accepts (a policy session for TPM2_CC_Duplicate).
 * Returns the TPM's answer. */
static TSS2_RC tpm_try_duplicate(Fixture *fx, TPM2_HANDLE handle)
{
	g_autoptr(TestEsys) t = test_esys_open(fx);
	TPMT_SYM_DEF no_symmetric = { .algorithm = TPM2_ALG_NULL };
	TPMT_SYM_DEF_OBJECT no_wrap = { .algorithm = TPM2_ALG_NULL };
	TPM2B_DATA no_key = { 0 };
	TPM2B_DATA *key_out = NULL;
	TPM2B_PRIVATE *duplicate = NULL;
	TPM2B_ENCRYPTED_SECRET *seed = NULL;
	ESYS_TR session = ESYS_TR_NONE, object = ESYS_TR_NONE;
	TSS2_RC rc;

	g_assert_cmphex(Esys_TR_FromTPMPublic(t->esys, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &object), ==,
			TSS2_RC_SUCCESS);
	g_assert_cmphex(Esys_StartAuthSession(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
					      ESYS_TR_NONE, NULL, TPM2_SE_POLICY, &no_symmetric, TPM2_ALG_SHA256,
					      &session),
			==, TSS2_RC_SUCCESS);
	g_assert_cmphex(Esys_PolicyCommandCode(t->esys, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
					       TPM2_CC_Duplicate),
			==, TSS2_RC_SUCCESS);
	rc = Esys_Duplicate(t->esys, object, ESYS_TR_RH_NULL, session, ESYS_TR_NONE, ESYS_TR_NONE, &no_key, &no_wrap,
			    &key_out, &duplicate, &seed);
	g_free(key_out);
	g_free(duplicate);
	g_free(seed);
	Esys_FlushContext(t->esys, session);
	Esys_TR_Close(t->esys, &object);
	return rc;
}

/* ---- OpenSSL helpers ---- */

static void configure_pss(EVP_PKEY_CTX *pctx, int saltlen)
{
	g_assert_cmpint(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), ==, 1);
	g_assert_cmpint(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, saltlen), ==, 1);
}

static int print_openssl_error(const char *text, size_t len, void *user_data)
{
	g_test_message("OpenSSL: %.*s", (int)len, text);
	return 1;
}

/* Signs @data with @key; FALSE (error queue cleared) when signing fails. */
static gboolean try_sign(EVP_PKEY *key, const EVP_MD *md, gboolean pss, const char *data, unsigned char **sig,
			 size_t *sig_len)
{
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	gboolean ok;

	*sig = NULL;
	*sig_len = 0;
	ok = EVP_DigestSignInit(mctx, &pctx, md, NULL, key) == 1;
	if (ok && pss)
		configure_pss(pctx, RSA_PSS_SALTLEN_DIGEST);
	ok = ok && EVP_DigestSign(mctx, NULL, sig_len, (const unsigned char *)data, strlen(data)) == 1;
	if (ok) {
		*sig = g_malloc(*sig_len);
		ok = EVP_DigestSign(mctx, *sig, sig_len, (const unsigned char *)data, strlen(data)) == 1;
	}
	EVP_MD_CTX_free(mctx);
	if (!ok) {
		g_clear_pointer(sig, g_free);
		ERR_print_errors_cb(print_openssl_error, NULL);
	}
	return ok;
}

static gboolean verify(EVP_PKEY *key, const EVP_MD *md, gboolean pss, const char *data, const unsigned char *sig,
		       size_t sig_len)
{
	g_autoptr(EVP_PKEY) pub = hub_test_certstore_public_copy(key);
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	int ok;

	g_assert_cmpint(EVP_DigestVerifyInit(mctx, &pctx, md, NULL, pub), ==, 1);
	if (pss)
		configure_pss(pctx, RSA_PSS_SALTLEN_AUTO);
	ok = EVP_DigestVerify(mctx, sig, sig_len, (const unsigned char *)data, strlen(data));
	EVP_MD_CTX_free(mctx);
	ERR_clear_error();
	return ok == 1;
}

static void assert_signs(EVP_PKEY *key, const EVP_MD *md, gboolean pss, const char *data)
{
	g_autofree unsigned char *sig = NULL;
	size_t sig_len;

	if (!try_sign(key, md, pss, data, &sig, &sig_len))
		g_error("signing with %s%s failed", EVP_MD_get0_name(md), pss ? "/PSS" : "");
	if (!verify(key, md, pss, data, sig, sig_len))
		g_error("the %s%s signature does not verify", EVP_MD_get0_name(md), pss ? "/PSS" : "");
}

/* A self-signed certificate of @key, signed in the TPM when @key is a TPM
 * key; @padding bytes of comment make it larger. */
static X509 *make_certificate(EVP_PKEY *key, const char *cn, gsize padding)
{
	X509 *cert = X509_new();
	X509_NAME *name = X509_NAME_new();

	g_assert_cmpint(X509_set_version(cert, X509_VERSION_3), ==, 1);
	g_assert_cmpint(ASN1_INTEGER_set(X509_get_serialNumber(cert), g_random_int_range(1, G_MAXINT32)), ==, 1);
	g_assert_cmpint(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0), ==,
			1);
	g_assert_cmpint(X509_set_subject_name(cert, name), ==, 1);
	g_assert_cmpint(X509_set_issuer_name(cert, name), ==, 1);
	g_assert_nonnull(X509_gmtime_adj(X509_getm_notBefore(cert), 0));
	g_assert_nonnull(X509_gmtime_adj(X509_getm_notAfter(cert), 3600));
	g_assert_cmpint(X509_set_pubkey(cert, key), ==, 1);
	if (padding > 0) {
		g_autofree char *comment = g_strnfill(padding, 'x');
		X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_netscape_comment, comment);

		g_assert_nonnull(ext);
		g_assert_cmpint(X509_add_ext(cert, ext, -1), ==, 1);
		X509_EXTENSION_free(ext);
	}
	if (X509_sign(cert, key, EVP_sha256()) <= 0) {
		ERR_print_errors_fp(stderr);
		g_error("X509_sign failed");
	}
	X509_NAME_free(name);
	return cert;
}

static X509 *make_software_certificate(const char *cn)
{
	g_autoptr(EVP_PKEY) key = EVP_EC_gen("P-256");

	g_assert_nonnull(key);
	return make_certificate(key, cn, 0);
}

static int cert_der_len(X509 *cert)
{
	return i2d_X509(cert, NULL);
}

static STACK_OF(X509) *chain_of(X509 *leaf, X509 *intermediate)
{
	STACK_OF(X509) *chain = sk_X509_new_null();

	sk_X509_push(chain, leaf);
	if (intermediate)
		sk_X509_push(chain, intermediate);
	return chain;
}

static void chain_free(STACK_OF(X509) *chain)
{
	sk_X509_pop_free(chain, X509_free);
}

static void assert_same_certificate(X509 *a, X509 *b)
{
	g_assert_nonnull(a);
	g_assert_nonnull(b);
	g_assert_cmpint(X509_cmp(a, b), ==, 0);
}

/* ---- tests ---- */

static void test_capabilities(Fixture *fx, gconstpointer data)
{
	const uint32_t key_caps = HUB_CERTSTORE_CAP_CERTIFICATES | HUB_CERTSTORE_CAP_GENERATE_KEY |
				  HUB_CERTSTORE_CAP_HARDWARE | HUB_CERTSTORE_CAP_RSA_2048;
	char buf[256];

	if (skip_without_swtpm(fx))
		return;
	hub_test_certstore_set_config(fx->cs, "certificate-storage", "nv");
	hub_test_certstore_assert_load(fx->cs);
	/* from the configuration alone: no TPM needed */
	hub_test_swtpm_stop(fx->tpm);
	g_assert_cmphex(hub_test_certstore_capabilities(fx->cs, HUB_CERT_ROLE_CLAIM), ==, key_caps);
	g_assert_cmphex(hub_test_certstore_capabilities(fx->cs, HUB_CERT_ROLE_PERMANENT), ==, key_caps);
	g_assert_cmphex(hub_test_certstore_capabilities(fx->cs, HUB_CERT_ROLE_ROOT_CA), ==, HUB_CERTSTORE_CAP_CERTIFICATES);
	g_assert_cmphex(hub_test_certstore_capabilities(fx->cs, HUB_CERT_ROLE_ATTESTATION), ==, 0);
	g_assert_cmphex(hub_test_certstore_capabilities(fx->cs, 77), ==, 0);
	for (uint32_t role = 0; role < 8; role++)
		g_assert_false(hub_test_certstore_capabilities(fx->cs, role) & HUB_CERTSTORE_CAP_IMPORT_KEY);

	g_assert_cmpint(hub_test_certstore_describe(fx->cs, HUB_CERT_ROLE_PERMANENT, buf, sizeof(buf)), ==, 0);
	g_test_message("permanent: %s", buf);
	g_assert_true(g_str_has_prefix(buf, "TPM 2.0 (tcti swtpm:host=127.0.0.1,port="));
	g_assert_nonnull(strstr(buf, "key at persistent handle 0x81000101, certificate in NV index 0x01500101"));
	g_assert_cmpint(hub_test_certstore_describe(fx->cs, HUB_CERT_ROLE_CLAIM, buf, sizeof(buf)), ==, 0);
	g_assert_nonnull(strstr(buf, "key at persistent handle 0x81000100, certificate in NV index 0x01500100"));
	g_assert_cmpint(hub_test_certstore_describe(fx->cs, HUB_CERT_ROLE_ROOT_CA, buf, sizeof(buf)), ==, 0);
	g_assert_true(g_str_has_suffix(buf, "/state/root-ca.pem"));
	g_assert_cmpint(hub_test_certstore_describe(fx->cs, HUB_CERT_ROLE_ATTESTATION, buf, sizeof(buf)), ==, -ENOTSUP);

	/* defaults: file storage, production TCTI */
	hub_test_certstore_clear_config(fx->cs);
	hub_test_certstore_assert_load(fx->cs);
	g_assert_cmpint(hub_test_certstore_describe(fx->cs, HUB_CERT_ROLE_PERMANENT, buf, sizeof(buf)), ==, 0);
	g_test_message("permanent (defaults): %s", buf);
	g_assert_true(g_str_has_prefix(buf, "TPM 2.0 (tcti device:/dev/tpmrm0), key at persistent handle 0x81000101, "
					    "certificates in "));
	g_assert_true(g_str_has_suffix(buf, "/state/permanent.pem"));
}

static void test_load_empty(Fixture *fx, gconstpointer data)
{
	STACK_OF(X509) *chain = NULL;
	EVP_PKEY *key = NULL;

	if (skip_without_swtpm(fx))
		return;
	hub_test_certstore_assert_load(fx->cs);
	assert_op(fx, hub_test_certstore_load_role(fx->cs, HUB_CERT_ROLE_CLAIM, &chain, &key), -ENOENT);
	g_assert_nonnull(strstr(fx->cs->message, "no key at persistent handle 0x81000100"));
	g_assert_null(chain);
	g_assert_null(key);
	assert_op(fx, hub_test_certstore_load_role(fx->cs, HUB_CERT_ROLE_PERMANENT, &chain, &key), -ENOENT);
	assert_op(fx, hub_test_certstore_load_role(fx->cs, HUB_CERT_ROLE_PERMANENT, NULL, NULL), -ENOENT);
	assert_op(fx, hub_test_certstore_load_role(fx->cs, HUB_CERT_ROLE_ROOT_CA, &chain, &key), -ENOENT);
	assert_op(fx, hub_test_certstore_load_role(fx->cs, 42, &chain, &key), -EINVAL);
	assert_no_transient_objects(fx);
}

static void test_generate_ec(Fixture *fx, gconstpointer data)
{
	g_autoptr(EVP_PKEY) key = NULL;
	g_autoptr(EVP_PKEY) old_key = NULL;
	g_autofree TPM2B_PUBLIC *public = NULL;
	g_autofree unsigned char *sig = NULL;
	STACK_OF(X509) *chain = NULL;
	unsigned char *der = NULL;
	TPMA_OBJECT attrs;
	size_t sig_len;
	TSS2_RC rc;

	if (skip_without_swtpm(fx))
		return;
	hub_test_certstore_assert_load(fx->cs);
	assert_op(fx, hub_test_certstore_generate(fx->cs, HUB_CERT_ROLE_PERMANENT, HUB_KEY_TYPE_EC_P256), 0);
	assert_no_transient_objects(fx);
	g_assert_true(tpm_has_handle(fx, PERMANENT_HANDLE));
	g_assert_false(tpm_has_handle(fx, CLAIM_HANDLE));

	/* a key and no certificate yet */
	assert_op(fx, hub_test_certstore_load_role(fx->cs, HUB_CERT_ROLE_PERMANENT, &chain, &key), 0);
	g_assert_null(chain);
	g_assert_nonnull(key);
	g_assert_cmpint(EVP_PKEY_get_base_id(key), ==, EVP_PKEY_EC);
	g_assert_cmpint(EVP_PKEY_get_bits(key), ==, 256);
	assert_op(fx, hub_test_certstore_load_role(fx->cs, HUB_CERT_ROLE_CLAIM, NULL, NULL), -ENOENT);

	/* TLS may ask for any of these; each must verify as a normal ECDSA signature */
	assert_signs(key, EVP_sha256(), FALSE, "hello from the TPM");
	assert_signs(key, EVP_sha384(), FALSE, "a SHA-384 digest is longer than the P-256 order");
	assert_signs(key, EVP_sha512(), FALSE, "and SHA-512 even more");
	assert_signs(key, EVP_sha1(), FALSE, "SHA-1 is shorter");
	assert_no_transient_objects(fx);

	/* born in the TPM and bound to it */
	public = tpm_read_public(fx, PERMANENT_HANDLE);
	attrs = public->publicArea.objectAttributes;
	g_assert_cmpint(public->publicArea.type, ==, TPM2_ALG_ECC);
	g_assert_cmpint(public->publicArea.parameters.eccDetail.curveID, ==, TPM2_ECC_NIST_P256);
	g_assert_true(attrs & TPMA_OBJECT_FIXEDTPM);
	g_assert_true(attrs & TPMA_OBJECT_FIXEDPARENT);
	g_assert_true(attrs & TPMA_OBJECT_SENSITIVEDATAORIGIN);
	g_assert_true(attrs & TPMA_OBJECT_SIGN_ENCRYPT);
	g_assert_false(attrs & TPMA_OBJECT_DECRYPT);

	/* and it does not come out: neither through OpenSSL nor through the TPM */
	g_assert_cmpint(i2d_PrivateKey(key, &der), <=, 0);
	g_assert_null(der);
	ERR_clear_error();
	rc = tpm_try_duplicate(fx, PERMANENT_HANDLE);
	g_test_message("TPM2_Duplicate: 0x%x %s", rc, Tss2_RC_Decode(rc));
	g_assert_cmphex(rc, !=, TSS2_RC_SUCCESS);
	g_assert_cmphex(rc & TSS2_RC_LAYER_MASK, ==, TSS2_TPM_RC_LAYER);
	assert_no_transient_objects(fx);

	/* a new key replaces it; the old EVP_PKEY fails cleanly instead of signing with the new key */
	old_key = g_steal_pointer(&key);
	assert_op(fx, hub_test_certstore_generate(fx->cs, HUB_CERT_ROLE_PERMANENT, HUB_KEY_TYPE_EC_P256), 0);
	g_assert_false(try_sign(old_key, EVP_sha256(), FALSE, "stale", &sig, &sig_len));
	key = load_key(fx, HUB_CERT_ROLE_PERMANENT);
	g_assert_cmpint(EVP_PKEY_eq(key, old_key), !=, 1);
	assert_signs(key, EVP_sha256(), FALSE, "the new key");
	assert_no_transient_objects(fx);
}

static void test_generate_rsa(Fixture *fx, gconstpointer data)
{
	g_autoptr(EVP_PKEY) key = NULL;
	g_autofree TPM2B_PUBLIC *public = NULL;

	if (skip_without_swtpm(fx))
		return;
	hub_test_certstore_assert_load(fx->cs);
	assert_op(fx, hub_test_certstore_generate(fx->cs, HUB_CERT_ROLE_CLAIM, HUB_KEY_TYPE_RSA_2048), 0);
	assert_no_transient_objects(fx);
	key = load_key(fx, HUB_CERT_ROLE_CLAIM);
	g_assert_cmpint(EVP_PKEY_get_base_id(key), ==, EVP_PKEY_RSA);
	g_assert_cmpint(EVP_PKEY_get_bits(key), ==, 2048);

	assert_signs(key, EVP_sha256(), FALSE, "PKCS#1 v1.5");
	assert_signs(key, EVP_sha384(), FALSE, "PKCS#1 v1.5 with SHA-384");
	assert_signs(key, EVP_sha256(), TRUE, "PSS, as TLS 1.3 wants");
	assert_signs(key, EVP_sha512(), TRUE, "PSS with SHA-512");

	public = tpm_read_public(fx, CLAIM_HANDLE);
	g_assert_cmpint(public->publicArea.type, ==, TPM2_ALG_RSA);
	g_assert_cmpint(public->publicArea.parameters.rsaDetail.keyBits, ==, 2048);
	g_assert_true(public->publicArea.objectAttributes & TPMA_OBJECT_FIXEDTPM);
	g_assert_true(public->publicArea.objectAttributes & TPMA_OBJECT_FIXEDPARENT);
	g_assert_true(public->publicArea.objectAttributes & TPMA_OBJECT_SENSITIVEDATAORIGIN);
	assert_op(fx, hub_test_certstore_generate(fx->cs, HUB_CERT_ROLE_CLAIM, 99), -EINVAL);
	assert_no_transient_objects(fx);
}

/* Stores a TPM-signed leaf and an intermediate, "reboots" the TPM and the
 * daemon, and checks that the same chain comes back with a matching key. */
static void check_store_survives_restart(Fixture *fx, gsize padding)
{
	g_autoptr(EVP_PKEY) key = NULL;
	STACK_OF(X509) *chain = NULL;
	STACK_OF(X509) *loaded = NULL;
	STACK_OF(X509) *roots = NULL;
	X509 *leaf, *intermediate;

	hub_test_certstore_assert_load(fx->cs);
	assert_op(fx, hub_test_certstore_generate(fx->cs, HUB_CERT_ROLE_PERMANENT, HUB_KEY_TYPE_EC_P256), 0);
	key = load_key(fx, HUB_CERT_ROLE_PERMANENT);
	leaf = make_certificate(key, "hub-tpm2-test", padding);
	intermediate = make_software_certificate("hub test intermediate");
	g_test_message("leaf certificate: %d bytes DER", cert_der_len(leaf));
	chain = chain_of(leaf, intermediate);
	assert_op(fx, hub_test_certstore_store(fx->cs, HUB_CERT_ROLE_PERMANENT, chain), 0);
	roots = chain_of(X509_dup(intermediate), NULL);
	assert_op(fx, hub_test_certstore_store(fx->cs, HUB_CERT_ROLE_ROOT_CA, roots), 0);
	chain_free(roots);
	assert_no_transient_objects(fx);

	/* the daemon stops (keys freed first), the TPM reboots, the daemon starts */
	g_clear_pointer(&key, EVP_PKEY_free);
	hub_test_certstore_unload(fx->cs);
	hub_test_swtpm_restart(fx->tpm);
	hub_test_certstore_assert_load(fx->cs);

	assert_op(fx, hub_test_certstore_load_role(fx->cs, HUB_CERT_ROLE_PERMANENT, &loaded, &key), 0);
	g_assert_cmpint(sk_X509_num(loaded), ==, 2);
	assert_same_certificate(sk_X509_value(loaded, 0), leaf);
	assert_same_certificate(sk_X509_value(loaded, 1), intermediate);
	g_assert_cmpint(X509_check_private_key(sk_X509_value(loaded, 0), key), ==, 1);
	assert_signs(key, EVP_sha256(), FALSE, "after the restart");
	chain_free(loaded);

	assert_op(fx, hub_test_certstore_load_role(fx->cs, HUB_CERT_ROLE_ROOT_CA, &loaded, NULL), 0);
	g_assert_cmpint(sk_X509_num(loaded), ==, 1);
	assert_same_certificate(sk_X509_value(loaded, 0), intermediate);
	chain_free(loaded);
	chain_free(chain);
	assert_no_transient_objects(fx);
}

static void test_store_file(Fixture *fx, gconstpointer data)
{
	g_autofree char *file = NULL;

	if (skip_without_swtpm(fx))
		return;
	check_store_survives_restart(fx, 0);
	file = g_build_filename(fx->cs->state_dir, "permanent.pem", NULL);
	g_assert_true(g_file_test(file, G_FILE_TEST_IS_REGULAR));
	g_assert_false(tpm_has_handle(fx, PERMANENT_NV));
}

static void test_store_nv(Fixture *fx, gconstpointer data)
{
	g_autofree char *file = NULL;
	g_autofree char *chain_file = NULL;
	g_autoptr(EVP_PKEY) key = NULL;
	STACK_OF(X509) *chain = NULL;
	STACK_OF(X509) *loaded = NULL;
	guint32 buffer_max, index_max;

	if (skip_without_swtpm(fx))
		return;
	buffer_max = tpm_property(fx, TPM2_PT_NV_BUFFER_MAX);
	index_max = tpm_property(fx, TPM2_PT_NV_INDEX_MAX);
	g_test_message("NV: buffer max %u, index max %u", buffer_max, index_max);
	g_assert_cmpuint(index_max, >, buffer_max + 200);
	hub_test_certstore_set_config(fx->cs, "certificate-storage", "nv");
	/* a leaf larger than one NV write, so it goes in chunks */
	check_store_survives_restart(fx, buffer_max + 100);
	g_assert_true(tpm_has_handle(fx, PERMANENT_NV));
	file = g_build_filename(fx->cs->state_dir, "permanent.pem", NULL);
	chain_file = g_build_filename(fx->cs->state_dir, "permanent-chain.pem", NULL);
	g_assert_false(g_file_test(file, G_FILE_TEST_EXISTS));
	g_assert_true(g_file_test(chain_file, G_FILE_TEST_IS_REGULAR));

	/* a leaf alone replaces the index and drops the intermediates' file */
	key = load_key(fx, HUB_CERT_ROLE_PERMANENT);
	chain = chain_of(make_certificate(key, "smaller", 0), NULL);
	assert_op(fx, hub_test_certstore_store(fx->cs, HUB_CERT_ROLE_PERMANENT, chain), 0);
	g_assert_false(g_file_test(chain_file, G_FILE_TEST_EXISTS));
	assert_op(fx, hub_test_certstore_load_role(fx->cs, HUB_CERT_ROLE_PERMANENT, &loaded, NULL), 0);
	g_assert_cmpint(sk_X509_num(loaded), ==, 1);
	assert_same_certificate(sk_X509_value(loaded, 0), sk_X509_value(chain, 0));
	chain_free(loaded);
	chain_free(chain);

	/* too large for any NV index of this TPM: refused, with the way out */
	chain = chain_of(make_certificate(key, "huge", index_max + 100), NULL);
	assert_op(fx, hub_test_certstore_store(fx->cs, HUB_CERT_ROLE_PERMANENT, chain), -ENOSPC);
	g_assert_nonnull(strstr(fx->cs->message, "certificate-storage=file"));
	chain_free(chain);

	/* a new key deletes the certificate that certified the old one */
	assert_op(fx, hub_test_certstore_generate(fx->cs, HUB_CERT_ROLE_PERMANENT, HUB_KEY_TYPE_EC_P256), 0);
	g_assert_false(tpm_has_handle(fx, PERMANENT_NV));
	assert_op(fx, hub_test_certstore_load_role(fx->cs, HUB_CERT_ROLE_PERMANENT, &loaded, NULL), 0);
	g_assert_null(loaded);
	assert_no_transient_objects(fx);
}

static void test_import_and_attestation(Fixture *fx, gconstpointer data)
{
	g_autoptr(EVP_PKEY) software = EVP_EC_gen("P-256");
	STACK_OF(X509) *chain = NULL;
	EVP_PKEY *key = NULL;

	if (skip_without_swtpm(fx))
		return;
	hub_test_certstore_assert_load(fx->cs);
	assert_op(fx, hub_test_certstore_import(fx->cs, HUB_CERT_ROLE_PERMANENT, software), -ENOTSUP);
	g_assert_cmpstr(fx->cs->message, ==,
			"the TPM store only holds keys generated inside the TPM; generate a key and use a CSR "
			"(CreateCertificateFromCsr)");
	assert_op(fx, hub_test_certstore_import(fx->cs, HUB_CERT_ROLE_CLAIM, software), -ENOTSUP);
	assert_op(fx, hub_test_certstore_import(fx->cs, HUB_CERT_ROLE_ROOT_CA, software), -ENOTSUP);
	g_assert_false(tpm_has_handle(fx, PERMANENT_HANDLE));

	assert_op(fx, hub_test_certstore_load_role(fx->cs, HUB_CERT_ROLE_ATTESTATION, &chain, &key), -ENOTSUP);
	g_assert_nonnull(strstr(fx->cs->message, "attestation"));
	assert_op(fx, hub_test_certstore_generate(fx->cs, HUB_CERT_ROLE_ATTESTATION, HUB_KEY_TYPE_EC_P256), -ENOTSUP);
	assert_op(fx, hub_test_certstore_import(fx->cs, HUB_CERT_ROLE_ATTESTATION, software), -ENOTSUP);
	chain = chain_of(make_software_certificate("attestation"), NULL);
	assert_op(fx, hub_test_certstore_store(fx->cs, HUB_CERT_ROLE_ATTESTATION, chain), -ENOTSUP);
	chain_free(chain);
	assert_op(fx, hub_test_certstore_erase(fx->cs, HUB_CERT_ROLE_ATTESTATION), -ENOTSUP);
	assert_op(fx, hub_test_certstore_generate(fx->cs, HUB_CERT_ROLE_ROOT_CA, HUB_KEY_TYPE_EC_P256), -ENOTSUP);
}

static void test_erase(Fixture *fx, gconstpointer data)
{
	g_autoptr(EVP_PKEY) key = NULL;
	g_autofree char *chain_file = g_build_filename(fx->cs->state_dir, "claim-chain.pem", NULL);
	g_autofree unsigned char *sig = NULL;
	STACK_OF(X509) *chain = NULL;
	STACK_OF(X509) *loaded = NULL;
	size_t sig_len;

	if (skip_without_swtpm(fx))
		return;
	hub_test_certstore_set_config(fx->cs, "certificate-storage", "nv");
	hub_test_certstore_assert_load(fx->cs);
	assert_op(fx, hub_test_certstore_erase(fx->cs, HUB_CERT_ROLE_CLAIM), 0); /* nothing there yet */
	assert_op(fx, hub_test_certstore_generate(fx->cs, HUB_CERT_ROLE_CLAIM, HUB_KEY_TYPE_EC_P256), 0);
	key = load_key(fx, HUB_CERT_ROLE_CLAIM);
	chain = chain_of(make_certificate(key, "claim", 0), make_software_certificate("intermediate"));
	assert_op(fx, hub_test_certstore_store(fx->cs, HUB_CERT_ROLE_CLAIM, chain), 0);
	assert_op(fx, hub_test_certstore_store(fx->cs, HUB_CERT_ROLE_ROOT_CA, chain), 0);
	g_assert_true(tpm_has_handle(fx, CLAIM_HANDLE));
	g_assert_true(tpm_has_handle(fx, CLAIM_NV));
	g_assert_true(g_file_test(chain_file, G_FILE_TEST_EXISTS));

	assert_op(fx, hub_test_certstore_erase(fx->cs, HUB_CERT_ROLE_CLAIM), 0);
	g_assert_false(tpm_has_handle(fx, CLAIM_HANDLE));
	g_assert_false(tpm_has_handle(fx, CLAIM_NV));
	g_assert_false(g_file_test(chain_file, G_FILE_TEST_EXISTS));
	assert_op(fx, hub_test_certstore_load_role(fx->cs, HUB_CERT_ROLE_CLAIM, &loaded, NULL), -ENOENT);
	g_assert_false(try_sign(key, EVP_sha256(), FALSE, "erased", &sig, &sig_len));
	assert_op(fx, hub_test_certstore_erase(fx->cs, HUB_CERT_ROLE_CLAIM), 0);

	assert_op(fx, hub_test_certstore_erase(fx->cs, HUB_CERT_ROLE_ROOT_CA), 0);
	assert_op(fx, hub_test_certstore_load_role(fx->cs, HUB_CERT_ROLE_ROOT_CA, &loaded, NULL), -ENOENT);
	assert_op(fx, hub_test_certstore_erase(fx->cs, HUB_CERT_ROLE_ROOT_CA), 0);
	chain_free(chain);
	assert_no_transient_objects(fx);
}

static guint16 closed_port(void)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t len = sizeof(addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	g_assert_cmpint(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
	g_assert_cmpint(getsockname(fd, (struct sockaddr *)&addr, &len), ==, 0);
	close(fd); /* nobody listens there now */
	return ntohs(addr.sin_port);
}

static void assert_unreachable(Fixture *fx, const char *tcti)
{
	g_autofree char *prefix = g_strdup_printf("cannot reach the TPM through TCTI '%s': ", tcti);

	if (!g_str_has_prefix(fx->cs->message, prefix))
		g_error("unexpected message: %s", fx->cs->message);
}

static void test_unreachable_tcti(Fixture *fx, gconstpointer data)
{
	g_autofree char *tcti = g_strdup_printf("swtpm:host=127.0.0.1,port=%u", closed_port());
	STACK_OF(X509) *chain = NULL;
	EVP_PKEY *key = NULL;
	char buf[256];

	if (skip_without_swtpm(fx))
		return;
	hub_test_certstore_set_config(fx->cs, "tcti", tcti);
	hub_test_certstore_assert_load(fx->cs); /* init() does not touch the TPM */
	assert_op(fx, hub_test_certstore_load_role(fx->cs, HUB_CERT_ROLE_PERMANENT, &chain, &key), -ENODEV);
	g_test_message("load: %s", fx->cs->message);
	assert_unreachable(fx, tcti);
	g_assert_null(chain);
	g_assert_null(key);
	assert_op(fx, hub_test_certstore_generate(fx->cs, HUB_CERT_ROLE_PERMANENT, HUB_KEY_TYPE_EC_P256), -ENODEV);
	assert_unreachable(fx, tcti);
	assert_op(fx, hub_test_certstore_erase(fx->cs, HUB_CERT_ROLE_CLAIM), -ENODEV);
	assert_unreachable(fx, tcti);
	g_assert_cmpint(hub_test_certstore_describe(fx->cs, HUB_CERT_ROLE_PERMANENT, buf, sizeof(buf)), ==, 0);

	/* a device node that is not there */
	hub_test_certstore_set_config(fx->cs, "tcti", "device:/nonexistent/tpmrm0");
	hub_test_certstore_assert_load(fx->cs);
	assert_op(fx, hub_test_certstore_load_role(fx->cs, HUB_CERT_ROLE_CLAIM, NULL, &key), -ENODEV);
	g_test_message("load: %s", fx->cs->message);
	assert_unreachable(fx, "device:/nonexistent/tpmrm0");
}

static void test_tpm_comes_back(Fixture *fx, gconstpointer data)
{
	g_autoptr(EVP_PKEY) key = NULL;
	g_autoptr(EVP_PKEY) again = NULL;
	g_autofree unsigned char *sig = NULL;
	size_t sig_len;

	if (skip_without_swtpm(fx))
		return;
	hub_test_certstore_assert_load(fx->cs);
	assert_op(fx, hub_test_certstore_generate(fx->cs, HUB_CERT_ROLE_PERMANENT, HUB_KEY_TYPE_EC_P256), 0);
	key = load_key(fx, HUB_CERT_ROLE_PERMANENT);
	assert_signs(key, EVP_sha256(), FALSE, "before");

	hub_test_swtpm_stop(fx->tpm);
	assert_op(fx, hub_test_certstore_load_role(fx->cs, HUB_CERT_ROLE_PERMANENT, NULL, &again), -ENODEV);
	assert_unreachable(fx, hub_test_swtpm_get_tcti(fx->tpm));
	g_assert_null(again);
	/* a key already handed out fails cleanly too */
	g_assert_false(try_sign(key, EVP_sha256(), FALSE, "while away", &sig, &sig_len));
	assert_op(fx, hub_test_certstore_generate(fx->cs, HUB_CERT_ROLE_PERMANENT, HUB_KEY_TYPE_EC_P256), -ENODEV);

	/* same plugin instance, same keys: the next op reconnects */
	hub_test_swtpm_start(fx->tpm);
	again = load_key(fx, HUB_CERT_ROLE_PERMANENT);
	g_assert_cmpint(EVP_PKEY_eq(key, again), ==, 1);
	assert_signs(key, EVP_sha256(), FALSE, "after, with the old handle");
	assert_signs(again, EVP_sha256(), FALSE, "after, with the new one");
	assert_no_transient_objects(fx);
}

static void test_many_signatures(Fixture *fx, gconstpointer data)
{
	g_autoptr(EVP_PKEY) key = NULL;
	gint64 start;

	if (skip_without_swtpm(fx))
		return;
	hub_test_certstore_assert_load(fx->cs);
	assert_op(fx, hub_test_certstore_generate(fx->cs, HUB_CERT_ROLE_PERMANENT, HUB_KEY_TYPE_EC_P256), 0);
	key = load_key(fx, HUB_CERT_ROLE_PERMANENT);
	start = g_get_monotonic_time();
	for (guint i = 0; i < 50; i++) {
		g_autofree char *text = g_strdup_printf("signature %u", i);

		assert_signs(key, EVP_sha256(), FALSE, text);
	}
	g_test_message("50 signatures in %.0f ms", (g_get_monotonic_time() - start) / 1000.0);
	assert_no_transient_objects(fx);
}

static void test_bad_config(Fixture *fx, gconstpointer data)
{
	static const struct {
		const char *key;
		const char *value;
	} bad[] = {
		{ "claim-handle", "0x80000001" },     /* transient range */
		{ "claim-handle", "0x81000100x" },    /* trailing garbage */
		{ "claim-handle", "" },
		{ "claim-handle", "0x" },
		{ "claim-handle", "-0x81000100" },
		{ "claim-handle", "0x181000100" },    /* overflow */
		{ "claim-handle", " 0x81000100" },
		{ "permanent-handle", "0x01500101" }, /* an NV index, not a persistent handle */
		{ "permanent-handle", "0x81000100" }, /* the claim key's default */
		{ "claim-nv-index", "0x81000100" },
		{ "permanent-nv-index", "0x02000000" },
		{ "certificate-storage", "tape" },
		{ "tcti", "" },
	};

	if (skip_without_swtpm(fx))
		return;
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;
		GPtrArray *refusals;
		HubPluginRefusal *refusal;

		hub_test_certstore_clear_config(fx->cs);
		hub_test_certstore_set_config(fx->cs, "certificate-storage", "nv");
		hub_test_certstore_set_config(fx->cs, bad[i].key, bad[i].value);
		g_string_truncate(fx->cs->log, 0);
		g_assert_false(hub_test_certstore_load(fx->cs, &error));
		g_test_message("%s=\"%s\": %s; logged: %s", bad[i].key, bad[i].value, error->message, fx->cs->log->str);
		refusals = hub_plugin_loader_get_refusals(fx->cs->loader);
		g_assert_cmpuint(refusals->len, ==, 1);
		refusal = g_ptr_array_index(refusals, 0);
		g_assert_cmpstr(refusal->name, ==, "tpm2");
		g_assert_cmpstr(refusal->reason, ==, "init failed: Invalid argument");
		g_assert_nonnull(strstr(fx->cs->log->str, bad[i].key));
		g_assert_nonnull(strstr(fx->cs->log->str, "[plugin.tpm2]"));
	}

	/* the forms that are fine */
	hub_test_certstore_clear_config(fx->cs);
	hub_test_certstore_set_config(fx->cs, "claim-handle", "81000200");
	hub_test_certstore_set_config(fx->cs, "permanent-handle", "0X81FFFFFF");
	hub_test_certstore_set_config(fx->cs, "claim-nv-index", "0x01000000");
	hub_test_certstore_set_config(fx->cs, "certificate-storage", "file");
	hub_test_certstore_assert_load(fx->cs);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	/* The loader warns about each refused plugin (expected in bad-config). */
	g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
	/* The expected failures (unreachable TPM, missing handles) make the TSS
	 * print ERROR lines; TSS2_LOG=all+debug shows everything when debugging. */
	g_setenv("TSS2_LOG", "all+none", FALSE);
	/* A daemon ignores SIGPIPE; the swtpm TCTI writes to sockets with write(). */
	signal(SIGPIPE, SIG_IGN);

#define ADD(path, fn) g_test_add("/hub/certstore-tpm2/" path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
	ADD("capabilities-and-describe", test_capabilities);
	ADD("load-empty-role", test_load_empty);
	ADD("generate-ec-signs-in-tpm-not-exportable", test_generate_ec);
	ADD("generate-rsa-pkcs1-and-pss", test_generate_rsa);
	ADD("store-file-survives-restart", test_store_file);
	ADD("store-nv-survives-restart", test_store_nv);
	ADD("import-key-and-attestation-refused", test_import_and_attestation);
	ADD("erase", test_erase);
	ADD("unreachable-tcti", test_unreachable_tcti);
	ADD("tpm-comes-back", test_tpm_comes_back);
	ADD("fifty-signatures-no-transient-objects", test_many_signatures);
	ADD("bad-config-refused", test_bad_config);
#undef ADD
	return g_test_run();
}
