/* SPDX-License-Identifier: MIT */
/*
 * `loa serve`: wiring. Reads the configuration, opens (and migrates) the store, loads the
 * rules, starts the profile worker and the HTTP server with the route table below, then waits
 * for SIGTERM/SIGINT with sigwait() (the signals are blocked in every thread, so no handler
 * runs on a pool thread). Shutdown: stop accepting, wait for requests in flight, stop the
 * threads, close every store connection.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include <loa/alloc.h>
#include <loa/buf.h>
#include <loa/clock.h>
#include <loa/dispatch.h>
#include <loa/err.h>
#include <loa/log.h>
#include <loa/serve.h>

#include "api_campaigns.h"
#include "serve_int.h"

#define SECRETS_RELOAD_MS 2000
#define DRAIN_MS          10000

/* ---- The route table ------------------------------------------------------------------- */

#define ADMIN  LOA_ROLE_ADMIN
#define STAFF  LOA_ROLE_STAFF
#define PUBLIC LOA_ROLE_NONE

#define LISTS_BODY_LIMIT (64 * 1024 * 1024) /* a CSV: CRM phone list, subscribers import */

static const struct loa_http_route routes[] = {
    { LOA_HTTP_GET, "/healthz", serve_healthz, PUBLIC, 0 },
    { LOA_HTTP_GET, "/metrics", serve_metrics, PUBLIC, 0 },
    { LOA_HTTP_GET, "/webhook", serve_webhook_verify, PUBLIC, 0 },
    { LOA_HTTP_POST, "/webhook", serve_webhook_post, PUBLIC, 1 /* set at start */ },
    { LOA_HTTP_GET, "/api/v1/openapi.json", serve_openapi, PUBLIC, 0 },
    { LOA_HTTP_POST, "/api/v1/session", api_session_create, PUBLIC, 0 },
    { LOA_HTTP_GET, "/api/v1/session", api_session_get, STAFF, 0 },
    { LOA_HTTP_DELETE, "/api/v1/session", api_session_delete, STAFF, 0 },
    { LOA_HTTP_POST, "/api/v1/session/everywhere", api_session_everywhere, STAFF, 0 },
    { LOA_HTTP_GET, "/api/v1/pages", api_pages_list, STAFF, 0 },
    { LOA_HTTP_POST, "/api/v1/pages", api_pages_create, ADMIN, 0 },
    { LOA_HTTP_GET, "/api/v1/pages/{page_id}", api_pages_get, STAFF, 0 },
    { LOA_HTTP_PATCH, "/api/v1/pages/{page_id}", api_pages_update, STAFF, 0 },
    { LOA_HTTP_GET, "/api/v1/pages/{page_id}/subscribers", api_subscribers_list, STAFF, 0 },
    { LOA_HTTP_GET, "/api/v1/subscribers/{id}", api_subscribers_get, STAFF, 0 },
    { LOA_HTTP_PATCH, "/api/v1/subscribers/{id}", api_subscribers_update, STAFF, 0 },
    { LOA_HTTP_DELETE, "/api/v1/subscribers/{id}", api_subscribers_delete, STAFF, 0 },
    { LOA_HTTP_GET, "/api/v1/pages/{page_id}/tags", api_tags_list, STAFF, 0 },
    { LOA_HTTP_PATCH, "/api/v1/pages/{page_id}/tags/{name}", api_tags_rename, STAFF, 0 },
    { LOA_HTTP_DELETE, "/api/v1/pages/{page_id}/tags/{name}", api_tags_delete, STAFF, 0 },
    { LOA_HTTP_POST, "/api/v1/pages/{page_id}/subscribers/import", api_subscribers_import, STAFF,
      LISTS_BODY_LIMIT },
    { LOA_HTTP_POST, "/api/v1/pages/{page_id}/tags/{name}/merge", api_tags_merge, STAFF, 0 },
    { LOA_HTTP_POST, "/api/v1/pages/{page_id}/tags/{name}/people", api_tags_people, STAFF, 0 },
    { LOA_HTTP_GET, "/api/v1/pages/{page_id}/conversations", api_conversations_list, STAFF, 0 },
    { LOA_HTTP_GET, "/api/v1/pages/{page_id}/conversations/{psid}/messages",
      api_conversations_messages, STAFF, 0 },
    { LOA_HTTP_POST, "/api/v1/rules/explain", api_rules_explain, STAFF, 0 },
    { LOA_HTTP_GET, "/api/v1/pages/{page_id}/lists", api_lists_list, STAFF, 0 },
    { LOA_HTTP_POST, "/api/v1/pages/{page_id}/lists", api_lists_upload, STAFF, LISTS_BODY_LIMIT },
    { LOA_HTTP_POST, "/api/v1/pages/{page_id}/audience/preview", api_audience_preview, STAFF, 0 },
    { LOA_HTTP_GET, "/api/v1/campaigns", api_campaigns_list, STAFF, 0 },
    { LOA_HTTP_POST, "/api/v1/campaigns", api_campaigns_create, STAFF, 0 },
    { LOA_HTTP_GET, "/api/v1/campaigns/{id}", api_campaigns_get, STAFF, 0 },
    { LOA_HTTP_PATCH, "/api/v1/campaigns/{id}", api_campaigns_update, STAFF, 0 },
    { LOA_HTTP_DELETE, "/api/v1/campaigns/{id}", api_campaigns_delete, STAFF, 0 },
    { LOA_HTTP_POST, "/api/v1/campaigns/{id}/start", api_campaigns_start, STAFF, 0 },
    { LOA_HTTP_POST, "/api/v1/campaigns/{id}/schedule", api_campaigns_schedule, STAFF, 0 },
    { LOA_HTTP_POST, "/api/v1/campaigns/{id}/pause", api_campaigns_pause, STAFF, 0 },
    { LOA_HTTP_POST, "/api/v1/campaigns/{id}/resume", api_campaigns_resume, STAFF, 0 },
    { LOA_HTTP_POST, "/api/v1/campaigns/{id}/cancel", api_campaigns_cancel, STAFF, 0 },
    { LOA_HTTP_POST, "/api/v1/campaigns/{id}/retry-failed", api_campaigns_retry_failed, STAFF, 0 },
    { LOA_HTTP_GET, "/api/v1/campaigns/{id}/deliveries", api_campaigns_deliveries, STAFF, 0 },
    { LOA_HTTP_GET, "/api/v1/campaigns/{id}/unknowns", api_campaigns_unknowns, STAFF, 0 },
    { LOA_HTTP_GET, "/api/v1/sequence-groups", api_seq_groups_list, STAFF, 0 },
    { LOA_HTTP_POST, "/api/v1/sequence-groups", api_seq_groups_create, STAFF, 0 },
    { LOA_HTTP_PATCH, "/api/v1/sequence-groups/{id}", api_seq_groups_update, STAFF, 0 },
    { LOA_HTTP_DELETE, "/api/v1/sequence-groups/{id}", api_seq_groups_delete, STAFF, 0 },
    { LOA_HTTP_GET, "/api/v1/sequences", api_sequences_list, STAFF, 0 },
    { LOA_HTTP_POST, "/api/v1/sequences", api_sequences_create, STAFF, 0 },
    { LOA_HTTP_GET, "/api/v1/sequences/{id}", api_sequences_get, STAFF, 0 },
    { LOA_HTTP_PATCH, "/api/v1/sequences/{id}", api_sequences_update, STAFF, 0 },
    { LOA_HTTP_DELETE, "/api/v1/sequences/{id}", api_sequences_delete, STAFF, 0 },
    { LOA_HTTP_GET, "/api/v1/sequences/{id}/forecast", api_sequences_forecast, STAFF, 0 },
    { LOA_HTTP_GET, "/api/v1/sequences/{id}/link", api_sequences_link, STAFF, 0 },
    { LOA_HTTP_GET, "/api/v1/sequences/{id}/enrolments", api_sequences_enrolments, STAFF, 0 },
    { LOA_HTTP_POST, "/api/v1/sequences/{id}/enrolments", api_sequences_enrol, STAFF, 0 },
    { LOA_HTTP_POST, "/api/v1/sequences/{id}/enrolments/remove", api_sequences_remove, STAFF, 0 },
    { LOA_HTTP_POST, "/api/v1/campaigns/{id}/unknowns/resend", api_campaigns_resend, STAFF, 0 },
};

#define NROUTES (sizeof(routes) / sizeof(routes[0]))

const struct loa_http_route *loa__serve_routes(size_t *n)
{
    *n = NROUTES;
    return routes;
}

/* ---- Per-thread store connections ------------------------------------------------------ */

struct loa_store *serve_store(struct serve_app *app)
{
    struct loa_store *st = pthread_getspecific(app->store_key);
    if (st)
        return st;
    struct loa_diags d;
    loa_diags_init(&d, 4);
    int rc = loa_store_open(&app->store_opts, &st, &d);
    if (rc < 0) {
        LOA_ERROR("serve", "cannot open store connection", "error=%s reason=\"%s\"",
                  loa_err_name(rc), d.count ? d.items[0].reason : "");
        loa_diags_release(&d);
        return NULL;
    }
    loa_diags_release(&d);
    pthread_setspecific(app->store_key, st);
    pthread_mutex_lock(&app->stores_lock);
    app->stores = loa_reallocarray(app->stores, app->nstores + 1, sizeof(*app->stores));
    app->stores[app->nstores++] = st;
    pthread_mutex_unlock(&app->stores_lock);
    return st;
}

/* ---- Webhook secrets ------------------------------------------------------------------- */

struct secrets_acc {
    struct loa_store *st;
    char **v;
    size_t n;
    struct serve_page_secret *pages;
    size_t npages;
};

/* The index of secret s among a->v, added when new (several Pages of one app share it). */
static int secret_index(struct secrets_acc *a, char *s)
{
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i], s) == 0) {
            sodium_memzero(s, strlen(s));
            loa_free(s);
            return (int)i;
        }
    a->v = loa_reallocarray(a->v, a->n + 1, sizeof(*a->v));
    a->v[a->n++] = s;
    return (int)a->n - 1;
}

static int add_page_secret(const struct loa_page *p, void *ud)
{
    struct secrets_acc *a = ud;
    int idx = -1;
    char *s = NULL;
    if (p->has_app_secret && loa_store_page_secrets(a->st, p->page_id, NULL, &s) == 0 && s)
        idx = secret_index(a, s);
    a->pages = loa_reallocarray(a->pages, a->npages + 1, sizeof(*a->pages));
    a->pages[a->npages++] =
        (struct serve_page_secret){ .page_id = loa_strdup(p->page_id), .secret = idx };
    return 0;
}

static void free_secrets(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sodium_memzero(v[i], strlen(v[i]));
        loa_free(v[i]);
    }
    loa_free(v);
}

static void free_page_secrets(struct serve_page_secret *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        loa_free(v[i].page_id);
    loa_free(v);
}

/* Reloads the Pages' app secrets; called with secrets_lock held. The configured
 * webhook.app_secret, when set, is secrets[0]. */
static void reload_secrets(struct serve_app *app)
{
    struct loa_store *st = serve_store(app);
    struct secrets_acc a = { .st = st };
    if (*app->app_secret) {
        a.v = loa_malloc(sizeof(*a.v));
        a.v[a.n++] = loa_strdup(app->app_secret);
    }
    if (st)
        loa_store_page_list(st, add_page_secret, &a);
    free_secrets(app->secrets, app->nsecrets);
    free_page_secrets(app->page_secrets, app->npage_secrets);
    app->secrets = a.v;
    app->nsecrets = a.n;
    app->page_secrets = a.pages;
    app->npage_secrets = a.npages;
    app->secrets_loaded_ms = loa_mono_ms();
    atomic_store(&app->secrets_stale, false);
}

bool serve_signature_ok(struct serve_app *app, const char *header, const void *body, size_t len)
{
    pthread_mutex_lock(&app->secrets_lock);
    if (atomic_load(&app->secrets_stale))
        reload_secrets(app);
    bool ok = loa_intake_signature_ok(header, body, len, (const char *const *)app->secrets,
                                      app->nsecrets);
    /* A Page added with the CLI while we run: look again, at most every 2 s. */
    if (!ok && header && loa_mono_ms() - app->secrets_loaded_ms > SECRETS_RELOAD_MS) {
        reload_secrets(app);
        ok = loa_intake_signature_ok(header, body, len, (const char *const *)app->secrets,
                                     app->nsecrets);
    }
    pthread_mutex_unlock(&app->secrets_lock);
    return ok;
}

/* Whether Page page_id is in the store (an unreadable store answers no: intake fails later). */
static bool page_stored(struct serve_app *app, const char *page_id)
{
    struct loa_store *st = serve_store(app);
    struct loa_page p;
    if (!st || loa_store_page_get(st, page_id, &p) < 0)
        return false;
    loa_page_release(&p);
    return true;
}

bool serve_signature_pages_ok(struct serve_app *app, const char *header, const void *body,
                              size_t len, const struct loa_intake_batch *batch,
                              const char **page_out)
{
    *page_out = NULL;
    pthread_mutex_lock(&app->secrets_lock);
    /* -1 unknown yet, 0 does not sign the body, 1 signs it; one HMAC per distinct secret. */
    signed char *signs = loa_calloc(app->nsecrets + 1, 1);
    memset(signs, -1, app->nsecrets + 1);
    bool ok = true, reloaded = false;
    for (size_t i = 0; ok && i < batch->count; i++) {
        const char *page = batch->events[i].page_id;
        const struct serve_page_secret *ps = NULL;
        for (size_t k = 0; page && k < app->npage_secrets && !ps; k++)
            if (strcmp(app->page_secrets[k].page_id, page) == 0)
                ps = &app->page_secrets[k];
        if (!ps && !reloaded && page && page_stored(app, page)) {
            /* Stored since the secrets were read (loa page add while serving): read again. */
            reload_secrets(app);
            reloaded = true;
            loa_free(signs);
            signs = loa_calloc(app->nsecrets + 1, 1);
            memset(signs, -1, app->nsecrets + 1);
            i = (size_t)-1; /* start over */
            continue;
        }
        if (!ps)
            continue; /* not a stored Page: kept raw only; any known secret signed it */
        /* The Page's own app, or the install's own (webhook.app_secret, the operator's). */
        int own = ps->secret, install = *app->app_secret ? 0 : -1;
        ok = false;
        for (int k = 0; k < 2 && !ok; k++) {
            int idx = k == 0 ? own : install;
            if (idx < 0)
                continue;
            if (signs[idx] < 0) {
                const char *one = app->secrets[idx];
                signs[idx] = loa_intake_signature_ok(header, body, len, &one, 1) ? 1 : 0;
            }
            ok = signs[idx] == 1;
        }
        if (!ok)
            *page_out = page;
    }
    loa_free(signs);
    pthread_mutex_unlock(&app->secrets_lock);
    return ok;
}

/* ---- Operations endpoints -------------------------------------------------------------- */

void serve_healthz(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    (void)req;
    struct serve_app *app = ctx;
    if (!serve_store(app)) {
        loa_http_error(resp, 503, NULL, "the store cannot be opened");
        return;
    }
    loa_buf_printf(&resp->body, "{\"status\":\"ok\",\"version\":\"%s\",\"uptime_s\":%lld}",
                   LOA_VERSION, (long long)((loa_now_ms() - app->started_ms) / 1000));
}

void serve_metrics(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    struct serve_app *app = ctx;
    struct loa_buf *b = &resp->body;
    resp->content_type = "text/plain; version=0.0.4";
    /* The request's server, not app->http: the first requests can come in before
     * loa_http_start() has returned the pointer to the main thread. */
    loa_http_metrics_format(req->server, b);
    loa_buf_puts(b, "# HELP loa_webhook_events_total New webhook events stored, by kind.\n"
                    "# TYPE loa_webhook_events_total counter\n");
    for (int k = 0; k < LOA_INTAKE_KIND_COUNT; k++)
        loa_buf_printf(b, "loa_webhook_events_total{kind=\"%s\"} %llu\n",
                       loa_intake_kind_name((enum loa_intake_kind)k),
                       (unsigned long long)atomic_load(&app->wh_events[k]));
    struct {
        const char *name, *help;
        _Atomic uint64_t *v;
    } c[] = {
        { "loa_webhook_batches_total", "Webhook POSTs stored and acknowledged.", &app->wh_batches },
        { "loa_webhook_duplicates_total", "Redelivered events (already stored).",
          &app->wh_duplicates },
        { "loa_webhook_unknown_page_events_total", "Events for Pages loa does not know.",
          &app->wh_unknown_page },
        { "loa_webhook_bad_signature_total", "Webhook POSTs refused for their signature.",
          &app->wh_bad_signature },
        { "loa_webhook_malformed_total", "Webhook POSTs refused as malformed.",
          &app->wh_malformed },
        { "loa_webhook_store_errors_total", "Webhook batches that could not be stored.",
          &app->wh_store_errors },
        { "loa_profiles_fetched_total", "Profiles fetched and stored.", &app->profiles_fetched },
        { "loa_profiles_failed_total", "Profile look-ups that failed.", &app->profiles_failed },
        { "loa_profiles_dropped_total", "Profile look-ups dropped (queue full).",
          &app->profiles_dropped },
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
        loa_buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", c[i].name, c[i].help,
                       c[i].name, c[i].name, (unsigned long long)atomic_load(c[i].v));
    /* The dispatcher: deliveries by outcome since start, requests, what is in flight now. */
    struct loa_dispatch_stats ds;
    loa_dispatch_get_stats(app->dispatch, &ds);
    loa_buf_puts(b, "# HELP loa_dispatch_deliveries_total Deliveries settled, by outcome "
                    "(retried: back to pending).\n# TYPE loa_dispatch_deliveries_total counter\n");
    const struct {
        const char *outcome;
        uint64_t v;
    } o[] = { { "sent", ds.sent },
              { "failed", ds.failed },
              { "skipped", ds.skipped },
              { "unknown", ds.unknown },
              { "retried", ds.retried } };
    for (size_t i = 0; i < sizeof(o) / sizeof(o[0]); i++)
        loa_buf_printf(b, "loa_dispatch_deliveries_total{outcome=\"%s\"} %llu\n", o[i].outcome,
                       (unsigned long long)o[i].v);
    loa_buf_printf(b,
                   "# HELP loa_dispatch_requests_total Send API requests made.\n"
                   "# TYPE loa_dispatch_requests_total counter\nloa_dispatch_requests_total %llu\n"
                   "# HELP loa_dispatch_in_flight Deliveries in flight now.\n"
                   "# TYPE loa_dispatch_in_flight gauge\nloa_dispatch_in_flight %llu\n",
                   (unsigned long long)ds.requests, (unsigned long long)ds.in_flight);
}

void serve_openapi(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    (void)ctx;
    (void)req;
    loa_http_json(resp, 200, loa__openapi_json);
}

/* ---- API keys -------------------------------------------------------------------------- */

static int auth(void *ctx, const char *key, enum loa_role *role_out, char *prefix_out)
{
    struct serve_app *app = ctx;
    struct loa_store *st = serve_store(app);
    if (!st)
        return LOA_ESTORE;
    struct loa_apikey k;
    int rc = loa_store_apikey_verify(st, key, loa_now_ms(), &k);
    if (rc < 0)
        return LOA_EPERM;
    *role_out = k.role;
    snprintf(prefix_out, 32, "%s", k.prefix);
    loa_apikey_release(&k);
    return 0;
}

/* ---- Run ------------------------------------------------------------------------------- */

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

int loa_serve_run(const struct loa_serve_opts *o)
{
    struct serve_app *app = loa_calloc(1, sizeof(*app));
    app->set = loa_config_settings(o->config);
    app->started_ms = loa_now_ms();
    app->verify_token = app->set->webhook_verify_token;
    app->app_secret = app->set->webhook_app_secret;
    pthread_key_create(&app->store_key, NULL);
    pthread_mutex_init(&app->stores_lock, NULL);
    pthread_mutex_init(&app->secrets_lock, NULL);
    int rc = 0;
    struct loa_http_route table[NROUTES];
    memcpy(table, routes, sizeof(table));

    /* Block the stop signals before any thread starts, so every thread inherits the mask. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct loa_diags d;
    loa_diags_init(&d, 20);
    app->store_path = loa_strdup(app->set->store_path);
    app->store_opts.path = app->store_path;
    app->store_opts.durable = app->set->store_durable;
    rc = loa_store_key_load(app->set->store_secret_key, app->set->store_key_file, app->store_path,
                            false, app->store_opts.key, &d);
    if (rc == 0 && !serve_store(app)) /* the main thread's connection migrates the schema */
        rc = LOA_ESTORE;
    if (rc < 0) {
        loa_diags_print(&d, stderr, "loa serve: store");
        goto out;
    }
    if (loa_rules_load(app->set->rules_file, &app->rules, &d) < 0) {
        LOA_WARN("serve", "rules file not loaded; /api/v1/rules/explain answers 503", "path=%s",
                 app->set->rules_file);
        app->rules = NULL;
    }
    loa_sequence_opts_from(&app->seq, app->set, app->rules);
    pthread_mutex_lock(&app->secrets_lock);
    reload_secrets(app);
    pthread_mutex_unlock(&app->secrets_lock);
    if (!*app->verify_token)
        LOA_WARN("serve", "webhook.verify_token is not set; the webhook handshake will fail", NULL);
    if (app->nsecrets == 0)
        LOA_WARN("serve",
                 "no app secret (webhook.app_secret or a Page's); every webhook POST "
                 "will be refused",
                 NULL);
    if (app->set->webhook_profiles && serve_profiles_start(app, &app->profiles) < 0)
        LOA_WARN("serve", "profile worker not started; new subscribers keep empty profiles", NULL);

    if (app->rules) {
        /* The dispatcher turns in-flight deliveries of the last run into unknown ones, then
           sends for running campaigns and starts scheduled ones when due. */
        struct loa_dispatch_opts dopts = {
            .store = &app->store_opts,
            .rules = app->rules,
            .recover = true,
        };
        loa_dispatch_opts_from(&dopts, app->set);
        int drc = loa_dispatch_new(&dopts, &app->dispatch);
        if (drc == 0 && loa_dispatch_start(app->dispatch) < 0)
            drc = LOA_EIO;
        if (drc < 0) {
            LOA_ERROR("serve", "dispatcher not started; campaigns will not send", "reason=%s",
                      drc == LOA_EBUSY ? "another_loa_sends_from_this_store" : loa_err_name(drc));
            loa_dispatch_free(app->dispatch);
            app->dispatch = NULL;
        }
    } else {
        LOA_WARN("serve", "no rules: the dispatcher is not started; campaigns will not send", NULL);
    }

    for (size_t i = 0; i < NROUTES; i++)
        if (table[i].handler == serve_webhook_post)
            table[i].body_limit = (size_t)app->set->webhook_body_limit;
    struct loa_http_opts ho = {
        .listen = app->set->http_listen,
        .threads = (unsigned)app->set->http_threads,
        .body_limit = (size_t)app->set->http_body_limit,
        .routes = table,
        .nroutes = NROUTES,
        .auth = auth,
        .session_cookie = "loa_session",
        .session = serve_session_check,
        .user_free = serve_user_free,
        .guard = serve_guard,
        .fallback = serve_console_file,
        .app = app,
    };
    if ((rc = loa_http_start(&ho, &app->http)) < 0)
        goto out;
    int port = loa_http_port(app->http);
    LOA_INFO("serve", "listening", "listen=%s port=%d threads=%u durable=%s", ho.listen, port,
             ho.threads, app->store_opts.durable ? "true" : "false");
    if (o->port_file && write_port_file(o->port_file, port) < 0)
        LOA_WARN("serve", "cannot write port file", "path=%s", o->port_file);

    int sig = 0;
    while (sigwait(&stop, &sig) != 0)
        ;
    LOA_INFO("serve", "stopping", "signal=%s in_flight=%zu", sig == SIGTERM ? "TERM" : "INT",
             loa_http_in_flight(app->http));
    loa_http_quiesce(app->http);
    int64_t deadline = loa_mono_ms() + DRAIN_MS;
    while (loa_http_in_flight(app->http) > 0 && loa_mono_ms() < deadline) {
        struct timespec ts = { 0, 5 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
out:
    loa_http_stop(app->http);
    loa_dispatch_stop(app->dispatch);
    serve_profiles_stop(app->profiles);
    for (size_t i = 0; i < app->nstores; i++)
        loa_store_close(app->stores[i]);
    loa_free(app->stores);
    free_secrets(app->secrets, app->nsecrets);
    free_page_secrets(app->page_secrets, app->npage_secrets);
    loa_rules_free(app->rules);
    loa_diags_release(&d);
    pthread_key_delete(app->store_key);
    pthread_mutex_destroy(&app->stores_lock);
    pthread_mutex_destroy(&app->secrets_lock);
    sodium_memzero(app->store_opts.key, sizeof(app->store_opts.key));
    loa_free(app->store_path);
    loa_free(app);
    if (rc == 0)
        LOA_INFO("serve", "stopped", NULL);
    return rc;
}
