// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-rcache sequential stream detector and prefetch window.  Pure logic
 * over a small table (the KUnit suite drives it); the target feeds it block
 * accesses and blocks dropped unread, and issues the fetches it asks for.
 *
 * Up to RCACHE_MAX_STREAMS streams per device, so that several readers
 * (DataLoader workers reading shards) are each followed.  An access belongs
 * to a stream when it falls a little behind (reordering) or a short gap
 * ahead of where the stream expects the next block.  A stream counts as
 * sequential after RCACHE_STREAM_DETECT accesses in order, so random reads
 * rarely prefetch.  Its window starts at RCACHE_WINDOW_START blocks and,
 * like readahead, grows while the reader consumes what was prefetched:
 * when it reaches the newest window, or has to wait for a block still being
 * prefetched (the window does not cover the origin's latency), the window
 * grows (four times while that fits, then twice, up to the device's
 * maximum) and is topped up at once.  Otherwise the next window is asked
 * for when the reader has used half of the current one.
 *
 * A prefetched block dropped before anyone read it (evicted, invalidated)
 * halves its stream's window, down to one block, and the stream asks again
 * for what was dropped ahead of the reader, when the reader gets near it.
 * A reader that does not catch up gets no more prefetch.
 */
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/string.h>

#include "dm-rcache.h"

#define RCACHE_STREAM_BEHIND	2	/* blocks: reordering tolerated */
#define RCACHE_STREAM_GAP	4	/* blocks: forward gap tolerated */
#define RCACHE_STREAM_DETECT	3	/* accesses in order: sequential */
#define RCACHE_WINDOW_START	4	/* blocks */
#define RCACHE_STREAM_IDLE	(5 * HZ)

void rcache_streams_init(struct rcache_streams *st, u32 max_window)
{
	memset(st, 0, sizeof(*st));
	st->max_window = max(max_window, 1U);
}

static struct rcache_stream *rcache_stream_find(struct rcache_streams *st, u64 block,
						unsigned long now)
{
	struct rcache_stream *s, *oldest = &st->s[0];
	unsigned int i;

	for (i = 0; i < RCACHE_MAX_STREAMS; i++) {
		s = &st->s[i];
		if (s->used && time_before(now, s->last + RCACHE_STREAM_IDLE) &&
		    block + RCACHE_STREAM_BEHIND >= s->next &&
		    block <= s->next + RCACHE_STREAM_GAP)
			return s;
		if (!s->used) {
			if (oldest->used)
				oldest = s;
		} else if (oldest->used && time_before(s->last, oldest->last)) {
			oldest = s;
		}
	}
	/* a new stream, in the place of the least recently used one */
	memset(oldest, 0, sizeof(*oldest));
	oldest->used = true;
	oldest->next = block;
	oldest->ahead = block;
	return oldest;
}

static u32 rcache_window_grow(u32 window, u32 max_window)
{
	/* fourfold while that fits: a slow first byte ramps up in few steps */
	return window * 4 <= max_window ? window * 4 : min(window * 2, max_window);
}

/*
 * Feeds an access to @block; @waited: the access waits for a block that is
 * being prefetched.  Returns true, with [*from, *to) set, when the stream
 * wants those blocks prefetched now.
 */
bool rcache_streams_access(struct rcache_streams *st, u64 block, unsigned long now,
			   u64 nr_blocks, bool waited, u64 *from, u64 *to)
{
	struct rcache_stream *s = rcache_stream_find(st, block, now);
	u64 end;

	s->last = now;
	if (block < s->next)
		return false;			/* reordered, or the same block again */
	s->next = block + 1;
	if (s->seq < RCACHE_STREAM_DETECT)
		s->seq++;
	if (s->seq < RCACHE_STREAM_DETECT)
		return false;
	if (!s->detected) {
		s->detected = true;
		st->detected++;
		s->window = min_t(u32, RCACHE_WINDOW_START, st->max_window);
		s->ahead = s->next;
	} else if (block < s->ahead && (block >= s->mark || waited) &&
		   s->window < st->max_window) {
		/* the reader consumes what was prefetched: widen, top up now */
		s->window = rcache_window_grow(s->window, st->max_window);
	} else if (s->ahead > s->next + s->window / 2) {
		/* not yet half way through the prefetched part: nothing to ask */
		return false;
	}
	end = min(s->next + s->window, nr_blocks);
	if (end <= max(s->ahead, s->next))
		return false;
	*from = max(s->ahead, s->next);
	*to = end;
	s->mark = *from;
	s->ahead = end;
	return true;
}

/*
 * The prefetch asked for up to @to could only be issued up to @issued (the
 * budget or the free slots ran out): the stream asks again from there on
 * its next access, rather than leaving a hole for the reader to miss.
 */
void rcache_streams_unissued(struct rcache_streams *st, u64 to, u64 issued)
{
	unsigned int i;

	for (i = 0; i < RCACHE_MAX_STREAMS; i++) {
		struct rcache_stream *s = &st->s[i];

		if (s->used && s->detected && s->ahead == to) {
			s->ahead = max(issued, s->next);
			return;
		}
	}
}

/*
 * Prefetched @block was dropped before anyone read it: the window of the
 * stream that asked for it (ahead of its reader, or skipped by it within
 * a window) was too wide for the cache or the reader.  Halve it; what was
 * dropped ahead of the reader is asked for again when the reader nears it.
 */
void rcache_streams_wasted(struct rcache_streams *st, u64 block)
{
	unsigned int i;

	for (i = 0; i < RCACHE_MAX_STREAMS; i++) {
		struct rcache_stream *s = &st->s[i];

		/* a stream's prefetches lie within a maximum window of its reader */
		if (!s->used || !s->detected || block + st->max_window < s->next ||
		    block >= s->next + st->max_window)
			continue;
		s->window = max(s->window / 2, 1U);
		if (block >= s->next)
			s->ahead = min(s->ahead, block);
		return;
	}
}

void rcache_streams_set_max(struct rcache_streams *st, u32 max_window)
{
	unsigned int i;

	st->max_window = max(max_window, 1U);
	for (i = 0; i < RCACHE_MAX_STREAMS; i++)
		st->s[i].window = min(st->s[i].window, st->max_window);
}
