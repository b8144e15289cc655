/* SPDX-License-Identifier: MIT */
/*
 * /api/v1/campaigns: create, list, read, edit (drafts) and delete campaigns; start, schedule,
 * pause, resume and cancel them; list their deliveries and unknown outcomes; re-queue failed
 * deliveries and resend chosen unknown ones (docs/campaigns.md, docs/api.md).
 *
 * A thin adapter over the campaign service (include/loa/campaign.h, also behind `loa
 * campaign`): the JSON shapes, every check of a campaign body and which status allows which
 * operation live there; this file maps HTTP to it and wakes the dispatcher after a change of
 * status so that it is seen at once.
 */
#include "api_campaigns.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <loa/alloc.h>
#include <loa/campaign.h>
#include <loa/clock.h>
#include <loa/dispatch.h>
#include <loa/err.h>

#include "serve_int.h"

#define LIST_DEFAULT       50
#define LIST_MAX           500
#define DELIVERIES_DEFAULT 100
#define DELIVERIES_MAX     1000
#define UNKNOWN_GRACE_S    60
#define RESEND_MAX         10000
#define MAX_ERRORS         100

/* ---- Helpers ------------------------------------------------------------------------------ */

static void wake(struct serve_app *app)
{
    if (app->dispatch)
        loa_dispatch_wakeup(app->dispatch);
}

static bool camp_id(const struct loa_http_req *req, struct loa_http_resp *resp, int64_t *id)
{
    if (!api_parse_id(req->params[0], id)) {
        loa_http_error(resp, 400, "id", "a campaign id is a positive integer");
        return false;
    }
    return true;
}

/* A whole number >= 0 (a position may be 0). */
static bool parse_count(const char *s, int64_t *out)
{
    if (!s || *s < '0' || *s > '9')
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < 0)
        return false;
    *out = v;
    return true;
}

/* ?after=C (or ?cursor=C): *out stays at def when absent; false with 400 set. */
static bool query_after(const struct loa_http_req *req, struct loa_http_resp *resp, int64_t *out)
{
    const char *name = "after";
    const char *a = loa_http_query(req, name);
    if (!a) {
        name = "cursor";
        a = loa_http_query(req, name);
    }
    if (a && !parse_count(a, out)) {
        loa_http_error(resp, 400, name, "not a cursor from a previous page (next_cursor)");
        return false;
    }
    return true;
}

/* The campaign with its counts, plus the members of extra (stolen; may be NULL). */
static void reply_campaign(struct loa_store *st, int64_t id, int status, json_t *extra,
                           struct loa_http_resp *resp)
{
    char *text = NULL;
    int rc = loa_campaign_describe(st, id, &text);
    if (rc < 0) {
        json_decref(extra);
        if (rc == LOA_ENOENT)
            api_fail(resp, rc, "id", "campaign");
        else
            api_fail(resp, rc, NULL, "counting deliveries");
        return;
    }
    json_t *o = api_json_text(text);
    if (extra) {
        json_object_update(o, extra);
        json_decref(extra);
    }
    api_reply(resp, status, o);
}

/* 409 naming the campaign's current status and what the operation needs (the service's
   refusal). */
static void reply_state(struct loa_store *st, int64_t id, const char *needs,
                        struct loa_http_resp *resp)
{
    struct loa_campaign c;
    if (loa_store_campaign_get(st, id, &c) < 0) {
        api_fail(resp, LOA_ENOENT, "id", "campaign");
        return;
    }
    loa_http_error(resp, 409, "status", "campaign is %s; %s", loa_campaign_status_name(c.status),
                   needs);
    loa_campaign_release(&c);
}

/* Maps the result of a campaign operation: false with the error answer set. */
static bool op_ok(struct loa_store *st, int64_t id, int rc, const char *refusal,
                  struct loa_http_resp *resp)
{
    if (rc == 0)
        return true;
    if (rc == LOA_ESTATE)
        reply_state(st, id, refusal, resp);
    else
        api_fail(resp, rc, "id", "campaign");
    return false;
}

/* The campaign's status; false with 404/503 set. */
static bool campaign_status(struct loa_store *st, int64_t id, enum loa_campaign_status *out,
                            struct loa_http_resp *resp)
{
    struct loa_campaign c;
    int rc = loa_store_campaign_get(st, id, &c);
    if (rc < 0) {
        api_fail(resp, rc, "id", "campaign");
        return false;
    }
    *out = c.status;
    loa_campaign_release(&c);
    return true;
}

/* An optional body that must hold no field but those in keys; NULL body is fine. */
static bool small_body(const struct loa_http_req *req, struct loa_http_resp *resp,
                       const char *const *keys, size_t nkeys, json_t **out)
{
    *out = NULL;
    if (req->body_len == 0)
        return true;
    json_t *o = api_body(req, resp);
    if (!o)
        return false;
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        bool known = false;
        for (size_t i = 0; i < nkeys; i++)
            known |= strcmp(k, keys[i]) == 0;
        if (!known) {
            loa_http_error(resp, 400, k, "unknown field");
            json_decref(o);
            return false;
        }
    }
    *out = o;
    return true;
}

/*
 * The start of an operation on the path's campaign: its id, the optional body with no field
 * but keys (*body_out, NULL when empty; body_out may be NULL when there are no keys) and this
 * thread's store. Returns the store, or NULL with the error answer set.
 */
static struct loa_store *op_begin(struct serve_app *app, const struct loa_http_req *req,
                                  struct loa_http_resp *resp, const char *const *keys, size_t nkeys,
                                  int64_t *id, json_t **body_out)
{
    json_t *body;
    if (!camp_id(req, resp, id) || !small_body(req, resp, keys, nkeys, &body))
        return NULL;
    struct loa_store *st = api_store(app, resp);
    if (st && body_out)
        *body_out = body;
    else
        json_decref(body);
    return st;
}

/* ---- List, create, read, edit, delete ----------------------------------------------------- */

struct list_ud {
    struct loa_store *st;
    json_t *arr;
    int64_t after; /* ids below this (newest first); 0 = from the start */
    int64_t want;
    int64_t page_ref;
    char page_id[72];
};

static int add_campaign(const struct loa_campaign *c, void *ud)
{
    struct list_ud *l = ud;
    if (l->after > 0 && c->id >= l->after)
        return 0;
    if ((int64_t)json_array_size(l->arr) > l->want)
        return 1;
    if (c->page_ref != l->page_ref) {
        l->page_ref = c->page_ref;
        l->page_id[0] = '\0';
        loa_campaign_page_of(l->st, c->page_ref, l->page_id, sizeof(l->page_id), NULL, 0);
    }
    json_array_append_new(l->arr, api_json_text(loa_campaign_json(c, l->page_id)));
    return 0;
}

void api_campaigns_list(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    struct list_ud l = { .after = 0 };
    unsigned mask = 0;
    const char *status = loa_http_query(req, "status");
    if (status && loa_campaign_mask_parse(status, false, &mask) < 0) {
        loa_http_error(resp, 400, "status",
                       "must be draft, scheduled, running, paused, completed or cancelled (or "
                       "several, comma-separated)");
        return;
    }
    if (!api_query_limit(req, resp, LIST_DEFAULT, LIST_MAX, &l.want) ||
        !query_after(req, resp, &l.after))
        return;
    struct loa_store *st = api_store(ctx, resp);
    if (!st)
        return;
    int64_t page_ref = 0;
    const char *page_id = loa_http_query(req, "page_id");
    if (page_id) {
        struct loa_page p;
        int rc = loa_store_page_get(st, page_id, &p);
        if (rc < 0) {
            api_fail(resp, rc, "page_id", "Page");
            return;
        }
        page_ref = p.id;
        loa_page_release(&p);
    }
    l.st = st;
    l.arr = json_array();
    int rc = loa_campaign_list(st, page_ref, mask, add_campaign, &l);
    if (rc < 0) {
        json_decref(l.arr);
        api_fail(resp, rc, NULL, "listing campaigns");
        return;
    }
    api_reply(resp, 200, api_list_page(l.arr, l.want, "id"));
}

void api_campaigns_create(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    struct serve_app *app = ctx;
    json_t *o = api_body(req, resp);
    if (!o)
        return;
    struct loa_store *st = api_store(app, resp);
    struct loa_diags d;
    loa_diags_init(&d, MAX_ERRORS);
    struct loa_campaign_body b;
    loa_campaign_body_init(&b);
    struct loa_page p = { 0 };
    if (!st)
        goto out;
    /* The Page first: its time zone reads a scheduled_at without an offset. */
    const char *page_id = json_string_value(json_object_get(o, "page_id"));
    bool have_page = false;
    if (page_id) {
        int rc = loa_store_page_get(st, page_id, &p);
        if (rc == LOA_ENOENT) {
            loa_diags_add(&d, 0, 0, "page_id", "no Page with this id (see GET /api/v1/pages)");
        } else if (rc < 0) {
            api_fail(resp, rc, NULL, "reading the Page");
            goto out;
        } else {
            have_page = true;
        }
    }
    struct loa_campaign_parse_opts po = {
        .create = true,
        .tz = have_page ? p.timezone : NULL,
        .rules = app->rules,
        .now = loa_now_ms(),
    };
    if (loa_campaign_body_parse(req->body, req->body_len, &po, &b, &d) < 0 ||
        !loa_diags_empty(&d)) {
        api_reply_diags(resp, 400, &d);
        goto out;
    }
    int64_t id = 0;
    int rc = loa_campaign_create(st, p.id, &b.in, loa_now_ms(), &id);
    if (rc < 0) {
        api_fail(resp, rc, NULL, "creating the campaign");
        goto out;
    }
    reply_campaign(st, id, 201, NULL, resp);
out:
    loa_page_release(&p);
    loa_campaign_body_release(&b);
    loa_diags_release(&d);
    json_decref(o);
}

void api_campaigns_get(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    int64_t id;
    struct loa_store *st;
    if (!camp_id(req, resp, &id) || !(st = api_store(ctx, resp)))
        return;
    reply_campaign(st, id, 200, NULL, resp);
}

void api_campaigns_update(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    struct serve_app *app = ctx;
    int64_t id;
    struct loa_store *st;
    if (!camp_id(req, resp, &id) || !(st = api_store(app, resp)))
        return;
    json_t *o = api_body(req, resp);
    if (!o)
        return;
    struct loa_diags d;
    loa_diags_init(&d, MAX_ERRORS);
    struct loa_campaign_body b;
    loa_campaign_body_init(&b);
    struct loa_campaign c = { 0 };
    int rc = loa_store_campaign_get(st, id, &c);
    if (rc < 0) {
        api_fail(resp, rc, "id", "campaign");
        goto out;
    }
    if (!loa_campaign_op_allowed(LOA_CAMPAIGN_OP_EDIT, c.status)) {
        loa_http_error(resp, 409, "status", "campaign is %s; %s",
                       loa_campaign_status_name(c.status),
                       loa_campaign_op_refusal(LOA_CAMPAIGN_OP_EDIT));
        goto out;
    }
    char page_id[72] = "", tz[64] = "";
    loa_campaign_page_of(st, c.page_ref, page_id, sizeof(page_id), tz, sizeof(tz));
    struct loa_campaign_parse_opts po = {
        .tz = *tz ? tz : NULL,
        .rules = app->rules,
        .current = &c,
        .now = loa_now_ms(),
    };
    if (loa_campaign_body_parse(req->body, req->body_len, &po, &b, &d) < 0) {
        api_reply_diags(resp, 400, &d);
        goto out;
    }
    struct loa_campaign_args args = { .in = &b.in };
    const char *refusal = NULL;
    rc = loa_campaign_apply_with(st, id, LOA_CAMPAIGN_OP_EDIT, &args, loa_now_ms(), &refusal);
    if (!op_ok(st, id, rc, refusal, resp))
        goto out;
    reply_campaign(st, id, 200, NULL, resp);
out:
    loa_campaign_release(&c);
    loa_campaign_body_release(&b);
    loa_diags_release(&d);
    json_decref(o);
}

void api_campaigns_delete(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    int64_t id;
    struct loa_store *st;
    if (!camp_id(req, resp, &id) || !(st = api_store(ctx, resp)))
        return;
    const char *refusal = NULL;
    int rc = loa_campaign_apply(st, id, LOA_CAMPAIGN_OP_DELETE, NULL, loa_now_ms(), &refusal);
    if (op_ok(st, id, rc, refusal, resp))
        resp->status = 204;
}

/* ---- Status changes ----------------------------------------------------------------------- */

void api_campaigns_start(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    struct serve_app *app = ctx;
    int64_t id;
    struct loa_store *st = op_begin(app, req, resp, NULL, 0, &id, NULL);
    if (!st)
        return;
    const char *refusal = NULL;
    int rc = loa_campaign_apply(st, id, LOA_CAMPAIGN_OP_START, NULL, loa_now_ms(), &refusal);
    if (rc == LOA_EINVAL) {
        loa_http_error(resp, 400, "filter",
                       "the campaign's audience filter is no longer valid (a list or tag it names "
                       "may be gone)");
        return;
    }
    if (!op_ok(st, id, rc, refusal, resp))
        return;
    wake(app);
    reply_campaign(st, id, 200, NULL, resp);
}

void api_campaigns_schedule(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    static const char *const keys[] = { "at" };
    struct serve_app *app = ctx;
    int64_t id;
    json_t *body;
    struct loa_store *st = op_begin(app, req, resp, keys, 1, &id, &body);
    if (!st)
        return;
    struct loa_campaign c = { 0 };
    int rc = loa_store_campaign_get(st, id, &c);
    if (rc < 0) {
        api_fail(resp, rc, "id", "campaign");
        goto out;
    }
    if (!loa_campaign_op_allowed(LOA_CAMPAIGN_OP_SCHEDULE, c.status)) {
        loa_http_error(resp, 409, "status", "campaign is %s; %s",
                       loa_campaign_status_name(c.status),
                       loa_campaign_op_refusal(LOA_CAMPAIGN_OP_SCHEDULE));
        goto out;
    }
    char page_id[72] = "", tz[64] = "";
    loa_campaign_page_of(st, c.page_ref, page_id, sizeof(page_id), tz, sizeof(tz));
    int64_t now = loa_now_ms(), at = c.scheduled_at;
    json_t *v = body ? json_object_get(body, "at") : NULL;
    if (v && !json_is_null(v)) {
        const char *s = json_string_value(v);
        rc = s ? loa_time_parse_local(s, tz, loa_now_ms(), &at) : LOA_EPARSE;
        if (rc == LOA_ERANGE) {
            loa_http_error(resp, 400, "at", "%s does not exist in %s (daylight saving time)", s,
                           tz);
            goto out;
        }
        if (rc < 0) {
            loa_http_error(resp, 400, "at",
                           "must be a time: \"2026-05-04 09:00\" (the Page's local time, %s) or "
                           "ISO 8601 with an offset such as \"2026-05-04T02:00:00Z\"",
                           tz);
            goto out;
        }
    } else if (at <= 0) {
        loa_http_error(resp, 400, "at",
                       "is required: when to start (the campaign has no "
                       "scheduled_at)");
        goto out;
    }
    if (at <= now) {
        char buf[40];
        loa_time_format(now, buf, sizeof(buf));
        loa_http_error(resp, 400, "at", "must be in the future (it is now %s)", buf);
        goto out;
    }
    struct loa_campaign_args args = { .at = at };
    const char *refusal = NULL;
    rc = loa_campaign_apply_with(st, id, LOA_CAMPAIGN_OP_SCHEDULE, &args, now, &refusal);
    if (!op_ok(st, id, rc, refusal, resp))
        goto out;
    wake(app);
    reply_campaign(st, id, 200, NULL, resp);
out:
    loa_campaign_release(&c);
    json_decref(body);
}

/* A plain status change through the service's transition table. */
static void transition(struct serve_app *app, const struct loa_http_req *req,
                       struct loa_http_resp *resp, enum loa_campaign_op op, const char *reason)
{
    int64_t id;
    struct loa_store *st = op_begin(app, req, resp, NULL, 0, &id, NULL);
    if (!st)
        return;
    const char *refusal = NULL;
    int rc = loa_campaign_apply(st, id, op, reason, loa_now_ms(), &refusal);
    if (!op_ok(st, id, rc, refusal, resp))
        return;
    wake(app);
    reply_campaign(st, id, 200, NULL, resp);
}

void api_campaigns_pause(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    transition(ctx, req, resp, LOA_CAMPAIGN_OP_PAUSE, "manual");
}

void api_campaigns_resume(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    transition(ctx, req, resp, LOA_CAMPAIGN_OP_RESUME, NULL);
}

void api_campaigns_cancel(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    transition(ctx, req, resp, LOA_CAMPAIGN_OP_CANCEL, NULL);
}

/* ---- Failed and unknown deliveries -------------------------------------------------------- */

void api_campaigns_retry_failed(void *ctx, const struct loa_http_req *req,
                                struct loa_http_resp *resp)
{
    struct serve_app *app = ctx;
    int64_t id;
    struct loa_store *st = op_begin(app, req, resp, NULL, 0, &id, NULL);
    if (!st)
        return;
    struct loa_campaign_args args = { 0 };
    const char *refusal = NULL;
    int rc = loa_campaign_apply_with(st, id, LOA_CAMPAIGN_OP_RETRY_FAILED, &args, loa_now_ms(),
                                     &refusal);
    if (!op_ok(st, id, rc, refusal, resp))
        return;
    int64_t count = args.count;
    size_t n;
    const char *const *reasons = loa_campaign_retryable_reasons(&n);
    if (count > 0)
        wake(app);
    json_t *r = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(r, json_string(reasons[i]));
    reply_campaign(st, id, 200,
                   json_pack("{s:I,s:o}", "requeued", (json_int_t)count, "retryable_reasons", r),
                   resp);
}

struct deliveries_ud {
    json_t *arr;
    int64_t last;
};

static int add_delivery(const struct loa_delivery *d, void *ud)
{
    struct deliveries_ud *u = ud;
    json_array_append_new(u->arr, api_json_text(loa_delivery_json(d)));
    return 0;
}

/* Lists deliveries of the path's campaign with state_mask and older_than; answers a page. */
static void list_deliveries(struct loa_store *st, int64_t id, unsigned state_mask,
                            int64_t older_than, const struct loa_http_req *req,
                            struct loa_http_resp *resp, json_t *extra)
{
    int64_t want, after = -1;
    enum loa_campaign_status status;
    if (!api_query_limit(req, resp, DELIVERIES_DEFAULT, DELIVERIES_MAX, &want) ||
        !query_after(req, resp, &after) || !campaign_status(st, id, &status, resp)) {
        json_decref(extra);
        return;
    }
    struct deliveries_ud u = { .arr = json_array() };
    int rc =
        loa_store_delivery_list(st, id, state_mask, after, want + 1, older_than, add_delivery, &u);
    if (rc < 0) {
        json_decref(u.arr);
        json_decref(extra);
        api_fail(resp, rc, NULL, "listing deliveries");
        return;
    }
    json_t *o = api_list_page(u.arr, want, "position");
    if (extra) {
        json_object_update(o, extra);
        json_decref(extra);
    }
    api_reply(resp, 200, o);
}

void api_campaigns_deliveries(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    int64_t id;
    struct loa_store *st;
    if (!camp_id(req, resp, &id))
        return;
    unsigned mask = 0;
    const char *state = loa_http_query(req, "state");
    if (state && loa_campaign_mask_parse(state, true, &mask) < 0) {
        loa_http_error(resp, 400, "state",
                       "must be pending, in_flight, sent, failed, skipped or unknown (or several, "
                       "comma-separated)");
        return;
    }
    if (!(st = api_store(ctx, resp)))
        return;
    list_deliveries(st, id, mask, 0, req, resp, NULL);
}

void api_campaigns_unknowns(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    int64_t id;
    struct loa_store *st;
    if (!camp_id(req, resp, &id))
        return;
    int64_t grace = UNKNOWN_GRACE_S;
    const char *o = loa_http_query(req, "older_than_s");
    if (o && (!parse_count(o, &grace) || grace > 365LL * 24 * 3600)) {
        loa_http_error(resp, 400, "older_than_s", "must be a whole number of seconds (default %d)",
                       UNKNOWN_GRACE_S);
        return;
    }
    if (!(st = api_store(ctx, resp)))
        return;
    int64_t now = loa_now_ms();
    list_deliveries(st, id, 1u << LOA_DELIVERY_UNKNOWN, now - grace * 1000, req, resp,
                    json_pack("{s:I}", "older_than_s", (json_int_t)grace));
}

void api_campaigns_resend(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    struct serve_app *app = ctx;
    int64_t id;
    struct loa_store *st;
    if (!camp_id(req, resp, &id))
        return;
    json_t *o = api_body(req, resp);
    if (!o)
        return;
    int64_t *ids = NULL, *unreconciled = NULL;
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        if (strcmp(k, "ids") != 0 && strcmp(k, "force") != 0) {
            loa_http_error(resp, 400, k,
                           "unknown field (the body is {\"ids\":[...], \"force\":false})");
            goto out;
        }
    }
    json_t *force = json_object_get(o, "force");
    if (force && !json_is_boolean(force)) {
        loa_http_error(resp, 400, "force", "must be true or false");
        goto out;
    }
    json_t *arr = json_object_get(o, "ids");
    size_t n = json_array_size(arr);
    if (!json_is_array(arr) || n == 0 || n > RESEND_MAX) {
        loa_http_error(resp, 400, "ids",
                       "must be an array of 1 to %d delivery ids (from GET .../unknowns)",
                       RESEND_MAX);
        goto out;
    }
    ids = loa_calloc(n, sizeof(*ids));
    for (size_t i = 0; i < n; i++) {
        json_t *x = json_array_get(arr, i);
        if (!json_is_integer(x) || json_integer_value(x) <= 0) {
            char where[32];
            snprintf(where, sizeof(where), "ids[%zu]", i);
            loa_http_error(resp, 400, where, "a delivery id is a positive integer");
            goto out;
        }
        ids[i] = json_integer_value(x);
    }
    if (!(st = api_store(app, resp)))
        goto out;
    unreconciled = loa_calloc(n, sizeof(*unreconciled));
    struct loa_campaign_args args = {
        .ids = ids, .nids = n, .force = json_is_true(force), .unreconciled = unreconciled
    };
    const char *refusal = NULL;
    int rc = loa_campaign_apply_with(st, id, LOA_CAMPAIGN_OP_RESEND_UNKNOWN, &args, loa_now_ms(),
                                     &refusal);
    if (rc == LOA_EAGAIN) {
        char why[1024];
        loa_campaign_unreconciled_text(unreconciled, args.nunreconciled, why, sizeof(why));
        loa_http_error(resp, 409, "ids", "%s (\"force\":true); nothing was re-queued", why);
        goto out;
    }
    if (!op_ok(st, id, rc, refusal, resp))
        goto out;
    int64_t count = args.count;
    if (count > 0)
        wake(app);
    reply_campaign(st, id, 200,
                   json_pack("{s:I,s:I}", "requeued", (json_int_t)count, "not_requeued",
                             (json_int_t)((int64_t)n - count)),
                   resp);
out:
    loa_free(ids);
    loa_free(unreconciled);
    json_decref(o);
}
