// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit suite "rcache_format": the on-disk superblock and metadata page
 * codecs (dm-rcache-format.c): round trips, and every way a damaged or
 * foreign block is told apart from a good one.
 */
#include <kunit/test.h>
#include <linux/slab.h>

#include "dm-rcache.h"

static struct rcache_sb_info *rcache_kunit_sb(struct kunit *test)
{
	struct rcache_sb_info *in = kunit_kzalloc(test, sizeof(*in), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, in);
	in->block_sectors = 2048;
	in->format_id = 0x1122334455667788ULL;
	in->nr_slots = 300;
	in->md_pages = rcache_md_pages(300);
	in->data_start = rcache_data_start(300);
	in->cache_bytes = 512ULL << 20;
	in->nr_blocks = 1000;
	in->origin_size = 1000ULL << 20;
	in->format_time = 1795600000;
	strscpy(in->origin, "s3://bucket/datasets/imagenet.ext4", sizeof(in->origin));
	strscpy(in->identity, "size=1048576000,etag=abc-12", sizeof(in->identity));
	return in;
}

static void rcache_format_sb_roundtrip(struct kunit *test)
{
	struct rcache_sb_info *in = rcache_kunit_sb(test), *out;
	void *block = kunit_kzalloc(test, RCACHE_SB_SIZE, GFP_KERNEL);
	char *error = NULL;

	out = kunit_kzalloc(test, sizeof(*out), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, block);
	rcache_sb_encode(in, block);
	KUNIT_ASSERT_EQ(test, rcache_sb_decode(block, out, &error), 0);
	KUNIT_EXPECT_EQ(test, out->block_sectors, in->block_sectors);
	KUNIT_EXPECT_EQ(test, out->format_id, in->format_id);
	KUNIT_EXPECT_EQ(test, out->nr_slots, in->nr_slots);
	KUNIT_EXPECT_EQ(test, out->data_start, in->data_start);
	KUNIT_EXPECT_EQ(test, out->cache_bytes, in->cache_bytes);
	KUNIT_EXPECT_EQ(test, out->nr_blocks, in->nr_blocks);
	KUNIT_EXPECT_EQ(test, out->origin_size, in->origin_size);
	KUNIT_EXPECT_STREQ(test, out->origin, in->origin);
	KUNIT_EXPECT_STREQ(test, out->identity, in->identity);
	/* little-endian on disk, whatever the CPU */
	KUNIT_EXPECT_EQ(test, ((u8 *)block)[4], 0x43);	/* "RCAC" as 0x52434143 */
}

static void rcache_format_sb_damage(struct kunit *test)
{
	struct rcache_sb_info *in = rcache_kunit_sb(test), *out;
	u8 *block = kunit_kzalloc(test, RCACHE_SB_SIZE, GFP_KERNEL);
	char *error = NULL;
	int i;

	out = kunit_kzalloc(test, sizeof(*out), GFP_KERNEL);
	/* a fresh device: no superblock at all */
	KUNIT_EXPECT_EQ(test, rcache_sb_decode(block, out, &error), -ENODATA);
	/* other data, or a damaged magic: refused, never formatted unasked */
	block[RCACHE_SB_SIZE - 1] = 1;
	KUNIT_EXPECT_EQ(test, rcache_sb_decode(block, out, &error), -EINVAL);
	KUNIT_EXPECT_STREQ(test, error,
			   "Cache device has no rcache superblock and is not zeroed (reset formats it)");
	rcache_sb_encode(in, block);
	block[0] ^= 0x01;
	error = NULL;
	KUNIT_EXPECT_EQ(test, rcache_sb_decode(block, out, &error), -EINVAL);
	/* one flipped byte anywhere after the checksum is caught */
	for (i = 8; i < RCACHE_SB_SIZE; i += 509) {
		rcache_sb_encode(in, block);
		block[i] ^= 0x40;
		error = NULL;
		KUNIT_EXPECT_EQ_MSG(test, rcache_sb_decode(block, out, &error), -EINVAL,
				    "byte %d", i);
		KUNIT_EXPECT_STREQ(test, error,
				   "Cache superblock checksum mismatch (damaged; reset reformats)");
	}
	/* geometry that does not add up */
	in->data_start += 4096;
	rcache_sb_encode(in, block);
	KUNIT_EXPECT_EQ(test, rcache_sb_decode(block, out, &error), -EINVAL);
	KUNIT_EXPECT_STREQ(test, error, "Cache superblock inconsistent (reset reformats)");
}

static void rcache_format_md_page(struct kunit *test)
{
	u32 *entries = kunit_kcalloc(test, RCACHE_MD_ENTRIES_PER_PAGE, sizeof(u32), GFP_KERNEL);
	u8 *page = kunit_kzalloc(test, RCACHE_MD_PAGE_SIZE, GFP_KERNEL);
	u64 seq = 0;
	int j;

	/* zeros: a page never written */
	KUNIT_EXPECT_EQ(test, rcache_md_page_check(page, 7, 3, &seq), RCACHE_MD_EMPTY);
	for (j = 0; j < RCACHE_MD_ENTRIES_PER_PAGE; j++)
		entries[j] = j % 3 ? 0 : j + 1;
	rcache_md_page_encode(page, 7, 42, 3, entries, RCACHE_MD_ENTRIES_PER_PAGE);
	KUNIT_EXPECT_EQ(test, rcache_md_page_check(page, 7, 3, &seq), RCACHE_MD_VALID);
	KUNIT_EXPECT_EQ(test, seq, 42ULL);
	for (j = 0; j < RCACHE_MD_ENTRIES_PER_PAGE; j++)
		KUNIT_EXPECT_EQ(test, rcache_md_page_entry(page, j), entries[j]);
	/* another format of the device: empty, not damaged */
	KUNIT_EXPECT_EQ(test, rcache_md_page_check(page, 8, 3, &seq), RCACHE_MD_EMPTY);
	/* in the wrong place */
	KUNIT_EXPECT_EQ(test, rcache_md_page_check(page, 7, 4, &seq), RCACHE_MD_CORRUPT);
	/* torn: half of it from another write */
	memset(page + RCACHE_MD_PAGE_SIZE / 2, 0xa5, RCACHE_MD_PAGE_SIZE / 2);
	KUNIT_EXPECT_EQ(test, rcache_md_page_check(page, 7, 3, &seq), RCACHE_MD_CORRUPT);
	/* one bit flipped in an entry */
	rcache_md_page_encode(page, 7, 42, 3, entries, RCACHE_MD_ENTRIES_PER_PAGE);
	page[RCACHE_MD_PAGE_HEADER + 40] ^= 1;
	KUNIT_EXPECT_EQ(test, rcache_md_page_check(page, 7, 3, &seq), RCACHE_MD_CORRUPT);
}

static struct kunit_case rcache_format_cases[] = {
	KUNIT_CASE(rcache_format_sb_roundtrip),
	KUNIT_CASE(rcache_format_sb_damage),
	KUNIT_CASE(rcache_format_md_page),
	{}
};

static struct kunit_suite rcache_format_suite = {
	.name = "rcache_format",
	.test_cases = rcache_format_cases,
};

kunit_test_suite(rcache_format_suite);

MODULE_LICENSE("GPL");
