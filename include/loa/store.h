/* SPDX-License-Identifier: MIT */
/*
 * The store: everything loa keeps. This header opens and closes a store, runs transactions and
 * holds the send lease; it includes the interface of each aggregate: Pages (store_pages.h),
 * people (store_people.h), what webhooks bring (store_intake.h), API keys (store_keys.h),
 * campaigns (store_campaigns.h), the outbox (store_outbox.h) and sequences (store_sequences.h).
 *
 * The SQLite backend (src/store/, one file, WAL, foreign keys, busy timeout) implements it
 * today. The store holds mechanisms only: it reads and writes what it is given, the time
 * included (no call reads the clock); the rules live in the services above it. No SQL text
 * and no sqlite3 type leaves src/store.
 *
 * Page access tokens and app secrets are encrypted at rest (XChaCha20-Poly1305 with the Page id
 * as associated data) under a 32-byte key that the operator provides or `loa init` creates.
 *
 * Threading: a struct loa_store is used by one thread at a time; open one per thread.
 * Strings in the structs below are owned by the struct and freed by its _release function.
 */
#ifndef LOA_STORE_H
#define LOA_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <loa/diag.h>
#include <loa/role.h>

#define LOA_STORE_KEY_BYTES 32

struct loa_store;

struct loa_store_opts {
    const char *path;                       /* SQLite file */
    unsigned char key[LOA_STORE_KEY_BYTES]; /* encryption key for secrets at rest */
    bool create;                            /* create the file when missing */
    int target_version;                     /* migrate up to this version; 0 = latest (tests) */
    bool durable;  /* sync every commit to disk (synchronous=FULL) instead of at checkpoints */
    int cache_kib; /* this connection's page cache in KiB; 0 = 64 MiB (a connection that
                      commits small transactions often does better with a few MiB) */
};

/**
 * Finds the store's encryption key: secret_hex (64 hex digits) when not empty, else the key
 * file (key_file, or "<store_path>.key" when key_file is empty). With create, a missing key
 * file is made with a new random key, readable by its owner only.
 * Returns 0, LOA_ENOENT (no key and !create) or LOA_ECRYPTO (unreadable or malformed key).
 */
int loa_store_key_load(const char *secret_hex, const char *key_file, const char *store_path,
                       bool create, unsigned char key[LOA_STORE_KEY_BYTES],
                       struct loa_diags *diags);

/**
 * Opens (and with opts->create, creates) a store and migrates its schema to the latest version
 * in place. A store whose key check fails (another key) is refused with LOA_ECRYPTO.
 * Returns 0, LOA_ENOENT (missing and !create), LOA_EVERSION (made by a newer loa), LOA_ECRYPTO,
 * LOA_ESTORE (see diags). Ownership: close with loa_store_close().
 */
int loa_store_open(const struct loa_store_opts *opts, struct loa_store **out,
                   struct loa_diags *diags);
void loa_store_close(struct loa_store *st);
/** Schema version of the open store. */
int loa_store_schema_version(struct loa_store *st);
/** Latest schema version this build knows. */
int loa_store_latest_version(void);

/* ---- Transactions ---------------------------------------------------------------------- *
 *
 * Every call that writes takes the transaction it writes in (struct loa_txn *tx) and never
 * begins or commits one itself; pure reads take the store (struct loa_store *st) and, on the
 * store of an open transaction (loa_txn_store()), see its writes. A call whose writes must be
 * all-or-nothing runs them as a savepoint of tx: when it fails, tx is as it was before the call
 * and the caller may still commit its other writes. */

/** An open write transaction on one store (opaque; at most one per store, not nested). */
struct loa_txn;

/**
 * Begins a write transaction. Returns 0, LOA_EBUSY (another writer holds the store, or st has a
 * transaction open already: they do not nest) or LOA_ESTORE; *out is valid until
 * commit/rollback (NULL on failure).
 */
int loa_store_begin(struct loa_store *st, struct loa_txn **out);
/** Commits; on failure the transaction is rolled back. Either way tx is ended. */
int loa_store_commit(struct loa_txn *tx);
/** Rolls back and ends tx. */
int loa_store_rollback(struct loa_txn *tx);
/**
 * Ends tx: commits when rc >= 0, else rolls back; returns rc, or the commit's error. The usual
 * tail: `return loa_store_end(tx, rc);`
 */
int loa_store_end(struct loa_txn *tx, int rc);
/** The store a transaction runs on, for reads inside it (they see its writes). */
struct loa_store *loa_txn_store(struct loa_txn *tx);
/**
 * A savepoint inside tx (one at a time), so one step of a transaction that carries several can
 * be undone alone: _release keeps its writes, _rollback undoes them.
 */
int loa_store_savepoint(struct loa_txn *tx);
int loa_store_savepoint_release(struct loa_txn *tx);
int loa_store_savepoint_rollback(struct loa_txn *tx);

/**
 * Runs fn(tx, ud) in a transaction of its own: begins, calls fn, and ends the transaction with
 * fn's result (loa_store_end()). Returns what loa_store_begin() or loa_store_end() returns.
 */
int loa_store_write(struct loa_store *st, int (*fn)(struct loa_txn *tx, void *ud), void *ud);

/**
 * Group commit: runs fn(tx, ud) inside a write transaction that calls from other threads on
 * the same store file may share, committed once for all of them (one sync), so that many small
 * durable writes cost one fsync. fn must write through the transaction it is given (another
 * thread's when that thread leads the group; loa_txn_store(tx) for reads) and leave it as it
 * found it when it fails (a savepoint of its own, as loa_intake_apply_step() does). Returns
 * fn's result once the group is committed; when fn succeeded but the commit failed, fn's
 * writes are undone and the commit's error is returned (what fn handed out through ud is then
 * the caller's to release). Any thread, each with its own st; st must not be in a transaction.
 */
int loa_store_group(struct loa_store *st, int (*fn)(struct loa_txn *tx, void *ud), void *ud);

/* ---- Who may send ---------------------------------------------------------------------- */

/**
 * The right to send for Pages of the store. Only a lease holder claims and settles outbox
 * rows. SQLite: one holder per store file (an flock, dropped by the kernel when its process
 * dies), owning every Page. Ownership: release with loa_store_lease_release(); any thread.
 */
struct loa_lease;
/** Returns 0, LOA_EBUSY (another sender holds it), LOA_EIO or LOA_EINVAL. */
int loa_store_lease_acquire(struct loa_store *st, struct loa_lease **out);
/** Whether the lease covers Page page_ref now. */
bool loa_store_lease_owns(const struct loa_lease *l, int64_t page_ref);
/** Gives the lease up. NULL is a no-op. */
void loa_store_lease_release(struct loa_lease *l);

#include <loa/store_campaigns.h>
#include <loa/store_intake.h>
#include <loa/store_keys.h>
#include <loa/store_outbox.h>
#include <loa/store_pages.h>
#include <loa/store_people.h>
#include <loa/store_replies.h>
#include <loa/store_sequences.h>
#include <loa/store_users.h>

#endif /* LOA_STORE_H */
