/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "hub-error.h"

G_DEFINE_QUARK(hub-error-quark, hub_error)

const char *hub_error_dbus_name(gint code)
{
	switch ((HubError)code) {
	case HUB_ERROR_NOT_FOUND:
		return "org.hubd.Hub1.Error.NotFound";
	case HUB_ERROR_INVALID_ARGUMENT:
		return "org.hubd.Hub1.Error.InvalidArgument";
	case HUB_ERROR_NOT_SUPPORTED:
		return "org.hubd.Hub1.Error.NotSupported";
	case HUB_ERROR_ACCESS_DENIED:
		return "org.hubd.Hub1.Error.AccessDenied";
	case HUB_ERROR_TIMEOUT:
		return "org.hubd.Hub1.Error.Timeout";
	case HUB_ERROR_BUSY:
		return "org.hubd.Hub1.Error.Busy";
	case HUB_ERROR_EXISTS:
		return "org.hubd.Hub1.Error.Exists";
	case HUB_ERROR_UNAVAILABLE:
		return "org.hubd.Hub1.Error.Unavailable";
	case HUB_ERROR_FAILED:
	default:
		return "org.hubd.Hub1.Error.Failed";
	}
}
