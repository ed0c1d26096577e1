/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-tpm2.h - private declarations of the "tpm2" certificate store.
 *
 * Objects, one per file:
 *  - hub-tpm2-context.c  HubTpm2Context: the refcounted, lazily (re)connected
 *                        TCTI + ESYS connection, its lock and error mapping;
 *  - hub-tpm2-object.c   persistent signing keys: generate, evict, inspect;
 *  - hub-tpm2-key.c      the EVP_PKEY whose private operation runs in the TPM;
 *  - hub-tpm2-nv.c       a certificate (DER) in an NV index;
 *  - hub-tpm2-files.c    PEM files in the state directory, written atomically;
 *  - hub-certstore-tpm2.c the descriptor, the configuration and the ops.
 *
 * Every function that takes a HubTpm2Context and returns an int follows the
 * ABI convention: 0 or a negative errno plus one sentence in @msg (at least
 * 1 byte, always NUL-terminated). Functions marked "locked" must be called
 * with the context's lock held (hub_tpm2_context_lock()).
 */
#pragma once

#include <glib.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <tss2/tss2_esys.h>

#include <hubd/hub-certstore.h>

#ifdef PACKAGE_VERSION
#define HUB_TPM2_VERSION PACKAGE_VERSION
#else
#define HUB_TPM2_VERSION PACKAGE_VERSION
#endif

G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_PKEY, EVP_PKEY_free)

/* ESYS returns its outputs malloc()ed: g_autofree releases them (g_free is free). */

/* Writes one sentence into @msg (NULL-safe, always terminated). */
void hub_tpm2_message(char *msg, size_t size, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/* ---- hub-tpm2-context.c ---- */

typedef struct _HubTpm2Context HubTpm2Context;

/* Nothing is opened until the first hub_tpm2_context_connect(). */
HubTpm2Context *hub_tpm2_context_new(const char *tcti);
HubTpm2Context *hub_tpm2_context_ref(HubTpm2Context *ctx);
/* Closes the connection with the last reference. NULL-safe. */
void hub_tpm2_context_unref(HubTpm2Context *ctx);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HubTpm2Context, hub_tpm2_context_unref)

const char *hub_tpm2_context_get_tcti(HubTpm2Context *ctx);

/* ESYS is not thread-safe and a key may sign on a TLS thread: every ESYS
 * sequence runs under this lock. Free the locker to unlock. */
GMutexLocker *hub_tpm2_context_lock(HubTpm2Context *ctx);

/* Locked. Connects if needed (TCTI, ESYS, TPM2_Startup when the TPM was not
 * started) and returns the ESYS context, owned by @ctx and valid until the
 * lock is released or a failure drops it. -ENODEV when unreachable. */
int hub_tpm2_context_connect(HubTpm2Context *ctx, ESYS_CONTEXT **esys, char *msg, size_t size);

/* Locked. Turns a failed TSS call into an errno and a message "<what>:
 * <decoded rc>". A lost connection (TCTI I/O, no connection) drops the ESYS
 * context, so the next connect() starts afresh, and gives -ENODEV with "cannot
 * reach the TPM through TCTI '...'". Other non-TPM errors also drop it (ESYS
 * refuses every later call after one); TPM errors give -EACCES for refused
 * authorizations and -EIO otherwise. */
int hub_tpm2_context_fail(HubTpm2Context *ctx, TSS2_RC rc, char *msg, size_t size, const char *what, ...)
	G_GNUC_PRINTF(5, 6);

/* Locked. Largest NV index and largest single NV read/write of this TPM. */
uint16_t hub_tpm2_context_get_nv_index_max(HubTpm2Context *ctx);
uint16_t hub_tpm2_context_get_nv_buffer_max(HubTpm2Context *ctx);

/* Locked. Whether @handle (persistent object or NV index) exists. */
int hub_tpm2_context_handle_exists(HubTpm2Context *ctx, TPM2_HANDLE handle, gboolean *exists, char *msg,
				   size_t size);

/* Locked. Flushes a transient object and sets *@tr to ESYS_TR_NONE; failures
 * are ignored (the connection may be gone, and with it the object). */
void hub_tpm2_context_flush(HubTpm2Context *ctx, ESYS_TR *tr);

/* Locked. Forgets an ESYS handle (no TPM command) and sets it to ESYS_TR_NONE. */
void hub_tpm2_context_close_tr(HubTpm2Context *ctx, ESYS_TR *tr);

/* ---- hub-tpm2-object.c ---- */

/* Locked. Creates a non-exportable signing key of @key_type
 * (HUB_KEY_TYPE_*) under the owner SRK and makes it persistent at @handle,
 * replacing what was there. */
int hub_tpm2_object_generate(HubTpm2Context *ctx, TPM2_HANDLE handle, uint32_t key_type, char *msg, size_t size);
/* Locked. Evicts the persistent object at @handle; 0 when there is none. */
int hub_tpm2_object_evict(HubTpm2Context *ctx, TPM2_HANDLE handle, char *msg, size_t size);

/* ---- hub-tpm2-key.c ---- */

/* Creates, once per process, the OpenSSL methods the keys use, and pins this
 * module in memory: keys may outlive the plugin (a certificate or CSR made
 * from one holds a reference). Call from init(); -errno on failure. */
int hub_tpm2_key_methods_init(void);

/* Locked. An EVP_PKEY for the persistent signing key at @handle, holding a
 * reference to @ctx. Signing runs in the TPM (taking the lock itself); it
 * fails cleanly if the TPM is unreachable or the key was replaced or erased.
 * -EINVAL when the object is not a signing key this store can use. */
int hub_tpm2_key_new(HubTpm2Context *ctx, TPM2_HANDLE handle, EVP_PKEY **key, char *msg, size_t size);

/* ---- hub-tpm2-nv.c ---- */

/* Locked. The whole data of NV index @index (g_free). -ENOENT when it is not
 * defined or was never written. */
int hub_tpm2_nv_read(HubTpm2Context *ctx, TPM2_HANDLE index, guint8 **data, size_t *len, char *msg, size_t size);
/* Locked. (Re)defines @index with exactly @len bytes under the owner
 * hierarchy and writes @data. -ENOSPC when the TPM's indices are too small. */
int hub_tpm2_nv_write(HubTpm2Context *ctx, TPM2_HANDLE index, const guint8 *data, size_t len, char *msg,
		      size_t size);
/* Locked. Undefines @index; 0 when it is not defined. */
int hub_tpm2_nv_erase(HubTpm2Context *ctx, TPM2_HANDLE index, char *msg, size_t size);

/* ---- hub-tpm2-files.c ---- */

/* Reads every certificate of a PEM file. -ENOENT when the file does not
 * exist, -EINVAL when it holds no certificate or a corrupt one. */
int hub_tpm2_files_read(const char *path, STACK_OF(X509) **chain, char *msg, size_t size);
/* Writes certificates @first.. of @chain as PEM: temporary file, fsync,
 * rename, fsync of the directory. An empty range removes the file. */
int hub_tpm2_files_write(const char *path, STACK_OF(X509) *chain, int first, char *msg, size_t size);
/* Removes @path durably; 0 when it does not exist. */
int hub_tpm2_files_remove(const char *path, char *msg, size_t size);
