/* SPDX-License-Identifier: MIT */
/*
 * The store: what webhooks bring (raw events, a person's window columns, conversations and
 * their messages, notification-topic tokens). Intake decides; these calls read and write.
 * Part of the store interface (include/loa/store.h, which includes it); ownership and threading as
 * said there.
 */
#ifndef LOA_STORE_INTAKE_H
#define LOA_STORE_INTAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <loa/store_people.h>

struct loa_store;
struct loa_txn;

/* ---- Webhook intake (schema 3) -------------------------------------------------------- *
 *
 * Every function below that writes runs in tx: the webhook writes one batch (all its entries
 * and events) in one transaction, so that a batch is stored entirely or not at all. */

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
int loa_store_event_record(struct loa_txn *tx, const struct loa_event_input *in, int64_t now,
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
int loa_store_window_put(struct loa_txn *tx, int64_t page_ref, const char *psid, int64_t id,
                         const struct loa_window *w, int64_t now, int64_t *id_out);
/** A subscriber by internal id. Returns 0 or LOA_ENOENT; release *out. */
int loa_store_subscriber_get(struct loa_store *st, int64_t id, struct loa_subscriber *out);
/** Deletes a subscriber (tags, list memberships go with it). Returns 0 or LOA_ENOENT. */
int loa_store_subscriber_delete(struct loa_txn *tx, int64_t id);
/**
 * Applies a JSON merge patch (RFC 7396: null removes a key) to the subscriber's attributes.
 * Returns 0, LOA_ENOENT or LOA_EINVAL (patch is not a JSON object).
 */
int loa_store_subscriber_patch_attrs(struct loa_txn *tx, int64_t id, const char *patch,
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
int loa_store_subscriber_set_profile(struct loa_txn *tx, int64_t id,
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
int loa_store_message_record(struct loa_txn *tx, const struct loa_message *m, int64_t now,
                             bool *inserted_out);
/**
 * Outgoing messages to psid sent at or before watermark, and those listed in mids, are
 * delivered (delivered_at = watermark); the conversation's delivered watermark moves forward.
 */
int loa_store_conversation_delivered(struct loa_txn *tx, int64_t page_ref, const char *psid,
                                     int64_t watermark, const char *const *mids, size_t nmids,
                                     int64_t now);
/** Outgoing messages to psid sent at or before watermark are read. */
int loa_store_conversation_read(struct loa_txn *tx, int64_t page_ref, const char *psid,
                                int64_t watermark);
/** Sets (reaction non-NULL) or clears the reaction on a message. *found_out may be NULL. */
int loa_store_message_react(struct loa_txn *tx, const char *mid, const char *reaction,
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
int loa_store_ntoken_apply(struct loa_txn *tx, const struct loa_ntoken_input *in, int64_t now);

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

#endif /* LOA_STORE_INTAKE_H */
