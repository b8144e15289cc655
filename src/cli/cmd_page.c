/* SPDX-License-Identifier: MIT */
/* loa page add|set|list|show. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <loa/alloc.h>
#include <loa/clock.h>
#include <loa/config.h>
#include <loa/err.h>
#include <loa/store.h>

#include "common.h"

static const char page_help[] =
    "usage: loa page add --id PAGE_ID --name NAME --token-file FILE [OPTIONS]\n"
    "       loa page set PAGE_ID [OPTIONS]\n"
    "       loa page list\n"
    "       loa page show PAGE_ID\n\n"
    "Options for add and set:\n"
    "  --name NAME             the Page's name\n"
    "  --token-file FILE       file holding the Page access token ('-' reads stdin);\n"
    "                          stored encrypted, never printed\n"
    "  --app-secret-file FILE  file holding the app secret (for appsecret_proof and webhooks)\n"
    "  --timezone TZ           IANA time zone [from --default-timezone]\n"
    "  --daily-cap N           rolling 24 h send cap shared by the Page's campaigns\n"
    "  --quota N               plan quota: subscribers reachable per campaign (0 = none)\n"
    "  --activated-at TIME     when loa started serving the Page (ISO 8601) [now]\n";

static int page_put(struct loa_cli *cli, int argc, char **argv, bool add)
{
    static const struct option opts[] = {
        { "id", required_argument, NULL, 'i' },
        { "name", required_argument, NULL, 'n' },
        { "token-file", required_argument, NULL, 't' },
        { "app-secret-file", required_argument, NULL, 's' },
        { "timezone", required_argument, NULL, 'z' },
        { "daily-cap", required_argument, NULL, 'c' },
        { "quota", required_argument, NULL, 'q' },
        { "activated-at", required_argument, NULL, 'a' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    const char *cmd = add ? "page add" : "page set";
    struct loa_page_input in = { .daily_cap = -1, .plan_quota = -1, .activated_at = -1 };
    const char *token_file = NULL, *secret_file = NULL;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'i':
            in.page_id = optarg;
            break;
        case 'n':
            in.name = optarg;
            break;
        case 't':
            token_file = optarg;
            break;
        case 's':
            secret_file = optarg;
            break;
        case 'z':
            in.timezone = optarg;
            break;
        case 'c':
            if (!cli_parse_count(optarg, &in.daily_cap) || in.daily_cap < 1)
                return cli_usage(cli, cmd, "--daily-cap: '%s' is not a positive number", optarg);
            break;
        case 'q':
            if (!cli_parse_count(optarg, &in.plan_quota))
                return cli_usage(cli, cmd, "--quota: '%s' is not a number", optarg);
            break;
        case 'a':
            if (loa_time_parse(optarg, &in.activated_at) < 0)
                return cli_usage(cli, cmd, "--activated-at: '%s' is not an ISO 8601 time", optarg);
            break;
        default:
            return cli_opt_other(cli, cmd, c, page_help);
        }
    }
    if (!add) {
        if (optind + 1 != argc)
            return cli_usage(cli, cmd, "expected one PAGE_ID");
        in.page_id = argv[optind];
    } else if (cli_no_operands(cli, cmd, argc, argv)) {
        return LOA_EXIT_USAGE;
    }
    if (!in.page_id || !*in.page_id)
        return cli_usage(cli, cmd, "--id is required");
    for (const char *p = in.page_id; *p; p++)
        if (*p < '0' || *p > '9')
            return cli_usage(cli, cmd, "Page id '%s' must be digits", in.page_id);
    if (add && !token_file)
        return cli_usage(cli, cmd, "--token-file is required (the Page access token)");
    if (in.timezone) {
        struct loa_diags d;
        loa_diags_init(&d, 4);
        int bad = loa_config_set(cli->config, "page.timezone", in.timezone, LOA_CONFIG_FLAG, &d);
        loa_diags_release(&d);
        if (bad < 0)
            return cli_usage(cli, cmd, "--timezone: '%s' is not a known IANA time zone",
                             in.timezone);
    } else if (add) {
        in.timezone = cli->set->page_timezone;
    }
    if (add && in.daily_cap < 0)
        in.daily_cap = cli->set->page_daily_cap;

    char *token = NULL, *secret = NULL;
    int exit = LOA_EXIT_OK;
    if (token_file && (exit = cli_read_secret(cli, token_file, &token)))
        goto out;
    if (secret_file && (exit = cli_read_secret(cli, secret_file, &secret)))
        goto out;
    in.access_token = token;
    in.app_secret = secret;
    struct loa_store *st;
    if ((exit = cli_open_store(cli, false, &st)))
        goto out;
    struct loa_page existing;
    if (!add && (exit = cli_find_page(cli, st, in.page_id, &existing)) == 0)
        loa_page_release(&existing);
    bool created = false;
    struct loa_txn *tx;
    int rc = exit ? 0 : loa_store_begin(st, &tx);
    if (!exit && rc == 0)
        rc = loa_store_end(tx, loa_store_page_put(tx, &in, loa_now_ms(), &created));
    if (!exit && rc < 0) {
        fprintf(cli->err, "loa %s: cannot save Page %s: %s\n", cmd, in.page_id, loa_strerror(rc));
        exit = LOA_EXIT_IOERR;
    } else if (!exit) {
        fprintf(cli->out, "%s Page %s\n", created ? "added" : "updated", in.page_id);
    }
    loa_store_close(st);
out:
    if (token)
        memset(token, 0, strlen(token));
    if (secret)
        memset(secret, 0, strlen(secret));
    loa_free(token);
    loa_free(secret);
    return exit;
}

static void print_page(struct loa_cli *cli, const struct loa_page *p)
{
    char act[32], created[32];
    loa_time_format(p->activated_at, act, sizeof(act));
    loa_time_format(p->created_at, created, sizeof(created));
    fprintf(cli->out,
            "page_id:      %s\nname:         %s\ntimezone:     %s\nactivated_at: %s\n"
            "daily_cap:    %lld\nplan_quota:   %lld%s\ntoken:        %s\napp_secret:   %s\n"
            "created_at:   %s\n",
            p->page_id, p->name, p->timezone, act, (long long)p->daily_cap,
            (long long)p->plan_quota, p->plan_quota ? "" : " (unlimited)",
            p->has_token ? "set (encrypted)" : "not set",
            p->has_app_secret ? "set (encrypted)" : "not set", created);
}

static int list_row(const struct loa_page *p, void *ud)
{
    struct loa_cli *cli = ud;
    fprintf(cli->out, "%-20s %-24s %-20s %9lld %s\n", p->page_id, p->name, p->timezone,
            (long long)p->daily_cap, p->has_token ? "yes" : "no");
    return 0;
}

int loa_cmd_page(struct loa_cli *cli, int argc, char **argv)
{
    if (argc < 2)
        return cli_usage(cli, "page", "expected add, set, list or show");
    const char *sub = argv[1];
    if (cli_is_help(sub))
        return cli_help(cli, page_help);
    if (strcmp(sub, "add") == 0 || strcmp(sub, "set") == 0)
        return page_put(cli, argc - 1, argv + 1, sub[0] == 'a');
    if (strcmp(sub, "list") != 0 && strcmp(sub, "show") != 0)
        return cli_usage(cli, "page", "unknown subcommand '%s'", sub);
    bool show = sub[0] == 's';
    if (argc >= 3 && cli_is_help(argv[2]))
        return cli_help(cli, page_help);
    if (show ? argc != 3 : argc != 2)
        return cli_usage(cli, show ? "page show" : "page list",
                         show ? "expected one PAGE_ID" : "takes no arguments");
    struct loa_store *st;
    int exit = cli_open_store(cli, false, &st);
    if (exit)
        return exit;
    if (show) {
        struct loa_page p;
        exit = cli_find_page(cli, st, argv[2], &p);
        if (!exit) {
            print_page(cli, &p);
            loa_page_release(&p);
        }
    } else {
        fprintf(cli->out, "%-20s %-24s %-20s %9s %s\n", "PAGE_ID", "NAME", "TIMEZONE", "DAILY_CAP",
                "TOKEN");
        if (loa_store_page_list(st, list_row, cli) < 0)
            exit = LOA_EXIT_IOERR;
    }
    loa_store_close(st);
    return exit;
}
