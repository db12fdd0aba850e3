/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * JSON through json-c: what rcache reads (devices.json) and writes
 * (status/inspect --json, devices.json).  json-c does the syntax, escaping
 * and 64-bit integers; these helpers add what every caller wants on top:
 * one-line errors with a byte offset, type- and range-checked members, and
 * strings that are always valid UTF-8.
 *
 * Reading, defined for hostile input: a NUL byte, invalid UTF-8 (json-c's
 * check, and a strict one on every string taken out), nesting deeper than
 * RC_JSON_MAX_DEPTH, truncated input or trailing data are errors.  A
 * duplicate member name is accepted and the last one wins (json-c's rule,
 * and Python's).  Integers are 64-bit; one beyond 2^64-1 reads as 2^64-1
 * (json-c saturates), beyond a member's range it is an error.
 */
#ifndef RCACHE_JSON_H
#define RCACHE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <json-c/json.h>

#include "common/error.h"

#define RC_JSON_MAX_DEPTH 32

/* The document in @len bytes of @text, or NULL with "JSON: why at byte N" in @err. */
struct json_object *rc_json_parse(const char *text, size_t len, struct rc_err *err);

/*
 * Member @key of object @obj, checked: 0 with *out set; 1 when absent or
 * null (*out untouched); -1 with "KEY: why" in @err when of another type,
 * out of range, or (strings) holding a NUL or invalid UTF-8.  A string
 * stays valid as long as @obj.
 */
int rc_json_get_str(struct json_object *obj, const char *key, const char **out,
		    struct rc_err *err);
int rc_json_get_bool(struct json_object *obj, const char *key, bool *out, struct rc_err *err);
/* An integer in [min, max]. */
int rc_json_get_int(struct json_object *obj, const char *key, int64_t min, int64_t max,
		    int64_t *out, struct rc_err *err);
/* A counter: an integer in [0, 2^64-1]. */
int rc_json_get_u64(struct json_object *obj, const char *key, uint64_t *out, struct rc_err *err);
/* A finite number, integer or not. */
int rc_json_get_double(struct json_object *obj, const char *key, double *out,
		       struct rc_err *err);
/* An array (borrowed from @obj). */
int rc_json_get_array(struct json_object *obj, const char *key, struct json_object **out,
		      struct rc_err *err);

/* A string value; bytes of @s that are not UTF-8 become U+FFFD each. NULL: "". */
struct json_object *rc_json_string(const char *s);
/* A number printed with @decimals digits after the point, as printf's %.*f. */
struct json_object *rc_json_fixed(double v, int decimals);
/* Compact (no spaces, '/' not escaped), without a newline; -1 on a write error. */
int rc_json_print(FILE *f, struct json_object *j);

#endif
