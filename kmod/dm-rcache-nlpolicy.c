// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-rcache generic netlink attribute policy, on its own so the KUnit suite
 * (rcache_nl_policy_kunit.c) can validate attributes against the very table
 * the family uses.  Commands from RCACHE_CMD_REGISTER on are validated
 * strictly: an attribute without an entry here is refused.
 */
#include <linux/dm-ioctl.h>
#include <linux/err.h>
#include <net/netlink.h>

#include "dm-rcache.h"

const struct nla_policy rcache_nl_policy[RCACHE_ATTR_MAX + 1] = {
	[RCACHE_ATTR_PROTO_VERSION]	= { .type = NLA_U32 },
	[RCACHE_ATTR_DEV_ID]		= { .type = NLA_U64 },
	[RCACHE_ATTR_DEV]		= { .type = NLA_U32 },
	[RCACHE_ATTR_REQ_ID]		= NLA_POLICY_MIN(NLA_U32, 1),
	[RCACHE_ATTR_ERRNO]		= NLA_POLICY_MAX(NLA_U32, MAX_ERRNO),
	[RCACHE_ATTR_NAME]		= { .type = NLA_NUL_STRING,
					    .len = DM_NAME_LEN - 1 },
	[RCACHE_ATTR_STATE]		= NLA_POLICY_MAX(NLA_U32,
							 __RCACHE_STATE_MAX - 1),
	[RCACHE_ATTR_REASON]		= { .type = NLA_NUL_STRING,
					    .len = RCACHE_NL_REASON_MAX },
};
