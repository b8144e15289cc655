/* SPDX-License-Identifier: MIT */
/* loa serve: run the daemon (src/serve). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <loa/err.h>
#include <loa/serve.h>

#include "common.h"

static const char serve_help[] =
    "usage: loa serve [--port-file FILE]\n\n"
    "Runs the daemon: Meta's webhook (GET/POST /webhook), the REST API under /api/v1 (API keys\n"
    "from `loa apikey create`), /healthz and /metrics. It listens on http.listen (--listen\n"
    "HOST:PORT; port 0 picks a free port) and stops cleanly on SIGTERM or SIGINT.\n\n"
    "  --port-file FILE   write the bound port to FILE once listening\n\n"
    "Secrets come from the environment or the config file only: LOA_WEBHOOK_VERIFY_TOKEN,\n"
    "LOA_WEBHOOK_APP_SECRET (the Pages' stored app secrets are accepted too).\n"
    "See docs/api.md.\n";

int loa_cmd_serve(struct loa_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        { "port-file", required_argument, NULL, 'p' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    const char *port_file = NULL;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'p')
            port_file = optarg;
        else if (c == 'h') {
            fputs(serve_help, cli->out);
            return LOA_EXIT_OK;
        } else
            return cli_usage(cli, "serve", "unknown option");
    }
    if (optind < argc)
        return cli_usage(cli, "serve", "unexpected argument '%s'", argv[optind]);
    struct loa_serve_opts o = { .config = cli->config, .port_file = port_file };
    int rc = loa_serve_run(&o);
    if (rc == 0)
        return LOA_EXIT_OK;
    return rc == LOA_ECONFIG || rc == LOA_ECRYPTO || rc == LOA_EINVAL ? LOA_EXIT_CONFIG
           : rc == LOA_ENOENT                                         ? LOA_EXIT_NOINPUT
                                                                      : LOA_EXIT_IOERR;
}
