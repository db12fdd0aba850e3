/* SPDX-License-Identifier: GPL-2.0-only */
/* What an origin is: its size and a token naming its current version. */
#ifndef RCACHE_ORIGIN_H
#define RCACHE_ORIGIN_H

#include <stdint.h>
#include <sys/stat.h>

#include "error.h"
#include "url.h"
#include "../../uapi/linux/dm-rcache.h"

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

int rc_origin_probe(const char *url, struct rc_origin_info *info,
		    struct rc_err *err);

#endif
