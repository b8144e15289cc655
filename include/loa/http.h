/* SPDX-License-Identifier: MIT */
/*
 * The HTTP server of `loa serve` (module interface; no libmicrohttpd type appears here):
 * libmicrohttpd with epoll and a thread pool, a route table matched in one place, API-key
 * or session-cookie authorisation by role (the session check is the app's hook), a guard hook
 * that can refuse a request after it is authorised, a fallback for GETs no route matches
 * (the console's files), size-capped request bodies, JSON error bodies, one log line per
 * request and per-route request counters for /metrics.
 *
 * Data flows one way: the server reads a request, finds its route, checks the key's role,
 * calls the route's handler with the whole body, and sends what the handler put in the
 * response. Handlers never see the connection.
 *
 * Ownership: a request (struct loa_http_req) and everything it points to is borrowed for the
 * handler's call; the response body belongs to the response and the server frees it after
 * sending. The route table and the options are borrowed for the server's life. A server made
 * by loa_http_start() is freed by loa_http_stop().
 *
 * Threading: handlers run on the pool's threads, several at once; a handler must only use
 * what is safe from any thread (the app passes its own per-thread store through app).
 * loa_http_start(), loa_http_quiesce() and loa_http_stop() are called from one thread (the
 * owner's); the metrics and in-flight counters may be read from any thread.
 */
#ifndef LOA_HTTP_H
#define LOA_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <loa/buf.h>
#include <loa/role.h>

enum loa_http_method {
    LOA_HTTP_GET = 0,
    LOA_HTTP_POST,
    LOA_HTTP_PUT,
    LOA_HTTP_PATCH,
    LOA_HTTP_DELETE,
    LOA_HTTP_HEAD,
    LOA_HTTP_OTHER,
};

const char *loa_http_method_name(enum loa_http_method m);

#define LOA_HTTP_MAX_PARAMS 4

/** One request as a handler sees it. Everything is borrowed for the handler's call. */
struct loa_http_req {
    enum loa_http_method method;
    const char *path;                        /* without the query */
    const char *params[LOA_HTTP_MAX_PARAMS]; /* the {name} segments of the route, in order */
    const char *body;                        /* NUL-terminated; "" when none */
    size_t body_len;
    enum loa_role role;     /* the API key's role; NONE on public routes */
    const char *key_prefix; /* the key's public prefix, or NULL */
    void *user; /* what the session hook made for a cookie-signed request; NULL with a key */
    void *conn; /* private: for the lookups below */
    const struct loa_http_server *server; /* the server answering (its metrics) */
};

/** A query argument (decoded), or NULL. */
const char *loa_http_query(const struct loa_http_req *r, const char *name);
/** A request header (case-insensitive name), or NULL. */
const char *loa_http_header(const struct loa_http_req *r, const char *name);
/** A cookie of the request, or NULL. */
const char *loa_http_cookie(const struct loa_http_req *r, const char *name);

#define LOA_HTTP_MAX_HEADERS 12

/** What a handler answers. body is owned by the response (a loa_buf). */
struct loa_http_resp {
    int status;               /* 200 unless set */
    const char *content_type; /* static; "application/json" unless set */
    struct loa_buf body;      /* the response body */
    /* Extra headers (names static, values owned by the response): loa_http_add_header(). */
    const char *hdr_name[LOA_HTTP_MAX_HEADERS];
    char *hdr_value[LOA_HTTP_MAX_HEADERS];
    size_t nhdr;
    /* A body that lives as long as the program (embedded files): sent without a copy and
     * instead of body when set. */
    const void *static_body;
    size_t static_len;
};

/** Adds a response header (value copied); past LOA_HTTP_MAX_HEADERS it is dropped. */
void loa_http_add_header(struct loa_http_resp *resp, const char *name, const char *value);

/** Sets a JSON error: {"error":{"status":S,"field":F,"reason":R}} (field may be NULL). */
void loa_http_error(struct loa_http_resp *resp, int status, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/** Sets status and body to JSON text (copied). */
void loa_http_json(struct loa_http_resp *resp, int status, const char *json);

typedef void (*loa_http_handler)(void *app, const struct loa_http_req *req,
                                 struct loa_http_resp *resp);

/** One route: "GET /api/v1/pages/{page_id}". */
struct loa_http_route {
    enum loa_http_method method;
    const char *pattern; /* segments; "{name}" matches one non-empty segment */
    loa_http_handler handler;
    enum loa_role min_role; /* NONE = public (no key needed) */
    size_t body_limit;      /* 0 = the server's default */
};

/**
 * Finds the route for method and path among n routes. Returns its index, -1 when no pattern
 * matches the path (404), or -2 when one matches with another method (405). params (may be
 * NULL) receives the {name} segments: pointers into buf, a copy of path split in place.
 */
int loa_http_route_match(const struct loa_http_route *routes, size_t n, enum loa_http_method m,
                         const char *path, char *buf, size_t bufsize,
                         const char *params[LOA_HTTP_MAX_PARAMS]);

/**
 * Checks the bearer key of a request (the value after "Bearer "). Returns 0 with *role_out and
 * a prefix copied into prefix_out (at least 32 bytes), or LOA_EPERM. Called on the request's
 * thread.
 */
typedef int (*loa_http_auth_fn)(void *app, const char *key, enum loa_role *role_out,
                                char *prefix_out);

/**
 * Checks a request without an Authorization header that carries a session cookie (the
 * cookie's value given). Returns 0 with *role_out and *user_out (freed with user_free after
 * the request), or the status to answer (401, 403) with the error already in resp. The hook
 * checks the CSRF token of requests that change something. Called on the request's thread.
 */
typedef int (*loa_http_session_fn)(void *app, const struct loa_http_req *req, const char *cookie,
                                   enum loa_role *role_out, void **user_out,
                                   struct loa_http_resp *resp);

/**
 * Called for every authorised request before its handler: false refuses it (the guard has
 * set resp). Used to keep a signed-in user to their own Pages.
 */
typedef bool (*loa_http_guard_fn)(void *app, const struct loa_http_route *route,
                                  const struct loa_http_req *req, struct loa_http_resp *resp);

struct loa_http_opts {
    const char *listen;                  /* "127.0.0.1:8080"; port 0 picks a free one */
    unsigned threads;                    /* thread pool size */
    size_t body_limit;                   /* default request body cap */
    const struct loa_http_route *routes; /* the table (borrowed for the server's life) */
    size_t nroutes;
    loa_http_auth_fn auth;
    const char *session_cookie;    /* the session cookie's name; NULL = no sessions */
    loa_http_session_fn session;   /* may be NULL */
    void (*user_free)(void *user); /* frees what session made */
    loa_http_guard_fn guard;       /* may be NULL */
    loa_http_handler fallback;     /* GET/HEAD that no route matches; NULL = 404 */
    void *app;                     /* passed to handlers and the hooks */
};

struct loa_http_server;

/** Starts listening. Returns 0, LOA_EINVAL (bad listen address) or LOA_EIO (bind failed). */
int loa_http_start(const struct loa_http_opts *o, struct loa_http_server **out);
/** The bound port. */
int loa_http_port(const struct loa_http_server *s);
/** Stops accepting new connections (existing ones are served). */
void loa_http_quiesce(struct loa_http_server *s);
/** Requests accepted and not yet answered. */
size_t loa_http_in_flight(const struct loa_http_server *s);
/** Stops the threads and frees the server (after quiesce and a wait for in-flight work). */
void loa_http_stop(struct loa_http_server *s);

/**
 * Appends Prometheus text for the request counters: loa_http_requests_total{route,method,
 * status} and loa_http_request_errors_total (5xx). Returns 0 or LOA_ETOOBIG.
 */
int loa_http_metrics_format(const struct loa_http_server *s, struct loa_buf *out);

#endif /* LOA_HTTP_H */
