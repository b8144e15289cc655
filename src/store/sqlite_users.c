/* SPDX-License-Identifier: MIT */
/*
 * The SQLite backend: console users, sessions and sign-in failures (schema 10,
 * include/loa/store_users.h).
 *
 * A session token is 32 random bytes made by the caller; only its keyed BLAKE2b-256 hash (a
 * subkey of the store key, as for API keys) is stored and looked up, so a copy of the
 * database cannot be used to sign in. Passwords arrive hashed (Argon2id strings).
 *
 * Statements are cached in the store's slots [LOA__XSTMT_USERS, +16).
 */
#include <stdint.h>
#include <string.h>

#include <sodium.h>
#include <sqlite3.h>

#include <loa/alloc.h>
#include <loa/clock.h>
#include <loa/err.h>
#include <loa/store.h>

#include "store_int.h"

#define USERS_SCHEMA    10 /* the migration that made these tables */
#define SESSION_PURPOSE "sessions"
#define SEEN_EVERY      LOA_MINUTE_MS

enum {
    U_INSERT,
    U_PAGE_ADD,
    U_GET,
    U_PAGES,
    U_LIST,
    U_PASSWORD,
    U_REMOVE,
    U_FAIL_GET,
    U_FAIL_PUT,
    U_FAIL_CLEAR,
    U_S_INSERT,
    U_S_FIND,
    U_S_SEEN,
    U_S_DELETE,
    U_S_DELETE_USER,
    U_COUNT
};
_Static_assert(LOA__XSTMT_USERS + U_COUNT <= LOA__XSTMT_TAGS, "users statement slots");

#define USER_COLUMNS "u.id, u.login, u.role, u.lang, u.created_at, u.password_at"

static const char *const usql[U_COUNT] = {
    [U_INSERT] = "INSERT INTO users (login, role, pw_hash, created_at, password_at)"
                 " VALUES (?1, ?2, ?3, ?4, ?4)",
    [U_PAGE_ADD] = "INSERT OR IGNORE INTO user_pages (user_id, page_id) VALUES (?, ?)",
    [U_GET] = "SELECT " USER_COLUMNS ", u.pw_hash FROM users u WHERE u.login = ?",
    [U_PAGES] = "SELECT page_id FROM user_pages WHERE user_id = ? ORDER BY page_id",
    [U_LIST] = "SELECT " USER_COLUMNS " FROM users u ORDER BY u.login",
    [U_PASSWORD] = "UPDATE users SET pw_hash = ?2, password_at = ?3 WHERE login = ?1"
                   " RETURNING id",
    [U_REMOVE] = "DELETE FROM users WHERE login = ?",
    [U_FAIL_GET] = "SELECT failures, last_at, locked_until FROM signin_failures WHERE login = ?",
    [U_FAIL_PUT] = "INSERT INTO signin_failures (login, failures, last_at, locked_until)"
                   " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (login) DO UPDATE SET"
                   " failures = excluded.failures, last_at = excluded.last_at,"
                   " locked_until = excluded.locked_until",
    [U_FAIL_CLEAR] = "DELETE FROM signin_failures WHERE login = ?",
    [U_S_INSERT] = "INSERT INTO sessions (token_hash, user_id, csrf, created_at, seen_at)"
                   " VALUES (?1, ?2, ?3, ?4, ?4)",
    [U_S_FIND] = "SELECT s.id, s.user_id, s.csrf, s.created_at, s.seen_at, " USER_COLUMNS
                 " FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?",
    [U_S_SEEN] = "UPDATE sessions SET seen_at = ?2 WHERE id = ?1",
    [U_S_DELETE] = "DELETE FROM sessions WHERE token_hash = ?",
    [U_S_DELETE_USER] = "DELETE FROM sessions WHERE user_id = ?",
};

static sqlite3_stmt *u(struct loa_store *st, int id)
{
    if (st->version < USERS_SCHEMA)
        return NULL;
    return loa__stmt_cached(st, &st->xstmts[LOA__XSTMT_USERS + id], usql[id]);
}

const char *loa_user_role_name(enum loa_user_role r)
{
    return r == LOA_USER_OWNER   ? "owner"
           : r == LOA_USER_ADMIN ? "admin"
           : r == LOA_USER_STAFF ? "staff"
                                 : "none";
}

int loa_user_role_parse(const char *s, enum loa_user_role *out)
{
    static const enum loa_user_role all[] = { LOA_USER_OWNER, LOA_USER_ADMIN, LOA_USER_STAFF };
    for (size_t i = 0; s && i < sizeof(all) / sizeof(all[0]); i++)
        if (strcmp(s, loa_user_role_name(all[i])) == 0) {
            *out = all[i];
            return 0;
        }
    return LOA_EINVAL;
}

void loa_user_release(struct loa_user *usr)
{
    LOA_FREE(usr->login);
    LOA_FREE(usr->lang);
    for (size_t i = 0; i < usr->npages; i++)
        loa_free(usr->pages[i]);
    LOA_FREE(usr->pages);
    usr->npages = 0;
}

void loa_session_release(struct loa_session *s)
{
    LOA_FREE(s->csrf);
}

/* Reads USER_COLUMNS starting at column c, then the user's Pages. */
static int read_user(struct loa_store *st, sqlite3_stmt *s, int c, struct loa_user *out)
{
    memset(out, 0, sizeof(*out));
    out->id = sqlite3_column_int64(s, c);
    out->login = loa__col_dup(s, c + 1);
    enum loa_user_role r = LOA_USER_STAFF;
    loa_user_role_parse((const char *)sqlite3_column_text(s, c + 2), &r);
    out->role = r;
    out->lang = loa__col_dup(s, c + 3);
    out->created_at = sqlite3_column_int64(s, c + 4);
    out->password_at = sqlite3_column_int64(s, c + 5);
    sqlite3_stmt *p = u(st, U_PAGES);
    if (!p)
        return LOA_ESTORE;
    sqlite3_bind_int64(p, 1, out->id);
    int step;
    while ((step = sqlite3_step(p)) == SQLITE_ROW) {
        out->pages = loa_reallocarray(out->pages, out->npages + 1, sizeof(*out->pages));
        out->pages[out->npages++] = loa__col_dup(p, 0);
    }
    return loa__step_end(st, p, step, "read user pages");
}

static int add_op(struct loa_store *st, const char *login, enum loa_user_role role,
                  const char *pw_hash, const char *const *pages, size_t npages, int64_t now,
                  int64_t *id_out)
{
    sqlite3_stmt *s = u(st, U_INSERT);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_text(s, 1, login, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, loa_user_role_name(role), -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, pw_hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, now);
    int step = sqlite3_step(s);
    int ext = sqlite3_extended_errcode(st->db);
    sqlite3_reset(s);
    if (step != SQLITE_DONE)
        return ext == SQLITE_CONSTRAINT_UNIQUE ? LOA_EEXIST : loa__db_fail(st, "insert user");
    int64_t id = sqlite3_last_insert_rowid(st->db);
    for (size_t i = 0; i < npages; i++) {
        sqlite3_stmt *p = u(st, U_PAGE_ADD);
        if (!p)
            return LOA_ESTORE;
        sqlite3_bind_int64(p, 1, id);
        sqlite3_bind_text(p, 2, pages[i], -1, SQLITE_STATIC);
        int rc = loa__step_done(st, p, "insert user page", NULL);
        if (rc < 0)
            return rc;
    }
    if (id_out)
        *id_out = id;
    return 0;
}

int loa__sqlite_user_add(struct loa_txn *tx, const char *login, enum loa_user_role role,
                         const char *pw_hash, const char *const *pages, size_t npages, int64_t now,
                         int64_t *id_out)
{
    if (!login || !*login || !pw_hash || loa_user_role_parse(loa_user_role_name(role), &role) < 0)
        return LOA_EINVAL;
    int rc = loa__op_begin(tx->st);
    return rc < 0 ? rc
                  : loa__op_end(tx->st,
                                add_op(tx->st, login, role, pw_hash, pages, npages, now, id_out));
}

static int delete_user_sessions(struct loa_store *st, int64_t user_id, int64_t *n_out)
{
    sqlite3_stmt *s = u(st, U_S_DELETE_USER);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, user_id);
    int rc = loa__step_done(st, s, "delete sessions", NULL);
    if (rc == 0 && n_out)
        *n_out = sqlite3_changes(st->db);
    return rc;
}

static int password_op(struct loa_store *st, const char *login, const char *pw_hash, int64_t now)
{
    sqlite3_stmt *s = u(st, U_PASSWORD);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_text(s, 1, login, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, pw_hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, now);
    int rc = loa__step_row(st, s, "set password");
    int64_t id = rc == 0 ? sqlite3_column_int64(s, 0) : 0;
    if (rc == 0)
        rc = loa__step_end(st, s, sqlite3_step(s), "set password");
    else
        sqlite3_reset(s);
    return rc < 0 ? rc : delete_user_sessions(st, id, NULL);
}

int loa__sqlite_user_set_password(struct loa_txn *tx, const char *login, const char *pw_hash,
                                  int64_t now)
{
    int rc = loa__op_begin(tx->st);
    return rc < 0 ? rc : loa__op_end(tx->st, password_op(tx->st, login, pw_hash, now));
}

int loa__sqlite_user_remove(struct loa_txn *tx, const char *login)
{
    sqlite3_stmt *s = u(tx->st, U_REMOVE);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_text(s, 1, login, -1, SQLITE_STATIC);
    bool changed = false;
    int rc = loa__step_done(tx->st, s, "remove user", &changed);
    return rc < 0 ? rc : changed ? 0 : LOA_ENOENT;
}

int loa__sqlite_user_get(struct loa_store *st, const char *login, struct loa_user *out,
                         char **pw_hash_out)
{
    memset(out, 0, sizeof(*out));
    if (pw_hash_out)
        *pw_hash_out = NULL;
    sqlite3_stmt *s = u(st, U_GET);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_text(s, 1, login, -1, SQLITE_STATIC);
    int rc = loa__step_row(st, s, "read user");
    char *hash = rc == 0 ? loa__col_dup(s, 6) : NULL;
    if (rc == 0)
        rc = read_user(st, s, 0, out);
    sqlite3_reset(s);
    if (rc < 0 || !pw_hash_out) {
        if (hash)
            sodium_memzero(hash, strlen(hash));
        loa_free(hash);
        if (rc < 0)
            loa_user_release(out);
        return rc;
    }
    *pw_hash_out = hash;
    return 0;
}

int loa__sqlite_user_list(struct loa_store *st, int (*fn)(const struct loa_user *u, void *ud),
                          void *ud)
{
    sqlite3_stmt *s = u(st, U_LIST);
    if (!s)
        return LOA_ESTORE;
    int step, rc = 0;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct loa_user usr;
        rc = read_user(st, s, 0, &usr);
        int stop = rc < 0 ? 1 : fn(&usr, ud);
        loa_user_release(&usr);
        if (stop)
            break;
    }
    int end = loa__step_end(st, s, step, "list users");
    return rc < 0 ? rc : end;
}

int loa__sqlite_signin_state(struct loa_store *st, const char *login, struct loa_signin_state *out)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *s = u(st, U_FAIL_GET);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_text(s, 1, login, -1, SQLITE_STATIC);
    int rc = loa__step_row(st, s, "read sign-in failures");
    if (rc == 0) {
        out->failures = sqlite3_column_int64(s, 0);
        out->last_at = sqlite3_column_int64(s, 1);
        out->locked_until = sqlite3_column_int64(s, 2);
    }
    sqlite3_reset(s);
    return rc == LOA_ENOENT ? 0 : rc;
}

int loa__sqlite_signin_failed(struct loa_txn *tx, const char *login, int64_t now,
                              int64_t lock_after, int64_t lock_ms, struct loa_signin_state *out)
{
    struct loa_signin_state cur;
    int rc = loa__sqlite_signin_state(tx->st, login, &cur);
    if (rc < 0)
        return rc;
    if (cur.locked_until && cur.locked_until <= now)
        cur.failures = 0; /* a lock that ran out starts a new count */
    cur.failures++;
    cur.last_at = now;
    cur.locked_until = 0;
    if (lock_after > 0 && cur.failures >= lock_after) {
        cur.locked_until = now + lock_ms;
        cur.failures = 0;
    }
    sqlite3_stmt *s = u(tx->st, U_FAIL_PUT);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_text(s, 1, login, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, cur.failures);
    sqlite3_bind_int64(s, 3, cur.last_at);
    sqlite3_bind_int64(s, 4, cur.locked_until);
    rc = loa__step_done(tx->st, s, "record sign-in failure", NULL);
    if (rc == 0 && out)
        *out = cur;
    return rc;
}

int loa__sqlite_signin_clear(struct loa_txn *tx, const char *login)
{
    sqlite3_stmt *s = u(tx->st, U_FAIL_CLEAR);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_text(s, 1, login, -1, SQLITE_STATIC);
    return loa__step_done(tx->st, s, "clear sign-in failures", NULL);
}

static int token_hash(struct loa_store *st, const char *token, unsigned char out[32])
{
    if (!token || !*token)
        return LOA_EINVAL;
    return loa__secret_hash(st->key, SESSION_PURPOSE, token, strlen(token), out);
}

int loa__sqlite_session_create(struct loa_txn *tx, int64_t user_id, const char *token,
                               const char *csrf, int64_t now, int64_t *id_out)
{
    unsigned char h[32];
    int rc = token_hash(tx->st, token, h);
    sqlite3_stmt *s = rc == 0 ? u(tx->st, U_S_INSERT) : NULL;
    if (!s)
        return rc < 0 ? rc : LOA_ESTORE;
    sqlite3_bind_blob(s, 1, h, sizeof(h), SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, user_id);
    sqlite3_bind_text(s, 3, csrf, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, now);
    rc = loa__step_done(tx->st, s, "insert session", NULL);
    if (rc == 0 && id_out)
        *id_out = sqlite3_last_insert_rowid(tx->st->db);
    return rc;
}

/* A one-statement write of its own outside any transaction (best effort). */
static void session_write(struct loa_store *st, int id, const void *blob, int64_t a, int64_t b)
{
    sqlite3_stmt *s = u(st, id);
    if (!s)
        return;
    if (blob)
        sqlite3_bind_blob(s, 1, blob, 32, SQLITE_STATIC);
    else
        sqlite3_bind_int64(s, 1, a);
    if (!blob)
        sqlite3_bind_int64(s, 2, b);
    sqlite3_step(s);
    sqlite3_reset(s);
}

int loa__sqlite_session_find(struct loa_store *st, const char *token, int64_t now, int64_t idle_ms,
                             int64_t max_ms, struct loa_session *out, struct loa_user *user_out)
{
    memset(out, 0, sizeof(*out));
    memset(user_out, 0, sizeof(*user_out));
    unsigned char h[32];
    int rc = token_hash(st, token, h);
    if (rc < 0)
        return LOA_ENOENT;
    sqlite3_stmt *s = u(st, U_S_FIND);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_blob(s, 1, h, sizeof(h), SQLITE_STATIC);
    rc = loa__step_row(st, s, "find session");
    if (rc == 0) {
        out->id = sqlite3_column_int64(s, 0);
        out->user_id = sqlite3_column_int64(s, 1);
        out->csrf = loa__col_dup(s, 2);
        out->created_at = sqlite3_column_int64(s, 3);
        out->seen_at = sqlite3_column_int64(s, 4);
        rc = read_user(st, s, 5, user_out);
    }
    sqlite3_reset(s);
    if (rc < 0) {
        loa_session_release(out);
        loa_user_release(user_out);
        return rc;
    }
    if ((idle_ms > 0 && now - out->seen_at > idle_ms) ||
        (max_ms > 0 && now - out->created_at > max_ms)) {
        session_write(st, U_S_DELETE, h, 0, 0);
        loa_session_release(out);
        loa_user_release(user_out);
        return LOA_ENOENT;
    }
    if (now - out->seen_at >= SEEN_EVERY) {
        session_write(st, U_S_SEEN, NULL, out->id, now);
        out->seen_at = now;
    }
    return 0;
}

int loa__sqlite_session_delete(struct loa_txn *tx, const char *token)
{
    unsigned char h[32];
    if (token_hash(tx->st, token, h) < 0)
        return 0;
    sqlite3_stmt *s = u(tx->st, U_S_DELETE);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_blob(s, 1, h, sizeof(h), SQLITE_STATIC);
    return loa__step_done(tx->st, s, "delete session", NULL);
}

int loa__sqlite_session_delete_user(struct loa_txn *tx, int64_t user_id, int64_t *n_out)
{
    return delete_user_sessions(tx->st, user_id, n_out);
}
