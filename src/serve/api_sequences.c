/* SPDX-License-Identifier: MIT */
/*
 * /api/v1/sequence-groups and /api/v1/sequences: groups (create, rename, order, delete),
 * sequences with their steps (create, read with progress, edit live, delete), and the people in
 * them (enter one, a list or an audience filter with a count first; list; remove)
 * (docs/sequences.md, docs/api.md).
 *
 * A thin adapter over the sequence service (include/loa/sequence.h): the JSON shape of a
 * sequence, every check of it and what entering, leaving and editing do live there; this file
 * maps HTTP to it and wakes the dispatcher after a change so that due steps go at once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <loa/alloc.h>
#include <loa/clock.h>
#include <loa/dispatch.h>
#include <loa/err.h>
#include <loa/link.h>
#include <loa/sequence.h>
#include <loa/utf8.h>

#include "serve_int.h"

#define MAX_ERRORS       100
#define ENROL_LIST_MAX   1000
#define ENROL_LIST_DEF   100
#define ENROL_BATCH      1000
#define ENROL_IDS_MAX    10000
#define GROUP_NAME_CHARS 100

static void wake(struct serve_app *app)
{
    if (app->dispatch)
        loa_dispatch_wakeup(app->dispatch);
}

static bool path_id(const struct loa_http_req *req, struct loa_http_resp *resp, const char *what,
                    int64_t *id)
{
    if (!api_parse_id(req->params[0], id)) {
        loa_http_error(resp, 400, "id", "a %s id is a positive integer", what);
        return false;
    }
    return true;
}

/*
 * The sequence the path names, read into *s (the caller releases it), with its store and id;
 * false with the answer written (400 a bad id, 404 none, 503 no store).
 */
static bool path_sequence(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp,
                          int64_t *id, struct loa_store **st, struct loa_sequence *s)
{
    if (!path_id(req, resp, "sequence", id) || !(*st = api_store(ctx, resp)))
        return false;
    int rc = loa_store_sequence_get(*st, *id, s);
    if (rc < 0) {
        api_fail(resp, rc, "id", "sequence");
        return false;
    }
    return true;
}

/* The Page named by the query's page_id (0 when absent); false with the answer written. */
static bool query_page(struct loa_store *st, const struct loa_http_req *req,
                       struct loa_http_resp *resp, int64_t *ref)
{
    *ref = 0;
    const char *page_id = loa_http_query(req, "page_id");
    if (!page_id)
        return true;
    struct loa_page p;
    int rc = loa_store_page_get(st, page_id, &p);
    if (rc < 0) {
        api_fail(resp, rc, "page_id", "Page");
        return false;
    }
    *ref = p.id;
    loa_page_release(&p);
    return true;
}

/* The Facebook id of Page ref into out (size >= 72); "" when it cannot be read. */
static void page_id_of(struct loa_store *st, int64_t ref, char *out, size_t size)
{
    struct loa_page p;
    out[0] = '\0';
    if (loa_store_page_get_ref(st, ref, &p) == 0) {
        snprintf(out, size, "%s", p.page_id);
        loa_page_release(&p);
    }
}

/* ---- Groups ------------------------------------------------------------------------------- */

struct list_ud {
    struct loa_store *st;
    json_t *arr;
};

static int add_group(const struct loa_seq_group *g, void *ud)
{
    struct list_ud *l = ud;
    char page[72];
    page_id_of(l->st, g->page_ref, page, sizeof(page));
    json_array_append_new(l->arr, api_json_text(loa_seq_group_json(g, page)));
    return 0;
}

void api_seq_groups_list(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    struct loa_store *st = api_store(ctx, resp);
    int64_t ref;
    if (!st || !query_page(st, req, resp, &ref))
        return;
    struct list_ud l = { .st = st, .arr = json_array() };
    int rc = loa_store_seq_group_list(st, ref, add_group, &l);
    if (rc < 0) {
        json_decref(l.arr);
        api_fail(resp, rc, NULL, "listing sequence groups");
        return;
    }
    api_reply(resp, 200, json_pack("{s:o,s:n}", "data", l.arr, "next_cursor"));
}

static void reply_group(struct loa_store *st, int64_t id, int status, struct loa_http_resp *resp)
{
    struct loa_seq_group g;
    int rc = loa_store_seq_group_get(st, id, &g);
    if (rc < 0) {
        api_fail(resp, rc, "id", "sequence group");
        return;
    }
    char page[72];
    page_id_of(st, g.page_ref, page, sizeof(page));
    api_reply(resp, status, api_json_text(loa_seq_group_json(&g, page)));
    loa_seq_group_release(&g);
}

/* Reads name, one_at_a_time and position of a group body; every complaint into d. */
static void group_fields(json_t *o, bool create, const char **name, int *one, int64_t *position,
                         struct loa_diags *d)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        if (strcmp(k, "name") != 0 && strcmp(k, "one_at_a_time") != 0 &&
            strcmp(k, "position") != 0 && !(create && strcmp(k, "page_id") == 0))
            loa_diags_add(d, 0, 0, k, "unknown field");
    }
    *name = NULL;
    *one = -1;
    *position = -1;
    if ((v = json_object_get(o, "name"))) {
        const char *s = json_string_value(v);
        size_t chars = s ? loa_utf8_count(s, strlen(s)) : 0;
        if (!s || chars == 0 || chars > GROUP_NAME_CHARS)
            loa_diags_add(d, 0, 0, "name", "must be text of 1 to %d characters", GROUP_NAME_CHARS);
        else
            *name = s;
    } else if (create) {
        loa_diags_add(d, 0, 0, "name", "is required");
    }
    if ((v = json_object_get(o, "one_at_a_time"))) {
        if (!json_is_boolean(v))
            loa_diags_add(d, 0, 0, "one_at_a_time", "must be true or false");
        else
            *one = json_is_true(v);
    }
    if ((v = json_object_get(o, "position"))) {
        if (create || !json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) > 1000000)
            loa_diags_add(d, 0, 0, "position",
                          create ? "is set by the order of creation; change it afterwards"
                                 : "must be a whole number from 0 to 1000000");
        else
            *position = json_integer_value(v);
    }
}

void api_seq_groups_create(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    json_t *o = api_body(req, resp);
    if (!o)
        return;
    struct loa_store *st = api_store(ctx, resp);
    struct loa_diags d;
    loa_diags_init(&d, MAX_ERRORS);
    struct loa_page p = { 0 };
    if (!st)
        goto out;
    const char *page_id = json_string_value(json_object_get(o, "page_id"));
    int rc = page_id ? loa_store_page_get(st, page_id, &p) : LOA_ENOENT;
    if (rc == LOA_ENOENT)
        loa_diags_add(&d, 0, 0, "page_id",
                      page_id ? "no Page with this id (see GET /api/v1/pages)" : "is required");
    else if (rc < 0) {
        api_fail(resp, rc, NULL, "reading the Page");
        goto out;
    }
    const char *name;
    int one;
    int64_t position;
    group_fields(o, true, &name, &one, &position, &d);
    if (!loa_diags_empty(&d)) {
        api_reply_diags(resp, 400, &d);
        goto out;
    }
    int64_t id = 0;
    rc = loa_sequence_group_create(st, p.id, name, one > 0, loa_now_ms(), &id);
    if (rc < 0)
        api_fail(resp, rc, "name", "a sequence group with this name");
    else
        reply_group(st, id, 201, resp);
out:
    loa_page_release(&p);
    loa_diags_release(&d);
    json_decref(o);
}

void api_seq_groups_update(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    int64_t id;
    if (!path_id(req, resp, "sequence group", &id))
        return;
    json_t *o = api_body(req, resp);
    if (!o)
        return;
    struct loa_store *st = api_store(ctx, resp);
    struct loa_diags d;
    loa_diags_init(&d, MAX_ERRORS);
    const char *name;
    int one;
    int64_t position;
    group_fields(o, false, &name, &one, &position, &d);
    if (!st) {
    } else if (!loa_diags_empty(&d)) {
        api_reply_diags(resp, 400, &d);
    } else {
        int rc = loa_sequence_group_update(st, id, name, position, one, loa_now_ms());
        if (rc == LOA_EEXIST)
            api_fail(resp, rc, "name", "a sequence group with this name");
        else if (rc < 0)
            api_fail(resp, rc, "id", "sequence group");
        else
            reply_group(st, id, 200, resp);
    }
    loa_diags_release(&d);
    json_decref(o);
}

void api_seq_groups_delete(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    int64_t id;
    struct loa_store *st;
    if (!path_id(req, resp, "sequence group", &id) || !(st = api_store(ctx, resp)))
        return;
    int rc = loa_sequence_group_delete(st, id);
    if (rc < 0) {
        api_fail(resp, rc, "id", "sequence group");
        return;
    }
    resp->status = 204;
}

/* ---- Sequences ---------------------------------------------------------------------------- */

static int add_sequence(const struct loa_sequence *s, void *ud)
{
    struct list_ud *l = ud;
    char page[72];
    page_id_of(l->st, s->page_ref, page, sizeof(page));
    json_t *j = api_json_text(loa_sequence_json(s, page));
    json_object_del(j, "steps"); /* the list is a summary; GET /sequences/{id} has the steps */
    json_array_append_new(l->arr, j);
    return 0;
}

void api_sequences_list(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    struct loa_store *st = api_store(ctx, resp);
    int64_t ref;
    if (!st || !query_page(st, req, resp, &ref))
        return;
    struct list_ud l = { .st = st, .arr = json_array() };
    int rc = loa_store_sequence_list(st, ref, add_sequence, &l);
    if (rc < 0) {
        json_decref(l.arr);
        api_fail(resp, rc, NULL, "listing sequences");
        return;
    }
    api_reply(resp, 200, json_pack("{s:o,s:n}", "data", l.arr, "next_cursor"));
}

static void reply_sequence(struct loa_store *st, int64_t id, int status, struct loa_http_resp *resp)
{
    char *text = NULL;
    int rc = loa_sequence_describe(st, id, &text);
    if (rc < 0) {
        api_fail(resp, rc, "id", "sequence");
        return;
    }
    loa_http_json(resp, status, text);
    loa_free(text);
}

/* A group given in a body must be one of the sequence's Page. */
static bool group_ok(struct loa_store *st, const struct loa_sequence *s, struct loa_diags *d)
{
    if (!s->group_id)
        return true;
    struct loa_seq_group g;
    if (loa_store_seq_group_get(st, s->group_id, &g) < 0) {
        loa_diags_add(d, 0, 0, "group_id", "no sequence group with this id");
        return false;
    }
    bool ok = g.page_ref == s->page_ref;
    if (!ok)
        loa_diags_add(d, 0, 0, "group_id", "the group belongs to another Page");
    loa_seq_group_release(&g);
    return ok;
}

void api_sequences_create(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    struct serve_app *app = ctx;
    struct loa_store *st = api_store(app, resp);
    if (!st)
        return;
    struct loa_diags d;
    loa_diags_init(&d, MAX_ERRORS);
    struct loa_sequence s;
    char *page_id = NULL;
    struct loa_page p = { 0 };
    if (loa_sequence_parse(req->body, req->body_len, NULL, &s, &page_id, &d) < 0) {
        api_reply_diags(resp, 400, &d);
        goto out;
    }
    int rc = loa_store_page_get(st, page_id, &p);
    if (rc == LOA_ENOENT) {
        loa_diags_add(&d, 0, 0, "page_id", "no Page with this id (see GET /api/v1/pages)");
    } else if (rc < 0) {
        api_fail(resp, rc, NULL, "reading the Page");
        goto release;
    }
    s.page_ref = p.id;
    if (!loa_diags_empty(&d) || !group_ok(st, &s, &d)) {
        api_reply_diags(resp, 400, &d);
        goto release;
    }
    int64_t id = 0;
    rc = loa_sequence_create(st, &s, loa_now_ms(), &id);
    if (rc == LOA_EEXIST)
        loa_http_error(resp, 409, "name",
                       "the Page already has a sequence with this name or this triggers.ref");
    else if (rc < 0)
        api_fail(resp, rc, NULL, "creating the sequence");
    else
        reply_sequence(st, id, 201, resp);
release:
    loa_sequence_release(&s);
out:
    loa_page_release(&p);
    loa_free(page_id);
    loa_diags_release(&d);
}

void api_sequences_get(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    int64_t id;
    struct loa_store *st;
    if (!path_id(req, resp, "sequence", &id) || !(st = api_store(ctx, resp)))
        return;
    reply_sequence(st, id, 200, resp);
}

void api_sequences_update(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    struct serve_app *app = ctx;
    int64_t id;
    struct loa_store *st;
    struct loa_sequence cur;
    if (!path_sequence(app, req, resp, &id, &st, &cur))
        return;
    struct loa_diags d;
    loa_diags_init(&d, MAX_ERRORS);
    struct loa_sequence_parse_opts po = { .current = &cur };
    struct loa_sequence s;
    int rc;
    if (loa_sequence_parse(req->body, req->body_len, &po, &s, NULL, &d) < 0) {
        api_reply_diags(resp, 400, &d);
    } else {
        if (!group_ok(st, &s, &d)) {
            api_reply_diags(resp, 400, &d);
        } else if ((rc = loa_sequence_update(st, &app->seq, &s, loa_now_ms())) == LOA_EEXIST) {
            loa_http_error(resp, 409, "name",
                           "the Page already has a sequence with this name or this triggers.ref");
        } else if (rc < 0) {
            api_fail(resp, rc, "id", "sequence");
        } else {
            reply_sequence(st, id, 200, resp);
            wake(app);
        }
        loa_sequence_release(&s);
    }
    loa_sequence_release(&cur);
    loa_diags_release(&d);
}

void api_sequences_forecast(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    struct serve_app *app = ctx;
    int64_t id;
    struct loa_store *st;
    if (!path_id(req, resp, "sequence", &id) || !(st = api_store(app, resp)))
        return;
    if (!app->rules) {
        loa_http_error(resp, 503, NULL, "the rules file is not loaded (see the server's log)");
        return;
    }
    char *text = NULL;
    int rc = loa_sequence_forecast(st, &app->seq, id, app->set->dispatch_margin_s * 1000,
                                   loa_now_ms(), &text);
    if (rc < 0) {
        api_fail(resp, rc, "id", "sequence");
        return;
    }
    loa_http_json(resp, 200, text);
    loa_free(text);
}

void api_sequences_delete(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    int64_t id;
    struct loa_store *st;
    if (!path_id(req, resp, "sequence", &id) || !(st = api_store(ctx, resp)))
        return;
    int rc = loa_sequence_delete(st, id, loa_now_ms());
    if (rc < 0) {
        api_fail(resp, rc, "id", "sequence");
        return;
    }
    resp->status = 204;
}

/*
 * The sequence's m.me link (its triggers.ref) and the link's QR code as SVG text, for the
 * console to show and a shop to print: {"url","ref","qr_svg"}. 409 (field triggers.ref) when
 * the sequence has no ref. `loa sequence link ID --qr` writes the same code to a file.
 */
void api_sequences_link(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    int64_t id;
    struct loa_store *st;
    struct loa_sequence s;
    if (!path_sequence(ctx, req, resp, &id, &st, &s))
        return;
    char page[72];
    page_id_of(st, s.page_ref, page, sizeof(page));
    struct loa_buf url, svg;
    loa_buf_init(&url, 4096);
    loa_buf_init(&svg, 1024 * 1024);
    struct loa_diags d;
    loa_diags_init(&d, 10);
    struct loa_qr_opts qo = { .format = LOA_QR_SVG };
    if (!s.ref) {
        loa_http_error(resp, 409, "triggers.ref",
                       "the sequence has no triggers.ref: set one first");
    } else if (loa_link_mme(page, s.ref, &url, &d) < 0) {
        api_reply_diags(resp, 409, &d);
    } else if (loa_qr_image(loa_buf_cstr(&url), &qo, &svg) < 0) {
        api_fail(resp, LOA_ENOMEM, NULL, "drawing the QR code");
    } else {
        api_reply(resp, 200,
                  json_pack("{s:s,s:s,s:s%}", "url", loa_buf_cstr(&url), "ref", s.ref, "qr_svg",
                            (const char *)svg.ptr, svg.len));
    }
    loa_diags_release(&d);
    loa_buf_release(&svg);
    loa_buf_release(&url);
    loa_sequence_release(&s);
}

/* ---- People in a sequence ----------------------------------------------------------------- */

struct ids {
    int64_t *v;
    size_t n, cap;
};

static void ids_add(struct ids *ids, int64_t id)
{
    if (ids->n == ids->cap) {
        ids->cap = ids->cap ? ids->cap * 2 : 256;
        ids->v = loa_reallocarray(ids->v, ids->cap, sizeof(*ids->v));
    }
    ids->v[ids->n++] = id;
}

/*
 * The people a body names, as subscriber ids of Page page_ref: "subscriber_ids", "psids" or
 * "filter" (an audience filter, include/loa/audience.h). Complaints into d.
 */
static int body_people(struct loa_store *st, json_t *o, int64_t page_ref, bool allow_filter,
                       struct ids *out, struct loa_diags *d)
{
    json_t *subs = json_object_get(o, "subscriber_ids");
    json_t *psids = json_object_get(o, "psids");
    json_t *filter = allow_filter ? json_object_get(o, "filter") : NULL;
    if ((subs != NULL) + (psids != NULL) + (filter != NULL) != 1) {
        loa_diags_add(d, 0, 0, "body",
                      allow_filter ? "give exactly one of subscriber_ids, psids or filter"
                                   : "give exactly one of subscriber_ids or psids");
        return 0;
    }
    if (filter) {
        char *text = json_dumps(filter, JSON_COMPACT | JSON_ENCODE_ANY);
        int64_t *v = NULL;
        size_t n = 0;
        int rc = loa_sequence_people(st, page_ref, NULL, 0, NULL, text, loa_now_ms(), &v, &n, d);
        free(text); /* jansson allocates with malloc */
        for (size_t i = 0; i < n; i++)
            ids_add(out, v[i]);
        loa_free(v);
        return rc;
    }
    json_t *arr = subs ? subs : psids;
    const char *name = subs ? "subscriber_ids" : "psids";
    if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > ENROL_IDS_MAX) {
        loa_diags_add(d, 0, 0, name, "must be a list of 1 to %d %s", ENROL_IDS_MAX,
                      subs ? "subscriber ids" : "PSIDs");
        return 0;
    }
    size_t i;
    json_t *v;
    if (psids) {
        const char **list = loa_calloc(json_array_size(arr), sizeof(*list));
        json_array_foreach(arr, i, v) {
            list[i] = json_string_value(v);
            if (!list[i]) {
                char where[48];
                snprintf(where, sizeof(where), "psids[%zu]", i);
                loa_diags_add(d, 0, 0, where, "must be a PSID (text)");
                list[i] = "";
            }
        }
        int64_t *found = NULL;
        size_t n = 0;
        int rc = loa_sequence_people(st, page_ref, list, json_array_size(arr), "psids", NULL,
                                     loa_now_ms(), &found, &n, d);
        for (size_t k = 0; k < n; k++)
            ids_add(out, found[k]);
        loa_free(found);
        loa_free(list);
        return rc;
    }
    json_array_foreach(arr, i, v) {
        char where[48];
        snprintf(where, sizeof(where), "subscriber_ids[%zu]", i);
        struct loa_subscriber s;
        int rc = json_is_integer(v) && json_integer_value(v) > 0
                     ? loa_store_subscriber_get(st, json_integer_value(v), &s)
                     : LOA_EINVAL;
        if (rc == 0 && s.page_ref != page_ref) {
            loa_subscriber_release(&s);
            rc = LOA_ENOENT;
        }
        if (rc == LOA_EINVAL || rc == LOA_ENOENT) {
            loa_diags_add(d, 0, 0, where, "no subscriber of the sequence's Page with this id");
            continue;
        }
        if (rc < 0)
            return rc;
        ids_add(out, s.id);
        loa_subscriber_release(&s);
    }
    return 0;
}

void api_sequences_enrol(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    struct serve_app *app = ctx;
    int64_t id;
    if (!path_id(req, resp, "sequence", &id))
        return;
    json_t *o = api_body(req, resp);
    if (!o)
        return;
    struct loa_store *st = api_store(app, resp);
    struct loa_diags d;
    loa_diags_init(&d, MAX_ERRORS);
    struct ids ids = { 0 };
    struct loa_sequence s = { 0 };
    if (!st)
        goto out;
    int rc = loa_store_sequence_get(st, id, &s);
    if (rc < 0) {
        api_fail(resp, rc, "id", "sequence");
        goto out;
    }
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        if (strcmp(k, "subscriber_ids") != 0 && strcmp(k, "psids") != 0 &&
            strcmp(k, "filter") != 0 && strcmp(k, "dry_run") != 0 &&
            strcmp(k, "expected_count") != 0)
            loa_diags_add(&d, 0, 0, k, "unknown field");
    }
    json_t *dry = json_object_get(o, "dry_run"), *expect = json_object_get(o, "expected_count");
    if (dry && !json_is_boolean(dry))
        loa_diags_add(&d, 0, 0, "dry_run", "must be true or false");
    if (expect && (!json_is_integer(expect) || json_integer_value(expect) < 0))
        loa_diags_add(&d, 0, 0, "expected_count", "must be a whole number");
    if ((rc = body_people(st, o, s.page_ref, true, &ids, &d)) < 0) {
        api_fail(resp, rc, NULL, "reading the people");
        goto out;
    }
    if (!loa_diags_empty(&d)) {
        api_reply_diags(resp, 400, &d);
        goto out;
    }
    if (json_is_true(dry)) {
        api_reply(resp, 200,
                  json_pack("{s:I,s:I,s:b}", "count", (json_int_t)ids.n, "entered", (json_int_t)0,
                            "dry_run", 1));
        goto out;
    }
    if (expect && json_integer_value(expect) != (json_int_t)ids.n) {
        loa_http_error(resp, 409, "expected_count",
                       "the filter matches %zu people now, not %lld: count again before entering",
                       ids.n, (long long)json_integer_value(expect));
        goto out;
    }
    if (!s.active) {
        loa_http_error(resp, 409, "id", "the sequence is switched off; switch it on first");
        goto out;
    }
    int64_t entered = 0;
    for (size_t i = 0; i < ids.n && rc == 0; i += ENROL_BATCH) {
        size_t n = ids.n - i < ENROL_BATCH ? ids.n - i : ENROL_BATCH;
        int64_t e = 0;
        rc = loa_sequence_enter(st, &app->seq, id, ids.v + i, n, "api", loa_now_ms(), &e);
        entered += e;
    }
    if (rc < 0) {
        api_fail(resp, rc, NULL, "entering the people");
        goto out;
    }
    wake(app);
    api_reply(resp, 200,
              json_pack("{s:I,s:I,s:b}", "count", (json_int_t)ids.n, "entered", (json_int_t)entered,
                        "dry_run", 0));
out:
    loa_free(ids.v);
    loa_sequence_release(&s);
    loa_diags_release(&d);
    json_decref(o);
}

void api_sequences_remove(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    int64_t id;
    if (!path_id(req, resp, "sequence", &id))
        return;
    json_t *o = api_body(req, resp);
    if (!o)
        return;
    struct loa_store *st = api_store(ctx, resp);
    struct loa_diags d;
    loa_diags_init(&d, MAX_ERRORS);
    struct ids ids = { 0 };
    struct loa_sequence s = { 0 };
    int rc = st ? loa_store_sequence_get(st, id, &s) : LOA_ESTORE;
    if (!st) {
    } else if (rc < 0) {
        api_fail(resp, rc, "id", "sequence");
    } else if ((rc = body_people(st, o, s.page_ref, false, &ids, &d)) < 0) {
        api_fail(resp, rc, NULL, "reading the people");
    } else if (!loa_diags_empty(&d)) {
        api_reply_diags(resp, 400, &d);
    } else {
        int64_t removed = 0;
        rc = loa_sequence_leave(st, id, ids.v, ids.n, "api", loa_now_ms(), &removed);
        if (rc < 0)
            api_fail(resp, rc, NULL, "removing the people");
        else
            api_reply(resp, 200, json_pack("{s:I}", "removed", (json_int_t)removed));
    }
    loa_free(ids.v);
    loa_sequence_release(&s);
    loa_diags_release(&d);
    json_decref(o);
}

struct enrol_ud {
    json_t *arr;
};

static int add_enrolment(const struct loa_enrolment *e, void *ud)
{
    struct enrol_ud *u = ud;
    json_array_append_new(u->arr, api_json_text(loa_enrolment_json(e)));
    return 0;
}

void api_sequences_enrolments(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    int64_t id, want, after = 0, step = 0;
    unsigned mask = 0;
    if (!path_id(req, resp, "sequence", &id) ||
        !api_query_limit(req, resp, ENROL_LIST_DEF, ENROL_LIST_MAX, &want))
        return;
    const char *a = loa_http_query(req, "after"), *sp = loa_http_query(req, "step_id");
    if (a && !api_parse_id(a, &after)) {
        loa_http_error(resp, 400, "after", "must be an enrolment id (next_cursor)");
        return;
    }
    if (sp && !api_parse_id(sp, &step)) {
        loa_http_error(resp, 400, "step_id", "must be a step id");
        return;
    }
    const char *state = loa_http_query(req, "state");
    if (state) {
        char buf[128];
        snprintf(buf, sizeof(buf), "%s", state);
        for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            int i = 0;
            while (i < LOA_ENROL_STATE_COUNT &&
                   strcmp(t, loa_enrol_state_name((enum loa_enrol_state)i)) != 0)
                i++;
            if (i == LOA_ENROL_STATE_COUNT) {
                loa_http_error(resp, 400, "state",
                               "must be waiting, queued, finished or removed (or several, "
                               "comma-separated)");
                return;
            }
            mask |= 1u << i;
        }
    }
    struct loa_store *st = api_store(ctx, resp);
    if (!st)
        return;
    struct loa_sequence s;
    int rc = loa_store_sequence_get(st, id, &s);
    if (rc < 0) {
        api_fail(resp, rc, "id", "sequence");
        return;
    }
    loa_sequence_release(&s);
    struct enrol_ud u = { .arr = json_array() };
    rc = loa_store_enrol_list(st, 0, id, 0, mask, step, after, want + 1, add_enrolment, &u);
    if (rc < 0) {
        json_decref(u.arr);
        api_fail(resp, rc, NULL, "listing the people");
        return;
    }
    api_reply(resp, 200, api_list_page(u.arr, want, "id"));
}
