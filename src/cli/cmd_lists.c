/* SPDX-License-Identifier: MIT */
/* loa lists upload|list: CRM phone lists (src/import/phone_list.c does the work). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <loa/config.h>
#include <loa/err.h>
#include <loa/import.h>
#include <loa/store.h>

#include "common.h"

static const char lists_help[] =
    "usage: loa lists upload FILE.csv --page PAGE_ID --name NAME [--replace] [--dry-run]\n"
    "       loa lists list --page PAGE_ID\n\n"
    "upload: FILE (\"-\" = standard input) is a CSV (',', ';' or tab separated) whose header\n"
    "        names a phone column (phone, mobile, Số điện thoại, SĐT, Điện thoại..., with or\n"
    "        without diacritics); other columns are ignored. --dry-run counts, writes nothing.\n"
    "        Numbers are normalised (--region, default VN) and matched to the Page's\n"
    "        subscribers by phone; the matched subscribers join list NAME (created when\n"
    "        missing; --replace empties it first). Rows that do not parse are printed with\n"
    "        their line and skipped; the rest is written in one transaction.\n"
    "list:   the Page's lists with their member counts.\n"
    "Use a list in an audience filter as {\"list\":\"NAME\"}.\n";

static int print_list(const char *name, int64_t members, int64_t created_at, void *ud)
{
    (void)created_at;
    struct loa_cli *cli = ud;
    fprintf(cli->out, "%-40s %lld\n", name, (long long)members);
    return 0;
}

int loa_cmd_lists(struct loa_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        { "page", required_argument, NULL, 'p' }, { "name", required_argument, NULL, 'n' },
        { "replace", no_argument, NULL, 'r' },    { "dry-run", no_argument, NULL, 'd' },
        { "help", no_argument, NULL, 'h' },       { 0 },
    };
    if (argc < 2)
        return cli_usage(cli, "lists", "expected upload or list");
    const char *sub = argv[1];
    if (cli_is_help(sub))
        return cli_help(cli, lists_help);
    bool upload = strcmp(sub, "upload") == 0;
    if (!upload && strcmp(sub, "list") != 0)
        return cli_usage(cli, "lists", "unknown subcommand '%s'", sub);
    const char *page_id = NULL, *name = NULL;
    bool replace = false, dry_run = false;
    argc--;
    argv++;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'p')
            page_id = optarg;
        else if (c == 'n')
            name = optarg;
        else if (c == 'r')
            replace = true;
        else if (c == 'd')
            dry_run = true;
        else
            return cli_opt_other(cli, "lists", c, lists_help);
    }
    int nargs = argc - optind;
    if (!page_id)
        return cli_usage(cli, "lists", "--page is required");
    if (upload && (nargs != 1 || !name))
        return cli_usage(cli, "lists", "upload needs FILE and --name");
    if (!upload && nargs != 0)
        return cli_usage(cli, "lists", "list takes no arguments");

    struct loa_store *st;
    struct loa_page page;
    int exit = cli_open_page(cli, page_id, &st, &page);
    if (exit)
        return exit;
    if (!upload) {
        int rc = loa_store_list_list(st, page.id, print_list, cli);
        exit = rc < 0 ? LOA_EXIT_IOERR : LOA_EXIT_OK;
        goto out;
    }
    const char *file = argv[optind];
    struct loa_phone_list_opts o = {
        .path = file,
        .page_ref = page.id,
        .name = name,
        .region = cli->set->phone_region,
        .replace = replace,
        .dry_run = dry_run,
    };
    struct loa_phone_list_report rep;
    struct loa_diags d;
    loa_diags_init(&d, 100);
    int rc = loa_import_phone_list(st, &o, &rep, &d);
    loa_diags_print(&d, cli->err, strcmp(file, "-") == 0 ? "stdin" : file);
    if (d.dropped)
        fprintf(cli->err, "%s: %zu more rows that did not parse not shown\n", file, d.dropped);
    loa_diags_release(&d);
    if (rc < 0) {
        exit = rc == LOA_ENOENT                       ? LOA_EXIT_NOINPUT
               : rc == LOA_EPARSE || rc == LOA_EINVAL ? LOA_EXIT_DATAERR
                                                      : LOA_EXIT_IOERR;
        if (exit == LOA_EXIT_IOERR)
            fprintf(cli->err, "loa lists: upload failed: %s (nothing written)\n", loa_strerror(rc));
        goto out;
    }
    if (dry_run)
        fprintf(cli->out, "preview (nothing written): column %ld '%s' → phone, separator %s\n",
                rep.phone_column, rep.phone_header,
                rep.separator == ';'    ? "';'"
                : rep.separator == '\t' ? "tab"
                                        : "','");
    fprintf(cli->out,
            "list %s%s: %zu rows, %zu matched, %zu unmatched, %zu did not parse, %zu "
            "duplicates; %lld %sadded, %lld members\n",
            name, rep.created ? " (new)" : "", rep.rows, rep.matched, rep.unmatched, rep.invalid,
            rep.duplicates, (long long)rep.added, dry_run ? "would be " : "",
            (long long)rep.members);
    exit = rep.invalid ? LOA_EXIT_FAIL : LOA_EXIT_OK;
out:
    loa_page_release(&page);
    loa_store_close(st);
    return exit;
}
