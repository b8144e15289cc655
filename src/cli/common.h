/* SPDX-License-Identifier: MIT */
/* Helpers shared by the subcommands of the loa CLI. */
#ifndef LOA_CLI_COMMON_H
#define LOA_CLI_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <loa/diag.h>
#include <loa/store.h>

#include "cli.h"

/** Prints "loa CMD: message" to stderr and returns LOA_EXIT_USAGE. */
int cli_usage(struct loa_cli *cli, const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** True when arg asks for help: "--help" or "-h". */
bool cli_is_help(const char *arg);

/** Prints help to stdout; returns LOA_EXIT_OK. */
int cli_help(struct loa_cli *cli, const char *help);

/**
 * The catch-all of a getopt_long loop for command cmd: for 'h' prints help and returns
 * LOA_EXIT_OK; for anything else says "unknown option" and returns LOA_EXIT_USAGE.
 */
int cli_opt_other(struct loa_cli *cli, const char *cmd, int c, const char *help);

/**
 * After getopt_long: complains about the first operand left (argv[optind]), if any. Returns
 * LOA_EXIT_OK when there is none, else LOA_EXIT_USAGE.
 */
int cli_no_operands(struct loa_cli *cli, const char *cmd, int argc, char **argv);

/** Prints diags to stderr prefixed with what; returns exit. */
int cli_report(struct loa_cli *cli, const struct loa_diags *d, const char *what, int exit);

/**
 * Opens the configured store (with create, makes it and its key when missing). Prints
 * precise errors. Returns LOA_EXIT_OK or the exit code to return; on failure *out is NULL.
 */
int cli_open_store(struct loa_cli *cli, bool create, struct loa_store **out);

/** Looks up a Page by its Facebook id; prints an error when missing. Returns an exit code. */
int cli_find_page(struct loa_cli *cli, struct loa_store *st, const char *page_id,
                  struct loa_page *out);

/**
 * Opens the store and finds the Page: on success *st_out is open and *page_out filled
 * (release both); on failure nothing is left open. Returns an exit code.
 */
int cli_open_page(struct loa_cli *cli, const char *page_id, struct loa_store **st_out,
                  struct loa_page *page_out);

/** Parses a whole non-negative number; false on junk or overflow. */
bool cli_parse_count(const char *s, int64_t *out);

struct loa_rules;

/**
 * Loads the rules file path (NULL or "" = rules.file of the configuration) for command cmd
 * ("rules", "campaign run", ...), printing every complaint with its place (and how many more
 * were not shown). Returns an exit code: 0; 64 no file named; 66 missing or unreadable;
 * 65 invalid. Free *out with loa_rules_free().
 */
int cli_load_rules(struct loa_cli *cli, const char *cmd, const char *path, struct loa_rules **out);

/**
 * The text of an option that takes FILE|JSON for command cmd: the value itself when it starts
 * with '{' or '[', else the file it names ("-" = stdin), at most max bytes. *out (NUL-ended,
 * caller frees) and *len. Prints precise errors; returns an exit code (66 unreadable, 65 too
 * large).
 */
int cli_read_json_text(struct loa_cli *cli, const char *cmd, const char *opt, const char *arg,
                       size_t max, char **out, size_t *len);

/** Reads a secret from FILE ("-" = stdin), trimming the final newline. Caller frees. */
int cli_read_secret(struct loa_cli *cli, const char *path, char **out);

/** Draws or clears a one-line progress bar on stderr (only on a terminal). */
void cli_progress(struct loa_cli *cli, uint64_t done, uint64_t total, size_t items,
                  const char *unit, int64_t started_mono_ms, bool final);

#endif /* LOA_CLI_COMMON_H */
