/* SPDX-License-Identifier: MIT */
/*
 * The SQLite backend: tags. A tag is found by its key, loa_fold(name) (case and Unicode form
 * ignored: "VIP" = "vip", "nữ" typed decomposed = "nữ"), unique per Page from schema
 * LOA__SCHEMA_TAG_KEYS on, and shown as first written (its name, stored in NFC). Older schemas
 * (the migration tests) compare names exactly.
 *
 * Statements are cached in the store's slots [LOA__XSTMT_TAGS, +T_COUNT).
 */
#include <stdint.h>
#include <string.h>

#include <sqlite3.h>

#include <loa/alloc.h>
#include <loa/err.h>
#include <loa/store.h>
#include <loa/text.h>

#include "store_int.h"

enum {
    T_GET,    /* ?1 page_ref, ?2 name: id, name */
    T_INSERT, /* ?1 page_ref, ?2 name */
    T_ADD,
    T_REMOVE,
    T_RENAME, /* ?1 id, ?2 new name */
    T_DELETE, /* ?1 id */
    T_LIST,
    T_MOVE, /* ?1 from id, ?2 into id: tag into everyone tagged from */
    T_COUNT
};
_Static_assert(LOA__XSTMT_TAGS + T_COUNT <= LOA__XSTMT_MAX, "tag statement slots");

static const char *const tsql[T_COUNT] = {
    [T_GET] = "SELECT id, name FROM tags WHERE page_ref = ?1 AND key = loa_fold(?2)",
    [T_INSERT] = "INSERT INTO tags (page_ref, name, key) VALUES (?1, ?2, loa_fold(?2))",
    [T_ADD] = "INSERT OR IGNORE INTO subscriber_tags (subscriber_id, tag_id) VALUES (?, ?)",
    [T_REMOVE] = "DELETE FROM subscriber_tags WHERE subscriber_id = ? AND tag_id = ?",
    [T_RENAME] = "UPDATE tags SET name = ?2, key = loa_fold(?2) WHERE id = ?1",
    [T_DELETE] = "DELETE FROM tags WHERE id = ?1",
    [T_LIST] = "SELECT t.name, (SELECT count(*) FROM subscriber_tags st WHERE st.tag_id = t.id) "
               "FROM tags t WHERE t.page_ref = ? ORDER BY t.name",
    [T_MOVE] = "INSERT OR IGNORE INTO subscriber_tags (subscriber_id, tag_id) "
               "SELECT subscriber_id, ?2 FROM subscriber_tags WHERE tag_id = ?1",
};

/* Before tags had a key: names compared exactly. */
static const char *const tsql_exact[T_COUNT] = {
    [T_GET] = "SELECT id, name FROM tags WHERE page_ref = ?1 AND name = ?2",
    [T_INSERT] = "INSERT INTO tags (page_ref, name) VALUES (?1, ?2)",
    [T_RENAME] = "UPDATE tags SET name = ?2 WHERE id = ?1",
};

static sqlite3_stmt *t(struct loa_store *st, int id)
{
    const char *sql =
        st->version < LOA__SCHEMA_TAG_KEYS && tsql_exact[id] ? tsql_exact[id] : tsql[id];
    return loa__stmt_cached(st, &st->xstmts[LOA__XSTMT_TAGS + id], sql);
}

static void fold_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const char *v = (const char *)sqlite3_value_text(argv[0]);
    if (!v) {
        sqlite3_result_null(ctx);
        return;
    }
    char *k = loa_text_fold(v);
    sqlite3_result_text(ctx, k, -1, loa_free);
}

int loa__register_fold(struct loa_store *st)
{
    if (sqlite3_create_function_v2(st->db, "loa_fold", 1,
                                   SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
                                   fold_fn, NULL, NULL, NULL) != SQLITE_OK)
        return loa__db_fail(st, "register loa_fold");
    return 0;
}

/* Finds the Page's tag named name (by key): 0, LOA_ENOENT or the error. *name_out may be NULL. */
static int get(struct loa_store *st, int64_t page_ref, const char *name, int64_t *id_out,
               char **name_out)
{
    sqlite3_stmt *s = t(st, T_GET);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, page_ref);
    sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
    int rc = loa__step_row(st, s, "find tag");
    if (rc == 0) {
        *id_out = sqlite3_column_int64(s, 0);
        if (name_out)
            *name_out = loa__col_dup(s, 1);
    }
    sqlite3_reset(s);
    return rc;
}

int loa__sqlite_tag_find(struct loa_store *st, int64_t page_ref, const char *name, int64_t *id_out,
                         char **name_out)
{
    if (name_out)
        *name_out = NULL;
    return get(st, page_ref, name, id_out, name_out);
}

int loa__sqlite_tag_ensure(struct loa_txn *tx, int64_t page_ref, const char *name, int64_t *id_out)
{
    struct loa_store *st = tx->st;
    int rc = get(st, page_ref, name, id_out, NULL);
    if (rc != LOA_ENOENT)
        return rc;
    sqlite3_stmt *s = t(st, T_INSERT);
    if (!s)
        return LOA_ESTORE;
    char *nfc = loa_text_nfc(name, strlen(name)); /* shown as written, in one Unicode form */
    sqlite3_bind_int64(s, 1, page_ref);
    sqlite3_bind_text(s, 2, nfc, -1, SQLITE_STATIC);
    rc = loa__step_done(st, s, "insert tag", NULL);
    loa_free(nfc);
    if (rc == 0)
        *id_out = sqlite3_last_insert_rowid(st->db);
    return rc;
}

/* Runs a statement of two ids that changes rows; *changed_out gets whether it did. */
static int exec_pair(struct loa_store *st, int id, int64_t a, int64_t b, bool *changed_out)
{
    return loa__exec_pair(st, t(st, id), a, b, tsql[id], changed_out);
}

int loa__sqlite_tag_add(struct loa_txn *tx, int64_t subscriber_id, int64_t tag_id, bool *added_out)
{
    return exec_pair(tx->st, T_ADD, subscriber_id, tag_id, added_out);
}

int loa__sqlite_tag_remove(struct loa_txn *tx, int64_t subscriber_id, int64_t tag_id,
                           bool *removed_out)
{
    return exec_pair(tx->st, T_REMOVE, subscriber_id, tag_id, removed_out);
}

int loa__sqlite_tag_rename(struct loa_txn *tx, int64_t page_ref, const char *from, const char *to)
{
    struct loa_store *st = tx->st;
    int64_t id, other;
    int rc = get(st, page_ref, from, &id, NULL);
    if (rc < 0)
        return rc;
    rc = get(st, page_ref, to, &other, NULL);
    if (rc == 0 && other != id) /* renaming "vip" to "VIP" is allowed: the same tag */
        return LOA_EEXIST;
    if (rc < 0 && rc != LOA_ENOENT)
        return rc;
    sqlite3_stmt *s = t(st, T_RENAME);
    if (!s)
        return LOA_ESTORE;
    char *nfc = loa_text_nfc(to, strlen(to));
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_text(s, 2, nfc, -1, SQLITE_STATIC);
    rc = loa__step_done(st, s, "rename tag", NULL);
    loa_free(nfc);
    return rc;
}

int loa__sqlite_tag_delete(struct loa_txn *tx, int64_t page_ref, const char *name)
{
    struct loa_store *st = tx->st;
    int64_t id;
    int rc = get(st, page_ref, name, &id, NULL);
    if (rc < 0)
        return rc;
    sqlite3_stmt *s = t(st, T_DELETE);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, id);
    return loa__step_done(st, s, "delete tag", NULL);
}

int loa__sqlite_tag_merge(struct loa_txn *tx, int64_t page_ref, const char *from, const char *into,
                          int64_t *moved_out)
{
    struct loa_store *st = tx->st;
    int64_t from_id, into_id;
    int rc = get(st, page_ref, from, &from_id, NULL);
    if (rc == 0)
        rc = get(st, page_ref, into, &into_id, NULL);
    if (rc < 0)
        return rc;
    if (from_id == into_id)
        return LOA_EINVAL;
    if ((rc = loa__op_begin(st)) < 0)
        return rc;
    rc = exec_pair(st, T_MOVE, from_id, into_id, NULL);
    int64_t moved = sqlite3_changes64(st->db);
    if (rc == 0) {
        sqlite3_stmt *s = t(st, T_DELETE);
        if (!s)
            rc = LOA_ESTORE;
        else {
            sqlite3_bind_int64(s, 1, from_id);
            rc = loa__step_done(st, s, "delete merged tag", NULL);
        }
    }
    rc = loa__op_end(st, rc);
    if (rc == 0 && moved_out)
        *moved_out = moved;
    return rc;
}

int loa__sqlite_tag_list(struct loa_store *st, int64_t page_ref,
                         int (*fn)(const char *name, int64_t count, void *ud), void *ud)
{
    sqlite3_stmt *s = t(st, T_LIST);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, page_ref);
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW)
        if (fn((const char *)sqlite3_column_text(s, 0), sqlite3_column_int64(s, 1), ud))
            break;
    return loa__step_end(st, s, step, "list tags");
}
