/* SPDX-License-Identifier: MIT */
/*
 * Diagnostics: a list of precise complaints about some input, for the person who wrote it.
 *
 * Every validator of loa (messages, rules file, CSV rows, config, filters, HTTP bodies) reports
 * through this list so that each complaint carries where it is (a JSON path such as
 * "blocks[2].buttons[0].title", a CSV column name or a config key), a line and column when the
 * input has lines, and a reason in plain English.
 */
#ifndef LOA_DIAG_H
#define LOA_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct loa_diag {
    char *where;  /* JSON path, column name or key; may be "" */
    long line;    /* 1-based, 0 when the input has no lines */
    long column;  /* 1-based, 0 when unknown */
    char *reason; /* what is wrong, lowercase, no full stop */
};

struct loa_diags {
    struct loa_diag *items;
    size_t count;
    size_t cap;
    size_t limit;   /* keep at most this many; 0 = no limit */
    size_t dropped; /* complaints past the limit, counted but not kept */
};

void loa_diags_init(struct loa_diags *d, size_t limit);
void loa_diags_release(struct loa_diags *d);
/** Adds one complaint. where may be NULL; d may be NULL (complaints are then dropped). */
void loa_diags_add(struct loa_diags *d, long line, long column, const char *where, const char *fmt,
                   ...) __attribute__((format(printf, 5, 6)));
/** Total complaints, kept or dropped. */
size_t loa_diags_total(const struct loa_diags *d);
bool loa_diags_empty(const struct loa_diags *d);
/** Prints one complaint a line: "prefix:LINE:COL: where: reason". */
void loa_diags_print(const struct loa_diags *d, FILE *out, const char *prefix);

#endif /* LOA_DIAG_H */
