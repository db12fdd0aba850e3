/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What rcache-device-plugin makes of rcached's report (devices.json): the
 * devices, their health and NUMA node, and the kubelet-facing names
 * (resource rcache.io/<resource>, device IDs <device name>-<i>, at most 63
 * characters), and how GetPreferredAllocation ranks them.  A resource is
 * one device, or several copies of one dataset (the [device] key
 * "resource"), typically one per NUMA node.  No gRPC in here, so the unit
 * tests can use it.
 */
#ifndef RCACHE_DPMODEL_H
#define RCACHE_DPMODEL_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "linux/dm-rcache.h"

#define DP_RESOURCE_PREFIX "rcache.io/"
#define DP_MAX_ID 63
/* the most replicas a device may ask for in the report: rcached's cap (RC_DECL_MAX_REPLICAS) */
#define DP_MAX_REPLICAS 1024

struct dp_dev {
	char name[128];
	char resource[128];		/* the resource it serves; default: name */
	char origin[RCACHE_MAX_ORIGIN_LEN + 1];
	bool owned;			/* rcached made it from its config */
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

/*
 * devices.json, read with common/json.h's rules.  Entries of "devices" that
 * are no object or have no "name" are skipped; a member the plugin uses that
 * has the wrong type or is out of range (replicas above DP_MAX_REPLICAS) is
 * an error naming the device.  Counters it does not use are not read.
 */
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
 * Where one replica (device ID) sits, for GetPreferredAllocation.  The
 * replicas of one device are interchangeable; devices of one resource
 * differ in NUMA node, and so in which GPUs read them locally.
 */
struct dp_place {
	int member;			/* which device of the resource */
	int numa_node;			/* that device's; -1: unknown */
	bool gpus;			/* GPUs on that NUMA node */
	unsigned long handed_out;	/* Allocate count of this replica */
	unsigned int order;		/* its place in the resource's list */
};

/*
 * The rank of @p as the next ID for a container that already has @anchor
 * (NULL: none yet); lower is better.  First the anchor's own device (a
 * container gets one device node), then another device on the anchor's NUMA
 * node, then a device on a NUMA node with GPUs, then the rest; within each,
 * the replica handed out least, then the list order.
 */
long dp_rank(const struct dp_place *p, const struct dp_place *anchor);

/*
 * GetPreferredAllocation for one container: the must-include IDs, then the
 * other available ones ranked by @rank (lower first; ties keep their order),
 * @size in all.  @rank sees the first ID chosen so far as @anchor (NULL
 * while none is).  Returns the count written to @out (pointers into the
 * inputs).
 */
size_t dp_preferred(const char *const *avail, size_t navail, const char *const *must,
		    size_t nmust, size_t size,
		    long (*rank)(const char *id, const char *anchor, void *arg),
		    void *arg, const char **out);

#endif
