// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linux/dm-rcache.h"
#include "kernel/table.h"
#include "common/util.h"

char *rc_table_format(const struct rc_table *t)
{
	char opts[1024] = "";
	int nopt = 0, n = 0;
	char *out;

	if (t->origin_size) {
		n += snprintf(opts + n, sizeof(opts) - n, " origin_size %" PRIu64, t->origin_size);
		nopt += 2;
	}
	if (t->identity[0]) {
		n += snprintf(opts + n, sizeof(opts) - n, " identity %s", t->identity);
		nopt += 2;
	}
	if (t->daemon_timeout) {
		n += snprintf(opts + n, sizeof(opts) - n, " daemon_timeout %u", t->daemon_timeout);
		nopt += 2;
	}
	if (t->fill_timeout) {
		n += snprintf(opts + n, sizeof(opts) - n, " fill_timeout %u", t->fill_timeout);
		nopt += 2;
	}
	if (t->fail_fast) {
		n += snprintf(opts + n, sizeof(opts) - n, " fail_fast");
		nopt += 1;
	}
	if (t->commit_ms_set) {
		n += snprintf(opts + n, sizeof(opts) - n, " commit_interval %u", t->commit_ms);
		nopt += 2;
	}
	if (t->no_prefetch) {
		n += snprintf(opts + n, sizeof(opts) - n, " no_prefetch");
		nopt += 1;
	}
	if (t->prefetch_window) {
		n += snprintf(opts + n, sizeof(opts) - n, " prefetch_window %u", t->prefetch_window);
		nopt += 2;
	}
	if (t->prefetch_budget) {
		n += snprintf(opts + n, sizeof(opts) - n, " prefetch_budget %u", t->prefetch_budget);
		nopt += 2;
	}
	if (t->reset) {
		n += snprintf(opts + n, sizeof(opts) - n, " reset");
		nopt += 1;
	}
	if (nopt) {
		if (asprintf(&out, "%s %s %u %d%s", t->cache_dev, t->origin, t->block_sectors,
			     nopt, opts) < 0)
			return NULL;
	} else if (asprintf(&out, "%s %s %u", t->cache_dev, t->origin, t->block_sectors) < 0) {
		return NULL;
	}
	return out;
}

int rc_table_parse(const char *params, struct rc_table *t, struct rc_err *err)
{
	char *copy = strdup(params), *save = NULL, *tok;
	char *argv[32];
	int argc = 0, i, nopt;
	uint64_t v;

	memset(t, 0, sizeof(*t));
	if (!copy)
		return rc_errf(err, ENOMEM, "out of memory");
	for (tok = strtok_r(copy, " ", &save); tok && argc < 32; tok = strtok_r(NULL, " ", &save))
		argv[argc++] = tok;
	if (argc < 3)
		goto bad;
	snprintf(t->cache_dev, sizeof(t->cache_dev), "%s", argv[0]);
	snprintf(t->origin, sizeof(t->origin), "%s", argv[1]);
	if (rc_parse_u64(argv[2], 1, UINT32_MAX, &v))
		goto bad;
	t->block_sectors = v;
	if (argc == 3)
		goto ok;
	if (rc_parse_u64(argv[3], 0, 32, &v) || (int)v != argc - 4)
		goto bad;
	nopt = (int)v;
	for (i = 4; i < 4 + nopt; i++) {
		const char *name = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(name, "fail_fast")) {
			t->fail_fast = true;
			continue;
		}
		if (!strcmp(name, "reset")) {
			t->reset = true;
			continue;
		}
		if (!strcmp(name, "no_prefetch")) {
			t->no_prefetch = true;
			continue;
		}
		if (!val)
			goto bad;
		if (!strcmp(name, "daemon_timeout") && !rc_parse_u64(val, 1, UINT32_MAX, &v))
			t->daemon_timeout = v;
		else if (!strcmp(name, "fill_timeout") && !rc_parse_u64(val, 1, RCACHE_MAX_FILL_TIMEOUT, &v))
			t->fill_timeout = v;
		else if (!strcmp(name, "origin_size") && !rc_parse_u64(val, 1, UINT64_MAX, &v))
			t->origin_size = v;
		else if (!strcmp(name, "commit_interval") && !rc_parse_u64(val, 0, 3600000, &v))
			t->commit_ms_set = true, t->commit_ms = v;
		else if (!strcmp(name, "prefetch_window") && !rc_parse_u64(val, 1, 65536, &v))
			t->prefetch_window = v;
		else if (!strcmp(name, "prefetch_budget") && !rc_parse_u64(val, 1, 65536, &v))
			t->prefetch_budget = v;
		else if (!strcmp(name, "identity"))
			snprintf(t->identity, sizeof(t->identity), "%s", val);
		else
			goto bad;
		i++;
	}
ok:
	free(copy);
	return 0;
bad:
	free(copy);
	return rc_errf(err, EINVAL, "unrecognised rcache table: %s", params);
}
