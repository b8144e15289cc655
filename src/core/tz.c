/* SPDX-License-Identifier: MIT */
/*
 * UTC offsets of IANA time zones, read from the system's compiled zone files (tzdata's TZif
 * files under /usr/share/zoneinfo, RFC 8536) instead of through the C library's TZ variable:
 * setting TZ is process-wide and races with every getenv() of other threads (libcurl reads
 * proxy variables on each transfer), so a daemon must not touch it.
 *
 * A zone is parsed once and kept (a small cache under a mutex; zones are few). After the last
 * transition the footer's POSIX TZ string decides when it has no DST rule ("<+07>-7"); a zone
 * with a DST rule keeps the last transition's offset, which Debian's "fat" zone files put in
 * 2037.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <loa/alloc.h>
#include <loa/clock.h>
#include <loa/err.h>

#define TZ_FILE_MAX   (256 * 1024)
#define TZ_CACHE_MAX  64
#define TZ_NAME_MAX   64
#define DEFAULT_TZDIR "/usr/share/zoneinfo"

struct tzone {
    char name[TZ_NAME_MAX];
    size_t ntimes;
    int64_t *times;   /* transition instants, seconds, ascending */
    int32_t *offsets; /* offset in force from times[i], seconds east of UTC */
    int32_t before;   /* offset before the first transition */
    int32_t after;    /* offset after the last transition */
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tzone *cache[TZ_CACHE_MAX];
static size_t ncache;

static bool name_ok(const char *tz)
{
    size_t n = strlen(tz);
    if (n == 0 || n >= TZ_NAME_MAX || tz[0] == '/' || strstr(tz, ".."))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = tz[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '/' || c == '_' || c == '-' || c == '+'))
            return false;
    }
    return true;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* "<+07>-7", "ICT-7", "EST5": the standard offset of a POSIX TZ string, when it has no DST. */
static bool footer_offset(char *s, int32_t *out)
{
    if (*s == '<') {
        s = strchr(s, '>');
        if (!s)
            return false;
        s++;
    } else {
        while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z'))
            s++;
    }
    int sign = 1;
    if (*s == '+' || *s == '-')
        sign = *s++ == '-' ? -1 : 1;
    if (*s < '0' || *s > '9')
        return false;
    long h = strtol(s, &s, 10), m = 0, sec = 0;
    if (*s == ':')
        m = strtol(s + 1, &s, 10);
    if (*s == ':')
        sec = strtol(s + 1, &s, 10);
    if (*s != '\0' || h > 24 || m > 59 || sec > 59)
        return false; /* a DST part follows, or garbage */
    /* POSIX counts west of Greenwich as positive. */
    *out = (int32_t)(-sign * (h * 3600 + m * 60 + sec));
    return true;
}

/* Parses a TZif file (version 2 or later: the 64-bit block). */
static int parse(const unsigned char *b, size_t n, struct tzone *z)
{
    if (n < 44 || memcmp(b, "TZif", 4) != 0 || b[4] < '2')
        return LOA_EPARSE;
    /* Skip the version 1 block. */
    size_t isut = be32(b + 20), isstd = be32(b + 24), leap = be32(b + 28), timecnt = be32(b + 32),
           typecnt = be32(b + 36), charcnt = be32(b + 40);
    size_t v1 = timecnt * 5 + typecnt * 6 + charcnt + leap * 8 + isstd + isut;
    if (44 + v1 + 44 > n)
        return LOA_EPARSE;
    const unsigned char *h = b + 44 + v1;
    if (memcmp(h, "TZif", 4) != 0)
        return LOA_EPARSE;
    isut = be32(h + 20);
    isstd = be32(h + 24);
    leap = be32(h + 28);
    timecnt = be32(h + 32);
    typecnt = be32(h + 36);
    charcnt = be32(h + 40);
    const unsigned char *p = h + 44, *end = b + n;
    size_t need = timecnt * 9 + typecnt * 6 + charcnt + leap * 12 + isstd + isut;
    if (typecnt == 0 || typecnt > 256 || timecnt > 100000 || need > (size_t)(end - p))
        return LOA_EPARSE;
    const unsigned char *times = p, *idx = p + timecnt * 8, *types = idx + timecnt;
    z->ntimes = timecnt;
    z->times = loa_calloc(timecnt ? timecnt : 1, sizeof(*z->times));
    z->offsets = loa_calloc(timecnt ? timecnt : 1, sizeof(*z->offsets));
    for (size_t i = 0; i < timecnt; i++) {
        if (idx[i] >= typecnt)
            return LOA_EPARSE;
        z->times[i] = be64(times + i * 8);
        z->offsets[i] = (int32_t)be32(types + idx[i] * 6);
    }
    /* Before the first transition: the first standard-time type (RFC 8536 §3.2), else type 0. */
    z->before = (int32_t)be32(types);
    for (size_t t = 0; t < typecnt; t++)
        if (types[t * 6 + 4] == 0) {
            z->before = (int32_t)be32(types + t * 6);
            break;
        }
    z->after = timecnt ? z->offsets[timecnt - 1] : z->before;
    /* The footer: "\n<POSIX TZ>\n". */
    const unsigned char *f = p + need;
    if (f < end && *f == '\n') {
        const unsigned char *nl = memchr(f + 1, '\n', (size_t)(end - f - 1));
        if (nl && nl - f - 1 < 64) {
            char footer[64];
            memcpy(footer, f + 1, (size_t)(nl - f - 1));
            footer[nl - f - 1] = '\0';
            int32_t off;
            if (footer_offset(footer, &off))
                z->after = off;
        }
    }
    return 0;
}

static void tzone_free(struct tzone *z)
{
    if (!z)
        return;
    loa_free(z->times);
    loa_free(z->offsets);
    loa_free(z);
}

static int load(const char *tz, struct tzone **out)
{
    const char *dir = getenv("TZDIR");
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : DEFAULT_TZDIR, tz);
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT || errno == ENOTDIR || errno == EISDIR ? LOA_EINVAL : LOA_EIO;
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return LOA_EINVAL; /* "Asia" is a directory, not a zone */
    }
    unsigned char *buf = loa_malloc(TZ_FILE_MAX);
    size_t n = fread(buf, 1, TZ_FILE_MAX, f);
    bool err = ferror(f) != 0;
    fclose(f);
    struct tzone *z = loa_calloc(1, sizeof(*z));
    snprintf(z->name, sizeof(z->name), "%s", tz);
    int rc = err ? LOA_EIO : n == TZ_FILE_MAX ? LOA_EINVAL : parse(buf, n, z);
    loa_free(buf);
    if (rc < 0) {
        tzone_free(z);
        return rc == LOA_EPARSE ? LOA_EINVAL : rc;
    }
    *out = z;
    return 0;
}

static int32_t offset_at(const struct tzone *z, int64_t secs)
{
    if (z->ntimes == 0 || secs < z->times[0])
        return z->ntimes ? z->before : z->after;
    if (secs >= z->times[z->ntimes - 1])
        return secs == z->times[z->ntimes - 1] ? z->offsets[z->ntimes - 1] : z->after;
    size_t lo = 0, hi = z->ntimes - 1; /* times[lo] <= secs < times[hi] */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->times[mid] <= secs)
            lo = mid;
        else
            hi = mid;
    }
    return z->offsets[lo];
}

int loa_tz_offset(const char *tz, int64_t at, int *offset_min_out)
{
    if (!tz || !name_ok(tz))
        return LOA_EINVAL;
    int64_t secs = at >= 0 ? at / 1000 : -((-at + 999) / 1000);
    pthread_mutex_lock(&cache_lock);
    struct tzone *z = NULL;
    for (size_t i = 0; i < ncache && !z; i++)
        if (strcmp(cache[i]->name, tz) == 0)
            z = cache[i];
    int rc = 0;
    bool cached = z != NULL;
    if (!z && (rc = load(tz, &z)) == 0 && ncache < TZ_CACHE_MAX) {
        cache[ncache++] = z;
        cached = true;
    }
    if (rc == 0)
        *offset_min_out = offset_at(z, secs) / 60;
    if (!cached)
        tzone_free(z);
    pthread_mutex_unlock(&cache_lock);
    return rc;
}

/* ---- Local times ----------------------------------------------------------------------- */

/* The offset of tz at instant at, in ms; false when the zone is unknown. */
static bool offset_ms(const char *tz, int64_t at, int64_t *out)
{
    int min = 0;
    if (loa_tz_offset(tz, at, &min) < 0)
        return false;
    *out = (int64_t)min * LOA_MINUTE_MS;
    return true;
}

/*
 * The instant u with u + offset(u) == wall (a wall-clock time read as if it were UTC). Zones
 * change offset at most once within a day, so the offsets a day before and a day after give
 * every candidate: one (normal), two (the hour repeated when clocks go back: the first is
 * taken) or none (the hour skipped when clocks go forward: LOA_ERANGE).
 */
static int wall_to_instant(int64_t wall, const char *tz, int64_t *out)
{
    int64_t before, after;
    if (!offset_ms(tz, wall - LOA_DAY_MS, &before) || !offset_ms(tz, wall + LOA_DAY_MS, &after))
        return LOA_EINVAL;
    int64_t cand[2] = { wall - before, wall - after };
    bool found = false;
    int64_t best = 0;
    for (int i = 0; i < 2; i++) {
        int64_t off;
        if (!offset_ms(tz, cand[i], &off))
            return LOA_EINVAL;
        if (cand[i] + off != wall)
            continue;
        if (!found || cand[i] < best)
            best = cand[i];
        found = true;
    }
    if (!found)
        return LOA_ERANGE;
    *out = best;
    return 0;
}

/* Whether an ISO 8601 text carries its own offset (Z or ±HH[:MM] after the time). */
static bool has_offset(const char *s)
{
    size_t n = strlen(s);
    if (n <= 10)
        return false;
    if (s[n - 1] == 'Z' || s[n - 1] == 'z')
        return true;
    return strpbrk(s + 11, "+-") != NULL;
}

/* "H:MM", "HH:MM" or "HH:MM:SS" alone: ms after midnight; false otherwise. */
static bool clock_only(const char *s, int64_t *ms_out)
{
    int h = 0, m = 0, sec = 0, used = 0;
    size_t n = strlen(s);
    if (n < 4 || n > 8)
        return false;
    if (sscanf(s, "%2d:%2d%n", &h, &m, &used) == 2 && (size_t)used == n)
        ;
    else if (sscanf(s, "%2d:%2d:%2d%n", &h, &m, &sec, &used) == 3 && (size_t)used == n)
        ;
    else
        return false;
    if (s[0] < '0' || s[0] > '9' || h > 23 || m > 59 || sec > 59 || h < 0 || m < 0 || sec < 0)
        return false;
    *ms_out = h * LOA_HOUR_MS + m * LOA_MINUTE_MS + sec * LOA_SECOND_MS;
    return true;
}

int loa_time_parse_local(const char *s, const char *tz, int64_t now, int64_t *out)
{
    if (!s || !*s)
        return LOA_EPARSE;
    if (has_offset(s))
        return loa_time_parse(s, out);
    int64_t clock;
    if (clock_only(s, &clock)) {
        if (!tz || !*tz)
            return LOA_EINVAL;
        int64_t off;
        if (!offset_ms(tz, now, &off))
            return LOA_EINVAL;
        int64_t local = now + off;
        int64_t day = local >= 0 ? local / LOA_DAY_MS : -((-local + LOA_DAY_MS - 1) / LOA_DAY_MS);
        for (int k = 0; k < 3; k++) { /* today, else tomorrow (or the day after, across DST) */
            int64_t at;
            int rc = wall_to_instant((day + k) * LOA_DAY_MS + clock, tz, &at);
            if (rc == 0 && at > now) {
                *out = at;
                return 0;
            }
            if (rc == LOA_EINVAL)
                return rc;
        }
        return LOA_ERANGE;
    }
    if (strlen(s) < 16) /* "YYYY-MM-DD HH:MM": a date alone is not a moment */
        return LOA_EPARSE;
    int64_t wall;
    int rc = loa_time_parse(s, &wall);
    if (rc < 0)
        return rc;
    if (!tz || !*tz)
        return LOA_EINVAL;
    return wall_to_instant(wall, tz, out);
}

void loa_time_format_local(int64_t ms, const char *tz, char *out, size_t size)
{
    int64_t off = 0;
    if (!tz || !*tz || !offset_ms(tz, ms, &off)) {
        loa_time_format(ms, out, size);
        return;
    }
    int64_t local = ms + off;
    time_t t = (time_t)(local >= 0 ? local / 1000 : (local - 999) / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    long om = (long)(off / LOA_MINUTE_MS);
    char sign = om < 0 ? '-' : '+';
    om = om < 0 ? -om : om;
    if (tm.tm_sec)
        snprintf(out, size, "%04d-%02d-%02d %02d:%02d:%02d %c%02ld:%02ld", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, sign, om / 60,
                 om % 60);
    else
        snprintf(out, size, "%04d-%02d-%02d %02d:%02d %c%02ld:%02ld", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, sign, om / 60, om % 60);
}
