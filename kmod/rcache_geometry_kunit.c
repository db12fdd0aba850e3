// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit suite "rcache_geometry": the target's block and offset math
 * (dm-rcache-geometry.h): the origin range of a block and the short last
 * block, a slot's offset on the cache device, the remap of a sector, the
 * block of a sector, and the number of blocks for a table's length.
 */
#include <kunit/test.h>
#include <linux/sizes.h>

#include "dm-rcache-geometry.h"

#define SHIFT_4K	3	/* block_shift: sectors per block, log2 */
#define SHIFT_64K	7
#define SHIFT_1M	11
#define SHIFT_64M	17

static void rcache_geometry_block_bytes(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, rcache_block_bytes(SHIFT_4K), (u64)SZ_4K);
	KUNIT_EXPECT_EQ(test, rcache_block_bytes(SHIFT_1M), (u64)SZ_1M);
	KUNIT_EXPECT_EQ(test, rcache_block_bytes(SHIFT_64M), (u64)SZ_64M);
}

static void rcache_geometry_origin_range(struct kunit *test)
{
	u64 off;
	u32 len;

	/* whole blocks: 40 MiB in 1 MiB blocks */
	rcache_origin_range(0, SHIFT_1M, 40ULL * SZ_1M, &off, &len);
	KUNIT_EXPECT_EQ(test, off, 0ULL);
	KUNIT_EXPECT_EQ(test, len, (u32)SZ_1M);
	rcache_origin_range(39, SHIFT_1M, 40ULL * SZ_1M, &off, &len);
	KUNIT_EXPECT_EQ(test, off, 39ULL * SZ_1M);
	KUNIT_EXPECT_EQ(test, len, (u32)SZ_1M);

	/* the last block is short: 3 MiB + 777 bytes */
	rcache_origin_range(3, SHIFT_1M, 3ULL * SZ_1M + 777, &off, &len);
	KUNIT_EXPECT_EQ(test, off, 3ULL * SZ_1M);
	KUNIT_EXPECT_EQ(test, len, 777U);
	rcache_origin_range(2, SHIFT_1M, 3ULL * SZ_1M + 777, &off, &len);
	KUNIT_EXPECT_EQ(test, len, (u32)SZ_1M);

	/* 4 KiB blocks, an origin that ends 512 bytes into its last block */
	rcache_origin_range(513, SHIFT_4K, 2ULL * SZ_1M + SZ_4K + 512, &off, &len);
	KUNIT_EXPECT_EQ(test, off, 2ULL * SZ_1M + SZ_4K);
	KUNIT_EXPECT_EQ(test, len, 512U);

	/* 64 MiB blocks: a full one, and a short last one */
	rcache_origin_range(0, SHIFT_64M, 100ULL * SZ_1M + 1, &off, &len);
	KUNIT_EXPECT_EQ(test, len, (u32)SZ_64M);
	rcache_origin_range(1, SHIFT_64M, 100ULL * SZ_1M + 1, &off, &len);
	KUNIT_EXPECT_EQ(test, off, (u64)SZ_64M);
	KUNIT_EXPECT_EQ(test, len, 36U * SZ_1M + 1);

	/* past 4 GiB and past 2^32 blocks' worth of bytes: no 32-bit overflow */
	rcache_origin_range(16384, SHIFT_64M, SZ_1T + 12345ULL, &off, &len);
	KUNIT_EXPECT_EQ(test, off, (u64)SZ_1T);
	KUNIT_EXPECT_EQ(test, len, 12345U);
	rcache_origin_range(5000000, SHIFT_4K, 5000001ULL * SZ_4K, &off, &len);
	KUNIT_EXPECT_EQ(test, off, 5000000ULL * SZ_4K);
	KUNIT_EXPECT_EQ(test, len, (u32)SZ_4K);

	/* a block wholly past the end covers nothing */
	rcache_origin_range(4, SHIFT_1M, 3ULL * SZ_1M + 777, &off, &len);
	KUNIT_EXPECT_EQ(test, len, 0U);
	rcache_origin_range(1, SHIFT_1M, SZ_1M, &off, &len);
	KUNIT_EXPECT_EQ(test, len, 0U);
}

static void rcache_geometry_slot_offset(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, rcache_slot_offset(SZ_1M, 0, SHIFT_1M), (u64)SZ_1M);
	KUNIT_EXPECT_EQ(test, rcache_slot_offset(SZ_1M, 5, SHIFT_64K), (u64)SZ_1M + 5 * SZ_64K);
	KUNIT_EXPECT_EQ(test, rcache_slot_offset(3ULL * SZ_1M, 1, SHIFT_4K), 3ULL * SZ_1M + SZ_4K);
	/* the largest slot number with 64 MiB blocks: far past 2^32 bytes */
	KUNIT_EXPECT_EQ(test, rcache_slot_offset(SZ_1M, (1U << 28) - 3, SHIFT_64M),
			(u64)SZ_1M + (((1ULL << 28) - 3) << 26));
}

static void rcache_geometry_sector_block(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, rcache_sector_block(0, SHIFT_1M), 0ULL);
	KUNIT_EXPECT_EQ(test, rcache_sector_block(2047, SHIFT_1M), 0ULL);
	KUNIT_EXPECT_EQ(test, rcache_sector_block(2048, SHIFT_1M), 1ULL);
	KUNIT_EXPECT_EQ(test, rcache_sector_block(7, SHIFT_4K), 0ULL);
	KUNIT_EXPECT_EQ(test, rcache_sector_block(8, SHIFT_4K), 1ULL);
	KUNIT_EXPECT_EQ(test, rcache_sector_block(131071, SHIFT_64M), 0ULL);
	KUNIT_EXPECT_EQ(test, rcache_sector_block(131072, SHIFT_64M), 1ULL);
	/* sector of byte 1 TiB + 64 MiB */
	KUNIT_EXPECT_EQ(test, rcache_sector_block((SZ_1T + SZ_64M) >> SECTOR_SHIFT, SHIFT_64M),
			16385ULL);
}

static void rcache_geometry_remap(struct kunit *test)
{
	/* sector 100 of block 7 in slot 3; data starts at 1 MiB */
	KUNIT_EXPECT_EQ(test, rcache_remap_sector(2048, 3, SHIFT_1M, 7 * 2048 + 100),
			(sector_t)(2048 + 3 * 2048 + 100));
	/* the first and the last sector of a block */
	KUNIT_EXPECT_EQ(test, rcache_remap_sector(2048, 0, SHIFT_4K, 8 * 9), (sector_t)2048);
	KUNIT_EXPECT_EQ(test, rcache_remap_sector(2048, 0, SHIFT_4K, 8 * 9 + 7),
			(sector_t)2048 + 7);
	/* 64 MiB blocks: slot << shift does not fit in 32 bits */
	KUNIT_EXPECT_EQ(test, rcache_remap_sector(2048, 70000, SHIFT_64M, 5ULL * 131072 + 131071),
			(sector_t)2048 + 70000ULL * 131072 + 131071);
}

/* Any sector of a block lands inside its slot, where rcached wrote it. */
static void rcache_geometry_remap_matches_slot(struct kunit *test)
{
	static const unsigned int shifts[] = { SHIFT_4K, SHIFT_64K, SHIFT_1M, SHIFT_64M };
	const u64 data_start = 3ULL * SZ_1M;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(shifts); i++) {
		unsigned int s = shifts[i];
		u64 sectors = 1ULL << s, block = 12345, slot = 4321;
		u64 first = rcache_slot_offset(data_start, slot, s) >> SECTOR_SHIFT;

		KUNIT_EXPECT_EQ(test, rcache_remap_sector(data_start >> SECTOR_SHIFT, slot, s,
							  block * sectors), first);
		KUNIT_EXPECT_EQ(test, rcache_remap_sector(data_start >> SECTOR_SHIFT, slot, s,
							  block * sectors + sectors - 1),
				first + sectors - 1);
		KUNIT_EXPECT_EQ(test, rcache_sector_block(block * sectors + sectors - 1, s), block);
	}
}

static void rcache_geometry_nr_blocks(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, rcache_nr_blocks(40ULL * SZ_1M, 40ULL * SZ_1M, SHIFT_1M), 40ULL);
	/* 3 MiB + 777: a device of 3 MiB + 4 KiB, four 1 MiB blocks */
	KUNIT_EXPECT_EQ(test, rcache_nr_blocks(3ULL * SZ_1M + 777, 3ULL * SZ_1M + SZ_4K,
					       SHIFT_1M), 4ULL);
	/* a target shorter than its origin still gets every origin block */
	KUNIT_EXPECT_EQ(test, rcache_nr_blocks(3ULL * SZ_1M + 777, SZ_1M, SHIFT_1M), 4ULL);
	KUNIT_EXPECT_EQ(test, rcache_nr_blocks(128ULL * SZ_1M, 128ULL * SZ_1M, SHIFT_64M), 2ULL);
	KUNIT_EXPECT_EQ(test, rcache_nr_blocks(100ULL * SZ_1M + 1, 100ULL * SZ_1M + SZ_4K,
					       SHIFT_64M), 2ULL);
	KUNIT_EXPECT_EQ(test, rcache_nr_blocks(1, SZ_4K, SHIFT_4K), 1ULL);
	KUNIT_EXPECT_EQ(test, rcache_nr_blocks(SZ_1T + 1, SZ_1T + SZ_4K, SHIFT_64M), 16385ULL);
}

static void rcache_geometry_len_fits(struct kunit *test)
{
	KUNIT_EXPECT_TRUE(test, rcache_len_fits_origin(40ULL * SZ_1M, 40ULL * SZ_1M));
	KUNIT_EXPECT_TRUE(test, rcache_len_fits_origin(SZ_1M, 40ULL * SZ_1M));
	/* up to the next 4 KiB past the origin's end, not a byte more */
	KUNIT_EXPECT_TRUE(test, rcache_len_fits_origin(3ULL * SZ_1M + SZ_4K, 3ULL * SZ_1M + 777));
	KUNIT_EXPECT_FALSE(test, rcache_len_fits_origin(3ULL * SZ_1M + SZ_4K + 512,
							3ULL * SZ_1M + 777));
	KUNIT_EXPECT_FALSE(test, rcache_len_fits_origin(40ULL * SZ_1M + 512, 40ULL * SZ_1M));
	KUNIT_EXPECT_TRUE(test, rcache_len_fits_origin(SZ_4K, 1));
	KUNIT_EXPECT_FALSE(test, rcache_len_fits_origin(SZ_4K, 0));
}

struct rcache_origin_case {
	u64 origin_size;
	unsigned int shift;
};

static const struct rcache_origin_case rcache_origin_cases[] = {
	{ 40ULL * SZ_1M, SHIFT_1M },
	{ 5ULL * SZ_1M + 1536, SHIFT_64K },
	{ 3ULL * SZ_1M + 777, SHIFT_1M },
	{ 2ULL * SZ_1M + SZ_4K + 512, SHIFT_4K },
	{ 1, SHIFT_4K },
	{ SZ_64M - 1, SHIFT_64M },
	{ SZ_64M, SHIFT_64M },
	{ 300ULL * SZ_1M + 12345, SHIFT_64M },
};

static void rcache_origin_desc(const struct rcache_origin_case *c, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "origin %llu bytes, %llu-byte blocks",
		 c->origin_size, rcache_block_bytes(c->shift));
}

KUNIT_ARRAY_PARAM(rcache_origin, rcache_origin_cases, rcache_origin_desc);

/*
 * The blocks of a device sized as rcachectl sizes it (the origin rounded up
 * to 4 KiB) tile the origin exactly: full blocks back to back, one short
 * or full last block, nothing past the end.
 */
static void rcache_geometry_blocks_tile_origin(struct kunit *test)
{
	const struct rcache_origin_case *c = test->param_value;
	u64 len_bytes = round_up(c->origin_size, (u64)SZ_4K);
	u64 n = rcache_nr_blocks(c->origin_size, len_bytes, c->shift);
	u64 b, off, covered = 0;
	u32 len;

	KUNIT_ASSERT_TRUE(test, rcache_len_fits_origin(len_bytes, c->origin_size));
	KUNIT_ASSERT_GT(test, n, 0ULL);
	for (b = 0; b < n; b++) {
		rcache_origin_range(b, c->shift, c->origin_size, &off, &len);
		KUNIT_EXPECT_EQ(test, off, covered);
		KUNIT_EXPECT_GT(test, len, 0U);
		if (b + 1 < n)
			KUNIT_EXPECT_EQ(test, (u64)len, rcache_block_bytes(c->shift));
		covered += len;
	}
	KUNIT_EXPECT_EQ(test, covered, c->origin_size);
	/* the device's last sector is in the last block */
	KUNIT_EXPECT_EQ(test, rcache_sector_block((len_bytes >> SECTOR_SHIFT) - 1, c->shift),
			n - 1);
}

static struct kunit_case rcache_geometry_cases[] = {
	KUNIT_CASE(rcache_geometry_block_bytes),
	KUNIT_CASE(rcache_geometry_origin_range),
	KUNIT_CASE(rcache_geometry_slot_offset),
	KUNIT_CASE(rcache_geometry_sector_block),
	KUNIT_CASE(rcache_geometry_remap),
	KUNIT_CASE(rcache_geometry_remap_matches_slot),
	KUNIT_CASE(rcache_geometry_nr_blocks),
	KUNIT_CASE(rcache_geometry_len_fits),
	KUNIT_CASE_PARAM(rcache_geometry_blocks_tile_origin, rcache_origin_gen_params),
	{}
};

static struct kunit_suite rcache_geometry_suite = {
	.name = "rcache_geometry",
	.test_cases = rcache_geometry_cases,
};

kunit_test_suite(rcache_geometry_suite);

MODULE_LICENSE("GPL");
