/* SPDX-License-Identifier: MIT */
/*
 * What tests put in a store: a Page (activated long ago, Asia/Ho_Chi_Minh), a person who last
 * wrote at `last` (0 = never), a promotional campaign for everyone; and a fresh store with the
 * shipped rules. Failures are cmocka assertions. Link tests/support/fixtures.c.
 */
#ifndef LOA_TESTS_FIXTURES_H
#define LOA_TESTS_FIXTURES_H

#include <stddef.h>
#include <stdint.h>

struct loa_rules;
struct loa_store;
struct loa_store_opts;
struct loa_txn;

int64_t put_page(struct loa_store *st, const char *page_id, const char *token, int64_t cap,
                 int64_t quota);
int64_t put_sub(struct loa_store *st, int64_t page, const char *psid, int64_t last);
/* The same inside the caller's transaction (many people, one commit). */
int64_t put_sub_in(struct loa_txn *tx, int64_t page, const char *psid, int64_t last);
int64_t new_campaign(struct loa_store *st, int64_t page, const char *blocks);
int64_t new_campaign_in(struct loa_txn *tx, int64_t page, const char *blocks);

/* A new store at LOA_TEST_TMPDIR/name (path[size] gets its path, so its options) and the
 * rules file of the source tree; store_close() removes it. */
void store_open(char *path, size_t size, const char *name, struct loa_store_opts *so,
                struct loa_store **st, struct loa_rules **rules);
void store_close(const char *path, struct loa_store *st, struct loa_rules *rules);

#endif
