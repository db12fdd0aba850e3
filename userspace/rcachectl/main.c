// SPDX-License-Identifier: GPL-2.0-only
/* rcachectl - create, remove and inspect rcache devices (dmsetup style). */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "../lib/device.h"
#include "../lib/dm.h"
#include "../lib/log.h"
#include "../lib/status.h"
#include "../lib/util.h"

#define EXIT_USAGE 2

static void usage(FILE *f)
{
	fprintf(f,
		"usage: rcachectl COMMAND [ARGS]\n"
		"\n"
		"  create NAME --origin URL --cache DEV [--block-size SIZE]\n"
		"              [--daemon-timeout SECONDS] [--fail-fast]\n"
		"      Make /dev/mapper/NAME show the origin, cached on DEV.\n"
		"  remove NAME          Remove the device (it must not be open).\n"
		"  list                 List rcache devices.\n"
		"  status [NAME] [--json]\n"
		"                       Counters of one or every rcache device.\n"
		"  table NAME           The device's table line, as dmsetup shows it.\n"
		"\n"
		"Origin URLs: file:///absolute/path (local, NFS or CephFS file).\n");
}

static int fail(const struct rc_err *err)
{
	rc_err("%s", err->msg);
	return 1;
}

static int open_dm(struct rc_dm *dm)
{
	struct rc_err err;

	if (rc_dm_open(dm, &err))
		return fail(&err);
	return 0;
}

static int cmd_create(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "origin", required_argument, NULL, 'o' },
		{ "cache", required_argument, NULL, 'c' },
		{ "block-size", required_argument, NULL, 'b' },
		{ "daemon-timeout", required_argument, NULL, 't' },
		{ "fail-fast", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	struct rc_create_opts o = { 0 };
	struct rc_err err;
	struct rc_dm dm;
	dev_t dev;
	uint64_t v;
	int c, r;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			o.origin = optarg;
			break;
		case 'c':
			o.cache = optarg;
			break;
		case 'b':
			if (rc_parse_size(optarg, &o.block_size)) {
				rc_err("--block-size %s: expected a size such as 1M or 4096", optarg);
				return EXIT_USAGE;
			}
			break;
		case 't':
			if (rc_parse_u64(optarg, 1, 86400, &v)) {
				rc_err("--daemon-timeout %s: expected 1 to 86400 seconds", optarg);
				return EXIT_USAGE;
			}
			o.daemon_timeout = v;
			break;
		case 'f':
			o.fail_fast = true;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || !o.origin || !o.cache) {
		rc_err("create needs NAME, --origin URL and --cache DEV");
		return EXIT_USAGE;
	}
	o.name = argv[optind];
	if (open_dm(&dm))
		return 1;
	r = rc_device_create(&dm, &o, &dev, &err);
	rc_dm_close(&dm);
	if (r)
		return fail(&err);
	printf("/dev/mapper/%s\n", o.name);
	return 0;
}

static int cmd_remove(int argc, char **argv)
{
	struct rc_status st;
	struct rc_err err;
	struct rc_dm dm;
	int r;

	if (argc != 2) {
		rc_err("remove needs exactly one NAME");
		return EXIT_USAGE;
	}
	if (open_dm(&dm))
		return 1;
	r = rc_status_get(&dm, argv[1], &st, &err);
	if (!r)
		r = rc_dm_remove(&dm, argv[1], &err);
	rc_dm_close(&dm);
	return r ? fail(&err) : 0;
}

struct walk {
	struct rc_dm *dm;
	int (*fn)(struct walk *w, const char *name, dev_t dev, struct rc_status *st);
	bool json;
	int count;
};

static int walk_one(const char *name, dev_t dev, void *arg)
{
	struct walk *w = arg;
	struct rc_status st;

	if (rc_status_get(w->dm, name, &st, NULL))
		return 0;	/* not rcache, or gone meanwhile */
	return w->fn(w, name, dev, &st);
}

static int list_one(struct walk *w, const char *name, dev_t dev, struct rc_status *st)
{
	(void)w;
	printf("%s\t(%u:%u)\t%s\n", name, major(dev), minor(dev), st->table.origin);
	return 0;
}

static int status_one(struct walk *w, const char *name, dev_t dev, struct rc_status *st)
{
	(void)name;
	(void)dev;
	if (w->json) {
		printf(w->count ? ",\n" : "");
		rc_status_print_json(stdout, st);
	} else {
		if (w->count)
			printf("\n");
		rc_status_print_text(stdout, st);
	}
	w->count++;
	return 0;
}

static int cmd_list(int argc, char **argv)
{
	struct rc_err err;
	struct rc_dm dm;
	struct walk w = { .dm = &dm, .fn = list_one };
	int r;

	(void)argv;
	if (argc != 1) {
		rc_err("list takes no arguments");
		return EXIT_USAGE;
	}
	if (open_dm(&dm))
		return 1;
	r = rc_dm_list(&dm, walk_one, &w, &err);
	rc_dm_close(&dm);
	return r < 0 ? fail(&err) : 0;
}

static int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct rc_status st;
	struct rc_err err;
	struct rc_dm dm;
	struct walk w = { .dm = &dm, .fn = status_one };
	int c, r;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'j')
			return EXIT_USAGE;
		w.json = true;
	}
	if (argc - optind > 1) {
		rc_err("status takes at most one NAME");
		return EXIT_USAGE;
	}
	if (open_dm(&dm))
		return 1;
	if (optind < argc) {
		r = rc_status_get(&dm, argv[optind], &st, &err);
		rc_dm_close(&dm);
		if (r)
			return fail(&err);
		if (w.json)
			rc_status_print_json(stdout, &st);
		else
			rc_status_print_text(stdout, &st);
		printf("\n");
		return 0;
	}
	if (w.json)
		printf("[");
	r = rc_dm_list(&dm, walk_one, &w, &err);
	rc_dm_close(&dm);
	if (w.json)
		printf("]\n");
	return r < 0 ? fail(&err) : 0;
}

static int cmd_table(int argc, char **argv)
{
	struct rc_dm_table t;
	struct rc_err err;
	struct rc_dm dm;
	int r;

	if (argc != 2) {
		rc_err("table needs exactly one NAME");
		return EXIT_USAGE;
	}
	if (open_dm(&dm))
		return 1;
	r = rc_dm_status(&dm, argv[1], true, &t, NULL, &err);
	rc_dm_close(&dm);
	if (r)
		return fail(&err);
	printf("%llu %llu %s %s\n", (unsigned long long)t.start,
	       (unsigned long long)t.length, t.type, t.params);
	rc_dm_table_free(&t);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int argc, char **argv);
	} cmds[] = {
		{ "create", cmd_create },
		{ "remove", cmd_remove },
		{ "list", cmd_list },
		{ "ls", cmd_list },
		{ "status", cmd_status },
		{ "table", cmd_table },
	};
	size_t i;

	rc_log_init("rcachectl", RC_LOG_INFO);
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (!strcmp(argv[1], cmds[i].name)) {
			optind = 1;
			return cmds[i].fn(argc - 1, argv + 1);
		}
	}
	rc_err("unknown command '%s' (try rcachectl --help)", argv[1]);
	return EXIT_USAGE;
}
