/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * rcached's engine: registers with dm-rcache, takes FETCH requests, reads
 * the origin range, writes it to the cache device with O_DIRECT at the
 * offset the kernel chose, and answers FETCH_DONE.  Many fills run at once
 * through one io_uring; none waits for another.
 */
#ifndef RCACHE_DAEMON_H
#define RCACHE_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

struct rcd_config {
	const char *runtime_dir;	/* private device nodes */
	unsigned int max_fills;		/* fills in flight at once */
	uint64_t max_buffer_bytes;	/* bytes of fill buffers at once */
	unsigned int stop_grace_ms;	/* SIGTERM: wait this long for fills */
};

void rcd_config_defaults(struct rcd_config *cfg);

/* Runs until SIGTERM/SIGINT; returns the process exit status. */
int rcd_run(const struct rcd_config *cfg);

#endif
