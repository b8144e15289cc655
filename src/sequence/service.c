/* SPDX-License-Identifier: MIT */
/*
 * The sequence service's sequences (include/loa/sequence.h): create, edit live (re-timing the
 * people in it) and delete.
 */
#include <string.h>

#include <loa/alloc.h>
#include <loa/err.h>
#include <loa/log.h>
#include <loa/sequence.h>

#include "sequence_int.h"

#define RETIME_BATCH 1000

int loa_sequence_create(struct loa_store *st, const struct loa_sequence *in, int64_t now,
                        int64_t *id_out)
{
    struct loa_txn *tx;
    int rc = loa_store_begin(st, &tx);
    return rc < 0 ? rc : loa_store_end(tx, loa_store_sequence_create(tx, in, now, id_out));
}

/* Whether step a (stored before) times differently as b (after). */
static bool step_retimed(const struct loa_seq_step *a, const struct loa_seq_step *b)
{
    return !b || !b->enabled || a->delay_ms != b->delay_ms ||
           a->inside_window != b->inside_window || a->any_time != b->any_time ||
           a->waits != b->waits || a->position != b->position;
}

static bool window_changed(const struct loa_sequence *a, const struct loa_sequence *b)
{
    return a->window_from_min != b->window_from_min || a->window_to_min != b->window_to_min ||
           a->weekdays != b->weekdays || a->person_clock != b->person_clock;
}

struct batch {
    struct loa_enrolment v[RETIME_BATCH];
    size_t n;
};

static int collect(const struct loa_enrolment *e, void *ud)
{
    struct batch *b = ud;
    b->v[b->n] = *e;
    b->v[b->n].psid = b->v[b->n].end_reason = b->v[b->n].source = NULL;
    b->n++;
    return 0;
}

/* Re-times everyone waiting in sequence s (already stored with its new steps). */
static int retime(struct loa_txn *tx, const struct loa_sequence_opts *o, const struct loa__seq *s,
                  int64_t now, int64_t *count)
{
    struct loa_store *st = loa_txn_store(tx);
    struct batch *b = loa_malloc(sizeof(*b));
    int64_t after = 0;
    int rc = 0;
    do {
        b->n = 0;
        rc = loa_store_enrol_list(st, 0, s->seq.id, 0, 1u << LOA_ENROL_WAITING, 0, after,
                                  RETIME_BATCH, collect, b);
        for (size_t i = 0; rc == 0 && i < b->n; i++) {
            const struct loa_enrolment *e = &b->v[i];
            after = e->id;
            const struct loa_seq_step *t = loa__seq_find_step(&s->seq, e->step_id);
            if (!t || !t->enabled) {
                /* Its step is gone or off: wait for the next one that is on, same base. */
                struct loa_seq_step_info info = { 0 };
                int64_t pos = 0;
                if (loa_store_seq_step_get(st, e->step_id, &info) == 0)
                    pos = info.retired ? info.step.position : info.step.position + 1;
                loa_seq_step_info_release(&info);
                const struct loa_seq_step *next = loa__seq_next_step(&s->seq, pos);
                struct loa_step_due due = { 0 };
                if (next)
                    loa__seq_step_due(st, o, s, next, e->subscriber_id, e->utc_offset_min,
                                      e->base_at, now, &due);
                rc = loa_store_enrol_advance(tx, e->id, next ? next->id : 0, e->base_at, due.due_at,
                                             now);
            } else {
                struct loa_step_due due;
                loa__seq_step_due(st, o, s, t, e->subscriber_id, e->utc_offset_min, e->base_at, now,
                                  &due);
                if (due.due_at != e->due_at)
                    rc = loa_store_enrol_set_due(tx, e->id, due.due_at);
            }
            (*count)++;
        }
    } while (rc == 0 && b->n == RETIME_BATCH);
    loa_free(b);
    return rc;
}

static int update_txn(struct loa_txn *tx, const struct loa_sequence_opts *o,
                      const struct loa_sequence *in, int64_t now)
{
    struct loa_store *st = loa_txn_store(tx);
    struct loa_sequence old;
    int rc = loa_store_sequence_get(st, in->id, &old);
    if (rc < 0)
        return rc;
    if ((rc = loa_store_sequence_update(tx, in, now)) < 0)
        goto out;
    struct loa__seq_cache cache = { 0 };
    struct loa__seq *s;
    if ((rc = loa__seq_cache_get(st, &cache, in->id, &s)) < 0) {
        loa__seq_cache_release(&cache);
        goto out;
    }
    bool all = window_changed(&old, &s->seq) || !s->seq.active;
    bool any = all || old.nsteps != s->seq.nsteps;
    int64_t unqueued = 0, n;
    for (size_t i = 0; rc == 0 && i < old.nsteps; i++) {
        const struct loa_seq_step *now_step = loa__seq_find_step(&s->seq, old.steps[i].id);
        if (all || step_retimed(&old.steps[i], now_step)) {
            any = true;
            if (!all) {
                rc = loa_store_enrol_unqueue(tx, in->id, old.steps[i].id, &n);
                unqueued += n;
            }
        }
    }
    if (rc == 0 && all) {
        rc = loa_store_enrol_unqueue(tx, in->id, 0, &n);
        unqueued += n;
    }
    int64_t retimed = 0;
    if (rc == 0 && any && s->seq.active)
        rc = retime(tx, o, s, now, &retimed);
    if (rc == 0 && (unqueued || retimed))
        LOA_INFO("sequence", "sequence edited; people re-timed",
                 "sequence=%lld unqueued=%lld retimed=%lld", (long long)in->id, (long long)unqueued,
                 (long long)retimed);
    loa__seq_cache_release(&cache);
out:
    loa_sequence_release(&old);
    return rc;
}

int loa_sequence_update(struct loa_store *st, const struct loa_sequence_opts *o,
                        const struct loa_sequence *in, int64_t now)
{
    struct loa_txn *tx;
    int rc = loa_store_begin(st, &tx);
    return rc < 0 ? rc : loa_store_end(tx, update_txn(tx, o, in, now));
}

int loa_sequence_delete(struct loa_store *st, int64_t id, int64_t now)
{
    struct loa_txn *tx;
    int rc = loa_store_begin(st, &tx);
    if (rc < 0)
        return rc;
    int64_t removed = 0;
    rc = loa_store_enrol_remove_all(tx, id, "sequence_deleted", now, &removed);
    if (rc == 0)
        rc = loa_store_sequence_delete(tx, id);
    if ((rc = loa_store_end(tx, rc)) == 0)
        LOA_INFO("sequence", "sequence deleted", "sequence=%lld removed=%lld", (long long)id,
                 (long long)removed);
    return rc;
}

/* ---- Groups ------------------------------------------------------------------------------- */

int loa_sequence_group_create(struct loa_store *st, int64_t page_ref, const char *name,
                              bool one_at_a_time, int64_t now, int64_t *id_out)
{
    struct loa_txn *tx;
    int rc = loa_store_begin(st, &tx);
    return rc < 0 ? rc
                  : loa_store_end(tx, loa_store_seq_group_create(tx, page_ref, name, one_at_a_time,
                                                                 now, id_out));
}

int loa_sequence_group_update(struct loa_store *st, int64_t id, const char *name, int64_t position,
                              int one_at_a_time, int64_t now)
{
    struct loa_txn *tx;
    int rc = loa_store_begin(st, &tx);
    return rc < 0 ? rc
                  : loa_store_end(
                        tx, loa_store_seq_group_update(tx, id, name, position, one_at_a_time, now));
}

int loa_sequence_group_delete(struct loa_store *st, int64_t id)
{
    struct loa_txn *tx;
    int rc = loa_store_begin(st, &tx);
    return rc < 0 ? rc : loa_store_end(tx, loa_store_seq_group_delete(tx, id));
}
