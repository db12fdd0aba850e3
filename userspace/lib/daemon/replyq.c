// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stddef.h>

#include "daemon/replyq.h"

void rc_replyq_init(struct rc_replyq *q, rc_reply_send_fn send, rc_reply_done_fn done,
		    void *arg)
{
	*q = (struct rc_replyq){ .send = send, .done = done, .arg = arg,
				 .backoff_ms = RC_REPLYQ_BACKOFF_MIN_MS };
}

bool rc_reply_error_retryable(int error)
{
	return error == -ENOBUFS || error == -ENOMEM || error == -EAGAIN || error == -EINTR;
}

static void push(struct rc_replyq *q, struct rc_reply *r)
{
	r->next = NULL;
	if (q->tail)
		q->tail->next = r;
	else
		q->head = r;
	q->tail = r;
	q->len++;
}

static struct rc_reply *pop(struct rc_replyq *q)
{
	struct rc_reply *r = q->head;

	q->head = r->next;
	if (!q->head)
		q->tail = NULL;
	q->len--;
	r->next = NULL;
	return r;
}

/* The head failed for room: wait longer before the next try. */
static void back_off(struct rc_replyq *q, uint64_t now_ns)
{
	q->retry_ns = now_ns + (uint64_t)q->backoff_ms * 1000000ULL;
	q->backoff_ms = q->backoff_ms * 2 > RC_REPLYQ_BACKOFF_MAX_MS ?
		RC_REPLYQ_BACKOFF_MAX_MS : q->backoff_ms * 2;
	q->retried++;
}

void rc_replyq_send(struct rc_replyq *q, struct rc_reply *r, uint64_t now_ns)
{
	int e;

	if (q->head) {
		push(q, r);
		rc_replyq_flush(q, now_ns);
		return;
	}
	e = q->send(q->arg, r);
	if (rc_reply_error_retryable(e)) {
		push(q, r);
		back_off(q, now_ns);
		return;
	}
	q->done(q->arg, r, e);
}

void rc_replyq_flush(struct rc_replyq *q, uint64_t now_ns)
{
	while (q->head && now_ns >= q->retry_ns) {
		int e = q->send(q->arg, q->head);

		if (rc_reply_error_retryable(e)) {
			back_off(q, now_ns);
			return;
		}
		q->backoff_ms = RC_REPLYQ_BACKOFF_MIN_MS;
		q->done(q->arg, pop(q), e);
	}
}

int rc_replyq_timeout_ms(const struct rc_replyq *q, uint64_t now_ns)
{
	if (!q->head)
		return -1;
	if (now_ns >= q->retry_ns)
		return 0;
	return (int)((q->retry_ns - now_ns + 999999) / 1000000);
}

void rc_replyq_abandon(struct rc_replyq *q, int error)
{
	while (q->head)
		q->done(q->arg, pop(q), error);
	q->backoff_ms = RC_REPLYQ_BACKOFF_MIN_MS;
	q->retry_ns = 0;
}
