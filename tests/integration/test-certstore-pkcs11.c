/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-certstore-pkcs11 - the real "pkcs11" certificate store, loaded by the
 * real plugin loader, against a private SoftHSM2 token: keys are made and
 * used on the token and never leave it, certificates survive a restart,
 * PINs are never retried, shown or logged, and bad configurations fail with
 * the documented errors.
 *
 * The plugin comes from "$HUB_TOP_BUILDDIR/certhandlers/pkcs11/.libs/" and is
 * copied with mode 0755 into a private stage directory (the loader refuses
 * files writable by group or other). Some checks talk raw PKCS#11 to the
 * token; others count calls through OpenSC's pkcs11-spy, configured as the
 * plugin's module in front of SoftHSM.
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

#include "hub-plugin-loader.h"
#include "hub-test-softhsm.h"

#define TOKEN     "hub"
#define PIN       "pin-7261-secret"
#define WRONG_PIN "wrong-5550-secret"
#define SO_PIN    "so-8843-secret"
#define SPY_MODULE "/usr/lib/x86_64-linux-gnu/pkcs11-spy.so"
#define MSG_SIZE  512

static char *stage_dir;   /* the staged plugin copy */
static char *plugin_path; /* stage_dir/certstore-pkcs11.so */

typedef struct {
	char *tmpdir;
	HubTestSoftHsm *hsm;
	GHashTable *config; /* key -> value, what config_get() returns */
	GString *log;       /* everything the plugin logged */
	char *state_dir;
	char *pin_path;
	HubPluginLoader *loader;
	const struct hub_certstore_ops *ops;
	void *store;
	char msg[MSG_SIZE];
} Fixture;

/* ---- the host ---- */

static void host_log(struct hub_plugin *plugin, int level, const char *fmt, ...) HUB_PRINTF(3, 4);

static void host_log(struct hub_plugin *plugin, int level, const char *fmt, ...)
{
	Fixture *f = plugin->host_ctx;
	g_autofree char *text = NULL;
	va_list ap;

	va_start(ap, fmt);
	text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_test_message("host->log(%s, %d): %s", plugin->name, level, text);
	g_string_append_printf(f->log, "%s\n", text);
}

static const char *host_config_get(struct hub_plugin *plugin, const char *key)
{
	Fixture *f = plugin->host_ctx;

	return g_hash_table_lookup(f->config, key);
}

static char *host_config_resolve_path(struct hub_plugin *plugin, const char *path)
{
	Fixture *f = plugin->host_ctx;
	g_autofree char *resolved = g_path_is_absolute(path) ? g_strdup(path) : g_build_filename(f->tmpdir, path, NULL);

	return strdup(resolved); /* the ABI says free() */
}

static const char *host_state_dir(struct hub_plugin *plugin)
{
	Fixture *f = plugin->host_ctx;

	g_mkdir_with_parents(f->state_dir, 0700);
	return f->state_dir;
}

static const struct hub_host test_host = {
	.struct_size = sizeof(struct hub_host),
	.abi_major = HUB_PLUGIN_ABI_MAJOR,
	.abi_minor = HUB_PLUGIN_ABI_MINOR,
	.log = host_log,
	.config_get = host_config_get,
	.config_resolve_path = host_config_resolve_path,
	.state_dir = host_state_dir,
};

/* The loader logs refusals as warnings, which the tests provoke: the test
 * framework already shows them as TAP comments, nothing more to do. */
static GLogWriterOutput quiet_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
	return G_LOG_WRITER_HANDLED;
}

/* ---- fixture ---- */

static void rm_rf(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
		const char *name;

		while (dir && (name = g_dir_read_name(dir))) {
			g_autofree char *child = g_build_filename(path, name, NULL);

			rm_rf(child);
		}
		g_rmdir(path);
	} else {
		g_unlink(path);
	}
}

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

	f->tmpdir = g_dir_make_tmp("hub-pkcs11-XXXXXX", &error);
	g_assert_no_error(error);
	hsm_dir = g_build_filename(f->tmpdir, "softhsm", NULL);
	g_assert_cmpint(g_mkdir(hsm_dir, 0700), ==, 0);
	f->hsm = hub_test_softhsm_new(hsm_dir, TOKEN, PIN, SO_PIN, &error);
	g_assert_no_error(error);
	f->state_dir = g_build_filename(f->tmpdir, "state", NULL);
	f->pin_path = g_build_filename(f->tmpdir, "pin", NULL);
	f->log = g_string_new(NULL);
	f->config = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	g_hash_table_insert(f->config, g_strdup("module"), g_strdup(HUB_TEST_SOFTHSM_MODULE));
	g_hash_table_insert(f->config, g_strdup("token-label"), g_strdup(TOKEN));
	g_hash_table_insert(f->config, g_strdup("pin-file"), g_strdup("pin")); /* relative: resolved */
	write_pin_file(f, PIN, 0600);
}

static void set_config(Fixture *f, const char *key, const char *value)
{
	if (value)
		g_hash_table_insert(f->config, g_strdup(key), g_strdup(value));
	else
		g_hash_table_remove(f->config, key);
}

/* Loads the plugin (a daemon start). Returns FALSE, with the refusal in
 * @error, if the loader refused it. */
static gboolean fixture_try_load(Fixture *f, GError **error)
{
	HubPlugin *plugin;

	g_assert_null(f->loader);
	f->loader = hub_plugin_loader_new(HUB_PLUGIN_ABI_MAJOR, HUB_PLUGIN_ABI_MINOR, &test_host, f);
	if (!hub_plugin_loader_load_file(f->loader, plugin_path, error))
		return FALSE;
	plugin = hub_plugin_loader_find(f->loader, "pkcs11");
	g_assert_nonnull(plugin);
	g_assert_cmpuint(plugin->kind, ==, HUB_PLUGIN_KIND_CERTSTORE);
	g_assert_false(plugin->tainted);
	f->ops = plugin->desc->ops;
	f->store = plugin->user_data;
	return TRUE;
}

static void fixture_load(Fixture *f)
{
	g_autoptr(GError) error = NULL;

	g_assert_true(fixture_try_load(f, &error));
	g_assert_no_error(error);
}

/* Unloads the plugin (a daemon stop): exit(), then dlclose(). */
static void fixture_unload(Fixture *f)
{
	g_clear_pointer(&f->loader, hub_plugin_loader_free);
	f->ops = NULL;
	f->store = NULL;
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
	fixture_unload(f);
	rm_rf(f->tmpdir);
	hub_test_softhsm_free(f->hsm);
	g_hash_table_unref(f->config);
	g_string_free(f->log, TRUE);
	g_free(f->state_dir);
	g_free(f->pin_path);
	g_free(f->tmpdir);
	ERR_clear_error();
}

/* ---- shorthands for the ops ---- */

static int op_load(Fixture *f, uint32_t role, STACK_OF(X509) **chain, EVP_PKEY **key)
{
	f->msg[0] = '\0';
	return f->ops->load(f->store, role, chain, key, f->msg, sizeof(f->msg));
}

static int op_generate(Fixture *f, uint32_t role, uint32_t key_type)
{
	f->msg[0] = '\0';
	return f->ops->generate_key(f->store, role, key_type, f->msg, sizeof(f->msg));
}

static int op_store(Fixture *f, uint32_t role, STACK_OF(X509) *chain)
{
	f->msg[0] = '\0';
	return f->ops->store_certificates(f->store, role, chain, f->msg, sizeof(f->msg));
}

static int op_import(Fixture *f, uint32_t role, EVP_PKEY *key)
{
	f->msg[0] = '\0';
	return f->ops->import_key(f->store, role, key, f->msg, sizeof(f->msg));
}

static int op_erase(Fixture *f, uint32_t role)
{
	f->msg[0] = '\0';
	return f->ops->erase(f->store, role, f->msg, sizeof(f->msg));
}

#define assert_ok(f, expr)                                                    \
	do {                                                                  \
		int r_ = (expr);                                              \
		if (r_ != 0)                                                  \
			g_error("%s returned %d (%s): %s", #expr, r_, g_strerror(-r_), (f)->msg); \
	} while (0)

/* Neither the last message nor anything logged holds a PIN. */
static void assert_no_pin_leak(Fixture *f)
{
	g_assert_null(strstr(f->msg, PIN));
	g_assert_null(strstr(f->msg, WRONG_PIN));
	g_assert_null(strstr(f->log->str, PIN));
	g_assert_null(strstr(f->log->str, WRONG_PIN));
}

/* ---- OpenSSL helpers ---- */

/* A pure software copy of @key's public half. */
static EVP_PKEY *public_copy(EVP_PKEY *key)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	EVP_PKEY *pub;
	int len = i2d_PUBKEY(key, &der);

	g_assert_cmpint(len, >, 0);
	p = der;
	pub = d2i_PUBKEY(NULL, &p, len);
	OPENSSL_free(der);
	g_assert_nonnull(pub);
	return pub;
}

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
	EVP_PKEY *pub = public_copy(key);

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
	set_config(f, "module", SPY_MODULE);
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

	fixture_load(f);
	g_assert_cmphex(f->ops->capabilities(f->store, HUB_CERT_ROLE_CLAIM), ==, key_caps | HUB_CERTSTORE_CAP_IMPORT_KEY);
	g_assert_cmphex(f->ops->capabilities(f->store, HUB_CERT_ROLE_PERMANENT), ==,
			key_caps | HUB_CERTSTORE_CAP_IMPORT_KEY);
	g_assert_cmphex(f->ops->capabilities(f->store, HUB_CERT_ROLE_ROOT_CA), ==, HUB_CERTSTORE_CAP_CERTIFICATES);
	g_assert_cmphex(f->ops->capabilities(f->store, HUB_CERT_ROLE_ATTESTATION), ==, 0);
	g_assert_cmphex(f->ops->capabilities(f->store, 99), ==, 0);

	g_assert_cmpint(f->ops->describe(f->store, HUB_CERT_ROLE_PERMANENT, buf, sizeof(buf)), ==, 0);
	g_assert_cmpstr(buf, ==,
			"PKCS#11 token 'hub' (module " HUB_TEST_SOFTHSM_MODULE "), labels 'Device Priv TLS Key' / 'Device Cert'");
	g_assert_cmpint(f->ops->describe(f->store, HUB_CERT_ROLE_CLAIM, buf, sizeof(buf)), ==, 0);
	g_assert_nonnull(strstr(buf, "'Claim Key' / 'Claim Cert'"));
	g_assert_cmpint(f->ops->describe(f->store, HUB_CERT_ROLE_ROOT_CA, buf, sizeof(buf)), ==, 0);
	g_assert_nonnull(strstr(buf, "label 'Root Cert'"));
	g_assert_cmpint(f->ops->describe(f->store, HUB_CERT_ROLE_ATTESTATION, buf, sizeof(buf)), ==, -ENOTSUP);

	for (gsize i = 0; i < G_N_ELEMENTS(empty_roles); i++) {
		STACK_OF(X509) *chain = (STACK_OF(X509) *)(uintptr_t)1;
		EVP_PKEY *key = (EVP_PKEY *)(uintptr_t)1;

		g_assert_cmpint(op_load(f, empty_roles[i], &chain, &key), ==, -ENOENT);
		g_assert_null(chain);
		g_assert_null(key);
		g_assert_nonnull(strstr(f->msg, "Nothing is stored"));
	}

	/* allow-import=false: the capability goes */
	fixture_unload(f);
	set_config(f, "allow-import", "false");
	fixture_load(f);
	g_assert_cmphex(f->ops->capabilities(f->store, HUB_CERT_ROLE_CLAIM), ==, key_caps);
	g_assert_cmphex(f->ops->capabilities(f->store, HUB_CERT_ROLE_PERMANENT), ==, key_caps);
}

static void test_init_refusals(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	/* a required key missing: refused with a log line naming it */
	set_config(f, "module", NULL);
	g_assert_false(fixture_try_load(f, &error));
	g_assert_nonnull(error);
	g_assert_nonnull(strstr(f->log->str, "'module'"));
	fixture_unload(f);
	g_clear_error(&error);

	set_config(f, "module", HUB_TEST_SOFTHSM_MODULE);
	set_config(f, "token-label", NULL);
	g_assert_false(fixture_try_load(f, &error));
	g_assert_nonnull(strstr(f->log->str, "'token-label'"));
	fixture_unload(f);
	g_clear_error(&error);

	set_config(f, "token-label", TOKEN);
	set_config(f, "allow-import", "maybe");
	g_assert_false(fixture_try_load(f, &error));
	g_assert_nonnull(strstr(f->log->str, "allow-import"));
	fixture_unload(f);
	g_clear_error(&error);

	/* a module that does not exist is not the loader's business: the op says it */
	set_config(f, "allow-import", NULL);
	set_config(f, "module", "/nonexistent/libpkcs11-missing.so");
	fixture_load(f);
	g_assert_cmpint(op_load(f, HUB_CERT_ROLE_PERMANENT, NULL, NULL), ==, -ENODEV);
	g_assert_nonnull(strstr(f->msg, "Cannot load PKCS#11 module /nonexistent/libpkcs11-missing.so"));
	g_assert_cmpint(op_generate(f, HUB_CERT_ROLE_PERMANENT, HUB_KEY_TYPE_EC_P256), ==, -ENODEV);
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
	g_autofree char *dump = g_build_filename(f->tmpdir, "privkey.der", NULL);
	char *out;
	STACK_OF(X509) *chain = NULL;
	EVP_PKEY *key = NULL;

	fixture_load(f);
	assert_ok(f, op_generate(f, HUB_CERT_ROLE_PERMANENT, HUB_KEY_TYPE_EC_P256));
	assert_ok(f, op_load(f, HUB_CERT_ROLE_PERMANENT, &chain, &key));
	g_assert_null(chain); /* a key, no certificate yet */
	g_assert_nonnull(key);
	g_assert_cmpint(EVP_PKEY_get_base_id(key), ==, EVP_PKEY_EC);
	g_assert_cmpint(EVP_PKEY_get_bits(key), ==, 256);
	assert_signs(key, 0);
	assert_not_exportable(key);
	assert_token_key_protected("Device Priv TLS Key", TRUE);
	g_assert_cmpuint(raw_count("Device Pub TLS Key", CKO_PUBLIC_KEY), ==, 1);
	/* the other role is untouched */
	g_assert_cmpint(op_load(f, HUB_CERT_ROLE_CLAIM, NULL, NULL), ==, -ENOENT);

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

	fixture_load(f);
	assert_ok(f, op_generate(f, HUB_CERT_ROLE_PERMANENT, HUB_KEY_TYPE_EC_P256));
	assert_ok(f, op_load(f, HUB_CERT_ROLE_PERMANENT, NULL, &key));
	/* X509_sign with the token key: the signature is made on the token */
	cert = make_cert(key, key, "hub-pkcs11-test", 1);
	cert_key = X509_get0_pubkey(cert);
	g_assert_cmpint(X509_verify(cert, cert_key), ==, 1);
	intermediate = make_software_cert("hub-intermediate", 2);
	sk_X509_push(chain, cert);
	sk_X509_push(chain, intermediate);
	assert_ok(f, op_store(f, HUB_CERT_ROLE_PERMANENT, chain));
	EVP_PKEY_free(key);
	key = NULL;

	ca1 = make_software_cert("hub-root-1", 10);
	ca2 = make_software_cert("hub-root-2", 11);
	sk_X509_zero(chain);
	sk_X509_push(chain, ca1);
	sk_X509_push(chain, ca2);
	assert_ok(f, op_store(f, HUB_CERT_ROLE_ROOT_CA, chain));

	/* daemon restart */
	fixture_unload(f);
	fixture_load(f);

	assert_ok(f, op_load(f, HUB_CERT_ROLE_PERMANENT, &loaded, &key));
	g_assert_cmpint(sk_X509_num(loaded), ==, 2);
	g_assert_cmpint(X509_cmp(sk_X509_value(loaded, 0), cert), ==, 0);
	g_assert_cmpint(X509_cmp(sk_X509_value(loaded, 1), intermediate), ==, 0);
	g_assert_cmpint(X509_check_private_key(sk_X509_value(loaded, 0), key), ==, 1);
	g_assert_true(sign_and_verify(key, X509_get0_pubkey(cert), 0));
	sk_X509_pop_free(loaded, X509_free);
	loaded = NULL;
	EVP_PKEY_free(key);
	key = (EVP_PKEY *)(uintptr_t)1;

	assert_ok(f, op_load(f, HUB_CERT_ROLE_ROOT_CA, &loaded, &key));
	g_assert_null(key); /* the root CA role has no key */
	g_assert_cmpint(sk_X509_num(loaded), ==, 2);
	g_assert_cmpint(X509_cmp(sk_X509_value(loaded, 0), ca1), ==, 0);
	g_assert_cmpint(X509_cmp(sk_X509_value(loaded, 1), ca2), ==, 0);
	sk_X509_pop_free(loaded, X509_free);
	loaded = NULL;

	/* storing replaces: one anchor left, one leaf left */
	sk_X509_zero(chain);
	sk_X509_push(chain, ca2);
	assert_ok(f, op_store(f, HUB_CERT_ROLE_ROOT_CA, chain));
	assert_ok(f, op_load(f, HUB_CERT_ROLE_ROOT_CA, &loaded, NULL));
	g_assert_cmpint(sk_X509_num(loaded), ==, 1);
	g_assert_cmpint(X509_cmp(sk_X509_value(loaded, 0), ca2), ==, 0);
	sk_X509_pop_free(loaded, X509_free);
	loaded = NULL;
	sk_X509_zero(chain);
	sk_X509_push(chain, cert);
	assert_ok(f, op_store(f, HUB_CERT_ROLE_PERMANENT, chain));
	assert_ok(f, op_load(f, HUB_CERT_ROLE_PERMANENT, &loaded, NULL));
	g_assert_cmpint(sk_X509_num(loaded), ==, 1);
	sk_X509_pop_free(loaded, X509_free);
	g_assert_cmpuint(raw_count("Device Cert", CKO_CERTIFICATE), ==, 1);
	g_assert_cmpuint(raw_count("Root Cert", CKO_CERTIFICATE), ==, 1);

	/* an empty chain is bad input */
	sk_X509_zero(chain);
	g_assert_cmpint(op_store(f, HUB_CERT_ROLE_PERMANENT, chain), ==, -EINVAL);
	g_assert_cmpstr(f->msg, !=, "");

	sk_X509_free(chain);
	X509_free(cert);
	X509_free(intermediate);
	X509_free(ca1);
	X509_free(ca2);
}

static void test_rsa(Fixture *f, gconstpointer data)
{
	EVP_PKEY *key = NULL;

	fixture_load(f);
	assert_ok(f, op_generate(f, HUB_CERT_ROLE_CLAIM, HUB_KEY_TYPE_RSA_2048));
	assert_ok(f, op_load(f, HUB_CERT_ROLE_CLAIM, NULL, &key));
	g_assert_cmpint(EVP_PKEY_get_base_id(key), ==, EVP_PKEY_RSA);
	g_assert_cmpint(EVP_PKEY_get_bits(key), ==, 2048);
	assert_signs(key, RSA_PKCS1_PADDING);
	assert_signs(key, RSA_PKCS1_PSS_PADDING);
	assert_not_exportable(key);
	assert_token_key_protected("Claim Key", TRUE);
	EVP_PKEY_free(key);

	/* unknown key types are refused before the token is asked */
	g_assert_cmpint(op_generate(f, HUB_CERT_ROLE_CLAIM, 99), ==, -ENOTSUP);
	g_assert_cmpstr(f->msg, !=, "");
}

static void test_import(Fixture *f, gconstpointer data)
{
	EVP_PKEY *soft_ec = EVP_EC_gen("P-256");
	EVP_PKEY *soft_rsa = EVP_RSA_gen(2048);
	EVP_PKEY *p384 = EVP_EC_gen("P-384");
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	EVP_PKEY *key = NULL;

	fixture_load(f);
	assert_ok(f, op_import(f, HUB_CERT_ROLE_CLAIM, soft_ec));
	assert_ok(f, op_load(f, HUB_CERT_ROLE_CLAIM, NULL, &key));
	g_assert_cmpint(EVP_PKEY_eq(key, soft_ec), ==, 1);
	g_assert_true(sign_and_verify(key, soft_ec, 0));
	assert_not_exportable(key);
	assert_token_key_protected("Claim Key", FALSE);
	EVP_PKEY_free(key);

	assert_ok(f, op_import(f, HUB_CERT_ROLE_PERMANENT, soft_rsa));
	assert_ok(f, op_load(f, HUB_CERT_ROLE_PERMANENT, NULL, &key));
	g_assert_cmpint(EVP_PKEY_eq(key, soft_rsa), ==, 1);
	g_assert_true(sign_and_verify(key, soft_rsa, RSA_PKCS1_PADDING));
	g_assert_true(sign_and_verify(key, soft_rsa, RSA_PKCS1_PSS_PADDING));
	assert_token_key_protected("Device Priv TLS Key", FALSE);
	EVP_PKEY_free(key);

	/* importing again replaces: still one key */
	assert_ok(f, op_import(f, HUB_CERT_ROLE_PERMANENT, soft_ec));
	g_assert_cmpuint(raw_count("Device Priv TLS Key", CKO_PRIVATE_KEY), ==, 1);
	g_assert_cmpuint(raw_count("Device Pub TLS Key", CKO_PUBLIC_KEY), ==, 1);

	g_assert_cmpint(op_import(f, HUB_CERT_ROLE_CLAIM, p384), ==, -ENOTSUP);
	g_assert_nonnull(strstr(f->msg, "P-256"));
	g_assert_cmpint(op_import(f, HUB_CERT_ROLE_CLAIM, ed), ==, -ENOTSUP);
	g_assert_cmpint(op_import(f, HUB_CERT_ROLE_ROOT_CA, soft_ec), ==, -ENOTSUP);
	/* the failed imports left the claim key in place */
	assert_ok(f, op_load(f, HUB_CERT_ROLE_CLAIM, NULL, &key));
	g_assert_cmpint(EVP_PKEY_eq(key, soft_ec), ==, 1);
	EVP_PKEY_free(key);

	fixture_unload(f);
	set_config(f, "allow-import", "false");
	fixture_load(f);
	g_assert_cmpint(op_import(f, HUB_CERT_ROLE_PERMANENT, soft_rsa), ==, -ENOTSUP);
	g_assert_nonnull(strstr(f->msg, "allow-import=false"));

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

	fixture_load(f);
	assert_ok(f, op_generate(f, HUB_CERT_ROLE_CLAIM, HUB_KEY_TYPE_EC_P256));
	assert_ok(f, op_generate(f, HUB_CERT_ROLE_PERMANENT, HUB_KEY_TYPE_EC_P256));
	sk_X509_push(chain, cert);
	assert_ok(f, op_store(f, HUB_CERT_ROLE_CLAIM, chain));
	assert_ok(f, op_store(f, HUB_CERT_ROLE_ROOT_CA, chain));

	assert_ok(f, op_erase(f, HUB_CERT_ROLE_CLAIM));
	g_assert_cmpint(op_load(f, HUB_CERT_ROLE_CLAIM, NULL, NULL), ==, -ENOENT);
	g_assert_cmpuint(raw_count("Claim Key", CKO_PRIVATE_KEY), ==, 0);
	g_assert_cmpuint(raw_count("Claim Pub Key", CKO_PUBLIC_KEY), ==, 0);
	g_assert_cmpuint(raw_count("Claim Cert", CKO_CERTIFICATE), ==, 0);
	assert_ok(f, op_erase(f, HUB_CERT_ROLE_CLAIM)); /* nothing left: still 0 */
	/* the other roles are untouched */
	assert_ok(f, op_load(f, HUB_CERT_ROLE_PERMANENT, NULL, &key));
	g_assert_nonnull(key);
	EVP_PKEY_free(key);
	assert_ok(f, op_erase(f, HUB_CERT_ROLE_ROOT_CA));
	g_assert_cmpint(op_load(f, HUB_CERT_ROLE_ROOT_CA, NULL, NULL), ==, -ENOENT);

	/* the attestation role is not served; the root CA role has no key */
	g_assert_cmpint(op_generate(f, HUB_CERT_ROLE_ATTESTATION, HUB_KEY_TYPE_EC_P256), ==, -ENOTSUP);
	g_assert_nonnull(strstr(f->msg, "attestation"));
	g_assert_cmpint(op_load(f, HUB_CERT_ROLE_ATTESTATION, NULL, NULL), ==, -ENOTSUP);
	g_assert_cmpint(op_erase(f, HUB_CERT_ROLE_ATTESTATION), ==, -ENOTSUP);
	g_assert_cmpint(op_store(f, HUB_CERT_ROLE_ATTESTATION, chain), ==, -ENOTSUP);
	g_assert_cmpint(op_generate(f, HUB_CERT_ROLE_ROOT_CA, HUB_KEY_TYPE_EC_P256), ==, -ENOTSUP);
	g_assert_nonnull(strstr(f->msg, "certificates only"));
	g_assert_cmpint(op_generate(f, 99, HUB_KEY_TYPE_EC_P256), ==, -EINVAL);

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

	fixture_load(f);
	assert_ok(f, op_generate(f, HUB_CERT_ROLE_PERMANENT, HUB_KEY_TYPE_EC_P256));
	assert_ok(f, op_load(f, HUB_CERT_ROLE_PERMANENT, NULL, &old));
	assert_signs(old, 0);
	assert_ok(f, op_generate(f, HUB_CERT_ROLE_PERMANENT, HUB_KEY_TYPE_EC_P256));
	assert_ok(f, op_load(f, HUB_CERT_ROLE_PERMANENT, NULL, &fresh));
	g_assert_cmpint(EVP_PKEY_eq(old, fresh), !=, 1);
	pub = public_copy(old);
	g_assert_false(sign_and_verify(old, pub, 0));
	EVP_PKEY_free(pub);
	assert_signs(fresh, 0);
	assert_ok(f, op_erase(f, HUB_CERT_ROLE_PERMANENT));
	pub = public_copy(fresh);
	g_assert_false(sign_and_verify(fresh, pub, 0));
	EVP_PKEY_free(pub);
	EVP_PKEY_free(old);
	EVP_PKEY_free(fresh);

	/* The same when the handle went stale first: SoftHSM renumbers private
	 * objects after a logout, so the key searches its label and CKA_ID
	 * again and finds the new key, which must not sign for it. */
	assert_ok(f, op_generate(f, HUB_CERT_ROLE_PERMANENT, HUB_KEY_TYPE_EC_P256));
	assert_ok(f, op_load(f, HUB_CERT_ROLE_PERMANENT, NULL, &old));
	close_all_sessions();
	assert_ok(f, op_generate(f, HUB_CERT_ROLE_PERMANENT, HUB_KEY_TYPE_EC_P256));
	pub = public_copy(old);
	g_assert_false(sign_and_verify(old, pub, 0));
	EVP_PKEY_free(pub);
	EVP_PKEY_free(old);
}

/* Sessions closed behind the plugin's back: the next op and the next
 * signature reconnect. */
static void test_reconnect(Fixture *f, gconstpointer data)
{
	EVP_PKEY *key = NULL;

	fixture_load(f);
	assert_ok(f, op_generate(f, HUB_CERT_ROLE_PERMANENT, HUB_KEY_TYPE_EC_P256));
	assert_ok(f, op_load(f, HUB_CERT_ROLE_PERMANENT, NULL, &key));

	close_all_sessions();
	assert_signs(key, 0);

	close_all_sessions();
	g_assert_cmpuint(f->log->len, ==, 0);
	assert_ok(f, op_load(f, HUB_CERT_ROLE_PERMANENT, NULL, NULL));
	g_assert_nonnull(strstr(f->log->str, "reconnecting"));
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
	fixture_load(f);

	g_assert_cmpint(op_load(f, HUB_CERT_ROLE_PERMANENT, NULL, NULL), ==, -EACCES);
	g_assert_nonnull(strstr(f->msg, "CKR_PIN_INCORRECT"));
	g_assert_nonnull(strstr(f->msg, "'" TOKEN "'"));
	assert_no_pin_leak(f);
	for (int i = 0; i < 5; i++) {
		g_assert_cmpint(op_generate(f, HUB_CERT_ROLE_PERMANENT, HUB_KEY_TYPE_EC_P256), ==, -EACCES);
		g_assert_nonnull(strstr(f->msg, "CKR_PIN_INCORRECT"));
		assert_no_pin_leak(f);
	}
	g_assert_cmpint(op_erase(f, HUB_CERT_ROLE_CLAIM), ==, -EACCES);
	/* the same wrong PIN written again is still the same PIN */
	write_pin_file(f, WRONG_PIN, 0600);
	g_assert_cmpint(op_load(f, HUB_CERT_ROLE_CLAIM, NULL, NULL), ==, -EACCES);
	g_assert_cmpuint(spy_count("C_Login") - logins, ==, 1);

	/* fixed: works at once */
	write_pin_file(f, PIN, 0600);
	assert_ok(f, op_generate(f, HUB_CERT_ROLE_PERMANENT, HUB_KEY_TYPE_EC_P256));
	assert_ok(f, op_load(f, HUB_CERT_ROLE_PERMANENT, NULL, &key));
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
	set_config(f, "pin-file", NULL);
	set_config(f, "pin-env", "HUB_TEST_PKCS11_PIN");
	g_unsetenv("HUB_TEST_PKCS11_PIN");
	fixture_load(f);

	g_assert_cmpint(op_load(f, HUB_CERT_ROLE_PERMANENT, NULL, NULL), ==, -EACCES);
	g_assert_nonnull(strstr(f->msg, "HUB_TEST_PKCS11_PIN"));
	g_setenv("HUB_TEST_PKCS11_PIN", WRONG_PIN, TRUE);
	for (int i = 0; i < 4; i++) {
		g_assert_cmpint(op_load(f, HUB_CERT_ROLE_PERMANENT, NULL, NULL), ==, -EACCES);
		g_assert_nonnull(strstr(f->msg, "CKR_PIN_INCORRECT"));
		assert_no_pin_leak(f);
	}
	g_assert_cmpuint(spy_count("C_Login") - logins, ==, 1);
	g_setenv("HUB_TEST_PKCS11_PIN", PIN, TRUE);
	g_assert_cmpint(op_load(f, HUB_CERT_ROLE_PERMANENT, NULL, NULL), ==, -ENOENT);
	g_assert_cmpuint(spy_count("C_Login") - logins, ==, 2);
	assert_no_pin_leak(f);
	fixture_unload(f);
	g_unsetenv("HUB_TEST_PKCS11_PIN");
}

static void test_bad_config(Fixture *f, gconstpointer data)
{
	/* a PIN file others can read is refused before anything is sent */
	write_pin_file(f, PIN, 0644);
	fixture_load(f);
	g_assert_cmpint(op_load(f, HUB_CERT_ROLE_PERMANENT, NULL, NULL), ==, -EACCES);
	g_assert_nonnull(strstr(f->msg, f->pin_path));
	g_assert_nonnull(strstr(f->msg, "0644"));
	assert_no_pin_leak(f);
	fixture_unload(f);
	write_pin_file(f, PIN, 0600);

	/* no PIN configured: the message names the keys to set */
	set_config(f, "pin-file", NULL);
	fixture_load(f);
	g_assert_cmpint(op_generate(f, HUB_CERT_ROLE_CLAIM, HUB_KEY_TYPE_EC_P256), ==, -EACCES);
	g_assert_nonnull(strstr(f->msg, "pin-file"));
	g_assert_nonnull(strstr(f->msg, "pin-env"));
	fixture_unload(f);
	set_config(f, "pin-file", "pin");

	/* a missing PIN file */
	set_config(f, "pin-file", "/nonexistent/pin");
	fixture_load(f);
	g_assert_cmpint(op_load(f, HUB_CERT_ROLE_CLAIM, NULL, NULL), ==, -EACCES);
	g_assert_nonnull(strstr(f->msg, "/nonexistent/pin"));
	fixture_unload(f);
	set_config(f, "pin-file", "pin");

	/* no token with that label: the message lists the labels found */
	set_config(f, "token-label", "no-such-token");
	fixture_load(f);
	g_assert_cmpint(op_load(f, HUB_CERT_ROLE_PERMANENT, NULL, NULL), ==, -ENODEV);
	g_assert_nonnull(strstr(f->msg, "'no-such-token'"));
	g_assert_nonnull(strstr(f->msg, "tokens found: '" TOKEN "'"));
	/* ... and finds it once it exists, without a restart */
	{
		g_autoptr(GError) error = NULL;

		g_assert_true(hub_test_softhsm_add_token(f->hsm, "no-such-token", PIN, SO_PIN, &error));
		g_assert_no_error(error);
	}
	g_assert_cmpint(op_load(f, HUB_CERT_ROLE_PERMANENT, NULL, NULL), ==, -ENOENT);
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
	fixture_load(f);
	assert_ok(f, op_generate(f, HUB_CERT_ROLE_PERMANENT, HUB_KEY_TYPE_EC_P256));
	assert_ok(f, op_load(f, HUB_CERT_ROLE_PERMANENT, NULL, &key));
	pub = public_copy(key);
	for (int i = 0; i < 200; i++)
		g_assert_true(sign_and_verify(key, pub, 0));
	for (int i = 0; i < 20; i++) {
		EVP_PKEY *again = NULL;

		assert_ok(f, op_load(f, HUB_CERT_ROLE_PERMANENT, NULL, &again));
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

static void stage_plugin(void)
{
	const char *builddir = g_getenv("HUB_TOP_BUILDDIR");
	g_autofree char *src = g_build_filename(builddir ? builddir : ".", "certhandlers", "pkcs11", ".libs",
						"certstore-pkcs11.so", NULL);
	g_autoptr(GError) error = NULL;
	g_autofree char *contents = NULL;
	gsize len = 0;

	stage_dir = g_dir_make_tmp("hub-pkcs11-stage-XXXXXX", &error);
	g_assert_no_error(error);
	plugin_path = g_build_filename(stage_dir, "certstore-pkcs11.so", NULL);
	g_assert_true(g_file_get_contents(src, &contents, &len, &error));
	g_assert_no_error(error);
	g_assert_true(g_file_set_contents(plugin_path, contents, (gssize)len, &error));
	g_assert_no_error(error);
	g_assert_cmpint(g_chmod(plugin_path, 0755), ==, 0);
}

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
	stage_plugin();
	/* before any thread exists (g_setenv) and before the spy is first used */
	spy_log = g_build_filename(stage_dir, "pkcs11-spy.log", NULL);
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
	rm_rf(stage_dir);
	g_free(spy_log);
	g_free(stage_dir);
	g_free(plugin_path);
	return ret;
}
