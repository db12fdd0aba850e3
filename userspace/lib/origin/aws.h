/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * S3 endpoint, region and credentials, found the way the AWS CLI finds them,
 * and applied to a libcurl handle (SigV4 through CURLOPT_AWS_SIGV4).
 *
 * Each setting comes from the first of: the environment, rcached.conf's
 * [s3] section, the AWS profile (~/.aws/config, ~/.aws/credentials), a
 * default.  Credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY
 * (+AWS_SESSION_TOKEN); AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN (STS
 * AssumeRoleWithWebIdentity, refreshed before expiry, the token file re-read
 * each time); the same keys in rcached.conf; the profile's; or anonymous
 * access when configured.  Secrets never leave this structure except as
 * curl credentials.
 */
#ifndef RCACHE_AWS_H
#define RCACHE_AWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/error.h"
#include "common/ini.h"

struct curl_slist;

/* STS tokens have no documented size limit; longer ones are refused, never cut */
#define RC_AWS_SESSION_TOKEN_MAX 16384

enum rc_creds_source {
	RC_CREDS_NONE,
	RC_CREDS_STATIC,
	RC_CREDS_WEB_IDENTITY,
	RC_CREDS_ANONYMOUS,
};

struct rc_aws {
	char profile[128];
	char region[64];
	char endpoint[512];		/* custom endpoint: path-style; "" = AWS */
	char sts_endpoint[512];
	char web_identity_token_file[512];
	char role_arn[512];
	char role_session_name[128];
	unsigned int duration_s;
	char ca_bundle[512];		/* CA certificates for https; "" = the system's */

	enum rc_creds_source source;
	char source_desc[160];		/* where the credentials came from */
	char access_key[128];
	char secret_key[256];
	char session_token[RC_AWS_SESSION_TOKEN_MAX];
	time_t expiration;		/* web identity; 0 = never */
	time_t issued;			/* when STS gave them (their lifetime) */
};

/* Resolves settings and loads static credentials; @conf may be NULL. */
int rc_aws_load(struct rc_aws *a, const struct rc_ini *conf, struct rc_err *err);
/*
 * The CA bundle that https requests trust (S3, STS and https:// origins):
 * AWS_CA_BUNDLE, rcached.conf's [s3] ca_bundle, the profile's ca_bundle;
 * "" when none is set (libcurl's default store).
 */
void rc_aws_ca_bundle(const struct rc_ini *conf, char *out, size_t outlen);
/* Web identity: fetches credentials when missing or about to expire. */
int rc_aws_refresh(struct rc_aws *a, bool force, struct rc_err *err);
/*
 * Takes the credentials of an STS AssumeRoleWithWebIdentity answer (HTTP
 * @status, XML @body of @len bytes), or says why there are none; the error
 * never holds a secret.
 */
int rc_aws_sts_answer(struct rc_aws *a, long status, const char *body, size_t len,
		      struct rc_err *err);
/* Seconds until the credentials should be refreshed (-1: never). */
long rc_aws_refresh_in(const struct rc_aws *a, time_t now);

/* The HTTP(S) URL of an object: virtual-host style on AWS, path style else. */
int rc_aws_object_url(const struct rc_aws *a, const char *bucket, const char *key,
		      char *out, size_t outlen);
/* Signs requests of @h as S3; appends the x-amz headers to *@hdrs. */
int rc_aws_apply(const struct rc_aws *a, void *curl_handle, struct curl_slist **hdrs);
/* Wipes the secrets. */
void rc_aws_clear(struct rc_aws *a);
/* curl_slist_free_all() of headers that may hold a session token, wiped first. */
void rc_curl_slist_free_wiped(struct curl_slist *l);
/*
 * Where AssumeRoleWithWebIdentity goes: AWS_ENDPOINT_URL_STS (@sts_env),
 * sts_endpoint_url of rcached.conf or the profile (@sts_conf), the
 * all-services AWS_ENDPOINT_URL (@all_env), else https://sts.REGION.amazonaws.com.
 * Never an S3 endpoint (AWS_ENDPOINT_URL_S3, endpoint_url): the web identity
 * token is not sent to a host that was named only to serve objects.
 */
void rc_aws_sts_endpoint(char *out, size_t outlen, const char *sts_env, const char *sts_conf,
			 const char *all_env, const char *region);

#endif
