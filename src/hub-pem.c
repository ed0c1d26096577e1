/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "hub-pem.h"

#define ESCAPED_NEWLINE_HINT                                                                              \
	"its line breaks are written as the two characters \\n (PEM copied out of a JSON string?); " \
	"replace them with real line breaks, for example with jq -r"

static gboolean is_blank(const char *text, gsize len)
{
	for (gsize i = 0; i < len; i++)
		if (!g_ascii_isspace(text[i]))
			return FALSE;
	return TRUE;
}

gboolean hub_pem_has_escaped_newlines(const char *text, gsize len)
{
	const char *begin = g_strstr_len(text, len, "-----BEGIN ");
	const char *dash;

	if (!begin)
		return FALSE;
	/* The header line ends with "-----"; what follows decides. */
	dash = g_strstr_len(begin + 11, len - (gsize)(begin + 11 - text), "-----");
	if (!dash)
		return FALSE;
	dash += 5;
	return (gsize)(dash - text) + 2 <= len && dash[0] == '\\' && (dash[1] == 'n' || dash[1] == 'r');
}

/* The reason at the top of OpenSSL's error queue, then clears the queue. */
static const char *openssl_reason(char *buf, gsize size)
{
	unsigned long code = ERR_peek_last_error();

	if (!code)
		g_strlcpy(buf, "unknown error", size);
	else
		ERR_error_string_n(code, buf, size);
	ERR_clear_error();
	return buf;
}

/* Empty and escaped input are diagnosed the same way for certificates and keys. */
static gboolean check_text(const char *text, gsize len, const char *what, char *message, gsize message_size)
{
	if (!text || len == 0 || is_blank(text, len)) {
		g_snprintf(message, message_size, "the %s is empty", what);
		return FALSE;
	}
	if (hub_pem_has_escaped_newlines(text, len)) {
		g_snprintf(message, message_size, "the %s is not valid PEM: " ESCAPED_NEWLINE_HINT, what);
		return FALSE;
	}
	return TRUE;
}

static gboolean is_key_block(const char *name)
{
	return g_str_has_suffix(name, "PRIVATE KEY");
}

STACK_OF(X509) *hub_pem_parse_certificates(const char *text, gsize len, char *message, gsize message_size)
{
	STACK_OF(X509) *chain;
	BIO *bio;
	gboolean saw_key = FALSE;
	char reason[256];

	if (!check_text(text, len, "certificate", message, message_size))
		return NULL;
	chain = sk_X509_new_null();
	bio = BIO_new_mem_buf(text, (int)MIN(len, (gsize)G_MAXINT));
	for (;;) {
		char *name = NULL, *header = NULL;
		unsigned char *data = NULL;
		long data_len = 0;
		const unsigned char *p;
		X509 *cert;

		ERR_clear_error();
		if (!PEM_read_bio(bio, &name, &header, &data, &data_len)) {
			unsigned long code = ERR_peek_last_error();

			if (ERR_GET_REASON(code) == PEM_R_NO_START_LINE) {
				ERR_clear_error();
				break;
			}
			g_snprintf(message, message_size, "certificate %d is corrupt: %s", sk_X509_num(chain) + 1,
				   openssl_reason(reason, sizeof(reason)));
			goto fail;
		}
		if (is_key_block(name)) {
			saw_key = TRUE;
			OPENSSL_clear_free(data, (size_t)data_len);
			OPENSSL_free(name);
			OPENSSL_free(header);
			continue;
		}
		if (strcmp(name, "CERTIFICATE") != 0 && strcmp(name, "X509 CERTIFICATE") != 0) {
			OPENSSL_free(data);
			OPENSSL_free(name);
			OPENSSL_free(header);
			continue;
		}
		p = data;
		cert = d2i_X509(NULL, &p, data_len);
		OPENSSL_free(data);
		OPENSSL_free(name);
		OPENSSL_free(header);
		if (!cert) {
			g_snprintf(message, message_size, "certificate %d is corrupt: %s", sk_X509_num(chain) + 1,
				   openssl_reason(reason, sizeof(reason)));
			goto fail;
		}
		sk_X509_push(chain, cert);
	}
	if (sk_X509_num(chain) == 0) {
		g_snprintf(message, message_size, saw_key ? "no certificate found, only a private key"
							  : "no PEM certificate found (-----BEGIN CERTIFICATE-----)");
		goto fail;
	}
	BIO_free(bio);
	return chain;
fail:
	BIO_free(bio);
	sk_X509_pop_free(chain, X509_free);
	return NULL;
}

EVP_PKEY *hub_pem_parse_private_key(const char *text, gsize len, char *message, gsize message_size)
{
	EVP_PKEY *key = NULL;
	BIO *bio;
	gboolean saw_certificate = FALSE;
	char reason[256];

	if (!check_text(text, len, "private key", message, message_size))
		return NULL;
	bio = BIO_new_mem_buf(text, (int)MIN(len, (gsize)G_MAXINT));
	for (;;) {
		char *name = NULL, *header = NULL;
		unsigned char *data = NULL;
		long data_len = 0;
		const unsigned char *p;

		ERR_clear_error();
		if (!PEM_read_bio(bio, &name, &header, &data, &data_len)) {
			unsigned long code = ERR_peek_last_error();

			if (ERR_GET_REASON(code) == PEM_R_NO_START_LINE) {
				ERR_clear_error();
				g_snprintf(message, message_size,
					   saw_certificate ? "no private key found, only a certificate"
							   : "no PEM private key found (-----BEGIN PRIVATE KEY-----)");
			} else {
				g_snprintf(message, message_size, "the private key is corrupt: %s",
					   openssl_reason(reason, sizeof(reason)));
			}
			break;
		}
		if (!is_key_block(name)) {
			saw_certificate = saw_certificate || strstr(name, "CERTIFICATE") != NULL;
			OPENSSL_free(data);
			OPENSSL_free(name);
			OPENSSL_free(header);
			continue;
		}
		if (strcmp(name, "ENCRYPTED PRIVATE KEY") == 0 || strstr(header, "ENCRYPTED")) {
			g_snprintf(message, message_size,
				   "the private key is encrypted with a passphrase; hubd needs it unencrypted "
				   "(use a hardware store to protect it)");
		} else {
			p = data;
			key = d2i_AutoPrivateKey(NULL, &p, data_len);
			if (!key)
				g_snprintf(message, message_size, "the private key is corrupt: %s",
					   openssl_reason(reason, sizeof(reason)));
		}
		OPENSSL_clear_free(data, (size_t)data_len);
		OPENSSL_free(name);
		OPENSSL_free(header);
		break;
	}
	BIO_free(bio);
	return key;
}

char *hub_pem_format_certificates(STACK_OF(X509) *chain)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL;
	long len;
	char *pem = NULL;

	for (int i = 0; i < sk_X509_num(chain); i++)
		if (!PEM_write_bio_X509(bio, sk_X509_value(chain, i)))
			goto out;
	len = BIO_get_mem_data(bio, &data);
	pem = g_strndup(data, (gsize)len);
out:
	BIO_free(bio);
	ERR_clear_error();
	return pem;
}

char *hub_pem_format_private_key(EVP_PKEY *key, gsize *len)
{
	BIO *bio = BIO_new(BIO_s_secmem());
	char *data = NULL;
	char *pem = NULL;
	long n;

	if (!bio)
		bio = BIO_new(BIO_s_mem());
	if (PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)) {
		n = BIO_get_mem_data(bio, &data);
		pem = g_malloc((gsize)n + 1);
		memcpy(pem, data, (gsize)n);
		pem[n] = '\0';
		*len = (gsize)n;
	}
	BIO_free(bio); /* a secmem BIO wipes its buffer */
	ERR_clear_error();
	return pem;
}

void hub_pem_free_secret(char *pem, gsize len)
{
	if (!pem)
		return;
	OPENSSL_cleanse(pem, len);
	g_free(pem);
}

char *hub_pem_describe_key(EVP_PKEY *key)
{
	char group[64] = "";
	size_t group_len = 0;

	if (!key)
		return g_strdup("none");
	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof(group), &group_len) &&
		    strcmp(group, "prime256v1") == 0)
			return g_strdup("EC P-256");
		if (!group[0]) {
			/* Legacy hardware keys answer through the EC_KEY, not the param API. */
			ERR_clear_error();
			return g_strdup_printf("EC %d-bit", EVP_PKEY_get_bits(key));
		}
		return g_strdup_printf("EC %s", group);
	case EVP_PKEY_RSA:
		return g_strdup_printf("RSA %d", EVP_PKEY_get_bits(key));
	default:
		return g_strdup_printf("%s %d-bit", OBJ_nid2sn(EVP_PKEY_get_base_id(key)), EVP_PKEY_get_bits(key));
	}
}

gboolean hub_pem_key_matches(X509 *cert, EVP_PKEY *key)
{
	EVP_PKEY *pub = cert ? X509_get0_pubkey(cert) : NULL;
	gboolean matches;

	if (!pub || !key)
		return FALSE;
	matches = EVP_PKEY_eq(pub, key) == 1;
	ERR_clear_error();
	return matches;
}
