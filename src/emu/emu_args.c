/* SPDX-License-Identifier: MIT */
/* Command-line parsing for loa-graph. Every complaint names the option and what was wrong. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <loa/clock.h>
#include <loa/err.h>

#include "emu_int.h"

void emu_args_usage(const char *prog)
{
    printf(
        "usage: %s [--listen HOST:PORT] [--port-file FILE] [--webhook-url URL]\n"
        "          [--app-secret SECRET] [--clock real|fake] [--now ISO8601]\n"
        "          [--rate-limit N] [--threads N] [--recurring-retired ISO8601] [--help]\n"
        "\n"
        "A local stand-in for Meta's Graph API (Send API, profiles, webhooks) that checks\n"
        "Meta's messaging rules on its own. See docs/emulator.md.\n"
        "\n"
        "  --listen HOST:PORT        address to serve on (default 127.0.0.1:0; port 0 picks one)\n"
        "  --port-file FILE          write the port to FILE once listening\n"
        "  --webhook-url URL         where to POST webhooks (also POST /_admin/config)\n"
        "  --app-secret SECRET       default secret for X-Hub-Signature-256\n"
        "  --clock real|fake         real ticks (default); fake stands still until moved\n"
        "  --now ISO8601             start the clock at this instant\n"
        "  --rate-limit N            Send API calls per second per Page (default 300, 0 = off)\n"
        "  --threads N               HTTP worker threads (default 2)\n"
        "  --recurring-retired ISO   when Recurring Notifications stop (default 2026-02-10)\n",
        prog);
}

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
    return LOA_EINVAL;
}

static bool parse_long(const char *s, long min, long max, long *out)
{
    if (!s || !*s)
        return false;
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

int emu_args_parse(int argc, char **argv, struct emu_args *out, char *err, size_t size)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->host, sizeof(out->host), "127.0.0.1");
    out->now_ms = -1;
    out->rate_limit = 300;
    out->threads = 2;
    out->recurring_retired_ms = -1;
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0)
            return 1;
        const char *val = NULL;
        char name[32];
        const char *eq = strchr(opt, '=');
        if (strncmp(opt, "--", 2) == 0 && eq && (size_t)(eq - opt) < sizeof(name)) {
            memcpy(name, opt, (size_t)(eq - opt));
            name[eq - opt] = '\0';
            val = eq + 1;
        } else {
            snprintf(name, sizeof(name), "%s", opt);
        }
        static const char *const with_value[] = {
            "--listen", "--port-file",  "--webhook-url", "--app-secret",       "--clock",
            "--now",    "--rate-limit", "--threads",     "--recurring-retired"
        };
        bool known = false;
        for (size_t k = 0; k < sizeof(with_value) / sizeof(with_value[0]); k++)
            known = known || strcmp(name, with_value[k]) == 0;
        if (!known)
            return fail(err, size, "unknown option %s (see --help)", opt);
        if (!val) {
            if (i + 1 >= argc)
                return fail(err, size, "option %s needs a value", name);
            val = argv[++i];
        }
        long n;
        if (strcmp(name, "--listen") == 0) {
            const char *colon = strrchr(val, ':');
            if (!colon || colon == val || (size_t)(colon - val) >= sizeof(out->host) ||
                !parse_long(colon + 1, 0, 65535, &n))
                return fail(err, size, "--listen %s: expected HOST:PORT such as 127.0.0.1:8089",
                            val);
            memcpy(out->host, val, (size_t)(colon - val));
            out->host[colon - val] = '\0';
            out->port = (int)n;
        } else if (strcmp(name, "--port-file") == 0) {
            out->port_file = val;
        } else if (strcmp(name, "--webhook-url") == 0) {
            if (strncmp(val, "http://", 7) != 0 && strncmp(val, "https://", 8) != 0)
                return fail(err, size, "--webhook-url %s: expected an http:// or https:// URL",
                            val);
            out->webhook_url = val;
        } else if (strcmp(name, "--app-secret") == 0) {
            out->app_secret = val;
        } else if (strcmp(name, "--clock") == 0) {
            if (strcmp(val, "real") != 0 && strcmp(val, "fake") != 0)
                return fail(err, size, "--clock %s: expected real or fake", val);
            out->fake_clock = strcmp(val, "fake") == 0;
        } else if (strcmp(name, "--now") == 0) {
            if (loa_time_parse(val, &out->now_ms) < 0)
                return fail(err, size,
                            "--now %s: expected an ISO 8601 time such as 2026-05-01T09:00:00Z",
                            val);
        } else if (strcmp(name, "--recurring-retired") == 0) {
            if (loa_time_parse(val, &out->recurring_retired_ms) < 0)
                return fail(err, size, "--recurring-retired %s: expected an ISO 8601 time", val);
        } else if (strcmp(name, "--rate-limit") == 0) {
            if (!parse_long(val, 0, 100000000, &n))
                return fail(err, size, "--rate-limit %s: expected calls per second, 0 to 100000000",
                            val);
            out->rate_limit = (double)n;
        } else if (strcmp(name, "--threads") == 0) {
            if (!parse_long(val, 1, 64, &n))
                return fail(err, size, "--threads %s: expected 1 to 64", val);
            out->threads = (int)n;
        }
    }
    return 0;
}
