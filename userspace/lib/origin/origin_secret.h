/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The query string of an http(s) origin is a credential: a presigned URL
 * carries its signature there.  rcachectl create keeps it in a root-only
 * file named after the device, and the table, the superblock, status and
 * logs hold a reference instead:
 *
 *   https://host/path?X-Amz-Signature=...  ->  https://host/path#secret=NAME
 *
 * A fragment never reaches the server; rcached reads the file back when it
 * opens the origin.  $RCACHE_SECRETS_DIR moves the directory (tests).
 */
#ifndef RCACHE_ORIGIN_SECRET_H
#define RCACHE_ORIGIN_SECRET_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "origin/url.h"	/* RC_SECRET_REF, rc_origin_shown(): the URL side */

#define RC_SECRET_DIR "/run/rcache/secrets"

/*
 * Writes @origin's query string to the file for @name (mode 0600) and puts
 * the reference form in @out.  An origin without one is copied unchanged.
 * *@stashed tells whether a file was written.
 */
int rc_secret_stash(const char *origin, const char *name, char *out, size_t outlen,
		    bool *stashed, struct rc_err *err);

/* The URL to request: a reference replaced by the query string it names. */
int rc_secret_resolve(const char *origin, char *out, size_t outlen, struct rc_err *err);

/* Removes the file of @name, if any. */
void rc_secret_forget(const char *name);

#endif
