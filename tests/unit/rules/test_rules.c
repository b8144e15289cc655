/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the rules module: the shipped rules file, every rule before and after its
 * date, the staff-reply and opt-in helpers, the text/JSON output, and the loader's complaints.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <loa/buf.h>
#include <loa/clock.h>
#include <loa/diag.h>
#include <loa/err.h>
#include <loa/limits.h>
#include <loa/rules.h>

#define SHIPPED LOA_SOURCE_DIR "/rules/messaging-rules.json"

static struct loa_rules *R;

static int64_t t(const char *s)
{
    int64_t ms = 0;
    if (loa_time_parse(s, &ms) != 0)
        fail_msg("bad time in test: %s", s);
    return ms;
}

/* A person whose last interaction was a message at last. */
static struct loa_rules_person who(const char *last)
{
    struct loa_rules_person p = { 0 };
    p.last_interaction = t(last);
    p.last_action = LOA_RULES_ACT_MESSAGE;
    p.first_seen = t("2016-06-01");
    p.page_activated = t("2016-05-01");
    return p;
}

static struct loa_rules_decision ask(const struct loa_rules_person *p,
                                     enum loa_rules_purpose purpose, enum loa_rules_sender sender,
                                     bool structured, const char *route, const char *at)
{
    struct loa_rules_request q = {
        .person = p,
        .purpose = purpose,
        .structured = structured,
        .sender = sender,
        .at = t(at),
    };
    assert_int_equal(loa_rules_route_parse(route, &q.route), 0);
    struct loa_rules_decision d;
    assert_int_equal(loa_rules_decide(R, &q, &d), 0);
    return d;
}

/* Non-promotional, automated, not structured. */
static struct loa_rules_decision plain(const struct loa_rules_person *p, const char *route,
                                       const char *at)
{
    return ask(p, LOA_RULES_NON_PROMOTIONAL, LOA_RULES_AUTOMATION, false, route, at);
}

static void assert_refused(const struct loa_rules_decision *d, const char *code, const char *rule)
{
    if (d->allowed || strcmp(d->code, code) != 0 ||
        (rule && (!d->rule_id || strcmp(d->rule_id, rule) != 0)))
        fail_msg("want refused %s by %s, got %s %s by %s: %s", code, rule ? rule : "-",
                 d->allowed ? "allowed" : "refused", d->code, d->rule_id ? d->rule_id : "-",
                 d->reason);
}

static void assert_allowed(const struct loa_rules_decision *d, const char *code, const char *rule)
{
    if (!d->allowed || strcmp(d->code, code) != 0 ||
        (rule && (!d->rule_id || strcmp(d->rule_id, rule) != 0)))
        fail_msg("want allowed %s by %s, got %s %s by %s: %s", code, rule ? rule : "-",
                 d->allowed ? "allowed" : "refused", d->code, d->rule_id ? d->rule_id : "-",
                 d->reason);
}

static int setup(void **state)
{
    (void)state;
    struct loa_diags d;
    loa_diags_init(&d, 0);
    int rc = loa_rules_load(SHIPPED, &R, &d);
    loa_diags_print(&d, stderr, SHIPPED);
    loa_diags_release(&d);
    return rc;
}

static int teardown(void **state)
{
    (void)state;
    loa_rules_free(R);
    R = NULL;
    return 0;
}

/* ---------------------------------------------------------------------------------------- */

static void shipped_file_loads_without_complaint(void **state)
{
    (void)state;
    struct loa_diags d;
    loa_diags_init(&d, 0);
    struct loa_rules *r = NULL;
    int64_t t0 = loa_mono_ms();
    for (int i = 0; i < 100; i++) {
        assert_int_equal(loa_rules_load(SHIPPED, &r, &d), 0);
        loa_rules_free(r);
    }
    int64_t took = loa_mono_ms() - t0;
    assert_true(loa_diags_empty(&d));
    /* 100 loads; about 0.2 ms each without sanitizers. Generous bound for slow CI. */
    assert_true(took < 2000);
    assert_int_equal(loa_rules_count(R), 22);
    struct loa_rule_info ri;
    assert_int_equal(loa_rules_get(R, 5, &ri), 0);
    assert_string_equal(ri.id, "tags-2026");
    assert_string_equal(ri.rule, "message_tags");
    assert_int_equal(ri.effective_from, t("2026-04-27"));
    assert_int_equal(ri.effective_until, INT64_MAX);
    assert_non_null(strstr(ri.parameters, "HUMAN_AGENT"));
    assert_int_equal(loa_rules_get(R, 22, &ri), LOA_ERANGE);
    loa_diags_release(&d);
}

static void window_24h_at_2359_and_2401(void **state)
{
    (void)state;
    struct loa_rules_person p = who("2024-05-01T10:00Z");
    struct loa_rules_decision d = plain(&p, "window", "2024-05-02T09:59Z");
    assert_allowed(&d, "window_open", "window-24h");
    assert_int_equal(d.messaging_type, LOA_RULES_MT_UPDATE);
    assert_int_equal(d.recipient, LOA_RULES_TO_PSID);
    assert_int_equal(d.until, t("2024-05-02T10:00Z"));
    d = plain(&p, "window", "2024-05-02T10:00Z");
    assert_refused(&d, "window_closed", "window-24h");
    d = plain(&p, "window", "2024-05-02T10:01Z");
    assert_refused(&d, "window_closed", "window-24h");
    /* The same in 2019 and 2026. */
    p = who("2019-05-01T10:00Z");
    d = plain(&p, "window", "2019-05-02T09:59Z");
    assert_allowed(&d, "window_open", "window-24h");
    p = who("2026-05-01T10:00Z");
    d = plain(&p, "window", "2026-05-02T10:01Z");
    assert_refused(&d, "window_closed", "window-24h");
    /* A human reply in the window is a RESPONSE. */
    d = ask(&p, LOA_RULES_NON_PROMOTIONAL, LOA_RULES_HUMAN, false, "window", "2026-05-01T12:00Z");
    assert_int_equal(d.messaging_type, LOA_RULES_MT_RESPONSE);
}

static void window_openers_and_optin(void **state)
{
    (void)state;
    static const enum loa_rules_action opens[] = {
        LOA_RULES_ACT_MESSAGE,      LOA_RULES_ACT_POSTBACK,        LOA_RULES_ACT_QUICK_REPLY,
        LOA_RULES_ACT_GET_STARTED,  LOA_RULES_ACT_REFERRAL,        LOA_RULES_ACT_REFERRAL_AD,
        LOA_RULES_ACT_REFERRAL_MME, LOA_RULES_ACT_REFERRAL_PLUGIN, LOA_RULES_ACT_REACTION,
    };
    struct loa_rules_person p = who("2024-05-01T10:00Z");
    struct loa_rules_decision d;
    for (size_t i = 0; i < sizeof(opens) / sizeof(opens[0]); i++) {
        p.last_action = opens[i];
        d = plain(&p, "window", "2024-05-01T11:00Z");
        assert_allowed(&d, "window_open", "window-24h");
    }
    p.last_action = LOA_RULES_ACT_OPTIN;
    d = plain(&p, "window", "2024-05-01T11:00Z");
    assert_refused(&d, "no_window", "window-24h");
    assert_non_null(strstr(d.reason, "optin does not open"));
    p.last_action = LOA_RULES_ACT_COMMENT; /* open question 6: the safer answer */
    d = plain(&p, "window", "2024-05-01T11:00Z");
    assert_refused(&d, "no_window", "window-24h");
    struct loa_rules_person nobody = { 0 };
    d = plain(&nobody, "auto", "2024-05-01T11:00Z");
    assert_refused(&d, "no_window", "window-24h");
}

static void promotional_only_in_window_never_with_a_tag(void **state)
{
    (void)state;
    static const char *const years[][3] = {
        { "2019-05-01T10:00Z", "2019-05-01T12:00Z", "tag:SHIPPING_UPDATE" },
        { "2021-05-01T10:00Z", "2021-05-01T12:00Z", "tag:POST_PURCHASE_UPDATE" },
        { "2024-05-01T10:00Z", "2024-05-01T12:00Z", "tag:ACCOUNT_UPDATE" },
        { "2026-05-01T10:00Z", "2026-05-01T12:00Z", "human_agent" },
    };
    for (size_t i = 0; i < 4; i++) {
        struct loa_rules_person p = who(years[i][0]);
        struct loa_rules_decision d =
            ask(&p, LOA_RULES_PROMOTIONAL, LOA_RULES_HUMAN, false, "window", years[i][1]);
        assert_allowed(&d, "window_open", "window-24h");
        d = ask(&p, LOA_RULES_PROMOTIONAL, LOA_RULES_HUMAN, false, years[i][2], years[i][1]);
        assert_refused(&d, "promotional_tag", "promotional-content");
    }
    /* Out of the window, promotional with auto and no token: refused by the window. */
    struct loa_rules_person p = who("2024-05-01T10:00Z");
    struct loa_rules_decision d =
        ask(&p, LOA_RULES_PROMOTIONAL, LOA_RULES_AUTOMATION, false, "auto", "2024-05-03T10:00Z");
    assert_refused(&d, "window_closed", "window-24h");
}

static void message_tags_by_date(void **state)
{
    (void)state;
    struct loa_rules_person p = who("2019-01-01T10:00Z");
    struct loa_rules_decision d = plain(&p, "tag:CONFIRMED_EVENT_REMINDER", "2019-06-01T10:00Z");
    assert_allowed(&d, "tag", "tags-legacy");
    assert_int_equal(d.messaging_type, LOA_RULES_MT_MESSAGE_TAG);
    assert_string_equal(d.tag, "CONFIRMED_EVENT_REMINDER");
    assert_int_equal(d.until, t("2020-03-04"));
    d = plain(&p, "tag:CONFIRMED_EVENT_REMINDER", "2020-03-03T23:59Z");
    assert_allowed(&d, "tag", "tags-legacy");
    d = plain(&p, "tag:CONFIRMED_EVENT_REMINDER", "2020-03-04T00:00Z");
    assert_refused(&d, "tag_retired", "tags-2020");
    d = plain(&p, "tag:CONFIRMED_EVENT_REMINDER", "2021-06-01T10:00Z");
    assert_refused(&d, "tag_retired", "tags-2020");
    /* POST_PURCHASE_UPDATE did not exist in 2019. */
    d = plain(&p, "tag:POST_PURCHASE_UPDATE", "2019-06-01T10:00Z");
    assert_refused(&d, "tag_unknown", "tags-legacy");
    d = plain(&p, "tag:POST_PURCHASE_UPDATE", "2024-06-01T10:00Z");
    assert_allowed(&d, "tag", "tags-2020");
    assert_int_equal(d.until, t("2026-04-27"));
    d = plain(&p, "tag:POST_PURCHASE_UPDATE", "2026-04-26T23:59Z");
    assert_allowed(&d, "tag", "tags-2020");
    d = plain(&p, "tag:POST_PURCHASE_UPDATE", "2026-05-01T10:00Z");
    assert_refused(&d, "tag_retired", "tags-2026");
    assert_string_equal(d.reason,
                        "POST_PURCHASE_UPDATE is retired; only HUMAN_AGENT may be sent outside the "
                        "window");
    assert_int_equal(d.rule_effective, t("2026-04-27"));
    d = plain(&p, "tag:MADE_UP", "2024-06-01T10:00Z");
    assert_refused(&d, "tag_unknown", "tags-2020");
}

static void human_agent_seven_days(void **state)
{
    (void)state;
    struct loa_rules_person p = who("2026-05-01T10:00Z");
    struct loa_rules_decision d = ask(&p, LOA_RULES_NON_PROMOTIONAL, LOA_RULES_HUMAN, false,
                                      "human_agent", "2026-05-07T10:00Z");
    assert_allowed(&d, "human_agent", "human-agent-7d");
    assert_string_equal(d.tag, "HUMAN_AGENT");
    assert_int_equal(d.messaging_type, LOA_RULES_MT_MESSAGE_TAG);
    assert_int_equal(d.until, t("2026-05-08T10:00Z"));
    d = ask(&p, LOA_RULES_NON_PROMOTIONAL, LOA_RULES_HUMAN, false, "tag:HUMAN_AGENT",
            "2026-05-09T10:00Z");
    assert_refused(&d, "human_agent_expired", "human-agent-7d");
    assert_int_equal(d.route, LOA_RULES_ROUTE_HUMAN_AGENT);
    /* Automation may not use it, in 2021 or 2026. */
    d = plain(&p, "human_agent", "2026-05-02T10:00Z");
    assert_refused(&d, "human_only", "human-agent-7d");
    p = who("2021-05-01T10:00Z");
    d = plain(&p, "human_agent", "2021-05-02T10:00Z");
    assert_refused(&d, "human_only", "human-agent-7d");
    d = ask(&p, LOA_RULES_NON_PROMOTIONAL, LOA_RULES_HUMAN, false, "human_agent",
            "2021-05-07T10:00Z");
    assert_allowed(&d, "human_agent", "human-agent-7d");
    /* 2019: a legacy tag (beta), the 7-day rule dates from 2020-03-04. */
    p = who("2019-05-01T10:00Z");
    d = ask(&p, LOA_RULES_NON_PROMOTIONAL, LOA_RULES_HUMAN, false, "human_agent",
            "2019-05-20T10:00Z");
    assert_allowed(&d, "human_agent", "tags-legacy");
}

static void messaging_type_required_from_2018(void **state)
{
    (void)state;
    struct loa_rules_person p = who("2017-05-01T10:00Z");
    struct loa_rules_decision d = plain(&p, "window", "2017-05-01T11:00Z");
    assert_allowed(&d, "window_open", NULL);
    assert_false(d.messaging_type_required);
    p = who("2018-05-07T10:00Z");
    d = plain(&p, "window", "2018-05-07T11:00Z");
    assert_true(d.messaging_type_required);
}

static void ctm_ad_seven_days_only_from_2026_09(void **state)
{
    (void)state;
    struct loa_rules_person p = who("2026-08-20T10:00Z");
    p.first_after_ctm_ad = true;
    struct loa_rules_decision d = plain(&p, "window", "2026-08-23T10:00Z");
    assert_refused(&d, "window_closed", "window-24h");
    p = who("2026-09-05T10:00Z");
    p.first_after_ctm_ad = true;
    d = ask(&p, LOA_RULES_PROMOTIONAL, LOA_RULES_AUTOMATION, false, "auto", "2026-09-10T10:00Z");
    assert_allowed(&d, "ctm_window_open", "ctm-7d");
    assert_int_equal(d.until, t("2026-09-12T10:00Z"));
    d = plain(&p, "window", "2026-09-12T10:01Z");
    assert_refused(&d, "window_closed", "ctm-7d");
    p.first_after_ctm_ad = false;
    d = plain(&p, "window", "2026-09-07T10:00Z");
    assert_refused(&d, "window_closed", "window-24h");
}

static void plus_one_before_2020(void **state)
{
    (void)state;
    struct loa_rules_person p = who("2019-05-01T10:00Z");
    struct loa_rules_decision d = plain(&p, "auto", "2019-05-05T10:00Z");
    assert_allowed(&d, "plus_one", "plus-one-legacy");
    assert_int_equal(d.messaging_type, LOA_RULES_MT_UPDATE);
    d = ask(&p, LOA_RULES_PROMOTIONAL, LOA_RULES_AUTOMATION, false, "window", "2019-05-05T10:00Z");
    assert_refused(&d, "promotional_plus_one", "plus-one-legacy");
    p.sent_after_window = 1;
    d = plain(&p, "window", "2019-05-05T10:00Z");
    assert_refused(&d, "window_closed", "window-24h");
    p = who("2021-05-01T10:00Z");
    d = plain(&p, "window", "2021-05-05T10:00Z");
    assert_refused(&d, "window_closed", "window-24h");
}

static void topic_cadence_24h_then_48h(void **state)
{
    (void)state;
    struct loa_rules_token tok = { .topic_id = "sale", .created = t("2025-06-01") };
    struct loa_rules_person p = who("2025-06-01");
    p.tokens = &tok;
    p.token_count = 1;
    tok.last_sent = t("2025-08-30T10:00Z");
    struct loa_rules_decision d = ask(&p, LOA_RULES_PROMOTIONAL, LOA_RULES_AUTOMATION, false,
                                      "topic:sale", "2025-08-31T10:30Z");
    assert_allowed(&d, "topic_token", "topic-cadence-24h");
    assert_int_equal(d.recipient, LOA_RULES_TO_TOKEN);
    assert_string_equal(d.topic_id, "sale");
    assert_int_equal(d.messaging_type, LOA_RULES_MT_UPDATE);
    /* A token created after 2023-08-10 does not expire; the retirement of topics ends it for a
     * person outside the regions that keep them (country unknown here). */
    assert_int_equal(d.until, t("2026-01-12"));
    d = plain(&p, "topic:sale", "2025-08-31T09:59Z");
    assert_refused(&d, "cadence", "topic-cadence-24h");
    assert_int_equal(d.retry_at, t("2025-08-31T10:00Z"));
    tok.last_sent = t("2025-09-02T10:00Z");
    d = plain(&p, "topic:sale", "2025-09-03T10:30Z");
    assert_refused(&d, "cadence", "topic-cadence-48h");
    assert_int_equal(d.retry_at, t("2025-09-04T10:00Z"));
    d = plain(&p, "topic:sale", "2025-09-04T10:01Z");
    assert_allowed(&d, "topic_token", "topic-cadence-48h");
}

static void topic_token_states(void **state)
{
    (void)state;
    struct loa_rules_token tok = { .topic_id = "sale", .created = t("2024-03-01") };
    struct loa_rules_person p = who("2024-03-01");
    p.tokens = &tok;
    p.token_count = 1;
    struct loa_rules_decision d = plain(&p, "topic:sale", "2024-05-01T10:00Z");
    assert_allowed(&d, "topic_token", "topic-cadence-24h");
    d = plain(&p, "topic:other", "2024-05-01T10:00Z");
    assert_refused(&d, "no_token", NULL);
    tok.status = LOA_RULES_TOKEN_STOPPED;
    d = plain(&p, "topic:sale", "2024-05-01T10:00Z");
    assert_refused(&d, "token_stopped", NULL);
    tok.status = LOA_RULES_TOKEN_ACTIVE;
    /* Created after 2023-08-10: no expiry. */
    d = plain(&p, "topic:sale", "2025-09-01T00:00Z");
    assert_allowed(&d, "topic_token", "topic-cadence-48h");
    assert_non_null(strstr(d.reason, "does not expire"));
    /* Created before: DAILY lives 6 months. */
    tok.created = t("2023-03-01");
    d = plain(&p, "topic:sale", "2023-08-31T23:59Z");
    assert_allowed(&d, "topic_token", "topic-cadence-24h");
    assert_int_equal(d.until, t("2023-09-01"));
    d = plain(&p, "topic:sale", "2023-09-01T00:00Z");
    assert_refused(&d, "token_expired", "topic-frequencies-2023");
    tok.created = t("2024-03-01");
    tok.expires = t("2024-04-15");
    d = plain(&p, "topic:sale", "2024-04-16T10:00Z");
    assert_refused(&d, "token_expired", NULL);
    tok.expires = 0;
    tok.topic_inactive = true;
    d = plain(&p, "topic:sale", "2024-05-01T10:00Z");
    assert_refused(&d, "topic_inactive", "topic-policy");
    tok.topic_inactive = false;
    d = ask(&p, LOA_RULES_NON_PROMOTIONAL, LOA_RULES_AUTOMATION, true, "topic:sale",
            "2024-05-01T10:00Z");
    assert_refused(&d, "topic_text_only", "topic-policy");
    /* Before topics existed. */
    tok.created = t("2021-03-01");
    d = plain(&p, "topic:sale", "2021-05-01T10:00Z");
    assert_refused(&d, "topics_unavailable", NULL);
}

static void topic_frequencies_before_and_after_2023(void **state)
{
    (void)state;
    struct loa_rules_token tok = { .topic_id = "news",
                                   .frequency = LOA_RULES_WEEKLY,
                                   .created = t("2022-06-01"),
                                   .last_sent = t("2023-02-01T10:00Z") };
    struct loa_rules_person p = who("2022-06-01");
    p.tokens = &tok;
    p.token_count = 1;
    /* A WEEKLY token created in 2022 keeps its frequency: 9 months, one per week. */
    struct loa_rules_decision d = plain(&p, "topic:news", "2023-02-07T10:00Z");
    assert_refused(&d, "cadence", NULL);
    assert_int_equal(d.retry_at, t("2023-02-08T10:00Z"));
    d = plain(&p, "topic:news", "2023-02-09T10:00Z");
    assert_allowed(&d, "topic_token", NULL);
    d = plain(&p, "topic:news", "2023-03-01T00:00Z");
    assert_refused(&d, "token_expired", "topic-frequencies-2022");
    /* A WEEKLY token created after 2023-01-30 has no lifetime. */
    tok.created = t("2023-06-01");
    tok.last_sent = 0;
    d = plain(&p, "topic:news", "2023-06-05T10:00Z");
    assert_refused(&d, "token_frequency", "topic-frequencies-2023");
}

static void topics_retired_in_2026(void **state)
{
    (void)state;
    struct loa_rules_token tok = { .topic_id = "sale", .created = t("2025-12-01") };
    struct loa_rules_person p = who("2025-12-01");
    p.tokens = &tok;
    p.token_count = 1;
    struct loa_rules_decision d = plain(&p, "topic:sale", "2026-01-11T10:00Z");
    assert_allowed(&d, "topic_token", "topic-cadence-48h");
    assert_int_equal(d.until, t("2026-01-12")); /* the retirement comes first */
    d = plain(&p, "topic:sale", "2026-01-12T00:00Z");
    assert_refused(&d, "topics_retired", "topics-retired");
    d = plain(&p, "topic:sale", "2026-03-01T10:00Z");
    assert_refused(&d, "topics_retired", "topics-retired");
    assert_non_null(strstr(d.reason, "country is unknown"));
    /* Recipients in the EU, the UK, AU, JP and KR keep their topics. */
    p.country = "VN";
    d = plain(&p, "topic:sale", "2026-03-01T10:00Z");
    assert_refused(&d, "topics_retired", "topics-retired");
    assert_non_null(strstr(d.reason, "this person is in VN"));
    const char *kept[] = { "FR", "GB", "AU", "JP", "KR", "DE" };
    for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
        p.country = kept[i];
        d = plain(&p, "topic:sale", "2026-12-03T10:00Z");
        assert_allowed(&d, "topic_token", "topic-cadence-48h");
        assert_int_equal(d.until, INT64_MAX); /* no expiry, no retirement for them */
    }
    /* Before the retirement, their token is not cut short by it. */
    d = plain(&p, "topic:sale", "2026-01-11T10:00Z");
    assert_int_equal(d.until, INT64_MAX);
    /* Invitations follow the same regions. */
    struct loa_rules_invite inv = { .topic_id = "new" };
    p.country = "VN";
    assert_int_equal(loa_rules_may_invite(R, &p, &inv, t("2026-12-01T10:30Z"), &d), 0);
    assert_refused(&d, "topics_retired", "topics-retired");
    p = who("2026-12-01T10:00Z");
    p.country = "IE";
    assert_int_equal(loa_rules_may_invite(R, &p, &inv, t("2026-12-01T10:30Z"), &d), 0);
    assert_allowed(&d, "invite_ok", "topic-optin");
}

/* Times at the ends of the range (a hostile webhook, a bad import) never overflow: the
 * sanitizer build aborts on signed overflow, so these cases would fail there. */
static void extreme_times_do_not_overflow(void **state)
{
    (void)state;
    struct loa_rules_token tok = { .topic_id = "sale",
                                   .created = INT64_MAX,
                                   .last_sent = INT64_MAX };
    struct loa_rules_person p = who("2026-11-30T10:00Z");
    p.last_interaction = INT64_MAX;
    p.first_after_ctm_ad = true;
    p.tokens = &tok;
    p.token_count = 1;
    p.country = "FR";
    const char *routes[] = { "auto", "window", "human_agent", "topic:sale", "marketing" };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        struct loa_rules_decision d = ask(&p, LOA_RULES_NON_PROMOTIONAL, LOA_RULES_HUMAN, false,
                                          routes[i], "2026-12-03T10:00Z");
        assert_non_null(d.code);
    }
    tok.created = t("2024-01-01");
    tok.last_sent = INT64_MAX - 1;
    struct loa_rules_decision d = plain(&p, "topic:sale", "2026-12-03T10:00Z");
    assert_refused(&d, "cadence", NULL);
    struct loa_rules_invite inv = { .topic_id = "x",
                                    .last_invite_same_title = INT64_MAX,
                                    .last_invite_topic = INT64_MAX };
    assert_int_equal(loa_rules_may_invite(R, &p, &inv, t("2026-12-03T10:00Z"), &d), 0);
    tok.created = -5;
    d = plain(&p, "topic:sale", "2026-12-03T10:00Z");
    assert_non_null(d.code);
}

/* Marketing messages: from 2025-07-01, to people who opted in, not stopped, outside the
 * excluded regions; a country that is unknown is not risked. */
static void marketing_messages_by_date_and_region(void **state)
{
    (void)state;
    struct loa_rules_person p = who("2025-06-01T10:00Z");
    p.marketing = (struct loa_rules_marketing){ .held = true, .created = t("2025-06-01") };
    p.country = "VN";
    struct loa_rules_decision d = ask(&p, LOA_RULES_PROMOTIONAL, LOA_RULES_AUTOMATION, true,
                                      "marketing", "2025-06-20T10:00Z");
    assert_refused(&d, "marketing_unavailable", "marketing-messages-2025");
    assert_int_equal(d.retry_at, t("2025-07-01"));
    d = ask(&p, LOA_RULES_PROMOTIONAL, LOA_RULES_AUTOMATION, true, "marketing",
            "2026-12-03T10:00Z");
    assert_allowed(&d, "marketing_token", "marketing-messages-2025");
    assert_int_equal(d.recipient, LOA_RULES_TO_TOKEN);
    assert_int_equal(d.route, LOA_RULES_ROUTE_MARKETING);
    p.country = "FR";
    d = plain(&p, "marketing", "2026-12-03T10:00Z");
    assert_refused(&d, "marketing_region", "marketing-messages-2025");
    p.country = NULL;
    d = plain(&p, "marketing", "2026-12-03T10:00Z");
    assert_refused(&d, "country_unknown", "marketing-messages-2025");
    p.country = "TH";
    p.marketing.status = LOA_RULES_TOKEN_STOPPED;
    d = plain(&p, "marketing", "2026-12-03T10:00Z");
    assert_refused(&d, "marketing_stopped", NULL);
    p.marketing.held = false;
    d = plain(&p, "marketing", "2026-12-03T10:00Z");
    assert_refused(&d, "no_marketing_token", NULL);
    /* Structured content: the activation rule applies as on every route. */
    p.marketing = (struct loa_rules_marketing){ .held = true };
    p.first_seen = t("2016-04-20"); /* before the Page joined loa */
    d = ask(&p, LOA_RULES_PROMOTIONAL, LOA_RULES_AUTOMATION, true, "marketing",
            "2026-12-03T10:00Z");
    assert_refused(&d, "not_activated", "structured-activation");
}

/* Utility templates: from 2026-03-13, never for marketing, an approved template only, at most
 * three buttons. */
static void utility_templates_by_date(void **state)
{
    (void)state;
    struct loa_rules_person p = who("2026-01-01T10:00Z");
    struct loa_rules_request q = { .person = &p, .at = t("2026-03-01T10:00Z") };
    assert_int_equal(loa_rules_route_parse("utility:order_shipped", &q.route), 0);
    assert_int_equal(q.route.kind, LOA_RULES_ROUTE_UTILITY);
    struct loa_rules_decision d;
    assert_int_equal(loa_rules_decide(R, &q, &d), 0);
    assert_refused(&d, "templates_unavailable", "utility-templates-2026");
    assert_int_equal(d.retry_at, t("2026-03-13"));
    q.at = t("2026-12-03T10:00Z");
    assert_int_equal(loa_rules_decide(R, &q, &d), 0);
    assert_allowed(&d, "utility_template", "utility-templates-2026");
    assert_string_equal(d.template_id, "order_shipped");
    assert_int_equal(d.recipient, LOA_RULES_TO_PSID);
    q.purpose = LOA_RULES_PROMOTIONAL;
    assert_int_equal(loa_rules_decide(R, &q, &d), 0);
    assert_refused(&d, "promotional_template", "utility-templates-2026");
    q.purpose = LOA_RULES_NON_PROMOTIONAL;
    q.route.template_approved = false;
    assert_int_equal(loa_rules_decide(R, &q, &d), 0);
    assert_refused(&d, "template_unapproved", NULL);
    q.route.template_approved = true;
    struct loa_rules_routes all;
    q.accept = LOA_RULES_ROUTE_BIT(LOA_RULES_ROUTE_UTILITY);
    assert_int_equal(loa_rules_routes(R, &q, 4, &all), 0);
    assert_int_equal(all.best, -1);
    assert_refused(&all.v[1], "template_buttons", NULL);
    assert_int_equal(loa_rules_routes(R, &q, 3, &all), 0);
    assert_int_equal(all.best, 1);
}

/* The routes a message could take, in loa's order, each with its verdict; AUTO takes only the
 * routes the sender accepts. */
static void routes_in_order_with_their_verdicts(void **state)
{
    (void)state;
    struct loa_rules_token tok = { .topic_id = "sale", .created = t("2025-01-01") };
    struct loa_rules_person p = who("2026-11-20T10:00Z"); /* window closed on 2026-11-21 */
    p.tokens = &tok;
    p.token_count = 1;
    p.country = "VN";
    p.marketing = (struct loa_rules_marketing){ .held = true };
    struct loa_rules_request q = { .person = &p, .at = t("2026-12-03T10:00Z") };
    q.route.template_id = "order_shipped";
    q.route.template_approved = true;
    q.accept = LOA_RULES_ROUTE_BIT(LOA_RULES_ROUTE_UTILITY) |
               LOA_RULES_ROUTE_BIT(LOA_RULES_ROUTE_MARKETING) |
               LOA_RULES_ROUTE_BIT(LOA_RULES_ROUTE_TOPIC);
    struct loa_rules_routes all;
    assert_int_equal(loa_rules_routes(R, &q, 0, &all), 0);
    assert_int_equal(all.n, 4);
    assert_int_equal(all.v[0].route, LOA_RULES_ROUTE_WINDOW);
    assert_refused(&all.v[0], "window_closed", "window-24h");
    assert_allowed(&all.v[1], "utility_template", NULL);
    assert_allowed(&all.v[2], "marketing_token", NULL);
    assert_refused(&all.v[3], "topics_retired", "topics-retired");
    assert_int_equal(all.best, 1);
    struct loa_rules_decision d;
    q.route.kind = LOA_RULES_ROUTE_AUTO;
    assert_int_equal(loa_rules_decide(R, &q, &d), 0);
    assert_allowed(&d, "utility_template", NULL);
    /* Promotional: no template; the marketing message is the way. */
    q.purpose = LOA_RULES_PROMOTIONAL;
    assert_int_equal(loa_rules_decide(R, &q, &d), 0);
    assert_allowed(&d, "marketing_token", NULL);
    /* Not accepted, never taken: a sequence step that takes only the window. */
    q.accept = LOA_RULES_ROUTE_BIT(LOA_RULES_ROUTE_WINDOW);
    assert_int_equal(loa_rules_decide(R, &q, &d), 0);
    assert_refused(&d, "window_closed", NULL);
    /* The default (0) is topics only, as before: the topic's refusal explains. */
    q.accept = 0;
    assert_int_equal(loa_rules_decide(R, &q, &d), 0);
    assert_refused(&d, "topics_retired", NULL);
    /* A person typing: HUMAN_AGENT comes right after the window. */
    p.last_interaction = t("2026-11-30T10:00Z");
    q.purpose = LOA_RULES_NON_PROMOTIONAL;
    q.sender = LOA_RULES_HUMAN;
    q.accept = LOA_RULES_ROUTE_BIT(LOA_RULES_ROUTE_MARKETING);
    assert_int_equal(loa_rules_routes(R, &q, 0, &all), 0);
    assert_int_equal(all.n, 3);
    assert_allowed(&all.v[1], "human_agent", "human-agent-7d");
    assert_int_equal(all.best, 1);
    /* Without a person: an error, nothing allowed. */
    q.person = NULL;
    assert_int_equal(loa_rules_routes(R, &q, 0, &all), LOA_EINVAL);
    assert_int_equal(all.best, -1);
}

static void auto_picks_the_best_route(void **state)
{
    (void)state;
    struct loa_rules_token tok = { .topic_id = "sale", .created = t("2024-03-01") };
    struct loa_rules_person p = who("2024-05-01T10:00Z");
    p.tokens = &tok;
    p.token_count = 1;
    struct loa_rules_decision d =
        ask(&p, LOA_RULES_PROMOTIONAL, LOA_RULES_AUTOMATION, false, "auto", "2024-05-01T11:00Z");
    assert_allowed(&d, "window_open", NULL);
    d = ask(&p, LOA_RULES_PROMOTIONAL, LOA_RULES_AUTOMATION, false, "auto", "2024-05-03T11:00Z");
    assert_allowed(&d, "topic_token", NULL);
    assert_int_equal(d.route, LOA_RULES_ROUTE_TOPIC);
    d = ask(&p, LOA_RULES_NON_PROMOTIONAL, LOA_RULES_HUMAN, false, "auto", "2024-05-03T11:00Z");
    assert_allowed(&d, "human_agent", NULL);
    /* Structured content cannot go through a topic. */
    d = ask(&p, LOA_RULES_PROMOTIONAL, LOA_RULES_AUTOMATION, true, "auto", "2024-05-03T11:00Z");
    assert_refused(&d, "topic_text_only", NULL);
}

static void structured_only_after_activation(void **state)
{
    (void)state;
    struct loa_rules_person p = who("2024-05-01T10:00Z");
    p.page_activated = t("2024-01-01");
    p.first_seen = t("2024-02-01");
    struct loa_rules_decision d =
        ask(&p, LOA_RULES_PROMOTIONAL, LOA_RULES_AUTOMATION, true, "window", "2024-05-01T11:00Z");
    assert_allowed(&d, "window_open", NULL);
    p.first_seen = t("2023-12-01");
    d = ask(&p, LOA_RULES_PROMOTIONAL, LOA_RULES_AUTOMATION, true, "window", "2024-05-01T11:00Z");
    assert_refused(&d, "not_activated", "structured-activation");
    d = ask(&p, LOA_RULES_PROMOTIONAL, LOA_RULES_AUTOMATION, false, "window", "2024-05-01T11:00Z");
    assert_allowed(&d, "window_open", NULL);
    p.first_seen = t("2024-02-01");
    p.page_activated = 0;
    d = ask(&p, LOA_RULES_PROMOTIONAL, LOA_RULES_AUTOMATION, true, "window", "2024-05-01T11:00Z");
    assert_refused(&d, "not_activated", "structured-activation");
}

static void staff_reply_routes(void **state)
{
    (void)state;
    struct loa_rules_token toks[2] = {
        { .topic_id = "sale", .created = t("2024-03-01") },
        { .topic_id = "news", .created = t("2024-03-01"), .status = LOA_RULES_TOKEN_STOPPED },
    };
    struct loa_rules_person p = who("2024-05-01T10:00Z");
    struct loa_rules_decision d;
    bool usable[2] = { true, true };
    /* Inside 24 h: free text. */
    assert_int_equal(
        loa_rules_staff_reply(R, &p, LOA_RULES_NON_PROMOTIONAL, t("2024-05-01T20:00Z"), &d, NULL),
        0);
    assert_allowed(&d, "window_open", "window-24h");
    assert_int_equal(d.messaging_type, LOA_RULES_MT_RESPONSE);
    /* 24 h to 7 days: HUMAN_AGENT. */
    assert_int_equal(
        loa_rules_staff_reply(R, &p, LOA_RULES_NON_PROMOTIONAL, t("2024-05-04T10:00Z"), &d, NULL),
        0);
    assert_allowed(&d, "human_agent", "human-agent-7d");
    /* After 7 days without a topic: blocked by the HUMAN_AGENT rule. */
    assert_int_equal(
        loa_rules_staff_reply(R, &p, LOA_RULES_NON_PROMOTIONAL, t("2024-05-10T10:00Z"), &d, NULL),
        0);
    assert_refused(&d, "human_agent_expired", "human-agent-7d");
    /* After 7 days through a topic the person follows; the stopped one is not listed. */
    p.tokens = toks;
    p.token_count = 2;
    assert_int_equal(
        loa_rules_staff_reply(R, &p, LOA_RULES_NON_PROMOTIONAL, t("2024-05-10T10:00Z"), &d, usable),
        0);
    assert_allowed(&d, "topic_token", NULL);
    assert_string_equal(d.topic_id, "sale");
    assert_true(usable[0]);
    assert_false(usable[1]);
    /* In 2026 topics are gone: blocked, and the rule that blocks it is named. */
    p = who("2026-03-01T10:00Z");
    toks[0].created = t("2026-01-01");
    p.tokens = toks;
    p.token_count = 1;
    assert_int_equal(
        loa_rules_staff_reply(R, &p, LOA_RULES_NON_PROMOTIONAL, t("2026-03-10T10:00Z"), &d, usable),
        0);
    assert_refused(&d, "topics_retired", "topics-retired");
    assert_false(usable[0]);
    /* In 2019 (before the 7-day rule): the 24+1 extra message. */
    p = who("2019-03-01T10:00Z");
    assert_int_equal(
        loa_rules_staff_reply(R, &p, LOA_RULES_NON_PROMOTIONAL, t("2019-03-03T10:00Z"), &d, NULL),
        0);
    assert_allowed(&d, "plus_one", NULL);
}

static struct loa_rules_decision invite(const struct loa_rules_person *p,
                                        const struct loa_rules_invite *inv, const char *at)
{
    struct loa_rules_decision d;
    assert_int_equal(loa_rules_may_invite(R, p, inv, t(at), &d), 0);
    return d;
}

static void optin_invite_rules(void **state)
{
    (void)state;
    struct loa_rules_person p = who("2024-05-01T10:00Z");
    struct loa_rules_invite inv = { .topic_id = "sale" };
    struct loa_rules_decision d = invite(&p, &inv, "2024-05-01T11:00Z");
    assert_allowed(&d, "invite_ok", "topic-optin");
    assert_int_equal(d.until, t("2024-05-02T10:00Z"));
    assert_int_equal(d.recipient, LOA_RULES_TO_PSID);
    /* Inside the window only. */
    d = invite(&p, &inv, "2024-05-02T11:00Z");
    assert_refused(&d, "window_closed", "topic-optin");
    /* One per window. */
    inv.last_invite_any = t("2024-05-01T10:30Z");
    d = invite(&p, &inv, "2024-05-01T11:00Z");
    assert_refused(&d, "invite_per_window", "topic-optin");
    inv.last_invite_any = t("2024-04-30T10:30Z");
    /* Same title at most once a week. */
    inv.last_invite_same_title = t("2024-04-28T10:00Z");
    d = invite(&p, &inv, "2024-05-01T11:00Z");
    assert_refused(&d, "invite_same_title", "topic-optin");
    assert_int_equal(d.retry_at, t("2024-05-05T10:00Z"));
    inv.last_invite_same_title = 0;
    /* Not accepted: again after 7 days. */
    inv.last_invite_topic = t("2024-04-28T10:00Z");
    d = invite(&p, &inv, "2024-05-01T11:00Z");
    assert_refused(&d, "invite_pending", "topic-optin");
    assert_int_equal(d.retry_at, t("2024-05-05T10:00Z"));
    inv.last_invite_topic = t("2024-04-24T10:00Z");
    d = invite(&p, &inv, "2024-05-01T11:00Z");
    assert_allowed(&d, "invite_ok", NULL);
    /* Accepted: a token created from 2023-08-10 on does not expire, so never again. */
    struct loa_rules_token tok = { .topic_id = "sale", .created = t("2024-04-24T12:00Z") };
    p.tokens = &tok;
    p.token_count = 1;
    d = invite(&p, &inv, "2024-05-01T11:00Z");
    assert_refused(&d, "invite_accepted", "topic-optin");
    assert_int_equal(d.retry_at, 0);
    assert_non_null(strstr(d.reason, "does not expire"));
    /* An older token: again once it expired (DAILY: 6 months). */
    tok.created = t("2023-08-09T12:00Z");
    struct loa_rules_person early = who("2024-01-10T10:00Z");
    early.tokens = &tok;
    early.token_count = 1;
    struct loa_rules_invite again = { .topic_id = "sale" };
    d = invite(&early, &again, "2024-01-10T11:00Z");
    assert_refused(&d, "invite_accepted", "topic-optin");
    assert_int_equal(d.retry_at, t("2024-02-09T12:00Z"));
    p = who("2024-10-25T10:00Z");
    p.tokens = &tok;
    p.token_count = 1;
    d = invite(&p, &inv, "2024-10-25T11:00Z");
    assert_allowed(&d, "invite_ok", NULL);
    /* A deactivated topic, a frequency that no longer exists, and 2026. */
    inv.topic_inactive = true;
    d = invite(&p, &inv, "2024-10-25T11:00Z");
    assert_refused(&d, "topic_inactive", NULL);
    inv.topic_inactive = false;
    inv.frequency = LOA_RULES_WEEKLY;
    d = invite(&p, &inv, "2024-10-25T11:00Z");
    assert_refused(&d, "frequency_unavailable", "topic-frequencies-2023");
    struct loa_rules_person q = who("2022-06-01T10:00Z");
    inv = (struct loa_rules_invite){ .topic_id = "sale", .frequency = LOA_RULES_WEEKLY };
    d = invite(&q, &inv, "2022-06-01T11:00Z");
    assert_allowed(&d, "invite_ok", NULL);
    inv.frequency = LOA_RULES_DAILY;
    q = who("2026-03-01T10:00Z");
    d = invite(&q, &inv, "2026-03-01T11:00Z");
    assert_refused(&d, "topics_retired", "topics-retired");
}

static void limits_and_send_rate(void **state)
{
    (void)state;
    struct loa_limits l;
    assert_int_equal(loa_rules_content_limits(R, t("2026-05-01"), &l), 0);
    assert_int_equal(l.text_chars, 2000);
    assert_int_equal(l.quick_replies, 13);
    assert_int_equal(l.quick_reply_title, 20);
    assert_int_equal(l.payload_chars, 1000);
    assert_int_equal(l.generic_elements, 10);
    assert_int_equal(l.element_title_chars, 80);
    assert_int_equal(l.buttons, 3);
    assert_int_equal(l.button_title_chars, 20);
    assert_int_equal(l.button_text_chars, 640);
    assert_int_equal(l.metadata_chars, 1000);
    assert_int_equal(loa_rules_content_limits(R, t("2015-01-01"), &l), LOA_ENOENT);
    assert_int_equal(l.text_chars, loa_limits_default().text_chars);
    struct loa_rules_send_rate s;
    assert_int_equal(loa_rules_send_rate(R, t("2024-01-01"), &s), 0);
    assert_int_equal(s.calls_per_second, 300);
    assert_int_equal(s.media_calls_per_second, 10);
    assert_int_equal(s.calls_per_engaged_user, 200);
    assert_int_equal(s.rolling_window, 24 * LOA_HOUR_MS);
    assert_int_equal(loa_rules_send_rate(R, t("2015-01-01"), &s), LOA_ENOENT);
}

static void format_text_and_json(void **state)
{
    (void)state;
    struct loa_rules_person p = who("2026-04-29T10:00Z");
    /* The example of the brief: a retired tag is the first reason, promotional or not. */
    struct loa_rules_decision d = ask(&p, LOA_RULES_PROMOTIONAL, LOA_RULES_AUTOMATION, false,
                                      "tag:POST_PURCHASE_UPDATE", "2026-05-01T10:00Z");
    struct loa_buf b;
    loa_buf_init(&b, 1 << 16);
    assert_int_equal(loa_rules_format_decision(&d, false, &b), 0);
    assert_string_equal(loa_buf_cstr(&b),
                        "refused: rule tags-2026 (effective 2026-04-27, source "
                        "https://github.com/chatwoot/chatwoot/issues/14669 (quotes Meta's "
                        "Send-a-Message page)): POST_PURCHASE_UPDATE is retired; only HUMAN_AGENT "
                        "may be sent outside the window");
    loa_buf_reset(&b);
    assert_int_equal(loa_rules_format_decision(&d, true, &b), 0);
    assert_non_null(strstr(loa_buf_cstr(&b), "\"allowed\":false,\"code\":\"tag_retired\""));
    assert_non_null(
        strstr(loa_buf_cstr(&b), "\"id\":\"tags-2026\",\"effective_from\":\"2026-04-27\""));
    loa_buf_reset(&b);
    d = plain(&p, "window", "2026-04-29T12:00Z");
    assert_int_equal(loa_rules_format_decision(&d, false, &b), 0);
    assert_non_null(strstr(loa_buf_cstr(&b),
                           "allowed: window (messaging_type UPDATE, recipient id) "
                           "until 2026-04-30T10:00Z; rule window-24h"));
    loa_buf_reset(&b);
    assert_int_equal(loa_rules_format_list(R, t("2026-05-01"), false, false, &b), 0);
    assert_non_null(strstr(loa_buf_cstr(&b), "tags-2026 [message_tags] from 2026-04-27"));
    assert_null(strstr(loa_buf_cstr(&b), "tags-2020"));
    assert_null(strstr(loa_buf_cstr(&b), "ctm-7d"));
    loa_buf_reset(&b);
    assert_int_equal(loa_rules_format_list(R, 0, true, true, &b), 0);
    assert_non_null(strstr(loa_buf_cstr(&b), "\"effective_until\":\"2026-04-26\""));
    loa_buf_release(&b);
}

static void names_and_route_parsing(void **state)
{
    (void)state;
    struct loa_rules_route r;
    assert_int_equal(loa_rules_route_parse("tag:POST_PURCHASE_UPDATE", &r), 0);
    assert_int_equal(r.kind, LOA_RULES_ROUTE_TAG);
    assert_string_equal(r.tag, "POST_PURCHASE_UPDATE");
    assert_int_equal(loa_rules_route_parse("tag:HUMAN_AGENT", &r), 0);
    assert_int_equal(r.kind, LOA_RULES_ROUTE_HUMAN_AGENT);
    assert_int_equal(loa_rules_route_parse("topic:sale", &r), 0);
    assert_string_equal(r.topic_id, "sale");
    assert_int_equal(loa_rules_route_parse("tag:", &r), LOA_EINVAL);
    assert_int_equal(loa_rules_route_parse("fax", &r), LOA_EINVAL);
    enum loa_rules_action a;
    assert_int_equal(loa_rules_action_parse("referral_mme", &a), 0);
    assert_int_equal(a, LOA_RULES_ACT_REFERRAL_MME);
    assert_string_equal(loa_rules_action_name(a), "referral_mme");
    assert_int_equal(loa_rules_action_parse("wave", &a), LOA_EINVAL);
    enum loa_rules_frequency f;
    assert_int_equal(loa_rules_frequency_parse("weekly", &f), 0);
    assert_int_equal(f, LOA_RULES_WEEKLY);
    struct loa_rules_request q = { 0 };
    struct loa_rules_decision d;
    assert_int_equal(loa_rules_decide(R, &q, &d), LOA_EINVAL);
}

/* ---------------------------------------------------------------------------------------- */
/* The loader's complaints                                                                   */

#define E_WINDOW                                                                    \
    "{\"id\":\"w\",\"rule\":\"standard_window\",\"effective_from\":\"2016-01-01\"," \
    "\"source\":\"s\",\"parameters\":{\"hours\":24,\"opened_by\":[\"message\"]}}"
#define E_PROMO                                                                         \
    "{\"id\":\"p\",\"rule\":\"promotional_content\",\"effective_from\":\"2016-01-01\"," \
    "\"source\":\"s\",\"parameters\":{\"in_window\":true,\"topic_token\":true,"         \
    "\"message_tag\":false}}"
#define E_TAGS                                                                              \
    "{\"id\":\"t\",\"rule\":\"message_tags\",\"effective_from\":\"2016-01-01\","            \
    "\"effective_until\":\"2020-03-03\",\"source\":\"s\",\"parameters\":{\"tags\":[\"A\"]," \
    "\"promotional\":false}}"
#define E_RATE                                                                                 \
    "{\"id\":\"r\",\"rule\":\"send_rate\",\"effective_from\":\"2016-01-01\",\"source\":\"s\"," \
    "\"parameters\":{\"calls_per_second\":300,\"media_calls_per_second\":10,"                  \
    "\"calls_per_engaged_user\":200,\"rolling_window_hours\":24}}"
#define E_LIMITS                                                                   \
    "{\"id\":\"l\",\"rule\":\"content_limits\",\"effective_from\":\"2016-01-01\"," \
    "\"source\":\"s\",\"parameters\":{\"text_chars\":2000,\"quick_replies\":13,"   \
    "\"quick_reply_title\":20,\"payload_chars\":1000,\"generic_elements\":10,"     \
    "\"element_title_chars\":80,\"element_subtitle_chars\":80,\"buttons\":3,"      \
    "\"button_title_chars\":20,\"button_text_chars\":640,\"metadata_chars\":1000}}"
#define BASE             E_WINDOW "," E_PROMO "," E_TAGS "," E_RATE "," E_LIMITS
#define FILE_WITH(extra) "{\"format\":1,\"rules\":[" BASE extra "]}"

/* Parses text; returns the complaints (caller releases). */
static struct loa_diags parse(const char *text, int want_rc)
{
    struct loa_diags d;
    loa_diags_init(&d, 0);
    struct loa_rules *r = NULL;
    int rc = loa_rules_parse(text, strlen(text), &r, &d);
    if (rc != want_rc) {
        loa_diags_print(&d, stderr, "test.json");
        fail_msg("parse returned %d, want %d", rc, want_rc);
    }
    if (rc == 0)
        assert_non_null(r);
    else
        assert_null(r);
    loa_rules_free(r);
    /* A caller that keeps no complaints gets the same answer. */
    assert_int_equal(loa_rules_parse(text, strlen(text), &r, NULL), want_rc);
    loa_rules_free(r);
    return d;
}

/* Asserts one complaint at where whose reason contains what. */
static void assert_complaint(const struct loa_diags *d, const char *where, const char *what)
{
    for (size_t i = 0; i < d->count; i++)
        if (strcmp(d->items[i].where, where) == 0 && strstr(d->items[i].reason, what))
            return;
    loa_diags_print(d, stderr, "got");
    fail_msg("no complaint at %s about \"%s\"", where, what);
}

static void loader_accepts_minimal_file(void **state)
{
    (void)state;
    struct loa_diags d = parse(FILE_WITH(""), 0);
    assert_true(loa_diags_empty(&d));
    loa_diags_release(&d);
}

static void loader_reports_malformed_json_with_line_and_column(void **state)
{
    (void)state;
    struct loa_diags d = parse("{\"format\": 1,\n  \"rules\": [ }\n", LOA_EPARSE);
    assert_int_equal(d.count, 1);
    assert_int_equal(d.items[0].line, 2);
    assert_true(d.items[0].column > 0);
    assert_string_equal(d.items[0].where, "");
    assert_non_null(strstr(d.items[0].reason, "malformed JSON"));
    loa_diags_release(&d);
}

static void loader_reports_each_problem_with_its_path(void **state)
{
    (void)state;
    struct loa_diags d = parse(
        FILE_WITH(
            ",{\"id\":\"x1\",\"rule\":\"teleport\",\"effective_from\":\"2016-01-01\","
            "\"source\":\"s\",\"parameters\":{}}"
            ",{\"id\":\"x2\",\"rule\":\"ctm_window\",\"effective_from\":\"2026-13-01\","
            "\"source\":\"s\",\"parameters\":{\"days\":7}}"
            ",{\"id\":\"x3\",\"rule\":\"human_agent\",\"effective_from\":\"2020-03-04\","
            "\"source\":\"s\",\"parameters\":{\"human_only\":true}}"
            ",{\"id\":\"x4\",\"rule\":\"message_tags\",\"effective_from\":\"2020-03-01\","
            "\"source\":\"s\",\"parameters\":{\"tags\":[\"B\"],\"promotional\":false}}"
            ",{\"id\":\"w\",\"rule\":\"ctm_window\",\"effective_from\":\"2027-01-01\","
            "\"effective_until\":\"2026-01-01\",\"source\":\"\",\"colour\":1,"
            "\"parameters\":{\"days\":\"7\",\"weeks\":1}}"
            ",{\"id\":\"x6\",\"rule\":\"standard_window\",\"effective_from\":\"1999-01-01\","
            "\"effective_until\":\"1999-12-31\",\"source\":\"s\","
            "\"parameters\":{\"hours\":0,\"opened_by\":[\"message\",\"wave\"]}}"
            ",{\"id\":\"x7\",\"rule\":\"topic_frequencies\",\"effective_from\":\"2022-01-01\","
            "\"source\":\"s\",\"parameters\":{\"DAILY\":{\"lifetime_months\":6}}}"
            ",{\"id\":\"x8\",\"rule\":\"message_tags\",\"effective_from\":\"2030-01-01\","
            "\"source\":\"s\",\"parameters\":{\"tags\":[\"ok\",\"A\",\"A\"],"
            "\"promotional\":false}}"),
        LOA_EPARSE);
    assert_complaint(&d, "rules[5].rule", "unknown rule \"teleport\"");
    assert_complaint(&d, "rules[6].effective_from", "bad date \"2026-13-01\"");
    assert_complaint(&d, "rules[7].parameters.days", "missing parameter");
    assert_complaint(&d, "rules[8].effective_from", "overlaps rules[2] \"t\"");
    assert_complaint(&d, "rules[9].id", "duplicate id \"w\"");
    assert_complaint(&d, "rules[9].effective_until", "before effective_from");
    assert_complaint(&d, "rules[9].source", "must not be empty");
    assert_complaint(&d, "rules[9].colour", "unknown key");
    assert_complaint(&d, "rules[9].parameters.days", "must be an integer, not a string");
    assert_complaint(&d, "rules[9].parameters.weeks", "unknown parameter for rule ctm_window");
    assert_complaint(&d, "rules[10].parameters.hours", "must be from 1 to");
    assert_complaint(&d, "rules[10].parameters.opened_by[1]", "unknown action \"wave\"");
    assert_complaint(&d, "rules[11].parameters.DAILY.period_hours", "missing parameter");
    assert_complaint(&d, "rules[12].parameters.tags[0]", "is not a tag name");
    assert_complaint(&d, "rules[12].parameters.tags[2]", "listed twice");
    loa_diags_release(&d);
}

static void loader_reports_top_level_problems(void **state)
{
    (void)state;
    struct loa_diags d =
        parse("{\"rules\":[" E_WINDOW "],\"extra\":true,\"updated\":\"soon\"}", LOA_EPARSE);
    assert_complaint(&d, "format", "missing");
    assert_complaint(&d, "extra", "unknown key");
    assert_complaint(&d, "updated", "bad date");
    assert_complaint(&d, "rules", "no entry for the required rule message_tags");
    assert_complaint(&d, "rules", "no entry for the required rule content_limits");
    loa_diags_release(&d);
    d = parse("{\"format\":2,\"rules\":{}}", LOA_EPARSE);
    assert_complaint(&d, "format", "unsupported format");
    assert_complaint(&d, "rules", "must be an array, not an object");
    loa_diags_release(&d);
    d = parse("[1,2]", LOA_EPARSE);
    assert_complaint(&d, "", "must be an object");
    loa_diags_release(&d);
    d = parse(FILE_WITH(",42"), LOA_EPARSE);
    assert_complaint(&d, "rules[5]", "must be an object, not an integer");
    loa_diags_release(&d);
}

static void loader_reports_missing_file(void **state)
{
    (void)state;
    struct loa_diags d;
    loa_diags_init(&d, 0);
    struct loa_rules *r = R; /* must be reset to NULL */
    assert_int_equal(loa_rules_load("/nonexistent/rules.json", &r, &d), LOA_ENOENT);
    assert_null(r);
    assert_int_equal(d.count, 1);
    assert_non_null(strstr(d.items[0].reason, "cannot open"));
    loa_diags_release(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shipped_file_loads_without_complaint),
        cmocka_unit_test(window_24h_at_2359_and_2401),
        cmocka_unit_test(window_openers_and_optin),
        cmocka_unit_test(promotional_only_in_window_never_with_a_tag),
        cmocka_unit_test(message_tags_by_date),
        cmocka_unit_test(human_agent_seven_days),
        cmocka_unit_test(messaging_type_required_from_2018),
        cmocka_unit_test(ctm_ad_seven_days_only_from_2026_09),
        cmocka_unit_test(plus_one_before_2020),
        cmocka_unit_test(topic_cadence_24h_then_48h),
        cmocka_unit_test(topic_token_states),
        cmocka_unit_test(topic_frequencies_before_and_after_2023),
        cmocka_unit_test(topics_retired_in_2026),
        cmocka_unit_test(extreme_times_do_not_overflow),
        cmocka_unit_test(marketing_messages_by_date_and_region),
        cmocka_unit_test(utility_templates_by_date),
        cmocka_unit_test(routes_in_order_with_their_verdicts),
        cmocka_unit_test(auto_picks_the_best_route),
        cmocka_unit_test(structured_only_after_activation),
        cmocka_unit_test(staff_reply_routes),
        cmocka_unit_test(optin_invite_rules),
        cmocka_unit_test(limits_and_send_rate),
        cmocka_unit_test(format_text_and_json),
        cmocka_unit_test(names_and_route_parsing),
        cmocka_unit_test(loader_accepts_minimal_file),
        cmocka_unit_test(loader_reports_malformed_json_with_line_and_column),
        cmocka_unit_test(loader_reports_each_problem_with_its_path),
        cmocka_unit_test(loader_reports_top_level_problems),
        cmocka_unit_test(loader_reports_missing_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
