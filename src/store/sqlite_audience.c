/* SPDX-License-Identifier: MIT */
/*
 * The SQLite backend, schema 4: imported lists and audiences.
 *
 * An audience filter (include/loa/audience.h) is compiled into one WHERE clause over
 * `subscribers s`. Every value of the filter (tag and list names, times, attribute names and
 * values) is a bound parameter: the SQL text is made only of fixed fragments chosen by the
 * node kinds, so no input reaches the SQL text. Every fragment is 0 or 1, never NULL, so that
 * "not" of a fragment is its complement.
 *
 * Custom attributes are compared by loa_attr_cmp(value, op, text, number), an application
 * function registered on the connection on first use: it compares as numbers when both sides
 * read as numbers, else as text (see docs/audience.md).
 *
 * Statements are prepared per call (an audience query is one statement per request, and the
 * filter changes its text); nothing here is cached in the store's statement slots.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include <loa/alloc.h>
#include <loa/audience.h>
#include <loa/buf.h>
#include <loa/clock.h>
#include <loa/err.h>
#include <loa/log.h>
#include <loa/store.h>
#include <loa/text.h>

#include "store_int.h"

#define SQL_MAX   (256 * 1024)
#define PATH_MAX_ 200

/* ---- Lists ------------------------------------------------------------------------------ */

int loa__sqlite_list_find(struct loa_store *st, int64_t page_ref, const char *name, int64_t *id_out)
{
    sqlite3_stmt *s;
    int rc = loa__prepare(st, "SELECT id FROM lists WHERE page_ref = ? AND name = ?", &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, page_ref);
    sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW)
        *id_out = sqlite3_column_int64(s, 0);
    else
        rc = step == SQLITE_DONE ? LOA_ENOENT : loa__db_fail(st, "find list");
    sqlite3_finalize(s);
    return rc;
}

int loa__sqlite_list_clear(struct loa_txn *tx, int64_t list_id)
{
    struct loa_store *st = tx->st;
    sqlite3_stmt *s;
    int rc = loa__prepare(st, "DELETE FROM list_members WHERE list_id = ?", &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, list_id);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = loa__db_fail(st, "clear list");
    sqlite3_finalize(s);
    return rc;
}

static int list_add_phones_op(struct loa_store *st, int64_t list_id, int64_t page_ref,
                              const char *const *phones, size_t n, int64_t *matched,
                              int64_t *added_out)
{
    sqlite3_stmt *count = NULL, *add = NULL;
    int64_t added = 0;
    int rc = loa__prepare(st, "SELECT count(*) FROM subscribers WHERE page_ref = ? AND phone = ?",
                          &count);
    if (rc == 0)
        rc = loa__prepare(st,
                          "INSERT OR IGNORE INTO list_members (list_id, subscriber_id) "
                          "SELECT ?, id FROM subscribers WHERE page_ref = ? AND phone = ?",
                          &add);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        sqlite3_reset(count);
        sqlite3_bind_int64(count, 1, page_ref);
        sqlite3_bind_text(count, 2, phones[i], -1, SQLITE_STATIC);
        if (sqlite3_step(count) != SQLITE_ROW) {
            rc = loa__db_fail(st, "match phone");
            break;
        }
        matched[i] = sqlite3_column_int64(count, 0);
        if (matched[i] == 0)
            continue;
        sqlite3_reset(add);
        sqlite3_bind_int64(add, 1, list_id);
        sqlite3_bind_int64(add, 2, page_ref);
        sqlite3_bind_text(add, 3, phones[i], -1, SQLITE_STATIC);
        if (sqlite3_step(add) != SQLITE_DONE) {
            rc = loa__db_fail(st, "add list members");
            break;
        }
        added += sqlite3_changes(st->db);
    }
    sqlite3_finalize(count);
    sqlite3_finalize(add);
    if (rc == 0 && added_out)
        *added_out = added;
    return rc;
}

int loa__sqlite_list_add_phones(struct loa_txn *tx, int64_t list_id, int64_t page_ref,
                                const char *const *phones, size_t n, int64_t *matched,
                                int64_t *added_out)
{
    int rc = loa__op_begin(tx->st);
    return rc < 0 ? rc
                  : loa__op_end(tx->st, list_add_phones_op(tx->st, list_id, page_ref, phones, n,
                                                           matched, added_out));
}

int loa__sqlite_list_list(struct loa_store *st, int64_t page_ref,
                          int (*fn)(const char *name, int64_t members, int64_t created_at,
                                    void *ud),
                          void *ud)
{
    sqlite3_stmt *s;
    int rc =
        loa__prepare(st,
                     "SELECT l.name, (SELECT count(*) FROM list_members m WHERE m.list_id = l.id), "
                     "l.created_at FROM lists l WHERE l.page_ref = ? ORDER BY l.name",
                     &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, page_ref);
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        if (fn((const char *)sqlite3_column_text(s, 0), sqlite3_column_int64(s, 1),
               sqlite3_column_int64(s, 2), ud))
            break;
    }
    rc = step == SQLITE_ROW || step == SQLITE_DONE ? 0 : loa__db_fail(st, "list lists");
    sqlite3_finalize(s);
    return rc;
}

/* ---- Attribute comparison (SQL function) ---------------------------------------------- */

/* loa_attr_cmp(value, op, text, number): 1 when the stored value satisfies op, else 0. */
static void attr_cmp(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    int op = sqlite3_value_int(argv[1]);
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_int(ctx, op == LOA_AUD_OP_NE);
        return;
    }
    const char *v = (const char *)sqlite3_value_text(argv[0]);
    const char *want = (const char *)sqlite3_value_text(argv[2]);
    if (!v || !want) {
        sqlite3_result_int(ctx, op == LOA_AUD_OP_NE);
        return;
    }
    double vn = 0, wn = 0;
    int vt = sqlite3_value_type(argv[0]);
    bool vnum = vt == SQLITE_INTEGER || vt == SQLITE_FLOAT
                    ? (vn = sqlite3_value_double(argv[0]), true)
                    : loa_text_number(v, &vn);
    bool numeric = sqlite3_value_type(argv[3]) != SQLITE_NULL && vnum;
    if (numeric)
        wn = sqlite3_value_double(argv[3]);
    int cmp = numeric ? (vn < wn ? -1 : vn > wn ? 1 : 0) : strcmp(v, want);
    int r = 0;
    switch (op) {
    case LOA_AUD_OP_EQ:
        r = cmp == 0;
        break;
    case LOA_AUD_OP_NE:
        r = cmp != 0;
        break;
    case LOA_AUD_OP_CONTAINS: {
        char *fv = loa_text_fold(v), *fw = loa_text_fold(want);
        r = strstr(fv, fw) != NULL;
        loa_free(fv);
        loa_free(fw);
        break;
    }
    case LOA_AUD_OP_GT:
        r = cmp > 0;
        break;
    case LOA_AUD_OP_LT:
        r = cmp < 0;
        break;
    default:
        r = 0;
        break;
    }
    sqlite3_result_int(ctx, r);
}

/*
 * Registers loa_attr_cmp on the connection unless it is there. Probing with a prepare first
 * matters: re-registering a function expires every prepared statement of the connection, and
 * fails while statements run.
 */
static int register_functions(struct loa_store *st)
{
    sqlite3_stmt *probe = NULL;
    if (sqlite3_prepare_v2(st->db, "SELECT loa_attr_cmp(NULL, 0, NULL, NULL)", -1, &probe, NULL) ==
        SQLITE_OK) {
        sqlite3_finalize(probe);
        return 0;
    }
    if (sqlite3_create_function_v2(st->db, "loa_attr_cmp", 4,
                                   SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
                                   attr_cmp, NULL, NULL, NULL) != SQLITE_OK)
        return loa__db_fail(st, "register loa_attr_cmp");
    return 0;
}

/* ---- Filter → WHERE --------------------------------------------------------------------- */

enum bind_kind {
    B_INT,
    B_TEXT,
    B_REAL,
    B_NULL
};

struct bind {
    enum bind_kind kind;
    int64_t i;
    double d;
    const char *t; /* borrowed from the tree, or own */
    char *own;     /* owned text (freed with the compiler) */
};

struct compiler {
    struct loa_buf sql;
    struct bind *binds;
    size_t nbinds, cap;
    int64_t page_ref;
    bool uses_attrs;
    bool tag_keys; /* tags compared by key (LOA__SCHEMA_TAG_KEYS on) */
};

static void push(struct compiler *c, struct bind b)
{
    if (c->nbinds == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->binds = loa_reallocarray(c->binds, c->cap, sizeof(*c->binds));
    }
    c->binds[c->nbinds++] = b;
}

static void bind_int(struct compiler *c, int64_t v)
{
    push(c, (struct bind){ .kind = B_INT, .i = v });
}

static void bind_text(struct compiler *c, const char *t)
{
    push(c, (struct bind){ .kind = t ? B_TEXT : B_NULL, .t = t });
}

static void emit(struct compiler *c, const char *s)
{
    loa_buf_puts(&c->sql, s);
}

/* "(?, ?, ?)" for n names, each bound; "(loa_fold(?), ...)" when fold (tag keys). */
static void emit_names(struct compiler *c, char *const *names, size_t n, bool fold)
{
    emit(c, "(");
    for (size_t i = 0; i < n; i++) {
        if (i)
            emit(c, ", ");
        emit(c, fold ? "loa_fold(?)" : "?");
        bind_text(c, names[i]);
    }
    emit(c, ")");
}

/* A tag matches by its key: case and Unicode form do not matter ("VIP" finds "vip"). */
static void emit_tag_members(struct compiler *c, const struct loa_audience_node *n)
{
    emit(c, "SELECT st.subscriber_id FROM subscriber_tags st WHERE st.tag_id IN "
            "(SELECT t.id FROM tags t WHERE t.page_ref = ? AND ");
    emit(c, c->tag_keys ? "t.key IN " : "t.name IN ");
    bind_int(c, c->page_ref);
    emit_names(c, n->names, n->nnames, c->tag_keys);
    emit(c, ")");
}

static void emit_range(struct compiler *c, const char *column, const struct loa_audience_node *n)
{
    /* A zero time means never/unknown: it is in no range. */
    loa_buf_printf(&c->sql, "(s.%s > 0 AND s.%s >= ? AND s.%s < ?)", column, column, column);
    bind_int(c, n->from);
    bind_int(c, n->until);
}

static int compile(struct compiler *c, const struct loa_audience_node *n, int depth)
{
    if (!n || depth > LOA_AUDIENCE_MAX_DEPTH + 1)
        return LOA_EINVAL;
    int rc = 0;
    switch (n->kind) {
    case LOA_AUD_ALL:
    case LOA_AUD_ANY:
        if (n->nchildren == 0) {
            emit(c, n->kind == LOA_AUD_ALL ? "1" : "0");
            break;
        }
        emit(c, "(");
        for (size_t i = 0; rc == 0 && i < n->nchildren; i++) {
            if (i)
                emit(c, n->kind == LOA_AUD_ALL ? " AND " : " OR ");
            rc = compile(c, n->children[i], depth + 1);
        }
        emit(c, ")");
        break;
    case LOA_AUD_NOT:
        if (n->nchildren != 1)
            return LOA_EINVAL;
        emit(c, "NOT (");
        rc = compile(c, n->children[0], depth + 1);
        emit(c, ")");
        break;
    case LOA_AUD_TAGS_ANY:
    case LOA_AUD_TAGS_NONE:
        emit(c, n->kind == LOA_AUD_TAGS_ANY ? "s.id IN (" : "s.id NOT IN (");
        emit_tag_members(c, n);
        emit(c, ")");
        break;
    case LOA_AUD_TAGS_ALL:
        emit(c, "s.id IN (");
        emit_tag_members(c, n);
        emit(c, " GROUP BY st.subscriber_id HAVING count(*) = ?)");
        bind_int(c, (int64_t)n->nnames);
        break;
    case LOA_AUD_HAS:
    case LOA_AUD_LACKS: {
        const char *col = n->field == LOA_AUD_FIELD_EMAIL ? "email" : "phone";
        if (n->kind == LOA_AUD_HAS)
            loa_buf_printf(&c->sql, "(s.%s IS NOT NULL AND s.%s <> '')", col, col);
        else
            loa_buf_printf(&c->sql, "(s.%s IS NULL OR s.%s = '')", col, col);
        break;
    }
    case LOA_AUD_GENDER:
        emit(c, "(s.gender IS ?)");
        bind_text(c, n->value);
        break;
    case LOA_AUD_LAST_INTERACTION:
        emit_range(c, "last_interaction_at", n);
        break;
    case LOA_AUD_FIRST_SEEN:
        emit_range(c, "first_seen_at", n);
        break;
    case LOA_AUD_ATTR: {
        /* The path '$."name"': names cannot hold '"' or '\' (the parser refuses them). */
        size_t nl = strlen(n->name);
        char *path = loa_malloc(nl + 5);
        memcpy(path, "$.\"", 3);
        memcpy(path + 3, n->name, nl);
        memcpy(path + 3 + nl, "\"", 2);
        if (n->op == LOA_AUD_OP_EXISTS) {
            emit(c, "coalesce(json_type(s.attrs, ?) <> 'null', 0)");
            push(c, (struct bind){ .kind = B_TEXT, .t = path, .own = path });
            break;
        }
        c->uses_attrs = true;
        if (n->op == LOA_AUD_OP_EQ && !n->numeric) {
            /* Equal text is in the stored JSON text as a JSON string: a cheap first sieve
               that spares most rows the JSON parse. */
            emit(c, "(instr(s.attrs, json_quote(?)) > 0 AND ");
            bind_text(c, n->value);
        }
        emit(c, "loa_attr_cmp(json_extract(s.attrs, ?), ?, ?, ?)");
        push(c, (struct bind){ .kind = B_TEXT, .t = path, .own = path });
        bind_int(c, n->op);
        bind_text(c, n->value);
        if (n->numeric)
            push(c, (struct bind){ .kind = B_REAL, .d = n->number });
        else
            push(c, (struct bind){ .kind = B_NULL });
        if (n->op == LOA_AUD_OP_EQ && !n->numeric)
            emit(c, ")");
        break;
    }
    case LOA_AUD_LIST:
        emit(c, "s.id IN (SELECT lm.subscriber_id FROM list_members lm JOIN lists l ON "
                "l.id = lm.list_id WHERE l.page_ref = ? AND l.name = ?)");
        bind_int(c, c->page_ref);
        bind_text(c, n->name);
        break;
    default:
        rc = LOA_EINVAL;
        break;
    }
    return rc;
}

static void compiler_release(struct compiler *c)
{
    for (size_t i = 0; i < c->nbinds; i++)
        loa_free(c->binds[i].own);
    loa_free(c->binds);
    loa_buf_release(&c->sql);
}

static void apply_binds(sqlite3_stmt *s, const struct compiler *c, int first)
{
    for (size_t i = 0; i < c->nbinds; i++) {
        int at = first + (int)i;
        const struct bind *b = &c->binds[i];
        switch (b->kind) {
        case B_INT:
            sqlite3_bind_int64(s, at, b->i);
            break;
        case B_TEXT:
            sqlite3_bind_text(s, at, b->t, -1, b->own ? SQLITE_TRANSIENT : SQLITE_STATIC);
            break;
        case B_REAL:
            sqlite3_bind_double(s, at, b->d);
            break;
        case B_NULL:
            sqlite3_bind_null(s, at);
            break;
        }
    }
}

/*
 * Whether reading the whole table beats the (page_ref, ...) indexes for this Page: true when
 * the Page holds at least a quarter of the subscribers. Walking an index and looking up each
 * row costs a random read per row, which on a 1,000,000-row Page is several times slower
 * than one pass over the table; on a small Page among many the index wins. Counting stops
 * at the threshold, so the check itself costs at most a quarter of an index walk.
 */
static bool prefer_table_scan(struct loa_store *st, int64_t page_ref)
{
    sqlite3_stmt *s = NULL;
    bool yes = false;
    if (loa__prepare(st,
                     "SELECT (SELECT count(*) FROM (SELECT 1 FROM subscribers WHERE page_ref = ?1 "
                     "LIMIT ?2)) >= ?2",
                     &s) < 0)
        return false;
    sqlite3_stmt *m = NULL;
    int64_t max_id = 0;
    if (loa__prepare(st, "SELECT coalesce(max(id), 0) FROM subscribers", &m) == 0 &&
        sqlite3_step(m) == SQLITE_ROW)
        max_id = sqlite3_column_int64(m, 0);
    sqlite3_finalize(m);
    if (max_id >= 1000) {
        sqlite3_bind_int64(s, 1, page_ref);
        sqlite3_bind_int64(s, 2, max_id / 4);
        yes = sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int(s, 0);
    }
    sqlite3_finalize(s);
    return yes;
}

/*
 * Builds "SELECT <columns> FROM subscribers s WHERE s.page_ref = ?1 AND (<filter>) [cursor]
 * [ORDER BY ...] [LIMIT ?]" and prepares it with every value bound.
 */
static int build(struct loa_store *st, const char *columns, int64_t page_ref,
                 const struct loa_audience_node *filter, bool ordered,
                 enum loa_audience_order order, const struct loa_audience_cursor *cursor,
                 int64_t limit, sqlite3_stmt **out)
{
    struct compiler c = { .page_ref = page_ref, .tag_keys = st->version >= LOA__SCHEMA_TAG_KEYS };
    loa_buf_init(&c.sql, SQL_MAX);
    *out = NULL;
    /*
     * Most recently active first walks subscribers_recent in order and stops at the limit
     * (without the hint SQLite may pick another index for a range and sort every match).
     * Everything else reads the table in one pass when the Page is a large part of it; an
     * everyone-count is answered from an index alone.
     */
    bool everyone = !filter || (filter->kind == LOA_AUD_ALL && filter->nchildren == 0);
    bool recent = ordered && order == LOA_AUDIENCE_BY_RECENT && st->version >= 4;
    bool table_scan = !recent && !(!ordered && everyone) && prefer_table_scan(st, page_ref);
    loa_buf_printf(&c.sql, "SELECT %s FROM subscribers s%s WHERE s.page_ref = ? AND ", columns,
                   recent       ? " INDEXED BY subscribers_recent"
                   : table_scan ? " NOT INDEXED"
                                : "");
    bind_int(&c, page_ref);
    int rc = filter ? compile(&c, filter, 0) : 0;
    if (!filter)
        emit(&c, "1");
    if (rc == 0 && ordered) {
        if (cursor && cursor->set && order == LOA_AUDIENCE_BY_RECENT) {
            emit(&c, " AND (s.last_interaction_at < ? OR (s.last_interaction_at = ? AND "
                     "s.id < ?))");
            bind_int(&c, cursor->last_interaction_at);
            bind_int(&c, cursor->last_interaction_at);
            bind_int(&c, cursor->id);
        } else if (cursor && cursor->set && order == LOA_AUDIENCE_BY_ID) {
            emit(&c, " AND s.id > ?");
            bind_int(&c, cursor->id);
        }
        emit(&c, order == LOA_AUDIENCE_BY_RECENT ? " ORDER BY s.last_interaction_at DESC, "
                                                   "s.id DESC LIMIT ?"
                 : order == LOA_AUDIENCE_BY_ID   ? " ORDER BY s.id LIMIT ?"
                                                 : " LIMIT ?");
        bind_int(&c, limit > 0 ? limit : -1);
    }
    if (rc == 0 && c.sql.len >= SQL_MAX - 1)
        rc = LOA_ETOOBIG;
    if (rc == 0 && c.uses_attrs)
        rc = register_functions(st);
    if (rc == 0)
        rc = loa__prepare(st, loa_buf_cstr(&c.sql), out);
    if (rc == 0)
        apply_binds(*out, &c, 1);
    compiler_release(&c);
    return rc;
}

int loa__sqlite_audience_count(struct loa_store *st, int64_t page_ref,
                               const struct loa_audience_node *filter, int64_t *count_out)
{
    sqlite3_stmt *s;
    int rc = build(st, "count(*)", page_ref, filter, false, 0, NULL, 0, &s);
    if (rc < 0)
        return rc;
    if (sqlite3_step(s) == SQLITE_ROW)
        *count_out = sqlite3_column_int64(s, 0);
    else
        rc = loa__db_fail(st, "count audience");
    sqlite3_finalize(s);
    return rc;
}

#define AUD_SUB_COLUMNS                                                                     \
    "s.id, s.page_ref, s.psid, s.first_name, s.last_name, s.gender, s.locale, "             \
    "s.utc_offset_min, s.phone, s.email, s.first_seen_at, s.last_interaction_at, "          \
    "s.last_interaction_kind, s.unreachable, s.unreachable_reason, s.attrs, s.created_at, " \
    "s.updated_at, s.ad_referral_at, s.after_ctm_ad, s.profile_fetched_at"

int loa__sqlite_audience_list(struct loa_store *st, int64_t page_ref,
                              const struct loa_audience_node *filter, enum loa_audience_order order,
                              const struct loa_audience_cursor *cursor, int64_t limit,
                              int (*fn)(const struct loa_subscriber *s, void *ud), void *ud)
{
    if (st->version < 3)
        return LOA_EVERSION;
    sqlite3_stmt *s;
    int rc = build(st, AUD_SUB_COLUMNS, page_ref, filter, true, order, cursor, limit, &s);
    if (rc < 0)
        return rc;
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct loa_subscriber sub;
        memset(&sub, 0, sizeof(sub));
        loa__read_subscriber(s, &sub);
        int stop = fn(&sub, ud);
        loa_subscriber_release(&sub);
        if (stop)
            break;
    }
    rc = step == SQLITE_ROW || step == SQLITE_DONE ? 0 : loa__db_fail(st, "list audience");
    sqlite3_finalize(s);
    return rc;
}

int loa__sqlite_audience_scan(struct loa_store *st, int64_t page_ref,
                              const struct loa_audience_node *filter, enum loa_audience_order order,
                              const struct loa_audience_cursor *cursor, int64_t limit,
                              int (*fn)(const struct loa_audience_member *m, void *ud), void *ud)
{
    if (st->version < 3)
        return LOA_EVERSION;
    sqlite3_stmt *s;
    int rc = build(st,
                   "s.id, s.psid, s.first_seen_at, s.last_interaction_at, "
                   "s.last_interaction_kind, s.after_ctm_ad, s.unreachable",
                   page_ref, filter, true, order, cursor, limit, &s);
    if (rc < 0)
        return rc;
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct loa_audience_member m = {
            .id = sqlite3_column_int64(s, 0),
            .psid = (const char *)sqlite3_column_text(s, 1),
            .first_seen_at = sqlite3_column_int64(s, 2),
            .last_interaction_at = sqlite3_column_int64(s, 3),
            .last_interaction_kind = (const char *)sqlite3_column_text(s, 4),
            .first_after_ctm_ad = sqlite3_column_int(s, 5) != 0,
            .unreachable = sqlite3_column_int(s, 6) != 0,
        };
        if (fn(&m, ud))
            break;
    }
    rc = step == SQLITE_ROW || step == SQLITE_DONE ? 0 : loa__db_fail(st, "scan audience");
    sqlite3_finalize(s);
    return rc;
}
