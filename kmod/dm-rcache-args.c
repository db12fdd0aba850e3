// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-rcache table parsing.  Pure functions of the argument vector so the
 * KUnit suite can exercise every error string.
 *
 *   rcache <cache_dev> <origin_url> <block_sectors> [<#opt_args> <opt_arg>...]
 *
 * Optional arguments:
 *   daemon_timeout <seconds>   fail queued misses this long after the daemon
 *                              went away (default 30)
 *   fail_fast                  fail misses at once while no daemon is there
 *   fill_timeout <seconds>     fail the reads of a fill the daemon has held
 *                              this long (default 120)
 *   origin_size <bytes>        origin size; the target may not be longer
 *   identity <token>           origin version (size, ETag, mtime...) as the
 *                              CLI found it
 *   reset                      reformat the cache device, dropping what it
 *                              holds (another origin or version, damage)
 *   commit_interval <ms>       commit changed metadata this often (default
 *                              1000; 0: only on flush, suspend and remove)
 *   no_prefetch                no sequential prefetch (warm-up still works)
 *   prefetch_window <blocks>   largest prefetch window (default 32 MiB)
 *   prefetch_budget <fetches>  prefetches (and warm-up fills) in flight
 */
#include <linux/kernel.h>
#include <linux/log2.h>
#include <linux/string.h>

#include "dm-rcache.h"

#define RCACHE_MAX_OPT_ARGS	16
#define RCACHE_MAX_DAEMON_TIMEOUT 86400

/* Returns true when @s is made only of printable, non-space ASCII. */
static bool rcache_token_ok(const char *s, size_t max_len)
{
	size_t n = 0;

	for (; *s; s++, n++) {
		if (n >= max_len || *s <= ' ' || *s > '~')
			return false;
	}
	return n > 0;
}

/*
 * The kernel only checks the shape of the URL; the daemon resolves it:
 * file:///absolute/path, s3://bucket/key, http(s)://host/path.
 */
int rcache_check_origin_url(const char *url, char **error)
{
	const char *path;

	if (!rcache_token_ok(url, RCACHE_MAX_ORIGIN_LEN)) {
		*error = "Invalid origin URL: empty, too long or not printable";
		return -EINVAL;
	}
	if (strncmp(url, "file://", 7) == 0) {
		path = url + 7;
		if (path[0] != '/' || path[1] == '\0') {
			*error = "Invalid origin URL: file:// needs an absolute path (file:///dir/image)";
			return -EINVAL;
		}
		if (path[strlen(path) - 1] == '/') {
			*error = "Invalid origin URL: file:// path names a directory";
			return -EINVAL;
		}
		return 0;
	}
	if (strncmp(url, "s3://", 5) == 0) {
		const char *bucket = url + 5, *slash = strchr(bucket, '/');

		if (!slash || slash - bucket < 3 || slash - bucket > 63 || !slash[1]) {
			*error = "Invalid origin URL: expected s3://bucket/key";
			return -EINVAL;
		}
		return 0;
	}
	if (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0) {
		const char *host = strstr(url, "://") + 3;

		if (*host == '/' || !strchr(host, '/')) {
			*error = "Invalid origin URL: expected http(s)://host/path";
			return -EINVAL;
		}
		return 0;
	}
	*error = "Invalid origin URL: expected file:///path, s3://bucket/key or https://host/path";
	return -EINVAL;
}

static int rcache_parse_opt_args(struct dm_arg_set *as, struct rcache_args *args,
				 char **error)
{
	static const struct dm_arg group = {
		0, RCACHE_MAX_OPT_ARGS, "Invalid number of optional arguments"
	};
	unsigned int argc;
	const char *name;
	int r;

	if (!as->argc)
		return 0;
	r = dm_read_arg_group(&group, as, &argc, error);
	if (r)
		return r;

	while (argc) {
		name = dm_shift_arg(as);
		argc--;
		if (!strcasecmp(name, "fail_fast")) {
			args->fail_fast = true;
			continue;
		}
		if (!strcasecmp(name, "reset")) {
			args->reset = true;
			continue;
		}
		if (!strcasecmp(name, "no_prefetch")) {
			args->no_prefetch = true;
			continue;
		}
		if (!argc) {
			if (!strcasecmp(name, "daemon_timeout") ||
			    !strcasecmp(name, "fill_timeout") ||
			    !strcasecmp(name, "origin_size") ||
			    !strcasecmp(name, "identity") ||
			    !strcasecmp(name, "commit_interval") ||
			    !strcasecmp(name, "prefetch_window") ||
			    !strcasecmp(name, "prefetch_budget"))
				*error = "Optional argument is missing its value";
			else
				*error = "Unknown optional argument";
			return -EINVAL;
		}
		if (!strcasecmp(name, "daemon_timeout")) {
			if (kstrtou32(dm_shift_arg(as), 10, &args->daemon_timeout) ||
			    !args->daemon_timeout ||
			    args->daemon_timeout > RCACHE_MAX_DAEMON_TIMEOUT) {
				*error = "Invalid daemon_timeout: expected 1 to 86400 seconds";
				return -EINVAL;
			}
		} else if (!strcasecmp(name, "fill_timeout")) {
			if (kstrtou32(dm_shift_arg(as), 10, &args->fill_timeout) ||
			    !args->fill_timeout ||
			    args->fill_timeout > RCACHE_MAX_FILL_TIMEOUT) {
				*error = "Invalid fill_timeout: expected 1 to 86400 seconds";
				return -EINVAL;
			}
		} else if (!strcasecmp(name, "origin_size")) {
			if (kstrtou64(dm_shift_arg(as), 10, &args->origin_size) ||
			    !args->origin_size) {
				*error = "Invalid origin_size: expected a positive number of bytes";
				return -EINVAL;
			}
		} else if (!strcasecmp(name, "prefetch_window") ||
			   !strcasecmp(name, "prefetch_budget")) {
			u32 *v = name[9] == 'w' || name[9] == 'W' ? &args->prefetch_window :
				&args->prefetch_budget;

			if (kstrtou32(dm_shift_arg(as), 10, v) || !*v || *v > 65536) {
				*error = "Invalid prefetch window or budget: expected 1 to 65536";
				return -EINVAL;
			}
		} else if (!strcasecmp(name, "commit_interval")) {
			if (kstrtou32(dm_shift_arg(as), 10, &args->commit_ms) ||
			    args->commit_ms > 3600000) {
				*error = "Invalid commit_interval: expected 0 to 3600000 ms";
				return -EINVAL;
			}
		} else if (!strcasecmp(name, "identity")) {
			args->identity = dm_shift_arg(as);
			if (!rcache_token_ok(args->identity, RCACHE_MAX_IDENTITY_LEN)) {
				*error = "Invalid identity: expected 1 to 256 printable characters";
				return -EINVAL;
			}
		} else {
			*error = "Unknown optional argument";
			return -EINVAL;
		}
		argc--;
	}
	return 0;
}

int rcache_parse_args(unsigned int argc, char **argv, struct rcache_args *args,
		      char **error)
{
	struct dm_arg_set as = { .argc = argc, .argv = argv };
	u32 block_sectors;

	memset(args, 0, sizeof(*args));
	args->daemon_timeout = RCACHE_DEFAULT_DAEMON_TIMEOUT;
	args->fill_timeout = RCACHE_DEFAULT_FILL_TIMEOUT;
	args->commit_ms = RCACHE_DEFAULT_COMMIT_MS;

	if (argc < 3) {
		*error = "Invalid number of arguments: need <cache_dev> <origin> <block_sectors>";
		return -EINVAL;
	}
	args->cache_path = dm_shift_arg(&as);
	args->origin = dm_shift_arg(&as);
	if (rcache_check_origin_url(args->origin, error))
		return -EINVAL;

	if (kstrtou32(dm_shift_arg(&as), 10, &block_sectors) ||
	    !is_power_of_2(block_sectors) ||
	    block_sectors < RCACHE_MIN_BLOCK_SECTORS ||
	    block_sectors > RCACHE_MAX_BLOCK_SECTORS) {
		*error = "Invalid block size: expected a power of two from 8 to 131072 sectors";
		return -EINVAL;
	}
	args->block_sectors = block_sectors;

	if (rcache_parse_opt_args(&as, args, error))
		return -EINVAL;
	if (as.argc) {
		*error = "Too many arguments after the optional argument group";
		return -EINVAL;
	}
	return 0;
}

/* "<begin>-<end>": a half-open range of sectors, begin < end. */
int rcache_parse_range(const char *arg, u64 *begin, u64 *end)
{
	char buf[48];
	char *dash;

	if (strscpy(buf, arg, sizeof(buf)) < 0)
		return -EINVAL;
	dash = strchr(buf, '-');
	if (!dash)
		return -EINVAL;
	*dash = '\0';
	if (kstrtou64(buf, 10, begin) || kstrtou64(dash + 1, 10, end) || *begin >= *end)
		return -EINVAL;
	return 0;
}
