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
#include "common/util.h"
#include "origin/backend.h"
#include "origin/origin.h"

#define IDENTITY_CHECK_NS 1000000000ULL
/*
 * Origin reads in flight per device: enough to keep a disk or NFS server
 * busy (a read is up to coalesce_bytes), few enough that reads stuck on a
 * hung mount leave io-wq workers (the fill loop bounds them) for the other
 * devices.
 */
#define FILE_MAX_READS 16

/* The backend's state: the loop it runs in. */
struct file_backend {
	const struct rco_env *env;
};

enum file_step {
	FILE_OPEN_BUFFERED,	/* openat(path, O_RDONLY) */
	FILE_OPEN_DIRECT,	/* openat(path, O_RDONLY | O_DIRECT), may fail */
	FILE_STAT_OPEN,		/* statx of the opened file: its type and version */
	FILE_STAT_CHECK,	/* statx again, at most once a second: the version */
};

struct file_origin {
	const struct rco_env *env;
	struct rco_device *dev;
	int fd;			/* O_DIRECT when the filesystem allows */
	int buffered_fd;	/* for unaligned continuations */
	bool direct;
	uint64_t checked_ns;
	unsigned int reads;	/* origin reads in flight */
	/* the open's steps, then the version checks: one at a time */
	struct rc_iou op;
	enum file_step step;
	bool op_busy;
	struct statx stx;
};

static struct file_origin *file_origin(struct rco_handle *h)
{
	return (struct file_origin *)h;
}

static void file_op_done(struct rc_iou *op, int res);

/* Queues the next step of the open or check; the device is held meanwhile. */
static int file_op_submit(struct file_origin *o, enum file_step step)
{
	const struct rco_env *env = o->env;
	struct io_uring_sqe *sqe = env->get_sqe(env->cookie);

	if (!sqe)
		return -EBUSY;
	o->step = step;
	o->op.done = file_op_done;
	switch (step) {
	case FILE_OPEN_BUFFERED:
		io_uring_prep_openat(sqe, AT_FDCWD, o->dev->url->path, O_RDONLY | O_CLOEXEC, 0);
		break;
	case FILE_OPEN_DIRECT:
		io_uring_prep_openat(sqe, AT_FDCWD, o->dev->url->path,
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
		env->hold(env->cookie, o->dev);
	o->op_busy = true;
	return 0;
}

/* Fences the device when the file is no longer the recorded version. */
static void file_compare(struct file_origin *o)
{
	struct rco_device *dev = o->dev;
	char now[RCACHE_MAX_IDENTITY_LEN + 1];
	char reason[RCACHE_MAX_ORIGIN_LEN + 2 * RCACHE_MAX_IDENTITY_LEN + 64];
	uint64_t size;

	o->checked_ns = rc_now_ns();
	if (!dev->identity[0] || dev->removed ||
	    rc_statx_identity(&o->stx, o->buffered_fd, &size, now, sizeof(now)) ||
	    !strcmp(now, dev->identity))
		return;
	snprintf(reason, sizeof(reason), "origin %s changed: recorded %s, now %s",
		 dev->origin, dev->identity, now);
	o->env->fence(o->env->cookie, dev, reason);
}

static void file_op_done(struct rc_iou *op, int res)
{
	struct file_origin *o = (struct file_origin *)((char *)op - offsetof(struct file_origin, op));
	const struct rco_env *env = o->env;
	struct rco_device *dev = o->dev;
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
		file_compare(o);
		break;
	}
	}
	if (!error && next != o->step && !env->draining && !dev->removed) {
		error = file_op_submit(o, next);
		if (!error)
			return;
		what = "queueing the open";
	}
	o->op_busy = false;
	/* the device (and @o with it) may go in release() */
	if (o->step != FILE_STAT_CHECK)
		env->opened(env->cookie, dev, env->draining ? -ECANCELED : error, what);
	env->release(env->cookie, dev);
}

static struct rco_backend *file_create(const struct rco_env *env, struct rc_err *err)
{
	struct file_backend *b = calloc(1, sizeof(*b));

	if (!b) {
		rc_errf(err, ENOMEM, "out of memory");
		return NULL;
	}
	b->env = env;
	return (struct rco_backend *)b;
}

/* what is on the io_uring ends there; the handles keep their env */
static void file_destroy(struct rco_backend *b)
{
	free(b);
}

static int file_open(struct rco_backend *b, struct rco_device *dev, struct rco_handle **h,
		     struct rc_err *err)
{
	struct file_origin *o = calloc(1, sizeof(*o));
	int r;

	if (!o)
		return rc_errf(err, ENOMEM, "out of memory");
	o->env = ((struct file_backend *)b)->env;
	o->dev = dev;
	o->fd = o->buffered_fd = -1;
	r = file_op_submit(o, FILE_OPEN_BUFFERED);
	if (r) {
		free(o);
		return rc_errf(err, -r, "origin %s: queueing the open: %s", dev->origin,
			       strerror(-r));
	}
	*h = (struct rco_handle *)o;
	return RCO_OPENING;
}

static void file_close(struct rco_handle *h)
{
	struct file_origin *o = file_origin(h);

	if (!o)
		return;
	if (o->fd >= 0 && o->fd != o->buffered_fd)
		close(o->fd);
	if (o->buffered_fd >= 0)
		close(o->buffered_fd);
	free(o);
}

/*
 * Before a fill: -ESTALE once the device is fenced.  At most once a second
 * a statx (through io_uring) checks that the file is still the recorded
 * version; a change fences the device when it answers.
 */
static int file_check(struct rco_handle *h)
{
	struct file_origin *o = file_origin(h);

	if (o->dev->stale)
		return -ESTALE;
	/* (an open still under way is busy too) */
	if (o->op_busy || !o->dev->identity[0] || rc_now_ns() - o->checked_ns < IDENTITY_CHECK_NS)
		return 0;
	if (file_op_submit(o, FILE_STAT_CHECK))
		o->checked_ns = rc_now_ns();	/* the ring is full: next time */
	return 0;
}

static void file_read_complete(struct rc_iou *op, int res);

/* The read is over: one fewer in flight, then its fills go on. */
static void file_read_end(struct rco_read *r, int error, const char *what)
{
	struct file_origin *o = r->priv;

	o->reads--;
	r->done(r, error, what);
}

/* Reads (the rest of) a read's range: O_DIRECT while aligned. */
static void file_read_next(struct rco_read *r)
{
	struct file_origin *o = r->priv;
	const struct rco_env *env = o->env;
	struct io_uring_sqe *sqe;
	bool direct = o->direct && !(r->got % RCO_ALIGN);
	size_t want = (direct ? (r->len + RCO_ALIGN - 1) / RCO_ALIGN * RCO_ALIGN : r->len) - r->got;

	if (env->draining) {
		file_read_end(r, -ECANCELED, NULL);
		return;
	}
	/* fenced since these fills came: not a byte of another version */
	if (o->dev->stale) {
		file_read_end(r, -ESTALE, NULL);
		return;
	}
	sqe = env->get_sqe(env->cookie);
	if (!sqe) {
		file_read_end(r, -EBUSY, "queueing the read");
		return;
	}
	r->iou.done = file_read_complete;
	io_uring_prep_read(sqe, direct ? o->fd : o->buffered_fd, r->buf + r->got, want,
			   r->off + r->got);
	/*
	 * A buffered read of cached data (tmpfs, a warm NFS page cache) is a
	 * copy that would run inline in the event loop's io_uring_enter(), one
	 * read after the other: an io-wq worker does it instead, so that
	 * reads are copied on several CPUs at once.
	 */
	if (!direct)
		sqe->flags |= IOSQE_ASYNC;
	io_uring_sqe_set_data(sqe, &r->iou);
}

static void file_read_complete(struct rc_iou *op, int res)
{
	struct rco_read *r = (struct rco_read *)((char *)op - offsetof(struct rco_read, iou));

	if (res == -EAGAIN || res == -EINTR) {
		file_read_next(r);
		return;
	}
	if (res < 0) {
		file_read_end(r, res, "read");
		return;
	}
	if (res == 0) {
		/* fill_finish logs it, one line per block that cannot be read */
		file_read_end(r, -EIO, "read (the file ends early: truncated under the device?)");
		return;
	}
	r->got += res;
	if (r->got < r->len) {
		file_read_next(r);
		return;
	}
	file_read_end(r, 0, NULL);
}

static void file_start(struct rco_handle *h, struct rco_read *r)
{
	struct file_origin *o = file_origin(h);

	o->reads++;
	r->priv = o;
	r->got = 0;
	file_read_next(r);
}

/* a file read has no first-byte wait to hide: coalesce fully, a few at once */
static unsigned int file_spread(struct rco_handle *h)
{
	return file_origin(h)->reads < FILE_MAX_READS ? 1 : 0;
}

const struct rco_ops rco_file_ops = {
	.name = "file",
	.create = file_create,
	.destroy = file_destroy,
	.open = file_open,
	.close = file_close,
	.check = file_check,
	.spread = file_spread,
	.start = file_start,
};
