/* SPDX-License-Identifier: MIT */
/*
 * Configuration: one declarative option table (src/config/options.c) drives parsing,
 * validation, --help and `loa config show`. Every option has a key ("store.path"), a
 * command-line flag ("--store"), an environment variable ("LOA_STORE") and a default.
 * Precedence: flags > environment > config file (INI, "key = value" under [section]) > default.
 */
#ifndef LOA_CONFIG_H
#define LOA_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <loa/diag.h>

struct loa_config;

/** Where an option's effective value came from. */
enum loa_config_source {
    LOA_CONFIG_DEFAULT,
    LOA_CONFIG_FILE,
    LOA_CONFIG_ENV,
    LOA_CONFIG_FLAG,
};

/** A new configuration holding the defaults. Ownership: free with loa_config_free(). */
struct loa_config *loa_config_new(void);
void loa_config_free(struct loa_config *c);

/**
 * Sets key from a source, validating the value. Returns 0, LOA_ENOENT for an unknown key or
 * LOA_EINVAL for a bad value (a complaint naming the key and why is added to diags).
 * A value from a lower-precedence source never replaces one from a higher one.
 */
int loa_config_set(struct loa_config *c, const char *key, const char *value,
                   enum loa_config_source src, struct loa_diags *diags);

/** Reads an INI file. Returns 0, LOA_ENOENT (no such file) or LOA_ECONFIG (see diags). */
int loa_config_load_file(struct loa_config *c, const char *path, struct loa_diags *diags);
/** Applies every LOA_* environment variable that names an option. */
int loa_config_load_env(struct loa_config *c, struct loa_diags *diags);

/**
 * Takes every option flag ("--store PATH" or "--store=PATH") out of argv, wherever it stands,
 * and applies it with LOA_CONFIG_FLAG precedence; *argc and argv are compacted in place.
 * "--config FILE" is taken out too and its value stored in *config_file_out (borrowed from
 * argv; NULL when absent). Returns 0 or LOA_EINVAL (see diags).
 */
int loa_config_take_flags(struct loa_config *c, int *argc, char **argv,
                          const char **config_file_out, struct loa_diags *diags);

/** Prints the option table (flag, environment variable, default, help) for --help. */
void loa_config_print_options(FILE *out);

/** Effective string value of a known key; never NULL ("" when empty). */
const char *loa_config_get(const struct loa_config *c, const char *key);
int64_t loa_config_get_int(const struct loa_config *c, const char *key);
bool loa_config_get_bool(const struct loa_config *c, const char *key);
enum loa_config_source loa_config_source_of(const struct loa_config *c, const char *key);

/** Prints every option, its value and its source; secrets are shown as "(set)". */
void loa_config_dump(const struct loa_config *c, FILE *out);

#endif /* LOA_CONFIG_H */
