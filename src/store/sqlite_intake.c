/* SPDX-License-Identifier: MIT */
/*
 * The SQLite backend, schema 3 part one: what webhooks bring in. Raw events (de-duplicated by
 * key), subscribers touched by people's actions, conversations and their messages, and
 * notification-topic tokens (encrypted at rest, found again through a keyed hash).
 *
 * None of these functions opens a transaction: the webhook wraps one batch in one.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>
#include <sqlite3.h>

#include <loa/alloc.h>
#include <loa/clock.h>
#include <loa/err.h>
#include <loa/log.h>
#include <loa/store.h>

#include "store_int.h"

enum {
    X_EVENT_INSERT = LOA__XSTMT_INTAKE,
    X_EVENT_EXISTS,
    X_EVENT_COUNT,
    X_EVENT_COUNT_KIND,
    X_SUB_WINDOW_GET,
    X_SUB_WINDOW_INSERT,
    X_SUB_WINDOW_UPDATE,
    X_SUB_GET,
    X_SUB_DELETE,
    X_SUB_PATCH,
    X_SUB_PROFILE,
    X_MSG_INSERT,
    X_CONV_UPSERT,
    X_MSG_DELIVER_WM,
    X_MSG_DELIVER_MID,
    X_CONV_DELIVER,
    X_MSG_READ,
    X_CONV_READ,
    X_MSG_REACT,
    X_MSG_GET,
    X_MSG_LIST,
    X_TOK_BY_HASH,
    X_TOK_INSERT,
    X_TOK_REFRESH,
    X_TOK_REPLACE_OLD,
    X_TOK_STATUS_HASH,
    X_TOK_STATUS_TITLE,
    X_TOK_LIST,
    X_TOK_SECRET,
    X_INTAKE_END
};
_Static_assert(X_INTAKE_END <= LOA__XSTMT_KEYS, "too many intake statements");

#define SUB_COLS_V3                                                                                \
    "id, page_ref, psid, first_name, last_name, gender, locale, utc_offset_min, phone, email, "    \
    "first_seen_at, last_interaction_at, last_interaction_kind, unreachable, unreachable_reason, " \
    "attrs, created_at, updated_at, ad_referral_at, after_ctm_ad, profile_fetched_at"
#define MSG_COLS                                                                             \
    "id, page_ref, psid, mid, direction, text, quick_reply, attachments, app_id, metadata, " \
    "sent_at, delivered_at, read_at, reaction"

static const char *const sql[X_INTAKE_END] = {
    [X_EVENT_INSERT] = "INSERT OR IGNORE INTO webhook_events (dedupe_key, kind, page_id, psid, "
                       "event_at, payload, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    [X_EVENT_EXISTS] = "SELECT 1 FROM webhook_events WHERE dedupe_key = ?",
    [X_EVENT_COUNT] = "SELECT count(*) FROM webhook_events",
    [X_EVENT_COUNT_KIND] = "SELECT count(*) FROM webhook_events WHERE kind = ?",
    [X_SUB_WINDOW_GET] = "SELECT id, first_seen_at, last_interaction_at, last_interaction_kind, "
                         "ad_referral_at, after_ctm_ad FROM subscribers "
                         "WHERE page_ref = ? AND psid = ?",
    [X_SUB_WINDOW_INSERT] =
        "INSERT INTO subscribers (page_ref, psid, first_seen_at, last_interaction_at, "
        "last_interaction_kind, ad_referral_at, after_ctm_ad, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [X_SUB_WINDOW_UPDATE] = "UPDATE subscribers SET first_seen_at = ?2, last_interaction_at = ?3, "
                            "last_interaction_kind = ?4, ad_referral_at = ?5, after_ctm_ad = ?6, "
                            "updated_at = ?7 WHERE id = ?1",
    [X_SUB_GET] = "SELECT " SUB_COLS_V3 " FROM subscribers WHERE id = ?",
    [X_SUB_DELETE] = "DELETE FROM subscribers WHERE id = ?",
    [X_SUB_PATCH] = "UPDATE subscribers SET attrs = json_patch(attrs, ?2), updated_at = ?3 "
                    "WHERE id = ?1",
    [X_SUB_PROFILE] = "UPDATE subscribers SET first_name = coalesce(?2, first_name), "
                      "last_name = coalesce(?3, last_name), locale = coalesce(?4, locale), "
                      "gender = coalesce(?5, gender), "
                      "utc_offset_min = coalesce(?6, utc_offset_min), profile_fetched_at = ?7, "
                      "updated_at = ?7 WHERE id = ?1",
    [X_MSG_INSERT] = "INSERT OR IGNORE INTO messages (page_ref, psid, mid, direction, text, "
                     "quick_reply, attachments, app_id, metadata, sent_at, created_at) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [X_CONV_UPSERT] =
        "INSERT INTO conversations (page_ref, psid, message_count, last_message_at, last_in_at, "
        "last_text) VALUES (?1, ?2, 1, ?3, ?4, ?5) ON CONFLICT (page_ref, psid) DO UPDATE SET "
        "message_count = message_count + 1, "
        "last_text = CASE WHEN ?3 >= last_message_at THEN ?5 ELSE last_text END, "
        "last_message_at = max(last_message_at, ?3), last_in_at = max(last_in_at, ?4)",
    [X_MSG_DELIVER_WM] = "UPDATE messages SET delivered_at = ?3 WHERE page_ref = ?1 AND "
                         "psid = ?2 AND direction = 'out' AND delivered_at = 0 AND sent_at <= ?3",
    [X_MSG_DELIVER_MID] = "UPDATE messages SET delivered_at = ?2 WHERE mid = ?1 AND "
                          "direction = 'out' AND delivered_at = 0",
    [X_CONV_DELIVER] =
        "INSERT INTO conversations (page_ref, psid, delivered_watermark) VALUES (?1, ?2, ?3) "
        "ON CONFLICT (page_ref, psid) DO UPDATE SET "
        "delivered_watermark = max(delivered_watermark, ?3)",
    [X_MSG_READ] = "UPDATE messages SET read_at = ?3, delivered_at = CASE WHEN delivered_at = 0 "
                   "THEN ?3 ELSE delivered_at END WHERE page_ref = ?1 AND psid = ?2 AND "
                   "direction = 'out' AND read_at = 0 AND sent_at <= ?3",
    [X_CONV_READ] = "INSERT INTO conversations (page_ref, psid, read_watermark) "
                    "VALUES (?1, ?2, ?3) ON CONFLICT (page_ref, psid) DO UPDATE SET "
                    "read_watermark = max(read_watermark, ?3)",
    [X_MSG_REACT] = "UPDATE messages SET reaction = ?2 WHERE mid = ?1",
    [X_MSG_GET] = "SELECT " MSG_COLS " FROM messages WHERE mid = ?",
    [X_MSG_LIST] = "SELECT " MSG_COLS " FROM messages WHERE page_ref = ? AND psid = ? AND id > ? "
                   "ORDER BY id LIMIT ?",
    [X_TOK_BY_HASH] = "SELECT id FROM notification_tokens WHERE page_ref = ? AND token_hash = ?",
    [X_TOK_INSERT] = "INSERT INTO notification_tokens (page_ref, psid, token_hash, token_enc, "
                     "title, payload, frequency, timezone, expires_at, status, "
                     "user_token_status, created_at, updated_at) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [X_TOK_REFRESH] = "UPDATE notification_tokens SET title = coalesce(?2, title), "
                      "payload = coalesce(?3, payload), frequency = coalesce(?4, frequency), "
                      "timezone = coalesce(?5, timezone), "
                      "expires_at = CASE WHEN ?6 > 0 THEN ?6 ELSE expires_at END, "
                      "status = coalesce(?7, status), "
                      "user_token_status = coalesce(?8, user_token_status), updated_at = ?9 "
                      "WHERE id = ?1",
    [X_TOK_REPLACE_OLD] = "UPDATE notification_tokens SET status = 'replaced', updated_at = ?5 "
                          "WHERE page_ref = ?1 AND psid = ?2 AND title IS ?3 AND id <> ?4 AND "
                          "status <> 'replaced'",
    [X_TOK_STATUS_HASH] = "UPDATE notification_tokens SET status = ?3, updated_at = ?4 "
                          "WHERE page_ref = ?1 AND token_hash = ?2",
    [X_TOK_STATUS_TITLE] = "UPDATE notification_tokens SET status = ?4, updated_at = ?5 "
                           "WHERE page_ref = ?1 AND psid = ?2 AND title IS ?3 AND "
                           "status <> 'replaced'",
    [X_TOK_LIST] = "SELECT id, page_ref, psid, title, payload, frequency, timezone, expires_at, "
                   "status, user_token_status, created_at, updated_at FROM notification_tokens "
                   "WHERE page_ref = ?1 AND (?2 IS NULL OR psid = ?2) ORDER BY id",
    [X_TOK_SECRET] = "SELECT t.token_enc, p.page_id FROM notification_tokens t JOIN pages p ON "
                     "p.id = t.page_ref WHERE t.id = ?",
};

static sqlite3_stmt *xstmt(struct loa_store *st, int id)
{
    if (st->version < 3) {
        LOA_ERROR("store", "store schema too old for this operation", "version=%d", st->version);
        return NULL;
    }
    return loa__stmt_cached(st, &st->xstmts[id], sql[id]);
}

/* Steps a statement that returns no rows; 0 or the mapped failure. */
static int step_done(struct loa_store *st, sqlite3_stmt *s, const char *what)
{
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : loa__db_fail(st, what);
    sqlite3_reset(s);
    return rc;
}

/* ---- Events ---------------------------------------------------------------------------- */

int loa__sqlite_event_record(struct loa_txn *tx, const struct loa_event_input *in, int64_t now,
                             bool *inserted_out)
{
    struct loa_store *st = tx->st;
    sqlite3_stmt *s = xstmt(st, X_EVENT_INSERT);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_text(s, 1, in->key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, in->kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, in->page_id ? in->page_id : "", -1, SQLITE_STATIC);
    loa__bind_text(s, 4, in->psid);
    sqlite3_bind_int64(s, 5, in->at);
    sqlite3_bind_text(s, 6, in->payload ? in->payload : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 7, now);
    int rc = step_done(st, s, "record webhook event");
    if (rc == 0 && inserted_out)
        *inserted_out = sqlite3_changes(st->db) > 0;
    return rc;
}

int loa__sqlite_event_exists(struct loa_store *st, const char *key, bool *out)
{
    sqlite3_stmt *s = xstmt(st, X_EVENT_EXISTS);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int step = sqlite3_step(s);
    sqlite3_reset(s);
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        return loa__db_fail(st, "find webhook event");
    *out = step == SQLITE_ROW;
    return 0;
}

int loa__sqlite_event_count(struct loa_store *st, const char *kind, int64_t *count_out)
{
    sqlite3_stmt *s = xstmt(st, kind ? X_EVENT_COUNT_KIND : X_EVENT_COUNT);
    if (!s)
        return LOA_ESTORE;
    if (kind)
        sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
    int rc = 0;
    if (sqlite3_step(s) == SQLITE_ROW)
        *count_out = sqlite3_column_int64(s, 0);
    else
        rc = loa__db_fail(st, "count webhook events");
    sqlite3_reset(s);
    return rc;
}

/* ---- Subscribers ----------------------------------------------------------------------- */

int loa__sqlite_window_get(struct loa_store *st, int64_t page_ref, const char *psid,
                           int64_t *id_out, struct loa_window *out, char **kind_out)
{
    memset(out, 0, sizeof(*out));
    *id_out = 0;
    *kind_out = NULL;
    sqlite3_stmt *s = xstmt(st, X_SUB_WINDOW_GET);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, page_ref);
    sqlite3_bind_text(s, 2, psid ? psid : "", -1, SQLITE_STATIC);
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        *id_out = sqlite3_column_int64(s, 0);
        out->known = true;
        out->first_seen_at = sqlite3_column_int64(s, 1);
        out->last_interaction_at = sqlite3_column_int64(s, 2);
        out->last_interaction_kind = *kind_out = loa__col_dup(s, 3);
        out->ad_referral_at = sqlite3_column_int64(s, 4);
        out->after_ctm_ad = sqlite3_column_int(s, 5) != 0;
    }
    sqlite3_reset(s);
    return step == SQLITE_ROW || step == SQLITE_DONE ? 0 : loa__db_fail(st, "find subscriber");
}

/* Binds the five window columns, in table order, from parameter first on. */
static void bind_window(sqlite3_stmt *s, int first, const struct loa_window *w)
{
    sqlite3_bind_int64(s, first, w->first_seen_at);
    sqlite3_bind_int64(s, first + 1, w->last_interaction_at);
    loa__bind_text(s, first + 2, w->last_interaction_kind);
    sqlite3_bind_int64(s, first + 3, w->ad_referral_at);
    sqlite3_bind_int(s, first + 4, w->after_ctm_ad);
}

int loa__sqlite_window_put(struct loa_txn *tx, int64_t page_ref, const char *psid, int64_t id,
                           const struct loa_window *w, int64_t now, int64_t *id_out)
{
    struct loa_store *st = tx->st;
    if (!psid || !*psid)
        return LOA_EINVAL;
    sqlite3_stmt *s = xstmt(st, id ? X_SUB_WINDOW_UPDATE : X_SUB_WINDOW_INSERT);
    if (!s)
        return LOA_ESTORE;
    int rc;
    if (!id) {
        sqlite3_bind_int64(s, 1, page_ref);
        sqlite3_bind_text(s, 2, psid, -1, SQLITE_STATIC);
        bind_window(s, 3, w);
        sqlite3_bind_int64(s, 8, now);
        sqlite3_bind_int64(s, 9, now);
        rc = step_done(st, s, "insert subscriber");
        if (rc == 0)
            id = sqlite3_last_insert_rowid(st->db);
    } else {
        sqlite3_bind_int64(s, 1, id);
        bind_window(s, 2, w);
        sqlite3_bind_int64(s, 7, now);
        rc = step_done(st, s, "update subscriber window");
    }
    if (rc == 0 && id_out)
        *id_out = id;
    return rc;
}

int loa__sqlite_subscriber_get(struct loa_store *st, int64_t id, struct loa_subscriber *out)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *s = xstmt(st, X_SUB_GET);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, id);
    int step = sqlite3_step(s);
    int rc = 0;
    if (step == SQLITE_ROW)
        loa__read_subscriber(s, out);
    else
        rc = step == SQLITE_DONE ? LOA_ENOENT : loa__db_fail(st, "get subscriber");
    sqlite3_reset(s);
    return rc;
}

/* Runs an UPDATE/DELETE keyed by id (already bound); LOA_ENOENT when no row changed. */
static int changed_or_enoent(struct loa_store *st, sqlite3_stmt *s, const char *what)
{
    int rc = step_done(st, s, what);
    if (rc == 0 && sqlite3_changes(st->db) == 0)
        rc = LOA_ENOENT;
    return rc;
}

int loa__sqlite_subscriber_delete(struct loa_txn *tx, int64_t id)
{
    struct loa_store *st = tx->st;
    sqlite3_stmt *s = xstmt(st, X_SUB_DELETE);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, id);
    return changed_or_enoent(st, s, "delete subscriber");
}

int loa__sqlite_subscriber_patch_attrs(struct loa_txn *tx, int64_t id, const char *patch,
                                       int64_t now)
{
    struct loa_store *st = tx->st;
    if (!patch || patch[strspn(patch, " \t\r\n")] != '{')
        return LOA_EINVAL;
    sqlite3_stmt *s = xstmt(st, X_SUB_PATCH);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_text(s, 2, patch, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, now);
    int step = sqlite3_step(s);
    int rc = 0;
    if (step != SQLITE_DONE)
        rc = sqlite3_errcode(st->db) == SQLITE_ERROR ? LOA_EINVAL /* malformed JSON */
                                                     : loa__db_fail(st, "patch attributes");
    else if (sqlite3_changes(st->db) == 0)
        rc = LOA_ENOENT;
    sqlite3_reset(s);
    return rc;
}

int loa__sqlite_profiles_missing(struct loa_store *st, int64_t after_id, int64_t seen_before,
                                 int64_t *ids, size_t max, size_t *n_out)
{
    *n_out = 0;
    sqlite3_stmt *s;
    int rc = loa__prepare(st,
                          "SELECT id FROM subscribers WHERE id > ?1 AND psid IS NOT NULL"
                          " AND profile_fetched_at = 0 AND unreachable = 0"
                          " AND first_seen_at < ?2 ORDER BY id LIMIT ?3",
                          &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, after_id);
    sqlite3_bind_int64(s, 2, seen_before);
    sqlite3_bind_int64(s, 3, (int64_t)max);
    int step;
    size_t n = 0;
    while ((step = sqlite3_step(s)) == SQLITE_ROW && n < max)
        ids[n++] = sqlite3_column_int64(s, 0);
    rc = step == SQLITE_ROW || step == SQLITE_DONE ? 0 : loa__db_fail(st, "missing profiles");
    sqlite3_finalize(s);
    *n_out = rc == 0 ? n : 0;
    return rc;
}

int loa__sqlite_subscriber_set_profile(struct loa_txn *tx, int64_t id,
                                       const struct loa_profile_input *p)
{
    struct loa_store *st = tx->st;
    sqlite3_stmt *s = xstmt(st, X_SUB_PROFILE);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, id);
    loa__bind_text(s, 2, p->first_name);
    loa__bind_text(s, 3, p->last_name);
    loa__bind_text(s, 4, p->locale);
    bool gender_ok = p->gender && (!strcmp(p->gender, "male") || !strcmp(p->gender, "female"));
    loa__bind_text(s, 5, gender_ok ? p->gender : NULL);
    if (p->utc_offset_min != LOA_UTC_OFFSET_UNKNOWN)
        sqlite3_bind_int(s, 6, p->utc_offset_min);
    sqlite3_bind_int64(s, 7, p->at);
    return changed_or_enoent(st, s, "store profile");
}

/* ---- Conversations --------------------------------------------------------------------- */

void loa_message_release(struct loa_message *m)
{
    LOA_FREE(m->psid);
    LOA_FREE(m->mid);
    LOA_FREE(m->text);
    LOA_FREE(m->quick_reply);
    LOA_FREE(m->attachments);
    LOA_FREE(m->app_id);
    LOA_FREE(m->metadata);
    LOA_FREE(m->reaction);
}

static int message_record_op(struct loa_store *st, const struct loa_message *m, int64_t now,
                             bool *inserted_out)
{
    if (!m->mid || !*m->mid || !m->psid)
        return LOA_EINVAL;
    sqlite3_stmt *s = xstmt(st, X_MSG_INSERT);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, m->page_ref);
    sqlite3_bind_text(s, 2, m->psid, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, m->mid, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, m->direction == LOA_DIR_OUT ? "out" : "in", -1, SQLITE_STATIC);
    loa__bind_text(s, 5, m->text);
    loa__bind_text(s, 6, m->quick_reply);
    loa__bind_text(s, 7, m->attachments);
    loa__bind_text(s, 8, m->app_id);
    loa__bind_text(s, 9, m->metadata);
    sqlite3_bind_int64(s, 10, m->sent_at);
    sqlite3_bind_int64(s, 11, now);
    int rc = step_done(st, s, "insert message");
    if (rc < 0)
        return rc;
    bool inserted = sqlite3_changes(st->db) > 0;
    if (inserted_out)
        *inserted_out = inserted;
    if (!inserted)
        return 0;
    s = xstmt(st, X_CONV_UPSERT);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, m->page_ref);
    sqlite3_bind_text(s, 2, m->psid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, m->sent_at);
    sqlite3_bind_int64(s, 4, m->direction == LOA_DIR_IN ? m->sent_at : 0);
    if (m->text)
        sqlite3_bind_text(s, 5, m->text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_text(s, 5, m->attachments ? "[attachment]" : "", -1, SQLITE_STATIC);
    return step_done(st, s, "update conversation");
}

int loa__sqlite_message_record(struct loa_txn *tx, const struct loa_message *m, int64_t now,
                               bool *inserted_out)
{
    int rc = loa__op_begin(tx->st);
    return rc < 0 ? rc : loa__op_end(tx->st, message_record_op(tx->st, m, now, inserted_out));
}

static int bind3_step(struct loa_store *st, int id, int64_t page_ref, const char *psid,
                      int64_t value, const char *what)
{
    sqlite3_stmt *s = xstmt(st, id);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, page_ref);
    sqlite3_bind_text(s, 2, psid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, value);
    return step_done(st, s, what);
}

static int conversation_delivered_op(struct loa_store *st, int64_t page_ref, const char *psid,
                                     int64_t watermark, const char *const *mids, size_t nmids,
                                     int64_t now)
{
    int rc = 0;
    for (size_t i = 0; i < nmids && rc == 0; i++) {
        sqlite3_stmt *s = xstmt(st, X_MSG_DELIVER_MID);
        if (!s)
            return LOA_ESTORE;
        sqlite3_bind_text(s, 1, mids[i], -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, watermark > 0 ? watermark : now);
        rc = step_done(st, s, "deliver message");
    }
    if (rc == 0 && watermark > 0)
        rc = bind3_step(st, X_MSG_DELIVER_WM, page_ref, psid, watermark, "deliver messages");
    if (rc == 0 && watermark > 0)
        rc = bind3_step(st, X_CONV_DELIVER, page_ref, psid, watermark, "delivery watermark");
    return rc;
}

int loa__sqlite_conversation_delivered(struct loa_txn *tx, int64_t page_ref, const char *psid,
                                       int64_t watermark, const char *const *mids, size_t nmids,
                                       int64_t now)
{
    int rc = loa__op_begin(tx->st);
    return rc < 0 ? rc
                  : loa__op_end(tx->st, conversation_delivered_op(tx->st, page_ref, psid, watermark,
                                                                  mids, nmids, now));
}

static int conversation_read_op(struct loa_store *st, int64_t page_ref, const char *psid,
                                int64_t watermark)
{
    int rc = bind3_step(st, X_MSG_READ, page_ref, psid, watermark, "read messages");
    if (rc == 0)
        rc = bind3_step(st, X_CONV_READ, page_ref, psid, watermark, "read watermark");
    return rc;
}

int loa__sqlite_conversation_read(struct loa_txn *tx, int64_t page_ref, const char *psid,
                                  int64_t watermark)
{
    int rc = loa__op_begin(tx->st);
    return rc < 0 ? rc
                  : loa__op_end(tx->st, conversation_read_op(tx->st, page_ref, psid, watermark));
}

int loa__sqlite_message_react(struct loa_txn *tx, const char *mid, const char *reaction,
                              bool *found_out)
{
    struct loa_store *st = tx->st;
    sqlite3_stmt *s = xstmt(st, X_MSG_REACT);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_text(s, 1, mid, -1, SQLITE_STATIC);
    loa__bind_text(s, 2, reaction);
    int rc = step_done(st, s, "react to message");
    if (rc == 0 && found_out)
        *found_out = sqlite3_changes(st->db) > 0;
    return rc;
}

static void read_msg(sqlite3_stmt *s, struct loa_message *m)
{
    m->id = sqlite3_column_int64(s, 0);
    m->page_ref = sqlite3_column_int64(s, 1);
    m->psid = loa__col_dup(s, 2);
    m->mid = loa__col_dup(s, 3);
    const unsigned char *dir = sqlite3_column_text(s, 4);
    m->direction = dir && strcmp((const char *)dir, "out") == 0 ? LOA_DIR_OUT : LOA_DIR_IN;
    m->text = loa__col_dup(s, 5);
    m->quick_reply = loa__col_dup(s, 6);
    m->attachments = loa__col_dup(s, 7);
    m->app_id = loa__col_dup(s, 8);
    m->metadata = loa__col_dup(s, 9);
    m->sent_at = sqlite3_column_int64(s, 10);
    m->delivered_at = sqlite3_column_int64(s, 11);
    m->read_at = sqlite3_column_int64(s, 12);
    m->reaction = loa__col_dup(s, 13);
}

int loa__sqlite_message_get(struct loa_store *st, const char *mid, struct loa_message *out)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *s = xstmt(st, X_MSG_GET);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_text(s, 1, mid, -1, SQLITE_STATIC);
    int step = sqlite3_step(s);
    int rc = 0;
    if (step == SQLITE_ROW)
        read_msg(s, out);
    else
        rc = step == SQLITE_DONE ? LOA_ENOENT : loa__db_fail(st, "get message");
    sqlite3_reset(s);
    return rc;
}

int loa__sqlite_message_list(struct loa_store *st, int64_t page_ref, const char *psid,
                             int64_t after_id, int64_t limit,
                             int (*fn)(const struct loa_message *m, void *ud), void *ud)
{
    sqlite3_stmt *s = xstmt(st, X_MSG_LIST);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, page_ref);
    sqlite3_bind_text(s, 2, psid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, after_id);
    sqlite3_bind_int64(s, 4, limit > 0 ? limit : -1);
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct loa_message m;
        read_msg(s, &m);
        int stop = fn(&m, ud);
        loa_message_release(&m);
        if (stop)
            break;
    }
    int rc = step == SQLITE_ROW || step == SQLITE_DONE ? 0 : loa__db_fail(st, "list messages");
    sqlite3_reset(s);
    return rc;
}

int loa__sqlite_conversation_list(struct loa_store *st, int64_t page_ref, int64_t before,
                                  const char *before_psid, int64_t limit,
                                  int (*fn)(const struct loa_conversation *c, void *ud), void *ud)
{
    if (st->version < 3)
        return LOA_ESTORE;
    /* Keyset pagination on (last_message_at, psid) descending: stable while messages arrive. */
    static const char q[] =
        "SELECT c.page_ref, c.psid, coalesce(s.id, 0), s.first_name, s.last_name, "
        "c.message_count, c.last_message_at, c.last_in_at, c.last_text, "
        "c.delivered_watermark, c.read_watermark FROM conversations c "
        "LEFT JOIN subscribers s ON s.page_ref = c.page_ref AND s.psid = c.psid "
        "WHERE c.page_ref = ?1 AND c.message_count > 0 AND (?2 = 0 OR c.last_message_at < ?2 OR "
        "(c.last_message_at = ?2 AND c.psid < ?3)) "
        "ORDER BY c.last_message_at DESC, c.psid DESC LIMIT ?4";
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, q, -1, &s, NULL) != SQLITE_OK)
        return loa__db_fail(st, "prepare conversation list");
    sqlite3_bind_int64(s, 1, page_ref);
    sqlite3_bind_int64(s, 2, before);
    sqlite3_bind_text(s, 3, before_psid ? before_psid : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, limit > 0 ? limit : -1);
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct loa_conversation c = {
            .page_ref = sqlite3_column_int64(s, 0),
            .psid = (const char *)sqlite3_column_text(s, 1),
            .subscriber_id = sqlite3_column_int64(s, 2),
            .first_name = (const char *)sqlite3_column_text(s, 3),
            .last_name = (const char *)sqlite3_column_text(s, 4),
            .message_count = sqlite3_column_int64(s, 5),
            .last_message_at = sqlite3_column_int64(s, 6),
            .last_in_at = sqlite3_column_int64(s, 7),
            .last_text = (const char *)sqlite3_column_text(s, 8),
            .delivered_watermark = sqlite3_column_int64(s, 9),
            .read_watermark = sqlite3_column_int64(s, 10),
        };
        if (fn(&c, ud))
            break;
    }
    int rc = step == SQLITE_ROW || step == SQLITE_DONE ? 0 : loa__db_fail(st, "list conversations");
    sqlite3_finalize(s);
    return rc;
}

/* ---- Notification-topic tokens --------------------------------------------------------- */

static int token_hash(struct loa_store *st, const char *token, unsigned char out[32])
{
    return loa__secret_hash(st->key, "ntokens_", token, strlen(token), out);
}

/* The Page id (associated data of the sealed token) of page_ref; caller frees. */
static int page_id_of(struct loa_store *st, int64_t page_ref, char **out)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "SELECT page_id FROM pages WHERE id = ?", -1, &s, NULL) !=
        SQLITE_OK)
        return loa__db_fail(st, "prepare page id");
    sqlite3_bind_int64(s, 1, page_ref);
    int rc = sqlite3_step(s) == SQLITE_ROW ? 0 : LOA_ENOENT;
    if (rc == 0)
        *out = loa__col_dup(s, 0);
    sqlite3_finalize(s);
    return rc;
}

static int ntoken_apply_op(struct loa_store *st, const struct loa_ntoken_input *in, int64_t now)
{
    const char *status = in->stop > 0 ? "stopped" : in->stop < 0 ? "active" : NULL;
    int64_t at = in->at ? in->at : now; /* the event's own time first */
    unsigned char hash[32];
    int rc;
    if (!in->token || !*in->token) {
        if (!status)
            return 0; /* nothing to keep: an opt-in without a token */
        sqlite3_stmt *s = xstmt(st, X_TOK_STATUS_TITLE);
        if (!s)
            return LOA_ESTORE;
        sqlite3_bind_int64(s, 1, in->page_ref);
        sqlite3_bind_text(s, 2, in->psid, -1, SQLITE_STATIC);
        loa__bind_text(s, 3, in->title);
        sqlite3_bind_text(s, 4, status, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 5, at);
        return step_done(st, s, "token status");
    }
    if ((rc = token_hash(st, in->token, hash)) < 0)
        return rc;
    sqlite3_stmt *s = xstmt(st, X_TOK_BY_HASH);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, in->page_ref);
    sqlite3_bind_blob(s, 2, hash, sizeof(hash), SQLITE_STATIC);
    int step = sqlite3_step(s);
    int64_t id = step == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        return loa__db_fail(st, "find token");
    if (id) {
        s = xstmt(st, X_TOK_REFRESH);
        if (!s)
            return LOA_ESTORE;
        sqlite3_bind_int64(s, 1, id);
        loa__bind_text(s, 2, in->title);
        loa__bind_text(s, 3, in->payload);
        loa__bind_text(s, 4, in->frequency);
        loa__bind_text(s, 5, in->timezone);
        sqlite3_bind_int64(s, 6, in->expires_at);
        loa__bind_text(s, 7, status);
        loa__bind_text(s, 8, in->user_token_status);
        sqlite3_bind_int64(s, 9, at);
        return step_done(st, s, "refresh token");
    }
    char *page_id = NULL;
    if ((rc = page_id_of(st, in->page_ref, &page_id)) < 0)
        return rc;
    unsigned char *sealed = NULL;
    size_t len = 0;
    rc = loa__secret_seal(st->key, page_id, in->token, &sealed, &len);
    loa_free(page_id);
    if (rc < 0)
        return rc;
    s = xstmt(st, X_TOK_INSERT);
    if (!s) {
        loa_free(sealed);
        return LOA_ESTORE;
    }
    sqlite3_bind_int64(s, 1, in->page_ref);
    sqlite3_bind_text(s, 2, in->psid, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 3, hash, sizeof(hash), SQLITE_STATIC);
    sqlite3_bind_blob(s, 4, sealed, (int)len, SQLITE_STATIC);
    loa__bind_text(s, 5, in->title);
    loa__bind_text(s, 6, in->payload);
    loa__bind_text(s, 7, in->frequency);
    loa__bind_text(s, 8, in->timezone);
    sqlite3_bind_int64(s, 9, in->expires_at);
    sqlite3_bind_text(s, 10, status ? status : "active", -1, SQLITE_STATIC);
    loa__bind_text(s, 11, in->user_token_status);
    sqlite3_bind_int64(s, 12, at);
    sqlite3_bind_int64(s, 13, at);
    rc = step_done(st, s, "insert token");
    loa_free(sealed);
    if (rc < 0)
        return rc;
    id = sqlite3_last_insert_rowid(st->db);
    s = xstmt(st, X_TOK_REPLACE_OLD);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, in->page_ref);
    sqlite3_bind_text(s, 2, in->psid, -1, SQLITE_STATIC);
    loa__bind_text(s, 3, in->title);
    sqlite3_bind_int64(s, 4, id);
    sqlite3_bind_int64(s, 5, at);
    return step_done(st, s, "replace old tokens");
}

int loa__sqlite_ntoken_apply(struct loa_txn *tx, const struct loa_ntoken_input *in, int64_t now)
{
    int rc = loa__op_begin(tx->st);
    return rc < 0 ? rc : loa__op_end(tx->st, ntoken_apply_op(tx->st, in, now));
}

int loa__sqlite_ntoken_list(struct loa_store *st, int64_t page_ref, const char *psid,
                            int (*fn)(const struct loa_ntoken *t, void *ud), void *ud)
{
    sqlite3_stmt *s = xstmt(st, X_TOK_LIST);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, page_ref);
    loa__bind_text(s, 2, psid);
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct loa_ntoken t = {
            .id = sqlite3_column_int64(s, 0),
            .page_ref = sqlite3_column_int64(s, 1),
            .psid = (const char *)sqlite3_column_text(s, 2),
            .title = (const char *)sqlite3_column_text(s, 3),
            .payload = (const char *)sqlite3_column_text(s, 4),
            .frequency = (const char *)sqlite3_column_text(s, 5),
            .timezone = (const char *)sqlite3_column_text(s, 6),
            .expires_at = sqlite3_column_int64(s, 7),
            .status = (const char *)sqlite3_column_text(s, 8),
            .user_token_status = (const char *)sqlite3_column_text(s, 9),
            .created_at = sqlite3_column_int64(s, 10),
            .updated_at = sqlite3_column_int64(s, 11),
        };
        if (fn(&t, ud))
            break;
    }
    int rc = step == SQLITE_ROW || step == SQLITE_DONE ? 0 : loa__db_fail(st, "list tokens");
    sqlite3_reset(s);
    return rc;
}

int loa__sqlite_ntoken_secret(struct loa_store *st, int64_t id, char **out)
{
    *out = NULL;
    sqlite3_stmt *s = xstmt(st, X_TOK_SECRET);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, id);
    int step = sqlite3_step(s);
    int rc;
    if (step == SQLITE_ROW)
        rc = loa__secret_open(st->key, (const char *)sqlite3_column_text(s, 1),
                              sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0), out);
    else
        rc = step == SQLITE_DONE ? LOA_ENOENT : loa__db_fail(st, "get token");
    sqlite3_reset(s);
    return rc;
}
