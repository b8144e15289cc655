/* SPDX-License-Identifier: MIT */
/*
 * The campaign service shared by the REST API and the CLI (include/loa/campaign.h): Page-local
 * times across daylight-saving changes, the retryable failure reasons, the status and state
 * lists, reading a campaign body with the path of every complaint, the JSON of a campaign, its
 * counts and a delivery, scheduling a campaign, and the transition table walked op by status.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include <loa/alloc.h>
#include <loa/campaign.h>
#include <loa/clock.h>
#include <loa/err.h>
#include <loa/rules.h>
#include <loa/store.h>

#include "testtxn.h"
#include "testutil.h"

#define RULES LOA_SOURCE_DIR "/rules/messaging-rules.json"
#define TEXT  "{\"blocks\":[{\"type\":\"text\",\"text\":\"Chào {{first_name|bạn}}!\"}]}"

static int64_t t(const char *iso)
{
    int64_t ms = 0;
    assert_int_equal(loa_time_parse(iso, &ms), 0);
    return ms;
}

/* "Now" for the local-time tests: 2026-12-03 12:00 UTC (19:00 in Ho Chi Minh City). */
#define NOW_FIXED ((int64_t)1796299200000)

static int64_t local(const char *s, const char *tz)
{
    int64_t ms = 0;
    int rc = loa_time_parse_local(s, tz, NOW_FIXED, &ms);
    if (rc != 0)
        fail_msg("%s in %s: %s", s, tz, loa_err_name(rc));
    return ms;
}

/* ---- Local times -------------------------------------------------------------------------- */

static void local_time_fixed_zone(void **state)
{
    (void)state;
    const char *hcm = "Asia/Ho_Chi_Minh"; /* UTC+7, no daylight saving */
    assert_int_equal(local("2026-05-04 09:00", hcm), t("2026-05-04T02:00:00Z"));
    assert_int_equal(local("2026-05-04T09:00", hcm), t("2026-05-04T02:00:00Z"));
    assert_int_equal(local("2026-05-04 09:00:30", hcm), t("2026-05-04T02:00:30Z"));
    /* Just after local midnight is the previous day in UTC. */
    assert_int_equal(local("2026-01-01 00:30", hcm), t("2025-12-31T17:30:00Z"));
    /* An explicit offset wins over the zone; no zone is needed then. */
    assert_int_equal(local("2026-05-04T09:00:00Z", hcm), t("2026-05-04T09:00:00Z"));
    assert_int_equal(local("2026-05-04 09:00+02:00", NULL), t("2026-05-04T07:00:00Z"));
    assert_int_equal(local("2026-05-04T09:00:00-05:00", "UTC"), t("2026-05-04T14:00:00Z"));
    assert_int_equal(local("2026-05-04 09:00", "UTC"), t("2026-05-04T09:00:00Z"));
}

static void local_time_dst(void **state)
{
    (void)state;
    const char *ny = "America/New_York"; /* EST -5, EDT -4 from 2026-03-08 02:00 to 11-01 02:00 */
    assert_int_equal(local("2026-03-07 09:00", ny), t("2026-03-07T14:00:00Z"));
    assert_int_equal(local("2026-03-09 09:00", ny), t("2026-03-09T13:00:00Z"));
    /* The day of the change: before and after the skipped hour. */
    assert_int_equal(local("2026-03-08 01:59", ny), t("2026-03-08T06:59:00Z"));
    assert_int_equal(local("2026-03-08 03:00", ny), t("2026-03-08T07:00:00Z"));
    assert_int_equal(local("2026-03-08 09:00", ny), t("2026-03-08T13:00:00Z"));
    /* 02:30 does not exist that morning. */
    int64_t ms = 0;
    assert_int_equal(loa_time_parse_local("2026-03-08 02:30", ny, NOW_FIXED, &ms), LOA_ERANGE);
    assert_int_equal(loa_time_parse_local("2026-03-08 02:00", ny, NOW_FIXED, &ms), LOA_ERANGE);
    /* 01:30 happens twice on 2026-11-01: the first (EDT) is taken; 02:00 is EST again. */
    assert_int_equal(local("2026-11-01 01:30", ny), t("2026-11-01T05:30:00Z"));
    assert_int_equal(local("2026-11-01 00:59", ny), t("2026-11-01T04:59:00Z"));
    assert_int_equal(local("2026-11-01 02:00", ny), t("2026-11-01T07:00:00Z"));
    assert_int_equal(local("2026-11-02 09:00", ny), t("2026-11-02T14:00:00Z"));
    /* The southern hemisphere changes the other way (Sydney: +11 in January, +10 in July). */
    assert_int_equal(local("2026-01-15 09:00", "Australia/Sydney"), t("2026-01-14T22:00:00Z"));
    assert_int_equal(local("2026-07-15 09:00", "Australia/Sydney"), t("2026-07-14T23:00:00Z"));
}

/* "HH:MM" alone is the next such time in the Page's zone (issue 17: `--at 20:00`), and times
 * print in the zone with their offset. */
static void local_time_clock_only_and_format(void **state)
{
    (void)state;
    const char *hcm = "Asia/Ho_Chi_Minh";
    assert_int_equal(t("2026-12-03T12:00:00Z"), NOW_FIXED);
    assert_int_equal(local("20:00", hcm), t("2026-12-03T13:00:00Z")); /* today, 20:00 +07 */
    assert_int_equal(local("08:00", hcm), t("2026-12-04T01:00:00Z")); /* 08:00 passed */
    assert_int_equal(local("19:00", hcm), t("2026-12-04T12:00:00Z")); /* now: tomorrow */
    assert_int_equal(local("7:30", hcm), t("2026-12-04T00:30:00Z"));
    assert_int_equal(local("20:00:30", hcm), t("2026-12-03T13:00:30Z"));
    assert_int_equal(local("13:00", "UTC"), t("2026-12-03T13:00:00Z"));
    int64_t ms = 0;
    assert_int_equal(loa_time_parse_local("24:00", hcm, NOW_FIXED, &ms), LOA_EPARSE);
    assert_int_equal(loa_time_parse_local("20:61", hcm, NOW_FIXED, &ms), LOA_EPARSE);
    assert_int_equal(loa_time_parse_local("20:00", NULL, NOW_FIXED, &ms), LOA_EINVAL);
    /* New York, the night clocks go forward: 02:30 is skipped on 2026-03-08; "02:30" asked at
     * 2026-03-08 00:00 local goes to the next day that has it. */
    assert_int_equal(
        loa_time_parse_local("02:30", "America/New_York", t("2026-03-08T05:00:00Z"), &ms), 0);
    assert_int_equal(ms, t("2026-03-09T06:30:00Z"));
    char out[48];
    loa_time_format_local(t("2026-12-03T13:00:00Z"), hcm, out, sizeof(out));
    assert_string_equal(out, "2026-12-03 20:00 +07:00");
    loa_time_format_local(t("2026-12-03T13:00:05Z"), hcm, out, sizeof(out));
    assert_string_equal(out, "2026-12-03 20:00:05 +07:00");
    loa_time_format_local(t("2026-07-01T16:00:00Z"), "America/New_York", out, sizeof(out));
    assert_string_equal(out, "2026-07-01 12:00 -04:00");
    loa_time_format_local(t("2026-07-01T16:00:00Z"), "Mars/Olympus", out, sizeof(out));
    assert_string_equal(out, "2026-07-01T16:00:00.000Z");
}

static void local_time_bad_input(void **state)
{
    (void)state;
    int64_t ms = 42;
    static const char *const bad[] = { "",
                                       "tomorrow",
                                       "2026-05-04",
                                       "2026-05-04 9:00",
                                       "2026-13-01 09:00",
                                       "2026-02-30 09:00",
                                       "2026-05-04 25:00",
                                       "2026-05-04 09:60",
                                       "2026-05-04 09:00 extra",
                                       "2026-05-04T09:00:00+99:00" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (loa_time_parse_local(bad[i], "Asia/Ho_Chi_Minh", NOW_FIXED, &ms) != LOA_EPARSE)
            fail_msg("'%s' was accepted", bad[i]);
    assert_int_equal(loa_time_parse_local(NULL, "UTC", NOW_FIXED, &ms), LOA_EPARSE);
    /* A local time needs a zone that exists. */
    assert_int_equal(loa_time_parse_local("2026-05-04 09:00", NULL, NOW_FIXED, &ms), LOA_EINVAL);
    assert_int_equal(loa_time_parse_local("2026-05-04 09:00", "", NOW_FIXED, &ms), LOA_EINVAL);
    assert_int_equal(loa_time_parse_local("2026-05-04 09:00", "Mars/Olympus", NOW_FIXED, &ms),
                     LOA_EINVAL);
    assert_int_equal(loa_time_parse_local("2026-05-04 09:00", "../../etc/passwd", NOW_FIXED, &ms),
                     LOA_EINVAL);
    assert_int_equal(ms, 42); /* untouched on failure */
}

/* ---- Retryable reasons -------------------------------------------------------------------- */

static void status_lists(void **state)
{
    (void)state;
    unsigned m = 0;
    assert_int_equal(loa_campaign_mask_parse("running,paused", false, &m), 0);
    assert_int_equal(m, (1u << LOA_CAMPAIGN_RUNNING) | (1u << LOA_CAMPAIGN_PAUSED));
    assert_int_equal(loa_campaign_mask_parse("sent", true, &m), 0);
    assert_int_equal(m, 1u << LOA_DELIVERY_SENT);
    assert_int_equal(loa_campaign_mask_parse("sent", false, &m), LOA_EINVAL);
    assert_int_equal(loa_campaign_mask_parse("running,lost", false, &m), LOA_EINVAL);
    assert_int_equal(loa_campaign_mask_parse("", false, &m), LOA_EINVAL);
    assert_int_equal(loa_campaign_mask_parse(",", true, &m), LOA_EINVAL);
}

static void retryable_reasons(void **state)
{
    (void)state;
    size_t n = 0;
    const char *const *r = loa_campaign_retryable_reasons(&n);
    assert_true(n >= 5);
    for (size_t i = 0; i < n; i++)
        for (size_t k = i + 1; k < n; k++)
            assert_string_not_equal(r[i], r[k]);
    static const char *const yes[] = { "server_error", "temporary",      "graph_unknown",
                                       "unexpected",   "connect_failed", "connect_timeout",
                                       "send_failed",  "tls_error" };
    static const char *const no[] = { "encode",
                                      "window_closed",
                                      "blocked",
                                      "plan_quota",
                                      "cancelled",
                                      "interrupted",
                                      "dropped_after_send",
                                      "invalid_token",
                                      "" };
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        if (!loa_campaign_reason_is_retryable(yes[i]))
            fail_msg("%s should be retryable", yes[i]);
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        if (loa_campaign_reason_is_retryable(no[i]))
            fail_msg("%s should not be retryable", no[i]);
    assert_false(loa_campaign_reason_is_retryable(NULL));
}

/* ---- Reading a body ----------------------------------------------------------------------- */

struct parsed {
    struct loa_campaign_body b;
    struct loa_diags d;
    int rc;
};

static void parse(struct parsed *p, const char *json, const struct loa_campaign_parse_opts *o)
{
    json_error_t err;
    json_t *v = json_loads(json, JSON_DECODE_ANY, &err);
    if (!v)
        fail_msg("test JSON: %s", err.text);
    json_decref(v);
    loa_diags_init(&p->d, 100);
    p->rc = loa_campaign_body_parse(json, strlen(json), o, &p->b, &p->d);
}

static void parsed_release(struct parsed *p)
{
    loa_campaign_body_release(&p->b);
    loa_diags_release(&p->d);
}

static bool complains(const struct parsed *p, const char *where)
{
    for (size_t i = 0; i < p->d.count; i++)
        if (strcmp(p->d.items[i].where, where) == 0)
            return true;
    return false;
}

static void expect_complaint(const char *json, const struct loa_campaign_parse_opts *o,
                             const char *where)
{
    struct parsed p;
    parse(&p, json, o);
    if (p.rc != LOA_EINVAL || !complains(&p, where)) {
        loa_diags_print(&p.d, stderr, json);
        fail_msg("%s: no complaint about %s", json, where);
    }
    parsed_release(&p);
}

static void body_create(void **state)
{
    (void)state;
    struct loa_campaign_parse_opts o = { .create = true,
                                         .tz = "Asia/Ho_Chi_Minh",
                                         .now = t("2026-05-01T00:00:00Z") };
    struct parsed p;
    /* The least a campaign needs; defaults fill the rest. */
    parse(&p, "{\"page_id\":\"111\",\"name\":\"Sale\",\"blocks\":" TEXT "}", &o);
    assert_int_equal(p.rc, 0);
    assert_string_equal(p.b.page_id, "111");
    assert_string_equal(p.b.in.name, "Sale");
    assert_string_equal(p.b.in.goal, "promotion");
    assert_string_equal(p.b.in.purpose, "promotional");
    assert_null(p.b.in.tag);
    assert_string_equal(p.b.in.filter, "{}");
    assert_string_equal(p.b.in.blocks, TEXT);
    assert_int_equal(p.b.in.scheduled_at, -1);
    assert_int_equal(p.b.in.batch_size, -1);
    assert_int_equal(p.b.in.window_from_min, -2);
    parsed_release(&p);

    /* Every field: the blocks as a bare array, a local start time, full pacing. */
    parse(&p,
          "{\"page_id\":\"111\",\"name\":\"Chăm sóc\",\"goal\":\"care\",\"purpose\":"
          "\"non_promotional\",\"tag\":\"POST_PURCHASE_UPDATE\",\"blocks\":[{\"type\":\"text\","
          "\"text\":\"hi\"}],\"filter\":{\"tags\":{\"any\":[\"vip\"]}},\"scheduled_at\":"
          "\"2026-05-04 09:00\",\"pacing\":{\"batch_size\":500,\"batch_interval_s\":600,"
          "\"rate_per_s\":20,\"window\":{\"from\":\"20:00\",\"to\":\"02:00\"}}}",
          &o);
    if (p.rc)
        loa_diags_print(&p.d, stderr, "full");
    assert_int_equal(p.rc, 0);
    assert_string_equal(p.b.in.goal, "care");
    assert_string_equal(p.b.in.tag, "POST_PURCHASE_UPDATE");
    assert_string_equal(p.b.in.blocks, "{\"blocks\":[{\"type\":\"text\",\"text\":\"hi\"}]}");
    assert_string_equal(p.b.in.filter, "{\"tags\":{\"any\":[\"vip\"]}}");
    assert_int_equal(p.b.in.scheduled_at, t("2026-05-04T02:00:00Z"));
    assert_int_equal(p.b.in.batch_size, 500);
    assert_int_equal(p.b.in.batch_interval_ms, 600000);
    assert_int_equal(p.b.in.rate_per_s, 20);
    assert_int_equal(p.b.in.window_from_min, 20 * 60);
    assert_int_equal(p.b.in.window_to_min, 2 * 60);
    parsed_release(&p);

    /* Every problem at once, each with its path. */
    parse(&p,
          "{\"name\":\"\",\"goal\":\"fame\",\"blocks\":{\"blocks\":[{\"type\":\"text\"}]},"
          "\"filter\":{\"tags\":{\"any\":[1]}},\"scheduled_at\":\"2026-04-30 09:00\","
          "\"pacing\":{\"rate_per_s\":301,\"batch_size\":-1,\"window\":{\"from\":\"8:00\"},"
          "\"speed\":2},\"colour\":\"red\"}",
          &o);
    assert_int_equal(p.rc, LOA_EINVAL);
    static const char *const want[] = { "page_id",
                                        "name",
                                        "goal",
                                        "blocks.blocks[0].text",
                                        "filter.tags.any[0]",
                                        "scheduled_at",
                                        "pacing.rate_per_s",
                                        "pacing.batch_size",
                                        "pacing.window.from",
                                        "pacing.window.to",
                                        "pacing.speed",
                                        "colour" };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (!complains(&p, want[i])) {
            loa_diags_print(&p.d, stderr, "all");
            fail_msg("no complaint about %s", want[i]);
        }
    assert_null(p.b.in.name); /* nothing is kept from a refused body */
    parsed_release(&p);

    expect_complaint("{\"page_id\":\"1\",\"name\":\"x\",\"blocks\":[{\"type\":\"text\"}]}", &o,
                     "blocks[0].text");
    expect_complaint("{\"page_id\":\"1\",\"name\":\"x\"}", &o, "blocks");
    expect_complaint("{\"page_id\":\"1\",\"name\":\"x\",\"blocks\":\"hi\"}", &o, "blocks");
    expect_complaint("{\"page_id\":\"1\",\"name\":\"x\",\"blocks\":" TEXT ",\"filter\":[]}", &o,
                     "filter");
    expect_complaint("{\"page_id\":7,\"name\":\"x\",\"blocks\":" TEXT "}", &o, "page_id");
    expect_complaint("{\"page_id\":\"1\",\"name\":\"x\",\"blocks\":" TEXT ",\"tag\":\"X\"}", &o,
                     "tag");
    expect_complaint("{\"page_id\":\"1\",\"name\":\"x\",\"blocks\":" TEXT
                     ",\"pacing\":{\"window\":{\"from\":\"08:00\",\"to\":\"08:00\"}}}",
                     &o, "pacing.window");
    expect_complaint("{\"page_id\":\"1\",\"name\":\"x\",\"blocks\":" TEXT
                     ",\"pacing\":{\"batch_interval_s\":1.5}}",
                     &o, "pacing.batch_interval_s");
    expect_complaint("{\"page_id\":\"1\",\"name\":\"x\",\"blocks\":" TEXT
                     ",\"scheduled_at\":\"2026-05-04\"}",
                     &o, "scheduled_at");
    expect_complaint("[1,2]", &o, "body");
    /* No Page (zone) known: a local time cannot be read, an explicit one can. */
    struct loa_campaign_parse_opts no_tz = o;
    no_tz.tz = NULL;
    expect_complaint("{\"page_id\":\"1\",\"name\":\"x\",\"blocks\":" TEXT
                     ",\"scheduled_at\":\"2026-05-04 09:00\"}",
                     &no_tz, "scheduled_at");
    parse(&p,
          "{\"page_id\":\"1\",\"name\":\"x\",\"blocks\":" TEXT
          ",\"scheduled_at\":\"2026-05-04T09:00:00Z\"}",
          &no_tz);
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.b.in.scheduled_at, t("2026-05-04T09:00:00Z"));
    parsed_release(&p);
}

static void body_tags_with_rules(void **state)
{
    (void)state;
    struct loa_rules *rules = NULL;
    struct loa_diags d;
    loa_diags_init(&d, 10);
    assert_int_equal(loa_rules_load(RULES, &rules, &d), 0);
    loa_diags_release(&d);
    struct loa_campaign_parse_opts o = {
        .create = true, .tz = "UTC", .rules = rules, .now = t("2025-06-01T00:00:00Z")
    };
    const char *base = "{\"page_id\":\"1\",\"name\":\"x\",\"blocks\":" TEXT
                       ",\"purpose\":\"non_promotional\",\"tag\":";
    char json[512];
    snprintf(json, sizeof(json), "%s\"POST_PURCHASE_UPDATE\"}", base);
    struct parsed p;
    parse(&p, json, &o);
    assert_int_equal(p.rc, 0);
    parsed_release(&p);
    snprintf(json, sizeof(json), "%s\"NOT_A_TAG\"}", base);
    expect_complaint(json, &o, "tag");
    /* Retired on 2026-04-27: refused when the campaign is written after that. */
    o.now = t("2026-06-01T00:00:00Z");
    snprintf(json, sizeof(json), "%s\"POST_PURCHASE_UPDATE\"}", base);
    expect_complaint(json, &o, "tag");
    snprintf(json, sizeof(json), "%s\"HUMAN_AGENT\"}", base);
    parse(&p, json, &o);
    assert_int_equal(p.rc, 0);
    parsed_release(&p);
    loa_rules_free(rules);
}

static void body_update(void **state)
{
    (void)state;
    struct loa_campaign cur = {
        .id = 9,
        .name = (char *)(uintptr_t) "Stored",
        .goal = (char *)(uintptr_t) "care",
        .purpose = (char *)(uintptr_t) "non_promotional",
        .tag = (char *)(uintptr_t) "POST_PURCHASE_UPDATE",
        .blocks = (char *)(uintptr_t)TEXT,
        .filter = (char *)(uintptr_t) "{}",
        .window_from_min = 480,
        .window_to_min = 1260,
    };
    struct loa_campaign_parse_opts o = { .tz = "America/New_York",
                                         .current = &cur,
                                         .now = t("2025-06-01T00:00:00Z") };
    struct parsed p;
    /* Absent fields keep their value; pacing is partial; null clears. */
    parse(&p,
          "{\"name\":\"New\",\"pacing\":{\"rate_per_s\":5,\"window\":null},\"scheduled_at\":"
          "null,\"tag\":null}",
          &o);
    assert_int_equal(p.rc, 0);
    assert_string_equal(p.b.in.name, "New");
    assert_null(p.b.in.goal);
    assert_null(p.b.in.purpose);
    assert_null(p.b.in.blocks);
    assert_null(p.b.in.filter);
    assert_string_equal(p.b.in.tag, "");
    assert_int_equal(p.b.in.scheduled_at, 0);
    assert_int_equal(p.b.in.rate_per_s, 5);
    assert_int_equal(p.b.in.batch_size, -1);
    assert_int_equal(p.b.in.batch_interval_ms, -1);
    assert_int_equal(p.b.in.window_from_min, -1);
    assert_int_equal(p.b.in.window_to_min, -1);
    parsed_release(&p);
    /* Turning it promotional while the stored tag stays is refused on the tag. */
    expect_complaint("{\"purpose\":\"promotional\"}", &o, "tag");
    parse(&p, "{\"purpose\":\"promotional\",\"tag\":null}", &o);
    assert_int_equal(p.rc, 0);
    parsed_release(&p);
    /* The Page cannot change; a local time uses the Page's zone (EDT in July). */
    expect_complaint("{\"page_id\":\"2\"}", &o, "page_id");
    parse(&p, "{\"scheduled_at\":\"2025-07-04 09:00\"}", &o);
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.b.in.scheduled_at, t("2025-07-04T13:00:00Z"));
    parsed_release(&p);
    expect_complaint("{\"scheduled_at\":\"2025-03-09 02:15\"}", &o, "scheduled_at");
    /* An empty body changes nothing. */
    parse(&p, "{}", &o);
    assert_int_equal(p.rc, 0);
    assert_null(p.b.in.name);
    parsed_release(&p);
}

/* ---- JSON out ----------------------------------------------------------------------------- */

static void campaign_to_json(void **state)
{
    (void)state;
    struct loa_campaign c = {
        .id = 12,
        .page_ref = 1,
        .name = (char *)(uintptr_t) "Sale",
        .goal = (char *)(uintptr_t) "promotion",
        .purpose = (char *)(uintptr_t) "promotional",
        .blocks = (char *)(uintptr_t)TEXT,
        .filter = (char *)(uintptr_t) "{\"tags\":{\"any\":[\"vip\"]}}",
        .scheduled_at = t("2026-05-04T02:00:00Z"),
        .batch_size = 100,
        .batch_interval_ms = 60000,
        .rate_per_s = 0,
        .window_from_min = 8 * 60,
        .window_to_min = 21 * 60 + 30,
        .status = LOA_CAMPAIGN_PAUSED,
        .status_reason = (char *)(uintptr_t) "stop_page:invalid_token",
        .created_at = t("2026-05-01T00:00:00Z"),
        .updated_at = t("2026-05-01T00:00:01Z"),
        .total = 3,
    };
    char *text = loa_campaign_json(&c, "111");
    assert_string_equal(
        text,
        "{\"id\":12,\"page_id\":\"111\",\"name\":\"Sale\",\"goal\":\"promotion\",\"purpose\":"
        "\"promotional\",\"tag\":null,\"blocks\":{\"blocks\":[{\"type\":\"text\",\"text\":"
        "\"Chào {{first_name|bạn}}!\"}]},\"filter\":{\"tags\":{\"any\":[\"vip\"]}},"
        "\"scheduled_at\":\"2026-05-04T02:00:00.000Z\",\"pacing\":{\"batch_size\":100,"
        "\"batch_interval_s\":60,\"rate_per_s\":0,\"window\":{\"from\":\"08:00\",\"to\":"
        "\"21:30\"}},\"status\":\"paused\",\"status_reason\":\"stop_page:invalid_token\","
        "\"created_at\":\"2026-05-01T00:00:00.000Z\",\"updated_at\":\"2026-05-01T00:00:01.000Z\","
        "\"started_at\":null,\"completed_at\":null,\"total\":3}");
    loa_free(text);
    /* What the codec writes, it reads back (as an update of the same fields). */
    c.window_from_min = c.window_to_min = -1;
    text = loa_campaign_json(&c, "111");
    json_t *o = json_loads(text, 0, NULL);
    loa_free(text);
    assert_true(json_is_null(json_object_get(json_object_get(o, "pacing"), "window")));
    json_t *body = json_pack("{s:O,s:O,s:O}", "name", json_object_get(o, "name"), "blocks",
                             json_object_get(o, "blocks"), "pacing", json_object_get(o, "pacing"));
    struct loa_campaign_parse_opts po = { .tz = "UTC", .current = &c, .now = 0 };
    struct loa_campaign_body b;
    struct loa_diags d;
    loa_diags_init(&d, 10);
    char *body_text = json_dumps(body, JSON_COMPACT);
    assert_int_equal(loa_campaign_body_parse(body_text, strlen(body_text), &po, &b, &d), 0);
    free(body_text);
    assert_string_equal(b.in.blocks, TEXT);
    assert_int_equal(b.in.batch_interval_ms, 60000);
    assert_int_equal(b.in.window_from_min, -1);
    loa_campaign_body_release(&b);
    loa_diags_release(&d);
    json_decref(body);
    json_decref(o);
}

static int add_delivery(const struct loa_delivery *x, void *ud)
{
    char *text = loa_delivery_json(x);
    json_array_append_new(ud, json_loads(text, 0, NULL));
    loa_free(text);
    return 0;
}

/* A new store (file in the test folder, its path in path) with one Page, read into *page. */
static struct loa_store *store_with_page(char *path, size_t size, const char *file,
                                         const char *page_id, const char *tz, struct loa_page *page)
{
    test_path(path, size, file);
    struct loa_store_opts so = { .path = path, .create = true };
    memset(so.key, 3, sizeof(so.key));
    struct loa_store *st = NULL;
    struct loa_diags d;
    loa_diags_init(&d, 10);
    assert_int_equal(loa_store_open(&so, &st, &d), 0);
    loa_diags_release(&d);
    struct loa_page_input pin = { .page_id = page_id,
                                  .name = "Shop",
                                  .access_token = "T",
                                  .timezone = tz,
                                  .daily_cap = -1,
                                  .plan_quota = -1,
                                  .activated_at = 1 };
    assert_int_equal(TW(st, page_put, &pin, loa_now_ms(), NULL), 0);
    assert_int_equal(loa_store_page_get(st, page_id, page), 0);
    return st;
}

/* A subscriber psid of Page page_ref, last active at `at`, first seen at first_seen. */
static void add_person(struct loa_store *st, int64_t page_ref, const char *psid, int64_t at,
                       int64_t first_seen)
{
    struct loa_subscriber s = {
        .page_ref = page_ref,
        .psid = (char *)(uintptr_t)psid,
        .utc_offset_min = LOA_UTC_OFFSET_UNKNOWN,
        .last_interaction_at = at,
        .last_interaction_kind = (char *)(uintptr_t) "message",
        .first_seen_at = first_seen,
    };
    enum loa_upsert_result r;
    int64_t sid;
    assert_int_equal(TW(st, subscriber_upsert, &s, 0, loa_now_ms(), &r, &sid), 0);
}

/* Counts and deliveries from a real store: snapshot two people, settle one sent (delivered and
   read), one failed. */
static void stats_and_deliveries(void **state)
{
    (void)state;
    char path[512];
    struct loa_page page;
    struct loa_store *st =
        store_with_page(path, sizeof(path), "campaign.db", "777", "Asia/Ho_Chi_Minh", &page);
    char pid[72], tz[64];
    assert_int_equal(loa_campaign_page_of(st, page.id, pid, sizeof(pid), tz, sizeof(tz)), 0);
    assert_string_equal(pid, "777");
    assert_string_equal(tz, "Asia/Ho_Chi_Minh");
    assert_int_equal(loa_campaign_page_of(st, page.id + 100, pid, sizeof(pid), NULL, 0),
                     LOA_ENOENT);
    int64_t now = loa_now_ms();
    for (int i = 0; i < 2; i++)
        add_person(st, page.id, i ? "p2" : "p1", now - i * 1000, now - 5000);
    struct loa_campaign_input in;
    struct loa_campaign_body b;
    loa_campaign_body_init(&b);
    in = b.in;
    in.name = "Sale";
    in.goal = "promotion";
    in.purpose = "promotional";
    in.blocks = TEXT;
    int64_t id = 0, total = 0;
    assert_int_equal(TW(st, campaign_create, page.id, &in, now, &id), 0);
    /* Scheduling: a draft, then again with another time; not once it is cancelled. */
    int64_t later = 0;
    assert_int_equal(TW(st, campaign_create, page.id, &in, now, &later), 0);
    struct loa_campaign c;
    for (int64_t at = now + LOA_HOUR_MS; at <= now + 2 * LOA_HOUR_MS; at += LOA_HOUR_MS) {
        assert_int_equal(loa_campaign_schedule(st, later, at, now), 0);
        assert_int_equal(loa_store_campaign_get(st, later, &c), 0);
        assert_int_equal(c.status, LOA_CAMPAIGN_SCHEDULED);
        assert_int_equal(c.scheduled_at, at);
        loa_campaign_release(&c);
    }
    assert_int_equal(TW(st, campaign_set_status, later, 1u << LOA_CAMPAIGN_SCHEDULED,
                        LOA_CAMPAIGN_CANCELLED, NULL, now),
                     0);
    assert_int_equal(loa_campaign_schedule(st, later, now + LOA_HOUR_MS, now), LOA_ESTATE);
    assert_int_equal(loa_store_campaign_get(st, later, &c), 0);
    assert_int_equal(c.status, LOA_CAMPAIGN_CANCELLED);
    loa_campaign_release(&c);
    assert_int_equal(loa_campaign_schedule(st, later + 100, now + LOA_HOUR_MS, now), LOA_ENOENT);
    char *text = NULL;
    assert_int_equal(loa_campaign_stats_json(st, id, &text), 0);
    json_t *o = json_loads(text, 0, NULL);
    loa_free(text);
    assert_true(json_is_null(json_object_get(json_object_get(o, "rates"), "delivered")));
    json_decref(o);
    assert_int_equal(loa_campaign_start(st, id, now, &total), 0);
    assert_int_equal(total, 2);
    struct loa_claim claims[2];
    size_t n = 0;
    assert_int_equal(TW(st, outbox_claim, page.id, LOA_SOURCE_CAMPAIGN, id, now, 2, claims, &n), 0);
    assert_int_equal(n, 2);
    struct loa_delivery_outcome sent = {
        .state = LOA_DELIVERY_SENT, .mid = "m_1", .at = now, .page_ref = page.id, .text = "hi"
    };
    struct loa_delivery_outcome failed = { .state = LOA_DELIVERY_FAILED,
                                           .reason = "server_error",
                                           .at = now };
    assert_int_equal(TW(st, delivery_settle, claims[0].id, &sent, NULL), 0);
    assert_int_equal(TW(st, delivery_settle, claims[1].id, &failed, NULL), 0);
    assert_int_equal(TW(st, conversation_read, page.id, claims[0].psid, now + 10), 0);
    assert_int_equal(TW(st, delivery_funnel, page.id, claims[0].psid), 0);
    for (size_t i = 0; i < n; i++)
        loa_claim_release(&claims[i]);
    assert_int_equal(loa_campaign_stats_json(st, id, &text), 0);
    assert_string_equal(text,
                        "{\"total\":2,\"by_state\":{\"pending\":0,\"in_flight\":0,\"sent\":1,"
                        "\"failed\":1,\"skipped\":0,\"unknown\":0},\"reasons\":[{\"state\":"
                        "\"failed\",\"reason\":\"server_error\",\"count\":1}],\"funnel\":{"
                        "\"sent\":1,\"delivered\":1,\"read\":1,\"clicked\":0,\"replied\":0},"
                        "\"rates\":{\"delivered\":1.0,\"read\":1.0,\"clicked\":0.0,\"replied\":"
                        "0.0}}");
    loa_free(text);
    /* A delivery as JSON: position 0 is the most recently active person. */
    json_t *arr = json_array();
    assert_int_equal(loa_store_delivery_list(st, id, 0, -1, 0, 0, add_delivery, arr), 0);
    assert_int_equal(json_array_size(arr), 2);
    json_t *first = json_array_get(arr, 0);
    assert_int_equal(json_integer_value(json_object_get(first, "position")), 0);
    assert_string_equal(json_string_value(json_object_get(first, "psid")), "p1");
    assert_string_equal(json_string_value(json_object_get(first, "state")), "sent");
    assert_string_equal(json_string_value(json_object_get(first, "mid")), "m_1");
    assert_true(json_is_string(json_object_get(first, "read_at")));
    assert_true(json_is_null(json_object_get(first, "clicked_at")));
    json_t *second = json_array_get(arr, 1);
    assert_string_equal(json_string_value(json_object_get(second, "reason")), "server_error");
    assert_true(json_is_null(json_object_get(second, "mid")));
    json_decref(arr);
    /* Deleting: not while completed; a cancelled one goes with its deliveries. */
    bool done = false;
    assert_int_equal(TW(st, campaign_finish_if_done, id, now, &done), 0);
    assert_true(done);
    unsigned deletable = (1u << LOA_CAMPAIGN_DRAFT) | (1u << LOA_CAMPAIGN_CANCELLED);
    assert_int_equal(TW(st, campaign_delete, id, deletable), LOA_ESTATE);
    assert_int_equal(TW(st, campaign_set_status, id, 1u << LOA_CAMPAIGN_COMPLETED,
                        LOA_CAMPAIGN_CANCELLED, NULL, now),
                     0);
    assert_int_equal(TW(st, campaign_delete, id, deletable), 0);
    assert_int_equal(TW(st, campaign_delete, id, deletable), LOA_ENOENT);
    struct loa_campaign_stats cs;
    assert_int_equal(loa_store_campaign_stats(st, id, &cs, NULL, NULL), 0);
    assert_int_equal(cs.total, 0);
    loa_page_release(&page);
    loa_store_close(st);
    test_remove_store(path);
}

/* ---- The transition table ----------------------------------------------------------------- */

#define B(s) (1u << LOA_CAMPAIGN_##s)

/* What REST and CLI answered before the service owned the table, written out again here so a
   change to the table shows up as a failure. to: -1 unchanged, -2 deleted. */
static const struct {
    enum loa_campaign_op op;
    unsigned from;
    int to;
    const char *refusal;
} expected[LOA_CAMPAIGN_OP_COUNT] = {
    { LOA_CAMPAIGN_OP_EDIT, B(DRAFT), -1, "only a draft can be edited" },
    { LOA_CAMPAIGN_OP_DELETE, B(DRAFT) | B(CANCELLED), -2,
      "only a draft or a cancelled campaign can be deleted" },
    { LOA_CAMPAIGN_OP_START, B(DRAFT) | B(SCHEDULED), LOA_CAMPAIGN_RUNNING,
      "only a draft or a scheduled campaign can be started" },
    { LOA_CAMPAIGN_OP_SCHEDULE, B(DRAFT) | B(SCHEDULED), LOA_CAMPAIGN_SCHEDULED,
      "only a draft or a scheduled campaign can be scheduled" },
    { LOA_CAMPAIGN_OP_PAUSE, B(RUNNING), LOA_CAMPAIGN_PAUSED,
      "only a running campaign can be paused" },
    { LOA_CAMPAIGN_OP_RESUME, B(PAUSED), LOA_CAMPAIGN_RUNNING,
      "only a paused campaign can be resumed" },
    { LOA_CAMPAIGN_OP_CANCEL, B(DRAFT) | B(SCHEDULED) | B(RUNNING) | B(PAUSED),
      LOA_CAMPAIGN_CANCELLED, "a completed or cancelled campaign cannot be cancelled" },
    { LOA_CAMPAIGN_OP_RETRY_FAILED, B(RUNNING) | B(PAUSED) | B(COMPLETED), -1,
      "only a started (running, paused or completed) campaign's deliveries can be sent again" },
    { LOA_CAMPAIGN_OP_RESEND_UNKNOWN, B(RUNNING) | B(PAUSED) | B(COMPLETED), -1,
      "only a started (running, paused or completed) campaign's deliveries can be sent again" },
};

/* A new campaign of page_ref put straight into status s. */
static int64_t campaign_in(struct loa_store *st, int64_t page_ref, enum loa_campaign_status s,
                           int64_t now)
{
    struct loa_campaign_body b;
    loa_campaign_body_init(&b);
    struct loa_campaign_input in = b.in;
    in.name = "Walk";
    in.goal = "promotion";
    in.purpose = "promotional";
    in.blocks = TEXT;
    in.filter = "{}";
    in.scheduled_at = now + LOA_HOUR_MS;
    int64_t id = 0;
    assert_int_equal(loa_campaign_create(st, page_ref, &in, now, &id), 0);
    if (s != LOA_CAMPAIGN_DRAFT)
        assert_int_equal(TW(st, campaign_set_status, id, B(DRAFT), s, NULL, now), 0);
    return id;
}

/* Every operation from every status: allowed (and the status after) or refused with the
   sentence REST and CLI print, the status unchanged. */
static void transition_table(void **state)
{
    (void)state;
    char path[512];
    struct loa_page page;
    struct loa_store *st = store_with_page(path, sizeof(path), "walk.db", "888", "UTC", &page);
    int64_t now = loa_now_ms();
    add_person(st, page.id, "w1", now, now);
    for (int op = 0; op < LOA_CAMPAIGN_OP_COUNT; op++) {
        assert_int_equal(expected[op].op, op);
        assert_string_equal(loa_campaign_op_refusal((enum loa_campaign_op)op),
                            expected[op].refusal);
        assert_non_null(loa_campaign_op_name((enum loa_campaign_op)op));
        for (int s = 0; s < LOA_CAMPAIGN_STATUS_COUNT; s++) {
            enum loa_campaign_status status = (enum loa_campaign_status)s;
            bool allowed = (expected[op].from & (1u << s)) != 0;
            assert_int_equal(loa_campaign_op_allowed((enum loa_campaign_op)op, status), allowed);
            int64_t id = campaign_in(st, page.id, status, now);
            struct loa_campaign_body b;
            loa_campaign_body_init(&b);
            b.in.name = "Walked";
            int64_t ids[1] = { 1 };
            struct loa_campaign_args args = {
                .reason = "manual", .in = &b.in, .at = now + 2 * LOA_HOUR_MS, .ids = ids, .nids = 1
            };
            const char *refusal = "unset";
            int rc =
                loa_campaign_apply_with(st, id, (enum loa_campaign_op)op, &args, now, &refusal);
            struct loa_campaign c;
            int got = loa_store_campaign_get(st, id, &c);
            if (!allowed) {
                if (rc != LOA_ESTATE)
                    fail_msg("%s from %s: %s, not refused", loa_campaign_op_name(op),
                             loa_campaign_status_name(status), loa_err_name(rc));
                assert_string_equal(refusal, expected[op].refusal);
                assert_int_equal(got, 0);
                assert_int_equal(c.status, status);
            } else {
                if (rc != 0)
                    fail_msg("%s from %s: %s", loa_campaign_op_name(op),
                             loa_campaign_status_name(status), loa_err_name(rc));
                assert_null(refusal);
                if (expected[op].to == -2) {
                    assert_int_equal(got, LOA_ENOENT);
                    continue;
                }
                assert_int_equal(got, 0);
                int want = expected[op].to == -1 ? s : expected[op].to;
                assert_int_equal(loa_campaign_op_target((enum loa_campaign_op)op),
                                 expected[op].to == -1 ? -1 : want);
                assert_int_equal(c.status, want);
                if (op == LOA_CAMPAIGN_OP_EDIT)
                    assert_string_equal(c.name, "Walked");
                if (op == LOA_CAMPAIGN_OP_START)
                    assert_int_equal(args.count, 1);
                if (op == LOA_CAMPAIGN_OP_SCHEDULE)
                    assert_int_equal(c.scheduled_at, now + 2 * LOA_HOUR_MS);
                if (op == LOA_CAMPAIGN_OP_PAUSE)
                    assert_string_equal(c.status_reason, "manual");
            }
            loa_campaign_release(&c);
        }
        /* A campaign that does not exist is not found, whatever the operation. */
        assert_int_equal(loa_campaign_apply(st, 999999, (enum loa_campaign_op)op, NULL, now, NULL),
                         LOA_ENOENT);
    }
    for (int s = 0; s < LOA_CAMPAIGN_STATUS_COUNT; s++)
        assert_int_equal(loa_campaign_is_started((enum loa_campaign_status)s),
                         (B(RUNNING) | B(PAUSED) | B(COMPLETED)) & (1u << s) ? true : false);
    assert_false(loa_campaign_op_allowed(LOA_CAMPAIGN_OP_COUNT, LOA_CAMPAIGN_DRAFT));
    loa_page_release(&page);
    loa_store_close(st);
    test_remove_store(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(local_time_fixed_zone),
        cmocka_unit_test(local_time_dst),
        cmocka_unit_test(local_time_clock_only_and_format),
        cmocka_unit_test(local_time_clock_only_and_format),
        cmocka_unit_test(local_time_bad_input),
        cmocka_unit_test(retryable_reasons),
        cmocka_unit_test(status_lists),
        cmocka_unit_test(body_create),
        cmocka_unit_test(body_tags_with_rules),
        cmocka_unit_test(body_update),
        cmocka_unit_test(campaign_to_json),
        cmocka_unit_test(stats_and_deliveries),
        cmocka_unit_test(transition_table),
    };
    return cmocka_run_group_tests_name("campaign", tests, NULL, NULL);
}
