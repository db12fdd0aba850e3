/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * rcached's fill loop, its private parts (daemon.c).
 *
 * A fill is one FETCH.  Fills wait on their device (demand before prefetch)
 * until the loop hands a group of adjacent ones to the device's origin
 * backend (origin/backend.h), which reads their origin range in one piece
 * into a shared buffer and ends the group's read; the loop writes each
 * fill's slice into the cache device with O_DIRECT through io_uring and
 * answers FETCH_DONE.
 */
#ifndef RCACHE_RCD_H
#define RCACHE_RCD_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "common/ini.h"
#include "common/loop.h"
#include "daemon/bufpool.h"
#include "daemon/config.h"
#include "daemon/node.h"
#include "daemon/replyq.h"
#include "kernel/genl.h"
#include "origin/aws.h"
#include "origin/backend.h"
#include "origin/credrefresh.h"
#include "origin/url.h"

#define RCD_NBACKENDS 2		/* file, http (s3 too) */

struct rcd;
struct rcd_fill;

struct rcd_device {
	struct rcd_device *next;
	struct rcd *d;
	struct rc_nl_device info;
	struct rc_url url;
	struct rco_device od;		/* what its backend sees of it; od.stale, od.removed */
	const struct rco_ops *ops;
	struct rco_handle *origin;	/* the backend's, once open */
	int cache_fd;			/* O_DIRECT */
	struct rcd_fill *pending;	/* waiting for a read: demand, then prefetch */
	uint64_t pending_bytes;		/* their origin bytes */
	unsigned int refs;		/* fills and origin operations in flight */
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
	struct rc_iou iou;		/* the cache write */
	struct rc_reply reply;		/* its FETCH_DONE, while it waits to be sent */
	struct rcd_fill *next;		/* engine wait list, or dev->pending */
	struct rc_nl_fetch fx;
	struct rcd_device *dev;
	uint8_t *buf;
	size_t buf_len;			/* fx.length rounded up to RCO_ALIGN */
	struct rcd_shared_buf *share;	/* buf is a slice of it */
	size_t done;
	uint64_t start_ns;		/* FETCH received (fill latency metrics) */
	bool alone;			/* never coalesced again (its group failed) */
};

/* Fills of adjacent blocks, read from the origin in one piece. */
struct rcd_group {
	struct rco_read read;		/* the backend's read of their range into share */
	struct rcd_device *dev;
	struct rcd_fill **fills;
	unsigned int nfills;
	struct rcd_shared_buf *share;
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
	struct rco_env env;		/* the backends' view; env.draining: exiting,
					 * no new cache write or origin read */
	struct rco_backend *backends[RCD_NBACKENDS];	/* file, http: made on first use */
	struct rc_replyq replies;	/* FETCH_DONEs waiting for socket room */
	struct rc_loop loop;
	struct rc_watch sig_w, ring_w, nl_w;
	struct rcd_device *devices;
	struct rcd_fill *wait_head, *wait_tail;
	unsigned int nr_fills;
	uint64_t buffer_bytes;
	struct rc_bufpool bufs;		/* group buffers, used again */
	bool stopping;
	uint64_t stop_deadline_ns;	/* stopping: exit then, fills or not */
	bool curl_ok;			/* curl_global_init() done */
	struct rcd_node *node;		/* node.c: reports, metrics, declared devices */
};

#endif
