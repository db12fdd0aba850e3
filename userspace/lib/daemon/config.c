// SPDX-License-Identifier: GPL-2.0-only
/*
 * rcached.conf, the [daemon] section:
 *   runtime_dir = /run/rcached     max_fills = 128      max_buffer = 512M
 *   coalesce = 8M                  http_parallel = 16   http_retries = 8
 *   http_backoff_ms = 100          http_backoff_max_ms = 5000
 *   http_stall_timeout = 10        http_connect_timeout_ms = 5000
 *   report_file = /run/rcached/devices.json   report_interval = 2
 *   metrics_textfile = PATH   metrics_listen = [HOST:]PORT (HOST 127.0.0.1)
 *   metrics_max_connections = 16   metrics_idle_timeout = 10
 *   nfd_features_file = PATH  warm_percent = 99   sysfs_root = /sys
 * [s3] is read by aws.c, [device NAME] sections by declare.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stddef.h>
#include <string.h>

#include "daemon/config.h"
#include "daemon/metricsd.h"
#include "common/ini.h"
#include "common/util.h"

void rcd_config_defaults(struct rcd_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->runtime_dir, sizeof(cfg->runtime_dir), "/run/rcached");
	cfg->max_fills = 128;
	cfg->max_buffer_bytes = 512ULL << 20;
	cfg->stop_grace_ms = 10000;
	cfg->coalesce_bytes = 8ULL << 20;
	cfg->coalesce_min_bytes = RCD_MIN_COALESCE;
	cfg->http_parallel = 16;
	cfg->http_retries = 8;
	cfg->http_backoff_ms = 100;
	cfg->http_backoff_max_ms = 5000;
	cfg->http_stall_s = 10;
	cfg->http_connect_timeout_ms = 5000;
	cfg->report_interval_s = 2;
	cfg->warm_percent = 99;
	cfg->metrics_max_conns = RC_METRICS_MAX_CONNS;
	cfg->metrics_idle_timeout_s = RC_METRICS_IDLE_TIMEOUT_S;
}

struct uint_key {
	const char *key;
	uint64_t min, max;
	size_t offset;
	bool size;		/* accepts 8M etc, stored as uint64_t */
};

#define U32(k, field, lo, hi) { k, lo, hi, offsetof(struct rcd_config, field), false }
#define SIZE(k, field, lo, hi) { k, lo, hi, offsetof(struct rcd_config, field), true }

static const struct uint_key daemon_keys[] = {
	U32("max_fills", max_fills, 1, 65536),
	SIZE("max_buffer", max_buffer_bytes, 64ULL << 20, 1ULL << 40),
	U32("stop_grace_ms", stop_grace_ms, 0, 600000),
	U32("http_parallel", http_parallel, 1, 256),
	SIZE("coalesce", coalesce_bytes, 4096, 1ULL << 30),
	SIZE("coalesce_min", coalesce_min_bytes, 4096, 1ULL << 30),
	U32("http_retries", http_retries, 0, 100),
	U32("http_backoff_ms", http_backoff_ms, 0, 600000),
	U32("http_backoff_max_ms", http_backoff_max_ms, 0, 3600000),
	U32("http_stall_timeout", http_stall_s, 1, 3600),
	U32("http_connect_timeout_ms", http_connect_timeout_ms, 100, 600000),
	U32("report_interval", report_interval_s, 1, 3600),
	U32("warm_percent", warm_percent, 1, 100),
	U32("metrics_max_connections", metrics_max_conns, 1, 1024),
	U32("metrics_idle_timeout", metrics_idle_timeout_s, 1, 3600),
};

/* settings that are strings (paths, addresses) */
#define STR(k, field) { k, offsetof(struct rcd_config, field), sizeof(((struct rcd_config *)0)->field) }
static const struct {
	const char *key;
	size_t offset, size;
} daemon_str_keys[] = {
	STR("runtime_dir", runtime_dir),
	STR("report_file", report_file),
	STR("metrics_textfile", metrics_textfile),
	STR("metrics_listen", metrics_listen),
	STR("nfd_features_file", nfd_features_file),
	STR("sysfs_root", sysfs_root),
};

int rcd_config_file(struct rcd_config *cfg, const char *path, struct rc_err *err)
{
	struct rc_ini ini;
	int i, r;

	r = rc_ini_load(&ini, path, err);
	if (r == -ENOENT)
		return 0;
	if (r)
		return r;
	for (i = 0; i < ini.n; i++) {
		const struct rc_ini_entry *e = &ini.e[i];
		size_t k;
		uint64_t v;

		if (strcmp(e->section, "daemon"))
			continue;
		for (k = 0; k < sizeof(daemon_str_keys) / sizeof(daemon_str_keys[0]); k++)
			if (!strcmp(e->key, daemon_str_keys[k].key))
				break;
		if (k < sizeof(daemon_str_keys) / sizeof(daemon_str_keys[0])) {
			if (strlen(e->value) >= daemon_str_keys[k].size) {
				r = rc_errf(err, EINVAL, "%s: line %d: %s: too long", path, e->line, e->key);
				break;
			}
			snprintf((char *)cfg + daemon_str_keys[k].offset, daemon_str_keys[k].size, "%s",
				 e->value);
			continue;
		}
		for (k = 0; k < sizeof(daemon_keys) / sizeof(daemon_keys[0]); k++)
			if (!strcmp(e->key, daemon_keys[k].key))
				break;
		if (k == sizeof(daemon_keys) / sizeof(daemon_keys[0])) {
			r = rc_errf(err, EINVAL, "%s: line %d: unknown setting '%s' in [daemon]", path,
				    e->line, e->key);
			break;
		}
		if ((daemon_keys[k].size ? rc_parse_size(e->value, &v) :
		     rc_parse_u64(e->value, 0, UINT64_MAX, &v)) ||
		    v < daemon_keys[k].min || v > daemon_keys[k].max) {
			r = rc_errf(err, EINVAL, "%s: line %d: %s = %s: expected %llu to %llu", path, e->line,
				    e->key, e->value, (unsigned long long)daemon_keys[k].min,
				    (unsigned long long)daemon_keys[k].max);
			break;
		}
		if (daemon_keys[k].size)
			*(uint64_t *)((char *)cfg + daemon_keys[k].offset) = v;
		else
			*(unsigned int *)((char *)cfg + daemon_keys[k].offset) = (unsigned int)v;
	}
	rc_ini_free(&ini);
	return r;
}
