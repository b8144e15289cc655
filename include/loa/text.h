/* SPDX-License-Identifier: MIT */
/*
 * Text as Vietnamese shops type it: Unicode normalisation (NFC), keys that compare names
 * without regard to case and Unicode form, header keys that also ignore diacritics, and
 * numbers written the Vietnamese way ("12.853.000", "12.853.000 ₫", "1,5").
 *
 * Ownership: every char * returned is the caller's, freed with loa_free(). Pure functions of
 * their arguments (utf8proc's tables), safe from any thread.
 */
#ifndef LOA_TEXT_H
#define LOA_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/**
 * s[0..len) in Normalisation Form C (canonical composition: "n" + U+031B + U+0303 becomes
 * "ữ"). Text that is not well-formed UTF-8 is copied unchanged. NUL-terminated.
 */
char *loa_text_nfc(const char *s, size_t len);
/** True when NUL-terminated s is already NFC (or not UTF-8: nothing to do). */
bool loa_text_is_nfc(const char *s);
/**
 * The comparison key of a name (tags): NFC, then Unicode case folding, composed again, so
 * "VIP" and "vip", or "Nữ" typed composed and decomposed, have one key. Text that is not
 * UTF-8 is its own key.
 */
char *loa_text_fold(const char *s);
/**
 * The key of a column header: folded as above, diacritics removed ("đ" read as "d"), and
 * every run of spaces, '_', '-', '.', '/' made one space, trimmed: "Số điện thoại",
 * "SO_DIEN_THOAI" and "so  dien thoai" all give "so dien thoai".
 */
char *loa_text_header_key(const char *s);

/**
 * Reads all of s as a number written as people write amounts in Vietnam or in English:
 * optional sign, digits with '.' or ',' grouping thousands and the other one (or a lone
 * separator not followed by exactly three digits) marking decimals, an optional currency
 * after or before ("₫", "đ", "VND", "VNĐ", "$"), spaces around. "12.853.000", "12,853,000",
 * "12.853.000 ₫", "1,5", "1.5", "5,000,000.25" and "-3" read; "1.2.3,4,5", "12.85.000" and
 * "" do not. A single separator followed by exactly three digits groups thousands ("1.500"
 * and "1,500" are both 1500). Returns false when s is not such a number.
 */
bool loa_text_number(const char *s, double *out);

#endif /* LOA_TEXT_H */
