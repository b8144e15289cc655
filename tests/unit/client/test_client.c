/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the Graph API client: the classification table (every row), usage headers,
 * backoff, appsecret_proof, and the client against an in-process libmicrohttpd stub on
 * 127.0.0.1:0 (success, Graph errors, usage headers, keep-alive reuse, timeouts, dropped
 * connections, in-flight cap, cancellation, profiles, event-loop mode).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <loa/alloc.h>
#include <loa/client.h>
#include <loa/clock.h>
#include <loa/err.h>
#include <loa/log.h>

#include "stub.h"

/* printf %s EAAtoken123 | openssl dgst -sha256 -hmac appsecret */
#define PROOF_EAATOKEN123 "729f41b9c812aba610e01fb68e763be809965260e634025feb0e50750ebe30b7"

/* ---- classification table -------------------------------------------------------------- */

/* Builds an input that matches row r and nothing more specific. */
static void input_for(const struct loa_client_rule *r, int *http, int *code, int *sub)
{
    *code = r->code == LOA_CLIENT_ANY ? 12345 : r->code;
    *sub = r->subcode == LOA_CLIENT_ANY ? 0 : r->subcode;
    if (r->http == LOA_CLIENT_ANY)
        *http = r->code == LOA_CLIENT_ANY && r->subcode == LOA_CLIENT_ANY ? 302
                : *code < 0                                               ? 0
                                                                          : 400;
    else if (r->http >= 1 && r->http <= 5)
        *http = r->http * 100;
    else
        *http = r->http;
}

static void every_row_classifies_to_itself(void **state)
{
    (void)state;
    size_t n;
    const struct loa_client_rule *rules = loa_client_rules(&n);
    assert_true(n > 50);
    for (size_t i = 0; i < n; i++) {
        int http, code, sub;
        enum loa_client_action a;
        const char *reason = NULL;
        input_for(&rules[i], &http, &code, &sub);
        loa_client_classify(http, code, sub, &a, &reason);
        if (a != rules[i].action || strcmp(reason, rules[i].reason) != 0)
            fail_msg("row %zu (%d/%d/%d) gave %s/%s, table says %s/%s", i, http, code, sub,
                     loa_client_action_name(a), reason, loa_client_action_name(rules[i].action),
                     rules[i].reason);
        assert_non_null(rules[i].meaning);
        assert_non_null(rules[i].source);
    }
}

struct expect {
    int http, code, sub;
    enum loa_client_action action;
    const char *reason;
};

static const struct expect expected[] = {
    { 200, 0, 0, LOA_CLIENT_DONE, "ok" },
    { 400, 10, 2018278, LOA_CLIENT_SKIP_PERSON, "window_closed" },
    { 400, 10, 2534022, LOA_CLIENT_SKIP_PERSON, "window_closed" },
    { 400, 551, 0, LOA_CLIENT_SKIP_PERSON, "blocked" },
    { 400, 551, 1545041, LOA_CLIENT_SKIP_PERSON, "user_unavailable" },
    { 400, 200, 1545041, LOA_CLIENT_SKIP_PERSON, "user_unavailable" },
    { 400, 190, 0, LOA_CLIENT_STOP_PAGE, "invalid_token" },
    { 400, 190, 460, LOA_CLIENT_STOP_PAGE, "invalid_token" },
    { 403, 200, 0, LOA_CLIENT_STOP_PAGE, "permission" },
    { 400, 10, 1893063, LOA_CLIENT_STOP_PAGE, "page_restricted" },
    { 400, 613, 2534040, LOA_CLIENT_SLOW_PAGE, "rate_limit" },
    { 429, 613, 0, LOA_CLIENT_SLOW_PAGE, "rate_limit" },
    { 400, 4, 0, LOA_CLIENT_SLOW_PAGE, "app_rate_limit" },
    { 400, 32, 0, LOA_CLIENT_SLOW_PAGE, "page_rate_limit" },
    { 400, 4, 2018354, LOA_CLIENT_SKIP_PERSON, "cadence" },
    { 500, 2, 0, LOA_CLIENT_RETRY, "temporary" },
    { 400, 2, 0, LOA_CLIENT_RETRY, "temporary" },
    { 500, 1, 1357046, LOA_CLIENT_UNKNOWN, "may_have_been_sent" },
    { 400, 100, 2018001, LOA_CLIENT_SKIP_PERSON, "no_matching_user" },
    { 400, 100, 1893061, LOA_CLIENT_SKIP_PERSON, "invalid_parameter" },
    { 400, 10, 1893015, LOA_CLIENT_SKIP_PERSON, "token_stopped" },
    { 400, 100, 2018218, LOA_CLIENT_SKIP_PERSON, "no_profile" },
    { 400, 2018218, 0, LOA_CLIENT_SKIP_PERSON, "no_profile" },
    /* Unknown codes: 4xx skips the person, 5xx retries. */
    { 400, 777777, 0, LOA_CLIENT_SKIP_PERSON, "unknown_error" },
    { 503, 777777, 0, LOA_CLIENT_RETRY, "server_error" },
    { 502, 0, 0, LOA_CLIENT_RETRY, "server_error" },
    { 404, 0, 0, LOA_CLIENT_SKIP_PERSON, "unknown_error" },
    { 429, 0, 0, LOA_CLIENT_SLOW_PAGE, "http_429" },
    { 301, 0, 0, LOA_CLIENT_RETRY, "unexpected" },
    { 0, LOA_CLIENT_EC_CONNECT, 0, LOA_CLIENT_RETRY, "connect_failed" },
    { 0, LOA_CLIENT_EC_TIMEOUT, 0, LOA_CLIENT_UNKNOWN, "timeout_after_send" },
    { 0, LOA_CLIENT_EC_DROPPED, 0, LOA_CLIENT_UNKNOWN, "dropped_after_send" },
    { 200, LOA_CLIENT_EC_BAD_REPLY, 0, LOA_CLIENT_UNKNOWN, "bad_reply" },
    { 0, LOA_CLIENT_EC_CANCELED, 0, LOA_CLIENT_RETRY, "canceled" },
    { 0, LOA_CLIENT_EC_CANCELED_SENT, 0, LOA_CLIENT_UNKNOWN, "canceled_after_send" },
};

static void known_outcomes(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
        const struct expect *e = &expected[i];
        enum loa_client_action a;
        const char *reason;
        loa_client_classify(e->http, e->code, e->sub, &a, &reason);
        if (a != e->action || strcmp(reason, e->reason) != 0)
            fail_msg("%d/%d/%d gave %s/%s", e->http, e->code, e->sub, loa_client_action_name(a),
                     reason);
    }
}

/* Every code-subcode pair of messenger-platform.md §2.2 has its own row. */
static void doc_codes_have_rows(void **state)
{
    (void)state;
    static const int pairs[][2] = {
        { 1, 99 },        { 1, 1357046 },   { 2, 0 },         { 4, 0 },         { 4, 2018354 },
        { 9, 2018352 },   { 10, 2018278 },  { 10, 2534022 },  { 10, 2018065 },  { 10, 2018108 },
        { 10, 1893015 },  { 10, 1404170 },  { 10, 1893063 },  { 10, 2018336 },  { 32, 0 },
        { 100, 0 },       { 100, 33 },      { 100, 2018001 }, { 190, 0 },       { 200, 0 },
        { 200, 1545041 }, { 200, 2018028 }, { 551, 0 },       { 551, 1545041 }, { 613, 1893016 },
        { 613, 2018338 }, { 613, 2534040 }, { 2018218, 0 },   { 2018247, 0 },   { 2018300, 0 },
        { 2018321, 0 },   { 9000001, 0 },
    };
    size_t n;
    const struct loa_client_rule *rules = loa_client_rules(&n);
    for (size_t p = 0; p < sizeof(pairs) / sizeof(pairs[0]); p++) {
        bool found = false;
        for (size_t i = 0; i < n && !found; i++)
            found = rules[i].code == pairs[p][0] &&
                    (pairs[p][1] == 0 ? rules[i].subcode == LOA_CLIENT_ANY
                                      : rules[i].subcode == pairs[p][1]);
        if (!found)
            fail_msg("no row for %d/%d", pairs[p][0], pairs[p][1]);
    }
}

/* Formats a rule's http/code/subcode cell the way docs/graph-client.md does. */
static const char *cell(int v, char *b, bool http)
{
    static const char *const ec[] = { "EC_CONNECT",   "EC_CONNECT_TIMEOUT", "EC_SEND_FAILED",
                                      "EC_TLS",       "EC_TIMEOUT",         "EC_DROPPED",
                                      "EC_BAD_REPLY", "EC_CANCELED",        "EC_CANCELED_SENT",
                                      "EC_INTERNAL" };
    if (v == LOA_CLIENT_ANY)
        return "*";
    if (http && v >= 1 && v <= 5)
        snprintf(b, 16, "%dxx", v);
    else if (!http && v <= -1 && v >= -10)
        return ec[-v - 1];
    else
        snprintf(b, 16, "%d", v);
    return b;
}

/* docs/graph-client.md lists every row of the table exactly as the code has it. */
static void docs_list_every_row(void **state)
{
    (void)state;
    const char *src = getenv("LOA_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof(path), "%s/docs/graph-client.md", src ? src : LOA_SOURCE_DIR);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char doc[256 * 1024];
    size_t len = fread(doc, 1, sizeof(doc) - 1, f);
    doc[len] = '\0';
    fclose(f);
    size_t n;
    const struct loa_client_rule *r = loa_client_rules(&n);
    for (size_t i = 0; i < n; i++) {
        char a[16], b[16], c[16], line[512];
        snprintf(line, sizeof(line), "| %s | %s | %s | %s | %s | %s | %s |\n",
                 cell(r[i].http, a, true), cell(r[i].code, b, false), cell(r[i].subcode, c, false),
                 loa_client_action_name(r[i].action), r[i].reason, r[i].meaning, r[i].source);
        if (!strstr(doc, line))
            fail_msg("docs/graph-client.md lacks the row %s", line);
    }
}

/* ---- usage headers ---------------------------------------------------------------------- */

static void app_usage_valid(void **state)
{
    (void)state;
    struct loa_client_usage u = { 0 };
    const char *v = "{\"call_count\":28,\"total_time\":25,\"total_cputime\":30.2}";
    assert_int_equal(loa_client_parse_app_usage(v, strlen(v), &u), 0);
    assert_true(u.has_app);
    assert_int_equal(u.app_call_count, 28);
    assert_int_equal(u.app_total_time, 25);
    assert_int_equal(u.app_total_cputime, 31); /* rounded up: never under-report */
    assert_int_equal(u.max_percent, 31);
}

static void buc_usage_valid(void **state)
{
    (void)state;
    struct loa_client_usage u = { 0 };
    const char *v = "{\"111\":[{\"type\":\"messenger\",\"call_count\":80,\"total_cputime\":10,"
                    "\"total_time\":12,\"estimated_time_to_regain_access\":5},"
                    "{\"type\":\"pages\",\"call_count\":3,\"total_cputime\":90,\"total_time\":1,"
                    "\"estimated_time_to_regain_access\":0}],"
                    "\"222\":[{\"type\":\"ads\",\"call_count\":99,\"total_cputime\":99,"
                    "\"total_time\":99,\"estimated_time_to_regain_access\":60}]}";
    assert_int_equal(loa_client_parse_buc_usage(v, strlen(v), "111", &u), 0);
    assert_true(u.has_buc);
    assert_int_equal(u.buc_call_count, 80);
    assert_int_equal(u.buc_total_cputime, 90);
    assert_int_equal(u.buc_total_time, 12);
    assert_int_equal(u.buc_eta_minutes, 5);
    assert_string_equal(u.buc_type, "pages");
    assert_int_equal(u.max_percent, 90);
    /* Unknown page: every entry counts. */
    struct loa_client_usage w = { 0 };
    assert_int_equal(loa_client_parse_buc_usage(v, strlen(v), "333", &w), 0);
    assert_int_equal(w.max_percent, 99);
    assert_int_equal(w.buc_eta_minutes, 60);
    assert_string_equal(w.buc_type, "ads");
    /* BUC wins over app usage for max_percent. */
    const char *app = "{\"call_count\":100,\"total_time\":0,\"total_cputime\":0}";
    assert_int_equal(loa_client_parse_app_usage(app, strlen(app), &u), 0);
    assert_int_equal(u.max_percent, 90);
}

static void usage_malformed_is_ignored(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        "{",
        "not json",
        "[1,2,3]",
        "\"x\"",
        "{}",
        "{\"call_count\":\"28\"}",
        "{\"call_count\":null}",
        "{\"other\":1}",
        "{\"1\":{\"call_count\":1}}",
        "{\"1\":[1]}",
        "{\"1\":[{\"type\":\"x\"}]}",
        "{\"1\":[{\"call_count\":[]}]}",
        "{\"1\":[]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct loa_client_usage u = { 0 };
        u.app_call_count = 7;
        assert_int_equal(loa_client_parse_app_usage(bad[i], strlen(bad[i]), &u), LOA_EPARSE);
        assert_int_equal(loa_client_parse_buc_usage(bad[i], strlen(bad[i]), "1", &u), LOA_EPARSE);
        assert_false(u.has_app);
        assert_false(u.has_buc);
        assert_int_equal(u.app_call_count, 7); /* untouched */
    }
    /* Numbers out of range are clamped, negatives read as 0. */
    struct loa_client_usage u = { 0 };
    const char *v = "{\"call_count\":1e300,\"total_time\":-5,\"total_cputime\":2}";
    assert_int_equal(loa_client_parse_app_usage(v, strlen(v), &u), 0);
    assert_int_equal(u.app_call_count, 100000);
    assert_int_equal(u.app_total_time, 0);
    /* Embedded NUL and a value that is not NUL-terminated at len. */
    const char nul[] = "{\"call_count\":5}\0garbage";
    assert_int_equal(loa_client_parse_app_usage(nul, sizeof(nul) - 1, &u), LOA_EPARSE);
    assert_int_equal(loa_client_parse_app_usage("{\"call_count\":5}xyz", 16, &u), 0);
    assert_int_equal(u.app_call_count, 5);
}

static void usage_huge_is_refused(void **state)
{
    (void)state;
    size_t n = 64 * 1024;
    char *v = loa_malloc(n + 1);
    /* {"1":[{"call_count":1},{"call_count":1},...]} well past the cap. */
    size_t len = (size_t)snprintf(v, n, "{\"1\":[");
    while (len + 40 < n)
        len += (size_t)snprintf(v + len, n - len, "{\"call_count\":1},");
    len += (size_t)snprintf(v + len, n - len, "{\"call_count\":1}]}");
    struct loa_client_usage u = { 0 };
    assert_int_equal(loa_client_parse_buc_usage(v, len, "1", &u), LOA_ETOOBIG);
    assert_int_equal(loa_client_parse_app_usage(v, len, &u), LOA_ETOOBIG);
    assert_false(u.has_buc);
    /* Deep nesting within the cap is refused by jansson's depth limit, not a crash. */
    memset(v, '[', 4000);
    assert_int_equal(loa_client_parse_buc_usage(v, 4000, "1", &u), LOA_EPARSE);
    loa_free(v);
}

/* ---- backoff, appsecret_proof ---------------------------------------------------------- */

static void backoff_full_jitter(void **state)
{
    (void)state;
    assert_int_equal(loa_client_backoff_ms(100, 10000, 0, 0), 0);
    assert_int_equal(loa_client_backoff_ms(100, 10000, 0, 100), 100);
    assert_int_equal(loa_client_backoff_ms(100, 10000, 0, 101), 0);
    assert_int_equal(loa_client_backoff_ms(100, 10000, 3, 800), 800);
    assert_int_equal(loa_client_backoff_ms(100, 10000, 3, 801), 0);
    /* Capped, and no overflow for a huge attempt. */
    assert_int_equal(loa_client_backoff_ms(100, 10000, 10, 10000), 10000);
    assert_int_equal(loa_client_backoff_ms(100, 10000, 4000000000u, 10000), 10000);
    assert_int_equal(loa_client_backoff_ms(INT64_MAX / 2, INT64_MAX, 5, UINT64_MAX),
                     (int64_t)(UINT64_MAX % ((uint64_t)INT64_MAX + 1)));
    for (unsigned a = 0; a < 70; a++)
        for (uint64_t r = 0; r < 2000; r += 97) {
            int64_t d = loa_client_backoff_ms(250, 30000, a, r * 2654435761u);
            assert_true(d >= 0 && d <= 30000);
            int64_t ceil = a < 7 ? 250LL << a : 30000;
            assert_true(d <= (ceil > 30000 ? 30000 : ceil));
        }
    assert_int_equal(loa_client_backoff_ms(0, 100, 1, 5), 0);
    assert_int_equal(loa_client_backoff_ms(100, 0, 1, 5), 0);
    assert_int_equal(loa_client_backoff_ms(500, 100, 0, 100), 100); /* base above cap */
}

static void appsecret_proof_vectors(void **state)
{
    (void)state;
    char out[65];
    /* RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?". */
    assert_int_equal(loa_client_appsecret_proof("what do ya want for nothing?", "Jefe", out), 0);
    assert_string_equal(out, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    assert_int_equal(loa_client_appsecret_proof("EAAtoken123", "appsecret", out), 0);
    assert_string_equal(out, PROOF_EAATOKEN123);
}

/* ---- stub responder -------------------------------------------------------------------- */

static char big_body[8192];

/* The scenario is the path's object: /v25.0/<scenario>/messages or /v25.0/<psid>. */
static void respond(void *arg, const char *method, const char *path, const char *body,
                    size_t body_len, struct stub_reply *r)
{
    (void)arg;
    (void)body;
    (void)body_len;
    static _Thread_local char buf[1024];
    char obj[128] = "";
    sscanf(path, "/%*[^/]/%127[^/]", obj);
    bool get = strcmp(method, "GET") == 0;
    int code, sub, status;
    r->status = 200;
    if (get && strcmp(obj, "psid1") == 0) {
        r->body =
            "{\"first_name\":\"Ana\",\"last_name\":\"Lima\",\"profile_pic\":\"https://x/p.jpg\","
            "\"locale\":\"pt_BR\",\"timezone\":-3,\"gender\":\"female\",\"id\":\"psid1\"}";
    } else if (sscanf(obj, "e-%d-%d-%d", &code, &sub, &status) == 3) {
        snprintf(buf, sizeof(buf),
                 "{\"error\":{\"message\":\"(#%d) test error\",\"type\":\"OAuthException\","
                 "\"code\":%d,\"error_subcode\":%d,\"fbtrace_id\":\"Ftrace%d\"}}",
                 code, code, sub, code);
        r->status = status;
        r->body = buf;
    } else if (strcmp(obj, "buc80") == 0) {
        r->body = "{\"recipient_id\":\"42\",\"message_id\":\"m_buc\"}";
        r->hdr_name[0] = "X-Business-Use-Case-Usage";
        r->hdr_value[0] = "{\"buc80\":[{\"type\":\"messenger\",\"call_count\":80,"
                          "\"total_cputime\":10,\"total_time\":12,"
                          "\"estimated_time_to_regain_access\":5}]}";
    } else if (strcmp(obj, "app10") == 0) {
        r->body = "{\"recipient_id\":\"42\",\"message_id\":\"m_app\"}";
        r->hdr_name[0] = "x-app-usage";
        r->hdr_value[0] = "{\"call_count\":10,\"total_cputime\":3,\"total_time\":4}";
    } else if (strcmp(obj, "app90") == 0) {
        r->status = 400;
        r->body = "{\"error\":{\"code\":2,\"message\":\"temp\"}}";
        r->hdr_name[0] = "X-App-Usage";
        r->hdr_value[0] = "{\"call_count\":90,\"total_cputime\":3,\"total_time\":4}";
    } else if (strcmp(obj, "badhdr") == 0) {
        r->body = "{\"recipient_id\":\"42\",\"message_id\":\"m_bad\"}";
        r->hdr_name[0] = "X-Business-Use-Case-Usage";
        r->hdr_value[0] = "{not json";
        r->hdr_name[1] = "X-App-Usage";
        r->hdr_value[1] = "[1,2]";
        r->hdr_name[2] = "Retry-After";
        r->hdr_value[2] = "soon";
    } else if (strcmp(obj, "r429") == 0) {
        r->status = 429;
        r->body = "";
        r->hdr_name[0] = "Retry-After";
        r->hdr_value[0] = "7";
    } else if (strcmp(obj, "slow") == 0) {
        r->delay_ms = 1500;
        r->body = "{\"recipient_id\":\"42\",\"message_id\":\"m_slow\"}";
    } else if (strcmp(obj, "drop") == 0) {
        r->drop = true;
    } else if (strcmp(obj, "html502") == 0) {
        r->status = 502;
        r->body = "<html>bad gateway</html>";
    } else if (strcmp(obj, "notjson") == 0) {
        r->body = "ok!";
    } else if (strcmp(obj, "big") == 0) {
        r->body = big_body;
    } else {
        r->body = "{\"recipient_id\":\"1254477777772919\",\"message_id\":\"m_AG5Hz2Uq7tuwNEhX\"}";
    }
}

/* ---- client fixtures ------------------------------------------------------------------- */

struct got {
    int n;
    enum loa_client_action action, table_action;
    const char *reason;
    int http, code, subcode, err;
    bool accepted, new_connection;
    int64_t delay_ms;
    struct loa_client_usage usage;
    char message_id[64], recipient_id[64], fbtrace[64], message[128], first_name[32];
    void *user;
    int done_users[2048];
};

static void on_done(void *arg, const struct loa_client_result *r)
{
    struct got *g = arg;
    g->action = r->action;
    g->table_action = r->table_action;
    g->reason = r->reason;
    g->http = r->http_status;
    g->code = r->code;
    g->subcode = r->subcode;
    g->err = r->err;
    g->accepted = r->accepted;
    g->new_connection = r->new_connection;
    g->delay_ms = r->delay_ms;
    g->usage = r->usage;
    g->user = r->user;
    snprintf(g->message_id, sizeof(g->message_id), "%s", r->message_id ? r->message_id : "");
    snprintf(g->recipient_id, sizeof(g->recipient_id), "%s",
             r->recipient_id ? r->recipient_id : "");
    snprintf(g->fbtrace, sizeof(g->fbtrace), "%s", r->fbtrace_id ? r->fbtrace_id : "");
    snprintf(g->message, sizeof(g->message), "%s", r->error_message ? r->error_message : "");
    snprintf(g->first_name, sizeof(g->first_name), "%s",
             r->profile && r->profile->first_name ? r->profile->first_name : "");
    uintptr_t u = (uintptr_t)r->user;
    if (u < 2048)
        g->done_users[u]++;
    g->n++;
}

struct fx {
    struct stub *stub;
    struct loa_client *c;
    struct got got;
};

static struct loa_client *new_client(struct fx *f, const char *base,
                                     void (*tweak)(struct loa_client_options *))
{
    struct loa_client_options o;
    loa_client_options_init(&o);
    o.base_url = base;
    o.done = on_done;
    o.done_arg = &f->got;
    o.timeout_ms = 5000;
    o.connect_timeout_ms = 2000;
    if (tweak)
        tweak(&o);
    struct loa_client *c = NULL;
    assert_int_equal(loa_client_new(&o, &c), 0);
    return c;
}

static int setup_threaded(void **state)
{
    struct fx *f = loa_calloc(1, sizeof(*f));
    f->stub = stub_start(respond, NULL, true);
    assert_non_null(f->stub);
    f->c = new_client(f, stub_url(f->stub), NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    loa_client_free(f->c);
    stub_stop(f->stub);
    loa_free(f);
    return 0;
}

/* Runs the client until got.n reaches n or 10 s pass. */
static void run_until(struct loa_client *c, struct got *g, int n)
{
    int64_t deadline = loa_mono_ms() + 10000;
    while (g->n < n && loa_mono_ms() < deadline)
        assert_true(loa_client_run(c, 100) >= 0);
    assert_int_equal(g->n, n);
}

static void send_to(struct fx *f, const char *page, const char *secret)
{
    struct loa_client_request req = { .page_id = page,
                                      .access_token = "EAAtoken123",
                                      .app_secret = secret,
                                      .user = (void *)(uintptr_t)7 };
    static const char body[] = "{\"recipient\":{\"id\":\"1\"},\"message\":{\"text\":\"hi\"}}";
    int before = f->got.n;
    assert_int_equal(loa_client_submit_send(f->c, &req, body, sizeof(body) - 1), 0);
    run_until(f->c, &f->got, before + 1);
}

/* ---- client tests ---------------------------------------------------------------------- */

static void send_success(void **state)
{
    struct fx *f = *state;
    send_to(f, "1000001", "appsecret");
    struct got *g = &f->got;
    assert_int_equal(g->action, LOA_CLIENT_DONE);
    assert_string_equal(g->reason, "ok");
    assert_true(g->accepted);
    assert_int_equal(g->http, 200);
    assert_int_equal(g->err, 0);
    assert_string_equal(g->message_id, "m_AG5Hz2Uq7tuwNEhX");
    assert_string_equal(g->recipient_id, "1254477777772919");
    assert_ptr_equal(g->user, (void *)(uintptr_t)7);
    assert_true(g->new_connection);
    char token[512], proof[512], path[512], body[512];
    stub_last(f->stub, token, proof, NULL, path, body, sizeof(token));
    assert_string_equal(token, "EAAtoken123");
    assert_string_equal(proof, PROOF_EAATOKEN123);
    assert_string_equal(path, "/v25.0/1000001/messages");
    assert_string_equal(body, "{\"recipient\":{\"id\":\"1\"},\"message\":{\"text\":\"hi\"}}");
    /* Second request reuses the connection; without a secret no proof is sent. */
    send_to(f, "1000001", NULL);
    assert_false(f->got.new_connection);
    stub_last(f->stub, NULL, proof, NULL, NULL, NULL, sizeof(proof));
    assert_string_equal(proof, "");
    struct loa_client_page_state ps;
    assert_int_equal(loa_client_page_state(f->c, "1000001", &ps), 0);
    assert_int_equal(ps.accepted, 2);
    assert_int_equal(ps.failed, 0);
    assert_int_equal(loa_client_page_state(f->c, "nope", &ps), LOA_ENOENT);
    struct loa_client_stats st;
    loa_client_get_stats(f->c, &st);
    assert_int_equal(st.submitted, 2);
    assert_int_equal(st.completed, 2);
    assert_int_equal(st.connections, 1);
    assert_int_equal(st.in_flight, 0);
}

static void graph_errors_follow_the_table(void **state)
{
    struct fx *f = *state;
    static const int cases[][3] = {
        { 10, 2018278, 400 }, { 551, 0, 400 },       { 190, 460, 400 },   { 613, 2534040, 400 },
        { 2, 0, 500 },        { 1, 1357046, 500 },   { 4, 2018354, 400 }, { 200, 1545041, 403 },
        { 10, 1893063, 400 }, { 100, 2018001, 400 }, { 31337, 0, 400 },   { 31337, 0, 503 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char page[64];
        snprintf(page, sizeof(page), "e-%d-%d-%d", cases[i][0], cases[i][1], cases[i][2]);
        send_to(f, page, NULL);
        enum loa_client_action a;
        const char *reason;
        loa_client_classify(cases[i][2], cases[i][0], cases[i][1], &a, &reason);
        assert_int_equal(f->got.http, cases[i][2]);
        assert_int_equal(f->got.code, cases[i][0]);
        assert_int_equal(f->got.subcode, cases[i][1]);
        assert_int_equal(f->got.action, a);
        assert_string_equal(f->got.reason, reason);
        assert_false(f->got.accepted);
        assert_string_equal(f->got.message_id, "");
        char trace[64];
        snprintf(trace, sizeof(trace), "Ftrace%d", cases[i][0]);
        assert_string_equal(f->got.fbtrace, trace);
        assert_non_null(strstr(f->got.message, "test error"));
    }
    struct loa_client_page_state ps;
    assert_int_equal(loa_client_page_state(f->c, "e-613-2534040-400", &ps), 0);
    assert_true(ps.slow_until_ms > loa_now_ms());
    assert_int_equal(ps.failed, 1);
}

static void usage_headers_slow_the_page(void **state)
{
    struct fx *f = *state;
    struct got *g = &f->got;
    send_to(f, "buc80", NULL);
    assert_int_equal(g->action, LOA_CLIENT_SLOW_PAGE);
    assert_int_equal(g->table_action, LOA_CLIENT_DONE);
    assert_string_equal(g->reason, "buc_usage");
    assert_true(g->accepted); /* it was sent: don't send it again */
    assert_string_equal(g->message_id, "m_buc");
    assert_int_equal(g->delay_ms, 5 * 60000);
    assert_true(g->usage.has_buc);
    assert_int_equal(g->usage.buc_call_count, 80);
    assert_string_equal(g->usage.buc_type, "messenger");
    struct loa_client_page_state ps;
    assert_int_equal(loa_client_page_state(f->c, "buc80", &ps), 0);
    assert_int_equal(ps.usage.buc_call_count, 80);
    assert_true(ps.slow_until_ms >= loa_now_ms() + 4 * 60000);

    send_to(f, "app10", NULL);
    assert_int_equal(g->action, LOA_CLIENT_DONE);
    assert_true(g->usage.has_app);
    assert_int_equal(g->usage.app_call_count, 10);
    assert_int_equal(g->delay_ms, 0);

    send_to(f, "app90", NULL); /* RETRY turned SLOW_PAGE by app usage */
    assert_int_equal(g->table_action, LOA_CLIENT_RETRY);
    assert_int_equal(g->action, LOA_CLIENT_SLOW_PAGE);
    assert_string_equal(g->reason, "app_usage");
    assert_false(g->accepted);
    assert_int_equal(g->delay_ms, 60000);

    send_to(f, "badhdr", NULL);
    assert_int_equal(g->action, LOA_CLIENT_DONE);
    assert_false(g->usage.has_app);
    assert_false(g->usage.has_buc);

    send_to(f, "r429", NULL);
    assert_int_equal(g->action, LOA_CLIENT_SLOW_PAGE);
    assert_string_equal(g->reason, "http_429");
    assert_int_equal(g->delay_ms, 7000);
}

static void tweak_threshold(struct loa_client_options *o)
{
    o->usage_threshold_pct = 81;
}

static void usage_threshold_is_configurable(void **state)
{
    struct fx *f = *state;
    loa_client_free(f->c);
    f->c = new_client(f, stub_url(f->stub), tweak_threshold);
    send_to(f, "buc80", NULL);
    assert_int_equal(f->got.action, LOA_CLIENT_DONE);
    assert_int_equal(f->got.usage.max_percent, 80);
}

static void transport_failures(void **state)
{
    struct fx *f = *state;
    struct got *g = &f->got;
    send_to(f, "drop", NULL);
    assert_int_equal(g->action, LOA_CLIENT_UNKNOWN);
    assert_string_equal(g->reason, "dropped_after_send");
    assert_int_equal(g->code, LOA_CLIENT_EC_DROPPED);
    assert_int_equal(g->err, LOA_ENET);

    send_to(f, "html502", NULL);
    assert_int_equal(g->action, LOA_CLIENT_RETRY);
    assert_string_equal(g->reason, "server_error");

    send_to(f, "notjson", NULL);
    assert_int_equal(g->action, LOA_CLIENT_UNKNOWN);
    assert_string_equal(g->reason, "bad_reply");
    assert_int_equal(g->err, LOA_EPARSE);
    assert_false(g->accepted);
}

static void tweak_short_timeout(struct loa_client_options *o)
{
    o->timeout_ms = 300;
    o->max_reply_bytes = 1024;
}

static void timeout_and_big_reply(void **state)
{
    struct fx *f = *state;
    loa_client_free(f->c);
    f->c = new_client(f, stub_url(f->stub), tweak_short_timeout);
    send_to(f, "slow", NULL);
    assert_int_equal(f->got.action, LOA_CLIENT_UNKNOWN);
    assert_string_equal(f->got.reason, "timeout_after_send");
    assert_int_equal(f->got.err, LOA_ETIMEDOUT);
    send_to(f, "big", NULL);
    assert_int_equal(f->got.action, LOA_CLIENT_UNKNOWN);
    assert_string_equal(f->got.reason, "bad_reply");
    assert_int_equal(f->got.http, 200);
    send_to(f, "ok", NULL); /* still healthy */
    assert_int_equal(f->got.action, LOA_CLIENT_DONE);
}

static void connect_refused(void **state)
{
    (void)state;
    struct fx f = { 0 };
    /* A port that is bound but not listening refuses connections, and stays ours meanwhile. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    socklen_t slen = sizeof(sa);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &slen), 0);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(sa.sin_port));
    f.c = new_client(&f, url, NULL);
    send_to(&f, "123", NULL);
    assert_int_equal(f.got.action, LOA_CLIENT_RETRY);
    assert_string_equal(f.got.reason, "connect_failed");
    assert_int_equal(f.got.code, LOA_CLIENT_EC_CONNECT);
    assert_int_equal(f.got.http, 0);
    assert_int_equal(f.got.err, LOA_ENET);
    loa_client_free(f.c);
    close(fd);
}

static void tweak_cap(struct loa_client_options *o)
{
    o->max_in_flight = 2;
}

static void in_flight_cap_and_cancel(void **state)
{
    struct fx *f = *state;
    loa_client_free(f->c);
    f->c = new_client(f, stub_url(f->stub), tweak_cap);
    struct loa_client_request req = { .page_id = "slow", .access_token = "t" };
    assert_int_equal(loa_client_submit_send(f->c, &req, "{}", 2), 0);
    assert_int_equal(loa_client_submit_send(f->c, &req, "{}", 2), 0);
    assert_int_equal(loa_client_submit_send(f->c, &req, "{}", 2), LOA_EBUSY);
    assert_int_equal(loa_client_in_flight(f->c), 2);
    /* Let the requests reach the stub, which sits on them for 1.5 s. */
    int64_t deadline = loa_mono_ms() + 5000;
    while (stub_requests(f->stub) < 2 && loa_mono_ms() < deadline)
        assert_int_equal(loa_client_run(f->c, 20), 0);
    assert_int_equal(loa_client_cancel_all(f->c), 2);
    assert_int_equal(f->got.n, 2);
    assert_int_equal(f->got.err, LOA_ECANCELED);
    assert_int_equal(f->got.action, LOA_CLIENT_UNKNOWN);
    assert_string_equal(f->got.reason, "canceled_after_send");
    assert_int_equal(loa_client_in_flight(f->c), 0);
    /* Invalid input. */
    struct loa_client_request bad = { .page_id = "../x", .access_token = "t" };
    assert_int_equal(loa_client_submit_send(f->c, &bad, "{}", 2), LOA_EINVAL);
    bad.page_id = "1";
    bad.access_token = "";
    assert_int_equal(loa_client_submit_send(f->c, &bad, "{}", 2), LOA_EINVAL);
    bad.access_token = "t";
    assert_int_equal(loa_client_submit_send(f->c, &bad, "{}", 0), LOA_EINVAL);
    assert_int_equal(loa_client_submit_profile(f->c, &bad, "a/b", NULL), LOA_EINVAL);
    /* Freeing with requests in flight cancels them (and leaks nothing). */
    req.page_id = "ok";
    assert_int_equal(loa_client_submit_send(f->c, &req, "{}", 2), 0);
    loa_client_free(f->c);
    f->c = NULL;
    assert_int_equal(f->got.n, 3);
    assert_int_equal(f->got.err, LOA_ECANCELED);
}

static void profiles(void **state)
{
    struct fx *f = *state;
    struct loa_client_request req = { .page_id = "1000001",
                                      .access_token = "EAAtoken123",
                                      .app_secret = "appsecret" };
    assert_int_equal(loa_client_submit_profile(f->c, &req, "psid1", NULL), 0);
    run_until(f->c, &f->got, 1);
    assert_int_equal(f->got.action, LOA_CLIENT_DONE);
    assert_string_equal(f->got.first_name, "Ana");
    char fields[256], path[256];
    stub_last(f->stub, NULL, NULL, fields, path, NULL, sizeof(fields));
    assert_string_equal(fields, "first_name,last_name,profile_pic,locale,timezone,gender");
    assert_string_equal(path, "/v25.0/psid1");

    struct loa_client_profile *p = NULL;
    struct loa_client_outcome oc;
    assert_int_equal(loa_client_fetch_profile(f->c, &req, "psid1", "first_name,timezone", &p, &oc),
                     0);
    assert_non_null(p);
    assert_string_equal(p->first_name, "Ana");
    assert_string_equal(p->last_name, "Lima");
    assert_string_equal(p->locale, "pt_BR");
    assert_string_equal(p->gender, "female");
    assert_true(p->has_timezone);
    assert_true(p->timezone < -2.9 && p->timezone > -3.1);
    assert_int_equal(oc.action, LOA_CLIENT_DONE);
    loa_client_profile_free(p);
    stub_last(f->stub, NULL, NULL, fields, NULL, NULL, sizeof(fields));
    assert_string_equal(fields, "first_name,timezone");
    assert_int_equal(f->got.n, 1); /* the blocking call did not use the callback */

    assert_int_equal(loa_client_fetch_profile(f->c, &req, "e-2018218-0-400", NULL, &p, &oc),
                     LOA_ENOENT);
    assert_null(p);
    assert_string_equal(oc.reason, "no_profile");
    assert_int_equal(oc.http_status, 400);
    assert_non_null(strstr(oc.message, "test error"));
    assert_int_equal(loa_client_fetch_profile(f->c, &req, "e-190-0-400", NULL, &p, &oc), LOA_EPERM);
    assert_int_equal(loa_client_fetch_profile(f->c, &req, "e-2-0-500", NULL, &p, &oc), LOA_EAGAIN);
}

/* The access token never appears in the log, even at debug level on failures. */
static void tokens_never_logged(void **state)
{
    struct fx *f = *state;
    char path[256];
    snprintf(path, sizeof(path), "%s/client-log-%d.txt",
             getenv("LOA_TEST_TMPDIR") ? getenv("LOA_TEST_TMPDIR") : "/tmp", (int)getpid());
    fflush(stderr);
    int saved = dup(2);
    FILE *log = fopen(path, "w+");
    assert_non_null(log);
    dup2(fileno(log), 2);
    enum loa_log_level lvl = loa_log_get_level();
    loa_log_set_level(LOA_LOG_DEBUG);
    send_to(f, "e-190-0-400", "appsecret");
    send_to(f, "drop", "appsecret");
    loa_log_set_level(lvl);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char text[8192] = "";
    rewind(log);
    size_t n = fread(text, 1, sizeof(text) - 1, log);
    text[n] = '\0';
    fclose(log);
    unlink(path);
    assert_non_null(strstr(text, "/v25.0/drop/messages")); /* the path is logged... */
    assert_null(strstr(text, "EAAtoken123"));              /* ...the token is not */
    assert_null(strstr(text, PROOF_EAATOKEN123));
    assert_null(strstr(text, "appsecret"));
}

/* ---- keep-alive reuse ------------------------------------------------------------------ */

static void tweak_pool4(struct loa_client_options *o)
{
    o->max_host_connections = 4;
    o->max_total_connections = 4;
    o->max_connects = 4;
}

static void keepalive_reuse(void **state)
{
    (void)state;
    struct fx f = { 0 };
    f.stub = stub_start(respond, NULL, false);
    assert_non_null(f.stub);
    f.c = new_client(&f, stub_url(f.stub), tweak_pool4);
    struct loa_client_request req = { .page_id = "1000001",
                                      .access_token = "EAAtoken123",
                                      .app_secret = "appsecret" };
    static const char body[] = "{\"recipient\":{\"id\":\"1\"},\"message\":{\"text\":\"hi\"}}";
    int total = 1000, sent = 0;
    int64_t deadline = loa_mono_ms() + 20000;
    while (f.got.n < total && loa_mono_ms() < deadline) {
        while (sent < total && loa_client_in_flight(f.c) < 64) {
            req.user = (void *)(uintptr_t)sent;
            assert_int_equal(loa_client_submit_send(f.c, &req, body, sizeof(body) - 1), 0);
            sent++;
        }
        assert_true(loa_client_run(f.c, 100) >= 0);
    }
    assert_int_equal(f.got.n, total);
    for (int i = 0; i < total; i++)
        assert_int_equal(f.got.done_users[i], 1);
    assert_int_equal(stub_requests(f.stub), total);
    assert_true(stub_connections(f.stub) <= 4);
    struct loa_client_stats st;
    loa_client_get_stats(f.c, &st);
    assert_true(st.connections >= 1 && st.connections <= 4);
    assert_int_equal(st.completed, total);
    loa_client_free(f.c);
    stub_stop(f.stub);
}

/* ---- event-loop mode ------------------------------------------------------------------- */

struct loop {
    struct pollfd fds[64];
    int nfds;
    int64_t timer_at; /* mono ms, -1 = none */
};

static void loop_watch(void *arg, int fd, int events)
{
    struct loop *l = arg;
    int i = 0;
    while (i < l->nfds && l->fds[i].fd != fd)
        i++;
    if (events & LOA_CLIENT_POLL_REMOVE) {
        if (i < l->nfds)
            l->fds[i] = l->fds[--l->nfds];
        return;
    }
    if (i == l->nfds) {
        assert_true(l->nfds < 64);
        l->nfds++;
    }
    l->fds[i].fd = fd;
    l->fds[i].events = (short)(((events & LOA_CLIENT_POLL_IN) ? POLLIN : 0) |
                               ((events & LOA_CLIENT_POLL_OUT) ? POLLOUT : 0));
}

static void loop_timer(void *arg, int64_t timeout_ms)
{
    struct loop *l = arg;
    l->timer_at = timeout_ms < 0 ? -1 : loa_mono_ms() + timeout_ms;
}

static struct loop the_loop;

static void tweak_loop(struct loa_client_options *o)
{
    o->watch = loop_watch;
    o->timer = loop_timer;
    o->loop = &the_loop;
}

static void event_loop_mode(void **state)
{
    (void)state;
    struct fx f = { 0 };
    memset(&the_loop, 0, sizeof(the_loop));
    the_loop.timer_at = -1;
    f.stub = stub_start(respond, NULL, false);
    f.c = new_client(&f, stub_url(f.stub), tweak_loop);
    assert_int_equal(loa_client_run(f.c, 0), LOA_ESTATE);
    struct loa_client_request req = { .page_id = "1000001", .access_token = "t" };
    for (int i = 0; i < 50; i++) {
        req.user = (void *)(uintptr_t)i;
        assert_int_equal(loa_client_submit_send(f.c, &req, "{}", 2), 0);
    }
    int64_t deadline = loa_mono_ms() + 10000;
    while (f.got.n < 50 && loa_mono_ms() < deadline) {
        int wait = 100;
        if (the_loop.timer_at >= 0) {
            int64_t d = the_loop.timer_at - loa_mono_ms();
            wait = d < 0 ? 0 : d < 100 ? (int)d : 100;
        }
        struct pollfd fds[64];
        int n = the_loop.nfds;
        memcpy(fds, the_loop.fds, sizeof(fds[0]) * (size_t)n);
        int r = poll(fds, (nfds_t)n, wait);
        assert_true(r >= 0);
        for (int i = 0; i < n; i++) {
            int ev = ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) ? LOA_CLIENT_POLL_IN : 0) |
                     ((fds[i].revents & POLLOUT) ? LOA_CLIENT_POLL_OUT : 0);
            if (ev)
                assert_true(loa_client_on_socket(f.c, fds[i].fd, ev) >= 0);
        }
        if (the_loop.timer_at >= 0 && loa_mono_ms() >= the_loop.timer_at) {
            the_loop.timer_at = -1;
            assert_true(loa_client_on_timer(f.c) >= 0);
        }
    }
    assert_int_equal(f.got.n, 50);
    assert_int_equal(f.got.action, LOA_CLIENT_DONE);
    loa_client_free(f.c);
    stub_stop(f.stub);
}

static void bad_options(void **state)
{
    (void)state;
    struct loa_client_options o;
    struct loa_client *c = NULL;
    loa_client_options_init(&o);
    assert_int_equal(loa_client_new(&o, &c), LOA_EINVAL); /* no callback */
    assert_null(c);
    o.done = on_done;
    o.base_url = "ftp://x";
    assert_int_equal(loa_client_new(&o, &c), LOA_ECONFIG);
    o.base_url = "https://graph.facebook.com/";
    o.api_version = "v25.0/../x";
    assert_int_equal(loa_client_new(&o, &c), LOA_EINVAL);
    o.api_version = "v25.0";
    o.watch = loop_watch;
    assert_int_equal(loa_client_new(&o, &c), LOA_EINVAL); /* watch without timer */
    o.watch = NULL;
    assert_int_equal(loa_client_new(&o, &c), 0);
    loa_client_free(c);
}

int main(void)
{
    memset(big_body, 'x', sizeof(big_body) - 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_row_classifies_to_itself),
        cmocka_unit_test(known_outcomes),
        cmocka_unit_test(doc_codes_have_rows),
        cmocka_unit_test(docs_list_every_row),
        cmocka_unit_test(app_usage_valid),
        cmocka_unit_test(buc_usage_valid),
        cmocka_unit_test(usage_malformed_is_ignored),
        cmocka_unit_test(usage_huge_is_refused),
        cmocka_unit_test(backoff_full_jitter),
        cmocka_unit_test(appsecret_proof_vectors),
        cmocka_unit_test(bad_options),
        cmocka_unit_test_setup_teardown(send_success, setup_threaded, teardown),
        cmocka_unit_test_setup_teardown(graph_errors_follow_the_table, setup_threaded, teardown),
        cmocka_unit_test_setup_teardown(usage_headers_slow_the_page, setup_threaded, teardown),
        cmocka_unit_test_setup_teardown(usage_threshold_is_configurable, setup_threaded, teardown),
        cmocka_unit_test_setup_teardown(transport_failures, setup_threaded, teardown),
        cmocka_unit_test_setup_teardown(timeout_and_big_reply, setup_threaded, teardown),
        cmocka_unit_test(connect_refused),
        cmocka_unit_test_setup_teardown(in_flight_cap_and_cancel, setup_threaded, teardown),
        cmocka_unit_test_setup_teardown(profiles, setup_threaded, teardown),
        cmocka_unit_test_setup_teardown(tokens_never_logged, setup_threaded, teardown),
        cmocka_unit_test(keepalive_reuse),
        cmocka_unit_test(event_loop_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
