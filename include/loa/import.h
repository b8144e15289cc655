/* SPDX-License-Identifier: MIT */
/*
 * Subscriber import from CSV (libcsv), taking files as shops export them.
 *
 * The separator (',', ';' or tab) is read from the header line; a UTF-8 byte order mark is
 * skipped. The header row maps columns by name in English or Vietnamese, with or without
 * diacritics, in any case and spacing ("Số điện thoại", "SĐT", "So dien thoai", "phone"): the
 * table is loa_import_header() (src/import/columns.c, docs/import.md). A full-name column
 * ("Họ và tên") is split in Vietnamese order: the last word is the first (given) name, the
 * words before it the last name. Tags are separated by ',' or ';' inside the cell. Known
 * number columns ("Tổng chi tiêu" → total_spent) are read as people write amounts
 * ("12.853.000 ₫") and stored as plain numbers; any other column becomes a custom attribute
 * named as its header, except the read-only columns an export writes (id, first_seen_at,
 * last_interaction_at, last_interaction_kind, unreachable), which are ignored: only Messenger
 * events may move the messaging window. Every cell is checked as UTF-8 and normalised to NFC
 * (text typed with a decomposed input method matches). Phones are normalised to E.164 in the
 * default region. Every invalid row is reported with its line, column and reason.
 *
 * Atomicity: the whole file is one transaction. By default nothing is written when any row is
 * invalid; with skip_invalid the valid rows are written and the others reported; with dry_run
 * (the preview) every row is checked and applied in a transaction that is rolled back, so the
 * report says what an import would do and nothing is written. Importing the same file twice
 * changes nothing (rows match by PSID, else by phone).
 *
 * Threading: one call per store connection at a time; the report owns its columns
 * (loa_import_report_release()).
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

/* What a column means (loa_import_header()). */
enum loa_import_field {
    LOA_IMPORT_PSID,
    LOA_IMPORT_FIRST_NAME,
    LOA_IMPORT_LAST_NAME,
    LOA_IMPORT_FULL_NAME, /* split into first and last name in Vietnamese order */
    LOA_IMPORT_PHONE,
    LOA_IMPORT_EMAIL,
    LOA_IMPORT_GENDER,
    LOA_IMPORT_LOCALE,
    LOA_IMPORT_TAGS,
    LOA_IMPORT_IGNORED, /* read-only columns that `loa subscribers export` writes */
    LOA_IMPORT_ATTR,    /* a custom attribute, text */
    LOA_IMPORT_NUMBER,  /* a custom attribute that must read as a number */
};

/* One column of the file and where it goes. */
struct loa_import_column {
    char *header; /* as written in the file, trimmed */
    enum loa_import_field field;
    char *attr; /* LOA_IMPORT_ATTR and LOA_IMPORT_NUMBER: the attribute's name */
};

struct loa_import_opts {
    const char *path; /* CSV file; "-" reads standard input; NULL: data */
    const char *data; /* CSV text in memory (len bytes), used when path is NULL */
    size_t len;
    int64_t page_ref;   /* internal id of the Page the subscribers belong to */
    const char *list;   /* add every imported row to this list; NULL = none */
    const char *region; /* default phone region, e.g. "VN" */
    bool skip_invalid;  /* write valid rows even when some are invalid */
    bool dry_run;       /* preview: check and count everything, write nothing */
    /* Called every few thousand rows and once at the end; may be NULL. */
    void (*progress)(const struct loa_import_progress *p, void *ud);
    void *progress_ud;
};

struct loa_import_report {
    size_t rows;                       /* data rows read (header excluded) */
    size_t invalid;                    /* rows rejected */
    size_t inserted;                   /* new subscribers */
    size_t updated;                    /* existing subscribers changed */
    size_t unchanged;                  /* existing subscribers already as in the file */
    size_t tags_added;                 /* new subscriber-tag assignments */
    size_t listed;                     /* rows added to the list */
    bool written;                      /* the transaction was committed */
    char separator;                    /* ',', ';' or '\t', as detected */
    bool bom;                          /* the file started with a UTF-8 byte order mark */
    struct loa_import_column *columns; /* the header's mapping (owned) */
    size_t ncolumns;
};

/** Frees what a report owns (its columns); the report may be reused. */
void loa_import_report_release(struct loa_import_report *r);

/**
 * Imports opts->path into the store. Complaints (line, column name, reason) go to diags.
 * Returns 0 when every row was valid and written; LOA_EINVAL when some rows were invalid
 * (written only with skip_invalid: see report->written); LOA_EPARSE when the file is not CSV
 * or its header is unusable; LOA_ENOENT when the file cannot be opened; LOA_ESTORE.
 */
int loa_import_csv(struct loa_store *st, const struct loa_import_opts *opts,
                   struct loa_import_report *report, struct loa_diags *diags);

/**
 * What a header means: its field, and for an attribute with a canonical name ("Ngày sinh" →
 * "birthday", "Tổng chi tiêu" → "total_spent") that name in *attr_out (static), else NULL
 * (the attribute is named as the header). Compared without case, diacritics, or differences
 * of spacing, '_', '-', '.' and '/'.
 */
enum loa_import_field loa_import_header(const char *header, const char **attr_out);
/**
 * A field's name in previews and REST answers: "psid", "first_name", "last_name",
 * "full_name", "phone", "email", "gender", "locale", "tags", "ignored", "attribute" (text)
 * or "number" (an attribute read as a number).
 */
const char *loa_import_field_name(enum loa_import_field f);
/**
 * The separator of a CSV file from its first line (buf: the file's first bytes; quoted
 * text ignored): ';' or a tab when it occurs more often than ',', else ','.
 */
char loa_import_separator(const char *buf, size_t len);
/**
 * Splits a full name in Vietnamese order, in place: "Dương  Mỹ Yến" gives first "Yến" and
 * last "Dương Mỹ" (the family name first, then middle names); a single word is a first name.
 * Pointers go into full; NULL when empty.
 */
void loa_import_split_name(char *full, char **first_out, char **last_out);

/* ---- CRM phone lists (src/import/phone_list.c) ---------------------------------------- */

/**
 * A CRM list: a CSV (',', ';' or tab separated, read from the header line; a byte order mark
 * skipped) whose header names a phone column by any name loa_import_header() knows ("phone",
 * "Số điện thoại", "SĐT", "So dien thoai"...; other columns are ignored). Each number is
 * normalised in the default region and matched to the Page's subscribers by phone; the subscribers
 * matched become members of the named list (created when missing).
 */
struct loa_phone_list_opts {
    const char *path; /* CSV file ("-" = standard input); NULL when data is given */
    const char *data; /* CSV text in memory (len bytes), used when path is NULL */
    size_t len;
    int64_t page_ref;   /* internal id of the Page */
    const char *name;   /* list name, 1-64 characters */
    const char *region; /* default phone region, e.g. "VN" */
    bool replace;       /* remove the list's current members first */
    bool dry_run;       /* preview: count everything, write nothing */
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
    bool created;           /* the list is new (or would be, with dry_run) */
    bool written;           /* the transaction was committed */
    char separator;         /* ',', ';' or '\t', as detected */
    long phone_column;      /* 1-based column of the phone numbers; 0 when none */
    char phone_header[128]; /* its header, as written (cut to fit) */
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
