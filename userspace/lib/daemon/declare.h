/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Declarative devices: [device NAME] sections of rcached.conf.
 *
 *   [device imagenet]
 *   origin = s3://datasets/imagenet.ext4
 *   cache = /dev/nvme1n1
 *   block_size = 1M            daemon_timeout = 30     fail_fast = false
 *   commit_interval = 1000     replicas = 8 (read by rcache-device-plugin)
 *   resource = imagenet        (rcache-device-plugin: serve it as
 *                               rcache.io/imagenet, with every other device
 *                               naming that resource; default: its own name)
 *
 * Devices of one resource are copies of one dataset, typically one per NUMA
 * node: their origins must be the same object.
 * rcached creates the ones that are missing (at start and on SIGHUP), and
 * owns what it created: their dm uuid is RCACHE-<name>.declared.  A device
 * it does not own is never touched, even when its name is declared; an
 * owned device that left the config is removed once nothing holds it open.
 * A live device is never re-created (a running container pins its
 * major:minor): one whose table differs from the config is reported.
 */
#ifndef RCACHE_DECLARE_H
#define RCACHE_DECLARE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "common/ini.h"
#include "linux/dm-rcache.h"

#define RC_DECL_UUID_SUFFIX ".declared"
#define RC_DECL_DEFAULT_REPLICAS 8
#define RC_DECL_MAX_REPLICAS 1024

struct rc_decl {
	char name[128];
	char origin[RCACHE_MAX_ORIGIN_LEN + 1];
	char cache[256];
	uint64_t block_size;		/* 0: default */
	uint32_t daemon_timeout;	/* 0: kernel default */
	bool fail_fast;
	int commit_ms;			/* -1: kernel default */
	unsigned int replicas;		/* 0: not given */
	char resource[64];		/* "": the device's own name */
	int line;
	char error[512];		/* a bad section: why (it is not created) */
};

struct rc_decls {
	struct rc_decl *v;
	int n;
};

enum rc_decl_state {
	RC_DECL_CREATED,		/* made now */
	RC_DECL_PRESENT,		/* already there, ours */
	RC_DECL_FAILED,			/* could not be created: reason */
	RC_DECL_REMOVED,		/* ours, no longer declared: removed */
	RC_DECL_KEPT,			/* ours, no longer declared, still open */
};

struct rc_decl_result {
	char name[128];
	enum rc_decl_state state;
	char reason[1024];
};

struct rc_decl_results {
	struct rc_decl_result *v;
	int n;
};

/* Every [device NAME] section of @ini; a bad one gets ->error, not a failure. */
int rc_decl_parse(const struct rc_ini *ini, struct rc_decls *out, struct rc_err *err);
void rc_decls_free(struct rc_decls *ds);
const struct rc_decl *rc_decl_find(const struct rc_decls *ds, const char *name);
/* The plugin's resource name part of @d: its resource, else its name. */
const char *rc_decl_resource(const struct rc_decl *d);
/* "RCACHE-<name>.declared" */
void rc_decl_uuid(const char *name, char *out, size_t len);
bool rc_decl_owned(const char *name, const char *uuid);

/*
 * Brings the devices in line with @ds: creates the missing ones, removes
 * owned ones that are no longer declared (when not open), and says what it
 * did in @res (one entry per declared or removed device), logging one line
 * for each failure.  @conf: for S3 settings.  Blocking (origin probes).
 */
int rc_decl_apply(const struct rc_decls *ds, const struct rc_ini *conf,
		  struct rc_decl_results *res, struct rc_err *err);
void rc_decl_results_free(struct rc_decl_results *res);
const char *rc_decl_state_name(enum rc_decl_state s);

#endif
