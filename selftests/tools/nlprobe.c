// SPDX-License-Identifier: GPL-2.0-only
/*
 * nlprobe - talks to the rcache netlink family the way a misbehaving or
 * unprivileged client would, for the VM tests.
 *
 *   nlprobe perm                 every command; prints "CMD errno"; exit 0
 *                                when each one was refused with EPERM
 *   nlprobe reply REQ_ID ERRNO   a FETCH_DONE from a process that is not the
 *                                registered daemon; prints the errno
 *   nlprobe fake-daemon MODE N   registers and handles N FETCHes:
 *        eio    answers ERRNO=EIO, then the same id again and an unknown id
 *        drop   answers nothing and exits (the kernel must re-send)
 */
#include <errno.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/genl.h"

static int fill_all(struct nl_msg *msg, void *arg)
{
	(void)arg;
	return nla_put_u32(msg, RCACHE_ATTR_PROTO_VERSION, RCACHE_GENL_VERSION) ||
	       nla_put_u64(msg, RCACHE_ATTR_DEV_ID, 1) ||
	       nla_put_u32(msg, RCACHE_ATTR_REQ_ID, 1) ||
	       nla_put_u32(msg, RCACHE_ATTR_ERRNO, 0) ||
	       nla_put_u32(msg, RCACHE_ATTR_STATE, 0);
}

static int probe_perm(void)
{
	static const struct { const char *name; uint8_t cmd; int dump; } cmds[] = {
		{ "REGISTER", RCACHE_CMD_REGISTER, 0 },
		{ "UNREGISTER", RCACHE_CMD_UNREGISTER, 0 },
		{ "FETCH_DONE", RCACHE_CMD_FETCH_DONE, 0 },
		{ "GET_STATUS", RCACHE_CMD_GET_STATUS, 0 },
		{ "GET_STATUS_DUMP", RCACHE_CMD_GET_STATUS, 1 },
		{ "SET_STATE", RCACHE_CMD_SET_STATE, 0 },
	};
	struct rc_genl g;
	struct rc_err err;
	size_t i;
	int ok = 1;

	if (rc_genl_open(&g, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return 2;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		int r = rc_genl_request(&g, cmds[i].cmd, fill_all, NULL, NULL, NULL,
					cmds[i].dump, &err);

		printf("%s %d\n", cmds[i].name, r ? err.code : 0);
		if (!r || err.code != EPERM)
			ok = 0;
	}
	rc_genl_close(&g);
	return ok ? 0 : 1;
}

struct reply_args {
	uint32_t req_id, err;
};

static int fill_reply(struct nl_msg *msg, void *arg)
{
	struct reply_args *a = arg;

	return nla_put_u32(msg, RCACHE_ATTR_REQ_ID, a->req_id) ||
	       nla_put_u32(msg, RCACHE_ATTR_ERRNO, a->err);
}

static int send_reply(struct rc_genl *g, uint32_t req_id, uint32_t e)
{
	struct reply_args a = { req_id, e };
	struct rc_err err;

	if (rc_genl_request(g, RCACHE_CMD_FETCH_DONE, fill_reply, &a, NULL, NULL, 0, &err))
		return err.code;
	return 0;
}

static int on_msg(struct nl_msg *msg, void *arg)
{
	struct rc_nl_fetch *out = arg;
	struct rc_nl_device ev;

	if (rc_genl_parse(msg, out, &ev) == 0)
		out->flags |= 0x80000000u;	/* mark: got one */
	return NL_OK;
}

static int fake_daemon(const char *mode, int n)
{
	struct rc_genl g;
	struct rc_err err;
	struct nl_cb *cb;
	struct rc_nl_fetch fx = { 0 };
	int i;

	if (rc_genl_open(&g, &err))
		goto fail;
	/* a FETCH may come before the ack of REGISTER */
	g.unsolicited = on_msg;
	g.unsolicited_arg = &fx;
	if (rc_genl_register(&g, &err))
		goto fail;
	cb = nl_cb_alloc(NL_CB_DEFAULT);
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_msg, &fx);
	for (i = 0; i < n; i++) {
		while (!(fx.flags & 0x80000000u))
			if (nl_recvmsgs(g.sk, cb) < 0)
				return 2;
		printf("FETCH req_id=%u block=%llu resend=%d\n", fx.req_id,
		       (unsigned long long)fx.block, !!(fx.flags & RCACHE_FETCH_F_RESEND));
		fflush(stdout);
		if (!strcmp(mode, "eio")) {
			printf("reply %d\n", send_reply(&g, fx.req_id, EIO));
			printf("again %d\n", send_reply(&g, fx.req_id, 0));
			printf("unknown %d\n", send_reply(&g, fx.req_id + 100000, 0));
			fflush(stdout);
		}
		memset(&fx, 0, sizeof(fx));
	}
	nl_cb_put(cb);
	rc_genl_close(&g);
	return 0;
fail:
	fprintf(stderr, "%s\n", err.msg);
	return 2;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "perm"))
		return probe_perm();
	if (argc == 4 && !strcmp(argv[1], "reply")) {
		struct rc_genl g;
		struct rc_err err;

		if (rc_genl_open(&g, &err)) {
			fprintf(stderr, "%s\n", err.msg);
			return 2;
		}
		printf("%d\n", send_reply(&g, strtoul(argv[2], NULL, 0), strtoul(argv[3], NULL, 0)));
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "fake-daemon"))
		return fake_daemon(argv[2], atoi(argv[3]));
	fprintf(stderr, "usage: nlprobe perm | reply REQ_ID ERRNO | fake-daemon eio|drop N\n");
	return 2;
}
