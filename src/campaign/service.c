/* SPDX-License-Identifier: MIT */
/*
 * The campaign service's transition table (include/loa/campaign.h): one row per operation with
 * the statuses it is allowed from, the status it leads to and the sentence that refuses it.
 * Every change of a campaign's status, by the REST API, the CLI or the dispatcher, goes through
 * loa_campaign_apply_with(); the status masks the store takes are built here and nowhere else.
 */
#include <stdio.h>
#include <string.h>

#include <loa/audience.h>
#include <loa/buf.h>
#include <loa/campaign.h>
#include <loa/err.h>

#define BIT(s)    (1u << (s))
#define STARTED   (BIT(LOA_CAMPAIGN_RUNNING) | BIT(LOA_CAMPAIGN_PAUSED) | BIT(LOA_CAMPAIGN_COMPLETED))
#define NO_TARGET (-1)

struct transition {
    const char *name;
    unsigned from; /* BIT(status) of every status the operation is allowed from */
    int to;        /* the status it leads to, or NO_TARGET */
    const char *refusal;
};

static const struct transition table[LOA_CAMPAIGN_OP_COUNT] = {
    [LOA_CAMPAIGN_OP_EDIT] = { "edit", BIT(LOA_CAMPAIGN_DRAFT), NO_TARGET,
                               "only a draft can be edited" },
    [LOA_CAMPAIGN_OP_DELETE] = { "delete", BIT(LOA_CAMPAIGN_DRAFT) | BIT(LOA_CAMPAIGN_CANCELLED),
                                 NO_TARGET, "only a draft or a cancelled campaign can be deleted" },
    [LOA_CAMPAIGN_OP_START] = { "start", BIT(LOA_CAMPAIGN_DRAFT) | BIT(LOA_CAMPAIGN_SCHEDULED),
                                LOA_CAMPAIGN_RUNNING,
                                "only a draft or a scheduled campaign can be started" },
    [LOA_CAMPAIGN_OP_SCHEDULE] = { "schedule",
                                   BIT(LOA_CAMPAIGN_DRAFT) | BIT(LOA_CAMPAIGN_SCHEDULED),
                                   LOA_CAMPAIGN_SCHEDULED,
                                   "only a draft or a scheduled campaign can be scheduled" },
    [LOA_CAMPAIGN_OP_PAUSE] = { "pause", BIT(LOA_CAMPAIGN_RUNNING), LOA_CAMPAIGN_PAUSED,
                                "only a running campaign can be paused" },
    [LOA_CAMPAIGN_OP_RESUME] = { "resume", BIT(LOA_CAMPAIGN_PAUSED), LOA_CAMPAIGN_RUNNING,
                                 "only a paused campaign can be resumed" },
    [LOA_CAMPAIGN_OP_CANCEL] = { "cancel",
                                 BIT(LOA_CAMPAIGN_DRAFT) | BIT(LOA_CAMPAIGN_SCHEDULED) |
                                     BIT(LOA_CAMPAIGN_RUNNING) | BIT(LOA_CAMPAIGN_PAUSED),
                                 LOA_CAMPAIGN_CANCELLED,
                                 "a completed or cancelled campaign cannot be cancelled" },
    [LOA_CAMPAIGN_OP_RETRY_FAILED] = { "retry_failed", STARTED, NO_TARGET,
                                       "only a started (running, paused or completed) campaign's "
                                       "deliveries can be sent again" },
    [LOA_CAMPAIGN_OP_RESEND_UNKNOWN] = { "resend_unknown", STARTED, NO_TARGET,
                                         "only a started (running, paused or completed) "
                                         "campaign's deliveries can be sent again" },
};

static const struct transition *row(enum loa_campaign_op op)
{
    return (unsigned)op < LOA_CAMPAIGN_OP_COUNT ? &table[op] : NULL;
}

const char *loa_campaign_op_name(enum loa_campaign_op op)
{
    const struct transition *t = row(op);
    return t ? t->name : NULL;
}

bool loa_campaign_op_allowed(enum loa_campaign_op op, enum loa_campaign_status status)
{
    const struct transition *t = row(op);
    return t && (unsigned)status < LOA_CAMPAIGN_STATUS_COUNT && (t->from & BIT(status));
}

int loa_campaign_op_target(enum loa_campaign_op op)
{
    const struct transition *t = row(op);
    return t ? t->to : NO_TARGET;
}

const char *loa_campaign_op_refusal(enum loa_campaign_op op)
{
    const struct transition *t = row(op);
    return t ? t->refusal : "unknown operation";
}

bool loa_campaign_is_started(enum loa_campaign_status status)
{
    return (unsigned)status < LOA_CAMPAIGN_STATUS_COUNT && (STARTED & BIT(status));
}

/* ---- Start and schedule ------------------------------------------------------------------- */

struct page_find {
    int64_t ref;
    int64_t quota;
};

static int find_quota(const struct loa_page *p, void *ud)
{
    struct page_find *f = ud;
    if (p->id != f->ref)
        return 0;
    f->quota = p->plan_quota;
    return 1;
}

/* Snapshots the audience of c (allowed to start) and sets it running. */
static int start(struct loa_txn *tx, const struct loa_campaign *c, int64_t now, int64_t *total_out)
{
    struct loa_audience_node *filter = NULL;
    struct page_find f = { .ref = c->page_ref };
    int rc = loa_audience_parse(c->filter, strlen(c->filter), now, "filter", &filter, NULL);
    if (rc < 0)
        rc = LOA_EINVAL;
    else if ((rc = loa_store_page_list(loa_txn_store(tx), find_quota, &f)) >= 0)
        rc = loa_store_campaign_snapshot(tx, c->id, filter, f.quota, LOA_PRIORITY_BULK, now,
                                         total_out);
    loa_audience_free(filter);
    return rc;
}

/* Sets scheduled_at of a draft or scheduled campaign to at and schedules it (in tx). */
static int schedule(struct loa_txn *tx, int64_t id, int64_t at, int64_t now)
{
    const struct transition *t = row(LOA_CAMPAIGN_OP_SCHEDULE);
    struct loa_campaign_body b; /* keeps every field but scheduled_at */
    loa_campaign_body_init(&b);
    b.in.scheduled_at = at;
    /* Only a draft can be changed: a scheduled campaign goes back to draft for the new time.
     * LOA_ESTATE here means it is not scheduled; the update refuses anything but a draft. */
    int rc = loa_store_campaign_set_status(tx, id, t->from & ~BIT(LOA_CAMPAIGN_DRAFT),
                                           LOA_CAMPAIGN_DRAFT, NULL, now);
    if (rc == LOA_ESTATE)
        rc = 0;
    if (rc == 0)
        rc = loa_store_campaign_update(tx, id, &b.in, now);
    if (rc == 0)
        rc = loa_store_campaign_set_status(tx, id, BIT(LOA_CAMPAIGN_DRAFT),
                                           (enum loa_campaign_status)t->to, NULL, now);
    return rc;
}

/* ---- Apply -------------------------------------------------------------------------------- */

/* The operations whose store call checks the status itself, atomically, with the mask. */
static int apply_masked(struct loa_txn *tx, int64_t id, const struct transition *t,
                        enum loa_campaign_op op, const char *reason, int64_t now)
{
    if (op == LOA_CAMPAIGN_OP_DELETE)
        return loa_store_campaign_delete(tx, id, t->from);
    return loa_store_campaign_set_status(tx, id, t->from, (enum loa_campaign_status)t->to,
                                         op == LOA_CAMPAIGN_OP_PAUSE ? reason : NULL, now);
}

/* The operations that read the campaign first. */
static int apply_read(struct loa_txn *tx, int64_t id, enum loa_campaign_op op,
                      struct loa_campaign_args *a, int64_t now)
{
    struct loa_campaign c;
    int rc = loa_store_campaign_get(loa_txn_store(tx), id, &c);
    if (rc < 0)
        return rc;
    if (!loa_campaign_op_allowed(op, c.status)) {
        loa_campaign_release(&c);
        return LOA_ESTATE;
    }
    size_t n = 0;
    const char *const *reasons;
    switch (op) {
    case LOA_CAMPAIGN_OP_EDIT:
        rc = a->in ? loa_store_campaign_update(tx, id, a->in, now) : 0;
        break;
    case LOA_CAMPAIGN_OP_START:
        rc = start(tx, &c, now, &a->count);
        break;
    case LOA_CAMPAIGN_OP_SCHEDULE:
        rc = schedule(tx, id, a->at > 0 ? a->at : c.scheduled_at, now);
        break;
    case LOA_CAMPAIGN_OP_RETRY_FAILED:
        reasons = loa_campaign_retryable_reasons(&n);
        rc = loa_store_delivery_retry_failed(tx, id, reasons, n, now, &a->count);
        break;
    case LOA_CAMPAIGN_OP_RESEND_UNKNOWN:
        rc = loa_store_delivery_resend_unknown(tx, id, a->ids, a->nids, a->force, now, &a->count,
                                               a->unreconciled, &a->nunreconciled);
        break;
    default:
        rc = LOA_EINVAL;
        break;
    }
    loa_campaign_release(&c);
    return rc;
}

int loa_campaign_apply_with(struct loa_store *st, int64_t id, enum loa_campaign_op op,
                            struct loa_campaign_args *args, int64_t now, const char **refusal_out)
{
    const struct transition *t = row(op);
    if (!t)
        return LOA_EINVAL;
    struct loa_campaign_args none = { 0 };
    struct loa_campaign_args *a = args ? args : &none;
    a->count = 0;
    struct loa_txn *tx;
    int rc = loa_store_begin(st, &tx);
    if (rc < 0)
        return rc;
    switch (op) {
    case LOA_CAMPAIGN_OP_DELETE:
    case LOA_CAMPAIGN_OP_PAUSE:
    case LOA_CAMPAIGN_OP_RESUME:
    case LOA_CAMPAIGN_OP_CANCEL:
        rc = apply_masked(tx, id, t, op, a->reason, now);
        break;
    default:
        rc = apply_read(tx, id, op, a, now);
        break;
    }
    rc = loa_store_end(tx, rc);
    if (refusal_out)
        *refusal_out = rc == LOA_ESTATE ? t->refusal : NULL;
    return rc;
}

int loa_campaign_apply(struct loa_store *st, int64_t id, enum loa_campaign_op op,
                       const char *reason, int64_t now, const char **refusal_out)
{
    struct loa_campaign_args a = { .reason = reason };
    return loa_campaign_apply_with(st, id, op, &a, now, refusal_out);
}

void loa_campaign_unreconciled_text(const int64_t *ids, size_t n, char *out, size_t size)
{
    const char *it = n == 1 ? "it" : "they";
    struct loa_buf b;
    loa_buf_init(&b, 4096);
    (void)loa_buf_puts(&b, n == 1 ? "delivery " : "deliveries ");
    for (size_t i = 0; i < n && i < 20; i++)
        (void)loa_buf_printf(&b, "%s%lld", i ? ", " : "", (long long)ids[i]);
    if (n > 20)
        (void)loa_buf_printf(&b, " and %zu more", n - 20);
    (void)loa_buf_printf(&b,
                         " %s not reconciled yet: nobody has read the person's conversation, so "
                         "%s may have been delivered; wait until the dispatcher reconciles %s "
                         "(sent, or reconciled_not_sent), or force the resend and accept that %s "
                         "may arrive twice",
                         n == 1 ? "is" : "are", it, n == 1 ? "it" : "them", it);
    snprintf(out, size, "%s", loa_buf_cstr(&b));
    loa_buf_release(&b);
}

int loa_campaign_start(struct loa_store *st, int64_t id, int64_t now, int64_t *total_out)
{
    struct loa_campaign_args a = { 0 };
    int rc = loa_campaign_apply_with(st, id, LOA_CAMPAIGN_OP_START, &a, now, NULL);
    if (rc == 0 && total_out)
        *total_out = a.count;
    return rc;
}

int loa_campaign_schedule(struct loa_store *st, int64_t id, int64_t at, int64_t now)
{
    struct loa_campaign_args a = { .at = at };
    return loa_campaign_apply_with(st, id, LOA_CAMPAIGN_OP_SCHEDULE, &a, now, NULL);
}

int loa_campaign_create(struct loa_store *st, int64_t page_ref, const struct loa_campaign_input *in,
                        int64_t now, int64_t *id_out)
{
    struct loa_txn *tx;
    int rc = loa_store_begin(st, &tx);
    if (rc < 0)
        return rc;
    return loa_store_end(tx, loa_store_campaign_create(tx, page_ref, in, now, id_out));
}

int loa_campaign_pause_page(struct loa_txn *tx, int64_t page_ref, const char *reason, int64_t now,
                            int64_t *count_out)
{
    /* The store pauses exactly the PAUSE row's from-status (running) of the Page. */
    return loa_store_campaign_pause_page(tx, page_ref, reason, now, count_out);
}

int loa_campaign_list(struct loa_store *st, int64_t page_ref, unsigned statuses,
                      int (*fn)(const struct loa_campaign *c, void *ud), void *ud)
{
    return loa_store_campaign_list(st, page_ref, statuses, fn, ud);
}

int loa_campaign_list_in(struct loa_store *st, enum loa_campaign_status status,
                         int (*fn)(const struct loa_campaign *c, void *ud), void *ud)
{
    return loa_store_campaign_list(st, 0, BIT(status), fn, ud);
}
