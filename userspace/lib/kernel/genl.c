// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <linux/netlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "kernel/genl.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

static struct nla_policy device_policy[RCACHE_ATTR_MAX + 1] = {
	[RCACHE_ATTR_DEV_ID] = { .type = NLA_U64 },
	[RCACHE_ATTR_DEV] = { .type = NLA_U32 },
	[RCACHE_ATTR_REQ_ID] = { .type = NLA_U32 },
	[RCACHE_ATTR_BLOCK] = { .type = NLA_U64 },
	[RCACHE_ATTR_ORIGIN_OFFSET] = { .type = NLA_U64 },
	[RCACHE_ATTR_LENGTH] = { .type = NLA_U32 },
	[RCACHE_ATTR_CACHE_OFFSET] = { .type = NLA_U64 },
	[RCACHE_ATTR_FLAGS] = { .type = NLA_U32 },
	[RCACHE_ATTR_NAME] = { .type = NLA_STRING },
	[RCACHE_ATTR_ORIGIN] = { .type = NLA_STRING },
	[RCACHE_ATTR_CACHE_DEV] = { .type = NLA_U32 },
	[RCACHE_ATTR_BLOCK_SIZE] = { .type = NLA_U32 },
	[RCACHE_ATTR_ORIGIN_SIZE] = { .type = NLA_U64 },
	[RCACHE_ATTR_IDENTITY] = { .type = NLA_STRING },
	[RCACHE_ATTR_STATE] = { .type = NLA_U32 },
	[RCACHE_ATTR_REASON] = { .type = NLA_STRING },
	[RCACHE_ATTR_EVENT_TYPE] = { .type = NLA_U32 },
	[RCACHE_ATTR_COUNTERS] = { .type = NLA_NESTED },
};

static int nl_errno(int nlerr)
{
	switch (-nlerr) {
	case NLE_PERM: return EPERM;
	case NLE_NOMEM: return ENOMEM;
	case NLE_OBJ_NOTFOUND: return ENOENT;
	case NLE_BUSY: return EBUSY;
	case NLE_NODEV: return ENODEV;
	case NLE_AGAIN: return EAGAIN;
	case NLE_INVAL: return EINVAL;
	default: return EIO;
	}
}

/*
 * 1 when this process's network namespace is not PID 1's, 0 when it is,
 * -1 when that cannot be told (no /proc, or PID 1's is not ours to see).
 */
static int other_netns(void)
{
	struct stat self, init;

	if (stat("/proc/self/ns/net", &self) || stat("/proc/1/ns/net", &init))
		return -1;
	return self.st_ino != init.st_ino || self.st_dev != init.st_dev;
}

/*
 * The family is registered in the initial network namespace only: when
 * the module is loaded and the family is not found, or our namespace is
 * not the host's, we run in another one (a container without the host's
 * network).
 */
static int family_missing(struct rc_err *err)
{
	bool loaded = access("/sys/module/dm_rcache", F_OK) == 0;

	if (loaded || other_netns() == 1)
		return rc_errf(err, ENOENT,
			       "netlink family '%s' not found%s: this process runs in a network namespace other than the host's, and dm-rcache answers only in the host's (run it in the host's network namespace; Kubernetes: hostNetwork: true)",
			       RCACHE_GENL_NAME, loaded ? " although dm-rcache is loaded" : "");
	return rc_errf(err, ENOENT,
		       "netlink family '%s' not found: the dm-rcache module is not loaded (modprobe dm-rcache)",
		       RCACHE_GENL_NAME);
}

int rc_genl_open(struct rc_genl *g, struct rc_err *err)
{
	int one = 1, r;

	memset(g, 0, sizeof(*g));
	g->sk = nl_socket_alloc();
	if (!g->sk)
		return rc_errf(err, ENOMEM, "netlink: out of memory");
	r = genl_connect(g->sk);
	if (r < 0) {
		rc_genl_close(g);
		return rc_errf(err, nl_errno(r), "netlink: connect: %s", nl_geterror(r));
	}
	/* Requests ask for their ack themselves; FETCH_DONE goes without one. */
	nl_socket_disable_auto_ack(g->sk);
	/* Reasons for errors (extack), without the echoed request. */
	setsockopt(nl_socket_get_fd(g->sk), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(nl_socket_get_fd(g->sk), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	g->family = genl_ctrl_resolve(g->sk, RCACHE_GENL_NAME);
	if (g->family < 0) {
		rc_genl_close(g);
		return family_missing(err);
	}
	g->events_group = genl_ctrl_resolve_grp(g->sk, RCACHE_GENL_NAME,
						RCACHE_GENL_MCGRP_EVENTS);
	return 0;
}

void rc_genl_close(struct rc_genl *g)
{
	if (g->sk)
		nl_socket_free(g->sk);
	g->sk = NULL;
}

int rc_genl_fd(struct rc_genl *g)
{
	return nl_socket_get_fd(g->sk);
}

struct request_state {
	struct rc_genl *g;
	int done;
	int error;
	char reason[256];
	int (*reply)(struct nl_msg *msg, void *arg);
	void *reply_arg;
};

static int on_valid(struct nl_msg *msg, void *arg)
{
	struct request_state *st = arg;
	struct genlmsghdr *gh = nlmsg_data(nlmsg_hdr(msg));

	if (gh->cmd == RCACHE_CMD_FETCH || gh->cmd == RCACHE_CMD_EVENT) {
		if (st->g->unsolicited)
			st->g->unsolicited(msg, st->g->unsolicited_arg);
		return NL_OK;
	}
	if (st->reply)
		st->reply(msg, st->reply_arg);
	return NL_OK;
}

static int on_finish(struct nl_msg *msg, void *arg)
{
	struct request_state *st = arg;

	(void)msg;
	st->done = 1;
	return NL_STOP;
}

/* Picks the kernel's reason (NLMSGERR_ATTR_MSG) out of an error ack. */
static void ack_reason(struct nlmsgerr *e, char *out, size_t outlen)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)e - 1;
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
	size_t off = sizeof(*e);
	struct nlattr *attrs;
	int len;

	out[0] = '\0';
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
	len = (int)nlh->nlmsg_len - (int)NLMSG_HDRLEN - (int)off;
	if (len <= 0)
		return;
	attrs = (struct nlattr *)((char *)e + off);
	if (nla_parse(tb, NLMSGERR_ATTR_MAX, attrs, len, NULL) < 0)
		return;
	if (tb[NLMSGERR_ATTR_MSG])
		snprintf(out, outlen, "%s", (char *)nla_data(tb[NLMSGERR_ATTR_MSG]));
}

static int on_error(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	struct request_state *st = arg;

	(void)nla;
	st->error = e->error;
	ack_reason(e, st->reason, sizeof(st->reason));
	st->done = 1;
	return NL_STOP;
}

static int on_ack(struct nl_msg *msg, void *arg)
{
	struct request_state *st = arg;

	(void)msg;
	st->done = 1;
	return NL_STOP;
}

static const char *cmd_name(uint8_t cmd)
{
	switch (cmd) {
	case RCACHE_CMD_REGISTER: return "REGISTER";
	case RCACHE_CMD_UNREGISTER: return "UNREGISTER";
	case RCACHE_CMD_FETCH_DONE: return "FETCH_DONE";
	case RCACHE_CMD_GET_STATUS: return "GET_STATUS";
	case RCACHE_CMD_SET_STATE: return "SET_STATE";
	default: return "command";
	}
}

int rc_genl_request(struct rc_genl *g, uint8_t cmd,
		    int (*fill)(struct nl_msg *msg, void *arg), void *fill_arg,
		    int (*reply)(struct nl_msg *msg, void *arg), void *reply_arg,
		    bool dump, struct rc_err *err)
{
	struct request_state st = { .g = g, .reply = reply, .reply_arg = reply_arg };
	struct nl_msg *msg = nlmsg_alloc();
	struct nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);
	int r = -ENOMEM;

	if (!msg || !cb)
		goto out;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, g->family, 0,
			 NLM_F_ACK | (dump ? NLM_F_DUMP : 0), cmd, RCACHE_GENL_VERSION))
		goto out;
	if (fill && fill(msg, fill_arg) < 0) {
		r = -EMSGSIZE;
		goto out;
	}
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_valid, &st);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, on_finish, &st);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, on_ack, &st);
	nl_cb_err(cb, NL_CB_CUSTOM, on_error, &st);
	r = nl_send_auto(g->sk, msg);
	if (r < 0) {
		r = -nl_errno(r);
		goto out;
	}
	while (!st.done) {
		r = nl_recvmsgs(g->sk, cb);
		if (r < 0 && r != -NLE_AGAIN && !st.done) {
			r = -nl_errno(r);
			goto out;
		}
	}
	r = st.error;
out:
	nlmsg_free(msg);
	nl_cb_put(cb);
	if (r < 0) {
		if (r == -EPERM)
			return rc_errf(err, EPERM,
				       "rcache netlink %s: permission denied (CAP_SYS_ADMIN required)",
				       cmd_name(cmd));
		return rc_errf(err, -r, "rcache netlink %s: %s%s%s", cmd_name(cmd),
			       strerror(-r), st.reason[0] ? ": " : "", st.reason);
	}
	return 0;
}

static int fill_register(struct nl_msg *msg, void *arg)
{
	(void)arg;
	return nla_put_u32(msg, RCACHE_ATTR_PROTO_VERSION, RCACHE_GENL_VERSION);
}

int rc_genl_register(struct rc_genl *g, struct rc_err *err)
{
	/* Kernel-initiated messages carry sequence number 0. */
	nl_socket_disable_seq_check(g->sk);
	return rc_genl_request(g, RCACHE_CMD_REGISTER, fill_register, NULL,
			       NULL, NULL, false, err);
}

static void parse_device(struct nlattr **tb, struct rc_nl_device *d)
{
	memset(d, 0, sizeof(*d));
	if (tb[RCACHE_ATTR_DEV_ID])
		d->dev_id = nla_get_u64(tb[RCACHE_ATTR_DEV_ID]);
	if (tb[RCACHE_ATTR_DEV]) {
		uint32_t v = nla_get_u32(tb[RCACHE_ATTR_DEV]);

		d->dev = makedev((v & 0xfff00) >> 8, (v & 0xff) | ((v >> 12) & 0xfff00));
	}
	if (tb[RCACHE_ATTR_CACHE_DEV]) {
		uint32_t v = nla_get_u32(tb[RCACHE_ATTR_CACHE_DEV]);

		d->cache_dev = makedev((v & 0xfff00) >> 8, (v & 0xff) | ((v >> 12) & 0xfff00));
	}
	if (tb[RCACHE_ATTR_NAME])
		snprintf(d->name, sizeof(d->name), "%s", nla_get_string(tb[RCACHE_ATTR_NAME]));
	if (tb[RCACHE_ATTR_ORIGIN])
		snprintf(d->origin, sizeof(d->origin), "%s", nla_get_string(tb[RCACHE_ATTR_ORIGIN]));
	if (tb[RCACHE_ATTR_IDENTITY])
		snprintf(d->identity, sizeof(d->identity), "%s",
			 nla_get_string(tb[RCACHE_ATTR_IDENTITY]));
	if (tb[RCACHE_ATTR_BLOCK_SIZE])
		d->block_size = nla_get_u32(tb[RCACHE_ATTR_BLOCK_SIZE]);
	if (tb[RCACHE_ATTR_ORIGIN_SIZE])
		d->origin_size = nla_get_u64(tb[RCACHE_ATTR_ORIGIN_SIZE]);
	if (tb[RCACHE_ATTR_STATE])
		d->state = nla_get_u32(tb[RCACHE_ATTR_STATE]);
	if (tb[RCACHE_ATTR_REASON])
		snprintf(d->reason, sizeof(d->reason), "%s", nla_get_string(tb[RCACHE_ATTR_REASON]));
	if (tb[RCACHE_ATTR_EVENT_TYPE])
		d->event = nla_get_u32(tb[RCACHE_ATTR_EVENT_TYPE]);
	if (tb[RCACHE_ATTR_COUNTERS]) {
		struct nlattr *c;
		int rem;

		nla_for_each_nested(c, tb[RCACHE_ATTR_COUNTERS], rem) {
			int type = nla_type(c);

			if (type > 0 && type < __RCACHE_CTR_MAX && nla_len(c) == 8)
				d->counters[type] = nla_get_u64(c);
		}
	}
}

int rc_genl_parse(struct nl_msg *msg, struct rc_nl_fetch *fetch,
		  struct rc_nl_device *event)
{
	struct nlattr *tb[RCACHE_ATTR_MAX + 1];
	struct genlmsghdr *gh = nlmsg_data(nlmsg_hdr(msg));

	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, RCACHE_ATTR_MAX, device_policy) < 0)
		return -1;
	if (gh->cmd == RCACHE_CMD_FETCH) {
		if (!tb[RCACHE_ATTR_DEV_ID] || !tb[RCACHE_ATTR_REQ_ID] || !tb[RCACHE_ATTR_BLOCK] ||
		    !tb[RCACHE_ATTR_ORIGIN_OFFSET] || !tb[RCACHE_ATTR_LENGTH] ||
		    !tb[RCACHE_ATTR_CACHE_OFFSET])
			return -1;
		fetch->dev_id = nla_get_u64(tb[RCACHE_ATTR_DEV_ID]);
		fetch->req_id = nla_get_u32(tb[RCACHE_ATTR_REQ_ID]);
		fetch->block = nla_get_u64(tb[RCACHE_ATTR_BLOCK]);
		fetch->origin_offset = nla_get_u64(tb[RCACHE_ATTR_ORIGIN_OFFSET]);
		fetch->length = nla_get_u32(tb[RCACHE_ATTR_LENGTH]);
		fetch->cache_offset = nla_get_u64(tb[RCACHE_ATTR_CACHE_OFFSET]);
		fetch->flags = tb[RCACHE_ATTR_FLAGS] ? nla_get_u32(tb[RCACHE_ATTR_FLAGS]) : 0;
		return 0;
	}
	if (gh->cmd == RCACHE_CMD_EVENT || gh->cmd == RCACHE_CMD_GET_STATUS) {
		parse_device(tb, event);
		return 1;
	}
	return -1;
}

static int device_reply(struct nl_msg *msg, void *arg)
{
	struct rc_nl_fetch unused;

	rc_genl_parse(msg, &unused, arg);
	return NL_OK;
}

static int fill_dev_id(struct nl_msg *msg, void *arg)
{
	return nla_put_u64(msg, RCACHE_ATTR_DEV_ID, *(uint64_t *)arg);
}

int rc_genl_get_device(struct rc_genl *g, uint64_t dev_id,
		       struct rc_nl_device *out, struct rc_err *err)
{
	memset(out, 0, sizeof(*out));
	return rc_genl_request(g, RCACHE_CMD_GET_STATUS, fill_dev_id, &dev_id,
			       device_reply, out, false, err);
}

static int fill_name(struct nl_msg *msg, void *arg)
{
	return nla_put_string(msg, RCACHE_ATTR_NAME, arg);
}

int rc_genl_get_device_by_name(struct rc_genl *g, const char *name,
			       struct rc_nl_device *out, struct rc_err *err)
{
	memset(out, 0, sizeof(*out));
	return rc_genl_request(g, RCACHE_CMD_GET_STATUS, fill_name, (void *)name,
			       device_reply, out, false, err);
}

struct set_state_args {
	uint64_t dev_id;
	uint32_t state;
	const char *reason;
};

static int fill_set_state(struct nl_msg *msg, void *arg)
{
	struct set_state_args *a = arg;

	if (nla_put_u64(msg, RCACHE_ATTR_DEV_ID, a->dev_id) ||
	    nla_put_u32(msg, RCACHE_ATTR_STATE, a->state))
		return -1;
	if (a->reason && nla_put_string(msg, RCACHE_ATTR_REASON, a->reason))
		return -1;
	return 0;
}

int rc_genl_set_state(struct rc_genl *g, uint64_t dev_id, uint32_t state,
		      const char *reason, struct rc_err *err)
{
	struct set_state_args a = { dev_id, state, reason };

	return rc_genl_request(g, RCACHE_CMD_SET_STATE, fill_set_state, &a,
			       NULL, NULL, false, err);
}

int rc_genl_subscribe_events(struct rc_genl *g, struct rc_err *err)
{
	int r;

	if (g->events_group < 0)
		return rc_errf(err, ENOENT, "rcache netlink: no events group");
	r = nl_socket_add_membership(g->sk, g->events_group);
	if (r < 0)
		return rc_errf(err, nl_errno(r), "rcache netlink: join events group: %s",
			       nl_geterror(r));
	return 0;
}

int rc_genl_fetch_done(struct rc_genl *g, const struct rc_nl_fetch *fx, int error,
		       uint32_t flags)
{
	struct nl_msg *msg = nlmsg_alloc_size(128);
	int r = -ENOMEM;

	if (!msg)
		return r;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, g->family, 0, 0,
			 RCACHE_CMD_FETCH_DONE, RCACHE_GENL_VERSION) ||
	    nla_put_u32(msg, RCACHE_ATTR_REQ_ID, fx->req_id) ||
	    nla_put_u64(msg, RCACHE_ATTR_DEV_ID, fx->dev_id) ||
	    nla_put_u64(msg, RCACHE_ATTR_BLOCK, fx->block) ||
	    nla_put_u32(msg, RCACHE_ATTR_ERRNO, error < 0 ? -error : error) ||
	    (flags && nla_put_u32(msg, RCACHE_ATTR_FLAGS, flags))) {
		r = -EMSGSIZE;
		goto out;
	}
	r = nl_send_auto(g->sk, msg);
	r = r < 0 ? -nl_errno(r) : 0;
out:
	nlmsg_free(msg);
	return r;
}
