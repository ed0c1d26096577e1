/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-test-pki.h - a throwaway certificate authority made at test time:
 * an EC P-256 CA, a server certificate for localhost / 127.0.0.1, client
 * certificates for CSRs or with a software key, and expired ones for
 * negative tests. Everything lives in memory and in a directory of the
 * test's temp dir; nothing is read from the host. Failures abort the test.
 */
#pragma once

#include <glib.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

typedef struct _HubTestPki HubTestPki;

/* Creates a CA with subject CN=@ca_name and a server certificate, and writes
 * @dir/ca.crt, @dir/server.crt and @dir/server.key (0600; @dir is created
 * 0700 when missing). */
HubTestPki *hub_test_pki_new(const char *dir, const char *ca_name);
void hub_test_pki_free(HubTestPki *pki);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HubTestPki, hub_test_pki_free)

/* Paths of the files written by hub_test_pki_new (owned by @pki). */
const char *hub_test_pki_ca_path(HubTestPki *pki);
const char *hub_test_pki_server_cert_path(HubTestPki *pki);
const char *hub_test_pki_server_key_path(HubTestPki *pki);

/* The CA certificate (owned by @pki). */
X509 *hub_test_pki_ca(HubTestPki *pki);
/* A new stack holding the CA certificate: trust anchors for clients
 * (sk_X509_pop_free(stack, X509_free)). */
STACK_OF(X509) *hub_test_pki_trust_anchors(HubTestPki *pki);

/* Validity for the functions below, in days from now. A negative value
 * issues a certificate that expired that many days ago (notAfter in the
 * past, notBefore one day earlier). */
#define HUB_TEST_PKI_EXPIRED (-1)

/* Issues a client certificate (extKeyUsage clientAuth) for the request in
 * @csr_pem, after checking its self-signature; the subject is copied from
 * the request. Returns the certificate as PEM (g_free), or NULL with @error
 * (HUB_ERROR_INVALID_ARGUMENT) when the request does not parse or verify. */
char *hub_test_pki_sign_csr(HubTestPki *pki, const char *csr_pem, int days, GError **error);

/* Issues a client certificate CN=@common_name for a new software P-256 key.
 * Returns the certificate PEM; the key's PKCS#8 PEM goes to @key_pem (both
 * g_free). */
char *hub_test_pki_issue_client(HubTestPki *pki, const char *common_name, int days, char **key_pem);

/* Test helpers: every certificate in @pem, in order (NULL when none), and
 * the first private key in @pem (NULL when none). */
STACK_OF(X509) *hub_test_pem_to_chain(const char *pem);
EVP_PKEY *hub_test_pem_to_key(const char *pem);
/* A new software key: "EC" (P-256) or "RSA" (2048 bits). */
EVP_PKEY *hub_test_key_new(const char *type);
