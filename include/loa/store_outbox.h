/* SPDX-License-Identifier: MIT */
/*
 * The store: the outbox of every kind of send (deliveries), claims, settling, recovery,
 * reconciliation, the per-Page send ledger and pacing, and the webhook effects on deliveries
 * (docs/architecture.md, "The outbox").
 * Part of the store interface (include/loa/store.h, which includes it); ownership and threading as
 * said there.
 */
#ifndef LOA_STORE_OUTBOX_H
#define LOA_STORE_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <loa/store_campaigns.h>

struct loa_store;
struct loa_txn;

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
    bool unreachable;       /* stored flag, or the person was deleted since the send was queued */
    int32_t utc_offset_min; /* the person's, LOA_UTC_OFFSET_UNKNOWN when unknown */
};

void loa_claim_release(struct loa_claim *c);

/**
 * Claims up to max pending deliveries of Page page_ref from source (source_id 0: every one of
 * that kind) that are due (next_at <= now), lowest priority value first, then in queue order:
 * marks them in_flight (attempts + 1) and returns exactly the rows this call moved, so that
 * several claimers (threads, processes) never get the same row. A campaign's rows are claimed
 * only while it runs. Runs in tx as a savepoint of it: the caller must commit tx before it
 * submits any claimed row (several claims, one commit). out must hold max entries; *n_out
 * gets how many were claimed.
 */
int loa_store_outbox_claim(struct loa_txn *tx, int64_t page_ref, enum loa_source source,
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
 * cancelled campaign becomes SKIPPED "cancelled" (nothing would claim it again). Runs in tx,
 * all or nothing (a savepoint). *changed_out (may be NULL): the state changed.
 */
int loa_store_delivery_settle(struct loa_txn *tx, int64_t id, const struct loa_delivery_outcome *o,
                              bool *changed_out);
/**
 * At start: every in_flight delivery of campaign campaign_id (0 = of every campaign) becomes
 * unknown ("interrupted").
 */
int loa_store_delivery_recover(struct loa_txn *tx, int64_t campaign_id, int64_t now,
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
int loa_store_delivery_retry_failed(struct loa_txn *tx, int64_t campaign_id,
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
int loa_store_delivery_resend_unknown(struct loa_txn *tx, int64_t campaign_id, const int64_t *ids,
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
 * first, at most per_page of each Page (0 = no cap: one Page's backlog cannot crowd the others
 * out) and at most limit in all (0 = no limit). fn returns non-zero to stop.
 */
int loa_store_delivery_unreconciled(struct loa_store *st, int64_t page_ref, int64_t older_than,
                                    int64_t now, int64_t per_page, int64_t limit,
                                    int (*fn)(const struct loa_unreconciled *u, void *ud),
                                    void *ud);
/**
 * The verdict on an unknown delivery not yet reconciled, at now. sent: the person's
 * conversation shows it: it becomes sent (reason "reconciled", the found mid, sent_at = at)
 * through the same path as a settled send (the ledger counts it once, the conversation shows
 * text). !sent: it stays unknown with reason "reconciled_not_sent" and reconciled_at = now:
 * safe to resend. Anything else (settled meanwhile by an echo, resent) changes nothing.
 * Runs in tx, all or nothing (a savepoint). *changed_out (may be NULL) says.
 */
int loa_store_delivery_reconcile(struct loa_txn *tx, int64_t id, bool sent, const char *mid,
                                 const char *text, int64_t at, int64_t now, bool *changed_out);
/** A check that could not tell: the delivery is due again at next_at (tries + 1). */
int loa_store_delivery_reconcile_later(struct loa_txn *tx, int64_t id, int64_t next_at);
/** Accepted sends of the Page in [since, now): the rolling cap's usage. */
int loa_store_ledger_count(struct loa_store *st, int64_t page_ref, int64_t since,
                           int64_t *count_out);
/** The earliest ledger minute at or after since that holds sends; 0 when none. */
int loa_store_ledger_oldest(struct loa_store *st, int64_t page_ref, int64_t since,
                            int64_t *minute_out);
/** Adds n accepted sends at instant at (minute buckets), in tx. */
int loa_store_ledger_add(struct loa_txn *tx, int64_t page_ref, int64_t at, int64_t n);
/**
 * What a Page's pacing keeps across restarts (schema 6): the dispatcher's throttle after
 * rate-limit answers (include/loa/dispatch.h, struct loa_throttle).
 */
struct loa_page_pacing {
    double share;       /* of the Page's rate, (0, 1] */
    int64_t cut_at;     /* ms; 0 = never */
    int64_t climb_at;   /* ms: when the climb back started */
    int64_t strikes;    /* cuts with no accepted request between them */
    int64_t hold_until; /* ms; 0 = none */
    int64_t stopped_at; /* ms: Graph refused the Page's token (stop Page); 0 = not stopped.
                           Storing a new access token clears it (schema 9) */
};
/** Reads it; a Page never throttled gets share 1 and zeros. Returns 0 or a store error. */
int loa_store_page_pacing_get(struct loa_store *st, int64_t page_ref, struct loa_page_pacing *out);
/** Stores it, in tx. */
int loa_store_page_pacing_put(struct loa_txn *tx, int64_t page_ref,
                              const struct loa_page_pacing *p);
/** Marks a subscriber unreachable with reason (NULL reason clears the flag). */
int loa_store_subscriber_set_unreachable(struct loa_txn *tx, int64_t id, const char *reason,
                                         int64_t now);

/* Webhook effects on deliveries (in tx). */
/** An echo with metadata "loa:d:<id>": settles an in_flight/unknown delivery as sent. */
int loa_store_delivery_echo(struct loa_txn *tx, int64_t id, const char *mid, int64_t at,
                            bool *settled_out);
/** After delivery/read watermarks moved: copies messages' delivered/read times to deliveries. */
int loa_store_delivery_funnel(struct loa_txn *tx, int64_t page_ref, const char *psid);
/**
 * A postback/quick reply whose payload names what sent it ("loa:c:<campaign>:",
 * "loa:s:<step>:"): sets clicked_at on the person's sent delivery of that source.
 */
int loa_store_delivery_clicked(struct loa_txn *tx, enum loa_source source, int64_t source_id,
                               int64_t page_ref, const char *psid, int64_t at);
/**
 * A message from the person: sets replied_at on campaign deliveries sent to them in the 24 h
 * before, and on the sequence step sent to them last in that time (the one it answers).
 */
int loa_store_delivery_replied(struct loa_txn *tx, int64_t page_ref, const char *psid, int64_t at);

#endif /* LOA_STORE_OUTBOX_H */
