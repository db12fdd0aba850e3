/* SPDX-License-Identifier: GPL-2.0-only */
/* Opening a block device by dev_t, with or without udev. */
#ifndef RCACHE_DEVNODE_H
#define RCACHE_DEVNODE_H

#include <sys/types.h>

#include "common/error.h"

/*
 * Opens @dev with @flags: through the devtmpfs node sysfs names, else through
 * a private node made (and removed again) in @private_dir.
 */
int rc_open_blockdev(dev_t dev, int flags, const char *private_dir,
		     struct rc_err *err);

#endif
