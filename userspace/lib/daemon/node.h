/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * rcached's node reporting, for Kubernetes and monitoring (node.c):
 * declarative devices from rcached.conf (created at start and on SIGHUP, in
 * a worker thread so the fill loop never waits on an origin probe), the
 * device report rcache-device-plugin reads (devices.json, replaced
 * atomically on every change and at least every report_interval), metrics
 * (a node-exporter textfile and/or http://HOST:PORT/metrics), and the
 * node-feature-discovery feature file.
 */
#ifndef RCACHE_NODE_H
#define RCACHE_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/loop.h"
#include "daemon/config.h"

struct rcd_node;

/*
 * After registration; @cfg and @loop outlive the node.  *@out is set even
 * when it fails (only on a bad setting: a metrics address), for
 * rcd_node_stop().
 */
int rcd_node_start(struct rcd_node **out, const struct rcd_config *cfg, struct rc_loop *loop);
/* SIGHUP: re-read the [device] sections and apply them. */
void rcd_node_reload(struct rcd_node *n);
/* A netlink event (device added, removed, state changed): report soon. */
void rcd_node_changed(struct rcd_node *n);
/* A fill of device @name (NULL: unknown) ended after @ns. */
void rcd_node_fill_done(struct rcd_node *n, const char *name, uint64_t ns, int error);
/*
 * Exiting: a last report that says the daemon is gone, then frees @n (NULL
 * is fine).  True when a declared-device worker still runs (left to end
 * with the process).
 */
bool rcd_node_stop(struct rcd_node *n);

#endif
