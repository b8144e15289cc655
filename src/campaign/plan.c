/* SPDX-License-Identifier: MIT */
/*
 * Campaign plans (include/loa/campaign.h): validating a campaign's parts with JSON paths before
 * it is stored and compiling its blocks with the campaign's click-tracking payload prefix. The
 * payload prefix ("loa:c:<id>:") is how a postback or quick reply names the campaign it came
 * from (docs/campaigns.md, "Funnel").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <loa/alloc.h>
#include <loa/audience.h>
#include <loa/campaign.h>
#include <loa/err.h>
#include <loa/msg.h>
#include <loa/rules.h>

/* The longest id a campaign can have, for validating payload lengths before it exists. */
#define LONGEST_ID 999999999999LL

static void prefix_payload(json_t *holder, const char *prefix)
{
    json_t *p = json_object_get(holder, "payload");
    if (!json_is_string(p))
        return;
    size_t n = strlen(prefix) + json_string_length(p) + 1;
    char *v = loa_malloc(n);
    snprintf(v, n, "%s%s", prefix, json_string_value(p));
    json_object_set_new(holder, "payload", json_string(v));
    loa_free(v);
}

static void prefix_buttons(json_t *buttons, const char *prefix)
{
    size_t i;
    json_t *b;
    json_array_foreach(buttons, i, b) {
        const char *type = json_string_value(json_object_get(b, "type"));
        if (type && strcmp(type, "postback") == 0)
            prefix_payload(b, prefix);
    }
}

/* Adds the campaign prefix to every postback and quick-reply payload; leaves bad shapes to
   the msg module's validation. */
static void rewrite(json_t *root, const char *prefix)
{
    json_t *blocks = json_object_get(root, "blocks");
    size_t i, j;
    json_t *blk, *x;
    json_array_foreach(blocks, i, blk) {
        if (!json_is_object(blk))
            continue;
        json_array_foreach(json_object_get(blk, "quick_replies"), j, x) {
            if (json_is_object(x))
                prefix_payload(x, prefix);
        }
        prefix_buttons(json_object_get(blk, "buttons"), prefix);
        json_array_foreach(json_object_get(blk, "cards"), j, x) {
            if (json_is_object(x))
                prefix_buttons(json_object_get(x, "buttons"), prefix);
        }
        json_array_foreach(json_object_get(blk, "elements"), j, x) {
            if (json_is_object(x))
                prefix_buttons(json_object_get(x, "buttons"), prefix);
        }
    }
}

int loa_campaign_compile(const char *blocks, int64_t campaign_id, const struct loa_limits *limits,
                         struct loa_msg **out, struct loa_diags *diags)
{
    char prefix[48];
    snprintf(prefix, sizeof(prefix), LOA_DISPATCH_PAYLOAD_PREFIX "%lld:", (long long)campaign_id);
    return loa_blocks_compile(blocks, prefix, limits, out, diags);
}

int loa_blocks_compile(const char *blocks, const char *prefix, const struct loa_limits *limits,
                       struct loa_msg **out, struct loa_diags *diags)
{
    *out = NULL;
    json_error_t err;
    json_t *root = json_loads(blocks, JSON_REJECT_DUPLICATES, &err);
    if (!root) {
        /* Let the msg module word the complaint (line and column). */
        return loa_msg_parse(blocks, strlen(blocks), limits, diags, out);
    }
    if (json_is_object(root))
        rewrite(root, prefix);
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!text)
        return LOA_ENOMEM;
    int rc = loa_msg_parse(text, strlen(text), limits, diags, out);
    free(text); /* jansson allocates with malloc */
    struct loa_msg_wait w;
    if (rc == 0 && loa_msg_get_wait(*out, &w) == 0 && w.after < loa_msg_sendable_count(*out)) {
        /* The answer is waited for once everything is sent: nothing can come after it. */
        loa_diags_add(diags, 0, 0, "blocks",
                      "wait_reply must be the last block: what follows the answer goes in the "
                      "next message (a sequence's next step)");
        loa_msg_free(*out);
        *out = NULL;
        rc = LOA_EINVAL;
    }
    return rc;
}

static int check_one_of(const char *v, const char *const *allowed, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        if (strcmp(v, allowed[i]) == 0)
            return 0;
    return LOA_EINVAL;
}

int loa_campaign_validate(const struct loa_rules *rules, const char *goal, const char *blocks,
                          const char *filter, const char *purpose, const char *tag, int64_t now,
                          struct loa_diags *diags)
{
    int rc = 0;
    static const char *const goals[] = { "promotion", "care", "engagement" };
    static const char *const purposes[] = { "promotional", "non_promotional" };
    if (goal && check_one_of(goal, goals, 3) < 0) {
        loa_diags_add(diags, 0, 0, "goal", "must be \"promotion\", \"care\" or \"engagement\"");
        rc = LOA_EINVAL;
    }
    if (purpose && check_one_of(purpose, purposes, 2) < 0) {
        loa_diags_add(diags, 0, 0, "purpose", "must be \"promotional\" or \"non_promotional\"");
        rc = LOA_EINVAL;
    }
    if (blocks) {
        struct loa_msg *m = NULL;
        if (loa_campaign_compile(blocks, LONGEST_ID, NULL, &m, diags) < 0)
            rc = LOA_EINVAL;
        loa_msg_free(m);
    }
    if (filter) {
        struct loa_audience_node *f = NULL;
        if (loa_audience_parse(filter, strlen(filter), now, "filter", &f, diags) < 0)
            rc = LOA_EINVAL;
        loa_audience_free(f);
    }
    if (tag && *tag) {
        if (purpose && strcmp(purpose, "promotional") == 0) {
            loa_diags_add(diags, 0, 0, "tag",
                          "a promotional campaign cannot use a message tag (tags are for "
                          "non-promotional updates)");
            rc = LOA_EINVAL;
        } else if (rules) {
            /* Ask the rules about a person outside the window: the tag route decides alone. */
            struct loa_rules_person p = { .last_interaction = 1, .page_activated = 1 };
            struct loa_rules_request q = {
                .person = &p,
                .purpose = LOA_RULES_NON_PROMOTIONAL,
                .route = { .kind = LOA_RULES_ROUTE_TAG, .tag = tag },
                .at = now,
            };
            struct loa_rules_decision d;
            loa_rules_decide(rules, &q, &d);
            if (!d.allowed &&
                (strcmp(d.code, "tag_unknown") == 0 || strcmp(d.code, "tag_retired") == 0)) {
                loa_diags_add(diags, 0, 0, "tag", "%s (rule %s)", d.reason,
                              d.rule_id ? d.rule_id : "-");
                rc = LOA_EINVAL;
            }
        }
    }
    return rc;
}

int loa_campaign_parse_hhmm(const char *s, int *min_out)
{
    if (!s || strlen(s) != 5 || s[2] != ':')
        return LOA_EINVAL;
    for (int i = 0; i < 5; i++)
        if (i != 2 && (s[i] < '0' || s[i] > '9'))
            return LOA_EINVAL;
    int h = (s[0] - '0') * 10 + (s[1] - '0');
    int m = (s[3] - '0') * 10 + (s[4] - '0');
    if (h > 24 || m > 59 || (h == 24 && m != 0))
        return LOA_EINVAL;
    *min_out = h * 60 + m;
    return 0;
}
