/* SPDX-License-Identifier: MIT */
/* Loading and validating a rules file (format: docs/rules.md). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <loa/alloc.h>
#include <loa/clock.h>
#include <loa/err.h>
#include <loa/rules.h>

#include "rules_int.h"

#define RULES_FILE_MAX (4u * 1024 * 1024)
#define RULES_FORMAT   1

/* How a parameter is read and where it is stored (offset into struct loa__rule). */
enum ptype {
    P_BOOL,      /* bool */
    P_UINT,      /* unsigned */
    P_SIZE,      /* size_t */
    P_HOURS,     /* int64_t milliseconds, given in hours */
    P_DAYS,      /* int64_t milliseconds, given in days */
    P_ACTIONS,   /* uint32_t bit set of enum loa_rules_action, given as an array of names */
    P_TAGS,      /* the tag list of message_tags */
    P_FREQS,     /* the DAILY/WEEKLY/MONTHLY objects of topic_frequencies */
    P_STRING,    /* a string kept only in the parameters JSON */
    P_COUNTRIES, /* struct loa__countries, given as an array of ISO 3166-1 alpha-2 codes */
};

struct pspec {
    const char *name;
    enum ptype type;
    bool required;
    size_t off;
    long long min, max;
};

struct kspec {
    const char *name;
    bool required; /* the file must have at least one entry of this rule */
    const struct pspec *params;
    size_t nparams;
};

#define OFF(member) offsetof(struct loa__rule, p.member)
#define HOURS_MAX   (24LL * 366 * 10)
#define DAYS_MAX    (366LL * 10)

static const struct pspec p_window[] = {
    { "hours", P_HOURS, true, OFF(window.len), 1, HOURS_MAX },
    { "opened_by", P_ACTIONS, true, OFF(window.opened_by), 0, 0 },
    { "not_opened_by", P_ACTIONS, false, OFF(window.not_opened_by), 0, 0 },
};
static const struct pspec p_promo[] = {
    { "in_window", P_BOOL, true, OFF(promo.in_window), 0, 0 },
    { "topic_token", P_BOOL, true, OFF(promo.topic_token), 0, 0 },
    { "message_tag", P_BOOL, true, OFF(promo.message_tag), 0, 0 },
};
static const struct pspec p_ctm[] = {
    { "days", P_DAYS, true, OFF(ctm.len), 1, 365 },
};
static const struct pspec p_tags[] = {
    { "tags", P_TAGS, true, 0, 0, 0 },
    { "promotional", P_BOOL, true, OFF(tags.promotional), 0, 0 },
};
static const struct pspec p_human[] = {
    { "days", P_DAYS, true, OFF(human.len), 1, 365 },
    { "human_only", P_BOOL, true, OFF(human.human_only), 0, 0 },
};
static const struct pspec p_mtype[] = {
    { "required", P_BOOL, true, OFF(mtype.required), 0, 0 },
};
static const struct pspec p_plus_one[] = {
    { "messages", P_UINT, true, OFF(plus_one.messages), 0, 100 },
    { "promotional", P_BOOL, true, OFF(plus_one.promotional), 0, 0 },
};
static const struct pspec p_freq[] = {
    { "DAILY", P_FREQS, false, 0, 0, 0 },
    { "WEEKLY", P_FREQS, false, 1, 0, 0 },
    { "MONTHLY", P_FREQS, false, 2, 0, 0 },
};
static const struct pspec p_cadence[] = {
    { "min_interval_hours", P_HOURS, true, OFF(cadence.interval), 1, HOURS_MAX },
};
static const struct pspec p_policy[] = {
    { "text_only", P_BOOL, true, OFF(policy.text_only), 0, 0 },
    { "inactive_topic_suspends_tokens", P_BOOL, true, OFF(policy.inactive_suspends), 0, 0 },
};
static const struct pspec p_optin[] = {
    { "inside_window_only", P_BOOL, true, OFF(optin.inside_window_only), 0, 0 },
    { "one_per_window", P_BOOL, true, OFF(optin.one_per_window), 0, 0 },
    { "same_title_days", P_DAYS, true, OFF(optin.same_title), 0, DAYS_MAX },
    { "reinvite_unaccepted_days", P_DAYS, true, OFF(optin.reinvite_unaccepted), 0, DAYS_MAX },
    { "reinvite_accepted_after_expiry", P_BOOL, true, OFF(optin.reinvite_accepted_after_expiry), 0,
      0 },
};
static const struct pspec p_retired[] = {
    { "replacement", P_STRING, false, 0, 0, 0 },
    { "except_recipients_in", P_COUNTRIES, false, OFF(retired.except), 0, 0 },
};
static const struct pspec p_token_expiry[] = {
    { "expires", P_BOOL, true, OFF(token_expiry.expires), 0, 0 },
};
static const struct pspec p_marketing[] = {
    { "recipients_excluded", P_COUNTRIES, true, OFF(marketing.excluded), 0, 0 },
    { "promotional", P_BOOL, true, OFF(marketing.promotional), 0, 0 },
    { "unknown_country_allowed", P_BOOL, true, OFF(marketing.unknown_country_allowed), 0, 0 },
};
static const struct pspec p_utility[] = {
    { "promotional", P_BOOL, true, OFF(utility.promotional), 0, 0 },
    { "max_buttons", P_UINT, true, OFF(utility.max_buttons), 0, 100 },
};
static const struct pspec p_structured[] = {
    { "first_seen_after_activation", P_BOOL, true, OFF(structured.first_seen_after_activation), 0,
      0 },
};
static const struct pspec p_rate[] = {
    { "calls_per_second", P_UINT, true, OFF(rate.calls_per_second), 1, 1000000 },
    { "media_calls_per_second", P_UINT, true, OFF(rate.media_calls_per_second), 1, 1000000 },
    { "calls_per_engaged_user", P_UINT, true, OFF(rate.calls_per_engaged_user), 1, 1000000 },
    { "rolling_window_hours", P_HOURS, true, OFF(rate.rolling_window), 1, HOURS_MAX },
};
#define LIM(f)                                      \
    {                                               \
#f, P_SIZE, true, OFF(limits.f), 1, 1000000 \
    }
static const struct pspec p_limits[] = {
    LIM(text_chars),
    LIM(quick_replies),
    LIM(quick_reply_title),
    LIM(payload_chars),
    LIM(generic_elements),
    LIM(element_title_chars),
    LIM(element_subtitle_chars),
    LIM(buttons),
    LIM(button_title_chars),
    LIM(button_text_chars),
    LIM(metadata_chars),
};
#undef LIM

#define KS(name, req, arr)                           \
    {                                                \
        name, req, arr, sizeof(arr) / sizeof(arr[0]) \
    }
static const struct kspec kinds[LOA__R_COUNT] = {
    [LOA__R_STANDARD_WINDOW] = KS("standard_window", true, p_window),
    [LOA__R_PROMOTIONAL] = KS("promotional_content", true, p_promo),
    [LOA__R_CTM_WINDOW] = KS("ctm_window", false, p_ctm),
    [LOA__R_MESSAGE_TAGS] = KS("message_tags", true, p_tags),
    [LOA__R_HUMAN_AGENT] = KS("human_agent", false, p_human),
    [LOA__R_MESSAGING_TYPE] = KS("messaging_type", false, p_mtype),
    [LOA__R_PLUS_ONE] = KS("plus_one", false, p_plus_one),
    [LOA__R_TOPIC_FREQUENCIES] = KS("topic_frequencies", false, p_freq),
    [LOA__R_TOPIC_CADENCE] = KS("topic_cadence", false, p_cadence),
    [LOA__R_TOPIC_POLICY] = KS("topic_policy", false, p_policy),
    [LOA__R_TOPIC_OPTIN] = KS("topic_optin", false, p_optin),
    [LOA__R_TOPICS_RETIRED] = KS("topics_retired", false, p_retired),
    [LOA__R_TOPIC_TOKEN_EXPIRY] = KS("topic_token_expiry", false, p_token_expiry),
    [LOA__R_MARKETING_MESSAGES] = KS("marketing_messages", false, p_marketing),
    [LOA__R_UTILITY_TEMPLATES] = KS("utility_templates", false, p_utility),
    [LOA__R_STRUCTURED] = KS("structured_messages", false, p_structured),
    [LOA__R_SEND_RATE] = KS("send_rate", true, p_rate),
    [LOA__R_CONTENT_LIMITS] = KS("content_limits", true, p_limits),
};
#undef KS

const char *loa__rules_kind_name(enum loa__rule_kind k)
{
    return (unsigned)k < LOA__R_COUNT ? kinds[k].name : "?";
}

/* A parse in progress: where complaints go and the path of the value being read. */
struct ctx {
    struct loa_diags *diags;
    char path[256];
};

static void complain(struct ctx *c, const char *leaf, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void complain(struct ctx *c, const char *leaf, const char *fmt, ...)
{
    char where[320];
    if (leaf && leaf[0] == '[')
        snprintf(where, sizeof(where), "%s%s", c->path, leaf);
    else if (leaf)
        snprintf(where, sizeof(where), "%s%s%s", c->path, c->path[0] ? "." : "", leaf);
    else
        snprintf(where, sizeof(where), "%s", c->path);
    char reason[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    loa_diags_add(c->diags, 0, 0, where, "%s", reason);
}

static const char *json_type_name(json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "a value";
}

static void complain_type(struct ctx *c, const char *leaf, const char *want, json_t *v)
{
    complain(c, leaf, "must be %s, not %s", want, json_type_name(v));
}

/* "YYYY-MM-DD" to the instant 00:00 UTC of that day. */
static int parse_date(const char *s, int64_t *out)
{
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return LOA_EPARSE;
    return loa_time_parse(s, out);
}

static bool valid_id(const char *s)
{
    if (!*s || strlen(s) > 64)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
              *s == '.'))
            return false;
    return true;
}

static bool valid_tag(const char *s)
{
    if (!*s || strlen(s) >= LOA_RULES_TAG_MAX)
        return false;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

static void read_actions(struct ctx *c, const struct pspec *ps, json_t *v, uint32_t *out)
{
    if (!json_is_array(v)) {
        complain_type(c, ps->name, "an array of action names", v);
        return;
    }
    size_t i;
    json_t *it;
    json_array_foreach(v, i, it) {
        char leaf[96];
        snprintf(leaf, sizeof(leaf), "%s[%zu]", ps->name, i);
        enum loa_rules_action a;
        if (!json_is_string(it)) {
            complain_type(c, leaf, "a string", it);
        } else if (loa_rules_action_parse(json_string_value(it), &a) || a == LOA_RULES_ACT_NONE) {
            complain(c, leaf,
                     "unknown action \"%s\" (message, postback, quick_reply, get_started, "
                     "referral, referral_ad, referral_mme, referral_plugin, reaction, optin, "
                     "comment)",
                     json_string_value(it));
        } else {
            *out |= 1u << a;
        }
    }
}

static void read_tags(struct ctx *c, struct loa__rule *e, json_t *v)
{
    if (!json_is_array(v) || json_array_size(v) == 0) {
        if (json_is_array(v))
            complain(c, "tags", "must list at least one tag");
        else
            complain_type(c, "tags", "an array of tag names", v);
        return;
    }
    e->p.tags.tags = loa_calloc(json_array_size(v), sizeof(char *));
    size_t i;
    json_t *it;
    json_array_foreach(v, i, it) {
        char leaf[64];
        snprintf(leaf, sizeof(leaf), "tags[%zu]", i);
        if (!json_is_string(it)) {
            complain_type(c, leaf, "a string", it);
            continue;
        }
        const char *t = json_string_value(it);
        if (!valid_tag(t)) {
            complain(c, leaf, "\"%s\" is not a tag name (A-Z, 0-9 and _)", t);
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < e->p.tags.count; j++)
            dup |= strcmp(e->p.tags.tags[j], t) == 0;
        if (dup) {
            complain(c, leaf, "tag \"%s\" is listed twice", t);
            continue;
        }
        e->p.tags.tags[e->p.tags.count++] = loa_strdup(t);
    }
}

static bool country_code(const char *s, uint16_t *out)
{
    if (!s || strlen(s) != 2 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z')
        return false;
    *out = (uint16_t)((s[0] - 'A') * 26 + (s[1] - 'A'));
    return true;
}

bool loa__countries_has(const struct loa__countries *set, const char *cc)
{
    uint16_t code;
    if (!country_code(cc, &code))
        return false;
    for (size_t i = 0; i < set->n; i++)
        if (set->code[i] == code)
            return true;
    return false;
}

static void read_countries(struct ctx *c, const struct pspec *ps, json_t *v,
                           struct loa__countries *out)
{
    if (!json_is_array(v)) {
        complain_type(c, ps->name, "an array of country codes", v);
        return;
    }
    size_t i;
    json_t *it;
    json_array_foreach(v, i, it) {
        char leaf[96];
        snprintf(leaf, sizeof(leaf), "%s[%zu]", ps->name, i);
        uint16_t code;
        if (!json_is_string(it)) {
            complain_type(c, leaf, "a string", it);
        } else if (!country_code(json_string_value(it), &code)) {
            complain(c, leaf,
                     "\"%s\" is not a country code (two capital letters, ISO 3166-1: VN, GB)",
                     json_string_value(it));
        } else if (loa__countries_has(out, json_string_value(it))) {
            complain(c, leaf, "country \"%s\" is listed twice", json_string_value(it));
        } else if (out->n == LOA__COUNTRIES_MAX) {
            complain(c, leaf, "at most %d countries", LOA__COUNTRIES_MAX);
            return;
        } else {
            out->code[out->n++] = code;
        }
    }
}

static bool read_integer(struct ctx *c, const char *leaf, json_t *v, long long min, long long max,
                         long long *out)
{
    if (!json_is_integer(v)) {
        complain_type(c, leaf, "an integer", v);
        return false;
    }
    long long x = json_integer_value(v);
    if (x < min || x > max) {
        char range[64];
        snprintf(range, sizeof(range), "%lld to %lld", min, max);
        complain(c, leaf, "must be from %s", range);
        return false;
    }
    *out = x;
    return true;
}

static void read_freq(struct ctx *c, struct loa__rule *e, const struct pspec *ps, json_t *v)
{
    size_t f = ps->off;
    if (!json_is_object(v)) {
        complain_type(c, ps->name, "an object", v);
        return;
    }
    json_t *life = json_object_get(v, "lifetime_months");
    json_t *period = json_object_get(v, "period_hours");
    char leaf[96];
    long long x;
    bool ok = true;
    snprintf(leaf, sizeof(leaf), "%s.lifetime_months", ps->name);
    if (!life) {
        ok = false;
        complain(c, leaf, "missing parameter");
    } else if (read_integer(c, leaf, life, 1, 120, &x))
        e->p.freq.lifetime_months[f] = (unsigned)x;
    else
        ok = false;
    snprintf(leaf, sizeof(leaf), "%s.period_hours", ps->name);
    if (!period) {
        ok = false;
        complain(c, leaf, "missing parameter");
    } else if (read_integer(c, leaf, period, 1, HOURS_MAX, &x))
        e->p.freq.period[f] = x * LOA_HOUR_MS;
    else
        ok = false;
    const char *key;
    json_t *it;
    json_object_foreach(v, key, it) {
        if (strcmp(key, "lifetime_months") && strcmp(key, "period_hours")) {
            snprintf(leaf, sizeof(leaf), "%s.%s", ps->name, key);
            complain(c, leaf, "unknown parameter (lifetime_months, period_hours)");
        }
    }
    e->p.freq.present[f] = ok;
}

static void read_param(struct ctx *c, struct loa__rule *e, const struct pspec *ps, json_t *v)
{
    char *base = (char *)e;
    long long x;
    switch (ps->type) {
    case P_BOOL:
        if (json_is_boolean(v))
            *(bool *)(base + ps->off) = json_is_true(v);
        else
            complain_type(c, ps->name, "true or false", v);
        break;
    case P_UINT:
        if (read_integer(c, ps->name, v, ps->min, ps->max, &x)) {
            unsigned u = (unsigned)x;
            memcpy(base + ps->off, &u, sizeof(u));
        }
        break;
    case P_SIZE:
        if (read_integer(c, ps->name, v, ps->min, ps->max, &x)) {
            size_t z = (size_t)x;
            memcpy(base + ps->off, &z, sizeof(z));
        }
        break;
    case P_HOURS:
        if (read_integer(c, ps->name, v, ps->min, ps->max, &x)) {
            int64_t ms = x * LOA_HOUR_MS;
            memcpy(base + ps->off, &ms, sizeof(ms));
        }
        break;
    case P_DAYS:
        if (read_integer(c, ps->name, v, ps->min, ps->max, &x)) {
            int64_t ms = x * LOA_DAY_MS;
            memcpy(base + ps->off, &ms, sizeof(ms));
        }
        break;
    case P_ACTIONS: {
        uint32_t mask = 0;
        read_actions(c, ps, v, &mask);
        memcpy(base + ps->off, &mask, sizeof(mask));
        break;
    }
    case P_TAGS:
        read_tags(c, e, v);
        break;
    case P_FREQS:
        read_freq(c, e, ps, v);
        break;
    case P_STRING:
        if (!json_is_string(v))
            complain_type(c, ps->name, "a string", v);
        break;
    case P_COUNTRIES:
        read_countries(c, ps, v, (struct loa__countries *)(void *)(base + ps->off));
        break;
    }
}

static void read_params(struct ctx *c, struct loa__rule *e, json_t *params)
{
    const struct kspec *ks = &kinds[e->kind];
    size_t len = strlen(c->path);
    static const char suffix[] = ".parameters";
    if (len + sizeof(suffix) <= sizeof(c->path))
        memcpy(c->path + len, suffix, sizeof(suffix));
    if (!json_is_object(params)) {
        complain_type(c, NULL, "an object", params);
        goto out;
    }
    for (size_t i = 0; i < ks->nparams; i++) {
        json_t *v = json_object_get(params, ks->params[i].name);
        if (v)
            read_param(c, e, &ks->params[i], v);
        else if (ks->params[i].required)
            complain(c, ks->params[i].name, "missing parameter (required by rule %s)", ks->name);
    }
    const char *key;
    json_t *v;
    json_object_foreach(params, key, v) {
        bool known = false;
        for (size_t i = 0; i < ks->nparams; i++)
            known |= strcmp(key, ks->params[i].name) == 0;
        if (!known)
            complain(c, key, "unknown parameter for rule %s", ks->name);
    }
    if (e->kind == LOA__R_STANDARD_WINDOW && (e->p.window.opened_by & e->p.window.not_opened_by))
        complain(c, "not_opened_by", "names an action that is also in opened_by");
    if (e->kind == LOA__R_TOPIC_FREQUENCIES && !json_object_get(params, "DAILY") &&
        !json_object_get(params, "WEEKLY") && !json_object_get(params, "MONTHLY"))
        complain(c, NULL, "must have at least one of DAILY, WEEKLY, MONTHLY");
    char *dump = json_dumps(params, JSON_COMPACT | JSON_PRESERVE_ORDER);
    e->params = loa_strdup(dump ? dump : "{}");
    free(dump); /* jansson's allocator */
out:
    c->path[len] = '\0';
}

static const char *const entry_keys[] = {
    "id", "rule", "title", "effective_from", "effective_until", "source", "note", "parameters"
};

/* Optional string member; complains when present and not a string. */
static const char *get_string(struct ctx *c, json_t *obj, const char *key, bool required)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required)
            complain(c, key, "missing");
        return NULL;
    }
    if (!json_is_string(v)) {
        complain_type(c, key, "a string", v);
        return NULL;
    }
    return json_string_value(v);
}

static void fill_strings(struct loa__rule *e, const char *id, const char *title, const char *source,
                         const char *note)
{
    e->id = loa_strdup(id ? id : "");
    e->title = loa_strdup(title ? title : "");
    e->source = loa_strdup(source ? source : "");
    e->note = loa_strdup(note ? note : "");
    if (!e->params)
        e->params = loa_strdup("{}");
}

/* Reads rules[i] into e; returns whether it is usable (complaints are in diags either way). */
static bool read_entry(struct ctx *c, json_t *obj, struct loa__rule *e)
{
    size_t before = loa_diags_total(c->diags);
    e->from = INT64_MIN;
    e->until = INT64_MAX;
    if (!json_is_object(obj)) {
        complain_type(c, NULL, "an object", obj);
        fill_strings(e, NULL, NULL, NULL, NULL);
        return false;
    }
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        bool known = false;
        for (size_t k = 0; k < sizeof(entry_keys) / sizeof(entry_keys[0]); k++)
            known |= strcmp(key, entry_keys[k]) == 0;
        if (!known)
            complain(c, key,
                     "unknown key (id, rule, title, effective_from, effective_until, source, "
                     "note, parameters)");
    }
    const char *id = get_string(c, obj, "id", true);
    if (id && !valid_id(id))
        complain(c, "id", "\"%s\" is not an id (a-z, 0-9, '-', '_', '.'; at most 64)", id);
    const char *rule = get_string(c, obj, "rule", true);
    bool kind_ok = false;
    if (rule) {
        for (int k = 0; k < LOA__R_COUNT; k++) {
            if (strcmp(rule, kinds[k].name) == 0) {
                e->kind = (enum loa__rule_kind)k;
                kind_ok = true;
            }
        }
        if (!kind_ok)
            complain(c, "rule", "unknown rule \"%s\"", rule);
    }
    const char *from = get_string(c, obj, "effective_from", true);
    if (from && parse_date(from, &e->from)) {
        complain(c, "effective_from", "bad date \"%s\" (want YYYY-MM-DD)", from);
        from = NULL;
    }
    const char *until = get_string(c, obj, "effective_until", false);
    if (until) {
        int64_t u;
        if (parse_date(until, &u)) {
            complain(c, "effective_until", "bad date \"%s\" (want YYYY-MM-DD)", until);
        } else {
            e->until = u + LOA_DAY_MS; /* the last day is included */
            if (from && e->until <= e->from)
                complain(c, "effective_until", "%s is before effective_from %s", until, from);
        }
    }
    const char *source = get_string(c, obj, "source", true);
    if (source && !*source)
        complain(c, "source", "must not be empty");
    const char *title = get_string(c, obj, "title", false);
    const char *note = get_string(c, obj, "note", false);
    json_t *params = json_object_get(obj, "parameters");
    if (!params)
        complain(c, "parameters", "missing");
    else if (kind_ok)
        read_params(c, e, params);
    fill_strings(e, id, title, source, note);
    return loa_diags_total(c->diags) == before;
}

static void free_entry(struct loa__rule *e)
{
    loa_free(e->id);
    loa_free(e->title);
    loa_free(e->source);
    loa_free(e->note);
    loa_free(e->params);
    if (e->kind == LOA__R_MESSAGE_TAGS && e->p.tags.tags) {
        for (size_t i = 0; i < e->p.tags.count; i++)
            loa_free(e->p.tags.tags[i]);
        loa_free(e->p.tags.tags);
    }
}

void loa_rules_free(struct loa_rules *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        free_entry(&r->v[i]);
    loa_free(r->v);
    loa_free(r);
}

/* Checks across entries: unique ids, no overlapping periods of one rule, required rules. */
static void check_entries(struct ctx *c, const struct loa__rule *v, const bool *ok, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        snprintf(c->path, sizeof(c->path), "rules[%zu]", j);
        for (size_t i = 0; i < j; i++) {
            if (v[i].id[0] && strcmp(v[i].id, v[j].id) == 0) {
                complain(c, "id", "duplicate id \"%s\" (also rules[%zu])", v[j].id, i);
                break;
            }
        }
        if (!ok[j])
            continue;
        for (size_t i = 0; i < j; i++) {
            if (!ok[i] || v[i].kind != v[j].kind)
                continue;
            if (v[i].from < v[j].until && v[j].from < v[i].until) {
                char other[160];
                snprintf(other, sizeof(other), "rules[%zu] \"%s\"", i, v[i].id);
                complain(c, "effective_from", "period overlaps %s of the same rule %s", other,
                         kinds[v[j].kind].name);
            }
        }
    }
    c->path[0] = '\0';
    for (int k = 0; k < LOA__R_COUNT; k++) {
        if (!kinds[k].required)
            continue;
        bool seen = false;
        for (size_t i = 0; i < n; i++)
            seen |= ok[i] && v[i].kind == (enum loa__rule_kind)k;
        if (!seen)
            complain(c, "rules", "no entry for the required rule %s", kinds[k].name);
    }
}

static int parse_rules(const char *text, size_t len, struct loa_rules **out,
                       struct loa_diags *diags)
{
    struct ctx c = { .diags = diags, .path = "" };
    size_t before = loa_diags_total(diags);
    struct loa_rules *r = loa_calloc(1, sizeof(*r));
    bool *ok = NULL;
    json_error_t jerr;
    int rc = LOA_EPARSE;
    *out = NULL;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        loa_diags_add(diags, jerr.line, jerr.column, NULL, "malformed JSON: %s", jerr.text);
        goto out;
    }
    if (!json_is_object(root)) {
        complain_type(&c, NULL, "an object with \"format\" and \"rules\"", root);
        goto out;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "format") && strcmp(key, "rules") && strcmp(key, "updated") &&
            strcmp(key, "comment"))
            complain(&c, key, "unknown key (format, updated, comment, rules)");
    }
    json_t *fmt = json_object_get(root, "format");
    if (!fmt)
        complain(&c, "format", "missing (want 1)");
    else if (!json_is_integer(fmt) || json_integer_value(fmt) != RULES_FORMAT)
        complain(&c, "format", "unsupported format (this loa reads format 1)");
    const char *updated = get_string(&c, root, "updated", false);
    int64_t ignored;
    if (updated && parse_date(updated, &ignored))
        complain(&c, "updated", "bad date \"%s\" (want YYYY-MM-DD)", updated);
    (void)get_string(&c, root, "comment", false);
    json_t *rules = json_object_get(root, "rules");
    if (!rules) {
        complain(&c, "rules", "missing");
        goto out;
    }
    if (!json_is_array(rules)) {
        complain_type(&c, "rules", "an array", rules);
        goto out;
    }
    size_t n = json_array_size(rules);
    r->v = loa_calloc(n ? n : 1, sizeof(*r->v));
    ok = loa_calloc(n ? n : 1, sizeof(*ok));
    for (size_t i = 0; i < n; i++) {
        snprintf(c.path, sizeof(c.path), "rules[%zu]", i);
        ok[i] = read_entry(&c, json_array_get(rules, i), &r->v[i]);
        r->n = i + 1;
    }
    check_entries(&c, r->v, ok, n);
    if (loa_diags_total(diags) == before) {
        rc = 0;
        *out = r;
        r = NULL;
    }
out:
    loa_free(ok);
    json_decref(root);
    loa_rules_free(r);
    return rc;
}

int loa_rules_parse(const char *text, size_t len, struct loa_rules **out, struct loa_diags *diags)
{
    if (diags)
        return parse_rules(text, len, out, diags);
    /* Success is "no complaint was added": count them even when the caller keeps none. */
    struct loa_diags local;
    loa_diags_init(&local, 1);
    int rc = parse_rules(text, len, out, &local);
    loa_diags_release(&local);
    return rc;
}

int loa_rules_load(const char *path, struct loa_rules **out, struct loa_diags *diags)
{
    int rc;
    char *text = NULL;
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        rc = errno == ENOENT ? LOA_ENOENT : LOA_EIO;
        loa_diags_add(diags, 0, 0, NULL, "cannot open: %s", strerror(errno));
        return rc;
    }
    size_t cap = 64 * 1024, len = 0;
    text = loa_malloc(cap);
    for (;;) {
        size_t got = fread(text + len, 1, cap - len, f);
        len += got;
        if (len < cap) {
            if (ferror(f)) {
                loa_diags_add(diags, 0, 0, NULL, "cannot read: %s", strerror(errno));
                rc = LOA_EIO;
                goto out;
            }
            break;
        }
        if (cap >= RULES_FILE_MAX) {
            loa_diags_add(diags, 0, 0, NULL, "larger than %u bytes", RULES_FILE_MAX);
            rc = LOA_ETOOBIG;
            goto out;
        }
        cap *= 2;
        text = loa_realloc(text, cap);
    }
    rc = loa_rules_parse(text, len, out, diags);
out:
    loa_free(text);
    fclose(f);
    return rc;
}

size_t loa_rules_count(const struct loa_rules *r)
{
    return r->n;
}

int loa_rules_get(const struct loa_rules *r, size_t i, struct loa_rule_info *out)
{
    if (i >= r->n)
        return LOA_ERANGE;
    const struct loa__rule *e = &r->v[i];
    out->id = e->id;
    out->rule = kinds[e->kind].name;
    out->title = e->title;
    out->source = e->source;
    out->note = e->note;
    out->parameters = e->params;
    out->effective_from = e->from;
    out->effective_until = e->until;
    return 0;
}

bool loa_rules_in_force(const struct loa_rules *r, size_t i, int64_t at)
{
    return i < r->n && r->v[i].from <= at && at < r->v[i].until;
}

const struct loa__rule *loa__rules_at(const struct loa_rules *r, enum loa__rule_kind k, int64_t at)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->v[i].kind == k && r->v[i].from <= at && at < r->v[i].until)
            return &r->v[i];
    return NULL;
}

const struct loa__rule *loa__rules_next(const struct loa_rules *r, enum loa__rule_kind k,
                                        int64_t at)
{
    const struct loa__rule *best = NULL;
    for (size_t i = 0; i < r->n; i++)
        if (r->v[i].kind == k && r->v[i].from > at && (!best || r->v[i].from < best->from))
            best = &r->v[i];
    return best;
}

const struct loa__rule *loa__rules_first(const struct loa_rules *r, enum loa__rule_kind k)
{
    const struct loa__rule *best = NULL;
    for (size_t i = 0; i < r->n; i++)
        if (r->v[i].kind == k && (!best || r->v[i].from < best->from))
            best = &r->v[i];
    return best;
}
