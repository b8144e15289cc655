/* SPDX-License-Identifier: MIT */
/*
 * loa: the command line. Reads configuration (flags anywhere on the line, LOA_* environment,
 * an optional INI file), then runs one subcommand.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <loa/config.h>
#include <loa/diag.h>
#include <loa/log.h>

#include "cli.h"

struct command {
    const char *name;
    loa_cmd_fn run;
    const char *summary;
};

static const struct command commands[] = {
    { "init", loa_cmd_init, "create the store and its encryption key" },
    { "page", loa_cmd_page, "add, change, list and show Facebook Pages" },
    { "subscribers", loa_cmd_subscribers, "import, export, list and generate subscribers" },
    { "tag", loa_cmd_tag, "list, add, remove, rename and delete tags" },
    { "lists", loa_cmd_lists, "upload CRM phone lists, list them with member counts" },
#ifdef LOA_HAVE_AUDIENCE
    { "audience", loa_cmd_audience, "preview an audience filter: count, reachability, who" },
#endif
#ifdef LOA_HAVE_RULES
    { "rules", loa_cmd_rules, "explain, list and check the messaging rules" },
#endif
#ifdef LOA_HAVE_CAMPAIGN
    { "campaign", loa_cmd_campaign, "create, start, pause and follow broadcast campaigns" },
#endif
#ifdef LOA_HAVE_SEQUENCE
    { "sequence", loa_cmd_sequence, "drip sequences: steps, groups, who is in them, m.me links" },
#endif
#ifdef LOA_HAVE_SERVE
    { "serve", loa_cmd_serve, "run the daemon: webhook, REST API, metrics" },
#endif
#ifdef LOA_HAVE_SIMULATE
    { "simulate", loa_cmd_simulate, "fill Pages with simulated people (store and loa-graph)" },
#endif
    { "apikey", loa_cmd_apikey, "create, list and revoke API keys" },
    { "user", loa_cmd_user, "add, change, list and remove web console users" },
    { "config", loa_cmd_config, "show the effective configuration" },
    { "demo", loa_cmd_demo, "run the demo on a local store" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
    fprintf(out, "usage: loa [OPTIONS] COMMAND [ARGS]\n\n"
                 "loa sends Messenger broadcasts, sequences and notifications for Facebook "
                 "Pages.\n\nCommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nOptions (flag, environment variable, description [default]); any option may "
                 "also be set in an INI file given with --config FILE or LOA_CONFIG:\n");
    loa_config_print_options(out);
    fprintf(out, "\nExit codes: 0 ok, 1 partly failed, 64 usage, 65 bad data, 66 no input,\n"
                 "70 internal error, 73 cannot create, 74 I/O or store error, 78 bad config.\n"
                 "Run 'loa COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
    struct loa_config *cfg = loa_config_new();
    struct loa_diags d;
    loa_diags_init(&d, 50);
    const char *config_file = NULL;
    int rc = loa_config_take_flags(cfg, &argc, argv, &config_file, &d);
    if (!config_file)
        config_file = getenv("LOA_CONFIG");
    if (config_file && *config_file && loa_config_load_file(cfg, config_file, &d) < 0)
        rc = -1;
    if (loa_config_load_env(cfg, &d) < 0)
        rc = -1;
    int exit = LOA_EXIT_OK;
    if (rc < 0) {
        loa_diags_print(&d, stderr, config_file ? config_file : "loa: config");
        exit = LOA_EXIT_CONFIG;
        goto out;
    }
    enum loa_log_level level = LOA_LOG_INFO;
    loa_log_parse_level(loa_config_settings(cfg)->log_level, &level);
    loa_log_set_level(level);

    if (argc < 2) {
        usage(stderr);
        exit = LOA_EXIT_USAGE;
        goto out;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        goto out;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("loa %s\n", LOA_VERSION);
        goto out;
    }
    struct loa_cli cli = {
        .config = cfg,
        .set = loa_config_settings(cfg),
        .out = stdout,
        .err = stderr,
        .tty = isatty(STDERR_FILENO) != 0,
    };
    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            exit = commands[i].run(&cli, argc - 1, argv + 1);
            goto out;
        }
    }
    fprintf(stderr, "loa: unknown command '%s'\nTry 'loa --help'.\n", argv[1]);
    exit = LOA_EXIT_USAGE;
out:
    loa_diags_release(&d);
    loa_config_free(cfg);
    fflush(stdout);
    return exit;
}
