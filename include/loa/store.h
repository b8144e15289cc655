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

/** Transactions (not nested). Returns 0 or LOA_ESTORE / LOA_EBUSY. */
int loa_store_begin(struct loa_store *st);
int loa_store_commit(struct loa_store *st);
int loa_store_rollback(struct loa_store *st);
/**
 * A savepoint inside a transaction (one at a time), so one step of a transaction that carries
 * several can be undone alone: _release keeps its writes, _rollback undoes them.
 */
int loa_store_savepoint(struct loa_store *st);
int loa_store_savepoint_release(struct loa_store *st);
int loa_store_savepoint_rollback(struct loa_store *st);

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
    int64_t send_rate; /* messages per second; 0 = the rules' default (schema 3) */
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
    int64_t send_rate; /* > 0 sets it; 0 or negative leaves it (schema 3) */
};

/** Creates the Page or updates the given fields. *created_out (may be NULL) tells which. */
int loa_store_page_put(struct loa_store *st, const struct loa_page_input *in, int64_t now,
                       bool *created_out);
/** Returns 0 or LOA_ENOENT. Release *out with loa_page_release(). */
int loa_store_page_get(struct loa_store *st, const char *page_id, struct loa_page *out);
/** The same by internal id. Returns 0 or LOA_ENOENT. */
int loa_store_page_get_ref(struct loa_store *st, int64_t ref, struct loa_page *out);
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
    /* Read from schema 3 on; loa_store_subscriber_upsert() ignores them. */
    int64_t ad_referral_at;     /* last click-to-Messenger ad referral not yet followed by a
                                   message; 0 = none */
    bool first_after_ctm_ad;    /* the last interaction is the person's first message after a
                                   click-to-Messenger ad (the rules' longer window applies) */
    int64_t profile_fetched_at; /* when the Graph profile was last stored; 0 = never */
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
                                unsigned flags, int64_t now, enum loa_upsert_result *result_out,
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
    int has_phone;    /* 0 = any, > 0 only with a phone, < 0 only without */
    const char *q;    /* case-insensitive substring of name, phone, email or PSID; NULL = any */
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
int loa_store_list_ensure(struct loa_store *st, int64_t page_ref, const char *name, int64_t now,
                          int64_t *id_out);
int loa_store_list_add(struct loa_store *st, int64_t list_id, int64_t subscriber_id);
int loa_store_list_count(struct loa_store *st, int64_t list_id, int64_t *count_out);

/* ---- Lists and audiences (schema 4; src/store/sqlite_audience.c) ------------------------ */

/** Looks up an imported list by name. Returns 0 or LOA_ENOENT. */
int loa_store_list_find(struct loa_store *st, int64_t page_ref, const char *name, int64_t *id_out);
/** Removes every member of a list (the list stays). */
int loa_store_list_clear(struct loa_store *st, int64_t list_id);
/**
 * Adds to the list every subscriber of Page page_ref whose phone is one of phones[0..n)
 * (E.164). matched[i] receives how many subscribers have phones[i]; *added_out (may be NULL)
 * how many were not members yet. Runs in the caller's transaction when one is open.
 */
int loa_store_list_add_phones(struct loa_store *st, int64_t list_id, int64_t page_ref,
                              const char *const *phones, size_t n, int64_t *matched,
                              int64_t *added_out);
/** Calls fn for each list of the Page with its member count, by name. */
int loa_store_list_list(struct loa_store *st, int64_t page_ref,
                        int (*fn)(const char *name, int64_t members, int64_t created_at, void *ud),
                        void *ud);

struct loa_audience_node;   /* include/loa/audience.h */
struct loa_audience_member; /* include/loa/audience.h */

enum loa_audience_order {
    LOA_AUDIENCE_BY_ID = 0, /* id ascending (stable: new subscribers come last) */
    LOA_AUDIENCE_BY_RECENT, /* last interaction descending, then id descending */
    LOA_AUDIENCE_UNORDERED, /* whatever order is fastest (tallies); no cursor */
};

/** Where a page of an audience listing starts: after this member in the chosen order. */
struct loa_audience_cursor {
    bool set;                    /* false = from the start */
    int64_t last_interaction_at; /* BY_RECENT: the last member's last interaction */
    int64_t id;                  /* the last member's id */
};

/**
 * Counts the subscribers of Page page_ref that the filter (NULL = everyone) matches. The tree
 * is compiled to SQL with bound parameters only. Returns 0 or LOA_ESTORE.
 */
int loa_store_audience_count(struct loa_store *st, int64_t page_ref,
                             const struct loa_audience_node *filter, int64_t *count_out);
/**
 * Calls fn for each matching subscriber in order, after cursor (may be NULL), at most limit
 * (0 = no limit); fn returns non-zero to stop. The subscriber is borrowed for the call.
 */
int loa_store_audience_list(struct loa_store *st, int64_t page_ref,
                            const struct loa_audience_node *filter, enum loa_audience_order order,
                            const struct loa_audience_cursor *cursor, int64_t limit,
                            int (*fn)(const struct loa_subscriber *s, void *ud), void *ud);
/**
 * Calls fn for every matching subscriber with only what the rules need (strings borrowed for
 * the call, no allocation per row): the fast path for tallies and snapshots. Same order and
 * cursor as loa_store_audience_list().
 */
int loa_store_audience_scan(struct loa_store *st, int64_t page_ref,
                            const struct loa_audience_node *filter, enum loa_audience_order order,
                            const struct loa_audience_cursor *cursor, int64_t limit,
                            int (*fn)(const struct loa_audience_member *m, void *ud), void *ud);

/* ---- Webhook intake (schema 3) -------------------------------------------------------- *
 *
 * Every function below writes inside the caller's transaction when one is open: the webhook
 * writes one batch (all its entries and events) between loa_store_begin() and
 * loa_store_commit(), so that a batch is stored entirely or not at all. */

/** One raw webhook event as received. Strings are borrowed. */
struct loa_event_input {
    const char *key;     /* de-duplication key: the mid, or a hash of the event (no mid) */
    const char *kind;    /* "message", "echo", "postback", "referral", ... or "unknown" */
    const char *page_id; /* entry[].id */
    const char *psid;    /* the person (the recipient for echoes); may be NULL */
    int64_t at;          /* the event's timestamp (ms) */
    const char *payload; /* the event object as JSON text */
};

/**
 * Keeps a raw event unless one with the same key is stored. *inserted_out is false for a
 * duplicate (the caller then skips its effects). Returns 0 or LOA_ESTORE.
 */
int loa_store_event_record(struct loa_store *st, const struct loa_event_input *in, int64_t now,
                           bool *inserted_out);
/** Whether an event with this key is stored. */
int loa_store_event_exists(struct loa_store *st, const char *key, bool *out);
/** Number of stored events of a kind (NULL = all kinds). */
int loa_store_event_count(struct loa_store *st, const char *kind, int64_t *count_out);

/**
 * A person's messaging-window columns, as loa_store_window_get() reads them and
 * loa_store_window_put() writes them. The store only reads and writes these columns; how an
 * event changes them is decided by the intake service (loa_intake_window_next()).
 */
struct loa_window {
    bool known;                        /* a subscriber row exists for (Page, PSID) */
    int64_t first_seen_at;             /* ms; 0 unknown */
    int64_t last_interaction_at;       /* ms; 0 never */
    const char *last_interaction_kind; /* a rules action name; NULL none (borrowed) */
    int64_t ad_referral_at;            /* a click-to-Messenger ad referral not yet followed by
                                          a message (ms); 0 none */
    bool after_ctm_ad;                 /* the last interaction is the first message after it */
};

/**
 * The window columns of the subscriber (page_ref, psid): *id_out gets its id, or 0 with
 * out->known false and every column zero when there is none. out->last_interaction_kind
 * points into *kind_out (owned; loa_free; NULL when none). Returns 0 or LOA_ESTORE.
 */
int loa_store_window_get(struct loa_store *st, int64_t page_ref, const char *psid, int64_t *id_out,
                         struct loa_window *out, char **kind_out);
/**
 * Writes w's columns as given: creates the subscriber (page_ref, psid) when id is 0, else
 * updates subscriber id. *id_out (may be NULL) gets the id. Returns 0, LOA_EINVAL (no psid)
 * or LOA_ESTORE.
 */
int loa_store_window_put(struct loa_store *st, int64_t page_ref, const char *psid, int64_t id,
                         const struct loa_window *w, int64_t now, int64_t *id_out);
/** A subscriber by internal id. Returns 0 or LOA_ENOENT; release *out. */
int loa_store_subscriber_get(struct loa_store *st, int64_t id, struct loa_subscriber *out);
/** Deletes a subscriber (tags, list memberships go with it). Returns 0 or LOA_ENOENT. */
int loa_store_subscriber_delete(struct loa_store *st, int64_t id);
/**
 * Applies a JSON merge patch (RFC 7396: null removes a key) to the subscriber's attributes.
 * Returns 0, LOA_ENOENT or LOA_EINVAL (patch is not a JSON object).
 */
int loa_store_subscriber_patch_attrs(struct loa_store *st, int64_t id, const char *patch,
                                     int64_t now);

/** Profile fields from the Graph API; NULL strings leave the stored values. */
struct loa_profile_input {
    const char *first_name;
    const char *last_name;
    const char *locale;
    const char *gender;     /* "male" or "female"; anything else is ignored */
    int32_t utc_offset_min; /* LOA_UTC_OFFSET_UNKNOWN when not returned */
    int64_t at;             /* when it was fetched */
};
/**
 * Ids of subscribers whose profile was never stored (profile_fetched_at 0) that have a PSID,
 * are not unreachable and were first seen before seen_before, with id > after_id, in id
 * order: at most max into ids; *n_out gets how many (fewer than max: the end was reached).
 */
int loa_store_profiles_missing(struct loa_store *st, int64_t after_id, int64_t seen_before,
                               int64_t *ids, size_t max, size_t *n_out);
/** Stores a fetched profile on subscriber id. Returns 0 or LOA_ENOENT. */
int loa_store_subscriber_set_profile(struct loa_store *st, int64_t id,
                                     const struct loa_profile_input *p);

/* ---- Conversations ------------------------------------------------------------------- */

enum loa_direction {
    LOA_DIR_IN = 0,  /* from the person to the Page */
    LOA_DIR_OUT = 1, /* from the Page (echo, or sent by loa) */
};

/** A message of a conversation. Owned strings; release with loa_message_release(). */
struct loa_message {
    int64_t id;
    int64_t page_ref;
    char *psid;
    char *mid;
    enum loa_direction direction;
    char *text;        /* may be NULL */
    char *quick_reply; /* quick_reply.payload; may be NULL */
    char *attachments; /* JSON array text; may be NULL */
    char *app_id;      /* echoes: the app that sent it; may be NULL */
    char *metadata;    /* echoes: the metadata loa sent with it (settles deliveries) */
    int64_t sent_at;
    int64_t delivered_at; /* 0 = not known delivered */
    int64_t read_at;      /* 0 = not known read */
    char *reaction;       /* the person's reaction to it; NULL = none */
};

void loa_message_release(struct loa_message *m);

/**
 * Stores a message (the struct's strings are only read) and updates its conversation, unless
 * a message with the same mid is stored (*inserted_out false). Returns 0 or LOA_ESTORE.
 */
int loa_store_message_record(struct loa_store *st, const struct loa_message *m, int64_t now,
                             bool *inserted_out);
/**
 * Outgoing messages to psid sent at or before watermark, and those listed in mids, are
 * delivered (delivered_at = watermark); the conversation's delivered watermark moves forward.
 */
int loa_store_conversation_delivered(struct loa_store *st, int64_t page_ref, const char *psid,
                                     int64_t watermark, const char *const *mids, size_t nmids,
                                     int64_t now);
/** Outgoing messages to psid sent at or before watermark are read. */
int loa_store_conversation_read(struct loa_store *st, int64_t page_ref, const char *psid,
                                int64_t watermark);
/** Sets (reaction non-NULL) or clears the reaction on a message. *found_out may be NULL. */
int loa_store_message_react(struct loa_store *st, const char *mid, const char *reaction,
                            bool *found_out);
/** A message by mid. Returns 0 or LOA_ENOENT; release *out. */
int loa_store_message_get(struct loa_store *st, const char *mid, struct loa_message *out);

/** A conversation (one per Page and person). Strings borrowed during the callback. */
struct loa_conversation {
    int64_t page_ref;
    const char *psid;
    int64_t subscriber_id; /* 0 when unknown */
    const char *first_name;
    const char *last_name;
    int64_t message_count;
    int64_t last_message_at;
    int64_t last_in_at; /* last message from the person; 0 none */
    const char *last_text;
    int64_t delivered_watermark;
    int64_t read_watermark;
};

/**
 * Calls fn for the Page's conversations, most recent first; before (0 = no limit) is a cursor:
 * only conversations whose last message is older (see docs/api.md). limit 0 = no limit.
 */
int loa_store_conversation_list(struct loa_store *st, int64_t page_ref, int64_t before,
                                const char *before_psid, int64_t limit,
                                int (*fn)(const struct loa_conversation *c, void *ud), void *ud);
/** Calls fn for the messages of one conversation in id order, ids greater than after_id. */
int loa_store_message_list(struct loa_store *st, int64_t page_ref, const char *psid,
                           int64_t after_id, int64_t limit,
                           int (*fn)(const struct loa_message *m, void *ud), void *ud);

/* ---- Notification-topic tokens ------------------------------------------------------- */

/** A messaging_optins notification_messages event. Strings borrowed. */
struct loa_ntoken_input {
    int64_t page_ref;
    const char *psid;
    const char *token;     /* notification_messages_token (a secret: stored encrypted); may be
                              NULL on STOP/RESUME events */
    const char *title;     /* topic title */
    const char *payload;   /* developer payload */
    const char *frequency; /* "DAILY", ... */
    const char *timezone;  /* IANA */
    int64_t expires_at;    /* token_expiry_timestamp in ms; 0 unknown */
    const char *user_token_status; /* "REFRESHED", "NOT_REFRESHED" */
    int stop;                      /* 1 STOP_NOTIFICATIONS, -1 RESUME_NOTIFICATIONS, 0 neither */
    int64_t at;                    /* event time */
};

/**
 * Applies an opt-in: a new token is stored (older active tokens of the same person and title
 * become "replaced"); a known token is refreshed; STOP/RESUME set the status of the token (or,
 * without a token, of the person's tokens with that title). Returns 0 or LOA_ESTORE.
 */
int loa_store_ntoken_apply(struct loa_store *st, const struct loa_ntoken_input *in, int64_t now);

/** A stored token, without its secret. Strings borrowed during the callback. */
struct loa_ntoken {
    int64_t id;
    int64_t page_ref;
    const char *psid;
    const char *title;
    const char *payload;
    const char *frequency;
    const char *timezone;
    int64_t expires_at;
    const char *status; /* "active", "stopped", "replaced" */
    const char *user_token_status;
    int64_t created_at;
    int64_t updated_at;
};

/** Calls fn for each token of a person (psid NULL = every person of the Page), by id. */
int loa_store_ntoken_list(struct loa_store *st, int64_t page_ref, const char *psid,
                          int (*fn)(const struct loa_ntoken *t, void *ud), void *ud);
/** Decrypts token id. Ownership: caller frees (loa_free) *out. */
int loa_store_ntoken_secret(struct loa_store *st, int64_t id, char **out);

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
int loa_store_apikey_create(struct loa_store *st, enum loa_role role, const char *name, int64_t now,
                            char **key_out, struct loa_apikey *out);
/**
 * Checks a presented key (constant-time comparison of hashes). Returns 0 with *out filled,
 * LOA_EPERM when the key is unknown, malformed or revoked. Records the use (at most once a
 * minute per key).
 */
int loa_store_apikey_verify(struct loa_store *st, const char *key, int64_t now,
                            struct loa_apikey *out);
/** Calls fn for each key by id. */
int loa_store_apikey_list(struct loa_store *st, int (*fn)(const struct loa_apikey *k, void *ud),
                          void *ud);
/** Revokes the key with this prefix ("loa_..." or its 12 hex digits). LOA_ENOENT when none. */
int loa_store_apikey_revoke(struct loa_store *st, const char *prefix, int64_t now);

/* ---- Campaigns and deliveries (schema 5; src/store/sqlite_campaign.c, docs/campaigns.md) -- */

enum loa_campaign_status {
    LOA_CAMPAIGN_DRAFT = 0,
    LOA_CAMPAIGN_SCHEDULED,
    LOA_CAMPAIGN_RUNNING,
    LOA_CAMPAIGN_PAUSED,
    LOA_CAMPAIGN_COMPLETED,
    LOA_CAMPAIGN_CANCELLED,
    LOA_CAMPAIGN_STATUS_COUNT
};

/** "draft", "scheduled", ... */
const char *loa_campaign_status_name(enum loa_campaign_status s);
/** Returns 0 or LOA_EINVAL. */
int loa_campaign_status_parse(const char *s, enum loa_campaign_status *out);

/** A campaign. Owned strings; release with loa_campaign_release(). */
struct loa_campaign {
    int64_t id;
    int64_t page_ref;
    char *name;
    char *goal;                /* "promotion", "care", "engagement" */
    char *purpose;             /* "promotional", "non_promotional" */
    char *tag;                 /* message tag for non-promotional sends; NULL = none */
    char *blocks;              /* the composed message, JSON text */
    char *filter;              /* the audience filter, JSON text ("{}" = everyone) */
    int64_t scheduled_at;      /* 0 = when started */
    int64_t batch_size;        /* 0 = no batches */
    int64_t batch_interval_ms; /* pause after each batch */
    int64_t rate_per_s;        /* 0 = the Page's send rate */
    int32_t window_from_min;   /* daily send window in the Page's time zone, minutes after */
    int32_t window_to_min;     /* midnight; -1 = no window */
    enum loa_campaign_status status;
    char *status_reason; /* why it is paused (e.g. "stop_page:invalid_token"); NULL = none */
    int64_t created_at;
    int64_t updated_at;
    int64_t started_at;   /* snapshot taken; 0 = not yet */
    int64_t completed_at; /* completed or cancelled; 0 = not yet */
    int64_t total;        /* deliveries in the snapshot */
};

void loa_campaign_release(struct loa_campaign *c);

/** Fields to create or change (a draft). NULL strings / negative numbers keep a field. */
struct loa_campaign_input {
    const char *name;
    const char *goal;
    const char *purpose;
    const char *tag; /* "" clears it */
    const char *blocks;
    const char *filter;
    int64_t scheduled_at; /* 0 clears, < 0 keeps */
    int64_t batch_size;
    int64_t batch_interval_ms;
    int64_t rate_per_s;
    int32_t window_from_min; /* -1 clears the window (with window_to_min -1); < -1 keeps */
    int32_t window_to_min;
};

/** Creates a draft of Page page_ref (every string but tag required). *id_out gets its id. */
int loa_store_campaign_create(struct loa_store *st, int64_t page_ref,
                              const struct loa_campaign_input *in, int64_t now, int64_t *id_out);
/** Changes a draft. Returns 0, LOA_ENOENT, or LOA_ESTATE (not a draft). */
int loa_store_campaign_update(struct loa_store *st, int64_t id, const struct loa_campaign_input *in,
                              int64_t now);
/** Returns 0 or LOA_ENOENT; release *out. */
int loa_store_campaign_get(struct loa_store *st, int64_t id, struct loa_campaign *out);
/**
 * Calls fn for campaigns of Page page_ref (0 = every Page) with status in status_mask
 * (bit 1 << status; 0 = any), newest first. The campaign is borrowed for the call.
 */
int loa_store_campaign_list(struct loa_store *st, int64_t page_ref, unsigned status_mask,
                            int (*fn)(const struct loa_campaign *c, void *ud), void *ud);
/**
 * Moves a campaign to status `to` when its status is in from_mask, with reason (NULL clears
 * it). Completed/cancelled set completed_at; cancelling turns pending deliveries into skipped
 * ("cancelled"). Returns 0, LOA_ENOENT, or LOA_ESTATE (status not in from_mask).
 */
int loa_store_campaign_set_status(struct loa_store *st, int64_t id, unsigned from_mask,
                                  enum loa_campaign_status to, const char *reason, int64_t now);
/**
 * Pauses every running campaign of the Page with reason. *count_out (may be NULL) gets how many.
 */
int loa_store_campaign_pause_page(struct loa_store *st, int64_t page_ref, const char *reason,
                                  int64_t now, int64_t *count_out);
/**
 * Snapshots the audience into deliveries (outbox rows of source campaign with priority) and
 * sets the campaign running, in one transaction (the caller must not have one open): one
 * pending delivery per member of filter (NULL = everyone), most recently active first; beyond
 * plan_quota (0 = none) the deliveries are skipped with reason "plan_quota". The campaign must
 * be draft or scheduled (else LOA_ESTATE).
 */
int loa_store_campaign_snapshot(struct loa_store *st, int64_t id,
                                const struct loa_audience_node *filter, int64_t plan_quota,
                                int64_t priority, int64_t now, int64_t *total_out);
/**
 * Completes a running campaign when no delivery is pending or in flight and every unknown one
 * has been reconciled (schema 8: found sent, or checked and not delivered); *done_out says.
 */
int loa_store_campaign_finish_if_done(struct loa_store *st, int64_t id, int64_t now,
                                      bool *done_out);

enum loa_delivery_state {
    LOA_DELIVERY_PENDING = 0,
    LOA_DELIVERY_IN_FLIGHT,
    LOA_DELIVERY_SENT,
    LOA_DELIVERY_FAILED,
    LOA_DELIVERY_SKIPPED,
    LOA_DELIVERY_UNKNOWN,
    LOA_DELIVERY_STATE_COUNT
};

const char *loa_delivery_state_name(enum loa_delivery_state s);
int loa_delivery_state_parse(const char *s, enum loa_delivery_state *out);

/** A delivery as listed. Strings borrowed during the callback. */
struct loa_delivery {
    int64_t id;
    int64_t campaign_id;
    int64_t subscriber_id;
    const char *psid; /* NULL for a contact without a PSID */
    int64_t position;
    enum loa_delivery_state state;
    const char *reason; /* NULL = none */
    const char *rule;   /* rules entry that refused it; NULL = none */
    int64_t attempts;
    int64_t next_at;
    const char *mid;
    int64_t claimed_at;
    int64_t sent_at;
    int64_t delivered_at;
    int64_t read_at;
    int64_t clicked_at;
    int64_t replied_at;
    int64_t reconciled_at; /* unknown: when its conversation showed it was not delivered (safe
                              to resend); 0 = not reconciled (schema 8) */
};

/*
 * The outbox: every queued send is a delivery row that names its source, its Page, its person,
 * when it is due (next_at) and its priority (lower first). A campaign's deliveries are its
 * audience snapshot; sequence steps, topic and marketing messages, utility templates and staff
 * replies are further sources of the same rows, claimed, checked, sent and settled the same way.
 */
enum loa_source {
    LOA_SOURCE_CAMPAIGN = 0,
    LOA_SOURCE_SEQUENCE,
    LOA_SOURCE_TOPIC,
    LOA_SOURCE_MARKETING,
    LOA_SOURCE_UTILITY,
    LOA_SOURCE_REPLY,
    LOA_SOURCE_COUNT
};
const char *loa_source_name(enum loa_source s);

/** Priorities the send services give their rows (lower is claimed first). */
#define LOA_PRIORITY_REPLY 0   /* a staff member waits for it */
#define LOA_PRIORITY_BULK  100 /* campaigns, sequences */

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

/** A claimed delivery with what sending needs. Owned; release with loa_claim_release(). */
struct loa_claim {
    int64_t id;
    enum loa_source source;
    int64_t source_id;   /* the campaign, sequence step, ... */
    int64_t campaign_id; /* 0 unless a campaign's */
    int64_t page_ref;
    int64_t subscriber_id;
    int64_t attempts; /* including this one */
    char *psid;
    char *first_name;
    char *last_name;
    char *attrs; /* JSON object text */
    int64_t first_seen_at;
    int64_t last_interaction_at;
    char *last_interaction_kind;
    bool first_after_ctm_ad;
    bool unreachable; /* stored flag, or the person was deleted since the send was queued */
};

void loa_claim_release(struct loa_claim *c);

/**
 * Claims up to max pending deliveries of Page page_ref from source (source_id 0: every one of
 * that kind) that are due (next_at <= now), lowest priority value first, then in queue order:
 * marks them in_flight (attempts + 1) and returns exactly the rows this call moved, so that
 * several claimers (threads, processes) never get the same row. A campaign's rows are claimed
 * only while it runs. Commits before returning, in its own transaction — or, when the caller
 * has a transaction open, as a savepoint of it, and then the caller must commit before it
 * submits any of them (several claims, one commit). out must hold max entries; *n_out gets
 * how many were claimed.
 */
int loa_store_outbox_claim(struct loa_store *st, int64_t page_ref, enum loa_source source,
                           int64_t source_id, int64_t now, size_t max, struct loa_claim *out,
                           size_t *n_out);

/** How to settle a claimed delivery. */
struct loa_delivery_outcome {
    enum loa_delivery_state state; /* SENT, FAILED, SKIPPED, UNKNOWN, or PENDING (re-queue) */
    const char *reason;            /* may be NULL */
    const char *rule;              /* rules entry id (skipped by the rules); may be NULL */
    const char *mid;               /* SENT: the message id */
    int64_t at;                    /* now */
    int64_t next_at;               /* PENDING: when it is due again */
    int64_t page_ref;              /* SENT: the Page (ledger, conversation) */
    const char *text;              /* SENT: the text recorded in the conversation; may be NULL */
    bool refund_attempt;           /* PENDING: this attempt does not count (slow/stop Page) */
};

/**
 * Settles an in_flight delivery (an already sent one only gets its mid). SENT adds to the
 * Page's send ledger and records the outgoing message in the conversation. PENDING of a
 * cancelled campaign becomes SKIPPED "cancelled" (nothing would claim it again). Runs in the
 * caller's transaction when one is open. *changed_out (may be NULL): the state changed.
 */
int loa_store_delivery_settle(struct loa_store *st, int64_t id,
                              const struct loa_delivery_outcome *o, bool *changed_out);
/**
 * At start: every in_flight delivery of campaign campaign_id (0 = of every campaign) becomes
 * unknown ("interrupted").
 */
int loa_store_delivery_recover(struct loa_store *st, int64_t campaign_id, int64_t now,
                               int64_t *count_out);

/** Counts of a campaign's deliveries. */
struct loa_campaign_stats {
    int64_t by_state[LOA_DELIVERY_STATE_COUNT];
    int64_t total;
    int64_t delivered;
    int64_t read;
    int64_t clicked;
    int64_t replied;
};

/** Counts by state and funnel stage; fn (may be NULL) gets each (state, reason, count). */
int loa_store_campaign_stats(struct loa_store *st, int64_t id, struct loa_campaign_stats *out,
                             int (*fn)(enum loa_delivery_state state, const char *reason,
                                       int64_t count, void *ud),
                             void *ud);
/**
 * Calls fn for deliveries of the campaign in position order after position after (cursor),
 * with state in state_mask (0 = any), at most limit; for UNKNOWN lists only those whose
 * claimed_at is before older_than (0 = any).
 */
int loa_store_delivery_list(struct loa_store *st, int64_t campaign_id, unsigned state_mask,
                            int64_t after, int64_t limit, int64_t older_than,
                            int (*fn)(const struct loa_delivery *d, void *ud), void *ud);
/**
 * Re-queues the campaign's failed deliveries whose reason is in reasons[0..n), when the
 * campaign is running, paused or completed (else nothing changes).
 */
int loa_store_delivery_retry_failed(struct loa_store *st, int64_t campaign_id,
                                    const char *const *reasons, size_t n, int64_t now,
                                    int64_t *count_out);
/**
 * Re-queues the listed unknown deliveries of the campaign (operator's explicit resend), when
 * the campaign is running, paused or completed (else nothing changes). An unknown delivery that
 * is not reconciled yet (reconciled_at 0: nobody has read the person's conversation, so it may
 * have been delivered) is re-queued only when force is set; without force, when any listed id
 * is such a delivery, nothing is re-queued, LOA_EAGAIN is returned and those ids are copied
 * to unreconciled_out (may be NULL; caller storage of n entries), their number to
 * *nunreconciled_out (may be NULL).
 */
int loa_store_delivery_resend_unknown(struct loa_store *st, int64_t campaign_id, const int64_t *ids,
                                      size_t n, bool force, int64_t now, int64_t *count_out,
                                      int64_t *unreconciled_out, size_t *nunreconciled_out);

/* ---- Reconciliation of unknown deliveries (schema 8; src/dispatch/reconcile.c) ------------ */

/** An unknown delivery waiting for reconciliation. Strings borrowed during the callback. */
struct loa_unreconciled {
    int64_t id;
    int64_t campaign_id;
    int64_t page_ref;
    const char *psid;   /* NULL: no PSID (cannot be looked up) */
    int64_t claimed_at; /* when its request was about to be written */
    int64_t tries;      /* earlier checks that could not tell */
};

/**
 * Calls fn for unknown deliveries not yet reconciled of Page page_ref (0 = every Page),
 * claimed before older_than, whose next check is due (reconcile_at <= now), oldest claim
 * first, at most limit (0 = no limit). fn returns non-zero to stop.
 */
int loa_store_delivery_unreconciled(struct loa_store *st, int64_t page_ref, int64_t older_than,
                                    int64_t now, int64_t limit,
                                    int (*fn)(const struct loa_unreconciled *u, void *ud),
                                    void *ud);
/**
 * The verdict on an unknown delivery not yet reconciled, at now. sent: the person's
 * conversation shows it: it becomes sent (reason "reconciled", the found mid, sent_at = at)
 * through the same path as a settled send (the ledger counts it once, the conversation shows
 * text). !sent: it stays unknown with reason "reconciled_not_sent" and reconciled_at = now:
 * safe to resend. Anything else (settled meanwhile by an echo, resent) changes nothing.
 * Runs in the caller's transaction when one is open. *changed_out (may be NULL) says.
 */
int loa_store_delivery_reconcile(struct loa_store *st, int64_t id, bool sent, const char *mid,
                                 const char *text, int64_t at, int64_t now, bool *changed_out);
/** A check that could not tell: the delivery is due again at next_at (tries + 1). */
int loa_store_delivery_reconcile_later(struct loa_store *st, int64_t id, int64_t next_at);
/** Accepted sends of the Page in [since, now): the rolling cap's usage. */
int loa_store_ledger_count(struct loa_store *st, int64_t page_ref, int64_t since,
                           int64_t *count_out);
/** The earliest ledger minute at or after since that holds sends; 0 when none. */
int loa_store_ledger_oldest(struct loa_store *st, int64_t page_ref, int64_t since,
                            int64_t *minute_out);
/** Adds n accepted sends at instant at (minute buckets). In the caller's transaction. */
int loa_store_ledger_add(struct loa_store *st, int64_t page_ref, int64_t at, int64_t n);
/**
 * What a Page's pacing keeps across restarts (schema 6): the dispatcher's throttle after
 * rate-limit answers (include/loa/dispatch.h, struct loa_throttle).
 */
struct loa_page_pacing {
    double share;       /* of the Page's rate, (0, 1] */
    int64_t cut_at;     /* ms; 0 = never */
    int64_t strikes;    /* cuts with no accepted request between them */
    int64_t hold_until; /* ms; 0 = none */
};
/** Reads it; a Page never throttled gets share 1 and zeros. Returns 0 or a store error. */
int loa_store_page_pacing_get(struct loa_store *st, int64_t page_ref, struct loa_page_pacing *out);
/** Stores it, in the caller's transaction when one is open. */
int loa_store_page_pacing_put(struct loa_store *st, int64_t page_ref,
                              const struct loa_page_pacing *p);
/** Marks a subscriber unreachable with reason (NULL reason clears the flag). */
int loa_store_subscriber_set_unreachable(struct loa_store *st, int64_t id, const char *reason,
                                         int64_t now);

/* Webhook effects on deliveries (in the caller's transaction). */
/** An echo with metadata "loa:d:<id>": settles an in_flight/unknown delivery as sent. */
int loa_store_delivery_echo(struct loa_store *st, int64_t id, const char *mid, int64_t at,
                            bool *settled_out);
/** After delivery/read watermarks moved: copies messages' delivered/read times to deliveries. */
int loa_store_delivery_funnel(struct loa_store *st, int64_t page_ref, const char *psid);
/** A postback/quick reply with "loa:c:<campaign>:" payload: sets clicked_at. */
int loa_store_delivery_clicked(struct loa_store *st, int64_t campaign_id, int64_t page_ref,
                               const char *psid, int64_t at);
/** A message from the person: sets replied_at on deliveries sent to them in the 24 h before. */
int loa_store_delivery_replied(struct loa_store *st, int64_t page_ref, const char *psid,
                               int64_t at);

/**
 * Deletes a campaign whose status is in from_mask (bit 1 << status), with its deliveries.
 * Returns 0, LOA_ENOENT, or LOA_ESTATE (status not in from_mask).
 */
int loa_store_campaign_delete(struct loa_store *st, int64_t id, unsigned from_mask);

#endif /* LOA_STORE_H */
