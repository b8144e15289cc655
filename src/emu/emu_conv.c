/* SPDX-License-Identifier: MIT */
/*
 * The Conversations API, answered from the log of messages loa-graph accepted (emu_log.c):
 *
 *   GET {page-id}/conversations?platform=messenger[&user_id={psid}]
 *       {"data":[{"id":"t_<page>_<psid>","updated_time":"..."}]}: the Page's conversations
 *       with people it has sent to or who acted, or the one with user_id (none: "data":[]).
 *   GET t_<page>_<psid>/messages?fields=id,created_time,from,to,message&limit=&after=
 *       the Page's messages to the person, newest first, `limit` (default 25, at most 100) a
 *       page, with Graph's paging object ("cursors" and "next" while older ones remain).
 *
 * The log holds what the Page sent; messages the simulated people write are not in it. Token
 * checks, faults and the 2 calls/s per Page limit are the caller's (emu_send.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <loa/alloc.h>

#include "emu_int.h"

#define LIMIT_DEFAULT 25
#define LIMIT_MAX     100

static void put_time(struct loa_buf *b, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char s[40];
    strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S+0000", &tm);
    emu_buf_json_str(b, s);
}

static void put_conversation(struct loa_buf *b, const struct emu_page *page,
                             const struct emu_person *p, int64_t updated)
{
    loa_buf_printf(b, "{\"id\":\"t_%s_%s\",\"updated_time\":", page->id, p->psid);
    put_time(b, updated);
    loa_buf_putc(b, '}');
}

/* When the person's conversation last changed; -1 when they have none with the Page. */
static int64_t conversation_at(struct emu_person *p)
{
    pthread_mutex_lock(&p->lock);
    int64_t at = p->last_sent_ms > p->last_action_ms ? p->last_sent_ms : p->last_action_ms;
    pthread_mutex_unlock(&p->lock);
    return at;
}

void emu_conv_list(struct emu *emu, const struct emu_request *req, struct emu_page *page,
                   struct emu_reply *out)
{
    (void)emu;
    const char *platform = req->query(req->query_ctx, "platform");
    if (platform && strcmp(platform, "messenger") != 0) {
        emu_reply_graph_error(out, 400, 100, 0,
                              "(#100) platform must be messenger (loa-graph emulates Messenger)");
        return;
    }
    const char *user = req->query(req->query_ctx, "user_id");
    loa_buf_reset(&out->body);
    out->status = 200;
    loa_buf_puts(&out->body, "{\"data\":[");
    if (user) {
        struct emu_person *p = emu_person_get(page, user);
        int64_t at = p ? conversation_at(p) : -1;
        if (at >= 0)
            put_conversation(&out->body, page, p, at);
    } else {
        bool first = true;
        for (struct emu_person *p = page->people; p; p = p->hh.next) {
            int64_t at = conversation_at(p);
            if (at < 0)
                continue;
            if (!first)
                loa_buf_putc(&out->body, ',');
            first = false;
            put_conversation(&out->body, page, p, at);
        }
    }
    loa_buf_puts(&out->body, "]}");
}

static bool wants(const char *fields, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = fields; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0)
            return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

/* The first field of fields that messages do not have (emulated), or NULL. */
static const char *bad_field(const char *fields, char *out, size_t size)
{
    static const char *const known[] = { "id", "created_time", "from", "to", "message" };
    for (const char *p = fields; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        bool ok = len == 0;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]) && !ok; i++)
            ok = strlen(known[i]) == len && strncmp(p, known[i], len) == 0;
        if (!ok) {
            snprintf(out, size, "%.*s", (int)(len < 60 ? len : 60), p);
            return out;
        }
        p = end ? end + 1 : NULL;
    }
    return NULL;
}

/* The text of a logged request ("" for attachments and templates). */
static char *logged_text(const struct emu_log_entry *e)
{
    json_t *j = json_loads(e->body ? e->body : "{}", 0, NULL);
    const json_t *m = json_object_get(j, "message");
    if (json_is_string(m)) { /* a form post keeps message as JSON text */
        json_t *inner = json_loads(json_string_value(m), 0, NULL);
        json_decref(j);
        j = inner;
        m = j;
    }
    const char *t = json_string_value(json_object_get(m, "text"));
    char *s = loa_strdup(t ? t : "");
    json_decref(j);
    return s;
}

static void put_message(struct emu *emu, struct loa_buf *b, const char *fields,
                        const struct emu_page *page, const struct emu_log_entry *e)
{
    char mid[64];
    emu_mid_format(&emu->log, e->seq, mid, sizeof(mid));
    loa_buf_printf(b, "{\"id\":\"%s\"", mid);
    if (wants(fields, "created_time")) {
        loa_buf_puts(b, ",\"created_time\":");
        put_time(b, e->at_ms);
    }
    if (wants(fields, "from")) {
        loa_buf_puts(b, ",\"from\":{\"name\":");
        emu_buf_json_str(b, page->name ? page->name : "");
        loa_buf_printf(b, ",\"email\":\"%s@facebook.com\",\"id\":\"%s\"}", page->id, page->id);
    }
    if (wants(fields, "to"))
        loa_buf_printf(b, ",\"to\":{\"data\":[{\"id\":\"%s\"}]}", e->person->psid);
    if (wants(fields, "message")) {
        char *text = logged_text(e);
        loa_buf_puts(b, ",\"message\":");
        emu_buf_json_str(b, text);
        loa_free(text);
    }
    loa_buf_putc(b, '}');
}

void emu_conv_messages(struct emu *emu, const struct emu_request *req, struct emu_page *page,
                       const char *conversation_id, struct emu_reply *out)
{
    size_t plen = strlen(page->id);
    struct emu_person *p = NULL;
    if (strncmp(conversation_id, "t_", 2) == 0 &&
        strncmp(conversation_id + 2, page->id, plen) == 0 && conversation_id[2 + plen] == '_')
        p = emu_person_get(page, conversation_id + 3 + plen);
    if (!p || conversation_at(p) < 0) {
        char msg[320];
        snprintf(msg, sizeof(msg),
                 "Unsupported get request. Object with ID '%.64s' does not exist, cannot be "
                 "loaded due to missing permissions, or does not support this operation.",
                 conversation_id);
        emu_reply_graph_error(out, 400, 100, 33, msg);
        return;
    }
    const char *fields = req->query(req->query_ctx, "fields");
    char bad[64];
    if (fields && bad_field(fields, bad, sizeof(bad))) {
        char msg[128];
        snprintf(msg, sizeof(msg), "(#100) Tried accessing nonexisting field (%s)", bad);
        emu_reply_graph_error(out, 400, 100, 0, msg);
        return;
    }
    if (!fields || !*fields)
        fields = "id,created_time";
    const char *ls = req->query(req->query_ctx, "limit");
    const char *as = req->query(req->query_ctx, "after");
    long limit = ls ? strtol(ls, NULL, 10) : LIMIT_DEFAULT;
    if (limit <= 0 || limit > LIMIT_MAX)
        limit = limit <= 0 ? LIMIT_DEFAULT : LIMIT_MAX;
    int64_t below = as && *as ? strtoll(as, NULL, 10) : INT64_MAX; /* the cursor is a seq */
    loa_buf_reset(&out->body);
    out->status = 200;
    struct loa_buf *b = &out->body;
    loa_buf_puts(b, "{\"data\":[");
    long n = 0;
    int64_t first = 0, last = 0;
    bool more = false;
    for (int64_t seq = atomic_load(&emu->log.count); seq >= 1; seq--) {
        const struct emu_log_entry *e = emu_log_get(&emu->log, seq);
        if (!e || e->person != p || seq >= below)
            continue;
        if (n == limit) {
            more = true;
            break;
        }
        if (n++)
            loa_buf_putc(b, ',');
        put_message(emu, b, fields, page, e);
        if (!first)
            first = seq;
        last = seq;
    }
    loa_buf_puts(b, "]");
    if (n > 0) {
        loa_buf_printf(b, ",\"paging\":{\"cursors\":{\"before\":\"%lld\",\"after\":\"%lld\"}",
                       (long long)first, (long long)last);
        if (more)
            loa_buf_printf(b, ",\"next\":\"/%s/messages?fields=%s&limit=%ld&after=%lld\"",
                           conversation_id, fields, limit, (long long)last);
        loa_buf_putc(b, '}');
    }
    loa_buf_putc(b, '}');
}
