/* SPDX-License-Identifier: GPL-2.0-only */
/* Logging: one line per event on stderr, systemd-journal friendly. */
#ifndef RCACHE_LOG_H
#define RCACHE_LOG_H

#include <stdarg.h>

enum rc_log_level { RC_LOG_ERR = 3, RC_LOG_WARN = 4, RC_LOG_INFO = 6, RC_LOG_DEBUG = 7 };

void rc_log_init(const char *prog, int max_level);
void rc_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rc_vlog(int level, const char *fmt, va_list ap);

#define rc_err(...) rc_log(RC_LOG_ERR, __VA_ARGS__)
#define rc_warn(...) rc_log(RC_LOG_WARN, __VA_ARGS__)
#define rc_info(...) rc_log(RC_LOG_INFO, __VA_ARGS__)
#define rc_debug(...) rc_log(RC_LOG_DEBUG, __VA_ARGS__)

#endif
