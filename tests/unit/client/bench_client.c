/* SPDX-License-Identifier: MIT */
/*
 * Throughput check for the Graph client, run by hand (not a ctest):
 *
 *   bench_client [N=100000] [concurrency=64] [base-url]
 *
 * Without base-url it starts the stub (one epoll thread, in a child process) on 127.0.0.1:0 and
 * sends N Send API requests at the given concurrency over a pool of `concurrency` connections, then
 * prints req/s, connections opened and latency percentiles. With a base-url (e.g. a running
 * loa-graph) it sends there; the page id is "bench" unless LOA_BENCH_PAGE is set and the token
 * is LOA_BENCH_TOKEN or "bench-token".
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <loa/alloc.h>
#include <loa/client.h>
#include <loa/clock.h>

#include "stub.h"

struct bench {
    long done, ok;
    long actions[6];
    int64_t *lat_us;
};

static void on_done(void *arg, const struct loa_client_result *r)
{
    struct bench *b = arg;
    b->lat_us[b->done++] = r->elapsed_us;
    b->actions[r->action]++;
    if (r->accepted)
        b->ok++;
}

static void respond(void *arg, const char *method, const char *path, const char *body,
                    size_t body_len, struct stub_reply *r)
{
    (void)arg;
    (void)method;
    (void)path;
    (void)body;
    (void)body_len;
    r->status = 200;
    r->body =
        "{\"recipient_id\":\"1254477777772919\",\"message_id\":\"m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM\"}";
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
    long conc = argc > 2 ? strtol(argv[2], NULL, 10) : 64;
    const char *base = argc > 3 ? argv[3] : NULL;
    if (n <= 0 || conc <= 0) {
        fprintf(stderr, "usage: bench_client [N] [concurrency] [base-url]\n");
        return 64;
    }
    /* The stub runs in a child process so that clock() below measures the client alone. */
    pid_t child = -1;
    char url[64];
    if (!base) {
        int fds[2];
        if (pipe(fds) < 0)
            return 1;
        child = fork();
        if (child == 0) {
            close(fds[0]);
            struct stub *stub = stub_start(respond, NULL, false);
            if (stub)
                (void)!write(fds[1], stub_url(stub), strlen(stub_url(stub)) + 1);
            close(fds[1]);
            pause();
            _exit(0);
        }
        close(fds[1]);
        ssize_t got = read(fds[0], url, sizeof(url) - 1);
        close(fds[0]);
        if (got <= 0) {
            fprintf(stderr, "bench_client: cannot start the stub\n");
            return 1;
        }
        url[got] = '\0';
        base = url;
    }
    struct bench b = { 0 };
    b.lat_us = loa_calloc((size_t)n, sizeof(int64_t));
    struct loa_client_options o;
    loa_client_options_init(&o);
    o.base_url = base;
    o.done = on_done;
    o.done_arg = &b;
    o.max_host_connections = conc;
    o.max_total_connections = conc;
    o.max_connects = conc;
    o.max_in_flight = (size_t)conc;
    struct loa_client *c = NULL;
    if (loa_client_new(&o, &c) < 0) {
        fprintf(stderr, "bench_client: cannot create the client\n");
        return 1;
    }
    const char *page = getenv("LOA_BENCH_PAGE") ? getenv("LOA_BENCH_PAGE") : "bench";
    const char *token = getenv("LOA_BENCH_TOKEN") ? getenv("LOA_BENCH_TOKEN") : "bench-token";
    const char *psid = getenv("LOA_BENCH_PSID") ? getenv("LOA_BENCH_PSID") : "1254477777772919";
    char body[512];
    snprintf(body, sizeof(body),
             "{\"messaging_type\":\"RESPONSE\","
             "\"recipient\":{\"id\":\"%s\"},\"message\":{\"text\":\"Your booking for "
             "tomorrow 10:00 is confirmed. Reply STOP to opt out.\"}}",
             psid);
    size_t blen = strlen(body);
    struct loa_client_request req = { .page_id = page, .access_token = token };
    long sent = 0;
    clock_t cpu0 = clock();
    double t0 = now_s();
    while (b.done < n) {
        while (sent < n && loa_client_in_flight(c) < (size_t)conc) {
            if (loa_client_submit_send(c, &req, body, blen) < 0)
                break;
            sent++;
        }
        if (loa_client_run(c, 100) < 0)
            break;
    }
    double secs = now_s() - t0;
    double cpu = (double)(clock() - cpu0) / CLOCKS_PER_SEC;
    struct loa_client_stats st;
    loa_client_get_stats(c, &st);
    qsort(b.lat_us, (size_t)b.done, sizeof(int64_t), cmp64);
    printf("requests=%ld accepted=%ld secs=%.3f req_per_s=%.0f connections=%llu "
           "p50_us=%lld p99_us=%lld client_cpu_us_per_req=%.1f\n",
           b.done, b.ok, secs, (double)b.done / secs, (unsigned long long)st.connections,
           (long long)b.lat_us[b.done / 2], (long long)b.lat_us[b.done * 99 / 100],
           cpu * 1e6 / (double)b.done);
    for (int a = 0; a < 6; a++)
        if (b.actions[a])
            printf("  %s=%ld\n", loa_client_action_name((enum loa_client_action)a), b.actions[a]);
    loa_client_free(c);
    if (child > 0) {
        kill(child, SIGTERM);
        waitpid(child, NULL, 0);
    }
    loa_free(b.lat_us);
    return b.done == n ? 0 : 1;
}
