/* SPDX-License-Identifier: MIT */
/*
 * The send decision: which route (window, tag, HUMAN_AGENT, topic token, marketing-message token,
 * utility template) a message may take at a time, under the rules in force at that time. Pure
 * functions of their arguments.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <loa/clock.h>
#include <loa/err.h>
#include <loa/rules.h>

#include "rules_int.h"

#define HUMAN_AGENT "HUMAN_AGENT"

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* t + d for a time and a non-negative duration, saturating at INT64_MAX instead of
 * overflowing (times come from outside; a hostile one must not wrap around). */
static int64_t add_ms(int64_t t, int64_t d)
{
    return t > INT64_MAX - d ? INT64_MAX : t + d;
}

void loa__rules_fmt_time(int64_t ms, char *out, size_t size)
{
    time_t t = (time_t)(ms / 1000 - (ms % 1000 < 0 ? 1 : 0));
    struct tm tm;
    gmtime_r(&t, &tm);
    if (tm.tm_hour == 0 && tm.tm_min == 0 && tm.tm_sec == 0 && ms % 1000 == 0)
        strftime(out, size, "%Y-%m-%d", &tm);
    else if (tm.tm_sec == 0)
        strftime(out, size, "%Y-%m-%dT%H:%MZ", &tm);
    else
        strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A time as text, in a small buffer owned by the caller's stack. */
struct tbuf {
    char s[40];
};

static struct tbuf T(int64_t ms) {
    struct tbuf b;
    loa__rules_fmt_time(ms, b.s, sizeof(b.s));
    return b;
}

static void
reset(struct loa_rules_decision *d, enum loa_rules_route_kind route)
{
    memset(d, 0, sizeof(*d));
    d->route = route;
    d->code = "no_route";
}

static void set_rule(struct loa_rules_decision *d, const struct loa__rule *e)
{
    d->rule_id = e ? e->id : NULL;
    d->rule_source = e ? e->source : NULL;
    d->rule_effective = e ? e->from : 0;
}

static void set_reason(struct loa_rules_decision *d, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void set_reason(struct loa_rules_decision *d, const char *fmt, va_list ap)
{
    vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
}

static void refuse(struct loa_rules_decision *d, const struct loa__rule *e, const char *code,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void refuse(struct loa_rules_decision *d, const struct loa__rule *e, const char *code,
                   const char *fmt, ...)
{
    d->allowed = false;
    d->code = code;
    d->messaging_type = LOA_RULES_MT_NONE;
    d->tag[0] = '\0';
    d->until = 0;
    set_rule(d, e);
    va_list ap;
    va_start(ap, fmt);
    set_reason(d, fmt, ap);
    va_end(ap);
}

static void allow(struct loa_rules_decision *d, const struct loa__rule *e, const char *code,
                  enum loa_rules_mtype mt, int64_t until, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void allow(struct loa_rules_decision *d, const struct loa__rule *e, const char *code,
                  enum loa_rules_mtype mt, int64_t until, const char *fmt, ...)
{
    d->allowed = true;
    d->code = code;
    d->messaging_type = mt;
    d->until = until;
    d->retry_at = 0;
    set_rule(d, e);
    va_list ap;
    va_start(ap, fmt);
    set_reason(d, fmt, ap);
    va_end(ap);
}

static bool has_tag(const struct loa__rule *e, const char *tag)
{
    for (size_t i = 0; e && i < e->p.tags.count; i++)
        if (strcmp(e->p.tags.tags[i], tag) == 0)
            return true;
    return false;
}

/* Appends s to out (size bytes, NUL-terminated), truncating. */
static void append(char *out, size_t size, const char *s)
{
    size_t len = strlen(out), n = strlen(s);
    if (len + 1 >= size)
        return;
    if (n > size - len - 1)
        n = size - len - 1;
    memcpy(out + len, s, n);
    out[len + n] = '\0';
}

/* "A", "A or B", "A, B or C" */
static void tag_list(const struct loa__rule *e, char *out, size_t size)
{
    out[0] = '\0';
    for (size_t i = 0; i < e->p.tags.count; i++) {
        append(out, size, i == 0 ? "" : i + 1 == e->p.tags.count ? " or " : ", ");
        append(out, size, e->p.tags.tags[i]);
    }
}

/* End of the run of consecutive message_tags entries, from the one in force, that list tag. */
static int64_t tag_until(const struct loa_rules *r, const struct loa__rule *cur, const char *tag)
{
    int64_t end = cur->until;
    for (size_t guard = 0; guard < r->n && end != INT64_MAX; guard++) {
        const struct loa__rule *next = loa__rules_at(r, LOA__R_MESSAGE_TAGS, end);
        if (!next || next->from != end || !has_tag(next, tag))
            break;
        end = next->until;
    }
    return end;
}

/* ---------------------------------------------------------------------------------------- */
/* The standard window                                                                       */

struct window {
    const struct loa__rule *std;  /* standard_window in force, or NULL */
    const struct loa__rule *rule; /* the entry that sets the end (std or ctm_window) */
    bool opened;                  /* the last interaction opened a window */
    int64_t start, end;
};

static void window_at(const struct loa_rules *r, const struct loa_rules_person *p, int64_t at,
                      struct window *w)
{
    memset(w, 0, sizeof(*w));
    w->std = w->rule = loa__rules_at(r, LOA__R_STANDARD_WINDOW, at);
    if (!w->std || p->last_interaction == 0 || (unsigned)p->last_action >= LOA_RULES_ACT_COUNT)
        return;
    if (!(w->std->p.window.opened_by & (1u << p->last_action)))
        return;
    w->opened = true;
    w->start = p->last_interaction;
    w->end = add_ms(p->last_interaction, w->std->p.window.len);
    const struct loa__rule *ctm = loa__rules_at(r, LOA__R_CTM_WINDOW, at);
    if (p->first_after_ctm_ad && ctm && add_ms(p->last_interaction, ctm->p.ctm.len) > w->end) {
        w->end = add_ms(p->last_interaction, ctm->p.ctm.len);
        w->rule = ctm;
    }
}

static bool window_open(const struct window *w, int64_t at)
{
    return w->opened && at < w->end;
}

static long hours_of(int64_t ms)
{
    return (long)(ms / LOA_HOUR_MS);
}

static void refuse_window(struct loa_rules_decision *d, const struct loa_rules_person *p,
                          const struct window *w)
{
    if (!w->std)
        refuse(d, NULL, "no_window", "no standard-window rule is in force at this date");
    else if (p->last_interaction == 0 || p->last_action == LOA_RULES_ACT_NONE)
        refuse(d, w->std, "no_window", "the person has no interaction that opens the window");
    else if (!w->opened)
        refuse(d, w->std, "no_window", "a %s does not open the standard messaging window",
               loa_rules_action_name(p->last_action));
    else
        refuse(d, w->rule, "window_closed", "the %ld h window opened by the %s at %s closed at %s",
               hours_of(w->end - w->start), loa_rules_action_name(p->last_action), T(w->start).s,
               T(w->end).s);
}

static void decide_window(const struct loa_rules *r, const struct loa_rules_request *q,
                          struct loa_rules_decision *d)
{
    const struct loa_rules_person *p = q->person;
    const struct loa__rule *promo = loa__rules_at(r, LOA__R_PROMOTIONAL, q->at);
    struct window w;
    window_at(r, p, q->at, &w);
    reset(d, LOA_RULES_ROUTE_WINDOW);
    if (window_open(&w, q->at)) {
        if (q->purpose == LOA_RULES_PROMOTIONAL && promo && !promo->p.promo.in_window) {
            refuse(d, promo, "promotional_window", "promotional content is not allowed at all");
            return;
        }
        bool ctm = w.rule != w.std;
        allow(d, w.rule, ctm ? "ctm_window_open" : "window_open",
              q->sender == LOA_RULES_HUMAN ? LOA_RULES_MT_RESPONSE : LOA_RULES_MT_UPDATE, w.end,
              "inside the %s window opened by the %s at %s, open until %s",
              ctm ? "click-to-Messenger ad" : "standard", loa_rules_action_name(p->last_action),
              T(w.start).s, T(w.end).s);
        return;
    }
    const struct loa__rule *plus = loa__rules_at(r, LOA__R_PLUS_ONE, q->at);
    if (plus && w.opened && p->sent_after_window < plus->p.plus_one.messages) {
        if (q->purpose == LOA_RULES_PROMOTIONAL && !plus->p.plus_one.promotional) {
            refuse(d, plus, "promotional_plus_one",
                   "the window closed at %s; the 24+1 extra message may not be promotional",
                   T(w.end).s);
            return;
        }
        allow(d, plus, "plus_one", LOA_RULES_MT_UPDATE, plus->until,
              "the window closed at %s; 24+1 allows %u more message(s) after it", T(w.end).s,
              plus->p.plus_one.messages - p->sent_after_window);
        return;
    }
    refuse_window(d, p, &w);
}

/* ---------------------------------------------------------------------------------------- */
/* Tags                                                                                      */

static bool refuse_promotional_tag(const struct loa_rules *r, const struct loa_rules_request *q,
                                   const struct loa__rule *tags, const char *tag,
                                   struct loa_rules_decision *d)
{
    if (q->purpose != LOA_RULES_PROMOTIONAL)
        return false;
    const struct loa__rule *promo = loa__rules_at(r, LOA__R_PROMOTIONAL, q->at);
    bool promo_ok = promo ? promo->p.promo.message_tag : false;
    bool tags_ok = tags ? tags->p.tags.promotional : false;
    if (promo_ok && tags_ok)
        return false;
    refuse(d, promo && !promo_ok ? promo : tags, "promotional_tag",
           "promotional content may never be sent with a message tag (%s)", tag);
    return true;
}

/* The tag is not in the entry in force: retired (an earlier entry had it) or unknown. */
static void refuse_tag(const struct loa_rules *r, const struct loa__rule *tags, const char *tag,
                       int64_t at, struct loa_rules_decision *d)
{
    if (!tags) {
        refuse(d, NULL, "tag_unknown", "no message-tag rule is in force at this date");
        return;
    }
    bool retired = false;
    for (size_t i = 0; i < r->n; i++)
        retired |=
            r->v[i].kind == LOA__R_MESSAGE_TAGS && r->v[i].until <= at && has_tag(&r->v[i], tag);
    char list[200];
    tag_list(tags, list, sizeof(list));
    if (retired)
        refuse(d, tags, "tag_retired", "%s is retired; only %s may be sent outside the window", tag,
               list);
    else if (tags->p.tags.count <= 4)
        refuse(d, tags, "tag_unknown", "%s is not a message tag at this date; only %s may be used",
               tag, list);
    else
        refuse(d, tags, "tag_unknown", "%s is not a message tag at this date", tag);
}

static void decide_human_agent(const struct loa_rules *r, const struct loa_rules_request *q,
                               struct loa_rules_decision *d)
{
    const struct loa_rules_person *p = q->person;
    const struct loa__rule *tags = loa__rules_at(r, LOA__R_MESSAGE_TAGS, q->at);
    reset(d, LOA_RULES_ROUTE_HUMAN_AGENT);
    if (!has_tag(tags, HUMAN_AGENT)) {
        refuse_tag(r, tags, HUMAN_AGENT, q->at, d);
        return;
    }
    if (refuse_promotional_tag(r, q, tags, HUMAN_AGENT, d))
        return;
    int64_t until = tag_until(r, tags, HUMAN_AGENT);
    const struct loa__rule *ha = loa__rules_at(r, LOA__R_HUMAN_AGENT, q->at);
    if (ha) {
        if (ha->p.human.human_only && q->sender != LOA_RULES_HUMAN) {
            refuse(d, ha, "human_only",
                   "HUMAN_AGENT is only for replies typed by a person; automated messages may "
                   "not use it");
            return;
        }
        struct window w;
        window_at(r, p, q->at, &w);
        long days = (long)(ha->p.human.len / LOA_DAY_MS);
        if (!w.opened) {
            refuse(d, ha, "human_agent_expired",
                   "HUMAN_AGENT needs a message from the person in the last %ld days; there is "
                   "none",
                   days);
            return;
        }
        int64_t end = add_ms(w.start, ha->p.human.len);
        if (q->at >= end) {
            refuse(d, ha, "human_agent_expired",
                   "HUMAN_AGENT may be used only within %ld days of the person's last message; "
                   "the last was at %s, %ld days ago",
                   days, T(w.start).s, (long)((q->at - w.start) / LOA_DAY_MS));
            return;
        }
        until = min64(until, end);
    }
    allow(d, ha ? ha : tags, "human_agent", LOA_RULES_MT_MESSAGE_TAG, until,
          "a reply typed by a person may use HUMAN_AGENT until %s", T(until).s);
    snprintf(d->tag, sizeof(d->tag), "%s", HUMAN_AGENT);
}

static void decide_tag(const struct loa_rules *r, const struct loa_rules_request *q,
                       const char *tag, struct loa_rules_decision *d)
{
    if (strcmp(tag, HUMAN_AGENT) == 0) {
        decide_human_agent(r, q, d);
        return;
    }
    const struct loa__rule *tags = loa__rules_at(r, LOA__R_MESSAGE_TAGS, q->at);
    reset(d, LOA_RULES_ROUTE_TAG);
    if (!has_tag(tags, tag)) {
        refuse_tag(r, tags, tag, q->at, d);
        return;
    }
    if (refuse_promotional_tag(r, q, tags, tag, d))
        return;
    int64_t until = tag_until(r, tags, tag);
    if (until == INT64_MAX)
        allow(d, tags, "tag", LOA_RULES_MT_MESSAGE_TAG, until,
              "%s may carry a non-promotional update outside the window", tag);
    else
        allow(d, tags, "tag", LOA_RULES_MT_MESSAGE_TAG, until,
              "%s may carry a non-promotional update outside the window until %s", tag, T(until).s);
    snprintf(d->tag, sizeof(d->tag), "%s", tag);
}

/* ---------------------------------------------------------------------------------------- */
/* Notification topics                                                                       */

static int64_t add_months(int64_t ms, unsigned months)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (ms < 0 || !gmtime_r(&t, &tm) || tm.tm_year > 8000)
        return ms < 0 ? ms : INT64_MAX; /* out of any calendar loa deals with */
    tm.tm_mon += (int)months;
    return (int64_t)timegm(&tm) * 1000 + ms % 1000;
}

/* When the token expires: INT64_MAX never, 0 when unknown (no frequency rule covers its
 * creation). */
static int64_t token_expiry(const struct loa_rules *r, const struct loa_rules_token *t,
                            const struct loa__rule **freq)
{
    *freq = loa__rules_at(r, LOA__R_TOPIC_FREQUENCIES, t->created);
    if (t->expires)
        return t->expires;
    const struct loa__rule *ex = loa__rules_at(r, LOA__R_TOPIC_TOKEN_EXPIRY, t->created);
    if (ex && !ex->p.token_expiry.expires)
        return INT64_MAX; /* created when tokens stopped expiring */
    if (!*freq || (unsigned)t->frequency >= LOA__FREQ_COUNT ||
        !(*freq)->p.freq.present[t->frequency])
        return 0;
    return add_months(t->created, (*freq)->p.freq.lifetime_months[t->frequency]);
}

static const struct loa_rules_token *find_token(const struct loa_rules_person *p, const char *id)
{
    for (size_t i = 0; i < p->token_count; i++)
        if (p->tokens[i].topic_id && strcmp(p->tokens[i].topic_id, id) == 0)
            return &p->tokens[i];
    return NULL;
}

/* Whether a retirement of topics (entry e) spares recipients where p is. */
static bool topics_kept_for(const struct loa__rule *e, const struct loa_rules_person *p)
{
    return e && e->p.retired.except.n > 0 && p->country &&
           loa__countries_has(&e->p.retired.except, p->country);
}

/* Topics are available to person p at at; refuses otherwise. */
static bool topics_available(const struct loa_rules *r, const struct loa_rules_person *p,
                             int64_t at, struct loa_rules_decision *d)
{
    const struct loa__rule *retired = loa__rules_at(r, LOA__R_TOPICS_RETIRED, at);
    if (retired && retired->p.retired.except.n == 0) {
        refuse(d, retired, "topics_retired",
               "notification topics (Recurring Notifications) were retired on Messenger on %s; "
               "the paid Marketing Message API replaces them",
               T(retired->from).s);
        return false;
    }
    if (retired && !topics_kept_for(retired, p)) {
        if (p->country && *p->country)
            refuse(d, retired, "topics_retired",
                   "notification topics stopped on %s except for recipients in the regions rule "
                   "%s lists; this person is in %s",
                   T(retired->from).s, retired->id, p->country);
        else
            refuse(d, retired, "topics_retired",
                   "notification topics stopped on %s except for recipients in the regions rule "
                   "%s lists; this person's country is unknown",
                   T(retired->from).s, retired->id);
        return false;
    }
    if (!loa__rules_at(r, LOA__R_TOPIC_CADENCE, at)) {
        refuse(d, loa__rules_first(r, LOA__R_TOPIC_CADENCE), "topics_unavailable",
               "notification topics are not available at this date");
        return false;
    }
    return true;
}

static void decide_topic(const struct loa_rules *r, const struct loa_rules_request *q,
                         const char *topic, struct loa_rules_decision *d)
{
    const struct loa_rules_person *p = q->person;
    reset(d, LOA_RULES_ROUTE_TOPIC);
    d->recipient = LOA_RULES_TO_TOKEN;
    if (!topics_available(r, p, q->at, d))
        return;
    const struct loa__rule *cad = loa__rules_at(r, LOA__R_TOPIC_CADENCE, q->at);
    const struct loa_rules_token *t = find_token(p, topic);
    if (!t) {
        refuse(d, cad, "no_token", "the person follows no topic \"%s\"", topic);
        return;
    }
    d->topic_id = t->topic_id;
    const struct loa__rule *pol = loa__rules_at(r, LOA__R_TOPIC_POLICY, q->at);
    if (t->topic_inactive && (!pol || pol->p.policy.inactive_suspends)) {
        refuse(d, pol, "topic_inactive", "topic \"%s\" is deactivated, which suspends its tokens",
               topic);
        return;
    }
    const struct loa__rule *freq;
    int64_t exp = token_expiry(r, t, &freq);
    if (t->status == LOA_RULES_TOKEN_STOPPED) {
        refuse(d, freq ? freq : cad, "token_stopped",
               "the person stopped notifications for topic \"%s\"", topic);
        return;
    }
    if (exp == 0) {
        refuse(d, freq ? freq : cad, "token_frequency",
               "no rule gives a lifetime to a %s token created on %s",
               loa_rules_frequency_name(t->frequency), T(t->created).s);
        return;
    }
    if (q->at >= exp) {
        refuse(d, freq ? freq : cad, "token_expired", "the token for topic \"%s\" expired at %s",
               topic, T(exp).s);
        return;
    }
    if (q->structured && (!pol || pol->p.policy.text_only)) {
        refuse(d, pol, "topic_text_only", "topic messages may contain only text and emoji");
        return;
    }
    const struct loa__rule *promo = loa__rules_at(r, LOA__R_PROMOTIONAL, q->at);
    if (q->purpose == LOA_RULES_PROMOTIONAL && promo && !promo->p.promo.topic_token) {
        refuse(d, promo, "promotional_topic",
               "promotional content may not be sent with a topic token");
        return;
    }
    int64_t interval = cad->p.cadence.interval;
    if (freq && (unsigned)t->frequency < LOA__FREQ_COUNT && freq->p.freq.present[t->frequency] &&
        freq->p.freq.period[t->frequency] > interval)
        interval = freq->p.freq.period[t->frequency];
    if (t->last_sent && q->at < add_ms(t->last_sent, interval)) {
        refuse(d, cad, "cadence",
               "one message per %ld h per token: the last went at %s, the next may go at %s",
               hours_of(interval), T(t->last_sent).s, T(add_ms(t->last_sent, interval)).s);
        d->retry_at = add_ms(t->last_sent, interval);
        return;
    }
    int64_t until = exp;
    const struct loa__rule *retire = loa__rules_next(r, LOA__R_TOPICS_RETIRED, q->at);
    if (retire && !topics_kept_for(retire, p))
        until = min64(until, retire->from);
    if (exp == INT64_MAX)
        allow(d, cad, "topic_token", LOA_RULES_MT_UPDATE, until,
              "topic \"%s\": one message per %ld h with its token, which does not expire", topic,
              hours_of(interval));
    else
        allow(d, cad, "topic_token", LOA_RULES_MT_UPDATE, until,
              "topic \"%s\": one message per %ld h with its token, valid until %s", topic,
              hours_of(interval), T(exp).s);
}

/* ---------------------------------------------------------------------------------------- */
/* Marketing messages and utility templates                                                  */

/* The route kind k is not in force at at: refuses with the next entry's date, if any. */
static void refuse_not_yet(const struct loa_rules *r, enum loa__rule_kind k, int64_t at,
                           const char *code, const char *what, struct loa_rules_decision *d)
{
    const struct loa__rule *next = loa__rules_next(r, k, at);
    if (next) {
        refuse(d, next, code, "%s are not a route yet at this date", what);
        d->retry_at = next->from;
    } else {
        refuse(d, loa__rules_first(r, k), code, "%s are not a route at this date", what);
    }
}

static void decide_marketing(const struct loa_rules *r, const struct loa_rules_request *q,
                             struct loa_rules_decision *d)
{
    const struct loa_rules_person *p = q->person;
    reset(d, LOA_RULES_ROUTE_MARKETING);
    d->recipient = LOA_RULES_TO_TOKEN;
    const struct loa__rule *m = loa__rules_at(r, LOA__R_MARKETING_MESSAGES, q->at);
    if (!m) {
        refuse_not_yet(r, LOA__R_MARKETING_MESSAGES, q->at, "marketing_unavailable",
                       "marketing messages (Marketing Message API for Messenger)", d);
        return;
    }
    if (!p->marketing.held) {
        refuse(d, m, "no_marketing_token", "the person has not opted in to marketing messages");
        return;
    }
    if (p->marketing.status == LOA_RULES_TOKEN_STOPPED) {
        refuse(d, m, "marketing_stopped", "the person stopped marketing messages");
        return;
    }
    if (q->purpose == LOA_RULES_PROMOTIONAL && !m->p.marketing.promotional) {
        refuse(d, m, "promotional_marketing",
               "promotional content may not be sent as a marketing message at this date");
        return;
    }
    if (!p->country || !*p->country) {
        if (!m->p.marketing.unknown_country_allowed) {
            refuse(d, m, "country_unknown",
                   "marketing messages cannot reach some regions (rule %s lists them) and this "
                   "person's country is unknown",
                   m->id);
            return;
        }
    } else if (loa__countries_has(&m->p.marketing.excluded, p->country)) {
        refuse(d, m, "marketing_region", "marketing messages cannot be sent to recipients in %s",
               p->country);
        return;
    }
    allow(d, m, "marketing_token", LOA_RULES_MT_UPDATE, m->until,
          "a marketing message with the person's token (paid, through a marketing-message "
          "campaign on Meta)");
}

static void decide_utility(const struct loa_rules *r, const struct loa_rules_request *q,
                           unsigned buttons, struct loa_rules_decision *d)
{
    reset(d, LOA_RULES_ROUTE_UTILITY);
    const char *tpl = q->route.template_id;
    const struct loa__rule *u = loa__rules_at(r, LOA__R_UTILITY_TEMPLATES, q->at);
    if (!u) {
        refuse_not_yet(r, LOA__R_UTILITY_TEMPLATES, q->at, "templates_unavailable",
                       "utility message templates", d);
        return;
    }
    if (q->purpose == LOA_RULES_PROMOTIONAL && !u->p.utility.promotional) {
        refuse(d, u, "promotional_template",
               "utility templates carry order, account and appointment updates; marketing "
               "content may never use one");
        return;
    }
    if (!tpl || !*tpl) {
        refuse(d, u, "no_template", "no utility template is chosen for this message");
        return;
    }
    d->template_id = tpl;
    if (!q->route.template_approved) {
        refuse(d, u, "template_unapproved", "template \"%s\" is not approved by Meta", tpl);
        return;
    }
    if (buttons > u->p.utility.max_buttons) {
        refuse(d, u, "template_buttons", "a utility template has at most %u buttons, not %u",
               u->p.utility.max_buttons, buttons);
        return;
    }
    allow(d, u, "utility_template", LOA_RULES_MT_UPDATE, u->until,
          "utility template \"%s\" may carry this non-promotional update outside the window", tpl);
}

/* ---------------------------------------------------------------------------------------- */
/* The decision                                                                              */

/* Structured messages go only to people first seen after the Page's activation in loa. */
static void check_structured(const struct loa_rules *r, const struct loa_rules_person *p,
                             bool structured, int64_t at, struct loa_rules_decision *d)
{
    const struct loa__rule *s = loa__rules_at(r, LOA__R_STRUCTURED, at);
    if (!structured || !d->allowed || !s || !s->p.structured.first_seen_after_activation)
        return;
    if (p->page_activated == 0)
        refuse(d, s, "not_activated",
               "structured messages go only to people first seen after the Page was activated "
               "in loa, and the activation time is unknown");
    else if (p->first_seen == 0 || p->first_seen < p->page_activated)
        refuse(d, s, "not_activated",
               "structured messages go only to people first seen after the Page was activated "
               "in loa (%s); this person was first seen %s",
               T(p->page_activated).s, p->first_seen ? T(p->first_seen).s : "at an unknown time");
}

/* What every decision carries whatever the route: the structured-message rule and whether
 * messaging_type is required. */
static void finish(const struct loa_rules *r, const struct loa_rules_request *q,
                   struct loa_rules_decision *d)
{
    check_structured(r, q->person, q->structured, q->at, d);
    const struct loa__rule *mt = loa__rules_at(r, LOA__R_MESSAGING_TYPE, q->at);
    d->messaging_type_required = mt && mt->p.mtype.required;
}

static struct loa_rules_decision *next_slot(struct loa_rules_routes *o)
{
    return o->n < LOA_RULES_ROUTES_MAX ? &o->v[o->n++] : NULL;
}

int loa_rules_routes(const struct loa_rules *r, const struct loa_rules_request *q, unsigned buttons,
                     struct loa_rules_routes *out)
{
    memset(out, 0, sizeof(*out));
    out->best = -1;
    if (!q->person)
        return LOA_EINVAL;
    const struct loa_rules_person *p = q->person;
    unsigned accept = q->accept ? q->accept : LOA_RULES_ROUTE_BIT(LOA_RULES_ROUTE_TOPIC);
    struct loa_rules_decision *d = next_slot(out);
    decide_window(r, q, d);
    if (q->sender == LOA_RULES_HUMAN && q->purpose == LOA_RULES_NON_PROMOTIONAL &&
        (d = next_slot(out)))
        decide_human_agent(r, q, d);
    if ((accept & LOA_RULES_ROUTE_BIT(LOA_RULES_ROUTE_UTILITY)) && q->route.template_id &&
        (d = next_slot(out)))
        decide_utility(r, q, buttons, d);
    if ((accept & LOA_RULES_ROUTE_BIT(LOA_RULES_ROUTE_MARKETING)) && (d = next_slot(out)))
        decide_marketing(r, q, d);
    for (size_t i = 0; (accept & LOA_RULES_ROUTE_BIT(LOA_RULES_ROUTE_TOPIC)) && i < p->token_count;
         i++)
        if (p->tokens[i].topic_id && (d = next_slot(out)))
            decide_topic(r, q, p->tokens[i].topic_id, d);
    for (size_t i = 0; i < out->n; i++) {
        finish(r, q, &out->v[i]);
        if (out->best < 0 && out->v[i].allowed)
            out->best = (int)i;
    }
    return 0;
}

/*
 * The first allowed route; when none, the refusal that explains best: the first topic
 * token's when the person holds tokens (the last hope of such a message), else the last
 * route tried.
 */
static void decide_auto(const struct loa_rules *r, const struct loa_rules_request *q,
                        struct loa_rules_decision *d)
{
    struct loa_rules_routes all;
    loa_rules_routes(r, q, 0, &all);
    if (all.best >= 0) {
        *d = all.v[all.best];
        return;
    }
    size_t pick = all.n - 1;
    for (size_t i = 0; i < all.n; i++)
        if (all.v[i].route == LOA_RULES_ROUTE_TOPIC) {
            pick = i;
            break;
        }
    *d = all.v[pick];
}

static int decide_one(const struct loa_rules *r, const struct loa_rules_request *q,
                      struct loa_rules_decision *d)
{
    switch (q->route.kind) {
    case LOA_RULES_ROUTE_AUTO:
        decide_auto(r, q, d);
        break;
    case LOA_RULES_ROUTE_WINDOW:
        decide_window(r, q, d);
        break;
    case LOA_RULES_ROUTE_TAG:
        if (!q->route.tag || !*q->route.tag)
            return LOA_EINVAL;
        decide_tag(r, q, q->route.tag, d);
        break;
    case LOA_RULES_ROUTE_HUMAN_AGENT:
        decide_human_agent(r, q, d);
        break;
    case LOA_RULES_ROUTE_TOPIC:
        if (!q->route.topic_id || !*q->route.topic_id)
            return LOA_EINVAL;
        decide_topic(r, q, q->route.topic_id, d);
        break;
    case LOA_RULES_ROUTE_MARKETING:
        decide_marketing(r, q, d);
        break;
    case LOA_RULES_ROUTE_UTILITY:
        decide_utility(r, q, 0, d);
        break;
    default:
        return LOA_EINVAL;
    }
    return 0;
}

int loa_rules_decide(const struct loa_rules *r, const struct loa_rules_request *q,
                     struct loa_rules_decision *d)
{
    reset(d, q->route.kind);
    if (!q->person) {
        refuse(d, NULL, "no_route", "no person given");
        return LOA_EINVAL;
    }
    int rc = decide_one(r, q, d);
    if (rc) {
        reset(d, q->route.kind);
        refuse(d, NULL, "no_route", "the route needs a tag or topic id");
        return rc;
    }
    finish(r, q, d);
    return 0;
}

int loa_rules_staff_reply(const struct loa_rules *r, const struct loa_rules_person *person,
                          enum loa_rules_purpose purpose, int64_t at,
                          struct loa_rules_decision *out, bool *topic_usable)
{
    struct loa_rules_request q = {
        .person = person,
        .purpose = purpose,
        .structured = false,
        .sender = LOA_RULES_HUMAN,
        .route = { .kind = LOA_RULES_ROUTE_AUTO },
        .at = at,
    };
    int rc = loa_rules_decide(r, &q, out);
    if (rc || !topic_usable)
        return rc;
    for (size_t i = 0; i < person->token_count; i++) {
        struct loa_rules_decision t;
        topic_usable[i] = false;
        if (!person->tokens[i].topic_id)
            continue;
        q.route.kind = LOA_RULES_ROUTE_TOPIC;
        q.route.topic_id = person->tokens[i].topic_id;
        if (loa_rules_decide(r, &q, &t) == 0)
            topic_usable[i] = t.allowed;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Opt-in invitations                                                                        */

int loa_rules_may_invite(const struct loa_rules *r, const struct loa_rules_person *p,
                         const struct loa_rules_invite *inv, int64_t at,
                         struct loa_rules_decision *d)
{
    reset(d, LOA_RULES_ROUTE_WINDOW);
    if (!p || !inv || !inv->topic_id) {
        refuse(d, NULL, "no_route", "no person or topic given");
        return LOA_EINVAL;
    }
    if (!topics_available(r, p, at, d))
        return 0;
    const struct loa__rule *o = loa__rules_at(r, LOA__R_TOPIC_OPTIN, at);
    if (!o) {
        refuse(d, loa__rules_first(r, LOA__R_TOPIC_OPTIN), "topics_unavailable",
               "no opt-in rule is in force at this date");
        return 0;
    }
    const struct loa__rule *f = loa__rules_at(r, LOA__R_TOPIC_FREQUENCIES, at);
    if (!f || (unsigned)inv->frequency >= LOA__FREQ_COUNT || !f->p.freq.present[inv->frequency]) {
        refuse(d, f, "frequency_unavailable", "%s topics cannot be requested at this date",
               loa_rules_frequency_name(inv->frequency));
        return 0;
    }
    const struct loa__rule *pol = loa__rules_at(r, LOA__R_TOPIC_POLICY, at);
    if (inv->topic_inactive) {
        refuse(d, pol, "topic_inactive", "topic \"%s\" is deactivated", inv->topic_id);
        return 0;
    }
    struct window w;
    window_at(r, p, at, &w);
    if (o->p.optin.inside_window_only && !window_open(&w, at)) {
        struct loa_rules_decision wd;
        refuse_window(&wd, p, &w);
        refuse(d, o, w.opened ? "window_closed" : "no_window",
               "opt-in requests may be sent only inside the standard window: %s", wd.reason);
        return 0;
    }
    if (o->p.optin.one_per_window && inv->last_invite_any && w.opened &&
        inv->last_invite_any >= w.start) {
        refuse(d, o, "invite_per_window",
               "one opt-in request per window: one went at %s, after the person's last "
               "interaction at %s",
               T(inv->last_invite_any).s, T(w.start).s);
        return 0;
    }
    int64_t next = add_ms(inv->last_invite_same_title, o->p.optin.same_title);
    if (inv->last_invite_same_title && at < next) {
        refuse(d, o, "invite_same_title",
               "a request with the same title went at %s; the same title at most once in %ld "
               "days",
               T(inv->last_invite_same_title).s, (long)(o->p.optin.same_title / LOA_DAY_MS));
        d->retry_at = next;
        return 0;
    }
    const struct loa_rules_token *t = find_token(p, inv->topic_id);
    const struct loa__rule *tf;
    int64_t exp = t ? token_expiry(r, t, &tf) : 0;
    if (t && exp > at && o->p.optin.reinvite_accepted_after_expiry) {
        if (exp == INT64_MAX)
            refuse(d, o, "invite_accepted",
                   "the person accepted topic \"%s\" and the token does not expire", inv->topic_id);
        else
            refuse(d, o, "invite_accepted",
                   "the person accepted topic \"%s\"; invite again after the token expires at %s",
                   inv->topic_id, T(exp).s);
        d->retry_at = exp == INT64_MAX ? 0 : exp;
        return 0;
    }
    next = add_ms(inv->last_invite_topic, o->p.optin.reinvite_unaccepted);
    if (inv->last_invite_topic && (!t || inv->last_invite_topic >= exp) && at < next) {
        refuse(d, o, "invite_pending",
               "an invitation to topic \"%s\" went at %s and was not accepted; invite again from "
               "%s",
               inv->topic_id, T(inv->last_invite_topic).s, T(next).s);
        d->retry_at = next;
        return 0;
    }
    allow(d, o, "invite_ok", LOA_RULES_MT_UPDATE, w.end,
          "an opt-in request for topic \"%s\" may be sent inside the window, until %s",
          inv->topic_id, T(w.end).s);
    check_structured(r, p, true, at, d); /* the request is a template */
    const struct loa__rule *mt = loa__rules_at(r, LOA__R_MESSAGING_TYPE, at);
    d->messaging_type_required = mt && mt->p.mtype.required;
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Parameters                                                                                */

int loa_rules_content_limits(const struct loa_rules *r, int64_t at, struct loa_limits *out)
{
    const struct loa__rule *e = loa__rules_at(r, LOA__R_CONTENT_LIMITS, at);
    *out = e ? e->p.limits : loa_limits_default();
    return e ? 0 : LOA_ENOENT;
}

int loa_rules_send_rate(const struct loa_rules *r, int64_t at, struct loa_rules_send_rate *out)
{
    const struct loa__rule *e = loa__rules_at(r, LOA__R_SEND_RATE, at);
    if (!e) {
        memset(out, 0, sizeof(*out));
        return LOA_ENOENT;
    }
    *out = e->p.rate;
    return 0;
}
