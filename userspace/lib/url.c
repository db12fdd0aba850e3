// SPDX-License-Identifier: GPL-2.0-only
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "url.h"
#include "../../uapi/linux/dm-rcache.h"

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
	const char *p;

	memset(out, 0, sizeof(*out));
	if (!url || !*url)
		return rc_errf(err, EINVAL, "origin URL is empty");
	if (strlen(url) > RCACHE_MAX_ORIGIN_LEN)
		return rc_errf(err, EINVAL, "origin URL is longer than %d bytes",
			       RCACHE_MAX_ORIGIN_LEN);
	for (p = url; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p > '~')
			return rc_errf(err, EINVAL,
				       "origin URL %s: contains a space or non-ASCII byte (encode it as %%XX)",
				       url);

	if (!strncmp(url, "file://", 7)) {
		p = url + 7;
		if (p[0] != '/')
			return rc_errf(err, EINVAL,
				       "origin URL %s: file:// needs an absolute path (file:///dir/image)",
				       url);
		if (percent_decode(p, out->path, sizeof(out->path)))
			return rc_errf(err, EINVAL, "origin URL %s: bad %%-escape or path too long",
				       url);
		if (out->path[1] == '\0' || out->path[strlen(out->path) - 1] == '/')
			return rc_errf(err, EINVAL, "origin URL %s: names a directory, not an image file",
				       url);
		out->kind = RC_ORIGIN_FILE;
		return 0;
	}
	return rc_errf(err, EINVAL,
		       "origin URL %s: unsupported scheme (expected file:///absolute/path)",
		       url);
}
