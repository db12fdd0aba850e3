/* SPDX-License-Identifier: GPL-2.0-only */
/* Creating an rcache device: probe the origin, check the cache, load. */
#ifndef RCACHE_DEVICE_H
#define RCACHE_DEVICE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "kernel/dm.h"
#include "common/error.h"
#include "common/ini.h"

#define RC_DM_UUID_PREFIX "RCACHE-"

struct rc_create_opts {
	const char *name;
	const char *origin;
	const char *cache;
	uint64_t block_size;		/* bytes; 0: 1 MiB */
	uint32_t daemon_timeout;	/* seconds; 0: kernel default */
	uint32_t fill_timeout;		/* seconds; 0: kernel default */
	bool fail_fast;
	bool reset;			/* reformat the cache device */
	int commit_ms;			/* -1: kernel default */
	bool no_prefetch;
	uint32_t prefetch_window;	/* blocks; 0: default */
	uint32_t prefetch_budget;	/* 0: default */
	const struct rc_ini *conf;	/* rcached.conf, for S3 settings; may be NULL */
	const char *uuid_suffix;	/* after RCACHE-NAME in the dm uuid; NULL: none */
};

int rc_device_create(struct rc_dm *dm, const struct rc_create_opts *o,
		     dev_t *dev, struct rc_err *err);

/* Removes the device and what create kept for it (an origin's query). */
int rc_device_remove(struct rc_dm *dm, const char *name, struct rc_err *err);

/* Size and logical block size of a block device that nobody holds. */
int rc_cache_dev_probe(const char *path, dev_t *dev, uint64_t *bytes,
		       unsigned int *lbs, struct rc_err *err);

#endif
