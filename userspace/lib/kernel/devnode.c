// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "kernel/devnode.h"

static int open_checked(const char *path, dev_t dev, int flags)
{
	struct stat st;
	int fd = open(path, flags | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISBLK(st.st_mode) || st.st_rdev != dev) {
		close(fd);
		return -ENODEV;
	}
	return fd;
}

int rc_open_blockdev(dev_t dev, int flags, const char *private_dir,
		     struct rc_err *err)
{
	char path[512], line[256];
	FILE *f;
	int fd = -ENOENT;

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/uevent", major(dev), minor(dev));
	f = fopen(path, "re");
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			if (strncmp(line, "DEVNAME=", 8))
				continue;
			line[strcspn(line, "\n")] = '\0';
			snprintf(path, sizeof(path), "/dev/%s", line + 8);
			fd = open_checked(path, dev, flags);
			break;
		}
		fclose(f);
	}
	if (fd >= 0)
		return fd;
	if (private_dir) {
		snprintf(path, sizeof(path), "%s/blk-%u-%u", private_dir, major(dev), minor(dev));
		unlink(path);
		if (mknod(path, S_IFBLK | 0600, dev) == 0) {
			fd = open_checked(path, dev, flags);
			unlink(path);
			if (fd >= 0)
				return fd;
		} else {
			fd = -errno;
		}
	}
	return rc_errf(err, -fd, "block device %u:%u: cannot open: %s", major(dev), minor(dev),
		       strerror(-fd));
}
