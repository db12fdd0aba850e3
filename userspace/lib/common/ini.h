/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * INI files: rcached.conf and the AWS CLI's config and credentials files.
 * inih (libinih) parses them; this keeps the result as (section, key, value,
 * line) entries in file order.
 *
 * The syntax is inih's, with Debian's build settings:
 *   [section]               whitespace around the name is dropped
 *   key = value             or "key: value"; whitespace around both dropped
 *   ; comment  or  # comment   a line that starts with ';' or '#'
 *   key = value ; comment   after a value only ';' (after whitespace) starts
 *                           a comment
 * Rules of ours on top, each an error "FILE: line N: why" (nothing is kept):
 *   - "key = value # text": inih would keep "# text" in the value (a cache
 *     path, a size), so whitespace followed by '#' in a value is refused;
 *   - a key given twice in one section (as the AWS CLI refuses it); a
 *     section may appear more than once, its keys add up (rcached.conf only:
 *     AWS files allow each section once, as the AWS CLI does);
 *   - a key before the first [section];
 *   - NUL bytes and invalid UTF-8;
 *   - a file larger than RC_INI_MAX_FILE.  Lines may be as long as that.
 * An indented line is an ordinary line (no continuation lines).
 */
#ifndef RCACHE_INI_H
#define RCACHE_INI_H

#include "common/error.h"

#define RC_INI_MAX_FILE (16 << 20)

struct rc_ini_entry {
	char *section, *key, *value;
	int line;
};

struct rc_ini {
	struct rc_ini_entry *e;
	int n;
	char path[512];
};

/* rcached.conf.  Returns 0, -ENOENT when the file does not exist, another error otherwise. */
int rc_ini_load(struct rc_ini *ini, const char *path, struct rc_err *err);
/* An AWS config or credentials file: the same, and each section at most once. */
int rc_ini_load_aws(struct rc_ini *ini, const char *path, struct rc_err *err);
void rc_ini_free(struct rc_ini *ini);
/* The value of @key (any case) in @section, or NULL. */
const char *rc_ini_get(const struct rc_ini *ini, const char *section, const char *key);
/* Calls @fn for each distinct section name, in file order. */
int rc_ini_sections(const struct rc_ini *ini,
		    int (*fn)(const char *section, void *arg), void *arg);

#endif
