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

#endif /* LOA_CLOCK_H */
