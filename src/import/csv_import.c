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
#include <math.h>
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
#include <loa/text.h>
#include <loa/utf8.h>

#define MAX_FIELD_BYTES (64 * 1024)
#define MAX_NAME_CHARS  256
#define MAX_TAG_CHARS   64
#define MAX_ATTR_CHARS  1000
#define PROGRESS_EVERY  4096
#define READ_CHUNK      (256 * 1024)

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

    struct loa_import_column *cols; /* the report's columns */
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
    /* Text typed with a decomposed input method ("n" + "ư" + U+0303) becomes NFC here, so
     * every cell (names, tags, attributes) is stored in one form. ASCII is NFC already. */
    char *nfc = NULL;
    for (size_t i = 0; i < len && !nfc; i++)
        if (((const unsigned char *)data)[i] >= 0x80)
            nfc = loa_text_nfc(data, len);
    if (nfc) {
        data = nfc;
        len = strlen(nfc);
    }
    im->offs[im->nfields] = im->row.len;
    im->lens[im->nfields] = len;
    loa_buf_append(&im->row, data ? data : "", len);
    loa_buf_putc(&im->row, '\0');
    loa_free(nfc);
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
    const char *where = col < im->ncols ? im->cols[col].header : NULL;
    loa_diags_add(im->d, im->row_line, col < im->ncols ? (long)col + 1 : 0, where, "%s", msg);
}

static void read_header(struct importer *im)
{
    im->header_done = true;
    im->ncols = im->nfields;
    im->cols = loa_calloc(im->ncols, sizeof(*im->cols));
    im->rep->columns = im->cols;
    im->rep->ncolumns = im->ncols;
    bool has_identity = false, has_last = false;
    for (size_t i = 0; i < im->ncols; i++) {
        char *name = trim(field(im, i));
        struct loa_import_column *c = &im->cols[i];
        c->header = loa_strdup(name);
        c->field = LOA_IMPORT_ATTR;
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
        const char *attr;
        c->field = loa_import_header(name, &attr);
        if (c->field == LOA_IMPORT_ATTR || c->field == LOA_IMPORT_NUMBER)
            c->attr = loa_strdup(attr ? attr : name);
        has_identity |= c->field == LOA_IMPORT_PSID || c->field == LOA_IMPORT_PHONE;
        has_last |= c->field == LOA_IMPORT_LAST_NAME;
    }
    for (size_t i = 0; i < im->ncols; i++) {
        struct loa_import_column *c = &im->cols[i];
        /* "Tên" beside a "Họ" column is the given name. */
        if (has_last && c->field == LOA_IMPORT_FULL_NAME) {
            char *key = loa_text_header_key(c->header);
            if (strcmp(key, "ten") == 0)
                c->field = LOA_IMPORT_FIRST_NAME;
            loa_free(key);
        }
    }
    for (size_t i = 0; i < im->ncols; i++) {
        const struct loa_import_column *c = &im->cols[i];
        if (c->field == LOA_IMPORT_IGNORED)
            continue;
        for (size_t j = 0; j < i; j++) {
            const struct loa_import_column *o = &im->cols[j];
            bool same = o->field == c->field &&
                        (c->field == LOA_IMPORT_ATTR || c->field == LOA_IMPORT_NUMBER
                             ? strcmp(o->attr ? o->attr : "", c->attr ? c->attr : "") == 0
                             : true);
            if (!same)
                continue;
            if (strcasecmp(o->header, c->header) == 0)
                loa_diags_add(im->d, im->row_line, (long)i + 1, c->header,
                              "column appears twice (also column %zu)", j + 1);
            else
                loa_diags_add(im->d, im->row_line, (long)i + 1, c->header,
                              "means %s%s%s%s, like column %zu '%s': keep one of them",
                              loa_import_field_name(c->field), c->attr ? " '" : "",
                              c->attr ? c->attr : "", c->attr ? "'" : "", j + 1, o->header);
            im->header_bad = true;
            break;
        }
    }
    if (!has_identity) {
        loa_diags_add(im->d, im->row_line, 0, NULL,
                      "the header needs a psid or a phone column to identify people (phone: "
                      "\"phone\", \"Số điện thoại\", \"SĐT\", \"Điện thoại\"...)");
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

/*
 * Maps what people write for gender (English and Vietnamese, any case, with or without
 * diacritics) to "male"/"female"; *known_out is false for a value that says "unknown" or
 * "other" ("Khác"), which leaves the gender unset. NULL when the value means nothing.
 */
static const char *gender_of(const char *g, bool *known_out)
{
    static const char *const male[] = { "male", "m", "nam", "man", "trai", "anh" };
    static const char *const female[] = { "female", "f", "nu", "woman", "gai", "chi" };
    static const char *const unknown[] = { "other",    "unknown",        "khac",
                                           "khong ro", "khong xac dinh", "chua ro" };
    char *key = loa_text_header_key(g);
    const char *r = NULL;
    *known_out = true;
    for (size_t i = 0; !r && i < sizeof(male) / sizeof(male[0]); i++)
        if (strcmp(key, male[i]) == 0)
            r = "male";
    for (size_t i = 0; !r && i < sizeof(female) / sizeof(female[0]); i++)
        if (strcmp(key, female[i]) == 0)
            r = "female";
    for (size_t i = 0; !r && i < sizeof(unknown) / sizeof(unknown[0]); i++)
        if (strcmp(key, unknown[i]) == 0 || (!*key && *g == '-')) {
            *known_out = false;
            r = "";
        }
    loa_free(key);
    return r;
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
    char *full_name = NULL;
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
        size_t vl = strlen(v);
        if (vl >= 3 && v[0] == '=' && v[1] == '"' && v[vl - 1] == '"') {
            v[vl - 1] = '\0'; /* ="0912345678": text kept as text by Excel (export --excel) */
            v = trim(v + 2);
        }
        if (!*v)
            continue;
        const char *reason = NULL;
        switch (im->cols[i].field) {
        case LOA_IMPORT_PSID:
            if (!psid_ok(v)) {
                complain(im, i, "'%s' is not a PSID (digits only, at most 32)", v);
                bad = true;
            }
            s.psid = v;
            break;
        case LOA_IMPORT_FIRST_NAME:
        case LOA_IMPORT_LAST_NAME:
        case LOA_IMPORT_FULL_NAME:
            if (loa_utf8_count(v, strlen(v)) > MAX_NAME_CHARS) {
                complain(im, i, "longer than 256 characters");
                bad = true;
            }
            if (im->cols[i].field == LOA_IMPORT_FULL_NAME)
                full_name = v;
            else
                *(im->cols[i].field == LOA_IMPORT_FIRST_NAME ? &s.first_name : &s.last_name) = v;
            break;
        case LOA_IMPORT_PHONE:
            if (loa_phone_normalize(v, im->o->region, phone, &reason) < 0) {
                complain(im, i, "'%.40s' is not a phone number: %s", v, reason);
                bad = true;
            } else {
                s.phone = phone;
            }
            break;
        case LOA_IMPORT_EMAIL:
            if (!email_ok(v)) {
                complain(im, i, "'%s' is not an email address", v);
                bad = true;
            }
            s.email = v;
            break;
        case LOA_IMPORT_GENDER: {
            bool known;
            const char *g = gender_of(v, &known);
            if (g && known) {
                snprintf(gender, sizeof(gender), "%s", g);
                s.gender = gender;
            } else if (!g) {
                complain(im, i, "'%s' is not a gender (male/female, nam/nữ, or khác/other)", v);
                bad = true;
            }
            break;
        }
        case LOA_IMPORT_LOCALE:
            s.locale = v;
            break;
        case LOA_IMPORT_TAGS: {
            tags_col = i;
            char *copy = loa_strdup(v); /* strtok_r writes into what it splits */
            if (each_tag(im, copy, i, true, 0) < 0)
                bad = true;
            loa_free(copy);
            break;
        }
        case LOA_IMPORT_IGNORED:
            break;
        case LOA_IMPORT_NUMBER: {
            double d;
            if (!loa_text_number(v, &d)) {
                complain(im, i,
                         "'%.40s' is not a number (write amounts as 12853000, "
                         "12.853.000 or 12.853.000 ₫)",
                         v);
                bad = true;
                break;
            }
            char num[64];
            /* Whole amounts as digits ("12853000"), others with a '.' decimal point. */
            if (fabs(d) < 1e15 && fabs(d - trunc(d)) < 1e-9)
                snprintf(num, sizeof(num), "%lld", (long long)d);
            else
                snprintf(num, sizeof(num), "%.15g", d);
            if (!attrs)
                attrs = json_object();
            json_object_set_new(attrs, im->cols[i].attr, json_string(num));
            break;
        }
        case LOA_IMPORT_ATTR:
            if (loa_utf8_count(v, strlen(v)) > MAX_ATTR_CHARS) {
                complain(im, i, "longer than 1000 characters");
                bad = true;
                break;
            }
            if (!attrs)
                attrs = json_object();
            json_object_set_new(attrs, im->cols[i].attr, json_string(v));
            break;
        }
    }
    if (full_name) { /* first_name / last_name columns, when there are, win */
        char *first, *last;
        loa_import_split_name(full_name, &first, &last);
        if (!s.first_name)
            s.first_name = first;
        if (!s.last_name)
            s.last_name = last;
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
    if (!im->o->skip_invalid && !im->o->dry_run)
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

void loa_import_report_release(struct loa_import_report *r)
{
    for (size_t i = 0; i < r->ncolumns; i++) {
        loa_free(r->columns[i].header);
        loa_free(r->columns[i].attr);
    }
    loa_free(r->columns);
    r->columns = NULL;
    r->ncolumns = 0;
}

static void importer_release(struct importer *im)
{
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
    bool is_stdin = opts->path && strcmp(opts->path, "-") == 0;
    FILE *f;
    if (!opts->path) /* the text in memory (a REST body) */
        f = opts->len ? fmemopen((void *)(uintptr_t)opts->data, opts->len, "rb") : NULL;
    else
        f = is_stdin ? stdin : fopen(opts->path, "rb");
    if (!f && !opts->path) {
        loa_diags_add(diags, 1, 0, NULL, "the file is empty: a header row is needed");
        return LOA_EPARSE;
    }
    if (!f) {
        loa_diags_add(diags, 0, 0, opts->path, "cannot open: %s", strerror(errno));
        return LOA_ENOENT;
    }
    report->separator = ',';
    struct importer im = { .o = opts, .rep = report, .d = diags, .line = 1, .writing = true };
    loa_buf_init(&im.row, 64 * MAX_FIELD_BYTES);
    struct stat sb;
    if (!opts->path)
        im.bytes_total = opts->len;
    else if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode))
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
    bool first = true;
    while (rc == 0 && (n = fread(chunk, 1, READ_CHUNK, f)) > 0) {
        im.bytes_done += n;
        const char *data = chunk;
        if (first) {
            /* The separator is read from the header line; a byte order mark is skipped (in
             * front of a quoted header it would make the quote a stray one). */
            first = false;
            report->separator = loa_import_separator(chunk, n);
            csv_set_delim(&p, (unsigned char)report->separator);
            if (n >= 3 && memcmp(chunk, "\xEF\xBB\xBF", 3) == 0) {
                report->bom = true;
                data += 3;
                n -= 3;
            }
        }
        if (csv_parse(&p, data, n, on_field, on_row, &im) != n) {
            loa_diags_add(diags, im.line, 0, NULL, "malformed CSV: %s",
                          csv_strerror(csv_error(&p)));
            rc = LOA_EPARSE;
        }
    }
    loa_free(chunk);
    if (rc == 0 && ferror(f)) {
        loa_diags_add(diags, 0, 0, opts->path ? opts->path : "body", "read error: %s",
                      strerror(errno));
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
    if (rc == 0 && report->invalid && !opts->skip_invalid && !opts->dry_run) {
        rc = LOA_EINVAL;
    }
    if (opts->dry_run && (rc == 0 || rc == LOA_EINVAL)) {
        /* The preview: the counts are those of an import with skip_invalid. */
        loa_store_rollback(im.tx);
    } else if (rc == 0 || (rc == LOA_EINVAL && opts->skip_invalid)) {
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
        rc = LOA_EINVAL; /* skip_invalid: written, but not everything; dry_run: would not be */
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
