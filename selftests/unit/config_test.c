// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the INI reader (common/ini.c over inih) with hostile input:
 * a 64 KiB line, an 8 KiB session token, duplicate keys, invalid UTF-8, NUL
 * bytes, inline comments, an empty file, a key outside any section, long
 * section names; and the same rules seen through rcached.conf's readers
 * (rcd_config_file, rc_decl_parse) and the AWS credentials (rc_aws_load).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/ini.h"
#include "daemon/daemon.h"
#include "daemon/declare.h"
#include "origin/aws.h"
#include "unit.h"

static char dir[64];

/* @len bytes of @text into DIR/@name; returns the path (static) */
static const char *put(const char *name, const char *text, size_t len)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		CHECK(fwrite(text, 1, len, f) == len);
		fclose(f);
	}
	return path;
}

static const char *puts_file(const char *name, const char *text)
{
	return put(name, text, strlen(text));
}

/* a base64-like string of @n bytes, ending in "==" as STS tokens often do */
static char *token(size_t n)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *t = malloc(n + 1);
	size_t i;

	for (i = 0; i < n; i++)
		t[i] = b64[(i * 7 + i / 64) % 64];
	t[n - 2] = t[n - 1] = '=';
	t[n] = '\0';
	return t;
}

/* loads @text; returns rc_ini_load's result, the error in @e */
static int load_text(struct rc_ini *ini, const char *text, struct rc_err *e)
{
	return rc_ini_load(ini, puts_file("t.conf", text), e);
}

/* the error of loading @text: "t.conf: line N: why" without the directory */
static const char *load_error(const char *text, bool aws)
{
	static struct rc_err e;
	struct rc_ini ini;
	const char *path = puts_file("t.conf", text);
	int r = aws ? rc_ini_load_aws(&ini, path, &e) : rc_ini_load(&ini, path, &e);

	if (!r) {
		rc_ini_free(&ini);
		return "(loaded)";
	}
	CHECK(ini.n == 0 && ini.e == NULL);	/* nothing kept */
	return strstr(e.msg, "t.conf") ? strstr(e.msg, "t.conf") : e.msg;
}

static void long_line_64k(void)
{
	size_t n = 64 << 10;
	char *text = malloc(n + 64), *v = malloc(n + 1);
	struct rc_ini ini;
	struct rc_err e;
	const char *got;

	memset(v, 'x', n);
	v[n - 1] = 'y';
	v[n] = '\0';
	snprintf(text, n + 64, "[daemon]\nlong = %s\nafter = 1\n", v);
	CHECK(load_text(&ini, text, &e) == 0);
	got = rc_ini_get(&ini, "daemon", "long");
	CHECK(got && strlen(got) == n && !memcmp(got, v, n));
	CHECK(ini.n == 2);
	CHECK(ini.n == 2 && ini.e[1].line == 3 && !strcmp(ini.e[1].value, "1"));
	rc_ini_free(&ini);
	/* a 64 KiB key and a 1 MiB value, with no newline at the end of the file */
	free(text);
	free(v);
	n = 1 << 20;
	text = malloc(n + (64 << 10) + 64);
	v = malloc(n + 1);
	memset(v, 'v', n);
	v[n] = '\0';
	strcpy(text, "[s]\n");
	memset(text + 4, 'k', 64 << 10);
	snprintf(text + 4 + (64 << 10), n + 60, " = %s", v);
	CHECK(load_text(&ini, text, &e) == 0);
	CHECK(ini.n == 1 && strlen(ini.e[0].key) == 64 << 10 && !strcmp(ini.e[0].value, v));
	rc_ini_free(&ini);
	free(text);
	free(v);
}

/* An 8 KiB aws_session_token comes back whole, from the file and through rc_aws_load. */
static void session_token_8k(void)
{
	char *tok = token(8192), *text = malloc(8192 + 256), home[128];
	struct rc_aws *a = calloc(1, sizeof(*a));
	struct rc_ini ini;
	struct rc_err e;
	const char *got;

	snprintf(text, 8192 + 256,
		 "[default]\naws_access_key_id = AKIDEXAMPLE\naws_session_token = %s\n"
		 "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n", tok);
	CHECK(rc_ini_load_aws(&ini, puts_file("credentials", text), &e) == 0);
	got = rc_ini_get(&ini, "default", "aws_session_token");
	CHECK(got && strlen(got) == 8192 && !strcmp(got, tok));
	/* the token's tail is not a key of its own */
	CHECK(ini.n == 3);
	CHECK_STR(rc_ini_get(&ini, "default", "aws_secret_access_key") ?: "",
		  "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
	rc_ini_free(&ini);

	/* rc_aws_load: the credentials file of the profile */
	snprintf(home, sizeof(home), "%s/home", dir);
	mkdir(home, 0700);
	snprintf(home, sizeof(home), "%s/home/.aws", dir);
	mkdir(home, 0700);
	put("home/.aws/credentials", text, strlen(text));
	snprintf(home, sizeof(home), "%s/home", dir);
	setenv("HOME", home, 1);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_PROFILE");
	unsetenv("AWS_CONFIG_FILE");
	unsetenv("AWS_SHARED_CREDENTIALS_FILE");
	unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
	unsetenv("AWS_NO_SIGN_REQUEST");
	CHECK(rc_aws_load(a, NULL, &e) == 0);
	CHECK(a->source == RC_CREDS_STATIC);
	CHECK(strlen(a->session_token) == 8192 && !strcmp(a->session_token, tok));
	CHECK_STR(a->access_key, "AKIDEXAMPLE");
	rc_aws_clear(a);

	/* a token longer than rcache takes is refused, not cut */
	free(tok);
	tok = token(RC_AWS_SESSION_TOKEN_MAX + 100);
	text = realloc(text, RC_AWS_SESSION_TOKEN_MAX + 512);
	snprintf(text, RC_AWS_SESSION_TOKEN_MAX + 512,
		 "[default]\naws_access_key_id = AK\naws_secret_access_key = SK\naws_session_token = %s\n",
		 tok);
	put("home/.aws/credentials", text, strlen(text));
	CHECK(rc_aws_load(a, NULL, &e) == -E2BIG);
	CHECK(strstr(e.msg, "aws_session_token is 16484 bytes, at most 16383") != NULL);
	CHECK(strstr(e.msg, "/home/.aws/credentials") != NULL);
	unsetenv("HOME");
	free(a);
	free(tok);
	free(text);
}

static void duplicate_key(void)
{
	struct rc_ini ini;
	struct rc_err e;

	CHECK_STR(load_error("[s]\na = 1\nb = 2\na = 3\n", false),
		  "t.conf: line 4: a is set again in [s] (first at line 2)");
	/* keys are looked up in any case, so they repeat in any case */
	CHECK_STR(load_error("[default]\nregion = a\nRegion = b\n", true),
		  "t.conf: line 3: Region is set again in [default] (first at line 2)");
	/* rcached.conf: a section may come back, its keys add up; a key still once */
	CHECK(load_text(&ini, "[s3]\nregion = a\n[device d]\norigin = file:///x\n[s3]\nanonymous = true\n",
			&e) == 0);
	CHECK_STR(rc_ini_get(&ini, "s3", "region") ?: "", "a");
	CHECK_STR(rc_ini_get(&ini, "s3", "anonymous") ?: "", "true");
	rc_ini_free(&ini);
	CHECK_STR(load_error("[device d]\ncache = /dev/a\n[device d]\ncache = /dev/b\n", false),
		  "t.conf: line 4: cache is set again in [device d] (first at line 2)");
	/* the same key in two sections is two keys */
	CHECK_STR(load_error("[a]\nk = 1\n[b]\nk = 2\n", false), "(loaded)");
	/* AWS files: each section once, as the AWS CLI reads them */
	CHECK_STR(load_error("[default]\nregion = a\n[profile x]\nregion = b\n[default]\noutput = json\n",
			     true),
		  "t.conf: line 5: [default] appears again (first at line 1); an AWS file has each section once");
}

static void invalid_utf8(void)
{
	struct rc_ini ini;
	struct rc_err e;

	CHECK_STR(load_error("[s]\nk = ok\nbad = \xff\xfe\n", false), "t.conf: line 3: not UTF-8");
	CHECK_STR(load_error("[s]\nk = \xc0\xaf\n", false), "t.conf: line 2: not UTF-8");	/* overlong '/' */
	CHECK_STR(load_error("[s]\nk = \xed\xa0\x80\n", false), "t.conf: line 2: not UTF-8");	/* surrogate */
	CHECK_STR(load_error("[s]\nk = \xf4\x90\x80\x80\n", false), "t.conf: line 2: not UTF-8"); /* > U+10FFFF */
	CHECK_STR(load_error("[s]\nk = \xe2\x82", false), "t.conf: line 2: not UTF-8");	/* cut short */
	CHECK_STR(load_error("[s\xff]\nk = 1\n", true), "t.conf: line 1: not UTF-8");
	/* NUL: inih would end the line there */
	CHECK(rc_ini_load(&ini, put("t.conf", "[s]\nk = a\0b\n", 12), &e) == -EINVAL);
	CHECK(strstr(e.msg, "t.conf: line 2: a NUL byte") != NULL);
	/* valid UTF-8 comes back byte for byte, a BOM is skipped */
	CHECK(load_text(&ini, "\xef\xbb\xbf[s]\nk = d\xc3\xa9j\xc3\xa0 \xe2\x82\xac \xf0\x9f\x98\x80\n", &e) == 0);
	CHECK_STR(rc_ini_get(&ini, "s", "k") ?: "", "d\xc3\xa9j\xc3\xa0 \xe2\x82\xac \xf0\x9f\x98\x80");
	rc_ini_free(&ini);
}

static void inline_comments(void)
{
	struct rc_ini ini;
	struct rc_err e;

	CHECK(load_text(&ini,
			"# a comment\n; another\n[device d]\n  # indented comment\n"
			"origin = file:///x ; where the data is\ncache = /dev/vdb;x\n"
			"url = https://h/p#frag\nsize = 4M\t; tab, then ';'\n", &e) == 0);
	CHECK_STR(rc_ini_get(&ini, "device d", "origin") ?: "", "file:///x");
	CHECK_STR(rc_ini_get(&ini, "device d", "cache") ?: "", "/dev/vdb;x");	/* ';' without a blank: kept */
	CHECK_STR(rc_ini_get(&ini, "device d", "url") ?: "", "https://h/p#frag");
	CHECK_STR(rc_ini_get(&ini, "device d", "size") ?: "", "4M");
	CHECK(ini.n == 4 && ini.e[0].line == 5);
	rc_ini_free(&ini);
	/* '#' after a value: refused, never kept in the value */
	CHECK_STR(load_error("[device imagenet]\nblock_size = 4M # optional\n", false),
		  "t.conf: line 2: block_size: '#' in the value: a comment after a value starts with ';' (\"#\" only at the start of a line)");
	CHECK_STR(load_error("[device d]\norigin = file:///x\ncache = /dev/x # comment\n", false),
		  "t.conf: line 3: cache: '#' in the value: a comment after a value starts with ';' (\"#\" only at the start of a line)");
	CHECK_STR(load_error("[default]\naws_session_token = # none\n", true),
		  "t.conf: line 2: aws_session_token: '#' in the value: a comment after a value starts with ';' (\"#\" only at the start of a line)");
	/* seen through rcached's readers */
	{
		struct rcd_config cfg;

		rcd_config_defaults(&cfg);
		CHECK(rcd_config_file(&cfg, puts_file("r.conf", "[daemon]\nmax_fills = 64 # x\n"), &e) == -EINVAL);
		CHECK(strstr(e.msg, "r.conf: line 2: max_fills: '#' in the value") != NULL);
		CHECK(rcd_config_file(&cfg, puts_file("r.conf", "[daemon]\nmax_fills = 64 ; x\n"), &e) == 0);
		CHECK(cfg.max_fills == 64);
		CHECK(rcd_config_file(&cfg, puts_file("r.conf", "[daemon]\nmax_fills = 0\n"), &e) == -EINVAL);
		CHECK(strstr(e.msg, "r.conf: line 2: max_fills = 0: expected 1 to 65536") != NULL);
	}
}

static void empty_and_missing(void)
{
	struct rc_ini ini;
	struct rc_err e;

	CHECK(load_text(&ini, "", &e) == 0);
	CHECK(ini.n == 0 && rc_ini_get(&ini, "daemon", "x") == NULL);
	rc_ini_free(&ini);
	CHECK(load_text(&ini, "\n\n  \n# only comments\n[daemon]\n", &e) == 0);
	CHECK(ini.n == 0);
	rc_ini_free(&ini);
	CHECK(rc_ini_load(&ini, "/nonexistent/rcached.conf", &e) == -ENOENT);
	CHECK(rc_ini_load(&ini, dir, &e) == -EISDIR);
	CHECK(strstr(e.msg, "Is a directory") != NULL);
}

static void sectionless_key(void)
{
	CHECK_STR(load_error("k = v\n[s]\na = 1\n", false), "t.conf: line 1: k is outside a [section]");
	CHECK_STR(load_error("# comment\naws_access_key_id = AK\n", true),
		  "t.conf: line 2: aws_access_key_id is outside a [section]");
	CHECK_STR(load_error("[]\nk = v\n", false), "t.conf: line 2: k is outside a [section]");
	CHECK_STR(load_error("[s]\n= v\n", false), "t.conf: line 2: a key is missing before '='");
}

static void syntax_errors(void)
{
	struct rc_ini ini;
	struct rc_err e;

	CHECK_STR(load_error("[daemon]\nmax_fills = 1\n[device ds0\norigin = file:///x\n", false),
		  "t.conf: line 3: unterminated section header");
	CHECK_STR(load_error("[s]\njust words\n", false),
		  "t.conf: line 2: expected 'key = value', a [section] or a comment");
	/* an indented line is a key of its own (no continuation lines) */
	CHECK(load_text(&ini, "[s]\na = 1\n  b = 2\n\tc = 3\r\n", &e) == 0);
	CHECK_STR(rc_ini_get(&ini, "s", "a") ?: "", "1");
	CHECK_STR(rc_ini_get(&ini, "s", "b") ?: "", "2");
	CHECK_STR(rc_ini_get(&ini, "s", "c") ?: "", "3");	/* CRLF: no '\r' */
	rc_ini_free(&ini);
	/* whitespace around section names, keys and values goes; "key: value" is inih's too */
	CHECK(load_text(&ini, "[  daemon  ]\n  runtime_dir   =   /run/x y  \nname: v\n", &e) == 0);
	CHECK_STR(rc_ini_get(&ini, "daemon", "runtime_dir") ?: "", "/run/x y");
	CHECK_STR(rc_ini_get(&ini, "daemon", "name") ?: "", "v");
	rc_ini_free(&ini);
}

/* inih keeps 49 bytes of a section name; ours come back whole */
static void long_section_names(void)
{
	char text[1024], name[128];
	struct rc_decls ds;
	struct rc_ini ini;
	struct rc_err e;

	memset(name, 'n', 120);
	name[120] = '\0';
	snprintf(text, sizeof(text),
		 "[profile PowerUserAccess-123456789012-eu-central-1-a]\nregion = a\n"
		 "[profile PowerUserAccess-123456789012-eu-central-1-b]\nregion = b\n");
	CHECK(rc_ini_load_aws(&ini, puts_file("config", text), &e) == 0);
	CHECK_STR(rc_ini_get(&ini, "profile PowerUserAccess-123456789012-eu-central-1-a", "region") ?: "", "a");
	CHECK_STR(rc_ini_get(&ini, "profile PowerUserAccess-123456789012-eu-central-1-b", "region") ?: "", "b");
	rc_ini_free(&ini);
	snprintf(text, sizeof(text), "[device %s]\norigin = file:///x\ncache = /dev/vdb\n", name);
	CHECK(load_text(&ini, text, &e) == 0);
	CHECK(rc_decl_parse(&ini, &ds, &e) == 0);
	CHECK(ds.n == 1 && !strcmp(ds.v[0].name, name) && !ds.v[0].error[0]);
	rc_decls_free(&ds);
	rc_ini_free(&ini);
}

static void too_large(void)
{
	size_t n = RC_INI_MAX_FILE + 1;
	char *text = malloc(n);

	memset(text, '#', n);
	CHECK(text != NULL);
	put("big.conf", text, n);
	{
		struct rc_ini ini;
		struct rc_err e;
		char path[128];

		snprintf(path, sizeof(path), "%s/big.conf", dir);
		CHECK(rc_ini_load(&ini, path, &e) == -EFBIG);
		CHECK(strstr(e.msg, "big.conf: larger than 16 MiB") != NULL);
		/* exactly the limit is fine (one comment line) */
		CHECK(truncate(path, RC_INI_MAX_FILE) == 0);
		CHECK(rc_ini_load(&ini, path, &e) == 0);
		rc_ini_free(&ini);
	}
	free(text);
}

int main(void)
{
	char cmd[128];

	snprintf(dir, sizeof(dir), "/tmp/rcache-config-test-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN("config", long_line_64k);
	RUN("config", session_token_8k);
	RUN("config", duplicate_key);
	RUN("config", invalid_utf8);
	RUN("config", inline_comments);
	RUN("config", empty_and_missing);
	RUN("config", sectionless_key);
	RUN("config", syntax_errors);
	RUN("config", long_section_names);
	RUN("config", too_large);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		return 1;
	UNIT_EXIT();
}
