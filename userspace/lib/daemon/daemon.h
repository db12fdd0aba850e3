/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * rcached's engine: registers with dm-rcache, takes FETCH requests, reads
 * the origin range, writes it to the cache device with O_DIRECT at the
 * offset the kernel chose, and answers FETCH_DONE.  Many fills run at once;
 * none waits for another.
 */
#ifndef RCACHE_DAEMON_H
#define RCACHE_DAEMON_H

#include "daemon/config.h"	/* struct rcd_config, its defaults and rcached.conf */

/* Runs until SIGTERM/SIGINT; returns the process exit status. */
int rcd_run(const struct rcd_config *cfg);

#endif
