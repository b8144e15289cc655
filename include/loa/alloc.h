/* SPDX-License-Identifier: MIT */
/*
 * Memory allocation for loa.
 *
 * Design decision: allocation failure aborts the process with a message (as Redis and h2o do)
 * instead of being returned. loa runs as a Linux daemon where malloc practically never returns
 * NULL, and every caller checking for it would add error paths that are never exercised. Every
 * array allocation is overflow-checked. loa_free(NULL) is a no-op.
 */
#ifndef LOA_ALLOC_H
#define LOA_ALLOC_H

#include <stddef.h>

void *loa_malloc(size_t size) __attribute__((malloc, alloc_size(1), returns_nonnull));
void *loa_calloc(size_t nmemb, size_t size)
    __attribute__((malloc, alloc_size(1, 2), returns_nonnull));
/** realloc; the old pointer is invalid afterwards. */
void *loa_realloc(void *ptr, size_t size) __attribute__((returns_nonnull));
/** realloc of nmemb * size bytes, checking the multiplication for overflow. */
void *loa_reallocarray(void *ptr, size_t nmemb, size_t size) __attribute__((returns_nonnull));
char *loa_strdup(const char *s) __attribute__((malloc, returns_nonnull));
/** Copies at most n bytes of s and NUL-terminates. */
char *loa_strndup(const char *s, size_t n) __attribute__((malloc, returns_nonnull));
void *loa_memdup(const void *p, size_t n) __attribute__((malloc, returns_nonnull));
void loa_free(void *ptr);

/** Frees *pp and sets it to NULL. */
#define LOA_FREE(p)  \
    do {             \
        loa_free(p); \
        (p) = NULL;  \
    } while (0)

#endif /* LOA_ALLOC_H */
