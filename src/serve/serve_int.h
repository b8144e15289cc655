/* SPDX-License-Identifier: MIT */
/*
 * Private to src/serve: the daemon's shared state and the handlers of the route table.
 *
 * Threading: struct serve_app is shared by every HTTP thread and the profile worker. Its
 * fields are set before the server starts and then only read, except the counters (atomics),
 * the secrets cache (secrets_lock) and the store registry (stores_lock). Each thread gets its
 * own store connection through serve_store().
 */
#ifndef LOA_SERVE_SERVE_INT_H
#define LOA_SERVE_SERVE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <loa/config.h>
#include <loa/diag.h>
#include <loa/http.h>
#include <loa/intake.h>
#include <loa/rules.h>
#include <loa/sequence.h>
#include <loa/store.h>

struct profile_worker;
struct loa_dispatch;

struct serve_app {
    const struct loa_settings *set;   /* every option, typed (borrowed from the config) */
    struct loa_store_opts store_opts; /* path, key, durable: for each thread's connection */
    char *store_path;                 /* owned copy behind store_opts.path */
    struct loa_rules *rules;          /* NULL when the rules file failed to load */
    struct loa_sequence_opts seq;     /* sequences: settings and rules (webhooks, REST) */
    const char *verify_token;         /* borrowed from cfg; "" = handshake refused */
    const char *app_secret;           /* borrowed from cfg; "" = only Pages' secrets */
    int64_t started_ms;

    pthread_key_t store_key;     /* this thread's struct loa_store */
    pthread_mutex_t stores_lock; /* guards stores/nstores */
    /* Group commit of webhook batches (webhook.c): requests queue their parsed batch; the
     * thread that finds no commit under way takes the whole queue, writes every batch in one
     * transaction (one fsync) and wakes the others. Waiting here instead of in SQLite's busy
     * handler, which sleeps in growing steps, keeps latency flat under load. */
    struct loa_store **stores; /* every connection opened, closed at exit */
    size_t nstores;

    pthread_mutex_t secrets_lock; /* guards the three below */
    char **secrets;               /* app secrets of the stored Pages (+ configured) */
    size_t nsecrets;
    struct serve_page_secret *page_secrets; /* every stored Page and its secret, by page id */
    size_t npage_secrets;
    int64_t secrets_loaded_ms; /* monotonic */
    atomic_bool secrets_stale; /* a Page changed: reload before the next check */

    struct profile_worker *profiles; /* NULL when disabled */
    struct loa_dispatch *dispatch;   /* the send pipeline's thread; NULL without rules */
    struct loa_http_server *http;

    /* Counters for /metrics. */
    _Atomic uint64_t wh_events[LOA_INTAKE_KIND_COUNT]; /* new events stored, by kind */
    _Atomic uint64_t wh_duplicates;
    _Atomic uint64_t wh_unknown_page;
    _Atomic uint64_t wh_batches;
    _Atomic uint64_t wh_bad_signature;
    _Atomic uint64_t wh_malformed;
    _Atomic uint64_t wh_store_errors;
    _Atomic uint64_t profiles_fetched;
    _Atomic uint64_t profiles_failed;
    _Atomic uint64_t profiles_dropped;
};

/** This thread's store connection (opened on first use); NULL when it cannot be opened. */
struct loa_store *serve_store(struct serve_app *app);

/** A stored Page and the app secret its webhooks must be signed with (index into secrets;
 * -1: the configured webhook.app_secret, or none). */
struct serve_page_secret {
    char *page_id;
    int secret;
};

/**
 * Whether every event of batch that names a stored Page is signed with that Page's own app
 * secret or the install's own (the configured webhook.app_secret, the operator's app): one
 * client's app can never speak for another client's Page. Events for Pages loa does not know need
 * only a signature serve_signature_ok() accepts (they are kept raw, applied to nothing). On false,
 * *page_out names the first Page whose secret did not sign it (borrowed from batch).
 */
bool serve_signature_pages_ok(struct serve_app *app, const char *header, const void *body,
                              size_t len, const struct loa_intake_batch *batch,
                              const char **page_out);

/** Checks a webhook signature against the known secrets, reloading them once when stale. */
bool serve_signature_ok(struct serve_app *app, const char *header, const void *body, size_t len);

/* Profile worker (profile.c). */
int serve_profiles_start(struct serve_app *app, struct profile_worker **out);
/** Queues a look-up; never blocks (drops and counts when the queue is full). */
void serve_profiles_enqueue(struct profile_worker *w, int64_t subscriber_id);
void serve_profiles_stop(struct profile_worker *w);

/* Handlers (webhook.c, api_*.c). */
void serve_webhook_verify(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void serve_webhook_post(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void serve_healthz(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void serve_metrics(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void serve_openapi(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_pages_list(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_pages_create(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_pages_get(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_pages_update(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_subscribers_list(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_subscribers_get(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_subscribers_update(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_subscribers_delete(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_tags_list(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_tags_rename(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_tags_delete(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_subscribers_import(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_tags_merge(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_tags_people(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_conversations_list(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_conversations_messages(void *app, const struct loa_http_req *req,
                                struct loa_http_resp *resp);
void api_rules_explain(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_lists_list(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_lists_upload(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_audience_preview(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
/* api_sequences.c */
void api_seq_groups_list(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_seq_groups_create(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_seq_groups_update(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_seq_groups_delete(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_sequences_list(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_sequences_create(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_sequences_get(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_sequences_update(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_sequences_delete(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_sequences_forecast(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_sequences_link(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_sequences_enrol(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_sequences_remove(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_sequences_enrolments(void *app, const struct loa_http_req *req,
                              struct loa_http_resp *resp);

/* Helpers shared by the handlers (api_common.c). jansson stays inside src/serve. */
struct json_t;
/** The request body as a JSON object, or NULL with a 400 already set. Caller decrefs. */
struct json_t *api_body(const struct loa_http_req *req, struct loa_http_resp *resp);
/** Sets status and the JSON body; steals o. */
void api_reply(struct loa_http_resp *resp, int status, struct json_t *o);
/** Maps a store/loa error to an HTTP error (the only such mapping): 404, 409, 400, 503, 500. */
void api_fail(struct loa_http_resp *resp, int rc, const char *field, const char *what);
/** This thread's store or NULL with 503 set. */
struct loa_store *api_store(struct serve_app *app, struct loa_http_resp *resp);
/** ISO 8601 string of ms, or JSON null for 0. New reference. */
struct json_t *api_time(int64_t ms);
/** Parses a whole positive number; false when it is not one. */
bool api_parse_id(const char *s, int64_t *out);
/** ?limit=N: *out gets def when absent; false with 400 set when N is not in [1, max]. */
bool api_query_limit(const struct loa_http_req *req, struct loa_http_resp *resp, int64_t def,
                     int64_t max, int64_t *out);
/**
 * One page of a list: {"data":arr,"next_cursor":...}. arr holds the up to want + 1 items read;
 * the extra one, when there, is dropped and next_cursor is the integer member key of the last
 * item kept, as a string (else null). Steals arr; returns a new reference.
 */
struct json_t *api_list_page(struct json_t *arr, int64_t want, const char *key);
/**
 * The error body of a refused request: {"error":{"status","field","reason"},"errors":[{"field",
 * "reason"[,"line","column"]}]} — the first complaint is the error. Returns a new reference.
 */
struct json_t *api_diags_json(int status, const struct loa_diags *d);
/**
 * Reads the query flag name: absent means false, else "true" or "false"; anything else answers
 * 400 on name and returns false.
 */
bool api_query_flag(const struct loa_http_req *req, struct loa_http_resp *resp, const char *name,
                    bool *out);
/** Answers status with every complaint of d: api_diags_json()'s error body. */
void api_reply_diags(struct loa_http_resp *resp, int status, const struct loa_diags *d);
/** JSON text made by another module (loa memory, freed here) as a new reference; NULL stays. */
struct json_t *api_json_text(char *text);
/** Finds the Page of the path's first parameter; false with 404/503 set. */
bool api_page(struct serve_app *app, const struct loa_http_req *req, struct loa_http_resp *resp,
              struct loa_page *out);

/* The web console (console.c). */

/** A signed-in console user, made by the session hook for one request (req->user). */
struct serve_user {
    struct loa_user u;    /* with the Pages of a staff user */
    struct loa_session s; /* with its CSRF token */
    bool scoped;          /* staff: only the Pages in u.pages */
    int64_t *page_refs;   /* their internal ids (those that exist) */
    size_t npage_refs;
};

/** Whether the request's user (NULL: an API key) may see Page page_id. */
bool serve_user_page(const struct serve_user *u, const char *page_id);
int serve_session_check(void *app, const struct loa_http_req *req, const char *cookie,
                        enum loa_role *role_out, void **user_out, struct loa_http_resp *resp);
void serve_user_free(void *user);
bool serve_guard(void *app, const struct loa_http_route *route, const struct loa_http_req *req,
                 struct loa_http_resp *resp);
/** The console's files for GETs no route matches (index.html for the app's own paths). */
void serve_console_file(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_session_create(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_session_get(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_session_delete(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_session_everywhere(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);

/** A file of the console, embedded at build time (console/build.mjs writes the table). */
struct serve_file {
    const char *path;          /* "/index.html", "/assets/app-HASH.js" */
    const char *type;          /* Content-Type */
    const char *cache;         /* Cache-Control */
    const unsigned char *data; /* the file */
    size_t len;
    const unsigned char *gz; /* its gzip-compressed copy, or NULL */
    size_t gzlen;
};
extern const struct serve_file loa__console_files[];
extern const size_t loa__console_nfiles;

/** The route table (for the OpenAPI test). */
const struct loa_http_route *loa__serve_routes(size_t *n);

/** The OpenAPI document embedded at build time (NUL-terminated). */
extern const char loa__openapi_json[];
extern const size_t loa__openapi_json_len;

#endif /* LOA_SERVE_SERVE_INT_H */
