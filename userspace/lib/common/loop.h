/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What an epoll event loop with an io_uring dispatches, and the epoll part
 * itself.  The loop's owner (rcached's fill loop) calls w->fn() when a
 * watched fd is ready and op->done() for each io_uring completion whose
 * user data is an rc_iou; the pieces that hand it fds and operations (the
 * node reporter, the origin backends) know only these types.
 */
#ifndef RCACHE_LOOP_H
#define RCACHE_LOOP_H

#include <stdbool.h>
#include <stdint.h>

/* An fd in the event loop and what to do when it is ready. */
struct rc_watch {
	int fd;
	void (*fn)(struct rc_watch *w, uint32_t events);
	void *arg;			/* the watcher's */
	struct rc_watch *next_dead;	/* rc_loop_unwatch_free() */
};

/* An io_uring operation: its sqe's user data; done() takes the completion. */
struct rc_iou {
	void (*done)(struct rc_iou *op, int res);
};

struct rc_loop {
	int epfd;
	struct rc_watch *dead;		/* events of this round may still name them */
};

int rc_loop_open(struct rc_loop *l);
void rc_loop_close(struct rc_loop *l);
/* EPOLL* @events of @w->fd call @w->fn; @modify changes those of a watched fd. */
int rc_loop_watch(struct rc_loop *l, struct rc_watch *w, uint32_t events, bool modify);
void rc_loop_unwatch(struct rc_loop *l, struct rc_watch *w);
/* Unwatches a malloc'd watch and frees it at rc_loop_free_dead(). */
void rc_loop_unwatch_free(struct rc_loop *l, struct rc_watch *w);
/* After a round of events: frees the watches rc_loop_unwatch_free() took. */
void rc_loop_free_dead(struct rc_loop *l);

#endif
