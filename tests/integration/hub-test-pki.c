/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gstdio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "hub-error.h"
#include "hub-openssl.h"
#include "hub-test-pki.h"

struct _HubTestPki {
	X509 *ca;
	EVP_PKEY *ca_key;
	char *ca_path;
	char *server_cert_path;
	char *server_key_path;
};

/* Extensions as "name", "value" pairs in openssl.cnf syntax, NULL-terminated. */
static const char *const ca_extensions[] = {
	"basicConstraints", "critical,CA:TRUE",
	"keyUsage", "critical,keyCertSign,cRLSign",
	"subjectKeyIdentifier", "hash",
	"authorityKeyIdentifier", "keyid:always",
	NULL,
};

static const char *const server_extensions[] = {
	"basicConstraints", "critical,CA:FALSE",
	"keyUsage", "critical,digitalSignature",
	"extendedKeyUsage", "serverAuth",
	"subjectAltName", "DNS:localhost,IP:127.0.0.1",
	"subjectKeyIdentifier", "hash",
	"authorityKeyIdentifier", "keyid:always",
	NULL,
};

static const char *const client_extensions[] = {
	"basicConstraints", "critical,CA:FALSE",
	"keyUsage", "critical,digitalSignature",
	"extendedKeyUsage", "clientAuth",
	"subjectKeyIdentifier", "hash",
	"authorityKeyIdentifier", "keyid:always",
	NULL,
};

static void assert_openssl(gboolean ok, const char *what)
{
	if (!ok) {
		g_autofree char *queue = hub_openssl_error_take();

		g_error("Test PKI: %s failed: %s", what, queue ? queue : "(no OpenSSL error)");
	}
}

EVP_PKEY *hub_test_key_new(const char *type)
{
	EVP_PKEY *key = NULL;

	if (g_str_equal(type, "EC"))
		key = EVP_EC_gen("P-256");
	else if (g_str_equal(type, "RSA"))
		key = EVP_RSA_gen(2048);
	else
		g_error("Test PKI: unknown key type %s", type);
	assert_openssl(key != NULL, "key generation");
	return key;
}

static X509_NAME *name_cn(const char *common_name)
{
	X509_NAME *name = X509_NAME_new();

	assert_openssl(name && X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
							  (const unsigned char *)common_name, -1, -1, 0),
		       "subject");
	return name;
}

/* @issuer NULL: self-signed. @days < 0: expired |@days| days ago. */
static X509 *make_cert(X509 *issuer, EVP_PKEY *issuer_key, const X509_NAME *subject, EVP_PKEY *public_key, int days,
		       const char *const *extensions)
{
	g_autoptr(X509) cert = X509_new();
	X509V3_CTX v3;
	guint64 serial = ((guint64)g_random_int() << 31) ^ g_random_int();
	long not_after = (long)days * 86400;
	long not_before = days >= 0 ? -3600 : not_after - 86400;

	assert_openssl(cert && X509_set_version(cert, X509_VERSION_3) &&
			       ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert), serial | 1) &&
			       X509_set_subject_name(cert, subject) &&
			       X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : subject) &&
			       X509_gmtime_adj(X509_getm_notBefore(cert), not_before) &&
			       X509_gmtime_adj(X509_getm_notAfter(cert), not_after) && X509_set_pubkey(cert, public_key),
		       "certificate fields");
	/* The subject key id goes first so a self-signed AKI can refer to it. */
	X509V3_set_ctx(&v3, issuer ? issuer : cert, cert, NULL, NULL, 0);
	for (guint i = 0; extensions[i]; i += 2) {
		X509_EXTENSION *ext = X509V3_EXT_nconf(NULL, &v3, extensions[i], extensions[i + 1]);

		assert_openssl(ext && X509_add_ext(cert, ext, -1), extensions[i]);
		X509_EXTENSION_free(ext);
	}
	assert_openssl(X509_sign(cert, issuer_key, EVP_sha256()) > 0, "certificate signature");
	return g_steal_pointer(&cert);
}

static char *cert_to_pem(X509 *cert)
{
	g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
	char *data = NULL;
	long len;

	assert_openssl(bio && PEM_write_bio_X509(bio, cert), "certificate PEM");
	len = BIO_get_mem_data(bio, &data);
	return g_strndup(data, (gsize)len);
}

static char *key_to_pem(EVP_PKEY *key)
{
	g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
	char *data = NULL;
	long len;

	assert_openssl(bio && PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL), "key PEM");
	len = BIO_get_mem_data(bio, &data);
	return g_strndup(data, (gsize)len);
}

static void write_file(const char *path, const char *text, int mode)
{
	g_autoptr(GError) error = NULL;

	g_file_set_contents_full(path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, mode, &error);
	g_assert_no_error(error);
}

HubTestPki *hub_test_pki_new(const char *dir, const char *ca_name)
{
	HubTestPki *pki = g_new0(HubTestPki, 1);
	g_autoptr(X509_NAME) ca_subject = name_cn(ca_name);
	g_autoptr(X509_NAME) server_subject = name_cn("localhost");
	g_autoptr(EVP_PKEY) server_key = hub_test_key_new("EC");
	g_autoptr(X509) server = NULL;
	g_autofree char *ca_pem = NULL;
	g_autofree char *server_pem = NULL;
	g_autofree char *server_key_pem = NULL;

	g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
	pki->ca_key = hub_test_key_new("EC");
	pki->ca = make_cert(NULL, pki->ca_key, ca_subject, pki->ca_key, 3650, ca_extensions);
	server = make_cert(pki->ca, pki->ca_key, server_subject, server_key, 30, server_extensions);

	pki->ca_path = g_build_filename(dir, "ca.crt", NULL);
	pki->server_cert_path = g_build_filename(dir, "server.crt", NULL);
	pki->server_key_path = g_build_filename(dir, "server.key", NULL);
	ca_pem = cert_to_pem(pki->ca);
	server_pem = cert_to_pem(server);
	server_key_pem = key_to_pem(server_key);
	write_file(pki->ca_path, ca_pem, 0644);
	write_file(pki->server_cert_path, server_pem, 0644);
	write_file(pki->server_key_path, server_key_pem, 0600);
	return pki;
}

void hub_test_pki_free(HubTestPki *pki)
{
	if (!pki)
		return;
	X509_free(pki->ca);
	EVP_PKEY_free(pki->ca_key);
	g_free(pki->ca_path);
	g_free(pki->server_cert_path);
	g_free(pki->server_key_path);
	g_free(pki);
}

const char *hub_test_pki_ca_path(HubTestPki *pki)
{
	return pki->ca_path;
}

const char *hub_test_pki_server_cert_path(HubTestPki *pki)
{
	return pki->server_cert_path;
}

const char *hub_test_pki_server_key_path(HubTestPki *pki)
{
	return pki->server_key_path;
}

X509 *hub_test_pki_ca(HubTestPki *pki)
{
	return pki->ca;
}

STACK_OF(X509) *hub_test_pki_trust_anchors(HubTestPki *pki)
{
	STACK_OF(X509) *anchors = sk_X509_new_null();

	assert_openssl(anchors && X509_up_ref(pki->ca) && sk_X509_push(anchors, pki->ca) > 0, "trust anchors");
	return anchors;
}

char *hub_test_pki_sign_csr(HubTestPki *pki, const char *csr_pem, int days, GError **error)
{
	g_autoptr(BIO) bio = BIO_new_mem_buf(csr_pem, -1);
	g_autoptr(X509_REQ) req = bio ? PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL) : NULL;
	g_autoptr(X509) cert = NULL;
	EVP_PKEY *public_key = req ? X509_REQ_get0_pubkey(req) : NULL;

	if (!public_key) {
		hub_openssl_set_error(error, HUB_ERROR_INVALID_ARGUMENT, "Not a PEM certificate request");
		return NULL;
	}
	/* A CA that skips this would certify keys nobody proved to hold. */
	if (X509_REQ_verify(req, public_key) != 1) {
		hub_openssl_set_error(error, HUB_ERROR_INVALID_ARGUMENT, "The request's signature does not verify");
		return NULL;
	}
	cert = make_cert(pki->ca, pki->ca_key, X509_REQ_get_subject_name(req), public_key, days, client_extensions);
	return cert_to_pem(cert);
}

char *hub_test_pki_issue_client(HubTestPki *pki, const char *common_name, int days, char **key_pem)
{
	g_autoptr(EVP_PKEY) key = hub_test_key_new("EC");
	g_autoptr(X509_NAME) subject = name_cn(common_name);
	g_autoptr(X509) cert = make_cert(pki->ca, pki->ca_key, subject, key, days, client_extensions);

	*key_pem = key_to_pem(key);
	return cert_to_pem(cert);
}

STACK_OF(X509) *hub_test_pem_to_chain(const char *pem)
{
	g_autoptr(BIO) bio = BIO_new_mem_buf(pem, -1);
	STACK_OF(X509) *chain = sk_X509_new_null();
	X509 *cert;

	while (bio && (cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)))
		sk_X509_push(chain, cert);
	/* The loop ends on "no start line": expected, not an error. */
	ERR_clear_error();
	if (sk_X509_num(chain) == 0) {
		sk_X509_free(chain);
		return NULL;
	}
	return chain;
}

EVP_PKEY *hub_test_pem_to_key(const char *pem)
{
	g_autoptr(BIO) bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;

	ERR_clear_error();
	return key;
}
