// SPDX-License-Identifier: GPL-2.0-only
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "common/loop.h"

int rc_loop_open(struct rc_loop *l)
{
	l->dead = NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	return l->epfd < 0 ? -1 : 0;
}

void rc_loop_close(struct rc_loop *l)
{
	rc_loop_free_dead(l);
	if (l->epfd >= 0)
		close(l->epfd);
	l->epfd = -1;
}

int rc_loop_watch(struct rc_loop *l, struct rc_watch *w, uint32_t events, bool modify)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	return epoll_ctl(l->epfd, modify ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, w->fd, &ev);
}

void rc_loop_unwatch(struct rc_loop *l, struct rc_watch *w)
{
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
}

void rc_loop_unwatch_free(struct rc_loop *l, struct rc_watch *w)
{
	rc_loop_unwatch(l, w);
	w->fn = NULL;	/* an event of this round that names it is skipped */
	w->next_dead = l->dead;
	l->dead = w;
}

void rc_loop_free_dead(struct rc_loop *l)
{
	while (l->dead) {
		struct rc_watch *w = l->dead;

		l->dead = w->next_dead;
		free(w);
	}
}
