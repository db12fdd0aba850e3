/* SPDX-License-Identifier: GPL-2.0-only */
/* Errors that carry their context up to the one line the user sees. */
#ifndef RCACHE_ERROR_H
#define RCACHE_ERROR_H

#include <stddef.h>

struct rc_err {
	int code;		/* positive errno, or 0 */
	char msg[1024];
};

/* Sets @e (when not NULL) and returns -@code (or -1 when @code is 0). */
int rc_errf(struct rc_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prepends "prefix: " to an existing message. */
int rc_err_prefix(struct rc_err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
