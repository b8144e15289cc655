/* SPDX-License-Identifier: MIT */
/*
 * The store: API keys (hashed; the key itself is shown once).
 * Part of the store interface (include/loa/store.h, which includes it); ownership and threading as
 * said there.
 */
#ifndef LOA_STORE_KEYS_H
#define LOA_STORE_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <loa/role.h>

struct loa_store;
struct loa_txn;

/* ---- API keys -------------------------------------------------------------------------- */

/* enum loa_role, loa_role_name and loa_role_parse: include/loa/role.h */

struct loa_apikey {
    int64_t id;
    char *prefix; /* "loa_<12 hex>": the public part, shown in lists and logs */
    char *name;
    enum loa_role role;
    int64_t created_at;
    int64_t last_used_at; /* 0 never; updated at most once a minute */
    int64_t revoked_at;   /* 0 = valid */
};

void loa_apikey_release(struct loa_apikey *k);

/**
 * Makes a new key: *key_out receives the whole key ("loa_<12 hex>_<43 chars>"), to show once;
 * only its keyed hash is stored. Ownership: caller frees *key_out (wipe it first).
 */
int loa_store_apikey_create(struct loa_txn *tx, enum loa_role role, const char *name, int64_t now,
                            char **key_out, struct loa_apikey *out);
/**
 * Checks a presented key (constant-time comparison of hashes). Returns 0 with *out filled,
 * LOA_EPERM when the key is unknown, malformed or revoked. A read that writes one small thing:
 * it records the use (last_used_at, at most once a minute per key) itself, best effort, as a
 * one-statement write of its own that commits at once (a busy store skips it, the key is still
 * accepted). So it takes the store, not a transaction, and is called outside one.
 */
int loa_store_apikey_verify(struct loa_store *st, const char *key, int64_t now,
                            struct loa_apikey *out);
/** Calls fn for each key by id. */
int loa_store_apikey_list(struct loa_store *st, int (*fn)(const struct loa_apikey *k, void *ud),
                          void *ud);
/** Revokes the key with this prefix ("loa_..." or its 12 hex digits). LOA_ENOENT when none. */
int loa_store_apikey_revoke(struct loa_txn *tx, const char *prefix, int64_t now);

#endif /* LOA_STORE_KEYS_H */
