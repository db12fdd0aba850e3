// SPDX-License-Identifier: GPL-2.0-only
/*
 * uapi/linux/dm-rcache.h as userspace sees it: the header compiles on its
 * own with the userspace toolchain, and the values that are ABI (netlink
 * commands, attributes, counters, flags, states, events) and the layout
 * constants have not moved.  New commands, attributes and counters may only
 * be appended; the asserts below catch a renumbering at compile time.
 */
#include "linux/dm-rcache.h"
#include "linux/dm-rcache.h"	/* include guard */

#include <stddef.h>
#include <stdint.h>

#include "unit.h"

#define IS_POW2(x) ((x) > 0 && ((x) & ((x) - 1)) == 0)

/* the generic netlink family */
_Static_assert(RCACHE_GENL_VERSION == 2, "family version");
_Static_assert(sizeof(RCACHE_GENL_NAME) <= 16, "family name fits GENL_NAMSIZ");
_Static_assert(sizeof(RCACHE_GENL_MCGRP_EVENTS) <= 16, "group name fits GENL_NAMSIZ");

/* commands: numbers are ABI */
_Static_assert(RCACHE_CMD_UNSPEC == 0, "cmd");
_Static_assert(RCACHE_CMD_REGISTER == 1, "cmd");
_Static_assert(RCACHE_CMD_UNREGISTER == 2, "cmd");
_Static_assert(RCACHE_CMD_FETCH == 3, "cmd");
_Static_assert(RCACHE_CMD_FETCH_DONE == 4, "cmd");
_Static_assert(RCACHE_CMD_GET_STATUS == 5, "cmd");
_Static_assert(RCACHE_CMD_EVENT == 6, "cmd");
_Static_assert(RCACHE_CMD_SET_STATE == 7, "cmd");
_Static_assert(RCACHE_CMD_MAX == __RCACHE_CMD_MAX - 1 && RCACHE_CMD_MAX >= 7, "cmd max");

/* attributes: numbers are ABI */
_Static_assert(RCACHE_ATTR_UNSPEC == 0, "attr");
_Static_assert(RCACHE_ATTR_PAD == 1, "attr");
_Static_assert(RCACHE_ATTR_PROTO_VERSION == 2, "attr");
_Static_assert(RCACHE_ATTR_DEV_ID == 3, "attr");
_Static_assert(RCACHE_ATTR_DEV == 4, "attr");
_Static_assert(RCACHE_ATTR_REQ_ID == 5, "attr");
_Static_assert(RCACHE_ATTR_BLOCK == 6, "attr");
_Static_assert(RCACHE_ATTR_ORIGIN_OFFSET == 7, "attr");
_Static_assert(RCACHE_ATTR_LENGTH == 8, "attr");
_Static_assert(RCACHE_ATTR_CACHE_OFFSET == 9, "attr");
_Static_assert(RCACHE_ATTR_FLAGS == 10, "attr");
_Static_assert(RCACHE_ATTR_ERRNO == 11, "attr");
_Static_assert(RCACHE_ATTR_NAME == 12, "attr");
_Static_assert(RCACHE_ATTR_ORIGIN == 13, "attr");
_Static_assert(RCACHE_ATTR_CACHE_DEV == 14, "attr");
_Static_assert(RCACHE_ATTR_BLOCK_SIZE == 15, "attr");
_Static_assert(RCACHE_ATTR_ORIGIN_SIZE == 16, "attr");
_Static_assert(RCACHE_ATTR_IDENTITY == 17, "attr");
_Static_assert(RCACHE_ATTR_STATE == 18, "attr");
_Static_assert(RCACHE_ATTR_REASON == 19, "attr");
_Static_assert(RCACHE_ATTR_EVENT_TYPE == 20, "attr");
_Static_assert(RCACHE_ATTR_COUNTERS == 21, "attr");
_Static_assert(RCACHE_ATTR_DAEMON_PID == 22, "attr");
_Static_assert(RCACHE_ATTR_MAX == __RCACHE_ATTR_MAX - 1 && RCACHE_ATTR_MAX >= 22, "attr max");

/* counters nested in RCACHE_ATTR_COUNTERS */
_Static_assert(RCACHE_CTR_UNSPEC == 0 && RCACHE_CTR_PAD == 1, "ctr");
_Static_assert(RCACHE_CTR_CACHED_BLOCKS == 2, "ctr");
_Static_assert(RCACHE_CTR_TOTAL_BLOCKS == 3, "ctr");
_Static_assert(RCACHE_CTR_READ_HITS == 4, "ctr");
_Static_assert(RCACHE_CTR_READ_MISSES == 5, "ctr");
_Static_assert(RCACHE_CTR_FETCHES_INFLIGHT == 6, "ctr");
_Static_assert(RCACHE_CTR_FETCH_ERRORS == 7, "ctr");
_Static_assert(RCACHE_CTR_STALE_REPLIES == 8, "ctr");
_Static_assert(RCACHE_CTR_HIT_SECTORS == 9, "ctr");
_Static_assert(RCACHE_CTR_MISS_SECTORS == 10, "ctr");
_Static_assert(RCACHE_CTR_MAX == __RCACHE_CTR_MAX - 1 && RCACHE_CTR_MAX >= 10, "ctr max");

/* flags, states, events */
_Static_assert(RCACHE_FETCH_F_RESEND == 0x1, "fetch flag");
_Static_assert(RCACHE_FETCH_F_PREFETCH == 0x2 && RCACHE_FETCH_F_UPGRADE == 0x4, "fetch flags");
_Static_assert(!(RCACHE_FETCH_F_UPGRADE & (RCACHE_FETCH_F_RESEND | RCACHE_FETCH_F_PREFETCH)),
	       "fetch flags are distinct bits");
_Static_assert(RCACHE_STATE_READY == 0 && RCACHE_STATE_STALE == 1, "state");
_Static_assert(__RCACHE_STATE_MAX >= 2, "state max");
_Static_assert(RCACHE_EVENT_UNSPEC == 0 && RCACHE_EVENT_DEVICE_ADDED == 1 &&
	       RCACHE_EVENT_DEVICE_REMOVED == 2 && RCACHE_EVENT_DAEMON_LOST == 3 &&
	       RCACHE_EVENT_STATE_CHANGED == 4, "event");

/* table limits */
_Static_assert(RCACHE_MIN_BLOCK_SECTORS == 8, "4 KiB blocks at least");
_Static_assert(RCACHE_MAX_BLOCK_SECTORS == 131072, "64 MiB blocks at most");
_Static_assert(RCACHE_DEFAULT_BLOCK_SECTORS == 2048, "1 MiB by default");
_Static_assert(IS_POW2(RCACHE_MIN_BLOCK_SECTORS) && IS_POW2(RCACHE_MAX_BLOCK_SECTORS) &&
	       IS_POW2(RCACHE_DEFAULT_BLOCK_SECTORS), "block sizes are powers of two");
_Static_assert(RCACHE_MIN_BLOCK_SECTORS <= RCACHE_DEFAULT_BLOCK_SECTORS &&
	       RCACHE_DEFAULT_BLOCK_SECTORS <= RCACHE_MAX_BLOCK_SECTORS, "default in range");
/* a block's bytes fit the u32 LENGTH and BLOCK_SIZE attributes */
_Static_assert((uint64_t)RCACHE_MAX_BLOCK_SECTORS * 512 <= UINT32_MAX, "u32 block bytes");
_Static_assert(RCACHE_DEFAULT_DAEMON_TIMEOUT == 30, "daemon_timeout default");
_Static_assert(RCACHE_MAX_ORIGIN_LEN > 0 && RCACHE_MAX_ORIGIN_LEN < 4096, "origin URL length");
_Static_assert(RCACHE_MAX_IDENTITY_LEN == 256, "identity length");

/* cache device layout */
_Static_assert(RCACHE_SB_OFFSET == 0 && RCACHE_SB_SIZE == 4096, "superblock");
_Static_assert(RCACHE_MD_OFFSET == RCACHE_SB_OFFSET + RCACHE_SB_SIZE, "metadata follows");
_Static_assert(RCACHE_MD_PAGE_SIZE == 4096, "metadata page");
_Static_assert(RCACHE_MD_PAGE_HEADER % 8 == 0, "entries start aligned");
_Static_assert(RCACHE_MD_PAGE_HEADER + 4 * RCACHE_MD_ENTRIES_PER_PAGE <= RCACHE_MD_PAGE_SIZE &&
	       RCACHE_MD_PAGE_HEADER + 4 * (RCACHE_MD_ENTRIES_PER_PAGE + 1) > RCACHE_MD_PAGE_SIZE,
	       "32-bit entries fill a metadata page");
_Static_assert(RCACHE_MD_COPIES == 2, "two metadata copies");
_Static_assert(RCACHE_DATA_ALIGN == 1024 * 1024 && IS_POW2(RCACHE_DATA_ALIGN), "data alignment");

/* on-disk structures */
_Static_assert(RCACHE_SB_MAGIC == 0x52434143 && RCACHE_MD_MAGIC == 0x52434d44, "magics");
_Static_assert(RCACHE_FORMAT_VERSION == 1, "format version");
_Static_assert(sizeof(struct rcache_disk_sb) == RCACHE_SB_SIZE, "superblock is one 4 KiB block");
_Static_assert(offsetof(struct rcache_disk_sb, identity) == 128 &&
	       offsetof(struct rcache_disk_sb, origin) == 128 + RCACHE_MAX_IDENTITY_LEN,
	       "superblock strings");
_Static_assert(sizeof(struct rcache_disk_md_header) == RCACHE_MD_PAGE_HEADER,
	       "metadata page header");

/* The shared layout math, as rcachectl runs it (the example of docs/configuration.md). */
static void layout_math(void)
{
	CHECK(rcache_bytes_needed(40, 1 << 20) == 41ULL << 20);
	CHECK(rcache_max_slots(41ULL << 20, 1 << 20) == 40);
	CHECK(rcache_max_slots((41ULL << 20) - 1, 1 << 20) == 39);
	CHECK(rcache_md_pages(RCACHE_MD_ENTRIES_PER_PAGE) == 1);
	CHECK(rcache_md_pages(RCACHE_MD_ENTRIES_PER_PAGE + 1) == 2);
	CHECK(rcache_data_start(0) == RCACHE_DATA_ALIGN);
	CHECK(rcache_max_slots(0, 4096) == 0);
}

/* The inline functions have the types the kernel relies on. */
static void types(void)
{
	__u64 slots = 3;
	__u32 block = 4096;

	CHECK(sizeof(rcache_md_pages(slots)) == 8);
	CHECK(sizeof(rcache_data_start(slots)) == 8);
	CHECK(sizeof(rcache_bytes_needed(slots, block)) == 8);
	CHECK(sizeof(rcache_max_slots(slots, block)) == 8);
	CHECK(sizeof(RCACHE_TARGET_NAME) == sizeof("rcache"));
}

int main(void)
{
	RUN("uapi", layout_math);
	RUN("uapi", types);
	UNIT_EXIT();
}
