// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit suite "rcache_args": the table parser (dm-rcache-args.c).  Every
 * refusal must carry the exact reason that dmsetup users read in dmesg and
 * that dm-rcache(7) lists.
 */
#include <kunit/test.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "dm-rcache.h"

#define NARGS_ERR	"Invalid number of arguments: need <cache_dev> <origin> <block_sectors>"
#define BLOCK_ERR	"Invalid block size: expected a power of two from 8 to 131072 sectors"
#define URL_TOKEN_ERR	"Invalid origin URL: empty, too long or not printable"
#define URL_ABS_ERR	"Invalid origin URL: file:// needs an absolute path (file:///dir/image)"
#define URL_DIR_ERR	"Invalid origin URL: file:// path names a directory"
#define URL_S3_ERR	"Invalid origin URL: expected s3://bucket/key"
#define URL_HTTP_ERR	"Invalid origin URL: expected http(s)://host/path"
#define URL_SCHEME_ERR	\
	"Invalid origin URL: expected file:///path, s3://bucket/key or https://host/path"
#define OPT_COUNT_ERR	"Invalid number of optional arguments"
#define OPT_UNKNOWN_ERR	"Unknown optional argument"
#define OPT_NOVAL_ERR	"Optional argument is missing its value"
#define TIMEOUT_ERR	"Invalid daemon_timeout: expected 1 to 86400 seconds"
#define FILL_TIMEOUT_ERR "Invalid fill_timeout: expected 1 to 86400 seconds"
#define OSIZE_ERR	"Invalid origin_size: expected a positive number of bytes"
#define IDENT_ERR	"Invalid identity: expected 1 to 256 printable characters"
#define TRAILING_ERR	"Too many arguments after the optional argument group"

/* Splits @line at spaces into a test-managed argument vector. */
static char **rcache_kunit_argv(struct kunit *test, const char *line,
				unsigned int *argc)
{
	size_t len = strlen(line);
	char *buf, *tok, **argv;

	buf = kunit_kzalloc(test, len + 1, GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, buf);
	argv = kunit_kcalloc(test, len / 2 + 2, sizeof(*argv), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, argv);
	memcpy(buf, line, len);
	*argc = 0;
	while ((tok = strsep(&buf, " ")))
		if (*tok)
			argv[(*argc)++] = tok;
	return argv;
}

static int rcache_kunit_parse(struct kunit *test, const char *line,
			      struct rcache_args *args, char **error)
{
	unsigned int argc;
	char **argv = rcache_kunit_argv(test, line, &argc);

	*error = NULL;
	return rcache_parse_args(argc, argv, args, error);
}

/* A string of @len copies of @c, test managed. */
static char *rcache_kunit_repeat(struct kunit *test, const char *prefix,
				 char c, size_t len)
{
	size_t plen = strlen(prefix);
	char *s = kunit_kzalloc(test, plen + len + 1, GFP_KERNEL);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, s);
	memcpy(s, prefix, plen);
	memset(s + plen, c, len);
	return s;
}

struct rcache_bad_table {
	const char *table;
	const char *error;
};

static const struct rcache_bad_table rcache_bad_tables[] = {
	/* positional arguments */
	{ "", NARGS_ERR },
	{ "/dev/vdb", NARGS_ERR },
	{ "/dev/vdb file:///data/img", NARGS_ERR },
	/* block size */
	{ "/dev/vdb file:///data/img 0", BLOCK_ERR },
	{ "/dev/vdb file:///data/img 4", BLOCK_ERR },
	{ "/dev/vdb file:///data/img 12", BLOCK_ERR },
	{ "/dev/vdb file:///data/img 2047", BLOCK_ERR },
	{ "/dev/vdb file:///data/img 262144", BLOCK_ERR },
	{ "/dev/vdb file:///data/img 4294967296", BLOCK_ERR },
	{ "/dev/vdb file:///data/img -2048", BLOCK_ERR },
	{ "/dev/vdb file:///data/img 2048x", BLOCK_ERR },
	{ "/dev/vdb file:///data/img 1M", BLOCK_ERR },
	/* origin URL */
	{ "/dev/vdb file://data/img 2048", URL_ABS_ERR },
	{ "/dev/vdb file:/// 2048", URL_ABS_ERR },
	{ "/dev/vdb file:// 2048", URL_ABS_ERR },
	{ "/dev/vdb file:///data/ 2048", URL_DIR_ERR },
	{ "/dev/vdb file:///data/img\t 2048", URL_TOKEN_ERR },
	{ "/dev/vdb file:///data/\x7fimg 2048", URL_TOKEN_ERR },
	{ "/dev/vdb /data/img 2048", URL_SCHEME_ERR },
	{ "/dev/vdb ftp://host/img 2048", URL_SCHEME_ERR },
	{ "/dev/vdb s3://bucket 2048", URL_S3_ERR },
	{ "/dev/vdb s3://ab/key 2048", URL_S3_ERR },
	{ "/dev/vdb s3://bucket/ 2048", URL_S3_ERR },
	{ "/dev/vdb https://host 2048", URL_HTTP_ERR },
	{ "/dev/vdb http:///path 2048", URL_HTTP_ERR },
	/* the optional argument group */
	{ "/dev/vdb file:///data/img 2048 1", OPT_COUNT_ERR },
	{ "/dev/vdb file:///data/img 2048 x", OPT_COUNT_ERR },
	{ "/dev/vdb file:///data/img 2048 3 fail_fast", OPT_COUNT_ERR },
	{ "/dev/vdb file:///data/img 2048 1000 fail_fast", OPT_COUNT_ERR },
	{ "/dev/vdb file:///data/img 2048 1 bogus", OPT_UNKNOWN_ERR },
	{ "/dev/vdb file:///data/img 2048 2 bogus 1", OPT_UNKNOWN_ERR },
	{ "/dev/vdb file:///data/img 2048 1 daemon_timeout", OPT_NOVAL_ERR },
	{ "/dev/vdb file:///data/img 2048 1 origin_size", OPT_NOVAL_ERR },
	{ "/dev/vdb file:///data/img 2048 1 identity", OPT_NOVAL_ERR },
	{ "/dev/vdb file:///data/img 2048 2 fail_fast daemon_timeout", OPT_NOVAL_ERR },
	{ "/dev/vdb file:///data/img 2048 2 daemon_timeout 0", TIMEOUT_ERR },
	{ "/dev/vdb file:///data/img 2048 2 daemon_timeout 86401", TIMEOUT_ERR },
	{ "/dev/vdb file:///data/img 2048 2 daemon_timeout -1", TIMEOUT_ERR },
	{ "/dev/vdb file:///data/img 2048 2 daemon_timeout 30s", TIMEOUT_ERR },
	{ "/dev/vdb file:///data/img 2048 1 fill_timeout", OPT_NOVAL_ERR },
	{ "/dev/vdb file:///data/img 2048 2 fill_timeout 0", FILL_TIMEOUT_ERR },
	{ "/dev/vdb file:///data/img 2048 2 fill_timeout 86401", FILL_TIMEOUT_ERR },
	{ "/dev/vdb file:///data/img 2048 2 fill_timeout 5s", FILL_TIMEOUT_ERR },
	{ "/dev/vdb file:///data/img 2048 2 origin_size 0", OSIZE_ERR },
	{ "/dev/vdb file:///data/img 2048 2 origin_size 1G", OSIZE_ERR },
	{ "/dev/vdb file:///data/img 2048 2 origin_size 18446744073709551616", OSIZE_ERR },
	{ "/dev/vdb file:///data/img 2048 2 identity \x01", IDENT_ERR },
	{ "/dev/vdb file:///data/img 2048 1 fail_fast extra", TRAILING_ERR },
	{ "/dev/vdb file:///data/img 2048 0 fail_fast", TRAILING_ERR },
};

static void rcache_bad_table_desc(const struct rcache_bad_table *t, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s", t->table);
}

KUNIT_ARRAY_PARAM(rcache_bad_table, rcache_bad_tables, rcache_bad_table_desc);

/* Each bad table is refused with -EINVAL and its exact reason. */
static void rcache_args_bad_table(struct kunit *test)
{
	const struct rcache_bad_table *t = test->param_value;
	struct rcache_args args;
	char *error;

	KUNIT_EXPECT_EQ(test, rcache_kunit_parse(test, t->table, &args, &error), -EINVAL);
	KUNIT_ASSERT_NOT_NULL(test, error);
	KUNIT_EXPECT_STREQ(test, error, t->error);
}

static void rcache_args_minimal(struct kunit *test)
{
	struct rcache_args args;
	char *error;

	KUNIT_ASSERT_EQ(test, rcache_kunit_parse(test, "/dev/vdb file:///data/img 2048",
						 &args, &error), 0);
	KUNIT_EXPECT_NULL(test, error);
	KUNIT_EXPECT_STREQ(test, args.cache_path, "/dev/vdb");
	KUNIT_EXPECT_STREQ(test, args.origin, "file:///data/img");
	KUNIT_EXPECT_EQ(test, args.block_sectors, 2048U);
	KUNIT_EXPECT_EQ(test, args.daemon_timeout, (u32)RCACHE_DEFAULT_DAEMON_TIMEOUT);
	KUNIT_EXPECT_EQ(test, args.fill_timeout, (u32)RCACHE_DEFAULT_FILL_TIMEOUT);
	KUNIT_EXPECT_FALSE(test, args.fail_fast);
	KUNIT_EXPECT_EQ(test, args.origin_size, 0ULL);
	KUNIT_EXPECT_NULL(test, args.identity);
}

static void rcache_args_all_options(struct kunit *test)
{
	static const char *table =
		"253:1 file:///nfs/ds.img 8 9 fail_fast daemon_timeout 86400 origin_size 4096 identity s=1,i=2 fill_timeout 3";
	struct rcache_args args;
	char *error;

	KUNIT_ASSERT_EQ(test, rcache_kunit_parse(test, table, &args, &error), 0);
	KUNIT_EXPECT_STREQ(test, args.cache_path, "253:1");
	KUNIT_EXPECT_EQ(test, args.block_sectors, 8U);
	KUNIT_EXPECT_TRUE(test, args.fail_fast);
	KUNIT_EXPECT_EQ(test, args.daemon_timeout, 86400U);
	KUNIT_EXPECT_EQ(test, args.fill_timeout, 3U);
	KUNIT_EXPECT_EQ(test, args.origin_size, 4096ULL);
	KUNIT_ASSERT_NOT_NULL(test, args.identity);
	KUNIT_EXPECT_STREQ(test, args.identity, "s=1,i=2");
}

/* Option names are matched without regard to case, as dm targets do. */
static void rcache_args_option_case(struct kunit *test)
{
	const char *table = "/dev/vdb file:///img 2048 3 FAIL_FAST Daemon_Timeout 1";
	struct rcache_args args;
	char *error;

	KUNIT_ASSERT_EQ(test, rcache_kunit_parse(test, table, &args, &error), 0);
	KUNIT_EXPECT_TRUE(test, args.fail_fast);
	KUNIT_EXPECT_EQ(test, args.daemon_timeout, 1U);
}

/* Every power of two from 8 to 131072 sectors is a valid block size. */
static void rcache_args_block_sizes(struct kunit *test)
{
	struct rcache_args args;
	char *error, line[64];
	u32 bs;

	for (bs = RCACHE_MIN_BLOCK_SECTORS; bs <= RCACHE_MAX_BLOCK_SECTORS; bs <<= 1) {
		snprintf(line, sizeof(line), "/dev/vdb file:///img %u", bs);
		KUNIT_EXPECT_EQ_MSG(test, rcache_kunit_parse(test, line, &args, &error), 0,
				    "block_sectors %u", bs);
		KUNIT_EXPECT_EQ(test, args.block_sectors, bs);
	}
}

/* A second parse starts from the defaults again. */
static void rcache_args_reset(struct kunit *test)
{
	const char *full = "/dev/vdb file:///img 2048 5 fail_fast daemon_timeout 5 identity x";
	struct rcache_args args;
	char *error;

	KUNIT_ASSERT_EQ(test, rcache_kunit_parse(test, full, &args, &error), 0);
	KUNIT_ASSERT_EQ(test, rcache_kunit_parse(test, "/dev/vdb file:///img 2048",
						 &args, &error), 0);
	KUNIT_EXPECT_FALSE(test, args.fail_fast);
	KUNIT_EXPECT_EQ(test, args.daemon_timeout, (u32)RCACHE_DEFAULT_DAEMON_TIMEOUT);
	KUNIT_EXPECT_NULL(test, args.identity);
}

/* The persistence and prefetch options, and their error strings. */
static void rcache_args_cache_options(struct kunit *test)
{
	struct rcache_args args;
	char *error = NULL;
	const char *all = "/dev/vdb file:///img 2048 6 reset commit_interval 0 no_prefetch prefetch_window 64";

	KUNIT_ASSERT_EQ(test, rcache_kunit_parse(test, all, &args, &error), 0);
	KUNIT_EXPECT_TRUE(test, args.reset);
	KUNIT_EXPECT_EQ(test, args.commit_ms, 0U);
	KUNIT_EXPECT_TRUE(test, args.no_prefetch);
	KUNIT_EXPECT_EQ(test, args.prefetch_window, 64U);
	KUNIT_ASSERT_EQ(test, rcache_kunit_parse(test, "/dev/vdb file:///img 2048 2 prefetch_budget 9",
						 &args, &error), 0);
	KUNIT_EXPECT_EQ(test, args.prefetch_budget, 9U);
	KUNIT_EXPECT_EQ(test, args.commit_ms, (u32)RCACHE_DEFAULT_COMMIT_MS);
	KUNIT_EXPECT_FALSE(test, args.reset);

	KUNIT_EXPECT_EQ(test, rcache_kunit_parse(test, "/dev/vdb file:///img 2048 2 commit_interval x",
						 &args, &error), -EINVAL);
	KUNIT_EXPECT_STREQ(test, error, "Invalid commit_interval: expected 0 to 3600000 ms");
	KUNIT_EXPECT_EQ(test, rcache_kunit_parse(test, "/dev/vdb file:///img 2048 2 prefetch_window 0",
						 &args, &error), -EINVAL);
	KUNIT_EXPECT_STREQ(test, error,
			   "Invalid prefetch window or budget: expected 1 to 65536");
	KUNIT_EXPECT_EQ(test, rcache_kunit_parse(test, "/dev/vdb file:///img 2048 1 prefetch_budget",
						 &args, &error), -EINVAL);
	KUNIT_EXPECT_STREQ(test, error, "Optional argument is missing its value");
}

static void rcache_args_ranges(struct kunit *test)
{
	u64 b, e;

	KUNIT_EXPECT_EQ(test, rcache_parse_range("0-8", &b, &e), 0);
	KUNIT_EXPECT_EQ(test, b, 0ULL);
	KUNIT_EXPECT_EQ(test, e, 8ULL);
	KUNIT_EXPECT_EQ(test, rcache_parse_range("8-8", &b, &e), -EINVAL);
	KUNIT_EXPECT_EQ(test, rcache_parse_range("9-3", &b, &e), -EINVAL);
	KUNIT_EXPECT_EQ(test, rcache_parse_range("12", &b, &e), -EINVAL);
	KUNIT_EXPECT_EQ(test, rcache_parse_range("a-9", &b, &e), -EINVAL);
}

/* An origin URL may be RCACHE_MAX_ORIGIN_LEN bytes long, not one more. */
static void rcache_args_origin_length(struct kunit *test)
{
	char *url, *error = NULL;

	url = rcache_kunit_repeat(test, "file:///", 'a', RCACHE_MAX_ORIGIN_LEN - 8);
	KUNIT_EXPECT_EQ(test, strlen(url), (size_t)RCACHE_MAX_ORIGIN_LEN);
	KUNIT_EXPECT_EQ(test, rcache_check_origin_url(url, &error), 0);

	url = rcache_kunit_repeat(test, "file:///", 'a', RCACHE_MAX_ORIGIN_LEN - 7);
	KUNIT_EXPECT_EQ(test, rcache_check_origin_url(url, &error), -EINVAL);
	KUNIT_ASSERT_NOT_NULL(test, error);
	KUNIT_EXPECT_STREQ(test, error, URL_TOKEN_ERR);

	error = NULL;
	KUNIT_EXPECT_EQ(test, rcache_check_origin_url("", &error), -EINVAL);
	KUNIT_ASSERT_NOT_NULL(test, error);
	KUNIT_EXPECT_STREQ(test, error, URL_TOKEN_ERR);
}

/* An identity token may be RCACHE_MAX_IDENTITY_LEN bytes long. */
static void rcache_args_identity_length(struct kunit *test)
{
	struct rcache_args args;
	char *line, *error;

	line = rcache_kunit_repeat(test, "/dev/vdb file:///img 2048 2 identity ", 'i',
				   RCACHE_MAX_IDENTITY_LEN);
	KUNIT_ASSERT_EQ(test, rcache_kunit_parse(test, line, &args, &error), 0);
	KUNIT_EXPECT_EQ(test, strlen(args.identity), (size_t)RCACHE_MAX_IDENTITY_LEN);

	line = rcache_kunit_repeat(test, "/dev/vdb file:///img 2048 2 identity ", 'i',
				   RCACHE_MAX_IDENTITY_LEN + 1);
	KUNIT_EXPECT_EQ(test, rcache_kunit_parse(test, line, &args, &error), -EINVAL);
	KUNIT_ASSERT_NOT_NULL(test, error);
	KUNIT_EXPECT_STREQ(test, error, IDENT_ERR);
}

/* The URL shapes the kernel accepts; the daemon resolves them. */
static void rcache_args_good_urls(struct kunit *test)
{
	static const char * const good[] = {
		"file:///data/img",
		"file:///mnt/nfs/dir/my%20image.ext4",
		"file:///dev/mapper/origin",
		"s3://bucket/key",
		"s3://my.bucket-name/dir/shard-00001.tar",
		"https://objects.example.com/ds/img",
		"http://127.0.0.1:9000/bucket/img",
	};
	char *error;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(good); i++) {
		error = NULL;
		KUNIT_EXPECT_EQ_MSG(test, rcache_check_origin_url(good[i], &error), 0,
				    "%s: %s", good[i], error ? error : "");
	}
}

static struct kunit_case rcache_args_cases[] = {
	KUNIT_CASE_PARAM(rcache_args_bad_table, rcache_bad_table_gen_params),
	KUNIT_CASE(rcache_args_minimal),
	KUNIT_CASE(rcache_args_all_options),
	KUNIT_CASE(rcache_args_option_case),
	KUNIT_CASE(rcache_args_block_sizes),
	KUNIT_CASE(rcache_args_reset),
	KUNIT_CASE(rcache_args_cache_options),
	KUNIT_CASE(rcache_args_ranges),
	KUNIT_CASE(rcache_args_origin_length),
	KUNIT_CASE(rcache_args_identity_length),
	KUNIT_CASE(rcache_args_good_urls),
	{}
};

static struct kunit_suite rcache_args_suite = {
	.name = "rcache_args",
	.test_cases = rcache_args_cases,
};

kunit_test_suite(rcache_args_suite);

MODULE_LICENSE("GPL");
