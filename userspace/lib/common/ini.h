/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * INI files as the AWS CLI and rcached's config use them: [section] headers,
 * "key = value" lines, '#' or ';' comments.
 */
#ifndef RCACHE_INI_H
#define RCACHE_INI_H

#include "common/error.h"

struct rc_ini_entry {
	char *section, *key, *value;
	int line;
};

struct rc_ini {
	struct rc_ini_entry *e;
	int n;
	char path[512];
};

/* Returns 0, -ENOENT when the file does not exist, another error otherwise. */
int rc_ini_load(struct rc_ini *ini, const char *path, struct rc_err *err);
void rc_ini_free(struct rc_ini *ini);
/* The value of @key in @section, or NULL. */
const char *rc_ini_get(const struct rc_ini *ini, const char *section, const char *key);
/* Calls @fn for each distinct section name, in file order. */
int rc_ini_sections(const struct rc_ini *ini,
		    int (*fn)(const char *section, void *arg), void *arg);

#endif
