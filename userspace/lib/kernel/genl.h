/* SPDX-License-Identifier: GPL-2.0-only */
/* The rcache generic netlink family, from userspace (libnl-genl). */
#ifndef RCACHE_GENL_H
#define RCACHE_GENL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"
#include "linux/dm-rcache.h"

struct nl_sock;
struct nl_msg;

struct rc_genl {
	struct nl_sock *sk;
	int family;
	int events_group;
	/*
	 * FETCH and EVENT messages that arrive while a request waits for its
	 * ack (the kernel sends FETCHes as soon as REGISTER is processed) go
	 * here instead of being lost.
	 */
	int (*unsolicited)(struct nl_msg *msg, void *arg);
	void *unsolicited_arg;
};

/* A device as GET_STATUS and EVENT describe it. */
struct rc_nl_device {
	uint64_t dev_id;
	dev_t dev;
	dev_t cache_dev;
	char name[128];
	char origin[RCACHE_MAX_ORIGIN_LEN + 1];
	char identity[RCACHE_MAX_IDENTITY_LEN + 1];
	uint32_t block_size;
	uint64_t origin_size;
	uint32_t state;
	char reason[RCACHE_MAX_REASON_LEN];
	uint32_t event;			/* EVENT only */
	uint64_t counters[__RCACHE_CTR_MAX];
};

/* A FETCH from the kernel. */
struct rc_nl_fetch {
	uint64_t dev_id;
	uint32_t req_id;
	uint64_t block;
	uint64_t origin_offset;
	uint32_t length;
	uint64_t cache_offset;
	uint32_t flags;
};

/* Connects and resolves the family; a clear error if the module is absent. */
int rc_genl_open(struct rc_genl *g, struct rc_err *err);
void rc_genl_close(struct rc_genl *g);
int rc_genl_fd(struct rc_genl *g);

/* Sends @cmd with the attributes @fill adds, waits for the ack. */
int rc_genl_request(struct rc_genl *g, uint8_t cmd,
		    int (*fill)(struct nl_msg *msg, void *arg), void *fill_arg,
		    int (*reply)(struct nl_msg *msg, void *arg), void *reply_arg,
		    bool dump, struct rc_err *err);

/* Makes @g the fill socket: FETCHes come to it from now on. */
int rc_genl_register(struct rc_genl *g, struct rc_err *err);
int rc_genl_get_device(struct rc_genl *g, uint64_t dev_id,
		       struct rc_nl_device *out, struct rc_err *err);
int rc_genl_get_device_by_name(struct rc_genl *g, const char *name,
			       struct rc_nl_device *out, struct rc_err *err);
int rc_genl_set_state(struct rc_genl *g, uint64_t dev_id, uint32_t state,
		      const char *reason, struct rc_err *err);
int rc_genl_subscribe_events(struct rc_genl *g, struct rc_err *err);

/*
 * Fill loop: FETCH_DONE for @fx (its request id, device and block) without
 * an ack (errors come back asynchronously); @flags: RCACHE_DONE_F_*.
 */
int rc_genl_fetch_done(struct rc_genl *g, const struct rc_nl_fetch *fx, int error,
		       uint32_t flags);

/* Parses a FETCH (returns 0) or an EVENT (returns 1) message; -1 otherwise. */
int rc_genl_parse(struct nl_msg *msg, struct rc_nl_fetch *fetch,
		  struct rc_nl_device *event);

#endif
