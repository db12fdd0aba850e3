// SPDX-License-Identifier: GPL-2.0-only
/*
 * rcached - the dm-rcache fill daemon.  Runs in the foreground (systemd
 * style) and logs to stderr.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/daemon.h"
#include "../lib/log.h"
#include "../lib/util.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: rcached [options]\n"
		"  --runtime-dir DIR   private device nodes (default /run/rcached)\n"
		"  --max-fills N       fills in flight at once (default 128)\n"
		"  --max-buffer SIZE   memory for fill buffers (default 512M)\n"
		"  -v, --verbose       debug logging\n"
		"  -h, --help          this text\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "runtime-dir", required_argument, NULL, 'r' },
		{ "max-fills", required_argument, NULL, 'n' },
		{ "max-buffer", required_argument, NULL, 'b' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct rcd_config cfg;
	int level = RC_LOG_INFO, c;
	uint64_t v;

	rc_log_init("rcached", level);
	rcd_config_defaults(&cfg);
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			cfg.runtime_dir = optarg;
			break;
		case 'n':
			if (rc_parse_u64(optarg, 1, 65536, &v)) {
				rc_err("--max-fills %s: expected 1 to 65536", optarg);
				return 2;
			}
			cfg.max_fills = v;
			break;
		case 'b':
			if (rc_parse_size(optarg, &v) || v < (64ULL << 20)) {
				rc_err("--max-buffer %s: expected a size of at least 64M", optarg);
				return 2;
			}
			cfg.max_buffer_bytes = v;
			break;
		case 'v':
			level = RC_LOG_DEBUG;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		rc_err("unexpected argument '%s'", argv[optind]);
		return 2;
	}
	rc_log_init("rcached", level);
	if (geteuid() != 0)
		rc_warn("not running as root: registering needs CAP_SYS_ADMIN");
	return rcd_run(&cfg);
}
