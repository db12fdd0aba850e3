/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dm-rcache internal interfaces between the target, its table parser and
 * the netlink fill protocol.
 */
#ifndef DM_RCACHE_H
#define DM_RCACHE_H

#include <linux/atomic.h>
#include <linux/bits.h>
#include <linux/bio.h>
#include <linux/device-mapper.h>
#include <linux/hashtable.h>
#include <linux/list.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/completion.h>

#include "../uapi/linux/dm-rcache.h"

#define DM_MSG_PREFIX "rcache"

/* ------------------------------------------------------------------ */
/* Table arguments (dm-rcache-args.c, pure and unit tested)            */

struct rcache_args {
	const char *cache_path;
	const char *origin;
	u32 block_sectors;
	u32 daemon_timeout;		/* seconds */
	bool fail_fast;
	u64 origin_size;		/* bytes; 0 when not given */
	const char *identity;		/* NULL when not given */
};

int rcache_parse_args(unsigned int argc, char **argv, struct rcache_args *args,
		      char **error);
int rcache_check_origin_url(const char *url, char **error);

/* Cache device geometry (the math is in the uapi header, shared with the CLI) */
struct rcache_geometry {
	u64 nr_slots;
	u64 md_pages;			/* metadata pages per copy */
	u64 data_start;			/* bytes */
};

/* ------------------------------------------------------------------ */
/* Per-block state word: the hit path reads it without a lock.         */

#define RCACHE_MAP_VALID	BIT(31)
#define RCACHE_MAP_SLOT_MASK	(BIT(29) - 1)
#define RCACHE_MAX_BLOCKS	BIT_ULL(29)

struct rcache_fetch;

struct rcache_stats {
	u64 read_hits;
	u64 read_misses;
	u64 hit_sectors;
	u64 miss_sectors;
};

struct rcache {
	struct dm_target *ti;
	struct dm_dev *cache_dev;
	struct mapped_device *md;
	u64 dev_id;
	char *origin;
	char *identity;
	char *opt_args;			/* optional args as given, for TABLE */

	u32 block_sectors;
	unsigned int block_shift;
	u64 nr_blocks;
	u64 origin_size;
	struct rcache_geometry geo;
	sector_t data_start;		/* sectors */
	u32 daemon_timeout;
	bool fail_fast;

	atomic_t *map;			/* nr_blocks words, RCACHE_MAP_* */
	struct rcache_stats __percpu *stats;

	spinlock_t lock;		/* fetch hash, state, reason */
	DECLARE_HASHTABLE(fetches, 8);	/* in flight, by block */
	u64 fetches_inflight;
	u32 state;			/* enum rcache_state */
	char *reason;

	atomic64_t cached_blocks;
	atomic64_t fetch_errors;

	/*
	 * Fetches taken off the daemon lists but not yet completed, plus one
	 * held by the live target; dtr drops its one and waits for drained.
	 */
	atomic_t completing;
	struct completion drained;

	struct list_head devices_entry;
};

/* One outstanding fill of one block. */
enum rcache_fetch_state {
	RCACHE_FETCH_QUEUED,		/* waiting for a daemon or a credit */
	RCACHE_FETCH_SENT,		/* the daemon has it */
};

struct rcache_fetch {
	struct list_head entry;		/* daemon queue or sent list */
	struct hlist_node hash;		/* rc->fetches */
	struct rcache *rc;
	u64 block;
	u32 slot;
	u32 req_id;			/* 0 until first sent */
	u32 flags;			/* RCACHE_FETCH_F_* */
	enum rcache_fetch_state state;
	unsigned long queued_at;	/* jiffies */
	struct bio_list waiters;
};

/* dm-rcache-target.c */
void rcache_fetch_complete(struct rcache_fetch *f, int err,
			   blk_status_t fail_status);
struct rcache *rcache_find_by_id(u64 dev_id);
typedef int (*rcache_device_fn)(struct rcache *rc, void *arg);
int rcache_visit_devices(rcache_device_fn fn, void *arg, u64 start_id);
void rcache_fill_origin_range(struct rcache *rc, u64 block, u64 *offset,
			      u32 *length);
u64 rcache_cache_offset(struct rcache *rc, u32 slot);
dev_t rcache_dm_devt(struct rcache *rc);
const char *rcache_dm_name(struct rcache *rc);
void rcache_counters(struct rcache *rc, u64 ctr[__RCACHE_CTR_MAX]);
int rcache_set_state(struct rcache *rc, u32 state, const char *reason);

/* dm-rcache-netlink.c: the daemon link */
int rcache_netlink_init(void);
void rcache_netlink_exit(void);
void rcache_daemon_queue(struct rcache_fetch *f);
bool rcache_daemon_present(void);
u64 rcache_daemon_stale_replies(void);
void rcache_daemon_cancel_device(struct rcache *rc, struct list_head *out);
void rcache_daemon_event(u32 type, struct rcache *rc);

#endif /* DM_RCACHE_H */
