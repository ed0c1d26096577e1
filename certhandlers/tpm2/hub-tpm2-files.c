/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-tpm2-files.c - certificates as PEM files in the plugin's state
 * directory, through the core's PEM and atomic-write helpers (compiled into
 * the plugin): a power cut leaves either the old file or the new one.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "hub-atomic-file.h"
#include "hub-pem.h"
#include "hub-tpm2.h"

int hub_tpm2_files_read(const char *path, STACK_OF(X509) **chain, char *msg, size_t size)
{
	g_autofree char *text = NULL;
	g_autoptr(GError) error = NULL;
	char reason[200];
	gsize len = 0;

	*chain = NULL;
	if (!g_file_get_contents(path, &text, &len, &error)) {
		hub_tpm2_message(msg, size, "cannot read %s: %s", path, error->message);
		return g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT) ? -ENOENT : -EIO;
	}
	*chain = hub_pem_parse_certificates(text, len, reason, sizeof(reason));
	if (!*chain) {
		hub_tpm2_message(msg, size, "%s: %s", path, reason);
		return -EINVAL;
	}
	return 0;
}

int hub_tpm2_files_remove(const char *path, char *msg, size_t size)
{
	g_autofree char *dir = g_path_get_dirname(path);
	int fd;

	if (unlink(path) < 0) {
		int r = -errno;

		if (r == -ENOENT)
			return 0;
		hub_tpm2_message(msg, size, "cannot remove %s: %s", path, g_strerror(-r));
		return r;
	}
	/* The unlink is durable only once the directory is synced. */
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	return 0;
}

int hub_tpm2_files_write(const char *path, STACK_OF(X509) *chain, int first, char *msg, size_t size)
{
	STACK_OF(X509) *part;
	g_autofree char *pem = NULL;

	if (!chain || first >= sk_X509_num(chain))
		return hub_tpm2_files_remove(path, msg, size);
	part = sk_X509_new_null();
	for (int i = first; i < sk_X509_num(chain); i++)
		sk_X509_push(part, sk_X509_value(chain, i));
	pem = hub_pem_format_certificates(part);
	sk_X509_free(part); /* borrowed certificates */
	if (!pem) {
		hub_tpm2_message(msg, size, "cannot encode the certificates as PEM");
		return -EINVAL;
	}
	return hub_atomic_file_write(path, pem, strlen(pem), 0644, msg, size);
}
