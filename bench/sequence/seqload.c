/* SPDX-License-Identifier: MIT */
/*
 * The loa side's helper for bench/sequence (built by run.sh with cc against build/'s static
 * libraries; not part of loa). Two jobs, both through loa's own store port and sequence service:
 *
 *   seqload enrol STORE T0_MS SPREAD_MS SEED [BATCH]
 *       Every subscriber with a PSID of every Page that has a sequence enters the Page's first
 *       sequence (lowest id), waiting for its first step, due uniformly in [T0, T0 + SPREAD]
 *       (ms; xorshift32 from SEED, as bench/sequence/bullmq.js draws them), inserted with
 *       loa_store_enrol_insert() in transactions of BATCH (default 10,000) in subscriber id
 *       order (so in random due order). Prints one JSON object: n, insert_ms, first_due,
 *       last_due, sequences.
 *
 *   seqload drain STORE N [LIMIT]
 *       Drains timers into the outbox with loa_sequence_drain(defaults, loa_now_ms(), LIMIT
 *       (default 2000)), each call in a transaction of its own, in a loop, back to back while
 *       a call returns LIMIT, else 1 ms apart, until N timers have been handled (or 10 s pass
 *       with none). Run it on a store whose timers are all due (a copy, after the serve run):
 *       it measures the raw drain capacity of the service and the store, with no sender.
 *       Prints one JSON object: n, ms, busy_ms, calls, steps_per_s, max_call_ms.
 *
 * The store's key: LOA_SECRET_KEY or STORE.key, as loa finds it. The store is opened durable
 * (synchronous=FULL), loa's default (store.durable=true), with loa serve's dispatcher's 4 MiB
 * page cache for drain (SEQLOAD_CACHE_KIB=K to try another; 0 = the store's 64 MiB).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <loa/clock.h>
#include <loa/diag.h>
#include <loa/err.h>
#include <loa/sequence.h>
#include <loa/store.h>

static int open_store(const char *path, int cache_kib, struct loa_store **st)
{
    struct loa_store_opts o = { .path = path, .durable = true, .cache_kib = cache_kib };
    struct loa_diags d;
    loa_diags_init(&d, 8);
    const char *secret = getenv("LOA_SECRET_KEY");
    int rc = loa_store_key_load(secret ? secret : "", "", path, false, o.key, &d);
    if (rc == 0)
        rc = loa_store_open(&o, st, &d);
    if (rc < 0)
        loa_diags_print(&d, stderr, "seqload: store");
    loa_diags_release(&d);
    return rc;
}

/* ---- enrol -------------------------------------------------------------------------------- */

struct page_seq {
    int64_t page_ref, seq_id, step_id;
};

struct pages {
    struct page_seq *v;
    size_t n, cap;
};

static int got_sequence(const struct loa_sequence *s, void *ud)
{
    struct pages *p = ud;
    for (size_t i = 0; i < p->n; i++)
        if (p->v[i].page_ref == s->page_ref)
            return 0; /* the Page's first sequence only */
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 64;
        p->v = realloc(p->v, p->cap * sizeof(*p->v));
    }
    p->v[p->n++] = (struct page_seq){ .page_ref = s->page_ref, .seq_id = s->id };
    return 0;
}

struct people {
    int64_t *id, *page_ref;
    size_t n, cap;
    int64_t last;
};

static int got_subscriber(const struct loa_subscriber *s, void *ud)
{
    struct people *p = ud;
    p->last = s->id;
    if (!s->psid)
        return 0;
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 65536;
        p->id = realloc(p->id, p->cap * sizeof(*p->id));
        p->page_ref = realloc(p->page_ref, p->cap * sizeof(*p->page_ref));
    }
    p->id[p->n] = s->id;
    p->page_ref[p->n++] = s->page_ref;
    return 0;
}

/* xorshift32, as bullmq.js: the same due offsets for a given seed. */
static uint32_t rng_x;
static double rng(void)
{
    rng_x ^= rng_x << 13;
    rng_x ^= rng_x >> 17;
    rng_x ^= rng_x << 5;
    return rng_x / 4294967296.0;
}

static int cmd_enrol(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: seqload enrol STORE T0_MS SPREAD_MS SEED [BATCH]\n");
        return 64;
    }
    int64_t t0 = strtoll(argv[3], NULL, 10), spread = strtoll(argv[4], NULL, 10);
    rng_x = (uint32_t)strtoul(argv[5], NULL, 10);
    if (!rng_x)
        rng_x = 1;
    size_t batch = argc > 6 ? strtoul(argv[6], NULL, 10) : 10000;
    struct loa_store *st;
    if (open_store(argv[2], 0, &st) < 0)
        return 74;
    struct pages pg = { 0 };
    int rc = loa_store_sequence_list(st, 0, got_sequence, &pg);
    for (size_t i = 0; rc == 0 && i < pg.n; i++) {
        struct loa_sequence s;
        if ((rc = loa_store_sequence_get(st, pg.v[i].seq_id, &s)) < 0)
            break;
        if (s.nsteps == 0) {
            fprintf(stderr, "seqload: sequence %" PRId64 " has no step\n", s.id);
            rc = LOA_EINVAL;
        } else {
            pg.v[i].step_id = s.steps[0].id;
        }
        loa_sequence_release(&s);
    }
    struct people pp = { 0 };
    for (size_t i = 0; rc == 0 && i < pg.n; i++) {
        struct loa_subscriber_query q = { .page_ref = pg.v[i].page_ref };
        rc = loa_store_subscriber_list(st, &q, got_subscriber, &pp);
    }
    if (rc < 0) {
        fprintf(stderr, "seqload: cannot read sequences and people: %s\n", loa_err_name(rc));
        loa_store_close(st);
        return 74;
    }
    /* Subscribers in id order across Pages (as they were created), dues drawn in that order. */
    int64_t first = INT64_MAX, last = INT64_MIN, now = loa_now_ms();
    int64_t start = loa_mono_ms();
    size_t done = 0, k = 0;
    struct loa_txn *tx = NULL;
    for (size_t i = 0; i < pg.n && rc == 0; i++) {
        size_t from = k;
        while (k < pp.n && pp.page_ref[k] == pg.v[i].page_ref)
            k++;
        for (size_t j = from; j < k && rc == 0; j++) {
            int64_t due = t0 + (int64_t)(rng() * (double)(spread + 1));
            if (due < first)
                first = due;
            if (due > last)
                last = due;
            if (!tx && (rc = loa_store_begin(st, &tx)) < 0)
                break;
            bool inserted = false;
            rc = loa_store_enrol_insert(tx, pg.v[i].seq_id, pp.id[j], pg.v[i].step_id, now, due,
                                        "api", now, &inserted);
            if (rc == 0 && !inserted)
                rc = LOA_EEXIST;
            if (rc == 0 && ++done % batch == 0) {
                rc = loa_store_end(tx, rc);
                tx = NULL;
            }
        }
    }
    if (tx)
        rc = loa_store_end(tx, rc);
    int64_t ms = loa_mono_ms() - start;
    loa_store_close(st);
    if (rc < 0) {
        fprintf(stderr, "seqload: enrol failed after %zu: %s\n", done, loa_err_name(rc));
        return 74;
    }
    printf("{\"n\":%zu,\"insert_ms\":%" PRId64 ",\"first_due\":%" PRId64 ",\"last_due\":%" PRId64
           ",\"sequences\":%zu,\"batch\":%zu}\n",
           done, ms, first, last, pg.n, batch);
    return 0;
}

/* ---- drain -------------------------------------------------------------------------------- */

static int cmd_drain(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: seqload drain STORE N [LIMIT]\n");
        return 64;
    }
    int64_t want = strtoll(argv[3], NULL, 10);
    int64_t limit = argc > 4 ? strtoll(argv[4], NULL, 10) : 2000;
    const char *cache = getenv("SEQLOAD_CACHE_KIB");
    struct loa_store *st;
    if (open_store(argv[2], cache ? atoi(cache) : 4096, &st) < 0)
        return 74;
    struct loa_sequence_opts o;
    loa_sequence_opts_default(&o);
    int64_t total = 0, calls = 0, busy = 0, max_call = 0, start = loa_mono_ms(), idle_since = start;
    int rc = 0;
    while (total < want) {
        int64_t t = loa_mono_ms(), n = 0;
        struct loa_txn *tx;
        struct loa_sequence_drained dr;
        if ((rc = loa_store_begin(st, &tx)) < 0 ||
            (rc = loa_store_end(tx, loa_sequence_drain(tx, &o, loa_now_ms(), limit, &dr))) < 0)
            break;
        n = dr.handled;
        int64_t el = loa_mono_ms() - t;
        calls++;
        busy += el;
        max_call = el > max_call ? el : max_call;
        total += n;
        if (n > 0)
            idle_since = loa_mono_ms();
        else if (loa_mono_ms() - idle_since > 10000)
            break;
        if (n < limit)
            nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
    }
    int64_t ms = loa_mono_ms() - start;
    loa_store_close(st);
    if (rc < 0) {
        fprintf(stderr, "seqload: drain failed after %" PRId64 ": %s\n", total, loa_err_name(rc));
        return 74;
    }
    printf("{\"n\":%" PRId64 ",\"ms\":%" PRId64 ",\"busy_ms\":%" PRId64 ",\"calls\":%" PRId64
           ",\"limit\":%" PRId64 ",\"steps_per_s\":%.0f,\"max_call_ms\":%" PRId64 "}\n",
           total, ms, busy, calls, limit, ms > 0 ? (double)total * 1000.0 / (double)ms : 0.0,
           max_call);
    return total == want ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "enrol") == 0)
        return cmd_enrol(argc, argv);
    if (argc > 1 && strcmp(argv[1], "drain") == 0)
        return cmd_drain(argc, argv);
    fprintf(stderr, "usage: seqload enrol STORE T0_MS SPREAD_MS SEED [BATCH]\n"
                    "       seqload drain STORE N [LIMIT]\n");
    return 64;
}
