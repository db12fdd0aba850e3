/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * HTTP(S) and S3 objects: what a response said, how a request is set up,
 * and the one-HEAD probe rcachectl makes before creating a device.
 */
#ifndef RCACHE_HTTP_H
#define RCACHE_HTTP_H

#include <stdbool.h>
#include <stdint.h>

#include "aws.h"
#include "error.h"
#include "url.h"

struct curl_slist;

#define RC_URL_MAX 4400

/* What the headers of the (last) response said. */
struct rc_http_resp {
	long status;
	bool have_range;
	uint64_t range_first, range_last, range_total;
	int64_t content_length;		/* -1: none */
	char etag[160];			/* without quotes */
	char body[1024];		/* start of an error body */
	size_t body_len;
};

void rc_http_resp_reset(struct rc_http_resp *r);
/* Feeds one header line (as CURLOPT_HEADERFUNCTION gets it). */
void rc_http_header(struct rc_http_resp *r, const char *line, size_t len);
/* "AccessDenied: Access Denied" from an S3 XML error body, or "". */
void rc_http_s3_error(const struct rc_http_resp *r, char *out, size_t outlen);

/* The URL to GET for @u: the S3 object URL, or the http(s) URL as given. */
int rc_http_object_url(const char *origin, const struct rc_url *u, const struct rc_aws *aws,
		       char *out, size_t outlen, struct rc_err *err);

/*
 * Sets @h up for one request: URL, optional Range and If-Match, SigV4 when
 * @aws is not NULL, timeouts.  *@hdrs is owned by the caller afterwards.
 */
int rc_http_setup(void *h, const char *url, const struct rc_aws *aws, uint64_t first,
		  uint64_t len, const char *etag, struct curl_slist **hdrs);

/* "size=N,etag=E" for the table; ETag characters outside [A-Za-z0-9-_.] %-encoded */
void rc_http_identity(uint64_t size, const char *etag, char *out, size_t outlen);
/* The ETag recorded in an identity token, decoded; "" when there is none. */
void rc_http_identity_etag(const char *identity, char *out, size_t outlen);

/* Size and ETag of an object: HEAD for s3://, a 1-byte GET for http(s). */
int rc_http_probe(const char *origin, const struct rc_url *u, const struct rc_aws *aws,
		  uint64_t *size, char *etag, size_t etag_len, struct rc_err *err);

#endif
