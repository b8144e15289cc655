/* SPDX-License-Identifier: MIT */
/*
 * UTF-8 text: validation, counting and cutting by characters (code points), never inside a
 * sequence. Meta counts its text limits (2000 for text, 80 for titles) in characters, and
 * Vietnamese text has many 2- and 3-byte characters, so byte counts are never used for limits.
 */
#ifndef LOA_UTF8_H
#define LOA_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/** True when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
bool loa_utf8_valid(const char *s, size_t len);
/** Number of code points in well-formed s[0..len). */
size_t loa_utf8_count(const char *s, size_t len);
/**
 * Byte length of the longest prefix of s[0..len) that holds at most max_chars code points;
 * the prefix always ends on a character boundary.
 */
size_t loa_utf8_prefix(const char *s, size_t len, size_t max_chars);

#endif /* LOA_UTF8_H */
