/* SPDX-License-Identifier: MIT */
/*
 * The SQLite backend, schema 3 part two: API keys.
 *
 * A key is "loa_<12 hex>_<43 base64url chars>": a public prefix (6 random bytes) that finds
 * the row, and a 32-byte random secret. Only a keyed BLAKE2b-256 hash of the whole key is
 * stored, under a subkey of the store's encryption key. A slow password hash (Argon2) exists
 * to make guessing low-entropy passwords expensive; these keys carry 256 random bits, so
 * guessing is hopeless at any speed and a fast hash keeps every API request cheap. Keying the
 * hash means a copy of the database alone cannot even test a guess.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>
#include <sqlite3.h>

#include <loa/alloc.h>
#include <loa/clock.h>
#include <loa/err.h>
#include <loa/store.h>

#include "store_int.h"

#define PREFIX_HEX  12
#define SECRET_LEN  32
#define USE_EVERY   LOA_MINUTE_MS
#define KEY_PURPOSE "apikeys_"

enum {
    K_INSERT = LOA__XSTMT_KEYS,
    K_BY_PREFIX,
    K_USED,
    K_LIST,
    K_REVOKE,
    K_END
};
_Static_assert(K_END <= LOA__XSTMT_CAMPAIGN, "too many key statements");

static const char *const sql[] = {
    [K_INSERT - LOA__XSTMT_KEYS] = "INSERT INTO api_keys (prefix, name, role, secret_hash, "
                                   "created_at) VALUES (?, ?, ?, ?, ?)",
    [K_BY_PREFIX - LOA__XSTMT_KEYS] = "SELECT id, prefix, name, role, created_at, last_used_at, "
                                      "revoked_at, secret_hash FROM api_keys WHERE prefix = ?",
    [K_USED - LOA__XSTMT_KEYS] = "UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1",
    [K_LIST - LOA__XSTMT_KEYS] = "SELECT id, prefix, name, role, created_at, last_used_at, "
                                 "revoked_at FROM api_keys ORDER BY id",
    [K_REVOKE - LOA__XSTMT_KEYS] = "UPDATE api_keys SET revoked_at = ?2 WHERE prefix = ?1 AND "
                                   "revoked_at = 0",
};

static sqlite3_stmt *kstmt(struct loa_store *st, int id)
{
    if (st->version < 3)
        return NULL;
    return loa__stmt_cached(st, &st->xstmts[id], sql[id - LOA__XSTMT_KEYS]);
}

void loa_apikey_release(struct loa_apikey *k)
{
    LOA_FREE(k->prefix);
    LOA_FREE(k->name);
}

static void read_key(sqlite3_stmt *s, struct loa_apikey *k)
{
    k->id = sqlite3_column_int64(s, 0);
    k->prefix = loa__col_dup(s, 1);
    k->name = loa__col_dup(s, 2);
    enum loa_role r = LOA_ROLE_NONE;
    loa_role_parse((const char *)sqlite3_column_text(s, 3), &r);
    k->role = r;
    k->created_at = sqlite3_column_int64(s, 4);
    k->last_used_at = sqlite3_column_int64(s, 5);
    k->revoked_at = sqlite3_column_int64(s, 6);
}

int loa__sqlite_apikey_create(struct loa_txn *tx, enum loa_role role, const char *name, int64_t now,
                              char **key_out, struct loa_apikey *out)
{
    struct loa_store *st = tx->st;
    *key_out = NULL;
    if (role != LOA_ROLE_ADMIN && role != LOA_ROLE_STAFF)
        return LOA_EINVAL;
    if (sodium_init() < 0)
        return LOA_ECRYPTO;
    unsigned char pre[PREFIX_HEX / 2], secret[SECRET_LEN];
    randombytes_buf(pre, sizeof(pre));
    randombytes_buf(secret, sizeof(secret));
    char prefix[4 + PREFIX_HEX + 1] = "loa_";
    sodium_bin2hex(prefix + 4, PREFIX_HEX + 1, pre, sizeof(pre));
    char b64[sodium_base64_ENCODED_LEN(SECRET_LEN, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    sodium_bin2base64(b64, sizeof(b64), secret, sizeof(secret),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(secret, sizeof(secret));
    size_t pl = strlen(prefix), bl = strlen(b64), klen = pl + 1 + bl + 1;
    char *key = loa_malloc(klen);
    memcpy(key, prefix, pl);
    key[pl] = '_';
    memcpy(key + pl + 1, b64, bl + 1);
    sodium_memzero(b64, sizeof(b64));
    unsigned char hash[32];
    int rc = loa__secret_hash(st->key, KEY_PURPOSE, key, strlen(key), hash);
    sqlite3_stmt *s = rc == 0 ? kstmt(st, K_INSERT) : NULL;
    if (!s) {
        rc = rc ? rc : LOA_ESTORE;
        goto out;
    }
    sqlite3_bind_text(s, 1, prefix, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, name ? name : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, loa_role_name(role), -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 4, hash, sizeof(hash), SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, now);
    rc = sqlite3_step(s) == SQLITE_DONE ? 0 : loa__db_fail(st, "insert api key");
    sqlite3_reset(s);
    if (rc == 0 && out) {
        memset(out, 0, sizeof(*out));
        out->id = sqlite3_last_insert_rowid(st->db);
        out->prefix = loa_strdup(prefix);
        out->name = loa_strdup(name ? name : "");
        out->role = role;
        out->created_at = now;
    }
out:
    if (rc < 0) {
        sodium_memzero(key, klen);
        loa_free(key);
        return rc;
    }
    *key_out = key;
    return 0;
}

int loa__sqlite_apikey_verify(struct loa_store *st, const char *key, int64_t now,
                              struct loa_apikey *out)
{
    memset(out, 0, sizeof(*out));
    /* "loa_" + 12 hex + "_" + 43: anything else is not a key (and is not looked up). */
    size_t plen = 4 + PREFIX_HEX;
    if (!key || strncmp(key, "loa_", 4) != 0 || strlen(key) != plen + 1 + 43 || key[plen] != '_')
        return LOA_EPERM;
    char prefix[4 + PREFIX_HEX + 1];
    memcpy(prefix, key, plen);
    prefix[plen] = '\0';
    unsigned char hash[32];
    int rc = loa__secret_hash(st->key, KEY_PURPOSE, key, strlen(key), hash);
    if (rc < 0)
        return rc;
    sqlite3_stmt *s = kstmt(st, K_BY_PREFIX);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_text(s, 1, prefix, -1, SQLITE_STATIC);
    int step = sqlite3_step(s);
    if (step != SQLITE_ROW) {
        sqlite3_reset(s);
        return step == SQLITE_DONE ? LOA_EPERM : loa__db_fail(st, "find api key");
    }
    bool match = sqlite3_column_bytes(s, 7) == (int)sizeof(hash) &&
                 sodium_memcmp(sqlite3_column_blob(s, 7), hash, sizeof(hash)) == 0;
    if (match)
        read_key(s, out);
    sqlite3_reset(s);
    if (!match || out->revoked_at) {
        loa_apikey_release(out);
        return LOA_EPERM;
    }
    if (now - out->last_used_at >= USE_EVERY) {
        s = kstmt(st, K_USED);
        if (s) {
            sqlite3_bind_int64(s, 1, out->id);
            sqlite3_bind_int64(s, 2, now);
            if (sqlite3_step(s) == SQLITE_DONE)
                out->last_used_at = now; /* best effort: a busy store does not refuse a key */
            sqlite3_reset(s);
        }
    }
    return 0;
}

int loa__sqlite_apikey_list(struct loa_store *st, int (*fn)(const struct loa_apikey *k, void *ud),
                            void *ud)
{
    sqlite3_stmt *s = kstmt(st, K_LIST);
    if (!s)
        return LOA_ESTORE;
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct loa_apikey k;
        read_key(s, &k);
        int stop = fn(&k, ud);
        loa_apikey_release(&k);
        if (stop)
            break;
    }
    int rc = step == SQLITE_ROW || step == SQLITE_DONE ? 0 : loa__db_fail(st, "list api keys");
    sqlite3_reset(s);
    return rc;
}

int loa__sqlite_apikey_revoke(struct loa_txn *tx, const char *prefix, int64_t now)
{
    struct loa_store *st = tx->st;
    char full[64];
    if (!prefix || strlen(prefix) > 40)
        return LOA_ENOENT;
    snprintf(full, sizeof(full), "%s%s", strncmp(prefix, "loa_", 4) == 0 ? "" : "loa_", prefix);
    /* A whole key given by mistake: keep only its prefix. */
    if (strlen(full) > 4 + PREFIX_HEX)
        full[4 + PREFIX_HEX] = '\0';
    sqlite3_stmt *s = kstmt(st, K_REVOKE);
    if (!s)
        return LOA_ESTORE;
    sqlite3_bind_text(s, 1, full, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, now);
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : loa__db_fail(st, "revoke api key");
    sqlite3_reset(s);
    if (rc == 0 && sqlite3_changes(st->db) == 0)
        rc = LOA_ENOENT;
    return rc;
}
