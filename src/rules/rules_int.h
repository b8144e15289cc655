/* SPDX-License-Identifier: MIT */
/* Private to src/rules: the parsed form of a rules file. */
#ifndef LOA_RULES_RULES_INT_H
#define LOA_RULES_RULES_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <loa/limits.h>
#include <loa/rules.h>

/* The rules an entry may set ("rule" in the file); names in load.c. */
enum loa__rule_kind {
    LOA__R_STANDARD_WINDOW,
    LOA__R_PROMOTIONAL,
    LOA__R_CTM_WINDOW,
    LOA__R_MESSAGE_TAGS,
    LOA__R_HUMAN_AGENT,
    LOA__R_MESSAGING_TYPE,
    LOA__R_PLUS_ONE,
    LOA__R_TOPIC_FREQUENCIES,
    LOA__R_TOPIC_CADENCE,
    LOA__R_TOPIC_POLICY,
    LOA__R_TOPIC_OPTIN,
    LOA__R_TOPICS_RETIRED,
    LOA__R_TOPIC_TOKEN_EXPIRY,
    LOA__R_MARKETING_MESSAGES,
    LOA__R_UTILITY_TEMPLATES,
    LOA__R_STRUCTURED,
    LOA__R_SEND_RATE,
    LOA__R_CONTENT_LIMITS,
    LOA__R_COUNT
};

#define LOA__FREQ_COUNT    3
#define LOA__COUNTRIES_MAX 48

/* A set of countries, ISO 3166-1 alpha-2 codes as (c0 - 'A') * 26 + (c1 - 'A'). */
struct loa__countries {
    uint16_t code[LOA__COUNTRIES_MAX];
    size_t n;
};

/* Whether the set holds country cc ("VN"); false for NULL or a malformed code. */
bool loa__countries_has(const struct loa__countries *set, const char *cc);

/* One entry of the file, validated. Strings are owned. */
struct loa__rule {
    char *id;
    char *title;
    char *source;
    char *note;
    char *params; /* compact JSON */
    enum loa__rule_kind kind;
    int64_t from;  /* first instant in force */
    int64_t until; /* first instant not in force; INT64_MAX when open */
    union {
        struct {
            int64_t len;
            uint32_t opened_by;     /* bit (1 << enum loa_rules_action) */
            uint32_t not_opened_by; /* documentation only; must not meet opened_by */
        } window;
        struct {
            bool in_window;
            bool topic_token;
            bool message_tag;
        } promo;
        struct {
            int64_t len;
        } ctm;
        struct {
            char **tags;
            size_t count;
            bool promotional;
        } tags;
        struct {
            int64_t len;
            bool human_only;
        } human;
        struct {
            bool required;
        } mtype;
        struct {
            unsigned messages;
            bool promotional;
        } plus_one;
        struct {
            bool present[LOA__FREQ_COUNT];
            unsigned lifetime_months[LOA__FREQ_COUNT];
            int64_t period[LOA__FREQ_COUNT];
        } freq;
        struct {
            int64_t interval;
        } cadence;
        struct {
            bool text_only;
            bool inactive_suspends;
        } policy;
        struct {
            bool inside_window_only;
            bool one_per_window;
            int64_t same_title;
            int64_t reinvite_unaccepted;
            bool reinvite_accepted_after_expiry;
        } optin;
        struct {
            struct loa__countries except; /* recipients in these still get topic messages */
        } retired;
        struct {
            bool expires; /* tokens created while in force expire (by their frequency) */
        } token_expiry;
        struct {
            struct loa__countries excluded; /* recipients here cannot be sent to */
            bool promotional;               /* promotional content allowed */
            bool unknown_country_allowed;   /* a recipient of unknown country may be sent to */
        } marketing;
        struct {
            bool promotional; /* promotional content allowed (never, so far) */
            unsigned max_buttons;
        } utility;
        struct {
            bool first_seen_after_activation;
        } structured;
        struct loa_rules_send_rate rate;
        struct loa_limits limits;
    } p;
};

struct loa_rules {
    struct loa__rule *v;
    size_t n;
};

/** The entry of kind k in force at at, or NULL. */
const struct loa__rule *loa__rules_at(const struct loa_rules *r, enum loa__rule_kind k, int64_t at);
/** The first entry of kind k that starts after at, or NULL. */
const struct loa__rule *loa__rules_next(const struct loa_rules *r, enum loa__rule_kind k,
                                        int64_t at);
/** The earliest entry of kind k, or NULL. */
const struct loa__rule *loa__rules_first(const struct loa_rules *r, enum loa__rule_kind k);
const char *loa__rules_kind_name(enum loa__rule_kind k);
/** "2026-04-27" at midnight, else "2026-04-27T10:00Z" (seconds when not zero). */
void loa__rules_fmt_time(int64_t ms, char *out, size_t size);

#endif /* LOA_RULES_RULES_INT_H */
