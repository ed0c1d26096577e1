/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hub-error.h - the HUB_ERROR domain; each code maps to org.hubd.Hub1.Error.<Name>. */
#pragma once

#include <glib.h>

#define HUB_ERROR (hub_error_quark())

typedef enum {
	HUB_ERROR_FAILED,           /* org.hubd.Hub1.Error.Failed */
	HUB_ERROR_NOT_FOUND,        /* ...NotFound: unknown device, endpoint, capability, action, property */
	HUB_ERROR_INVALID_ARGUMENT, /* ...InvalidArgument: wrong type, out of range, bad enum, bad JSON */
	HUB_ERROR_NOT_SUPPORTED,    /* ...NotSupported: e.g. write to a non-mutable property */
	HUB_ERROR_ACCESS_DENIED,    /* ...AccessDenied: caller not in group hubd */
	HUB_ERROR_TIMEOUT,          /* ...Timeout */
	HUB_ERROR_BUSY,             /* ...Busy: e.g. discovery already running */
	HUB_ERROR_EXISTS,           /* ...Exists */
	HUB_ERROR_UNAVAILABLE,      /* ...Unavailable: a device or module (TPM, token) not reachable */
} HubError;

GQuark hub_error_quark(void);

/* "org.hubd.Hub1.Error.NotFound" for HUB_ERROR_NOT_FOUND, ...; Failed for unknown codes. */
const char *hub_error_dbus_name(gint code);
