/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-dbus-json.h - JSON values on the bus, as variants: boolean "b",
 * integer "x", number "d", string "s", array "av" (an empty array "as"),
 * object "a{sv}", and null as an empty "av" (D-Bus has no null).
 */
#pragma once

#include <json-glib/json-glib.h>
#include <systemd/sd-bus.h>

#include "hub-device.h"

/* Appends a property's current value as a variant without building a JsonNode
 * for scalars (GetManagedObjects reads thousands). Never reported: null. */
int hub_dbus_append_state_variant(sd_bus_message *m, const HubPropertyState *state);

/* Reads one variant from @m into a new JsonNode. Negative errno for types
 * that have no JSON meaning (object paths, fds, ...). */
int hub_dbus_read_json_variant(sd_bus_message *m, JsonNode **out);
