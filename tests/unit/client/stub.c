/* SPDX-License-Identifier: MIT */
/* The Graph stub of stub.h on libmicrohttpd. */
#include "stub.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#include <loa/alloc.h>
#include <loa/buf.h>

struct stub {
    struct MHD_Daemon *d;
    stub_fn fn;
    void *arg;
    int port;
    char url[64];
    atomic_uint conns;
    atomic_uint reqs;
    pthread_mutex_t mu; /* guards last_* */
    char last_token[512], last_proof[128], last_fields[256], last_path[256], last_body[4096];
};

static _Thread_local struct MHD_Connection *current; /* the request a responder answers */

const char *stub_arg(const char *key)
{
    return current ? MHD_lookup_connection_value(current, MHD_GET_ARGUMENT_KIND, key) : NULL;
}

static void copy(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

static void on_conn(void *cls, struct MHD_Connection *conn, void **socket_context,
                    enum MHD_ConnectionNotificationCode toe)
{
    (void)conn;
    (void)socket_context;
    struct stub *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED)
        atomic_fetch_add(&s->conns, 1);
}

static void on_done(void *cls, struct MHD_Connection *conn, void **req_cls,
                    enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    struct loa_buf *b = *req_cls;
    if (b) {
        loa_buf_release(b);
        loa_free(b);
        *req_cls = NULL;
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **req_cls)
{
    (void)version;
    struct stub *s = cls;
    struct loa_buf *b = *req_cls;
    if (!b) {
        b = loa_calloc(1, sizeof(*b));
        loa_buf_init(b, 1 << 20);
        *req_cls = b;
        return MHD_YES;
    }
    if (*upload_size) {
        (void)loa_buf_append(b, upload_data, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    atomic_fetch_add(&s->reqs, 1);
    pthread_mutex_lock(&s->mu);
    copy(s->last_token, sizeof(s->last_token),
         MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "access_token"));
    copy(s->last_proof, sizeof(s->last_proof),
         MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "appsecret_proof"));
    copy(s->last_fields, sizeof(s->last_fields),
         MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "fields"));
    copy(s->last_path, sizeof(s->last_path), url);
    copy(s->last_body, sizeof(s->last_body), loa_buf_cstr(b));
    pthread_mutex_unlock(&s->mu);

    struct stub_reply r = { .status = 200, .body = "" };
    current = conn;
    s->fn(s->arg, method, url, loa_buf_cstr(b), b->len, &r);
    current = NULL;
    if (r.delay_ms > 0) {
        struct timespec ts = { r.delay_ms / 1000, (long)(r.delay_ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
    }
    if (r.drop)
        return MHD_NO;
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        strlen(r.body), (void *)(uintptr_t)r.body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    for (int i = 0; i < 4 && r.hdr_name[i]; i++)
        MHD_add_response_header(resp, r.hdr_name[i], r.hdr_value[i]);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)r.status, resp);
    MHD_destroy_response(resp);
    return ret;
}

struct stub *stub_start(stub_fn fn, void *arg, bool threaded)
{
    struct stub *s = loa_calloc(1, sizeof(*s));
    s->fn = fn;
    s->arg = arg;
    pthread_mutex_init(&s->mu, NULL);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    unsigned flags = threaded ? MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD
                              : MHD_USE_AUTO_INTERNAL_THREAD;
    s->d = MHD_start_daemon(flags | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, s,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                            MHD_OPTION_NOTIFY_CONNECTION, on_conn, s, MHD_OPTION_NOTIFY_COMPLETED,
                            on_done, s, MHD_OPTION_CONNECTION_LIMIT, (unsigned)1000,
                            MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024, MHD_OPTION_END);
    if (!s->d) {
        pthread_mutex_destroy(&s->mu);
        loa_free(s);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : 0;
    snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", s->port);
    return s;
}

void stub_stop(struct stub *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->d);
    pthread_mutex_destroy(&s->mu);
    loa_free(s);
}

int stub_port(const struct stub *s)
{
    return s->port;
}

const char *stub_url(const struct stub *s)
{
    return s->url;
}

unsigned stub_connections(const struct stub *s)
{
    return atomic_load(&s->conns);
}

unsigned stub_requests(const struct stub *s)
{
    return atomic_load(&s->reqs);
}

void stub_last(struct stub *s, char *token, char *proof, char *fields, char *path, char *body,
               size_t size)
{
    pthread_mutex_lock(&s->mu);
    if (token)
        copy(token, size, s->last_token);
    if (proof)
        copy(proof, size, s->last_proof);
    if (fields)
        copy(fields, size, s->last_fields);
    if (path)
        copy(path, size, s->last_path);
    if (body)
        copy(body, size, s->last_body);
    pthread_mutex_unlock(&s->mu);
}
