/* SPDX-License-Identifier: MIT */
/*
 * The emulator's clock. In real mode it is the wall clock plus an offset (so --now can start it
 * at any date and it keeps ticking); in fake mode it stands still until /_admin/clock moves it.
 * Rate limiting and webhook delays use the monotonic clock instead, never this one.
 */
#include <loa/clock.h>

#include "emu_int.h"

void emu_clock_init(struct emu_clock *c, bool fake, int64_t now_ms)
{
    int64_t real = loa_now_ms();
    if (now_ms < 0)
        now_ms = real;
    atomic_store(&c->fake, fake);
    atomic_store(&c->fake_ms, now_ms);
    atomic_store(&c->offset_ms, now_ms - real);
}

int64_t emu_clock_now(struct emu_clock *c)
{
    if (atomic_load_explicit(&c->fake, memory_order_relaxed))
        return atomic_load_explicit(&c->fake_ms, memory_order_relaxed);
    return loa_now_ms() + atomic_load_explicit(&c->offset_ms, memory_order_relaxed);
}

void emu_clock_set(struct emu_clock *c, int64_t ms)
{
    atomic_store(&c->fake_ms, ms);
    atomic_store(&c->fake, true);
}

void emu_clock_advance(struct emu_clock *c, int64_t delta_ms)
{
    if (!atomic_load(&c->fake))
        emu_clock_set(c, emu_clock_now(c));
    atomic_fetch_add(&c->fake_ms, delta_ms);
}
