/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-certstore-pkcs11 - the real "pkcs11" certificate store, loaded by the
 * real plugin loader, against a private SoftHSM2 token: keys are made and
 * used on the token and never leave it, certificates survive a restart,
 * PINs are never retried, shown or logged, and bad configurations fail with
 * the documented errors.
 *
 * hub-test-certstore.h stages the plugin from
 * "$HUB_TOP_BUILDDIR/certhandlers/pkcs11/.libs/" and plays the host. Some
 * checks talk raw PKCS#11 to the token; others count calls through OpenSC's
 * pkcs11-spy, configured as the plugin's module in front of SoftHSM.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib.h>
#include <glib/gstdio.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <p11-kit/pkcs11.h>

#include <hubd/hub-certstore.h>

#include "hub-test-certstore.h"
#include "hub-test-env.h"
#include "hub-test-softhsm.h"

#define TOKEN     "hub"
#define PIN       "pin-7261-secret"
#define WRONG_PIN "wrong-5550-secret"
#define SO_PIN    "so-8843-secret"
#define SPY_MODULE "/usr/lib/x86_64-linux-gnu/pkcs11-spy.so"

typedef struct {
	HubTestCertstore *cs; /* the plugin, its host, config, log and temp dir */
	HubTestSoftHsm *hsm;
	char *pin_path;       /* <tmpdir>/pin, the configured pin-file */
} Fixture;

/* The loader logs refusals as warnings, which the tests provoke: the test
 * framework already shows them as TAP comments, nothing more to do. */
static GLogWriterOutput quiet_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
	return G_LOG_WRITER_HANDLED;
}

/* ---- fixture ---- */

static void write_pin_file(Fixture *f, const char *pin, mode_t mode)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *contents = g_strdup_printf("%s\n", pin);

	g_assert_true(g_file_set_contents(f->pin_path, contents, -1, &error));
	g_assert_no_error(error);
	g_assert_cmpint(g_chmod(f->pin_path, mode), ==, 0);
}

static void fixture_setup(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *hsm_dir = NULL;

	f->cs = hub_test_certstore_new("certhandlers/pkcs11/.libs/certstore-pkcs11.so", "pkcs11");
	hsm_dir = g_build_filename(f->cs->tmpdir, "softhsm", NULL);
	g_assert_cmpint(g_mkdir(hsm_dir, 0700), ==, 0);
	f->hsm = hub_test_softhsm_new(hsm_dir, TOKEN, PIN, SO_PIN, &error);
	g_assert_no_error(error);
	f->pin_path = g_build_filename(f->cs->tmpdir, "pin", NULL);
	hub_test_certstore_set_config(f->cs, "module", HUB_TEST_SOFTHSM_MODULE);
	hub_test_certstore_set_config(f->cs, "token-label", TOKEN);
	hub_test_certstore_set_config(f->cs, "pin-file", "pin"); /* relative: resolved */
	write_pin_file(f, PIN, 0600);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
	hub_test_certstore_free(f->cs); /* unloads, then removes the token's files */
	hub_test_softhsm_free(f->hsm);
	g_free(f->pin_path);
	ERR_clear_error();
}

#define assert_ok(f, expr) hub_test_certstore_assert_op((f)->cs, expr, 0)

/* Neither the last message nor anything logged holds a PIN. */
static void assert_no_pin_leak(Fixture *f)
{
	g_assert_null(strstr(f->cs->message, PIN));
	g_assert_null(strstr(f->cs->message, WRONG_PIN));
	g_assert_null(strstr(f->cs->log->str, PIN));
	g_assert_null(strstr(f->cs->log->str, WRONG_PIN));
}

/* ---- OpenSSL helpers ---- */

static int print_openssl_error(const char *str, size_t len, void *data)
{
	g_test_message("OpenSSL: %.*s", (int)len, str);
	return 1;
}

/* Signs with @key (@padding: 0, RSA_PKCS1_PADDING or RSA_PKCS1_PSS_PADDING);
 * returns FALSE if signing fails. Asserts that @verify_key accepts the
 * signature and refuses it for other data. */
static gboolean sign_and_verify(EVP_PKEY *key, EVP_PKEY *verify_key, int padding)
{
	static const unsigned char data[] = "hubd pkcs11 test data";
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	g_autofree unsigned char *sig = NULL;
	size_t sig_len = 0;
	gboolean ok;

	g_assert_cmpint(EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), NULL, key), ==, 1);
	if (padding)
		g_assert_cmpint(EVP_PKEY_CTX_set_rsa_padding(pctx, padding), ==, 1);
	if (padding == RSA_PKCS1_PSS_PADDING)
		g_assert_cmpint(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST), ==, 1);
	g_assert_cmpint(EVP_DigestSign(ctx, NULL, &sig_len, data, sizeof(data)), ==, 1);
	sig = g_malloc(sig_len);
	ok = EVP_DigestSign(ctx, sig, &sig_len, data, sizeof(data)) == 1;
	EVP_MD_CTX_free(ctx);
	if (!ok) {
		ERR_print_errors_cb(print_openssl_error, NULL);
		ERR_clear_error();
		return FALSE;
	}

	for (int tamper = 0; tamper < 2; tamper++) {
		unsigned char other[sizeof(data)];

		memcpy(other, data, sizeof(data));
		other[0] ^= (unsigned char)tamper;
		ctx = EVP_MD_CTX_new();
		g_assert_cmpint(EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), NULL, verify_key), ==, 1);
		if (padding)
			g_assert_cmpint(EVP_PKEY_CTX_set_rsa_padding(pctx, padding), ==, 1);
		if (padding == RSA_PKCS1_PSS_PADDING)
			g_assert_cmpint(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST), ==, 1);
		g_assert_cmpint(EVP_DigestVerify(ctx, sig, sig_len, other, sizeof(other)), ==, tamper ? 0 : 1);
		EVP_MD_CTX_free(ctx);
	}
	ERR_clear_error();
	return TRUE;
}

static void assert_signs(EVP_PKEY *key, int padding)
{
	EVP_PKEY *pub = hub_test_certstore_public_copy(key);

	g_assert_true(sign_and_verify(key, pub, padding));
	EVP_PKEY_free(pub);
}

/* The private key cannot be serialised: no private bytes in the process. */
static void assert_not_exportable(EVP_PKEY *key)
{
	unsigned char *der = NULL;
	BIO *bio = BIO_new(BIO_s_mem());

	g_assert_cmpint(i2d_PrivateKey(key, &der), <=, 0);
	g_assert_null(der);
	g_assert_cmpint(PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL), ==, 0);
	BIO_free(bio);
	ERR_clear_error();
}

static X509 *make_cert(EVP_PKEY *subject_key, EVP_PKEY *signer, const char *cn, long serial)
{
	X509 *cert = X509_new();
	X509_NAME *name = X509_NAME_new();
	unsigned char *der = NULL;
	const unsigned char *p;
	X509 *copy;
	int der_len;

	g_assert_cmpint(X509_set_version(cert, X509_VERSION_3), ==, 1);
	g_assert_cmpint(ASN1_INTEGER_set(X509_get_serialNumber(cert), serial), ==, 1);
	g_assert_cmpint(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0), ==, 1);
	g_assert_cmpint(X509_set_subject_name(cert, name), ==, 1);
	g_assert_cmpint(X509_set_issuer_name(cert, name), ==, 1);
	X509_gmtime_adj(X509_getm_notBefore(cert), 0);
	X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
	g_assert_cmpint(X509_set_pubkey(cert, subject_key), ==, 1);
	g_assert_cmpint(X509_sign(cert, signer, EVP_sha256()), >, 0);
	X509_NAME_free(name);
	/* X509_set_pubkey() keeps a reference to @subject_key, which may be a
	 * token key that must be freed before the plugin is unloaded: return a
	 * copy parsed from DER, as a host gets it back from a CA. */
	der_len = i2d_X509(cert, &der);
	g_assert_cmpint(der_len, >, 0);
	p = der;
	copy = d2i_X509(NULL, &p, der_len);
	g_assert_nonnull(copy);
	OPENSSL_free(der);
	X509_free(cert);
	return copy;
}

static X509 *make_software_cert(const char *cn, long serial)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *cert = make_cert(key, key, cn, serial);

	EVP_PKEY_free(key);
	return cert;
}

/* ---- raw PKCS#11, to look at the token behind the plugin's back ---- */

typedef struct {
	void *dl;
	CK_FUNCTION_LIST_PTR p11;
	gboolean owns_init;
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE session;
} Raw;

/* Opens a logged-in session. If the plugin has the module initialised, this
 * shares it (CKR_CRYPTOKI_ALREADY_INITIALIZED) and leaves it initialised. */
static void raw_open(Raw *raw, const char *label)
{
	CK_C_INITIALIZE_ARGS args = { .flags = CKF_OS_LOCKING_OK };
	CK_C_GetFunctionList get_list;
	CK_SLOT_ID slots[16];
	CK_ULONG n = G_N_ELEMENTS(slots);
	gboolean found = FALSE;
	CK_RV rv;

	memset(raw, 0, sizeof(*raw));
	raw->dl = dlopen(HUB_TEST_SOFTHSM_MODULE, RTLD_NOW | RTLD_LOCAL);
	g_assert_nonnull(raw->dl);
	get_list = (CK_C_GetFunctionList)(uintptr_t)dlsym(raw->dl, "C_GetFunctionList");
	g_assert_nonnull(get_list);
	g_assert_cmpuint(get_list(&raw->p11), ==, CKR_OK);
	rv = raw->p11->C_Initialize(&args);
	g_assert_true(rv == CKR_OK || rv == CKR_CRYPTOKI_ALREADY_INITIALIZED);
	raw->owns_init = rv == CKR_OK;
	g_assert_cmpuint(raw->p11->C_GetSlotList(CK_TRUE, slots, &n), ==, CKR_OK);
	for (CK_ULONG i = 0; i < n && !found; i++) {
		CK_TOKEN_INFO info;
		g_autofree char *l = NULL;

		g_assert_cmpuint(raw->p11->C_GetTokenInfo(slots[i], &info), ==, CKR_OK);
		l = g_strchomp(g_strndup((const char *)info.label, sizeof(info.label)));
		if (g_str_equal(l, label)) {
			raw->slot = slots[i];
			found = TRUE;
		}
	}
	g_assert_true(found);
	g_assert_cmpuint(raw->p11->C_OpenSession(raw->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
						 &raw->session),
			 ==, CKR_OK);
	rv = raw->p11->C_Login(raw->session, CKU_USER, (CK_UTF8CHAR_PTR)PIN, strlen(PIN));
	g_assert_true(rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN);
}

static void raw_close(Raw *raw)
{
	raw->p11->C_CloseSession(raw->session);
	if (raw->owns_init)
		raw->p11->C_Finalize(NULL);
	dlclose(raw->dl);
}

/* The objects of @cls labelled @label. */
static GArray *raw_find(Raw *raw, CK_OBJECT_CLASS cls, const char *label)
{
	CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_LABEL, (void *)label, strlen(label) } };
	GArray *found = g_array_new(FALSE, FALSE, sizeof(CK_OBJECT_HANDLE));
	CK_OBJECT_HANDLE h[32];
	CK_ULONG n = 0;

	g_assert_cmpuint(raw->p11->C_FindObjectsInit(raw->session, tmpl, G_N_ELEMENTS(tmpl)), ==, CKR_OK);
	g_assert_cmpuint(raw->p11->C_FindObjects(raw->session, h, G_N_ELEMENTS(h), &n), ==, CKR_OK);
	g_array_append_vals(found, h, (guint)n);
	g_assert_cmpuint(raw->p11->C_FindObjectsFinal(raw->session), ==, CKR_OK);
	return found;
}

static CK_BBOOL raw_bool(Raw *raw, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type)
{
	CK_BBOOL value = 0xaa;
	CK_ATTRIBUTE attr = { type, &value, sizeof(value) };

	g_assert_cmpuint(raw->p11->C_GetAttributeValue(raw->session, object, &attr, 1), ==, CKR_OK);
	return value;
}

/* The one private key labelled @label: sensitive, not extractable, its
 * secret refused; never extractable when @generated on the token. */
static void assert_token_key_protected(const char *label, gboolean generated)
{
	g_autoptr(GArray) keys = NULL;
	CK_OBJECT_HANDLE key;
	CK_KEY_TYPE type = 0;
	CK_ATTRIBUTE type_attr = { CKA_KEY_TYPE, &type, sizeof(type) };
	guint8 value[1024];
	CK_ATTRIBUTE attr = { 0, value, sizeof(value) };
	Raw raw;

	raw_open(&raw, TOKEN);
	keys = raw_find(&raw, CKO_PRIVATE_KEY, label);
	g_assert_cmpuint(keys->len, ==, 1);
	key = g_array_index(keys, CK_OBJECT_HANDLE, 0);
	g_assert_cmpuint(raw_bool(&raw, key, CKA_SENSITIVE), ==, CK_TRUE);
	g_assert_cmpuint(raw_bool(&raw, key, CKA_EXTRACTABLE), ==, CK_FALSE);
	g_assert_cmpuint(raw_bool(&raw, key, CKA_SIGN), ==, CK_TRUE);
	g_assert_cmpuint(raw_bool(&raw, key, CKA_DECRYPT), ==, CK_FALSE);
	if (generated)
		g_assert_cmpuint(raw_bool(&raw, key, CKA_NEVER_EXTRACTABLE), ==, CK_TRUE);
	/* the secret: CKA_VALUE of an EC key, CKA_PRIVATE_EXPONENT of an RSA key */
	g_assert_cmpuint(raw.p11->C_GetAttributeValue(raw.session, key, &type_attr, 1), ==, CKR_OK);
	attr.type = type == CKK_RSA ? CKA_PRIVATE_EXPONENT : CKA_VALUE;
	g_assert_cmpuint(raw.p11->C_GetAttributeValue(raw.session, key, &attr, 1), ==, CKR_ATTRIBUTE_SENSITIVE);
	raw_close(&raw);
}

static guint raw_count(const char *label, CK_OBJECT_CLASS cls)
{
	g_autoptr(GArray) found = NULL;
	Raw raw;

	raw_open(&raw, TOKEN);
	found = raw_find(&raw, cls, label);
	raw_close(&raw);
	return found->len;
}

/* ---- pkcs11-spy: counts the calls the plugin makes ---- */

/* The spy reads PKCS11SPY and PKCS11SPY_OUTPUT once, when first used, and
 * keeps its state while it stays loaded: main() loads it for the whole run
 * (so its one log file is spy_log) and tests count calls as differences. */
static char *spy_dir; /* holds spy_log, for the whole run */
static char *spy_log;
static void *spy_handle;

/* pkcs11-spy never frees some of what it allocates when first used. Kept
 * loaded, it can be named: only its leaks are suppressed. LeakSanitizer
 * looks this function up, so it must be visible (we build with hidden). */
__attribute__((visibility("default"))) const char *__lsan_default_suppressions(void);
__attribute__((visibility("default"))) const char *__lsan_default_suppressions(void)
{
	return "leak:pkcs11-spy.so\n";
}

static gboolean use_spy(Fixture *f)
{
	if (!spy_handle) {
		g_test_fail_printf("OpenSC's pkcs11-spy is not installed (run .ci/install-deps)");
		return FALSE;
	}
	hub_test_certstore_set_config(f->cs, "module", SPY_MODULE);
	return TRUE;
}

/* How many times the plugin called @function through the spy so far. */
static guint spy_count(const char *function)
{
	g_autofree char *contents = NULL;
	g_auto(GStrv) lines = NULL;
	g_autofree char *suffix = g_strdup_printf(": %s", function);
	guint n = 0;

	if (!g_file_get_contents(spy_log, &contents, NULL, NULL))
		return 0;
	lines = g_strsplit(contents, "\n", -1);
	for (guint i = 0; lines[i]; i++)
		if (g_ascii_isdigit(lines[i][0]) && g_str_has_suffix(lines[i], suffix) &&
		    strspn(lines[i], "0123456789") + strlen(suffix) == strlen(lines[i]))
			n++;
	return n;
}

/* ---- tests ---- */

static void test_capabilities(Fixture *f, gconstpointer data)
{
	const uint32_t key_caps = HUB_CERTSTORE_CAP_CERTIFICATES | HUB_CERTSTORE_CAP_GENERATE_KEY |
				  HUB_CERTSTORE_CAP_HARDWARE | HUB_CERTSTORE_CAP_RSA_2048;
	const uint32_t empty_roles[] = { HUB_CERT_ROLE_CLAIM, HUB_CERT_ROLE_PERMANENT, HUB_CERT_ROLE_ROOT_CA };
	char buf[256];

	hub_test_certstore_assert_load(f->cs);
	g_assert_cmphex(hub_test_certstore_capabilities(f->cs, HUB_CERT_ROLE_CLAIM), ==,
			key_caps | HUB_CERTSTORE_CAP_IMPORT_KEY);
	g_assert_cmphex(hub_test_certstore_capabilities(f->cs, HUB_CERT_ROLE_PERMANENT), ==,
			key_caps | HUB_CERTSTORE_CAP_IMPORT_KEY);
	g_assert_cmphex(hub_test_certstore_capabilities(f->cs, HUB_CERT_ROLE_ROOT_CA), ==, HUB_CERTSTORE_CAP_CERTIFICATES);
	g_assert_cmphex(hub_test_certstore_capabilities(f->cs, HUB_CERT_ROLE_ATTESTATION), ==, 0);
	g_assert_cmphex(hub_test_certstore_capabilities(f->cs, 99), ==, 0);

	g_assert_cmpint(hub_test_certstore_describe(f->cs, HUB_CERT_ROLE_PERMANENT, buf, sizeof(buf)), ==, 0);
	g_assert_cmpstr(buf, ==,
			"PKCS#11 token 'hub' (module " HUB_TEST_SOFTHSM_MODULE "), labels 'Device Priv TLS Key' / 'Device Cert'");
	g_assert_cmpint(hub_test_certstore_describe(f->cs, HUB_CERT_ROLE_CLAIM, buf, sizeof(buf)), ==, 0);
	g_assert_nonnull(strstr(buf, "'Claim Key' / 'Claim Cert'"));
	g_assert_cmpint(hub_test_certstore_describe(f->cs, HUB_CERT_ROLE_ROOT_CA, buf, sizeof(buf)), ==, 0);
	g_assert_nonnull(strstr(buf, "label 'Root Cert'"));
	g_assert_cmpint(hub_test_certstore_describe(f->cs, HUB_CERT_ROLE_ATTESTATION, buf, sizeof(buf)), ==, -ENOTSUP);

	for (gsize i = 0; i < G_N_ELEMENTS(empty_roles); i++) {
		STACK_OF(X509) *chain = (STACK_OF(X509) *)(uintptr_t)1;
		EVP_PKEY *key = (EVP_PKEY *)(uintptr_t)1;

		g_assert_cmpint(hub_test_certstore_load_role(f->cs, empty_roles[i], &chain, &key), ==, -ENOENT);
		g_assert_null(chain);
		g_assert_null(key);
		g_assert_nonnull(strstr(f->cs->message, "Nothing is stored"));
	}

	/* allow-import=false: the capability goes */
	hub_test_certstore_unload(f->cs);
	hub_test_certstore_set_config(f->cs, "allow-import", "false");
	hub_test_certstore_assert_load(f->cs);
	g_assert_cmphex(hub_test_certstore_capabilities(f->cs, HUB_CERT_ROLE_CLAIM), ==, key_caps);
	g_assert_cmphex(hub_test_certstore_capabilities(f->cs, HUB_CERT_ROLE_PERMANENT), ==, key_caps);
}

static void test_init_refusals(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	/* a required key missing: refused with a log line naming it */
	hub_test_certstore_set_config(f->cs, "module", NULL);
	g_assert_false(hub_test_certstore_load(f->cs, &error));
	g_assert_nonnull(error);
	g_assert_nonnull(strstr(f->cs->log->str, "'module'"));
	hub_test_certstore_unload(f->cs);
	g_clear_error(&error);

	hub_test_certstore_set_config(f->cs, "module", HUB_TEST_SOFTHSM_MODULE);
	hub_test_certstore_set_config(f->cs, "token-label", NULL);
	g_assert_false(hub_test_certstore_load(f->cs, &error));
	g_assert_nonnull(strstr(f->cs->log->str, "'token-label'"));
	hub_test_certstore_unload(f->cs);
	g_clear_error(&error);

	hub_test_certstore_set_config(f->cs, "token-label", TOKEN);
	hub_test_certstore_set_config(f->cs, "allow-import", "maybe");
	g_assert_false(hub_test_certstore_load(f->cs, &error));
	g_assert_nonnull(strstr(f->cs->log->str, "allow-import"));
	hub_test_certstore_unload(f->cs);
	g_clear_error(&error);

	/* a module that does not exist is not the loader's business: the op says it */
	hub_test_certstore_set_config(f->cs, "allow-import", NULL);
	hub_test_certstore_set_config(f->cs, "module", "/nonexistent/libpkcs11-missing.so");
	hub_test_certstore_assert_load(f->cs);
	g_assert_cmpint(hub_test_certstore_load_role(f->cs, HUB_CERT_ROLE_PERMANENT, NULL, NULL), ==, -ENODEV);
	g_assert_nonnull(strstr(f->cs->message, "Cannot load PKCS#11 module /nonexistent/libpkcs11-missing.so"));
	g_assert_cmpint(hub_test_certstore_generate(f->cs, HUB_CERT_ROLE_PERMANENT, HUB_KEY_TYPE_EC_P256), ==, -ENODEV);
	assert_no_pin_leak(f);
}

/* Runs pkcs11-tool on the token, logged in; returns its stdout and stderr. */
static char *run_pkcs11_tool(Fixture *f, ...) G_GNUC_NULL_TERMINATED;

static char *run_pkcs11_tool(Fixture *f, ...)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autoptr(GSubprocess) tool = NULL;
	g_autoptr(GError) error = NULL;
	char *out = NULL;
	const char *arg;
	va_list ap;

	g_ptr_array_add(argv, (char *)"pkcs11-tool");
	g_ptr_array_add(argv, (char *)"--module");
	g_ptr_array_add(argv, (char *)HUB_TEST_SOFTHSM_MODULE);
	g_ptr_array_add(argv, (char *)"--token-label");
	g_ptr_array_add(argv, (char *)TOKEN);
	g_ptr_array_add(argv, (char *)"--login");
	g_ptr_array_add(argv, (char *)"--pin");
	g_ptr_array_add(argv, (char *)PIN);
	va_start(ap, f);
	while ((arg = va_arg(ap, const char *)))
		g_ptr_array_add(argv, (char *)arg);
	va_end(ap);
	g_ptr_array_add(argv, NULL);
	tool = g_subprocess_newv((const char *const *)argv->pdata,
				 G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE, &error);
	g_assert_no_error(error);
	g_assert_true(g_subprocess_communicate_utf8(tool, NULL, NULL, &out, NULL, &error));
	g_assert_no_error(error);
	g_test_message("pkcs11-tool: %s", out);
	return out;
}

static void test_generate_ec(Fixture *f, gconstpointer data)
{
	g_autofree char *dump = g_build_filename(f->cs->tmpdir, "privkey.der", NULL);
	char *out;
	STACK_OF(X509) *chain = NULL;
	EVP_PKEY *key = NULL;

	hub_test_certstore_assert_load(f->cs);
	assert_ok(f, hub_test_certstore_generate(f->cs, HUB_CERT_ROLE_PERMANENT, HUB_KEY_TYPE_EC_P256));
	assert_ok(f, hub_test_certstore_load_role(f->cs, HUB_CERT_ROLE_PERMANENT, &chain, &key));
	g_assert_null(chain); /* a key, no certificate yet */
	g_assert_nonnull(key);
	g_assert_cmpint(EVP_PKEY_get_base_id(key), ==, EVP_PKEY_EC);
	g_assert_cmpint(EVP_PKEY_get_bits(key), ==, 256);
	assert_signs(key, 0);
	assert_not_exportable(key);
	assert_token_key_protected("Device Priv TLS Key", TRUE);
	g_assert_cmpuint(raw_count("Device Pub TLS Key", CKO_PUBLIC_KEY), ==, 1);
	/* the other role is untouched */
	g_assert_cmpint(hub_test_certstore_load_role(f->cs, HUB_CERT_ROLE_CLAIM, NULL, NULL), ==, -ENOENT);

	/* An independent tool sees the same. pkcs11-tool 0.23 answers
	 * --read-object --type privkey with "not (yet) supported" and exit
	 * status 0 for any private key, so what it lists is what is checked. */
	out = run_pkcs11_tool(f, "--list-objects", "--type", "privkey", "--label", "Device Priv TLS Key", NULL);
	g_assert_nonnull(strstr(out, "Access:     sensitive, always sensitive, never extractable, local"));
	g_assert_nonnull(strstr(out, "Usage:      sign\n"));
	g_free(out);
	out = run_pkcs11_tool(f, "--read-object", "--type", "privkey", "--label", "Device Priv TLS Key", "-o", dump,
			      NULL);
	g_free(out);
	g_assert_false(g_file_test(dump, G_FILE_TEST_EXISTS));

	EVP_PKEY_free(key);
}

static void test_store_and_restart(Fixture *f, gconstpointer data)
{
	STACK_OF(X509) *chain = sk_X509_new_null();
	STACK_OF(X509) *loaded = NULL;
	EVP_PKEY *key = NULL;
	EVP_PKEY *cert_key;
	X509 *cert, *intermediate, *ca1, *ca2;

	hub_test_certstore_assert_load(f->cs);
	assert_ok(f, hub_test_certstore_generate(f->cs, HUB_CERT_ROLE_PERMANENT, HUB_KEY_TYPE_EC_P256));
	assert_ok(f, hub_test_certstore_load_role(f->cs, HUB_CERT_ROLE_PERMANENT, NULL, &key));
	/* X509_sign with the token key: the signature is made on the token */
	cert = make_cert(key, key, "hub-pkcs11-test", 1);
	cert_key = X509_get0_pubkey(cert);
	g_assert_cmpint(X509_verify(cert, cert_key), ==, 1);
	intermediate = make_software_cert("hub-intermediate", 2);
	sk_X509_push(chain, cert);
	sk_X509_push(chain, intermediate);
	assert_ok(f, hub_test_certstore_store(f->cs, HUB_CERT_ROLE_PERMANENT, chain));
	EVP_PKEY_free(key);
	key = NULL;

	ca1 = make_software_cert("hub-root-1", 10);
	ca2 = make_software_cert("hub-root-2", 11);
	sk_X509_zero(chain);
	sk_X509_push(chain, ca1);
	sk_X509_push(chain, ca2);
	assert_ok(f, hub_test_certstore_store(f->cs, HUB_CERT_ROLE_ROOT_CA, chain));

	/* daemon restart */
	hub_test_certstore_unload(f->cs);
	hub_test_certstore_assert_load(f->cs);

	assert_ok(f, hub_test_certstore_load_role(f->cs, HUB_CERT_ROLE_PERMANENT, &loaded, &key));
	g_assert_cmpint(sk_X509_num(loaded), ==, 2);
	g_assert_cmpint(X509_cmp(sk_X509_value(loaded, 0), cert), ==, 0);
	g_assert_cmpint(X509_cmp(sk_X509_value(loaded, 1), intermediate), ==, 0);
	g_assert_cmpint(X509_check_private_key(sk_X509_value(loaded, 0), key), ==, 1);
	g_assert_true(sign_and_verify(key, X509_get0_pubkey(cert), 0));
	sk_X509_pop_free(loaded, X509_free);
	loaded = NULL;
	EVP_PKEY_free(key);
	key = (EVP_PKEY *)(uintptr_t)1;

	assert_ok(f, hub_test_certstore_load_role(f->cs, HUB_CERT_ROLE_ROOT_CA, &loaded, &key));
	g_assert_null(key); /* the root CA role has no key */
	g_assert_cmpint(sk_X509_num(loaded), ==, 2);
	g_assert_cmpint(X509_cmp(sk_X509_value(loaded, 0), ca1), ==, 0);
	g_assert_cmpint(X509_cmp(sk_X509_value(loaded, 1), ca2), ==, 0);
	sk_X509_pop_free(loaded, X509_free);
	loaded = NULL;

	/* storing replaces: one anchor left, one leaf left */
	sk_X509_zero(chain);
	sk_X509_push(chain, ca2);
	assert_ok(f, hub_test_certstore_store(f->cs, HUB_CERT_ROLE_ROOT_CA, chain));
	assert_ok(f, hub_test_certstore_load_role(f->cs, HUB_CERT_ROLE_ROOT_CA, &loaded, NULL));
	g_assert_cmpint(sk_X509_num(loaded), ==, 1);
	g_assert_cmpint(X509_cmp(sk_X509_value(loaded, 0), ca2), ==, 0);
	sk_X509_pop_free(loaded, X509_free);
	loaded = NULL;
	sk_X509_zero(chain);
	sk_X509_push(chain, cert);
	assert_ok(f, hub_test_certstore_store(f->cs, HUB_CERT_ROLE_PERMANENT, chain));
	assert_ok(f, hub_test_certstore_load_role(f->cs, HUB_CERT_ROLE_PERMANENT, &loaded, NULL));
	g_assert_cmpint(sk_X509_num(loaded), ==, 1);
	sk_X509_pop_free(loaded, X509_free);
	g_assert_cmpuint(raw_count("Device Cert", CKO_CERTIFICATE), ==, 1);
	g_assert_cmpuint(raw_count("Root Cert", CKO_CERTIFICATE), ==, 1);

	/* an empty chain is bad input */
	sk_X509_zero(chain);
	g_assert_cmpint(hub_test_certstore_store(f->cs, HUB_CERT_ROLE_PERMANENT, chain), ==, -EINVAL);
	g_assert_cmpstr(f->cs->message, !=, "");

	sk_X509_free(chain);
	X509_free(cert);
	X509_free(intermediate);
	X509_free(ca1);
	X509_free(ca2);
}

static void test_rsa(Fixture *f, gconstpointer data)
{
	EVP_PKEY *key = NULL;

	hub_test_certstore_assert_load(f->cs);
	assert_ok(f, hub_test_certstore_generate(f->cs, HUB_CERT_ROLE_CLAIM, HUB_KEY_TYPE_RSA_2048));
	assert_ok(f, hub_test_certstore_load_role(f->cs, HUB_CERT_ROLE_CLAIM, NULL, &key));
	g_assert_cmpint(EVP_PKEY_get_base_id(key), ==, EVP_PKEY_RSA);
	g_assert_cmpint(EVP_PKEY_get_bits(key), ==, 2048);
	assert_signs(key, RSA_PKCS1_PADDING);
	assert_signs(key, RSA_PKCS1_PSS_PADDING);
	assert_not_exportable(key);
	assert_token_key_protected("Claim Key", TRUE);
	EVP_PKEY_free(key);

	/* unknown key types are refused before the token is asked */
	g_assert_cmpint(hub_test_certstore_generate(f->cs, HUB_CERT_ROLE_CLAIM, 99), ==, -ENOTSUP);
	g_assert_cmpstr(f->cs->message, !=, "");
}

static void test_import(Fixture *f, gconstpointer data)
{
	EVP_PKEY *soft_ec = EVP_EC_gen("P-256");
	EVP_PKEY *soft_rsa = EVP_RSA_gen(2048);
	EVP_PKEY *p384 = EVP_EC_gen("P-384");
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	EVP_PKEY *key = NULL;

	hub_test_certstore_assert_load(f->cs);
	assert_ok(f, hub_test_certstore_import(f->cs, HUB_CERT_ROLE_CLAIM, soft_ec));
	assert_ok(f, hub_test_certstore_load_role(f->cs, HUB_CERT_ROLE_CLAIM, NULL, &key));
	g_assert_cmpint(EVP_PKEY_eq(key, soft_ec), ==, 1);
	g_assert_true(sign_and_verify(key, soft_ec, 0));
	assert_not_exportable(key);
	assert_token_key_protected("Claim Key", FALSE);
	EVP_PKEY_free(key);

	assert_ok(f, hub_test_certstore_import(f->cs, HUB_CERT_ROLE_PERMANENT, soft_rsa));
	assert_ok(f, hub_test_certstore_load_role(f->cs, HUB_CERT_ROLE_PERMANENT, NULL, &key));
	g_assert_cmpint(EVP_PKEY_eq(key, soft_rsa), ==, 1);
	g_assert_true(sign_and_verify(key, soft_rsa, RSA_PKCS1_PADDING));
	g_assert_true(sign_and_verify(key, soft_rsa, RSA_PKCS1_PSS_PADDING));
	assert_token_key_protected("Device Priv TLS Key", FALSE);
	EVP_PKEY_free(key);

	/* importing again replaces: still one key */
	assert_ok(f, hub_test_certstore_import(f->cs, HUB_CERT_ROLE_PERMANENT, soft_ec));
	g_assert_cmpuint(raw_count("Device Priv TLS Key", CKO_PRIVATE_KEY), ==, 1);
	g_assert_cmpuint(raw_count("Device Pub TLS Key", CKO_PUBLIC_KEY), ==, 1);

	g_assert_cmpint(hub_test_certstore_import(f->cs, HUB_CERT_ROLE_CLAIM, p384), ==, -ENOTSUP);
	g_assert_nonnull(strstr(f->cs->message, "P-256"));
	g_assert_cmpint(hub_test_certstore_import(f->cs, HUB_CERT_ROLE_CLAIM, ed), ==, -ENOTSUP);
	g_assert_cmpint(hub_test_certstore_import(f->cs, HUB_CERT_ROLE_ROOT_CA, soft_ec), ==, -ENOTSUP);
	/* the failed imports left the claim key in place */
	assert_ok(f, hub_test_certstore_load_role(f->cs, HUB_CERT_ROLE_CLAIM, NULL, &key));
	g_assert_cmpint(EVP_PKEY_eq(key, soft_ec), ==, 1);
	EVP_PKEY_free(key);

	hub_test_certstore_unload(f->cs);
	hub_test_certstore_set_config(f->cs, "allow-import", "false");
	hub_test_certstore_assert_load(f->cs);
	g_assert_cmpint(hub_test_certstore_import(f->cs, HUB_CERT_ROLE_PERMANENT, soft_rsa), ==, -ENOTSUP);
	g_assert_nonnull(strstr(f->cs->message, "allow-import=false"));

	EVP_PKEY_free(soft_ec);
	EVP_PKEY_free(soft_rsa);
	EVP_PKEY_free(p384);
	EVP_PKEY_free(ed);
}

static void test_erase(Fixture *f, gconstpointer data)
{
	STACK_OF(X509) *chain = sk_X509_new_null();
	X509 *cert = make_software_cert("hub-claim", 3);
	EVP_PKEY *key = NULL;

	hub_test_certstore_assert_load(f->cs);
	assert_ok(f, hub_test_certstore_generate(f->cs, HUB_CERT_ROLE_CLAIM, HUB_KEY_TYPE_EC_P256));
	assert_ok(f, hub_test_certstore_generate(f->cs, HUB_CERT_ROLE_PERMANENT, HUB_KEY_TYPE_EC_P256));
	sk_X509_push(chain, cert);
	assert_ok(f, hub_test_certstore_store(f->cs, HUB_CERT_ROLE_CLAIM, chain));
	assert_ok(f, hub_test_certstore_store(f->cs, HUB_CERT_ROLE_ROOT_CA, chain));

	assert_ok(f, hub_test_certstore_erase(f->cs, HUB_CERT_ROLE_CLAIM));
	g_assert_cmpint(hub_test_certstore_load_role(f->cs, HUB_CERT_ROLE_CLAIM, NULL, NULL), ==, -ENOENT);
	g_assert_cmpuint(raw_count("Claim Key", CKO_PRIVATE_KEY), ==, 0);
	g_assert_cmpuint(raw_count("Claim Pub Key", CKO_PUBLIC_KEY), ==, 0);
	g_assert_cmpuint(raw_count("Claim Cert", CKO_CERTIFICATE), ==, 0);
	assert_ok(f, hub_test_certstore_erase(f->cs, HUB_CERT_ROLE_CLAIM)); /* nothing left: still 0 */
	/* the other roles are untouched */
	assert_ok(f, hub_test_certstore_load_role(f->cs, HUB_CERT_ROLE_PERMANENT, NULL, &key));
	g_assert_nonnull(key);
	EVP_PKEY_free(key);
	assert_ok(f, hub_test_certstore_erase(f->cs, HUB_CERT_ROLE_ROOT_CA));
	g_assert_cmpint(hub_test_certstore_load_role(f->cs, HUB_CERT_ROLE_ROOT_CA, NULL, NULL), ==, -ENOENT);

	/* the attestation role is not served; the root CA role has no key */
	g_assert_cmpint(hub_test_certstore_generate(f->cs, HUB_CERT_ROLE_ATTESTATION, HUB_KEY_TYPE_EC_P256), ==, -ENOTSUP);
	g_assert_nonnull(strstr(f->cs->message, "attestation"));
	g_assert_cmpint(hub_test_certstore_load_role(f->cs, HUB_CERT_ROLE_ATTESTATION, NULL, NULL), ==, -ENOTSUP);
	g_assert_cmpint(hub_test_certstore_erase(f->cs, HUB_CERT_ROLE_ATTESTATION), ==, -ENOTSUP);
	g_assert_cmpint(hub_test_certstore_store(f->cs, HUB_CERT_ROLE_ATTESTATION, chain), ==, -ENOTSUP);
	g_assert_cmpint(hub_test_certstore_generate(f->cs, HUB_CERT_ROLE_ROOT_CA, HUB_KEY_TYPE_EC_P256), ==, -ENOTSUP);
	g_assert_nonnull(strstr(f->cs->message, "certificates only"));
	g_assert_cmpint(hub_test_certstore_generate(f->cs, 99, HUB_KEY_TYPE_EC_P256), ==, -EINVAL);

	sk_X509_pop_free(chain, X509_free);
}

/* Closes every session of the process on the token, the plugin's too. */
static void close_all_sessions(void)
{
	Raw raw;

	raw_open(&raw, TOKEN);
	g_assert_false(raw.owns_init); /* shared with the plugin */
	g_assert_cmpuint(raw.p11->C_CloseAllSessions(raw.slot), ==, CKR_OK);
	raw_close(&raw);
}

/* A key loaded before its object was replaced or erased fails to sign
 * instead of signing with another key. */
static void test_stale_key(Fixture *f, gconstpointer data)
{
	EVP_PKEY *old = NULL, *fresh = NULL, *pub;

	hub_test_certstore_assert_load(f->cs);
	assert_ok(f, hub_test_certstore_generate(f->cs, HUB_CERT_ROLE_PERMANENT, HUB_KEY_TYPE_EC_P256));
	assert_ok(f, hub_test_certstore_load_role(f->cs, HUB_CERT_ROLE_PERMANENT, NULL, &old));
	assert_signs(old, 0);
	assert_ok(f, hub_test_certstore_generate(f->cs, HUB_CERT_ROLE_PERMANENT, HUB_KEY_TYPE_EC_P256));
	assert_ok(f, hub_test_certstore_load_role(f->cs, HUB_CERT_ROLE_PERMANENT, NULL, &fresh));
	g_assert_cmpint(EVP_PKEY_eq(old, fresh), !=, 1);
	pub = hub_test_certstore_public_copy(old);
	g_assert_false(sign_and_verify(old, pub, 0));
	EVP_PKEY_free(pub);
	assert_signs(fresh, 0);
	assert_ok(f, hub_test_certstore_erase(f->cs, HUB_CERT_ROLE_PERMANENT));
	pub = hub_test_certstore_public_copy(fresh);
	g_assert_false(sign_and_verify(fresh, pub, 0));
	EVP_PKEY_free(pub);
	EVP_PKEY_free(old);
	EVP_PKEY_free(fresh);

	/* The same when the handle went stale first: SoftHSM renumbers private
	 * objects after a logout, so the key searches its label and CKA_ID
	 * again and finds the new key, which must not sign for it. */
	assert_ok(f, hub_test_certstore_generate(f->cs, HUB_CERT_ROLE_PERMANENT, HUB_KEY_TYPE_EC_P256));
	assert_ok(f, hub_test_certstore_load_role(f->cs, HUB_CERT_ROLE_PERMANENT, NULL, &old));
	close_all_sessions();
	assert_ok(f, hub_test_certstore_generate(f->cs, HUB_CERT_ROLE_PERMANENT, HUB_KEY_TYPE_EC_P256));
	pub = hub_test_certstore_public_copy(old);
	g_assert_false(sign_and_verify(old, pub, 0));
	EVP_PKEY_free(pub);
	EVP_PKEY_free(old);
}

/* Sessions closed behind the plugin's back: the next op and the next
 * signature reconnect. */
static void test_reconnect(Fixture *f, gconstpointer data)
{
	EVP_PKEY *key = NULL;

	hub_test_certstore_assert_load(f->cs);
	assert_ok(f, hub_test_certstore_generate(f->cs, HUB_CERT_ROLE_PERMANENT, HUB_KEY_TYPE_EC_P256));
	assert_ok(f, hub_test_certstore_load_role(f->cs, HUB_CERT_ROLE_PERMANENT, NULL, &key));

	close_all_sessions();
	assert_signs(key, 0);

	close_all_sessions();
	g_assert_cmpuint(f->cs->log->len, ==, 0);
	assert_ok(f, hub_test_certstore_load_role(f->cs, HUB_CERT_ROLE_PERMANENT, NULL, NULL));
	g_assert_nonnull(strstr(f->cs->log->str, "reconnecting"));
	assert_signs(key, 0);
	EVP_PKEY_free(key);
}

/* A refused PIN is offered to the token once, never again until the
 * pin-file holds another PIN; then things work without a restart. */
static void test_wrong_pin_file(Fixture *f, gconstpointer data)
{
	EVP_PKEY *key = NULL;
	guint logins;

	if (!use_spy(f))
		return;
	logins = spy_count("C_Login");
	write_pin_file(f, WRONG_PIN, 0600);
	hub_test_certstore_assert_load(f->cs);

	g_assert_cmpint(hub_test_certstore_load_role(f->cs, HUB_CERT_ROLE_PERMANENT, NULL, NULL), ==, -EACCES);
	g_assert_nonnull(strstr(f->cs->message, "CKR_PIN_INCORRECT"));
	g_assert_nonnull(strstr(f->cs->message, "'" TOKEN "'"));
	assert_no_pin_leak(f);
	for (int i = 0; i < 5; i++) {
		g_assert_cmpint(hub_test_certstore_generate(f->cs, HUB_CERT_ROLE_PERMANENT, HUB_KEY_TYPE_EC_P256), ==, -EACCES);
		g_assert_nonnull(strstr(f->cs->message, "CKR_PIN_INCORRECT"));
		assert_no_pin_leak(f);
	}
	g_assert_cmpint(hub_test_certstore_erase(f->cs, HUB_CERT_ROLE_CLAIM), ==, -EACCES);
	/* the same wrong PIN written again is still the same PIN */
	write_pin_file(f, WRONG_PIN, 0600);
	g_assert_cmpint(hub_test_certstore_load_role(f->cs, HUB_CERT_ROLE_CLAIM, NULL, NULL), ==, -EACCES);
	g_assert_cmpuint(spy_count("C_Login") - logins, ==, 1);

	/* fixed: works at once */
	write_pin_file(f, PIN, 0600);
	assert_ok(f, hub_test_certstore_generate(f->cs, HUB_CERT_ROLE_PERMANENT, HUB_KEY_TYPE_EC_P256));
	assert_ok(f, hub_test_certstore_load_role(f->cs, HUB_CERT_ROLE_PERMANENT, NULL, &key));
	assert_signs(key, 0);
	EVP_PKEY_free(key);
	g_assert_cmpuint(spy_count("C_Login") - logins, ==, 2);
	assert_no_pin_leak(f);
}

static void test_wrong_pin_env(Fixture *f, gconstpointer data)
{
	guint logins;

	if (!use_spy(f))
		return;
	logins = spy_count("C_Login");
	hub_test_certstore_set_config(f->cs, "pin-file", NULL);
	hub_test_certstore_set_config(f->cs, "pin-env", "HUB_TEST_PKCS11_PIN");
	g_unsetenv("HUB_TEST_PKCS11_PIN");
	hub_test_certstore_assert_load(f->cs);

	g_assert_cmpint(hub_test_certstore_load_role(f->cs, HUB_CERT_ROLE_PERMANENT, NULL, NULL), ==, -EACCES);
	g_assert_nonnull(strstr(f->cs->message, "HUB_TEST_PKCS11_PIN"));
	g_setenv("HUB_TEST_PKCS11_PIN", WRONG_PIN, TRUE);
	for (int i = 0; i < 4; i++) {
		g_assert_cmpint(hub_test_certstore_load_role(f->cs, HUB_CERT_ROLE_PERMANENT, NULL, NULL), ==, -EACCES);
		g_assert_nonnull(strstr(f->cs->message, "CKR_PIN_INCORRECT"));
		assert_no_pin_leak(f);
	}
	g_assert_cmpuint(spy_count("C_Login") - logins, ==, 1);
	g_setenv("HUB_TEST_PKCS11_PIN", PIN, TRUE);
	g_assert_cmpint(hub_test_certstore_load_role(f->cs, HUB_CERT_ROLE_PERMANENT, NULL, NULL), ==, -ENOENT);
	g_assert_cmpuint(spy_count("C_Login") - logins, ==, 2);
	assert_no_pin_leak(f);
	hub_test_certstore_unload(f->cs);
	g_unsetenv("HUB_TEST_PKCS11_PIN");
}

static void test_bad_config(Fixture *f, gconstpointer data)
{
	/* a PIN file others can read is refused before anything is sent */
	write_pin_file(f, PIN, 0644);
	hub_test_certstore_assert_load(f->cs);
	g_assert_cmpint(hub_test_certstore_load_role(f->cs, HUB_CERT_ROLE_PERMANENT, NULL, NULL), ==, -EACCES);
	g_assert_nonnull(strstr(f->cs->message, f->pin_path));
	g_assert_nonnull(strstr(f->cs->message, "0644"));
	assert_no_pin_leak(f);
	hub_test_certstore_unload(f->cs);
	write_pin_file(f, PIN, 0600);

	/* no PIN configured: the message names the keys to set */
	hub_test_certstore_set_config(f->cs, "pin-file", NULL);
	hub_test_certstore_assert_load(f->cs);
	g_assert_cmpint(hub_test_certstore_generate(f->cs, HUB_CERT_ROLE_CLAIM, HUB_KEY_TYPE_EC_P256), ==, -EACCES);
	g_assert_nonnull(strstr(f->cs->message, "pin-file"));
	g_assert_nonnull(strstr(f->cs->message, "pin-env"));
	hub_test_certstore_unload(f->cs);
	hub_test_certstore_set_config(f->cs, "pin-file", "pin");

	/* a missing PIN file */
	hub_test_certstore_set_config(f->cs, "pin-file", "/nonexistent/pin");
	hub_test_certstore_assert_load(f->cs);
	g_assert_cmpint(hub_test_certstore_load_role(f->cs, HUB_CERT_ROLE_CLAIM, NULL, NULL), ==, -EACCES);
	g_assert_nonnull(strstr(f->cs->message, "/nonexistent/pin"));
	hub_test_certstore_unload(f->cs);
	hub_test_certstore_set_config(f->cs, "pin-file", "pin");

	/* no token with that label: the message lists the labels found */
	hub_test_certstore_set_config(f->cs, "token-label", "no-such-token");
	hub_test_certstore_assert_load(f->cs);
	g_assert_cmpint(hub_test_certstore_load_role(f->cs, HUB_CERT_ROLE_PERMANENT, NULL, NULL), ==, -ENODEV);
	g_assert_nonnull(strstr(f->cs->message, "'no-such-token'"));
	g_assert_nonnull(strstr(f->cs->message, "tokens found: '" TOKEN "'"));
	/* ... and finds it once it exists, without a restart */
	{
		g_autoptr(GError) error = NULL;

		g_assert_true(hub_test_softhsm_add_token(f->hsm, "no-such-token", PIN, SO_PIN, &error));
		g_assert_no_error(error);
	}
	g_assert_cmpint(hub_test_certstore_load_role(f->cs, HUB_CERT_ROLE_PERMANENT, NULL, NULL), ==, -ENOENT);
	assert_no_pin_leak(f);
}

/* Many signatures: one session, one sign call each, nothing leaks. */
static void test_many_signatures(Fixture *f, gconstpointer data)
{
	const char *const calls[] = { "C_OpenSession", "C_Login", "C_SignInit", "C_Sign" };
	guint before[G_N_ELEMENTS(calls)];
	EVP_PKEY *key = NULL;
	EVP_PKEY *pub;

	if (!use_spy(f))
		return;
	for (gsize i = 0; i < G_N_ELEMENTS(calls); i++)
		before[i] = spy_count(calls[i]);
	hub_test_certstore_assert_load(f->cs);
	assert_ok(f, hub_test_certstore_generate(f->cs, HUB_CERT_ROLE_PERMANENT, HUB_KEY_TYPE_EC_P256));
	assert_ok(f, hub_test_certstore_load_role(f->cs, HUB_CERT_ROLE_PERMANENT, NULL, &key));
	pub = hub_test_certstore_public_copy(key);
	for (int i = 0; i < 200; i++)
		g_assert_true(sign_and_verify(key, pub, 0));
	for (int i = 0; i < 20; i++) {
		EVP_PKEY *again = NULL;

		assert_ok(f, hub_test_certstore_load_role(f->cs, HUB_CERT_ROLE_PERMANENT, NULL, &again));
		EVP_PKEY_free(again);
	}
	g_assert_cmpuint(spy_count("C_OpenSession") - before[0], ==, 1);
	g_assert_cmpuint(spy_count("C_Login") - before[1], ==, 1);
	g_assert_cmpuint(spy_count("C_SignInit") - before[2], ==, 200);
	g_assert_cmpuint(spy_count("C_Sign") - before[3], ==, 200);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(key);
}

/* ---- main ---- */

static void test_skipped(void)
{
	g_test_fail_printf("SoftHSM2 (softhsm2-util, " HUB_TEST_SOFTHSM_MODULE ") is not installed (run .ci/install-deps)");
}

#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)

int main(int argc, char **argv)
{
	int ret;

	g_test_init(&argc, &argv, NULL);
	/* the loader logs refusals as warnings; the tests check the refusals */
	g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
	g_log_set_writer_func(quiet_writer, NULL, NULL);

	if (!hub_test_softhsm_available()) {
		g_test_add_func("/pkcs11/skipped", test_skipped);
		return g_test_run();
	}
	/* before any thread exists (g_setenv) and before the spy is first used */
	spy_dir = g_dir_make_tmp("hub-pkcs11-spy-XXXXXX", NULL);
	g_assert_nonnull(spy_dir);
	spy_log = g_build_filename(spy_dir, "pkcs11-spy.log", NULL);
	g_setenv("PKCS11SPY", HUB_TEST_SOFTHSM_MODULE, TRUE);
	g_setenv("PKCS11SPY_OUTPUT", spy_log, TRUE);
	spy_handle = dlopen(SPY_MODULE, RTLD_NOW | RTLD_LOCAL);
	ADD("/pkcs11/capabilities", test_capabilities);
	ADD("/pkcs11/init-refusals", test_init_refusals);
	ADD("/pkcs11/generate-ec", test_generate_ec);
	ADD("/pkcs11/store-and-restart", test_store_and_restart);
	ADD("/pkcs11/rsa", test_rsa);
	ADD("/pkcs11/import", test_import);
	ADD("/pkcs11/erase", test_erase);
	ADD("/pkcs11/stale-key", test_stale_key);
	ADD("/pkcs11/reconnect", test_reconnect);
	ADD("/pkcs11/wrong-pin-file", test_wrong_pin_file);
	ADD("/pkcs11/wrong-pin-env", test_wrong_pin_env);
	ADD("/pkcs11/bad-config", test_bad_config);
	ADD("/pkcs11/many-signatures", test_many_signatures);

	ret = g_test_run();
	/* spy_handle stays open: see __lsan_default_suppressions() */
	hub_test_remove_tree(spy_dir);
	g_free(spy_log);
	g_free(spy_dir);
	return ret;
}
