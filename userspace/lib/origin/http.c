// SPDX-License-Identifier: GPL-2.0-only
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "origin/http.h"
#include "origin/origin_secret.h"
#include "origin/xml.h"
#include "common/util.h"

void rc_http_resp_reset(struct rc_http_resp *r)
{
	memset(r, 0, sizeof(*r));
	r->content_length = -1;
}

void rc_http_header(struct rc_http_resp *r, const char *line, size_t len)
{
	char buf[512], *v;
	size_t n = len < sizeof(buf) - 1 ? len : sizeof(buf) - 1;

	memcpy(buf, line, n);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (!strncmp(buf, "HTTP/", 5)) {
		/* a new response (after a 100 or a redirect): forget the last */
		char *sp = strchr(buf, ' ');

		rc_http_resp_reset(r);
		r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		return;
	}
	v = strchr(buf, ':');
	if (!v)
		return;
	*v++ = '\0';
	while (*v == ' ' || *v == '\t')
		v++;
	if (!strcasecmp(buf, "Content-Length")) {
		r->content_length = strtoll(v, NULL, 10);
	} else if (!strcasecmp(buf, "Content-Range")) {
		unsigned long long a, b, t;

		if (sscanf(v, "bytes %llu-%llu/%llu", &a, &b, &t) == 3) {
			r->have_range = true;
			r->range_first = a;
			r->range_last = b;
			r->range_total = t;
		}
	} else if (!strcasecmp(buf, "Last-Modified")) {
		time_t t = curl_getdate(v, NULL);

		r->last_modified = t > 0 ? t : 0;
	} else if (!strcasecmp(buf, "ETag")) {
		size_t l;

		if (!strncmp(v, "W/", 2))
			v += 2;
		if (*v == '"')
			v++;
		l = strlen(v);
		if (l && v[l - 1] == '"')
			v[--l] = '\0';
		snprintf(r->etag, sizeof(r->etag), "%s", v);
	} else if (!strcasecmp(buf, "Content-Type")) {
		snprintf(r->content_type, sizeof(r->content_type), "%s", v);
	}
}

void rc_http_body(struct rc_http_resp *r, const char *data, size_t len)
{
	size_t room = sizeof(r->body) - r->body_len;

	len = len < room ? len : room;
	memcpy(r->body + r->body_len, data, len);
	r->body_len += len;
}

/*
 * Fills @want ("Error/Code", "Error/Message") from an S3 error body.
 * -ENODATA: no XML body; -EBADMSG: malformed XML.  A full ->body may be the
 * start of a longer one.
 */
static int s3_error_read(const struct rc_http_resp *r, struct rc_xml_want want[2])
{
	size_t skip = 0;
	char why[160];

	want[0].out[0] = want[1].out[0] = '\0';
	want[0].path = "Error/Code";
	want[1].path = "Error/Message";
	while (skip < r->body_len && memchr(" \t\r\n", r->body[skip], 4))
		skip++;
	/* S3 says application/xml; an http(s) origin's error page is not XML */
	if (skip == r->body_len || (r->content_type[0] ? !strcasestr(r->content_type, "xml") :
				    r->body[skip] != '<'))
		return -ENODATA;
	return rc_xml_read(r->body, r->body_len, r->body_len < sizeof(r->body), want, 2, why,
			   sizeof(why));
}

void rc_http_s3_error(const struct rc_http_resp *r, char *out, size_t outlen)
{
	char code[128], msg[512], line_code[128], line_msg[512];
	struct rc_xml_want want[2] = {
		{ .out = code, .outlen = sizeof(code) },
		{ .out = msg, .outlen = sizeof(msg) },
	};

	if (s3_error_read(r, want) == -EBADMSG) {
		snprintf(out, outlen, "(unparseable error body)");
		return;
	}
	rc_xml_one_line(line_code, sizeof(line_code), code, want[0].cut);
	rc_xml_one_line(line_msg, sizeof(line_msg), msg, want[1].cut);
	if (code[0] && msg[0])
		snprintf(out, outlen, "%s: %s", line_code, line_msg);
	else
		snprintf(out, outlen, "%s", line_code);
}

bool rc_http_s3_token_expired(const struct rc_http_resp *r)
{
	char code[128], msg[8];
	struct rc_xml_want want[2] = {
		{ .out = code, .outlen = sizeof(code) },
		{ .out = msg, .outlen = sizeof(msg) },
	};

	if (s3_error_read(r, want) || want[0].cut)
		return false;
	return !strcmp(code, "ExpiredToken") || !strcmp(code, "InvalidToken") ||
	       !strcmp(code, "TokenRefreshRequired");
}

int rc_http_object_url(const char *origin, const struct rc_url *u, const struct rc_aws *aws,
		       char *out, size_t outlen, struct rc_err *err)
{
	if (u->kind == RC_ORIGIN_S3) {
		if (rc_aws_object_url(aws, u->bucket, u->key, out, outlen))
			return rc_errf(err, ENAMETOOLONG, "origin %s: URL too long", origin);
		return 0;
	}
	return rc_secret_resolve(origin, out, outlen, err);
}

/* [daemon] @key of rcached.conf within [@lo, @hi], else @def */
static unsigned int conf_uint(const struct rc_ini *conf, const char *key, unsigned int lo,
			      unsigned int hi, unsigned int def)
{
	const char *v = conf ? rc_ini_get(conf, "daemon", key) : NULL;
	uint64_t n;

	return v && !rc_parse_u64(v, lo, hi, &n) ? (unsigned int)n : def;
}

void rc_http_policy_load(struct rc_http_policy *p, const struct rc_ini *conf)
{
	/* the bounds are config.c's */
	p->retries = conf_uint(conf, "http_retries", 0, 100, RC_HTTP_RETRIES);
	p->backoff_ms = conf_uint(conf, "http_backoff_ms", 0, 600000, RC_HTTP_BACKOFF_MS);
	p->backoff_max_ms = conf_uint(conf, "http_backoff_max_ms", 0, 3600000,
				      RC_HTTP_BACKOFF_MAX_MS);
	p->stall_s = conf_uint(conf, "http_stall_timeout", 1, 3600, RC_HTTP_STALL_S);
	p->connect_timeout_ms = conf_uint(conf, "http_connect_timeout_ms", 100, 600000,
					  RC_HTTP_CONNECT_MS);
	rc_aws_ca_bundle(conf, p->ca_bundle, sizeof(p->ca_bundle));
}

uint64_t rc_http_backoff_ms(unsigned int base_ms, unsigned int max_ms, unsigned int attempt,
			    uint64_t rnd)
{
	uint64_t cap = (uint64_t)base_ms << (attempt < 20 ? attempt : 20);

	if (cap > max_ms)
		cap = max_ms;
	return cap ? rnd % (cap + 1) : 0;
}

bool rc_http_status_retryable(long status)
{
	return status >= 500 || status == 429 || status == 408;
}

bool rc_http_curl_retryable(int code)
{
	/*
	 * (Not CURLE_UNSUPPORTED_PROTOCOL: it also means "HTTP/0.9", the junk a
	 * server left after a body on a reused connection.)
	 */
	switch (code) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
		return false;
	default:
		return true;
	}
}

int rc_http_setup(void *curl_handle, const char *url, const struct rc_aws *aws,
		  const char *ca_bundle, uint64_t first, uint64_t len, const char *etag,
		  struct curl_slist **hdrs)
{
	CURL *h = curl_handle;
	char line[256];
	struct curl_slist *l;

	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_USERAGENT, "rcached/1");
	if (ca_bundle && *ca_bundle)
		curl_easy_setopt(h, CURLOPT_CAINFO, ca_bundle);
	if (len) {
		snprintf(line, sizeof(line), "Range: bytes=%" PRIu64 "-%" PRIu64, first,
			 first + len - 1);
		l = curl_slist_append(*hdrs, line);
		if (!l)
			return -ENOMEM;
		*hdrs = l;
	}
	if (etag && *etag) {
		snprintf(line, sizeof(line), "If-Match: \"%s\"", etag);
		l = curl_slist_append(*hdrs, line);
		if (!l)
			return -ENOMEM;
		*hdrs = l;
	}
	if (aws && rc_aws_apply(aws, h, hdrs))
		return -ENOMEM;
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, *hdrs);
	return 0;
}

void rc_http_identity(uint64_t size, const char *etag, time_t mtime, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = snprintf(out, outlen, "size=%" PRIu64 ",etag=", size);

	/* no ETag: the date is all there is to tell versions apart */
	if (!*etag) {
		if (mtime > 0)
			snprintf(out + n, outlen - n, ",mtime=%lld", (long long)mtime);
		return;
	}
	for (; *etag && n + 4 < outlen; etag++) {
		unsigned char c = (unsigned char)*etag;

		if (isalnum(c) || c == '-' || c == '_' || c == '.') {
			out[n++] = c;
		} else {
			out[n++] = '%';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
	}
	out[n] = '\0';
}

uint64_t rc_http_identity_size(const char *identity)
{
	return strncmp(identity, "size=", 5) ? 0 : strtoull(identity + 5, NULL, 10);
}

time_t rc_http_identity_mtime(const char *identity)
{
	const char *p = strstr(identity, ",mtime=");

	return p ? (time_t)strtoll(p + 7, NULL, 10) : 0;
}

void rc_http_identity_etag(const char *identity, char *out, size_t outlen)
{
	const char *p = strstr(identity, "etag=");
	size_t n = 0;

	out[0] = '\0';
	if (!p)
		return;
	for (p += 5; *p && *p != ',' && n + 1 < outlen; p++) {
		if (*p == '%' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2])) {
			char hx[3] = { p[1], p[2], 0 };

			out[n++] = (char)strtol(hx, NULL, 16);
			p += 2;
		} else {
			out[n++] = *p;
		}
	}
	out[n] = '\0';
}

static size_t probe_header(char *data, size_t size, size_t n, void *arg)
{
	rc_http_header(arg, data, size * n);
	return size * n;
}

static size_t probe_body(char *data, size_t size, size_t n, void *arg)
{
	struct rc_http_resp *r = arg;

	if (r->status < 200 || r->status >= 300)	/* not the byte of a 1-byte GET */
		rc_http_body(r, data, size * n);
	return size * n;
}

/*
 * One blocking request; fills @resp.  @head: HEAD, else GET bytes=0-0.
 * -EIO with *@code and @curl_err when libcurl failed.
 */
static int probe_once(const char *url, const struct rc_aws *aws, const struct rc_http_policy *pol,
		      bool head, struct rc_http_resp *resp, int *code, char *curl_err,
		      size_t errlen)
{
	struct curl_slist *hdrs = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLcode rc;
	CURL *h = curl_easy_init();
	int r = 0;

	if (!h)
		return -ENOMEM;
	rc_http_resp_reset(resp);
	if (rc_http_setup(h, url, aws, pol->ca_bundle, 0, head ? 0 : 1, NULL, &hdrs)) {
		r = -ENOMEM;
		goto out;
	}
	if (head)
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, probe_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, resp);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, probe_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)pol->connect_timeout_ms);
	/* a server that stops answering is a failed attempt, as for range GETs */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)pol->stall_s);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
	rc = curl_easy_perform(h);
	*code = rc;
	if (rc != CURLE_OK) {
		snprintf(curl_err, errlen, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
		r = -EIO;
	}
out:
	rc_curl_slist_free_wiped(hdrs);
	curl_easy_cleanup(h);
	return r;
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int probe_url(const char *origin, const char *url, const struct rc_url *u,
		     const struct rc_aws *aws, const struct rc_http_policy *pol,
		     struct rc_http_object *obj, struct rc_err *err)
{
	struct rc_http_resp resp;
	char why[600], cerr[CURL_ERROR_SIZE], last[700] = "";
	bool head = u->kind == RC_ORIGIN_S3;
	const char *what = head ? "HEAD" : "GET";
	uint64_t rng = rc_now_ns() ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)&resp;
	unsigned int attempt;
	int r, code = CURLE_OK;

	/* the range GETs' policy: retry what may pass on a second try */
	for (attempt = 0;; attempt++) {
		r = probe_once(url, head ? aws : NULL, pol, head, &resp, &code, cerr, sizeof(cerr));
		if (r == -ENOMEM)
			return rc_errf(err, ENOMEM, "origin %s: out of memory", origin);
		if (r && !rc_http_curl_retryable(code))
			return rc_errf(err, EIO, "origin %s: %s failed: %s", origin, what, cerr);
		if (r)
			snprintf(last, sizeof(last), "%s", cerr);
		else if (rc_http_status_retryable(resp.status))
			snprintf(last, sizeof(last), "HTTP %ld", resp.status);
		else
			break;
		if (attempt >= pol->retries) {
			if (r)
				return rc_errf(err, EIO, "origin %s: %s failed after %u attempts: %s",
					       origin, what, attempt + 1, last);
			break;	/* the status is reported below, with S3's reason */
		}
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		sleep_ms(rc_http_backoff_ms(pol->backoff_ms, pol->backoff_max_ms, attempt, rng));
	}
	if (resp.status >= 300 && head) {
		/* a HEAD carries no error body: ask again to learn S3's reason */
		struct rc_http_resp again;

		if (!probe_once(url, aws, pol, false, &again, &code, cerr, sizeof(cerr)) &&
		    again.status == resp.status)
			resp = again;
	}
	if (resp.status == 200 && resp.content_length >= 0) {
		obj->size = resp.content_length;
	} else if (resp.status == 206 && resp.have_range) {
		obj->size = resp.range_total;
	} else {
		rc_http_s3_error(&resp, why, sizeof(why));
		if (resp.status == 403)
			return rc_errf(err, EACCES, "origin %s: HTTP 403%s%s on %s (wrong credentials, or no read access)",
				       origin, why[0] ? " " : "", why, what);
		if (resp.status == 404)
			return rc_errf(err, ENOENT, "origin %s: HTTP 404%s%s on %s (no such bucket or object)",
				       origin, why[0] ? " " : "", why, what);
		if (rc_http_status_retryable(resp.status))
			return rc_errf(err, EIO, "origin %s: %s failed after %u attempts: HTTP %ld%s%s",
				       origin, what, attempt + 1, resp.status, why[0] ? " " : "", why);
		return rc_errf(err, EIO, "origin %s: HTTP %ld%s%s on %s", origin, resp.status,
			       why[0] ? " " : "", why, what);
	}
	if (obj->size == 0)
		return rc_errf(err, EINVAL, "origin %s: object is empty", origin);
	snprintf(obj->etag, sizeof(obj->etag), "%s", resp.etag);
	obj->mtime = resp.last_modified;
	return 0;
}

int rc_http_probe(const char *origin, const struct rc_url *u, const struct rc_aws *aws,
		  const struct rc_http_policy *pol, struct rc_http_object *obj,
		  struct rc_err *err)
{
	char url[RC_URL_MAX];
	int r;

	memset(obj, 0, sizeof(*obj));
	r = rc_http_object_url(origin, u, aws, url, sizeof(url), err);
	if (!r)
		r = probe_url(origin, url, u, aws, pol, obj, err);
	/* a presigned URL's query is a credential */
	explicit_bzero(url, sizeof(url));
	return r;
}
