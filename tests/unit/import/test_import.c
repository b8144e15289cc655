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
    loa_import_report_release(&f->rep);
    loa_diags_release(&f->d);
    loa_store_close(f->st);
    test_remove_store(f->path);
    free(f);
    return 0;
}

static int import_text(struct fixture *f, const char *csv, bool skip_invalid, const char *list)
{
    loa_import_report_release(&f->rep);
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

struct collect {
    struct loa_subscriber *v;
    size_t n;
};

/* Keeps copies of the subscribers listed (at most 5). */
static int collect_sub(const struct loa_subscriber *s, void *ud)
{
    struct collect *c = ud;
    if (c->n == 5)
        return 1;
    struct loa_subscriber *d = &c->v[c->n++];
    *d = *s;
    d->psid = s->psid ? loa_strdup(s->psid) : NULL;
    d->first_name = s->first_name ? loa_strdup(s->first_name) : NULL;
    d->last_name = s->last_name ? loa_strdup(s->last_name) : NULL;
    d->gender = s->gender ? loa_strdup(s->gender) : NULL;
    d->locale = s->locale ? loa_strdup(s->locale) : NULL;
    d->phone = s->phone ? loa_strdup(s->phone) : NULL;
    d->email = s->email ? loa_strdup(s->email) : NULL;
    d->last_interaction_kind =
        s->last_interaction_kind ? loa_strdup(s->last_interaction_kind) : NULL;
    d->unreachable_reason = s->unreachable_reason ? loa_strdup(s->unreachable_reason) : NULL;
    d->attrs = s->attrs ? loa_strdup(s->attrs) : NULL;
    return 0;
}

static int join_tag(const char *name, int64_t n, void *ud)
{
    char *out = ud;
    size_t len = strlen(out);
    snprintf(out + len, 256 - len, "%s=%lld;", name, (long long)n);
    return 0;
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

/* Header names in English and Vietnamese, with and without diacritics, any case and spacing. */
static void header_names_vietnamese_and_english(void **state)
{
    (void)state;
    static const struct {
        const char *header;
        enum loa_import_field field;
        const char *attr;
    } cases[] = {
        { "Số điện thoại", LOA_IMPORT_PHONE, NULL },
        { "SĐT", LOA_IMPORT_PHONE, NULL },
        { "sdt", LOA_IMPORT_PHONE, NULL },
        { "So dien thoai", LOA_IMPORT_PHONE, NULL },
        { "SO_DIEN_THOAI", LOA_IMPORT_PHONE, NULL },
        { " Điện thoại ", LOA_IMPORT_PHONE, NULL },
        { "Phone Number", LOA_IMPORT_PHONE, NULL },
        { "Tên", LOA_IMPORT_FULL_NAME, NULL },
        { "Họ và tên", LOA_IMPORT_FULL_NAME, NULL },
        { "HỌ TÊN", LOA_IMPORT_FULL_NAME, NULL },
        { "Tên khách hàng", LOA_IMPORT_FULL_NAME, NULL },
        { "Họ", LOA_IMPORT_LAST_NAME, NULL },
        { "first_name", LOA_IMPORT_FIRST_NAME, NULL },
        { "Nhãn", LOA_IMPORT_TAGS, NULL },
        { "Thẻ", LOA_IMPORT_TAGS, NULL },
        { "Tags", LOA_IMPORT_TAGS, NULL },
        { "Giới tính", LOA_IMPORT_GENDER, NULL },
        { "gioi-tinh", LOA_IMPORT_GENDER, NULL },
        { "E-mail", LOA_IMPORT_EMAIL, NULL },
        { "Ngày sinh", LOA_IMPORT_ATTR, "birthday" },
        { "Địa chỉ", LOA_IMPORT_ATTR, "address" },
        { "Tổng chi tiêu", LOA_IMPORT_NUMBER, "total_spent" },
        { "Tổng bán", LOA_IMPORT_NUMBER, "total_spent" },
        { "Mã khách hàng", LOA_IMPORT_ATTR, "customer_code" },
        { "Khu vực", LOA_IMPORT_ATTR, NULL },
        { "last_interaction_at", LOA_IMPORT_IGNORED, NULL },
        /* Decomposed input ("Nhãn" as N h a + combining tilde + n) is the same header. */
        { "Nha\xCC\x83n", LOA_IMPORT_TAGS, NULL },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *attr;
        enum loa_import_field got = loa_import_header(cases[i].header, &attr);
        if (got != cases[i].field)
            fail_msg("'%s' maps to %s, expected %s", cases[i].header, loa_import_field_name(got),
                     loa_import_field_name(cases[i].field));
        if (cases[i].attr)
            assert_string_equal(attr, cases[i].attr);
        else
            assert_null(attr);
    }
}

static void separator_read_from_the_header_line(void **state)
{
    (void)state;
    const char *a = "psid,first_name,phone\n1;2;3;4\n";
    assert_int_equal(loa_import_separator(a, strlen(a)), ',');
    const char *b = "\xEF\xBB\xBFSố điện thoại;Tên;Nhãn\r\n0912;\"A, B\";x\r\n";
    assert_int_equal(loa_import_separator(b, strlen(b)), ';');
    const char *c = "phone\tname\tnote\n";
    assert_int_equal(loa_import_separator(c, strlen(c)), '\t');
    const char *d = "\"a;b;c\",phone\n"; /* quoted text does not count */
    assert_int_equal(loa_import_separator(d, strlen(d)), ',');
    assert_int_equal(loa_import_separator("phone\n", 6), ',');
}

static void full_names_split_family_name_first(void **state)
{
    (void)state;
    static const struct {
        const char *full, *first, *last;
    } cases[] = {
        { "Dương Mỹ Yến", "Yến", "Dương Mỹ" },
        { "  Phạm  Đức   Thịnh ", "Thịnh", "Phạm Đức" },
        { "Lê Hoàng", "Hoàng", "Lê" },
        { "Lan", "Lan", NULL },
        { "   ", NULL, NULL },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[64];
        snprintf(buf, sizeof(buf), "%s", cases[i].full);
        char *first, *last;
        loa_import_split_name(buf, &first, &last);
        if (cases[i].first)
            assert_string_equal(first, cases[i].first);
        else
            assert_null(first);
        if (cases[i].last)
            assert_string_equal(last, cases[i].last);
        else
            assert_null(last);
    }
}

static char *tags_of(struct fixture *f, int64_t id)
{
    char *tags;
    assert_int_equal(loa_store_subscriber_tags(f->st, id, &tags), 0);
    return tags;
}

/* A point-of-sale export as a Vietnamese shop has it (tests/data/pos-export-vi.csv: ';'
 * separated, byte order mark, CRLF, Vietnamese headers, decomposed text in some cells,
 * "12.853.000" amounts, phones with spaces, dots and +84) imports without edits. */
static void pos_export_imported_as_is(void **state)
{
    struct fixture *f = *state;
    char path[1024];
    const char *src = getenv("LOA_SOURCE_DIR");
    snprintf(path, sizeof(path), "%s/tests/data/pos-export-vi.csv", src ? src : ".");
    struct loa_import_opts o = { .path = path, .page_ref = f->page_ref, .region = "VN" };
    int rc = loa_import_csv(f->st, &o, &f->rep, &f->d);
    if (rc != 0)
        loa_diags_print(&f->d, stderr, path);
    assert_int_equal(rc, 0);
    assert_int_equal(f->rep.separator, ';');
    assert_true(f->rep.bom);
    assert_int_equal(f->rep.rows, 5);
    assert_int_equal(f->rep.inserted, 5);
    assert_int_equal(f->rep.invalid, 0);
    assert_int_equal(f->rep.ncolumns, 11);
    assert_int_equal(f->rep.columns[1].field, LOA_IMPORT_FULL_NAME);
    assert_int_equal(f->rep.columns[2].field, LOA_IMPORT_PHONE);
    assert_int_equal(f->rep.columns[8].field, LOA_IMPORT_TAGS);
    assert_string_equal(f->rep.columns[7].attr, "Khu vực");

    struct loa_subscriber_query q = { .page_ref = f->page_ref };
    struct loa_subscriber s[5];
    struct collect c = { s, 0 };
    assert_int_equal(loa_store_subscriber_list(f->st, &q, collect_sub, &c), 0);
    assert_int_equal(c.n, 5);

    assert_string_equal(s[0].last_name, "Dương Mỹ");
    assert_string_equal(s[0].first_name, "Yến");
    assert_string_equal(s[0].phone, "+84912345678");
    assert_string_equal(s[0].gender, "female");
    assert_string_equal(s[0].email, "yen.duong@gmail.com");
    assert_string_equal(s[0].attrs, "{\"Khu vực\":\"Hà Nội\",\"address\":\"12 Lý Thường Kiệt, "
                                    "Hoàn Kiếm\",\"birthday\":\"15/03/1992\",\"customer_code\":"
                                    "\"KH000001\",\"note\":\"Thích màu đỏ; size M\","
                                    "\"total_spent\":\"12853000\"}");
    char *t = tags_of(f, s[0].id);
    assert_string_equal(t, "Khách quen,VIP");
    loa_free(t);

    assert_string_equal(s[1].last_name, "Nguyễn Văn");
    assert_string_equal(s[1].first_name, "An");
    assert_string_equal(s[1].phone, "+84912345679");
    assert_string_equal(s[1].gender, "male");
    assert_non_null(strstr(s[1].attrs, "\"total_spent\":\"4500000\""));
    t = tags_of(f, s[1].id); /* "vip" is the tag first written "VIP" */
    assert_string_equal(t, "VIP");
    loa_free(t);

    /* Decomposed cells are stored composed (NFC) and match composed text. */
    assert_string_equal(s[2].last_name, "Trần Thị Thu");
    assert_string_equal(s[2].first_name, "Hà");
    assert_string_equal(s[2].phone, "+84987654321");
    assert_string_equal(s[2].gender, "female");
    assert_non_null(strstr(s[2].attrs, "\"total_spent\":\"1250000\""));
    t = tags_of(f, s[2].id);
    assert_string_equal(t, "Khách quen");
    loa_free(t);

    assert_string_equal(s[3].last_name, "Lê");
    assert_string_equal(s[3].first_name, "Hoàng");
    assert_string_equal(s[3].phone, "+84903111222");
    assert_string_equal(s[3].gender, "male");
    assert_string_equal(s[3].attrs, "{\"customer_code\":\"KH000004\",\"total_spent\":\"0\"}");

    assert_string_equal(s[4].last_name, "Phạm Đức");
    assert_string_equal(s[4].first_name, "Thịnh");
    assert_string_equal(s[4].phone, "+84903111223");
    assert_null(s[4].gender); /* "Khác" */
    assert_non_null(strstr(s[4].attrs, "\"total_spent\":\"250000\""));
    assert_non_null(strstr(s[4].attrs, "\"note\":\"Khách sỉ\""));
    for (size_t i = 0; i < c.n; i++)
        loa_subscriber_release(&s[i]);

    /* The tags: three, shown as first written. */
    char names[256] = "";
    assert_int_equal(loa_store_tag_list(f->st, f->page_ref, join_tag, names), 0);
    assert_string_equal(names, "Khách quen=2;Mới=1;VIP=2;");
    /* Again: nothing changes. */
    loa_import_report_release(&f->rep);
    assert_int_equal(loa_import_csv(f->st, &o, &f->rep, &f->d), 0);
    assert_int_equal(f->rep.unchanged, 5);
}

/* The preview checks and counts everything and writes nothing. */
static void dry_run_writes_nothing(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(import_text(f, "SĐT;Họ và tên\n0912000001;Ngô Bảo Châu\n", false, NULL), 0);
    char path[512];
    test_write_file(path, sizeof(path), "preview.csv",
                    "Số điện thoại;Họ và tên;Nhãn;Hạng\n0912000001;Ngô Bảo Châu;vip;Vàng\n"
                    "0912000002;Lý Lan;;Bạc\nabc;X;;\n");
    loa_import_report_release(&f->rep);
    loa_diags_release(&f->d);
    loa_diags_init(&f->d, 0);
    struct loa_import_opts o = {
        .path = path, .page_ref = f->page_ref, .region = "VN", .dry_run = true
    };
    assert_int_equal(loa_import_csv(f->st, &o, &f->rep, &f->d), LOA_EINVAL);
    unlink(path);
    assert_false(f->rep.written);
    assert_int_equal(f->rep.rows, 3);
    assert_int_equal(f->rep.updated, 1);
    assert_int_equal(f->rep.inserted, 1);
    assert_int_equal(f->rep.invalid, 1);
    assert_int_equal(f->rep.tags_added, 1);
    assert_int_equal(f->rep.columns[3].field, LOA_IMPORT_ATTR);
    assert_string_equal(f->rep.columns[3].attr, "Hạng");
    assert_int_equal(f->d.count, 1);
    assert_int_equal(f->d.items[0].line, 4);
    assert_int_equal(f->d.items[0].column, 1);
    assert_string_equal(f->d.items[0].where, "Số điện thoại");
    assert_int_equal(count(f), 1);
    struct loa_subscriber_query q = { .page_ref = f->page_ref };
    struct loa_subscriber s[1];
    struct collect c = { s, 0 };
    assert_int_equal(loa_store_subscriber_list(f->st, &q, collect_sub, &c), 0);
    assert_string_equal(s[0].attrs, "{}");
    loa_subscriber_release(&s[0]);
}

/* Number columns must read as numbers; two columns meaning one field are refused. */
static void numbers_and_duplicate_meanings(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(import_text(f,
                                 "phone,Tổng chi tiêu\n0912000001,12.853.000\n0912000002,"
                                 "mười triệu\n",
                                 false, NULL),
                     LOA_EINVAL);
    assert_int_equal(f->d.count, 1);
    assert_int_equal(f->d.items[0].line, 3);
    assert_int_equal(f->d.items[0].column, 2);
    assert_string_equal(f->d.items[0].where, "Tổng chi tiêu");
    assert_non_null(strstr(f->d.items[0].reason, "is not a number"));
    assert_int_equal(count(f), 0);
    assert_int_equal(import_text(f, "Số điện thoại,Tên,SĐT\n1,2,3\n", false, NULL), LOA_EPARSE);
    assert_int_equal(f->d.items[0].column, 3);
    assert_string_equal(f->d.items[0].where, "SĐT");
    assert_non_null(strstr(f->d.items[0].reason, "like column 1 'Số điện thoại'"));
    /* "Họ" + "Tên": the given name beside the family name. */
    assert_int_equal(import_text(f, "Họ;Tên;SĐT\nDương Mỹ;Yến;0912000003\n", false, NULL), 0);
    struct loa_subscriber_query q = { .page_ref = f->page_ref };
    struct loa_subscriber s[1];
    struct collect c = { s, 0 };
    assert_int_equal(loa_store_subscriber_list(f->st, &q, collect_sub, &c), 0);
    assert_string_equal(s[0].first_name, "Yến");
    assert_string_equal(s[0].last_name, "Dương Mỹ");
    loa_subscriber_release(&s[0]);
    /* A phone kept as text for Excel (export --excel) reads back. */
    assert_int_equal(import_text(f, "phone\n\"=\"\"+84912000003\"\"\"\n", false, NULL), 0);
    assert_int_equal(f->rep.unchanged, 1);
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
        cmocka_unit_test(header_names_vietnamese_and_english),
        cmocka_unit_test(separator_read_from_the_header_line),
        cmocka_unit_test(full_names_split_family_name_first),
        T(pos_export_imported_as_is),
        T(dry_run_writes_nothing),
        T(numbers_and_duplicate_meanings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
