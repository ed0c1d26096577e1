/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-certstore.h - certificate stores ("certificate handlers"), plugin ABI v1.
 *
 * A certificate store keeps the hub's credentials, one set per role: the
 * factory claim credential, the permanent identity obtained by onboarding,
 * and the root CA that authenticates the cloud. A store is a plugin of kind
 * HUB_PLUGIN_KIND_CERTSTORE whose descriptor's ops point at a
 * struct hub_certstore_ops. Several stores may be loaded; the daemon's
 * configuration says which one serves which role ([certificates] in
 * hubd.conf).
 *
 * Private keys cross this boundary only as EVP_PKEY handles. A hardware
 * store (TPM, HSM) returns a key that signs inside the device and cannot be
 * exported; the host never asks for key bytes. Keys are generated inside the
 * store (generate_key) and the host builds a CSR from the returned handle.
 *
 * Threading: every op runs on the main thread. An op may block for the time
 * one device round trip takes (a TPM or token call); it never waits for the
 * network.
 *
 * Errors: ops return 0 or a negative errno. On failure they write one
 * human-readable sentence into @message (@message_size bytes, at least 256,
 * always NUL-terminated by the store), which the host shows to the user as
 * is. Messages and logs never contain key material or PINs. Conventions:
 *   -ENOENT   nothing stored for the role
 *   -ENOTSUP  the store cannot do this for the role (say why in @message)
 *   -EACCES   the device refused the credentials (wrong PIN, locked token)
 *   -ENODEV   the device or module is not reachable
 *   -EINVAL   bad input (corrupt data, unknown key type)
 *   -EIO      the device failed
 */
#ifndef HUBD_HUB_CERTSTORE_H
#define HUBD_HUB_CERTSTORE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <hubd/hub-plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Roles. */
#define HUB_CERT_ROLE_CLAIM       UINT32_C(1) /* factory claim credential, used only to onboard */
#define HUB_CERT_ROLE_PERMANENT   UINT32_C(2) /* the hub's identity after onboarding */
#define HUB_CERT_ROLE_ROOT_CA     UINT32_C(3) /* trust anchors for the cloud endpoint; no key */
#define HUB_CERT_ROLE_ATTESTATION UINT32_C(4) /* reserved: no op accepts it in ABI 1.0 */

/* Key types for generate_key. */
#define HUB_KEY_TYPE_EC_P256  UINT32_C(1) /* the default */
#define HUB_KEY_TYPE_RSA_2048 UINT32_C(2)

/* Capability flags returned by capabilities(). */
#define HUB_CERTSTORE_CAP_CERTIFICATES UINT32_C(0x01) /* can hold the role's certificates */
#define HUB_CERTSTORE_CAP_GENERATE_KEY UINT32_C(0x02) /* generate_key works for the role */
#define HUB_CERTSTORE_CAP_IMPORT_KEY   UINT32_C(0x04) /* import_key works for the role */
#define HUB_CERTSTORE_CAP_HARDWARE     UINT32_C(0x08) /* keys live in hardware and never leave it */
#define HUB_CERTSTORE_CAP_RSA_2048     UINT32_C(0x10) /* generate_key accepts HUB_KEY_TYPE_RSA_2048 */

struct hub_certstore_ops {
	uint32_t struct_size; /* sizeof(struct hub_certstore_ops) */
	uint32_t reserved;

	/* HUB_CERTSTORE_CAP_* the store offers for @role, from its configuration
	 * alone (no device access); 0 when it cannot serve the role at all. */
	uint32_t (*capabilities)(void *user_data, uint32_t role);

	/* Loads what is stored for @role.
	 * @chain (may be NULL: not wanted) receives the certificates, leaf first
	 * then intermediates; for HUB_CERT_ROLE_ROOT_CA every trust anchor. NULL
	 * when the role has a key but no certificate yet. The caller frees it
	 * with sk_X509_pop_free(chain, X509_free).
	 * @key (may be NULL: not wanted) receives the private key, possibly
	 * hardware-backed; NULL for a role without a key (always for ROOT_CA).
	 * The caller frees it with EVP_PKEY_free(). It stays usable, or fails
	 * cleanly, after later ops on the role; the host frees every key before
	 * calling exit().
	 * -ENOENT when the role holds neither a key nor a certificate. */
	int (*load)(void *user_data, uint32_t role, STACK_OF(X509) **chain, EVP_PKEY **key, char *message,
		    size_t message_size);

	/* Generates a key pair of @key_type inside the store for @role,
	 * replacing the role's key and deleting its certificates (they no longer
	 * match). A hardware store generates it in the device, not exportable.
	 * -ENOTSUP: a type or role the store cannot. */
	int (*generate_key)(void *user_data, uint32_t role, uint32_t key_type, char *message, size_t message_size);

	/* Stores @chain (leaf first; the store does not take ownership) as the
	 * role's certificates, replacing any. For roles with a key the host has
	 * checked that the leaf matches it. Durable when it returns 0. */
	int (*store_certificates)(void *user_data, uint32_t role, STACK_OF(X509) *chain, char *message,
				  size_t message_size);

	/* Imports @key (generated elsewhere, e.g. by the cloud's
	 * CreateKeysAndCertificate; the store does not take ownership) as the
	 * role's key, replacing it and deleting the role's certificates.
	 * -ENOTSUP, with a message saying why, when the store cannot hold a key
	 * it did not generate (for example a TPM configured for device-born keys
	 * only): the caller then uses generate_key and a CSR instead. */
	int (*import_key)(void *user_data, uint32_t role, EVP_PKEY *key, char *message, size_t message_size);

	/* Erases the role's key and certificates. 0 also when nothing was stored. */
	int (*erase)(void *user_data, uint32_t role, char *message, size_t message_size);

	/* Writes a one-line description of where the role lives (a path, a
	 * token and label, a TPM handle) into @buf; no secrets. Returns 0 or
	 * -errno. May be NULL. */
	int (*describe)(void *user_data, uint32_t role, char *buf, size_t size);
};

#ifdef __cplusplus
}
#endif

#endif /* HUBD_HUB_CERTSTORE_H */
