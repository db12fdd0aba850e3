// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-rcache slot map and eviction policy.
 *
 * Every origin block has a map word (the hit path reads it without a lock):
 * VALID plus the slot holding it, or a GHOST bit when the block was recently
 * evicted from probation.  Every slot has an rmap word: the block it holds
 * (or FREE / FREEING), the fill epoch, and the PROT and REF bits.  That is
 * 4 bytes per origin block plus 4 per slot, at most 8 per origin block.
 *
 * Eviction is a segmented CLOCK (SLRU) with ghost admission, so one pass
 * over a huge image cannot flush a hot working set:
 *  - a fill enters probation, or straight into the protected segment when
 *    its block is a ghost (it was evicted from probation and came back);
 *  - a hit sets REF, but only once the slot is older than the current fill
 *    epoch: the remaining bios of a block read sequentially right after its
 *    fill do not count as a second reference;
 *  - the hand promotes referenced probationary slots, evicts unreferenced
 *    ones, gives protected slots a second chance (clearing REF) and demotes
 *    unreferenced ones while the protected segment is over its target (3/4).
 * A loop over more blocks than the cache holds defeats that order: each
 * fill would evict the block the loop reads next.  So fills enter "cold"
 * (LRU insertion, Qureshi et al., ISCA 2007): onto a ring of recent fills
 * that eviction takes first, newest first, unless referenced meanwhile, and
 * a returning ghost is not admitted to protected.  A loop then keeps most of
 * its blocks and cycles the rest through a few slots.  One fill in
 * RCACHE_BIP_WARM enters warm as described above (bimodal insertion), so
 * that a new working set still gets in and ghosts still get promoted.
 * (Set duelling between the two insertions does not carry over from
 * set-associative caches: with one global hand, blocks of a leader group
 * share their fate with everyone else's and tell the modes apart poorly.)
 * Only valid slots are candidates: a slot being filled is never evicted, and
 * a slot evicted while hits are still reading it is not reused before they
 * drain (dm-rcache.h: hits and slot reuse).  Callers hold the device lock, except for
 * rcache_policy_hit().
 */
#include <linux/kernel.h>
#include <linux/string.h>

#include "dm-rcache.h"

static inline u32 rmap_block(u32 w)
{
	return w & RCACHE_RMAP_BLOCK_MASK;
}

/* Sets @block's map word to @v; the metadata page bit stays (dm-rcache.h). */
static void map_store(struct rcache_policy *p, u32 block, u32 v)
{
	int old = atomic_read(&p->map[block]);

	/* a cmpxchg: the hit path clears the prefetched bit with no lock */
	while (!atomic_try_cmpxchg(&p->map[block], &old, v | (old & RCACHE_MAP_MD)))
		;
}

/* True when slot @s holds a valid block (and which, in *@block). */
static bool slot_valid(struct rcache_policy *p, u64 s, u32 *block)
{
	u32 w = atomic_read(&p->rmap[s]), b = rmap_block(w);

	if (b >= p->nr_blocks)
		return false;
	*block = b;
	return rcache_map_slot(atomic_read(&p->map[b])) == s;
}

void rcache_policy_init(struct rcache_policy *p, atomic_t *map, atomic_t *rmap,
			u64 nr_blocks, u64 nr_slots)
{
	u64 s;

	memset(p, 0, sizeof(*p));
	p->map = map;
	p->rmap = rmap;
	p->nr_blocks = nr_blocks;
	p->nr_slots = nr_slots;
	p->target_protected = nr_slots - nr_slots / 4;
	p->epoch_len = max_t(u64, nr_slots / 8, 16);
	for (s = 0; s < nr_slots; s++)
		atomic_set(&rmap[s], RCACHE_RMAP_FREE);
	p->nr_free = nr_slots;
}

/*
 * A slot the metadata says holds @block (loading a persistent cache).  It
 * was filled in an earlier life of the cache: tagged with the epoch before
 * this one, so that a hit on it counts as a re-reference.
 */
void rcache_policy_load(struct rcache_policy *p, u32 slot, u32 block)
{
	atomic_set(&p->rmap[slot], block | (((p->epoch - 1) & 3) << RCACHE_RMAP_EPOCH_SHIFT));
	map_store(p, block, RCACHE_MAP_VALID | slot);
	p->nr_free--;
	p->nr_valid++;
}

static u32 free_pop(struct rcache_policy *p)
{
	u64 i;

	if (!p->nr_free)
		return RCACHE_NO_SLOT;
	if (!p->free_top) {
		/*
		 * Refill the small stack from the rmap, from where we stopped,
		 * a bounded stretch per call (the caller holds a spinlock):
		 * a fetch that finds none waits for the worker, which goes on.
		 */
		for (i = 0; i < min_t(u64, p->nr_slots, RCACHE_REFILL_STEPS) &&
		     p->free_top < RCACHE_FREE_STACK; i++) {
			u64 s = p->free_cursor;

			p->free_cursor = s + 1 == p->nr_slots ? 0 : s + 1;
			if (atomic_read(&p->rmap[s]) == RCACHE_RMAP_FREE)
				p->free_stack[p->free_top++] = s;
		}
		if (!p->free_top)
			return RCACHE_NO_SLOT;
	}
	return p->free_stack[--p->free_top];
}

/* Takes a free slot for @block's fill, or returns RCACHE_NO_SLOT. */
u32 rcache_policy_alloc(struct rcache_policy *p, u32 block)
{
	u32 s = free_pop(p);

	if (s == RCACHE_NO_SLOT)
		return s;
	p->nr_free--;
	atomic_set(&p->rmap[s], block | ((p->epoch & 3) << RCACHE_RMAP_EPOCH_SHIFT));
	return s;
}

/* A fill enters cold, but for one in RCACHE_BIP_WARM. */
static bool insert_cold(struct rcache_policy *p)
{
	return ++p->fills % RCACHE_BIP_WARM != 0;
}

static void cold_push(struct rcache_policy *p, u32 slot)
{
	p->cold[(p->cold_head + p->cold_nr) % RCACHE_COLD_RING] = slot;
	if (p->cold_nr < RCACHE_COLD_RING)
		p->cold_nr++;
	else
		p->cold_head = (p->cold_head + 1) % RCACHE_COLD_RING;	/* the oldest goes */
}

/*
 * @block's data is in @slot: make it valid (@prefetched: nobody asked for it
 * yet).  Returns the new map word.
 */
u32 rcache_policy_filled(struct rcache_policy *p, u32 slot, u32 block, bool prefetched)
{
	u32 m = RCACHE_MAP_VALID | slot | (prefetched ? RCACHE_MAP_PREFETCHED : 0);
	u32 w = atomic_read(&p->rmap[slot]);
	bool cold = insert_cold(p);

	if (atomic_read(&p->map[block]) & RCACHE_MAP_GHOST) {
		/* evicted from probation and wanted again: hot, unless a loop */
		if (!cold) {
			w |= RCACHE_RMAP_PROT;
			p->nr_protected++;
		}
		p->nr_ghosts--;
	}
	if (cold)
		cold_push(p, slot);
	atomic_set(&p->rmap[slot], w);
	map_store(p, block, m);
	p->nr_valid++;
	if (++p->fills_in_epoch >= p->epoch_len) {
		p->fills_in_epoch = 0;
		WRITE_ONCE(p->epoch, p->epoch + 1);
	}
	return m;
}

/*
 * A fill whose cache write failed: the slot is out of use for good (its
 * entry says so on disk), not back on the free stack where the next miss
 * would take it and fail again.
 */
void rcache_policy_retire(struct rcache_policy *p, u32 slot)
{
	atomic_set(&p->rmap[slot], RCACHE_RMAP_RETIRED);
	p->nr_retired++;
}

/* A slot the metadata records retired (loading a persistent cache). */
void rcache_policy_load_retired(struct rcache_policy *p, u32 slot)
{
	atomic_set(&p->rmap[slot], RCACHE_RMAP_RETIRED);
	p->nr_free--;
	p->nr_retired++;
}

/*
 * A slot the metadata names but that is dropped while loading: FREEING, so
 * that it is reused only after a commit recorded it empty.
 */
void rcache_policy_load_freeing(struct rcache_policy *p, u32 slot)
{
	atomic_set(&p->rmap[slot], RCACHE_RMAP_FREEING);
	p->nr_free--;
	p->nr_freeing++;
}

/* A fill that failed: the slot never held valid data, it is free again. */
void rcache_policy_fill_failed(struct rcache_policy *p, u32 slot)
{
	atomic_set(&p->rmap[slot], RCACHE_RMAP_FREE);
	if (p->free_top < RCACHE_FREE_STACK)
		p->free_stack[p->free_top++] = slot;
	p->nr_free++;
}

static void slot_drop(struct rcache_policy *p, u64 s, u32 block, bool ghost)
{
	if (atomic_read(&p->rmap[s]) & RCACHE_RMAP_PROT)
		p->nr_protected--;
	if (atomic_read(&p->map[block]) & RCACHE_MAP_PREFETCHED) {
		p->prefetch_wasted++;
		if (p->nr_wasted_notes < RCACHE_WASTED_NOTES)
			p->wasted_notes[p->nr_wasted_notes++] = block;
	}
	map_store(p, block, ghost ? RCACHE_MAP_GHOST : 0);
	atomic_set(&p->rmap[s], RCACHE_RMAP_FREEING);
	p->nr_valid--;
	p->nr_freeing++;
	if (ghost)
		p->nr_ghosts++;
}

/*
 * Moves the hand until @n victims are found or @max_steps slots were looked
 * at.  Victims become FREEING: invalid now, reusable once their empty
 * metadata entry is durable and hits that started before have drained.
 * The hand always finds one within three turns (counted across calls):
 * after a turn without a victim protection ends, and after two the next
 * valid slot goes whatever its bits (hits may set REF on every slot as fast
 * as the hand clears them).
 */
unsigned int rcache_policy_evict(struct rcache_policy *p, unsigned int n,
				 u32 *victims, u64 max_steps)
{
	unsigned int k = 0;
	u64 step;
	u32 b;

	/* cold fills first, newest first, unless referenced since */
	while (k < n && p->cold_nr) {
		u64 s = p->cold[(p->cold_head + --p->cold_nr) % RCACHE_COLD_RING];

		/* an entry may be stale: whatever the slot holds now must qualify */
		if (!slot_valid(p, s, &b) ||
		    atomic_read(&p->rmap[s]) & (RCACHE_RMAP_PROT | RCACHE_RMAP_REF))
			continue;
		slot_drop(p, s, b, true);
		victims[k++] = s;
		p->evictions++;
		p->idle_steps = 0;
	}
	for (step = 0; step < max_steps && k < n && p->nr_valid; step++) {
		u64 s = p->hand;
		u32 w;

		p->hand = s + 1 == p->nr_slots ? 0 : s + 1;
		p->idle_steps++;
		if (!slot_valid(p, s, &b))
			continue;
		w = atomic_read(&p->rmap[s]);
		if (p->idle_steps > 2 * p->nr_slots)
			goto evict;
		if (w & RCACHE_RMAP_PROT) {
			if (w & RCACHE_RMAP_REF) {
				atomic_andnot(RCACHE_RMAP_REF, &p->rmap[s]);
			} else if (p->nr_protected > p->target_protected ||
				   p->idle_steps > p->nr_slots) {
				atomic_andnot(RCACHE_RMAP_PROT, &p->rmap[s]);
				p->nr_protected--;
			}
			continue;
		}
		if (w & RCACHE_RMAP_REF) {
			atomic_andnot(RCACHE_RMAP_REF, &p->rmap[s]);
			atomic_or(RCACHE_RMAP_PROT, &p->rmap[s]);
			p->nr_protected++;
			p->promotions++;
			continue;
		}
evict:
		slot_drop(p, s, b, true);
		victims[k++] = s;
		p->evictions++;
		p->idle_steps = 0;
	}
	return k;
}

/* Drops @block if it is cached; returns its slot (now FREEING) or NO_SLOT. */
u32 rcache_policy_invalidate(struct rcache_policy *p, u32 block)
{
	u32 w = atomic_read(&p->map[block]);

	if (!(w & RCACHE_MAP_VALID))
		return RCACHE_NO_SLOT;
	slot_drop(p, rcache_map_slot(w), block, false);
	return rcache_map_slot(w);
}

/* A FREEING slot whose empty entry is durable and whose readers drained. */
void rcache_policy_release(struct rcache_policy *p, u32 slot)
{
	if (atomic_read(&p->rmap[slot]) != RCACHE_RMAP_FREEING)
		return;
	atomic_set(&p->rmap[slot], RCACHE_RMAP_FREE);
	if (p->free_top < RCACHE_FREE_STACK)
		p->free_stack[p->free_top++] = slot;
	p->nr_freeing--;
	p->nr_free++;
}

/*
 * Keeps slot @slot out of use for as long as this map lives: a daemon may
 * still write into it for an earlier instance on the same cache device.
 * Returns the block the slot held (dropped now, the caller records the
 * slot empty), or RCACHE_NO_SLOT.
 */
u32 rcache_policy_reserve(struct rcache_policy *p, u32 slot)
{
	u32 w = atomic_read(&p->rmap[slot]), block = RCACHE_NO_SLOT;
	unsigned int i;

	if (rmap_block(w) == RCACHE_RMAP_FREE) {
		for (i = 0; i < p->free_top; i++) {
			if (p->free_stack[i] == slot) {
				p->free_stack[i] = p->free_stack[--p->free_top];
				break;
			}
		}
		p->nr_free--;
	} else if (slot_valid(p, slot, &block)) {
		slot_drop(p, slot, block, false);
		p->nr_freeing--;
	} else {
		return RCACHE_NO_SLOT;	/* being filled or freed: ours, not free */
	}
	atomic_set(&p->rmap[slot], RCACHE_RMAP_RESERVED);
	p->nr_reserved++;
	return block;
}

/*
 * Ghosts are remembered until there are more of them than slots; then the
 * oldest knowledge is dropped wholesale (a pass over the map words, a few
 * words per eviction on average).  Returns true when the caller should run
 * rcache_policy_clear_ghosts().
 */
bool rcache_policy_too_many_ghosts(struct rcache_policy *p)
{
	return p->nr_ghosts > p->nr_slots;
}

void rcache_policy_clear_ghosts(struct rcache_policy *p, u64 first, u64 count)
{
	u64 b;

	for (b = first; b < first + count && b < p->nr_blocks; b++) {
		if (atomic_read(&p->map[b]) & RCACHE_MAP_GHOST) {
			atomic_andnot(RCACHE_MAP_GHOST, &p->map[b]);
			p->nr_ghosts--;
		}
	}
}

/* The metadata entry of slot @s: 0 when empty, else block + 1, or retired. */
u32 rcache_policy_entry(struct rcache_policy *p, u64 s)
{
	u32 b;

	if (slot_valid(p, s, &b))
		return b + 1;
	return atomic_read(&p->rmap[s]) == RCACHE_RMAP_RETIRED ? RCACHE_MD_ENTRY_RETIRED : 0;
}

/* Is @page among the @n ascending @pages? */
static bool page_in(const u64 *pages, unsigned int n, u64 page)
{
	unsigned int lo = 0, hi = n;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (pages[mid] == page)
			return true;
		if (pages[mid] < page)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/*
 * Plans one pass of a commit, under the device lock: takes the dirty pages
 * from *@cursor on, up to pass->cap of them (clearing their dirty bits and
 * moving *@cursor past the last one taken, or to @md_pages when none is
 * left after it), and moves out of the freeing list the slots whose page the
 * pass writes: a slot is released only once its empty entry is on disk.  A
 * page dirtied behind the cursor waits for the next commit.
 */
void rcache_md_plan_pass(atomic_t *map, u64 md_pages, u64 *cursor, u64 *nr_dirty,
			 u32 *freeing, unsigned int *nr_freeing, struct rcache_md_pass *pass)
{
	unsigned int i, kept = 0;
	u64 pg;

	pass->nr = 0;
	pass->nr_release = 0;
	for (pg = *cursor; pg < md_pages && *nr_dirty; pg++) {
		if (!rcache_md_bit(map, rcache_md_dirty_word(md_pages, pg)))
			continue;
		if (pass->nr == pass->cap)
			break;
		rcache_md_bit_assign(map, rcache_md_dirty_word(md_pages, pg), false);
		(*nr_dirty)--;
		pass->pages[pass->nr++] = pg;
	}
	*cursor = pg < md_pages && *nr_dirty ? pg : md_pages;
	for (i = 0; i < *nr_freeing; i++) {
		if (page_in(pass->pages, pass->nr, freeing[i] / RCACHE_MD_ENTRIES_PER_PAGE))
			pass->release[pass->nr_release++] = freeing[i];
		else
			freeing[kept++] = freeing[i];
	}
	*nr_freeing = kept;
}
