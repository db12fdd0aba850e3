/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * dm-rcache: the interface shared by the kernel target and its userspace
 * daemon and CLI.
 *
 * The kernel never moves payload over netlink: it asks the daemon (FETCH) to
 * read a byte range of the origin and write it into the cache device at a
 * byte offset the kernel chose, and the daemon answers FETCH_DONE with an
 * explicit errno.  Request ids are allocated cyclically and are never reused
 * while outstanding.
 */
#ifndef _UAPI_LINUX_DM_RCACHE_H
#define _UAPI_LINUX_DM_RCACHE_H

#include <linux/types.h>

#define RCACHE_TARGET_NAME	"rcache"

/* Generic netlink family */
#define RCACHE_GENL_NAME	"rcache"
#define RCACHE_GENL_VERSION	2	/* 2: FETCH_DONE names its device and block */
#define RCACHE_GENL_MCGRP_EVENTS "events"

/*
 * Commands.  Directions: d = daemon/CLI, k = kernel.
 *
 * REGISTER     d->k  become the fill daemon (one per host).  Outstanding
 *                    requests are (re)sent to the new daemon at once.
 * UNREGISTER   d->k  stop being the daemon (closing the socket does the same).
 * FETCH        k->d  unicast to the daemon: fill one block (or, with
 *                    RCACHE_FETCH_F_UPGRADE, a block it was asked to
 *                    prefetch is now awaited).
 * FETCH_DONE   d->k  REQ_ID + DEV_ID + BLOCK + ERRNO (0 on success), and
 *                    FLAGS (RCACHE_DONE_F_*) when the errno needs saying
 *                    where it came from.  A reply whose DEV_ID or BLOCK is
 *                    not the request's is ignored and counted stale.
 * GET_STATUS   d->k  doit (by DEV_ID or DEV) or dump: device description and
 *                    counters.
 * EVENT        k->d  multicast on "events": EVENT_TYPE + DEV_ID/DEV.
 * SET_STATE    d->k  DEV_ID + STATE (+ REASON): the daemon reports that an
 *                    origin changed under a device (RCACHE_STATE_STALE).
 *                    The only state it may set; see enum rcache_state.
 */
enum rcache_cmd {
	RCACHE_CMD_UNSPEC,
	RCACHE_CMD_REGISTER,
	RCACHE_CMD_UNREGISTER,
	RCACHE_CMD_FETCH,
	RCACHE_CMD_FETCH_DONE,
	RCACHE_CMD_GET_STATUS,
	RCACHE_CMD_EVENT,
	RCACHE_CMD_SET_STATE,

	__RCACHE_CMD_MAX,
	RCACHE_CMD_MAX = __RCACHE_CMD_MAX - 1
};

enum rcache_attr {
	RCACHE_ATTR_UNSPEC,
	RCACHE_ATTR_PAD,		/* alignment padding for u64 attributes */
	RCACHE_ATTR_PROTO_VERSION,	/* u32: RCACHE_GENL_VERSION */
	RCACHE_ATTR_DEV_ID,		/* u64: target instance, unique per load */
	RCACHE_ATTR_DEV,		/* u32: dm device dev_t (new_encode_dev) */
	RCACHE_ATTR_REQ_ID,		/* u32: request id, never 0 */
	RCACHE_ATTR_BLOCK,		/* u64: origin block index */
	RCACHE_ATTR_ORIGIN_OFFSET,	/* u64: origin byte offset to read */
	RCACHE_ATTR_LENGTH,		/* u32: origin bytes to read */
	RCACHE_ATTR_CACHE_OFFSET,	/* u64: cache device byte offset */
	RCACHE_ATTR_FLAGS,		/* u32: RCACHE_FETCH_F_* */
	RCACHE_ATTR_ERRNO,		/* u32: positive errno, 0 = success */
	RCACHE_ATTR_NAME,		/* string: dm device name */
	RCACHE_ATTR_ORIGIN,		/* string: origin URL */
	RCACHE_ATTR_CACHE_DEV,		/* u32: cache device dev_t */
	RCACHE_ATTR_BLOCK_SIZE,		/* u32: bytes */
	RCACHE_ATTR_ORIGIN_SIZE,	/* u64: bytes */
	RCACHE_ATTR_IDENTITY,		/* string: origin identity token */
	RCACHE_ATTR_STATE,		/* u32: RCACHE_STATE_* */
	RCACHE_ATTR_REASON,		/* string: why the state changed */
	RCACHE_ATTR_EVENT_TYPE,		/* u32: RCACHE_EVENT_* */
	RCACHE_ATTR_COUNTERS,		/* nested: RCACHE_CTR_* (u64 each) */
	RCACHE_ATTR_DAEMON_PID,		/* u32: pid of the registered daemon */

	__RCACHE_ATTR_MAX,
	RCACHE_ATTR_MAX = __RCACHE_ATTR_MAX - 1
};

/* Counters nested in RCACHE_ATTR_COUNTERS, all u64. */
enum rcache_counter {
	RCACHE_CTR_UNSPEC,
	RCACHE_CTR_PAD,
	RCACHE_CTR_CACHED_BLOCKS,
	RCACHE_CTR_TOTAL_BLOCKS,
	RCACHE_CTR_READ_HITS,
	RCACHE_CTR_READ_MISSES,
	RCACHE_CTR_FETCHES_INFLIGHT,
	RCACHE_CTR_FETCH_ERRORS,
	RCACHE_CTR_STALE_REPLIES,
	RCACHE_CTR_HIT_SECTORS,
	RCACHE_CTR_MISS_SECTORS,
	RCACHE_CTR_SLOTS,
	RCACHE_CTR_EVICTIONS,
	RCACHE_CTR_CACHE_READ_ERRORS,
	RCACHE_CTR_MD_COMMITS,
	RCACHE_CTR_PREFETCH_ISSUED,
	RCACHE_CTR_PREFETCH_USED,
	RCACHE_CTR_PREFETCH_WASTED,
	RCACHE_CTR_STREAMS,
	RCACHE_CTR_WARMUP_PENDING,
	RCACHE_CTR_WARMUP_ERRORS,
	RCACHE_CTR_FILL_TIMEOUTS,	/* fills whose readers got EIO at fill_timeout */
	RCACHE_CTR_LATE_REPLIES,	/* answers to fills that had timed out */
	RCACHE_CTR_RETIRED_SLOTS,	/* slots taken out of use: cache write failed */

	__RCACHE_CTR_MAX,
	RCACHE_CTR_MAX = __RCACHE_CTR_MAX - 1
};

/* RCACHE_ATTR_FLAGS of a FETCH */
#define RCACHE_FETCH_F_RESEND	0x1	/* sent before, daemon restarted */
#define RCACHE_FETCH_F_PREFETCH	0x2	/* nobody waits yet: after demand fills */
/*
 * Not a new request: the daemon has REQ_ID already, sent as a prefetch, and
 * a reader waits for it now: serve it ahead of the prefetches.  No reply of
 * its own (the one FETCH_DONE answers both).
 */
#define RCACHE_FETCH_F_UPGRADE	0x4

/* RCACHE_ATTR_FLAGS of a FETCH_DONE */
/*
 * ERRNO is from writing the cache device, not from reading the origin: the
 * kernel retires the slot (never hands it out again, persisted) and the
 * block stays invalid.
 */
#define RCACHE_DONE_F_CACHE_WRITE	0x1

/*
 * RCACHE_ATTR_STATE: the device's mode, as dmsetup status prints it.
 * Transitions: READY -> STALE (the daemon, SET_STATE), READY -> FAILED and
 * STALE -> FAILED (the kernel, on a metadata write error).  Nothing leaves
 * STALE or FAILED but loading the table again.
 */
enum rcache_state {
	RCACHE_STATE_READY,	/* serving hits, fetching misses */
	RCACHE_STATE_STALE,	/* origin changed: misses fail, hits served */
	RCACHE_STATE_FAILED,	/* metadata write failed: misses fail, hits served */

	__RCACHE_STATE_MAX
};

/* RCACHE_ATTR_EVENT_TYPE */
enum rcache_event {
	RCACHE_EVENT_UNSPEC,
	RCACHE_EVENT_DEVICE_ADDED,
	RCACHE_EVENT_DEVICE_REMOVED,
	RCACHE_EVENT_DAEMON_LOST,
	RCACHE_EVENT_STATE_CHANGED,
};

/* Table limits */
#define RCACHE_MIN_BLOCK_SECTORS	8		/* 4 KiB */
#define RCACHE_MAX_BLOCK_SECTORS	131072		/* 64 MiB */
#define RCACHE_DEFAULT_BLOCK_SECTORS	2048		/* 1 MiB */
#define RCACHE_DEFAULT_DAEMON_TIMEOUT	30		/* seconds */
/* seconds a fill the daemon holds may take before its readers get EIO */
#define RCACHE_DEFAULT_FILL_TIMEOUT	120
#define RCACHE_MAX_FILL_TIMEOUT		86400
#define RCACHE_MIN_SLOTS		64	/* or the whole origin */
#define RCACHE_MAX_ORIGIN_LEN		3584		/* bytes of URL */
#define RCACHE_MAX_IDENTITY_LEN		256
#define RCACHE_MAX_REASON_LEN		1024	/* with the NUL */

/*
 * Cache device layout (docs/internals/on-disk-format.md): superblock, then two copies
 * of the metadata, then data slots.  The data area starts on a
 * RCACHE_DATA_ALIGN boundary and slot N occupies
 * [data_start + N * block_size, data_start + (N + 1) * block_size).
 * Everything on disk is little-endian; checksums are crc32c (Castagnoli)
 * of the block after the checksum field, seeded with ~0 and not inverted at
 * the end (the kernel's crc32c(~0, ...)).
 */
#define RCACHE_SB_OFFSET		0
#define RCACHE_SB_SIZE			4096
#define RCACHE_MD_OFFSET		RCACHE_SB_SIZE
#define RCACHE_MD_PAGE_SIZE		4096
#define RCACHE_MD_PAGE_HEADER		32
#define RCACHE_MD_ENTRIES_PER_PAGE \
	((RCACHE_MD_PAGE_SIZE - RCACHE_MD_PAGE_HEADER) / 4)
#define RCACHE_MD_COPIES		2
#define RCACHE_DATA_ALIGN		(1024 * 1024)

#define RCACHE_SB_MAGIC			0x52434143	/* "RCAC" */
#define RCACHE_MD_MAGIC			0x52434d44	/* "RCMD" */
#define RCACHE_FORMAT_VERSION		1
#define RCACHE_SB_ORIGIN_SPACE		3712

/* The superblock, at byte 0 of the cache device. */
struct rcache_disk_sb {
	__le32 csum;		/* crc32c of bytes 4..4095 */
	__le32 magic;		/* RCACHE_SB_MAGIC */
	__le32 version;		/* RCACHE_FORMAT_VERSION */
	__le32 block_sectors;
	__le64 format_id;	/* random; every metadata page repeats it */
	__le64 nr_slots;
	__le64 md_pages;	/* per copy */
	__le64 data_start;	/* bytes */
	__le64 cache_bytes;	/* cache device size when formatted */
	__le64 nr_blocks;	/* origin blocks */
	__le64 origin_size;	/* bytes */
	__le64 format_time;	/* seconds since the epoch */
	__le32 origin_len;
	__le32 identity_len;
	__u8 reserved[40];
	char identity[RCACHE_MAX_IDENTITY_LEN];		/* not NUL-terminated */
	char origin[RCACHE_SB_ORIGIN_SPACE];		/* not NUL-terminated */
};

/*
 * A metadata page.  Page i of copy c is at RCACHE_MD_OFFSET +
 * (c * md_pages + i) * RCACHE_MD_PAGE_SIZE and holds the entries of slots
 * i * RCACHE_MD_ENTRIES_PER_PAGE onwards: 0 for an empty slot, else the
 * origin block the slot holds, plus one.  Of the two copies of a page, the
 * one with a good checksum, this format's id and the higher seq is current;
 * a page of zeros, or of another format, is empty.  RCACHE_MD_ENTRY_RETIRED
 * marks a slot whose cache write failed: it holds nothing and is never used.
 */
#define RCACHE_MD_ENTRY_RETIRED		0xffffffffU
struct rcache_disk_md_header {
	__le32 csum;		/* crc32c of bytes 4..4095 of the page */
	__le32 magic;		/* RCACHE_MD_MAGIC */
	__le64 format_id;
	__le64 seq;		/* commit that wrote the page */
	__le32 index;		/* page index within the copy */
	__le32 reserved;
};

/* Metadata pages per copy for a cache of @nr_slots slots. */
static inline __u64 rcache_md_pages(__u64 nr_slots)
{
	return (nr_slots + RCACHE_MD_ENTRIES_PER_PAGE - 1) /
		RCACHE_MD_ENTRIES_PER_PAGE;
}

/* Byte offset of slot 0 on a cache device of @nr_slots slots. */
static inline __u64 rcache_data_start(__u64 nr_slots)
{
	__u64 md_end = RCACHE_MD_OFFSET + (__u64)RCACHE_MD_COPIES *
		rcache_md_pages(nr_slots) * RCACHE_MD_PAGE_SIZE;

	return (md_end + RCACHE_DATA_ALIGN - 1) / RCACHE_DATA_ALIGN *
		RCACHE_DATA_ALIGN;
}

/* Cache device bytes needed for @nr_slots slots of @block_bytes. */
static inline __u64 rcache_bytes_needed(__u64 nr_slots, __u32 block_bytes)
{
	return rcache_data_start(nr_slots) + nr_slots * block_bytes;
}

/* The most slots of @block_bytes a cache device of @cache_bytes holds. */
static inline __u64 rcache_max_slots(__u64 cache_bytes, __u32 block_bytes)
{
	__u64 slots, need;

	if (cache_bytes <= RCACHE_DATA_ALIGN || !block_bytes)
		return 0;
	/* data_start >= RCACHE_DATA_ALIGN, so this is an upper bound... */
	slots = (cache_bytes - RCACHE_DATA_ALIGN) / block_bytes;
	/* ...that one step below the metadata overshoot makes fit... */
	need = rcache_bytes_needed(slots, block_bytes);
	if (need > cache_bytes) {
		__u64 drop = (need - cache_bytes + block_bytes - 1) / block_bytes;

		slots = slots > drop ? slots - drop : 0;
	}
	/* ...and the alignment slack gives back at most a few slots. */
	while (rcache_bytes_needed(slots + 1, block_bytes) <= cache_bytes)
		slots++;
	return slots;
}

#endif /* _UAPI_LINUX_DM_RCACHE_H */
