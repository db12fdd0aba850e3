/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Origin URLs:
 *   file:///abs/path        a file (local, NFS, CephFS) or block device
 *   s3://bucket/key         an S3 object, endpoint and credentials as the
 *                           AWS CLI finds them
 *   https://host/path?...   an object over plain HTTP(S): public, or a
 *   http://host/path?...    presigned URL (used as given, never signed)
 * A table cannot hold spaces, so paths and keys spell them %20.
 */
#ifndef RCACHE_URL_H
#define RCACHE_URL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "common/error.h"

enum rc_origin_kind {
	RC_ORIGIN_FILE,
	RC_ORIGIN_S3,
	RC_ORIGIN_HTTP,
};

struct rc_url {
	enum rc_origin_kind kind;
	char path[PATH_MAX];	/* file: decoded absolute path */
	char bucket[64];	/* s3 */
	char key[1025];		/* s3: decoded object key */
};

/* An http:// or https:// URL (not yet parsed). */
static inline int rc_origin_is_http(const char *url)
{
	return !strncmp(url, "http://", 7) || !strncmp(url, "https://", 8);
}

/* True for the kinds fetched over HTTP (s3 and http/https). */
static inline int rc_url_is_http(const struct rc_url *u)
{
	return u->kind == RC_ORIGIN_S3 || u->kind == RC_ORIGIN_HTTP;
}

int rc_url_parse(const char *url, struct rc_url *out, struct rc_err *err);

/*
 * An http(s) URL's query string may be a credential (a presigned URL): the
 * table holds the reference URL#secret=NAME instead, and origin_secret.c
 * keeps the query in a file named NAME.
 */
#define RC_SECRET_REF "#secret="
/* A secret's name: a device name of A-Z a-z 0-9 . _ - (at most 127). */
bool rc_secret_name_ok(const char *name);

/* @origin as logs may show it: an http(s) query string as "?...". */
const char *rc_origin_shown(const char *origin, char *buf, size_t len);

/* The same object?  http(s) origins compare without query or reference. */
bool rc_origin_same_object(const char *a, const char *b);

#endif
