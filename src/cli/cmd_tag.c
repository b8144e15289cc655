/* SPDX-License-Identifier: MIT */
/* loa tag list|add|remove|rename|delete. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <loa/clock.h>
#include <loa/config.h>
#include <loa/err.h>
#include <loa/store.h>
#ifdef LOA_HAVE_SEQUENCE
#include <loa/rules.h>
#include <loa/sequence.h>
#endif
#include <loa/utf8.h>

#include "common.h"

static const char tag_help[] =
    "usage: loa tag list --page PAGE_ID\n"
    "       loa tag add --page PAGE_ID --psid PSID TAG...\n"
    "       loa tag remove --page PAGE_ID --psid PSID TAG...\n"
    "       loa tag rename --page PAGE_ID OLD NEW\n"
    "       loa tag delete --page PAGE_ID TAG\n\n"
    "Tags group subscribers for audiences. A tag name is 1 to 64 characters.\n";

static int print_tag(const char *name, int64_t count, void *ud)
{
    struct loa_cli *cli = ud;
    fprintf(cli->out, "%-32s %lld\n", name, (long long)count);
    return 0;
}

static bool tag_name_ok(const char *t)
{
    size_t n = strlen(t);
    return n > 0 && loa_utf8_valid(t, n) && loa_utf8_count(t, n) <= 64 && !strpbrk(t, ",;");
}

int loa_cmd_tag(struct loa_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        { "page", required_argument, NULL, 'p' },
        { "psid", required_argument, NULL, 's' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    if (argc < 2)
        return cli_usage(cli, "tag", "expected list, add, remove, rename or delete");
    const char *sub = argv[1];
    if (cli_is_help(sub))
        return cli_help(cli, tag_help);
    static const char *const subs[] = { "list", "add", "remove", "rename", "delete" };
    int which = -1;
    for (int i = 0; i < (int)(sizeof(subs) / sizeof(subs[0])); i++)
        if (strcmp(sub, subs[i]) == 0)
            which = i;
    if (which < 0)
        return cli_usage(cli, "tag", "unknown subcommand '%s'", sub);
    const char *page_id = NULL, *psid = NULL;
    argc--;
    argv++;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'p')
            page_id = optarg;
        else if (c == 's')
            psid = optarg;
        else
            return cli_opt_other(cli, "tag", c, tag_help);
    }
    int nargs = argc - optind;
    char **args = argv + optind;
    if (!page_id)
        return cli_usage(cli, "tag", "--page is required");
    if ((which == 1 || which == 2) && (!psid || nargs < 1))
        return cli_usage(cli, "tag", "%s needs --psid and at least one TAG", sub);
    if ((which == 0 && nargs != 0) || (which == 3 && nargs != 2) || (which == 4 && nargs != 1))
        return cli_usage(cli, "tag", "wrong number of arguments for %s", sub);
    for (int i = 0; i < nargs; i++)
        if (!tag_name_ok(args[i]))
            return cli_usage(cli, "tag", "'%s' is not a tag name (1-64 characters, no , or ;)",
                             args[i]);

    struct loa_store *st;
    struct loa_page page;
    int exit = cli_open_page(cli, page_id, &st, &page);
    if (exit)
        return exit;
    struct loa_txn *tx = NULL; /* changes are one transaction */
    int rc = which == 0 ? 0 : loa_store_begin(st, &tx);
    switch (rc < 0 ? -1 : which) {
    case 0:
        rc = loa_store_tag_list(st, page.id, print_tag, cli);
        break;
    case 1:
    case 2: {
        struct loa_subscriber s;
        rc = loa_store_subscriber_find(st, page.id, psid, &s);
        if (rc == LOA_ENOENT) {
            fprintf(cli->err, "loa tag: no subscriber with PSID %s on Page %s\n", psid, page_id);
            exit = LOA_EXIT_DATAERR;
            rc = 0;
            break;
        }
#ifdef LOA_HAVE_SEQUENCE
        struct loa_rules *rules = NULL;
        struct loa_sequence_opts so;
        if (which == 1 && loa_rules_load(cli->set->rules_file, &rules, NULL) < 0)
            rules = NULL;
        loa_sequence_opts_from(&so, cli->set, rules);
#endif
        for (int i = 0; rc == 0 && i < nargs; i++) {
            int64_t id;
            bool added = false;
            rc = loa_store_tag_ensure(tx, page.id, args[i], &id);
            if (rc == 0)
                rc = which == 1 ? loa_store_tag_add(tx, s.id, id, &added)
                                : loa_store_tag_remove(tx, s.id, id);
#ifdef LOA_HAVE_SEQUENCE
            if (rc == 0 && added) /* sequences entered when this tag is added */
                rc = loa_sequence_on_event(tx, &so, page.id, s.id, LOA_SEQ_EVENT_TAG, args[i],
                                           loa_now_ms());
#endif
        }
#ifdef LOA_HAVE_SEQUENCE
        loa_rules_free(rules);
#endif
        loa_subscriber_release(&s);
        break;
    }
    case 3:
        rc = loa_store_tag_rename(tx, page.id, args[0], args[1]);
        if (rc == LOA_EEXIST || rc == LOA_ENOENT) {
            fprintf(cli->err, "loa tag rename: %s\n",
                    rc == LOA_EEXIST ? "a tag with the new name exists" : "no such tag");
            exit = LOA_EXIT_DATAERR;
            rc = 0;
        }
        break;
    case 4:
        rc = loa_store_tag_delete(tx, page.id, args[0]);
        if (rc == LOA_ENOENT) {
            fprintf(cli->err, "loa tag delete: no tag '%s'\n", args[0]);
            exit = LOA_EXIT_DATAERR;
            rc = 0;
        }
        break;
    }
    if (tx)
        rc = loa_store_end(tx, rc);
    if (rc < 0) {
        fprintf(cli->err, "loa tag %s: %s\n", sub, loa_strerror(rc));
        exit = LOA_EXIT_IOERR;
    } else if (!exit && which != 0) {
        fprintf(cli->out, "ok\n");
    }
    loa_page_release(&page);
    loa_store_close(st);
    return exit;
}
