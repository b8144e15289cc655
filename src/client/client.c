/* SPDX-License-Identifier: MIT */
/*
 * The Graph API client on libcurl's multi interface.
 *
 * One multi handle holds the connection pool (HTTP/1.1 keep-alive, or HTTP/2 multiplexing over
 * TLS when the server offers it). Each request is a struct xfer with its own easy handle and
 * buffers; finished xfers go to a free list and are reused with their easy handle and buffer
 * memory, so steady-state sending allocates nothing but the JSON of the reply.
 *
 * Threading: everything runs on the thread that owns the client; curl callbacks run inside
 * curl_multi_perform()/socket_action() on that thread. Completion callbacks are called only
 * from drain(), outside any curl callback, so they may submit new requests.
 *
 * Secrets: the URL of an xfer holds the access token and appsecret_proof. It is handed to curl
 * and never logged; logs use x->path, which stops before the query.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include <loa/alloc.h>
#include <loa/buf.h>
#include <loa/client.h>
#include <loa/clock.h>
#include <loa/err.h>
#include <loa/log.h>

#include "client_int.h"

#define BODY_MAX       (1024 * 1024) /* request body cap */
#define URL_MAX        8192          /* URL cap (tokens are ~200-300 bytes) */
#define FREE_XFERS_MAX 1024          /* idle xfers kept for reuse */
#define PROFILE_FIELDS "first_name,last_name,profile_pic,locale,timezone,gender"
#define MESSAGE_FIELDS "id,created_time,from,message"
#define MESSAGES_LIMIT 25

struct sync_wait;

/* One request. Owned by the client; lives in the in-flight list or the free list. */
struct xfer {
    struct loa_client *c;
    CURL *easy;                /* reused across requests */
    struct xfer *prev, *next;  /* in-flight list (doubly linked) or free list (next) */
    enum loa_client_kind kind; /* send or profile */
    void *user;                /* caller's pointer */
    char page_id[LOA__CLIENT_ID_MAX + 1];
    struct loa_buf url;        /* full URL with secrets: never logged */
    size_t path_off, path_len; /* the loggable path inside url */
    struct loa_buf body;       /* request body (sends) */
    struct loa_buf reply;      /* response body, capped at max_reply_bytes */
    struct loa_buf hdr_app;    /* X-App-Usage value */
    struct loa_buf hdr_buc;    /* X-Business-Use-Case-Usage value */
    bool hdr_app_bad;          /* value exceeded the cap: ignore */
    bool hdr_buc_bad;          /* likewise */
    bool reply_too_big;        /* reply exceeded max_reply_bytes */
    int64_t retry_after_ms;    /* Retry-After in ms, 0 = none */
    int64_t start_us;          /* monotonic submit time */
    struct sync_wait *sync;    /* set by loa_client_fetch_profile() */
    char errbuf[CURL_ERROR_SIZE];
};

struct page_slot {
    char *id; /* owned; NULL = empty slot */
    struct loa_client_page_state st;
};

/* The client. Owned by one thread (see the header). */
struct loa_client {
    CURLM *multi;
    struct curl_slist *headers; /* Content-Type, Expect */
    char *base_url;
    char *api_version;
    char *ca_file;
    bool https;
    struct loa_client_options o; /* strings point at the copies above */
    bool evmode;                 /* watch/timer callbacks drive the client */
    bool canceling;              /* inside loa_client_cancel_all() */
    struct xfer *busy;           /* in-flight list head */
    struct xfer *idle;           /* free list head */
    size_t idle_count;
    size_t in_flight;
    struct loa_client_stats stats;
    /* appsecret_proof cache for the last (token, secret) pair. */
    char *proof_token;
    char *proof_secret;
    char proof[65];
    /* Per-Page state: open addressing, power-of-two size. */
    struct page_slot *pages;
    size_t pages_cap;
    size_t pages_count;
    bool pages_full_logged;
};

struct sync_wait {
    bool done;
    struct loa_client_profile *profile;
    struct loa_client_outcome outcome;
};

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void loa_client_options_init(struct loa_client_options *o)
{
    memset(o, 0, sizeof(*o));
    o->base_url = "https://graph.facebook.com";
    o->api_version = "v25.0";
    o->page_id_path = true;
    o->http2 = true;
    o->connect_timeout_ms = 5000;
    o->timeout_ms = 30000;
    o->max_host_connections = 64;
    o->max_total_connections = 64;
    o->max_connects = 64;
    o->max_in_flight = 1024;
    o->max_reply_bytes = 1024 * 1024;
    o->usage_threshold_pct = 75;
    o->slow_page_delay_ms = 60000;
    o->max_pages = 100000;
}

/* ---- per-Page state ------------------------------------------------------------------- */

static uint64_t hash_id(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static struct page_slot *page_find(const struct loa_client *c, const char *id)
{
    if (!c->pages_cap)
        return NULL;
    size_t mask = c->pages_cap - 1;
    for (size_t i = hash_id(id) & mask;; i = (i + 1) & mask) {
        struct page_slot *s = &c->pages[i];
        if (!s->id)
            return NULL;
        if (strcmp(s->id, id) == 0)
            return s;
    }
}

static void page_insert_slot(struct page_slot *tab, size_t cap, struct page_slot *from)
{
    size_t mask = cap - 1;
    size_t i = hash_id(from->id) & mask;
    while (tab[i].id)
        i = (i + 1) & mask;
    tab[i] = *from;
}

/* Finds or creates the state of page id; NULL when max_pages is reached. */
static struct page_slot *page_get(struct loa_client *c, const char *id)
{
    struct page_slot *s = page_find(c, id);
    if (s)
        return s;
    if (c->pages_count >= c->o.max_pages) {
        if (!c->pages_full_logged)
            LOA_WARN("client", "per-page state table full, new pages are not tracked", "max=%zu",
                     c->o.max_pages);
        c->pages_full_logged = true;
        return NULL;
    }
    if ((c->pages_count + 1) * 2 > c->pages_cap) {
        size_t ncap = c->pages_cap ? c->pages_cap * 2 : 64;
        struct page_slot *tab = loa_calloc(ncap, sizeof(*tab));
        for (size_t i = 0; i < c->pages_cap; i++)
            if (c->pages[i].id)
                page_insert_slot(tab, ncap, &c->pages[i]);
        loa_free(c->pages);
        c->pages = tab;
        c->pages_cap = ncap;
    }
    struct page_slot fresh = { .id = loa_strdup(id) };
    page_insert_slot(c->pages, c->pages_cap, &fresh);
    c->pages_count++;
    return page_find(c, id);
}

int loa_client_page_state(const struct loa_client *c, const char *page_id,
                          struct loa_client_page_state *out)
{
    const struct page_slot *s = page_id ? page_find(c, page_id) : NULL;
    if (!s)
        return LOA_ENOENT;
    *out = s->st;
    return 0;
}

/* ---- curl callbacks ------------------------------------------------------------------- */

static size_t on_write(char *ptr, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n;
    if (loa_buf_append(&x->reply, ptr, len) < 0) {
        x->reply_too_big = true;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    return len;
}

static bool header_is(const char *line, size_t len, const char *name, size_t *value_off)
{
    size_t nlen = strlen(name);
    if (len <= nlen || line[nlen] != ':' || strncasecmp(line, name, nlen) != 0)
        return false;
    *value_off = nlen + 1;
    return true;
}

static void capture(struct loa_buf *b, bool *bad, const char *v, size_t len)
{
    loa_buf_reset(b);
    *bad = loa_buf_append(b, v, len) < 0;
}

static size_t on_header(char *line, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n;
    size_t off;
    if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        /* A new response (after 100 Continue or a retry): forget the previous headers. */
        loa_buf_reset(&x->hdr_app);
        loa_buf_reset(&x->hdr_buc);
        x->hdr_app_bad = x->hdr_buc_bad = false;
        x->retry_after_ms = 0;
        return len;
    }
    /* Trim the line end; the value's leading blanks are trimmed below. */
    size_t end = len;
    while (end > 0 && (line[end - 1] == '\r' || line[end - 1] == '\n'))
        end--;
    struct loa_buf *dst = NULL;
    bool *bad = NULL;
    bool retry = false;
    if (header_is(line, end, "x-app-usage", &off)) {
        dst = &x->hdr_app;
        bad = &x->hdr_app_bad;
    } else if (header_is(line, end, "x-business-use-case-usage", &off)) {
        dst = &x->hdr_buc;
        bad = &x->hdr_buc_bad;
    } else if (header_is(line, end, "retry-after", &off)) {
        retry = true;
    } else {
        return len;
    }
    while (off < end && (line[off] == ' ' || line[off] == '\t'))
        off++;
    const char *v = line + off;
    size_t vlen = end - off;
    if (!retry) {
        capture(dst, bad, v, vlen);
        return len;
    }
    /* Retry-After in delta-seconds; the HTTP-date form is ignored. */
    int64_t secs = 0;
    size_t i = 0;
    for (; i < vlen && v[i] >= '0' && v[i] <= '9'; i++)
        secs = secs < 86400 ? secs * 10 + (v[i] - '0') : secs;
    if (i == vlen && vlen > 0)
        x->retry_after_ms = (secs > 86400 ? 86400 : secs) * 1000;
    return len;
}

static int on_socket_cb(CURL *easy, curl_socket_t fd, int what, void *ud, void *sockp)
{
    (void)easy;
    (void)sockp;
    struct loa_client *c = ud;
    int ev = 0;
    if (what == CURL_POLL_REMOVE)
        ev = LOA_CLIENT_POLL_REMOVE;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        ev |= LOA_CLIENT_POLL_IN;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        ev |= LOA_CLIENT_POLL_OUT;
    c->o.watch(c->o.loop, (int)fd, ev);
    return 0;
}

static int on_timer_cb(CURLM *multi, long timeout_ms, void *ud)
{
    (void)multi;
    struct loa_client *c = ud;
    c->o.timer(c->o.loop, timeout_ms);
    return 0;
}

/* ---- lifecycle ------------------------------------------------------------------------ */

static bool has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

int loa_client_new(const struct loa_client_options *o, struct loa_client **out)
{
    int rc = 0;
    struct loa_client *c = NULL;
    *out = NULL;
    if (!o || !o->done || !o->base_url || !o->api_version || o->max_in_flight == 0 ||
        o->max_host_connections < 0 || o->max_total_connections < 0 || o->max_connects < 0 ||
        o->connect_timeout_ms < 0 || o->timeout_ms < 0 || o->max_reply_bytes == 0 ||
        o->usage_threshold_pct < 0 || !loa__client_id_is_valid(o->api_version) ||
        (!o->watch) != (!o->timer))
        return LOA_EINVAL;
    bool https = has_prefix(o->base_url, "https://");
    if (!https && !has_prefix(o->base_url, "http://"))
        return LOA_ECONFIG;
    if (sodium_init() < 0)
        return LOA_ECRYPTO;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return LOA_EIO;

    c = loa_calloc(1, sizeof(*c));
    c->o = *o;
    c->https = https;
    /* Drop trailing slashes so paths join with exactly one. */
    size_t blen = strlen(o->base_url);
    while (blen > 0 && o->base_url[blen - 1] == '/')
        blen--;
    c->base_url = loa_strndup(o->base_url, blen);
    c->api_version = loa_strdup(o->api_version);
    c->ca_file = o->ca_file ? loa_strdup(o->ca_file) : NULL;
    c->o.base_url = c->base_url;
    c->o.api_version = c->api_version;
    c->o.ca_file = c->ca_file;
    c->evmode = o->watch && o->timer;

    c->multi = curl_multi_init();
    if (!c->multi) {
        rc = LOA_EIO;
        goto out;
    }
    CURLMcode mc = CURLM_OK;
    mc |= curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    mc |= curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, o->max_host_connections);
    mc |= curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, o->max_total_connections);
    mc |= curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, o->max_connects);
    if (c->evmode) {
        mc |= curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket_cb);
        mc |= curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
        mc |= curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_timer_cb);
        mc |= curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    }
    if (mc != CURLM_OK) {
        LOA_ERROR("client", "cannot configure curl multi handle", NULL);
        rc = LOA_EIO;
        goto out;
    }
    /* "Expect:" keeps curl from waiting for 100 Continue on bigger bodies. */
    c->headers = curl_slist_append(NULL, "Content-Type: application/json");
    struct curl_slist *h = c->headers ? curl_slist_append(c->headers, "Expect:") : NULL;
    if (!h) {
        rc = LOA_EIO;
        goto out;
    }
out:
    if (rc < 0) {
        loa_client_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

static void xfer_destroy(struct xfer *x)
{
    if (x->easy)
        curl_easy_cleanup(x->easy);
    loa_buf_release(&x->url);
    loa_buf_release(&x->body);
    loa_buf_release(&x->reply);
    loa_buf_release(&x->hdr_app);
    loa_buf_release(&x->hdr_buc);
    loa_free(x);
}

static void zfree(char *s)
{
    if (s) {
        sodium_memzero(s, strlen(s));
        loa_free(s);
    }
}

void loa_client_free(struct loa_client *c)
{
    if (!c)
        return;
    loa_client_cancel_all(c);
    while (c->idle) {
        struct xfer *x = c->idle;
        c->idle = x->next;
        xfer_destroy(x);
    }
    if (c->multi)
        curl_multi_cleanup(c->multi);
    curl_slist_free_all(c->headers);
    for (size_t i = 0; i < c->pages_cap; i++)
        loa_free(c->pages[i].id);
    loa_free(c->pages);
    zfree(c->proof_token);
    zfree(c->proof_secret);
    sodium_memzero(c->proof, sizeof(c->proof));
    loa_free(c->base_url);
    loa_free(c->api_version);
    loa_free(c->ca_file);
    loa_free(c);
    curl_global_cleanup();
}

/* ---- submitting ----------------------------------------------------------------------- */

/* Sets the options every request of this client shares. Returns false on a curl failure. */
static bool easy_setup(struct loa_client *c, struct xfer *x)
{
    CURL *e = x->easy;
    CURLcode cc = CURLE_OK;
    cc |= curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    cc |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    cc |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    cc |= curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    cc |= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    cc |= curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    cc |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    cc |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
    cc |= curl_easy_setopt(e, CURLOPT_USERAGENT, "loa/" LOA_VERSION);
    cc |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, c->o.connect_timeout_ms);
    cc |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, c->o.timeout_ms);
    cc |= curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    cc |= curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    cc |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    cc |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    /* TLS verification is always on; there is deliberately no option to turn it off. */
    cc |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    cc |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (c->ca_file)
        cc |= curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
    if (c->o.http2) {
        cc |= curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
        /* Over TLS, wait for a connection that may multiplex instead of opening another. */
        if (c->https)
            cc |= curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    } else {
        cc |= curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    }
    return cc == CURLE_OK;
}

static int xfer_get(struct loa_client *c, struct xfer **out)
{
    struct xfer *x = c->idle;
    if (x) {
        c->idle = x->next;
        c->idle_count--;
    } else {
        x = loa_calloc(1, sizeof(*x));
        x->c = c;
        loa_buf_init(&x->url, URL_MAX);
        loa_buf_init(&x->body, BODY_MAX);
        loa_buf_init(&x->reply, c->o.max_reply_bytes);
        loa_buf_init(&x->hdr_app, LOA__CLIENT_USAGE_MAX);
        loa_buf_init(&x->hdr_buc, LOA__CLIENT_USAGE_MAX);
        x->easy = curl_easy_init();
        if (!x->easy || !easy_setup(c, x)) {
            LOA_ERROR("client", "cannot create curl easy handle", NULL);
            xfer_destroy(x);
            return LOA_EIO;
        }
    }
    x->prev = x->next = NULL;
    x->sync = NULL;
    x->user = NULL;
    loa_buf_reset(&x->url);
    loa_buf_reset(&x->body);
    loa_buf_reset(&x->reply);
    loa_buf_reset(&x->hdr_app);
    loa_buf_reset(&x->hdr_buc);
    x->hdr_app_bad = x->hdr_buc_bad = x->reply_too_big = false;
    x->retry_after_ms = 0;
    x->errbuf[0] = '\0';
    *out = x;
    return 0;
}

static void xfer_put(struct loa_client *c, struct xfer *x)
{
    if (c->idle_count >= FREE_XFERS_MAX) {
        xfer_destroy(x);
        return;
    }
    /* Large reply buffers are not worth keeping around. */
    if (x->reply.cap > 65536)
        loa_buf_release(&x->reply);
    x->next = c->idle;
    c->idle = x;
    c->idle_count++;
}

/* Appends s percent-encoded (RFC 3986 unreserved characters kept). */
static int put_escaped(struct loa_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = 0;
    for (; *s && rc == 0; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            rc = loa_buf_putc(b, (char)ch);
        } else {
            char enc[3] = { '%', hex[ch >> 4], hex[ch & 15] };
            rc = loa_buf_append(b, enc, 3);
        }
    }
    return rc;
}

static const char *proof_for(struct loa_client *c, const char *token, const char *secret)
{
    if (!c->proof_token || strcmp(c->proof_token, token) != 0 ||
        strcmp(c->proof_secret, secret) != 0) {
        zfree(c->proof_token);
        zfree(c->proof_secret);
        c->proof_token = NULL;
        c->proof_secret = NULL;
        if (loa_client_appsecret_proof(token, secret, c->proof) < 0)
            return NULL;
        c->proof_token = loa_strdup(token);
        c->proof_secret = loa_strdup(secret);
    }
    return c->proof;
}

/*
 * Builds the URL: base + path + "?" + query + access_token [+ appsecret_proof]. The path part
 * is remembered for logging.
 */
static int build_url(struct loa_client *c, struct xfer *x, const struct loa_client_request *req,
                     const char *object, const char *tail, const char *query)
{
    int rc = loa_buf_puts(&x->url, c->base_url);
    x->path_off = x->url.len;
    if (rc == 0)
        rc = loa_buf_printf(&x->url, "/%s/%s%s", c->api_version, object, tail);
    x->path_len = x->url.len - x->path_off;
    if (rc == 0)
        rc = loa_buf_printf(&x->url, "?%s%saccess_token=", query ? query : "", query ? "&" : "");
    if (rc == 0)
        rc = put_escaped(&x->url, req->access_token);
    if (rc == 0 && req->app_secret && req->app_secret[0]) {
        const char *proof = proof_for(c, req->access_token, req->app_secret);
        if (!proof)
            return LOA_ECRYPTO;
        rc = loa_buf_printf(&x->url, "&appsecret_proof=%s", proof);
    }
    return rc;
}

static int start(struct loa_client *c, struct xfer *x)
{
    CURLcode cc = curl_easy_setopt(x->easy, CURLOPT_URL, loa_buf_cstr(&x->url));
    if (x->kind == LOA_CLIENT_KIND_SEND) {
        cc |= curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE, (long)x->body.len);
        cc |= curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, loa_buf_cstr(&x->body));
    } else {
        cc |= curl_easy_setopt(x->easy, CURLOPT_HTTPGET, 1L);
    }
    if (cc != CURLE_OK || curl_multi_add_handle(c->multi, x->easy) != CURLM_OK) {
        LOA_ERROR("client", "cannot start request", "path=%.*s", (int)x->path_len,
                  x->url.ptr + x->path_off);
        return LOA_EIO;
    }
    x->start_us = mono_us();
    x->next = c->busy;
    if (c->busy)
        c->busy->prev = x;
    c->busy = x;
    c->in_flight++;
    c->stats.submitted++;
    return 0;
}

static int check_submit(struct loa_client *c, const struct loa_client_request *req)
{
    if (c->canceling)
        return LOA_ESTATE;
    if (!req || !loa__client_id_is_valid(req->page_id) || !req->access_token ||
        !req->access_token[0])
        return LOA_EINVAL;
    if (c->in_flight >= c->o.max_in_flight)
        return LOA_EBUSY;
    return 0;
}

/* What a request asks for: a GET of object + tail with query (NULL = none), or a send. */
struct target {
    const char *object;
    const char *tail;
    const char *query;
};

static int submit(struct loa_client *c, const struct loa_client_request *req,
                  enum loa_client_kind kind, const char *body, size_t body_len,
                  const struct target *t, struct sync_wait *sync)
{
    struct xfer *x = NULL;
    int rc = check_submit(c, req);
    if (rc < 0)
        return rc;
    rc = xfer_get(c, &x);
    if (rc < 0)
        return rc;
    x->kind = kind;
    x->user = req->user;
    x->sync = sync;
    memcpy(x->page_id, req->page_id, strlen(req->page_id) + 1);
    if (kind == LOA_CLIENT_KIND_SEND) {
        rc = build_url(c, x, req, c->o.page_id_path ? req->page_id : "me", "/messages", NULL);
        if (rc == 0)
            rc = loa_buf_append(&x->body, body, body_len);
    } else {
        rc = build_url(c, x, req, t->object, t->tail, t->query);
    }
    if (rc == 0)
        rc = start(c, x);
    if (rc < 0)
        xfer_put(c, x);
    return rc;
}

/* Submits a GET of object + tail with "key=<escaped value>" pairs (NULL values left out). */
static int submit_get(struct loa_client *c, const struct loa_client_request *req,
                      enum loa_client_kind kind, const char *object, const char *tail,
                      const char *const *kv, size_t nkv, struct sync_wait *sync)
{
    struct loa_buf q;
    loa_buf_init(&q, 2048);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i + 1 < nkv; i += 2) {
        if (!kv[i + 1])
            continue;
        rc = loa_buf_printf(&q, "%s%s=", q.len ? "&" : "", kv[i]);
        if (rc == 0)
            rc = put_escaped(&q, kv[i + 1]);
    }
    struct target t = { .object = object, .tail = tail, .query = q.len ? loa_buf_cstr(&q) : NULL };
    if (rc == 0)
        rc = submit(c, req, kind, NULL, 0, &t, sync);
    loa_buf_release(&q);
    return rc;
}

static int submit_profile(struct loa_client *c, const struct loa_client_request *req,
                          const char *psid, const char *fields, struct sync_wait *sync)
{
    const char *kv[] = { "fields", fields ? fields : PROFILE_FIELDS };
    return submit_get(c, req, LOA_CLIENT_KIND_PROFILE, psid, "", kv, 2, sync);
}

int loa_client_submit_send(struct loa_client *c, const struct loa_client_request *req,
                           const char *body, size_t body_len)
{
    if (!body || body_len == 0)
        return LOA_EINVAL;
    return submit(c, req, LOA_CLIENT_KIND_SEND, body, body_len, NULL, NULL);
}

int loa_client_submit_profile(struct loa_client *c, const struct loa_client_request *req,
                              const char *psid, const char *fields)
{
    if (!loa__client_id_is_valid(psid) || (fields && !fields[0]))
        return LOA_EINVAL;
    return submit_profile(c, req, psid, fields, NULL);
}

int loa_client_submit_conversation(struct loa_client *c, const struct loa_client_request *req,
                                   const char *psid)
{
    if (!loa__client_id_is_valid(psid) || !req || !loa__client_id_is_valid(req->page_id))
        return LOA_EINVAL;
    const char *kv[] = { "platform", "messenger", "user_id", psid };
    return submit_get(c, req, LOA_CLIENT_KIND_CONVERSATIONS, req->page_id, "/conversations", kv, 4,
                      NULL);
}

int loa_client_submit_messages(struct loa_client *c, const struct loa_client_request *req,
                               const char *conversation_id, const char *after, int limit)
{
    if (!loa__client_id_is_valid(conversation_id) || limit < 0 || limit > 100 ||
        (after && (!after[0] || strlen(after) > 512)))
        return LOA_EINVAL;
    char n[16];
    snprintf(n, sizeof(n), "%d", limit ? limit : MESSAGES_LIMIT);
    const char *kv[] = { "fields", MESSAGE_FIELDS, "limit", n, "after", after };
    return submit_get(c, req, LOA_CLIENT_KIND_MESSAGES, conversation_id, "/messages", kv, 6, NULL);
}

/* ---- completion ----------------------------------------------------------------------- */

static const char *jstr(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static char *jdup(const json_t *o, const char *key)
{
    const char *s = jstr(o, key);
    return s ? loa_strdup(s) : NULL;
}

void loa_client_profile_free(struct loa_client_profile *p)
{
    if (!p)
        return;
    loa_free(p->id);
    loa_free(p->name);
    loa_free(p->first_name);
    loa_free(p->last_name);
    loa_free(p->profile_pic);
    loa_free(p->locale);
    loa_free(p->gender);
    loa_free(p);
}

static struct loa_client_profile *profile_from(const json_t *o)
{
    struct loa_client_profile *p = loa_calloc(1, sizeof(*p));
    p->id = jdup(o, "id");
    p->name = jdup(o, "name");
    p->first_name = jdup(o, "first_name");
    p->last_name = jdup(o, "last_name");
    p->profile_pic = jdup(o, "profile_pic");
    p->locale = jdup(o, "locale");
    p->gender = jdup(o, "gender");
    json_t *tz = json_object_get(o, "timezone");
    if (json_is_number(tz)) {
        p->has_timezone = true;
        p->timezone = json_number_value(tz);
    }
    return p;
}

/* A Conversations API page, parsed; the strings point into the reply's JSON. */
struct thread_buf {
    struct loa_client_thread t;
    struct loa_client_thread_message *msgs;
};

static void thread_from(const json_t *o, enum loa_client_kind kind, const char *page_id,
                        struct thread_buf *tb)
{
    const json_t *data = json_object_get(o, "data");
    size_t n = json_array_size(data);
    memset(tb, 0, sizeof(*tb));
    if (kind == LOA_CLIENT_KIND_CONVERSATIONS) {
        tb->t.conversation_id = n ? jstr(json_array_get(data, 0), "id") : NULL;
        return;
    }
    tb->msgs = loa_calloc(n ? n : 1, sizeof(*tb->msgs));
    for (size_t i = 0; i < n; i++) {
        const json_t *m = json_array_get(data, i);
        struct loa_client_thread_message *tm = &tb->msgs[tb->t.count];
        tm->id = jstr(m, "id");
        if (!tm->id)
            continue;
        const char *at = jstr(m, "created_time");
        if (!at || loa_time_parse(at, &tm->created_ms) < 0)
            tm->created_ms = 0;
        const char *from = jstr(json_object_get(m, "from"), "id");
        tm->from_page = from && strcmp(from, page_id) == 0;
        tm->text = jstr(m, "message") ? jstr(m, "message") : "";
        tb->t.count++;
    }
    tb->t.messages = tb->msgs;
    const json_t *paging = json_object_get(o, "paging");
    if (json_object_get(paging, "next"))
        tb->t.after = jstr(json_object_get(paging, "cursors"), "after");
}

static int json_int(const json_t *v)
{
    json_int_t i = json_integer_value(v);
    if (i > INT32_MAX || i < INT32_MIN)
        return 0;
    return (int)i;
}

/* Maps a curl failure to a pseudo-code and an error; sent says whether bytes went out. */
static int transport_code(CURLcode cc, bool sent, bool too_big, int *err)
{
    switch (cc) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
        *err = LOA_ENET;
        return LOA_CLIENT_EC_CONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        *err = LOA_ETIMEDOUT;
        return sent ? LOA_CLIENT_EC_TIMEOUT : LOA_CLIENT_EC_CONNECT_TIMEOUT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
        *err = LOA_ENET;
        return LOA_CLIENT_EC_TLS;
    case CURLE_WRITE_ERROR:
        if (too_big) {
            *err = LOA_EPARSE;
            return LOA_CLIENT_EC_BAD_REPLY;
        }
        *err = LOA_ENET;
        return LOA_CLIENT_EC_INTERNAL;
    case CURLE_OUT_OF_MEMORY:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_FAILED_INIT:
        *err = LOA_EIO;
        return LOA_CLIENT_EC_INTERNAL;
    default:
        *err = LOA_ENET;
        return sent ? LOA_CLIENT_EC_DROPPED : LOA_CLIENT_EC_SEND_FAILED;
    }
}

static void apply_usage(struct loa_client *c, struct xfer *x, struct loa_client_result *r)
{
    if (x->hdr_app.len && !x->hdr_app_bad)
        (void)loa_client_parse_app_usage(x->hdr_app.ptr, x->hdr_app.len, &r->usage);
    if (x->hdr_buc.len && !x->hdr_buc_bad)
        (void)loa_client_parse_buc_usage(x->hdr_buc.ptr, x->hdr_buc.len, x->page_id, &r->usage);
    int64_t eta_ms = (int64_t)r->usage.buc_eta_minutes * LOA_MINUTE_MS;
    if (r->action == LOA_CLIENT_SLOW_PAGE) {
        r->delay_ms = x->retry_after_ms ? x->retry_after_ms
                      : eta_ms          ? eta_ms
                                        : c->o.slow_page_delay_ms;
    } else if ((r->action == LOA_CLIENT_DONE || r->action == LOA_CLIENT_RETRY) &&
               (r->usage.has_app || r->usage.has_buc) &&
               r->usage.max_percent >= c->o.usage_threshold_pct) {
        /* Slow down before Meta does. */
        r->action = LOA_CLIENT_SLOW_PAGE;
        r->reason = r->usage.has_buc ? "buc_usage" : "app_usage";
        r->delay_ms = eta_ms ? eta_ms : c->o.slow_page_delay_ms;
    } else if (r->action == LOA_CLIENT_RETRY) {
        r->delay_ms = x->retry_after_ms;
    }
}

static void update_page(struct loa_client *c, const struct loa_client_result *r)
{
    struct page_slot *s = page_get(c, r->page_id);
    if (!s)
        return;
    int64_t now = loa_now_ms();
    if (r->usage.has_app || r->usage.has_buc) {
        s->st.usage = r->usage;
        s->st.usage_at_ms = now;
    }
    if (r->action == LOA_CLIENT_SLOW_PAGE && now + r->delay_ms > s->st.slow_until_ms)
        s->st.slow_until_ms = now + r->delay_ms;
    if (r->accepted)
        s->st.accepted++;
    else
        s->st.failed++;
}

static void deliver(struct loa_client *c, struct xfer *x, struct loa_client_result *r,
                    struct loa_client_profile *profile)
{
    if (r->action != LOA_CLIENT_DONE)
        LOA_DEBUG("client", "request finished", "path=%.*s status=%d code=%d subcode=%d action=%s",
                  (int)x->path_len, x->url.ptr + x->path_off, r->http_status, r->code, r->subcode,
                  loa_client_action_name(r->action));
    c->stats.completed++;
    if (x->sync) {
        struct sync_wait *s = x->sync;
        s->done = true;
        s->profile = profile;
        s->outcome.action = r->action;
        s->outcome.reason = r->reason;
        s->outcome.http_status = r->http_status;
        s->outcome.code = r->code;
        s->outcome.subcode = r->subcode;
        snprintf(s->outcome.message, sizeof(s->outcome.message), "%s",
                 r->error_message ? r->error_message : "");
        return;
    }
    c->o.done(c->o.done_arg, r);
    loa_client_profile_free(profile);
}

static void unlink_busy(struct loa_client *c, struct xfer *x)
{
    curl_multi_remove_handle(c->multi, x->easy);
    if (x->prev)
        x->prev->next = x->next;
    else
        c->busy = x->next;
    if (x->next)
        x->next->prev = x->prev;
    x->prev = x->next = NULL;
    c->in_flight--;
}

static void finish(struct loa_client *c, struct xfer *x, CURLcode cc)
{
    struct loa_client_result r = { 0 };
    struct loa_client_profile *profile = NULL;
    struct thread_buf tb = { 0 };
    json_t *j = NULL;
    long status = 0, connects = 0, reqsize = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(x->easy, CURLINFO_NUM_CONNECTS, &connects);
    curl_easy_getinfo(x->easy, CURLINFO_REQUEST_SIZE, &reqsize);
    unlink_busy(c, x);
    c->stats.connections += (uint64_t)(connects > 0 ? connects : 0);

    r.kind = x->kind;
    r.user = x->user;
    r.page_id = x->page_id;
    r.new_connection = connects > 0;
    r.elapsed_us = mono_us() - x->start_us;
    if (cc != CURLE_OK) {
        r.code = transport_code(cc, reqsize > 0, x->reply_too_big, &r.err);
        r.http_status = r.code == LOA_CLIENT_EC_BAD_REPLY ? (int)status : 0;
        r.error_message = x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc);
    } else {
        r.http_status = (int)status;
        j = json_loadb(x->reply.ptr ? x->reply.ptr : "", x->reply.len, 0, NULL);
        json_t *e = json_object_get(j, "error");
        if (json_is_object(e)) {
            r.code = json_int(json_object_get(e, "code"));
            r.subcode = json_int(json_object_get(e, "error_subcode"));
            r.error_message = jstr(e, "message");
            r.error_type = jstr(e, "type");
            r.fbtrace_id = jstr(e, "fbtrace_id");
        } else if (status >= 200 && status < 300) {
            if (!json_is_object(j)) {
                r.code = LOA_CLIENT_EC_BAD_REPLY;
                r.err = LOA_EPARSE;
                r.error_message = "reply is not a JSON object";
            } else if (x->kind == LOA_CLIENT_KIND_SEND) {
                r.accepted = true;
                r.message_id = jstr(j, "message_id");
                r.recipient_id = jstr(j, "recipient_id");
            } else if (x->kind == LOA_CLIENT_KIND_PROFILE) {
                r.accepted = true;
                profile = profile_from(j);
                r.profile = profile;
            } else {
                r.accepted = true;
                thread_from(j, x->kind, x->page_id, &tb);
                r.thread = &tb.t;
            }
        }
    }
    loa_client_classify(r.http_status, r.code, r.subcode, &r.action, &r.reason);
    r.table_action = r.action;
    apply_usage(c, x, &r);
    update_page(c, &r);
    deliver(c, x, &r, profile);
    loa_free(tb.msgs);
    json_decref(j);
    xfer_put(c, x);
}

static int drain(struct loa_client *c)
{
    int n = 0, left;
    CURLMsg *m;
    while ((m = curl_multi_info_read(c->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct xfer *x = NULL;
        CURLcode cc = m->data.result;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        if (!x)
            continue;
        finish(c, x, cc);
        n++;
    }
    return n;
}

int loa_client_run(struct loa_client *c, int timeout_ms)
{
    int running = 0;
    if (c->evmode)
        return LOA_ESTATE;
    if (curl_multi_perform(c->multi, &running) != CURLM_OK)
        return LOA_EIO;
    int n = drain(c);
    if (n > 0 || timeout_ms <= 0)
        return n;
    if (curl_multi_poll(c->multi, NULL, 0, timeout_ms, NULL) != CURLM_OK)
        return LOA_EIO;
    if (curl_multi_perform(c->multi, &running) != CURLM_OK)
        return LOA_EIO;
    return drain(c);
}

int loa_client_on_socket(struct loa_client *c, int fd, int events)
{
    int running = 0, mask = 0;
    if (events & LOA_CLIENT_POLL_IN)
        mask |= CURL_CSELECT_IN;
    if (events & LOA_CLIENT_POLL_OUT)
        mask |= CURL_CSELECT_OUT;
    if (curl_multi_socket_action(c->multi, (curl_socket_t)fd, mask, &running) != CURLM_OK)
        return LOA_EIO;
    return drain(c);
}

int loa_client_on_timer(struct loa_client *c)
{
    int running = 0;
    if (curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running) != CURLM_OK)
        return LOA_EIO;
    return drain(c);
}

void loa_client_wakeup(struct loa_client *c)
{
    curl_multi_wakeup(c->multi);
}

size_t loa_client_in_flight(const struct loa_client *c)
{
    return c->in_flight;
}

void loa_client_get_stats(const struct loa_client *c, struct loa_client_stats *out)
{
    *out = c->stats;
    out->in_flight = c->in_flight;
}

size_t loa_client_cancel_all(struct loa_client *c)
{
    size_t n = 0;
    if (c->canceling)
        return 0;
    c->canceling = true;
    while (c->busy) {
        struct xfer *x = c->busy;
        struct loa_client_result r = { 0 };
        long reqsize = 0;
        curl_easy_getinfo(x->easy, CURLINFO_REQUEST_SIZE, &reqsize);
        unlink_busy(c, x);
        r.kind = x->kind;
        r.user = x->user;
        r.page_id = x->page_id;
        r.err = LOA_ECANCELED;
        r.code = reqsize > 0 ? LOA_CLIENT_EC_CANCELED_SENT : LOA_CLIENT_EC_CANCELED;
        r.error_message = "canceled";
        r.elapsed_us = mono_us() - x->start_us;
        loa_client_classify(0, r.code, 0, &r.action, &r.reason);
        r.table_action = r.action;
        deliver(c, x, &r, NULL);
        xfer_put(c, x);
        n++;
    }
    c->canceling = false;
    return n;
}

/* ---- blocking profile ----------------------------------------------------------------- */

int loa_client_fetch_profile(struct loa_client *c, const struct loa_client_request *req,
                             const char *psid, const char *fields, struct loa_client_profile **out,
                             struct loa_client_outcome *outcome)
{
    struct sync_wait s = { 0 };
    *out = NULL;
    if (c->evmode)
        return LOA_ESTATE;
    if (!loa__client_id_is_valid(psid) || (fields && !fields[0]))
        return LOA_EINVAL;
    int rc = submit_profile(c, req, psid, fields, &s);
    if (rc < 0)
        return rc;
    while (!s.done) {
        rc = loa_client_run(c, 1000);
        if (rc < 0)
            break; /* curl itself failed; cancel below */
    }
    if (!s.done)
        loa_client_cancel_all(c);
    if (outcome)
        *outcome = s.outcome;
    /* An accepted look-up returns the profile even when usage says SLOW_PAGE. */
    if (s.profile) {
        *out = s.profile;
        return 0;
    }
    switch (s.outcome.action) {
    case LOA_CLIENT_DONE:
        rc = LOA_EPARSE; /* can't happen: DONE always carries a profile */
        break;
    case LOA_CLIENT_SKIP_PERSON:
        rc = LOA_ENOENT;
        break;
    case LOA_CLIENT_STOP_PAGE:
        rc = LOA_EPERM;
        break;
    case LOA_CLIENT_RETRY:
    case LOA_CLIENT_SLOW_PAGE:
    case LOA_CLIENT_UNKNOWN:
        rc = LOA_EAGAIN;
        break;
    }
    loa_client_profile_free(s.profile);
    return rc;
}
