/* SPDX-License-Identifier: GPL-2.0-only */
/* Origin URLs: file:///abs/path (local, NFS, CephFS). */
#ifndef RCACHE_URL_H
#define RCACHE_URL_H

#include <limits.h>

#include "error.h"

enum rc_origin_kind {
	RC_ORIGIN_FILE,
};

struct rc_url {
	enum rc_origin_kind kind;
	char path[PATH_MAX];	/* file: decoded absolute path */
};

int rc_url_parse(const char *url, struct rc_url *out, struct rc_err *err);

#endif
