/* SPDX-License-Identifier: MIT */
/*
 * The sequence service's people and timers (include/loa/sequence.h): entering, leaving,
 * triggers, when each step falls due, draining due timers into the outbox and moving people on
 * when a step's send is settled. docs/sequences.md tells the story.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <loa/alloc.h>
#include <loa/audience.h>
#include <loa/clock.h>
#include <loa/config.h>
#include <loa/err.h>
#include <loa/log.h>
#include <loa/rules.h>
#include <loa/schedule.h>
#include <loa/sequence.h>

#include "sequence_int.h"

#define DEFAULT_CATCHUP_MS (3 * LOA_DAY_MS)
#define DEFAULT_MARGIN_MS  LOA_HOUR_MS
#define DEFAULT_LOOKAHEAD  0 /* a sender wakes at the next due time (loa_sequence_drain()) */

void loa_sequence_opts_default(struct loa_sequence_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->catchup_ms = DEFAULT_CATCHUP_MS;
    o->window_margin_ms = DEFAULT_MARGIN_MS;
    o->lookahead_ms = DEFAULT_LOOKAHEAD;
    o->reply_timeout_ms = LOA_DAY_MS;
    o->phone_region = "VN";
}

void loa_sequence_opts_from(struct loa_sequence_opts *o, const struct loa_settings *s,
                            const struct loa_rules *rules)
{
    loa_sequence_opts_default(o);
    o->rules = rules;
    o->catchup_ms = s->sequence_catchup_s * LOA_SECOND_MS;
    o->window_margin_ms = s->sequence_window_margin_s * LOA_SECOND_MS;
    o->reply_timeout_ms = s->reply_wait_timeout_s * LOA_SECOND_MS;
    o->phone_region = s->phone_region;
}

/* ---- Sequences as a call needs them (a small cache per call) ------------------------------ */

void loa__seq_cache_release(struct loa__seq_cache *c)
{
    for (size_t i = 0; i < c->n; i++) {
        loa_sequence_release(&c->v[i]->seq);
        loa_page_release(&c->v[i]->page);
        loa_free(c->v[i]);
    }
    loa_free(c->v);
    memset(c, 0, sizeof(*c));
}

int loa__seq_cache_get(struct loa_store *st, struct loa__seq_cache *c, int64_t id,
                       struct loa__seq **out)
{
    if (c->last < c->n && c->v[c->last]->seq.id == id) {
        *out = c->v[c->last];
        return 0;
    }
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i]->seq.id == id) {
            c->last = i;
            *out = c->v[i];
            return 0;
        }
    struct loa__seq *s = loa_calloc(1, sizeof(*s));
    int rc = loa_store_sequence_get(st, id, &s->seq);
    if (rc == 0 && (rc = loa_store_page_get_ref(st, s->seq.page_ref, &s->page)) < 0)
        loa_sequence_release(&s->seq);
    if (rc < 0) {
        loa_free(s);
        return rc;
    }
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 16;
        c->v = loa_reallocarray(c->v, c->cap, sizeof(*c->v));
    }
    c->last = c->n;
    c->v[c->n++] = s;
    *out = s;
    return 0;
}

/* The first step at or after position from that is on; NULL when none. */
const struct loa_seq_step *loa__seq_next_step(const struct loa_sequence *s, int64_t from)
{
    for (size_t i = 0; i < s->nsteps; i++)
        if (s->steps[i].position >= from && s->steps[i].enabled)
            return &s->steps[i];
    return NULL;
}

const struct loa_seq_step *loa__seq_find_step(const struct loa_sequence *s, int64_t id)
{
    for (size_t i = 0; i < s->nsteps; i++)
        if (s->steps[i].id == id)
            return &s->steps[i];
    return NULL;
}

/*
 * When the person's messaging window closes, as the rules see it at now for a message of this
 * purpose (0: closed or unknown).
 */
static int64_t window_closes(struct loa_store *st, const struct loa_sequence_opts *o,
                             const struct loa__seq *s, int64_t subscriber_id,
                             const struct loa_seq_step *t, int64_t now)
{
    if (!o->rules)
        return 0;
    struct loa_subscriber sub;
    if (loa_store_subscriber_get(st, subscriber_id, &sub) < 0)
        return 0;
    struct loa_audience_member m = {
        .id = sub.id,
        .psid = sub.psid,
        .first_seen_at = sub.first_seen_at,
        .last_interaction_at = sub.last_interaction_at,
        .last_interaction_kind = sub.last_interaction_kind,
        .first_after_ctm_ad = sub.first_after_ctm_ad,
        .unreachable = sub.unreachable,
    };
    enum loa_audience_purpose purpose = t->purpose && strcmp(t->purpose, "promotional") == 0
                                            ? LOA_AUD_PROMOTIONAL
                                            : LOA_AUD_NON_PROMOTIONAL;
    struct loa_rules_decision d;
    int64_t closes = 0;
    if (loa_audience_decide(o->rules, &m, s->page.activated_at, purpose, NULL, false, now, &d) ==
            0 &&
        d.allowed && d.route == LOA_RULES_ROUTE_WINDOW)
        closes = d.until == INT64_MAX ? 0 : d.until;
    loa_subscriber_release(&sub);
    return closes;
}

int loa__seq_step_due(struct loa_store *st, const struct loa_sequence_opts *o,
                      const struct loa__seq *s, const struct loa_seq_step *t, int64_t subscriber_id,
                      int32_t utc_offset_min, int64_t base, int64_t now, struct loa_step_due *out)
{
    struct loa_send_window w = { 0 }; /* all day, every day */
    if (!t->any_time)
        w = (struct loa_send_window){ .from_min = s->seq.window_from_min,
                                      .to_min = s->seq.window_to_min,
                                      .weekdays = s->seq.weekdays };
    struct loa_zone z = { .tz = s->page.timezone ? s->page.timezone : "UTC" };
    if (s->seq.person_clock && utc_offset_min != LOA_UTC_OFFSET_UNKNOWN) {
        z.has_offset = true;
        z.offset_min = utc_offset_min;
    }
    struct loa_step_timing tm = {
        .delay_ms = t->delay_ms,
        .inside_window = t->inside_window,
        .margin_ms = o->window_margin_ms,
    };
    int64_t closes = t->inside_window ? window_closes(st, o, s, subscriber_id, t, now) : 0;
    int rc = loa_schedule_step(&w, &z, &tm, base, now, closes, out);
    if (rc < 0) {
        /* A zone that cannot be read: the step waits for its delay alone, in UTC. */
        LOA_WARN("sequence", "cannot time step in its send window; using the delay alone",
                 "sequence=%lld step=%lld error=%s", (long long)s->seq.id, (long long)t->id,
                 loa_err_name(rc));
        memset(out, 0, sizeof(*out));
        out->due_at = base + t->delay_ms;
    }
    return 0;
}

/*
 * The person of enrolment e moves on from the step at position pos (exclusive: > pos) to the
 * next step that is on, timed from base, or finishes.
 */
static int advance(struct loa_txn *tx, const struct loa_sequence_opts *o, const struct loa__seq *s,
                   const struct loa_enrolment *e, int64_t pos, int64_t base, int64_t now)
{
    const struct loa_seq_step *next = loa__seq_next_step(&s->seq, pos + 1);
    if (!next)
        return loa_store_enrol_advance(tx, e->id, 0, base, 0, now);
    struct loa_step_due due;
    loa__seq_step_due(loa_txn_store(tx), o, s, next, e->subscriber_id, e->utc_offset_min, base, now,
                      &due);
    return loa_store_enrol_advance(tx, e->id, next->id, base, due.due_at, now);
}

/* The position of step id in its sequence, retired steps included (where it was). */
static int64_t step_position(struct loa_store *st, const struct loa__seq *s, int64_t id)
{
    const struct loa_seq_step *t = loa__seq_find_step(&s->seq, id);
    if (t)
        return t->position;
    struct loa_seq_step_info info;
    int64_t pos = -1;
    if (loa_store_seq_step_get(st, id, &info) == 0) {
        pos = info.step.position - 1; /* its old place: the next one is at or after it */
        loa_seq_step_info_release(&info);
    }
    return pos;
}

/* ---- Entering and leaving ----------------------------------------------------------------- */

struct group_ud {
    int64_t group_id, except;
    int64_t ids[64];
    size_t n;
};

static int in_group(const struct loa_sequence *q, void *ud)
{
    struct group_ud *g = ud;
    if (q->group_id == g->group_id && q->id != g->except && g->n < 64)
        g->ids[g->n++] = q->id;
    return 0;
}

/* Enters one person (the caller's transaction). *entered: they were not in it. */
static int enter_one(struct loa_txn *tx, const struct loa_sequence_opts *o,
                     const struct loa__seq *s, bool one_at_a_time, const struct loa_subscriber *p,
                     const char *source, int64_t now, bool *entered)
{
    struct loa_store *st = loa_txn_store(tx);
    *entered = false;
    int rc;
    if (one_at_a_time && s->seq.group_id) {
        struct group_ud g = { .group_id = s->seq.group_id, .except = s->seq.id };
        if ((rc = loa_store_sequence_list(st, s->seq.page_ref, in_group, &g)) < 0)
            return rc;
        for (size_t i = 0; i < g.n; i++)
            if ((rc = loa_store_enrol_remove(tx, g.ids[i], p->id, "joined_other", now, NULL)) < 0)
                return rc;
    }
    const struct loa_seq_step *first = loa__seq_next_step(&s->seq, 0);
    struct loa_step_due due = { .due_at = now };
    if (first)
        loa__seq_step_due(st, o, s, first, p->id, p->utc_offset_min, now, now, &due);
    return loa_store_enrol_insert(tx, s->seq.id, p->id, first ? first->id : 0, now, due.due_at,
                                  source, now, entered);
}

static bool group_one_at_a_time(struct loa_store *st, int64_t group_id)
{
    struct loa_seq_group g;
    if (!group_id || loa_store_seq_group_get(st, group_id, &g) < 0)
        return false;
    bool one = g.one_at_a_time;
    loa_seq_group_release(&g);
    return one;
}

int loa_sequence_enter(struct loa_store *st, const struct loa_sequence_opts *o, int64_t id,
                       const int64_t *ids, size_t n, const char *source, int64_t now,
                       int64_t *entered_out)
{
    if (entered_out)
        *entered_out = 0;
    struct loa__seq_cache cache = { 0 };
    struct loa__seq *s;
    struct loa_txn *tx;
    int rc = loa_store_begin(st, &tx);
    if (rc < 0)
        return rc;
    if ((rc = loa__seq_cache_get(st, &cache, id, &s)) < 0)
        goto out;
    if (!s->seq.active) {
        rc = LOA_ESTATE;
        goto out;
    }
    bool one = group_one_at_a_time(st, s->seq.group_id);
    int64_t count = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct loa_subscriber p;
        if ((rc = loa_store_subscriber_get(st, ids[i], &p)) < 0) {
            if (rc == LOA_ENOENT)
                rc = LOA_EINVAL;
            break;
        }
        if (p.page_ref != s->seq.page_ref) {
            rc = LOA_EINVAL;
        } else {
            bool entered;
            rc = enter_one(tx, o, s, one, &p, source, now, &entered);
            count += entered;
        }
        loa_subscriber_release(&p);
    }
    if (rc == 0 && entered_out)
        *entered_out = count;
out:
    loa__seq_cache_release(&cache);
    return loa_store_end(tx, rc);
}

struct people {
    int64_t *v;
    size_t n, cap;
};

static void people_add(struct people *p, int64_t id)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 256;
        p->v = loa_reallocarray(p->v, p->cap, sizeof(*p->v));
    }
    p->v[p->n++] = id;
}

static int add_member(const struct loa_audience_member *m, void *ud)
{
    people_add(ud, m->id);
    return 0;
}

int loa_sequence_people(struct loa_store *st, int64_t page_ref, const char *const *psids, size_t n,
                        const char *path, const char *filter, int64_t now, int64_t **ids_out,
                        size_t *n_out, struct loa_diags *d)
{
    struct people p = { 0 };
    int rc = 0;
    if (filter) {
        struct loa_audience_node *node = NULL;
        if (loa_audience_parse(filter, strlen(filter), now, "filter", &node, d) == 0)
            rc = loa_store_audience_scan(st, page_ref, node, LOA_AUDIENCE_BY_ID, NULL, 0,
                                         add_member, &p);
        loa_audience_free(node);
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct loa_subscriber s;
        rc = loa_store_subscriber_find(st, page_ref, psids[i], &s);
        if (rc == LOA_ENOENT) {
            char where[64];
            snprintf(where, sizeof(where), "%s[%zu]", path ? path : "psids", i);
            loa_diags_add(d, 0, 0, where, "no subscriber of the sequence's Page has this PSID");
            rc = 0;
        } else if (rc == 0) {
            people_add(&p, s.id);
            loa_subscriber_release(&s);
        }
    }
    if (rc < 0) {
        loa_free(p.v);
        return rc;
    }
    *ids_out = p.v;
    *n_out = p.n;
    return 0;
}

int loa_sequence_leave(struct loa_store *st, int64_t id, const int64_t *ids, size_t n,
                       const char *reason, int64_t now, int64_t *removed_out)
{
    struct loa_txn *tx;
    int rc = loa_store_begin(st, &tx);
    if (rc < 0)
        return rc;
    int64_t count = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        bool removed = false;
        rc = loa_store_enrol_remove(tx, id, ids[i], reason, now, &removed);
        count += removed;
    }
    if ((rc = loa_store_end(tx, rc)) == 0 && removed_out)
        *removed_out = count;
    return rc;
}

/* ---- Triggers ----------------------------------------------------------------------------- */

struct one_ud {
    struct loa_enrolment e;
    size_t n;
};

static int one_enrol(const struct loa_enrolment *e, void *ud)
{
    struct one_ud *u = ud;
    u->e = *e;
    u->e.psid = u->e.end_reason = u->e.source = NULL;
    u->n++;
    return 0;
}

struct trig_ud {
    int64_t ids[32];
    int64_t groups[32];
    size_t n;
};

static int triggered(int64_t id, int64_t group_id, bool one_at_a_time, void *ud)
{
    struct trig_ud *t = ud;
    if (one_at_a_time) /* a tie in a one-at-a-time group: the earlier-created wins */
        for (size_t i = 0; i < t->n; i++)
            if (t->groups[i] == group_id)
                return 0;
    if (t->n < 32) {
        t->ids[t->n] = id;
        t->groups[t->n++] = one_at_a_time ? group_id : 0;
    }
    return 0;
}

struct leave_ud {
    int64_t ids[32];
    size_t n;
};

static int collect_reply_leavers(const struct loa_enrolment *e, void *ud)
{
    struct leave_ud *l = ud;
    if (l->n < 32)
        l->ids[l->n++] = e->sequence_id;
    return 0;
}

/* The answer to step step_id's question came at now: the person's next step counts from now. */
static int answered(struct loa_txn *tx, const struct loa_sequence_opts *o, int64_t subscriber_id,
                    int64_t step_id, int64_t now)
{
    struct loa_store *st = loa_txn_store(tx);
    struct loa_seq_step_info info;
    int rc = loa_store_seq_step_get(st, step_id, &info);
    if (rc < 0)
        return rc == LOA_ENOENT ? 0 : rc;
    int64_t seq = info.sequence_id;
    loa_seq_step_info_release(&info);
    struct one_ud u = { .n = 0 };
    rc = loa_store_enrol_list(st, 0, seq, subscriber_id, 1u << LOA_ENROL_WAITING, 0, 0, 1,
                              one_enrol, &u);
    struct loa__seq_cache cache = { 0 };
    struct loa__seq *s;
    if (rc == 0 && u.n == 1 && u.e.base_at > now && /* still waiting for the answer */
        (rc = loa__seq_cache_get(st, &cache, seq, &s)) == 0) {
        const struct loa_seq_step *t = loa__seq_find_step(&s->seq, step_id);
        const struct loa_seq_step *next = t ? loa__seq_next_step(&s->seq, t->position + 1) : NULL;
        if (next && next->id == u.e.step_id) {
            struct loa_step_due due;
            loa__seq_step_due(st, o, s, next, subscriber_id, u.e.utc_offset_min, now, now, &due);
            rc = loa_store_enrol_advance(tx, u.e.id, next->id, now, due.due_at, now);
        }
    }
    loa__seq_cache_release(&cache);
    return rc;
}

int loa_sequence_on_event(struct loa_txn *tx, const struct loa_sequence_opts *o, int64_t page_ref,
                          int64_t subscriber_id, enum loa_sequence_event ev, const char *value,
                          int64_t now)
{
    struct loa_store *st = loa_txn_store(tx);
    int rc = 0;
    if (ev == LOA_SEQ_EVENT_MESSAGE) {
        struct leave_ud l = { 0 };
        unsigned live = (1u << LOA_ENROL_WAITING) | (1u << LOA_ENROL_QUEUED);
        rc = loa_store_enrol_list(st, page_ref, 0, subscriber_id, live, 0, 0, 32,
                                  collect_reply_leavers, &l);
        struct loa__seq_cache cache = { 0 };
        for (size_t i = 0; rc == 0 && i < l.n; i++) {
            struct loa__seq *s;
            if ((rc = loa__seq_cache_get(st, &cache, l.ids[i], &s)) < 0)
                break;
            if (s->seq.leave_on_reply)
                rc = loa_store_enrol_remove(tx, s->seq.id, subscriber_id, "replied", now, NULL);
        }
        loa__seq_cache_release(&cache);
        return rc;
    }
    if (ev == LOA_SEQ_EVENT_ANSWERED)
        return answered(tx, o, subscriber_id, value ? strtoll(value, NULL, 10) : 0, now);
    if (ev == LOA_SEQ_EVENT_JOIN || ev == LOA_SEQ_EVENT_LEAVE) {
        int64_t id = value ? strtoll(value, NULL, 10) : 0;
        struct loa__seq_cache cache = { 0 };
        struct loa__seq *s;
        rc = id > 0 ? loa__seq_cache_get(st, &cache, id, &s) : LOA_ENOENT;
        if (rc == 0 && s->seq.page_ref == page_ref) {
            if (ev == LOA_SEQ_EVENT_LEAVE) {
                rc = loa_store_enrol_remove(tx, id, subscriber_id, "button", now, NULL);
            } else if (s->seq.active) {
                struct loa_subscriber p;
                if ((rc = loa_store_subscriber_get(st, subscriber_id, &p)) == 0) {
                    bool entered;
                    rc = enter_one(tx, o, s, group_one_at_a_time(st, s->seq.group_id), &p, "button",
                                   now, &entered);
                    loa_subscriber_release(&p);
                }
            }
        }
        loa__seq_cache_release(&cache);
        return rc == LOA_ENOENT ? 0 : rc;
    }
    enum loa_seq_trigger trig = ev == LOA_SEQ_EVENT_FIRST_MESSAGE ? LOA_SEQ_TRIGGER_WELCOME
                                : ev == LOA_SEQ_EVENT_REF         ? LOA_SEQ_TRIGGER_REF
                                                                  : LOA_SEQ_TRIGGER_TAG;
    const char *source = ev == LOA_SEQ_EVENT_FIRST_MESSAGE ? "welcome"
                         : ev == LOA_SEQ_EVENT_REF         ? "ref"
                                                           : "tag";
    struct trig_ud t = { 0 };
    if ((rc = loa_store_sequence_triggered(st, page_ref, trig, value, triggered, &t)) < 0 ||
        t.n == 0)
        return rc;
    struct loa_subscriber p;
    if ((rc = loa_store_subscriber_get(st, subscriber_id, &p)) < 0)
        return rc == LOA_ENOENT ? 0 : rc;
    struct loa__seq_cache cache = { 0 };
    for (size_t i = 0; rc == 0 && i < t.n; i++) {
        struct loa__seq *s;
        if ((rc = loa__seq_cache_get(st, &cache, t.ids[i], &s)) < 0)
            break;
        bool entered;
        rc = enter_one(tx, o, s, t.groups[i] != 0, &p, source, now, &entered);
        if (rc == 0 && entered)
            LOA_INFO("sequence", "person entered sequence", "sequence=%lld subscriber=%lld by=%s",
                     (long long)s->seq.id, (long long)subscriber_id, source);
    }
    loa__seq_cache_release(&cache);
    loa_subscriber_release(&p);
    return rc;
}

/* ---- Timers ------------------------------------------------------------------------------- */

struct due_list {
    struct loa_enrolment *v;
    char **psids;
    size_t n, cap;
};

static int collect_due(const struct loa_enrolment *e, void *ud)
{
    struct due_list *l = ud;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->v = loa_realloc(l->v, l->cap * sizeof(*l->v));
        l->psids = loa_realloc(l->psids, l->cap * sizeof(*l->psids));
    }
    l->v[l->n] = *e;
    l->v[l->n].end_reason = NULL;
    l->v[l->n].source = NULL;
    l->psids[l->n] = e->psid ? loa_strdup(e->psid) : NULL;
    l->v[l->n].psid = l->psids[l->n];
    l->n++;
    return 0;
}

/* One due timer: queue its step, or pass over / skip it and move the person on. */
static int drain_one(struct loa_txn *tx, const struct loa_sequence_opts *o,
                     struct loa__seq_cache *cache, const struct loa_enrolment *e, int64_t now,
                     struct loa_sequence_drained *out)
{
    struct loa_store *st = loa_txn_store(tx);
    struct loa__seq *s;
    int rc = loa__seq_cache_get(st, cache, e->sequence_id, &s);
    if (rc < 0)
        return rc;
    const struct loa_seq_step *t = loa__seq_find_step(&s->seq, e->step_id);
    if (!t || !t->enabled) /* removed or switched off since: pass over it, same base */
        return advance(tx, o, s, e, step_position(st, s, e->step_id), e->base_at, now);
    struct loa_enrol_send send = {
        .page_ref = s->seq.page_ref,
        .subscriber_id = e->subscriber_id,
        .psid = e->psid,
        .step_id = t->id,
        .due_at = e->due_at > now ? e->due_at : now,
        .priority = LOA_PRIORITY_BULK,
        .at = now,
    };
    if (o->catchup_ms > 0 && now - e->due_at > o->catchup_ms) {
        send.reason = "stale";
    } else if (!e->psid) {
        send.reason = "no_psid";
    } else if (t->inside_window) {
        struct loa_step_due due;
        loa__seq_step_due(st, o, s, t, e->subscriber_id, e->utc_offset_min, e->base_at, now, &due);
        if (due.skip)
            send.reason = due.skip;
        else if (due.due_at > send.due_at)
            send.due_at = due.due_at;
    }
    rc = loa_store_enrol_queue(tx, e->id, &send, NULL);
    if (rc < 0)
        return rc;
    if (!send.reason) {
        out->queued++;
        if (send.due_at > now && (!out->next_send || send.due_at < out->next_send))
            out->next_send = send.due_at; /* pulled later into its window */
        if (o->on_queued)
            o->on_queued(t->id, s->seq.page_ref, send.due_at, o->on_queued_ud);
        return 0;
    }
    LOA_INFO("sequence", "step skipped", "sequence=%lld step=%lld subscriber=%lld reason=%s",
             (long long)s->seq.id, (long long)t->id, (long long)e->subscriber_id, send.reason);
    return advance(tx, o, s, e, t->position, now, now);
}

int loa_sequence_drain(struct loa_txn *tx, const struct loa_sequence_opts *o, int64_t now,
                       int64_t limit, struct loa_sequence_drained *out)
{
    memset(out, 0, sizeof(*out));
    struct loa_store *st = loa_txn_store(tx);
    struct due_list l = { 0 };
    int64_t horizon = now + o->lookahead_ms;
    int rc = loa_store_enrol_due(st, horizon, limit, collect_due, &l);
    struct loa__seq_cache cache = { 0 };
    size_t i = 0;
    for (; rc == 0 && i < l.n; i++)
        rc = drain_one(tx, o, &cache, &l.v[i], now, out);
    loa__seq_cache_release(&cache);
    for (size_t k = 0; k < l.n; k++)
        loa_free(l.psids[k]);
    loa_free(l.psids);
    loa_free(l.v);
    out->handled = (int64_t)i;
    /* What falls due next: at once when the limit left some, else the first timer after the
     * horizon. */
    if (rc == 0 && out->handled >= limit)
        out->next_timer = now;
    else if (rc == 0)
        rc = loa_store_enrol_next_due(st, horizon, &out->next_timer);
    return rc;
}

struct settled_ud {
    struct loa_enrolment e;
    bool found;
};

static int got_enrol(const struct loa_enrolment *e, void *ud)
{
    struct settled_ud *u = ud;
    u->e = *e;
    u->e.psid = u->e.end_reason = u->e.source = NULL; /* not needed past the callback */
    u->found = true;
    return 1;
}

/* Whether the person can no longer be messaged (the dispatcher marked them unreachable). */
static bool person_gone(struct loa_store *st, int64_t subscriber_id)
{
    struct loa_subscriber p;
    if (loa_store_subscriber_get(st, subscriber_id, &p) < 0)
        return true; /* deleted */
    bool gone = p.unreachable;
    loa_subscriber_release(&p);
    return gone;
}

int loa_sequence_settled(struct loa_txn *tx, const struct loa_sequence_opts *o, int64_t delivery_id,
                         enum loa_delivery_state state, int64_t at, int64_t now)
{
    if (state == LOA_DELIVERY_UNKNOWN && o->await_reconcile)
        return 0; /* the reconciler will tell: loa_sequence_reconciled() */
    bool refused_by_rules = state == LOA_DELIVERY_SKIPPED;
    struct loa_store *st = loa_txn_store(tx);
    struct settled_ud u = { 0 };
    int rc = loa_store_enrol_by_delivery(st, delivery_id, got_enrol, &u);
    if (rc == LOA_ENOENT || (rc == 0 && !u.found))
        return 0; /* removed meanwhile, or settled already */
    if (rc < 0)
        return rc;
    struct loa__seq_cache cache = { 0 };
    struct loa__seq *s;
    if ((rc = loa__seq_cache_get(st, &cache, u.e.sequence_id, &s)) == 0) {
        if (person_gone(st, u.e.subscriber_id)) /* blocked the Page, cannot be reached */
            rc = loa_store_enrol_remove(tx, s->seq.id, u.e.subscriber_id, "unreachable", now, NULL);
        else if (refused_by_rules && s->seq.leave_on_refused)
            rc = loa_store_enrol_remove(tx, s->seq.id, u.e.subscriber_id, "refused", now, NULL);
        else {
            /* A sent question: the next step counts from the answer (re-timed when it comes,
             * LOA_SEQ_EVENT_ANSWERED) or from the end of the wait. */
            const struct loa_seq_step *t = loa__seq_find_step(&s->seq, u.e.step_id);
            int64_t base =
                t && t->waits && state == LOA_DELIVERY_SENT ? at + o->reply_timeout_ms : at;
            rc = advance(tx, o, s, &u.e, step_position(st, s, u.e.step_id), base, now);
        }
    }
    loa__seq_cache_release(&cache);
    return rc;
}

int loa_sequence_reconciled(struct loa_txn *tx, const struct loa_sequence_opts *o,
                            int64_t delivery_id, bool sent, int64_t at, int64_t now)
{
    if (sent)
        return loa_sequence_settled(tx, o, delivery_id, LOA_DELIVERY_SENT, at, now);
    struct settled_ud u = { 0 };
    int rc = loa_store_enrol_by_delivery(loa_txn_store(tx), delivery_id, got_enrol, &u);
    if (rc == LOA_ENOENT || (rc == 0 && !u.found))
        return 0;
    if (rc < 0)
        return rc;
    bool changed = false;
    rc = loa_store_enrol_requeue(tx, u.e.id, delivery_id, now, &changed);
    if (rc == 0 && changed)
        LOA_INFO("sequence", "step not sent before a stop goes again",
                 "sequence=%lld step=%lld subscriber=%lld delivery=%lld",
                 (long long)u.e.sequence_id, (long long)u.e.step_id, (long long)u.e.subscriber_id,
                 (long long)delivery_id);
    return rc;
}

struct ended {
    int64_t id[512];
    enum loa_delivery_state state[512];
    int64_t at[512];
    bool not_sent[512];
    size_t n;
};

static int got_ended(int64_t delivery_id, const char *state, int64_t at, int64_t reconciled_at,
                     void *ud)
{
    struct ended *e = ud;
    e->id[e->n] = delivery_id;
    enum loa_delivery_state st = LOA_DELIVERY_UNKNOWN;
    if (state)
        loa_delivery_state_parse(state, &st);
    e->state[e->n] = st;
    e->at[e->n] = at;
    e->not_sent[e->n] = st == LOA_DELIVERY_UNKNOWN && reconciled_at > 0;
    e->n++;
    return 0;
}

int loa_sequence_resume(struct loa_store *st, const struct loa_sequence_opts *o, int64_t now,
                        int64_t *count_out)
{
    struct ended *e = loa_malloc(sizeof(*e));
    int64_t after = 0, count = 0;
    int rc;
    do {
        e->n = 0;
        if ((rc = loa_store_enrol_sends_ended(st, after, 512, got_ended, e)) < 0 || e->n == 0)
            break;
        struct loa_txn *tx;
        if ((rc = loa_store_begin(st, &tx)) < 0)
            break;
        for (size_t i = 0; rc == 0 && i < e->n; i++) {
            after = e->id[i];
            rc = e->not_sent[i] ? loa_sequence_reconciled(tx, o, e->id[i], false, now, now)
                                : loa_sequence_settled(tx, o, e->id[i], e->state[i],
                                                       e->at[i] ? e->at[i] : now, now);
        }
        if ((rc = loa_store_end(tx, rc)) < 0)
            break;
        count += (int64_t)e->n;
    } while (e->n == 512);
    loa_free(e);
    if (count_out)
        *count_out = count;
    return rc;
}
