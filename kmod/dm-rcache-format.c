// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-rcache on-disk format: superblock and metadata page codecs.  Pure
 * functions over memory buffers (the KUnit suite drives them); the I/O is in
 * dm-rcache-metadata.c.  The layout is described in uapi/linux/dm-rcache.h
 * and docs/internals/on-disk-format.md.
 */
#include <linux/crc32c.h>
#include <linux/kernel.h>
#include <linux/string.h>

#include "dm-rcache.h"

static u32 rcache_csum(const void *block, size_t len)
{
	return crc32c(~0U, (const u8 *)block + 4, len - 4);
}

void rcache_sb_encode(const struct rcache_sb_info *in, void *block)
{
	struct rcache_disk_sb *sb = block;
	size_t olen = strnlen(in->origin, RCACHE_SB_ORIGIN_SPACE);
	size_t ilen = strnlen(in->identity, RCACHE_MAX_IDENTITY_LEN);

	BUILD_BUG_ON(sizeof(struct rcache_disk_sb) != RCACHE_SB_SIZE);
	memset(sb, 0, RCACHE_SB_SIZE);
	sb->magic = cpu_to_le32(RCACHE_SB_MAGIC);
	sb->version = cpu_to_le32(RCACHE_FORMAT_VERSION);
	sb->block_sectors = cpu_to_le32(in->block_sectors);
	sb->format_id = cpu_to_le64(in->format_id);
	sb->nr_slots = cpu_to_le64(in->nr_slots);
	sb->md_pages = cpu_to_le64(in->md_pages);
	sb->data_start = cpu_to_le64(in->data_start);
	sb->cache_bytes = cpu_to_le64(in->cache_bytes);
	sb->nr_blocks = cpu_to_le64(in->nr_blocks);
	sb->origin_size = cpu_to_le64(in->origin_size);
	sb->format_time = cpu_to_le64(in->format_time);
	sb->origin_len = cpu_to_le32(olen);
	sb->identity_len = cpu_to_le32(ilen);
	memcpy(sb->origin, in->origin, olen);
	memcpy(sb->identity, in->identity, ilen);
	sb->csum = cpu_to_le32(rcache_csum(sb, RCACHE_SB_SIZE));
}

/*
 * Returns 0 and fills @out, -ENODATA when the superblock block is all zeros
 * (a fresh device, as dm-cache expects of its metadata device), or -EINVAL
 * with *@error set when there is a damaged or unusable one, or something
 * else: a device holding other data is never formatted unasked.
 */
int rcache_sb_decode(const void *block, struct rcache_sb_info *out, char **error)
{
	const struct rcache_disk_sb *sb = block;
	u32 olen, ilen;

	memset(out, 0, sizeof(*out));
	if (le32_to_cpu(sb->magic) != RCACHE_SB_MAGIC) {
		if (!memchr_inv(block, 0, RCACHE_SB_SIZE))
			return -ENODATA;
		*error =
		"Cache device has no rcache superblock and is not zeroed (reset formats it)";
		return -EINVAL;
	}
	if (le32_to_cpu(sb->csum) != rcache_csum(sb, RCACHE_SB_SIZE)) {
		*error = "Cache superblock checksum mismatch (damaged; reset reformats)";
		return -EINVAL;
	}
	if (le32_to_cpu(sb->version) != RCACHE_FORMAT_VERSION) {
		*error = "Unsupported cache format version (reset reformats)";
		return -EINVAL;
	}
	olen = le32_to_cpu(sb->origin_len);
	ilen = le32_to_cpu(sb->identity_len);
	out->block_sectors = le32_to_cpu(sb->block_sectors);
	out->format_id = le64_to_cpu(sb->format_id);
	out->nr_slots = le64_to_cpu(sb->nr_slots);
	out->md_pages = le64_to_cpu(sb->md_pages);
	out->data_start = le64_to_cpu(sb->data_start);
	out->cache_bytes = le64_to_cpu(sb->cache_bytes);
	out->nr_blocks = le64_to_cpu(sb->nr_blocks);
	out->origin_size = le64_to_cpu(sb->origin_size);
	out->format_time = le64_to_cpu(sb->format_time);
	if (olen >= RCACHE_SB_ORIGIN_SPACE || ilen > RCACHE_MAX_IDENTITY_LEN ||
	    !out->block_sectors || !out->nr_slots ||
	    out->md_pages != rcache_md_pages(out->nr_slots) ||
	    out->data_start != rcache_data_start(out->nr_slots)) {
		*error = "Cache superblock inconsistent (reset reformats)";
		return -EINVAL;
	}
	memcpy(out->origin, sb->origin, olen);
	out->origin[olen] = '\0';
	memcpy(out->identity, sb->identity, ilen);
	out->identity[ilen] = '\0';
	return 0;
}

void rcache_md_page_encode(void *page, u64 format_id, u64 seq, u32 index,
			   const u32 *entries, unsigned int n)
{
	struct rcache_disk_md_header *h = page;
	__le32 *e = page + RCACHE_MD_PAGE_HEADER;
	unsigned int j;

	BUILD_BUG_ON(sizeof(struct rcache_disk_md_header) != RCACHE_MD_PAGE_HEADER);
	memset(page, 0, RCACHE_MD_PAGE_SIZE);
	h->magic = cpu_to_le32(RCACHE_MD_MAGIC);
	h->format_id = cpu_to_le64(format_id);
	h->seq = cpu_to_le64(seq);
	h->index = cpu_to_le32(index);
	for (j = 0; j < n && j < RCACHE_MD_ENTRIES_PER_PAGE; j++)
		e[j] = cpu_to_le32(entries[j]);
	h->csum = cpu_to_le32(rcache_csum(page, RCACHE_MD_PAGE_SIZE));
}

/*
 * Classifies one copy of metadata page @index: VALID (then *@seq is set),
 * EMPTY (zeros, or written by another format of this device) or CORRUPT (a
 * torn or damaged write).
 */
enum rcache_md_page_state rcache_md_page_check(const void *page, u64 format_id,
					       u32 index, u64 *seq)
{
	const struct rcache_disk_md_header *h = page;

	if (!memchr_inv(page, 0, RCACHE_MD_PAGE_SIZE))
		return RCACHE_MD_EMPTY;
	if (le32_to_cpu(h->magic) != RCACHE_MD_MAGIC ||
	    le32_to_cpu(h->csum) != rcache_csum(page, RCACHE_MD_PAGE_SIZE))
		return RCACHE_MD_CORRUPT;
	if (le64_to_cpu(h->format_id) != format_id)
		return RCACHE_MD_EMPTY;
	if (le32_to_cpu(h->index) != index)
		return RCACHE_MD_CORRUPT;
	*seq = le64_to_cpu(h->seq);
	return RCACHE_MD_VALID;
}

u32 rcache_md_page_entry(const void *page, unsigned int j)
{
	const __le32 *e = page + RCACHE_MD_PAGE_HEADER;

	return le32_to_cpu(e[j]);
}
