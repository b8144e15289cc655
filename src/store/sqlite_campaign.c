/* SPDX-License-Identifier: MIT */
/*
 * The SQLite backend, schemas 5-7: campaigns, the outbox (deliveries), the per-Page send ledger
 * and pacing
 * (docs/campaigns.md).
 *
 * The send pipeline's checkpoint lives here: loa_store_outbox_claim() marks exactly the
 * deliveries the dispatcher is about to submit as in_flight and commits before it returns;
 * loa_store_delivery_settle() moves an in_flight delivery to its outcome. A settle that finds
 * the delivery already sent (the echo webhook was faster than the Send API's answer) changes
 * nothing, so the ledger and the conversation count each message once.
 *
 * Hot statements are cached in the store's slots [LOA__XSTMT_CAMPAIGN, +32).
 */
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include <loa/alloc.h>
#include <loa/audience.h>
#include <loa/clock.h>
#include <loa/err.h>
#include <loa/store.h>

#include "store_int.h"

enum cstmt {
    C_CLAIM,
    C_CLAIM_PERSON,
    C_SETTLE_GET,
    C_SETTLE_UPDATE,
    C_SETTLE_MID,
    C_LEDGER_ADD,
    C_LEDGER_COUNT,
    C_SNAPSHOT_INSERT,
    C_ECHO_GET,
    C_FINISH_COUNT,
    C_REPLIED,
    C_FUNNEL,
    C_CLICKED,
    C_PACING_GET,
    C_PACING_PUT,
    C_PACING_GET_V9,
    C_REPLIED_V9,
    C_REPLIED_STEP,
    C_PACING_PUT_V9,
    C_FINISH_COUNT_V8,
    C_RECONCILE_GET,
    C_RECONCILE_SENT,
    C_RECONCILE_NOT_SENT,
    C_RECONCILE_LATER,
    C_RESEND_CHECK,
    C_CLAIM_SOURCE,
    C_COUNT
};

_Static_assert(LOA__XSTMT_CAMPAIGN + C_COUNT <= LOA__XSTMT_SEQUENCE, "campaign statement slots");

static const char *const csql[C_COUNT] = {
    /* Moves due pending sends of one Page (and source) to in flight and returns exactly the
     * rows this statement moved: another writer's claim can never be returned twice. A
     * campaign's sends go only while it runs. */
    /* "+?4", not "?4": SQLite tests a bare parameter against the partial index
     * deliveries_source (WHERE source = 'sequence') and then re-prepares the statement
     * whenever ?4 is bound again, i.e. on every claim. Same plan (deliveries_claim). */
    [C_CLAIM] = "UPDATE deliveries SET state = 'in_flight', attempts = attempts + 1,"
                " claimed_at = ?2 WHERE id IN (SELECT id FROM deliveries"
                "  WHERE page_ref = ?1 AND state = 'pending' AND source = +?4"
                "  AND (?5 = 0 OR source_id = ?5) AND next_at <= ?2"
                "  AND (campaign_id IS NULL OR"
                "   (SELECT status FROM campaigns c WHERE c.id = deliveries.campaign_id)"
                "    = 'running')"
                "  ORDER BY priority, id LIMIT ?3) AND state = 'pending' "
                "RETURNING id, subscriber_id, attempts, psid, coalesce(campaign_id, 0), source_id",
    /* The same for one source (source_id given, as the dispatcher always does): with
     * "source_id = ?5" deliveries_claim yields the rows in (priority, id) order and the scan
     * stops at the limit; "(?5 = 0 OR source_id = ?5)" made every claim visit and sort all
     * of the Page's pending rows (a backlog of thousands per Page). */
    [C_CLAIM_SOURCE] = "UPDATE deliveries SET state = 'in_flight', attempts = attempts + 1,"
                       " claimed_at = ?2 WHERE id IN (SELECT id FROM deliveries"
                       "  WHERE page_ref = ?1 AND state = 'pending' AND source = +?4"
                       "  AND source_id = ?5 AND next_at <= ?2"
                       "  AND (campaign_id IS NULL OR"
                       "   (SELECT status FROM campaigns c WHERE c.id = deliveries.campaign_id)"
                       "    = 'running')"
                       "  ORDER BY priority, id LIMIT ?3) AND state = 'pending' "
                       "RETURNING id, subscriber_id, attempts, psid, coalesce(campaign_id, 0),"
                       " source_id",
    [C_CLAIM_PERSON] = "SELECT first_name, last_name, attrs, first_seen_at, last_interaction_at,"
                       " last_interaction_kind, after_ctm_ad, unreachable, utc_offset_min"
                       " FROM subscribers"
                       " WHERE id = ?",
    [C_SETTLE_GET] = "SELECT d.state, d.page_ref, d.psid, c.status FROM deliveries d"
                     " LEFT JOIN campaigns c ON c.id = d.campaign_id WHERE d.id = ?",
    [C_SETTLE_UPDATE] = "UPDATE deliveries SET state = ?2, reason = ?3, rule = ?4,"
                        " mid = coalesce(?5, mid), sent_at = ?6, next_at = ?7,"
                        " attempts = attempts - ?8 WHERE id = ?1",
    [C_SETTLE_MID] = "UPDATE deliveries SET mid = ?2 WHERE id = ?1 AND mid IS NULL",
    [C_LEDGER_ADD] = "INSERT INTO send_ledger (page_ref, minute, count) VALUES (?1, ?2, ?3) "
                     "ON CONFLICT (page_ref, minute) DO UPDATE SET count = count + ?3",
    [C_LEDGER_COUNT] = "SELECT coalesce(sum(count), 0), coalesce(min(minute), 0) FROM send_ledger"
                       " WHERE page_ref = ?1 AND minute + 60000 > ?2",
    [C_SNAPSHOT_INSERT] = "INSERT INTO deliveries (source, source_id, priority, campaign_id,"
                          " page_ref, subscriber_id, psid, position, state, reason)"
                          " VALUES ('campaign', ?1, ?8, ?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [C_ECHO_GET] = "SELECT state, page_ref FROM deliveries WHERE id = ?",
    [C_FINISH_COUNT] = "SELECT count(*) FROM deliveries WHERE campaign_id = ?"
                       " AND state IN ('pending', 'in_flight')",
    /* Webhook effects: run for every incoming message, delivery and read, so cached. */
    [C_REPLIED] = "UPDATE deliveries SET replied_at = ?3 WHERE page_ref = ?1 AND psid = ?2"
                  " AND state = 'sent' AND replied_at = 0 AND sent_at > 0"
                  " AND sent_at <= ?3 AND ?3 - sent_at < 86400000",
    [C_FUNNEL] = "UPDATE deliveries SET"
                 " delivered_at = CASE WHEN deliveries.delivered_at > 0"
                 "   THEN deliveries.delivered_at"
                 "   WHEN m.delivered_at > 0 THEN m.delivered_at ELSE m.read_at END,"
                 " read_at = CASE WHEN deliveries.read_at > 0 THEN deliveries.read_at"
                 "   ELSE m.read_at END "
                 "FROM messages m WHERE m.mid = deliveries.mid AND m.page_ref = ?1"
                 " AND m.psid = ?2 AND deliveries.page_ref = ?1 AND deliveries.psid = ?2"
                 " AND deliveries.state = 'sent'"
                 " AND ((deliveries.delivered_at = 0 AND (m.delivered_at > 0 OR m.read_at > 0))"
                 "   OR (deliveries.read_at = 0 AND m.read_at > 0))",
    [C_CLICKED] = "UPDATE deliveries SET clicked_at = ?4 WHERE page_ref = ?2 AND psid = ?3"
                  " AND source = ?5 AND source_id = ?1 AND state = 'sent' AND clicked_at = 0",
    [C_PACING_GET] = "SELECT share, cut_at, strikes, hold_until, climb_at FROM page_pacing"
                     " WHERE page_ref = ?",
    [C_PACING_PUT] = "INSERT INTO page_pacing (page_ref, share, cut_at, strikes, hold_until,"
                     " climb_at)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (page_ref) DO UPDATE SET"
                     " share = ?2, cut_at = ?3, strikes = ?4, hold_until = ?5, climb_at = ?6",
    /* Schema 9: a reply counts for every campaign sent to the person in the 24 h before, and
     * for the one sequence step sent last (the step it answers). */
    [C_REPLIED_V9] = "UPDATE deliveries SET replied_at = ?3 WHERE page_ref = ?1 AND psid = ?2"
                     " AND source = 'campaign' AND state = 'sent' AND replied_at = 0"
                     " AND sent_at > 0 AND sent_at <= ?3 AND ?3 - sent_at < 86400000",
    [C_REPLIED_STEP] = "UPDATE deliveries SET replied_at = ?3 WHERE replied_at = 0 AND id ="
                       " (SELECT id FROM deliveries WHERE page_ref = ?1 AND psid = ?2"
                       "  AND source = 'sequence' AND state = 'sent' AND sent_at > 0"
                       "  AND sent_at <= ?3 AND ?3 - sent_at < 86400000"
                       "  ORDER BY sent_at DESC, id DESC LIMIT 1)",
    /* Schema 9: whether Graph stopped the Page (its token refused). */
    [C_PACING_GET_V9] = "SELECT share, cut_at, strikes, hold_until, climb_at, stopped_at"
                        " FROM page_pacing WHERE page_ref = ?",
    [C_PACING_PUT_V9] = "INSERT INTO page_pacing (page_ref, share, cut_at, strikes, hold_until,"
                        " climb_at, stopped_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                        " ON CONFLICT (page_ref) DO UPDATE SET share = ?2, cut_at = ?3,"
                        " strikes = ?4, hold_until = ?5, climb_at = ?6, stopped_at = ?7",
    /* Schema 8: an unknown delivery not reconciled yet keeps its campaign open. */
    [C_FINISH_COUNT_V8] = "SELECT count(*) FROM deliveries WHERE campaign_id = ?"
                          " AND (state IN ('pending', 'in_flight')"
                          "   OR (state = 'unknown' AND reconciled_at = 0))",
    [C_RECONCILE_GET] = "SELECT state, reconciled_at, page_ref, psid, campaign_id"
                        " FROM deliveries WHERE id = ?",
    [C_RECONCILE_SENT] = "UPDATE deliveries SET state = 'sent', reason = 'reconciled', mid = ?2,"
                         " sent_at = ?3, reconciled_at = ?4 WHERE id = ?1 AND state = 'unknown'"
                         " AND reconciled_at = 0",
    [C_RECONCILE_NOT_SENT] = "UPDATE deliveries SET reason = 'reconciled_not_sent',"
                             " reconciled_at = ?2 WHERE id = ?1 AND state = 'unknown'"
                             " AND reconciled_at = 0",
    [C_RECONCILE_LATER] = "UPDATE deliveries SET reconcile_at = ?2,"
                          " reconcile_tries = reconcile_tries + 1 WHERE id = ?1",
    [C_RESEND_CHECK] = "SELECT 1 FROM deliveries WHERE id = ?2 AND campaign_id = ?1"
                       " AND state = 'unknown' AND reconciled_at = 0",
};

static sqlite3_stmt *cstmt(struct loa_store *st, enum cstmt id)
{
    return loa__stmt_cached(st, &st->xstmts[LOA__XSTMT_CAMPAIGN + id], csql[id]);
}

static int step_done(struct loa_store *st, sqlite3_stmt *s, const char *what)
{
    int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return loa__db_fail(st, what);
    return 0;
}

/* ---- Names -------------------------------------------------------------------------------- */

static const char *const status_names[LOA_CAMPAIGN_STATUS_COUNT] = {
    "draft", "scheduled", "running", "paused", "completed", "cancelled",
};

static const char *const state_names[LOA_DELIVERY_STATE_COUNT] = {
    "pending", "in_flight", "sent", "failed", "skipped", "unknown",
};

const char *loa_campaign_status_name(enum loa_campaign_status s)
{
    return (unsigned)s < LOA_CAMPAIGN_STATUS_COUNT ? status_names[s] : "unknown";
}

int loa_campaign_status_parse(const char *s, enum loa_campaign_status *out)
{
    for (int i = 0; s && i < LOA_CAMPAIGN_STATUS_COUNT; i++)
        if (strcmp(s, status_names[i]) == 0) {
            *out = (enum loa_campaign_status)i;
            return 0;
        }
    return LOA_EINVAL;
}

const char *loa_delivery_state_name(enum loa_delivery_state s)
{
    return (unsigned)s < LOA_DELIVERY_STATE_COUNT ? state_names[s] : "unknown";
}

int loa_delivery_state_parse(const char *s, enum loa_delivery_state *out)
{
    for (int i = 0; s && i < LOA_DELIVERY_STATE_COUNT; i++)
        if (strcmp(s, state_names[i]) == 0) {
            *out = (enum loa_delivery_state)i;
            return 0;
        }
    return LOA_EINVAL;
}

static enum loa_delivery_state col_state(sqlite3_stmt *s, int i)
{
    enum loa_delivery_state st = LOA_DELIVERY_PENDING;
    loa_delivery_state_parse((const char *)sqlite3_column_text(s, i), &st);
    return st;
}

/* ---- Campaigns ---------------------------------------------------------------------------- */

#define CAMPAIGN_COLUMNS                                                                     \
    "id, page_ref, name, goal, purpose, tag, blocks, filter, scheduled_at, batch_size, "     \
    "batch_interval_ms, rate_per_s, window_from_min, window_to_min, status, status_reason, " \
    "created_at, updated_at, started_at, completed_at, total"

/* A text column, borrowed until the next step (the struct's strings are not const). */
static char *col_borrow(sqlite3_stmt *s, int i)
{
    const unsigned char *p = sqlite3_column_text(s, i);
    return (char *)(uintptr_t)p;
}

static void read_campaign(sqlite3_stmt *s, struct loa_campaign *c, bool dup)
{
    memset(c, 0, sizeof(*c));
    c->id = sqlite3_column_int64(s, 0);
    c->page_ref = sqlite3_column_int64(s, 1);
    char **strs[] = { &c->name, &c->goal, &c->purpose, &c->tag, &c->blocks, &c->filter };
    for (int i = 0; i < 6; i++)
        *strs[i] = dup ? loa__col_dup(s, 2 + i) : col_borrow(s, 2 + i);
    c->scheduled_at = sqlite3_column_int64(s, 8);
    c->batch_size = sqlite3_column_int64(s, 9);
    c->batch_interval_ms = sqlite3_column_int64(s, 10);
    c->rate_per_s = sqlite3_column_int64(s, 11);
    c->window_from_min = sqlite3_column_int(s, 12);
    c->window_to_min = sqlite3_column_int(s, 13);
    loa_campaign_status_parse((const char *)sqlite3_column_text(s, 14), &c->status);
    c->status_reason = dup ? loa__col_dup(s, 15) : col_borrow(s, 15);
    c->created_at = sqlite3_column_int64(s, 16);
    c->updated_at = sqlite3_column_int64(s, 17);
    c->started_at = sqlite3_column_int64(s, 18);
    c->completed_at = sqlite3_column_int64(s, 19);
    c->total = sqlite3_column_int64(s, 20);
}

void loa_campaign_release(struct loa_campaign *c)
{
    if (!c)
        return;
    LOA_FREE(c->name);
    LOA_FREE(c->goal);
    LOA_FREE(c->purpose);
    LOA_FREE(c->tag);
    LOA_FREE(c->blocks);
    LOA_FREE(c->filter);
    LOA_FREE(c->status_reason);
}

int loa__sqlite_campaign_create(struct loa_txn *tx, int64_t page_ref,
                                const struct loa_campaign_input *in, int64_t now, int64_t *id_out)
{
    struct loa_store *st = tx->st;
    if (st->version < 5)
        return LOA_EVERSION;
    if (!in->name || !in->goal || !in->purpose || !in->blocks)
        return LOA_EINVAL;
    sqlite3_stmt *s;
    int rc =
        loa__prepare(st,
                     "INSERT INTO campaigns (page_ref, name, goal, purpose, tag, blocks, filter,"
                     " scheduled_at, batch_size, batch_interval_ms, rate_per_s, window_from_min,"
                     " window_to_min, created_at, updated_at)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, page_ref);
    sqlite3_bind_text(s, 2, in->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, in->goal, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, in->purpose, -1, SQLITE_STATIC);
    loa__bind_text(s, 5, in->tag && *in->tag ? in->tag : NULL);
    sqlite3_bind_text(s, 6, in->blocks, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 7, in->filter ? in->filter : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 8, in->scheduled_at > 0 ? in->scheduled_at : 0);
    sqlite3_bind_int64(s, 9, in->batch_size > 0 ? in->batch_size : 0);
    sqlite3_bind_int64(s, 10, in->batch_interval_ms > 0 ? in->batch_interval_ms : 0);
    sqlite3_bind_int64(s, 11, in->rate_per_s > 0 ? in->rate_per_s : 0);
    sqlite3_bind_int(s, 12, in->window_from_min >= 0 ? in->window_from_min : -1);
    sqlite3_bind_int(s, 13, in->window_to_min >= 0 ? in->window_to_min : -1);
    sqlite3_bind_int64(s, 14, now);
    sqlite3_bind_int64(s, 15, now);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = loa__db_fail(st, "create campaign");
    else
        *id_out = sqlite3_last_insert_rowid(st->db);
    sqlite3_finalize(s);
    return rc;
}

int loa__sqlite_campaign_get(struct loa_store *st, int64_t id, struct loa_campaign *out)
{
    if (st->version < 5)
        return LOA_EVERSION;
    sqlite3_stmt *s;
    int rc = loa__prepare(st, "SELECT " CAMPAIGN_COLUMNS " FROM campaigns WHERE id = ?", &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, id);
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW)
        read_campaign(s, out, true);
    else
        rc = step == SQLITE_DONE ? LOA_ENOENT : loa__db_fail(st, "get campaign");
    sqlite3_finalize(s);
    return rc;
}

int loa__sqlite_campaign_update(struct loa_txn *tx, int64_t id, const struct loa_campaign_input *in,
                                int64_t now)
{
    struct loa_store *st = tx->st;
    struct loa_campaign c;
    int rc = loa_store_campaign_get(st, id, &c);
    if (rc < 0)
        return rc;
    if (c.status != LOA_CAMPAIGN_DRAFT) {
        loa_campaign_release(&c);
        return LOA_ESTATE;
    }
    sqlite3_stmt *s;
    rc = loa__prepare(
        st,
        "UPDATE campaigns SET name = ?2, goal = ?3, purpose = ?4, tag = ?5, blocks = ?6,"
        " filter = ?7, scheduled_at = ?8, batch_size = ?9, batch_interval_ms = ?10,"
        " rate_per_s = ?11, window_from_min = ?12, window_to_min = ?13,"
        " updated_at = ?14 WHERE id = ?1 AND status = 'draft'",
        &s);
    if (rc == 0) {
        sqlite3_bind_int64(s, 1, id);
        sqlite3_bind_text(s, 2, in->name ? in->name : c.name, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, in->goal ? in->goal : c.goal, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 4, in->purpose ? in->purpose : c.purpose, -1, SQLITE_STATIC);
        const char *tag = in->tag ? in->tag : c.tag;
        loa__bind_text(s, 5, tag && *tag ? tag : NULL);
        sqlite3_bind_text(s, 6, in->blocks ? in->blocks : c.blocks, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 7, in->filter ? in->filter : c.filter, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 8, in->scheduled_at >= 0 ? in->scheduled_at : c.scheduled_at);
        sqlite3_bind_int64(s, 9, in->batch_size >= 0 ? in->batch_size : c.batch_size);
        sqlite3_bind_int64(
            s, 10, in->batch_interval_ms >= 0 ? in->batch_interval_ms : c.batch_interval_ms);
        sqlite3_bind_int64(s, 11, in->rate_per_s >= 0 ? in->rate_per_s : c.rate_per_s);
        sqlite3_bind_int(s, 12,
                         in->window_from_min >= -1 ? in->window_from_min : c.window_from_min);
        sqlite3_bind_int(s, 13, in->window_to_min >= -1 ? in->window_to_min : c.window_to_min);
        sqlite3_bind_int64(s, 14, now);
        if (sqlite3_step(s) != SQLITE_DONE)
            rc = loa__db_fail(st, "update campaign");
        else if (sqlite3_changes(st->db) == 0)
            rc = LOA_ESTATE;
        sqlite3_finalize(s);
    }
    loa_campaign_release(&c);
    return rc;
}

int loa__sqlite_campaign_list(struct loa_store *st, int64_t page_ref, unsigned status_mask,
                              int (*fn)(const struct loa_campaign *c, void *ud), void *ud)
{
    if (st->version < 5)
        return LOA_EVERSION;
    sqlite3_stmt *s;
    int rc =
        loa__prepare(st,
                     "SELECT " CAMPAIGN_COLUMNS " FROM campaigns WHERE (?1 = 0 OR page_ref = ?1)"
                     " ORDER BY id DESC",
                     &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, page_ref);
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct loa_campaign c;
        read_campaign(s, &c, false);
        if (status_mask && !(status_mask & (1u << c.status)))
            continue;
        if (fn(&c, ud))
            break;
    }
    rc = step == SQLITE_ROW || step == SQLITE_DONE ? 0 : loa__db_fail(st, "list campaigns");
    sqlite3_finalize(s);
    return rc;
}

/* Runs fn as one step of the open transaction: all of its writes, or none (loa__op_begin). */
static int atomic(struct loa_store *st, int (*fn)(struct loa_store *st, void *ud), void *ud)
{
    int rc = loa__op_begin(st);
    return rc < 0 ? rc : loa__op_end(st, fn(st, ud));
}

/* 0 when campaign id's status is in from_mask; LOA_ENOENT, LOA_ESTATE or a store error. */
static int check_status(struct loa_store *st, int64_t id, unsigned from_mask)
{
    sqlite3_stmt *s;
    int rc = loa__prepare(st, "SELECT status FROM campaigns WHERE id = ?", &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, id);
    int step = sqlite3_step(s);
    enum loa_campaign_status cur = LOA_CAMPAIGN_DRAFT;
    if (step == SQLITE_ROW)
        loa_campaign_status_parse((const char *)sqlite3_column_text(s, 0), &cur);
    sqlite3_finalize(s);
    if (step != SQLITE_ROW)
        return step == SQLITE_DONE ? LOA_ENOENT : loa__db_fail(st, "get campaign status");
    return from_mask & (1u << cur) ? 0 : LOA_ESTATE;
}

struct status_args {
    int64_t id;
    unsigned from_mask;
    enum loa_campaign_status to;
    const char *reason;
    int64_t now;
};

static int set_status_txn(struct loa_store *st, void *ud)
{
    struct status_args *a = ud;
    int rc = check_status(st, a->id, a->from_mask);
    if (rc < 0)
        return rc;
    sqlite3_stmt *s;
    bool final = a->to == LOA_CAMPAIGN_COMPLETED || a->to == LOA_CAMPAIGN_CANCELLED;
    rc = loa__prepare(st,
                      "UPDATE campaigns SET status = ?2, status_reason = ?3, updated_at = ?4,"
                      " completed_at = CASE WHEN ?5 THEN ?4 ELSE completed_at END WHERE id = ?1",
                      &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, a->id);
    sqlite3_bind_text(s, 2, loa_campaign_status_name(a->to), -1, SQLITE_STATIC);
    loa__bind_text(s, 3, a->reason);
    sqlite3_bind_int64(s, 4, a->now);
    sqlite3_bind_int(s, 5, final);
    rc = step_done(st, s, "set campaign status");
    sqlite3_finalize(s);
    if (rc == 0 && a->to == LOA_CAMPAIGN_CANCELLED) {
        rc = loa__prepare(st,
                          "UPDATE deliveries SET state = 'skipped', reason = 'cancelled'"
                          " WHERE campaign_id = ? AND state = 'pending'",
                          &s);
        if (rc == 0) {
            sqlite3_bind_int64(s, 1, a->id);
            rc = step_done(st, s, "cancel deliveries");
            sqlite3_finalize(s);
        }
    }
    return rc;
}

int loa__sqlite_campaign_set_status(struct loa_txn *tx, int64_t id, unsigned from_mask,
                                    enum loa_campaign_status to, const char *reason, int64_t now)
{
    struct loa_store *st = tx->st;
    if (st->version < 5)
        return LOA_EVERSION;
    struct status_args a = { id, from_mask, to, reason, now };
    return atomic(st, set_status_txn, &a);
}

int loa__sqlite_campaign_pause_page(struct loa_txn *tx, int64_t page_ref, const char *reason,
                                    int64_t now, int64_t *count_out)
{
    struct loa_store *st = tx->st;
    sqlite3_stmt *s;
    int rc =
        loa__prepare(st,
                     "UPDATE campaigns SET status = 'paused', status_reason = ?2, updated_at = ?3"
                     " WHERE page_ref = ?1 AND status = 'running'",
                     &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, page_ref);
    loa__bind_text(s, 2, reason);
    sqlite3_bind_int64(s, 3, now);
    rc = step_done(st, s, "pause Page campaigns");
    if (rc == 0 && count_out)
        *count_out = sqlite3_changes(st->db);
    sqlite3_finalize(s);
    return rc;
}

struct snapshot_ud {
    struct loa_store *st;
    sqlite3_stmt *ins;
    int64_t campaign_id;
    int64_t page_ref;
    int64_t quota;
    int64_t priority;
    int64_t n;
    int rc;
};

static int snapshot_one(const struct loa_audience_member *m, void *ud)
{
    struct snapshot_ud *u = ud;
    sqlite3_stmt *s = u->ins;
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    bool over = u->quota > 0 && u->n >= u->quota;
    sqlite3_bind_int64(s, 1, u->campaign_id);
    sqlite3_bind_int64(s, 2, u->page_ref);
    sqlite3_bind_int64(s, 3, m->id);
    loa__bind_text(s, 4, m->psid);
    sqlite3_bind_int64(s, 5, u->n);
    sqlite3_bind_text(s, 6, over ? "skipped" : "pending", -1, SQLITE_STATIC);
    loa__bind_text(s, 7, over ? "plan_quota" : NULL);
    sqlite3_bind_int64(s, 8, u->priority);
    if (sqlite3_step(s) != SQLITE_DONE) {
        u->rc = loa__db_fail(u->st, "insert delivery");
        return 1;
    }
    u->n++;
    return 0;
}

int loa__sqlite_campaign_snapshot(struct loa_txn *tx, int64_t id,
                                  const struct loa_audience_node *filter, int64_t plan_quota,
                                  int64_t priority, int64_t now, int64_t *total_out)
{
    struct loa_store *st = tx->st;
    if (st->version < 5)
        return LOA_EVERSION;
    int rc = loa__op_begin(st);
    if (rc < 0)
        return rc;
    struct loa_campaign c = { 0 };
    if ((rc = loa_store_campaign_get(st, id, &c)) < 0)
        goto out;
    if (c.status != LOA_CAMPAIGN_DRAFT && c.status != LOA_CAMPAIGN_SCHEDULED) {
        rc = LOA_ESTATE;
        goto out;
    }
    struct snapshot_ud u = { .st = st,
                             .campaign_id = id,
                             .page_ref = c.page_ref,
                             .quota = plan_quota,
                             .priority = priority };
    if (!(u.ins = cstmt(st, C_SNAPSHOT_INSERT))) {
        rc = LOA_ESTORE;
        goto out;
    }
    rc = loa_store_audience_scan(st, c.page_ref, filter, LOA_AUDIENCE_BY_RECENT, NULL, 0,
                                 snapshot_one, &u);
    sqlite3_reset(u.ins);
    if (rc == 0)
        rc = u.rc;
    if (rc < 0)
        goto out;
    sqlite3_stmt *s;
    if ((rc = loa__prepare(st,
                           "UPDATE campaigns SET status = 'running', status_reason = NULL,"
                           " started_at = ?2, updated_at = ?2, total = ?3 WHERE id = ?1",
                           &s)) < 0)
        goto out;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, now);
    sqlite3_bind_int64(s, 3, u.n);
    rc = step_done(st, s, "start campaign");
    sqlite3_finalize(s);
    if (rc == 0 && total_out)
        *total_out = u.n;
out:
    loa_campaign_release(&c);
    return loa__op_end(st, rc);
}

int loa__sqlite_campaign_finish_if_done(struct loa_txn *tx, int64_t id, int64_t now, bool *done_out)
{
    struct loa_store *st = tx->st;
    *done_out = false;
    sqlite3_stmt *s = cstmt(st, st->version >= 8 ? C_FINISH_COUNT_V8 : C_FINISH_COUNT);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, id);
    if (sqlite3_step(s) != SQLITE_ROW)
        return loa__db_fail(st, "count open deliveries");
    int64_t open = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (open > 0)
        return 0;
    int rc = loa__prepare(st,
                          "UPDATE campaigns SET status = 'completed', completed_at = ?2,"
                          " updated_at = ?2 WHERE id = ?1 AND status = 'running'",
                          &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, now);
    rc = step_done(st, s, "complete campaign");
    if (rc == 0)
        *done_out = sqlite3_changes(st->db) > 0;
    sqlite3_finalize(s);
    return rc;
}

/* ---- Claim and settle --------------------------------------------------------------------- */

void loa_claim_release(struct loa_claim *c)
{
    if (!c)
        return;
    LOA_FREE(c->psid);
    LOA_FREE(c->first_name);
    LOA_FREE(c->last_name);
    LOA_FREE(c->attrs);
    LOA_FREE(c->last_interaction_kind);
}

static const char *const source_names[LOA_SOURCE_COUNT] = {
    "campaign", "sequence", "topic", "marketing", "utility", "reply",
};

const char *loa_source_name(enum loa_source s)
{
    return (unsigned)s < LOA_SOURCE_COUNT ? source_names[s] : "?";
}

/* The person's side of a claim: what the rules and personalisation need. */
static int claim_person(struct loa_store *st, struct loa_claim *c)
{
    sqlite3_stmt *s = cstmt(st, C_CLAIM_PERSON);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, c->subscriber_id);
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        c->first_name = loa__col_dup(s, 0);
        c->last_name = loa__col_dup(s, 1);
        c->attrs = loa__col_dup(s, 2);
        c->first_seen_at = sqlite3_column_int64(s, 3);
        c->last_interaction_at = sqlite3_column_int64(s, 4);
        c->last_interaction_kind = loa__col_dup(s, 5);
        c->first_after_ctm_ad = sqlite3_column_int(s, 6) != 0;
        c->unreachable = sqlite3_column_int(s, 7) != 0;
        c->utc_offset_min = sqlite3_column_type(s, 8) == SQLITE_NULL ? LOA_UTC_OFFSET_UNKNOWN
                                                                     : sqlite3_column_int(s, 8);
    } else if (step == SQLITE_DONE) {
        c->utc_offset_min = LOA_UTC_OFFSET_UNKNOWN;
        c->unreachable = true; /* deleted since it was queued: cannot be messaged */
    } else {
        return loa__db_fail(st, "read claimed person");
    }
    sqlite3_reset(s);
    return 0;
}

int loa__sqlite_outbox_claim(struct loa_txn *tx, int64_t page_ref, enum loa_source source,
                             int64_t source_id, int64_t now, size_t max, struct loa_claim *out,
                             size_t *n_out)
{
    struct loa_store *st = tx->st;
    *n_out = 0;
    if (max == 0)
        return 0;
    if (st->version < 7)
        return LOA_EVERSION;
    /* A savepoint of the caller's transaction, which commits before it submits anything. */
    int rc = loa__op_begin(st);
    if (rc < 0)
        return rc;
    size_t n = 0;
    sqlite3_stmt *s = cstmt(st, source_id ? C_CLAIM_SOURCE : C_CLAIM);
    if (!s) {
        rc = LOA_ESTORE;
        goto out;
    }
    sqlite3_bind_int64(s, 1, page_ref);
    sqlite3_bind_int64(s, 2, now);
    sqlite3_bind_int64(s, 3, (int64_t)max);
    sqlite3_bind_text(s, 4, loa_source_name(source), -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, source_id);
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == max)
            continue; /* cannot happen (LIMIT); the statement must still run to its end */
        struct loa_claim *c = &out[n++];
        memset(c, 0, sizeof(*c));
        c->id = sqlite3_column_int64(s, 0);
        c->subscriber_id = sqlite3_column_int64(s, 1);
        c->attempts = sqlite3_column_int64(s, 2);
        c->psid = loa__col_dup(s, 3);
        c->campaign_id = sqlite3_column_int64(s, 4);
        c->source_id = sqlite3_column_int64(s, 5);
        c->source = source;
        c->page_ref = page_ref;
    }
    if (step != SQLITE_DONE)
        rc = loa__db_fail(st, "claim deliveries");
    sqlite3_reset(s);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = claim_person(st, &out[i]);
out:
    if ((rc = loa__op_end(st, rc)) < 0) {
        for (size_t i = 0; i < n; i++)
            loa_claim_release(&out[i]);
        n = 0;
    }
    *n_out = n;
    return rc;
}

int loa__sqlite_ledger_add(struct loa_txn *tx, int64_t page_ref, int64_t at, int64_t n)
{
    struct loa_store *st = tx->st;
    sqlite3_stmt *s = cstmt(st, C_LEDGER_ADD);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, page_ref);
    sqlite3_bind_int64(s, 2, at - at % LOA_MINUTE_MS);
    sqlite3_bind_int64(s, 3, n);
    return step_done(st, s, "add to send ledger");
}

static int ledger_query(struct loa_store *st, int64_t page_ref, int64_t since, int64_t *count,
                        int64_t *oldest)
{
    sqlite3_stmt *s = cstmt(st, C_LEDGER_COUNT);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, page_ref);
    sqlite3_bind_int64(s, 2, since);
    if (sqlite3_step(s) != SQLITE_ROW)
        return loa__db_fail(st, "count send ledger");
    if (count)
        *count = sqlite3_column_int64(s, 0);
    if (oldest)
        *oldest = sqlite3_column_int64(s, 1);
    sqlite3_reset(s);
    return 0;
}

int loa__sqlite_ledger_count(struct loa_store *st, int64_t page_ref, int64_t since,
                             int64_t *count_out)
{
    return ledger_query(st, page_ref, since, count_out, NULL);
}

int loa__sqlite_ledger_oldest(struct loa_store *st, int64_t page_ref, int64_t since,
                              int64_t *minute_out)
{
    return ledger_query(st, page_ref, since, NULL, minute_out);
}

/* The transition to sent: the ledger counts it, the conversation shows it. */
static int record_sent(struct loa_store *st, int64_t id, int64_t page_ref, const char *psid,
                       const char *mid, const char *text, int64_t at)
{
    int rc = loa_store_ledger_add(&st->base.txn, page_ref, at, 1);
    if (rc < 0 || !mid || !psid)
        return rc;
    char meta[40];
    snprintf(meta, sizeof(meta), "loa:d:%lld", (long long)id);
    struct loa_message m = {
        .page_ref = page_ref,
        .psid = (char *)(uintptr_t)psid,
        .mid = (char *)(uintptr_t)mid,
        .direction = LOA_DIR_OUT,
        .text = (char *)(uintptr_t)text,
        .metadata = meta,
        .sent_at = at,
    };
    return loa_store_message_record(&st->base.txn, &m, at, NULL);
}

struct settle_args {
    int64_t id;
    const struct loa_delivery_outcome *o;
    bool changed;
};

static int settle_txn(struct loa_store *st, void *ud)
{
    struct settle_args *a = ud;
    const struct loa_delivery_outcome *o = a->o;
    sqlite3_stmt *s = cstmt(st, C_SETTLE_GET);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, a->id);
    int step = sqlite3_step(s);
    if (step != SQLITE_ROW) {
        sqlite3_reset(s);
        return step == SQLITE_DONE ? LOA_ENOENT : loa__db_fail(st, "get delivery");
    }
    enum loa_delivery_state cur = col_state(s, 0);
    int64_t page_ref = sqlite3_column_int64(s, 1);
    char *psid = loa__col_dup(s, 2);
    const unsigned char *status = sqlite3_column_text(s, 3);
    bool cancelled = status && strcmp((const char *)status, "cancelled") == 0;
    sqlite3_reset(s);
    /* A cancelled campaign claims nothing again: what would go back to pending ends here. */
    struct loa_delivery_outcome final;
    if (cancelled && o->state == LOA_DELIVERY_PENDING) {
        final = (struct loa_delivery_outcome){ .state = LOA_DELIVERY_SKIPPED,
                                               .reason = "cancelled",
                                               .at = o->at };
        o = &final;
    }
    int rc = 0;
    if (cur != LOA_DELIVERY_IN_FLIGHT) {
        /* Settled already (the echo was first, or a recovery): only keep a missing mid. */
        if (cur == LOA_DELIVERY_SENT && o->state == LOA_DELIVERY_SENT && o->mid) {
            if ((s = cstmt(st, C_SETTLE_MID))) {
                sqlite3_bind_int64(s, 1, a->id);
                sqlite3_bind_text(s, 2, o->mid, -1, SQLITE_STATIC);
                rc = step_done(st, s, "set delivery mid");
            } else {
                rc = LOA_ESTORE;
            }
        }
        goto out;
    }
    if (!(s = cstmt(st, C_SETTLE_UPDATE))) {
        rc = LOA_ESTORE;
        goto out;
    }
    sqlite3_bind_int64(s, 1, a->id);
    sqlite3_bind_text(s, 2, loa_delivery_state_name(o->state), -1, SQLITE_STATIC);
    loa__bind_text(s, 3, o->reason);
    loa__bind_text(s, 4, o->rule);
    loa__bind_text(s, 5, o->state == LOA_DELIVERY_SENT ? o->mid : NULL);
    sqlite3_bind_int64(s, 6, o->state == LOA_DELIVERY_SENT ? o->at : 0);
    sqlite3_bind_int64(s, 7, o->state == LOA_DELIVERY_PENDING ? o->next_at : 0);
    sqlite3_bind_int(s, 8, o->state == LOA_DELIVERY_PENDING && o->refund_attempt ? 1 : 0);
    if ((rc = step_done(st, s, "settle delivery")) < 0)
        goto out;
    a->changed = true;
    if (o->state == LOA_DELIVERY_SENT)
        rc = record_sent(st, a->id, page_ref, psid, o->mid, o->text, o->at);
out:
    loa_free(psid);
    return rc;
}

int loa__sqlite_delivery_settle(struct loa_txn *tx, int64_t id,
                                const struct loa_delivery_outcome *o, bool *changed_out)
{
    struct loa_store *st = tx->st;
    struct settle_args a = { .id = id, .o = o };
    int rc = atomic(st, settle_txn, &a);
    if (changed_out)
        *changed_out = rc == 0 && a.changed;
    return rc;
}

static int delivery_recover_op(struct loa_store *st, int64_t campaign_id, int64_t now,
                               int64_t *count_out)
{
    if (st->version < 5)
        return LOA_EVERSION;
    sqlite3_stmt *s;
    int rc = loa__prepare(st,
                          "UPDATE deliveries SET state = 'unknown', reason = 'interrupted'"
                          " WHERE state = 'in_flight' AND (?1 = 0 OR campaign_id = ?1)",
                          &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, campaign_id);
    rc = step_done(st, s, "recover deliveries");
    if (rc == 0 && count_out)
        *count_out = sqlite3_changes(st->db);
    sqlite3_finalize(s);
    if (rc == 0 && loa__prepare(st, "DELETE FROM send_ledger WHERE minute < ?", &s) == 0) {
        sqlite3_bind_int64(s, 1, now - 2 * LOA_DAY_MS);
        rc = step_done(st, s, "prune send ledger");
        sqlite3_finalize(s);
    }
    return rc;
}

int loa__sqlite_delivery_recover(struct loa_txn *tx, int64_t campaign_id, int64_t now,
                                 int64_t *count_out)
{
    int rc = loa__op_begin(tx->st);
    return rc < 0 ? rc
                  : loa__op_end(tx->st, delivery_recover_op(tx->st, campaign_id, now, count_out));
}

/* ---- Counts and lists --------------------------------------------------------------------- */

int loa__sqlite_campaign_stats(struct loa_store *st, int64_t id, struct loa_campaign_stats *out,
                               int (*fn)(enum loa_delivery_state state, const char *reason,
                                         int64_t count, void *ud),
                               void *ud)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *s;
    int rc = loa__prepare(st,
                          "SELECT state, reason, count(*), sum(delivered_at > 0), sum(read_at > 0),"
                          " sum(clicked_at > 0), sum(replied_at > 0) FROM deliveries"
                          " WHERE campaign_id = ? GROUP BY state, reason ORDER BY count(*) DESC",
                          &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, id);
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        enum loa_delivery_state state = col_state(s, 0);
        int64_t n = sqlite3_column_int64(s, 2);
        out->by_state[state] += n;
        out->total += n;
        out->delivered += sqlite3_column_int64(s, 3);
        out->read += sqlite3_column_int64(s, 4);
        out->clicked += sqlite3_column_int64(s, 5);
        out->replied += sqlite3_column_int64(s, 6);
        if (fn && fn(state, (const char *)sqlite3_column_text(s, 1), n, ud))
            break;
    }
    rc = step == SQLITE_ROW || step == SQLITE_DONE ? 0 : loa__db_fail(st, "campaign stats");
    sqlite3_finalize(s);
    return rc;
}

int loa__sqlite_delivery_list(struct loa_store *st, int64_t campaign_id, unsigned state_mask,
                              int64_t after, int64_t limit, int64_t older_than,
                              int (*fn)(const struct loa_delivery *d, void *ud), void *ud)
{
    /* The state filter is SQL (names from our own table), so listing the few failed or unknown
     * deliveries of a large campaign walks the (campaign_id, state, position) index, not the
     * whole campaign. */
    char sql[768], states[160] = "";
    size_t used = 0;
    for (int i = 0; i < LOA_DELIVERY_STATE_COUNT; i++)
        if (state_mask & (1u << i))
            used += (size_t)snprintf(states + used, sizeof(states) - used, "%s'%s'",
                                     used ? ", " : "", state_names[i]);
    snprintf(sql, sizeof(sql),
             "SELECT id, campaign_id, subscriber_id, psid, position, state, reason, rule,"
             " attempts, next_at, mid, claimed_at, sent_at, delivered_at, read_at,"
             " clicked_at, replied_at, %s FROM deliveries WHERE campaign_id = ?1"
             " AND position > ?2%s%s%s"
             " AND NOT (?3 > 0 AND state = 'unknown' AND claimed_at >= ?3)"
             " ORDER BY position LIMIT ?4",
             st->version >= 8 ? "reconciled_at" : "0", used ? " AND state IN (" : "", states,
             used ? ")" : "");
    sqlite3_stmt *s;
    int rc = loa__prepare(st, sql, &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, campaign_id);
    sqlite3_bind_int64(s, 2, after);
    sqlite3_bind_int64(s, 3, older_than);
    sqlite3_bind_int64(s, 4, limit > 0 ? limit : -1);
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct loa_delivery d = {
            .id = sqlite3_column_int64(s, 0),
            .campaign_id = sqlite3_column_int64(s, 1),
            .subscriber_id = sqlite3_column_int64(s, 2),
            .psid = (const char *)sqlite3_column_text(s, 3),
            .position = sqlite3_column_int64(s, 4),
            .state = col_state(s, 5),
            .reason = (const char *)sqlite3_column_text(s, 6),
            .rule = (const char *)sqlite3_column_text(s, 7),
            .attempts = sqlite3_column_int64(s, 8),
            .next_at = sqlite3_column_int64(s, 9),
            .mid = (const char *)sqlite3_column_text(s, 10),
            .claimed_at = sqlite3_column_int64(s, 11),
            .sent_at = sqlite3_column_int64(s, 12),
            .delivered_at = sqlite3_column_int64(s, 13),
            .read_at = sqlite3_column_int64(s, 14),
            .clicked_at = sqlite3_column_int64(s, 15),
            .replied_at = sqlite3_column_int64(s, 16),
            .reconciled_at = sqlite3_column_int64(s, 17),
        };
        if (fn(&d, ud))
            break;
    }
    rc = step == SQLITE_ROW || step == SQLITE_DONE ? 0 : loa__db_fail(st, "list deliveries");
    sqlite3_finalize(s);
    return rc;
}

/* Re-queued deliveries reopen a completed campaign. */
static int reopen(struct loa_store *st, int64_t campaign_id, int64_t now)
{
    sqlite3_stmt *s;
    int rc =
        loa__prepare(st,
                     "UPDATE campaigns SET status = 'running', completed_at = 0, updated_at = ?2"
                     " WHERE id = ?1 AND status = 'completed'",
                     &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, campaign_id);
    sqlite3_bind_int64(s, 2, now);
    rc = step_done(st, s, "reopen campaign");
    sqlite3_finalize(s);
    return rc;
}

/* Binds item i of a requeue list to parameter 2 of the statement. */
typedef void (*requeue_bind_fn)(sqlite3_stmt *s, const void *items, size_t i);

static void bind_reason(sqlite3_stmt *s, const void *items, size_t i)
{
    sqlite3_bind_text(s, 2, ((const char *const *)items)[i], -1, SQLITE_STATIC);
}

static void bind_id(sqlite3_stmt *s, const void *items, size_t i)
{
    sqlite3_bind_int64(s, 2, ((const int64_t *)items)[i]);
}

/*
 * Runs an UPDATE (?1 campaign, ?2 item, ?3 now) that puts deliveries back to pending once per
 * item, all or nothing in the caller's transaction, and reopens the campaign when any
 * delivery changed. *count_out gets how many did.
 */
/* Re-queues apply only to a campaign that has started and is not cancelled: anything else
 * would leave pending deliveries that never send. */
#define STARTED " ('running', 'paused', 'completed')"

static int requeue(struct loa_store *st, const char *sql, const char *what, int64_t campaign_id,
                   const void *items, size_t n, requeue_bind_fn bind, int64_t now,
                   int64_t *count_out)
{
    sqlite3_stmt *s;
    int rc = loa__prepare(st, sql, &s);
    if (rc < 0)
        return rc;
    if ((rc = loa__op_begin(st)) < 0) {
        sqlite3_finalize(s);
        return rc;
    }
    int64_t total = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        sqlite3_reset(s);
        sqlite3_bind_int64(s, 1, campaign_id);
        bind(s, items, i);
        sqlite3_bind_int64(s, 3, now);
        if ((rc = step_done(st, s, what)) == 0)
            total += sqlite3_changes(st->db);
    }
    sqlite3_finalize(s);
    if (rc == 0 && total > 0)
        rc = reopen(st, campaign_id, now);
    rc = loa__op_end(st, rc);
    if (rc == 0 && count_out)
        *count_out = total;
    return rc;
}

int loa__sqlite_delivery_retry_failed(struct loa_txn *tx, int64_t campaign_id,
                                      const char *const *reasons, size_t n, int64_t now,
                                      int64_t *count_out)
{
    struct loa_store *st = tx->st;
    return requeue(st,
                   "UPDATE deliveries SET state = 'pending', reason = NULL, attempts = 0,"
                   " next_at = ?3 WHERE campaign_id = ?1 AND state = 'failed' AND reason = ?2"
                   " AND (SELECT status FROM campaigns WHERE id = ?1) IN" STARTED,
                   "retry failed deliveries", campaign_id, reasons, n, bind_reason, now, count_out);
}

/* The listed ids that are unknown deliveries of the campaign not reconciled yet. */
static int unreconciled_of(struct loa_store *st, int64_t campaign_id, const int64_t *ids, size_t n,
                           int64_t *out, size_t *n_out)
{
    *n_out = 0;
    if (st->version < 8)
        return 0;
    sqlite3_stmt *s = cstmt(st, C_RESEND_CHECK);
    if (!s)
        return LOA_ESTORE;
    for (size_t i = 0; i < n; i++) {
        sqlite3_bind_int64(s, 1, campaign_id);
        sqlite3_bind_int64(s, 2, ids[i]);
        int step = sqlite3_step(s);
        sqlite3_reset(s);
        if (step == SQLITE_ROW) {
            if (out)
                out[*n_out] = ids[i];
            (*n_out)++;
        } else if (step != SQLITE_DONE) {
            return loa__db_fail(st, "check unknown deliveries");
        }
    }
    return 0;
}

int loa__sqlite_delivery_resend_unknown(struct loa_txn *tx, int64_t campaign_id, const int64_t *ids,
                                        size_t n, bool force, int64_t now, int64_t *count_out,
                                        int64_t *unreconciled_out, size_t *nunreconciled_out)
{
    struct loa_store *st = tx->st;
    size_t bad = 0;
    if (nunreconciled_out)
        *nunreconciled_out = 0;
    if (count_out)
        *count_out = 0;
    if (!force) {
        int rc = unreconciled_of(st, campaign_id, ids, n, unreconciled_out, &bad);
        if (nunreconciled_out)
            *nunreconciled_out = bad;
        if (rc < 0)
            return rc;
        if (bad > 0)
            return LOA_EAGAIN;
    }
    return requeue(st,
                   st->version >= 8
                       ? "UPDATE deliveries SET state = 'pending', reason = NULL, next_at = ?3,"
                         " reconciled_at = 0, reconcile_at = 0, reconcile_tries = 0"
                         " WHERE id = ?2 AND campaign_id = ?1 AND state = 'unknown'"
                         " AND (SELECT status FROM campaigns WHERE id = ?1) IN" STARTED
                       : "UPDATE deliveries SET state = 'pending', reason = NULL, next_at = ?3"
                         " WHERE id = ?2 AND campaign_id = ?1 AND state = 'unknown'"
                         " AND (SELECT status FROM campaigns WHERE id = ?1) IN" STARTED,
                   "resend unknown deliveries", campaign_id, ids, n, bind_id, now, count_out);
}

/* ---- Reconciliation ----------------------------------------------------------------------- */

int loa__sqlite_delivery_unreconciled(struct loa_store *st, int64_t page_ref, int64_t older_than,
                                      int64_t now, int64_t per_page, int64_t limit,
                                      int (*fn)(const struct loa_unreconciled *u, void *ud),
                                      void *ud)
{
    if (st->version < 8)
        return LOA_EVERSION;
    sqlite3_stmt *s;
    int rc = loa__prepare(st,
                          "SELECT id, campaign_id, page_ref, psid, claimed_at, reconcile_tries"
                          " FROM (SELECT *, row_number() OVER (PARTITION BY page_ref"
                          "  ORDER BY claimed_at, id) AS nth FROM deliveries"
                          "  WHERE state = 'unknown' AND reconciled_at = 0"
                          "  AND (?1 = 0 OR page_ref = ?1) AND claimed_at < ?2"
                          "  AND reconcile_at <= ?3)"
                          " WHERE ?5 <= 0 OR nth <= ?5 ORDER BY claimed_at, id LIMIT ?4",
                          &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, page_ref);
    sqlite3_bind_int64(s, 2, older_than);
    sqlite3_bind_int64(s, 3, now);
    sqlite3_bind_int64(s, 4, limit > 0 ? limit : -1);
    sqlite3_bind_int64(s, 5, per_page);
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct loa_unreconciled u = {
            .id = sqlite3_column_int64(s, 0),
            .campaign_id = sqlite3_column_int64(s, 1),
            .page_ref = sqlite3_column_int64(s, 2),
            .psid = (const char *)sqlite3_column_text(s, 3),
            .claimed_at = sqlite3_column_int64(s, 4),
            .tries = sqlite3_column_int64(s, 5),
        };
        if (fn(&u, ud))
            break;
    }
    rc = step == SQLITE_ROW || step == SQLITE_DONE
             ? 0
             : loa__db_fail(st, "list unreconciled deliveries");
    sqlite3_finalize(s);
    return rc;
}

struct reconcile_args {
    int64_t id;
    bool sent;
    const char *mid;
    const char *text;
    int64_t at, now;
    bool changed;
};

static int reconcile_txn(struct loa_store *st, void *ud)
{
    struct reconcile_args *a = ud;
    sqlite3_stmt *s = cstmt(st, C_RECONCILE_GET);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, a->id);
    int step = sqlite3_step(s);
    if (step != SQLITE_ROW) {
        sqlite3_reset(s);
        return step == SQLITE_DONE ? LOA_ENOENT : loa__db_fail(st, "get delivery");
    }
    bool open = col_state(s, 0) == LOA_DELIVERY_UNKNOWN && sqlite3_column_int64(s, 1) == 0;
    int64_t page_ref = sqlite3_column_int64(s, 2);
    char *psid = loa__col_dup(s, 3);
    sqlite3_reset(s);
    int rc = 0;
    if (!open)
        goto out;
    if (!(s = cstmt(st, a->sent ? C_RECONCILE_SENT : C_RECONCILE_NOT_SENT))) {
        rc = LOA_ESTORE;
        goto out;
    }
    sqlite3_bind_int64(s, 1, a->id);
    if (a->sent) {
        loa__bind_text(s, 2, a->mid);
        sqlite3_bind_int64(s, 3, a->at);
        sqlite3_bind_int64(s, 4, a->now);
    } else {
        sqlite3_bind_int64(s, 2, a->now);
    }
    if ((rc = step_done(st, s, "reconcile delivery")) < 0)
        goto out;
    a->changed = sqlite3_changes(st->db) > 0;
    if (a->changed && a->sent)
        rc = record_sent(st, a->id, page_ref, psid, a->mid, a->text, a->at);
out:
    loa_free(psid);
    return rc;
}

int loa__sqlite_delivery_reconcile(struct loa_txn *tx, int64_t id, bool sent, const char *mid,
                                   const char *text, int64_t at, int64_t now, bool *changed_out)
{
    struct loa_store *st = tx->st;
    if (changed_out)
        *changed_out = false;
    if (st->version < 8)
        return LOA_EVERSION;
    if (sent && (!mid || !mid[0]))
        return LOA_EINVAL;
    struct reconcile_args a = {
        .id = id, .sent = sent, .mid = mid, .text = text, .at = at, .now = now
    };
    int rc = atomic(st, reconcile_txn, &a);
    if (changed_out)
        *changed_out = rc == 0 && a.changed;
    return rc;
}

int loa__sqlite_delivery_reconcile_later(struct loa_txn *tx, int64_t id, int64_t next_at)
{
    struct loa_store *st = tx->st;
    if (st->version < 8)
        return LOA_EVERSION;
    sqlite3_stmt *s = cstmt(st, C_RECONCILE_LATER);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, next_at);
    return step_done(st, s, "postpone reconciliation");
}

int loa__sqlite_subscriber_set_unreachable(struct loa_txn *tx, int64_t id, const char *reason,
                                           int64_t now)
{
    struct loa_store *st = tx->st;
    sqlite3_stmt *s;
    int rc = loa__prepare(st,
                          "UPDATE subscribers SET unreachable = ?2, unreachable_reason = ?3,"
                          " updated_at = ?4 WHERE id = ?1",
                          &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int(s, 2, reason != NULL);
    loa__bind_text(s, 3, reason);
    sqlite3_bind_int64(s, 4, now);
    rc = step_done(st, s, "mark subscriber unreachable");
    if (rc == 0 && sqlite3_changes(st->db) == 0)
        rc = LOA_ENOENT;
    sqlite3_finalize(s);
    return rc;
}

/* ---- Webhook effects ---------------------------------------------------------------------- */

static int delivery_echo_op(struct loa_store *st, int64_t id, const char *mid, int64_t at,
                            bool *settled_out)
{
    if (settled_out)
        *settled_out = false;
    if (st->version < 5)
        return 0;
    sqlite3_stmt *s = cstmt(st, C_ECHO_GET);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, id);
    int step = sqlite3_step(s);
    if (step != SQLITE_ROW) {
        sqlite3_reset(s);
        return step == SQLITE_DONE ? 0 : loa__db_fail(st, "get delivery");
    }
    enum loa_delivery_state cur = col_state(s, 0);
    int64_t page_ref = sqlite3_column_int64(s, 1);
    sqlite3_reset(s);
    if (cur != LOA_DELIVERY_IN_FLIGHT && cur != LOA_DELIVERY_UNKNOWN) {
        if (cur == LOA_DELIVERY_SENT && mid && (s = cstmt(st, C_SETTLE_MID))) {
            sqlite3_bind_int64(s, 1, id);
            sqlite3_bind_text(s, 2, mid, -1, SQLITE_STATIC);
            return step_done(st, s, "set delivery mid");
        }
        return 0;
    }
    if (!(s = cstmt(st, C_SETTLE_UPDATE)))
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_text(s, 2, "sent", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, cur == LOA_DELIVERY_UNKNOWN ? "echo" : NULL, -1, SQLITE_STATIC);
    sqlite3_bind_null(s, 4);
    loa__bind_text(s, 5, mid);
    sqlite3_bind_int64(s, 6, at);
    sqlite3_bind_int64(s, 7, 0);
    sqlite3_bind_int(s, 8, 0);
    int rc = step_done(st, s, "settle delivery by echo");
    if (rc == 0)
        rc = loa_store_ledger_add(&st->base.txn, page_ref, at, 1);
    if (rc == 0 && settled_out)
        *settled_out = true;
    return rc;
}

int loa__sqlite_delivery_echo(struct loa_txn *tx, int64_t id, const char *mid, int64_t at,
                              bool *settled_out)
{
    int rc = loa__op_begin(tx->st);
    return rc < 0 ? rc : loa__op_end(tx->st, delivery_echo_op(tx->st, id, mid, at, settled_out));
}

int loa__sqlite_delivery_funnel(struct loa_txn *tx, int64_t page_ref, const char *psid)
{
    struct loa_store *st = tx->st;
    if (st->version < 5)
        return 0;
    sqlite3_stmt *s = cstmt(st, C_FUNNEL);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, page_ref);
    sqlite3_bind_text(s, 2, psid, -1, SQLITE_STATIC);
    return step_done(st, s, "delivery funnel");
}

int loa__sqlite_delivery_clicked(struct loa_txn *tx, enum loa_source source, int64_t source_id,
                                 int64_t page_ref, const char *psid, int64_t at)
{
    struct loa_store *st = tx->st;
    if (st->version < 5)
        return 0;
    sqlite3_stmt *s = cstmt(st, C_CLICKED);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, source_id);
    sqlite3_bind_int64(s, 2, page_ref);
    sqlite3_bind_text(s, 3, psid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, at);
    sqlite3_bind_text(s, 5, loa_source_name(source), -1, SQLITE_STATIC);
    return step_done(st, s, "delivery clicked");
}

int loa__sqlite_delivery_replied(struct loa_txn *tx, int64_t page_ref, const char *psid, int64_t at)
{
    struct loa_store *st = tx->st;
    if (st->version < 5)
        return 0;
    int rc = 0;
    for (int k = 0; rc == 0 && k < (st->version >= 9 ? 2 : 1); k++) {
        sqlite3_stmt *s = cstmt(st, k == 1             ? C_REPLIED_STEP
                                    : st->version >= 9 ? C_REPLIED_V9
                                                       : C_REPLIED);
        if (!s)
            return LOA_ESTORE;
        sqlite3_bind_int64(s, 1, page_ref);
        sqlite3_bind_text(s, 2, psid, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 3, at);
        rc = step_done(st, s, "delivery replied");
    }
    return rc;
}

/* ---- Deleting ----------------------------------------------------------------------------- */

struct delete_args {
    int64_t id;
    unsigned from_mask;
};

static int delete_txn(struct loa_store *st, void *ud)
{
    struct delete_args *a = ud;
    int rc = check_status(st, a->id, a->from_mask);
    if (rc < 0)
        return rc;
    sqlite3_stmt *s;
    /* Its deliveries go with it (ON DELETE CASCADE); the send ledger keeps what was sent. */
    if ((rc = loa__prepare(st, "DELETE FROM campaigns WHERE id = ?", &s)) < 0)
        return rc;
    sqlite3_bind_int64(s, 1, a->id);
    rc = step_done(st, s, "delete campaign");
    sqlite3_finalize(s);
    return rc;
}

int loa__sqlite_campaign_delete(struct loa_txn *tx, int64_t id, unsigned from_mask)
{
    struct loa_store *st = tx->st;
    if (st->version < 5)
        return LOA_EVERSION;
    struct delete_args a = { id, from_mask };
    return atomic(st, delete_txn, &a);
}

/* ---- Page pacing (schema 6) --------------------------------------------------------------- */

int loa__sqlite_page_pacing_get(struct loa_store *st, int64_t page_ref, struct loa_page_pacing *out)
{
    *out = (struct loa_page_pacing){ .share = 1.0 };
    if (st->version < 6)
        return LOA_EVERSION;
    sqlite3_stmt *s = cstmt(st, st->version >= 9 ? C_PACING_GET_V9 : C_PACING_GET);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, page_ref);
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        out->share = sqlite3_column_double(s, 0);
        out->cut_at = sqlite3_column_int64(s, 1);
        out->climb_at = sqlite3_column_int64(s, 4);
        out->strikes = sqlite3_column_int64(s, 2);
        out->hold_until = sqlite3_column_int64(s, 3);
        if (st->version >= 9)
            out->stopped_at = sqlite3_column_int64(s, 5);
    }
    sqlite3_reset(s);
    return step == SQLITE_ROW || step == SQLITE_DONE ? 0 : loa__db_fail(st, "get Page pacing");
}

int loa__sqlite_page_pacing_put(struct loa_txn *tx, int64_t page_ref,
                                const struct loa_page_pacing *p)
{
    struct loa_store *st = tx->st;
    if (st->version < 6)
        return LOA_EVERSION;
    sqlite3_stmt *s = cstmt(st, st->version >= 9 ? C_PACING_PUT_V9 : C_PACING_PUT);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, page_ref);
    sqlite3_bind_double(s, 2, p->share);
    sqlite3_bind_int64(s, 3, p->cut_at);
    sqlite3_bind_int64(s, 6, p->climb_at);
    sqlite3_bind_int64(s, 4, p->strikes);
    sqlite3_bind_int64(s, 5, p->hold_until);
    if (st->version >= 9)
        sqlite3_bind_int64(s, 7, p->stopped_at);
    return step_done(st, s, "put Page pacing");
}
