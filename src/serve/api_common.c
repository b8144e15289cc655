/* SPDX-License-Identifier: MIT */
/*
 * Helpers of the REST handlers: JSON bodies in and out, and the one mapping from loa error
 * codes to HTTP statuses and JSON error bodies.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <loa/alloc.h>
#include <loa/clock.h>
#include <loa/err.h>

#include "serve_int.h"

json_t *api_body(const struct loa_http_req *req, struct loa_http_resp *resp)
{
    if (req->body_len == 0) {
        loa_http_error(resp, 400, "body", "a JSON object is required");
        return NULL;
    }
    json_error_t err;
    json_t *o = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &err);
    if (!o) {
        loa_http_error(resp, 400, "body", "malformed JSON at line %d column %d: %s", err.line,
                       err.column, err.text);
        return NULL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        loa_http_error(resp, 400, "body", "must be a JSON object");
        return NULL;
    }
    return o;
}

void api_reply(struct loa_http_resp *resp, int status, json_t *o)
{
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (!text) {
        loa_http_error(resp, 500, NULL, "cannot encode the response");
    } else {
        loa_http_json(resp, status, text);
        free(text); /* jansson allocates with malloc */
    }
    json_decref(o);
}

void api_fail(struct loa_http_resp *resp, int rc, const char *field, const char *what)
{
    switch (rc) {
    case LOA_ENOENT:
        loa_http_error(resp, 404, field, "%s not found", what);
        break;
    case LOA_EEXIST:
        loa_http_error(resp, 409, field, "%s already exists", what);
        break;
    case LOA_EINVAL:
    case LOA_EPARSE:
    case LOA_ERANGE:
        loa_http_error(resp, 400, field, "%s: invalid value", what);
        break;
    case LOA_ESTATE:
        loa_http_error(resp, 409, field, "%s: not possible in its current state", what);
        break;
    case LOA_ETOOBIG:
        loa_http_error(resp, 413, field, "%s: too large", what);
        break;
    case LOA_EBUSY:
    case LOA_EAGAIN:
        loa_http_error(resp, 503, NULL, "the store is busy; try again");
        break;
    default:
        loa_http_error(resp, 500, NULL, "%s failed: %s", what, loa_strerror(rc));
        break;
    }
}

struct loa_store *api_store(struct serve_app *app, struct loa_http_resp *resp)
{
    struct loa_store *st = serve_store(app);
    if (!st)
        loa_http_error(resp, 503, NULL, "the store cannot be opened");
    return st;
}

json_t *api_time(int64_t ms)
{
    if (ms <= 0)
        return json_null();
    char buf[40];
    loa_time_format(ms, buf, sizeof(buf));
    return json_string(buf);
}

bool api_parse_id(const char *s, int64_t *out)
{
    if (!s || *s < '0' || *s > '9')
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v <= 0)
        return false;
    *out = v;
    return true;
}

bool api_query_limit(const struct loa_http_req *req, struct loa_http_resp *resp, int64_t def,
                     int64_t max, int64_t *out)
{
    const char *l = loa_http_query(req, "limit");
    *out = def;
    if (l && (!api_parse_id(l, out) || *out > max)) {
        loa_http_error(resp, 400, "limit", "must be an integer from 1 to %lld", (long long)max);
        return false;
    }
    return true;
}

json_t *api_list_page(json_t *arr, int64_t want, const char *key)
{
    json_t *next = json_null();
    if ((int64_t)json_array_size(arr) > want) {
        json_array_remove(arr, (size_t)want);
        json_t *last = json_array_get(arr, (size_t)want - 1);
        char buf[32];
        snprintf(buf, sizeof(buf), "%lld",
                 (long long)json_integer_value(json_object_get(last, key)));
        json_decref(next);
        next = json_string(buf);
    }
    return json_pack("{s:o,s:o}", "data", arr, "next_cursor", next);
}

json_t *api_diags_json(int status, const struct loa_diags *d)
{
    json_t *errors = json_array();
    for (size_t i = 0; i < d->count; i++) {
        const struct loa_diag *x = &d->items[i];
        json_t *e = json_pack("{s:s,s:s}", "field", x->where ? x->where : "", "reason",
                              x->reason ? x->reason : "");
        if (x->line)
            json_object_set_new(e, "line", json_integer(x->line));
        if (x->column)
            json_object_set_new(e, "column", json_integer(x->column));
        json_array_append_new(errors, e);
    }
    const struct loa_diag *first = d->count ? &d->items[0] : NULL;
    json_t *o = json_object();
    json_object_set_new(o, "error",
                        json_pack("{s:i,s:s,s:s}", "status", status, "field",
                                  first && first->where ? first->where : "", "reason",
                                  first && first->reason ? first->reason : "invalid request"));
    json_object_set_new(o, "errors", errors);
    if (d->dropped)
        json_object_set_new(o, "errors_not_shown", json_integer((json_int_t)d->dropped));
    return o;
}

void api_reply_diags(struct loa_http_resp *resp, int status, const struct loa_diags *d)
{
    api_reply(resp, status, api_diags_json(status, d));
}

json_t *api_json_text(char *text)
{
    json_t *o = text ? json_loads(text, 0, NULL) : NULL;
    loa_free(text);
    return o;
}

bool api_page(struct serve_app *app, const struct loa_http_req *req, struct loa_http_resp *resp,
              struct loa_page *out)
{
    struct loa_store *st = api_store(app, resp);
    if (!st)
        return false;
    int rc = loa_store_page_get(st, req->params[0], out);
    if (rc < 0) {
        api_fail(resp, rc, "page_id", "Page");
        return false;
    }
    return true;
}

bool api_query_flag(const struct loa_http_req *req, struct loa_http_resp *resp, const char *name,
                    bool *out)
{
    const char *v = loa_http_query(req, name);
    *out = v && strcmp(v, "true") == 0;
    if (v && strcmp(v, "true") != 0 && strcmp(v, "false") != 0) {
        loa_http_error(resp, 400, name, "must be true or false");
        return false;
    }
    return true;
}
