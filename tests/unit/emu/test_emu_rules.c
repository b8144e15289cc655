/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for loa-graph's own rules checks (src/emu/emu_rules.c): each rule before and after
 * the date it changed on (2019, 2021, 2024 and 2026 cases), content limits, and the form and
 * argument parsers of the emulator.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <loa/clock.h>
#include <loa/err.h>

#include "emu_int.h"
#include "emu_rules.h"

#define HOUR ((int64_t)3600 * 1000)
#define DAY  (24 * HOUR)

static int64_t at(const char *iso)
{
    int64_t ms = 0;
    assert_int_equal(loa_time_parse(iso, &ms), 0);
    return ms;
}

static const int64_t *years_ms(void)
{
    static int64_t y[4];
    y[0] = at("2019-06-01T12:00:00Z");
    y[1] = at("2021-06-01T12:00:00Z");
    y[2] = at("2024-06-01T12:00:00Z");
    y[3] = at("2026-06-01T12:00:00Z");
    return y;
}

struct fixture {
    struct emu_rules_conf conf;
    struct emu_person_rules person;
    struct emu_send_req req;
    struct emu_verdict v;
};

static void setup_fx(struct fixture *fx, enum emu_mtype mtype)
{
    memset(fx, 0, sizeof(*fx));
    emu_rules_conf_default(&fx->conf);
    emu_person_rules_init(&fx->person);
    fx->req.mtype = mtype;
}

static bool check(struct fixture *fx, int64_t now)
{
    return emu_rules_check(&fx->conf, &fx->req, &fx->person, NULL, now, &fx->v);
}

static void assert_refused(struct fixture *fx, int code, int subcode, enum emu_rule rule)
{
    assert_int_equal(fx->v.code, code);
    assert_int_equal(fx->v.subcode, subcode);
    assert_int_equal(fx->v.rule, rule);
    assert_true(fx->v.message[0] != '\0');
}

/* ---- the standard window ------------------------------------------------------------------ */

static void window_24h_every_year(void **state)
{
    (void)state;
    const int64_t *y = years_ms();
    for (int i = 0; i < 4; i++) {
        struct fixture fx;
        setup_fx(&fx, EMU_MT_RESPONSE);
        /* never acted: closed */
        assert_false(check(&fx, y[i]));
        assert_refused(&fx, 10, 2018278, EMU_RULE_WINDOW);
        emu_rules_note_action(&fx.person, EMU_ACT_MESSAGE, y[i]);
        assert_true(check(&fx, y[i] + 23 * HOUR));
        fx.req.mtype = EMU_MT_UPDATE;
        assert_true(check(&fx, y[i] + 24 * HOUR - 1));
        assert_false(check(&fx, y[i] + 24 * HOUR));
        assert_refused(&fx, 10, 2018278, EMU_RULE_WINDOW);
    }
}

static void window_opened_by_each_user_action(void **state)
{
    (void)state;
    int64_t t = at("2024-03-01T00:00:00Z");
    enum emu_action_kind opens[] = { EMU_ACT_MESSAGE,  EMU_ACT_POSTBACK, EMU_ACT_QUICK_REPLY,
                                     EMU_ACT_REACTION, EMU_ACT_REFERRAL, EMU_ACT_AD_REFERRAL };
    for (size_t i = 0; i < sizeof(opens) / sizeof(opens[0]); i++) {
        struct fixture fx;
        setup_fx(&fx, EMU_MT_RESPONSE);
        emu_rules_note_action(&fx.person, opens[i], t);
        assert_true(check(&fx, t + HOUR));
    }
    enum emu_action_kind not_opening[] = { EMU_ACT_READ, EMU_ACT_DELIVERY, EMU_ACT_OPTIN_ACCEPT,
                                           EMU_ACT_OPTIN_STOP };
    for (size_t i = 0; i < sizeof(not_opening) / sizeof(not_opening[0]); i++) {
        struct fixture fx;
        setup_fx(&fx, EMU_MT_RESPONSE);
        emu_rules_note_action(&fx.person, not_opening[i], t);
        assert_false(check(&fx, t + HOUR));
    }
}

static void ad_window_7_days_from_2026_09(void **state)
{
    (void)state;
    struct fixture fx;
    setup_fx(&fx, EMU_MT_UPDATE);
    /* before 2026-09-01: an ad's first message gives the normal 24 h */
    int64_t t = at("2026-06-01T00:00:00Z");
    emu_rules_note_action(&fx.person, EMU_ACT_AD_REFERRAL, t);
    assert_false(check(&fx, t + 2 * DAY));
    assert_refused(&fx, 10, 2018278, EMU_RULE_WINDOW);
    /* from 2026-09-01: 7 days */
    t = at("2026-09-02T00:00:00Z");
    emu_rules_note_action(&fx.person, EMU_ACT_AD_REFERRAL, t);
    assert_true(check(&fx, t + 2 * DAY));
    assert_true(check(&fx, t + 7 * DAY - 1));
    assert_false(check(&fx, t + 7 * DAY));
    /* a later ordinary message replaces the ad window with 24 h */
    emu_rules_note_action(&fx.person, EMU_ACT_MESSAGE, t + DAY);
    assert_false(check(&fx, t + 3 * DAY));
    /* an older action never shortens the window */
    emu_rules_note_action(&fx.person, EMU_ACT_MESSAGE, t);
    assert_true(check(&fx, t + DAY + HOUR));
}

/* ---- messaging_type ----------------------------------------------------------------------- */

static void messaging_type_required_from_2018_05_07(void **state)
{
    (void)state;
    struct fixture fx;
    setup_fx(&fx, EMU_MT_NONE);
    int64_t before = at("2018-05-06T12:00:00Z");
    emu_rules_note_action(&fx.person, EMU_ACT_MESSAGE, before);
    assert_true(check(&fx, before + HOUR));
    const int64_t *y = years_ms();
    for (int i = 0; i < 4; i++) {
        emu_rules_note_action(&fx.person, EMU_ACT_MESSAGE, y[i]);
        assert_false(check(&fx, y[i] + HOUR));
        assert_refused(&fx, 100, 0, EMU_RULE_MESSAGING_TYPE);
    }
    fx.req.mtype = emu_mtype_parse("PROMOTION");
    assert_false(check(&fx, y[3] + HOUR));
    assert_refused(&fx, 100, 0, EMU_RULE_MESSAGING_TYPE);
}

/* ---- message tags ------------------------------------------------------------------------- */

static void tags_in_2019_old_17(void **state)
{
    (void)state;
    struct fixture fx;
    setup_fx(&fx, EMU_MT_MESSAGE_TAG);
    int64_t t = years_ms()[0];
    const char *ok[] = { "SHIPPING_UPDATE", "ISSUE_RESOLUTION", "NON_PROMOTIONAL_SUBSCRIPTION",
                         "ACCOUNT_UPDATE" };
    for (size_t i = 0; i < 4; i++) {
        fx.req.tag = ok[i];
        assert_true(check(&fx, t)); /* outside any window: tags are for that */
    }
    fx.req.tag = "POST_PURCHASE_UPDATE";
    assert_false(check(&fx, t));
    assert_refused(&fx, 100, 0, EMU_RULE_TAG_UNKNOWN);
    fx.req.tag = NULL;
    assert_false(check(&fx, t));
    assert_refused(&fx, 100, 0, EMU_RULE_TAG_MISSING);
    fx.req.tag = "MADE_UP";
    assert_false(check(&fx, t));
    assert_refused(&fx, 100, 0, EMU_RULE_TAG_UNKNOWN);
}

static void tags_2021_and_2024_four(void **state)
{
    (void)state;
    const int64_t *y = years_ms();
    for (int i = 1; i <= 2; i++) {
        struct fixture fx;
        setup_fx(&fx, EMU_MT_MESSAGE_TAG);
        const char *ok[] = { "CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE", "ACCOUNT_UPDATE" };
        for (size_t k = 0; k < 3; k++) {
            fx.req.tag = ok[k];
            assert_true(check(&fx, y[i]));
        }
        fx.req.tag = "SHIPPING_UPDATE";
        assert_false(check(&fx, y[i]));
        assert_refused(&fx, 100, 0, EMU_RULE_TAG_RETIRED);
        fx.req.tag = "NON_PROMOTIONAL_SUBSCRIPTION";
        assert_false(check(&fx, y[i]));
        assert_refused(&fx, 100, 0, EMU_RULE_TAG_RETIRED);
    }
}

static void tags_2026_only_human_agent(void **state)
{
    (void)state;
    struct fixture fx;
    setup_fx(&fx, EMU_MT_MESSAGE_TAG);
    int64_t eve = at("2026-04-26T23:59:59Z");
    int64_t day = at("2026-04-27T00:00:00Z");
    fx.req.tag = "POST_PURCHASE_UPDATE";
    assert_true(check(&fx, eve));
    assert_false(check(&fx, day));
    assert_refused(&fx, 100, 0, EMU_RULE_TAG_RETIRED);
    fx.req.tag = "CONFIRMED_EVENT_UPDATE";
    assert_false(check(&fx, years_ms()[3]));
    assert_refused(&fx, 100, 0, EMU_RULE_TAG_RETIRED);
    fx.req.tag = "ACCOUNT_UPDATE";
    assert_false(check(&fx, years_ms()[3]));
    fx.req.tag = "HUMAN_AGENT";
    emu_rules_note_action(&fx.person, EMU_ACT_MESSAGE, years_ms()[3] - 3 * DAY);
    assert_true(check(&fx, years_ms()[3]));
}

static void human_agent_7_days(void **state)
{
    (void)state;
    const int64_t *y = years_ms();
    for (int i = 0; i < 4; i++) {
        struct fixture fx;
        setup_fx(&fx, EMU_MT_MESSAGE_TAG);
        fx.req.tag = "HUMAN_AGENT";
        assert_false(check(&fx, y[i])); /* never wrote */
        assert_refused(&fx, 10, 2018278, EMU_RULE_HUMAN_AGENT_WINDOW);
        emu_rules_note_action(&fx.person, EMU_ACT_MESSAGE, y[i]);
        assert_true(check(&fx, y[i] + 2 * DAY));
        assert_true(check(&fx, y[i] + 7 * DAY - 1));
        assert_false(check(&fx, y[i] + 7 * DAY));
        assert_refused(&fx, 10, 2018278, EMU_RULE_HUMAN_AGENT_WINDOW);
    }
}

/* ---- notification tokens ------------------------------------------------------------------ */

static struct emu_token_rules token_at(int64_t created)
{
    struct emu_token_rules t = { .created_ms = created,
                                 .expiry_ms = created + EMU_TOKEN_LIFE_MS,
                                 .last_sent_ms = -1 };
    return t;
}

static void token_cadence_24h_then_48h(void **state)
{
    (void)state;
    struct fixture fx;
    setup_fx(&fx, EMU_MT_UPDATE);
    fx.req.to_token = true;
    /* 2024: one per 24 h */
    int64_t t = years_ms()[2];
    struct emu_token_rules tok = token_at(t);
    assert_true(emu_rules_check(&fx.conf, &fx.req, &fx.person, &tok, t, &fx.v));
    emu_rules_note_sent(&fx.req, &fx.person, &tok, t);
    assert_false(emu_rules_check(&fx.conf, &fx.req, &fx.person, &tok, t + 23 * HOUR, &fx.v));
    assert_refused(&fx, 4, 2018354, EMU_RULE_TOKEN_CADENCE);
    assert_true(emu_rules_check(&fx.conf, &fx.req, &fx.person, &tok, t + 24 * HOUR, &fx.v));
    /* from 2025-09-01: one per 48 h */
    t = at("2025-10-01T00:00:00Z");
    tok = token_at(t);
    emu_rules_note_sent(&fx.req, &fx.person, &tok, t);
    assert_false(emu_rules_check(&fx.conf, &fx.req, &fx.person, &tok, t + 30 * HOUR, &fx.v));
    assert_refused(&fx, 4, 2018354, EMU_RULE_TOKEN_CADENCE);
    assert_true(emu_rules_check(&fx.conf, &fx.req, &fx.person, &tok, t + 48 * HOUR, &fx.v));
    /* messaging_type may be left out for token sends */
    fx.req.mtype = EMU_MT_NONE;
    assert_true(emu_rules_check(&fx.conf, &fx.req, &fx.person, &tok, t + 48 * HOUR, &fx.v));
}

static void token_invalid_expired_stopped_retired(void **state)
{
    (void)state;
    struct fixture fx;
    setup_fx(&fx, EMU_MT_UPDATE);
    fx.req.to_token = true;
    int64_t t = years_ms()[2];
    assert_false(emu_rules_check(&fx.conf, &fx.req, &fx.person, NULL, t, &fx.v));
    assert_refused(&fx, 100, 0, EMU_RULE_TOKEN_INVALID);
    struct emu_token_rules tok = token_at(t);
    assert_false(
        emu_rules_check(&fx.conf, &fx.req, &fx.person, &tok, t + EMU_TOKEN_LIFE_MS, &fx.v));
    assert_refused(&fx, 100, 0, EMU_RULE_TOKEN_INVALID);
    tok.stopped = true;
    assert_false(emu_rules_check(&fx.conf, &fx.req, &fx.person, &tok, t + DAY, &fx.v));
    assert_refused(&fx, 10, 1893015, EMU_RULE_TOKEN_STOPPED);
    tok.stopped = false;
    /* 2026: retired on 2026-02-10 by default */
    int64_t t26 = at("2026-02-09T12:00:00Z");
    tok = token_at(t26 - DAY);
    assert_true(emu_rules_check(&fx.conf, &fx.req, &fx.person, &tok, t26, &fx.v));
    assert_false(emu_rules_check(&fx.conf, &fx.req, &fx.person, &tok, at("2026-02-10"), &fx.v));
    assert_refused(&fx, 100, 0, EMU_RULE_RECURRING_RETIRED);
    /* the retirement date is a setting */
    fx.conf.recurring_retired_ms = at("2026-01-12");
    assert_false(emu_rules_check(&fx.conf, &fx.req, &fx.person, &tok, at("2026-01-20"), &fx.v));
    assert_refused(&fx, 100, 0, EMU_RULE_RECURRING_RETIRED);
}

/* ---- opt-in requests ---------------------------------------------------------------------- */

static void optin_request_rules(void **state)
{
    (void)state;
    struct fixture fx;
    setup_fx(&fx, EMU_MT_RESPONSE);
    fx.req.optin_request = true;
    fx.req.optin_title = "Flash sales";
    int64_t t = years_ms()[2];
    /* only inside the window */
    assert_false(check(&fx, t));
    assert_refused(&fx, 10, 2018278, EMU_RULE_OPTIN_WINDOW);
    emu_rules_note_action(&fx.person, EMU_ACT_MESSAGE, t);
    assert_true(check(&fx, t + HOUR));
    emu_rules_note_sent(&fx.req, &fx.person, NULL, t + HOUR);
    /* one per window, whatever the title */
    fx.req.optin_title = "Other topic";
    assert_false(check(&fx, t + 2 * HOUR));
    assert_refused(&fx, 613, 1893016, EMU_RULE_OPTIN_PER_WINDOW);
    /* a new window allows another request, but not the same title within 7 days */
    emu_rules_note_action(&fx.person, EMU_ACT_MESSAGE, t + 2 * DAY);
    fx.req.optin_title = "Flash sales";
    assert_false(check(&fx, t + 2 * DAY + HOUR));
    assert_refused(&fx, 613, 1893016, EMU_RULE_OPTIN_TITLE_WEEK);
    fx.req.optin_title = "Other topic";
    assert_true(check(&fx, t + 2 * DAY + HOUR));
    /* after 7 days the same title may be asked again */
    emu_rules_note_action(&fx.person, EMU_ACT_MESSAGE, t + 8 * DAY);
    fx.req.optin_title = "Flash sales";
    assert_true(check(&fx, t + 8 * DAY + HOUR));
    /* 2026: retired */
    int64_t t26 = years_ms()[3];
    emu_rules_note_action(&fx.person, EMU_ACT_MESSAGE, t26);
    assert_false(check(&fx, t26 + HOUR));
    assert_refused(&fx, 100, 0, EMU_RULE_RECURRING_RETIRED);
}

/* ---- content ------------------------------------------------------------------------------ */

static bool content(const char *json, struct emu_send_req *req, struct emu_verdict *v)
{
    json_error_t err;
    json_t *m = json_loads(json, 0, &err);
    assert_non_null(m);
    memset(req, 0, sizeof(*req));
    bool ok = emu_rules_check_content(m, req, v);
    json_decref(m);
    return ok;
}

static char *repeat(const char *unit, int n)
{
    size_t len = strlen(unit);
    char *s = test_malloc(len * (size_t)n + 1);
    for (int i = 0; i < n; i++)
        memcpy(s + len * (size_t)i, unit, len);
    s[len * (size_t)n] = '\0';
    return s;
}

static void assert_content(bool expect, const char *json, const char *field)
{
    struct emu_send_req req;
    struct emu_verdict v;
    bool ok = content(json, &req, &v);
    if (ok != expect)
        fail_msg("content %s: expected %s, got %s (%s)", json, expect ? "ok" : "refusal",
                 ok ? "ok" : "refusal", v.message);
    if (!expect) {
        assert_int_equal(v.code, 100);
        assert_int_equal(v.rule, EMU_RULE_CONTENT);
        if (field && !strstr(v.message, field))
            fail_msg("message '%s' does not name %s", v.message, field);
    }
}

static void content_text_counts_code_points(void **state)
{
    (void)state;
    char json[9000];
    char *ok = repeat("\xe1\xbb\x87", 2000); /* "ệ": 3 bytes, 1 character */
    snprintf(json, sizeof(json), "{\"text\":\"%s\"}", ok);
    assert_content(true, json, NULL);
    test_free(ok);
    char *bad = repeat("a", 2001);
    snprintf(json, sizeof(json), "{\"text\":\"%s\"}", bad);
    assert_content(false, json, "message.text");
    test_free(bad);
    assert_content(false, "{}", "message.text");
    assert_content(false, "{\"text\":\"a\",\"attachment\":{\"type\":\"image\",\"payload\":{}}}",
                   "message.text");
    assert_content(false, "{\"text\":\"\"}", "message.text");
}

static void content_quick_replies(void **state)
{
    (void)state;
    char json[4096];
    char *qr = repeat("{\"content_type\":\"text\",\"title\":\"Yes\",\"payload\":\"Y\"},", 13);
    qr[strlen(qr) - 1] = '\0';
    snprintf(json, sizeof(json), "{\"text\":\"?\",\"quick_replies\":[%s]}", qr);
    assert_content(true, json, NULL);
    snprintf(json, sizeof(json), "{\"text\":\"?\",\"quick_replies\":[%s,%s]}", qr,
             "{\"content_type\":\"text\",\"title\":\"No\",\"payload\":\"N\"}");
    assert_content(false, json, "message.quick_replies");
    test_free(qr);
    assert_content(false,
                   "{\"text\":\"?\",\"quick_replies\":[{\"content_type\":\"text\",\"title\":"
                   "\"123456789012345678901\",\"payload\":\"x\"}]}",
                   "message.quick_replies[0].title");
    char *big = repeat("p", 1001);
    snprintf(json, sizeof(json),
             "{\"text\":\"?\",\"quick_replies\":[{\"content_type\":\"text\",\"title\":\"t\","
             "\"payload\":\"%s\"}]}",
             big);
    assert_content(false, json, "message.quick_replies[0].payload");
    test_free(big);
}

static void content_generic_template(void **state)
{
    (void)state;
    char json[16384];
    const char *el = "{\"title\":\"Áo thun\",\"subtitle\":\"199.000đ\",\"buttons\":[{\"type\":"
                     "\"postback\",\"title\":\"Mua\",\"payload\":\"BUY_1\"}]}";
    snprintf(json, sizeof(json),
             "{\"attachment\":{\"type\":\"template\",\"payload\":{\"template_type\":\"generic\","
             "\"elements\":[%s]}}}",
             el);
    assert_content(true, json, NULL);
    /* 11 elements */
    char els[1024] = "";
    for (int i = 0; i < 11; i++) {
        strcat(els, i ? "," : "");
        strcat(els, "{\"title\":\"t\",\"subtitle\":\"s\"}");
    }
    snprintf(json, sizeof(json),
             "{\"attachment\":{\"type\":\"template\",\"payload\":{\"template_type\":\"generic\","
             "\"elements\":[%s]}}}",
             els);
    assert_content(false, json, "elements");
    /* title of 81 characters */
    char *t81 = repeat("x", 81);
    snprintf(json, sizeof(json),
             "{\"attachment\":{\"type\":\"template\",\"payload\":{\"template_type\":\"generic\","
             "\"elements\":[{\"title\":\"%s\"}]}}}",
             t81);
    assert_content(false, json, "elements[0].title");
    test_free(t81);
    /* four buttons */
    const char *b = "{\"type\":\"postback\",\"title\":\"b\",\"payload\":\"p\"}";
    snprintf(json, sizeof(json),
             "{\"attachment\":{\"type\":\"template\",\"payload\":{\"template_type\":\"generic\","
             "\"elements\":[{\"title\":\"t\",\"buttons\":[%s,%s,%s,%s]}]}}}",
             b, b, b, b);
    assert_content(false, json, "elements[0].buttons");
    /* postback payload of 1001 characters */
    char *p1001 = repeat("p", 1001);
    snprintf(json, sizeof(json),
             "{\"attachment\":{\"type\":\"template\",\"payload\":{\"template_type\":\"generic\","
             "\"elements\":[{\"title\":\"t\",\"buttons\":[{\"type\":\"postback\",\"title\":\"b\","
             "\"payload\":\"%s\"}]}]}}}",
             p1001);
    assert_content(false, json, "buttons[0].payload");
    test_free(p1001);
}

static void content_button_template_and_metadata(void **state)
{
    (void)state;
    char json[8192];
    const char *b = "{\"type\":\"web_url\",\"title\":\"Open\",\"url\":\"https://example.com\"}";
    snprintf(json, sizeof(json),
             "{\"attachment\":{\"type\":\"template\",\"payload\":{\"template_type\":\"button\","
             "\"text\":\"Pick\",\"buttons\":[%s]}}}",
             b);
    assert_content(true, json, NULL);
    snprintf(json, sizeof(json),
             "{\"attachment\":{\"type\":\"template\",\"payload\":{\"template_type\":\"button\","
             "\"text\":\"Pick\",\"buttons\":[]}}}");
    assert_content(false, json, "payload.buttons");
    char *t641 = repeat("y", 641);
    snprintf(json, sizeof(json),
             "{\"attachment\":{\"type\":\"template\",\"payload\":{\"template_type\":\"button\","
             "\"text\":\"%s\",\"buttons\":[%s]}}}",
             t641, b);
    assert_content(false, json, "payload.text");
    test_free(t641);
    char *m999 = repeat("m", 999);
    snprintf(json, sizeof(json), "{\"text\":\"hi\",\"metadata\":\"%s\"}", m999);
    assert_content(true, json, NULL);
    test_free(m999);
    char *m1000 = repeat("m", 1000);
    snprintf(json, sizeof(json), "{\"text\":\"hi\",\"metadata\":\"%s\"}", m1000);
    assert_content(false, json, "message.metadata");
    test_free(m1000);
}

static void content_optin_request_detected(void **state)
{
    (void)state;
    struct emu_send_req req = { 0 };
    struct emu_verdict v;
    /* optin_title borrows from the message, so keep it alive while checking */
    json_t *m = json_loads("{\"attachment\":{\"type\":\"template\",\"payload\":{"
                           "\"template_type\":\"notification_messages\",\"title\":\"Deals\","
                           "\"payload\":\"X\"}}}",
                           0, NULL);
    assert_true(emu_rules_check_content(m, &req, &v));
    assert_true(req.optin_request);
    assert_string_equal(req.optin_title, "Deals");
    json_decref(m);
    m = json_loads("{\"attachment\":{\"type\":\"template\",\"payload\":{\"template_type\":"
                   "\"notification_messages\"}}}",
                   0, NULL);
    assert_true(emu_rules_check_content(m, &req, &v));
    assert_true(req.optin_request);
    assert_string_equal(req.optin_title, "Updates and Promotions");
    json_decref(m);
    /* an ordinary text is not an opt-in request */
    m = json_loads("{\"text\":\"hi\"}", 0, NULL);
    assert_true(emu_rules_check_content(m, &req, &v));
    assert_false(req.optin_request);
    json_decref(m);
}

/* ---- names, form decoding, arguments ------------------------------------------------------ */

static void names_round_trip(void **state)
{
    (void)state;
    for (int k = 1; k < EMU_ACT_COUNT_; k++)
        assert_int_equal(emu_action_parse(emu_action_name((enum emu_action_kind)k)), k);
    assert_int_equal(emu_action_parse("wave"), EMU_ACT_NONE);
    assert_string_equal(emu_rule_name(EMU_RULE_WINDOW), "window");
    assert_string_equal(emu_rule_name(EMU_RULE_OPTIN_TITLE_WEEK), "optin_title_week");
    assert_int_equal(emu_mtype_parse("UPDATE"), EMU_MT_UPDATE);
    assert_int_equal(emu_mtype_parse(NULL), EMU_MT_NONE);
}

static void form_decoding(void **state)
{
    (void)state;
    const char *body = "recipient=%7B%22id%22%3A%2242%22%7D&message=%7B%22text%22%3A%22a+b%22%7D"
                       "&messaging_type=UPDATE&bad=%zz&empty=";
    json_t *o = emu_form_parse(body, strlen(body));
    assert_string_equal(json_string_value(json_object_get(o, "recipient")), "{\"id\":\"42\"}");
    assert_string_equal(json_string_value(json_object_get(o, "message")), "{\"text\":\"a b\"}");
    assert_string_equal(json_string_value(json_object_get(o, "messaging_type")), "UPDATE");
    assert_string_equal(json_string_value(json_object_get(o, "bad")), "%zz");
    assert_string_equal(json_string_value(json_object_get(o, "empty")), "");
    json_decref(o);
}

/* Parses a const argv (the parser takes char ** like main's). */
static int parse_args(int argc, const char *const *argv, struct emu_args *a, char *err, size_t size)
{
    char *copy[16];
    assert_true(argc <= 16);
    for (int i = 0; i < argc; i++) {
        size_t n = strlen(argv[i]) + 1;
        copy[i] = test_malloc(n);
        memcpy(copy[i], argv[i], n);
    }
    int rc = emu_args_parse(argc, copy, a, err, size);
    for (int i = 0; i < argc; i++)
        test_free(copy[i]);
    return rc;
}

static void args_parsing(void **state)
{
    (void)state;
    struct emu_args a;
    char err[256];
    const char *ok[] = { "loa-graph",    "--listen",
                         "127.0.0.1:0",  "--clock=fake",
                         "--now",        "2021-01-01T00:00:00Z",
                         "--rate-limit", "50",
                         "--threads",    "4" };
    assert_int_equal(parse_args(10, ok, &a, err, sizeof(err)), 0);
    assert_string_equal(a.host, "127.0.0.1");
    assert_int_equal(a.port, 0);
    assert_true(a.fake_clock);
    assert_int_equal(a.now_ms, at("2021-01-01"));
    assert_int_equal(a.threads, 4);
    const char *bad_listen[] = { "loa-graph", "--listen", "nowhere" };
    assert_int_equal(parse_args(3, bad_listen, &a, err, sizeof(err)), LOA_EINVAL);
    assert_non_null(strstr(err, "--listen"));
    const char *bad_clock[] = { "loa-graph", "--clock", "slow" };
    assert_int_equal(parse_args(3, bad_clock, &a, err, sizeof(err)), LOA_EINVAL);
    assert_non_null(strstr(err, "--clock"));
    const char *missing[] = { "loa-graph", "--rate-limit" };
    assert_int_equal(parse_args(2, missing, &a, err, sizeof(err)), LOA_EINVAL);
    assert_non_null(strstr(err, "needs a value"));
    const char *unknown[] = { "loa-graph", "--fast" };
    assert_int_equal(parse_args(2, unknown, &a, err, sizeof(err)), LOA_EINVAL);
    const char *help[] = { "loa-graph", "--help" };
    assert_int_equal(parse_args(2, help, &a, err, sizeof(err)), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(window_24h_every_year),
        cmocka_unit_test(window_opened_by_each_user_action),
        cmocka_unit_test(ad_window_7_days_from_2026_09),
        cmocka_unit_test(messaging_type_required_from_2018_05_07),
        cmocka_unit_test(tags_in_2019_old_17),
        cmocka_unit_test(tags_2021_and_2024_four),
        cmocka_unit_test(tags_2026_only_human_agent),
        cmocka_unit_test(human_agent_7_days),
        cmocka_unit_test(token_cadence_24h_then_48h),
        cmocka_unit_test(token_invalid_expired_stopped_retired),
        cmocka_unit_test(optin_request_rules),
        cmocka_unit_test(content_text_counts_code_points),
        cmocka_unit_test(content_quick_replies),
        cmocka_unit_test(content_generic_template),
        cmocka_unit_test(content_button_template_and_metadata),
        cmocka_unit_test(content_optin_request_detected),
        cmocka_unit_test(names_round_trip),
        cmocka_unit_test(form_decoding),
        cmocka_unit_test(args_parsing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
