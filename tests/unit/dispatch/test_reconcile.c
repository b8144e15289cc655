/* SPDX-License-Identifier: MIT */
/*
 * Reconciliation of unknown deliveries (src/dispatch/reconcile.c) against the client's
 * in-process Graph stub: the dispatcher reads each person's conversation through the
 * Conversations API and marks the delivery sent (once: ledger and conversation) or safe to
 * resend; resend refuses deliveries nobody has checked; a campaign with unreconciled unknowns
 * is not completed; at most 2 conversation calls per second per Page.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

#define TEXT  "{\"blocks\":[{\"type\":\"text\",\"text\":\"Chào {{first_name|bạn}}!\"}]}"
#define CALLS 64

/* The Graph of these tests: conversations of p1..p4 with Page 111, or errors. */
struct graph {
    pthread_mutex_t lock;
    int64_t claimed_at; /* when the unknown deliveries were claimed */
    bool fail;          /* every Conversations API call answers 500 */
    int calls;
    int64_t call_at[CALLS]; /* when each Conversations API call arrived */
    bool bad_request;       /* a call without its token or platform */
    int sends;
};

static void graph_time(char *out, size_t size, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, size, "%Y-%m-%dT%H:%M:%S+0000", &tm);
}

static void graph_fn(void *arg, const char *method, const char *path, const char *body,
                     size_t body_len, struct stub_reply *out)
{
    (void)body;
    (void)body_len;
    struct graph *g = arg;
    static _Thread_local char reply[2048];
    pthread_mutex_lock(&g->lock);
    bool conv = strstr(path, "/conversations") || strstr(path, "/messages");
    if (strcmp(method, "POST") == 0)
        g->sends++;
    else if (conv && g->calls < CALLS)
        g->call_at[g->calls++] = loa_now_ms();
    const char *token = stub_arg("access_token");
    const char *platform = stub_arg("platform");
    if (!token || strcmp(token, "TOKEN") != 0)
        g->bad_request = true;
    if (strstr(path, "/conversations") &&
        (!platform || strcmp(platform, "messenger") != 0 || !strstr(path, "/111/")))
        g->bad_request = true;
    bool fail = g->fail;
    int64_t at = g->claimed_at;
    pthread_mutex_unlock(&g->lock);
    out->status = 200;
    if (fail) {
        out->status = 500;
        out->body = "{\"error\":{\"message\":\"temp\",\"type\":\"x\",\"code\":2}}";
        return;
    }
    char sent[40], before[40], reply_at[40];
    graph_time(sent, sizeof(sent), at + 1000);
    graph_time(before, sizeof(before), at - LOA_HOUR_MS);
    graph_time(reply_at, sizeof(reply_at), at + 3000);
    const char *user = stub_arg("user_id");
    const char *after = stub_arg("after");
    if (strstr(path, "/conversations")) {
        if (user && strcmp(user, "p4") == 0)
            snprintf(reply, sizeof(reply), "{\"data\":[]}"); /* never talked */
        else
            snprintf(reply, sizeof(reply), "{\"data\":[{\"id\":\"t_%s\"}]}", user ? user : "");
    } else if (strstr(path, "/t_p1/")) { /* the message is there */
        snprintf(reply, sizeof(reply),
                 "{\"data\":[{\"id\":\"m_found1\",\"created_time\":\"%s\",\"from\":{\"id\":"
                 "\"111\",\"name\":\"Shop\"},\"message\":\"Chào Lan!\"}]}",
                 sent);
    } else if (strstr(path, "/t_p2/") && !after) { /* a reply first; the message on page 2 */
        snprintf(reply, sizeof(reply),
                 "{\"data\":[{\"id\":\"m_reply2\",\"created_time\":\"%s\",\"from\":{\"id\":"
                 "\"p2\"},\"message\":\"ok\"}],\"paging\":{\"cursors\":{\"before\":\"x\","
                 "\"after\":\"c2\"},\"next\":\"https://graph/next\"}}",
                 reply_at);
    } else if (strstr(path, "/t_p2/")) {
        snprintf(reply, sizeof(reply),
                 "{\"data\":[{\"id\":\"m_found2\",\"created_time\":\"%s\",\"from\":{\"id\":"
                 "\"111\"},\"message\":\"Chào Lan!\"}]}",
                 strcmp(after, "c2") == 0 ? sent : before);
    } else if (strstr(path, "/t_p3/")) { /* only older Page messages and a reply */
        snprintf(reply, sizeof(reply),
                 "{\"data\":[{\"id\":\"m_reply3\",\"created_time\":\"%s\",\"from\":{\"id\":"
                 "\"p3\"},\"message\":\"hi\"},{\"id\":\"m_old3\",\"created_time\":\"%s\","
                 "\"from\":{\"id\":\"111\"},\"message\":\"Chào Lan!\"}]}",
                 reply_at, before);
    } else {
        out->status = 400;
        snprintf(reply, sizeof(reply), "{\"error\":{\"message\":\"no\",\"code\":100}}");
    }
    out->body = reply;
}

struct rig {
    struct graph g;
    struct stub *stub;
    char path[512];
    struct loa_store_opts so;
    struct loa_store *st;
    struct loa_rules *rules;
    int64_t page, campaign;
    int64_t ids[4]; /* deliveries of p1..p4 */
};

/* A running campaign to p1..p4 whose four deliveries were claimed 10 s ago and then
 * interrupted: unknown, not reconciled. */
static void rig_start(struct rig *r, const char *name)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->g.lock, NULL);
    r->stub = stub_start(graph_fn, &r->g, false);
    assert_non_null(r->stub);
    store_open(r->path, sizeof(r->path), name, &r->so, &r->st, &r->rules);
    int64_t now = loa_now_ms();
    r->page = put_page(r->st, "111", "TOKEN", 5000, 0);
    char psid[8];
    for (int i = 1; i <= 4; i++) {
        snprintf(psid, sizeof(psid), "p%d", i);
        put_sub(r->st, r->page, psid, now - i * LOA_MINUTE_MS);
    }
    r->campaign = new_campaign(r->st, r->page, TEXT);
    int64_t total = 0;
    assert_int_equal(loa_campaign_start(r->st, r->campaign, now, &total), 0);
    assert_int_equal(total, 4);
    r->g.claimed_at = now - 10000;
    struct loa_claim cl[4];
    size_t n = 0;
    assert_int_equal(TW(r->st, outbox_claim, r->page, LOA_SOURCE_CAMPAIGN, r->campaign,
                        r->g.claimed_at, 4, cl, &n),
                     0);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++) {
        r->ids[atoi(cl[i].psid + 1) - 1] = cl[i].id;
        loa_claim_release(&cl[i]);
    }
    assert_int_equal(TW(r->st, delivery_recover, 0, now, &total), 0);
    assert_int_equal(total, 4);
}

static void rig_stop(struct rig *r)
{
    store_close(r->path, r->st, r->rules);
    stub_stop(r->stub);
    pthread_mutex_destroy(&r->g.lock);
}

/* Runs the dispatcher for the rig's campaign until it ends by itself or max_ms pass. */
static void run_for(struct rig *r, int64_t max_ms)
{
    struct loa_dispatch_opts o = { .store = &r->so,
                                   .rules = r->rules,
                                   .graph_url = stub_url(r->stub),
                                   .only_campaign = r->campaign,
                                   .tick_ms = 20,
                                   .reconcile_grace_ms = 1 };
    struct runner c;
    runner_start(&c, &o);
    int64_t end = loa_mono_ms() + max_ms;
    struct loa_campaign cp;
    for (;;) {
        assert_int_equal(loa_store_campaign_get(r->st, r->campaign, &cp), 0);
        bool running = cp.status == LOA_CAMPAIGN_RUNNING;
        loa_campaign_release(&cp);
        if (!running || loa_mono_ms() >= end)
            break;
        usleep(20000);
    }
    runner_stop(&c);
}

static enum loa_campaign_status status_of(struct rig *r)
{
    struct loa_campaign c;
    assert_int_equal(loa_store_campaign_get(r->st, r->campaign, &c), 0);
    enum loa_campaign_status s = c.status;
    loa_campaign_release(&c);
    return s;
}

struct seen {
    struct loa_delivery d[4];
    char mid[4][32], reason[4][32];
};

static int keep(const struct loa_delivery *d, void *ud)
{
    struct seen *s = ud;
    int i = d->psid ? atoi(d->psid + 1) - 1 : -1;
    if (i >= 0 && i < 4) {
        s->d[i] = *d;
        snprintf(s->mid[i], sizeof(s->mid[i]), "%s", d->mid ? d->mid : "");
        snprintf(s->reason[i], sizeof(s->reason[i]), "%s", d->reason ? d->reason : "");
    }
    return 0;
}

/* The deliveries of p1..p4, by person. */
static void deliveries(struct rig *r, struct seen *s)
{
    memset(s, 0, sizeof(*s));
    assert_int_equal(loa_store_delivery_list(r->st, r->campaign, 0, -1, 10, 0, keep, s), 0);
}

static void reconciled_sent_or_safe(void **state)
{
    (void)state;
    struct rig r;
    rig_start(&r, "reconcile.db");
    /* Not reconciled: the campaign cannot complete, and a resend is refused with the ids. */
    bool done = true;
    assert_int_equal(TW(r.st, campaign_finish_if_done, r.campaign, loa_now_ms(), &done), 0);
    assert_false(done);
    assert_int_equal(status_of(&r), LOA_CAMPAIGN_RUNNING);
    int64_t bad[4] = { 0 };
    struct loa_campaign_args a = { .ids = r.ids, .nids = 4, .unreconciled = bad };
    assert_int_equal(loa_campaign_apply_with(r.st, r.campaign, LOA_CAMPAIGN_OP_RESEND_UNKNOWN, &a,
                                             loa_now_ms(), NULL),
                     LOA_EAGAIN);
    assert_int_equal(a.nunreconciled, 4);
    assert_int_equal(a.count, 0);
    char why[512];
    loa_campaign_unreconciled_text(bad, a.nunreconciled, why, sizeof(why));
    char want[64];
    snprintf(want, sizeof(want), "deliveries %lld, %lld", (long long)r.ids[0], (long long)r.ids[1]);
    assert_non_null(strstr(why, want));
    assert_non_null(strstr(why, "may have been delivered"));

    int64_t used0 = 0;
    assert_int_equal(loa_store_ledger_count(r.st, r.page, 0, &used0), 0);
    run_for(&r, 20000);
    assert_int_equal(status_of(&r), LOA_CAMPAIGN_COMPLETED);
    assert_false(r.g.bad_request);
    assert_int_equal(r.g.sends, 0); /* nothing was sent again */

    struct seen s;
    deliveries(&r, &s);
    /* p1 and p2 (on the second page of messages) were delivered: sent with the found mid. */
    assert_int_equal(s.d[0].state, LOA_DELIVERY_SENT);
    assert_string_equal(s.mid[0], "m_found1");
    assert_string_equal(s.reason[0], "reconciled");
    assert_int_equal(s.d[1].state, LOA_DELIVERY_SENT);
    assert_string_equal(s.mid[1], "m_found2");
    /* p3 (only older messages) and p4 (no conversation): safe to resend. */
    for (int i = 2; i < 4; i++) {
        assert_int_equal(s.d[i].state, LOA_DELIVERY_UNKNOWN);
        assert_string_equal(s.reason[i], "reconciled_not_sent");
        assert_true(s.d[i].reconciled_at > 0);
    }
    /* Sent once: the ledger counts two more, the conversation shows the message. */
    int64_t used = 0;
    assert_int_equal(loa_store_ledger_count(r.st, r.page, 0, &used), 0);
    assert_int_equal(used - used0, 2);
    struct loa_message m;
    assert_int_equal(loa_store_message_get(r.st, "m_found1", &m), 0);
    assert_int_equal(m.direction, LOA_DIR_OUT);
    assert_string_equal(m.text, "Chào Lan!");
    loa_message_release(&m);
    /* A second verdict changes nothing. */
    bool changed = true;
    assert_int_equal(TW(r.st, delivery_reconcile, r.ids[0], true, "m_other", NULL, loa_now_ms(),
                        loa_now_ms(), &changed),
                     0);
    assert_false(changed);
    assert_int_equal(loa_store_ledger_count(r.st, r.page, 0, &used), 0);
    assert_int_equal(used - used0, 2);

    /* At most 2 Conversations API calls in any second: 8 calls (p2 reads two pages of
     * messages, p4 has no conversation). */
    assert_int_equal(r.g.calls, 8);
    for (int i = 0; i + 2 < r.g.calls; i++)
        assert_true(r.g.call_at[i + 2] - r.g.call_at[i] >= 1000 - 50);

    /* The sent ones cannot be resent; the checked ones can, without force. */
    memset(&a, 0, sizeof(a));
    a = (struct loa_campaign_args){ .ids = r.ids, .nids = 4, .unreconciled = bad };
    assert_int_equal(loa_campaign_apply_with(r.st, r.campaign, LOA_CAMPAIGN_OP_RESEND_UNKNOWN, &a,
                                             loa_now_ms(), NULL),
                     0);
    assert_int_equal(a.count, 2);
    assert_int_equal(status_of(&r), LOA_CAMPAIGN_RUNNING); /* reopened */
    deliveries(&r, &s);
    assert_int_equal(s.d[0].state, LOA_DELIVERY_SENT);
    assert_int_equal(s.d[2].state, LOA_DELIVERY_PENDING);
    assert_int_equal(s.d[3].reconciled_at, 0);
    rig_stop(&r);
}

/* Graph cannot answer: nothing is decided, the campaign stays open, resend needs force. */
static void cannot_tell(void **state)
{
    (void)state;
    struct rig r;
    rig_start(&r, "reconcile-fail.db");
    r.g.fail = true;
    run_for(&r, 1500);
    assert_true(r.g.calls >= 1);
    assert_true(r.g.calls <= 4); /* 2/s, and each failure waits before the next try */
    assert_int_equal(status_of(&r), LOA_CAMPAIGN_RUNNING);
    struct seen s;
    deliveries(&r, &s);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(s.d[i].state, LOA_DELIVERY_UNKNOWN);
        assert_string_equal(s.reason[i], "interrupted");
        assert_int_equal(s.d[i].reconciled_at, 0);
    }
    int64_t bad[4];
    int64_t count = -1;
    size_t nbad = 0;
    assert_int_equal(TW(r.st, delivery_resend_unknown, r.campaign, r.ids, 4, false, loa_now_ms(),
                        &count, bad, &nbad),
                     LOA_EAGAIN);
    assert_int_equal(nbad, 4);
    assert_int_equal(count, 0);
    /* Forced: the operator accepts a possible second copy. */
    assert_int_equal(TW(r.st, delivery_resend_unknown, r.campaign, r.ids, 1, true, loa_now_ms(),
                        &count, bad, &nbad),
                     0);
    assert_int_equal(count, 1);
    rig_stop(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reconciled_sent_or_safe),
        cmocka_unit_test(cannot_tell),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
