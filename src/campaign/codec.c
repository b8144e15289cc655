/* SPDX-License-Identifier: MIT */
/*
 * Campaigns as JSON (include/loa/campaign.h, "The codec"): shared by the REST API and the CLI.
 * Reading a campaign object checks the shapes here and hands the message, the filter, the goal,
 * the purpose and the tag to loa_campaign_validate(), so a complaint reads the same from either
 * surface and carries the field's path. jansson stays inside this file: JSON goes in and out
 * as text.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <loa/alloc.h>
#include <loa/campaign.h>
#include <loa/client.h>
#include <loa/clock.h>
#include <loa/err.h>
#include <loa/utf8.h>

#define NAME_MAX_CHARS     200
#define BATCH_SIZE_MAX     1000000
#define BATCH_INTERVAL_MAX (7 * 24 * 3600) /* seconds */
#define RATE_MAX           300             /* Meta's per-Page limit, messages/s */

/* ---- Local times -------------------------------------------------------------------------- */

/* ---- Retryable reasons -------------------------------------------------------------------- */

#define RETRYABLE_MAX 32

static const char *retryable[RETRYABLE_MAX];
static size_t nretryable;
static pthread_once_t retryable_once = PTHREAD_ONCE_INIT;

static void retryable_init(void)
{
    size_t n;
    const struct loa_client_rule *r = loa_client_rules(&n);
    for (size_t i = 0; i < n; i++) {
        if (r[i].action != LOA_CLIENT_RETRY || !r[i].reason)
            continue;
        bool dup = false;
        for (size_t k = 0; k < nretryable; k++)
            dup |= strcmp(retryable[k], r[i].reason) == 0;
        if (!dup && nretryable < RETRYABLE_MAX)
            retryable[nretryable++] = r[i].reason;
    }
}

const char *const *loa_campaign_retryable_reasons(size_t *n_out)
{
    pthread_once(&retryable_once, retryable_init);
    *n_out = nretryable;
    return retryable;
}

bool loa_campaign_reason_is_retryable(const char *reason)
{
    size_t n;
    const char *const *r = loa_campaign_retryable_reasons(&n);
    for (size_t i = 0; reason && i < n; i++)
        if (strcmp(r[i], reason) == 0)
            return true;
    return false;
}

/* ---- Status and state lists --------------------------------------------------------------- */

int loa_campaign_mask_parse(const char *s, bool deliveries, unsigned *mask_out)
{
    unsigned mask = 0;
    char buf[128];
    if (!*s || strlen(s) >= sizeof(buf))
        return LOA_EINVAL;
    snprintf(buf, sizeof(buf), "%s", s);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int v = -1;
        if (deliveries) {
            enum loa_delivery_state x;
            if (loa_delivery_state_parse(t, &x) == 0)
                v = (int)x;
        } else {
            enum loa_campaign_status x;
            if (loa_campaign_status_parse(t, &x) == 0)
                v = (int)x;
        }
        if (v < 0)
            return LOA_EINVAL;
        mask |= 1u << v;
    }
    *mask_out = mask;
    return mask ? 0 : LOA_EINVAL;
}

/* ---- Campaign → JSON ---------------------------------------------------------------------- */

static json_t *time_json(int64_t ms)
{
    if (ms <= 0)
        return json_null();
    char buf[40];
    loa_time_format(ms, buf, sizeof(buf));
    return json_string(buf);
}

static json_t *str_json(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *stored_json(const char *text, const char *fallback)
{
    json_t *v = json_loads(text ? text : fallback, 0, NULL);
    return v ? v : json_loads(fallback, 0, NULL);
}

static json_t *hhmm_json(int min)
{
    char buf[16];
    snprintf(buf, sizeof(buf), "%02d:%02d", (min / 60) % 100, min % 60);
    return json_string(buf);
}

static json_t *campaign_obj(const struct loa_campaign *c, const char *page_id)
{
    json_t *window = json_null();
    if (c->window_from_min >= 0 && c->window_to_min >= 0 && c->window_from_min != c->window_to_min)
        window = json_pack("{s:o,s:o}", "from", hhmm_json(c->window_from_min), "to",
                           hhmm_json(c->window_to_min));
    json_t *pacing = json_pack("{s:I,s:I,s:I,s:o}", "batch_size", (json_int_t)c->batch_size,
                               "batch_interval_s", (json_int_t)(c->batch_interval_ms / 1000),
                               "rate_per_s", (json_int_t)c->rate_per_s, "window", window);
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer((json_int_t)c->id));
    json_object_set_new(o, "page_id", str_json(page_id));
    json_object_set_new(o, "name", str_json(c->name));
    json_object_set_new(o, "goal", str_json(c->goal));
    json_object_set_new(o, "purpose", str_json(c->purpose));
    json_object_set_new(o, "tag", str_json(c->tag && *c->tag ? c->tag : NULL));
    json_object_set_new(o, "blocks", stored_json(c->blocks, "{\"blocks\":[]}"));
    json_object_set_new(o, "filter", stored_json(c->filter, "{}"));
    json_object_set_new(o, "scheduled_at", time_json(c->scheduled_at));
    json_object_set_new(o, "pacing", pacing);
    json_object_set_new(o, "status", json_string(loa_campaign_status_name(c->status)));
    json_object_set_new(o, "status_reason", str_json(c->status_reason));
    json_object_set_new(o, "created_at", time_json(c->created_at));
    json_object_set_new(o, "updated_at", time_json(c->updated_at));
    json_object_set_new(o, "started_at", time_json(c->started_at));
    json_object_set_new(o, "completed_at", time_json(c->completed_at));
    json_object_set_new(o, "total", json_integer((json_int_t)c->total));
    return o;
}

static json_t *delivery_obj(const struct loa_delivery *d)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer((json_int_t)d->id));
    json_object_set_new(o, "position", json_integer((json_int_t)d->position));
    json_object_set_new(o, "subscriber_id", json_integer((json_int_t)d->subscriber_id));
    json_object_set_new(o, "psid", str_json(d->psid));
    json_object_set_new(o, "state", json_string(loa_delivery_state_name(d->state)));
    json_object_set_new(o, "reason", str_json(d->reason));
    json_object_set_new(o, "rule", str_json(d->rule));
    json_object_set_new(o, "attempts", json_integer((json_int_t)d->attempts));
    json_object_set_new(o, "mid", str_json(d->mid));
    json_object_set_new(o, "next_at", time_json(d->next_at));
    json_object_set_new(o, "claimed_at", time_json(d->claimed_at));
    json_object_set_new(o, "sent_at", time_json(d->sent_at));
    json_object_set_new(o, "delivered_at", time_json(d->delivered_at));
    json_object_set_new(o, "read_at", time_json(d->read_at));
    json_object_set_new(o, "clicked_at", time_json(d->clicked_at));
    json_object_set_new(o, "replied_at", time_json(d->replied_at));
    json_object_set_new(o, "reconciled_at", time_json(d->reconciled_at));
    return o;
}

static int add_reason(enum loa_delivery_state state, const char *reason, int64_t count, void *ud)
{
    if (!reason)
        return 0;
    json_array_append_new(ud, json_pack("{s:s,s:s,s:I}", "state", loa_delivery_state_name(state),
                                        "reason", reason, "count", (json_int_t)count));
    return 0;
}

static json_t *rate_json(int64_t part, int64_t of)
{
    return of > 0 ? json_real((double)part / (double)of) : json_null();
}

static int stats_obj(struct loa_store *st, int64_t id, json_t **out)
{
    *out = NULL;
    struct loa_campaign_stats s;
    json_t *reasons = json_array();
    int rc = loa_store_campaign_stats(st, id, &s, add_reason, reasons);
    if (rc < 0) {
        json_decref(reasons);
        return rc;
    }
    json_t *by_state = json_object();
    for (int i = 0; i < LOA_DELIVERY_STATE_COUNT; i++)
        json_object_set_new(by_state, loa_delivery_state_name((enum loa_delivery_state)i),
                            json_integer((json_int_t)s.by_state[i]));
    int64_t sent = s.by_state[LOA_DELIVERY_SENT];
    *out = json_pack("{s:I,s:o,s:o,s:{s:I,s:I,s:I,s:I,s:I},s:{s:o,s:o,s:o,s:o}}", "total",
                     (json_int_t)s.total, "by_state", by_state, "reasons", reasons, "funnel",
                     "sent", (json_int_t)sent, "delivered", (json_int_t)s.delivered, "read",
                     (json_int_t)s.read, "clicked", (json_int_t)s.clicked, "replied",
                     (json_int_t)s.replied, "rates", "delivered", rate_json(s.delivered, sent),
                     "read", rate_json(s.read, sent), "clicked", rate_json(s.clicked, sent),
                     "replied", rate_json(s.replied, sent));
    return *out ? 0 : LOA_ENOMEM;
}

/* The text of o (compact), in loa memory; takes o's reference. */
static char *dump(json_t *o)
{
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text)
        abort(); /* jansson fails only when memory is exhausted: loa aborts then (alloc.h) */
    char *r = loa_strdup(text);
    free(text); /* jansson allocates with malloc */
    return r;
}

char *loa_campaign_json(const struct loa_campaign *c, const char *page_id)
{
    return dump(campaign_obj(c, page_id));
}

char *loa_delivery_json(const struct loa_delivery *d)
{
    return dump(delivery_obj(d));
}

int loa_campaign_stats_json(struct loa_store *st, int64_t id, char **out)
{
    *out = NULL;
    json_t *o = NULL;
    int rc = stats_obj(st, id, &o);
    if (rc == 0)
        *out = dump(o);
    return rc;
}

int loa_campaign_describe(struct loa_store *st, int64_t id, char **out)
{
    *out = NULL;
    struct loa_campaign c;
    int rc = loa_store_campaign_get(st, id, &c);
    if (rc < 0)
        return rc;
    char page_id[72] = "";
    loa_campaign_page_of(st, c.page_ref, page_id, sizeof(page_id), NULL, 0);
    json_t *o = campaign_obj(&c, page_id);
    loa_campaign_release(&c);
    json_t *stats = NULL;
    if ((rc = stats_obj(st, id, &stats)) < 0) {
        json_decref(o);
        return rc;
    }
    json_object_set_new(o, "stats", stats);
    *out = dump(o);
    return 0;
}

struct page_of {
    int64_t ref;
    char *out, *tz;
    size_t size, tz_size;
    bool found;
};

static int find_page(const struct loa_page *p, void *ud)
{
    struct page_of *f = ud;
    if (p->id != f->ref)
        return 0;
    if (f->out)
        snprintf(f->out, f->size, "%s", p->page_id);
    if (f->tz)
        snprintf(f->tz, f->tz_size, "%s", p->timezone ? p->timezone : "");
    f->found = true;
    return 1;
}

int loa_campaign_page_of(struct loa_store *st, int64_t page_ref, char *out, size_t size,
                         char *tz_out, size_t tz_size)
{
    struct page_of f = {
        .ref = page_ref, .out = out, .size = size, .tz = tz_out, .tz_size = tz_size
    };
    int rc = loa_store_page_list(st, find_page, &f);
    if (rc < 0)
        return rc;
    return f.found ? 0 : LOA_ENOENT;
}

/* ---- JSON → campaign input ---------------------------------------------------------------- */

enum {
    S_NAME,
    S_GOAL,
    S_PURPOSE,
    S_TAG,
    S_BLOCKS,
    S_FILTER
};

void loa_campaign_body_init(struct loa_campaign_body *b)
{
    memset(b, 0, sizeof(*b));
    b->in.scheduled_at = -1;
    b->in.batch_size = -1;
    b->in.batch_interval_ms = -1;
    b->in.rate_per_s = -1;
    b->in.window_from_min = -2;
    b->in.window_to_min = -2;
}

void loa_campaign_body_release(struct loa_campaign_body *b)
{
    if (!b)
        return;
    loa_free(b->page_id);
    for (size_t i = 0; i < sizeof(b->strs) / sizeof(b->strs[0]); i++)
        loa_free(b->strs[i]);
    loa_campaign_body_init(b);
}

/* Keeps a copy of s as string field i of the body. */
static const char *keep(struct loa_campaign_body *b, int i, const char *s)
{
    loa_free(b->strs[i]);
    b->strs[i] = loa_strdup(s);
    return b->strs[i];
}

/* A JSON value dumped compactly into string field i (jansson's text copied into loa memory). */
static const char *keep_json(struct loa_campaign_body *b, int i, const json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    const char *r = keep(b, i, text ? text : "null");
    free(text); /* jansson allocates with malloc */
    return r;
}

static const char *const body_keys[] = { "page_id", "name",   "goal",         "purpose", "tag",
                                         "blocks",  "filter", "scheduled_at", "pacing" };
static const char *const pacing_keys[] = { "batch_size", "batch_interval_s", "rate_per_s",
                                           "window" };

static bool one_of(const char *k, const char *const *keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(k, keys[i]) == 0)
            return true;
    return false;
}

/* An integer field in [0, max]; false with a complaint. */
static bool int_field(const json_t *v, const char *where, int64_t max, int64_t *out,
                      struct loa_diags *d)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max) {
        loa_diags_add(d, 0, 0, where, "must be a whole number from 0 to %lld", (long long)max);
        return false;
    }
    *out = json_integer_value(v);
    return true;
}

static void parse_window(json_t *w, struct loa_campaign_body *b, struct loa_diags *d)
{
    if (json_is_null(w)) {
        b->in.window_from_min = -1;
        b->in.window_to_min = -1;
        return;
    }
    if (!json_is_object(w)) {
        loa_diags_add(d, 0, 0, "pacing.window",
                      "must be {\"from\":\"HH:MM\",\"to\":\"HH:MM\"} in the Page's time zone, "
                      "or null for any time");
        return;
    }
    const char *k;
    json_t *v;
    json_object_foreach(w, k, v) {
        if (strcmp(k, "from") != 0 && strcmp(k, "to") != 0) {
            char where[96];
            snprintf(where, sizeof(where), "pacing.window.%.60s", k);
            loa_diags_add(d, 0, 0, where, "unknown field (from or to)");
        }
    }
    int min[2] = { -1, -1 };
    bool ok = true;
    for (int i = 0; i < 2; i++) {
        const char *name = i == 0 ? "from" : "to";
        char where[32];
        snprintf(where, sizeof(where), "pacing.window.%s", name);
        json_t *x = json_object_get(w, name);
        if (!x) {
            loa_diags_add(d, 0, 0, where, "is required (HH:MM)");
            ok = false;
        } else if (!json_is_string(x) ||
                   loa_campaign_parse_hhmm(json_string_value(x), &min[i]) < 0) {
            loa_diags_add(d, 0, 0, where, "must be a time of day HH:MM from 00:00 to 24:00");
            ok = false;
        }
    }
    if (!ok)
        return;
    if (min[0] % (24 * 60) == min[1] % (24 * 60)) {
        loa_diags_add(d, 0, 0, "pacing.window",
                      "from and to must differ (null sends at any time of day)");
        return;
    }
    b->in.window_from_min = min[0];
    b->in.window_to_min = min[1];
}

static void parse_pacing(json_t *p, struct loa_campaign_body *b, struct loa_diags *d)
{
    if (!json_is_object(p)) {
        loa_diags_add(d, 0, 0, "pacing",
                      "must be an object with batch_size, batch_interval_s, rate_per_s, window");
        return;
    }
    const char *k;
    json_t *v;
    json_object_foreach(p, k, v) {
        if (!one_of(k, pacing_keys, sizeof(pacing_keys) / sizeof(pacing_keys[0]))) {
            char where[96];
            snprintf(where, sizeof(where), "pacing.%.60s", k);
            loa_diags_add(d, 0, 0, where,
                          "unknown field (batch_size, batch_interval_s, rate_per_s or window)");
        }
    }
    json_t *v2;
    int64_t n;
    if ((v2 = json_object_get(p, "batch_size")) &&
        int_field(v2, "pacing.batch_size", BATCH_SIZE_MAX, &n, d))
        b->in.batch_size = n;
    if ((v2 = json_object_get(p, "batch_interval_s")) &&
        int_field(v2, "pacing.batch_interval_s", BATCH_INTERVAL_MAX, &n, d))
        b->in.batch_interval_ms = n * 1000;
    if ((v2 = json_object_get(p, "rate_per_s")) &&
        int_field(v2, "pacing.rate_per_s", RATE_MAX, &n, d))
        b->in.rate_per_s = n;
    if ((v2 = json_object_get(p, "window")))
        parse_window(v2, b, d);
}

static void parse_time(const json_t *v, const struct loa_campaign_parse_opts *o,
                       struct loa_campaign_body *b, struct loa_diags *d)
{
    if (json_is_null(v)) {
        b->in.scheduled_at = 0;
        return;
    }
    const char *s = json_string_value(v);
    int64_t at = 0;
    int rc = s ? loa_time_parse_local(s, o->tz, loa_now_ms(), &at) : LOA_EPARSE;
    if (rc == LOA_EPARSE) {
        loa_diags_add(d, 0, 0, "scheduled_at",
                      "must be a time: \"2026-05-04 09:00\" (the Page's local time) or ISO 8601 "
                      "with an offset such as \"2026-05-04T02:00:00Z\"");
    } else if (rc == LOA_EINVAL) {
        if (o->tz && *o->tz)
            loa_diags_add(d, 0, 0, "scheduled_at",
                          "the Page's time zone %s is unknown; give the time with an offset",
                          o->tz);
        else
            loa_diags_add(d, 0, 0, "scheduled_at",
                          "a time without an offset is the Page's local time; the Page is "
                          "unknown, so give an offset (Z or +07:00)");
    } else if (rc == LOA_ERANGE) {
        loa_diags_add(d, 0, 0, "scheduled_at",
                      "%s does not exist in %s (the clocks skip it for daylight saving time)", s,
                      o->tz);
    } else if (at <= o->now) {
        char now[40];
        loa_time_format(o->now, now, sizeof(now));
        loa_diags_add(d, 0, 0, "scheduled_at", "must be in the future (it is now %s)", now);
    } else {
        b->in.scheduled_at = at;
    }
}

/* Validates the blocks alone and reports their complaints under the body's path. */
static void check_blocks(const char *text, bool wrapped, struct loa_diags *d)
{
    struct loa_diags tmp;
    loa_diags_init(&tmp, d ? d->limit : 0);
    loa_campaign_validate(NULL, NULL, text, NULL, NULL, NULL, 0, &tmp);
    for (size_t i = 0; i < tmp.count; i++) {
        const struct loa_diag *x = &tmp.items[i];
        const char *w = x->where ? x->where : "";
        char where[512];
        /* The array form's paths are the message's own ("blocks[0].text"); the object form
           nests the message under "blocks". */
        if (wrapped && strncmp(w, "blocks", 6) == 0)
            snprintf(where, sizeof(where), "%s", w);
        else
            snprintf(where, sizeof(where), "blocks%s%s", *w ? "." : "", w);
        loa_diags_add(d, x->line, x->column, where, "%s", x->reason ? x->reason : "invalid");
    }
    if (d)
        d->dropped += tmp.dropped;
    loa_diags_release(&tmp);
}

static int body_parse(json_t *o, const struct loa_campaign_parse_opts *opts,
                      struct loa_campaign_body *out, struct loa_diags *d)
{
    loa_campaign_body_init(out);
    size_t before = loa_diags_total(d);
    if (!json_is_object(o)) {
        loa_diags_add(d, 0, 0, "body", "must be a JSON object");
        return LOA_EINVAL;
    }
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        if (!one_of(k, body_keys, sizeof(body_keys) / sizeof(body_keys[0])))
            loa_diags_add(d, 0, 0, k,
                          "unknown field (page_id, name, goal, purpose, tag, blocks, filter, "
                          "scheduled_at, pacing)");
    }
    const struct loa_campaign *cur = opts->current;

    if ((v = json_object_get(o, "page_id"))) {
        if (!opts->create)
            loa_diags_add(d, 0, 0, "page_id", "cannot be changed (create a new campaign)");
        else if (!json_is_string(v) || !*json_string_value(v))
            loa_diags_add(d, 0, 0, "page_id", "must be the Facebook id of a Page loa knows");
        else
            out->page_id = loa_strdup(json_string_value(v));
    } else if (opts->create) {
        loa_diags_add(d, 0, 0, "page_id", "is required");
    }

    if ((v = json_object_get(o, "name"))) {
        const char *s = json_string_value(v);
        size_t chars = s ? loa_utf8_count(s, strlen(s)) : 0;
        if (!s || chars < 1 || chars > NAME_MAX_CHARS)
            loa_diags_add(d, 0, 0, "name", "must be a string of 1 to %d characters",
                          NAME_MAX_CHARS);
        else
            out->in.name = keep(out, S_NAME, s);
    } else if (opts->create) {
        loa_diags_add(d, 0, 0, "name", "is required");
    }

    static const char *const str_keys[] = { "goal", "purpose" };
    for (int i = 0; i < 2; i++) {
        if (!(v = json_object_get(o, str_keys[i])))
            continue;
        if (!json_is_string(v)) {
            loa_diags_add(d, 0, 0, str_keys[i], "must be a string");
            continue;
        }
        const char *s = keep(out, i == 0 ? S_GOAL : S_PURPOSE, json_string_value(v));
        if (i == 0)
            out->in.goal = s;
        else
            out->in.purpose = s;
    }

    if ((v = json_object_get(o, "tag"))) {
        if (json_is_null(v))
            out->in.tag = keep(out, S_TAG, "");
        else if (!json_is_string(v) || json_string_length(v) > 64)
            loa_diags_add(d, 0, 0, "tag",
                          "must be a message tag such as POST_PURCHASE_UPDATE, "
                          "or null for none");
        else
            out->in.tag = keep(out, S_TAG, json_string_value(v));
    }

    if ((v = json_object_get(o, "blocks"))) {
        if (json_is_array(v)) {
            json_t *wrap = json_pack("{s:O}", "blocks", v);
            out->in.blocks = keep_json(out, S_BLOCKS, wrap);
            json_decref(wrap);
            check_blocks(out->in.blocks, true, d);
        } else if (json_is_object(v)) {
            out->in.blocks = keep_json(out, S_BLOCKS, v);
            check_blocks(out->in.blocks, false, d);
        } else {
            loa_diags_add(d, 0, 0, "blocks",
                          "must be a composed message {\"blocks\":[...]} (docs/messages.md)");
        }
    } else if (opts->create) {
        loa_diags_add(d, 0, 0, "blocks", "is required (a composed message {\"blocks\":[...]})");
    }

    if ((v = json_object_get(o, "filter"))) {
        if (json_is_null(v))
            out->in.filter = keep(out, S_FILTER, "{}");
        else if (!json_is_object(v))
            loa_diags_add(d, 0, 0, "filter",
                          "must be an audience filter object such as {\"tags\":{\"any\":[\"vip\"]}}"
                          " ({} or null = everyone)");
        else
            out->in.filter = keep_json(out, S_FILTER, v);
    } else if (opts->create) {
        out->in.filter = keep(out, S_FILTER, "{}");
    }

    if ((v = json_object_get(o, "scheduled_at")))
        parse_time(v, opts, out, d);
    if ((v = json_object_get(o, "pacing")))
        parse_pacing(v, out, d);

    /* Goal, purpose, tag and filter through the campaign rules; tag and purpose together. */
    const char *purpose = out->in.purpose       ? out->in.purpose
                          : cur && cur->purpose ? cur->purpose
                                                : "promotional";
    const char *tag = out->in.tag ? out->in.tag : cur ? cur->tag : NULL;
    bool tag_check = out->in.tag || out->in.purpose;
    loa_campaign_validate(opts->rules, out->in.goal, NULL, out->in.filter,
                          tag_check ? purpose : NULL, tag_check ? tag : NULL, opts->now, d);
    if (opts->create) {
        if (!out->in.goal)
            out->in.goal = keep(out, S_GOAL, "promotion");
        if (!out->in.purpose)
            out->in.purpose = keep(out, S_PURPOSE, "promotional");
    }
    if (loa_diags_total(d) > before) {
        loa_campaign_body_release(out);
        return LOA_EINVAL;
    }
    return 0;
}

/* Parses the text, then reads the object; a malformed text is a complaint about "body". */
static int text_parse(const char *json, size_t len, const struct loa_campaign_parse_opts *opts,
                      struct loa_campaign_body *out, struct loa_diags *d)
{
    json_error_t err;
    json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
    if (!o) {
        loa_campaign_body_init(out);
        loa_diags_add(d, err.line > 0 ? err.line : 0, err.column > 0 ? err.column : 0, "body",
                      "malformed JSON: %s", err.text);
        return LOA_EINVAL;
    }
    int rc = body_parse(o, opts, out, d);
    json_decref(o);
    return rc;
}

int loa_campaign_body_parse(const char *json, size_t len,
                            const struct loa_campaign_parse_opts *opts,
                            struct loa_campaign_body *out, struct loa_diags *d)
{
    if (d)
        return text_parse(json, len, opts, out, d);
    /* Success is "no complaint was added": count them even when the caller keeps none. */
    struct loa_diags local;
    loa_diags_init(&local, 1);
    int rc = text_parse(json, len, opts, out, &local);
    loa_diags_release(&local);
    return rc;
}
