/* SPDX-License-Identifier: MIT */
/*
 * POST /api/v1/rules/explain: the inputs of `loa rules explain` as JSON, or a stored
 * subscriber ("subscriber_id") whose interaction history fills the person; answers the
 * decision as JSON (loa_rules_format_decision).
 */
#include <string.h>

#include <jansson.h>

#include <loa/alloc.h>
#include <loa/buf.h>
#include <loa/clock.h>
#include <loa/err.h>
#include <loa/rules.h>

#include "serve_int.h"

#define MAX_TOKENS 16

static const char *const known_fields[] = {
    "at",
    "last_interaction",
    "kind",
    "ctm_ad",
    "first_seen",
    "page_activated",
    "sent_after_window",
    "purpose",
    "structured",
    "sender",
    "route",
    "staff",
    "tokens",
    "subscriber_id",
    "country",
    "marketing",
    "template",
    "accept",
    "routes",
};

/* Reads an optional time field; false with 400 set. */
static bool time_field(json_t *o, const char *key, int64_t *out, struct loa_http_resp *resp)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return true;
    if (!json_is_string(v) || loa_time_parse(json_string_value(v), out) < 0) {
        loa_http_error(resp, 400, key, "must be an ISO 8601 time such as 2026-05-01T10:00Z");
        return false;
    }
    return true;
}

static bool enum_field(json_t *o, const char *key, const char *a, const char *b, int *out,
                       struct loa_http_resp *resp)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return true;
    const char *s = json_string_value(v);
    if (s && strcmp(s, a) == 0)
        *out = 0;
    else if (s && strcmp(s, b) == 0)
        *out = 1;
    else {
        loa_http_error(resp, 400, key, "must be \"%s\" or \"%s\"", a, b);
        return false;
    }
    return true;
}

static bool read_tokens(json_t *arr, int64_t at, struct loa_rules_token *t, size_t *n,
                        struct loa_http_resp *resp)
{
    if (!json_is_array(arr) || json_array_size(arr) > MAX_TOKENS) {
        loa_http_error(resp, 400, "tokens", "must be an array of at most %d tokens", MAX_TOKENS);
        return false;
    }
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) {
        char where[48];
        memset(&t[i], 0, sizeof(t[i]));
        t[i].created = at;
        const char *topic = json_string_value(json_object_get(o, "topic"));
        snprintf(where, sizeof(where), "tokens[%zu].topic", i);
        if (!json_is_object(o) || !topic || !*topic) {
            loa_http_error(resp, 400, where, "each token needs a topic");
            return false;
        }
        t[i].topic_id = topic;
        const char *st = json_string_value(json_object_get(o, "status"));
        if (st && strcmp(st, "stopped") == 0)
            t[i].status = LOA_RULES_TOKEN_STOPPED;
        else if (st && strcmp(st, "active") != 0) {
            snprintf(where, sizeof(where), "tokens[%zu].status", i);
            loa_http_error(resp, 400, where, "must be \"active\" or \"stopped\"");
            return false;
        }
        const char *fr = json_string_value(json_object_get(o, "frequency"));
        if (fr && loa_rules_frequency_parse(fr, &t[i].frequency) < 0) {
            snprintf(where, sizeof(where), "tokens[%zu].frequency", i);
            loa_http_error(resp, 400, where, "must be DAILY, WEEKLY or MONTHLY");
            return false;
        }
        t[i].topic_inactive = json_is_true(json_object_get(o, "inactive"));
        static const char *const tf[] = { "created", "expires", "last_sent" };
        int64_t *dst[] = { &t[i].created, &t[i].expires, &t[i].last_sent };
        for (int k = 0; k < 3; k++) {
            snprintf(where, sizeof(where), "tokens[%zu].%s", i, tf[k]);
            json_t *v = json_object_get(o, tf[k]);
            if (v && (!json_is_string(v) || loa_time_parse(json_string_value(v), dst[k]) < 0)) {
                loa_http_error(resp, 400, where, "must be an ISO 8601 time");
                return false;
            }
        }
    }
    *n = json_array_size(arr);
    return true;
}

/* The fields of the 2025-2026 routes: country, marketing, template, accept. False with 400. */
static bool route_fields(json_t *o, struct loa_rules_person *p, struct loa_rules_request *rq,
                         struct loa_http_resp *resp)
{
    json_t *v = json_object_get(o, "country");
    if (v) {
        const char *c = json_string_value(v);
        if (!c || strlen(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z') {
            loa_http_error(resp, 400, "country", "must be two capital letters (ISO 3166-1: VN)");
            return false;
        }
        p->country = c;
    }
    int status = 0;
    if ((v = json_object_get(o, "marketing"))) {
        if (!enum_field(o, "marketing", "active", "stopped", &status, resp))
            return false;
        p->marketing.held = true;
        p->marketing.status = status ? LOA_RULES_TOKEN_STOPPED : LOA_RULES_TOKEN_ACTIVE;
    }
    if ((v = json_object_get(o, "template"))) {
        json_t *name = json_object_get(v, "name");
        json_t *approved = json_object_get(v, "approved");
        if (!json_is_object(v) || !json_is_string(name) || !*json_string_value(name) ||
            (approved && !json_is_boolean(approved))) {
            loa_http_error(resp, 400, "template",
                           "must be {\"name\": \"TEMPLATE\", \"approved\": true|false}");
            return false;
        }
        if (rq->route.kind == LOA_RULES_ROUTE_UTILITY && rq->route.template_id &&
            strcmp(rq->route.template_id, json_string_value(name)) != 0) {
            loa_http_error(resp, 400, "template", "names another template than route");
            return false;
        }
        rq->route.template_id = json_string_value(name);
        rq->route.template_approved = !approved || json_is_true(approved);
    }
    if ((v = json_object_get(o, "accept"))) {
        size_t i;
        json_t *it;
        rq->accept = 0;
        if (!json_is_array(v) || json_array_size(v) == 0) {
            loa_http_error(resp, 400, "accept", "must be a list of topic, marketing, utility");
            return false;
        }
        json_array_foreach(v, i, it) {
            const char *r = json_string_value(it);
            enum loa_rules_route_kind k = r && strcmp(r, "topic") == 0 ? LOA_RULES_ROUTE_TOPIC
                                          : r && strcmp(r, "marketing") == 0
                                              ? LOA_RULES_ROUTE_MARKETING
                                          : r && strcmp(r, "utility") == 0 ? LOA_RULES_ROUTE_UTILITY
                                                                           : LOA_RULES_ROUTE_AUTO;
            if (k == LOA_RULES_ROUTE_AUTO) {
                char where[32];
                snprintf(where, sizeof(where), "accept[%zu]", i);
                loa_http_error(resp, 400, where, "must be topic, marketing or utility");
                return false;
            }
            rq->accept |= LOA_RULES_ROUTE_BIT(k);
        }
    }
    return true;
}

void api_rules_explain(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    struct serve_app *app = ctx;
    if (!app->rules) {
        loa_http_error(resp, 503, NULL, "the rules file is not loaded (see the log)");
        return;
    }
    json_t *o = api_body(req, resp);
    if (!o)
        return;
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        bool found = false;
        for (size_t i = 0; i < sizeof(known_fields) / sizeof(known_fields[0]); i++)
            found |= strcmp(k, known_fields[i]) == 0;
        if (!found) {
            loa_http_error(resp, 400, k, "unknown field");
            goto out;
        }
    }
    struct loa_rules_person person = { .last_action = LOA_RULES_ACT_MESSAGE };
    struct loa_rules_request rq = { .person = &person, .at = loa_now_ms() };
    struct loa_rules_token tokens[MAX_TOKENS];
    size_t ntokens = 0;
    if (!time_field(o, "at", &rq.at, resp))
        goto out;
    json_t *sid = json_object_get(o, "subscriber_id");
    if (sid) {
        if (!json_is_integer(sid)) {
            loa_http_error(resp, 400, "subscriber_id", "must be an integer");
            goto out;
        }
        struct loa_store *st = api_store(app, resp);
        if (!st)
            goto out;
        struct loa_subscriber s;
        int rc = loa_store_subscriber_get(st, (int64_t)json_integer_value(sid), &s);
        if (rc < 0) {
            api_fail(resp, rc, "subscriber_id", "subscriber");
            goto out;
        }
        person.last_interaction = s.last_interaction_at;
        if (!s.last_interaction_kind ||
            loa_rules_action_parse(s.last_interaction_kind, &person.last_action) < 0)
            person.last_action = LOA_RULES_ACT_NONE;
        person.first_after_ctm_ad = s.first_after_ctm_ad;
        person.first_seen = s.first_seen_at;
        loa_subscriber_release(&s);
    }
    if (!time_field(o, "last_interaction", &person.last_interaction, resp) ||
        !time_field(o, "first_seen", &person.first_seen, resp) ||
        !time_field(o, "page_activated", &person.page_activated, resp))
        goto out;
    const char *kind = json_string_value(json_object_get(o, "kind"));
    if (json_object_get(o, "kind") &&
        (!kind || loa_rules_action_parse(kind, &person.last_action) < 0)) {
        loa_http_error(resp, 400, "kind", "unknown interaction kind");
        goto out;
    }
    if (json_object_get(o, "ctm_ad"))
        person.first_after_ctm_ad = json_is_true(json_object_get(o, "ctm_ad"));
    v = json_object_get(o, "sent_after_window");
    if (v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 1000) {
            loa_http_error(resp, 400, "sent_after_window", "must be an integer from 0 to 1000");
            goto out;
        }
        person.sent_after_window = (unsigned)json_integer_value(v);
    }
    int purpose = 0, sender = 0;
    if (!enum_field(o, "purpose", "non-promotional", "promotional", &purpose, resp) ||
        !enum_field(o, "sender", "automation", "human", &sender, resp))
        goto out;
    rq.purpose = purpose ? LOA_RULES_PROMOTIONAL : LOA_RULES_NON_PROMOTIONAL;
    rq.sender = sender ? LOA_RULES_HUMAN : LOA_RULES_AUTOMATION;
    rq.structured = json_is_true(json_object_get(o, "structured"));
    const char *route = json_string_value(json_object_get(o, "route"));
    if (json_object_get(o, "route") && (!route || loa_rules_route_parse(route, &rq.route) < 0)) {
        loa_http_error(resp, 400, "route",
                       "must be auto, window, human_agent, marketing, tag:NAME, topic:ID or "
                       "utility:TEMPLATE");
        goto out;
    }
    if (!route_fields(o, &person, &rq, resp))
        goto out;
    if (json_object_get(o, "tokens") &&
        !read_tokens(json_object_get(o, "tokens"), rq.at, tokens, &ntokens, resp))
        goto out;
    if (person.last_interaction == 0)
        person.last_action = LOA_RULES_ACT_NONE;
    person.tokens = tokens;
    person.token_count = ntokens;
    if (json_is_true(json_object_get(o, "routes"))) {
        /* Every route in auto's order, each with its verdict, and the one auto takes. */
        struct loa_rules_routes all;
        loa_rules_routes(app->rules, &rq, 0, &all);
        struct loa_buf b;
        loa_buf_init(&b, 1 << 20);
        int frc = loa_buf_puts(&b, "{\"routes\":[");
        for (size_t i = 0; frc == 0 && i < all.n; i++)
            if ((frc = loa_buf_puts(&b, i ? "," : "")) == 0)
                frc = loa_rules_format_decision(&all.v[i], true, &b);
        if (frc == 0)
            frc = loa_buf_printf(&b, "],\"best\":%d}", all.best);
        if (frc < 0)
            loa_http_error(resp, 500, NULL, "decision too large");
        else
            loa_http_json(resp, 200, loa_buf_cstr(&b));
        loa_buf_release(&b);
        goto out;
    }
    struct loa_rules_decision d;
    int rc = json_is_true(json_object_get(o, "staff"))
                 ? loa_rules_staff_reply(app->rules, &person, rq.purpose, rq.at, &d, NULL)
                 : loa_rules_decide(app->rules, &rq, &d);
    if (rc < 0) {
        loa_http_error(resp, 400, "route", "%s", d.reason);
        goto out;
    }
    struct loa_buf b;
    loa_buf_init(&b, 1 << 20);
    if (loa_rules_format_decision(&d, true, &b) < 0)
        loa_http_error(resp, 500, NULL, "decision too large");
    else
        loa_http_json(resp, 200, loa_buf_cstr(&b));
    loa_buf_release(&b);
out:
    json_decref(o);
}
