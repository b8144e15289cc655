/* SPDX-License-Identifier: MIT */
/* Names of the rules module's enums, route parsing, and decisions and rules as text or JSON. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include <loa/alloc.h>
#include <loa/err.h>
#include <loa/rules.h>

#include "rules_int.h"

static const char *const action_names[LOA_RULES_ACT_COUNT] = {
    [LOA_RULES_ACT_NONE] = "none",
    [LOA_RULES_ACT_MESSAGE] = "message",
    [LOA_RULES_ACT_POSTBACK] = "postback",
    [LOA_RULES_ACT_QUICK_REPLY] = "quick_reply",
    [LOA_RULES_ACT_GET_STARTED] = "get_started",
    [LOA_RULES_ACT_REFERRAL] = "referral",
    [LOA_RULES_ACT_REFERRAL_AD] = "referral_ad",
    [LOA_RULES_ACT_REFERRAL_MME] = "referral_mme",
    [LOA_RULES_ACT_REFERRAL_PLUGIN] = "referral_plugin",
    [LOA_RULES_ACT_REACTION] = "reaction",
    [LOA_RULES_ACT_OPTIN] = "optin",
    [LOA_RULES_ACT_COMMENT] = "comment",
};

static const char *const freq_names[] = { "DAILY", "WEEKLY", "MONTHLY" };

const char *loa_rules_action_name(enum loa_rules_action a)
{
    return (unsigned)a < LOA_RULES_ACT_COUNT ? action_names[a] : "?";
}

int loa_rules_action_parse(const char *s, enum loa_rules_action *out)
{
    for (int i = 0; i < LOA_RULES_ACT_COUNT; i++) {
        if (strcmp(s, action_names[i]) == 0) {
            *out = (enum loa_rules_action)i;
            return 0;
        }
    }
    return LOA_EINVAL;
}

const char *loa_rules_frequency_name(enum loa_rules_frequency f)
{
    return (unsigned)f < 3 ? freq_names[f] : "?";
}

int loa_rules_frequency_parse(const char *s, enum loa_rules_frequency *out)
{
    for (int i = 0; i < 3; i++) {
        if (strcasecmp(s, freq_names[i]) == 0) {
            *out = (enum loa_rules_frequency)i;
            return 0;
        }
    }
    return LOA_EINVAL;
}

const char *loa_rules_mtype_name(enum loa_rules_mtype t)
{
    switch (t) {
    case LOA_RULES_MT_RESPONSE:
        return "RESPONSE";
    case LOA_RULES_MT_UPDATE:
        return "UPDATE";
    case LOA_RULES_MT_MESSAGE_TAG:
        return "MESSAGE_TAG";
    case LOA_RULES_MT_NONE:
        break;
    }
    return "";
}

const char *loa_rules_route_name(enum loa_rules_route_kind k)
{
    switch (k) {
    case LOA_RULES_ROUTE_AUTO:
        return "auto";
    case LOA_RULES_ROUTE_WINDOW:
        return "window";
    case LOA_RULES_ROUTE_TAG:
        return "tag";
    case LOA_RULES_ROUTE_HUMAN_AGENT:
        return "human_agent";
    case LOA_RULES_ROUTE_TOPIC:
        return "topic";
    case LOA_RULES_ROUTE_MARKETING:
        return "marketing";
    case LOA_RULES_ROUTE_UTILITY:
        return "utility";
    case LOA_RULES_ROUTE_COUNT:
        break;
    }
    return "?";
}

int loa_rules_route_parse(const char *s, struct loa_rules_route *out)
{
    memset(out, 0, sizeof(*out));
    if (strcmp(s, "auto") == 0) {
        out->kind = LOA_RULES_ROUTE_AUTO;
    } else if (strcmp(s, "window") == 0) {
        out->kind = LOA_RULES_ROUTE_WINDOW;
    } else if (strcasecmp(s, "human_agent") == 0 || strcmp(s, "tag:HUMAN_AGENT") == 0) {
        out->kind = LOA_RULES_ROUTE_HUMAN_AGENT;
    } else if (strncmp(s, "tag:", 4) == 0 && s[4]) {
        out->kind = LOA_RULES_ROUTE_TAG;
        out->tag = s + 4;
    } else if (strncmp(s, "topic:", 6) == 0 && s[6]) {
        out->kind = LOA_RULES_ROUTE_TOPIC;
        out->topic_id = s + 6;
    } else if (strcmp(s, "marketing") == 0) {
        out->kind = LOA_RULES_ROUTE_MARKETING;
    } else if (strncmp(s, "utility:", 8) == 0 && s[8]) {
        out->kind = LOA_RULES_ROUTE_UTILITY;
        out->template_id = s + 8;
        out->template_approved = true;
    } else {
        return LOA_EINVAL;
    }
    return 0;
}

static const char *recipient_name(enum loa_rules_recipient r)
{
    return r == LOA_RULES_TO_TOKEN ? "notification_messages_token" : "id";
}

/* Appends a jansson value as JSON and drops it. */
static int put_json(struct loa_buf *out, json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    json_decref(v);
    if (!s)
        return LOA_ENOMEM;
    int rc = loa_buf_puts(out, s);
    free(s); /* jansson's allocator */
    return rc;
}

static json_t *json_time(int64_t ms)
{
    char t[40];
    if (ms == 0 || ms == INT64_MAX)
        return json_null();
    loa__rules_fmt_time(ms, t, sizeof(t));
    return json_string(t);
}

static int format_decision_json(const struct loa_rules_decision *d, struct loa_buf *out)
{
    json_t *o = json_object();
    json_object_set_new(o, "allowed", json_boolean(d->allowed));
    json_object_set_new(o, "code", json_string(d->code ? d->code : ""));
    json_object_set_new(o, "route", json_string(loa_rules_route_name(d->route)));
    if (d->allowed) {
        json_object_set_new(o, "messaging_type",
                            json_string(loa_rules_mtype_name(d->messaging_type)));
        json_object_set_new(o, "messaging_type_required", json_boolean(d->messaging_type_required));
        json_object_set_new(o, "tag", d->tag[0] ? json_string(d->tag) : json_null());
        json_object_set_new(o, "recipient", json_string(recipient_name(d->recipient)));
        json_object_set_new(o, "until", json_time(d->until));
    } else {
        json_object_set_new(o, "retry_at", json_time(d->retry_at));
    }
    json_object_set_new(o, "topic", d->topic_id ? json_string(d->topic_id) : json_null());
    if (d->rule_id) {
        json_t *rule = json_object();
        json_object_set_new(rule, "id", json_string(d->rule_id));
        json_object_set_new(rule, "effective_from", json_time(d->rule_effective));
        json_object_set_new(rule, "source", json_string(d->rule_source ? d->rule_source : ""));
        json_object_set_new(o, "rule", rule);
    } else {
        json_object_set_new(o, "rule", json_null());
    }
    json_object_set_new(o, "reason", json_string(d->reason));
    return put_json(out, o);
}

int loa_rules_format_decision(const struct loa_rules_decision *d, bool json, struct loa_buf *out)
{
    if (json)
        return format_decision_json(d, out);
    char t[40];
    int rc = loa_buf_puts(out, d->allowed ? "allowed: " : "refused: ");
    if (!rc && d->allowed) {
        rc = loa_buf_puts(out, loa_rules_route_name(d->route));
        if (!rc && d->tag[0])
            rc = loa_buf_printf(out, " %s", d->tag);
        if (!rc && d->topic_id)
            rc = loa_buf_printf(out, " \"%s\"", d->topic_id);
        if (!rc)
            rc = loa_buf_printf(out, " (messaging_type %s%s, recipient %s)",
                                loa_rules_mtype_name(d->messaging_type),
                                d->messaging_type_required ? "" : ", optional",
                                recipient_name(d->recipient));
        if (!rc && d->until != INT64_MAX) {
            loa__rules_fmt_time(d->until, t, sizeof(t));
            rc = loa_buf_printf(out, " until %s", t);
        }
        if (!rc)
            rc = loa_buf_puts(out, "; ");
    }
    if (!rc && d->rule_id) {
        loa__rules_fmt_time(d->rule_effective, t, sizeof(t));
        rc = loa_buf_printf(out, "rule %s (effective %s, source %s): ", d->rule_id, t,
                            d->rule_source ? d->rule_source : "");
    }
    if (!rc)
        rc = loa_buf_puts(out, d->reason);
    if (!rc && !d->allowed && d->retry_at) {
        loa__rules_fmt_time(d->retry_at, t, sizeof(t));
        rc = loa_buf_printf(out, " (allowed again from %s)", t);
    }
    return rc;
}

static json_t *rule_json(const struct loa_rule_info *ri)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(ri->id));
    json_object_set_new(o, "rule", json_string(ri->rule));
    json_object_set_new(o, "title", json_string(ri->title));
    json_object_set_new(o, "effective_from", json_time(ri->effective_from));
    /* effective_until is the last day in force, as in the file */
    json_object_set_new(o, "effective_until",
                        ri->effective_until == INT64_MAX
                            ? json_null()
                            : json_time(ri->effective_until - 24 * 3600 * (int64_t)1000));
    json_object_set_new(o, "source", json_string(ri->source));
    if (ri->note[0])
        json_object_set_new(o, "note", json_string(ri->note));
    json_t *p = json_loads(ri->parameters, 0, NULL);
    json_object_set_new(o, "parameters", p ? p : json_object());
    return o;
}

int loa_rules_format_list(const struct loa_rules *r, int64_t at, bool all, bool json,
                          struct loa_buf *out)
{
    json_t *arr = json ? json_array() : NULL;
    int rc = 0;
    for (size_t i = 0; i < loa_rules_count(r) && !rc; i++) {
        struct loa_rule_info ri;
        if (loa_rules_get(r, i, &ri) || (!all && !loa_rules_in_force(r, i, at)))
            continue;
        if (json) {
            json_array_append_new(arr, rule_json(&ri));
            continue;
        }
        char from[40], until[40] = "";
        loa__rules_fmt_time(ri.effective_from, from, sizeof(from));
        if (ri.effective_until != INT64_MAX)
            loa__rules_fmt_time(ri.effective_until - 24 * 3600 * (int64_t)1000, until,
                                sizeof(until));
        if (until[0])
            rc = loa_buf_printf(out, "%s [%s] %s to %s\n", ri.id, ri.rule, from, until);
        else
            rc = loa_buf_printf(out, "%s [%s] from %s\n", ri.id, ri.rule, from);
        if (!rc)
            rc = loa_buf_printf(out, "  %s\n  source: %s\n  parameters: %s\n", ri.title, ri.source,
                                ri.parameters);
        if (!rc && ri.note[0])
            rc = loa_buf_printf(out, "  note: %s\n", ri.note);
    }
    if (json)
        rc = put_json(out, arr);
    return rc;
}
