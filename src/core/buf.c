/* SPDX-License-Identifier: MIT */
/* Bounded growable buffer. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <loa/alloc.h>
#include <loa/buf.h>
#include <loa/err.h>

void loa_buf_init(struct loa_buf *b, size_t max)
{
    b->ptr = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void loa_buf_release(struct loa_buf *b)
{
    LOA_FREE(b->ptr);
    b->len = 0;
    b->cap = 0;
}

void loa_buf_reset(struct loa_buf *b)
{
    b->len = 0;
    if (b->ptr)
        b->ptr[0] = '\0';
}

/* Makes room for extra more bytes plus the NUL. */
static int reserve(struct loa_buf *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra)
        return LOA_ETOOBIG;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    b->ptr = loa_realloc(b->ptr, cap);
    b->cap = cap;
    return 0;
}

int loa_buf_append(struct loa_buf *b, const void *data, size_t len)
{
    int rc = reserve(b, len);
    if (rc < 0)
        return rc;
    if (len)
        memcpy(b->ptr + b->len, data, len);
    b->len += len;
    b->ptr[b->len] = '\0';
    return 0;
}

int loa_buf_puts(struct loa_buf *b, const char *s)
{
    return loa_buf_append(b, s, strlen(s));
}

int loa_buf_putc(struct loa_buf *b, char c)
{
    return loa_buf_append(b, &c, 1);
}

int loa_buf_vprintf(struct loa_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return LOA_EINVAL;
    int rc = reserve(b, (size_t)n);
    if (rc < 0)
        return rc;
    vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int loa_buf_printf(struct loa_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = loa_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

const char *loa_buf_cstr(const struct loa_buf *b)
{
    return b->ptr ? b->ptr : "";
}

char *loa_buf_detach(struct loa_buf *b)
{
    char *p = b->ptr ? b->ptr : loa_strdup("");
    b->ptr = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}
