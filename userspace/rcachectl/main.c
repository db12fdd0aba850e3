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

#include "daemon/device.h"
#include "kernel/dm.h"
#include "common/ini.h"
#include "common/json.h"
#include "kernel/inspect.h"
#include "kernel/kmodload.h"
#include "common/log.h"
#include "kernel/status.h"
#include "common/util.h"
#include "kernel/warmup.h"

#define EXIT_USAGE 2

static void usage(FILE *f)
{
	fprintf(f,
		"usage: rcachectl COMMAND [ARGS]\n"
		"\n"
		"  create NAME --origin URL --cache DEV [--block-size SIZE]\n"
		"              [--daemon-timeout SECONDS] [--fill-timeout SECONDS]\n"
		"              [--fail-fast] [--config FILE]\n"
		"              [--reset] [--commit-interval MS] [--no-prefetch]\n"
		"              [--prefetch-window BLOCKS] [--prefetch-budget FETCHES]\n"
		"      Make /dev/mapper/NAME show the origin, cached on DEV\n"
		"      (--origin -: read the URL from stdin).\n"
		"  remove NAME          Remove the device (it must not be open).\n"
		"  list                 List rcache devices.\n"
		"  status [NAME] [--json]\n"
		"                       Counters of one or every rcache device.\n"
		"  table NAME           The device's table line, as dmsetup shows it.\n"
		"  inspect DEV [--json] The on-disk format of a cache device.\n"
		"  invalidate NAME [--range A-B]\n"
		"                       Drop cached blocks (bytes; default everything).\n"
		"  clear-stats NAME     Zero the counters.\n"
		"  warmup NAME [--range A-B] [--trace FILE] [--rate MB/s] [--wait]\n"
		"                       Fill the cache in the background (default: all).\n"
		"  trace record NAME --out FILE [--duration SECONDS]\n"
		"                       Record the order blocks are first read in.\n"
		"  version, --version   Print the version.\n"
		"\n"
		"Origin URLs: file:///absolute/path (local, NFS or CephFS file, or a block\n"
		"device), s3://bucket/key (endpoint, region and credentials as the AWS CLI\n"
		"finds them, or from the [s3] section of the config file), https://host/path\n"
		"(public or presigned).  --config defaults to $RCACHE_CONFIG or\n"
		"/etc/rcache/rcached.conf.\n");
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
	static char origin_line[RCACHE_MAX_ORIGIN_LEN + 2];
	static const struct option opts[] = {
		{ "origin", required_argument, NULL, 'o' },
		{ "cache", required_argument, NULL, 'c' },
		{ "block-size", required_argument, NULL, 'b' },
		{ "daemon-timeout", required_argument, NULL, 't' },
		{ "fill-timeout", required_argument, NULL, 'T' },
		{ "fail-fast", no_argument, NULL, 'f' },
		{ "config", required_argument, NULL, 'C' },
		{ "reset", no_argument, NULL, 'R' },
		{ "commit-interval", required_argument, NULL, 'I' },
		{ "no-prefetch", no_argument, NULL, 'P' },
		{ "prefetch-window", required_argument, NULL, 'W' },
		{ "prefetch-budget", required_argument, NULL, 'B' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = getenv("RCACHE_CONFIG") ? getenv("RCACHE_CONFIG") :
		"/etc/rcache/rcached.conf";
	struct rc_create_opts o = { .commit_ms = -1 };
	struct rc_ini conf;
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
		case 'T':
			if (rc_parse_u64(optarg, 1, RCACHE_MAX_FILL_TIMEOUT, &v)) {
				rc_err("--fill-timeout %s: expected 1 to %u seconds", optarg,
				       RCACHE_MAX_FILL_TIMEOUT);
				return EXIT_USAGE;
			}
			o.fill_timeout = v;
			break;
		case 'f':
			o.fail_fast = true;
			break;
		case 'C':
			config = optarg;
			break;
		case 'R':
			o.reset = true;
			break;
		case 'P':
			o.no_prefetch = true;
			break;
		case 'W':
		case 'B':
			if (rc_parse_u64(optarg, 1, 65536, &v)) {
				rc_err("--prefetch-%s %s: expected 1 to 65536",
				       c == 'W' ? "window" : "budget", optarg);
				return EXIT_USAGE;
			}
			if (c == 'W')
				o.prefetch_window = v;
			else
				o.prefetch_budget = v;
			break;
		case 'I':
			if (rc_parse_u64(optarg, 0, 3600000, &v)) {
				rc_err("--commit-interval %s: expected 0 to 3600000 ms", optarg);
				return EXIT_USAGE;
			}
			o.commit_ms = (int)v;
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
	/* "--origin -": one line from stdin keeps a signature out of argv */
	if (!strcmp(o.origin, "-")) {
		size_t len = 0;

		if (fgets(origin_line, sizeof(origin_line), stdin))
			len = strcspn(origin_line, "\r\n");
		if (!len || (!origin_line[len] && !feof(stdin))) {
			rc_err("--origin -: expected one URL of at most %d bytes on standard input",
			       RCACHE_MAX_ORIGIN_LEN);
			return EXIT_USAGE;
		}
		origin_line[len] = '\0';
		o.origin = origin_line;
	}
	/* the target must be there: load dm-rcache as modprobe would */
	if (rc_kmod_load(NULL, 0, &err) < 0)
		return fail(&err);
	r = rc_ini_load(&conf, config, &err);
	if (r && r != -ENOENT)
		return fail(&err);
	o.conf = &conf;
	if (open_dm(&dm)) {
		rc_ini_free(&conf);
		return 1;
	}
	r = rc_device_create(&dm, &o, &dev, &err);
	rc_dm_close(&dm);
	rc_ini_free(&conf);
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
		r = rc_device_remove(&dm, argv[1], &err);
	rc_dm_close(&dm);
	return r ? fail(&err) : 0;
}

struct walk {
	struct rc_dm *dm;
	int (*fn)(struct walk *w, const char *name, dev_t dev, struct rc_status *st);
	struct json_object *json;	/* status --json: the array of devices */
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
		json_object_array_add(w->json, rc_status_json(st));
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
	bool json = false;
	int c, r;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'j')
			return EXIT_USAGE;
		json = true;
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
		if (json)
			rc_status_print_json(stdout, &st);
		else
			rc_status_print_text(stdout, &st);
		printf("\n");
		return 0;
	}
	if (json)
		w.json = json_object_new_array();
	r = rc_dm_list(&dm, walk_one, &w, &err);
	rc_dm_close(&dm);
	if (w.json) {
		rc_json_print(stdout, w.json);
		printf("\n");
	}
	json_object_put(w.json);
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

static int cmd_inspect(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct rc_inspect in;
	struct rc_err err;
	bool json = false;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'j')
			return EXIT_USAGE;
		json = true;
	}
	if (optind != argc - 1) {
		rc_err("inspect needs exactly one cache device");
		return EXIT_USAGE;
	}
	if (rc_inspect(argv[optind], &in, &err))
		return fail(&err);
	rc_inspect_print(stdout, argv[optind], &in, json);
	return 0;
}

/* Sends a target message to an rcache device. */
static int send_message(const char *name, const char *msg)
{
	struct rc_status st;
	struct rc_err err;
	struct rc_dm dm;
	int r;

	if (open_dm(&dm))
		return 1;
	r = rc_status_get(&dm, name, &st, &err);
	if (!r)
		r = rc_dm_message(&dm, name, msg, NULL, &err);
	rc_dm_close(&dm);
	return r ? fail(&err) : 0;
}

static int cmd_invalidate(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "range", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	const char *range = NULL;
	uint64_t begin = 0, end = UINT64_MAX;
	char msg[96];
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'r')
			return EXIT_USAGE;
		range = optarg;
	}
	if (optind != argc - 1) {
		rc_err("invalidate needs exactly one NAME");
		return EXIT_USAGE;
	}
	if (range && rc_parse_range(range, &begin, &end)) {
		rc_err("--range %s: expected BEGIN-END in bytes, such as 0-1G", range);
		return EXIT_USAGE;
	}
	if (end == UINT64_MAX) {
		struct rc_status st;
		struct rc_err err;
		struct rc_dm dm;

		if (open_dm(&dm))
			return 1;
		if (rc_status_get(&dm, argv[optind], &st, &err)) {
			rc_dm_close(&dm);
			return fail(&err);
		}
		rc_dm_close(&dm);
		end = st.size_bytes;
	}
	/* whole blocks covered even in part: sectors, rounded outwards */
	snprintf(msg, sizeof(msg), "invalidate %llu-%llu", (unsigned long long)(begin / 512),
		 (unsigned long long)((end + 511) / 512));
	return send_message(argv[optind], msg);
}

static int cmd_clear_stats(int argc, char **argv)
{
	if (argc != 2) {
		rc_err("clear-stats needs exactly one NAME");
		return EXIT_USAGE;
	}
	return send_message(argv[1], "clear_stats");
}

static int cmd_warmup(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "range", required_argument, NULL, 'r' },
		{ "trace", required_argument, NULL, 't' },
		{ "rate", required_argument, NULL, 'R' },
		{ "wait", no_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	struct rc_warmup_opts o = { .progress_bar = isatty(STDERR_FILENO) };
	struct rc_err err;
	struct rc_dm dm;
	uint64_t v;
	int c, r;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (rc_parse_range(optarg, &o.begin, &o.end)) {
				rc_err("--range %s: expected BEGIN-END in bytes, such as 0-1G", optarg);
				return EXIT_USAGE;
			}
			break;
		case 't':
			o.trace = optarg;
			break;
		case 'R':
			if (rc_parse_u64(optarg, 1, 1000000, &v)) {
				rc_err("--rate %s: expected MB/s, 1 to 1000000", optarg);
				return EXIT_USAGE;
			}
			o.rate = v * 1000000;
			break;
		case 'w':
			o.wait = true;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || (o.trace && o.end)) {
		rc_err("warmup needs one NAME, and --range or --trace (not both)");
		return EXIT_USAGE;
	}
	o.name = argv[optind];
	if (open_dm(&dm))
		return 1;
	r = rc_warmup(&dm, &o, &err);
	rc_dm_close(&dm);
	return r ? fail(&err) : 0;
}

static int cmd_trace(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "duration", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	struct rc_trace_opts o = { 0 };
	struct rc_err err;
	struct rc_dm dm;
	uint64_t v;
	int c, r;

	if (argc < 2 || strcmp(argv[1], "record")) {
		rc_err("usage: rcachectl trace record NAME --out FILE [--duration SECONDS]");
		return EXIT_USAGE;
	}
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			o.out = optarg;
			break;
		case 'd':
			if (rc_parse_u64(optarg, 1, 31536000, &v)) {
				rc_err("--duration %s: expected seconds", optarg);
				return EXIT_USAGE;
			}
			o.duration_s = v;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || !o.out) {
		rc_err("trace record needs NAME and --out FILE");
		return EXIT_USAGE;
	}
	o.name = argv[optind];
	if (open_dm(&dm))
		return 1;
	r = rc_trace_record(&dm, &o, &err);
	rc_dm_close(&dm);
	return r ? fail(&err) : 0;
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
		{ "inspect", cmd_inspect },
		{ "invalidate", cmd_invalidate },
		{ "clear-stats", cmd_clear_stats },
		{ "warmup", cmd_warmup },
		{ "trace", cmd_trace },
	};
	size_t i;

	rc_log_init("rcachectl", RC_LOG_INFO);
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("rcachectl %s\n", RCACHE_VERSION);
		return 0;
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
