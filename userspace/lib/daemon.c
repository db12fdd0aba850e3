// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <liburing.h>
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
#include <unistd.h>

#include "daemon.h"
#include "devnode.h"
#include "genl.h"
#include "log.h"
#include "origin.h"
#include "url.h"
#include "util.h"

#define RCD_ALIGN		4096
#define RCD_RING_ENTRIES	256
#define RCD_RCVBUF		(16 << 20)
#define RCD_IDENTITY_CHECK_NS	1000000000ULL
#define RCD_BUF_CACHE		64

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

struct rcd_device {
	struct rcd_device *next;
	struct rc_nl_device info;
	struct rc_url url;
	int origin_fd;			/* O_DIRECT when the filesystem allows */
	int origin_buffered_fd;		/* for unaligned continuations */
	bool origin_direct;
	int cache_fd;			/* O_DIRECT */
	unsigned int refs;		/* fills in flight */
	bool removed;
	bool stale;
	uint64_t identity_checked_ns;
};

enum rcd_phase { RCD_READ, RCD_WRITE };

struct rcd_fill {
	struct rcd_fill *next;		/* waiting list */
	struct rc_nl_fetch fx;
	struct rcd_device *dev;
	uint8_t *buf;
	size_t buf_len;			/* length rounded up to RCD_ALIGN */
	size_t done;			/* bytes of the current phase done */
	enum rcd_phase phase;
};

struct rcd_buf {
	struct rcd_buf *next;
	size_t len;
};

struct rcd {
	struct rcd_config cfg;
	struct rc_genl fill;		/* registered; FETCH in, FETCH_DONE out */
	struct rc_genl ctl;		/* GET_STATUS, SET_STATE */
	struct nl_cb *cb;
	struct io_uring ring;
	bool ring_ok;
	int epfd, sigfd, ring_efd;
	struct rcd_device *devices;
	struct rcd_fill *wait_head, *wait_tail;
	unsigned int nr_fills;
	uint64_t buffer_bytes;
	struct rcd_buf *buf_cache;
	unsigned int nr_buf_cache;
	bool stopping;
	unsigned int pending_sqes;
};

void rcd_config_defaults(struct rcd_config *cfg)
{
	cfg->runtime_dir = "/run/rcached";
	cfg->max_fills = 128;
	cfg->max_buffer_bytes = 512ULL << 20;
	cfg->stop_grace_ms = 10000;
}

/* ------------------------------------------------------------------ */
/* Buffers                                                             */

static uint8_t *buf_get(struct rcd *d, size_t len)
{
	struct rcd_buf **pp, *b;
	void *p;

	for (pp = &d->buf_cache; (b = *pp); pp = &b->next) {
		if (b->len == len) {
			*pp = b->next;
			d->nr_buf_cache--;
			return (uint8_t *)b;
		}
	}
	if (posix_memalign(&p, RCD_ALIGN, len))
		return NULL;
	return p;
}

static void buf_put(struct rcd *d, uint8_t *p, size_t len)
{
	struct rcd_buf *b = (struct rcd_buf *)p;

	if (d->nr_buf_cache >= RCD_BUF_CACHE) {
		struct rcd_buf *old = d->buf_cache;

		d->buf_cache = old->next;
		d->nr_buf_cache--;
		free(old);
	}
	b->len = len;
	b->next = d->buf_cache;
	d->buf_cache = b;
	d->nr_buf_cache++;
}

/* ------------------------------------------------------------------ */
/* Devices                                                             */

static void device_close(struct rcd_device *dev)
{
	if (dev->origin_fd >= 0)
		close(dev->origin_fd);
	if (dev->origin_buffered_fd >= 0 && dev->origin_buffered_fd != dev->origin_fd)
		close(dev->origin_buffered_fd);
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
	if (--dev->refs == 0 && dev->removed) {
		device_unlink(d, dev);
		device_close(dev);
	}
}

static int device_open_origin(struct rcd_device *dev, struct rc_err *err)
{
	const char *url = dev->info.origin;

	dev->origin_buffered_fd = open(dev->url.path, O_RDONLY | O_CLOEXEC);
	if (dev->origin_buffered_fd < 0)
		return rc_errf(err, errno, "origin %s: open: %s", url, strerror(errno));
	/* We are the cache: bypass the origin's page cache where we can. */
	dev->origin_fd = open(dev->url.path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	dev->origin_direct = dev->origin_fd >= 0;
	if (!dev->origin_direct)
		dev->origin_fd = dev->origin_buffered_fd;
	return 0;
}

/* Fences the device when the origin is no longer the recorded version. */
static int device_check_identity(struct rcd *d, struct rcd_device *dev)
{
	char now[RCACHE_MAX_IDENTITY_LEN + 1];
	char reason[RCACHE_MAX_ORIGIN_LEN + 2 * RCACHE_MAX_IDENTITY_LEN + 64];
	struct rc_err err;
	uint64_t t = rc_now_ns(), size;

	if (dev->stale)
		return -ESTALE;
	if (!dev->info.identity[0] ||
	    (dev->identity_checked_ns && t - dev->identity_checked_ns < RCD_IDENTITY_CHECK_NS))
		return 0;
	dev->identity_checked_ns = t;
	if (rc_fd_identity(dev->origin_buffered_fd, &size, now, sizeof(now)) ||
	    !strcmp(now, dev->info.identity))
		return 0;
	snprintf(reason, sizeof(reason), "origin %s changed: recorded %s, now %s",
		 dev->info.origin, dev->info.identity, now);
	rc_err("%s: %s; misses fail until the device is re-created", dev->info.name, reason);
	dev->stale = true;
	if (rc_genl_set_state(&d->ctl, dev->info.dev_id, RCACHE_STATE_STALE, reason, &err))
		rc_err("%s: %s", dev->info.name, err.msg);
	return -ESTALE;
}

static struct rcd_device *device_get(struct rcd *d, uint64_t dev_id, struct rc_err *err)
{
	struct rcd_device *dev;

	for (dev = d->devices; dev; dev = dev->next)
		if (dev->info.dev_id == dev_id && !dev->removed)
			return dev;

	dev = calloc(1, sizeof(*dev));
	if (!dev) {
		rc_errf(err, ENOMEM, "out of memory");
		return NULL;
	}
	dev->origin_fd = dev->origin_buffered_fd = dev->cache_fd = -1;
	if (rc_genl_get_device(&d->ctl, dev_id, &dev->info, err))
		goto bad;
	if (rc_url_parse(dev->info.origin, &dev->url, err))
		goto bad;
	if (device_open_origin(dev, err))
		goto bad;
	dev->cache_fd = rc_open_blockdev(dev->info.cache_dev, O_RDWR | O_DIRECT,
					 d->cfg.runtime_dir, err);
	if (dev->cache_fd < 0) {
		dev->cache_fd = -1;
		rc_err_prefix(err, "%s: cache device", dev->info.name);
		goto bad;
	}
	dev->next = d->devices;
	d->devices = dev;
	rc_info("%s: serving origin %s (%s blocks, direct origin reads %s)", dev->info.name,
		dev->info.origin, rc_fmt_bytes(dev->info.block_size, (char[32]){0}, 32),
		dev->origin_direct ? "on" : "off");
	return dev;
bad:
	device_close(dev);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Fills                                                               */

static struct io_uring_sqe *get_sqe(struct rcd *d)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&d->ring);

	if (!sqe) {
		io_uring_submit(&d->ring);
		d->pending_sqes = 0;
		sqe = io_uring_get_sqe(&d->ring);
	}
	if (sqe)
		d->pending_sqes++;
	return sqe;
}

static void fill_start(struct rcd *d, struct rcd_fill *f);

static void fill_finish(struct rcd *d, struct rcd_fill *f, int error, const char *what)
{
	uint64_t first = f->fx.origin_offset, last = first + f->fx.length - 1;
	int r;

	if (error)
		rc_err("origin %s: %s of bytes %" PRIu64 "-%" PRIu64 " (block %" PRIu64
		       ") failed: %s (errno %d)",
		       f->dev ? f->dev->info.origin : "?", what, first, last, f->fx.block,
		       strerror(-error), -error);
	r = rc_genl_fetch_done(&d->fill, f->fx.req_id, error);
	if (r)
		rc_err("FETCH_DONE for request %u (block %" PRIu64 "): %s", f->fx.req_id,
		       f->fx.block, strerror(-r));
	if (f->buf) {
		buf_put(d, f->buf, f->buf_len);
		d->buffer_bytes -= f->buf_len;
	}
	if (f->dev)
		device_put(d, f->dev);
	free(f);
	d->nr_fills--;

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

static void fill_submit(struct rcd *d, struct rcd_fill *f)
{
	struct io_uring_sqe *sqe = get_sqe(d);
	struct rcd_device *dev = f->dev;

	if (!sqe) {
		fill_finish(d, f, -EBUSY, "queueing I/O");
		return;
	}
	if (f->phase == RCD_READ) {
		/* O_DIRECT needs aligned offsets; a short read may leave us unaligned. */
		bool direct = dev->origin_direct && !(f->done % RCD_ALIGN);
		size_t want = (direct ? f->buf_len : f->fx.length) - f->done;

		io_uring_prep_read(sqe, direct ? dev->origin_fd : dev->origin_buffered_fd,
				   f->buf + f->done, want, f->fx.origin_offset + f->done);
	} else {
		io_uring_prep_write(sqe, dev->cache_fd, f->buf + f->done,
				    f->buf_len - f->done, f->fx.cache_offset + f->done);
	}
	io_uring_sqe_set_data(sqe, f);
}

static void fill_start(struct rcd *d, struct rcd_fill *f)
{
	d->nr_fills++;
	f->buf = buf_get(d, f->buf_len);
	if (!f->buf) {
		fill_finish(d, f, -ENOMEM, "buffer allocation");
		return;
	}
	d->buffer_bytes += f->buf_len;
	f->phase = RCD_READ;
	f->done = 0;
	fill_submit(d, f);
}

static void fill_complete(struct rcd *d, struct rcd_fill *f, int res)
{
	if (res == -EAGAIN || res == -EINTR) {
		fill_submit(d, f);
		return;
	}
	if (f->phase == RCD_READ) {
		if (res < 0) {
			fill_finish(d, f, res, "read");
			return;
		}
		if (res == 0) {
			rc_err("origin %s: ends before byte %" PRIu64 " (truncated under the device?)",
			       f->dev->info.origin, f->fx.origin_offset + f->fx.length);
			fill_finish(d, f, -EIO, "read");
			return;
		}
		f->done += res;
		if (f->done < f->fx.length) {
			fill_submit(d, f);
			return;
		}
		/* The tail of a partial last block reads as zeros. */
		memset(f->buf + f->fx.length, 0, f->buf_len - f->fx.length);
		f->phase = RCD_WRITE;
		f->done = 0;
		fill_submit(d, f);
		return;
	}
	if (res < 0) {
		fill_finish(d, f, res, "cache write");
		return;
	}
	if (res == 0) {
		fill_finish(d, f, -EIO, "cache write");
		return;
	}
	f->done += res;
	if (f->done < f->buf_len) {
		fill_submit(d, f);
		return;
	}
	fill_finish(d, f, 0, NULL);
}

static void on_fetch(struct rcd *d, const struct rc_nl_fetch *fx)
{
	struct rcd_fill *f = calloc(1, sizeof(*f));
	struct rc_err err;
	int r;

	if (!f) {
		rc_genl_fetch_done(&d->fill, fx->req_id, -ENOMEM);
		return;
	}
	f->fx = *fx;
	f->buf_len = ((size_t)fx->length + RCD_ALIGN - 1) / RCD_ALIGN * RCD_ALIGN;
	f->dev = device_get(d, fx->dev_id, &err);
	if (!f->dev) {
		rc_err("request %u for device %" PRIu64 ": %s", fx->req_id, fx->dev_id, err.msg);
		d->nr_fills++;
		fill_finish(d, f, err.code ? -err.code : -EIO, "device setup");
		return;
	}
	f->dev->refs++;
	r = device_check_identity(d, f->dev);
	if (r) {
		d->nr_fills++;
		fill_finish(d, f, r, "version check");
		return;
	}
	if (fx->cache_offset % RCD_ALIGN || fx->length == 0 ||
	    fx->length > RCACHE_MAX_BLOCK_SECTORS * 512U) {
		d->nr_fills++;
		fill_finish(d, f, -EINVAL, "request check");
		return;
	}
	if (d->stopping || d->wait_head || d->nr_fills >= d->cfg.max_fills ||
	    d->buffer_bytes + f->buf_len > d->cfg.max_buffer_bytes) {
		if (d->wait_tail)
			d->wait_tail->next = f;
		else
			d->wait_head = f;
		d->wait_tail = f;
		return;
	}
	fill_start(d, f);
}

static void on_event(struct rcd *d, const struct rc_nl_device *ev)
{
	struct rcd_device *dev;

	if (ev->event != RCACHE_EVENT_DEVICE_REMOVED)
		return;
	for (dev = d->devices; dev; dev = dev->next) {
		if (dev->info.dev_id != ev->dev_id)
			continue;
		dev->removed = true;
		if (!dev->refs) {
			device_unlink(d, dev);
			device_close(dev);
		}
		break;
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
	/* A reply the kernel no longer wanted (device removed, cancelled). */
	rc_debug("kernel rejected a message: %s", strerror(-e->error));
	return NL_SKIP;
}

static void drain_netlink(struct rcd *d)
{
	int i, r;

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

static void drain_ring(struct rcd *d)
{
	struct io_uring_cqe *cqe;
	uint64_t v;

	if (read(d->ring_efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		rc_warn("eventfd: %s", strerror(errno));
	while (io_uring_peek_cqe(&d->ring, &cqe) == 0) {
		struct rcd_fill *f = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&d->ring, cqe);
		fill_complete(d, f, res);
	}
}

static int add_fd(struct rcd *d, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void cleanup(struct rcd *d)
{
	struct rcd_buf *b;

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
	while ((b = d->buf_cache)) {
		d->buf_cache = b->next;
		free(b);
	}
	if (d->cb)
		nl_cb_put(d->cb);
	rc_genl_close(&d->fill);
	rc_genl_close(&d->ctl);
	if (d->ring_ok)
		io_uring_queue_exit(&d->ring);
	if (d->epfd >= 0)
		close(d->epfd);
	if (d->sigfd >= 0)
		close(d->sigfd);
	if (d->ring_efd >= 0)
		close(d->ring_efd);
}

int rcd_run(const struct rcd_config *cfg)
{
	struct rcd d = { .cfg = *cfg, .epfd = -1, .sigfd = -1, .ring_efd = -1 };
	uint64_t deadline = 0;
	sigset_t mask;
	int r, status = 1;

	if (mkdir(cfg->runtime_dir, 0700) && errno != EEXIST)
		rc_warn("runtime directory %s: %s", cfg->runtime_dir, strerror(errno));

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

	r = io_uring_queue_init(RCD_RING_ENTRIES, &d.ring, 0);
	if (r) {
		rc_err("io_uring setup: %s", strerror(-r));
		goto out;
	}
	d.ring_ok = true;
	d.ring_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d.ring_efd < 0 || io_uring_register_eventfd(&d.ring, d.ring_efd)) {
		rc_err("io_uring eventfd: %s", strerror(errno));
		goto out;
	}
	if (setup_netlink(&d))
		goto out;
	d.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d.epfd < 0 || add_fd(&d, d.sigfd) || add_fd(&d, d.ring_efd) ||
	    add_fd(&d, rc_genl_fd(&d.fill))) {
		rc_err("epoll: %s", strerror(errno));
		goto out;
	}
	rc_info("registered with dm-rcache; serving fetches (pid %d)", (int)getpid());

	for (;;) {
		struct epoll_event ev[8];
		int i, n, timeout = -1;

		/* Submit what the last round queued (also FETCHes taken during REGISTER). */
		if (d.pending_sqes) {
			io_uring_submit(&d.ring);
			d.pending_sqes = 0;
		}
		if (d.stopping) {
			uint64_t now = rc_now_ns();

			if (!d.nr_fills || now >= deadline)
				break;
			timeout = (int)((deadline - now) / 1000000) + 1;
		}
		n = epoll_wait(d.epfd, ev, 8, timeout);
		if (n < 0 && errno != EINTR) {
			rc_err("epoll_wait: %s", strerror(errno));
			goto out;
		}
		for (i = 0; i < n; i++) {
			int fd = ev[i].data.fd;

			if (fd == d.sigfd) {
				struct signalfd_siginfo si;

				while (read(d.sigfd, &si, sizeof(si)) == sizeof(si)) {
					if (!d.stopping)
						rc_info("signal %u: finishing %u fills, then exiting",
							si.ssi_signo, d.nr_fills);
					d.stopping = true;
					deadline = rc_now_ns() +
						(uint64_t)cfg->stop_grace_ms * 1000000ULL;
				}
			} else if (fd == d.ring_efd) {
				drain_ring(&d);
			} else {
				drain_netlink(&d);
			}
		}
	}
	/* Closing the socket hands what we did not finish to the next daemon. */
	status = 0;
out:
	cleanup(&d);
	return status;
}
