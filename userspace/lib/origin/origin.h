/* SPDX-License-Identifier: GPL-2.0-only */
/* What an origin is: its size and a token naming its current version. */
#ifndef RCACHE_ORIGIN_H
#define RCACHE_ORIGIN_H

#include <stdint.h>
#include <sys/stat.h>

#include "common/error.h"
#include "common/ini.h"
#include "origin/url.h"
#include "linux/dm-rcache.h"

struct rc_origin_info {
	uint64_t size;
	char identity[RCACHE_MAX_IDENTITY_LEN + 1];
};

/*
 * Size and version token of an open file origin: size + mtime + inode for a
 * regular file (changes whenever it is replaced or written), size + dev_t
 * for a block device.
 */
int rc_fd_identity(int fd, uint64_t *size, char *out, size_t outlen);
/* The same from a statx() of @fd (the fill loop's is an io_uring one). */
#define RC_IDENTITY_STATX_MASK (STATX_TYPE | STATX_MODE | STATX_SIZE | STATX_MTIME | STATX_INO)
int rc_statx_identity(const struct statx *stx, int fd, uint64_t *size, char *out,
		      size_t outlen);

/*
 * Size and version of the origin at @url: stat for file://, one HEAD for
 * s3:// (credentials from the environment, @conf's [s3] section and the AWS
 * profile), a 1-byte GET for http(s)://.  @conf may be NULL.
 */
int rc_origin_probe(const char *url, const struct rc_ini *conf,
		    struct rc_origin_info *info, struct rc_err *err);

#endif
