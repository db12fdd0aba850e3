// SPDX-License-Identifier: GPL-2.0-only
/* file:// origins: preads through io_uring, on any mount or a block device. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "origin.h"
#include "rcd.h"
#include "util.h"

#define IDENTITY_CHECK_NS 1000000000ULL

struct file_origin {
	int fd;			/* O_DIRECT when the filesystem allows */
	int buffered_fd;	/* for unaligned continuations */
	bool direct;
	uint64_t checked_ns;
};

static int file_open(struct rcd *d, struct rcd_device *dev, struct rc_err *err)
{
	struct file_origin *o = calloc(1, sizeof(*o));

	(void)d;
	if (!o)
		return rc_errf(err, ENOMEM, "out of memory");
	o->buffered_fd = open(dev->url.path, O_RDONLY | O_CLOEXEC);
	if (o->buffered_fd < 0) {
		free(o);
		return rc_errf(err, errno, "origin %s: open: %s", dev->info.origin, strerror(errno));
	}
	/* We are the cache: keep the origin out of the page cache where we can. */
	o->fd = open(dev->url.path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	o->direct = o->fd >= 0;
	if (!o->direct)
		o->fd = o->buffered_fd;
	dev->origin = o;
	return 0;
}

static void file_close(struct rcd *d, struct rcd_device *dev)
{
	struct file_origin *o = dev->origin;

	(void)d;
	if (!o)
		return;
	if (o->fd != o->buffered_fd)
		close(o->fd);
	close(o->buffered_fd);
	free(o);
	dev->origin = NULL;
}

/* Fences the device when the file is no longer the recorded version. */
static int file_check(struct rcd *d, struct rcd_device *dev)
{
	struct file_origin *o = dev->origin;
	char now[RCACHE_MAX_IDENTITY_LEN + 1];
	char reason[RCACHE_MAX_ORIGIN_LEN + 2 * RCACHE_MAX_IDENTITY_LEN + 64];
	uint64_t t = rc_now_ns(), size;

	if (!dev->info.identity[0] || (o->checked_ns && t - o->checked_ns < IDENTITY_CHECK_NS))
		return 0;
	o->checked_ns = t;
	if (rc_fd_identity(o->buffered_fd, &size, now, sizeof(now)) ||
	    !strcmp(now, dev->info.identity))
		return 0;
	snprintf(reason, sizeof(reason), "origin %s changed: recorded %s, now %s",
		 dev->info.origin, dev->info.identity, now);
	rcd_fence(d, dev, reason);
	return -ESTALE;
}

static void file_group_complete(struct rcd *d, struct rcd_iou *op, int res);

/* Reads (the rest of) a group's range: O_DIRECT while aligned. */
static void file_group_read(struct rcd *d, struct rcd_group *g)
{
	struct file_origin *o = g->dev->origin;
	struct io_uring_sqe *sqe = rcd_get_sqe(d);
	bool direct = o->direct && !(g->done % RCD_ALIGN);
	size_t want = (direct ? (g->len + RCD_ALIGN - 1) / RCD_ALIGN * RCD_ALIGN : g->len) - g->done;

	if (!sqe) {
		rcd_group_done(d, g, -EBUSY, "queueing the read");
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
		rcd_group_done(d, g, res, "read");
		return;
	}
	if (res == 0) {
		/* fill_finish logs it, one line per block that cannot be read */
		rcd_group_done(d, g, -EIO, "read (the file ends early: truncated under the device?)");
		return;
	}
	g->done += res;
	if (g->done < g->len) {
		file_group_read(d, g);
		return;
	}
	rcd_group_done(d, g, 0, NULL);
}

static void file_start(struct rcd *d, struct rcd_group *g)
{
	g->done = 0;
	file_group_read(d, g);
}

/* io_uring takes whatever we give it */
static unsigned int file_spread(struct rcd *d)
{
	/* a file read has no first-byte wait to hide: coalesce fully */
	(void)d;
	return 1;
}

const struct rcd_origin_ops rcd_origin_file = {
	.name = "file",
	.open = file_open,
	.close = file_close,
	.check = file_check,
	.spread = file_spread,
	.start = file_start,
};
