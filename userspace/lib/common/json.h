/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A small JSON reader for the files rcached writes (devices.json): a tree of
 * nodes, UTF-8 strings with \uXXXX escapes, numbers as doubles, depth-limited.
 */
#ifndef RCACHE_JSON_H
#define RCACHE_JSON_H

#include <stdbool.h>

#include "common/error.h"

enum rc_json_type { RC_JSON_NULL, RC_JSON_BOOL, RC_JSON_NUM, RC_JSON_STR, RC_JSON_ARR, RC_JSON_OBJ };

struct rc_json {
	enum rc_json_type type;
	char *key;			/* member name inside an object */
	char *str;			/* RC_JSON_STR */
	double num;			/* RC_JSON_NUM */
	bool b;				/* RC_JSON_BOOL */
	struct rc_json *child;		/* first element or member */
	struct rc_json *next;		/* next sibling */
};

/* NULL on a syntax error, with the byte offset in @err. */
struct rc_json *rc_json_parse(const char *text, struct rc_err *err);
void rc_json_free(struct rc_json *j);
/* Member @key of object @obj, or NULL. */
const struct rc_json *rc_json_get(const struct rc_json *obj, const char *key);
const char *rc_json_get_str(const struct rc_json *obj, const char *key, const char *dflt);
double rc_json_get_num(const struct rc_json *obj, const char *key, double dflt);
bool rc_json_get_bool(const struct rc_json *obj, const char *key, bool dflt);

#endif
