/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-cert-engine.h - the table between hub-cert-manager.c (in hubd, no
 * OpenSSL) and hub-cert-engine.c (the hubd-cloud.so module, all of the
 * OpenSSL work). Private to hubd: both sides are built from this tree, so the
 * table has no versioning beyond its size.
 *
 * Every function gets the store plugin serving the role (the manager has
 * resolved it) and reports failures as HUB_ERROR GErrors naming store and role.
 */
#pragma once

#include "hub-cert-manager.h"

#define HUB_CERT_ENGINE_QUERY_SYMBOL "hub_cert_engine_query"

typedef struct {
	gsize size; /* sizeof(HubCertEngine) */
	/* Fills the store-dependent members of @status (location, key, certificate, error). */
	void (*fill_status)(HubPlugin *plugin, guint32 role, HubCertStatus *status);
	gboolean (*load)(HubPlugin *plugin, guint32 role, STACK_OF(X509) **chain, EVP_PKEY **key, GError **error);
	gboolean (*generate_key)(HubPlugin *plugin, guint32 role, guint32 key_type, GError **error);
	char *(*create_csr)(HubPlugin *plugin, guint32 role, const char *serial_number, GError **error);
	gboolean (*store_certificates)(HubPlugin *plugin, guint32 role, const char *pem, GError **error);
	gboolean (*import)(HubPlugin *plugin, guint32 role, const char *cert_pem, const char *key_pem, GError **error);
	gboolean (*erase)(HubPlugin *plugin, guint32 role, GError **error);
	/* @root serves the root-ca role. */
	SSL_CTX *(*tls_context)(HubPlugin *plugin, HubPlugin *root, guint32 role, const HubTlsOptions *options,
				GError **error);
} HubCertEngine;

/* The module's one exported symbol. */
HUB_PLUGIN_EXPORT const HubCertEngine *hub_cert_engine_query(void);
