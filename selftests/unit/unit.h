/* SPDX-License-Identifier: GPL-2.0-only */
/* A tiny test harness: CHECK records failures, each TEST prints PASS/FAIL. */
#ifndef RCACHE_UNIT_H
#define RCACHE_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_failed_checks;
static int unit_failed_tests;

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "  %s:%d: CHECK(%s) failed\n",       \
				__FILE__, __LINE__, #cond);                  \
			unit_failed_checks++;                                \
		}                                                            \
	} while (0)

#define CHECK_STR(a, b)                                                      \
	do {                                                                 \
		const char *_a = (a), *_b = (b);                             \
		if (strcmp(_a, _b)) {                                        \
			fprintf(stderr, "  %s:%d: '%s' != '%s'\n", __FILE__, \
				__LINE__, _a, _b);                           \
			unit_failed_checks++;                                \
		}                                                            \
	} while (0)

#define RUN(suite, fn)                                                       \
	do {                                                                 \
		int _before = unit_failed_checks;                            \
		fn();                                                        \
		if (unit_failed_checks == _before) {                         \
			printf("PASS: unit/%s/%s\n", suite, #fn);            \
		} else {                                                     \
			printf("FAIL: unit/%s/%s: %d checks failed\n", suite, \
			       #fn, unit_failed_checks - _before);           \
			unit_failed_tests++;                                 \
		}                                                            \
	} while (0)

#define UNIT_EXIT() return unit_failed_tests ? 1 : 0

#endif
