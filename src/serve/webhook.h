/* SPDX-License-Identifier: MIT */
/*
 * Meta's webhook, in three separate steps that data passes through in order:
 *
 *   1. verify  (webhook_verify.c): X-Hub-Signature-256 against the raw body, constant time;
 *   2. parse   (webhook_parse.c):  the JSON envelope into a flat list of typed events, with a
 *                                  de-duplication key each; no store, no clock, no I/O;
 *   3. apply   (webhook_apply.c):  the events' effects on the store, in one transaction.
 *
 * Event shapes: docs/messenger-platform.md §6.5 (and §5.2 for notification opt-ins).
 */
#ifndef LOA_SERVE_WEBHOOK_H
#define LOA_SERVE_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <loa/diag.h>
#include <loa/store.h>

/* ---- 1. verify ---- */

/**
 * Whether header ("sha256=<64 hex>") is the HMAC-SHA256 of body under one of the n secrets.
 * Compares in constant time (for each secret). A missing or malformed header is false.
 */
bool loa__webhook_signature_ok(const char *header, const void *body, size_t len,
                               const char *const *secrets, size_t n);

/** The header value for body under secret ("sha256=" + 64 hex + NUL: 72 bytes), for tests. */
void loa__webhook_sign(const char *secret, const void *body, size_t len, char out[72]);

/* ---- 2. parse ---- */

enum wh_kind {
    WH_MESSAGE = 0, /* messages */
    WH_ECHO,        /* message_echoes */
    WH_POSTBACK,    /* messaging_postbacks */
    WH_REFERRAL,    /* messaging_referrals */
    WH_OPTIN,       /* messaging_optins */
    WH_DELIVERY,    /* message_deliveries */
    WH_READ,        /* message_reads */
    WH_REACTION,    /* message_reactions */
    WH_UNKNOWN,     /* anything else: kept raw, no effect */
    WH_KIND_COUNT
};

/** "message", "echo", "postback", "referral", "optin", "delivery", "read", "reaction", "unknown" */
const char *loa__wh_kind_name(enum wh_kind k);

/** The origin of a referral. */
enum wh_ref_source {
    WH_REF_NONE = 0,
    WH_REF_ADS,       /* click-to-Messenger ad */
    WH_REF_SHORTLINK, /* m.me link */
    WH_REF_PLUGIN,    /* customer chat plugin (and other plugins) */
    WH_REF_OTHER,     /* anything else (MESSENGER_CODE, DISCOVER_TAB, ...) */
};

/**
 * One event. Strings are borrowed from the batch (valid until loa__wh_batch_release) and may
 * be NULL when absent.
 */
struct wh_event {
    enum wh_kind kind;
    const char *page_id;  /* entry[].id */
    const char *psid;     /* the person: sender.id, or recipient.id for echoes */
    int64_t at;           /* timestamp (ms), else entry.time */
    char *key;            /* de-duplication key: mid (messages, echoes, postbacks) or "h:" +
                             32 hex of a hash of the event (owned by the batch) */
    char *payload;        /* the messaging item as compact JSON (owned by the batch) */
    const char *raw_kind; /* for WH_UNKNOWN: the item's field ("standby", "pass_thread_control") */

    /* message / echo / postback */
    const char *mid;
    const char *text;        /* message text; postback title */
    const char *quick_reply; /* quick_reply.payload; postback payload */
    char *attachments;       /* JSON array text (owned by the batch) */
    const char *app_id;      /* echo */
    char app_id_buf[24];     /* app_id when Meta sends it as a number */
    const char *metadata;    /* echo */

    /* referral (referral events, postbacks and messages that carry one) */
    enum wh_ref_source ref_source;
    const char *ref;   /* ref parameter */
    const char *ad_id; /* ADS */

    /* optin */
    bool ntoken;       /* type notification_messages */
    const char *token; /* notification_messages_token */
    const char *title;
    const char *optin_payload;
    const char *frequency;
    const char *timezone;
    int64_t token_expiry; /* ms */
    const char *user_token_status;
    int stop;              /* 1 STOP, -1 RESUME, 0 */
    const char *optin_ref; /* plugin opt-in: data-ref */

    /* delivery / read */
    int64_t watermark;
    const char **mids; /* delivery.mids (owned array, borrowed strings) */
    size_t nmids;

    /* reaction */
    const char *reaction; /* smile, love, ... */
    const char *emoji;
    bool unreact;             /* action "unreact" */
    const char *reaction_mid; /* the message reacted to */
};

struct wh_batch {
    struct wh_event *events;
    size_t count;
    void *root; /* the parsed JSON (private) */
};

/**
 * Parses a webhook body. Returns 0 (the batch may hold zero events), or LOA_EPARSE with one
 * complaint in diags (JSON path and reason; line and column for malformed JSON).
 * Ownership: release *out with loa__wh_batch_release() in every case.
 */
int loa__wh_parse(const char *body, size_t len, struct wh_batch *out, struct loa_diags *diags);
void loa__wh_batch_release(struct wh_batch *b);

/* ---- 3. apply ---- */

/** What applying a batch did. */
struct wh_result {
    size_t stored;                 /* new events stored */
    size_t duplicates;             /* events already stored (redelivery) */
    size_t unknown_page;           /* events for Pages loa does not know (kept raw only) */
    size_t by_kind[WH_KIND_COUNT]; /* new events by kind */
    int64_t *new_subscribers;      /* ids of subscribers created (owned; loa_free) */
    size_t nnew;
};

/**
 * Applies a parsed batch to the store inside one transaction (begin ... commit); on any
 * failure the transaction is rolled back and nothing is kept. Returns 0, LOA_EBUSY or
 * LOA_ESTORE. Ownership: free res->new_subscribers.
 */
int loa__wh_apply(struct loa_store *st, const struct wh_batch *b, struct wh_result *res);

/**
 * The same inside the caller's open transaction, as one savepoint: on failure only this
 * batch's writes are undone and res is cleared. Used by group commit (webhook.c).
 */
int loa__wh_apply_step(struct loa_store *st, const struct wh_batch *b, struct wh_result *res);

#endif /* LOA_SERVE_WEBHOOK_H */
