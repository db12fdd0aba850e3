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

/* A read of @b: a hit, or a fill that evicts one slot when none is free. */
static void rcache_kunit_read(struct rcache_kunit_cache *c, u32 b)
{
	u32 w = atomic_read(&c->map[b]), slot, victim;

	if (w & RCACHE_MAP_VALID) {
		rcache_policy_hit(&c->p, rcache_map_slot(w));
		return;
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
	KUNIT_EXPECT_EQ(test, c->p.promotions, 2ULL);
	/* evicted from probation: a ghost, admitted straight to protected */
	KUNIT_EXPECT_TRUE(test, atomic_read(&c->map[0]) & RCACHE_MAP_GHOST);
}

/*
 * The scan-resistance property: a hot set read again and again keeps its
 * place while one sequential pass over four times the cache goes by.
 */
static void rcache_policy_scan_resistance(struct kunit *test)
{
	const u32 blocks = 4000, slots = 1000, hot = 100;
	struct rcache_kunit_cache *c = rcache_kunit_cache(test, blocks, slots);
	u32 b, i, kept = 0;

	for (i = 0; i < 5; i++)
		for (b = 0; b < hot; b++)
			rcache_kunit_read(c, b * 37 % blocks);
	for (b = 0; b < blocks; b++) {
		rcache_kunit_read(c, b);
		if (b % 200 == 0)	/* the hot set keeps being read */
			for (i = 0; i < hot; i++)
				rcache_kunit_read(c, i * 37 % blocks);
	}
	for (i = 0; i < hot; i++)
		kept += cached(c, i * 37 % blocks);
	kunit_info(test, "hot set kept after the scan: %u of %u", kept, hot);
	KUNIT_EXPECT_GE(test, kept, hot * 9 / 10);
	KUNIT_EXPECT_GE(test, c->p.evictions, (u64)(blocks - slots));
}

static struct kunit_case rcache_policy_cases[] = {
	KUNIT_CASE(rcache_policy_alloc_fill),
	KUNIT_CASE(rcache_policy_invalidate_release),
	KUNIT_CASE(rcache_policy_victim_order),
	KUNIT_CASE(rcache_policy_scan_resistance),
	{}
};

static struct kunit_suite rcache_policy_suite = {
	.name = "rcache_policy",
	.test_cases = rcache_policy_cases,
};

kunit_test_suite(rcache_policy_suite);

MODULE_LICENSE("GPL");
