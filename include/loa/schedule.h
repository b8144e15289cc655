/* SPDX-License-Identifier: MIT */
/*
 * Schedule: when a timed send may go out. A send window (local times of day, optional
 * weekdays) read on someone's clock (a fixed UTC offset, or an IANA zone with its daylight
 * saving rules), the next and the last instant it is open, a sequence step's delay, and the
 * due time of a step (waiting for the send window, or pulled earlier when it must go inside
 * the person's messaging window). Drip sequences use it now, campaigns' send windows later.
 *
 * Pure: every function takes the time as an argument and reads nothing but its arguments and,
 * for an IANA zone, the zone files through loa_tz_offset() (include/loa/clock.h), which is
 * thread-safe; so any thread may call any function here at any time. Nothing is allocated and
 * no pointer is kept: every pointer argument is borrowed for the duration of the call, and the
 * strings returned (unit names, skip reasons) are static.
 *
 * Times are milliseconds since the epoch, UTC. An instant given as input (at, from, base,
 * now) must lie in [0, LOA_SCHEDULE_TIME_MAX], else LOA_EINVAL.
 *
 * Which instants a window holds. An instant is inside the window when the local time of day
 * it shows on the zone's clock, at that instant, is in [from, to) (closing is exclusive) on an
 * allowed weekday; for a window crossing midnight the day it opens counts (a Friday 22:00-06:00
 * window holds Saturday 03:00 even when Saturday is not one of its weekdays). So local times
 * that do not exist (the spring-forward gap) are never inside: a window opening in the gap
 * opens at the first instant after it, and one lying wholly in the gap does not open that day.
 * A repeated hour (fall back) shows its local times twice: a window opening in it opens at the
 * first occurrence; one closing in it closes at the first occurrence and is open again during
 * the repeat for the local times inside it (the clock shows them again).
 */
#ifndef LOA_SCHEDULE_H
#define LOA_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <loa/diag.h>

/** Latest instant accepted as input: 9999-12-31T23:59:59.999Z. */
#define LOA_SCHEDULE_TIME_MAX ((int64_t)253402300799999)
/** Longest step delay: 3650 days. */
#define LOA_SCHEDULE_DELAY_MAX_MS ((int64_t)3650 * 86400000)
/** Margin before the messaging window closes when a step's timing leaves it at 0: 1 hour. */
#define LOA_SCHEDULE_MARGIN_DEFAULT_MS ((int64_t)3600000)
/** Longest margin: 7 days. */
#define LOA_SCHEDULE_MARGIN_MAX_MS ((int64_t)7 * 86400000)
/** How far ahead (and, for last_open, back) a search looks: 16 days. */
#define LOA_SCHEDULE_HORIZON_MS ((int64_t)16 * 86400000)

/** Weekday bits of struct loa_send_window.weekdays. */
#define LOA_MONDAY    (1u << 0)
#define LOA_TUESDAY   (1u << 1)
#define LOA_WEDNESDAY (1u << 2)
#define LOA_THURSDAY  (1u << 3)
#define LOA_FRIDAY    (1u << 4)
#define LOA_SATURDAY  (1u << 5)
#define LOA_SUNDAY    (1u << 6)
#define LOA_EVERY_DAY 0x7fu

/** A daily send window. The zero struct is a valid window: all day, every day. */
struct loa_send_window {
    int from_min;      /* opens at this local minute of day, 0..1439 */
    int to_min;        /* closes at this local minute of day, 0..1440; from == to: all day
                          (00:00-24:00, the value itself does not matter); from > to crosses
                          midnight (22:00-06:00 is open 22:00..24:00 and 00:00..06:00 next day) */
    unsigned weekdays; /* LOA_MONDAY .. LOA_SUNDAY (bit 0 Monday .. bit 6 Sunday); 0 = every
                          day. For a window crossing midnight, the day it opens counts */
};

/** Whose clock a window is read on: the person's fixed offset when known, else an IANA zone. */
struct loa_zone {
    bool has_offset; /* offset_min is used, tz is ignored */
    int offset_min;  /* fixed UTC offset, minutes east (+07:00 is 420), -1080..1080 */
    const char *tz;  /* otherwise this IANA zone ("Asia/Ho_Chi_Minh"), DST-aware; borrowed */
};

/* ---------------------------------------------------------------------------------------- */
/* Windows                                                                                   */

/**
 * Checks a window: from 0..1439, to 0..1440, no weekday bit beyond Sunday. Every valid window
 * opens at least once a week. Returns 0 or LOA_EINVAL, with the reason in diags (may be NULL)
 * at where ("sequence.window"; NULL for none) and the field ("where.from", "where.weekdays").
 */
int loa_schedule_window_check(const struct loa_send_window *w, const char *where,
                              struct loa_diags *diags);

/**
 * The first instant >= at inside the window, read on z's clock. next_open(at) == at exactly
 * when at is inside. Returns 0; LOA_EINVAL for a bad window, zone (no offset and no tz, an
 * offset out of range, an unknown zone) or instant; LOA_EIO when the zone file cannot be read;
 * LOA_ENOENT when the window does not open within LOA_SCHEDULE_HORIZON_MS (a valid window
 * always does on real zones). *out is left alone on failure.
 */
int loa_schedule_next_open(const struct loa_send_window *w, const struct loa_zone *z, int64_t at,
                           int64_t *out);

/**
 * The latest instant in [from, until] inside the window (the closing being exclusive, a window
 * closing before until gives its closing instant minus 1 ms). until may exceed
 * LOA_SCHEDULE_TIME_MAX (INT64_MAX: no upper bound): it is clamped to it. Only the last
 * LOA_SCHEDULE_HORIZON_MS before until are searched, which always holds an opening of a valid
 * window. Returns 0; LOA_ENOENT when there is no such instant (or until < from); LOA_EINVAL,
 * LOA_EIO as loa_schedule_next_open().
 */
int loa_schedule_last_open(const struct loa_send_window *w, const struct loa_zone *z, int64_t from,
                           int64_t until, int64_t *out);

/* ---------------------------------------------------------------------------------------- */
/* Sequence steps                                                                            */

enum loa_delay_unit {
    LOA_DELAY_SECONDS = 0,
    LOA_DELAY_MINUTES,
    LOA_DELAY_HOURS,
    LOA_DELAY_DAYS,
};

/**
 * n units in milliseconds (a day is 24 h of elapsed time, not a calendar day). Returns 0,
 * LOA_ERANGE when n < 0 or the delay exceeds LOA_SCHEDULE_DELAY_MAX_MS, LOA_EINVAL for an
 * unknown unit.
 */
int loa_schedule_delay_ms(int64_t n, enum loa_delay_unit u, int64_t *ms_out);

/** "seconds", "minutes", "hours", "days" ("?" for anything else). */
const char *loa_schedule_unit_name(enum loa_delay_unit u);
/** Parses a unit name, plural or singular, any case. Returns 0 or LOA_EINVAL. */
int loa_schedule_unit_parse(const char *s, enum loa_delay_unit *out);

/** How one step is timed. */
struct loa_step_timing {
    int64_t delay_ms;   /* after the previous step's actual send, 0..LOA_SCHEDULE_DELAY_MAX_MS */
    bool inside_window; /* must go out inside the person's messaging window (seed 001) */
    int64_t margin_ms;  /* inside_window: send at least this long before the messaging window
                           closes; 0 = LOA_SCHEDULE_MARGIN_DEFAULT_MS; at most
                           LOA_SCHEDULE_MARGIN_MAX_MS */
};

/** When a step goes out, or why it does not. */
struct loa_step_due {
    int64_t due_at;     /* when to send it; 0 when skipped */
    int64_t shifted_ms; /* due_at - (base + delay): > 0 waited for the send window (or now),
                           < 0 pulled earlier for the messaging window; 0 when skipped */
    const char *skip;   /* NULL, or why the step is skipped (static string):
                           "window_closed": the messaging window is closed, unknown or closes
                           less than the margin from now;
                           "window_closes_first": no instant between max(now, base) and the
                           closing minus the margin is inside the send window */
};

/**
 * The due time of a step whose previous step went out at base. earliest = base + delay; the
 * step is due at the first instant >= max(earliest, now) inside the send window w (a step
 * already late does not go out of the window either).
 *
 * With inside_window, window_closes_at is when the person's messaging window closes (<= 0:
 * unknown or closed), and limit = window_closes_at - margin. When the due time is after limit,
 * the step moves to the latest instant in [max(now, base), limit] inside the send window: never
 * in the past, never before the previous step; when limit < now it is skipped with
 * "window_closed", when there is no such instant with "window_closes_first". The answer holds
 * while nothing changes: a new interaction extends the messaging window, and the caller asks
 * again.
 *
 * Returns 0 and fills *out (a skip is a success); LOA_EINVAL for a bad window, zone, instant or
 * margin; LOA_ERANGE for a delay out of range; LOA_EIO, LOA_ENOENT as loa_schedule_next_open().
 */
int loa_schedule_step(const struct loa_send_window *w, const struct loa_zone *z,
                      const struct loa_step_timing *t, int64_t base, int64_t now,
                      int64_t window_closes_at, struct loa_step_due *out);

/* ---------------------------------------------------------------------------------------- */
/* Text forms (CLI, REST, console)                                                           */

/*
 * The parsers below report every complaint to diags (may be NULL) at where (may be NULL), with
 * column = the 1-based byte position in s of what is wrong (line 0), and return 0 or
 * LOA_EPARSE; *out is set only on success.
 */

/**
 * A time of day: "13:00", "9:30", "24:00", or the Vietnamese "13h", "13h30". Minutes after
 * midnight, 0..1440.
 */
int loa_schedule_time_parse(const char *s, const char *where, int *min_out,
                            struct loa_diags *diags);
/** Formats minutes of day 0..1440 as "HH:MM" into out (at least 6 bytes). */
void loa_schedule_time_format(int min, char *out, size_t size);

/**
 * A weekday list: items separated by commas, each a day or a range "mon-fri" (wrapping:
 * "fri-mon" is fri,sat,sun,mon); a day is mon, tue, wed, thu, fri, sat, sun, the full English
 * name, or the Vietnamese t2 .. t7 (Thứ 2 = Monday .. Thứ 7 = Saturday) and cn (Chủ nhật =
 * Sunday); any case, spaces around items allowed, a day given twice counts once. The empty
 * list is refused (leave the weekdays out for every day).
 */
int loa_schedule_weekdays_parse(const char *s, const char *where, unsigned *mask_out,
                                struct loa_diags *diags);
/** Formats a weekday mask as "mon,tue,fri" (0 as every day) into out (at least 28 bytes). */
void loa_schedule_weekdays_format(unsigned mask, char *out, size_t size);

/**
 * A whole window: "13:00-20:00" (or with an en dash, "13:00–20:00"), optionally followed by
 * spaces and a weekday list: "22:00-06:00 fri,sat". "00:00-24:00" is all day; equal times are
 * refused (ambiguous: write 00:00-24:00 for all day). The result passes
 * loa_schedule_window_check().
 */
int loa_schedule_window_parse(const char *s, const char *where, struct loa_send_window *out,
                              struct loa_diags *diags);
/**
 * Formats a window as loa_schedule_window_parse() reads it ("13:00-20:00 mon,tue"; all day
 * as "00:00-24:00"; no weekdays part for every day) into out (at least 40 bytes).
 */
void loa_schedule_window_format(const struct loa_send_window *w, char *out, size_t size);

#endif /* LOA_SCHEDULE_H */
