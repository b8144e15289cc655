/* SPDX-License-Identifier: MIT */
/*
 * Reachability of an audience: the rules' decision for each member (route auto, as a
 * broadcast would send), tallied by route and by refusal reason, and one page of who.
 *
 * The tally reads every member once through loa_store_audience_scan(), which hands over
 * only what the rules need without allocating per row; the page of people is a separate,
 * ordered and cursor-paged query. Decisions are pure functions of the member, the Page's
 * activation time and the instant, so a preview never writes anything.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <loa/alloc.h>
#include <loa/audience.h>
#include <loa/clock.h>
#include <loa/err.h>
#include <loa/rules.h>
#include <loa/store.h>

#define MAX_TALLIES 64

int loa_audience_decide(const struct loa_rules *r, const struct loa_audience_member *m,
                        int64_t page_activated, enum loa_audience_purpose purpose, const char *tag,
                        bool structured, int64_t at, struct loa_rules_decision *out)
{
    memset(out, 0, sizeof(*out));
    if (!m->psid || !*m->psid) {
        out->code = "no_psid";
        snprintf(out->reason, sizeof(out->reason),
                 "an imported contact who never wrote to the Page cannot be messaged");
        return 0;
    }
    if (m->unreachable) {
        out->code = "unreachable";
        snprintf(out->reason, sizeof(out->reason),
                 "Messenger reported that the Page can no longer message this person");
        return 0;
    }
    enum loa_rules_action act = LOA_RULES_ACT_NONE;
    if (m->last_interaction_at > 0 && m->last_interaction_kind &&
        loa_rules_action_parse(m->last_interaction_kind, &act) < 0)
        act = LOA_RULES_ACT_NONE;
    /*
     * The one place that turns a person into what the rules read, for the preview and the
     * dispatcher alike. Seam: notification-topic tokens and the number of messages sent since
     * the window closed are not loaded yet; the rules see none, which can only make a decision
     * more cautious.
     */
    struct loa_rules_person person = {
        .last_interaction = m->last_interaction_at,
        .last_action = act,
        .first_after_ctm_ad = m->first_after_ctm_ad,
        .first_seen = m->first_seen_at,
        .page_activated = page_activated,
    };
    struct loa_rules_request req = {
        .person = &person,
        .purpose =
            purpose == LOA_AUD_PROMOTIONAL ? LOA_RULES_PROMOTIONAL : LOA_RULES_NON_PROMOTIONAL,
        .structured = structured,
        .sender = LOA_RULES_AUTOMATION,
        .route = { .kind = LOA_RULES_ROUTE_AUTO },
        .at = at,
    };
    int rc = loa_rules_decide(r, &req, out);
    if (rc < 0 || out->allowed || purpose == LOA_AUD_PROMOTIONAL || !tag || !*tag)
        return rc;
    /* Non-promotional with a message tag: outside the window the tag may still carry it. */
    req.route = (struct loa_rules_route){ .kind = LOA_RULES_ROUTE_TAG, .tag = tag };
    struct loa_rules_decision alt;
    if (loa_rules_decide(r, &req, &alt) == 0 && alt.allowed)
        *out = alt;
    return 0;
}

struct tally_set {
    struct loa_audience_tally items[MAX_TALLIES];
    size_t n;
};

static bool same(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static void tally_add(struct tally_set *t, const struct loa_rules_decision *d)
{
    const char *route = d->allowed ? loa_rules_route_name(d->route) : NULL;
    const char *mtype = d->allowed ? loa_rules_mtype_name(d->messaging_type) : NULL;
    const char *code = d->code ? d->code : "no_route";
    for (size_t i = 0; i < t->n; i++) {
        struct loa_audience_tally *x = &t->items[i];
        if (same(x->code, code) && same(x->route, route) && same(x->messaging_type, mtype) &&
            strcmp(x->tag, d->tag) == 0) {
            x->count++;
            return;
        }
    }
    if (t->n == MAX_TALLIES) {
        t->items[MAX_TALLIES - 1].count++; /* cannot happen with the rules' few codes */
        return;
    }
    struct loa_audience_tally *x = &t->items[t->n++];
    memset(x, 0, sizeof(*x));
    x->route = route;
    x->messaging_type = mtype;
    snprintf(x->tag, sizeof(x->tag), "%s", d->tag);
    x->code = code;
    x->count = 1;
}

struct scan_ud {
    const struct loa_rules *r;
    const struct loa_audience_preview_opts *o;
    struct tally_set ok, refused;
    int64_t total;
    int rc;
};

static int scan_one(const struct loa_audience_member *m, void *ud)
{
    struct scan_ud *u = ud;
    u->total++;
    if (u->o->counts_only)
        return 0;
    struct loa_rules_decision d;
    int rc = loa_audience_decide(u->r, m, u->o->page_activated, u->o->purpose, u->o->tag,
                                 u->o->structured, u->o->at, &d);
    if (rc < 0) {
        u->rc = rc;
        return 1;
    }
    tally_add(d.allowed ? &u->ok : &u->refused, &d);
    return 0;
}

static int by_count_desc(const void *a, const void *b)
{
    const struct loa_audience_tally *x = a, *y = b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return strcmp(x->code, y->code);
}

static struct loa_audience_tally *tally_detach(struct tally_set *t, size_t *n)
{
    *n = t->n;
    if (!t->n)
        return NULL;
    qsort(t->items, t->n, sizeof(t->items[0]), by_count_desc);
    return loa_memdup(t->items, t->n * sizeof(t->items[0]));
}

struct page_ud {
    const struct loa_rules *r;
    const struct loa_audience_preview_opts *o;
    struct loa_audience_preview *out;
    int64_t want;
    bool more;
    int64_t last_at, last_id;
    int rc;
};

static int page_one(const struct loa_subscriber *s, void *ud)
{
    struct page_ud *u = ud;
    if ((int64_t)u->out->npeople == u->want) {
        u->more = true;
        return 1;
    }
    struct loa_audience_member m = {
        .id = s->id,
        .psid = s->psid,
        .first_seen_at = s->first_seen_at,
        .last_interaction_at = s->last_interaction_at,
        .last_interaction_kind = s->last_interaction_kind,
        .first_after_ctm_ad = s->first_after_ctm_ad,
        .unreachable = s->unreachable,
    };
    struct loa_rules_decision d;
    int rc = loa_audience_decide(u->r, &m, u->o->page_activated, u->o->purpose, u->o->tag,
                                 u->o->structured, u->o->at, &d);
    if (rc < 0) {
        u->rc = rc;
        return 1;
    }
    struct loa_audience_person *p = &u->out->people[u->out->npeople++];
    p->id = s->id;
    p->psid = s->psid ? loa_strdup(s->psid) : NULL;
    size_t fl = s->first_name ? strlen(s->first_name) : 0;
    size_t ll = s->last_name ? strlen(s->last_name) : 0;
    p->name = loa_malloc(fl + ll + 2);
    size_t at = 0;
    if (fl) {
        memcpy(p->name, s->first_name, fl);
        at = fl;
    }
    if (fl && ll)
        p->name[at++] = ' ';
    if (ll) {
        memcpy(p->name + at, s->last_name, ll);
        at += ll;
    }
    p->name[at] = '\0';
    p->phone = s->phone ? loa_strdup(s->phone) : NULL;
    p->last_interaction_at = s->last_interaction_at;
    p->reachable = d.allowed;
    p->code = d.code ? d.code : "no_route";
    p->route = d.allowed ? loa_rules_route_name(d.route) : NULL;
    u->last_at = s->last_interaction_at;
    u->last_id = s->id;
    return 0;
}

/* Cursors: "r.<last_interaction_at>.<id>" (most recent first) or "i.<id>" (by id). */
static int parse_cursor(const char *s, bool recent, struct loa_audience_cursor *c)
{
    long long a = 0, b = 0;
    int used = 0;
    if (recent && sscanf(s, "r.%lld.%lld%n", &a, &b, &used) == 2 && s[used] == '\0' && a >= 0 &&
        b > 0) {
        *c = (struct loa_audience_cursor){ .set = true, .last_interaction_at = a, .id = b };
        return 0;
    }
    if (!recent && sscanf(s, "i.%lld%n", &b, &used) == 1 && s[used] == '\0' && b > 0) {
        *c = (struct loa_audience_cursor){ .set = true, .id = b };
        return 0;
    }
    return LOA_EINVAL;
}

int loa_audience_preview(struct loa_store *st, const struct loa_rules *r,
                         const struct loa_audience_node *filter,
                         const struct loa_audience_preview_opts *o,
                         struct loa_audience_preview *out, struct loa_diags *diags)
{
    memset(out, 0, sizeof(*out));
    int64_t started = loa_mono_ms();
    out->at = o->at;
    out->purpose = o->purpose;
    out->structured = o->structured;
    struct loa_audience_cursor cursor = { 0 };
    if (o->cursor && *o->cursor && parse_cursor(o->cursor, o->recent_first, &cursor) < 0) {
        loa_diags_add(diags, 0, 0, "cursor", "not a cursor from a previous page of this order");
        return LOA_EINVAL;
    }
    if (!r && !o->counts_only)
        return LOA_EINVAL;
    struct scan_ud *u = loa_calloc(1, sizeof(*u));
    u->r = r;
    u->o = o;
    int rc = 0;
    if (o->counts_only)
        rc = loa_store_audience_count(st, o->page_ref, filter, &u->total);
    else
        rc = loa_store_audience_scan(st, o->page_ref, filter, LOA_AUDIENCE_UNORDERED, NULL, 0,
                                     scan_one, u);
    if (rc == 0)
        rc = u->rc;
    if (rc == 0) {
        out->total = u->total;
        out->by_route = tally_detach(&u->ok, &out->nby_route);
        out->by_reason = tally_detach(&u->refused, &out->nby_reason);
        for (size_t i = 0; i < out->nby_route; i++)
            out->reachable += out->by_route[i].count;
        for (size_t i = 0; i < out->nby_reason; i++)
            out->not_reachable += out->by_reason[i].count;
    }
    loa_free(u);
    if (rc == 0 && o->limit > 0 && r) {
        struct page_ud p = { .r = r, .o = o, .out = out, .want = o->limit };
        out->people = loa_calloc((size_t)o->limit, sizeof(*out->people));
        rc = loa_store_audience_list(st, o->page_ref, filter,
                                     o->recent_first ? LOA_AUDIENCE_BY_RECENT : LOA_AUDIENCE_BY_ID,
                                     &cursor, o->limit + 1, page_one, &p);
        if (rc == 0)
            rc = p.rc;
        if (rc == 0 && p.more) {
            if (o->recent_first)
                snprintf(out->next_cursor, sizeof(out->next_cursor), "r.%" PRId64 ".%" PRId64,
                         p.last_at, p.last_id);
            else
                snprintf(out->next_cursor, sizeof(out->next_cursor), "i.%" PRId64, p.last_id);
        }
    }
    out->elapsed_ms = loa_mono_ms() - started;
    if (rc < 0)
        loa_audience_preview_release(out);
    return rc;
}

void loa_audience_preview_release(struct loa_audience_preview *p)
{
    for (size_t i = 0; i < p->npeople; i++) {
        loa_free(p->people[i].psid);
        loa_free(p->people[i].name);
        loa_free(p->people[i].phone);
    }
    loa_free(p->people);
    loa_free(p->by_route);
    loa_free(p->by_reason);
    memset(p, 0, sizeof(*p));
}

static json_t *time_or_null(int64_t ms)
{
    if (ms <= 0)
        return json_null();
    char buf[40];
    loa_time_format(ms, buf, sizeof(buf));
    return json_string(buf);
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

int loa_audience_preview_format(const struct loa_audience_preview *p, struct loa_buf *out)
{
    json_t *routes = json_array(), *reasons = json_array(), *people = json_array();
    for (size_t i = 0; i < p->nby_route; i++) {
        const struct loa_audience_tally *t = &p->by_route[i];
        json_array_append_new(routes, json_pack("{s:s,s:s,s:o,s:s,s:I}", "route", t->route,
                                                "messaging_type",
                                                t->messaging_type ? t->messaging_type : "", "tag",
                                                t->tag[0] ? json_string(t->tag) : json_null(),
                                                "code", t->code, "count", (json_int_t)t->count));
    }
    for (size_t i = 0; i < p->nby_reason; i++)
        json_array_append_new(reasons, json_pack("{s:s,s:I}", "code", p->by_reason[i].code, "count",
                                                 (json_int_t)p->by_reason[i].count));
    for (size_t i = 0; i < p->npeople; i++) {
        const struct loa_audience_person *x = &p->people[i];
        json_array_append_new(
            people,
            json_pack("{s:I,s:o,s:s,s:o,s:o,s:b,s:s,s:o}", "id", (json_int_t)x->id, "psid",
                      str_or_null(x->psid), "name", x->name, "phone", str_or_null(x->phone),
                      "last_interaction_at", time_or_null(x->last_interaction_at), "reachable",
                      x->reachable, "code", x->code, "route", str_or_null(x->route)));
    }
    json_t *o =
        json_pack("{s:o,s:s,s:b,s:I,s:I,s:I,s:o,s:o,s:o,s:o,s:I}", "at", time_or_null(p->at),
                  "purpose", p->purpose == LOA_AUD_PROMOTIONAL ? "promotional" : "non_promotional",
                  "structured", p->structured, "total", (json_int_t)p->total, "reachable",
                  (json_int_t)p->reachable, "not_reachable", (json_int_t)p->not_reachable,
                  "by_route", routes, "by_reason", reasons, "people", people, "next_cursor",
                  p->next_cursor[0] ? json_string(p->next_cursor) : json_null(), "elapsed_ms",
                  (json_int_t)p->elapsed_ms);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    int rc = text ? loa_buf_puts(out, text) : LOA_ENOMEM;
    free(text); /* jansson allocates with malloc */
    return rc;
}
