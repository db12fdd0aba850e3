// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit suite "rcache_policy": slot allocation and the scan-resistant
 * eviction policy (dm-rcache-policy.c), driven as the target drives it.
 */
#include <kunit/test.h>
#include <linux/slab.h>

#include "dm-rcache.h"

struct rcache_kunit_cache {
	struct rcache_policy p;
	atomic_t *map, *rmap;
};

static struct rcache_kunit_cache *rcache_kunit_cache(struct kunit *test, u64 blocks, u64 slots)
{
	struct rcache_kunit_cache *c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, c);
	c->map = kunit_kcalloc(test, blocks, sizeof(atomic_t), GFP_KERNEL);
	c->rmap = kunit_kcalloc(test, slots, sizeof(atomic_t), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, c->map);
	KUNIT_ASSERT_NOT_NULL(test, c->rmap);
	rcache_policy_init(&c->p, c->map, c->rmap, blocks, slots);
	return c;
}

static bool cached(struct rcache_kunit_cache *c, u32 b)
{
	return atomic_read(&c->map[b]) & RCACHE_MAP_VALID;
}

/* A read of @b: a hit (returns true), or a fill that evicts a slot when none is free. */
static bool rcache_kunit_read(struct rcache_kunit_cache *c, u32 b)
{
	u32 w = atomic_read(&c->map[b]), slot, victim;

	if (w & RCACHE_MAP_VALID) {
		rcache_policy_hit(&c->p, rcache_map_slot(w));
		return true;
	}
	slot = rcache_policy_alloc(&c->p, b);
	if (slot == RCACHE_NO_SLOT) {
		/* the target commits before reusing; here that is immediate */
		while (!rcache_policy_evict(&c->p, 1, &victim, 4 * c->p.nr_slots))
			;
		rcache_policy_release(&c->p, victim);
		slot = rcache_policy_alloc(&c->p, b);
	}
	rcache_policy_filled(&c->p, slot, b, false);
	return false;
}

static void rcache_policy_alloc_fill(struct kunit *test)
{
	struct rcache_kunit_cache *c = rcache_kunit_cache(test, 100, 10);
	u32 s, slots[10];
	int i;

	KUNIT_EXPECT_EQ(test, c->p.nr_free, 10ULL);
	for (i = 0; i < 10; i++) {
		slots[i] = rcache_policy_alloc(&c->p, i * 7);
		KUNIT_ASSERT_NE(test, slots[i], RCACHE_NO_SLOT);
	}
	KUNIT_EXPECT_EQ(test, rcache_policy_alloc(&c->p, 99), RCACHE_NO_SLOT);
	/* a slot being filled is not valid, and never a victim */
	KUNIT_EXPECT_FALSE(test, cached(c, 0));
	KUNIT_EXPECT_EQ(test, rcache_policy_evict(&c->p, 1, &s, 100), 0U);
	rcache_policy_filled(&c->p, slots[0], 0, false);
	KUNIT_EXPECT_TRUE(test, cached(c, 0));
	KUNIT_EXPECT_EQ(test, rcache_map_slot(atomic_read(&c->map[0])), slots[0]);
	KUNIT_EXPECT_EQ(test, rcache_policy_entry(&c->p, slots[0]), 1U);
	/* a failed fill gives its slot back at once */
	rcache_policy_fill_failed(&c->p, slots[1]);
	KUNIT_EXPECT_EQ(test, rcache_policy_alloc(&c->p, 98), slots[1]);
}

static void rcache_policy_invalidate_release(struct kunit *test)
{
	struct rcache_kunit_cache *c = rcache_kunit_cache(test, 20, 4);
	u32 s = rcache_policy_alloc(&c->p, 5);

	rcache_policy_filled(&c->p, s, 5, true);
	KUNIT_EXPECT_EQ(test, rcache_policy_invalidate(&c->p, 5), s);
	KUNIT_EXPECT_FALSE(test, cached(c, 5));
	KUNIT_EXPECT_EQ(test, c->p.prefetch_wasted, 1ULL);	/* prefetched, never read */
	/* noted for the stream detector */
	KUNIT_EXPECT_EQ(test, c->p.nr_wasted_notes, 1U);
	KUNIT_EXPECT_EQ(test, c->p.wasted_notes[0], 5U);
	KUNIT_EXPECT_EQ(test, rcache_policy_entry(&c->p, s), 0U);
	/* FREEING is not free: not before the commit and the drain */
	KUNIT_EXPECT_EQ(test, c->p.nr_free, 3ULL);
	rcache_policy_release(&c->p, s);
	KUNIT_EXPECT_EQ(test, c->p.nr_free, 4ULL);
	KUNIT_EXPECT_EQ(test, rcache_policy_invalidate(&c->p, 5), RCACHE_NO_SLOT);
}

/* Unreferenced probation goes first; a referenced block gets promoted. */
static void rcache_policy_victim_order(struct kunit *test)
{
	struct rcache_kunit_cache *c = rcache_kunit_cache(test, 100, 8);
	u32 v[8];
	int i;

	for (i = 0; i < 8; i++)
		rcache_kunit_read(c, i);
	/* next fill epoch: hits now count as re-references */
	WRITE_ONCE(c->p.epoch, c->p.epoch + 1);
	rcache_kunit_read(c, 3);
	rcache_kunit_read(c, 6);
	KUNIT_ASSERT_EQ(test, rcache_policy_evict(&c->p, 6, v, 64), 6U);
	for (i = 0; i < 6; i++)
		KUNIT_EXPECT_TRUE(test, v[i] != rcache_map_slot(atomic_read(&c->map[3])) &&
				  v[i] != rcache_map_slot(atomic_read(&c->map[6])));
	KUNIT_EXPECT_TRUE(test, cached(c, 3));
	KUNIT_EXPECT_TRUE(test, cached(c, 6));
	/* one turn of the hand over the two left: both promoted, no victim */
	KUNIT_EXPECT_EQ(test, rcache_policy_evict(&c->p, 1, v, 8), 0U);
	KUNIT_EXPECT_EQ(test, c->p.promotions, 2ULL);
	/* evicted from probation: a ghost, admitted straight to protected */
	KUNIT_EXPECT_TRUE(test, atomic_read(&c->map[0]) & RCACHE_MAP_GHOST);
}

/* A plain LRU of @slots blocks, the control the SLRU must beat. */
struct rcache_kunit_lru {
	u64 *stamp;			/* per block: last use, 0 when not cached */
	u32 *slot_block;
	u32 slots, used;
	u64 clock;
};

static bool rcache_kunit_lru_read(struct rcache_kunit_lru *l, u32 b)
{
	u32 i, oldest = 0;

	l->clock++;
	if (l->stamp[b]) {
		l->stamp[b] = l->clock;
		return true;
	}
	if (l->used < l->slots) {
		l->slot_block[l->used++] = b;
	} else {
		for (i = 1; i < l->slots; i++)
			if (l->stamp[l->slot_block[i]] < l->stamp[l->slot_block[oldest]])
				oldest = i;
		l->stamp[l->slot_block[oldest]] = 0;
		l->slot_block[oldest] = b;
	}
	l->stamp[b] = l->clock;
	return false;
}

/*
 * The scan-resistance property: a hot set read again and again keeps its
 * place while one sequential pass over eight times the cache goes by, with
 * more than a cache-full of scanned blocks between two reads of the hot set
 * (a plain LRU loses the whole hot set each time; it is run alongside).
 */
static void rcache_policy_scan_resistance(struct kunit *test)
{
	const u32 blocks = 8000, slots = 1000, hot = 100, chunk = 1200;
	struct rcache_kunit_cache *c = rcache_kunit_cache(test, blocks, slots);
	struct rcache_kunit_lru lru = { .slots = slots };
	u32 b, i, reads = 0, hits = 0, lru_hits = 0;

	lru.stamp = kunit_kcalloc(test, blocks, sizeof(*lru.stamp), GFP_KERNEL);
	lru.slot_block = kunit_kcalloc(test, slots, sizeof(*lru.slot_block), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, lru.stamp);
	KUNIT_ASSERT_NOT_NULL(test, lru.slot_block);
	for (i = 0; i < 5; i++) {
		for (b = 0; b < hot; b++) {
			rcache_kunit_read(c, b * 37 % blocks);
			rcache_kunit_lru_read(&lru, b * 37 % blocks);
		}
		/* time passes: the next reads are re-references */
		WRITE_ONCE(c->p.epoch, c->p.epoch + 1);
	}
	for (b = 0; b < blocks; b++) {
		rcache_kunit_read(c, b);
		rcache_kunit_lru_read(&lru, b);
		if (b % chunk != chunk - 1)
			continue;
		/* a chunk larger than the cache went by: the hot set again */
		for (i = 0; i < hot; i++) {
			reads++;
			hits += rcache_kunit_read(c, i * 37 % blocks);
			lru_hits += rcache_kunit_lru_read(&lru, i * 37 % blocks);
		}
	}
	kunit_info(test, "hot set hits during the scan: %u of %u (plain LRU: %u)",
		   hits, reads, lru_hits);
	KUNIT_EXPECT_EQ(test, reads, hot * (blocks / chunk));
	KUNIT_EXPECT_GE(test, hits, reads * 9 / 10);
	KUNIT_EXPECT_LE(test, lru_hits, reads / 4);	/* the pattern does tell them apart */
	KUNIT_EXPECT_GE(test, c->p.evictions, (u64)(blocks - slots));
}

/*
 * A loop over 1.25 times the cache, three passes: after the first, each
 * pass hits at least 90% of the optimum (cache / loop).  An LRU, and the
 * CLOCK before fills entered cold, hit nothing: each fill evicts the block
 * the loop reads next.
 */
static void rcache_policy_loop(struct kunit *test)
{
	const u32 slots = 2000, loop = 2500, passes = 3;
	struct rcache_kunit_cache *c = rcache_kunit_cache(test, loop + 100, slots);
	struct rcache_kunit_lru lru = { .slots = slots };
	u32 b, pass, hits, lru_hits;

	lru.stamp = kunit_kcalloc(test, loop, sizeof(*lru.stamp), GFP_KERNEL);
	lru.slot_block = kunit_kcalloc(test, slots, sizeof(*lru.slot_block), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, lru.stamp);
	KUNIT_ASSERT_NOT_NULL(test, lru.slot_block);
	for (pass = 1; pass <= passes; pass++) {
		hits = 0;
		lru_hits = 0;
		for (b = 0; b < loop; b++) {
			hits += rcache_kunit_read(c, b);
			lru_hits += rcache_kunit_lru_read(&lru, b);
		}
		kunit_info(test, "pass %u: %u hits of %u (optimum %u, LRU %u)",
			   pass, hits, loop, slots, lru_hits);
		if (pass > 1) {
			KUNIT_EXPECT_GE(test, hits, slots * 9 / 10);
			KUNIT_EXPECT_EQ(test, lru_hits, 0U);
		}
	}
}

/* Storing a map word keeps the metadata page bit that shares it. */
static void rcache_policy_map_keeps_md_bit(struct kunit *test)
{
	struct rcache_kunit_cache *c = rcache_kunit_cache(test, 20, 4);
	u32 s;

	rcache_md_bit_assign(c->map, 5, true);
	s = rcache_policy_alloc(&c->p, 5);
	rcache_policy_filled(&c->p, s, 5, false);
	KUNIT_EXPECT_TRUE(test, rcache_md_bit(c->map, 5));
	KUNIT_EXPECT_EQ(test, rcache_map_slot(atomic_read(&c->map[5])), s);
	KUNIT_EXPECT_EQ(test, rcache_policy_invalidate(&c->p, 5), s);
	KUNIT_EXPECT_TRUE(test, rcache_md_bit(c->map, 5));
	KUNIT_EXPECT_FALSE(test, atomic_read(&c->map[5]) & RCACHE_MAP_VALID);
	rcache_md_bit_assign(c->map, 5, false);
	KUNIT_EXPECT_EQ(test, atomic_read(&c->map[5]), 0);
}

/* A reserved slot is never handed out, whether it was free or valid. */
static void rcache_policy_reserve_slots(struct kunit *test)
{
	struct rcache_kunit_cache *c = rcache_kunit_cache(test, 20, 4);
	u32 s0, s1, s;
	int i;

	s0 = rcache_policy_alloc(&c->p, 3);
	rcache_policy_filled(&c->p, s0, 3, false);
	s1 = rcache_policy_alloc(&c->p, 4);
	rcache_policy_fill_failed(&c->p, s1);	/* free again, on the free stack */
	KUNIT_EXPECT_EQ(test, rcache_policy_reserve(&c->p, s0), 3U);
	KUNIT_EXPECT_FALSE(test, cached(c, 3));
	KUNIT_EXPECT_EQ(test, rcache_policy_entry(&c->p, s0), 0U);
	KUNIT_EXPECT_EQ(test, rcache_policy_reserve(&c->p, s1), RCACHE_NO_SLOT);
	KUNIT_EXPECT_EQ(test, c->p.nr_reserved, 2ULL);
	KUNIT_EXPECT_EQ(test, c->p.nr_free, 2ULL);
	for (i = 0; i < 2; i++) {
		s = rcache_policy_alloc(&c->p, 10 + i);
		KUNIT_EXPECT_TRUE(test, s != s0 && s != s1 && s != RCACHE_NO_SLOT);
		rcache_policy_filled(&c->p, s, 10 + i, false);
	}
	KUNIT_EXPECT_EQ(test, rcache_policy_alloc(&c->p, 12), RCACHE_NO_SLOT);
	/* a commit's release does not free them either */
	rcache_policy_release(&c->p, s0);
	KUNIT_EXPECT_EQ(test, rcache_policy_alloc(&c->p, 12), RCACHE_NO_SLOT);
}

/*
 * A commit pass releases a freed slot only when it writes the slot's page,
 * also when a page before it got dirty after the commit counted the dirty
 * pages and the pass has room for fewer pages than are dirty (the pass then
 * covers a prefix of the pages; the rest go in the next pass).
 */
static void rcache_policy_commit_pass_releases_written(struct kunit *test)
{
	const u64 md_pages = 8, epp = RCACHE_MD_ENTRIES_PER_PAGE;
	atomic_t *map = kunit_kcalloc(test, 2 * md_pages, sizeof(*map), GFP_KERNEL);
	u64 pages[2], cursor = 0, nr_dirty = 0, written = 0;
	u32 freeing[4], release[4];
	unsigned int nr_freeing = 0, i, k;
	struct rcache_md_pass pass = { .pages = pages, .cap = 2, .release = release };
	u64 dirty_pages[] = { 3, 5, 6 };

	KUNIT_ASSERT_NOT_NULL(test, map);
	for (i = 0; i < ARRAY_SIZE(dirty_pages); i++) {
		rcache_md_bit_assign(map, rcache_md_dirty_word(md_pages, dirty_pages[i]), true);
		nr_dirty++;
	}
	/* freed slots on pages 3 and 6: their pages are dirty since */
	freeing[nr_freeing++] = 6 * epp + 1;
	freeing[nr_freeing++] = 3 * epp + 7;
	/* the commit counted 3 dirty pages; now page 1 gets dirty too */
	rcache_md_bit_assign(map, rcache_md_dirty_word(md_pages, 1), true);
	nr_dirty++;

	while (cursor < md_pages) {
		rcache_md_plan_pass(map, md_pages, &cursor, &nr_dirty, freeing, &nr_freeing, &pass);
		for (i = 0; i < pass.nr_release; i++) {
			bool in = false;

			for (k = 0; k < pass.nr; k++)
				in |= pass.pages[k] == release[i] / epp;
			KUNIT_EXPECT_TRUE_MSG(test, in, "slot %u released, page %llu not written",
					      release[i], release[i] / epp);
		}
		for (k = 0; k < pass.nr; k++) {
			u64 word = rcache_md_dirty_word(md_pages, pass.pages[k]);

			KUNIT_EXPECT_FALSE(test, rcache_md_bit(map, word));
		}
		written += pass.nr;
		if (pass.nr == 0)
			break;
	}
	/* one sweep wrote every dirty page and released both slots */
	KUNIT_EXPECT_EQ(test, written, 4ULL);
	KUNIT_EXPECT_EQ(test, nr_dirty, 0ULL);
	KUNIT_EXPECT_EQ(test, nr_freeing, 0U);

	/* a page dirtied behind the cursor waits, with its freed slot */
	cursor = 4;
	rcache_md_bit_assign(map, rcache_md_dirty_word(md_pages, 2), true);
	nr_dirty = 1;
	freeing[0] = 2 * epp;
	nr_freeing = 1;
	rcache_md_plan_pass(map, md_pages, &cursor, &nr_dirty, freeing, &nr_freeing, &pass);
	KUNIT_EXPECT_EQ(test, pass.nr, 0U);
	KUNIT_EXPECT_EQ(test, pass.nr_release, 0U);
	KUNIT_EXPECT_EQ(test, nr_freeing, 1U);
	KUNIT_EXPECT_EQ(test, cursor, md_pages);
}

/*
 * Forward progress: every slot of a large cache valid and referenced, and
 * re-referenced after every call (a hot set read as fast as the hand
 * clears it).  Calls bounded as the worker bounds them (65536 slots) find
 * a victim within three turns of the hand; before, the protected segment
 * kept its slots for good and every call came back empty.
 */
static void rcache_policy_evict_progress(struct kunit *test)
{
	const u32 slots = 200000, steps = 65536;
	struct rcache_kunit_cache *c = rcache_kunit_cache(test, slots + 100, slots);
	unsigned int calls, max_calls = 3 * slots / steps + 2;
	u32 s, b, victim = RCACHE_NO_SLOT;

	for (b = 0; b < slots; b++) {
		s = rcache_policy_alloc(&c->p, b);
		KUNIT_ASSERT_NE(test, s, RCACHE_NO_SLOT);
		rcache_policy_filled(&c->p, s, b, false);
	}
	for (calls = 0; calls < max_calls && victim == RCACHE_NO_SLOT; calls++) {
		for (s = 0; s < slots; s++)
			atomic_or(RCACHE_RMAP_REF, &c->rmap[s]);
		rcache_policy_evict(&c->p, 1, &victim, steps);
	}
	kunit_info(test, "first victim after %u calls of %u slots", calls, steps);
	KUNIT_EXPECT_NE(test, victim, RCACHE_NO_SLOT);
	KUNIT_EXPECT_EQ(test, c->p.nr_valid, (u64)slots - 1);
}

/*
 * A slot whose cache write failed is retired: never handed out again, not
 * by a release either, recorded RETIRED, and loaded back retired.
 */
static void rcache_policy_retired_slot(struct kunit *test)
{
	struct rcache_kunit_cache *c = rcache_kunit_cache(test, 20, 4);
	struct rcache_kunit_cache *d = rcache_kunit_cache(test, 20, 4);
	u32 bad, s;
	int i;

	bad = rcache_policy_alloc(&c->p, 7);
	rcache_policy_retire(&c->p, bad);
	KUNIT_EXPECT_EQ(test, c->p.nr_retired, 1ULL);
	KUNIT_EXPECT_EQ(test, c->p.nr_free, 3ULL);
	KUNIT_EXPECT_EQ(test, rcache_policy_entry(&c->p, bad), RCACHE_MD_ENTRY_RETIRED);
	KUNIT_EXPECT_FALSE(test, cached(c, 7));
	rcache_policy_release(&c->p, bad);
	KUNIT_EXPECT_EQ(test, rcache_policy_reserve(&c->p, bad), RCACHE_NO_SLOT);
	KUNIT_EXPECT_EQ(test, c->p.nr_reserved, 0ULL);
	/* the other three slots serve every later miss; the retired one none */
	for (i = 0; i < 12; i++) {
		KUNIT_EXPECT_FALSE(test, rcache_kunit_read(c, 8 + i));
		KUNIT_EXPECT_NE(test, rcache_map_slot(atomic_read(&c->map[8 + i])), bad);
	}
	KUNIT_EXPECT_EQ(test, rcache_policy_entry(&c->p, bad), RCACHE_MD_ENTRY_RETIRED);
	/* what the metadata says, loaded into a new map */
	rcache_policy_load_retired(&d->p, bad);
	KUNIT_EXPECT_EQ(test, d->p.nr_free, 3ULL);
	KUNIT_EXPECT_EQ(test, d->p.nr_retired, 1ULL);
	for (i = 0; i < 3; i++) {
		s = rcache_policy_alloc(&d->p, i);
		KUNIT_EXPECT_TRUE(test, s != bad && s != RCACHE_NO_SLOT);
	}
	KUNIT_EXPECT_EQ(test, rcache_policy_alloc(&d->p, 5), RCACHE_NO_SLOT);
	KUNIT_EXPECT_EQ(test, rcache_policy_entry(&d->p, bad), RCACHE_MD_ENTRY_RETIRED);
}

/*
 * A duplicate dropped while loading is FREEING: empty in the next commit,
 * and handed out only after the commit released it.
 */
static void rcache_policy_load_freeing_waits(struct kunit *test)
{
	struct rcache_kunit_cache *c = rcache_kunit_cache(test, 20, 2);

	rcache_policy_load(&c->p, 0, 5);
	rcache_policy_load_freeing(&c->p, 1);
	KUNIT_EXPECT_EQ(test, rcache_policy_entry(&c->p, 1), 0U);
	KUNIT_EXPECT_EQ(test, c->p.nr_free, 0ULL);
	KUNIT_EXPECT_EQ(test, rcache_policy_alloc(&c->p, 6), RCACHE_NO_SLOT);
	rcache_policy_release(&c->p, 1);
	KUNIT_EXPECT_EQ(test, rcache_policy_alloc(&c->p, 6), 1U);
	/* a loaded block's first hit counts: it was filled in an earlier life */
	rcache_policy_hit(&c->p, 0);
	KUNIT_EXPECT_TRUE(test, atomic_read(&c->rmap[0]) & RCACHE_RMAP_REF);
}

static struct kunit_case rcache_policy_cases[] = {
	KUNIT_CASE(rcache_policy_evict_progress),
	KUNIT_CASE(rcache_policy_retired_slot),
	KUNIT_CASE(rcache_policy_load_freeing_waits),
	KUNIT_CASE(rcache_policy_alloc_fill),
	KUNIT_CASE(rcache_policy_invalidate_release),
	KUNIT_CASE(rcache_policy_victim_order),
	KUNIT_CASE(rcache_policy_scan_resistance),
	KUNIT_CASE(rcache_policy_loop),
	KUNIT_CASE(rcache_policy_map_keeps_md_bit),
	KUNIT_CASE(rcache_policy_reserve_slots),
	KUNIT_CASE(rcache_policy_commit_pass_releases_written),
	{}
};

static struct kunit_suite rcache_policy_suite = {
	.name = "rcache_policy",
	.test_cases = rcache_policy_cases,
};

kunit_test_suite(rcache_policy_suite);

MODULE_LICENSE("GPL");
