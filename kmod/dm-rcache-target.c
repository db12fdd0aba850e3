// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-rcache: a read-only device whose blocks come from a remote origin (a
 * file on NFS/CephFS, an S3 object) and are cached on a local block device.
 *
 * A read of a valid block is remapped to its slot on the cache device with
 * no lock and no allocation.  A miss parks the bio on the block's fetch (one
 * fetch per block, however many bios wait) and asks the userspace daemon,
 * over generic netlink, to copy the block from the origin into the slot.
 * The daemon's FETCH_DONE marks the block valid and releases the bios.
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

#define RCACHE_VERSION_MAJOR 1
#define RCACHE_VERSION_MINOR 0
#define RCACHE_VERSION_PATCH 0

static struct kmem_cache *rcache_fetch_cache;
static mempool_t rcache_fetch_pool;

/* Every live target, for netlink lookups by instance id. */
static LIST_HEAD(rcache_devices);
static DEFINE_MUTEX(rcache_devices_lock);
static atomic64_t rcache_next_dev_id = ATOMIC64_INIT(0);

static const char * const rcache_state_names[__RCACHE_STATE_MAX] = {
	[RCACHE_STATE_READY] = "ready",
	[RCACHE_STATE_STALE] = "stale",
};

/* ------------------------------------------------------------------ */
/* Block and offset math                                               */

u64 rcache_cache_offset(struct rcache *rc, u32 slot)
{
	return rc->geo.data_start + ((u64)slot << (rc->block_shift + SECTOR_SHIFT));
}

/* The origin byte range that block @block covers; the last may be short. */
void rcache_fill_origin_range(struct rcache *rc, u64 block, u64 *offset,
			      u32 *length)
{
	u64 start = block << (rc->block_shift + SECTOR_SHIFT);
	u64 block_bytes = (u64)rc->block_sectors << SECTOR_SHIFT;

	*offset = start;
	*length = min(block_bytes, rc->origin_size - start);
}

static void rcache_remap(struct rcache *rc, struct bio *bio, u32 slot)
{
	sector_t offset = dm_target_offset(rc->ti, bio->bi_iter.bi_sector);

	bio_set_dev(bio, rc->cache_dev->bdev);
	bio->bi_iter.bi_sector = rc->data_start +
		((sector_t)slot << rc->block_shift) +
		(offset & (rc->block_sectors - 1));
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
}

int rcache_set_state(struct rcache *rc, u32 state, const char *reason)
{
	char *copy = NULL;

	if (state >= __RCACHE_STATE_MAX)
		return -EINVAL;
	if (reason) {
		copy = kstrdup(reason, GFP_KERNEL);
		if (!copy)
			return -ENOMEM;
	}
	spin_lock(&rc->lock);
	swap(rc->reason, copy);
	WRITE_ONCE(rc->state, state);
	spin_unlock(&rc->lock);
	kfree(copy);

	if (state == RCACHE_STATE_STALE)
		DMERR("%s: origin %s is stale, misses will fail: %s",
		      rcache_dm_name(rc), rc->origin, reason ?: "no reason given");
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

/*
 * Ends a fetch that is already off every daemon list: @err == 0 marks the
 * block valid and sends the waiting bios to the cache device; otherwise they
 * end with @fail_status.  -ECANCELED is a cancellation, not an error.
 */
void rcache_fetch_complete(struct rcache_fetch *f, int err,
			   blk_status_t fail_status)
{
	struct rcache *rc = f->rc;
	struct bio_list bios;
	struct bio *bio;

	spin_lock(&rc->lock);
	if (!err) {
		atomic_set(&rc->map[f->block], RCACHE_MAP_VALID | f->slot);
		atomic64_inc(&rc->cached_blocks);
	}
	hash_del(&f->hash);
	rc->fetches_inflight--;
	bios = f->waiters;
	bio_list_init(&f->waiters);
	spin_unlock(&rc->lock);

	if (err && err != -ECANCELED) {
		atomic64_inc(&rc->fetch_errors);
		DMERR_LIMIT("%s: fetch of block %llu from %s failed: %d",
			    rcache_dm_name(rc), f->block, rc->origin, err);
	}
	while ((bio = bio_list_pop(&bios))) {
		if (err) {
			bio->bi_status = fail_status;
			bio_endio(bio);
		} else {
			/* resubmitted from a worker, which may block */
			bio->bi_opf &= ~REQ_NOWAIT;
			rcache_remap(rc, bio, f->slot);
			submit_bio_noacct(bio);
		}
	}
	mempool_free(f, &rcache_fetch_pool);

	if (atomic_dec_and_test(&rc->completing))
		complete(&rc->drained);
}

static int rcache_map_miss(struct rcache *rc, struct bio *bio, u64 block)
{
	struct rcache_fetch *f, *new;
	u32 word;

	if (READ_ONCE(rc->state) == RCACHE_STATE_STALE) {
		DMERR_LIMIT("%s: miss on block %llu refused: origin is stale",
			    rcache_dm_name(rc), block);
		return DM_MAPIO_KILL;
	}
	if (rc->fail_fast && !rcache_daemon_present()) {
		DMERR_LIMIT("%s: miss on block %llu failed: no daemon (fail_fast)",
			    rcache_dm_name(rc), block);
		return DM_MAPIO_KILL;
	}

	/* A REQ_NOWAIT submitter (io_uring) must not sleep here. */
	new = mempool_alloc(&rcache_fetch_pool,
			    bio->bi_opf & REQ_NOWAIT ? GFP_NOWAIT : GFP_NOIO);
	if (!new) {
		bio_wouldblock_error(bio);
		return DM_MAPIO_SUBMITTED;
	}

	spin_lock(&rc->lock);
	word = atomic_read(&rc->map[block]);
	if (word & RCACHE_MAP_VALID) {
		/* filled while we allocated */
		spin_unlock(&rc->lock);
		mempool_free(new, &rcache_fetch_pool);
		rcache_remap(rc, bio, word & RCACHE_MAP_SLOT_MASK);
		return DM_MAPIO_REMAPPED;
	}
	f = rcache_fetch_lookup(rc, block);
	if (f) {
		bio_list_add(&f->waiters, bio);
		spin_unlock(&rc->lock);
		mempool_free(new, &rcache_fetch_pool);
		return DM_MAPIO_SUBMITTED;
	}
	f = new;
	memset(f, 0, sizeof(*f));
	INIT_LIST_HEAD(&f->entry);
	f->rc = rc;
	f->block = block;
	f->slot = block;	/* one slot per block: the cache holds the origin */
	f->queued_at = jiffies;
	bio_list_init(&f->waiters);
	bio_list_add(&f->waiters, bio);
	hash_add(rc->fetches, &f->hash, block);
	rc->fetches_inflight++;
	spin_unlock(&rc->lock);

	rcache_daemon_queue(f);
	return DM_MAPIO_SUBMITTED;
}

static int rcache_map(struct dm_target *ti, struct bio *bio)
{
	struct rcache *rc = ti->private;
	u64 block;
	u32 word;

	if (unlikely(bio_op(bio) != REQ_OP_READ)) {
		if (op_is_flush(bio->bi_opf) && !bio_sectors(bio)) {
			bio_set_dev(bio, rc->cache_dev->bdev);
			return DM_MAPIO_REMAPPED;
		}
		DMERR_LIMIT("%s: %s at sector %llu rejected: device is read-only",
			    rcache_dm_name(rc),
			    bio_op(bio) == REQ_OP_WRITE ? "write" : "request",
			    (unsigned long long)bio->bi_iter.bi_sector);
		return DM_MAPIO_KILL;
	}

	block = dm_target_offset(ti, bio->bi_iter.bi_sector) >> rc->block_shift;
	word = atomic_read(&rc->map[block]);
	if (likely(word & RCACHE_MAP_VALID)) {
		this_cpu_inc(rc->stats->read_hits);
		this_cpu_add(rc->stats->hit_sectors, bio_sectors(bio));
		rcache_remap(rc, bio, word & RCACHE_MAP_SLOT_MASK);
		return DM_MAPIO_REMAPPED;
	}
	this_cpu_inc(rc->stats->read_misses);
	this_cpu_add(rc->stats->miss_sectors, bio_sectors(bio));
	return rcache_map_miss(rc, bio, block);
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

/* Refuse a cache device another rcache device (other than us) caches on. */
static int rcache_claim_cache_dev(struct rcache *rc)
{
	struct rcache *other;

	lockdep_assert_held(&rcache_devices_lock);
	list_for_each_entry(other, &rcache_devices, devices_entry)
		if (other->cache_dev->bdev->bd_dev == rc->cache_dev->bdev->bd_dev &&
		    other->md != rc->md)
			return -EBUSY;
	return 0;
}

static void rcache_free(struct rcache *rc)
{
	if (rc->cache_dev)
		dm_put_device(rc->ti, rc->cache_dev);
	free_percpu(rc->stats);
	kvfree(rc->map);
	kfree(rc->origin);
	kfree(rc->identity);
	kfree(rc->opt_args);
	kfree(rc->reason);
	kfree(rc);
}

static int rcache_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	struct rcache_args args;
	struct rcache *rc;
	u64 len_bytes, cache_bytes, need;
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
	rc->fail_fast = args.fail_fast;
	rc->state = RCACHE_STATE_READY;
	spin_lock_init(&rc->lock);
	hash_init(rc->fetches);
	atomic_set(&rc->completing, 1);
	init_completion(&rc->drained);
	INIT_LIST_HEAD(&rc->devices_entry);
	block_bytes = args.block_sectors << SECTOR_SHIFT;

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
	if (len_bytes > round_up(rc->origin_size, SECTOR_SIZE * 8ULL)) {
		ti->error = "Target length exceeds origin_size";
		r = -EINVAL;
		goto bad;
	}
	/* A tail past origin_size (at most to the next 4 KiB) reads as zeros. */
	rc->nr_blocks = DIV_ROUND_UP_ULL(max(rc->origin_size, len_bytes),
					 block_bytes);
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
	need = rcache_bytes_needed(rc->nr_blocks, block_bytes);
	if (cache_bytes < need) {
		DMERR("cache device %s has %llu bytes, needs %llu for %llu blocks of %u bytes",
		      rc->cache_dev->name, cache_bytes, need, rc->nr_blocks,
		      block_bytes);
		ti->error = "Cache device too small for the origin";
		r = -ENOSPC;
		goto bad;
	}
	rc->geo.nr_slots = rc->nr_blocks;
	rc->geo.md_pages = rcache_md_pages(rc->nr_blocks);
	rc->geo.data_start = rcache_data_start(rc->nr_blocks);
	rc->data_start = rc->geo.data_start >> SECTOR_SHIFT;

	rc->map = kvcalloc(rc->nr_blocks, sizeof(*rc->map), GFP_KERNEL);
	rc->stats = alloc_percpu(struct rcache_stats);
	if (!rc->map || !rc->stats) {
		ti->error = "Cannot allocate block map";
		r = -ENOMEM;
		goto bad;
	}

	r = dm_set_target_max_io_len(ti, rc->block_sectors);
	if (r) {
		ti->error = "Cannot set max I/O length to the block size";
		goto bad;
	}
	ti->num_flush_bios = 1;
	ti->flush_supported = true;
	ti->num_discard_bios = 0;
	ti->num_write_zeroes_bios = 0;
	ti->private = rc;

	mutex_lock(&rcache_devices_lock);
	r = rcache_claim_cache_dev(rc);
	if (r) {
		mutex_unlock(&rcache_devices_lock);
		ti->error = "Cache device is in use by another rcache device";
		goto bad;
	}
	rc->dev_id = atomic64_inc_return(&rcache_next_dev_id);
	list_add_tail(&rc->devices_entry, &rcache_devices);
	mutex_unlock(&rcache_devices_lock);

	rcache_daemon_event(RCACHE_EVENT_DEVICE_ADDED, rc);
	return 0;
bad:
	rcache_free(rc);
	return r;
}

static void rcache_dtr(struct dm_target *ti)
{
	struct rcache *rc = ti->private;
	struct rcache_fetch *f, *tmp;
	LIST_HEAD(cancelled);

	mutex_lock(&rcache_devices_lock);
	list_del(&rc->devices_entry);
	mutex_unlock(&rcache_devices_lock);

	/* No bio waits here any more; what is left are fills nobody awaits. */
	rcache_daemon_cancel_device(rc, &cancelled);
	list_for_each_entry_safe(f, tmp, &cancelled, entry) {
		list_del_init(&f->entry);
		rcache_fetch_complete(f, -ECANCELED, BLK_STS_IOERR);
	}
	/* Wait for completions running elsewhere (FETCH_DONE, timeouts). */
	if (!atomic_dec_and_test(&rc->completing))
		wait_for_completion(&rc->drained);

	rcache_daemon_event(RCACHE_EVENT_DEVICE_REMOVED, rc);
	rcache_free(rc);
}

/* ------------------------------------------------------------------ */
/* Suspend, status, device iteration                                   */

/*
 * Suspending waits for in-flight bios.  With no daemon to complete the
 * parked ones that would take up to daemon_timeout, so give them back to
 * dm core (noflush suspend: requeued after resume) or fail them now.
 */
static void rcache_presuspend(struct dm_target *ti)
{
	struct rcache *rc = ti->private;
	struct rcache_fetch *f, *tmp;
	LIST_HEAD(cancelled);

	if (rcache_daemon_present())
		return;
	rcache_daemon_cancel_device(rc, &cancelled);
	list_for_each_entry_safe(f, tmp, &cancelled, entry) {
		list_del_init(&f->entry);
		rcache_fetch_complete(f, -ECANCELED, dm_noflush_suspending(ti) ?
				      BLK_STS_DM_REQUEUE : BLK_STS_IOERR);
	}
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
		DMEMIT("%u %llu/%llu %llu %llu %llu %llu %llu %llu %s %llu %s",
		       rc->block_sectors,
		       ctr[RCACHE_CTR_CACHED_BLOCKS], ctr[RCACHE_CTR_TOTAL_BLOCKS],
		       ctr[RCACHE_CTR_READ_HITS], ctr[RCACHE_CTR_READ_MISSES],
		       ctr[RCACHE_CTR_HIT_SECTORS], ctr[RCACHE_CTR_MISS_SECTORS],
		       ctr[RCACHE_CTR_FETCHES_INFLIGHT],
		       ctr[RCACHE_CTR_FETCH_ERRORS],
		       rcache_daemon_present() ? "connected" : "absent",
		       ctr[RCACHE_CTR_STALE_REPLIES],
		       rcache_state_names[READ_ONCE(rc->state)]);
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

static int rcache_iterate_devices(struct dm_target *ti,
				  iterate_devices_callout_fn fn, void *data)
{
	struct rcache *rc = ti->private;

	return fn(ti, rc->cache_dev, rc->data_start, ti->len, data);
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
	.presuspend = rcache_presuspend,
	.status = rcache_status,
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
MODULE_VERSION("1.0.0");
