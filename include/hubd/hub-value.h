/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-value.h - the tagged value that carries property values, action parameters
 * and event parameters across the plugin ABI.
 *
 * Part of hubd plugin ABI v1. Only plain C crosses the boundary: a value is a
 * type tag plus a union; strings and JSON text are borrowed pointers with an
 * explicit length (not necessarily NUL-terminated).
 *
 * Ownership: a struct hub_value never owns memory. Whoever passes one in a call
 * keeps ownership of the strings it points to; the callee copies what it keeps.
 * Values handed to a plugin by the host are valid only for the duration of
 * that call.
 */
#ifndef HUBD_HUB_VALUE_H
#define HUBD_HUB_VALUE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Type tags; fixed-width so the layout does not depend on the compiler. */
#define HUB_VALUE_NULL   UINT32_C(0)
#define HUB_VALUE_BOOL   UINT32_C(1)
#define HUB_VALUE_INT    UINT32_C(2) /* int64_t */
#define HUB_VALUE_DOUBLE UINT32_C(3)
#define HUB_VALUE_STRING UINT32_C(4) /* UTF-8 text */
#define HUB_VALUE_JSON   UINT32_C(5) /* JSON text of an array or object */

struct hub_value {
	uint32_t type;     /* HUB_VALUE_* */
	uint32_t reserved; /* must be 0 */
	union {
		int32_t b;  /* HUB_VALUE_BOOL: 0 or 1 */
		int64_t i;  /* HUB_VALUE_INT */
		double d;   /* HUB_VALUE_DOUBLE */
		struct {
			const char *ptr; /* HUB_VALUE_STRING, HUB_VALUE_JSON */
			size_t len;
		} s;
	} u;
};

/* A named value: a property in a write, a parameter of an action or event. */
struct hub_param {
	const char *name; /* NUL-terminated, borrowed */
	struct hub_value value;
};

static inline struct hub_value hub_value_null(void)
{
	struct hub_value v;
	memset(&v, 0, sizeof(v));
	v.type = HUB_VALUE_NULL;
	return v;
}

static inline struct hub_value hub_value_bool(int b)
{
	struct hub_value v = hub_value_null();
	v.type = HUB_VALUE_BOOL;
	v.u.b = b ? 1 : 0;
	return v;
}

static inline struct hub_value hub_value_int(int64_t i)
{
	struct hub_value v = hub_value_null();
	v.type = HUB_VALUE_INT;
	v.u.i = i;
	return v;
}

static inline struct hub_value hub_value_double(double d)
{
	struct hub_value v = hub_value_null();
	v.type = HUB_VALUE_DOUBLE;
	v.u.d = d;
	return v;
}

/* Borrows @str (NUL-terminated); the caller keeps it alive for the call. */
static inline struct hub_value hub_value_string(const char *str)
{
	struct hub_value v = hub_value_null();
	v.type = HUB_VALUE_STRING;
	v.u.s.ptr = str;
	v.u.s.len = str ? strlen(str) : 0;
	return v;
}

/* Borrows @json, the text of a JSON array or object. */
static inline struct hub_value hub_value_json(const char *json)
{
	struct hub_value v = hub_value_string(json);
	v.type = HUB_VALUE_JSON;
	return v;
}

/* Finds a parameter by name; NULL when absent. */
static inline const struct hub_param *hub_param_find(const struct hub_param *params, size_t n_params,
						     const char *name)
{
	for (size_t i = 0; i < n_params; i++)
		if (params[i].name && strcmp(params[i].name, name) == 0)
			return &params[i];
	return NULL;
}

#ifdef __cplusplus
}
#endif

#endif /* HUBD_HUB_VALUE_H */
