/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The rcache table line, both ways:
 *   <cache_dev> <origin_url> <block_sectors> [<#opt_args> <opt_arg>...]
 */
#ifndef RCACHE_TABLE_H
#define RCACHE_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "linux/dm-rcache.h"

struct rc_table {
	char cache_dev[256];
	char origin[RCACHE_MAX_ORIGIN_LEN + 1];
	uint32_t block_sectors;
	uint32_t daemon_timeout;	/* 0: not given (kernel default) */
	uint32_t fill_timeout;		/* 0: not given (kernel default) */
	bool fail_fast;
	uint64_t origin_size;		/* 0: not given */
	bool reset;			/* reformat the cache device */
	bool commit_ms_set;
	uint32_t commit_ms;		/* commit_interval */
	bool no_prefetch;
	uint32_t prefetch_window;	/* blocks; 0: not given */
	uint32_t prefetch_budget;	/* 0: not given */
	char identity[RCACHE_MAX_IDENTITY_LEN + 1];
};

/* Returns a malloc'd parameter string. */
char *rc_table_format(const struct rc_table *t);
int rc_table_parse(const char *params, struct rc_table *t, struct rc_err *err);

#endif
