/* SPDX-License-Identifier: MIT */
/*
 * The SQLite backend of the store: one file in WAL mode with foreign keys on and a busy
 * timeout. Statements are prepared once per connection and reused (the import path runs them
 * a million times).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>

#include <loa/alloc.h>
#include <loa/buf.h>
#include <loa/clock.h>
#include <loa/err.h>
#include <loa/log.h>
#include <loa/store.h>

#include "store_int.h"

static const char key_check_plain[] = "loa key check v1";
static const char key_check_ad[] = "loa";

enum stmt_id {
    S_PAGE_INSERT,
    S_PAGE_GET,
    S_PAGE_GET_REF,
    S_PAGE_LIST,
    S_PAGE_SECRETS,
    S_PAGE_SET_NAME,
    S_PAGE_SET_TIMEZONE,
    S_PAGE_SET_ACTIVATED_AT,
    S_PAGE_SET_DAILY_CAP,
    S_PAGE_SET_PLAN_QUOTA,
    S_PAGE_SET_SEND_RATE,
    S_PAGE_SET_TOKEN,
    S_PAGE_SET_APP_SECRET,
    S_SUB_BY_PSID,
    S_SUB_BY_PHONE,
    S_SUB_BY_PHONE_NO_PSID,
    S_SUB_INSERT,
    S_SUB_UPDATE,
    S_SUB_COUNT_ALL,
    S_SUB_COUNT_PAGE,
    S_SUB_COUNT_CONTACTS,
    S_SUB_TAGS,
    S_LIST_GET,
    S_LIST_INSERT,
    S_LIST_ADD,
    S_LIST_COUNT,
    S_BEGIN,
    S_COMMIT,
    S_SAVEPOINT,
    S_RELEASE,
    S_OP_SAVEPOINT,
    S_OP_RELEASE,
    S_COUNT
};
_Static_assert(S_COUNT <= LOA__STMT_MAX, "raise LOA__STMT_MAX");

#define SUB_COLUMNS                                                                                \
    "id, page_ref, psid, first_name, last_name, gender, locale, utc_offset_min, phone, email, "    \
    "first_seen_at, last_interaction_at, last_interaction_kind, unreachable, unreachable_reason, " \
    "attrs, created_at, updated_at"
#define PAGE_COLUMNS                                                                 \
    "id, page_id, name, timezone, activated_at, daily_cap, plan_quota, created_at, " \
    "token_enc IS NOT NULL, app_secret_enc IS NOT NULL"

static const char *const stmt_sql[S_COUNT] = {
    /* Transactions: prepared once too (the webhook's group commit runs a savepoint per
     * request; parsing "SAVEPOINT" each time showed in profiles). */
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_SAVEPOINT] = "SAVEPOINT loa_step",
    [S_RELEASE] = "RELEASE loa_step",
    [S_OP_SAVEPOINT] = "SAVEPOINT loa_op", /* one call's writes (loa__op_begin) */
    [S_OP_RELEASE] = "RELEASE loa_op",
    [S_PAGE_INSERT] = "INSERT INTO pages (page_id, name, timezone, activated_at, daily_cap, "
                      "plan_quota, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    [S_PAGE_GET] = "SELECT " PAGE_COLUMNS " FROM pages WHERE page_id = ?",
    [S_PAGE_GET_REF] = "SELECT " PAGE_COLUMNS " FROM pages WHERE id = ?",
    [S_PAGE_LIST] = "SELECT " PAGE_COLUMNS " FROM pages ORDER BY page_id",
    [S_PAGE_SECRETS] = "SELECT token_enc, app_secret_enc FROM pages WHERE page_id = ?",
    /* One column of a Page: ?1 the value, ?2 the page_id. */
    [S_PAGE_SET_NAME] = "UPDATE pages SET name = ?1 WHERE page_id = ?2",
    [S_PAGE_SET_TIMEZONE] = "UPDATE pages SET timezone = ?1 WHERE page_id = ?2",
    [S_PAGE_SET_ACTIVATED_AT] = "UPDATE pages SET activated_at = ?1 WHERE page_id = ?2",
    [S_PAGE_SET_DAILY_CAP] = "UPDATE pages SET daily_cap = ?1 WHERE page_id = ?2",
    [S_PAGE_SET_PLAN_QUOTA] = "UPDATE pages SET plan_quota = ?1 WHERE page_id = ?2",
    [S_PAGE_SET_SEND_RATE] = "UPDATE pages SET send_rate = ?1 WHERE page_id = ?2", /* v3 on */
    [S_PAGE_SET_TOKEN] = "UPDATE pages SET token_enc = ?1 WHERE page_id = ?2",
    [S_PAGE_SET_APP_SECRET] = "UPDATE pages SET app_secret_enc = ?1 WHERE page_id = ?2",
    [S_SUB_BY_PSID] = "SELECT " SUB_COLUMNS " FROM subscribers WHERE page_ref = ? AND psid = ?",
    [S_SUB_BY_PHONE] = "SELECT " SUB_COLUMNS " FROM subscribers WHERE page_ref = ? AND phone = ? "
                       "ORDER BY id LIMIT 1",
    [S_SUB_BY_PHONE_NO_PSID] = "SELECT " SUB_COLUMNS " FROM subscribers WHERE page_ref = ? AND "
                               "phone = ? AND psid IS NULL ORDER BY id LIMIT 1",
    [S_SUB_INSERT] = "INSERT INTO subscribers (page_ref, psid, first_name, last_name, gender, "
                     "locale, utc_offset_min, phone, email, first_seen_at, last_interaction_at, "
                     "last_interaction_kind, unreachable, unreachable_reason, attrs, created_at, "
                     "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [S_SUB_UPDATE] = "UPDATE subscribers SET psid = ?2, first_name = ?3, last_name = ?4, "
                     "gender = ?5, locale = ?6, utc_offset_min = ?7, phone = ?8, email = ?9, "
                     "first_seen_at = ?10, last_interaction_at = ?11, last_interaction_kind = ?12, "
                     "unreachable = ?13, unreachable_reason = ?14, attrs = ?15, updated_at = ?16 "
                     "WHERE id = ?1",
    [S_SUB_COUNT_ALL] = "SELECT count(*) FROM subscribers",
    [S_SUB_COUNT_PAGE] = "SELECT count(*) FROM subscribers WHERE page_ref = ?",
    [S_SUB_COUNT_CONTACTS] = "SELECT count(*) FROM subscribers WHERE page_ref = ? AND psid IS NULL",
    [S_SUB_TAGS] = "SELECT t.name FROM subscriber_tags st JOIN tags t ON t.id = st.tag_id "
                   "WHERE st.subscriber_id = ? ORDER BY t.name",
    [S_LIST_GET] = "SELECT id FROM lists WHERE page_ref = ? AND name = ?",
    [S_LIST_INSERT] = "INSERT INTO lists (page_ref, name, created_at) VALUES (?, ?, ?)",
    [S_LIST_ADD] = "INSERT OR IGNORE INTO list_members (list_id, subscriber_id) VALUES (?, ?)",
    [S_LIST_COUNT] = "SELECT count(*) FROM list_members WHERE list_id = ?",
};

#define SUB_COLUMNS_V3 SUB_COLUMNS ", ad_referral_at, after_ctm_ad, profile_fetched_at"

/* From schema version 3 on, these statements read the columns that version added. */
static const char *const stmt_sql_v3[S_COUNT] = {
    [S_PAGE_GET] = "SELECT " PAGE_COLUMNS ", send_rate FROM pages WHERE page_id = ?",
    [S_PAGE_GET_REF] = "SELECT " PAGE_COLUMNS ", send_rate FROM pages WHERE id = ?",
    [S_PAGE_LIST] = "SELECT " PAGE_COLUMNS ", send_rate FROM pages ORDER BY page_id",
    [S_SUB_BY_PSID] = "SELECT " SUB_COLUMNS_V3 " FROM subscribers WHERE page_ref = ? AND psid = ?",
    [S_SUB_BY_PHONE] = "SELECT " SUB_COLUMNS_V3 " FROM subscribers WHERE page_ref = ? AND "
                       "phone = ? ORDER BY id LIMIT 1",
    [S_SUB_BY_PHONE_NO_PSID] = "SELECT " SUB_COLUMNS_V3 " FROM subscribers WHERE page_ref = ? "
                               "AND phone = ? AND psid IS NULL ORDER BY id LIMIT 1",
};

/* Logs a SQLite failure once, where it is seen, and maps it to a loa error. */
int loa__db_fail(struct loa_store *st, const char *what)
{
    int code = sqlite3_errcode(st->db);
    LOA_ERROR("store", "sqlite call failed", "op=\"%s\" code=%d error=\"%s\"", what, code,
              sqlite3_errmsg(st->db));
    if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
        return LOA_EBUSY;
    if (code == SQLITE_CONSTRAINT)
        return LOA_EEXIST;
    return LOA_ESTORE;
}

int loa__prepare(struct loa_store *st, const char *sql, sqlite3_stmt **out)
{
    if (sqlite3_prepare_v2(st->db, sql, -1, out, NULL) != SQLITE_OK) {
        *out = NULL;
        return loa__db_fail(st, "prepare statement");
    }
    return 0;
}

/* ---- The in-process write lock ----------------------------------------------------------
 *
 * SQLite has one writer per file. Connections of one process (the webhook threads, the
 * dispatcher, the REST handlers of `loa serve`) that want to write take this mutex before
 * BEGIN IMMEDIATE and give it back when the transaction ends, so a writer waits exactly as
 * long as the one ahead of it instead of sleeping in SQLite's busy handler (steps of up to
 * 100 ms). Another process (the CLI while the daemon runs) still meets the busy handler. The
 * wait is bounded like the busy timeout, so a thread that begins on two connections of the
 * same file gets LOA_EBUSY as it would from SQLite, not a deadlock.
 */
#define WLOCK_TIMEOUT_MS 5000

static pthread_mutex_t wlocks_mu = PTHREAD_MUTEX_INITIALIZER;
static struct loa__wlock *wlocks;

static struct loa__wlock *wlock_get(const char *path)
{
    char *real = realpath(path, NULL);
    const char *key = real ? real : path;
    pthread_mutex_lock(&wlocks_mu);
    struct loa__wlock *w = wlocks;
    while (w && strcmp(w->path, key) != 0)
        w = w->next;
    if (!w) {
        w = loa_calloc(1, sizeof(*w));
        w->path = loa_strdup(key);
        pthread_mutex_init(&w->mu, NULL);
        pthread_mutex_init(&w->gmu, NULL);
        pthread_cond_init(&w->gdone, NULL);
        w->next = wlocks;
        wlocks = w;
    }
    w->refs++;
    pthread_mutex_unlock(&wlocks_mu);
    free(real);
    return w;
}

static void wlock_put(struct loa__wlock *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&wlocks_mu);
    if (--w->refs == 0) {
        struct loa__wlock **pp = &wlocks;
        while (*pp != w)
            pp = &(*pp)->next;
        *pp = w->next;
        pthread_mutex_destroy(&w->mu);
        pthread_mutex_destroy(&w->gmu);
        pthread_cond_destroy(&w->gdone);
        loa_free(w->path);
        loa_free(w);
    }
    pthread_mutex_unlock(&wlocks_mu);
}

static int wlock_take(struct loa_store *st)
{
    if (!st->wlock || st->wlock_held)
        return 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += WLOCK_TIMEOUT_MS / 1000;
    if (pthread_mutex_timedlock(&st->wlock->mu, &ts) != 0) {
        LOA_ERROR("store", "write lock not obtained", "timeout_ms=%d", WLOCK_TIMEOUT_MS);
        return LOA_EBUSY;
    }
    st->wlock_held = true;
    return 0;
}

/* Gives the lock back once the connection is out of its transaction. */
static void wlock_sync(struct loa_store *st)
{
    if (st->wlock_held && sqlite3_get_autocommit(st->db)) {
        st->wlock_held = false;
        pthread_mutex_unlock(&st->wlock->mu);
    }
}

int loa__exec(struct loa_store *st, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(st->db, sql, NULL, NULL, &err) != SQLITE_OK) {
        LOA_ERROR("store", "sqlite exec failed", "error=\"%s\"", err ? err : "?");
        sqlite3_free(err);
        return LOA_ESTORE;
    }
    return 0;
}

sqlite3_stmt *loa__stmt_cached(struct loa_store *st, sqlite3_stmt **slot, const char *sql)
{
    sqlite3_stmt *s = *slot;
    if (!s) {
        if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL) !=
            SQLITE_OK) {
            loa__db_fail(st, sql);
            return NULL;
        }
        return *slot;
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return s;
}

/* The statement for id, reset and with its bindings cleared. */
static sqlite3_stmt *stmt(struct loa_store *st, enum stmt_id id)
{
    const char *sql = st->version >= 3 && stmt_sql_v3[id] ? stmt_sql_v3[id] : stmt_sql[id];
    return loa__stmt_cached(st, &st->stmts[id], sql);
}

/* The statement for id with ?1 = page_ref and ?2 = text bound (borrowed until reset). */
static sqlite3_stmt *stmt_ref_text(struct loa_store *st, enum stmt_id id, int64_t page_ref,
                                   const char *text)
{
    sqlite3_stmt *s = stmt(st, id);
    if (s) {
        sqlite3_bind_int64(s, 1, page_ref);
        sqlite3_bind_text(s, 2, text, -1, SQLITE_STATIC);
    }
    return s;
}

/* Steps s, which returns no rows, and resets it; *changed_out (if not NULL) gets whether it
 * changed any row. Returns 0 or the logged error. */
int loa__step_done(struct loa_store *st, sqlite3_stmt *s, const char *what, bool *changed_out)
{
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : loa__db_fail(st, what);
    sqlite3_reset(s); /* a finished statement (COMMIT above all) must not stay active */
    if (rc == 0 && changed_out)
        *changed_out = sqlite3_changes(st->db) > 0;
    return rc;
}

int loa__step_row(struct loa_store *st, sqlite3_stmt *s, const char *what)
{
    int step = sqlite3_step(s);
    return step == SQLITE_ROW ? 0 : step == SQLITE_DONE ? LOA_ENOENT : loa__db_fail(st, what);
}

int loa__step_end(struct loa_store *st, sqlite3_stmt *s, int step, const char *what)
{
    int rc = step == SQLITE_ROW || step == SQLITE_DONE ? 0 : loa__db_fail(st, what);
    sqlite3_reset(s);
    return rc;
}

int loa__each_pair(struct loa_store *st, sqlite3_stmt *s, int (*fn)(int64_t a, int64_t b, void *ud),
                   void *ud, const char *what)
{
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW)
        if (fn(sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1), ud))
            break;
    return loa__step_end(st, s, step, what);
}

void loa__bind_text(sqlite3_stmt *s, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i);
}

char *loa__col_dup(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? loa_strdup((const char *)t) : NULL;
}

static int get_key_check(struct loa_store *st, bool create)
{
    sqlite3_stmt *s = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key = 'key_check'", -1, &s,
                           NULL) != SQLITE_OK)
        return loa__db_fail(st, "read key check");
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        char *plain = NULL;
        rc = loa__secret_open(st->key, key_check_ad, sqlite3_column_blob(s, 0),
                              (size_t)sqlite3_column_bytes(s, 0), &plain);
        if (rc == 0 && strcmp(plain, key_check_plain) != 0)
            rc = LOA_ECRYPTO;
        loa_free(plain);
    } else if (step == SQLITE_DONE && create) {
        sqlite3_finalize(s);
        s = NULL;
        unsigned char *sealed = NULL;
        size_t len;
        rc = loa__secret_seal(st->key, key_check_ad, key_check_plain, &sealed, &len);
        if (rc == 0 &&
            sqlite3_prepare_v2(st->db, "INSERT INTO meta (key, value) VALUES ('key_check', ?)", -1,
                               &s, NULL) == SQLITE_OK) {
            sqlite3_bind_blob(s, 1, sealed, (int)len, SQLITE_TRANSIENT);
            if (sqlite3_step(s) != SQLITE_DONE)
                rc = loa__db_fail(st, "write key check");
        } else if (rc == 0) {
            rc = loa__db_fail(st, "write key check");
        }
        loa_free(sealed);
    } else if (step != SQLITE_DONE) {
        rc = loa__db_fail(st, "read key check");
    }
    sqlite3_finalize(s);
    return rc;
}

static int migrate(struct loa_store *st, int target, struct loa_diags *diags)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
        return loa__db_fail(st, "read schema version");
    sqlite3_step(s);
    int version = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    if (version > loa_sqlite_latest_version) {
        loa_diags_add(diags, 0, 0, st->path,
                      "store has schema version %d but this loa knows only up to %d; upgrade loa",
                      version, loa_sqlite_latest_version);
        return LOA_EVERSION;
    }
    for (int v = version; v < target; v++) {
        char sql[64];
        int rc = loa__exec(st, "BEGIN IMMEDIATE");
        if (rc == 0)
            rc = loa__exec(st, loa_sqlite_migrations[v]);
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
        if (rc == 0)
            rc = loa__exec(st, sql);
        if (rc == 0)
            rc = loa__exec(st, "COMMIT");
        if (rc < 0) {
            loa__exec(st, "ROLLBACK");
            loa_diags_add(diags, 0, 0, st->path, "schema migration to version %d failed", v + 1);
            return rc;
        }
        if (version > 0)
            LOA_INFO("store", "upgraded schema", "from=%d to=%d", v, v + 1);
    }
    if (version == 0)
        LOA_DEBUG("store", "created schema", "version=%d", target);
    st->version = version > target ? version : target;
    return 0;
}

int loa_store_latest_version(void)
{
    return loa_sqlite_latest_version;
}

int loa__sqlite_schema_version(struct loa_store *st)
{
    return st->version;
}

int loa_store_open(const struct loa_store_opts *opts, struct loa_store **out,
                   struct loa_diags *diags)
{
    *out = NULL;
    struct stat sb;
    bool exists = stat(opts->path, &sb) == 0;
    if (!exists && !opts->create) {
        loa_diags_add(diags, 0, 0, opts->path, "no store here; create one with `loa init`");
        return LOA_ENOENT;
    }
    struct loa_store *st = loa_calloc(1, sizeof(*st));
    st->base.ops = &loa__sqlite_ops;
    st->base.txn.st = st;
    st->path = loa_strdup(opts->path);
    memcpy(st->key, opts->key, sizeof(st->key));
    int flags =
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (opts->create ? SQLITE_OPEN_CREATE : 0);
    int rc = 0;
    if (!exists) {
        /* Created private: it holds customers' phones and emails (issue 16). SQLite gives its
         * WAL and shared-memory files the database file's mode. */
        int fd = open(opts->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0)
            close(fd);
    }
    if (sqlite3_open_v2(opts->path, &st->db, flags, NULL) != SQLITE_OK) {
        loa_diags_add(diags, 0, 0, opts->path, "cannot open store: %s",
                      st->db ? sqlite3_errmsg(st->db) : "out of memory");
        rc = LOA_ESTORE;
        goto out;
    }
    sqlite3_busy_timeout(st->db, 5000);
    if ((rc = loa__register_fold(st)) < 0)
        goto out;
    sqlite3_extended_result_codes(st->db, 0);
    st->wlock = wlock_get(opts->path);
    rc = loa__exec(st, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; "
                       "PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY; "
                       "PRAGMA cache_size = -65536;");
    if (rc < 0) {
        loa_diags_add(diags, 0, 0, opts->path, "not a loa store (or not an SQLite file)");
        goto out;
    }
    if (opts->durable && (rc = loa__exec(st, "PRAGMA synchronous = FULL;")) < 0)
        goto out;
    if (opts->cache_kib > 0) {
        char pragma[64];
        snprintf(pragma, sizeof(pragma), "PRAGMA cache_size = -%d;", opts->cache_kib);
        if ((rc = loa__exec(st, pragma)) < 0)
            goto out;
    }
    int target = opts->target_version > 0 ? opts->target_version : loa_sqlite_latest_version;
    rc = migrate(st, target, diags);
    if (rc < 0)
        goto out;
    rc = get_key_check(st, !exists || opts->create);
    if (rc == LOA_ECRYPTO)
        loa_diags_add(diags, 0, 0, opts->path,
                      "the encryption key does not match this store (check LOA_SECRET_KEY or "
                      "the key file)");
out:
    if (rc < 0) {
        loa_store_close(st);
        return rc;
    }
    *out = st;
    return 0;
}

void loa__sqlite_close(struct loa_store *st)
{
    if (!st)
        return;
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(st->stmts[i]);
    for (int i = 0; i < LOA__XSTMT_MAX; i++)
        sqlite3_finalize(st->xstmts[i]);
    sqlite3_close(st->db);
    if (st->wlock_held)
        pthread_mutex_unlock(&st->wlock->mu);
    wlock_put(st->wlock);
    sodium_memzero(st->key, sizeof(st->key));
    loa_free(st->path);
    loa_free(st);
}

/* Runs a cached statement without results. */
static int run(struct loa_store *st, enum stmt_id id, const char *what)
{
    sqlite3_stmt *s = stmt(st, id);
    return s ? loa__step_done(st, s, what, NULL) : LOA_ESTORE;
}

/*
 * The store's transaction is a state of its connection: struct loa_txn is embedded in it
 * (st->base.txn, ops.h) and handed out while open; a second begin is refused, not nested.
 */
int loa__sqlite_begin(struct loa_store *st, struct loa_txn **out)
{
    *out = NULL;
    if (st->base.txn.open) {
        LOA_ERROR("store", "begin refused", "reason=%s", "a transaction is open on this store");
        return LOA_EBUSY;
    }
    int rc = wlock_take(st);
    if (rc < 0)
        return rc;
    rc = run(st, S_BEGIN, "begin");
    wlock_sync(st);
    if (rc < 0)
        return rc;
    st->base.txn.open = true;
    *out = &st->base.txn;
    return 0;
}

/* Ends the transaction: ROLLBACK unless SQLite already did (an error that undoes it all). */
static int end_rollback(struct loa_store *st)
{
    int rc = sqlite3_get_autocommit(st->db) ? 0 : loa__exec(st, "ROLLBACK");
    st->base.txn.open = false;
    wlock_sync(st);
    return rc;
}

int loa__sqlite_commit(struct loa_txn *tx)
{
    struct loa_store *st = tx->st;
    int rc = run(st, S_COMMIT, "commit");
    if (rc < 0)
        return end_rollback(st), rc;
    st->base.txn.open = false;
    wlock_sync(st);
    return 0;
}

int loa__sqlite_rollback(struct loa_txn *tx)
{
    return end_rollback(tx->st);
}

int loa__sqlite_savepoint(struct loa_txn *tx)
{
    return run(tx->st, S_SAVEPOINT, "savepoint");
}

int loa__sqlite_savepoint_release(struct loa_txn *tx)
{
    return run(tx->st, S_RELEASE, "release savepoint");
}

int loa__sqlite_savepoint_rollback(struct loa_txn *tx)
{
    return loa__exec(tx->st, "ROLLBACK TO loa_step; RELEASE loa_step");
}

int loa__op_begin(struct loa_store *st)
{
    return run(st, S_OP_SAVEPOINT, "savepoint");
}

int loa__op_end(struct loa_store *st, int rc)
{
    if (rc >= 0) {
        int r = run(st, S_OP_RELEASE, "release savepoint");
        return r < 0 ? r : rc;
    }
    /* An error that made SQLite undo the whole transaction left no savepoint to go back to. */
    if (!sqlite3_get_autocommit(st->db))
        loa__exec(st, "ROLLBACK TO loa_op; RELEASE loa_op");
    return rc;
}

/* ---- Pages ------------------------------------------------------------------------------- */

static void read_page(sqlite3_stmt *s, struct loa_page *p)
{
    p->id = sqlite3_column_int64(s, 0);
    p->page_id = loa__col_dup(s, 1);
    p->name = loa__col_dup(s, 2);
    p->timezone = loa__col_dup(s, 3);
    p->activated_at = sqlite3_column_int64(s, 4);
    p->daily_cap = sqlite3_column_int64(s, 5);
    p->plan_quota = sqlite3_column_int64(s, 6);
    p->created_at = sqlite3_column_int64(s, 7);
    p->has_token = sqlite3_column_int(s, 8) != 0;
    p->has_app_secret = sqlite3_column_int(s, 9) != 0;
    p->send_rate = sqlite3_column_count(s) > 10 ? sqlite3_column_int64(s, 10) : 0;
}

void loa_page_release(struct loa_page *p)
{
    LOA_FREE(p->page_id);
    LOA_FREE(p->name);
    LOA_FREE(p->timezone);
}

/* The S_PAGE_SET_* statement id with ?2 = page_id bound; the caller binds ?1. */
static sqlite3_stmt *page_set_stmt(struct loa_store *st, enum stmt_id id, const char *page_id)
{
    sqlite3_stmt *s = stmt(st, id);
    if (s)
        sqlite3_bind_text(s, 2, page_id, -1, SQLITE_STATIC);
    return s;
}

static int set_page_secret(struct loa_store *st, const char *page_id, enum stmt_id id,
                           const char *value)
{
    unsigned char *sealed;
    size_t len;
    int rc = loa__secret_seal(st->key, page_id, value, &sealed, &len);
    if (rc < 0)
        return rc;
    sqlite3_stmt *s = page_set_stmt(st, id, page_id);
    if (!s) {
        rc = LOA_ESTORE;
    } else {
        sqlite3_bind_blob(s, 1, sealed, (int)len, SQLITE_STATIC);
        rc = loa__step_done(st, s, "update page secret", NULL);
        sqlite3_clear_bindings(s); /* sealed is freed below */
    }
    sodium_memzero(sealed, len);
    loa_free(sealed);
    return rc;
}

/* Sets one column of a Page to text, or to num when text is NULL. */
static int update_page_field(struct loa_store *st, const char *page_id, enum stmt_id id,
                             const char *text, int64_t num)
{
    sqlite3_stmt *s = page_set_stmt(st, id, page_id);
    if (!s)
        return LOA_ESTORE;
    if (text)
        sqlite3_bind_text(s, 1, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(s, 1, num);
    return loa__step_done(st, s, "update page", NULL);
}

static int page_put_op(struct loa_store *st, const struct loa_page_input *in, int64_t now,
                       bool *created_out)
{
    if (!in->page_id || !*in->page_id)
        return LOA_EINVAL;
    struct loa_page existing;
    int rc = loa_store_page_get(st, in->page_id, &existing);
    bool created = rc == LOA_ENOENT;
    if (rc < 0 && !created)
        goto out; /* a failed look-up is not "exists": updating nothing would report success */
    rc = 0;
    if (created) {
        sqlite3_stmt *s = stmt(st, S_PAGE_INSERT);
        if (!s) {
            rc = LOA_ESTORE;
            goto out;
        }
        sqlite3_bind_text(s, 1, in->page_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, in->name ? in->name : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, in->timezone ? in->timezone : "Asia/Ho_Chi_Minh", -1,
                          SQLITE_STATIC);
        sqlite3_bind_int64(s, 4, in->activated_at > 0 ? in->activated_at : now);
        sqlite3_bind_int64(s, 5, in->daily_cap > 0 ? in->daily_cap : 5000);
        sqlite3_bind_int64(s, 6, in->plan_quota >= 0 ? in->plan_quota : 0);
        sqlite3_bind_int64(s, 7, now);
        if ((rc = loa__step_done(st, s, "insert page", NULL)) < 0)
            goto out;
    } else {
        loa_page_release(&existing);
        const char *id = in->page_id;
        if (in->name && (rc = update_page_field(st, id, S_PAGE_SET_NAME, in->name, 0)) < 0)
            goto out;
        if (in->timezone &&
            (rc = update_page_field(st, id, S_PAGE_SET_TIMEZONE, in->timezone, 0)) < 0)
            goto out;
        if (in->activated_at > 0 &&
            (rc = update_page_field(st, id, S_PAGE_SET_ACTIVATED_AT, NULL, in->activated_at)) < 0)
            goto out;
        if (in->daily_cap > 0 &&
            (rc = update_page_field(st, id, S_PAGE_SET_DAILY_CAP, NULL, in->daily_cap)) < 0)
            goto out;
        if (in->plan_quota >= 0 &&
            (rc = update_page_field(st, id, S_PAGE_SET_PLAN_QUOTA, NULL, in->plan_quota)) < 0)
            goto out;
    }
    if (in->send_rate > 0 && st->version >= 3 &&
        (rc = update_page_field(st, in->page_id, S_PAGE_SET_SEND_RATE, NULL, in->send_rate)) < 0)
        goto out;
    if (in->access_token &&
        (rc = set_page_secret(st, in->page_id, S_PAGE_SET_TOKEN, in->access_token)))
        goto out;
    if (in->access_token && st->version >= 9) {
        /* A new token lifts the stop that Graph's refusal of the old one put on the Page. */
        sqlite3_stmt *s;
        if ((rc = loa__prepare(st,
                               "UPDATE page_pacing SET stopped_at = 0 WHERE page_ref ="
                               " (SELECT id FROM pages WHERE page_id = ?)",
                               &s)) < 0)
            goto out;
        sqlite3_bind_text(s, 1, in->page_id, -1, SQLITE_STATIC);
        rc = sqlite3_step(s) == SQLITE_DONE ? 0 : loa__db_fail(st, "lift the Page's stop");
        sqlite3_finalize(s);
        if (rc < 0)
            goto out;
    }
    if (in->app_secret &&
        (rc = set_page_secret(st, in->page_id, S_PAGE_SET_APP_SECRET, in->app_secret)))
        goto out;
out:
    if (rc == 0 && created_out)
        *created_out = created;
    return rc;
}

int loa__sqlite_page_put(struct loa_txn *tx, const struct loa_page_input *in, int64_t now,
                         bool *created_out)
{
    int rc = loa__op_begin(tx->st);
    return rc < 0 ? rc : loa__op_end(tx->st, page_put_op(tx->st, in, now, created_out));
}

static int page_get(struct loa_store *st, sqlite3_stmt *s, struct loa_page *out)
{
    if (!s)
        return LOA_ESTORE;
    int step = sqlite3_step(s);
    if (step == SQLITE_DONE) {
        sqlite3_reset(s);
        return LOA_ENOENT;
    }
    if (step != SQLITE_ROW)
        return loa__db_fail(st, "get page");
    read_page(s, out);
    sqlite3_reset(s);
    return 0;
}

int loa__sqlite_page_get(struct loa_store *st, const char *page_id, struct loa_page *out)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *s = stmt(st, S_PAGE_GET);
    if (s)
        sqlite3_bind_text(s, 1, page_id, -1, SQLITE_STATIC);
    return page_get(st, s, out);
}

int loa__sqlite_page_get_ref(struct loa_store *st, int64_t ref, struct loa_page *out)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *s = stmt(st, S_PAGE_GET_REF);
    if (s)
        sqlite3_bind_int64(s, 1, ref);
    return page_get(st, s, out);
}

int loa__sqlite_page_list(struct loa_store *st, int (*fn)(const struct loa_page *p, void *ud),
                          void *ud)
{
    sqlite3_stmt *s = stmt(st, S_PAGE_LIST);
    if (!s)
        return LOA_ESTORE;
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct loa_page p;
        read_page(s, &p);
        int stop = fn(&p, ud);
        loa_page_release(&p);
        if (stop)
            break;
    }
    int rc = step == SQLITE_ROW || step == SQLITE_DONE ? 0 : loa__db_fail(st, "list pages");
    sqlite3_reset(s);
    return rc;
}

int loa__sqlite_page_secrets(struct loa_store *st, const char *page_id, char **token_out,
                             char **app_secret_out)
{
    if (token_out)
        *token_out = NULL;
    if (app_secret_out)
        *app_secret_out = NULL;
    sqlite3_stmt *s = stmt(st, S_PAGE_SECRETS);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_text(s, 1, page_id, -1, SQLITE_STATIC);
    int step = sqlite3_step(s);
    if (step == SQLITE_DONE)
        return LOA_ENOENT;
    if (step != SQLITE_ROW)
        return loa__db_fail(st, "get page secrets");
    int rc = 0;
    char **outs[2] = { token_out, app_secret_out };
    for (int i = 0; i < 2 && rc == 0; i++) {
        if (outs[i] && sqlite3_column_type(s, i) != SQLITE_NULL)
            rc = loa__secret_open(st->key, page_id, sqlite3_column_blob(s, i),
                                  (size_t)sqlite3_column_bytes(s, i), outs[i]);
    }
    sqlite3_reset(s);
    if (rc < 0)
        LOA_ERROR("store", "cannot decrypt page secret", "page=%s", page_id);
    return rc;
}

/* ---- Subscribers ------------------------------------------------------------------------- */

void loa_subscriber_release(struct loa_subscriber *s)
{
    LOA_FREE(s->psid);
    LOA_FREE(s->first_name);
    LOA_FREE(s->last_name);
    LOA_FREE(s->gender);
    LOA_FREE(s->locale);
    LOA_FREE(s->phone);
    LOA_FREE(s->email);
    LOA_FREE(s->last_interaction_kind);
    LOA_FREE(s->unreachable_reason);
    LOA_FREE(s->attrs);
}

void loa__read_subscriber(sqlite3_stmt *s, struct loa_subscriber *o)
{
    o->id = sqlite3_column_int64(s, 0);
    o->page_ref = sqlite3_column_int64(s, 1);
    o->psid = loa__col_dup(s, 2);
    o->first_name = loa__col_dup(s, 3);
    o->last_name = loa__col_dup(s, 4);
    o->gender = loa__col_dup(s, 5);
    o->locale = loa__col_dup(s, 6);
    o->utc_offset_min = sqlite3_column_type(s, 7) == SQLITE_NULL
                            ? LOA_UTC_OFFSET_UNKNOWN
                            : (int32_t)sqlite3_column_int(s, 7);
    o->phone = loa__col_dup(s, 8);
    o->email = loa__col_dup(s, 9);
    o->first_seen_at = sqlite3_column_int64(s, 10);
    o->last_interaction_at = sqlite3_column_int64(s, 11);
    o->last_interaction_kind = loa__col_dup(s, 12);
    o->unreachable = sqlite3_column_int(s, 13) != 0;
    o->unreachable_reason = loa__col_dup(s, 14);
    o->attrs = loa__col_dup(s, 15);
    o->created_at = sqlite3_column_int64(s, 16);
    o->updated_at = sqlite3_column_int64(s, 17);
    if (sqlite3_column_count(s) > 20) {
        o->ad_referral_at = sqlite3_column_int64(s, 18);
        o->first_after_ctm_ad = sqlite3_column_int(s, 19) != 0;
        o->profile_fetched_at = sqlite3_column_int64(s, 20);
    }
}

/* Looks a subscriber up with one of the S_SUB_BY_* statements; 1 found, 0 not, < 0 error. */
static int find_subscriber(struct loa_store *st, enum stmt_id id, int64_t page_ref,
                           const char *value, struct loa_subscriber *out)
{
    sqlite3_stmt *s = stmt_ref_text(st, id, page_ref, value);
    if (!s)
        return LOA_ESTORE;
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        loa__read_subscriber(s, out);
        sqlite3_reset(s);
        return 1;
    }
    sqlite3_reset(s);
    return step == SQLITE_DONE ? 0 : loa__db_fail(st, "find subscriber");
}

/* Merges the JSON object text add into base; returns new text (caller frees) or NULL if bad. */
static char *merge_attrs(const char *base, const char *add)
{
    json_error_t err;
    json_t *b = json_loads(base && *base ? base : "{}", 0, &err);
    json_t *a = add ? json_loads(add, 0, &err) : NULL;
    char *out = NULL;
    if (b && json_is_object(b) && (!add || (a && json_is_object(a)))) {
        if (a)
            json_object_update(b, a);
        char *dumped = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
        if (dumped) {
            out = loa_strdup(dumped);
            free(dumped); /* allocated by jansson with malloc */
        }
    }
    json_decref(a);
    json_decref(b);
    return out;
}

static bool str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void bind_subscriber(sqlite3_stmt *s, const struct loa_subscriber *v, int first)
{
    loa__bind_text(s, first, v->psid);
    loa__bind_text(s, first + 1, v->first_name);
    loa__bind_text(s, first + 2, v->last_name);
    loa__bind_text(s, first + 3, v->gender);
    loa__bind_text(s, first + 4, v->locale);
    if (v->utc_offset_min == LOA_UTC_OFFSET_UNKNOWN)
        sqlite3_bind_null(s, first + 5);
    else
        sqlite3_bind_int(s, first + 5, v->utc_offset_min);
    loa__bind_text(s, first + 6, v->phone);
    loa__bind_text(s, first + 7, v->email);
    sqlite3_bind_int64(s, first + 8, v->first_seen_at);
    sqlite3_bind_int64(s, first + 9, v->last_interaction_at);
    loa__bind_text(s, first + 10, v->last_interaction_kind);
    sqlite3_bind_int(s, first + 11, v->unreachable);
    loa__bind_text(s, first + 12, v->unreachable_reason);
    loa__bind_text(s, first + 13, v->attrs ? v->attrs : "{}");
}

#define TAKE(field)                                     \
    do {                                                \
        if (in->field && !str_eq(in->field, m.field)) { \
            loa_free(m.field);                          \
            m.field = loa_strdup(in->field);            \
            changed = true;                             \
        }                                               \
    } while (0)

int loa__sqlite_subscriber_upsert(struct loa_txn *tx, const struct loa_subscriber *in,
                                  unsigned flags, int64_t now, enum loa_upsert_result *result_out,
                                  int64_t *id_out)
{
    struct loa_store *st = tx->st;
    struct loa_subscriber m = { 0 };
    int found = 0;
    if (in->psid)
        found = find_subscriber(st, S_SUB_BY_PSID, in->page_ref, in->psid, &m);
    if (found == 0 && in->phone && !(in->psid && (flags & LOA_UPSERT_NO_CONTACTS)))
        found = find_subscriber(st, in->psid ? S_SUB_BY_PHONE_NO_PSID : S_SUB_BY_PHONE,
                                in->page_ref, in->phone, &m);
    if (found < 0)
        return found;
    int rc = 0;
    if (!found) {
        /* attrs is canonical by contract (see store.h); the table's CHECK rejects non-JSON. */
        char *attrs = loa_strdup(in->attrs ? in->attrs : "{}");
        struct loa_subscriber v = *in;
        v.attrs = attrs;
        sqlite3_stmt *s = stmt(st, S_SUB_INSERT);
        if (!s) {
            loa_free(attrs);
            return LOA_ESTORE;
        }
        sqlite3_bind_int64(s, 1, in->page_ref);
        bind_subscriber(s, &v, 2);
        sqlite3_bind_int64(s, 16, now);
        sqlite3_bind_int64(s, 17, now);
        rc = loa__step_done(st, s, "insert subscriber", NULL);
        loa_free(attrs);
        if (rc == 0) {
            *id_out = sqlite3_last_insert_rowid(st->db);
            *result_out = LOA_UPSERT_INSERTED;
        }
        return rc;
    }
    bool changed = false;
    TAKE(psid);
    TAKE(first_name);
    TAKE(last_name);
    TAKE(gender);
    TAKE(locale);
    TAKE(phone);
    TAKE(email);
    TAKE(last_interaction_kind);
    TAKE(unreachable_reason);
    if (in->utc_offset_min != LOA_UTC_OFFSET_UNKNOWN && in->utc_offset_min != m.utc_offset_min) {
        m.utc_offset_min = in->utc_offset_min;
        changed = true;
    }
    if (in->first_seen_at && (!m.first_seen_at || in->first_seen_at < m.first_seen_at)) {
        m.first_seen_at = in->first_seen_at; /* first seen only moves earlier */
        changed = true;
    }
    if (in->last_interaction_at > m.last_interaction_at) {
        m.last_interaction_at = in->last_interaction_at; /* last interaction only moves later */
        changed = true;
    }
    if (in->unreachable && !m.unreachable) {
        m.unreachable = true;
        changed = true;
    }
    if (in->attrs) {
        char *merged = merge_attrs(m.attrs, in->attrs);
        if (!merged) {
            loa_subscriber_release(&m);
            return LOA_EINVAL;
        }
        if (!str_eq(merged, m.attrs)) {
            loa_free(m.attrs);
            m.attrs = merged;
            changed = true;
        } else {
            loa_free(merged);
        }
    }
    *id_out = m.id;
    *result_out = changed ? LOA_UPSERT_UPDATED : LOA_UPSERT_UNCHANGED;
    if (changed) {
        sqlite3_stmt *s = stmt(st, S_SUB_UPDATE);
        if (!s) {
            rc = LOA_ESTORE;
        } else {
            sqlite3_bind_int64(s, 1, m.id);
            bind_subscriber(s, &m, 2);
            sqlite3_bind_int64(s, 16, now);
            rc = loa__step_done(st, s, "update subscriber", NULL);
        }
    }
    loa_subscriber_release(&m);
    return rc;
}

#undef TAKE

int loa__sqlite_subscriber_find(struct loa_store *st, int64_t page_ref, const char *psid,
                                struct loa_subscriber *out)
{
    memset(out, 0, sizeof(*out));
    int found = find_subscriber(st, S_SUB_BY_PSID, page_ref, psid, out);
    return found < 0 ? found : found ? 0 : LOA_ENOENT;
}

int loa__sqlite_subscriber_list(struct loa_store *st, const struct loa_subscriber_query *q,
                                int (*fn)(const struct loa_subscriber *s, void *ud), void *ud)
{
    char sql[1536];
    snprintf(sql, sizeof(sql),
             "SELECT %s FROM subscribers s WHERE id > ?1 "
             "AND (?2 = 0 OR page_ref = ?2) "
             "%s%s%s ORDER BY id LIMIT ?4",
             st->version >= 3 ? SUB_COLUMNS_V3 : SUB_COLUMNS,
             !q->tag ? ""
             : st->version >= LOA__SCHEMA_TAG_KEYS
                 ? "AND EXISTS (SELECT 1 FROM subscriber_tags st JOIN tags t ON t.id = "
                   "st.tag_id WHERE st.subscriber_id = s.id AND t.key = loa_fold(?3)) "
                 : "AND EXISTS (SELECT 1 FROM subscriber_tags st JOIN tags t ON t.id = "
                   "st.tag_id WHERE st.subscriber_id = s.id AND t.name = ?3) ",
             q->has_phone > 0   ? "AND phone IS NOT NULL "
             : q->has_phone < 0 ? "AND phone IS NULL "
                                : "",
             /* loa_fold: case and Unicode form ignored, Vietnamese letters included */
             q->q
                 ? "AND (instr(loa_fold(coalesce(first_name, '') || ' ' || coalesce(last_name, '') "
                   "|| ' ' || coalesce(phone, '') || ' ' || coalesce(email, '') || ' ' || "
                   "coalesce(psid, '')), loa_fold(?5)) > 0) "
                 : "");
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
        return loa__db_fail(st, "prepare subscriber list");
    sqlite3_bind_int64(s, 1, q->after_id);
    sqlite3_bind_int64(s, 2, q->page_ref);
    if (q->tag)
        sqlite3_bind_text(s, 3, q->tag, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, q->limit > 0 ? q->limit : -1);
    if (q->q)
        sqlite3_bind_text(s, 5, q->q, -1, SQLITE_STATIC);
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct loa_subscriber sub;
        loa__read_subscriber(s, &sub);
        int stop = fn(&sub, ud);
        loa_subscriber_release(&sub);
        if (stop)
            break;
    }
    int rc = step == SQLITE_ROW || step == SQLITE_DONE ? 0 : loa__db_fail(st, "list subscribers");
    sqlite3_finalize(s);
    return rc;
}

static int count_one(struct loa_store *st, enum stmt_id id, int64_t arg, bool bind,
                     int64_t *count_out)
{
    sqlite3_stmt *s = stmt(st, id);
    if (!s)
        return LOA_ESTORE;
    if (bind)
        sqlite3_bind_int64(s, 1, arg);
    if (sqlite3_step(s) != SQLITE_ROW)
        return loa__db_fail(st, "count");
    *count_out = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return 0;
}

int loa__sqlite_subscriber_count(struct loa_store *st, int64_t page_ref, int64_t *count_out)
{
    return page_ref ? count_one(st, S_SUB_COUNT_PAGE, page_ref, true, count_out)
                    : count_one(st, S_SUB_COUNT_ALL, 0, false, count_out);
}

int loa__sqlite_contacts_count(struct loa_store *st, int64_t page_ref, int64_t *count_out)
{
    return count_one(st, S_SUB_COUNT_CONTACTS, page_ref, true, count_out);
}

int loa__sqlite_subscriber_tags(struct loa_store *st, int64_t subscriber_id, char **out)
{
    sqlite3_stmt *s = stmt(st, S_SUB_TAGS);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, subscriber_id);
    struct loa_buf b;
    loa_buf_init(&b, SIZE_MAX / 2);
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        if (b.len)
            loa_buf_putc(&b, ',');
        loa_buf_puts(&b, (const char *)sqlite3_column_text(s, 0));
    }
    sqlite3_reset(s);
    if (step != SQLITE_DONE) {
        loa_buf_release(&b);
        return loa__db_fail(st, "subscriber tags");
    }
    *out = loa_buf_detach(&b);
    return 0;
}

/* ---- Tags and lists ---------------------------------------------------------------------- */

/* Finds (page_ref, name) with get, or creates it with insert (extra = created_at or -1). */
static int ensure_named(struct loa_store *st, enum stmt_id get, enum stmt_id insert,
                        int64_t page_ref, const char *name, int64_t extra, int64_t *id_out)
{
    sqlite3_stmt *s = stmt_ref_text(st, get, page_ref, name);
    if (!s)
        return LOA_ESTORE;
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        *id_out = sqlite3_column_int64(s, 0);
        sqlite3_reset(s);
        return 0;
    }
    sqlite3_reset(s);
    if (step != SQLITE_DONE)
        return loa__db_fail(st, "find by name");
    s = stmt_ref_text(st, insert, page_ref, name);
    if (!s)
        return LOA_ESTORE;
    if (extra >= 0)
        sqlite3_bind_int64(s, 3, extra);
    int rc = loa__step_done(st, s, "insert by name", NULL);
    if (rc == 0)
        *id_out = sqlite3_last_insert_rowid(st->db);
    return rc;
}

int loa__exec_pair(struct loa_store *st, sqlite3_stmt *s, int64_t a, int64_t b, const char *what,
                   bool *changed_out)
{
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_int64(s, 1, a);
    sqlite3_bind_int64(s, 2, b);
    return loa__step_done(st, s, what, changed_out);
}

int loa__sqlite_list_ensure(struct loa_txn *tx, int64_t page_ref, const char *name, int64_t now,
                            int64_t *id_out)
{
    struct loa_store *st = tx->st;
    return ensure_named(st, S_LIST_GET, S_LIST_INSERT, page_ref, name, now, id_out);
}

int loa__sqlite_list_add(struct loa_txn *tx, int64_t list_id, int64_t subscriber_id)
{
    struct loa_store *st = tx->st;
    return loa__exec_pair(st, stmt(st, S_LIST_ADD), list_id, subscriber_id, "add list member",
                          NULL);
}

int loa__sqlite_list_count(struct loa_store *st, int64_t list_id, int64_t *count_out)
{
    return count_one(st, S_LIST_COUNT, list_id, true, count_out);
}
