// SPDX-License-Identifier: GPL-2.0-only
/*
 * gRPC servers on unix sockets over the C core.  Each call is a struct
 * rpc_call counted by the batches in flight on it (plus one while it is
 * requested, dispatched or deferred); a server winds down once its listener
 * shut down and its last call is gone.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include "common/error.h"
#include "common/log.h"
#include "grpc/server.h"

struct method_entry {
	struct rpc_method m;
	void *arg;
};

struct rpc_server {
	struct rpc_loop *loop;
	char name[128];
	struct method_entry *methods;
	size_t nmethods;
	grpc_server *server;		/* while listening or shutting down */
	bool stopping;			/* shutdown requested, not wound down yet */
	bool freed;			/* rpc_server_free() was called */
	void (*stopped)(struct rpc_server *s, void *arg);
	void *stopped_arg;
	struct rpc_tag t_shutdown;
	struct rpc_call *calls;		/* every live call */
	int ncalls;
};

struct rpc_call {
	struct rpc_server *srv;
	struct rpc_call *next;
	const struct method_entry *method;	/* NULL before dispatch, or unknown */
	grpc_call *call;
	grpc_call_details details;
	grpc_metadata_array md;
	grpc_byte_buffer *recv;
	grpc_byte_buffer *sending;	/* on its way */
	grpc_byte_buffer *waiting;	/* stream: the newest message behind it */
	char path[256];
	int refs;
	int cancelled;			/* set by RECV_CLOSE_ON_SERVER */
	bool closed;			/* RECV_CLOSE_ON_SERVER completed */
	bool streaming;			/* an open stream (dispatched) */
	bool sent_md;
	bool answered;			/* status sent, or queued behind a message */
	bool deferred;
	bool status_waiting;		/* stream: status queued behind a message */
	grpc_status_code status;
	char *status_msg;
	struct rpc_tag t_new, t_recv, t_send, t_close;
};

#define CALL_OF(t, member) ((struct rpc_call *)((char *)(t) - offsetof(struct rpc_call, member)))

static void call_request(struct rpc_server *s);
static void server_check_stopped(struct rpc_server *s);

static void call_put(struct rpc_call *c)
{
	struct rpc_server *s = c->srv;
	struct rpc_call **pp;

	if (--c->refs > 0)
		return;
	for (pp = &s->calls; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	if (c->call)
		grpc_call_unref(c->call);
	grpc_call_details_destroy(&c->details);
	grpc_metadata_array_destroy(&c->md);
	if (c->recv)
		grpc_byte_buffer_destroy(c->recv);
	if (c->sending)
		grpc_byte_buffer_destroy(c->sending);
	if (c->waiting)
		grpc_byte_buffer_destroy(c->waiting);
	free(c->status_msg);
	free(c);
	s->ncalls--;
	server_check_stopped(s);
}

static int batch(struct rpc_call *c, grpc_op *ops, size_t n, struct rpc_tag *t)
{
	grpc_call_error e;

	c->refs++;
	e = grpc_call_start_batch(c->call, ops, n, t, NULL);
	if (e != GRPC_CALL_OK) {
		rc_err("%s: %s: grpc_call_start_batch: error %d", c->srv->name, c->path, (int)e);
		c->refs--;
		return -1;
	}
	return 0;
}

/* Initial metadata when not sent yet, @bb (may be NULL), the status when @final. */
static int send_ops(struct rpc_call *c, grpc_byte_buffer *bb, bool final, grpc_status_code code,
		    const char *msg)
{
	grpc_slice details = grpc_slice_from_copied_string(msg ? msg : "");
	grpc_op ops[3];
	size_t n = 0;
	int ret;

	memset(ops, 0, sizeof(ops));
	if (!c->sent_md) {
		ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
		c->sent_md = true;
	}
	if (bb) {
		c->sending = bb;
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n].data.send_message.send_message = bb;
		n++;
	}
	if (final) {
		ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
		ops[n].data.send_status_from_server.status = code;
		ops[n].data.send_status_from_server.status_details = msg ? &details : NULL;
		n++;
	}
	ret = batch(c, ops, n, &c->t_send);
	grpc_slice_unref(details);
	return ret;
}

/* Answered: drops the reference a deferral took. */
static void answered(struct rpc_call *c)
{
	c->answered = true;
	if (c->deferred) {
		c->deferred = false;
		call_put(c);
	}
}

int rpc_reply(struct rpc_call *c, const ProtobufCMessage *response)
{
	const ProtobufCMessageDescriptor *want = c->method ? c->method->m.response : NULL;

	if (c->answered || c->streaming)
		return -1;
	if (want && response->descriptor != want) {
		rc_err("%s: %s: a handler replied with a %s, not a %s", c->srv->name, c->path,
		       response->descriptor->name, want->name);
		rpc_fail(c, GRPC_STATUS_INTERNAL, "internal error: wrong response type");
		return -1;
	}
	send_ops(c, rpc_pack(response), true, GRPC_STATUS_OK, NULL);
	answered(c);
	return 0;
}

static int fail_msg(struct rpc_call *c, grpc_status_code code, const char *msg)
{
	if (c->answered)
		return -1;
	if (c->sending) {
		/* a stream's message is on its way: the status follows it */
		free(c->status_msg);
		c->status_msg = strdup(msg);
		c->status = code;
		c->status_waiting = true;
	} else {
		send_ops(c, NULL, true, code, msg);
	}
	answered(c);
	return 0;
}

int rpc_fail(struct rpc_call *c, grpc_status_code code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return fail_msg(c, code, msg);
}

void rpc_defer(struct rpc_call *c)
{
	if (c->answered || c->deferred || c->streaming)
		return;
	c->deferred = true;
	c->refs++;
}

int rpc_stream_send(struct rpc_call *c, const ProtobufCMessage *m)
{
	if (!c->streaming || c->answered || c->closed || c->srv->stopping)
		return -1;
	if (c->sending) {
		if (c->waiting)
			grpc_byte_buffer_destroy(c->waiting);
		c->waiting = rpc_pack(m);
		return 0;
	}
	return send_ops(c, rpc_pack(m), false, GRPC_STATUS_OK, NULL);
}

int rpc_server_push(struct rpc_server *s, const char *path, const ProtobufCMessage *m)
{
	struct rpc_call *c, *next;
	int n = 0;

	for (c = s->calls; c; c = next) {
		next = c->next;
		if (c->streaming && !strcmp(c->path, path) && !rpc_stream_send(c, m))
			n++;
	}
	return n;
}

const char *rpc_call_method(const struct rpc_call *c)
{
	return c->path;
}

int64_t rpc_call_deadline_ms(const struct rpc_call *c)
{
	gpr_timespec deadline = c->details.deadline;

	if (!gpr_time_cmp(deadline, gpr_inf_future(deadline.clock_type)))
		return INT64_MAX;
	return gpr_time_to_millis(gpr_time_sub(gpr_convert_clock_type(deadline,
								       GPR_CLOCK_MONOTONIC),
					       gpr_now(GPR_CLOCK_MONOTONIC)));
}

bool rpc_call_cancelled(const struct rpc_call *c)
{
	return c->closed || c->cancelled || c->srv->stopping;
}

static const struct method_entry *method_find(const struct rpc_server *s, const char *path)
{
	size_t i;

	for (i = 0; i < s->nmethods; i++)
		if (!strcmp(s->methods[i].m.path, path))
			return &s->methods[i];
	return NULL;
}

static void on_recv(struct rpc_tag *t, bool ok)
{
	struct rpc_call *c = CALL_OF(t, t_recv);
	struct rpc_server *s = c->srv;
	const struct method_entry *e = method_find(s, c->path);
	ProtobufCMessage *req = NULL;

	if (!ok || s->stopping) {
		call_put(c);
		return;
	}
	if (!e) {
		fail_msg(c, GRPC_STATUS_UNIMPLEMENTED, "unknown method");
		call_put(c);
		return;
	}
	if (e->m.request) {
		req = rpc_unpack(e->m.request, c->recv);
		if (!req) {
			rpc_fail(c, GRPC_STATUS_INVALID_ARGUMENT, "bad %s",
				 e->m.request->short_name);
			call_put(c);
			return;
		}
	}
	c->method = e;
	c->streaming = e->m.streaming;
	e->m.handler(c, req, e->arg);
	if (req)
		protobuf_c_message_free_unpacked(req, NULL);
	if (!c->streaming && !c->answered && !c->deferred) {
		rc_err("%s: %s: the handler did not answer", s->name, c->path);
		fail_msg(c, GRPC_STATUS_INTERNAL, "internal error: no answer");
	}
	call_put(c);
}

static void on_send(struct rpc_tag *t, bool ok)
{
	struct rpc_call *c = CALL_OF(t, t_send);

	if (c->sending) {
		grpc_byte_buffer_destroy(c->sending);
		c->sending = NULL;
	}
	if (ok && c->waiting) {
		grpc_byte_buffer *bb = c->waiting;

		c->waiting = NULL;
		send_ops(c, bb, false, GRPC_STATUS_OK, NULL);
	} else if (ok && c->status_waiting) {
		c->status_waiting = false;
		send_ops(c, NULL, true, c->status, c->status_msg);
	}
	call_put(c);
}

static void on_close(struct rpc_tag *t, bool ok)
{
	struct rpc_call *c = CALL_OF(t, t_close);
	struct rpc_server *s = c->srv;

	(void)ok;
	c->closed = true;
	if (c->method && c->method->m.closed && !s->freed)
		c->method->m.closed(c, c->method->arg);
	call_put(c);
}

static void on_new(struct rpc_tag *t, bool ok)
{
	struct rpc_call *c = CALL_OF(t, t_new);
	struct rpc_server *s = c->srv;
	char *path;
	grpc_op op;

	if (!ok) {
		/* the server is shutting down */
		call_put(c);
		return;
	}
	if (!s->stopping)
		call_request(s);
	path = grpc_slice_to_c_string(c->details.method);
	snprintf(c->path, sizeof(c->path), "%s", path);
	gpr_free(path);
	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	op.data.recv_close_on_server.cancelled = &c->cancelled;
	batch(c, &op, 1, &c->t_close);
	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_RECV_MESSAGE;
	op.data.recv_message.recv_message = &c->recv;
	batch(c, &op, 1, &c->t_recv);
	call_put(c);	/* the reference of the request */
}

static void call_request(struct rpc_server *s)
{
	struct rpc_call *c = calloc(1, sizeof(*c));
	grpc_completion_queue *cq = rpc_loop_cq(s->loop);
	grpc_call_error e;

	if (!c)
		return;
	c->srv = s;
	c->t_new.fn = on_new;
	c->t_recv.fn = on_recv;
	c->t_send.fn = on_send;
	c->t_close.fn = on_close;
	grpc_call_details_init(&c->details);
	grpc_metadata_array_init(&c->md);
	c->refs = 1;
	c->next = s->calls;
	s->calls = c;
	s->ncalls++;
	e = grpc_server_request_call(s->server, &c->call, &c->details, &c->md, cq, cq, &c->t_new);
	if (e != GRPC_CALL_OK) {
		rc_err("%s: grpc_server_request_call: error %d", s->name, (int)e);
		call_put(c);
	}
}

struct rpc_server *rpc_server_new(struct rpc_loop *loop, const char *name)
{
	struct rpc_server *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->loop = loop;
	snprintf(s->name, sizeof(s->name), "%s", name);
	rpc_loop_hold(loop);
	return s;
}

int rpc_server_add(struct rpc_server *s, const struct rpc_method *methods, size_t n, void *arg,
		   struct rc_err *err)
{
	struct method_entry *grown;
	size_t i;

	for (i = 0; i < n; i++)
		if (method_find(s, methods[i].path)) {
			rc_errf(err, EEXIST, "%s: %s is served already", s->name, methods[i].path);
			return -1;
		}
	grown = realloc(s->methods, sizeof(*grown) * (s->nmethods + n));
	if (!grown) {
		rc_errf(err, ENOMEM, "%s: out of memory", s->name);
		return -1;
	}
	s->methods = grown;
	for (i = 0; i < n; i++) {
		grown[s->nmethods + i].m = methods[i];
		grown[s->nmethods + i].arg = arg;
	}
	s->nmethods += n;
	return 0;
}

int rpc_server_listen(struct rpc_server *s, const char *sock_path, struct rc_err *err)
{
	grpc_server_credentials *creds;
	char addr[4200];
	int ok;

	if (s->server || s->stopping || s->freed) {
		rc_errf(err, EBUSY, "%s: listening or stopping already", s->name);
		return -1;
	}
	unlink(sock_path);
	s->server = grpc_server_create(NULL, NULL);
	grpc_server_register_completion_queue(s->server, rpc_loop_cq(s->loop), NULL);
	snprintf(addr, sizeof(addr), "unix:%s", sock_path);
	creds = grpc_insecure_server_credentials_create();
	ok = grpc_server_add_http2_port(s->server, addr, creds);
	grpc_server_credentials_release(creds);
	if (!ok) {
		grpc_server_destroy(s->server);
		s->server = NULL;
		rc_errf(err, EADDRNOTAVAIL, "%s: cannot listen on %s", s->name, sock_path);
		return -1;
	}
	grpc_server_start(s->server);
	call_request(s);
	return 0;
}

bool rpc_server_running(const struct rpc_server *s)
{
	return s && s->server && !s->stopping;
}

static void server_check_stopped(struct rpc_server *s)
{
	if (!s->stopping || s->server || s->ncalls)
		return;
	s->stopping = false;
	if (s->freed) {
		struct rpc_loop *loop = s->loop;

		free(s->methods);
		free(s);
		rpc_loop_release(loop);
		return;
	}
	if (s->stopped)
		s->stopped(s, s->stopped_arg);
}

static void on_shutdown(struct rpc_tag *t, bool ok)
{
	struct rpc_server *s = (struct rpc_server *)((char *)t -
						     offsetof(struct rpc_server, t_shutdown));

	(void)ok;
	grpc_server_destroy(s->server);
	s->server = NULL;
	server_check_stopped(s);
}

void rpc_server_stop(struct rpc_server *s, void (*stopped)(struct rpc_server *s, void *arg),
		     void *arg)
{
	if (!s->server || s->stopping)
		return;
	s->stopping = true;
	s->stopped = stopped;
	s->stopped_arg = arg;
	s->t_shutdown.fn = on_shutdown;
	grpc_server_shutdown_and_notify(s->server, rpc_loop_cq(s->loop), &s->t_shutdown);
	grpc_server_cancel_all_calls(s->server);
}

void rpc_server_free(struct rpc_server *s)
{
	struct rpc_call *c, *next;

	if (!s)
		return;
	s->freed = true;
	s->stopped = NULL;
	rpc_server_stop(s, NULL, NULL);
	if (!s->stopping) {
		/* never listened, or wound down already */
		s->stopping = true;
		server_check_stopped(s);
		return;
	}
	/* deferred calls: cancelled by the shutdown, their answers never come */
	for (c = s->calls; c; c = next) {
		next = c->next;
		if (c->deferred) {
			c->deferred = false;
			c->answered = true;
			call_put(c);
		}
	}
}
