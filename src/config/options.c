/* SPDX-License-Identifier: MIT */
/*
 * The option table, expanded from LOA_CONFIG_OPTIONS (include/loa/config_options.h) in the
 * order of enum loa_option_id, so an option's id is its index here.
 */
#include "config_int.h"

#ifndef LOA_RULES_DEFAULT
#define LOA_RULES_DEFAULT LOA_SOURCE_DIR "/rules/messaging-rules.json"
#endif

const struct loa_option loa_options[] = {
#define LOA_OPTION_ROW(field, key, flag, env, type, def, min, max, help) \
    { key, flag, env, LOA_OPT_##type, def, min, max, help },
    LOA_CONFIG_OPTIONS(LOA_OPTION_ROW)
#undef LOA_OPTION_ROW
};

const size_t loa_options_count = sizeof(loa_options) / sizeof(loa_options[0]);
_Static_assert(sizeof(loa_options) / sizeof(loa_options[0]) == LOA_OPTION_COUNT,
               "one row per option id");
