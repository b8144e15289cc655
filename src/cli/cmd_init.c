/* SPDX-License-Identifier: MIT */
/* loa init, loa config show. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <loa/config.h>
#include <loa/store.h>

#include "common.h"

int loa_cmd_init(struct loa_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = { { "help", no_argument, NULL, 'h' }, { 0 } };
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            fprintf(cli->out, "usage: loa init [--store PATH] [--key-file PATH]\n\n"
                              "Creates the store (an SQLite file) and the key that encrypts Page "
                              "tokens at rest,\nor upgrades an existing store's schema in place. "
                              "Running it again is harmless.\nThe key comes from LOA_SECRET_KEY "
                              "when set, else from the key file (made if missing,\nmode 0600). "
                              "Keep the key file: without it stored Page tokens cannot be read.\n");
            return LOA_EXIT_OK;
        }
        return cli_usage(cli, "init", "unknown option");
    }
    if (optind != argc)
        return cli_usage(cli, "init", "takes no arguments");
    struct loa_store *st;
    int exit = cli_open_store(cli, true, &st);
    if (exit)
        return exit;
    const char *path = cli->set->store_path;
    const char *key_file = cli->set->store_key_file;
    fprintf(cli->out, "store:  %s (schema version %d)\n", path, loa_store_schema_version(st));
    if (*cli->set->store_secret_key)
        fprintf(cli->out, "key:    from LOA_SECRET_KEY\n");
    else if (*key_file)
        fprintf(cli->out, "key:    %s\n", key_file);
    else
        fprintf(cli->out, "key:    %s.key\n", path);
    loa_store_close(st);
    return LOA_EXIT_OK;
}

int loa_cmd_config(struct loa_cli *cli, int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "show") == 0) {
        loa_config_dump(cli->config, cli->out);
        return LOA_EXIT_OK;
    }
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fprintf(cli->out, "usage: loa config show\n\nPrints every option, its effective value "
                          "and where it came from (flag, env, file, default).\n"
                          "Secrets are shown as (set) or (not set).\n");
        return LOA_EXIT_OK;
    }
    return cli_usage(cli, "config", "expected 'show'");
}
