/* SPDX-License-Identifier: MIT */
/*
 * loa audience preview|count: who a filter selects, and how many of them the rules let a
 * broadcast reach now. The filter language and the preview live in src/audience.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <loa/alloc.h>
#include <loa/audience.h>
#include <loa/buf.h>
#include <loa/clock.h>
#include <loa/config.h>
#include <loa/err.h>
#include <loa/rules.h>
#include <loa/store.h>

#include "common.h"

#define FILTER_FILE_MAX LOA_AUDIENCE_MAX_BYTES

static const char audience_help[] =
    "usage: loa audience preview --page PAGE_ID [--filter JSON|@FILE] [--purpose P]\n"
    "                            [--structured] [--at TIME] [--limit N] [--cursor C]\n"
    "                            [--order recent|id] [--rules FILE] [--json]\n"
    "       loa audience count --page PAGE_ID [--filter JSON|@FILE] [--at TIME]\n\n"
    "The filter is a JSON expression (docs/audience.md), e.g.\n"
    "  '{\"all\":[{\"tags\":{\"any\":[\"vip\"]}},{\"last_interaction\":{\"within_days\":30}}]}'\n"
    "No --filter (or {}) selects everyone. --purpose is promotional (default) or\n"
    "non_promotional; --at decides as of that time instead of now (the Page's local time\n"
    "unless it has an offset; \"20:00\" is the next 20:00 there; within_days counts\n"
    "back from it). preview prints the total, how many are reachable now by route, how many\n"
    "are not by reason, and --limit people (default 20) most recently active first.\n"
    "Exit 65 when the filter is invalid (every problem is printed with its path).\n";

/* Reads the filter argument: JSON text, or @FILE. *out is owned by the caller. */
static int read_filter(struct loa_cli *cli, const char *arg, char **out, size_t *len)
{
    if (arg[0] != '@') {
        *out = loa_strdup(arg);
        *len = strlen(arg);
        return LOA_EXIT_OK;
    }
    FILE *f = strcmp(arg + 1, "-") == 0 ? stdin : fopen(arg + 1, "rb");
    if (!f) {
        fprintf(cli->err, "loa audience: %s: %s\n", arg + 1, strerror(errno));
        return LOA_EXIT_NOINPUT;
    }
    struct loa_buf b;
    loa_buf_init(&b, FILTER_FILE_MAX + 1);
    char chunk[4096];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = loa_buf_append(&b, chunk, n);
    if (f != stdin)
        fclose(f);
    if (rc < 0) {
        loa_buf_release(&b);
        fprintf(cli->err, "loa audience: %s: a filter is at most %d bytes\n", arg + 1,
                FILTER_FILE_MAX);
        return LOA_EXIT_DATAERR;
    }
    *len = b.len;
    loa_buf_putc(&b, '\0');
    *out = loa_buf_detach(&b);
    return LOA_EXIT_OK;
}

static void print_text(struct loa_cli *cli, const struct loa_audience_preview *p)
{
    FILE *o = cli->out;
    fprintf(o, "total %lld, reachable now %lld, not reachable %lld (%s%s, %lld ms)\n",
            (long long)p->total, (long long)p->reachable, (long long)p->not_reachable,
            p->purpose == LOA_AUD_PROMOTIONAL ? "promotional" : "non-promotional",
            p->structured ? ", structured" : "", (long long)p->elapsed_ms);
    for (size_t i = 0; i < p->nby_route; i++) {
        const struct loa_audience_tally *t = &p->by_route[i];
        fprintf(o, "  reachable   %-10lld %s %s%s%s (%s)\n", (long long)t->count, t->route,
                t->messaging_type, t->tag[0] ? " " : "", t->tag, t->code);
    }
    for (size_t i = 0; i < p->nby_reason; i++)
        fprintf(o, "  refused     %-10lld %s\n", (long long)p->by_reason[i].count,
                p->by_reason[i].code);
    if (p->npeople)
        fprintf(o, "%-10s %-20s %-24s %-16s %-24s %s\n", "id", "psid", "name", "phone",
                "last interaction", "reachable");
    for (size_t i = 0; i < p->npeople; i++) {
        const struct loa_audience_person *x = &p->people[i];
        char at[40] = "-";
        if (x->last_interaction_at > 0)
            loa_time_format(x->last_interaction_at, at, sizeof(at));
        fprintf(o, "%-10lld %-20s %-24s %-16s %-24s %s (%s)\n", (long long)x->id,
                x->psid ? x->psid : "-", x->name[0] ? x->name : "-", x->phone ? x->phone : "-", at,
                x->reachable ? "yes" : "no", x->code);
    }
    if (p->next_cursor[0])
        fprintf(o, "more: --cursor %s\n", p->next_cursor);
}

int loa_cmd_audience(struct loa_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        { "page", required_argument, NULL, 'p' },    { "filter", required_argument, NULL, 'f' },
        { "purpose", required_argument, NULL, 'u' }, { "structured", no_argument, NULL, 's' },
        { "at", required_argument, NULL, 'a' },      { "limit", required_argument, NULL, 'l' },
        { "cursor", required_argument, NULL, 'c' },  { "order", required_argument, NULL, 'o' },
        { "rules", required_argument, NULL, 'R' },   { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },          { 0 },
    };
    if (argc < 2)
        return cli_usage(cli, "audience", "expected preview or count");
    const char *sub = argv[1];
    if (cli_is_help(sub))
        return cli_help(cli, audience_help);
    bool count = strcmp(sub, "count") == 0;
    if (!count && strcmp(sub, "preview") != 0)
        return cli_usage(cli, "audience", "unknown subcommand '%s'", sub);
    const char *page_id = NULL, *filter_arg = NULL, *rules_path = NULL, *at_arg = NULL;
    struct loa_audience_preview_opts po = {
        .purpose = LOA_AUD_PROMOTIONAL, .limit = 20, .recent_first = true, .at = loa_now_ms()
    };
    bool json = false;
    argc--;
    argv++;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            page_id = optarg;
            break;
        case 'f':
            filter_arg = optarg;
            break;
        case 'u':
            if (strcmp(optarg, "promotional") == 0)
                po.purpose = LOA_AUD_PROMOTIONAL;
            else if (strcmp(optarg, "non_promotional") == 0)
                po.purpose = LOA_AUD_NON_PROMOTIONAL;
            else
                return cli_usage(cli, "audience",
                                 "--purpose must be promotional or non_promotional");
            break;
        case 's':
            po.structured = true;
            break;
        case 'a':
            at_arg = optarg; /* read in the Page's zone once the Page is known */
            break;
        case 'l':
            if (!cli_parse_count(optarg, &po.limit) || po.limit > 500)
                return cli_usage(cli, "audience", "--limit must be 0 to 500");
            break;
        case 'c':
            po.cursor = optarg;
            break;
        case 'o':
            if (strcmp(optarg, "recent") == 0 || strcmp(optarg, "id") == 0)
                po.recent_first = strcmp(optarg, "recent") == 0;
            else
                return cli_usage(cli, "audience", "--order must be recent or id");
            break;
        case 'R':
            rules_path = optarg;
            break;
        case 'j':
            json = true;
            break;
        default:
            return cli_opt_other(cli, "audience", c, audience_help);
        }
    }
    if (!page_id)
        return cli_usage(cli, "audience", "--page is required");
    int exit = cli_no_operands(cli, "audience", argc, argv);
    if (exit)
        return exit;

    char *text = NULL;
    size_t len = 0;
    struct loa_audience_node *filter = NULL;
    struct loa_rules *rules = NULL;
    struct loa_store *st = NULL;
    struct loa_page page = { 0 };
    struct loa_diags d;
    loa_diags_init(&d, 100);
    if ((exit = cli_open_page(cli, page_id, &st, &page)))
        goto out;
    /* A time without an offset is the Page's local time; "20:00" the next 20:00 there. */
    int trc = at_arg ? loa_time_parse_local(at_arg, page.timezone, loa_now_ms(), &po.at) : 0;
    if (trc < 0) {
        exit = cli_usage(cli, "audience", "--at %s: %s", at_arg,
                         trc == LOA_ERANGE ? "that local time does not exist in the Page's zone"
                         : trc == LOA_EINVAL
                             ? "the Page has no valid time zone (loa page update --timezone)"
                             : "not a time (2026-12-03 20:00, 20:00, or with an offset)");
        goto out;
    }
    if (filter_arg) {
        if ((exit = read_filter(cli, filter_arg, &text, &len)))
            goto out;
        if (loa_audience_parse(text, len, po.at, "filter", &filter, &d) < 0) {
            exit = cli_report(cli, &d, "loa audience", LOA_EXIT_DATAERR);
            goto out;
        }
    }
    if (!count && (exit = cli_load_rules(cli, "audience", rules_path, &rules)))
        goto out;
    po.page_ref = page.id;
    po.page_activated = page.activated_at;
    po.counts_only = count;
    if (count)
        po.limit = 0;
    struct loa_audience_preview pv;
    int rc = loa_audience_preview(st, rules, filter, &po, &pv, &d);
    if (rc == LOA_EINVAL) {
        exit = cli_report(cli, &d, "loa audience", LOA_EXIT_USAGE);
        goto out;
    }
    if (rc < 0) {
        fprintf(cli->err, "loa audience: %s\n", loa_strerror(rc));
        exit = LOA_EXIT_IOERR;
        goto out;
    }
    if (count) {
        fprintf(cli->out, "%lld\n", (long long)pv.total);
    } else if (json) {
        struct loa_buf b;
        loa_buf_init(&b, 64 * 1024 * 1024);
        if (loa_audience_preview_format(&pv, &b) == 0)
            fprintf(cli->out, "%s\n", loa_buf_cstr(&b));
        else
            exit = LOA_EXIT_SOFTWARE;
        loa_buf_release(&b);
    } else {
        print_text(cli, &pv);
    }
    loa_audience_preview_release(&pv);
out:
    loa_diags_release(&d);
    loa_page_release(&page);
    loa_store_close(st);
    loa_rules_free(rules);
    loa_audience_free(filter);
    loa_free(text);
    return exit;
}
