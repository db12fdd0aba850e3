/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dm-rcache internal interfaces between the target, its table parser, the
 * on-disk format, the eviction policy and the netlink fill protocol.
 */
#ifndef DM_RCACHE_H
#define DM_RCACHE_H

#include <linux/atomic.h>
#include <linux/bits.h>
#include <linux/bio.h>
#include <linux/completion.h>
#include <linux/device-mapper.h>
#include <linux/hashtable.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/pid.h>
#include <linux/spinlock.h>
#include <linux/srcu.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <net/netlink.h>

#include "../uapi/linux/dm-rcache.h"

#define DM_MSG_PREFIX "rcache"

/* ------------------------------------------------------------------ */
/* Table arguments (dm-rcache-args.c, pure and unit tested)            */

#define RCACHE_DEFAULT_COMMIT_MS	1000

struct rcache_args {
	const char *cache_path;
	const char *origin;
	u32 block_sectors;
	u32 daemon_timeout;		/* seconds */
	u32 fill_timeout;		/* seconds */
	bool fail_fast;
	u64 origin_size;		/* bytes; 0 when not given */
	const char *identity;		/* NULL when not given */
	bool reset;			/* reformat the cache device */
	u32 commit_ms;			/* periodic metadata commit; 0 = off */
	bool no_prefetch;
	u32 prefetch_window;		/* blocks; 0: default */
	u32 prefetch_budget;		/* fetches in flight; 0: default */
};

int rcache_parse_args(unsigned int argc, char **argv, struct rcache_args *args,
		      char **error);
int rcache_check_origin_url(const char *url, char **error);
int rcache_parse_range(const char *arg, u64 *begin, u64 *end);

/* Cache device geometry (the math is in the uapi header, shared with the CLI) */
struct rcache_geometry {
	u64 nr_slots;
	u64 md_pages;			/* metadata pages per copy */
	u64 data_start;			/* bytes */
};

/* ------------------------------------------------------------------ */
/* On-disk format (dm-rcache-format.c, pure and unit tested)           */

struct rcache_sb_info {
	u32 block_sectors;
	u64 format_id;
	u64 nr_slots;
	u64 md_pages;
	u64 data_start;
	u64 cache_bytes;
	u64 nr_blocks;
	u64 origin_size;
	u64 format_time;
	char origin[RCACHE_SB_ORIGIN_SPACE];
	char identity[RCACHE_MAX_IDENTITY_LEN + 1];
};

enum rcache_md_page_state {
	RCACHE_MD_VALID,
	RCACHE_MD_EMPTY,
	RCACHE_MD_CORRUPT,
};

void rcache_sb_encode(const struct rcache_sb_info *in, void *block);
int rcache_sb_decode(const void *block, struct rcache_sb_info *out, char **error);
void rcache_md_page_encode(void *page, u64 format_id, u64 seq, u32 index,
			   const u32 *entries, unsigned int n);
enum rcache_md_page_state rcache_md_page_check(const void *page, u64 format_id,
					       u32 index, u64 *seq);
u32 rcache_md_page_entry(const void *page, unsigned int j);

/* ------------------------------------------------------------------ */
/* Slot map and eviction policy (dm-rcache-policy.c, unit tested)      */

/* map word, per origin block: the hit path reads it without a lock */
#define RCACHE_MAP_VALID	((u32)BIT(31))
#define RCACHE_MAP_GHOST	((u32)BIT(30))
#define RCACHE_MAP_PREFETCHED	((u32)BIT(29))	/* filled by prefetch, not read yet */
#define RCACHE_MAP_MD		((u32)BIT(28))	/* not the block's: see rcache_md_bit() */
#define RCACHE_MAP_SLOT_MASK	((u32)BIT(28) - 1)
/* rmap word, per slot (u32 constants: atomic_read() returns an int) */
#define RCACHE_RMAP_BLOCK_MASK	((u32)BIT(28) - 1)
#define RCACHE_RMAP_FREE	RCACHE_RMAP_BLOCK_MASK
#define RCACHE_RMAP_FREEING	(RCACHE_RMAP_BLOCK_MASK - 1)
#define RCACHE_RMAP_EPOCH_SHIFT	28
#define RCACHE_RMAP_PROT	((u32)BIT(30))
#define RCACHE_RMAP_REF		((u32)BIT(31))
/* never reused while this map lives (rcache_policy_reserve()) */
#define RCACHE_RMAP_RESERVED	(RCACHE_RMAP_FREEING | RCACHE_RMAP_PROT)
/* never used again: its cache write failed (RCACHE_MD_ENTRY_RETIRED on disk) */
#define RCACHE_RMAP_RETIRED	(RCACHE_RMAP_FREEING | RCACHE_RMAP_REF)
#define RCACHE_MAX_BLOCKS	(BIT_ULL(28) - 2)
#define RCACHE_NO_SLOT		U32_MAX
#define RCACHE_FREE_STACK	1024
#define RCACHE_REFILL_STEPS	65536	/* rmap words a free stack refill looks at */
#define RCACHE_WASTED_NOTES	32
#define RCACHE_COLD_RING	1024	/* recent fills inserted cold */
#define RCACHE_BIP_WARM		8	/* one fill in this many enters warm */

/* The slot a map word names when its block is valid, else RCACHE_NO_SLOT. */
static inline u32 rcache_map_slot(u32 w)
{
	return w & RCACHE_MAP_VALID ? w & RCACHE_MAP_SLOT_MASK : RCACHE_NO_SLOT;
}

/*
 * Two bits per metadata page (which copy is current, whether the page is
 * dirty) live in the spare bit of map words 0 .. 2 * md_pages - 1 instead
 * of bitmaps of their own, so the state stays within 8 bytes per origin
 * block even when every block has a slot.  They change under the device
 * lock only, and everything else that stores a map word keeps them.
 */
static inline u64 rcache_map_words(u64 nr_blocks, u64 md_pages)
{
	return max(nr_blocks, 2 * md_pages);
}

static inline bool rcache_md_bit(atomic_t *map, u64 word)
{
	return atomic_read(&map[word]) & RCACHE_MAP_MD;
}

static inline void rcache_md_bit_assign(atomic_t *map, u64 word, bool on)
{
	if (on)
		atomic_or(RCACHE_MAP_MD, &map[word]);
	else
		atomic_andnot(RCACHE_MAP_MD, &map[word]);
}

/* Page @page's current copy is copy 1 / the page is dirty. */
#define rcache_md_copy_word(page)		(page)
#define rcache_md_dirty_word(md_pages, page)	((md_pages) + (page))

struct rcache_policy {
	atomic_t *map;			/* nr_blocks */
	atomic_t *rmap;			/* nr_slots */
	u64 nr_blocks, nr_slots;
	u64 nr_valid, nr_free, nr_freeing;
	u64 nr_reserved;		/* never reused: a daemon may write them */
	u64 nr_retired;			/* never used again: their cache write failed */
	u64 nr_protected, target_protected;
	u64 nr_ghosts;
	u64 hand;
	u64 idle_steps;			/* hand steps since the last victim */
	u32 epoch;
	u64 fills_in_epoch, epoch_len;
	u64 evictions, promotions;
	u64 prefetch_wasted;		/* dropped before anyone read them */
	/* recent ones, for the stream detector (the worker takes them) */
	u32 wasted_notes[RCACHE_WASTED_NOTES];
	unsigned int nr_wasted_notes;
	u32 free_stack[RCACHE_FREE_STACK];
	unsigned int free_top;
	u64 free_cursor;
	/* fills inserted cold: the next victims unless referenced first */
	u32 cold[RCACHE_COLD_RING];		/* a ring: newest at cold_head + cold_nr - 1 */
	unsigned int cold_head, cold_nr;
	u32 fills;				/* for the bimodal choice */
};

void rcache_policy_init(struct rcache_policy *p, atomic_t *map, atomic_t *rmap,
			u64 nr_blocks, u64 nr_slots);
void rcache_policy_load(struct rcache_policy *p, u32 slot, u32 block);
u32 rcache_policy_alloc(struct rcache_policy *p, u32 block);
u32 rcache_policy_filled(struct rcache_policy *p, u32 slot, u32 block, bool prefetched);
void rcache_policy_fill_failed(struct rcache_policy *p, u32 slot);
void rcache_policy_retire(struct rcache_policy *p, u32 slot);
void rcache_policy_load_retired(struct rcache_policy *p, u32 slot);
void rcache_policy_load_freeing(struct rcache_policy *p, u32 slot);
unsigned int rcache_policy_evict(struct rcache_policy *p, unsigned int n,
				 u32 *victims, u64 max_steps);
u32 rcache_policy_invalidate(struct rcache_policy *p, u32 block);
void rcache_policy_release(struct rcache_policy *p, u32 slot);
u32 rcache_policy_reserve(struct rcache_policy *p, u32 slot);
bool rcache_policy_too_many_ghosts(struct rcache_policy *p);
void rcache_policy_clear_ghosts(struct rcache_policy *p, u64 first, u64 count);
u32 rcache_policy_entry(struct rcache_policy *p, u64 s);

/*
 * One pass of a metadata commit: which dirty pages it writes and which
 * freed slots it may then release (only those whose page it writes).
 */
struct rcache_md_pass {
	u64 *pages;			/* out: the pages to write, ascending */
	unsigned int cap;		/* room in pages[] */
	unsigned int nr;		/* out */
	u32 *release;			/* out: slots reusable after the writes */
	unsigned int nr_release;	/* out */
};

void rcache_md_plan_pass(atomic_t *map, u64 md_pages, u64 *cursor, u64 *nr_dirty,
			 u32 *freeing, unsigned int *nr_freeing, struct rcache_md_pass *pass);

/* A hit on @slot: counts as a re-reference once the fill's epoch is over. */
static inline void rcache_policy_hit(struct rcache_policy *p, u32 slot)
{
	u32 w = atomic_read(&p->rmap[slot]);

	if (!(w & RCACHE_RMAP_REF) &&
	    ((w >> RCACHE_RMAP_EPOCH_SHIFT) & 3) != (READ_ONCE(p->epoch) & 3))
		atomic_or(RCACHE_RMAP_REF, &p->rmap[slot]);
}

/* ------------------------------------------------------------------ */
/* Sequential streams and prefetch windows (dm-rcache-prefetch.c)      */

#define RCACHE_MAX_STREAMS	16

struct rcache_stream {
	u64 next;			/* the block the stream reads next */
	u64 ahead;			/* prefetched up to here (exclusive) */
	u64 mark;			/* first block of the newest window */
	u32 window;			/* blocks */
	u32 seq;			/* accesses in order */
	unsigned long last;		/* jiffies of the last access */
	bool used;
	bool detected;
};

struct rcache_streams {
	struct rcache_stream s[RCACHE_MAX_STREAMS];
	u32 max_window;			/* blocks */
	u64 detected;			/* streams found sequential, ever */
};

void rcache_streams_init(struct rcache_streams *st, u32 max_window);
bool rcache_streams_access(struct rcache_streams *st, u64 block, unsigned long now,
			   u64 nr_blocks, bool waited, u64 *from, u64 *to);
void rcache_streams_unissued(struct rcache_streams *st, u64 to, u64 issued);
void rcache_streams_wasted(struct rcache_streams *st, u64 block);
void rcache_streams_set_max(struct rcache_streams *st, u32 max_window);

/* ------------------------------------------------------------------ */
/* Lock-free rings of block numbers (dm-rcache-ring.c, unit tested)    */

struct rcache_ring {
	u32 *slot;			/* value + 1; 0: not written yet */
	u32 size;			/* a power of two */
	atomic_long_t head;		/* next slot to claim */
	unsigned long tail;		/* next slot to read */
};

void rcache_ring_init(struct rcache_ring *r, u32 *slots, u32 size);
bool rcache_ring_push(struct rcache_ring *r, u32 v);
bool rcache_ring_pop(struct rcache_ring *r, u32 *v);

/* ------------------------------------------------------------------ */
/* The device                                                          */

struct rcache_fetch;
struct dm_io_client;

#define RCACHE_DEFAULT_PREFETCH_BYTES	(32U << 20)	/* largest window */
#define RCACHE_DEFAULT_PREFETCH_BUDGET	32		/* fetches in flight */
#define RCACHE_CONSUMED_RING	256		/* prefetched blocks read, for the work */

/* rcache_prefetch_block() */
enum rcache_pf {
	RCACHE_PF_ISSUED,		/* a fetch was queued */
	RCACHE_PF_SKIP,			/* cached or in flight already */
	RCACHE_PF_BLOCKED,		/* over budget, no free slot, no memory */
	RCACHE_PF_STOP,			/* the device takes no fills */
};

/* Background fills of ranges (messages "warmup <begin>-<end> [MB/s]"). */
struct rcache_warmup {
	u64 (*ranges)[2];		/* blocks [begin, end), FIFO */
	unsigned int nr, cap;
	u64 pending;			/* blocks not requested yet */
	u32 inflight;
	u64 errors;
	u64 rate;			/* bytes per second; 0: as fast as allowed */
	u64 tokens;			/* bytes that may be requested now */
	unsigned long refilled;		/* jiffies */
	struct delayed_work work;
};

/* Block access order, first access per block (messages "trace ..."). */
#define RCACHE_TRACE_RING	65536
struct rcache_trace {
	unsigned long *seen;		/* nr_blocks bits */
	struct rcache_ring ring;	/* RCACHE_TRACE_RING blocks */
	atomic64_t lost;		/* accesses the full ring dropped */
};

struct rcache_stats {
	u64 read_hits;
	u64 read_misses;
	u64 hit_sectors;
	u64 miss_sectors;
};

/*
 * Hits and slot reuse.  A hit reads its slot with no lock: it enters
 * rc->hit_srcu before it re-checks the block's map word and leaves when its
 * bio ends (rcache_end_io(), maybe on another CPU).  A slot stops being named
 * by a map word under rc->lock (eviction, invalidation) and is reused only
 * after a synchronize_srcu() that began after that, so every hit that could
 * have read the old map word has ended.  SRCU counts entries and exits
 * apart: a per-CPU up/down counter, entered on one CPU and left on another
 * while the updater sums it, can read a false zero.  The hit path pays what
 * dm core already pays per bio for its own table SRCU.
 */

/* Per-bio data: the hit's SRCU index, and how to retry the bio. */
struct rcache_bio {
	struct bvec_iter iter;		/* as mapped, to retry a failed hit */
	u32 slot;
	u8 srcu_idx;
	u8 retries;			/* cache read errors so far */
	bool tracked;			/* holds a hit reference */
};

/* Metadata state (dm-rcache-metadata.c) */
#define RCACHE_FREEING_CAP	4096	/* slots waiting for a commit, at most */
#define RCACHE_MD_SPARE_PAGES	8	/* a commit's buffer when memory is short */

struct rcache_md {
	struct dm_io_client *io;
	u64 format_id;
	u64 seq;
	u64 md_pages;
	u64 nr_dirty;			/* pages to write (bits: rcache_md_bit()) */
	u64 commits;
	struct mutex commit_lock;	/* one commit at a time */
	bool failed;
	bool loaded;			/* the slot map reflects the disk */
	bool superseded;		/* a reloaded table took the disk over */
	/* preallocated, so that a commit never fails for want of memory */
	void *spare;			/* RCACHE_MD_SPARE_PAGES pages */
	u64 *spare_pages;
	u32 *release;			/* RCACHE_FREEING_CAP slots */
	u32 *entries;			/* one page's entries */
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
	u32 fill_timeout;		/* seconds; READ_ONCE: a message changes it */
	bool fail_fast;
	u32 commit_ms;

	/* prefetch: streams under stream_lock, counts under lock */
	bool prefetch;
	u32 prefetch_budget;
	u32 prefetch_inflight;
	spinlock_t stream_lock;		/* streams */
	struct rcache_streams streams;
	atomic64_t prefetch_issued;
	atomic64_t prefetch_used;
	/* first reads of prefetched blocks: the hit path hands them to pf_work */
	struct rcache_ring consumed;
	u32 consumed_slots[RCACHE_CONSUMED_RING];
	struct work_struct pf_work;
	struct rcache_warmup warm;	/* under lock */
	struct rcache_trace __rcu *trace;	/* non-NULL while recording */
	struct mutex msg_lock;		/* messages that allocate or free */

	atomic_t *map;			/* nr_blocks words, RCACHE_MAP_* */
	atomic_t *rmap;			/* nr_slots words, RCACHE_RMAP_* */
	struct rcache_policy policy;	/* under lock */
	struct rcache_stats __percpu *stats;

	struct srcu_struct hit_srcu;	/* hits reading a slot (struct rcache_bio) */
	bool hit_srcu_ready;

	spinlock_t lock;		/* fetches, policy, state, lists below */
	DECLARE_HASHTABLE(fetches, 8);	/* in flight, by block */
	u64 fetches_inflight;
	struct list_head slot_waiters;	/* fetches waiting for a free slot */
	u32 *freeing;			/* slots to release after the commit */
	unsigned int nr_freeing_list, freeing_cap;
	struct bio_list flush_bios;	/* wait for a commit */
	spinlock_t retry_lock;		/* end_io may run in interrupt context */
	struct bio_list retry_bios;	/* failed hits, to fetch again */
	struct bio_list filled_bios;	/* under retry_lock: their fill is done */
	struct work_struct filled_work;	/* resubmits filled_bios */
	u32 state;			/* enum rcache_state */
	char *reason;

	struct rcache_md mdata;
	struct workqueue_struct *wq;	/* commits, evictions, retries */
	struct work_struct worker;
	struct delayed_work commit_timer;
	bool suspended;
	wait_queue_head_t idle;		/* woken when no fetch is left */

	atomic64_t cached_blocks;
	atomic64_t fetch_errors;
	atomic64_t cache_read_errors;
	atomic64_t fill_timeouts;

	/*
	 * Fetches taken off the daemon lists but not yet completed, plus one
	 * held by the live target; dtr drops its one and waits for drained.
	 */
	atomic_t completing;
	struct completion drained;

	struct list_head devices_entry;
	struct list_head claim_entry;	/* its cache device is in use */
};

/*
 * One outstanding fill of one block.
 *
 * Invariant: a slot a daemon was asked to write (a fetch that was ever
 * SENT) is reused only after the daemon it was sent to answered for it.
 * The kernel assumes nothing about a lost daemon's queue: its writes may
 * land after its socket closed.  So a fill that leaves its device
 * unanswered becomes an ORPHAN that remembers the bytes it may write:
 * removed with its device, timed out at fill_timeout (its readers get EIO),
 * or ended (cancelled, daemon_timeout) after its daemon was lost.  Its slot
 * stays allocated, neither free nor valid, and every table loaded later on
 * the same cache device keeps those bytes out of use
 * (rcache_daemon_orphan_ranges()).  The daemon's answer ends an ORPHAN and
 * frees its slot; an ORPHAN whose daemon is lost is never answered and
 * lasts until that daemon's process is gone (its thread group reaped: no
 * thread of it, io_uring workers included, can start a write any more).
 */
enum rcache_fetch_state {
	RCACHE_FETCH_NEW,		/* not on the daemon's lists yet */
	RCACHE_FETCH_QUEUED,		/* waiting for a daemon or a credit */
	RCACHE_FETCH_SENT,		/* the daemon has it */
	RCACHE_FETCH_EXPIRING,		/* SENT, past fill_timeout: readers being failed */
	/* SENT, then its device was removed or its readers timed out (rc is NULL) */
	RCACHE_FETCH_ORPHAN,
};

struct rcache_fetch {
	struct list_head entry;		/* daemon queue, sent list, slot_waiters */
	struct list_head upgrade;	/* SENT, the daemon is to hear it is demand now */
	struct hlist_node hash;		/* rc->fetches */
	struct rcache *rc;
	u64 dev_id;			/* rc->dev_id, also once an ORPHAN */
	u64 block;
	u32 slot;			/* RCACHE_NO_SLOT while waiting for one */
	u32 req_id;			/* 0 until first sent */
	u32 flags;			/* RCACHE_FETCH_F_*, under the daemon lock once queued */
	enum rcache_fetch_state state;
	/* under the device lock: */
	bool pf;			/* counts in prefetch_inflight */
	bool warm;			/* counts in warm.inflight */
	bool demand;			/* a read that is not readahead waits */
	/* set before rcache_fetch_complete(): */
	bool answered;			/* a FETCH_DONE ends it */
	bool cache_write_failed;	/* ...with RCACHE_DONE_F_CACHE_WRITE */
	/* under the daemon lock: */
	bool timed_out;			/* ORPHAN: its readers got EIO at fill_timeout */
	bool late;			/* EXPIRING: answered meanwhile */
	bool daemon_lost;		/* ORPHAN: its daemon went away unanswering */
	bool fenced;			/* under the device lock: invalidated while in flight */
	u32 daemon_gen;			/* the daemon it was sent to (rcache_daemon.gen) */
	struct pid *daemon;		/* ...and its process, referenced */
	unsigned long queued_at;	/* jiffies */
	unsigned long sent_at;		/* jiffies, first sent */
	struct bio_list waiters;
	/* RCACHE_FETCH_ORPHAN: the bytes of the cache device it may write */
	dev_t orphan_dev;
	u32 orphan_len;
	u64 orphan_offset;
};

/* dm-rcache-target.c */
void rcache_fetch_complete(struct rcache_fetch *f, int err,
			   blk_status_t fail_status);
void rcache_fetch_free(struct rcache_fetch *f);
void rcache_fetch_expire(struct rcache *rc, struct rcache_fetch *f);
void rcache_fetch_unpin(struct rcache *rc);
void rcache_fetch_late(u64 dev_id, u32 slot, u64 block);
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
void rcache_retire_slot(struct rcache *rc, u32 slot);

/* dm-rcache-warmup.c */
int rcache_warmup_add(struct rcache *rc, u64 begin, u64 end, u64 rate);
void rcache_warmup_stop(struct rcache *rc);
void rcache_warmup_work(struct work_struct *work);
void rcache_warmup_done(struct rcache *rc, int err);
int rcache_trace_start(struct rcache *rc);
void rcache_trace_stop(struct rcache *rc);
int rcache_trace_read(struct rcache *rc, char *result, unsigned int maxlen);
void rcache_trace_block(struct rcache *rc, u64 block);
enum rcache_pf rcache_prefetch_block(struct rcache *rc, u64 block, bool warm);

/* dm-rcache-metadata.c */
int rcache_md_open(struct rcache *rc, const struct rcache_args *args, u64 cache_bytes,
		   bool defer_load, char **error);
int rcache_md_load(struct rcache *rc, char **error);
void rcache_md_close(struct rcache *rc);
int rcache_md_commit(struct rcache *rc);
void rcache_md_hand_over(struct rcache *rc);
void rcache_md_dirty_slot(struct rcache *rc, u32 slot);

/* dm-rcache-nlpolicy.c: the family's attribute policy */
#define RCACHE_NL_REASON_MAX	(RCACHE_MAX_REASON_LEN - 1) /* bytes of RCACHE_ATTR_REASON */
extern const struct nla_policy rcache_nl_policy[RCACHE_ATTR_MAX + 1];

/* dm-rcache-netlink.c: the daemon link */
int rcache_netlink_init(void);
void rcache_netlink_exit(void);
void rcache_daemon_queue(struct rcache_fetch *f);
bool rcache_daemon_present(void);
u64 rcache_daemon_stale_replies(void);
u64 rcache_daemon_late_replies(void);
void rcache_daemon_cancel_queued(struct rcache *rc, bool prefetch_only, struct list_head *out);
unsigned int rcache_daemon_orphan_device(struct rcache *rc);
void rcache_daemon_keep_orphan(struct rcache_fetch *f);
struct rcache_range {
	u64 offset, len;		/* bytes */
};

unsigned int rcache_daemon_orphan_ranges(dev_t dev, struct rcache_range *ranges,
					 unsigned int max);
void rcache_daemon_event(u32 type, struct rcache *rc);
void rcache_daemon_upgrade(struct rcache_fetch *f);

#endif /* DM_RCACHE_H */
