/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-pem.c - PEM parsing with errors a person can act on (src/hub-pem.c). */
#include "config.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "hub-pem.h"

static EVP_PKEY *new_key(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");

	g_assert_nonnull(key);
	return key;
}

/* A self-signed certificate for @key, as PEM (g_free). */
static char *self_signed_pem(EVP_PKEY *key, const char *cn)
{
	X509 *cert = X509_new();
	STACK_OF(X509) *chain = sk_X509_new_null();
	char *pem;

	X509_set_version(cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), 7);
	X509_gmtime_adj(X509_getm_notBefore(cert), 0);
	X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
	X509_set_pubkey(cert, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(cert, X509_get_subject_name(cert));
	g_assert_cmpint(X509_sign(cert, key, EVP_sha256()), >, 0);
	sk_X509_push(chain, cert);
	pem = hub_pem_format_certificates(chain);
	sk_X509_pop_free(chain, X509_free);
	return pem;
}

static void test_certificates_round_trip(void)
{
	EVP_PKEY *key = new_key();
	g_autofree char *a = self_signed_pem(key, "leaf");
	g_autofree char *b = self_signed_pem(key, "intermediate");
	g_autofree char *both = g_strconcat(a, b, NULL);
	char message[256] = "";
	STACK_OF(X509) *chain = hub_pem_parse_certificates(both, strlen(both), message, sizeof(message));

	g_assert_nonnull(chain);
	g_assert_cmpint(sk_X509_num(chain), ==, 2);
	g_assert_true(hub_pem_key_matches(sk_X509_value(chain, 0), key));
	sk_X509_pop_free(chain, X509_free);
	EVP_PKEY_free(key);
}

static void expect_cert_error(const char *text, const char *needle)
{
	char message[256] = "";
	STACK_OF(X509) *chain = hub_pem_parse_certificates(text, strlen(text), message, sizeof(message));

	g_assert_null(chain);
	g_test_message("message: %s", message);
	g_assert_nonnull(strstr(message, needle));
}

static void test_certificate_errors(void)
{
	EVP_PKEY *key = new_key();
	g_autofree char *pem = self_signed_pem(key, "x");
	g_auto(GStrv) lines = g_strsplit(pem, "\n", -1);
	g_autofree char *escaped = g_strjoinv("\\n", lines);
	g_autofree char *corrupt = g_strdup(pem);
	gsize key_len = 0;
	char *key_pem = hub_pem_format_private_key(key, &key_len);

	expect_cert_error("", "empty");
	expect_cert_error("  \n\t", "empty");
	expect_cert_error(escaped, "\\n");
	expect_cert_error("hello world", "no PEM certificate");
	expect_cert_error(key_pem, "only a private key");
	corrupt[40] = '!';
	expect_cert_error(corrupt, "corrupt");
	g_assert_true(hub_pem_has_escaped_newlines(escaped, strlen(escaped)));
	g_assert_false(hub_pem_has_escaped_newlines(pem, strlen(pem)));
	hub_pem_free_secret(key_pem, key_len);
	EVP_PKEY_free(key);
}

static void test_private_keys(void)
{
	EVP_PKEY *key = new_key();
	EVP_PKEY *other = new_key();
	g_autofree char *cert = self_signed_pem(key, "x");
	gsize len = 0;
	char *pem = hub_pem_format_private_key(key, &len);
	char message[256] = "";
	EVP_PKEY *parsed = hub_pem_parse_private_key(pem, len, message, sizeof(message));
	g_autofree char *type = hub_pem_describe_key(parsed);
	STACK_OF(X509) *chain = hub_pem_parse_certificates(cert, strlen(cert), message, sizeof(message));
	BIO *bio = BIO_new(BIO_s_mem());
	char *encrypted = NULL;
	long encrypted_len;

	g_assert_nonnull(parsed);
	g_assert_cmpint(EVP_PKEY_eq(parsed, key), ==, 1);
	g_assert_cmpstr(type, ==, "EC P-256");
	g_assert_true(hub_pem_key_matches(sk_X509_value(chain, 0), parsed));
	g_assert_false(hub_pem_key_matches(sk_X509_value(chain, 0), other));

	/* A certificate where a key belongs, and an encrypted key. */
	g_assert_null(hub_pem_parse_private_key(cert, strlen(cert), message, sizeof(message)));
	g_assert_nonnull(strstr(message, "only a certificate"));
	g_assert_cmpint(PEM_write_bio_PKCS8PrivateKey(bio, key, EVP_aes_256_cbc(), NULL, 0, NULL, (void *)"secret"),
			==, 1);
	encrypted_len = BIO_get_mem_data(bio, &encrypted);
	g_assert_null(hub_pem_parse_private_key(encrypted, (gsize)encrypted_len, message, sizeof(message)));
	g_assert_nonnull(strstr(message, "encrypted"));

	BIO_free(bio);
	sk_X509_pop_free(chain, X509_free);
	hub_pem_free_secret(pem, len);
	EVP_PKEY_free(parsed);
	EVP_PKEY_free(other);
	EVP_PKEY_free(key);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/pem/certificates-round-trip", test_certificates_round_trip);
	g_test_add_func("/pem/certificate-errors", test_certificate_errors);
	g_test_add_func("/pem/private-keys", test_private_keys);
	return g_test_run();
}
