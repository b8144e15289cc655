/* SPDX-License-Identifier: MIT */
/*
 * What the dispatcher's tests put in a store: a Page (activated long ago, Asia/Ho_Chi_Minh), a
 * person who last wrote at `last` (0 = never), a promotional campaign for everyone. Failures
 * are cmocka assertions.
 */
#ifndef LOA_TESTS_DISPATCH_RIG_H
#define LOA_TESTS_DISPATCH_RIG_H

#include <stdint.h>

struct loa_store;

int64_t put_page(struct loa_store *st, const char *page_id, const char *token, int64_t cap,
                 int64_t quota);
int64_t put_sub(struct loa_store *st, int64_t page, const char *psid, int64_t last);
int64_t new_campaign(struct loa_store *st, int64_t page, const char *blocks);

#endif
