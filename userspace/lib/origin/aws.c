// SPDX-License-Identifier: GPL-2.0-only
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "origin/aws.h"
#include "origin/xml.h"
#include "common/log.h"

#define RC_AWS_DEFAULT_REGION	"us-east-1"
#define RC_AWS_DEFAULT_DURATION	3600
/* payload hash of an empty body: every request we sign is a GET or HEAD */
#define RC_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct aws_sources {
	const struct rc_ini *conf;	/* rcached.conf */
	struct rc_ini config;		/* ~/.aws/config */
	struct rc_ini creds;		/* ~/.aws/credentials */
	char config_section[160];
};

static const char *home_dir(void)
{
	const char *h = getenv("HOME");
	struct passwd *pw;

	if (h && *h)
		return h;
	pw = getpwuid(getuid());
	return pw ? pw->pw_dir : "/";
}

static const char *nonempty(const char *s)
{
	return s && *s ? s : NULL;
}

/* env, then rcached.conf [s3], then the profile in ~/.aws/config */
static const char *setting(struct aws_sources *src, const char *env, const char *key)
{
	const char *v = env ? nonempty(getenv(env)) : NULL;

	if (!v && src->conf)
		v = nonempty(rc_ini_get(src->conf, "s3", key));
	if (!v)
		v = nonempty(rc_ini_get(&src->config, src->config_section, key));
	return v;
}

static void copy(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

static bool truthy(const char *v)
{
	return v && (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes"));
}

static int load_files(struct aws_sources *src, const char *profile, struct rc_err *err)
{
	char path[1024];
	const char *p;
	int r;

	p = nonempty(getenv("AWS_CONFIG_FILE"));
	if (!p)
		snprintf(path, sizeof(path), "%s/.aws/config", home_dir());
	r = rc_ini_load_aws(&src->config, p ? p : path, err);
	if (r && r != -ENOENT)
		return r;
	p = nonempty(getenv("AWS_SHARED_CREDENTIALS_FILE"));
	if (!p)
		snprintf(path, sizeof(path), "%s/.aws/credentials", home_dir());
	r = rc_ini_load_aws(&src->creds, p ? p : path, err);
	if (r && r != -ENOENT)
		return r;
	if (!strcmp(profile, "default"))
		snprintf(src->config_section, sizeof(src->config_section), "default");
	else
		snprintf(src->config_section, sizeof(src->config_section), "profile %s", profile);
	return 0;
}

/*
 * Static credentials, when @ak and @sk are set: 1 when taken, 0 when not set,
 * an error when one does not fit (a cut token would fail every request).
 */
static int take_static(struct rc_aws *a, const char *ak, const char *sk, const char *tok,
		       const char *desc, struct rc_err *err)
{
	const struct {
		const char *name, *v;
		size_t size;
	} parts[] = {
		{ "aws_access_key_id", ak, sizeof(a->access_key) },
		{ "aws_secret_access_key", sk, sizeof(a->secret_key) },
		{ "aws_session_token", tok, sizeof(a->session_token) },
	};
	size_t i;

	if (!nonempty(ak) || !nonempty(sk))
		return 0;
	for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		if (parts[i].v && strlen(parts[i].v) >= parts[i].size)
			return rc_errf(err, E2BIG, "S3 credentials from %s: %s is %zu bytes, at most %zu",
				       desc, parts[i].name, strlen(parts[i].v), parts[i].size - 1);
	copy(a->access_key, sizeof(a->access_key), ak);
	copy(a->secret_key, sizeof(a->secret_key), sk);
	copy(a->session_token, sizeof(a->session_token), tok);
	a->source = RC_CREDS_STATIC;
	copy(a->source_desc, sizeof(a->source_desc), desc);
	return 1;
}

static bool take_web_identity(struct rc_aws *a, const char *token_file, const char *role,
			      const char *session, const char *desc)
{
	if (!nonempty(token_file) || !nonempty(role))
		return false;
	copy(a->web_identity_token_file, sizeof(a->web_identity_token_file), token_file);
	copy(a->role_arn, sizeof(a->role_arn), role);
	copy(a->role_session_name, sizeof(a->role_session_name),
	     nonempty(session) ? session : "rcached");
	a->source = RC_CREDS_WEB_IDENTITY;
	snprintf(a->source_desc, sizeof(a->source_desc), "web identity (%s, role %s)", desc,
		 role);
	return true;
}

static const char *profile_name(const struct rc_ini *conf)
{
	const char *v = nonempty(getenv("AWS_PROFILE"));

	if (!v && conf)
		v = nonempty(rc_ini_get(conf, "s3", "profile"));
	return v ? v : "default";
}

void rc_aws_ca_bundle(const struct rc_ini *conf, char *out, size_t outlen)
{
	struct aws_sources src = { .conf = conf };
	struct rc_err err;

	/* unreadable profile files: rc_aws_load says so where it matters */
	load_files(&src, profile_name(conf), &err);
	copy(out, outlen, setting(&src, "AWS_CA_BUNDLE", "ca_bundle"));
	rc_ini_free(&src.config);
	rc_ini_free(&src.creds);
}

void rc_aws_sts_endpoint(char *out, size_t outlen, const char *sts_env, const char *sts_conf,
			 const char *all_env, const char *region)
{
	const char *v = sts_env ? sts_env : sts_conf ? sts_conf : all_env;

	if (v && *v)
		snprintf(out, outlen, "%s", v);
	else
		snprintf(out, outlen, "https://sts.%s.amazonaws.com", region);
}

int rc_aws_load(struct rc_aws *a, const struct rc_ini *conf, struct rc_err *err)
{
	struct aws_sources src = { .conf = conf };
	const char *v, *ep;
	char desc[300];
	int r;

	memset(a, 0, sizeof(*a));
	copy(a->profile, sizeof(a->profile), profile_name(conf));
	r = load_files(&src, a->profile, err);
	if (r)
		goto out;

	v = nonempty(getenv("AWS_REGION"));
	if (!v)
		v = setting(&src, "AWS_DEFAULT_REGION", "region");
	copy(a->region, sizeof(a->region), v ? v : RC_AWS_DEFAULT_REGION);

	ep = nonempty(getenv("AWS_ENDPOINT_URL_S3"));
	if (!ep)
		ep = setting(&src, "AWS_ENDPOINT_URL", "endpoint_url");
	copy(a->endpoint, sizeof(a->endpoint), ep);
	while (*a->endpoint && a->endpoint[strlen(a->endpoint) - 1] == '/')
		a->endpoint[strlen(a->endpoint) - 1] = '\0';

	rc_aws_sts_endpoint(a->sts_endpoint, sizeof(a->sts_endpoint),
			    nonempty(getenv("AWS_ENDPOINT_URL_STS")),
			    setting(&src, NULL, "sts_endpoint_url"),
			    nonempty(getenv("AWS_ENDPOINT_URL")), a->region);

	copy(a->ca_bundle, sizeof(a->ca_bundle), setting(&src, "AWS_CA_BUNDLE", "ca_bundle"));

	v = setting(&src, NULL, "duration_seconds");
	a->duration_s = v ? (unsigned int)strtoul(v, NULL, 10) : 0;
	if (!a->duration_s)
		a->duration_s = RC_AWS_DEFAULT_DURATION;

	/* anonymous, then env, rcached.conf, the profile */
	if (truthy(getenv("AWS_NO_SIGN_REQUEST")) ||
	    (conf && (truthy(rc_ini_get(conf, "s3", "anonymous")) ||
		      truthy(rc_ini_get(conf, "s3", "no_sign_request"))))) {
		a->source = RC_CREDS_ANONYMOUS;
		copy(a->source_desc, sizeof(a->source_desc), "anonymous (unsigned requests)");
		goto out;
	}
	r = take_static(a, getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"),
			getenv("AWS_SESSION_TOKEN"), "environment", err);
	if (r || take_web_identity(a, getenv("AWS_WEB_IDENTITY_TOKEN_FILE"), getenv("AWS_ROLE_ARN"),
				   getenv("AWS_ROLE_SESSION_NAME"), "environment"))
		goto taken;
	if (conf) {
		r = take_static(a, rc_ini_get(conf, "s3", "aws_access_key_id"),
				rc_ini_get(conf, "s3", "aws_secret_access_key"),
				rc_ini_get(conf, "s3", "aws_session_token"), "rcached.conf", err);
		if (r || take_web_identity(a, rc_ini_get(conf, "s3", "web_identity_token_file"),
					   rc_ini_get(conf, "s3", "role_arn"),
					   rc_ini_get(conf, "s3", "role_session_name"), "rcached.conf"))
			goto taken;
	}
	snprintf(desc, sizeof(desc), "profile %s", a->profile);
	if (take_web_identity(a, rc_ini_get(&src.config, src.config_section, "web_identity_token_file"),
			      rc_ini_get(&src.config, src.config_section, "role_arn"),
			      rc_ini_get(&src.config, src.config_section, "role_session_name"),
			      desc))
		goto out;
	snprintf(desc, sizeof(desc), "profile %s (%s)", a->profile, src.creds.path);
	r = take_static(a, rc_ini_get(&src.creds, a->profile, "aws_access_key_id"),
			rc_ini_get(&src.creds, a->profile, "aws_secret_access_key"),
			rc_ini_get(&src.creds, a->profile, "aws_session_token"), desc, err);
	if (r)
		goto taken;
	snprintf(desc, sizeof(desc), "profile %s (%s)", a->profile, src.config.path);
	r = take_static(a, rc_ini_get(&src.config, src.config_section, "aws_access_key_id"),
			rc_ini_get(&src.config, src.config_section, "aws_secret_access_key"),
			rc_ini_get(&src.config, src.config_section, "aws_session_token"), desc, err);
	if (r)
		goto taken;
	r = rc_errf(err, ENOKEY,
		    "no S3 credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, "
		    "AWS_WEB_IDENTITY_TOKEN_FILE+AWS_ROLE_ARN, or anonymous = true in rcached.conf");
	goto out;
taken:
	r = r < 0 ? r : 0;	/* take_static: 1 taken, or an error */
out:
	rc_ini_free(&src.config);
	rc_ini_free(&src.creds);
	return r;
}

/* ------------------------------------------------------------------ */
/* STS AssumeRoleWithWebIdentity                                       */

struct membuf {
	char *p;
	size_t len;
};

static size_t membuf_write(char *data, size_t size, size_t n, void *arg)
{
	struct membuf *m = arg;
	size_t add = size * n;
	char *bigger;

	if (m->len + add > (1 << 20))
		return 0;
	bigger = realloc(m->p, m->len + add + 1);
	if (!bigger)
		return 0;
	m->p = bigger;
	memcpy(m->p + m->len, data, add);
	m->len += add;
	m->p[m->len] = '\0';
	return add;
}

static time_t parse_iso8601(const char *s)
{
	struct tm tm = { 0 };

	if (sscanf(s, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
		   &tm.tm_min, &tm.tm_sec) != 6)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return timegm(&tm);
}

/* What STS said when it refused: "HTTP 403 AccessDenied: Not authorized ...". */
static int sts_refused(const struct rc_aws *a, long status, const char *body, size_t len,
		       struct rc_err *err)
{
	char code[128] = "", msg[512] = "", line_code[128], line_msg[512], why[160];
	struct rc_xml_want want[] = {
		{ .path = "ErrorResponse/Error/Code", .out = code, .outlen = sizeof(code) },
		{ .path = "ErrorResponse/Error/Message", .out = msg, .outlen = sizeof(msg) },
	};

	if (len && rc_xml_read(body, len, true, want, 2, why, sizeof(why)))
		return rc_errf(err, EACCES,
			       "STS AssumeRoleWithWebIdentity for %s: HTTP %ld (unparseable error body)",
			       a->role_arn, status);
	rc_xml_one_line(line_code, sizeof(line_code), code, want[0].cut);
	rc_xml_one_line(line_msg, sizeof(line_msg), msg, want[1].cut);
	return rc_errf(err, EACCES, "STS AssumeRoleWithWebIdentity for %s: HTTP %ld%s%s%s%s",
		       a->role_arn, status, *code ? " " : "", line_code,
		       *code && *msg ? ": " : "", *code ? line_msg : "");
}

#define STS_CREDENTIALS \
	"AssumeRoleWithWebIdentityResponse/AssumeRoleWithWebIdentityResult/Credentials/"

int rc_aws_sts_answer(struct rc_aws *a, long status, const char *body, size_t len,
		      struct rc_err *err)
{
	char key[sizeof(a->access_key)], secret[sizeof(a->secret_key)];
	char token[sizeof(a->session_token)], expiration[64], why[160];
	struct rc_xml_want want[] = {
		{ .path = STS_CREDENTIALS "AccessKeyId", .out = key, .outlen = sizeof(key) },
		{ .path = STS_CREDENTIALS "SecretAccessKey", .out = secret, .outlen = sizeof(secret) },
		{ .path = STS_CREDENTIALS "SessionToken", .out = token, .outlen = sizeof(token) },
		{ .path = STS_CREDENTIALS "Expiration", .out = expiration,
		  .outlen = sizeof(expiration) },
	};
	time_t expires = 0;
	size_t i;
	int r;

	if (status != 200)
		return sts_refused(a, status, body, len, err);
	/* the errors name what is wrong, never a value: they are logged */
	r = rc_xml_read(body, len, true, want, 4, why, sizeof(why));
	if (r) {
		r = rc_errf(err, EPROTO, "STS AssumeRoleWithWebIdentity for %s: unparseable response: %s",
			    a->role_arn, why);
		goto out;
	}
	for (i = 0; i < 4; i++) {
		const char *name = strrchr(want[i].path, '/') + 1;

		if (!want[i].found || !want[i].out[0]) {
			r = rc_errf(err, EPROTO, "STS AssumeRoleWithWebIdentity for %s: malformed response: no %s",
				    a->role_arn, name);
			goto out;
		}
		if (want[i].cut) {
			r = rc_errf(err, EPROTO,
				    "STS AssumeRoleWithWebIdentity for %s: malformed response: %s longer than %zu bytes",
				    a->role_arn, name, want[i].outlen - 1);
			goto out;
		}
	}
	expires = parse_iso8601(expiration);
	if (expires <= 0) {
		r = rc_errf(err, EPROTO,
			    "STS AssumeRoleWithWebIdentity for %s: malformed response: Expiration is not a date",
			    a->role_arn);
		goto out;
	}
	memcpy(a->access_key, key, sizeof(key));
	memcpy(a->secret_key, secret, sizeof(secret));
	memcpy(a->session_token, token, sizeof(token));
	a->expiration = expires;
	a->issued = time(NULL);
out:
	explicit_bzero(key, sizeof(key));
	explicit_bzero(secret, sizeof(secret));
	explicit_bzero(token, sizeof(token));
	return r;
}

static int read_token(const char *path, char *out, size_t outlen, struct rc_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return rc_errf(err, errno, "web identity token file %s: %s", path, strerror(errno));
	n = read(fd, out, outlen - 1);
	close(fd);
	if (n <= 0)
		return rc_errf(err, EINVAL, "web identity token file %s: empty", path);
	out[n] = '\0';
	while (n > 0 && isspace((unsigned char)out[n - 1]))
		out[--n] = '\0';
	return 0;
}

static int assume_role_with_web_identity(struct rc_aws *a, struct rc_err *err)
{
	char token[8192], body[16384], until[32], duration[32];
	struct membuf resp = { 0 };
	struct tm tm;
	char *e_role, *e_sess, *e_tok;
	CURL *h;
	CURLcode rc;
	long status = 0;
	int r = 0;

	r = read_token(a->web_identity_token_file, token, sizeof(token), err);
	if (r)
		return r;
	h = curl_easy_init();
	if (!h)
		return rc_errf(err, ENOMEM, "STS: out of memory");
	e_role = curl_easy_escape(h, a->role_arn, 0);
	e_sess = curl_easy_escape(h, a->role_session_name, 0);
	e_tok = curl_easy_escape(h, token, 0);
	snprintf(duration, sizeof(duration), "%u", a->duration_s);
	snprintf(body, sizeof(body),
		 "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=%s"
		 "&RoleSessionName=%s&WebIdentityToken=%s&DurationSeconds=%s",
		 e_role, e_sess, e_tok, duration);
	curl_free(e_role);
	curl_free(e_sess);
	if (e_tok)
		explicit_bzero(e_tok, strlen(e_tok));
	curl_free(e_tok);
	explicit_bzero(token, sizeof(token));

	curl_easy_setopt(h, CURLOPT_URL, a->sts_endpoint);
	if (a->ca_bundle[0])
		curl_easy_setopt(h, CURLOPT_CAINFO, a->ca_bundle);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, membuf_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	explicit_bzero(body, sizeof(body));
	if (rc != CURLE_OK) {
		r = rc_errf(err, EIO, "STS %s: %s", a->sts_endpoint, curl_easy_strerror(rc));
		goto out;
	}
	r = rc_aws_sts_answer(a, status, resp.p ? resp.p : "", resp.len, err);
	if (r)
		goto out;
	strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&a->expiration, &tm));
	rc_info("S3 credentials from %s, valid until %s", a->source_desc, until);
out:
	if (resp.p) {
		explicit_bzero(resp.p, resp.len);
		free(resp.p);
	}
	return r;
}

long rc_aws_refresh_in(const struct rc_aws *a, time_t now)
{
	long life, margin;

	if (a->source != RC_CREDS_WEB_IDENTITY)
		return -1;
	if (!a->expiration)
		return 0;
	/*
	 * Refresh with a quarter of the lifetime (at most 5 minutes) left:
	 * the lifetime STS granted, which may be shorter than the one asked.
	 */
	life = a->issued && a->expiration > a->issued ? (long)(a->expiration - a->issued) :
		(long)a->duration_s;
	margin = life / 4 < 300 ? life / 4 : 300;
	if (margin < 1)
		margin = 1;
	return a->expiration - margin - now > 0 ? a->expiration - margin - now : 0;
}

int rc_aws_refresh(struct rc_aws *a, bool force, struct rc_err *err)
{
	if (a->source != RC_CREDS_WEB_IDENTITY)
		return 0;
	if (!force && a->access_key[0] && rc_aws_refresh_in(a, time(NULL)) > 0)
		return 0;
	return assume_role_with_web_identity(a, err);
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */

/* S3 URI encoding: everything but unreserved characters (and '/' in keys). */
static void uri_encode(const char *in, bool keep_slash, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (; *in && n + 4 < outlen; in++) {
		unsigned char c = (unsigned char)*in;

		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
		    (keep_slash && c == '/')) {
			out[n++] = c;
		} else {
			out[n++] = '%';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
	}
	out[n] = '\0';
}

int rc_aws_object_url(const struct rc_aws *a, const char *bucket, const char *key,
		      char *out, size_t outlen)
{
	char ekey[3200];
	int n;

	uri_encode(key, true, ekey, sizeof(ekey));
	if (a->endpoint[0])
		n = snprintf(out, outlen, "%s/%s/%s", a->endpoint, bucket, ekey);
	else
		n = snprintf(out, outlen, "https://%s.s3.%s.amazonaws.com/%s", bucket, a->region,
			     ekey);
	return n < (int)outlen ? 0 : -ENAMETOOLONG;
}

int rc_aws_apply(const struct rc_aws *a, void *curl_handle, struct curl_slist **hdrs)
{
	CURL *h = curl_handle;
	char sigv4[128], line[RC_AWS_SESSION_TOKEN_MAX + 32];
	struct curl_slist *l;

	if (a->source == RC_CREDS_ANONYMOUS || a->source == RC_CREDS_NONE)
		return 0;
	snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:s3", a->region);
	curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4);
	curl_easy_setopt(h, CURLOPT_USERNAME, a->access_key);
	curl_easy_setopt(h, CURLOPT_PASSWORD, a->secret_key);
	/* curl signs these with the rest; radosgw refuses requests without it */
	l = curl_slist_append(*hdrs, "x-amz-content-sha256: " RC_EMPTY_SHA256);
	if (!l)
		return -ENOMEM;
	*hdrs = l;
	if (a->session_token[0]) {
		snprintf(line, sizeof(line), "x-amz-security-token: %s", a->session_token);
		l = curl_slist_append(*hdrs, line);
		explicit_bzero(line, sizeof(line));
		if (!l)
			return -ENOMEM;
		*hdrs = l;
	}
	return 0;
}

void rc_aws_clear(struct rc_aws *a)
{
	explicit_bzero(a->secret_key, sizeof(a->secret_key));
	explicit_bzero(a->session_token, sizeof(a->session_token));
	explicit_bzero(a->access_key, sizeof(a->access_key));
}

void rc_curl_slist_free_wiped(struct curl_slist *l)
{
	struct curl_slist *i;

	for (i = l; i; i = i->next)
		if (i->data)
			explicit_bzero(i->data, strlen(i->data));
	curl_slist_free_all(l);
}
