/* SPDX-License-Identifier: MIT */
/* CSV import: one test per rule of the import (see include/loa/import.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <loa/alloc.h>
#include <loa/clock.h>
#include <loa/diag.h>
#include <loa/err.h>
#include <loa/import.h>
#include <loa/phone.h>
#include <loa/store.h>

#include "testtxn.h"
#include "testutil.h"

struct fixture {
    char path[512];
    struct loa_store *st;
    int64_t page_ref;
    struct loa_diags d;
    struct loa_import_report rep;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    test_path(f->path, sizeof(f->path), "import.db");
    struct loa_store_opts o = { .path = f->path, .create = true };
    loa_diags_init(&f->d, 0);
    assert_int_equal(loa_store_open(&o, &f->st, &f->d), 0);
    struct loa_page_input in = {
        .page_id = "77", .name = "Shop", .daily_cap = -1, .plan_quota = -1, .activated_at = -1
    };
    assert_int_equal(TW(f->st, page_put, &in, loa_now_ms(), NULL), 0);
    struct loa_page p;
    assert_int_equal(loa_store_page_get(f->st, "77", &p), 0);
    f->page_ref = p.id;
    loa_page_release(&p);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    loa_diags_release(&f->d);
    loa_store_close(f->st);
    test_remove_store(f->path);
    free(f);
    return 0;
}

static int import_text(struct fixture *f, const char *csv, bool skip_invalid, const char *list)
{
    char path[512];
    test_write_file(path, sizeof(path), "in.csv", csv);
    loa_diags_release(&f->d);
    loa_diags_init(&f->d, 0);
    struct loa_import_opts o = { .path = path,
                                 .page_ref = f->page_ref,
                                 .region = "VN",
                                 .skip_invalid = skip_invalid,
                                 .list = list };
    int rc = loa_import_csv(f->st, &o, &f->rep, &f->d);
    unlink(path);
    return rc;
}

static int64_t count(struct fixture *f)
{
    int64_t n = -1;
    loa_store_subscriber_count(f->st, f->page_ref, &n);
    return n;
}

static void find(struct fixture *f, const char *psid, struct loa_subscriber *out)
{
    assert_int_equal(loa_store_subscriber_find(f->st, f->page_ref, psid, out), 0);
}

/* Rule: the header maps columns; any other column becomes a custom attribute. */
static void header_maps_columns_and_attributes(void **state)
{
    struct fixture *f = *state;
    const char *csv = "PSID, First_Name ,last_name,phone,email,gender,tags,city,Size\n"
                      "101,Lan,Nguyễn,0912345678,lan@example.vn,nữ,\"vip, da-mua\",Huế,M\n";
    assert_int_equal(import_text(f, csv, false, NULL), 0);
    assert_int_equal(f->rep.inserted, 1);
    assert_int_equal(f->rep.tags_added, 2);
    struct loa_subscriber s;
    find(f, "101", &s);
    assert_string_equal(s.first_name, "Lan");
    assert_string_equal(s.last_name, "Nguyễn");
    assert_string_equal(s.phone, "+84912345678");
    assert_string_equal(s.email, "lan@example.vn");
    assert_string_equal(s.gender, "female");
    assert_string_equal(s.attrs, "{\"Size\":\"M\",\"city\":\"Huế\"}");
    char *tags;
    assert_int_equal(loa_store_subscriber_tags(f->st, s.id, &tags), 0);
    assert_string_equal(tags, "da-mua,vip");
    loa_free(tags);
    loa_subscriber_release(&s);
}

/* Rule: UTF-8 is kept intact (Vietnamese names), a byte order mark is ignored, and text
 * that is not UTF-8 is refused with the reason. */
static void utf8_kept_bom_ignored_invalid_refused(void **state)
{
    struct fixture *f = *state;
    const char *csv = "\xEF\xBB\xBFpsid,first_name,last_name\n"
                      "102,Đức Thịnh,Phạm\n";
    assert_int_equal(import_text(f, csv, false, NULL), 0);
    struct loa_subscriber s;
    find(f, "102", &s);
    assert_string_equal(s.first_name, "Đức Thịnh");
    assert_string_equal(s.last_name, "Phạm");
    loa_subscriber_release(&s);
    /* "Phạm" in Windows-1258 is not UTF-8. */
    assert_int_equal(import_text(f, "psid,last_name\n103,Ph\xE1m\n", false, NULL), LOA_EINVAL);
    assert_int_equal(f->d.count, 1);
    assert_int_equal(f->d.items[0].line, 2);
    assert_int_equal(f->d.items[0].column, 2);
    assert_string_equal(f->d.items[0].where, "last_name");
    assert_non_null(strstr(f->d.items[0].reason, "UTF-8"));
}

/* Rule: 0912 345 678, +84 912 345 678 and 84912345678 are one number. */
static void phone_formats_are_one_number(void **state)
{
    struct fixture *f = *state;
    const char *csv = "phone,first_name\n0912 345 678,A\n+84 912 345 678,B\n84912345678,C\n"
                      "0912.345.678,D\n912345678,E\n";
    assert_int_equal(import_text(f, csv, false, NULL), 0);
    assert_int_equal(f->rep.rows, 5);
    assert_int_equal(f->rep.inserted, 1);
    assert_int_equal(f->rep.updated, 4);
    assert_int_equal(count(f), 1);

    char out[LOA_PHONE_MAX];
    const char *why;
    assert_int_equal(loa_phone_normalize("028 3823 4567", "VN", out, &why), 0);
    assert_string_equal(out, "+842838234567"); /* Saigon landline */
    assert_int_equal(loa_phone_normalize("+1 (415) 555-0100", "VN", out, &why), 0);
    assert_string_equal(out, "+14155550100");
    assert_int_equal(loa_phone_normalize("0084 912 345 678", "VN", out, &why), 0);
    assert_string_equal(out, "+84912345678");
    assert_int_equal(loa_phone_normalize("+84 0912 345 678", "VN", out, &why), 0);
    assert_string_equal(out, "+84912345678");
    assert_int_equal(loa_phone_normalize("0912 ABC", "VN", out, &why), LOA_EINVAL);
    assert_string_equal(why, "contains letters");
    assert_int_equal(loa_phone_normalize("09123", "VN", out, &why), LOA_EINVAL);
    assert_string_equal(why, "too short");
    assert_int_equal(loa_phone_normalize("0112345678", "VN", out, &why), LOA_EINVAL);
    assert_int_equal(loa_phone_normalize("+8412345678901234", "VN", out, &why), LOA_EINVAL);
}

/* Rule: every invalid row is reported with its line, column and reason — lines count
 * correctly across CRLF endings, blank lines and quoted fields that span lines. */
static void invalid_rows_reported_with_line_column_reason(void **state)
{
    struct fixture *f = *state;
    const char *csv = "psid,first_name,phone,email,gender\r\n"
                      "201,\"Line one\nline two\",0912345678,a@b.vn,nam\r\n"
                      "\r\n"
                      "20x2,Minh,0912 345,not-an-email,robot\r\n"
                      "203,Hoa\r\n"
                      ",,,,\r\n"
                      ",Ghost,,,\r\n";
    assert_int_equal(import_text(f, csv, false, NULL), LOA_EINVAL);
    assert_int_equal(f->rep.rows, 4); /* the all-empty row is skipped */
    assert_int_equal(f->rep.invalid, 3);
    assert_int_equal(f->d.count, 6);
    /* Row "20x2" starts on line 5: the quoted field spans lines 2-3, line 4 is blank. */
    assert_int_equal(f->d.items[0].line, 5);
    assert_string_equal(f->d.items[0].where, "psid");
    assert_int_equal(f->d.items[0].column, 1);
    assert_string_equal(f->d.items[1].where, "phone");
    assert_string_equal(f->d.items[1].reason, "'0912 345' is not a phone number: too short");
    assert_string_equal(f->d.items[2].where, "email");
    assert_string_equal(f->d.items[3].where, "gender");
    assert_int_equal(f->d.items[4].line, 6);
    assert_string_equal(f->d.items[4].reason, "expected 5 fields as in the header, found 2");
    assert_int_equal(f->d.items[5].line, 8);
    assert_string_equal(f->d.items[5].reason, "row has neither a psid nor a phone");
}

/* Rule: by default nothing is written if any row is invalid. */
static void default_writes_nothing_when_a_row_is_invalid(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(import_text(f, "psid,first_name\n301,A\n302,B\n", false, NULL), 0);
    int64_t before = count(f);
    const char *csv = "psid,first_name,tags\n301,Changed,vip\n303,C,new\nbad,D,\n";
    assert_int_equal(import_text(f, csv, false, "crm"), LOA_EINVAL);
    assert_false(f->rep.written);
    assert_int_equal(count(f), before);
    struct loa_subscriber s;
    find(f, "301", &s);
    assert_string_equal(s.first_name, "A");
    loa_subscriber_release(&s);
    assert_int_equal(loa_store_subscriber_find(f->st, f->page_ref, "303", &s), LOA_ENOENT);
}

/* Rule: with skip_invalid the valid rows are written and the others reported. */
static void skip_invalid_writes_valid_rows(void **state)
{
    struct fixture *f = *state;
    const char *csv = "psid,first_name,email\n401,A,a@x.vn\n402,B,broken\n403,C,\n";
    assert_int_equal(import_text(f, csv, true, "crm"), LOA_EINVAL);
    assert_true(f->rep.written);
    assert_int_equal(f->rep.inserted, 2);
    assert_int_equal(f->rep.invalid, 1);
    assert_int_equal(f->rep.listed, 2);
    assert_int_equal(f->d.count, 1);
    assert_int_equal(f->d.items[0].line, 3);
    assert_int_equal(count(f), 2);
}

static int snapshot_row(const struct loa_subscriber *s, void *ud)
{
    char line[1024];
    snprintf(line, sizeof(line), "%lld|%s|%s|%s|%s|%lld\n", (long long)s->id,
             s->psid ? s->psid : "", s->first_name ? s->first_name : "", s->phone ? s->phone : "",
             s->attrs, (long long)s->updated_at);
    strncat(ud, line, 65535 - strlen(ud));
    return 0;
}

/* Rule: importing the same file twice changes nothing. */
static void importing_twice_changes_nothing(void **state)
{
    struct fixture *f = *state;
    const char *csv = "psid,first_name,phone,tags,city\n501,An,0912000001,vip,Huế\n"
                      "502,Bình,0912000002,\"vip;da-mua\",\n,Chi,0912000003,,Hà Nội\n";
    assert_int_equal(import_text(f, csv, false, "l"), 0);
    assert_int_equal(f->rep.inserted, 3);
    static char before[65536], after[65536];
    before[0] = after[0] = '\0';
    struct loa_subscriber_query q = { .page_ref = f->page_ref };
    assert_int_equal(loa_store_subscriber_list(f->st, &q, snapshot_row, before), 0);
    assert_int_equal(import_text(f, csv, false, "l"), 0);
    assert_int_equal(f->rep.inserted, 0);
    assert_int_equal(f->rep.updated, 0);
    assert_int_equal(f->rep.unchanged, 3);
    assert_int_equal(f->rep.tags_added, 0);
    assert_int_equal(loa_store_subscriber_list(f->st, &q, snapshot_row, after), 0);
    assert_string_equal(before, after);
}

/* Rule: upsert by PSID, else by phone. */
static void upsert_by_psid_else_phone(void **state)
{
    struct fixture *f = *state;
    /* A CRM list without PSIDs first... */
    assert_int_equal(import_text(f, "phone,first_name\n0912000009,Dung\n", false, NULL), 0);
    assert_int_equal(f->rep.inserted, 1);
    /* ...then a file with PSIDs: the contact gains its PSID instead of being duplicated. */
    assert_int_equal(import_text(f, "psid,phone\n601,+84912000009\n", false, NULL), 0);
    assert_int_equal(f->rep.updated, 1);
    assert_int_equal(count(f), 1);
    struct loa_subscriber s;
    find(f, "601", &s);
    assert_string_equal(s.first_name, "Dung");
    loa_subscriber_release(&s);
}

/* Header problems stop the import before any row is read. */
static void header_errors(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(import_text(f, "", false, NULL), LOA_EPARSE);
    assert_string_equal(f->d.items[0].reason, "the file is empty: a header row is needed");
    assert_int_equal(import_text(f, "first_name,city\nA,B\n", false, NULL), LOA_EPARSE);
    assert_non_null(strstr(f->d.items[0].reason, "psid or a phone column"));
    assert_int_equal(import_text(f, "psid,Phone,phone\n1,2,3\n", false, NULL), LOA_EPARSE);
    assert_int_equal(f->d.items[0].column, 3);
    assert_int_equal(import_text(f, "psid,\"unterminated\n", false, NULL), LOA_EPARSE);
    assert_non_null(strstr(f->d.items[0].reason, "malformed CSV"));
    assert_int_equal(count(f), 0);
}

/* Export columns that only Messenger events may set are ignored on import. */
static void interaction_columns_are_not_imported(void **state)
{
    struct fixture *f = *state;
    const char *csv = "psid,last_interaction_at,last_interaction_kind\n701,2026-11-21T00:00:00Z,"
                      "message\n";
    assert_int_equal(import_text(f, csv, false, NULL), 0);
    struct loa_subscriber s;
    find(f, "701", &s);
    assert_int_equal(s.last_interaction_at, 0);
    assert_null(s.last_interaction_kind);
    assert_string_equal(s.attrs, "{}");
    loa_subscriber_release(&s);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(header_maps_columns_and_attributes),
        T(utf8_kept_bom_ignored_invalid_refused),
        T(phone_formats_are_one_number),
        T(invalid_rows_reported_with_line_column_reason),
        T(default_writes_nothing_when_a_row_is_invalid),
        T(skip_invalid_writes_valid_rows),
        T(importing_twice_changes_nothing),
        T(upsert_by_psid_else_phone),
        T(header_errors),
        T(interaction_columns_are_not_imported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
