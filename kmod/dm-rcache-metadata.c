// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-rcache persistent metadata: format, load and commit.
 *
 * A block becomes valid on disk only after its data is durable: a commit
 * snapshots the slot entries of the dirty metadata pages, flushes the cache
 * device (the daemon's O_DIRECT writes of every block valid in the snapshot
 * completed before it became valid), and then writes each page with FUA to
 * the copy that is not current.  A torn page leaves the other copy, a
 * consistent earlier state.  A freed slot is reused for another block only
 * after a commit wrote its page recording it empty, so an entry never points
 * at another block's data.  A lost commit only costs refetches.
 *
 * A commit never fails for want of memory: when a buffer for every dirty
 * page cannot be had, it goes in passes through a small preallocated one,
 * each pass flushing before it writes.
 */
#include <linux/blkdev.h>
#include <linux/dm-io.h>
#include <linux/random.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/vmalloc.h>

#include "dm-rcache.h"

#define RCACHE_MD_READ_CHUNK	64	/* pages per read while loading */

static int rcache_md_io(struct rcache *rc, blk_opf_t opf, void *buf, u64 byte_offset,
			unsigned int len)
{
	struct dm_io_region region = {
		.bdev = rc->cache_dev->bdev,
		.sector = byte_offset >> SECTOR_SHIFT,
		.count = len >> SECTOR_SHIFT,
	};
	struct dm_io_request req = {
		.bi_opf = opf,
		.mem.type = is_vmalloc_addr(buf) ? DM_IO_VMA : DM_IO_KMEM,
		.mem.ptr.addr = buf,
		.client = rc->mdata.io,
	};
	unsigned long error_bits = 0;
	int r;

#ifdef RCACHE_DM_IO_IOPRIO
	r = dm_io(&req, 1, &region, &error_bits, IOPRIO_DEFAULT);
#else
	r = dm_io(&req, 1, &region, &error_bits);
#endif
	return r ?: (error_bits ? -EIO : 0);
}

static u64 rcache_md_page_offset(struct rcache *rc, u64 page, unsigned int copy)
{
	return RCACHE_MD_OFFSET + ((u64)copy * rc->mdata.md_pages + page) * RCACHE_MD_PAGE_SIZE;
}

/*
 * Same origin?  Presigned URLs change their query string each time, and
 * rcachectl puts a "#secret=" reference to the query in the table instead.
 */
static bool rcache_same_origin(const char *a, const char *b)
{
	size_t la, lb;

	if (strncmp(a, "http://", 7) && strncmp(a, "https://", 8))
		return !strcmp(a, b);
	la = strcspn(a, "?#");
	lb = strcspn(b, "?#");
	return la == lb && !strncmp(a, b, la);
}

/* Writes empty metadata and a new superblock (the superblock last). */
static int rcache_md_format(struct rcache *rc, struct rcache_sb_info *sb, void *block)
{
	struct rcache_md *md = &rc->mdata;
	const u64 chunk = RCACHE_MD_READ_CHUNK;
	void *buf;
	u64 p, n, i;
	int r = 0;

	buf = kvmalloc(chunk * RCACHE_MD_PAGE_SIZE, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	get_random_bytes(&md->format_id, sizeof(md->format_id));
	md->seq = 1;
	for (p = 0; p < 2 * md->md_pages && !r; p += n) {
		n = min(chunk, 2 * md->md_pages - p);
		for (i = 0; i < n; i++)
			rcache_md_page_encode(buf + i * RCACHE_MD_PAGE_SIZE, md->format_id, 0,
					      (p + i) % md->md_pages, NULL, 0);
		r = rcache_md_io(rc, REQ_OP_WRITE, buf, rcache_md_page_offset(rc, p, 0),
				 n * RCACHE_MD_PAGE_SIZE);
	}
	kvfree(buf);
	if (r)
		return r;
	sb->format_id = md->format_id;
	sb->format_time = ktime_get_real_seconds();
	rcache_sb_encode(sb, block);
	/* the empty metadata is durable before the superblock points at it */
	r = blkdev_issue_flush(rc->cache_dev->bdev);
	if (!r)
		r = rcache_md_io(rc, REQ_OP_WRITE | REQ_FUA, block, RCACHE_SB_OFFSET,
				 RCACHE_SB_SIZE);
	if (!r)
		DMINFO("%s: formatted cache %s: %llu slots of %u sectors for %s",
		       rcache_dm_name(rc), rc->cache_dev->name, rc->geo.nr_slots,
		       rc->block_sectors, rc->origin);
	return r;
}

/*
 * Takes the current copy of metadata page @index into the slot map: the
 * valid copy, or the newer of two valid ones.  Returns the entries loaded.
 */
static int rcache_md_load_page(struct rcache *rc, void *copies[2], u64 index, u64 *loaded,
			       char **error)
{
	struct rcache_md *md = &rc->mdata;
	enum rcache_md_page_state st[2];
	u64 seq[2] = { 0, 0 }, j;
	int c;

	for (c = 0; c < 2; c++)
		st[c] = rcache_md_page_check(copies[c], md->format_id, index, &seq[c]);
	if (st[0] == RCACHE_MD_CORRUPT && st[1] == RCACHE_MD_CORRUPT) {
		DMERR("%s: metadata page %llu: both copies fail their checksum",
		      rcache_dm_name(rc), index);
		*error = "Cache metadata checksum mismatch (damaged; reset reformats)";
		return -EINVAL;
	}
	c = st[1] == RCACHE_MD_VALID && (st[0] != RCACHE_MD_VALID || seq[1] > seq[0]);
	if (st[c] != RCACHE_MD_VALID) {
		/* no entries; the next commit overwrites the damaged copy, if any */
		if (st[0] == RCACHE_MD_CORRUPT)
			rcache_md_bit_assign(rc->map, rcache_md_copy_word(index), true);
		return 0;
	}
	if (c)
		rcache_md_bit_assign(rc->map, rcache_md_copy_word(index), true);
	md->seq = max(md->seq, seq[c] + 1);
	for (j = 0; j < RCACHE_MD_ENTRIES_PER_PAGE; j++) {
		u64 slot = index * RCACHE_MD_ENTRIES_PER_PAGE + j;
		u32 e = rcache_md_page_entry(copies[c], j);

		if (!e)
			continue;
		if (e == RCACHE_MD_ENTRY_RETIRED && slot < rc->geo.nr_slots) {
			rcache_policy_load_retired(&rc->policy, slot);
			continue;
		}
		if (slot >= rc->geo.nr_slots || e - 1 >= rc->nr_blocks) {
			DMERR("%s: metadata page %llu: bad entry %u for slot %llu",
			      rcache_dm_name(rc), index, e, slot);
			*error = "Cache metadata inconsistent (reset reformats)";
			return -EINVAL;
		}
		/*
		 * A block in two slots: a crash cut a commit short after it
		 * wrote the page of the block's new slot and before the page
		 * of its old one.  Both slots hold the block's data (a freed
		 * slot is reused only after its commit completes): keep the
		 * first, and free this one as an eviction does: reused only
		 * once a commit recorded it empty.  Reused earlier, a second
		 * crash after that commit wrote the other page (the first
		 * slot empty) and before this one would leave the block
		 * named here only, over another block's bytes.
		 */
		if (atomic_read(&rc->map[e - 1]) & RCACHE_MAP_VALID) {
			DMWARN("%s: block %u in two slots (a commit cut short): slot %llu freed",
			       rcache_dm_name(rc), e - 1, slot);
			if (rc->nr_freeing_list < RCACHE_FREEING_CAP) {
				rcache_policy_load_freeing(&rc->policy, slot);
				rc->freeing[rc->nr_freeing_list++] = slot;
			} else {
				rcache_policy_reserve(&rc->policy, slot);
			}
			rcache_md_dirty_slot(rc, slot);
			continue;
		}
		rcache_policy_load(&rc->policy, slot, e - 1);
		(*loaded)++;
	}
	return 0;
}

/* Reads both copies of every page and rebuilds the slot map. */
int rcache_md_load(struct rcache *rc, char **error)
{
	struct rcache_md *md = &rc->mdata;
	const u64 chunk = RCACHE_MD_READ_CHUNK;
	u64 p, n, i, loaded = 0;
	void *bufs[2];
	int r = 0, c;

	bufs[0] = kvmalloc(chunk * RCACHE_MD_PAGE_SIZE, GFP_KERNEL);
	bufs[1] = kvmalloc(chunk * RCACHE_MD_PAGE_SIZE, GFP_KERNEL);
	if (!bufs[0] || !bufs[1]) {
		r = -ENOMEM;
		*error = "Cannot allocate metadata buffers";
		goto out;
	}
	/* from scratch, also when a failed resume tries again */
	memset(rc->map, 0, rcache_map_words(rc->nr_blocks, md->md_pages) * sizeof(*rc->map));
	rcache_policy_init(&rc->policy, rc->map, rc->rmap, rc->nr_blocks, rc->geo.nr_slots);
	rc->nr_freeing_list = 0;
	md->nr_dirty = 0;
	md->seq = 1;
	for (p = 0; p < md->md_pages; p += n) {
		n = min(chunk, md->md_pages - p);
		for (c = 0; c < 2 && !r; c++)
			r = rcache_md_io(rc, REQ_OP_READ, bufs[c], rcache_md_page_offset(rc, p, c),
					 n * RCACHE_MD_PAGE_SIZE);
		if (r) {
			*error = "Cannot read the cache metadata";
			goto out;
		}
		for (i = 0; i < n; i++) {
			void *copies[2] = { bufs[0] + i * RCACHE_MD_PAGE_SIZE,
					    bufs[1] + i * RCACHE_MD_PAGE_SIZE };

			r = rcache_md_load_page(rc, copies, p + i, &loaded, error);
			if (r)
				goto out;
		}
	}
	atomic64_set(&rc->cached_blocks, loaded);
	md->loaded = true;
	DMINFO("%s: loaded cache %s: %llu of %llu blocks cached", rcache_dm_name(rc),
	       rc->cache_dev->name, loaded, rc->nr_blocks);
out:
	kvfree(bufs[0]);
	kvfree(bufs[1]);
	return r;
}

/*
 * Opens the cache device's metadata: formats a fresh (or reset) device,
 * else checks that it caches this origin, at this version and geometry, and
 * loads what it holds.  With @defer_load (a table reloaded over a live one
 * on the same cache device), only the checks: the live table still changes
 * the metadata, and rcache_md_load() runs once it has handed over.
 */
int rcache_md_open(struct rcache *rc, const struct rcache_args *args, u64 cache_bytes,
		   bool defer_load, char **error)
{
	struct rcache_md *md = &rc->mdata;
	struct rcache_sb_info *want, *have;
	void *block;
	int r;

	mutex_init(&md->commit_lock);
	md->md_pages = rc->geo.md_pages;
	md->io = dm_io_client_create();
	md->spare = kvmalloc(RCACHE_MD_SPARE_PAGES * RCACHE_MD_PAGE_SIZE, GFP_KERNEL);
	md->spare_pages = kcalloc(RCACHE_MD_SPARE_PAGES, sizeof(*md->spare_pages), GFP_KERNEL);
	md->release = kvcalloc(RCACHE_FREEING_CAP, sizeof(*md->release), GFP_KERNEL);
	md->entries = kcalloc(RCACHE_MD_ENTRIES_PER_PAGE, sizeof(*md->entries), GFP_KERNEL);
	want = kzalloc(sizeof(*want), GFP_KERNEL);
	have = kzalloc(sizeof(*have), GFP_KERNEL);
	block = kmalloc(RCACHE_SB_SIZE, GFP_KERNEL);
	if (IS_ERR_OR_NULL(md->io) || !md->spare || !md->spare_pages || !md->release ||
	    !md->entries || !want || !have || !block) {
		if (IS_ERR(md->io))
			md->io = NULL;
		*error = "Cannot allocate metadata state";
		r = -ENOMEM;
		goto out;
	}

	want->block_sectors = rc->block_sectors;
	want->nr_slots = rc->geo.nr_slots;
	want->md_pages = rc->geo.md_pages;
	want->data_start = rc->geo.data_start;
	want->cache_bytes = cache_bytes;
	want->nr_blocks = rc->nr_blocks;
	want->origin_size = rc->origin_size;
	strscpy(want->origin, rc->origin, sizeof(want->origin));
	if (rc->identity)
		strscpy(want->identity, rc->identity, sizeof(want->identity));

	r = rcache_md_io(rc, REQ_OP_READ, block, RCACHE_SB_OFFSET, RCACHE_SB_SIZE);
	if (r) {
		*error = "Cannot read the cache superblock";
		goto out;
	}
	r = rcache_sb_decode(block, have, error);
	if (defer_load && args->reset) {
		*error = "Cannot reset a live device's cache (remove it, or reload without reset)";
		r = -EBUSY;
		goto out;
	}
	if (defer_load && r == -ENODATA) {
		*error = "Cache device of a live device has no superblock (damaged?)";
		r = -EINVAL;
		goto out;
	}
	if (r == -ENODATA || (r && args->reset)) {
		r = rcache_md_format(rc, want, block);
		if (r)
			*error = "Cannot format the cache device";
		else
			md->loaded = true;
		goto out;
	}
	if (r)
		goto out;

	if (!args->reset) {
		if (have->block_sectors != want->block_sectors) {
			*error = "Cache formatted with another block size (reset reformats)";
			r = -EINVAL;
		} else if (have->cache_bytes != want->cache_bytes ||
			   have->nr_slots != want->nr_slots) {
			*error = "Cache device size changed (reset reformats)";
			r = -EINVAL;
		} else if (!rcache_same_origin(have->origin, want->origin)) {
			DMERR("%s: cache %s holds %s, not %s", rcache_dm_name(rc),
			      rc->cache_dev->name, have->origin, want->origin);
			*error = "Cache device holds another origin (reset reformats)";
			r = -EINVAL;
		} else if (want->identity[0] && strcmp(have->identity, want->identity)) {
			DMERR("%s: cache %s holds %s version %s, origin is now %s",
			      rcache_dm_name(rc), rc->cache_dev->name, have->origin,
			      have->identity, want->identity);
			*error = "Origin changed since the cache was filled (reset starts over)";
			r = -EINVAL;
		} else if (have->nr_blocks != want->nr_blocks ||
			   have->origin_size != want->origin_size) {
			*error = "Origin size differs from the cached one (reset starts over)";
			r = -EINVAL;
		}
		if (r)
			goto out;
		md->format_id = have->format_id;
		/* a table without an identity checks against the recorded one */
		if (!rc->identity && have->identity[0]) {
			rc->identity = kstrdup(have->identity, GFP_KERNEL);
			if (!rc->identity) {
				*error = "Cannot allocate the origin identity";
				r = -ENOMEM;
				goto out;
			}
		}
		if (!defer_load)
			r = rcache_md_load(rc, error);
		goto out;
	}
	r = rcache_md_format(rc, want, block);
	if (r)
		*error = "Cannot format the cache device";
	else
		md->loaded = true;	/* empty, as the slot map is */
out:
	kfree(block);
	kfree(have);
	kfree(want);
	return r;
}

void rcache_md_close(struct rcache *rc)
{
	struct rcache_md *md = &rc->mdata;

	if (md->io)
		dm_io_client_destroy(md->io);
	kvfree(md->spare);
	kfree(md->spare_pages);
	kvfree(md->release);
	kfree(md->entries);
}

/* Called with rc->lock held when slot @slot's entry changes. */
void rcache_md_dirty_slot(struct rcache *rc, u32 slot)
{
	struct rcache_md *md = &rc->mdata;
	u64 word = rcache_md_dirty_word(md->md_pages, slot / RCACHE_MD_ENTRIES_PER_PAGE);

	if (!rcache_md_bit(rc->map, word)) {
		rcache_md_bit_assign(rc->map, word, true);
		md->nr_dirty++;
	}
}

/* Flushes the cache device, then writes the pass's pages to their other copy. */
static int rcache_md_write_pass(struct rcache *rc, void *buf, const struct rcache_md_pass *pass)
{
	unsigned int i, copy;
	int r;

	/* data first: every block valid in the snapshot is durable after this */
	r = blkdev_issue_flush(rc->cache_dev->bdev);
	for (i = 0; i < pass->nr && !r; i++) {
		u64 word = rcache_md_copy_word(pass->pages[i]);

		copy = !rcache_md_bit(rc->map, word);
		r = rcache_md_io(rc, REQ_OP_WRITE | REQ_FUA, buf + i * RCACHE_MD_PAGE_SIZE,
				 rcache_md_page_offset(rc, pass->pages[i], copy),
				 RCACHE_MD_PAGE_SIZE);
		if (!r) {
			spin_lock_irq(&rc->lock);
			rcache_md_bit_assign(rc->map, word, copy);
			spin_unlock_irq(&rc->lock);
		}
	}
	return r;
}

/*
 * Slots whose empty entries are durable: reusable once the hits that could
 * still read them ended (dm-rcache.h: hits and slot reuse).
 */
static void rcache_md_release(struct rcache *rc, const u32 *slots, unsigned int n)
{
	unsigned int i;
	bool waiters;

	synchronize_srcu_expedited(&rc->hit_srcu);
	spin_lock_irq(&rc->lock);
	for (i = 0; i < n; i++)
		rcache_policy_release(&rc->policy, slots[i]);
	waiters = !list_empty(&rc->slot_waiters);
	spin_unlock_irq(&rc->lock);
	/* a periodic or flush commit: the worker hands the slots out */
	if (waiters)
		queue_work(rc->wq, &rc->worker);
}

/*
 * One commit, in passes: each snapshots the entries of as many dirty pages
 * as its buffer holds, from where the last pass stopped, flushes, writes
 * them, and releases the freed slots of those pages.  One sweep over the
 * pages writes every page that was dirty when the commit began.
 */
static int rcache_md_commit_locked(struct rcache *rc)
{
	struct rcache_md *md = &rc->mdata;
	u64 cursor = 0, written = 0, want, k;
	unsigned int i;
	int r = 0;

	while (cursor < md->md_pages && !r) {
		struct rcache_md_pass pass = { .release = md->release };
		void *big = NULL, *buf = md->spare;
		u64 *big_pages = NULL;

		want = READ_ONCE(md->nr_dirty);
		if (!want)
			break;
		pass.pages = md->spare_pages;
		pass.cap = RCACHE_MD_SPARE_PAGES;
		if (want > RCACHE_MD_SPARE_PAGES) {
			const gfp_t gfp = GFP_NOIO | __GFP_NOWARN;

			big = __vmalloc(want * RCACHE_MD_PAGE_SIZE, gfp);
			big_pages = kmalloc_array(want, sizeof(*big_pages), gfp);
			if (big && big_pages) {
				buf = big;
				pass.pages = big_pages;
				pass.cap = want;
			}
		}

		spin_lock_irq(&rc->lock);
		rcache_md_plan_pass(rc->map, md->md_pages, &cursor, &md->nr_dirty, rc->freeing,
				    &rc->nr_freeing_list, &pass);
		spin_unlock_irq(&rc->lock);
		/*
		 * A page at a time under the lock, encoded and checksummed
		 * outside it.  The pages need not be one snapshot: an entry
		 * that changes after its page was copied dirties the page
		 * again, a slot freed after the plan is not released by this
		 * pass, and a fill recorded valid completed before the flush
		 * that precedes the writes.
		 */
		for (i = 0; i < pass.nr; i++) {
			const unsigned int epp = RCACHE_MD_ENTRIES_PER_PAGE;
			u64 first = pass.pages[i] * epp;

			spin_lock_irq(&rc->lock);
			for (k = 0; k < epp; k++)
				md->entries[k] = first + k < rc->geo.nr_slots ?
					rcache_policy_entry(&rc->policy, first + k) : 0;
			spin_unlock_irq(&rc->lock);
			rcache_md_page_encode(buf + i * RCACHE_MD_PAGE_SIZE, md->format_id, md->seq,
					      pass.pages[i], md->entries, epp);
			cond_resched();
		}
		if (pass.nr)
			md->seq++;

		if (pass.nr)
			r = rcache_md_write_pass(rc, buf, &pass);
		vfree(big);
		kfree(big_pages);
		if (r)
			break;
		written += pass.nr;
		if (pass.nr_release)
			rcache_md_release(rc, pass.release, pass.nr_release);
	}
	if (written)
		md->commits++;
	if (r) {
		unsigned int noio;

		md->failed = true;
		DMERR("%s: metadata commit to %s failed (%d): device fails misses from now on",
		      rcache_dm_name(rc), rc->cache_dev->name, r);
		/* the cache device is failing: reclaim must not write to it */
		noio = memalloc_noio_save();
		rcache_set_state(rc, RCACHE_STATE_FAILED,
				 "metadata write to the cache device failed");
		memalloc_noio_restore(noio);
		queue_work(rc->wq, &rc->worker);	/* fails the fetches waiting for slots */
	}
	return r;
}

/*
 * Writes the dirty pages.  Returns 0 (also when nothing changed: then
 * nothing is written), or the error that moved the device to failed mode.
 * A table that has not loaded the metadata, or that handed it over to a
 * reloaded one, writes nothing.
 */
int rcache_md_commit(struct rcache *rc)
{
	struct rcache_md *md = &rc->mdata;
	int r = 0;

	mutex_lock(&md->commit_lock);
	if (md->failed)
		r = -EIO;
	else if (md->loaded && !md->superseded)
		r = rcache_md_commit_locked(rc);
	mutex_unlock(&md->commit_lock);
	return r;
}

/*
 * A table reloaded over this one is about to load the metadata: commit what
 * changed since the suspend, then never write the metadata again.
 */
void rcache_md_hand_over(struct rcache *rc)
{
	struct rcache_md *md = &rc->mdata;

	mutex_lock(&md->commit_lock);
	if (!md->failed && md->loaded && !md->superseded)
		rcache_md_commit_locked(rc);
	md->superseded = true;
	mutex_unlock(&md->commit_lock);
}
