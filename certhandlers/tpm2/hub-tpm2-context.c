/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-tpm2-context.c - the connection to the TPM: a TCTI from the loader
 * (device:/dev/tpmrm0, swtpm:..., tabrmd:...) and an ESYS context on it.
 *
 * The connection is opened on first use, not when the plugin starts, so a
 * missing or busy TPM never stops the daemon. It is dropped after any
 * failure below the TPM (I/O, protocol) and reopened by the next caller;
 * the store and every key share one refcounted context, so keys keep
 * working across a reconnect.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "hub-tpm2.h"

/* Used when the TPM does not report them; below every TPM's real limits. */
#define DEFAULT_NV_INDEX_MAX  1024
#define DEFAULT_NV_BUFFER_MAX 512

struct _HubTpm2Context {
	gatomicrefcount ref;
	GMutex lock;
	char *tcti;
	TSS2_TCTI_CONTEXT *tcti_ctx;
	ESYS_CONTEXT *esys;
	uint16_t nv_index_max;
	uint16_t nv_buffer_max;
};

void hub_tpm2_message(char *msg, size_t size, const char *fmt, ...)
{
	va_list ap;

	if (!msg || size == 0)
		return;
	va_start(ap, fmt);
	g_vsnprintf(msg, size, fmt, ap);
	va_end(ap);
}

HubTpm2Context *hub_tpm2_context_new(const char *tcti)
{
	HubTpm2Context *ctx = g_new0(HubTpm2Context, 1);

	g_atomic_ref_count_init(&ctx->ref);
	g_mutex_init(&ctx->lock);
	ctx->tcti = g_strdup(tcti);
	return ctx;
}

HubTpm2Context *hub_tpm2_context_ref(HubTpm2Context *ctx)
{
	g_atomic_ref_count_inc(&ctx->ref);
	return ctx;
}

static void disconnect(HubTpm2Context *ctx)
{
	if (ctx->esys)
		Esys_Finalize(&ctx->esys);
	if (ctx->tcti_ctx)
		Tss2_TctiLdr_Finalize(&ctx->tcti_ctx);
	ctx->esys = NULL;
	ctx->tcti_ctx = NULL;
}

void hub_tpm2_context_unref(HubTpm2Context *ctx)
{
	if (!ctx || !g_atomic_ref_count_dec(&ctx->ref))
		return;
	disconnect(ctx);
	g_mutex_clear(&ctx->lock);
	g_free(ctx->tcti);
	g_free(ctx);
}

const char *hub_tpm2_context_get_tcti(HubTpm2Context *ctx)
{
	return ctx->tcti;
}

GMutexLocker *hub_tpm2_context_lock(HubTpm2Context *ctx)
{
	return g_mutex_locker_new(&ctx->lock);
}

/* True for failures that mean "no TPM at the other end" rather than "the TPM said no". */
static gboolean rc_is_unreachable(TSS2_RC rc)
{
	TSS2_RC base = rc & ~TSS2_RC_LAYER_MASK;

	if ((rc & TSS2_RC_LAYER_MASK) == TSS2_TCTI_RC_LAYER)
		return TRUE;
	return base == TSS2_BASE_RC_IO_ERROR || base == TSS2_BASE_RC_NO_CONNECTION ||
	       base == TSS2_BASE_RC_MALFORMED_RESPONSE || base == TSS2_BASE_RC_INSUFFICIENT_RESPONSE;
}

static gboolean rc_is_from_tpm(TSS2_RC rc)
{
	TSS2_RC layer = rc & TSS2_RC_LAYER_MASK;

	/* a resource manager forwards the TPM's answer, or answers in its place */
	return layer == TSS2_TPM_RC_LAYER || layer == TSS2_RESMGR_TPM_RC_LAYER || layer == TSS2_RESMGR_RC_LAYER;
}

/* The response code without the handle, session or parameter number. */
static TSS2_RC tpm_rc_base(TSS2_RC rc)
{
	rc &= 0xfff;
	return (rc & TPM2_RC_FMT1) ? (rc & (TPM2_RC_FMT1 | 0x3f)) : rc;
}

static int unreachable(HubTpm2Context *ctx, TSS2_RC rc, char *msg, size_t size)
{
	g_autofree char *why = NULL;

	disconnect(ctx);
	/* the usual cause on a real TPM: the daemon's user is not in group tss */
	if (g_str_has_prefix(ctx->tcti, "device:") && access(ctx->tcti + strlen("device:"), R_OK | W_OK) < 0)
		why = g_strdup_printf(" (%s: %s)", ctx->tcti + strlen("device:"), g_strerror(errno));
	hub_tpm2_message(msg, size, "cannot reach the TPM through TCTI '%s': %s%s", ctx->tcti, Tss2_RC_Decode(rc),
			 why ? why : "");
	return -ENODEV;
}

int hub_tpm2_context_fail(HubTpm2Context *ctx, TSS2_RC rc, char *msg, size_t size, const char *what, ...)
{
	g_autofree char *text = NULL;
	va_list ap;
	TSS2_RC base;

	if (rc_is_unreachable(rc))
		return unreachable(ctx, rc, msg, size);
	va_start(ap, what);
	text = g_strdup_vprintf(what, ap);
	va_end(ap);
	if (!rc_is_from_tpm(rc)) {
		/* ESYS answers BAD_SEQUENCE to everything after an internal error */
		disconnect(ctx);
		hub_tpm2_message(msg, size, "%s: %s", text, Tss2_RC_Decode(rc));
		return -EIO;
	}
	base = tpm_rc_base(rc);
	if (base == TPM2_RC_BAD_AUTH || base == TPM2_RC_AUTH_FAIL || base == TPM2_RC_LOCKOUT) {
		hub_tpm2_message(msg, size, "%s: the TPM refused the authorization (%s)", text, Tss2_RC_Decode(rc));
		return -EACCES;
	}
	hub_tpm2_message(msg, size, "%s: %s", text, Tss2_RC_Decode(rc));
	return -EIO;
}

/* One round trip that also tells whether TPM2_Startup is still due. */
static TSS2_RC read_nv_limits(HubTpm2Context *ctx)
{
	g_autofree TPMS_CAPABILITY_DATA *data = NULL;
	TPMI_YES_NO more = TPM2_NO;
	TSS2_RC rc;

	rc = Esys_GetCapability(ctx->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_TPM_PROPERTIES,
				TPM2_PT_NV_INDEX_MAX, TPM2_PT_NV_BUFFER_MAX - TPM2_PT_NV_INDEX_MAX + 1, &more, &data);
	if (rc != TSS2_RC_SUCCESS)
		return rc;
	ctx->nv_index_max = DEFAULT_NV_INDEX_MAX;
	ctx->nv_buffer_max = DEFAULT_NV_BUFFER_MAX;
	for (UINT32 i = 0; i < data->data.tpmProperties.count; i++) {
		const TPMS_TAGGED_PROPERTY *p = &data->data.tpmProperties.tpmProperty[i];

		if (p->property == TPM2_PT_NV_INDEX_MAX && p->value > 0)
			ctx->nv_index_max = (uint16_t)MIN(p->value, G_MAXUINT16);
		else if (p->property == TPM2_PT_NV_BUFFER_MAX && p->value > 0)
			ctx->nv_buffer_max = (uint16_t)MIN(p->value, TPM2_MAX_NV_BUFFER_SIZE);
	}
	return TSS2_RC_SUCCESS;
}

int hub_tpm2_context_connect(HubTpm2Context *ctx, ESYS_CONTEXT **esys, char *msg, size_t size)
{
	TSS2_RC rc;

	*esys = NULL;
	if (ctx->esys) {
		*esys = ctx->esys;
		return 0;
	}
	rc = Tss2_TctiLdr_Initialize(ctx->tcti, &ctx->tcti_ctx);
	if (rc != TSS2_RC_SUCCESS) {
		ctx->tcti_ctx = NULL;
		return unreachable(ctx, rc, msg, size);
	}
	rc = Esys_Initialize(&ctx->esys, ctx->tcti_ctx, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		ctx->esys = NULL;
		return unreachable(ctx, rc, msg, size);
	}
	rc = read_nv_limits(ctx);
	if (tpm_rc_base(rc) == TPM2_RC_INITIALIZE) {
		/* a bare TPM right after power-on; the kernel or firmware usually did this */
		rc = Esys_Startup(ctx->esys, TPM2_SU_CLEAR);
		if (rc == TSS2_RC_SUCCESS || tpm_rc_base(rc) == TPM2_RC_INITIALIZE)
			rc = read_nv_limits(ctx);
	}
	if (rc != TSS2_RC_SUCCESS) {
		int r = hub_tpm2_context_fail(ctx, rc, msg, size, "the TPM behind TCTI '%s' is not usable",
					      ctx->tcti);

		disconnect(ctx);
		return r == -EIO ? -ENODEV : r;
	}
	*esys = ctx->esys;
	return 0;
}

uint16_t hub_tpm2_context_get_nv_index_max(HubTpm2Context *ctx)
{
	return ctx->nv_index_max;
}

uint16_t hub_tpm2_context_get_nv_buffer_max(HubTpm2Context *ctx)
{
	return ctx->nv_buffer_max;
}

int hub_tpm2_context_handle_exists(HubTpm2Context *ctx, TPM2_HANDLE handle, gboolean *exists, char *msg,
				   size_t size)
{
	g_autofree TPMS_CAPABILITY_DATA *data = NULL;
	TPMI_YES_NO more = TPM2_NO;
	ESYS_CONTEXT *esys;
	TSS2_RC rc;
	int r;

	*exists = FALSE;
	r = hub_tpm2_context_connect(ctx, &esys, msg, size);
	if (r < 0)
		return r;
	/* the TPM lists the handles from @handle upwards: ours is there only if first */
	rc = Esys_GetCapability(esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES, handle, 1, &more,
				&data);
	if (rc != TSS2_RC_SUCCESS)
		return hub_tpm2_context_fail(ctx, rc, msg, size, "cannot list the TPM's handles");
	*exists = data->data.handles.count > 0 && data->data.handles.handle[0] == handle;
	return 0;
}

void hub_tpm2_context_flush(HubTpm2Context *ctx, ESYS_TR *tr)
{
	if (*tr != ESYS_TR_NONE && ctx->esys)
		Esys_FlushContext(ctx->esys, *tr);
	*tr = ESYS_TR_NONE;
}

void hub_tpm2_context_close_tr(HubTpm2Context *ctx, ESYS_TR *tr)
{
	if (*tr != ESYS_TR_NONE && ctx->esys)
		Esys_TR_Close(ctx->esys, tr);
	*tr = ESYS_TR_NONE;
}
