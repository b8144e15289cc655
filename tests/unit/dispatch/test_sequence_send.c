/* SPDX-License-Identifier: MIT */
/*
 * Sequences through the real dispatcher, against the client's in-process Graph stub
 * (tests/unit/client/stub.c): timers drained and each step sent once per person, in order,
 * with the messaging type the rules decide and never a tag; the send window held at send time
 * (a claim after it closed waits for the next opening); the rules deciding at send time
 * (skipped with the rule, then on or out as the sequence says); removal while queued; a stop
 * and a crash with sends in flight, then recovery (nobody gets a step twice); a Page's rate
 * shared by its campaign and its sequence. Time is the fake clock, moved by hand, except
 * where rates are measured (cases 5 and 6 use the real clock, then the fake one for later
 * steps).
 *
 * The outbox rows of sequences belong to no campaign, so the store's listing calls do not
 * show them: the test reads them (read-only) from the SQLite file.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include <loa/alloc.h>
#include <loa/campaign.h>
#include <loa/clock.h>
#include <loa/diag.h>
#include <loa/dispatch.h>
#include <loa/err.h>
#include <loa/rules.h>
#include <loa/sequence.h>
#include <loa/store.h>

#include "fixtures.h"
#include "runner.h"
#include "stub.h"
#include "testtxn.h"
#include "testutil.h"

#define PEOPLE 256
#define LOGMAX 4096

/* ---- A Graph stub that records every send ------------------------------------------------- */

struct rec {
    int who;          /* person "s<who>" */
    int64_t delivery; /* from the metadata "loa:d:<id>"; 0 when absent */
    char text[48];
    char mtype[24];
    bool tag;      /* the request carried a message tag */
    char page[24]; /* the Page id in the path */
    int64_t at;    /* loa_now_ms() when it arrived (the fake clock when set) */
    int64_t mono;  /* loa_mono_ms() when it arrived */
};

struct wire {
    pthread_mutex_t lock;
    int n;
    struct rec log[LOGMAX];
    int slow_from; /* people numbered >= this wait slow_ms before the answer (0 = none) */
    int slow_ms;
    int delay_ms;   /* every answer waits this long */
    bool bad_token; /* answer every send with Graph's invalid-token error (code 190) */
};

static void wire_fn(void *arg, const char *method, const char *path, const char *body,
                    size_t body_len, struct stub_reply *out)
{
    struct wire *w = arg;
    static __thread char reply[128];
    out->status = 200;
    out->body = "{}";
    if (strcmp(method, "POST") != 0 || !strstr(path, "/messages"))
        return;
    struct rec r = { .who = -1, .at = loa_now_ms(), .mono = loa_mono_ms() };
    const char *p = strchr(path + 1, '/'); /* "/v25.0/<page>/messages" */
    const char *e = p ? strchr(p + 1, '/') : NULL;
    if (e && (size_t)(e - p - 1) < sizeof(r.page))
        memcpy(r.page, p + 1, (size_t)(e - p - 1));
    json_t *j = json_loadb(body, body_len, 0, NULL);
    char psid[32] = "";
    const char *id = json_string_value(json_object_get(json_object_get(j, "recipient"), "id"));
    if (id)
        snprintf(psid, sizeof(psid), "%s", id);
    if (psid[0] == 's')
        r.who = atoi(psid + 1);
    const char *mt = json_string_value(json_object_get(j, "messaging_type"));
    snprintf(r.mtype, sizeof(r.mtype), "%s", mt ? mt : "");
    r.tag = json_object_get(j, "tag") != NULL;
    json_t *m = json_object_get(j, "message");
    const char *text = json_string_value(json_object_get(m, "text"));
    snprintf(r.text, sizeof(r.text), "%s", text ? text : "");
    const char *meta = json_string_value(json_object_get(m, "metadata"));
    if (meta && strncmp(meta, "loa:d:", 6) == 0)
        r.delivery = strtoll(meta + 6, NULL, 10);
    json_decref(j);
    pthread_mutex_lock(&w->lock);
    int k = w->n < LOGMAX ? w->n++ : -1;
    if (k >= 0)
        w->log[k] = r;
    out->delay_ms = w->delay_ms;
    if (w->slow_from > 0 && r.who >= w->slow_from)
        out->delay_ms = w->slow_ms;
    bool bad_token = w->bad_token;
    pthread_mutex_unlock(&w->lock);
    if (bad_token) {
        out->status = 400;
        out->body = "{\"error\":{\"message\":\"Invalid OAuth access token.\",\"type\":"
                    "\"OAuthException\",\"code\":190}}";
        return;
    }
    snprintf(reply, sizeof(reply), "{\"recipient_id\":\"%s\",\"message_id\":\"m_%d\"}", psid, k);
    out->body = reply;
}

/* How many sends person who got with this text (NULL: any). */
static int got(struct wire *w, int who, const char *text)
{
    pthread_mutex_lock(&w->lock);
    int n = 0;
    for (int i = 0; i < w->n; i++)
        if (w->log[i].who == who && (!text || strcmp(w->log[i].text, text) == 0))
            n++;
    pthread_mutex_unlock(&w->lock);
    return n;
}

/* How many sends carried this text (NULL: any). */
static int sends(struct wire *w, const char *text)
{
    pthread_mutex_lock(&w->lock);
    int n = 0;
    for (int i = 0; i < w->n; i++)
        if (!text || strcmp(w->log[i].text, text) == 0)
            n++;
    pthread_mutex_unlock(&w->lock);
    return n;
}

/* Where in the log person who got text first (-1: never). */
static int log_index(struct wire *w, int who, const char *text)
{
    pthread_mutex_lock(&w->lock);
    int at = -1;
    for (int i = 0; i < w->n && at < 0; i++)
        if (w->log[i].who == who && strcmp(w->log[i].text, text) == 0)
            at = i;
    pthread_mutex_unlock(&w->lock);
    return at;
}

/* ---- The rig: stub, store, rules, fake clock ---------------------------------------------- */

struct rig {
    struct wire w;
    struct stub *stub;
    char path[512];
    struct loa_store_opts so;
    struct loa_store *st;
    struct loa_rules *rules;
    struct loa_sequence_opts o;
    int64_t now; /* the fake clock (0: the real one) */
    int64_t ids[PEOPLE];
};

/* What a failed case leaves running, for the teardown. */
static struct rig *live_rig;
static struct runner *live_runner;

static int64_t t(const char *iso)
{
    int64_t ms = 0;
    assert_int_equal(loa_time_parse(iso, &ms), 0);
    return ms;
}

static void set_clock(struct rig *r, int64_t ms)
{
    r->now = ms;
    loa_clock_set_fake(ms);
}

static void rig_start(struct rig *r, const char *name, int64_t now, bool threaded)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->w.lock, NULL);
    if (now)
        set_clock(r, now);
    r->stub = stub_start(wire_fn, &r->w, threaded);
    assert_non_null(r->stub);
    store_open(r->path, sizeof(r->path), name, &r->so, &r->st, &r->rules);
    loa_sequence_opts_default(&r->o);
    r->o.rules = r->rules;
    live_rig = r;
}

static void rig_stop(struct rig *r)
{
    live_rig = NULL;
    loa_clock_set_fake(-1);
    store_close(r->path, r->st, r->rules);
    stub_stop(r->stub);
    pthread_mutex_destroy(&r->w.lock);
}

/* A Page (Asia/Ho_Chi_Minh, +07:00) sending at most rate messages a second. */
static int64_t page(struct rig *r, const char *page_id, int64_t rate)
{
    int64_t ref = put_page(r->st, page_id, "TOKEN", 100000, 0);
    struct loa_page_input in = { .page_id = page_id, .send_rate = rate };
    assert_int_equal(TW(r->st, page_put, &in, loa_now_ms(), NULL), 0);
    return ref;
}

/* People s<from>..s<to-1> of Page page_ref, who last wrote at last. */
static void people(struct rig *r, int64_t page_ref, int from, int to, int64_t last)
{
    char psid[16];
    struct loa_txn *tx;
    assert_int_equal(loa_store_begin(r->st, &tx), 0);
    for (int i = from; i < to; i++) {
        snprintf(psid, sizeof(psid), "s%d", i);
        r->ids[i] = put_sub_in(tx, page_ref, psid, last);
    }
    assert_int_equal(loa_store_commit(tx), 0);
}

/* Person s<who> writes to the Page at at (their messaging window opens anew). */
static void writes(struct rig *r, int64_t page_ref, int who, int64_t at)
{
    char psid[16];
    snprintf(psid, sizeof(psid), "s%d", who);
    int64_t sid;
    struct loa_window w;
    char *kind = NULL;
    assert_int_equal(loa_store_window_get(r->st, page_ref, psid, &sid, &w, &kind), 0);
    w.last_interaction_at = at;
    w.last_interaction_kind = "message";
    assert_int_equal(TW(r->st, window_put, page_ref, psid, sid, &w, at, NULL), 0);
    loa_free(kind);
}

static int64_t sequence(struct rig *r, int64_t page_ref, const char *json)
{
    struct loa_diags d;
    loa_diags_init(&d, 20);
    struct loa_sequence s;
    char *page_id = NULL;
    int rc = loa_sequence_parse(json, strlen(json), NULL, &s, &page_id, &d);
    if (rc != 0)
        loa_diags_print(&d, stderr, "sequence");
    assert_int_equal(rc, 0);
    loa_free(page_id);
    loa_diags_release(&d);
    s.page_ref = page_ref;
    int64_t id = 0;
    assert_int_equal(loa_sequence_create(r->st, &s, loa_now_ms(), &id), 0);
    loa_sequence_release(&s);
    return id;
}

static int64_t step_id(struct rig *r, int64_t seq, size_t i)
{
    struct loa_sequence s;
    assert_int_equal(loa_store_sequence_get(r->st, seq, &s), 0);
    assert_true(i < s.nsteps);
    int64_t id = s.steps[i].id;
    loa_sequence_release(&s);
    return id;
}

static void enter(struct rig *r, int64_t seq, int from, int to)
{
    int64_t n = 0;
    assert_int_equal(loa_sequence_enter(r->st, &r->o, seq, r->ids + from, (size_t)(to - from),
                                        "api", loa_now_ms(), &n),
                     0);
    assert_int_equal(n, to - from);
}

struct one {
    struct loa_enrolment e;
    char reason[32];
    int n;
};

static int got_enrol(const struct loa_enrolment *e, void *ud)
{
    struct one *o = ud;
    o->e = *e;
    snprintf(o->reason, sizeof(o->reason), "%s", e->end_reason ? e->end_reason : "");
    o->e.psid = o->e.end_reason = o->e.source = NULL;
    o->n++;
    return 0;
}

/* Person who's (latest) enrolment in seq; end_reason points into o. */
static struct loa_enrolment enrolment(struct rig *r, int64_t seq, int who, struct one *o)
{
    memset(o, 0, sizeof(*o));
    assert_int_equal(loa_store_enrol_list(r->st, 0, seq, r->ids[who], 0, 0, 0, 0, got_enrol, o), 0);
    assert_true(o->n > 0);
    o->e.end_reason = o->reason;
    return o->e;
}

/* How many enrolments of seq are in state, waiting for or queued at step (0 = any). */
static int64_t enrolled(struct rig *r, int64_t seq, enum loa_enrol_state state, int64_t step)
{
    struct one o = { .n = 0 };
    assert_int_equal(loa_store_enrol_list(r->st, 0, seq, 0, 1u << state, step, 0, 0, got_enrol, &o),
                     0);
    return o.n;
}

/* The latest due time of the enrolments of seq waiting for step. */
static int64_t max_due(struct rig *r, int64_t seq, int64_t step)
{
    struct one o;
    int64_t due = 0;
    for (int i = 0; i < PEOPLE; i++) {
        if (!r->ids[i])
            continue;
        memset(&o, 0, sizeof(o));
        assert_int_equal(loa_store_enrol_list(r->st, 0, seq, r->ids[i], 1u << LOA_ENROL_WAITING,
                                              step, 0, 0, got_enrol, &o),
                         0);
        if (o.n && o.e.due_at > due)
            due = o.e.due_at;
    }
    return due;
}

/* ---- Reading outbox rows (read-only, from the SQLite file) -------------------------------- */

static sqlite3 *db_open(struct rig *r)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(r->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    return db;
}

/* The first column of the first row of a query (an integer), or -1 when there is no row. */
__attribute__((format(printf, 2, 3))) static int64_t q1(struct rig *r, const char *fmt, ...)
{
    char sql[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    sqlite3 *db = db_open(r);
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
    if (rc != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    int64_t v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

/* The same for a text column ("" for NULL or no row). */
__attribute__((format(printf, 4, 5))) static void qs(struct rig *r, char *out, size_t size,
                                                     const char *fmt, ...)
{
    char sql[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    sqlite3 *db = db_open(r);
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    const char *v = sqlite3_step(s) == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 0) : NULL;
    snprintf(out, size, "%s", v ? v : "");
    sqlite3_finalize(s);
    sqlite3_close(db);
}

/* Outbox rows of step (0 = every sequence step) in state (NULL = any). */
static int64_t rows(struct rig *r, int64_t step, const char *state)
{
    char where[160];
    snprintf(where, sizeof(where), "%s%s%s", state ? " AND state = '" : "", state ? state : "",
             state ? "'" : "");
    return q1(r,
              "SELECT count(*) FROM deliveries WHERE source = 'sequence'"
              " AND (%lld = 0 OR source_id = %lld)%s",
              (long long)step, (long long)step, where);
}

/* The row of person who for step: its id (-1 when none). */
static int64_t row_of(struct rig *r, int64_t step, int who)
{
    return q1(r,
              "SELECT id FROM deliveries WHERE source = 'sequence' AND source_id = %lld"
              " AND subscriber_id = %lld ORDER BY id DESC LIMIT 1",
              (long long)step, (long long)r->ids[who]);
}

static void row_col(struct rig *r, int64_t id, const char *col, char *out, size_t size)
{
    qs(r, out, size, "SELECT %s FROM deliveries WHERE id = %lld", col, (long long)id);
}

static int64_t row_int(struct rig *r, int64_t id, const char *col)
{
    return q1(r, "SELECT %s FROM deliveries WHERE id = %lld", col, (long long)id);
}

/* ---- Running the dispatcher --------------------------------------------------------------- */

static void run(struct rig *r, struct runner *x, bool recover)
{
    struct loa_dispatch_opts o = { .store = &r->so,
                                   .rules = r->rules,
                                   .graph_url = stub_url(r->stub),
                                   .recover = recover,
                                   .retry_base_ms = 5,
                                   .retry_cap_ms = 20,
                                   .tick_ms = 20,
                                   .reconcile_grace_ms = -1 };
    runner_start(x, &o);
    live_runner = x;
}

static void stop(struct runner *x)
{
    live_runner = NULL;
    runner_stop(x);
}

/* After a case, passed or failed: stops what it left running, removes its store. */
static int teardown(void **state)
{
    (void)state;
    if (live_runner) {
        struct runner *x = live_runner;
        live_runner = NULL;
        loa_dispatch_request_stop(x->d);
        pthread_join(x->th, NULL);
        loa_dispatch_free(x->d);
    }
    if (live_rig)
        rig_stop(live_rig);
    loa_clock_set_fake(-1);
    return 0;
}

/* A condition the test waits for. */
struct cond {
    bool (*fn)(struct rig *r, const struct cond *c);
    const char *text;
    int64_t a, b, want;
};

static bool sends_reach(struct rig *r, const struct cond *c)
{
    return sends(&r->w, c->text) >= c->want;
}

static bool rows_reach(struct rig *r, const struct cond *c)
{
    return rows(r, c->a, c->text) >= c->want;
}

static bool enrolled_reach(struct rig *r, const struct cond *c)
{
    return enrolled(r, c->a, (enum loa_enrol_state)c->b, 0) >= c->want;
}

/*
 * Waits until c holds, moving the fake clock step_ms at a time (0: leaves it; with the real
 * clock, step_ms is ignored), at most iters times 5 ms of real time.
 */
static bool until(struct rig *r, const struct cond *c, int64_t step_ms, int iters)
{
    for (int i = 0; i < iters; i++) {
        if (c->fn(r, c))
            return true;
        if (r->now && step_ms)
            set_clock(r, r->now + step_ms);
        usleep(5000);
    }
    return c->fn(r, c);
}

/* Lets the dispatcher run for iters rounds of 5 ms, moving the fake clock step_ms each. */
static void idle(struct rig *r, int64_t step_ms, int iters)
{
    for (int i = 0; i < iters; i++) {
        if (r->now && step_ms)
            set_clock(r, r->now + step_ms);
        usleep(5000);
    }
}

#define BLOCK(text) "[{\"type\":\"text\",\"text\":\"" text "\"}]"

/* ---- 1. Three steps, 50 people ------------------------------------------------------------ */

static void three_steps_each_once_in_order(void **state)
{
    (void)state;
    static struct rig r; /* static: the teardown finds it after a failure */
    int64_t t0 = t("2026-12-03T09:00:00+07:00");
    rig_start(&r, "seqsend-three.db", t0, false);
    int64_t pg = page(&r, "111", 100);
    people(&r, pg, 0, 50, t0 - 10 * LOA_MINUTE_MS);
    int64_t seq = sequence(
        &r, pg,
        "{\"page_id\":\"111\",\"name\":\"Ba bước\",\"clock\":\"page\",\"window\":{\"from\":"
        "\"08:00\",\"to\":\"21:00\"},\"steps\":["
        "{\"delay\":{\"value\":0,\"unit\":\"seconds\"},\"blocks\":" BLOCK(
            "Bước 1") "},"
                      "{\"delay\":{\"value\":2,\"unit\":\"hours\"},\"blocks\":" BLOCK(
                          "Bước 2") "},"
                                    "{\"delay\":{\"value\":1,\"unit\":\"days\"},\"blocks\":" BLOCK(
                                        "Bước 3") "}]}");
    int64_t s1 = step_id(&r, seq, 0), s2 = step_id(&r, seq, 1), s3 = step_id(&r, seq, 2);
    enter(&r, seq, 0, 50);
    static struct runner x;
    run(&r, &x, true);

    /* Step 1: the dispatcher drains the timers and sends it to each, once. */
    struct cond c = { .fn = rows_reach, .a = s1, .text = "sent", .want = 50 };
    assert_true(until(&r, &c, 50, 2000));
    c = (struct cond){ .fn = enrolled_reach, .a = seq, .b = LOA_ENROL_WAITING, .want = 50 };
    assert_true(until(&r, &c, 0, 400));
    assert_int_equal(sends(&r.w, NULL), 50);
    for (int i = 0; i < 50; i++)
        assert_int_equal(got(&r.w, i, "Bước 1"), 1);
    assert_int_equal(enrolled(&r, seq, LOA_ENROL_WAITING, s2), 50);

    /* Step 2 falls due 2 h after each person's step 1 (11:00, inside the window): nothing
     * before that, then each once. */
    int64_t due2 = max_due(&r, seq, s2);
    assert_true(due2 >= t0 + 2 * LOA_HOUR_MS && due2 < t0 + 2 * LOA_HOUR_MS + LOA_MINUTE_MS);
    set_clock(&r, t0 + 2 * LOA_HOUR_MS - 10 * LOA_SECOND_MS);
    idle(&r, 50, 100); /* 5 s of the fake clock, still before the first due time */
    assert_int_equal(sends(&r.w, "Bước 2"), 0);
    set_clock(&r, due2);
    c = (struct cond){ .fn = rows_reach, .a = s2, .text = "sent", .want = 50 };
    assert_true(until(&r, &c, 50, 2000));
    c = (struct cond){ .fn = enrolled_reach, .a = seq, .b = LOA_ENROL_WAITING, .want = 50 };
    assert_true(until(&r, &c, 0, 400));
    assert_int_equal(enrolled(&r, seq, LOA_ENROL_WAITING, s3), 50);

    /* They write again in the evening (the window would close before step 3 otherwise). */
    for (int i = 0; i < 50; i++)
        writes(&r, pg, i, t0 + 11 * LOA_HOUR_MS);

    /* Step 3: a day after step 2, 11:00 the next day. */
    int64_t due3 = max_due(&r, seq, s3);
    assert_true(due3 >= t0 + 26 * LOA_HOUR_MS && due3 < t0 + 26 * LOA_HOUR_MS + LOA_MINUTE_MS);
    set_clock(&r, due3);
    c = (struct cond){ .fn = rows_reach, .a = s3, .text = "sent", .want = 50 };
    assert_true(until(&r, &c, 50, 2000));
    c = (struct cond){ .fn = enrolled_reach, .a = seq, .b = LOA_ENROL_FINISHED, .want = 50 };
    assert_true(until(&r, &c, 0, 400));
    idle(&r, 1000, 40); /* time for anything extra to go out, if it would */
    stop(&x);

    /* Each person each step once, in order; every row sent; the messaging type the rules'
     * (UPDATE: automation inside the window), never a tag; the metadata names the row. */
    assert_int_equal(sends(&r.w, NULL), 150);
    for (int i = 0; i < 50; i++) {
        assert_int_equal(got(&r.w, i, "Bước 2"), 1);
        assert_int_equal(got(&r.w, i, "Bước 3"), 1);
        assert_true(log_index(&r.w, i, "Bước 1") < log_index(&r.w, i, "Bước 2"));
        assert_true(log_index(&r.w, i, "Bước 2") < log_index(&r.w, i, "Bước 3"));
    }
    assert_int_equal(rows(&r, 0, NULL), 150);
    assert_int_equal(rows(&r, 0, "sent"), 150);
    assert_int_equal(enrolled(&r, seq, LOA_ENROL_FINISHED, 0), 50);
    int64_t steps[3] = { s1, s2, s3 };
    const char *texts[3] = { "Bước 1", "Bước 2", "Bước 3" };
    for (int i = 0; i < r.w.n; i++) {
        const struct rec *e = &r.w.log[i];
        assert_string_equal(e->mtype, "UPDATE");
        assert_false(e->tag);
        assert_string_equal(e->page, "111");
        int k = e->text[sizeof("Bước ") - 1] - '1';
        assert_true(k >= 0 && k < 3);
        assert_string_equal(e->text, texts[k]);
        assert_int_equal(e->delivery, row_of(&r, steps[k], e->who));
        assert_true(e->at >= (k == 0 ? t0 : k == 1 ? t0 + 2 * LOA_HOUR_MS : due3 - LOA_MINUTE_MS));
    }
    rig_stop(&r);
}

/* ---- 2. The send window holds at send time ------------------------------------------------ */

static void window_closed_at_claim_waits_for_opening(void **state)
{
    (void)state;
    static struct rig r; /* static: the teardown finds it after a failure */
    int64_t due = t("2026-12-03T20:59:59+07:00");
    rig_start(&r, "seqsend-window.db", due, false);
    int64_t pg = page(&r, "111", 100);
    people(&r, pg, 0, 1, t("2026-12-03T20:30:00+07:00"));
    int64_t seq = sequence(
        &r, pg,
        "{\"page_id\":\"111\",\"name\":\"Tối\",\"clock\":\"page\",\"window\":{\"from\":"
        "\"08:00\",\"to\":\"21:00\"},\"steps\":["
        "{\"delay\":{\"value\":0,\"unit\":\"seconds\"},\"blocks\":" BLOCK(
            "Muộn") "},"
                    "{\"delay\":{\"value\":1,\"unit\":\"hours\"},\"blocks\":" BLOCK("Sau") "}]}");
    int64_t s1 = step_id(&r, seq, 0), s2 = step_id(&r, seq, 1);
    enter(&r, seq, 0, 1);
    /* Queued at 20:59:59, inside the window; the dispatcher claims it at 21:00:30. */
    struct loa_sequence_drained dr;
    struct loa_txn *tx;
    assert_int_equal(loa_store_begin(r.st, &tx), 0);
    assert_int_equal(loa_sequence_drain(tx, &r.o, due, 100, &dr), 0);
    assert_int_equal(loa_store_commit(tx), 0);
    assert_int_equal(dr.handled, 1);
    int64_t row = row_of(&r, s1, 0);
    assert_int_equal(row_int(&r, row, "next_at"), due);
    set_clock(&r, t("2026-12-03T21:00:30+07:00"));
    static struct runner x;
    run(&r, &x, true);
    int64_t opens = t("2026-12-04T08:00:00+07:00");
    for (int i = 0; i < 400 && row_int(&r, row, "next_at") != opens; i++)
        idle(&r, 50, 1);
    assert_int_equal(row_int(&r, row, "next_at"), opens);
    char s[32];
    row_col(&r, row, "state", s, sizeof(s));
    assert_string_equal(s, "pending");
    assert_int_equal(row_int(&r, row, "attempts"), 0); /* the attempt does not count */
    idle(&r, 10 * LOA_MINUTE_MS, 60);                  /* through the night to 07:00 */
    assert_int_equal(sends(&r.w, NULL), 0);
    struct one o;
    assert_int_equal(enrolment(&r, seq, 0, &o).state, LOA_ENROL_QUEUED);
    /* At 08:00 it goes, and the person moves on from the time it went. */
    set_clock(&r, opens);
    struct cond c = { .fn = rows_reach, .a = s1, .text = "sent", .want = 1 };
    assert_true(until(&r, &c, 50, 400));
    stop(&x);
    assert_int_equal(got(&r.w, 0, "Muộn"), 1);
    assert_int_equal(sends(&r.w, NULL), 1);
    assert_true(r.w.log[0].at >= opens);
    struct loa_enrolment e = enrolment(&r, seq, 0, &o);
    assert_int_equal(e.state, LOA_ENROL_WAITING);
    assert_int_equal(e.step_id, s2);
    assert_true(e.base_at >= opens);
    assert_int_equal(e.due_at, e.base_at + LOA_HOUR_MS);
    rig_stop(&r);
}

/* ---- 3. The rules decide at send time ----------------------------------------------------- */

/* Three steps of 0 s, 2 h and 2 h at any time; texts <x>1, <x>2, <x>3. */
#define REFUSED_SEQ                                                               \
    "{\"page_id\":\"111\",\"name\":\"%s\",\"window\":null,\"on_refused\":\"%s\"," \
    "\"steps\":[{\"delay\":{\"value\":0,\"unit\":\"seconds\"},\"blocks\":"        \
    "[{\"type\":\"text\",\"text\":\"%s1\"}]},"                                    \
    "{\"delay\":{\"value\":2,\"unit\":\"hours\"},\"blocks\":"                     \
    "[{\"type\":\"text\",\"text\":\"%s2\"}]},"                                    \
    "{\"delay\":{\"value\":2,\"unit\":\"hours\"},\"blocks\":"                     \
    "[{\"type\":\"text\",\"text\":\"%s3\"}]}]}"

static void rules_refuse_then_on_or_out(void **state)
{
    (void)state;
    static struct rig r; /* static: the teardown finds it after a failure */
    int64_t t0 = t("2026-12-03T10:00:00+07:00");
    rig_start(&r, "seqsend-rules.db", t0, false);
    int64_t pg = page(&r, "111", 100);
    /* s0's window closes at 11:00 (wrote 23 h ago); s1 wrote 10 minutes ago. */
    people(&r, pg, 0, 1, t0 - 23 * LOA_HOUR_MS);
    people(&r, pg, 1, 2, t0 - 10 * LOA_MINUTE_MS);
    char body[1024];
    snprintf(body, sizeof(body), REFUSED_SEQ, "Tiếp", "continue", "A", "A", "A");
    int64_t a = sequence(&r, pg, body);
    snprintf(body, sizeof(body), REFUSED_SEQ, "Rời", "leave", "B", "B", "B");
    int64_t b = sequence(&r, pg, body);
    enter(&r, a, 0, 2);
    enter(&r, b, 0, 2);
    static struct runner x;
    run(&r, &x, true);
    /* Step 1 at 10:00: both windows are open. */
    struct cond c = { .fn = rows_reach, .a = 0, .text = "sent", .want = 4 };
    assert_true(until(&r, &c, 50, 2000));
    c = (struct cond){ .fn = enrolled_reach, .a = a, .b = LOA_ENROL_WAITING, .want = 2 };
    assert_true(until(&r, &c, 0, 400));
    c.a = b;
    assert_true(until(&r, &c, 0, 400));
    /* Step 2 at 12:00: s0's window closed at 11:00, so the rules refuse it at send time. */
    int64_t a2 = step_id(&r, a, 1), b2 = step_id(&r, b, 1), a3 = step_id(&r, a, 2);
    int64_t due2 = max_due(&r, a, a2);
    if (max_due(&r, b, b2) > due2)
        due2 = max_due(&r, b, b2);
    set_clock(&r, due2);
    c = (struct cond){ .fn = rows_reach, .a = a2, .want = 2 };
    assert_true(until(&r, &c, 50, 2000));
    struct cond settled_a = { .fn = rows_reach, .a = a2, .text = "sent", .want = 1 };
    assert_true(until(&r, &settled_a, 50, 400));
    struct cond settled_b = { .fn = rows_reach, .a = b2, .text = "sent", .want = 1 };
    assert_true(until(&r, &settled_b, 50, 400));
    c = (struct cond){ .fn = rows_reach, .a = 0, .text = "skipped", .want = 2 };
    assert_true(until(&r, &c, 50, 400));
    idle(&r, 50, 20);
    assert_int_equal(got(&r.w, 0, "A2") + got(&r.w, 0, "B2"), 0);
    assert_int_equal(got(&r.w, 1, "A2"), 1);
    assert_int_equal(got(&r.w, 1, "B2"), 1);
    char s[64];
    int64_t rows2[2] = { row_of(&r, a2, 0), row_of(&r, b2, 0) };
    for (int i = 0; i < 2; i++) {
        row_col(&r, rows2[i], "state", s, sizeof(s));
        assert_string_equal(s, "skipped");
        row_col(&r, rows2[i], "reason", s, sizeof(s));
        assert_string_equal(s, "window_closed");
        row_col(&r, rows2[i], "rule", s, sizeof(s));
        assert_string_equal(s, "window-24h");
    }
    /* "continue": s0 waits for step 3 of A; "leave": s0 is out of B, with why. */
    struct one o;
    struct loa_enrolment e = enrolment(&r, a, 0, &o);
    assert_int_equal(e.state, LOA_ENROL_WAITING);
    assert_int_equal(e.step_id, a3);
    e = enrolment(&r, b, 0, &o);
    assert_int_equal(e.state, LOA_ENROL_REMOVED);
    assert_string_equal(e.end_reason, "refused");
    /* s0 writes again: step 3 of A reaches them; B has nothing more for them. */
    writes(&r, pg, 0, r.now);
    int64_t due3 = max_due(&r, a, a3);
    if (max_due(&r, b, step_id(&r, b, 2)) > due3)
        due3 = max_due(&r, b, step_id(&r, b, 2));
    set_clock(&r, due3);
    c = (struct cond){ .fn = enrolled_reach, .a = a, .b = LOA_ENROL_FINISHED, .want = 2 };
    assert_true(until(&r, &c, 50, 2000));
    c = (struct cond){ .fn = enrolled_reach, .a = b, .b = LOA_ENROL_FINISHED, .want = 1 };
    assert_true(until(&r, &c, 50, 2000));
    idle(&r, 1000, 20);
    stop(&x);
    assert_int_equal(got(&r.w, 0, "A3"), 1);
    assert_int_equal(got(&r.w, 0, "B3"), 0);
    assert_int_equal(got(&r.w, 1, "A3"), 1);
    assert_int_equal(got(&r.w, 1, "B3"), 1);
    assert_int_equal(row_of(&r, step_id(&r, b, 2), 0), -1);
    for (int i = 0; i < r.w.n; i++) {
        assert_string_equal(r.w.log[i].mtype, "UPDATE");
        assert_false(r.w.log[i].tag);
    }
    rig_stop(&r);
}

/* ---- 4. Removal while queued -------------------------------------------------------------- */

static void removed_while_queued_gets_nothing(void **state)
{
    (void)state;
    static struct rig r; /* static: the teardown finds it after a failure */
    int64_t t0 = t("2026-12-03T10:00:00+07:00");
    rig_start(&r, "seqsend-removed.db", t0, false);
    int64_t pg = page(&r, "111", 100);
    people(&r, pg, 0, 2, t0 - 10 * LOA_MINUTE_MS);
    int64_t seq = sequence(
        &r, pg,
        "{\"page_id\":\"111\",\"name\":\"Hai\",\"window\":null,\"steps\":["
        "{\"delay\":{\"value\":1,\"unit\":\"hours\"},\"blocks\":" BLOCK(
            "Một") "},"
                   "{\"delay\":{\"value\":1,\"unit\":\"hours\"},\"blocks\":" BLOCK("Hai") "}]}");
    int64_t s1 = step_id(&r, seq, 0);
    enter(&r, seq, 0, 2);
    /* A second before the step is due, a drain with a look-ahead queues both sends. */
    set_clock(&r, t0 + LOA_HOUR_MS - LOA_SECOND_MS);
    struct loa_sequence_opts ahead = r.o;
    ahead.lookahead_ms = 2 * LOA_SECOND_MS;
    struct loa_sequence_drained dr;
    struct loa_txn *tx;
    assert_int_equal(loa_store_begin(r.st, &tx), 0);
    assert_int_equal(loa_sequence_drain(tx, &ahead, r.now, 100, &dr), 0);
    assert_int_equal(loa_store_commit(tx), 0);
    assert_int_equal(dr.queued, 2);
    assert_int_equal(rows(&r, s1, "pending"), 2);
    assert_int_equal(enrolled(&r, seq, LOA_ENROL_QUEUED, s1), 2);
    /* s0 is removed while their send is pending. */
    int64_t removed = 0;
    assert_int_equal(loa_sequence_leave(r.st, seq, &r.ids[0], 1, "api", r.now, &removed), 0);
    assert_int_equal(removed, 1);
    static struct runner x;
    run(&r, &x, true);
    set_clock(&r, t0 + LOA_HOUR_MS);
    struct cond c;
    c = (struct cond){ .fn = rows_reach, .a = s1, .text = "sent", .want = 1 };
    assert_true(until(&r, &c, 50, 2000));
    /* And step 2 an hour later: s1 gets it; s0 nothing. */
    set_clock(&r, max_due(&r, seq, step_id(&r, seq, 1)));
    c = (struct cond){ .fn = enrolled_reach, .a = seq, .b = LOA_ENROL_FINISHED, .want = 1 };
    assert_true(until(&r, &c, 50, 2000));
    idle(&r, 1000, 40);
    stop(&x);
    assert_int_equal(got(&r.w, 0, NULL), 0);
    assert_int_equal(got(&r.w, 1, "Một"), 1);
    assert_int_equal(got(&r.w, 1, "Hai"), 1);
    int64_t row = row_of(&r, s1, 0);
    char s[32];
    row_col(&r, row, "state", s, sizeof(s));
    assert_string_equal(s, "skipped");
    row_col(&r, row, "reason", s, sizeof(s));
    assert_string_equal(s, "removed");
    assert_int_equal(row_of(&r, step_id(&r, seq, 1), 0), -1);
    struct one o;
    struct loa_enrolment e = enrolment(&r, seq, 0, &o);
    assert_int_equal(e.state, LOA_ENROL_REMOVED);
    assert_string_equal(e.end_reason, "api");
    rig_stop(&r);
}

/* ---- A Page whose token Graph refuses ------------------------------------------------------ */

static void stopped_page_waits_for_a_new_token(void **state)
{
    (void)state;
    static struct rig r;
    int64_t t0 = t("2026-12-03T10:00:00+07:00");
    rig_start(&r, "seqsend-stopped.db", t0, false);
    int64_t pg = page(&r, "111", 20);
    people(&r, pg, 0, 3, t0 - 10 * LOA_MINUTE_MS);
    int64_t seq =
        sequence(&r, pg,
                 "{\"page_id\":\"111\",\"name\":\"Một\",\"window\":null,\"steps\":["
                 "{\"delay\":{\"value\":0,\"unit\":\"seconds\"},\"blocks\":" BLOCK("Chào") "}]}");
    int64_t s1 = step_id(&r, seq, 0);
    pthread_mutex_lock(&r.w.lock);
    r.w.bad_token = true;
    pthread_mutex_unlock(&r.w.lock);
    static struct runner x;
    run(&r, &x, true);
    enter(&r, seq, 0, 3);
    /* Graph refuses the token: the Page stops; its sends wait, they are not tried again and
     * again (a few requests at most, those already under way). */
    idle(&r, 100, 200);
    pthread_mutex_lock(&r.w.lock);
    int tried = r.w.n;
    r.w.bad_token = false;
    pthread_mutex_unlock(&r.w.lock);
    assert_true(tried >= 1);
    assert_true(tried <= 3);
    assert_int_equal(rows(&r, s1, "pending"), 3);
    struct loa_page_pacing pp;
    assert_int_equal(loa_store_page_pacing_get(r.st, pg, &pp), 0);
    assert_true(pp.stopped_at > 0);
    /* A new token lifts the stop: everyone gets the step, once. */
    struct loa_page_input in = { .page_id = "111", .access_token = "NEW-TOKEN" };
    assert_int_equal(TW(r.st, page_put, &in, r.now, NULL), 0);
    struct cond c = { .fn = rows_reach, .a = s1, .text = "sent", .want = 3 };
    assert_true(until(&r, &c, 100, 2000));
    stop(&x);
    assert_int_equal(sends(&r.w, "Chào"), tried + 3); /* the refused tries, then one each */
    assert_int_equal(loa_store_page_pacing_get(r.st, pg, &pp), 0);
    assert_int_equal(pp.stopped_at, 0);
    rig_stop(&r);
}

/* ---- 5. Restart with sends in flight ------------------------------------------------------ */

#define RESTART_PEOPLE 40

static const char *const TWO_STEPS =
    "{\"page_id\":\"111\",\"name\":\"Hai bước\",\"window\":null,\"steps\":["
    "{\"delay\":{\"value\":0,\"unit\":\"seconds\"},\"blocks\":" BLOCK(
        "Đầu") "},"
               "{\"delay\":{\"value\":1,\"unit\":\"hours\"},\"blocks\":" BLOCK("Cuối") "}]}";

/* After a restart: everyone's first step ended (never twice), then the second goes to each
 * once an hour later (the fake clock from here). */
static void restart_ends_well(struct rig *r, int64_t seq, int64_t pg)
{
    int64_t s1 = step_id(r, seq, 0), s2 = step_id(r, seq, 1);
    (void)pg;
    struct cond c = {
        .fn = enrolled_reach, .a = seq, .b = LOA_ENROL_WAITING, .want = RESTART_PEOPLE
    };
    static struct runner x;
    run(r, &x, true);
    assert_true(until(r, &c, 0, 3000));
    assert_int_equal(enrolled(r, seq, LOA_ENROL_WAITING, s2), RESTART_PEOPLE);
    assert_int_equal(rows(r, s1, "pending") + rows(r, s1, "in_flight"), 0);
    for (int i = 0; i < RESTART_PEOPLE; i++) {
        int64_t row = row_of(r, s1, i);
        char s[32];
        row_col(r, row, "state", s, sizeof(s));
        int n = got(&r->w, i, "Đầu");
        if (strcmp(s, "sent") == 0)
            assert_int_equal(n, 1);
        else
            assert_true(strcmp(s, "unknown") == 0 && n <= 1);
    }
    stop(&x);
    /* An hour later (the fake clock from here): step 2 to each, once. */
    set_clock(r, max_due(r, seq, s2));
    run(r, &x, false);
    c = (struct cond){
        .fn = enrolled_reach, .a = seq, .b = LOA_ENROL_FINISHED, .want = RESTART_PEOPLE
    };
    assert_true(until(r, &c, 50, 3000));
    idle(r, 1000, 20);
    stop(&x);
    for (int i = 0; i < RESTART_PEOPLE; i++) {
        assert_true(got(&r->w, i, "Đầu") <= 1);
        assert_int_equal(got(&r->w, i, "Cuối"), 1);
    }
    assert_int_equal(rows(r, s2, "sent"), RESTART_PEOPLE);
}

/* Stopped mid-round while answers take 300 ms: what was in flight finishes and is settled (its
 * people move on); a new dispatcher, with recovery, sends the rest, nobody twice. */
static void stop_mid_round_then_restart(void **state)
{
    (void)state;
    static struct rig r; /* static: the teardown finds it after a failure */
    rig_start(&r, "seqsend-stop.db", 0, true);
    pthread_mutex_lock(&r.w.lock); /* the stub's threads run already */
    r.w.delay_ms = 300;
    pthread_mutex_unlock(&r.w.lock);
    int64_t pg = page(&r, "111", 20);
    people(&r, pg, 0, RESTART_PEOPLE, loa_now_ms() - LOA_MINUTE_MS);
    int64_t seq = sequence(&r, pg, TWO_STEPS);
    int64_t s1 = step_id(&r, seq, 0), s2 = step_id(&r, seq, 1);
    enter(&r, seq, 0, RESTART_PEOPLE);
    static struct runner x;
    run(&r, &x, true);
    struct cond c = { .fn = sends_reach, .want = 8 };
    assert_true(until(&r, &c, 0, 2000));
    assert_true(rows(&r, s1, "in_flight") > 0);
    stop(&x);
    /* Nothing left in flight; whoever was sent to has moved on, the rest are still queued. */
    assert_int_equal(rows(&r, s1, "in_flight"), 0);
    int64_t sent = rows(&r, s1, "sent");
    assert_true(sent > 0 && sent < RESTART_PEOPLE);
    assert_int_equal(sent, sends(&r.w, NULL));
    assert_int_equal(enrolled(&r, seq, LOA_ENROL_WAITING, s2), sent);
    assert_int_equal(enrolled(&r, seq, LOA_ENROL_QUEUED, s1), RESTART_PEOPLE - sent);
    pthread_mutex_lock(&r.w.lock);
    r.w.delay_ms = 0;
    pthread_mutex_unlock(&r.w.lock);
    restart_ends_well(&r, seq, pg);
    assert_int_equal(rows(&r, s1, "sent"), RESTART_PEOPLE);
    rig_stop(&r);
}

/* Killed (SIGKILL) with sends in flight: the process runs the dispatcher in a child, answers to
 * people s10 and after take 5 s. A new dispatcher recovers them as unknown ("interrupted"),
 * their people move on (loa_sequence_resume), nothing is sent again. */
static void crash_in_flight_then_recover(void **state)
{
    (void)state;
    static struct rig r; /* static: the teardown finds it after a failure */
    rig_start(&r, "seqsend-crash.db", 0, true);
    pthread_mutex_lock(&r.w.lock); /* the stub's threads run already */
    r.w.slow_from = 10;
    r.w.slow_ms = 5000;
    pthread_mutex_unlock(&r.w.lock);
    int64_t pg = page(&r, "111", 40);
    people(&r, pg, 0, RESTART_PEOPLE, loa_now_ms() - LOA_MINUTE_MS);
    int64_t seq = sequence(&r, pg, TWO_STEPS);
    int64_t s1 = step_id(&r, seq, 0), s2 = step_id(&r, seq, 1);
    enter(&r, seq, 0, RESTART_PEOPLE);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { /* the dispatcher that dies */
        struct loa_dispatch_opts o = { .store = &r.so,
                                       .rules = r.rules,
                                       .graph_url = stub_url(r.stub),
                                       .tick_ms = 20,
                                       .reconcile_grace_ms = -1 };
        struct loa_dispatch *d = NULL;
        volatile sig_atomic_t never = 0;
        if (loa_dispatch_new(&o, &d) == 0)
            loa_dispatch_run(d, &never);
        _exit(1);
    }
    struct cond c = { .fn = rows_reach, .a = s1, .text = "sent", .want = 10 };
    bool reached = until(&r, &c, 0, 2000);
    c = (struct cond){ .fn = sends_reach, .want = 20 };
    reached = reached && until(&r, &c, 0, 2000);
    kill(pid, SIGKILL);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(reached);
    assert_true(WIFSIGNALED(status));
    /* Left behind: settled sends (their people moved on) and sends in flight. */
    int64_t sent = rows(&r, s1, "sent");
    int64_t in_flight = rows(&r, s1, "in_flight");
    assert_true(sent >= 10);
    assert_true(in_flight >= 10);
    assert_int_equal(enrolled(&r, seq, LOA_ENROL_WAITING, s2), sent);
    pthread_mutex_lock(&r.w.lock);
    r.w.slow_from = 0;
    pthread_mutex_unlock(&r.w.lock);
    restart_ends_well(&r, seq, pg);
    /* The ones in flight stay unknown, "interrupted", never re-sent. */
    assert_int_equal(rows(&r, s1, "unknown"), in_flight);
    assert_int_equal(q1(&r,
                        "SELECT count(*) FROM deliveries WHERE source_id = %lld AND state ="
                        " 'unknown' AND reason = 'interrupted'",
                        (long long)s1),
                     in_flight);
    assert_int_equal(rows(&r, s1, "sent"), RESTART_PEOPLE - in_flight);
    assert_int_equal(rows(&r, s1, NULL), RESTART_PEOPLE);
    rig_stop(&r);
}

/* ---- 6. A Page's rate across its campaign and its sequence ------------------------------- */

/* The most requests to page that arrived within any window of ms (real) milliseconds; *span
 * gets the time from the first to the last, *n how many. */
static int peak(struct wire *w, const char *page_id, int64_t ms, int64_t *span, int *n)
{
    int64_t at[LOGMAX];
    int k = 0;
    pthread_mutex_lock(&w->lock);
    for (int i = 0; i < w->n; i++)
        if (strcmp(w->log[i].page, page_id) == 0)
            at[k++] = w->log[i].mono;
    pthread_mutex_unlock(&w->lock);
    int best = 0;
    for (int i = 0, j = 0; i < k; i++) {
        while (at[i] - at[j] >= ms)
            j++;
        if (i - j + 1 > best)
            best = i - j + 1;
    }
    *span = k ? at[k - 1] - at[0] : 0;
    *n = k;
    return best;
}

static void page_rate_shared_by_campaign_and_sequence(void **state)
{
    (void)state;
    static struct rig r; /* static: the teardown finds it after a failure */
    rig_start(&r, "seqsend-rate.db", 0, false);
    int64_t p1 = page(&r, "111", 20), p2 = page(&r, "222", 20);
    int64_t now = loa_now_ms();
    people(&r, p1, 0, 40, now - LOA_MINUTE_MS);
    people(&r, p2, 100, 140, now - LOA_MINUTE_MS);
    int64_t q1s =
        sequence(&r, p1,
                 "{\"page_id\":\"111\",\"name\":\"S1\",\"window\":null,\"steps\":["
                 "{\"delay\":{\"value\":0,\"unit\":\"seconds\"},\"blocks\":" BLOCK("S1") "}]}");
    int64_t q2s =
        sequence(&r, p2,
                 "{\"page_id\":\"222\",\"name\":\"S2\",\"window\":null,\"steps\":["
                 "{\"delay\":{\"value\":0,\"unit\":\"seconds\"},\"blocks\":" BLOCK("S2") "}]}");
    /* The campaign goes to the same 40 people of Page 111. */
    int64_t camp = new_campaign(r.st, p1, "{\"blocks\":" BLOCK("C") "}");
    int64_t total = 0;
    assert_int_equal(loa_campaign_start(r.st, camp, now, &total), 0);
    assert_int_equal(total, 40);
    enter(&r, q1s, 0, 40);
    enter(&r, q2s, 100, 140);
    static struct runner x;
    run(&r, &x, true);
    struct cond c = { .fn = sends_reach, .want = 120 };
    assert_true(until(&r, &c, 0, 3000));
    c = (struct cond){ .fn = enrolled_reach, .a = q1s, .b = LOA_ENROL_FINISHED, .want = 40 };
    assert_true(until(&r, &c, 0, 400));
    c.a = q2s;
    assert_true(until(&r, &c, 0, 400));
    idle(&r, 0, 100);
    stop(&x);
    for (int i = 0; i < 40; i++) {
        assert_int_equal(got(&r.w, i, "S1"), 1);
        assert_int_equal(got(&r.w, i, "C"), 1);
        assert_int_equal(got(&r.w, 100 + i, "S2"), 1);
    }
    assert_int_equal(sends(&r.w, NULL), 120);
    /* Page 111: 80 sends at 20/s, starting from an empty bucket: at least 3.9 s from first to
     * last (each kind at the Page's full rate would take 2 s), never more than a burst and
     * the rate in a second, nor a burst and twice the rate in two. */
    int64_t span;
    int n;
    int peak1 = peak(&r.w, "111", 1000, &span, &n);
    int peak2 = peak(&r.w, "111", 2000, &span, &n);
    assert_int_equal(n, 80);
    printf("Page 111: %d sends over %lld ms, peak %d in 1 s, %d in 2 s\n", n, (long long)span,
           peak1, peak2);
    assert_true(span >= 3900 - 500); /* the first tokens may be there as it starts */
    assert_true(peak1 <= 40);
    assert_true(peak2 <= 60);
    /* Page 222 is paced on its own. */
    int peak3 = peak(&r.w, "222", 1000, &span, &n);
    assert_int_equal(n, 40);
    assert_true(peak3 <= 40);
    rig_stop(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(crash_in_flight_then_recover, teardown), /* first: it forks */
        cmocka_unit_test_teardown(three_steps_each_once_in_order, teardown),
        cmocka_unit_test_teardown(window_closed_at_claim_waits_for_opening, teardown),
        cmocka_unit_test_teardown(rules_refuse_then_on_or_out, teardown),
        cmocka_unit_test_teardown(removed_while_queued_gets_nothing, teardown),
        cmocka_unit_test_teardown(stopped_page_waits_for_a_new_token, teardown),
        cmocka_unit_test_teardown(stop_mid_round_then_restart, teardown),
        cmocka_unit_test_teardown(page_rate_shared_by_campaign_and_sequence, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
