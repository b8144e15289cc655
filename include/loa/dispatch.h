/* SPDX-License-Identifier: MIT */
/*
 * The dispatcher: turns due deliveries (include/loa/store.h) into Send API requests through one
 * Graph client (include/loa/client.h), paced per Page, checked against the rules at the moment
 * each one is sent, and settles them from the client's answers (docs/campaigns.md).
 *
 * Two parts (campaigns themselves, their plans and their statuses, are the campaign service's:
 * include/loa/campaign.h):
 *   - pacing: pure functions (token bucket, rolling 24 h cap, daily send window) that take the
 *     time as an argument, so tests choose it;
 *   - the dispatcher itself: one thread (or the caller's, for `loa campaign run`) owning one
 *     client and one store connection.
 *
 * Threading: a struct loa_dispatch is driven by one thread; loa_dispatch_wakeup() may be called
 * from any thread. The pacing functions are pure and thread-safe.
 */
#ifndef LOA_DISPATCH_H
#define LOA_DISPATCH_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <loa/clock.h>
#include <loa/store.h>

struct loa_rules;
struct loa_settings;

/* ---- Pacing (pure) ------------------------------------------------------------------------ */

/** Default send rate per Page (messages/s) when neither the campaign nor the Page sets one. */
#define LOA_DISPATCH_DEFAULT_RATE 40

/** A token bucket: rate tokens per second, at most burst stored. Caller's storage. */
struct loa_bucket {
    double rate;   /* tokens per second (> 0) */
    double burst;  /* capacity (>= 1) */
    double tokens; /* available now */
    int64_t at;    /* when tokens was computed (ms) */
};

/** Starts a full bucket at now. */
void loa_bucket_init(struct loa_bucket *b, double rate, double burst, int64_t now);
/** Changes the rate (and burst) keeping the tokens earned so far. */
void loa_bucket_set_rate(struct loa_bucket *b, double rate, double burst, int64_t now);
/** Whole tokens available at now (refills first). */
int64_t loa_bucket_available(struct loa_bucket *b, int64_t now);
/** Takes up to want whole tokens at now; returns how many were taken. */
int64_t loa_bucket_take(struct loa_bucket *b, int64_t now, int64_t want);
/**
 * Takes n tokens at now even when fewer are available: the bucket goes into debt and has no
 * whole token until it has refilled past it (the later blocks of a message of several).
 */
void loa_bucket_charge(struct loa_bucket *b, int64_t now, int64_t n);
/** Gives back n tokens (claimed fewer than taken). */
void loa_bucket_refund(struct loa_bucket *b, int64_t n);
/** Milliseconds from now until one whole token is available (0 when one is). */
int64_t loa_bucket_wait_ms(const struct loa_bucket *b, int64_t now);

/**
 * The rolling cap: how many more sends may start now when used were accepted in the last
 * 24 h and in_flight are under way. Never negative.
 */
int64_t loa_pacing_cap_allowance(int64_t cap, int64_t used, int64_t in_flight);
/** When a Page at its cap can send again: the oldest ledger minute leaves the 24 h window. */
int64_t loa_pacing_cap_reopens(int64_t oldest_minute);

/**
 * Whether at falls in the daily window [from_min, to_min) (minutes after local midnight; a
 * window with from > to wraps midnight; from == to or either < 0 means no window) for a Page
 * whose UTC offset at that instant is utc_offset_min. When outside, *next_open_out (may be
 * NULL) receives the next instant the window opens.
 */
bool loa_pacing_in_window(int from_min, int to_min, int64_t at, int utc_offset_min,
                          int64_t *next_open_out);

/**
 * Adaptive slow-down of one Page after rate-limit answers (Graph's 613, or usage headers
 * near the limit): the Page's rate is cut by LOA_THROTTLE_CUT at most once a second, and from
 * the first accepted answer after that it climbs back by LOA_THROTTLE_RAISE_PER_S of the full
 * rate per second; a cut that follows another with no accepted answer between them also holds
 * the Page, 1 s, 2 s, 4 s ... up to 60 s. A hint from the platform (Retry-After, usage ETA) holds
 * exactly that long. So a Page resumes below the limit and climbs, instead of bursting into it
 * again. Pure: the time is an argument. Stored per Page (loa_store_page_pacing_*) so that a restart
 * keeps it.
 */
#define LOA_THROTTLE_CUT         0.7
#define LOA_THROTTLE_RAISE_PER_S 0.25
#define LOA_THROTTLE_FLOOR       0.05
#define LOA_THROTTLE_HOLD_MAX_MS 60000

struct loa_throttle {
    double share;       /* of the Page's rate at climb_at, in [LOA_THROTTLE_FLOOR, 1] */
    int64_t cut_at;     /* the last cut (ms); 0 = never */
    int64_t climb_at;   /* when the climb back starts: the first acceptance after cuts */
    int64_t strikes;    /* cuts with no accepted request since the first of them */
    int64_t hold_until; /* nothing starts before this (ms); 0 = no hold */
};

/** A Page at its full rate, no hold. */
void loa_throttle_init(struct loa_throttle *t);
/** The share of the Page's rate in force at now (climbing back since requests are accepted). */
double loa_throttle_share(const struct loa_throttle *t, int64_t now);
/**
 * A rate-limit answer at now; hint_ms > 0 is the platform's own wait. Returns true when the
 * throttle changed (worth storing).
 */
bool loa_throttle_limited(struct loa_throttle *t, int64_t now, int64_t hint_ms);
/**
 * An accepted answer at now (only one to a request sent after the last cut says the limit
 * eased): the strikes end and the climb back starts now. Returns true when the throttle
 * changed.
 */
bool loa_throttle_accepted(struct loa_throttle *t, int64_t now);

/* ---- The dispatcher ----------------------------------------------------------------------- */

struct loa_dispatch;

struct loa_dispatch_opts {
    const struct loa_store_opts *store; /* the dispatcher opens its own connection (copied) */
    const struct loa_rules *rules;      /* borrowed for the dispatcher's life */
    const char *graph_url;              /* copied */
    const char *graph_version;          /* copied */
    int64_t only_campaign;              /* 0 = every campaign (serve); else only this one */
    bool recover; /* at start: every in_flight delivery (whatever its campaign) becomes unknown */
    int max_attempts;             /* retries before failed; 0 = 5 */
    int64_t retry_base_ms;        /* backoff base; 0 = 1000 */
    int64_t retry_cap_ms;         /* backoff cap; 0 = 300000 */
    int64_t tick_ms;              /* how often campaigns are re-read; 0 = 500 */
    int concurrency;              /* deliveries in flight at most; 0 = 64 (dispatch.concurrency). A
                                     crash can leave at most this many unknown. */
    int64_t margin_ms;            /* the rules are checked as of now + this, for the time a request
                                     is in flight; 0 = 60000 (dispatch.margin_s), < 0 = none */
    int64_t reconcile_grace_ms;   /* unknown deliveries are reconciled (their conversation read)
                                     once claimed longer ago than this, leaving echo webhooks
                                     time to settle them first; 0 = 60000, or 5000 with
                                     only_campaign (`loa campaign run` receives no echoes);
                                     < 0 = no reconciliation */
    int64_t seq_catchup_ms;       /* sequence steps overdue by more are skipped "stale"; 0 = the
                                     service's default (3 days), < 0 = always send */
    int64_t seq_window_margin_ms; /* window-aware steps: 0 = the service's default (1 h) */
};

/**
 * Fills o's Graph address, concurrency, rules margin and reconciliation grace from the settings
 * (graph.url, graph.version, dispatch.concurrency, dispatch.margin_s (0 s = no margin),
 * dispatch.reconcile_grace_s, sequence.catchup_s, sequence.window_margin_s). The strings stay
 * the settings' (borrowed). The other fields are left as they are.
 */
void loa_dispatch_opts_from(struct loa_dispatch_opts *o, const struct loa_settings *s);

/**
 * Creates a dispatcher (opens its store connection and client). Only one dispatcher sends
 * from a store at a time (an flock on "<store>.dispatch.lock", released when it is freed or
 * its process dies). Returns 0, LOA_EBUSY (another dispatcher — `loa serve` or `loa campaign
 * run` — sends from this store), LOA_ESTORE, LOA_EIO, LOA_EINVAL or a client error.
 * Ownership: free with loa_dispatch_free().
 */
int loa_dispatch_new(const struct loa_dispatch_opts *o, struct loa_dispatch **out);
/**
 * Runs until *stop becomes non-zero (or, with only_campaign, until that campaign is no longer
 * running and nothing is in flight), then lets requests in flight finish (up to 10 s).
 * Returns 0 or a store error.
 */
int loa_dispatch_run(struct loa_dispatch *d, volatile sig_atomic_t *stop);
/** Starts loa_dispatch_run() on a thread of its own. Returns 0 or LOA_EIO. */
int loa_dispatch_start(struct loa_dispatch *d);
/**
 * Asks loa_dispatch_run() to stop as if its stop flag were set (then what is in flight
 * finishes). Any thread: a signal handler's flag belongs to its own thread, so a program that
 * runs the dispatcher on another thread relays the signal with this.
 */
void loa_dispatch_request_stop(struct loa_dispatch *d);
/** Interrupts a wait so that changed campaigns are seen now. Any thread. */
void loa_dispatch_wakeup(struct loa_dispatch *d);
/** Stops the thread started by loa_dispatch_start() (waits for it) and frees d. */
void loa_dispatch_stop(struct loa_dispatch *d);
/** Frees a dispatcher that is not running. NULL is a no-op. */
void loa_dispatch_free(struct loa_dispatch *d);

/** Counters since the dispatcher started (any thread; d may be NULL: all 0). */
struct loa_dispatch_stats {
    uint64_t in_flight; /* now (a gauge) */
    uint64_t claimed;
    uint64_t sent;
    uint64_t failed;
    uint64_t skipped;
    uint64_t unknown;
    uint64_t retried;
    uint64_t requests;
};
void loa_dispatch_get_stats(const struct loa_dispatch *d, struct loa_dispatch_stats *out);

#endif /* LOA_DISPATCH_H */
