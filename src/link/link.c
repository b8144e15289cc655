/* SPDX-License-Identifier: MIT */
/*
 * m.me links: checking a ref and a Page's name, and writing the link.
 *
 * Which characters a ref may hold. Meta's m.me page gives only the length ("a string that may
 * be up to 2,083 characters", developers.facebook.com/docs/messenger-platform/discovery/
 * m-me-links, Requirements); the current page (documentation/business-messaging/
 * messenger-platform/discovery/m-me-links, updated Mar 23, 2026) adds that referrals may not
 * work everywhere and names no character set. Third parties state "alphanumerics plus -, _,
 * and =" for m.me refs (postproxy.dev/how-to/track-igme-link-referrals), and Meta's own error
 * for the Send to Messenger plugin's ref listed "alphanumeric characters and +-./:=_" (quoted in
 * gist.github.com/govindpatel/36d787cba53dc51e9c0c2794e4a9584a). loa takes the set every
 * source accepts: letters, digits, '-', '_' and '='. A ref names a sequence or a campaign, so
 * nothing is lost, and each such character passes any URL, QR code or spreadsheet unchanged.
 */
#include <stdbool.h>
#include <string.h>

#include <loa/err.h>
#include <loa/link.h>
#include <loa/utf8.h>

#include "link_int.h"

static bool is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool ref_char_ok(unsigned char c)
{
    return is_alnum(c) || c == '-' || c == '_' || c == '=';
}

/* Complains about the character at s[i] (1-based position i + 1): quoted when printable,
   as a code point when a control or non-ASCII character, as a byte when not UTF-8. */
static void bad_char(struct loa_diags *diags, const char *path, const char *s, size_t len, size_t i,
                     const char *allowed)
{
    unsigned char c = (unsigned char)s[i];
    long col = (long)(i + 1);
    if (c >= 0x20 && c < 0x7f) {
        loa_diags_add(diags, 0, col, path, "character '%c' at position %ld is not allowed (%s)", c,
                      col, allowed);
        return;
    }
    size_t n = c < 0x80 ? 1 : loa_utf8_prefix(s + i, len - i, 1);
    if (n == 0 || !loa_utf8_valid(s + i, n)) {
        loa_diags_add(diags, 0, col, path, "byte 0x%02X at position %ld is not UTF-8", c, col);
        return;
    }
    unsigned cp = n == 1 ? c : (unsigned)(c & (0xFF >> (n + 1)));
    for (size_t k = 1; k < n; k++)
        cp = (cp << 6) | ((unsigned char)s[i + k] & 0x3F);
    if (n == 1)
        loa_diags_add(diags, 0, col, path,
                      "control character U+%04X at position %ld is not allowed (%s)", cp, col,
                      allowed);
    else
        loa_diags_add(diags, 0, col, path,
                      "character '%.*s' (U+%04X) at position %ld is not allowed (%s)", (int)n,
                      s + i, cp, col, allowed);
}

int loa_link_ref_check(const char *ref, const char *path, struct loa_diags *diags)
{
    static const char allowed[] = "letters, digits, '-', '_' and '=' only";
    size_t len = ref ? strlen(ref) : 0;
    if (len == 0) {
        loa_diags_add(diags, 0, 0, path, "is empty");
        return LOA_EINVAL;
    }
    int rc = 0;
    if (len > LOA_LINK_REF_MAX) {
        loa_diags_add(diags, 0, 0, path, "is %zu characters long, at most %d are allowed", len,
                      LOA_LINK_REF_MAX);
        rc = LOA_EINVAL;
    }
    for (size_t i = 0; i < len; i++) {
        if (!ref_char_ok((unsigned char)ref[i])) {
            bad_char(diags, path, ref, len, i, allowed);
            rc = LOA_EINVAL;
            break;
        }
    }
    return rc;
}

int loa_link_page_check(const char *page, const char *path, struct loa_diags *diags)
{
    size_t len = page ? strlen(page) : 0;
    if (len == 0) {
        loa_diags_add(diags, 0, 0, path, "is empty (a Page username or numeric id)");
        return LOA_EINVAL;
    }
    bool letter = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)page[i];
        if (!is_alnum(c) && c != '.') {
            bad_char(diags, path, page, len, i, "a Page username has letters, digits and '.'");
            return LOA_EINVAL;
        }
        letter = letter || !(is_digit(c) || c == '.');
    }
    if (!letter) {
        /* No letter: a numeric Page id, or a username Meta would not give out. */
        if (strchr(page, '.') != NULL) {
            loa_diags_add(diags, 0, 0, path,
                          "is neither a Page username (which has a letter) nor a numeric id");
            return LOA_EINVAL;
        }
        if (len > LOA_LINK_ID_MAX) {
            loa_diags_add(diags, 0, 0, path, "is a %zu-digit id, at most %d digits are allowed",
                          len, LOA_LINK_ID_MAX);
            return LOA_EINVAL;
        }
        return 0;
    }
    if (len < 5 || len > LOA_LINK_USERNAME_MAX) {
        loa_diags_add(diags, 0, 0, path,
                      "is a %zu-character username, Page usernames have 5 to %d characters", len,
                      LOA_LINK_USERNAME_MAX);
        return LOA_EINVAL;
    }
    if (page[0] == '.' || page[len - 1] == '.' || strstr(page, "..") != NULL) {
        loa_diags_add(diags, 0, 0, path,
                      "a Page username does not start or end with '.' or have two in a row");
        return LOA_EINVAL;
    }
    return 0;
}

/* Appends s as an application/x-www-form-urlencoded value (WHATWG URL, "urlencoded
   serializing"): the checked characters need it only for '='. */
static int put_form_value(struct loa_buf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && rc == 0; p++) {
        if (is_alnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '*') {
            rc = loa_buf_putc(out, (char)*p);
        } else {
            char esc[3] = { '%', hex[*p >> 4], hex[*p & 0xF] };
            rc = loa_buf_append(out, esc, sizeof(esc));
        }
    }
    return rc;
}

int loa_link_mme(const char *page, const char *ref, struct loa_buf *out, struct loa_diags *diags)
{
    int rc_page = loa_link_page_check(page, "page", diags);
    int rc_ref = loa_link_ref_check(ref, "ref", diags);
    if (rc_page < 0 || rc_ref < 0)
        return LOA_EINVAL;
    size_t mark = out->len;
    int rc = loa_buf_printf(out, "https://m.me/%s?ref=", page);
    if (rc == 0)
        rc = put_form_value(out, ref);
    if (rc < 0)
        loa__link_buf_cut(out, mark);
    return rc;
}
