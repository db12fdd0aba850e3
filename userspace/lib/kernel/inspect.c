// SPDX-License-Identifier: GPL-2.0-only
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kernel/inspect.h"
#include "common/json.h"
#include "common/util.h"

uint32_t rc_crc32c(uint32_t crc, const void *data, size_t len)
{
	static uint32_t table[256];
	const uint8_t *p = data;
	size_t i;

	if (!table[1]) {
		for (uint32_t n = 0; n < 256; n++) {
			uint32_t c = n;

			for (int k = 0; k < 8; k++)
				c = c & 1 ? 0x82f63b78 ^ (c >> 1) : c >> 1;
			table[n] = c;
		}
	}
	for (i = 0; i < len; i++)
		crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
	return crc;
}

/* O_DIRECT: the kernel writes the metadata past the page cache */
static int read_at(int fd, void *buf, size_t len, uint64_t off)
{
	void *bounce;
	ssize_t n;

	if (posix_memalign(&bounce, 4096, len))
		return -ENOMEM;
	n = pread(fd, bounce, len, off);
	if (n == (ssize_t)len)
		memcpy(buf, bounce, len);
	free(bounce);
	return n == (ssize_t)len ? 0 : -EIO;
}

int rc_inspect(const char *dev, struct rc_inspect *out, struct rc_err *err)
{
	uint8_t block[RCACHE_SB_SIZE];
	const struct rcache_disk_sb *sb = (const void *)block;
	uint8_t *pages = NULL;
	uint64_t *seen = NULL, p;
	int fd, r = 0;

	memset(out, 0, sizeof(*out));
	fd = open(dev, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0)
		return rc_errf(err, errno, "%s: %s", dev, strerror(errno));
	if (read_at(fd, block, sizeof(block), RCACHE_SB_OFFSET)) {
		r = rc_errf(err, EIO, "%s: cannot read the superblock", dev);
		goto out;
	}
	if (le32toh(sb->magic) != RCACHE_SB_MAGIC) {
		size_t i = 0;

		while (i < sizeof(block) && !block[i])
			i++;
		r = i == sizeof(block) ?
			rc_errf(err, ENODATA, "%s: no rcache superblock (a fresh, zeroed device)", dev) :
			rc_errf(err, EBADMSG, "%s: no rcache superblock, and not zeroed: "
				"other data or a damaged superblock", dev);
		goto out;
	}
	if (le32toh(sb->csum) != rc_crc32c(~0U, block + 4, sizeof(block) - 4)) {
		r = rc_errf(err, EBADMSG, "%s: superblock checksum mismatch", dev);
		goto out;
	}
	out->version = le32toh(sb->version);
	out->block_sectors = le32toh(sb->block_sectors);
	out->format_id = le64toh(sb->format_id);
	out->nr_slots = le64toh(sb->nr_slots);
	out->md_pages = le64toh(sb->md_pages);
	out->data_start = le64toh(sb->data_start);
	out->cache_bytes = le64toh(sb->cache_bytes);
	out->nr_blocks = le64toh(sb->nr_blocks);
	out->origin_size = le64toh(sb->origin_size);
	out->format_time = le64toh(sb->format_time);
	memcpy(out->origin, sb->origin,
	       le32toh(sb->origin_len) < RCACHE_SB_ORIGIN_SPACE ? le32toh(sb->origin_len) : 0);
	memcpy(out->identity, sb->identity,
	       le32toh(sb->identity_len) <= RCACHE_MAX_IDENTITY_LEN ? le32toh(sb->identity_len) : 0);
	if (out->version != RCACHE_FORMAT_VERSION) {
		r = rc_errf(err, EPROTO, "%s: format version %u is not supported", dev, out->version);
		goto out;
	}

	pages = malloc(2 * RCACHE_MD_PAGE_SIZE);
	/* a block named by two slots (a commit cut short) counts once, as the
	 * kernel keeps only the first of them */
	seen = calloc((out->nr_blocks + 63) / 64 + 1, sizeof(*seen));
	if (!pages || !seen) {
		r = rc_errf(err, ENOMEM, "out of memory");
		goto out;
	}
	for (p = 0; p < out->md_pages; p++) {
		uint64_t seq[2] = { 0, 0 };
		int state[2], c, best = -1;	/* 0 valid, 1 empty, 2 corrupt */

		for (c = 0; c < 2; c++) {
			uint8_t *pg = pages + c * RCACHE_MD_PAGE_SIZE;
			const struct rcache_disk_md_header *h = (const void *)pg;
			uint64_t off = RCACHE_MD_OFFSET + (c * out->md_pages + p) * RCACHE_MD_PAGE_SIZE;
			size_t i;

			if (read_at(fd, pg, RCACHE_MD_PAGE_SIZE, off)) {
				r = rc_errf(err, EIO, "%s: cannot read metadata page %" PRIu64, dev, p);
				goto out;
			}
			for (i = 0; i < RCACHE_MD_PAGE_SIZE && !pg[i]; i++)
				;
			if (i == RCACHE_MD_PAGE_SIZE)
				state[c] = 1;
			else if (le32toh(h->magic) != RCACHE_MD_MAGIC ||
				 le32toh(h->csum) != rc_crc32c(~0U, pg + 4, RCACHE_MD_PAGE_SIZE - 4))
				state[c] = 2;
			else if (le64toh(h->format_id) != out->format_id)
				state[c] = 1;
			else if (le32toh(h->index) != p)
				state[c] = 2;
			else
				state[c] = 0, seq[c] = le64toh(h->seq);
		}
		out->corrupt_copies += (state[0] == 2) + (state[1] == 2);
		if (state[0] == 2 && state[1] == 2)
			out->damaged_pages++;
		if (state[0] == 0)
			best = 0;
		if (state[1] == 0 && (best < 0 || seq[1] > seq[0]))
			best = 1;
		if (best < 0)
			continue;
		if (seq[best] > out->last_seq)
			out->last_seq = seq[best];
		for (size_t j = 0; j < RCACHE_MD_ENTRIES_PER_PAGE; j++) {
			uint32_t e;

			memcpy(&e, pages + best * RCACHE_MD_PAGE_SIZE + RCACHE_MD_PAGE_HEADER + 4 * j, 4);
			e = le32toh(e);
			if (!e)
				continue;
			if (e == RCACHE_MD_ENTRY_RETIRED) {
				out->retired_slots++;
				continue;
			}
			if (e - 1 >= out->nr_blocks) {
				r = rc_errf(err, EBADMSG, "%s: metadata page %" PRIu64
					    ": entry %u names no block of the origin", dev, p, e);
				goto out;
			}
			if (seen[(e - 1) / 64] & (1ULL << ((e - 1) % 64))) {
				out->duplicate_entries++;
				continue;
			}
			seen[(e - 1) / 64] |= 1ULL << ((e - 1) % 64);
			out->cached_blocks++;
		}
	}
out:
	free(pages);
	free(seen);
	close(fd);
	return r;
}

/* One line: the superblock's fields and what the metadata scan counted. */
static void print_json(FILE *f, const char *dev, const struct rc_inspect *in, const char *when)
{
	const struct { const char *key; uint64_t v; } numbers[] = {
		{ "block_size", in->block_sectors * 512ULL }, { "slots", in->nr_slots },
		{ "data_start", in->data_start }, { "cache_bytes", in->cache_bytes },
		{ "origin_blocks", in->nr_blocks }, { "origin_size", in->origin_size },
		{ "metadata_pages", in->md_pages }, { "cached_blocks", in->cached_blocks },
		{ "duplicate_entries", in->duplicate_entries },
		{ "retired_slots", in->retired_slots }, { "last_commit", in->last_seq },
		{ "corrupt_copies", in->corrupt_copies }, { "damaged_pages", in->damaged_pages },
	};
	struct json_object *j = json_object_new_object();
	char format_id[32];
	size_t i;

	if (!j)
		return;
	snprintf(format_id, sizeof(format_id), "%016" PRIx64, in->format_id);
	json_object_object_add(j, "device", rc_json_string(dev));
	json_object_object_add(j, "format_version", json_object_new_uint64(in->version));
	json_object_object_add(j, "format_id", json_object_new_string(format_id));
	json_object_object_add(j, "origin", rc_json_string(in->origin));
	json_object_object_add(j, "identity", rc_json_string(in->identity));
	for (i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++)
		json_object_object_add(j, numbers[i].key, json_object_new_uint64(numbers[i].v));
	json_object_object_add(j, "formatted", json_object_new_string(when));
	rc_json_print(f, j);
	fputc('\n', f);
	json_object_put(j);
}

void rc_inspect_print(FILE *f, const char *dev, const struct rc_inspect *in, bool json)
{
	char a[32], b[32], when[64];
	time_t t = (time_t)in->format_time;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	if (json) {
		print_json(f, dev, in, when);
		return;
	}
	fprintf(f, "%s: rcache cache device, format version %u\n", dev, in->version);
	fprintf(f, "  origin:         %s\n", in->origin);
	fprintf(f, "  identity:       %s\n", in->identity[0] ? in->identity : "(none)");
	fprintf(f, "  origin size:    %s in %" PRIu64 " blocks of %s\n",
		rc_fmt_bytes(in->origin_size, a, sizeof(a)), in->nr_blocks,
		rc_fmt_bytes(in->block_sectors * 512ULL, b, sizeof(b)));
	fprintf(f, "  slots:          %" PRIu64 ", data from byte %" PRIu64 " (device %s)\n",
		in->nr_slots, in->data_start, rc_fmt_bytes(in->cache_bytes, a, sizeof(a)));
	fprintf(f, "  metadata:       2 copies of %" PRIu64 " pages, last commit %" PRIu64 "\n",
		in->md_pages, in->last_seq);
	fprintf(f, "  cached:         %" PRIu64 " blocks (%.1f%% of the origin)\n", in->cached_blocks,
		in->nr_blocks ? 100.0 * in->cached_blocks / in->nr_blocks : 0);
	if (in->duplicate_entries)
		fprintf(f, "  duplicates:     %" PRIu64 " entries name a block another slot holds"
			" (a commit cut short; the kernel frees them)\n", in->duplicate_entries);
	if (in->retired_slots)
		fprintf(f, "  retired:        %" PRIu64 " slots (their cache write failed; never used)\n",
			in->retired_slots);
	if (in->corrupt_copies)
		fprintf(f, "  damage:         %" PRIu64 " page copies fail their checksum, %" PRIu64
			" pages have no good copy\n", in->corrupt_copies, in->damaged_pages);
	fprintf(f, "  formatted:      %s (format id %016" PRIx64 ")\n", when, in->format_id);
}
