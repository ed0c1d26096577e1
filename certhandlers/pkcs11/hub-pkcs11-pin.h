/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-pkcs11-pin.h - where the user PIN comes from (a file or an environment
 * variable), and the memory of a PIN the token refused.
 *
 * A token counts failed logins and locks itself after a few, so a PIN it
 * refused is never offered again: hub_pkcs11_pin_is_refused() stays true
 * for the same PIN value until the source yields a different one. Only a
 * salted SHA-256 of the refused PIN is kept, never the PIN.
 *
 * Not thread-safe: the caller (HubPkcs11Module) serialises access.
 */
#pragma once

#include <stddef.h>

#include <glib.h>
#include <p11-kit/pkcs11.h>

#define HUB_PKCS11_PIN_MAX 255 /* the longest PIN PKCS#11 tokens accept in practice */

/* A PIN read from its source. Lives on the stack; wipe it with
 * hub_pkcs11_pin_value_clear() as soon as it has been used. */
typedef struct {
	char value[HUB_PKCS11_PIN_MAX + 1]; /* NUL-terminated */
	size_t len;
} HubPkcs11PinValue;

typedef struct _HubPkcs11Pin HubPkcs11Pin;

/* @file: absolute path of the pin-file, or NULL; @env: name of the
 * environment variable, or NULL. The file wins when both are set. Neither
 * is read here. Free with hub_pkcs11_pin_free() (NULL-safe). */
HubPkcs11Pin *hub_pkcs11_pin_new(const char *file, const char *env);
void hub_pkcs11_pin_free(HubPkcs11Pin *pin);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HubPkcs11Pin, hub_pkcs11_pin_free)

/* "pin-file /etc/hubd/pin", "environment variable HUB_PIN", or NULL when no
 * source is configured. Owned by @pin. */
const char *hub_pkcs11_pin_source(const HubPkcs11Pin *pin);

/* Reads the PIN: the first line of the file (which must not be accessible
 * by group or other) or the variable's value. Returns 0, or -EACCES (no
 * source, unreadable, unsafe mode, empty, unset) / -EINVAL (too long) with a
 * sentence in @message that never contains the PIN. */
int hub_pkcs11_pin_read(const HubPkcs11Pin *pin, HubPkcs11PinValue *out, char *message, size_t message_size);

void hub_pkcs11_pin_value_clear(HubPkcs11PinValue *value);

/* TRUE when the token already refused @value; *@rv (may be NULL) gets the
 * token's answer (CKR_PIN_INCORRECT, ...). */
gboolean hub_pkcs11_pin_is_refused(const HubPkcs11Pin *pin, const HubPkcs11PinValue *value, CK_RV *rv);
/* Remembers that the token answered @rv to @value. */
void hub_pkcs11_pin_set_refused(HubPkcs11Pin *pin, const HubPkcs11PinValue *value, CK_RV rv);
/* Forgets a refusal (after a successful login). */
void hub_pkcs11_pin_clear_refused(HubPkcs11Pin *pin);
