/* SPDX-License-Identifier: MIT */
/*
 * The sequence service (include/loa/sequence.h) under a clock the test moves by hand: reading
 * a sequence with the path of every complaint; entering once per person and again after
 * removal; the first step timed into the send window; due timers drained into the outbox; the
 * next step timed from the actual send, across midnight into the next opening; catch-up
 * (stale); live edits (delay changed, step removed, sequence switched off); one sequence at a
 * time per group; triggers (welcome, m.me ref, buttons, leave on reply); removal skipping a
 * pending send; window-aware steps; a stop between a settle and the step after it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include <loa/alloc.h>
#include <loa/clock.h>
#include <loa/err.h>
#include <loa/intake.h>
#include <loa/rules.h>
#include <loa/schedule.h>
#include <loa/sequence.h>
#include <loa/store.h>

#include "fixtures.h"
#include "testtxn.h"
#include "testutil.h"

#define BLOCKS "[{\"type\":\"text\",\"text\":\"Chào {{first_name|bạn}}!\"}]"

struct fx {
    char path[512];
    struct loa_store_opts so;
    struct loa_store *st;
    struct loa_rules *rules;
    struct loa_sequence_opts o;
    int64_t page;
    struct loa_txn *tx; /* begin() .. commit() */
};

static void begin(struct fx *f)
{
    assert_int_equal(loa_store_begin(f->st, &f->tx), 0);
}

static void commit(struct fx *f)
{
    assert_int_equal(loa_store_commit(f->tx), 0);
    f->tx = NULL;
}

static int64_t t(const char *iso)
{
    int64_t ms = 0;
    assert_int_equal(loa_time_parse(iso, &ms), 0);
    return ms;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    store_open(f->path, sizeof(f->path), "sequence.db", &f->so, &f->st, &f->rules);
    f->page = put_page(f->st, "111", "TOKEN", 0, 0);
    loa_sequence_opts_default(&f->o);
    f->o.rules = f->rules;
    f->o.lookahead_ms = 0;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    store_close(f->path, f->st, f->rules);
    free(f);
    return 0;
}

/* Parses a sequence body for the fixture's Page (create) or over current (update). */
static void parse_ok(const char *json, const struct loa_sequence *current, struct loa_sequence *out)
{
    struct loa_diags d;
    loa_diags_init(&d, 20);
    struct loa_sequence_parse_opts po = { .current = current };
    char *page_id = NULL;
    int rc = loa_sequence_parse(json, strlen(json), &po, out, &page_id, &d);
    if (rc != 0)
        loa_diags_print(&d, stderr, "parse");
    assert_int_equal(rc, 0);
    loa_free(page_id);
    loa_diags_release(&d);
}

static int64_t create(struct fx *f, const char *json)
{
    struct loa_sequence s;
    parse_ok(json, NULL, &s);
    s.page_ref = f->page;
    int64_t id = 0;
    assert_int_equal(loa_sequence_create(f->st, &s, 1000, &id), 0);
    loa_sequence_release(&s);
    return id;
}

/* A two-step sequence: 10 minutes, then 1 hour, in 13:00-20:00 of the Page's zone (+07:00). */
static const char *TWO_STEPS =
    "{\"page_id\":\"111\",\"name\":\"Chăm sóc\",\"clock\":\"page\","
    "\"window\":{\"from\":\"13:00\",\"to\":\"20:00\"},"
    "\"steps\":[{\"delay\":{\"value\":10,\"unit\":\"minutes\"},\"blocks\":" BLOCKS "},"
    "{\"delay\":{\"value\":1,\"unit\":\"hours\"},\"note\":\"nhắc lại\",\"blocks\":" BLOCKS "}]}";

struct one {
    struct loa_enrolment e;
    int n;
};

static int got(const struct loa_enrolment *e, void *ud)
{
    struct one *o = ud;
    o->e = *e;
    o->e.psid = o->e.end_reason = o->e.source = NULL;
    o->n++;
    return 0;
}

/* The person's enrolment in the sequence (the latest); fails when there is none. */
static struct loa_enrolment enrolment(struct fx *f, int64_t seq, int64_t sub)
{
    struct one o = { .n = 0 };
    assert_int_equal(loa_store_enrol_list(f->st, 0, seq, sub, 0, 0, 0, 0, got, &o), 0);
    assert_true(o.n > 0);
    return o.e;
}

static int64_t step_id(struct fx *f, int64_t seq, size_t i)
{
    struct loa_sequence s;
    assert_int_equal(loa_store_sequence_get(f->st, seq, &s), 0);
    assert_true(i < s.nsteps);
    int64_t id = s.steps[i].id;
    loa_sequence_release(&s);
    return id;
}

static void enter(struct fx *f, int64_t seq, int64_t sub, int64_t now, int64_t want)
{
    int64_t n = -1;
    assert_int_equal(loa_sequence_enter(f->st, &f->o, seq, &sub, 1, "api", now, &n), 0);
    assert_int_equal(n, want);
}

/* Claims the Page's due sequence sends at now and settles each with state; returns how many. */
static size_t send_due(struct fx *f, int64_t now, enum loa_delivery_state state, int64_t *first_id)
{
    struct loa_claim c[16];
    size_t n = 0;
    assert_int_equal(TW(f->st, outbox_claim, f->page, LOA_SOURCE_SEQUENCE, 0, now, 16, c, &n), 0);
    for (size_t i = 0; i < n; i++) {
        if (i == 0 && first_id)
            *first_id = c[i].id;
        assert_int_equal(c[i].source, LOA_SOURCE_SEQUENCE);
        struct loa_delivery_outcome o = {
            .state = state, .mid = "m.1", .at = now, .page_ref = f->page, .text = "Chào Lan!"
        };
        begin(f);
        assert_int_equal(loa_store_delivery_settle(f->tx, c[i].id, &o, NULL), 0);
        assert_int_equal(loa_sequence_settled(f->tx, &f->o, c[i].id, state, now, now), 0);
        commit(f);
        loa_claim_release(&c[i]);
    }
    return n;
}

static int64_t drain(struct fx *f, int64_t now)
{
    struct loa_sequence_drained r;
    begin(f);
    assert_int_equal(loa_sequence_drain(f->tx, &f->o, now, 100, &r), 0);
    commit(f);
    return r.handled;
}

/* ---- Reading a sequence --------------------------------------------------------------------- */

static void parse_complaints_with_paths(void **state)
{
    (void)state;
    const char *bad =
        "{\"page_id\":\"111\",\"name\":\"\",\"colour\":1,\"clock\":\"mine\","
        "\"window\":{\"from\":\"25:00\",\"to\":\"20:00\",\"days\":\"mon,xyz\"},"
        "\"on_refused\":\"stop\",\"triggers\":{\"ref\":\"có dấu\",\"tags\":[\"\"]},"
        "\"steps\":[{\"delay\":{\"value\":2,\"unit\":\"weeks\"},\"blocks\":" BLOCKS "},"
        "{\"delay\":{\"value\":-1,\"unit\":\"days\"},\"blocks\":[{\"type\":\"text\"}]},"
        "{\"id\":5,\"blocks\":" BLOCKS ",\"purpose\":\"sale\"}]}";
    struct loa_diags d;
    loa_diags_init(&d, 50);
    struct loa_sequence s;
    char *page_id = NULL;
    assert_int_equal(loa_sequence_parse(bad, strlen(bad), NULL, &s, &page_id, &d), LOA_EINVAL);
    assert_null(page_id);
    const char *want[] = { "name",
                           "colour",
                           "clock",
                           "window.from",
                           "window.days",
                           "on_refused",
                           "triggers.ref",
                           "triggers.tags[0]",
                           "steps[0].delay.unit",
                           "steps[1].delay.value",
                           "steps[1].blocks[0]",
                           "steps[2].id",
                           "steps[2].delay",
                           "steps[2].purpose" };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        bool found = false;
        for (size_t k = 0; k < d.count; k++)
            found |= strncmp(d.items[k].where, want[i], strlen(want[i])) == 0;
        if (!found) {
            loa_diags_print(&d, stderr, "complaints");
            fail_msg("no complaint at %s", want[i]);
        }
    }
    loa_diags_release(&d);
}

static void parse_and_print_round_trip(void **state)
{
    (void)state;
    const char *in =
        "{\"page_id\":\"111\",\"name\":\"Chào mừng\",\"window\":{\"from\":\"22:00\",\"to\":"
        "\"06:00\",\"days\":[\"t2\",\"cn\"]},\"leave_on_reply\":true,\"on_refused\":\"leave\","
        "\"triggers\":{\"welcome\":true,\"ref\":\"chao-mung\",\"tags\":[\"VIP\"]},"
        "\"steps\":[{\"delay\":{\"value\":0,\"unit\":\"seconds\"},\"inside_window\":true,"
        "\"purpose\":\"non_promotional\",\"blocks\":" BLOCKS "}]}";
    struct loa_sequence s;
    parse_ok(in, NULL, &s);
    assert_true(s.person_clock);
    assert_true(s.leave_on_reply);
    assert_true(s.leave_on_refused);
    assert_true(s.welcome);
    assert_string_equal(s.ref, "chao-mung");
    assert_int_equal(s.window_from_min, 22 * 60);
    assert_int_equal(s.window_to_min, 6 * 60);
    assert_int_equal(s.weekdays, LOA_MONDAY | LOA_SUNDAY);
    assert_int_equal(s.nsteps, 1);
    assert_true(s.steps[0].inside_window);
    char *json = loa_sequence_json(&s, "111");
    json_t *j = json_loads(json, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "window"), "from")),
                        "22:00");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "window"), "days")),
                        "mon,sun");
    assert_string_equal(json_string_value(json_object_get(j, "on_refused")), "leave");
    json_t *step = json_array_get(json_object_get(j, "steps"), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(step, "delay"), "unit")),
                        "seconds");
    assert_true(json_is_array(json_object_get(step, "blocks")));
    json_decref(j);
    loa_free(json);
    loa_sequence_release(&s);
}

/* ---- People and timers -------------------------------------------------------------------- */

static void enter_once_and_again_after_removal(void **state)
{
    struct fx *f = *state;
    int64_t seq = create(f, TWO_STEPS);
    int64_t sub = put_sub(f->st, f->page, "p1", 0);
    int64_t now = t("2026-12-03T14:00:00+07:00"); /* inside 13:00-20:00 */
    enter(f, seq, sub, now, 1);
    struct loa_enrolment e = enrolment(f, seq, sub);
    assert_int_equal(e.state, LOA_ENROL_WAITING);
    assert_int_equal(e.step_id, step_id(f, seq, 0));
    assert_int_equal(e.due_at, now + 10 * LOA_MINUTE_MS);
    enter(f, seq, sub, now + 1000, 0); /* already in: nothing changes */
    assert_int_equal(enrolment(f, seq, sub).due_at, now + 10 * LOA_MINUTE_MS);
    int64_t removed = 0;
    assert_int_equal(loa_sequence_leave(f->st, seq, &sub, 1, "api", now + 2000, &removed), 0);
    assert_int_equal(removed, 1);
    assert_int_equal(enrolment(f, seq, sub).state, LOA_ENROL_REMOVED);
    enter(f, seq, sub, now + 3000, 1); /* from step 1 again */
    e = enrolment(f, seq, sub);
    assert_int_equal(e.state, LOA_ENROL_WAITING);
    assert_int_equal(e.step_id, step_id(f, seq, 0));
    /* A person of another Page is refused and nothing is entered. */
    int64_t other_page = put_page(f->st, "222", "T2", 0, 0);
    int64_t stranger = put_sub(f->st, other_page, "x", 0);
    int64_t ids[2] = { put_sub(f->st, f->page, "p2", 0), stranger };
    assert_int_equal(loa_sequence_enter(f->st, &f->o, seq, ids, 2, "api", now, NULL), LOA_EINVAL);
    struct one o = { .n = 0 };
    assert_int_equal(loa_store_enrol_list(f->st, 0, seq, ids[0], 0, 0, 0, 0, got, &o), 0);
    assert_int_equal(o.n, 0);
}

static void steps_follow_the_actual_send_and_the_window(void **state)
{
    struct fx *f = *state;
    int64_t seq = create(f, TWO_STEPS);
    int64_t sub = put_sub(f->st, f->page, "p1", t("2026-12-03T19:00:00+07:00"));
    /* Entered at 12:00: 10 minutes later is 12:10, before the window opens at 13:00. */
    int64_t now = t("2026-12-03T12:00:00+07:00");
    enter(f, seq, sub, now, 1);
    assert_int_equal(enrolment(f, seq, sub).due_at, t("2026-12-03T13:00:00+07:00"));
    assert_int_equal(drain(f, t("2026-12-03T12:59:00+07:00")), 0);
    assert_int_equal(drain(f, t("2026-12-03T13:00:00+07:00")), 1);
    struct loa_enrolment e = enrolment(f, seq, sub);
    assert_int_equal(e.state, LOA_ENROL_QUEUED);
    assert_true(e.delivery_id > 0);
    /* The send goes late, at 19:30 (a busy Page): step 2 is due 1 h after it, 20:30, outside
     * the window: it waits for 13:00 the next day. */
    int64_t sent_at = t("2026-12-03T19:30:00+07:00");
    assert_int_equal(send_due(f, sent_at, LOA_DELIVERY_SENT, NULL), 1);
    e = enrolment(f, seq, sub);
    assert_int_equal(e.state, LOA_ENROL_WAITING);
    assert_int_equal(e.step_id, step_id(f, seq, 1));
    assert_int_equal(e.base_at, sent_at);
    assert_int_equal(e.due_at, t("2026-12-04T13:00:00+07:00"));
    assert_int_equal(drain(f, e.due_at), 1);
    assert_int_equal(send_due(f, e.due_at + 500, LOA_DELIVERY_SENT, NULL), 1);
    e = enrolment(f, seq, sub);
    assert_int_equal(e.state, LOA_ENROL_FINISHED);
    /* Finished: entering again is possible (they were not in it any more). */
    enter(f, seq, sub, e.due_at + LOA_DAY_MS, 1);
    /* Progress: two sends, both sent, one person finished and one in again. */
    char *json = NULL;
    assert_int_equal(loa_sequence_describe(f->st, seq, &json), 0);
    json_t *j = json_loads(json, 0, NULL);
    json_t *stats = json_object_get(j, "stats");
    assert_int_equal(json_integer_value(json_object_get(stats, "entered")), 2);
    assert_int_equal(json_integer_value(json_object_get(stats, "finished")), 1);
    assert_int_equal(json_integer_value(json_object_get(stats, "waiting")), 1);
    json_t *s0 = json_object_get(json_array_get(json_object_get(j, "steps"), 0), "stats");
    assert_int_equal(json_integer_value(json_object_get(s0, "sent")), 1);
    assert_int_equal(json_integer_value(json_object_get(s0, "waiting")), 1);
    json_decref(j);
    loa_free(json);
}

static void stale_steps_are_skipped_after_downtime(void **state)
{
    struct fx *f = *state;
    int64_t seq = create(f, TWO_STEPS);
    int64_t sub = put_sub(f->st, f->page, "p1", 0);
    int64_t now = t("2026-12-03T14:00:00+07:00");
    enter(f, seq, sub, now, 1);
    /* Down for 4 days (catch-up limit 3): step 1 is skipped "stale", step 2 timed from now. */
    int64_t back = now + 4 * LOA_DAY_MS;
    assert_int_equal(drain(f, back), 1);
    struct loa_enrolment e = enrolment(f, seq, sub);
    assert_int_equal(e.state, LOA_ENROL_WAITING);
    assert_int_equal(e.step_id, step_id(f, seq, 1));
    assert_int_equal(e.due_at, back + LOA_HOUR_MS);
    char *json = NULL;
    assert_int_equal(loa_sequence_describe(f->st, seq, &json), 0);
    assert_non_null(strstr(json, "\"reason\":\"stale\""));
    loa_free(json);
    /* Down for 2 days only: the step is still sent. */
    int64_t sub2 = put_sub(f->st, f->page, "p2", 0);
    enter(f, seq, sub2, back, 1);
    assert_int_equal(drain(f, back + 2 * LOA_DAY_MS), 2); /* and the first one's step 2 */
    assert_int_equal(enrolment(f, seq, sub2).state, LOA_ENROL_QUEUED);
    assert_int_equal(enrolment(f, seq, sub).state, LOA_ENROL_QUEUED);
}

static void live_edits_retime_pass_over_and_hold(void **state)
{
    struct fx *f = *state;
    int64_t seq = create(f, TWO_STEPS);
    int64_t a = put_sub(f->st, f->page, "a", 0), b = put_sub(f->st, f->page, "b", 0);
    int64_t now = t("2026-12-03T14:00:00+07:00");
    enter(f, seq, a, now, 1);
    enter(f, seq, b, now + LOA_MINUTE_MS, 1);
    assert_int_equal(drain(f, now + 10 * LOA_MINUTE_MS), 1); /* a is queued, b waits */
    int64_t s0 = step_id(f, seq, 0), s1 = step_id(f, seq, 1);
    /* Step 1's delay becomes 30 minutes: b is re-timed; a's pending send goes back to waiting. */
    struct loa_sequence cur;
    assert_int_equal(loa_store_sequence_get(f->st, seq, &cur), 0);
    char body[1024];
    snprintf(body, sizeof(body),
             "{\"steps\":[{\"id\":%lld,\"delay\":{\"value\":30,\"unit\":\"minutes\"},"
             "\"blocks\":" BLOCKS "},{\"id\":%lld,\"delay\":{\"value\":1,\"unit\":\"hours\"},"
             "\"blocks\":" BLOCKS "}]}",
             (long long)s0, (long long)s1);
    struct loa_sequence upd;
    parse_ok(body, &cur, &upd);
    assert_int_equal(loa_sequence_update(f->st, &f->o, &upd, now + 11 * LOA_MINUTE_MS), 0);
    loa_sequence_release(&upd);
    loa_sequence_release(&cur);
    struct loa_enrolment ea = enrolment(f, seq, a), eb = enrolment(f, seq, b);
    assert_int_equal(ea.state, LOA_ENROL_WAITING);
    assert_int_equal(ea.due_at, now + 30 * LOA_MINUTE_MS);
    assert_int_equal(eb.due_at, now + 31 * LOA_MINUTE_MS);
    struct loa_claim c[4];
    size_t n = 9;
    assert_int_equal(
        TW(f->st, outbox_claim, f->page, LOA_SOURCE_SEQUENCE, 0, now + LOA_DAY_MS, 4, c, &n), 0);
    assert_int_equal(n, 0); /* nothing left in the outbox */
    /* Step 1 removed: both now wait for step 2, timed from their entry. */
    assert_int_equal(loa_store_sequence_get(f->st, seq, &cur), 0);
    snprintf(body, sizeof(body),
             "{\"steps\":[{\"id\":%lld,\"delay\":{\"value\":1,\"unit\":\"hours\"},"
             "\"blocks\":" BLOCKS "}]}",
             (long long)s1);
    parse_ok(body, &cur, &upd);
    assert_int_equal(loa_sequence_update(f->st, &f->o, &upd, now + 12 * LOA_MINUTE_MS), 0);
    loa_sequence_release(&upd);
    loa_sequence_release(&cur);
    ea = enrolment(f, seq, a);
    assert_int_equal(ea.step_id, s1);
    assert_int_equal(ea.due_at, now + LOA_HOUR_MS);
    /* Switched off: people are held; nothing drains; switched on, they go on. */
    assert_int_equal(loa_store_sequence_get(f->st, seq, &cur), 0);
    parse_ok("{\"active\":false}", &cur, &upd);
    assert_int_equal(loa_sequence_update(f->st, &f->o, &upd, now + 13 * LOA_MINUTE_MS), 0);
    loa_sequence_release(&upd);
    loa_sequence_release(&cur);
    assert_int_equal(drain(f, now + 2 * LOA_HOUR_MS), 0);
    int64_t x = a;
    assert_int_equal(loa_sequence_enter(f->st, &f->o, seq, &x, 1, "api", now, NULL), LOA_ESTATE);
    assert_int_equal(loa_store_sequence_get(f->st, seq, &cur), 0);
    parse_ok("{\"active\":true}", &cur, &upd);
    assert_int_equal(loa_sequence_update(f->st, &f->o, &upd, now + 2 * LOA_HOUR_MS), 0);
    loa_sequence_release(&upd);
    loa_sequence_release(&cur);
    assert_int_equal(drain(f, now + 2 * LOA_HOUR_MS), 2);
}

static void one_sequence_at_a_time_per_group(void **state)
{
    struct fx *f = *state;
    int64_t g = 0;
    assert_int_equal(loa_sequence_group_create(f->st, f->page, "Khách mới", true, 1000, &g), 0);
    char body[1024];
    snprintf(body, sizeof(body),
             "{\"page_id\":\"111\",\"name\":\"A\",\"group_id\":%lld,\"triggers\":{\"tags\":"
             "[\"VIP\"]},\"steps\":[{\"delay\":{\"value\":1,\"unit\":\"hours\"},\"blocks\":" BLOCKS
             "}]}",
             (long long)g);
    int64_t a = create(f, body);
    snprintf(body, sizeof(body),
             "{\"page_id\":\"111\",\"name\":\"B\",\"group_id\":%lld,\"triggers\":{\"tags\":"
             "[\"VIP\"]},\"steps\":[{\"delay\":{\"value\":1,\"unit\":\"hours\"},\"blocks\":" BLOCKS
             "}]}",
             (long long)g);
    int64_t b = create(f, body);
    int64_t sub = put_sub(f->st, f->page, "p1", 0);
    int64_t now = t("2026-12-03T14:00:00+07:00");
    /* A tag that triggers both: a tie, the earlier-created (A) wins. */
    begin(f);
    assert_int_equal(
        loa_sequence_on_event(f->tx, &f->o, f->page, sub, LOA_SEQ_EVENT_TAG, "VIP", now), 0);
    commit(f);
    assert_int_equal(enrolment(f, a, sub).state, LOA_ENROL_WAITING);
    struct one o = { .n = 0 };
    assert_int_equal(loa_store_enrol_list(f->st, 0, b, sub, 0, 0, 0, 0, got, &o), 0);
    assert_int_equal(o.n, 0);
    /* Joining B removes them from A. */
    enter(f, b, sub, now + 1000, 1);
    struct loa_enrolment e = enrolment(f, a, sub);
    assert_int_equal(e.state, LOA_ENROL_REMOVED);
    assert_int_equal(enrolment(f, b, sub).state, LOA_ENROL_WAITING);
}

static void triggers_welcome_ref_buttons_and_reply(void **state)
{
    struct fx *f = *state;
    int64_t welcome =
        create(f, "{\"page_id\":\"111\",\"name\":\"W\",\"leave_on_reply\":true,\"triggers\":{"
                  "\"welcome\":true},\"steps\":[{\"delay\":{\"value\":0,\"unit\":\"seconds\"},"
                  "\"blocks\":" BLOCKS
                  "},{\"delay\":{\"value\":1,\"unit\":\"days\"},\"blocks\":" BLOCKS "}]}");
    int64_t byref = create(f, "{\"page_id\":\"111\",\"name\":\"R\",\"triggers\":{\"ref\":"
                              "\"sale-12\"},\"steps\":[{\"delay\":{\"value\":5,\"unit\":"
                              "\"minutes\"},\"blocks\":" BLOCKS "}]}");
    int64_t sub = put_sub(f->st, f->page, "p1", 0);
    int64_t now = t("2026-12-03T14:00:00+07:00");
    begin(f);
    assert_int_equal(
        loa_sequence_on_event(f->tx, &f->o, f->page, sub, LOA_SEQ_EVENT_FIRST_MESSAGE, NULL, now),
        0);
    assert_int_equal(
        loa_sequence_on_event(f->tx, &f->o, f->page, sub, LOA_SEQ_EVENT_REF, "sale-12", now), 0);
    assert_int_equal(
        loa_sequence_on_event(f->tx, &f->o, f->page, sub, LOA_SEQ_EVENT_REF, "other", now), 0);
    commit(f);
    struct loa_enrolment e = enrolment(f, welcome, sub);
    assert_int_equal(e.state, LOA_ENROL_WAITING);
    assert_int_equal(e.due_at, now); /* step 1 at once */
    assert_int_equal(enrolment(f, byref, sub).due_at, now + 5 * LOA_MINUTE_MS);
    /* Step 1 of the welcome goes; the person replies: they leave it (leave on reply), not the
     * other sequence. */
    assert_int_equal(drain(f, now), 1);
    assert_int_equal(send_due(f, now + 100, LOA_DELIVERY_SENT, NULL), 1);
    begin(f);
    assert_int_equal(loa_sequence_on_event(f->tx, &f->o, f->page, sub, LOA_SEQ_EVENT_MESSAGE, NULL,
                                           now + LOA_MINUTE_MS),
                     0);
    commit(f);
    assert_int_equal(enrolment(f, welcome, sub).state, LOA_ENROL_REMOVED);
    assert_int_equal(enrolment(f, byref, sub).state, LOA_ENROL_WAITING);
    /* Buttons: leave the ref sequence, join the welcome one again. */
    char num[24];
    snprintf(num, sizeof(num), "%lld", (long long)byref);
    begin(f);
    assert_int_equal(loa_sequence_on_event(f->tx, &f->o, f->page, sub, LOA_SEQ_EVENT_LEAVE, num,
                                           now + 2 * LOA_MINUTE_MS),
                     0);
    snprintf(num, sizeof(num), "%lld", (long long)welcome);
    assert_int_equal(loa_sequence_on_event(f->tx, &f->o, f->page, sub, LOA_SEQ_EVENT_JOIN, num,
                                           now + 2 * LOA_MINUTE_MS),
                     0);
    assert_int_equal(
        loa_sequence_on_event(f->tx, &f->o, f->page, sub, LOA_SEQ_EVENT_JOIN, "99999", now),
        0); /* no such sequence: ignored */
    commit(f);
    assert_int_equal(enrolment(f, byref, sub).state, LOA_ENROL_REMOVED);
    assert_int_equal(enrolment(f, welcome, sub).state, LOA_ENROL_WAITING);
}

static void removal_never_sends(void **state)
{
    struct fx *f = *state;
    int64_t seq = create(f, TWO_STEPS);
    int64_t sub = put_sub(f->st, f->page, "p1", 0);
    int64_t now = t("2026-12-03T14:00:00+07:00");
    enter(f, seq, sub, now, 1);
    assert_int_equal(drain(f, now + 10 * LOA_MINUTE_MS), 1);
    assert_int_equal(loa_sequence_leave(f->st, seq, &sub, 1, "api", now + 11 * LOA_MINUTE_MS, NULL),
                     0);
    assert_int_equal(send_due(f, now + LOA_DAY_MS, LOA_DELIVERY_SENT, NULL), 0);
    char *json = NULL;
    assert_int_equal(loa_sequence_describe(f->st, seq, &json), 0);
    assert_non_null(strstr(json, "\"reason\":\"removed\""));
    loa_free(json);
    /* Deleting the sequence removes everyone and nothing is left to send. */
    int64_t sub2 = put_sub(f->st, f->page, "p2", 0);
    enter(f, seq, sub2, now, 1);
    assert_int_equal(drain(f, now + 10 * LOA_MINUTE_MS), 1);
    assert_int_equal(loa_sequence_delete(f->st, seq, now + 11 * LOA_MINUTE_MS), 0);
    assert_int_equal(send_due(f, now + LOA_DAY_MS, LOA_DELIVERY_SENT, NULL), 0);
    struct loa_sequence s;
    assert_int_equal(loa_store_sequence_get(f->st, seq, &s), LOA_ENOENT);
}

static void refused_steps_move_on_or_leave(void **state)
{
    struct fx *f = *state;
    int64_t seq = create(f, TWO_STEPS);
    int64_t sub = put_sub(f->st, f->page, "p1", 0);
    int64_t now = t("2026-12-03T14:00:00+07:00");
    enter(f, seq, sub, now, 1);
    assert_int_equal(drain(f, now + 10 * LOA_MINUTE_MS), 1);
    assert_int_equal(send_due(f, now + 10 * LOA_MINUTE_MS, LOA_DELIVERY_SKIPPED, NULL), 1);
    struct loa_enrolment e = enrolment(f, seq, sub);
    assert_int_equal(e.state, LOA_ENROL_WAITING);
    assert_int_equal(e.step_id, step_id(f, seq, 1));
    /* With on_refused "leave", a refused step removes them. */
    struct loa_sequence cur, upd;
    assert_int_equal(loa_store_sequence_get(f->st, seq, &cur), 0);
    parse_ok("{\"on_refused\":\"leave\"}", &cur, &upd);
    assert_int_equal(loa_sequence_update(f->st, &f->o, &upd, now + 11 * LOA_MINUTE_MS), 0);
    loa_sequence_release(&upd);
    loa_sequence_release(&cur);
    assert_int_equal(drain(f, now + 2 * LOA_HOUR_MS), 1);
    assert_int_equal(send_due(f, now + 2 * LOA_HOUR_MS, LOA_DELIVERY_SKIPPED, NULL), 1);
    e = enrolment(f, seq, sub);
    assert_int_equal(e.state, LOA_ENROL_REMOVED);
}

static void window_aware_step_goes_before_the_window_closes(void **state)
{
    struct fx *f = *state;
    /* Step 2 waits 30 hours but must go inside the messaging window; window 08:00-21:00. */
    int64_t seq = create(
        f, "{\"page_id\":\"111\",\"name\":\"W\",\"clock\":\"page\",\"window\":{\"from\":"
           "\"08:00\",\"to\":\"21:00\"},\"steps\":[{\"delay\":{\"value\":0,\"unit\":"
           "\"seconds\"},\"blocks\":" BLOCKS "},{\"delay\":{\"value\":30,\"unit\":\"hours\"},"
           "\"inside_window\":true,\"blocks\":" BLOCKS "}]}");
    int64_t wrote = t("2026-12-03T10:00:00+07:00");
    int64_t sub = put_sub(f->st, f->page, "p1", wrote);
    enter(f, seq, sub, wrote, 1);
    assert_int_equal(drain(f, wrote), 1);
    assert_int_equal(send_due(f, wrote + 1000, LOA_DELIVERY_SENT, NULL), 1);
    /* The window closes at 10:00 the next day; 1 h margin: 09:00, inside 08:00-21:00. */
    struct loa_enrolment e = enrolment(f, seq, sub);
    assert_int_equal(e.due_at, t("2026-12-04T09:00:00+07:00"));
    assert_int_equal(drain(f, e.due_at), 1);
    assert_int_equal(enrolment(f, seq, sub).state, LOA_ENROL_QUEUED);
    /* Someone who wrote at 22:30: their window closes at 22:30 next day, margin 21:30, after
     * the send window (21:00): the step goes at 20:59:59.999. */
    int64_t late = t("2026-12-03T22:30:00+07:00");
    int64_t sub2 = put_sub(f->st, f->page, "p2", late);
    enter(f, seq, sub2, late, 1);
    assert_int_equal(drain(f, t("2026-12-04T08:00:00+07:00")), 1);
    assert_int_equal(send_due(f, t("2026-12-04T08:00:00+07:00"), LOA_DELIVERY_SENT, NULL), 1);
    e = enrolment(f, seq, sub2);
    assert_int_equal(e.due_at, t("2026-12-04T21:00:00+07:00") - 1);
    /* Someone whose window is already closed when the step falls due: skipped, with why. */
    int64_t old = t("2026-11-01T10:00:00+07:00");
    int64_t sub3 = put_sub(f->st, f->page, "p3", old);
    int64_t now = t("2026-12-03T09:00:00+07:00");
    enter(f, seq, sub3, now, 1);
    assert_int_equal(drain(f, now), 1);
    assert_int_equal(send_due(f, now, LOA_DELIVERY_SENT, NULL), 1);
    e = enrolment(f, seq, sub3);
    assert_int_equal(drain(f, e.due_at), 1);
    e = enrolment(f, seq, sub3);
    assert_int_equal(e.state, LOA_ENROL_FINISHED);
    char *json = NULL;
    assert_int_equal(loa_sequence_describe(f->st, seq, &json), 0);
    assert_non_null(strstr(json, "\"reason\":\"window_closed\""));
    loa_free(json);
}

static void person_clock_uses_their_offset(void **state)
{
    struct fx *f = *state;
    /* The person lives at UTC-03:00; the Page at +07:00; window 13:00-20:00 in their clock. */
    int64_t seq = create(f, "{\"page_id\":\"111\",\"name\":\"P\",\"window\":{\"from\":\"13:00\","
                            "\"to\":\"20:00\"},\"steps\":[{\"delay\":{\"value\":0,\"unit\":"
                            "\"seconds\"},\"blocks\":" BLOCKS "}]}");
    struct loa_subscriber s = { .page_ref = f->page,
                                .psid = (char *)(uintptr_t) "br",
                                .utc_offset_min = -180 };
    enum loa_upsert_result r;
    int64_t sub;
    assert_int_equal(TW(f->st, subscriber_upsert, &s, 0, 1000, &r, &sub), 0);
    int64_t now = t("2026-12-03T14:00:00+07:00"); /* 04:00 at -03:00 */
    enter(f, seq, sub, now, 1);
    assert_int_equal(enrolment(f, seq, sub).due_at, t("2026-12-03T13:00:00-03:00"));
}

static void a_stop_between_settle_and_next_step_is_resumed(void **state)
{
    struct fx *f = *state;
    int64_t seq = create(f, TWO_STEPS);
    int64_t sub = put_sub(f->st, f->page, "p1", 0);
    int64_t now = t("2026-12-03T14:00:00+07:00");
    enter(f, seq, sub, now, 1);
    assert_int_equal(drain(f, now + 10 * LOA_MINUTE_MS), 1);
    struct loa_claim c[2];
    size_t n = 0;
    assert_int_equal(TW(f->st, outbox_claim, f->page, LOA_SOURCE_SEQUENCE, 0,
                        now + 10 * LOA_MINUTE_MS, 2, c, &n),
                     0);
    assert_int_equal(n, 1);
    loa_claim_release(&c[0]);
    /* The process dies with the request in flight: recovery makes it unknown. */
    int64_t rec = 0;
    assert_int_equal(TW(f->st, delivery_recover, 0, now + LOA_HOUR_MS, &rec), 0);
    assert_int_equal(rec, 1);
    assert_int_equal(enrolment(f, seq, sub).state, LOA_ENROL_QUEUED);
    int64_t moved = 0;
    assert_int_equal(loa_sequence_resume(f->st, &f->o, now + LOA_HOUR_MS, &moved), 0);
    assert_int_equal(moved, 1);
    struct loa_enrolment e = enrolment(f, seq, sub);
    assert_int_equal(e.state, LOA_ENROL_WAITING);
    assert_int_equal(e.step_id, step_id(f, seq, 1));
    /* Nothing is sent twice: step 1 is not queued again. */
    assert_int_equal(drain(f, e.due_at), 1);
    assert_int_equal(send_due(f, e.due_at, LOA_DELIVERY_SENT, NULL), 1);
    assert_int_equal(enrolment(f, seq, sub).state, LOA_ENROL_FINISHED);
}

/* Claims the one due step at now and leaves its send unknown, as a stop mid-request does. */
static int64_t interrupted(struct fx *f, int64_t now)
{
    assert_int_equal(drain(f, now), 1);
    struct loa_claim c[2];
    size_t n = 0;
    assert_int_equal(TW(f->st, outbox_claim, f->page, LOA_SOURCE_SEQUENCE, 0, now, 2, c, &n), 0);
    assert_int_equal(n, 1);
    int64_t id = c[0].id;
    loa_claim_release(&c[0]);
    int64_t rec = 0;
    assert_int_equal(TW(f->st, delivery_recover, 0, now, &rec), 0);
    assert_int_equal(rec, 1);
    return id;
}

/* Two people in TWO_STEPS with a reconciler; a's step 1 was interrupted (unknown, da). */
struct verdict_case {
    int64_t seq, s1, s2, a, b, now, due, da;
};

static struct verdict_case verdict_case(struct fx *f)
{
    struct verdict_case v;
    f->o.await_reconcile = true;
    v.seq = create(f, TWO_STEPS);
    v.s1 = step_id(f, v.seq, 0);
    v.s2 = step_id(f, v.seq, 1);
    v.a = put_sub(f->st, f->page, "p1", 0);
    v.b = put_sub(f->st, f->page, "p2", 0);
    v.now = t("2026-12-03T14:00:00+07:00");
    v.due = v.now + 10 * LOA_MINUTE_MS;
    enter(f, v.seq, v.a, v.now, 1);
    v.da = interrupted(f, v.due);
    return v;
}

/* With a reconciler (await_reconcile), an unknown step's person waits for the verdict: found
 * not sent, they get the step again (once); found sent, they move on from when it was sent. A
 * stop before the verdict's follow-up is caught up at the next start. */
static void an_unknown_step_waits_for_its_verdict(void **state)
{
    struct fx *f = *state;
    struct verdict_case v = verdict_case(f);
    int64_t seq = v.seq, s1 = v.s1, s2 = v.s2, a = v.a, b = v.b, now = v.now, due = v.due;
    int64_t da = v.da;
    /* Unknown: settling (or a resume at start) leaves the person on the step. */
    begin(f);
    assert_int_equal(loa_sequence_settled(f->tx, &f->o, da, LOA_DELIVERY_UNKNOWN, due, due), 0);
    commit(f);
    int64_t looked = 0;
    assert_int_equal(loa_sequence_resume(f->st, &f->o, due + 1000, &looked), 0);
    struct loa_enrolment e = enrolment(f, seq, a);
    assert_int_equal(e.state, LOA_ENROL_QUEUED);
    assert_int_equal(e.step_id, s1);
    /* Found not sent: step 1 again, due now, as a new outbox row; then it goes once. */
    int64_t later = due + 2 * LOA_MINUTE_MS;
    begin(f);
    bool changed = false;
    assert_int_equal(loa_store_delivery_reconcile(f->tx, da, false, NULL, NULL, 0, later, &changed),
                     0);
    assert_true(changed);
    assert_int_equal(loa_sequence_reconciled(f->tx, &f->o, da, false, 0, later), 0);
    commit(f);
    e = enrolment(f, seq, a);
    assert_int_equal(e.state, LOA_ENROL_WAITING);
    assert_int_equal(e.step_id, s1);
    assert_int_equal(e.due_at, later);
    assert_int_equal(drain(f, later), 1);
    int64_t again = 0;
    assert_int_equal(send_due(f, later, LOA_DELIVERY_SENT, &again), 1);
    assert_true(again != da);
    e = enrolment(f, seq, a);
    assert_int_equal(e.state, LOA_ENROL_WAITING);
    assert_int_equal(e.step_id, s2);
    assert_int_equal(e.base_at, later); /* step 2 counts from the send that went */
    /* A verdict repeated (or for a row no enrolment waits on) changes nothing. */
    begin(f);
    assert_int_equal(loa_sequence_reconciled(f->tx, &f->o, da, false, 0, later), 0);
    commit(f);
    assert_int_equal(enrolment(f, seq, a).step_id, s2);
    /* Found sent: the person moves on from when Graph has it. */
    enter(f, seq, b, now, 1);
    e = enrolment(f, seq, b);
    int64_t db = interrupted(f, e.due_at);
    int64_t at = e.due_at + 3000;
    begin(f);
    assert_int_equal(
        loa_store_delivery_reconcile(f->tx, db, true, "m.9", "Chào", at, later, &changed), 0);
    assert_int_equal(loa_sequence_reconciled(f->tx, &f->o, db, true, at, later), 0);
    commit(f);
    e = enrolment(f, seq, b);
    assert_int_equal(e.state, LOA_ENROL_WAITING);
    assert_int_equal(e.step_id, s2);
    assert_int_equal(e.base_at, at);
}

/* A stop after the verdict "not sent" but before its follow-up: the next start gives the step
 * again; and an echo that settles an unknown send moves its person on at once. */
static void verdicts_and_echoes_are_caught_up(void **state)
{
    struct fx *f = *state;
    struct verdict_case v = verdict_case(f);
    int64_t seq = v.seq, s1 = v.s1, s2 = v.s2, a = v.a, b = v.b, now = v.now, due = v.due;
    int64_t da = v.da;
    bool changed = false;
    assert_int_equal(TW(f->st, delivery_reconcile, da, false, NULL, NULL, 0, due, &changed), 0);
    int64_t looked = 0;
    assert_int_equal(loa_sequence_resume(f->st, &f->o, due + 1000, &looked), 0);
    struct loa_enrolment e = enrolment(f, seq, a);
    assert_int_equal(e.state, LOA_ENROL_WAITING);
    assert_int_equal(e.step_id, s1);
    assert_int_equal(drain(f, due + 1000), 1);
    assert_int_equal(send_due(f, due + 1000, LOA_DELIVERY_SENT, NULL), 1);
    assert_int_equal(enrolment(f, seq, a).step_id, s2);
    /* The echo of an unknown step's send (its metadata names the delivery). */
    enter(f, seq, b, now, 1);
    e = enrolment(f, seq, b);
    int64_t db = interrupted(f, e.due_at);
    char meta[32];
    snprintf(meta, sizeof(meta), "loa:d:%lld", (long long)db);
    struct loa_intake_event ev = { .kind = LOA_INTAKE_ECHO,
                                   .page_id = "111",
                                   .psid = "p2",
                                   .at = e.due_at + 500,
                                   .key = "m.echo",
                                   .mid = "m.echo",
                                   .text = "Chào",
                                   .metadata = meta,
                                   .payload = "{}" };
    int64_t echo_at = ev.at;
    struct loa_intake_result res;
    assert_int_equal(loa_intake_apply(f->st, &f->o, &ev, 1, &res), 0);
    loa_intake_result_release(&res);
    e = enrolment(f, seq, b);
    assert_int_equal(e.state, LOA_ENROL_WAITING);
    assert_int_equal(e.step_id, s2);
    assert_int_equal(e.base_at, echo_at); /* from the echo's time */
}

static void unreachable_people_leave(void **state)
{
    struct fx *f = *state;
    int64_t seq = create(f, TWO_STEPS);
    int64_t sub = put_sub(f->st, f->page, "p1", 0);
    int64_t now = t("2026-12-03T14:00:00+07:00");
    enter(f, seq, sub, now, 1);
    assert_int_equal(drain(f, now + 10 * LOA_MINUTE_MS), 1);
    /* Graph says the person is gone: the dispatcher marks them, then settles the send. */
    assert_int_equal(TW(f->st, subscriber_set_unreachable, sub, "blocked", now), 0);
    assert_int_equal(send_due(f, now + 10 * LOA_MINUTE_MS, LOA_DELIVERY_FAILED, NULL), 1);
    assert_int_equal(enrolment(f, seq, sub).state, LOA_ENROL_REMOVED);
    char *json = NULL;
    assert_int_equal(loa_sequence_describe(f->st, seq, &json), 0);
    assert_non_null(strstr(json, "\"removed\":1"));
    loa_free(json);
}

static void any_time_steps_ignore_the_window(void **state)
{
    struct fx *f = *state;
    int64_t seq = create(f, "{\"page_id\":\"111\",\"name\":\"W\",\"clock\":\"page\","
                            "\"window\":{\"from\":\"09:00\",\"to\":\"21:00\"},\"steps\":["
                            "{\"delay\":{\"value\":0,\"unit\":\"seconds\"},\"any_time\":true,"
                            "\"blocks\":" BLOCKS "},{\"delay\":{\"value\":1,\"unit\":\"hours\"},"
                            "\"blocks\":" BLOCKS "}]}");
    int64_t sub = put_sub(f->st, f->page, "p1", 0);
    int64_t late = t("2026-12-03T23:00:00+07:00");
    enter(f, seq, sub, late, 1);
    assert_int_equal(enrolment(f, seq, sub).due_at, late); /* at once, at 23:00 */
    assert_int_equal(drain(f, late), 1);
    assert_int_equal(send_due(f, late, LOA_DELIVERY_SENT, NULL), 1);
    /* Step 2 keeps to the window: 00:00 is outside, it waits for 09:00. */
    assert_int_equal(enrolment(f, seq, sub).due_at, t("2026-12-04T09:00:00+07:00"));
}

/* A webhook event through intake, with the fixture's sequence options. */
static void webhook(struct fx *f, enum loa_intake_kind kind, const char *psid, const char *key,
                    const char *payload, int64_t at)
{
    struct loa_intake_event e = { .kind = kind,
                                  .page_id = "111",
                                  .psid = psid,
                                  .at = at,
                                  .key = key,
                                  .mid = key,
                                  .text = "ok",
                                  .quick_reply = payload,
                                  .payload = "{}" };
    struct loa_intake_result r;
    assert_int_equal(loa_intake_apply(f->st, &f->o, &e, 1, &r), 0);
    loa_intake_result_release(&r);
}

static void webhooks_click_join_and_leave(void **state)
{
    struct fx *f = *state;
    int64_t seq = create(f, TWO_STEPS);
    int64_t other = create(f, "{\"page_id\":\"111\",\"name\":\"B\",\"steps\":[{\"delay\":"
                              "{\"value\":1,\"unit\":\"days\"},\"blocks\":" BLOCKS "}]}");
    int64_t now = t("2026-12-03T14:00:00+07:00");
    int64_t sub = put_sub(f->st, f->page, "p1", now);
    enter(f, seq, sub, now, 1);
    assert_int_equal(drain(f, now + 10 * LOA_MINUTE_MS), 1);
    assert_int_equal(send_due(f, now + 10 * LOA_MINUTE_MS, LOA_DELIVERY_SENT, NULL), 1);
    /* The person taps a quick reply of step 1 that also joins sequence B and leaves this one:
     * the click counts for step 1, and the buttons' actions apply. */
    char payload[128];
    snprintf(payload, sizeof(payload), "loa:s:%lld:loa:join:%lld", (long long)step_id(f, seq, 0),
             (long long)other);
    webhook(f, LOA_INTAKE_POSTBACK, "p1", "m.click", payload, now + 11 * LOA_MINUTE_MS);
    assert_int_equal(enrolment(f, other, sub).state, LOA_ENROL_WAITING);
    char *json = NULL;
    assert_int_equal(loa_sequence_describe(f->st, seq, &json), 0);
    assert_non_null(strstr(json, "\"clicked\":1"));
    loa_free(json);
    snprintf(payload, sizeof(payload), "loa:leave:%lld", (long long)seq);
    webhook(f, LOA_INTAKE_POSTBACK, "p1", "m.leave", payload, now + 12 * LOA_MINUTE_MS);
    assert_int_equal(enrolment(f, seq, sub).state, LOA_ENROL_REMOVED);
    /* A redelivered webhook changes nothing. */
    webhook(f, LOA_INTAKE_POSTBACK, "p1", "m.click", payload, now + 13 * LOA_MINUTE_MS);
    /* A new person's first message enters nothing here: no sequence welcomes. */
    webhook(f, LOA_INTAKE_MESSAGE, "new1", "m.new", NULL, now);
    struct one o = { .n = 0 };
    assert_int_equal(loa_store_enrol_list(f->st, f->page, 0, 0, 0, 0, 0, 0, got, &o), 0);
    assert_int_equal(o.n, 2); /* p1 in seq (removed) and in B; nobody else */
}

static void forecast_by_route_and_reason(void **state)
{
    struct fx *f = *state;
    int64_t seq = create(f, TWO_STEPS);
    int64_t now = t("2026-12-03T14:00:00+07:00");
    int64_t fresh = put_sub(f->st, f->page, "fresh", now - LOA_HOUR_MS);
    int64_t old = put_sub(f->st, f->page, "old", now - 30 * LOA_DAY_MS);
    enter(f, seq, fresh, now, 1);
    enter(f, seq, old, now, 1);
    char *json = NULL;
    assert_int_equal(loa_sequence_forecast(f->st, &f->o, seq, 60000, now, &json), 0);
    json_t *j = json_loads(json, 0, NULL);
    json_t *s0 = json_array_get(json_object_get(j, "steps"), 0);
    assert_int_equal(json_integer_value(json_object_get(s0, "waiting")), 2);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(s0, "reachable"), "window")), 1);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(s0, "not_reachable"), "window_closed")),
        1);
    json_t *s1 = json_array_get(json_object_get(j, "steps"), 1);
    assert_int_equal(json_integer_value(json_object_get(s1, "waiting")), 0);
    json_decref(j);
    loa_free(json);
    struct loa_sequence_opts none = f->o;
    none.rules = NULL;
    assert_int_equal(loa_sequence_forecast(f->st, &none, seq, 0, now, &json), LOA_EINVAL);
}

static void a_question_waits_for_the_answer(void **state)
{
    struct fx *f = *state;
    /* Step 1 asks for a phone number; step 2 counts from the answer. */
    int64_t seq = create(
        f, "{\"page_id\":\"111\",\"name\":\"Q\",\"steps\":[{\"delay\":{\"value\":0,"
           "\"unit\":\"seconds\"},\"blocks\":[{\"type\":\"text\",\"text\":\"Số điện thoại của "
           "bạn?\"},{\"type\":\"wait_reply\",\"attribute\":\"sdt\",\"kind\":\"phone\","
           "\"prompt_retry\":\"Số chưa đúng, bạn nhập lại giúp shop nhé\"}]},{\"delay\":{"
           "\"value\":1,\"unit\":\"hours\"},\"blocks\":" BLOCKS "}]}");
    int64_t now = t("2026-12-03T14:00:00+07:00");
    int64_t sub = put_sub(f->st, f->page, "p1", now);
    enter(f, seq, sub, now, 1);
    assert_int_equal(drain(f, now), 1);
    int64_t delivery = 0;
    assert_int_equal(send_due(f, now + 1000, LOA_DELIVERY_SENT, &delivery), 1);
    /* Sent: step 2 waits for the answer, at most the reply timeout (24 h) + its delay. */
    struct loa_enrolment e = enrolment(f, seq, sub);
    assert_int_equal(e.base_at, now + 1000 + LOA_DAY_MS);
    assert_int_equal(e.due_at, now + 1000 + LOA_DAY_MS + LOA_HOUR_MS);
    /* The dispatcher opens the wait as it settles the send (src/dispatch). */
    struct loa_wait_input in = { .page_ref = f->page,
                                 .subscriber_id = sub,
                                 .delivery_id = delivery,
                                 .source = LOA_SOURCE_SEQUENCE,
                                 .source_id = step_id(f, seq, 0),
                                 .attribute = "sdt",
                                 .kind = 1 /* LOA_MSG_REPLY_PHONE */,
                                 .prompt = "Số chưa đúng, bạn nhập lại giúp shop nhé",
                                 .opened_at = now + 1000,
                                 .expires_at = now + 1000 + LOA_DAY_MS };
    assert_int_equal(TW(f->st, wait_open, &in, NULL), 0);
    /* A wrong answer: one more try, and the prompt goes to the outbox (reply lane). */
    struct loa_intake_event bad = { .kind = LOA_INTAKE_MESSAGE,
                                    .page_id = "111",
                                    .psid = "p1",
                                    .at = now + LOA_MINUTE_MS,
                                    .key = "m.bad",
                                    .mid = "m.bad",
                                    .text = "không nhớ",
                                    .payload = "{}" };
    struct loa_intake_result r;
    assert_int_equal(loa_intake_apply(f->st, &f->o, &bad, 1, &r), 0);
    loa_intake_result_release(&r);
    struct loa_wait w;
    assert_int_equal(loa_store_wait_find(f->st, sub, &w), 0);
    assert_int_equal(w.tries, 1);
    int64_t wait_id = w.id;
    loa_wait_release(&w);
    struct loa_claim c[2];
    size_t n = 0;
    assert_int_equal(
        TW(f->st, outbox_claim, f->page, LOA_SOURCE_REPLY, 0, now + LOA_MINUTE_MS, 2, c, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(c[0].source_id, wait_id); /* the prompt names its wait */
    assert_string_equal(c[0].psid, "p1");
    loa_claim_release(&c[0]);
    /* The answer: stored in the attribute and the subscriber's phone (E.164), the wait closed,
     * and step 2 counts from now. */
    int64_t at = now + 2 * LOA_MINUTE_MS;
    struct loa_intake_event good = bad;
    good.key = good.mid = "m.good";
    good.text = "0912 345 678";
    good.at = at;
    assert_int_equal(loa_intake_apply(f->st, &f->o, &good, 1, &r), 0);
    loa_intake_result_release(&r);
    assert_int_equal(loa_store_wait_find(f->st, sub, &w), LOA_ENOENT);
    struct loa_subscriber p;
    assert_int_equal(loa_store_subscriber_get(f->st, sub, &p), 0);
    assert_string_equal(p.phone, "+84912345678");
    assert_non_null(strstr(p.attrs, "\"sdt\":\"+84912345678\""));
    loa_subscriber_release(&p);
    e = enrolment(f, seq, sub);
    assert_int_equal(e.state, LOA_ENROL_WAITING);
    assert_int_equal(e.base_at, at);
    assert_int_equal(e.due_at, at + LOA_HOUR_MS);
}

static void nothing_may_follow_a_question(void **state)
{
    (void)state;
    const char *body =
        "{\"page_id\":\"111\",\"name\":\"Q\",\"steps\":[{\"delay\":{\"value\":0,\"unit\":"
        "\"seconds\"},\"blocks\":[{\"type\":\"wait_reply\",\"attribute\":\"a\",\"kind\":"
        "\"text\"},{\"type\":\"text\",\"text\":\"sau\"}]}]}";
    struct loa_diags d;
    loa_diags_init(&d, 10);
    struct loa_sequence s;
    assert_int_equal(loa_sequence_parse(body, strlen(body), NULL, &s, NULL, &d), LOA_EINVAL);
    assert_true(d.count >= 1);
    assert_string_equal(d.items[d.count - 1].where, "steps[0].blocks");
    assert_non_null(strstr(d.items[d.count - 1].reason, "wait_reply must be the last block"));
    loa_diags_release(&d);
}

/* A missing sequence is LOA_ENOENT and leaves nothing allocated (the ASan build checks). */
static void describe_missing_sequence(void **state)
{
    struct fx *f = *state;
    char marker = 'x';
    char *json = &marker;
    assert_int_equal(loa_sequence_describe(f->st, 987654, &json), LOA_ENOENT);
    assert_null(json);
    int64_t seq = create(f, TWO_STEPS);
    assert_int_equal(loa_sequence_describe(f->st, seq + 1, &json), LOA_ENOENT);
    assert_null(json);
    assert_int_equal(loa_sequence_describe(f->st, seq, &json), 0);
    assert_non_null(json);
    loa_free(json);
}

static void a_reply_counts_for_the_step_it_answers(void **state)
{
    struct fx *f = *state;
    int64_t seq = create(f, "{\"page_id\":\"111\",\"name\":\"R\",\"steps\":[{\"delay\":{"
                            "\"value\":0,\"unit\":\"seconds\"},\"blocks\":" BLOCKS "},{\"delay\":"
                            "{\"value\":1,\"unit\":\"hours\"},\"blocks\":" BLOCKS "}]}");
    int64_t now = t("2026-12-03T14:00:00+07:00");
    int64_t sub = put_sub(f->st, f->page, "p1", now);
    enter(f, seq, sub, now, 1);
    assert_int_equal(drain(f, now), 1);
    assert_int_equal(send_due(f, now, LOA_DELIVERY_SENT, NULL), 1);
    int64_t second = enrolment(f, seq, sub).due_at;
    assert_int_equal(drain(f, second), 1);
    assert_int_equal(send_due(f, second, LOA_DELIVERY_SENT, NULL), 1);
    /* The person writes after step 2: the reply is step 2's, not step 1's too. */
    assert_int_equal(TW(f->st, delivery_replied, f->page, "p1", second + LOA_MINUTE_MS), 0);
    char *json = NULL;
    assert_int_equal(loa_sequence_describe(f->st, seq, &json), 0);
    json_t *j = json_loads(json, 0, NULL);
    json_t *steps = json_object_get(j, "steps");
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(json_array_get(steps, 0), "stats"), "replied")),
                     0);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(json_array_get(steps, 1), "stats"), "replied")),
                     1);
    json_decref(j);
    loa_free(json);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_complaints_with_paths),
        cmocka_unit_test(parse_and_print_round_trip),
        cmocka_unit_test_setup_teardown(enter_once_and_again_after_removal, setup, teardown),
        cmocka_unit_test_setup_teardown(steps_follow_the_actual_send_and_the_window, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(stale_steps_are_skipped_after_downtime, setup, teardown),
        cmocka_unit_test_setup_teardown(live_edits_retime_pass_over_and_hold, setup, teardown),
        cmocka_unit_test_setup_teardown(one_sequence_at_a_time_per_group, setup, teardown),
        cmocka_unit_test_setup_teardown(triggers_welcome_ref_buttons_and_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(removal_never_sends, setup, teardown),
        cmocka_unit_test_setup_teardown(refused_steps_move_on_or_leave, setup, teardown),
        cmocka_unit_test_setup_teardown(window_aware_step_goes_before_the_window_closes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(person_clock_uses_their_offset, setup, teardown),
        cmocka_unit_test_setup_teardown(a_stop_between_settle_and_next_step_is_resumed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(an_unknown_step_waits_for_its_verdict, setup, teardown),
        cmocka_unit_test_setup_teardown(verdicts_and_echoes_are_caught_up, setup, teardown),
        cmocka_unit_test_setup_teardown(unreachable_people_leave, setup, teardown),
        cmocka_unit_test_setup_teardown(any_time_steps_ignore_the_window, setup, teardown),
        cmocka_unit_test_setup_teardown(webhooks_click_join_and_leave, setup, teardown),
        cmocka_unit_test_setup_teardown(forecast_by_route_and_reason, setup, teardown),
        cmocka_unit_test_setup_teardown(a_question_waits_for_the_answer, setup, teardown),
        cmocka_unit_test(nothing_may_follow_a_question),
        cmocka_unit_test_setup_teardown(describe_missing_sequence, setup, teardown),
        cmocka_unit_test_setup_teardown(a_reply_counts_for_the_step_it_answers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
