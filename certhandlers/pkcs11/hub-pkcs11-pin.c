/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-pkcs11-pin.c - reads the user PIN and remembers refused ones.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "hub-pkcs11-pin.h"

#define DIGEST_LEN 32 /* SHA-256 */

struct _HubPkcs11Pin {
	char *file;
	char *env;
	char *source;
	guint8 salt[16];
	gboolean refused;
	guint8 refused_digest[DIGEST_LEN];
	CK_RV refused_rv;
};

HubPkcs11Pin *hub_pkcs11_pin_new(const char *file, const char *env)
{
	HubPkcs11Pin *pin = g_new0(HubPkcs11Pin, 1);

	pin->file = g_strdup(file);
	pin->env = g_strdup(env);
	if (pin->file)
		pin->source = g_strdup_printf("pin-file %s", pin->file);
	else if (pin->env)
		pin->source = g_strdup_printf("environment variable %s", pin->env);
	/* Without randomness the digest would only be weaker, not wrong. */
	if (RAND_bytes(pin->salt, sizeof(pin->salt)) != 1)
		memset(pin->salt, 0x5a, sizeof(pin->salt));
	return pin;
}

void hub_pkcs11_pin_free(HubPkcs11Pin *pin)
{
	if (!pin)
		return;
	g_free(pin->file);
	g_free(pin->env);
	g_free(pin->source);
	OPENSSL_cleanse(pin, sizeof(*pin));
	g_free(pin);
}

const char *hub_pkcs11_pin_source(const HubPkcs11Pin *pin)
{
	return pin->source;
}

void hub_pkcs11_pin_value_clear(HubPkcs11PinValue *value)
{
	OPENSSL_cleanse(value, sizeof(*value));
}

static int pin_read_file(const HubPkcs11Pin *pin, HubPkcs11PinValue *out, char *message, size_t message_size)
{
	/* One byte more than the longest PIN plus its newline, to see a PIN that is too long. */
	char buf[HUB_PKCS11_PIN_MAX + 3];
	size_t len = 0, line;
	struct stat st;
	int fd, r = 0;

	fd = open(pin->file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		g_snprintf(message, message_size, "Cannot open the PIN file %s: %s", pin->file, g_strerror(-r));
		return -EACCES;
	}
	/* fstat on the open file: the mode checked is the mode of what is read. */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		g_snprintf(message, message_size, "The PIN file %s is not a regular file", pin->file);
		close(fd);
		return -EACCES;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		g_snprintf(message, message_size,
			   "The PIN file %s is accessible by group or other (mode %04o); make it 0600 or 0400",
			   pin->file, (unsigned int)(st.st_mode & 07777));
		close(fd);
		return -EACCES;
	}
	while (len < sizeof(buf)) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			g_snprintf(message, message_size, "Cannot read the PIN file %s: %s", pin->file,
				   g_strerror(-r));
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (r < 0) {
		OPENSSL_cleanse(buf, sizeof(buf));
		return -EACCES;
	}

	for (line = 0; line < len && buf[line] != '\n'; line++)
		;
	if (line > 0 && buf[line - 1] == '\r')
		line--;
	if (line == 0) {
		g_snprintf(message, message_size, "The PIN file %s is empty", pin->file);
		r = -EACCES;
	} else if (line > HUB_PKCS11_PIN_MAX) {
		g_snprintf(message, message_size, "The PIN in %s is longer than %d bytes", pin->file,
			   HUB_PKCS11_PIN_MAX);
		r = -EINVAL;
	} else {
		memcpy(out->value, buf, line);
		out->value[line] = '\0';
		out->len = line;
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	return r;
}

int hub_pkcs11_pin_read(const HubPkcs11Pin *pin, HubPkcs11PinValue *out, char *message, size_t message_size)
{
	const char *value;
	size_t len;

	memset(out, 0, sizeof(*out));
	if (pin->file)
		return pin_read_file(pin, out, message, message_size);
	if (!pin->env) {
		g_snprintf(message, message_size,
			   "No PIN is configured for the token: set pin-file or pin-env in the plugin's configuration");
		return -EACCES;
	}
	value = g_getenv(pin->env);
	if (!value || !*value) {
		g_snprintf(message, message_size, "The environment variable %s (pin-env) is not set or empty",
			   pin->env);
		return -EACCES;
	}
	len = strlen(value);
	if (len > HUB_PKCS11_PIN_MAX) {
		g_snprintf(message, message_size, "The PIN in %s is longer than %d bytes", pin->env,
			   HUB_PKCS11_PIN_MAX);
		return -EINVAL;
	}
	memcpy(out->value, value, len + 1);
	out->len = len;
	return 0;
}

static gboolean pin_digest(const HubPkcs11Pin *pin, const HubPkcs11PinValue *value, guint8 digest[DIGEST_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int len = 0;
	gboolean ok;

	ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(ctx, pin->salt, sizeof(pin->salt)) == 1 &&
	     EVP_DigestUpdate(ctx, value->value, value->len) == 1 && EVP_DigestFinal_ex(ctx, digest, &len) == 1 &&
	     len == DIGEST_LEN;
	EVP_MD_CTX_free(ctx);
	return ok;
}

gboolean hub_pkcs11_pin_is_refused(const HubPkcs11Pin *pin, const HubPkcs11PinValue *value, CK_RV *rv)
{
	guint8 digest[DIGEST_LEN];

	if (!pin->refused)
		return FALSE;
	/* If the digest cannot be computed, treat the PIN as the refused one:
	 * a missed login is better than a locked token. */
	if (pin_digest(pin, value, digest) && CRYPTO_memcmp(digest, pin->refused_digest, DIGEST_LEN) != 0)
		return FALSE;
	if (rv)
		*rv = pin->refused_rv;
	return TRUE;
}

void hub_pkcs11_pin_set_refused(HubPkcs11Pin *pin, const HubPkcs11PinValue *value, CK_RV rv)
{
	if (!pin_digest(pin, value, pin->refused_digest))
		memset(pin->refused_digest, 0, DIGEST_LEN);
	pin->refused = TRUE;
	pin->refused_rv = rv;
}

void hub_pkcs11_pin_clear_refused(HubPkcs11Pin *pin)
{
	pin->refused = FALSE;
	memset(pin->refused_digest, 0, DIGEST_LEN);
}
