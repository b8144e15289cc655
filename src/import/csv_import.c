/* SPDX-License-Identifier: MIT */
/*
 * CSV import: libcsv streams fields and rows to the callbacks below; each data row is checked
 * and, while the import is still writing, upserted into the store inside one transaction.
 *
 * Line numbers: libcsv does not count lines, so the importer does, with CSV_REPALL_NL (every
 * line terminator reaches the row callback) plus the newlines inside quoted fields.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uthash.h>

#include <csv.h>
#include <jansson.h>

#include <loa/alloc.h>
#include <loa/buf.h>
#include <loa/clock.h>
#include <loa/err.h>
#include <loa/import.h>
#include <loa/phone.h>
#include <loa/store.h>
#include <loa/utf8.h>

#define MAX_FIELD_BYTES (64 * 1024)
#define MAX_NAME_CHARS  256
#define MAX_TAG_CHARS   64
#define MAX_ATTR_CHARS  1000
#define PROGRESS_EVERY  4096
#define READ_CHUNK      (256 * 1024)

enum col_kind {
    COL_PSID,
    COL_FIRST_NAME,
    COL_LAST_NAME,
    COL_PHONE,
    COL_EMAIL,
    COL_GENDER,
    COL_LOCALE,
    COL_TAGS,
    COL_IGNORED, /* read-only columns that `loa subscribers export` writes */
    COL_ATTR,
};

/* Columns an export writes that an import must not take from a file: interaction times
 * decide the messaging window and only Messenger events may set them. */
static const char *const ignored_columns[] = { "id", "first_seen_at", "last_interaction_at",
                                               "last_interaction_kind", "unreachable" };

static const char *const known_columns[] = {
    [COL_PSID] = "psid",           [COL_FIRST_NAME] = "first_name",
    [COL_LAST_NAME] = "last_name", [COL_PHONE] = "phone",
    [COL_EMAIL] = "email",         [COL_GENDER] = "gender",
    [COL_LOCALE] = "locale",       [COL_TAGS] = "tags",
};

struct column {
    enum col_kind kind;
    char *name; /* header text, trimmed */
};

struct tag_entry {
    char *name;
    int64_t id;
    UT_hash_handle hh;
};

struct importer {
    struct loa_txn *tx; /* the whole file is one transaction */
    const struct loa_import_opts *o;
    struct loa_import_report *rep;
    struct loa_diags *d;

    struct column *cols;
    size_t ncols;
    bool header_done;
    bool header_bad;

    struct loa_buf row; /* field bytes of the current row, each NUL-terminated */
    size_t *offs;       /* start of each field in row */
    size_t *lens;
    size_t nfields, capfields;
    bool field_too_big;

    long line;         /* line where the next row starts */
    long row_line;     /* line where the current row started */
    long row_newlines; /* newlines inside the current row's quoted fields */
    bool cr_pending;   /* the last terminator was '\r' (a '\n' may follow) */

    bool writing; /* rows are still being written */
    int store_rc;
    int64_t list_id;
    int64_t contacts; /* subscribers of the Page without a PSID */
    struct tag_entry *tags;
    uint64_t bytes_done, bytes_total;
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

static void on_field(void *data, size_t len, void *ud)
{
    struct importer *im = ud;
    if (im->nfields == 0 && im->row.len == 0)
        im->row_line = im->line;
    for (size_t i = 0; i < len; i++)
        im->row_newlines += ((const char *)data)[i] == '\n';
    if (im->nfields == im->capfields) {
        im->capfields = im->capfields ? im->capfields * 2 : 16;
        im->offs = loa_reallocarray(im->offs, im->capfields, sizeof(*im->offs));
        im->lens = loa_reallocarray(im->lens, im->capfields, sizeof(*im->lens));
    }
    if (len > MAX_FIELD_BYTES) {
        im->field_too_big = true;
        len = 0;
    }
    im->offs[im->nfields] = im->row.len;
    im->lens[im->nfields] = len;
    loa_buf_append(&im->row, data ? data : "", len);
    loa_buf_putc(&im->row, '\0');
    im->nfields++;
}

static char *field(struct importer *im, size_t i)
{
    return im->row.ptr + im->offs[i];
}

static void complain(struct importer *im, size_t col, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reports a problem of the current row; col is SIZE_MAX when it concerns the whole row. */
static void complain(struct importer *im, size_t col, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    const char *where = col < im->ncols ? im->cols[col].name : NULL;
    loa_diags_add(im->d, im->row_line, col < im->ncols ? (long)col + 1 : 0, where, "%s", msg);
}

static void read_header(struct importer *im)
{
    im->header_done = true;
    im->ncols = im->nfields;
    im->cols = loa_calloc(im->ncols, sizeof(*im->cols));
    bool has_identity = false;
    for (size_t i = 0; i < im->ncols; i++) {
        char *raw = field(im, i);
        if (i == 0 && strncmp(raw, "\xEF\xBB\xBF", 3) == 0)
            raw += 3; /* byte order mark written by spreadsheet programs */
        char *name = trim(raw);
        im->cols[i].name = loa_strdup(name);
        im->cols[i].kind = COL_ATTR;
        if (!loa_utf8_valid(name, strlen(name))) {
            loa_diags_add(im->d, im->row_line, (long)i + 1, NULL,
                          "column name is not UTF-8 (save the file as \"CSV UTF-8\")");
            im->header_bad = true;
            continue;
        }
        if (!*name) {
            loa_diags_add(im->d, im->row_line, (long)i + 1, NULL, "column %zu has no name", i + 1);
            im->header_bad = true;
            continue;
        }
        for (size_t k = 0; k < sizeof(known_columns) / sizeof(known_columns[0]); k++) {
            if (strcasecmp(name, known_columns[k]) == 0) {
                im->cols[i].kind = (enum col_kind)k;
                has_identity |= k == COL_PSID || k == COL_PHONE;
            }
        }
        for (size_t k = 0; k < sizeof(ignored_columns) / sizeof(ignored_columns[0]); k++)
            if (strcasecmp(name, ignored_columns[k]) == 0)
                im->cols[i].kind = COL_IGNORED;
        for (size_t j = 0; j < i; j++) {
            if (strcasecmp(im->cols[j].name, name) == 0) {
                loa_diags_add(im->d, im->row_line, (long)i + 1, name,
                              "column appears twice (also column %zu)", j + 1);
                im->header_bad = true;
            }
        }
    }
    if (!has_identity) {
        loa_diags_add(im->d, im->row_line, 0, NULL,
                      "the header needs a psid or a phone column to identify people");
        im->header_bad = true;
    }
}

static bool email_ok(const char *e)
{
    const char *at = strchr(e, '@');
    if (!at || at == e || strchr(at + 1, '@') || strlen(e) > 254)
        return false;
    const char *dot = strrchr(at, '.');
    if (!dot || dot == at + 1 || !dot[1])
        return false;
    for (const char *p = e; *p; p++)
        if (isspace((unsigned char)*p) || *p == ',' || *p == ';')
            return false;
    return true;
}

/* Maps what people write for gender (English and Vietnamese) to "male"/"female". */
static const char *gender_of(const char *g)
{
    static const char *const male[] = { "male", "m", "nam", "man", "trai" };
    static const char *const female[] = { "female", "f", "nữ", "nu", "woman", "gái", "gai" };
    for (size_t i = 0; i < sizeof(male) / sizeof(male[0]); i++)
        if (strcasecmp(g, male[i]) == 0)
            return "male";
    for (size_t i = 0; i < sizeof(female) / sizeof(female[0]); i++)
        if (strcasecmp(g, female[i]) == 0 || strcmp(g, "Nữ") == 0)
            return "female";
    return NULL;
}

static bool psid_ok(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || n > 32)
        return false;
    for (; *p; p++)
        if (!isdigit((unsigned char)*p))
            return false;
    return true;
}

static int tag_id(struct importer *im, const char *name, int64_t *id)
{
    struct tag_entry *e;
    HASH_FIND_STR(im->tags, name, e);
    if (e) {
        *id = e->id;
        return 0;
    }
    int rc = loa_store_tag_ensure(im->tx, im->o->page_ref, name, id);
    if (rc < 0)
        return rc;
    e = loa_malloc(sizeof(*e));
    e->name = loa_strdup(name);
    e->id = *id;
    HASH_ADD_KEYPTR(hh, im->tags, e->name, strlen(e->name), e);
    return 0;
}

/* Splits a tags cell on ',' and ';' in place; calls back with each trimmed, non-empty tag. */
static int each_tag(struct importer *im, char *cell, size_t col, bool check, int64_t sub_id)
{
    char *save = NULL;
    for (char *t = strtok_r(cell, ",;", &save); t; t = strtok_r(NULL, ",;", &save)) {
        t = trim(t);
        if (!*t)
            continue;
        if (check) {
            if (loa_utf8_count(t, strlen(t)) > MAX_TAG_CHARS) {
                complain(im, col, "tag '%s' is longer than 64 characters", t);
                return LOA_EINVAL;
            }
            continue;
        }
        int64_t id;
        bool added = false;
        int rc = tag_id(im, t, &id);
        if (rc == 0)
            rc = loa_store_tag_add(im->tx, sub_id, id, &added);
        if (rc < 0)
            return rc;
        im->rep->tags_added += added;
    }
    return 0;
}

static void process_row(struct importer *im)
{
    struct loa_import_report *rep = im->rep;
    rep->rows++;
    if (im->field_too_big) {
        complain(im, SIZE_MAX, "a field is larger than 64 KiB");
        goto invalid;
    }
    if (im->nfields != im->ncols) {
        complain(im, SIZE_MAX, "expected %zu fields as in the header, found %zu", im->ncols,
                 im->nfields);
        goto invalid;
    }

    struct loa_subscriber s = { 0 };
    s.page_ref = im->o->page_ref;
    s.utc_offset_min = LOA_UTC_OFFSET_UNKNOWN;
    char phone[LOA_PHONE_MAX], gender[8];
    json_t *attrs = NULL;
    size_t tags_col = SIZE_MAX;
    bool bad = false;
    for (size_t i = 0; i < im->ncols; i++) {
        char *v = field(im, i);
        size_t len = im->lens[i];
        if (!loa_utf8_valid(v, len)) {
            complain(im, i, "not valid UTF-8 (save the file as \"CSV UTF-8\")");
            bad = true;
            continue;
        }
        v = trim(v);
        if (!*v)
            continue;
        const char *reason = NULL;
        switch (im->cols[i].kind) {
        case COL_PSID:
            if (!psid_ok(v)) {
                complain(im, i, "'%s' is not a PSID (digits only, at most 32)", v);
                bad = true;
            }
            s.psid = v;
            break;
        case COL_FIRST_NAME:
        case COL_LAST_NAME:
            if (loa_utf8_count(v, strlen(v)) > MAX_NAME_CHARS) {
                complain(im, i, "longer than 256 characters");
                bad = true;
            }
            *(im->cols[i].kind == COL_FIRST_NAME ? &s.first_name : &s.last_name) = v;
            break;
        case COL_PHONE:
            if (loa_phone_normalize(v, im->o->region, phone, &reason) < 0) {
                complain(im, i, "'%.40s' is not a phone number: %s", v, reason);
                bad = true;
            } else {
                s.phone = phone;
            }
            break;
        case COL_EMAIL:
            if (!email_ok(v)) {
                complain(im, i, "'%s' is not an email address", v);
                bad = true;
            }
            s.email = v;
            break;
        case COL_GENDER:
            if (gender_of(v)) {
                snprintf(gender, sizeof(gender), "%s", gender_of(v));
                s.gender = gender;
            } else {
                complain(im, i, "'%s' is not a gender (male/female, nam/nữ)", v);
                bad = true;
            }
            break;
        case COL_LOCALE:
            s.locale = v;
            break;
        case COL_TAGS: {
            tags_col = i;
            char *copy = loa_strdup(v); /* strtok_r writes into what it splits */
            if (each_tag(im, copy, i, true, 0) < 0)
                bad = true;
            loa_free(copy);
            break;
        }
        case COL_IGNORED:
            break;
        case COL_ATTR:
            if (loa_utf8_count(v, strlen(v)) > MAX_ATTR_CHARS) {
                complain(im, i, "longer than 1000 characters");
                bad = true;
                break;
            }
            if (!attrs)
                attrs = json_object();
            json_object_set_new(attrs, im->cols[i].name, json_string(v));
            break;
        }
    }
    if (!bad && !s.psid && !s.phone) {
        complain(im, SIZE_MAX, "row has neither a psid nor a phone");
        bad = true;
    }
    if (bad) {
        json_decref(attrs);
        goto invalid;
    }
    if (!im->writing) {
        json_decref(attrs);
        return;
    }
    char *attrs_text = attrs ? json_dumps(attrs, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(attrs);
    s.attrs = attrs_text;
    enum loa_upsert_result res;
    int64_t id;
    unsigned flags = im->contacts == 0 ? LOA_UPSERT_NO_CONTACTS : 0;
    int rc = loa_store_subscriber_upsert(im->tx, &s, flags, loa_now_ms(), &res, &id);
    if (rc == 0 && !s.psid && res == LOA_UPSERT_INSERTED)
        im->contacts++;
    free(attrs_text); /* from jansson's malloc */
    if (rc == 0) {
        rep->inserted += res == LOA_UPSERT_INSERTED;
        rep->updated += res == LOA_UPSERT_UPDATED;
        rep->unchanged += res == LOA_UPSERT_UNCHANGED;
        if (tags_col != SIZE_MAX)
            rc = each_tag(im, field(im, tags_col), tags_col, false, id);
    }
    if (rc == 0 && im->list_id) {
        rc = loa_store_list_add(im->tx, im->list_id, id);
        rep->listed += rc == 0;
    }
    if (rc < 0) {
        im->store_rc = rc;
        im->writing = false;
    }
    return;
invalid:
    rep->invalid++;
    if (!im->o->skip_invalid)
        im->writing = false;
}

static void on_row(int c, void *ud)
{
    struct importer *im = ud;
    if (im->nfields == 0) {
        /* An empty line, or the '\n' of a "\r\n" that already ended a row. */
        if (c == '\n' && im->cr_pending)
            im->cr_pending = false;
        else if (c != -1) {
            im->line++;
            im->cr_pending = c == '\r';
        }
        return;
    }
    bool blank = true;
    for (size_t i = 0; i < im->nfields && blank; i++)
        blank = im->lens[i] == 0;
    if (!im->header_done)
        read_header(im);
    else if (!blank && !im->header_bad)
        process_row(im);
    im->line = im->row_line + im->row_newlines + (c != -1);
    im->cr_pending = c == '\r';
    im->row_newlines = 0;
    im->nfields = 0;
    im->field_too_big = false;
    loa_buf_reset(&im->row);
    if (im->o->progress && im->rep->rows % PROGRESS_EVERY == 0 && im->rep->rows) {
        struct loa_import_progress p = { im->bytes_done, im->bytes_total, im->rep->rows };
        im->o->progress(&p, im->o->progress_ud);
    }
}

static void importer_release(struct importer *im)
{
    for (size_t i = 0; i < im->ncols; i++)
        loa_free(im->cols[i].name);
    loa_free(im->cols);
    loa_free(im->offs);
    loa_free(im->lens);
    loa_buf_release(&im->row);
    struct tag_entry *e, *tmp;
    HASH_ITER(hh, im->tags, e, tmp)
    {
        HASH_DEL(im->tags, e);
        loa_free(e->name);
        loa_free(e);
    }
}

int loa_import_csv(struct loa_store *st, const struct loa_import_opts *opts,
                   struct loa_import_report *report, struct loa_diags *diags)
{
    memset(report, 0, sizeof(*report));
    bool is_stdin = strcmp(opts->path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(opts->path, "rb");
    if (!f) {
        loa_diags_add(diags, 0, 0, opts->path, "cannot open: %s", strerror(errno));
        return LOA_ENOENT;
    }
    struct importer im = { .o = opts, .rep = report, .d = diags, .line = 1, .writing = true };
    loa_buf_init(&im.row, 64 * MAX_FIELD_BYTES);
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode))
        im.bytes_total = (uint64_t)sb.st_size;

    struct csv_parser p;
    int rc = 0;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_REPALL_NL) != 0) {
        rc = LOA_ENOMEM;
        goto out_close;
    }
    rc = loa_store_begin(st, &im.tx);
    if (rc < 0)
        goto out_csv;
    if (rc == 0)
        rc = loa_store_contacts_count(st, opts->page_ref, &im.contacts);
    if (rc == 0 && opts->list)
        rc = loa_store_list_ensure(im.tx, opts->page_ref, opts->list, loa_now_ms(), &im.list_id);

    char *chunk = loa_malloc(READ_CHUNK);
    size_t n;
    while (rc == 0 && (n = fread(chunk, 1, READ_CHUNK, f)) > 0) {
        im.bytes_done += n;
        if (csv_parse(&p, chunk, n, on_field, on_row, &im) != n) {
            loa_diags_add(diags, im.line, 0, NULL, "malformed CSV: %s",
                          csv_strerror(csv_error(&p)));
            rc = LOA_EPARSE;
        }
    }
    loa_free(chunk);
    if (rc == 0 && ferror(f)) {
        loa_diags_add(diags, 0, 0, opts->path, "read error: %s", strerror(errno));
        rc = LOA_EIO;
    }
    if (rc == 0 && csv_fini(&p, on_field, on_row, &im) != 0) {
        loa_diags_add(diags, im.line, 0, NULL, "malformed CSV: %s", csv_strerror(csv_error(&p)));
        rc = LOA_EPARSE;
    }
    if (rc == 0 && !im.header_done) {
        loa_diags_add(diags, 1, 0, NULL, "the file is empty: a header row is needed");
        rc = LOA_EPARSE;
    }
    if (rc == 0 && im.header_bad)
        rc = LOA_EPARSE;
    if (rc == 0 && im.store_rc < 0)
        rc = im.store_rc;
    if (rc == 0 && report->invalid && !opts->skip_invalid) {
        rc = LOA_EINVAL;
    }
    if (rc == 0 || (rc == LOA_EINVAL && opts->skip_invalid)) {
        int crc = loa_store_commit(im.tx);
        report->written = crc == 0;
        if (crc < 0)
            rc = crc;
    } else {
        loa_store_rollback(im.tx);
        report->inserted = report->updated = report->unchanged = 0;
        report->tags_added = report->listed = 0;
    }
    if (rc == 0 && report->invalid)
        rc = LOA_EINVAL; /* skip_invalid: written, but not everything */
    if (opts->progress) {
        struct loa_import_progress pr = { im.bytes_done, im.bytes_total, report->rows };
        opts->progress(&pr, opts->progress_ud);
    }
out_csv:
    csv_free(&p);
out_close:
    importer_release(&im);
    if (!is_stdin)
        fclose(f);
    return rc;
}
