// SPDX-License-Identifier: GPL-2.0-only
/*
 * The loop under rcache's gRPC servers and clients: one completion queue
 * whose events carry a struct rpc_tag, and the protobuf-c <-> byte buffer
 * conversions both sides use.
 */
#include <stdlib.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>

#include "grpc/core.h"

struct rpc_loop {
	grpc_completion_queue *cq;
	int live;		/* servers and client calls not yet wound down */
};

struct rpc_loop *rpc_loop_new(void)
{
	struct rpc_loop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return NULL;
	grpc_init();
	loop->cq = grpc_completion_queue_create_for_next(NULL);
	return loop;
}

int rpc_loop_next(struct rpc_loop *loop, int timeout_ms)
{
	gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
					     gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
	grpc_event ev = grpc_completion_queue_next(loop->cq, deadline, NULL);
	struct rpc_tag *t = ev.tag;

	if (ev.type != GRPC_OP_COMPLETE)
		return 0;
	t->fn(t, ev.success);
	return 1;
}

void rpc_loop_free(struct rpc_loop *loop, int idle_ms)
{
	if (!loop)
		return;
	while (loop->live > 0 && rpc_loop_next(loop, idle_ms)) {
	}
	grpc_completion_queue_shutdown(loop->cq);
	while (grpc_completion_queue_next(loop->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
	       GRPC_QUEUE_SHUTDOWN) {
	}
	grpc_completion_queue_destroy(loop->cq);
	grpc_shutdown();
	free(loop);
}

grpc_completion_queue *rpc_loop_cq(struct rpc_loop *loop)
{
	return loop->cq;
}

void rpc_loop_hold(struct rpc_loop *loop)
{
	loop->live++;
}

void rpc_loop_release(struct rpc_loop *loop)
{
	loop->live--;
}

grpc_byte_buffer *rpc_pack(const ProtobufCMessage *m)
{
	grpc_slice s = grpc_slice_malloc(protobuf_c_message_get_packed_size(m));
	grpc_byte_buffer *bb;

	protobuf_c_message_pack(m, GRPC_SLICE_START_PTR(s));
	bb = grpc_raw_byte_buffer_create(&s, 1);
	grpc_slice_unref(s);
	return bb;
}

ProtobufCMessage *rpc_unpack(const ProtobufCMessageDescriptor *desc, grpc_byte_buffer *bb)
{
	grpc_byte_buffer_reader r;
	ProtobufCMessage *m;
	grpc_slice s;

	if (!bb || !grpc_byte_buffer_reader_init(&r, bb))
		return NULL;
	s = grpc_byte_buffer_reader_readall(&r);
	grpc_byte_buffer_reader_destroy(&r);
	m = protobuf_c_message_unpack(desc, NULL, GRPC_SLICE_LENGTH(s), GRPC_SLICE_START_PTR(s));
	grpc_slice_unref(s);
	return m;
}
