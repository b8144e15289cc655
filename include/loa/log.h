/* SPDX-License-Identifier: MIT */
/*
 * Structured logging: one logfmt line per event on stderr, written with one write() so that
 * lines from several threads never interleave.
 *
 *   ts=2026-11-21T20:01:02.123Z level=info sub=store msg="opened store" path=/var/lib/loa.db
 *
 * Messages are lowercase, say what failed first and then why. Secrets (Page tokens, app
 * secrets, API keys) are never passed to these functions.
 */
#ifndef LOA_LOG_H
#define LOA_LOG_H

#include <stdbool.h>

enum loa_log_level {
    LOA_LOG_ERROR = 0,
    LOA_LOG_WARN = 1,
    LOA_LOG_INFO = 2,
    LOA_LOG_DEBUG = 3,
};

void loa_log_set_level(enum loa_log_level level);
enum loa_log_level loa_log_get_level(void);
/** Parses "error", "warn", "info" or "debug". Returns 0 or LOA_EINVAL. */
int loa_log_parse_level(const char *s, enum loa_log_level *out);
bool loa_log_enabled(enum loa_log_level level);

/**
 * Logs msg for subsystem sub. fmt, when not NULL, formats extra logfmt fields that follow
 * msg, such as "page=%s rows=%zu"; values with spaces must be quoted by the caller.
 */
void loa_log(enum loa_log_level level, const char *sub, const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define LOA_LOG_AT(lvl, sub, msg, ...)           \
    do {                                         \
        if (loa_log_enabled(lvl))                \
            loa_log(lvl, sub, msg, __VA_ARGS__); \
    } while (0)
#define LOA_ERROR(sub, msg, ...) LOA_LOG_AT(LOA_LOG_ERROR, sub, msg, __VA_ARGS__)
#define LOA_WARN(sub, msg, ...)  LOA_LOG_AT(LOA_LOG_WARN, sub, msg, __VA_ARGS__)
#define LOA_INFO(sub, msg, ...)  LOA_LOG_AT(LOA_LOG_INFO, sub, msg, __VA_ARGS__)
#define LOA_DEBUG(sub, msg, ...) LOA_LOG_AT(LOA_LOG_DEBUG, sub, msg, __VA_ARGS__)

#endif /* LOA_LOG_H */
