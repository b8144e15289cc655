/* SPDX-License-Identifier: MIT */
/*
 * Send windows on a clock: the next and the last instant a window is open, and a sequence
 * step's due time. Pure functions (include/loa/schedule.h); the only outside reading is
 * loa_tz_offset() for IANA zones.
 *
 * How it works. On the local time line (UTC milliseconds plus the offset, so that day d runs
 * over [d * DAY, (d + 1) * DAY)) the window is a plain union of intervals, one per allowed day,
 * sorted and disjoint; finding the first or last local point of it near a local instant is a
 * walk over a few days (first_local, last_local). A zone's offset is constant between its
 * transitions, so time is cut into segments of one offset each: inside a segment, an instant
 * is inside the window exactly when instant + offset is a point of that union, and the answer
 * is the union's point minus the offset, when it falls inside the segment; otherwise the search
 * moves on to the next (or previous) segment. Transitions are not listed by loa_tz_offset(), so
 * a segment's end is found by probing the offset every PROBE_MS and bisecting to the
 * millisecond where it changes. This assumes a zone never changes its offset twice within
 * PROBE_MS (6 hours): a pair of changes closer than that would go unseen. A fixed offset is one
 * segment.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <loa/clock.h>
#include <loa/diag.h>
#include <loa/err.h>
#include <loa/schedule.h>

#define MIN_MS       LOA_MINUTE_MS
#define DAY_MS       LOA_DAY_MS
#define DAY_MIN      1440
#define OFFSET_MAX   (18 * 60)
#define PROBE_MS     (6 * LOA_HOUR_MS)
#define HORIZON_DAYS (LOA_SCHEDULE_HORIZON_MS / DAY_MS)

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Weekday of local day d (days since 1970-01-01, a Thursday): 0 Monday .. 6 Sunday. */
static unsigned weekday(int64_t d)
{
    return (unsigned)(((d % 7) + 7 + 3) % 7);
}

static bool day_allowed(const struct loa_send_window *w, int64_t d)
{
    return w->weekdays == 0 || (w->weekdays >> weekday(d) & 1u) != 0;
}

/* The window's interval [*a, *b) opening on local day d, on the local time line. */
static void day_interval(const struct loa_send_window *w, int64_t d, int64_t *a, int64_t *b)
{
    int64_t start = d * DAY_MS;
    if (w->from_min == w->to_min) {
        *a = start;
        *b = start + DAY_MS;
        return;
    }
    int to = w->to_min > w->from_min ? w->to_min : w->to_min + DAY_MIN;
    *a = start + w->from_min * MIN_MS;
    *b = start + to * MIN_MS;
}

/* The first local point >= l inside the window. Intervals of later days start later and do not
 * overlap, so the first interval that ends after l holds the answer. */
static bool first_local(const struct loa_send_window *w, int64_t l, int64_t *out)
{
    int64_t d0 = floor_div(l, DAY_MS);
    for (int64_t d = d0 - 1; d <= d0 + HORIZON_DAYS; d++) {
        int64_t a, b;
        day_interval(w, d, &a, &b);
        if (day_allowed(w, d) && b > l) {
            *out = a > l ? a : l;
            return true;
        }
    }
    return false;
}

/* The last local point <= l inside the window (the closing is exclusive: b - 1). */
static bool last_local(const struct loa_send_window *w, int64_t l, int64_t *out)
{
    int64_t d0 = floor_div(l, DAY_MS);
    for (int64_t d = d0; d >= d0 - HORIZON_DAYS - 1; d--) {
        int64_t a, b;
        day_interval(w, d, &a, &b);
        if (day_allowed(w, d) && a <= l) {
            *out = b - 1 < l ? b - 1 : l;
            return true;
        }
    }
    return false;
}

/* The zone's offset at t, in milliseconds. */
static int offset_at(const struct loa_zone *z, int64_t t, int64_t *ms_out)
{
    int min = z->offset_min;
    if (!z->has_offset) {
        int rc = loa_tz_offset(z->tz, t, &min);
        if (rc < 0)
            return rc;
    }
    *ms_out = min * MIN_MS;
    return 0;
}

/*
 * The first instant in (lo, hi] whose offset is not o_lo, the offset at lo, when the offset at
 * hi differs: bisection to the millisecond, the zone changing its offset once in between.
 */
static int transition(const struct loa_zone *z, int64_t lo, int64_t hi, int64_t o_lo, int64_t *out)
{
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2, o;
        int rc = offset_at(z, mid, &o);
        if (rc < 0)
            return rc;
        if (o == o_lo)
            lo = mid;
        else
            hi = mid;
    }
    *out = hi;
    return 0;
}

/*
 * The end of the segment that holds t (offset o there): the first instant after t with another
 * offset, or cap when the offset stays o up to cap (cap > t).
 */
static int segment_end(const struct loa_zone *z, int64_t t, int64_t o, int64_t cap, int64_t *out)
{
    if (z->has_offset) {
        *out = cap;
        return 0;
    }
    for (int64_t lo = t;;) {
        int64_t hi = cap - lo > PROBE_MS ? lo + PROBE_MS : cap, o2;
        int rc = offset_at(z, hi, &o2);
        if (rc < 0)
            return rc;
        if (o2 != o)
            return transition(z, lo, hi, o, out);
        if (hi == cap) {
            *out = cap;
            return 0;
        }
        lo = hi;
    }
}

/*
 * The start of the segment that holds t (offset o there): the first instant of the run of
 * offset o that reaches t, or floor when the offset is o all the way back to floor (<= t).
 */
static int segment_start(const struct loa_zone *z, int64_t t, int64_t o, int64_t floor,
                         int64_t *out)
{
    if (z->has_offset) {
        *out = floor;
        return 0;
    }
    for (int64_t hi = t; hi > floor;) {
        int64_t lo = hi - floor > PROBE_MS ? hi - PROBE_MS : floor, o2;
        int rc = offset_at(z, lo, &o2);
        if (rc < 0)
            return rc;
        if (o2 != o)
            return transition(z, lo, hi, o2, out);
        hi = lo;
    }
    *out = floor;
    return 0;
}

/* Reports one complaint about field of the window at where. */
static void complain(struct loa_diags *diags, const char *where, const char *field, const char *fmt,
                     ...) __attribute__((format(printf, 4, 5)));

static void complain(struct loa_diags *diags, const char *where, const char *field, const char *fmt,
                     ...)
{
    char path[160], reason[160];
    snprintf(path, sizeof(path), "%s%s%s", where ? where : "", where && *where ? "." : "", field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    loa_diags_add(diags, 0, 0, path, "%s", reason);
}

int loa_schedule_window_check(const struct loa_send_window *w, const char *where,
                              struct loa_diags *diags)
{
    if (!w) {
        loa_diags_add(diags, 0, 0, where, "no window");
        return LOA_EINVAL;
    }
    int rc = 0;
    if (w->from_min < 0 || w->from_min >= DAY_MIN) {
        complain(diags, where, "from", "%d is not a minute of the day (0 to 1439)", w->from_min);
        rc = LOA_EINVAL;
    }
    if (w->to_min < 0 || w->to_min > DAY_MIN) {
        complain(diags, where, "to", "%d is not a minute of the day (0 to 1440)", w->to_min);
        rc = LOA_EINVAL;
    }
    if (w->weekdays & ~LOA_EVERY_DAY) {
        complain(diags, where, "weekdays", "0x%x has bits beyond Sunday (0x7f)", w->weekdays);
        rc = LOA_EINVAL;
    }
    return rc;
}

static bool instant_ok(int64_t t)
{
    return t >= 0 && t <= LOA_SCHEDULE_TIME_MAX;
}

/* Checks the window and the zone (an IANA zone by looking it up at at). */
static int check(const struct loa_send_window *w, const struct loa_zone *z, int64_t at)
{
    if (!w || !z || loa_schedule_window_check(w, NULL, NULL) < 0 || !instant_ok(at))
        return LOA_EINVAL;
    if (z->has_offset)
        return z->offset_min >= -OFFSET_MAX && z->offset_min <= OFFSET_MAX ? 0 : LOA_EINVAL;
    if (!z->tz)
        return LOA_EINVAL;
    int64_t o;
    return offset_at(z, at, &o);
}

int loa_schedule_next_open(const struct loa_send_window *w, const struct loa_zone *z, int64_t at,
                           int64_t *out)
{
    int rc = check(w, z, at);
    if (rc < 0)
        return rc;
    int64_t end = at + LOA_SCHEDULE_HORIZON_MS;
    for (int64_t t = at; t < end;) {
        int64_t o, l, e;
        if ((rc = offset_at(z, t, &o)) < 0)
            return rc;
        /* Only as far as the candidate: the segment matters up to it, and probing further
         * would cost look-ups for nothing. */
        bool found = first_local(w, t + o, &l);
        int64_t cand = found ? l - o : end;
        if ((rc = segment_end(z, t, o, cand < end ? cand + 1 : end, &e)) < 0)
            return rc;
        if (found && cand < e) {
            *out = cand;
            return 0;
        }
        t = e;
    }
    return LOA_ENOENT;
}

int loa_schedule_last_open(const struct loa_send_window *w, const struct loa_zone *z, int64_t from,
                           int64_t until, int64_t *out)
{
    if (until > LOA_SCHEDULE_TIME_MAX)
        until = LOA_SCHEDULE_TIME_MAX;
    int rc = check(w, z, from);
    if (rc < 0)
        return rc;
    if (until < from)
        return LOA_ENOENT;
    int64_t floor = until - LOA_SCHEDULE_HORIZON_MS > from ? until - LOA_SCHEDULE_HORIZON_MS : from;
    for (int64_t t = until; t >= floor;) {
        int64_t o, l, s;
        if ((rc = offset_at(z, t, &o)) < 0)
            return rc;
        bool found = last_local(w, t + o, &l);
        int64_t cand = found ? l - o : floor - 1;
        if ((rc = segment_start(z, t, o, cand > floor ? cand : floor, &s)) < 0)
            return rc;
        if (found && cand >= s) {
            *out = cand;
            return 0;
        }
        t = s - 1;
    }
    return LOA_ENOENT;
}

int loa_schedule_delay_ms(int64_t n, enum loa_delay_unit u, int64_t *ms_out)
{
    int64_t unit;
    switch (u) {
    case LOA_DELAY_SECONDS:
        unit = LOA_SECOND_MS;
        break;
    case LOA_DELAY_MINUTES:
        unit = LOA_MINUTE_MS;
        break;
    case LOA_DELAY_HOURS:
        unit = LOA_HOUR_MS;
        break;
    case LOA_DELAY_DAYS:
        unit = LOA_DAY_MS;
        break;
    default:
        return LOA_EINVAL;
    }
    if (n < 0 || n > LOA_SCHEDULE_DELAY_MAX_MS / unit)
        return LOA_ERANGE;
    *ms_out = n * unit;
    return 0;
}

static void skip(struct loa_step_due *out, const char *reason)
{
    *out = (struct loa_step_due){ .skip = reason };
}

int loa_schedule_step(const struct loa_send_window *w, const struct loa_zone *z,
                      const struct loa_step_timing *t, int64_t base, int64_t now,
                      int64_t window_closes_at, struct loa_step_due *out)
{
    if (!t || !out || !instant_ok(base) || !instant_ok(now) || t->margin_ms < 0 ||
        t->margin_ms > LOA_SCHEDULE_MARGIN_MAX_MS)
        return LOA_EINVAL;
    if (t->delay_ms < 0 || t->delay_ms > LOA_SCHEDULE_DELAY_MAX_MS)
        return LOA_ERANGE;
    int64_t earliest = base + t->delay_ms, due;
    if (earliest > LOA_SCHEDULE_TIME_MAX)
        return LOA_ERANGE;
    int rc = loa_schedule_next_open(w, z, earliest > now ? earliest : now, &due);
    if (rc < 0)
        return rc;
    if (t->inside_window) {
        int64_t margin = t->margin_ms ? t->margin_ms : LOA_SCHEDULE_MARGIN_DEFAULT_MS;
        /* A closing at or before 0 is unknown or closed; clamping it keeps the subtraction
         * away from overflow. */
        int64_t limit = (window_closes_at > 0 ? window_closes_at : 0) - margin;
        if (due > limit) {
            if (limit < now) {
                skip(out, "window_closed");
                return 0;
            }
            /* The step goes as late as both windows allow: not in the past (now), and not
             * before the previous step went out (base), which came before it. */
            rc = loa_schedule_last_open(w, z, base > now ? base : now, limit, &due);
            if (rc == LOA_ENOENT) {
                skip(out, "window_closes_first");
                return 0;
            }
            if (rc < 0)
                return rc;
        }
    }
    *out = (struct loa_step_due){ .due_at = due, .shifted_ms = due - earliest };
    return 0;
}
