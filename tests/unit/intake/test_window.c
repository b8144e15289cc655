/* SPDX-License-Identifier: MIT */
/*
 * The messaging-window transition (loa_intake_window_next), a pure function: every event kind
 * and variant, against a new person and a known one whose last interaction is earlier, equal
 * or later than the event, with first seen before and after it, with and without a pending ad
 * referral; then the sequences that matter (ad click then message, out-of-order delivery).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <loa/intake.h>

#include "test_intake.h"

#define T 1767225600000LL /* the event's time */

/* One event variant and what it does to the window. */
struct variant {
    const char *name;
    struct loa_intake_event ev;
    const char *opens; /* the interaction kind it writes, NULL when it opens no window */
    bool ad_click;     /* an ad referral on a non-message: remembered */
    bool message;      /* a message: spends a pending ad referral */
};

#define EV(k, ...)                                       \
    {                                                    \
        .kind = LOA_INTAKE_##k, .psid = "P", __VA_ARGS__ \
    }
#define AT_T(k, ...) EV(k, .at = T, __VA_ARGS__)

static const struct variant variants[] = {
    { "message", AT_T(MESSAGE, .text = "hi"), "message", false, true },
    { "quick reply", AT_T(MESSAGE, .quick_reply = "Q"), "quick_reply", false, true },
    { "message with ad referral", AT_T(MESSAGE, .ref_source = LOA_INTAKE_REF_ADS), "message", false,
      true },
    { "echo", AT_T(ECHO, .text = "out"), NULL, false, false },
    { "echo with ad referral", AT_T(ECHO, .ref_source = LOA_INTAKE_REF_ADS), NULL, false, false },
    { "postback", AT_T(POSTBACK, .quick_reply = "P"), "postback", false, false },
    { "get started (m.me)", AT_T(POSTBACK, .ref_source = LOA_INTAKE_REF_SHORTLINK), "get_started",
      false, false },
    { "get started (ad)", AT_T(POSTBACK, .ref_source = LOA_INTAKE_REF_ADS), "get_started", true,
      false },
    { "referral (ad)", AT_T(REFERRAL, .ref_source = LOA_INTAKE_REF_ADS), "referral_ad", true,
      false },
    { "referral (m.me)", AT_T(REFERRAL, .ref_source = LOA_INTAKE_REF_SHORTLINK), "referral_mme",
      false, false },
    { "referral (plugin)", AT_T(REFERRAL, .ref_source = LOA_INTAKE_REF_PLUGIN), "referral_plugin",
      false, false },
    { "referral (other)", AT_T(REFERRAL, .ref_source = LOA_INTAKE_REF_OTHER), "referral", false,
      false },
    { "referral (no source)", AT_T(REFERRAL, .ref_source = LOA_INTAKE_REF_NONE), "referral", false,
      false },
    { "plugin opt-in", AT_T(OPTIN, .optin_ref = "r"), "referral_plugin", false, false },
    { "topic opt-in", AT_T(OPTIN, .ntoken = true, .token = "tok"), NULL, false, false },
    { "delivery", AT_T(DELIVERY, .watermark = T), NULL, false, false },
    { "read", AT_T(READ, .watermark = T), NULL, false, false },
    { "reaction", AT_T(REACTION, .reaction = "love"), "reaction", false, false },
    { "unreact", AT_T(REACTION, .unreact = true), NULL, false, false },
    { "unknown", AT_T(UNKNOWN, .raw_kind = "standby"), NULL, false, false },
};
#define NVARIANTS (sizeof(variants) / sizeof(variants[0]))

/* A new person: seen now, and the window opened now when the event opens one. */
static void check_new(const struct variant *v)
{
    struct loa_window cur = { .known = false }, next;
    loa_intake_window_next(&cur, &v->ev, &next);
    assert_true(next.known);
    assert_int_equal(next.first_seen_at, T);
    assert_int_equal(next.last_interaction_at, v->opens ? T : 0);
    if (v->opens)
        assert_string_equal(next.last_interaction_kind, v->opens);
    else
        assert_null(next.last_interaction_kind);
    assert_int_equal(next.ad_referral_at, v->ad_click ? T : 0);
    /* Only a message that carries the ad's referral is the first message after the ad. */
    bool carries_ad = v->message && v->ev.ref_source == LOA_INTAKE_REF_ADS;
    assert_int_equal(next.after_ctm_ad, carries_ad);
}

/* A known person whose last interaction is at last_at, first seen at seen_at, with an ad
   referral pending since ad_at (0 = none) and the after-ad flag set. */
static void check_known(const struct variant *v, int64_t last_at, int64_t seen_at, int64_t ad_at)
{
    struct loa_window cur = { .known = true,
                              .first_seen_at = seen_at,
                              .last_interaction_at = last_at,
                              .last_interaction_kind = "old",
                              .ad_referral_at = ad_at,
                              .after_ctm_ad = true },
                      next;
    loa_intake_window_next(&cur, &v->ev, &next);
    assert_true(next.known);
    int64_t want_seen = seen_at == 0 || T < seen_at ? T : seen_at;
    assert_int_equal(next.first_seen_at, want_seen);
    bool moves = v->opens && T >= last_at;
    bool spends_ad = moves && v->message &&
                     (v->ev.ref_source == LOA_INTAKE_REF_ADS || (ad_at > 0 && ad_at <= T));
    assert_int_equal(next.last_interaction_at, moves ? T : last_at);
    assert_string_equal(next.last_interaction_kind, moves ? v->opens : "old");
    assert_int_equal(next.after_ctm_ad, moves ? spends_ad : true);
    int64_t want_ad = v->ad_click ? T : spends_ad ? 0 : ad_at;
    assert_int_equal(next.ad_referral_at, want_ad);
}

static void every_kind_every_state(void **state)
{
    (void)state;
    const int64_t lasts[] = { 0, T - 1000, T, T + 1000 };
    const int64_t seens[] = { 0, T - 5000, T + 5000 };
    const int64_t ads[] = { 0, T - 2000, T + 2000 };
    for (size_t i = 0; i < NVARIANTS; i++) {
        print_message("%s\n", variants[i].name);
        check_new(&variants[i]);
        for (size_t a = 0; a < 4; a++)
            for (size_t b = 0; b < 3; b++)
                for (size_t c = 0; c < 3; c++)
                    check_known(&variants[i], lasts[a], seens[b], ads[c]);
    }
}

/* Applies events in order to a new person. */
static struct loa_window run(const struct loa_intake_event *ev, size_t n)
{
    struct loa_window w = { .known = false };
    for (size_t i = 0; i < n; i++)
        loa_intake_window_next(&w, &ev[i], &w); /* cur and next may alias */
    return w;
}

static void ad_click_then_messages(void **state)
{
    (void)state;
    const struct loa_intake_event ev[] = {
        EV(REFERRAL, .ref_source = LOA_INTAKE_REF_ADS, .at = T),
        EV(DELIVERY, .at = T + 1), /* no window: changes nothing */
        EV(POSTBACK, .at = T + 2), /* an ordinary action: the ad stays pending */
        EV(MESSAGE, .at = T + 3),  /* the first message after the ad */
        EV(MESSAGE, .at = T + 4),  /* an ordinary message again */
    };
    struct loa_window w = run(ev, 1);
    assert_int_equal(w.ad_referral_at, T);
    assert_string_equal(w.last_interaction_kind, "referral_ad");
    w = run(ev, 3);
    assert_string_equal(w.last_interaction_kind, "postback");
    assert_false(w.after_ctm_ad);
    assert_int_equal(w.ad_referral_at, T);
    w = run(ev, 4);
    assert_true(w.after_ctm_ad);
    assert_int_equal(w.ad_referral_at, 0);
    assert_int_equal(w.last_interaction_at, T + 3);
    w = run(ev, 5);
    assert_false(w.after_ctm_ad);
    assert_int_equal(w.last_interaction_at, T + 4);
}

static void out_of_order(void **state)
{
    (void)state;
    /* A later message arrives first; the earlier one must not move the window back, but moves
       first seen earlier. A message older than the ad click does not spend it. */
    const struct loa_intake_event ev[] = {
        EV(MESSAGE, .at = T + 10000),
        EV(REACTION, .at = T + 500, .reaction = "like"),
        EV(REFERRAL, .ref_source = LOA_INTAKE_REF_ADS, .at = T + 20000),
        EV(MESSAGE, .at = T + 15000),
    };
    struct loa_window w = run(ev, 2);
    assert_int_equal(w.last_interaction_at, T + 10000);
    assert_string_equal(w.last_interaction_kind, "message");
    assert_int_equal(w.first_seen_at, T + 500);
    w = run(ev, 4);
    assert_int_equal(w.last_interaction_at, T + 20000);
    assert_string_equal(w.last_interaction_kind, "referral_ad");
    assert_int_equal(w.ad_referral_at, T + 20000);
    assert_false(w.after_ctm_ad);
    assert_int_equal(w.first_seen_at, T + 500);
}

int test_window_group(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_kind_every_state),
        cmocka_unit_test(ad_click_then_messages),
        cmocka_unit_test(out_of_order),
    };
    return cmocka_run_group_tests_name("window", tests, NULL, NULL);
}
