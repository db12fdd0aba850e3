/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The kernel log after a failed dm ioctl: device-mapper puts the target's
 * reason (ti->error) there, not in the ioctl's errno.
 */
#ifndef RCACHE_KMSG_H
#define RCACHE_KMSG_H

#include <stddef.h>

/* Returns an fd positioned after the newest record, or -1. */
int rc_kmsg_mark(void);
/*
 * Reads what was logged since the mark and copies the message of the last
 * record containing @needle into @out.  Returns 1 when found.  Closes @fd.
 */
int rc_kmsg_find(int fd, const char *needle, char *out, size_t outlen);

#endif
