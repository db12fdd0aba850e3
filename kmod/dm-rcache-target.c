// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-rcache: a read-only device whose blocks come from a remote origin (a
 * file on NFS/CephFS, an S3 object) and are cached on a local block device.
 *
 * A read of a valid block is remapped to its slot on the cache device with
 * no lock and no allocation.  A miss parks the bio on the block's fetch (one
 * fetch per block, however many bios wait) and asks the userspace daemon,
 * over generic netlink, to copy the block from the origin into a slot.  The
 * daemon's FETCH_DONE marks the block valid and releases the bios.  Which
 * slots are valid is persisted on the cache device (dm-rcache-metadata.c);
 * when the cache is smaller than the origin, dm-rcache-policy.c chooses what
 * to evict.
 */
#include <linux/blkdev.h>
#include <linux/log2.h>
#include <linux/mempool.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "dm-rcache.h"
#include "dm-rcache-geometry.h"

/* RCACHE_VERSION{,_MAJOR,_MINOR,_PATCH}: Kbuild defines them from VERSION. */
#ifndef RCACHE_VERSION
#error "RCACHE_VERSION is not defined: build dm-rcache through its Kbuild"
#endif

#define RCACHE_EVICT_STEPS	65536	/* slots the hand visits per lock hold */
#define RCACHE_QUIESCE_SECS	10	/* longest wait for the daemon's answers */

static struct kmem_cache *rcache_fetch_cache;
static mempool_t rcache_fetch_pool;

/* Every live target, for netlink lookups by instance id. */
static LIST_HEAD(rcache_devices);
static DEFINE_MUTEX(rcache_devices_lock);
static atomic64_t rcache_next_dev_id = ATOMIC64_INIT(0);

static const char * const rcache_state_names[__RCACHE_STATE_MAX] = {
	[RCACHE_STATE_READY] = "ready",
	[RCACHE_STATE_STALE] = "stale",
	[RCACHE_STATE_FAILED] = "failed",
};

/* ------------------------------------------------------------------ */
/* Block and offset math                                               */

u64 rcache_cache_offset(struct rcache *rc, u32 slot)
{
	return rcache_slot_offset(rc->geo.data_start, slot, rc->block_shift);
}

/* The origin byte range that block @block covers; the last may be short. */
void rcache_fill_origin_range(struct rcache *rc, u64 block, u64 *offset,
			      u32 *length)
{
	rcache_origin_range(block, rc->block_shift, rc->origin_size, offset, length);
}

static u64 rcache_bio_block(struct rcache *rc, struct bio *bio)
{
	return rcache_sector_block(dm_target_offset(rc->ti, bio->bi_iter.bi_sector),
				   rc->block_shift);
}

static void rcache_remap(struct rcache *rc, struct bio *bio, u32 slot)
{
	bio_set_dev(bio, rc->cache_dev->bdev);
	bio->bi_iter.bi_sector =
		rcache_remap_sector(rc->data_start, slot, rc->block_shift,
				    dm_target_offset(rc->ti, bio->bi_iter.bi_sector));
}

static struct rcache_bio *rcache_pb(struct bio *bio)
{
	return dm_per_bio_data(bio, sizeof(struct rcache_bio));
}

/*
 * Takes a hit reference for @bio on @block's slot and returns the map word,
 * or 0 when the block is not valid (dm-rcache.h: hits and slot reuse).  The
 * read side is left in rcache_end_io(), maybe on another CPU: hence the raw
 * __srcu_read_lock(), as srcu_down_read() does in later kernels.
 */
static u32 rcache_hit_get(struct rcache *rc, struct bio *bio, u64 block)
{
	struct rcache_bio *pb = rcache_pb(bio);
	u32 w = atomic_read(&rc->map[block]);
	int idx;

	if (!(w & RCACHE_MAP_VALID))
		return 0;
	idx = __srcu_read_lock(&rc->hit_srcu);
	if (unlikely((atomic_read(&rc->map[block]) ^ w) & ~RCACHE_MAP_MD)) {
		__srcu_read_unlock(&rc->hit_srcu, idx);
		return 0;
	}
	__release(&rc->hit_srcu);	/* held until rcache_end_io() */
	pb->tracked = true;
	pb->srcu_idx = idx;
	pb->slot = w & RCACHE_MAP_SLOT_MASK;
	return w;
}

/* ------------------------------------------------------------------ */
/* Device registry                                                     */

struct rcache *rcache_find_by_id(u64 dev_id)
{
	struct rcache *rc;

	lockdep_assert_held(&rcache_devices_lock);
	list_for_each_entry(rc, &rcache_devices, devices_entry)
		if (rc->dev_id == dev_id)
			return rc;
	return NULL;
}

/*
 * Calls @fn on every device whose id is >= @start_id, in id order, under the
 * registry lock, until @fn returns non-zero.
 */
int rcache_visit_devices(rcache_device_fn fn, void *arg, u64 start_id)
{
	struct rcache *rc;
	int r = 0;

	mutex_lock(&rcache_devices_lock);
	list_for_each_entry(rc, &rcache_devices, devices_entry) {
		if (rc->dev_id < start_id)
			continue;
		r = fn(rc, arg);
		if (r)
			break;
	}
	mutex_unlock(&rcache_devices_lock);
	return r;
}

dev_t rcache_dm_devt(struct rcache *rc)
{
	return disk_devt(dm_disk(rc->md));
}

/* "major:minor", cheap enough for I/O path messages */
const char *rcache_dm_name(struct rcache *rc)
{
	return dm_device_name(rc->md);
}

void rcache_counters(struct rcache *rc, u64 ctr[__RCACHE_CTR_MAX])
{
	int cpu;

	memset(ctr, 0, sizeof(u64) * __RCACHE_CTR_MAX);
	for_each_possible_cpu(cpu) {
		struct rcache_stats *s = per_cpu_ptr(rc->stats, cpu);

		ctr[RCACHE_CTR_READ_HITS] += READ_ONCE(s->read_hits);
		ctr[RCACHE_CTR_READ_MISSES] += READ_ONCE(s->read_misses);
		ctr[RCACHE_CTR_HIT_SECTORS] += READ_ONCE(s->hit_sectors);
		ctr[RCACHE_CTR_MISS_SECTORS] += READ_ONCE(s->miss_sectors);
	}
	ctr[RCACHE_CTR_CACHED_BLOCKS] = atomic64_read(&rc->cached_blocks);
	ctr[RCACHE_CTR_TOTAL_BLOCKS] = rc->nr_blocks;
	ctr[RCACHE_CTR_FETCHES_INFLIGHT] = READ_ONCE(rc->fetches_inflight);
	ctr[RCACHE_CTR_FETCH_ERRORS] = atomic64_read(&rc->fetch_errors);
	ctr[RCACHE_CTR_STALE_REPLIES] = rcache_daemon_stale_replies();
	ctr[RCACHE_CTR_EVICTIONS] = READ_ONCE(rc->policy.evictions);
	ctr[RCACHE_CTR_CACHE_READ_ERRORS] = atomic64_read(&rc->cache_read_errors);
	ctr[RCACHE_CTR_MD_COMMITS] = READ_ONCE(rc->mdata.commits);
	ctr[RCACHE_CTR_SLOTS] = rc->geo.nr_slots;
	ctr[RCACHE_CTR_PREFETCH_ISSUED] = atomic64_read(&rc->prefetch_issued);
	ctr[RCACHE_CTR_PREFETCH_USED] = atomic64_read(&rc->prefetch_used);
	ctr[RCACHE_CTR_PREFETCH_WASTED] = READ_ONCE(rc->policy.prefetch_wasted);
	ctr[RCACHE_CTR_STREAMS] = READ_ONCE(rc->streams.detected);
	ctr[RCACHE_CTR_WARMUP_PENDING] = READ_ONCE(rc->warm.pending) + READ_ONCE(rc->warm.inflight);
	ctr[RCACHE_CTR_WARMUP_ERRORS] = READ_ONCE(rc->warm.errors);
	ctr[RCACHE_CTR_FILL_TIMEOUTS] = atomic64_read(&rc->fill_timeouts);
	ctr[RCACHE_CTR_LATE_REPLIES] = rcache_daemon_late_replies();
	ctr[RCACHE_CTR_RETIRED_SLOTS] = READ_ONCE(rc->policy.nr_retired);
}

/*
 * The transitions enum rcache_state documents: READY -> STALE, READY ->
 * FAILED, STALE -> FAILED.  Setting the state a device is in already
 * changes nothing.  Anything else is -EINVAL: only loading the table again
 * leaves STALE or FAILED.
 */
int rcache_set_state(struct rcache *rc, u32 state, const char *reason)
{
	char *copy = NULL;
	u32 from;

	if (state >= __RCACHE_STATE_MAX)
		return -EINVAL;
	if (reason) {
		copy = kstrdup(reason, GFP_KERNEL);
		if (!copy)
			return -ENOMEM;
	}
	spin_lock(&rc->lock);
	from = rc->state;
	if (from == state || (from != RCACHE_STATE_READY &&
			      !(from == RCACHE_STATE_STALE && state == RCACHE_STATE_FAILED))) {
		spin_unlock(&rc->lock);
		kfree(copy);
		return from == state ? 0 : -EINVAL;
	}
	swap(rc->reason, copy);
	WRITE_ONCE(rc->state, state);
	spin_unlock(&rc->lock);
	kfree(copy);

	if (state != RCACHE_STATE_READY)
		DMERR("%s: origin %s: device is %s, misses will fail: %s",
		      rcache_dm_name(rc), rc->origin, rcache_state_names[state],
		      reason ?: "no reason given");
	dm_table_event(rc->ti->table);
	rcache_daemon_event(RCACHE_EVENT_STATE_CHANGED, rc);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Misses and fills                                                    */

static struct rcache_fetch *rcache_fetch_lookup(struct rcache *rc, u64 block)
{
	struct rcache_fetch *f;

	hash_for_each_possible(rc->fetches, f, hash, block)
		if (f->block == block)
			return f;
	return NULL;
}

static void rcache_kick(struct rcache *rc)
{
	queue_work(rc->wq, &rc->worker);
}

static void rcache_retry_bio(struct rcache *rc, struct bio *bio)
{
	unsigned long flags;

	spin_lock_irqsave(&rc->retry_lock, flags);
	bio_list_add(&rc->retry_bios, bio);
	spin_unlock_irqrestore(&rc->retry_lock, flags);
	rcache_kick(rc);
}

void rcache_fetch_unpin(struct rcache *rc)
{
	if (atomic_dec_and_test(&rc->completing))
		complete(&rc->drained);
}

/*
 * Slot @slot's cache write failed: out of use for good, recorded so on disk
 * (RCACHE_MD_ENTRY_RETIRED) and counted.  Called with rc->lock held.
 */
void rcache_retire_slot(struct rcache *rc, u32 slot)
{
	lockdep_assert_held(&rc->lock);
	rcache_policy_retire(&rc->policy, slot);
	rcache_md_dirty_slot(rc, slot);
	DMERR_LIMIT("%s: cache write to slot %u of %s failed: slot retired",
		    rcache_dm_name(rc), slot, rc->cache_dev->name);
}

/*
 * Ends a fetch that is already off every daemon list: @err == 0 marks the
 * block valid and hands the waiting bios to filled_work, which sends them
 * to the cache device; otherwise they end with @fail_status.  -ECANCELED is
 * a cancellation, not an error.  A fill fenced by "invalidate" validates
 * nothing: its bios miss again.
 */
void rcache_fetch_complete(struct rcache_fetch *f, int err,
			   blk_status_t fail_status)
{
	struct rcache *rc = f->rc;
	struct bio_list bios;
	struct bio *bio;
	bool waiters, idle, filled, unread = false, keep = false, no_slot_left = false;

	spin_lock_irq(&rc->lock);
	if (!err && rc->mdata.failed)
		err = -EIO;	/* the fill cannot be recorded */
	filled = !err && !f->fenced;
	if (f->pf) {
		rc->prefetch_inflight--;
		/*
		 * Used if a read other than readahead waited for it; otherwise
		 * (nobody, or only the readahead that asked for it) the first
		 * read of the block will tell.
		 */
		unread = !f->demand;
		if (filled && !unread)
			atomic64_inc(&rc->prefetch_used);
	}
	if (f->warm) {
		rc->warm.inflight--;
		if (err && err != -ECANCELED)
			rc->warm.errors++;
	}
	if (filled) {
		rcache_policy_filled(&rc->policy, f->slot, f->block, unread);
		rcache_md_dirty_slot(rc, f->slot);
		atomic64_inc(&rc->cached_blocks);
	} else if (f->slot == RCACHE_NO_SLOT) {
		list_del_init(&f->entry);	/* cancelled while waiting for a slot */
	} else if (f->req_id && !f->answered) {
		/*
		 * A daemon was asked to write the slot and none answered: it
		 * stays allocated, and the fetch an ORPHAN (dm-rcache.h).
		 */
		keep = true;
	} else if (f->cache_write_failed) {
		rcache_retire_slot(rc, f->slot);
		no_slot_left = rc->policy.nr_retired + rc->policy.nr_reserved >=
			       rc->policy.nr_slots;
	} else {
		rcache_policy_fill_failed(&rc->policy, f->slot);
	}
	hash_del(&f->hash);
	idle = !--rc->fetches_inflight;
	bios = f->waiters;
	bio_list_init(&f->waiters);
	waiters = !list_empty(&rc->slot_waiters);
	spin_unlock_irq(&rc->lock);

	if (err && err != -ECANCELED) {
		atomic64_inc(&rc->fetch_errors);
		DMERR_LIMIT("%s: fetch of block %llu from %s failed: %d",
			    rcache_dm_name(rc), f->block, rc->origin, err);
	}
	if (no_slot_left)
		rcache_set_state(rc, RCACHE_STATE_FAILED,
				 "cache writes failed in every slot of the cache device");
	if (err) {
		while ((bio = bio_list_pop(&bios))) {
			if (f->cache_write_failed && !no_slot_left) {
				/*
				 * Into another slot: each try retires one, and
				 * the device fails when none is left.
				 */
				rcache_pb(bio)->slot = RCACHE_NO_SLOT;
				rcache_retry_bio(rc, bio);
			} else {
				bio->bi_status = fail_status;
				bio_endio(bio);
			}
		}
	} else if (!bio_list_empty(&bios)) {
		/* not submitted here: this may run in a netlink handler */
		spin_lock_irq(&rc->retry_lock);
		bio_list_merge(&rc->filled_bios, &bios);
		spin_unlock_irq(&rc->retry_lock);
		queue_work(rc->wq, &rc->filled_work);
	}
	if (f->warm && !READ_ONCE(rc->suspended))
		mod_delayed_work(rc->wq, &rc->warm.work, 0);
	if (keep) {
		f->orphan_dev = rc->cache_dev->bdev->bd_dev;
		f->orphan_offset = rcache_cache_offset(rc, f->slot);
		f->orphan_len = rc->block_sectors << SECTOR_SHIFT;
		rcache_daemon_keep_orphan(f);
	} else {
		rcache_fetch_free(f);
	}
	if (waiters || err == -ECANCELED)
		rcache_kick(rc);
	if (idle)
		wake_up(&rc->idle);
	rcache_fetch_unpin(rc);
}

static int rcache_map_read(struct rcache *rc, struct bio *bio);

/* Moves @from (filled_bios or retry_bios) to @to, under retry_lock. */
static void rcache_take_bios(struct rcache *rc, struct bio_list *from, struct bio_list *to)
{
	spin_lock_irq(&rc->retry_lock);
	*to = *from;
	bio_list_init(from);
	spin_unlock_irq(&rc->retry_lock);
}

/* Sends @bio through the read path again, from a worker (which may block). */
static void rcache_map_again(struct rcache *rc, struct bio *bio)
{
	bio->bi_opf &= ~REQ_NOWAIT;
	switch (rcache_map_read(rc, bio)) {
	case DM_MAPIO_REMAPPED:
		submit_bio_noacct(bio);
		break;
	case DM_MAPIO_KILL:
		bio_io_error(bio);
		break;
	}
}

/* The bios of completed fills, from the device's workqueue. */
static void rcache_filled_work(struct work_struct *work)
{
	struct rcache *rc = container_of(work, struct rcache, filled_work);
	struct bio_list bios;
	struct bio *bio;
	u32 w;

	rcache_take_bios(rc, &rc->filled_bios, &bios);
	while ((bio = bio_list_pop(&bios))) {
		/* resubmitted from a worker, which may block */
		bio->bi_opf &= ~REQ_NOWAIT;
		w = rcache_hit_get(rc, bio, rcache_bio_block(rc, bio));
		if (w) {
			rcache_remap(rc, bio, w & RCACHE_MAP_SLOT_MASK);
			submit_bio_noacct(bio);
			continue;
		}
		/* evicted or fenced meanwhile: start over */
		rcache_map_again(rc, bio);
	}
}

/*
 * A fill the daemon has held past fill_timeout (off the daemon's lists,
 * @rc->completing held for it): its readers get EIO and @rc forgets it, but
 * its slot stays allocated, neither free nor valid, until the daemon answers
 * (rcache_fetch_late()).  Fills in the bytes the daemon may still write.
 */
void rcache_fetch_expire(struct rcache *rc, struct rcache_fetch *f)
{
	struct bio_list bios;
	struct bio *bio;
	bool idle;

	spin_lock_irq(&rc->lock);
	if (f->pf)
		rc->prefetch_inflight--;
	if (f->warm) {
		rc->warm.inflight--;
		rc->warm.errors++;
	}
	hash_del(&f->hash);
	idle = !--rc->fetches_inflight;
	bios = f->waiters;
	bio_list_init(&f->waiters);
	spin_unlock_irq(&rc->lock);

	f->orphan_dev = rc->cache_dev->bdev->bd_dev;
	f->orphan_offset = rcache_cache_offset(rc, f->slot);
	f->orphan_len = rc->block_sectors << SECTOR_SHIFT;
	atomic64_inc(&rc->fill_timeouts);
	DMERR_LIMIT("%s: fill of block %llu from %s unanswered in fill_timeout (%u s): reads fail",
		    rcache_dm_name(rc), f->block, rc->origin, READ_ONCE(rc->fill_timeout));
	while ((bio = bio_list_pop(&bios))) {
		bio->bi_status = BLK_STS_IOERR;
		bio_endio(bio);
	}
	if (f->warm && !READ_ONCE(rc->suspended))
		mod_delayed_work(rc->wq, &rc->warm.work, 0);
	if (idle)
		wake_up(&rc->idle);
}

/*
 * The daemon answered a fill that had timed out: the answer is ignored, and
 * the slot, if its device still exists and the slot is still that fill's,
 * is free again.
 */
void rcache_fetch_late(u64 dev_id, u32 slot, u64 block)
{
	struct rcache *rc;

	mutex_lock(&rcache_devices_lock);
	rc = rcache_find_by_id(dev_id);
	if (rc) {
		spin_lock_irq(&rc->lock);
		if ((atomic_read(&rc->rmap[slot]) & RCACHE_RMAP_BLOCK_MASK) == block &&
		    rcache_map_slot(atomic_read(&rc->map[block])) != slot)
			rcache_policy_fill_failed(&rc->policy, slot);
		spin_unlock_irq(&rc->lock);
		rcache_kick(rc);	/* fetches may wait for a slot */
	}
	mutex_unlock(&rcache_devices_lock);
}

void rcache_fetch_free(struct rcache_fetch *f)
{
	put_pid(f->daemon);
	mempool_free(f, &rcache_fetch_pool);
}

/* *@waited: the bio waits for a block that is being prefetched. */
static int rcache_map_miss(struct rcache *rc, struct bio *bio, u64 block, bool *waited)
{
	struct rcache_fetch *f, *new;
	u32 state = READ_ONCE(rc->state), slot;

	if (state != RCACHE_STATE_READY) {
		DMERR_LIMIT("%s: miss on block %llu refused: device is %s",
			    rcache_dm_name(rc), block, rcache_state_names[state]);
		return DM_MAPIO_KILL;
	}
	if (rc->fail_fast && !rcache_daemon_present()) {
		DMERR_LIMIT("%s: miss on block %llu failed: no daemon (fail_fast)",
			    rcache_dm_name(rc), block);
		return DM_MAPIO_KILL;
	}
	if (READ_ONCE(rc->suspended) && !rcache_daemon_present()) {
		/* suspending: as rcache_presuspend() does with the parked ones */
		bio->bi_status = dm_noflush_suspending(rc->ti) ? BLK_STS_DM_REQUEUE :
			BLK_STS_IOERR;
		bio_endio(bio);
		return DM_MAPIO_SUBMITTED;
	}

	/*
	 * A REQ_NOWAIT submitter (io_uring) must not sleep here, and neither
	 * it nor readahead draws on the pool's reserve, kept for the demand
	 * misses that must progress under memory pressure.
	 */
	if (bio->bi_opf & (REQ_NOWAIT | REQ_RAHEAD))
		new = kmem_cache_alloc(rcache_fetch_cache, __GFP_NOWARN |
				       (bio->bi_opf & REQ_NOWAIT ? GFP_NOWAIT :
					GFP_NOIO | __GFP_NORETRY));
	else
		new = mempool_alloc(&rcache_fetch_pool, GFP_NOIO);
	if (!new) {
		if (bio->bi_opf & REQ_NOWAIT)
			bio_wouldblock_error(bio);
		else
			bio_io_error(bio);	/* readahead may fail */
		return DM_MAPIO_SUBMITTED;
	}

	spin_lock_irq(&rc->lock);
	if (atomic_read(&rc->map[block]) & RCACHE_MAP_VALID) {
		/* filled while we allocated: a hit after all */
		spin_unlock_irq(&rc->lock);
		mempool_free(new, &rcache_fetch_pool);
		return DM_MAPIO_REQUEUE;
	}
	f = rcache_fetch_lookup(rc, block);
	if (f) {
		bio_list_add(&f->waiters, bio);
		*waited = f->pf;
		/*
		 * A read waits on a prefetch, readahead or warm-up fill: it
		 * goes with the demand misses now, wherever the fill is.
		 */
		if (!(bio->bi_opf & REQ_RAHEAD) && !f->demand) {
			f->demand = true;
			rcache_daemon_upgrade(f);
		}
		spin_unlock_irq(&rc->lock);
		mempool_free(new, &rcache_fetch_pool);
		return DM_MAPIO_SUBMITTED;
	}
	/*
	 * Readahead the page cache may do without: prefetch priority and
	 * budget, and no slot while misses wait for one.
	 */
	if (bio->bi_opf & REQ_RAHEAD &&
	    (!rc->prefetch || rc->prefetch_inflight >= rc->prefetch_budget ||
	     !list_empty(&rc->slot_waiters))) {
		spin_unlock_irq(&rc->lock);
		mempool_free(new, &rcache_fetch_pool);
		bio_io_error(bio);
		return DM_MAPIO_SUBMITTED;
	}
	f = new;
	memset(f, 0, sizeof(*f));
	INIT_LIST_HEAD(&f->entry);
	INIT_LIST_HEAD(&f->upgrade);
	f->rc = rc;
	f->block = block;
	f->queued_at = jiffies;
	if (bio->bi_opf & REQ_RAHEAD) {
		f->flags = RCACHE_FETCH_F_PREFETCH;
		f->pf = true;
		rc->prefetch_inflight++;
		atomic64_inc(&rc->prefetch_issued);
	} else {
		f->demand = true;
	}
	bio_list_init(&f->waiters);
	bio_list_add(&f->waiters, bio);
	hash_add(rc->fetches, &f->hash, block);
	rc->fetches_inflight++;
	slot = rcache_policy_alloc(&rc->policy, block);
	f->slot = slot;
	if (slot == RCACHE_NO_SLOT)
		list_add_tail(&f->entry, &rc->slot_waiters);
	spin_unlock_irq(&rc->lock);

	if (slot == RCACHE_NO_SLOT || rc->policy.nr_free < rc->policy.nr_slots / 64)
		rcache_kick(rc);	/* evict, ahead of need */
	if (slot != RCACHE_NO_SLOT)
		rcache_daemon_queue(f);
	return DM_MAPIO_SUBMITTED;
}

/* Tells the stream detector; prefetches what it asks for. */
static void rcache_stream_access(struct rcache *rc, u64 block, bool waited)
{
	u64 from, to, b;
	bool go;

	if (!READ_ONCE(rc->prefetch) || !rcache_daemon_present())
		return;
	spin_lock(&rc->stream_lock);
	go = rcache_streams_access(&rc->streams, block, jiffies, rc->nr_blocks, waited,
				   &from, &to);
	spin_unlock(&rc->stream_lock);
	for (b = from; go && b < to; b++) {
		enum rcache_pf r = rcache_prefetch_block(rc, b, false);

		if (r == RCACHE_PF_STOP)
			break;
		if (r == RCACHE_PF_BLOCKED) {
			spin_lock(&rc->stream_lock);
			rcache_streams_unissued(&rc->streams, to, b);
			spin_unlock(&rc->stream_lock);
			break;
		}
	}
}

/*
 * The first read of a prefetched block (a hit): it was used, and its stream
 * moves on.  The hit path takes no lock and allocates nothing, so the
 * stream detector and the fetches it asks for run in pf_work: the block
 * goes into a lock-free ring (dropped when the ring is full; the stream's
 * next access asks again).
 */
static noinline void rcache_prefetch_consumed(struct rcache *rc, u64 block)
{
	if (!(atomic_fetch_andnot(RCACHE_MAP_PREFETCHED, &rc->map[block]) &
	      RCACHE_MAP_PREFETCHED))
		return;
	atomic64_inc(&rc->prefetch_used);
	if (READ_ONCE(rc->prefetch) && rcache_ring_push(&rc->consumed, block))
		queue_work(system_wq, &rc->pf_work);
}

static void rcache_pf_work(struct work_struct *work)
{
	struct rcache *rc = container_of(work, struct rcache, pf_work);
	u32 block;

	while (rcache_ring_pop(&rc->consumed, &block))
		rcache_stream_access(rc, block, false);
}

/* Prefetched blocks dropped unread narrow their streams' windows. */
static void rcache_feed_wasted(struct rcache *rc)
{
	u32 notes[RCACHE_WASTED_NOTES];
	unsigned int i, n;

	spin_lock_irq(&rc->lock);
	n = rc->policy.nr_wasted_notes;
	memcpy(notes, rc->policy.wasted_notes, n * sizeof(*notes));
	rc->policy.nr_wasted_notes = 0;
	spin_unlock_irq(&rc->lock);
	if (!n)
		return;
	spin_lock(&rc->stream_lock);
	for (i = 0; i < n; i++)
		rcache_streams_wasted(&rc->streams, notes[i]);
	spin_unlock(&rc->stream_lock);
}

/* The read path, for new bios and for bios coming back to be retried. */
static int rcache_map_read(struct rcache *rc, struct bio *bio)
{
	u64 block = rcache_bio_block(rc, bio);
	struct rcache_bio *pb = rcache_pb(bio);
	/* a parked bio may be completed by another CPU before we count it */
	unsigned int sectors = bio_sectors(bio);
	bool waited = false;
	u32 w;
	int r;

	pb->iter = bio->bi_iter;
	if (unlikely(rcu_access_pointer(rc->trace)))
		rcache_trace_block(rc, block);
	do {
		w = rcache_hit_get(rc, bio, block);
		if (likely(w)) {
			this_cpu_inc(rc->stats->read_hits);
			this_cpu_add(rc->stats->hit_sectors, sectors);
			rcache_policy_hit(&rc->policy, w & RCACHE_MAP_SLOT_MASK);
			rcache_remap(rc, bio, w & RCACHE_MAP_SLOT_MASK);
			if (unlikely(w & RCACHE_MAP_PREFETCHED))
				rcache_prefetch_consumed(rc, block);
			return DM_MAPIO_REMAPPED;
		}
		r = rcache_map_miss(rc, bio, block, &waited);
	} while (r == DM_MAPIO_REQUEUE);
	/* the bio may be done already: only what was read before is used */
	this_cpu_inc(rc->stats->read_misses);
	this_cpu_add(rc->stats->miss_sectors, sectors);
	/*
	 * Readahead misses count too: the page cache reading ahead of a
	 * buffered reader is the surest sign of a sequential stream, and its
	 * small window alone would fetch one block at a time.
	 */
	rcache_stream_access(rc, block, waited);
	return r;
}

/*
 * Queues a fill of @block nobody waits for yet: a prefetch (within the
 * prefetch budget) or, @warm, a warm-up fill (within the same budget of its
 * own).  Neither takes a free slot while misses wait for one.
 */
enum rcache_pf rcache_prefetch_block(struct rcache *rc, u64 block, bool warm)
{
	struct rcache_fetch *f, *busy;
	u32 slot;

	if (block >= rc->nr_blocks)
		return RCACHE_PF_STOP;
	if (atomic_read(&rc->map[block]) & RCACHE_MAP_VALID)
		return RCACHE_PF_SKIP;
	/* not from the pool's reserve: that is for demand misses */
	f = kmem_cache_alloc(rcache_fetch_cache, GFP_NOWAIT | __GFP_NOWARN);
	if (!f)
		return RCACHE_PF_BLOCKED;
	spin_lock_irq(&rc->lock);
	if (READ_ONCE(rc->state) != RCACHE_STATE_READY) {
		spin_unlock_irq(&rc->lock);
		mempool_free(f, &rcache_fetch_pool);
		return RCACHE_PF_STOP;
	}
	if (READ_ONCE(rc->suspended)) {
		/* no background fills while suspended: resume goes on */
		spin_unlock_irq(&rc->lock);
		mempool_free(f, &rcache_fetch_pool);
		return RCACHE_PF_BLOCKED;
	}
	busy = rcache_fetch_lookup(rc, block);
	if (busy && warm && !busy->warm) {
		/* the warm-up waits for that fill, and fails if it fails */
		busy->warm = true;
		rc->warm.inflight++;
	}
	if (busy || (atomic_read(&rc->map[block]) & RCACHE_MAP_VALID)) {
		spin_unlock_irq(&rc->lock);
		mempool_free(f, &rcache_fetch_pool);
		return RCACHE_PF_SKIP;
	}
	if ((warm ? rc->warm.inflight : rc->prefetch_inflight) >= rc->prefetch_budget ||
	    !list_empty(&rc->slot_waiters)) {
		spin_unlock_irq(&rc->lock);
		mempool_free(f, &rcache_fetch_pool);
		return RCACHE_PF_BLOCKED;
	}
	slot = rcache_policy_alloc(&rc->policy, block);
	if (slot == RCACHE_NO_SLOT) {
		spin_unlock_irq(&rc->lock);
		mempool_free(f, &rcache_fetch_pool);
		rcache_kick(rc);	/* evict: the next try finds a slot */
		return RCACHE_PF_BLOCKED;
	}
	memset(f, 0, sizeof(*f));
	INIT_LIST_HEAD(&f->entry);
	INIT_LIST_HEAD(&f->upgrade);
	f->rc = rc;
	f->block = block;
	f->slot = slot;
	f->flags = RCACHE_FETCH_F_PREFETCH;
	f->warm = warm;
	f->pf = !warm;
	f->queued_at = jiffies;
	bio_list_init(&f->waiters);
	hash_add(rc->fetches, &f->hash, block);
	rc->fetches_inflight++;
	if (warm)
		rc->warm.inflight++;
	else
		rc->prefetch_inflight++;
	spin_unlock_irq(&rc->lock);
	if (!warm)
		atomic64_inc(&rc->prefetch_issued);
	if (rc->policy.nr_free < rc->policy.nr_slots / 64)
		rcache_kick(rc);	/* evict, ahead of need */
	rcache_daemon_queue(f);
	return RCACHE_PF_ISSUED;
}

static int rcache_map(struct dm_target *ti, struct bio *bio)
{
	struct rcache *rc = ti->private;

	rcache_pb(bio)->tracked = false;
	rcache_pb(bio)->retries = 0;
	if (likely(bio_op(bio) == REQ_OP_READ))
		return rcache_map_read(rc, bio);

	if (op_is_flush(bio->bi_opf) && !bio_sectors(bio)) {
		/*
		 * A flush commits what changed.  With nothing changed there is
		 * nothing to make durable: the device itself is never written.
		 */
		if (READ_ONCE(rc->mdata.nr_dirty) || READ_ONCE(rc->nr_freeing_list)) {
			spin_lock_irq(&rc->lock);
			bio_list_add(&rc->flush_bios, bio);
			spin_unlock_irq(&rc->lock);
			rcache_kick(rc);
			return DM_MAPIO_SUBMITTED;
		}
		bio_endio(bio);
		return DM_MAPIO_SUBMITTED;
	}
	DMERR_LIMIT("%s: %s at sector %llu rejected: device is read-only",
		    rcache_dm_name(rc),
		    bio_op(bio) == REQ_OP_WRITE ? "write" : "request",
		    (unsigned long long)bio->bi_iter.bi_sector);
	return DM_MAPIO_KILL;
}

/*
 * A hit that failed on the cache device: the slot's data cannot be read, so
 * the block is fetched from the origin again (into a healthy slot).
 */
static int rcache_end_io(struct dm_target *ti, struct bio *bio, blk_status_t *error)
{
	struct rcache *rc = ti->private;
	struct rcache_bio *pb = rcache_pb(bio);

	if (!pb->tracked)
		return DM_ENDIO_DONE;
	__acquire(&rc->hit_srcu);	/* taken in rcache_hit_get() */
	__srcu_read_unlock(&rc->hit_srcu, pb->srcu_idx);
	pb->tracked = false;
	if (likely(!*error) || *error == BLK_STS_DM_REQUEUE ||
	    bio_op(bio) != REQ_OP_READ || *error == BLK_STS_AGAIN)
		return DM_ENDIO_DONE;
	atomic64_inc(&rc->cache_read_errors);
	if (++pb->retries > 2) {
		DMERR_LIMIT("%s: read of slot %u on %s failed (%d) again: giving up",
			    rcache_dm_name(rc), pb->slot, rc->cache_dev->name,
			    blk_status_to_errno(*error));
		return DM_ENDIO_DONE;
	}
	DMERR_LIMIT("%s: read of slot %u on %s failed (%d): fetching the block again",
		    rcache_dm_name(rc), pb->slot, rc->cache_dev->name,
		    blk_status_to_errno(*error));
	bio->bi_iter = pb->iter;
	bio->bi_status = BLK_STS_OK;
	*error = BLK_STS_OK;
	rcache_retry_bio(rc, bio);
	return DM_ENDIO_INCOMPLETE;
}

/* ------------------------------------------------------------------ */
/* Background work: evictions, commits, retries                        */

/* Gives waiting fetches the slots that are free now: demand, then readahead. */
static void rcache_assign_slots(struct rcache *rc)
{
	struct rcache_fetch *f, *tmp;
	LIST_HEAD(ready);
	int pass;

	spin_lock_irq(&rc->lock);
	for (pass = 0; pass < 2; pass++) {
		list_for_each_entry_safe(f, tmp, &rc->slot_waiters, entry) {
			u32 slot;

			if (!pass && !f->demand)
				continue;
			slot = rcache_policy_alloc(&rc->policy, f->block);
			if (slot == RCACHE_NO_SLOT)
				goto out;
			f->slot = slot;
			list_move_tail(&f->entry, &ready);
		}
	}
out:
	spin_unlock_irq(&rc->lock);
	list_for_each_entry_safe(f, tmp, &ready, entry) {
		list_del_init(&f->entry);
		rcache_daemon_queue(f);
	}
}

/* A failed or stale device will not free slots for the fetches waiting. */
static void rcache_fail_waiters(struct rcache *rc)
{
	struct rcache_fetch *f, *tmp;
	LIST_HEAD(failed);

	spin_lock_irq(&rc->lock);
	list_for_each_entry_safe(f, tmp, &rc->slot_waiters, entry) {
		list_move_tail(&f->entry, &failed);
		atomic_inc(&rc->completing);
	}
	spin_unlock_irq(&rc->lock);
	list_for_each_entry_safe(f, tmp, &failed, entry) {
		list_del_init(&f->entry);
		rcache_fetch_complete(f, -EIO, BLK_STS_IOERR);
	}
}

/*
 * Evicts a batch when fetches wait for a slot, or ahead of need when free
 * slots run low (a cache smaller than its origin).  Returns the number of
 * slots evicted.
 */
static unsigned int rcache_evict_batch(struct rcache *rc)
{
	struct rcache_policy *p = &rc->policy;
	unsigned int want, got = 0, n, room;
	u64 low = clamp_t(u64, p->nr_slots / 64, 8, 1024);
	bool need;

	spin_lock_irq(&rc->lock);
	need = !list_empty(&rc->slot_waiters) ||
	       (p->nr_slots < p->nr_blocks && p->nr_free + p->nr_freeing < low);
	room = RCACHE_FREEING_CAP - rc->nr_freeing_list;
	want = min_t(u64, low, room);
	if (need && want && p->nr_valid)
		got = rcache_policy_evict(p, want, rc->freeing + rc->nr_freeing_list,
					  RCACHE_EVICT_STEPS);
	for (n = 0; n < got; n++)
		rcache_md_dirty_slot(rc, rc->freeing[rc->nr_freeing_list++]);
	atomic64_sub(got, &rc->cached_blocks);
	spin_unlock_irq(&rc->lock);
	return got;
}

/*
 * Fetches wait for a slot and one will come from this device's own work:
 * the hand or the free slot scan stopped at its bound per lock hold.  The
 * worker goes on in a new run (the hand finds a victim within three turns).
 */
static bool rcache_slots_pending(struct rcache *rc)
{
	struct rcache_policy *p = &rc->policy;
	bool pending;

	spin_lock_irq(&rc->lock);
	pending = !list_empty(&rc->slot_waiters) && !rc->mdata.failed &&
		  READ_ONCE(rc->state) == RCACHE_STATE_READY && (p->nr_valid || p->nr_free);
	spin_unlock_irq(&rc->lock);
	return pending;
}

/* Fetches wait for slots that only a commit can release. */
static bool rcache_waiters_need_commit(struct rcache *rc)
{
	bool need;

	spin_lock_irq(&rc->lock);
	need = !list_empty(&rc->slot_waiters) && rc->nr_freeing_list;
	spin_unlock_irq(&rc->lock);
	return need;
}

static void rcache_clear_ghosts(struct rcache *rc)
{
	const u64 chunk = 65536;
	u64 b;

	for (b = 0; b < rc->nr_blocks; b += chunk) {
		spin_lock_irq(&rc->lock);
		rcache_policy_clear_ghosts(&rc->policy, b, chunk);
		spin_unlock_irq(&rc->lock);
		cond_resched();
	}
}

static void rcache_worker(struct work_struct *work)
{
	struct rcache *rc = container_of(work, struct rcache, worker);
	struct bio_list bios;
	struct bio *bio;
	int r;

	/* hits that failed on the cache device go back through the read path */
	rcache_take_bios(rc, &rc->retry_bios, &bios);
	while ((bio = bio_list_pop(&bios))) {
		struct rcache_bio *pb = rcache_pb(bio);
		u64 block = rcache_bio_block(rc, bio);

		spin_lock_irq(&rc->lock);
		if (rcache_map_slot(atomic_read(&rc->map[block])) == pb->slot &&
		    rc->nr_freeing_list < RCACHE_FREEING_CAP &&
		    rcache_policy_invalidate(&rc->policy, block) != RCACHE_NO_SLOT) {
			rc->freeing[rc->nr_freeing_list++] = pb->slot;
			rcache_md_dirty_slot(rc, pb->slot);
			atomic64_dec(&rc->cached_blocks);
		}
		spin_unlock_irq(&rc->lock);
		rcache_map_again(rc, bio);
	}

	/*
	 * Slots for waiting fetches: evict, commit (reuse needs it), assign.
	 * Slots emptied by invalidation wait for a commit as well, with
	 * nothing left to evict.
	 */
	while (!rc->mdata.failed) {
		bool evicted = rcache_evict_batch(rc);

		if (!evicted && !rcache_waiters_need_commit(rc))
			break;
		rcache_md_commit(rc);
		rcache_assign_slots(rc);
		if (!evicted || list_empty(&rc->slot_waiters))
			break;
	}
	rcache_assign_slots(rc);
	rcache_feed_wasted(rc);
	if (READ_ONCE(rc->state) != RCACHE_STATE_READY)
		rcache_fail_waiters(rc);
	if (rcache_policy_too_many_ghosts(&rc->policy))
		rcache_clear_ghosts(rc);
	if (rcache_slots_pending(rc))
		rcache_kick(rc);

	/* flushes wait for the commit of what they found changed */
	spin_lock_irq(&rc->lock);
	bios = rc->flush_bios;
	bio_list_init(&rc->flush_bios);
	spin_unlock_irq(&rc->lock);
	if (!bio_list_empty(&bios)) {
		r = rcache_md_commit(rc);
		while ((bio = bio_list_pop(&bios))) {
			bio->bi_status = errno_to_blk_status(r);
			bio_endio(bio);
		}
	}
}

static void rcache_commit_timer(struct work_struct *work)
{
	struct rcache *rc = container_of(to_delayed_work(work), struct rcache,
					 commit_timer);

	rcache_md_commit(rc);
	if (rc->commit_ms && !READ_ONCE(rc->suspended))
		queue_delayed_work(rc->wq, &rc->commit_timer,
				   msecs_to_jiffies(rc->commit_ms));
}

/* ------------------------------------------------------------------ */
/* Construction                                                        */

static char *rcache_join_args(unsigned int argc, char **argv)
{
	size_t len = 1;
	unsigned int i;
	char *s, *p;

	for (i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	s = kmalloc(len, GFP_KERNEL);
	if (!s)
		return NULL;
	p = s;
	*p = '\0';
	for (i = 0; i < argc; i++)
		p += sprintf(p, "%s%s", i ? " " : "", argv[i]);
	return s;
}

/*
 * Cache devices in use, by every rcache target from its ctr on: a table that
 * names another device's cache is refused before anything is read from or
 * written to it (a "reset" would otherwise reformat it under that device).
 * A reload of the same mapped device may name its own cache again.
 */
static LIST_HEAD(rcache_claims);

static bool rcache_same_cache(struct rcache *a, struct rcache *b)
{
	return a->cache_dev->bdev->bd_dev == b->cache_dev->bdev->bd_dev;
}

static int rcache_claim_cache_dev(struct rcache *rc)
{
	struct rcache *other;
	int r = 0;

	mutex_lock(&rcache_devices_lock);
	list_for_each_entry(other, &rcache_claims, claim_entry)
		if (rcache_same_cache(other, rc) && other->md != rc->md) {
			r = -EBUSY;
			break;
		}
	if (!r)
		list_add_tail(&rc->claim_entry, &rcache_claims);
	mutex_unlock(&rcache_devices_lock);
	return r;
}

static void rcache_unclaim_cache_dev(struct rcache *rc)
{
	if (list_empty(&rc->claim_entry))
		return;
	mutex_lock(&rcache_devices_lock);
	list_del_init(&rc->claim_entry);
	mutex_unlock(&rcache_devices_lock);
}

/*
 * The table of the same dm device on the same cache device that owns the
 * metadata: the live one while a reloaded table waits for its resume.
 */
static struct rcache *rcache_find_owner(struct rcache *rc)
{
	struct rcache *other;

	lockdep_assert_held(&rcache_devices_lock);
	list_for_each_entry(other, &rcache_devices, devices_entry)
		if (other != rc && other->md == rc->md && rcache_same_cache(other, rc) &&
		    other->mdata.loaded && !other->mdata.superseded)
			return other;
	return NULL;
}

/*
 * Keeps slot @slot out of use: a daemon may still write into it for
 * another table on this cache device.  Called with rc->lock held.
 */
static void rcache_reserve_slot(struct rcache *rc, u32 slot)
{
	if (rcache_policy_reserve(&rc->policy, slot) != RCACHE_NO_SLOT) {
		rcache_md_dirty_slot(rc, slot);
		atomic64_dec(&rc->cached_blocks);
	}
}

/*
 * After loading: the slots that fills of removed devices, which the daemon
 * never answered, may still write.  They stay unused while this table
 * lives; a fill of another block there could be overwritten.
 */
static int rcache_reserve_orphans(struct rcache *rc)
{
	dev_t dev = rc->cache_dev->bdev->bd_dev;
	u64 block_bytes = (u64)rc->block_sectors << SECTOR_SHIFT;
	struct rcache_range *ranges = NULL;
	u64 s, first, end;
	unsigned int n, max = 0, i;

	while ((n = rcache_daemon_orphan_ranges(dev, ranges, max)) > max) {
		kfree(ranges);
		max = n;
		ranges = kmalloc_array(max, sizeof(*ranges), GFP_KERNEL);
		if (!ranges)
			return -ENOMEM;
	}
	spin_lock_irq(&rc->lock);
	for (i = 0; i < n; i++) {
		u64 lo = ranges[i].offset, hi = ranges[i].offset + ranges[i].len;

		if (hi <= rc->geo.data_start)
			continue;
		first = lo < rc->geo.data_start ? 0 :
			div64_u64(lo - rc->geo.data_start, block_bytes);
		end = DIV_ROUND_UP_ULL(hi - rc->geo.data_start, block_bytes);
		for (s = first; s < min(end, rc->geo.nr_slots); s++)
			rcache_reserve_slot(rc, s);
	}
	spin_unlock_irq(&rc->lock);
	if (n)
		DMWARN("%s: %u fills of a removed device unanswered: their slots stay unused",
		       rcache_dm_name(rc), n);
	kfree(ranges);
	return 0;
}

static void rcache_free(struct rcache *rc)
{
	if (rc->wq)
		destroy_workqueue(rc->wq);
	rcache_md_close(rc);
	rcache_unclaim_cache_dev(rc);
	if (rc->cache_dev)
		dm_put_device(rc->ti, rc->cache_dev);
	free_percpu(rc->stats);
	if (rc->hit_srcu_ready)
		cleanup_srcu_struct(&rc->hit_srcu);
	kvfree(rc->map);
	kvfree(rc->rmap);
	kfree(rc->freeing);
	kfree(rc->warm.ranges);
	kfree(rc->origin);
	kfree(rc->identity);
	kfree(rc->opt_args);
	kfree(rc->reason);
	kfree(rc);
}

/* Bytes the allocator handed out for @p, @size of them asked for. */
static size_t rcache_alloc_size(const void *p, size_t size)
{
	if (!p)
		return 0;
	return is_vmalloc_addr(p) ? PAGE_ALIGN(size) : ksize(p);
}

/*
 * Logs the memory the table's state takes, from the allocations made: the
 * part that grows with the device (map and slot map words, as asked for),
 * per origin block, and the rest (the context, preallocated buffers, and
 * what the allocators round the arrays up to).
 */
static void rcache_log_memory(struct rcache *rc)
{
	u64 words = rcache_map_words(rc->nr_blocks, rc->geo.md_pages);
	u64 state = rc->nr_blocks * sizeof(*rc->map) + rc->geo.nr_slots * sizeof(*rc->rmap);
	u64 given = rcache_alloc_size(rc->map, words * sizeof(*rc->map)) +
		rcache_alloc_size(rc->rmap, rc->geo.nr_slots * sizeof(*rc->rmap));
	struct rcache_md *md = &rc->mdata;
	u64 fixed;

	fixed = given - state + rcache_alloc_size(rc, sizeof(*rc)) +
		rcache_alloc_size(rc->freeing, RCACHE_FREEING_CAP * sizeof(*rc->freeing)) +
		rcache_alloc_size(md->spare, RCACHE_MD_SPARE_PAGES * RCACHE_MD_PAGE_SIZE) +
		rcache_alloc_size(md->spare_pages, RCACHE_MD_SPARE_PAGES * sizeof(u64)) +
		rcache_alloc_size(md->release, RCACHE_FREEING_CAP * sizeof(u32)) +
		rcache_alloc_size(md->entries, RCACHE_MD_ENTRIES_PER_PAGE * sizeof(u32)) +
		(u64)num_possible_cpus() * (sizeof(struct rcache_stats) + 4 * sizeof(long));
	DMINFO("%s: %llu blocks, %llu slots: %llu.%04llu bytes of state per origin block + %llu",
	       rcache_dm_name(rc), rc->nr_blocks, rc->geo.nr_slots,
	       div64_u64(state, rc->nr_blocks), div64_u64(state * 10000, rc->nr_blocks) % 10000,
	       fixed);
}

static int rcache_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	struct rcache_args args;
	struct rcache *rc, *owner;
	u64 len_bytes, cache_bytes;
	u32 block_bytes;
	int r;

	r = rcache_parse_args(argc, argv, &args, &ti->error);
	if (r)
		return r;

	rc = kzalloc(sizeof(*rc), GFP_KERNEL);
	if (!rc) {
		ti->error = "Cannot allocate rcache context";
		return -ENOMEM;
	}
	rc->ti = ti;
	rc->md = dm_table_get_md(ti->table);
	rc->block_sectors = args.block_sectors;
	rc->block_shift = ilog2(args.block_sectors);
	rc->daemon_timeout = args.daemon_timeout;
	rc->fill_timeout = args.fill_timeout;
	rc->fail_fast = args.fail_fast;
	rc->commit_ms = args.commit_ms;
	rc->prefetch = !args.no_prefetch;
	rc->prefetch_budget = args.prefetch_budget ?: RCACHE_DEFAULT_PREFETCH_BUDGET;
	rc->state = RCACHE_STATE_READY;
	spin_lock_init(&rc->lock);
	spin_lock_init(&rc->stream_lock);
	mutex_init(&rc->msg_lock);
	INIT_DELAYED_WORK(&rc->warm.work, rcache_warmup_work);
	spin_lock_init(&rc->retry_lock);
	hash_init(rc->fetches);
	INIT_LIST_HEAD(&rc->slot_waiters);
	bio_list_init(&rc->flush_bios);
	bio_list_init(&rc->retry_bios);
	bio_list_init(&rc->filled_bios);
	INIT_WORK(&rc->filled_work, rcache_filled_work);
	INIT_WORK(&rc->worker, rcache_worker);
	INIT_WORK(&rc->pf_work, rcache_pf_work);
	rcache_ring_init(&rc->consumed, rc->consumed_slots, RCACHE_CONSUMED_RING);
	INIT_DELAYED_WORK(&rc->commit_timer, rcache_commit_timer);
	init_waitqueue_head(&rc->idle);
	atomic_set(&rc->completing, 1);
	init_completion(&rc->drained);
	INIT_LIST_HEAD(&rc->devices_entry);
	INIT_LIST_HEAD(&rc->claim_entry);
	block_bytes = args.block_sectors << SECTOR_SHIFT;
	rcache_streams_init(&rc->streams, args.prefetch_window ?:
			    max(RCACHE_DEFAULT_PREFETCH_BYTES / block_bytes, 4U));

	r = -ENOMEM;
	rc->origin = kstrdup(args.origin, GFP_KERNEL);
	rc->identity = args.identity ? kstrdup(args.identity, GFP_KERNEL) : NULL;
	/* "<#opt_args> <opt_arg>..." exactly as given, for STATUSTYPE_TABLE */
	rc->opt_args = rcache_join_args(argc - 3, argv + 3);
	if (!rc->origin || (args.identity && !rc->identity) || !rc->opt_args) {
		ti->error = "Cannot allocate argument copies";
		goto bad;
	}

	len_bytes = (u64)ti->len << SECTOR_SHIFT;
	rc->origin_size = args.origin_size ?: len_bytes;
	if (!rcache_len_fits_origin(len_bytes, rc->origin_size)) {
		ti->error = "Target length exceeds origin_size";
		r = -EINVAL;
		goto bad;
	}
	/* A tail past origin_size (at most to the next 4 KiB) reads as zeros. */
	rc->nr_blocks = rcache_nr_blocks(rc->origin_size, len_bytes, rc->block_shift);
	if (rc->nr_blocks > RCACHE_MAX_BLOCKS) {
		ti->error = "Origin has too many blocks: use a larger block size";
		r = -EINVAL;
		goto bad;
	}

	r = dm_get_device(ti, args.cache_path, FMODE_READ | FMODE_WRITE,
			  &rc->cache_dev);
	if (r) {
		ti->error = "Cannot open cache device";
		rc->cache_dev = NULL;
		goto bad;
	}
	cache_bytes = bdev_nr_bytes(rc->cache_dev->bdev);
	rc->geo.nr_slots = min(rcache_max_slots(cache_bytes, block_bytes), rc->nr_blocks);
	if (rc->geo.nr_slots < min_t(u64, RCACHE_MIN_SLOTS, rc->nr_blocks)) {
		DMERR("cache device %s has %llu bytes: %llu blocks of %u bytes, needs %llu",
		      rc->cache_dev->name, cache_bytes, rc->geo.nr_slots, block_bytes,
		      rcache_bytes_needed(min_t(u64, RCACHE_MIN_SLOTS, rc->nr_blocks),
					  block_bytes));
		ti->error = "Cache device too small: it must hold 64 blocks, or the whole origin";
		r = -ENOSPC;
		goto bad;
	}
	rc->geo.md_pages = rcache_md_pages(rc->geo.nr_slots);
	rc->geo.data_start = rcache_data_start(rc->geo.nr_slots);
	rc->data_start = rc->geo.data_start >> SECTOR_SHIFT;

	rc->map = kvcalloc(rcache_map_words(rc->nr_blocks, rc->geo.md_pages), sizeof(*rc->map),
			   GFP_KERNEL);
	rc->rmap = kvcalloc(rc->geo.nr_slots, sizeof(*rc->rmap), GFP_KERNEL);
	rc->freeing = kcalloc(RCACHE_FREEING_CAP, sizeof(*rc->freeing), GFP_KERNEL);
	rc->stats = alloc_percpu(struct rcache_stats);
	rc->hit_srcu_ready = !init_srcu_struct(&rc->hit_srcu);
	rc->wq = alloc_ordered_workqueue("dm-rcache-%s", WQ_MEM_RECLAIM,
					 rcache_dm_name(rc));
	if (!rc->map || !rc->rmap || !rc->freeing || !rc->stats ||
	    !rc->hit_srcu_ready || !rc->wq) {
		ti->error = "Cannot allocate block map";
		r = -ENOMEM;
		goto bad;
	}
	rcache_policy_init(&rc->policy, rc->map, rc->rmap, rc->nr_blocks, rc->geo.nr_slots);

	r = rcache_claim_cache_dev(rc);
	if (r) {
		ti->error = "Cache device is in use by another rcache device";
		goto bad;
	}

	/*
	 * A table reloaded over the live one on the same cache device checks
	 * the superblock now and loads the metadata in preresume, after the
	 * live table has stopped changing it.
	 */
	mutex_lock(&rcache_devices_lock);
	owner = rcache_find_owner(rc);
	mutex_unlock(&rcache_devices_lock);
	r = rcache_md_open(rc, &args, cache_bytes, owner, &ti->error);
	if (!r && rc->mdata.loaded) {
		r = rcache_reserve_orphans(rc);
		if (r)
			ti->error = "Cannot allocate the list of reserved slots";
	}
	if (r)
		goto bad;

	r = dm_set_target_max_io_len(ti, rc->block_sectors);
	if (r) {
		ti->error = "Cannot set max I/O length to the block size";
		goto bad;
	}
	ti->num_flush_bios = 1;
	ti->flush_supported = true;
	ti->num_discard_bios = 0;
	ti->num_write_zeroes_bios = 0;
	ti->per_io_data_size = sizeof(struct rcache_bio);
	ti->private = rc;

	mutex_lock(&rcache_devices_lock);
	rc->dev_id = atomic64_inc_return(&rcache_next_dev_id);
	list_add_tail(&rc->devices_entry, &rcache_devices);
	mutex_unlock(&rcache_devices_lock);

	rcache_log_memory(rc);
	rcache_daemon_event(RCACHE_EVENT_DEVICE_ADDED, rc);
	return 0;
bad:
	rcache_free(rc);
	return r;
}

/*
 * Cancels the fetches of @rc that no daemon holds (all of them, or only the
 * kernel's prefetches), with @status for the bios waiting on them.
 */
static void rcache_cancel_fills(struct rcache *rc, bool prefetch_only, blk_status_t status)
{
	struct rcache_fetch *f, *tmp;
	LIST_HEAD(cancelled);

	rcache_daemon_cancel_queued(rc, prefetch_only, &cancelled);
	if (!prefetch_only) {
		spin_lock_irq(&rc->lock);
		list_for_each_entry_safe(f, tmp, &rc->slot_waiters, entry) {
			list_move_tail(&f->entry, &cancelled);
			atomic_inc(&rc->completing);
		}
		spin_unlock_irq(&rc->lock);
	}
	list_for_each_entry_safe(f, tmp, &cancelled, entry) {
		list_del_init(&f->entry);
		rcache_fetch_complete(f, -ECANCELED, status);
	}
}

/*
 * Waits until no fetch of @rc is left: the daemon answers the ones it holds
 * (at once for a removed device).  At most daemon_timeout, and never more
 * than RCACHE_QUIESCE_SECS.  Returns false when some are left.
 */
static bool rcache_wait_fills(struct rcache *rc)
{
	unsigned long t = min_t(u32, rc->daemon_timeout, RCACHE_QUIESCE_SECS) * HZ;

	return wait_event_timeout(rc->idle, !READ_ONCE(rc->fetches_inflight), t);
}

static void rcache_dtr(struct dm_target *ti)
{
	struct rcache *rc = ti->private;
	unsigned int orphans;

	mutex_lock(&rcache_devices_lock);
	list_del(&rc->devices_entry);
	mutex_unlock(&rcache_devices_lock);
	WRITE_ONCE(rc->suspended, true);	/* no more prefetches */
	rcache_warmup_stop(rc);
	cancel_work_sync(&rc->pf_work);
	rcache_trace_stop(rc);

	/*
	 * No bio waits here any more; what is left are fills nobody awaits.
	 * Those not sent yet go at once.  The slots of those the daemon holds
	 * may still be written: they are freed only when it answers, which it
	 * does at once for a removed device (else a new table on this cache
	 * device could hand them out and see them overwritten).
	 */
	rcache_cancel_fills(rc, false, BLK_STS_IOERR);
	rcache_daemon_event(RCACHE_EVENT_DEVICE_REMOVED, rc);
	if (!rcache_wait_fills(rc)) {
		spin_lock_irq(&rc->lock);
		orphans = rcache_daemon_orphan_device(rc);
		spin_unlock_irq(&rc->lock);
		if (orphans)
			DMWARN("%s: removed with %u fills unanswered: their slots stay reserved",
			       rcache_dm_name(rc), orphans);
		/* a daemon lost meanwhile put its fills back on the queue */
		rcache_cancel_fills(rc, false, BLK_STS_IOERR);
	}
	/* Wait for completions running elsewhere (FETCH_DONE, timeouts). */
	if (!atomic_dec_and_test(&rc->completing))
		wait_for_completion(&rc->drained);

	cancel_delayed_work_sync(&rc->commit_timer);
	flush_workqueue(rc->wq);
	rcache_md_commit(rc);	/* nothing when a reloaded table took over */
	rcache_free(rc);
}

/* ------------------------------------------------------------------ */
/* Suspend, status, messages, device iteration                         */

static void rcache_kick_warmup(struct rcache *rc)
{
	if (READ_ONCE(rc->warm.nr))
		mod_delayed_work(rc->wq, &rc->warm.work, 0);
}

/*
 * Background fills stop (they go on at resume).  Suspending waits for
 * in-flight bios: with no daemon to complete the parked ones that would take
 * up to daemon_timeout, so give them back to dm core (noflush suspend:
 * requeued after resume) or fail them now, also those waiting for a slot.
 */
static void rcache_presuspend(struct dm_target *ti)
{
	struct rcache *rc = ti->private;

	WRITE_ONCE(rc->suspended, true);
	cancel_delayed_work_sync(&rc->warm.work);
	if (rcache_daemon_present())
		return;
	rcache_cancel_fills(rc, false, dm_noflush_suspending(ti) ? BLK_STS_DM_REQUEUE :
			    BLK_STS_IOERR);
}

static void rcache_presuspend_undo(struct dm_target *ti)
{
	struct rcache *rc = ti->private;

	WRITE_ONCE(rc->suspended, false);
	/* the timer may have fired meanwhile and not re-armed itself */
	if (rc->commit_ms)
		mod_delayed_work(rc->wq, &rc->commit_timer, msecs_to_jiffies(rc->commit_ms));
	rcache_kick_warmup(rc);
}

/* A table loaded over this one waits to take the metadata over at resume. */
static bool rcache_has_successor(struct rcache *rc)
{
	struct rcache *other;
	bool found = false;

	mutex_lock(&rcache_devices_lock);
	list_for_each_entry(other, &rcache_devices, devices_entry)
		if (other != rc && other->md == rc->md && rcache_same_cache(other, rc) &&
		    !other->mdata.loaded)
			found = true;
	mutex_unlock(&rcache_devices_lock);
	return found;
}

/*
 * Suspended: make the metadata current.  Queued prefetches go.  When a
 * reloaded table waits to take over, the fills a daemon holds are waited
 * for too, a bounded time, so that the metadata it loads has them (any
 * still unanswered keep their slots out of use there).  A plain suspend or
 * a remove does not wait here: the fills complete meanwhile, and a remove
 * waits for them in the destructor, after telling the daemon.
 */
static void rcache_postsuspend(struct dm_target *ti)
{
	struct rcache *rc = ti->private;

	cancel_delayed_work_sync(&rc->commit_timer);
	cancel_delayed_work_sync(&rc->warm.work);
	flush_work(&rc->pf_work);	/* prefetches asked for by the last hits */
	rcache_cancel_fills(rc, true, BLK_STS_IOERR);
	if (rcache_daemon_present() && rcache_has_successor(rc) && !rcache_wait_fills(rc))
		DMWARN("%s: suspended with %llu fills unanswered by the daemon",
		       rcache_dm_name(rc), READ_ONCE(rc->fetches_inflight));
	flush_workqueue(rc->wq);
	rcache_md_commit(rc);
}

/*
 * Takes the metadata over from @owner, the suspended table this one was
 * loaded over: @owner commits and writes no more, the slots its remaining
 * fills may write stay out of use, and its warm-up queue moves here.
 */
static int rcache_take_over(struct rcache *rc, struct rcache *owner, char **error)
{
	struct rcache_warmup warm;
	struct rcache_fetch *f;
	unsigned int n, max = 0, i;
	u32 *slots = NULL;
	int bkt, r;

	rcache_md_hand_over(owner);
	for (;;) {
		spin_lock_irq(&owner->lock);
		n = 0;
		hash_for_each(owner->fetches, bkt, f, hash)
			if (f->slot != RCACHE_NO_SLOT && n++ < max)
				slots[n - 1] = f->slot;
		spin_unlock_irq(&owner->lock);
		if (n <= max)
			break;
		kfree(slots);
		max = n;
		slots = kmalloc_array(max, sizeof(*slots), GFP_KERNEL);
		if (!slots) {
			*error = "cannot allocate the list of reserved slots";
			return -ENOMEM;
		}
	}

	r = rcache_md_load(rc, error);
	if (r) {
		kfree(slots);
		return r;
	}
	spin_lock_irq(&rc->lock);
	for (i = 0; i < n; i++)
		rcache_reserve_slot(rc, slots[i]);
	spin_unlock_irq(&rc->lock);
	kfree(slots);
	if (n)
		DMWARN("%s: %u fills of the previous table are unanswered: their slots stay unused",
		       rcache_dm_name(rc), n);

	spin_lock_irq(&owner->lock);
	warm = owner->warm;
	owner->warm.ranges = NULL;
	owner->warm.nr = 0;
	owner->warm.cap = 0;
	owner->warm.pending = 0;
	spin_unlock_irq(&owner->lock);
	spin_lock_irq(&rc->lock);
	swap(rc->warm.ranges, warm.ranges);
	rc->warm.nr = warm.nr;
	rc->warm.cap = warm.cap;
	rc->warm.pending = warm.pending;
	rc->warm.rate = warm.rate;
	rc->warm.tokens = warm.tokens;
	rc->warm.refilled = jiffies;
	spin_unlock_irq(&rc->lock);
	kfree(warm.ranges);	/* ours, empty: never used before the resume */
	return 0;
}

/* A reloaded table loads the metadata once the live one has handed over. */
static int rcache_preresume(struct dm_target *ti)
{
	struct rcache *rc = ti->private;
	struct rcache *owner;
	char *error = NULL;
	int r = 0;

	if (rc->mdata.loaded)
		return 0;
	mutex_lock(&rcache_devices_lock);
	owner = rcache_find_owner(rc);
	mutex_unlock(&rcache_devices_lock);
	/*
	 * Not under the devices lock, which netlink requests take: the load
	 * reads the whole metadata area.  The owner, the table this one
	 * replaces, is destroyed only after this resume.
	 */
	if (owner)
		r = rcache_take_over(rc, owner, &error);
	else
		r = rcache_md_load(rc, &error);
	if (!r && rcache_reserve_orphans(rc)) {
		r = -ENOMEM;
		error = "cannot allocate the list of reserved slots";
	}
	if (r)
		DMERR("%s: cannot resume on cache %s: %s", rcache_dm_name(rc),
		      rc->cache_dev->name, error ?: "error");
	return r;
}

static void rcache_resume(struct dm_target *ti)
{
	struct rcache *rc = ti->private;

	WRITE_ONCE(rc->suspended, false);
	if (rc->commit_ms)
		queue_delayed_work(rc->wq, &rc->commit_timer,
				   msecs_to_jiffies(rc->commit_ms));
	rcache_kick(rc);
	rcache_kick_warmup(rc);
}

static void rcache_status(struct dm_target *ti, status_type_t type,
			  unsigned int status_flags, char *result,
			  unsigned int maxlen)
{
	struct rcache *rc = ti->private;
	u64 ctr[__RCACHE_CTR_MAX];
	unsigned int sz = 0;

	switch (type) {
	case STATUSTYPE_INFO:
		rcache_counters(rc, ctr);
		DMEMIT("%u %llu/%llu %llu %llu %llu %llu %llu %llu %s %llu %s %llu %llu %llu %llu ",
		       rc->block_sectors,
		       ctr[RCACHE_CTR_CACHED_BLOCKS], ctr[RCACHE_CTR_TOTAL_BLOCKS],
		       ctr[RCACHE_CTR_READ_HITS], ctr[RCACHE_CTR_READ_MISSES],
		       ctr[RCACHE_CTR_HIT_SECTORS], ctr[RCACHE_CTR_MISS_SECTORS],
		       ctr[RCACHE_CTR_FETCHES_INFLIGHT],
		       ctr[RCACHE_CTR_FETCH_ERRORS],
		       rcache_daemon_present() ? "connected" : "absent",
		       ctr[RCACHE_CTR_STALE_REPLIES],
		       rcache_state_names[READ_ONCE(rc->state)],
		       ctr[RCACHE_CTR_SLOTS], ctr[RCACHE_CTR_EVICTIONS],
		       ctr[RCACHE_CTR_CACHE_READ_ERRORS], ctr[RCACHE_CTR_MD_COMMITS]);
		DMEMIT("%llu %llu %llu %llu %llu %llu %llu %llu %llu",
		       ctr[RCACHE_CTR_PREFETCH_ISSUED], ctr[RCACHE_CTR_PREFETCH_USED],
		       ctr[RCACHE_CTR_PREFETCH_WASTED], ctr[RCACHE_CTR_STREAMS],
		       ctr[RCACHE_CTR_WARMUP_PENDING], ctr[RCACHE_CTR_WARMUP_ERRORS],
		       ctr[RCACHE_CTR_FILL_TIMEOUTS], ctr[RCACHE_CTR_LATE_REPLIES],
		       ctr[RCACHE_CTR_RETIRED_SLOTS]);
		break;
	case STATUSTYPE_TABLE:
		DMEMIT("%s %s %u", rc->cache_dev->name, rc->origin,
		       rc->block_sectors);
		if (*rc->opt_args)
			DMEMIT(" %s", rc->opt_args);
		break;
	case STATUSTYPE_IMA:
		DMEMIT_TARGET_NAME_VERSION(ti->type);
		DMEMIT(",cache_dev=%s,origin=%s,block_sectors=%u;",
		       rc->cache_dev->name, rc->origin, rc->block_sectors);
		break;
	}
}

/* "invalidate <begin>-<end>": drop the blocks of sectors [begin, end). */
static int rcache_invalidate(struct rcache *rc, const char *range)
{
	u64 begin, end, b, first, last;
	struct rcache_fetch *f;
	u32 slot;

	if (rcache_parse_range(range, &begin, &end) || end > rc->ti->len) {
		DMERR("%s: invalidate %s: expected <begin>-<end> in sectors within the device",
		      rcache_dm_name(rc), range);
		return -EINVAL;
	}
	first = begin >> rc->block_shift;
	last = DIV_ROUND_UP_ULL(end, rc->block_sectors);
	for (b = first; b < last; b++) {
		spin_lock_irq(&rc->lock);
		if (rc->nr_freeing_list == RCACHE_FREEING_CAP) {
			spin_unlock_irq(&rc->lock);
			/* make room: release what is already recorded empty */
			if (rcache_md_commit(rc))
				return -EIO;
			spin_lock_irq(&rc->lock);
		}
		slot = rcache_policy_invalidate(&rc->policy, b);
		if (slot != RCACHE_NO_SLOT) {
			rc->freeing[rc->nr_freeing_list++] = slot;
			rcache_md_dirty_slot(rc, slot);
			atomic64_dec(&rc->cached_blocks);
		}
		/* a fill in flight may carry the old bytes: it validates nothing */
		f = rcache_fetch_lookup(rc, b);
		if (f)
			f->fenced = true;
		spin_unlock_irq(&rc->lock);
		if (!((b - first) % 4096))
			cond_resched();
	}
	rcache_feed_wasted(rc);
	return 0;
}

/* "fill_timeout <seconds>": how long the daemon may hold a fill */
static int rcache_fill_timeout_msg(struct rcache *rc, unsigned int argc, char **argv)
{
	u32 v;

	if (argc != 2 || kstrtou32(argv[1], 10, &v) || !v || v > RCACHE_MAX_FILL_TIMEOUT) {
		DMERR("%s: expected fill_timeout <seconds>, 1 to %u", rcache_dm_name(rc),
		      RCACHE_MAX_FILL_TIMEOUT);
		return -EINVAL;
	}
	WRITE_ONCE(rc->fill_timeout, v);
	return 0;
}

/* "warmup <begin>-<end> [<MB/s>]" (sectors; 10^6 bytes/s) and "warmup stop" */
static int rcache_warmup_msg(struct rcache *rc, unsigned int argc, char **argv)
{
	u64 begin, end, rate = 0;

	if (argc == 2 && !strcasecmp(argv[1], "stop")) {
		rcache_warmup_stop(rc);
		return 0;
	}
	if (argc < 2 || argc > 3 || rcache_parse_range(argv[1], &begin, &end) ||
	    end > rc->ti->len || (argc == 3 && kstrtou64(argv[2], 10, &rate))) {
		DMERR("%s: expected warmup <begin>-<end> [<MB/s>] in sectors within the device",
		      rcache_dm_name(rc));
		return -EINVAL;
	}
	return rcache_warmup_add(rc, begin >> rc->block_shift,
				 DIV_ROUND_UP_ULL(end, rc->block_sectors), rate * 1000000);
}

/* "prefetch on|off", "prefetch_window <blocks>", "prefetch_budget <n>" */
static int rcache_prefetch_msg(struct rcache *rc, unsigned int argc, char **argv)
{
	u32 v;

	if (argc == 2 && !strcasecmp(argv[0], "prefetch") &&
	    (!strcasecmp(argv[1], "on") || !strcasecmp(argv[1], "off"))) {
		WRITE_ONCE(rc->prefetch, !strcasecmp(argv[1], "on"));
		return 0;
	}
	if (argc == 2 && !kstrtou32(argv[1], 10, &v) && v && v <= 65536) {
		if (!strcasecmp(argv[0], "prefetch_window")) {
			spin_lock(&rc->stream_lock);
			rcache_streams_set_max(&rc->streams, v);
			spin_unlock(&rc->stream_lock);
			return 0;
		}
		if (!strcasecmp(argv[0], "prefetch_budget")) {
			WRITE_ONCE(rc->prefetch_budget, v);
			return 0;
		}
	}
	DMERR("%s: expected prefetch on|off, prefetch_window <blocks> or prefetch_budget <fetches>",
	      rcache_dm_name(rc));
	return -EINVAL;
}

static int rcache_trace_msg(struct rcache *rc, unsigned int argc, char **argv, char *result,
			    unsigned int maxlen)
{
	if (argc == 2 && !strcasecmp(argv[1], "start"))
		return rcache_trace_start(rc);
	if (argc == 2 && !strcasecmp(argv[1], "stop")) {
		rcache_trace_stop(rc);
		return 0;
	}
	if (argc == 2 && !strcasecmp(argv[1], "read"))
		return rcache_trace_read(rc, result, maxlen);
	DMERR("%s: expected trace start|read|stop", rcache_dm_name(rc));
	return -EINVAL;
}

static int rcache_message(struct dm_target *ti, unsigned int argc, char **argv,
			  char *result, unsigned int maxlen)
{
	struct rcache *rc = ti->private;
	int cpu, r;

	if (argc == 2 && !strcasecmp(argv[0], "invalidate"))
		return rcache_invalidate(rc, argv[1]);
	if (argc && !strcasecmp(argv[0], "fill_timeout"))
		return rcache_fill_timeout_msg(rc, argc, argv);
	if (argc && !strcasecmp(argv[0], "warmup"))
		return rcache_warmup_msg(rc, argc, argv);
	if (argc && !strncasecmp(argv[0], "prefetch", 8))
		return rcache_prefetch_msg(rc, argc, argv);
	if (argc && !strcasecmp(argv[0], "trace")) {
		mutex_lock(&rc->msg_lock);
		r = rcache_trace_msg(rc, argc, argv, result, maxlen);
		mutex_unlock(&rc->msg_lock);
		return r;
	}
	if (argc == 1 && !strcasecmp(argv[0], "clear_stats")) {
		for_each_possible_cpu(cpu)
			memset(per_cpu_ptr(rc->stats, cpu), 0, sizeof(struct rcache_stats));
		atomic64_set(&rc->fetch_errors, 0);
		atomic64_set(&rc->cache_read_errors, 0);
		atomic64_set(&rc->prefetch_issued, 0);
		atomic64_set(&rc->prefetch_used, 0);
		spin_lock_irq(&rc->lock);
		rc->policy.evictions = 0;
		rc->policy.prefetch_wasted = 0;
		rc->warm.errors = 0;
		spin_unlock_irq(&rc->lock);
		return 0;
	}
	DMERR("%s: unknown message '%s' (see rcachectl(8) for the messages)",
	      rcache_dm_name(rc), argc ? argv[0] : "");
	return -EINVAL;
}

static int rcache_iterate_devices(struct dm_target *ti,
				  iterate_devices_callout_fn fn, void *data)
{
	struct rcache *rc = ti->private;

	return fn(ti, rc->cache_dev, rc->data_start,
		  rc->geo.nr_slots << rc->block_shift, data);
}

static struct target_type rcache_target = {
	.name = RCACHE_TARGET_NAME,
	.version = { RCACHE_VERSION_MAJOR, RCACHE_VERSION_MINOR,
		     RCACHE_VERSION_PATCH },
	.module = THIS_MODULE,
#ifdef DM_TARGET_NOWAIT
	/* hits never block; a miss parks the bio and returns */
	.features = DM_TARGET_NOWAIT,
#endif
	.ctr = rcache_ctr,
	.dtr = rcache_dtr,
	.map = rcache_map,
	.end_io = rcache_end_io,
	.presuspend = rcache_presuspend,
	.presuspend_undo = rcache_presuspend_undo,
	.postsuspend = rcache_postsuspend,
	.preresume = rcache_preresume,
	.resume = rcache_resume,
	.status = rcache_status,
	.message = rcache_message,
	.iterate_devices = rcache_iterate_devices,
};

static int __init dm_rcache_init(void)
{
	int r;

	rcache_fetch_cache = KMEM_CACHE(rcache_fetch, 0);
	if (!rcache_fetch_cache)
		return -ENOMEM;
	r = mempool_init_slab_pool(&rcache_fetch_pool, 256, rcache_fetch_cache);
	if (r)
		goto bad_pool;
	r = rcache_netlink_init();
	if (r)
		goto bad_netlink;
	r = dm_register_target(&rcache_target);
	if (r) {
		DMERR("register failed %d", r);
		goto bad_target;
	}
	return 0;

bad_target:
	rcache_netlink_exit();
bad_netlink:
	mempool_exit(&rcache_fetch_pool);
bad_pool:
	kmem_cache_destroy(rcache_fetch_cache);
	return r;
}

static void __exit dm_rcache_exit(void)
{
	dm_unregister_target(&rcache_target);
	rcache_netlink_exit();
	mempool_exit(&rcache_fetch_pool);
	kmem_cache_destroy(rcache_fetch_cache);
}

module_init(dm_rcache_init);
module_exit(dm_rcache_exit);

MODULE_DESCRIPTION(DM_NAME " remote-origin read cache target");
MODULE_AUTHOR("rcache developers");
MODULE_LICENSE("GPL");
MODULE_VERSION(RCACHE_VERSION);
