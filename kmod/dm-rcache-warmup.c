// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-rcache warm-up and access traces.
 *
 * Warm-up fills ranges of blocks in the background, in the order they were
 * asked for, with prefetch priority (demand misses always go first) and a
 * budget of fills in flight, optionally at a byte rate.  The fills are
 * ordinary fetches: if the daemon dies they wait in the kernel and go to the
 * next daemon, so a warm-up resumes by itself.
 *
 * A trace records the order in which blocks are first read, cheaply: a bit
 * per origin block (first access only) and a fixed lock-free ring of block
 * numbers (dm-rcache-ring.c) the CLI drains ("trace read"); entries that
 * find the ring full are counted as lost, never waited for.
 */
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "dm-rcache.h"

#define RCACHE_WARM_TICK	msecs_to_jiffies(20)

int rcache_warmup_add(struct rcache *rc, u64 begin, u64 end, u64 rate)
{
	struct rcache_warmup *w = &rc->warm;
	u64 (*bigger)[2] = NULL;
	unsigned int cap;

	spin_lock_irq(&rc->lock);
	cap = w->cap;
	spin_unlock_irq(&rc->lock);
	if (w->nr == cap) {
		cap = cap ? 2 * cap : 16;
		if (cap > 65536)
			return -ENOSPC;
		bigger = kmalloc_array(cap, sizeof(*bigger), GFP_KERNEL);
		if (!bigger)
			return -ENOMEM;
	}
	spin_lock_irq(&rc->lock);
	if (bigger) {
		memcpy(bigger, w->ranges, w->nr * sizeof(*bigger));
		swap(w->ranges, bigger);
		w->cap = cap;
	}
	if (w->nr == w->cap) {
		spin_unlock_irq(&rc->lock);
		kfree(bigger);
		return -EBUSY;		/* another message raced us: ask again */
	}
	w->ranges[w->nr][0] = begin;
	w->ranges[w->nr][1] = end;
	w->nr++;
	w->pending += end - begin;
	w->rate = rate;
	w->tokens = rate ? rate / 10 : 0;	/* a tenth of a second to start */
	w->refilled = jiffies;
	spin_unlock_irq(&rc->lock);
	kfree(bigger);
	mod_delayed_work(rc->wq, &w->work, 0);
	return 0;
}

void rcache_warmup_stop(struct rcache *rc)
{
	spin_lock_irq(&rc->lock);
	rc->warm.nr = 0;
	rc->warm.pending = 0;
	spin_unlock_irq(&rc->lock);
	cancel_delayed_work_sync(&rc->warm.work);
}

/* Takes the next block to warm, or returns false when there is none. */
static bool rcache_warmup_next(struct rcache_warmup *w, u64 *block)
{
	if (!w->nr)
		return false;
	*block = w->ranges[0][0]++;
	w->pending--;
	if (w->ranges[0][0] >= w->ranges[0][1]) {
		w->nr--;
		memmove(w->ranges, w->ranges + 1, w->nr * sizeof(*w->ranges));
	}
	return true;
}

/* Puts @block back at the head (it could not be fetched now). */
static void rcache_warmup_unget(struct rcache_warmup *w, u64 block)
{
	if (w->nr && w->ranges[0][0] == block + 1) {
		w->ranges[0][0] = block;
	} else {
		memmove(w->ranges + 1, w->ranges, w->nr * sizeof(*w->ranges));
		w->ranges[0][0] = block;
		w->ranges[0][1] = block + 1;
		w->nr++;
	}
	w->pending++;
}

void rcache_warmup_work(struct work_struct *work)
{
	struct rcache *rc = container_of(to_delayed_work(work), struct rcache, warm.work);
	struct rcache_warmup *w = &rc->warm;
	u64 block_bytes = (u64)rc->block_sectors << SECTOR_SHIFT, block;
	unsigned long now = jiffies;
	enum rcache_pf r = RCACHE_PF_SKIP;
	bool more;

	spin_lock_irq(&rc->lock);
	if (w->rate) {
		w->tokens = min(w->tokens + div64_u64(w->rate * (now - w->refilled), HZ),
				max(w->rate, block_bytes));
		w->refilled = now;
	}
	for (;;) {
		if (w->rate && w->tokens < block_bytes)
			break;
		if (!rcache_warmup_next(w, &block))
			break;
		spin_unlock_irq(&rc->lock);
		r = rcache_prefetch_block(rc, block, true);
		spin_lock_irq(&rc->lock);
		if (r == RCACHE_PF_ISSUED && w->rate)
			w->tokens -= block_bytes;
		if (r == RCACHE_PF_BLOCKED) {
			rcache_warmup_unget(w, block);
			break;
		}
		if (r == RCACHE_PF_STOP) {
			w->errors += w->pending + 1;
			w->nr = 0;
			w->pending = 0;
			break;
		}
	}
	more = w->nr;
	spin_unlock_irq(&rc->lock);
	/* budget full: a finishing warm fill kicks us; rate: the next tick */
	if (more)
		queue_delayed_work(rc->wq, &w->work, RCACHE_WARM_TICK);
}

/* ------------------------------------------------------------------ */
/* Traces                                                              */

int rcache_trace_start(struct rcache *rc)
{
	struct rcache_trace *t;
	u32 *slots;

	if (rcu_access_pointer(rc->trace))
		return -EBUSY;
	t = kzalloc(sizeof(*t), GFP_KERNEL);
	if (!t)
		return -ENOMEM;
	/* one bit per origin block: megabytes for a large origin */
	t->seen = kvcalloc(BITS_TO_LONGS(rc->nr_blocks), sizeof(long), GFP_KERNEL);
	slots = vzalloc(RCACHE_TRACE_RING * sizeof(*slots));
	if (!t->seen || !slots) {
		kvfree(t->seen);
		vfree(slots);
		kfree(t);
		return -ENOMEM;
	}
	rcache_ring_init(&t->ring, slots, RCACHE_TRACE_RING);
	rcu_assign_pointer(rc->trace, t);
	return 0;
}

/* Called under rc->msg_lock, or from dtr. */
void rcache_trace_stop(struct rcache *rc)
{
	struct rcache_trace *t = rcu_dereference_protected(rc->trace, true);

	if (!t)
		return;
	rcu_assign_pointer(rc->trace, NULL);
	synchronize_rcu();	/* no reader records into it any more */
	kvfree(t->seen);
	vfree(t->ring.slot);
	kfree(t);
}

/* On every read while recording: the first access of a block is kept. */
void rcache_trace_block(struct rcache *rc, u64 block)
{
	struct rcache_trace *t;

	rcu_read_lock();
	t = rcu_dereference(rc->trace);
	/* a plain test first: once seen, a block costs no atomic write */
	if (t && !test_bit(block, t->seen) && !test_and_set_bit(block, t->seen) &&
	    !rcache_ring_push(&t->ring, block)) {
		atomic64_inc(&t->lost);
		clear_bit(block, t->seen);	/* a later read records it */
	}
	rcu_read_unlock();
}

/*
 * "trace read": "<lost> <block> <block> ..." of what was recorded since the
 * last read, as much as fits.  Called under rc->msg_lock.
 */
int rcache_trace_read(struct rcache *rc, char *result, unsigned int maxlen)
{
	struct rcache_trace *t = rcu_dereference_protected(rc->trace,
							   lockdep_is_held(&rc->msg_lock));
	unsigned int sz = 0;
	u32 block;

	if (!t)
		return -ENOENT;
	DMEMIT("%llu", (u64)atomic64_read(&t->lost));
	/* stops at an entry claimed but not written yet: next time */
	while (sz + 24 < maxlen && rcache_ring_pop(&t->ring, &block))
		DMEMIT(" %u", block);
	return 1;
}
