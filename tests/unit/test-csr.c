/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-csr.c - PKCS#10 requests: signature, subject, version, input checks, sign-only keys. */
#include "config.h"

#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "hub-csr.h"
#include "hub-error.h"
#include "hub-openssl.h"
#include "hub-test-opaque-key.h"
#include "hub-test-pki.h"

static X509_REQ *parse(const char *pem)
{
	g_autoptr(BIO) bio = BIO_new_mem_buf(pem, -1);
	X509_REQ *req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);

	g_assert_nonnull(req);
	return req;
}

static char *entry(X509_REQ *req, int nid)
{
	X509_NAME *name = X509_REQ_get_subject_name(req);
	int index = X509_NAME_get_index_by_NID(name, nid, -1);
	unsigned char *utf8 = NULL;
	char *text;

	if (index < 0)
		return NULL;
	g_assert_cmpint(ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index))), >=, 0);
	text = g_strdup((const char *)utf8);
	OPENSSL_free(utf8);
	return text;
}

/* Everything a CA checks before issuing. */
static void assert_valid_request(const char *pem, EVP_PKEY *key, int signature_nid, const char *cn, const char *serial)
{
	g_autoptr(X509_REQ) req = parse(pem);
	g_autoptr(EVP_PKEY) other = hub_test_key_new("EC");
	g_autofree char *got_cn = entry(req, NID_commonName);
	g_autofree char *got_serial = entry(req, NID_serialNumber);

	g_assert_true(g_str_has_prefix(pem, "-----BEGIN CERTIFICATE REQUEST-----\n"));
	g_assert_cmpint(X509_REQ_verify(req, X509_REQ_get0_pubkey(req)), ==, 1);
	g_assert_cmpint(EVP_PKEY_eq(X509_REQ_get0_pubkey(req), key), ==, 1);
	g_assert_cmpint(X509_REQ_get_version(req), ==, X509_REQ_VERSION_1);
	g_assert_cmpint(X509_REQ_get_signature_nid(req), ==, signature_nid);
	g_assert_cmpstr(got_cn, ==, cn);
	g_assert_cmpstr(got_serial, ==, serial);
	g_assert_cmpint(X509_NAME_entry_count(X509_REQ_get_subject_name(req)), ==, serial ? 2 : 1);
	g_assert_true(hub_csr_matches_key(pem, key));
	g_assert_false(hub_csr_matches_key(pem, other));
	g_assert_cmpuint(ERR_peek_error(), ==, 0);
}

static void test_ec_key(void)
{
	g_autoptr(EVP_PKEY) key = hub_test_key_new("EC");
	g_autoptr(GError) error = NULL;
	g_autofree char *pem = hub_csr_create(key, "hub-0001", "SN-42", &error);

	g_assert_no_error(error);
	assert_valid_request(pem, key, NID_ecdsa_with_SHA256, "hub-0001", "SN-42");
}

static void test_rsa_key(void)
{
	g_autoptr(EVP_PKEY) key = hub_test_key_new("RSA");
	g_autoptr(GError) error = NULL;
	g_autofree char *pem = hub_csr_create(key, "hub-rsa", NULL, &error);

	g_assert_no_error(error);
	assert_valid_request(pem, key, NID_sha256WithRSAEncryption, "hub-rsa", NULL);
}

/* Like a TPM or token key: public half only, signing delegated. */
static void test_sign_only_keys(void)
{
	const char *const types[] = { "EC", "RSA" };

	for (guint i = 0; i < G_N_ELEMENTS(types); i++) {
		g_autoptr(EVP_PKEY) software = hub_test_key_new(types[i]);
		g_autoptr(EVP_PKEY) opaque = hub_test_opaque_key_new(software);
		g_autoptr(GError) error = NULL;
		g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
		g_autofree char *pem = NULL;

		/* The twin really has no private key to export. */
		g_assert_false(PEM_write_bio_PrivateKey(bio, opaque, NULL, NULL, 0, NULL, NULL));
		ERR_clear_error();
		pem = hub_csr_create(opaque, "hub-hardware", "TPM-1", &error);
		g_assert_no_error(error);
		g_assert_cmpuint(hub_test_opaque_key_signatures(opaque), ==, 1);
		assert_valid_request(pem, software,
				     i == 0 ? NID_ecdsa_with_SHA256 : NID_sha256WithRSAEncryption, "hub-hardware",
				     "TPM-1");
	}
}

/* X.520 counts characters, not bytes. */
static void test_common_name_length(void)
{
	g_autoptr(EVP_PKEY) key = hub_test_key_new("EC");
	g_autoptr(GError) error = NULL;
	g_autofree char *ascii64 = g_strnfill(64, 'a');
	g_autofree char *ascii65 = g_strnfill(65, 'a');
	g_autoptr(GString) umlauts64 = g_string_new(NULL);
	g_autofree char *pem = NULL;

	for (guint i = 0; i < 64; i++)
		g_string_append(umlauts64, "ü");
	pem = hub_csr_create(key, ascii64, NULL, &error);
	g_assert_no_error(error);
	g_clear_pointer(&pem, g_free);
	pem = hub_csr_create(key, umlauts64->str, NULL, &error);
	g_assert_no_error(error);
	assert_valid_request(pem, key, NID_ecdsa_with_SHA256, umlauts64->str, NULL);
	g_clear_pointer(&pem, g_free);

	pem = hub_csr_create(key, ascii65, NULL, &error);
	g_assert_null(pem);
	g_assert_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT);
	g_assert_nonnull(strstr(error->message, "65 characters"));
	g_assert_nonnull(strstr(error->message, "at most 64"));
}

static void assert_rejected(EVP_PKEY *key, const char *cn, const char *serial, const char *expected)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *pem = hub_csr_create(key, cn, serial, &error);

	g_assert_null(pem);
	g_assert_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT);
	if (!strstr(error->message, expected))
		g_error("Expected \"%s\" in \"%s\"", expected, error->message);
	g_assert_cmpuint(ERR_peek_error(), ==, 0);
}

static void test_bad_input(void)
{
	g_autoptr(EVP_PKEY) key = hub_test_key_new("EC");
	g_autofree char *serial65 = g_strnfill(65, '1');

	assert_rejected(key, "hub-\xff\xfe", NULL, "not valid UTF-8");
	assert_rejected(key, "hub-\xc3", NULL, "not valid UTF-8");
	assert_rejected(key, "", NULL, "common name is empty");
	assert_rejected(key, NULL, NULL, "common name is empty");
	assert_rejected(key, "hub\nevil", NULL, "control character");
	assert_rejected(NULL, "hub", NULL, "No key");
	assert_rejected(key, "hub", "", "serial number is empty");
	assert_rejected(key, "hub", serial65, "65 characters");
	assert_rejected(key, "hub", "SN_1", "may only contain");
	assert_rejected(key, "hub", "Süd", "may only contain");
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/hub/csr/ec-key", test_ec_key);
	g_test_add_func("/hub/csr/rsa-key", test_rsa_key);
	g_test_add_func("/hub/csr/sign-only-keys", test_sign_only_keys);
	g_test_add_func("/hub/csr/common-name-length", test_common_name_length);
	g_test_add_func("/hub/csr/bad-input", test_bad_input);
	return g_test_run();
}
