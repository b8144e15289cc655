/* SPDX-License-Identifier: MIT */
/* Wall and monotonic clocks, a fake clock for tests, ISO 8601 parsing and formatting. */
#include <ctype.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include <loa/clock.h>
#include <loa/err.h>

static _Atomic int64_t fake_ms = -1;

int64_t loa_now_ms(void)
{
    int64_t f = atomic_load(&fake_ms);
    if (f >= 0)
        return f;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t loa_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void loa_clock_set_fake(int64_t ms)
{
    atomic_store(&fake_ms, ms);
}

/* Reads exactly n digits at *p. */
static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return LOA_EPARSE;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

static int days_in_month(int y, int m)
{
    static const int d[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : d[m - 1];
}

int loa_time_parse(const char *s, int64_t *ms_out)
{
    const char *p = s;
    int y, mo, d, h = 0, mi = 0, sec = 0, frac_ms = 0, off_min = 0;
    if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' || digits(&p, 2, &d))
        return LOA_EPARSE;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || y < 1970)
        return LOA_EPARSE;
    if (*p == 'T' || *p == ' ') {
        p++;
        if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi))
            return LOA_EPARSE;
        if (*p == ':') {
            p++;
            if (digits(&p, 2, &sec))
                return LOA_EPARSE;
            if (*p == '.') {
                p++;
                int scale = 100, nd = 0;
                while (isdigit((unsigned char)*p)) {
                    if (nd++ < 3) {
                        frac_ms += (*p - '0') * scale;
                        scale /= 10;
                    }
                    p++;
                }
                if (nd == 0)
                    return LOA_EPARSE;
            }
        }
        if (h > 23 || mi > 59 || sec > 60)
            return LOA_EPARSE;
        if (*p == 'Z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
            if (digits(&p, 2, &oh))
                return LOA_EPARSE;
            if (*p == ':')
                p++;
            if (*p && digits(&p, 2, &om))
                return LOA_EPARSE;
            if (oh > 14 || om > 59)
                return LOA_EPARSE;
            off_min = sign * (oh * 60 + om);
        }
    }
    if (*p)
        return LOA_EPARSE;
    struct tm tm = { .tm_year = y - 1900,
                     .tm_mon = mo - 1,
                     .tm_mday = d,
                     .tm_hour = h,
                     .tm_min = mi,
                     .tm_sec = sec };
    time_t t = timegm(&tm);
    *ms_out = ((int64_t)t - (int64_t)off_min * 60) * 1000 + frac_ms;
    return 0;
}

void loa_time_format(int64_t ms, char *out, size_t size)
{
    time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int frac = (int)(ms - (int64_t)t * 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}
