/* SPDX-License-Identifier: MIT */
/*
 * The store's group commit: many threads, each with its own connection, queue small writes;
 * every one that succeeds is stored once, one that fails (and undoes its savepoint) leaves
 * nothing and does not disturb the others.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <loa/clock.h>
#include <loa/err.h>
#include <loa/store.h>

#include "fixtures.h"
#include "testutil.h"

#define THREADS 8
#define JOBS    50

struct shared {
    struct loa_store_opts so;
    int64_t page;
    int errors;
};

struct job {
    int64_t page;
    char psid[32];
    bool fail;
    bool conn_given; /* fn got a connection */
};

/* Writes one person in a savepoint; a failing job writes, then undoes its savepoint. */
static int write_person(struct loa_txn *tx, void *ud)
{
    struct job *j = ud;
    j->conn_given = tx != NULL && loa_txn_store(tx) != NULL;
    int rc = loa_store_savepoint(tx);
    if (rc < 0)
        return rc;
    /* Not put_sub(): a cmocka assertion must not fail on another thread. */
    struct loa_subscriber s = { .page_ref = j->page,
                                .psid = j->psid,
                                .utc_offset_min = LOA_UTC_OFFSET_UNKNOWN };
    enum loa_upsert_result res;
    int64_t id;
    if ((rc = loa_store_subscriber_upsert(tx, &s, 0, loa_now_ms(), &res, &id)) < 0) {
        loa_store_savepoint_rollback(tx);
        return rc;
    }
    if (j->fail) {
        loa_store_savepoint_rollback(tx);
        return LOA_EINVAL;
    }
    return loa_store_savepoint_release(tx);
}

struct worker {
    struct shared *sh;
    int n;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct loa_store_opts o = w->sh->so;
    o.create = false;
    struct loa_store *st = NULL;
    if (loa_store_open(&o, &st, NULL) < 0) {
        __atomic_add_fetch(&w->sh->errors, 1, __ATOMIC_RELAXED);
        return NULL;
    }
    for (int i = 0; i < JOBS; i++) {
        struct job j = { .page = w->sh->page, .fail = i % 10 == 0 };
        snprintf(j.psid, sizeof(j.psid), "g%d-%d", w->n, i);
        int rc = loa_store_group(st, write_person, &j);
        if ((j.fail ? rc != LOA_EINVAL : rc != 0) || !j.conn_given)
            __atomic_add_fetch(&w->sh->errors, 1, __ATOMIC_RELAXED);
    }
    loa_store_close(st);
    return NULL;
}

static void group_commit_from_many_threads(void **state)
{
    (void)state;
    char path[512];
    struct shared sh = { 0 };
    struct loa_store *st = NULL;
    struct loa_rules *rules = NULL;
    store_open(path, sizeof(path), "group.db", &sh.so, &st, &rules);
    sh.page = put_page(st, "4242", "tok", 5000, 0);
    pthread_t th[THREADS];
    struct worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){ .sh = &sh, .n = i };
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(sh.errors, 0);
    char psid[32];
    int found = 0;
    for (int t = 0; t < THREADS; t++)
        for (int i = 0; i < JOBS; i++) {
            snprintf(psid, sizeof(psid), "g%d-%d", t, i);
            struct loa_subscriber s;
            int rc = loa_store_subscriber_find(st, sh.page, psid, &s);
            if (i % 10 == 0) {
                assert_int_equal(rc, LOA_ENOENT);
                continue;
            }
            assert_int_equal(rc, 0);
            loa_subscriber_release(&s);
            found++;
        }
    assert_int_equal(found, THREADS * (JOBS - JOBS / 10));
    store_close(path, st, rules);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(group_commit_from_many_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
