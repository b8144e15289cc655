/* SPDX-License-Identifier: MIT */
/*
 * The reconciler of unknown deliveries (reconcile.h, docs/campaigns.md "Reconciliation").
 *
 * Per Page, one check at a time, at most LOA__RECONCILE_RATE calls per second (calls are
 * spaced, so no second ever holds more): GET {page-id}/conversations?user_id={psid} gives the
 * person's conversation, GET {conversation-id}/messages lists it newest first. A message from
 * the Page created between the delivery's claim (minus a skew: the platform's clock, second
 * precision) and LOA__RECONCILE_AFTER_MS after it, that the store does not already know as
 * another message, is the delivery's: it becomes sent with that mid. The Send API's
 * conversation view carries no metadata, so the match is on the sender and the time (a
 * message the store knows with this delivery's metadata matches too). When the listing reaches
 * back before the claim without such a message, or the person has no conversation, the
 * delivery was not delivered: reconciled_not_sent, safe to resend. A Graph error leaves it for
 * later, with backoff.
 */
#include "reconcile.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include <loa/alloc.h>
#include <loa/client.h>
#include <loa/clock.h>
#include <loa/err.h>
#include <loa/log.h>
#include <loa/store.h>

#define QUEUE_MAX  16   /* checks queued per Page */
#define SCAN_MS    1000 /* how often the store is asked for unknowns due */
#define SCAN_LIMIT 512
#define SPACING_MS (1000 / LOA__RECONCILE_RATE + 10)

enum phase {
    NEED_CONVERSATION,
    NEED_MESSAGES
};

struct check {
    int64_t id, campaign_id, claimed_at, tries;
    char psid[72];
};

struct rpage {
    int64_t ref;
    char page_id[72];
    char *token, *secret;
    struct check queue[QUEUE_MAX]; /* queue[0] is the check under way */
    size_t qlen;
    bool fill; /* the scan under way may add to the queue */
    bool waiting;
    enum phase phase;
    char conversation[128];
    char *after; /* cursor of the next page of messages */
    int pages_read;
    int64_t next_call_at;
};

struct loa__reconciler {
    struct loa__reconcile_opts o;
    struct loa_client *client;
    struct rpage **pages;
    size_t npages;
    int64_t next_scan;
    uint64_t rnd;
    bool closing;
};

/* ---- Pages -------------------------------------------------------------------------------- */

static struct rpage *page_get(struct loa__reconciler *r, int64_t ref)
{
    for (size_t i = 0; i < r->npages; i++)
        if (r->pages[i]->ref == ref)
            return r->pages[i];
    struct rpage *p = loa_calloc(1, sizeof(*p));
    p->ref = ref;
    p->fill = true;
    r->pages = loa_realloc(r->pages, (r->npages + 1) * sizeof(*r->pages));
    r->pages[r->npages++] = p;
    return p;
}

static void forget_token(struct rpage *p)
{
    if (p->token)
        sodium_memzero(p->token, strlen(p->token));
    loa_free(p->token);
    loa_free(p->secret);
    p->token = p->secret = NULL;
}

/* Reads the Page's id and token (again: it may have changed); false when it has none. */
static bool load_token(struct loa__reconciler *r, struct rpage *p)
{
    forget_token(p);
    struct loa_page pg;
    if (loa_store_page_get_ref(r->o.st, p->ref, &pg) < 0)
        return false;
    snprintf(p->page_id, sizeof(p->page_id), "%s", pg.page_id);
    int rc = pg.has_token ? loa_store_page_secrets(r->o.st, pg.page_id, &p->token, &p->secret)
                          : LOA_ENOENT;
    loa_page_release(&pg);
    if (rc < 0)
        LOA_WARN("reconcile", "cannot read the Page's token", "page=%s error=%s", p->page_id,
                 loa_err_name(rc));
    return rc == 0 && p->token;
}

/* ---- Verdicts ----------------------------------------------------------------------------- */

/* The transaction a verdict writes in: the dispatcher's open one, else one of its own (NULL
 * when it cannot begin; *rc says). End it with txn_done(). */
static struct loa_txn *txn_take(struct loa__reconciler *r, int *rc)
{
    struct loa_txn *tx = *r->o.tx;
    *rc = tx ? 0 : loa_store_begin(r->o.st, &tx);
    return tx;
}

/* Commits (rc >= 0) or rolls back a transaction of the verdict's own; returns rc or the error. */
static int txn_done(struct loa__reconciler *r, struct loa_txn *tx, int rc)
{
    return tx == *r->o.tx ? rc : loa_store_end(tx, rc);
}

/* Ends the check under way: the next one starts from the conversation. */
static void pop(struct rpage *p)
{
    memmove(&p->queue[0], &p->queue[1], (p->qlen - 1) * sizeof(p->queue[0]));
    p->qlen--;
    p->phase = NEED_CONVERSATION;
    p->conversation[0] = '\0';
    loa_free(p->after);
    p->after = NULL;
    p->pages_read = 0;
}

static void finish_campaign(struct loa__reconciler *r, int64_t campaign_id, int64_t now)
{
    bool done = false;
    int rc;
    struct loa_txn *tx = txn_take(r, &rc);
    if (tx)
        rc = txn_done(r, tx, loa_store_campaign_finish_if_done(tx, campaign_id, now, &done));
    if (rc < 0)
        LOA_ERROR("reconcile", "cannot complete the campaign", "campaign=%lld error=%s",
                  (long long)campaign_id, loa_err_name(rc));
    else if (done)
        LOA_INFO("reconcile", "campaign completed", "campaign=%lld", (long long)campaign_id);
}

/* The verdict and what follows from it, all or nothing inside tx. */
static int apply_verdict(struct loa__reconciler *r, struct loa_txn *tx, const struct check *c,
                         const char *mid, const char *text, int64_t at, int64_t now, bool *changed)
{
    int rc = loa_store_savepoint(tx);
    if (rc < 0)
        return rc;
    rc = loa_store_delivery_reconcile(tx, c->id, mid != NULL, mid, text, at, now, changed);
    if (rc == 0 && *changed && r->o.verdict)
        rc = r->o.verdict(tx, c->id, mid != NULL, at, r->o.verdict_ud);
    int end = rc < 0 ? loa_store_savepoint_rollback(tx) : loa_store_savepoint_release(tx);
    if (rc < 0)
        *changed = false;
    return rc < 0 ? rc : end;
}

/* The conversation answered: sent with mid (at, text), or not delivered (mid NULL). */
static void verdict(struct loa__reconciler *r, struct rpage *p, const char *mid, const char *text,
                    int64_t at)
{
    const struct check *c = &p->queue[0];
    int64_t now = loa_now_ms();
    bool changed = false;
    int rc;
    struct loa_txn *tx = txn_take(r, &rc);
    if (tx)
        rc = txn_done(
            r, tx, apply_verdict(r, tx, c, mid, text, at > 0 ? at : c->claimed_at, now, &changed));
    if (rc < 0)
        LOA_ERROR("reconcile", "cannot mark the delivery", "delivery=%lld error=%s",
                  (long long)c->id, loa_err_name(rc));
    else if (changed)
        LOA_INFO("reconcile", mid ? "unknown delivery was sent" : "unknown delivery was not sent",
                 "delivery=%lld page=%s mid=%s", (long long)c->id, p->page_id, mid ? mid : "-");
    if (rc == 0)
        finish_campaign(r, c->campaign_id, now);
    pop(p);
}

/* The check could not tell: the delivery is due again after a backoff. */
static void later(struct loa__reconciler *r, struct rpage *p, const char *why)
{
    const struct check *c = &p->queue[0];
    r->rnd = r->rnd * 6364136223846793005ULL + 1442695040888963407ULL;
    int64_t wait = loa_client_backoff_ms(LOA__RECONCILE_BASE_MS, LOA__RECONCILE_CAP_MS,
                                         (unsigned)(c->tries < 16 ? c->tries : 16), r->rnd);
    if (wait < LOA__RECONCILE_BASE_MS / 5)
        wait = LOA__RECONCILE_BASE_MS / 5;
    int rc;
    struct loa_txn *tx = txn_take(r, &rc);
    if (tx)
        rc = txn_done(r, tx, loa_store_delivery_reconcile_later(tx, c->id, loa_now_ms() + wait));
    LOA_WARN("reconcile", "cannot tell yet whether the delivery was sent",
             "delivery=%lld page=%s reason=%s retry_ms=%lld error=%s", (long long)c->id, p->page_id,
             why, (long long)wait, rc < 0 ? loa_err_name(rc) : "none");
    pop(p);
}

/* Whether a Page message listed in the conversation can be this check's delivery. */
/* 1: message m is the delivery's; 0: it is not; < 0: the store could not say (decide later). */
static int matches(struct loa__reconciler *r, const struct check *c,
                   const struct loa_client_thread_message *m)
{
    if (!m->from_page || m->created_ms < c->claimed_at - LOA__RECONCILE_SKEW_MS ||
        m->created_ms > c->claimed_at + LOA__RECONCILE_AFTER_MS)
        return 0;
    struct loa_message known;
    int rc = loa_store_message_get(r->o.st, m->id, &known);
    if (rc == LOA_ENOENT)
        return 1; /* a message nobody recorded: the one whose answer was lost */
    if (rc < 0)
        return rc;
    char meta[40];
    snprintf(meta, sizeof(meta), "loa:d:%lld", (long long)c->id);
    bool ours = known.metadata && strcmp(known.metadata, meta) == 0;
    loa_message_release(&known);
    return ours ? 1 : 0;
}

static void on_messages(struct loa__reconciler *r, struct rpage *p,
                        const struct loa_client_thread *t)
{
    const struct check *c = &p->queue[0];
    for (size_t i = 0; i < t->count; i++) {
        int m = matches(r, c, &t->messages[i]);
        if (m < 0) { /* never "not sent" on a guess: that could send it twice */
            later(r, p, loa_err_name(m));
            return;
        }
        if (m) {
            verdict(r, p, t->messages[i].id, t->messages[i].text, t->messages[i].created_ms);
            return;
        }
    }
    p->pages_read++;
    int64_t oldest = t->count ? t->messages[t->count - 1].created_ms : 0;
    if (!t->after || t->count == 0 || oldest < c->claimed_at - LOA__RECONCILE_SKEW_MS) {
        verdict(r, p, NULL, NULL, 0); /* read back to before the claim: not there */
        return;
    }
    if (p->pages_read >= LOA__RECONCILE_PAGES) {
        later(r, p, "too_many_messages");
        return;
    }
    loa_free(p->after);
    p->after = loa_strdup(t->after);
}

static void on_done(void *arg, const struct loa_client_result *res)
{
    struct loa__reconciler *r = arg;
    struct rpage *p = res->user;
    if (r->closing || !p || p->qlen == 0)
        return;
    p->waiting = false;
    if (!res->accepted || !res->thread) {
        if (res->action == LOA_CLIENT_SLOW_PAGE || res->delay_ms > 0) {
            int64_t hold = res->delay_ms > 1000 ? res->delay_ms : 1000;
            p->next_call_at = loa_now_ms() + (hold < 60000 ? hold : 60000);
        }
        later(r, p, res->reason ? res->reason : "error");
        return;
    }
    if (res->kind == LOA_CLIENT_KIND_CONVERSATIONS) {
        const char *id = res->thread->conversation_id;
        if (!id) {
            verdict(r, p, NULL, NULL, 0); /* no conversation: nothing was delivered */
            return;
        }
        snprintf(p->conversation, sizeof(p->conversation), "%s", id);
        p->phase = NEED_MESSAGES;
        return;
    }
    on_messages(r, p, res->thread);
}

/* ---- The step ----------------------------------------------------------------------------- */

static int collect(const struct loa_unreconciled *u, void *ud)
{
    struct loa__reconciler *r = ud;
    struct rpage *p = page_get(r, u->page_ref);
    if (!p->fill || p->qlen >= QUEUE_MAX)
        return 0;
    struct check *c = &p->queue[p->qlen++];
    *c = (struct check){
        .id = u->id, .campaign_id = u->campaign_id, .claimed_at = u->claimed_at, .tries = u->tries
    };
    snprintf(c->psid, sizeof(c->psid), "%s", u->psid ? u->psid : "");
    return 0;
}

static void scan(struct loa__reconciler *r, int64_t now)
{
    bool idle = r->npages == 0;
    for (size_t i = 0; i < r->npages; i++) {
        r->pages[i]->fill = r->pages[i]->qlen == 0;
        idle |= r->pages[i]->fill;
    }
    if (!idle)
        return;
    size_t before = r->npages;
    int rc = loa_store_delivery_unreconciled(r->o.st, 0, now - r->o.grace_ms, now, QUEUE_MAX,
                                             SCAN_LIMIT, collect, r);
    if (rc < 0)
        LOA_ERROR("reconcile", "cannot list unknown deliveries", "error=%s", loa_err_name(rc));
    for (size_t i = 0; i < r->npages; i++) {
        struct rpage *p = r->pages[i];
        if ((p->fill || i >= before) && p->qlen > 0)
            load_token(r, p);
        p->fill = false;
    }
}

/* Submits the next call of p's check under way, if the Page's rate allows it now. */
static void advance(struct loa__reconciler *r, struct rpage *p, int64_t now)
{
    while (p->qlen > 0 && !p->waiting && now >= p->next_call_at) {
        const struct check *c = &p->queue[0];
        if (!c->psid[0]) {
            verdict(r, p, NULL, NULL, 0); /* no PSID: it could not have been sent */
            continue;
        }
        if (!p->token) {
            later(r, p, "no_token");
            continue;
        }
        struct loa_client_request req = {
            .page_id = p->page_id, .access_token = p->token, .app_secret = p->secret, .user = p
        };
        int rc = p->phase == NEED_CONVERSATION
                     ? loa_client_submit_conversation(r->client, &req, c->psid)
                     : loa_client_submit_messages(r->client, &req, p->conversation, p->after, 0);
        if (rc == LOA_EBUSY)
            return;
        if (rc < 0) {
            later(r, p, loa_err_name(rc));
            continue;
        }
        p->waiting = true;
        p->next_call_at = now + SPACING_MS;
    }
}

void loa__reconcile_step(struct loa__reconciler *r, int64_t now)
{
    if (!r)
        return;
    if (loa_client_in_flight(r->client) > 0) /* nothing to poll otherwise: no syscall per loop */
        loa_client_run(r->client, 0);
    if (now >= r->next_scan) {
        scan(r, now);
        r->next_scan = now + SCAN_MS;
    }
    for (size_t i = 0; i < r->npages; i++)
        advance(r, r->pages[i], now);
}

/* ---- Lifecycle ---------------------------------------------------------------------------- */

int loa__reconcile_new(const struct loa__reconcile_opts *o, struct loa__reconciler **out)
{
    *out = NULL;
    if (o->grace_ms < 0)
        return 0;
    struct loa__reconciler *r = loa_calloc(1, sizeof(*r));
    r->o = *o;
    if (r->o.grace_ms == 0)
        r->o.grace_ms = o->only_campaign ? 5000 : 60000;
    randombytes_buf(&r->rnd, sizeof(r->rnd));
    struct loa_client_options co;
    loa_client_options_init(&co);
    co.base_url = o->graph_url;
    co.api_version = o->graph_version;
    co.max_in_flight = 256;
    co.max_total_connections = 4;
    co.max_host_connections = 4;
    co.done = on_done;
    co.done_arg = r;
    int rc = loa_client_new(&co, &r->client);
    if (rc < 0) {
        loa_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void loa__reconcile_free(struct loa__reconciler *r)
{
    if (!r)
        return;
    r->closing = true;
    loa_client_free(r->client);
    for (size_t i = 0; i < r->npages; i++) {
        forget_token(r->pages[i]);
        loa_free(r->pages[i]->after);
        loa_free(r->pages[i]);
    }
    loa_free(r->pages);
    loa_free(r);
}
