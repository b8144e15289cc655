/* SPDX-License-Identifier: MIT */
/*
 * Checking and normalising a person's reply to a wait_reply block (phone, e-mail, number,
 * text). The checks are deliberately forgiving about how people type (spaces, dashes,
 * Vietnamese "1.000.000" grouping) and strict about what is stored.
 */
#include <stdint.h>
#include <string.h>

#include <loa/alloc.h>
#include <loa/buf.h>
#include <loa/err.h>
#include <loa/msg.h>
#include <loa/utf8.h>

#define PHONE_MIN_DIGITS 8
#define PHONE_MAX_DIGITS 15
#define EMAIL_MAX        254
#define EMAIL_LOCAL_MAX  64
#define NUMBER_MAX       64
#define REPLY_MAX        ((size_t)1 << 20)

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static bool is_alnum(char ch)
{
    return is_digit(ch) || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static char lower(char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

/* "+84 912-345.678", "(028) 3822 1234" -> "+84912345678", "02838221234". */
static bool check_phone(const char *s, size_t len, struct loa_buf *out)
{
    size_t digits = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (is_digit(ch)) {
            digits++;
            (void)loa_buf_putc(out, ch);
        } else if (ch == '+') {
            if (i != 0)
                return false;
            (void)loa_buf_putc(out, ch);
        } else if (!(ch == ' ' || ch == '-' || ch == '.' || ch == '(' || ch == ')')) {
            return false;
        }
    }
    return digits >= PHONE_MIN_DIGITS && digits <= PHONE_MAX_DIGITS;
}

static bool email_local_char(char ch)
{
    return is_alnum(ch) || (ch && strchr("!#$%&'*+-/=?^_`{|}~.", ch));
}

/* local@domain.tld, ASCII, with the domain in lower case. */
static bool check_email(const char *s, size_t len, struct loa_buf *out)
{
    const char *at = memchr(s, '@', len);
    if (!at || len > EMAIL_MAX)
        return false;
    size_t local = (size_t)(at - s);
    if (local == 0 || local > EMAIL_LOCAL_MAX || s[0] == '.' || s[local - 1] == '.')
        return false;
    for (size_t i = 0; i < local; i++)
        if (!email_local_char(s[i]) || (s[i] == '.' && s[i + 1] == '.'))
            return false;
    const char *d = at + 1;
    size_t dlen = len - local - 1;
    size_t labels = 0, label_len = 0, tld_start = 0;
    for (size_t i = 0; i <= dlen; i++) {
        char ch = i < dlen ? d[i] : '.';
        if (ch == '.') {
            if (label_len == 0 || label_len > 63 || d[i - 1] == '-')
                return false;
            labels++;
            label_len = 0;
            continue;
        }
        if (!(is_alnum(ch) || ch == '-') || (label_len == 0 && ch == '-'))
            return false;
        if (label_len == 0)
            tld_start = i;
        label_len++;
    }
    if (labels < 2 || dlen - tld_start < 2)
        return false;
    bool tld_alpha = false;
    for (size_t i = tld_start; i < dlen; i++)
        tld_alpha |= !is_digit(d[i]);
    if (!tld_alpha)
        return false;
    (void)loa_buf_append(out, s, local + 1);
    for (size_t i = 0; i < dlen; i++)
        (void)loa_buf_putc(out, lower(d[i]));
    return true;
}

/*
 * An optional sign, digit groups and separators. One separator followed by exactly three
 * digits, or several of the same kind, group thousands ("1.000", "2,500", "1.000.000"); any
 * other single separator is the decimal point ("12,5"); with two kinds, the last one is the
 * decimal point ("1.234,5", "1,234.5").
 */
static bool check_number(const char *s, size_t len, struct loa_buf *out)
{
    if (len == 0 || len > NUMBER_MAX)
        return false;
    size_t i = 0;
    bool neg = false;
    if (s[0] == '+' || s[0] == '-') {
        neg = s[0] == '-';
        i = 1;
    }
    size_t starts[NUMBER_MAX], lens[NUMBER_MAX];
    char seps[NUMBER_MAX];
    size_t ngroups = 0;
    while (i <= len) {
        size_t st = i;
        while (i < len && is_digit(s[i]))
            i++;
        if (i == st)
            return false; /* empty group, or a stray character */
        starts[ngroups] = st;
        lens[ngroups] = i - st;
        if (i < len) {
            if (s[i] != '.' && s[i] != ',')
                return false;
            seps[ngroups] = s[i];
        }
        ngroups++;
        if (i == len)
            break;
        i++;
    }
    size_t nseps = ngroups - 1;
    size_t grouped = 0; /* separators that group thousands, from the left */
    bool decimal = false;
    if (nseps == 1) {
        decimal = lens[1] != 3;
        grouped = decimal ? 0 : 1;
    } else if (nseps > 1) {
        bool same = true;
        for (size_t k = 1; k < nseps; k++)
            same &= seps[k] == seps[0];
        if (same) {
            grouped = nseps;
        } else {
            for (size_t k = 1; k + 1 < nseps; k++)
                if (seps[k] != seps[0])
                    return false;
            if (seps[nseps - 1] == seps[0])
                return false;
            grouped = nseps - 1;
            decimal = true;
        }
    }
    if (grouped && (lens[0] > 3))
        return false;
    for (size_t k = 1; k <= grouped; k++)
        if (lens[k] != 3)
            return false;

    if (neg)
        (void)loa_buf_putc(out, '-');
    /* Integer part without leading zeros (but at least one digit). */
    bool started = false;
    for (size_t k = 0; k <= grouped; k++) {
        for (size_t j = 0; j < lens[k]; j++) {
            char ch = s[starts[k] + j];
            if (ch != '0' || started) {
                started = true;
                (void)loa_buf_putc(out, ch);
            }
        }
    }
    if (!started)
        (void)loa_buf_putc(out, '0');
    if (decimal) {
        (void)loa_buf_putc(out, '.');
        (void)loa_buf_append(out, s + starts[ngroups - 1], lens[ngroups - 1]);
    }
    return true;
}

int loa_msg_check_reply(enum loa_msg_reply_kind kind, const char *text, char **normalised_out)
{
    int rc = LOA_EINVAL;
    struct loa_buf out;
    loa_buf_init(&out, REPLY_MAX);
    if (normalised_out)
        *normalised_out = NULL;
    if (!text)
        goto out;
    size_t len = strlen(text);
    if (len > REPLY_MAX || !loa_utf8_valid(text, len))
        goto out;
    while (len && is_space(*text)) {
        text++;
        len--;
    }
    while (len && is_space(text[len - 1]))
        len--;
    if (len == 0)
        goto out;

    bool ok = false;
    switch (kind) {
    case LOA_MSG_REPLY_TEXT:
        ok = loa_buf_append(&out, text, len) == 0;
        break;
    case LOA_MSG_REPLY_PHONE:
        ok = check_phone(text, len, &out);
        break;
    case LOA_MSG_REPLY_EMAIL:
        ok = check_email(text, len, &out);
        break;
    case LOA_MSG_REPLY_NUMBER:
        ok = check_number(text, len, &out);
        break;
    }
    if (!ok)
        goto out;
    rc = 0;
    if (normalised_out)
        *normalised_out = loa_buf_detach(&out);
out:
    loa_buf_release(&out);
    return rc;
}
