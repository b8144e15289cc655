/* SPDX-License-Identifier: MIT */
/* loa apikey create|list|revoke: API keys of the REST API (stored hashed; shown once). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <loa/alloc.h>
#include <loa/clock.h>
#include <loa/err.h>
#include <loa/store.h>

#include "common.h"

static const char apikey_help[] =
    "usage: loa apikey create --role admin|staff [--name NAME]\n"
    "       loa apikey list\n"
    "       loa apikey revoke PREFIX\n\n"
    "API keys authenticate REST API calls (Authorization: Bearer KEY). create prints the key\n"
    "once; only a keyed hash of it is stored. Roles: admin (everything) and staff (everything\n"
    "but Page tokens and keys). PREFIX is the loa_XXXXXXXXXXXX part shown by list.\n";

static int print_key(const struct loa_apikey *k, void *ud)
{
    struct loa_cli *cli = ud;
    char created[40], used[40] = "never";
    loa_time_format(k->created_at, created, sizeof(created));
    if (k->last_used_at)
        loa_time_format(k->last_used_at, used, sizeof(used));
    fprintf(cli->out, "%-18s %-6s %-8s created=%s last_used=%s name=%s\n", k->prefix,
            loa_role_name(k->role), k->revoked_at ? "revoked" : "active", created, used,
            k->name && *k->name ? k->name : "-");
    return 0;
}

int loa_cmd_apikey(struct loa_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        { "role", required_argument, NULL, 'r' },
        { "name", required_argument, NULL, 'n' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    if (argc < 2)
        return cli_usage(cli, "apikey", "expected create, list or revoke");
    const char *sub = argv[1];
    if (cli_is_help(sub))
        return cli_help(cli, apikey_help);
    if (strcmp(sub, "create") && strcmp(sub, "list") && strcmp(sub, "revoke"))
        return cli_usage(cli, "apikey", "unknown subcommand '%s'", sub);
    const char *role_s = NULL, *name = NULL;
    argc--;
    argv++;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'r')
            role_s = optarg;
        else if (c == 'n')
            name = optarg;
        else
            return cli_opt_other(cli, "apikey", c, apikey_help);
    }
    int nargs = argc - optind;
    enum loa_role role = LOA_ROLE_NONE;
    if (strcmp(sub, "create") == 0) {
        if (nargs)
            return cli_usage(cli, "apikey", "create takes no arguments");
        if (!role_s || loa_role_parse(role_s, &role) < 0)
            return cli_usage(cli, "apikey", "--role admin or --role staff is required");
        if (name && strlen(name) > 200)
            return cli_usage(cli, "apikey", "--name is at most 200 bytes");
    } else if (strcmp(sub, "revoke") == 0 ? nargs != 1 : nargs != 0) {
        return cli_usage(cli, "apikey", "wrong number of arguments for %s", sub);
    }
    struct loa_store *st;
    int exit = cli_open_store(cli, false, &st);
    if (exit)
        return exit;
    struct loa_txn *tx;
    int rc;
    if (strcmp(sub, "create") == 0) {
        char *key = NULL;
        struct loa_apikey k;
        if ((rc = loa_store_begin(st, &tx)) == 0)
            rc = loa_store_end(tx, loa_store_apikey_create(tx, role, name, loa_now_ms(), &key, &k));
        if (rc == 0) {
            fprintf(cli->out, "%s\n", key);
            fprintf(cli->err,
                    "loa: created %s key %s; it is shown only now, store it somewhere safe\n",
                    loa_role_name(role), k.prefix);
            memset(key, 0, strlen(key));
            loa_free(key);
            loa_apikey_release(&k);
        }
    } else if (strcmp(sub, "list") == 0) {
        rc = loa_store_apikey_list(st, print_key, cli);
    } else {
        if ((rc = loa_store_begin(st, &tx)) == 0)
            rc = loa_store_end(tx, loa_store_apikey_revoke(tx, argv[optind], loa_now_ms()));
        if (rc == 0)
            fprintf(cli->out, "revoked %s\n", argv[optind]);
        else if (rc == LOA_ENOENT) {
            fprintf(cli->err, "loa: no active key with prefix %s (see `loa apikey list`)\n",
                    argv[optind]);
            loa_store_close(st);
            return LOA_EXIT_DATAERR;
        }
    }
    loa_store_close(st);
    if (rc < 0) {
        fprintf(cli->err, "loa apikey: %s\n", loa_strerror(rc));
        return LOA_EXIT_IOERR;
    }
    return LOA_EXIT_OK;
}
