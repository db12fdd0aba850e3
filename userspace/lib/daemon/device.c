// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "daemon/device.h"
#include "origin/origin.h"
#include "origin/origin_secret.h"
#include "kernel/table.h"
#include "common/util.h"

int rc_cache_dev_probe(const char *path, dev_t *dev, uint64_t *bytes,
		       unsigned int *lbs, struct rc_err *err)
{
	struct stat st;
	int fd, ssz = 512;

	if (stat(path, &st))
		return rc_errf(err, errno, "cache device %s: %s", path, strerror(errno));
	if (!S_ISBLK(st.st_mode))
		return rc_errf(err, ENOTBLK, "cache device %s: not a block device", path);
	fd = open(path, O_RDONLY | O_EXCL | O_CLOEXEC);
	if (fd < 0) {
		if (errno == EBUSY)
			return rc_errf(err, EBUSY,
				       "cache device %s is in use (mounted, or held by another device)",
				       path);
		return rc_errf(err, errno, "cache device %s: %s", path, strerror(errno));
	}
	if (ioctl(fd, BLKGETSIZE64, bytes) || ioctl(fd, BLKSSZGET, &ssz)) {
		int e = errno;

		close(fd);
		return rc_errf(err, e, "cache device %s: cannot read its size: %s", path,
			       strerror(e));
	}
	close(fd);
	*dev = st.st_rdev;
	*lbs = ssz > 512 ? (unsigned int)ssz : 512;
	return 0;
}

static int create_stashed(struct rc_dm *dm, const struct rc_create_opts *o, uint64_t block,
			  const char *origin, dev_t *devp, struct rc_err *err);

int rc_device_create(struct rc_dm *dm, const struct rc_create_opts *o,
		     dev_t *devp, struct rc_err *err)
{
	uint64_t block = o->block_size ? o->block_size : RCACHE_DEFAULT_BLOCK_SECTORS * 512ULL;
	char origin[RCACHE_MAX_ORIGIN_LEN + 1];
	struct rc_dm_table cur = { 0 };
	bool stashed;
	int r;

	if (!o->name || !*o->name || strlen(o->name) >= 128 || strchr(o->name, '/'))
		return rc_errf(err, EINVAL, "invalid device name '%s'", o->name ? o->name : "");
	if (block < RCACHE_MIN_BLOCK_SECTORS * 512ULL || block > RCACHE_MAX_BLOCK_SECTORS * 512ULL ||
	    (block & (block - 1)))
		return rc_errf(err, EINVAL,
			       "block size %" PRIu64 ": must be a power of two from 4 KiB to 64 MiB",
			       block);
	/* keep a presigned URL's query out of the table: a file, referenced */
	r = rc_dm_status(dm, o->name, false, &cur, NULL, err);
	rc_dm_table_free(&cur);
	if (!r || r == -ENODATA)
		return rc_errf(err, EEXIST, "%s: a device of that name already exists", o->name);
	if (r != -ENXIO)
		return r;
	r = rc_secret_stash(o->origin, o->name, origin, sizeof(origin), &stashed, err);
	if (r)
		return r;
	r = create_stashed(dm, o, block, origin, devp, err);
	if (r && stashed)
		rc_secret_forget(o->name);
	return r;
}

/* The rest of create, with the origin as the table will hold it. */
static int create_stashed(struct rc_dm *dm, const struct rc_create_opts *o, uint64_t block,
			  const char *origin, dev_t *devp, struct rc_err *err)
{
	struct rc_origin_info info;
	struct rc_table t;
	struct rc_dm_table dt;
	uint64_t cache_bytes, nr_blocks, need, len;
	unsigned int lbs;
	char uuid[160], a[32], b[32], c[32], d[32];
	dev_t cache_dev, dev;
	int r;

	r = rc_origin_probe(origin, o->conf, &info, err);
	if (r)
		return r;
	r = rc_cache_dev_probe(o->cache, &cache_dev, &cache_bytes, &lbs, err);
	if (r)
		return r;
	/* a cache smaller than the origin evicts, but must hold 64 blocks */
	nr_blocks = (info.size + block - 1) / block;
	need = rcache_bytes_needed(nr_blocks < RCACHE_MIN_SLOTS ? nr_blocks : RCACHE_MIN_SLOTS,
				   (uint32_t)block);
	if (cache_bytes < need)
		return rc_errf(err, ENOSPC,
			       "cache device %s is too small: %s, needs at least %s (64 blocks of %s, or the whole %s origin)",
			       o->cache, rc_fmt_bytes(cache_bytes, a, sizeof(a)),
			       rc_fmt_bytes(need, b, sizeof(b)),
			       rc_fmt_bytes(block, c, sizeof(c)),
			       rc_fmt_bytes(info.size, d, sizeof(d)));

	memset(&t, 0, sizeof(t));
	snprintf(t.cache_dev, sizeof(t.cache_dev), "%u:%u", major(cache_dev), minor(cache_dev));
	snprintf(t.origin, sizeof(t.origin), "%s", origin);
	snprintf(t.identity, sizeof(t.identity), "%s", info.identity);
	t.block_sectors = block / 512;
	t.daemon_timeout = o->daemon_timeout;
	t.fill_timeout = o->fill_timeout;
	t.fail_fast = o->fail_fast;
	t.origin_size = info.size;
	t.reset = o->reset;
	t.no_prefetch = o->no_prefetch;
	t.prefetch_window = o->prefetch_window;
	t.prefetch_budget = o->prefetch_budget;
	if (o->commit_ms >= 0) {
		t.commit_ms_set = true;
		t.commit_ms = o->commit_ms;
	}

	/* The tail past the origin's end reads as zeros up to a whole sector. */
	len = (info.size + lbs - 1) / lbs * lbs;
	dt.start = 0;
	dt.length = len / 512;
	snprintf(dt.type, sizeof(dt.type), "%s", RCACHE_TARGET_NAME);
	dt.params = rc_table_format(&t);
	if (!dt.params)
		return rc_errf(err, ENOMEM, "out of memory");
	snprintf(uuid, sizeof(uuid), "%s%s%s", RC_DM_UUID_PREFIX, o->name,
		 o->uuid_suffix ? o->uuid_suffix : "");
	r = rc_dm_create(dm, o->name, uuid, &dt, true, &dev, err);
	free(dt.params);
	if (r)
		return r;
	r = rc_dm_ensure_node(o->name, dev, err);
	if (r)
		return r;
	if (devp)
		*devp = dev;
	return 0;
}

int rc_device_remove(struct rc_dm *dm, const char *name, struct rc_err *err)
{
	int r = rc_dm_remove(dm, name, err);

	if (!r)
		rc_secret_forget(name);
	return r;
}
