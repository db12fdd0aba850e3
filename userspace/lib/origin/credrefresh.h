/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Background refresh of web-identity credentials (STS), off the event loop.
 */
#ifndef RCACHE_CREDREFRESH_H
#define RCACHE_CREDREFRESH_H

#include <stdbool.h>

#include "origin/aws.h"
#include "common/error.h"

struct rc_cred_refresher;

/* Starts refreshing a copy of @aws (web identity, credentials loaded). */
int rc_cred_refresher_start(struct rc_cred_refresher **out, const struct rc_aws *aws,
			    struct rc_err *err);
/*
 * Copies newer credentials into @aws, if there are any.  When @aws has none
 * yet: -EAGAIN while the first STS call runs, else its error.
 */
int rc_cred_refresher_take(struct rc_cred_refresher *r, struct rc_aws *aws, struct rc_err *err);
/* Asks for new credentials now (a request found them expired). */
void rc_cred_refresher_kick(struct rc_cred_refresher *r);
/* Stops the thread and wipes its copy; NULL is fine. */
void rc_cred_refresher_stop(struct rc_cred_refresher *r);

#endif
