// SPDX-License-Identifier: GPL-2.0-only
#include <stdlib.h>
#include <string.h>

#include "daemon/bufpool.h"

void rc_bufpool_init(struct rc_bufpool *bp, uint64_t max_idle)
{
	memset(bp, 0, sizeof(*bp));
	bp->max_idle = max_idle;
}

static unsigned int size_class(size_t len, size_t *cap)
{
	unsigned int c = 0;
	size_t size = RC_BUFPOOL_MIN;

	while (size < len && c + 1 < RC_BUFPOOL_CLASSES) {
		size <<= 1;
		c++;
	}
	*cap = size;
	return c;
}

void *rc_bufpool_get(struct rc_bufpool *bp, size_t len, size_t align, size_t *cap)
{
	unsigned int c = size_class(len, cap);
	void *p = bp->idle[c];

	if (p && !((uintptr_t)p % align)) {
		memcpy(&bp->idle[c], p, sizeof(void *));
		bp->idle_bytes -= *cap;
		bp->reused++;
		return p;
	}
	if (*cap < len || posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, *cap))
		return NULL;
	bp->allocated++;
	return p;
}

void rc_bufpool_put(struct rc_bufpool *bp, void *p, size_t cap)
{
	size_t c_cap;
	unsigned int c;

	if (!p)
		return;
	c = size_class(cap, &c_cap);
	if (c_cap != cap || bp->idle_bytes + cap > bp->max_idle) {
		free(p);
		return;
	}
	memcpy(p, &bp->idle[c], sizeof(void *));
	bp->idle[c] = p;
	bp->idle_bytes += cap;
}

void rc_bufpool_clear(struct rc_bufpool *bp)
{
	unsigned int c;

	for (c = 0; c < RC_BUFPOOL_CLASSES; c++) {
		while (bp->idle[c]) {
			void *p = bp->idle[c];

			memcpy(&bp->idle[c], p, sizeof(void *));
			free(p);
		}
	}
	bp->idle_bytes = 0;
}
