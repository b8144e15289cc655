/* SPDX-License-Identifier: MIT */
/* logfmt lines on stderr, one write() each. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <loa/clock.h>
#include <loa/err.h>
#include <loa/log.h>

static _Atomic int log_level = LOA_LOG_INFO;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void loa_log_set_level(enum loa_log_level level)
{
    atomic_store(&log_level, (int)level);
}

enum loa_log_level loa_log_get_level(void)
{
    return (enum loa_log_level)atomic_load(&log_level);
}

bool loa_log_enabled(enum loa_log_level level)
{
    return (int)level <= atomic_load(&log_level);
}

int loa_log_parse_level(const char *s, enum loa_log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum loa_log_level)i;
            return 0;
        }
    }
    return LOA_EINVAL;
}

void loa_log(enum loa_log_level level, const char *sub, const char *msg, const char *fmt, ...)
{
    char line[2048];
    char ts[32];
    loa_time_format(loa_now_ms(), ts, sizeof(ts));
    int n = snprintf(line, sizeof(line), "ts=%s level=%s sub=%s msg=\"%s\"", ts,
                     level_names[level & 3], sub, msg);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
    if (fmt && *fmt && len + 2 < sizeof(line)) {
        line[len++] = ' ';
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
        va_end(ap);
        if (m > 0)
            len += (size_t)m < sizeof(line) - len ? (size_t)m : sizeof(line) - len - 1;
    }
    if (len >= sizeof(line) - 1)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    (void)!write(STDERR_FILENO, line, len);
}
