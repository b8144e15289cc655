/* SPDX-License-Identifier: MIT */
/*
 * The send pipeline: pacing arithmetic, the campaign and delivery state machine in the store,
 * and the dispatcher end to end against an in-process Graph stub (tests/unit/client/stub.c).
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

#include <loa/alloc.h>
#include <loa/campaign.h>
#include <loa/clock.h>
#include <loa/diag.h>
#include <loa/dispatch.h>
#include <loa/err.h>
#include <loa/rules.h>
#include <loa/store.h>

#include "fixtures.h"
#include "runner.h"
#include "stub.h"
#include "testtxn.h"
#include "testutil.h"

#define RULES LOA_SOURCE_DIR "/rules/messaging-rules.json"
#define TEXT  "{\"blocks\":[{\"type\":\"text\",\"text\":\"Chào {{first_name|bạn}}!\"}]}"

/* ---- Pacing ------------------------------------------------------------------------------- */

static void bucket_rate(void **state)
{
    (void)state;
    struct loa_bucket b;
    loa_bucket_init(&b, 40, 40, 1000);
    assert_int_equal(loa_bucket_take(&b, 1000, 100), 40);
    assert_int_equal(loa_bucket_take(&b, 1000, 1), 0);
    assert_int_equal(loa_bucket_wait_ms(&b, 1000), 25);
    assert_int_equal(loa_bucket_take(&b, 1025, 5), 1);
    /* A long idle refills to the burst, not beyond. */
    assert_int_equal(loa_bucket_available(&b, 100000), 40);
    assert_int_equal(loa_bucket_take(&b, 100000, 30), 30);
    loa_bucket_refund(&b, 5);
    assert_int_equal(loa_bucket_available(&b, 100000), 15);
    /* Over one second at 40/s: at most 40 + 40 (the burst and one second's refill). */
    loa_bucket_init(&b, 40, 40, 0);
    int64_t n = 0;
    for (int64_t t = 0; t <= 1000; t += 5)
        n += loa_bucket_take(&b, t, 1000);
    assert_int_equal(n, 80);
    loa_bucket_set_rate(&b, 10, 10, 1000);
    assert_true(loa_bucket_available(&b, 1000) <= 10);
    /* Messages of 3 blocks: each claim takes 1 token and charges 2 as debt, so over 10 s at
     * 10 requests/s at most 10 + 100 requests start (burst + refill), whatever the blocks. */
    loa_bucket_init(&b, 10, 10, 0);
    int64_t requests = 0;
    for (int64_t t = 0; t <= 10000; t += 10) {
        while (loa_bucket_take(&b, t, 1) == 1) {
            loa_bucket_charge(&b, t, 2);
            requests += 3;
        }
    }
    assert_true(requests <= 110 + 2);
    assert_true(requests >= 100);
    /* In debt: nothing available, and the wait covers the debt. */
    loa_bucket_init(&b, 10, 10, 0);
    assert_int_equal(loa_bucket_take(&b, 0, 10), 10);
    loa_bucket_charge(&b, 0, 5);
    assert_int_equal(loa_bucket_available(&b, 0), 0);
    assert_int_equal(loa_bucket_wait_ms(&b, 0), 600);
    assert_int_equal(loa_bucket_available(&b, 600), 1);
}

static struct loa_store *open_store(char *path, size_t size)
{
    test_path(path, size, "dispatch.db");
    struct loa_store_opts o = { .path = path, .create = true };
    memset(o.key, 5, sizeof(o.key));
    struct loa_store *st = NULL;
    struct loa_diags d;
    loa_diags_init(&d, 0);
    assert_int_equal(loa_store_open(&o, &st, &d), 0);
    loa_diags_release(&d);
    return st;
}

static void rolling_cap(void **state)
{
    (void)state;
    char path[512];
    struct loa_store *st = open_store(path, sizeof(path));
    int64_t page = put_page(st, "111", NULL, 5000, 0);
    int64_t other = put_page(st, "222", NULL, 5000, 0);
    /* 2026-05-10 23:50 and 2026-05-11 00:10 in Ho Chi Minh City (16:50Z, 17:10Z): the cap
       rolls over 24 h, not calendar days, and counts every campaign of the Page. */
    int64_t t1, t2;
    assert_int_equal(loa_time_parse("2026-05-10T16:50:00Z", &t1), 0);
    assert_int_equal(loa_time_parse("2026-05-10T17:10:00Z", &t2), 0);
    assert_int_equal(TW(st, ledger_add, page, t1, 3000), 0); /* campaign A */
    assert_int_equal(TW(st, ledger_add, page, t2, 1500), 0); /* campaign B */
    assert_int_equal(TW(st, ledger_add, other, t2, 4999), 0);
    int64_t used = 0, oldest = 0;
    int64_t now = t2 + LOA_HOUR_MS; /* after midnight local time: still the same 24 h */
    assert_int_equal(loa_store_ledger_count(st, page, now - LOA_DAY_MS, &used), 0);
    assert_int_equal(used, 4500);
    assert_int_equal(loa_pacing_cap_allowance(5000, used, 20), 480);
    assert_int_equal(loa_pacing_cap_allowance(5000, used, 600), 0);
    assert_int_equal(loa_store_ledger_oldest(st, page, now - LOA_DAY_MS, &oldest), 0);
    assert_int_equal(oldest, t1);
    assert_int_equal(loa_pacing_cap_reopens(oldest), t1 + LOA_MINUTE_MS + LOA_DAY_MS);
    /* The next day, after 16:51Z, the first 3000 have left the window. */
    now = t1 + LOA_DAY_MS + LOA_MINUTE_MS;
    assert_int_equal(loa_store_ledger_count(st, page, now - LOA_DAY_MS, &used), 0);
    assert_int_equal(used, 1500);
    loa_store_close(st);
    test_remove_store(path);
}

static void send_window(void **state)
{
    (void)state;
    int64_t at;
    int off = 0;
    assert_int_equal(loa_time_parse("2026-05-10T00:30:00Z", &at), 0);
    assert_int_equal(loa_tz_offset("Asia/Ho_Chi_Minh", at, &off), 0);
    assert_int_equal(off, 420);
    assert_int_equal(loa_tz_offset("Nowhere/Atlantis", at, &off), LOA_EINVAL);
    assert_int_equal(loa_tz_offset("../etc/passwd", at, &off), LOA_EINVAL);
    int from, to;
    assert_int_equal(loa_campaign_parse_hhmm("08:00", &from), 0);
    assert_int_equal(loa_campaign_parse_hhmm("21:00", &to), 0);
    assert_int_equal(loa_campaign_parse_hhmm("8:00", &to), LOA_EINVAL);
    assert_int_equal(loa_campaign_parse_hhmm("25:00", &to), LOA_EINVAL);
    to = 21 * 60;
    int64_t next = 0, want;
    /* 07:30 local: closed, opens at 08:00 local = 01:00Z. */
    assert_false(loa_pacing_in_window(from, to, at, 420, &next));
    assert_int_equal(loa_time_parse("2026-05-10T01:00:00Z", &want), 0);
    assert_int_equal(next, want);
    /* 20:59 local open; 21:00 local closed until 08:00 the next day. */
    assert_int_equal(loa_time_parse("2026-05-10T13:59:00Z", &at), 0);
    assert_true(loa_pacing_in_window(from, to, at, 420, NULL));
    assert_int_equal(loa_time_parse("2026-05-10T14:00:00Z", &at), 0);
    assert_false(loa_pacing_in_window(from, to, at, 420, &next));
    assert_int_equal(loa_time_parse("2026-05-11T01:00:00Z", &want), 0);
    assert_int_equal(next, want);
    /* A window over midnight, 20:00-02:00 local. */
    assert_true(loa_pacing_in_window(20 * 60, 2 * 60, at, 420, NULL)); /* 21:00 */
    assert_int_equal(loa_time_parse("2026-05-10T18:30:00Z", &at), 0);  /* 01:30 */
    assert_true(loa_pacing_in_window(20 * 60, 2 * 60, at, 420, NULL));
    assert_int_equal(loa_time_parse("2026-05-10T19:00:00Z", &at), 0); /* 02:00 */
    assert_false(loa_pacing_in_window(20 * 60, 2 * 60, at, 420, &next));
    assert_int_equal(loa_time_parse("2026-05-11T13:00:00Z", &want), 0);
    assert_int_equal(next, want);
    /* No window. */
    assert_true(loa_pacing_in_window(-1, -1, at, 420, NULL));
}

/* ---- Store state machine ------------------------------------------------------------------ */

static void state_machine(void **state)
{
    (void)state;
    char path[512];
    struct loa_store *st = open_store(path, sizeof(path));
    assert_int_equal(loa_store_schema_version(st), loa_store_latest_version());
    int64_t now = loa_now_ms();
    int64_t page = put_page(st, "111", "T", 5000, 3);
    put_sub(st, page, "old", now - 5 * LOA_HOUR_MS);
    put_sub(st, page, "new", now - LOA_HOUR_MS);
    put_sub(st, page, "mid", now - 2 * LOA_HOUR_MS);
    put_sub(st, page, "over", now - 9 * LOA_HOUR_MS);
    int64_t id = new_campaign(st, page, TEXT);

    /* A draft can be edited; a running campaign cannot. */
    struct loa_campaign_input up = { .name = "Sale 2",
                                     .scheduled_at = -1,
                                     .batch_size = 2,
                                     .batch_interval_ms = -1,
                                     .rate_per_s = -1,
                                     .window_from_min = -2,
                                     .window_to_min = -2 };
    assert_int_equal(TW(st, campaign_update, id, &up, 2000), 0);
    struct loa_campaign c;
    assert_int_equal(loa_store_campaign_get(st, id, &c), 0);
    assert_string_equal(c.name, "Sale 2");
    assert_int_equal(c.batch_size, 2);
    assert_int_equal(c.status, LOA_CAMPAIGN_DRAFT);
    loa_campaign_release(&c);

    /* Snapshot: most recently active first; the plan quota (3) skips the last one. */
    int64_t total = 0;
    assert_int_equal(loa_campaign_start(st, id, now, &total), 0);
    assert_int_equal(total, 4);
    assert_int_equal(TW(st, campaign_update, id, &up, now), LOA_ESTATE);
    assert_int_equal(loa_campaign_start(st, id, now, &total), LOA_ESTATE);
    struct loa_campaign_stats s;
    assert_int_equal(loa_store_campaign_stats(st, id, &s, NULL, NULL), 0);
    assert_int_equal(s.by_state[LOA_DELIVERY_PENDING], 3);
    assert_int_equal(s.by_state[LOA_DELIVERY_SKIPPED], 1);

    /* Claim two: they come in order and are in flight. */
    struct loa_claim cl[4];
    size_t n = 0;
    assert_int_equal(TW(st, outbox_claim, page, LOA_SOURCE_CAMPAIGN, id, now, 2, cl, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(cl[0].psid, "new");
    assert_string_equal(cl[1].psid, "mid");
    assert_int_equal(cl[0].attempts, 1);
    assert_string_equal(cl[0].first_name, "Lan");

    /* Sent: the ledger counts it once, the conversation shows it. */
    struct loa_delivery_outcome o = {
        .state = LOA_DELIVERY_SENT, .mid = "m_1", .at = now, .text = "Chào Lan!"
    };
    bool changed = false;
    assert_int_equal(TW(st, delivery_settle, cl[0].id, &o, &changed), 0);
    assert_true(changed);
    assert_int_equal(TW(st, delivery_settle, cl[0].id, &o, &changed), 0);
    assert_false(changed);
    int64_t used = 0;
    assert_int_equal(loa_store_ledger_count(st, page, now - LOA_DAY_MS, &used), 0);
    assert_int_equal(used, 1);
    struct loa_message m;
    assert_int_equal(loa_store_message_get(st, "m_1", &m), 0);
    assert_int_equal(m.direction, LOA_DIR_OUT);
    loa_message_release(&m);

    /* The second is in flight when the process "dies": recovery makes it unknown, and the
       echo carrying its id settles it as sent. */
    assert_int_equal(TW(st, delivery_recover, id + 1000, now, &total), 0);
    assert_int_equal(total, 0); /* `loa campaign run` of another campaign leaves it alone */
    assert_int_equal(TW(st, delivery_recover, 0, now, &total), 0);
    assert_int_equal(total, 1);
    bool settled = false;
    assert_int_equal(TW(st, delivery_echo, cl[1].id, "m_2", now, &settled), 0);
    assert_true(settled);
    assert_int_equal(TW(st, delivery_echo, cl[1].id, "m_2", now, &settled), 0);
    assert_false(settled);
    assert_int_equal(loa_store_ledger_count(st, page, now - LOA_DAY_MS, &used), 0);
    assert_int_equal(used, 2);
    for (size_t i = 0; i < n; i++)
        loa_claim_release(&cl[i]);

    /* Paused: nothing can be claimed; resumed: the rest comes. */
    assert_int_equal(
        TW(st, campaign_set_status, id, 1u << LOA_CAMPAIGN_RUNNING, LOA_CAMPAIGN_PAUSED, NULL, now),
        0);
    assert_int_equal(TW(st, outbox_claim, page, LOA_SOURCE_CAMPAIGN, id, now, 4, cl, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(
        TW(st, campaign_set_status, id, 1u << LOA_CAMPAIGN_PAUSED, LOA_CAMPAIGN_RUNNING, NULL, now),
        0);
    assert_int_equal(TW(st, outbox_claim, page, LOA_SOURCE_CAMPAIGN, id, now, 4, cl, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(cl[0].psid, "old");

    /* A retry goes back to pending, not due before next_at. */
    o = (struct loa_delivery_outcome){
        .state = LOA_DELIVERY_PENDING, .reason = "server_error", .at = now, .next_at = now + 5000
    };
    assert_int_equal(TW(st, delivery_settle, cl[0].id, &o, NULL), 0);
    loa_claim_release(&cl[0]);
    assert_int_equal(TW(st, outbox_claim, page, LOA_SOURCE_CAMPAIGN, id, now, 4, cl, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(TW(st, outbox_claim, page, LOA_SOURCE_CAMPAIGN, id, now + 5000, 4, cl, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(cl[0].attempts, 2);
    o = (struct loa_delivery_outcome){ .state = LOA_DELIVERY_FAILED,
                                       .reason = "server_error",
                                       .at = now };
    assert_int_equal(TW(st, delivery_settle, cl[0].id, &o, NULL), 0);
    loa_claim_release(&cl[0]);
    bool done = false;
    assert_int_equal(TW(st, campaign_finish_if_done, id, now, &done), 0);
    assert_true(done);

    /* Retry failed: only the reasons asked for; it reopens the campaign. */
    const char *bad[] = { "encode" };
    assert_int_equal(TW(st, delivery_retry_failed, id, bad, 1, now, &total), 0);
    assert_int_equal(total, 0);
    const char *ok[] = { "server_error" };
    assert_int_equal(TW(st, delivery_retry_failed, id, ok, 1, now, &total), 0);
    assert_int_equal(total, 1);
    assert_int_equal(loa_store_campaign_get(st, id, &c), 0);
    assert_int_equal(c.status, LOA_CAMPAIGN_RUNNING);
    loa_campaign_release(&c);

    /* Cancel: what is pending is skipped with a reason; nothing stays open. */
    assert_int_equal(TW(st, campaign_set_status, id, 1u << LOA_CAMPAIGN_RUNNING,
                        LOA_CAMPAIGN_CANCELLED, NULL, now),
                     0);
    assert_int_equal(loa_store_campaign_stats(st, id, &s, NULL, NULL), 0);
    assert_int_equal(s.by_state[LOA_DELIVERY_PENDING], 0);
    assert_int_equal(s.by_state[LOA_DELIVERY_SKIPPED], 2);
    assert_int_equal(s.by_state[LOA_DELIVERY_SENT], 2);
    assert_int_equal(s.total, 4);
    loa_store_close(st);
    test_remove_store(path);
}

/* The webhook effects on deliveries: delivered/read from the conversation, clicked, replied. */
static void funnel(void **state)
{
    (void)state;
    char path[512];
    struct loa_store *st = open_store(path, sizeof(path));
    int64_t now = loa_now_ms();
    int64_t page = put_page(st, "111", "T", 5000, 0);
    put_sub(st, page, "a", now - LOA_HOUR_MS);
    put_sub(st, page, "b", now - 2 * LOA_HOUR_MS);
    int64_t id = new_campaign(st, page, TEXT);
    int64_t total;
    assert_int_equal(loa_campaign_start(st, id, now, &total), 0);
    struct loa_claim cl[2];
    size_t n;
    assert_int_equal(TW(st, outbox_claim, page, LOA_SOURCE_CAMPAIGN, id, now, 2, cl, &n), 0);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        struct loa_delivery_outcome o = {
            .state = LOA_DELIVERY_SENT, .mid = i ? "m_b" : "m_a", .at = now, .page_ref = page
        };
        assert_int_equal(TW(st, delivery_settle, cl[i].id, &o, NULL), 0);
        loa_claim_release(&cl[i]);
    }
    /* "a" gets a delivery and a read watermark, taps a campaign button and writes back. */
    assert_int_equal(TW(st, conversation_delivered, page, "a", now + 10, NULL, 0, loa_now_ms()), 0);
    assert_int_equal(TW(st, delivery_funnel, page, "a"), 0);
    assert_int_equal(TW(st, conversation_read, page, "a", now + 20), 0);
    assert_int_equal(TW(st, delivery_funnel, page, "a"), 0);
    assert_int_equal(TW(st, delivery_clicked, LOA_SOURCE_CAMPAIGN, id, page, "a", now + 30), 0);
    assert_int_equal(TW(st, delivery_replied, page, "a", now + 40), 0);
    /* "b" writes back more than 24 h later: not a reply to the campaign. */
    assert_int_equal(TW(st, delivery_replied, page, "b", now + LOA_DAY_MS + 1), 0);
    struct loa_campaign_stats s;
    assert_int_equal(loa_store_campaign_stats(st, id, &s, NULL, NULL), 0);
    assert_int_equal(s.by_state[LOA_DELIVERY_SENT], 2);
    assert_int_equal(s.delivered, 1);
    assert_int_equal(s.read, 1);
    assert_int_equal(s.clicked, 1);
    assert_int_equal(s.replied, 1);
    loa_store_close(st);
    test_remove_store(path);
}

static void validation(void **state)
{
    (void)state;
    struct loa_rules *r = NULL;
    struct loa_diags d;
    loa_diags_init(&d, 20);
    assert_int_equal(loa_rules_load(RULES, &r, &d), 0);
    int64_t now = loa_now_ms();
    assert_int_equal(
        loa_campaign_validate(r, "promotion", TEXT, "{}", "promotional", NULL, now, &d), 0);
    assert_int_equal(loa_campaign_validate(r, "sell", "{\"blocks\":[{\"type\":\"text\"}]}",
                                           "{\"tags\":{\"any\":[]}}", "loud", "NOT_A_TAG", now, &d),
                     LOA_EINVAL);
    bool goal = false, blocks = false, filter = false, purpose = false;
    for (size_t i = 0; i < d.count; i++) {
        const char *w = d.items[i].where ? d.items[i].where : "";
        goal |= strcmp(w, "goal") == 0;
        purpose |= strcmp(w, "purpose") == 0;
        blocks |= strncmp(w, "blocks[0]", 9) == 0;
        filter |= strncmp(w, "filter.tags", 11) == 0;
    }
    assert_true(goal && blocks && filter && purpose);
    loa_diags_release(&d);
    loa_diags_init(&d, 20);
    /* A postback payload near the limit no longer fits with the campaign prefix. */
    char big[1200];
    memset(big, 'x', 995);
    big[995] = '\0';
    char blocks_json[1500];
    snprintf(blocks_json, sizeof(blocks_json),
             "{\"blocks\":[{\"type\":\"buttons\",\"text\":\"t\",\"buttons\":[{\"type\":"
             "\"postback\",\"title\":\"Buy\",\"payload\":\"%s\"}]}]}",
             big);
    assert_int_equal(loa_campaign_validate(r, NULL, blocks_json, NULL, NULL, NULL, now, &d),
                     LOA_EINVAL);
    loa_diags_release(&d);
    loa_rules_free(r);
}

/* ---- The dispatcher against a stub -------------------------------------------------------- */

struct graph {
    pthread_mutex_t lock;
    int requests;
    int per_psid[64];    /* by psid number "pN" */
    int retry_left;      /* "p7" answers 500 this many times */
    int64_t seen_at[64]; /* when the accepted request of "pN" arrived */
    char last_body[2048];
};

static void graph_fn(void *arg, const char *method, const char *path, const char *body,
                     size_t body_len, struct stub_reply *out)
{
    (void)method;
    (void)path;
    (void)body_len;
    struct graph *g = arg;
    static __thread char reply[256];
    const char *p = strstr(body, "\"id\":\"p");
    int n = p ? atoi(p + 7) : 63;
    pthread_mutex_lock(&g->lock);
    g->requests++;
    snprintf(g->last_body, sizeof(g->last_body), "%s", body);
    bool fail = n == 7 && g->retry_left > 0;
    if (fail)
        g->retry_left--;
    else if (n < 64) {
        g->per_psid[n]++;
        g->seen_at[n] = loa_now_ms();
    }
    pthread_mutex_unlock(&g->lock);
    usleep(3000); /* the answer comes later than the platform's time (checked below) */
    if (n == 9) { /* blocked the Page */
        out->status = 400;
        out->body =
            "{\"error\":{\"message\":\"blocked\",\"type\":\"OAuthException\",\"code\":551}}";
        return;
    }
    if (fail) {
        out->status = 500;
        out->body = "{\"error\":{\"message\":\"temp\",\"type\":\"x\",\"code\":2}}";
        return;
    }
    snprintf(reply, sizeof(reply), "{\"recipient_id\":\"p%d\",\"message_id\":\"m_%d\"}", n, n);
    out->status = 200;
    out->body = reply;
}

static int check_sent_at(const struct loa_delivery *dl, void *ud)
{
    struct graph *g = ud;
    int n = atoi(dl->psid + 1);
    assert_true(dl->sent_at > 0);
    assert_true(dl->sent_at <= g->seen_at[n]);
    return 0;
}

/* What a dispatcher test needs: the Graph stub, a fresh store, the rules. */
struct rig {
    struct graph g;
    struct stub *stub;
    char path[512];
    struct loa_store_opts so;
    struct loa_store *st;
    struct loa_rules *rules;
};

static void rig_start(struct rig *r, const char *name, int retry_left)
{
    memset(r, 0, sizeof(*r));
    r->g.retry_left = retry_left;
    pthread_mutex_init(&r->g.lock, NULL);
    r->stub = stub_start(graph_fn, &r->g, false);
    assert_non_null(r->stub);
    store_open(r->path, sizeof(r->path), name, &r->so, &r->st, &r->rules);
}

static void rig_stop(struct rig *r)
{
    store_close(r->path, r->st, r->rules);
    stub_stop(r->stub);
    pthread_mutex_destroy(&r->g.lock);
}

static void dispatcher_end_to_end(void **state)
{
    (void)state;
    struct rig r;
    rig_start(&r, "dispatch-e2e.db", 2);
    struct loa_store *st = r.st;
    int64_t now = loa_now_ms();
    int64_t page = put_page(st, "111", "TOKEN", 5000, 0);
    char psid[16];
    for (int i = 1; i <= 12; i++) {
        snprintf(psid, sizeof(psid), "p%d", i);
        /* p11 and p12 last wrote 3 days ago: outside the window, skipped by the rules. */
        put_sub(st, page, psid, i >= 11 ? now - 3 * LOA_DAY_MS : now - i * LOA_MINUTE_MS);
    }
    int64_t id = new_campaign(
        st, page,
        "{\"blocks\":[{\"type\":\"text\",\"text\":\"Chào {{first_name}} \\\"VIP\\\"!\\nHẹn gặp "
        "lại\"}]}");
    struct loa_campaign_input up = { .batch_size = 5,
                                     .batch_interval_ms = 50,
                                     .scheduled_at = -1,
                                     .rate_per_s = -1,
                                     .window_from_min = -2,
                                     .window_to_min = -2 };
    assert_int_equal(TW(st, campaign_update, id, &up, now), 0);
    int64_t total;
    assert_int_equal(loa_campaign_start(st, id, now, &total), 0);
    assert_int_equal(total, 12);

    struct loa_dispatch_opts o = { .store = &r.so,
                                   .rules = r.rules,
                                   .graph_url = stub_url(r.stub),
                                   .graph_version = "v25.0",
                                   .only_campaign = id,
                                   .recover = true,
                                   .retry_base_ms = 5,
                                   .retry_cap_ms = 20,
                                   .tick_ms = 20 };
    struct loa_dispatch *d = NULL;
    assert_int_equal(loa_dispatch_new(&o, &d), 0);
    /* One dispatcher per store: a second one (another process, or here another open) waits. */
    struct loa_dispatch *other = NULL;
    assert_int_equal(loa_dispatch_new(&o, &other), LOA_EBUSY);
    assert_null(other);
    volatile sig_atomic_t stop = 0;
    assert_int_equal(loa_dispatch_run(d, &stop), 0);
    loa_dispatch_free(d);

    struct loa_campaign c;
    assert_int_equal(loa_store_campaign_get(st, id, &c), 0);
    assert_int_equal(c.status, LOA_CAMPAIGN_COMPLETED);
    loa_campaign_release(&c);
    struct loa_campaign_stats s;
    assert_int_equal(loa_store_campaign_stats(st, id, &s, NULL, NULL), 0);
    assert_int_equal(s.by_state[LOA_DELIVERY_SENT], 9);
    assert_int_equal(s.by_state[LOA_DELIVERY_SKIPPED], 3); /* p9 blocked, p11, p12 window */
    assert_int_equal(s.by_state[LOA_DELIVERY_PENDING] + s.by_state[LOA_DELIVERY_IN_FLIGHT], 0);
    /* Nobody got it twice; the retried one once; the skipped ones never. */
    for (int i = 1; i <= 10; i++)
        assert_int_equal(r.g.per_psid[i], 1);
    assert_int_equal(r.g.per_psid[11] + r.g.per_psid[12], 0);
    assert_int_equal(r.g.requests, 12); /* 10 people + 2 failed attempts for p7 */
    assert_non_null(strstr(r.g.last_body, "\"metadata\":\"loa:d:"));
    /* A sent delivery's time is no later than the platform received it, so a read watermark
     * (the platform's time) that covers the message covers the delivery too. */
    assert_int_equal(
        loa_store_delivery_list(st, id, 1u << LOA_DELIVERY_SENT, 0, 100, 0, check_sent_at, &r.g),
        0);
    /* The conversation shows what the person got, personalised and unescaped. */
    struct loa_message sent;
    assert_int_equal(loa_store_message_get(st, "m_1", &sent), 0);
    assert_string_equal(sent.text, "Chào Lan \"VIP\"!\nHẹn gặp lại");
    loa_message_release(&sent);
    struct loa_subscriber p9;
    struct loa_page pg;
    assert_int_equal(loa_store_page_get(st, "111", &pg), 0);
    assert_int_equal(loa_store_subscriber_find(st, pg.id, "p9", &p9), 0);
    assert_true(p9.unreachable);
    assert_string_equal(p9.unreachable_reason, "blocked");
    loa_subscriber_release(&p9);
    loa_page_release(&pg);
    rig_stop(&r);
}

static int graph_requests(struct graph *g)
{
    pthread_mutex_lock(&g->lock);
    int n = g->requests;
    pthread_mutex_unlock(&g->lock);
    return n;
}

/* The Page's rolling 24 h cap: the campaign stops at it, waits without skipping anyone, and
 * carries on by itself when the first sends leave the window (the clock is faked forward). */
static void cap_carries_over(void **state)
{
    (void)state;
    struct rig r;
    rig_start(&r, "dispatch-cap.db", 0);
    struct loa_store *st = r.st;
    int64_t t0 = loa_now_ms();
    loa_clock_set_fake(t0);
    int64_t page = put_page(st, "111", "TOKEN", 5, 0);
    char psid[16];
    for (int i = 1; i <= 8; i++) {
        snprintf(psid, sizeof(psid), "p%d", i);
        put_sub(st, page, psid, t0 - i * LOA_MINUTE_MS);
    }
    int64_t id = new_campaign(st, page, TEXT);
    int64_t total;
    assert_int_equal(loa_campaign_start(st, id, t0, &total), 0);
    assert_int_equal(total, 8);
    struct loa_dispatch_opts o = { .store = &r.so,
                                   .rules = r.rules,
                                   .graph_url = stub_url(r.stub),
                                   .only_campaign = id,
                                   .tick_ms = 20 };
    struct runner run;
    runner_start(&run, &o);
    /* The faked clock moves in steps of 100 ms (buckets start empty and fill with time);
     * minutes are nothing to a 24 h cap. */
    for (int i = 1; i <= 500 && graph_requests(&r.g) < 5; i++) {
        loa_clock_set_fake(t0 + i * 100);
        usleep(10000);
    }
    for (int i = 1; i <= 30; i++) { /* time to overrun the cap, if it would */
        loa_clock_set_fake(t0 + 50000 + i * 100);
        usleep(10000);
    }
    assert_int_equal(graph_requests(&r.g), 5);
    struct loa_campaign_stats s;
    assert_int_equal(loa_store_campaign_stats(st, id, &s, NULL, NULL), 0);
    assert_int_equal(s.by_state[LOA_DELIVERY_SENT], 5);
    assert_int_equal(s.by_state[LOA_DELIVERY_PENDING], 3); /* waiting, not skipped */

    /* The next day: the three who were not reached wrote again, the first sends left the
     * rolling window, and the campaign goes on by itself. */
    int64_t t1 = t0 + LOA_DAY_MS + 2 * LOA_MINUTE_MS;
    for (int i = 6; i <= 8; i++) {
        snprintf(psid, sizeof(psid), "p%d", i);
        /* The person writes again: the window opens anew. */
        int64_t sid;
        struct loa_window w;
        char *kind;
        assert_int_equal(loa_store_window_get(st, page, psid, &sid, &w, &kind), 0);
        w.last_interaction_at = t1 - LOA_MINUTE_MS;
        w.last_interaction_kind = "message";
        assert_int_equal(TW(st, window_put, page, psid, sid, &w, loa_now_ms(), NULL), 0);
        loa_free(kind);
    }
    loa_clock_set_fake(t1);
    runner_join(&run);
    loa_clock_set_fake(-1);
    assert_int_equal(loa_store_campaign_stats(st, id, &s, NULL, NULL), 0);
    assert_int_equal(s.by_state[LOA_DELIVERY_SENT], 8);
    for (int i = 1; i <= 8; i++)
        assert_int_equal(r.g.per_psid[i], 1);
    rig_stop(&r);
}

/* Runs campaign id of the rig's store to completion against its stub; returns the elapsed ms. */
static int64_t run_to_end(struct rig *r, int64_t id)
{
    struct loa_dispatch_opts o = { .store = &r->so,
                                   .rules = r->rules,
                                   .graph_url = stub_url(r->stub),
                                   .only_campaign = id,
                                   .tick_ms = 20 };
    struct loa_dispatch *d = NULL;
    assert_int_equal(loa_dispatch_new(&o, &d), 0);
    volatile sig_atomic_t stop = 0;
    int64_t t0 = loa_mono_ms();
    assert_int_equal(loa_dispatch_run(d, &stop), 0);
    int64_t ms = loa_mono_ms() - t0;
    loa_dispatch_free(d);
    return ms;
}

/* Whatever a Page asks for, the dispatcher stays within Meta's rates from the rules file:
 * 300 calls/s per Page, 10/s for a message with audio or video. Lower bounds on the time taken
 * (a bucket of one second's burst), so a slow machine cannot make it fail. */
static void rates_capped_by_rules(void **state)
{
    (void)state;
    struct rig r;
    rig_start(&r, "dispatch-rate.db", 0);
    struct loa_store *st = r.st;
    int64_t now = loa_now_ms();
    struct loa_page_input in = { .page_id = "222",
                                 .name = "Fast",
                                 .access_token = "TOKEN",
                                 .timezone = "Asia/Ho_Chi_Minh",
                                 .daily_cap = 100000,
                                 .send_rate = 1000,
                                 .activated_at = 1 };
    assert_int_equal(TW(st, page_put, &in, loa_now_ms(), NULL), 0);
    struct loa_page p;
    assert_int_equal(loa_store_page_get(st, "222", &p), 0);
    int64_t page_ref = p.id;
    loa_page_release(&p);
    char psid[16];
    for (int i = 100; i < 800; i++) {
        snprintf(psid, sizeof(psid), "p%d", i);
        put_sub(st, page_ref, psid, now - LOA_MINUTE_MS);
    }
    int64_t total;
    /* 700 texts at "1000/s": at 300/s, the first 300 at once, the rest over >= 1.33 s. */
    int64_t text = new_campaign(st, page_ref, TEXT);
    assert_int_equal(loa_campaign_start(st, text, now, &total), 0);
    assert_int_equal(total, 700);
    int64_t ms = run_to_end(&r, text);
    assert_true(ms >= 1200);
    /* 30 videos: 10 at once, the other 20 at 10/s: >= 2 s. */
    int64_t video = new_campaign(st, page_ref,
                                 "{\"blocks\":[{\"type\":\"video\",\"url\":\"https://cdn.shop.vn/"
                                 "a.mp4\"}]}");
    struct loa_campaign_input up = { .filter = "{\"tags\":{\"any\":[\"video\"]}}",
                                     .scheduled_at = -1,
                                     .batch_size = -1,
                                     .batch_interval_ms = -1,
                                     .rate_per_s = -1,
                                     .window_from_min = -2,
                                     .window_to_min = -2 };
    int64_t tag;
    assert_int_equal(TW(st, tag_ensure, page_ref, "video", &tag), 0);
    for (int i = 100; i < 130; i++) {
        snprintf(psid, sizeof(psid), "p%d", i);
        struct loa_subscriber sub;
        assert_int_equal(loa_store_subscriber_find(st, page_ref, psid, &sub), 0);
        assert_int_equal(TW(st, tag_add, sub.id, tag, NULL), 0);
        loa_subscriber_release(&sub);
    }
    assert_int_equal(TW(st, campaign_update, video, &up, now), 0);
    assert_int_equal(loa_campaign_start(st, video, loa_now_ms(), &total), 0);
    assert_int_equal(total, 30);
    ms = run_to_end(&r, video);
    assert_true(ms >= 1900);
    struct loa_campaign_stats cs;
    assert_int_equal(loa_store_campaign_stats(st, video, &cs, NULL, NULL), 0);
    assert_int_equal(cs.by_state[LOA_DELIVERY_SENT], 30);
    rig_stop(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bucket_rate),
        cmocka_unit_test(rolling_cap),
        cmocka_unit_test(send_window),
        cmocka_unit_test(state_machine),
        cmocka_unit_test(validation),
        cmocka_unit_test(funnel),
        cmocka_unit_test(dispatcher_end_to_end),
        cmocka_unit_test(cap_carries_over),
        cmocka_unit_test(rates_capped_by_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
