/* SPDX-License-Identifier: MIT */
/* Unit tests for the core module: buffers, diagnostics, time parsing, error names. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <loa/alloc.h>
#include <loa/buf.h>
#include <loa/clock.h>
#include <loa/diag.h>
#include <loa/err.h>
#include <loa/text.h>
#include <loa/utf8.h>

static void buf_grows_and_caps(void **state)
{
    (void)state;
    struct loa_buf b;
    loa_buf_init(&b, 10);
    assert_string_equal(loa_buf_cstr(&b), "");
    assert_int_equal(loa_buf_puts(&b, "hello"), 0);
    assert_int_equal(loa_buf_printf(&b, "%d", 1234), 0);
    assert_string_equal(loa_buf_cstr(&b), "hello1234");
    /* Past the cap the append fails and leaves the buffer as it was. */
    assert_int_equal(loa_buf_puts(&b, "xy"), LOA_ETOOBIG);
    assert_string_equal(loa_buf_cstr(&b), "hello1234");
    assert_int_equal(loa_buf_putc(&b, '!'), 0);
    assert_int_equal(b.len, 10);
    char *s = loa_buf_detach(&b);
    assert_string_equal(s, "hello1234!");
    assert_null(b.ptr);
    loa_free(s);
    loa_buf_release(&b);
}

static void diags_keep_limit_and_count_rest(void **state)
{
    (void)state;
    struct loa_diags d;
    loa_diags_init(&d, 2);
    assert_true(loa_diags_empty(&d));
    loa_diags_add(&d, 3, 2, "phone", "not a phone number: %s", "abc");
    loa_diags_add(&d, 0, 0, "blocks[0].text", "empty");
    loa_diags_add(&d, 9, 0, NULL, "third");
    assert_int_equal(d.count, 2);
    assert_int_equal(loa_diags_total(&d), 3);
    assert_string_equal(d.items[0].where, "phone");
    assert_string_equal(d.items[0].reason, "not a phone number: abc");
    assert_int_equal(d.items[0].line, 3);
    assert_int_equal(d.items[0].column, 2);
    loa_diags_release(&d);
    loa_diags_add(NULL, 1, 1, "x", "dropped"); /* a caller that collects nothing */
}

static void time_parse_forms(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(loa_time_parse("2026-11-21", &ms), 0);
    assert_true(ms == INT64_C(1795219200000));
    assert_int_equal(loa_time_parse("2026-11-21T07:00:00+07:00", &ms), 0);
    assert_true(ms == INT64_C(1795219200000));
    assert_int_equal(loa_time_parse("2026-11-21 00:00:00.250Z", &ms), 0);
    assert_true(ms == INT64_C(1795219200250));
    assert_int_equal(loa_time_parse("2026-11-20T17:00-0700", &ms), 0);
    assert_true(ms == INT64_C(1795219200000));
    assert_int_equal(loa_time_parse("2024-02-29", &ms), 0);
    assert_int_equal(loa_time_parse("2025-02-29", &ms), LOA_EPARSE);
    assert_int_equal(loa_time_parse("2026-13-01", &ms), LOA_EPARSE);
    assert_int_equal(loa_time_parse("2026-11-21T25:00", &ms), LOA_EPARSE);
    assert_int_equal(loa_time_parse("2026-11-21x", &ms), LOA_EPARSE);
    assert_int_equal(loa_time_parse("", &ms), LOA_EPARSE);
    char out[32];
    loa_time_format(INT64_C(1795219200250), out, sizeof(out));
    assert_string_equal(out, "2026-11-21T00:00:00.250Z");
}

static void fake_clock(void **state)
{
    (void)state;
    loa_clock_set_fake(42);
    assert_true(loa_now_ms() == 42);
    loa_clock_set_fake(-1);
    assert_true(loa_now_ms() > INT64_C(1700000000000));
}

static void error_names(void **state)
{
    (void)state;
    assert_string_equal(loa_err_name(LOA_EINVAL), "EINVAL");
    assert_string_equal(loa_strerror(LOA_ETOOBIG), "too large");
    assert_string_equal(loa_strerror(12345), "unknown error");
}

/* The zone reader agrees with the C library (the oracle; this test is single-threaded, so it
 * may set TZ) at many instants across DST changes, and refuses what is not a zone. */
static void tz_offsets_match_libc(void **state)
{
    (void)state;
    static const char *const zones[] = { "Asia/Ho_Chi_Minh",    "America/New_York", "Europe/London",
                                         "Australia/Lord_Howe", "Asia/Kolkata",     "UTC",
                                         "Etc/GMT+5",           "America/Sao_Paulo" };
    for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
        setenv("TZ", zones[z], 1);
        tzset();
        /* Every 7 h 13 min from 1960 to 2036: hits both sides of each DST change. */
        for (int64_t t = -315619200; t < 2082758400; t += 7 * 3600 + 13 * 60) {
            time_t tt = (time_t)t;
            struct tm tm;
            assert_non_null(localtime_r(&tt, &tm));
            int off = -1;
            assert_int_equal(loa_tz_offset(zones[z], t * 1000, &off), 0);
            if (off != (int)(tm.tm_gmtoff / 60))
                fail_msg("%s at %lld: %d, libc says %ld", zones[z], (long long)t, off,
                         tm.tm_gmtoff / 60);
        }
    }
    unsetenv("TZ");
    tzset();
    int off;
    assert_int_equal(loa_tz_offset("Asia/Ho_Chi_Minh", 1790000000000, &off), 0);
    assert_int_equal(off, 420);
    assert_int_equal(loa_tz_offset("Nowhere/Atlantis", 0, &off), LOA_EINVAL);
    assert_int_equal(loa_tz_offset("../etc/passwd", 0, &off), LOA_EINVAL);
    assert_int_equal(loa_tz_offset("/etc/passwd", 0, &off), LOA_EINVAL);
    assert_int_equal(loa_tz_offset("Asia", 0, &off), LOA_EINVAL); /* a directory */
    assert_int_equal(loa_tz_offset("", 0, &off), LOA_EINVAL);
    assert_int_equal(loa_tz_offset("Asia/Ho Chi Minh", 0, &off), LOA_EINVAL);
}

static void utf8_counts_and_cuts_by_character(void **state)
{
    (void)state;
    const char *vn = "Nguy\xe1\xbb\x85n V\xc4\x83n \xc4\x90\xe1\xbb\xa9"
                     "c"; /* Nguyễn Văn Đức */
    size_t len = strlen(vn);
    assert_true(loa_utf8_valid(vn, len));
    assert_int_equal(loa_utf8_count(vn, len), 14);
    /* Cutting at 6 characters keeps "Nguyễn" whole: 5 ASCII bytes + 3 bytes for ễ. */
    assert_int_equal(loa_utf8_prefix(vn, len, 6), 8);
    assert_int_equal(loa_utf8_prefix(vn, len, 100), len);
    assert_int_equal(loa_utf8_prefix(vn, len, 0), 0);
    assert_false(loa_utf8_valid("\xc3", 1));            /* truncated */
    assert_false(loa_utf8_valid("\xc0\xaf", 2));        /* overlong */
    assert_false(loa_utf8_valid("\xed\xa0\x80", 3));    /* surrogate */
    assert_true(loa_utf8_valid("\xf0\x9f\x98\x80", 4)); /* emoji */
}

/* "nữ" composed (U+1EEF) and decomposed (n + ư U+01B0 + combining tilde U+0303, and n + u +
 * horn U+031B + tilde). */
#define NU_NFC  "n\xE1\xBB\xAF"
#define NU_NFD1 "n\xC6\xB0\xCC\x83"
#define NU_NFD2 "nu\xCC\x9B\xCC\x83"

static void text_nfc_composes_decomposed_input(void **state)
{
    (void)state;
    char *a = loa_text_nfc(NU_NFD1, strlen(NU_NFD1));
    char *b = loa_text_nfc(NU_NFD2, strlen(NU_NFD2));
    assert_string_equal(a, NU_NFC);
    assert_string_equal(b, NU_NFC);
    assert_true(loa_text_is_nfc(NU_NFC));
    assert_false(loa_text_is_nfc(NU_NFD2));
    loa_free(a);
    loa_free(b);
    /* Not UTF-8: copied as it is. */
    char *c = loa_text_nfc("a\xFF"
                           "b",
                           3);
    assert_memory_equal(c,
                        "a\xFF"
                        "b",
                        4);
    loa_free(c);
}

static void text_fold_ignores_case_and_form(void **state)
{
    (void)state;
    char *a = loa_text_fold("VIP"), *b = loa_text_fold("vip");
    assert_string_equal(a, b);
    loa_free(a);
    loa_free(b);
    char *c = loa_text_fold("N\xE1\xBB\xAE"),
         *d = loa_text_fold(NU_NFD2); /* "NỮ", decomposed "nữ" */
    assert_string_equal(c, NU_NFC);
    assert_string_equal(d, NU_NFC);
    loa_free(c);
    loa_free(d);
    char *e = loa_text_fold("Kh\xC3\xA1\x63h quen"), *f = loa_text_fold("Khach quen"); /* "Khách" */
    assert_string_not_equal(e, f); /* diacritics are part of a tag's name */
    loa_free(e);
    loa_free(f);
}

static void text_header_key_drops_marks_case_and_spacing(void **state)
{
    (void)state;
    static const char *const phone[] = { "S\xE1\xBB\x91 \xC4\x91i\xE1\xBB\x87n tho\xE1\xBA\xA1i",
                                         "SO_DIEN_THOAI", "  so  dien-thoai ", "So Dien Thoai" };
    for (size_t i = 0; i < sizeof(phone) / sizeof(phone[0]); i++) {
        char *k = loa_text_header_key(phone[i]);
        assert_string_equal(k, "so dien thoai");
        loa_free(k);
    }
    char *k = loa_text_header_key("S\xC4\x90T"); /* "SĐT" */
    assert_string_equal(k, "sdt");
    loa_free(k);
    k = loa_text_header_key("H\xE1\xBB\x8D v\xC3\xA0 t\xC3\xAAn"); /* "Họ và tên" */
    assert_string_equal(k, "ho va ten");
    loa_free(k);
}

static void text_numbers_the_vietnamese_way(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        double want;
    } ok[] = {
        { "12.853.000", 12853000 },
        { "12.853.000 \xE2\x82\xAB", 12853000 },
        { "12,853,000", 12853000 },
        { "12853000", 12853000 },
        { "1,5", 1.5 },
        { "1.5", 1.5 },
        { "1.500", 1500 },
        { "1,500", 1500 },
        { "5.000.000,25", 5000000.25 },
        { "5,000,000.25", 5000000.25 },
        { " -3 ", -3 },
        { "250.000\xC4\x91", 250000 },
        { "VND 99.000", 99000 },
        { "0,25", 0.25 },
        { "12.853.000\xC2\xA0VN\xC4\x90", 12853000 },
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        double v = 0;
        if (!loa_text_number(ok[i].in, &v))
            fail_msg("'%s' should read as a number", ok[i].in);
        if (fabs(v - ok[i].want) > 1e-9)
            fail_msg("%s read as %.17g", ok[i].in, v);
    }
    static const char *const bad[] = { "",          "abc",          "1.2.3,4,5",
                                       "12.85.000", "1,2,3.4.5",    "1.5.",
                                       ".5",        "12 ab",        "\xE2\x82\xAB",
                                       "1..000",    "0912 345 678", "5,000.000.000" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        double v;
        if (loa_text_number(bad[i], &v))
            fail_msg("'%s' should not read as a number", bad[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(buf_grows_and_caps),
        cmocka_unit_test(diags_keep_limit_and_count_rest),
        cmocka_unit_test(time_parse_forms),
        cmocka_unit_test(fake_clock),
        cmocka_unit_test(error_names),
        cmocka_unit_test(utf8_counts_and_cuts_by_character),
        cmocka_unit_test(tz_offsets_match_libc),
        cmocka_unit_test(text_nfc_composes_decomposed_input),
        cmocka_unit_test(text_fold_ignores_case_and_form),
        cmocka_unit_test(text_header_key_drops_marks_case_and_spacing),
        cmocka_unit_test(text_numbers_the_vietnamese_way),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
