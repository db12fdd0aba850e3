/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Per-device metrics in the Prometheus text format (version 0.0.4), and
 * node-feature-discovery feature lines.  The counters come from the
 * kernel's status line (struct rc_status, as `rcachectl status` shows
 * them); the fill latency histogram is measured by rcached, from a FETCH
 * received to its FETCH_DONE sent.
 */
#ifndef RCACHE_METRICS_H
#define RCACHE_METRICS_H

#include <stdint.h>
#include <stdio.h>

#include "daemon/declare.h"
#include "kernel/status.h"

#define RC_FETCH_NR_BUCKETS 15
/* upper bounds in seconds; +Inf follows */
extern const double rc_fetch_buckets[RC_FETCH_NR_BUCKETS];

struct rc_fill_hist {
	struct rc_fill_hist *next;
	char name[128];
	uint64_t buckets[RC_FETCH_NR_BUCKETS];	/* not cumulative */
	uint64_t count, errors;
	double sum;				/* seconds */
};

struct rc_metrics {
	struct rc_fill_hist *hists;
};

/* One fill of device @name took @ns; @error non-zero when it failed. */
void rc_metrics_observe(struct rc_metrics *m, const char *name, uint64_t ns, int error);
void rc_metrics_free(struct rc_metrics *m);

/* A snapshot of every rcache device on the host. */
struct rc_snapshot {
	struct rc_status *v;
	int n;
};

int rc_snapshot_take(struct rc_snapshot *s, struct rc_err *err);
void rc_snapshot_free(struct rc_snapshot *s);

/*
 * Everything for /metrics: the device counters of @s, the histograms of @m
 * (may be NULL) and the outcome of declared devices @decl (may be NULL).
 */
void rc_metrics_write(FILE *f, const struct rc_snapshot *s, const struct rc_metrics *m,
		      const struct rc_decl_results *decl);

/*
 * node-feature-discovery: "rcache.io/dataset.<name>=ready|warm" for each
 * resource (see declare.h; @decls may be NULL: one per device) with a
 * healthy device; warm when each of its healthy devices has at least
 * @warm_percent cached, as a pod may get any of them.
 */
void rc_nfd_write(FILE *f, const struct rc_snapshot *s, unsigned int warm_percent,
		  const struct rc_decls *decls);

#endif
