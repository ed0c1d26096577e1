/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hub-atomic-file.h"

static int fail(int err, char *message, gsize message_size, const char *step, const char *path)
{
	g_snprintf(message, message_size, "cannot %s %s: %s", step, path, g_strerror(err));
	return -err;
}

int hub_atomic_file_write(const char *path, const void *data, gsize len, mode_t mode, char *message,
			  gsize message_size)
{
	g_autofree char *dir = g_path_get_dirname(path);
	g_autofree char *tmp = g_strdup_printf("%s.tmp-XXXXXX", path);
	const char *p = data;
	gsize left = len;
	int fd, dir_fd, err;

	fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0)
		return fail(errno, message, message_size, "create a file next to", path);
	/* mkstemp created it 0600; give it the final mode before content arrives. */
	if (fchmod(fd, mode) < 0) {
		err = errno;
		goto fail_tmp;
	}
	while (left > 0) {
		ssize_t n = write(fd, p, left);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = errno;
			goto fail_tmp;
		}
		p += n;
		left -= (gsize)n;
	}
	if (fsync(fd) < 0) {
		err = errno;
		goto fail_tmp;
	}
	if (close(fd) < 0) {
		fd = -1;
		err = errno;
		goto fail_tmp;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		err = errno;
		goto fail_tmp;
	}
	/* The rename itself is durable only once the directory is synced. */
	dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd >= 0) {
		fsync(dir_fd);
		close(dir_fd);
	}
	return 0;

fail_tmp:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return fail(err, message, message_size, "write", path);
}
