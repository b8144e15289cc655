/* SPDX-License-Identifier: MIT */
/* The store: migrations, encryption at rest, Pages, subscriber upserts, tags and lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <loa/alloc.h>
#include <loa/clock.h>
#include <loa/diag.h>
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
    test_store_path(f->path, sizeof(f->path), "store.db");
    f->opts.path = f->path;
    f->opts.create = true;
    memset(f->opts.key, 7, sizeof(f->opts.key));
    struct loa_diags d;
    loa_diags_init(&d, 0);
    assert_int_equal(loa_store_open(&f->opts, &f->st, &d), 0);
    loa_diags_release(&d);
    struct loa_page_input in = { .page_id = "111",
                                 .name = "Shop",
                                 .access_token = "tok",
                                 .daily_cap = -1,
                                 .plan_quota = -1,
                                 .activated_at = -1 };
    assert_int_equal(TW(f->st, page_put, &in, loa_now_ms(), NULL), 0);
    struct loa_page p;
    assert_int_equal(loa_store_page_get(f->st, "111", &p), 0);
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

static struct loa_subscriber sub(int64_t page_ref, const char *psid, const char *phone)
{
    struct loa_subscriber s = { .page_ref = page_ref, .utc_offset_min = LOA_UTC_OFFSET_UNKNOWN };
    s.psid = (char *)(uintptr_t)psid;
    s.phone = (char *)(uintptr_t)phone;
    return s;
}

/* A store made at schema version 1 upgrades in place and keeps its data. */
static void upgrade_from_version_1(void **state)
{
    if (!test_store_is_sqlite())
        skip(); /* SQLite's numbered migrations */
    (void)state;
    char path[512];
    test_path(path, sizeof(path), "old.db");
    struct loa_store_opts o = { .path = path, .create = true, .target_version = 1 };
    memset(o.key, 3, sizeof(o.key));
    struct loa_diags d;
    loa_diags_init(&d, 0);
    struct loa_store *st;
    assert_int_equal(loa_store_open(&o, &st, &d), 0);
    assert_int_equal(loa_store_schema_version(st), 1);
    struct loa_page_input in = { .page_id = "42",
                                 .name = "Old shop",
                                 .access_token = "secret-1",
                                 .daily_cap = 300,
                                 .plan_quota = -1,
                                 .activated_at = -1 };
    assert_int_equal(TW(st, page_put, &in, loa_now_ms(), NULL), 0);
    struct loa_page p;
    assert_int_equal(loa_store_page_get(st, "42", &p), 0);
    struct loa_subscriber s = sub(p.id, "900", "+84912345678");
    s.first_name = (char *)(uintptr_t) "Lan";
    enum loa_upsert_result res;
    int64_t id;
    assert_int_equal(TW(st, subscriber_upsert, &s, 0, loa_now_ms(), &res, &id), 0);
    loa_store_close(st);

    o.target_version = 0; /* latest */
    o.create = false;
    assert_int_equal(loa_store_open(&o, &st, &d), 0);
    assert_int_equal(loa_store_schema_version(st), loa_store_latest_version());
    assert_true(loa_store_latest_version() >= 2);
    struct loa_page q;
    assert_int_equal(loa_store_page_get(st, "42", &q), 0);
    assert_int_equal(q.daily_cap, 300);
    char *tok;
    assert_int_equal(loa_store_page_secrets(st, "42", &tok, NULL), 0);
    assert_string_equal(tok, "secret-1");
    loa_free(tok);
    struct loa_subscriber got;
    assert_int_equal(loa_store_subscriber_find(st, q.id, "900", &got), 0);
    assert_string_equal(got.first_name, "Lan");
    loa_subscriber_release(&got);
    /* Version 2 brought lists: they work on the upgraded store. */
    int64_t list_id, n;
    assert_int_equal(TW(st, list_ensure, q.id, "crm", loa_now_ms(), &list_id), 0);
    assert_int_equal(TW(st, list_add, list_id, id), 0);
    assert_int_equal(loa_store_list_count(st, list_id, &n), 0);
    assert_int_equal(n, 1);
    loa_page_release(&p);
    loa_page_release(&q);
    loa_store_close(st);
    assert_true(loa_diags_empty(&d));
    loa_diags_release(&d);
    test_remove_store(path);
}

static void wrong_key_and_missing_store_refused(void **state)
{
    if (!test_store_is_sqlite())
        skip(); /* SQLite's key check row and file paths */
    struct fixture *f = *state;
    struct loa_store_opts o = f->opts;
    o.create = false;
    o.key[0] ^= 1;
    struct loa_diags d;
    loa_diags_init(&d, 0);
    struct loa_store *st = NULL;
    assert_int_equal(loa_store_open(&o, &st, &d), LOA_ECRYPTO);
    assert_null(st);
    assert_non_null(strstr(d.items[0].reason, "key does not match"));
    o.path = "/nonexistent/dir/x.db";
    assert_int_equal(loa_store_open(&o, &st, &d), LOA_ENOENT);
    loa_diags_release(&d);
}

static void secrets_encrypted_at_rest(void **state)
{
    struct fixture *f = *state;
    const char *token = "EAAGm0PX4ZCpsBAKZCZAsecret-token-value";
    struct loa_page_input in = { .page_id = "111",
                                 .access_token = token,
                                 .app_secret = "app-secret-value-123",
                                 .daily_cap = -1,
                                 .plan_quota = -1,
                                 .activated_at = -1 };
    bool created = true;
    assert_int_equal(TW(f->st, page_put, &in, loa_now_ms(), &created), 0);
    assert_false(created);
    char *tok, *sec;
    assert_int_equal(loa_store_page_secrets(f->st, "111", &tok, &sec), 0);
    assert_string_equal(tok, token);
    assert_string_equal(sec, "app-secret-value-123");
    loa_free(tok);
    loa_free(sec);
    if (!test_store_is_sqlite())
        return;
    /* Neither secret appears in the database file or its WAL. */
    loa_store_close(f->st);
    const char *files[] = { "", "-wal" };
    for (int i = 0; i < 2; i++) {
        char p[600];
        snprintf(p, sizeof(p), "%s%s", f->path, files[i]);
        FILE *fp = fopen(p, "rb");
        if (!fp)
            continue;
        static char buf[1 << 20];
        size_t n = fread(buf, 1, sizeof(buf), fp);
        fclose(fp);
        assert_null(memmem(buf, n, "secret-token-value", 18));
        assert_null(memmem(buf, n, "app-secret-value", 16));
    }
    struct loa_diags d;
    loa_diags_init(&d, 0);
    f->opts.create = false;
    assert_int_equal(loa_store_open(&f->opts, &f->st, &d), 0);
    loa_diags_release(&d);
}

static void key_file_created_once_and_reused(void **state)
{
    if (!test_store_is_sqlite())
        skip(); /* the key file beside a SQLite store */
    (void)state;
    char store[512];
    test_path(store, sizeof(store), "keyed.db");
    unsigned char k1[LOA_STORE_KEY_BYTES], k2[LOA_STORE_KEY_BYTES];
    struct loa_diags d;
    loa_diags_init(&d, 0);
    assert_int_equal(loa_store_key_load("", "", store, false, k1, &d), LOA_ENOENT);
    assert_int_equal(loa_store_key_load("", "", store, true, k1, &d), 0);
    assert_int_equal(loa_store_key_load("", "", store, false, k2, &d), 0);
    assert_memory_equal(k1, k2, sizeof(k1));
    assert_int_equal(loa_store_key_load("zz", "", store, false, k2, &d), LOA_ECRYPTO);
    const char *hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    assert_int_equal(loa_store_key_load(hex, "", store, false, k2, &d), 0);
    assert_int_equal(k2[31], 0x1f);
    loa_diags_release(&d);
    test_remove_store(store);
}

static void upsert_by_psid_merges_and_reports_unchanged(void **state)
{
    struct fixture *f = *state;
    enum loa_upsert_result res;
    int64_t id1, id2;
    struct loa_subscriber s = sub(f->page_ref, "1001", "+84912345678");
    s.first_name = (char *)(uintptr_t) "Ngọc";
    s.attrs = (char *)(uintptr_t) "{\"city\":\"Huế\"}";
    assert_int_equal(TW(f->st, subscriber_upsert, &s, 0, loa_now_ms(), &res, &id1), 0);
    assert_int_equal(res, LOA_UPSERT_INSERTED);
    assert_int_equal(TW(f->st, subscriber_upsert, &s, 0, loa_now_ms(), &res, &id2), 0);
    assert_int_equal(res, LOA_UPSERT_UNCHANGED);
    assert_int_equal(id1, id2);
    /* NULL fields keep stored values; attributes merge key by key. */
    struct loa_subscriber t = sub(f->page_ref, "1001", NULL);
    t.email = (char *)(uintptr_t) "ngoc@example.vn";
    t.attrs = (char *)(uintptr_t) "{\"size\":\"M\"}";
    assert_int_equal(TW(f->st, subscriber_upsert, &t, 0, loa_now_ms(), &res, &id2), 0);
    assert_int_equal(res, LOA_UPSERT_UPDATED);
    struct loa_subscriber got;
    assert_int_equal(loa_store_subscriber_find(f->st, f->page_ref, "1001", &got), 0);
    assert_string_equal(got.first_name, "Ngọc");
    assert_string_equal(got.phone, "+84912345678");
    assert_string_equal(got.email, "ngoc@example.vn");
    assert_string_equal(got.attrs, "{\"city\":\"Huế\",\"size\":\"M\"}");
    loa_subscriber_release(&got);
}

static void contact_without_psid_is_matched_by_phone(void **state)
{
    struct fixture *f = *state;
    enum loa_upsert_result res;
    int64_t contact, later, other;
    /* A CRM contact known only by phone... */
    struct loa_subscriber c = sub(f->page_ref, NULL, "+84987654321");
    assert_int_equal(TW(f->st, subscriber_upsert, &c, 0, loa_now_ms(), &res, &contact), 0);
    assert_int_equal(res, LOA_UPSERT_INSERTED);
    int64_t n;
    assert_int_equal(loa_store_contacts_count(f->st, f->page_ref, &n), 0);
    assert_int_equal(n, 1);
    /* ...becomes the Messenger subscriber with that phone (it gains the PSID). */
    struct loa_subscriber s = sub(f->page_ref, "2002", "+84987654321");
    assert_int_equal(TW(f->st, subscriber_upsert, &s, 0, loa_now_ms(), &res, &later), 0);
    assert_int_equal(res, LOA_UPSERT_UPDATED);
    assert_int_equal(later, contact);
    /* A different PSID with the same phone is another person. */
    struct loa_subscriber o = sub(f->page_ref, "3003", "+84987654321");
    assert_int_equal(TW(f->st, subscriber_upsert, &o, 0, loa_now_ms(), &res, &other), 0);
    assert_int_equal(res, LOA_UPSERT_INSERTED);
    assert_int_not_equal(other, contact);
    /* A phone-only row matches an existing subscriber with that phone. */
    struct loa_subscriber p = sub(f->page_ref, NULL, "+84987654321");
    p.last_name = (char *)(uintptr_t) "Trần";
    assert_int_equal(TW(f->st, subscriber_upsert, &p, 0, loa_now_ms(), &res, &later), 0);
    assert_int_equal(res, LOA_UPSERT_UPDATED);
    assert_int_equal(later, contact);
}

static int count_sub(const struct loa_subscriber *s, void *ud)
{
    (void)s;
    ++*(int64_t *)ud;
    return 0;
}

static int count_tags(const char *name, int64_t count, void *ud)
{
    (void)name;
    (void)count;
    ++*(int64_t *)ud;
    return 0;
}

static int count_tag(const char *name, int64_t count, void *ud)
{
    if (strcmp(name, "vip") == 0)
        *(int64_t *)ud = count;
    return 0;
}

static void tags_add_remove_rename_delete(void **state)
{
    struct fixture *f = *state;
    enum loa_upsert_result res;
    int64_t id, tag;
    struct loa_subscriber s = sub(f->page_ref, "4004", NULL);
    assert_int_equal(TW(f->st, subscriber_upsert, &s, 0, loa_now_ms(), &res, &id), 0);
    assert_int_equal(TW(f->st, tag_ensure, f->page_ref, "vip", &tag), 0);
    bool added;
    assert_int_equal(TW(f->st, tag_add, id, tag, &added), 0);
    assert_true(added);
    assert_int_equal(TW(f->st, tag_add, id, tag, &added), 0);
    assert_false(added);
    int64_t n = 0;
    assert_int_equal(loa_store_tag_list(f->st, f->page_ref, count_tag, &n), 0);
    assert_int_equal(n, 1);
    int64_t tag2;
    assert_int_equal(TW(f->st, tag_ensure, f->page_ref, "da-mua", &tag2), 0);
    assert_int_equal(TW(f->st, tag_rename, f->page_ref, "vip", "da-mua"), LOA_EEXIST);
    assert_int_equal(TW(f->st, tag_rename, f->page_ref, "nope", "x"), LOA_ENOENT);
    assert_int_equal(TW(f->st, tag_rename, f->page_ref, "vip", "khach-vip"), 0);
    char *tags;
    assert_int_equal(loa_store_subscriber_tags(f->st, id, &tags), 0);
    assert_string_equal(tags, "khach-vip");
    loa_free(tags);
    assert_int_equal(TW(f->st, tag_delete, f->page_ref, "khach-vip"), 0);
    assert_int_equal(TW(f->st, tag_delete, f->page_ref, "khach-vip"), LOA_ENOENT);
    assert_int_equal(loa_store_subscriber_tags(f->st, id, &tags), 0);
    assert_string_equal(tags, "");
    loa_free(tags);
}

/* "nữ" composed and typed as n + u + horn + tilde. */
#define NU_NFC "n\xE1\xBB\xAF"
#define NU_NFD "nu\xCC\x9B\xCC\x83"

/* Tags compare without regard to case and Unicode form and show as first written. */
static void tags_fold_case_and_form(void **state)
{
    struct fixture *f = *state;
    enum loa_upsert_result res;
    int64_t a, b, vip, vip2, nu, nu2;
    struct loa_subscriber s = sub(f->page_ref, "7007", NULL);
    assert_int_equal(TW(f->st, subscriber_upsert, &s, 0, loa_now_ms(), &res, &a), 0);
    s = sub(f->page_ref, "7008", NULL);
    assert_int_equal(TW(f->st, subscriber_upsert, &s, 0, loa_now_ms(), &res, &b), 0);
    assert_int_equal(TW(f->st, tag_ensure, f->page_ref, "VIP", &vip), 0);
    assert_int_equal(TW(f->st, tag_ensure, f->page_ref, "vip", &vip2), 0);
    assert_int_equal(vip, vip2);
    assert_int_equal(TW(f->st, tag_ensure, f->page_ref, NU_NFD, &nu), 0);
    assert_int_equal(TW(f->st, tag_ensure, f->page_ref, "N\xE1\xBB\xAE", &nu2), 0); /* "NỮ" */
    assert_int_equal(nu, nu2);
    char *name = NULL;
    int64_t id;
    assert_int_equal(loa_store_tag_find(f->st, f->page_ref, NU_NFC, &id, &name), 0);
    assert_int_equal(id, nu);
    assert_string_equal(name, NU_NFC); /* stored in NFC as first written */
    loa_free(name);
    assert_int_equal(loa_store_tag_find(f->st, f->page_ref, "Vip", &id, &name), 0);
    assert_string_equal(name, "VIP");
    loa_free(name);
    assert_int_equal(loa_store_tag_find(f->st, f->page_ref, "vip ", &id, NULL), LOA_ENOENT);
    /* A change of case of its own name is a rename, not a clash. */
    assert_int_equal(TW(f->st, tag_rename, f->page_ref, "vip", "Vip"), 0);
    assert_int_equal(loa_store_tag_find(f->st, f->page_ref, "VIP", &id, &name), 0);
    assert_string_equal(name, "Vip");
    loa_free(name);
    assert_int_equal(TW(f->st, tag_rename, f->page_ref, "VIP", NU_NFD), LOA_EEXIST);
    /* Listing by tag finds it whatever the case. */
    assert_int_equal(TW(f->st, tag_add, a, vip, NULL), 0);
    int64_t seen = 0;
    struct loa_subscriber_query q = { .page_ref = f->page_ref, .tag = "vIP" };
    assert_int_equal(loa_store_subscriber_list(f->st, &q, count_sub, &seen), 0);
    assert_int_equal(seen, 1);
    assert_int_equal(TW(f->st, tag_delete, f->page_ref, "VIP"), 0);
    assert_int_equal(loa_store_tag_find(f->st, f->page_ref, "vip", &id, NULL), LOA_ENOENT);
    (void)b;
}

/* Merging moves everyone to the second tag, once, and deletes the first. */
static void tags_merge(void **state)
{
    struct fixture *f = *state;
    enum loa_upsert_result res;
    int64_t a, b, c, from, into, moved = -1;
    struct loa_subscriber s = sub(f->page_ref, "8001", NULL);
    assert_int_equal(TW(f->st, subscriber_upsert, &s, 0, loa_now_ms(), &res, &a), 0);
    s = sub(f->page_ref, "8002", NULL);
    assert_int_equal(TW(f->st, subscriber_upsert, &s, 0, loa_now_ms(), &res, &b), 0);
    s = sub(f->page_ref, "8003", NULL);
    assert_int_equal(TW(f->st, subscriber_upsert, &s, 0, loa_now_ms(), &res, &c), 0);
    assert_int_equal(TW(f->st, tag_ensure, f->page_ref, "khach quen", &from), 0);
    assert_int_equal(TW(f->st, tag_ensure, f->page_ref, "Khách quen", &into), 0);
    assert_int_equal(TW(f->st, tag_add, a, from, NULL), 0);
    assert_int_equal(TW(f->st, tag_add, b, from, NULL), 0);
    assert_int_equal(TW(f->st, tag_add, b, into, NULL), 0);
    assert_int_equal(TW(f->st, tag_add, c, into, NULL), 0);
    assert_int_equal(TW(f->st, tag_merge, f->page_ref, "nope", "Khách quen", NULL), LOA_ENOENT);
    assert_int_equal(TW(f->st, tag_merge, f->page_ref, "KHACH QUEN", "khach quen", NULL),
                     LOA_EINVAL);
    assert_int_equal(TW(f->st, tag_merge, f->page_ref, "KHACH QUEN", "khách quen", &moved), 0);
    assert_int_equal(moved, 1); /* b had both */
    int64_t id;
    assert_int_equal(loa_store_tag_find(f->st, f->page_ref, "khach quen", &id, NULL), LOA_ENOENT);
    int64_t seen = 0;
    struct loa_subscriber_query q = { .page_ref = f->page_ref, .tag = "Khách quen" };
    assert_int_equal(loa_store_subscriber_list(f->st, &q, count_sub, &seen), 0);
    assert_int_equal(seen, 3);
}

/* Tags written twice in different case before keys existed are merged by the migration into
 * the first written one, with everyone's assignments. */
static void tag_key_migration_merges_duplicates(void **state)
{
    if (!test_store_is_sqlite())
        skip(); /* SQLite's numbered migrations */
    (void)state;
    char path[512];
    test_path(path, sizeof(path), "tags-old.db");
    struct loa_store_opts o = { .path = path,
                                .create = true,
                                .target_version = loa_store_latest_version() - 1 };
    memset(o.key, 3, sizeof(o.key));
    struct loa_diags d;
    loa_diags_init(&d, 0);
    struct loa_store *st;
    assert_int_equal(loa_store_open(&o, &st, &d), 0);
    struct loa_page_input in = { .page_id = "43",
                                 .name = "Shop",
                                 .access_token = "t",
                                 .daily_cap = -1,
                                 .plan_quota = -1,
                                 .activated_at = -1 };
    assert_int_equal(TW(st, page_put, &in, loa_now_ms(), NULL), 0);
    struct loa_page p;
    assert_int_equal(loa_store_page_get(st, "43", &p), 0);
    int64_t ids[3], tags[3];
    const char *names[3] = { "VIP", "vip", NU_NFD };
    for (int i = 0; i < 3; i++) {
        char psid[8];
        snprintf(psid, sizeof(psid), "90%d", i);
        struct loa_subscriber s = sub(p.id, psid, NULL);
        enum loa_upsert_result res;
        assert_int_equal(TW(st, subscriber_upsert, &s, 0, loa_now_ms(), &res, &ids[i]), 0);
        assert_int_equal(TW(st, tag_ensure, p.id, names[i], &tags[i]), 0);
        assert_int_equal(TW(st, tag_add, ids[i], tags[i], NULL), 0);
    }
    assert_int_not_equal(tags[0], tags[1]);                      /* two tags before the migration */
    assert_int_equal(TW(st, tag_add, ids[0], tags[1], NULL), 0); /* a person with both */
    loa_store_close(st);
    o.target_version = 0;
    o.create = false;
    assert_int_equal(loa_store_open(&o, &st, &d), 0);
    int64_t n = 0;
    assert_int_equal(loa_store_tag_list(st, p.id, count_tags, &n), 0);
    assert_int_equal(n, 2); /* VIP and nữ */
    char *name;
    int64_t id;
    assert_int_equal(loa_store_tag_find(st, p.id, "vip", &id, &name), 0);
    assert_int_equal(id, tags[0]);
    assert_string_equal(name, "VIP");
    loa_free(name);
    int64_t seen = 0;
    struct loa_subscriber_query q = { .page_ref = p.id, .tag = "Vip" };
    assert_int_equal(loa_store_subscriber_list(st, &q, count_sub, &seen), 0);
    assert_int_equal(seen, 2);
    assert_int_equal(loa_store_tag_find(st, p.id, NU_NFC, &id, NULL), 0);
    assert_int_equal(id, tags[2]);
    loa_page_release(&p);
    loa_store_close(st);
    assert_true(loa_diags_empty(&d));
    loa_diags_release(&d);
    test_remove_store(path);
}

static void transaction_rollback_leaves_nothing(void **state)
{
    struct fixture *f = *state;
    int64_t before, after, id;
    enum loa_upsert_result res;
    assert_int_equal(loa_store_subscriber_count(f->st, f->page_ref, &before), 0);
    struct loa_txn *tx;
    assert_int_equal(loa_store_begin(f->st, &tx), 0);
    struct loa_subscriber s = sub(f->page_ref, "5005", NULL);
    assert_int_equal(loa_store_subscriber_upsert(tx, &s, 0, loa_now_ms(), &res, &id), 0);
    assert_int_equal(loa_store_rollback(tx), 0);
    assert_int_equal(loa_store_subscriber_count(f->st, f->page_ref, &after), 0);
    assert_int_equal(before, after);
}

/* API keys: shown once, stored as a keyed hash, verified, revoked. */
static void api_keys_hashed_verified_revoked(void **state)
{
    struct fixture *f = *state;
    char *key = NULL;
    struct loa_apikey k;
    assert_int_equal(TW(f->st, apikey_create, LOA_ROLE_STAFF, "ci", loa_now_ms(), &key, &k), 0);
    assert_int_equal(strlen(key), 4 + 12 + 1 + 43);
    assert_int_equal(strncmp(key, k.prefix, strlen(k.prefix)), 0);
    struct loa_apikey v;
    assert_int_equal(loa_store_apikey_verify(f->st, key, 1767225600000, &v), 0);
    assert_int_equal(v.role, LOA_ROLE_STAFF);
    assert_int_equal(v.last_used_at, 1767225600000);
    loa_apikey_release(&v);
    /* A changed secret with the right prefix, a malformed key, an unknown prefix. */
    char bad[80];
    snprintf(bad, sizeof(bad), "%s", key);
    bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == 'A' ? 'B' : 'A';
    assert_int_equal(loa_store_apikey_verify(f->st, bad, 1000, &v), LOA_EPERM);
    assert_int_equal(loa_store_apikey_verify(f->st, "loa_x", 1000, &v), LOA_EPERM);
    assert_int_equal(loa_store_apikey_verify(f->st, NULL, 1000, &v), LOA_EPERM);
    /* The key itself is nowhere in the file. */
    FILE *db = fopen(f->path, "rb");
    assert_non_null(db);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof(buf), db);
    fclose(db);
    assert_null(memmem(buf, n, key + 17, 43));
    assert_int_equal(TW(f->st, apikey_revoke, k.prefix + 4, 1767225601000), 0);
    assert_int_equal(TW(f->st, apikey_revoke, k.prefix, 1767225601000), LOA_ENOENT);
    assert_int_equal(loa_store_apikey_verify(f->st, key, 1767225602000, &v), LOA_EPERM);
    memset(key, 0, strlen(key));
    loa_free(key);
    loa_apikey_release(&k);
}

/* Console users: staff Pages, case-insensitive logins, passwords, sessions (hashed tokens,
 * expiry, sign out everywhere) and sign-in failures with a lock. */
static void users_sessions_and_signin_failures(void **state)
{
    struct fixture *f = *state;
    const char *pages[] = { "111" };
    int64_t id = 0;
    assert_int_equal(TW(f->st, user_add, "lan", LOA_USER_STAFF, "$argon2id$x", pages, 1, 1000, &id),
                     0);
    assert_int_equal(TW(f->st, user_add, "LAN", LOA_USER_ADMIN, "$argon2id$y", NULL, 0, 1000, NULL),
                     LOA_EEXIST);
    struct loa_user u;
    char *hash = NULL;
    assert_int_equal(loa_store_user_get(f->st, "Lan", &u, &hash), 0);
    assert_int_equal(u.id, id);
    assert_int_equal(u.role, LOA_USER_STAFF);
    assert_string_equal(u.lang, "vi");
    assert_int_equal(u.npages, 1);
    assert_string_equal(u.pages[0], "111");
    assert_string_equal(hash, "$argon2id$x");
    loa_free(hash);
    loa_user_release(&u);
    assert_int_equal(loa_store_user_get(f->st, "nobody", &u, NULL), LOA_ENOENT);

    /* Sessions: found by the token, never stored as such; idle and absolute expiry. */
    const char *token = "c2Vzc2lvbi10b2tlbi1mb3ItdGhlLXVuaXQtdGVzdA";
    assert_int_equal(TW(f->st, session_create, id, token, "csrf-1", 10000, NULL), 0);
    struct loa_session s;
    assert_int_equal(loa_store_session_find(f->st, token, 20000, 60000, 600000, &s, &u), 0);
    assert_string_equal(s.csrf, "csrf-1");
    assert_string_equal(u.login, "lan");
    assert_int_equal(s.seen_at, 10000); /* written at most once a minute */
    loa_session_release(&s);
    loa_user_release(&u);
    assert_int_equal(loa_store_session_find(f->st, "other-token", 20000, 0, 0, &s, &u), LOA_ENOENT);
    assert_int_equal(loa_store_session_find(f->st, token, 70000, 60000, 600000, &s, &u), 0);
    assert_int_equal(s.seen_at, 70000);
    loa_session_release(&s);
    loa_user_release(&u);
    assert_int_equal(loa_store_session_find(f->st, token, 150000, 60000, 600000, &s, &u),
                     LOA_ENOENT); /* idle 80 s > 60 s: ended (and deleted) */
    assert_int_equal(loa_store_session_find(f->st, token, 90000, 60000, 600000, &s, &u),
                     LOA_ENOENT);
    FILE *db = fopen(f->path, "rb");
    assert_non_null(db);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof(buf), db);
    fclose(db);
    assert_null(memmem(buf, n, token, strlen(token)));

    assert_int_equal(TW(f->st, session_create, id, "t1", "c", 1000, NULL), 0);
    assert_int_equal(TW(f->st, session_create, id, "t2", "c", 1000, NULL), 0);
    assert_int_equal(loa_store_session_find(f->st, "t1", 2000, 0, 0, &s, &u), 0);
    loa_session_release(&s);
    loa_user_release(&u);
    int64_t ended = 0;
    assert_int_equal(TW(f->st, session_delete_user, id, &ended), 0);
    assert_int_equal(ended, 2);
    assert_int_equal(loa_store_session_find(f->st, "t2", 2000, 0, 0, &s, &u), LOA_ENOENT);
    /* A new password ends the sessions too. */
    assert_int_equal(TW(f->st, session_create, id, "t3", "c", 1000, NULL), 0);
    assert_int_equal(TW(f->st, user_set_password, "LAN", "$argon2id$z", 3000), 0);
    assert_int_equal(loa_store_session_find(f->st, "t3", 3000, 0, 0, &s, &u), LOA_ENOENT);
    assert_int_equal(TW(f->st, user_set_password, "nobody", "$argon2id$z", 3000), LOA_ENOENT);

    /* Failures: counted per login (case-insensitive); the third locks for 60 s. */
    struct loa_signin_state st;
    assert_int_equal(TW(f->st, signin_failed, "lan", 1000, 3, 60000, &st), 0);
    assert_int_equal(TW(f->st, signin_failed, "Lan", 2000, 3, 60000, &st), 0);
    assert_int_equal(st.failures, 2);
    assert_int_equal(st.locked_until, 0);
    assert_int_equal(TW(f->st, signin_failed, "lan", 3000, 3, 60000, &st), 0);
    assert_int_equal(st.locked_until, 63000);
    assert_int_equal(loa_store_signin_state(f->st, "LAN", &st), 0);
    assert_int_equal(st.locked_until, 63000);
    assert_int_equal(TW(f->st, signin_failed, "lan", 70000, 3, 60000, &st), 0);
    assert_int_equal(st.failures, 1); /* the lock ran out: a new count */
    assert_int_equal(TW(f->st, signin_clear, "lan"), 0);
    assert_int_equal(loa_store_signin_state(f->st, "lan", &st), 0);
    assert_int_equal(st.failures, 0);

    /* Removing a user removes their sessions and Pages. */
    assert_int_equal(TW(f->st, session_create, id, "t4", "c", 1000, NULL), 0);
    assert_int_equal(TW(f->st, user_remove, "lan"), 0);
    assert_int_equal(TW(f->st, user_remove, "lan"), LOA_ENOENT);
    assert_int_equal(loa_store_session_find(f->st, "t4", 2000, 0, 0, &s, &u), LOA_ENOENT);
}

/* The window columns: written as given (the intake service decides them), read back. */
static void subscriber_window_columns(void **state)
{
    struct fixture *f = *state;
    struct loa_window w = { .known = true,
                            .first_seen_at = 4000,
                            .last_interaction_at = 5000,
                            .last_interaction_kind = "reaction",
                            .ad_referral_at = 4500 };
    int64_t id = 0, got_id = -1;
    struct loa_window r;
    char *kind;
    assert_int_equal(loa_store_window_get(f->st, f->page_ref, "p1", &got_id, &r, &kind), 0);
    assert_int_equal(got_id, 0);
    assert_false(r.known);
    assert_null(kind);
    assert_int_equal(TW(f->st, window_put, f->page_ref, "p1", 0, &w, loa_now_ms(), &id), 0);
    assert_true(id > 0);
    assert_int_equal(loa_store_window_get(f->st, f->page_ref, "p1", &got_id, &r, &kind), 0);
    assert_int_equal(got_id, id);
    assert_true(r.known);
    assert_int_equal(r.first_seen_at, 4000);
    assert_int_equal(r.last_interaction_at, 5000);
    assert_string_equal(r.last_interaction_kind, "reaction");
    assert_int_equal(r.ad_referral_at, 4500);
    assert_false(r.after_ctm_ad);
    loa_free(kind);
    /* An update writes exactly what it is given, even backwards in time. */
    w.last_interaction_at = 3000;
    w.last_interaction_kind = "message";
    w.ad_referral_at = 0;
    w.after_ctm_ad = true;
    assert_int_equal(TW(f->st, window_put, f->page_ref, "p1", id, &w, loa_now_ms(), NULL), 0);
    struct loa_subscriber s;
    assert_int_equal(loa_store_subscriber_get(f->st, id, &s), 0);
    assert_int_equal(s.last_interaction_at, 3000);
    assert_string_equal(s.last_interaction_kind, "message");
    assert_int_equal(s.first_seen_at, 4000);
    assert_int_equal(s.ad_referral_at, 0);
    assert_true(s.first_after_ctm_ad);
    loa_subscriber_release(&s);
    assert_int_equal(TW(f->st, window_put, f->page_ref, "", 0, &w, loa_now_ms(), NULL), LOA_EINVAL);
    assert_int_equal(TW(f->st, subscriber_patch_attrs, id, "{\"a\":1,\"b\":2}", loa_now_ms()), 0);
    assert_int_equal(TW(f->st, subscriber_patch_attrs, id, "{\"a\":null}", loa_now_ms()), 0);
    assert_int_equal(TW(f->st, subscriber_patch_attrs, id, "[1]", loa_now_ms()), LOA_EINVAL);
    assert_int_equal(TW(f->st, subscriber_patch_attrs, id, "{bad", loa_now_ms()), LOA_EINVAL);
    assert_int_equal(loa_store_subscriber_get(f->st, id, &s), 0);
    assert_string_equal(s.attrs, "{\"b\":2}");
    loa_subscriber_release(&s);
    assert_int_equal(TW(f->st, subscriber_delete, id), 0);
    assert_int_equal(TW(f->st, subscriber_delete, id), LOA_ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(upgrade_from_version_1),
        cmocka_unit_test(key_file_created_once_and_reused),
        cmocka_unit_test_setup_teardown(wrong_key_and_missing_store_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(secrets_encrypted_at_rest, setup, teardown),
        cmocka_unit_test_setup_teardown(upsert_by_psid_merges_and_reports_unchanged, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(contact_without_psid_is_matched_by_phone, setup, teardown),
        cmocka_unit_test_setup_teardown(tags_add_remove_rename_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(tags_fold_case_and_form, setup, teardown),
        cmocka_unit_test_setup_teardown(tags_merge, setup, teardown),
        cmocka_unit_test(tag_key_migration_merges_duplicates),
        cmocka_unit_test_setup_teardown(transaction_rollback_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(api_keys_hashed_verified_revoked, setup, teardown),
        cmocka_unit_test_setup_teardown(users_sessions_and_signin_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(subscriber_window_columns, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
