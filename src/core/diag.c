/* SPDX-License-Identifier: MIT */
/* A list of precise complaints about some input. */
#include <stdarg.h>

#include <loa/alloc.h>
#include <loa/buf.h>
#include <loa/diag.h>

void loa_diags_init(struct loa_diags *d, size_t limit)
{
    d->items = NULL;
    d->count = 0;
    d->cap = 0;
    d->limit = limit;
    d->dropped = 0;
}

void loa_diags_release(struct loa_diags *d)
{
    for (size_t i = 0; i < d->count; i++) {
        loa_free(d->items[i].where);
        loa_free(d->items[i].reason);
    }
    LOA_FREE(d->items);
    d->count = 0;
    d->cap = 0;
    d->dropped = 0;
}

void loa_diags_add(struct loa_diags *d, long line, long column, const char *where, const char *fmt,
                   ...)
{
    if (!d)
        return; /* the caller does not collect complaints */
    if (d->limit && d->count >= d->limit) {
        d->dropped++;
        return;
    }
    if (d->count == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 8;
        d->items = loa_reallocarray(d->items, d->cap, sizeof(*d->items));
    }
    struct loa_buf b;
    loa_buf_init(&b, 4096);
    va_list ap;
    va_start(ap, fmt);
    (void)loa_buf_vprintf(&b, fmt, ap); /* a reason past 4 KiB is left empty */
    va_end(ap);
    struct loa_diag *it = &d->items[d->count++];
    it->where = loa_strdup(where ? where : "");
    it->line = line;
    it->column = column;
    it->reason = loa_buf_detach(&b);
}

size_t loa_diags_total(const struct loa_diags *d)
{
    return d->count + d->dropped;
}

bool loa_diags_empty(const struct loa_diags *d)
{
    return d->count == 0 && d->dropped == 0;
}

void loa_diags_print(const struct loa_diags *d, FILE *out, const char *prefix)
{
    for (size_t i = 0; i < d->count; i++) {
        const struct loa_diag *it = &d->items[i];
        fputs(prefix ? prefix : "", out);
        if (it->line > 0) {
            fprintf(out, "%s%ld", prefix && *prefix ? ":" : "line ", it->line);
            if (it->column > 0)
                fprintf(out, ":%ld", it->column);
            fputs(": ", out);
        } else if (prefix && *prefix) {
            fputs(": ", out);
        }
        if (it->where[0])
            fprintf(out, "%s: ", it->where);
        fprintf(out, "%s\n", it->reason);
    }
    if (d->dropped)
        fprintf(out, "%s%s(%zu more not shown)\n", prefix ? prefix : "",
                prefix && *prefix ? ": " : "", d->dropped);
}
