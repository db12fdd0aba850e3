// SPDX-License-Identifier: GPL-2.0-only
/* rcachectl - create, remove and inspect rcache devices (dmsetup style). */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
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
#include "origin/url.h"

#define EXIT_USAGE 2

/*
 * A command: its name (and a shorter alias), the line "rcachectl --help"
 * shows for it, and the usage "rcachectl CMD --help" prints.  The usage
 * strings sit next to their commands; the table is above main().
 */
struct command {
	const char *name;
	const char *alias;
	int (*run)(const struct command *cmd, int argc, char **argv);
	const char *summary;
	const char *usage;
};

/* Every command's options end with these two entries. */
#define HELP_OPTION { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 }
/* next_option(): the command is done, *status says how */
#define OPT_EXIT (-2)

/* A wrong command line: one line naming the problem and the help; exit 2. */
__attribute__((format(printf, 2, 3)))
static int usage_error(const struct command *cmd, const char *fmt, ...)
{
	char what[1100];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	rc_err("%s: %s (see 'rcachectl %s --help')", cmd->name, what, cmd->name);
	return EXIT_USAGE;
}

/* How many long options "--ARG" (without "=value") abbreviates. */
static int options_matching(const struct option *opts, const char *arg)
{
	size_t len = strcspn(arg + 2, "=");
	int n = 0;

	for (; opts->name; opts++)
		n += !strncmp(opts->name, arg + 2, len);
	return n;
}

/* The name of the long option whose value is @val, for messages. */
static const char *option_name(const struct option *opts, int val)
{
	for (; opts->name; opts++)
		if (opts->val == val)
			return opts->name;
	return "?";
}

/*
 * getopt_long over a command's options (ending with HELP_OPTION; opterr is
 * off).  Returns the next option's val, -1 after the last one, or OPT_EXIT
 * with *@status set: 0 when --help printed the usage, EXIT_USAGE after a
 * one-line error about a bad option.
 */
static int next_option(const struct command *cmd, int argc, char **argv,
		       const struct option *opts, int *status)
{
	int c = getopt_long(argc, argv, ":h", opts, NULL);
	const char *arg = argv[optind - 1];

	switch (c) {
	case 'h':
		fputs(cmd->usage, stdout);
		*status = 0;
		return OPT_EXIT;
	case ':':
		*status = usage_error(cmd, "option '--%s' needs a value",
				      option_name(opts, optopt));
		return OPT_EXIT;
	case '?':
		if (optopt && !strncmp(arg, "--", 2) && strchr(arg, '='))
			*status = usage_error(cmd, "option '--%s' takes no value",
					      option_name(opts, optopt));
		else if (!strncmp(arg, "--", 2) && options_matching(opts, arg) > 1)
			*status = usage_error(cmd, "option '%.*s' is ambiguous",
					      (int)strcspn(arg, "="), arg);
		else if (!strncmp(arg, "--", 2))
			*status = usage_error(cmd, "unknown option '%s'", arg);
		else
			*status = usage_error(cmd, "unknown option '-%c'", optopt);
		return OPT_EXIT;
	}
	return c;
}

/* For a command without options of its own: -1 to go on, else its exit status. */
static int only_help(const struct command *cmd, int argc, char **argv)
{
	static const struct option opts[] = { HELP_OPTION };
	int status;

	return next_option(cmd, argc, argv, opts, &status) == -1 ? -1 : status;
}

/* The one operand (NAME, DEV) after a command's options; 0 or EXIT_USAGE. */
static int one_operand(const struct command *cmd, int argc, char **argv, const char *what,
		       const char **out)
{
	if (optind >= argc)
		return usage_error(cmd, "%s is missing", what);
	if (argc - optind > 1)
		return usage_error(cmd, "unexpected argument '%s' after %s",
				   argv[optind + 1], what);
	*out = argv[optind];
	return 0;
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

static const char create_usage[] =
	"usage: rcachectl create NAME --origin URL --cache DEV [OPTION]...\n"
	"\n"
	"Makes /dev/mapper/NAME show the origin URL, cached on the block device DEV.\n"
	"The origin is probed for its size and version first; if anything fails,\n"
	"nothing is created.  dm-rcache is loaded as modprobe would when it is not.\n"
	"\n"
	"  --origin URL               file:///absolute/path (a file on a local, NFS or\n"
	"                             CephFS mount, or a block device), s3://bucket/key\n"
	"                             (endpoint, region and credentials as the AWS CLI\n"
	"                             finds them, or from the config's [s3] section), or\n"
	"                             https://host/path (public or presigned); write a\n"
	"                             space as %20; - reads the URL from standard input\n"
	"  --cache DEV                the cache device (what it held is lost)\n"
	"  --block-size SIZE          a power of two from 4K to 64M (default 1M)\n"
	"  --daemon-timeout SECONDS   how long a miss waits for a daemon, 1 to 86400\n"
	"  --fill-timeout SECONDS     how long the daemon may hold a fill, 1 to 86400\n"
	"  --fail-fast                misses fail at once while no daemon is registered\n"
	"  --config FILE              where the [s3] section is read (default\n"
	"                             $RCACHE_CONFIG, else /etc/rcache/rcached.conf)\n"
	"  --reset                    reformat the cache device, dropping what it holds\n"
	"  --commit-interval MS       commit changed metadata this often, 0 to 3600000\n"
	"  --no-prefetch              no sequential prefetch\n"
	"  --prefetch-window BLOCKS   largest prefetch window, 1 to 65536 blocks\n"
	"  --prefetch-budget FETCHES  prefetches in flight, 1 to 65536\n"
	"  -h, --help                 print this help\n";

static int cmd_create(const struct command *cmd, int argc, char **argv)
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
		HELP_OPTION,
	};
	const char *config = getenv("RCACHE_CONFIG") ? getenv("RCACHE_CONFIG") :
		"/etc/rcache/rcached.conf";
	struct rc_create_opts o = { .commit_ms = -1 };
	struct rc_ini conf;
	struct rc_url url;
	struct rc_err err;
	struct rc_dm dm;
	dev_t dev;
	uint64_t v;
	int c, r;

	while ((c = next_option(cmd, argc, argv, opts, &r)) != -1) {
		switch (c) {
		case 'o':
			o.origin = optarg;
			break;
		case 'c':
			o.cache = optarg;
			break;
		case 'b':
			if (rc_parse_size(optarg, &o.block_size))
				return usage_error(cmd,
						   "--block-size %s: expected a size such as 1M or 4096",
						   optarg);
			break;
		case 't':
			if (rc_parse_u64(optarg, 1, 86400, &v))
				return usage_error(cmd,
						   "--daemon-timeout %s: expected 1 to 86400 seconds",
						   optarg);
			o.daemon_timeout = v;
			break;
		case 'T':
			if (rc_parse_u64(optarg, 1, RCACHE_MAX_FILL_TIMEOUT, &v))
				return usage_error(cmd, "--fill-timeout %s: expected 1 to %u seconds",
						   optarg, RCACHE_MAX_FILL_TIMEOUT);
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
			if (rc_parse_u64(optarg, 1, 65536, &v))
				return usage_error(cmd, "--prefetch-%s %s: expected 1 to 65536",
						   c == 'W' ? "window" : "budget", optarg);
			if (c == 'W')
				o.prefetch_window = v;
			else
				o.prefetch_budget = v;
			break;
		case 'I':
			if (rc_parse_u64(optarg, 0, 3600000, &v))
				return usage_error(cmd,
						   "--commit-interval %s: expected 0 to 3600000 ms",
						   optarg);
			o.commit_ms = (int)v;
			break;
		default:
			return r;
		}
	}
	r = one_operand(cmd, argc, argv, "NAME", &o.name);
	if (r)
		return r;
	if (!o.origin)
		return usage_error(cmd, "--origin URL is missing");
	if (!o.cache)
		return usage_error(cmd, "--cache DEV is missing");
	/* "--origin -": one line from stdin keeps a signature out of argv */
	if (!strcmp(o.origin, "-")) {
		size_t len = 0;

		if (fgets(origin_line, sizeof(origin_line), stdin))
			len = strcspn(origin_line, "\r\n");
		if (!len || (!origin_line[len] && !feof(stdin)))
			return usage_error(cmd,
					   "--origin -: expected one URL of at most %d bytes on standard input",
					   RCACHE_MAX_ORIGIN_LEN);
		origin_line[len] = '\0';
		o.origin = origin_line;
	}
	/* a malformed URL is the command line's fault, whatever the kernel has */
	if (rc_url_parse(o.origin, &url, &err))
		return usage_error(cmd, "%s", err.msg);
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

static const char remove_usage[] =
	"usage: rcachectl remove NAME\n"
	"\n"
	"Removes the rcache device NAME; it must not be open.  The metadata is\n"
	"committed first, so the cache is kept for the next create.\n";

static int cmd_remove(const struct command *cmd, int argc, char **argv)
{
	struct rc_status st;
	struct rc_err err;
	const char *name = NULL;
	struct rc_dm dm;
	int r;

	r = only_help(cmd, argc, argv);
	if (r >= 0)
		return r;
	r = one_operand(cmd, argc, argv, "NAME", &name);
	if (r)
		return r;
	if (open_dm(&dm))
		return 1;
	r = rc_status_get(&dm, name, &st, &err);
	if (!r)
		r = rc_device_remove(&dm, name, &err);
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

static const char list_usage[] =
	"usage: rcachectl list\n"
	"\n"
	"Prints one line per rcache device: name, (major:minor) and origin.\n"
	"'rcachectl ls' is the same.\n";

static int cmd_list(const struct command *cmd, int argc, char **argv)
{
	struct rc_err err;
	struct rc_dm dm;
	struct walk w = { .dm = &dm, .fn = list_one };
	int r;

	r = only_help(cmd, argc, argv);
	if (r >= 0)
		return r;
	if (optind < argc)
		return usage_error(cmd, "unexpected argument '%s'", argv[optind]);
	if (open_dm(&dm))
		return 1;
	r = rc_dm_list(&dm, walk_one, &w, &err);
	rc_dm_close(&dm);
	return r < 0 ? fail(&err) : 0;
}

static const char status_usage[] =
	"usage: rcachectl status [NAME] [--json]\n"
	"\n"
	"Prints the counters of the rcache device NAME, or of every rcache device.\n"
	"\n"
	"  --json      one JSON object for NAME, or an array of them without NAME\n"
	"  -h, --help  print this help\n";

static int cmd_status(const struct command *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		HELP_OPTION,
	};
	struct rc_status st;
	struct rc_err err;
	struct rc_dm dm;
	struct walk w = { .dm = &dm, .fn = status_one };
	bool json = false;
	int c, r;

	while ((c = next_option(cmd, argc, argv, opts, &r)) != -1) {
		if (c != 'j')
			return r;
		json = true;
	}
	if (argc - optind > 1)
		return usage_error(cmd, "unexpected argument '%s' after NAME", argv[optind + 1]);
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

static const char table_usage[] =
	"usage: rcachectl table NAME\n"
	"\n"
	"Prints the table line of the device NAME, as 'dmsetup table' shows it.\n";

static int cmd_table(const struct command *cmd, int argc, char **argv)
{
	struct rc_dm_table t;
	struct rc_err err;
	const char *name = NULL;
	struct rc_dm dm;
	int r;

	r = only_help(cmd, argc, argv);
	if (r >= 0)
		return r;
	r = one_operand(cmd, argc, argv, "NAME", &name);
	if (r)
		return r;
	if (open_dm(&dm))
		return 1;
	r = rc_dm_status(&dm, name, true, &t, NULL, &err);
	rc_dm_close(&dm);
	if (r)
		return fail(&err);
	printf("%llu %llu %s %s\n", (unsigned long long)t.start,
	       (unsigned long long)t.length, t.type, t.params);
	rc_dm_table_free(&t);
	return 0;
}

static const char inspect_usage[] =
	"usage: rcachectl inspect DEV [--json]\n"
	"\n"
	"Decodes the cache device (or image file) DEV: format version, origin,\n"
	"identity, geometry, cached blocks, retired slots, the last commit and\n"
	"damaged metadata pages.  A device without an rcache superblock, with a bad\n"
	"superblock checksum or another format version is an error (exit 1).\n"
	"\n"
	"  --json      one JSON object\n"
	"  -h, --help  print this help\n";

static int cmd_inspect(const struct command *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		HELP_OPTION,
	};
	struct rc_inspect in;
	struct rc_err err;
	bool json = false;
	const char *dev = NULL;
	int c, r;

	while ((c = next_option(cmd, argc, argv, opts, &r)) != -1) {
		if (c != 'j')
			return r;
		json = true;
	}
	r = one_operand(cmd, argc, argv, "DEV", &dev);
	if (r)
		return r;
	if (rc_inspect(dev, &in, &err)) {
		/* its message starts with DEV: "inspect DEV: no rcache superblock ..." */
		rc_err("inspect %s", err.msg);
		return 1;
	}
	rc_inspect_print(stdout, dev, &in, json);
	return 0;
}

/* Sends a target message to an rcache device; prints its answer, if any. */
static int send_message(const char *name, const char *msg)
{
	struct rc_status st;
	char *reply = NULL;
	struct rc_err err;
	struct rc_dm dm;
	int r;

	if (open_dm(&dm))
		return 1;
	r = rc_status_get(&dm, name, &st, &err);
	if (!r)
		r = rc_dm_message(&dm, name, msg, &reply, &err);
	rc_dm_close(&dm);
	if (r)
		return fail(&err);
	if (reply && *reply)
		printf("%s\n", reply);
	free(reply);
	return 0;
}

static const char message_usage[] =
	"usage: rcachectl message NAME MESSAGE...\n"
	"\n"
	"Sends MESSAGE to the rcache device NAME, as 'dmsetup message NAME 0 MESSAGE'\n"
	"does, and prints the target's answer when it gives one.  Ranges are in\n"
	"512-byte sectors, half-open:\n"
	"\n"
	"  invalidate BEGIN-END       drop the cached blocks the range touches\n"
	"  clear_stats                zero the counters\n"
	"  warmup BEGIN-END [MB/s]    queue a background fill of the range\n"
	"  warmup stop                drop the warm-up queue\n"
	"  prefetch on|off            turn sequential prefetch on or off\n"
	"  prefetch_window BLOCKS     largest prefetch window, 1 to 65536 blocks\n"
	"  prefetch_budget FETCHES    prefetches in flight, 1 to 65536\n"
	"  fill_timeout SECONDS       how long the daemon may hold a fill, 1 to 86400\n"
	"  trace start|read|stop      record first accesses; read prints the accesses\n"
	"                             lost, then the blocks recorded since the last read\n"
	"\n"
	"invalidate, warmup and trace record do the same in bytes and with progress.\n";

static int cmd_message(const struct command *cmd, int argc, char **argv)
{
	const char *name = NULL;
	char msg[1024];
	size_t len = 0;
	int i, r;

	r = only_help(cmd, argc, argv);
	if (r >= 0)
		return r;
	if (optind >= argc)
		return usage_error(cmd, "NAME is missing");
	name = argv[optind];
	if (optind + 1 >= argc)
		return usage_error(cmd, "MESSAGE is missing (after NAME %s)", name);
	/* dmsetup's sector argument: no rcache message starts with a number */
	if (!strcmp(argv[optind + 1], "0"))
		return usage_error(cmd, "MESSAGE starts with dmsetup's sector 0; leave it out "
				   "(rcachectl message %s warmup stop)", name);
	/* the words of the message, one space apart, as dmsetup sends them */
	msg[0] = '\0';
	for (i = optind + 1; i < argc; i++) {
		int n = snprintf(msg + len, sizeof(msg) - len, "%s%s", len ? " " : "", argv[i]);

		if (n < 0 || (size_t)n >= sizeof(msg) - len)
			return usage_error(cmd, "MESSAGE is longer than %zu bytes",
					   sizeof(msg) - 1);
		len += n;
	}
	return send_message(name, msg);
}

static const char invalidate_usage[] =
	"usage: rcachectl invalidate NAME [--range BEGIN-END]\n"
	"\n"
	"Drops cached blocks of the device NAME: every block the byte range touches,\n"
	"or the whole device.  They are fetched from the origin again when read.\n"
	"\n"
	"  --range BEGIN-END  bytes, with units: 0-1G, 4096-1M\n"
	"  -h, --help         print this help\n";

static int cmd_invalidate(const struct command *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "range", required_argument, NULL, 'r' },
		HELP_OPTION,
	};
	const char *range = NULL, *name = NULL;
	uint64_t begin = 0, end = UINT64_MAX;
	char msg[96];
	int c, r;

	while ((c = next_option(cmd, argc, argv, opts, &r)) != -1) {
		if (c != 'r')
			return r;
		range = optarg;
	}
	r = one_operand(cmd, argc, argv, "NAME", &name);
	if (r)
		return r;
	if (range && rc_parse_range(range, &begin, &end))
		return usage_error(cmd, "--range %s: expected BEGIN-END in bytes, such as 0-1G",
				   range);
	if (end == UINT64_MAX) {
		struct rc_status st;
		struct rc_err err;
		struct rc_dm dm;

		if (open_dm(&dm))
			return 1;
		if (rc_status_get(&dm, name, &st, &err)) {
			rc_dm_close(&dm);
			return fail(&err);
		}
		rc_dm_close(&dm);
		end = st.size_bytes;
	}
	/* whole blocks covered even in part: sectors, rounded outwards */
	snprintf(msg, sizeof(msg), "invalidate %llu-%llu", (unsigned long long)(begin / 512),
		 (unsigned long long)((end + 511) / 512));
	return send_message(name, msg);
}

static const char clear_stats_usage[] =
	"usage: rcachectl clear-stats NAME\n"
	"\n"
	"Zeroes the counters of the device NAME.\n";

static int cmd_clear_stats(const struct command *cmd, int argc, char **argv)
{
	const char *name = NULL;
	int r;

	r = only_help(cmd, argc, argv);
	if (r >= 0)
		return r;
	r = one_operand(cmd, argc, argv, "NAME", &name);
	if (r)
		return r;
	return send_message(name, "clear_stats");
}

static const char warmup_usage[] =
	"usage: rcachectl warmup NAME [--range BEGIN-END | --trace FILE] [--rate MB/s]\n"
	"                        [--wait]\n"
	"\n"
	"Fills the cache of the device NAME in the background, in order, behind\n"
	"demand misses: the byte range, the blocks of a trace file, or the whole\n"
	"device.  Warm at most what the cache holds: warm-up does not evict.\n"
	"\n"
	"  --range BEGIN-END  bytes, with units: 0-1G\n"
	"  --trace FILE       the blocks of a 'rcachectl trace record' file, in order\n"
	"  --rate MB/s        at most this many 10^6 bytes per second, 1 to 1000000\n"
	"  --wait             return when nothing is left (exit 1 when blocks failed),\n"
	"                     showing progress; without it, once everything is queued\n"
	"  -h, --help         print this help\n";

static int cmd_warmup(const struct command *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "range", required_argument, NULL, 'r' },
		{ "trace", required_argument, NULL, 't' },
		{ "rate", required_argument, NULL, 'R' },
		{ "wait", no_argument, NULL, 'w' },
		HELP_OPTION,
	};
	struct rc_warmup_opts o = { .progress_bar = isatty(STDERR_FILENO) };
	struct rc_err err;
	struct rc_dm dm;
	uint64_t v;
	int c, r;

	while ((c = next_option(cmd, argc, argv, opts, &r)) != -1) {
		switch (c) {
		case 'r':
			if (rc_parse_range(optarg, &o.begin, &o.end))
				return usage_error(cmd,
						   "--range %s: expected BEGIN-END in bytes, such as 0-1G",
						   optarg);
			break;
		case 't':
			o.trace = optarg;
			break;
		case 'R':
			if (rc_parse_u64(optarg, 1, 1000000, &v))
				return usage_error(cmd, "--rate %s: expected MB/s, 1 to 1000000",
						   optarg);
			o.rate = v * 1000000;
			break;
		case 'w':
			o.wait = true;
			break;
		default:
			return r;
		}
	}
	r = one_operand(cmd, argc, argv, "NAME", &o.name);
	if (r)
		return r;
	if (o.trace && o.end)
		return usage_error(cmd, "--range and --trace exclude each other");
	if (open_dm(&dm))
		return 1;
	r = rc_warmup(&dm, &o, &err);
	rc_dm_close(&dm);
	return r ? fail(&err) : 0;
}

static const char trace_usage[] =
	"usage: rcachectl trace record NAME --out FILE [--duration SECONDS]\n"
	"\n"
	"Records the order in which blocks of the device NAME are first read, until\n"
	"--duration passes or SIGINT or SIGTERM, into FILE: a line 'rcache-trace 1\n"
	"block_size=N blocks=N origin=URL', then one block number per line.\n"
	"'rcachectl warmup NAME --trace FILE' replays it.\n"
	"\n"
	"  --out FILE          the trace file to write\n"
	"  --duration SECONDS  stop recording after this long\n"
	"  -h, --help          print this help\n";

static int cmd_trace(const struct command *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "duration", required_argument, NULL, 'd' },
		HELP_OPTION,
	};
	bool record = argc >= 2 && !strcmp(argv[1], "record");
	struct rc_trace_opts o = { 0 };
	struct rc_err err;
	struct rc_dm dm;
	uint64_t v;
	int c, r;

	if (record) {
		argc--;
		argv++;
	}
	while ((c = next_option(cmd, argc, argv, opts, &r)) != -1) {
		switch (c) {
		case 'o':
			o.out = optarg;
			break;
		case 'd':
			if (rc_parse_u64(optarg, 1, 31536000, &v))
				return usage_error(cmd, "--duration %s: expected seconds", optarg);
			o.duration_s = v;
			break;
		default:
			return r;
		}
	}
	if (!record && optind < argc)
		return usage_error(cmd, "unknown subcommand '%s' (there is 'trace record')",
				   argv[optind]);
	if (!record)
		return usage_error(cmd, "the subcommand is missing ('trace record')");
	r = one_operand(cmd, argc, argv, "NAME", &o.name);
	if (r)
		return r;
	if (!o.out)
		return usage_error(cmd, "--out FILE is missing");
	if (open_dm(&dm))
		return 1;
	r = rc_trace_record(&dm, &o, &err);
	rc_dm_close(&dm);
	return r ? fail(&err) : 0;
}

static const char version_usage[] =
	"usage: rcachectl version (or rcachectl --version)\n"
	"\n"
	"Prints the version of rcachectl.\n";

static int cmd_version(const struct command *cmd, int argc, char **argv)
{
	int r = only_help(cmd, argc, argv);

	if (r >= 0)
		return r;
	if (optind < argc)
		return usage_error(cmd, "unexpected argument '%s'", argv[optind]);
	printf("rcachectl %s\n", RCACHE_VERSION);
	return 0;
}

static const char help_usage[] =
	"usage: rcachectl help [COMMAND]\n"
	"\n"
	"Lists the commands, or prints the usage of COMMAND (as 'rcachectl COMMAND\n"
	"--help' does).\n";

static int cmd_help(const struct command *cmd, int argc, char **argv);

/* "rcachectl --help" lists them in this order. */
static const struct command commands[] = {
	{ "create", NULL, cmd_create,
	  "make /dev/mapper/NAME show an origin, cached on a local device", create_usage },
	{ "remove", NULL, cmd_remove, "remove a device (it must not be open)", remove_usage },
	{ "list", "ls", cmd_list, "list the rcache devices", list_usage },
	{ "status", NULL, cmd_status, "counters of one or every rcache device", status_usage },
	{ "table", NULL, cmd_table, "a device's table line, as dmsetup shows it", table_usage },
	{ "inspect", NULL, cmd_inspect, "decode the on-disk format of a cache device",
	  inspect_usage },
	{ "invalidate", NULL, cmd_invalidate, "drop cached blocks (a byte range, or all)",
	  invalidate_usage },
	{ "clear-stats", NULL, cmd_clear_stats, "zero a device's counters", clear_stats_usage },
	{ "warmup", NULL, cmd_warmup, "fill the cache in the background", warmup_usage },
	{ "trace", NULL, cmd_trace, "trace record: record the order blocks are first read in",
	  trace_usage },
	{ "message", NULL, cmd_message, "send a target message, as 'dmsetup message NAME 0'",
	  message_usage },
	{ "version", NULL, cmd_version, "print the version (also --version)", version_usage },
	{ "help", NULL, cmd_help, "list the commands, or print one's usage", help_usage },
};

static const struct command *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(name, commands[i].name) ||
		    (commands[i].alias && !strcmp(name, commands[i].alias)))
			return &commands[i];
	return NULL;
}

static void print_commands(FILE *f)
{
	char name[32];
	size_t i;

	fprintf(f, "usage: rcachectl COMMAND [ARGS]...\n"
		"\n"
		"Creates, removes and inspects rcache devices: remote dataset images (file,\n"
		"S3 or HTTP) that appear as local block devices, cached on a local disk.\n"
		"\n"
		"Commands ('rcachectl COMMAND --help' shows one in full):\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		snprintf(name, sizeof(name), "%s%s%s", commands[i].name,
			 commands[i].alias ? ", " : "", commands[i].alias ? commands[i].alias : "");
		fprintf(f, "  %-13s %s\n", name, commands[i].summary);
	}
}

static int cmd_help(const struct command *cmd, int argc, char **argv)
{
	const struct command *topic;
	int r = only_help(cmd, argc, argv);

	if (r >= 0)
		return r;
	if (optind >= argc) {
		print_commands(stdout);
		return 0;
	}
	if (argc - optind > 1)
		return usage_error(cmd, "unexpected argument '%s' after COMMAND", argv[optind + 1]);
	topic = find_command(argv[optind]);
	if (!topic)
		return usage_error(cmd, "unknown command '%s'", argv[optind]);
	fputs(topic->usage, stdout);
	return 0;
}

int main(int argc, char **argv)
{
	const struct command *cmd;

	rc_log_init("rcachectl", RC_LOG_INFO);
	opterr = 0;	/* next_option() reports a bad option itself, on one line */
	if (argc < 2) {
		print_commands(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		print_commands(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("rcachectl %s\n", RCACHE_VERSION);
		return 0;
	}
	cmd = find_command(argv[1]);
	if (!cmd) {
		rc_err("unknown command '%s' (see 'rcachectl --help')", argv[1]);
		return EXIT_USAGE;
	}
	optind = 1;
	return cmd->run(cmd, argc - 1, argv + 1);
}
