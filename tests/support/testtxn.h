/* SPDX-License-Identifier: MIT */
/*
 * One store write in a transaction of its own, for tests that do not care about transactions:
 * TW(st, tag_add, sub, tag, NULL) runs loa_store_tag_add(tx, sub, tag, NULL) in a new
 * transaction on st, ends it with the call's result (loa_store_end(): committed when it
 * succeeded, rolled back when it failed) and is that result, or the begin's error (LOA_EBUSY)
 * when no transaction could begin. Header-only.
 */
#ifndef LOA_TESTS_TESTTXN_H
#define LOA_TESTS_TESTTXN_H

#include <stddef.h>

#include <loa/store.h>

static _Thread_local struct loa_txn *test_txn_open;
static _Thread_local int test_txn_rc;

/* Begins TW's transaction: NULL when it cannot (test_txn_rc says why). */
static inline struct loa_txn *test_txn_begin(struct loa_store *st)
{
    test_txn_rc = loa_store_begin(st, &test_txn_open);
    return test_txn_open;
}

static inline int test_txn_end(int rc)
{
    struct loa_txn *tx = test_txn_open;
    test_txn_open = NULL;
    return loa_store_end(tx, rc);
}

#define TW(st, op, ...) \
    (test_txn_begin(st) ? test_txn_end(loa_store_##op(test_txn_open, __VA_ARGS__)) : test_txn_rc)

#endif
