/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What rcache-device-plugin makes of rcached's report (devices.json): the
 * devices, their health and NUMA node, and the kubelet-facing names
 * (resource rcache.io/<name>, device IDs <name>-<i>, at most 63 characters).
 * No gRPC in here, so the unit tests can use it.
 */
#ifndef RCACHE_DPMODEL_H
#define RCACHE_DPMODEL_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define DP_RESOURCE_PREFIX "rcache.io/"
#define DP_MAX_ID 63

struct dp_dev {
	char name[128];
	char host_path[256];		/* /dev/mapper/<name> */
	bool healthy;			/* mode ready, daemon connected */
	char why[512];			/* when not healthy */
	int numa_node;			/* -1: unknown */
	int nr_gpus;			/* GPUs on that NUMA node */
	unsigned int replicas;		/* from the report; 0: not given */
};

struct dp_report {
	bool alive;			/* false once rcached said it exits */
	double updated;			/* CLOCK_REALTIME seconds */
	int pid;
	struct dp_dev *v;
	int n;
};

int dp_report_parse(const char *text, struct dp_report *r, struct rc_err *err);
int dp_report_load(const char *path, struct dp_report *r, struct rc_err *err);
void dp_report_free(struct dp_report *r);
/* Alive and updated within @stale_after seconds of @now. */
bool dp_report_fresh(const struct dp_report *r, double now, double stale_after);

/* The name part of a Kubernetes resource name: [A-Za-z0-9]([-._A-Za-z0-9]*[A-Za-z0-9])?, <= 63. */
bool dp_name_ok(const char *name);
/* "<name>-<i>"; a long name is cut and given a hash so the ID stays <= 63 and unique. */
void dp_device_id(const char *name, unsigned int i, char *out, size_t len);

/*
 * The plugin's socket in @dir: "rcache-<name>.sock", or, when that path would
 * not fit a unix socket address (DP_MAX_SOCK_PATH), the name cut and given a
 * hash, as long as @dir leaves room for one.
 */
#define DP_SOCK_PREFIX "rcache-"
#define DP_MAX_SOCK_PATH 107
void dp_socket_name(const char *dir, const char *name, char *out, size_t len);

/*
 * GetPreferredAllocation for one container: the must-include IDs, then the
 * other available ones ranked by @rank (lower first; ties keep their order),
 * @size in all.  Returns the count written to @out (pointers into the inputs).
 */
size_t dp_preferred(const char *const *avail, size_t navail, const char *const *must,
		    size_t nmust, size_t size, long (*rank)(const char *id, void *arg),
		    void *arg, const char **out);

#endif
