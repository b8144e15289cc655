/* SPDX-License-Identifier: MIT */
/*
 * Phone numbers to E.164 ("+84912345678").
 *
 * Accepts what people type and spreadsheets produce: spaces, dots, dashes and parentheses;
 * "+84 912 345 678", "0084912345678", "0912 345 678" (national with trunk prefix),
 * "84912345678" (country code without '+'), and "912345678" (a spreadsheet that dropped the
 * leading zero). Numbers without a country code are read in the default region.
 *
 * Why not libphonenumber: it is C++ with protobuf/ICU/boost dependencies; loa needs
 * normalisation and a plausibility check per region, which a small table gives (see phone.c).
 */
#ifndef LOA_PHONE_H
#define LOA_PHONE_H

#include <stdbool.h>
#include <stddef.h>

#define LOA_PHONE_MAX 17 /* '+', up to 15 digits, NUL */

/** True when region (ISO 3166 alpha-2, e.g. "VN") has numbering data. */
bool loa_phone_region_known(const char *region);

/**
 * Normalises in to E.164 in out. Returns 0, or LOA_EINVAL with *reason_out (static string,
 * may be NULL) saying why: "contains letters", "too short", "too long", ...
 */
int loa_phone_normalize(const char *in, const char *region, char out[LOA_PHONE_MAX],
                        const char **reason_out);

#endif /* LOA_PHONE_H */
