/* SPDX-License-Identifier: MIT */
/*
 * The outbox in the store: deliveries of schema 6 survive the move to the outbox (schema 7);
 * claims are per Page and source, and several claimers at once (threads, each with its own
 * connection) never get the same row.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include <loa/clock.h>
#include <loa/err.h>
#include <loa/store.h>

#include "fixtures.h"
#include "testtxn.h"
#include "testutil.h"

static struct loa_store *open_at(char *path, size_t size, const char *name, int version,
                                 struct loa_store_opts *o)
{
    test_store_path(path, size, name);
    *o = (struct loa_store_opts){ .path = path, .create = true, .target_version = version };
    memset(o->key, 9, sizeof(o->key));
    struct loa_store *st = NULL;
    assert_int_equal(loa_store_open(o, &st, NULL), 0);
    return st;
}

static int64_t page(struct loa_store *st, const char *page_id)
{
    return put_page(st, page_id, "tok", 5000, 0);
}

/* n people, in one transaction. */
static void people(struct loa_store *st, int64_t page_ref, const char *prefix, int n)
{
    char psid[32];
    struct loa_txn *tx;
    assert_int_equal(loa_store_begin(st, &tx), 0);
    for (int i = 0; i < n; i++) {
        snprintf(psid, sizeof(psid), "%s%d", prefix, i);
        put_sub_in(tx, page_ref, psid, loa_now_ms() - LOA_MINUTE_MS);
    }
    assert_int_equal(loa_store_commit(tx), 0);
}

static int64_t campaign(struct loa_store *st, int64_t page_ref)
{
    return new_campaign(st, page_ref, "{\"blocks\":[{\"type\":\"text\",\"text\":\"Hi\"}]}");
}

static int count_row(const struct loa_delivery *d, void *ud)
{
    int64_t *n = ud;
    assert_int_equal(d->position, *n);
    (*n)++;
    return 0;
}

/* Deliveries written by schema 6 (a campaign's only) move into the outbox as that campaign's,
 * keep their state and order, and are claimed per Page as before. */
static void schema_6_deliveries_move_to_the_outbox(void **state)
{
    (void)state;
    if (!test_store_is_sqlite())
        skip(); /* SQLite's own migration, written with SQLite's SQL */
    char path[512];
    struct loa_store_opts o;
    struct loa_store *st = open_at(path, sizeof(path), "outbox-upgrade.db", 6, &o);
    assert_int_equal(loa_store_schema_version(st), 6);
    int64_t pg = page(st, "555");
    people(st, pg, "u", 3);
    int64_t id = campaign(st, pg);
    loa_store_close(st);
    /* Rows as schema 6 wrote them (its own SQL: this loa only writes schema 7). */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char sql[512];
    snprintf(sql, sizeof(sql),
             "UPDATE campaigns SET status = 'running' WHERE id = %lld;"
             "INSERT INTO deliveries (campaign_id, page_ref, subscriber_id, psid, position, state)"
             " SELECT %lld, page_ref, id, psid, id - 1, 'pending' FROM subscribers;"
             "UPDATE deliveries SET state = 'sent', mid = 'm.0' WHERE position = 0;",
             (long long)id, (long long)id);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    o.target_version = 0;
    o.create = false;
    assert_int_equal(loa_store_open(&o, &st, NULL), 0);
    assert_int_equal(loa_store_schema_version(st), loa_store_latest_version());
    int64_t n = 0;
    assert_int_equal(loa_store_delivery_list(st, id, 0, -1, 100, 0, count_row, &n), 0);
    assert_int_equal(n, 3);
    struct loa_campaign_stats cs;
    assert_int_equal(loa_store_campaign_stats(st, id, &cs, NULL, NULL), 0);
    assert_int_equal(cs.by_state[LOA_DELIVERY_SENT], 1);
    assert_int_equal(cs.by_state[LOA_DELIVERY_PENDING], 2);
    struct loa_claim cl[4];
    size_t got = 0;
    assert_int_equal(TW(st, outbox_claim, pg, LOA_SOURCE_CAMPAIGN, id, loa_now_ms(), 4, cl, &got),
                     0);
    assert_int_equal(got, 2);
    for (size_t i = 0; i < got; i++) {
        assert_int_equal(cl[i].source, LOA_SOURCE_CAMPAIGN);
        assert_int_equal(cl[i].source_id, id);
        assert_int_equal(cl[i].campaign_id, id);
        assert_int_equal(cl[i].page_ref, pg);
        assert_int_equal(cl[i].attempts, 1);
        assert_non_null(cl[i].psid);
        loa_claim_release(&cl[i]);
    }
    loa_store_close(st);
    test_remove_store(path);
}

/* A claim takes only its Page's rows, only from the named source, and only while the campaign
 * runs. */
static void claims_are_per_page_and_source(void **state)
{
    (void)state;
    char path[512];
    struct loa_store_opts o;
    struct loa_store *st = open_at(path, sizeof(path), "outbox-pages.db", 0, &o);
    int64_t a = page(st, "1001"), b = page(st, "1002");
    people(st, a, "a", 4);
    people(st, b, "b", 4);
    int64_t ca = campaign(st, a), cb = campaign(st, b), ca2 = campaign(st, a);
    int64_t now = loa_now_ms(), total = 0;
    assert_int_equal(TW(st, campaign_snapshot, ca, NULL, 0, LOA_PRIORITY_BULK, now, &total), 0);
    assert_int_equal(TW(st, campaign_snapshot, cb, NULL, 0, LOA_PRIORITY_BULK, now, &total), 0);
    assert_int_equal(TW(st, campaign_snapshot, ca2, NULL, 0, LOA_PRIORITY_BULK, now, &total), 0);
    struct loa_claim cl[16];
    size_t got = 0;
    /* Page a, campaign ca only. */
    assert_int_equal(TW(st, outbox_claim, a, LOA_SOURCE_CAMPAIGN, ca, now, 16, cl, &got), 0);
    assert_int_equal(got, 4);
    for (size_t i = 0; i < got; i++) {
        assert_int_equal(cl[i].campaign_id, ca);
        assert_int_equal(cl[i].psid[0], 'a');
        loa_claim_release(&cl[i]);
    }
    /* Another kind of source has nothing here. */
    assert_int_equal(TW(st, outbox_claim, a, LOA_SOURCE_REPLY, 0, now, 16, cl, &got), 0);
    assert_int_equal(got, 0);
    /* A paused campaign's rows stay; every campaign of Page a (source_id 0) gives the rest. */
    assert_int_equal(TW(st, campaign_set_status, cb, 1u << LOA_CAMPAIGN_RUNNING,
                        LOA_CAMPAIGN_PAUSED, "manual", now),
                     0);
    assert_int_equal(TW(st, outbox_claim, b, LOA_SOURCE_CAMPAIGN, 0, now, 16, cl, &got), 0);
    assert_int_equal(got, 0);
    assert_int_equal(TW(st, outbox_claim, a, LOA_SOURCE_CAMPAIGN, 0, now, 16, cl, &got), 0);
    assert_int_equal(got, 4);
    for (size_t i = 0; i < got; i++) {
        assert_int_equal(cl[i].campaign_id, ca2);
        loa_claim_release(&cl[i]);
    }
    loa_store_close(st);
    test_remove_store(path);
}

#define CLAIMERS 4
#define ROWS     600

struct race {
    const struct loa_store_opts *o;
    int64_t page;
    pthread_mutex_t lock;
    int seen[ROWS + 64]; /* by delivery id */
    int total;
    int errors;
};

static void *claimer(void *arg)
{
    struct race *r = arg;
    struct loa_store_opts o = *r->o;
    o.create = false;
    struct loa_store *st = NULL;
    if (loa_store_open(&o, &st, NULL) < 0) {
        __atomic_add_fetch(&r->errors, 1, __ATOMIC_RELAXED);
        return NULL;
    }
    struct loa_claim cl[7];
    for (int idle = 0; idle < 3;) {
        size_t got = 0;
        int rc = TW(st, outbox_claim, r->page, LOA_SOURCE_CAMPAIGN, 0, loa_now_ms(), 7, cl, &got);
        if (rc == LOA_EBUSY)
            continue;
        if (rc < 0) {
            __atomic_add_fetch(&r->errors, 1, __ATOMIC_RELAXED);
            break;
        }
        idle = got == 0 ? idle + 1 : 0;
        pthread_mutex_lock(&r->lock);
        for (size_t i = 0; i < got; i++) {
            if (cl[i].id > 0 && cl[i].id < ROWS + 64)
                r->seen[cl[i].id]++;
            r->total++;
            loa_claim_release(&cl[i]);
        }
        pthread_mutex_unlock(&r->lock);
    }
    loa_store_close(st);
    return NULL;
}

/* Four claimers, each with its own connection, drain 600 rows of one Page: every row is
 * claimed exactly once. */
static void concurrent_claimers_never_share_a_row(void **state)
{
    (void)state;
    char path[512];
    struct loa_store_opts o;
    struct loa_store *st = open_at(path, sizeof(path), "outbox-race.db", 0, &o);
    int64_t pg = page(st, "2001");
    people(st, pg, "r", ROWS / 2);
    int64_t total = 0, now = loa_now_ms();
    for (int k = 0; k < 2; k++) {
        int64_t id = campaign(st, pg);
        assert_int_equal(TW(st, campaign_snapshot, id, NULL, 0, LOA_PRIORITY_BULK, now, &total), 0);
        assert_int_equal(total, ROWS / 2);
    }
    struct race r = { .o = &o, .page = pg };
    pthread_mutex_init(&r.lock, NULL);
    pthread_t th[CLAIMERS];
    for (int i = 0; i < CLAIMERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, claimer, &r), 0);
    for (int i = 0; i < CLAIMERS; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&r.lock);
    assert_int_equal(r.errors, 0);
    assert_int_equal(r.total, ROWS);
    for (int i = 0; i < ROWS + 64; i++)
        assert_true(r.seen[i] <= 1);
    loa_store_close(st);
    test_remove_store(path);
}

static int count_page(const struct loa_unreconciled *u, void *ud)
{
    int64_t *by_page = ud; /* [0]: page a, [1]: page b (refs given in [2], [3]) */
    by_page[u->page_ref == by_page[2] ? 0 : 1]++;
    return 0;
}

/* Unknown deliveries wait for reconciliation oldest first, but one Page's backlog does not
 * crowd another Page out of the scan: at most per_page of each. */
static void unreconciled_scan_is_fair_across_pages(void **state)
{
    (void)state;
    char path[512];
    struct loa_store_opts o;
    struct loa_store *st = open_at(path, sizeof(path), "outbox-fair.db", 0, &o);
    int64_t a = page(st, "3001"), b = page(st, "3002");
    people(st, a, "a", 20);
    people(st, b, "b", 3);
    int64_t ca = campaign(st, a), cb = campaign(st, b), total = 0, now = loa_now_ms();
    assert_int_equal(TW(st, campaign_snapshot, ca, NULL, 0, LOA_PRIORITY_BULK, now, &total), 0);
    assert_int_equal(TW(st, campaign_snapshot, cb, NULL, 0, LOA_PRIORITY_BULK, now, &total), 0);
    struct loa_claim cl[20];
    size_t got = 0;
    /* Page a's requests left first (older claims), then page b's; then the process "died". */
    assert_int_equal(TW(st, outbox_claim, a, LOA_SOURCE_CAMPAIGN, ca, now - 20000, 20, cl, &got),
                     0);
    assert_int_equal(got, 20);
    for (size_t i = 0; i < got; i++)
        loa_claim_release(&cl[i]);
    assert_int_equal(TW(st, outbox_claim, b, LOA_SOURCE_CAMPAIGN, cb, now - 10000, 3, cl, &got), 0);
    assert_int_equal(got, 3);
    for (size_t i = 0; i < got; i++)
        loa_claim_release(&cl[i]);
    assert_int_equal(TW(st, delivery_recover, 0, now, &total), 0);
    assert_int_equal(total, 23);
    int64_t seen[4] = { 0, 0, a, b };
    assert_int_equal(loa_store_delivery_unreconciled(st, 0, now, now, 4, 8, count_page, seen), 0);
    assert_int_equal(seen[0], 4); /* a's four oldest */
    assert_int_equal(seen[1], 3); /* and every one of b's, though newer than a's backlog */
    seen[0] = seen[1] = 0;
    assert_int_equal(loa_store_delivery_unreconciled(st, 0, now, now, 0, 8, count_page, seen), 0);
    assert_int_equal(seen[0], 8); /* no cap: oldest first, a's backlog only */
    assert_int_equal(seen[1], 0);
    loa_store_close(st);
    test_remove_store(path);
}

/* One sender per SQLite store: a second lease is refused until the first is given up; the
 * lease covers every Page. */
static void one_send_lease_per_store(void **state)
{
    (void)state;
    if (!test_store_is_sqlite())
        skip(); /* one lease per file is SQLite's; other backends lease per Page */
    char path[512];
    struct loa_store_opts o;
    struct loa_store *a = open_at(path, sizeof(path), "outbox-lease.db", 0, &o), *b = NULL;
    o.create = false;
    assert_int_equal(loa_store_open(&o, &b, NULL), 0);
    struct loa_lease *la = NULL, *lb = NULL;
    assert_int_equal(loa_store_lease_acquire(a, &la), 0);
    assert_true(loa_store_lease_owns(la, 1) && loa_store_lease_owns(la, 999));
    assert_int_equal(loa_store_lease_acquire(b, &lb), LOA_EBUSY);
    assert_null(lb);
    assert_false(loa_store_lease_owns(lb, 1));
    loa_store_lease_release(la);
    assert_int_equal(loa_store_lease_acquire(b, &lb), 0);
    loa_store_lease_release(lb);
    loa_store_close(b);
    loa_store_close(a);
    test_remove_store(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(schema_6_deliveries_move_to_the_outbox),
        cmocka_unit_test(claims_are_per_page_and_source),
        cmocka_unit_test(concurrent_claimers_never_share_a_row),
        cmocka_unit_test(one_send_lease_per_store),
        cmocka_unit_test(unreconciled_scan_is_fair_across_pages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
