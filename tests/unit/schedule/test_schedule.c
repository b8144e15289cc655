/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the schedule module: next and last opening of send windows (fixed offsets,
 * IANA zones across daylight saving, windows crossing midnight, weekdays, the all-day window,
 * the exact opening and closing minute, far bounds), a sequence step's due time (waiting for
 * the send window, pulled into the messaging window, skipped), delays and the text forms.
 * Expected instants are written out as ISO strings. Two property tests compare next_open and
 * last_open with a reference that reads the local time of every minute through loa_tz_offset().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <loa/clock.h>
#include <loa/diag.h>
#include <loa/err.h>
#include <loa/schedule.h>

#define MIN LOA_MINUTE_MS
#define DAY LOA_DAY_MS

static int64_t t(const char *s)
{
    int64_t ms = 0;
    if (loa_time_parse(s, &ms) != 0)
        fail_msg("bad time in test: %s", s);
    return ms;
}

static const char *iso(int64_t ms, char *buf)
{
    loa_time_format(ms, buf, 32);
    return buf;
}

/* "13:00-20:00 fri" as a window; the parser has its own tests below. */
static struct loa_send_window win(const char *s)
{
    struct loa_send_window w;
    if (loa_schedule_window_parse(s, "test", &w, NULL) != 0)
        fail_msg("bad window in test: %s", s);
    return w;
}

/* "+07:00" / "-03:30" as a fixed offset, anything else as an IANA zone name. */
static struct loa_zone zone(const char *s)
{
    struct loa_zone z = { 0 };
    if (s[0] == '+' || s[0] == '-') {
        int h = atoi(s + 1), m = atoi(s + 4);
        z.has_offset = true;
        z.offset_min = (s[0] == '-' ? -1 : 1) * (h * 60 + m);
    } else {
        z.tz = s;
    }
    return z;
}

/* ---------------------------------------------------------------------------------------- */
/* next_open                                                                                 */

struct open_case {
    const char *window;
    const char *zone;
    const char *at;
    const char *want; /* NULL: the answer is at itself */
};

static const struct open_case next_cases[] = {
    /* The seed's 13:00-20:00 on a Vietnamese clock (+07:00); 2026-05-04 is a Monday. */
    { "13:00-20:00", "+07:00", "2026-05-04T03:00Z", "2026-05-04T06:00Z" },
    { "13:00-20:00", "Asia/Ho_Chi_Minh", "2026-05-04T03:00Z", "2026-05-04T06:00Z" },
    { "13:00-20:00", "+07:00", "2026-05-04T06:00Z", NULL }, /* opening */
    { "13:00-20:00", "+07:00", "2026-05-04T05:59:59.999Z", "2026-05-04T06:00Z" },
    { "13:00-20:00", "+07:00", "2026-05-04T12:59:59.999Z", NULL },         /* last ms */
    { "13:00-20:00", "+07:00", "2026-05-04T13:00Z", "2026-05-05T06:00Z" }, /* closing */
    { "13:00-20:00", "+07:00", "2026-05-04T18:00Z", "2026-05-05T06:00Z" }, /* 01:00 local */
    /* Offsets off the hour. */
    { "13:00-20:00", "-03:30", "2026-05-04T12:00Z", "2026-05-04T16:30Z" },
    { "13:00-20:00", "-03:30", "2026-05-04T23:29:59Z", NULL },
    { "13:00-20:00", "-03:30", "2026-05-04T23:30Z", "2026-05-05T16:30Z" },
    { "09:00-17:00", "+05:45", "2026-05-04T12:00Z", "2026-05-05T03:15Z" },
    { "09:00-17:00", "Asia/Kathmandu", "2026-05-04T03:14Z", "2026-05-04T03:15Z" },
    /* Across midnight: the day it opens counts. 2026-05-08 is a Friday. */
    { "22:00-06:00 fri", "+00:00", "2026-05-09T03:00Z", NULL }, /* Sat 03:00 */
    { "22:00-06:00 fri", "+00:00", "2026-05-09T06:00Z", "2026-05-15T22:00Z" },
    { "22:00-06:00 fri", "+00:00", "2026-05-08T05:00Z", "2026-05-08T22:00Z" }, /* Thu's night */
    { "22:00-06:00 fri", "+00:00", "2026-05-09T23:00Z", "2026-05-15T22:00Z" },
    { "22:00-06:00", "+00:00", "2026-05-09T12:00Z", "2026-05-09T22:00Z" },
    { "22:00-06:00", "+00:00", "2026-05-10T00:00Z", NULL },
    { "22:00-00:00", "+00:00", "2026-05-10T00:00Z", "2026-05-10T22:00Z" },
    /* The same on +07:00: local Friday 22:00 is 15:00Z, Saturday 06:00 is Friday 23:00Z. */
    { "22:00-06:00 t6", "+07:00", "2026-05-08T14:00Z", "2026-05-08T15:00Z" },
    { "22:00-06:00 t6", "+07:00", "2026-05-08T22:59Z", NULL },
    { "22:00-06:00 t6", "+07:00", "2026-05-08T23:00Z", "2026-05-15T15:00Z" },
    /* All day, with and without weekdays. */
    { "00:00-24:00", "+07:00", "2026-05-04T03:17:05.123Z", NULL },
    { "00:00-24:00 sat,sun", "+00:00", "2026-05-08T12:00Z", "2026-05-09T00:00Z" },
    { "00:00-24:00 sat,sun", "+00:00", "2026-05-10T23:59:59.999Z", NULL },
    { "00:00-24:00 sat,sun", "+00:00", "2026-05-11T00:00Z", "2026-05-16T00:00Z" },
    { "00:00-24:00 cn", "+07:00", "2026-05-09T16:59Z", "2026-05-09T17:00Z" },
    /* New York springs forward on 2026-03-08 (a Sunday) at 07:00Z: 02:00 EST -> 03:00 EDT. */
    { "02:30-05:00", "America/New_York", "2026-03-08T05:00Z", "2026-03-08T07:00Z" },
    { "02:00-02:30", "America/New_York", "2026-03-08T05:00Z", "2026-03-09T06:00Z" },
    { "01:00-02:30", "America/New_York", "2026-03-08T06:59Z", NULL },
    { "01:00-02:30", "America/New_York", "2026-03-08T07:00Z", "2026-03-09T05:00Z" },
    { "13:00-20:00", "America/New_York", "2026-03-07T20:00Z", NULL },
    { "13:00-20:00", "America/New_York", "2026-03-08T01:00Z", "2026-03-08T17:00Z" },
    { "22:00-06:00", "America/New_York", "2026-03-08T09:59Z", NULL }, /* 05:59 EDT */
    { "22:00-06:00", "America/New_York", "2026-03-08T10:00Z", "2026-03-09T02:00Z" },
    { "22:00-06:00", "America/New_York", "2026-03-07T12:00Z", "2026-03-08T03:00Z" },
    { "22:00-06:00 sat", "America/New_York", "2026-03-08T08:00Z", NULL }, /* Sun 04:00 */
    { "22:00-06:00 sat", "America/New_York", "2026-03-08T10:00Z", "2026-03-15T02:00Z" },
    /* ... and falls back on 2026-11-01 at 06:00Z: 02:00 EDT -> 01:00 EST. */
    { "01:30-03:00", "America/New_York", "2026-11-01T04:00Z", "2026-11-01T05:30Z" },
    { "00:00-01:30", "America/New_York", "2026-11-01T05:29Z", NULL },
    { "00:00-01:30", "America/New_York", "2026-11-01T05:45Z", "2026-11-01T06:00Z" }, /* again */
    { "00:00-01:30", "America/New_York", "2026-11-01T06:30Z", "2026-11-02T05:00Z" },
    { "13:00-20:00", "America/New_York", "2026-11-01T00:30Z", "2026-11-01T18:00Z" },
    /* London: 2026-03-29 01:00Z 01:00 GMT -> 02:00 BST; 2026-10-25 01:00Z 02:00 BST -> 01:00. */
    { "01:00-01:30", "Europe/London", "2026-03-29T00:30Z", "2026-03-30T00:00Z" },
    { "01:15-03:00", "Europe/London", "2026-03-29T00:00Z", "2026-03-29T01:00Z" },
    { "08:00-09:00", "Europe/London", "2026-03-28T09:00Z", "2026-03-29T07:00Z" },
    { "09:00-17:00", "Europe/London", "2026-10-24T16:30Z", "2026-10-25T09:00Z" },
    { "00:30-01:30", "Europe/London", "2026-10-25T00:45Z", "2026-10-25T01:00Z" },
    /* Far future. */
    { "13:00-20:00", "+00:00", "9999-12-31T23:59:59.999Z", "10000-01-01T13:00Z" },
};

static void next_open_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(next_cases) / sizeof(next_cases[0]); i++) {
        const struct open_case *c = &next_cases[i];
        struct loa_send_window w = win(c->window);
        struct loa_zone z = zone(c->zone);
        int64_t at = t(c->at), want = 0, got = -1;
        if (c->want && strncmp(c->want, "10000", 5) == 0)
            want = t("9999-12-31T13:00Z") + DAY; /* loa_time_parse stops at year 9999 */
        else
            want = c->want ? t(c->want) : at;
        int rc = loa_schedule_next_open(&w, &z, at, &got);
        char a[32], b[32];
        if (rc != 0 || got != want)
            fail_msg("case %zu: %s on %s from %s: want %s, got %s (rc %d)", i, c->window, c->zone,
                     c->at, iso(want, a), rc ? loa_err_name(rc) : iso(got, b), rc);
    }
}

static void next_open_refuses_bad_input(void **state)
{
    (void)state;
    int64_t out = 42, at = t("2026-05-04T00:00Z");
    struct loa_send_window ok = { .from_min = 780, .to_min = 1200 };
    struct loa_zone utc = zone("+00:00");
    struct loa_send_window bad[] = {
        { .from_min = 1440, .to_min = 60 },
        { .from_min = -1, .to_min = 60 },
        { .from_min = 60, .to_min = 1441 },
        { .from_min = 60, .to_min = 120, .weekdays = 0x80 },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(loa_schedule_next_open(&bad[i], &utc, at, &out), LOA_EINVAL);
    struct loa_zone zones[] = {
        { .tz = "Mars/Olympus_Mons" },
        { .tz = "../etc/passwd" },
        { .tz = "Asia" },
        { .tz = NULL },
        { .has_offset = true, .offset_min = 18 * 60 + 1 },
        { .has_offset = true, .offset_min = -18 * 60 - 1 },
    };
    for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++)
        assert_int_equal(loa_schedule_next_open(&ok, &zones[i], at, &out), LOA_EINVAL);
    assert_int_equal(loa_schedule_next_open(&ok, &utc, -1, &out), LOA_EINVAL);
    assert_int_equal(loa_schedule_next_open(&ok, &utc, LOA_SCHEDULE_TIME_MAX + 1, &out),
                     LOA_EINVAL);
    assert_int_equal(loa_schedule_next_open(NULL, &utc, at, &out), LOA_EINVAL);
    assert_int_equal(loa_schedule_next_open(&ok, NULL, at, &out), LOA_EINVAL);
    assert_int_equal(out, 42);
    /* The zero window is all day, every day. */
    struct loa_send_window zero = { 0 };
    assert_int_equal(loa_schedule_next_open(&zero, &utc, at + 7, &out), 0);
    assert_int_equal(out, at + 7);
}

static void window_check_names_fields(void **state)
{
    (void)state;
    struct loa_diags d;
    loa_diags_init(&d, 0);
    struct loa_send_window w = { .from_min = 1440, .to_min = 60, .weekdays = 0x81 };
    assert_int_equal(loa_schedule_window_check(&w, "sequence.window", &d), LOA_EINVAL);
    assert_int_equal(d.count, 2);
    assert_string_equal(d.items[0].where, "sequence.window.from");
    assert_string_equal(d.items[0].reason, "1440 is not a minute of the day (0 to 1439)");
    assert_string_equal(d.items[1].where, "sequence.window.weekdays");
    assert_string_equal(d.items[1].reason, "0x81 has bits beyond Sunday (0x7f)");
    loa_diags_release(&d);
    loa_diags_init(&d, 0);
    w = (struct loa_send_window){ .from_min = 0, .to_min = 1441 };
    assert_int_equal(loa_schedule_window_check(&w, NULL, &d), LOA_EINVAL);
    assert_string_equal(d.items[0].where, "to");
    loa_diags_release(&d);
    w = (struct loa_send_window){ .from_min = 1439, .to_min = 1440, .weekdays = 0x7f };
    assert_int_equal(loa_schedule_window_check(&w, NULL, NULL), 0);
}

/* ---------------------------------------------------------------------------------------- */
/* last_open                                                                                 */

struct last_case {
    const char *window;
    const char *zone;
    const char *from;
    const char *until; /* NULL: no upper bound (INT64_MAX) */
    const char *want;  /* NULL: none (LOA_ENOENT) */
};

static const struct last_case last_cases[] = {
    { "13:00-20:00", "+07:00", "2026-05-04T00:00Z", "2026-05-04T20:00Z",
      "2026-05-04T12:59:59.999Z" },
    { "13:00-20:00", "+07:00", "2026-05-04T00:00Z", "2026-05-04T07:00:00.5Z",
      "2026-05-04T07:00:00.5Z" },
    { "13:00-20:00", "+07:00", "2026-05-04T00:00Z", "2026-05-04T06:00Z", "2026-05-04T06:00Z" },
    { "13:00-20:00", "+07:00", "2026-05-03T00:00Z", "2026-05-04T05:59:59.999Z",
      "2026-05-03T12:59:59.999Z" },
    { "13:00-20:00", "+07:00", "2026-05-04T00:00Z", "2026-05-04T05:59:59.999Z", NULL },
    { "13:00-20:00", "+07:00", "2026-05-04T13:00Z", "2026-05-04T23:00Z", NULL },
    { "13:00-20:00", "+07:00", "2026-05-04T12:59:59.999Z", "2026-05-04T23:00Z",
      "2026-05-04T12:59:59.999Z" },
    { "13:00-20:00", "+07:00", "2026-05-04T13:00Z", "2026-05-04T12:00Z", NULL }, /* until<from */
    { "22:00-06:00 fri", "+00:00", "2026-05-04T00:00Z", "2026-05-11T12:00Z",
      "2026-05-09T05:59:59.999Z" },
    { "22:00-06:00 fri", "+00:00", "2026-05-09T06:00Z", "2026-05-15T21:59Z", NULL },
    { "00:00-24:00 sat", "-03:30", "2026-05-01T00:00Z", "2026-05-12T00:00Z",
      "2026-05-10T03:29:59.999Z" },
    /* New York: the spring-forward gap ends a 01:00-02:30 window at 07:00Z; the repeated hour
     * opens 00:00-01:30 again from 06:00Z to 06:30Z. */
    { "01:00-02:30", "America/New_York", "2026-03-07T00:00Z", "2026-03-08T08:00Z",
      "2026-03-08T06:59:59.999Z" },
    { "00:00-01:30", "America/New_York", "2026-10-31T00:00Z", "2026-11-01T06:45Z",
      "2026-11-01T06:29:59.999Z" },
    { "00:00-01:30", "America/New_York", "2026-10-31T00:00Z", "2026-11-01T05:59Z",
      "2026-11-01T05:29:59.999Z" },
    { "08:00-09:00", "Europe/London", "2026-03-27T00:00Z", "2026-03-29T12:00Z",
      "2026-03-29T07:59:59.999Z" },
    /* No upper bound: clamped to 9999-12-31T23:59:59.999Z (10000-01-01 06:59 on +07:00). */
    { "13:00-20:00", "+07:00", "2026-05-04T00:00Z", NULL, "9999-12-31T12:59:59.999Z" },
    { "13:00-20:00", "Asia/Ho_Chi_Minh", "2026-05-04T00:00Z", NULL, "9999-12-31T12:59:59.999Z" },
};

static void last_open_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(last_cases) / sizeof(last_cases[0]); i++) {
        const struct last_case *c = &last_cases[i];
        struct loa_send_window w = win(c->window);
        struct loa_zone z = zone(c->zone);
        int64_t from = t(c->from), until = c->until ? t(c->until) : INT64_MAX, got = -1;
        int rc = loa_schedule_last_open(&w, &z, from, until, &got);
        char a[32];
        if (!c->want && rc != LOA_ENOENT)
            fail_msg("case %zu: %s on %s in [%s, %s]: want none, got %s (rc %d)", i, c->window,
                     c->zone, c->from, c->until, rc ? loa_err_name(rc) : iso(got, a), rc);
        if (c->want && (rc != 0 || got != t(c->want)))
            fail_msg("case %zu: %s on %s in [%s, %s]: want %s, got %s (rc %d)", i, c->window,
                     c->zone, c->from, c->until ? c->until : "-", c->want,
                     rc ? loa_err_name(rc) : iso(got, a), rc);
    }
    struct loa_send_window w = win("13:00-20:00");
    struct loa_zone z = zone("+07:00");
    int64_t out;
    assert_int_equal(loa_schedule_last_open(&w, &z, -1, 0, &out), LOA_EINVAL);
    z.offset_min = 5000;
    assert_int_equal(loa_schedule_last_open(&w, &z, 0, 0, &out), LOA_EINVAL);
}

/* ---------------------------------------------------------------------------------------- */
/* Steps                                                                                     */

struct step_case {
    const char *name;
    const char *window;
    const char *zone;
    int64_t delay_ms;
    bool inside_window;
    int64_t margin_ms;
    const char *base;
    const char *now;
    const char *closes; /* NULL: 0, unknown */
    const char *want;   /* NULL when skipped */
    int64_t shifted_ms;
    const char *skip;
};

#define H LOA_HOUR_MS

static const struct step_case step_cases[] = {
    /* The seed: in at 10:00, 15 hours later is 01:00; the 13:00-20:00 window makes it 13:00. */
    { "seed", "13:00-20:00", "Asia/Ho_Chi_Minh", 15 * H, false, 0, "2026-05-04T03:00Z",
      "2026-05-04T03:00Z", NULL, "2026-05-05T06:00Z", 12 * H, NULL },
    { "inside the window already", "13:00-20:00", "+07:00", 2 * H, false, 0, "2026-05-04T06:00Z",
      "2026-05-04T06:00Z", NULL, "2026-05-04T08:00Z", 0, NULL },
    /* Late (now past base + delay): not in the past, and not out of the window either. */
    { "late, window open", "13:00-20:00", "+07:00", 1 * H, false, 0, "2026-05-04T06:00Z",
      "2026-05-04T09:30Z", NULL, "2026-05-04T09:30Z", 150 * MIN, NULL },
    { "late, window closed", "13:00-20:00", "+07:00", 1 * H, false, 0, "2026-05-04T06:00Z",
      "2026-05-04T14:00Z", NULL, "2026-05-05T06:00Z", 23 * H, NULL },
    /* Inside the messaging window: the window (24 h from 10:00) closes at 10:00 the next day,
     * the margin makes it 09:00, the send window's last moment before that is 19:59:59.999. */
    { "pulled into the window", "13:00-20:00", "Asia/Ho_Chi_Minh", 15 * H, true, 0,
      "2026-05-04T03:00Z", "2026-05-04T03:00Z", "2026-05-05T03:00Z", "2026-05-04T12:59:59.999Z",
      -5 * H - 1, NULL },
    { "due well before the closing", "13:00-20:00", "+07:00", 3 * H, true, 0, "2026-05-04T03:00Z",
      "2026-05-04T03:00Z", "2026-05-05T03:00Z", "2026-05-04T06:00Z", 0, NULL },
    { "due exactly at the margin", "00:00-24:00", "+07:00", 23 * H, true, 0, "2026-05-04T03:00Z",
      "2026-05-04T03:00Z", "2026-05-05T03:00Z", "2026-05-05T02:00Z", 0, NULL },
    { "one ms past the margin", "00:00-24:00", "+07:00", 23 * H + 1, true, 0, "2026-05-04T03:00Z",
      "2026-05-04T03:00Z", "2026-05-05T03:00Z", "2026-05-05T02:00Z", -1, NULL },
    /* Base 14:30 local, send window 13:00-14:00, messaging window until 14:30 next day. */
    { "last half hour", "13:00-14:00", "+07:00", 23 * H + 30 * MIN, true, 0, "2026-05-04T07:30Z",
      "2026-05-04T07:30Z", "2026-05-05T07:30Z", "2026-05-05T06:30Z", -30 * MIN, NULL },
    { "margin of two hours", "13:00-14:00", "+07:00", 23 * H + 30 * MIN, true, 2 * H,
      "2026-05-04T07:30Z", "2026-05-04T07:30Z", "2026-05-05T07:30Z", NULL, 0,
      "window_closes_first" },
    { "closing unknown", "13:00-20:00", "+07:00", 1 * H, true, 0, "2026-05-04T06:00Z",
      "2026-05-04T06:00Z", NULL, NULL, 0, "window_closed" },
    { "closing within the margin", "00:00-24:00", "+07:00", 2 * H, true, 0, "2026-05-04T06:00Z",
      "2026-05-04T06:00Z", "2026-05-04T06:30Z", NULL, 0, "window_closed" },
    /* The limit itself is allowed: a step timed at the limit must still go when it is due. */
    { "closing exactly a margin from now", "00:00-24:00", "+07:00", 2 * H, true, 0,
      "2026-05-04T06:00Z", "2026-05-04T06:00Z", "2026-05-04T07:00Z", "2026-05-04T06:00Z", -2 * H,
      NULL },
    { "closing a margin less 1 ms from now", "00:00-24:00", "+07:00", 2 * H, true, 0,
      "2026-05-04T06:00Z", "2026-05-04T06:00Z", "2026-05-04T06:59:59.999Z", NULL, 0,
      "window_closed" },
    { "closing a margin and 1 ms from now", "00:00-24:00", "+07:00", 2 * H, true, 0,
      "2026-05-04T06:00Z", "2026-05-04T06:00Z", "2026-05-04T07:00:00.001Z",
      "2026-05-04T06:00:00.001Z", -2 * H + 1, NULL },
    /* Never before now: the send window's 13:10-14:00 of the base's day has passed (now is
     * 14:30), so nothing is left before the messaging window's 12:00 limit. */
    { "not before now", "13:00-14:00", "+07:00", 23 * H, true, 0, "2026-05-04T06:10Z",
      "2026-05-04T07:30Z", "2026-05-05T06:00Z", NULL, 0, "window_closes_first" },
    /* Never before base: the previous step is due at 13:30 (after now, 12:00); the send window
     * 13:00-13:20 was open before it, not after, up to the limit of 12:30 the next day. */
    { "not before base", "13:00-13:20", "+07:00", 23 * H, true, 0, "2026-05-04T06:30Z",
      "2026-05-04T05:00Z", "2026-05-05T06:30Z", NULL, 0, "window_closes_first" },
    { "base in the future", "13:00-14:00", "+07:00", 23 * H, true, 0, "2026-05-04T06:30Z",
      "2026-05-04T05:00Z", "2026-05-05T06:30Z", "2026-05-04T06:59:59.999Z", -23 * H + 30 * MIN - 1,
      NULL },
    /* Daylight saving: 1 day is 24 hours, so 13:00 EST + 1 day is 14:00 EDT, inside; and a
     * 22:00-06:00 EDT window's last moment before a closing at 09:00 EDT minus an hour. */
    { "a day across spring forward", "13:00-20:00", "America/New_York", 24 * H, false, 0,
      "2026-03-07T18:00Z", "2026-03-07T18:00Z", NULL, "2026-03-08T18:00Z", 0, NULL },
    { "across the gap, pulled", "22:00-06:00", "America/New_York", 23 * H, true, 0,
      "2026-03-07T14:00Z", "2026-03-07T14:00Z", "2026-03-08T13:00Z", "2026-03-08T09:59:59.999Z",
      -3 * H - 1, NULL },
};

static void step_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(step_cases) / sizeof(step_cases[0]); i++) {
        const struct step_case *c = &step_cases[i];
        struct loa_send_window w = win(c->window);
        struct loa_zone z = zone(c->zone);
        struct loa_step_timing tm = {
            .delay_ms = c->delay_ms,
            .inside_window = c->inside_window,
            .margin_ms = c->margin_ms,
        };
        struct loa_step_due d = { .due_at = -1 };
        int rc =
            loa_schedule_step(&w, &z, &tm, t(c->base), t(c->now), c->closes ? t(c->closes) : 0, &d);
        char a[32];
        if (rc != 0)
            fail_msg("%s: rc %s", c->name, loa_err_name(rc));
        if (c->skip && (!d.skip || strcmp(d.skip, c->skip) != 0 || d.due_at != 0))
            fail_msg("%s: want skipped %s, got %s at %s", c->name, c->skip,
                     d.skip ? d.skip : "not skipped", iso(d.due_at, a));
        if (!c->skip && (d.skip || d.due_at != t(c->want) || d.shifted_ms != c->shifted_ms))
            fail_msg("%s: want %s shifted %lld, got %s shifted %lld (%s)", c->name, c->want,
                     (long long)c->shifted_ms, iso(d.due_at, a), (long long)d.shifted_ms,
                     d.skip ? d.skip : "not skipped");
    }
}

static void step_refuses_bad_input(void **state)
{
    (void)state;
    struct loa_send_window w = win("13:00-20:00");
    struct loa_zone z = zone("+07:00");
    struct loa_step_due d;
    int64_t base = t("2026-05-04T03:00Z");
    struct loa_step_timing tm = { .delay_ms = -1 };
    assert_int_equal(loa_schedule_step(&w, &z, &tm, base, base, 0, &d), LOA_ERANGE);
    tm.delay_ms = LOA_SCHEDULE_DELAY_MAX_MS + 1;
    assert_int_equal(loa_schedule_step(&w, &z, &tm, base, base, 0, &d), LOA_ERANGE);
    tm.delay_ms = LOA_SCHEDULE_DELAY_MAX_MS;
    assert_int_equal(loa_schedule_step(&w, &z, &tm, base, base, 0, &d), 0);
    tm = (struct loa_step_timing){ .delay_ms = H, .margin_ms = -1 };
    assert_int_equal(loa_schedule_step(&w, &z, &tm, base, base, 0, &d), LOA_EINVAL);
    tm.margin_ms = LOA_SCHEDULE_MARGIN_MAX_MS + 1;
    assert_int_equal(loa_schedule_step(&w, &z, &tm, base, base, 0, &d), LOA_EINVAL);
    tm.margin_ms = 0;
    assert_int_equal(loa_schedule_step(&w, &z, &tm, -5, base, 0, &d), LOA_EINVAL);
    assert_int_equal(loa_schedule_step(&w, &z, &tm, base, -5, 0, &d), LOA_EINVAL);
    struct loa_zone nowhere = { .tz = "Nowhere/Atlantis" };
    assert_int_equal(loa_schedule_step(&w, &nowhere, &tm, base, base, 0, &d), LOA_EINVAL);
    /* A closing far away or negative is harmless. */
    tm.inside_window = true;
    assert_int_equal(loa_schedule_step(&w, &z, &tm, base, base, INT64_MAX, &d), 0);
    assert_null(d.skip);
    assert_int_equal(d.due_at, t("2026-05-04T06:00Z"));
    assert_int_equal(loa_schedule_step(&w, &z, &tm, base, base, INT64_MIN, &d), 0);
    assert_string_equal(d.skip, "window_closed");
}

/* ---------------------------------------------------------------------------------------- */
/* Delays                                                                                    */

static void delays(void **state)
{
    (void)state;
    int64_t ms = -1;
    assert_int_equal(loa_schedule_delay_ms(15, LOA_DELAY_HOURS, &ms), 0);
    assert_int_equal(ms, 54000000);
    assert_int_equal(loa_schedule_delay_ms(0, LOA_DELAY_SECONDS, &ms), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(loa_schedule_delay_ms(90, LOA_DELAY_MINUTES, &ms), 0);
    assert_int_equal(ms, 5400000);
    assert_int_equal(loa_schedule_delay_ms(3650, LOA_DELAY_DAYS, &ms), 0);
    assert_int_equal(ms, LOA_SCHEDULE_DELAY_MAX_MS);
    assert_int_equal(loa_schedule_delay_ms(3650 * 86400, LOA_DELAY_SECONDS, &ms), 0);
    ms = 7;
    assert_int_equal(loa_schedule_delay_ms(3651, LOA_DELAY_DAYS, &ms), LOA_ERANGE);
    assert_int_equal(loa_schedule_delay_ms(3650 * 86400 + 1, LOA_DELAY_SECONDS, &ms), LOA_ERANGE);
    assert_int_equal(loa_schedule_delay_ms(-1, LOA_DELAY_SECONDS, &ms), LOA_ERANGE);
    assert_int_equal(loa_schedule_delay_ms(INT64_MAX, LOA_DELAY_DAYS, &ms), LOA_ERANGE);
    assert_int_equal(loa_schedule_delay_ms(1, (enum loa_delay_unit)9, &ms), LOA_EINVAL);
    assert_int_equal(ms, 7);

    enum loa_delay_unit u;
    const struct {
        const char *s;
        enum loa_delay_unit u;
    } ok[] = {
        { "seconds", LOA_DELAY_SECONDS }, { "second", LOA_DELAY_SECONDS },
        { "Minutes", LOA_DELAY_MINUTES }, { "minute", LOA_DELAY_MINUTES },
        { "HOURS", LOA_DELAY_HOURS },     { "hour", LOA_DELAY_HOURS },
        { "days", LOA_DELAY_DAYS },       { "Day", LOA_DELAY_DAYS },
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(loa_schedule_unit_parse(ok[i].s, &u), 0);
        assert_int_equal(u, ok[i].u);
    }
    const char *bad[] = { "", "s", "hrs", "dayss", "week", "minutesx", "giờ" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(loa_schedule_unit_parse(bad[i], &u), LOA_EINVAL);
    assert_int_equal(loa_schedule_unit_parse(NULL, &u), LOA_EINVAL);
    assert_string_equal(loa_schedule_unit_name(LOA_DELAY_SECONDS), "seconds");
    assert_string_equal(loa_schedule_unit_name(LOA_DELAY_DAYS), "days");
    assert_string_equal(loa_schedule_unit_name((enum loa_delay_unit)4), "?");
}

/* ---------------------------------------------------------------------------------------- */
/* Text forms                                                                                */

/* Parses s with parse and expects exactly one complaint: reason at column. */
static void expect_complaint(int rc, struct loa_diags *d, const char *s, long column,
                             const char *reason)
{
    if (rc != LOA_EPARSE || d->count != 1 || d->items[0].column != column ||
        strcmp(d->items[0].reason, reason) != 0 || strcmp(d->items[0].where, "w") != 0)
        fail_msg("'%s': want '%s' at column %ld, got rc %d, %zu complaints, first '%s' at %ld", s,
                 reason, column, rc, d->count, d->count ? d->items[0].reason : "-",
                 d->count ? d->items[0].column : 0L);
}

static void times_of_day(void **state)
{
    (void)state;
    const struct {
        const char *s;
        int min;
    } ok[] = { { "13:00", 780 },  { "9:30", 570 }, { "09:30", 570 }, { "00:00", 0 },
               { "24:00", 1440 }, { "13h", 780 },  { "13h30", 810 }, { "7H05", 425 } };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        int min = -1;
        assert_int_equal(loa_schedule_time_parse(ok[i].s, "w", &min, NULL), 0);
        assert_int_equal(min, ok[i].min);
    }
    const struct {
        const char *s;
        const char *reason;
    } bad[] = {
        { "24:30", "'24:30' is past the end of the day (24:00 at the latest)" },
        { "25:00", "hour 25 is out of range (0 to 24)" },
        { "12:60", "minute 60 is out of range (00 to 59)" },
        { "1300", "'1300' is not a time of day (HH:MM, such as 13:00, or 13h30)" },
        { "13:0", "'13:0' is not a time of day (HH:MM, such as 13:00, or 13h30)" },
        { "13:000", "'13:000' is not a time of day (HH:MM, such as 13:00, or 13h30)" },
        { "13h3", "'13h3' is not a time of day (HH:MM, such as 13:00, or 13h30)" },
        { "", "'' is not a time of day (HH:MM, such as 13:00, or 13h30)" },
        { " 13:00", "' 13:00' is not a time of day (HH:MM, such as 13:00, or 13h30)" },
        { "-1:00", "'-1:00' is not a time of day (HH:MM, such as 13:00, or 13h30)" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct loa_diags d;
        loa_diags_init(&d, 0);
        int min = -7;
        expect_complaint(loa_schedule_time_parse(bad[i].s, "w", &min, &d), &d, bad[i].s, 1,
                         bad[i].reason);
        assert_int_equal(min, -7);
        loa_diags_release(&d);
    }
    char buf[8];
    loa_schedule_time_format(570, buf, sizeof(buf));
    assert_string_equal(buf, "09:30");
    loa_schedule_time_format(1440, buf, sizeof(buf));
    assert_string_equal(buf, "24:00");
}

static void weekday_lists(void **state)
{
    (void)state;
    const struct {
        const char *s;
        unsigned mask;
    } ok[] = {
        { "mon,tue", LOA_MONDAY | LOA_TUESDAY },
        { "T2, t3 ,CN", LOA_MONDAY | LOA_TUESDAY | LOA_SUNDAY },
        { "mon-fri", 0x1f },
        { "t2-t6", 0x1f },
        { "fri-mon", LOA_FRIDAY | LOA_SATURDAY | LOA_SUNDAY | LOA_MONDAY },
        { "Sunday", LOA_SUNDAY },
        { "mon,mon", LOA_MONDAY },
        { "sat - sun, wednesday", LOA_SATURDAY | LOA_SUNDAY | LOA_WEDNESDAY },
        { "thu-thu", LOA_THURSDAY },
        { "t7,cn", LOA_SATURDAY | LOA_SUNDAY },
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        unsigned mask = 0;
        assert_int_equal(loa_schedule_weekdays_parse(ok[i].s, "w", &mask, NULL), 0);
        assert_int_equal(mask, ok[i].mask);
    }
    const struct {
        const char *s;
        long column;
        const char *reason;
    } bad[] = {
        { "", 1, "empty weekday list (leave the weekdays out for every day)" },
        { "  ", 3, "empty weekday list (leave the weekdays out for every day)" },
        { "mon,,tue", 5, "empty item in the weekday list" },
        { "mon,", 5, "empty item in the weekday list" },
        { "xyz", 1, "unknown weekday 'xyz' (mon to sun, or t2 to t7 and cn)" },
        { "mon-foo", 5, "unknown weekday 'foo' (mon to sun, or t2 to t7 and cn)" },
        { "mon, t8", 6, "unknown weekday 't8' (mon to sun, or t2 to t7 and cn)" },
        { "t1", 1, "unknown weekday 't1' (mon to sun, or t2 to t7 and cn)" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct loa_diags d;
        loa_diags_init(&d, 0);
        unsigned mask = 99;
        expect_complaint(loa_schedule_weekdays_parse(bad[i].s, "w", &mask, &d), &d, bad[i].s,
                         bad[i].column, bad[i].reason);
        assert_int_equal(mask, 99);
        loa_diags_release(&d);
    }
    /* Every complaint of one list, not just the first. */
    struct loa_diags d;
    loa_diags_init(&d, 0);
    unsigned mask;
    assert_int_equal(loa_schedule_weekdays_parse("foo,tue,bar-baz", "w", &mask, &d), LOA_EPARSE);
    assert_int_equal(d.count, 3);
    assert_int_equal(d.items[0].column, 1);
    assert_int_equal(d.items[1].column, 9);
    assert_int_equal(d.items[2].column, 13);
    loa_diags_release(&d);

    char buf[32];
    loa_schedule_weekdays_format(LOA_MONDAY | LOA_FRIDAY | LOA_SUNDAY, buf, sizeof(buf));
    assert_string_equal(buf, "mon,fri,sun");
    loa_schedule_weekdays_format(0, buf, sizeof(buf));
    assert_string_equal(buf, "mon,tue,wed,thu,fri,sat,sun");
    loa_schedule_weekdays_format(LOA_EVERY_DAY, buf, 8);
    assert_string_equal(buf, "mon,tue"); /* cut, terminated */
}

static void windows_as_text(void **state)
{
    (void)state;
    const struct {
        const char *s;
        struct loa_send_window w;
        const char *text; /* formatted back */
    } ok[] = {
        { "13:00-20:00", { 780, 1200, 0 }, "13:00-20:00" },
        { "22:00\xe2\x80\x93"
          "06:00 fri,sat",
          { 1320, 360, LOA_FRIDAY | LOA_SATURDAY },
          "22:00-06:00 fri,sat" },
        { "00:00-24:00", { 0, 1440, 0 }, "00:00-24:00" },
        { " 9:00 - 17:30  t2-t6 ", { 540, 1050, 0x1f }, "09:00-17:30 mon,tue,wed,thu,fri" },
        { "13h-20h", { 780, 1200, 0 }, "13:00-20:00" },
        { "22:00-00:00 mon-sun", { 1320, 0, 0x7f }, "22:00-00:00" },
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        struct loa_send_window w = { -1, -1, 99 };
        assert_int_equal(loa_schedule_window_parse(ok[i].s, "w", &w, NULL), 0);
        assert_int_equal(w.from_min, ok[i].w.from_min);
        assert_int_equal(w.to_min, ok[i].w.to_min);
        assert_int_equal(w.weekdays, ok[i].w.weekdays);
        char buf[48];
        loa_schedule_window_format(&w, buf, sizeof(buf));
        assert_string_equal(buf, ok[i].text);
        struct loa_send_window back;
        char again[48];
        assert_int_equal(loa_schedule_window_parse(buf, "w", &back, NULL), 0);
        loa_schedule_window_format(&back, again, sizeof(again));
        assert_string_equal(again, buf);
    }
    char buf[48];
    struct loa_send_window all = { 600, 600, LOA_SATURDAY };
    loa_schedule_window_format(&all, buf, sizeof(buf));
    assert_string_equal(buf, "00:00-24:00 sat");

    const struct {
        const char *s;
        long column;
        const char *reason;
    } bad[] = {
        { "13:00", 1, "'13:00' is not a window (HH:MM-HH:MM, such as 13:00-20:00)" },
        { "13:00-13:00", 1,
          "the window opens and closes at the same time (write 00:00-24:00 for all day)" },
        { "24:00-06:00", 1, "a window cannot open at 24:00 (write 00:00: it opens at midnight)" },
        { "13:00-25:00", 7, "hour 25 is out of range (0 to 24)" },
        { "13:00-20:00 xyz", 13, "unknown weekday 'xyz' (mon to sun, or t2 to t7 and cn)" },
        { "13:00-20:00,mon", 7,
          "'20:00,mon' is not a time of day (HH:MM, such as 13:00, or 13h30)" },
        { "-20:00", 1, "'' is not a time of day (HH:MM, such as 13:00, or 13h30)" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct loa_diags d;
        loa_diags_init(&d, 0);
        struct loa_send_window w = { -1, -1, 99 };
        expect_complaint(loa_schedule_window_parse(bad[i].s, "w", &w, &d), &d, bad[i].s,
                         bad[i].column, bad[i].reason);
        assert_int_equal(w.from_min, -1);
        loa_diags_release(&d);
    }
    struct loa_diags d;
    loa_diags_init(&d, 0);
    struct loa_send_window w;
    assert_int_equal(loa_schedule_window_parse("25:00-26:00 mon,xx", "w", &w, &d), LOA_EPARSE);
    assert_int_equal(d.count, 3);
    assert_int_equal(d.items[0].column, 1);
    assert_int_equal(d.items[1].column, 7);
    assert_int_equal(d.items[2].column, 17);
    loa_diags_release(&d);
}

/* ---------------------------------------------------------------------------------------- */
/* Properties against a reference                                                            */

/* splitmix64, fixed seed: the same cases every run. */
static uint64_t rng_state = 0x5eed2026u;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static int64_t rnd_below(int64_t n)
{
    return (int64_t)(rnd() % (uint64_t)n);
}

static const char *const prop_tz[] = {
    "America/New_York", "Europe/London",      "Asia/Ho_Chi_Minh", "Australia/Lord_Howe",
    "America/St_Johns", "Pacific/Chatham",    "Asia/Kathmandu",   "America/Sao_Paulo",
    "Europe/Berlin",    "Australia/Adelaide", "Pacific/Apia",     "UTC",
};
static const int prop_offsets[] = { 420, -210, 345, 0, -600, 840, 330, -720 };

/* Instants near daylight-saving changes of the zones above, to aim at them. */
static const char *const prop_near[] = {
    "2026-03-08T07:00Z", "2026-11-01T06:00Z", "2026-03-29T01:00Z", "2026-10-25T01:00Z",
    "2026-04-04T15:00Z", "2026-10-03T15:30Z", "2026-04-04T14:00Z", "2026-09-26T14:00Z",
    "2026-03-08T05:30Z", "2026-11-01T04:30Z", "2011-12-29T10:00Z", "2021-09-25T14:00Z",
};

static void rnd_case(struct loa_send_window *w, struct loa_zone *z, int64_t *at)
{
    w->from_min = (int)(rnd_below(4) == 0 ? rnd_below(24) * 60 : rnd_below(1440));
    int kind = (int)rnd_below(8);
    w->to_min = kind == 0   ? w->from_min             /* all day */
                : kind == 1 ? (int)rnd_below(25) * 60 /* on the hour */
                            : (int)rnd_below(1441);
    if (rnd_below(3) == 0) {
        /* Edges between 00:00 and 04:00, where clocks change. */
        w->from_min = (int)rnd_below(240);
        w->to_min = (int)rnd_below(240);
        if (w->to_min == w->from_min)
            w->to_min = (w->to_min + 30) % 240;
    }
    w->weekdays = rnd_below(3) == 0 ? 0 : (unsigned)(1 + rnd_below(127));
    *z = (struct loa_zone){ 0 };
    if (rnd_below(3) == 0) {
        z->has_offset = true;
        z->offset_min = prop_offsets[rnd_below(sizeof(prop_offsets) / sizeof(prop_offsets[0]))];
    } else {
        z->tz = prop_tz[rnd_below(sizeof(prop_tz) / sizeof(prop_tz[0]))];
    }
    int64_t centre = rnd_below(2) == 0
                         ? t(prop_near[rnd_below(sizeof(prop_near) / sizeof(prop_near[0]))])
                         : t("2026-01-01T00:00Z") + rnd_below(365 * DAY);
    *at = centre + rnd_below(6 * DAY) - 3 * DAY;
    if (rnd_below(2) == 0)
        *at -= *at % MIN; /* on a minute, half the time */
}

/*
 * The reference: is instant x inside the window? Reads the local time with loa_tz_offset() and
 * gmtime_r(), independently of the module's local-time line and segments.
 */
static bool ref_inside(const struct loa_send_window *w, const struct loa_zone *z, int64_t x)
{
    int off = z->offset_min;
    if (!z->has_offset && loa_tz_offset(z->tz, x, &off) != 0)
        fail_msg("loa_tz_offset(%s) failed", z->tz);
    int64_t local = x + (int64_t)off * MIN;
    time_t secs = (time_t)(local >= 0 ? local / 1000 : (local - 999) / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    int m = tm.tm_hour * 60 + tm.tm_min;
    unsigned today = (unsigned)(tm.tm_wday + 6) % 7, yesterday = (today + 6) % 7;
    bool today_ok = w->weekdays == 0 || (w->weekdays & (1u << today));
    bool yesterday_ok = w->weekdays == 0 || (w->weekdays & (1u << yesterday));
    if (w->from_min == w->to_min)
        return today_ok;
    if (w->from_min < w->to_min)
        return today_ok && m >= w->from_min && m < w->to_min;
    return (today_ok && m >= w->from_min) || (yesterday_ok && m < w->to_min);
}

static const char *describe(const struct loa_send_window *w, const struct loa_zone *z, char *buf)
{
    char text[48];
    loa_schedule_window_format(w, text, sizeof(text));
    if (z->has_offset)
        snprintf(buf, 96, "%s on %+d min", text, z->offset_min);
    else
        snprintf(buf, 96, "%s on %s", text, z->tz);
    return buf;
}

/* No instant of [a, b) is inside: a, then every minute boundary after it (the offsets and the
 * transitions being on whole minutes, inside-ness changes only there). */
static void ref_closed_between(const struct loa_send_window *w, const struct loa_zone *z, int64_t a,
                               int64_t b, const char *what)
{
    char d[96], x1[32];
    for (int64_t x = a; x < b; x = (x / MIN + 1) * MIN)
        if (ref_inside(w, z, x))
            fail_msg("%s: %s: %s is inside", what, describe(w, z, d), iso(x, x1));
}

#define PROP_CASES 2000

static void next_open_matches_reference(void **state)
{
    (void)state;
    for (int i = 0; i < PROP_CASES; i++) {
        struct loa_send_window w;
        struct loa_zone z;
        int64_t at, got = -1;
        rnd_case(&w, &z, &at);
        char d[96], a[32], b[32];
        int rc = loa_schedule_next_open(&w, &z, at, &got);
        if (rc != 0 || got < at || !ref_inside(&w, &z, got))
            fail_msg("case %d: %s from %s: got %s (rc %d), not inside", i, describe(&w, &z, d),
                     iso(at, a), iso(got, b), rc);
        /* Opening on a minute, unless at itself is inside. */
        if (got != at && got % MIN != 0)
            fail_msg("case %d: %s from %s: got %s, not on a minute", i, describe(&w, &z, d),
                     iso(at, a), iso(got, b));
        ref_closed_between(&w, &z, at, got, "next_open skipped an open instant");
    }
}

static void last_open_matches_reference(void **state)
{
    (void)state;
    for (int i = 0; i < PROP_CASES; i++) {
        struct loa_send_window w;
        struct loa_zone z;
        int64_t from, got = -1;
        rnd_case(&w, &z, &from);
        int64_t until = from + rnd_below(8 * DAY);
        if (rnd_below(4) == 0)
            until = from + rnd_below(3 * LOA_HOUR_MS); /* short ranges often have none */
        char d[96], a[32], b[32];
        int rc = loa_schedule_last_open(&w, &z, from, until, &got);
        if (rc == LOA_ENOENT) {
            ref_closed_between(&w, &z, from, until + 1, "last_open found none, but");
            continue;
        }
        if (rc != 0 || got < from || got > until || !ref_inside(&w, &z, got))
            fail_msg("case %d: %s in [%s, ...]: got %s (rc %d), not inside", i, describe(&w, &z, d),
                     iso(from, a), iso(got, b), rc);
        /* Closing on a minute (exclusive), unless until itself is inside. */
        if (got != until && (got + 1) % MIN != 0)
            fail_msg("case %d: %s: got %s, not just before a minute", i, describe(&w, &z, d),
                     iso(got, b));
        ref_closed_between(&w, &z, got + 1, until + 1, "last_open missed a later open instant");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(next_open_table),
        cmocka_unit_test(next_open_refuses_bad_input),
        cmocka_unit_test(window_check_names_fields),
        cmocka_unit_test(last_open_table),
        cmocka_unit_test(step_table),
        cmocka_unit_test(step_refuses_bad_input),
        cmocka_unit_test(delays),
        cmocka_unit_test(times_of_day),
        cmocka_unit_test(weekday_lists),
        cmocka_unit_test(windows_as_text),
        cmocka_unit_test(next_open_matches_reference),
        cmocka_unit_test(last_open_matches_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
