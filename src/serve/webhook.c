/* SPDX-License-Identifier: MIT */
/*
 * The webhook endpoints, a thin HTTP adapter over the intake service (include/loa/intake.h).
 * GET answers Meta's verification handshake. POST hands the raw body and its signature header
 * to intake (verify, parse, apply), writes the batch by the store's group commit
 * (loa_store_group) and answers 200 only
 * after the commit (so an acknowledged event is on disk; with store.durable it is fsynced
 * too), then hands new subscribers to the profile worker. What each step decides is intake's;
 * the status codes, counters and log lines are this file's.
 *
 * Which app secret: the signature is checked before the body is parsed against every known
 * secret (the configured webhook.app_secret and the stored Pages' app secrets; an agency may
 * run several apps), then, once parsed, each event naming a stored Page must be signed with
 * that Page's own app secret or the install's (webhook.app_secret, the operator's own app):
 * one client's app cannot speak for another client's Page (issue 16). See
 * serve_signature_pages_ok().
 */
#include <string.h>

#include <sodium.h>

#include <loa/alloc.h>
#include <loa/clock.h>
#include <loa/err.h>
#include <loa/log.h>

#include "serve_int.h"

void serve_webhook_verify(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    struct serve_app *app = ctx;
    const char *mode = loa_http_query(req, "hub.mode");
    const char *token = loa_http_query(req, "hub.verify_token");
    const char *challenge = loa_http_query(req, "hub.challenge");
    const char *want = app->verify_token;
    size_t wl = strlen(want);
    bool ok = mode && strcmp(mode, "subscribe") == 0 && token && challenge && wl > 0 &&
              strlen(token) == wl && sodium_memcmp(token, want, wl) == 0;
    if (!ok) {
        LOA_WARN("webhook", "verification refused",
                 "mode_ok=%s token_present=%s challenge_present=%s configured=%s",
                 mode && strcmp(mode, "subscribe") == 0 ? "true" : "false",
                 token ? "true" : "false", challenge ? "true" : "false", wl ? "true" : "false");
        loa_http_error(resp, 403, "hub.verify_token",
                       "the verification request does not match the configured verify token");
        return;
    }
    resp->status = 200;
    resp->content_type = "text/plain";
    loa_buf_puts(&resp->body, challenge);
}

/* One request's batch, applied inside a group commit (loa_store_group). */
struct wh_job {
    const struct loa_intake_batch *batch;
    const struct loa_sequence_opts *seq;
    struct loa_intake_result res;
    bool filled; /* res holds a result to release */
};

static int apply_batch(struct loa_txn *tx, void *ud)
{
    struct wh_job *j = ud;
    int rc = loa_intake_apply_step(tx, j->seq, j->batch->events, j->batch->count, &j->res);
    j->filled = rc == 0;
    return rc;
}

/* Stores batch durably, possibly in one transaction with other requests' batches. */
static int store_batch(struct loa_store *st, const struct loa_sequence_opts *seq,
                       const struct loa_intake_batch *batch, struct loa_intake_result *res)
{
    struct wh_job job = { .batch = batch, .seq = seq };
    int rc = loa_store_group(st, apply_batch, &job);
    if (rc < 0) {
        if (job.filled) /* applied, but the group's commit failed: nothing is stored */
            loa_intake_result_release(&job.res);
        return rc;
    }
    *res = job.res;
    return 0;
}

void serve_webhook_post(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    struct serve_app *app = ctx;
    const char *sig = loa_http_header(req, "X-Hub-Signature-256");
    if (!serve_signature_ok(app, sig, req->body, req->body_len)) {
        atomic_fetch_add(&app->wh_bad_signature, 1);
        LOA_WARN("webhook", "signature refused", "present=%s bytes=%zu", sig ? "true" : "false",
                 req->body_len);
        loa_http_error(resp, 403, "X-Hub-Signature-256",
                       sig ? "the signature does not match the body"
                           : "the X-Hub-Signature-256 header is missing");
        return;
    }
    struct loa_diags d;
    loa_diags_init(&d, 1);
    struct loa_intake_batch batch;
    int rc = loa_intake_parse(req->body, req->body_len, &batch, &d);
    if (rc < 0) {
        atomic_fetch_add(&app->wh_malformed, 1);
        const struct loa_diag *g = d.count ? &d.items[0] : NULL;
        if (g && g->line)
            loa_http_error(resp, 400, g->where[0] ? g->where : "body", "%s (line %ld column %ld)",
                           g->reason, g->line, g->column);
        else
            loa_http_error(resp, 400, g && g->where[0] ? g->where : "body", "%s",
                           g ? g->reason : "malformed webhook");
        goto out;
    }
    const char *other = NULL;
    if (!serve_signature_pages_ok(app, sig, req->body, req->body_len, &batch, &other)) {
        atomic_fetch_add(&app->wh_bad_signature, 1);
        LOA_WARN("webhook", "signature refused: not the Page's app", "page=%s bytes=%zu", other,
                 req->body_len);
        loa_http_error(resp, 403, "X-Hub-Signature-256",
                       "the body is not signed with the app secret of Page %s", other);
        goto out;
    }
    struct loa_store *st = api_store(app, resp);
    if (!st)
        goto out;
    struct loa_intake_result res;
    rc = store_batch(st, &app->seq, &batch, &res);
    if (rc < 0) {
        atomic_fetch_add(&app->wh_store_errors, 1);
        /* Not acknowledged: Meta delivers it again. */
        loa_http_error(resp, 503, NULL, "the batch could not be stored; it will be redelivered");
        goto out;
    }
    atomic_fetch_add(&app->wh_batches, 1);
    atomic_fetch_add(&app->wh_duplicates, res.duplicates);
    atomic_fetch_add(&app->wh_unknown_page, res.unknown_page);
    for (int k = 0; k < LOA_INTAKE_KIND_COUNT; k++)
        if (res.by_kind[k])
            atomic_fetch_add(&app->wh_events[k], res.by_kind[k]);
    if (app->profiles)
        for (size_t i = 0; i < res.nnew; i++)
            serve_profiles_enqueue(app->profiles, res.new_subscribers[i]);
    if (res.unknown_page)
        LOA_WARN("webhook", "events for unknown pages kept raw only", "events=%zu",
                 res.unknown_page);
    resp->status = 200;
    loa_buf_printf(&resp->body, "{\"stored\":%zu,\"duplicates\":%zu,\"new_subscribers\":%zu}",
                   res.stored, res.duplicates, res.nnew);
    loa_intake_result_release(&res);
out:
    loa_intake_batch_release(&batch);
    loa_diags_release(&d);
}
