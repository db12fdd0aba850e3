/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dm-rcache block and offset math: pure functions of the table and the
 * cache layout, used by the target and tested on their own by KUnit
 * (rcache_geometry_kunit.c).  Blocks are 2^block_shift sectors; slot s of
 * the cache device starts data_start bytes plus s blocks in.
 */
#ifndef DM_RCACHE_GEOMETRY_H
#define DM_RCACHE_GEOMETRY_H

#include <linux/blk_types.h>
#include <linux/math.h>
#include <linux/minmax.h>
#include <linux/types.h>

static inline u64 rcache_block_bytes(unsigned int block_shift)
{
	return 1ULL << (block_shift + SECTOR_SHIFT);
}

/* The block that sector @offset (from the start of the target) lies in. */
static inline u64 rcache_sector_block(sector_t offset, unsigned int block_shift)
{
	return offset >> block_shift;
}

/*
 * The origin bytes block @block covers: it starts at *@offset and is a
 * whole block long, except the last, which ends at @origin_size.  A block
 * wholly past the end has length 0.
 */
static inline void rcache_origin_range(u64 block, unsigned int block_shift,
				       u64 origin_size, u64 *offset, u32 *length)
{
	u64 start = block << (block_shift + SECTOR_SHIFT);

	*offset = start;
	*length = start >= origin_size ? 0 :
		  min(rcache_block_bytes(block_shift), origin_size - start);
}

/* Byte offset on the cache device of slot @slot. */
static inline u64 rcache_slot_offset(u64 data_start, u32 slot,
				     unsigned int block_shift)
{
	return data_start + ((u64)slot << (block_shift + SECTOR_SHIFT));
}

/*
 * Where on the cache device sector @offset (from the start of the target)
 * is, once its block is in slot @slot; @data_start in sectors.
 */
static inline sector_t rcache_remap_sector(sector_t data_start, u32 slot,
					   unsigned int block_shift,
					   sector_t offset)
{
	return data_start + ((sector_t)slot << block_shift) +
	       (offset & ((1ULL << block_shift) - 1));
}

/*
 * A target may be longer than its origin only up to the next 4 KiB (so that
 * an origin of any size gets a device of whole pages); that tail reads as
 * zeros.
 */
static inline bool rcache_len_fits_origin(u64 len_bytes, u64 origin_size)
{
	return len_bytes <= round_up(origin_size, 4096ULL);
}

/* Blocks covering the origin and the target, whichever is longer. */
static inline u64 rcache_nr_blocks(u64 origin_size, u64 len_bytes,
				   unsigned int block_shift)
{
	u64 bytes = max(origin_size, len_bytes);

	return (bytes >> (block_shift + SECTOR_SHIFT)) +
	       !!(bytes & (rcache_block_bytes(block_shift) - 1));
}

#endif /* DM_RCACHE_GEOMETRY_H */
