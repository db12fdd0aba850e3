// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of rcached's pieces that need no kernel: the FETCH_DONE reply
 * queue (replies that meet a full socket wait and are sent later, never
 * dropped) and the metrics listener (idle timeout, connection cap, default
 * address).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "daemon/metricsd.h"
#include "daemon/replyq.h"
#include "common/util.h"
#include "unit.h"

#define MS 1000000ULL

/* A socket whose send fails with a scripted errno for the next calls. */
struct fake_sock {
	int fail[16];		/* errors of the next sends; 0 = success */
	int nfail, at;
	unsigned int sent[64];	/* request ids, in send order */
	int nsent;
	unsigned int done[64];	/* request ids handed back */
	int done_err[64];
	int ndone;
};

static int fake_send(void *arg, const struct rc_reply *r)
{
	struct fake_sock *s = arg;
	int e = s->at < s->nfail ? s->fail[s->at] : 0;

	s->at++;
	if (!e)
		s->sent[s->nsent++] = r->fx.req_id;
	return e;
}

static void fake_done(void *arg, struct rc_reply *r, int error)
{
	struct fake_sock *s = arg;

	s->done[s->ndone] = r->fx.req_id;
	s->done_err[s->ndone++] = error;
}

static void reply_init(struct rc_reply *r, unsigned int id)
{
	*r = (struct rc_reply){ .fx = { .req_id = id, .dev_id = 7, .block = id * 10 } };
}

/* ENOBUFS/ENOMEM/EAGAIN keep the reply; it goes out later, in order. */
static void reply_retried_not_dropped(void)
{
	struct fake_sock s = { .fail = { -ENOBUFS, -ENOBUFS, -ENOMEM, -EAGAIN }, .nfail = 4 };
	struct rc_replyq q;
	struct rc_reply r[4];
	uint64_t now = 1000 * MS;
	int i, guard;

	rc_replyq_init(&q, fake_send, fake_done, &s);
	for (i = 0; i < 4; i++)
		reply_init(&r[i], 100 + i);
	rc_replyq_send(&q, &r[0], now);	/* ENOBUFS: kept */
	CHECK(s.nsent == 0 && s.ndone == 0);
	CHECK(q.len == 1);
	CHECK(rc_replyq_timeout_ms(&q, now) > 0);
	/* later replies queue behind it, none is sent ahead of it */
	rc_replyq_send(&q, &r[1], now);
	rc_replyq_send(&q, &r[2], now);
	CHECK(q.len == 3 && s.nsent == 0);
	/* not due yet: no send */
	rc_replyq_flush(&q, now);
	CHECK(s.at == 1);
	/* the loop retries when the timeout says, with growing delays */
	for (guard = 0; q.len && guard < 100; guard++) {
		int ms = rc_replyq_timeout_ms(&q, now);

		CHECK(ms >= 0 && ms <= RC_REPLYQ_BACKOFF_MAX_MS);
		now += (uint64_t)ms * MS;
		rc_replyq_flush(&q, now);
	}
	CHECK(q.len == 0);
	CHECK(rc_replyq_timeout_ms(&q, now) == -1);
	CHECK(s.nsent == 3);
	CHECK(s.sent[0] == 100 && s.sent[1] == 101 && s.sent[2] == 102);
	CHECK(s.ndone == 3);
	for (i = 0; i < s.ndone; i++)
		CHECK(s.done_err[i] == 0);
	CHECK(q.retried == 4);
	/* with the socket fine again, a reply goes out at once */
	rc_replyq_send(&q, &r[3], now);
	CHECK(s.nsent == 4 && s.sent[3] == 103 && q.len == 0);
}

/* The delay grows to its cap and starts small again after a success. */
static void reply_backoff(void)
{
	struct fake_sock s = { .nfail = 11 };
	struct rc_replyq q;
	struct rc_reply r;
	uint64_t now = 0;
	int i, last = 0, ms;

	for (i = 0; i < 11; i++)	/* the first send and ten retries */
		s.fail[i] = -ENOBUFS;
	rc_replyq_init(&q, fake_send, fake_done, &s);
	reply_init(&r, 1);
	rc_replyq_send(&q, &r, now);
	for (i = 0; i < 11; i++) {
		ms = rc_replyq_timeout_ms(&q, now);
		CHECK(ms >= last || ms == RC_REPLYQ_BACKOFF_MAX_MS);
		CHECK(ms <= RC_REPLYQ_BACKOFF_MAX_MS);
		last = ms;
		now += (uint64_t)ms * MS;
		rc_replyq_flush(&q, now);
	}
	CHECK(last == RC_REPLYQ_BACKOFF_MAX_MS);
	CHECK(q.len == 0 && s.nsent == 1);
	CHECK(q.backoff_ms == RC_REPLYQ_BACKOFF_MIN_MS);
}

/* Another error (the kernel refused it) ends the reply: done() says which. */
static void reply_other_error_ends_it(void)
{
	struct fake_sock s = { .fail = { -EINVAL }, .nfail = 1 };
	struct rc_replyq q;
	struct rc_reply r[2];

	rc_replyq_init(&q, fake_send, fake_done, &s);
	reply_init(&r[0], 5);
	reply_init(&r[1], 6);
	rc_replyq_send(&q, &r[0], 0);
	CHECK(q.len == 0 && s.ndone == 1 && s.done[0] == 5 && s.done_err[0] == -EINVAL);
	/* abandon: every waiting reply handed back once */
	s.nfail = 2;
	s.fail[1] = -ENOBUFS;
	rc_replyq_send(&q, &r[1], 0);
	CHECK(q.len == 1);
	rc_replyq_abandon(&q, -ECONNABORTED);
	CHECK(q.len == 0 && s.ndone == 2 && s.done[1] == 6 && s.done_err[1] == -ECONNABORTED);
}

/* ------------------------------------------------------------------ */
/* The metrics listener                                                */

static void render_fixed(FILE *f, void *arg)
{
	(void)arg;
	fprintf(f, "rcache_test_metric 42\n");
}

static int connect_to(const char *addr)
{
	char host[64];
	const char *colon = strrchr(addr, ':');
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
	sa.sin_port = htons(atoi(colon + 1));
	inet_pton(AF_INET, host, &sa.sin_addr);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* ms until the server closes @fd (EOF or reset), -1 if not within @max_ms */
static int ms_until_closed(int fd, int max_ms)
{
	uint64_t start = rc_now_ns();
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	while (poll(&p, 1, max_ms) == 1) {
		if (read(fd, &c, 1) <= 0)
			return (int)((rc_now_ns() - start) / 1000000);
	}
	return -1;
}

static bool still_open(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	return poll(&p, 1, 0) == 0 || recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK) > 0;
}

/* GET /metrics; true when the answer is a 200 with the rendered body */
static bool scrape(const char *addr)
{
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
	char buf[4096];
	size_t got = 0;
	ssize_t r;
	int fd = connect_to(addr);
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (fd < 0 || write(fd, req, sizeof(req) - 1) != sizeof(req) - 1) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	while (got < sizeof(buf) - 1 && poll(&p, 1, 5000) == 1 &&
	       (r = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += r;
	buf[got] = '\0';
	close(fd);
	return !strncmp(buf, "HTTP/1.1 200 OK", 15) && strstr(buf, "rcache_test_metric 42\n");
}

/* PORT and :PORT bind 127.0.0.1; every other address is named. */
static void metrics_default_address(void)
{
	char host[64], port[16];
	struct rc_metrics_server *s;
	struct rc_metrics_server_cfg cfg = { .listen = ":0", .max_conns = 2,
					     .idle_timeout_ms = 1000, .render = render_fixed };
	struct rc_err e;

	CHECK(rc_metrics_parse_listen("9477", host, sizeof(host), port, sizeof(port), &e) == 0);
	CHECK_STR(host, "127.0.0.1");
	CHECK_STR(port, "9477");
	CHECK(rc_metrics_parse_listen(":9477", host, sizeof(host), port, sizeof(port), &e) == 0);
	CHECK_STR(host, "127.0.0.1");
	CHECK(rc_metrics_parse_listen("0.0.0.0:9477", host, sizeof(host), port, sizeof(port), &e) == 0);
	CHECK_STR(host, "0.0.0.0");
	CHECK(rc_metrics_parse_listen("[::1]:80", host, sizeof(host), port, sizeof(port), &e) == 0);
	CHECK_STR(host, "::1");
	CHECK(rc_metrics_parse_listen("host:", host, sizeof(host), port, sizeof(port), &e) < 0);
	CHECK(rc_metrics_parse_listen("host:http", host, sizeof(host), port, sizeof(port), &e) < 0);
	CHECK(rc_metrics_parse_listen("1:99999", host, sizeof(host), port, sizeof(port), &e) < 0);
	CHECK(rc_metrics_server_start(&s, &cfg, &e) == 0);
	if (!s)
		return;
	CHECK(!strncmp(rc_metrics_server_addr(s), "127.0.0.1:", 10));
	CHECK(scrape(rc_metrics_server_addr(s)));
	rc_metrics_server_stop(s);
}

/* A client that connects and says nothing is closed after the idle timeout. */
static void metrics_idle_timeout(void)
{
	struct rc_metrics_server *s;
	struct rc_metrics_server_cfg cfg = { .listen = "127.0.0.1:0", .max_conns = 4,
					     .idle_timeout_ms = 300, .render = render_fixed };
	struct rc_err e;
	int fd, ms;

	CHECK(rc_metrics_server_start(&s, &cfg, &e) == 0);
	if (!s)
		return;
	fd = connect_to(rc_metrics_server_addr(s));
	CHECK(fd >= 0);
	/* a partial request does not buy more time either */
	CHECK(write(fd, "GET /met", 8) == 8);
	ms = ms_until_closed(fd, 3000);
	CHECK(ms >= 250 && ms <= 2000);
	close(fd);
	/* meanwhile and afterwards a scrape works */
	CHECK(scrape(rc_metrics_server_addr(s)));
	rc_metrics_server_stop(s);
}

/*
 * More connections than the cap: the server never holds more than the
 * cap, the ones idle longest are closed first, and a scrape still works.
 */
static void metrics_connection_cap(void)
{
	struct rc_metrics_server *s;
	struct rc_metrics_server_cfg cfg = { .listen = "127.0.0.1:0", .max_conns = 4,
					     .idle_timeout_ms = 10000, .render = render_fixed };
	struct rc_err e;
	int fds[12], i, open_now = 0;
	struct timespec pause = { 0, 20 * 1000000 };

	CHECK(rc_metrics_server_start(&s, &cfg, &e) == 0);
	if (!s)
		return;
	for (i = 0; i < 12; i++) {
		fds[i] = connect_to(rc_metrics_server_addr(s));
		CHECK(fds[i] >= 0);
		nanosleep(&pause, NULL);	/* accepted in this order */
	}
	/* the first eight made room for the last four, at once */
	for (i = 0; i < 8; i++)
		CHECK(ms_until_closed(fds[i], 2000) >= 0);
	for (i = 0; i < 12; i++)
		open_now += still_open(fds[i]);
	CHECK(open_now == 4);
	for (i = 8; i < 12; i++)
		CHECK(still_open(fds[i]));
	CHECK(scrape(rc_metrics_server_addr(s)));
	for (i = 0; i < 12; i++)
		close(fds[i]);
	rc_metrics_server_stop(s);
}

int main(void)
{
	RUN("daemon", reply_retried_not_dropped);
	RUN("daemon", reply_backoff);
	RUN("daemon", reply_other_error_ends_it);
	RUN("daemon", metrics_default_address);
	RUN("daemon", metrics_idle_timeout);
	RUN("daemon", metrics_connection_cap);
	UNIT_EXIT();
}
