// SPDX-License-Identifier: GPL-2.0-only
/*
 * nlprobe - talks to the rcache netlink family the way a misbehaving or
 * unprivileged client would, for the VM tests.
 *
 *   nlprobe perm                 every command, and joining the events group;
 *                                prints "CMD errno"; exit 0 when each one was
 *                                refused with EPERM
 *   nlprobe reply REQ_ID ERRNO   a FETCH_DONE (DEV_ID and BLOCK 0) from a
 *                                process that is not the registered daemon;
 *                                prints the errno
 *   nlprobe status NAME          GET_STATUS of device NAME; prints its state
 *                                and how long the request took
 *   nlprobe set-state NAME STATE SET_STATE of device NAME to STATE (a number);
 *                                prints "errno message"
 *   nlprobe fake-daemon script   registers, prints every FETCH, and runs
 *                                commands from stdin, one a line:
 *        wait N                  until N FETCHes came (in all)
 *        reply I ERRNO [dev|block]
 *                                FETCH_DONE for the I-th FETCH (from 1), with
 *                                its DEV_ID and BLOCK, or one of them off by
 *                                one; prints "reply I errno"
 *        sleep MS
 *      and exits at the end of its input
 *   nlprobe fake-daemon MODE N   registers and handles N FETCHes:
 *        eio    answers ERRNO=EIO, then the same id again and an unknown id
 *        drop   answers nothing and exits (the kernel must re-send)
 *        hold   takes every FETCH and answers none until SIGUSR1 (or N
 *               seconds after the first), then answers each with
 *               ERRNO=EIO; prints "fetches COUNT" (how many the kernel sent
 *               meanwhile)
 *   Every FETCH is printed as "FETCH req_id=ID block=B resend=0|1 offset=CACHE_OFFSET".
 */
#include <errno.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernel/genl.h"

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
	int ok = 1, r;

	if (rc_genl_open(&g, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return 2;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		r = rc_genl_request(&g, cmds[i].cmd, fill_all, NULL, NULL, NULL,
				    cmds[i].dump, &err);

		printf("%s %d\n", cmds[i].name, r ? err.code : 0);
		if (!r || err.code != EPERM)
			ok = 0;
	}
	/* events name devices: for CAP_SYS_ADMIN only */
	r = rc_genl_subscribe_events(&g, &err);
	printf("JOIN_EVENTS %d\n", r ? err.code : 0);
	if (!r || err.code != EPERM)
		ok = 0;
	rc_genl_close(&g);
	return ok ? 0 : 1;
}

struct reply_args {
	uint32_t req_id, err;
	uint64_t dev_id, block;
};

static int fill_reply(struct nl_msg *msg, void *arg)
{
	struct reply_args *a = arg;

	return nla_put_u32(msg, RCACHE_ATTR_REQ_ID, a->req_id) ||
	       nla_put_u64(msg, RCACHE_ATTR_DEV_ID, a->dev_id) ||
	       nla_put_u64(msg, RCACHE_ATTR_BLOCK, a->block) ||
	       nla_put_u32(msg, RCACHE_ATTR_ERRNO, a->err);
}

/* FETCH_DONE for request @req_id, naming @dev_id and @block; the errno back */
static int send_reply_to(struct rc_genl *g, uint32_t req_id, uint64_t dev_id, uint64_t block,
			 uint32_t e)
{
	struct reply_args a = { req_id, e, dev_id, block };
	struct rc_err err;

	if (rc_genl_request(g, RCACHE_CMD_FETCH_DONE, fill_reply, &a, NULL, NULL, 0, &err))
		return err.code;
	return 0;
}

static int send_reply(struct rc_genl *g, const struct rc_nl_fetch *fx, uint32_t e)
{
	return send_reply_to(g, fx->req_id, fx->dev_id, fx->block, e);
}

static int on_msg(struct nl_msg *msg, void *arg)
{
	struct rc_nl_fetch *out = arg;
	struct rc_nl_device ev;

	if (rc_genl_parse(msg, out, &ev) == 0)
		out->flags |= 0x80000000u;	/* mark: got one */
	return NL_OK;
}

static void print_fetch(const struct rc_nl_fetch *fx)
{
	printf("FETCH req_id=%u block=%llu resend=%d offset=%llu\n", fx->req_id,
	       (unsigned long long)fx->block, !!(fx->flags & RCACHE_FETCH_F_RESEND),
	       (unsigned long long)fx->cache_offset);
	fflush(stdout);
}

#define HOLD_MAX 256

struct held {
	struct rc_nl_fetch f[HOLD_MAX];
	unsigned int n;		/* FETCHes received (more than HOLD_MAX are counted only) */
};

static int on_held(struct nl_msg *msg, void *arg)
{
	struct held *h = arg;
	struct rc_nl_fetch fx;
	struct rc_nl_device ev;

	if (rc_genl_parse(msg, &fx, &ev) == 0) {
		print_fetch(&fx);
		if (h->n < HOLD_MAX)
			h->f[h->n] = fx;
		h->n++;
	}
	return NL_OK;
}

static volatile sig_atomic_t release_held;

static void on_sigusr1(int sig)
{
	(void)sig;
	release_held = 1;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/*
 * Registers as the fill daemon, with @fn handling each message (a FETCH may
 * come before the ack of REGISTER).  Returns the callbacks for
 * nl_recvmsgs(), or NULL after printing why it failed.
 */
static struct nl_cb *register_fake_daemon(struct rc_genl *g, nl_recvmsg_msg_cb_t fn, void *arg)
{
	struct rc_err err;
	struct nl_cb *cb;

	if (rc_genl_open(g, &err))
		goto fail;
	g->unsolicited = fn;
	g->unsolicited_arg = arg;
	if (rc_genl_register(g, &err))
		goto fail;
	cb = nl_cb_alloc(NL_CB_DEFAULT);
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, fn, arg);
	return cb;
fail:
	fprintf(stderr, "%s\n", err.msg);
	return NULL;
}

/*
 * Holds every FETCH until SIGUSR1 (at most @seconds after the first), then
 * fails them all: the readers of one cold block show how many requests
 * their misses caused.  Gives up (exit 3) when no FETCH comes in a minute.
 */
static int hold_daemon(int seconds)
{
	static struct held h;
	long long start = now_ms(), deadline = 0, t;
	struct rc_genl g;
	struct nl_cb *cb;
	struct sigaction sa = { .sa_handler = on_sigusr1 };
	sigset_t usr1, unblocked;
	struct timespec wait;
	struct pollfd p;
	unsigned int i;

	/* SIGUSR1 is let in only while waiting in ppoll: none is missed */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, &unblocked);
	sigdelset(&unblocked, SIGUSR1);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	cb = register_fake_daemon(&g, on_held, &h);
	if (!cb)
		return 2;
	p.fd = rc_genl_fd(&g);
	p.events = POLLIN;
	for (;;) {
		t = now_ms();
		if (h.n && !deadline)
			deadline = t + seconds * 1000LL;
		if (release_held || (deadline && t >= deadline))
			break;
		if (!deadline && t - start > 60000) {
			fprintf(stderr, "nlprobe: no FETCH within a minute\n");
			return 3;
		}
		t = deadline ? deadline - t : 1000;
		wait.tv_sec = t / 1000;
		wait.tv_nsec = t % 1000 * 1000000;
		if (ppoll(&p, 1, &wait, &unblocked) > 0 && nl_recvmsgs(g.sk, cb) < 0)
			return 2;
	}
	printf("fetches %u\n", h.n);
	for (i = 0; i < h.n && i < HOLD_MAX; i++)
		printf("reply %u %d\n", h.f[i].req_id, send_reply(&g, &h.f[i], EIO));
	fflush(stdout);
	nl_cb_put(cb);
	rc_genl_close(&g);
	return 0;
}

static int fake_daemon(const char *mode, int n)
{
	struct rc_genl g;
	struct nl_cb *cb;
	struct rc_nl_fetch fx = { 0 };
	int i;

	cb = register_fake_daemon(&g, on_msg, &fx);
	if (!cb)
		return 2;
	for (i = 0; i < n; i++) {
		while (!(fx.flags & 0x80000000u))
			if (nl_recvmsgs(g.sk, cb) < 0)
				return 2;
		print_fetch(&fx);
		if (!strcmp(mode, "eio")) {
			printf("reply %d\n", send_reply(&g, &fx, EIO));
			printf("again %d\n", send_reply(&g, &fx, 0));
			printf("unknown %d\n", send_reply_to(&g, fx.req_id + 100000, fx.dev_id,
							   fx.block, 0));
			fflush(stdout);
		}
		memset(&fx, 0, sizeof(fx));
	}
	nl_cb_put(cb);
	rc_genl_close(&g);
	return 0;
}

/*
 * The fake daemon of "script": FETCHes as they come, commands from stdin.
 * Exit 3 when a "wait" sees no FETCH for a minute.
 */
static int script_daemon(void)
{
	static struct held h;
	char line[256], how[16];
	struct pollfd p[2];
	struct rc_genl g;
	struct nl_cb *cb;
	unsigned int i, n;
	int e, ms;

	cb = register_fake_daemon(&g, on_held, &h);
	if (!cb)
		return 2;
	p[0].fd = rc_genl_fd(&g);
	p[0].events = POLLIN;
	while (fgets(line, sizeof(line), stdin)) {
		how[0] = '\0';
		if (sscanf(line, "wait %u", &n) == 1) {
			long long give_up = now_ms() + 60000;

			while (h.n < n) {
				if (now_ms() > give_up) {
					fprintf(stderr, "nlprobe: %u FETCHes, not %u, in a minute\n",
						h.n, n);
					return 3;
				}
				if (poll(p, 1, 1000) > 0 && nl_recvmsgs(g.sk, cb) < 0)
					return 2;
			}
			printf("got %u\n", h.n);
		} else if (sscanf(line, "reply %u %d %15s", &i, &e, how) >= 2 && i >= 1 &&
			   i <= h.n && i <= HOLD_MAX) {
			struct rc_nl_fetch fx = h.f[i - 1];

			if (!strcmp(how, "dev"))
				fx.dev_id++;
			else if (!strcmp(how, "block"))
				fx.block++;
			printf("reply %u %d\n", i, send_reply(&g, &fx, e));
		} else if (sscanf(line, "sleep %d", &ms) == 1) {
			long long until = now_ms() + ms;

			/* FETCHes still come in meanwhile */
			while ((ms = until - now_ms()) > 0)
				if (poll(p, 1, ms) > 0 && nl_recvmsgs(g.sk, cb) < 0)
					return 2;
		} else {
			fprintf(stderr, "nlprobe: bad command: %s", line);
			return 2;
		}
		fflush(stdout);
	}
	nl_cb_put(cb);
	rc_genl_close(&g);
	return 0;
}

static int get_status(const char *name)
{
	struct rc_nl_device *dev = calloc(1, sizeof(*dev));
	struct rc_genl g;
	struct rc_err err;
	long long t0;

	if (!dev || rc_genl_open(&g, &err)) {
		fprintf(stderr, "%s\n", dev ? err.msg : "out of memory");
		return 2;
	}
	t0 = now_ms();
	if (rc_genl_get_device_by_name(&g, name, dev, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return 2;
	}
	printf("state %u ms %lld\n", dev->state, now_ms() - t0);
	rc_genl_close(&g);
	free(dev);
	return 0;
}

static int set_state(const char *name, uint32_t state)
{
	struct rc_nl_device *dev = calloc(1, sizeof(*dev));
	struct rc_genl g;
	struct rc_err err;
	int r;

	if (!dev || rc_genl_open(&g, &err) || rc_genl_get_device_by_name(&g, name, dev, &err)) {
		fprintf(stderr, "%s\n", dev ? err.msg : "out of memory");
		return 2;
	}
	r = rc_genl_set_state(&g, dev->dev_id, state, "set by nlprobe", &err);
	printf("%d %s\n", r ? err.code : 0, r ? err.msg : "");
	rc_genl_close(&g);
	free(dev);
	return 0;
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
		printf("%d\n", send_reply_to(&g, strtoul(argv[2], NULL, 0), 0, 0,
					     strtoul(argv[3], NULL, 0)));
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "status"))
		return get_status(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "set-state"))
		return set_state(argv[2], strtoul(argv[3], NULL, 0));
	if (argc == 3 && !strcmp(argv[1], "fake-daemon") && !strcmp(argv[2], "script"))
		return script_daemon();
	if (argc == 4 && !strcmp(argv[1], "fake-daemon") && !strcmp(argv[2], "hold"))
		return hold_daemon(atoi(argv[3]));
	if (argc == 4 && !strcmp(argv[1], "fake-daemon"))
		return fake_daemon(argv[2], atoi(argv[3]));
	fprintf(stderr, "usage: nlprobe perm | reply REQ_ID ERRNO | status NAME | set-state NAME STATE |\n"
		"       fake-daemon script | fake-daemon eio|drop|hold N\n");
	return 2;
}
