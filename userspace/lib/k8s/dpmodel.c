// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s/dpmodel.h"
#include "common/json.h"

int dp_report_parse(const char *text, struct dp_report *r, struct rc_err *err)
{
	struct rc_json *j = rc_json_parse(text, err);
	const struct rc_json *devs, *c;
	int n = 0;

	memset(r, 0, sizeof(*r));
	if (!j)
		return -1;
	if (j->type != RC_JSON_OBJ || rc_json_get_num(j, "version", 0) != 1) {
		rc_json_free(j);
		return rc_errf(err, EPROTO, "not an rcached report (version 1)");
	}
	r->alive = rc_json_get_bool(j, "alive", false);
	r->updated = rc_json_get_num(j, "updated", 0);
	r->pid = (int)rc_json_get_num(j, "pid", 0);
	devs = rc_json_get(j, "devices");
	if (devs && devs->type == RC_JSON_ARR)
		for (c = devs->child; c; c = c->next)
			n++;
	r->v = n ? calloc(n, sizeof(*r->v)) : NULL;
	if (n && !r->v) {
		rc_json_free(j);
		return rc_errf(err, ENOMEM, "out of memory");
	}
	for (c = devs ? devs->child : NULL; c; c = c->next) {
		struct dp_dev *d = &r->v[r->n];
		const struct rc_json *gpus = rc_json_get(c, "gpus"), *g;
		const char *name = rc_json_get_str(c, "name", NULL);

		if (c->type != RC_JSON_OBJ || !name || !*name)
			continue;
		snprintf(d->name, sizeof(d->name), "%s", name);
		snprintf(d->resource, sizeof(d->resource), "%s",
			 rc_json_get_str(c, "resource", name));
		if (!d->resource[0])
			snprintf(d->resource, sizeof(d->resource), "%s", name);
		snprintf(d->host_path, sizeof(d->host_path), "%s",
			 rc_json_get_str(c, "device", ""));
		if (!d->host_path[0])
			snprintf(d->host_path, sizeof(d->host_path), "/dev/mapper/%s", d->name);
		snprintf(d->origin, sizeof(d->origin), "%s", rc_json_get_str(c, "origin", ""));
		d->owned = rc_json_get_bool(c, "owned", false);
		d->healthy = !strcmp(rc_json_get_str(c, "health", ""), "healthy");
		snprintf(d->why, sizeof(d->why), "%s", rc_json_get_str(c, "health_reason", ""));
		d->numa_node = (int)rc_json_get_num(c, "numa_node", -1);
		if (d->numa_node < 0)
			d->numa_node = -1;
		if (gpus && gpus->type == RC_JSON_ARR)
			for (g = gpus->child; g; g = g->next)
				d->nr_gpus++;
		d->replicas = (unsigned int)rc_json_get_num(c, "replicas", 0);
		r->n++;
	}
	rc_json_free(j);
	return 0;
}

int dp_report_load(const char *path, struct dp_report *r, struct rc_err *err)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int rc;

	memset(r, 0, sizeof(*r));
	if (!f)
		return rc_errf(err, errno, "%s: %s", path, strerror(errno));
	for (;;) {
		size_t got;

		if (len + 4096 + 1 > cap) {
			char *bigger = realloc(buf, cap = cap ? cap * 2 : 65536);

			if (!bigger || cap > (64U << 20)) {
				free(bigger ? bigger : buf);
				fclose(f);
				return rc_errf(err, ENOMEM, "%s: too large", path);
			}
			buf = bigger;
		}
		got = fread(buf + len, 1, cap - len - 1, f);
		len += got;
		if (!got)
			break;
	}
	fclose(f);
	buf[len] = '\0';
	rc = dp_report_parse(buf, r, err);
	free(buf);
	if (rc)
		rc_err_prefix(err, "%s", path);
	return rc;
}

void dp_report_free(struct dp_report *r)
{
	free(r->v);
	r->v = NULL;
	r->n = 0;
}

bool dp_report_fresh(const struct dp_report *r, double now, double stale_after)
{
	return r->alive && now - r->updated <= stale_after;
}

static bool alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool dp_name_ok(const char *name)
{
	size_t n = strlen(name), i;

	if (!n || n > 63 || !alnum(name[0]) || !alnum(name[n - 1]))
		return false;
	for (i = 0; i < n; i++)
		if (!alnum(name[i]) && name[i] != '-' && name[i] != '_' && name[i] != '.')
			return false;
	return true;
}

/* "<name><suffix>" in at most @max characters: a long name is cut and given a hash */
static void bounded(const char *name, const char *suffix, size_t max, char *out, size_t len)
{
	uint32_t h = 2166136261u;
	const char *p;
	int keep;

	if (strlen(name) + strlen(suffix) <= max) {
		snprintf(out, len, "%s%s", name, suffix);
		return;
	}
	for (p = name; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	/* max = kept + '-' + 8 hex + suffix */
	keep = (int)max - 9 - (int)strlen(suffix);
	snprintf(out, len, "%.*s-%08x%s", keep > 1 ? keep : 1, name, h, suffix);
}

void dp_device_id(const char *name, unsigned int i, char *out, size_t len)
{
	char suffix[16];

	snprintf(suffix, sizeof(suffix), "-%u", i);
	bounded(name, suffix, DP_MAX_ID, out, len);
}

void dp_socket_name(const char *dir, const char *name, char *out, size_t len)
{
	size_t used = strlen(dir) + 1 + strlen(DP_SOCK_PREFIX);
	char tail[256];

	bounded(name, ".sock", used < DP_MAX_SOCK_PATH ? DP_MAX_SOCK_PATH - used : 0, tail,
		sizeof(tail));
	snprintf(out, len, DP_SOCK_PREFIX "%s", tail);
}

long dp_rank(const struct dp_place *p, const struct dp_place *anchor)
{
	long tier;

	if (anchor && p->member == anchor->member)
		tier = 0;
	else if (anchor && anchor->numa_node >= 0 && p->numa_node == anchor->numa_node)
		tier = 1;
	else if (p->gpus)
		tier = 2;
	else
		tier = 3;
	/* tier, then handed out (capped), then order: 8 + 20 + 24 bits */
	return (tier << 44) + ((long)(p->handed_out < 0xfffff ? p->handed_out : 0xfffff) << 24) +
	       (long)(p->order & 0xffffff);
}

size_t dp_preferred(const char *const *avail, size_t navail, const char *const *must,
		    size_t nmust, size_t size,
		    long (*rank)(const char *id, const char *anchor, void *arg),
		    void *arg, const char **out)
{
	size_t n = 0, i, j;
	bool *used = calloc(navail + 1, sizeof(bool));

	if (!used)
		return 0;
	for (i = 0; i < nmust && n < size; i++)
		out[n++] = must[i];
	for (i = 0; i < navail; i++)
		for (j = 0; j < nmust; j++)
			if (!strcmp(avail[i], must[j]))
				used[i] = true;
	while (n < size) {
		long best_rank = 0;
		size_t best = navail;

		for (i = 0; i < navail; i++) {
			long r;

			if (used[i])
				continue;
			r = rank ? rank(avail[i], n ? out[0] : NULL, arg) : 0;
			if (best == navail || r < best_rank) {
				best = i;
				best_rank = r;
			}
		}
		if (best == navail)
			break;
		used[best] = true;
		out[n++] = avail[best];
	}
	free(used);
	return n;
}
