/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-schema.h - the subset of JSON Schema that the seed's capability and type
 * definition documents use (digest A §2.3): type (boolean, integer, number,
 * string, null, array, object), nullable, enum, default, minimum, maximum,
 * exclusiveMinimum, exclusiveMaximum, multipleOf, minLength, maxLength,
 * pattern (unanchored), items, prefixItems, minItems, maxItems, uniqueItems,
 * properties, required, propertyNames, patternProperties,
 * additionalProperties, anyOf, oneOf, and $ref to "#/$defs/<name>" or to the
 * built-in matter primitive definitions (matter.uint8@1.4, ...). "not" is
 * rejected, as in the seed.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

/* Checks that @schema is a schema this validator understands (known keywords,
 * well-typed keyword values, resolvable $refs against @defs, which may be NULL).
 * @where names the location for messages, e.g. "properties.OnOff.value". */
gboolean hub_schema_check(JsonNode *schema, JsonObject *defs, const char *where, GError **error);

/* Validates @value against @schema. On failure sets HUB_ERROR_INVALID_ARGUMENT
 * with a message naming the offending part, e.g.
 * "value 300 is above the maximum 254" or "\"Purple\" is not one of Off, Low, High". */
gboolean hub_schema_validate(JsonNode *schema, JsonObject *defs, JsonNode *value, GError **error);
