// SPDX-License-Identifier: GPL-2.0-only
/*
 * file:// origins: preads through io_uring, on any mount or a block device.
 * Nothing here waits on the origin in the event loop: the open, the stat of
 * the version check and the reads are io_uring operations (io-wq runs the
 * blocking ones), so a hung NFS mount stalls only the devices on it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "origin/origin.h"
#include "daemon/rcd.h"
#include "common/util.h"

#define IDENTITY_CHECK_NS 1000000000ULL
/*
 * Origin reads in flight per device: enough to keep a disk or NFS server
 * busy (a read is up to coalesce_bytes), few enough that reads stuck on a
 * hung mount leave io-wq workers (RCD_IOWQ_BOUNDED) for the other devices.
 */
#define FILE_MAX_READS 16

enum file_step {
	FILE_OPEN_BUFFERED,	/* openat(path, O_RDONLY) */
	FILE_OPEN_DIRECT,	/* openat(path, O_RDONLY | O_DIRECT), may fail */
	FILE_STAT_OPEN,		/* statx of the opened file: its type and version */
	FILE_STAT_CHECK,	/* statx again, at most once a second: the version */
};

struct file_origin {
	struct rcd_device *dev;
	int fd;			/* O_DIRECT when the filesystem allows */
	int buffered_fd;	/* for unaligned continuations */
	bool direct;
	uint64_t checked_ns;
	unsigned int reads;	/* origin reads in flight */
	/* the open's steps, then the version checks: one at a time */
	struct rcd_iou op;
	enum file_step step;
	bool op_busy;
	struct statx stx;
};

static void file_op_done(struct rcd *d, struct rcd_iou *op, int res);

/* Queues the next step of the open or check; the device is held meanwhile. */
static int file_op_submit(struct rcd *d, struct file_origin *o, enum file_step step)
{
	struct io_uring_sqe *sqe = rcd_get_sqe(d);

	if (!sqe)
		return -EBUSY;
	o->step = step;
	o->op.done = file_op_done;
	switch (step) {
	case FILE_OPEN_BUFFERED:
		io_uring_prep_openat(sqe, AT_FDCWD, o->dev->url.path, O_RDONLY | O_CLOEXEC, 0);
		break;
	case FILE_OPEN_DIRECT:
		io_uring_prep_openat(sqe, AT_FDCWD, o->dev->url.path,
				     O_RDONLY | O_DIRECT | O_CLOEXEC, 0);
		break;
	case FILE_STAT_OPEN:
	case FILE_STAT_CHECK:
		io_uring_prep_statx(sqe, o->buffered_fd, "", AT_EMPTY_PATH,
				    RC_IDENTITY_STATX_MASK, &o->stx);
		break;
	}
	io_uring_sqe_set_data(sqe, &o->op);
	if (!o->op_busy)
		rcd_device_hold(o->dev);
	o->op_busy = true;
	return 0;
}

/* Fences the device when the file is no longer the recorded version. */
static void file_compare(struct rcd *d, struct file_origin *o)
{
	struct rcd_device *dev = o->dev;
	char now[RCACHE_MAX_IDENTITY_LEN + 1];
	char reason[RCACHE_MAX_ORIGIN_LEN + 2 * RCACHE_MAX_IDENTITY_LEN + 64];
	uint64_t size;

	o->checked_ns = rc_now_ns();
	if (!dev->info.identity[0] || dev->removed ||
	    rc_statx_identity(&o->stx, o->buffered_fd, &size, now, sizeof(now)) ||
	    !strcmp(now, dev->info.identity))
		return;
	snprintf(reason, sizeof(reason), "origin %s changed: recorded %s, now %s",
		 dev->info.origin, dev->info.identity, now);
	rcd_fence(d, dev, reason);
}

static void file_op_done(struct rcd *d, struct rcd_iou *op, int res)
{
	struct file_origin *o = (struct file_origin *)((char *)op - offsetof(struct file_origin, op));
	struct rcd_device *dev = o->dev;
	enum file_step next = o->step;
	const char *what = NULL;
	int error = 0;

	switch (o->step) {
	case FILE_OPEN_BUFFERED:
		if (res < 0) {
			error = res;
			what = "open";
			break;
		}
		o->buffered_fd = res;
		next = FILE_OPEN_DIRECT;
		break;
	case FILE_OPEN_DIRECT:
		/* We are the cache: keep the origin out of the page cache where we can. */
		o->direct = res >= 0;
		o->fd = o->direct ? res : o->buffered_fd;
		next = FILE_STAT_OPEN;
		break;
	case FILE_STAT_OPEN:
	case FILE_STAT_CHECK: {
		char id[RCACHE_MAX_IDENTITY_LEN + 1];
		uint64_t size;

		if (res < 0) {
			error = o->step == FILE_STAT_OPEN ? res : 0;
			what = "stat";
			break;
		}
		if (o->step == FILE_STAT_OPEN &&
		    rc_statx_identity(&o->stx, o->buffered_fd, &size, id, sizeof(id)) == -EINVAL) {
			error = -EINVAL;
			what = "not a regular file or block device";
			break;
		}
		file_compare(d, o);
		break;
	}
	}
	if (!error && next != o->step && !d->draining && !dev->removed) {
		error = file_op_submit(d, o, next);
		if (!error)
			return;
		what = "queueing the open";
	}
	o->op_busy = false;
	if (o->step != FILE_STAT_CHECK)
		rcd_device_opened(d, dev, d->draining ? -ECANCELED : error, what);
	rcd_device_release(d, dev);
}

static int file_open(struct rcd *d, struct rcd_device *dev, struct rc_err *err)
{
	struct file_origin *o = calloc(1, sizeof(*o));
	int r;

	if (!o)
		return rc_errf(err, ENOMEM, "out of memory");
	o->dev = dev;
	o->fd = o->buffered_fd = -1;
	dev->origin = o;
	r = file_op_submit(d, o, FILE_OPEN_BUFFERED);
	if (r) {
		dev->origin = NULL;
		free(o);
		return rc_errf(err, -r, "origin %s: queueing the open: %s", dev->info.origin,
			       strerror(-r));
	}
	dev->opening = true;
	return 0;
}

static void file_close(struct rcd *d, struct rcd_device *dev)
{
	struct file_origin *o = dev->origin;

	(void)d;
	if (!o)
		return;
	if (o->fd >= 0 && o->fd != o->buffered_fd)
		close(o->fd);
	if (o->buffered_fd >= 0)
		close(o->buffered_fd);
	free(o);
	dev->origin = NULL;
}

/*
 * Before a fill: -ESTALE once the device is fenced.  At most once a second
 * a statx (through io_uring) checks that the file is still the recorded
 * version; a change fences the device when it answers.
 */
static int file_check(struct rcd *d, struct rcd_device *dev)
{
	struct file_origin *o = dev->origin;

	if (dev->stale)
		return -ESTALE;
	if (dev->opening || o->op_busy || !dev->info.identity[0] ||
	    rc_now_ns() - o->checked_ns < IDENTITY_CHECK_NS)
		return 0;
	if (file_op_submit(d, o, FILE_STAT_CHECK))
		o->checked_ns = rc_now_ns();	/* the ring is full: next time */
	return 0;
}

static void file_group_complete(struct rcd *d, struct rcd_iou *op, int res);

/* The group's read is over: one fewer in flight, then its fills go on. */
static void file_group_end(struct rcd *d, struct rcd_group *g, int error, const char *what)
{
	struct file_origin *o = g->dev->origin;

	o->reads--;
	rcd_group_done(d, g, error, what);
}

/* Reads (the rest of) a group's range: O_DIRECT while aligned. */
static void file_group_read(struct rcd *d, struct rcd_group *g)
{
	struct file_origin *o = g->dev->origin;
	struct io_uring_sqe *sqe;
	bool direct = o->direct && !(g->done % RCD_ALIGN);
	size_t want = (direct ? (g->len + RCD_ALIGN - 1) / RCD_ALIGN * RCD_ALIGN : g->len) - g->done;

	if (d->draining) {
		file_group_end(d, g, -ECANCELED, NULL);
		return;
	}
	/* fenced since these fills came: not a byte of another version */
	if (g->dev->stale) {
		file_group_end(d, g, -ESTALE, NULL);
		return;
	}
	sqe = rcd_get_sqe(d);
	if (!sqe) {
		file_group_end(d, g, -EBUSY, "queueing the read");
		return;
	}
	g->iou.done = file_group_complete;
	io_uring_prep_read(sqe, direct ? o->fd : o->buffered_fd, g->share->p + g->done, want,
			   g->off + g->done);
	/*
	 * A buffered read of cached data (tmpfs, a warm NFS page cache) is a
	 * copy that would run inline in the event loop's io_uring_enter(), one
	 * group after the other: an io-wq worker does it instead, so that
	 * groups are copied on several CPUs at once.
	 */
	if (!direct)
		sqe->flags |= IOSQE_ASYNC;
	io_uring_sqe_set_data(sqe, &g->iou);
}

static void file_group_complete(struct rcd *d, struct rcd_iou *op, int res)
{
	struct rcd_group *g = (struct rcd_group *)op;

	if (res == -EAGAIN || res == -EINTR) {
		file_group_read(d, g);
		return;
	}
	if (res < 0) {
		file_group_end(d, g, res, "read");
		return;
	}
	if (res == 0) {
		/* fill_finish logs it, one line per block that cannot be read */
		file_group_end(d, g, -EIO, "read (the file ends early: truncated under the device?)");
		return;
	}
	g->done += res;
	if (g->done < g->len) {
		file_group_read(d, g);
		return;
	}
	file_group_end(d, g, 0, NULL);
}

static void file_start(struct rcd *d, struct rcd_group *g)
{
	struct file_origin *o = g->dev->origin;

	o->reads++;
	g->done = 0;
	file_group_read(d, g);
}

/* a file read has no first-byte wait to hide: coalesce fully, a few at once */
static unsigned int file_spread(struct rcd *d, struct rcd_device *dev)
{
	struct file_origin *o = dev->origin;

	(void)d;
	return o->reads < FILE_MAX_READS ? 1 : 0;
}

const struct rcd_origin_ops rcd_origin_file = {
	.name = "file",
	.open = file_open,
	.close = file_close,
	.check = file_check,
	.spread = file_spread,
	.start = file_start,
};
