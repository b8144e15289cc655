/* SPDX-License-Identifier: MIT */
/*
 * The profile worker: one thread, its own store connection and its own Graph client
 * (include/loa/client.h), fetching the profile of each new person in the background so the
 * webhook never waits for Graph. The webhook queues subscriber ids (bounded queue, never
 * blocks); the worker submits look-ups without blocking and drives them with
 * loa_client_run(); each completion stores the profile (names, locale, gender, UTC offset).
 * A look-up that fails is counted and logged. When it failed for a passing reason
 * (`profile_fetched_at` stays 0) the sweep tries it again: every webhook.profile_sweep_s the
 * worker walks the subscribers without a profile, first seen over a minute ago, once each.
 * A person Graph has no profile for (the client's skip_person answer) is marked looked up, so
 * no sweep asks again.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include <loa/alloc.h>
#include <loa/client.h>
#include <loa/clock.h>
#include <loa/config.h>
#include <loa/err.h>
#include <loa/log.h>

#include "serve_int.h"

#define QUEUE_CAP   10000
#define BATCH       64
#define SWEEP_BATCH 256
#define SWEEP_GRACE_MS                                                    \
    (60 * LOA_SECOND_MS) /* younger ones are the webhook path's (or less, \
                            with a shorter sweep interval) */

struct profile_worker {
    struct serve_app *app;
    pthread_t thread;
    pthread_mutex_t lock;     /* guards queue, n, head, stop */
    int64_t queue[QUEUE_CAP]; /* ring of subscriber ids */
    size_t head, n;
    bool stop;
    struct loa_client *client; /* owned by the worker thread once started */
    int64_t sweep_ms;          /* 0 = no sweep */
    int64_t next_sweep;        /* monotonic ms */
    int64_t sweep_after;       /* cursor: subscriber id */
};

struct job {
    struct profile_worker *w;
    int64_t subscriber_id;
};

/* Stores a looked-up profile, in a transaction of its own. */
static int set_profile(struct loa_store *st, int64_t id, const struct loa_profile_input *in)
{
    struct loa_txn *tx;
    int rc = loa_store_begin(st, &tx);
    return rc < 0 ? rc : loa_store_end(tx, loa_store_subscriber_set_profile(tx, id, in));
}

static void on_done(void *arg, const struct loa_client_result *r)
{
    struct job *j = r->user;
    struct profile_worker *w = arg;
    if (r->profile) {
        const struct loa_client_profile *p = r->profile;
        struct loa_profile_input in = {
            .first_name = p->first_name,
            .last_name = p->last_name,
            .locale = p->locale,
            .gender = p->gender,
            .utc_offset_min =
                p->has_timezone ? (int32_t)(p->timezone * 60.0) : LOA_UTC_OFFSET_UNKNOWN,
            .at = loa_now_ms(),
        };
        struct loa_store *st = serve_store(w->app);
        if (st && set_profile(st, j->subscriber_id, &in) == 0)
            atomic_fetch_add(&w->app->profiles_fetched, 1);
        else
            atomic_fetch_add(&w->app->profiles_failed, 1);
    } else {
        atomic_fetch_add(&w->app->profiles_failed, 1);
        LOA_INFO("profile", "profile look-up failed", "subscriber=%lld http=%d code=%d reason=%s",
                 (long long)j->subscriber_id, r->http_status, r->code, r->reason ? r->reason : "-");
        if (r->action == LOA_CLIENT_SKIP_PERSON) {
            /* Graph has no profile for this person: looked up, nothing to store. */
            struct loa_profile_input none = { .utc_offset_min = LOA_UTC_OFFSET_UNKNOWN,
                                              .at = loa_now_ms() };
            struct loa_store *st = serve_store(w->app);
            if (st)
                set_profile(st, j->subscriber_id, &none);
        }
    }
    loa_free(j);
}

struct find_page_ud {
    int64_t ref;
    char page_id[64];
};

static int find_page(const struct loa_page *p, void *ud)
{
    struct find_page_ud *f = ud;
    if (p->id != f->ref)
        return 0;
    snprintf(f->page_id, sizeof(f->page_id), "%s", p->page_id);
    return 1;
}

/* Submits the look-up for one subscriber (worker thread). */
static void submit(struct profile_worker *w, struct loa_store *st, int64_t id)
{
    struct loa_subscriber s;
    if (loa_store_subscriber_get(st, id, &s) < 0)
        return;
    struct find_page_ud f = { .ref = s.page_ref };
    char *token = NULL, *secret = NULL;
    loa_store_page_list(st, find_page, &f);
    if (f.page_id[0] && s.psid && loa_store_page_secrets(st, f.page_id, &token, &secret) == 0 &&
        token) {
        struct job *j = loa_malloc(sizeof(*j));
        j->w = w;
        j->subscriber_id = id;
        struct loa_client_request req = {
            .page_id = f.page_id, .access_token = token, .app_secret = secret, .user = j
        };
        if (loa_client_submit_profile(w->client, &req, s.psid,
                                      "first_name,last_name,locale,timezone,gender") < 0) {
            atomic_fetch_add(&w->app->profiles_failed, 1);
            loa_free(j);
        }
    } else {
        LOA_DEBUG("profile", "no page token; profile not fetched", "subscriber=%lld",
                  (long long)id);
    }
    if (token)
        sodium_memzero(token, strlen(token));
    loa_free(token);
    if (secret)
        sodium_memzero(secret, strlen(secret));
    loa_free(secret);
    loa_subscriber_release(&s);
}

/* Submits look-ups for the next subscribers still without a profile (worker thread). */
static void sweep(struct profile_worker *w, struct loa_store *st)
{
    int64_t now = loa_mono_ms();
    if (!w->sweep_ms || now < w->next_sweep || loa_client_in_flight(w->client) > BATCH)
        return;
    int64_t ids[SWEEP_BATCH];
    size_t n = 0;
    int64_t grace = w->sweep_ms < SWEEP_GRACE_MS ? w->sweep_ms : SWEEP_GRACE_MS;
    if (loa_store_profiles_missing(st, w->sweep_after, loa_now_ms() - grace, ids, SWEEP_BATCH, &n) <
        0) {
        w->next_sweep = now + w->sweep_ms;
        return;
    }
    for (size_t i = 0; i < n; i++)
        submit(w, st, ids[i]);
    if (n > 0)
        LOA_DEBUG("profile", "sweep", "retrying=%zu after=%lld", n, (long long)w->sweep_after);
    if (n == SWEEP_BATCH) {
        w->sweep_after = ids[n - 1]; /* more to walk: carry on as look-ups complete */
    } else {
        w->sweep_after = 0; /* a whole pass done: the next one after the interval */
        w->next_sweep = now + w->sweep_ms;
    }
}

static void *run(void *arg)
{
    struct profile_worker *w = arg;
    struct loa_store *st = serve_store(w->app);
    for (;;) {
        int64_t ids[BATCH];
        size_t n = 0;
        pthread_mutex_lock(&w->lock);
        bool stop = w->stop;
        while (n < BATCH && w->n > 0) {
            ids[n++] = w->queue[w->head];
            w->head = (w->head + 1) % QUEUE_CAP;
            w->n--;
        }
        pthread_mutex_unlock(&w->lock);
        if (stop)
            break;
        for (size_t i = 0; i < n && st; i++)
            submit(w, st, ids[i]);
        if (n == 0 && st)
            sweep(w, st);
        loa_client_run(w->client, n == BATCH ? 0 : 200);
    }
    return NULL;
}

int serve_profiles_start(struct serve_app *app, struct profile_worker **out)
{
    *out = NULL;
    struct profile_worker *w = loa_calloc(1, sizeof(*w));
    w->app = app;
    w->sweep_ms = app->set->webhook_profile_sweep_s * LOA_SECOND_MS;
    w->next_sweep = loa_mono_ms() + w->sweep_ms;
    pthread_mutex_init(&w->lock, NULL);
    struct loa_client_options o;
    loa_client_options_init(&o);
    o.base_url = app->set->graph_url;
    o.api_version = app->set->graph_version;
    o.done = on_done;
    o.done_arg = w;
    int rc = loa_client_new(&o, &w->client);
    if (rc == 0 && pthread_create(&w->thread, NULL, run, w) != 0)
        rc = LOA_EIO;
    if (rc < 0) {
        loa_client_free(w->client);
        pthread_mutex_destroy(&w->lock);
        loa_free(w);
        return rc;
    }
    *out = w;
    return 0;
}

void serve_profiles_enqueue(struct profile_worker *w, int64_t subscriber_id)
{
    pthread_mutex_lock(&w->lock);
    bool full = w->n == QUEUE_CAP;
    if (!full) {
        w->queue[(w->head + w->n) % QUEUE_CAP] = subscriber_id;
        w->n++;
    }
    pthread_mutex_unlock(&w->lock);
    if (full)
        atomic_fetch_add(&w->app->profiles_dropped, 1);
    else
        loa_client_wakeup(w->client);
}

void serve_profiles_stop(struct profile_worker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_mutex_unlock(&w->lock);
    loa_client_wakeup(w->client);
    pthread_join(w->thread, NULL);
    loa_client_free(w->client); /* cancels what is in flight; callbacks free their jobs */
    pthread_mutex_destroy(&w->lock);
    loa_free(w);
}
