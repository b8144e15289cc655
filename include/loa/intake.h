/* SPDX-License-Identifier: MIT */
/*
 * Intake: what people do, as Meta's webhooks report it, becomes rows in the store. Four steps
 * that data passes through in order:
 *
 *   1. verify (verify.c): X-Hub-Signature-256 against the raw body, constant time;
 *   2. parse  (parse.c):  the JSON envelope into a flat list of typed events, with a
 *                         de-duplication key each; no store, no clock, no I/O;
 *   3. window (window.c): how one event changes a person's messaging window, a pure function
 *                         of (current columns, event): loa_intake_window_next();
 *   4. apply  (apply.c):  the events' effects on the store, in one transaction (or one
 *                         savepoint of the caller's), the window columns as step 3 computed.
 *
 * `loa serve` feeds it request bodies (src/serve/webhook.c, a thin HTTP adapter); `loa simulate`
 * feeds it synthetic events it builds itself (no JSON, no HTTP). Event shapes:
 * docs/messenger-platform.md §6.5 (and §5.2 for notification opt-ins).
 *
 * Ownership: a parsed batch owns its events and their strings until loa_intake_batch_release();
 * events a caller builds are the caller's (apply only reads them). A result owns its
 * new_subscribers array (loa_intake_result_release()).
 * Threading: no state of its own; every function may run on any thread at once, each with its
 * own store connection (apply writes through the store handle it is given).
 */
#ifndef LOA_INTAKE_H
#define LOA_INTAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <loa/diag.h>
#include <loa/store.h>

struct loa_sequence_opts; /* include/loa/sequence.h */

/* ---- 1. verify ---- */

/**
 * Whether header ("sha256=<64 hex>") is the HMAC-SHA256 of body under one of the n secrets.
 * Compares in constant time (for each secret). A missing or malformed header is false.
 */
bool loa_intake_signature_ok(const char *header, const void *body, size_t len,
                             const char *const *secrets, size_t n);

/** The header value for body under secret ("sha256=" + 64 hex + NUL: 72 bytes), for tests. */
void loa_intake_sign(const char *secret, const void *body, size_t len, char out[72]);

/* ---- 2. parse ---- */

enum loa_intake_kind {
    LOA_INTAKE_MESSAGE = 0, /* messages */
    LOA_INTAKE_ECHO,        /* message_echoes */
    LOA_INTAKE_POSTBACK,    /* messaging_postbacks */
    LOA_INTAKE_REFERRAL,    /* messaging_referrals */
    LOA_INTAKE_OPTIN,       /* messaging_optins */
    LOA_INTAKE_DELIVERY,    /* message_deliveries */
    LOA_INTAKE_READ,        /* message_reads */
    LOA_INTAKE_REACTION,    /* message_reactions */
    LOA_INTAKE_UNKNOWN,     /* anything else: kept raw, no effect */
    LOA_INTAKE_KIND_COUNT
};

/** "message", "echo", "postback", "referral", "optin", "delivery", "read", "reaction", "unknown" */
const char *loa_intake_kind_name(enum loa_intake_kind k);

/** The origin of a referral. */
enum loa_intake_ref {
    LOA_INTAKE_REF_NONE = 0,
    LOA_INTAKE_REF_ADS,       /* click-to-Messenger ad */
    LOA_INTAKE_REF_SHORTLINK, /* m.me link */
    LOA_INTAKE_REF_PLUGIN,    /* customer chat plugin (and other plugins) */
    LOA_INTAKE_REF_OTHER,     /* anything else (MESSENGER_CODE, DISCOVER_TAB, ...) */
};

/**
 * One event. In a parsed batch, strings are borrowed from the batch (valid until
 * loa_intake_batch_release); in an event a caller builds, from the caller. Any may be NULL when
 * absent, except key (apply needs it).
 */
struct loa_intake_event {
    enum loa_intake_kind kind;
    const char *page_id;  /* entry[].id */
    const char *psid;     /* the person: sender.id, or recipient.id for echoes */
    int64_t at;           /* timestamp (ms), else entry.time */
    const char *key;      /* de-duplication key: mid (messages, echoes, postbacks) or "h:" +
                             32 hex of a hash of the event (owned by a parsed batch) */
    const char *payload;  /* the messaging item as compact JSON (owned by a parsed batch) */
    const char *raw_kind; /* for LOA_INTAKE_UNKNOWN: the item's field ("standby", ...) */

    /* message / echo / postback */
    const char *mid;
    const char *text;        /* message text; postback title */
    const char *quick_reply; /* quick_reply.payload; postback payload */
    const char *attachments; /* JSON array text (owned by a parsed batch) */
    const char *app_id;      /* echo */
    char app_id_buf[24];     /* app_id when Meta sends it as a number */
    const char *metadata;    /* echo */

    /* referral (referral events, postbacks and messages that carry one) */
    enum loa_intake_ref ref_source;
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

struct loa_intake_batch {
    struct loa_intake_event *events; /* owned */
    size_t count;
    void *root; /* the parsed JSON (private) */
};

/**
 * Parses a webhook body. Returns 0 (the batch may hold zero events), or LOA_EPARSE with one
 * complaint in diags (JSON path and reason; line and column for malformed JSON).
 * Ownership: release *out with loa_intake_batch_release() in every case.
 */
int loa_intake_parse(const char *body, size_t len, struct loa_intake_batch *out,
                     struct loa_diags *diags);
void loa_intake_batch_release(struct loa_intake_batch *b);

/* ---- 3. window ---- */

/**
 * The window columns after event ev, given the columns cur before it (cur->known false: the
 * person is new). Pure: no store, no clock. Rules (messenger-platform.md §4.1):
 *   - first_seen_at: ev->at for a new person, else the earlier of the two (0 counts as none);
 *   - actions that open the standard window (message, quick reply, postback, Get Started,
 *     referral, reaction, plugin opt-in; not unreact, topic opt-ins, echoes, deliveries, reads,
 *     unknown events) move last_interaction_at/kind, and only forward: an event older than the
 *     last interaction leaves them (out-of-order delivery);
 *   - a click-to-Messenger ad referral (not on a message) is remembered in ad_referral_at; the
 *     person's next message (or one that carries the ad's referral itself) is the first message
 *     after the ad: after_ctm_ad, and the referral is spent; any other window-opening action
 *     clears after_ctm_ad.
 * next->last_interaction_kind is borrowed from cur or a static string. cur and next may alias.
 */
void loa_intake_window_next(const struct loa_window *cur, const struct loa_intake_event *ev,
                            struct loa_window *next);

/* ---- 4. apply ---- */

/** What applying events did. */
struct loa_intake_result {
    size_t stored;                         /* new events stored */
    size_t duplicates;                     /* events already stored (redelivery) */
    size_t unknown_page;                   /* events for Pages loa does not know (kept raw) */
    size_t by_kind[LOA_INTAKE_KIND_COUNT]; /* new events by kind */
    int64_t *new_subscribers;              /* ids of subscribers created (owned) */
    size_t nnew;
    size_t clamped; /* times out of range that were replaced (see LOA_INTAKE_TIME_FLOOR_MS) */
};

/* Event times from outside must lie in [LOA_INTAKE_TIME_FLOOR_MS, now + LOA_INTAKE_SKEW_MS];
 * anything else is replaced by the time it arrived (logged, counted in clamped). */
#define LOA_INTAKE_TIME_FLOOR_MS 1420070400000LL /* 2015-01-01T00:00Z */
#define LOA_INTAKE_SKEW_MS       (5 * 60 * 1000) /* Meta's clock ahead of ours, at most */

/** Frees res->new_subscribers and clears res. */
void loa_intake_result_release(struct loa_intake_result *res);

/**
 * Applies n events to the store inside one transaction (begin ... commit); on any failure the
 * transaction is rolled back and nothing is kept. Every event is kept raw (ev->key must be
 * set) and de-duplicated; see apply.c for the effects. With seq (may be NULL: none), what the
 * events mean for sequences happens in the same transaction (loa_sequence_on_event(): welcome,
 * m.me ref, join and leave buttons, leave on reply). Returns 0, LOA_EBUSY or LOA_ESTORE.
 * Ownership: release *res in every case.
 */
int loa_intake_apply(struct loa_store *st, const struct loa_sequence_opts *seq,
                     const struct loa_intake_event *ev, size_t n, struct loa_intake_result *res);

/**
 * The same inside the caller's transaction tx, as one savepoint: on failure only these
 * events' writes are undone and res is cleared. Used by group commit (serve) and simulate.
 */
int loa_intake_apply_step(struct loa_txn *tx, const struct loa_sequence_opts *seq,
                          const struct loa_intake_event *ev, size_t n,
                          struct loa_intake_result *res);

#endif /* LOA_INTAKE_H */
