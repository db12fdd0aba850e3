/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * gRPC for rcache's programs (the device plugin, the CSI driver): the gRPC
 * C core (libgrpc) driven from the program's one thread through one
 * completion queue, messages encoded with protobuf-c.  A program makes one
 * loop, serves (grpc/server.h) and calls (grpc/client.h) through it, and
 * turns it from its own main loop with rpc_loop_next(); every handler and
 * callback runs there.
 */
#ifndef RCACHE_GRPC_CORE_H
#define RCACHE_GRPC_CORE_H

#include <stdbool.h>

#include <grpc/grpc.h>
#include <protobuf-c/protobuf-c.h>

struct rpc_loop;

/* Starts gRPC and makes the loop; NULL when out of memory. */
struct rpc_loop *rpc_loop_new(void);

/*
 * Waits up to @timeout_ms for one event and handles it (its handler or
 * callback runs here).  1 when one was handled, 0 when the time passed.
 */
int rpc_loop_next(struct rpc_loop *loop, int timeout_ms);

/*
 * Lets what is still winding down finish (servers given to
 * rpc_server_free(), client calls until their deadline) while events keep
 * coming within @idle_ms of each other, then releases gRPC.  Free every
 * server first.
 */
void rpc_loop_free(struct rpc_loop *loop, int idle_ms);

/* ---- shared by grpc/server.c and grpc/client.c, not for programs ---- */

/* What a completion queue event points to: its handler. */
struct rpc_tag {
	void (*fn)(struct rpc_tag *t, bool ok);
};

grpc_completion_queue *rpc_loop_cq(struct rpc_loop *loop);
/* One more (one less) object that must wind down before the loop ends. */
void rpc_loop_hold(struct rpc_loop *loop);
void rpc_loop_release(struct rpc_loop *loop);

/* @m encoded into a new byte buffer. */
grpc_byte_buffer *rpc_pack(const ProtobufCMessage *m);
/* @bb decoded as a @desc; NULL when @bb is NULL or not one. */
ProtobufCMessage *rpc_unpack(const ProtobufCMessageDescriptor *desc, grpc_byte_buffer *bb);

#endif
