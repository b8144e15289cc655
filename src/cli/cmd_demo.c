/* SPDX-License-Identifier: MIT */
/*
 * loa demo: loa's main job on its embedded default. Today it creates a store, adds a demo Page,
 * generates sample subscribers and imports them (twice, to show that a re-import changes
 * nothing); campaigns through the loa-graph emulator join it as they land.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <loa/clock.h>
#include <loa/config.h>
#include <loa/err.h>
#include <loa/import.h>
#include <loa/store.h>

#include "cli/common.h"
#include "cli/sample.h"

#define DEMO_DIR     ".loa"
#define DEMO_PAGE_ID "100000000000001"

static int print_tag(const char *name, int64_t count, void *ud)
{
    struct loa_cli *cli = ud;
    fprintf(cli->out, "    %-16s %lld\n", name, (long long)count);
    return 0;
}

static int import_once(struct loa_cli *cli, struct loa_store *st, int64_t page_ref, const char *csv,
                       const char *label)
{
    struct loa_import_opts io = { .path = csv,
                                  .page_ref = page_ref,
                                  .list = "demo-import",
                                  .region = loa_config_get(cli->config, "phone.region"),
                                  .skip_invalid = true };
    struct loa_import_report rep;
    struct loa_diags d;
    loa_diags_init(&d, 3);
    int64_t t0 = loa_mono_ms();
    int rc = loa_import_csv(st, &io, &rep, &d);
    double secs = (double)(loa_mono_ms() - t0) / 1000.0;
    if (!rep.written) {
        loa_diags_print(&d, cli->err, csv);
        fprintf(cli->err, "demo: import failed: %s\n", loa_strerror(rc));
        loa_diags_release(&d);
        return LOA_EXIT_SOFTWARE;
    }
    fprintf(cli->out,
            "%s: %zu rows in %.2f s (%.0f rows/s): %zu inserted, %zu updated, %zu unchanged, "
            "%zu invalid rows skipped\n",
            label, rep.rows, secs, secs > 0 ? (double)rep.rows / secs : 0.0, rep.inserted,
            rep.updated, rep.unchanged, rep.invalid);
    if (d.count) {
        fprintf(cli->out, "  first invalid rows, as a user would see them:\n");
        for (size_t i = 0; i < d.count; i++)
            fprintf(cli->out, "    line %ld, %s: %s\n", d.items[i].line,
                    d.items[i].where[0] ? d.items[i].where : "row", d.items[i].reason);
    }
    loa_diags_release(&d);
    return LOA_EXIT_OK;
}

int loa_cmd_demo(struct loa_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        { "count", required_argument, NULL, 'n' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    int64_t count = 50000;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'n') {
            if (!cli_parse_count(optarg, &count) || count < 1)
                return cli_usage(cli, "demo", "--count: '%s' is not a positive number", optarg);
        } else if (c == 'h') {
            fprintf(cli->out,
                    "usage: loa demo [--count N]\n\nCreates a store in %s/ (unless "
                    "--store is given), adds a demo Page, generates N sample\n"
                    "subscribers (default 50,000, 1%% with mistakes) and imports "
                    "them twice.\n",
                    DEMO_DIR);
            return LOA_EXIT_OK;
        } else {
            return cli_usage(cli, "demo", "unknown option");
        }
    }
    if (loa_config_source_of(cli->config, "store.path") == LOA_CONFIG_DEFAULT) {
        mkdir(DEMO_DIR, 0700);
        loa_config_set(cli->config, "store.path", DEMO_DIR "/demo.db", LOA_CONFIG_FLAG, NULL);
    }
    const char *path = loa_config_get(cli->config, "store.path");
    fprintf(cli->out, "loa demo\n========\n");
    struct loa_store *st;
    int exit = cli_open_store(cli, true, &st);
    if (exit)
        return exit;
    fprintf(cli->out, "store: %s (schema version %d, Page tokens encrypted with %s.key)\n", path,
            loa_store_schema_version(st), path);

    struct loa_page_input in = { .page_id = DEMO_PAGE_ID,
                                 .name = "Shop Hoa Sen (demo)",
                                 .access_token = "demo-page-token",
                                 .timezone = loa_config_get(cli->config, "page.timezone"),
                                 .daily_cap = 5000,
                                 .plan_quota = -1,
                                 .activated_at = -1 };
    bool created;
    if (loa_store_page_put(st, &in, &created) < 0) {
        loa_store_close(st);
        return LOA_EXIT_IOERR;
    }
    struct loa_page page;
    loa_store_page_get(st, DEMO_PAGE_ID, &page);
    fprintf(cli->out, "page:  %s \"%s\" (%s, cap %lld messages per 24 h)%s\n", page.page_id,
            page.name, page.timezone, (long long)page.daily_cap, created ? "" : " (existing)");

    char csv[512];
    snprintf(csv, sizeof(csv), "%s.subscribers.csv", path);
    FILE *f = fopen(csv, "w");
    if (!f) {
        fprintf(cli->err, "demo: cannot create %s\n", csv);
        loa_page_release(&page);
        loa_store_close(st);
        return LOA_EXIT_CANTCREAT;
    }
    struct loa_sample_opts so = {
        .count = (uint64_t)count, .seed = 7, .invalid_percent = 1, .now_ms = loa_now_ms()
    };
    loa_sample_write_csv(f, &so);
    fclose(f);
    fprintf(cli->out, "csv:   %s (%lld generated subscribers, about 1%% with mistakes)\n\n", csv,
            (long long)count);

    exit = import_once(cli, st, page.id, csv, "import");
    if (!exit)
        exit = import_once(cli, st, page.id, csv, "import again (nothing should change)");
    if (!exit) {
        int64_t total = 0;
        loa_store_subscriber_count(st, page.id, &total);
        fprintf(cli->out, "\nsubscribers of the Page: %lld; by tag:\n", (long long)total);
        loa_store_tag_list(st, page.id, print_tag, cli);
        fprintf(cli->out,
                "\nnext: loa --store %s subscribers list --page %s --tag vip --limit 5\n"
                "      loa --store %s subscribers export --page %s -o out.csv\n",
                path, DEMO_PAGE_ID, path, DEMO_PAGE_ID);
    }
    loa_page_release(&page);
    loa_store_close(st);
    return exit;
}
