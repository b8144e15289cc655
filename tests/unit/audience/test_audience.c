/* SPDX-License-Identifier: MIT */
/*
 * Audiences: the filter parser (every predicate valid and invalid, paths in complaints, caps),
 * its evaluation in SQL against a small store (each predicate, combinators, ordering, cursor),
 * the preview's reachability tally, and CRM phone-list uploads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <loa/alloc.h>
#include <loa/audience.h>
#include <loa/buf.h>
#include <loa/clock.h>
#include <loa/diag.h>
#include <loa/err.h>
#include <loa/import.h>
#include <loa/rules.h>
#include <loa/store.h>

#include "testtxn.h"
#include "testutil.h"

#define RULES LOA_SOURCE_DIR "/rules/messaging-rules.json"

static int64_t T0; /* "now" of every test: 2026-05-10T12:00Z */

/* ---- Parser ------------------------------------------------------------------------------ */

static struct loa_audience_node *parse_ok(const char *json)
{
    struct loa_diags d;
    loa_diags_init(&d, 0);
    struct loa_audience_node *n = NULL;
    int rc = loa_audience_parse(json, strlen(json), T0, "filter", &n, &d);
    if (rc != 0) {
        loa_diags_print(&d, stderr, json);
        fail_msg("parse failed: %s", json);
    }
    loa_diags_release(&d);
    return n;
}

/* Parses a bad filter; the first complaint must be at where and contain reason. */
static void parse_bad(const char *json, int want_rc, const char *where, const char *reason)
{
    struct loa_diags d;
    loa_diags_init(&d, 0);
    struct loa_audience_node *n = (void *)1;
    int rc = loa_audience_parse(json, strlen(json), T0, "filter", &n, &d);
    if (rc != want_rc || n != NULL || d.count == 0)
        fail_msg("%s: rc %d, want %d", json, rc, want_rc);
    if (strcmp(d.items[0].where, where) != 0 || !strstr(d.items[0].reason, reason))
        fail_msg("%s: got \"%s: %s\", want \"%s: ...%s...\"", json, d.items[0].where,
                 d.items[0].reason, where, reason);
    loa_diags_release(&d);
}

static void parse_valid(void **state)
{
    (void)state;
    struct loa_audience_node *n = parse_ok("{}");
    assert_true(loa_audience_is_everyone(n));
    loa_audience_free(n);
    n = parse_ok("{\"all\":[]}");
    assert_true(loa_audience_is_everyone(n));
    loa_audience_free(n);

    n = parse_ok("{\"all\":[{\"tags\":{\"any\":[\"vip\",\"khách-sỉ\",\"vip\"]}},"
                 "{\"tags\":{\"all\":[\"a\"]}},{\"tags\":{\"none\":[\"b\"]}},"
                 "{\"has\":\"phone\"},{\"lacks\":\"email\"},{\"gender\":\"unknown\"},"
                 "{\"last_interaction\":{\"within_days\":30}},"
                 "{\"first_seen\":{\"between\":[\"2026-05-01\",\"2026-05-03\"]}},"
                 "{\"attr\":{\"name\":\"city\",\"op\":\"eq\",\"value\":\"Huế\"}},"
                 "{\"attr\":{\"name\":\"age\",\"op\":\"gt\",\"value\":18}},"
                 "{\"attr\":{\"name\":\"note\",\"op\":\"exists\"}},"
                 "{\"list\":\"crm-11\"},{\"not\":{\"any\":[]}}]}");
    assert_int_equal(n->kind, LOA_AUD_ALL);
    assert_int_equal(n->nchildren, 13);
    struct loa_audience_node **c = n->children;
    assert_int_equal(c[0]->kind, LOA_AUD_TAGS_ANY);
    assert_int_equal(c[0]->nnames, 2); /* de-duplicated */
    assert_string_equal(c[0]->names[1], "khách-sỉ");
    assert_int_equal(c[1]->kind, LOA_AUD_TAGS_ALL);
    assert_int_equal(c[2]->kind, LOA_AUD_TAGS_NONE);
    assert_int_equal(c[3]->kind, LOA_AUD_HAS);
    assert_int_equal(c[3]->field, LOA_AUD_FIELD_PHONE);
    assert_int_equal(c[4]->kind, LOA_AUD_LACKS);
    assert_int_equal(c[4]->field, LOA_AUD_FIELD_EMAIL);
    assert_int_equal(c[5]->kind, LOA_AUD_GENDER);
    assert_null(c[5]->value);
    /* within_days counts back from the now given to the parser. */
    assert_int_equal(c[6]->from, T0 - 30 * LOA_DAY_MS);
    assert_int_equal(c[6]->until, T0 + 1);
    /* A date alone as the end of a range includes that whole day. */
    int64_t may1, may4;
    loa_time_parse("2026-05-01", &may1);
    loa_time_parse("2026-05-04", &may4);
    assert_int_equal(c[7]->from, may1);
    assert_int_equal(c[7]->until, may4);
    assert_int_equal(c[8]->op, LOA_AUD_OP_EQ);
    assert_false(c[8]->numeric);
    assert_string_equal(c[8]->value, "Huế");
    assert_true(c[9]->numeric);
    assert_string_equal(c[9]->value, "18");
    assert_int_equal(c[10]->op, LOA_AUD_OP_EXISTS);
    assert_int_equal(c[11]->kind, LOA_AUD_LIST);
    assert_string_equal(c[11]->name, "crm-11");
    assert_int_equal(c[12]->kind, LOA_AUD_NOT);
    loa_audience_free(n);

    /* A time with a clock reading is an inclusive end to the millisecond. */
    n = parse_ok("{\"last_interaction\":{\"between\":[\"2026-05-01T00:00Z\","
                 "\"2026-05-02T10:00:00+07:00\"]}}");
    int64_t end;
    loa_time_parse("2026-05-02T03:00Z", &end);
    assert_int_equal(n->until, end + 1);
    loa_audience_free(n);
}

static void parse_invalid(void **state)
{
    (void)state;
    parse_bad("{\"all\":[{\"has\":\"phone\"},{\"tags\":{\"any\":[\"\"]}}]}", LOA_EINVAL,
              "filter.all[1].tags.any[0]", "tag names are 1-64 characters");
    parse_bad("{\"tags\":{\"any\":[\"a,b\"]}}", LOA_EINVAL, "filter.tags.any[0]", "cannot contain");
    parse_bad("{\"tags\":{\"some\":[\"a\"]}}", LOA_EINVAL, "filter.tags.some", "unknown key");
    parse_bad("{\"tags\":{\"any\":[]}}", LOA_EINVAL, "filter.tags.any", "1-100 tag names");
    parse_bad("{\"tags\":[\"a\"]}", LOA_EINVAL, "filter.tags", "one of");
    parse_bad("{\"has\":\"fax\"}", LOA_EINVAL, "filter.has", "\"phone\" or \"email\"");
    parse_bad("{\"lacks\":1}", LOA_EINVAL, "filter.lacks", "\"phone\" or \"email\"");
    parse_bad("{\"gender\":\"nữ\"}", LOA_EINVAL, "filter.gender", "\"male\", \"female\"");
    parse_bad("{\"last_interaction\":{\"within_days\":0}}", LOA_EINVAL,
              "filter.last_interaction.within_days", "from 1 to 3650");
    parse_bad("{\"last_interaction\":{\"within_days\":2.5}}", LOA_EINVAL,
              "filter.last_interaction.within_days", "whole number");
    parse_bad("{\"last_interaction\":{\"between\":[\"2026-05-01\"]}}", LOA_EINVAL,
              "filter.last_interaction.between", "two ISO 8601 times");
    parse_bad("{\"last_interaction\":{\"between\":[\"2026-05-01\",\"tomorrow\"]}}", LOA_EINVAL,
              "filter.last_interaction.between[1]", "ISO 8601");
    parse_bad("{\"first_seen\":{\"between\":[\"2026-05-03\",\"2026-05-01\"]}}", LOA_EINVAL,
              "filter.first_seen.between", "start must not be after the end");
    parse_bad("{\"first_seen\":{\"after\":\"2026-05-03\"}}", LOA_EINVAL, "filter.first_seen.after",
              "unknown key");
    parse_bad("{\"attr\":{\"name\":\"city\",\"op\":\"like\",\"value\":\"x\"}}", LOA_EINVAL,
              "filter.attr.op", "eq, ne, contains");
    parse_bad("{\"attr\":{\"op\":\"eq\",\"value\":\"x\"}}", LOA_EINVAL, "filter.attr.name",
              "required");
    parse_bad("{\"attr\":{\"name\":\"a\\\"b\",\"op\":\"eq\",\"value\":\"x\"}}", LOA_EINVAL,
              "filter.attr.name", "cannot contain");
    parse_bad("{\"attr\":{\"name\":\"city\",\"op\":\"eq\"}}", LOA_EINVAL, "filter.attr.value",
              "required");
    parse_bad("{\"attr\":{\"name\":\"city\",\"op\":\"exists\",\"value\":\"x\"}}", LOA_EINVAL,
              "filter.attr.value", "takes no value");
    parse_bad("{\"attr\":{\"name\":\"city\",\"op\":\"eq\",\"value\":[1]}}", LOA_EINVAL,
              "filter.attr.value", "string or a number");
    parse_bad("{\"attr\":{\"name\":\"city\",\"op\":\"eq\",\"value\":\"x\",\"x\":1}}", LOA_EINVAL,
              "filter.attr.x", "unknown key");
    parse_bad("{\"list\":\"\"}", LOA_EINVAL, "filter.list", "list names are 1-64");
    parse_bad("{\"segment\":\"x\"}", LOA_EINVAL, "filter.segment", "unknown predicate");
    parse_bad("{\"has\":\"phone\",\"lacks\":\"email\"}", LOA_EINVAL, "filter", "exactly one key");
    parse_bad("{\"all\":{}}", LOA_EINVAL, "filter.all", "array of expressions");
    parse_bad("{\"any\":[1]}", LOA_EINVAL, "filter.any[0]", "must be an object");
    parse_bad("{\"not\":[]}", LOA_EINVAL, "filter.not", "must be an object");
    parse_bad("[]", LOA_EINVAL, "filter", "must be an object");
    parse_bad("{\"all\":[", LOA_EPARSE, "filter", "malformed JSON");
    parse_bad("{\"has\":\"phone\",\"has\":\"email\"}", LOA_EPARSE, "filter", "malformed JSON");

    /* Every problem is reported, not just the first. */
    struct loa_diags d;
    loa_diags_init(&d, 0);
    struct loa_audience_node *n;
    const char *many = "{\"any\":[{\"has\":\"x\"},{\"gender\":\"y\"},{\"list\":7}]}";
    assert_int_equal(loa_audience_parse(many, strlen(many), T0, "", &n, &d), LOA_EINVAL);
    assert_int_equal(d.count, 3);
    assert_string_equal(d.items[0].where, "any[0].has");
    assert_string_equal(d.items[1].where, "any[1].gender");
    assert_string_equal(d.items[2].where, "any[2].list");
    loa_diags_release(&d);
}

static void parse_caps(void **state)
{
    (void)state;
    /* Nesting: 8 levels are fine, 9 are not. */
    struct loa_buf b;
    loa_buf_init(&b, 1 << 20);
    for (int i = 0; i < 8; i++)
        loa_buf_puts(&b, "{\"not\":");
    loa_buf_puts(&b, "{\"has\":\"phone\"}");
    for (int i = 0; i < 8; i++)
        loa_buf_puts(&b, "}");
    loa_audience_free(parse_ok(loa_buf_cstr(&b)));
    loa_buf_reset(&b);
    for (int i = 0; i < 9; i++)
        loa_buf_puts(&b, "{\"not\":");
    loa_buf_puts(&b, "{\"has\":\"phone\"}");
    for (int i = 0; i < 9; i++)
        loa_buf_puts(&b, "}");
    parse_bad(loa_buf_cstr(&b), LOA_EINVAL, "filter.not.not.not.not.not.not.not.not.not",
              "nest at most 8");

    /* Parts: at most 200 objects in all. */
    loa_buf_reset(&b);
    loa_buf_puts(&b, "{\"any\":[");
    for (int i = 0; i < 200; i++)
        loa_buf_puts(&b, i ? ",{\"has\":\"phone\"}" : "{\"has\":\"phone\"}");
    loa_buf_puts(&b, "]}");
    parse_bad(loa_buf_cstr(&b), LOA_EINVAL, "filter.any[199]", "at most 200 parts");

    /* Names in one predicate. */
    loa_buf_reset(&b);
    loa_buf_puts(&b, "{\"tags\":{\"any\":[");
    for (int i = 0; i < 101; i++)
        loa_buf_printf(&b, "%s\"t%d\"", i ? "," : "", i);
    loa_buf_puts(&b, "]}}");
    parse_bad(loa_buf_cstr(&b), LOA_EINVAL, "filter.tags.any", "1-100 tag names");

    /* Size. */
    loa_buf_reset(&b);
    loa_buf_puts(&b, "{\"list\":\"");
    for (int i = 0; i < LOA_AUDIENCE_MAX_BYTES; i++)
        loa_buf_putc(&b, 'x');
    loa_buf_puts(&b, "\"}");
    parse_bad(loa_buf_cstr(&b), LOA_EINVAL, "filter", "at most 65536 bytes");

    /* Long names and values. */
    char name[200];
    memset(name, 'n', 65);
    name[65] = '\0';
    loa_buf_reset(&b);
    loa_buf_printf(&b, "{\"list\":\"%s\"}", name);
    parse_bad(loa_buf_cstr(&b), LOA_EINVAL, "filter.list", "1-64 characters");
    loa_buf_reset(&b);
    loa_buf_puts(&b, "{\"attr\":{\"name\":\"a\",\"op\":\"eq\",\"value\":\"");
    for (int i = 0; i < 1001; i++)
        loa_buf_puts(&b, "ế");
    loa_buf_puts(&b, "\"}}");
    parse_bad(loa_buf_cstr(&b), LOA_EINVAL, "filter.attr.value", "0-1000 characters");
    loa_buf_release(&b);
}

/* ---- Store fixture --------------------------------------------------------------------- */

struct fixture {
    char path[512];
    struct loa_store *st;
    int64_t page, other;
    int64_t id[6]; /* id[1..5] */
};

static int64_t put_page(struct loa_store *st, const char *page_id)
{
    struct loa_page_input in = {
        .page_id = page_id, .name = "Shop", .daily_cap = -1, .plan_quota = -1, .activated_at = 1
    };
    assert_int_equal(TW(st, page_put, &in, loa_now_ms(), NULL), 0);
    struct loa_page p;
    assert_int_equal(loa_store_page_get(st, page_id, &p), 0);
    int64_t id = p.id;
    loa_page_release(&p);
    return id;
}

static int64_t put_sub(struct fixture *f, int64_t page, const char *psid, const char *phone,
                       const char *email, const char *gender, int64_t last, int64_t first,
                       const char *attrs, const char *tags)
{
    struct loa_subscriber s = {
        .page_ref = page,
        .psid = (char *)(uintptr_t)psid,
        .phone = (char *)(uintptr_t)phone,
        .email = (char *)(uintptr_t)email,
        .gender = (char *)(uintptr_t)gender,
        .first_name = (char *)(uintptr_t) "Ann",
        .utc_offset_min = LOA_UTC_OFFSET_UNKNOWN,
        .last_interaction_at = last,
        .last_interaction_kind = (char *)(uintptr_t)(last ? "message" : NULL),
        .first_seen_at = first,
        .attrs = (char *)(uintptr_t)attrs,
    };
    enum loa_upsert_result r;
    int64_t id;
    assert_int_equal(TW(f->st, subscriber_upsert, &s, 0, loa_now_ms(), &r, &id), 0);
    const char *p = tags;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char name[64];
        assert_true(n < sizeof(name));
        memcpy(name, p, n);
        name[n] = '\0';
        int64_t tag;
        assert_int_equal(TW(f->st, tag_ensure, page, name, &tag), 0);
        assert_int_equal(TW(f->st, tag_add, id, tag, NULL), 0);
        p += n + (comma ? 1 : 0);
    }
    return id;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    test_path(f->path, sizeof(f->path), "audience.db");
    struct loa_store_opts o = { .path = f->path, .create = true };
    memset(o.key, 3, sizeof(o.key));
    struct loa_diags d;
    loa_diags_init(&d, 0);
    assert_int_equal(loa_store_open(&o, &f->st, &d), 0);
    loa_diags_release(&d);
    f->page = put_page(f->st, "111");
    f->other = put_page(f->st, "222");
    int64_t h = LOA_HOUR_MS, day = LOA_DAY_MS;
    f->id[1] = put_sub(f, f->page, "p1", "+84911111111", "a@x.vn", "female", T0 - h, T0 - 100 * day,
                       "{\"city\":\"Huế\",\"age\":\"30\",\"spent\":\"12.853.000\"}", "vip");
    f->id[2] = put_sub(f, f->page, "p2", NULL, NULL, "male", T0 - 10 * day, T0 - 20 * day,
                       "{\"city\":\"Hà Nội\",\"age\":7,\"spent\":\"4.500.000 ₫\"}", "vip,new");
    f->id[3] = put_sub(f, f->page, "p3", "+84933333333", NULL, NULL, 0, 0, NULL, "new");
    f->id[4] = put_sub(f, f->page, NULL, "+84944444444", NULL, NULL, 0, 0,
                       "{\"age\":\"100\",\"spent\":\"1,5\"}", "");
    f->id[5] = put_sub(f, f->page, "p5", "+84955555555", "e@x.vn", "female", T0 - 2 * h,
                       T0 - 2 * day, "{\"city\":\"huế xanh\",\"note\":null}", "");
    /* Another Page's subscriber with the same tag and phone never shows up. */
    put_sub(f, f->other, "q1", "+84911111111", "a@x.vn", "female", T0 - h, T0 - h,
            "{\"city\":\"Huế\"}", "vip");
    int64_t list;
    assert_int_equal(TW(f->st, list_ensure, f->page, "crm-11", loa_now_ms(), &list), 0);
    assert_int_equal(TW(f->st, list_add, list, f->id[5]), 0);
    assert_int_equal(TW(f->st, list_add, list, f->id[3]), 0);
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

struct collect {
    struct fixture *f;
    char out[256];
};

static int collect_one(const struct loa_subscriber *s, void *ud)
{
    struct collect *c = ud;
    int n = 0;
    for (int i = 1; i <= 5; i++)
        if (c->f->id[i] == s->id)
            n = i;
    size_t len = strlen(c->out);
    snprintf(c->out + len, sizeof(c->out) - len, "%s%d", len ? "," : "", n);
    return 0;
}

/* The fixture numbers (1..5) of the members, by id, and checks the count agrees. */
static const char *members(struct fixture *f, const char *json)
{
    static struct collect c;
    memset(&c, 0, sizeof(c));
    c.f = f;
    struct loa_audience_node *n = parse_ok(json);
    assert_int_equal(
        loa_store_audience_list(f->st, f->page, n, LOA_AUDIENCE_BY_ID, NULL, 0, collect_one, &c),
        0);
    int64_t count = -1;
    assert_int_equal(loa_store_audience_count(f->st, f->page, n, &count), 0);
    size_t listed = c.out[0] ? 1 : 0;
    for (const char *p = c.out; *p; p++)
        listed += *p == ',';
    assert_int_equal(count, (int64_t)listed);
    loa_audience_free(n);
    return c.out;
}

static void eval_predicates(void **state)
{
    struct fixture *f = *state;
    assert_string_equal(members(f, "{}"), "1,2,3,4,5");
    assert_string_equal(members(f, "{\"all\":[]}"), "1,2,3,4,5");
    assert_string_equal(members(f, "{\"any\":[]}"), "");
    assert_string_equal(members(f, "{\"tags\":{\"any\":[\"vip\",\"new\"]}}"), "1,2,3");
    assert_string_equal(members(f, "{\"tags\":{\"all\":[\"vip\",\"new\"]}}"), "2");
    assert_string_equal(members(f, "{\"tags\":{\"all\":[\"vip\",\"nope\"]}}"), "");
    assert_string_equal(members(f, "{\"tags\":{\"none\":[\"vip\"]}}"), "3,4,5");
    assert_string_equal(members(f, "{\"tags\":{\"any\":[\"nope\"]}}"), "");
    assert_string_equal(members(f, "{\"has\":\"phone\"}"), "1,3,4,5");
    assert_string_equal(members(f, "{\"lacks\":\"phone\"}"), "2");
    assert_string_equal(members(f, "{\"has\":\"email\"}"), "1,5");
    assert_string_equal(members(f, "{\"lacks\":\"email\"}"), "2,3,4");
    assert_string_equal(members(f, "{\"gender\":\"female\"}"), "1,5");
    assert_string_equal(members(f, "{\"gender\":\"male\"}"), "2");
    assert_string_equal(members(f, "{\"gender\":\"unknown\"}"), "3,4");
    assert_string_equal(members(f, "{\"last_interaction\":{\"within_days\":1}}"), "1,5");
    assert_string_equal(members(f, "{\"last_interaction\":{\"within_days\":30}}"), "1,2,5");
    /* "never interacted" is in no range, not even one starting in 1970. */
    assert_string_equal(
        members(f, "{\"last_interaction\":{\"between\":[\"1970-01-01\",\"2100-01-01\"]}}"),
        "1,2,5");
    assert_string_equal(
        members(f, "{\"last_interaction\":{\"between\":[\"2026-04-30\",\"2026-04-30\"]}}"), "2");
    assert_string_equal(
        members(f, "{\"first_seen\":{\"between\":[\"2026-04-01\",\"2026-05-10T12:00Z\"]}}"), "2,5");
    assert_string_equal(members(f, "{\"attr\":{\"name\":\"city\",\"op\":\"eq\",\"value\":"
                                   "\"Huế\"}}"),
                        "1");
    assert_string_equal(members(f, "{\"attr\":{\"name\":\"city\",\"op\":\"ne\",\"value\":"
                                   "\"Huế\"}}"),
                        "2,3,4,5");
    assert_string_equal(members(f, "{\"attr\":{\"name\":\"city\",\"op\":\"contains\",\"value\":"
                                   "\"HUẾ\"}}"),
                        "1,5");
    assert_string_equal(members(f, "{\"attr\":{\"name\":\"city\",\"op\":\"exists\"}}"), "1,2,5");
    /* A JSON null is not a value. */
    assert_string_equal(members(f, "{\"attr\":{\"name\":\"note\",\"op\":\"exists\"}}"), "");
    /* Numbers compare as numbers ("7" < "30" < "100"), stored as text or as numbers. */
    assert_string_equal(members(f, "{\"attr\":{\"name\":\"age\",\"op\":\"gt\",\"value\":20}}"),
                        "1,4");
    assert_string_equal(members(f, "{\"attr\":{\"name\":\"age\",\"op\":\"lt\",\"value\":\"30\"}}"),
                        "2");
    assert_string_equal(members(f, "{\"attr\":{\"name\":\"age\",\"op\":\"eq\",\"value\":"
                                   "\"7.0\"}}"),
                        "2");
    /* Text compares as text when either side is not a number. */
    assert_string_equal(members(f, "{\"attr\":{\"name\":\"city\",\"op\":\"gt\",\"value\":\"I\"}}"),
                        "5");
    /* Amounts written the Vietnamese way compare as numbers, on both sides. */
    assert_string_equal(members(f, "{\"attr\":{\"name\":\"spent\",\"op\":\"gt\","
                                   "\"value\":\"5,000,000\"}}"),
                        "1");
    assert_string_equal(members(f, "{\"attr\":{\"name\":\"spent\",\"op\":\"gt\","
                                   "\"value\":5000000}}"),
                        "1");
    assert_string_equal(members(f, "{\"attr\":{\"name\":\"spent\",\"op\":\"lt\","
                                   "\"value\":\"5.000.000\"}}"),
                        "2,4");
    assert_string_equal(members(f, "{\"attr\":{\"name\":\"spent\",\"op\":\"eq\","
                                   "\"value\":\"1.5\"}}"),
                        "4");
    /* A value typed decomposed ("Hue" + combining marks) is the composed one. */
    assert_string_equal(members(f, "{\"attr\":{\"name\":\"city\",\"op\":\"eq\",\"value\":"
                                   "\"Hue\u0302\u0301\"}}"),
                        "1");
    /* Tags match whatever their case. */
    assert_string_equal(members(f, "{\"tags\":{\"any\":[\"VIP\"]}}"), "1,2");
    assert_string_equal(members(f, "{\"tags\":{\"all\":[\"VIP\",\"vip\"]}}"), "1,2");
    assert_string_equal(members(f, "{\"list\":\"crm-11\"}"), "3,5");
    assert_string_equal(members(f, "{\"list\":\"missing\"}"), "");
}

static void eval_combinators(void **state)
{
    struct fixture *f = *state;
    assert_string_equal(
        members(f, "{\"all\":[{\"tags\":{\"any\":[\"vip\"]}},{\"has\":\"phone\"}]}"), "1");
    assert_string_equal(members(f, "{\"any\":[{\"gender\":\"male\"},{\"list\":\"crm-11\"}]}"),
                        "2,3,5");
    /* not is the complement, also for predicates over missing values. */
    assert_string_equal(members(f, "{\"not\":{\"gender\":\"female\"}}"), "2,3,4");
    assert_string_equal(members(f, "{\"not\":{\"list\":\"crm-11\"}}"), "1,2,4");
    assert_string_equal(members(f, "{\"not\":{\"last_interaction\":{\"within_days\":1}}}"),
                        "2,3,4");
    assert_string_equal(
        members(f, "{\"not\":{\"attr\":{\"name\":\"city\",\"op\":\"eq\",\"value\":\"Huế\"}}}"),
        "2,3,4,5");
    assert_string_equal(members(f, "{\"not\":{\"attr\":{\"name\":\"age\",\"op\":\"gt\","
                                   "\"value\":20}}}"),
                        "2,3,5");
    assert_string_equal(members(f, "{\"not\":{}}"), "");
    /* NovaonX's "Chi tiết" example: VIP or CRM list, with a phone, active this month. */
    assert_string_equal(
        members(f, "{\"all\":[{\"any\":[{\"tags\":{\"any\":[\"vip\"]}},{\"list\":\"crm-11\"}]},"
                   "{\"has\":\"phone\"},{\"last_interaction\":{\"within_days\":30}}]}"),
        "1,5");
}

struct page_walk {
    struct fixture *f;
    char out[256];
    struct loa_audience_cursor cur;
    int seen;
};

static int walk_one(const struct loa_subscriber *s, void *ud)
{
    struct page_walk *w = ud;
    int n = 0;
    for (int i = 1; i <= 5; i++)
        if (w->f->id[i] == s->id)
            n = i;
    size_t len = strlen(w->out);
    snprintf(w->out + len, sizeof(w->out) - len, "%s%d", len ? "," : "", n);
    w->cur = (struct loa_audience_cursor){ .set = true,
                                           .last_interaction_at = s->last_interaction_at,
                                           .id = s->id };
    w->seen++;
    return 0;
}

static void eval_order_and_cursor(void **state)
{
    struct fixture *f = *state;
    /* Most recently active first; never-active people last, newest id first. */
    struct page_walk w = { .f = f };
    assert_int_equal(loa_store_audience_list(f->st, f->page, NULL, LOA_AUDIENCE_BY_RECENT, NULL, 0,
                                             walk_one, &w),
                     0);
    assert_string_equal(w.out, "1,5,2,4,3");
    /* Pages of two, each continuing from the previous one's last member, give the same. */
    for (int order = 0; order < 2; order++) {
        struct page_walk p = { .f = f };
        int pages = 0;
        do {
            p.seen = 0;
            struct loa_audience_cursor cur = p.cur;
            assert_int_equal(
                loa_store_audience_list(f->st, f->page, NULL,
                                        order ? LOA_AUDIENCE_BY_RECENT : LOA_AUDIENCE_BY_ID, &cur,
                                        2, walk_one, &p),
                0);
            pages++;
        } while (p.seen == 2);
        assert_int_equal(pages, 3);
        assert_string_equal(p.out, order ? "1,5,2,4,3" : "1,2,3,4,5");
    }
}

static void preview_counts(void **state)
{
    struct fixture *f = *state;
    struct loa_rules *r;
    struct loa_diags d;
    loa_diags_init(&d, 0);
    assert_int_equal(loa_rules_load(RULES, &r, &d), 0);
    struct loa_audience_preview_opts o = {
        .page_ref = f->page,
        .page_activated = 1,
        .purpose = LOA_AUD_PROMOTIONAL,
        .at = T0,
        .limit = 2,
        .recent_first = true,
    };
    struct loa_audience_preview p;
    assert_int_equal(loa_audience_preview(f->st, r, NULL, &o, &p, &d), 0);
    assert_int_equal(p.total, 5);
    assert_int_equal(p.reachable, 2); /* 1 and 5 wrote within 24 h */
    assert_int_equal(p.not_reachable, 3);
    assert_int_equal(p.nby_route, 1);
    assert_string_equal(p.by_route[0].route, "window");
    assert_int_equal(p.by_route[0].count, 2);
    int64_t no_psid = 0, sum = 0;
    for (size_t i = 0; i < p.nby_reason; i++) {
        sum += p.by_reason[i].count;
        if (strcmp(p.by_reason[i].code, "no_psid") == 0)
            no_psid = p.by_reason[i].count;
    }
    assert_int_equal(sum, 3);
    assert_int_equal(no_psid, 1);
    assert_int_equal(p.npeople, 2);
    assert_int_equal(p.people[0].id, f->id[1]);
    assert_true(p.people[0].reachable);
    assert_string_equal(p.people[0].route, "window");
    assert_string_equal(p.people[0].phone, "+84911111111");
    assert_memory_equal(p.next_cursor, "r.", 2);
    struct loa_buf b;
    loa_buf_init(&b, 1 << 20);
    assert_int_equal(loa_audience_preview_format(&p, &b), 0);
    assert_non_null(strstr(loa_buf_cstr(&b), "\"total\":5"));
    char cursor[48];
    snprintf(cursor, sizeof(cursor), "%s", p.next_cursor);
    loa_audience_preview_release(&p);

    /* The next page continues; the last page has no cursor. */
    o.cursor = cursor;
    assert_int_equal(loa_audience_preview(f->st, r, NULL, &o, &p, &d), 0);
    assert_int_equal(p.npeople, 2);
    assert_int_equal(p.people[0].id, f->id[2]);
    assert_false(p.people[0].reachable);
    snprintf(cursor, sizeof(cursor), "%s", p.next_cursor);
    loa_audience_preview_release(&p);
    assert_int_equal(loa_audience_preview(f->st, r, NULL, &o, &p, &d), 0);
    assert_int_equal(p.npeople, 1);
    assert_string_equal(p.people[0].code, "no_window");
    assert_string_equal(p.next_cursor, "");
    loa_audience_preview_release(&p);

    /* A cursor of the other order, or junk, is refused with its field. */
    o.cursor = "i.3";
    assert_int_equal(loa_audience_preview(f->st, r, NULL, &o, &p, &d), LOA_EINVAL);
    assert_string_equal(d.items[0].where, "cursor");

    /* Non-promotional purpose and a filter: the count follows the filter. */
    o.cursor = NULL;
    o.purpose = LOA_AUD_NON_PROMOTIONAL;
    struct loa_audience_node *n = parse_ok("{\"tags\":{\"any\":[\"vip\"]}}");
    assert_int_equal(loa_audience_preview(f->st, r, n, &o, &p, &d), 0);
    assert_int_equal(p.total, 2);
    assert_int_equal(p.reachable + p.not_reachable, 2);
    loa_audience_preview_release(&p);
    loa_audience_free(n);
    loa_buf_release(&b);
    loa_diags_release(&d);
    loa_rules_free(r);
}

/* ---- Phone lists --------------------------------------------------------------------- */

static int upload(struct fixture *f, const char *csv, const char *name, bool replace,
                  struct loa_phone_list_report *rep, struct loa_diags *d)
{
    struct loa_phone_list_opts o = {
        .data = csv,
        .len = strlen(csv),
        .page_ref = f->page,
        .name = name,
        .region = "VN",
        .replace = replace,
    };
    return loa_import_phone_list(f->st, &o, rep, d);
}

/* The one decision the preview and the dispatcher share: outside the window a non-promotional
 * message goes by its message tag while the rules still have that tag, never a promotional
 * one; after 2026-04-27 only HUMAN_AGENT is left, and not for automated sends. */
static void decide_with_tag(void **state)
{
    (void)state;
    struct loa_rules *r;
    assert_int_equal(loa_rules_load(RULES, &r, NULL), 0);
    int64_t t2025 = 0, t2026 = 0;
    assert_int_equal(loa_time_parse("2025-06-01T10:00:00Z", &t2025), 0);
    assert_int_equal(loa_time_parse("2026-06-01T10:00:00Z", &t2026), 0);
    struct loa_audience_member m = { .id = 1,
                                     .psid = "p1",
                                     .first_seen_at = t2025 - 30 * LOA_DAY_MS,
                                     .last_interaction_at = t2025 - 3 * LOA_DAY_MS,
                                     .last_interaction_kind = "message" };
    struct loa_rules_decision dec;
    assert_int_equal(
        loa_audience_decide(r, &m, 1, LOA_AUD_NON_PROMOTIONAL, NULL, false, t2025, &dec), 0);
    assert_false(dec.allowed);
    assert_int_equal(loa_audience_decide(r, &m, 1, LOA_AUD_NON_PROMOTIONAL, "POST_PURCHASE_UPDATE",
                                         false, t2025, &dec),
                     0);
    assert_true(dec.allowed);
    assert_int_equal(dec.messaging_type, LOA_RULES_MT_MESSAGE_TAG);
    assert_string_equal(dec.tag, "POST_PURCHASE_UPDATE");
    assert_int_equal(loa_audience_decide(r, &m, 1, LOA_AUD_PROMOTIONAL, "POST_PURCHASE_UPDATE",
                                         false, t2025, &dec),
                     0);
    assert_false(dec.allowed);
    m.last_interaction_at = t2026 - 3 * LOA_DAY_MS;
    assert_int_equal(loa_audience_decide(r, &m, 1, LOA_AUD_NON_PROMOTIONAL, "POST_PURCHASE_UPDATE",
                                         false, t2026, &dec),
                     0);
    assert_false(dec.allowed);
    assert_int_equal(
        loa_audience_decide(r, &m, 1, LOA_AUD_NON_PROMOTIONAL, "HUMAN_AGENT", false, t2026, &dec),
        0);
    assert_false(dec.allowed);
    loa_rules_free(r);
}

static void phone_list_upload(void **state)
{
    struct fixture *f = *state;
    struct loa_phone_list_report rep;
    struct loa_diags d;
    loa_diags_init(&d, 0);
    const char *csv = "name,Phone,note\r\n"
                      "An,0911 111 111,x\r\n"          /* subscriber 1 */
                      "Bình,+84 944-444-444,\r\n"      /* subscriber 4 (a contact) */
                      "Chi,0912345678,\r\n"            /* valid, nobody */
                      "Dũng,abc,\r\n"                  /* does not parse */
                      "\r\n"                           /* blank */
                      "Em,84911111111,\r\n"            /* same number as row 2 */
                      "Giang,\"\",\"multi\nline\"\r\n" /* no number */
                      "Hà,123,\r\n";                   /* too short */
    assert_int_equal(upload(f, csv, "crm-12", false, &rep, &d), 0);
    assert_int_equal(rep.rows, 7);
    assert_int_equal(rep.matched, 2);
    assert_int_equal(rep.unmatched, 1);
    assert_int_equal(rep.invalid, 3);
    assert_int_equal(rep.duplicates, 1);
    assert_int_equal(rep.added, 2);
    assert_int_equal(rep.members, 2);
    assert_true(rep.created);
    assert_true(rep.written);
    assert_int_equal(d.count, 3);
    assert_int_equal(d.items[0].line, 5);
    assert_int_equal(d.items[0].column, 2);
    assert_string_equal(d.items[0].where, "phone");
    assert_int_equal(d.items[1].line, 8);
    assert_int_equal(d.items[2].line, 10); /* the quoted newline counts */
    assert_string_equal(members(f, "{\"list\":\"crm-12\"}"), "1,4");
    loa_diags_release(&d);

    /* Uploading again adds nothing; --replace keeps only the new file's people. */
    loa_diags_init(&d, 0);
    assert_int_equal(upload(f, csv, "crm-12", false, &rep, &d), 0);
    assert_false(rep.created);
    assert_int_equal(rep.added, 0);
    assert_int_equal(rep.members, 2);
    assert_int_equal(upload(f, "phone\n0955555555\n", "crm-12", true, &rep, &d), 0);
    assert_int_equal(rep.members, 1);
    assert_string_equal(members(f, "{\"list\":\"crm-12\"}"), "5");
    loa_diags_release(&d);
}

static int count_lists(const char *name, int64_t members, int64_t created_at, void *ud)
{
    (void)created_at;
    char *out = ud;
    size_t len = strlen(out);
    snprintf(out + len, 256 - len, "%s%s=%lld", len ? "," : "", name, (long long)members);
    return 0;
}

static void phone_list_atomic(void **state)
{
    struct fixture *f = *state;
    struct loa_phone_list_report rep;
    struct loa_diags d;
    loa_diags_init(&d, 0);
    /* No phone column: nothing is created. */
    assert_int_equal(upload(f, "name,email\nAn,a@x.vn\n", "crm-x", false, &rep, &d), LOA_EPARSE);
    assert_string_equal(d.items[0].reason,
                        "the first row must be a header with a phone column (phone, "
                        "phone_number, mobile, sdt or \"số điện thoại\")");
    /* Malformed CSV after good rows: nothing is written either. */
    assert_int_equal(upload(f, "phone\n0911111111\n\"0944444444\n", "crm-x", false, &rep, &d),
                     LOA_EPARSE);
    assert_false(rep.written);
    assert_int_equal(upload(f, "", "crm-x", false, &rep, &d), LOA_EPARSE);
    assert_int_equal(upload(f, "phone\n0911111111\n", "", false, &rep, &d), LOA_EINVAL);
    char lists[256] = "";
    assert_int_equal(loa_store_list_list(f->st, f->page, count_lists, lists), 0);
    assert_string_equal(lists, "crm-11=2");
    int64_t id;
    assert_int_equal(loa_store_list_find(f->st, f->page, "crm-x", &id), LOA_ENOENT);
    /* Another Page's subscribers never match. */
    assert_int_equal(upload(f, "sdt\n+84911111111\n", "crm-y", false, &rep, &d), 0);
    assert_int_equal(rep.members, 1);
    lists[0] = '\0';
    assert_int_equal(loa_store_list_list(f->st, f->page, count_lists, lists), 0);
    assert_string_equal(lists, "crm-11=2,crm-y=1");
    loa_diags_release(&d);
}

int main(void)
{
    loa_time_parse("2026-05-10T12:00Z", &T0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_valid),
        cmocka_unit_test(parse_invalid),
        cmocka_unit_test(parse_caps),
        cmocka_unit_test(decide_with_tag),
        cmocka_unit_test_setup_teardown(eval_predicates, setup, teardown),
        cmocka_unit_test_setup_teardown(eval_combinators, setup, teardown),
        cmocka_unit_test_setup_teardown(eval_order_and_cursor, setup, teardown),
        cmocka_unit_test_setup_teardown(preview_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(phone_list_upload, setup, teardown),
        cmocka_unit_test_setup_teardown(phone_list_atomic, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
