/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-cert-manager.h - the hub's credentials by role, whichever certificate
 * store holds them.
 *
 * [certificates] in hubd.conf names the store (a loaded plugin of kind
 * certstore) for each role; every role defaults to "file":
 *
 *   [certificates]
 *   claim=file
 *   permanent=pkcs11
 *   root-ca=file
 *
 * The manager checks what it is given before a store sees it (PEM syntax,
 * escaped newlines, certificate/key match) and turns store errors into
 * GErrors that name the role and the store. Keys it hands out may live in
 * hardware; they must be freed before the plugins are unloaded.
 *
 * The OpenSSL work happens in the hubd-cloud.so module (hub-cert-engine.c),
 * loaded with the first operation on a role whose store is loaded; a hub
 * with no certificate store never maps libcrypto. $HUBD_CLOUD_MODULE names
 * another module file (tests, uninstalled trees).
 */
#pragma once

#include <glib.h>
#include <openssl/ssl.h>

#include <hubd/hub-certstore.h>

#include "hub-config.h"
#include "hub-plugin-loader.h"
#include "hub-tls-context.h"

#define HUB_CERT_ROLE_COUNT 4 /* claim, permanent, root-ca, attestation */

/* "claim", "permanent", "root-ca", "attestation"; NULL for an unknown role.
 * Inline: hubd and the hubd-cloud.so module both name roles. */
static inline const char *hub_cert_role_to_string(guint32 role)
{
	static const char *const names[] = { NULL, "claim", "permanent", "root-ca", "attestation" };

	return role >= 1 && role <= HUB_CERT_ROLE_COUNT ? names[role] : NULL;
}
/* Accepts those names (and "root_ca", "rootca"); FALSE for others. */
gboolean hub_cert_role_from_string(const char *name, guint32 *role);
/* "ec-p256" / "rsa-2048" (empty: ec-p256). */
gboolean hub_cert_key_type_from_string(const char *name, guint32 *key_type);

typedef struct {
	guint32 role;
	char *store;          /* configured store name; NULL: none */
	char *location;       /* the store's describe() */
	guint32 capabilities; /* HUB_CERTSTORE_CAP_* */
	gboolean has_key;
	gboolean has_certificate;
	char *key_type;       /* "EC P-256", "RSA 2048", ... */
	char *subject;        /* leaf, RFC 2253 */
	char *issuer;
	char *serial;         /* hex */
	gint64 not_before;    /* Unix seconds; 0 when no certificate */
	gint64 not_after;
	guint n_certificates;
	gboolean expired;
	gboolean not_yet_valid;
	gboolean key_mismatch; /* certificate and key both present but not a pair */
	char *error;           /* the store could not be read */
} HubCertStatus;

void hub_cert_status_free(HubCertStatus *status);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HubCertStatus, hub_cert_status_free)
/* "ok", "empty", "key-only", "certificate-only", "expired", "not-yet-valid",
 * "mismatch", "error" or "unconfigured". */
const char *hub_cert_status_state(const HubCertStatus *status);

typedef struct _HubCertManager HubCertManager;

/* @config and @loader must outlive the manager. */
HubCertManager *hub_cert_manager_new(HubConfig *config, HubPluginLoader *loader);
void hub_cert_manager_free(HubCertManager *manager); /* NULL-safe */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HubCertManager, hub_cert_manager_free)

/* Logs one line per role (warnings for expired, mismatched or unreadable
 * credentials). Called once the plugins are loaded. */
void hub_cert_manager_log_status(HubCertManager *manager);

/* Never NULL for roles 1..HUB_CERT_ROLE_COUNT. */
HubCertStatus *hub_cert_manager_get_status(HubCertManager *manager, guint32 role);

/* The role's certificates and key (either out may be NULL). */
gboolean hub_cert_manager_load(HubCertManager *manager, guint32 role, STACK_OF(X509) **chain, EVP_PKEY **key,
			       GError **error);

gboolean hub_cert_manager_generate_key(HubCertManager *manager, guint32 role, guint32 key_type, GError **error);

/* A PEM CSR signed by the role's key, subject CN = the hub's serial number. */
char *hub_cert_manager_create_csr(HubCertManager *manager, guint32 role, GError **error);

/* Stores a PEM chain (leaf first) for the role; the leaf must match the
 * role's key. An expired certificate is stored with a warning. */
gboolean hub_cert_manager_store_certificates(HubCertManager *manager, guint32 role, const char *pem,
					     GError **error);

/* Imports a certificate chain and its private key (PEM) for the role. Both
 * are checked before the store is touched. */
gboolean hub_cert_manager_import(HubCertManager *manager, guint32 role, const char *cert_pem, const char *key_pem,
				 GError **error);

gboolean hub_cert_manager_erase(HubCertManager *manager, guint32 role, GError **error);

/* A mutual-TLS client context from the role's certificate and key, trusting
 * the ROOT_CA role's certificates; role 0: no client certificate, the
 * server still verified. Free with SSL_CTX_free() before the plugins are
 * unloaded. */
SSL_CTX *hub_cert_manager_tls_context(HubCertManager *manager, guint32 role, const HubTlsOptions *options,
				      GError **error);
