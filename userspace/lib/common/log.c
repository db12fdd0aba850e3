// SPDX-License-Identifier: GPL-2.0-only
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

static const char *log_prog = "rcache";
static int log_max_level = RC_LOG_INFO;

void rc_log_init(const char *prog, int max_level)
{
	log_prog = prog;
	log_max_level = max_level;
}

void rc_vlog(int level, const char *fmt, va_list ap)
{
	char line[2048];
	int n;

	if (level > log_max_level)
		return;
	/* One write per line so concurrent writers never interleave. */
	n = snprintf(line, sizeof(line), "%s: ", log_prog);
	n += vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nowhere left to report it */
	}
}

void rc_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rc_vlog(level, fmt, ap);
	va_end(ap);
}
