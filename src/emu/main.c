/* SPDX-License-Identifier: MIT */
/*
 * loa-graph: a local stand-in for Meta's Graph API (see docs/emulator.md).
 *
 * Starts the webhook sender and the HTTP server, writes the port to --port-file, then waits
 * for SIGTERM or SIGINT and shuts down in reverse order. Exit codes: 0 clean stop, 64 bad
 * arguments, 70 could not start.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include <loa/err.h>
#include <loa/log.h>

#include "emu_int.h"

#define EXIT_USAGE    64
#define EXIT_SOFTWARE 70

static int write_port_file(const char *path, int port)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return LOA_EIO;
    fprintf(f, "%d\n", port);
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        return LOA_EIO;
    return 0;
}

int main(int argc, char **argv)
{
    struct emu_args args;
    char err[512];
    int rc = emu_args_parse(argc, argv, &args, err, sizeof(err));
    if (rc == 1) {
        emu_args_usage(argv[0]);
        return 0;
    }
    if (rc < 0) {
        fprintf(stderr, "loa-graph: %s\n", err);
        return EXIT_USAGE;
    }
    if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "loa-graph: cannot initialise libsodium or libcurl\n");
        return EXIT_SOFTWARE;
    }
    /* Block the stop signals in every thread; main waits for them with sigwait. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    static struct emu emu;
    struct emu_http *http = NULL;
    int port = 0, exit_code = 0;
    emu_init(&emu, &args);
    if (emu_webhook_start(&emu, &emu.webhook) < 0) {
        fprintf(stderr, "loa-graph: cannot start the webhook sender\n");
        exit_code = EXIT_SOFTWARE;
        goto out;
    }
    if (emu_http_start(&emu, &http, &port) < 0) {
        fprintf(stderr, "loa-graph: cannot listen on %s:%d (address in use or invalid)\n",
                args.host, args.port);
        exit_code = EXIT_SOFTWARE;
        goto out;
    }
    if (args.port_file && write_port_file(args.port_file, port) < 0) {
        fprintf(stderr, "loa-graph: cannot write the port file %s\n", args.port_file);
        exit_code = EXIT_SOFTWARE;
        goto out;
    }
    LOA_INFO("emu", "listening", "addr=%s:%d threads=%d clock=%s", args.host, port, args.threads,
             args.fake_clock ? "fake" : "real");
    int sig = 0;
    sigwait(&stop, &sig);
    LOA_INFO("emu", "stopping", "signal=%d", sig);
out:
    emu_http_stop(http);
    emu_webhook_stop(emu.webhook);
    emu_release(&emu);
    curl_global_cleanup();
    return exit_code;
}
