/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the link module: ref and Page checks with their complaints, m.me links, and
 * QR images. PNGs are read back with libpng and their finder pattern looked at; the SVG's path
 * is drawn back into a grid and compared with the PNG module by module; when zbarimg
 * (zbar-tools) is installed, it scans the PNG and must read the text back (skipped otherwise).
 */
#include <png.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <loa/buf.h>
#include <loa/diag.h>
#include <loa/err.h>
#include <loa/link.h>

#include "testutil.h"

/* 33 bytes: byte mode needs version 3 (27..42 bytes) at level M, version 4 (25..34) at H
   (ISO/IEC 18004, Table 7). A version v symbol has 17 + 4v modules a side. */
#define LINK "https://m.me/loa.test?ref=welcome"
#define V3   29
#define V4   33

/* ---------------------------------------------------------------------------------------- */
/* Helpers                                                                                   */

/* Runs loa_link_ref_check and expects one complaint at "ref" containing want (rc EINVAL),
   or none (want NULL, rc 0). Returns the complaint's column. */
static long ref_complaint(const char *ref, const char *want)
{
    struct loa_diags d;
    loa_diags_init(&d, 0);
    int rc = loa_link_ref_check(ref, "ref", &d);
    long col = 0;
    if (want == NULL) {
        assert_int_equal(rc, 0);
        assert_true(loa_diags_empty(&d));
    } else {
        assert_int_equal(rc, LOA_EINVAL);
        assert_int_equal(d.count, 1);
        assert_string_equal(d.items[0].where, "ref");
        if (strstr(d.items[0].reason, want) == NULL)
            fail_msg("reason \"%s\" lacks \"%s\"", d.items[0].reason, want);
        col = d.items[0].column;
    }
    loa_diags_release(&d);
    return col;
}

static int page_rc(const char *page)
{
    struct loa_diags d;
    loa_diags_init(&d, 0);
    int rc = loa_link_page_check(page, "page", &d);
    assert_int_equal(rc == 0, loa_diags_empty(&d));
    loa_diags_release(&d);
    return rc;
}

static void qr(const char *text, struct loa_qr_opts o, struct loa_buf *out)
{
    loa_buf_init(out, 4u << 20);
    assert_int_equal(loa_qr_image(text, &o, out), 0);
    assert_true(out->len > 0);
}

/* A PNG read back as 8-bit grey (0 dark, 255 light). */
struct grey {
    unsigned width, height;
    unsigned char *px;
};

static struct grey png_read(const struct loa_buf *b)
{
    static const unsigned char sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
    assert_true(b->len > 33);
    assert_memory_equal(b->ptr, sig, sizeof(sig));
    png_image img;
    memset(&img, 0, sizeof(img));
    img.version = PNG_IMAGE_VERSION;
    assert_true(png_image_begin_read_from_memory(&img, b->ptr, b->len));
    img.format = PNG_FORMAT_GRAY;
    struct grey g = { img.width, img.height, malloc(PNG_IMAGE_SIZE(img)) };
    assert_non_null(g.px);
    assert_true(png_image_finish_read(&img, NULL, g.px, 0, NULL));
    return g;
}

/* Whether module (x, y) of the drawing (quiet zone included) is dark, read at its centre. */
static bool png_dark(const struct grey *g, int scale, int x, int y)
{
    unsigned px = (unsigned)(x * scale + scale / 2), py = (unsigned)(y * scale + scale / 2);
    assert_true(px < g->width && py < g->height);
    unsigned char v = g->px[py * g->width + px];
    assert_true(v == 0 || v == 255);
    return v == 0;
}

/* The finder pattern at the top-left corner, its separator and the quiet zone around it. */
static void check_finder(const struct grey *g, int scale, int margin)
{
    for (int y = 0; y < margin; y++)
        for (int x = 0; x < margin + 8; x++)
            assert_false(png_dark(g, scale, x, y));
    for (int y = 0; y < 8; y++) {
        for (int x = 0; x < 8; x++) {
            bool ring = x == 0 || y == 0 || x == 6 || y == 6;
            bool core = x >= 2 && x <= 4 && y >= 2 && y <= 4;
            bool want = x < 7 && y < 7 && (ring || core);
            if (png_dark(g, scale, margin + x, margin + y) != want)
                fail_msg("module (%d, %d) of the finder is %s", x, y, want ? "light" : "dark");
        }
    }
}

/* Reads an integer attribute of the <svg> element. */
static int svg_attr(const char *svg, const char *name)
{
    char key[32];
    snprintf(key, sizeof(key), " %s=\"", name);
    const char *p = strstr(svg, key);
    assert_non_null(p);
    return atoi(p + strlen(key));
}

static size_t count(const char *s, const char *what)
{
    size_t n = 0;
    for (const char *p = strstr(s, what); p; p = strstr(p + 1, what))
        n++;
    return n;
}

/* Draws the SVG path's "MX Yh<n>v1h-<n>z" rectangles into side x side cells (1 = dark). */
static unsigned char *svg_draw(const char *svg, int side)
{
    unsigned char *grid = calloc((size_t)side * (size_t)side, 1);
    assert_non_null(grid);
    const char *d = strstr(svg, " d=\"");
    assert_non_null(d);
    d += 4;
    while (*d == 'M') {
        int x, y, n, n2, used = 0;
        assert_int_equal(sscanf(d, "M%d %dh%dv1h-%dz%n", &x, &y, &n, &n2, &used), 4);
        assert_int_equal(n, n2);
        assert_true(used > 0 && n > 0 && x >= 0 && y >= 0 && x + n <= side && y < side);
        for (int k = 0; k < n; k++) {
            assert_int_equal(grid[y * side + x + k], 0); /* runs never overlap */
            grid[y * side + x + k] = 1;
        }
        d += used;
    }
    assert_true(strncmp(d, "\"/>", 3) == 0);
    return grid;
}

/* ---------------------------------------------------------------------------------------- */
/* Refs and Pages                                                                            */

static void ref_good(void **state)
{
    (void)state;
    ref_complaint("welcome", NULL);
    ref_complaint("drip-2026_spring=a", NULL);
    ref_complaint("0", NULL);
    char longest[LOA_LINK_REF_MAX + 1];
    memset(longest, 'a', LOA_LINK_REF_MAX);
    longest[LOA_LINK_REF_MAX] = '\0';
    ref_complaint(longest, NULL);
    assert_int_equal(loa_link_ref_check("ok", "ref", NULL), 0);
}

static void ref_empty_and_too_long(void **state)
{
    (void)state;
    ref_complaint("", "empty");
    ref_complaint(NULL, "empty");
    char over[LOA_LINK_REF_MAX + 2];
    memset(over, 'b', LOA_LINK_REF_MAX + 1);
    over[LOA_LINK_REF_MAX + 1] = '\0';
    ref_complaint(over, "2084 characters long, at most 2083");
    assert_int_equal(loa_link_ref_check("", "ref", NULL), LOA_EINVAL);
}

static void ref_bad_characters_with_position(void **state)
{
    (void)state;
    assert_int_equal(ref_complaint("ab c", "character ' ' at position 3"), 3);
    assert_int_equal(ref_complaint("a/b", "character '/' at position 2"), 2);
    assert_int_equal(ref_complaint("x.y", "'.' at position 2"), 2);
    assert_int_equal(ref_complaint("sale%20", "'%' at position 5"), 5);
    assert_int_equal(ref_complaint("café", "character 'é' (U+00E9) at position 4"), 4);
    assert_int_equal(ref_complaint("a\tb", "control character U+0009 at position 2"), 2);
    assert_int_equal(ref_complaint("ab\xff", "byte 0xFF at position 3 is not UTF-8"), 3);
    /* The reason says what is allowed. */
    ref_complaint("a b", "letters, digits, '-', '_' and '=' only");

    /* Too long and a bad character: both said. */
    char both[LOA_LINK_REF_MAX + 2];
    memset(both, 'c', LOA_LINK_REF_MAX + 1);
    both[10] = '!';
    both[LOA_LINK_REF_MAX + 1] = '\0';
    struct loa_diags d;
    loa_diags_init(&d, 0);
    assert_int_equal(loa_link_ref_check(both, "sequences[2].ref", &d), LOA_EINVAL);
    assert_int_equal(d.count, 2);
    assert_string_equal(d.items[1].where, "sequences[2].ref");
    assert_non_null(strstr(d.items[1].reason, "'!' at position 11"));
    loa_diags_release(&d);
}

static void page_username_or_id(void **state)
{
    (void)state;
    assert_int_equal(page_rc("loa.test"), 0);
    assert_int_equal(page_rc("LoaShop2026"), 0);
    assert_int_equal(page_rc("a1234"), 0);
    assert_int_equal(page_rc("123456789012345"), 0);
    assert_int_equal(page_rc("12345678901234567890"), 0);

    assert_int_equal(page_rc(""), LOA_EINVAL);
    assert_int_equal(page_rc(NULL), LOA_EINVAL);
    assert_int_equal(page_rc("loat"), LOA_EINVAL);      /* under 5 */
    assert_int_equal(page_rc(".loatest"), LOA_EINVAL);  /* leading '.' */
    assert_int_equal(page_rc("loatest."), LOA_EINVAL);  /* trailing '.' */
    assert_int_equal(page_rc("loa..test"), LOA_EINVAL); /* doubled '.' */
    assert_int_equal(page_rc("loa-test"), LOA_EINVAL);
    assert_int_equal(page_rc("loa/test"), LOA_EINVAL);
    assert_int_equal(page_rc("1.2.3.4.5"), LOA_EINVAL);             /* no letter, not an id */
    assert_int_equal(page_rc("123456789012345678901"), LOA_EINVAL); /* 21 digits */
    char longname[LOA_LINK_USERNAME_MAX + 2];
    memset(longname, 'p', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(page_rc(longname), LOA_EINVAL);

    struct loa_diags d;
    loa_diags_init(&d, 0);
    assert_int_equal(loa_link_page_check("loa test", "page", &d), LOA_EINVAL);
    assert_int_equal(d.count, 1);
    assert_string_equal(d.items[0].reason, "character ' ' at position 4 is not allowed (a Page "
                                           "username has letters, digits and '.')");
    loa_diags_release(&d);
}

/* ---------------------------------------------------------------------------------------- */
/* m.me links                                                                                */

static void mme_links(void **state)
{
    (void)state;
    struct loa_buf b;
    loa_buf_init(&b, 4096);
    assert_int_equal(loa_link_mme("loa.test", "welcome", &b, NULL), 0);
    assert_string_equal(loa_buf_cstr(&b), LINK);

    loa_buf_reset(&b);
    assert_int_equal(loa_link_mme("123456789012345", "drip-1_a", &b, NULL), 0);
    assert_string_equal(loa_buf_cstr(&b), "https://m.me/123456789012345?ref=drip-1_a");

    /* '=' is written as a form value writes it; appending keeps what was there. */
    loa_buf_reset(&b);
    assert_int_equal(loa_buf_puts(&b, "link: "), 0);
    assert_int_equal(loa_link_mme("loa.test", "src=qr=1", &b, NULL), 0);
    assert_string_equal(loa_buf_cstr(&b), "link: https://m.me/loa.test?ref=src%3Dqr%3D1");
    loa_buf_release(&b);
}

static void mme_refuses_bad_input_and_leaves_out_alone(void **state)
{
    (void)state;
    struct loa_buf b;
    loa_buf_init(&b, 4096);
    assert_int_equal(loa_buf_puts(&b, "before"), 0);
    struct loa_diags d;
    loa_diags_init(&d, 0);
    assert_int_equal(loa_link_mme("my page", "a b", &b, &d), LOA_EINVAL);
    assert_int_equal(d.count, 2);
    assert_string_equal(d.items[0].where, "page");
    assert_string_equal(d.items[1].where, "ref");
    assert_string_equal(loa_buf_cstr(&b), "before");
    loa_diags_release(&d);
    loa_buf_release(&b);

    /* The buffer's cap: too big, nothing half-written. */
    loa_buf_init(&b, 30);
    assert_int_equal(loa_buf_puts(&b, "x"), 0);
    assert_int_equal(loa_link_mme("loa.test", "welcome-to-the-spring-sale", &b, NULL), LOA_ETOOBIG);
    assert_string_equal(loa_buf_cstr(&b), "x");
    assert_int_equal(b.len, 1);
    loa_buf_release(&b);
}

/* ---------------------------------------------------------------------------------------- */
/* QR images                                                                                 */

static void qr_png_size_and_finder(void **state)
{
    (void)state;
    struct loa_buf b;
    qr(LINK, (struct loa_qr_opts){ 0 }, &b); /* PNG, 8 px, margin 4, level M */
    /* 1-bit greyscale: IHDR's bit depth and colour type. */
    assert_int_equal((unsigned char)b.ptr[24], 1);
    assert_int_equal((unsigned char)b.ptr[25], 0);
    struct grey g = png_read(&b);
    assert_int_equal(g.width, (V3 + 2 * 4) * 8);
    assert_int_equal(g.height, g.width);
    check_finder(&g, 8, 4);
    free(g.px);
    loa_buf_release(&b);

    /* Options reach the image: level H needs version 4 for the same text. */
    qr(LINK, (struct loa_qr_opts){ .scale = 3, .margin = 2, .level = 'H' }, &b);
    g = png_read(&b);
    assert_int_equal(g.width, (V4 + 2 * 2) * 3);
    check_finder(&g, 3, 2);
    free(g.px);
    loa_buf_release(&b);

    /* No options at all: the defaults. */
    loa_buf_init(&b, 1u << 20);
    assert_int_equal(loa_qr_image(LINK, NULL, &b), 0);
    g = png_read(&b);
    assert_int_equal(g.width, (V3 + 2 * 4) * 8);
    free(g.px);
    loa_buf_release(&b);
}

static void qr_svg_matches_png(void **state)
{
    (void)state;
    const int side = V3 + 2 * 4;
    struct loa_buf svg, png;
    qr(LINK, (struct loa_qr_opts){ .format = LOA_QR_SVG, .scale = 5 }, &svg);
    const char *s = loa_buf_cstr(&svg);
    assert_true(strncmp(s, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39) == 0);
    assert_int_equal(strcmp(s + svg.len - 7, "</svg>\n"), 0);
    char viewbox[64];
    snprintf(viewbox, sizeof(viewbox), " viewBox=\"0 0 %d %d\"", side, side);
    assert_non_null(strstr(s, viewbox));
    assert_int_equal(svg_attr(s, "width"), side * 5);
    assert_int_equal(svg_attr(s, "height"), side * 5);
    assert_int_equal(count(s, "<path"), 1);
    assert_int_equal(count(s, "<rect"), 1);
    /* The top row of the finder is the first run: 7 modules from the margin. */
    assert_non_null(strstr(s, " d=\"M4 4h7v1h-7z"));

    /* Module by module, the path draws what the PNG shows. */
    qr(LINK, (struct loa_qr_opts){ .scale = 1 }, &png);
    struct grey g = png_read(&png);
    assert_int_equal(g.width, side);
    unsigned char *grid = svg_draw(s, side);
    for (int y = 0; y < side; y++)
        for (int x = 0; x < side; x++)
            if (grid[y * side + x] != png_dark(&g, 1, x, y))
                fail_msg("module (%d, %d) differs between SVG and PNG", x, y);
    free(grid);
    free(g.px);
    loa_buf_release(&png);
    loa_buf_release(&svg);
}

/* zbarimg's answer for the PNG of text, or false when zbarimg is not installed. */
static bool zbar_scan(const char *text, const struct loa_qr_opts *o, char *got, size_t size)
{
    if (system("command -v zbarimg >/dev/null 2>&1") != 0)
        return false;
    struct loa_buf b;
    loa_buf_init(&b, 4u << 20);
    assert_int_equal(loa_qr_image(text, o, &b), 0);
    char path[512];
    test_path(path, sizeof(path), "qr.png");
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b.ptr, 1, b.len, f), b.len);
    assert_int_equal(fclose(f), 0);
    loa_buf_release(&b);

    char cmd[600];
    snprintf(cmd, sizeof(cmd), "zbarimg --quiet --raw '%s' 2>/dev/null", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(got, 1, size - 1, p);
    got[n] = '\0';
    pclose(p);
    unlink(path);
    if (n > 0 && got[n - 1] == '\n')
        got[n - 1] = '\0';
    return true;
}

static void qr_png_scans_back(void **state)
{
    (void)state;
    char got[4096];
    struct loa_buf link;
    loa_buf_init(&link, 4096);
    assert_int_equal(loa_link_mme("loa.test", "spring=qr", &link, NULL), 0);
    struct loa_qr_opts o = { .scale = 4 };
    if (!zbar_scan(loa_buf_cstr(&link), &o, got, sizeof(got))) {
        loa_buf_release(&link);
        skip(); /* zbarimg (Debian zbar-tools) is not installed */
    }
    assert_string_equal(got, loa_buf_cstr(&link));
    loa_buf_release(&link);

    /* A long ref at level Q (version 20 or so), and UTF-8 text in byte mode. */
    char ref[601];
    for (int i = 0; i < 600; i++)
        ref[i] = "abcdefghij-_0123456789"[i % 22];
    ref[600] = '\0';
    loa_buf_init(&link, 4096);
    assert_int_equal(loa_link_mme("123456789012345", ref, &link, NULL), 0);
    o = (struct loa_qr_opts){ .scale = 3, .level = 'Q' };
    assert_true(zbar_scan(loa_buf_cstr(&link), &o, got, sizeof(got)));
    assert_string_equal(got, loa_buf_cstr(&link));
    loa_buf_release(&link);

    o = (struct loa_qr_opts){ .scale = 4, .level = 'L' };
    assert_true(zbar_scan("Chào bạn, đây là loa", &o, got, sizeof(got)));
    assert_string_equal(got, "Chào bạn, đây là loa");
}

static void qr_too_big(void **state)
{
    (void)state;
    struct loa_buf b;
    loa_buf_init(&b, 8u << 20);
    /* Version 40 holds 2,953 bytes at L, 2,331 at M, 1,273 at H. */
    char *text = malloc(2955);
    assert_non_null(text);
    memset(text, 'z', 2954);
    text[2954] = '\0';
    struct loa_qr_opts l = { .scale = 1, .level = 'L' };
    assert_int_equal(loa_qr_image(text, &l, &b), LOA_ETOOBIG);
    text[2953] = '\0';
    assert_int_equal(loa_qr_image(text, &l, &b), 0);
    struct grey g = png_read(&b);
    assert_int_equal(g.width, 177 + 2 * 4); /* version 40 */
    free(g.px);
    text[2332] = '\0';
    assert_int_equal(loa_qr_image(text, NULL, &b), LOA_ETOOBIG); /* level M */
    text[2331] = '\0';
    loa_buf_reset(&b);
    assert_int_equal(loa_qr_image(text, NULL, &b), 0);
    text[1274] = '\0';
    struct loa_qr_opts h = { .level = 'H' };
    assert_int_equal(loa_qr_image(text, &h, &b), LOA_ETOOBIG);
    text[1273] = '\0';
    loa_buf_reset(&b);
    assert_int_equal(loa_qr_image(text, &h, &b), 0);
    free(text);
    loa_buf_release(&b);

    /* The caller's cap: too big, and nothing left behind, for either format. */
    loa_buf_init(&b, 200);
    assert_int_equal(loa_buf_puts(&b, "kept"), 0);
    assert_int_equal(loa_qr_image(LINK, NULL, &b), LOA_ETOOBIG);
    assert_string_equal(loa_buf_cstr(&b), "kept");
    struct loa_qr_opts svg = { .format = LOA_QR_SVG };
    assert_int_equal(loa_qr_image(LINK, &svg, &b), LOA_ETOOBIG);
    assert_string_equal(loa_buf_cstr(&b), "kept");
    loa_buf_release(&b);
}

static void qr_invalid_options(void **state)
{
    (void)state;
    struct loa_buf b;
    loa_buf_init(&b, 1u << 20);
    const struct loa_qr_opts bad[] = {
        { .scale = 33 },
        { .scale = -1 },
        { .margin = 17 },
        { .margin = -4 },
        { .level = 'X' },
        { .level = 'm' },
        { .format = (enum loa_qr_format)7 },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(loa_qr_image(LINK, &bad[i], &b), LOA_EINVAL);
    assert_int_equal(loa_qr_image(NULL, NULL, &b), LOA_EINVAL);
    assert_int_equal(loa_qr_image("", NULL, &b), LOA_EINVAL);
    assert_int_equal(loa_qr_image("caf\xe9", NULL, &b), LOA_EINVAL); /* Latin-1, not UTF-8 */
    assert_int_equal(b.len, 0);
    /* The bounds themselves are fine. */
    const struct loa_qr_opts edge[] = { { .scale = 1, .margin = 1 },
                                        { .scale = 32, .margin = 16 } };
    for (size_t i = 0; i < 2; i++) {
        loa_buf_reset(&b);
        assert_int_equal(loa_qr_image(LINK, &edge[i], &b), 0);
        struct grey g = png_read(&b);
        assert_int_equal(g.width, (unsigned)((V3 + 2 * edge[i].margin) * edge[i].scale));
        free(g.px);
    }
    loa_buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ref_good),
        cmocka_unit_test(ref_empty_and_too_long),
        cmocka_unit_test(ref_bad_characters_with_position),
        cmocka_unit_test(page_username_or_id),
        cmocka_unit_test(mme_links),
        cmocka_unit_test(mme_refuses_bad_input_and_leaves_out_alone),
        cmocka_unit_test(qr_png_size_and_finder),
        cmocka_unit_test(qr_svg_matches_png),
        cmocka_unit_test(qr_png_scans_back),
        cmocka_unit_test(qr_too_big),
        cmocka_unit_test(qr_invalid_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
