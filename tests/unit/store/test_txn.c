/* SPDX-License-Identifier: MIT */
/*
 * The store's transactions: every write runs in an explicit transaction (struct loa_txn) that
 * its caller begins and ends; reads through the transaction's store see its writes; a write
 * that fails leaves the transaction as it was before the call.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <loa/clock.h>
#include <loa/err.h>
#include <loa/store.h>

#include "testtxn.h"
#include "testutil.h"

struct fixture {
    char path[512];
    struct loa_store_opts opts;
    struct loa_store *st;
    int64_t page_ref;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    test_store_path(f->path, sizeof(f->path), "txn.db");
    f->opts.path = f->path;
    f->opts.create = true;
    memset(f->opts.key, 9, sizeof(f->opts.key));
    assert_int_equal(loa_store_open(&f->opts, &f->st, NULL), 0);
    struct loa_page_input in = {
        .page_id = "777", .name = "Shop", .daily_cap = -1, .plan_quota = -1, .activated_at = -1
    };
    assert_int_equal(TW(f->st, page_put, &in, loa_now_ms(), NULL), 0);
    struct loa_page p;
    assert_int_equal(loa_store_page_get(f->st, "777", &p), 0);
    f->page_ref = p.id;
    loa_page_release(&p);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    loa_store_close(f->st);
    test_remove_store(f->path);
    free(f);
    return 0;
}

/* Writes the person psid of the fixture's Page in tx; returns the call's result. */
static int put_person(struct fixture *f, struct loa_txn *tx, const char *psid)
{
    struct loa_subscriber s = { .page_ref = f->page_ref,
                                .psid = (char *)(uintptr_t)psid,
                                .utc_offset_min = LOA_UTC_OFFSET_UNKNOWN };
    enum loa_upsert_result res;
    int64_t id;
    return loa_store_subscriber_upsert(tx, &s, 0, loa_now_ms(), &res, &id);
}

/* Whether the person psid is stored, as st sees it. */
static bool has_person(struct loa_store *st, int64_t page_ref, const char *psid)
{
    struct loa_subscriber s;
    int rc = loa_store_subscriber_find(st, page_ref, psid, &s);
    if (rc == 0)
        loa_subscriber_release(&s);
    else
        assert_int_equal(rc, LOA_ENOENT);
    return rc == 0;
}

static int64_t draft(struct loa_txn *tx, int64_t page_ref)
{
    struct loa_campaign_input in = { .name = "Sale",
                                     .goal = "promotion",
                                     .purpose = "promotional",
                                     .blocks = "{\"blocks\":[{\"type\":\"text\",\"text\":\"Hi\"}]}",
                                     .filter = "{}",
                                     .window_from_min = -1,
                                     .window_to_min = -1 };
    int64_t id = 0;
    assert_int_equal(loa_store_campaign_create(tx, page_ref, &in, 1000, &id), 0);
    return id;
}

/* A write inside a rolled-back transaction is gone. */
static void rollback_undoes_writes(void **state)
{
    struct fixture *f = *state;
    struct loa_txn *tx = NULL;
    assert_int_equal(loa_store_begin(f->st, &tx), 0);
    assert_non_null(tx);
    assert_int_equal(put_person(f, tx, "gone"), 0);
    assert_true(has_person(loa_txn_store(tx), f->page_ref, "gone"));
    assert_int_equal(loa_store_rollback(tx), 0);
    assert_false(has_person(f->st, f->page_ref, "gone"));
}

/* Transactions do not nest: a second begin on the store is refused while one is open, and
 * the store takes a new one once it has ended. */
static void begin_while_open_is_refused(void **state)
{
    struct fixture *f = *state;
    struct loa_txn *tx = NULL, *again = (struct loa_txn *)&again;
    assert_int_equal(loa_store_begin(f->st, &tx), 0);
    assert_int_equal(loa_store_begin(f->st, &again), LOA_EBUSY);
    assert_null(again);
    assert_int_equal(put_person(f, tx, "kept"), 0); /* the open one is unharmed */
    assert_int_equal(loa_store_commit(tx), 0);
    assert_true(has_person(f->st, f->page_ref, "kept"));
    assert_int_equal(loa_store_begin(f->st, &again), 0);
    assert_int_equal(loa_store_rollback(again), 0);
}

/* A write that fails (refused) inside a transaction leaves what the transaction wrote before
 * it, which can still be committed. */
static void failed_write_keeps_earlier_writes(void **state)
{
    struct fixture *f = *state;
    struct loa_txn *tx;
    assert_int_equal(loa_store_begin(f->st, &tx), 0);
    assert_int_equal(put_person(f, tx, "before"), 0);
    int64_t id = draft(tx, f->page_ref);
    /* A draft cannot be deleted as if it were running or paused, nor cancelled from running. */
    assert_int_equal(loa_store_campaign_delete(tx, id, 1u << LOA_CAMPAIGN_RUNNING), LOA_ESTATE);
    assert_int_equal(loa_store_campaign_set_status(tx, id, 1u << LOA_CAMPAIGN_RUNNING,
                                                   LOA_CAMPAIGN_CANCELLED, NULL, 2000),
                     LOA_ESTATE);
    /* A delivery that does not exist cannot be settled. */
    struct loa_delivery_outcome o = { .state = LOA_DELIVERY_SENT, .mid = "m.1", .at = 3000 };
    assert_int_equal(loa_store_delivery_settle(tx, id + 1000, &o, NULL), LOA_ENOENT);
    assert_int_equal(put_person(f, tx, "after"), 0);
    assert_int_equal(loa_store_commit(tx), 0);
    assert_true(has_person(f->st, f->page_ref, "before"));
    assert_true(has_person(f->st, f->page_ref, "after"));
    struct loa_campaign c;
    assert_int_equal(loa_store_campaign_get(f->st, id, &c), 0);
    assert_int_equal(c.status, LOA_CAMPAIGN_DRAFT);
    loa_campaign_release(&c);
}

/* A savepoint of the caller's own undoes only what was written after it. */
static void savepoint_undoes_one_step(void **state)
{
    struct fixture *f = *state;
    struct loa_txn *tx;
    assert_int_equal(loa_store_begin(f->st, &tx), 0);
    assert_int_equal(put_person(f, tx, "step1"), 0);
    assert_int_equal(loa_store_savepoint(tx), 0);
    assert_int_equal(put_person(f, tx, "step2"), 0);
    assert_int_equal(loa_store_savepoint_rollback(tx), 0);
    assert_int_equal(loa_store_savepoint(tx), 0);
    assert_int_equal(put_person(f, tx, "step3"), 0);
    assert_int_equal(loa_store_savepoint_release(tx), 0);
    assert_int_equal(loa_store_commit(tx), 0);
    assert_true(has_person(f->st, f->page_ref, "step1"));
    assert_false(has_person(f->st, f->page_ref, "step2"));
    assert_true(has_person(f->st, f->page_ref, "step3"));
}

/* loa_store_end commits on rc >= 0 (and returns rc), rolls back on rc < 0. */
static void end_commits_or_rolls_back(void **state)
{
    struct fixture *f = *state;
    struct loa_txn *tx;
    assert_int_equal(loa_store_begin(f->st, &tx), 0);
    assert_int_equal(put_person(f, tx, "ended_ok"), 0);
    assert_int_equal(loa_store_end(tx, 3), 3);
    assert_true(has_person(f->st, f->page_ref, "ended_ok"));

    assert_int_equal(loa_store_begin(f->st, &tx), 0);
    assert_int_equal(put_person(f, tx, "ended_bad"), 0);
    assert_int_equal(loa_store_end(tx, LOA_EINVAL), LOA_EINVAL);
    assert_false(has_person(f->st, f->page_ref, "ended_bad"));

    /* Either way the transaction is over: the store begins a new one. */
    assert_int_equal(loa_store_begin(f->st, &tx), 0);
    assert_int_equal(loa_store_end(tx, 0), 0);
}

struct write_ud {
    struct fixture *f;
    const char *psid;
    int result; /* what fn returns after writing */
    bool saw_own_write;
};

static int write_fn(struct loa_txn *tx, void *ud)
{
    struct write_ud *w = ud;
    int rc = put_person(w->f, tx, w->psid);
    if (rc < 0)
        return rc;
    w->saw_own_write = has_person(loa_txn_store(tx), w->f->page_ref, w->psid);
    return w->result;
}

/* loa_store_write runs fn in a transaction of its own: kept when fn succeeds, undone when it
 * fails, fn's result returned. */
static void store_write_runs_fn_in_its_own_transaction(void **state)
{
    struct fixture *f = *state;
    struct write_ud ok = { .f = f, .psid = "written", .result = 0 };
    assert_int_equal(loa_store_write(f->st, write_fn, &ok), 0);
    assert_true(ok.saw_own_write);
    assert_true(has_person(f->st, f->page_ref, "written"));

    struct write_ud bad = { .f = f, .psid = "undone", .result = LOA_ESTATE };
    assert_int_equal(loa_store_write(f->st, write_fn, &bad), LOA_ESTATE);
    assert_true(bad.saw_own_write);
    assert_false(has_person(f->st, f->page_ref, "undone"));
}

/* Reads through loa_txn_store(tx) see the transaction's uncommitted writes; another connection
 * sees them once committed. */
static void reads_in_transaction_see_its_writes(void **state)
{
    struct fixture *f = *state;
    struct loa_store_opts o = f->opts;
    o.create = false;
    struct loa_store *other;
    assert_int_equal(loa_store_open(&o, &other, NULL), 0);
    struct loa_txn *tx;
    assert_int_equal(loa_store_begin(f->st, &tx), 0);
    assert_ptr_equal(loa_txn_store(tx), f->st);
    assert_int_equal(put_person(f, tx, "seen"), 0);
    int64_t id = draft(tx, f->page_ref);
    assert_true(has_person(loa_txn_store(tx), f->page_ref, "seen"));
    struct loa_campaign c;
    assert_int_equal(loa_store_campaign_get(loa_txn_store(tx), id, &c), 0);
    loa_campaign_release(&c);
    assert_false(has_person(other, f->page_ref, "seen"));
    assert_int_equal(loa_store_campaign_get(other, id, &c), LOA_ENOENT);
    assert_int_equal(loa_store_commit(tx), 0);
    assert_true(has_person(other, f->page_ref, "seen"));
    loa_store_close(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(rollback_undoes_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(begin_while_open_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(failed_write_keeps_earlier_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(savepoint_undoes_one_step, setup, teardown),
        cmocka_unit_test_setup_teardown(end_commits_or_rolls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(store_write_runs_fn_in_its_own_transaction, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(reads_in_transaction_see_its_writes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
