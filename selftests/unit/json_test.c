// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of JSON in librcache (common/json.h over json-c): the reader
 * with hostile input, the writer's escaping and UTF-8, 64-bit counters
 * through status --json and back, and the shape of status and inspect
 * --json (every field name, in order).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "kernel/inspect.h"
#include "kernel/status.h"
#include "unit.h"

static struct rc_err err;

/* @text (@len bytes) must fail to parse with an error containing @want, on one line */
static void parse_fails(const char *text, size_t len, const char *want)
{
	struct json_object *j;

	memset(&err, 0, sizeof(err));
	j = rc_json_parse(text, len, &err);
	CHECK(j == NULL);
	json_object_put(j);
	if (!strstr(err.msg, want) || strchr(err.msg, '\n')) {
		fprintf(stderr, "  error '%s', wanted '%s'\n", err.msg, want);
		CHECK(!"the error names what is wrong");
	}
}

static struct json_object *parse(const char *text)
{
	struct json_object *j = rc_json_parse(text, strlen(text), &err);

	if (!j)
		fprintf(stderr, "  %s: %s\n", text, err.msg);
	CHECK(j != NULL);
	return j;
}

static void reader_hostile(void)
{
	char deep[2 * 1000 + 1];
	struct json_object *j;
	const char *s = NULL;

	parse_fails("{\"name\":\"a\xff\"}", 13, "JSON: invalid utf-8 string at byte 10");
	parse_fails("{\"a\":1}\0{\"b\":2}", 15, "JSON: NUL byte at byte 7");
	parse_fails("{\"a\":\"x\0y\"}", 11, "JSON: NUL byte at byte 7");
	parse_fails("{\"devices\":[{\"name\":\"a\"", 23, "unexpected end of data at byte 23 (truncated?)");
	parse_fails("", 0, "unexpected end of data at byte 0");
	parse_fails("{\"a\":1} x", 9, "unexpected character at byte 8");
	parse_fails("{\"a\":1,}", 8, "unexpected character");
	/* far deeper than any report, and past the limit by one */
	memset(deep, '[', 1000);
	memset(deep + 1000, ']', 1000);
	parse_fails(deep, 2000, "JSON: nesting too deep at byte 32");
	j = parse("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");	/* 32 */
	json_object_put(j);
	parse_fails("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", 65,
		    "nesting too deep");
	/* a top-level number ends at the end of the input */
	j = parse("17");
	CHECK(j && json_object_get_int(j) == 17);
	json_object_put(j);

	/* a duplicate key: the last one wins, as in json-c and Python */
	j = parse("{\"name\":\"first\",\"name\":\"last\"}");
	CHECK(rc_json_get_str(j, "name", &s, &err) == 0 && s && !strcmp(s, "last"));
	json_object_put(j);

	/* what json-c lets through, a string taken out refuses */
	j = parse("{\"overlong\":\"\xc0\xaf\",\"surrogate\":\"\xed\xa0\x80\",\"nul\":\"x\\u0000y\","
		  "\"ok\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\",\"n\":1}");
	CHECK(rc_json_get_str(j, "overlong", &s, &err) < 0);
	CHECK_STR(err.msg, "overlong: not UTF-8 at byte 0 of the string");
	CHECK(rc_json_get_str(j, "surrogate", &s, &err) < 0);
	CHECK(rc_json_get_str(j, "nul", &s, &err) < 0);
	CHECK_STR(err.msg, "nul: NUL character at byte 1 of the string");
	CHECK(rc_json_get_str(j, "ok", &s, &err) == 0 && !strcmp(s, "caf\xc3\xa9 \xf0\x9f\x98\x80"));
	CHECK(rc_json_get_str(j, "n", &s, &err) < 0);
	CHECK_STR(err.msg, "n: expected a string, got int");
	s = "untouched";
	CHECK(rc_json_get_str(j, "absent", &s, &err) == 1 && !strcmp(s, "untouched"));
	json_object_put(j);
}

static void reader_numbers(void)
{
	struct json_object *j = parse("{\"c63\":9223372036854775808,\"cmax\":18446744073709551615,"
				      "\"c64\":18446744073709551616,\"neg\":-1,\"half\":1.5,"
				      "\"inf\":Infinity,\"nan\":NaN,\"null\":null,\"t\":true,"
				      "\"s\":\"1\",\"min\":-9223372036854775808}");
	uint64_t u = 0;
	int64_t i = 0;
	double d = 0;
	bool b = false;

	CHECK(rc_json_get_u64(j, "c63", &u, &err) == 0 && u == 1ULL << 63);
	CHECK(rc_json_get_u64(j, "cmax", &u, &err) == 0 && u == UINT64_MAX);
	/* past 2^64-1: json-c saturates */
	CHECK(rc_json_get_u64(j, "c64", &u, &err) == 0 && u == UINT64_MAX);
	CHECK(rc_json_get_u64(j, "neg", &u, &err) < 0);
	CHECK_STR(err.msg, "neg: -1 is out of range (0 to 18446744073709551615)");
	CHECK(rc_json_get_u64(j, "half", &u, &err) < 0);
	CHECK_STR(err.msg, "half: expected an integer, got double");
	CHECK(rc_json_get_u64(j, "s", &u, &err) < 0);
	u = 5;
	CHECK(rc_json_get_u64(j, "null", &u, &err) == 1 && u == 5);

	CHECK(rc_json_get_int(j, "c63", 0, 1024, &i, &err) < 0);
	CHECK_STR(err.msg, "c63: 9223372036854775808 is out of range (0 to 1024)");
	CHECK(rc_json_get_int(j, "c63", INT64_MIN, INT64_MAX, &i, &err) < 0);
	CHECK(rc_json_get_int(j, "min", INT64_MIN, INT64_MAX, &i, &err) == 0 && i == INT64_MIN);
	CHECK(rc_json_get_int(j, "neg", -1, 0, &i, &err) == 0 && i == -1);

	CHECK(rc_json_get_double(j, "half", &d, &err) == 0 && d == 1.5);
	CHECK(rc_json_get_double(j, "neg", &d, &err) == 0 && d == -1);
	CHECK(rc_json_get_double(j, "inf", &d, &err) < 0);
	CHECK_STR(err.msg, "inf: Infinity is not a finite number");
	CHECK(rc_json_get_double(j, "nan", &d, &err) < 0);
	CHECK(rc_json_get_bool(j, "t", &b, &err) == 0 && b);
	CHECK(rc_json_get_bool(j, "neg", &b, &err) < 0);
	CHECK_STR(err.msg, "neg: expected true or false, got int");
	json_object_put(j);
}

static char *print(struct json_object *j)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	CHECK(rc_json_print(f, j) == 0);
	fclose(f);
	json_object_put(j);
	return buf;
}

static void writer_strings(void)
{
	char *s;

	/* quotes, backslash, every control character escaped; '/' and UTF-8 as they are */
	s = print(rc_json_string("a\"b\\c/d\x01\x1f\t\n\r\b\f\x7f"));
	CHECK_STR(s, "\"a\\\"b\\\\c/d\\u0001\\u001f\\t\\n\\r\\b\\f\x7f\"");
	free(s);
	s = print(rc_json_string("s3://b\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac/\xf0\x9f\x98\x80.img"));
	CHECK_STR(s, "\"s3://b\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac/\xf0\x9f\x98\x80.img\"");
	free(s);
	/* bytes that are not UTF-8: one U+FFFD each, so the output is always UTF-8 */
	s = print(rc_json_string("a\xff" "b\xc3"));
	CHECK_STR(s, "\"a\xef\xbf\xbd" "b\xef\xbf\xbd\"");
	free(s);
	s = print(rc_json_string("\xc0\xaf\xed\xa0\x80x"));
	CHECK_STR(s, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdx\"");
	free(s);
	s = print(rc_json_string(NULL));
	CHECK_STR(s, "\"\"");
	free(s);
	s = print(rc_json_fixed(12.5, 2));
	CHECK_STR(s, "12.50");
	free(s);
	s = print(rc_json_fixed(1700000000.25, 3));
	CHECK_STR(s, "1700000000.250");
	free(s);
}

/* The member names of object @j, comma-separated, in order. */
static char *keys(struct json_object *j)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	json_object_object_foreach(j, key, val) {
		(void)val;
		fprintf(f, "%s%s", ftell(f) ? "," : "", key);
	}
	fclose(f);
	return buf;
}

static void fill_status(struct rc_status *st)
{
	memset(st, 0, sizeof(*st));
	/* a device name and origin with control characters, a quote and non-ASCII */
	snprintf(st->name, sizeof(st->name), "ds\t0\xc3\xa9\"");
	snprintf(st->table.origin, sizeof(st->table.origin),
		 "s3://bucket/\xe6\x97\xa5\xe6\x9c\xac\n/x\x01.img");
	snprintf(st->cache_path, sizeof(st->cache_path), "/dev/nvme0n1");
	snprintf(st->daemon, sizeof(st->daemon), "connected");
	snprintf(st->mode, sizeof(st->mode), "ready");
	st->block_size = 1 << 20;
	st->total_blocks = 40;
	st->cached_blocks = 10;
	st->read_hits = 1ULL << 63;
	st->read_misses = UINT64_MAX;
	st->hit_bytes = UINT64_MAX - 1;
	st->retired_slots = (1ULL << 63) + 1;
	st->topo.numa_node = -1;
}

static const char status_keys[] =
	"name,origin,cache_dev,cache_devt,block_size,size_bytes,cached_blocks,total_blocks,"
	"cached_percent,read_hits,read_misses,hit_bytes,miss_bytes,fetches_inflight,"
	"fetch_errors,stale_replies,slots,evictions,cache_read_errors,md_commits,"
	"prefetch_issued,prefetch_used,prefetch_wasted,streams,warmup_pending,warmup_errors,"
	"fill_timeouts,late_replies,retired_slots,daemon,mode,reason,daemon_timeout,"
	"fill_timeout,fail_fast,commit_interval_ms,devt,hit_ratio,health,health_reason,"
	"numa_node,pci_address,pci_path,gpus";

/* status --json printed, read back: the counters exact, the strings as they were */
static void status_round_trip(void)
{
	struct rc_status st;
	struct json_object *j;
	char *buf = NULL, *k;
	size_t len = 0;
	const char *s = NULL;
	uint64_t u = 0;
	double d = 0;
	FILE *f = open_memstream(&buf, &len);

	fill_status(&st);
	rc_status_print_json(f, &st);
	fclose(f);
	CHECK(strstr(buf, "\"read_hits\":9223372036854775808,"
			  "\"read_misses\":18446744073709551615,"
			  "\"hit_bytes\":18446744073709551614,") != NULL);
	CHECK(strstr(buf, "\"cached_percent\":25.00,") != NULL);
	CHECK(strstr(buf, "\"name\":\"ds\\t0\xc3\xa9\\\"\"") != NULL);
	CHECK(strstr(buf, "\"origin\":\"s3://bucket/\xe6\x97\xa5\xe6\x9c\xac\\n/x\\u0001.img\"") != NULL);
	j = rc_json_parse(buf, len, &err);
	CHECK(j != NULL);
	if (!j) {
		fprintf(stderr, "  %s: %s\n", buf, err.msg);
		free(buf);
		return;
	}
	k = keys(j);
	CHECK_STR(k, status_keys);
	free(k);
	CHECK(rc_json_get_u64(j, "read_hits", &u, &err) == 0 && u == 1ULL << 63);
	CHECK(rc_json_get_u64(j, "read_misses", &u, &err) == 0 && u == UINT64_MAX);
	CHECK(rc_json_get_u64(j, "hit_bytes", &u, &err) == 0 && u == UINT64_MAX - 1);
	CHECK(rc_json_get_u64(j, "retired_slots", &u, &err) == 0 && u == (1ULL << 63) + 1);
	CHECK(rc_json_get_double(j, "cached_percent", &d, &err) == 0 && d == 25.0);
	CHECK(rc_json_get_str(j, "name", &s, &err) == 0 && s && !strcmp(s, st.name));
	CHECK(rc_json_get_str(j, "origin", &s, &err) == 0 && s && !strcmp(s, st.table.origin));
	json_object_put(j);
	free(buf);
}

static void inspect_shape(void)
{
	struct rc_inspect in;
	struct json_object *j;
	char *buf = NULL, *k;
	size_t len = 0;
	uint64_t u = 0;
	const char *s = NULL;
	FILE *f = open_memstream(&buf, &len);

	memset(&in, 0, sizeof(in));
	in.version = 1;
	in.block_sectors = 2048;
	in.format_id = 0x0123456789abcdefULL;
	in.last_seq = UINT64_MAX;
	in.origin_size = 1ULL << 63;
	snprintf(in.origin, sizeof(in.origin), "file:///srv/\xc3\xa9t\xc3\xa9\x01.img");
	snprintf(in.identity, sizeof(in.identity), "etag:\"x\"");
	rc_inspect_print(f, "/dev/vd\xff", &in, true);
	fclose(f);
	CHECK(len > 0 && buf[len - 1] == '\n');
	j = rc_json_parse(buf, len, &err);
	CHECK(j != NULL);
	if (!j) {
		fprintf(stderr, "  %s: %s\n", buf, err.msg);
		free(buf);
		return;
	}
	k = keys(j);
	CHECK_STR(k, "device,format_version,format_id,origin,identity,block_size,slots,data_start,"
		  "cache_bytes,origin_blocks,origin_size,metadata_pages,cached_blocks,"
		  "duplicate_entries,retired_slots,last_commit,corrupt_copies,damaged_pages,"
		  "formatted");
	free(k);
	CHECK(rc_json_get_u64(j, "last_commit", &u, &err) == 0 && u == UINT64_MAX);
	CHECK(rc_json_get_u64(j, "origin_size", &u, &err) == 0 && u == 1ULL << 63);
	CHECK(rc_json_get_u64(j, "block_size", &u, &err) == 0 && u == 1048576);
	CHECK(rc_json_get_str(j, "format_id", &s, &err) == 0 && s && !strcmp(s, "0123456789abcdef"));
	CHECK(rc_json_get_str(j, "origin", &s, &err) == 0 && s && !strcmp(s, in.origin));
	/* a device path that is no UTF-8 is printed with U+FFFD, the JSON stays valid */
	CHECK(rc_json_get_str(j, "device", &s, &err) == 0 && s && !strcmp(s, "/dev/vd\xef\xbf\xbd"));
	json_object_put(j);
	free(buf);
}

int main(void)
{
	RUN("json", reader_hostile);
	RUN("json", reader_numbers);
	RUN("json", writer_strings);
	RUN("json", status_round_trip);
	RUN("json", inspect_shape);
	UNIT_EXIT();
}
