/* SPDX-License-Identifier: MIT */
/*
 * libmicrohttpd glue: epoll with a thread pool (MHD_USE_EPOLL_INTERNAL_THREAD and
 * MHD_OPTION_THREAD_POOL_SIZE). One struct req_ctx per request, made on MHD's first call,
 * filled with the body as it arrives (capped: past the route's limit the rest is dropped and
 * the answer is 413), run through the route's handler on the last call, and freed in the
 * completion callback, which also counts and logs the request.
 *
 * Threading: everything here runs on MHD's pool threads except start/quiesce/stop (the main
 * thread). Counters are atomics; the in-flight count lets the main thread wait for requests
 * that were accepted before the listening socket was closed.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include <loa/alloc.h>
#include <loa/clock.h>
#include <loa/err.h>
#include <loa/http.h>
#include <loa/log.h>

#define PATH_MAX_BYTES 2048
#define RESP_MAX       (64u * 1024 * 1024)

/* The statuses counted one by one; anything else lands in the last slot. */
static const int counted_status[] = { 200, 201, 204, 400, 401, 403, 404,
                                      405, 409, 413, 415, 422, 500, 503 };
#define NSTATUS (sizeof(counted_status) / sizeof(counted_status[0]) + 1)

struct loa_http_server {
    struct MHD_Daemon *d;
    struct loa_http_opts o;
    int port;
    atomic_size_t in_flight;
    /* [route + 2][status slot]: row 0 = no route (404), row 1 = wrong method (405). */
    _Atomic uint64_t *counts;
    _Atomic uint64_t errors;
};

struct req_ctx {
    int64_t started_us;
    int route; /* index, -1 no route, -2 wrong method */
    enum loa_http_method method;
    char pathbuf[PATH_MAX_BYTES];
    const char *params[LOA_HTTP_MAX_PARAMS];
    struct loa_buf body;
    size_t limit;
    bool too_big;
    bool begun;          /* the access handler has seen the request */
    const char *bad_uri; /* why the raw URI is refused (on_uri); NULL = fine */
    int status;
};

static enum loa_http_method parse_method(const char *m)
{
    static const char *const names[] = { "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD" };
    for (int i = 0; i < 6; i++)
        if (strcmp(m, names[i]) == 0)
            return (enum loa_http_method)i;
    return LOA_HTTP_OTHER;
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

const char *loa_http_query(const struct loa_http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *loa_http_header(const struct loa_http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *loa_http_cookie(const struct loa_http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, name);
}

void loa_http_add_header(struct loa_http_resp *resp, const char *name, const char *value)
{
    if (resp->nhdr == LOA_HTTP_MAX_HEADERS)
        return;
    resp->hdr_name[resp->nhdr] = name;
    resp->hdr_value[resp->nhdr++] = loa_strdup(value);
}

static void resp_release(struct loa_http_resp *resp)
{
    for (size_t i = 0; i < resp->nhdr; i++)
        loa_free(resp->hdr_value[i]);
    resp->nhdr = 0;
    loa_buf_release(&resp->body);
}

void loa_http_json(struct loa_http_resp *resp, int status, const char *json)
{
    resp->status = status;
    resp->content_type = "application/json";
    loa_buf_reset(&resp->body);
    loa_buf_puts(&resp->body, json);
}

void loa_http_error(struct loa_http_resp *resp, int status, const char *field, const char *fmt, ...)
{
    char reason[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    json_t *err = json_pack("{s:i,s:s?,s:s}", "status", status, "field", field, "reason", reason);
    json_t *root = json_pack("{s:o}", "error", err);
    char *text = root ? json_dumps(root, JSON_COMPACT) : NULL;
    loa_http_json(resp, status, text ? text : "{\"error\":{\"status\":500}}");
    free(text); /* jansson allocates with malloc */
    json_decref(root);
}

static size_t status_slot(int status)
{
    for (size_t i = 0; i < NSTATUS - 1; i++)
        if (counted_status[i] == status)
            return i;
    return NSTATUS - 1;
}

static enum MHD_Result send_resp(struct MHD_Connection *c, struct req_ctx *x,
                                 struct loa_http_resp *resp, bool unauthorized)
{
    x->status = resp->status;
    struct MHD_Response *r =
        resp->static_body
            ? MHD_create_response_from_buffer(
                  resp->static_len, (void *)(uintptr_t)resp->static_body, MHD_RESPMEM_PERSISTENT)
            : MHD_create_response_from_buffer(
                  resp->body.len, resp->body.len ? resp->body.ptr : (void *)(uintptr_t) "",
                  MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            resp->content_type ? resp->content_type : "application/json");
    for (size_t i = 0; i < resp->nhdr; i++)
        MHD_add_response_header(r, resp->hdr_name[i], resp->hdr_value[i]);
    if (unauthorized)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    return ok;
}

/* Authorises the request for its route: 0 allowed, else the status to answer (401/403). */
static int authorise(struct loa_http_server *s, struct MHD_Connection *c,
                     const struct loa_http_route *route, struct loa_http_req *req, char *prefix,
                     struct loa_http_resp *resp)
{
    if (route->min_role == LOA_ROLE_NONE)
        return 0;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    enum loa_role role = LOA_ROLE_NONE;
    const char *cookie = !h && s->o.session && s->o.session_cookie
                             ? MHD_lookup_connection_value(c, MHD_COOKIE_KIND, s->o.session_cookie)
                             : NULL;
    if (cookie) {
        int denied = s->o.session(s->o.app, req, cookie, &role, &req->user, resp);
        if (denied)
            return denied;
    } else if (!h || strncasecmp(h, "Bearer ", 7) != 0 || !s->o.auth ||
               s->o.auth(s->o.app, h + 7, &role, prefix) < 0) {
        loa_http_error(resp, 401, "Authorization",
                       h ? "the API key is not valid (unknown, malformed or revoked)"
                         : "an API key is required: Authorization: Bearer <key>");
        return 401;
    }
    req->role = role;
    if (!cookie)
        req->key_prefix = prefix;
    if (role < route->min_role) {
        loa_http_error(resp, 403, "Authorization", "this needs the %s role; the key has %s",
                       loa_role_name(route->min_role), loa_role_name(role));
        return 403;
    }
    return 0;
}

static struct req_ctx *new_ctx(struct loa_http_server *s)
{
    struct req_ctx *x = loa_calloc(1, sizeof(*x));
    x->route = -1;
    x->started_us = mono_us();
    atomic_fetch_add(&s->in_flight, 1);
    return x;
}

/*
 * MHD_OPTION_URI_LOG_CALLBACK: the request's URI as it came, before MHD decodes %XX in place
 * (issue 16). An encoded NUL anywhere would cut the path or a query value short after
 * decoding ("/subscribers/7%00xyz" read as subscriber 7), and an encoded slash in the path
 * would change its segments: both are refused with 400 before any route sees them. Its result
 * becomes the request's context.
 */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)c;
    struct req_ctx *x = new_ctx(cls);
    size_t path_len = strcspn(uri, "?");
    for (const char *p = uri; *p && !x->bad_uri; p++) {
        if (p[0] != '%' || !p[1] || !p[2])
            continue;
        if (p[1] == '0' && p[2] == '0')
            x->bad_uri = "an encoded NUL (%00)";
        else if ((size_t)(p - uri) < path_len && p[1] == '2' && (p[2] == 'F' || p[2] == 'f'))
            x->bad_uri = "an encoded slash (%2F) in its path";
    }
    return x;
}

/* The Content-Length headers of a request: the largest value, and whether two disagree. */
struct lengths {
    unsigned long long value;
    const char *first;
    bool conflict;
};

static enum MHD_Result count_length(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    (void)kind;
    struct lengths *n = cls;
    if (!key || strcasecmp(key, "Content-Length") != 0 || !value)
        return MHD_YES;
    if (n->first && strcmp(n->first, value) != 0)
        n->conflict = true;
    n->first = n->first ? n->first : value;
    unsigned long long v = strtoull(value, NULL, 10);
    n->value = v > n->value ? v : n->value;
    return MHD_YES;
}

/* Answers a request refused before its body (bad URI or headers, a body over the limit). */
static enum MHD_Result refuse(struct MHD_Connection *c, struct req_ctx *x, const char *method,
                              const char *url)
{
    (void)method;
    (void)url;
    struct loa_http_resp resp = { .status = 200, .content_type = "application/json" };
    loa_buf_init(&resp.body, RESP_MAX);
    if (x->bad_uri && strstr(x->bad_uri, "Content-Length"))
        loa_http_error(&resp, 400, "headers", "the request has %s", x->bad_uri);
    else if (x->bad_uri)
        loa_http_error(&resp, 400, "path", "the request's URI holds %s", x->bad_uri);
    else
        loa_http_error(&resp, 413, "body", "the request body is larger than %zu bytes", x->limit);
    enum MHD_Result ok = send_resp(c, x, &resp, false);
    resp_release(&resp);
    return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct loa_http_server *s = cls;
    struct req_ctx *x = *con_cls;
    if (!x) /* on_uri made none (it always does; kept for safety) */
        *con_cls = x = new_ctx(s);
    if (!x->begun) {
        x->begun = true;
        x->method = parse_method(method);
        x->route = loa_http_route_match(s->o.routes, s->o.nroutes, x->method, url, x->pathbuf,
                                        sizeof(x->pathbuf), x->params);
        x->limit = x->route >= 0 && s->o.routes[x->route].body_limit
                       ? s->o.routes[x->route].body_limit
                       : s->o.body_limit;
        loa_buf_init(&x->body, x->limit);
        struct lengths n = { 0 };
        MHD_get_connection_values(c, MHD_HEADER_KIND, count_length, &n);
        if (n.conflict && !x->bad_uri)
            x->bad_uri = "two different Content-Length headers";
        if (n.value > x->limit)
            x->too_big = true;
        /* A client that waits for "100 Continue" is answered at once: it never sends a body
         * that will not be taken. Any other client is answered once its body has gone by
         * (discarded, never held): closing while it still sends would reach it as a reset,
         * not as the answer. */
        const char *expect = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Expect");
        bool waits = expect && strcasecmp(expect, "100-continue") == 0;
        if ((x->bad_uri && (waits || n.value == 0)) || (x->too_big && waits))
            return refuse(c, x, method, url);
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!x->too_big && loa_buf_append(&x->body, upload_data, *upload_data_size) < 0)
            x->too_big = true;
        *upload_data_size = 0;
        return MHD_YES;
    }

    struct loa_http_resp resp = { .status = 200, .content_type = "application/json" };
    loa_buf_init(&resp.body, RESP_MAX);
    bool unauthorized = false;
    if (x->bad_uri) {
        refuse(c, x, method, url);
        resp_release(&resp);
        return MHD_YES;
    } else if (x->route == -1 && s->o.fallback &&
               (x->method == LOA_HTTP_GET || x->method == LOA_HTTP_HEAD)) {
        struct loa_http_req req = {
            .method = x->method, .path = url, .body = "", .conn = c, .server = s
        };
        s->o.fallback(s->o.app, &req, &resp);
    } else if (x->route == -1) {
        loa_http_error(&resp, 404, NULL, "no such resource: %s %s", method, url);
    } else if (x->route == -2) {
        loa_http_error(&resp, 405, NULL, "method %s is not allowed here", method);
    } else if (x->too_big) {
        loa_http_error(&resp, 413, "body", "the request body is larger than %zu bytes", x->limit);
    } else {
        const struct loa_http_route *route = &s->o.routes[x->route];
        char prefix[64] = "";
        struct loa_http_req req = {
            .method = x->method,
            .path = url,
            .body = loa_buf_cstr(&x->body),
            .body_len = x->body.len,
            .conn = c,
            .server = s,
        };
        memcpy(req.params, x->params, sizeof(req.params));
        int denied = authorise(s, c, route, &req, prefix, &resp);
        unauthorized = denied == 401 && !req.user;
        if (!denied && (!s->o.guard || s->o.guard(s->o.app, route, &req, &resp)))
            route->handler(s->o.app, &req, &resp);
        if (req.user && s->o.user_free)
            s->o.user_free(req.user);
    }
    enum MHD_Result ok = send_resp(c, x, &resp, unauthorized);
    resp_release(&resp);
    return ok;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)c;
    struct loa_http_server *s = cls;
    struct req_ctx *x = *con_cls;
    if (!x)
        return;
    *con_cls = NULL;
    double ms = (double)(mono_us() - x->started_us) / 1000.0;
    const char *route = x->route >= 0 ? s->o.routes[x->route].pattern : "-";
    int status = x->status ? x->status : 0;
    size_t row = (size_t)(x->route + 2);
    atomic_fetch_add(&s->counts[row * NSTATUS + status_slot(status)], 1);
    if (status >= 500 || toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        atomic_fetch_add(&s->errors, 1);
    LOA_INFO("http", "request", "method=%s route=%s status=%d ms=%.2f%s",
             loa_http_method_name(x->method), route, status, ms,
             toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted=true");
    loa_buf_release(&x->body);
    loa_free(x);
    atomic_fetch_sub(&s->in_flight, 1);
}

static int parse_listen(const char *listen, struct sockaddr_in *sa)
{
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen)
        return LOA_EINVAL;
    char host[64];
    size_t hl = (size_t)(colon - listen);
    if (hl >= sizeof(host))
        return LOA_EINVAL;
    memcpy(host, listen, hl);
    host[hl] = '\0';
    char *end;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (*end || port > 65535 || colon[1] == '\0')
        return LOA_EINVAL;
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof(host), "127.0.0.1");
    if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
        return LOA_EINVAL;
    return 0;
}

int loa_http_start(const struct loa_http_opts *o, struct loa_http_server **out)
{
    *out = NULL;
    struct sockaddr_in sa;
    if (parse_listen(o->listen, &sa) < 0) {
        LOA_ERROR("http", "bad listen address", "listen=%s want=HOST:PORT", o->listen);
        return LOA_EINVAL;
    }
    struct loa_http_server *s = loa_calloc(1, sizeof(*s));
    s->o = *o;
    s->counts = loa_calloc((o->nroutes + 2) * NSTATUS, sizeof(*s->counts));
    unsigned threads = o->threads ? o->threads : 1;
    s->d = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC, 0, NULL, NULL, on_request,
                            s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                            MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_NOTIFY_COMPLETED,
                            on_completed, s, MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
                            MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024, MHD_OPTION_END);
    if (!s->d) {
        LOA_ERROR("http", "cannot listen", "listen=%s", o->listen);
        loa_free(s->counts);
        loa_free(s);
        return LOA_EIO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : ntohs(sa.sin_port);
    *out = s;
    return 0;
}

int loa_http_port(const struct loa_http_server *s)
{
    return s->port;
}

void loa_http_quiesce(struct loa_http_server *s)
{
    MHD_socket fd = MHD_quiesce_daemon(s->d);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
}

size_t loa_http_in_flight(const struct loa_http_server *s)
{
    return atomic_load(&s->in_flight);
}

void loa_http_stop(struct loa_http_server *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->d);
    loa_free(s->counts);
    loa_free(s);
}

int loa_http_metrics_format(const struct loa_http_server *s, struct loa_buf *out)
{
    int rc = loa_buf_puts(out, "# HELP loa_http_requests_total HTTP requests by route, method "
                               "and status.\n# TYPE loa_http_requests_total counter\n");
    for (size_t row = 0; row < s->o.nroutes + 2 && rc == 0; row++) {
        /* row = route index + 2: -2 a known path with another method, -1 no route */
        const char *route = row == 0   ? "method_not_allowed"
                            : row == 1 ? "none"
                                       : s->o.routes[row - 2].pattern;
        const char *method = row < 2 ? "" : loa_http_method_name(s->o.routes[row - 2].method);
        for (size_t i = 0; i < NSTATUS && rc == 0; i++) {
            uint64_t n = atomic_load(&s->counts[row * NSTATUS + i]);
            if (!n)
                continue;
            char status[16];
            if (i < NSTATUS - 1)
                snprintf(status, sizeof(status), "%d", counted_status[i]);
            else
                snprintf(status, sizeof(status), "other");
            rc = loa_buf_printf(out,
                                "loa_http_requests_total{route=\"%s\",method=\"%s\","
                                "status=\"%s\"} %llu\n",
                                route, method, status, (unsigned long long)n);
        }
    }
    if (rc == 0)
        rc = loa_buf_printf(out,
                            "# HELP loa_http_request_errors_total Requests answered 5xx or "
                            "aborted.\n# TYPE loa_http_request_errors_total counter\n"
                            "loa_http_request_errors_total %llu\n",
                            (unsigned long long)atomic_load(&s->errors));
    return rc;
}
