// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-rcache persistent metadata: format, load and commit.
 *
 * A block becomes valid on disk only after its data is durable: a commit
 * snapshots the slot entries of the dirty metadata pages, flushes the cache
 * device (the daemon's O_DIRECT writes of every block valid in the snapshot
 * completed before it became valid), and then writes each page with FUA to
 * the copy that is not current.  A torn page leaves the other copy, a
 * consistent earlier state.  A slot is reused for another block only after a
 * commit recorded it empty, so an entry never points at another block's
 * data.  A lost commit only costs refetches.
 */
#include <linux/blkdev.h>
#include <linux/delay.h>
#include <linux/dm-io.h>
#include <linux/random.h>
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
			__set_bit(index, md->cur_copy);
		return 0;
	}
	if (c)
		__set_bit(index, md->cur_copy);
	md->seq = max(md->seq, seq[c] + 1);
	for (j = 0; j < RCACHE_MD_ENTRIES_PER_PAGE; j++) {
		u64 slot = index * RCACHE_MD_ENTRIES_PER_PAGE + j;
		u32 e = rcache_md_page_entry(copies[c], j);

		if (!e)
			continue;
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
		 * first, free this one, and let the next commit say so.
		 */
		if (atomic_read(&rc->map[e - 1]) & RCACHE_MAP_VALID) {
			DMWARN("%s: block %u in two slots (a commit cut short): slot %llu freed",
			       rcache_dm_name(rc), e - 1, slot);
			rcache_md_dirty_slot(rc, slot);
			continue;
		}
		rcache_policy_load(&rc->policy, slot, e - 1);
		(*loaded)++;
	}
	return 0;
}

/* Reads both copies of every page and rebuilds the slot map. */
static int rcache_md_load(struct rcache *rc, char **error)
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
 * loads what it holds.
 */
int rcache_md_open(struct rcache *rc, const struct rcache_args *args, u64 cache_bytes,
		   char **error)
{
	struct rcache_md *md = &rc->mdata;
	struct rcache_sb_info *want, *have;
	void *block;
	int r;

	mutex_init(&md->commit_lock);
	md->md_pages = rc->geo.md_pages;
	md->dirty = bitmap_zalloc(md->md_pages, GFP_KERNEL);
	md->cur_copy = bitmap_zalloc(md->md_pages, GFP_KERNEL);
	md->io = dm_io_client_create();
	want = kzalloc(sizeof(*want), GFP_KERNEL);
	have = kzalloc(sizeof(*have), GFP_KERNEL);
	block = kmalloc(RCACHE_SB_SIZE, GFP_KERNEL);
	if (!md->dirty || !md->cur_copy || IS_ERR_OR_NULL(md->io) || !want || !have || !block) {
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
	if (r == -ENODATA || (r && args->reset)) {
		r = rcache_md_format(rc, want, block);
		if (r)
			*error = "Cannot format the cache device";
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
		r = rcache_md_load(rc, error);
		goto out;
	}
	r = rcache_md_format(rc, want, block);
	if (r)
		*error = "Cannot format the cache device";
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
	bitmap_free(md->dirty);
	bitmap_free(md->cur_copy);
}

/* Called with rc->lock held when slot @slot's entry changes. */
void rcache_md_dirty_slot(struct rcache *rc, u32 slot)
{
	u64 page = slot / RCACHE_MD_ENTRIES_PER_PAGE;

	if (!__test_and_set_bit(page, rc->mdata.dirty))
		rc->mdata.nr_dirty++;
}

/*
 * Writes the dirty pages.  Returns 0 (also when nothing changed: then
 * nothing is written), or the error that moved the device to failed mode.
 */
int rcache_md_commit(struct rcache *rc)
{
	struct rcache_md *md = &rc->mdata;
	u32 *entries = NULL;
	u64 *pages = NULL, nr = 0, i, j, seq;
	u32 *release = NULL;
	unsigned int nr_release = 0;
	bool waiters;
	void *buf = NULL;
	int r = 0;

	mutex_lock(&md->commit_lock);
	if (md->failed) {
		r = -EIO;
		goto unlock;
	}
	if (!READ_ONCE(md->nr_dirty) && !READ_ONCE(rc->nr_freeing_list))
		goto unlock;

	/* snapshot the dirty pages and the slots waiting for this commit */
	spin_lock(&rc->lock);
	nr = md->nr_dirty;
	nr_release = rc->nr_freeing_list;
	spin_unlock(&rc->lock);
	pages = kvmalloc_array(max_t(u64, nr, 1), sizeof(*pages), GFP_NOIO);
	buf = vmalloc(max_t(u64, nr, 1) * RCACHE_MD_PAGE_SIZE);
	release = kvmalloc_array(max(nr_release, 1U), sizeof(*release), GFP_NOIO);
	entries = kmalloc_array(RCACHE_MD_ENTRIES_PER_PAGE, sizeof(*entries), GFP_NOIO);
	if (!pages || !buf || !release || !entries) {
		/* nothing taken from the dirty state yet: the next commit retries */
		r = -ENOMEM;
		goto free_bufs;
	}
	seq = md->seq++;
	spin_lock(&rc->lock);
	i = 0;
	for_each_set_bit(j, md->dirty, md->md_pages) {
		u64 first = j * RCACHE_MD_ENTRIES_PER_PAGE, k;

		if (i == nr)
			break;	/* dirtied since we counted: next commit */
		for (k = 0; k < RCACHE_MD_ENTRIES_PER_PAGE; k++)
			entries[k] = first + k < rc->geo.nr_slots ?
				rcache_policy_entry(&rc->policy, first + k) : 0;
		rcache_md_page_encode(buf + i * RCACHE_MD_PAGE_SIZE, md->format_id, seq, j,
				      entries, RCACHE_MD_ENTRIES_PER_PAGE);
		__clear_bit(j, md->dirty);
		pages[i++] = j;
	}
	nr = i;
	md->nr_dirty -= nr;
	nr_release = min(nr_release, rc->nr_freeing_list);
	memcpy(release, rc->freeing, nr_release * sizeof(*release));
	memmove(rc->freeing, rc->freeing + nr_release,
		(rc->nr_freeing_list - nr_release) * sizeof(*release));
	rc->nr_freeing_list -= nr_release;
	spin_unlock(&rc->lock);

	/* data first: every block valid in the snapshot is durable after this */
	if (nr)
		r = blkdev_issue_flush(rc->cache_dev->bdev);
	for (i = 0; i < nr && !r; i++) {
		unsigned int copy = !test_bit(pages[i], md->cur_copy);

		r = rcache_md_io(rc, REQ_OP_WRITE | REQ_FUA, buf + i * RCACHE_MD_PAGE_SIZE,
				 rcache_md_page_offset(rc, pages[i], copy),
				 RCACHE_MD_PAGE_SIZE);
		if (!r)
			change_bit(pages[i], md->cur_copy);
	}
	if (r)
		goto out;
	if (nr)
		md->commits++;
	/* empty entries are durable: once earlier hits drained, reuse the slots */
	if (nr_release) {
		unsigned int e = rc->hit_epoch & 1;
		int cpu;
		unsigned long sum;

		WRITE_ONCE(rc->hit_epoch, rc->hit_epoch + 1);
		smp_mb();	/* pairs with the barrier in rcache_hit_get() */
		for (;;) {
			sum = 0;
			for_each_possible_cpu(cpu)
				sum += *per_cpu_ptr(rc->hits_inflight[e], cpu);
			if (!sum)
				break;
			usleep_range(100, 1000);
		}
		spin_lock(&rc->lock);
		for (i = 0; i < nr_release; i++)
			rcache_policy_release(&rc->policy, release[i]);
		waiters = !list_empty(&rc->slot_waiters);
		spin_unlock(&rc->lock);
		nr_release = 0;
		/* a periodic or flush commit: the worker hands the slots out */
		if (waiters)
			queue_work(rc->wq, &rc->worker);
	}
out:
	if (r) {
		md->failed = true;
		DMERR("%s: metadata commit to %s failed (%d): device fails misses from now on",
		      rcache_dm_name(rc), rc->cache_dev->name, r);
		rcache_set_state(rc, RCACHE_STATE_FAILED,
				 "metadata write to the cache device failed");
		queue_work(rc->wq, &rc->worker);	/* fails the fetches waiting for slots */
	}
free_bufs:
	kvfree(pages);
	vfree(buf);
	kvfree(release);
	kfree(entries);
unlock:
	mutex_unlock(&md->commit_lock);
	return r;
}
