/* SPDX-License-Identifier: MIT */
/*
 * Integration test: the Graph client against the loa-graph emulator ($LOA_BIN/loa-graph on
 * 127.0.0.1:0). Sets up a Page and people through /_admin, then injects faults through
 * /_admin/faults (Graph errors, 5xx, latency, dropped connections) and checks that each outcome
 * is classified as the client's table says. Also checks the emulator's own refusals (window
 * closed, unknown user, bad token) and a profile look-up.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include <loa/client.h>
#include <loa/clock.h>
#include <loa/err.h>

static pid_t emu_pid = -1;
static char port_file[512];
static char base_url[64];

/* ---- emulator and admin ----------------------------------------------------------------- */

static size_t sink(char *p, size_t s, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return s * n;
}

/* POSTs json to the admin path; returns the HTTP status. */
static long admin(const char *path, const char *json)
{
    char url[256];
    snprintf(url, sizeof(url), "%s%s", base_url, path);
    CURL *e = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, json);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
    long status = 0;
    if (curl_easy_perform(e) == CURLE_OK)
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
    return status;
}

static int start_emulator(void **state)
{
    (void)state;
    const char *bin = getenv("LOA_BIN");
    const char *tmp = getenv("LOA_TEST_TMPDIR");
    char exe[512];
    snprintf(exe, sizeof(exe), "%s/loa-graph", bin ? bin : "bin");
    if (access(exe, X_OK) != 0) {
        fprintf(stderr, "test_client_graph: %s not found; build the loa-graph target\n", exe);
        return -1;
    }
    snprintf(port_file, sizeof(port_file), "%s/client-graph-port-%d", tmp ? tmp : "/tmp",
             (int)getpid());
    unlink(port_file);
    emu_pid = fork();
    if (emu_pid == 0) {
        execl(exe, exe, "--listen", "127.0.0.1:0", "--port-file", port_file, "--rate-limit", "0",
              (char *)NULL);
        _exit(127);
    }
    if (emu_pid < 0)
        return -1;
    int port = 0;
    int64_t deadline = loa_mono_ms() + 10000;
    while (port <= 0 && loa_mono_ms() < deadline) {
        FILE *f = fopen(port_file, "r");
        if (f) {
            if (fscanf(f, "%d", &port) != 1)
                port = 0;
            fclose(f);
        }
        if (port <= 0)
            usleep(20000);
    }
    if (port <= 0)
        return -1;
    snprintf(base_url, sizeof(base_url), "http://127.0.0.1:%d", port);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (admin("/_admin/pages", "{\"id\":\"111\",\"name\":\"Test Page\",\"access_token\":"
                               "\"tok111\",\"app_secret\":\"sec111\"}") /
                100 !=
            2 ||
        admin("/_admin/people", "{\"page_id\":\"111\",\"psid\":\"9001\",\"first_name\":\"Ana\","
                                "\"last_name\":\"Lima\",\"locale\":\"pt_BR\"}") /
                100 !=
            2 ||
        admin("/_admin/people", "{\"page_id\":\"111\",\"psid\":\"9002\",\"first_name\":"
                                "\"Bruno\"}") /
                100 !=
            2 ||
        admin("/_admin/actions", "{\"page_id\":\"111\",\"psid\":\"9001\",\"kind\":\"message\","
                                 "\"text\":\"hello\"}") /
                100 !=
            2) {
        fprintf(stderr, "test_client_graph: admin set-up failed\n");
        return -1;
    }
    return 0;
}

static int stop_emulator(void **state)
{
    (void)state;
    if (emu_pid > 0) {
        kill(emu_pid, SIGTERM);
        waitpid(emu_pid, NULL, 0);
    }
    unlink(port_file);
    curl_global_cleanup();
    return 0;
}

/* ---- client ----------------------------------------------------------------------------- */

struct got {
    int n;
    enum loa_client_action action;
    const char *reason;
    int http, code, subcode;
    bool accepted;
    char message_id[128];
    int64_t elapsed_us;
};

static void on_done(void *arg, const struct loa_client_result *r)
{
    struct got *g = arg;
    g->n++;
    g->action = r->action;
    g->reason = r->reason;
    g->http = r->http_status;
    g->code = r->code;
    g->subcode = r->subcode;
    g->accepted = r->accepted;
    g->elapsed_us = r->elapsed_us;
    snprintf(g->message_id, sizeof(g->message_id), "%s", r->message_id ? r->message_id : "");
}

static struct loa_client *client(struct got *g, long timeout_ms)
{
    struct loa_client_options o;
    loa_client_options_init(&o);
    o.base_url = base_url;
    o.timeout_ms = timeout_ms;
    o.max_host_connections = 4;
    o.max_total_connections = 4;
    o.max_connects = 4;
    o.done = on_done;
    o.done_arg = g;
    struct loa_client *c = NULL;
    assert_int_equal(loa_client_new(&o, &c), 0);
    return c;
}

static void send_one(struct loa_client *c, struct got *g, const char *token, const char *psid)
{
    char body[256];
    snprintf(body, sizeof(body),
             "{\"messaging_type\":\"RESPONSE\",\"recipient\":{\"id\":\"%s\"},"
             "\"message\":{\"text\":\"Thanks for your message\"}}",
             psid);
    struct loa_client_request req = { .page_id = "111",
                                      .access_token = token,
                                      .app_secret = "sec111" };
    int before = g->n;
    assert_int_equal(loa_client_submit_send(c, &req, body, strlen(body)), 0);
    int64_t deadline = loa_mono_ms() + 15000;
    while (g->n == before && loa_mono_ms() < deadline)
        assert_true(loa_client_run(c, 100) >= 0);
    assert_int_equal(g->n, before + 1);
}

static void expect(const struct got *g, enum loa_client_action action, const char *reason)
{
    if (g->action != action || strcmp(g->reason, reason) != 0)
        fail_msg("got %s/%s (http %d code %d/%d), want %s/%s", loa_client_action_name(g->action),
                 g->reason, g->http, g->code, g->subcode, loa_client_action_name(action), reason);
}

static void success_and_natural_refusals(void **state)
{
    (void)state;
    struct got g = { 0 };
    struct loa_client *c = client(&g, 5000);
    assert_int_equal(admin("/_admin/faults", "{}"), 200);
    send_one(c, &g, "tok111", "9001");
    expect(&g, LOA_CLIENT_DONE, "ok");
    assert_true(g.accepted);
    assert_true(g.message_id[0] != '\0');
    send_one(c, &g, "tok111", "9002"); /* never wrote to the Page: window closed */
    expect(&g, LOA_CLIENT_SKIP_PERSON, "window_closed");
    assert_int_equal(g.code, 10);
    send_one(c, &g, "tok111", "4242"); /* nobody */
    expect(&g, LOA_CLIENT_SKIP_PERSON, "no_matching_user");
    send_one(c, &g, "wrong-token", "9001");
    expect(&g, LOA_CLIENT_STOP_PAGE, "invalid_token");
    assert_int_equal(g.code, 190);
    loa_client_free(c);
}

static void injected_faults_follow_the_table(void **state)
{
    (void)state;
    static const struct {
        const char *fault;
        enum loa_client_action action;
        const char *reason;
    } cases[] = {
        { "{\"page_id\":\"111\",\"code\":10,\"subcode\":2018278,\"rate\":1}",
          LOA_CLIENT_SKIP_PERSON, "window_closed" },
        { "{\"page_id\":\"111\",\"code\":551,\"rate\":1}", LOA_CLIENT_SKIP_PERSON, "blocked" },
        { "{\"page_id\":\"111\",\"code\":551,\"subcode\":1545041,\"rate\":1}",
          LOA_CLIENT_SKIP_PERSON, "user_unavailable" },
        { "{\"page_id\":\"111\",\"code\":190,\"rate\":1}", LOA_CLIENT_STOP_PAGE, "invalid_token" },
        { "{\"page_id\":\"111\",\"code\":200,\"rate\":1,\"http_status\":403}", LOA_CLIENT_STOP_PAGE,
          "permission" },
        { "{\"page_id\":\"111\",\"code\":10,\"subcode\":1893063,\"rate\":1}", LOA_CLIENT_STOP_PAGE,
          "page_restricted" },
        { "{\"page_id\":\"111\",\"code\":613,\"subcode\":2534040,\"rate\":1}", LOA_CLIENT_SLOW_PAGE,
          "rate_limit" },
        { "{\"page_id\":\"111\",\"code\":4,\"rate\":1}", LOA_CLIENT_SLOW_PAGE, "app_rate_limit" },
        { "{\"page_id\":\"111\",\"code\":4,\"subcode\":2018354,\"rate\":1}", LOA_CLIENT_SKIP_PERSON,
          "cadence" },
        { "{\"page_id\":\"111\",\"code\":2,\"rate\":1}", LOA_CLIENT_RETRY, "temporary" },
        { "{\"page_id\":\"111\",\"code\":2,\"rate\":1,\"http_status\":503}", LOA_CLIENT_RETRY,
          "temporary" },
        { "{\"page_id\":\"111\",\"code\":1,\"subcode\":1357046,\"rate\":1}", LOA_CLIENT_UNKNOWN,
          "may_have_been_sent" },
        { "{\"page_id\":\"111\",\"code\":424242,\"rate\":1}", LOA_CLIENT_SKIP_PERSON,
          "unknown_error" },
        { "{\"page_id\":\"111\",\"code\":424242,\"rate\":1,\"http_status\":502}", LOA_CLIENT_RETRY,
          "server_error" },
        { "{\"page_id\":\"111\",\"drop_rate\":1}", LOA_CLIENT_UNKNOWN, "dropped_after_send" },
    };
    struct got g = { 0 };
    struct loa_client *c = client(&g, 5000);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(admin("/_admin/faults", cases[i].fault), 200);
        send_one(c, &g, "tok111", "9001");
        if (g.action != cases[i].action || strcmp(g.reason, cases[i].reason) != 0)
            fail_msg("fault %s: got %s/%s (http %d code %d/%d), want %s/%s", cases[i].fault,
                     loa_client_action_name(g.action), g.reason, g.http, g.code, g.subcode,
                     loa_client_action_name(cases[i].action), cases[i].reason);
        /* The result agrees with the published table for what came back. */
        enum loa_client_action a;
        const char *reason;
        loa_client_classify(g.http, g.code, g.subcode, &a, &reason);
        assert_int_equal(a, g.action);
        assert_false(g.accepted);
    }
    /* Faults for another Page leave this one alone. */
    assert_int_equal(admin("/_admin/faults", "{\"page_id\":\"222\",\"code\":190,\"rate\":1}"), 200);
    send_one(c, &g, "tok111", "9001");
    expect(&g, LOA_CLIENT_DONE, "ok");
    assert_int_equal(admin("/_admin/faults", "{}"), 200);
    send_one(c, &g, "tok111", "9001");
    expect(&g, LOA_CLIENT_DONE, "ok");
    loa_client_free(c);
}

static void latency_and_timeout(void **state)
{
    (void)state;
    struct got g = { 0 };
    struct loa_client *c = client(&g, 600);
    assert_int_equal(admin("/_admin/faults", "{\"page_id\":\"111\",\"latency_ms\":200}"), 200);
    send_one(c, &g, "tok111", "9001");
    expect(&g, LOA_CLIENT_DONE, "ok");
    assert_true(g.elapsed_us >= 190000);
    assert_int_equal(admin("/_admin/faults", "{\"page_id\":\"111\",\"latency_ms\":2000}"), 200);
    send_one(c, &g, "tok111", "9001");
    expect(&g, LOA_CLIENT_UNKNOWN, "timeout_after_send");
    assert_int_equal(admin("/_admin/faults", "{}"), 200);
    loa_client_free(c);
}

static void profile_lookup(void **state)
{
    (void)state;
    struct got g = { 0 };
    struct loa_client *c = client(&g, 5000);
    struct loa_client_request req = { .page_id = "111",
                                      .access_token = "tok111",
                                      .app_secret = "sec111" };
    struct loa_client_profile *p = NULL;
    struct loa_client_outcome oc;
    int rc = loa_client_fetch_profile(c, &req, "9001", "first_name,last_name", &p, &oc);
    if (rc != 0)
        fail_msg("profile: %s (%s/%s http %d code %d: %s)", loa_err_name(rc),
                 loa_client_action_name(oc.action), oc.reason, oc.http_status, oc.code, oc.message);
    assert_string_equal(p->first_name, "Ana");
    assert_string_equal(p->last_name, "Lima");
    loa_client_profile_free(p);
    rc = loa_client_fetch_profile(c, &req, "4242", NULL, &p, &oc);
    assert_true(rc == LOA_ENOENT || rc == LOA_EPERM);
    assert_null(p);
    loa_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(success_and_natural_refusals),
        cmocka_unit_test(injected_faults_follow_the_table),
        cmocka_unit_test(latency_and_timeout),
        cmocka_unit_test(profile_lookup),
    };
    return cmocka_run_group_tests(tests, start_emulator, stop_emulator);
}
