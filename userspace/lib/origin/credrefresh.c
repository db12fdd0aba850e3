// SPDX-License-Identifier: GPL-2.0-only
/*
 * Background refresh of web-identity credentials.  An STS call can take
 * seconds (30 at worst); made from rcached's event loop it would stall every
 * fill of every device.  A thread makes it instead, ahead of expiry, on its
 * own copy of the settings, and hands new credentials over under a mutex;
 * the event loop picks them up before it signs the next request.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "origin/credrefresh.h"
#include "common/log.h"

#define RETRY_S 5	/* after a failed STS call */

struct rc_cred_refresher {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct rc_aws shared;	/* the newest credentials, under lock */
	bool fresh;		/* newer than what the event loop took */
	bool force;		/* refresh now (a request said they expired) */
	bool stop;
	bool got_some;		/* an STS call succeeded */
	struct rc_err error;	/* the last call's, when it failed */
	bool failed;
};

static void copy_creds(struct rc_aws *to, const struct rc_aws *from)
{
	memcpy(to->access_key, from->access_key, sizeof(to->access_key));
	memcpy(to->secret_key, from->secret_key, sizeof(to->secret_key));
	memcpy(to->session_token, from->session_token, sizeof(to->session_token));
	to->expiration = from->expiration;
	to->issued = from->issued;
}

static void *refresher_main(void *arg)
{
	struct rc_cred_refresher *r = arg;
	struct rc_aws *work = malloc(sizeof(*work));
	long wait_s = 0;

	pthread_mutex_lock(&r->lock);
	while (!r->stop && work) {
		struct timespec until;
		struct rc_err err;
		int ret;

		wait_s = rc_aws_refresh_in(&r->shared, time(NULL));
		if (!r->shared.expiration && r->got_some)
			wait_s = -1;	/* STS named no expiry: only on request */
		if (!r->force && wait_s != 0) {
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += wait_s > 0 ? wait_s : 3600;
			pthread_cond_timedwait(&r->cond, &r->lock, &until);
			continue;
		}
		r->force = false;
		*work = r->shared;
		pthread_mutex_unlock(&r->lock);
		ret = rc_aws_refresh(work, true, &err);	/* the slow part, unlocked */
		pthread_mutex_lock(&r->lock);
		if (!ret) {
			copy_creds(&r->shared, work);
			r->fresh = true;
			r->got_some = true;
			r->failed = false;
		} else {
			rc_err("%s (trying again in %d s)", err.msg, RETRY_S);
			r->error = err;
			r->failed = true;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += RETRY_S;
			while (!r->stop && !r->force &&
			       pthread_cond_timedwait(&r->cond, &r->lock, &until) != ETIMEDOUT)
				;
			r->force = !r->stop;
		}
		rc_aws_clear(work);
	}
	pthread_mutex_unlock(&r->lock);
	free(work);
	return NULL;
}

int rc_cred_refresher_start(struct rc_cred_refresher **out, const struct rc_aws *aws,
			    struct rc_err *err)
{
	struct rc_cred_refresher *r = calloc(1, sizeof(*r));
	int e;

	*out = NULL;
	if (!r)
		return rc_errf(err, ENOMEM, "out of memory");
	r->shared = *aws;
	r->got_some = aws->access_key[0] != '\0';
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	e = pthread_create(&r->thread, NULL, refresher_main, r);
	if (e) {
		rc_aws_clear(&r->shared);
		free(r);
		return rc_errf(err, e, "credential refresh thread: %s", strerror(e));
	}
	*out = r;
	return 0;
}

int rc_cred_refresher_take(struct rc_cred_refresher *r, struct rc_aws *aws, struct rc_err *err)
{
	int ret = 0;

	pthread_mutex_lock(&r->lock);
	if (r->fresh)
		copy_creds(aws, &r->shared);
	r->fresh = false;
	if (!aws->access_key[0]) {
		if (r->failed) {
			*err = r->error;
			ret = -(err->code ? err->code : EACCES);
		} else {
			ret = rc_errf(err, EAGAIN, "S3 credentials: waiting for STS");
		}
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}

void rc_cred_refresher_kick(struct rc_cred_refresher *r)
{
	pthread_mutex_lock(&r->lock);
	r->force = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

void rc_cred_refresher_stop(struct rc_cred_refresher *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	rc_aws_clear(&r->shared);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	free(r);
}
