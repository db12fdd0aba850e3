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

#include "daemon/daemon.h"
#include "kernel/kmodload.h"
#include "common/log.h"
#include "common/util.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: rcached [options]\n"
		"  --config FILE       settings, [daemon] and [s3] (default /etc/rcache/rcached.conf)\n"
		"  --runtime-dir DIR   private device nodes (default /run/rcached)\n"
		"  --max-fills N       fills in flight at once (default 128)\n"
		"  --max-buffer SIZE   memory for fill buffers (default 512M)\n"
		"  --report-file FILE  device report for rcache-device-plugin\n"
		"                      (default RUNTIME_DIR/devices.json)\n"
		"  --report-interval S rewrite the report at least every S seconds (default 2)\n"
		"  --metrics-textfile FILE\n"
		"                      Prometheus metrics for node-exporter's textfile collector\n"
		"  --metrics-listen [HOST:]PORT\n"
		"                      serve Prometheus metrics at http://HOST:PORT/metrics\n"
		"                      (HOST 127.0.0.1 unless given; 0.0.0.0 for every address)\n"
		"  --nfd-features-file FILE\n"
		"                      node-feature-discovery labels rcache.io/dataset.NAME\n"
		"  --warm-percent N    cached %% at which a dataset is warm (default 99)\n"
		"  --sysfs-root DIR    sysfs for topology (default /sys)\n"
		"  -v, --verbose       debug logging\n"
		"  -h, --help          this text\n"
		"  --version           print the version\n");
}

/* dm-rcache must be there to register with: load it as modprobe would. */
static int load_module(void)
{
	char path[4096];
	struct rc_err err;
	int r;

	r = rc_kmod_load(path, sizeof(path), &err);
	if (r < 0) {
		rc_err("%s", err.msg);
		return -1;
	}
	if (r == RC_KMOD_LOADED)
		rc_info("loaded %s from %s", RC_KMOD_NAME, path);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "runtime-dir", required_argument, NULL, 'r' },
		{ "max-fills", required_argument, NULL, 'n' },
		{ "max-buffer", required_argument, NULL, 'b' },
		{ "report-file", required_argument, NULL, 'R' },
		{ "report-interval", required_argument, NULL, 'I' },
		{ "metrics-textfile", required_argument, NULL, 'T' },
		{ "metrics-listen", required_argument, NULL, 'L' },
		{ "nfd-features-file", required_argument, NULL, 'N' },
		{ "warm-percent", required_argument, NULL, 'W' },
		{ "sysfs-root", required_argument, NULL, 'S' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct rcd_config cfg;
	struct rc_err err;
	int level = RC_LOG_INFO, c;
	uint64_t v;

	rc_log_init("rcached", level);
	rcd_config_defaults(&cfg);
	/* the config file first, so that flags override it */
	cfg.config_file = getenv("RCACHE_CONFIG") ? getenv("RCACHE_CONFIG") :
		"/etc/rcache/rcached.conf";
	opterr = 0;
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1)
		if (c == 'c')
			cfg.config_file = optarg;
	opterr = 1;
	if (rcd_config_file(&cfg, cfg.config_file, &err)) {
		rc_err("%s", err.msg);
		return 2;
	}
	optind = 1;
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			break;
		case 'r':
			snprintf(cfg.runtime_dir, sizeof(cfg.runtime_dir), "%s", optarg);
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
		case 'R':
			snprintf(cfg.report_file, sizeof(cfg.report_file), "%s", optarg);
			break;
		case 'I':
			if (rc_parse_u64(optarg, 1, 3600, &v)) {
				rc_err("--report-interval %s: expected 1 to 3600 seconds", optarg);
				return 2;
			}
			cfg.report_interval_s = v;
			break;
		case 'T':
			snprintf(cfg.metrics_textfile, sizeof(cfg.metrics_textfile), "%s", optarg);
			break;
		case 'L':
			snprintf(cfg.metrics_listen, sizeof(cfg.metrics_listen), "%s", optarg);
			break;
		case 'N':
			snprintf(cfg.nfd_features_file, sizeof(cfg.nfd_features_file), "%s", optarg);
			break;
		case 'W':
			if (rc_parse_u64(optarg, 1, 100, &v)) {
				rc_err("--warm-percent %s: expected 1 to 100", optarg);
				return 2;
			}
			cfg.warm_percent = v;
			break;
		case 'S':
			snprintf(cfg.sysfs_root, sizeof(cfg.sysfs_root), "%s", optarg);
			break;
		case 'v':
			level = RC_LOG_DEBUG;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("rcached %s\n", RCACHE_VERSION);
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
	if (load_module())
		return 1;
	return rcd_run(&cfg);
}
