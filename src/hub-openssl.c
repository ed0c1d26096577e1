/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <openssl/err.h>

#include "hub-error.h"
#include "hub-openssl.h"

char *hub_openssl_error_take(void)
{
	GString *text = NULL;
	unsigned long code;

	while ((code = ERR_get_error()) != 0) {
		char buf[256];

		ERR_error_string_n(code, buf, sizeof(buf));
		if (!text)
			text = g_string_new(buf);
		else
			g_string_append_printf(text, "; %s", buf);
	}
	return text ? g_string_free(text, FALSE) : NULL;
}

void hub_openssl_set_error(GError **error, gint code, const char *format, ...)
{
	g_autofree char *message = NULL;
	g_autofree char *queue = hub_openssl_error_take();
	va_list args;

	va_start(args, format);
	message = g_strdup_vprintf(format, args);
	va_end(args);
	if (queue)
		g_set_error(error, HUB_ERROR, code, "%s: %s", message, queue);
	else
		g_set_error_literal(error, HUB_ERROR, code, message);
}

char *hub_openssl_name_to_string(const X509_NAME *name)
{
	g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
	char *data = NULL;
	long len;

	if (!name || !bio || X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) < 0) {
		ERR_clear_error();
		return g_strdup("(unknown name)");
	}
	len = BIO_get_mem_data(bio, &data);
	return g_strndup(data, (gsize)len);
}

char *hub_openssl_subject(X509 *cert)
{
	return hub_openssl_name_to_string(cert ? X509_get_subject_name(cert) : NULL);
}
