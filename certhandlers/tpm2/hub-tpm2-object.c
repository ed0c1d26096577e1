/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-tpm2-object.c - persistent signing keys: created inside the TPM under
 * the owner hierarchy's storage root key, made persistent at the role's
 * handle, evicted on erase.
 *
 * The SRK is not kept: it is re-derived with TPM2_CreatePrimary when needed
 * (the same template gives the same key every time) and flushed right after,
 * because a TPM without a resource manager has only about three transient
 * slots and every one we leave loaded is lost to everybody.
 */
#include "config.h"

#include <errno.h>

#include "hub-tpm2.h"

/* The usual ECC P-256 storage root key (tpm2_createprimary -C o -G ecc256:aes128cfb). */
static const TPM2B_PUBLIC srk_template = {
	.publicArea = {
		.type = TPM2_ALG_ECC,
		.nameAlg = TPM2_ALG_SHA256,
		.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
				    TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED |
				    TPMA_OBJECT_DECRYPT,
		.parameters.eccDetail = {
			.symmetric = {
				.algorithm = TPM2_ALG_AES,
				.keyBits.aes = 128,
				.mode.aes = TPM2_ALG_CFB,
			},
			.scheme.scheme = TPM2_ALG_NULL,
			.curveID = TPM2_ECC_NIST_P256,
			.kdf.scheme = TPM2_ALG_NULL,
		},
	},
};

/* Born in the TPM, bound to it and to its parent: TPM2_Duplicate refuses it. */
#define SIGNING_KEY_ATTRIBUTES                                                                   \
	(TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN | \
	 TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_SIGN_ENCRYPT)

/* Scheme NULL: TPM2_Sign then takes the hash from each call (SHA-256 here,
 * see hub-tpm2-key.c) instead of insisting on the one fixed at creation. */
static const TPM2B_PUBLIC ec_template = {
	.publicArea = {
		.type = TPM2_ALG_ECC,
		.nameAlg = TPM2_ALG_SHA256,
		.objectAttributes = SIGNING_KEY_ATTRIBUTES,
		.parameters.eccDetail = {
			.symmetric.algorithm = TPM2_ALG_NULL,
			.scheme.scheme = TPM2_ALG_NULL,
			.curveID = TPM2_ECC_NIST_P256,
			.kdf.scheme = TPM2_ALG_NULL,
		},
	},
};

/* decrypt + scheme NULL: TPM2_RSA_Decrypt is then the raw private operation,
 * which OpenSSL pads itself for PKCS#1 v1.5 and PSS signatures. */
static const TPM2B_PUBLIC rsa_template = {
	.publicArea = {
		.type = TPM2_ALG_RSA,
		.nameAlg = TPM2_ALG_SHA256,
		.objectAttributes = SIGNING_KEY_ATTRIBUTES | TPMA_OBJECT_DECRYPT,
		.parameters.rsaDetail = {
			.symmetric.algorithm = TPM2_ALG_NULL,
			.scheme.scheme = TPM2_ALG_NULL,
			.keyBits = 2048,
			.exponent = 0, /* 65537 */
		},
	},
};

static int create_primary(HubTpm2Context *ctx, ESYS_CONTEXT *esys, ESYS_TR *primary, char *msg, size_t size)
{
	static const TPM2B_SENSITIVE_CREATE no_auth = { 0 };
	static const TPM2B_DATA no_outside_info = { 0 };
	static const TPML_PCR_SELECTION no_pcrs = { 0 };
	TSS2_RC rc;

	rc = Esys_CreatePrimary(esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &no_auth,
				&srk_template, &no_outside_info, &no_pcrs, primary, NULL, NULL, NULL, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		*primary = ESYS_TR_NONE;
		return hub_tpm2_context_fail(ctx, rc, msg, size, "cannot derive the storage root key (owner hierarchy)");
	}
	return 0;
}

/* Creates and loads a new key under a freshly derived SRK, which is flushed
 * before returning: only the new key stays loaded (in *@key). */
static int create_and_load(HubTpm2Context *ctx, ESYS_CONTEXT *esys, uint32_t key_type, ESYS_TR *key, char *msg,
			   size_t size)
{
	static const TPM2B_SENSITIVE_CREATE no_auth = { 0 };
	static const TPM2B_DATA no_outside_info = { 0 };
	static const TPML_PCR_SELECTION no_pcrs = { 0 };
	const TPM2B_PUBLIC *template = key_type == HUB_KEY_TYPE_RSA_2048 ? &rsa_template : &ec_template;
	g_autofree TPM2B_PRIVATE *private = NULL;
	g_autofree TPM2B_PUBLIC *public = NULL;
	ESYS_TR primary = ESYS_TR_NONE;
	TSS2_RC rc;
	int r;

	*key = ESYS_TR_NONE;
	r = create_primary(ctx, esys, &primary, msg, size);
	if (r < 0)
		return r;
	rc = Esys_Create(esys, primary, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &no_auth, template,
			 &no_outside_info, &no_pcrs, &private, &public, NULL, NULL, NULL);
	if (rc == TSS2_RC_SUCCESS)
		rc = Esys_Load(esys, primary, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, private, public, key);
	if (rc != TSS2_RC_SUCCESS) {
		*key = ESYS_TR_NONE;
		r = hub_tpm2_context_fail(ctx, rc, msg, size, "cannot create the %s key in the TPM",
					  key_type == HUB_KEY_TYPE_RSA_2048 ? "RSA 2048" : "EC P-256");
	}
	hub_tpm2_context_flush(ctx, &primary);
	return r;
}

static int evict(HubTpm2Context *ctx, ESYS_CONTEXT *esys, TPM2_HANDLE handle, char *msg, size_t size)
{
	ESYS_TR object = ESYS_TR_NONE;
	ESYS_TR none = ESYS_TR_NONE;
	TSS2_RC rc;

	rc = Esys_TR_FromTPMPublic(esys, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &object);
	if (rc != TSS2_RC_SUCCESS)
		return hub_tpm2_context_fail(ctx, rc, msg, size, "cannot read the object at persistent handle 0x%08x",
					     handle);
	rc = Esys_EvictControl(esys, ESYS_TR_RH_OWNER, object, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, handle,
			       &none);
	/* the ESYS handle of an evicted persistent object stays allocated */
	hub_tpm2_context_close_tr(ctx, &object);
	hub_tpm2_context_close_tr(ctx, &none);
	if (rc != TSS2_RC_SUCCESS)
		return hub_tpm2_context_fail(ctx, rc, msg, size, "cannot evict the key at persistent handle 0x%08x",
					     handle);
	return 0;
}

int hub_tpm2_object_evict(HubTpm2Context *ctx, TPM2_HANDLE handle, char *msg, size_t size)
{
	ESYS_CONTEXT *esys;
	gboolean exists;
	int r;

	r = hub_tpm2_context_handle_exists(ctx, handle, &exists, msg, size);
	if (r < 0 || !exists)
		return r;
	r = hub_tpm2_context_connect(ctx, &esys, msg, size);
	if (r < 0)
		return r;
	return evict(ctx, esys, handle, msg, size);
}

int hub_tpm2_object_generate(HubTpm2Context *ctx, TPM2_HANDLE handle, uint32_t key_type, char *msg, size_t size)
{
	ESYS_TR key = ESYS_TR_NONE;
	ESYS_TR persistent = ESYS_TR_NONE;
	ESYS_CONTEXT *esys;
	gboolean exists;
	TSS2_RC rc;
	int r;

	r = hub_tpm2_context_connect(ctx, &esys, msg, size);
	if (r < 0)
		return r;
	/* the new key first: if that fails, the old one is still there */
	r = create_and_load(ctx, esys, key_type, &key, msg, size);
	if (r < 0)
		return r;
	r = hub_tpm2_context_handle_exists(ctx, handle, &exists, msg, size);
	if (r == 0 && exists)
		r = evict(ctx, esys, handle, msg, size);
	if (r == 0) {
		rc = Esys_EvictControl(esys, ESYS_TR_RH_OWNER, key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, handle,
				       &persistent);
		if (rc != TSS2_RC_SUCCESS)
			r = hub_tpm2_context_fail(ctx, rc, msg, size,
						  "cannot make the new key persistent at handle 0x%08x", handle);
		hub_tpm2_context_close_tr(ctx, &persistent);
	}
	hub_tpm2_context_flush(ctx, &key);
	return r;
}
