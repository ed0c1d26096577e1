/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-pkcs11-objects.h - finding, reading and writing the token objects of
 * the store: certificates, key pairs (generated or imported) and CKA_ID.
 *
 * CKA_ID scheme (R = the role's id byte, i = position in the chain):
 *   key pair and certificate 0: { R }        certificate i >= 1: { R, i }
 * Objects being written carry { 0xff, R } / { 0xff, R, i } ("pending") until
 * the objects they replace are destroyed, then get their final id. A reader
 * that finds committed objects ignores pending ones, so an operation cut
 * short leaves the previous credentials in force.
 *
 * Every function runs inside an op (HubPkcs11Op: module locked, session
 * open). On failure it writes a sentence into op->message and returns a
 * negative errno, or HUB_PKCS11_RETRY when the session went away.
 */
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "hub-certstore-pkcs11.h"

#define HUB_PKCS11_ID_PENDING 0xff
#define HUB_PKCS11_ID_MAX     64

typedef struct {
	CK_OBJECT_HANDLE handle;
	guint8 id[HUB_PKCS11_ID_MAX];
	gsize id_len;
	gboolean pending;
} HubPkcs11Object;

/* The CKA_ID of element @index of role @role_id; @pending adds the marker. */
gsize hub_pkcs11_make_id(guint8 role_id, guint index, gboolean pending, guint8 id[HUB_PKCS11_ID_MAX]);

/* Objects of class @cls labelled @label, in the token's order.
 * *@out: GArray of HubPkcs11Object (g_array_unref). */
int hub_pkcs11_objects_find(HubPkcs11Op *op, CK_OBJECT_CLASS cls, const char *label, guint8 role_id, GArray **out);
/* Keeps the committed objects if there are any, else the pending ones, and
 * sorts them by CKA_ID (shorter first, then bytewise). */
void hub_pkcs11_objects_select(GArray *objects);

int hub_pkcs11_object_read_certificate(HubPkcs11Op *op, CK_OBJECT_HANDLE object, X509 **out);
/* The public key object's key (CKA_EC_PARAMS + CKA_EC_POINT, or CKA_MODULUS
 * + CKA_PUBLIC_EXPONENT) as a plain software EVP_PKEY. */
int hub_pkcs11_object_read_public_key(HubPkcs11Op *op, CK_OBJECT_HANDLE object, EVP_PKEY **out);

int hub_pkcs11_object_write_certificate(HubPkcs11Op *op, X509 *cert, const char *label, const guint8 *id,
					gsize id_len, CK_OBJECT_HANDLE *out);
/* C_GenerateKeyPair: HUB_KEY_TYPE_EC_P256 or HUB_KEY_TYPE_RSA_2048, private
 * key sensitive, never extractable, sign only. */
int hub_pkcs11_object_generate_key(HubPkcs11Op *op, uint32_t key_type, const HubPkcs11Role *role,
				   const guint8 *id, gsize id_len, CK_OBJECT_HANDLE *priv, CK_OBJECT_HANDLE *pub);
/* C_CreateObject of @key's private half (EC P-256 or RSA 2048-4096;
 * sensitive, not extractable) and its public half. Copies of the private
 * values are wiped. -ENOTSUP: other key types; -EINVAL: no private part. */
int hub_pkcs11_object_import_key(HubPkcs11Op *op, EVP_PKEY *key, const HubPkcs11Role *role, const guint8 *id,
				 gsize id_len, CK_OBJECT_HANDLE *priv, CK_OBJECT_HANDLE *pub);
int hub_pkcs11_object_set_id(HubPkcs11Op *op, CK_OBJECT_HANDLE object, const guint8 *id, gsize id_len);
/* Destroys @object (through the module, so keys using it fail cleanly). */
int hub_pkcs11_object_destroy(HubPkcs11Op *op, CK_OBJECT_HANDLE object);
