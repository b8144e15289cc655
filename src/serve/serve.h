/* SPDX-License-Identifier: MIT */
/*
 * `loa serve`: the long-running daemon (module interface, used by src/cli/cmd_serve.c).
 */
#ifndef LOA_SERVE_SERVE_H
#define LOA_SERVE_SERVE_H

#include <stddef.h>

#include <loa/config.h>

#include "http/http.h"

struct loa_serve_opts {
    const struct loa_config *config; /* effective configuration (borrowed) */
    const char *port_file;           /* write the bound port here once listening; may be NULL */
};

/**
 * Opens the store, starts the HTTP server and the profile worker, and serves until SIGTERM or
 * SIGINT: then stops accepting, lets requests in flight finish (up to 10 s), stops the worker
 * and returns 0. Returns LOA_ECONFIG / LOA_ESTORE / LOA_EIO when it cannot start (logged).
 */
int loa_serve_run(const struct loa_serve_opts *o);

/** The route table (for the OpenAPI test). */
const struct loa_http_route *loa__serve_routes(size_t *n);

/** The OpenAPI document embedded at build time (NUL-terminated). */
extern const char loa__openapi_json[];
extern const size_t loa__openapi_json_len;

#endif /* LOA_SERVE_SERVE_H */
