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

/* ---- CRM phone lists (src/import/phone_list.c) ---------------------------------------- */

/**
 * A CRM list: a CSV whose header names a phone column ("phone", "phone_number", "mobile",
 * "sdt" or "số điện thoại", any case; other columns are ignored). Each number is normalised in
 * the default region and matched to the Page's subscribers by phone; the subscribers matched
 * become members of the named list (created when missing).
 */
struct loa_phone_list_opts {
    const char *path; /* CSV file ("-" = standard input); NULL when data is given */
    const char *data; /* CSV text in memory (len bytes), used when path is NULL */
    size_t len;
    int64_t page_ref;   /* internal id of the Page */
    const char *name;   /* list name, 1-64 characters */
    const char *region; /* default phone region, e.g. "VN" */
    bool replace;       /* remove the list's current members first */
};

struct loa_phone_list_report {
    size_t rows;       /* data rows read (header and blank lines excluded) */
    size_t matched;    /* rows whose number belongs to at least one subscriber */
    size_t unmatched;  /* rows with a valid number no subscriber has */
    size_t invalid;    /* rows whose number did not parse (each one in diags) */
    size_t duplicates; /* rows repeating a number of an earlier row */
    int64_t added;     /* subscribers that became members */
    int64_t members;   /* members of the list afterwards */
    int64_t list_id;
    bool created; /* the list is new */
    bool written; /* the transaction was committed */
};

/**
 * Uploads a CRM phone list. Rows that do not parse are reported in diags (line, column
 * "phone", reason) and skipped; everything else is written in one transaction, so a store
 * failure leaves nothing behind. Returns 0 (also when some rows were invalid: see
 * report->invalid), LOA_EPARSE (not CSV, no header, no phone column), LOA_EINVAL (bad list
 * name), LOA_ENOENT (the file cannot be opened) or the store's error.
 */
int loa_import_phone_list(struct loa_store *st, const struct loa_phone_list_opts *opts,
                          struct loa_phone_list_report *report, struct loa_diags *diags);

#endif /* LOA_IMPORT_H */
