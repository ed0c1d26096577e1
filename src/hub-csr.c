/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "hub-csr.h"
#include "hub-error.h"
#include "hub-openssl.h"

static gboolean check_common_name(const char *common_name, GError **error)
{
	if (!common_name || !*common_name) {
		g_set_error_literal(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "The common name is empty");
		return FALSE;
	}
	if (!g_utf8_validate(common_name, -1, NULL)) {
		g_set_error_literal(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "The common name is not valid UTF-8");
		return FALSE;
	}
	if (g_utf8_strlen(common_name, -1) > HUB_CSR_MAX_COMMON_NAME) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT,
			    "The common name has %ld characters; X.520 allows at most %d", g_utf8_strlen(common_name, -1),
			    HUB_CSR_MAX_COMMON_NAME);
		return FALSE;
	}
	for (const char *p = common_name; *p; p = g_utf8_next_char(p)) {
		if (g_unichar_iscntrl(g_utf8_get_char(p))) {
			g_set_error_literal(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT,
					    "The common name contains a control character");
			return FALSE;
		}
	}
	return TRUE;
}

/* serialNumber is a PrintableString (RFC 5280 appendix A.1); OpenSSL would
 * reject other characters with a less helpful message. */
static gboolean check_serial_number(const char *serial_number, GError **error)
{
	static const char printable[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?";
	gsize len = strlen(serial_number);

	if (len == 0) {
		g_set_error_literal(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "The serial number is empty");
		return FALSE;
	}
	if (len > HUB_CSR_MAX_SERIAL_NUMBER) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT,
			    "The serial number has %zu characters; X.520 allows at most %d", len,
			    HUB_CSR_MAX_SERIAL_NUMBER);
		return FALSE;
	}
	if (strspn(serial_number, printable) != len) {
		g_set_error_literal(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT,
				    "The serial number may only contain letters, digits, spaces and '()+,-./:=?");
		return FALSE;
	}
	return TRUE;
}

static X509_NAME *build_subject(const char *common_name, const char *serial_number, GError **error)
{
	g_autoptr(X509_NAME) name = X509_NAME_new();

	if (!name ||
	    !X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8, (const unsigned char *)common_name, -1, -1,
					0) ||
	    (serial_number && !X509_NAME_add_entry_by_NID(name, NID_serialNumber, MBSTRING_UTF8,
							  (const unsigned char *)serial_number, -1, -1, 0))) {
		hub_openssl_set_error(error, HUB_ERROR_INVALID_ARGUMENT, "Cannot encode the subject");
		return NULL;
	}
	return g_steal_pointer(&name);
}

char *hub_csr_create(EVP_PKEY *key, const char *common_name, const char *serial_number, GError **error)
{
	g_autoptr(X509_REQ) req = NULL;
	g_autoptr(X509_NAME) subject = NULL;
	g_autoptr(EVP_MD_CTX) md_ctx = NULL;
	g_autoptr(BIO) bio = NULL;
	char *data = NULL;
	long len;

	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	if (!key) {
		g_set_error_literal(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT, "No key to sign the request with");
		return NULL;
	}
	if (!check_common_name(common_name, error) || (serial_number && !check_serial_number(serial_number, error)))
		return NULL;
	/* A stale entry would otherwise be blamed on this request. */
	ERR_clear_error();
	subject = build_subject(common_name, serial_number, error);
	if (!subject)
		return NULL;

	req = X509_REQ_new();
	if (!req || !X509_REQ_set_version(req, X509_REQ_VERSION_1) || !X509_REQ_set_subject_name(req, subject)) {
		hub_openssl_set_error(error, HUB_ERROR_FAILED, "Cannot build the certificate request");
		return NULL;
	}
	/* Only the public half is encoded: works for keys that never leave a device. */
	if (!X509_REQ_set_pubkey(req, key)) {
		hub_openssl_set_error(error, HUB_ERROR_FAILED, "Cannot put the public key into the certificate request");
		return NULL;
	}
	/* DigestSign rather than X509_REQ_sign: engine and provider keys both sign this way. */
	md_ctx = EVP_MD_CTX_new();
	if (!md_ctx || EVP_DigestSignInit_ex(md_ctx, NULL, "SHA256", NULL, NULL, key, NULL) != 1) {
		hub_openssl_set_error(error, HUB_ERROR_FAILED, "The key cannot sign with SHA-256");
		return NULL;
	}
	if (X509_REQ_sign_ctx(req, md_ctx) <= 0) {
		hub_openssl_set_error(error, HUB_ERROR_FAILED, "Signing the certificate request failed");
		return NULL;
	}

	bio = BIO_new(BIO_s_mem());
	if (!bio || !PEM_write_bio_X509_REQ(bio, req)) {
		hub_openssl_set_error(error, HUB_ERROR_FAILED, "Cannot write the certificate request as PEM");
		return NULL;
	}
	len = BIO_get_mem_data(bio, &data);
	return g_strndup(data, (gsize)len);
}

gboolean hub_csr_matches_key(const char *csr_pem, EVP_PKEY *key)
{
	g_autoptr(BIO) bio = NULL;
	g_autoptr(X509_REQ) req = NULL;
	EVP_PKEY *public_key;
	gboolean matches;

	if (!csr_pem || !key)
		return FALSE;
	bio = BIO_new_mem_buf(csr_pem, -1);
	req = bio ? PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL) : NULL;
	public_key = req ? X509_REQ_get0_pubkey(req) : NULL;
	matches = public_key && X509_REQ_verify(req, public_key) == 1 && EVP_PKEY_eq(public_key, key) == 1;
	ERR_clear_error();
	return matches;
}
