/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Fill buffers that are used again.  A fresh multi-megabyte buffer costs a
 * page fault and a page clear per page on first touch (measured: as much CPU
 * as copying the data in), so freed buffers wait here, sorted by size class
 * (powers of two), up to a bound on idle bytes.
 */
#ifndef RCACHE_BUFPOOL_H
#define RCACHE_BUFPOOL_H

#include <stddef.h>
#include <stdint.h>

#define RC_BUFPOOL_CLASSES	48
#define RC_BUFPOOL_MIN		(64u << 10)	/* smallest class */

struct rc_bufpool {
	void *idle[RC_BUFPOOL_CLASSES];	/* per class, linked through their first bytes */
	uint64_t idle_bytes;
	uint64_t max_idle;		/* bytes kept for later; more are freed */
	uint64_t reused, allocated;	/* for tests and logs */
};

void rc_bufpool_init(struct rc_bufpool *bp, uint64_t max_idle);
/* A buffer of at least @len bytes aligned to @align; its size in *@cap. */
void *rc_bufpool_get(struct rc_bufpool *bp, size_t len, size_t align, size_t *cap);
/* Gives back a buffer of @cap bytes (as rc_bufpool_get() returned it). */
void rc_bufpool_put(struct rc_bufpool *bp, void *p, size_t cap);
void rc_bufpool_clear(struct rc_bufpool *bp);

#endif
