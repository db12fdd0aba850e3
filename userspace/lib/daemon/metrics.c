// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/dm.h"
#include "daemon/metrics.h"

const double rc_fetch_buckets[RC_FETCH_NR_BUCKETS] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
};

void rc_metrics_observe(struct rc_metrics *m, const char *name, uint64_t ns, int error)
{
	struct rc_fill_hist *h;
	double s = ns / 1e9;
	int i;

	if (!name)
		return;
	for (h = m->hists; h; h = h->next)
		if (!strcmp(h->name, name))
			break;
	if (!h) {
		h = calloc(1, sizeof(*h));
		if (!h)
			return;
		snprintf(h->name, sizeof(h->name), "%s", name);
		h->next = m->hists;
		m->hists = h;
	}
	if (error) {
		h->errors++;
		return;
	}
	for (i = 0; i < RC_FETCH_NR_BUCKETS; i++)
		if (s <= rc_fetch_buckets[i])
			break;
	if (i < RC_FETCH_NR_BUCKETS)
		h->buckets[i]++;
	h->count++;
	h->sum += s;
}

void rc_metrics_free(struct rc_metrics *m)
{
	while (m->hists) {
		struct rc_fill_hist *h = m->hists;

		m->hists = h->next;
		free(h);
	}
}

struct snap_walk {
	struct rc_dm *dm;
	struct rc_snapshot *s;
};

static int snap_one(const char *name, dev_t dev, void *arg)
{
	struct snap_walk *w = arg;
	struct rc_status *bigger, st;

	(void)dev;
	if (rc_status_get(w->dm, name, &st, NULL))
		return 0;	/* not rcache, or gone meanwhile */
	bigger = realloc(w->s->v, (w->s->n + 1) * sizeof(*bigger));
	if (!bigger)
		return 1;
	w->s->v = bigger;
	w->s->v[w->s->n++] = st;
	return 0;
}

int rc_snapshot_take(struct rc_snapshot *s, struct rc_err *err)
{
	struct rc_dm dm;
	struct snap_walk w = { &dm, s };
	int r;

	memset(s, 0, sizeof(*s));
	if (rc_dm_open(&dm, err))
		return -1;
	r = rc_dm_list(&dm, snap_one, &w, err);
	rc_dm_close(&dm);
	return r < 0 ? r : 0;
}

void rc_snapshot_free(struct rc_snapshot *s)
{
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

/* A label value: backslash, double quote and newline escaped. */
static void label(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

/*
 * The kernel's counters, one metric each, as `rcachectl status` shows them.
 */
struct counter {
	const char *name, *type, *help;
	size_t off;
	uint64_t (*get)(const struct rc_status *st);
};

#define FIELD(n, t, h, field) { n, t, h, offsetof(struct rc_status, field), NULL }

static const struct counter counters[] = {
	FIELD("rcache_read_hits_total", "counter", "Read requests served from the cache device.",
	      read_hits),
	FIELD("rcache_read_misses_total", "counter", "Read requests that waited for a fetch.",
	      read_misses),
	FIELD("rcache_read_hit_bytes_total", "counter", "Bytes read from the cache device.",
	      hit_bytes),
	FIELD("rcache_read_miss_bytes_total", "counter", "Bytes of reads that waited for a fetch.",
	      miss_bytes),
	FIELD("rcache_fetch_errors_total", "counter",
	      "Fills that failed (origin error, daemon timeout, EIO from the daemon).",
	      fetch_errors),
	FIELD("rcache_fetches_inflight", "gauge", "Blocks being filled now.", fetches_inflight),
	FIELD("rcache_cached_blocks", "gauge", "Blocks of the device held in the cache.",
	      cached_blocks),
	FIELD("rcache_blocks", "gauge", "Blocks of the device.", total_blocks),
	FIELD("rcache_block_size_bytes", "gauge", "The cache block size.", block_size),
	FIELD("rcache_size_bytes", "gauge", "The device size.", size_bytes),
	FIELD("rcache_evictions_total", "counter", "Cache slots reused for another block.",
	      evictions),
	FIELD("rcache_cache_read_errors_total", "counter", "Reads of the cache device that failed.",
	      cache_read_errors),
	FIELD("rcache_metadata_commits_total", "counter", "Cache metadata commits.", md_commits),
	FIELD("rcache_prefetch_issued_blocks_total", "counter",
	      "Blocks fetched ahead of a read by the prefetcher.", prefetch_issued),
	FIELD("rcache_prefetch_used_blocks_total", "counter",
	      "Prefetched blocks that a read then found in the cache.", prefetch_used),
	FIELD("rcache_prefetch_wasted_blocks_total", "counter",
	      "Prefetched blocks evicted before any read used them.", prefetch_wasted),
};

static uint64_t field_value(const struct counter *c, const struct rc_status *st)
{
	if (c->get)
		return c->get(st);
	if (c->off == offsetof(struct rc_status, block_size))
		return st->block_size;
	return *(const uint64_t *)((const char *)st + c->off);
}

static void header(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void rc_metrics_write(FILE *f, const struct rc_snapshot *s, const struct rc_metrics *m,
		      const struct rc_decl_results *decl)
{
	const struct rc_fill_hist *h;
	size_t c;
	int i, b;

	for (c = 0; c < sizeof(counters) / sizeof(counters[0]); c++) {
		header(f, counters[c].name, counters[c].type, counters[c].help);
		for (i = 0; i < s->n; i++) {
			fprintf(f, "%s{device=", counters[c].name);
			label(f, s->v[i].name);
			fprintf(f, "} %" PRIu64 "\n", field_value(&counters[c], &s->v[i]));
		}
	}
	header(f, "rcache_cached_percent", "gauge", "Share of the device held in the cache, 0 to 100.");
	for (i = 0; i < s->n; i++) {
		fprintf(f, "rcache_cached_percent{device=");
		label(f, s->v[i].name);
		fprintf(f, "} %.4f\n", rc_status_cached_percent(&s->v[i]));
	}
	header(f, "rcache_hit_ratio", "gauge", "read_hits / (read_hits + read_misses).");
	for (i = 0; i < s->n; i++) {
		fprintf(f, "rcache_hit_ratio{device=");
		label(f, s->v[i].name);
		fprintf(f, "} %.6f\n", rc_status_hit_ratio(&s->v[i]));
	}
	header(f, "rcache_device_healthy", "gauge",
	       "1 when the device is ready and a daemon is connected.");
	for (i = 0; i < s->n; i++) {
		char why[1200];

		fprintf(f, "rcache_device_healthy{device=");
		label(f, s->v[i].name);
		fprintf(f, "} %d\n", rc_status_healthy(&s->v[i], why, sizeof(why)) ? 1 : 0);
	}
	header(f, "rcache_device_info", "gauge", "Static facts of a device, as labels.");
	for (i = 0; i < s->n; i++) {
		const struct rc_status *st = &s->v[i];
		char numa[16];

		snprintf(numa, sizeof(numa), "%d", st->topo.numa_node);
		fprintf(f, "rcache_device_info{device=");
		label(f, st->name);
		fprintf(f, ",origin=");
		label(f, st->table.origin);
		fprintf(f, ",cache_dev=");
		label(f, st->cache_path);
		fprintf(f, ",mode=");
		label(f, st->mode);
		fprintf(f, ",daemon=");
		label(f, st->daemon);
		fprintf(f, ",numa_node=");
		label(f, numa);
		fprintf(f, ",pci_address=");
		label(f, st->topo.pci_address);
		fprintf(f, "} 1\n");
	}
	header(f, "rcache_fetch_duration_seconds", "histogram",
	       "Fill latency measured by rcached: FETCH received to FETCH_DONE sent.");
	for (h = m ? m->hists : NULL; h; h = h->next) {
		uint64_t cum = 0;

		for (b = 0; b < RC_FETCH_NR_BUCKETS; b++) {
			cum += h->buckets[b];
			fprintf(f, "rcache_fetch_duration_seconds_bucket{device=");
			label(f, h->name);
			fprintf(f, ",le=\"%g\"} %" PRIu64 "\n", rc_fetch_buckets[b], cum);
		}
		fprintf(f, "rcache_fetch_duration_seconds_bucket{device=");
		label(f, h->name);
		fprintf(f, ",le=\"+Inf\"} %" PRIu64 "\n", h->count);
		fprintf(f, "rcache_fetch_duration_seconds_sum{device=");
		label(f, h->name);
		fprintf(f, "} %.9f\n", h->sum);
		fprintf(f, "rcache_fetch_duration_seconds_count{device=");
		label(f, h->name);
		fprintf(f, "} %" PRIu64 "\n", h->count);
	}
	header(f, "rcache_daemon_fill_errors_total", "counter",
	       "Fills rcached answered with an error.");
	for (h = m ? m->hists : NULL; h; h = h->next) {
		fprintf(f, "rcache_daemon_fill_errors_total{device=");
		label(f, h->name);
		fprintf(f, "} %" PRIu64 "\n", h->errors);
	}
	if (decl) {
		header(f, "rcache_declared_device", "gauge",
		       "Devices of rcached.conf and what became of them (created, present, failed, removed, kept).");
		for (i = 0; i < decl->n; i++) {
			fprintf(f, "rcache_declared_device{device=");
			label(f, decl->v[i].name);
			fprintf(f, ",state=");
			label(f, rc_decl_state_name(decl->v[i].state));
			fprintf(f, "} 1\n");
		}
	}
}

/* The resource device @st serves: its section's, when rcached made it from one. */
static const char *resource_of(const struct rc_status *st, const struct rc_decls *decls)
{
	const struct rc_decl *d = decls ? rc_decl_find(decls, st->name) : NULL;

	return d && rc_decl_owned(st->name, st->uuid) ? rc_decl_resource(d) : st->name;
}

void rc_nfd_write(FILE *f, const struct rc_snapshot *s, unsigned int warm_percent,
		  const struct rc_decls *decls)
{
	int i, j;

	fprintf(f, "# written by rcached: datasets this node serves (ready) and holds (warm)\n");
	for (i = 0; i < s->n; i++) {
		const char *res = resource_of(&s->v[i], decls);
		bool healthy = false, warm = true, seen = false;

		for (j = 0; j < i && !seen; j++)
			seen = !strcmp(resource_of(&s->v[j], decls), res);
		/* a label name is at most 63 characters: dataset.<name> */
		if (seen || strlen(res) > 63 - strlen("dataset."))
			continue;
		for (j = i; j < s->n; j++) {
			const struct rc_status *st = &s->v[j];
			char why[1200];

			if (strcmp(resource_of(st, decls), res) || !rc_status_healthy(st, why, sizeof(why)))
				continue;
			healthy = true;
			warm = warm && rc_status_cached_percent(st) >= warm_percent;
		}
		if (healthy)
			fprintf(f, "rcache.io/dataset.%s=%s\n", res, warm ? "warm" : "ready");
	}
}
