/* SPDX-License-Identifier: GPL-2.0-only */
/* A unary gRPC call to another server (the kubelet's Registration). */
#ifndef RCACHE_GRPC_CLIENT_H
#define RCACHE_GRPC_CLIENT_H

#include <grpc/status.h>

#include "common/error.h"
#include "grpc/core.h"

/*
 * The answer: @status, its message ("" when none) and, when the status is
 * OK, the decoded @response (NULL when no descriptor was given); none of
 * them outlives the callback.
 */
typedef void rpc_done_fn(void *arg, grpc_status_code status, const char *message,
			 const ProtobufCMessage *response);

/*
 * Calls @method ("/package.Service/Method") at @target (a gRPC target such
 * as "unix:/path/to.sock") with @request; the server has @deadline_ms to
 * answer.  @done runs from the loop.  0, or -1 with @err set when the call
 * cannot start (then @done never runs).
 */
int rpc_client_call(struct rpc_loop *loop, const char *target, const char *method,
		    const ProtobufCMessage *request, const ProtobufCMessageDescriptor *response,
		    int deadline_ms, rpc_done_fn *done, void *arg, struct rc_err *err);

#endif
