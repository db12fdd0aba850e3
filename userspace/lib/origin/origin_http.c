// SPDX-License-Identifier: GPL-2.0-only
/*
 * s3:// and http(s):// origins: range GETs through one libcurl multi handle
 * in rcached's event loop.  Connections are reused; up to http_parallel GETs
 * run at once; fills of adjacent blocks waiting together are coalesced into
 * one GET (up to coalesce_bytes); every GET carries If-Match with the
 * recorded ETag, and its Content-Range and length are checked against the
 * request.  5xx, SlowDown, resets, stalls and short or over-long bodies are
 * retried with exponential backoff and full jitter, up to http_retries; then
 * those blocks (only) fail with EIO.  412, or a reply of another version (an
 * ETag or Last-Modified that is not the recorded one, or another object
 * size), fences the device: a server that ignores If-Match cannot mix
 * versions either.
 */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "origin/backend.h"
#include "origin/http.h"
#include "linux/dm-rcache.h"

struct http_state;

struct http_dev {
	struct http_state *s;
	struct rco_device *dev;
	char url[RC_URL_MAX];
	bool sign;			/* s3:// */
	char etag[160];			/* recorded version; "" when unknown */
	time_t mtime;			/* recorded Last-Modified, when there is no ETag */
	uint64_t size;			/* recorded size; 0 when unknown */
	char ca_bundle[512];
};

/* One range GET for a group of adjacent fills, retried as needed. */
struct http_get {
	struct http_get *next;		/* retry list or active list */
	struct rco_read *rd;
	struct http_state *s;
	struct http_dev *hd;
	struct rco_device *dev;
	uint64_t off;
	size_t len;
	size_t got;
	bool overflow;
	unsigned int attempt;
	uint64_t due_ns;
	CURL *h;
	struct curl_slist *hdrs;
	struct rc_http_resp resp;
	char errbuf[CURL_ERROR_SIZE];
	char last_error[300];
};

struct http_state {
	const struct rco_env *env;
	CURLM *multi;
	struct rc_watch timer_w;
	uint64_t curl_due_ns;		/* 0: no curl timeout armed */
	struct http_get *retries;	/* sorted by due_ns */
	struct http_get *active;
	unsigned int nactive;
	uint64_t rng;
	uint64_t retried, failed;
};

/* ------------------------------------------------------------------ */
/* Timers                                                              */

static void rearm(struct http_state *s)
{
	struct itimerspec its = { 0 };
	uint64_t due = s->curl_due_ns;

	if (s->retries && (!due || s->retries->due_ns < due))
		due = s->retries->due_ns;
	if (due) {
		its.it_value.tv_sec = due / 1000000000ULL;
		its.it_value.tv_nsec = due % 1000000000ULL;
		if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
			its.it_value.tv_nsec = 1;
	}
	timerfd_settime(s->timer_w.fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static int curl_timer_cb(CURLM *multi, long timeout_ms, void *arg)
{
	struct http_state *s = arg;

	(void)multi;
	s->curl_due_ns = timeout_ms < 0 ? 0 : rc_now_ns() + (uint64_t)timeout_ms * 1000000ULL;
	if (s->curl_due_ns == 0 && timeout_ms >= 0)
		s->curl_due_ns = 1;
	rearm(s);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Sockets                                                             */

static void process_done(struct http_state *s);

/* (the fill loop starts what waits after each event: no kick here) */
static void on_curl_socket(struct rc_watch *w, uint32_t events)
{
	struct http_state *s = w->arg;
	int flags = 0, running;

	if (events & EPOLLIN)
		flags |= CURL_CSELECT_IN;
	if (events & EPOLLOUT)
		flags |= CURL_CSELECT_OUT;
	if (events & (EPOLLERR | EPOLLHUP))
		flags |= CURL_CSELECT_ERR;
	curl_multi_socket_action(s->multi, w->fd, flags, &running);
	process_done(s);
}

static int curl_socket_cb(CURL *easy, curl_socket_t fd, int what, void *arg, void *sockp)
{
	struct http_state *s = arg;
	const struct rco_env *env = s->env;
	struct rc_watch *w = sockp;
	uint32_t events = 0;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (w) {
			env->unwatch_free(env->cookie, w);
			curl_multi_assign(s->multi, fd, NULL);
		}
		return 0;
	}
	if (what & CURL_POLL_IN)
		events |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		events |= EPOLLOUT;
	if (!w) {
		w = calloc(1, sizeof(*w));
		if (!w)
			return -1;
		w->fd = fd;
		w->fn = on_curl_socket;
		w->arg = s;
		curl_multi_assign(s->multi, fd, w);
		return env->watch(env->cookie, w, events, false) ? -1 : 0;
	}
	return env->watch(env->cookie, w, events, true) ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* GETs                                                                */

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	struct http_get *g = arg;

	rc_http_header(&g->resp, data, size * n);
	return size * n;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct http_get *g = arg;
	size_t len = size * n;

	if (g->resp.status == 200 || g->resp.status == 206) {
		if (g->got + len > g->len) {
			g->overflow = true;
			return 0;	/* aborts the transfer */
		}
		memcpy(g->rd->buf + g->got, data, len);
		g->got += len;
		return len;
	}
	rc_http_body(&g->resp, data, len);
	return len;
}

/* Ends every fill of @g: its data is in place (@error 0) or not. */
static void get_finish(struct http_get *g, int error)
{
	g->rd->done(g->rd, error, NULL);
	if (g->h)
		curl_easy_cleanup(g->h);
	rc_curl_slist_free_wiped(g->hdrs);
	free(g);
}

#define CREDS_WAIT_MS 50	/* a GET waiting for the first STS answer looks again */

static void get_schedule(struct http_get *g, uint64_t delay_ms);

static void get_start(struct http_get *g)
{
	struct http_state *s = g->s;
	const struct rco_env *env = s->env;
	struct http_dev *hd = g->hd;
	struct rc_aws *aws = NULL;
	struct rc_err err;

	if (hd->sign) {
		aws = env->aws_credentials(env->cookie, &err);
		if (!aws && err.code == EAGAIN) {
			get_schedule(g, CREDS_WAIT_MS);	/* STS still answering */
			return;
		}
		if (!aws) {
			rc_err("origin %s: %s", g->dev->origin, err.msg);
			get_finish(g, -EACCES);
			return;
		}
	}
	if (g->h)
		curl_easy_cleanup(g->h);
	rc_curl_slist_free_wiped(g->hdrs);
	g->hdrs = NULL;
	g->got = 0;
	g->overflow = false;
	g->errbuf[0] = '\0';
	rc_http_resp_reset(&g->resp);
	g->h = curl_easy_init();
	if (!g->h || rc_http_setup(g->h, hd->url, aws, hd->ca_bundle, g->off, g->len, hd->etag,
					  &g->hdrs)) {
		get_finish(g, -ENOMEM);
		return;
	}
	curl_easy_setopt(g->h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(g->h, CURLOPT_HEADERDATA, g);
	curl_easy_setopt(g->h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(g->h, CURLOPT_WRITEDATA, g);
	curl_easy_setopt(g->h, CURLOPT_PRIVATE, g);
	curl_easy_setopt(g->h, CURLOPT_ERRORBUFFER, g->errbuf);
	curl_easy_setopt(g->h, CURLOPT_CONNECTTIMEOUT_MS, (long)env->http.connect_timeout_ms);
	/* a stalled transfer (no byte for http_stall_s) is retried */
	curl_easy_setopt(g->h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(g->h, CURLOPT_LOW_SPEED_TIME, (long)env->http.stall_s);
	if (curl_multi_add_handle(s->multi, g->h) != CURLM_OK) {
		get_finish(g, -EIO);
		return;
	}
	g->next = s->active;
	s->active = g;
	s->nactive++;
}

static uint64_t rand64(struct http_state *s)
{
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 7;
	s->rng ^= s->rng << 17;
	return s->rng;
}

/* Schedules another attempt, or gives up on these blocks. */
/* Starts @g again in @delay_ms, in due order with the other waiting GETs. */
static void get_schedule(struct http_get *g, uint64_t delay_ms)
{
	struct http_state *s = g->s;
	struct http_get **pp;

	g->due_ns = rc_now_ns() + delay_ms * 1000000ULL;
	for (pp = &s->retries; *pp && (*pp)->due_ns <= g->due_ns; pp = &(*pp)->next)
		;
	g->next = *pp;
	*pp = g;
	rearm(s);
}

static void get_retry(struct http_get *g)
{
	struct http_state *s = g->s;
	const struct rco_http_settings *set = &s->env->http;
	uint64_t delay_ms;

	if (g->attempt >= set->retries) {
		s->failed++;
		rc_err("origin %s: range %" PRIu64 "-%" PRIu64 " failed after %u attempts: %s",
		       g->dev->origin, g->off, g->off + g->len - 1, g->attempt + 1,
		       g->last_error);
		get_finish(g, -EIO);
		return;
	}
	s->retried++;
	delay_ms = rc_http_backoff_ms(set->backoff_ms, set->backoff_max_ms, g->attempt, rand64(s));
	g->attempt++;
	rc_debug("origin %s: range %" PRIu64 "-%" PRIu64 ": %s; retry %u in %" PRIu64 " ms",
		 g->dev->origin, g->off, g->off + g->len - 1, g->last_error, g->attempt,
		 delay_ms);
	get_schedule(g, delay_ms);
}

/*
 * A successful reply that belongs to another version of the object: every
 * reply is checked, since a server may ignore If-Match (s3rver does).
 */
static bool reply_of_another_version(struct http_get *g, const struct rc_http_resp *r,
				     char *reason, size_t len)
{
	struct http_dev *hd = g->hd;
	uint64_t last = g->off + g->len - 1;
	const char *origin = g->dev->origin;

	if (hd->etag[0] && r->etag[0] && strcmp(hd->etag, r->etag)) {
		snprintf(reason, len, "origin %s replaced: ETag \"%s\" on range %" PRIu64 "-%" PRIu64
			 ", recorded \"%s\"", origin, r->etag, g->off, last, hd->etag);
		return true;
	}
	if (hd->mtime && r->last_modified && r->last_modified != hd->mtime) {
		snprintf(reason, len, "origin %s replaced: Last-Modified %lld on range %" PRIu64
			 "-%" PRIu64 ", recorded %lld", origin, (long long)r->last_modified, g->off,
			 last, (long long)hd->mtime);
		return true;
	}
	/* (a 200's length is checked as the body's: framing, not version) */
	if (hd->size && r->status == 206 && r->have_range && r->range_total != hd->size) {
		snprintf(reason, len, "origin %s replaced: Content-Range says %" PRIu64
			 " bytes on range %" PRIu64 "-%" PRIu64 ", recorded %" PRIu64, origin,
			 r->range_total, g->off, last, hd->size);
		return true;
	}
	return false;
}

static void get_done(struct http_get *g, CURLcode rc)
{
	const struct rco_env *env = g->s->env;
	struct http_dev *hd = g->hd;
	struct rc_http_resp *r = &g->resp;
	char why[600], reason[RCACHE_MAX_ORIGIN_LEN + 400];
	uint64_t last = g->off + g->len - 1;

	if (rc != CURLE_OK) {
		if (g->overflow)
			snprintf(g->last_error, sizeof(g->last_error),
				 "body longer than the %zu bytes asked for", g->len);
		else
			snprintf(g->last_error, sizeof(g->last_error), "%s",
				 g->errbuf[0] ? g->errbuf : curl_easy_strerror(rc));
		if (!g->overflow && !rc_http_curl_retryable(rc)) {
			/* an untrusted certificate stays untrusted */
			g->s->failed++;
			rc_err("origin %s: %s on range %" PRIu64 "-%" PRIu64, g->dev->origin,
			       g->last_error, g->off, last);
			get_finish(g, -EIO);
			return;
		}
		get_retry(g);
		return;
	}
	if (r->status == 206 || r->status == 200) {
		if (reply_of_another_version(g, r, reason, sizeof(reason))) {
			env->fence(env->cookie, g->dev, reason);
			get_finish(g, -ESTALE);
			return;
		}
		if (r->status == 206 && (!r->have_range || r->range_first != g->off ||
					 r->range_last != last)) {
			snprintf(g->last_error, sizeof(g->last_error),
				 "Content-Range %" PRIu64 "-%" PRIu64 " does not match the range asked",
				 r->range_first, r->range_last);
		} else if (r->status == 200 && (g->off != 0 || g->len != g->dev->size)) {
			snprintf(g->last_error, sizeof(g->last_error),
				 "server ignored the Range header (HTTP 200)");
		} else if (r->content_length >= 0 && (uint64_t)r->content_length != g->len) {
			snprintf(g->last_error, sizeof(g->last_error),
				 "Content-Length %" PRId64 " for %zu bytes asked", r->content_length,
				 g->len);
		} else if (g->got != g->len) {
			snprintf(g->last_error, sizeof(g->last_error), "short body: %zu of %zu bytes",
				 g->got, g->len);
		} else {
			get_finish(g, 0);
			return;
		}
		get_retry(g);
		return;
	}
	rc_http_s3_error(r, why, sizeof(why));
	if (r->status == 412) {
		snprintf(reason, sizeof(reason),
			 "origin %s replaced: HTTP 412 on range %" PRIu64 "-%" PRIu64
			 " (If-Match \"%s\" failed)", g->dev->origin, g->off, last, hd->etag);
		env->fence(env->cookie, g->dev, reason);
		get_finish(g, -ESTALE);
		return;
	}
	snprintf(g->last_error, sizeof(g->last_error), "HTTP %ld%s%s", r->status,
		 why[0] ? " " : "", why);
	if (rc_http_status_retryable(r->status)) {
		get_retry(g);
		return;
	}
	/* temporary credentials ran out: new ones are asked for, try again */
	if ((r->status == 400 || r->status == 403) && rc_http_s3_token_expired(r) &&
	    env->aws_expired(env->cookie)) {
		get_retry(g);
		return;
	}
	/* 403, 404, 416...: asking again will not help */
	g->s->failed++;
	rc_err("origin %s: HTTP %ld%s%s on range %" PRIu64 "-%" PRIu64, g->dev->origin,
	       r->status, why[0] ? " " : "", why, g->off, last);
	get_finish(g, r->status == 404 ? -ENOENT : r->status == 403 ? -EACCES : -EIO);
}

static void process_done(struct http_state *s)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(s->multi, &left))) {
		struct http_get *g, **pp;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&g);
		curl_multi_remove_handle(s->multi, m->easy_handle);
		for (pp = &s->active; *pp; pp = &(*pp)->next) {
			if (*pp == g) {
				*pp = g->next;
				break;
			}
		}
		s->nactive--;
		get_done(g, m->data.result);
	}
}

static void on_timer(struct rc_watch *w, uint32_t events)
{
	struct http_state *s = w->arg;
	uint64_t v, now = rc_now_ns();
	int running;

	(void)events;
	if (read(w->fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		rc_warn("timerfd: %s", strerror(errno));
	if (s->curl_due_ns && now >= s->curl_due_ns) {
		s->curl_due_ns = 0;
		curl_multi_socket_action(s->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	}
	while (s->retries && s->retries->due_ns <= now) {
		struct http_get *g = s->retries;

		s->retries = g->next;
		get_start(g);
	}
	process_done(s);
	rearm(s);
}

/* ------------------------------------------------------------------ */
/* Reads                                                               */

static unsigned int http_spread(struct rco_handle *h)
{
	struct http_state *s = ((struct http_dev *)h)->s;
	unsigned int parallel = s->env->http.parallel;

	/* idle request slots: a per-connection bandwidth cap makes parallel
	 * GETs faster than one long one */
	return s->nactive < parallel ? parallel - s->nactive : 0;
}

static void http_start(struct rco_handle *h, struct rco_read *rd)
{
	struct http_dev *hd = (struct http_dev *)h;
	struct http_get *g = calloc(1, sizeof(*g));

	if (!g) {
		rd->done(rd, -ENOMEM, "GET setup");
		return;
	}
	g->rd = rd;
	g->s = hd->s;
	g->hd = hd;
	g->dev = hd->dev;
	g->off = rd->off;
	g->len = rd->len;
	get_start(g);
}

/* ------------------------------------------------------------------ */
/* Devices                                                             */

static void http_destroy(struct rco_backend *b);

static struct rco_backend *http_create(const struct rco_env *env, struct rc_err *err)
{
	struct http_state *s;

	/* curl_global_init() is the daemon's, before any thread starts */
	s = calloc(1, sizeof(*s));
	if (!s) {
		rc_errf(err, ENOMEM, "out of memory");
		return NULL;
	}
	s->env = env;
	s->multi = curl_multi_init();
	s->timer_w.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	s->timer_w.fn = on_timer;
	s->timer_w.arg = s;
	s->rng = rc_now_ns() | 1;
	if (!s->multi || s->timer_w.fd < 0) {
		if (s->multi)
			curl_multi_cleanup(s->multi);
		if (s->timer_w.fd >= 0)
			close(s->timer_w.fd);
		free(s);
		rc_errf(err, EIO, "libcurl multi or timerfd setup failed");
		return NULL;
	}
	curl_multi_setopt(s->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
	curl_multi_setopt(s->multi, CURLMOPT_SOCKETDATA, s);
	curl_multi_setopt(s->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
	curl_multi_setopt(s->multi, CURLMOPT_TIMERDATA, s);
	curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS, (long)env->http.parallel * 2);
	if (env->watch(env->cookie, &s->timer_w, EPOLLIN, false)) {
		rc_errf(err, errno, "epoll: %s", strerror(errno));
		http_destroy((struct rco_backend *)s);
		return NULL;
	}
	return (struct rco_backend *)s;
}

static void http_destroy(struct rco_backend *b)
{
	struct http_state *s = (struct http_state *)b;
	struct http_get *g;

	if (!s)
		return;
	/* what is still in flight goes back to the kernel with our socket */
	while ((g = s->active)) {
		s->active = g->next;
		curl_multi_remove_handle(s->multi, g->h);
		get_finish(g, -ECANCELED);
	}
	while ((g = s->retries)) {
		s->retries = g->next;
		get_finish(g, -ECANCELED);
	}
	curl_multi_cleanup(s->multi);
	s->env->unwatch(s->env->cookie, &s->timer_w);
	close(s->timer_w.fd);
	free(s);
}

static int http_open(struct rco_backend *b, struct rco_device *dev, struct rco_handle **h,
		     struct rc_err *err)
{
	struct http_state *s = (struct http_state *)b;
	const struct rco_env *env = s->env;
	struct http_dev *hd;
	struct rc_aws *aws = NULL;
	int r;

	hd = calloc(1, sizeof(*hd));
	if (!hd)
		return rc_errf(err, ENOMEM, "out of memory");
	hd->s = s;
	hd->dev = dev;
	hd->sign = dev->url->kind == RC_ORIGIN_S3;
	if (hd->sign) {
		aws = env->aws_settings(env->cookie, err);
		if (!aws) {
			free(hd);
			return rc_err_prefix(err, "origin %s", dev->origin);
		}
	}
	r = rc_http_object_url(dev->origin, dev->url, aws, hd->url, sizeof(hd->url), err);
	if (r) {
		explicit_bzero(hd, sizeof(*hd));
		free(hd);
		return r;
	}
	rc_http_identity_etag(dev->identity, hd->etag, sizeof(hd->etag));
	hd->mtime = rc_http_identity_mtime(dev->identity);
	hd->size = rc_http_identity_size(dev->identity);
	rc_aws_ca_bundle(env->conf, hd->ca_bundle, sizeof(hd->ca_bundle));
	*h = (struct rco_handle *)hd;
	return 0;
}

static void http_close(struct rco_handle *h)
{
	if (h)	/* the URL's query may be a presigned credential */
		explicit_bzero(h, sizeof(struct http_dev));
	free(h);
}

static int http_check(struct rco_handle *h)
{
	return ((struct http_dev *)h)->dev->stale ? -ESTALE : 0;
}

const struct rco_ops rco_http_ops = {
	.name = "http",
	.create = http_create,
	.destroy = http_destroy,
	.open = http_open,
	.close = http_close,
	.check = http_check,
	.spread = http_spread,
	.start = http_start,
};
