// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "origin/origin_secret.h"
#include "origin/url.h"

static const char *secret_dir(void)
{
	const char *d = getenv("RCACHE_SECRETS_DIR");

	return d && *d ? d : RC_SECRET_DIR;
}

static int secret_path(const char *name, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/%s", secret_dir(), name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* mkdir -p with mode 0700 for what it creates */
static int make_dirs(const char *dir)
{
	char path[4096], *p;

	if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	for (p = path + 1; ; p++) {
		if (*p != '/' && *p)
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(path, 0700) && errno != EEXIST)
			return -errno;
		*p = c;
		if (!c)
			return 0;
	}
}

int rc_secret_stash(const char *origin, const char *name, char *out, size_t outlen,
		    bool *stashed, struct rc_err *err)
{
	const char *q = rc_origin_is_http(origin) ? strchr(origin, '?') : NULL;
	char path[4096], tmp[4200];
	size_t base, qlen;
	int fd, r;

	*stashed = false;
	if (!q || !q[1] || q[1] == '#') {
		if ((size_t)snprintf(out, outlen, "%s", origin) >= outlen)
			return rc_errf(err, ENAMETOOLONG, "origin URL too long");
		return 0;
	}
	base = q - origin;
	qlen = strcspn(q + 1, "#");
	if (strstr(origin, RC_SECRET_REF))
		return rc_errf(err, EINVAL, "origin %.*s: has both a query string and a %s reference",
			       (int)base, origin, RC_SECRET_REF);
	if (!rc_secret_name_ok(name))
		return rc_errf(err, EINVAL,
			       "device name '%s': an origin with a query string needs a name of A-Z a-z 0-9 . _ - (it names the file that keeps the query)",
			       name);
	if ((size_t)snprintf(out, outlen, "%.*s%s%s", (int)base, origin, RC_SECRET_REF, name) >= outlen)
		return rc_errf(err, ENAMETOOLONG, "origin URL too long");
	r = make_dirs(secret_dir());
	if (r || secret_path(name, path, sizeof(path)))
		return rc_errf(err, r ? -r : ENAMETOOLONG, "cannot create %s for the origin's query string: %s",
			       secret_dir(), strerror(r ? -r : ENAMETOOLONG));
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return rc_errf(err, errno, "cannot write %s: %s", tmp, strerror(errno));
	if (write(fd, q + 1, qlen) != (ssize_t)qlen || fsync(fd) || close(fd)) {
		r = errno ? errno : EIO;
		unlink(tmp);
		return rc_errf(err, r, "cannot write %s: %s", tmp, strerror(r));
	}
	if (rename(tmp, path)) {
		r = errno;
		unlink(tmp);
		return rc_errf(err, r, "cannot rename %s to %s: %s", tmp, path, strerror(r));
	}
	*stashed = true;
	return 0;
}

int rc_secret_resolve(const char *origin, char *out, size_t outlen, struct rc_err *err)
{
	const char *ref = rc_origin_is_http(origin) ? strstr(origin, RC_SECRET_REF) : NULL;
	const char *name;
	char path[4096];
	size_t base, n;
	ssize_t got;
	int fd, e;

	if (!ref) {
		if ((size_t)snprintf(out, outlen, "%s", origin) >= outlen)
			return rc_errf(err, ENAMETOOLONG, "origin %s: URL too long", origin);
		return 0;
	}
	name = ref + strlen(RC_SECRET_REF);
	base = ref - origin;
	if (!rc_secret_name_ok(name) || secret_path(name, path, sizeof(path)))
		return rc_errf(err, EINVAL, "origin %s: bad %s reference", origin, RC_SECRET_REF);
	if (base + 2 >= outlen)
		return rc_errf(err, ENAMETOOLONG, "origin %s: URL too long", origin);
	memcpy(out, origin, base);
	out[base] = '?';
	n = base + 1;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		e = errno;
		return rc_errf(err, e,
			       "origin %s: cannot read its query string from %s: %s (create the device again with the full URL)",
			       origin, path, strerror(e));
	}
	got = read(fd, out + n, outlen - n);
	e = errno;
	close(fd);
	if (got < 0)
		return rc_errf(err, e, "origin %s: cannot read %s: %s", origin, path, strerror(e));
	if ((size_t)got >= outlen - n)
		return rc_errf(err, ENAMETOOLONG, "origin %s: the query string in %s is too long",
			       origin, path);
	n += got;
	out[n] = '\0';
	if (strcspn(out + base, " \t\r\n#") != n - base)
		return rc_errf(err, EINVAL, "origin %s: %s holds more than a query string", origin,
			       path);
	return 0;
}

void rc_secret_forget(const char *name)
{
	char path[4096];

	if (rc_secret_name_ok(name) && !secret_path(name, path, sizeof(path)))
		unlink(path);
}
