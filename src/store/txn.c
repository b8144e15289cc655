/* SPDX-License-Identifier: MIT */
/*
 * The transaction calls that are the same on every backend: they only compose the backend's
 * begin, commit and rollback (src/store/ops.c) and read struct loa_txn (ops.h).
 */
#include <stddef.h>

#include <loa/store.h>

#include "ops.h"

struct loa_store *loa_txn_store(struct loa_txn *tx)
{
    return tx->st;
}

int loa_store_end(struct loa_txn *tx, int rc)
{
    if (rc < 0) {
        loa_store_rollback(tx);
        return rc;
    }
    int c = loa_store_commit(tx);
    return c < 0 ? c : rc;
}

int loa_store_write(struct loa_store *st, int (*fn)(struct loa_txn *tx, void *ud), void *ud)
{
    struct loa_txn *tx;
    int rc = loa_store_begin(st, &tx);
    if (rc < 0)
        return rc;
    return loa_store_end(tx, fn(tx, ud));
}
