/* SPDX-License-Identifier: GPL-2.0-only */
/* rcached's settings: defaults, rcached.conf's [daemon] section, flags. */
#ifndef RCACHE_DAEMON_CONFIG_H
#define RCACHE_DAEMON_CONFIG_H

#include <stdint.h>

#include "common/error.h"

/*
 * Default of coalesce_min: coalesced reads are at least this big when that
 * many bytes wait, so a GET's time to first byte is paid for 2 MiB or more.
 * Bigger is slower to ramp up: a stream's first prefetch windows then go out
 * as one or two long GETs instead of several parallel ones (measured against
 * 4 MiB: a cold sequential read from S3 about 1.7x faster, the ext4 exercise
 * about 1.7x).
 */
#define RCD_MIN_COALESCE (2u << 20)

struct rcd_config {
	const char *config_file;	/* rcached.conf; missing is fine */
	char runtime_dir[256];		/* private device nodes */
	unsigned int max_fills;		/* fills in flight at once */
	uint64_t max_buffer_bytes;	/* bytes of fill buffers at once */
	unsigned int stop_grace_ms;	/* SIGTERM: wait this long for fills */
	/* HTTP/S3 origins */
	uint64_t coalesce_bytes;	/* largest origin read adjacent fills merge into */
	uint64_t coalesce_min_bytes;	/* smallest, when that much waits */
	unsigned int http_parallel;	/* range GETs in flight */
	unsigned int http_retries;	/* attempts after the first */
	unsigned int http_backoff_ms;	/* first retry delay (full jitter) */
	unsigned int http_backoff_max_ms;
	unsigned int http_stall_s;	/* no byte for this long: retry */
	unsigned int http_connect_timeout_ms;
	/* node reporting (Kubernetes): node.c */
	char report_file[256];		/* devices.json; "": runtime_dir/devices.json */
	unsigned int report_interval_s;	/* rewrite at least this often */
	char metrics_textfile[256];	/* node-exporter textfile; "": none */
	char metrics_listen[128];	/* HOST:PORT, :PORT, PORT (127.0.0.1) serving /metrics; "": none */
	unsigned int metrics_max_conns;	/* connections open at once */
	unsigned int metrics_idle_timeout_s;	/* to send a request and take the answer */
	char nfd_features_file[256];	/* node-feature-discovery features.d file */
	unsigned int warm_percent;	/* cached % at which a dataset is "warm" */
	char sysfs_root[256];		/* topology; "": $RCACHE_SYSFS_ROOT or /sys */
};

/* The defaults (a built-in rcached.conf). */
void rcd_config_defaults(struct rcd_config *cfg);
/* Applies the [daemon] section of rcached.conf (command-line flags win). */
int rcd_config_file(struct rcd_config *cfg, const char *path, struct rc_err *err);

#endif
