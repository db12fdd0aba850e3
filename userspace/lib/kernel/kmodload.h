/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Loading dm-rcache on demand, through libkmod, the way modprobe loads a
 * module: dependencies (dm-mod) first, "options" and "install" lines from
 * modprobe.d applied.  Automatic loading respects the blacklist as
 * "modprobe -b" does: a blacklisted dm-rcache is left alone (an explicit
 * "modprobe dm-rcache" still loads it).
 */
#ifndef RCACHE_KMODLOAD_H
#define RCACHE_KMODLOAD_H

#include <stddef.h>

#include "common/error.h"

#define RC_KMOD_NAME "dm-rcache"

enum {
	RC_KMOD_WAS_LOADED = 0,	/* loaded (or built in) already */
	RC_KMOD_LOADED = 1,	/* this call loaded it */
};

/*
 * Makes sure dm-rcache is loaded.  Returns RC_KMOD_WAS_LOADED or
 * RC_KMOD_LOADED (then @path, when not NULL, names the file loaded), or
 * -errno with a one-line message in @err: not installed for the running
 * kernel, blacklisted, refused by the kernel (Secure Boot) and so on.
 */
int rc_kmod_load(char *path, size_t path_size, struct rc_err *err);

#endif
