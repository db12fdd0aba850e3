// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "daemon/declare.h"
#include "daemon/device.h"
#include "kernel/dm.h"
#include "k8s/dpmodel.h"
#include "common/log.h"
#include "origin/origin_secret.h"
#include "kernel/table.h"
#include "common/util.h"

#define SECTION "device "

void rc_decl_uuid(const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s%s%s", RC_DM_UUID_PREFIX, name, RC_DECL_UUID_SUFFIX);
}

bool rc_decl_owned(const char *name, const char *uuid)
{
	char want[256];

	rc_decl_uuid(name, want, sizeof(want));
	return !strcmp(uuid, want);
}

static int parse_bool(const char *s, bool *out)
{
	if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "1") || !strcmp(s, "on"))
		*out = true;
	else if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "0") || !strcmp(s, "off"))
		*out = false;
	else
		return -1;
	return 0;
}

static bool valid_name(const char *s)
{
	size_t n = strlen(s);

	/* a dm name, and the tail of a Kubernetes resource name: [A-Za-z0-9._-] */
	if (!n || n >= 128 || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

static void set_key(struct rc_decl *d, const struct rc_ini_entry *e)
{
	uint64_t v;
	bool b;

	if (d->error[0])
		return;
	if (!strcmp(e->key, "origin")) {
		if (strlen(e->value) > RCACHE_MAX_ORIGIN_LEN)
			goto bad;
		snprintf(d->origin, sizeof(d->origin), "%s", e->value);
	} else if (!strcmp(e->key, "cache")) {
		if (strlen(e->value) >= sizeof(d->cache) || e->value[0] != '/')
			goto bad;
		snprintf(d->cache, sizeof(d->cache), "%s", e->value);
	} else if (!strcmp(e->key, "block_size")) {
		if (rc_parse_size(e->value, &v))
			goto bad;
		d->block_size = v;
	} else if (!strcmp(e->key, "daemon_timeout")) {
		if (rc_parse_u64(e->value, 1, 86400, &v))
			goto bad;
		d->daemon_timeout = (uint32_t)v;
	} else if (!strcmp(e->key, "fail_fast")) {
		if (parse_bool(e->value, &b))
			goto bad;
		d->fail_fast = b;
	} else if (!strcmp(e->key, "commit_interval")) {
		if (rc_parse_u64(e->value, 0, 3600000, &v))
			goto bad;
		d->commit_ms = (int)v;
	} else if (!strcmp(e->key, "replicas")) {
		if (rc_parse_u64(e->value, 1, RC_DECL_MAX_REPLICAS, &v))
			goto bad;
		d->replicas = (unsigned int)v;
	} else if (!strcmp(e->key, "resource")) {
		/* the tail of a Kubernetes resource name */
		if (!dp_name_ok(e->value) || strlen(e->value) >= sizeof(d->resource))
			goto bad;
		snprintf(d->resource, sizeof(d->resource), "%s", e->value);
	} else {
		snprintf(d->error, sizeof(d->error), "line %d: unknown setting '%s' in [device %s]",
			 e->line, e->key, d->name);
	}
	return;
bad:
	snprintf(d->error, sizeof(d->error), "line %d: %s = %s: invalid value", e->line, e->key,
		 e->value);
}

int rc_decl_parse(const struct rc_ini *ini, struct rc_decls *out, struct rc_err *err)
{
	int i, j;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < ini->n; i++) {
		const struct rc_ini_entry *e = &ini->e[i];
		const char *name;
		struct rc_decl *d = NULL, *bigger;

		if (strncmp(e->section, SECTION, strlen(SECTION)))
			continue;
		name = e->section + strlen(SECTION);
		while (*name == ' ')
			name++;
		for (j = 0; j < out->n; j++)
			if (!strcmp(out->v[j].name, name))
				d = &out->v[j];
		if (!d) {
			bigger = realloc(out->v, (out->n + 1) * sizeof(*bigger));
			if (!bigger) {
				rc_decls_free(out);
				return rc_errf(err, ENOMEM, "out of memory");
			}
			out->v = bigger;
			d = &out->v[out->n++];
			memset(d, 0, sizeof(*d));
			snprintf(d->name, sizeof(d->name), "%s", name);
			d->commit_ms = -1;
			d->line = e->line;
			if (!valid_name(name))
				snprintf(d->error, sizeof(d->error),
					 "line %d: invalid device name '%s' (letters, digits, '.', '_' and '-', at most 127)",
					 e->line, name);
		}
		set_key(d, e);
	}
	for (j = 0; j < out->n; j++) {
		struct rc_decl *d = &out->v[j];

		if (!d->error[0] && (!d->origin[0] || !d->cache[0]))
			snprintf(d->error, sizeof(d->error), "[device %s] needs origin and cache",
				 d->name);
	}
	/* the devices of one resource are copies of one dataset */
	for (j = 0; j < out->n; j++) {
		struct rc_decl *d = &out->v[j];

		for (i = 0; i < j && !d->error[0]; i++) {
			const struct rc_decl *first = &out->v[i];

			if (first->error[0] || strcmp(rc_decl_resource(first), rc_decl_resource(d)) ||
			    rc_origin_same_object(first->origin, d->origin))
				continue;
			snprintf(d->error, sizeof(d->error),
				 "line %d: resource %s: its origin differs from that of [device %s] (the devices of one resource hold one dataset)",
				 d->line, rc_decl_resource(d), first->name);
		}
	}
	return 0;
}

const char *rc_decl_resource(const struct rc_decl *d)
{
	return d->resource[0] ? d->resource : d->name;
}

void rc_decls_free(struct rc_decls *ds)
{
	free(ds->v);
	ds->v = NULL;
	ds->n = 0;
}

const struct rc_decl *rc_decl_find(const struct rc_decls *ds, const char *name)
{
	int i;

	for (i = 0; i < ds->n; i++)
		if (!strcmp(ds->v[i].name, name))
			return &ds->v[i];
	return NULL;
}

const char *rc_decl_state_name(enum rc_decl_state s)
{
	switch (s) {
	case RC_DECL_CREATED:
		return "created";
	case RC_DECL_PRESENT:
		return "present";
	case RC_DECL_FAILED:
		return "failed";
	case RC_DECL_REMOVED:
		return "removed";
	case RC_DECL_KEPT:
		return "kept";
	}
	return "?";
}

static struct rc_decl_result *add_result(struct rc_decl_results *res, const char *name,
					 enum rc_decl_state state)
{
	struct rc_decl_result *bigger = realloc(res->v, (res->n + 1) * sizeof(*bigger)), *r;

	if (!bigger)
		return NULL;
	res->v = bigger;
	r = &res->v[res->n++];
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->state = state;
	return r;
}

/* What differs between a live owned device and its section, or "". */
static void drift(struct rc_dm *dm, const struct rc_decl *d, char *out, size_t len)
{
	struct rc_dm_table t;
	struct rc_table tab;
	struct stat st;
	char devt[32] = "", shown[RCACHE_MAX_ORIGIN_LEN + 8];

	out[0] = '\0';
	if (rc_dm_status(dm, d->name, true, &t, NULL, NULL))
		return;
	if (rc_table_parse(t.params, &tab, NULL)) {
		rc_dm_table_free(&t);
		return;
	}
	rc_dm_table_free(&t);
	if (!stat(d->cache, &st))
		snprintf(devt, sizeof(devt), "%u:%u", major(st.st_rdev), minor(st.st_rdev));
	if (!rc_origin_same_object(tab.origin, d->origin))
		snprintf(out, len, "its origin is %s, the config says %s", tab.origin,
			 rc_origin_shown(d->origin, shown, sizeof(shown)));
	else if (devt[0] && strcmp(devt, tab.cache_dev))
		snprintf(out, len, "its cache device is %s, the config says %s (%s)",
			 tab.cache_dev, d->cache, devt);
	else if (d->block_size && tab.block_sectors * 512ULL != d->block_size)
		snprintf(out, len, "its block size is %u bytes, the config says %llu",
			 tab.block_sectors * 512, (unsigned long long)d->block_size);
}

struct undeclared {
	struct rc_dm *dm;
	const struct rc_decls *ds;
	struct rc_decl_results *res;
};

static int check_undeclared(const char *name, dev_t dev, void *arg)
{
	struct undeclared *u = arg;
	struct rc_dm_table t;
	struct rc_dm_info info;
	struct rc_decl_result *r;
	struct rc_err err;

	(void)dev;
	if (rc_decl_find(u->ds, name))
		return 0;
	if (rc_dm_status(u->dm, name, true, &t, &info, NULL))
		return 0;
	rc_dm_table_free(&t);
	if (!rc_decl_owned(name, info.uuid))
		return 0;	/* not ours: never touched */
	if (info.open_count > 0) {
		r = add_result(u->res, name, RC_DECL_KEPT);
		if (r)
			snprintf(r->reason, sizeof(r->reason),
				 "no longer in the config, but open (%d); kept", info.open_count);
		rc_warn("%s: no longer in the config, but in use: kept", name);
		return 0;
	}
	if (rc_device_remove(u->dm, name, &err)) {
		r = add_result(u->res, name, RC_DECL_KEPT);
		if (r)
			snprintf(r->reason, sizeof(r->reason), "%s", err.msg);
		rc_err("%s: no longer in the config; removing it failed: %s", name, err.msg);
		return 0;
	}
	rc_dm_remove_node(name);
	add_result(u->res, name, RC_DECL_REMOVED);
	rc_info("%s: no longer in the config: removed", name);
	return 0;
}

int rc_decl_apply(const struct rc_decls *ds, const struct rc_ini *conf,
		  struct rc_decl_results *res, struct rc_err *err)
{
	struct undeclared u;
	struct rc_dm dm;
	int i;

	memset(res, 0, sizeof(*res));
	if (rc_dm_open(&dm, err))
		return -1;
	for (i = 0; i < ds->n; i++) {
		const struct rc_decl *d = &ds->v[i];
		struct rc_dm_table t;
		struct rc_dm_info info;
		struct rc_decl_result *r;
		struct rc_err e;
		char shown[RCACHE_MAX_ORIGIN_LEN + 8];

		if (d->error[0]) {
			r = add_result(res, d->name, RC_DECL_FAILED);
			if (r)
				snprintf(r->reason, sizeof(r->reason), "%s", d->error);
			rc_err("%s: not created: %s", d->name, d->error);
			continue;
		}
		if (!rc_dm_status(&dm, d->name, true, &t, &info, &e)) {
			rc_dm_table_free(&t);
			if (!rc_decl_owned(d->name, info.uuid)) {
				r = add_result(res, d->name, RC_DECL_FAILED);
				if (r)
					snprintf(r->reason, sizeof(r->reason),
						 "a device named %s exists that rcached did not create from the config (uuid '%s'); left alone",
						 d->name, info.uuid);
				rc_err("%s: not created: a device of that name exists and is not ours; left alone",
				       d->name);
				continue;
			}
			r = add_result(res, d->name, RC_DECL_PRESENT);
			if (r) {
				drift(&dm, d, r->reason, sizeof(r->reason));
				if (r->reason[0])
					rc_warn("%s: differs from the config: %s (a live device is not re-created; remove it to apply)",
						d->name, r->reason);
			}
			continue;
		}
		{
			struct rc_create_opts o = {
				.name = d->name,
				.origin = d->origin,
				.cache = d->cache,
				.block_size = d->block_size,
				.daemon_timeout = d->daemon_timeout,
				.fail_fast = d->fail_fast,
				.commit_ms = d->commit_ms,
				.conf = conf,
				.uuid_suffix = RC_DECL_UUID_SUFFIX,
			};

			if (rc_device_create(&dm, &o, NULL, &e)) {
				r = add_result(res, d->name, RC_DECL_FAILED);
				if (r)
					snprintf(r->reason, sizeof(r->reason), "%s", e.msg);
				rc_err("%s: not created: %s", d->name, e.msg);
				continue;
			}
			add_result(res, d->name, RC_DECL_CREATED);
			rc_info("%s: created from the config (origin %s, cache %s)", d->name,
				rc_origin_shown(d->origin, shown, sizeof(shown)), d->cache);
		}
	}
	u = (struct undeclared){ &dm, ds, res };
	rc_dm_list(&dm, check_undeclared, &u, NULL);
	rc_dm_close(&dm);
	return 0;
}

void rc_decl_results_free(struct rc_decl_results *res)
{
	free(res->v);
	res->v = NULL;
	res->n = 0;
}
