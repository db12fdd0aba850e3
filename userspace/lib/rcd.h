/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * rcached internals shared by the engine (daemon.c) and the origin
 * backends (origin_file.c, origin_http.c).
 *
 * A fill is one FETCH: the backend reads the origin range into fill->buf and
 * calls rcd_fill_read_done(); the engine writes the buffer into the cache
 * device with O_DIRECT through io_uring and answers FETCH_DONE.
 */
#ifndef RCACHE_RCD_H
#define RCACHE_RCD_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

#include "aws.h"
#include "daemon.h"
#include "error.h"
#include "genl.h"
#include "ini.h"
#include "url.h"

#define RCD_ALIGN 4096

struct rcd;
struct rcd_device;
struct rcd_fill;

/* An fd in the event loop and what to do when it is ready. */
struct rcd_watch {
	int fd;
	void (*fn)(struct rcd *d, struct rcd_watch *w, uint32_t events);
	void *arg;
	struct rcd_watch *next_dead;	/* rcd_unwatch_free() */
};

struct rcd_origin_ops {
	const char *name;
	/* per device: open the origin and check it is the recorded version */
	int (*open)(struct rcd *d, struct rcd_device *dev, struct rc_err *err);
	void (*close)(struct rcd *d, struct rcd_device *dev);
	/* before each fill: 0, or -ESTALE once the origin changed */
	int (*check)(struct rcd *d, struct rcd_device *dev);
	/* start reading fill->fx's origin range; ends in rcd_fill_read_done() */
	void (*read)(struct rcd *d, struct rcd_fill *f);
	/* after a batch of reads was queued: issue them (coalescing point) */
	void (*kick)(struct rcd *d);
	/* true when read() brings its own buffer (shared by coalesced fills) */
	bool own_buffers;
};

struct rcd_device {
	struct rcd_device *next;
	struct rc_nl_device info;
	struct rc_url url;
	const struct rcd_origin_ops *ops;
	void *origin;			/* backend state */
	int cache_fd;			/* O_DIRECT */
	unsigned int refs;		/* fills in flight */
	bool removed;
	bool stale;
};

/* A buffer several coalesced fills write their slices from. */
struct rcd_shared_buf {
	uint8_t *p;
	unsigned int refs;
};

enum rcd_phase { RCD_READ, RCD_WRITE };

struct rcd_fill {
	struct rcd_fill *next;		/* engine wait list, or a backend's */
	struct rc_nl_fetch fx;
	struct rcd_device *dev;
	uint8_t *buf;
	size_t buf_len;			/* fx.length rounded up to RCD_ALIGN */
	struct rcd_shared_buf *share;	/* buf is a slice of it */
	size_t done;
	enum rcd_phase phase;
};

struct rcd {
	struct rcd_config cfg;
	struct rc_ini conf;		/* rcached.conf (may be empty) */
	struct rc_aws aws;
	bool aws_loaded;
	struct rc_genl fill;		/* registered; FETCH in, FETCH_DONE out */
	struct rc_genl ctl;		/* GET_STATUS, SET_STATE */
	struct nl_cb *cb;
	struct io_uring ring;
	bool ring_ok;
	unsigned int pending_sqes;
	int epfd;
	struct rcd_watch sig_w, ring_w, nl_w;
	struct rcd_device *devices;
	struct rcd_fill *wait_head, *wait_tail;
	unsigned int nr_fills;
	uint64_t buffer_bytes;
	void *buf_cache;
	unsigned int nr_buf_cache;
	bool stopping;
	struct rcd_watch *dead_watches;	/* events of this round may still name them */
	void *http;			/* origin_http.c state */
};

/* engine services for the backends */
void rcd_fill_read_done(struct rcd *d, struct rcd_fill *f, int error, const char *what);
void rcd_fence(struct rcd *d, struct rcd_device *dev, const char *reason);
struct io_uring_sqe *rcd_get_sqe(struct rcd *d);
int rcd_watch(struct rcd *d, struct rcd_watch *w, uint32_t events, bool modify);
void rcd_unwatch(struct rcd *d, struct rcd_watch *w);
/* Unwatches a malloc'd watch and frees it once the current events are handled. */
void rcd_unwatch_free(struct rcd *d, struct rcd_watch *w);
/* S3 settings, loaded on first use (a file-only host needs none) */
struct rc_aws *rcd_aws(struct rcd *d, struct rc_err *err);

extern const struct rcd_origin_ops rcd_origin_file;
/* io_uring completion of a file origin read */
void rcd_origin_file_complete(struct rcd *d, struct rcd_fill *f, int res);
extern const struct rcd_origin_ops rcd_origin_http;
void rcd_http_exit(struct rcd *d);

#endif
