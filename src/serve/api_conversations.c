/* SPDX-License-Identifier: MIT */
/*
 * /api/v1/pages/{page_id}/conversations (most recent first, cursor "<last_message_ms>:<psid>")
 * and /api/v1/pages/{page_id}/conversations/{psid}/messages (oldest first, cursor = message id).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <loa/alloc.h>
#include <loa/err.h>

#include "serve_int.h"

#define PAGE_DEFAULT 50
#define PAGE_MAX     500

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

struct conv_ud {
    json_t *arr;
    int64_t want;
    char next[160];
};

static int add_conv(const struct loa_conversation *c, void *ud)
{
    struct conv_ud *u = ud;
    if ((int64_t)json_array_size(u->arr) == u->want) {
        /* One more than asked: there is a next page, starting after the last one kept. */
        json_t *last = json_array_get(u->arr, json_array_size(u->arr) - 1);
        snprintf(u->next, sizeof(u->next), "%lld:%s",
                 (long long)json_integer_value(json_object_get(last, "_at")),
                 json_string_value(json_object_get(last, "psid")));
        return 1;
    }
    json_t *o = json_pack(
        "{s:s,s:o,s:o,s:o,s:I,s:o,s:o,s:o,s:o,s:o,s:I}", "psid", c->psid, "subscriber_id",
        c->subscriber_id ? json_integer(c->subscriber_id) : json_null(), "first_name",
        str_or_null(c->first_name), "last_name", str_or_null(c->last_name), "message_count",
        (json_int_t)c->message_count, "last_message_at", api_time(c->last_message_at), "last_in_at",
        api_time(c->last_in_at), "last_text", str_or_null(c->last_text), "delivered_watermark",
        api_time(c->delivered_watermark), "read_watermark", api_time(c->read_watermark), "_at",
        (json_int_t)c->last_message_at);
    json_array_append_new(u->arr, o);
    return 0;
}

void api_conversations_list(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    struct loa_page p;
    if (!api_page(ctx, req, resp, &p))
        return;
    int64_t page_ref = p.id;
    loa_page_release(&p);
    int64_t limit, before = 0;
    if (!api_query_limit(req, resp, PAGE_DEFAULT, PAGE_MAX, &limit))
        return;
    const char *cursor = loa_http_query(req, "cursor");
    const char *before_psid = NULL;
    if (cursor) {
        const char *colon = strchr(cursor, ':');
        char num[24];
        size_t n = colon ? (size_t)(colon - cursor) : 0;
        if (!colon || n == 0 || n >= sizeof(num) || !colon[1]) {
            loa_http_error(resp, 400, "cursor", "not a cursor from a previous page");
            return;
        }
        memcpy(num, cursor, n);
        num[n] = '\0';
        if (!api_parse_id(num, &before)) {
            loa_http_error(resp, 400, "cursor", "not a cursor from a previous page");
            return;
        }
        before_psid = colon + 1;
    }
    struct conv_ud u = { .arr = json_array(), .want = limit };
    int rc = loa_store_conversation_list(serve_store(ctx), page_ref, before, before_psid, limit + 1,
                                         add_conv, &u);
    if (rc < 0) {
        json_decref(u.arr);
        api_fail(resp, rc, NULL, "listing conversations");
        return;
    }
    size_t i;
    json_t *o;
    json_array_foreach(u.arr, i, o) {
        json_object_del(o, "_at");
    }
    api_reply(resp, 200,
              json_pack("{s:o,s:o}", "data", u.arr, "next_cursor",
                        u.next[0] ? json_string(u.next) : json_null()));
}

struct msg_ud {
    json_t *arr;
    int64_t last_id;
};

static int add_msg(const struct loa_message *m, void *ud)
{
    struct msg_ud *u = ud;
    json_error_t err;
    json_t *att = m->attachments ? json_loads(m->attachments, 0, &err) : NULL;
    json_array_append_new(
        u->arr,
        json_pack("{s:I,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "id", (json_int_t)m->id,
                  "mid", m->mid, "direction", m->direction == LOA_DIR_OUT ? "out" : "in", "text",
                  str_or_null(m->text), "quick_reply_payload", str_or_null(m->quick_reply),
                  "attachments", att ? att : json_null(), "app_id", str_or_null(m->app_id),
                  "metadata", str_or_null(m->metadata), "sent_at", api_time(m->sent_at),
                  "delivered_at", api_time(m->delivered_at), "read_at", api_time(m->read_at),
                  "reaction", str_or_null(m->reaction)));
    u->last_id = m->id;
    return 0;
}

void api_conversations_messages(void *ctx, const struct loa_http_req *req,
                                struct loa_http_resp *resp)
{
    struct loa_page p;
    if (!api_page(ctx, req, resp, &p))
        return;
    int64_t page_ref = p.id;
    loa_page_release(&p);
    int64_t limit, after = 0;
    if (!api_query_limit(req, resp, PAGE_DEFAULT, PAGE_MAX, &limit))
        return;
    const char *cursor = loa_http_query(req, "cursor");
    if (cursor && !api_parse_id(cursor, &after)) {
        loa_http_error(resp, 400, "cursor", "not a cursor from a previous page");
        return;
    }
    struct msg_ud u = { .arr = json_array() };
    int rc = loa_store_message_list(serve_store(ctx), page_ref, req->params[1], after, limit + 1,
                                    add_msg, &u);
    if (rc < 0) {
        json_decref(u.arr);
        api_fail(resp, rc, NULL, "listing messages");
        return;
    }
    api_reply(resp, 200, api_list_page(u.arr, limit, "id"));
}
