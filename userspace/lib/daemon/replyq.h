/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * FETCH_DONE replies that could not be sent yet.  The kernel waits for every
 * reply (its reader, or the slot it keeps reserved), so a reply is never
 * dropped because the socket was short of memory or buffer room (ENOBUFS,
 * ENOMEM, EAGAIN): it waits here, in order, and the event loop tries again
 * with a growing delay.  Other errors (the kernel refused it, the family is
 * gone) end the reply: there is no one left to take it.
 */
#ifndef RCACHE_REPLYQ_H
#define RCACHE_REPLYQ_H

#include <stdbool.h>
#include <stdint.h>

#include "kernel/genl.h"

/* One reply.  The caller owns its memory; done() hands it back. */
struct rc_reply {
	struct rc_reply *next;
	struct rc_nl_fetch fx;
	int error;			/* negative errno or 0 */
	uint32_t flags;			/* RCACHE_DONE_F_* */
};

/* Sends one reply: 0, or a negative errno. */
typedef int (*rc_reply_send_fn)(void *arg, const struct rc_reply *r);
/* The reply was sent (@error 0) or given up (@error the send's). */
typedef void (*rc_reply_done_fn)(void *arg, struct rc_reply *r, int error);

#define RC_REPLYQ_BACKOFF_MIN_MS 1
#define RC_REPLYQ_BACKOFF_MAX_MS 200

struct rc_replyq {
	struct rc_reply *head, *tail;
	unsigned int len;
	unsigned int backoff_ms;	/* the next retry's delay */
	uint64_t retry_ns;		/* when the head is tried again */
	uint64_t retried;		/* sends that failed for room, then waited */
	rc_reply_send_fn send;
	rc_reply_done_fn done;
	void *arg;
};

void rc_replyq_init(struct rc_replyq *q, rc_reply_send_fn send, rc_reply_done_fn done,
		    void *arg);
/* A send error worth waiting out. */
bool rc_reply_error_retryable(int error);
/*
 * Sends @r now, unless replies wait already (it queues behind them, in
 * order); a send that fails for room queues it.  done() runs once for @r,
 * now or from a later rc_replyq_flush().
 */
void rc_replyq_send(struct rc_replyq *q, struct rc_reply *r, uint64_t now_ns);
/* Sends what waits, in order, when its time has come; stops at the first
 * one that fails for room again. */
void rc_replyq_flush(struct rc_replyq *q, uint64_t now_ns);
/* Milliseconds until the next retry is due (0: now), -1 when nothing waits. */
int rc_replyq_timeout_ms(const struct rc_replyq *q, uint64_t now_ns);
/* Gives up every waiting reply (done() with @error): the socket is closing. */
void rc_replyq_abandon(struct rc_replyq *q, int error);

#endif
