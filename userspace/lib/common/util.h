/* SPDX-License-Identifier: GPL-2.0-only */
/* Small parsing and formatting helpers shared by the programs. */
#ifndef RCACHE_UTIL_H
#define RCACHE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* "4096", "4k", "4KiB", "1M", "1MiB", "2G": bytes; -1 when malformed. */
int rc_parse_size(const char *s, uint64_t *out);
/* "A-B" of sizes (bytes, with units), A < B; -1 when malformed. */
int rc_parse_range(const char *s, uint64_t *begin, uint64_t *end);
/* "123" within [min, max]; -1 when malformed or out of range. */
int rc_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* "1.5 MiB" style. */
const char *rc_fmt_bytes(uint64_t n, char *buf, size_t len);
/* Monotonic clock in nanoseconds. */
uint64_t rc_now_ns(void);

#endif
