// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unary gRPC client calls over the C core: one channel per call (calls are
 * rare: a registration now and then), everything in one batch.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include "common/error.h"
#include "grpc/client.h"

struct client_call {
	struct rpc_loop *loop;
	const ProtobufCMessageDescriptor *response;
	rpc_done_fn *done;
	void *arg;
	grpc_channel *channel;
	grpc_call *call;
	grpc_metadata_array init_md, trail_md;
	grpc_byte_buffer *send, *recv;
	grpc_status_code status;
	grpc_slice details;
	struct rpc_tag t;
};

static void client_free(struct client_call *cc)
{
	struct rpc_loop *loop = cc->loop;

	grpc_metadata_array_destroy(&cc->init_md);
	grpc_metadata_array_destroy(&cc->trail_md);
	if (cc->send)
		grpc_byte_buffer_destroy(cc->send);
	if (cc->recv)
		grpc_byte_buffer_destroy(cc->recv);
	grpc_slice_unref(cc->details);
	if (cc->call)
		grpc_call_unref(cc->call);
	grpc_channel_destroy(cc->channel);
	free(cc);
	rpc_loop_release(loop);
}

static void on_answer(struct rpc_tag *t, bool ok)
{
	struct client_call *cc = (struct client_call *)((char *)t - offsetof(struct client_call, t));
	grpc_status_code status = ok ? cc->status : GRPC_STATUS_UNKNOWN;
	char *msg = grpc_slice_to_c_string(cc->details);
	const char *why = msg;
	ProtobufCMessage *resp = NULL;

	if (status == GRPC_STATUS_OK && cc->response) {
		resp = rpc_unpack(cc->response, cc->recv);
		if (!resp) {
			status = GRPC_STATUS_INTERNAL;
			why = "the response is not a valid message";
		}
	}
	cc->done(cc->arg, status, why, resp);
	if (resp)
		protobuf_c_message_free_unpacked(resp, NULL);
	gpr_free(msg);
	client_free(cc);
}

int rpc_client_call(struct rpc_loop *loop, const char *target, const char *method,
		    const ProtobufCMessage *request, const ProtobufCMessageDescriptor *response,
		    int deadline_ms, rpc_done_fn *done, void *arg, struct rc_err *err)
{
	struct client_call *cc = calloc(1, sizeof(*cc));
	grpc_channel_credentials *creds;
	grpc_slice path;
	grpc_op ops[6];

	if (!cc) {
		rc_errf(err, ENOMEM, "%s: out of memory", method);
		return -1;
	}
	rpc_loop_hold(loop);
	cc->loop = loop;
	cc->response = response;
	cc->done = done;
	cc->arg = arg;
	cc->t.fn = on_answer;
	creds = grpc_insecure_credentials_create();
	cc->channel = grpc_channel_create(target, creds, NULL);
	grpc_channel_credentials_release(creds);
	path = grpc_slice_from_copied_string(method);
	cc->call = grpc_channel_create_call(cc->channel, NULL, GRPC_PROPAGATE_DEFAULTS,
					    rpc_loop_cq(loop), path, NULL,
					    gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
							 gpr_time_from_millis(deadline_ms,
									      GPR_TIMESPAN)),
					    NULL);
	grpc_slice_unref(path);
	cc->send = rpc_pack(request);
	grpc_metadata_array_init(&cc->init_md);
	grpc_metadata_array_init(&cc->trail_md);
	cc->details = grpc_empty_slice();
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = cc->send;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &cc->init_md;
	ops[4].op = GRPC_OP_RECV_MESSAGE;
	ops[4].data.recv_message.recv_message = &cc->recv;
	ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[5].data.recv_status_on_client.trailing_metadata = &cc->trail_md;
	ops[5].data.recv_status_on_client.status = &cc->status;
	ops[5].data.recv_status_on_client.status_details = &cc->details;
	if (!cc->call || grpc_call_start_batch(cc->call, ops, 6, &cc->t, NULL) != GRPC_CALL_OK) {
		client_free(cc);
		rc_errf(err, EIO, "%s at %s: cannot start the call", method, target);
		return -1;
	}
	return 0;
}
