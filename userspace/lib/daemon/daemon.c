// SPDX-License-Identifier: GPL-2.0-only
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/netlink.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/daemon.h"
#include "daemon/rcd.h"
#include "kernel/devnode.h"

#define RCD_RING_ENTRIES	256
#define RCD_RCVBUF		(16 << 20)
#define RCD_IDLE_BUFFERS	(64ULL << 20)	/* fill buffers kept for reuse */
/*
 * io-wq workers for blocking operations (file origins' reads, opens and
 * stats): the kernel's default is 4 per CPU, which a few reads stuck on a
 * hung NFS mount would use up, stalling every other device's reads.
 */
#define RCD_IOWQ_BOUNDED	128
#define RCD_DRAIN_LOG_NS	(10ULL * 1000000000ULL)
#define RCD_EXIT_REPLY_NS	(2ULL * 1000000000ULL)	/* last tries of waiting replies */

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

/* ------------------------------------------------------------------ */
/* Event loop services                                                 */

static struct io_uring_sqe *rcd_get_sqe(struct rcd *d)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&d->ring);

	if (!sqe) {
		io_uring_submit(&d->ring);
		d->pending_sqes = 0;
		sqe = io_uring_get_sqe(&d->ring);
	}
	if (sqe) {
		d->pending_sqes++;
		d->ring_inflight++;	/* each one completes once: on_ring() */
	}
	return sqe;
}

static struct rc_aws *rcd_aws_settings(struct rcd *d, struct rc_err *err)
{
	if (!d->aws_loaded) {
		if (rc_aws_load(&d->aws, &d->conf, err))
			return NULL;
		d->aws_loaded = true;
		rc_info("S3: region %s, endpoint %s, credentials from %s", d->aws.region,
			d->aws.endpoint[0] ? d->aws.endpoint : "AWS", d->aws.source_desc);
	}
	return &d->aws;
}

static struct rc_aws *rcd_aws(struct rcd *d, struct rc_err *err)
{
	if (!rcd_aws_settings(d, err))
		return NULL;
	if (d->aws.source != RC_CREDS_WEB_IDENTITY)
		return &d->aws;
	/* STS is called from the refresher's thread only, the first time too */
	if (!d->refresher && rc_cred_refresher_start(&d->refresher, &d->aws, err))
		return NULL;
	if (rc_cred_refresher_take(d->refresher, &d->aws, err))
		return NULL;
	return &d->aws;
}

/* Expired credentials: new ones are asked for when they come from STS. */
static bool rcd_aws_expired(struct rcd *d)
{
	if (d->aws.source != RC_CREDS_WEB_IDENTITY)
		return false;
	if (d->refresher)
		rc_cred_refresher_kick(d->refresher);
	return true;
}

/* ------------------------------------------------------------------ */
/* Devices                                                             */

/* the origin backends, by rc_url_is_http() */
static const struct rco_ops *const rcd_backends[RCD_NBACKENDS] = { &rco_file_ops, &rco_http_ops };

static void device_close(struct rcd_device *dev)
{
	while (dev->pending) {	/* exiting: the kernel re-sends them */
		struct rcd_fill *f = dev->pending;

		dev->pending = f->next;
		free(f);
	}
	if (dev->origin)
		dev->ops->close(dev->origin);
	if (dev->cache_fd >= 0)
		close(dev->cache_fd);
	free(dev);
}

static void device_unlink(struct rcd *d, struct rcd_device *dev)
{
	struct rcd_device **pp;

	for (pp = &d->devices; *pp; pp = &(*pp)->next) {
		if (*pp == dev) {
			*pp = dev->next;
			break;
		}
	}
}

static void device_put(struct rcd *d, struct rcd_device *dev)
{
	if (--dev->refs == 0 && (dev->od.removed || dev->broken)) {
		device_unlink(d, dev);
		device_close(dev);
	}
}

static void rcd_fence(struct rcd *d, struct rcd_device *dev, const char *reason)
{
	struct rc_err err;

	if (dev->od.stale)
		return;
	dev->od.stale = true;
	rc_err("%s: %s; misses fail until the device is re-created", dev->info.name, reason);
	if (rc_genl_set_state(&d->ctl, dev->info.dev_id, RCACHE_STATE_STALE, reason, &err))
		rc_err("%s: %s", dev->info.name, err.msg);
}

static struct rcd_device *device_get(struct rcd *d, uint64_t dev_id, struct rc_err *err)
{
	struct rcd_device *dev;
	unsigned int backend;
	char size[32];
	int r;

	for (dev = d->devices; dev; dev = dev->next)
		if (dev->info.dev_id == dev_id && !dev->od.removed && !dev->broken)
			return dev;

	dev = calloc(1, sizeof(*dev));
	if (!dev) {
		rc_errf(err, ENOMEM, "out of memory");
		return NULL;
	}
	dev->d = d;
	dev->cache_fd = -1;
	if (rc_genl_get_device(&d->ctl, dev_id, &dev->info, err) ||
	    rc_url_parse(dev->info.origin, &dev->url, err))
		goto bad;
	/* the cache device is local: opened here, before the origin */
	dev->cache_fd = rc_open_blockdev(dev->info.cache_dev, O_RDWR | O_DIRECT,
					 d->cfg.runtime_dir, err);
	if (dev->cache_fd < 0) {
		dev->cache_fd = -1;
		rc_err_prefix(err, "%s: cache device", dev->info.name);
		goto bad;
	}
	dev->od = (struct rco_device){
		.name = dev->info.name,
		.origin = dev->info.origin,
		.url = &dev->url,
		.identity = dev->info.identity,
		.size = dev->info.origin_size,
		.stale = dev->info.state == RCACHE_STATE_STALE,
	};
	backend = rc_url_is_http(&dev->url) ? 1 : 0;
	dev->ops = rcd_backends[backend];
	/* the backend's state, made for the first device of its kind */
	if (!d->backends[backend] && !(d->backends[backend] = dev->ops->create(&d->env, err)))
		goto bad;
	r = dev->ops->open(d->backends[backend], &dev->od, &dev->origin, err);
	if (r < 0) {
		dev->origin = NULL;
		goto bad;
	}
	dev->opening = r == RCO_OPENING;
	dev->next = d->devices;
	d->devices = dev;
	if (!dev->opening)
		rc_info("%s: serving origin %s (%s blocks, %s)", dev->info.name, dev->info.origin,
			rc_fmt_bytes(dev->info.block_size, size, sizeof(size)), dev->ops->name);
	return dev;
bad:
	device_close(dev);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Fills                                                               */

static void fill_start(struct rcd *d, struct rcd_fill *f);
static void pending_add(struct rcd_device *dev, struct rcd_fill *f);

/* Lets go of the fill's slice of its group's buffer. */
static void fill_drop_buffer(struct rcd *d, struct rcd_fill *f)
{
	if (f->share && --f->share->refs == 0) {
		rc_bufpool_put(&d->bufs, f->share->p, f->share->cap);
		free(f->share);
	}
	f->share = NULL;
	f->buf = NULL;
}

/* The reply queue's: a FETCH_DONE sent (or given up), its fill freed. */
static int reply_send(void *arg, const struct rc_reply *r)
{
	struct rcd *d = arg;

	return rc_genl_fetch_done(&d->fill, &r->fx, r->error, r->flags);
}

static void reply_done(void *arg, struct rc_reply *r, int error)
{
	struct rcd_fill *f = (struct rcd_fill *)((char *)r - offsetof(struct rcd_fill, reply));

	(void)arg;
	if (error)
		rc_err("FETCH_DONE for request %u (device %" PRIu64 ", block %" PRIu64 "): %s",
		       r->fx.req_id, r->fx.dev_id, r->fx.block, strerror(-error));
	free(f);
}

/*
 * Ends a fill: answers FETCH_DONE with @error (and @flags, RCACHE_DONE_F_*)
 * and frees it once the answer is sent.  @what names the step that failed;
 * NULL when the backend already logged the error, once.
 */
static void fill_finish_from(struct rcd *d, struct rcd_fill *f, int error, const char *what,
			     uint32_t flags)
{
	uint64_t first = f->fx.origin_offset, last = first + f->fx.length - 1;
	struct rcd_device *dev = f->dev;
	bool answer;

	if (error && error != -ESTALE && error != -ECANCELED && what) {
		if (flags & RCACHE_DONE_F_CACHE_WRITE)
			rc_err("%s: cache device %u:%u: %s of %zu bytes at offset %" PRIu64
			       " (block %" PRIu64 ") failed: %s (errno %d)",
			       dev ? dev->info.name : "?",
			       dev ? major(dev->info.cache_dev) : 0, dev ? minor(dev->info.cache_dev) : 0,
			       what, f->buf_len, f->fx.cache_offset, f->fx.block, strerror(-error),
			       -error);
		else
			rc_err("origin %s: %s of bytes %" PRIu64 "-%" PRIu64 " (block %" PRIu64
			       ") failed: %s (errno %d)",
			       dev ? dev->info.origin : "?", what, first, last, f->fx.block,
			       strerror(-error), -error);
	}
	/*
	 * A fill cancelled because we are exiting is re-sent to the next
	 * daemon.  One of a removed device is answered: the kernel keeps its
	 * slot out of use until it knows we will not write it.
	 */
	answer = error != -ECANCELED || (dev && dev->od.removed);
	rc_debug("request %u (block %" PRIu64 "%s): done (%d) after %.1f ms", f->fx.req_id,
		 f->fx.block, f->fx.flags & RCACHE_FETCH_F_PREFETCH ? ", prefetch" : "", error,
		 (rc_now_ns() - f->start_ns) / 1e6);
	rcd_node_fill_done(d->node, dev ? dev->info.name : NULL, rc_now_ns() - f->start_ns, error);
	fill_drop_buffer(d, f);
	d->buffer_bytes -= f->buf_len;
	f->dev = NULL;
	if (dev)
		device_put(d, dev);
	d->nr_fills--;
	if (answer) {
		f->reply.fx = f->fx;
		f->reply.error = error;
		f->reply.flags = flags;
		/* sent now, or kept until the socket has room: never lost */
		rc_replyq_send(&d->replies, &f->reply, rc_now_ns());
	} else {
		free(f);
	}

	/* A finished fill frees room for the ones waiting. */
	while (d->wait_head && !d->stopping && d->nr_fills < d->cfg.max_fills &&
	       d->buffer_bytes + d->wait_head->buf_len <= d->cfg.max_buffer_bytes) {
		struct rcd_fill *next = d->wait_head;

		d->wait_head = next->next;
		if (!d->wait_head)
			d->wait_tail = NULL;
		fill_start(d, next);
	}
}

static void fill_finish(struct rcd *d, struct rcd_fill *f, int error, const char *what)
{
	fill_finish_from(d, f, error, what, 0);
}

/* Ends a fill that never started (no buffer charged). */
static void fill_refuse(struct rcd *d, struct rcd_fill *f, int error, const char *what)
{
	d->nr_fills++;
	f->buf_len = 0;
	fill_finish(d, f, error, what);
}

static void write_complete(struct rc_iou *op, int res);

static void fill_submit_write(struct rcd *d, struct rcd_fill *f)
{
	struct io_uring_sqe *sqe;

	/*
	 * The slot may belong to another device on this cache by now; and
	 * once we are draining, no new write starts: the fill goes back to
	 * the kernel with our socket.
	 */
	if (f->dev->od.removed || d->env.draining) {
		fill_finish(d, f, -ECANCELED, NULL);
		return;
	}
	sqe = rcd_get_sqe(d);
	if (!sqe) {
		fill_finish(d, f, -EBUSY, "queueing the cache write");
		return;
	}
	d->writes_inflight++;
	f->iou.done = write_complete;
	io_uring_prep_write(sqe, f->dev->cache_fd, f->buf + f->done, f->buf_len - f->done,
			    f->fx.cache_offset + f->done);
	io_uring_sqe_set_data(sqe, &f->iou);
}

/* Ends the group's origin read: each fill goes on to its cache write, or
 * fails (@what NULL: the backend logged the error already). */
static void rcd_group_done(struct rcd *d, struct rcd_group *g, int error, const char *what)
{
	/*
	 * A coalesced read that failed for an I/O reason (retries exhausted, a
	 * bad range, a truncated file) is tried again block by block, so that
	 * only the blocks that really cannot be read fail.
	 */
	bool split = error == -EIO && g->nfills > 1 && !d->stopping;
	unsigned int i;

	if (split)
		rc_info("origin %s: retrying %u blocks of bytes %" PRIu64 "-%" PRIu64 " one by one",
			g->dev->info.origin, g->nfills, g->read.off, g->read.off + g->read.len - 1);
	for (i = 0; i < g->nfills; i++) {
		struct rcd_fill *f = g->fills[i];

		if (split && !f->dev->od.removed) {
			fill_drop_buffer(d, f);
			f->alone = true;
			pending_add(f->dev, f);
			continue;
		}
		if (error) {
			fill_finish(d, f, error, what);
			continue;
		}
		/* the tail of a partial last block reads as zeros */
		memset(f->buf + f->fx.length, 0, f->buf_len - f->fx.length);
		f->done = 0;
		fill_submit_write(d, f);
	}
	free(g->fills);
	free(g);
}

/* The backend's rco_read.done() */
static void group_read_done(struct rco_read *r, int error, const char *what)
{
	struct rcd_group *g = (struct rcd_group *)((char *)r - offsetof(struct rcd_group, read));

	rcd_group_done(r->cookie, g, error, what);
}

/* Waiting fills are served demand first, then prefetches, each in order. */
static void pending_add(struct rcd_device *dev, struct rcd_fill *f)
{
	bool prefetch = f->fx.flags & RCACHE_FETCH_F_PREFETCH;
	struct rcd_fill **pp = &dev->pending;

	while (*pp && (prefetch || !((*pp)->fx.flags & RCACHE_FETCH_F_PREFETCH)))
		pp = &(*pp)->next;
	f->next = *pp;
	*pp = f;
	dev->pending_bytes += f->fx.length;
}

/*
 * The engine's wait list (fills beyond max_fills or max_buffer) is served
 * like the devices' pending lists: demand first, then prefetches, each in
 * order.
 */
static void wait_add(struct rcd *d, struct rcd_fill *f)
{
	struct rcd_fill **pp = &d->wait_head;

	if (f->fx.flags & RCACHE_FETCH_F_PREFETCH)
		pp = d->wait_tail ? &d->wait_tail->next : &d->wait_head;
	else
		while (*pp && !((*pp)->fx.flags & RCACHE_FETCH_F_PREFETCH))
			pp = &(*pp)->next;
	f->next = *pp;
	*pp = f;
	if (!f->next)
		d->wait_tail = f;
}

/*
 * The kernel tells us that a reader now waits for a fill we hold as a
 * prefetch: if it still waits (for room, or for an origin read), it moves
 * ahead of the prefetches.  Once its read started there is nothing to do.
 */
static void on_upgrade(struct rcd *d, const struct rc_nl_fetch *fx)
{
	struct rcd_fill **pp, *f, *prev = NULL;
	struct rcd_device *dev;

	for (pp = &d->wait_head; (f = *pp); prev = f, pp = &f->next) {
		if (f->fx.req_id != fx->req_id)
			continue;
		*pp = f->next;
		if (d->wait_tail == f)
			d->wait_tail = prev;
		f->fx.flags &= ~RCACHE_FETCH_F_PREFETCH;
		wait_add(d, f);
		rc_debug("request %u (block %" PRIu64 "): awaited now, ahead of the prefetches",
			 fx->req_id, fx->block);
		return;
	}
	for (dev = d->devices; dev; dev = dev->next) {
		for (pp = &dev->pending; (f = *pp); pp = &f->next) {
			if (f->fx.req_id != fx->req_id)
				continue;
			*pp = f->next;
			dev->pending_bytes -= f->fx.length;
			f->fx.flags &= ~RCACHE_FETCH_F_PREFETCH;
			pending_add(dev, f);
			rc_debug("request %u (block %" PRIu64 "): awaited now, ahead of the prefetches",
				 fx->req_id, fx->block);
			return;
		}
	}
	rc_debug("request %u (block %" PRIu64 "): awaited now, its read is under way",
		 fx->req_id, fx->block);
}

static void fill_start(struct rcd *d, struct rcd_fill *f)
{
	d->nr_fills++;
	d->buffer_bytes += f->buf_len;
	pending_add(f->dev, f);
}

/*
 * How big a coalesced read of @dev may grow: the waiting bytes spread over
 * @spread reads, at least coalesce_min_bytes, at most coalesce_bytes.
 */
static uint64_t coalesce_limit(struct rcd *d, struct rcd_device *dev, unsigned int spread)
{
	uint64_t limit = (dev->pending_bytes + spread - 1) / spread;

	if (limit < d->cfg.coalesce_min_bytes)
		limit = d->cfg.coalesce_min_bytes;
	return limit < d->cfg.coalesce_bytes ? limit : d->cfg.coalesce_bytes;
}

/*
 * Takes the first waiting fill of @dev and the waiting fills adjacent to it
 * (up to coalesce_limit()), with one buffer for their range.
 */
static struct rcd_group *group_take(struct rcd *d, struct rcd_device *dev, unsigned int spread)
{
	struct rcd_fill *first = dev->pending, *f, **pp;
	uint64_t lo, hi, limit = coalesce_limit(d, dev, spread);
	unsigned int i, cap = 8;
	struct rcd_group *g;
	bool grew;

	g = calloc(1, sizeof(*g));
	if (!g || !(g->fills = malloc(cap * sizeof(*g->fills)))) {
		free(g);
		return NULL;
	}
	dev->pending = first->next;
	dev->pending_bytes -= first->fx.length;
	g->fills[g->nfills++] = first;
	lo = first->fx.origin_offset;
	hi = lo + first->fx.length;
	/* grow while a waiting fill starts where the range ends or ends where it
	 * starts; slices stay O_DIRECT-aligned (only the last block is short) */
	do {
		grew = false;
		for (pp = &dev->pending; !first->alone && (f = *pp);) {
			uint64_t a = f->fx.origin_offset, b = a + f->fx.length;

			if (!f->alone && (a == hi || b == lo) && b - a + hi - lo <= limit &&
			    (a == hi ? !(hi % RCO_ALIGN) : !(f->fx.length % RCO_ALIGN))) {
				if (g->nfills == cap) {
					struct rcd_fill **bigger =
						realloc(g->fills, 2 * cap * sizeof(*bigger));

					if (!bigger)
						break;
					g->fills = bigger;
					cap *= 2;
				}
				*pp = f->next;
				dev->pending_bytes -= f->fx.length;
				g->fills[g->nfills++] = f;
				if (a == hi)
					hi = b;
				else
					lo = a;
				grew = true;
				continue;
			}
			pp = &f->next;
		}
	} while (grew);
	g->dev = dev;
	g->read.off = lo;
	g->read.len = hi - lo;
	g->read.done = group_read_done;
	g->read.cookie = d;
	g->share = calloc(1, sizeof(*g->share));
	if (g->share)
		g->share->p = rc_bufpool_get(&d->bufs,
					     (g->read.len + RCO_ALIGN - 1) / RCO_ALIGN * RCO_ALIGN,
					     RCO_ALIGN, &g->share->cap);
	if (!g->share || !g->share->p) {
		free(g->share);
		g->share = NULL;
		rcd_group_done(d, g, -ENOMEM, "buffer allocation");
		return NULL;
	}
	g->read.buf = g->share->p;
	g->share->refs = g->nfills;
	for (i = 0; i < g->nfills; i++) {
		g->fills[i]->share = g->share;
		g->fills[i]->buf = g->share->p + (g->fills[i]->fx.origin_offset - lo);
	}
	return g;
}

/* Issues what the waiting fills of every device allow. */
static void rcd_kick(struct rcd *d)
{
	struct rcd_device *dev;
	bool progress = !d->env.draining;

	/* round-robin over devices so that a busy one does not starve another */
	while (progress) {
		progress = false;
		for (dev = d->devices; dev; dev = dev->next) {
			struct rcd_group *g;
			unsigned int spread;

			if (!dev->pending || dev->opening || dev->broken ||
			    !(spread = dev->ops->spread(dev->origin)))
				continue;
			g = group_take(d, dev, spread);
			if (g)
				dev->ops->start(dev->origin, &g->read);
			progress = true;
		}
	}
}

/* An io_uring completion of a cache write. */
static void write_complete(struct rc_iou *op, int res)
{
	struct rcd_fill *f = (struct rcd_fill *)op;
	struct rcd *d = f->dev->d;

	d->writes_inflight--;
	if (res == -EAGAIN || res == -EINTR) {
		fill_submit_write(d, f);
		return;
	}
	if (res <= 0) {
		/* the kernel retires the slot rather than handing it out again */
		fill_finish_from(d, f, res ? res : -EIO, "write", RCACHE_DONE_F_CACHE_WRITE);
		return;
	}
	f->done += res;
	if (f->done < f->buf_len) {
		fill_submit_write(d, f);
		return;
	}
	fill_finish(d, f, 0, NULL);
}

static void on_fetch(struct rcd *d, const struct rc_nl_fetch *fx)
{
	struct rcd_fill *f;
	struct rc_err err;
	int r;

	if (fx->flags & RCACHE_FETCH_F_UPGRADE) {
		on_upgrade(d, fx);
		return;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		rc_genl_fetch_done(&d->fill, fx, -ENOMEM, 0);
		return;
	}
	f->fx = *fx;
	f->start_ns = rc_now_ns();
	f->dev = device_get(d, fx->dev_id, &err);
	if (!f->dev) {
		rc_err("request %u for device %" PRIu64 ": %s", fx->req_id, fx->dev_id, err.msg);
		fill_refuse(d, f, err.code ? -err.code : -EIO, "device setup");
		return;
	}
	f->dev->refs++;
	r = f->dev->od.stale ? -ESTALE : f->dev->ops->check(f->dev->origin);
	if (r) {
		fill_refuse(d, f, r, "version check");
		return;
	}
	if (fx->cache_offset % RCO_ALIGN || fx->length == 0 ||
	    fx->length > RCACHE_MAX_BLOCK_SECTORS * 512U) {
		fill_refuse(d, f, -EINVAL, "request check");
		return;
	}
	f->buf_len = ((size_t)fx->length + RCO_ALIGN - 1) / RCO_ALIGN * RCO_ALIGN;
	/* a prefetch waits behind the fills waiting already; a demand fill does not */
	if ((d->wait_head && (fx->flags & RCACHE_FETCH_F_PREFETCH)) ||
	    d->nr_fills >= d->cfg.max_fills ||
	    d->buffer_bytes + f->buf_len > d->cfg.max_buffer_bytes) {
		rc_debug("request %u (block %" PRIu64 "%s): waits for room", fx->req_id, fx->block,
			 fx->flags & RCACHE_FETCH_F_PREFETCH ? ", prefetch" : "");
		wait_add(d, f);
		return;
	}
	rc_debug("request %u (block %" PRIu64 "%s): started", fx->req_id, fx->block,
		 fx->flags & RCACHE_FETCH_F_PREFETCH ? ", prefetch" : "");
	fill_start(d, f);
}

/*
 * Ends every fill of @dev with @error: those waiting for room (never
 * started) and those waiting for their origin read.  Those reading the
 * origin now end when the read does.
 */
static void device_end_fills(struct rcd *d, struct rcd_device *dev, int error)
{
	struct rcd_fill *f, **pp, *drop = NULL, *started;

	dev->refs++;	/* the device stays while we end its fills */
	for (pp = &d->wait_head, d->wait_tail = NULL; (f = *pp);) {
		if (f->dev == dev) {
			*pp = f->next;
			f->next = drop;
			drop = f;
			continue;
		}
		d->wait_tail = f;
		pp = &f->next;
	}
	started = dev->pending;
	dev->pending = NULL;
	dev->pending_bytes = 0;
	while ((f = drop)) {
		drop = f->next;
		fill_refuse(d, f, error, NULL);
	}
	while ((f = started)) {
		started = f->next;
		fill_finish(d, f, error, NULL);
	}
	device_put(d, dev);
}

/*
 * A device was removed: its fills that have not reached the cache write are
 * answered "cancelled" now (the kernel waits for that before it lets another
 * device reuse their slots); those reading the origin stop before writing.
 */
static void device_removed(struct rcd *d, struct rcd_device *dev)
{
	dev->od.removed = true;
	device_end_fills(d, dev, -ECANCELED);
}

static void rcd_device_opened(struct rcd *d, struct rcd_device *dev, int error, const char *what)
{
	char size[32];

	dev->opening = false;
	if (dev->od.removed)
		return;
	if (!error) {
		rc_info("%s: serving origin %s (%s blocks, %s)", dev->info.name, dev->info.origin,
			rc_fmt_bytes(dev->info.block_size, size, sizeof(size)), dev->ops->name);
		return;
	}
	if (error != -ECANCELED)
		rc_err("%s: origin %s: %s: %s (errno %d)", dev->info.name, dev->info.origin,
		       what ? what : "open", strerror(-error), -error);
	/* the next FETCH for it opens it again */
	dev->broken = true;
	device_end_fills(d, dev, error);
}

static void on_event(struct rcd *d, const struct rc_nl_device *ev)
{
	struct rcd_device *dev;

	rcd_node_changed(d->node);
	if (ev->event != RCACHE_EVENT_DEVICE_REMOVED)
		return;
	for (dev = d->devices; dev; dev = dev->next) {
		if (dev->info.dev_id == ev->dev_id && !dev->od.removed) {
			device_removed(d, dev);
			break;
		}
	}
}

/* ------------------------------------------------------------------ */
/* Netlink                                                             */

static int nl_on_valid(struct nl_msg *msg, void *arg)
{
	struct rcd *d = arg;
	struct rc_nl_fetch fx;
	struct rc_nl_device ev;
	int kind = rc_genl_parse(msg, &fx, &ev);

	/* while stopping, FETCHes stay with the kernel for the next daemon */
	if (kind == 0 && !d->stopping)
		on_fetch(d, &fx);
	else if (kind == 1)
		on_event(d, &ev);
	return NL_OK;
}

static int nl_on_error(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	(void)nla;
	(void)arg;
	/* a reply the kernel no longer wanted (device removed, cancelled) */
	rc_debug("kernel rejected a message: %s", strerror(-e->error));
	return NL_SKIP;
}

static void on_netlink(struct rc_watch *w, uint32_t events)
{
	struct rcd *d = w->arg;
	int i, r = 0;

	(void)events;
	for (i = 0; i < 64; i++) {
		r = nl_recvmsgs_report(d->fill.sk, d->cb);
		if (r <= 0)
			break;
	}
	if (r < 0 && r != -NLE_AGAIN && r != -NLE_DUMP_INTR)
		rc_warn("netlink receive: %s", nl_geterror(r));
}

static int setup_netlink(struct rcd *d)
{
	struct rc_err err;
	int fd, size = RCD_RCVBUF, one = 1;

	if (rc_genl_open(&d->ctl, &err) || rc_genl_open(&d->fill, &err)) {
		rc_err("%s", err.msg);
		return -1;
	}
	fd = rc_genl_fd(&d->fill);
	/* Room for a full credit window; never lose a FETCH to an overrun. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof(one));
	if (rc_genl_subscribe_events(&d->fill, &err))
		rc_warn("%s (device removals will be noticed late)", err.msg);
	d->fill.unsolicited = nl_on_valid;
	d->fill.unsolicited_arg = d;
	if (rc_genl_register(&d->fill, &err)) {
		if (err.code == EBUSY)
			rc_err("another fill daemon is already registered with dm-rcache");
		else
			rc_err("%s", err.msg);
		return -1;
	}
	d->cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!d->cb)
		return -1;
	nl_cb_set(d->cb, NL_CB_VALID, NL_CB_CUSTOM, nl_on_valid, d);
	nl_cb_err(d->cb, NL_CB_CUSTOM, nl_on_error, d);
	nl_socket_set_nonblocking(d->fill.sk);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Loop                                                                */

/* Handles the completions there are; NULL user data: an async cancel. */
static void reap_completions(struct rcd *d)
{
	struct io_uring_cqe *cqe;

	while (io_uring_peek_cqe(&d->ring, &cqe) == 0) {
		struct rc_iou *op = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&d->ring, cqe);
		if (!op)
			continue;
		d->ring_inflight--;
		op->done(op, res);
	}
}

static void on_ring(struct rc_watch *w, uint32_t events)
{
	struct rcd *d = w->arg;
	uint64_t v;

	(void)events;
	if (read(w->fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		rc_warn("eventfd: %s", strerror(errno));
	reap_completions(d);
}

/*
 * Exiting: every cache write we submitted completes before the fill socket
 * closes.  The kernel hands a fill it sent us to the next daemon (or frees
 * its slot) once the socket is gone; a write of ours landing after that
 * could overwrite a slot that holds another block by then.  Nothing new
 * starts meanwhile (draining); origin reads are cancelled and waited for a
 * moment, but not for long: a read on a hung mount may never end, and
 * cannot write anything once we are gone.
 */
static void drain_ring(struct rcd *d)
{
	uint64_t logged = rc_now_ns(), reads_until = 0;
	struct __kernel_timespec ts = { 0, 100 * 1000000 };
	struct io_uring_cqe *cqe;
	bool cancelled = false;

	d->env.draining = true;
	if (!d->ring_ok)
		return;
	while (d->ring_inflight) {
		uint64_t now = rc_now_ns();

		if (!d->writes_inflight && !cancelled) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&d->ring);

			/* origin reads, opens, stats: all of them */
			if (sqe) {
				io_uring_prep_cancel(sqe, NULL, IORING_ASYNC_CANCEL_ANY);
				io_uring_sqe_set_data(sqe, NULL);
			}
			cancelled = true;
			reads_until = now + 1000000000ULL;
		}
		if (cancelled && now >= reads_until)
			break;
		if (d->writes_inflight && now - logged >= RCD_DRAIN_LOG_NS) {
			rc_info("exiting: waiting for %u cache writes to complete",
				d->writes_inflight);
			logged = now;
		}
		io_uring_submit(&d->ring);
		d->pending_sqes = 0;
		if (io_uring_wait_cqe_timeout(&d->ring, &cqe, &ts) == 0)
			reap_completions(d);
	}
	if (d->ring_inflight)
		rc_debug("exiting with %u origin operations in flight", d->ring_inflight);
}

/* Exiting: the replies that still wait for room get a last chance. */
static void flush_replies(struct rcd *d)
{
	uint64_t until = rc_now_ns() + RCD_EXIT_REPLY_NS;

	while (d->replies.len && rc_now_ns() < until) {
		int ms = rc_replyq_timeout_ms(&d->replies, rc_now_ns());

		if (ms > 0)
			usleep(ms * 1000);
		rc_replyq_flush(&d->replies, rc_now_ns());
	}
	if (d->replies.len)
		rc_err("exiting with %u FETCH_DONE replies unsent (the kernel hands their fills to the next daemon)",
		       d->replies.len);
	rc_replyq_abandon(&d->replies, -ECONNABORTED);
}

static void on_signal(struct rc_watch *w, uint32_t events)
{
	struct rcd *d = w->arg;
	struct signalfd_siginfo si;

	(void)events;
	while (read(w->fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			rcd_node_reload(d->node);
			continue;
		}
		if (!d->stopping)
			rc_info("signal %u: finishing %u fills, then exiting", si.ssi_signo,
				d->nr_fills);
		d->stopping = true;
		d->stop_deadline_ns = rc_now_ns() + (uint64_t)d->cfg.stop_grace_ms * 1000000ULL;
	}
}

static void cleanup(struct rcd *d)
{
	bool threads_left = rcd_node_stop(d->node);
	unsigned int i;

	d->node = NULL;
	d->stopping = true;
	d->env.draining = true;	/* from here on, no new cache write or origin read */
	/* GETs in flight end now; reads on the ring end in drain_ring() */
	for (i = 0; i < RCD_NBACKENDS; i++)
		if (d->backends[i])
			rcd_backends[i]->destroy(d->backends[i]);
	/* before the fill socket closes, and while the devices are still there */
	drain_ring(d);
	if (d->fill.sk)
		flush_replies(d);
	rc_loop_free_dead(&d->loop);
	while (d->devices) {
		struct rcd_device *dev = d->devices;

		d->devices = dev->next;
		device_close(dev);
	}
	while (d->wait_head) {
		struct rcd_fill *f = d->wait_head;

		d->wait_head = f->next;
		free(f);
	}
	if (d->cb)
		nl_cb_put(d->cb);
	/* Closing the socket hands what we did not finish to the next daemon. */
	rc_genl_close(&d->fill);
	rc_genl_close(&d->ctl);
	if (d->ring_ok)
		io_uring_queue_exit(&d->ring);
	rc_loop_close(&d->loop);
	if (d->sig_w.fd >= 0)
		close(d->sig_w.fd);
	if (d->ring_w.fd >= 0)
		close(d->ring_w.fd);
	rc_bufpool_clear(&d->bufs);
	rc_cred_refresher_stop(d->refresher);	/* joins the STS thread */
	rc_aws_clear(&d->aws);
	rc_ini_free(&d->conf);
	/*
	 * Only once no thread uses libcurl: the STS thread is joined, and a
	 * declared-device probe still running (it was left to end with the
	 * process) keeps libcurl for itself.
	 */
	if (d->curl_ok && !threads_left)
		curl_global_cleanup();
}

/* ------------------------------------------------------------------ */
/* What the origin backends see of the loop (origin/backend.h)         */

static struct rcd_device *device_of(struct rco_device *od)
{
	return (struct rcd_device *)((char *)od - offsetof(struct rcd_device, od));
}

static struct io_uring_sqe *env_get_sqe(void *cookie)
{
	return rcd_get_sqe(cookie);
}

static int env_watch(void *cookie, struct rc_watch *w, uint32_t events, bool modify)
{
	return rc_loop_watch(&((struct rcd *)cookie)->loop, w, events, modify);
}

static void env_unwatch(void *cookie, struct rc_watch *w)
{
	rc_loop_unwatch(&((struct rcd *)cookie)->loop, w);
}

static void env_unwatch_free(void *cookie, struct rc_watch *w)
{
	rc_loop_unwatch_free(&((struct rcd *)cookie)->loop, w);
}

static struct rc_aws *env_aws_settings(void *cookie, struct rc_err *err)
{
	return rcd_aws_settings(cookie, err);
}

static struct rc_aws *env_aws_credentials(void *cookie, struct rc_err *err)
{
	return rcd_aws(cookie, err);
}

static bool env_aws_expired(void *cookie)
{
	return rcd_aws_expired(cookie);
}

static void env_fence(void *cookie, struct rco_device *od, const char *reason)
{
	rcd_fence(cookie, device_of(od), reason);
}

static void env_opened(void *cookie, struct rco_device *od, int error, const char *what)
{
	rcd_device_opened(cookie, device_of(od), error, what);
}

static void env_hold(void *cookie, struct rco_device *od)
{
	(void)cookie;
	device_of(od)->refs++;
}

static void env_release(void *cookie, struct rco_device *od)
{
	device_put(cookie, device_of(od));
}

static void env_init(struct rcd *d)
{
	d->env = (struct rco_env){
		.cookie = d,
		.get_sqe = env_get_sqe,
		.watch = env_watch,
		.unwatch = env_unwatch,
		.unwatch_free = env_unwatch_free,
		.aws_settings = env_aws_settings,
		.aws_credentials = env_aws_credentials,
		.aws_expired = env_aws_expired,
		.fence = env_fence,
		.opened = env_opened,
		.hold = env_hold,
		.release = env_release,
		.conf = &d->conf,
		.http = {
			.parallel = d->cfg.http_parallel,
			.retries = d->cfg.http_retries,
			.backoff_ms = d->cfg.http_backoff_ms,
			.backoff_max_ms = d->cfg.http_backoff_max_ms,
			.stall_s = d->cfg.http_stall_s,
			.connect_timeout_ms = d->cfg.http_connect_timeout_ms,
		},
	};
}

int rcd_run(const struct rcd_config *cfg)
{
	struct rcd *d = calloc(1, sizeof(*d));
	struct rc_err err;
	sigset_t mask;
	int r, status = 1;

	if (!d)
		return 1;
	d->cfg = *cfg;
	rc_replyq_init(&d->replies, reply_send, reply_done, d);
	d->loop.epfd = d->sig_w.fd = d->ring_w.fd = -1;
	env_init(d);
	rc_bufpool_init(&d->bufs, cfg->max_buffer_bytes < RCD_IDLE_BUFFERS ?
			cfg->max_buffer_bytes : RCD_IDLE_BUFFERS);
	if (cfg->config_file) {
		r = rc_ini_load(&d->conf, cfg->config_file, &err);
		if (r && r != -ENOENT) {
			rc_err("%s", err.msg);
			goto out;
		}
	}
	/* before any thread: curl_global_init() is not thread-safe everywhere */
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		rc_err("libcurl initialisation failed");
		goto out;
	}
	d->curl_ok = true;
	if (mkdir(cfg->runtime_dir, 0700) && errno != EEXIST)
		rc_warn("runtime directory %s: %s", cfg->runtime_dir, strerror(errno));

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->sig_w = (struct rc_watch){ signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK),
				      on_signal, d };

	r = io_uring_queue_init(RCD_RING_ENTRIES, &d->ring, 0);
	if (r) {
		rc_err("io_uring setup: %s", strerror(-r));
		goto out;
	}
	d->ring_ok = true;
	{
		unsigned int workers[2] = { RCD_IOWQ_BOUNDED, 0 };	/* 0: unbounded as is */

		r = io_uring_register_iowq_max_workers(&d->ring, workers);
		if (r)
			rc_warn("io_uring: cannot raise the io-wq worker limit: %s", strerror(-r));
	}
	d->ring_w = (struct rc_watch){ eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), on_ring, d };
	if (d->ring_w.fd < 0 || io_uring_register_eventfd(&d->ring, d->ring_w.fd)) {
		rc_err("io_uring eventfd: %s", strerror(errno));
		goto out;
	}
	if (rc_loop_open(&d->loop) || rc_loop_watch(&d->loop, &d->sig_w, EPOLLIN, false) ||
	    rc_loop_watch(&d->loop, &d->ring_w, EPOLLIN, false)) {
		rc_err("epoll: %s", strerror(errno));
		goto out;
	}
	if (setup_netlink(d))
		goto out;
	d->nl_w = (struct rc_watch){ rc_genl_fd(&d->fill), on_netlink, d };
	if (rc_loop_watch(&d->loop, &d->nl_w, EPOLLIN, false)) {
		rc_err("epoll: %s", strerror(errno));
		goto out;
	}
	rc_info("registered with dm-rcache; serving fetches (pid %d)", (int)getpid());
	if (rcd_node_start(&d->node, &d->cfg, &d->loop))
		goto out;
	rcd_kick(d);

	for (;;) {
		struct epoll_event ev[16];
		int i, n, timeout = -1;

		/* replies that waited for socket room, when their time has come */
		rc_replyq_flush(&d->replies, rc_now_ns());
		/* submit what the last round queued (also FETCHes taken during REGISTER) */
		if (d->pending_sqes) {
			io_uring_submit(&d->ring);
			d->pending_sqes = 0;
		}
		if (d->stopping) {
			uint64_t now = rc_now_ns();

			if ((!d->nr_fills && !d->replies.len) || now >= d->stop_deadline_ns)
				break;
			timeout = (int)((d->stop_deadline_ns - now) / 1000000) + 1;
		}
		r = rc_replyq_timeout_ms(&d->replies, rc_now_ns());
		if (r >= 0 && (timeout < 0 || r < timeout))
			timeout = r;
		n = epoll_wait(d->loop.epfd, ev, 16, timeout);
		if (n < 0 && errno != EINTR) {
			rc_err("epoll_wait: %s", strerror(errno));
			goto out;
		}
		for (i = 0; i < n; i++) {
			struct rc_watch *w = ev[i].data.ptr;

			/* a watch unwatched by an earlier event of this round */
			if (!w->fn)
				continue;
			w->fn(w, ev[i].events);
			/* completions and replies free room: start what waits */
			rcd_kick(d);
		}
		rc_loop_free_dead(&d->loop);
	}
	status = 0;
out:
	cleanup(d);
	free(d);
	return status;
}
