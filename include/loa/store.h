/* SPDX-License-Identifier: MIT */
/*
 * The store: everything loa keeps (Pages, subscribers, tags, imported lists; later campaigns,
 * deliveries, sequences, topics, conversations).
 *
 * This header is the storage interface. The SQLite backend (src/store/sqlite.c, one file, WAL,
 * foreign keys, busy timeout) implements it today; a PostgreSQL backend implements the same
 * operations table (src/store/store_int.h). No SQL text and no sqlite3 type leaves src/store.
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

#define LOA_STORE_KEY_BYTES 32

struct loa_store;

struct loa_store_opts {
    const char *path;                       /* SQLite file */
    unsigned char key[LOA_STORE_KEY_BYTES]; /* encryption key for secrets at rest */
    bool create;                            /* create the file when missing */
    int target_version;                     /* migrate up to this version; 0 = latest (tests) */
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

/** Transactions (not nested). Returns 0 or LOA_ESTORE / LOA_EBUSY. */
int loa_store_begin(struct loa_store *st);
int loa_store_commit(struct loa_store *st);
int loa_store_rollback(struct loa_store *st);

/* ---- Pages ------------------------------------------------------------------------------- */

struct loa_page {
    int64_t id;    /* internal id */
    char *page_id; /* Facebook Page id */
    char *name;
    char *timezone;       /* IANA name */
    int64_t activated_at; /* when loa started serving the Page (ms) */
    int64_t daily_cap;    /* rolling 24 h send cap shared by all campaigns */
    int64_t plan_quota;   /* subscribers a plan allows to reach; 0 = unlimited */
    int64_t created_at;
    bool has_token;
    bool has_app_secret;
};

/** Fields to create or change; NULL strings / negative numbers leave a field as it is. */
struct loa_page_input {
    const char *page_id; /* required */
    const char *name;
    const char *access_token; /* stored encrypted */
    const char *app_secret;   /* stored encrypted */
    const char *timezone;
    int64_t activated_at;
    int64_t daily_cap;
    int64_t plan_quota;
};

/** Creates the Page or updates the given fields. *created_out (may be NULL) tells which. */
int loa_store_page_put(struct loa_store *st, const struct loa_page_input *in, bool *created_out);
/** Returns 0 or LOA_ENOENT. Release *out with loa_page_release(). */
int loa_store_page_get(struct loa_store *st, const char *page_id, struct loa_page *out);
/** Calls fn for each Page in page_id order; fn returns non-zero to stop. */
int loa_store_page_list(struct loa_store *st, int (*fn)(const struct loa_page *p, void *ud),
                        void *ud);
/** Decrypts the Page's secrets; either out may be NULL. Ownership: caller frees. */
int loa_store_page_secrets(struct loa_store *st, const char *page_id, char **token_out,
                           char **app_secret_out);
void loa_page_release(struct loa_page *p);

/* ---- Subscribers ------------------------------------------------------------------------- */

#define LOA_UTC_OFFSET_UNKNOWN INT32_MIN

struct loa_subscriber {
    int64_t id;
    int64_t page_ref; /* internal id of the Page */
    char *psid;       /* NULL for an imported contact not yet seen on Messenger */
    char *first_name;
    char *last_name;
    char *gender;           /* "male", "female" or NULL */
    char *locale;           /* e.g. "vi_VN" */
    int32_t utc_offset_min; /* LOA_UTC_OFFSET_UNKNOWN when unknown */
    char *phone;            /* E.164 */
    char *email;
    int64_t first_seen_at;       /* ms; 0 unknown */
    int64_t last_interaction_at; /* ms; 0 never */
    char *last_interaction_kind; /* "message", "postback", "referral", "reaction", ... */
    bool unreachable;
    char *unreachable_reason;
    char *attrs; /* JSON object text of custom attributes, "{}" when none */
    int64_t created_at;
    int64_t updated_at;
};

void loa_subscriber_release(struct loa_subscriber *s);

enum loa_upsert_result {
    LOA_UPSERT_INSERTED,
    LOA_UPSERT_UPDATED,
    LOA_UPSERT_UNCHANGED,
};

/* Flags of loa_store_subscriber_upsert(). */
#define LOA_UPSERT_NO_CONTACTS 1 /* the caller knows the Page has no contacts without a PSID */

/**
 * Imports one subscriber into Page s->page_ref: matched by PSID, else (when the row has a phone)
 * by phone among contacts without a PSID (skipped with LOA_UPSERT_NO_CONTACTS); a row without
 * a PSID matches any subscriber with its phone; otherwise inserted. Non-NULL fields of s replace
 * stored ones; NULL fields keep them; s->attrs (a JSON object, may be NULL) is merged key by
 * key. Nothing is written when nothing would change. *id_out receives the subscriber's id.
 */
int loa_store_subscriber_upsert(struct loa_store *st, const struct loa_subscriber *s,
                                unsigned flags, enum loa_upsert_result *result_out,
                                int64_t *id_out);
/** Number of the Page's subscribers without a PSID (imported contacts). */
int loa_store_contacts_count(struct loa_store *st, int64_t page_ref, int64_t *count_out);

/** Finds a subscriber of Page page_ref by PSID. Returns 0 or LOA_ENOENT; release *out. */
int loa_store_subscriber_find(struct loa_store *st, int64_t page_ref, const char *psid,
                              struct loa_subscriber *out);

struct loa_subscriber_query {
    int64_t page_ref; /* 0 = every Page */
    const char *tag;  /* only subscribers with this tag; NULL = any */
    int64_t after_id; /* cursor: ids greater than this */
    int64_t limit;    /* 0 = no limit */
};

/** Calls fn for each matching subscriber in id order; fn returns non-zero to stop. */
int loa_store_subscriber_list(struct loa_store *st, const struct loa_subscriber_query *q,
                              int (*fn)(const struct loa_subscriber *s, void *ud), void *ud);
int loa_store_subscriber_count(struct loa_store *st, int64_t page_ref, int64_t *count_out);
/** Tag names of a subscriber joined by ',' into *out (caller frees); "" when none. */
int loa_store_subscriber_tags(struct loa_store *st, int64_t subscriber_id, char **out);

/* ---- Tags and lists ---------------------------------------------------------------------- */

/** Finds or creates the tag; *id_out receives its id. */
int loa_store_tag_ensure(struct loa_store *st, int64_t page_ref, const char *name, int64_t *id_out);
/** Tags a subscriber; *added_out (may be NULL) is false when it already had the tag. */
int loa_store_tag_add(struct loa_store *st, int64_t subscriber_id, int64_t tag_id, bool *added_out);
int loa_store_tag_remove(struct loa_store *st, int64_t subscriber_id, int64_t tag_id);
/** Renames a tag; LOA_ENOENT when missing, LOA_EEXIST when the new name is taken. */
int loa_store_tag_rename(struct loa_store *st, int64_t page_ref, const char *from, const char *to);
/** Deletes a tag and its assignments; LOA_ENOENT when missing. */
int loa_store_tag_delete(struct loa_store *st, int64_t page_ref, const char *name);
/** Calls fn for each tag of the Page with its subscriber count, by name. */
int loa_store_tag_list(struct loa_store *st, int64_t page_ref,
                       int (*fn)(const char *name, int64_t count, void *ud), void *ud);

/** Finds or creates an imported list. */
int loa_store_list_ensure(struct loa_store *st, int64_t page_ref, const char *name,
                          int64_t *id_out);
int loa_store_list_add(struct loa_store *st, int64_t list_id, int64_t subscriber_id);
int loa_store_list_count(struct loa_store *st, int64_t list_id, int64_t *count_out);

#endif /* LOA_STORE_H */
