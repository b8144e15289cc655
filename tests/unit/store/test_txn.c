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

#include <cmocka.h>

#include <loa/err.h>
#include <loa/store.h>

#include "fixtures.h"

struct fixture {
    char path[512];
    struct loa_store_opts opts;
    struct loa_store *st;
    struct loa_rules *rules;
    int64_t page_ref;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    store_open(f->path, sizeof(f->path), "txn.db", &f->opts, &f->st, &f->rules);
    f->page_ref = put_page(f->st, "777", "tok", 5000, 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->path, f->st, f->rules);
    free(f);
    return 0;
}

/* Writes the person psid of the fixture's Page in tx (asserting it succeeds). */
static void put_person(struct fixture *f, struct loa_txn *tx, const char *psid)
{
    put_sub_in(tx, f->page_ref, psid, 0);
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
    return new_campaign_in(tx, page_ref, "{\"blocks\":[{\"type\":\"text\",\"text\":\"Hi\"}]}");
}

/* A write inside a rolled-back transaction is gone. */
static void rollback_undoes_writes(void **state)
{
    struct fixture *f = *state;
    struct loa_txn *tx = NULL;
    assert_int_equal(loa_store_begin(f->st, &tx), 0);
    assert_non_null(tx);
    put_person(f, tx, "gone");
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
    put_person(f, tx, "kept"); /* the open one is unharmed */
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
    put_person(f, tx, "before");
    int64_t id = draft(tx, f->page_ref);
    /* A draft cannot be deleted as if it were running or paused, nor cancelled from running. */
    assert_int_equal(loa_store_campaign_delete(tx, id, 1u << LOA_CAMPAIGN_RUNNING), LOA_ESTATE);
    assert_int_equal(loa_store_campaign_set_status(tx, id, 1u << LOA_CAMPAIGN_RUNNING,
                                                   LOA_CAMPAIGN_CANCELLED, NULL, 2000),
                     LOA_ESTATE);
    /* A delivery that does not exist cannot be settled. */
    struct loa_delivery_outcome o = { .state = LOA_DELIVERY_SENT, .mid = "m.1", .at = 3000 };
    assert_int_equal(loa_store_delivery_settle(tx, id + 1000, &o, NULL), LOA_ENOENT);
    put_person(f, tx, "after");
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
    put_person(f, tx, "step1");
    assert_int_equal(loa_store_savepoint(tx), 0);
    put_person(f, tx, "step2");
    assert_int_equal(loa_store_savepoint_rollback(tx), 0);
    assert_int_equal(loa_store_savepoint(tx), 0);
    put_person(f, tx, "step3");
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
    put_person(f, tx, "ended_ok");
    assert_int_equal(loa_store_end(tx, 3), 3);
    assert_true(has_person(f->st, f->page_ref, "ended_ok"));

    assert_int_equal(loa_store_begin(f->st, &tx), 0);
    put_person(f, tx, "ended_bad");
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
    put_person(w->f, tx, w->psid);
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
    put_person(f, tx, "seen");
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
