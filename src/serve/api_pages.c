/* SPDX-License-Identifier: MIT */
/*
 * /api/v1/pages: create (admin: it carries the Page access token, stored encrypted and never
 * returned), list, get, update (timezone, daily cap, plan quota, send rate; the token and app
 * secret only with the admin role).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include <loa/clock.h>
#include <loa/err.h>
#include <loa/utf8.h>

#include "serve_int.h"

static json_t *page_json(const struct loa_page *p)
{
    return json_pack("{s:s,s:s,s:s,s:o,s:I,s:I,s:I,s:b,s:b,s:o}", "id", p->page_id, "name",
                     p->name ? p->name : "", "timezone", p->timezone ? p->timezone : "",
                     "activated_at", api_time(p->activated_at), "daily_cap",
                     (json_int_t)p->daily_cap, "plan_quota", (json_int_t)p->plan_quota, "send_rate",
                     (json_int_t)p->send_rate, "has_access_token", p->has_token, "has_app_secret",
                     p->has_app_secret, "created_at", api_time(p->created_at));
}

struct page_acc {
    json_t *arr;
    const struct serve_user *user; /* a console user's Pages only; NULL: every Page */
};

static int add_page(const struct loa_page *p, void *ud)
{
    struct page_acc *a = ud;
    if (serve_user_page(a->user, p->page_id))
        json_array_append_new(a->arr, page_json(p));
    return 0;
}

void api_pages_list(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    struct loa_store *st = api_store(ctx, resp);
    if (!st)
        return;
    json_t *arr = json_array();
    struct page_acc acc = { arr, req->user };
    int rc = loa_store_page_list(st, add_page, &acc);
    if (rc < 0) {
        json_decref(arr);
        api_fail(resp, rc, NULL, "listing Pages");
        return;
    }
    api_reply(resp, 200, json_pack("{s:o}", "data", arr));
}

void api_pages_get(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    struct loa_page p;
    if (!api_page(ctx, req, resp, &p))
        return;
    api_reply(resp, 200, page_json(&p));
    loa_page_release(&p);
}

static bool timezone_ok(const char *tz)
{
    if (!*tz || strlen(tz) > 64 || strstr(tz, "..") || tz[0] == '/')
        return false;
    char path[128];
    snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", tz);
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    char magic[4];
    bool ok = fread(magic, 1, 4, f) == 4 && memcmp(magic, "TZif", 4) == 0;
    fclose(f);
    return ok;
}

/* Reads the writable fields of a Page from o into in; false with a 400 set. */
static bool read_page_input(json_t *o, struct loa_page_input *in, bool create,
                            struct loa_http_resp *resp)
{
    static const char *const known[] = { "id",         "name",      "access_token",
                                         "app_secret", "timezone",  "daily_cap",
                                         "plan_quota", "send_rate", "activated_at" };
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        bool found = false;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
            found |= strcmp(k, known[i]) == 0;
        if (!found || (!create && strcmp(k, "id") == 0)) {
            loa_http_error(resp, 400, k, "unknown field");
            return false;
        }
    }
    static const char *const strs[] = { "id", "name", "access_token", "app_secret", "timezone" };
    const char **dst[] = { &in->page_id, &in->name, &in->access_token, &in->app_secret,
                           &in->timezone };
    for (size_t i = 0; i < 5; i++) {
        v = json_object_get(o, strs[i]);
        if (!v)
            continue;
        const char *s = json_string_value(v);
        size_t len = s ? strlen(s) : 0;
        if (!s || !len || len > 1024 || !loa_utf8_valid(s, len)) {
            loa_http_error(resp, 400, strs[i], "must be a non-empty string of at most 1024 bytes");
            return false;
        }
        *dst[i] = s;
    }
    if (in->page_id && strspn(in->page_id, "0123456789") != strlen(in->page_id)) {
        loa_http_error(resp, 400, "id", "a Page id is digits only");
        return false;
    }
    if (in->timezone && !timezone_ok(in->timezone)) {
        loa_http_error(resp, 400, "timezone", "not an IANA time zone: %s", in->timezone);
        return false;
    }
    static const char *const nums[] = { "daily_cap", "plan_quota", "send_rate" };
    int64_t *ndst[] = { &in->daily_cap, &in->plan_quota, &in->send_rate };
    static const int64_t lo[] = { 1, 0, 1 }, hi[] = { 100000000, 1000000000, 100000 };
    for (size_t i = 0; i < 3; i++) {
        v = json_object_get(o, nums[i]);
        if (!v)
            continue;
        if (!json_is_integer(v) || json_integer_value(v) < lo[i] || json_integer_value(v) > hi[i]) {
            loa_http_error(resp, 400, nums[i], "must be an integer from %lld to %lld",
                           (long long)lo[i], (long long)hi[i]);
            return false;
        }
        *ndst[i] = (int64_t)json_integer_value(v);
    }
    v = json_object_get(o, "activated_at");
    if (v) {
        if (!json_is_string(v) || loa_time_parse(json_string_value(v), &in->activated_at) < 0) {
            loa_http_error(resp, 400, "activated_at", "must be an ISO 8601 time");
            return false;
        }
    }
    return true;
}

/* Creates or changes a Page, in a transaction of its own. */
static int put_page(struct loa_store *st, const struct loa_page_input *in)
{
    struct loa_txn *tx;
    int rc = loa_store_begin(st, &tx);
    return rc < 0 ? rc : loa_store_end(tx, loa_store_page_put(tx, in, loa_now_ms(), NULL));
}

void api_pages_create(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    struct serve_app *app = ctx;
    json_t *o = api_body(req, resp);
    if (!o)
        return;
    struct loa_page_input in = { .daily_cap = -1, .plan_quota = -1, .activated_at = -1 };
    struct loa_store *st = NULL;
    if (!read_page_input(o, &in, true, resp))
        goto out;
    if (!in.page_id) {
        loa_http_error(resp, 400, "id", "the Page id is required");
        goto out;
    }
    if (!in.access_token) {
        loa_http_error(resp, 400, "access_token", "the Page access token is required");
        goto out;
    }
    if (!(st = api_store(app, resp)))
        goto out;
    struct loa_page p;
    if (loa_store_page_get(st, in.page_id, &p) == 0) {
        loa_page_release(&p);
        loa_http_error(resp, 409, "id", "Page %s exists; change it with PATCH", in.page_id);
        goto out;
    }
    int rc = put_page(st, &in);
    if (rc == 0)
        rc = loa_store_page_get(st, in.page_id, &p);
    if (rc < 0) {
        api_fail(resp, rc, "id", "creating the Page");
        goto out;
    }
    atomic_store(&app->secrets_stale, true);
    api_reply(resp, 201, page_json(&p));
    loa_page_release(&p);
out:
    json_decref(o);
}

void api_pages_update(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    struct serve_app *app = ctx;
    struct loa_page p;
    if (!api_page(ctx, req, resp, &p))
        return;
    json_t *o = api_body(req, resp);
    if (!o) {
        loa_page_release(&p);
        return;
    }
    struct loa_page_input in = { .daily_cap = -1, .plan_quota = -1, .activated_at = -1 };
    if (!read_page_input(o, &in, false, resp))
        goto out;
    if ((in.access_token || in.app_secret) && req->role < LOA_ROLE_ADMIN) {
        loa_http_error(resp, 403, in.access_token ? "access_token" : "app_secret",
                       "changing a Page's secrets needs the admin role");
        goto out;
    }
    in.page_id = p.page_id;
    struct loa_store *st = api_store(app, resp);
    if (!st)
        goto out;
    int rc = put_page(st, &in);
    loa_page_release(&p);
    if (rc == 0)
        rc = loa_store_page_get(st, req->params[0], &p);
    if (rc < 0) {
        api_fail(resp, rc, NULL, "updating the Page");
        json_decref(o);
        return;
    }
    if (in.app_secret)
        atomic_store(&app->secrets_stale, true);
    api_reply(resp, 200, page_json(&p));
out:
    loa_page_release(&p);
    json_decref(o);
}
