/* SPDX-License-Identifier: MIT */
/*
 * Fault injection (errors, latency, dropped connections) and the per-Page token-bucket rate
 * limit. Both sit on the hot path: with no faults set the check is one atomic load, and the
 * bucket is one short critical section per Page.
 */
#include <string.h>
#include <time.h>

#include "emu_int.h"

static _Thread_local uint64_t rng_state;

uint32_t emu_rand32(void)
{
    if (rng_state == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        rng_state =
            ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)(uintptr_t)&rng_state ^ 0x9e3779b97f4a7c15ULL;
    }
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 2685821657736338717ULL) >> 32);
}

bool emu_roll_ppm(uint32_t ppm)
{
    if (ppm == 0)
        return false;
    if (ppm >= EMU_PPM)
        return true;
    return emu_rand32() % EMU_PPM < ppm;
}

void emu_faults_roll(struct emu_faults *f, const char *page_id, struct emu_fault_hit *out)
{
    memset(out, 0, sizeof(*out));
    if (atomic_load_explicit(&f->count, memory_order_acquire) == 0)
        return;
    pthread_mutex_lock(&f->lock);
    int n = atomic_load(&f->count);
    for (int i = 0; i < n; i++) {
        const struct emu_fault *x = &f->f[i];
        if (x->page_id[0] && (!page_id || strcmp(x->page_id, page_id) != 0))
            continue;
        if (x->latency_ms > out->latency_ms)
            out->latency_ms = x->latency_ms;
        if (!out->drop && emu_roll_ppm(x->drop_ppm))
            out->drop = true;
        if (!out->code && x->code && emu_roll_ppm(x->rate_ppm)) {
            out->code = x->code;
            out->subcode = x->subcode;
            out->http_status = x->http_status;
        }
    }
    pthread_mutex_unlock(&f->lock);
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A bucket holding one second of calls: a burst of `rate` calls, then `rate` per second. */
static bool bucket_take(struct emu_page *page, double *tokens_io, int64_t *last_io, double rate)
{
    if (rate <= 0)
        return true;
    int64_t now = mono_ns();
    bool ok = false;
    pthread_mutex_lock(&page->rate_lock);
    double tokens = *tokens_io + (double)(now - *last_io) * rate / 1e9;
    if (*last_io == 0 || tokens > rate)
        tokens = rate;
    *last_io = now;
    if (tokens >= 1.0) {
        tokens -= 1.0;
        ok = true;
    }
    *tokens_io = tokens;
    pthread_mutex_unlock(&page->rate_lock);
    return ok;
}

bool emu_rate_take(struct emu_page *page, double rate)
{
    return bucket_take(page, &page->rate_tokens, &page->rate_last_ns, rate);
}

bool emu_conv_rate_take(struct emu_page *page)
{
    return bucket_take(page, &page->conv_tokens, &page->conv_last_ns, EMU_CONV_RATE);
}
