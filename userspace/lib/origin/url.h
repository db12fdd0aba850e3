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

#endif
