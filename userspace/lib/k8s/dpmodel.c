// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s/dpmodel.h"
#include "common/json.h"

/* One entry of "devices": 1 when it is no device (not an object, or no name), -1 on an error. */
static int device(struct json_object *c, struct dp_dev *d, struct rc_err *err)
{
	const char *name = NULL, *resource = NULL, *host_path = NULL, *origin = NULL,
		   *health = NULL, *why = NULL;
	struct json_object *gpus = NULL;
	int64_t numa_node = -1, replicas = 0;

	if (!json_object_is_type(c, json_type_object))
		return 1;
	if (rc_json_get_str(c, "name", &name, err) < 0)
		return -1;
	if (!name || !*name)
		return 1;
	if (rc_json_get_str(c, "resource", &resource, err) < 0 ||
	    rc_json_get_str(c, "device", &host_path, err) < 0 ||
	    rc_json_get_str(c, "origin", &origin, err) < 0 ||
	    rc_json_get_bool(c, "owned", &d->owned, err) < 0 ||
	    rc_json_get_str(c, "health", &health, err) < 0 ||
	    rc_json_get_str(c, "health_reason", &why, err) < 0 ||
	    rc_json_get_int(c, "numa_node", INT_MIN, INT_MAX, &numa_node, err) < 0 ||
	    rc_json_get_array(c, "gpus", &gpus, err) < 0 ||
	    rc_json_get_int(c, "replicas", 0, DP_MAX_REPLICAS, &replicas, err) < 0)
		return rc_err_prefix(err, "device %s", name);
	snprintf(d->name, sizeof(d->name), "%s", name);
	snprintf(d->resource, sizeof(d->resource), "%s", resource && *resource ? resource : name);
	if (host_path && *host_path)
		snprintf(d->host_path, sizeof(d->host_path), "%s", host_path);
	else
		snprintf(d->host_path, sizeof(d->host_path), "/dev/mapper/%s", d->name);
	snprintf(d->origin, sizeof(d->origin), "%s", origin ? origin : "");
	d->healthy = health && !strcmp(health, "healthy");
	snprintf(d->why, sizeof(d->why), "%s", why ? why : "");
	d->numa_node = numa_node < 0 ? -1 : (int)numa_node;
	d->nr_gpus = gpus ? (int)json_object_array_length(gpus) : 0;
	d->replicas = (unsigned int)replicas;
	return 0;
}

static int report_parse(const char *text, size_t len, struct dp_report *r, struct rc_err *err)
{
	struct json_object *j = rc_json_parse(text, len, err), *devs = NULL;
	int64_t version = 0, pid = 0;
	size_t n, i;

	memset(r, 0, sizeof(*r));
	if (!j)
		return -1;
	if (!json_object_is_type(j, json_type_object) ||
	    rc_json_get_int(j, "version", INT64_MIN, INT64_MAX, &version, NULL) || version != 1) {
		json_object_put(j);
		return rc_errf(err, EPROTO, "not an rcached report (version 1)");
	}
	if (rc_json_get_bool(j, "alive", &r->alive, err) < 0 ||
	    rc_json_get_double(j, "updated", &r->updated, err) < 0 ||
	    rc_json_get_int(j, "pid", 0, INT_MAX, &pid, err) < 0 ||
	    rc_json_get_array(j, "devices", &devs, err) < 0)
		goto bad;
	r->pid = (int)pid;
	n = devs ? json_object_array_length(devs) : 0;
	if (n > INT_MAX) {
		rc_errf(err, EFBIG, "%zu devices", n);
		goto bad;
	}
	r->v = n ? calloc(n, sizeof(*r->v)) : NULL;
	if (n && !r->v) {
		rc_errf(err, ENOMEM, "out of memory");
		goto bad;
	}
	for (i = 0; i < n; i++) {
		int got = device(json_object_array_get_idx(devs, i), &r->v[r->n], err);

		if (got < 0) {
			rc_err_prefix(err, "devices[%zu]", i);
			goto bad;
		}
		if (!got)
			r->n++;
	}
	json_object_put(j);
	return 0;
bad:
	json_object_put(j);
	dp_report_free(r);
	return -1;
}

int dp_report_parse(const char *text, struct dp_report *r, struct rc_err *err)
{
	return report_parse(text, strlen(text), r, err);
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
	rc = report_parse(buf, len, r, err);
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
