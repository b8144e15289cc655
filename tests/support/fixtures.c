/* SPDX-License-Identifier: MIT */
/* What tests put in a store (fixtures.h). */
#include "fixtures.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <loa/clock.h>
#include <loa/rules.h>
#include <loa/store.h>

#include "testtxn.h"
#include "testutil.h"

int64_t put_page(struct loa_store *st, const char *page_id, const char *token, int64_t cap,
                 int64_t quota)
{
    struct loa_page_input in = { .page_id = page_id,
                                 .name = "Shop",
                                 .access_token = token,
                                 .timezone = "Asia/Ho_Chi_Minh",
                                 .daily_cap = cap,
                                 .plan_quota = quota,
                                 .activated_at = 1 };
    assert_int_equal(TW(st, page_put, &in, loa_now_ms(), NULL), 0);
    struct loa_page p;
    assert_int_equal(loa_store_page_get(st, page_id, &p), 0);
    int64_t id = p.id;
    loa_page_release(&p);
    return id;
}

int64_t put_sub_in(struct loa_txn *tx, int64_t page, const char *psid, int64_t last)
{
    struct loa_subscriber s = {
        .page_ref = page,
        .psid = (char *)(uintptr_t)psid,
        .first_name = (char *)(uintptr_t) "Lan",
        .utc_offset_min = LOA_UTC_OFFSET_UNKNOWN,
        .last_interaction_at = last,
        .last_interaction_kind = (char *)(uintptr_t)(last ? "message" : NULL),
        .first_seen_at = last ? last : 0,
    };
    enum loa_upsert_result r;
    int64_t id;
    assert_int_equal(loa_store_subscriber_upsert(tx, &s, 0, loa_now_ms(), &r, &id), 0);
    return id;
}

int64_t put_sub(struct loa_store *st, int64_t page, const char *psid, int64_t last)
{
    struct loa_txn *tx;
    assert_int_equal(loa_store_begin(st, &tx), 0);
    int64_t id = put_sub_in(tx, page, psid, last);
    assert_int_equal(loa_store_commit(tx), 0);
    return id;
}

int64_t new_campaign_in(struct loa_txn *tx, int64_t page, const char *blocks)
{
    struct loa_campaign_input in = {
        .name = "Sale",
        .goal = "promotion",
        .purpose = "promotional",
        .blocks = blocks,
        .filter = "{}",
        .window_from_min = -1,
        .window_to_min = -1,
    };
    int64_t id = 0;
    assert_int_equal(loa_store_campaign_create(tx, page, &in, 1000, &id), 0);
    return id;
}

int64_t new_campaign(struct loa_store *st, int64_t page, const char *blocks)
{
    struct loa_txn *tx;
    assert_int_equal(loa_store_begin(st, &tx), 0);
    int64_t id = new_campaign_in(tx, page, blocks);
    assert_int_equal(loa_store_commit(tx), 0);
    return id;
}

void store_open(char *path, size_t size, const char *name, struct loa_store_opts *so,
                struct loa_store **st, struct loa_rules **rules)
{
    test_store_path(path, size, name);
    *so = (struct loa_store_opts){ .path = path, .create = true };
    memset(so->key, 6, sizeof(so->key));
    assert_int_equal(loa_store_open(so, st, NULL), 0);
    assert_int_equal(loa_rules_load(LOA_SOURCE_DIR "/rules/messaging-rules.json", rules, NULL), 0);
}

void store_close(const char *path, struct loa_store *st, struct loa_rules *rules)
{
    loa_rules_free(rules);
    loa_store_close(st);
    test_remove_store(path);
}
