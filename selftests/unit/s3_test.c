// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the S3 and HTTP rooms: s3:// parsing, object URLs, where
 * rc_aws_load() finds each setting and credential, the retry policy, and
 * the identity token of HTTP objects.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "origin/aws.h"
#include "daemon/daemon.h"
#include "origin/http.h"
#include "common/ini.h"
#include "origin/url.h"
#include "unit.h"

static void url_s3(void)
{
	struct rc_url u;
	struct rc_err e;

	CHECK(rc_url_parse("s3://my-bucket.v2/a/b/c.img", &u, &e) == 0);
	CHECK(u.kind == RC_ORIGIN_S3);
	CHECK_STR(u.bucket, "my-bucket.v2");
	CHECK_STR(u.key, "a/b/c.img");
	/* a table holds no spaces or non-ASCII: the key spells them %XX */
	CHECK(rc_url_parse("s3://bkt/dir/a%20b+c=d%C3%A9%2Fx", &u, &e) == 0);
	CHECK_STR(u.key, "dir/a b+c=d\xc3\xa9/x");
	CHECK(rc_url_parse("s3://abc/k", &u, &e) == 0);
	CHECK(rc_url_parse("s3://abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij123/k", &u,
			   &e) == 0);
	CHECK(strlen(u.bucket) == 63);

	CHECK(rc_url_parse("s3://ab/k", &u, &e) < 0);			/* too short */
	CHECK(strstr(e.msg, "3 to 63") != NULL);
	CHECK(rc_url_parse("s3://abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij1234/k",
			   &u, &e) < 0);
	CHECK(rc_url_parse("s3://Bucket/k", &u, &e) < 0);		/* upper case */
	CHECK(strstr(e.msg, "a-z, 0-9") != NULL);
	CHECK(rc_url_parse("s3://bk_t/k", &u, &e) < 0);
	CHECK(rc_url_parse("s3://bkt", &u, &e) < 0);			/* no key */
	CHECK(strstr(e.msg, "no object key") != NULL);
	CHECK(rc_url_parse("s3://bkt/", &u, &e) < 0);
	CHECK(rc_url_parse("s3://bkt/a b", &u, &e) < 0);		/* a raw space */
	CHECK(strstr(e.msg, "%XX") != NULL);
	CHECK(rc_url_parse("s3://bkt/d\xc3\xa9", &u, &e) < 0);	/* raw non-ASCII */
	CHECK(rc_url_parse("s3://bkt/a%2", &u, &e) < 0);		/* bad escapes */
	CHECK(rc_url_parse("s3://bkt/a%zz", &u, &e) < 0);
	CHECK(rc_url_parse("s3://bkt/a%00", &u, &e) < 0);
	CHECK(strstr(e.msg, "bad %-escape") != NULL);
}

static void object_url(void)
{
	struct rc_aws a;
	char out[RC_URL_MAX];

	memset(&a, 0, sizeof(a));
	snprintf(a.region, sizeof(a.region), "eu-west-3");
	/* AWS: virtual-hosted style in the bucket's region */
	CHECK(rc_aws_object_url(&a, "bkt", "dir/img.ext4", out, sizeof(out)) == 0);
	CHECK_STR(out, "https://bkt.s3.eu-west-3.amazonaws.com/dir/img.ext4");
	/* a custom endpoint: path style */
	snprintf(a.endpoint, sizeof(a.endpoint), "http://127.0.0.1:9000");
	CHECK(rc_aws_object_url(&a, "bkt", "dir/img.ext4", out, sizeof(out)) == 0);
	CHECK_STR(out, "http://127.0.0.1:9000/bkt/dir/img.ext4");
	/* every byte but the unreserved ones and '/' is %XX (what SigV4 signs) */
	CHECK(rc_aws_object_url(&a, "bkt", "d/a b+c=d%\xc3\xa9~x_y-z.q", out, sizeof(out)) == 0);
	CHECK_STR(out, "http://127.0.0.1:9000/bkt/d/a%20b%2Bc%3Dd%25%C3%A9~x_y-z.q");
	CHECK(rc_aws_object_url(&a, "bkt", "k", out, 20) == -ENAMETOOLONG);
}

/* Temporary files for one rc_aws_load() case. */
struct aws_env {
	char dir[64], conf_path[128];
	struct rc_ini conf;
	bool have_conf;
};

static const char *const aws_vars[] = {
	"AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
	"AWS_ENDPOINT_URL_STS", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
	"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_NO_SIGN_REQUEST",
	"AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CA_BUNDLE",
};

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* A clean environment, HOME in a new directory with .aws/{config,credentials}. */
static void aws_env_begin(struct aws_env *t, const char *config, const char *credentials,
			  const char *rcached_conf)
{
	struct rc_err e;
	char p[128];

	for (size_t i = 0; i < sizeof(aws_vars) / sizeof(aws_vars[0]); i++)
		unsetenv(aws_vars[i]);
	snprintf(t->dir, sizeof(t->dir), "/tmp/rcache-aws-XXXXXX");
	CHECK(mkdtemp(t->dir) != NULL);
	snprintf(p, sizeof(p), "%s/.aws", t->dir);
	mkdir(p, 0700);
	setenv("HOME", t->dir, 1);
	if (config)
		write_file(t->dir, ".aws/config", config);
	if (credentials)
		write_file(t->dir, ".aws/credentials", credentials);
	t->have_conf = rcached_conf != NULL;
	if (rcached_conf) {
		write_file(t->dir, "rcached.conf", rcached_conf);
		snprintf(t->conf_path, sizeof(t->conf_path), "%s/rcached.conf", t->dir);
		CHECK(rc_ini_load(&t->conf, t->conf_path, &e) == 0);
	}
}

static void aws_env_end(struct aws_env *t)
{
	char cmd[128];

	if (t->have_conf)
		rc_ini_free(&t->conf);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", t->dir);
	CHECK(system(cmd) == 0);
	for (size_t i = 0; i < sizeof(aws_vars) / sizeof(aws_vars[0]); i++)
		unsetenv(aws_vars[i]);
}

static int load(struct aws_env *t, struct rc_aws *a, struct rc_err *e)
{
	return rc_aws_load(a, t->have_conf ? &t->conf : NULL, e);
}

/* The region: AWS_REGION, AWS_DEFAULT_REGION, [s3] region, the profile, us-east-1. */
static void aws_region_precedence(void)
{
	struct aws_env t;
	struct rc_aws a;
	struct rc_err e;

	aws_env_begin(&t, "[default]\nregion = ap-south-1\n[profile ds]\nregion = eu-north-1\n",
		      "[default]\naws_access_key_id = AKD\naws_secret_access_key = SKD\n",
		      "[s3]\nregion = sa-east-1\n");
	setenv("AWS_REGION", "eu-west-3", 1);
	setenv("AWS_DEFAULT_REGION", "us-west-2", 1);
	CHECK(load(&t, &a, &e) == 0);
	CHECK_STR(a.region, "eu-west-3");
	unsetenv("AWS_REGION");
	CHECK(load(&t, &a, &e) == 0);
	CHECK_STR(a.region, "us-west-2");
	unsetenv("AWS_DEFAULT_REGION");
	CHECK(load(&t, &a, &e) == 0);
	CHECK_STR(a.region, "sa-east-1");
	t.have_conf = false;			/* no rcached.conf: the profile's */
	CHECK(load(&t, &a, &e) == 0);
	CHECK_STR(a.region, "ap-south-1");
	setenv("AWS_PROFILE", "ds", 1);		/* [profile ds] in ~/.aws/config */
	CHECK(load(&t, &a, &e) < 0);		/* (ds has no keys) */
	CHECK_STR(a.region, "eu-north-1");
	t.have_conf = true;
	aws_env_end(&t);

	aws_env_begin(&t, NULL, NULL, NULL);
	setenv("AWS_ACCESS_KEY_ID", "AK", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "SK", 1);
	CHECK(load(&t, &a, &e) == 0);
	CHECK_STR(a.region, "us-east-1");
	/* the STS endpoint follows the region when nothing names one */
	CHECK_STR(a.sts_endpoint, "https://sts.us-east-1.amazonaws.com");
	aws_env_end(&t);
}

/* Endpoints: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, [s3], the profile. */
static void aws_endpoint_precedence(void)
{
	struct aws_env t;
	struct rc_aws a;
	struct rc_err e;

	aws_env_begin(&t, "[default]\nendpoint_url = http://profile:1\n",
		      "[default]\naws_access_key_id = AKD\naws_secret_access_key = SKD\n",
		      "[s3]\nendpoint_url = http://conf:2/\nsts_endpoint_url = http://sts-conf:3\n");
	setenv("AWS_ENDPOINT_URL_S3", "http://s3-env:4", 1);
	setenv("AWS_ENDPOINT_URL", "http://env:5//", 1);
	CHECK(load(&t, &a, &e) == 0);
	CHECK_STR(a.endpoint, "http://s3-env:4");
	CHECK_STR(a.sts_endpoint, "http://sts-conf:3");
	unsetenv("AWS_ENDPOINT_URL_S3");
	setenv("AWS_ENDPOINT_URL_STS", "http://sts-env:6", 1);
	CHECK(load(&t, &a, &e) == 0);
	CHECK_STR(a.endpoint, "http://env:5");	/* trailing slashes dropped */
	CHECK_STR(a.sts_endpoint, "http://sts-env:6");
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_ENDPOINT_URL_STS");
	CHECK(load(&t, &a, &e) == 0);
	CHECK_STR(a.endpoint, "http://conf:2");
	t.have_conf = false;
	CHECK(load(&t, &a, &e) == 0);
	CHECK_STR(a.endpoint, "http://profile:1");
	/* an endpoint for objects is not one for the web identity token */
	CHECK_STR(a.sts_endpoint, "https://sts.us-east-1.amazonaws.com");
	t.have_conf = true;
	aws_env_end(&t);
}

/*
 * The web identity token goes to STS only: AWS_ENDPOINT_URL_STS,
 * sts_endpoint_url, the all-services AWS_ENDPOINT_URL, or AWS's regional
 * STS; never to an S3-only endpoint (AWS_ENDPOINT_URL_S3, endpoint_url).
 */
static void aws_sts_endpoint_never_s3(void)
{
	struct aws_env t;
	struct rc_aws a;
	struct rc_err e;
	char out[128];

	aws_env_begin(&t, "[default]\nregion = eu-west-1\n", NULL,
		      "[s3]\nendpoint_url = http://objects.conf:2\n");
	setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/token", 1);
	setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/r", 1);
	setenv("AWS_ENDPOINT_URL_S3", "http://objects.env:4", 1);
	CHECK(load(&t, &a, &e) == 0);
	CHECK(a.source == RC_CREDS_WEB_IDENTITY);
	CHECK_STR(a.endpoint, "http://objects.env:4");
	CHECK_STR(a.sts_endpoint, "https://sts.eu-west-1.amazonaws.com");
	unsetenv("AWS_ENDPOINT_URL_S3");
	CHECK(load(&t, &a, &e) == 0);
	CHECK_STR(a.endpoint, "http://objects.conf:2");
	CHECK_STR(a.sts_endpoint, "https://sts.eu-west-1.amazonaws.com");
	/* the all-services endpoint is STS's too */
	setenv("AWS_ENDPOINT_URL", "http://all.env:5", 1);
	setenv("AWS_ENDPOINT_URL_S3", "http://objects.env:4", 1);
	CHECK(load(&t, &a, &e) == 0);
	CHECK_STR(a.sts_endpoint, "http://all.env:5");
	setenv("AWS_ENDPOINT_URL_STS", "http://sts.env:6", 1);
	CHECK(load(&t, &a, &e) == 0);
	CHECK_STR(a.sts_endpoint, "http://sts.env:6");
	aws_env_end(&t);

	rc_aws_sts_endpoint(out, sizeof(out), NULL, NULL, NULL, "ap-south-1");
	CHECK_STR(out, "https://sts.ap-south-1.amazonaws.com");
	rc_aws_sts_endpoint(out, sizeof(out), NULL, "http://sts.conf", "http://all", "r");
	CHECK_STR(out, "http://sts.conf");
	rc_aws_sts_endpoint(out, sizeof(out), "http://sts.env", "http://sts.conf", "http://all", "r");
	CHECK_STR(out, "http://sts.env");
}

/*
 * Credentials, first that applies: anonymous; env keys; env web identity;
 * [s3] keys; [s3] web identity; the profile's web identity; the profile's
 * keys in ~/.aws/credentials; then in ~/.aws/config.
 */
static void aws_credential_precedence(void)
{
	struct aws_env t;
	struct rc_aws a;
	struct rc_err e;

	aws_env_begin(&t,
		      "[default]\naws_access_key_id = AKCFG\naws_secret_access_key = SKCFG\n"
		      "[profile wi]\nweb_identity_token_file = /t/prof\nrole_arn = arn:prof\n"
		      "[profile cfgonly]\naws_access_key_id = AKCFGONLY\naws_secret_access_key = SKCO\n",
		      "[default]\naws_access_key_id = AKCRED\naws_secret_access_key = SKCRED\n"
		      "aws_session_token = TOKCRED\n"
		      "[wi]\naws_access_key_id = AKWICRED\naws_secret_access_key = SKWICRED\n",
		      "[s3]\naws_access_key_id = AKCONF\naws_secret_access_key = SKCONF\n"
		      "web_identity_token_file = /t/conf\nrole_arn = arn:conf\n");
	setenv("AWS_NO_SIGN_REQUEST", "true", 1);
	setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "SKENV", 1);
	setenv("AWS_SESSION_TOKEN", "TOKENV", 1);
	setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "/t/env", 1);
	setenv("AWS_ROLE_ARN", "arn:env", 1);
	CHECK(load(&t, &a, &e) == 0);
	CHECK(a.source == RC_CREDS_ANONYMOUS && !a.access_key[0]);
	unsetenv("AWS_NO_SIGN_REQUEST");
	CHECK(load(&t, &a, &e) == 0);
	CHECK(a.source == RC_CREDS_STATIC);
	CHECK_STR(a.access_key, "AKENV");
	CHECK_STR(a.secret_key, "SKENV");
	CHECK_STR(a.session_token, "TOKENV");
	CHECK_STR(a.source_desc, "environment");
	unsetenv("AWS_SECRET_ACCESS_KEY");	/* half a key pair does not count */
	CHECK(load(&t, &a, &e) == 0);
	CHECK(a.source == RC_CREDS_WEB_IDENTITY);
	CHECK_STR(a.web_identity_token_file, "/t/env");
	CHECK_STR(a.role_arn, "arn:env");
	CHECK_STR(a.role_session_name, "rcached");
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
	CHECK(load(&t, &a, &e) == 0);
	CHECK(a.source == RC_CREDS_STATIC);
	CHECK_STR(a.access_key, "AKCONF");
	CHECK_STR(a.source_desc, "rcached.conf");
	CHECK(!a.session_token[0]);
	aws_env_end(&t);

	/* [s3] web identity over the profile; anonymous from [s3] */
	aws_env_begin(&t, NULL, "[default]\naws_access_key_id = AKCRED\naws_secret_access_key = S\n",
		      "[s3]\nweb_identity_token_file = /t/conf\nrole_arn = arn:conf\n"
		      "role_session_name = node7\n");
	CHECK(load(&t, &a, &e) == 0);
	CHECK(a.source == RC_CREDS_WEB_IDENTITY);
	CHECK_STR(a.web_identity_token_file, "/t/conf");
	CHECK_STR(a.role_session_name, "node7");
	aws_env_end(&t);
	aws_env_begin(&t, NULL, "[default]\naws_access_key_id = AKCRED\naws_secret_access_key = S\n",
		      "[s3]\nanonymous = yes\n");
	CHECK(load(&t, &a, &e) == 0);
	CHECK(a.source == RC_CREDS_ANONYMOUS);
	aws_env_end(&t);
	aws_env_begin(&t, NULL, "[default]\naws_access_key_id = AKCRED\naws_secret_access_key = S\n",
		      "[s3]\nno_sign_request = 1\n");
	CHECK(load(&t, &a, &e) == 0);
	CHECK(a.source == RC_CREDS_ANONYMOUS);
	aws_env_end(&t);
	aws_env_begin(&t, NULL, "[default]\naws_access_key_id = AKCRED\naws_secret_access_key = S\n",
		      "[s3]\nanonymous = false\n");
	CHECK(load(&t, &a, &e) == 0);
	CHECK(a.source == RC_CREDS_STATIC);
	aws_env_end(&t);

	/* profiles: web identity in config, then credentials, then config keys */
	aws_env_begin(&t,
		      "[default]\naws_access_key_id = AKCFG\naws_secret_access_key = SKCFG\n"
		      "[profile wi]\nweb_identity_token_file = /t/prof\nrole_arn = arn:prof\n"
		      "[profile cfgonly]\naws_access_key_id = AKCFGONLY\naws_secret_access_key = SKCO\n"
		      "aws_session_token = TOKCO\n",
		      "[default]\naws_access_key_id = AKCRED\naws_secret_access_key = SKCRED\n"
		      "aws_session_token = TOKCRED\n"
		      "[wi]\naws_access_key_id = AKWICRED\naws_secret_access_key = SKWICRED\n",
		      NULL);
	CHECK(load(&t, &a, &e) == 0);
	CHECK_STR(a.access_key, "AKCRED");
	CHECK_STR(a.session_token, "TOKCRED");
	CHECK(strstr(a.source_desc, "profile default") != NULL);
	CHECK(strstr(a.source_desc, "/.aws/credentials") != NULL);
	setenv("AWS_PROFILE", "wi", 1);
	CHECK(load(&t, &a, &e) == 0);
	CHECK(a.source == RC_CREDS_WEB_IDENTITY);
	CHECK_STR(a.role_arn, "arn:prof");
	setenv("AWS_PROFILE", "cfgonly", 1);
	CHECK(load(&t, &a, &e) == 0);
	CHECK_STR(a.access_key, "AKCFGONLY");
	CHECK_STR(a.session_token, "TOKCO");
	CHECK(strstr(a.source_desc, "/.aws/config") != NULL);
	/* other files named by the environment */
	write_file(t.dir, "creds2", "[cfgonly]\naws_access_key_id = AKFILE2\naws_secret_access_key = S2\n");
	{
		char p[128];

		snprintf(p, sizeof(p), "%s/creds2", t.dir);
		setenv("AWS_SHARED_CREDENTIALS_FILE", p, 1);
	}
	CHECK(load(&t, &a, &e) == 0);
	CHECK_STR(a.access_key, "AKFILE2");
	setenv("AWS_PROFILE", "nothere", 1);
	CHECK(load(&t, &a, &e) == -ENOKEY);
	CHECK(strstr(e.msg, "no S3 credentials") != NULL);
	aws_env_end(&t);

	/* the profile named in [s3] */
	aws_env_begin(&t, NULL, "[default]\naws_access_key_id = AKD\naws_secret_access_key = S\n"
		      "[other]\naws_access_key_id = AKOTHER\naws_secret_access_key = S\n",
		      "[s3]\nprofile = other\n");
	CHECK(load(&t, &a, &e) == 0);
	CHECK_STR(a.profile, "other");
	CHECK_STR(a.access_key, "AKOTHER");
	setenv("AWS_PROFILE", "default", 1);	/* the environment wins */
	CHECK(load(&t, &a, &e) == 0);
	CHECK_STR(a.access_key, "AKD");
	aws_env_end(&t);
}

static void aws_ca_bundle(void)
{
	struct aws_env t;
	struct rc_aws a;
	struct rc_err e;
	char ca[512];

	aws_env_begin(&t, "[default]\nca_bundle = /prof/ca.pem\n",
		      "[default]\naws_access_key_id = AK\naws_secret_access_key = S\n",
		      "[s3]\nca_bundle = /conf/ca.pem\n");
	setenv("AWS_CA_BUNDLE", "/env/ca.pem", 1);
	rc_aws_ca_bundle(&t.conf, ca, sizeof(ca));
	CHECK_STR(ca, "/env/ca.pem");
	CHECK(load(&t, &a, &e) == 0);
	CHECK_STR(a.ca_bundle, "/env/ca.pem");
	unsetenv("AWS_CA_BUNDLE");
	rc_aws_ca_bundle(&t.conf, ca, sizeof(ca));
	CHECK_STR(ca, "/conf/ca.pem");
	rc_aws_ca_bundle(NULL, ca, sizeof(ca));
	CHECK_STR(ca, "/prof/ca.pem");
	aws_env_end(&t);
	aws_env_begin(&t, NULL, NULL, NULL);
	rc_aws_ca_bundle(NULL, ca, sizeof(ca));
	CHECK_STR(ca, "");
	aws_env_end(&t);
}

/* The create-time probe retries as the range GETs do, with the same settings. */
static void http_retry_policy(void)
{
	struct rc_http_policy p;
	struct rcd_config cfg;
	struct aws_env t;

	/* defaults: the daemon's own */
	rcd_config_defaults(&cfg);
	rc_http_policy_load(&p, NULL);
	CHECK(p.retries == cfg.http_retries && p.backoff_ms == cfg.http_backoff_ms &&
	      p.backoff_max_ms == cfg.http_backoff_max_ms && p.stall_s == cfg.http_stall_s &&
	      p.connect_timeout_ms == cfg.http_connect_timeout_ms);
	aws_env_begin(&t, NULL, NULL,
		      "[daemon]\nhttp_retries = 3\nhttp_backoff_ms = 7\nhttp_backoff_max_ms = 50\n"
		      "http_stall_timeout = 4\nhttp_connect_timeout_ms = 99999999\n"
		      "[s3]\nca_bundle = /c.pem\n");
	rc_http_policy_load(&p, &t.conf);
	CHECK(p.retries == 3 && p.backoff_ms == 7 && p.backoff_max_ms == 50 && p.stall_s == 4);
	CHECK(p.connect_timeout_ms == cfg.http_connect_timeout_ms);	/* out of range */
	CHECK_STR(p.ca_bundle, "/c.pem");
	aws_env_end(&t);

	/* full jitter under a cap that doubles up to the maximum */
	CHECK(rc_http_backoff_ms(100, 5000, 0, 100) == 100);
	CHECK(rc_http_backoff_ms(100, 5000, 0, 101) == 0);
	CHECK(rc_http_backoff_ms(100, 5000, 3, 800) == 800);
	CHECK(rc_http_backoff_ms(100, 5000, 3, 801) == 0);
	CHECK(rc_http_backoff_ms(100, 5000, 6, 5000) == 5000);	/* 6400 capped */
	CHECK(rc_http_backoff_ms(100, 5000, 60, 5001) == 0);	/* no overflow */
	CHECK(rc_http_backoff_ms(0, 5000, 4, 12345) == 0);
	for (uint64_t r = 1; r < 100000; r += 997)
		CHECK(rc_http_backoff_ms(100, 5000, 2, r) <= 400);
	CHECK(rc_http_status_retryable(500) && rc_http_status_retryable(503) &&
	      rc_http_status_retryable(429) && rc_http_status_retryable(408));
	CHECK(!rc_http_status_retryable(403) && !rc_http_status_retryable(404) &&
	      !rc_http_status_retryable(412) && !rc_http_status_retryable(206));
	CHECK(rc_http_curl_retryable(CURLE_RECV_ERROR) && rc_http_curl_retryable(CURLE_GOT_NOTHING) &&
	      rc_http_curl_retryable(CURLE_PARTIAL_FILE) &&
	      rc_http_curl_retryable(CURLE_OPERATION_TIMEDOUT) &&
	      rc_http_curl_retryable(CURLE_COULDNT_CONNECT) &&
	      rc_http_curl_retryable(CURLE_UNSUPPORTED_PROTOCOL));	/* "HTTP/0.9" */
	CHECK(!rc_http_curl_retryable(CURLE_PEER_FAILED_VERIFICATION) &&
	      !rc_http_curl_retryable(CURLE_SSL_CACERT_BADFILE));
}

static void feed(struct rc_http_resp *r, const char *line)
{
	rc_http_header(r, line, strlen(line));
}

static void http_identity(void)
{
	struct rc_http_resp r;
	char id[300], etag[160];

	rc_http_resp_reset(&r);
	feed(&r, "HTTP/1.1 206 Partial Content\r\n");
	feed(&r, "Content-Range: bytes 10-19/12345\r\n");
	feed(&r, "Content-Length: 10\r\n");
	feed(&r, "ETag: \"ab:c/d\"\r\n");
	feed(&r, "Last-Modified: Wed, 21 Oct 2015 07:28:00 GMT\r\n");
	CHECK(r.status == 206 && r.have_range && r.range_first == 10 && r.range_last == 19 &&
	      r.range_total == 12345 && r.content_length == 10);
	CHECK_STR(r.etag, "ab:c/d");
	CHECK(r.last_modified == 1445412480);
	feed(&r, "HTTP/1.1 200 OK\r\n");		/* a new response forgets the last */
	CHECK(r.status == 200 && !r.have_range && !r.etag[0] && !r.last_modified);

	rc_http_identity(12345, "ab:c/d", 1445412480, id, sizeof(id));
	CHECK_STR(id, "size=12345,etag=ab%3Ac%2Fd");	/* the ETag is the version */
	rc_http_identity_etag(id, etag, sizeof(etag));
	CHECK_STR(etag, "ab:c/d");
	CHECK(rc_http_identity_size(id) == 12345 && rc_http_identity_mtime(id) == 0);
	rc_http_identity(77, "", 1445412480, id, sizeof(id));
	CHECK_STR(id, "size=77,etag=,mtime=1445412480");	/* no ETag: the date */
	rc_http_identity_etag(id, etag, sizeof(etag));
	CHECK_STR(etag, "");
	CHECK(rc_http_identity_size(id) == 77 && rc_http_identity_mtime(id) == 1445412480);
	rc_http_identity(77, "", 0, id, sizeof(id));
	CHECK_STR(id, "size=77,etag=");
	CHECK(rc_http_identity_size("mtime=1") == 0);
}

int main(void)
{
	RUN("s3", url_s3);
	RUN("s3", object_url);
	RUN("s3", aws_region_precedence);
	RUN("s3", aws_endpoint_precedence);
	RUN("s3", aws_sts_endpoint_never_s3);
	RUN("s3", aws_credential_precedence);
	RUN("s3", aws_ca_bundle);
	RUN("s3", http_retry_policy);
	RUN("s3", http_identity);
	UNIT_EXIT();
}
