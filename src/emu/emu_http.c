/* SPDX-License-Identifier: MIT */
/*
 * The HTTP server: libmicrohttpd with epoll and an internal thread pool, keep-alive.
 *
 * Each request gets a small context that collects the body (capped at EMU_BODY_MAX), then the
 * router hands it to the Graph side (emu_send.c) or the admin side (emu_admin.c). Injected
 * latency suspends the connection and a timer thread resumes it, so a slow answer never holds a
 * worker thread; an injected drop closes the connection without an answer.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#include <loa/alloc.h>
#include <loa/clock.h>
#include <loa/err.h>
#include <loa/log.h>

#include "emu_int.h"

struct req_ctx {
    struct loa_buf body;
    bool too_big;
    bool have_reply; /* resumed after injected latency */
    struct emu_reply reply;
};

struct delayed {
    int64_t due_ms;
    struct MHD_Connection *conn;
};

struct emu_http {
    struct emu *emu;
    struct MHD_Daemon *daemon;
    /* latency timer */
    pthread_t timer;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop;
    struct delayed *slots;
    size_t n, cap;
};

/* ---- latency timer ------------------------------------------------------------------------ */

/* Suspends conn for ms; false when the server is stopping (answer at once instead). */
static bool delay_add(struct emu_http *h, struct MHD_Connection *conn, int ms)
{
    pthread_mutex_lock(&h->lock);
    if (h->stop) {
        pthread_mutex_unlock(&h->lock);
        return false;
    }
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 64;
        h->slots = loa_reallocarray(h->slots, h->cap, sizeof(*h->slots));
    }
    MHD_suspend_connection(conn);
    h->slots[h->n].due_ms = loa_mono_ms() + ms;
    h->slots[h->n].conn = conn;
    h->n++;
    pthread_cond_signal(&h->cond);
    pthread_mutex_unlock(&h->lock);
    return true;
}

static void *timer_run(void *arg)
{
    struct emu_http *h = arg;
    pthread_mutex_lock(&h->lock);
    while (!h->stop) {
        int64_t now = loa_mono_ms(), next = INT64_MAX;
        for (size_t i = 0; i < h->n;) {
            if (h->slots[i].due_ms <= now) {
                MHD_resume_connection(h->slots[i].conn);
                h->slots[i] = h->slots[--h->n];
                continue;
            }
            if (h->slots[i].due_ms < next)
                next = h->slots[i].due_ms;
            i++;
        }
        if (next == INT64_MAX) {
            pthread_cond_wait(&h->cond, &h->lock);
            continue;
        }
        int64_t wait = next - now;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += wait / 1000;
        ts.tv_nsec += (long)(wait % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&h->cond, &h->lock, &ts);
    }
    /* Resume what is left so MHD can close those connections. */
    for (size_t i = 0; i < h->n; i++)
        MHD_resume_connection(h->slots[i].conn);
    h->n = 0;
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

/* ---- the log stream ----------------------------------------------------------------------- */

struct log_cursor {
    struct emu *emu;
    int64_t next; /* next seq to format */
    int64_t last; /* last seq to send (count when the request came) */
    uint64_t generation;
    struct loa_buf buf;
    size_t off;
};

static ssize_t log_reader(void *cls, uint64_t pos, char *out, size_t max)
{
    (void)pos;
    struct log_cursor *c = cls;
    if (c->off >= c->buf.len) {
        loa_buf_reset(&c->buf);
        c->off = 0;
        if (c->next > c->last)
            return MHD_CONTENT_READER_END_OF_STREAM;
        struct emu *emu = c->emu;
        pthread_rwlock_rdlock(&emu->state_lock);
        if (atomic_load(&emu->generation) != c->generation) {
            pthread_rwlock_unlock(&emu->state_lock);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        for (int i = 0; i < 512 && c->next <= c->last; i++, c->next++) {
            const struct emu_log_entry *e = emu_log_get(&emu->log, c->next);
            if (!e)
                break;
            emu_log_format(&emu->log, e, &c->buf);
            loa_buf_putc(&c->buf, '\n');
        }
        pthread_rwlock_unlock(&emu->state_lock);
        if (c->buf.len == 0)
            return MHD_CONTENT_READER_END_OF_STREAM;
    }
    size_t n = c->buf.len - c->off;
    if (n > max)
        n = max;
    memcpy(out, c->buf.ptr + c->off, n);
    c->off += n;
    return (ssize_t)n;
}

static void log_cursor_free(void *cls)
{
    struct log_cursor *c = cls;
    loa_buf_release(&c->buf);
    loa_free(c);
}

static struct MHD_Response *log_stream(struct emu *emu)
{
    struct log_cursor *c = loa_calloc(1, sizeof(*c));
    c->emu = emu;
    pthread_rwlock_rdlock(&emu->state_lock);
    c->generation = atomic_load(&emu->generation);
    c->last = atomic_load(&emu->log.count);
    pthread_rwlock_unlock(&emu->state_lock);
    c->next = 1;
    loa_buf_init(&c->buf, (size_t)EMU_BODY_MAX * 64);
    return MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, log_reader, c,
                                             log_cursor_free);
}

/* ---- requests ----------------------------------------------------------------------------- */

static const char *mhd_query(void *ctx, const char *key)
{
    return MHD_lookup_connection_value(ctx, MHD_GET_ARGUMENT_KIND, key);
}

static enum MHD_Result send_reply(struct emu *emu, struct MHD_Connection *conn, struct emu_reply *r)
{
    struct MHD_Response *resp;
    if (r->stream_log) {
        resp = log_stream(emu);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/x-ndjson");
    } else {
        size_t len = r->body.len;
        char *body = loa_buf_detach(&r->body);
        resp = MHD_create_response_from_buffer_with_free_callback(len, body, loa_free);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                "application/json; charset=UTF-8");
    }
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct emu_http *h = cls;
    struct emu *emu = h->emu;
    struct req_ctx *ctx = *con_cls;
    if (!ctx) {
        ctx = loa_calloc(1, sizeof(*ctx));
        loa_buf_init(&ctx->body, EMU_BODY_MAX);
        *con_cls = ctx;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!ctx->too_big && loa_buf_append(&ctx->body, upload_data, *upload_data_size) < 0)
            ctx->too_big = true;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (ctx->have_reply)
        return send_reply(emu, conn, &ctx->reply);

    loa_buf_init(&ctx->reply.body, (size_t)EMU_BODY_MAX * 8);
    ctx->reply.status = 200;
    if (ctx->too_big) {
        emu_reply_graph_error(&ctx->reply, 413, 100, 0, "(#100) The request body is too large");
        return send_reply(emu, conn, &ctx->reply);
    }
    struct emu_request req = {
        .method = method,
        .path = url,
        .content_type =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
        .body = ctx->body.ptr ? ctx->body.ptr : "",
        .body_len = ctx->body.len,
        .query = mhd_query,
        .query_ctx = conn,
        .authorization =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
    };
    if (strncmp(url, "/_admin", 7) == 0 && (url[7] == '/' || url[7] == '\0')) {
        emu_admin_handle(emu, &req, &ctx->reply);
        return send_reply(emu, conn, &ctx->reply);
    }
    struct emu_fault_hit hit = { 0 };
    emu_graph_handle(emu, &req, &ctx->reply, &hit);
    if (hit.drop)
        return MHD_NO; /* close without answering */
    if (hit.latency_ms > 0) {
        ctx->have_reply = true;
        if (delay_add(h, conn, hit.latency_ms))
            return MHD_YES;
    }
    return send_reply(emu, conn, &ctx->reply);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    struct req_ctx *ctx = *con_cls;
    if (!ctx)
        return;
    loa_buf_release(&ctx->body);
    loa_buf_release(&ctx->reply.body);
    loa_free(ctx);
    *con_cls = NULL;
}

int emu_http_start(struct emu *emu, struct emu_http **out, int *port_out)
{
    struct sockaddr_in addr = { .sin_family = AF_INET,
                                .sin_port = htons((uint16_t)emu->args.port) };
    if (inet_pton(AF_INET, emu->args.host, &addr.sin_addr) != 1)
        return LOA_EINVAL;
    struct emu_http *h = loa_calloc(1, sizeof(*h));
    h->emu = emu;
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->cond, NULL);
    if (pthread_create(&h->timer, NULL, timer_run, h) != 0) {
        pthread_cond_destroy(&h->cond);
        pthread_mutex_destroy(&h->lock);
        loa_free(h);
        return LOA_EIO;
    }
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO;
    h->daemon = MHD_start_daemon(flags, 0, NULL, NULL, handle, h, MHD_OPTION_SOCK_ADDR,
                                 (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE,
                                 (unsigned)emu->args.threads, MHD_OPTION_CONNECTION_LIMIT,
                                 (unsigned)20000, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)300,
                                 MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
                                 MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
    if (!h->daemon) {
        emu_http_stop(h);
        return LOA_EIO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    *port_out = info ? info->port : emu->args.port;
    *out = h;
    return 0;
}

void emu_http_stop(struct emu_http *h)
{
    if (!h)
        return;
    if (h->daemon)
        MHD_quiesce_daemon(h->daemon);
    pthread_mutex_lock(&h->lock);
    h->stop = true;
    pthread_cond_signal(&h->cond);
    pthread_mutex_unlock(&h->lock);
    pthread_join(h->timer, NULL);
    if (h->daemon)
        MHD_stop_daemon(h->daemon);
    pthread_cond_destroy(&h->cond);
    pthread_mutex_destroy(&h->lock);
    loa_free(h->slots);
    loa_free(h);
}
