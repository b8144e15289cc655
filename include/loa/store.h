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
    bool durable; /* sync every commit to disk (synchronous=FULL) instead of at checkpoints */
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
int loa_store_list_ensure(struct loa_store *st, int64_t page_ref, const char *name,
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
int loa_store_event_record(struct loa_store *st, const struct loa_event_input *in,
                           bool *inserted_out);
/** Whether an event with this key is stored. */
int loa_store_event_exists(struct loa_store *st, const char *key, bool *out);
/** Number of stored events of a kind (NULL = all kinds). */
int loa_store_event_count(struct loa_store *st, const char *kind, int64_t *count_out);

/** A person's action as a webhook reported it, for loa_store_subscriber_touch(). */
struct loa_touch {
    int64_t page_ref;
    const char *psid;
    int64_t at;        /* event time (ms) */
    const char *kind;  /* interaction kind when it opens the window ("message", ...) */
    bool opens_window; /* the action opens the standard window (messenger-platform §4.1) */
    bool ad_referral;  /* a click-to-Messenger ad referral (source ADS); with is_message,
                          the message carried the ad's referral (it is the first one) */
    bool is_message;   /* the person sent a message (ends a pending ad referral) */
};

/**
 * Finds or creates the subscriber (first_seen_at = at for a new one) and applies the action:
 * an action that opens the window moves last_interaction_at/kind forward (never backward);
 * an ad referral is remembered, and the person's first message after it sets
 * first_after_ctm_ad (any later window-opening action clears it). *created_out (may be
 * NULL) tells whether the subscriber is new; *id_out (may be NULL) gets its id.
 */
int loa_store_subscriber_touch(struct loa_store *st, const struct loa_touch *t, bool *created_out,
                               int64_t *id_out);
/** A subscriber by internal id. Returns 0 or LOA_ENOENT; release *out. */
int loa_store_subscriber_get(struct loa_store *st, int64_t id, struct loa_subscriber *out);
/** Deletes a subscriber (tags, list memberships go with it). Returns 0 or LOA_ENOENT. */
int loa_store_subscriber_delete(struct loa_store *st, int64_t id);
/**
 * Applies a JSON merge patch (RFC 7396: null removes a key) to the subscriber's attributes.
 * Returns 0, LOA_ENOENT or LOA_EINVAL (patch is not a JSON object).
 */
int loa_store_subscriber_patch_attrs(struct loa_store *st, int64_t id, const char *patch);

/** Profile fields from the Graph API; NULL strings leave the stored values. */
struct loa_profile_input {
    const char *first_name;
    const char *last_name;
    const char *locale;
    const char *gender;     /* "male" or "female"; anything else is ignored */
    int32_t utc_offset_min; /* LOA_UTC_OFFSET_UNKNOWN when not returned */
    int64_t at;             /* when it was fetched */
};
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
int loa_store_message_record(struct loa_store *st, const struct loa_message *m, bool *inserted_out);
/**
 * Outgoing messages to psid sent at or before watermark, and those listed in mids, are
 * delivered (delivered_at = watermark); the conversation's delivered watermark moves forward.
 */
int loa_store_conversation_delivered(struct loa_store *st, int64_t page_ref, const char *psid,
                                     int64_t watermark, const char *const *mids, size_t nmids);
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
int loa_store_ntoken_apply(struct loa_store *st, const struct loa_ntoken_input *in);

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

enum loa_role {
    LOA_ROLE_NONE = 0,
    LOA_ROLE_STAFF = 1, /* everything except Page tokens and keys */
    LOA_ROLE_ADMIN = 2, /* everything */
};

/** "admin" / "staff" / "none". */
const char *loa_role_name(enum loa_role r);
/** Parses "admin" or "staff". Returns 0 or LOA_EINVAL. */
int loa_role_parse(const char *s, enum loa_role *out);

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
int loa_store_apikey_create(struct loa_store *st, enum loa_role role, const char *name,
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

#endif /* LOA_STORE_H */
