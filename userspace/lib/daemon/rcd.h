/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * rcached internals shared by the engine (daemon.c) and the origin
 * backends (origin_file.c, origin_http.c).
 *
 * A fill is one FETCH.  Fills wait on their device (demand before prefetch)
 * until the engine hands a group of adjacent ones to the backend, which
 * reads their origin range in one piece into a shared buffer and calls
 * rcd_group_done(); the engine writes each fill's slice into the cache
 * device with O_DIRECT through io_uring and answers FETCH_DONE.
 */
#ifndef RCACHE_RCD_H
#define RCACHE_RCD_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

#include "origin/aws.h"
#include "daemon/bufpool.h"
#include "origin/credrefresh.h"
#include "daemon/daemon.h"
#include "common/error.h"
#include "kernel/genl.h"
#include "common/ini.h"
#include "daemon/replyq.h"
#include "origin/url.h"

#define RCD_ALIGN 4096
/*
 * Default of coalesce_min: coalesced reads are at least this big when that
 * many bytes wait, so a GET's time to first byte is paid for 2 MiB or more.
 * Bigger is slower to ramp up: a stream's first prefetch windows then go out
 * as one or two long GETs instead of several parallel ones (measured against
 * 4 MiB: a cold sequential read from S3 about 1.7x faster, the ext4 exercise
 * about 1.7x).
 */
#define RCD_MIN_COALESCE (2u << 20)

struct rcd;
struct rcd_device;
struct rcd_fill;
struct rcd_node;

/* An fd in the event loop and what to do when it is ready. */
struct rcd_watch {
	int fd;
	void (*fn)(struct rcd *d, struct rcd_watch *w, uint32_t events);
	void *arg;
	struct rcd_watch *next_dead;	/* rcd_unwatch_free() */
};

/* An io_uring operation: what to do with its completion. */
struct rcd_iou {
	void (*done)(struct rcd *d, struct rcd_iou *op, int res);
};

struct rcd_group;

struct rcd_origin_ops {
	const char *name;
	/*
	 * per device: open the origin.  May finish later (dev->opening set):
	 * then it ends in rcd_device_opened(), and nothing in between may
	 * block on the origin (a hung mount stalls only this device).
	 */
	int (*open)(struct rcd *d, struct rcd_device *dev, struct rc_err *err);
	void (*close)(struct rcd *d, struct rcd_device *dev);
	/* before each fill: 0, or -ESTALE once the origin changed */
	int (*check)(struct rcd *d, struct rcd_device *dev);
	/*
	 * How many reads the waiting fills of @dev should be spread over now:
	 * 0 when no read can start, else the reads the backend could run at
	 * once (coalescing trades parallel reads for fewer, larger ones).
	 */
	unsigned int (*spread)(struct rcd *d, struct rcd_device *dev);
	/* read g->off..g->len into g->share->p; ends in rcd_group_done() */
	void (*start)(struct rcd *d, struct rcd_group *g);
};

struct rcd_device {
	struct rcd_device *next;
	struct rc_nl_device info;
	struct rc_url url;
	const struct rcd_origin_ops *ops;
	void *origin;			/* backend state */
	int cache_fd;			/* O_DIRECT */
	struct rcd_fill *pending;	/* waiting for a read: demand, then prefetch */
	uint64_t pending_bytes;		/* their origin bytes */
	unsigned int refs;		/* fills and origin operations in flight */
	bool removed;
	bool stale;
	bool opening;			/* the origin's open has not finished */
	bool broken;			/* its open failed: only its fills still hold it */
};

/* A buffer several coalesced fills write their slices from. */
struct rcd_shared_buf {
	uint8_t *p;
	size_t cap;			/* bytes, from the buffer pool */
	unsigned int refs;
};

struct rcd_fill {
	struct rcd_iou iou;		/* the cache write */
	struct rc_reply reply;		/* its FETCH_DONE, while it waits to be sent */
	struct rcd_fill *next;		/* engine wait list, or dev->pending */
	struct rc_nl_fetch fx;
	struct rcd_device *dev;
	uint8_t *buf;
	size_t buf_len;			/* fx.length rounded up to RCD_ALIGN */
	struct rcd_shared_buf *share;	/* buf is a slice of it */
	size_t done;
	uint64_t start_ns;		/* FETCH received (fill latency metrics) */
	bool alone;			/* never coalesced again (its group failed) */
};

/* Fills of adjacent blocks, read from the origin in one piece. */
struct rcd_group {
	struct rcd_iou iou;		/* a file origin's read */
	struct rcd_device *dev;
	struct rcd_fill **fills;
	unsigned int nfills;
	struct rcd_shared_buf *share;
	uint64_t off;
	size_t len;
	size_t done;
	void *priv;			/* the backend's */
};

struct rcd {
	struct rcd_config cfg;
	struct rc_ini conf;		/* rcached.conf (may be empty) */
	struct rc_aws aws;		/* the event loop's copy */
	bool aws_loaded;
	struct rc_cred_refresher *refresher;	/* web identity: STS off the loop */
	struct rc_genl fill;		/* registered; FETCH in, FETCH_DONE out */
	struct rc_genl ctl;		/* GET_STATUS, SET_STATE */
	struct nl_cb *cb;
	struct io_uring ring;
	bool ring_ok;
	unsigned int pending_sqes;
	unsigned int ring_inflight;	/* operations submitted, not completed */
	unsigned int writes_inflight;	/* of them, cache writes */
	bool draining;			/* exiting: no new cache write or origin read */
	struct rc_replyq replies;	/* FETCH_DONEs waiting for socket room */
	int epfd;
	struct rcd_watch sig_w, ring_w, nl_w;
	struct rcd_device *devices;
	struct rcd_fill *wait_head, *wait_tail;
	unsigned int nr_fills;
	uint64_t buffer_bytes;
	struct rc_bufpool bufs;		/* group buffers, used again */
	bool stopping;
	uint64_t stop_deadline_ns;	/* stopping: exit then, fills or not */
	struct rcd_watch *dead_watches;	/* events of this round may still name them */
	void *http;			/* origin_http.c state */
	bool curl_ok;			/* curl_global_init() done */
	struct rcd_node *node;		/* node.c: reports, metrics, declared devices */
};

/* engine services for the backends */
/* Ends the group's origin read: each fill goes on to its cache write, or
 * fails (@what NULL: the backend logged the error already). */
void rcd_group_done(struct rcd *d, struct rcd_group *g, int error, const char *what);
void rcd_fence(struct rcd *d, struct rcd_device *dev, const char *reason);
/* An origin open that dev->opening announced ended: @error 0 or a negative
 * errno, @what saying what failed (the fills waiting on it fail with it). */
void rcd_device_opened(struct rcd *d, struct rcd_device *dev, int error, const char *what);
/* A backend's asynchronous operation holds its device while in flight. */
void rcd_device_hold(struct rcd_device *dev);
void rcd_device_release(struct rcd *d, struct rcd_device *dev);
struct io_uring_sqe *rcd_get_sqe(struct rcd *d);
int rcd_watch(struct rcd *d, struct rcd_watch *w, uint32_t events, bool modify);
void rcd_unwatch(struct rcd *d, struct rcd_watch *w);
/* Unwatches a malloc'd watch and frees it once the current events are handled. */
void rcd_unwatch_free(struct rcd *d, struct rcd_watch *w);
/* S3 settings, loaded on first use (a file-only host needs none) */
struct rc_aws *rcd_aws_settings(struct rcd *d, struct rc_err *err);
/* ...with credentials to sign with; NULL with err->code EAGAIN until the
 * first web-identity credentials arrive */
struct rc_aws *rcd_aws(struct rcd *d, struct rc_err *err);
/* A request found the credentials expired: refresh them (in the background). */
void rcd_aws_expired(struct rcd *d);

extern const struct rcd_origin_ops rcd_origin_file;
extern const struct rcd_origin_ops rcd_origin_http;
/* issue what the waiting fills of every device allow */
void rcd_kick(struct rcd *d);
void rcd_http_exit(struct rcd *d);

#endif
