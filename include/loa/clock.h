/* SPDX-License-Identifier: MIT */
/*
 * Time. loa keeps every instant as milliseconds since the Unix epoch, UTC, in an int64_t
 * (Meta's webhooks use the same unit). Tests may replace the clock.
 */
#ifndef LOA_CLOCK_H
#define LOA_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#define LOA_SECOND_MS ((int64_t)1000)
#define LOA_MINUTE_MS (60 * LOA_SECOND_MS)
#define LOA_HOUR_MS   (60 * LOA_MINUTE_MS)
#define LOA_DAY_MS    (24 * LOA_HOUR_MS)

/** Wall-clock now, or the fake time when one is set. */
int64_t loa_now_ms(void);
/** Monotonic milliseconds, for measuring durations and timeouts (never faked). */
int64_t loa_mono_ms(void);
/** Sets a fake wall clock (tests); ms < 0 returns to the real clock. */
void loa_clock_set_fake(int64_t ms);

/**
 * Parses an ISO 8601 instant: "2026-11-21", "2026-11-21T20:00", "2026-11-21T20:00:05Z",
 * "2026-11-21 20:00:05+07:00", with optional fractional seconds. A time without an offset is
 * UTC. Returns 0 or LOA_EPARSE.
 */
int loa_time_parse(const char *s, int64_t *ms_out);
/** Formats ms as "2026-11-21T20:00:05.123Z" into out (at least 32 bytes). */
void loa_time_format(int64_t ms, char *out, size_t size);

/**
 * The UTC offset (minutes east) of IANA zone tz ("Asia/Ho_Chi_Minh") at instant at, from the
 * system's zone files ($TZDIR or /usr/share/zoneinfo); never touches the TZ variable, so any
 * thread may call it. Returns 0, LOA_EINVAL (not a zone name, or no such zone) or LOA_EIO.
 */
int loa_tz_offset(const char *tz, int64_t at, int *offset_min_out);

/**
 * Parses a time as a person types it for a Page in IANA zone tz: the one rule for times in
 * every command and API field. With an offset ("2026-05-04T09:00:00Z", "2026-05-04 09:00+07:00")
 * it is that instant. Without one ("2026-05-04 09:00", "2026-05-04T09:00:30") it is the
 * wall-clock time in tz; across a daylight-saving change a repeated time means its first
 * occurrence, a skipped one is LOA_ERANGE. "HH:MM" (or "H:MM", "HH:MM:SS") alone is the next
 * such time in tz after now: today, else tomorrow. A date alone is refused. Returns 0,
 * LOA_EPARSE (not a time), LOA_EINVAL (no or unknown tz for a local time) or LOA_ERANGE.
 */
int loa_time_parse_local(const char *s, const char *tz, int64_t now, int64_t *out);
/**
 * Formats ms as the wall-clock time in zone tz with its offset: "2026-12-03 20:00 +07:00"
 * (seconds when not zero). An unknown or empty zone gives loa_time_format()'s UTC form.
 */
void loa_time_format_local(int64_t ms, const char *tz, char *out, size_t size);

#endif /* LOA_CLOCK_H */
