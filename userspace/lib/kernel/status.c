// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "kernel/genl.h"
#include "kernel/status.h"
#include "common/json.h"
#include "common/util.h"

int rc_status_parse_info(const char *params, struct rc_status *st,
			 struct rc_err *err)
{
	unsigned int block_sectors;
	uint64_t hit_sectors, miss_sectors;
	int n;

	n = sscanf(params,
		   "%u %" SCNu64 "/%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
		   " %" SCNu64 " %" SCNu64 " %15s %" SCNu64 " %15s %" SCNu64 " %" SCNu64
		   " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
		   " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64,
		   &block_sectors, &st->cached_blocks, &st->total_blocks,
		   &st->read_hits, &st->read_misses, &hit_sectors, &miss_sectors,
		   &st->fetches_inflight, &st->fetch_errors, st->daemon,
		   &st->stale_replies, st->mode, &st->slots, &st->evictions,
		   &st->cache_read_errors, &st->md_commits, &st->prefetch_issued,
		   &st->prefetch_used, &st->prefetch_wasted, &st->streams,
		   &st->warmup_pending, &st->warmup_errors, &st->fill_timeouts,
		   &st->late_replies, &st->retired_slots);
	if (n != 22 && n != 25)
		return rc_errf(err, EPROTO, "unrecognised rcache status: %s", params);
	st->block_size = block_sectors * 512;
	st->hit_bytes = hit_sectors * 512;
	st->miss_bytes = miss_sectors * 512;
	return 0;
}

/* /sys/dev/block/M:m/uevent names the device node. */
static void resolve_dev(const char *majmin, char *out, size_t outlen)
{
	char path[128], line[256];
	FILE *f;

	snprintf(out, outlen, "%s", majmin);
	snprintf(path, sizeof(path), "/sys/dev/block/%s/uevent", majmin);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "DEVNAME=", 8)) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(out, outlen, "/dev/%s", line + 8);
			break;
		}
	}
	fclose(f);
}

/* The kernel keeps the reason for a mode; it is not in the status line. */
static void status_reason(const char *name, struct rc_status *st)
{
	struct rc_nl_device *dev = calloc(1, sizeof(*dev));
	struct rc_genl g;

	if (!dev)
		return;
	if (!rc_genl_open(&g, NULL)) {
		if (!rc_genl_get_device_by_name(&g, name, dev, NULL))
			snprintf(st->reason, sizeof(st->reason), "%s", dev->reason);
		rc_genl_close(&g);
	}
	free(dev);
}

int rc_status_get(struct rc_dm *dm, const char *name, struct rc_status *st,
		  struct rc_err *err)
{
	struct rc_dm_table t;
	struct rc_dm_info info;
	unsigned int ma, mi;
	int r;

	memset(st, 0, sizeof(*st));
	snprintf(st->name, sizeof(st->name), "%s", name);
	r = rc_dm_status(dm, name, true, &t, &info, err);
	if (r)
		return r;
	if (strcmp(t.type, RCACHE_TARGET_NAME)) {
		rc_dm_table_free(&t);
		return rc_errf(err, ENOTTY, "%s: not an rcache device (target %s)", name, t.type);
	}
	st->size_bytes = t.length * 512;
	snprintf(st->devt, sizeof(st->devt), "%u:%u", major(info.dev), minor(info.dev));
	snprintf(st->uuid, sizeof(st->uuid), "%s", info.uuid);
	st->open_count = info.open_count;
	r = rc_table_parse(t.params, &st->table, err);
	rc_dm_table_free(&t);
	if (r)
		return rc_err_prefix(err, "%s", name);
	resolve_dev(st->table.cache_dev, st->cache_path, sizeof(st->cache_path));

	r = rc_dm_status(dm, name, false, &t, NULL, err);
	if (r)
		return r;
	r = rc_status_parse_info(t.params, st, err);
	rc_dm_table_free(&t);
	if (r)
		return rc_err_prefix(err, "%s", name);
	if (strcmp(st->mode, "ready"))
		status_reason(name, st);
	if (sscanf(st->table.cache_dev, "%u:%u", &ma, &mi) == 2)
		rc_topo_block(rc_topo_root(), makedev(ma, mi), &st->topo);
	else
		rc_topo_block(rc_topo_root(), 0, &st->topo);
	return 0;
}

double rc_status_cached_percent(const struct rc_status *st)
{
	return st->total_blocks ? 100.0 * st->cached_blocks / st->total_blocks : 0;
}

#define cached_percent rc_status_cached_percent

double rc_status_hit_ratio(const struct rc_status *st)
{
	uint64_t all = st->read_hits + st->read_misses;

	return all ? (double)st->read_hits / all : 0;
}

bool rc_status_healthy(const struct rc_status *st, char *why, size_t len)
{
	if (strcmp(st->mode, "ready")) {
		snprintf(why, len, "mode %s%s%s", st->mode, st->reason[0] ? ": " : "", st->reason);
		return false;
	}
	if (strcmp(st->daemon, "connected")) {
		snprintf(why, len, "daemon %s", st->daemon);
		return false;
	}
	if (len)
		why[0] = '\0';
	return true;
}

void rc_status_print_json(FILE *f, const struct rc_status *st)
{
	struct json_object *j = rc_status_json(st);

	rc_json_print(f, j);
	json_object_put(j);
}

struct json_object *rc_status_json(const struct rc_status *st)
{
	const struct { const char *key; uint64_t v; } sizes[] = {
		{ "size_bytes", st->size_bytes }, { "cached_blocks", st->cached_blocks },
		{ "total_blocks", st->total_blocks },
	}, counters[] = {
		{ "read_hits", st->read_hits }, { "read_misses", st->read_misses },
		{ "hit_bytes", st->hit_bytes }, { "miss_bytes", st->miss_bytes },
		{ "fetches_inflight", st->fetches_inflight }, { "fetch_errors", st->fetch_errors },
		{ "stale_replies", st->stale_replies }, { "slots", st->slots },
		{ "evictions", st->evictions }, { "cache_read_errors", st->cache_read_errors },
		{ "md_commits", st->md_commits }, { "prefetch_issued", st->prefetch_issued },
		{ "prefetch_used", st->prefetch_used }, { "prefetch_wasted", st->prefetch_wasted },
		{ "streams", st->streams }, { "warmup_pending", st->warmup_pending },
		{ "warmup_errors", st->warmup_errors }, { "fill_timeouts", st->fill_timeouts },
		{ "late_replies", st->late_replies }, { "retired_slots", st->retired_slots },
	};
	struct json_object *j = json_object_new_object();
	char why[1200];
	bool healthy = rc_status_healthy(st, why, sizeof(why));
	size_t i;

	if (!j)
		return NULL;
	json_object_object_add(j, "name", rc_json_string(st->name));
	json_object_object_add(j, "origin", rc_json_string(st->table.origin));
	json_object_object_add(j, "cache_dev", rc_json_string(st->cache_path));
	json_object_object_add(j, "cache_devt", rc_json_string(st->table.cache_dev));
	json_object_object_add(j, "block_size", json_object_new_uint64(st->block_size));
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		json_object_object_add(j, sizes[i].key, json_object_new_uint64(sizes[i].v));
	json_object_object_add(j, "cached_percent", rc_json_fixed(cached_percent(st), 2));
	for (i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		json_object_object_add(j, counters[i].key, json_object_new_uint64(counters[i].v));
	json_object_object_add(j, "daemon", rc_json_string(st->daemon));
	json_object_object_add(j, "mode", rc_json_string(st->mode));
	json_object_object_add(j, "reason", rc_json_string(st->reason));
	json_object_object_add(j, "daemon_timeout", json_object_new_uint64(
		st->table.daemon_timeout ? st->table.daemon_timeout : RCACHE_DEFAULT_DAEMON_TIMEOUT));
	json_object_object_add(j, "fill_timeout", json_object_new_uint64(
		st->table.fill_timeout ? st->table.fill_timeout : RCACHE_DEFAULT_FILL_TIMEOUT));
	json_object_object_add(j, "fail_fast", json_object_new_boolean(st->table.fail_fast));
	json_object_object_add(j, "commit_interval_ms", json_object_new_uint64(
		st->table.commit_ms_set ? st->table.commit_ms : 1000));
	json_object_object_add(j, "devt", rc_json_string(st->devt));
	json_object_object_add(j, "hit_ratio", rc_json_fixed(rc_status_hit_ratio(st), 4));
	json_object_object_add(j, "health", rc_json_string(healthy ? "healthy" : "unhealthy"));
	json_object_object_add(j, "health_reason", rc_json_string(why));
	rc_topo_json(j, &st->topo);
	return j;
}

void rc_status_print_text(FILE *f, const struct rc_status *st)
{
	char a[32], b[32], c[32];

	fprintf(f, "%s:\n", st->name);
	fprintf(f, "  origin:        %s\n", st->table.origin);
	fprintf(f, "  cache device:  %s (%s)\n", st->cache_path, st->table.cache_dev);
	fprintf(f, "  size:          %s in %" PRIu64 " blocks of %s\n",
		rc_fmt_bytes(st->size_bytes, a, sizeof(a)), st->total_blocks,
		rc_fmt_bytes(st->block_size, b, sizeof(b)));
	fprintf(f, "  cached:        %" PRIu64 "/%" PRIu64 " blocks (%.1f%%)\n",
		st->cached_blocks, st->total_blocks, cached_percent(st));
	fprintf(f, "  reads:         %" PRIu64 " hits (%s), %" PRIu64 " misses (%s)\n",
		st->read_hits, rc_fmt_bytes(st->hit_bytes, a, sizeof(a)),
		st->read_misses, rc_fmt_bytes(st->miss_bytes, c, sizeof(c)));
	fprintf(f, "  fetches:       %" PRIu64 " in flight, %" PRIu64 " errors\n",
		st->fetches_inflight, st->fetch_errors);
	fprintf(f, "  cache slots:   %" PRIu64 " (%" PRIu64 " evictions, %" PRIu64
		" read errors, %" PRIu64 " metadata commits)\n",
		st->slots, st->evictions, st->cache_read_errors, st->md_commits);
	if (st->retired_slots)
		fprintf(f, "  retired slots: %" PRIu64 " (their cache write failed)\n",
			st->retired_slots);
	fprintf(f, "  prefetch:      %" PRIu64 " blocks issued, %" PRIu64 " used, %" PRIu64
		" wasted; %" PRIu64 " sequential streams seen\n",
		st->prefetch_issued, st->prefetch_used, st->prefetch_wasted, st->streams);
	if (st->warmup_pending || st->warmup_errors)
		fprintf(f, "  warm-up:       %" PRIu64 " blocks to go, %" PRIu64 " errors\n",
			st->warmup_pending, st->warmup_errors);
	fprintf(f, "  daemon:        %s\n", st->daemon);
	fprintf(f, "  mode:          %s%s%s\n", st->mode, st->reason[0] ? ": " : "", st->reason);
}
