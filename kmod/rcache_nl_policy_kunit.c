// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit suite "rcache_nl_policy": the generic netlink attribute policy
 * (dm-rcache-nlpolicy.c).  Attributes are validated the way generic netlink
 * validates every rcache command (strictly, as resv_start_op asks): what
 * the daemon and the CLI send is accepted, and everything else is refused
 * with the attribute named in the extended ack.
 */
#include <kunit/test.h>
#include <linux/dm-ioctl.h>
#include <linux/err.h>
#include <linux/string.h>
#include <net/netlink.h>

#include "dm-rcache.h"

#define RCACHE_NL_BUF	2048

struct rcache_nlbuf {
	u8 *data;
	int len;
	struct nlattr *last;
	struct netlink_ext_ack extack;
};

static struct rcache_nlbuf *rcache_nlbuf_new(struct kunit *test)
{
	struct rcache_nlbuf *b = kunit_kzalloc(test, sizeof(*b), GFP_KERNEL);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, b);
	b->data = kunit_kzalloc(test, RCACHE_NL_BUF, GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, b->data);
	return b;
}

/* Appends one attribute with @len bytes of payload, padded as netlink does. */
static void rcache_put(struct kunit *test, struct rcache_nlbuf *b, u16 type,
		       const void *data, int len)
{
	struct nlattr *nla = (struct nlattr *)(b->data + b->len);

	KUNIT_ASSERT_LE(test, b->len + nla_total_size(len), RCACHE_NL_BUF);
	nla->nla_type = type;
	nla->nla_len = nla_attr_size(len);
	if (len)
		memcpy(nla_data(nla), data, len);
	b->len += nla_total_size(len);
	b->last = nla;
}

static void rcache_put_u32(struct kunit *test, struct rcache_nlbuf *b, u16 type, u32 v)
{
	rcache_put(test, b, type, &v, sizeof(v));
}

static void rcache_put_u64(struct kunit *test, struct rcache_nlbuf *b, u16 type, u64 v)
{
	rcache_put(test, b, type, &v, sizeof(v));
}

/* A NUL-terminated string of @len copies of @c. */
static void rcache_put_str(struct kunit *test, struct rcache_nlbuf *b, u16 type,
			   char c, int len)
{
	char *s = kunit_kzalloc(test, len + 1, GFP_KERNEL);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, s);
	memset(s, c, len);
	rcache_put(test, b, type, s, len + 1);
}

static int rcache_validate(struct rcache_nlbuf *b)
{
	memset(&b->extack, 0, sizeof(b->extack));
	return nla_validate((const struct nlattr *)b->data, b->len, RCACHE_ATTR_MAX,
			    rcache_nl_policy, &b->extack);
}

/* The last attribute put is refused with @err, and the ack names it. */
static void rcache_expect_refused(struct kunit *test, struct rcache_nlbuf *b,
				  int err, const char *msg)
{
	KUNIT_EXPECT_EQ(test, rcache_validate(b), err);
	KUNIT_EXPECT_PTR_EQ(test, b->extack.bad_attr, (const struct nlattr *)b->last);
	KUNIT_ASSERT_NOT_NULL(test, b->extack._msg);
	KUNIT_EXPECT_STREQ(test, b->extack._msg, msg);
}

/* What rcached and rcachectl send, command by command, passes and parses. */
static void rcache_nl_requests_accepted(struct kunit *test)
{
	struct nlattr *tb[RCACHE_ATTR_MAX + 1];
	struct rcache_nlbuf *b = rcache_nlbuf_new(test);

	/* REGISTER */
	rcache_put_u32(test, b, RCACHE_ATTR_PROTO_VERSION, RCACHE_GENL_VERSION);
	/* FETCH_DONE (with DEV_ID below) */
	rcache_put_u32(test, b, RCACHE_ATTR_REQ_ID, 1);
	rcache_put_u64(test, b, RCACHE_ATTR_BLOCK, U64_MAX);
	rcache_put_u32(test, b, RCACHE_ATTR_ERRNO, MAX_ERRNO);
	rcache_put_u32(test, b, RCACHE_ATTR_FLAGS, RCACHE_DONE_F_CACHE_WRITE);
	/* GET_STATUS by DEV_ID, DEV or NAME */
	rcache_put_u64(test, b, RCACHE_ATTR_DEV_ID, U64_MAX);
	rcache_put_u32(test, b, RCACHE_ATTR_DEV, 0xfd00001);
	rcache_put_str(test, b, RCACHE_ATTR_NAME, 'n', DM_NAME_LEN - 1);
	/* SET_STATE */
	rcache_put_u32(test, b, RCACHE_ATTR_STATE, RCACHE_STATE_STALE);
	rcache_put_str(test, b, RCACHE_ATTR_REASON, 'r', RCACHE_NL_REASON_MAX);

	KUNIT_ASSERT_EQ(test, rcache_validate(b), 0);
	KUNIT_ASSERT_EQ(test, nla_parse(tb, RCACHE_ATTR_MAX, (const struct nlattr *)b->data,
					b->len, rcache_nl_policy, &b->extack), 0);
	KUNIT_ASSERT_NOT_NULL(test, tb[RCACHE_ATTR_PROTO_VERSION]);
	KUNIT_EXPECT_EQ(test, nla_get_u32(tb[RCACHE_ATTR_PROTO_VERSION]), RCACHE_GENL_VERSION);
	KUNIT_ASSERT_NOT_NULL(test, tb[RCACHE_ATTR_REQ_ID]);
	KUNIT_EXPECT_EQ(test, nla_get_u32(tb[RCACHE_ATTR_REQ_ID]), 1U);
	KUNIT_ASSERT_NOT_NULL(test, tb[RCACHE_ATTR_ERRNO]);
	KUNIT_EXPECT_EQ(test, nla_get_u32(tb[RCACHE_ATTR_ERRNO]), (u32)MAX_ERRNO);
	KUNIT_ASSERT_NOT_NULL(test, tb[RCACHE_ATTR_DEV_ID]);
	KUNIT_EXPECT_EQ(test, nla_get_u64(tb[RCACHE_ATTR_DEV_ID]), U64_MAX);
	KUNIT_ASSERT_NOT_NULL(test, tb[RCACHE_ATTR_NAME]);
	KUNIT_EXPECT_EQ(test, strlen(nla_data(tb[RCACHE_ATTR_NAME])), (size_t)DM_NAME_LEN - 1);
	KUNIT_ASSERT_NOT_NULL(test, tb[RCACHE_ATTR_STATE]);
	KUNIT_EXPECT_EQ(test, nla_get_u32(tb[RCACHE_ATTR_STATE]), (u32)RCACHE_STATE_STALE);
	KUNIT_ASSERT_NOT_NULL(test, tb[RCACHE_ATTR_REASON]);
	KUNIT_ASSERT_NOT_NULL(test, tb[RCACHE_ATTR_BLOCK]);
	KUNIT_EXPECT_EQ(test, nla_get_u64(tb[RCACHE_ATTR_BLOCK]), U64_MAX);
	KUNIT_ASSERT_NOT_NULL(test, tb[RCACHE_ATTR_FLAGS]);
	KUNIT_EXPECT_EQ(test, nla_get_u32(tb[RCACHE_ATTR_FLAGS]), (u32)RCACHE_DONE_F_CACHE_WRITE);
	KUNIT_EXPECT_NULL(test, tb[RCACHE_ATTR_ORIGIN_OFFSET]);
}

/* FETCH_DONE flags: only the ones the kernel knows. */
static void rcache_nl_done_flags(struct kunit *test)
{
	struct rcache_nlbuf *b = rcache_nlbuf_new(test);

	rcache_put_u32(test, b, RCACHE_ATTR_FLAGS, 0);
	KUNIT_EXPECT_EQ(test, rcache_validate(b), 0);
	rcache_put_u32(test, b, RCACHE_ATTR_FLAGS, RCACHE_DONE_F_CACHE_WRITE << 1);
	rcache_expect_refused(test, b, -EINVAL, "reserved bit set");
}

/* Request id 0 is never issued: a FETCH_DONE naming it is malformed. */
static void rcache_nl_req_id_zero(struct kunit *test)
{
	struct rcache_nlbuf *b = rcache_nlbuf_new(test);

	rcache_put_u32(test, b, RCACHE_ATTR_REQ_ID, 0);
	rcache_expect_refused(test, b, -ERANGE, "integer out of range");
}

/* FETCH_DONE carries 0 or a positive errno no larger than MAX_ERRNO. */
static void rcache_nl_errno_range(struct kunit *test)
{
	struct rcache_nlbuf *b = rcache_nlbuf_new(test);

	rcache_put_u32(test, b, RCACHE_ATTR_ERRNO, 0);
	KUNIT_EXPECT_EQ(test, rcache_validate(b), 0);
	rcache_put_u32(test, b, RCACHE_ATTR_ERRNO, MAX_ERRNO + 1);
	rcache_expect_refused(test, b, -ERANGE, "integer out of range");

	b = rcache_nlbuf_new(test);
	rcache_put_u32(test, b, RCACHE_ATTR_ERRNO, (u32)-EIO);
	rcache_expect_refused(test, b, -ERANGE, "integer out of range");
}

static void rcache_nl_state_range(struct kunit *test)
{
	struct rcache_nlbuf *b = rcache_nlbuf_new(test);

	rcache_put_u32(test, b, RCACHE_ATTR_STATE, RCACHE_STATE_READY);
	KUNIT_EXPECT_EQ(test, rcache_validate(b), 0);
	rcache_put_u32(test, b, RCACHE_ATTR_STATE, __RCACHE_STATE_MAX);
	rcache_expect_refused(test, b, -ERANGE, "integer out of range");
}

/* Names are dm names: at most DM_NAME_LEN - 1 bytes and NUL-terminated. */
static void rcache_nl_name(struct kunit *test)
{
	struct rcache_nlbuf *b = rcache_nlbuf_new(test);

	rcache_put_str(test, b, RCACHE_ATTR_NAME, 'n', DM_NAME_LEN);
	rcache_expect_refused(test, b, -EINVAL, "Attribute failed policy validation");

	b = rcache_nlbuf_new(test);
	rcache_put(test, b, RCACHE_ATTR_NAME, "cw", 2);
	rcache_expect_refused(test, b, -EINVAL, "Attribute failed policy validation");

	b = rcache_nlbuf_new(test);
	rcache_put(test, b, RCACHE_ATTR_NAME, NULL, 0);
	rcache_expect_refused(test, b, -EINVAL, "Attribute failed policy validation");

	b = rcache_nlbuf_new(test);
	rcache_put(test, b, RCACHE_ATTR_NAME, "cw", 3);
	KUNIT_EXPECT_EQ(test, rcache_validate(b), 0);
}

static void rcache_nl_reason(struct kunit *test)
{
	struct rcache_nlbuf *b = rcache_nlbuf_new(test);

	rcache_put_str(test, b, RCACHE_ATTR_REASON, 'r', RCACHE_NL_REASON_MAX + 1);
	rcache_expect_refused(test, b, -EINVAL, "Attribute failed policy validation");
}

/* Integers must have exactly their size. */
static void rcache_nl_lengths(struct kunit *test)
{
	static const u8 bytes[8];
	struct rcache_nlbuf *b = rcache_nlbuf_new(test);

	rcache_put(test, b, RCACHE_ATTR_REQ_ID, bytes, 2);
	rcache_expect_refused(test, b, -EINVAL, "invalid attribute length");

	b = rcache_nlbuf_new(test);
	rcache_put(test, b, RCACHE_ATTR_PROTO_VERSION, bytes, 8);
	rcache_expect_refused(test, b, -EINVAL, "invalid attribute length");

	b = rcache_nlbuf_new(test);
	rcache_put(test, b, RCACHE_ATTR_DEV_ID, bytes, 4);
	rcache_expect_refused(test, b, -EINVAL, "invalid attribute length");
}

/*
 * The attributes userspace may send; all others are the kernel's (FETCH,
 * status replies, events) and are refused in requests.
 */
static const u16 rcache_nl_request_attrs[] = {
	RCACHE_ATTR_PROTO_VERSION, RCACHE_ATTR_DEV_ID, RCACHE_ATTR_DEV,
	RCACHE_ATTR_REQ_ID, RCACHE_ATTR_BLOCK, RCACHE_ATTR_FLAGS, RCACHE_ATTR_ERRNO,
	RCACHE_ATTR_NAME, RCACHE_ATTR_STATE, RCACHE_ATTR_REASON,
};

static bool rcache_nl_is_request_attr(u16 type)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(rcache_nl_request_attrs); i++)
		if (rcache_nl_request_attrs[i] == type)
			return true;
	return false;
}

static void rcache_nl_kernel_attrs_refused(struct kunit *test)
{
	static const u8 bytes[8] = { 1 };
	struct rcache_nlbuf *b;
	u16 type;

	for (type = 1; type <= RCACHE_ATTR_MAX; type++) {
		bool request = rcache_nl_is_request_attr(type);

		KUNIT_EXPECT_EQ_MSG(test, rcache_nl_policy[type].type != NLA_UNSPEC, request,
				    "attribute %u: policy entry does not match the request list",
				    type);
		if (request)
			continue;
		b = rcache_nlbuf_new(test);
		rcache_put(test, b, type, bytes, sizeof(bytes));
		KUNIT_EXPECT_EQ_MSG(test, rcache_validate(b), -EINVAL, "attribute %u", type);
		KUNIT_EXPECT_PTR_EQ(test, b->extack.bad_attr, (const struct nlattr *)b->last);
		KUNIT_EXPECT_STREQ(test, b->extack._msg ? b->extack._msg : "",
				   "Unsupported attribute");
	}
}

static void rcache_nl_unknown_type(struct kunit *test)
{
	struct rcache_nlbuf *b = rcache_nlbuf_new(test);

	rcache_put_u32(test, b, RCACHE_ATTR_MAX + 1, 1);
	rcache_expect_refused(test, b, -EINVAL, "Unknown attribute type");

	b = rcache_nlbuf_new(test);
	rcache_put_u32(test, b, RCACHE_ATTR_UNSPEC, 1);
	rcache_expect_refused(test, b, -EINVAL, "Unknown attribute type");
}

static void rcache_nl_nested_flag(struct kunit *test)
{
	struct rcache_nlbuf *b = rcache_nlbuf_new(test);

	rcache_put_u32(test, b, RCACHE_ATTR_REQ_ID | NLA_F_NESTED, 1);
	rcache_expect_refused(test, b, -EINVAL, "NLA_F_NESTED not expected");
}

static void rcache_nl_trailing_bytes(struct kunit *test)
{
	struct rcache_nlbuf *b = rcache_nlbuf_new(test);

	rcache_put_u32(test, b, RCACHE_ATTR_REQ_ID, 1);
	b->len += 2;
	KUNIT_EXPECT_EQ(test, rcache_validate(b), -EINVAL);
	KUNIT_ASSERT_NOT_NULL(test, b->extack._msg);
	KUNIT_EXPECT_STREQ(test, b->extack._msg, "bytes leftover after parsing attributes");
}

static struct kunit_case rcache_nl_policy_cases[] = {
	KUNIT_CASE(rcache_nl_requests_accepted),
	KUNIT_CASE(rcache_nl_req_id_zero),
	KUNIT_CASE(rcache_nl_errno_range),
	KUNIT_CASE(rcache_nl_done_flags),
	KUNIT_CASE(rcache_nl_state_range),
	KUNIT_CASE(rcache_nl_name),
	KUNIT_CASE(rcache_nl_reason),
	KUNIT_CASE(rcache_nl_lengths),
	KUNIT_CASE(rcache_nl_kernel_attrs_refused),
	KUNIT_CASE(rcache_nl_unknown_type),
	KUNIT_CASE(rcache_nl_nested_flag),
	KUNIT_CASE(rcache_nl_trailing_bytes),
	{}
};

static struct kunit_suite rcache_nl_policy_suite = {
	.name = "rcache_nl_policy",
	.test_cases = rcache_nl_policy_cases,
};

kunit_test_suite(rcache_nl_policy_suite);

MODULE_LICENSE("GPL");
