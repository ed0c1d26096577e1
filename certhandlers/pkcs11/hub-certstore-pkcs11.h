/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-certstore-pkcs11.h - the "pkcs11" certificate store: state shared by
 * the descriptor (hub-certstore-pkcs11.c) and the object helpers
 * (hub-pkcs11-objects.c).
 */
#pragma once

#include <stdint.h>

#include <glib.h>
#include <p11-kit/pkcs11.h>

#include <hubd/hub-certstore.h>

#include "hub-pkcs11-module.h"

#define PKCS11_VERSION PACKAGE_VERSION

/* Objects of one role. Key labels are NULL for the root CA role. */
typedef struct {
	uint32_t role;
	const char *name;       /* for messages: "claim", "permanent", "root CA" */
	const char *key_label;  /* CKO_PRIVATE_KEY */
	const char *pub_label;  /* CKO_PUBLIC_KEY */
	const char *cert_label; /* CKO_CERTIFICATE */
	guint8 id;              /* CKA_ID of the key pair and of the first certificate */
} HubPkcs11Role;

typedef struct {
	const struct hub_host *host;
	struct hub_plugin *plugin;
	HubPkcs11Module *module;
	gboolean allow_import;
} HubPkcs11Store;

/* One operation on the token, under the module lock, with a session. */
typedef struct {
	HubPkcs11Store *store;
	CK_FUNCTION_LIST_PTR p11;
	CK_SESSION_HANDLE session;
	char *message;
	size_t message_size;
} HubPkcs11Op;

/* Internal only: the session went away during the op; it is retried once. */
#define HUB_PKCS11_RETRY (-ECONNRESET)

void hub_pkcs11_store_log(HubPkcs11Store *store, int level, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/* Writes "<what> on token '<label>' failed: CKR_..." into the op's message
 * and returns HUB_PKCS11_RETRY if @rv means the session is gone, else @err. */
int hub_pkcs11_op_fail(HubPkcs11Op *op, CK_RV rv, int err, const char *what);
