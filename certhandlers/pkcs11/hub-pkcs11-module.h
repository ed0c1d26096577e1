/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-pkcs11-module.h - one PKCS#11 module, the token chosen by its label,
 * and one logged-in read/write session on it.
 *
 * Nothing touches the device until hub_pkcs11_module_session() is first
 * called: then the module is dlopen()ed and initialised, the slot whose token
 * label matches is found (slot ids change when a token is initialised, so
 * only the label is trusted), a session is opened and the user logs in.
 * After a call fails with a code that means the session is gone,
 * hub_pkcs11_module_session_lost() drops it and the next
 * hub_pkcs11_module_session() reconnects.
 *
 * Reference counted: the certificate store holds one reference and every
 * token-backed EVP_PKEY holds one, so a key keeps working after the store
 * moved on. The last unref closes the session, calls C_Finalize (only if
 * this object's C_Initialize did the initialisation) and dlclose()s.
 *
 * Threading: any thread, under hub_pkcs11_module_lock(). Every function
 * below except new/ref/unref/lock/unlock and the getters expects the caller
 * to hold the lock (recursive).
 */
#pragma once

#include <stdint.h>

#include <glib.h>
#include <p11-kit/pkcs11.h>

#include "hub-pkcs11-pin.h"

typedef struct _HubPkcs11Module HubPkcs11Module;

/* @pin: taken over (freed with the module). Never fails; loads nothing. */
HubPkcs11Module *hub_pkcs11_module_new(const char *path, const char *token_label, HubPkcs11Pin *pin);
HubPkcs11Module *hub_pkcs11_module_ref(HubPkcs11Module *module);
void hub_pkcs11_module_unref(HubPkcs11Module *module); /* NULL-safe */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HubPkcs11Module, hub_pkcs11_module_unref)

void hub_pkcs11_module_lock(HubPkcs11Module *module);
void hub_pkcs11_module_unlock(HubPkcs11Module *module);

const char *hub_pkcs11_module_get_path(const HubPkcs11Module *module);
const char *hub_pkcs11_module_get_token_label(const HubPkcs11Module *module);

/* Connects if needed and returns the function list and the session.
 * Errors (with a sentence in @message, never the PIN):
 *   -ENODEV  the module cannot be loaded or initialised, no token has the label
 *   -EACCES  no usable PIN, the token refused it (then not retried with the
 *            same PIN), or the user PIN is locked
 *   -EIO     the module failed otherwise */
int hub_pkcs11_module_session(HubPkcs11Module *module, CK_FUNCTION_LIST_PTR *p11, CK_SESSION_HANDLE *session,
			      char *message, size_t message_size);

/* TRUE when @rv means the session (or the whole module state) is gone:
 * CKR_SESSION_HANDLE_INVALID, CKR_SESSION_CLOSED, CKR_DEVICE_REMOVED,
 * CKR_TOKEN_NOT_PRESENT, CKR_USER_NOT_LOGGED_IN or
 * CKR_CRYPTOKI_NOT_INITIALIZED. The session is then dropped, so the caller
 * may retry once after hub_pkcs11_module_session(). */
gboolean hub_pkcs11_module_session_lost(HubPkcs11Module *module, CK_RV rv);

/* Destroys a token object and records it, so keys that still refer to
 * @object fail instead of using whatever object the handle names later. */
CK_RV hub_pkcs11_module_destroy_object(HubPkcs11Module *module, CK_OBJECT_HANDLE object);

/* A value that changes whenever @object stops naming the object it named
 * (destroyed through this module, or the module re-initialised). */
uint64_t hub_pkcs11_module_object_stamp(HubPkcs11Module *module, CK_OBJECT_HANDLE object);

/* "CKR_PIN_INCORRECT", or "CKR_0x%lx" written into @buf for unknown codes. */
const char *hub_pkcs11_rv_to_string(CK_RV rv, char buf[32]);
