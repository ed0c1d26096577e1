/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-atomic-file.h - replace a file so that a crash leaves either the old or
 * the new content: write a temporary file in the same directory with the
 * final mode, fsync it, rename it over the target, fsync the directory.
 * Shared by the core and the certificate stores.
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include <glib.h>

/* Returns 0, or a negative errno with @message saying which step failed. The
 * file is created with @mode (umask not applied) and owned by the caller. */
int hub_atomic_file_write(const char *path, const void *data, gsize len, mode_t mode, char *message,
			  gsize message_size);
