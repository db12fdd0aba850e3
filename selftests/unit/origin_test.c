// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the origin interface (origin/backend.h): the file backend
 * driven through its operations table by a stub of the fill loop's
 * environment, with a real file and a real io_uring.  Each read must end
 * with exactly one done() and the file's bytes in its buffer; opens end in
 * one opened(); holds and releases balance; a changed file fences.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "origin/backend.h"
#include "origin/origin.h"
#include "unit.h"

#define FILE_SIZE ((1u << 20) + 123)	/* a short last block */

/* The fill loop, as far as a backend can see it. */
struct stub {
	struct rco_env env;
	struct io_uring ring;
	struct rco_device dev;
	struct rc_url url;
	char identity[RCACHE_MAX_IDENTITY_LEN + 1];
	int inflight;			/* sqes handed out, not completed */
	int holds;			/* hold() minus release() */
	int opened, opened_error;
	const char *opened_what;
	int fences;
	char fence_reason[1024];
};

struct test_read {
	struct rco_read r;
	int calls, error;
	const char *what;
};

static int reads_ended;		/* done() calls, all reads */

static struct io_uring_sqe *stub_get_sqe(void *cookie)
{
	struct stub *s = cookie;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);

	if (sqe)
		s->inflight++;
	return sqe;
}

static void stub_fence(void *cookie, struct rco_device *dev, const char *reason)
{
	struct stub *s = cookie;

	CHECK(dev == &s->dev);
	s->fences++;
	snprintf(s->fence_reason, sizeof(s->fence_reason), "%s", reason);
	dev->stale = true;	/* the loop's job: misses fail from now on */
}

static void stub_opened(void *cookie, struct rco_device *dev, int error, const char *what)
{
	struct stub *s = cookie;

	CHECK(dev == &s->dev);
	s->opened++;
	s->opened_error = error;
	s->opened_what = what;
}

static void stub_hold(void *cookie, struct rco_device *dev)
{
	CHECK(dev == &((struct stub *)cookie)->dev);
	((struct stub *)cookie)->holds++;
}

static void stub_release(void *cookie, struct rco_device *dev)
{
	CHECK(dev == &((struct stub *)cookie)->dev);
	((struct stub *)cookie)->holds--;
}

static int stub_init(struct stub *s, const char *path, const char *identity)
{
	struct rc_err err;

	memset(s, 0, sizeof(*s));
	if (io_uring_queue_init(16, &s->ring, 0))
		return -1;
	s->env = (struct rco_env){
		.cookie = s,
		.get_sqe = stub_get_sqe,
		.fence = stub_fence,
		.opened = stub_opened,
		.hold = stub_hold,
		.release = stub_release,
	};
	snprintf(s->identity, sizeof(s->identity), "%s", identity);
	CHECK(rc_url_parse(path, &s->url, &err) == 0);
	s->dev = (struct rco_device){
		.name = "unit",
		.origin = path,
		.url = &s->url,
		.identity = s->identity,
		.size = FILE_SIZE,
	};
	return 0;
}

/* The loop's part: submits, and hands each completion to its rc_iou. */
static void stub_run(struct stub *s, int *until, int want)
{
	int guard;

	for (guard = 0; *until < want && s->inflight && guard < 1000; guard++) {
		struct io_uring_cqe *cqe;
		struct rc_iou *op;
		int res;

		io_uring_submit(&s->ring);
		if (io_uring_wait_cqe(&s->ring, &cqe))
			break;
		op = io_uring_cqe_get_data(cqe);
		res = cqe->res;
		io_uring_cqe_seen(&s->ring, cqe);
		s->inflight--;
		op->done(op, res);
	}
}

static void read_done(struct rco_read *r, int error, const char *what)
{
	struct test_read *t = (struct test_read *)r;

	reads_ended++;
	t->calls++;
	t->error = error;
	t->what = what;
}

static void read_init(struct test_read *t, uint64_t off, size_t len)
{
	memset(t, 0, sizeof(*t));
	t->r.off = off;
	t->r.len = len;
	t->r.done = read_done;
	CHECK(posix_memalign((void **)&t->r.buf, RCO_ALIGN,
			     (len + RCO_ALIGN - 1) / RCO_ALIGN * RCO_ALIGN) == 0);
}

static unsigned char *content;

/* A file of FILE_SIZE known bytes; its URL in @url, its version in @identity. */
static int make_origin(char *path, size_t plen, char *url, size_t ulen, char *identity)
{
	uint64_t size, x = 0x9e3779b97f4a7c15ULL;
	size_t i;
	int fd;

	/* a disk-backed directory where there is one: O_DIRECT reads */
	snprintf(path, plen, "%s/rcache-origin-test.XXXXXX",
		 access("/var/tmp", W_OK) ? "/tmp" : "/var/tmp");
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	content = malloc(FILE_SIZE);
	for (i = 0; i < FILE_SIZE; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		content[i] = (unsigned char)x;
	}
	if (write(fd, content, FILE_SIZE) != FILE_SIZE ||
	    rc_fd_identity(fd, &size, identity, RCACHE_MAX_IDENTITY_LEN + 1)) {
		close(fd);
		return -1;
	}
	close(fd);
	snprintf(url, ulen, "file://%s", path);
	return 0;
}

static char origin_path[256], origin_url[300], origin_identity[RCACHE_MAX_IDENTITY_LEN + 1];

/* Opens the origin through the table; the open ends in one opened(). */
static struct rco_handle *open_origin(struct stub *s, struct rco_backend **b)
{
	struct rco_handle *h = NULL;
	struct rc_err err;
	int r;

	*b = rco_file_ops.create(&s->env, &err);
	CHECK(*b != NULL);
	if (!*b)
		return NULL;
	r = rco_file_ops.open(*b, &s->dev, &h, &err);
	CHECK(r == RCO_OPENING);
	CHECK(h != NULL);
	CHECK(s->opened == 0);		/* not before the loop ran */
	stub_run(s, &s->opened, 1);
	CHECK(s->opened == 1);
	CHECK(s->holds == 0);
	return h;
}

/* Reads at once, into their buffers: the file's bytes, one done() each. */
static void file_reads_through_the_table(void)
{
	static const struct { uint64_t off; size_t len; } ranges[] = {
		{ 0, 1u << 20 },			/* a whole coalesced read */
		{ 1u << 20, 123 },			/* the short last block */
		{ 12288, 65536 + 4096 },
		{ 4096 * 7, 4096 },
	};
	struct test_read t[4];
	struct rco_backend *b;
	struct rco_handle *h;
	struct stub s;
	int i, want = 4;

	if (stub_init(&s, origin_url, origin_identity)) {
		CHECK(!"io_uring setup");
		return;
	}
	h = open_origin(&s, &b);
	if (!h)
		return;
	CHECK(s.opened_error == 0);
	CHECK(s.fences == 0);
	CHECK(rco_file_ops.check(h) == 0);
	CHECK(rco_file_ops.spread(h) > 0);
	reads_ended = 0;
	for (i = 0; i < want; i++) {
		read_init(&t[i], ranges[i].off, ranges[i].len);
		rco_file_ops.start(h, &t[i].r);
	}
	CHECK(reads_ended == 0);	/* they end in the loop, not in start() */
	stub_run(&s, &reads_ended, want);
	CHECK(s.inflight == 0);
	for (i = 0; i < want; i++) {
		CHECK(t[i].calls == 1);
		CHECK(t[i].error == 0);
		CHECK(memcmp(t[i].r.buf, content + ranges[i].off, ranges[i].len) == 0);
		free(t[i].r.buf);
	}
	CHECK(s.holds == 0);
	rco_file_ops.destroy(b);
	rco_file_ops.close(h);
	io_uring_queue_exit(&s.ring);
}

/* A range past the end fails with EIO, a step the loop can log; exiting cancels. */
static void file_read_errors(void)
{
	struct test_read past, late;
	struct rco_backend *b;
	struct rco_handle *h;
	struct stub s;

	if (stub_init(&s, origin_url, origin_identity)) {
		CHECK(!"io_uring setup");
		return;
	}
	h = open_origin(&s, &b);
	if (!h)
		return;
	read_init(&past, 1u << 20, 8192);
	rco_file_ops.start(h, &past.r);
	stub_run(&s, &past.calls, 1);
	CHECK(past.calls == 1);
	CHECK(past.error == -EIO);
	CHECK(past.what && strstr(past.what, "ends early"));
	/* the loop drains: no read starts, and the one asked for ends at once */
	s.env.draining = true;
	read_init(&late, 0, 4096);
	rco_file_ops.start(h, &late.r);
	CHECK(late.calls == 1);
	CHECK(late.error == -ECANCELED);
	CHECK(s.holds == 0);
	free(past.r.buf);
	free(late.r.buf);
	rco_file_ops.destroy(b);
	rco_file_ops.close(h);
	io_uring_queue_exit(&s.ring);
}

/* Another version than the recorded one fences; then no byte is read. */
static void file_changed_fences(void)
{
	struct test_read t;
	struct rco_backend *b;
	struct rco_handle *h;
	struct stub s;

	if (stub_init(&s, origin_url, "size=1,mtime=0.000000000,ino=1")) {
		CHECK(!"io_uring setup");
		return;
	}
	h = open_origin(&s, &b);
	if (!h)
		return;
	CHECK(s.opened_error == 0);
	CHECK(s.fences == 1);
	CHECK(strstr(s.fence_reason, "changed: recorded size=1,") != NULL);
	CHECK(rco_file_ops.check(h) == -ESTALE);
	read_init(&t, 0, 4096);
	rco_file_ops.start(h, &t.r);
	CHECK(t.calls == 1 && t.error == -ESTALE);
	free(t.r.buf);
	rco_file_ops.destroy(b);
	rco_file_ops.close(h);
	io_uring_queue_exit(&s.ring);
}

/* A missing file: the open fails in opened(), which names the step. */
static void file_open_fails(void)
{
	struct rco_backend *b;
	struct rco_handle *h;
	struct stub s;

	if (stub_init(&s, "file:///nonexistent/rcache-origin-test", "")) {
		CHECK(!"io_uring setup");
		return;
	}
	h = open_origin(&s, &b);
	if (!h)
		return;
	CHECK(s.opened_error == -ENOENT);
	CHECK(s.opened_what && !strcmp(s.opened_what, "open"));
	rco_file_ops.destroy(b);
	rco_file_ops.close(h);
	io_uring_queue_exit(&s.ring);
}

int main(void)
{
	if (make_origin(origin_path, sizeof(origin_path), origin_url, sizeof(origin_url),
			origin_identity)) {
		printf("FAIL: unit/origin/setup: cannot write a test file\n");
		return 1;
	}
	RUN("origin", file_reads_through_the_table);
	RUN("origin", file_read_errors);
	RUN("origin", file_changed_fences);
	RUN("origin", file_open_fails);
	unlink(origin_path);
	free(content);
	UNIT_EXIT();
}
