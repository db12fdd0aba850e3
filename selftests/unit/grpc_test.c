// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of librcache-grpc (userspace/grpc/): a server on a temporary
 * unix socket serving two services of grpc_test.proto, called through the
 * library's own client and, for streams and malformed requests, through the
 * gRPC core API directly: replies, a handler's status + message, an unknown
 * method, a request that does not decode, deferred answers and deadlines,
 * a state-carrying stream, a stop and listen again, and a shutdown with a
 * stream open.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include "grpc_test.pb-c.h"
#include "grpc/client.h"
#include "grpc/server.h"
#include "unit.h"

#define SAY "/rctest.Echo/Say"
#define REFUSE "/rctest.Echo/Refuse"
#define LATER "/rctest.Echo/Later"
#define FOLLOW "/rctest.Watch/Follow"

/* What the server side saw. */
struct fixture {
	struct rpc_loop *loop;
	struct rpc_server *server;
	char dir[64], sock[128], target[160];
	int64_t deadline_ms;		/* of the last Say */
	struct rpc_call *later;		/* a deferred call, not answered yet */
	struct rpc_call *stream;	/* the last stream opened */
	int opened, closed;		/* streams */
	int stopped;			/* rpc_server_stop's callback ran */
};

static struct fixture fx;

static void say(struct rpc_call *c, const ProtobufCMessage *msg, void *arg)
{
	const Rctest__Ask *ask = (const Rctest__Ask *)msg;
	Rctest__Answer ans = RCTEST__ANSWER__INIT;
	char text[300];
	struct fixture *f = arg;

	f->deadline_ms = rpc_call_deadline_ms(c);
	snprintf(text, sizeof(text), "you said %s", ask->text);
	ans.text = text;
	ans.count = ask->times;
	rpc_reply(c, &ans.base);
}

static void refuse(struct rpc_call *c, const ProtobufCMessage *msg, void *arg)
{
	(void)arg;
	rpc_fail(c, GRPC_STATUS_NOT_FOUND, "no %s here", ((const Rctest__Ask *)msg)->text);
}

static void later(struct rpc_call *c, const ProtobufCMessage *msg, void *arg)
{
	struct fixture *f = arg;

	(void)msg;
	rpc_defer(c);
	f->later = c;
}

/* replies with the request's type, not the response's */
static void wrong_type(struct rpc_call *c, const ProtobufCMessage *msg, void *arg)
{
	(void)arg;
	rpc_reply(c, msg);
}

static void silent(struct rpc_call *c, const ProtobufCMessage *msg, void *arg)
{
	(void)c;
	(void)msg;
	(void)arg;
}

static void follow(struct rpc_call *c, const ProtobufCMessage *msg, void *arg)
{
	Rctest__Answer ans = RCTEST__ANSWER__INIT;
	struct fixture *f = arg;

	ans.text = ((const Rctest__Ask *)msg)->text;
	ans.count = 0;
	f->stream = c;
	f->opened++;
	rpc_stream_send(c, &ans.base);
}

static void follow_closed(struct rpc_call *c, void *arg)
{
	struct fixture *f = arg;

	if (f->stream == c)
		f->stream = NULL;
	f->closed++;
}

static const struct rpc_method echo[] = {
	{ SAY, &rctest__ask__descriptor, &rctest__answer__descriptor, say, false, NULL },
	{ REFUSE, &rctest__ask__descriptor, &rctest__answer__descriptor, refuse, false, NULL },
	{ LATER, &rctest__ask__descriptor, &rctest__answer__descriptor, later, false, NULL },
	{ "/rctest.Echo/Wrong", &rctest__ask__descriptor, &rctest__answer__descriptor, wrong_type,
	  false, NULL },
	{ "/rctest.Echo/Silent", &rctest__ask__descriptor, &rctest__answer__descriptor, silent,
	  false, NULL },
};

static const struct rpc_method watch[] = {
	{ FOLLOW, &rctest__ask__descriptor, &rctest__answer__descriptor, follow, true,
	  follow_closed },
};

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Turns the server's loop until it has had nothing to do for @idle_ms. */
static void settle(int idle_ms)
{
	while (rpc_loop_next(fx.loop, idle_ms)) {
	}
}

/* ------------------------------------------------------------------ */
/* The library's own client                                            */

struct answer {
	bool done;
	grpc_status_code status;
	char msg[256];
	char text[256];
	int count;
	bool has_response;
};

static void on_answer(void *arg, grpc_status_code status, const char *msg,
		      const ProtobufCMessage *response)
{
	struct answer *a = arg;

	a->done = true;
	a->status = status;
	snprintf(a->msg, sizeof(a->msg), "%s", msg);
	if (response) {
		const Rctest__Answer *r = (const Rctest__Answer *)response;

		a->has_response = true;
		snprintf(a->text, sizeof(a->text), "%s", r->text);
		a->count = r->count;
	}
}

static bool start(const char *target, const char *path, const char *text, int times,
		  int deadline_ms, struct answer *a)
{
	Rctest__Ask ask = RCTEST__ASK__INIT;
	struct rc_err err;

	memset(a, 0, sizeof(*a));
	ask.text = (char *)text;
	ask.times = times;
	if (rpc_client_call(fx.loop, target, path, &ask.base, &rctest__answer__descriptor,
			    deadline_ms, on_answer, a, &err)) {
		fprintf(stderr, "  %s\n", err.msg);
		return false;
	}
	return true;
}

static void wait_answer(struct answer *a)
{
	double end = mono() + 10;

	while (!a->done && mono() < end)
		rpc_loop_next(fx.loop, 50);
	CHECK(a->done);
}

static void call(const char *path, const char *text, int times, struct answer *a)
{
	if (start(fx.target, path, text, times, 5000, a))
		wait_answer(a);
}

/* ------------------------------------------------------------------ */
/* A client on the gRPC core API: streams and raw request bytes        */

enum { T_START = 1, T_MSG, T_STATUS };

struct raw {
	grpc_completion_queue *cq;
	grpc_channel *channel;
	grpc_call *call;
	grpc_metadata_array md, trail;
	grpc_byte_buffer *send, *recv;
	grpc_status_code status;
	grpc_slice details;
	bool status_done, ended;	/* the status came; no more messages */
	int counts[16];			/* the streamed answers' counts */
	int n;
};

static void raw_recv(struct raw *r)
{
	grpc_op op;

	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_RECV_MESSAGE;
	op.data.recv_message.recv_message = &r->recv;
	CHECK(grpc_call_start_batch(r->call, &op, 1, (void *)T_MSG, NULL) == GRPC_CALL_OK);
}

/* Calls @path with @len bytes of @body as the request; starts reading answers. */
static void raw_open(struct raw *r, const char *path, const void *body, size_t len)
{
	grpc_channel_credentials *creds = grpc_insecure_credentials_create();
	grpc_slice s = grpc_slice_from_copied_buffer(body, len);
	grpc_slice method = grpc_slice_from_static_string(path);
	grpc_op ops[4];

	memset(r, 0, sizeof(*r));
	r->cq = grpc_completion_queue_create_for_next(NULL);
	r->channel = grpc_channel_create(fx.target, creds, NULL);
	grpc_channel_credentials_release(creds);
	r->call = grpc_channel_create_call(r->channel, NULL, GRPC_PROPAGATE_DEFAULTS, r->cq, method,
					   NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	r->send = grpc_raw_byte_buffer_create(&s, 1);
	grpc_slice_unref(s);
	grpc_metadata_array_init(&r->md);
	grpc_metadata_array_init(&r->trail);
	r->details = grpc_empty_slice();
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = r->send;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &r->md;
	CHECK(grpc_call_start_batch(r->call, ops, 4, (void *)T_START, NULL) == GRPC_CALL_OK);
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[0].data.recv_status_on_client.trailing_metadata = &r->trail;
	ops[0].data.recv_status_on_client.status = &r->status;
	ops[0].data.recv_status_on_client.status_details = &r->details;
	CHECK(grpc_call_start_batch(r->call, ops, 1, (void *)T_STATUS, NULL) == GRPC_CALL_OK);
	raw_recv(r);
}

/* One turn of both sides: the server's loop (when it still exists) and the client's queue. */
static void raw_turn(struct raw *r)
{
	grpc_event ev;

	if (fx.loop)
		rpc_loop_next(fx.loop, 2);
	ev = grpc_completion_queue_next(r->cq, gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
							    gpr_time_from_millis(2, GPR_TIMESPAN)),
					NULL);
	if (ev.type != GRPC_OP_COMPLETE)
		return;
	if (ev.tag == (void *)T_STATUS) {
		r->status_done = true;
	} else if (ev.tag == (void *)T_MSG) {
		Rctest__Answer *a = NULL;

		if (!r->recv) {
			r->ended = true;
			return;
		}
		{
			grpc_byte_buffer_reader rd;
			grpc_slice s;

			CHECK(grpc_byte_buffer_reader_init(&rd, r->recv));
			s = grpc_byte_buffer_reader_readall(&rd);
			grpc_byte_buffer_reader_destroy(&rd);
			a = rctest__answer__unpack(NULL, GRPC_SLICE_LENGTH(s),
						   GRPC_SLICE_START_PTR(s));
			grpc_slice_unref(s);
		}
		grpc_byte_buffer_destroy(r->recv);
		r->recv = NULL;
		CHECK(a != NULL);
		if (a && r->n < (int)(sizeof(r->counts) / sizeof(r->counts[0])))
			r->counts[r->n++] = a->count;
		if (a)
			rctest__answer__free_unpacked(a, NULL);
		raw_recv(r);
	}
}

#define RAW_UNTIL(r, cond)                                                  \
	do {                                                                \
		double _end = mono() + 10;                                  \
		while (!(cond) && mono() < _end)                            \
			raw_turn(r);                                        \
		CHECK(cond);                                                \
	} while (0)

static void raw_close(struct raw *r)
{
	grpc_call_cancel(r->call, NULL);
	RAW_UNTIL(r, r->status_done && r->ended);
	grpc_call_unref(r->call);
	grpc_channel_destroy(r->channel);
	grpc_completion_queue_shutdown(r->cq);
	while (grpc_completion_queue_next(r->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
	       GRPC_QUEUE_SHUTDOWN) {
	}
	grpc_completion_queue_destroy(r->cq);
	grpc_metadata_array_destroy(&r->md);
	grpc_metadata_array_destroy(&r->trail);
	grpc_byte_buffer_destroy(r->send);
	grpc_slice_unref(r->details);
}

static bool raw_details_are(struct raw *r, const char *want)
{
	return GRPC_SLICE_LENGTH(r->details) == strlen(want) &&
	       !memcmp(GRPC_SLICE_START_PTR(r->details), want, strlen(want));
}

/* Opens a Follow stream and waits for its first answer. */
static void open_follow(struct raw *r, const char *text)
{
	Rctest__Ask ask = RCTEST__ASK__INIT;
	uint8_t buf[128];
	size_t len;

	ask.text = (char *)text;
	len = rctest__ask__pack(&ask, buf);
	raw_open(r, FOLLOW, buf, len);
	RAW_UNTIL(r, r->n == 1);
	CHECK(fx.stream != NULL);
}

static void push(int count)
{
	Rctest__Answer ans = RCTEST__ANSWER__INIT;

	ans.text = "pushed";
	ans.count = count;
	CHECK(rpc_server_push(fx.server, FOLLOW, &ans.base) == 1);
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */

static void serve(void)
{
	struct rc_err err;

	snprintf(fx.dir, sizeof(fx.dir), "/tmp/rcache-grpc-XXXXXX");
	CHECK(mkdtemp(fx.dir) != NULL);
	snprintf(fx.sock, sizeof(fx.sock), "%s/test.sock", fx.dir);
	snprintf(fx.target, sizeof(fx.target), "unix:%s", fx.sock);
	fx.loop = rpc_loop_new();
	fx.server = rpc_server_new(fx.loop, "test");
	CHECK(fx.loop && fx.server);
	/* two services on one server; a path served twice is refused */
	CHECK(rpc_server_add(fx.server, echo, sizeof(echo) / sizeof(echo[0]), &fx, &err) == 0);
	CHECK(rpc_server_add(fx.server, watch, 1, &fx, &err) == 0);
	CHECK(rpc_server_add(fx.server, watch, 1, &fx, &err) == -1);
	CHECK(strstr(err.msg, FOLLOW " is served already") != NULL);
	CHECK(rpc_server_listen(fx.server, fx.sock, &err) == 0);
	CHECK(rpc_server_running(fx.server));
	CHECK(access(fx.sock, F_OK) == 0);
	/* a second listen while listening is refused */
	CHECK(rpc_server_listen(fx.server, fx.sock, &err) == -1);
}

static void unary_reply(void)
{
	struct answer a;

	call(SAY, "hello", 7, &a);
	CHECK(a.status == GRPC_STATUS_OK);
	CHECK(a.has_response);
	CHECK_STR(a.text, "you said hello");
	CHECK(a.count == 7);
	CHECK_STR(a.msg, "");
	/* the handler sees the caller's 5 s deadline: sent as a timeout, made a
	 * deadline again on the server's clock and rounded up to a millisecond,
	 * so it may read a little over 5000 */
	CHECK(fx.deadline_ms > 0 && fx.deadline_ms <= 5100);
}

static void unknown_method(void)
{
	struct answer a;

	call("/rctest.Echo/Shout", "hello", 1, &a);
	CHECK(a.status == GRPC_STATUS_UNIMPLEMENTED);
	CHECK_STR(a.msg, "unknown method");
	CHECK(!a.has_response);
}

static void handler_status_and_message(void)
{
	struct answer a;

	call(REFUSE, "imagenet", 1, &a);
	CHECK(a.status == GRPC_STATUS_NOT_FOUND);
	CHECK_STR(a.msg, "no imagenet here");
	CHECK(!a.has_response);
}

static void undecodable_request(void)
{
	/* field 1 (a string) claims 100 bytes and has 2 */
	static const uint8_t bad[] = { 0x0a, 100, 'h', 'i' };
	struct raw r;

	raw_open(&r, SAY, bad, sizeof(bad));
	RAW_UNTIL(&r, r.status_done);
	CHECK(r.status == GRPC_STATUS_INVALID_ARGUMENT);
	CHECK(raw_details_are(&r, "bad Ask"));
	raw_close(&r);
}

static void handler_mistakes(void)
{
	struct answer a;

	call("/rctest.Echo/Wrong", "x", 1, &a);
	CHECK(a.status == GRPC_STATUS_INTERNAL);
	CHECK_STR(a.msg, "internal error: wrong response type");
	call("/rctest.Echo/Silent", "x", 1, &a);
	CHECK(a.status == GRPC_STATUS_INTERNAL);
	CHECK_STR(a.msg, "internal error: no answer");
}

static void deferred_answer_and_deadline(void)
{
	Rctest__Answer ans = RCTEST__ANSWER__INIT;
	struct answer a;
	double end;

	/* answered later, from the loop */
	CHECK(start(fx.target, LATER, "x", 1, 5000, &a));
	end = mono() + 10;
	while (!fx.later && mono() < end)
		rpc_loop_next(fx.loop, 50);
	CHECK(fx.later != NULL);
	if (!fx.later)
		return;
	settle(50);
	CHECK(!a.done);
	CHECK(!rpc_call_cancelled(fx.later));
	CHECK_STR(rpc_call_method(fx.later), LATER);
	ans.text = "later";
	ans.count = 42;
	CHECK(rpc_reply(fx.later, &ans.base) == 0);
	fx.later = NULL;
	wait_answer(&a);
	CHECK(a.status == GRPC_STATUS_OK);
	CHECK_STR(a.text, "later");
	CHECK(a.count == 42);

	/* not answered within the caller's deadline */
	CHECK(start(fx.target, LATER, "x", 1, 300, &a));
	wait_answer(&a);
	CHECK(a.status == GRPC_STATUS_DEADLINE_EXCEEDED);
	CHECK(fx.later != NULL);
	if (!fx.later)
		return;
	settle(50);
	CHECK(rpc_call_cancelled(fx.later));
	CHECK(rpc_call_deadline_ms(fx.later) <= 0);
	/* a late answer reaches no one and is harmless; a second one is refused */
	CHECK(rpc_fail(fx.later, GRPC_STATUS_UNAVAILABLE, "too late") == 0);
	CHECK(rpc_fail(fx.later, GRPC_STATUS_UNAVAILABLE, "too late") == -1);
	fx.later = NULL;
	settle(50);
}

static void stream_carries_state(void)
{
	struct raw r;
	int closed = fx.closed;
	double end;

	open_follow(&r, "first");
	CHECK(r.counts[0] == 0);
	settle(50);
	/* 1 goes out at once; 2 waits behind it and 3 replaces it */
	push(1);
	push(2);
	push(3);
	RAW_UNTIL(&r, r.n == 3);
	for (end = mono() + 0.2; mono() < end;)
		raw_turn(&r);
	CHECK(r.n == 3);
	CHECK(r.counts[1] == 1 && r.counts[2] == 3);
	/* a unary method on the same server meanwhile */
	{
		struct answer a;

		call(SAY, "again", 2, &a);
		CHECK(a.status == GRPC_STATUS_OK && a.count == 2);
	}
	/* the client goes away: the stream's closed callback runs, sends are refused */
	raw_close(&r);
	settle(100);
	CHECK(fx.closed == closed + 1);
	CHECK(fx.stream == NULL);
	{
		Rctest__Answer ans = RCTEST__ANSWER__INIT;

		CHECK(rpc_server_push(fx.server, FOLLOW, &ans.base) == 0);
	}
}

static void on_stopped(struct rpc_server *s, void *arg)
{
	struct fixture *f = arg;

	CHECK(s == f->server);
	f->stopped++;
}

static void stop_and_listen_again(void)
{
	struct rc_err err;
	struct answer a;
	struct raw r;
	double end;
	int closed = fx.closed;

	open_follow(&r, "stop");
	rpc_server_stop(fx.server, on_stopped, &fx);
	CHECK(!rpc_server_running(fx.server));
	RAW_UNTIL(&r, r.status_done && fx.stopped == 1);
	CHECK(r.status != GRPC_STATUS_OK);
	CHECK(fx.closed == closed + 1);
	raw_close(&r);
	unlink(fx.sock);
	CHECK(rpc_server_listen(fx.server, fx.sock, &err) == 0);
	end = mono() + 5;
	do {
		call(SAY, "back", 3, &a);
	} while (a.status == GRPC_STATUS_UNAVAILABLE && mono() < end);
	CHECK(a.status == GRPC_STATUS_OK && a.count == 3);
}

static void client_without_server(void)
{
	char target[200];
	struct answer a;
	double t0 = mono();

	snprintf(target, sizeof(target), "unix:%s/nobody.sock", fx.dir);
	CHECK(start(target, SAY, "x", 1, 1000, &a));
	wait_answer(&a);
	CHECK(a.status == GRPC_STATUS_UNAVAILABLE || a.status == GRPC_STATUS_DEADLINE_EXCEEDED);
	CHECK(!a.has_response);
	CHECK(mono() - t0 < 5);
}

static void shutdown_with_stream_open(void)
{
	struct raw r;
	double t0;
	int closed;

	open_follow(&r, "last");
	settle(50);
	closed = fx.closed;
	t0 = mono();
	rpc_server_free(fx.server);
	fx.server = NULL;
	rpc_loop_free(fx.loop, 2000);
	fx.loop = NULL;
	/* wound down at once, not by the 2 s idle bound */
	CHECK(mono() - t0 < 1.5);
	/* no callback ran after the free */
	CHECK(fx.closed == closed);
	RAW_UNTIL(&r, r.status_done);
	CHECK(r.status != GRPC_STATUS_OK);
	raw_close(&r);
	CHECK(access(fx.sock, F_OK) != 0 || unlink(fx.sock) == 0);
	CHECK(rmdir(fx.dir) == 0);
}

int main(void)
{
	/* the test's own core-API client outlives the library's loop */
	grpc_init();
	RUN("grpc", serve);
	RUN("grpc", unary_reply);
	RUN("grpc", unknown_method);
	RUN("grpc", handler_status_and_message);
	RUN("grpc", undecodable_request);
	RUN("grpc", handler_mistakes);
	RUN("grpc", deferred_answer_and_deadline);
	RUN("grpc", stream_carries_state);
	RUN("grpc", stop_and_listen_again);
	RUN("grpc", client_without_server);
	RUN("grpc", shutdown_with_stream_open);
	grpc_shutdown();
	UNIT_EXIT();
}
