// SPDX-License-Identifier: GPL-2.0-only
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "origin/url.h"
#include "linux/dm-rcache.h"

bool rc_secret_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (!n || n > 127 || name[0] == '.')
		return false;
	return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decodes %XX escapes (a table cannot hold spaces, so paths encode them). */
static int percent_decode(const char *in, char *out, size_t outlen)
{
	size_t n = 0;

	for (; *in; in++) {
		int c = (unsigned char)*in;

		if (c == '%') {
			int hi = hexval(in[1]), lo = hi < 0 ? -1 : hexval(in[2]);

			if (hi < 0 || lo < 0)
				return -1;
			c = hi << 4 | lo;
			in += 2;
			if (c == 0)
				return -1;
		}
		if (n + 1 >= outlen)
			return -1;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return 0;
}

int rc_url_parse(const char *url, struct rc_url *out, struct rc_err *err)
{
	const char *p, *shown;
	char shown_buf[RCACHE_MAX_ORIGIN_LEN + 8];

	memset(out, 0, sizeof(*out));
	if (!url || !*url)
		return rc_errf(err, EINVAL, "origin URL is empty");
	/* a presigned URL's query string is a credential: errors leave it out */
	shown = rc_origin_shown(url, shown_buf, sizeof(shown_buf));
	if (strlen(url) > RCACHE_MAX_ORIGIN_LEN)
		return rc_errf(err, EINVAL, "origin URL is longer than %d bytes",
			       RCACHE_MAX_ORIGIN_LEN);
	for (p = url; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p > '~')
			return rc_errf(err, EINVAL,
				       "origin URL %s: contains a space or non-ASCII byte (encode it as %%XX)",
				       shown);

	if (!strncmp(url, "file://", 7)) {
		p = url + 7;
		if (p[0] != '/')
			return rc_errf(err, EINVAL,
				       "origin URL %s: file:// needs an absolute path (file:///dir/image)",
				       shown);
		if (percent_decode(p, out->path, sizeof(out->path)))
			return rc_errf(err, EINVAL, "origin URL %s: bad %%-escape or path too long",
				       shown);
		if (out->path[1] == '\0' || out->path[strlen(out->path) - 1] == '/')
			return rc_errf(err, EINVAL, "origin URL %s: names a directory, not an image file",
				       shown);
		out->kind = RC_ORIGIN_FILE;
		return 0;
	}
	if (!strncmp(url, "s3://", 5)) {
		const char *slash;
		size_t blen;

		p = url + 5;
		slash = strchr(p, '/');
		blen = slash ? (size_t)(slash - p) : strlen(p);
		if (blen < 3 || blen > 63)
			return rc_errf(err, EINVAL,
				       "origin URL %s: bucket name must be 3 to 63 characters", shown);
		for (size_t i = 0; i < blen; i++)
			if (!islower((unsigned char)p[i]) && !isdigit((unsigned char)p[i]) &&
			    p[i] != '-' && p[i] != '.')
				return rc_errf(err, EINVAL,
					       "origin URL %s: bucket names use a-z, 0-9, '-' and '.'",
					       shown);
		if (!slash || !slash[1])
			return rc_errf(err, EINVAL, "origin URL %s: no object key (s3://bucket/key)",
				       shown);
		memcpy(out->bucket, p, blen);
		out->bucket[blen] = '\0';
		if (percent_decode(slash + 1, out->key, sizeof(out->key)))
			return rc_errf(err, EINVAL, "origin URL %s: bad %%-escape or key too long", shown);
		out->kind = RC_ORIGIN_S3;
		return 0;
	}
	if (rc_origin_is_http(url)) {
		p = strstr(url, "://") + 3;
		if (!*p || *p == '/' || !strchr(p, '/'))
			return rc_errf(err, EINVAL, "origin URL %s: expected http(s)://host/path", shown);
		p = strchr(p, '#');
		if (p && (strncmp(p, RC_SECRET_REF, strlen(RC_SECRET_REF)) ||
			  !rc_secret_name_ok(p + strlen(RC_SECRET_REF))))
			return rc_errf(err, EINVAL,
				       "origin URL %s: the only fragment it may carry is %sNAME (A-Z a-z 0-9 . _ -)",
				       shown, RC_SECRET_REF);
		out->kind = RC_ORIGIN_HTTP;
		return 0;
	}
	return rc_errf(err, EINVAL,
		       "origin URL %s: unsupported scheme (expected file:///path, s3://bucket/key or https://host/path)",
		       shown);
}

const char *rc_origin_shown(const char *origin, char *buf, size_t len)
{
	const char *q = rc_origin_is_http(origin) ? strchr(origin, '?') : NULL;

	if (!q)
		return origin;
	snprintf(buf, len, "%.*s?...", (int)(q - origin), origin);
	return buf;
}

bool rc_origin_same_object(const char *a, const char *b)
{
	size_t la, lb;

	if (!rc_origin_is_http(a) || !rc_origin_is_http(b))
		return !strcmp(a, b);
	la = strcspn(a, "?#");
	lb = strcspn(b, "?#");
	return la == lb && !strncmp(a, b, la);
}
