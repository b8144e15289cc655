/* SPDX-License-Identifier: MIT */
/*
 * The store: campaigns (their rows; the lifecycle rules live in the campaign service,
 * include/loa/campaign.h).
 * Part of the store interface (include/loa/store.h, which includes it); ownership and threading as
 * said there.
 */
#ifndef LOA_STORE_CAMPAIGNS_H
#define LOA_STORE_CAMPAIGNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loa_store;
struct loa_txn;
struct loa_audience_node; /* include/loa/audience.h */

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
int loa_store_campaign_create(struct loa_txn *tx, int64_t page_ref,
                              const struct loa_campaign_input *in, int64_t now, int64_t *id_out);
/** Changes a draft. Returns 0, LOA_ENOENT, or LOA_ESTATE (not a draft). */
int loa_store_campaign_update(struct loa_txn *tx, int64_t id, const struct loa_campaign_input *in,
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
int loa_store_campaign_set_status(struct loa_txn *tx, int64_t id, unsigned from_mask,
                                  enum loa_campaign_status to, const char *reason, int64_t now);
/**
 * Pauses every running campaign of the Page with reason. *count_out (may be NULL) gets how many.
 */
int loa_store_campaign_pause_page(struct loa_txn *tx, int64_t page_ref, const char *reason,
                                  int64_t now, int64_t *count_out);
/**
 * Snapshots the audience into deliveries (outbox rows of source campaign with priority) and
 * sets the campaign running, all or nothing in tx (a savepoint of it): one
 * pending delivery per member of filter (NULL = everyone), most recently active first; beyond
 * plan_quota (0 = none) the deliveries are skipped with reason "plan_quota". The campaign must
 * be draft or scheduled (else LOA_ESTATE).
 */
int loa_store_campaign_snapshot(struct loa_txn *tx, int64_t id,
                                const struct loa_audience_node *filter, int64_t plan_quota,
                                int64_t priority, int64_t now, int64_t *total_out);
/**
 * Completes a running campaign when no delivery is pending or in flight and every unknown one
 * has been reconciled (schema 8: found sent, or checked and not delivered); *done_out says.
 */
int loa_store_campaign_finish_if_done(struct loa_txn *tx, int64_t id, int64_t now, bool *done_out);

/**
 * Deletes a campaign whose status is in from_mask (bit 1 << status), with its deliveries.
 * Returns 0, LOA_ENOENT, or LOA_ESTATE (status not in from_mask).
 */
int loa_store_campaign_delete(struct loa_txn *tx, int64_t id, unsigned from_mask);

#endif /* LOA_STORE_CAMPAIGNS_H */
