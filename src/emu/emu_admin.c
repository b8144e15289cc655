/* SPDX-License-Identifier: MIT */
/*
 * The admin API under /_admin (see docs/emulator.md): Pages, people, their actions, settings,
 * faults, the clock, the log of accepted messages, statistics and reset.
 *
 * Every complaint about input is a 400 with {"error":{"message","field"}} naming the field.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <loa/alloc.h>
#include <loa/clock.h>
#include <loa/err.h>

#include "emu_int.h"

/* ---- replies ------------------------------------------------------------------------------ */

static void reply_error(struct emu_reply *r, int status, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void reply_error(struct emu_reply *r, int status, const char *field, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    r->status = status;
    loa_buf_reset(&r->body);
    loa_buf_puts(&r->body, "{\"error\":{\"message\":");
    emu_buf_json_str(&r->body, msg);
    loa_buf_puts(&r->body, ",\"field\":");
    if (field)
        emu_buf_json_str(&r->body, field);
    else
        loa_buf_puts(&r->body, "null");
    loa_buf_puts(&r->body, "}}");
}

/* Replies with a JSON value (stolen). */
static void reply_json(struct emu_reply *r, int status, json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    r->status = status;
    loa_buf_reset(&r->body);
    loa_buf_puts(&r->body, s ? s : "{}");
    free(s);
}

static json_t *parse_json(const struct emu_request *req, struct emu_reply *r)
{
    if (req->body_len == 0)
        return json_object();
    json_error_t jerr;
    json_t *v = json_loadb(req->body, req->body_len, 0, &jerr);
    if (!v) {
        reply_error(r, 400, NULL, "body is not valid JSON: %s (line %d, column %d)", jerr.text,
                    jerr.line, jerr.column);
        return NULL;
    }
    if (!json_is_object(v)) {
        reply_error(r, 400, NULL, "body must be a JSON object");
        json_decref(v);
        return NULL;
    }
    return v;
}

/* ---- field readers: false after replying with the error ----------------------------------- */

static bool get_str(const json_t *o, const char *key, const char *field, bool required, size_t max,
                    const char **out, struct emu_reply *r)
{
    const json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (required) {
            reply_error(r, 400, field, "%s is required", field);
            return false;
        }
        return true;
    }
    if (!json_is_string(v)) {
        reply_error(r, 400, field, "%s must be a string", field);
        return false;
    }
    if (required && json_string_length(v) == 0) {
        reply_error(r, 400, field, "%s must not be empty", field);
        return false;
    }
    if (json_string_length(v) >= max) {
        reply_error(r, 400, field, "%s must be shorter than %zu bytes", field, max);
        return false;
    }
    *out = json_string_value(v);
    return true;
}

static bool get_num(const json_t *o, const char *key, double min, double max, double *out,
                    bool *present, struct emu_reply *r)
{
    const json_t *v = json_object_get(o, key);
    *present = v && !json_is_null(v);
    if (!*present)
        return true;
    if (!json_is_number(v)) {
        reply_error(r, 400, key, "%s must be a number", key);
        return false;
    }
    double d = json_number_value(v);
    if (!isfinite(d) || d < min || d > max) {
        reply_error(r, 400, key, "%s must be between %g and %g", key, min, max);
        return false;
    }
    *out = d;
    return true;
}

/* A time given as ISO 8601 text or milliseconds since the epoch. */
static bool get_time(const json_t *o, const char *key, const char *field, int64_t *out,
                     bool *present, struct emu_reply *r)
{
    const json_t *v = json_object_get(o, key);
    *present = v && !json_is_null(v);
    if (!*present)
        return true;
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (int64_t)json_integer_value(v);
        return true;
    }
    if (json_is_string(v) && loa_time_parse(json_string_value(v), out) == 0)
        return true;
    reply_error(r, 400, field, "%s must be an ISO 8601 time or milliseconds since the epoch",
                field);
    return false;
}

/* ---- pages -------------------------------------------------------------------------------- */

static void pages_post(struct emu *emu, const struct emu_request *req, struct emu_reply *r)
{
    json_t *root = parse_json(req, r);
    if (!root)
        return;
    const char *id, *name, *token, *secret;
    if (!get_str(root, "id", "id", true, EMU_ID_MAX, &id, r) ||
        !get_str(root, "name", "name", false, 1024, &name, r) ||
        !get_str(root, "access_token", "access_token", true, 4096, &token, r) ||
        !get_str(root, "app_secret", "app_secret", false, 256, &secret, r))
        goto out;
    pthread_rwlock_wrlock(&emu->state_lock);
    struct emu_page *other = emu_page_by_token(emu, token);
    struct emu_page *p = emu_page_by_id(emu, id);
    if (other && other != p) {
        pthread_rwlock_unlock(&emu->state_lock);
        reply_error(r, 400, "access_token", "access_token already belongs to Page %s", other->id);
        goto out;
    }
    bool created = !p;
    if (!p) {
        p = loa_calloc(1, sizeof(*p));
        snprintf(p->id, sizeof(p->id), "%s", id);
        pthread_mutex_init(&p->rate_lock, NULL);
        HASH_ADD_STR(emu->pages_by_id, id, p);
    } else {
        HASH_DELETE(hh_token, emu->pages_by_token, p);
        LOA_FREE(p->name);
        LOA_FREE(p->access_token);
        LOA_FREE(p->app_secret);
    }
    p->name = loa_strdup(name ? name : "");
    p->access_token = loa_strdup(token);
    p->app_secret = secret ? loa_strdup(secret) : NULL;
    HASH_ADD_KEYPTR(hh_token, emu->pages_by_token, p->access_token, strlen(p->access_token), p);
    pthread_rwlock_unlock(&emu->state_lock);
    reply_json(r, created ? 201 : 200,
               json_pack("{s:s,s:s,s:b}", "id", id, "name", name ? name : "", "created", created));
out:
    json_decref(root);
}

static void pages_get(struct emu *emu, struct emu_reply *r)
{
    json_t *arr = json_array();
    pthread_rwlock_rdlock(&emu->state_lock);
    for (struct emu_page *p = emu->pages_by_id; p; p = p->hh.next)
        json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:b,s:I}", "id", p->id, "name", p->name,
                                             "access_token", p->access_token, "has_app_secret",
                                             p->app_secret != NULL, "people",
                                             (json_int_t)HASH_COUNT(p->people)));
    pthread_rwlock_unlock(&emu->state_lock);
    reply_json(r, 200, json_pack("{s:o}", "pages", arr));
}

/* ---- people ------------------------------------------------------------------------------- */

static struct emu_person *person_new(struct emu_page *page, const char *psid)
{
    struct emu_person *p = loa_calloc(1, sizeof(*p));
    snprintf(p->psid, sizeof(p->psid), "%s", psid);
    p->page = page;
    pthread_mutex_init(&p->lock, NULL);
    emu_person_rules_init(&p->rules);
    p->last_action_ms = -1;
    p->last_sent_ms = -1;
    HASH_ADD_STR(page->people, psid, p);
    return p;
}

static void set_str(char **dst, const char *v)
{
    if (!v)
        return;
    loa_free(*dst);
    *dst = loa_strdup(v);
}

/* Checks one person and, when apply, adds or updates it (state lock held for writing). prefix
 * names the item in errors. */
static bool person_put(struct emu *emu, const json_t *o, const char *prefix, bool apply,
                       bool *created, struct emu_reply *r)
{
    char f[10][96];
    const char *keys[] = { "page_id",        "psid",   "first_name",       "last_name",
                           "gender",         "locale", "last_action_kind", "timezone",
                           "last_action_at", "" };
    for (int i = 0; i < 10; i++)
        snprintf(f[i], sizeof(f[i]), "%s%s", prefix, keys[i]);
    if (!json_is_object(o)) {
        reply_error(r, 400, prefix[0] ? prefix : NULL, "%s must be an object",
                    prefix[0] ? prefix : "body");
        return false;
    }
    const char *page_id, *psid, *first, *last, *gender, *locale, *kind_s;
    if (!get_str(o, "page_id", f[0], true, EMU_ID_MAX, &page_id, r) ||
        !get_str(o, "psid", f[1], true, EMU_ID_MAX, &psid, r) ||
        !get_str(o, "first_name", f[2], false, 256, &first, r) ||
        !get_str(o, "last_name", f[3], false, 256, &last, r) ||
        !get_str(o, "gender", f[4], false, 64, &gender, r) ||
        !get_str(o, "locale", f[5], false, 64, &locale, r) ||
        !get_str(o, "last_action_kind", f[6], false, 64, &kind_s, r))
        return false;
    const json_t *tz = json_object_get(o, "timezone");
    if (tz && !json_is_null(tz) &&
        (!json_is_number(tz) || json_number_value(tz) < -24 || json_number_value(tz) > 24)) {
        reply_error(r, 400, f[7], "%s must be a number of hours between -24 and 24", f[7]);
        return false;
    }
    int64_t at = 0;
    bool has_at;
    if (!get_time(o, "last_action_at", f[8], &at, &has_at, r))
        return false;
    enum emu_action_kind kind = kind_s ? emu_action_parse(kind_s) : EMU_ACT_MESSAGE;
    if (kind == EMU_ACT_NONE) {
        reply_error(r, 400, f[6],
                    "%s must be one of message, postback, quick_reply, reaction, "
                    "referral, ad_referral",
                    f[6]);
        return false;
    }
    struct emu_page *page = emu_page_by_id(emu, page_id);
    if (!page) {
        reply_error(r, 400, f[0], "%s: no Page %s (create it with POST /_admin/pages)", f[0],
                    page_id);
        return false;
    }
    struct emu_person *p = emu_person_get(page, psid);
    *created = !p;
    if (!apply)
        return true;
    if (!p)
        p = person_new(page, psid);
    set_str(&p->first_name, first);
    set_str(&p->last_name, last);
    set_str(&p->gender, gender);
    set_str(&p->locale, locale);
    if (tz && json_is_number(tz)) {
        double hours = json_number_value(tz);
        p->timezone = (int)hours;
    }
    if (has_at) {
        pthread_mutex_lock(&p->lock);
        if (emu_action_opens_window(kind)) {
            p->rules.window_at_ms = at;
            p->rules.window_from_ad = kind == EMU_ACT_AD_REFERRAL;
        }
        p->last_action_ms = at;
        p->last_action_kind = kind;
        pthread_mutex_unlock(&p->lock);
    }
    return true;
}

static void people_post(struct emu *emu, const struct emu_request *req, struct emu_reply *r)
{
    json_t *root = parse_json(req, r);
    if (!root)
        return;
    size_t created = 0, updated = 0;
    bool c, ok = true;
    const json_t *list = json_object_get(root, "people");
    pthread_rwlock_wrlock(&emu->state_lock);
    if (list && !json_is_array(list)) {
        reply_error(r, 400, "people", "people must be an array");
        ok = false;
    }
    /* Two passes so that a bad item leaves the state untouched: check all, then apply all. */
    for (int apply = 0; ok && apply < 2; apply++) {
        if (!list) {
            ok = person_put(emu, root, "", apply, &c, r);
            if (ok && apply)
                *(c ? &created : &updated) += 1;
            continue;
        }
        size_t i;
        const json_t *o;
        json_array_foreach(list, i, o) {
            char prefix[48];
            snprintf(prefix, sizeof(prefix), "people[%zu].", i);
            ok = person_put(emu, o, prefix, apply, &c, r);
            if (!ok)
                break;
            if (apply)
                *(c ? &created : &updated) += 1;
        }
    }
    pthread_rwlock_unlock(&emu->state_lock);
    if (ok)
        reply_json(
            r, created ? 201 : 200,
            json_pack("{s:I,s:I}", "created", (json_int_t)created, "updated", (json_int_t)updated));
    json_decref(root);
}

static void people_get(struct emu *emu, const struct emu_request *req, struct emu_reply *r)
{
    const char *page_id = req->query(req->query_ctx, "page_id");
    const char *psid = req->query(req->query_ctx, "psid");
    if (!page_id || !psid) {
        reply_error(r, 400, page_id ? "psid" : "page_id", "%s is required",
                    page_id ? "psid" : "page_id");
        return;
    }
    pthread_rwlock_rdlock(&emu->state_lock);
    struct emu_page *page = emu_page_by_id(emu, page_id);
    struct emu_person *p = page ? emu_person_get(page, psid) : NULL;
    if (!p) {
        pthread_rwlock_unlock(&emu->state_lock);
        reply_error(r, 404, page ? "psid" : "page_id", "no such %s", page ? "person" : "Page");
        return;
    }
    pthread_mutex_lock(&p->lock);
    json_t *tokens = json_array();
    for (struct emu_token *t = emu->tokens; t; t = t->hh.next)
        if (t->person == p)
            json_array_append_new(tokens,
                                  json_pack("{s:s,s:s,s:I,s:b,s:I}", "token", t->token, "title",
                                            t->title, "expiry_ms", (json_int_t)t->rules.expiry_ms,
                                            "stopped", t->rules.stopped, "last_sent_ms",
                                            (json_int_t)t->rules.last_sent_ms));
    json_t *v = json_pack(
        "{s:s,s:s,s:s?,s:s?,s:s?,s:s?,s:i,s:I,s:s,s:I,s:b,s:I,s:I,s:o}", "page_id", page->id,
        "psid", p->psid, "first_name", p->first_name, "last_name", p->last_name, "gender",
        p->gender, "locale", p->locale, "timezone", p->timezone, "last_action_at_ms",
        (json_int_t)p->last_action_ms, "last_action_kind", emu_action_name(p->last_action_kind),
        "window_at_ms", (json_int_t)p->rules.window_at_ms, "window_from_ad",
        p->rules.window_from_ad, "optin_request_at_ms", (json_int_t)p->rules.optin_request_at_ms,
        "last_sent_ms", (json_int_t)p->last_sent_ms, "tokens", tokens);
    pthread_mutex_unlock(&p->lock);
    pthread_rwlock_unlock(&emu->state_lock);
    reply_json(r, 200, v);
}

/* ---- actions ------------------------------------------------------------------------------ */

static void actions_post(struct emu *emu, const struct emu_request *req, struct emu_reply *r)
{
    json_t *root = parse_json(req, r);
    if (!root)
        return;
    const char *page_id, *psid, *kind_s, *dummy;
    int64_t at = 0;
    bool has_at;
    if (!get_str(root, "page_id", "page_id", true, EMU_ID_MAX, &page_id, r) ||
        !get_str(root, "psid", "psid", true, EMU_ID_MAX, &psid, r) ||
        !get_str(root, "kind", "kind", true, 64, &kind_s, r) ||
        !get_str(root, "text", "text", false, 65536, &dummy, r) ||
        !get_str(root, "payload", "payload", false, 65536, &dummy, r) ||
        !get_str(root, "ref", "ref", false, 4096, &dummy, r) ||
        !get_str(root, "title", "title", false, 4096, &dummy, r) ||
        !get_str(root, "mid", "mid", false, 60, &dummy, r) ||
        !get_str(root, "token", "token", false, 60, &dummy, r) ||
        !get_time(root, "at", "at", &at, &has_at, r))
        goto out;
    enum emu_action_kind kind = emu_action_parse(kind_s);
    if (kind == EMU_ACT_NONE) {
        reply_error(r, 400, "kind",
                    "kind must be one of message, postback, quick_reply, reaction, referral, "
                    "ad_referral, optin_accept, optin_stop, optin_resume, read, delivery");
        goto out;
    }
    if (!has_at)
        at = emu_clock_now(&emu->clock);
    /* Opt-in actions add tokens and a new person adds to a table: take the lock for writing. */
    pthread_rwlock_wrlock(&emu->state_lock);
    struct emu_page *page = emu_page_by_id(emu, page_id);
    if (!page) {
        pthread_rwlock_unlock(&emu->state_lock);
        reply_error(r, 400, "page_id", "page_id: no Page %s", page_id);
        goto out;
    }
    struct emu_person *p = emu_person_get(page, psid);
    if (!p)
        p = person_new(page, psid); /* a new person writing to the Page */
    char *item = NULL, token[64], err[160];
    int rc = emu_person_act(emu, p, kind, root, at, &item, token, sizeof(token), err, sizeof(err));
    int64_t expiry = -1;
    if (rc == 0 && token[0]) {
        struct emu_token *t = emu_token_get(emu, token);
        expiry = t ? t->rules.expiry_ms : -1;
    }
    pthread_rwlock_unlock(&emu->state_lock);
    if (rc < 0) {
        char field[sizeof(err)];
        snprintf(field, sizeof(field), "%.*s", (int)strcspn(err, ":"), err);
        reply_error(r, 400, field, "%s", err);
        goto out;
    }
    json_t *v = json_pack("{s:b,s:I}", "ok", true, "at_ms", (json_int_t)at);
    if (token[0]) {
        json_object_set_new(v, "notification_messages_token", json_string(token));
        json_object_set_new(v, "token_expiry_timestamp", json_integer(expiry / 1000));
    }
    if (item) {
        json_t *it = json_loads(item, 0, NULL);
        const char *mid = json_string_value(json_object_get(json_object_get(it, "message"), "mid"));
        if (!mid)
            mid = json_string_value(json_object_get(json_object_get(it, "postback"), "mid"));
        if (mid)
            json_object_set_new(v, "mid", json_string(mid));
        json_object_set_new(v, "webhook", it ? it : json_null());
        if (atomic_load(&emu->config.has_webhook))
            emu_webhook_queue(emu->webhook, page_id, item, 0);
        else
            loa_free(item);
    }
    reply_json(r, 200, v);
out:
    json_decref(root);
}

/* ---- config ------------------------------------------------------------------------------- */

static json_t *config_json(struct emu *emu)
{
    struct emu_config *c = &emu->config;
    pthread_mutex_lock(&c->lock);
    json_t *url = c->webhook_url ? json_string(c->webhook_url) : json_null();
    pthread_mutex_unlock(&c->lock);
    return json_pack("{s:o,s:f,s:f,s:i,s:i,s:b,s:f,s:f,s:f,s:i}", "webhook_url", url,
                     "delivery_probability", atomic_load(&c->delivery_ppm) / (double)EMU_PPM,
                     "read_probability", atomic_load(&c->read_ppm) / (double)EMU_PPM,
                     "delivery_delay_ms", atomic_load(&c->delivery_delay_ms), "read_delay_ms",
                     atomic_load(&c->read_delay_ms), "echo", atomic_load(&c->echo),
                     "rate_limit_per_s", (double)atomic_load(&c->rate_limit_milli) / 1000.0,
                     "reply_probability", atomic_load(&c->reply_ppm) / (double)EMU_PPM,
                     "click_probability", atomic_load(&c->click_ppm) / (double)EMU_PPM,
                     "webhook_batch_max", atomic_load(&c->webhook_batch_max));
}

static void config_post(struct emu *emu, const struct emu_request *req, struct emu_reply *r)
{
    json_t *root = parse_json(req, r);
    if (!root)
        return;
    struct emu_config *c = &emu->config;
    double dp, rp, dd, rd, rl, rep, cp, bm;
    bool has_dp, has_rp, has_dd, has_rd, has_rl, has_rep, has_cp, has_bm;
    const json_t *url = json_object_get(root, "webhook_url");
    const json_t *echo = json_object_get(root, "echo");
    if (!get_num(root, "delivery_probability", 0, 1, &dp, &has_dp, r) ||
        !get_num(root, "read_probability", 0, 1, &rp, &has_rp, r) ||
        !get_num(root, "delivery_delay_ms", 0, 3600000, &dd, &has_dd, r) ||
        !get_num(root, "read_delay_ms", 0, 3600000, &rd, &has_rd, r) ||
        !get_num(root, "rate_limit_per_s", 0, 1e9, &rl, &has_rl, r) ||
        !get_num(root, "reply_probability", 0, 1, &rep, &has_rep, r) ||
        !get_num(root, "click_probability", 0, 1, &cp, &has_cp, r) ||
        !get_num(root, "webhook_batch_max", 1, 1000, &bm, &has_bm, r))
        goto out;
    if (url && !json_is_null(url) &&
        (!json_is_string(url) || (strncmp(json_string_value(url), "http://", 7) != 0 &&
                                  strncmp(json_string_value(url), "https://", 8) != 0))) {
        reply_error(r, 400, "webhook_url", "webhook_url must be an http(s) URL or null");
        goto out;
    }
    if (echo && !json_is_boolean(echo)) {
        reply_error(r, 400, "echo", "echo must be true or false");
        goto out;
    }
    if (url) {
        pthread_mutex_lock(&c->lock);
        LOA_FREE(c->webhook_url);
        if (json_is_string(url) && json_string_length(url))
            c->webhook_url = loa_strdup(json_string_value(url));
        atomic_store(&c->has_webhook, c->webhook_url != NULL);
        pthread_mutex_unlock(&c->lock);
    }
    if (echo)
        atomic_store(&c->echo, json_is_true(echo));
    if (has_dp)
        atomic_store(&c->delivery_ppm, (uint32_t)(dp * EMU_PPM));
    if (has_rp)
        atomic_store(&c->read_ppm, (uint32_t)(rp * EMU_PPM));
    if (has_dd)
        atomic_store(&c->delivery_delay_ms, (int)dd);
    if (has_rd)
        atomic_store(&c->read_delay_ms, (int)rd);
    if (has_rl)
        atomic_store(&c->rate_limit_milli, (int64_t)(rl * 1000.0));
    if (has_rep)
        atomic_store(&c->reply_ppm, (uint32_t)(rep * EMU_PPM));
    if (has_cp)
        atomic_store(&c->click_ppm, (uint32_t)(cp * EMU_PPM));
    if (has_bm)
        atomic_store(&c->webhook_batch_max, (int)bm);
    reply_json(r, 200, config_json(emu));
out:
    json_decref(root);
}

/* ---- faults ------------------------------------------------------------------------------- */

static bool fault_parse(const json_t *o, const char *prefix, struct emu_fault *f,
                        struct emu_reply *r)
{
    memset(f, 0, sizeof(*f));
    const char *page_id;
    char field[64];
    snprintf(field, sizeof(field), "%spage_id", prefix);
    if (!get_str(o, "page_id", field, false, EMU_ID_MAX, &page_id, r))
        return false;
    if (page_id)
        snprintf(f->page_id, sizeof(f->page_id), "%s", page_id);
    static const struct {
        const char *key;
        double min, max;
    } nums[] = { { "code", 0, 1e9 },          { "subcode", 0, 1e9 }, { "rate", 0, 1 },
                 { "latency_ms", 0, 600000 }, { "drop_rate", 0, 1 }, { "http_status", 0, 599 } };
    double v[6] = { 0, 0, 1, 0, 0, 0 };
    for (int i = 0; i < 6; i++) {
        bool has;
        if (!get_num(o, nums[i].key, nums[i].min, nums[i].max, &v[i], &has, r))
            return false;
    }
    if (v[5] > 0 && v[5] < 200) {
        reply_error(r, 400, "http_status", "http_status must be between 200 and 599");
        return false;
    }
    f->code = (int)v[0];
    f->subcode = (int)v[1];
    f->rate_ppm = (uint32_t)(v[2] * EMU_PPM);
    f->latency_ms = (int)v[3];
    f->drop_ppm = (uint32_t)(v[4] * EMU_PPM);
    f->http_status = (int)v[5];
    return true;
}

static json_t *faults_json(struct emu *emu)
{
    json_t *arr = json_array();
    pthread_mutex_lock(&emu->faults.lock);
    for (int i = 0; i < atomic_load(&emu->faults.count); i++) {
        const struct emu_fault *f = &emu->faults.f[i];
        json_array_append_new(
            arr,
            json_pack("{s:s?,s:i,s:i,s:f,s:i,s:f,s:i}", "page_id",
                      f->page_id[0] ? f->page_id : NULL, "code", f->code, "subcode", f->subcode,
                      "rate", f->rate_ppm / (double)EMU_PPM, "latency_ms", f->latency_ms,
                      "drop_rate", f->drop_ppm / (double)EMU_PPM, "http_status", f->http_status));
    }
    pthread_mutex_unlock(&emu->faults.lock);
    return json_pack("{s:o}", "faults", arr);
}

static void faults_post(struct emu *emu, const struct emu_request *req, struct emu_reply *r)
{
    json_t *root = parse_json(req, r);
    if (!root)
        return;
    struct emu_fault set[EMU_FAULTS_MAX];
    int n = 0;
    const json_t *list = json_object_get(root, "faults");
    if (list) {
        if (!json_is_array(list) || json_array_size(list) > EMU_FAULTS_MAX) {
            reply_error(r, 400, "faults", "faults must be an array of at most %d faults",
                        EMU_FAULTS_MAX);
            goto out;
        }
        size_t i;
        const json_t *o;
        json_array_foreach(list, i, o) {
            char prefix[32];
            snprintf(prefix, sizeof(prefix), "faults[%zu].", i);
            if (!json_is_object(o)) {
                reply_error(r, 400, "faults", "faults[%zu] must be an object", i);
                goto out;
            }
            if (!fault_parse(o, prefix, &set[n++], r))
                goto out;
        }
    } else if (json_object_size(root) > 0) {
        if (!fault_parse(root, "", &set[n++], r))
            goto out;
    }
    pthread_mutex_lock(&emu->faults.lock);
    memcpy(emu->faults.f, set, sizeof(set[0]) * (size_t)n);
    atomic_store(&emu->faults.count, n);
    pthread_mutex_unlock(&emu->faults.lock);
    reply_json(r, 200, faults_json(emu));
out:
    json_decref(root);
}

/* ---- clock, log, stats, reset ------------------------------------------------------------- */

static json_t *clock_json(struct emu *emu)
{
    int64_t now = emu_clock_now(&emu->clock);
    char iso[40];
    loa_time_format(now, iso, sizeof(iso));
    return json_pack("{s:I,s:s,s:s}", "now_ms", (json_int_t)now, "now", iso, "mode",
                     atomic_load(&emu->clock.fake) ? "fake" : "real");
}

static void clock_post(struct emu *emu, const struct emu_request *req, struct emu_reply *r)
{
    json_t *root = parse_json(req, r);
    if (!root)
        return;
    int64_t set = 0;
    bool has_set, has_adv;
    double adv = 0;
    if (!get_time(root, "set", "set", &set, &has_set, r) ||
        !get_num(root, "advance_ms", -1e13, 1e13, &adv, &has_adv, r))
        goto out;
    if (!has_set && !has_adv) {
        reply_error(r, 400, "set", "give set (ISO 8601 or ms) or advance_ms");
        goto out;
    }
    if (has_set)
        emu_clock_set(&emu->clock, set);
    if (has_adv)
        emu_clock_advance(&emu->clock, (int64_t)adv);
    reply_json(r, 200, clock_json(emu));
out:
    json_decref(root);
}

static bool parse_i64(const char *s, int64_t *out)
{
    if (!s || !*s)
        return false;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*end || v < 0)
        return false;
    *out = v;
    return true;
}

static void log_get(struct emu *emu, const struct emu_request *req, struct emu_reply *r)
{
    const char *page_id = req->query(req->query_ctx, "page_id");
    const char *psid = req->query(req->query_ctx, "psid");
    const char *since_s = req->query(req->query_ctx, "since");
    const char *limit_s = req->query(req->query_ctx, "limit");
    int64_t since = 0, limit = 1000;
    if (since_s && !parse_i64(since_s, &since)) {
        reply_error(r, 400, "since", "since must be a non-negative integer (a seq)");
        return;
    }
    if (limit_s && (!parse_i64(limit_s, &limit) || limit < 1 || limit > 100000)) {
        reply_error(r, 400, "limit", "limit must be an integer from 1 to 100000");
        return;
    }
    if (page_id && !*page_id)
        page_id = NULL;
    if (psid && !*psid)
        psid = NULL;
    struct loa_buf *b = &r->body;
    loa_buf_reset(b);
    loa_buf_puts(b, "{\"messages\":[");
    int64_t n = 0, last = since;
    pthread_rwlock_rdlock(&emu->state_lock);
    int64_t count = atomic_load(&emu->log.count);
    for (int64_t seq = since + 1; seq <= count && n < limit; seq++) {
        const struct emu_log_entry *e = emu_log_get(&emu->log, seq);
        last = seq;
        if (!e || (page_id && strcmp(e->person->page->id, page_id) != 0) ||
            (psid && strcmp(e->person->psid, psid) != 0))
            continue;
        if (n++)
            loa_buf_putc(b, ',');
        emu_log_format(&emu->log, e, b);
    }
    pthread_rwlock_unlock(&emu->state_lock);
    loa_buf_printf(b, "],\"next_since\":%" PRId64 ",\"total\":%" PRId64 "}", last, count);
    r->status = 200;
}

static void stats_get(struct emu *emu, struct emu_reply *r)
{
    struct emu_stats *s = &emu->stats;
    json_t *by = json_object();
    for (int i = 1; i < EMU_RULE_COUNT_; i++)
        json_object_set_new(by, emu_rule_name((enum emu_rule)i),
                            json_integer((json_int_t)atomic_load(&s->by_rule[i])));
    reply_json(r, 200,
               json_pack("{s:I,s:I,s:I,s:o,s:I,s:I,s:I,s:I,s:I}", "accepted",
                         (json_int_t)atomic_load(&s->accepted), "refused",
                         (json_int_t)atomic_load(&s->refused), "violations",
                         (json_int_t)atomic_load(&s->violations), "violations_by_rule", by,
                         "rate_limited", (json_int_t)atomic_load(&s->rate_limited),
                         "faults_injected", (json_int_t)atomic_load(&s->faults_injected),
                         "webhooks_sent", (json_int_t)atomic_load(&s->webhooks_sent),
                         "webhooks_failed", (json_int_t)atomic_load(&s->webhooks_failed),
                         "webhooks_dropped", (json_int_t)atomic_load(&s->webhooks_dropped)));
}

static void stats_clear(struct emu_stats *s)
{
    atomic_store(&s->accepted, 0);
    atomic_store(&s->refused, 0);
    atomic_store(&s->violations, 0);
    for (int i = 0; i < EMU_RULE_COUNT_; i++)
        atomic_store(&s->by_rule[i], 0);
    atomic_store(&s->rate_limited, 0);
    atomic_store(&s->faults_injected, 0);
    atomic_store(&s->webhooks_sent, 0);
    atomic_store(&s->webhooks_failed, 0);
    atomic_store(&s->webhooks_dropped, 0);
}

static void reset_post(struct emu *emu, struct emu_reply *r)
{
    emu_webhook_clear(emu->webhook);
    emu_state_reset(emu);
    pthread_mutex_lock(&emu->faults.lock);
    atomic_store(&emu->faults.count, 0);
    pthread_mutex_unlock(&emu->faults.lock);
    stats_clear(&emu->stats);
    reply_json(r, 200, json_pack("{s:b}", "ok", true));
}

/* ---- routing ------------------------------------------------------------------------------ */

void emu_admin_handle(struct emu *emu, const struct emu_request *req, struct emu_reply *r)
{
    const char *p = req->path + strlen("/_admin");
    bool get = strcmp(req->method, "GET") == 0;
    bool post = strcmp(req->method, "POST") == 0;
    if (strcmp(p, "/pages") == 0 && post)
        pages_post(emu, req, r);
    else if (strcmp(p, "/pages") == 0 && get)
        pages_get(emu, r);
    else if (strcmp(p, "/people") == 0 && post)
        people_post(emu, req, r);
    else if (strcmp(p, "/people") == 0 && get)
        people_get(emu, req, r);
    else if (strcmp(p, "/actions") == 0 && post)
        actions_post(emu, req, r);
    else if (strcmp(p, "/config") == 0 && post)
        config_post(emu, req, r);
    else if (strcmp(p, "/config") == 0 && get)
        reply_json(r, 200, config_json(emu));
    else if (strcmp(p, "/faults") == 0 && post)
        faults_post(emu, req, r);
    else if (strcmp(p, "/faults") == 0 && get)
        reply_json(r, 200, faults_json(emu));
    else if (strcmp(p, "/clock") == 0 && get)
        reply_json(r, 200, clock_json(emu));
    else if (strcmp(p, "/clock") == 0 && post)
        clock_post(emu, req, r);
    else if (strcmp(p, "/log") == 0 && get)
        log_get(emu, req, r);
    else if (strcmp(p, "/log.ndjson") == 0 && get) {
        r->status = 200;
        r->stream_log = true;
    } else if (strcmp(p, "/stats") == 0 && get)
        stats_get(emu, r);
    else if (strcmp(p, "/reset") == 0 && post)
        reset_post(emu, r);
    else
        reply_error(r, 404, NULL, "no admin endpoint %s %s", req->method, req->path);
}
