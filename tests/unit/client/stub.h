/* SPDX-License-Identifier: MIT */
/*
 * An in-process HTTP stub of the Graph API on 127.0.0.1:0 (libmicrohttpd), for the client's
 * tests and throughput check. A responder function decides each reply from the request; the
 * stub counts connections and requests and remembers the last query parameters it saw.
 */
#ifndef LOA_TESTS_CLIENT_STUB_H
#define LOA_TESTS_CLIENT_STUB_H

#include <stdbool.h>
#include <stddef.h>

struct stub_reply {
    int status;              /* HTTP status */
    const char *body;        /* borrowed; "" for none */
    const char *hdr_name[4]; /* extra headers, NULL-terminated */
    const char *hdr_value[4];
    int delay_ms; /* sleep before replying (threaded stub only) */
    bool drop;    /* close the connection without a reply */
};

/* path excludes the query; body is NUL-terminated. Runs on a stub thread. */
typedef void (*stub_fn)(void *arg, const char *method, const char *path, const char *body,
                        size_t body_len, struct stub_reply *out);

struct stub;

/* threaded: one thread per connection (needed for delay_ms); else one epoll thread. */
struct stub *stub_start(stub_fn fn, void *arg, bool threaded);
void stub_stop(struct stub *s);
int stub_port(const struct stub *s);
/* "http://127.0.0.1:<port>" */
const char *stub_url(const struct stub *s);
unsigned stub_connections(const struct stub *s);
unsigned stub_requests(const struct stub *s);
/* In a responder, on the stub's thread: the request's query parameter key, or NULL. */
const char *stub_arg(const char *key);
/* Copies of the last request's query parameters and body ("" when absent). */
void stub_last(struct stub *s, char *token, char *proof, char *fields, char *path, char *body,
               size_t size);

#endif /* LOA_TESTS_CLIENT_STUB_H */
