// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the XML bodies of S3 and STS (origin/xml.h, read by expat):
 * entities and character references decoded, CDATA, namespaces, nested and
 * missing elements, DTDs refused (billion laughs, external entities),
 * malformed and 1 MiB bodies, and STS answers whose secrets never reach an
 * error message.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "origin/aws.h"
#include "origin/http.h"
#include "origin/xml.h"
#include "unit.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Reads "Error/Code" and "Error/Message" of @body. */
static int read2(const char *body, bool whole, char code[64], char msg[64], bool *msg_cut,
		 char *why, size_t whylen)
{
	struct rc_xml_want want[2] = {
		{ .path = "Error/Code", .out = code, .outlen = 64 },
		{ .path = "Error/Message", .out = msg, .outlen = 64 },
	};
	int r = rc_xml_read(body, strlen(body), whole, want, 2, why, whylen);

	if (msg_cut)
		*msg_cut = want[1].cut;
	return r;
}

/* Entity and character references, CDATA and namespaces as XML means them. */
static void xml_text_decoded(void)
{
	char code[64], msg[64], why[160];
	bool cut;

	CHECK(read2("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>"
		    "<Message>Tom &amp; Jerry &lt;3 &#233;&#x41;&quot;</Message></Error>\n",
		    true, code, msg, &cut, why, sizeof(why)) == 0);
	CHECK_STR(code, "AccessDenied");
	CHECK_STR(msg, "Tom & Jerry <3 \xc3\xa9" "A\"");	/* strstr kept "&amp;" */
	CHECK(!cut);
	/* CDATA is text, and the text around it too */
	CHECK(read2("<Error><Message>a<![CDATA[<b>&amp;]]>c</Message><Code>X</Code></Error>",
		    true, code, msg, NULL, why, sizeof(why)) == 0);
	CHECK_STR(msg, "a<b>&amp;c");
	CHECK_STR(code, "X");
	/* a namespace, by default or through a prefix, is the same element */
	CHECK(read2("<Error xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Code>NoSuchKey</Code>"
		    "</Error>", true, code, msg, NULL, why, sizeof(why)) == 0);
	CHECK_STR(code, "NoSuchKey");
	CHECK(read2("<s3:Error xmlns:s3=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
		    "<s3:Code>NoSuchKey</s3:Code><s3:Message>gone</s3:Message></s3:Error>",
		    true, code, msg, NULL, why, sizeof(why)) == 0);
	CHECK_STR(code, "NoSuchKey");			/* strstr found no "<Code>" */
	CHECK_STR(msg, "gone");
}

/* Only the element on the path, its own text, the first one. */
static void xml_path_exact(void)
{
	char code[64], msg[64], why[160];
	struct rc_xml_want want[1] = { { .path = "Error/Code", .out = code, .outlen = 64 } };
	const char *body;

	/* a tag name inside another element's text is text */
	CHECK(read2("<Error><Message><![CDATA[<Code>Fake</Code>]]></Message><Code>Real</Code></Error>",
		    true, code, msg, NULL, why, sizeof(why)) == 0);
	CHECK_STR(code, "Real");			/* strstr: "Fake" */
	CHECK_STR(msg, "<Code>Fake</Code>");
	/* a <Code> deeper down is another element */
	CHECK(read2("<Error><Details><Code>Inner</Code></Details><Code>Outer</Code></Error>",
		    true, code, msg, NULL, why, sizeof(why)) == 0);
	CHECK_STR(code, "Outer");
	/* elements nested in the wanted one: their text is theirs */
	CHECK(read2("<Error><Code>Acc<b>XX</b>ess<Code>In</Code>Denied</Code></Error>",
		    true, code, msg, NULL, why, sizeof(why)) == 0);
	CHECK_STR(code, "AccessDenied");
	/* the first wins */
	CHECK(read2("<Error><Code>One</Code><Code>Two</Code></Error>", true, code, msg, NULL, why,
		    sizeof(why)) == 0);
	CHECK_STR(code, "One");
	/* another root */
	body = "<Other><Error><Code>No</Code></Error></Other>";
	CHECK(rc_xml_read(body, strlen(body), true, want, 1, why, sizeof(why)) == 0);
	CHECK(!want[0].found && !want[0].cut);
	CHECK_STR(code, "");
	/* missing: found stays false, the text "" */
	body = "<Error><Message>m</Message></Error>";
	CHECK(rc_xml_read(body, strlen(body), true, want, 1, why, sizeof(why)) == 0);
	CHECK(!want[0].found);
	CHECK_STR(code, "");
	/* there but empty */
	body = "<Error><Code/></Error>";
	CHECK(rc_xml_read(body, strlen(body), true, want, 1, why, sizeof(why)) == 0);
	CHECK(want[0].found);
	CHECK_STR(code, "");
	/* bad paths */
	want[0].path = "Error//Code";
	CHECK(rc_xml_read(body, strlen(body), true, want, 1, why, sizeof(why)) == -EINVAL);
	want[0].path = "";
	CHECK(rc_xml_read(body, strlen(body), true, want, 1, why, sizeof(why)) == -EINVAL);
	want[0].path = "Error/";
	CHECK(rc_xml_read(body, strlen(body), true, want, 1, why, sizeof(why)) == -EINVAL);
}

/*
 * No DTD at all: an entity is neither declared (billion laughs), nor
 * fetched (external entities), nor known without one.
 */
static void xml_dtd_refused(void)
{
	char code[64], msg[64], why[160];
	static const char laughs[] =
		"<?xml version=\"1.0\"?>\n<!DOCTYPE Error [\n"
		"<!ENTITY a \"lollollollollollollollollollol\">\n"
		"<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">\n"
		"<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">\n"
		"<!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">\n"
		"<!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\">\n"
		"<!ENTITY f \"&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;\">\n"
		"<!ENTITY g \"&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;\">\n"
		"<!ENTITY h \"&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;\">\n"
		"<!ENTITY i \"&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;\">\n"
		"]>\n<Error><Code>X</Code><Message>&i;</Message></Error>";
	double t0 = now_s();

	CHECK(read2(laughs, true, code, msg, NULL, why, sizeof(why)) == -EBADMSG);
	CHECK(strstr(why, "DTD") != NULL);
	CHECK_STR(code, "");
	CHECK_STR(msg, "");
	CHECK(now_s() - t0 < 1.0);
	/* an external entity is not fetched */
	CHECK(read2("<!DOCTYPE Error [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
		    "<Error><Code>&x;</Code></Error>", true, code, msg, NULL, why,
		    sizeof(why)) == -EBADMSG);
	CHECK(strstr(why, "DTD") != NULL);
	CHECK(read2("<!DOCTYPE Error SYSTEM \"http://127.0.0.1:1/e.dtd\"><Error><Code>&x;</Code></Error>",
		    true, code, msg, NULL, why, sizeof(why)) == -EBADMSG);
	CHECK_STR(code, "");
	/* without a DTD, only the five predefined entities exist */
	CHECK(read2("<Error><Code>&x;</Code></Error>", true, code, msg, NULL, why,
		    sizeof(why)) == -EBADMSG);
	CHECK(strstr(why, "undefined entity") != NULL);
}

static void xml_malformed(void)
{
	static const char *const bad[] = {
		"<Error><Code>A</Message></Error>",		/* mismatched */
		"<Error><Code>A</Code>",			/* unclosed */
		"",						/* empty */
		"AccessDenied",					/* not XML */
		"<Error><Code>\xff\xfe</Code></Error>",		/* not UTF-8 */
		"<x:Error><x:Code>A</x:Code></x:Error>",	/* unbound prefix */
		"<Error><Code>A</Code></Error><Error/>",	/* two roots */
		"<Error><Code>&#0;</Code></Error>",		/* no NUL in XML */
		"<Error><Code>a &amp b</Code></Error>",
	};
	char code[64], msg[64], why[160];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(read2(bad[i], true, code, msg, NULL, why, sizeof(why)) == -EBADMSG);
		CHECK(why[0] && strstr(why, "at line"));
		CHECK_STR(code, "");
	}
	read2(bad[0], true, code, msg, NULL, why, sizeof(why));
	CHECK_STR(why, "mismatched tag at line 1");
	/* the start of a longer body: what is there is well-formed so far */
	CHECK(read2("<Error><Code>A</Code><Message>Acc", false, code, msg, NULL, why,
		    sizeof(why)) == 0);
	CHECK(read2("<Error><Code>A</Message>", false, code, msg, NULL, why,
		    sizeof(why)) == -EBADMSG);
}

/* Long texts are cut on a character, never overflow, and say so. */
static void xml_long_text_cut(void)
{
	char code[64], msg[64], why[160], body[256];
	bool cut;

	/* "é" is 2 bytes: after "ab", 63 bytes would end in half of the 31st */
	snprintf(body, sizeof(body), "<Error><Message>ab%s</Message></Error>",
		 "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		 "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		 "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		 "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");
	CHECK(read2(body, true, code, msg, &cut, why, sizeof(why)) == 0);
	CHECK(cut && strlen(msg) == 62);
	/* the body ends inside the element: its start, marked cut */
	CHECK(read2("<Error><Code>A</Code><Message>the start of", false, code, msg, &cut, why,
		    sizeof(why)) == 0);
	CHECK_STR(msg, "the start of");
	CHECK(cut);
	CHECK(read2("<Error><Code>A</Code><Message>whole</Message>", false, code, msg, &cut, why,
		    sizeof(why)) == 0);
	CHECK(!cut);
}

/* 1 MiB and more: one linear pass, fixed-size results. */
static void xml_one_mib(void)
{
	size_t big = 1 << 20, n;
	char *body = malloc(3 * big), code[64], msg[64], why[160];
	struct rc_xml_want want[2] = {
		{ .path = "Error/Code", .out = code, .outlen = 64 },
		{ .path = "Error/Message", .out = msg, .outlen = 64 },
	};
	double t0;

	CHECK(body != NULL);
	if (!body)
		return;
	/* a 1 MiB message */
	n = sprintf(body, "<Error><Code>AccessDenied</Code><Message>");
	memset(body + n, 'm', big);
	n += big;
	n += sprintf(body + n, "</Message></Error>");
	t0 = now_s();
	CHECK(rc_xml_read(body, n, true, want, 2, why, sizeof(why)) == 0);
	CHECK_STR(code, "AccessDenied");
	CHECK(want[1].cut && strlen(msg) == 63);
	/* past RC_XML_MAX_BODY the rest is not read: the message is cut */
	memset(body + 41, 'm', 2 * big);
	n = 41 + 2 * big;
	n += sprintf(body + n, "</Message></Error>");
	CHECK(rc_xml_read(body, n, true, want, 2, why, sizeof(why)) == 0);
	CHECK_STR(code, "AccessDenied");
	CHECK(want[1].cut);
	/* 1 MiB of references and elements, each a call into us */
	n = sprintf(body, "<Error><Message>");
	while (n < big - 64)
		n += sprintf(body + n, "&amp;<x>&#65;</x>");
	n += sprintf(body + n, "</Message><Code>Late</Code></Error>");
	CHECK(rc_xml_read(body, n, true, want, 2, why, sizeof(why)) == 0);
	CHECK_STR(code, "Late");
	CHECK(want[1].cut && strlen(msg) == 63 && strspn(msg, "&") == 63);	/* not the <x>s' "A" */
	/* 256 Ki levels deep */
	n = 0;
	while (n < big)
		n += sprintf(body + n, "<a>");
	CHECK(rc_xml_read(body, n, false, want, 2, why, sizeof(why)) == 0);
	CHECK(!want[0].found);
	CHECK(now_s() - t0 < 5.0);
	free(body);
}

static void xml_one_line(void)
{
	char out[16];

	rc_xml_one_line(out, sizeof(out), "a\nb\tc\x7f", false);
	CHECK_STR(out, "a b c ");
	rc_xml_one_line(out, sizeof(out), "short", true);
	CHECK_STR(out, "short...");
	rc_xml_one_line(out, sizeof(out), "0123456789abcdefghij", false);
	CHECK_STR(out, "0123456789ab...");
	rc_xml_one_line(out, sizeof(out), "01234567890\xc3\xa9\xc3\xa9\xc3\xa9", false);
	CHECK_STR(out, "01234567890...");		/* not half an "é" */
	rc_xml_one_line(out, sizeof(out), "", false);
	CHECK_STR(out, "");
}

/* An error response as the daemon and rcachectl see it: curl's pieces. */
static void error_resp(struct rc_http_resp *r, const char *type, const char *body, size_t len)
{
	char line[160];
	size_t off;

	rc_http_resp_reset(r);
	rc_http_header(r, "HTTP/1.1 403 Forbidden\r\n", 24);
	if (type) {
		snprintf(line, sizeof(line), "Content-Type: %s\r\n", type);
		rc_http_header(r, line, strlen(line));
	}
	for (off = 0; off < len; off += 16384)
		rc_http_body(r, body + off, len - off < 16384 ? len - off : 16384);
}

static void s3_error_body(void)
{
	struct rc_http_resp r;
	char why[600], *big;
	size_t n, big_len = 1 << 20;
	const char *b;

	b = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>"
	    "<Message>Access &amp; more\ndenied</Message><RequestId>R</RequestId></Error>";
	error_resp(&r, "application/xml", b, strlen(b));
	rc_http_s3_error(&r, why, sizeof(why));
	CHECK_STR(why, "AccessDenied: Access & more denied");	/* one line, decoded */
	CHECK(!rc_http_s3_token_expired(&r));
	/* malformed: said so (the status is the caller's) */
	b = "<Error><Code>AccessDenied</Code><Message>x</Mess></Error>";
	error_resp(&r, "application/xml", b, strlen(b));
	rc_http_s3_error(&r, why, sizeof(why));
	CHECK_STR(why, "(unparseable error body)");
	/* an http(s) origin's error page is no S3 error */
	b = "<!DOCTYPE html><html><body><Code>x</Code></body></html>";
	error_resp(&r, "text/html", b, strlen(b));
	rc_http_s3_error(&r, why, sizeof(why));
	CHECK_STR(why, "");
	error_resp(&r, NULL, "Forbidden\n", 10);
	rc_http_s3_error(&r, why, sizeof(why));
	CHECK_STR(why, "");
	error_resp(&r, "application/xml", " \n", 2);	/* nothing to say */
	rc_http_s3_error(&r, why, sizeof(why));
	CHECK_STR(why, "");
	/* no Content-Type but XML */
	b = " <Error><Code>NoSuchKey</Code></Error>";
	error_resp(&r, NULL, b, strlen(b));
	rc_http_s3_error(&r, why, sizeof(why));
	CHECK_STR(why, "NoSuchKey");
	/* a 1 MiB body: its start is kept, the message cut with "..." */
	big = malloc(big_len + 100);
	CHECK(big != NULL);
	if (!big)
		return;
	n = sprintf(big, "<Error><Code>SlowDown</Code><Message>");
	memset(big + n, 'w', big_len - n);
	n = big_len + sprintf(big + big_len, "</Message></Error>");
	error_resp(&r, "application/xml", big, n);
	CHECK(r.body_len == sizeof(r.body));
	rc_http_s3_error(&r, why, sizeof(why));
	CHECK(!strncmp(why, "SlowDown: wwww", 14));
	CHECK(strlen(why) < 600 && !strcmp(why + strlen(why) - 4, "w..."));
	/* the start of a 1 MiB body cut inside a tag is still read */
	n = sprintf(big, "<Error><Code>SlowDown</Code><Message>m</Message><HostId>");
	memset(big + n, 'h', big_len - n);
	error_resp(&r, "application/xml", big, big_len);
	rc_http_s3_error(&r, why, sizeof(why));
	CHECK_STR(why, "SlowDown: m");
	free(big);
}

/* Temporary credentials ran out: the <Code> says so, not the message. */
static void s3_token_expired(void)
{
	struct rc_http_resp r;
	const char *b;

	b = "<Error><Code>ExpiredToken</Code><Message>The provided token has expired.</Message></Error>";
	error_resp(&r, "application/xml", b, strlen(b));
	CHECK(rc_http_s3_token_expired(&r));
	b = "<Error><Code>InvalidToken</Code></Error>";
	error_resp(&r, "application/xml", b, strlen(b));
	CHECK(rc_http_s3_token_expired(&r));
	b = "<Error xmlns=\"x\"><Code>TokenRefreshRequired</Code></Error>";
	error_resp(&r, "application/xml", b, strlen(b));
	CHECK(rc_http_s3_token_expired(&r));
	/* strstr on "Code: Message" took these for expired credentials */
	b = "<Error><Code>AccessDenied</Code><Message>not an ExpiredToken</Message></Error>";
	error_resp(&r, "application/xml", b, strlen(b));
	CHECK(!rc_http_s3_token_expired(&r));
	b = "<Error><Code>ExpiredTokenNot</Code></Error>";
	error_resp(&r, "application/xml", b, strlen(b));
	CHECK(!rc_http_s3_token_expired(&r));
	b = "<Error><Code>ExpiredToken</Code>";		/* malformed */
	error_resp(&r, "application/xml", b, strlen(b));
	CHECK(!rc_http_s3_token_expired(&r));
}

#define STS_HEAD "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">" \
	"<AssumeRoleWithWebIdentityResult>"
#define STS_TAIL "</AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>\n"
#define SECRET "wJalrXUtnFEMI-K7MDENG-SECRETKEY"
#define TOKEN "FwoGZXIvYXdzEXAMPLETOKEN"

static void sts_init(struct rc_aws *a)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->role_arn, sizeof(a->role_arn), "arn:aws:iam::1:role/r");
	snprintf(a->access_key, sizeof(a->access_key), "OLDKEY");
}

/* The error names the problem; no secret of the body is in it; nothing is taken. */
static void sts_fails(struct rc_aws *a, const char *body, const char *want)
{
	struct rc_err e = { 0 };

	CHECK(rc_aws_sts_answer(a, 200, body, strlen(body), &e) == -EPROTO);
	if (!strstr(e.msg, want)) {
		fprintf(stderr, "  error '%s' lacks '%s'\n", e.msg, want);
		CHECK(!"error message");
	}
	CHECK(!strstr(e.msg, SECRET) && !strstr(e.msg, TOKEN) && !strstr(e.msg, "AKIA"));
	CHECK_STR(a->access_key, "OLDKEY");
	CHECK(!a->secret_key[0] && !a->session_token[0] && !a->expiration);
}

static void sts_answer(void)
{
	struct rc_aws a;
	struct rc_err e = { 0 };
	char *body, *tok;
	size_t toklen;
	const char *b;

	/* STS's own answer, with a decoy in a CDATA section and a prefix */
	sts_init(&a);
	b = "<sts:AssumeRoleWithWebIdentityResponse xmlns:sts=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
	    "<sts:AssumeRoleWithWebIdentityResult>"
	    "<sts:Provider><![CDATA[<SessionToken>decoy</SessionToken>]]></sts:Provider>"
	    "<sts:Credentials><sts:AccessKeyId>AKIAEXAMPLE</sts:AccessKeyId>"
	    "<sts:SecretAccessKey>" SECRET "</sts:SecretAccessKey>"
	    "<sts:SessionToken>" TOKEN "&amp;+/=</sts:SessionToken>"
	    "<sts:Expiration>2030-01-02T03:04:05Z</sts:Expiration></sts:Credentials>"
	    "</sts:AssumeRoleWithWebIdentityResult></sts:AssumeRoleWithWebIdentityResponse>";
	CHECK(rc_aws_sts_answer(&a, 200, b, strlen(b), &e) == 0);
	CHECK_STR(a.access_key, "AKIAEXAMPLE");
	CHECK_STR(a.secret_key, SECRET);
	CHECK_STR(a.session_token, TOKEN "&+/=");
	CHECK(a.expiration == 1893553445 && a.issued > 0);

	/* missing, empty, elsewhere, too long, not a date, malformed, a DTD */
	sts_init(&a);
	sts_fails(&a, STS_HEAD "<Credentials><AccessKeyId>AKIA1</AccessKeyId><SecretAccessKey>"
		  SECRET "</SecretAccessKey><Expiration>2030-01-02T03:04:05Z</Expiration>"
		  "</Credentials>" STS_TAIL, "malformed response: no SessionToken");
	sts_fails(&a, STS_HEAD "<Credentials><AccessKeyId>AKIA1</AccessKeyId><SecretAccessKey>"
		  SECRET "</SecretAccessKey><SessionToken></SessionToken>"
		  "<Expiration>2030-01-02T03:04:05Z</Expiration></Credentials>" STS_TAIL,
		  "no SessionToken");
	sts_fails(&a, STS_HEAD "<AccessKeyId>AKIA1</AccessKeyId><SecretAccessKey>" SECRET
		  "</SecretAccessKey><SessionToken>" TOKEN "</SessionToken><Expiration>"
		  "2030-01-02T03:04:05Z</Expiration>" STS_TAIL, "no AccessKeyId");
	sts_fails(&a, STS_HEAD "<Credentials><AccessKeyId>AKIA1</AccessKeyId><SecretAccessKey>"
		  SECRET "</SecretAccessKey><SessionToken>" TOKEN "</SessionToken>"
		  "<Expiration>soon</Expiration></Credentials>" STS_TAIL,
		  "Expiration is not a date");
	sts_fails(&a, STS_HEAD "<Credentials><AccessKeyId>AKIA1</AccessKeyId><SecretAccessKey>"
		  SECRET "</SecretAccessKey><SessionToken>" TOKEN "</Credentials>" STS_TAIL,
		  "unparseable response: mismatched tag at line 1");
	sts_fails(&a, "<!DOCTYPE x [<!ENTITY s \"" SECRET "\">]>" STS_HEAD "<Credentials>"
		  "<AccessKeyId>AKIA1</AccessKeyId><SecretAccessKey>&s;</SecretAccessKey>"
		  "<SessionToken>" TOKEN "</SessionToken><Expiration>2030-01-02T03:04:05Z"
		  "</Expiration></Credentials>" STS_TAIL, "unparseable response: a DTD");
	/* a token longer than we keep: refused, not cut */
	toklen = sizeof(a.session_token) + 4096;
	tok = malloc(toklen + 1);
	body = malloc(toklen + 1024);
	CHECK(tok && body);
	if (!tok || !body)
		return;
	memset(tok, 'T', toklen);
	memcpy(tok, TOKEN, strlen(TOKEN));
	tok[toklen] = '\0';
	sprintf(body, STS_HEAD "<Credentials><AccessKeyId>AKIA1</AccessKeyId><SecretAccessKey>"
		SECRET "</SecretAccessKey><SessionToken>%s</SessionToken><Expiration>"
		"2030-01-02T03:04:05Z</Expiration></Credentials>" STS_TAIL, tok);
	sts_fails(&a, body, "SessionToken longer than");
	free(tok);
	free(body);

	/* refusals: STS's code and message, one line */
	b = "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender"
	    "</Type><Code>AccessDenied</Code><Message>Not authorized to perform\n"
	    "sts:AssumeRoleWithWebIdentity &amp; more</Message></Error><RequestId>1</RequestId>"
	    "</ErrorResponse>";
	CHECK(rc_aws_sts_answer(&a, 403, b, strlen(b), &e) == -EACCES);
	CHECK_STR(e.msg, "STS AssumeRoleWithWebIdentity for arn:aws:iam::1:role/r: HTTP 403 "
		  "AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity & more");
	b = "<ErrorResponse><Error><Code>Throttling</Code></Error></ErrorResponse>";
	CHECK(rc_aws_sts_answer(&a, 400, b, strlen(b), &e) == -EACCES);
	CHECK_STR(e.msg, "STS AssumeRoleWithWebIdentity for arn:aws:iam::1:role/r: HTTP 400 Throttling");
	b = "<ErrorResponse><Error><Code>Throttling</Code></Error>";
	CHECK(rc_aws_sts_answer(&a, 400, b, strlen(b), &e) == -EACCES);
	CHECK_STR(e.msg, "STS AssumeRoleWithWebIdentity for arn:aws:iam::1:role/r: HTTP 400 "
		  "(unparseable error body)");
	CHECK(rc_aws_sts_answer(&a, 502, "", 0, &e) == -EACCES);
	CHECK_STR(e.msg, "STS AssumeRoleWithWebIdentity for arn:aws:iam::1:role/r: HTTP 502");
	CHECK_STR(a.access_key, "OLDKEY");
}

int main(void)
{
	RUN("xml", xml_text_decoded);
	RUN("xml", xml_path_exact);
	RUN("xml", xml_dtd_refused);
	RUN("xml", xml_malformed);
	RUN("xml", xml_long_text_cut);
	RUN("xml", xml_one_mib);
	RUN("xml", xml_one_line);
	RUN("xml", s3_error_body);
	RUN("xml", s3_token_expired);
	RUN("xml", sts_answer);
	UNIT_EXIT();
}
