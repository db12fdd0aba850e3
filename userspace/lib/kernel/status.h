/* SPDX-License-Identifier: GPL-2.0-only */
/* An rcache device's status, from dm's table and status lines. */
#ifndef RCACHE_STATUS_H
#define RCACHE_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kernel/dm.h"
#include "common/error.h"
#include "kernel/table.h"
#include "kernel/topology.h"

struct json_object;

struct rc_status {
	char name[128];
	uint64_t size_bytes;
	struct rc_table table;
	char cache_path[256];		/* /dev/NAME of table.cache_dev */
	uint32_t block_size;		/* bytes */
	uint64_t cached_blocks, total_blocks;
	uint64_t read_hits, read_misses;
	uint64_t hit_bytes, miss_bytes;
	uint64_t fetches_inflight, fetch_errors, stale_replies;
	uint64_t slots, evictions, cache_read_errors, md_commits;
	uint64_t prefetch_issued, prefetch_used, prefetch_wasted, streams;
	uint64_t warmup_pending, warmup_errors;
	/* 0 from a module older than these fields */
	uint64_t fill_timeouts, late_replies, retired_slots;
	char daemon[16];		/* connected | absent */
	char mode[16];			/* ready | stale | failed */
	char reason[1024];		/* why, when not ready (from netlink) */
	/* the dm device itself */
	char devt[32];			/* major:minor */
	char uuid[129];
	int open_count;
	struct rc_topo topo;		/* where the cache device sits (sysfs) */
};

/* Parses the STATUSTYPE_INFO line (see docs/operations.md, "The status line"). */
int rc_status_parse_info(const char *params, struct rc_status *st,
			 struct rc_err *err);
/* Fills @st for device @name; ENOTTY-style error if it is not rcache. */
int rc_status_get(struct rc_dm *dm, const char *name, struct rc_status *st,
		  struct rc_err *err);
/* One JSON object (compact, no newline). */
void rc_status_print_json(FILE *f, const struct rc_status *st);
/* The same as a json-c object, for callers that add members (json_object_put it). */
struct json_object *rc_status_json(const struct rc_status *st);
/* read_hits / (read_hits + read_misses); 0 before the first read */
double rc_status_hit_ratio(const struct rc_status *st);
double rc_status_cached_percent(const struct rc_status *st);
/* Healthy: mode ready and a daemon connected.  Else false and why in @why. */
bool rc_status_healthy(const struct rc_status *st, char *why, size_t len);
void rc_status_print_text(FILE *f, const struct rc_status *st);

#endif
