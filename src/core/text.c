/* SPDX-License-Identifier: MIT */
/* Unicode normalisation and folding (utf8proc), header keys, Vietnamese numbers. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include <loa/alloc.h>
#include <loa/buf.h>
#include <loa/text.h>

/* utf8proc_map() with options, as a loa-allocated string; a copy of s when it fails. */
static char *map(const char *s, size_t len, utf8proc_option_t options)
{
    utf8proc_uint8_t *out = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &out,
                                      options | UTF8PROC_STABLE);
    char *r;
    if (n < 0 || !out) {
        r = loa_malloc(len + 1);
        memcpy(r, s, len);
        r[len] = '\0';
    } else {
        r = loa_malloc((size_t)n + 1);
        memcpy(r, out, (size_t)n);
        r[n] = '\0';
    }
    free(out); /* utf8proc's malloc */
    return r;
}

char *loa_text_nfc(const char *s, size_t len)
{
    return map(s, len, UTF8PROC_COMPOSE);
}

bool loa_text_is_nfc(const char *s)
{
    size_t len = strlen(s);
    char *n = loa_text_nfc(s, len);
    bool same = strcmp(n, s) == 0;
    loa_free(n);
    return same;
}

char *loa_text_fold(const char *s)
{
    return map(s, strlen(s), UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD);
}

char *loa_text_header_key(const char *s)
{
    char *bare = map(s, strlen(s), UTF8PROC_DECOMPOSE | UTF8PROC_STRIPMARK | UTF8PROC_CASEFOLD);
    struct loa_buf b;
    loa_buf_init(&b, strlen(bare) + 1);
    bool space = false;
    for (const char *p = bare; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == 0xC4 && (unsigned char)p[1] == 0x91) { /* đ (Đ folds to it): no mark to strip */
            c = 'd';
            p++;
        }
        if (isspace(c) || c == '_' || c == '-' || c == '.' || c == '/') {
            space = b.len > 0;
            continue;
        }
        if (space)
            loa_buf_putc(&b, ' ');
        space = false;
        loa_buf_putc(&b, (char)c);
    }
    loa_free(bare);
    char *r = loa_malloc(b.len + 1);
    memcpy(r, b.ptr ? b.ptr : "", b.len);
    r[b.len] = '\0';
    loa_buf_release(&b);
    return r;
}

/* ---- Numbers ------------------------------------------------------------------------------ */

/* Length of the space (ASCII, no-break U+00A0, narrow no-break U+202F) at p, else 0. */
static size_t space_at(const char *p)
{
    if (*p == ' ' || *p == '\t')
        return 1;
    if ((unsigned char)p[0] == 0xC2 && (unsigned char)p[1] == 0xA0)
        return 2;
    if ((unsigned char)p[0] == 0xE2 && (unsigned char)p[1] == 0x80 && (unsigned char)p[2] == 0xAF)
        return 3;
    return 0;
}

static const char *const currencies[] = { "\xE2\x82\xAB" /* ₫ */,
                                          "VN\xC4\x90" /* VNĐ */,
                                          "vn\xC4\x91" /* vnđ */,
                                          "VND",
                                          "vnd",
                                          "\xC4\x91" /* đ */,
                                          "\xC4\x90" /* Đ */,
                                          "$" };

/* Trims spaces and one currency sign at either end of [*b, *e). */
static void strip(const char **b, const char **e)
{
    for (int round = 0; round < 2; round++) {
        size_t n;
        while (*b < *e && (n = space_at(*b)) > 0)
            *b += n;
        while (*e > *b) {
            const char *q = *e - 1;
            if (*q == ' ' || *q == '\t')
                *e = q;
            else if (*e - *b >= 2 && (unsigned char)q[-1] == 0xC2 && (unsigned char)q[0] == 0xA0)
                *e = q - 1;
            else
                break;
        }
        if (round == 1)
            break;
        for (size_t i = 0; i < sizeof(currencies) / sizeof(currencies[0]); i++) {
            size_t cl = strlen(currencies[i]);
            if ((size_t)(*e - *b) > cl && memcmp(*e - cl, currencies[i], cl) == 0) {
                *e -= cl;
                break;
            }
            if ((size_t)(*e - *b) > cl && memcmp(*b, currencies[i], cl) == 0) {
                *b += cl;
                break;
            }
        }
    }
}

bool loa_text_number(const char *s, double *out)
{
    if (!s)
        return false;
    const char *b = s, *e = s + strlen(s);
    strip(&b, &e);
    char buf[128];
    size_t o = 0;
    if (b < e && (*b == '-' || *b == '+'))
        buf[o++] = *b++;
    if (b == e || !isdigit((unsigned char)*b) || !isdigit((unsigned char)e[-1]) || e - b > 100)
        return false;
    /* The separators: how many of each, and where the last one is. */
    size_t ndot = 0, ncomma = 0;
    const char *last = NULL;
    for (const char *p = b; p < e; p++) {
        if (*p == '.' || *p == ',') {
            ndot += *p == '.';
            ncomma += *p == ',';
            last = p;
        } else if (!isdigit((unsigned char)*p)) {
            return false;
        }
    }
    char decimal = 0; /* the separator that marks decimals, if any */
    if (ndot && ncomma) {
        decimal = *last;
        if ((decimal == '.' ? ndot : ncomma) != 1)
            return false;
    } else if (ndot + ncomma == 1) {
        size_t before = (size_t)(last - b), after = (size_t)(e - last - 1);
        if (!(after == 3 && before <= 3))
            decimal = *last;
    }
    /* Every grouping separator is followed by exactly three digits up to the next separator,
     * and the first group has one to three digits. */
    size_t group = 0;
    bool first = true, in_decimals = false;
    for (const char *p = b; p < e; p++) {
        if (isdigit((unsigned char)*p)) {
            group++;
            buf[o++] = *p;
            continue;
        }
        if (in_decimals)
            return false;
        if (first ? (group < 1 || group > 3) : group != 3)
            return false;
        if (*p == decimal) {
            in_decimals = true;
            buf[o++] = '.';
        }
        first = false;
        group = 0;
    }
    if (!first && !in_decimals && group != 3)
        return false;
    buf[o] = '\0';
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (*end || errno == ERANGE || !isfinite(v))
        return false;
    *out = v;
    return true;
}
