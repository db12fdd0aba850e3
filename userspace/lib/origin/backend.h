/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The origin interface: what the fill loop asks of an origin backend
 * (struct rco_ops) and what it offers the backends in return (struct
 * rco_env).  A backend includes no daemon header.
 *
 * The fill loop hands a backend one read at a time for a device: a range of
 * the origin (several adjacent blocks, coalesced) and the buffer it goes to.
 * The backend reads it without ever blocking the event loop, through the
 * loop's io_uring or fds the loop watches for it, and ends it with
 * read->done().  Reads, opens and version checks of one device never wait on
 * another device's origin: a hung NFS mount stalls only the devices on it.
 */
#ifndef RCACHE_ORIGIN_BACKEND_H
#define RCACHE_ORIGIN_BACKEND_H

#include <liburing.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/ini.h"
#include "common/loop.h"
#include "origin/aws.h"
#include "origin/url.h"

/* O_DIRECT alignment of read buffers (and of the cache writes after them) */
#define RCO_ALIGN 4096

/* One device's origin, as the fill loop knows it.  The loop's; backends read it. */
struct rco_device {
	const char *name;		/* the dm device, for messages */
	const char *origin;		/* the origin URL of its table */
	const struct rc_url *url;	/* parsed */
	const char *identity;		/* the recorded version; "" when unknown */
	uint64_t size;			/* the recorded origin size in bytes */
	/* kept current by the loop */
	bool stale;			/* fenced: not one byte of another version */
	bool removed;			/* the dm device is gone */
};

/*
 * One read: @len bytes of the origin at @off into @buf.  @buf is RCO_ALIGN
 * aligned with room for @len rounded up to RCO_ALIGN (an O_DIRECT read may
 * fill that tail).  The backend calls done() once, from the event loop;
 * the read may be freed in it.
 */
struct rco_read {
	uint64_t off;
	size_t len;
	uint8_t *buf;
	/*
	 * @error 0: all @len bytes are in @buf.  Else a negative errno:
	 * -ESTALE (fenced), -ECANCELED (exiting), -EIO (tried and failed: the
	 * loop may try its blocks one by one)...  @what names the step that
	 * failed for the loop's log; NULL when the backend logged it already.
	 */
	void (*done)(struct rco_read *r, int error, const char *what);
	void *cookie;			/* the loop's */
	/* the backend's, while the read runs */
	struct rc_iou iou;
	size_t got;
	void *priv;
};

/* HTTP/S3 settings of rcached.conf's [daemon] section */
struct rco_http_settings {
	unsigned int parallel;		/* range GETs in flight */
	unsigned int retries;		/* attempts after the first */
	unsigned int backoff_ms;	/* first retry delay (full jitter) */
	unsigned int backoff_max_ms;
	unsigned int stall_s;		/* no byte for this long: retry */
	unsigned int connect_timeout_ms;
};

/* What the fill loop offers a backend; every function gets @cookie first. */
struct rco_env {
	void *cookie;
	/*
	 * An sqe on the loop's io_uring, NULL when it is full.  Its user data
	 * must be a struct rc_iou: the loop calls its done() with the result.
	 * The loop submits what a round queued at the round's end.
	 */
	struct io_uring_sqe *(*get_sqe)(void *cookie);
	/* fds in the event loop: w->fn(w, events) runs when one is ready */
	int (*watch)(void *cookie, struct rc_watch *w, uint32_t events, bool modify);
	void (*unwatch)(void *cookie, struct rc_watch *w);
	/* ... and frees @w (malloc'd) once the events of this round are handled */
	void (*unwatch_free)(void *cookie, struct rc_watch *w);
	/* S3 settings, loaded on first use (a file-only host needs none) */
	struct rc_aws *(*aws_settings)(void *cookie, struct rc_err *err);
	/* ...with credentials to sign with; NULL with err->code EAGAIN until
	 * the first web-identity credentials arrive */
	struct rc_aws *(*aws_credentials)(void *cookie, struct rc_err *err);
	/* A request found the credentials expired: true when new ones are on
	 * their way (web identity), false when these are all there is. */
	bool (*aws_expired)(void *cookie);
	/* The origin is no longer the recorded version: misses of @dev fail. */
	void (*fence)(void *cookie, struct rco_device *dev, const char *reason);
	/* An open that returned RCO_OPENING ended: @error 0 or a negative
	 * errno, @what saying what failed. */
	void (*opened)(void *cookie, struct rco_device *dev, int error, const char *what);
	/* An asynchronous operation holds its device while in flight. */
	void (*hold)(void *cookie, struct rco_device *dev);
	void (*release)(void *cookie, struct rco_device *dev);

	const struct rc_ini *conf;	/* rcached.conf (may be empty) */
	struct rco_http_settings http;
	/* the loop is exiting: no new read, open or check starts */
	bool draining;
};

struct rco_backend;	/* a backend's state in one fill loop */
struct rco_handle;	/* one device's open origin */

/* open() returns this when it finishes later, in env->opened() */
#define RCO_OPENING 1

struct rco_ops {
	const char *name;
	/* The backend's state, made for the first device of its kind. */
	struct rco_backend *(*create)(const struct rco_env *env, struct rc_err *err);
	/*
	 * Exiting (env->draining set): ends the reads it can end now with
	 * -ECANCELED and frees the state.  Reads on the io_uring end as they
	 * complete; handles stay valid for close().
	 */
	void (*destroy)(struct rco_backend *b);
	/*
	 * Opens @dev's origin: 0, RCO_OPENING, or a negative errno with @err
	 * set.  Nothing may block on the origin, RCO_OPENING or not.
	 */
	int (*open)(struct rco_backend *b, struct rco_device *dev, struct rco_handle **h,
		    struct rc_err *err);
	void (*close)(struct rco_handle *h);
	/* Before each fill: 0, or -ESTALE once the origin changed. */
	int (*check)(struct rco_handle *h);
	/*
	 * How many reads the waiting fills of the device should be spread over
	 * now: 0 when no read can start, else the reads the backend could run
	 * at once (coalescing trades parallel reads for fewer, larger ones).
	 */
	unsigned int (*spread)(struct rco_handle *h);
	/* Reads r->off..r->len into r->buf; ends in r->done(). */
	void (*start)(struct rco_handle *h, struct rco_read *r);
};

/* file:// (io_uring reads) and s3:// or http(s):// (libcurl range GETs) */
extern const struct rco_ops rco_file_ops;
extern const struct rco_ops rco_http_ops;

#endif
