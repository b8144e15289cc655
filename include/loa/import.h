/* SPDX-License-Identifier: MIT */
/*
 * Subscriber import from CSV (libcsv).
 *
 * The header row maps columns: psid, first_name, last_name, phone, email, gender, locale, tags
 * (separated by ',' or ';' inside the cell); any other column becomes a custom attribute
 * named as its header, except the read-only columns an export writes (id, first_seen_at,
 * last_interaction_at, last_interaction_kind, unreachable), which are ignored: only Messenger
 * events may move the messaging window. UTF-8 is kept intact and checked. Phones are normalised to
 * E.164 in the default region. Every invalid row is reported with its line, column and reason.
 *
 * Atomicity: the whole file is one transaction. By default nothing is written when any row is
 * invalid; with skip_invalid the valid rows are written and the others reported. Importing the
 * same file twice changes nothing (rows match by PSID, else by phone).
 */
#ifndef LOA_IMPORT_H
#define LOA_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <loa/diag.h>

struct loa_store;

struct loa_import_progress {
    uint64_t bytes_done;
    uint64_t bytes_total; /* 0 when unknown (a pipe) */
    size_t rows;
};

struct loa_import_opts {
    const char *path;   /* CSV file; "-" reads standard input */
    int64_t page_ref;   /* internal id of the Page the subscribers belong to */
    const char *list;   /* add every imported row to this list; NULL = none */
    const char *region; /* default phone region, e.g. "VN" */
    bool skip_invalid;  /* write valid rows even when some are invalid */
    /* Called every few thousand rows and once at the end; may be NULL. */
    void (*progress)(const struct loa_import_progress *p, void *ud);
    void *progress_ud;
};

struct loa_import_report {
    size_t rows;       /* data rows read (header excluded) */
    size_t invalid;    /* rows rejected */
    size_t inserted;   /* new subscribers */
    size_t updated;    /* existing subscribers changed */
    size_t unchanged;  /* existing subscribers already as in the file */
    size_t tags_added; /* new subscriber-tag assignments */
    size_t listed;     /* rows added to the list */
    bool written;      /* the transaction was committed */
};

/**
 * Imports opts->path into the store. Complaints (line, column name, reason) go to diags.
 * Returns 0 when every row was valid and written; LOA_EINVAL when some rows were invalid
 * (written only with skip_invalid: see report->written); LOA_EPARSE when the file is not CSV
 * or its header is unusable; LOA_ENOENT when the file cannot be opened; LOA_ESTORE.
 */
int loa_import_csv(struct loa_store *st, const struct loa_import_opts *opts,
                   struct loa_import_report *report, struct loa_diags *diags);

#endif /* LOA_IMPORT_H */
