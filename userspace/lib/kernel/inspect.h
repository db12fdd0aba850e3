/* SPDX-License-Identifier: GPL-2.0-only */
/* Reading a cache device's on-disk format from userspace (rcachectl inspect). */
#ifndef RCACHE_INSPECT_H
#define RCACHE_INSPECT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/error.h"
#include "linux/dm-rcache.h"

struct rc_inspect {
	uint32_t version, block_sectors;
	uint64_t format_id, nr_slots, md_pages, data_start, cache_bytes;
	uint64_t nr_blocks, origin_size, format_time;
	char origin[RCACHE_SB_ORIGIN_SPACE + 1];
	char identity[RCACHE_MAX_IDENTITY_LEN + 1];
	/* from the metadata */
	uint64_t cached_blocks;		/* distinct blocks, as the kernel loads them */
	uint64_t duplicate_entries;	/* entries naming a block named before */
	uint64_t retired_slots;		/* RCACHE_MD_ENTRY_RETIRED: a cache write failed */
	uint64_t last_seq;
	uint64_t corrupt_copies;	/* one copy of a page fails its checksum */
	uint64_t damaged_pages;		/* both copies do */
};

/* crc32c as the kernel's crc32c(~0, ...): no final inversion */
uint32_t rc_crc32c(uint32_t crc, const void *data, size_t len);

int rc_inspect(const char *dev, struct rc_inspect *out, struct rc_err *err);
void rc_inspect_print(FILE *f, const char *dev, const struct rc_inspect *in, bool json);

#endif
