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
 * Only valid slots are candidates: a slot being filled is never evicted, and
 * a slot evicted while hits are still reading it is not reused before they
 * drain (dm-rcache-target.c).  Callers hold the device lock, except for
 * rcache_policy_hit().
 */
#include <linux/kernel.h>
#include <linux/string.h>

#include "dm-rcache.h"

static inline u32 rmap_block(u32 w)
{
	return w & RCACHE_RMAP_BLOCK_MASK;
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

/* A slot the metadata says holds @block (loading a persistent cache). */
void rcache_policy_load(struct rcache_policy *p, u32 slot, u32 block)
{
	atomic_set(&p->rmap[slot], block);
	atomic_set(&p->map[block], RCACHE_MAP_VALID | slot);
	p->nr_free--;
	p->nr_valid++;
}

static u32 free_pop(struct rcache_policy *p)
{
	u64 i;

	if (!p->nr_free)
		return RCACHE_NO_SLOT;
	if (!p->free_top) {
		/* refill the small stack from the rmap, from where we stopped */
		for (i = 0; i < p->nr_slots && p->free_top < RCACHE_FREE_STACK; i++) {
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

/*
 * @block's data is in @slot: make it valid (@prefetched: nobody asked for it
 * yet).  Returns the new map word.
 */
u32 rcache_policy_filled(struct rcache_policy *p, u32 slot, u32 block, bool prefetched)
{
	u32 m = RCACHE_MAP_VALID | slot | (prefetched ? RCACHE_MAP_PREFETCHED : 0);
	u32 w = atomic_read(&p->rmap[slot]);

	if (atomic_read(&p->map[block]) & RCACHE_MAP_GHOST) {
		/* evicted from probation and wanted again: it is hot */
		w |= RCACHE_RMAP_PROT;
		p->nr_protected++;
		p->nr_ghosts--;
	}
	atomic_set(&p->rmap[slot], w);
	atomic_set(&p->map[block], m);
	p->nr_valid++;
	if (++p->fills_in_epoch >= p->epoch_len) {
		p->fills_in_epoch = 0;
		WRITE_ONCE(p->epoch, p->epoch + 1);
	}
	return m;
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
	atomic_set(&p->map[block], ghost ? RCACHE_MAP_GHOST : 0);
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
 */
unsigned int rcache_policy_evict(struct rcache_policy *p, unsigned int n,
				 u32 *victims, u64 max_steps)
{
	unsigned int k = 0;
	u64 step;
	u32 b;

	for (step = 0; step < max_steps && k < n && p->nr_valid; step++) {
		u64 s = p->hand;
		u32 w;

		p->hand = s + 1 == p->nr_slots ? 0 : s + 1;
		if (!slot_valid(p, s, &b))
			continue;
		w = atomic_read(&p->rmap[s]);
		if (w & RCACHE_RMAP_PROT) {
			/* after a whole turn without a victim, protection ends too */
			if (w & RCACHE_RMAP_REF) {
				atomic_andnot(RCACHE_RMAP_REF, &p->rmap[s]);
			} else if (p->nr_protected > p->target_protected ||
				   step >= p->nr_slots) {
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
		slot_drop(p, s, b, true);
		victims[k++] = s;
		p->evictions++;
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

/* The metadata entry of slot @s: 0 when empty, else block + 1. */
u32 rcache_policy_entry(struct rcache_policy *p, u64 s)
{
	u32 b;

	return slot_valid(p, s, &b) ? b + 1 : 0;
}
