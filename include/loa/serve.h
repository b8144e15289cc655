/* SPDX-License-Identifier: MIT */
/*
 * `loa serve`: the long-running daemon (module interface, used by src/cli/cmd_serve.c).
 *
 * Ownership: the options and the configuration they point to are borrowed for the call;
 * loa_serve_run() owns everything it starts (store connections, HTTP server, dispatcher,
 * profile worker) and has released all of it when it returns.
 * Threading: call from the main thread, once per process; it blocks SIGTERM and SIGINT in
 * every thread it starts and waits for them itself.
 */
#ifndef LOA_SERVE_H
#define LOA_SERVE_H

struct loa_config;

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

#endif /* LOA_SERVE_H */
