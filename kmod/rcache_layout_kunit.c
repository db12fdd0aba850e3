// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit suite "rcache_layout": the cache device layout math that the kernel
 * and rcachectl share through uapi/linux/dm-rcache.h: metadata pages, the
 * start of the data area, the bytes a cache needs and the slots it holds.
 */
#include <kunit/test.h>
#include <linux/sizes.h>

#include "dm-rcache.h"

#define E	RCACHE_MD_ENTRIES_PER_PAGE

/* The layout docs/configuration.md documents. */
static void rcache_layout_constants(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, RCACHE_SB_OFFSET, 0);
	KUNIT_EXPECT_EQ(test, RCACHE_MD_OFFSET, SZ_4K);
	KUNIT_EXPECT_EQ(test, RCACHE_MD_PAGE_SIZE, SZ_4K);
	KUNIT_EXPECT_EQ(test, RCACHE_MD_COPIES, 2);
	KUNIT_EXPECT_EQ(test, RCACHE_DATA_ALIGN, SZ_1M);
	/* 32-bit entries after the page header fill the page */
	KUNIT_EXPECT_LE(test, RCACHE_MD_PAGE_HEADER + 4 * E, RCACHE_MD_PAGE_SIZE);
	KUNIT_EXPECT_GT(test, RCACHE_MD_PAGE_HEADER + 4 * (E + 1), RCACHE_MD_PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, RCACHE_MIN_BLOCK_SECTORS << SECTOR_SHIFT, SZ_4K);
	KUNIT_EXPECT_EQ(test, RCACHE_MAX_BLOCK_SECTORS << SECTOR_SHIFT, SZ_64M);
	KUNIT_EXPECT_EQ(test, RCACHE_DEFAULT_BLOCK_SECTORS << SECTOR_SHIFT, SZ_1M);
}

static void rcache_layout_md_pages(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, rcache_md_pages(0), 0ULL);
	KUNIT_EXPECT_EQ(test, rcache_md_pages(1), 1ULL);
	KUNIT_EXPECT_EQ(test, rcache_md_pages(E), 1ULL);
	KUNIT_EXPECT_EQ(test, rcache_md_pages(E + 1), 2ULL);
	KUNIT_EXPECT_EQ(test, rcache_md_pages(2 * E), 2ULL);
	KUNIT_EXPECT_EQ(test, rcache_md_pages(2 * E + 1), 3ULL);
	/* 2^29 blocks, the most a device can have */
	KUNIT_EXPECT_EQ(test, rcache_md_pages(1ULL << 29), DIV_ROUND_UP_ULL(1ULL << 29, E));
}

static void rcache_layout_data_start(struct kunit *test)
{
	/* the superblock and two copies of 127 pages fit below 1 MiB, of 128 not */
	KUNIT_EXPECT_EQ(test, rcache_data_start(0), (u64)SZ_1M);
	KUNIT_EXPECT_EQ(test, rcache_data_start(1), (u64)SZ_1M);
	KUNIT_EXPECT_EQ(test, rcache_data_start(127 * E), (u64)SZ_1M);
	KUNIT_EXPECT_EQ(test, rcache_data_start(127 * E + 1), (u64)SZ_2M);
	/* 4 KiB + 2 * 256 pages * 4 KiB = 2 MiB + 4 KiB: rounded up to 3 MiB */
	KUNIT_EXPECT_EQ(test, rcache_data_start(256 * E), 3ULL * SZ_1M);
	/* always aligned, always past the metadata */
	KUNIT_EXPECT_EQ(test, rcache_data_start(1ULL << 29) % RCACHE_DATA_ALIGN, 0ULL);
	KUNIT_EXPECT_GE(test, rcache_data_start(1ULL << 29),
			(u64)RCACHE_MD_OFFSET +
			2ULL * rcache_md_pages(1ULL << 29) * RCACHE_MD_PAGE_SIZE);
}

static void rcache_layout_bytes_needed(struct kunit *test)
{
	/* the example of docs/configuration.md: a 40 MiB origin in 1 MiB blocks needs 41 MiB */
	KUNIT_EXPECT_EQ(test, rcache_bytes_needed(40, SZ_1M), 41ULL * SZ_1M);
	KUNIT_EXPECT_EQ(test, rcache_bytes_needed(0, SZ_1M), (u64)SZ_1M);
	KUNIT_EXPECT_EQ(test, rcache_bytes_needed(1, SZ_4K), (u64)SZ_1M + SZ_4K);
	/* 1 TiB in 64 MiB blocks: 16384 slots, a few metadata pages per copy */
	KUNIT_EXPECT_EQ(test, rcache_bytes_needed(16384, SZ_64M),
			(u64)SZ_1M + 16384ULL * SZ_64M);
	/* no 32-bit overflow in nr_slots * block_bytes */
	KUNIT_EXPECT_EQ(test, rcache_bytes_needed(1ULL << 20, SZ_64M),
			rcache_data_start(1ULL << 20) + (1ULL << 46));
}

/* Not a constant, or sparse would see the guarded division by zero. */
static u32 rcache_zero_block_bytes;

static void rcache_layout_max_slots_edges(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, rcache_max_slots(0, SZ_1M), 0ULL);
	KUNIT_EXPECT_EQ(test, rcache_max_slots(SZ_1M, SZ_4K), 0ULL);
	KUNIT_EXPECT_EQ(test, rcache_max_slots(SZ_1M + SZ_4K - 1, SZ_4K), 0ULL);
	KUNIT_EXPECT_EQ(test, rcache_max_slots(SZ_1M + SZ_4K, SZ_4K), 1ULL);
	KUNIT_EXPECT_EQ(test, rcache_max_slots(64ULL * SZ_1M, rcache_zero_block_bytes), 0ULL);
	KUNIT_EXPECT_EQ(test, rcache_max_slots(41ULL * SZ_1M, SZ_1M), 40ULL);
	KUNIT_EXPECT_EQ(test, rcache_max_slots(41ULL * SZ_1M - 1, SZ_1M), 39ULL);
	/* 8 MiB (the tests' smallest disk) in 1 MiB blocks */
	KUNIT_EXPECT_EQ(test, rcache_max_slots(8ULL * SZ_1M, SZ_1M), 7ULL);
}

struct rcache_geom_case {
	u64 cache_bytes;
	u32 block_bytes;
};

static const struct rcache_geom_case rcache_geom_cases[] = {
	{ 2ULL * SZ_1M, SZ_4K },
	{ 256ULL * SZ_1M, SZ_4K },
	{ 256ULL * SZ_1M, SZ_64K },
	{ 256ULL * SZ_1M, SZ_1M },
	{ 257ULL * SZ_1M + 12345, SZ_1M },
	/* the metadata spills past the first MiB here */
	{ 600ULL * SZ_1M, SZ_4K },
	{ 4ULL * SZ_1G, SZ_4K },
	{ 3ULL * SZ_1T + 7 * SZ_4K, SZ_4K },
	{ 3ULL * SZ_1T, SZ_1M },
	{ 8ULL * SZ_1T, SZ_64M },
	{ 100ULL * SZ_1M + 1, SZ_64M },
};

static void rcache_geom_desc(const struct rcache_geom_case *c, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "cache %llu bytes, block %u",
		 c->cache_bytes, c->block_bytes);
}

KUNIT_ARRAY_PARAM(rcache_geom, rcache_geom_cases, rcache_geom_desc);

/* max_slots is the largest count whose bytes_needed fits. */
static void rcache_layout_max_slots_fits(struct kunit *test)
{
	const struct rcache_geom_case *c = test->param_value;
	u64 slots = rcache_max_slots(c->cache_bytes, c->block_bytes);

	KUNIT_EXPECT_LE(test, rcache_bytes_needed(slots, c->block_bytes), c->cache_bytes);
	KUNIT_EXPECT_GT(test, rcache_bytes_needed(slots + 1, c->block_bytes), c->cache_bytes);
	KUNIT_EXPECT_EQ(test, rcache_data_start(slots) % RCACHE_DATA_ALIGN, 0ULL);
}

/* A cache sized by bytes_needed holds exactly that many slots. */
static void rcache_layout_roundtrip(struct kunit *test)
{
	static const u32 blocks[] = { SZ_4K, SZ_64K, SZ_1M, SZ_64M };
	u64 n;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(blocks); i++) {
		for (n = 1; n < 300000; n = n * 3 + 1) {
			KUNIT_EXPECT_EQ_MSG(test,
					    rcache_max_slots(rcache_bytes_needed(n, blocks[i]),
							     blocks[i]),
					    n, "%llu slots of %u bytes", n, blocks[i]);
		}
	}
}

static struct kunit_case rcache_layout_cases[] = {
	KUNIT_CASE(rcache_layout_constants),
	KUNIT_CASE(rcache_layout_md_pages),
	KUNIT_CASE(rcache_layout_data_start),
	KUNIT_CASE(rcache_layout_bytes_needed),
	KUNIT_CASE(rcache_layout_max_slots_edges),
	KUNIT_CASE_PARAM(rcache_layout_max_slots_fits, rcache_geom_gen_params),
	KUNIT_CASE(rcache_layout_roundtrip),
	{}
};

static struct kunit_suite rcache_layout_suite = {
	.name = "rcache_layout",
	.test_cases = rcache_layout_cases,
};

kunit_test_suite(rcache_layout_suite);

MODULE_LICENSE("GPL");
