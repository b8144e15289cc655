/* SPDX-License-Identifier: MIT */
/* Private to src/link: helpers shared by link.c and qr.c. */
#ifndef LOA_LINK_LINK_INT_H
#define LOA_LINK_LINK_INT_H

#include <stddef.h>

#include <loa/buf.h>

/* Cuts b back to its first len bytes (len <= b->len), so a failed call leaves no partial
   output behind. */
static inline void loa__link_buf_cut(struct loa_buf *b, size_t len)
{
    if (b->ptr != NULL && len <= b->len) {
        b->len = len;
        b->ptr[len] = '\0';
    }
}

#endif /* LOA_LINK_LINK_INT_H */
