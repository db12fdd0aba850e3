// SPDX-License-Identifier: GPL-2.0-only
/*
 * confcheck - reads an rcached.conf as rcached does: the [daemon] settings
 * (rcd_config_file) and the [device NAME] sections (rc_decl_parse), and
 * the [plugin] replicas rcache-device-plugin reads.  Prints one line per
 * declared device; exit 0 when everything is valid.  With --aws-config or
 * --aws-credentials, reads an AWS file as rc_aws_load does (rc_ini_load_aws)
 * and prints one line per section.  Errors are "FAIL FILE: line N: why".
 *
 *   confcheck FILE
 *   confcheck --aws-config FILE | --aws-credentials FILE
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daemon/daemon.h"
#include "daemon/declare.h"
#include "k8s/dpmodel.h"
#include "common/ini.h"
#include "common/util.h"

static int print_section(const char *section, void *arg)
{
	const struct rc_ini *ini = arg;
	int i, n = 0;

	for (i = 0; i < ini->n; i++)
		n += !strcmp(ini->e[i].section, section);
	printf("ok [%s] %d keys\n", section, n);
	return 0;
}

/* an AWS config or credentials file, read as rc_aws_load reads it */
static int aws_file(const char *path)
{
	struct rc_ini ini;
	struct rc_err err;
	int r = rc_ini_load_aws(&ini, path, &err);

	if (r == -ENOENT)
		rc_errf(&err, ENOENT, "%s: %s", path, strerror(ENOENT));
	if (r) {
		printf("FAIL %s\n", err.msg);
		return 1;
	}
	rc_ini_sections(&ini, print_section, &ini);
	rc_ini_free(&ini);
	return 0;
}

int main(int argc, char **argv)
{
	struct rcd_config cfg;
	struct rc_decls ds;
	struct rc_ini ini;
	struct rc_err err;
	const char *v;
	uint64_t n;
	int i, bad = 0;

	if (argc == 3 && (!strcmp(argv[1], "--aws-config") || !strcmp(argv[1], "--aws-credentials")))
		return aws_file(argv[2]);
	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: confcheck FILE | --aws-config FILE | --aws-credentials FILE\n");
		return 2;
	}
	rcd_config_defaults(&cfg);
	i = rc_ini_load(&ini, argv[1], &err);
	if (i == -ENOENT)
		rc_errf(&err, ENOENT, "%s: %s", argv[1], strerror(ENOENT));
	if (i) {
		printf("FAIL %s\n", err.msg);
		return 1;
	}
	if (rcd_config_file(&cfg, argv[1], &err)) {
		printf("FAIL %s\n", err.msg);
		rc_ini_free(&ini);
		return 1;
	}
	v = rc_ini_get(&ini, "plugin", "replicas");
	if (v && rc_parse_u64(v, 1, RC_DECL_MAX_REPLICAS, &n)) {
		printf("FAIL [plugin] replicas = %s: expected 1 to %d\n", v, RC_DECL_MAX_REPLICAS);
		bad++;
	}
	if (rc_decl_parse(&ini, &ds, &err)) {
		printf("FAIL %s\n", err.msg);
		rc_ini_free(&ini);
		return 1;
	}
	for (i = 0; i < ds.n; i++) {
		const struct rc_decl *d = &ds.v[i];

		if (d->error[0]) {
			printf("FAIL [device %s]: %s\n", d->name, d->error);
			bad++;
		} else if (!dp_name_ok(d->name)) {
			printf("FAIL [device %s]: not usable in a resource name rcache.io/%s\n",
			       d->name, d->name);
			bad++;
		} else {
			printf("ok [device %s] origin %s cache %s replicas %u resource %s\n", d->name,
			       d->origin, d->cache, d->replicas ? d->replicas : RC_DECL_DEFAULT_REPLICAS,
			       rc_decl_resource(d));
		}
	}
	rc_decls_free(&ds);
	rc_ini_free(&ini);
	return bad ? 1 : 0;
}
