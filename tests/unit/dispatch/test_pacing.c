/* SPDX-License-Identifier: MIT */
/*
 * The dispatcher's pacing under the conditions that broke it: several campaigns on one Page
 * (its rate and rolling cap hold across them), restarts (no burst on each start; a Page's
 * throttle survives), rate-limit answers (adaptive, no 60 s stalls), a cancel while requests
 * are in flight (every delivery final), recovery of a cancelled campaign's deliveries, and the
 * rules' margin for time in flight. Against the client's in-process Graph stub.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <loa/campaign.h>
#include <loa/clock.h>
#include <loa/dispatch.h>
#include <loa/err.h>
#include <loa/rules.h>
#include <loa/store.h>

#include "fixtures.h"
#include "runner.h"
#include "stub.h"
#include "testtxn.h"
#include "testutil.h"

#define TEXT   "{\"blocks\":[{\"type\":\"text\",\"text\":\"Chào {{first_name|bạn}}!\"}]}"
#define PEOPLE 2048
#define LOGMAX 16384

/* ---- The throttle (pure) ------------------------------------------------------------------ */

static void throttle(void **state)
{
    (void)state;
    struct loa_throttle t;
    loa_throttle_init(&t);
    assert_true(loa_throttle_share(&t, 1000) > 0.999);
    /* The first rate-limit answer cuts the rate, without a hold. */
    assert_true(loa_throttle_limited(&t, 10000, 0));
    assert_true(loa_throttle_share(&t, 10000) < 0.71 && loa_throttle_share(&t, 10000) > 0.69);
    assert_int_equal(t.hold_until, 0);
    /* Answers within the second that follows say nothing new (requests already on the way). */
    assert_false(loa_throttle_limited(&t, 10500, 0));
    assert_true(loa_throttle_share(&t, 10000) < 0.71);
    /* Nothing accepted since: no climb. Once accepted, +25 % of the rate a second. */
    assert_true(loa_throttle_share(&t, 11000) < 0.71);
    assert_true(loa_throttle_accepted(&t, 10000));
    assert_true(loa_throttle_share(&t, 11000) > 0.94 && loa_throttle_share(&t, 11000) < 0.96);
    assert_true(loa_throttle_share(&t, 12000) > 0.999);
    /* Limited answer after limited answer: cut once a second, and from the second cut on,
     * held 1 s, then 2 s, 4 s ... at most 60 s; the share falls to the floor. */
    assert_true(loa_throttle_limited(&t, 12000, 0));
    assert_int_equal(t.hold_until, 0);
    assert_true(loa_throttle_limited(&t, 13000, 0));
    assert_int_equal(t.hold_until, 14000);
    assert_true(loa_throttle_limited(&t, 14000, 0));
    assert_int_equal(t.hold_until, 16000);
    for (int64_t at = 16000; at < 200000; at += 1000)
        loa_throttle_limited(&t, at, 0);
    assert_true(t.hold_until <= 199000 + LOA_THROTTLE_HOLD_MAX_MS);
    assert_true(t.share >= LOA_THROTTLE_FLOOR && t.share < 0.06);
    /* After a hold, the first accepted answer starts the climb from the cut share, not 1.0. */
    int64_t end = t.hold_until;
    assert_true(loa_throttle_accepted(&t, end));
    assert_false(loa_throttle_accepted(&t, end + 10));
    assert_true(loa_throttle_share(&t, end) < 0.06);
    assert_true(loa_throttle_share(&t, end + 1000) < 0.31);
    assert_true(loa_throttle_share(&t, end + 4000) > 0.999);
    loa_throttle_init(&t);
    t.share = 0.5;
    t.cut_at = 300000;
    assert_true(loa_throttle_limited(&t, 301000, 0));
    assert_true(loa_throttle_limited(&t, 302000, 0));
    int64_t held = t.hold_until;
    assert_true(held > 302000);
    /* An accepted request ends the strikes: the next cut holds nothing. */
    loa_throttle_accepted(&t, 302500);
    assert_true(loa_throttle_limited(&t, 303000, 0));
    assert_int_equal(t.hold_until, held);
    /* The platform's own wait is kept exactly, even inside the second after a cut. */
    assert_true(loa_throttle_limited(&t, 303100, 90000));
    assert_int_equal(t.hold_until, 393100);
}

/* ---- A Graph stub that logs every request ------------------------------------------------- */

struct wire {
    pthread_mutex_t lock;
    int requests;
    int per[PEOPLE];     /* accepted sends by person "qN" */
    int64_t at[LOGMAX];  /* when each request arrived (loa_mono_ms) */
    int every613;        /* every k-th request answers 613 (0 = none) */
    bool always613;      /* every request answers 613 */
    bool retry_all;      /* every request answers a temporary error (code 2) */
    int delay_ms;        /* before answering */
    int64_t first_at_ms; /* loa_now_ms of the first request since reset */
};

static void wire_fn(void *arg, const char *method, const char *path, const char *body,
                    size_t body_len, struct stub_reply *out)
{
    (void)method;
    (void)path;
    (void)body_len;
    struct wire *w = arg;
    static __thread char reply[128];
    const char *p = strstr(body, "\"id\":\"q");
    int n = p ? atoi(p + 7) : PEOPLE - 1;
    if (n < 0 || n >= PEOPLE)
        n = PEOPLE - 1;
    pthread_mutex_lock(&w->lock);
    int k = w->requests++;
    if (k < LOGMAX)
        w->at[k] = loa_mono_ms();
    if (!w->first_at_ms)
        w->first_at_ms = loa_now_ms();
    bool limited = w->always613 || (w->every613 > 0 && (k + 1) % w->every613 == 0);
    bool retry = w->retry_all;
    if (!limited && !retry)
        w->per[n]++;
    out->delay_ms = w->delay_ms;
    pthread_mutex_unlock(&w->lock);
    if (limited) {
        out->status = 400;
        out->body = "{\"error\":{\"message\":\"Calls to this api have exceeded the rate limit."
                    "\",\"type\":\"OAuthException\",\"code\":613}}";
        return;
    }
    if (retry) {
        out->status = 500;
        out->body = "{\"error\":{\"message\":\"temp\",\"type\":\"x\",\"code\":2}}";
        return;
    }
    snprintf(reply, sizeof(reply), "{\"recipient_id\":\"q%d\",\"message_id\":\"m_%d\"}", n, n);
    out->status = 200;
    out->body = reply;
}

static int wire_requests(struct wire *w)
{
    pthread_mutex_lock(&w->lock);
    int n = w->requests;
    pthread_mutex_unlock(&w->lock);
    return n;
}

/* The most requests that arrived within any window of ms milliseconds. */
static int wire_peak(struct wire *w, int64_t ms)
{
    pthread_mutex_lock(&w->lock);
    int n = w->requests < LOGMAX ? w->requests : LOGMAX, peak = 0;
    for (int i = 0, j = 0; i < n; i++) {
        while (w->at[i] - w->at[j] >= ms)
            j++;
        if (i - j + 1 > peak)
            peak = i - j + 1;
    }
    pthread_mutex_unlock(&w->lock);
    return peak;
}

struct prig {
    struct wire w;
    struct stub *stub;
    char path[512];
    struct loa_store_opts so;
    struct loa_store *st;
    struct loa_rules *rules;
    int64_t page;
};

static void prig_start(struct prig *r, const char *name, int64_t rate, int64_t cap)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->w.lock, NULL);
    r->stub = stub_start(wire_fn, &r->w, true);
    assert_non_null(r->stub);
    store_open(r->path, sizeof(r->path), name, &r->so, &r->st, &r->rules);
    r->page = put_page(r->st, "333", "TOKEN", cap, 0);
    struct loa_page_input in = { .page_id = "333", .send_rate = rate };
    assert_int_equal(TW(r->st, page_put, &in, loa_now_ms(), NULL), 0);
}

static void prig_stop(struct prig *r)
{
    store_close(r->path, r->st, r->rules);
    stub_stop(r->stub);
    pthread_mutex_destroy(&r->w.lock);
}

/* People q<from>..q<to-1>, who wrote a minute ago. */
static void people(struct prig *r, int from, int to)
{
    char psid[16];
    struct loa_txn *tx;
    assert_int_equal(loa_store_begin(r->st, &tx), 0);
    for (int i = from; i < to; i++) {
        snprintf(psid, sizeof(psid), "q%d", i);
        put_sub_in(tx, r->page, psid, loa_now_ms() - LOA_MINUTE_MS);
    }
    assert_int_equal(loa_store_commit(tx), 0);
}

/* A started campaign for the people whose number is in [from, to): by an attribute filter. */
static int64_t campaign_for(struct prig *r, int from, int to)
{
    static int serial;
    char tag[32], psid[16];
    snprintf(tag, sizeof(tag), "t%d", ++serial);
    int64_t tag_id;
    assert_int_equal(TW(r->st, tag_ensure, r->page, tag, &tag_id), 0);
    for (int i = from; i < to; i++) {
        snprintf(psid, sizeof(psid), "q%d", i);
        struct loa_subscriber sub;
        assert_int_equal(loa_store_subscriber_find(r->st, r->page, psid, &sub), 0);
        assert_int_equal(TW(r->st, tag_add, sub.id, tag_id, NULL), 0);
        loa_subscriber_release(&sub);
    }
    int64_t id = new_campaign(r->st, r->page, TEXT);
    char filter[64];
    snprintf(filter, sizeof(filter), "{\"tags\":{\"any\":[\"%s\"]}}", tag);
    struct loa_campaign_input up = { .filter = filter,
                                     .scheduled_at = -1,
                                     .batch_size = -1,
                                     .batch_interval_ms = -1,
                                     .rate_per_s = -1,
                                     .window_from_min = -2,
                                     .window_to_min = -2 };
    assert_int_equal(TW(r->st, campaign_update, id, &up, loa_now_ms()), 0);
    int64_t total;
    assert_int_equal(loa_campaign_start(r->st, id, loa_now_ms(), &total), 0);
    assert_int_equal(total, to - from);
    return id;
}

static void run_start(struct prig *r, struct runner *x, int64_t only, int64_t margin_ms)
{
    struct loa_dispatch_opts o = { .store = &r->so,
                                   .rules = r->rules,
                                   .graph_url = stub_url(r->stub),
                                   .only_campaign = only,
                                   .recover = true,
                                   .retry_base_ms = 5,
                                   .retry_cap_ms = 20,
                                   .tick_ms = 20,
                                   .margin_ms = margin_ms };
    runner_start(x, &o);
}

static int64_t count_state(struct prig *r, int64_t id, enum loa_delivery_state s)
{
    struct loa_campaign_stats cs;
    assert_int_equal(loa_store_campaign_stats(r->st, id, &cs, NULL, NULL), 0);
    return cs.by_state[s];
}

/* Waits (up to ms) until f(r, a, b) holds. */
static bool wait_until(bool (*f)(struct prig *, int64_t, int64_t), struct prig *r, int64_t a,
                       int64_t b, int64_t ms)
{
    for (int64_t t0 = loa_mono_ms(); loa_mono_ms() - t0 < ms; usleep(10000))
        if (f(r, a, b))
            return true;
    return f(r, a, b);
}

static bool requests_at_least(struct prig *r, int64_t n, int64_t unused)
{
    (void)unused;
    return wire_requests(&r->w) >= n;
}

static bool none_open(struct prig *r, int64_t a, int64_t b)
{
    int64_t ids[2] = { a, b };
    for (size_t i = 0; i < 2; i++)
        if (ids[i] && (count_state(r, ids[i], LOA_DELIVERY_PENDING) > 0 ||
                       count_state(r, ids[i], LOA_DELIVERY_IN_FLIGHT) > 0))
            return false;
    return true;
}

/* ---- A Page's rate and cap hold across its campaigns -------------------------------------- */

/* Two campaigns of 150 people on a Page of 60/s: 300 sends take at least 4.5 s (the old
 * dispatcher gave each campaign the Page's whole rate, and took less), and no second of them
 * holds more than a burst and the rate (120). */
static void rate_across_campaigns(void **state)
{
    (void)state;
    struct prig r;
    prig_start(&r, "pacing-rate.db", 60, 100000);
    people(&r, 0, 300);
    int64_t a = campaign_for(&r, 0, 150), b = campaign_for(&r, 150, 300);
    struct runner x;
    int64_t t0 = loa_mono_ms();
    run_start(&r, &x, 0, 0);
    assert_true(wait_until(none_open, &r, a, b, 30000));
    int64_t ms = loa_mono_ms() - t0;
    runner_stop(&x);
    assert_int_equal(count_state(&r, a, LOA_DELIVERY_SENT) + count_state(&r, b, LOA_DELIVERY_SENT),
                     300);
    for (int i = 0; i < 300; i++)
        assert_int_equal(r.w.per[i], 1);
    assert_true(ms >= 4500);
    int peak = wire_peak(&r.w, 1000);
    assert_true(peak <= 120); /* a stall lets one second's burst add to the rate */
    prig_stop(&r);
}

/* A cap of 150 over two campaigns of 100: exactly 150 accepted, the rest wait (pending). */
static void cap_across_campaigns(void **state)
{
    (void)state;
    struct prig r;
    prig_start(&r, "pacing-cap.db", 300, 150);
    people(&r, 0, 200);
    int64_t a = campaign_for(&r, 0, 100), b = campaign_for(&r, 100, 200);
    struct runner x;
    run_start(&r, &x, 0, 0);
    assert_true(wait_until(requests_at_least, &r, 150, 0, 20000));
    usleep(1500000); /* time to overrun the cap, if it would */
    runner_stop(&x);
    assert_int_equal(wire_requests(&r.w), 150);
    int64_t sent = count_state(&r, a, LOA_DELIVERY_SENT) + count_state(&r, b, LOA_DELIVERY_SENT);
    assert_int_equal(sent, 150);
    assert_int_equal(
        count_state(&r, a, LOA_DELIVERY_PENDING) + count_state(&r, b, LOA_DELIVERY_PENDING), 50);
    int64_t used = 0;
    assert_int_equal(loa_store_ledger_count(r.st, r.page, loa_now_ms() - LOA_DAY_MS, &used), 0);
    assert_int_equal(used, 150);
    prig_stop(&r);
}

/* ---- Restarts ----------------------------------------------------------------------------- */

/* Started and stopped 8 times in a row at 100/s: each start resumes at the rate instead of
 * sending a full second's burst (the old dispatcher: about 100 per start). */
static void restart_no_burst(void **state)
{
    (void)state;
    struct prig r;
    prig_start(&r, "pacing-restart.db", 100, 100000);
    people(&r, 0, 1000);
    int64_t id = campaign_for(&r, 0, 1000);
    int64_t t0 = loa_mono_ms();
    for (int i = 0; i < 8; i++) {
        struct runner x;
        run_start(&r, &x, id, 0);
        usleep(150000);
        runner_stop(&x);
    }
    double secs = (double)(loa_mono_ms() - t0) / 1000.0;
    int n = wire_requests(&r.w);
    assert_true(n > 0);
    assert_true((double)n <= 100.0 * secs + 20.0);
    for (int i = 0; i < 1000; i++)
        assert_true(r.w.per[i] <= 1);
    prig_stop(&r);
}

/* ---- Rate-limit answers ------------------------------------------------------------------- */

/* One answer in ten is 613 (no Retry-After): the old dispatcher held the Page 60 s on each;
 * now the Page slows down and goes on. 400 people at 100/s end within 20 s, each once. */
static void rate_limited_goes_on(void **state)
{
    (void)state;
    struct prig r;
    prig_start(&r, "pacing-613.db", 100, 100000);
    r.w.every613 = 10;
    people(&r, 0, 400);
    int64_t id = campaign_for(&r, 0, 400);
    struct runner x;
    run_start(&r, &x, id, 0);
    assert_true(wait_until(none_open, &r, id, 0, 20000));
    runner_stop(&x);
    assert_int_equal(count_state(&r, id, LOA_DELIVERY_SENT), 400);
    for (int i = 0; i < 400; i++)
        assert_int_equal(r.w.per[i], 1);
    assert_true(wire_requests(&r.w) > 400); /* the 613s were retried */
    prig_stop(&r);
}

/* Every answer 613: the Page's share of its rate falls, holds grow, and both are stored, so a
 * restarted dispatcher keeps holding instead of bursting into the limit again. */
static void throttle_survives_restart(void **state)
{
    (void)state;
    struct prig r;
    prig_start(&r, "pacing-hold.db", 100, 100000);
    r.w.always613 = true;
    people(&r, 0, 300);
    int64_t id = campaign_for(&r, 0, 300);
    struct runner x;
    run_start(&r, &x, id, 0);
    /* Cuts at about 0, 1, 2 and 4 s: held 1 s, 2 s, then 4 s. Wait for the third strike with a
     * hold of more than a second left, however slowly the dispatcher got going. */
    struct loa_page_pacing pp = { 0 };
    for (int64_t t0 = loa_mono_ms(); loa_mono_ms() - t0 < 30000; usleep(50000)) {
        assert_int_equal(loa_store_page_pacing_get(r.st, r.page, &pp), 0);
        if (pp.strikes >= 3 && pp.hold_until > loa_now_ms() + 1000)
            break;
    }
    runner_stop(&x);
    assert_int_equal(loa_store_page_pacing_get(r.st, r.page, &pp), 0);
    assert_true(pp.share < 0.5);
    assert_true(pp.strikes >= 2);
    int64_t now = loa_now_ms();
    assert_true(pp.hold_until > now);
    /* The platform answers again; a new dispatcher sends nothing before the stored hold. */
    pthread_mutex_lock(&r.w.lock);
    r.w.always613 = false;
    r.w.first_at_ms = 0;
    int before = r.w.requests;
    pthread_mutex_unlock(&r.w.lock);
    run_start(&r, &x, id, 0);
    assert_true(wait_until(requests_at_least, &r, before + 1, 0, 70000));
    runner_stop(&x);
    assert_true(r.w.first_at_ms >= pp.hold_until);
    assert_int_equal(count_state(&r, id, LOA_DELIVERY_FAILED), 0);
    prig_stop(&r);
}

/* ---- Cancel, recovery --------------------------------------------------------------------- */

/* Cancelled while requests are in flight and their answers say "try again": they end skipped
 * ("cancelled"), not pending for good; nothing is left open. */
static void cancel_in_flight(void **state)
{
    (void)state;
    struct prig r;
    prig_start(&r, "pacing-cancel.db", 300, 100000);
    r.w.retry_all = true;
    r.w.delay_ms = 400;
    people(&r, 0, 100);
    int64_t id = campaign_for(&r, 0, 100);
    struct runner x;
    run_start(&r, &x, id, 0);
    assert_true(wait_until(requests_at_least, &r, 5, 0, 10000));
    assert_true(count_state(&r, id, LOA_DELIVERY_IN_FLIGHT) > 0);
    assert_int_equal(loa_campaign_apply(r.st, id, LOA_CAMPAIGN_OP_CANCEL, NULL, loa_now_ms(), NULL),
                     0);
    loa_dispatch_wakeup(x.d);
    runner_join(&x); /* a campaign run ends once its campaign stopped and nothing is in flight */
    assert_true(none_open(&r, id, 0));
    assert_int_equal(count_state(&r, id, LOA_DELIVERY_SKIPPED), 100);
    prig_stop(&r);
}

/* A campaign cancelled after a crash keeps no delivery in flight: the next dispatcher, even one
 * that runs another campaign, recovers every in-flight delivery of the store. */
static void recover_cancelled(void **state)
{
    (void)state;
    struct prig r;
    prig_start(&r, "pacing-recover.db", 300, 100000);
    people(&r, 0, 20);
    int64_t a = campaign_for(&r, 0, 10), b = campaign_for(&r, 10, 20);
    struct loa_claim cl[4];
    size_t got = 0;
    assert_int_equal(
        TW(r.st, outbox_claim, r.page, LOA_SOURCE_CAMPAIGN, a, loa_now_ms(), 4, cl, &got), 0);
    assert_int_equal(got, 4);
    for (size_t i = 0; i < got; i++)
        loa_claim_release(&cl[i]);
    /* "Killed" here; then the campaign is cancelled while no dispatcher runs. */
    assert_int_equal(loa_campaign_apply(r.st, a, LOA_CAMPAIGN_OP_CANCEL, NULL, loa_now_ms(), NULL),
                     0);
    struct runner x;
    run_start(&r, &x, b, 0);
    runner_join(&x);
    assert_int_equal(count_state(&r, a, LOA_DELIVERY_IN_FLIGHT), 0);
    assert_int_equal(count_state(&r, a, LOA_DELIVERY_UNKNOWN), 4);
    assert_int_equal(count_state(&r, b, LOA_DELIVERY_SENT), 10);
    prig_stop(&r);
}

/* ---- The rules' margin -------------------------------------------------------------------- */

/* A person whose window closes 30 s from now is not sent to with the default margin (60 s):
 * the request could arrive after it closed. With no margin it goes. */
static void margin_for_time_in_flight(void **state)
{
    (void)state;
    struct prig r;
    prig_start(&r, "pacing-margin.db", 300, 100000);
    int64_t closing = loa_now_ms() - LOA_DAY_MS + 30000;
    put_sub(r.st, r.page, "q1", closing);
    put_sub(r.st, r.page, "q2", loa_now_ms() - LOA_MINUTE_MS);
    int64_t id = campaign_for(&r, 1, 3);
    struct runner x;
    run_start(&r, &x, id, 0);
    runner_join(&x);
    assert_int_equal(r.w.per[1], 0);
    assert_int_equal(r.w.per[2], 1);
    assert_int_equal(count_state(&r, id, LOA_DELIVERY_SKIPPED), 1);
    int64_t again = campaign_for(&r, 1, 2);
    run_start(&r, &x, again, -1);
    runner_join(&x);
    assert_int_equal(r.w.per[1], 1);
    prig_stop(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(throttle),
        cmocka_unit_test(rate_across_campaigns),
        cmocka_unit_test(cap_across_campaigns),
        cmocka_unit_test(restart_no_burst),
        cmocka_unit_test(rate_limited_goes_on),
        cmocka_unit_test(throttle_survives_restart),
        cmocka_unit_test(cancel_in_flight),
        cmocka_unit_test(recover_cancelled),
        cmocka_unit_test(margin_for_time_in_flight),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
