/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-tpm2-nv.c - a certificate (DER) in an NV index of the owner hierarchy.
 *
 * The index is defined with exactly the certificate's size, so its public
 * area tells the length and no framing is needed; a new certificate
 * undefines and redefines it. Reads and writes go in chunks of at most the
 * TPM's TPM2_PT_NV_BUFFER_MAX bytes. Anybody who can talk to the TPM may read
 * the index (AUTHREAD with an empty auth value: a certificate is public);
 * only the owner may write or delete it.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "hub-tpm2.h"

#define NV_ATTRIBUTES \
	(TPMA_NV_OWNERWRITE | TPMA_NV_OWNERREAD | TPMA_NV_AUTHREAD | TPMA_NV_NO_DA) /* TPM2_NT_ORDINARY */

/* An ESYS handle for the index; -ENOENT when it is not defined. */
static int open_index(HubTpm2Context *ctx, TPM2_HANDLE index, ESYS_CONTEXT **esys, ESYS_TR *tr, char *msg,
		      size_t size)
{
	gboolean exists;
	TSS2_RC rc;
	int r;

	*tr = ESYS_TR_NONE;
	r = hub_tpm2_context_handle_exists(ctx, index, &exists, msg, size);
	if (r < 0)
		return r;
	if (!exists) {
		hub_tpm2_message(msg, size, "NV index 0x%08x is not defined", index);
		return -ENOENT;
	}
	r = hub_tpm2_context_connect(ctx, esys, msg, size);
	if (r < 0)
		return r;
	rc = Esys_TR_FromTPMPublic(*esys, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, tr);
	if (rc != TSS2_RC_SUCCESS) {
		*tr = ESYS_TR_NONE;
		return hub_tpm2_context_fail(ctx, rc, msg, size, "cannot open NV index 0x%08x", index);
	}
	return 0;
}

int hub_tpm2_nv_read(HubTpm2Context *ctx, TPM2_HANDLE index, guint8 **data, size_t *len, char *msg, size_t size)
{
	g_autofree TPM2B_NV_PUBLIC *public = NULL;
	g_autofree guint8 *buf = NULL;
	ESYS_CONTEXT *esys;
	ESYS_TR tr, auth;
	TPMA_NV attributes;
	uint16_t total, chunk;
	TSS2_RC rc;
	int r;

	*data = NULL;
	*len = 0;
	r = open_index(ctx, index, &esys, &tr, msg, size);
	if (r < 0)
		return r;
	rc = Esys_NV_ReadPublic(esys, tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &public, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		hub_tpm2_context_close_tr(ctx, &tr);
		return hub_tpm2_context_fail(ctx, rc, msg, size, "cannot read the public area of NV index 0x%08x",
					     index);
	}
	attributes = public->nvPublic.attributes;
	total = public->nvPublic.dataSize;
	if (!(attributes & TPMA_NV_WRITTEN) || total == 0) {
		/* defined but never written: an interrupted store */
		hub_tpm2_context_close_tr(ctx, &tr);
		hub_tpm2_message(msg, size, "NV index 0x%08x holds no data", index);
		return -ENOENT;
	}
	/* an index provisioned by someone else may only allow one of them */
	auth = (attributes & TPMA_NV_OWNERREAD) ? ESYS_TR_RH_OWNER : tr;
	if (!(attributes & (TPMA_NV_OWNERREAD | TPMA_NV_AUTHREAD))) {
		hub_tpm2_context_close_tr(ctx, &tr);
		hub_tpm2_message(msg, size, "NV index 0x%08x can be read neither by the owner nor with its auth value",
				 index);
		return -EACCES;
	}

	buf = g_malloc(total);
	chunk = hub_tpm2_context_get_nv_buffer_max(ctx);
	for (uint16_t offset = 0; offset < total;) {
		g_autofree TPM2B_MAX_NV_BUFFER *part = NULL;
		uint16_t want = MIN(chunk, (uint16_t)(total - offset));

		rc = Esys_NV_Read(esys, auth, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, want, offset, &part);
		if (rc != TSS2_RC_SUCCESS) {
			hub_tpm2_context_close_tr(ctx, &tr);
			return hub_tpm2_context_fail(ctx, rc, msg, size, "cannot read NV index 0x%08x at offset %u",
						     index, offset);
		}
		if (part->size == 0 || part->size > want) {
			hub_tpm2_context_close_tr(ctx, &tr);
			hub_tpm2_message(msg, size, "NV index 0x%08x: the TPM returned %u bytes for %u", index,
					 part->size, want);
			return -EIO;
		}
		memcpy(buf + offset, part->buffer, part->size);
		offset = (uint16_t)(offset + part->size);
	}
	hub_tpm2_context_close_tr(ctx, &tr);
	*data = g_steal_pointer(&buf);
	*len = total;
	return 0;
}

int hub_tpm2_nv_erase(HubTpm2Context *ctx, TPM2_HANDLE index, char *msg, size_t size)
{
	ESYS_CONTEXT *esys;
	ESYS_TR tr;
	TSS2_RC rc;
	int r;

	r = open_index(ctx, index, &esys, &tr, msg, size);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	/* on success ESYS forgets the handle itself */
	rc = Esys_NV_UndefineSpace(esys, ESYS_TR_RH_OWNER, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE);
	if (rc != TSS2_RC_SUCCESS) {
		hub_tpm2_context_close_tr(ctx, &tr);
		return hub_tpm2_context_fail(ctx, rc, msg, size, "cannot undefine NV index 0x%08x", index);
	}
	return 0;
}

int hub_tpm2_nv_write(HubTpm2Context *ctx, TPM2_HANDLE index, const guint8 *data, size_t len, char *msg,
		      size_t size)
{
	TPM2B_NV_PUBLIC public = {
		.nvPublic = {
			.nvIndex = index,
			.nameAlg = TPM2_ALG_SHA256,
			.attributes = NV_ATTRIBUTES,
		},
	};
	static const TPM2B_AUTH no_auth = { 0 };
	ESYS_CONTEXT *esys;
	ESYS_TR tr = ESYS_TR_NONE;
	uint16_t chunk;
	TSS2_RC rc;
	int r;

	r = hub_tpm2_context_connect(ctx, &esys, msg, size);
	if (r < 0)
		return r;
	if (len == 0 || len > hub_tpm2_context_get_nv_index_max(ctx)) {
		hub_tpm2_message(msg, size,
				 "the certificate (%zu bytes) does not fit in an NV index of this TPM (at most %u bytes); "
				 "use certificate-storage=file",
				 len, hub_tpm2_context_get_nv_index_max(ctx));
		return -ENOSPC;
	}
	public.nvPublic.dataSize = (uint16_t)len;
	r = hub_tpm2_nv_erase(ctx, index, msg, size);
	if (r < 0)
		return r;
	r = hub_tpm2_context_connect(ctx, &esys, msg, size);
	if (r < 0)
		return r;
	rc = Esys_NV_DefineSpace(esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &no_auth, &public,
				 &tr);
	if (rc != TSS2_RC_SUCCESS)
		return hub_tpm2_context_fail(ctx, rc, msg, size, "cannot define NV index 0x%08x of %zu bytes", index,
					     len);
	chunk = hub_tpm2_context_get_nv_buffer_max(ctx);
	for (size_t offset = 0; offset < len; offset += chunk) {
		TPM2B_MAX_NV_BUFFER part = { .size = (uint16_t)MIN((size_t)chunk, len - offset) };

		memcpy(part.buffer, data + offset, part.size);
		rc = Esys_NV_Write(esys, ESYS_TR_RH_OWNER, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &part,
				   (uint16_t)offset);
		if (rc != TSS2_RC_SUCCESS) {
			hub_tpm2_context_close_tr(ctx, &tr);
			return hub_tpm2_context_fail(ctx, rc, msg, size, "cannot write NV index 0x%08x at offset %zu",
						     index, offset);
		}
	}
	hub_tpm2_context_close_tr(ctx, &tr);
	return 0;
}
