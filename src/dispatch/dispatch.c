/* SPDX-License-Identifier: MIT */
/*
 * The dispatcher (docs/campaigns.md). One thread owns the Graph client and a store connection
 * and loops:
 *
 *   1. every tick: start scheduled campaigns that are due, re-read the running ones (a pause,
 *      resume or cancel from the REST API is seen here, between claims);
 *   2. for each running campaign whose Page may send now (not held back, inside the send
 *      window, batch pause over, under the rolling cap, tokens in the Page's buckets): claim
 *      exactly as many deliveries as it will submit now — the claim commits them as in_flight
 *      before any request is written — decide each with the rules (as of now plus the margin
 *      for time in flight), encode it with its metadata and submit it. What a claim takes
 *      (tokens, room under the cap) is taken from the Page at once, so the Page's rate and
 *      cap hold across all of its campaigns;
 *   3. run the client; every completion settles its delivery (the settles of one round share
 *      a transaction, committed after the round).
 *
 * A message of several blocks is several requests, submitted one after the other for the
 * same delivery. The dispatcher keeps only live records: a campaign while it runs or has
 * deliveries in flight, a Page while it has such a campaign or deliveries in flight (so jobs in
 * flight never point at freed memory when a campaign is paused under them); both are kept
 * sorted by id and found by binary search.
 *
 * Pacing that matters survives a restart: buckets start empty (a restart resumes at the rate,
 * never with a burst), the rolling cap is the store's ledger, and a Page's throttle after
 * rate-limit answers (share of its rate, hold) is stored with every change.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include <loa/alloc.h>
#include <loa/audience.h>
#include <loa/buf.h>
#include <loa/campaign.h>
#include <loa/client.h>
#include <loa/clock.h>
#include <loa/config.h>
#include <loa/dispatch.h>
#include <loa/err.h>
#include <loa/log.h>
#include <loa/msg.h>
#include <loa/rules.h>
#include <loa/schedule.h>
#include <loa/sequence.h>

#include "reconcile.h"

#define CLAIM_MAX           256
#define DEFAULT_CONCURRENCY 64
#define DRAIN_MS            10000
#define STAT_ADD(d, f)      atomic_fetch_add_explicit(&(d)->stats.f, 1, memory_order_relaxed)
#define LEDGER_TTL_MS       1000
#define TZ_TTL_MS           60000
#define BODY_MAX            (256 * 1024)
#define DEFAULT_MARGIN_MS   60000
#define SEQ_DRAIN_BATCH     1000  /* sequence timers drained per call */
#define SEQ_DRAIN_BUDGET_MS 25    /* at most this long per round, so sending goes on */
#define SEQ_DRAIN_RETRY_MS  1000  /* after a drain that failed */
#define SEQ_DRAIN_GAP_MS    20    /* between two drains that found all they could */
#define SEQ_LOOKAHEAD_MS    2000  /* timers become outbox rows this long before they are due */
#define SEQ_DUE_MAX         65536 /* sends queued ahead the dispatcher wakes for by name */

/* Both records start with their id, so one binary search serves both arrays (sorted by id). */
struct dpage {
    int64_t ref; /* first: the sort key */
    char page_id[72];
    char *token;  /* decrypted access token (wiped at free) */
    char *secret; /* app secret or NULL */
    char tz[64];
    int utc_offset_min;
    int64_t tz_at; /* when utc_offset_min was computed; 0 = never */
    int64_t activated_at;
    int64_t cap;
    int64_t send_rate;
    struct loa_bucket bucket; /* the Page's rate, shared by all of its sends */
    int64_t bucket_mrate;     /* the rate it was set up with, in thousandths; 0 = not yet */
    struct loa_bucket media;  /* Meta's lower rate for audio and video, shared likewise */
    int64_t media_mrate;
    struct loa_throttle thr; /* after rate-limit answers; stored on every change */
    int64_t stopped_at;      /* Graph refused the token: sequence and reply sends wait for a new
                                one (stored; a new token clears it) */
    int64_t in_flight;       /* deliveries of this Page claimed and not settled */
    int64_t used;            /* ledger: accepted in the last 24 h, as of used_at */
    int64_t oldest;          /* ledger: oldest minute in the window */
    int64_t used_at;
    int64_t sent_since; /* accepted since used_at (not in used yet) */
    size_t nsrcs;       /* live sources of the Page */
    bool fresh;         /* re-read from the store at this tick */
};

/*
 * A live source of sends: something whose outbox rows the dispatcher claims, with the message
 * it sends and its own pacing. Today a running campaign (load_campaign); a new kind of send
 * adds its loader beside it and nothing else here.
 */
struct dsrc {
    int64_t key; /* first: the sort key, src_key(kind, id) */
    int64_t id;
    enum loa_source kind;
    int64_t version;   /* a sequence step: its sequence's updated_at when compiled */
    bool step_window;  /* a sequence step: sends only inside sw, on the person's clock */
    bool person_clock; /* (person_clock) or the Page's */
    struct loa_send_window sw;
    struct dpage *page;
    struct loa_msg *msg; /* compiled; NULL when it failed (campaign paused) */
    bool promotional;
    char tag[64];
    bool structured;
    bool media; /* has audio or video blocks: Meta's lower media rate applies */
    size_t nblocks;
    int64_t batch_size, batch_interval_ms, rate;
    struct loa_bucket bucket; /* the campaign's own rate, when below the Page's */
    int64_t bucket_mrate;
    int window_from, window_to;
    int64_t batch_count, batch_until;
    int64_t in_flight;
    bool running;
    bool drained;    /* the last claim found fewer due deliveries than it asked for */
    bool idle;       /* a sequence step with nothing due: not claimed until a drain queues a
                        send of it or the next tick (retries, sends timed later) */
    bool check_done; /* something settled: see whether it completed */
};

/* A send queued ahead of its time: when it falls due, its step's source has work. */
struct due_entry {
    int64_t due, step_id;
};

struct due_heap {
    struct due_entry *v;
    size_t n, cap;
};

struct job {
    struct loa_dispatch *d;
    struct dsrc *c;
    struct loa_claim claim;
    size_t block;
    int64_t submitted_at; /* when block 0 went out: the message's time (reads compare it) */
    char *first_mid;
    char *text; /* block 0's text, for the conversation */
    json_t *attrs;
    char num[64];
};

struct loa_dispatch {
    struct loa_dispatch_opts o;
    struct loa_store_opts store_opts;
    char *graph_url, *graph_version;
    struct loa_store *st;
    struct loa_lease *lease; /* the right to send for the store's Pages */
    struct loa_client *client;
    struct dpage **pages;
    size_t npages;
    struct dsrc **srcs; /* live sources of sends, by id */
    size_t nsrcs;
    size_t next_src;                  /* where the next round starts looking (round robin) */
    size_t concurrency;               /* deliveries in flight at most */
    int64_t margin_ms;                /* rules checked as of now + this (time in flight) */
    struct loa_claim *claims;         /* one round's claims [concurrency] */
    struct dsrc **claim_srcs;         /* and their campaigns */
    struct loa_txn *tx;               /* the round's open transaction; NULL when none */
    struct loa_rules_send_rate rates; /* Meta's per-Page rates in force (read every tick) */
    int64_t next_tick;
    struct loa_buf body;
    uint64_t rnd;
    pthread_t thread;
    atomic_int stop_flag;          /* loa_dispatch_stop() */
    atomic_bool kick;              /* loa_dispatch_wakeup(): re-read campaigns now */
    int64_t in_flight;             /* deliveries in flight */
    _Atomic int64_t in_flight_pub; /* the same, for other threads */
    struct {                       /* read by other threads (/metrics): atomics */
        _Atomic uint64_t claimed, sent, failed, skipped, unknown, retried, requests;
    } stats;
    struct loa_sequence_opts seq; /* sequence timers and settling */
    int64_t seq_next;             /* when the next drain of sequence timers is due (0 = now) */
    bool seq_new_step;            /* a drain queued a send of a step with no source yet */
    struct due_heap due;          /* sends queued ahead, by due time: wake and claim then */
    int rc;                       /* first store error */
    struct loa__reconciler *rec;  /* unknown deliveries: reconcile.c; NULL = off */
};

/* ---- Store helpers ------------------------------------------------------------------------ */

/* Opens the round's transaction (d->tx) unless it is open. Returns 0 or the begin's error. */
static int txn_begin(struct loa_dispatch *d)
{
    return d->tx ? 0 : loa_store_begin(d->st, &d->tx);
}

/* Commits the open transaction; on failure it is rolled back and the error returned. */
static int txn_commit(struct loa_dispatch *d)
{
    if (!d->tx)
        return 0;
    struct loa_txn *tx = d->tx;
    d->tx = NULL;
    int rc = loa_store_commit(tx);
    if (rc < 0)
        LOA_ERROR("dispatch", "cannot commit; rolling back", "error=%s", loa_err_name(rc));
    return rc;
}

static void job_free(struct job *j)
{
    loa_claim_release(&j->claim);
    loa_free(j->first_mid);
    loa_free(j->text);
    json_decref(j->attrs);
    loa_free(j);
}

/*
 * A sent message that ends with wait_reply opens a wait for the person's answer (intake reads
 * it, include/loa/store_replies.h), in the settle's transaction.
 */
static int open_wait(struct loa_dispatch *d, struct job *j, int64_t at)
{
    struct loa_msg_wait w;
    if (!j->c->msg || j->c->kind == LOA_SOURCE_REPLY || loa_msg_get_wait(j->c->msg, &w) < 0)
        return 0;
    struct loa_wait_input in = {
        .page_ref = j->c->page->ref,
        .subscriber_id = j->claim.subscriber_id,
        .delivery_id = j->claim.id,
        .source = j->c->kind,
        .source_id = j->c->id,
        .attribute = w.attribute,
        .kind = (int32_t)w.kind,
        .prompt = w.prompt_retry,
        .opened_at = at,
        .expires_at = at + d->seq.reply_timeout_ms,
    };
    return loa_store_wait_open(d->tx, &in, NULL);
}

/* Settles a job's delivery and forgets the job. */
static void settle(struct loa_dispatch *d, struct job *j, const struct loa_delivery_outcome *o)
{
    int rc = txn_begin(d);
    if (rc == 0)
        rc = loa_store_delivery_settle(d->tx, j->claim.id, o, NULL);
    if (rc == 0 && o->state == LOA_DELIVERY_SENT && (rc = open_wait(d, j, o->at)) < 0)
        LOA_ERROR("dispatch", "cannot open the wait for a reply", "delivery=%lld error=%s",
                  (long long)j->claim.id, loa_err_name(rc));
    if (rc < 0)
        LOA_ERROR("dispatch", "cannot settle delivery", "delivery=%lld state=%s error=%s",
                  (long long)j->claim.id, loa_delivery_state_name(o->state), loa_err_name(rc));
    /* The next step's delay counts from now, when Graph's answer came back: the message was
     * accepted before that (o->at is when its request left, a little earlier). */
    else if (j->c->kind == LOA_SOURCE_SEQUENCE && o->state != LOA_DELIVERY_PENDING &&
             (rc = loa_sequence_settled(d->tx, &d->seq, j->claim.id, o->state, loa_now_ms(),
                                        loa_now_ms())) < 0)
        LOA_ERROR("dispatch", "cannot move the person on in their sequence",
                  "delivery=%lld error=%s", (long long)j->claim.id, loa_err_name(rc));
    switch (o->state) {
    case LOA_DELIVERY_SENT:
        STAT_ADD(d, sent);
        j->c->page->sent_since++;
        break;
    case LOA_DELIVERY_FAILED:
        STAT_ADD(d, failed);
        break;
    case LOA_DELIVERY_SKIPPED:
        STAT_ADD(d, skipped);
        break;
    case LOA_DELIVERY_UNKNOWN:
        STAT_ADD(d, unknown);
        break;
    default:
        STAT_ADD(d, retried);
        break;
    }
    j->c->in_flight--;
    j->c->page->in_flight--;
    j->c->check_done = true;
    d->in_flight--;
    atomic_store_explicit(&d->in_flight_pub, d->in_flight, memory_order_relaxed);
    job_free(j);
}

static void settle_simple(struct loa_dispatch *d, struct job *j, enum loa_delivery_state state,
                          const char *reason, const char *rule)
{
    struct loa_delivery_outcome o = {
        .state = state, .reason = reason, .rule = rule, .at = loa_now_ms()
    };
    settle(d, j, &o);
}

/* ---- Pages and sources -------------------------------------------------------------------- */

/* Sources of different kinds may share an id: the key tells them apart. */
static int64_t src_key(enum loa_source kind, int64_t id)
{
    return id * LOA_SOURCE_COUNT + (int64_t)kind;
}

/* Where id is, or would go, in arr[0..n) of records that start with their int64_t id. */
static size_t find_slot(void *const *arr, size_t n, int64_t id, bool *found)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int64_t k = *(const int64_t *)arr[mid];
        if (k < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < n && *(const int64_t *)arr[lo] == id;
    return lo;
}

static void insert_at(void ***arr, size_t *n, size_t at, void *rec)
{
    *arr = loa_reallocarray(*arr, *n + 1, sizeof(**arr));
    memmove(*arr + at + 1, *arr + at, (*n - at) * sizeof(**arr));
    (*arr)[at] = rec;
    (*n)++;
}

static void store_throttle(struct loa_dispatch *d, struct dpage *p)
{
    struct loa_page_pacing pp = { .share = p->thr.share,
                                  .cut_at = p->thr.cut_at,
                                  .climb_at = p->thr.climb_at,
                                  .strikes = p->thr.strikes,
                                  .hold_until = p->thr.hold_until,
                                  .stopped_at = p->stopped_at };
    int rc = txn_begin(d);
    if (rc == 0)
        rc = loa_store_page_pacing_put(d->tx, p->ref, &pp);
    if (rc < 0)
        LOA_ERROR("dispatch", "cannot store the Page's pacing", "page=%s error=%s", p->page_id,
                  loa_err_name(rc));
}

/* A hold empties the Page's buckets and keeps them from filling until it ends: the Page
 * resumes at its (cut) rate, never with a burst. */
static void hold_buckets(struct dpage *p)
{
    struct loa_bucket *b[] = { &p->bucket, &p->media };
    for (size_t i = 0; i < 2; i++) {
        if (b[i]->tokens > 0)
            b[i]->tokens = 0;
        if (p->thr.hold_until > b[i]->at)
            b[i]->at = p->thr.hold_until;
    }
}

/* Re-reads the Page's settings (once a tick) and, for a new record, its token and pacing. */
static int refresh_page(struct loa_dispatch *d, struct dpage *dp)
{
    struct loa_page p;
    int rc = loa_store_page_get_ref(d->st, dp->ref, &p);
    if (rc < 0)
        return rc;
    if (!dp->page_id[0]) {
        snprintf(dp->page_id, sizeof(dp->page_id), "%s", p.page_id);
        struct loa_page_pacing pp;
        if ((rc = loa_store_page_pacing_get(d->st, dp->ref, &pp)) < 0) {
            loa_page_release(&p);
            return rc;
        }
        dp->thr = (struct loa_throttle){ .share = pp.share,
                                         .cut_at = pp.cut_at,
                                         .climb_at = pp.climb_at,
                                         .strikes = pp.strikes,
                                         .hold_until = pp.hold_until };
        dp->stopped_at = pp.stopped_at;
    }
    if (!dp->token && p.has_token &&
        (rc = loa_store_page_secrets(d->st, p.page_id, &dp->token, &dp->secret)) < 0)
        LOA_ERROR("dispatch", "cannot read the Page's token", "page=%s error=%s", dp->page_id,
                  loa_err_name(rc));
    if (strcmp(dp->tz, p.timezone ? p.timezone : "UTC") != 0) {
        snprintf(dp->tz, sizeof(dp->tz), "%s", p.timezone ? p.timezone : "UTC");
        dp->tz_at = 0;
    }
    dp->activated_at = p.activated_at;
    dp->cap = p.daily_cap > 0 ? p.daily_cap : 5000;
    dp->send_rate = p.send_rate > 0 ? p.send_rate : LOA_DISPATCH_DEFAULT_RATE;
    dp->fresh = true;
    loa_page_release(&p);
    return 0;
}

/* The live record of Page ref, read from the store once a tick; NULL when it cannot be read. */
static struct dpage *page_ensure(struct loa_dispatch *d, int64_t ref)
{
    bool found;
    size_t at = find_slot((void *const *)d->pages, d->npages, ref, &found);
    struct dpage *dp = found ? d->pages[at] : NULL;
    if (dp && dp->fresh)
        return dp;
    struct dpage *fresh = dp ? dp : loa_calloc(1, sizeof(*fresh));
    fresh->ref = ref;
    int rc = refresh_page(d, fresh);
    if (rc < 0) {
        if (rc != LOA_ENOENT)
            LOA_ERROR("dispatch", "cannot read Page", "page_ref=%lld error=%s", (long long)ref,
                      loa_err_name(rc));
        if (!dp)
            loa_free(fresh);
        return dp; /* an existing record keeps its last settings */
    }
    if (!dp) {
        insert_at((void ***)&d->pages, &d->npages, at, fresh);
        if (fresh->thr.hold_until > loa_now_ms())
            hold_buckets(fresh);
    }
    return fresh;
}

static void page_free(struct dpage *p)
{
    if (p->token)
        sodium_memzero(p->token, strlen(p->token));
    if (p->secret)
        sodium_memzero(p->secret, strlen(p->secret));
    loa_free(p->token);
    loa_free(p->secret);
    loa_free(p);
}

static void pause_campaign(struct loa_dispatch *d, int64_t id, const char *reason)
{
    txn_commit(d);
    int rc = loa_campaign_apply(d->st, id, LOA_CAMPAIGN_OP_PAUSE, reason, loa_now_ms(), NULL);
    if (rc < 0 && rc != LOA_ESTATE)
        LOA_ERROR("dispatch", "cannot pause campaign", "campaign=%lld error=%s", (long long)id,
                  loa_err_name(rc));
}

static struct dsrc *src_new_campaign(const struct loa_campaign *c, struct dpage *p)
{
    struct dsrc *dc = loa_calloc(1, sizeof(*dc));
    dc->id = c->id;
    dc->kind = LOA_SOURCE_CAMPAIGN;
    dc->key = src_key(dc->kind, dc->id);
    dc->page = p;
    p->nsrcs++;
    dc->drained = true; /* until a claim says otherwise */
    struct loa_diags diags;
    loa_diags_init(&diags, 4);
    if (loa_campaign_compile(c->blocks, c->id, NULL, &dc->msg, &diags) < 0) {
        LOA_ERROR("dispatch", "campaign message does not compile; paused", "campaign=%lld",
                  (long long)c->id);
    } else {
        dc->structured = loa_msg_is_structured(dc->msg);
        dc->nblocks = loa_msg_sendable_count(dc->msg);
        for (size_t b = 0; b < dc->nblocks; b++) {
            enum loa_msg_block_type t = loa_msg_sendable_type(dc->msg, b);
            dc->media |= t == LOA_MSG_AUDIO || t == LOA_MSG_VIDEO;
        }
    }
    loa_diags_release(&diags);
    return dc;
}

static int load_campaign(const struct loa_campaign *c, void *ud)
{
    struct loa_dispatch *d = ud;
    if (d->o.only_campaign && c->id != d->o.only_campaign)
        return 0;
    if (!loa_store_lease_owns(d->lease, c->page_ref))
        return 0; /* another sender's Page */
    struct dpage *p = page_ensure(d, c->page_ref);
    if (!p)
        return 0;
    bool found;
    size_t at =
        find_slot((void *const *)d->srcs, d->nsrcs, src_key(LOA_SOURCE_CAMPAIGN, c->id), &found);
    struct dsrc *dc = found ? d->srcs[at] : NULL;
    if (!dc) {
        dc = src_new_campaign(c, p);
        insert_at((void ***)&d->srcs, &d->nsrcs, at, dc);
    }
    dc->promotional = strcmp(c->purpose, "promotional") == 0;
    snprintf(dc->tag, sizeof(dc->tag), "%s", c->tag ? c->tag : "");
    dc->batch_size = c->batch_size;
    dc->batch_interval_ms = c->batch_interval_ms;
    dc->rate = c->rate_per_s;
    dc->window_from = c->window_from_min;
    dc->window_to = c->window_to_min;
    dc->running = true;
    if (!dc->msg) {
        dc->running = false;
        pause_campaign(d, c->id, "invalid_message");
    } else if (!dc->page->token) {
        /* Nothing can be sent for this Page: say so instead of waiting forever. */
        dc->running = false;
        LOA_WARN("dispatch", "Page has no access token; campaign paused", "campaign=%lld page=%s",
                 (long long)c->id, dc->page->page_id);
        pause_campaign(d, c->id, "stop_page:no_access_token");
    }
    return 0;
}

/* A sequence step with sends in the outbox: one source per step (its message, its purpose). */
static int load_step(int64_t step_id, int64_t page_ref, void *ud)
{
    struct loa_dispatch *d = ud;
    if (!loa_store_lease_owns(d->lease, page_ref))
        return 0;
    struct dpage *p = page_ensure(d, page_ref);
    if (!p)
        return 0;
    struct loa_seq_step_info info;
    int rc = loa_store_seq_step_get(d->st, step_id, &info);
    if (rc < 0) {
        if (rc != LOA_ENOENT)
            LOA_ERROR("dispatch", "cannot read sequence step", "step=%lld error=%s",
                      (long long)step_id, loa_err_name(rc));
        return 0;
    }
    bool found;
    size_t at =
        find_slot((void *const *)d->srcs, d->nsrcs, src_key(LOA_SOURCE_SEQUENCE, step_id), &found);
    struct dsrc *dc = found ? d->srcs[at] : NULL;
    if (dc && dc->version != info.sequence_updated_at) {
        loa_msg_free(dc->msg); /* edited: compile it again */
        dc->msg = NULL;
    }
    if (!dc) {
        dc = loa_calloc(1, sizeof(*dc));
        dc->id = step_id;
        dc->kind = LOA_SOURCE_SEQUENCE;
        dc->key = src_key(dc->kind, dc->id);
        dc->page = p;
        p->nsrcs++;
        dc->drained = true;
        dc->window_from = dc->window_to = -1; /* the service timed each send in its window */
        insert_at((void ***)&d->srcs, &d->nsrcs, at, dc);
    }
    if (!dc->msg) {
        char prefix[48];
        snprintf(prefix, sizeof(prefix), LOA_SEQUENCE_PAYLOAD_PREFIX "%lld:", (long long)step_id);
        struct loa_diags diags;
        loa_diags_init(&diags, 4);
        if (loa_blocks_compile(info.step.blocks, prefix, NULL, &dc->msg, &diags) < 0)
            LOA_ERROR("dispatch", "sequence step message does not compile; not sent", "step=%lld",
                      (long long)step_id);
        loa_diags_release(&diags);
        dc->version = info.sequence_updated_at;
        dc->structured = dc->msg && loa_msg_is_structured(dc->msg);
        dc->nblocks = dc->msg ? loa_msg_sendable_count(dc->msg) : 0;
        dc->media = false;
        for (size_t b = 0; b < dc->nblocks; b++) {
            enum loa_msg_block_type t = loa_msg_sendable_type(dc->msg, b);
            dc->media |= t == LOA_MSG_AUDIO || t == LOA_MSG_VIDEO;
        }
    }
    dc->step_window =
        !info.step.any_time && !(info.window_from_min == info.window_to_min && info.weekdays == 0);
    dc->sw = (struct loa_send_window){ .from_min = info.window_from_min,
                                       .to_min = info.window_to_min,
                                       .weekdays = info.weekdays };
    dc->person_clock = info.person_clock;
    dc->promotional = strcmp(info.step.purpose, "promotional") == 0;
    dc->tag[0] = '\0'; /* automation never uses a message tag (HUMAN_AGENT is for people) */
    dc->running = dc->msg != NULL && info.active && dc->page->token != NULL && !p->stopped_at;
    loa_seq_step_info_release(&info);
    return 0;
}

/*
 * The answer to a reply that did not fit a wait (its prompt_retry): one source per wait with
 * a prompt in the outbox, a text that answers the person's message.
 */
static int load_prompt(int64_t wait_id, int64_t page_ref, void *ud)
{
    struct loa_dispatch *d = ud;
    if (!loa_store_lease_owns(d->lease, page_ref))
        return 0;
    struct dpage *p = page_ensure(d, page_ref);
    if (!p)
        return 0;
    bool found;
    size_t at =
        find_slot((void *const *)d->srcs, d->nsrcs, src_key(LOA_SOURCE_REPLY, wait_id), &found);
    struct dsrc *dc = found ? d->srcs[at] : NULL;
    if (!dc) {
        struct loa_wait w;
        if (loa_store_wait_get(d->st, wait_id, &w) < 0)
            return 0;
        dc = loa_calloc(1, sizeof(*dc));
        dc->id = wait_id;
        dc->kind = LOA_SOURCE_REPLY;
        dc->key = src_key(dc->kind, dc->id);
        dc->page = p;
        p->nsrcs++;
        dc->drained = true;
        dc->window_from = dc->window_to = -1;
        json_t *blocks = json_pack("{s:[{s:s,s:s}]}", "blocks", "type", "text", "text",
                                   w.prompt ? w.prompt : "");
        char *text = json_dumps(blocks, JSON_COMPACT);
        json_decref(blocks);
        if (text && loa_blocks_compile(text, "", NULL, &dc->msg, NULL) == 0)
            dc->nblocks = loa_msg_sendable_count(dc->msg);
        free(text); /* jansson allocates with malloc */
        loa_wait_release(&w);
        insert_at((void ***)&d->srcs, &d->nsrcs, at, dc);
    }
    dc->promotional = false; /* an answer to the person's own message */
    dc->running = dc->msg != NULL && dc->page->token != NULL && !p->stopped_at;
    return 0;
}

/* ---- When queued steps fall due (a min-heap of (due, step) in memory) ---------------------- */

/* The source of step_id has work from now on; a step met for the first time is loaded after
 * the drain (seq_new_step). */
static void step_ready(struct loa_dispatch *d, int64_t step_id)
{
    bool found;
    size_t at =
        find_slot((void *const *)d->srcs, d->nsrcs, src_key(LOA_SOURCE_SEQUENCE, step_id), &found);
    if (found)
        d->srcs[at]->idle = false;
    else
        d->seq_new_step = true;
}

static void due_push(struct loa_dispatch *d, int64_t due, int64_t step_id)
{
    struct due_heap *h = &d->due;
    if (h->n == SEQ_DUE_MAX)
        return; /* full: the tick asks every source (at most a tick late) */
    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 256;
        h->v = loa_reallocarray(h->v, h->cap, sizeof(*h->v));
    }
    size_t i = h->n++;
    while (i > 0 && h->v[(i - 1) / 2].due > due) {
        h->v[i] = h->v[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->v[i] = (struct due_entry){ .due = due, .step_id = step_id };
}

static void due_pop(struct due_heap *h)
{
    struct due_entry last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->v[c + 1].due < h->v[c].due)
            c++;
        if (h->v[c].due >= last.due)
            break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n)
        h->v[i] = last;
}

/* Sends queued ahead that are due by now: their sources have work. */
static void due_release(struct loa_dispatch *d, int64_t now)
{
    while (d->due.n && d->due.v[0].due <= now) {
        step_ready(d, d->due.v[0].step_id);
        due_pop(&d->due);
    }
}

/* A drain queued a send of step_id due at due_at: its source has work then. */
static void seq_queued(int64_t step_id, int64_t page_ref, int64_t due_at, void *ud)
{
    struct loa_dispatch *d = ud;
    (void)page_ref;
    if (due_at > loa_now_ms())
        due_push(d, due_at, step_id);
    else
        step_ready(d, step_id);
}

/*
 * Sequence timers due within the look-ahead become outbox rows, in the round's transaction
 * (committed with its claims), in batches for at most SEQ_DRAIN_BUDGET_MS so that sending goes
 * on while a backlog drains. Each send queued ahead goes into the due heap: the dispatcher
 * wakes at its due time and claims it then. The next drain is when the next timer comes within
 * the look-ahead (at most every SEQ_DRAIN_GAP_MS, so that drains batch).
 */
static void drain_sequences(struct loa_dispatch *d, int64_t now)
{
    d->seq_next = now + SEQ_DRAIN_RETRY_MS;
    if (txn_begin(d) < 0)
        return;
    int64_t start = loa_mono_ms();
    struct loa_sequence_drained r;
    do {
        int rc = loa_sequence_drain(d->tx, &d->seq, now, SEQ_DRAIN_BATCH, &r);
        if (rc < 0) {
            LOA_ERROR("dispatch", "cannot drain sequence timers", "error=%s", loa_err_name(rc));
            return;
        }
    } while (r.handled >= SEQ_DRAIN_BATCH && loa_mono_ms() - start < SEQ_DRAIN_BUDGET_MS);
    d->seq_next = r.next_timer ? r.next_timer - d->seq.lookahead_ms : INT64_MAX;
    if (r.handled < SEQ_DRAIN_BATCH && d->seq_next < now + SEQ_DRAIN_GAP_MS)
        d->seq_next = now + SEQ_DRAIN_GAP_MS;
}

/* Forgets campaigns that stopped and have nothing in flight, then Pages left with neither. */
static void prune(struct loa_dispatch *d)
{
    size_t k = 0;
    for (size_t i = 0; i < d->nsrcs; i++) {
        struct dsrc *c = d->srcs[i];
        if (c->running || c->in_flight > 0) {
            d->srcs[k++] = c;
            continue;
        }
        c->page->nsrcs--;
        loa_msg_free(c->msg);
        loa_free(c);
    }
    d->nsrcs = k;
    k = 0;
    for (size_t i = 0; i < d->npages; i++) {
        struct dpage *p = d->pages[i];
        p->fresh = false;
        if (p->nsrcs > 0 || p->in_flight > 0)
            d->pages[k++] = p;
        else
            page_free(p);
    }
    d->npages = k;
}

struct due_ud {
    int64_t now;
    int64_t ids[64];
    size_t n;
    int64_t only;
};

static int collect_due(const struct loa_campaign *c, void *ud)
{
    struct due_ud *u = ud;
    if (u->only && c->id != u->only)
        return 0;
    if (c->scheduled_at <= u->now && u->n < 64)
        u->ids[u->n++] = c->id;
    return 0;
}

static void tick(struct loa_dispatch *d, int64_t now)
{
    txn_commit(d);
    struct due_ud due = { .now = now, .only = d->o.only_campaign };
    int rc = loa_campaign_list_in(d->st, LOA_CAMPAIGN_SCHEDULED, collect_due, &due);
    if (rc < 0)
        LOA_ERROR("dispatch", "cannot read scheduled campaigns", "error=%s", loa_err_name(rc));
    for (size_t i = 0; i < due.n; i++) {
        int64_t total = 0;
        rc = loa_campaign_start(d->st, due.ids[i], now, &total);
        if (rc == 0)
            LOA_INFO("dispatch", "scheduled campaign started", "campaign=%lld deliveries=%lld",
                     (long long)due.ids[i], (long long)total);
        else if (rc != LOA_ESTATE)
            LOA_ERROR("dispatch", "cannot start scheduled campaign", "campaign=%lld error=%s",
                      (long long)due.ids[i], loa_err_name(rc));
    }
    if (loa_rules_send_rate(d->o.rules, now, &d->rates) < 0)
        memset(&d->rates, 0, sizeof(d->rates)); /* no entry: no cap beyond the Page's own */
    for (size_t i = 0; i < d->nsrcs; i++) {
        d->srcs[i]->running = false;
        d->srcs[i]->idle = false; /* each source is asked once a tick at least */
    }
    rc = loa_campaign_list_in(d->st, LOA_CAMPAIGN_RUNNING, load_campaign, d);
    if (rc == 0 && !d->o.only_campaign) {
        drain_sequences(d, now);
        rc = loa_store_seq_steps_live(d->st, load_step, d);
        if (rc == 0)
            rc = loa_store_prompts_live(d->st, load_prompt, d);
    }
    if (rc < 0) {
        /* Not knowing which sources run, keep sending for those seen last. */
        LOA_ERROR("dispatch", "cannot read campaigns and sequences", "error=%s", loa_err_name(rc));
        for (size_t i = 0; i < d->nsrcs; i++)
            d->srcs[i]->running = d->srcs[i]->msg != NULL;
    }
    prune(d);
    for (size_t i = 0; i < d->nsrcs; i++)
        if (d->srcs[i]->running)
            d->srcs[i]->check_done = true;
}

/* ---- Sending ------------------------------------------------------------------------------ */

static const char *attr_lookup(void *ctx, const char *name)
{
    struct job *j = ctx;
    if (!j->attrs)
        return NULL;
    json_t *v = json_object_get(j->attrs, name);
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(j->num, sizeof(j->num), "%lld", (long long)json_integer_value(v));
        return j->num;
    }
    if (json_is_real(v)) {
        snprintf(j->num, sizeof(j->num), "%g", json_real_value(v));
        return j->num;
    }
    return NULL;
}

static int submit_block(struct loa_dispatch *d, struct job *j, const struct loa_rules_decision *dec)
{
    char meta[40];
    snprintf(meta, sizeof(meta), LOA_DISPATCH_META_PREFIX "%lld", (long long)j->claim.id);
    struct loa_msg_person person = {
        .first_name = j->claim.first_name,
        .last_name = j->claim.last_name,
        .attr_cb = attr_lookup,
        .attr_ctx = j,
    };
    struct loa_msg_send_opts so = {
        .recipient_kind = LOA_MSG_TO_PSID,
        .recipient = j->claim.psid,
        .messaging_type = dec->messaging_type == LOA_RULES_MT_RESPONSE      ? LOA_MSG_RESPONSE
                          : dec->messaging_type == LOA_RULES_MT_MESSAGE_TAG ? LOA_MSG_MESSAGE_TAG
                                                                            : LOA_MSG_UPDATE,
        .tag = dec->messaging_type == LOA_RULES_MT_MESSAGE_TAG ? dec->tag : NULL,
        .metadata = meta,
    };
    loa_buf_reset(&d->body);
    int rc = loa_msg_encode(j->c->msg, j->block, &person, &so, &d->body);
    if (rc < 0)
        return rc;
    if (j->block == 0 && !j->text) { /* what the conversation shows */
        struct loa_buf t;
        loa_buf_init(&t, BODY_MAX);
        if (loa_msg_text(j->c->msg, 0, &person, &t) == 0)
            j->text = loa_buf_detach(&t);
        loa_buf_release(&t);
    }
    struct loa_client_request req = {
        .page_id = j->c->page->page_id,
        .access_token = j->c->page->token,
        .app_secret = j->c->page->secret,
        .user = j,
    };
    rc = loa_client_submit_send(d->client, &req, loa_buf_cstr(&d->body), d->body.len);
    if (rc == 0)
        STAT_ADD(d, requests);
    return rc;
}

/*
 * The rules' decision for a claimed delivery: auto route, then the campaign's tag. It must
 * hold when the request arrives, not only when it leaves, so it is taken as of now plus the
 * margin for time in flight (dispatch.margin_s): a window that closes within the margin is
 * closed.
 */
static void decide(struct loa_dispatch *d, struct job *j, int64_t now,
                   struct loa_rules_decision *out)
{
    now += d->margin_ms;
    const struct loa_claim *c = &j->claim;
    struct loa_audience_member m = {
        .id = c->subscriber_id,
        .psid = c->psid,
        .first_seen_at = c->first_seen_at,
        .last_interaction_at = c->last_interaction_at,
        .last_interaction_kind = c->last_interaction_kind,
        .first_after_ctm_ad = c->first_after_ctm_ad,
        .unreachable = c->unreachable,
    };
    enum loa_audience_purpose purpose =
        j->c->promotional ? LOA_AUD_PROMOTIONAL : LOA_AUD_NON_PROMOTIONAL;
    loa_audience_decide(d->o.rules, &m, j->c->page->activated_at, purpose, j->c->tag,
                        j->c->structured, now, out);
}

/*
 * Whether a sequence step's send is outside its send window at now (in the person's clock or
 * the Page's): *opens_out gets the next opening. The service timed it inside; a Page that is
 * behind may claim it after the window closed.
 */
static bool step_window_closed(const struct job *j, int64_t now, int64_t *opens_out)
{
    if (j->c->kind != LOA_SOURCE_SEQUENCE || !j->c->step_window)
        return false;
    struct loa_zone z = { .tz = j->c->page->tz[0] ? j->c->page->tz : "UTC" };
    if (j->c->person_clock && j->claim.utc_offset_min != LOA_UTC_OFFSET_UNKNOWN) {
        z.has_offset = true;
        z.offset_min = j->claim.utc_offset_min;
    }
    int64_t opens = now;
    if (loa_schedule_next_open(&j->c->sw, &z, now, &opens) < 0 || opens <= now)
        return false; /* inside (or not computable: the service's timing stands) */
    *opens_out = opens;
    return true;
}

static void start_job(struct loa_dispatch *d, struct dsrc *c, struct loa_claim *claim, int64_t now)
{
    struct job *j = loa_calloc(1, sizeof(*j));
    j->d = d;
    j->c = c;
    j->claim = *claim;
    memset(claim, 0, sizeof(*claim));
    d->in_flight++; /* the campaign's and the Page's were counted when claimed (reserve) */
    atomic_store_explicit(&d->in_flight_pub, d->in_flight, memory_order_relaxed);
    STAT_ADD(d, claimed);
    int64_t opens;
    if (step_window_closed(j, now, &opens)) {
        /* Held up past its send window (a busy Page): it waits for the next opening, and
         * this attempt does not count. */
        struct loa_delivery_outcome o = {
            .state = LOA_DELIVERY_PENDING, .at = now, .next_at = opens, .refund_attempt = true
        };
        settle(d, j, &o);
        return;
    }
    struct loa_rules_decision dec;
    decide(d, j, now, &dec);
    if (!dec.allowed) {
        settle_simple(d, j, LOA_DELIVERY_SKIPPED, dec.code, dec.rule_id);
        return;
    }
    if (j->claim.attrs)
        j->attrs = json_loads(j->claim.attrs, 0, NULL);
    /* The platform stamps the message when it receives it, after this: a read watermark at or
     * after the platform's time is then also after ours. */
    j->submitted_at = now;
    int rc = submit_block(d, j, &dec);
    if (rc == LOA_EINVAL || rc == LOA_ETOOBIG || rc == LOA_ERANGE) {
        settle_simple(d, j, LOA_DELIVERY_FAILED, "encode", NULL);
    } else if (rc < 0) {
        /* Nothing was written: back to pending, this attempt does not count. */
        struct loa_delivery_outcome o = {
            .state = LOA_DELIVERY_PENDING, .at = now, .next_at = now + 1000, .refund_attempt = true
        };
        settle(d, j, &o);
    }
}

/* Sets bucket b to rate (messages/s) when it changed; a new bucket starts empty. */
static void bucket_rate(struct loa_bucket *b, int64_t *mrate, double rate, int64_t now)
{
    if (rate < 0.001)
        rate = 0.001;
    int64_t m = (int64_t)(rate * 1000.0);
    if (*mrate == m)
        return;
    double burst = rate >= 1 ? rate : 1;
    if (*mrate == 0) {
        loa_bucket_init(b, rate, burst, now);
        b->tokens = 0; /* a (re)start resumes at the rate, never with a burst */
    } else {
        loa_bucket_set_rate(b, rate, burst, now);
    }
    *mrate = m;
}

/* Whole tokens of bucket b at now, or 0 with *wake_out moved to when one will be there. */
static int64_t bucket_tokens(struct loa_bucket *b, int64_t now, int64_t *wake_out)
{
    int64_t t = loa_bucket_available(b, now);
    if (t == 0) {
        int64_t w = now + loa_bucket_wait_ms(b, now);
        if (b->at > now && b->at + 1 > w)
            w = b->at + 1; /* held: nothing refills before the hold ends */
        *wake_out = w < *wake_out ? w : *wake_out;
    }
    return t;
}

/* The buckets a claim of campaign c takes from: the Page's, Meta's media rate for audio and
 * video (shared by the Page's media campaigns) and the campaign's own when it asks for less.
 * Sets their rates at now; returns how many (out gets them). */
static size_t buckets_of(struct loa_dispatch *d, struct dsrc *c, int64_t now,
                         struct loa_bucket *out[3])
{
    struct dpage *p = c->page;
    const struct loa_rules_send_rate *sr = &d->rates;
    double share = loa_throttle_share(&p->thr, now);
    /* Never above what Meta allows per Page (the rules' send-rate entry), whatever a Page or
     * campaign asks for; less after rate-limit answers (the throttle). */
    double rate = (double)p->send_rate;
    if (sr->calls_per_second > 0 && rate > (double)sr->calls_per_second)
        rate = (double)sr->calls_per_second;
    bucket_rate(&p->bucket, &p->bucket_mrate, rate * share, now);
    size_t n = 0;
    out[n++] = &p->bucket;
    if (c->media && sr->media_calls_per_second > 0) {
        bucket_rate(&p->media, &p->media_mrate, (double)sr->media_calls_per_second * share, now);
        out[n++] = &p->media;
    }
    if (c->rate > 0 && (double)c->rate < rate) {
        bucket_rate(&c->bucket, &c->bucket_mrate, (double)c->rate * share, now);
        out[n++] = &c->bucket;
    }
    return n;
}

/* How many deliveries campaign c may start now; *wake_out gets when to look again. */
static int64_t allowance(struct loa_dispatch *d, struct dsrc *c, int64_t now, int64_t *wake_out)
{
    struct dpage *p = c->page;
    if (!p->token)
        return 0;
    if (p->thr.hold_until > now) {
        *wake_out = p->thr.hold_until < *wake_out ? p->thr.hold_until : *wake_out;
        return 0;
    }
    if (c->window_from >= 0 && c->window_to >= 0) {
        if (!p->tz_at || now - p->tz_at > TZ_TTL_MS) {
            if (loa_tz_offset(p->tz, now, &p->utc_offset_min) < 0)
                p->utc_offset_min = 0;
            p->tz_at = now;
        }
        int64_t open = 0;
        if (!loa_pacing_in_window(c->window_from, c->window_to, now, p->utc_offset_min, &open)) {
            *wake_out = open < *wake_out ? open : *wake_out;
            return 0;
        }
    }
    if (c->batch_until > now) {
        *wake_out = c->batch_until < *wake_out ? c->batch_until : *wake_out;
        return 0;
    }
    int64_t n = CLAIM_MAX;
    if (c->batch_size > 0 && c->batch_size - c->batch_count < n)
        n = c->batch_size - c->batch_count;
    if (!p->used_at || now - p->used_at > LEDGER_TTL_MS) {
        int rc = loa_store_ledger_count(d->st, p->ref, now - LOA_DAY_MS, &p->used);
        if (rc == 0)
            rc = loa_store_ledger_oldest(d->st, p->ref, now - LOA_DAY_MS, &p->oldest);
        if (rc < 0) {
            /* Not knowing the Page's usage, send nothing for it until it can be read. */
            LOA_ERROR("dispatch", "cannot read the send ledger", "page=%s error=%s", p->page_id,
                      loa_err_name(rc));
            *wake_out = now + LEDGER_TTL_MS < *wake_out ? now + LEDGER_TTL_MS : *wake_out;
            return 0;
        }
        p->used_at = now;
        p->sent_since = 0;
    }
    /* In flight includes what this round has claimed for the Page's other campaigns. */
    int64_t cap = loa_pacing_cap_allowance(p->cap, p->used + p->sent_since, p->in_flight);
    if (cap == 0) {
        int64_t reopen = p->oldest ? loa_pacing_cap_reopens(p->oldest) : now + LEDGER_TTL_MS;
        *wake_out = reopen < *wake_out ? reopen : *wake_out;
        return 0;
    }
    n = cap < n ? cap : n;
    struct loa_bucket *b[3];
    size_t nb = buckets_of(d, c, now, b);
    for (size_t i = 0; i < nb && n > 0; i++) {
        int64_t t = bucket_tokens(b[i], now, wake_out);
        n = t < n ? t : n;
    }
    return n;
}

/* Takes what got claimed deliveries of c use from its Page at once, so the Page's other
 * campaigns in the same round see it: tokens from every bucket (a message of k blocks is k
 * requests: the ones beyond the first as debt that holds the next claims back), room under
 * the cap, the batch. */
static void reserve(struct loa_dispatch *d, struct dsrc *c, int64_t got, int64_t now)
{
    struct loa_bucket *b[3];
    size_t nb = buckets_of(d, c, now, b);
    for (size_t i = 0; i < nb; i++) {
        loa_bucket_take(b[i], now, got);
        if (c->nblocks > 1)
            loa_bucket_charge(b[i], now, got * ((int64_t)c->nblocks - 1));
    }
    c->in_flight += got;
    c->page->in_flight += got;
    if (c->batch_size > 0) {
        c->batch_count += got;
        if (c->batch_count >= c->batch_size) {
            c->batch_count = 0;
            c->batch_until = now + c->batch_interval_ms;
        }
    }
}

/*
 * One round: claims for every campaign that may send now, in one transaction, up to the room
 * left under the concurrency limit (so a crash can leave at most that many in flight), commits
 * it — the checkpoint — and only then submits. Campaigns are visited round robin so that, with
 * more Pages than room, none waits behind the others.
 */
static void send_round(struct loa_dispatch *d, int64_t now, int64_t *wake_out)
{
    size_t room =
        d->in_flight < (int64_t)d->concurrency ? d->concurrency - (size_t)d->in_flight : 0;
    if (room == 0 || d->nsrcs == 0) {
        txn_commit(d); /* the settles of the last completions */
        return;
    }
    size_t total = 0, start = d->next_src % d->nsrcs;
    if (txn_begin(d) < 0)
        return;
    for (size_t k = 0; k < d->nsrcs && total < room; k++) {
        size_t i = (start + k) % d->nsrcs;
        struct dsrc *c = d->srcs[i];
        if (!c->running || !c->msg || c->idle)
            continue;
        int64_t n = allowance(d, c, now, wake_out);
        if (n > (int64_t)(room - total))
            n = (int64_t)(room - total);
        if (n <= 0)
            continue;
        size_t got = 0;
        int rc = loa_store_outbox_claim(d->tx, c->page->ref, c->kind, c->id, now, (size_t)n,
                                        d->claims + total, &got);
        if (rc < 0) {
            LOA_ERROR("dispatch", "cannot claim deliveries", "campaign=%lld error=%s",
                      (long long)c->id, loa_err_name(rc));
            continue;
        }
        for (size_t m = 0; m < got; m++)
            d->claim_srcs[total + m] = c;
        if (got > 0)
            reserve(d, c, (int64_t)got, now);
        total += got;
        d->next_src = i + 1;
        c->drained = (int64_t)got < n;
        if (!c->drained)
            *wake_out = now; /* more may be due at once */
        else if (c->kind == LOA_SOURCE_SEQUENCE)
            c->idle = true; /* until a drain queues more of it */
    }
    if (txn_commit(d) < 0) {
        /* Not checkpointed, so not submitted: they are still pending in the store. The tokens
         * stay spent (it only slows the Page a little); the room is given back. */
        for (size_t i = 0; i < total; i++) {
            d->claim_srcs[i]->in_flight--;
            d->claim_srcs[i]->page->in_flight--;
            loa_claim_release(&d->claims[i]);
        }
        *wake_out = now + 1000;
        return;
    }
    for (size_t i = 0; i < total; i++)
        start_job(d, d->claim_srcs[i], &d->claims[i], now);
}

static bool person_gone(const char *reason)
{
    static const char *const gone[] = { "blocked", "no_matching_user", "no_such_object",
                                        "no_profile" };
    for (size_t i = 0; reason && i < sizeof(gone) / sizeof(gone[0]); i++)
        if (strcmp(reason, gone[i]) == 0)
            return true;
    return false;
}

static void on_done(void *arg, const struct loa_client_result *r)
{
    struct loa_dispatch *d = arg;
    struct job *j = r->user;
    int64_t now = loa_now_ms();
    struct dpage *p = j->c->page;
    if (r->action == LOA_CLIENT_SLOW_PAGE && loa_throttle_limited(&p->thr, now, r->delay_ms)) {
        hold_buckets(p);
        store_throttle(d, p);
        LOA_WARN("dispatch", "Page slowed down", "page=%s reason=%s share=%.2f hold_ms=%lld",
                 p->page_id, r->reason, p->thr.share,
                 (long long)(p->thr.hold_until > now ? p->thr.hold_until - now : 0));
    }
    /* Only an answer to a request sent after the last cut says the limit eased; the answers
     * to those already on their way say nothing new. */
    if (r->accepted && j->submitted_at >= p->thr.cut_at && loa_throttle_accepted(&p->thr, now))
        store_throttle(d, p);
    if (r->accepted) {
        if (j->block == 0 && r->message_id)
            j->first_mid = loa_strdup(r->message_id);
        if (j->block + 1 < j->c->nblocks) {
            j->block++;
            struct loa_rules_decision dec;
            decide(d, j, now, &dec);
            if (dec.allowed && submit_block(d, j, &dec) == 0)
                return;
            struct loa_delivery_outcome o = { .state = LOA_DELIVERY_SENT,
                                              .reason = "partial",
                                              .mid = j->first_mid,
                                              .at = j->submitted_at,
                                              .text = j->text };
            settle(d, j, &o);
            return;
        }
        struct loa_delivery_outcome o = {
            .state = LOA_DELIVERY_SENT, .mid = j->first_mid, .at = j->submitted_at, .text = j->text
        };
        settle(d, j, &o);
        return;
    }
    if (j->block > 0) {
        /* The person has the first blocks: the delivery is sent, with what went wrong. */
        struct loa_delivery_outcome o = { .state = LOA_DELIVERY_SENT,
                                          .reason = "partial",
                                          .mid = j->first_mid,
                                          .at = j->submitted_at,
                                          .text = j->text };
        settle(d, j, &o);
        return;
    }
    switch (r->action) {
    case LOA_CLIENT_DONE: /* not accepted but done cannot happen; treat as unknown */
    case LOA_CLIENT_UNKNOWN:
        LOA_WARN("dispatch", "delivery outcome unknown", "delivery=%lld reason=%s",
                 (long long)j->claim.id, r->reason);
        settle_simple(d, j, LOA_DELIVERY_UNKNOWN, r->reason, NULL);
        break;
    case LOA_CLIENT_RETRY: {
        int max = d->o.max_attempts > 0 ? d->o.max_attempts : 5;
        if (j->claim.attempts >= max) {
            settle_simple(d, j, LOA_DELIVERY_FAILED, r->reason, NULL);
            break;
        }
        d->rnd = d->rnd * 6364136223846793005ULL + 1442695040888963407ULL;
        int64_t wait = loa_client_backoff_ms(d->o.retry_base_ms > 0 ? d->o.retry_base_ms : 1000,
                                             d->o.retry_cap_ms > 0 ? d->o.retry_cap_ms : 300000,
                                             (unsigned)(j->claim.attempts - 1), d->rnd);
        if (r->delay_ms > wait)
            wait = r->delay_ms;
        struct loa_delivery_outcome o = {
            .state = LOA_DELIVERY_PENDING, .reason = r->reason, .at = now, .next_at = now + wait
        };
        settle(d, j, &o);
        break;
    }
    case LOA_CLIENT_SLOW_PAGE: {
        struct loa_delivery_outcome o = { .state = LOA_DELIVERY_PENDING,
                                          .reason = r->reason,
                                          .at = now,
                                          .next_at =
                                              p->thr.hold_until > now ? p->thr.hold_until : now,
                                          .refund_attempt = true };
        settle(d, j, &o);
        break;
    }
    case LOA_CLIENT_SKIP_PERSON:
        if (person_gone(r->reason)) {
            int rc = txn_begin(d);
            if (rc == 0)
                rc = loa_store_subscriber_set_unreachable(d->tx, j->claim.subscriber_id, r->reason,
                                                          loa_now_ms());
            if (rc < 0)
                LOA_ERROR("dispatch", "cannot mark the person unreachable",
                          "subscriber=%lld error=%s", (long long)j->claim.subscriber_id,
                          loa_err_name(rc));
        }
        settle_simple(d, j, LOA_DELIVERY_SKIPPED, r->reason, NULL);
        break;
    case LOA_CLIENT_STOP_PAGE: {
        struct loa_delivery_outcome o = { .state = LOA_DELIVERY_PENDING,
                                          .reason = r->reason,
                                          .at = now,
                                          .next_at = now,
                                          .refund_attempt = true };
        char reason[96];
        snprintf(reason, sizeof(reason), "stop_page:%s", r->reason ? r->reason : "unknown");
        int64_t n = 0;
        int rc = txn_begin(d);
        if (rc == 0)
            rc = loa_campaign_pause_page(d->tx, p->ref, reason, now, &n);
        if (rc < 0)
            LOA_ERROR("dispatch", "cannot pause the Page's campaigns", "page=%s error=%s",
                      p->page_id, loa_err_name(rc));
        for (size_t i = 0; i < d->nsrcs; i++)
            if (d->srcs[i]->page == p)
                d->srcs[i]->running = false;
        if (!p->stopped_at) { /* sequences and replies wait for a new token */
            p->stopped_at = now;
            store_throttle(d, p);
        }
        LOA_ERROR("dispatch", "Page stopped; its campaigns are paused",
                  "page=%s reason=%s campaigns=%lld", p->page_id, reason, (long long)n);
        settle(d, j, &o);
        break;
    }
    }
}

/* ---- Lifecycle ---------------------------------------------------------------------------- */

void loa_dispatch_opts_from(struct loa_dispatch_opts *o, const struct loa_settings *s)
{
    o->graph_url = s->graph_url;
    o->graph_version = s->graph_version;
    o->concurrency = (int)s->dispatch_concurrency;
    o->margin_ms = s->dispatch_margin_s > 0 ? s->dispatch_margin_s * 1000 : -1;
    o->reconcile_grace_ms = s->dispatch_reconcile_grace_s * 1000;
    o->seq_catchup_ms = s->sequence_catchup_s > 0 ? s->sequence_catchup_s * 1000 : -1;
    o->seq_window_margin_ms = s->sequence_window_margin_s * 1000;
}

/* The reconciler's verdict on an unknown delivery: a sequence step's person moves on, or gets
 * the step again when it was not sent (nothing for other sources). */
static int reconciled(struct loa_txn *tx, int64_t delivery_id, bool sent, int64_t at, void *ud)
{
    struct loa_dispatch *d = ud;
    return loa_sequence_reconciled(tx, &d->seq, delivery_id, sent, at, loa_now_ms());
}

int loa_dispatch_new(const struct loa_dispatch_opts *o, struct loa_dispatch **out)
{
    *out = NULL;
    if (!o->store || !o->rules)
        return LOA_EINVAL;
    struct loa_dispatch *d = loa_calloc(1, sizeof(*d));
    d->o = *o;
    d->store_opts = *o->store;
    d->store_opts.create = false;
    d->graph_url = loa_strdup(o->graph_url ? o->graph_url : "https://graph.facebook.com");
    d->graph_version = loa_strdup(o->graph_version ? o->graph_version : "v25.0");
    d->o.graph_url = d->graph_url;
    d->o.graph_version = d->graph_version;
    d->o.store = &d->store_opts;
    if (d->store_opts.cache_kib == 0)
        d->store_opts.cache_kib = 4096; /* small: it commits often (docs/benchmarks.md) */
    d->concurrency = o->concurrency > 0 ? (size_t)o->concurrency : DEFAULT_CONCURRENCY;
    d->margin_ms = o->margin_ms > 0 ? o->margin_ms : o->margin_ms < 0 ? 0 : DEFAULT_MARGIN_MS;
    loa_sequence_opts_default(&d->seq);
    d->seq.rules = o->rules;
    d->seq.on_queued = seq_queued;
    d->seq.on_queued_ud = d;
    d->seq.lookahead_ms = SEQ_LOOKAHEAD_MS;
    if (o->seq_catchup_ms)
        d->seq.catchup_ms = o->seq_catchup_ms > 0 ? o->seq_catchup_ms : 0;
    if (o->seq_window_margin_ms > 0)
        d->seq.window_margin_ms = o->seq_window_margin_ms;
    d->claims = loa_calloc(d->concurrency, sizeof(*d->claims));
    d->claim_srcs = loa_calloc(d->concurrency, sizeof(*d->claim_srcs));
    randombytes_buf(&d->rnd, sizeof(d->rnd));
    loa_buf_init(&d->body, BODY_MAX);
    int rc;
    struct loa_diags diags;
    loa_diags_init(&diags, 4);
    rc = loa_store_open(&d->store_opts, &d->st, &diags);
    loa_diags_release(&diags);
    if (rc < 0)
        goto fail;
    /* One sender per Page: two would each pace it at its full rate, and one's recovery would
     * turn the other's requests in flight into unknowns. */
    if ((rc = loa_store_lease_acquire(d->st, &d->lease)) < 0)
        goto fail;
    struct loa_client_options co;
    loa_client_options_init(&co);
    co.base_url = d->graph_url;
    co.api_version = d->graph_version;
    co.slow_page_delay_ms = 0; /* no hint from Graph: the Page's throttle decides */
    co.done = on_done;
    co.done_arg = d;
    if ((rc = loa_client_new(&co, &d->client)) < 0)
        goto fail;
    struct loa__reconcile_opts ro = { .st = d->st,
                                      .tx = &d->tx,
                                      .graph_url = d->graph_url,
                                      .graph_version = d->graph_version,
                                      .grace_ms = o->reconcile_grace_ms,
                                      .only_campaign = o->only_campaign != 0,
                                      .verdict = reconciled,
                                      .verdict_ud = d };
    if ((rc = loa__reconcile_new(&ro, &d->rec)) < 0)
        goto fail;
    /* With a reconciler, a step whose send ended unknown waits for its verdict. */
    d->seq.await_reconcile = d->rec != NULL;
    *out = d;
    return 0;
fail:
    loa_dispatch_free(d);
    return rc;
}

void loa_dispatch_free(struct loa_dispatch *d)
{
    if (!d)
        return;
    loa_client_free(d->client); /* cancels what is in flight: the callbacks settle it */
    d->client = NULL;
    loa__reconcile_free(d->rec);
    loa_free(d->due.v);
    txn_commit(d);
    for (size_t i = 0; i < d->nsrcs; i++) {
        loa_msg_free(d->srcs[i]->msg);
        loa_free(d->srcs[i]);
    }
    loa_free(d->srcs);
    loa_free(d->claims);
    loa_free(d->claim_srcs);
    for (size_t i = 0; i < d->npages; i++)
        page_free(d->pages[i]);
    loa_free(d->pages);
    loa_store_lease_release(d->lease);
    loa_store_close(d->st);
    loa_buf_release(&d->body);
    loa_free(d->graph_url);
    loa_free(d->graph_version);
    loa_free(d);
}

static bool only_campaign_over(struct loa_dispatch *d)
{
    if (!d->o.only_campaign || d->in_flight > 0)
        return false;
    struct loa_campaign c;
    if (loa_store_campaign_get(d->st, d->o.only_campaign, &c) < 0)
        return true;
    bool over = c.status != LOA_CAMPAIGN_RUNNING && c.status != LOA_CAMPAIGN_SCHEDULED;
    loa_campaign_release(&c);
    return over;
}

int loa_dispatch_run(struct loa_dispatch *d, volatile sig_atomic_t *stop)
{
    int64_t tick_ms = d->o.tick_ms > 0 ? d->o.tick_ms : 500;
    if (d->o.recover) {
        /* Every in_flight delivery, whatever its campaign and its status: this dispatcher
         * holds the store's one lock, so they were left by one that died. */
        int64_t n = 0;
        struct loa_txn *tx;
        int rc = loa_store_begin(d->st, &tx);
        if (rc == 0)
            rc = loa_store_end(tx, loa_store_delivery_recover(tx, 0, loa_now_ms(), &n));
        if (rc < 0)
            return rc;
        if (n > 0)
            LOA_WARN("dispatch", "deliveries in flight at the last stop are now unknown",
                     "count=%lld", (long long)n);
    }
    if (!d->o.only_campaign) {
        /* People whose step's send ended while nobody moved them on (a stop between the
         * settle and the step after it, an echo that settled it first) move on now. */
        int64_t n = 0;
        int rc = loa_sequence_resume(d->st, &d->seq, loa_now_ms(), &n);
        if (rc < 0)
            return rc;
        if (n > 0)
            LOA_INFO("dispatch", "people moved on in their sequences after a stop", "count=%lld",
                     (long long)n);
    }
    while (!*stop && !atomic_load(&d->stop_flag)) {
        int64_t now = loa_now_ms();
        if (atomic_exchange(&d->kick, false) || now >= d->next_tick) {
            tick(d, now);
            d->next_tick = now + tick_ms;
            if (only_campaign_over(d))
                break;
        }
        if (!d->o.only_campaign && now >= d->seq_next)
            drain_sequences(d, now);
        due_release(d, now);
        if (d->seq_new_step) { /* a step met for the first time: its source now, not at the
                                  next tick */
            d->seq_new_step = false;
            if (loa_store_seq_steps_live(d->st, load_step, d) < 0)
                LOA_ERROR("dispatch", "cannot read sequence steps", NULL);
        }
        int64_t wake = d->next_tick < d->seq_next ? d->next_tick : d->seq_next;
        if (d->due.n && d->due.v[0].due < wake)
            wake = d->due.v[0].due;
        send_round(d, now, &wake);
        int64_t wait = wake - loa_now_ms();
        if (wait < 0)
            wait = 0;
        if (wait > tick_ms)
            wait = tick_ms;
        loa_client_run(d->client, (int)wait);
        loa__reconcile_step(d->rec, loa_now_ms());
        /* Completions of this round settled in an open transaction; the next round commits
         * them together with its claims (one commit per round). A campaign may have completed
         * when nothing of it is in flight and its last claim found no more due. */
        for (size_t i = 0; i < d->nsrcs; i++) {
            struct dsrc *c = d->srcs[i];
            if (c->kind != LOA_SOURCE_CAMPAIGN || !c->check_done || c->in_flight > 0 || !c->drained)
                continue;
            c->check_done = false;
            bool done = false;
            if (txn_begin(d) == 0 &&
                loa_store_campaign_finish_if_done(d->tx, c->id, loa_now_ms(), &done) == 0 && done) {
                c->running = false;
                LOA_INFO("dispatch", "campaign completed", "campaign=%lld", (long long)c->id);
                d->next_tick = 0;
            }
        }
    }
    /* Let what is in flight finish, then settle it. */
    int64_t deadline = loa_mono_ms() + DRAIN_MS;
    while (d->in_flight > 0 && loa_client_in_flight(d->client) > 0 && loa_mono_ms() < deadline) {
        loa_client_run(d->client, 100);
        txn_commit(d);
    }
    loa_client_cancel_all(d->client);
    txn_commit(d);
    return 0;
}

static void *thread_main(void *arg)
{
    struct loa_dispatch *d = arg;
    static volatile sig_atomic_t never;
    d->rc = loa_dispatch_run(d, &never);
    return NULL;
}

int loa_dispatch_start(struct loa_dispatch *d)
{
    return pthread_create(&d->thread, NULL, thread_main, d) == 0 ? 0 : LOA_EIO;
}

void loa_dispatch_wakeup(struct loa_dispatch *d)
{
    if (!d)
        return;
    atomic_store(&d->kick, true);
    loa_client_wakeup(d->client);
}

void loa_dispatch_request_stop(struct loa_dispatch *d)
{
    if (!d)
        return;
    atomic_store(&d->stop_flag, 1);
    loa_client_wakeup(d->client);
}

void loa_dispatch_stop(struct loa_dispatch *d)
{
    if (!d)
        return;
    atomic_store(&d->stop_flag, 1);
    loa_client_wakeup(d->client);
    pthread_join(d->thread, NULL);
    loa_dispatch_free(d);
}

void loa_dispatch_get_stats(const struct loa_dispatch *d, struct loa_dispatch_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!d)
        return;
    out->claimed = atomic_load_explicit(&d->stats.claimed, memory_order_relaxed);
    out->sent = atomic_load_explicit(&d->stats.sent, memory_order_relaxed);
    out->failed = atomic_load_explicit(&d->stats.failed, memory_order_relaxed);
    out->skipped = atomic_load_explicit(&d->stats.skipped, memory_order_relaxed);
    out->unknown = atomic_load_explicit(&d->stats.unknown, memory_order_relaxed);
    out->retried = atomic_load_explicit(&d->stats.retried, memory_order_relaxed);
    out->requests = atomic_load_explicit(&d->stats.requests, memory_order_relaxed);
    out->in_flight = (uint64_t)atomic_load_explicit(&d->in_flight_pub, memory_order_relaxed);
}
