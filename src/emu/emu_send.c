/* SPDX-License-Identifier: MIT */
/*
 * The Graph API side: the Send API (POST me/messages, {page-id}/messages), profile look-ups
 * (GET {psid}), Page info (GET me) and Graph batch (POST / with batch=[...]).
 *
 * The hot path is a valid text send: one JSON parse, three hash look-ups, the rules under the
 * person's lock, one log append and a response formatted into a buffer. Webhook work happens
 * only when a webhook URL or simulated users are configured.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <loa/alloc.h>

#include "emu_int.h"

#define APP_ID "424242424242424"

/* ---- form decoding ------------------------------------------------------------------------ */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes s[0..len) (percent escapes, '+' = space) into a new string. */
static char *url_decode(const char *s, size_t len)
{
    char *out = loa_malloc(len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] == '%' && i + 2 < len && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

json_t *emu_form_parse(const char *s, size_t len)
{
    json_t *obj = json_object();
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && s[end] != '&')
            end++;
        size_t eq = i;
        while (eq < end && s[eq] != '=')
            eq++;
        if (eq > i) {
            char *k = url_decode(s + i, eq - i);
            char *v = eq < end ? url_decode(s + eq + 1, end - eq - 1) : loa_strdup("");
            json_t *js = json_string(v);
            if (js)
                json_object_set_new(obj, k, js);
            loa_free(k);
            loa_free(v);
        }
        i = end + 1;
    }
    return obj;
}

/* ---- request helpers ---------------------------------------------------------------------- */

static bool is_form(const struct emu_request *req)
{
    return req->content_type &&
           strncasecmp(req->content_type, "application/x-www-form-urlencoded", 33) == 0;
}

/* Turns a form field that holds JSON text (recipient, message) into JSON. */
static void unwrap_json_field(json_t *root, const char *key)
{
    const char *s = json_string_value(json_object_get(root, key));
    if (!s)
        return;
    json_t *v = json_loads(s, JSON_DECODE_ANY, NULL);
    if (v)
        json_object_set_new(root, key, v);
}

/* Parses the body as JSON or form fields. Returns NULL (and fills out) on malformed input. */
static json_t *parse_body(const struct emu_request *req, struct emu_reply *out)
{
    json_t *root;
    if (is_form(req)) {
        root = emu_form_parse(req->body, req->body_len);
        unwrap_json_field(root, "recipient");
        unwrap_json_field(root, "message");
        unwrap_json_field(root, "batch");
        return root;
    }
    if (req->body_len == 0)
        return json_object();
    json_error_t jerr;
    root = json_loadb(req->body, req->body_len, 0, &jerr);
    if (!root || !json_is_object(root)) {
        char msg[256];
        if (root)
            snprintf(msg, sizeof(msg), "(#100) The request body must be a JSON object");
        else
            snprintf(msg, sizeof(msg), "(#100) The request body is not valid JSON: %s", jerr.text);
        emu_reply_graph_error(out, 400, 100, 0, msg);
        json_decref(root);
        return NULL;
    }
    return root;
}

static const char *find_token(const struct emu_request *req, const json_t *body)
{
    const char *t = req->query(req->query_ctx, "access_token");
    if (t && *t)
        return t;
    t = json_string_value(json_object_get(body, "access_token"));
    if (t && *t)
        return t;
    if (req->authorization && strncasecmp(req->authorization, "Bearer ", 7) == 0)
        return req->authorization + 7;
    if (req->authorization && strncasecmp(req->authorization, "OAuth ", 6) == 0)
        return req->authorization + 6;
    return req->default_token;
}

static void bad_token(struct emu *emu, struct emu_reply *out)
{
    atomic_fetch_add_explicit(&emu->stats.refused, 1, memory_order_relaxed);
    emu_reply_graph_error(out, 400, 190, 0,
                          "Invalid OAuth access token - Cannot parse access token");
}

static void rate_limited(struct emu *emu, struct emu_reply *out)
{
    atomic_fetch_add_explicit(&emu->stats.rate_limited, 1, memory_order_relaxed);
    emu_reply_graph_error(out, 400, 613, 2534040,
                          "(#613) Calls to this api have exceeded the rate limit.");
}

/* Rolls the injected faults for a request to page; true when one replaced the answer. */
static bool inject_fault(struct emu *emu, const struct emu_page *page, struct emu_fault_hit *hit,
                         struct emu_reply *out)
{
    if (!hit)
        return false;
    emu_faults_roll(&emu->faults, page->id, hit);
    if (!hit->drop && !hit->code)
        return false;
    atomic_fetch_add_explicit(&emu->stats.faults_injected, 1, memory_order_relaxed);
    if (hit->code) {
        int status =
            hit->http_status ? hit->http_status : (hit->code == 1 || hit->code == 2 ? 500 : 400);
        emu_reply_graph_error(out, status, hit->code, hit->subcode,
                              "(#injected) An error injected by loa-graph");
    }
    return true;
}

/* ---- webhooks after an accepted send ------------------------------------------------------ */

/* The first postback payload of a message (button template, generic elements) or quick reply. */
static const char *find_click(const json_t *message, bool *quick)
{
    const json_t *qrs = json_object_get(message, "quick_replies");
    if (json_array_size(qrs) > 0) {
        *quick = true;
        return json_string_value(json_object_get(json_array_get(qrs, 0), "payload"));
    }
    *quick = false;
    const json_t *payload = json_object_get(json_object_get(message, "attachment"), "payload");
    const json_t *buttons = json_object_get(payload, "buttons");
    if (!buttons)
        buttons =
            json_object_get(json_array_get(json_object_get(payload, "elements"), 0), "buttons");
    size_t i;
    const json_t *b;
    json_array_foreach(buttons, i, b) {
        const char *type = json_string_value(json_object_get(b, "type"));
        if (type && strcmp(type, "postback") == 0)
            return json_string_value(json_object_get(b, "payload"));
    }
    return NULL;
}

static void queue_followups(struct emu *emu, const struct emu_page *page,
                            const struct emu_person *p, const json_t *message, const char *mid,
                            int64_t now)
{
    struct emu_config *c = &emu->config;
    if (atomic_load_explicit(&c->has_webhook, memory_order_relaxed)) {
        int ddelay = atomic_load(&c->delivery_delay_ms);
        int rdelay = atomic_load(&c->read_delay_ms);
        struct loa_buf b;
        loa_buf_init(&b, EMU_BODY_MAX);
        if (atomic_load(&c->echo)) {
            loa_buf_puts(&b, "{\"sender\":{\"id\":");
            emu_buf_json_str(&b, page->id);
            loa_buf_puts(&b, "},\"recipient\":{\"id\":");
            emu_buf_json_str(&b, p->psid);
            loa_buf_printf(&b,
                           "},\"timestamp\":%" PRId64 ",\"message\":{\"is_echo\":true,"
                           "\"app_id\":" APP_ID ",\"mid\":",
                           now);
            emu_buf_json_str(&b, mid);
            const char *meta = json_string_value(json_object_get(message, "metadata"));
            if (meta) {
                loa_buf_puts(&b, ",\"metadata\":");
                emu_buf_json_str(&b, meta);
            }
            const char *text = json_string_value(json_object_get(message, "text"));
            if (text) {
                loa_buf_puts(&b, ",\"text\":");
                emu_buf_json_str(&b, text);
            }
            const json_t *att = json_object_get(message, "attachment");
            if (att) {
                char *s = json_dumps(att, JSON_COMPACT);
                if (s) {
                    loa_buf_printf(&b, ",\"attachments\":[%s]", s);
                    free(s);
                }
            }
            loa_buf_puts(&b, "}}");
            emu_webhook_queue(emu->webhook, page->id, loa_buf_detach(&b), 0);
        }
        if (emu_roll_ppm(atomic_load(&c->delivery_ppm))) {
            loa_buf_reset(&b);
            loa_buf_puts(&b, "{\"sender\":{\"id\":");
            emu_buf_json_str(&b, p->psid);
            loa_buf_puts(&b, "},\"recipient\":{\"id\":");
            emu_buf_json_str(&b, page->id);
            loa_buf_printf(&b, "},\"timestamp\":%" PRId64 ",\"delivery\":{\"mids\":[",
                           now + ddelay);
            emu_buf_json_str(&b, mid);
            loa_buf_printf(&b, "],\"watermark\":%" PRId64 "}}", now);
            emu_webhook_queue(emu->webhook, page->id, loa_buf_detach(&b), ddelay);
            if (emu_roll_ppm(atomic_load(&c->read_ppm))) {
                loa_buf_puts(&b, "{\"sender\":{\"id\":");
                emu_buf_json_str(&b, p->psid);
                loa_buf_puts(&b, "},\"recipient\":{\"id\":");
                emu_buf_json_str(&b, page->id);
                loa_buf_printf(&b,
                               "},\"timestamp\":%" PRId64 ",\"read\":{\"watermark\":%" PRId64 "}}",
                               now + ddelay + rdelay, now);
                emu_webhook_queue(emu->webhook, page->id, loa_buf_detach(&b), ddelay + rdelay);
            }
        }
        loa_buf_release(&b);
    }
    uint32_t reply = atomic_load_explicit(&c->reply_ppm, memory_order_relaxed);
    uint32_t click = atomic_load_explicit(&c->click_ppm, memory_order_relaxed);
    int later = atomic_load(&c->delivery_delay_ms) + atomic_load(&c->read_delay_ms) + 100;
    if (click && emu_roll_ppm(click)) {
        bool quick = false;
        const char *payload = find_click(message, &quick);
        if (payload)
            emu_webhook_queue_action(emu->webhook, page->id, p->psid,
                                     quick ? EMU_ACT_QUICK_REPLY : EMU_ACT_POSTBACK, payload,
                                     later);
    }
    if (reply && emu_roll_ppm(reply))
        emu_webhook_queue_action(emu->webhook, page->id, p->psid, EMU_ACT_MESSAGE, NULL,
                                 later + 50);
}

/* ---- Send API ----------------------------------------------------------------------------- */

static void count_refusal(struct emu *emu, enum emu_rule rule)
{
    atomic_fetch_add_explicit(&emu->stats.refused, 1, memory_order_relaxed);
    if (rule != EMU_RULE_NONE) {
        atomic_fetch_add_explicit(&emu->stats.violations, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&emu->stats.by_rule[rule], 1, memory_order_relaxed);
    }
}

/* Sends with the state lock held for reading. */
static void send_locked(struct emu *emu, const struct emu_request *req, const char *path_id,
                        json_t *root, struct emu_reply *out, struct emu_fault_hit *hit)
{
    const char *token = find_token(req, root);
    struct emu_page *page = token ? emu_page_by_token(emu, token) : NULL;
    if (!page || (strcmp(path_id, "me") != 0 && strcmp(path_id, page->id) != 0)) {
        bad_token(emu, out);
        return;
    }
    if (inject_fault(emu, page, hit, out))
        return;
    double rate =
        (double)atomic_load_explicit(&emu->config.rate_limit_milli, memory_order_relaxed) / 1000.0;
    if (!emu_rate_take(page, rate)) {
        rate_limited(emu, out);
        return;
    }
    const json_t *recipient = json_object_get(root, "recipient");
    const char *psid = json_string_value(json_object_get(recipient, "id"));
    const char *ntoken =
        json_string_value(json_object_get(recipient, "notification_messages_token"));
    struct emu_person *person = NULL;
    struct emu_token *tok = NULL;
    struct emu_send_req sreq = { 0 };
    if (psid) {
        person = emu_person_get(page, psid);
        if (!person) {
            count_refusal(emu, EMU_RULE_NONE);
            emu_reply_graph_error(out, 400, 100, 2018001, "(#100) No matching user found");
            return;
        }
    } else if (ntoken) {
        sreq.to_token = true;
        tok = emu_token_get(emu, ntoken);
        if (tok && tok->person->page != page)
            tok = NULL;
        if (tok)
            person = tok->person;
    } else {
        count_refusal(emu, EMU_RULE_NONE);
        emu_reply_graph_error(out, 400, 100, 0,
                              json_is_object(recipient)
                                  ? "(#100) recipient must have id or notification_messages_token "
                                    "(other recipient forms are not emulated)"
                                  : "(#100) param recipient must be non-empty.");
        return;
    }
    const json_t *message = json_object_get(root, "message");
    const char *action = json_string_value(json_object_get(root, "sender_action"));
    if (action && !message && person) {
        /* typing_on / typing_off / mark_seen: no message, nothing logged */
        loa_buf_reset(&out->body);
        out->status = 200;
        loa_buf_puts(&out->body, "{\"recipient_id\":");
        emu_buf_json_str(&out->body, person->psid);
        loa_buf_putc(&out->body, '}');
        return;
    }
    const json_t *mt = json_object_get(root, "messaging_type");
    sreq.mtype =
        mt ? emu_mtype_parse(json_string_value(mt) ? json_string_value(mt) : "?") : EMU_MT_NONE;
    sreq.tag = json_string_value(json_object_get(root, "tag"));
    struct emu_verdict v;
    if (!emu_rules_check_content(message, &sreq, &v)) {
        count_refusal(emu, v.rule);
        emu_reply_graph_error(out, 400, v.code, v.subcode, v.message);
        return;
    }
    int64_t now = emu_clock_now(&emu->clock);
    bool ok;
    if (person) {
        pthread_mutex_lock(&person->lock);
        ok = emu_rules_check(&emu->rules_conf, &sreq, &person->rules, tok ? &tok->rules : NULL, now,
                             &v);
        if (ok) {
            emu_rules_note_sent(&sreq, &person->rules, tok ? &tok->rules : NULL, now);
            person->last_sent_ms = now;
        }
        pthread_mutex_unlock(&person->lock);
    } else {
        ok = emu_rules_check(&emu->rules_conf, &sreq, NULL, NULL, now, &v);
    }
    if (!ok || !person) {
        count_refusal(emu, v.rule);
        emu_reply_graph_error(out, 400, v.code, v.subcode, v.message);
        return;
    }
    char *body;
    if (is_form(req)) {
        json_object_del(root, "access_token");
        body = json_dumps(root, JSON_COMPACT);
        char *copy = loa_strdup(body ? body : "{}");
        free(body);
        body = copy;
    } else {
        body = loa_strndup(req->body, req->body_len);
    }
    int64_t seq = emu_log_append(&emu->log, now, person, sreq.mtype, sreq.tag, body);
    atomic_fetch_add_explicit(&emu->stats.accepted, 1, memory_order_relaxed);
    char mid[64];
    emu_mid_format(&emu->log, seq, mid, sizeof(mid));
    loa_buf_reset(&out->body);
    out->status = 200;
    loa_buf_puts(&out->body, "{\"recipient_id\":");
    emu_buf_json_str(&out->body, person->psid);
    loa_buf_printf(&out->body, ",\"message_id\":\"%s\"}", mid);
    queue_followups(emu, page, person, message, mid, now);
}

static void handle_send(struct emu *emu, const struct emu_request *req, const char *path_id,
                        struct emu_reply *out, struct emu_fault_hit *hit)
{
    json_t *root = parse_body(req, out);
    if (!root)
        return;
    pthread_rwlock_rdlock(&emu->state_lock);
    send_locked(emu, req, path_id, root, out, hit);
    pthread_rwlock_unlock(&emu->state_lock);
    json_decref(root);
}

/* ---- profile and Page info ---------------------------------------------------------------- */

static bool field_wanted(const char *fields, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = fields; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && isspace((unsigned char)*p)) {
            p++;
            len--;
        }
        if (len == n && strncmp(p, name, n) == 0)
            return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

static const char *unknown_field(const char *fields)
{
    static const char *const known[] = { "id",          "name",   "first_name", "last_name",
                                         "profile_pic", "locale", "timezone",   "gender" };
    static _Thread_local char bad[64];
    for (const char *p = fields; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        bool ok = len == 0;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]) && !ok; i++)
            ok = strlen(known[i]) == len && strncmp(p, known[i], len) == 0;
        if (!ok) {
            snprintf(bad, sizeof(bad), "%.*s", (int)(len < 60 ? len : 60), p);
            return bad;
        }
        p = end ? end + 1 : NULL;
    }
    return NULL;
}

static void handle_get(struct emu *emu, const struct emu_request *req, const char *id,
                       struct emu_reply *out, struct emu_fault_hit *hit)
{
    const char *token = find_token(req, NULL);
    const char *fields = req->query(req->query_ctx, "fields");
    pthread_rwlock_rdlock(&emu->state_lock);
    struct emu_page *page = token ? emu_page_by_token(emu, token) : NULL;
    if (!page) {
        bad_token(emu, out);
        goto out;
    }
    if (inject_fault(emu, page, hit, out))
        goto out;
    loa_buf_reset(&out->body);
    out->status = 200;
    if (strcmp(id, "me") == 0 || strcmp(id, page->id) == 0) {
        loa_buf_puts(&out->body, "{\"name\":");
        emu_buf_json_str(&out->body, page->name ? page->name : "");
        loa_buf_puts(&out->body, ",\"id\":");
        emu_buf_json_str(&out->body, page->id);
        loa_buf_putc(&out->body, '}');
        goto out;
    }
    struct emu_person *p = emu_person_get(page, id);
    if (!p) {
        char msg[320];
        snprintf(msg, sizeof(msg),
                 "Unsupported get request. Object with ID '%.64s' does not exist, cannot be "
                 "loaded due to missing permissions, or does not support this operation.",
                 id);
        emu_reply_graph_error(out, 400, 100, 33, msg);
        goto out;
    }
    const char *bad = fields ? unknown_field(fields) : NULL;
    if (bad) {
        char msg[128];
        snprintf(msg, sizeof(msg), "(#100) Tried accessing nonexisting field (%s)", bad);
        emu_reply_graph_error(out, 400, 100, 0, msg);
        goto out;
    }
    if (!fields || !*fields)
        fields = "first_name,last_name,profile_pic";
    struct loa_buf *b = &out->body;
    loa_buf_putc(b, '{');
    if (field_wanted(fields, "name")) {
        char full[256];
        snprintf(full, sizeof(full), "%s %s", p->first_name ? p->first_name : "",
                 p->last_name ? p->last_name : "");
        loa_buf_puts(b, "\"name\":");
        emu_buf_json_str(b, full);
        loa_buf_putc(b, ',');
    }
    if (field_wanted(fields, "first_name")) {
        loa_buf_puts(b, "\"first_name\":");
        emu_buf_json_str(b, p->first_name ? p->first_name : "");
        loa_buf_putc(b, ',');
    }
    if (field_wanted(fields, "last_name")) {
        loa_buf_puts(b, "\"last_name\":");
        emu_buf_json_str(b, p->last_name ? p->last_name : "");
        loa_buf_putc(b, ',');
    }
    if (field_wanted(fields, "profile_pic")) {
        loa_buf_puts(b, "\"profile_pic\":");
        char url[160];
        snprintf(url, sizeof(url), "https://127.0.0.1/loa-graph/pic/%s.jpg", p->psid);
        emu_buf_json_str(b, url);
        loa_buf_putc(b, ',');
    }
    if (field_wanted(fields, "locale")) {
        loa_buf_puts(b, "\"locale\":");
        emu_buf_json_str(b, p->locale ? p->locale : "en_US");
        loa_buf_putc(b, ',');
    }
    if (field_wanted(fields, "timezone"))
        loa_buf_printf(b, "\"timezone\":%d,", p->timezone);
    if (field_wanted(fields, "gender")) {
        loa_buf_puts(b, "\"gender\":");
        emu_buf_json_str(b, p->gender ? p->gender : "");
        loa_buf_putc(b, ',');
    }
    loa_buf_puts(b, "\"id\":");
    emu_buf_json_str(b, p->psid);
    loa_buf_putc(b, '}');
out:
    pthread_rwlock_unlock(&emu->state_lock);
}

/* ---- Conversations API (emu_conv.c) --------------------------------------------------------- */

/* GET {page-id}/conversations (messages false) or GET {conversation-id}/messages: the Send
 * API's token checks and faults, and a limit of its own, EMU_CONV_RATE calls/s per Page. */
static void handle_conv(struct emu *emu, const struct emu_request *req, const char *id,
                        bool messages, struct emu_reply *out, struct emu_fault_hit *hit)
{
    const char *token = find_token(req, NULL);
    pthread_rwlock_rdlock(&emu->state_lock);
    struct emu_page *page = token ? emu_page_by_token(emu, token) : NULL;
    if (!page || (!messages && strcmp(id, "me") != 0 && strcmp(id, page->id) != 0))
        bad_token(emu, out);
    else if (inject_fault(emu, page, hit, out))
        ; /* the fault is the answer */
    else if (!emu_conv_rate_take(page))
        rate_limited(emu, out);
    else if (messages)
        emu_conv_messages(emu, req, page, id, out);
    else
        emu_conv_list(emu, req, page, out);
    pthread_rwlock_unlock(&emu->state_lock);
}

/* ---- batch -------------------------------------------------------------------------------- */

static const char *obj_query(void *ctx, const char *key)
{
    return json_string_value(json_object_get((const json_t *)ctx, key));
}

static void dispatch(struct emu *emu, const struct emu_request *req, struct emu_reply *out,
                     struct emu_fault_hit *hit);

static void handle_batch(struct emu *emu, const struct emu_request *req, json_t *root,
                         struct emu_reply *out)
{
    json_t *batch = json_object_get(root, "batch");
    if (json_is_string(batch))
        batch = json_loads(json_string_value(batch), 0, NULL);
    else
        json_incref(batch);
    const char *token = find_token(req, root);
    if (!json_is_array(batch)) {
        emu_reply_graph_error(out, 400, 100, 0, "(#100) The parameter batch is required");
        goto out;
    }
    if (json_array_size(batch) > 50) {
        emu_reply_graph_error(out, 400, 1, 0, "Maximum batch size is 50");
        goto out;
    }
    struct loa_buf all;
    loa_buf_init(&all, EMU_BODY_MAX * 4);
    loa_buf_putc(&all, '[');
    size_t i;
    json_t *item;
    json_array_foreach(batch, i, item) {
        const char *method = json_string_value(json_object_get(item, "method"));
        const char *rel = json_string_value(json_object_get(item, "relative_url"));
        const char *body = json_string_value(json_object_get(item, "body"));
        struct emu_reply sub = { 0 };
        loa_buf_init(&sub.body, EMU_BODY_MAX);
        if (!method || !rel) {
            emu_reply_graph_error(&sub, 400, 100, 0,
                                  "(#100) batch items need method and relative_url");
        } else {
            const char *q = strchr(rel, '?');
            char *path = loa_strndup(rel, q ? (size_t)(q - rel) : strlen(rel));
            json_t *query = q ? emu_form_parse(q + 1, strlen(q + 1)) : json_object();
            struct emu_request r = {
                .method = method,
                .path = path,
                .content_type = "application/x-www-form-urlencoded",
                .body = body ? body : "",
                .body_len = body ? strlen(body) : 0,
                .query = obj_query,
                .query_ctx = query,
                .default_token = token,
            };
            dispatch(emu, &r, &sub, NULL);
            json_decref(query);
            loa_free(path);
        }
        if (i)
            loa_buf_putc(&all, ',');
        loa_buf_printf(&all,
                       "{\"code\":%d,\"headers\":[{\"name\":\"Content-Type\",\"value\":"
                       "\"application/json; charset=UTF-8\"}],\"body\":",
                       sub.status);
        emu_buf_json_str(&all, loa_buf_cstr(&sub.body));
        loa_buf_putc(&all, '}');
        loa_buf_release(&sub.body);
    }
    loa_buf_putc(&all, ']');
    loa_buf_release(&out->body);
    out->body = all;
    out->status = 200;
out:
    json_decref(batch);
}

/* ---- routing ------------------------------------------------------------------------------ */

/* Strips "/", "vNN.N/" from the front of path. */
static const char *strip_version(const char *path)
{
    while (*path == '/')
        path++;
    if (path[0] == 'v' && isdigit((unsigned char)path[1])) {
        const char *p = path + 1;
        while (isdigit((unsigned char)*p) || *p == '.')
            p++;
        if (*p == '/' || *p == '\0')
            return *p ? p + 1 : p;
    }
    return path;
}

static void dispatch(struct emu *emu, const struct emu_request *req, struct emu_reply *out,
                     struct emu_fault_hit *hit)
{
    const char *path = strip_version(req->path);
    size_t len = strlen(path);
    while (len && path[len - 1] == '/')
        len--;
    char id[2 * EMU_ID_MAX + 16]; /* room for a conversation id, t_<page>_<psid> */
    const char *slash = memchr(path, '/', len);
    bool post = strcmp(req->method, "POST") == 0;
    if (post && len == 0) {
        json_t *root = parse_body(req, out);
        if (root)
            handle_batch(emu, req, root, out);
        json_decref(root);
        return;
    }
    if (slash && post && (size_t)(slash - path) < sizeof(id) &&
        len - (size_t)(slash - path) == strlen("/messages") &&
        strncmp(slash, "/messages", 9) == 0) {
        memcpy(id, path, (size_t)(slash - path));
        id[slash - path] = '\0';
        handle_send(emu, req, id, out, hit);
        return;
    }
    bool get = strcmp(req->method, "GET") == 0;
    if (slash && get && (size_t)(slash - path) < sizeof(id)) {
        size_t tail = len - (size_t)(slash - path);
        bool conv = tail == strlen("/conversations") && strncmp(slash, "/conversations", 14) == 0;
        bool msgs = tail == strlen("/messages") && strncmp(slash, "/messages", 9) == 0;
        if (conv || msgs) {
            memcpy(id, path, (size_t)(slash - path));
            id[slash - path] = '\0';
            handle_conv(emu, req, id, msgs, out, hit);
            return;
        }
    }
    if (!slash && len > 0 && len < sizeof(id) && get) {
        memcpy(id, path, len);
        id[len] = '\0';
        handle_get(emu, req, id, out, hit);
        return;
    }
    char msg[320];
    snprintf(msg, sizeof(msg), "Unknown path components: /%.120s (loa-graph emulates %s)", path,
             "POST {id}/messages, GET {psid}, GET me, GET {page-id}/conversations, "
             "GET {conversation-id}/messages and POST / batch");
    emu_reply_graph_error(out, 400, 2500, 0, msg);
}

void emu_graph_handle(struct emu *emu, const struct emu_request *req, struct emu_reply *out,
                      struct emu_fault_hit *hit)
{
    dispatch(emu, req, out, hit);
}
