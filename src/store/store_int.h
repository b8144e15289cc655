/* SPDX-License-Identifier: MIT */
/*
 * Private to src/store: the definition of struct loa_store and the helpers that the backend's
 * files share (sqlite.c: Pages, subscribers, lists; sqlite_tags.c: tags; sqlite_intake.c: webhook
 * events, conversations, notification tokens; sqlite_keys.c: API keys; sqlite_campaign.c:
 * campaigns, deliveries, the send ledger).
 *
 * Threading: a struct loa_store belongs to one thread at a time (SQLITE_OPEN_NOMUTEX).
 */
#ifndef LOA_STORE_STORE_INT_H
#define LOA_STORE_STORE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <sqlite3.h>

#include <loa/store.h>

#include "ops.h"

#define LOA__STMT_MAX  48  /* statements of sqlite.c */
#define LOA__XSTMT_MAX 164 /* statements of the other files, slots assigned in each file */

/* Statement slots of sqlite_intake.c [0, 32), sqlite_keys.c [32, 48), sqlite_campaign.c
   [48, 80), sqlite_sequence.c [80, 120), sqlite_reply.c [120, 132), sqlite_users.c [132, 148),
   sqlite_tags.c [148, 164). */
#define LOA__XSTMT_INTAKE   0
#define LOA__XSTMT_KEYS     32
#define LOA__XSTMT_CAMPAIGN 48
#define LOA__XSTMT_SEQUENCE 80
#define LOA__XSTMT_REPLY    120
#define LOA__XSTMT_USERS    132
#define LOA__XSTMT_TAGS     148

/*
 * The schema version from which tags have a key (tags.key = loa_fold(name), unique per Page):
 * tags compare without regard to case and Unicode form. Stores opened at an older version (the
 * migration tests) compare names exactly. Keep equal to the number of the migration that adds
 * the column (src/store/schema.c).
 */
#define LOA__SCHEMA_TAG_KEYS 11

/* A group commit's job: one caller's function, run by the group's leader (sqlite_group.c). */
struct loa__gjob {
    int (*fn)(struct loa_txn *tx, void *ud);
    void *ud;
    int rc;
    bool done;
    struct loa__gjob *next;
};

/* What the connections of one store file share in this process (sqlite.c keeps a registry). */
struct loa__wlock {
    struct loa__wlock *next;
    char *path;
    int refs;
    pthread_mutex_t mu;      /* held by the connection in a write transaction */
    pthread_mutex_t gmu;     /* guards the group commit's queue and leader flag */
    pthread_cond_t gdone;    /* broadcast when a group is committed */
    struct loa__gjob *queue; /* jobs waiting for the next group, oldest first */
    bool gbusy;              /* a leader is writing a group */
};

struct loa_store {
    struct loa__store_base base;            /* first: the SQLite backend's table and the
                                               store's transaction (ops.h) */
    sqlite3 *db;                            /* the connection (owned) */
    char *path;                             /* the file (owned) */
    unsigned char key[LOA_STORE_KEY_BYTES]; /* encryption key of secrets at rest */
    sqlite3_stmt *stmts[LOA__STMT_MAX];     /* prepared once, by enum stmt_id of sqlite.c */
    sqlite3_stmt *xstmts[LOA__XSTMT_MAX];   /* prepared once, slots above */
    int version;                            /* schema version */
    struct loa__wlock *wlock;               /* the file's in-process write lock (shared) */
    bool wlock_held;                        /* this connection holds it */
};

extern const char *const loa_sqlite_migrations[];
extern const int loa_sqlite_latest_version;

/*
 * One call's writes as a step of the open transaction (a savepoint, "loa_op", that nests in
 * the caller's own loa_store_savepoint() and in another call's): loa__op_begin() opens it,
 * loa__op_end(st, rc) releases it when rc >= 0, else rolls back to it, so a failed call leaves
 * the transaction as it found it. loa__op_end returns rc (or the release's error).
 */
int loa__op_begin(struct loa_store *st);
int loa__op_end(struct loa_store *st, int rc);

/*
 * Registers the application's SQL functions on a new connection: loa_fold(text), the
 * comparison key of a name (loa_text_fold(): case and Unicode form ignored), which the tag
 * migration and the tag statements use. Returns 0 or LOA_ESTORE.
 */
int loa__register_fold(struct loa_store *st);

/* Logs a SQLite failure once, where it is seen, and maps it to a loa error. */
int loa__db_fail(struct loa_store *st, const char *what);
/* Runs SQL without results. Returns 0 or LOA_ESTORE (logged). */
int loa__exec(struct loa_store *st, const char *sql);
/* Prepares a one-off statement (finalize it yourself); *out is NULL on failure. */
int loa__prepare(struct loa_store *st, const char *sql, sqlite3_stmt **out);
/* The statement cached in *slot (prepared on first use), reset, bindings cleared; NULL on error. */
sqlite3_stmt *loa__stmt_cached(struct loa_store *st, sqlite3_stmt **slot, const char *sql);
/*
 * Steps a statement that returns no row and resets it; *changed_out (may be NULL): a row
 * changed. Returns 0 or the mapped error (logged with what).
 */
int loa__step_done(struct loa_store *st, sqlite3_stmt *s, const char *what, bool *changed_out);
/*
 * Binds ?1 = a and ?2 = b to s (may be NULL: LOA_ESTORE) and steps it as loa__step_done()
 * does: for the statements that change one (id, id) pair (tags, list members).
 */
int loa__exec_pair(struct loa_store *st, sqlite3_stmt *s, int64_t a, int64_t b, const char *what,
                   bool *changed_out);
/*
 * Steps a statement that reads one row: 0 with the row ready to read (reset s afterwards),
 * LOA_ENOENT when there is none, else the mapped error (logged with what).
 */
int loa__step_row(struct loa_store *st, sqlite3_stmt *s, const char *what);
/*
 * Ends a loop over rows (step: the last sqlite3_step() result; SQLITE_ROW when the caller
 * stopped early) and resets s. Returns 0 or the mapped error (logged with what).
 */
int loa__step_end(struct loa_store *st, sqlite3_stmt *s, int step, const char *what);
/* Calls fn(column 0, column 1, ud) for each row of s (two integers) until fn returns non-zero. */
int loa__each_pair(struct loa_store *st, sqlite3_stmt *s, int (*fn)(int64_t a, int64_t b, void *ud),
                   void *ud, const char *what);
/* Binds text, or NULL when v is NULL (borrowed until the statement is reset). */
void loa__bind_text(sqlite3_stmt *s, int i, const char *v);
/* A copy of a text column, or NULL. */
char *loa__col_dup(sqlite3_stmt *s, int i);
/* Reads a row selected with SUB_COLUMNS (18 columns, or 21 from schema version 3) into *o. */
void loa__read_subscriber(sqlite3_stmt *s, struct loa_subscriber *o);

/* Secrets at rest: XChaCha20-Poly1305, nonce || ciphertext, the Page id as associated data. */
int loa__secret_seal(const unsigned char *key, const char *ad, const char *plain,
                     unsigned char **out, size_t *out_len);
int loa__secret_open(const unsigned char *key, const char *ad, const unsigned char *sealed,
                     size_t sealed_len, char **plain_out);
/*
 * Keyed BLAKE2b-256 of data under a subkey of the store key derived for purpose (8 chars, such
 * as "apikeys_"): a lookup hash for secrets that must be found again (API keys, tokens).
 */
int loa__secret_hash(const unsigned char *key, const char *purpose, const void *data, size_t len,
                     unsigned char out[32]);

#endif /* LOA_STORE_STORE_INT_H */
