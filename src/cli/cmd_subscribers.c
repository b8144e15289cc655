/* SPDX-License-Identifier: MIT */
/* loa subscribers import|export|list|generate. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <csv.h>
#include <jansson.h>

#include <loa/alloc.h>
#include <loa/clock.h>
#include <loa/config.h>
#include <loa/err.h>
#include <loa/import.h>
#include <loa/phone.h>
#include <loa/store.h>

#include "common.h"
#include "sample.h"

static const char subs_help[] =
    "usage: loa subscribers import FILE.csv --page PAGE_ID [--list NAME] [--skip-invalid]\n"
    "                              [--dry-run]\n"
    "       loa subscribers export --page PAGE_ID [--tag TAG] [--output FILE] [--excel]\n"
    "       loa subscribers list [--page PAGE_ID] [--tag TAG] [--limit N] [--after ID]\n"
    "       loa subscribers generate N [--seed S] [--invalid-percent P] [--output FILE]\n\n"
    "import   reads a CSV as shops export it: ',' ';' or tab separated (read from the header\n"
    "         line), with or without a byte order mark. Header names in English or\n"
    "         Vietnamese, with or without diacritics, any case: psid, phone (Số điện thoại,\n"
    "         SĐT, Điện thoại), first_name, last_name (Họ), a full name (Họ và tên, Họ tên,\n"
    "         Tên: split as family name first, given name last), email, gender (Giới tính:\n"
    "         Nam/Nữ/male/female), locale, tags (Nhãn, Thẻ; ',' or ';' separated), number\n"
    "         columns (Tổng chi tiêu → total_spent, Số đơn → orders: 12.853.000 ₫ reads as\n"
    "         12853000); any other column becomes a custom attribute (docs/import.md has the\n"
    "         table). Text is stored in Unicode NFC. Phones are normalised to E.164 (--region,\n"
    "         default VN). Every invalid row is reported with its line, column and reason.\n"
    "         Without --skip-invalid nothing is written when any row is invalid. --dry-run\n"
    "         shows the mapping (column → field) and what the import would do, writing\n"
    "         nothing. Importing the same file twice changes nothing. Exit 0: all rows\n"
    "         imported (or, with --dry-run, all valid); 1: imported, some rows skipped (or\n"
    "         some invalid); 65: nothing imported (invalid rows or header); 66: no such file.\n"
    "export   writes the Page's subscribers as CSV (re-importable) to stdout or --output;\n"
    "         --excel starts it with a UTF-8 byte order mark and writes phones as text\n"
    "         (=\"+84912345678\") so that Excel shows Vietnamese and the leading '+' as they are.\n"
    "list     prints subscribers in id order; --after ID continues a previous page.\n"
    "generate writes N sample subscribers as CSV (Vietnamese names, mixed phone formats),\n"
    "         for demos and benchmarks; --invalid-percent adds that share of broken rows.\n";

struct progress_ctx {
    struct loa_cli *cli;
    int64_t started;
};

static void on_progress(const struct loa_import_progress *p, void *ud)
{
    struct progress_ctx *pc = ud;
    bool final = p->bytes_total && p->bytes_done >= p->bytes_total;
    cli_progress(pc->cli, p->bytes_done, p->bytes_total, p->rows, "rows", pc->started, final);
}

/* The preview's mapping: "column 3 'Số điện thoại' → phone". */
static void print_mapping(struct loa_cli *cli, const struct loa_import_report *rep)
{
    fprintf(cli->out, "columns (separator %s%s):\n",
            rep->separator == ';'    ? "';'"
            : rep->separator == '\t' ? "tab"
                                     : "','",
            rep->bom ? ", UTF-8 byte order mark" : "");
    for (size_t i = 0; i < rep->ncolumns; i++) {
        const struct loa_import_column *c = &rep->columns[i];
        fprintf(cli->out, "  %2zu '%s' → ", i + 1, c->header);
        switch (c->field) {
        case LOA_IMPORT_ATTR:
            fprintf(cli->out, "custom attribute '%s'%s\n", c->attr ? c->attr : "",
                    c->attr && strcmp(c->attr, c->header) == 0 ? " (not a known column)" : "");
            break;
        case LOA_IMPORT_NUMBER:
            fprintf(cli->out, "custom attribute '%s' (a number)\n", c->attr ? c->attr : "");
            break;
        case LOA_IMPORT_FULL_NAME:
            fprintf(cli->out, "full name (last_name + first_name, family name first)\n");
            break;
        case LOA_IMPORT_IGNORED:
            fprintf(cli->out, "ignored (only Messenger sets it)\n");
            break;
        default:
            fprintf(cli->out, "%s\n", loa_import_field_name(c->field));
            break;
        }
    }
}

static int do_import(struct loa_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        { "page", required_argument, NULL, 'p' },
        { "list", required_argument, NULL, 'l' },
        { "skip-invalid", no_argument, NULL, 's' },
        { "dry-run", no_argument, NULL, 'n' },
        { "preview", no_argument, NULL, 'n' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    const char *page_id = NULL;
    struct loa_import_opts io = { .region = cli->set->phone_region };
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            page_id = optarg;
            break;
        case 'l':
            if (!*optarg)
                return cli_usage(cli, "subscribers import", "--list needs a name");
            io.list = optarg;
            break;
        case 's':
            io.skip_invalid = true;
            break;
        case 'n':
            io.dry_run = true;
            break;
        default:
            return cli_opt_other(cli, "subscribers import", c, subs_help);
        }
    }
    if (optind + 1 != argc)
        return cli_usage(cli, "subscribers import", "expected one FILE.csv");
    if (!page_id)
        return cli_usage(cli, "subscribers import", "--page is required");
    io.path = argv[optind];

    struct loa_store *st;
    struct loa_page page;
    int exit = cli_open_page(cli, page_id, &st, &page);
    if (exit)
        return exit;
    io.page_ref = page.id;
    struct progress_ctx pc = { cli, loa_mono_ms() };
    io.progress = on_progress;
    io.progress_ud = &pc;
    struct loa_import_report rep;
    struct loa_diags d;
    loa_diags_init(&d, 100);
    int rc = loa_import_csv(st, &io, &rep, &d);
    double secs = (double)(loa_mono_ms() - pc.started) / 1000.0;
    if (io.dry_run || (rep.ncolumns && rc == LOA_EPARSE))
        print_mapping(cli, &rep);
    loa_diags_print(&d, cli->err, io.path);
    if (io.dry_run && (rc == 0 || rc == LOA_EINVAL)) {
        fprintf(cli->out, "preview of %s for Page %s (nothing written): %zu rows\n", io.path,
                page_id, rep.rows);
        fprintf(cli->out, "  would insert %zu, update %zu, leave unchanged %zu; invalid %zu%s\n",
                rep.inserted, rep.updated, rep.unchanged, rep.invalid,
                rep.invalid ? (io.skip_invalid ? " (would be skipped)"
                                               : " (nothing would be written without "
                                                 "--skip-invalid)")
                            : "");
        fprintf(cli->out, "  tags would be added %zu", rep.tags_added);
        if (io.list)
            fprintf(cli->out, ", added to list \"%s\" %zu", io.list, rep.listed);
        fputc('\n', cli->out);
        exit = rc == 0 ? LOA_EXIT_OK : LOA_EXIT_FAIL;
    } else if (rc == 0 || (rc == LOA_EINVAL && rep.written)) {
        fprintf(cli->out, "imported %s into Page %s: %zu rows in %.2f s (%.0f rows/s)\n", io.path,
                page_id, rep.rows, secs, secs > 0 ? (double)rep.rows / secs : 0.0);
        fprintf(cli->out, "  inserted %zu, updated %zu, unchanged %zu, invalid %zu%s\n",
                rep.inserted, rep.updated, rep.unchanged, rep.invalid,
                rep.invalid ? " (skipped)" : "");
        fprintf(cli->out, "  tags added %zu", rep.tags_added);
        if (io.list)
            fprintf(cli->out, ", added to list \"%s\" %zu", io.list, rep.listed);
        fputc('\n', cli->out);
        exit = rc == 0 ? LOA_EXIT_OK : LOA_EXIT_FAIL;
    } else if (rc == LOA_EINVAL) {
        fprintf(cli->err,
                "nothing imported: %zu of %zu rows are invalid (fix them, or use "
                "--skip-invalid to import the valid rows)\n",
                rep.invalid, rep.rows);
        exit = LOA_EXIT_DATAERR;
    } else {
        fprintf(cli->err, "nothing imported: %s\n", loa_strerror(rc));
        exit = rc == LOA_ENOENT   ? LOA_EXIT_NOINPUT
               : rc == LOA_EPARSE ? LOA_EXIT_DATAERR
                                  : LOA_EXIT_IOERR;
    }
    loa_import_report_release(&rep);
    loa_diags_release(&d);
    loa_page_release(&page);
    loa_store_close(st);
    return exit;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void qsort_strings(const char **v, size_t n)
{
    if (n)
        qsort(v, n, sizeof(*v), cmp_str);
}

/* ---- export ------------------------------------------------------------------------------ */

struct export_ctx {
    struct loa_store *st;
    FILE *out;
    json_t *keys; /* attribute names seen, as an object used as a sorted set */
    const char **attr_names;
    size_t nattrs;
    int rc;
    bool excel; /* phones as text formulas, ="+84912345678" */
};

static void put_field(FILE *out, const char *v, bool first)
{
    if (!first)
        fputc(',', out);
    if (!v)
        return;
    if (strpbrk(v, ",\"\r\n") || (*v && (v[0] == ' ' || v[strlen(v) - 1] == ' ')))
        csv_fwrite(out, v, strlen(v));
    else
        fputs(v, out);
}

static int collect_keys(const struct loa_subscriber *s, void *ud)
{
    struct export_ctx *x = ud;
    json_t *a = json_loads(s->attrs ? s->attrs : "{}", 0, NULL);
    const char *k;
    json_t *v;
    json_object_foreach(a, k, v) {
        json_object_set(x->keys, k, json_true());
    }
    json_decref(a);
    return 0;
}

static int write_row(const struct loa_subscriber *s, void *ud)
{
    struct export_ctx *x = ud;
    char *tags = NULL;
    if ((x->rc = loa_store_subscriber_tags(x->st, s->id, &tags)) < 0)
        return 1;
    char t1[32] = "", t2[32] = "";
    if (s->first_seen_at)
        loa_time_format(s->first_seen_at, t1, sizeof(t1));
    if (s->last_interaction_at)
        loa_time_format(s->last_interaction_at, t2, sizeof(t2));
    put_field(x->out, s->psid, true);
    put_field(x->out, s->first_name, false);
    put_field(x->out, s->last_name, false);
    if (x->excel && s->phone) {
        /* Excel reads +84912345678 as a number (the '+' lost, digits in E notation); a
         * formula that is text keeps it, and the import reads it back. */
        char text[LOA_PHONE_MAX + 8];
        snprintf(text, sizeof(text), "=\"%s\"", s->phone);
        put_field(x->out, text, false);
    } else {
        put_field(x->out, s->phone, false);
    }
    put_field(x->out, s->email, false);
    put_field(x->out, s->gender, false);
    put_field(x->out, s->locale, false);
    put_field(x->out, tags, false);
    put_field(x->out, t1, false);
    put_field(x->out, t2, false);
    put_field(x->out, s->last_interaction_kind, false);
    json_t *a = json_loads(s->attrs ? s->attrs : "{}", 0, NULL);
    for (size_t i = 0; i < x->nattrs; i++)
        put_field(x->out, json_string_value(json_object_get(a, x->attr_names[i])), false);
    json_decref(a);
    fputc('\n', x->out);
    loa_free(tags);
    return 0;
}

static int do_export(struct loa_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        { "page", required_argument, NULL, 'p' },   { "tag", required_argument, NULL, 't' },
        { "output", required_argument, NULL, 'o' }, { "excel", no_argument, NULL, 'x' },
        { "help", no_argument, NULL, 'h' },         { 0 },
    };
    const char *page_id = NULL, *tag = NULL, *output = NULL;
    bool excel = false;
    int exit;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            page_id = optarg;
            break;
        case 't':
            tag = optarg;
            break;
        case 'o':
            output = optarg;
            break;
        case 'x':
            excel = true;
            break;
        default:
            return cli_opt_other(cli, "subscribers export", c, subs_help);
        }
    }
    if ((exit = cli_no_operands(cli, "subscribers export", argc, argv)))
        return exit;
    if (!page_id)
        return cli_usage(cli, "subscribers export", "--page is required");
    struct loa_store *st;
    struct loa_page page;
    if ((exit = cli_open_page(cli, page_id, &st, &page)))
        return exit;
    FILE *out = output ? fopen(output, "w") : cli->out;
    if (!out) {
        fprintf(cli->err, "loa subscribers export: cannot create %s\n", output);
        loa_page_release(&page);
        loa_store_close(st);
        return LOA_EXIT_CANTCREAT;
    }
    struct export_ctx x = { .st = st, .out = out, .keys = json_object(), .excel = excel };
    struct loa_subscriber_query q = { .page_ref = page.id, .tag = tag };
    int rc = loa_store_subscriber_list(st, &q, collect_keys, &x);
    x.nattrs = json_object_size(x.keys);
    x.attr_names = loa_calloc(x.nattrs, sizeof(*x.attr_names));
    const char *k;
    json_t *v;
    size_t i = 0;
    json_object_foreach(x.keys, k, v) {
        x.attr_names[i++] = k;
    }
    qsort_strings(x.attr_names, x.nattrs);
    if (excel)
        fputs("\xEF\xBB\xBF", out); /* UTF-8 byte order mark: Excel then reads UTF-8 */
    fputs("psid,first_name,last_name,phone,email,gender,locale,tags,first_seen_at,"
          "last_interaction_at,last_interaction_kind",
          out);
    for (i = 0; i < x.nattrs; i++)
        put_field(out, x.attr_names[i], false);
    fputc('\n', out);
    if (rc == 0)
        rc = loa_store_subscriber_list(st, &q, write_row, &x);
    if (rc == 0)
        rc = x.rc;
    if (rc < 0) {
        fprintf(cli->err, "loa subscribers export: %s\n", loa_strerror(rc));
        exit = LOA_EXIT_IOERR;
    }
    if (output && fclose(out) != 0 && !exit)
        exit = LOA_EXIT_IOERR;
    loa_free(x.attr_names);
    json_decref(x.keys);
    loa_page_release(&page);
    loa_store_close(st);
    return exit;
}

/* ---- list -------------------------------------------------------------------------------- */

static int list_row(const struct loa_subscriber *s, void *ud)
{
    struct loa_cli *cli = ud;
    char when[32] = "-";
    if (s->last_interaction_at)
        loa_time_format(s->last_interaction_at, when, sizeof(when));
    char name[160];
    snprintf(name, sizeof(name), "%s %s", s->first_name ? s->first_name : "",
             s->last_name ? s->last_name : "");
    fprintf(cli->out, "%-8lld %-18s %-28s %-14s %s\n", (long long)s->id, s->psid ? s->psid : "-",
            name, s->phone ? s->phone : "-", when);
    return 0;
}

static int do_list(struct loa_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        { "page", required_argument, NULL, 'p' },  { "tag", required_argument, NULL, 't' },
        { "limit", required_argument, NULL, 'n' }, { "after", required_argument, NULL, 'a' },
        { "help", no_argument, NULL, 'h' },        { 0 },
    };
    const char *page_id = NULL;
    struct loa_subscriber_query q = { .limit = 50 };
    int exit;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            page_id = optarg;
            break;
        case 't':
            q.tag = optarg;
            break;
        case 'n':
            if (!cli_parse_count(optarg, &q.limit))
                return cli_usage(cli, "subscribers list", "--limit: '%s' is not a number", optarg);
            break;
        case 'a':
            if (!cli_parse_count(optarg, &q.after_id))
                return cli_usage(cli, "subscribers list", "--after: '%s' is not an id", optarg);
            break;
        default:
            return cli_opt_other(cli, "subscribers list", c, subs_help);
        }
    }
    if ((exit = cli_no_operands(cli, "subscribers list", argc, argv)))
        return exit;
    struct loa_store *st;
    if ((exit = cli_open_store(cli, false, &st)))
        return exit;
    if (page_id) {
        struct loa_page page;
        if ((exit = cli_find_page(cli, st, page_id, &page))) {
            loa_store_close(st);
            return exit;
        }
        q.page_ref = page.id;
        loa_page_release(&page);
    }
    fprintf(cli->out, "%-8s %-18s %-28s %-14s %s\n", "ID", "PSID", "NAME", "PHONE",
            "LAST_INTERACTION");
    if (loa_store_subscriber_list(st, &q, list_row, cli) < 0)
        exit = LOA_EXIT_IOERR;
    loa_store_close(st);
    return exit;
}

/* ---- generate ---------------------------------------------------------------------------- */

static int do_generate(struct loa_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        { "seed", required_argument, NULL, 's' },
        { "invalid-percent", required_argument, NULL, 'i' },
        { "output", required_argument, NULL, 'o' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    int64_t seed = 1, invalid = 0, n;
    const char *output = NULL;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (!cli_parse_count(optarg, &seed))
                return cli_usage(cli, "subscribers generate", "--seed: '%s' is not a number",
                                 optarg);
            break;
        case 'i':
            if (!cli_parse_count(optarg, &invalid) || invalid > 100)
                return cli_usage(cli, "subscribers generate",
                                 "--invalid-percent: '%s' is not 0..100", optarg);
            break;
        case 'o':
            output = optarg;
            break;
        default:
            return cli_opt_other(cli, "subscribers generate", c, subs_help);
        }
    }
    if (optind + 1 != argc || !cli_parse_count(argv[optind], &n))
        return cli_usage(cli, "subscribers generate", "expected a count N");
    FILE *out = output ? fopen(output, "w") : cli->out;
    if (!out) {
        fprintf(cli->err, "loa subscribers generate: cannot create %s\n", output);
        return LOA_EXIT_CANTCREAT;
    }
    struct loa_sample_opts so = { .count = (uint64_t)n,
                                  .seed = (uint64_t)seed,
                                  .invalid_percent = (unsigned)invalid,
                                  .now_ms = loa_now_ms() };
    loa_sample_write_csv(out, &so);
    int exit = ferror(out) ? LOA_EXIT_IOERR : LOA_EXIT_OK;
    if (output && fclose(out) != 0)
        exit = LOA_EXIT_IOERR;
    return exit;
}

int loa_cmd_subscribers(struct loa_cli *cli, int argc, char **argv)
{
    if (argc < 2)
        return cli_usage(cli, "subscribers", "expected import, export, list or generate");
    const char *sub = argv[1];
    if (cli_is_help(sub))
        return cli_help(cli, subs_help);
    if (strcmp(sub, "import") == 0)
        return do_import(cli, argc - 1, argv + 1);
    if (strcmp(sub, "export") == 0)
        return do_export(cli, argc - 1, argv + 1);
    if (strcmp(sub, "list") == 0)
        return do_list(cli, argc - 1, argv + 1);
    if (strcmp(sub, "generate") == 0)
        return do_generate(cli, argc - 1, argv + 1);
    return cli_usage(cli, "subscribers", "unknown subcommand '%s'", sub);
}
