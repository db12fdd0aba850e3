// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "origin/aws.h"
#include "origin/http.h"
#include "origin/origin.h"

int rc_statx_identity(const struct statx *stx, int fd, uint64_t *size, char *out,
		      size_t outlen)
{
	if (S_ISBLK(stx->stx_mode)) {
		/* a local block device: the ioctl does not wait on a server */
		if (ioctl(fd, BLKGETSIZE64, size))
			return -errno;
		snprintf(out, outlen, "size=%" PRIu64 ",dev=%u:%u", *size,
			 stx->stx_rdev_major, stx->stx_rdev_minor);
		return 0;
	}
	if (!S_ISREG(stx->stx_mode))
		return -EINVAL;
	*size = stx->stx_size;
	snprintf(out, outlen, "size=%" PRIu64 ",mtime=%lld.%09u,ino=%" PRIu64,
		 (uint64_t)stx->stx_size, (long long)stx->stx_mtime.tv_sec,
		 stx->stx_mtime.tv_nsec, (uint64_t)stx->stx_ino);
	return 0;
}

int rc_fd_identity(int fd, uint64_t *size, char *out, size_t outlen)
{
	struct statx stx;

	if (statx(fd, "", AT_EMPTY_PATH, RC_IDENTITY_STATX_MASK, &stx))
		return -errno;
	return rc_statx_identity(&stx, fd, size, out, outlen);
}

static int probe_file(const char *url, const struct rc_url *u,
		      struct rc_origin_info *info, struct rc_err *err)
{
	int fd = open(u->path, O_RDONLY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return rc_errf(err, errno, "origin %s: %s", url, strerror(errno));
	r = rc_fd_identity(fd, &info->size, info->identity, sizeof(info->identity));
	close(fd);
	if (r == -EINVAL)
		return rc_errf(err, EINVAL, "origin %s: not a regular file or block device", url);
	if (r)
		return rc_errf(err, -r, "origin %s: stat: %s", url, strerror(-r));
	if (info->size == 0)
		return rc_errf(err, EINVAL, "origin %s: is empty", url);
	return 0;
}

static int probe_http(const char *url, const struct rc_url *u, const struct rc_ini *conf,
		      struct rc_origin_info *info, struct rc_err *err)
{
	struct rc_http_policy pol;
	struct rc_http_object obj;
	struct rc_aws aws;
	int r;

	rc_http_policy_load(&pol, conf);
	if (u->kind == RC_ORIGIN_S3) {
		r = rc_aws_load(&aws, conf, err);
		if (!r)
			r = rc_aws_refresh(&aws, false, err);	/* web identity: STS */
		if (r) {
			rc_aws_clear(&aws);
			return rc_err_prefix(err, "origin %s", url);
		}
	}
	r = rc_http_probe(url, u, u->kind == RC_ORIGIN_S3 ? &aws : NULL, &pol, &obj, err);
	if (u->kind == RC_ORIGIN_S3)
		rc_aws_clear(&aws);
	if (r)
		return r;
	info->size = obj.size;
	rc_http_identity(obj.size, obj.etag, obj.mtime, info->identity, sizeof(info->identity));
	return 0;
}

int rc_origin_probe(const char *url, const struct rc_ini *conf,
		    struct rc_origin_info *info, struct rc_err *err)
{
	struct rc_url u;

	memset(info, 0, sizeof(*info));
	if (rc_url_parse(url, &u, err))
		return -EINVAL;
	switch (u.kind) {
	case RC_ORIGIN_FILE:
		return probe_file(url, &u, info, err);
	case RC_ORIGIN_S3:
	case RC_ORIGIN_HTTP:
		return probe_http(url, &u, conf, info, err);
	}
	return rc_errf(err, EINVAL, "origin %s: unsupported", url);
}
