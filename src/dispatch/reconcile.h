/* SPDX-License-Identifier: MIT */
/*
 * Private to src/dispatch: the reconciler of unknown deliveries (docs/campaigns.md,
 * "Reconciliation"). It runs inside the dispatcher's loop, on the dispatcher's thread and store
 * connection, with a Graph client of its own: for each unknown delivery not reconciled yet and
 * claimed more than the grace period ago, it reads the person's conversation through the
 * Conversations API (at most LOA__RECONCILE_RATE calls per second per Page) and marks the
 * delivery sent (the message is there) or reconciled_not_sent (safe to resend). A check that
 * cannot tell (a Graph error) is tried again later with backoff.
 */
#ifndef LOA_DISPATCH_RECONCILE_H
#define LOA_DISPATCH_RECONCILE_H

#include <stdbool.h>
#include <stdint.h>

struct loa_store;
struct loa_txn;
struct loa__reconciler;

#define LOA__RECONCILE_RATE     2      /* Conversations API calls per second per Page */
#define LOA__RECONCILE_SKEW_MS  5000   /* the platform's clock vs ours, and second precision */
#define LOA__RECONCILE_AFTER_MS 60000  /* how long after its claim a request can be accepted */
#define LOA__RECONCILE_PAGES    10     /* message pages read per check at most */
#define LOA__RECONCILE_BASE_MS  5000   /* backoff after a check that could not tell */
#define LOA__RECONCILE_CAP_MS   600000 /* ... at most */

struct loa__reconcile_opts {
    struct loa_store *st;      /* borrowed: the dispatcher's connection (same thread) */
    struct loa_txn *const *tx; /* the dispatcher's open transaction (*tx NULL when none): the
                                  verdicts join it, else run in one of their own */
    const char *graph_url;     /* copied by the client */
    const char *graph_version; /* copied by the client */
    int64_t grace_ms;          /* only deliveries claimed longer ago than this; 0 = 60000, or
                                  5000 with only_campaign; < 0 = no reconciliation */
    bool only_campaign;        /* `loa campaign run`: no echo webhooks to wait for */
    /* Called in the verdict's transaction when a verdict changed a delivery (sent: the
     * message is there, at when; !sent: reconciled_not_sent), for what follows from it (a
     * sequence step's person moves on or gets the step again). An error undoes the verdict.
     * May be NULL. */
    int (*verdict)(struct loa_txn *tx, int64_t delivery_id, bool sent, int64_t at, void *ud);
    void *verdict_ud;
};

/**
 * Creates a reconciler (and its client); *out stays NULL when grace_ms < 0 (off: the other
 * functions take NULL). Returns 0 or a client error.
 */
int loa__reconcile_new(const struct loa__reconcile_opts *o, struct loa__reconciler **out);
/**
 * One step at now, without waiting: applies the answers that came in, finds the unknown
 * deliveries due, and submits the calls the per-Page rate allows.
 */
void loa__reconcile_step(struct loa__reconciler *r, int64_t now);
/** Cancels what is in flight (nothing is marked) and frees r. NULL is a no-op. */
void loa__reconcile_free(struct loa__reconciler *r);

#endif /* LOA_DISPATCH_RECONCILE_H */
