/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Warm-up (rcachectl warmup) and access traces (rcachectl trace record):
 * the CLI side of the kernel's "warmup" and "trace" messages.
 */
#ifndef RCACHE_WARMUP_H
#define RCACHE_WARMUP_H

#include <stdbool.h>
#include <stdint.h>

#include "kernel/dm.h"
#include "common/error.h"

struct rc_warmup_opts {
	const char *name;
	uint64_t begin, end;		/* bytes; end 0: the whole device */
	const char *trace;		/* replay this trace file instead */
	uint64_t rate;			/* bytes per second; 0: unlimited */
	bool wait;
	bool progress_bar;		/* a terminal: redraw one line */
};

/* Returns 0, or an error (also when --wait saw blocks fail). */
int rc_warmup(struct rc_dm *dm, const struct rc_warmup_opts *o, struct rc_err *err);

struct rc_trace_opts {
	const char *name;
	const char *out;
	unsigned int duration_s;	/* 0: until SIGINT/SIGTERM */
};

int rc_trace_record(struct rc_dm *dm, const struct rc_trace_opts *o, struct rc_err *err);

#endif
