/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-schema.c - the JSON Schema subset of capability documents (src/hub-schema.c). */
#include "config.h"

#include <string.h>

#include "hub-error.h"
#include "hub-schema.h"

static JsonNode *parse(const char *text)
{
	g_autoptr(GError) error = NULL;
	JsonNode *node = json_from_string(text, &error);

	g_assert_no_error(error);
	g_assert_nonnull(node);
	return node;
}

static JsonObject *parse_defs(const char *text)
{
	g_autoptr(JsonNode) node = parse(text);

	g_assert_true(JSON_NODE_HOLDS_OBJECT(node));
	return json_object_ref(json_node_get_object(node));
}

static void assert_contains(const char *message, const char *fragment)
{
	if (strstr(message, fragment) == NULL)
		g_error("message \"%s\" does not contain \"%s\"", message, fragment);
}

/* @schema must pass hub_schema_check and accept @value. */
static void assert_valid_with(const char *schema, JsonObject *defs, const char *value)
{
	g_autoptr(JsonNode) s = parse(schema);
	g_autoptr(JsonNode) v = parse(value);
	g_autoptr(GError) error = NULL;

	g_assert_true(hub_schema_check(s, defs, "test", &error));
	g_assert_no_error(error);
	if (!hub_schema_validate(s, defs, v, &error))
		g_error("%s rejected %s: %s", schema, value, error->message);
}

/* @schema must pass hub_schema_check and reject @value with a message holding @fragment. */
static void assert_invalid_with(const char *schema, JsonObject *defs, const char *value, const char *fragment)
{
	g_autoptr(JsonNode) s = parse(schema);
	g_autoptr(JsonNode) v = parse(value);
	g_autoptr(GError) error = NULL;

	g_assert_true(hub_schema_check(s, defs, "test", &error));
	g_assert_no_error(error);
	if (hub_schema_validate(s, defs, v, &error))
		g_error("%s accepted %s", schema, value);
	g_assert_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT);
	assert_contains(error->message, fragment);
}

static void assert_valid(const char *schema, const char *value)
{
	assert_valid_with(schema, NULL, value);
}

static void assert_invalid(const char *schema, const char *value, const char *fragment)
{
	assert_invalid_with(schema, NULL, value, fragment);
}

/* hub_schema_check must refuse @schema with a message holding @fragment. */
static void assert_check_fails_with(const char *schema, JsonObject *defs, const char *fragment)
{
	g_autoptr(JsonNode) s = parse(schema);
	g_autoptr(GError) error = NULL;

	if (hub_schema_check(s, defs, "properties.X.value", &error))
		g_error("check accepted %s", schema);
	g_assert_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT);
	assert_contains(error->message, "properties.X.value");
	assert_contains(error->message, fragment);
}

static void assert_check_fails(const char *schema, const char *fragment)
{
	assert_check_fails_with(schema, NULL, fragment);
}

static void test_type_mismatch(void)
{
	assert_invalid("{\"type\": \"integer\"}", "\"abc\"", "expected integer, got string \"abc\"");
	assert_invalid("{\"type\": \"string\"}", "12", "expected string, got integer 12");
	assert_invalid("{\"type\": \"boolean\"}", "\"true\"", "expected boolean, got string \"true\"");
	assert_invalid("{\"type\": \"number\"}", "true", "expected number, got boolean true");
	assert_invalid("{\"type\": \"object\"}", "[1]", "expected object, got array");
	assert_invalid("{\"type\": \"array\"}", "{}", "expected array, got object");
	assert_invalid("{\"type\": \"null\"}", "0", "expected null, got integer 0");
	assert_invalid("{\"type\": [\"integer\", \"string\"]}", "false", "expected integer or string, got boolean false");
	assert_valid("{\"type\": [\"integer\", \"string\"]}", "\"x\"");
	assert_valid("{\"type\": \"null\"}", "null");
	assert_valid("{\"type\": \"number\"}", "1.5");
	assert_valid("{}", "{\"anything\": [1, 2]}");
}

static void test_integer_fraction(void)
{
	/* digest A §2.3: a zero fractional part counts as an integer */
	assert_valid("{\"type\": \"integer\"}", "1.0");
	assert_valid("{\"type\": \"integer\", \"maximum\": 254}", "254.0");
	assert_invalid("{\"type\": \"integer\"}", "3.14", "expected integer, got number 3.14");
	assert_invalid("{\"type\": \"integer\", \"maximum\": 254}", "254.5", "expected integer");
}

static void test_range(void)
{
	const char *level = "{\"type\": \"integer\", \"minimum\": 0, \"maximum\": 254}";

	assert_valid(level, "0");
	assert_valid(level, "254");
	assert_invalid(level, "300", "value 300 is above the maximum 254");
	assert_invalid(level, "-1", "value -1 is below the minimum 0");
	assert_invalid("{\"type\": \"number\", \"maximum\": 10.2}", "10.25", "value 10.25 is above the maximum 10.2");
	assert_valid("{\"type\": \"integer\", \"exclusiveMinimum\": -1, \"exclusiveMaximum\": 11}", "0");
	assert_valid("{\"type\": \"integer\", \"exclusiveMinimum\": -1, \"exclusiveMaximum\": 11}", "10");
	assert_invalid("{\"type\": \"integer\", \"exclusiveMaximum\": 11}", "11",
		       "value 11 is not below the exclusive maximum 11");
	assert_invalid("{\"type\": \"integer\", \"exclusiveMinimum\": -1}", "-1",
		       "value -1 is not above the exclusive minimum -1");
	/* beyond 2^53 integers still compare exactly */
	assert_invalid("{\"type\": \"integer\", \"maximum\": 9007199254740992}", "9007199254740993",
		       "above the maximum 9007199254740992");
	/* range keywords only apply to numbers */
	assert_valid("{\"minimum\": 5}", "\"text\"");
}

static void test_multiple_of(void)
{
	assert_valid("{\"type\": \"integer\", \"multipleOf\": 2}", "10");
	assert_invalid("{\"type\": \"integer\", \"multipleOf\": 2}", "7", "value 7 is not a multiple of 2");
	/* digest A §2.3: a float multipleOf for numbers, despite binary rounding */
	assert_valid("{\"type\": \"number\", \"multipleOf\": 0.2}", "0.4");
	assert_valid("{\"type\": \"number\", \"multipleOf\": 0.2}", "10.2");
	assert_invalid("{\"type\": \"number\", \"multipleOf\": 0.2}", "0.5", "value 0.5 is not a multiple of 0.2");
}

static void test_nullable(void)
{
	const char *level = "{\"type\": \"integer\", \"minimum\": 0, \"maximum\": 254, \"nullable\": true}";

	assert_valid(level, "null");
	assert_valid(level, "12");
	assert_invalid(level, "255", "above the maximum 254");
	assert_invalid("{\"type\": \"integer\", \"maximum\": 254}", "null", "expected integer, got null");
	assert_invalid("{\"type\": \"integer\", \"nullable\": false}", "null", "expected integer, got null");
	assert_valid("{\"type\": \"string\", \"enum\": [\"A\", \"B\"], \"nullable\": true}", "null");
}

static void test_enum(void)
{
	const char *fan = "{\"type\": \"string\", \"enum\": [\"Off\", \"Low\", \"Medium\", \"High\"],"
			  " \"extrinsicIdMap\": {\"Off\": \"0\", \"Low\": \"1\", \"Medium\": \"2\", \"High\": \"3\"}}";

	assert_valid(fan, "\"Medium\"");
	assert_invalid(fan, "\"Purple\"", "\"Purple\" is not one of Off, Low, Medium, High");
	/* enum values are names, not the numbers of extrinsicIdMap */
	assert_invalid(fan, "2", "expected string, got integer 2");
	assert_invalid(fan, "\"medium\"", "\"medium\" is not one of");
	assert_invalid("{\"enum\": [1, 2]}", "3", "3 is not one of 1, 2");
}

static void test_string(void)
{
	const char *bounded = "{\"type\": \"string\", \"minLength\": 2, \"maxLength\": 4}";

	assert_valid(bounded, "\"ab\"");
	/* lengths count characters, not bytes */
	assert_valid(bounded, "\"\u00e9t\u00e9s\"");
	assert_invalid(bounded, "\"a\"", "is 1 characters long, shorter than the minimum length 2");
	assert_invalid(bounded, "\"abcde\"", "string \"abcde\" is 5 characters long, longer than the maximum length 4");
	/* digest A §2.3: pattern is an unanchored search */
	assert_valid("{\"type\": \"string\", \"pattern\": \"p\"}", "\"apple\"");
	assert_invalid("{\"type\": \"string\", \"pattern\": \"^p\"}", "\"apple\"",
		       "string \"apple\" does not match the pattern ^p");
	assert_valid("{\"type\": \"string\", \"pattern\": \"^[0-9]{4,8}$\"}", "\"1234\"");
	assert_invalid("{\"type\": \"string\", \"pattern\": \"^[0-9]{4,8}$\"}", "\"12a4\"",
		       "does not match the pattern ^[0-9]{4,8}$");
}

static void test_long_string_is_shortened(void)
{
	g_autofree char *long_value = g_strdup_printf("\"%0500d\"", 7);
	g_autoptr(JsonNode) s = parse("{\"type\": \"integer\"}");
	g_autoptr(JsonNode) v = parse(long_value);
	g_autoptr(GError) error = NULL;

	g_assert_false(hub_schema_validate(s, NULL, v, &error));
	assert_contains(error->message, "expected integer, got string \"0000");
	assert_contains(error->message, "...\"");
	g_assert_cmpuint(strlen(error->message), <, 120);
}

static void test_array(void)
{
	const char *list = "{\"type\": \"array\", \"items\": {\"type\": \"string\", \"pattern\": \"^[0-9]+$\"},"
			   " \"minItems\": 1, \"maxItems\": 4, \"uniqueItems\": true}";
	const char *tuple = "{\"type\": \"array\", \"prefixItems\": [{\"type\": \"integer\"}, {\"type\": \"string\"}]}";

	/* digest A §2.3 examples */
	assert_valid(list, "[\"1\", \"2\", \"3\", \"4\"]");
	assert_invalid(list, "[]", "array has 0 items, fewer than the minimum 1");
	assert_invalid(list, "[\"1\", \"2\", \"3\", \"4\", \"5\"]", "array has 5 items, more than the maximum 4");
	assert_invalid(list, "[\"1\", \"1\"]", "array items [0] and [1] are equal");
	assert_invalid(list, "[\"1\", \"{}\"]", "[1]: string \"{}\" does not match the pattern ^[0-9]+$");
	assert_valid(tuple, "[1, \"a\"]");
	/* extra trailing items are allowed by default */
	assert_valid(tuple, "[1, \"a\", true]");
	assert_invalid(tuple, "[\"a\", 1]", "[0]: expected integer, got string \"a\"");
	assert_invalid("{\"type\": \"array\", \"prefixItems\": [{\"type\": \"integer\"}], \"items\": false}",
		       "[1, 2]", "[1]: no value is allowed here");
}

static void test_object(void)
{
	assert_invalid("{\"type\": \"object\", \"required\": [\"test\"]}", "{}", "missing required member \"test\"");
	assert_valid("{\"type\": \"object\", \"propertyNames\": {\"pattern\": \"^[A-Za-z_][A-Za-z0-9_]*$\"}}",
		     "{\"_ok\": 1, \"Fine2\": 2}");
	assert_invalid("{\"type\": \"object\", \"propertyNames\": {\"pattern\": \"^[A-Za-z_][A-Za-z0-9_]*$\"}}",
		       "{\"001 invalid\": 1}", "invalid member name \"001 invalid\"");
	assert_valid("{\"patternProperties\": {\"^S_\": {\"type\": \"string\"}, \"^I_\": {\"type\": \"integer\"}}}",
		     "{\"S_0\": \"x\", \"I_0\": 42}");
	assert_invalid("{\"patternProperties\": {\"^S_\": {\"type\": \"string\"}, \"^I_\": {\"type\": \"integer\"}}}",
		       "{\"S_0\": 42}", "S_0: expected string, got integer 42");
	assert_valid("{\"properties\": {\"a\": {\"type\": \"integer\"}}}", "{\"a\": 1, \"b\": \"extra\"}");
	assert_invalid("{\"properties\": {\"a\": {\"type\": \"integer\"}}, \"additionalProperties\": false}",
		       "{\"a\": 1, \"b\": \"extra\"}", "member \"b\" is not allowed");
	assert_invalid("{\"properties\": {\"a\": {\"type\": \"integer\"}}, \"additionalProperties\": {\"type\": \"boolean\"}}",
		       "{\"a\": 1, \"b\": \"extra\"}", "b: expected boolean, got string \"extra\"");
	/* nested locations are named */
	assert_invalid("{\"properties\": {\"a\": {\"items\": {\"properties\": {\"b\": {\"maximum\": 3}}}}}}",
		       "{\"a\": [{\"b\": 1}, {\"b\": 4}]}", "a[1].b: value 4 is above the maximum 3");
}

static void test_any_of_one_of(void)
{
	const char *one = "{\"oneOf\": [{\"type\": \"integer\", \"multipleOf\": 5}, {\"type\": \"integer\", \"multipleOf\": 3}]}";
	const char *any = "{\"anyOf\": [{\"type\": \"integer\"}, {\"type\": \"string\", \"maxLength\": 2}]}";

	/* digest A §2.3 example */
	assert_valid(one, "10");
	assert_valid(one, "9");
	assert_invalid(one, "15", "matches both oneOf alternatives [0] and [1]");
	assert_invalid(one, "2", "matches none of the oneOf alternatives");
	assert_valid(any, "7");
	assert_valid(any, "\"ab\"");
	assert_invalid(any, "\"abc\"", "longer than the maximum length 2");
	assert_invalid(any, "true", "matches none of the anyOf alternatives: [0] expected integer, got boolean true");
}

static void test_builtin_refs(void)
{
	const char *prefix = "/schema-versions/definition/";
	static const struct {
		const char *type;
		const char *good;
		const char *bad;
		const char *fragment;
	} cases[] = {
		{ "bool", "true", "1", "expected boolean, got integer 1" },
		{ "uint8", "255", "256", "value 256 is above the maximum 255" },
		{ "uint16", "65535", "-1", "value -1 is below the minimum 0" },
		{ "uint32", "4294967295", "4294967296", "above the maximum 4294967295" },
		{ "uint64", "9007199254740992", "9007199254740993", "above the maximum 9007199254740992" },
		{ "int8", "-128", "-129", "value -129 is below the minimum -128" },
		{ "int16", "32767", "32768", "above the maximum 32767" },
		{ "int32", "-2147483648", "2147483648", "above the maximum 2147483647" },
		{ "int64", "-9007199254740992", "-9007199254740993", "below the minimum -9007199254740992" },
		{ "percent", "100", "101", "value 101 is above the maximum 100" },
		{ "percent100ths", "10000", "10001", "value 10001 is above the maximum 10000" },
		{ "string", "\"x\"", "5", "expected string, got integer 5" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *schema = g_strdup_printf("{\"$ref\": \"%smatter.%s@1.4\"}", prefix, cases[i].type);

		assert_valid(schema, cases[i].good);
		assert_invalid(schema, cases[i].bad, cases[i].fragment);
	}
	assert_invalid("{\"$ref\": \"/schema-versions/definition/matter.uint8@1.4\"}", "2.5", "expected integer, got number 2.5");
}

static void test_ref_with_siblings(void)
{
	/* digest A §1.11 example: siblings narrow the definition, nullable widens it */
	const char *schema = "{\"$ref\": \"/schema-versions/definition/matter.uint16@1.4\", \"nullable\": true, \"maximum\": 4096}";

	assert_valid(schema, "null");
	assert_valid(schema, "4096");
	assert_invalid(schema, "4097", "value 4097 is above the maximum 4096");
	assert_invalid(schema, "-5", "value -5 is below the minimum 0");
	assert_invalid("{\"$ref\": \"/schema-versions/definition/matter.uint16@1.4\"}", "null", "expected integer, got null");
}

static void test_local_refs(void)
{
	g_autoptr(JsonObject) defs = parse_defs(
		"{\"Mode\": {\"type\": \"string\", \"enum\": [\"Heat\", \"Cool\"]},"
		" \"Pair\": {\"type\": \"array\", \"items\": {\"$ref\": \"#/$defs/Mode\"}, \"maxItems\": 2},"
		" \"Tree\": {\"type\": \"object\", \"properties\": {\"children\": {\"type\": \"array\", \"items\": {\"$ref\": \"#/$defs/Tree\"}}}}}");

	assert_valid_with("{\"$ref\": \"#/$defs/Mode\"}", defs, "\"Heat\"");
	assert_invalid_with("{\"$ref\": \"#/$defs/Mode\"}", defs, "\"Dry\"", "\"Dry\" is not one of Heat, Cool");
	assert_invalid_with("{\"$ref\": \"#/$defs/Pair\"}", defs, "[\"Heat\", \"Fan\"]", "[1]: \"Fan\" is not one of Heat, Cool");
	/* recursion through the value is fine */
	assert_valid_with("{\"$ref\": \"#/$defs/Tree\"}", defs, "{\"children\": [{\"children\": []}]}");
	assert_invalid_with("{\"$ref\": \"#/$defs/Tree\"}", defs, "{\"children\": [{\"children\": 3}]}",
			    "children[0].children: expected array, got integer 3");
}

static void test_check_unresolvable_ref(void)
{
	g_autoptr(JsonObject) defs = parse_defs("{\"Mode\": {\"type\": \"string\"}}");

	assert_check_fails("{\"$ref\": \"#/$defs/Mode\"}", "unresolvable $ref \"#/$defs/Mode\"");
	assert_check_fails_with("{\"$ref\": \"#/$defs/Missing\"}", defs, "unresolvable $ref \"#/$defs/Missing\"");
	assert_check_fails("{\"$ref\": \"/schema-versions/definition/matter.uint128@1.4\"}",
			   "unresolvable $ref \"/schema-versions/definition/matter.uint128@1.4\"");
	assert_check_fails("{\"$ref\": \"/schema-versions/definition/matter.uint8@1.3\"}", "unresolvable $ref");
	assert_check_fails("{\"$ref\": 5}", "$ref must be a string");
}

static void test_check_ref_loop(void)
{
	g_autoptr(JsonObject) defs = parse_defs(
		"{\"A\": {\"anyOf\": [{\"type\": \"integer\"}, {\"$ref\": \"#/$defs/B\"}]},"
		" \"B\": {\"$ref\": \"#/$defs/A\"}}");
	g_autoptr(JsonNode) s = parse("{\"$ref\": \"#/$defs/A\"}");
	g_autoptr(JsonNode) v = parse("\"x\"");
	g_autoptr(GError) error = NULL;

	/* the message names the place in $defs where the loop closes */
	g_assert_false(hub_schema_check(s, defs, "properties.X.value", &error));
	g_assert_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT);
	assert_contains(error->message, "$defs.B: $ref loop: \"#/$defs/A\" leads back to itself");
	g_clear_error(&error);
	/* unchecked, the same schema must fail cleanly, not exhaust the stack */
	g_assert_false(hub_schema_validate(s, defs, v, &error));
	g_assert_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT);
	assert_contains(error->message, "nested deeper than 32 levels");
}

static void test_check_rejects_not(void)
{
	assert_check_fails("{\"type\": \"integer\", \"not\": {\"minimum\": 3}}", "the \"not\" keyword is not supported");
	assert_check_fails("{\"anyOf\": [{\"not\": {}}]}", "properties.X.value.anyOf[0]");
}

static void test_check_rejects_unknown_keyword(void)
{
	assert_check_fails("{\"type\": \"string\", \"format\": \"date-time\"}", "unknown schema keyword \"format\"");
	assert_check_fails("{\"properties\": {\"a\": {\"maxSize\": 3}}}",
			   "properties.X.value.properties.a: unknown schema keyword \"maxSize\"");
	assert_check_fails("{\"allOf\": [{}]}", "unknown schema keyword \"allOf\"");
	assert_check_fails("{\"unevaluatedProperties\": false}", "unknown schema keyword \"unevaluatedProperties\"");
}

static void test_check_annotations(void)
{
	g_autoptr(JsonNode) s = parse(
		"{\"type\": \"string\", \"title\": \"T\", \"description\": \"D\", \"default\": \"Off\","
		" \"$comment\": \"c\", \"examples\": [\"Off\"], \"extrinsicId\": \"0x0000\","
		" \"extrinsicIdMap\": {\"Off\": \"0\"}, \"extrinsicProperties\": {\"side\": \"server\"},"
		" \"enum\": [\"Off\"]}");
	g_autoptr(GError) error = NULL;

	g_assert_true(hub_schema_check(s, NULL, "test", &error));
	g_assert_no_error(error);
}

static void test_check_keyword_values(void)
{
	assert_check_fails("{\"type\": \"int\"}", "unknown type \"int\"");
	assert_check_fails("{\"type\": []}", "type must be");
	assert_check_fails("{\"minimum\": \"0\"}", "minimum must be a number");
	assert_check_fails("{\"multipleOf\": 0}", "multipleOf must be a number above 0");
	assert_check_fails("{\"maxLength\": -1}", "maxLength must be a non-negative integer");
	assert_check_fails("{\"minItems\": 1.5}", "minItems must be a non-negative integer");
	assert_check_fails("{\"nullable\": \"yes\"}", "nullable must be true or false");
	assert_check_fails("{\"pattern\": \"([a-z\"}", "invalid pattern \"([a-z\"");
	assert_check_fails("{\"patternProperties\": {\"(\": {}}}", "invalid pattern \"(\"");
	assert_check_fails("{\"required\": \"a\"}", "required must be an array of names");
	assert_check_fails("{\"required\": [\"a\", \"a\"]}", "required lists \"a\" twice");
	assert_check_fails("{\"enum\": []}", "enum must be a non-empty array");
	assert_check_fails("{\"enum\": [\"A\", \"A\"]}", "enum value \"A\" is listed twice");
	assert_check_fails("{\"type\": \"string\", \"enum\": [\"A\", 1]}", "enum value 1 is not of type string");
	assert_check_fails("{\"anyOf\": []}", "anyOf must be a non-empty array of schemas");
	assert_check_fails("{\"items\": 3}", "properties.X.value.items: a schema must be an object");
	assert_check_fails("{\"minimum\": 10, \"maximum\": 5}", "minimum 10 is above maximum 5");
	assert_check_fails("[]", "a schema must be an object");
}

static void test_depth_limit(void)
{
	g_autoptr(GString) schema = g_string_new(NULL);
	g_autoptr(GString) value = g_string_new(NULL);
	g_autoptr(JsonNode) s = NULL;
	g_autoptr(JsonNode) v = NULL;
	g_autoptr(GError) error = NULL;

	/* 40 nested array schemas, and a value as deep */
	for (guint i = 0; i < 40; i++) {
		g_string_append(schema, "{\"items\": ");
		g_string_append(value, "[");
	}
	g_string_append(schema, "{}");
	g_string_append(value, "1");
	for (guint i = 0; i < 40; i++) {
		g_string_append(schema, "}");
		g_string_append(value, "]");
	}
	s = parse(schema->str);
	v = parse(value->str);
	g_assert_false(hub_schema_check(s, NULL, "deep", &error));
	g_assert_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT);
	assert_contains(error->message, "nested deeper than 32 levels");
	g_clear_error(&error);
	g_assert_false(hub_schema_validate(s, NULL, v, &error));
	g_assert_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT);
	assert_contains(error->message, "nested deeper than 32 levels");
}

static void test_validate_guards_unchecked_schema(void)
{
	static const struct {
		const char *schema;
		const char *value;
		const char *fragment;
	} cases[] = {
		{ "{\"type\": \"string\", \"pattern\": \"([\"}", "\"a\"", "invalid schema: bad pattern" },
		{ "{\"maximum\": \"ten\"}", "3", "invalid schema: maximum is not a number" },
		{ "{\"$ref\": \"#/$defs/Nope\"}", "3", "unresolvable $ref" },
		{ "{\"type\": 7}", "3", "invalid schema" },
		{ "{\"multipleOf\": -2}", "4", "multipleOf is not a positive number" },
		{ "[1]", "3", "invalid schema: not an object" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(JsonNode) s = parse(cases[i].schema);
		g_autoptr(JsonNode) v = parse(cases[i].value);
		g_autoptr(GError) error = NULL;

		g_assert_false(hub_schema_validate(s, NULL, v, &error));
		g_assert_error(error, HUB_ERROR, HUB_ERROR_INVALID_ARGUMENT);
		assert_contains(error->message, cases[i].fragment);
	}
}

static void test_boolean_schemas(void)
{
	assert_valid("true", "{\"a\": 1}");
	assert_invalid("false", "1", "no value is allowed here");
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	g_test_add_func("/hub/schema/type-mismatch", test_type_mismatch);
	g_test_add_func("/hub/schema/integer-fraction", test_integer_fraction);
	g_test_add_func("/hub/schema/range", test_range);
	g_test_add_func("/hub/schema/multiple-of", test_multiple_of);
	g_test_add_func("/hub/schema/nullable", test_nullable);
	g_test_add_func("/hub/schema/enum", test_enum);
	g_test_add_func("/hub/schema/string", test_string);
	g_test_add_func("/hub/schema/long-string-is-shortened", test_long_string_is_shortened);
	g_test_add_func("/hub/schema/array", test_array);
	g_test_add_func("/hub/schema/object", test_object);
	g_test_add_func("/hub/schema/any-of-one-of", test_any_of_one_of);
	g_test_add_func("/hub/schema/builtin-refs", test_builtin_refs);
	g_test_add_func("/hub/schema/ref-with-siblings", test_ref_with_siblings);
	g_test_add_func("/hub/schema/local-refs", test_local_refs);
	g_test_add_func("/hub/schema/boolean-schemas", test_boolean_schemas);
	g_test_add_func("/hub/schema/check-unresolvable-ref", test_check_unresolvable_ref);
	g_test_add_func("/hub/schema/check-ref-loop", test_check_ref_loop);
	g_test_add_func("/hub/schema/check-rejects-not", test_check_rejects_not);
	g_test_add_func("/hub/schema/check-rejects-unknown-keyword", test_check_rejects_unknown_keyword);
	g_test_add_func("/hub/schema/check-ignores-annotations", test_check_annotations);
	g_test_add_func("/hub/schema/check-keyword-values", test_check_keyword_values);
	g_test_add_func("/hub/schema/depth-limit", test_depth_limit);
	g_test_add_func("/hub/schema/validate-guards-unchecked-schema", test_validate_guards_unchecked_schema);

	return g_test_run();
}
