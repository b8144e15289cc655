/* SPDX-License-Identifier: MIT */
/*
 * The loa command line: shared state of one invocation and the subcommand table.
 *
 * Each subcommand lives in src/cli/cmd_<name>.c and has the signature of loa_cmd_fn. It gets
 * its own argv (argv[0] is the subcommand name), parses its options with getopt_long, prints
 * "--help" text to stdout and returns one of the LOA_EXIT_* codes below.
 */
#ifndef LOA_CLI_CLI_H
#define LOA_CLI_CLI_H

#include <stdbool.h>
#include <stdio.h>

/* Exit codes (sysexits.h values, documented in the README). */
#define LOA_EXIT_OK        0  /* success */
#define LOA_EXIT_FAIL      1  /* the operation ran and failed (e.g. some rows rejected) */
#define LOA_EXIT_USAGE     64 /* bad command line */
#define LOA_EXIT_DATAERR   65 /* bad input data (CSV, JSON, rules file) */
#define LOA_EXIT_NOINPUT   66 /* an input file does not exist or cannot be read */
#define LOA_EXIT_SOFTWARE  70 /* internal error */
#define LOA_EXIT_CANTCREAT 73 /* cannot create an output file or the store */
#define LOA_EXIT_IOERR     74 /* input/output error, including the store */
#define LOA_EXIT_TEMPFAIL  75 /* busy: another process holds what is needed; try again later */
#define LOA_EXIT_CONFIG    78 /* bad configuration */

struct loa_config;
struct loa_settings;

/** One invocation of the loa command. */
struct loa_cli {
    struct loa_config *config;      /* effective configuration; owned by main */
    const struct loa_settings *set; /* loa_config_settings(config): every option, typed */
    FILE *out;                      /* results (stdout) */
    FILE *err;                      /* diagnostics (stderr) */
    bool tty;                       /* stderr is a terminal: progress bars allowed */
};

typedef int (*loa_cmd_fn)(struct loa_cli *cli, int argc, char **argv);

/* Subcommands (src/cli/cmd_*.c). */
int loa_cmd_init(struct loa_cli *cli, int argc, char **argv);
int loa_cmd_page(struct loa_cli *cli, int argc, char **argv);
int loa_cmd_subscribers(struct loa_cli *cli, int argc, char **argv);
int loa_cmd_tag(struct loa_cli *cli, int argc, char **argv);
int loa_cmd_rules(struct loa_cli *cli, int argc, char **argv);
int loa_cmd_demo(struct loa_cli *cli, int argc, char **argv);
int loa_cmd_config(struct loa_cli *cli, int argc, char **argv);
int loa_cmd_serve(struct loa_cli *cli, int argc, char **argv);
int loa_cmd_apikey(struct loa_cli *cli, int argc, char **argv);
int loa_cmd_user(struct loa_cli *cli, int argc, char **argv);
int loa_cmd_lists(struct loa_cli *cli, int argc, char **argv);
int loa_cmd_audience(struct loa_cli *cli, int argc, char **argv);
int loa_cmd_campaign(struct loa_cli *cli, int argc, char **argv);
int loa_cmd_simulate(struct loa_cli *cli, int argc, char **argv);
int loa_cmd_sequence(struct loa_cli *cli, int argc, char **argv);

#endif /* LOA_CLI_CLI_H */
