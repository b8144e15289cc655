/* SPDX-License-Identifier: MIT */
/*
 * Configuration: one declarative option table (LOA_CONFIG_OPTIONS in loa/config_options.h)
 * drives parsing, validation, --help, `loa config show` and struct loa_settings. Every option
 * has a key ("store.path"), a command-line flag ("--store"), an environment variable
 * ("LOA_STORE") and a default. Precedence: flags > environment > config file (INI,
 * "key = value" under [section]) > default.
 *
 * Code reads settings through loa_config_settings(), one typed field per option
 * (settings->dispatch_concurrency), never by key string: a misspelt option does not compile.
 * Threading: a configuration is filled on one thread at start and then only read.
 */
#ifndef LOA_CONFIG_H
#define LOA_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <loa/config_options.h>
#include <loa/diag.h>

/** Every option's id, in table order: LOA_OPTION_store_path, ... */
enum loa_option_id {
#define LOA_OPTION_ID(field, ...) LOA_OPTION_##field,
    LOA_CONFIG_OPTIONS(LOA_OPTION_ID)
#undef LOA_OPTION_ID
    LOA_OPTION_COUNT
};

/* The C type of each option type (see config_options.h). */
#define LOA__SETTING_STRING   const char *
#define LOA__SETTING_SECRET   const char *
#define LOA__SETTING_LEVEL    const char *
#define LOA__SETTING_URL      const char *
#define LOA__SETTING_REGION   const char *
#define LOA__SETTING_TIMEZONE const char *
#define LOA__SETTING_INT      int64_t
#define LOA__SETTING_BOOL     bool

/**
 * The effective value of every option, typed: strings are never NULL ("" when empty), INT
 * options are int64_t within their bounds, BOOL options bool.
 */
struct loa_settings {
#define LOA_SETTING_FIELD(field, key, flag, env, type, ...) LOA__SETTING_##type field;
    LOA_CONFIG_OPTIONS(LOA_SETTING_FIELD)
#undef LOA_SETTING_FIELD
};

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

/**
 * The typed settings, kept up to date by every successful set. Borrowed: valid (strings too)
 * until the next set of the same option or loa_config_free().
 */
const struct loa_settings *loa_config_settings(const struct loa_config *c);
/** Where an option's effective value came from. */
enum loa_config_source loa_config_source(const struct loa_config *c, enum loa_option_id id);

/*
 * By key string, for tools that take the key from a person (and the config module's tests);
 * code reads loa_config_settings() instead.
 */

/** Effective string value of a known key; never NULL ("" when empty). */
const char *loa_config_get(const struct loa_config *c, const char *key);
int64_t loa_config_get_int(const struct loa_config *c, const char *key);
bool loa_config_get_bool(const struct loa_config *c, const char *key);
enum loa_config_source loa_config_source_of(const struct loa_config *c, const char *key);

/** Prints every option, its value and its source; secrets are shown as "(set)". */
void loa_config_dump(const struct loa_config *c, FILE *out);

#endif /* LOA_CONFIG_H */
