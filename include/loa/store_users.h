/* SPDX-License-Identifier: MIT */
/*
 * The store: console users, their sessions and the sign-in failures counted per login.
 * Part of the store interface (include/loa/store.h, which includes it); ownership and threading as
 * said there.
 *
 * Passwords arrive here already hashed (Argon2id strings made by the caller with libsodium's
 * crypto_pwhash_str); session tokens arrive as the caller's random token and only their keyed
 * hash (under a subkey of the store key) is stored, so a copy of the database cannot be used
 * to sign in. Strings in the structs below are owned by the struct (release them).
 */
#ifndef LOA_STORE_USERS_H
#define LOA_STORE_USERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loa_store;
struct loa_txn;

/* ---- Users ----------------------------------------------------------------------------- */

enum loa_user_role {
    LOA_USER_STAFF = 1, /* only the Pages given; no secrets */
    LOA_USER_ADMIN = 2, /* every Page, like an admin API key */
    LOA_USER_OWNER = 3, /* as admin; the owner of the install */
};

/** "owner" / "admin" / "staff" ("none" for anything else). */
const char *loa_user_role_name(enum loa_user_role r);
/** Parses "owner", "admin" or "staff". Returns 0 or LOA_EINVAL. */
int loa_user_role_parse(const char *s, enum loa_user_role *out);

struct loa_user {
    int64_t id;
    char *login;
    enum loa_user_role role;
    char *lang;   /* "vi" or "en" */
    char **pages; /* Facebook Page ids a staff user may see (owned) */
    size_t npages;
    int64_t created_at;
    int64_t password_at; /* when the password was last set */
};

void loa_user_release(struct loa_user *u);

/**
 * Adds a user with an Argon2id hash (pw_hash) and, for staff, the Pages given (Facebook ids;
 * the caller checks they exist). LOA_EEXIST when the login is taken (case-insensitive).
 */
int loa_store_user_add(struct loa_txn *tx, const char *login, enum loa_user_role role,
                       const char *pw_hash, const char *const *pages, size_t npages, int64_t now,
                       int64_t *id_out);
/** Replaces the password hash and ends every session of the user. LOA_ENOENT when none. */
int loa_store_user_set_password(struct loa_txn *tx, const char *login, const char *pw_hash,
                                int64_t now);
/** Removes the user and their sessions. LOA_ENOENT when none. */
int loa_store_user_remove(struct loa_txn *tx, const char *login);
/**
 * The user of this login (case-insensitive), and (when pw_hash_out is not NULL) their password
 * hash, which the caller frees. LOA_ENOENT when none.
 */
int loa_store_user_get(struct loa_store *st, const char *login, struct loa_user *out,
                       char **pw_hash_out);
/** Calls fn for each user by login (stops when fn returns non-zero). */
int loa_store_user_list(struct loa_store *st, int (*fn)(const struct loa_user *u, void *ud),
                        void *ud);

/* ---- Sign-in failures (per login, known or not: a guess at an unknown login counts too) -- */

struct loa_signin_state {
    int64_t failures;     /* failures in a row since the last success or lock */
    int64_t last_at;      /* the last failure (ms), 0 none */
    int64_t locked_until; /* ms; 0 = not locked */
};

/** The login's failure record; all zero when there is none. */
int loa_store_signin_state(struct loa_store *st, const char *login, struct loa_signin_state *out);
/**
 * Counts one failure at now; when the count reaches lock_after, locks the login until
 * now + lock_ms and restarts the count. *out gets the record as written.
 */
int loa_store_signin_failed(struct loa_txn *tx, const char *login, int64_t now, int64_t lock_after,
                            int64_t lock_ms, struct loa_signin_state *out);
/** Forgets the login's failures (after a successful sign-in or a new password). */
int loa_store_signin_clear(struct loa_txn *tx, const char *login);

/* ---- Sessions -------------------------------------------------------------------------- */

struct loa_session {
    int64_t id;
    int64_t user_id;
    char *csrf; /* the session's CSRF token, sent by the console in X-CSRF-Token */
    int64_t created_at;
    int64_t seen_at; /* last use; written at most once a minute */
};

void loa_session_release(struct loa_session *s);

/** Stores a session for token (only its keyed hash is kept) with its CSRF token. */
int loa_store_session_create(struct loa_txn *tx, int64_t user_id, const char *token,
                             const char *csrf, int64_t now, int64_t *id_out);
/**
 * The session of token with its user. LOA_ENOENT when there is none, or it is idle longer
 * than idle_ms or older than max_ms (such a session is deleted, best effort). Records the use
 * (seen_at, at most once a minute) itself, as loa_store_apikey_verify() does.
 */
int loa_store_session_find(struct loa_store *st, const char *token, int64_t now, int64_t idle_ms,
                           int64_t max_ms, struct loa_session *out, struct loa_user *user_out);
/** Ends the session of token (nothing when there is none). */
int loa_store_session_delete(struct loa_txn *tx, const char *token);
/** Ends every session of the user; *n_out (may be NULL) gets how many. */
int loa_store_session_delete_user(struct loa_txn *tx, int64_t user_id, int64_t *n_out);

#endif /* LOA_STORE_USERS_H */
