/* SPDX-License-Identifier: MIT */
/*
 * Pacing arithmetic of the dispatcher: a token bucket per Page, the rolling 24 h cap and the
 * daily send window. Pure functions of their arguments (the time included); a Page's UTC
 * offset comes from loa_tz_offset() (include/loa/clock.h).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <loa/alloc.h>
#include <loa/clock.h>
#include <loa/dispatch.h>
#include <loa/err.h>

void loa_bucket_init(struct loa_bucket *b, double rate, double burst, int64_t now)
{
    b->rate = rate > 0 ? rate : 1;
    b->burst = burst >= 1 ? burst : 1;
    b->tokens = b->burst;
    b->at = now;
}

static void refill(struct loa_bucket *b, int64_t now)
{
    if (now > b->at) {
        b->tokens += (double)(now - b->at) * b->rate / 1000.0;
        if (b->tokens > b->burst)
            b->tokens = b->burst;
    }
    b->at = now > b->at ? now : b->at;
}

void loa_bucket_set_rate(struct loa_bucket *b, double rate, double burst, int64_t now)
{
    refill(b, now);
    b->rate = rate > 0 ? rate : 1;
    b->burst = burst >= 1 ? burst : 1;
    if (b->tokens > b->burst)
        b->tokens = b->burst;
}

int64_t loa_bucket_available(struct loa_bucket *b, int64_t now)
{
    refill(b, now);
    return b->tokens >= 1.0 ? (int64_t)b->tokens : 0; /* none while in debt */
}

int64_t loa_bucket_take(struct loa_bucket *b, int64_t now, int64_t want)
{
    int64_t n = loa_bucket_available(b, now);
    if (want < n)
        n = want;
    if (n < 0)
        n = 0;
    b->tokens -= (double)n;
    return n;
}

void loa_bucket_charge(struct loa_bucket *b, int64_t now, int64_t n)
{
    refill(b, now);
    b->tokens -= (double)n;
}

void loa_bucket_refund(struct loa_bucket *b, int64_t n)
{
    b->tokens += (double)n;
    if (b->tokens > b->burst)
        b->tokens = b->burst;
}

int64_t loa_bucket_wait_ms(const struct loa_bucket *b, int64_t now)
{
    struct loa_bucket c = *b;
    refill(&c, now);
    if (c.tokens >= 1.0)
        return 0;
    double ms = (1.0 - c.tokens) * 1000.0 / c.rate;
    int64_t w = (int64_t)ms;
    return (double)w < ms ? w + 1 : w;
}

int64_t loa_pacing_cap_allowance(int64_t cap, int64_t used, int64_t in_flight)
{
    int64_t n = cap - used - in_flight;
    return n > 0 ? n : 0;
}

int64_t loa_pacing_cap_reopens(int64_t oldest_minute)
{
    return oldest_minute + LOA_MINUTE_MS + LOA_DAY_MS;
}

bool loa_pacing_in_window(int from_min, int to_min, int64_t at, int utc_offset_min,
                          int64_t *next_open_out)
{
    if (from_min < 0 || to_min < 0 || from_min == to_min)
        return true;
    int64_t local = (at + (int64_t)utc_offset_min * LOA_MINUTE_MS) % LOA_DAY_MS;
    if (local < 0)
        local += LOA_DAY_MS;
    int64_t from = (int64_t)from_min * LOA_MINUTE_MS, to = (int64_t)to_min * LOA_MINUTE_MS;
    bool in = from < to ? local >= from && local < to : local >= from || local < to;
    if (!in && next_open_out)
        *next_open_out = at + ((from - local) % LOA_DAY_MS + LOA_DAY_MS) % LOA_DAY_MS;
    return in;
}

void loa_throttle_init(struct loa_throttle *t)
{
    *t = (struct loa_throttle){ .share = 1.0 };
}

double loa_throttle_share(const struct loa_throttle *t, int64_t now)
{
    double s = t->share;
    if (s >= 1.0)
        return 1.0;
    /* It climbs back only once the platform accepts requests again, from that moment. */
    if (t->strikes == 0 && now > t->climb_at)
        s += (double)(now - t->climb_at) / 1000.0 * LOA_THROTTLE_RAISE_PER_S;
    return s < 1.0 ? s : 1.0;
}

bool loa_throttle_limited(struct loa_throttle *t, int64_t now, int64_t hint_ms)
{
    bool changed = false;
    /* Answers to requests that left before the last cut say nothing new: one cut a second. */
    if (!t->cut_at || now - t->cut_at >= 1000) {
        double s = loa_throttle_share(t, now) * LOA_THROTTLE_CUT;
        t->share = s > LOA_THROTTLE_FLOOR ? s : LOA_THROTTLE_FLOOR;
        t->cut_at = now;
        t->climb_at = now;
        t->strikes++;
        changed = true;
        if (t->strikes >= 2 && hint_ms <= 0) {
            int64_t hold = LOA_THROTTLE_HOLD_MAX_MS;
            if (t->strikes - 2 < 6)
                hold = (int64_t)1000 << (t->strikes - 2);
            if (hold > LOA_THROTTLE_HOLD_MAX_MS)
                hold = LOA_THROTTLE_HOLD_MAX_MS;
            if (now + hold > t->hold_until)
                t->hold_until = now + hold;
        }
    }
    if (hint_ms > 0 && now + hint_ms > t->hold_until) {
        t->hold_until = now + hint_ms;
        changed = true;
    }
    return changed;
}

bool loa_throttle_accepted(struct loa_throttle *t, int64_t now)
{
    if (t->strikes == 0)
        return false;
    t->strikes = 0;
    t->climb_at = now > t->climb_at ? now : t->climb_at; /* after a hold: from below, not 1.0 */
    return true;
}
