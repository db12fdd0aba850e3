/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Device-mapper control through libdevmapper (what dmsetup uses), with udev
 * synchronisation when udev runs and libdevmapper's own nodes when it does not.
 */
#ifndef RCACHE_DM_H
#define RCACHE_DM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"

/* A session with device-mapper (libdevmapper's state is per process). */
struct rc_dm {
	bool udev_sync;		/* udevd answers: wait for its rules' nodes */
};

/* A one-target table, as dmsetup prints it. */
struct rc_dm_table {
	uint64_t start, length;	/* sectors */
	char type[16];
	char *params;		/* malloc'd */
};

struct rc_dm_info {
	dev_t dev;
	int open_count;
	bool suspended;
	bool read_only;
	bool active;
	char uuid[129];
};

int rc_dm_open(struct rc_dm *dm, struct rc_err *err);
void rc_dm_close(struct rc_dm *dm);

/* Creates, loads and resumes; on any failure nothing is left behind. */
int rc_dm_create(struct rc_dm *dm, const char *name, const char *uuid,
		 const struct rc_dm_table *table, bool read_only, dev_t *dev,
		 struct rc_err *err);
int rc_dm_remove(struct rc_dm *dm, const char *name, struct rc_err *err);
/* Loads @table into the inactive slot and swaps it in (suspend, resume). */
int rc_dm_reload(struct rc_dm *dm, const char *name,
		 const struct rc_dm_table *table, struct rc_err *err);

/* STATUSTYPE_INFO (@table false) or STATUSTYPE_TABLE of a one-target device. */
int rc_dm_status(struct rc_dm *dm, const char *name, bool table,
		 struct rc_dm_table *out, struct rc_dm_info *info,
		 struct rc_err *err);
void rc_dm_table_free(struct rc_dm_table *t);

/* Calls @fn for every dm device; stops when it returns non-zero. */
int rc_dm_list(struct rc_dm *dm,
	       int (*fn)(const char *name, dev_t dev, void *arg), void *arg,
	       struct rc_err *err);

/* Sends "dmsetup message NAME 0 MSG"; *@reply (malloc'd) may be NULL. */
int rc_dm_message(struct rc_dm *dm, const char *name, const char *msg,
		  char **reply, struct rc_err *err);

/* /dev/mapper/NAME for @dev, made by libdevmapper when udev has not ("dmsetup mknodes"). */
int rc_dm_ensure_node(const char *name, dev_t dev, struct rc_err *err);
/* Removes a /dev/mapper/NAME whose device is gone. */
void rc_dm_remove_node(const char *name);

#endif
