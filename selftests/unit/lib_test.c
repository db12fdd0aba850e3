// SPDX-License-Identifier: GPL-2.0-only
/* Unit tests of librcache's pure parts. */
#include <endian.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "origin/aws.h"
#include "daemon/bufpool.h"
#include "origin/http.h"
#include "kernel/inspect.h"
#include "origin/origin_secret.h"
#include "kernel/status.h"
#include "kernel/table.h"
#include "origin/url.h"
#include "common/util.h"
#include "unit.h"

static void url_file(void)
{
	struct rc_url u;
	struct rc_err e;

	CHECK(rc_url_parse("file:///data/img", &u, &e) == 0);
	CHECK(u.kind == RC_ORIGIN_FILE);
	CHECK_STR(u.path, "/data/img");
	CHECK(rc_url_parse("file:///data/my%20img", &u, &e) == 0);
	CHECK_STR(u.path, "/data/my img");
}

static void url_bad(void)
{
	struct rc_url u;
	struct rc_err e;

	CHECK(rc_url_parse("", &u, &e) < 0);
	CHECK(rc_url_parse("file://rel/x", &u, &e) < 0);
	CHECK(strstr(e.msg, "absolute path") != NULL);
	CHECK(rc_url_parse("file:///dir/", &u, &e) < 0);
	CHECK(rc_url_parse("file:///", &u, &e) < 0);
	CHECK(rc_url_parse("file:///a b", &u, &e) < 0);
	CHECK(rc_url_parse("file:///a%2", &u, &e) < 0);
	CHECK(rc_url_parse("file:///a%00b", &u, &e) < 0);
	CHECK(rc_url_parse("ftp://x/y", &u, &e) < 0);
	CHECK(strstr(e.msg, "unsupported scheme") != NULL);
}

static void size_parse(void)
{
	uint64_t v = 0;

	CHECK(rc_parse_size("4096", &v) == 0 && v == 4096);
	CHECK(rc_parse_size("4k", &v) == 0 && v == 4096);
	CHECK(rc_parse_size("1M", &v) == 0 && v == 1048576);
	CHECK(rc_parse_size("1MiB", &v) == 0 && v == 1048576);
	CHECK(rc_parse_size("2G", &v) == 0 && v == 2ULL << 30);
	CHECK(rc_parse_size("", &v) < 0);
	CHECK(rc_parse_size("1X", &v) < 0);
	CHECK(rc_parse_size("-1", &v) < 0);
	CHECK(rc_parse_size("99999999999999999999", &v) < 0);
	CHECK(rc_parse_size("17179869184T", &v) < 0);
	CHECK(rc_parse_u64("30", 1, 86400, &v) == 0 && v == 30);
	CHECK(rc_parse_u64("0", 1, 86400, &v) < 0);
	CHECK(rc_parse_u64("86401", 1, 86400, &v) < 0);
	CHECK(rc_parse_u64("3s", 1, 86400, &v) < 0);
}

static void table_roundtrip(void)
{
	struct rc_table t = { 0 }, back;
	struct rc_err e;
	char *s;

	snprintf(t.cache_dev, sizeof(t.cache_dev), "254:0");
	snprintf(t.origin, sizeof(t.origin), "file:///data/img");
	t.block_sectors = 2048;
	s = rc_table_format(&t);
	CHECK_STR(s, "254:0 file:///data/img 2048");
	free(s);

	t.origin_size = 123456789;
	snprintf(t.identity, sizeof(t.identity), "size=1,mtime=2.3,ino=4");
	t.daemon_timeout = 7;
	t.fill_timeout = 9;
	t.fail_fast = true;
	s = rc_table_format(&t);
	CHECK_STR(s, "254:0 file:///data/img 2048 9 origin_size 123456789 identity "
		     "size=1,mtime=2.3,ino=4 daemon_timeout 7 fill_timeout 9 fail_fast");
	CHECK(rc_table_parse(s, &back, &e) == 0);
	CHECK(back.origin_size == 123456789 && back.daemon_timeout == 7 && back.fail_fast);
	CHECK(back.fill_timeout == 9);
	CHECK_STR(back.identity, t.identity);
	CHECK_STR(back.cache_dev, "254:0");
	free(s);

	CHECK(rc_table_parse("254:0 file:///x", &back, &e) < 0);
	CHECK(rc_table_parse("254:0 file:///x 2048 3 fail_fast", &back, &e) < 0);
	CHECK(rc_table_parse("254:0 file:///x 2048 1 bogus", &back, &e) < 0);
}

static void status_line(void)
{
	struct rc_status st = { 0 };
	struct rc_err e;

	CHECK(rc_status_parse_info("2048 3/40 10 4 80 32 1 2 connected 5 ready 40 7 1 9 11 8 2 3 4 1",
				   &st, &e) == 0);
	CHECK(st.slots == 40 && st.evictions == 7 && st.cache_read_errors == 1 && st.md_commits == 9);
	CHECK(st.prefetch_issued == 11 && st.prefetch_used == 8 && st.prefetch_wasted == 2);
	CHECK(st.streams == 3 && st.warmup_pending == 4 && st.warmup_errors == 1);
	CHECK(st.block_size == 1048576 && st.cached_blocks == 3 && st.total_blocks == 40);
	CHECK(st.read_hits == 10 && st.read_misses == 4);
	CHECK(st.hit_bytes == 80 * 512 && st.miss_bytes == 32 * 512);
	CHECK(st.fetches_inflight == 1 && st.fetch_errors == 2 && st.stale_replies == 5);
	CHECK_STR(st.daemon, "connected");
	CHECK_STR(st.mode, "ready");
	CHECK(st.fill_timeouts == 0 && st.late_replies == 0 && st.retired_slots == 0);
	/* the fields a newer module adds at the end */
	CHECK(rc_status_parse_info("2048 3/40 10 4 80 32 1 2 connected 5 ready 40 7 1 9 11 8 2 3 4 1 6 12 13",
				   &st, &e) == 0);
	CHECK(st.warmup_errors == 1 && st.fill_timeouts == 6 && st.late_replies == 12 &&
	      st.retired_slots == 13);
	CHECK(rc_status_parse_info("2048 3/40 10 4 80 32 1 2 connected 5 ready 40 7 1 9 11 8 2 3 4 1 6",
				   &st, &e) < 0);
	CHECK(rc_status_parse_info("2048 3/40 garbage", &st, &e) < 0);
}

static void layout_math(void)
{
	uint64_t s;

	/* 1016 entries per metadata page, two copies, data on a 1 MiB boundary */
	CHECK(RCACHE_MD_ENTRIES_PER_PAGE == 1016);
	CHECK(rcache_md_pages(0) == 0 && rcache_md_pages(1) == 1 &&
	      rcache_md_pages(1016) == 1 && rcache_md_pages(1017) == 2);
	CHECK(rcache_data_start(1) == 1048576);
	CHECK(rcache_data_start(1016 * 127) == 1048576);	/* 4K + 2 x 127 pages fit */
	CHECK(rcache_data_start(1016 * 127 + 1) == 2097152);
	CHECK(rcache_bytes_needed(40, 1048576) == 41 * 1048576ULL);
	/* the largest slot count that fits, for a range of sizes */
	for (uint64_t cache = 1 << 20; cache < (64ULL << 30); cache = cache * 3 + 4096) {
		uint32_t block = 4096;

		s = rcache_max_slots(cache, block);
		CHECK(s == 0 || rcache_bytes_needed(s, block) <= cache);
		CHECK(rcache_bytes_needed(s + 1, block) > cache);
	}
	CHECK(rcache_max_slots(1 << 20, 4096) == 0);
	CHECK(rcache_max_slots(8 << 20, 1 << 20) == 7);
}

/*
 * Web-identity credentials are refreshed a quarter of their lifetime early:
 * the lifetime STS granted, not the one asked for.
 */
static void aws_refresh_margin(void)
{
	struct rc_aws a;

	memset(&a, 0, sizeof(a));
	CHECK(rc_aws_refresh_in(&a, 1000) == -1);		/* static keys: never */
	a.source = RC_CREDS_WEB_IDENTITY;
	a.duration_s = 3600;
	CHECK(rc_aws_refresh_in(&a, 1000) == 0);		/* none yet: now */
	/* asked for an hour, granted 12 s: due 3 s before expiry, not at once */
	a.issued = 1000;
	a.expiration = 1012;
	CHECK(rc_aws_refresh_in(&a, 1000) == 9);
	CHECK(rc_aws_refresh_in(&a, 1009) == 0);
	/* an hour granted: 5 minutes early at most */
	a.expiration = 1000 + 3600;
	CHECK(rc_aws_refresh_in(&a, 1000) == 3600 - 300);
}

/* A presigned URL's query goes to a 0600 file; the table holds a reference. */
static void origin_secret(void)
{
	const char *url = "https://h.example/b/obj?X-Amz-Credential=AK%2F1&X-Amz-Signature=5ec7e7";
	char dir[] = "/tmp/rcache-secret-XXXXXX", path[256], ref[512], back[4400], shown[512];
	struct rc_url u;
	struct rc_err e;
	struct stat st;
	bool stashed;

	CHECK(mkdtemp(dir) != NULL);
	setenv("RCACHE_SECRETS_DIR", dir, 1);
	CHECK(rc_secret_stash(url, "ds1", ref, sizeof(ref), &stashed, &e) == 0 && stashed);
	CHECK_STR(ref, "https://h.example/b/obj#secret=ds1");
	snprintf(path, sizeof(path), "%s/ds1", dir);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK(rc_url_parse(ref, &u, &e) == 0 && u.kind == RC_ORIGIN_HTTP);
	CHECK(rc_http_object_url(ref, &u, NULL, back, sizeof(back), &e) == 0);
	CHECK_STR(back, url);
	/* what may be shown, and what names the same object */
	CHECK_STR(rc_origin_shown(url, shown, sizeof(shown)), "https://h.example/b/obj?...");
	CHECK(rc_origin_same_object(url, ref));
	CHECK(!rc_origin_same_object(url, "https://h.example/b/other#secret=ds1"));
	CHECK(!rc_origin_same_object("file:///a", "file:///b"));
	/* no query: nothing kept; a bad name or fragment: refused */
	CHECK(rc_secret_stash("https://h/p", "ds2", ref, sizeof(ref), &stashed, &e) == 0 && !stashed);
	CHECK_STR(ref, "https://h/p");
	CHECK(rc_secret_stash(url, "a:b", ref, sizeof(ref), &stashed, &e) < 0);
	CHECK(rc_url_parse("https://h/p#frag", &u, &e) < 0);
	CHECK(rc_url_parse("https://h/p#secret=../x", &u, &e) < 0);
	/* a parse error never prints the signature */
	CHECK(rc_url_parse("https://h/p?X-Amz-Signature=5ec7e7 x", &u, &e) < 0);
	CHECK(strstr(e.msg, "5ec7e7") == NULL);
	/* forgotten with the device: the reference then fails with the path */
	rc_secret_forget("ds1");
	CHECK(stat(path, &st) < 0);
	CHECK(rc_http_object_url("https://h.example/b/obj#secret=ds1", &u, NULL, back, sizeof(back),
				 &e) < 0);
	CHECK(strstr(e.msg, path) != NULL);
	rmdir(dir);
	unsetenv("RCACHE_SECRETS_DIR");
}

/* One page copy of a tiny cache device: slots 0..3 named by @entries. */
static void inspect_page(uint8_t *page, uint64_t format_id, uint64_t seq, const uint32_t *entries)
{
	struct rcache_disk_md_header *h = (void *)page;
	int j;

	memset(page, 0, RCACHE_MD_PAGE_SIZE);
	h->magic = htole32(RCACHE_MD_MAGIC);
	h->format_id = htole64(format_id);
	h->seq = htole64(seq);
	for (j = 0; j < 4; j++) {
		uint32_t e = htole32(entries[j]);

		memcpy(page + RCACHE_MD_PAGE_HEADER + 4 * j, &e, 4);
	}
	h->csum = htole32(rc_crc32c(~0U, page + 4, RCACHE_MD_PAGE_SIZE - 4));
}

/*
 * A block named by two slots (a commit cut short) counts once, as the
 * kernel loads it, and is reported as a duplicate; the newer copy counts;
 * a retired slot is counted apart, not taken for a block.
 */
static void inspect_duplicates(void)
{
	static uint8_t img[3 * RCACHE_MD_PAGE_SIZE] __attribute__((aligned(4096)));
	struct rcache_disk_sb *sb = (void *)img;
	const uint32_t newer[4] = { 6, 8, 6, RCACHE_MD_ENTRY_RETIRED }, older[4] = { 1, 2, 3, 4 };
	char path[] = "rcache-inspect-XXXXXX";
	struct rc_inspect in;
	struct rc_err e;
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	memset(img, 0, sizeof(img));
	sb->magic = htole32(RCACHE_SB_MAGIC);
	sb->version = htole32(RCACHE_FORMAT_VERSION);
	sb->block_sectors = htole32(8);
	sb->format_id = htole64(42);
	sb->nr_slots = htole64(4);
	sb->md_pages = htole64(1);
	sb->data_start = htole64(rcache_data_start(4));
	sb->nr_blocks = htole64(16);
	sb->origin_size = htole64(16 * 4096);
	sb->origin_len = htole32(9);
	memcpy(sb->origin, "file:///x", 9);
	sb->csum = htole32(rc_crc32c(~0U, img + 4, RCACHE_SB_SIZE - 4));
	inspect_page(img + RCACHE_MD_OFFSET, 42, 3, newer);
	inspect_page(img + RCACHE_MD_OFFSET + RCACHE_MD_PAGE_SIZE, 42, 2, older);
	CHECK(write(fd, img, sizeof(img)) == (ssize_t)sizeof(img));
	close(fd);
	CHECK(rc_inspect(path, &in, &e) == 0);
	CHECK(in.cached_blocks == 2);
	CHECK(in.duplicate_entries == 1);
	CHECK(in.retired_slots == 1);
	CHECK(in.last_seq == 3);
	unlink(path);
}

/* Fill buffers come back for the next group of their size class, up to a bound. */
static void buffer_pool(void)
{
	struct rc_bufpool bp;
	size_t cap, cap2;
	void *a, *b, *c;

	rc_bufpool_init(&bp, 8u << 20);
	a = rc_bufpool_get(&bp, 3u << 20, 4096, &cap);
	CHECK(a && cap == 4u << 20 && !((uintptr_t)a % 4096));
	memset(a, 1, 3u << 20);
	rc_bufpool_put(&bp, a, cap);
	CHECK(bp.idle_bytes == 4u << 20);
	/* the same class: the same buffer, no new allocation */
	b = rc_bufpool_get(&bp, 4u << 20, 4096, &cap2);
	CHECK(b == a && cap2 == cap && bp.reused == 1 && bp.allocated == 1);
	CHECK(bp.idle_bytes == 0);
	/* another class: a new one */
	c = rc_bufpool_get(&bp, 100000, 4096, &cap2);
	CHECK(c && c != a && cap2 == 128u << 10 && bp.allocated == 2);
	rc_bufpool_put(&bp, c, cap2);
	rc_bufpool_put(&bp, b, cap);
	CHECK(bp.idle_bytes == (4u << 20) + (128u << 10));
	/* beyond the bound, a buffer is freed rather than kept */
	a = rc_bufpool_get(&bp, 8u << 20, 4096, &cap);
	CHECK(a && cap == 8u << 20);
	rc_bufpool_put(&bp, a, cap);
	CHECK(bp.idle_bytes == (4u << 20) + (128u << 10));
	rc_bufpool_clear(&bp);
	CHECK(bp.idle_bytes == 0);
}

int main(void)
{
	RUN("lib", buffer_pool);
	RUN("lib", url_file);
	RUN("lib", url_bad);
	RUN("lib", size_parse);
	RUN("lib", table_roundtrip);
	RUN("lib", status_line);
	RUN("lib", layout_math);
	RUN("lib", aws_refresh_margin);
	RUN("lib", origin_secret);
	RUN("lib", inspect_duplicates);
	UNIT_EXIT();
}
