/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A gRPC server on a unix socket: unary and server-streaming methods of any
 * number of services, by full method name, their messages protobuf-c's.
 *
 * A handler answers a unary call with rpc_reply() or rpc_fail() (a status
 * code such as GRPC_STATUS_INVALID_ARGUMENT and a message for the caller),
 * before it returns or, after rpc_defer(), later from the loop.  A
 * streaming method's handler opens the stream; the program pushes messages
 * to it with rpc_stream_send() / rpc_server_push() whenever its state
 * changes, and may end it with rpc_fail().  A stream carries state: while a
 * message is on its way, a newer one replaces any other waiting behind it,
 * so a slow client gets the newest state, not every step.
 */
#ifndef RCACHE_GRPC_SERVER_H
#define RCACHE_GRPC_SERVER_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <grpc/status.h>

#include "common/error.h"
#include "grpc/core.h"

struct rpc_server;
struct rpc_call;

/* A call of a method with its decoded @request (freed when it returns). */
typedef void rpc_handler_fn(struct rpc_call *call, const ProtobufCMessage *request, void *arg);
/* The call ended: answered, cancelled by the client, or the server stopped. */
typedef void rpc_closed_fn(struct rpc_call *call, void *arg);

struct rpc_method {
	const char *path;		/* "/package.Service/Method" */
	const ProtobufCMessageDescriptor *request;
	const ProtobufCMessageDescriptor *response;	/* checked on every reply */
	rpc_handler_fn *handler;
	bool streaming;			/* server streaming: handler opens the stream */
	rpc_closed_fn *closed;		/* optional */
};

/* A server, not yet listening; @name starts its log lines. */
struct rpc_server *rpc_server_new(struct rpc_loop *loop, const char *name);

/*
 * Serves the @n @methods of one service (call it once per service); their
 * handlers get @arg.  -1 with @err set when a path is served already.
 */
int rpc_server_add(struct rpc_server *s, const struct rpc_method *methods, size_t n, void *arg,
		   struct rc_err *err);

/* Listens on @sock_path (a file there is replaced).  -1 with @err set when it cannot. */
int rpc_server_listen(struct rpc_server *s, const char *sock_path, struct rc_err *err);

/* Listening and not stopping. */
bool rpc_server_running(const struct rpc_server *s);

/*
 * Stops listening and cancels every call; @stopped (optional) runs from the
 * loop once the listener is closed and every call ended (a deferred call
 * ends when answered).  Then the server may listen again, or be freed.
 */
void rpc_server_stop(struct rpc_server *s, void (*stopped)(struct rpc_server *s, void *arg),
		     void *arg);

/*
 * Stops the server and forgets it: no handler or callback of it runs again
 * and its deferred calls are gone (do not answer them); its memory goes
 * once it wound down.  NULL is fine.
 */
void rpc_server_free(struct rpc_server *s);

/* The unary call's response; status OK.  -1 when the call was answered already. */
int rpc_reply(struct rpc_call *call, const ProtobufCMessage *response);

/* Ends a unary call or a stream with @code and a message; -1 when ended already. */
int rpc_fail(struct rpc_call *call, grpc_status_code code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The handler answers later, from the loop: @call stays valid until then. */
void rpc_defer(struct rpc_call *call);

/* Sends @m on an open stream; -1 when it is not (any more) open. */
int rpc_stream_send(struct rpc_call *call, const ProtobufCMessage *m);

/* Sends @m on every open stream of method @path; how many there are. */
int rpc_server_push(struct rpc_server *s, const char *path, const ProtobufCMessage *m);

/* The method's path ("/package.Service/Method"). */
const char *rpc_call_method(const struct rpc_call *call);

/* Milliseconds left until the caller's deadline (<= 0: passed); INT64_MAX without one. */
int64_t rpc_call_deadline_ms(const struct rpc_call *call);

/* The caller went away or the server is stopping: an answer reaches no one. */
bool rpc_call_cancelled(const struct rpc_call *call);

#endif
