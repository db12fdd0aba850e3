// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit suite "rcache_prefetch": the sequential stream detector and its
 * readahead-like window (dm-rcache-prefetch.c).
 */
#include <kunit/test.h>
#include <linux/jiffies.h>

#include "dm-rcache.h"

/* Feeds @block (@waited: it waits for a prefetch); returns how many blocks were asked for. */
static u64 feed_w(struct rcache_streams *st, u64 block, unsigned long now, bool waited, u64 *from)
{
	u64 f = 0, t = 0;

	if (!rcache_streams_access(st, block, now, 1 << 20, waited, &f, &t))
		return 0;
	if (from)
		*from = f;
	return t - f;
}

static u64 feed(struct rcache_streams *st, u64 block, unsigned long now, u64 *from)
{
	return feed_w(st, block, now, false, from);
}

static void rcache_prefetch_detects_after_three(struct kunit *test)
{
	struct rcache_streams st;
	u64 from = 0;

	rcache_streams_init(&st, 64);
	KUNIT_EXPECT_EQ(test, feed(&st, 100, 1000, NULL), 0ULL);
	KUNIT_EXPECT_EQ(test, feed(&st, 101, 1000, NULL), 0ULL);
	KUNIT_EXPECT_EQ(test, feed(&st, 102, 1000, &from), 4ULL);	/* the first window */
	KUNIT_EXPECT_EQ(test, from, 103ULL);
	KUNIT_EXPECT_EQ(test, st.detected, 1ULL);
}

static void rcache_prefetch_window_ramps(struct kunit *test)
{
	struct rcache_streams st;
	u64 b, asked, last = 0, total = 0, ahead = 0, from;

	rcache_streams_init(&st, 32);
	for (b = 0; b < 400; b++) {
		asked = feed(&st, b, 1000, &from);
		if (!asked)
			continue;
		/* never asks twice for a block, never falls behind the reader */
		KUNIT_EXPECT_GE(test, from, max(ahead, b + 1));
		ahead = from + asked;
		KUNIT_EXPECT_GE(test, asked, last ? min(last, 16ULL) : 1ULL);
		KUNIT_EXPECT_LE(test, asked, 32ULL);
		last = asked;
		total += asked;
	}
	/* ramped to the maximum, kept ahead: everything after block 2 asked for */
	KUNIT_EXPECT_EQ(test, st.s[0].window, 32U);
	KUNIT_EXPECT_GE(test, ahead, 400ULL);
	KUNIT_EXPECT_EQ(test, total, ahead - 3);
}

/* The window grows fourfold while that fits the maximum, then doubles. */
static void rcache_prefetch_window_steps(struct kunit *test)
{
	struct rcache_streams st;
	u32 seen[8], n = 0;
	u64 b;

	rcache_streams_init(&st, 32);
	for (b = 0; b < 200 && n < ARRAY_SIZE(seen); b++) {
		feed(&st, b, 1000, NULL);
		if (st.s[0].detected && (!n || seen[n - 1] != st.s[0].window))
			seen[n++] = st.s[0].window;
	}
	KUNIT_ASSERT_EQ(test, n, 3U);
	KUNIT_EXPECT_EQ(test, seen[0], 4U);
	KUNIT_EXPECT_EQ(test, seen[1], 16U);
	KUNIT_EXPECT_EQ(test, seen[2], 32U);
	/* a maximum that is not a power of four: 4, 16, then capped at 48 */
	rcache_streams_init(&st, 48);
	for (b = 0; b < 200; b++)
		feed(&st, b, 1000, NULL);
	KUNIT_EXPECT_EQ(test, st.s[0].window, 48U);
}

/* What the budget cut off is asked for again, not skipped. */
static void rcache_prefetch_unissued_asked_again(struct kunit *test)
{
	struct rcache_streams st;
	u64 from = 0;

	rcache_streams_init(&st, 64);
	feed(&st, 10, 1000, NULL);
	feed(&st, 11, 1000, NULL);
	KUNIT_EXPECT_EQ(test, feed(&st, 12, 1000, &from), 4ULL);	/* 13..16 */
	/* only 13 could be issued */
	rcache_streams_unissued(&st, 17, 14);
	KUNIT_EXPECT_EQ(test, st.s[0].ahead, 14ULL);
	/* the next read asks again from 14 */
	KUNIT_EXPECT_GT(test, feed(&st, 13, 1000, &from), 0ULL);
	KUNIT_EXPECT_EQ(test, from, 14ULL);
	/* an unknown range changes nothing */
	rcache_streams_unissued(&st, 9999, 5000);
	KUNIT_EXPECT_GE(test, st.s[0].ahead, 15ULL);
}

static void rcache_prefetch_random_never(struct kunit *test)
{
	struct rcache_streams st;
	u64 x = 88172645463325252ULL, i, asked = 0;

	rcache_streams_init(&st, 64);
	for (i = 0; i < 10000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		asked += feed(&st, x % (1 << 20), 1000, NULL);
	}
	KUNIT_EXPECT_EQ(test, asked, 0ULL);
	KUNIT_EXPECT_EQ(test, st.detected, 0ULL);
}

static void rcache_prefetch_interleaved_streams(struct kunit *test)
{
	struct rcache_streams st;
	u64 i, s, asked[8] = {};

	rcache_streams_init(&st, 64);
	for (i = 0; i < 50; i++)
		for (s = 0; s < 8; s++)
			asked[s] += feed(&st, s * 100000 + i, 1000, NULL);
	KUNIT_EXPECT_EQ(test, st.detected, 8ULL);
	for (s = 0; s < 8; s++)
		KUNIT_EXPECT_GE(test, asked[s], 40ULL);
}

static void rcache_prefetch_tolerates_reorder_and_gaps(struct kunit *test)
{
	struct rcache_streams st;
	u64 seq[] = { 10, 11, 13, 12, 14, 17, 16, 18, 19, 22 };
	unsigned int i;

	rcache_streams_init(&st, 64);
	for (i = 0; i < ARRAY_SIZE(seq); i++)
		feed(&st, seq[i], 1000, NULL);
	KUNIT_EXPECT_EQ(test, st.detected, 1ULL);
	/* a jump far away is another stream */
	feed(&st, 5000, 1000, NULL);
	KUNIT_EXPECT_EQ(test, st.s[0].next, 23ULL);
}

static void rcache_prefetch_idle_and_max(struct kunit *test)
{
	struct rcache_streams st;

	rcache_streams_init(&st, 64);
	feed(&st, 0, 1000, NULL);
	feed(&st, 1, 1000, NULL);
	/* an idle stream is forgotten: the next access starts anew */
	KUNIT_EXPECT_EQ(test, feed(&st, 2, 1000 + 60 * HZ, NULL), 0ULL);
	KUNIT_EXPECT_EQ(test, st.detected, 0ULL);
	rcache_streams_set_max(&st, 2);
	feed(&st, 3, 1000 + 60 * HZ, NULL);
	KUNIT_EXPECT_EQ(test, feed(&st, 4, 1000 + 60 * HZ, NULL), 2ULL);
}

/* The next window goes out as the reader enters the newest one, not later. */
static void rcache_prefetch_tops_up_on_entering(struct kunit *test)
{
	struct rcache_streams st;
	u64 from = 0;

	rcache_streams_init(&st, 32);
	feed(&st, 0, 1000, NULL);
	feed(&st, 1, 1000, NULL);
	KUNIT_EXPECT_EQ(test, feed(&st, 2, 1000, &from), 4ULL);	/* 3..6 */
	/* the first read of 3 widens to 16 and asks for 7..19 at once */
	KUNIT_EXPECT_EQ(test, feed(&st, 3, 1000, &from), 13ULL);
	KUNIT_EXPECT_EQ(test, from, 7ULL);
	KUNIT_EXPECT_EQ(test, st.s[0].window, 16U);
	/* inside the window, before half of it: nothing more */
	KUNIT_EXPECT_EQ(test, feed(&st, 4, 1000, NULL), 0ULL);
}

/* A reader waiting for a block still being prefetched widens the window. */
static void rcache_prefetch_waiting_reader_widens(struct kunit *test)
{
	struct rcache_streams st;
	u64 from = 0;
	u32 before;

	rcache_streams_init(&st, 64);
	feed(&st, 0, 1000, NULL);
	feed(&st, 1, 1000, NULL);
	feed(&st, 2, 1000, NULL);			/* 3..6 */
	feed(&st, 3, 1000, NULL);			/* 16: 7..19 */
	before = st.s[0].window;
	/* not the newest window, and no wait: nothing */
	KUNIT_EXPECT_EQ(test, feed(&st, 4, 1000, NULL), 0ULL);
	KUNIT_EXPECT_EQ(test, st.s[0].window, before);
	/* the reader waits for 5: what is ahead does not hide the latency */
	KUNIT_EXPECT_GT(test, feed_w(&st, 5, 1000, true, &from), 0ULL);
	KUNIT_EXPECT_EQ(test, from, 20ULL);
	KUNIT_EXPECT_EQ(test, st.s[0].window, 64U);
	KUNIT_EXPECT_EQ(test, st.s[0].ahead, 6ULL + 64);
}

/*
 * Prefetched blocks dropped unread shrink the window (down to one block),
 * and what was dropped ahead of the reader is asked for again, nearer.
 */
static void rcache_prefetch_waste_shrinks(struct kunit *test)
{
	struct rcache_streams st;
	u64 b, from = 0, asked;

	rcache_streams_init(&st, 32);
	for (b = 0; b < 60; b++)
		feed(&st, b, 1000, NULL);
	KUNIT_ASSERT_EQ(test, st.s[0].window, 32U);
	KUNIT_ASSERT_GT(test, st.s[0].ahead, 70ULL);
	/* block 70, ahead of the reader (next 60), was evicted unread */
	rcache_streams_wasted(&st, 70);
	KUNIT_EXPECT_EQ(test, st.s[0].window, 16U);
	KUNIT_EXPECT_EQ(test, st.s[0].ahead, 70ULL);
	/* a block of another place is no stream's */
	rcache_streams_wasted(&st, 5000);
	KUNIT_EXPECT_EQ(test, st.s[0].window, 16U);
	/* more waste: down to one block, not below */
	for (b = 0; b < 10; b++)
		rcache_streams_wasted(&st, 60 + b % 8);
	KUNIT_EXPECT_EQ(test, st.s[0].window, 1U);
	/* the stream goes on with what the smaller window allows, asking again */
	asked = feed(&st, 60, 1000, &from);
	KUNIT_EXPECT_EQ(test, asked, 1ULL);
	KUNIT_EXPECT_EQ(test, from, 61ULL);
	KUNIT_EXPECT_EQ(test, st.s[0].ahead, 62ULL);
	/* never more ahead than the window; consumed again, it grows again */
	for (b = 61; b < 70; b++) {
		feed(&st, b, 1000, NULL);
		KUNIT_EXPECT_LE(test, st.s[0].ahead, st.s[0].next + st.s[0].window);
	}
	KUNIT_EXPECT_GE(test, st.s[0].window, 4U);
	/* a block the reader skipped (behind it) narrows the window too */
	rcache_streams_init(&st, 32);
	for (b = 0; b < 60; b++)
		feed(&st, b, 1000, NULL);
	rcache_streams_wasted(&st, 50);
	KUNIT_EXPECT_EQ(test, st.s[0].window, 16U);
	KUNIT_EXPECT_GT(test, st.s[0].ahead, 70ULL);	/* nothing to ask again */
}

static struct kunit_case rcache_prefetch_cases[] = {
	KUNIT_CASE(rcache_prefetch_detects_after_three),
	KUNIT_CASE(rcache_prefetch_window_ramps),
	KUNIT_CASE(rcache_prefetch_window_steps),
	KUNIT_CASE(rcache_prefetch_unissued_asked_again),
	KUNIT_CASE(rcache_prefetch_random_never),
	KUNIT_CASE(rcache_prefetch_interleaved_streams),
	KUNIT_CASE(rcache_prefetch_tolerates_reorder_and_gaps),
	KUNIT_CASE(rcache_prefetch_idle_and_max),
	KUNIT_CASE(rcache_prefetch_tops_up_on_entering),
	KUNIT_CASE(rcache_prefetch_waiting_reader_widens),
	KUNIT_CASE(rcache_prefetch_waste_shrinks),
	{}
};

static struct kunit_suite rcache_prefetch_suite = {
	.name = "rcache_prefetch",
	.test_cases = rcache_prefetch_cases,
};

kunit_test_suite(rcache_prefetch_suite);

MODULE_LICENSE("GPL");
