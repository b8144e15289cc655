/* SPDX-License-Identifier: MIT */
/*
 * CRM phone lists: a CSV of phone numbers becomes an imported list of the Page's subscribers.
 *
 * The file is read whole first (libcsv streams fields and rows to the callbacks below): each
 * row's number is normalised, bad rows are reported with their line, and repeated numbers are
 * counted once. Only then is the store touched, in one transaction: find or create the list,
 * optionally empty it, add the subscribers of every number. A store failure rolls it all
 * back, so an upload is written entirely or not at all.
 *
 * Line numbers are counted as in csv_import.c: CSV_REPALL_NL hands every line terminator to
 * the row callback, plus the newlines inside quoted fields.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <uthash.h>

#include <csv.h>

#include <loa/alloc.h>
#include <loa/buf.h>
#include <loa/clock.h>
#include <loa/err.h>
#include <loa/import.h>
#include <loa/phone.h>
#include <loa/store.h>
#include <loa/utf8.h>

#define MAX_FIELD_BYTES 4096
#define READ_CHUNK      (256 * 1024)
#define MAX_NAME_CHARS  64

struct seen {
    char phone[LOA_PHONE_MAX];
    UT_hash_handle hh;
};

struct reader {
    const struct loa_phone_list_opts *o;
    struct loa_phone_list_report *rep;
    struct loa_diags *d;

    bool header_done;
    bool header_bad;
    size_t phone_col;

    struct loa_buf field; /* the phone field of the current row */
    bool field_set;
    bool field_too_big;
    size_t nfields;
    bool row_blank;

    long line, row_line, row_newlines;
    bool cr_pending;

    char **phones; /* distinct valid numbers, in file order */
    size_t nphones, cap;
    struct seen *seen;
};

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* A phone column by any name the import knows ("phone", "Số điện thoại", "SĐT"...). */
static bool is_phone_header(const char *name)
{
    const char *attr;
    return loa_import_header(name, &attr) == LOA_IMPORT_PHONE;
}

static void on_field(void *data, size_t len, void *ud)
{
    struct reader *r = ud;
    if (r->nfields == 0)
        r->row_line = r->line;
    for (size_t i = 0; i < len; i++)
        r->row_newlines += ((const char *)data)[i] == '\n';
    if (len)
        r->row_blank = false;
    if (!r->header_done) {
        /* The header: find the phone column. */
        char name[256];
        size_t n = len < sizeof(name) - 1 ? len : sizeof(name) - 1;
        memcpy(name, data ? data : "", n);
        name[n] = '\0';
        char *t = trim(name); /* a byte order mark went in feed() */
        if (is_phone_header(t) && r->phone_col == SIZE_MAX) {
            r->phone_col = r->nfields;
            r->rep->phone_column = (long)r->nfields + 1;
            snprintf(r->rep->phone_header, sizeof(r->rep->phone_header), "%s", t);
        }
    } else if (r->nfields == r->phone_col) {
        r->field_set = true;
        if (len > MAX_FIELD_BYTES)
            r->field_too_big = true;
        else
            loa_buf_append(&r->field, data ? data : "", len);
    }
    r->nfields++;
}

static void process_row(struct reader *r)
{
    r->rep->rows++;
    char buf[MAX_FIELD_BYTES + 1];
    size_t len = r->field.len <= MAX_FIELD_BYTES ? r->field.len : MAX_FIELD_BYTES;
    memcpy(buf, r->field.ptr ? r->field.ptr : "", len);
    buf[len] = '\0';
    char *raw = buf;
    const char *reason = NULL;
    char e164[LOA_PHONE_MAX];
    if (!r->field_set)
        reason = "the row has no phone column";
    else if (r->field_too_big)
        reason = "too long";
    else if (!loa_utf8_valid(raw, len))
        reason = "not UTF-8";
    else if (!*trim(raw))
        reason = "no phone number";
    else if (loa_phone_normalize(trim(raw), r->o->region, e164, &reason) < 0 && !reason)
        reason = "not a phone number";
    if (reason) {
        r->rep->invalid++;
        loa_diags_add(r->d, r->row_line, (long)r->phone_col + 1, "phone", "%s", reason);
        return;
    }
    struct seen *s;
    HASH_FIND_STR(r->seen, e164, s);
    if (s) {
        r->rep->duplicates++;
        return;
    }
    s = loa_calloc(1, sizeof(*s));
    memcpy(s->phone, e164, sizeof(e164));
    HASH_ADD_STR(r->seen, phone, s);
    if (r->nphones == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 256;
        r->phones = loa_reallocarray(r->phones, r->cap, sizeof(*r->phones));
    }
    r->phones[r->nphones++] = s->phone;
}

static void on_row(int c, void *ud)
{
    struct reader *r = ud;
    if (r->nfields == 0) {
        /* An empty line, or the '\n' of a "\r\n" that already ended a row. */
        if (c == '\n' && r->cr_pending)
            r->cr_pending = false;
        else if (c != -1) {
            r->line++;
            r->cr_pending = c == '\r';
        }
        return;
    }
    if (!r->header_done) {
        r->header_done = true;
        if (r->phone_col == SIZE_MAX) {
            loa_diags_add(r->d, r->row_line, 0, NULL,
                          "the first row must be a header with a phone column (phone, "
                          "phone_number, mobile, sdt or \"số điện thoại\")");
            r->header_bad = true;
        }
    } else if (!r->row_blank && !r->header_bad) {
        process_row(r);
    }
    r->line = r->row_line + r->row_newlines + (c != -1);
    r->cr_pending = c == '\r';
    r->row_newlines = 0;
    r->nfields = 0;
    r->row_blank = true;
    r->field_set = false;
    r->field_too_big = false;
    loa_buf_reset(&r->field);
}

static void reader_release(struct reader *r)
{
    struct seen *s, *tmp;
    HASH_ITER(hh, r->seen, s, tmp)
    {
        HASH_DEL(r->seen, s);
        loa_free(s);
    }
    loa_free(r->phones);
    loa_buf_release(&r->field);
}

static bool list_name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || !loa_utf8_valid(s, n) || loa_utf8_count(s, n) > MAX_NAME_CHARS)
        return false;
    for (const char *c = s; *c; c++)
        if ((unsigned char)*c < 0x20)
            return false;
    return true;
}

/*
 * Feeds one chunk to libcsv; the first one sets the separator read from the header line (',',
 * ';' or a tab) and loses its byte order mark. Returns 0 or LOA_EPARSE.
 */
static int feed(struct reader *r, struct csv_parser *p, const char *data, size_t n, bool first)
{
    if (first) {
        r->rep->separator = loa_import_separator(data, n);
        csv_set_delim(p, (unsigned char)r->rep->separator);
        if (n >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
            data += 3;
            n -= 3;
        }
    }
    if (n && csv_parse(p, data, n, on_field, on_row, r) != n) {
        loa_diags_add(r->d, r->line, 0, NULL, "malformed CSV: %s", csv_strerror(csv_error(p)));
        return LOA_EPARSE;
    }
    return 0;
}

/* Feeds the whole input to libcsv. Returns 0, LOA_EPARSE, LOA_ENOENT or LOA_EIO. */
static int read_all(struct reader *r, struct csv_parser *p)
{
    const struct loa_phone_list_opts *o = r->o;
    if (!o->path)
        return o->len ? feed(r, p, o->data, o->len, true) : 0;
    bool is_stdin = strcmp(o->path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(o->path, "rb");
    if (!f) {
        loa_diags_add(r->d, 0, 0, o->path, "cannot open: %s", strerror(errno));
        return LOA_ENOENT;
    }
    int rc = 0;
    char *chunk = loa_malloc(READ_CHUNK);
    size_t n;
    bool first = true;
    while (rc == 0 && (n = fread(chunk, 1, READ_CHUNK, f)) > 0) {
        rc = feed(r, p, chunk, n, first);
        first = false;
    }
    if (rc == 0 && ferror(f)) {
        loa_diags_add(r->d, 0, 0, o->path, "read error: %s", strerror(errno));
        rc = LOA_EIO;
    }
    loa_free(chunk);
    if (!is_stdin)
        fclose(f);
    return rc;
}

static int write_list(struct loa_store *st, struct reader *r)
{
    const struct loa_phone_list_opts *o = r->o;
    struct loa_phone_list_report *rep = r->rep;
    int64_t *matched = NULL;
    struct loa_txn *tx;
    int rc = loa_store_begin(st, &tx);
    if (rc < 0)
        return rc;
    rc = loa_store_list_find(st, o->page_ref, o->name, &rep->list_id);
    if (rc == LOA_ENOENT) {
        rep->created = true;
        rc = loa_store_list_ensure(tx, o->page_ref, o->name, loa_now_ms(), &rep->list_id);
    }
    if (rc == 0 && o->replace && !rep->created)
        rc = loa_store_list_clear(tx, rep->list_id);
    if (rc == 0 && r->nphones) {
        matched = loa_calloc(r->nphones, sizeof(*matched));
        rc =
            loa_store_list_add_phones(tx, rep->list_id, o->page_ref, (const char *const *)r->phones,
                                      r->nphones, matched, &rep->added);
    }
    if (rc == 0) {
        for (size_t i = 0; i < r->nphones; i++) {
            rep->matched += matched[i] > 0;
            rep->unmatched += matched[i] == 0;
        }
        rc = loa_store_list_count(st, rep->list_id, &rep->members);
    }
    loa_free(matched);
    if (o->dry_run && rc == 0) {
        loa_store_rollback(tx); /* the preview: counted, not written */
        if (rep->created)
            rep->list_id = 0;
        return 0;
    }
    rc = loa_store_end(tx, rc);
    if (rc == 0) {
        rep->written = true;
    } else {
        rep->matched = rep->unmatched = 0;
        rep->added = rep->members = rep->list_id = 0;
        rep->created = false;
    }
    return rc;
}

int loa_import_phone_list(struct loa_store *st, const struct loa_phone_list_opts *opts,
                          struct loa_phone_list_report *report, struct loa_diags *diags)
{
    memset(report, 0, sizeof(*report));
    report->separator = ',';
    if (!list_name_ok(opts->name)) {
        loa_diags_add(diags, 0, 0, "name", "list names are 1-%d characters", MAX_NAME_CHARS);
        return LOA_EINVAL;
    }
    struct reader r = {
        .o = opts, .rep = report, .d = diags, .phone_col = SIZE_MAX, .line = 1, .row_blank = true
    };
    loa_buf_init(&r.field, MAX_FIELD_BYTES + 1);
    struct csv_parser p;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_REPALL_NL) != 0) {
        reader_release(&r);
        return LOA_ENOMEM;
    }
    int rc = read_all(&r, &p);
    if (rc == 0 && csv_fini(&p, on_field, on_row, &r) != 0) {
        loa_diags_add(diags, r.line, 0, NULL, "malformed CSV: %s", csv_strerror(csv_error(&p)));
        rc = LOA_EPARSE;
    }
    if (rc == 0 && !r.header_done) {
        loa_diags_add(diags, 1, 0, NULL,
                      "the file is empty: a header row with a phone column "
                      "is needed");
        rc = LOA_EPARSE;
    }
    if (rc == 0 && r.header_bad)
        rc = LOA_EPARSE;
    if (rc == 0)
        rc = write_list(st, &r);
    csv_free(&p);
    reader_release(&r);
    return rc;
}
