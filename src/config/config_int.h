/* SPDX-License-Identifier: MIT */
/* Private to src/config: the option table (expanded from LOA_CONFIG_OPTIONS). */
#ifndef LOA_CONFIG_CONFIG_INT_H
#define LOA_CONFIG_CONFIG_INT_H

#include <stddef.h>
#include <stdint.h>

#include <loa/config.h>

enum loa_opt_type {
    LOA_OPT_STRING,
    LOA_OPT_SECRET,   /* never printed */
    LOA_OPT_INT,      /* integer within [min, max] */
    LOA_OPT_BOOL,     /* true/false/yes/no/on/off/1/0 */
    LOA_OPT_LEVEL,    /* log level */
    LOA_OPT_URL,      /* http:// or https:// */
    LOA_OPT_REGION,   /* ISO 3166 alpha-2, upper case */
    LOA_OPT_TIMEZONE, /* IANA name present in the system zoneinfo */
};

struct loa_option {
    const char *key;  /* section.name */
    const char *flag; /* long flag without "--", NULL when not settable by flag */
    const char *env;  /* environment variable */
    enum loa_opt_type type;
    const char *def;
    int64_t min, max; /* LOA_OPT_INT bounds */
    const char *help;
};

/* Indexed by enum loa_option_id. */
extern const struct loa_option loa_options[];
extern const size_t loa_options_count;

#endif /* LOA_CONFIG_CONFIG_INT_H */
