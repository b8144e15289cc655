/* SPDX-License-Identifier: MIT */
/*
 * The SQLite backend, schema 9: open waits for a person's reply (include/loa/store_replies.h)
 * and the outbox rows of the automated answers to replies that do not fit.
 *
 * Statements are cached in the store's slots [LOA__XSTMT_REPLY, +12).
 */
#include <string.h>

#include <sqlite3.h>

#include <loa/alloc.h>
#include <loa/err.h>
#include <loa/store.h>

#include "store_int.h"

enum {
    R_CLOSE_OPEN = 0,
    R_INSERT,
    R_FIND,
    R_GET,
    R_CLOSE,
    R_TRIED,
    R_EXPIRED,
    R_PROMPT,
    R_LIVE,
    R_COUNT
};
_Static_assert(LOA__XSTMT_REPLY + R_COUNT <= LOA__XSTMT_USERS, "reply statement slots");

#define WAIT_COLUMNS                                                                         \
    "id, page_ref, subscriber_id, delivery_id, source, source_id, attribute, kind, prompt, " \
    "opened_at, expires_at, tries"

static const char *const rsql[R_COUNT] = {
    [R_CLOSE_OPEN] = "UPDATE reply_waits SET closed_at = ?2, outcome = 'superseded'"
                     " WHERE subscriber_id = ?1 AND closed_at = 0",
    [R_INSERT] = "INSERT INTO reply_waits (page_ref, subscriber_id, delivery_id, source,"
                 " source_id, attribute, kind, prompt, opened_at, expires_at)"
                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [R_FIND] = "SELECT " WAIT_COLUMNS " FROM reply_waits WHERE subscriber_id = ? AND closed_at = 0",
    [R_GET] = "SELECT " WAIT_COLUMNS " FROM reply_waits WHERE id = ?",
    [R_CLOSE] = "UPDATE reply_waits SET closed_at = ?2, outcome = ?3, answer = ?4"
                " WHERE id = ?1 AND closed_at = 0",
    [R_TRIED] = "UPDATE reply_waits SET tries = tries + 1 WHERE id = ?",
    [R_EXPIRED] = "SELECT id FROM reply_waits WHERE closed_at = 0 AND expires_at <= ?1"
                  " ORDER BY expires_at LIMIT ?2",
    [R_PROMPT] = "INSERT INTO deliveries (source, source_id, priority, campaign_id, page_ref,"
                 " subscriber_id, psid, position, state, next_at)"
                 " VALUES ('reply', ?1, ?2, NULL, ?3, ?4, ?5, ?1, 'pending', ?6)",
    [R_LIVE] = "SELECT DISTINCT source_id, page_ref FROM deliveries"
               " WHERE source = 'reply' AND state IN ('pending', 'in_flight')",
};

static sqlite3_stmt *r(struct loa_store *st, int id)
{
    if (st->version < 9)
        return NULL;
    return loa__stmt_cached(st, &st->xstmts[LOA__XSTMT_REPLY + id], rsql[id]);
}

void loa_wait_release(struct loa_wait *w)
{
    LOA_FREE(w->attribute);
    LOA_FREE(w->prompt);
}

static int open_op(struct loa_store *st, const struct loa_wait_input *in, int64_t *id_out)
{
    sqlite3_stmt *s = r(st, R_CLOSE_OPEN);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, in->subscriber_id);
    sqlite3_bind_int64(s, 2, in->opened_at);
    int rc = loa__step_done(st, s, "supersede wait", NULL);
    if (rc < 0)
        return rc;
    if (!(s = r(st, R_INSERT)))
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, in->page_ref);
    sqlite3_bind_int64(s, 2, in->subscriber_id);
    sqlite3_bind_int64(s, 3, in->delivery_id);
    sqlite3_bind_text(s, 4, loa_source_name(in->source), -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, in->source_id);
    loa__bind_text(s, 6, in->attribute);
    sqlite3_bind_int(s, 7, in->kind);
    loa__bind_text(s, 8, in->prompt);
    sqlite3_bind_int64(s, 9, in->opened_at);
    sqlite3_bind_int64(s, 10, in->expires_at);
    if ((rc = loa__step_done(st, s, "open wait", NULL)) == 0 && id_out)
        *id_out = sqlite3_last_insert_rowid(st->db);
    return rc;
}

int loa__sqlite_wait_open(struct loa_txn *tx, const struct loa_wait_input *in, int64_t *id_out)
{
    int rc = loa__op_begin(tx->st);
    return rc < 0 ? rc : loa__op_end(tx->st, open_op(tx->st, in, id_out));
}

static int read_one(struct loa_store *st, sqlite3_stmt *s, struct loa_wait *out)
{
    int rc = loa__step_row(st, s, "read wait");
    if (rc == 0) {
        out->id = sqlite3_column_int64(s, 0);
        out->page_ref = sqlite3_column_int64(s, 1);
        out->subscriber_id = sqlite3_column_int64(s, 2);
        out->delivery_id = sqlite3_column_int64(s, 3);
        enum loa_source src = LOA_SOURCE_CAMPAIGN;
        const char *name = (const char *)sqlite3_column_text(s, 4);
        for (int i = 0; name && i < LOA_SOURCE_COUNT; i++)
            if (strcmp(name, loa_source_name((enum loa_source)i)) == 0)
                src = (enum loa_source)i;
        out->source = src;
        out->source_id = sqlite3_column_int64(s, 5);
        out->attribute = loa__col_dup(s, 6);
        out->kind = sqlite3_column_int(s, 7);
        out->prompt = loa__col_dup(s, 8);
        out->opened_at = sqlite3_column_int64(s, 9);
        out->expires_at = sqlite3_column_int64(s, 10);
        out->tries = sqlite3_column_int64(s, 11);
    }
    sqlite3_reset(s);
    return rc;
}

int loa__sqlite_wait_find(struct loa_store *st, int64_t subscriber_id, struct loa_wait *out)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *s = r(st, R_FIND);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, subscriber_id);
    return read_one(st, s, out);
}

int loa__sqlite_wait_get(struct loa_store *st, int64_t id, struct loa_wait *out)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *s = r(st, R_GET);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, id);
    return read_one(st, s, out);
}

int loa__sqlite_wait_close(struct loa_txn *tx, int64_t id, const char *outcome, const char *answer,
                           int64_t at, bool *closed_out)
{
    struct loa_store *st = tx->st;
    sqlite3_stmt *s = r(st, R_CLOSE);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, at);
    loa__bind_text(s, 3, outcome);
    loa__bind_text(s, 4, answer);
    return loa__step_done(st, s, "close wait", closed_out);
}

int loa__sqlite_wait_tried(struct loa_txn *tx, int64_t id)
{
    struct loa_store *st = tx->st;
    sqlite3_stmt *s = r(st, R_TRIED);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, id);
    return loa__step_done(st, s, "count a try", NULL);
}

int loa__sqlite_waits_expired(struct loa_store *st, int64_t now, int64_t limit,
                              int (*fn)(int64_t id, void *ud), void *ud)
{
    sqlite3_stmt *s = r(st, R_EXPIRED);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, now);
    sqlite3_bind_int64(s, 2, limit > 0 ? limit : -1);
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW)
        if (fn(sqlite3_column_int64(s, 0), ud))
            break;
    return loa__step_end(st, s, step, "expired waits");
}

int loa__sqlite_wait_prompt(struct loa_txn *tx, int64_t wait_id, int64_t page_ref,
                            int64_t subscriber_id, const char *psid, int64_t now,
                            int64_t *delivery_out)
{
    struct loa_store *st = tx->st;
    sqlite3_stmt *s = r(st, R_PROMPT);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, wait_id);
    sqlite3_bind_int64(s, 2, LOA_PRIORITY_REPLY);
    sqlite3_bind_int64(s, 3, page_ref);
    sqlite3_bind_int64(s, 4, subscriber_id);
    loa__bind_text(s, 5, psid);
    sqlite3_bind_int64(s, 6, now);
    int rc = loa__step_done(st, s, "queue prompt", NULL);
    if (rc == 0 && delivery_out)
        *delivery_out = sqlite3_last_insert_rowid(st->db);
    return rc;
}

int loa__sqlite_prompts_live(struct loa_store *st,
                             int (*fn)(int64_t wait_id, int64_t page_ref, void *ud), void *ud)
{
    sqlite3_stmt *s = r(st, R_LIVE);
    if (!s)
        return LOA_ESTORE;
    return loa__each_pair(st, s, fn, ud, "live prompts");
}
