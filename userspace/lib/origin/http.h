/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * HTTP(S) and S3 objects: what a response said, how a request is set up,
 * and the one-HEAD probe rcachectl makes before creating a device.
 */
#ifndef RCACHE_HTTP_H
#define RCACHE_HTTP_H

#include <stdbool.h>
#include <stdint.h>

#include <time.h>

#include "origin/aws.h"
#include "common/error.h"
#include "common/ini.h"
#include "origin/url.h"

struct curl_slist;

#define RC_URL_MAX 4400

/* What the headers of the (last) response said. */
struct rc_http_resp {
	long status;
	bool have_range;
	uint64_t range_first, range_last, range_total;
	int64_t content_length;		/* -1: none */
	char etag[160];			/* without quotes */
	time_t last_modified;		/* 0: none */
	char content_type[128];
	char body[1024];		/* start of an error body */
	size_t body_len;
};

void rc_http_resp_reset(struct rc_http_resp *r);
/* Feeds one header line (as CURLOPT_HEADERFUNCTION gets it). */
void rc_http_header(struct rc_http_resp *r, const char *line, size_t len);
/* Keeps the start of an error body: what fits in ->body. */
void rc_http_body(struct rc_http_resp *r, const char *data, size_t len);
/*
 * "AccessDenied: Access Denied" from an S3 XML error body (<Error><Code>,
 * <Message>, read by origin/xml.h), one line, a long message cut with "...";
 * "(unparseable error body)" when the XML is malformed; "" without a <Code>
 * or an XML body (an http(s) origin's HTML page).
 */
void rc_http_s3_error(const struct rc_http_resp *r, char *out, size_t outlen);
/* The error body's <Code> says temporary credentials ran out (ExpiredToken...). */
bool rc_http_s3_token_expired(const struct rc_http_resp *r);

/*
 * How requests are retried, for the create-time probe (rcachectl, and
 * rcached for declared devices): the [daemon] http_* settings of
 * rcached.conf, which the daemon's range GETs use too, with its defaults.
 */
#define RC_HTTP_RETRIES		8
#define RC_HTTP_BACKOFF_MS	100
#define RC_HTTP_BACKOFF_MAX_MS	5000
#define RC_HTTP_STALL_S		10
#define RC_HTTP_CONNECT_MS	5000
struct rc_http_policy {
	unsigned int retries;		/* attempts after the first */
	unsigned int backoff_ms, backoff_max_ms;
	unsigned int stall_s;		/* no byte for this long: a failed attempt */
	unsigned int connect_timeout_ms;
	char ca_bundle[512];		/* "": libcurl's default CA store */
};

/* @conf may be NULL (defaults); a bad value keeps the default (rcached refuses it). */
void rc_http_policy_load(struct rc_http_policy *p, const struct rc_ini *conf);
/*
 * Exponential backoff with full jitter: the wait before retry @attempt
 * (0 = the first retry) is @rnd mod (min(base << attempt, max) + 1) ms.
 */
uint64_t rc_http_backoff_ms(unsigned int base_ms, unsigned int max_ms, unsigned int attempt,
			    uint64_t rnd);
/* Worth another attempt: a 5xx (SlowDown is a 503), 429 or 408. */
bool rc_http_status_retryable(long status);
/*
 * Worth another attempt after libcurl error @code (a CURLcode): resets,
 * timeouts, short bodies, junk on a reused connection are; a certificate
 * that is not trusted or a bad CA file are not.
 */
bool rc_http_curl_retryable(int code);

/* The URL to GET for @u: the S3 object URL, or the http(s) URL as given. */
int rc_http_object_url(const char *origin, const struct rc_url *u, const struct rc_aws *aws,
		       char *out, size_t outlen, struct rc_err *err);

/*
 * Sets @h up for one request: URL, optional Range and If-Match, SigV4 when
 * @aws is not NULL, the CA bundle when @ca_bundle is set.  *@hdrs is owned
 * by the caller afterwards.
 */
int rc_http_setup(void *h, const char *url, const struct rc_aws *aws, const char *ca_bundle,
		  uint64_t first, uint64_t len, const char *etag, struct curl_slist **hdrs);

/*
 * "size=N,etag=E" for the table, ETag characters outside [A-Za-z0-9-_.]
 * %-encoded; an object without an ETag but with a Last-Modified date is
 * "size=N,etag=,mtime=T" (seconds since the epoch).
 */
void rc_http_identity(uint64_t size, const char *etag, time_t mtime, char *out, size_t outlen);
/* The ETag recorded in an identity token, decoded; "" when there is none. */
void rc_http_identity_etag(const char *identity, char *out, size_t outlen);
/* The size recorded in an identity token; 0 when there is none. */
uint64_t rc_http_identity_size(const char *identity);
/* The Last-Modified date recorded in an identity token; 0 when there is none. */
time_t rc_http_identity_mtime(const char *identity);

/* What the create-time probe learnt of an object. */
struct rc_http_object {
	uint64_t size;
	char etag[160];
	time_t mtime;			/* Last-Modified; 0 when not given */
};

/*
 * Size, ETag and Last-Modified of an object: HEAD for s3://, a 1-byte GET
 * for http(s).  Connection errors, timeouts, 5xx (SlowDown too), 429 and
 * 408 are retried as @pol says; then the error names the attempts made.
 */
int rc_http_probe(const char *origin, const struct rc_url *u, const struct rc_aws *aws,
		  const struct rc_http_policy *pol, struct rc_http_object *obj,
		  struct rc_err *err);

#endif
