/* SPDX-License-Identifier: MIT */
/*
 * /api/v1/pages/{page_id}/lists (CRM phone lists: upload a CSV, list with member counts) and
 * /api/v1/pages/{page_id}/audience/preview (count, reachability under the rules, who).
 * The filter language and the preview live in src/audience; this file only maps HTTP to them.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <loa/alloc.h>
#include <loa/audience.h>
#include <loa/buf.h>
#include <loa/clock.h>
#include <loa/err.h>
#include <loa/import.h>

#include "serve_int.h"

#define PREVIEW_DEFAULT 50
#define PREVIEW_MAX     500
#define MAX_ERRORS      100

/* ---- Lists -------------------------------------------------------------------------------- */

static int add_list(const char *name, int64_t members, int64_t created_at, void *ud)
{
    json_array_append_new(ud, json_pack("{s:s,s:I,s:o}", "name", name, "members",
                                        (json_int_t)members, "created_at", api_time(created_at)));
    return 0;
}

void api_lists_list(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    struct loa_page p;
    if (!api_page(ctx, req, resp, &p))
        return;
    struct loa_store *st = api_store(ctx, resp);
    json_t *arr = json_array();
    int rc = st ? loa_store_list_list(st, p.id, add_list, arr) : LOA_ESTORE;
    loa_page_release(&p);
    if (rc < 0) {
        json_decref(arr);
        if (st)
            api_fail(resp, rc, NULL, "listing lists");
        return;
    }
    api_reply(resp, 200, json_pack("{s:o}", "data", arr));
}

void api_lists_upload(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    struct serve_app *app = ctx;
    const char *name = loa_http_query(req, "name");
    if (!name || !*name) {
        loa_http_error(resp, 400, "name", "the list name is required (?name=...)");
        return;
    }
    bool replace, dry_run;
    if (!api_query_flag(req, resp, "replace", &replace) ||
        !api_query_flag(req, resp, "dry_run", &dry_run))
        return;
    if (req->body_len == 0) {
        loa_http_error(resp, 400, "body", "a CSV file with a phone column is required");
        return;
    }
    struct loa_page p;
    if (!api_page(ctx, req, resp, &p))
        return;
    struct loa_store *st = api_store(ctx, resp);
    if (!st) {
        loa_page_release(&p);
        return;
    }
    struct loa_phone_list_opts o = {
        .data = req->body,
        .len = req->body_len,
        .page_ref = p.id,
        .name = name,
        .region = app->set->phone_region,
        .replace = replace,
        .dry_run = dry_run,
    };
    struct loa_phone_list_report rep;
    struct loa_diags d;
    loa_diags_init(&d, MAX_ERRORS);
    int rc = loa_import_phone_list(st, &o, &rep, &d);
    loa_page_release(&p);
    if (rc == LOA_EPARSE || rc == LOA_EINVAL) {
        api_reply_diags(resp, 400, &d);
    } else if (rc < 0) {
        api_fail(resp, rc, NULL, "uploading the list");
    } else {
        json_t *errors = json_array();
        for (size_t i = 0; i < d.count; i++)
            json_array_append_new(errors, json_pack("{s:i,s:s}", "line", (int)d.items[i].line,
                                                    "reason", d.items[i].reason));
        json_t *out =
            json_pack("{s:{s:s,s:I,s:I,s:b},s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:I}", "list", "name", name,
                      "id", (json_int_t)rep.list_id, "members", (json_int_t)rep.members, "created",
                      rep.created, "rows", (json_int_t)rep.rows, "matched", (json_int_t)rep.matched,
                      "unmatched", (json_int_t)rep.unmatched, "invalid", (json_int_t)rep.invalid,
                      "duplicates", (json_int_t)rep.duplicates, "added", (json_int_t)rep.added,
                      "invalid_rows", errors, "invalid_rows_not_shown", (json_int_t)d.dropped);
        char sep[2] = { rep.separator, '\0' };
        json_object_set_new(out, "phone_column",
                            json_pack("{s:I,s:s}", "column", (json_int_t)rep.phone_column, "header",
                                      rep.phone_header));
        json_object_set_new(out, "separator", json_string(sep));
        json_object_set_new(out, "written", json_boolean(rep.written));
        api_reply(resp, rep.created && rep.written ? 201 : 200, out);
    }
    loa_diags_release(&d);
}

/* ---- Preview ------------------------------------------------------------------------------ */

static const char *const preview_keys[] = { "filter", "purpose", "structured", "limit",
                                            "cursor", "at",      "order" };

void api_audience_preview(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    struct serve_app *app = ctx;
    json_t *body = api_body(req, resp);
    if (!body)
        return;
    struct loa_audience_node *filter = NULL;
    struct loa_diags d;
    loa_diags_init(&d, MAX_ERRORS);
    struct loa_audience_preview_opts o = {
        .purpose = LOA_AUD_PROMOTIONAL,
        .limit = PREVIEW_DEFAULT,
        .recent_first = true,
        .at = loa_now_ms(),
    };
    /* The Page first: a time without an offset is read in its zone. */
    struct loa_page p;
    if (!api_page(ctx, req, resp, &p)) {
        json_decref(body);
        loa_diags_release(&d);
        return;
    }
    o.page_ref = p.id;
    o.page_activated = p.activated_at;
    char *tz = loa_strdup(p.timezone ? p.timezone : "");
    loa_page_release(&p);
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v) {
        bool known = false;
        for (size_t i = 0; i < sizeof(preview_keys) / sizeof(preview_keys[0]); i++)
            known |= strcmp(key, preview_keys[i]) == 0;
        if (!known)
            loa_diags_add(&d, 0, 0, key, "unknown field");
    }
    if ((v = json_object_get(body, "purpose"))) {
        const char *s = json_string_value(v);
        if (s && strcmp(s, "promotional") == 0)
            o.purpose = LOA_AUD_PROMOTIONAL;
        else if (s && strcmp(s, "non_promotional") == 0)
            o.purpose = LOA_AUD_NON_PROMOTIONAL;
        else
            loa_diags_add(&d, 0, 0, "purpose", "must be \"promotional\" or \"non_promotional\"");
    }
    if ((v = json_object_get(body, "structured"))) {
        if (json_is_boolean(v))
            o.structured = json_is_true(v);
        else
            loa_diags_add(&d, 0, 0, "structured", "must be true or false");
    }
    if ((v = json_object_get(body, "limit"))) {
        json_int_t l = json_is_integer(v) ? json_integer_value(v) : -1;
        if (l < 0 || l > PREVIEW_MAX)
            loa_diags_add(&d, 0, 0, "limit", "must be an integer from 0 to %d", PREVIEW_MAX);
        else
            o.limit = l;
    }
    if ((v = json_object_get(body, "cursor")) && !json_is_null(v)) {
        if (json_is_string(v))
            o.cursor = json_string_value(v);
        else
            loa_diags_add(&d, 0, 0, "cursor", "must be a cursor from a previous answer");
    }
    if ((v = json_object_get(body, "at")) && !json_is_null(v)) {
        int trc = json_is_string(v)
                      ? loa_time_parse_local(json_string_value(v), tz, loa_now_ms(), &o.at)
                      : LOA_EPARSE;
        if (trc == LOA_ERANGE)
            loa_diags_add(&d, 0, 0, "at", "that local time does not exist in the Page's zone");
        else if (trc < 0)
            loa_diags_add(&d, 0, 0, "at",
                          "must be a time such as \"2026-12-03 20:00\" (the Page's local time), "
                          "\"20:00\" (the next one) or with an offset");
    }
    if ((v = json_object_get(body, "order"))) {
        const char *s = json_string_value(v);
        if (s && strcmp(s, "recent") == 0)
            o.recent_first = true;
        else if (s && strcmp(s, "id") == 0)
            o.recent_first = false;
        else
            loa_diags_add(&d, 0, 0, "order", "must be \"recent\" or \"id\"");
    }
    json_t *fv = json_object_get(body, "filter");
    if (fv && !json_is_object(fv)) {
        loa_diags_add(&d, 0, 0, "filter",
                      "must be an object such as {\"tags\":{\"any\":[\"vip\"]}}");
    } else if (fv) {
        char *text = json_dumps(fv, JSON_COMPACT);
        if (text)
            loa_audience_parse(text, strlen(text), o.at, "filter", &filter, &d);
        free(text); /* jansson allocates with malloc */
    }
    if (!loa_diags_empty(&d)) {
        api_reply_diags(resp, 400, &d);
        goto out;
    }
    if (!app->rules) {
        loa_http_error(resp, 503, NULL, "the rules file is not loaded (see the log)");
        goto out;
    }
    struct loa_store *st = api_store(ctx, resp);
    if (!st)
        goto out;
    struct loa_audience_preview pv;
    int rc = loa_audience_preview(st, app->rules, filter, &o, &pv, &d);
    if (rc == LOA_EINVAL) {
        api_reply_diags(resp, 400, &d);
        goto out;
    }
    if (rc < 0) {
        api_fail(resp, rc, NULL, "the preview");
        goto out;
    }
    struct loa_buf b;
    loa_buf_init(&b, 64 * 1024 * 1024);
    if (loa_audience_preview_format(&pv, &b) == 0)
        loa_http_json(resp, 200, loa_buf_cstr(&b));
    else
        loa_http_error(resp, 500, NULL, "cannot encode the response");
    loa_buf_release(&b);
    loa_audience_preview_release(&pv);
out:
    loa_free(tz);
    loa_audience_free(filter);
    loa_diags_release(&d);
    json_decref(body);
}
