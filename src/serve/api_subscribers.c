/* SPDX-License-Identifier: MIT */
/*
 * /api/v1/pages/{page_id}/subscribers (list with filters and a cursor; import a CSV, or preview
 * the import), /api/v1/subscribers/{id}
 * (get, change tags and attributes, delete) and the Page's tags (list with counts, rename,
 * delete, merge, add or remove for many people by PSID or filter). Tag changes go through the
 * audience module's loa_audience_tag_tx(), with the tag-added rule (sequence triggers) as its
 * callback, so one person or many are tagged the same way.
 */
#include <string.h>

#include <jansson.h>

#include <loa/alloc.h>
#include <loa/audience.h>
#include <loa/clock.h>
#include <loa/err.h>
#include <loa/import.h>
#include <loa/text.h>
#include <loa/utf8.h>

#include "serve_int.h"

#define PAGE_DEFAULT 50
#define PAGE_MAX     500

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *sub_json(const struct loa_subscriber *s, const char *tags)
{
    json_error_t err;
    json_t *attrs = json_loads(s->attrs ? s->attrs : "{}", 0, &err);
    json_t *o = json_pack(
        "{s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:b,s:b,s:o,s:o}", "id",
        (json_int_t)s->id, "psid", str_or_null(s->psid), "first_name", str_or_null(s->first_name),
        "last_name", str_or_null(s->last_name), "gender", str_or_null(s->gender), "locale",
        str_or_null(s->locale), "utc_offset_min",
        s->utc_offset_min == LOA_UTC_OFFSET_UNKNOWN ? json_null() : json_integer(s->utc_offset_min),
        "phone", str_or_null(s->phone), "email", str_or_null(s->email), "first_seen_at",
        api_time(s->first_seen_at), "last_interaction_at", api_time(s->last_interaction_at),
        "last_interaction_kind", str_or_null(s->last_interaction_kind), "first_after_ctm_ad",
        s->first_after_ctm_ad, "unreachable", s->unreachable, "attrs",
        attrs ? attrs : json_object(), "updated_at", api_time(s->updated_at));
    if (o && tags) {
        json_t *arr = json_array();
        const char *p = tags;
        while (*p) {
            const char *comma = strchr(p, ',');
            size_t n = comma ? (size_t)(comma - p) : strlen(p);
            json_array_append_new(arr, json_stringn(p, n));
            p += n + (comma ? 1 : 0);
        }
        json_object_set_new(o, "tags", arr);
    }
    return o;
}

struct list_ud {
    struct loa_store *st;
    json_t *arr;
    int64_t last_id;
};

static int add_sub(const struct loa_subscriber *s, void *ud)
{
    struct list_ud *l = ud;
    char *tags = NULL;
    loa_store_subscriber_tags(l->st, s->id, &tags);
    json_array_append_new(l->arr, sub_json(s, tags ? tags : ""));
    loa_free(tags);
    l->last_id = s->id;
    return 0;
}

void api_subscribers_list(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    struct loa_page p;
    if (!api_page(ctx, req, resp, &p))
        return;
    struct loa_subscriber_query q = { .page_ref = p.id };
    loa_page_release(&p);
    q.tag = loa_http_query(req, "tag");
    q.q = loa_http_query(req, "q");
    const char *hp = loa_http_query(req, "has_phone");
    if (hp) {
        if (strcmp(hp, "true") == 0)
            q.has_phone = 1;
        else if (strcmp(hp, "false") == 0)
            q.has_phone = -1;
        else {
            loa_http_error(resp, 400, "has_phone", "must be true or false");
            return;
        }
    }
    if ((q.q && strlen(q.q) > 200) || (q.tag && strlen(q.tag) > 200)) {
        loa_http_error(resp, 400, q.q && strlen(q.q) > 200 ? "q" : "tag", "too long");
        return;
    }
    const char *cursor = loa_http_query(req, "cursor");
    if (cursor && !api_parse_id(cursor, &q.after_id)) {
        loa_http_error(resp, 400, "cursor", "not a cursor from a previous page");
        return;
    }
    if (!api_query_limit(req, resp, PAGE_DEFAULT, PAGE_MAX, &q.limit))
        return;
    int64_t want = q.limit;
    q.limit = want + 1; /* one more tells whether there is a next page */
    struct loa_store *st = api_store(ctx, resp);
    if (!st)
        return;
    struct list_ud l = { .st = st, .arr = json_array() };
    int rc = loa_store_subscriber_list(st, &q, add_sub, &l);
    if (rc < 0) {
        json_decref(l.arr);
        api_fail(resp, rc, NULL, "listing subscribers");
        return;
    }
    api_reply(resp, 200, api_list_page(l.arr, want, "id"));
}

static bool sub_id(const struct loa_http_req *req, struct loa_http_resp *resp, int64_t *id)
{
    if (!api_parse_id(req->params[0], id)) {
        loa_http_error(resp, 400, "id", "a subscriber id is a positive integer");
        return false;
    }
    return true;
}

static int add_token(const struct loa_ntoken *t, void *ud)
{
    json_array_append_new(
        ud, json_pack("{s:I,s:o,s:o,s:o,s:o,s:o,s:s,s:o,s:o}", "id", (json_int_t)t->id, "title",
                      str_or_null(t->title), "payload", str_or_null(t->payload), "frequency",
                      str_or_null(t->frequency), "timezone", str_or_null(t->timezone), "expires_at",
                      api_time(t->expires_at), "status", t->status, "user_token_status",
                      str_or_null(t->user_token_status), "created_at", api_time(t->created_at)));
    return 0;
}

static void reply_sub(struct loa_store *st, int64_t id, int status, struct loa_http_resp *resp)
{
    struct loa_subscriber s;
    int rc = loa_store_subscriber_get(st, id, &s);
    if (rc < 0) {
        api_fail(resp, rc, "id", "subscriber");
        return;
    }
    char *tags = NULL;
    loa_store_subscriber_tags(st, id, &tags);
    json_t *o = sub_json(&s, tags ? tags : "");
    json_t *toks = json_array();
    if (s.psid)
        loa_store_ntoken_list(st, s.page_ref, s.psid, add_token, toks);
    json_object_set_new(o, "notification_tokens", toks);
    loa_free(tags);
    loa_subscriber_release(&s);
    api_reply(resp, status, o);
}

void api_subscribers_get(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    int64_t id;
    struct loa_store *st;
    if (!sub_id(req, resp, &id) || !(st = api_store(ctx, resp)))
        return;
    reply_sub(st, id, 200, resp);
}

static bool tag_name_ok(const char *t)
{
    size_t n = t ? strlen(t) : 0;
    return n > 0 && loa_utf8_valid(t, n) && loa_utf8_count(t, n) <= 64 && !strpbrk(t, ",;");
}

/* Validates a {"add":[...],"remove":[...]} tag change; false with 400 set. */
static bool tags_ok(json_t *tags, struct loa_http_resp *resp)
{
    if (!json_is_object(tags)) {
        loa_http_error(resp, 400, "tags", "must be an object with add and/or remove arrays");
        return false;
    }
    const char *k;
    json_t *v;
    json_object_foreach(tags, k, v) {
        char where[64];
        snprintf(where, sizeof(where), "tags.%s", k);
        if (strcmp(k, "add") != 0 && strcmp(k, "remove") != 0) {
            loa_http_error(resp, 400, where, "unknown field (add or remove)");
            return false;
        }
        if (!json_is_array(v) || json_array_size(v) > 100) {
            loa_http_error(resp, 400, where, "must be an array of at most 100 tag names");
            return false;
        }
        size_t i;
        json_t *t;
        json_array_foreach(v, i, t) {
            if (!tag_name_ok(json_string_value(t))) {
                snprintf(where, sizeof(where), "tags.%s[%zu]", k, i);
                loa_http_error(resp, 400, where,
                               "a tag name is 1 to 64 characters without ',' or ';'");
                return false;
            }
        }
    }
    return true;
}

/* The tag-added rule: the sequences that start when a person gets this tag. */
static int tag_added(struct loa_txn *tx, int64_t page_ref, int64_t subscriber_id, const char *tag,
                     void *ud)
{
    struct serve_app *app = ud;
    return loa_sequence_on_event(tx, &app->seq, page_ref, subscriber_id, LOA_SEQ_EVENT_TAG, tag,
                                 loa_now_ms());
}

void api_subscribers_update(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    struct serve_app *app = ctx;
    int64_t id;
    struct loa_store *st;
    if (!sub_id(req, resp, &id))
        return;
    json_t *o = api_body(req, resp);
    if (!o)
        return;
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        if (strcmp(k, "tags") != 0 && strcmp(k, "attrs") != 0) {
            loa_http_error(resp, 400, k, "unknown field (tags or attrs)");
            goto out;
        }
    }
    json_t *tags = json_object_get(o, "tags");
    json_t *attrs = json_object_get(o, "attrs");
    if (tags && !tags_ok(tags, resp))
        goto out;
    if (attrs && !json_is_object(attrs)) {
        loa_http_error(resp, 400, "attrs", "must be an object (a JSON merge patch: null removes)");
        goto out;
    }
    if (!(st = api_store(ctx, resp)))
        goto out;
    struct loa_subscriber s;
    int rc = loa_store_subscriber_get(st, id, &s);
    if (rc < 0) {
        api_fail(resp, rc, "id", "subscriber");
        goto out;
    }
    int64_t page_ref = s.page_ref;
    loa_subscriber_release(&s);
    struct loa_txn *tx;
    rc = loa_store_begin(st, &tx);
    if (rc < 0) {
        api_fail(resp, rc, attrs ? "attrs" : "tags", "changing the subscriber");
        goto out;
    }
    if (attrs) {
        /* Text typed decomposed is stored composed (NFC), as imports store it; NFC leaves
         * JSON's syntax as it is. */
        char *patch = json_dumps(attrs, JSON_COMPACT);
        char *nfc = loa_text_nfc(patch, strlen(patch));
        rc = loa_store_subscriber_patch_attrs(tx, id, nfc, loa_now_ms());
        loa_free(nfc);
        free(patch);
    }
    for (int which = 0; which < 2 && rc == 0 && tags; which++) {
        json_t *arr = json_object_get(tags, which == 0 ? "add" : "remove");
        size_t i;
        json_t *t;
        json_array_foreach(arr, i, t) {
            struct loa_audience_tagging tg = { .tag = json_string_value(t),
                                               .remove = which == 1,
                                               .ids = &id,
                                               .nids = 1,
                                               .on_added = tag_added,
                                               .ud = app };
            struct loa_audience_tag_report rep;
            struct loa_diags d;
            loa_diags_init(&d, 4);
            rc = loa_audience_tag_tx(tx, page_ref, &tg, &rep, &d);
            loa_diags_release(&d);
            loa_free(rep.tag);
            if (rc < 0)
                break;
        }
    }
    if ((rc = loa_store_end(tx, rc)) < 0) {
        api_fail(resp, rc, attrs ? "attrs" : "tags", "changing the subscriber");
        goto out;
    }
    reply_sub(st, id, 200, resp);
out:
    json_decref(o);
}

void api_subscribers_delete(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    int64_t id;
    struct loa_store *st;
    if (!sub_id(req, resp, &id) || !(st = api_store(ctx, resp)))
        return;
    struct loa_txn *tx;
    int rc = loa_store_begin(st, &tx);
    if (rc == 0)
        rc = loa_store_end(tx, loa_store_subscriber_delete(tx, id));
    if (rc < 0) {
        api_fail(resp, rc, "id", "subscriber");
        return;
    }
    resp->status = 204;
}

/* ---- Tags ------------------------------------------------------------------------------ */

static int add_tag(const char *name, int64_t count, void *ud)
{
    json_array_append_new(ud,
                          json_pack("{s:s,s:I}", "name", name, "subscribers", (json_int_t)count));
    return 0;
}

void api_tags_list(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    struct loa_page p;
    if (!api_page(ctx, req, resp, &p))
        return;
    json_t *arr = json_array();
    int rc = loa_store_tag_list(serve_store(ctx), p.id, add_tag, arr);
    loa_page_release(&p);
    if (rc < 0) {
        json_decref(arr);
        api_fail(resp, rc, NULL, "listing tags");
        return;
    }
    api_reply(resp, 200, json_pack("{s:o}", "data", arr));
}

void api_tags_rename(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    struct loa_page p;
    if (!api_page(ctx, req, resp, &p))
        return;
    json_t *o = api_body(req, resp);
    if (o) {
        const char *to = json_string_value(json_object_get(o, "name"));
        if (json_object_size(o) != 1 || !tag_name_ok(to)) {
            loa_http_error(resp, 400, "name",
                           "the body is {\"name\": NEW} with 1 to 64 characters without ',' "
                           "or ';'");
        } else {
            struct loa_txn *tx;
            int rc = loa_store_begin(serve_store(ctx), &tx);
            if (rc == 0)
                rc = loa_store_end(tx, loa_store_tag_rename(tx, p.id, req->params[1], to));
            if (rc < 0)
                api_fail(resp, rc, rc == LOA_EEXIST ? "name" : "tag",
                         rc == LOA_EEXIST ? "a tag with that name" : "the tag");
            else
                api_reply(resp, 200, json_pack("{s:s}", "name", to));
        }
        json_decref(o);
    }
    loa_page_release(&p);
}

void api_tags_delete(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    struct loa_page p;
    if (!api_page(ctx, req, resp, &p))
        return;
    struct loa_txn *tx;
    int rc = loa_store_begin(serve_store(ctx), &tx);
    if (rc == 0)
        rc = loa_store_end(tx, loa_store_tag_delete(tx, p.id, req->params[1]));
    loa_page_release(&p);
    if (rc < 0)
        api_fail(resp, rc, "tag", "the tag");
    else
        resp->status = 204;
}

/* POST /api/v1/pages/{page_id}/tags/{name}/merge {"into": NAME}: everyone tagged name gets
 * into, and name goes. */
void api_tags_merge(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    struct loa_page p;
    if (!api_page(ctx, req, resp, &p))
        return;
    json_t *o = api_body(req, resp);
    if (!o)
        goto out;
    const char *into = json_string_value(json_object_get(o, "into"));
    if (json_object_size(o) != 1 || !tag_name_ok(into)) {
        loa_http_error(resp, 400, "into",
                       "the body is {\"into\": TAG}, a tag name of 1 to 64 characters without "
                       "',' or ';'");
        goto out;
    }
    struct loa_store *st = serve_store(ctx);
    int64_t id;
    char *from_name = NULL, *into_name = NULL;
    int rc = loa_store_tag_find(st, p.id, req->params[1], &id, &from_name);
    if (rc == LOA_ENOENT) {
        loa_http_error(resp, 404, "tag", "no tag '%s' on this Page", req->params[1]);
        goto out;
    }
    if (rc == 0 && (rc = loa_store_tag_find(st, p.id, into, &id, &into_name)) == LOA_ENOENT) {
        loa_free(from_name);
        loa_http_error(resp, 404, "into", "no tag '%s' on this Page", into);
        goto out;
    }
    int64_t moved = 0;
    struct loa_txn *tx;
    if (rc == 0 && (rc = loa_store_begin(st, &tx)) == 0)
        rc = loa_store_end(tx, loa_store_tag_merge(tx, p.id, req->params[1], into, &moved));
    if (rc == LOA_EINVAL)
        loa_http_error(resp, 400, "into", "'%s' and '%s' are the same tag", req->params[1], into);
    else if (rc < 0)
        api_fail(resp, rc, "tag", "merging tags");
    else
        api_reply(resp, 200,
                  json_pack("{s:s,s:s,s:I}", "merged", from_name, "into", into_name, "moved",
                            (json_int_t)moved));
    loa_free(from_name);
    loa_free(into_name);
out:
    json_decref(o);
    loa_page_release(&p);
}

#define BULK_PSIDS_MAX 10000

/*
 * POST /api/v1/pages/{page_id}/tags/{name}/people
 *   {"action": "add"|"remove", "psids": [...] | "filter": {...}, "dry_run": bool}
 * One tag for many people, all or nothing; the answer counts who matched and who changed
 * (with dry_run: would change; nothing written).
 */
void api_tags_people(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    struct serve_app *app = ctx;
    struct loa_page p;
    if (!api_page(ctx, req, resp, &p))
        return;
    struct loa_diags d;
    loa_diags_init(&d, 20);
    struct loa_audience_node *filter = NULL;
    const char **psids = NULL;
    json_t *o = api_body(req, resp);
    if (!o)
        goto out;
    static const char *const keys[] = { "action", "psids", "filter", "dry_run" };
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        bool known = false;
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
            known |= strcmp(key, keys[i]) == 0;
        if (!known)
            loa_diags_add(&d, 0, 0, key, "unknown field (action, psids, filter, dry_run)");
    }
    const char *action = "add";
    if ((v = json_object_get(o, "action")) &&
        (!(action = json_string_value(v)) ||
         (strcmp(action, "add") != 0 && strcmp(action, "remove") != 0)))
        loa_diags_add(&d, 0, 0, "action", "must be \"add\" or \"remove\"");
    json_t *jp = json_object_get(o, "psids"), *jf = json_object_get(o, "filter");
    if (!jp == !jf)
        loa_diags_add(&d, 0, 0, jp ? "filter" : "psids",
                      "give either psids (a list of PSIDs) or filter (an audience filter)");
    size_t np = 0;
    if (jp) {
        if (!json_is_array(jp) || json_array_size(jp) == 0 ||
            json_array_size(jp) > BULK_PSIDS_MAX) {
            loa_diags_add(&d, 0, 0, "psids", "must be a list of 1 to %d PSIDs", BULK_PSIDS_MAX);
        } else {
            psids = loa_calloc(json_array_size(jp), sizeof(*psids));
            size_t i;
            json_t *e;
            json_array_foreach(jp, i, e) {
                const char *ps = json_string_value(e);
                if (!ps) {
                    char where[32];
                    snprintf(where, sizeof(where), "psids[%zu]", i);
                    loa_diags_add(&d, 0, 0, where, "must be a PSID (a string of digits)");
                    continue;
                }
                psids[np++] = ps;
            }
        }
    }
    if (jf) {
        char *text = json_dumps(jf, JSON_COMPACT);
        if (text)
            loa_audience_parse(text, strlen(text), loa_now_ms(), "filter", &filter, &d);
        free(text);
    }
    json_t *dr = json_object_get(o, "dry_run");
    if (dr && !json_is_boolean(dr))
        loa_diags_add(&d, 0, 0, "dry_run", "must be true or false");
    if (!loa_diags_empty(&d)) {
        api_reply_diags(resp, 400, &d);
        goto out;
    }
    struct loa_audience_tagging t = { .tag = req->params[1],
                                      .remove = strcmp(action, "remove") == 0,
                                      .psids = psids,
                                      .npsids = np,
                                      .filter = filter,
                                      .dry_run = json_is_true(dr),
                                      .on_added = tag_added,
                                      .ud = app };
    struct loa_audience_tag_report rep;
    int rc = loa_audience_tag(serve_store(ctx), p.id, &t, &rep, &d);
    if (rc == LOA_EINVAL)
        api_reply_diags(resp, 400, &d);
    else if (rc < 0)
        api_fail(resp, rc, "tag", "tagging");
    else
        api_reply(resp, 200,
                  json_pack("{s:s,s:s,s:I,s:I,s:b}", "tag", rep.tag ? rep.tag : t.tag, "action",
                            action, "matched", (json_int_t)rep.matched, "changed",
                            (json_int_t)rep.changed, "written", !t.dry_run));
    loa_free(rep.tag);
out:
    loa_free(psids);
    loa_audience_free(filter);
    loa_diags_release(&d);
    json_decref(o);
    loa_page_release(&p);
}

#define IMPORT_ERRORS_MAX 100

/*
 * POST /api/v1/pages/{page_id}/subscribers/import[?dry_run=true][&skip_invalid=true][&list=NAME]
 * with the CSV as the body, as a shop exported it (docs/import.md). The answer has the mapping
 * (column → field), the counts and every invalid row (line, column, field, reason); with
 * dry_run nothing is written. Without skip_invalid an invalid row writes nothing (400).
 */
void api_subscribers_import(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    struct serve_app *app = ctx;
    bool dry_run, skip_invalid;
    if (!api_query_flag(req, resp, "dry_run", &dry_run) ||
        !api_query_flag(req, resp, "skip_invalid", &skip_invalid))
        return;
    const char *list = loa_http_query(req, "list");
    if (list && (!*list || !loa_utf8_valid(list, strlen(list)) ||
                 loa_utf8_count(list, strlen(list)) > 64)) {
        loa_http_error(resp, 400, "list", "a list name is 1-64 characters");
        return;
    }
    if (req->body_len == 0) {
        loa_http_error(resp, 400, "body", "a CSV file with a header row is required");
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
    struct loa_import_opts o = { .data = req->body,
                                 .len = req->body_len,
                                 .page_ref = p.id,
                                 .list = list,
                                 .region = app->set->phone_region,
                                 .skip_invalid = skip_invalid,
                                 .dry_run = dry_run };
    struct loa_import_report rep;
    struct loa_diags d;
    loa_diags_init(&d, IMPORT_ERRORS_MAX);
    int rc = loa_import_csv(st, &o, &rep, &d);
    loa_page_release(&p);
    if (rc == LOA_EPARSE || (rc == LOA_EINVAL && !rep.written && !dry_run)) {
        api_reply_diags(resp, 400, &d);
    } else if (rc < 0 && rc != LOA_EINVAL) {
        api_fail(resp, rc, NULL, "importing");
    } else {
        json_t *cols = json_array();
        for (size_t i = 0; i < rep.ncolumns; i++) {
            const struct loa_import_column *c = &rep.columns[i];
            json_array_append_new(cols, json_pack("{s:I,s:s,s:s,s:o}", "column", (json_int_t)i + 1,
                                                  "header", c->header, "field",
                                                  loa_import_field_name(c->field), "attribute",
                                                  str_or_null(c->attr)));
        }
        json_t *errors = api_diags_json(400, &d);
        char sep[2] = { rep.separator, '\0' };
        json_t *out = json_pack(
            "{s:b,s:s,s:b,s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:O,s:I}", "written", rep.written,
            "separator", sep, "bom", rep.bom, "columns", cols, "rows", (json_int_t)rep.rows,
            "inserted", (json_int_t)rep.inserted, "updated", (json_int_t)rep.updated, "unchanged",
            (json_int_t)rep.unchanged, "invalid", (json_int_t)rep.invalid, "tags_added",
            (json_int_t)rep.tags_added, "listed", (json_int_t)rep.listed, "invalid_rows",
            json_object_get(errors, "errors"), "invalid_rows_not_shown", (json_int_t)d.dropped);
        json_decref(errors);
        api_reply(resp, 200, out);
    }
    loa_import_report_release(&rep);
    loa_diags_release(&d);
}
