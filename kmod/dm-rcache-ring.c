// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-rcache block rings: many writers on I/O paths, one reader, no lock and
 * no allocation (the trace of first accesses, and the prefetched blocks the
 * hit path hands to the prefetch work).
 *
 * A writer claims a slot by advancing head, then stores its value (plus
 * one, so that 0 means "free, or claimed and not written yet").  The reader
 * stops at such a slot and tries again later.  It zeroes what it read and
 * then publishes the new tail with release ordering; writers read tail
 * with acquire ordering, so a slot is reused only after its zero is
 * visible: otherwise, on a weakly ordered CPU, the zero could land after a
 * new writer's value and the reader would wait at that slot forever.
 */
#include <linux/atomic.h>
#include <linux/compiler.h>

#include "dm-rcache.h"

void rcache_ring_init(struct rcache_ring *r, u32 *slots, u32 size)
{
	r->slot = slots;
	r->size = size;
	atomic_long_set(&r->head, 0);
	r->tail = 0;
}

/* Appends @v (< U32_MAX); false when the ring is full. */
bool rcache_ring_push(struct rcache_ring *r, u32 v)
{
	unsigned long idx;

	do {
		idx = atomic_long_read(&r->head);
		/* pairs with the release in rcache_ring_pop() */
		if (idx - smp_load_acquire(&r->tail) >= r->size)
			return false;
	} while (atomic_long_cmpxchg(&r->head, idx, idx + 1) != idx);
	WRITE_ONCE(r->slot[idx & (r->size - 1)], v + 1);
	return true;
}

/*
 * Takes the oldest value into *@v; false when the ring is empty or its
 * oldest slot is claimed but not written yet.  One reader at a time.
 */
bool rcache_ring_pop(struct rcache_ring *r, u32 *v)
{
	unsigned long t = r->tail;
	u32 x;

	if (t == (unsigned long)atomic_long_read(&r->head))
		return false;
	x = READ_ONCE(r->slot[t & (r->size - 1)]);
	if (!x)
		return false;
	WRITE_ONCE(r->slot[t & (r->size - 1)], 0);
	/* the zero before the tail that lets writers reuse the slot */
	smp_store_release(&r->tail, t + 1);
	*v = x - 1;
	return true;
}
