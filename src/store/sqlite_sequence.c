/* SPDX-License-Identifier: MIT */
/*
 * The SQLite backend, schema 9: sequence groups, sequences, their steps and enrolments
 * (docs/sequences.md). Rows only: when a step falls due and who may enter is decided by the
 * sequence service (src/sequence).
 *
 * Every write runs in the caller's transaction (tx); those that change several rows (a
 * sequence with its steps, queueing a step's send, removing people) run as a savepoint of it
 * (loa__op_begin/end), so a failed call leaves the transaction as it found it.
 *
 * Statements are cached in the store's slots [LOA__XSTMT_SEQUENCE, +40).
 */
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include <loa/alloc.h>
#include <loa/err.h>
#include <loa/store.h>

#include "store_int.h"

enum {
    Q_GROUP_INSERT = 0,
    Q_GROUP_UPDATE,
    Q_GROUP_DELETE,
    Q_GROUP_GET,
    Q_GROUP_LIST,
    Q_SEQ_INSERT,
    Q_SEQ_UPDATE,
    Q_SEQ_GET,
    Q_SEQ_LIST,
    Q_SEQ_DELETE,
    Q_STEP_INSERT,
    Q_STEP_UPDATE,
    Q_STEP_RETIRE_ALL,
    Q_STEPS_OF,
    Q_STEP_GET,
    Q_TRIGGERED,
    Q_ENROL_INSERT,
    Q_ENROL_LIVE,
    Q_ENROL_END,
    Q_DELIVERY_SKIP_PENDING,
    Q_ENROL_LIST,
    Q_ENROL_LIST_PERSON,
    Q_ENROL_DUE,
    Q_ENROL_BY_DELIVERY,
    Q_DELIVERY_INSERT,
    Q_ENROL_MARK_QUEUED,
    Q_ENROL_ADVANCE,
    Q_UNQUEUE_SELECT,
    Q_ENROL_SET_DUE,
    Q_ENROL_REQUEUE,
    Q_ENROL_NEXT_DUE,
    Q_STEPS_LIVE,
    Q_SENDS_ENDED,
    Q_STATS_ENROL,
    Q_STATS_STEP,
    Q_STATS_REASON,
    Q_COUNT
};
_Static_assert(LOA__XSTMT_SEQUENCE + Q_COUNT <= LOA__XSTMT_REPLY, "sequence statement slots");

#define SEQ_COLUMNS                                                                              \
    "id, page_ref, coalesce(group_id, 0), name, active, window_from_min, window_to_min, "        \
    "weekdays, person_clock, leave_on_reply, leave_on_refused, welcome, ref, tags, created_at, " \
    "updated_at"
#define STEP_COLUMNS                                                                               \
    "id, position, enabled, delay_n, delay_unit, delay_ms, inside_window, note, blocks, purpose, " \
    "any_time, waits"
#define ENROL_COLUMNS                                                                       \
    "e.id, e.sequence_id, e.subscriber_id, e.state, e.step_id, e.base_at, e.due_at, "       \
    "e.delivery_id, e.entered_at, e.ended_at, e.end_reason, e.source, s.page_ref, p.psid, " \
    "p.utc_offset_min, p.last_interaction_at"
#define ENROL_FROM                                                \
    " FROM enrolments e JOIN sequences s ON s.id = e.sequence_id" \
    " JOIN subscribers p ON p.id = e.subscriber_id"

static const char *const qsql[Q_COUNT] = {
    [Q_GROUP_INSERT] = "INSERT INTO sequence_groups (page_ref, name, position, one_at_a_time,"
                       " created_at, updated_at) VALUES (?1, ?2, (SELECT coalesce(max(position),"
                       " -1) + 1 FROM sequence_groups WHERE page_ref = ?1), ?3, ?4, ?4)",
    [Q_GROUP_UPDATE] = "UPDATE sequence_groups SET name = coalesce(?2, name),"
                       " position = CASE WHEN ?3 < 0 THEN position ELSE ?3 END,"
                       " one_at_a_time = CASE WHEN ?4 < 0 THEN one_at_a_time ELSE ?4 END,"
                       " updated_at = ?5 WHERE id = ?1",
    [Q_GROUP_DELETE] = "DELETE FROM sequence_groups WHERE id = ?",
    [Q_GROUP_GET] = "SELECT id, page_ref, name, position, one_at_a_time, created_at, updated_at"
                    " FROM sequence_groups WHERE id = ?",
    [Q_GROUP_LIST] = "SELECT id, page_ref, name, position, one_at_a_time, created_at, updated_at"
                     " FROM sequence_groups WHERE ?1 = 0 OR page_ref = ?1 ORDER BY position, id",
    [Q_SEQ_INSERT] = "INSERT INTO sequences (page_ref, group_id, name, active, window_from_min,"
                     " window_to_min, weekdays, person_clock, leave_on_reply, leave_on_refused,"
                     " welcome, ref, tags, created_at, updated_at) VALUES (?1, nullif(?2, 0), ?3,"
                     " ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14)",
    [Q_SEQ_UPDATE] = "UPDATE sequences SET group_id = nullif(?2, 0), name = ?3, active = ?4,"
                     " window_from_min = ?5, window_to_min = ?6, weekdays = ?7,"
                     " person_clock = ?8, leave_on_reply = ?9, leave_on_refused = ?10,"
                     " welcome = ?11, ref = ?12, tags = ?13, updated_at = ?14 WHERE id = ?1",
    [Q_SEQ_GET] = "SELECT " SEQ_COLUMNS " FROM sequences WHERE id = ?",
    [Q_SEQ_LIST] = "SELECT " SEQ_COLUMNS " FROM sequences WHERE ?1 = 0 OR page_ref = ?1"
                   " ORDER BY id",
    [Q_SEQ_DELETE] = "DELETE FROM sequences WHERE id = ?",
    [Q_STEP_INSERT] =
        "INSERT INTO sequence_steps (sequence_id, position, enabled, delay_n,"
        " delay_unit, delay_ms, inside_window, note, blocks, purpose, any_time, waits)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?12, ?13)",
    [Q_STEP_UPDATE] = "UPDATE sequence_steps SET position = ?2, enabled = ?3, delay_n = ?4,"
                      " delay_unit = ?5, delay_ms = ?6, inside_window = ?7, note = ?8,"
                      " blocks = ?9, purpose = ?10, any_time = ?12, waits = ?13, retired = 0"
                      " WHERE sequence_id = ?1 AND id = ?11",
    [Q_STEP_RETIRE_ALL] = "UPDATE sequence_steps SET retired = 1"
                          " WHERE sequence_id = ?",
    [Q_STEPS_OF] = "SELECT " STEP_COLUMNS " FROM sequence_steps WHERE sequence_id = ?"
                   " AND retired = 0 ORDER BY position",
    [Q_STEP_GET] =
        "SELECT t.id, t.position, t.enabled, t.delay_n, t.delay_unit, t.delay_ms,"
        " t.inside_window, t.note, t.blocks, t.purpose, t.any_time, t.waits, t.sequence_id,"
        " s.page_ref, t.retired, s.active, s.updated_at, s.window_from_min,"
        " s.window_to_min, s.weekdays, s.person_clock FROM sequence_steps t"
        " JOIN sequences s ON s.id = t.sequence_id WHERE t.id = ?",
    [Q_TRIGGERED] = "SELECT s.id, coalesce(s.group_id, 0), coalesce(g.one_at_a_time, 0)"
                    " FROM sequences s LEFT JOIN sequence_groups g ON g.id = s.group_id"
                    " WHERE s.page_ref = ?1 AND s.active AND CASE ?2"
                    "  WHEN 0 THEN s.welcome"
                    "  WHEN 1 THEN s.ref = ?3"
                    "  ELSE EXISTS (SELECT 1 FROM json_each(s.tags)"
                    "   WHERE loa_fold(value) = loa_fold(?3)) END" /* tags: any case or form */
                    " ORDER BY s.created_at, s.id",
    [Q_ENROL_INSERT] = "INSERT INTO enrolments (sequence_id, subscriber_id, state, step_id,"
                       " base_at, due_at, entered_at, ended_at, source)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                       " ON CONFLICT (subscriber_id, sequence_id) WHERE state < 2 DO NOTHING",
    [Q_ENROL_LIVE] = "SELECT id, state, delivery_id FROM enrolments"
                     " WHERE subscriber_id = ?2 AND sequence_id = ?1 AND state < 2",
    [Q_ENROL_END] = "UPDATE enrolments SET state = ?2, ended_at = ?3, end_reason = ?4,"
                    " step_id = 0, due_at = 0, delivery_id = 0 WHERE id = ?1 AND state < 2",
    [Q_DELIVERY_SKIP_PENDING] = "UPDATE deliveries SET state = 'skipped', reason = ?2"
                                " WHERE id = ?1 AND state = 'pending'",
    [Q_ENROL_LIST] = "SELECT " ENROL_COLUMNS ENROL_FROM
                     " WHERE (?1 = 0 OR s.page_ref = ?1) AND (?2 = 0 OR e.sequence_id = ?2)"
                     " AND (?3 = 0 OR e.subscriber_id = ?3) AND (?4 = 0 OR (?4 >> e.state) & 1)"
                     " AND (?5 = 0 OR e.step_id = ?5) AND e.id > ?6 ORDER BY e.id LIMIT ?7",
    /* One person's live enrolments (intake asks on every message): through enrolments_live,
     * not a walk over every enrolment as the general form's "?3 = 0 OR" makes it. */
    [Q_ENROL_LIST_PERSON] =
        "SELECT " ENROL_COLUMNS ENROL_FROM " WHERE e.subscriber_id = ?3 AND e.state < 2"
        " AND (?1 = 0 OR s.page_ref = ?1) AND (?2 = 0 OR e.sequence_id = ?2)"
        " AND (?4 >> e.state) & 1 AND (?5 = 0 OR e.step_id = ?5)"
        " AND e.id > ?6 ORDER BY e.id LIMIT ?7",
    [Q_ENROL_DUE] =
        "SELECT " ENROL_COLUMNS ENROL_FROM " WHERE e.state = 0 AND e.due_at <= ?1 AND s.active"
        " ORDER BY e.due_at LIMIT ?2",
    /* A step's delivery holds its enrolment's id in position (Q_DELIVERY_INSERT): found by
     * key, not by a scan of every enrolment (there is no index on delivery_id). */
    [Q_ENROL_BY_DELIVERY] =
        "SELECT " ENROL_COLUMNS ENROL_FROM " WHERE e.id = (SELECT position FROM deliveries"
        "  WHERE id = ?1 AND source = 'sequence') AND e.state = 1 AND e.delivery_id = ?1"
        " AND e.step_id = (SELECT source_id FROM deliveries WHERE id = ?1"
        "  AND source = 'sequence')",
    [Q_DELIVERY_INSERT] = "INSERT INTO deliveries (source, source_id, priority, campaign_id,"
                          " page_ref, subscriber_id, psid, position, state, reason, next_at,"
                          " claimed_at) VALUES ('sequence', ?1, ?2, NULL, ?3, ?4, ?5, ?6, ?7, ?8,"
                          " ?9, ?10)",
    [Q_ENROL_MARK_QUEUED] = "UPDATE enrolments SET state = 1, delivery_id = ?2"
                            " WHERE id = ?1 AND state = 0 AND step_id = ?3",
    [Q_ENROL_ADVANCE] = "UPDATE enrolments SET state = CASE WHEN ?2 = 0 THEN 2 ELSE 0 END,"
                        " step_id = ?2, base_at = ?3, due_at = CASE WHEN ?2 = 0 THEN 0 ELSE ?4"
                        " END, delivery_id = 0, ended_at = CASE WHEN ?2 = 0 THEN ?5 ELSE 0 END"
                        " WHERE id = ?1 AND state < 2",
    [Q_UNQUEUE_SELECT] = "SELECT e.id, e.delivery_id FROM enrolments e"
                         " JOIN deliveries d ON d.id = e.delivery_id"
                         " WHERE e.sequence_id = ?1 AND e.state = 1"
                         " AND (?2 = 0 OR e.step_id = ?2) AND d.state = 'pending'",
    [Q_ENROL_SET_DUE] = "UPDATE enrolments SET due_at = ?2 WHERE id = ?1 AND state = 0",
    [Q_ENROL_NEXT_DUE] = "SELECT e.due_at FROM enrolments e JOIN sequences s"
                         " ON s.id = e.sequence_id WHERE e.state = 0 AND e.due_at > ?1"
                         " AND s.active ORDER BY e.due_at LIMIT 1",
    [Q_ENROL_REQUEUE] = "UPDATE enrolments SET state = 0, due_at = ?3, delivery_id = 0"
                        " WHERE id = ?1 AND state = 1 AND delivery_id = ?2",
    /* One probe of enrolments_sequence per step (retired ones included), not a walk over
     * every queued enrolment: the dispatcher asks this every tick. */
    [Q_STEPS_LIVE] = "SELECT t.id, s.page_ref FROM sequences s"
                     " JOIN sequence_steps t ON t.sequence_id = s.id"
                     " WHERE EXISTS (SELECT 1 FROM enrolments e WHERE e.sequence_id = s.id"
                     "  AND e.state = 1 AND e.step_id = t.id)",
    [Q_SENDS_ENDED] = "SELECT d.id, d.state, max(d.sent_at, d.claimed_at, d.next_at),"
                      " d.reconciled_at"
                      " FROM enrolments e JOIN deliveries d ON d.id = e.delivery_id"
                      " WHERE e.state = 1 AND d.state NOT IN ('pending', 'in_flight')"
                      " AND d.id > ?1 ORDER BY d.id LIMIT ?2",
    [Q_STATS_ENROL] = "SELECT state, count(*) FROM enrolments WHERE sequence_id = ?"
                      " GROUP BY state",
    [Q_STATS_STEP] = "SELECT t.id,"
                     " (SELECT count(*) FROM enrolments e WHERE e.sequence_id = t.sequence_id"
                     "   AND e.state = 0 AND e.step_id = t.id),"
                     " (SELECT count(*) FROM enrolments e WHERE e.sequence_id = t.sequence_id"
                     "   AND e.state = 1 AND e.step_id = t.id),"
                     " count(d.id) FILTER (WHERE d.state = 'sent'),"
                     " count(d.id) FILTER (WHERE d.delivered_at > 0),"
                     " count(d.id) FILTER (WHERE d.read_at > 0),"
                     " count(d.id) FILTER (WHERE d.clicked_at > 0),"
                     " count(d.id) FILTER (WHERE d.replied_at > 0),"
                     " count(d.id) FILTER (WHERE d.state = 'failed'),"
                     " count(d.id) FILTER (WHERE d.state = 'skipped'),"
                     " count(d.id) FILTER (WHERE d.state = 'unknown')"
                     " FROM sequence_steps t LEFT JOIN deliveries d"
                     "  ON d.source_id = t.id AND d.source = 'sequence'"
                     " WHERE t.sequence_id = ? GROUP BY t.id ORDER BY t.retired, t.position, t.id",
    [Q_STATS_REASON] = "SELECT t.id, d.state, coalesce(d.reason, ''), count(*)"
                       " FROM sequence_steps t JOIN deliveries d"
                       "  ON d.source_id = t.id AND d.source = 'sequence'"
                       " WHERE t.sequence_id = ? AND d.state IN ('failed', 'skipped', 'unknown')"
                       " GROUP BY t.id, d.state, d.reason ORDER BY t.id, 4 DESC",
};

static sqlite3_stmt *q(struct loa_store *st, int id)
{
    if (st->version < 9)
        return NULL;
    return loa__stmt_cached(st, &st->xstmts[LOA__XSTMT_SEQUENCE + id], qsql[id]);
}

const char *loa_enrol_state_name(enum loa_enrol_state s)
{
    static const char *const names[LOA_ENROL_STATE_COUNT] = { "waiting", "queued", "finished",
                                                              "removed" };
    return (unsigned)s < LOA_ENROL_STATE_COUNT ? names[s] : "unknown";
}

/* ---- Groups ------------------------------------------------------------------------------ */

void loa_seq_group_release(struct loa_seq_group *g)
{
    LOA_FREE(g->name);
}

static void read_group(sqlite3_stmt *s, struct loa_seq_group *g)
{
    g->id = sqlite3_column_int64(s, 0);
    g->page_ref = sqlite3_column_int64(s, 1);
    g->name = loa__col_dup(s, 2);
    g->position = sqlite3_column_int64(s, 3);
    g->one_at_a_time = sqlite3_column_int(s, 4) != 0;
    g->created_at = sqlite3_column_int64(s, 5);
    g->updated_at = sqlite3_column_int64(s, 6);
}

int loa__sqlite_seq_group_create(struct loa_txn *tx, int64_t page_ref, const char *name,
                                 bool one_at_a_time, int64_t now, int64_t *id_out)
{
    struct loa_store *st = tx->st;
    sqlite3_stmt *s = q(st, Q_GROUP_INSERT);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, page_ref);
    loa__bind_text(s, 2, name);
    sqlite3_bind_int(s, 3, one_at_a_time);
    sqlite3_bind_int64(s, 4, now);
    int rc = loa__step_done(st, s, "create sequence group", NULL);
    if (rc == 0 && id_out)
        *id_out = sqlite3_last_insert_rowid(st->db);
    return rc;
}

int loa__sqlite_seq_group_update(struct loa_txn *tx, int64_t id, const char *name, int64_t position,
                                 int one_at_a_time, int64_t now)
{
    struct loa_store *st = tx->st;
    sqlite3_stmt *s = q(st, Q_GROUP_UPDATE);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, id);
    loa__bind_text(s, 2, name);
    sqlite3_bind_int64(s, 3, position);
    sqlite3_bind_int(s, 4, one_at_a_time);
    sqlite3_bind_int64(s, 5, now);
    bool changed = false;
    int rc = loa__step_done(st, s, "update sequence group", &changed);
    return rc < 0 ? rc : changed ? 0 : LOA_ENOENT;
}

int loa__sqlite_seq_group_delete(struct loa_txn *tx, int64_t id)
{
    struct loa_store *st = tx->st;
    sqlite3_stmt *s = q(st, Q_GROUP_DELETE);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, id);
    bool changed = false;
    int rc = loa__step_done(st, s, "delete sequence group", &changed);
    return rc < 0 ? rc : changed ? 0 : LOA_ENOENT;
}

int loa__sqlite_seq_group_get(struct loa_store *st, int64_t id, struct loa_seq_group *out)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *s = q(st, Q_GROUP_GET);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, id);
    int rc = loa__step_row(st, s, "read group");
    if (rc == 0)
        read_group(s, out);
    sqlite3_reset(s);
    return rc;
}

int loa__sqlite_seq_group_list(struct loa_store *st, int64_t page_ref,
                               int (*fn)(const struct loa_seq_group *g, void *ud), void *ud)
{
    sqlite3_stmt *s = q(st, Q_GROUP_LIST);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, page_ref);
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct loa_seq_group g;
        read_group(s, &g);
        int stop = fn(&g, ud);
        loa_seq_group_release(&g);
        if (stop)
            break;
    }
    return loa__step_end(st, s, step, "list groups");
}

/* ---- Sequences and steps ----------------------------------------------------------------- */

void loa_sequence_release(struct loa_sequence *q)
{
    LOA_FREE(q->name);
    LOA_FREE(q->ref);
    LOA_FREE(q->tags);
    for (size_t i = 0; i < q->nsteps; i++) {
        LOA_FREE(q->steps[i].note);
        LOA_FREE(q->steps[i].blocks);
        LOA_FREE(q->steps[i].purpose);
    }
    LOA_FREE(q->steps);
    q->nsteps = 0;
}

static void read_seq(sqlite3_stmt *s, struct loa_sequence *o)
{
    memset(o, 0, sizeof(*o));
    o->id = sqlite3_column_int64(s, 0);
    o->page_ref = sqlite3_column_int64(s, 1);
    o->group_id = sqlite3_column_int64(s, 2);
    o->name = loa__col_dup(s, 3);
    o->active = sqlite3_column_int(s, 4) != 0;
    o->window_from_min = sqlite3_column_int(s, 5);
    o->window_to_min = sqlite3_column_int(s, 6);
    o->weekdays = (uint32_t)sqlite3_column_int(s, 7);
    o->person_clock = sqlite3_column_int(s, 8) != 0;
    o->leave_on_reply = sqlite3_column_int(s, 9) != 0;
    o->leave_on_refused = sqlite3_column_int(s, 10) != 0;
    o->welcome = sqlite3_column_int(s, 11) != 0;
    o->ref = loa__col_dup(s, 12);
    o->tags = loa__col_dup(s, 13);
    o->created_at = sqlite3_column_int64(s, 14);
    o->updated_at = sqlite3_column_int64(s, 15);
}

static void read_step(sqlite3_stmt *s, struct loa_seq_step *t)
{
    t->id = sqlite3_column_int64(s, 0);
    t->position = sqlite3_column_int64(s, 1);
    t->enabled = sqlite3_column_int(s, 2) != 0;
    t->delay_n = sqlite3_column_int64(s, 3);
    t->delay_unit = sqlite3_column_int(s, 4);
    t->delay_ms = sqlite3_column_int64(s, 5);
    t->inside_window = sqlite3_column_int(s, 6) != 0;
    t->note = loa__col_dup(s, 7);
    t->blocks = loa__col_dup(s, 8);
    t->purpose = loa__col_dup(s, 9);
    t->any_time = sqlite3_column_int(s, 10) != 0;
    t->waits = sqlite3_column_int(s, 11) != 0;
}

/* Binds a sequence's settings as Q_SEQ_INSERT and Q_SEQ_UPDATE number them (2..14). */
static void bind_seq(sqlite3_stmt *s, const struct loa_sequence *in, int64_t now)
{
    sqlite3_bind_int64(s, 2, in->group_id);
    loa__bind_text(s, 3, in->name);
    sqlite3_bind_int(s, 4, in->active);
    sqlite3_bind_int(s, 5, in->window_from_min);
    sqlite3_bind_int(s, 6, in->window_to_min);
    sqlite3_bind_int(s, 7, (int)in->weekdays);
    sqlite3_bind_int(s, 8, in->person_clock);
    sqlite3_bind_int(s, 9, in->leave_on_reply);
    sqlite3_bind_int(s, 10, in->leave_on_refused);
    sqlite3_bind_int(s, 11, in->welcome);
    loa__bind_text(s, 12, in->ref && *in->ref ? in->ref : NULL);
    loa__bind_text(s, 13, in->tags ? in->tags : "[]");
    sqlite3_bind_int64(s, 14, now);
}

static void bind_step(sqlite3_stmt *s, int64_t seq, int64_t pos, const struct loa_seq_step *t)
{
    sqlite3_bind_int64(s, 1, seq);
    sqlite3_bind_int64(s, 2, pos);
    sqlite3_bind_int(s, 3, t->enabled);
    sqlite3_bind_int64(s, 4, t->delay_n);
    sqlite3_bind_int(s, 5, t->delay_unit);
    sqlite3_bind_int64(s, 6, t->delay_ms);
    sqlite3_bind_int(s, 7, t->inside_window);
    loa__bind_text(s, 8, t->note);
    loa__bind_text(s, 9, t->blocks);
    loa__bind_text(s, 10, t->purpose);
    sqlite3_bind_int(s, 12, t->any_time);
    sqlite3_bind_int(s, 13, t->waits);
}

static int write_steps(struct loa_store *st, int64_t seq, const struct loa_sequence *in)
{
    for (size_t i = 0; i < in->nsteps; i++) {
        const struct loa_seq_step *t = &in->steps[i];
        sqlite3_stmt *s = q(st, t->id ? Q_STEP_UPDATE : Q_STEP_INSERT);
        if (!s)
            return LOA_ESTORE;
        bind_step(s, seq, (int64_t)i, t);
        if (t->id)
            sqlite3_bind_int64(s, 11, t->id);
        bool changed = false;
        int rc = loa__step_done(st, s, "write sequence step", &changed);
        if (rc < 0)
            return rc;
        if (t->id && !changed)
            return LOA_ENOENT; /* not a step of this sequence */
    }
    return 0;
}

static int sequence_create_op(struct loa_txn *tx, const struct loa_sequence *in, int64_t now,
                              int64_t *id_out)
{
    struct loa_store *st = tx->st;
    sqlite3_stmt *s = q(st, Q_SEQ_INSERT);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, in->page_ref);
    bind_seq(s, in, now);
    int rc = loa__step_done(st, s, "create sequence", NULL);
    if (rc < 0)
        return rc;
    int64_t id = sqlite3_last_insert_rowid(st->db);
    struct loa_sequence fresh = *in;
    fresh.id = id;
    struct loa_seq_step *steps = NULL;
    if (in->nsteps) { /* ids of an input are ignored on create */
        steps = loa_calloc(in->nsteps, sizeof(*steps));
        memcpy(steps, in->steps, in->nsteps * sizeof(*steps));
        for (size_t i = 0; i < in->nsteps; i++)
            steps[i].id = 0;
        fresh.steps = steps;
    }
    rc = write_steps(st, id, &fresh);
    loa_free(steps);
    if (rc == 0 && id_out)
        *id_out = id;
    return rc;
}

int loa__sqlite_sequence_create(struct loa_txn *tx, const struct loa_sequence *in, int64_t now,
                                int64_t *id_out)
{
    int rc = loa__op_begin(tx->st);
    return rc < 0 ? rc : loa__op_end(tx->st, sequence_create_op(tx, in, now, id_out));
}

static int sequence_update_op(struct loa_txn *tx, const struct loa_sequence *in, int64_t now)
{
    struct loa_store *st = tx->st;
    sqlite3_stmt *s = q(st, Q_SEQ_UPDATE);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, in->id);
    bind_seq(s, in, now);
    bool changed = false;
    int rc = loa__step_done(st, s, "update sequence", &changed);
    if (rc < 0)
        return rc;
    if (!changed)
        return LOA_ENOENT;
    /* Retire every step, then bring back (in the new order) those listed. */
    s = q(st, Q_STEP_RETIRE_ALL);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, in->id);
    if ((rc = loa__step_done(st, s, "retire steps", NULL)) < 0)
        return rc;
    return write_steps(st, in->id, in);
}

int loa__sqlite_sequence_update(struct loa_txn *tx, const struct loa_sequence *in, int64_t now)
{
    int rc = loa__op_begin(tx->st);
    return rc < 0 ? rc : loa__op_end(tx->st, sequence_update_op(tx, in, now));
}

static int read_steps(struct loa_store *st, struct loa_sequence *o)
{
    sqlite3_stmt *s = q(st, Q_STEPS_OF);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, o->id);
    size_t cap = 0;
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        if (o->nsteps == cap) {
            cap = cap ? cap * 2 : 8;
            o->steps = loa_realloc(o->steps, cap * sizeof(*o->steps));
        }
        read_step(s, &o->steps[o->nsteps++]);
    }
    int rc = step == SQLITE_DONE ? 0 : loa__db_fail(st, "read steps");
    sqlite3_reset(s);
    return rc;
}

int loa__sqlite_sequence_get(struct loa_store *st, int64_t id, struct loa_sequence *out)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *s = q(st, Q_SEQ_GET);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, id);
    int rc = loa__step_row(st, s, "read sequence");
    if (rc == 0)
        read_seq(s, out);
    sqlite3_reset(s);
    if (rc == 0 && (rc = read_steps(st, out)) < 0)
        loa_sequence_release(out);
    return rc;
}

int loa__sqlite_sequence_list(struct loa_store *st, int64_t page_ref,
                              int (*fn)(const struct loa_sequence *s, void *ud), void *ud)
{
    sqlite3_stmt *s = q(st, Q_SEQ_LIST);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, page_ref);
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct loa_sequence o;
        read_seq(s, &o);
        int stop = fn(&o, ud);
        loa_sequence_release(&o);
        if (stop)
            break;
    }
    return loa__step_end(st, s, step, "list sequences");
}

int loa__sqlite_sequence_delete(struct loa_txn *tx, int64_t id)
{
    struct loa_store *st = tx->st;
    sqlite3_stmt *s = q(st, Q_SEQ_DELETE);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, id);
    bool changed = false;
    int rc = loa__step_done(st, s, "delete sequence", &changed);
    return rc < 0 ? rc : changed ? 0 : LOA_ENOENT;
}

int loa__sqlite_sequence_triggered(
    struct loa_store *st, int64_t page_ref, enum loa_seq_trigger trigger, const char *value,
    int (*fn)(int64_t id, int64_t group_id, bool one_at_a_time, void *ud), void *ud)
{
    sqlite3_stmt *s = q(st, Q_TRIGGERED);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, page_ref);
    sqlite3_bind_int(s, 2, (int)trigger);
    loa__bind_text(s, 3, value ? value : "");
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW)
        if (fn(sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1),
               sqlite3_column_int(s, 2) != 0, ud))
            break;
    return loa__step_end(st, s, step, "triggered");
}

void loa_seq_step_info_release(struct loa_seq_step_info *i)
{
    LOA_FREE(i->step.note);
    LOA_FREE(i->step.blocks);
    LOA_FREE(i->step.purpose);
}

int loa__sqlite_seq_step_get(struct loa_store *st, int64_t id, struct loa_seq_step_info *out)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *s = q(st, Q_STEP_GET);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, id);
    int rc = loa__step_row(st, s, "read step");
    if (rc == 0) {
        read_step(s, &out->step);
        out->sequence_id = sqlite3_column_int64(s, 12);
        out->page_ref = sqlite3_column_int64(s, 13);
        out->retired = sqlite3_column_int(s, 14) != 0;
        out->active = sqlite3_column_int(s, 15) != 0;
        out->sequence_updated_at = sqlite3_column_int64(s, 16);
        out->window_from_min = sqlite3_column_int(s, 17);
        out->window_to_min = sqlite3_column_int(s, 18);
        out->weekdays = (uint32_t)sqlite3_column_int(s, 19);
        out->person_clock = sqlite3_column_int(s, 20) != 0;
    }
    sqlite3_reset(s);
    return rc;
}

/* ---- Enrolments -------------------------------------------------------------------------- */

static void read_enrol(sqlite3_stmt *s, struct loa_enrolment *e)
{
    e->id = sqlite3_column_int64(s, 0);
    e->sequence_id = sqlite3_column_int64(s, 1);
    e->subscriber_id = sqlite3_column_int64(s, 2);
    int state = sqlite3_column_int(s, 3);
    e->state = (enum loa_enrol_state)state;
    e->step_id = sqlite3_column_int64(s, 4);
    e->base_at = sqlite3_column_int64(s, 5);
    e->due_at = sqlite3_column_int64(s, 6);
    e->delivery_id = sqlite3_column_int64(s, 7);
    e->entered_at = sqlite3_column_int64(s, 8);
    e->ended_at = sqlite3_column_int64(s, 9);
    e->end_reason = (const char *)sqlite3_column_text(s, 10);
    e->source = (const char *)sqlite3_column_text(s, 11);
    e->page_ref = sqlite3_column_int64(s, 12);
    e->psid = (const char *)sqlite3_column_text(s, 13);
    e->utc_offset_min = sqlite3_column_type(s, 14) == SQLITE_NULL ? LOA_UTC_OFFSET_UNKNOWN
                                                                  : sqlite3_column_int(s, 14);
    e->last_interaction_at = sqlite3_column_int64(s, 15);
}

static int each_enrol(struct loa_store *st, sqlite3_stmt *s, const char *what,
                      int (*fn)(const struct loa_enrolment *e, void *ud), void *ud, bool *any)
{
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct loa_enrolment e;
        read_enrol(s, &e);
        if (any)
            *any = true;
        if (fn(&e, ud))
            break;
    }
    int rc = step == SQLITE_ROW || step == SQLITE_DONE ? 0 : loa__db_fail(st, what);
    sqlite3_reset(s);
    return rc;
}

int loa__sqlite_enrol_insert(struct loa_txn *tx, int64_t sequence_id, int64_t subscriber_id,
                             int64_t step_id, int64_t base_at, int64_t due_at, const char *source,
                             int64_t now, bool *inserted_out)
{
    struct loa_store *st = tx->st;
    sqlite3_stmt *s = q(st, Q_ENROL_INSERT);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, sequence_id);
    sqlite3_bind_int64(s, 2, subscriber_id);
    sqlite3_bind_int(s, 3, step_id ? LOA_ENROL_WAITING : LOA_ENROL_FINISHED);
    sqlite3_bind_int64(s, 4, step_id);
    sqlite3_bind_int64(s, 5, base_at);
    sqlite3_bind_int64(s, 6, step_id ? due_at : 0);
    sqlite3_bind_int64(s, 7, now);
    sqlite3_bind_int64(s, 8, step_id ? 0 : now);
    loa__bind_text(s, 9, source);
    return loa__step_done(st, s, "enter sequence", inserted_out);
}

/* Ends enrolment id (state FINISHED or REMOVED); skips its pending send when it has one. */
static int end_enrol(struct loa_store *st, int64_t id, int64_t delivery_id,
                     enum loa_enrol_state state, const char *reason, int64_t now)
{
    sqlite3_stmt *s;
    int rc;
    if (delivery_id) {
        if (!(s = q(st, Q_DELIVERY_SKIP_PENDING)))
            return LOA_ESTORE;
        sqlite3_bind_int64(s, 1, delivery_id);
        sqlite3_bind_text(s, 2, "removed", -1, SQLITE_STATIC);
        if ((rc = loa__step_done(st, s, "skip removed send", NULL)) < 0)
            return rc;
    }
    if (!(s = q(st, Q_ENROL_END)))
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int(s, 2, (int)state);
    sqlite3_bind_int64(s, 3, now);
    loa__bind_text(s, 4, reason);
    return loa__step_done(st, s, "end enrolment", NULL);
}

static int enrol_remove_op(struct loa_txn *tx, int64_t sequence_id, int64_t subscriber_id,
                           const char *reason, int64_t now, bool *removed_out)
{
    struct loa_store *st = tx->st;
    if (removed_out)
        *removed_out = false;
    sqlite3_stmt *s = q(st, Q_ENROL_LIVE);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, sequence_id);
    sqlite3_bind_int64(s, 2, subscriber_id);
    int step = sqlite3_step(s);
    int64_t id = 0, delivery = 0;
    if (step == SQLITE_ROW) {
        id = sqlite3_column_int64(s, 0);
        delivery = sqlite3_column_int(s, 1) == LOA_ENROL_QUEUED ? sqlite3_column_int64(s, 2) : 0;
    }
    int rc = loa__step_end(st, s, step, "find enrolment");
    if (rc < 0 || !id)
        return rc;
    rc = end_enrol(st, id, delivery, LOA_ENROL_REMOVED, reason, now);
    if (rc == 0 && removed_out)
        *removed_out = true;
    return rc;
}

int loa__sqlite_enrol_remove(struct loa_txn *tx, int64_t sequence_id, int64_t subscriber_id,
                             const char *reason, int64_t now, bool *removed_out)
{
    int rc = loa__op_begin(tx->st);
    return rc < 0 ? rc
                  : loa__op_end(tx->st, enrol_remove_op(tx, sequence_id, subscriber_id, reason, now,
                                                        removed_out));
}

struct ids {
    int64_t *v; /* pairs: enrolment id, delivery id */
    size_t n, cap;
};

static int collect(const struct loa_enrolment *e, void *ud)
{
    struct ids *ids = ud;
    if (ids->n + 2 > ids->cap) {
        ids->cap = ids->cap ? ids->cap * 2 : 64;
        ids->v = loa_realloc(ids->v, ids->cap * sizeof(*ids->v));
    }
    ids->v[ids->n++] = e->id;
    ids->v[ids->n++] = e->state == LOA_ENROL_QUEUED ? e->delivery_id : 0;
    return 0;
}

static int enrol_remove_all_op(struct loa_txn *tx, int64_t sequence_id, const char *reason,
                               int64_t now, int64_t *count_out)
{
    struct loa_store *st = tx->st;
    struct ids ids = { 0 };
    unsigned live = (1u << LOA_ENROL_WAITING) | (1u << LOA_ENROL_QUEUED);
    int rc = loa_store_enrol_list(st, 0, sequence_id, 0, live, 0, 0, 0, collect, &ids);
    for (size_t i = 0; rc == 0 && i < ids.n; i += 2)
        rc = end_enrol(st, ids.v[i], ids.v[i + 1], LOA_ENROL_REMOVED, reason, now);
    if (rc == 0 && count_out)
        *count_out = (int64_t)(ids.n / 2);
    loa_free(ids.v);
    return rc;
}

int loa__sqlite_enrol_remove_all(struct loa_txn *tx, int64_t sequence_id, const char *reason,
                                 int64_t now, int64_t *count_out)
{
    int rc = loa__op_begin(tx->st);
    return rc < 0
               ? rc
               : loa__op_end(tx->st, enrol_remove_all_op(tx, sequence_id, reason, now, count_out));
}

int loa__sqlite_enrol_list(struct loa_store *st, int64_t page_ref, int64_t sequence_id,
                           int64_t subscriber_id, unsigned state_mask, int64_t step_id,
                           int64_t after_id, int64_t limit,
                           int (*fn)(const struct loa_enrolment *e, void *ud), void *ud)
{
    unsigned live = (1u << LOA_ENROL_WAITING) | (1u << LOA_ENROL_QUEUED);
    bool person = subscriber_id && state_mask && !(state_mask & ~live);
    sqlite3_stmt *s = q(st, person ? Q_ENROL_LIST_PERSON : Q_ENROL_LIST);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, page_ref);
    sqlite3_bind_int64(s, 2, sequence_id);
    sqlite3_bind_int64(s, 3, subscriber_id);
    sqlite3_bind_int64(s, 4, state_mask);
    sqlite3_bind_int64(s, 5, step_id);
    sqlite3_bind_int64(s, 6, after_id);
    sqlite3_bind_int64(s, 7, limit > 0 ? limit : -1);
    return each_enrol(st, s, "list enrolments", fn, ud, NULL);
}

int loa__sqlite_enrol_due(struct loa_store *st, int64_t now, int64_t limit,
                          int (*fn)(const struct loa_enrolment *e, void *ud), void *ud)
{
    sqlite3_stmt *s = q(st, Q_ENROL_DUE);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, now);
    sqlite3_bind_int64(s, 2, limit > 0 ? limit : -1);
    return each_enrol(st, s, "due enrolments", fn, ud, NULL);
}

int loa__sqlite_enrol_by_delivery(struct loa_store *st, int64_t delivery_id,
                                  int (*fn)(const struct loa_enrolment *e, void *ud), void *ud)
{
    sqlite3_stmt *s = q(st, Q_ENROL_BY_DELIVERY);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, delivery_id);
    bool any = false;
    int rc = each_enrol(st, s, "enrolment of delivery", fn, ud, &any);
    return rc < 0 ? rc : any ? 0 : LOA_ENOENT;
}

static int enrol_queue_op(struct loa_txn *tx, int64_t enrol_id, const struct loa_enrol_send *e,
                          int64_t *delivery_out)
{
    struct loa_store *st = tx->st;
    sqlite3_stmt *s = q(st, Q_DELIVERY_INSERT);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, e->step_id);
    sqlite3_bind_int64(s, 2, e->priority);
    sqlite3_bind_int64(s, 3, e->page_ref);
    sqlite3_bind_int64(s, 4, e->subscriber_id);
    loa__bind_text(s, 5, e->psid);
    sqlite3_bind_int64(s, 6, enrol_id);
    sqlite3_bind_text(s, 7, e->reason ? "skipped" : "pending", -1, SQLITE_STATIC);
    loa__bind_text(s, 8, e->reason);
    sqlite3_bind_int64(s, 9, e->due_at);
    sqlite3_bind_int64(s, 10, e->reason ? e->at : 0);
    int rc = loa__step_done(st, s, "queue step", NULL);
    if (rc < 0)
        return rc;
    int64_t id = sqlite3_last_insert_rowid(st->db);
    if (!e->reason) {
        if (!(s = q(st, Q_ENROL_MARK_QUEUED)))
            return LOA_ESTORE;
        sqlite3_bind_int64(s, 1, enrol_id);
        sqlite3_bind_int64(s, 2, id);
        sqlite3_bind_int64(s, 3, e->step_id);
        bool changed = false;
        if ((rc = loa__step_done(st, s, "mark queued", &changed)) < 0)
            return rc;
        if (!changed)
            return LOA_ESTATE; /* the caller's transaction is rolled back */
    }
    if (delivery_out)
        *delivery_out = id;
    return 0;
}

int loa__sqlite_enrol_queue(struct loa_txn *tx, int64_t enrol_id, const struct loa_enrol_send *e,
                            int64_t *delivery_out)
{
    int rc = loa__op_begin(tx->st);
    return rc < 0 ? rc : loa__op_end(tx->st, enrol_queue_op(tx, enrol_id, e, delivery_out));
}

int loa__sqlite_enrol_advance(struct loa_txn *tx, int64_t enrol_id, int64_t next_step,
                              int64_t base_at, int64_t due_at, int64_t now)
{
    struct loa_store *st = tx->st;
    sqlite3_stmt *s = q(st, Q_ENROL_ADVANCE);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, enrol_id);
    sqlite3_bind_int64(s, 2, next_step);
    sqlite3_bind_int64(s, 3, base_at);
    sqlite3_bind_int64(s, 4, due_at);
    sqlite3_bind_int64(s, 5, now);
    return loa__step_done(st, s, "advance enrolment", NULL);
}

static int enrol_unqueue_op(struct loa_txn *tx, int64_t sequence_id, int64_t step_id,
                            int64_t *count_out)
{
    struct loa_store *st = tx->st;
    sqlite3_stmt *s = q(st, Q_UNQUEUE_SELECT);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, sequence_id);
    sqlite3_bind_int64(s, 2, step_id);
    struct ids ids = { 0 };
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct loa_enrolment e = { .id = sqlite3_column_int64(s, 0),
                                   .state = LOA_ENROL_QUEUED,
                                   .delivery_id = sqlite3_column_int64(s, 1) };
        collect(&e, &ids);
    }
    int rc = step == SQLITE_DONE ? 0 : loa__db_fail(st, "find queued sends");
    sqlite3_reset(s);
    for (size_t i = 0; rc == 0 && i < ids.n; i += 2) {
        char sql[192];
        snprintf(sql, sizeof(sql),
                 "DELETE FROM deliveries WHERE id = %lld AND state = 'pending';"
                 "UPDATE enrolments SET state = 0, delivery_id = 0 WHERE id = %lld AND state = 1",
                 (long long)ids.v[i + 1], (long long)ids.v[i]);
        rc = loa__exec(st, sql);
    }
    if (rc == 0 && count_out)
        *count_out = (int64_t)(ids.n / 2);
    loa_free(ids.v);
    return rc;
}

int loa__sqlite_enrol_unqueue(struct loa_txn *tx, int64_t sequence_id, int64_t step_id,
                              int64_t *count_out)
{
    int rc = loa__op_begin(tx->st);
    return rc < 0 ? rc : loa__op_end(tx->st, enrol_unqueue_op(tx, sequence_id, step_id, count_out));
}

int loa__sqlite_enrol_set_due(struct loa_txn *tx, int64_t enrol_id, int64_t due_at)
{
    struct loa_store *st = tx->st;
    sqlite3_stmt *s = q(st, Q_ENROL_SET_DUE);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, enrol_id);
    sqlite3_bind_int64(s, 2, due_at);
    return loa__step_done(st, s, "re-time enrolment", NULL);
}

int loa__sqlite_enrol_sends_ended(struct loa_store *st, int64_t after_id, int64_t limit,
                                  int (*fn)(int64_t delivery_id, const char *state, int64_t at,
                                            int64_t reconciled_at, void *ud),
                                  void *ud)
{
    sqlite3_stmt *s = q(st, Q_SENDS_ENDED);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, after_id);
    sqlite3_bind_int64(s, 2, limit > 0 ? limit : -1);
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW)
        if (fn(sqlite3_column_int64(s, 0), (const char *)sqlite3_column_text(s, 1),
               sqlite3_column_int64(s, 2), sqlite3_column_int64(s, 3), ud))
            break;
    return loa__step_end(st, s, step, "ended sends");
}

int loa__sqlite_enrol_next_due(struct loa_store *st, int64_t after, int64_t *due_out)
{
    *due_out = 0;
    sqlite3_stmt *s = q(st, Q_ENROL_NEXT_DUE);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, after);
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW)
        *due_out = sqlite3_column_int64(s, 0);
    return loa__step_end(st, s, step, "next due timer");
}

int loa__sqlite_enrol_requeue(struct loa_txn *tx, int64_t enrol_id, int64_t delivery_id,
                              int64_t due_at, bool *changed_out)
{
    struct loa_store *st = tx->st;
    sqlite3_stmt *s = q(st, Q_ENROL_REQUEUE);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, enrol_id);
    sqlite3_bind_int64(s, 2, delivery_id);
    sqlite3_bind_int64(s, 3, due_at);
    return loa__step_done(st, s, "requeue enrolment", changed_out);
}

int loa__sqlite_seq_steps_live(struct loa_store *st,
                               int (*fn)(int64_t step_id, int64_t page_ref, void *ud), void *ud)
{
    sqlite3_stmt *s = q(st, Q_STEPS_LIVE);
    if (!s)
        return LOA_ESTORE;
    return loa__each_pair(st, s, fn, ud, "live steps");
}

int loa__sqlite_sequence_stats(struct loa_store *st, int64_t id, struct loa_seq_stats *out,
                               int (*fn)(const struct loa_seq_step_stats *s, void *ud),
                               int (*fn_reason)(int64_t step_id, const char *state,
                                                const char *reason, int64_t count, void *ud),
                               void *ud)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *s = q(st, Q_STATS_ENROL);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, id);
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t n = sqlite3_column_int64(s, 1);
        out->entered += n;
        switch (sqlite3_column_int(s, 0)) {
        case LOA_ENROL_WAITING:
            out->waiting = n;
            break;
        case LOA_ENROL_QUEUED:
            out->queued = n;
            break;
        case LOA_ENROL_FINISHED:
            out->finished = n;
            break;
        default:
            out->removed += n;
            break;
        }
    }
    int rc = step == SQLITE_DONE ? 0 : loa__db_fail(st, "sequence stats");
    sqlite3_reset(s);
    if (rc < 0 || !fn)
        return rc;
    if (!(s = q(st, Q_STATS_STEP)))
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, id);
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct loa_seq_step_stats x = {
            .step_id = sqlite3_column_int64(s, 0),
            .waiting = sqlite3_column_int64(s, 1),
            .queued = sqlite3_column_int64(s, 2),
            .sent = sqlite3_column_int64(s, 3),
            .delivered = sqlite3_column_int64(s, 4),
            .read = sqlite3_column_int64(s, 5),
            .clicked = sqlite3_column_int64(s, 6),
            .replied = sqlite3_column_int64(s, 7),
            .failed = sqlite3_column_int64(s, 8),
            .skipped = sqlite3_column_int64(s, 9),
            .unknown = sqlite3_column_int64(s, 10),
        };
        if (fn(&x, ud))
            break;
    }
    rc = loa__step_end(st, s, step, "step stats");
    if (rc < 0 || !fn_reason)
        return rc;
    if (!(s = q(st, Q_STATS_REASON)))
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, id);
    while ((step = sqlite3_step(s)) == SQLITE_ROW)
        if (fn_reason(sqlite3_column_int64(s, 0), (const char *)sqlite3_column_text(s, 1),
                      (const char *)sqlite3_column_text(s, 2), sqlite3_column_int64(s, 3), ud))
            break;
    rc = loa__step_end(st, s, step, "reason stats");
    return rc;
}
