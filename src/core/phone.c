/* SPDX-License-Identifier: MIT */
/* Phone number normalisation to E.164 with a small per-region numbering table. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <loa/err.h>
#include <loa/phone.h>

struct region {
    const char *code;  /* ISO 3166 alpha-2 */
    const char *cc;    /* country calling code */
    const char *trunk; /* national trunk prefix, "" when none */
    unsigned nsn_min;  /* national significant number length range */
    unsigned nsn_max;
    const char *starts; /* allowed first digits of the NSN, NULL = any */
};

/* Lengths from the ITU national numbering plans; VN after the 2018 mobile renumbering
 * (mobile 9 digits starting 3/5/7/8/9, fixed 10 digits starting 2). */
static const struct region regions[] = {
    { "VN", "84", "0", 9, 10, "235789" },   { "TH", "66", "0", 8, 9, NULL },
    { "KH", "855", "0", 8, 9, NULL },       { "LA", "856", "0", 8, 10, NULL },
    { "MY", "60", "0", 9, 10, NULL },       { "SG", "65", "", 8, 8, "3689" },
    { "ID", "62", "0", 9, 12, NULL },       { "PH", "63", "0", 10, 10, NULL },
    { "CN", "86", "0", 11, 11, NULL },      { "JP", "81", "0", 9, 10, NULL },
    { "KR", "82", "0", 9, 10, NULL },       { "TW", "886", "0", 8, 9, NULL },
    { "HK", "852", "", 8, 8, NULL },        { "AU", "61", "0", 9, 9, NULL },
    { "US", "1", "1", 10, 10, "23456789" }, { "GB", "44", "0", 10, 10, NULL },
    { "FR", "33", "0", 9, 9, NULL },        { "DE", "49", "0", 6, 11, NULL },
};

static const struct region *find_region(const char *code)
{
    for (size_t i = 0; i < sizeof(regions) / sizeof(regions[0]); i++)
        if (code && strcmp(regions[i].code, code) == 0)
            return &regions[i];
    return NULL;
}

static const struct region *region_by_cc(const char *digits)
{
    for (size_t i = 0; i < sizeof(regions) / sizeof(regions[0]); i++)
        if (strncmp(digits, regions[i].cc, strlen(regions[i].cc)) == 0)
            return &regions[i];
    return NULL;
}

bool loa_phone_region_known(const char *region)
{
    return find_region(region) != NULL;
}

static bool nsn_ok(const struct region *r, const char *nsn)
{
    size_t n = strlen(nsn);
    if (n < r->nsn_min || n > r->nsn_max)
        return false;
    if (r->starts && !strchr(r->starts, nsn[0]))
        return false;
    /* VN: fixed lines have 10 digits and start with 2; mobiles have 9. */
    if (strcmp(r->code, "VN") == 0 && (n == 10) != (nsn[0] == '2'))
        return false;
    return true;
}

/* out = "+" cc nsn, when that has at most 15 digits. */
static int compose(char out[LOA_PHONE_MAX], const char *cc, const char *nsn,
                   const char **reason_out);

static int fail(const char **reason_out, const char *reason)
{
    if (reason_out)
        *reason_out = reason;
    return LOA_EINVAL;
}

static int compose(char out[LOA_PHONE_MAX], const char *cc, const char *nsn,
                   const char **reason_out)
{
    size_t a = strlen(cc), b = strlen(nsn);
    if (a + b > 15)
        return fail(reason_out, "too long");
    out[0] = '+';
    memcpy(out + 1, cc, a);
    memcpy(out + 1 + a, nsn, b);
    out[1 + a + b] = '\0';
    return 0;
}

int loa_phone_normalize(const char *in, const char *region, char out[LOA_PHONE_MAX],
                        const char **reason_out)
{
    char digits[64];
    size_t nd = 0;
    bool plus = false, seen_digit = false;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        if (isdigit(*p)) {
            if (nd + 1 >= sizeof(digits))
                return fail(reason_out, "too long");
            digits[nd++] = (char)*p;
            seen_digit = true;
        } else if (*p == '+' && !seen_digit && !plus) {
            plus = true;
        } else if (isalpha(*p)) {
            return fail(reason_out, "contains letters");
        } else if (!strchr(" .-()/\t", *p)) {
            return fail(reason_out, "contains characters that are not part of a phone number");
        }
    }
    digits[nd] = '\0';
    if (nd == 0)
        return fail(reason_out, "no digits");

    const char *intl = NULL; /* digits after the international prefix */
    if (plus)
        intl = digits;
    else if (nd > 2 && digits[0] == '0' && digits[1] == '0')
        intl = digits + 2;

    const struct region *home = find_region(region);
    if (!intl && !home)
        return fail(reason_out, "no country code and unknown default region");

    if (!intl) {
        const char *nsn = digits;
        if (*home->trunk && strncmp(digits, home->trunk, strlen(home->trunk)) == 0 &&
            nsn_ok(home, digits + strlen(home->trunk)))
            nsn = digits + strlen(home->trunk);
        if (nsn_ok(home, nsn)) {
            return compose(out, home->cc, nsn, reason_out);
        }
        /* The country code written without '+' or "00". */
        if (strncmp(digits, home->cc, strlen(home->cc)) == 0 &&
            nsn_ok(home, digits + strlen(home->cc))) {
            return compose(out, "", digits, reason_out);
        }
        return fail(reason_out,
                    nd < home->nsn_min ? "too short" : "not a valid number for the region");
    }

    size_t n = strlen(intl);
    if (n < 8)
        return fail(reason_out, "too short");
    if (n > 15)
        return fail(reason_out, "too long");
    const struct region *r = region_by_cc(intl);
    if (r) {
        const char *nsn = intl + strlen(r->cc);
        /* "+84 0912 345 678": a trunk zero kept after the country code. */
        if (*r->trunk && strncmp(nsn, r->trunk, strlen(r->trunk)) == 0 &&
            nsn_ok(r, nsn + strlen(r->trunk))) {
            return compose(out, r->cc, nsn + strlen(r->trunk), reason_out);
        }
        if (!nsn_ok(r, nsn))
            return fail(reason_out, "not a valid number for its country code");
    }
    return compose(out, "", intl, reason_out);
}
