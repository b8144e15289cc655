/* SPDX-License-Identifier: MIT */
/*
 * A growable byte buffer with a mandatory size cap (cf. curl's dynbuf).
 *
 * Invariants: ptr is NULL or NUL-terminated at ptr[len]; len <= max. Appending past max fails
 * with LOA_ETOOBIG and leaves the buffer as it was.
 */
#ifndef LOA_BUF_H
#define LOA_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct loa_buf {
    char *ptr;  /* owned; NULL until the first append */
    size_t len; /* bytes used, not counting the terminating NUL */
    size_t cap; /* bytes allocated */
    size_t max; /* largest len allowed */
};

/** Initialises an empty buffer that may grow to max bytes. */
void loa_buf_init(struct loa_buf *b, size_t max);
/** Frees the memory; the buffer may be initialised again. */
void loa_buf_release(struct loa_buf *b);
/** Empties the buffer, keeping its memory. */
void loa_buf_reset(struct loa_buf *b);
/** Returns: 0, or LOA_ETOOBIG. */
int loa_buf_append(struct loa_buf *b, const void *data, size_t len);
int loa_buf_puts(struct loa_buf *b, const char *s);
int loa_buf_putc(struct loa_buf *b, char c);
int loa_buf_printf(struct loa_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int loa_buf_vprintf(struct loa_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/** The contents as a C string ("" when empty); borrowed, valid until the next change. */
const char *loa_buf_cstr(const struct loa_buf *b);
/** Ownership out: returns the string (never NULL; free with loa_free) and empties the buffer. */
char *loa_buf_detach(struct loa_buf *b);

#endif /* LOA_BUF_H */
