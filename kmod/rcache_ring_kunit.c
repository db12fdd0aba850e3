// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit suite "rcache_ring": the lock-free block rings of dm-rcache-ring.c
 * (the trace of first accesses, the prefetched blocks the hit path hands to
 * the prefetch work).
 */
#include <kunit/test.h>

#include "dm-rcache.h"

static void rcache_ring_fifo_and_full(struct kunit *test)
{
	struct rcache_ring r;
	u32 slots[8] = {}, v, i;

	rcache_ring_init(&r, slots, 8);
	KUNIT_EXPECT_FALSE(test, rcache_ring_pop(&r, &v));
	for (i = 0; i < 8; i++)
		KUNIT_EXPECT_TRUE(test, rcache_ring_push(&r, i * 10));
	/* full: refused, not overwritten */
	KUNIT_EXPECT_FALSE(test, rcache_ring_push(&r, 999));
	for (i = 0; i < 8; i++) {
		KUNIT_ASSERT_TRUE(test, rcache_ring_pop(&r, &v));
		KUNIT_EXPECT_EQ(test, v, i * 10);
	}
	KUNIT_EXPECT_FALSE(test, rcache_ring_pop(&r, &v));
	/* block 0 is a value like any other */
	KUNIT_EXPECT_TRUE(test, rcache_ring_push(&r, 0));
	KUNIT_EXPECT_TRUE(test, rcache_ring_pop(&r, &v));
	KUNIT_EXPECT_EQ(test, v, 0U);
}

/* Round and round: every slot read is free again for the writers. */
static void rcache_ring_wraps(struct kunit *test)
{
	struct rcache_ring r;
	u32 slots[4] = {}, v, i, next = 0;

	rcache_ring_init(&r, slots, 4);
	for (i = 0; i < 1000; i++) {
		KUNIT_ASSERT_TRUE(test, rcache_ring_push(&r, i));
		if (i % 3 == 2) {
			while (rcache_ring_pop(&r, &v))
				KUNIT_EXPECT_EQ(test, v, next++);
		}
	}
	while (rcache_ring_pop(&r, &v))
		KUNIT_EXPECT_EQ(test, v, next++);
	KUNIT_EXPECT_EQ(test, next, 1000U);
	for (i = 0; i < 4; i++)
		KUNIT_EXPECT_EQ(test, slots[i], 0U);	/* read slots are zeroed */
}

/* A slot claimed but not written yet stops the reader until it is written. */
static void rcache_ring_claimed_not_written(struct kunit *test)
{
	struct rcache_ring r;
	u32 slots[4] = {}, v;

	rcache_ring_init(&r, slots, 4);
	KUNIT_ASSERT_TRUE(test, rcache_ring_push(&r, 7));
	atomic_long_inc(&r.head);		/* a writer claimed slot 1... */
	KUNIT_ASSERT_TRUE(test, rcache_ring_push(&r, 9));
	KUNIT_ASSERT_TRUE(test, rcache_ring_pop(&r, &v));
	KUNIT_EXPECT_EQ(test, v, 7U);
	KUNIT_EXPECT_FALSE(test, rcache_ring_pop(&r, &v));
	KUNIT_EXPECT_FALSE(test, rcache_ring_pop(&r, &v));
	WRITE_ONCE(slots[1], 8 + 1);		/* ...and writes it now */
	KUNIT_ASSERT_TRUE(test, rcache_ring_pop(&r, &v));
	KUNIT_EXPECT_EQ(test, v, 8U);
	KUNIT_ASSERT_TRUE(test, rcache_ring_pop(&r, &v));
	KUNIT_EXPECT_EQ(test, v, 9U);
}

static struct kunit_case rcache_ring_cases[] = {
	KUNIT_CASE(rcache_ring_fifo_and_full),
	KUNIT_CASE(rcache_ring_wraps),
	KUNIT_CASE(rcache_ring_claimed_not_written),
	{}
};

static struct kunit_suite rcache_ring_suite = {
	.name = "rcache_ring",
	.test_cases = rcache_ring_cases,
};

kunit_test_suite(rcache_ring_suite);

MODULE_LICENSE("GPL");
