/* SPDX-License-Identifier: MIT */
/*
 * One tag for many people: the people are resolved (PSIDs, ids or a filter), then tagged or
 * untagged one by one in a savepoint of the caller's transaction, so that the adapter's
 * tag-added rule (sequence triggers) runs for each person who newly has the tag.
 */
#include <string.h>

#include <loa/alloc.h>
#include <loa/audience.h>
#include <loa/err.h>
#include <loa/store.h>
#include <loa/utf8.h>

struct ids {
    int64_t *v;
    size_t n, cap;
};

static void push(struct ids *a, int64_t id)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 64;
        a->v = loa_reallocarray(a->v, a->cap, sizeof(*a->v));
    }
    a->v[a->n++] = id;
}

static int collect(const struct loa_audience_member *m, void *ud)
{
    push(ud, m->id);
    return 0;
}

static bool tag_ok(const char *t)
{
    size_t n = t ? strlen(t) : 0;
    return n > 0 && loa_utf8_valid(t, n) && loa_utf8_count(t, n) <= 64 && !strpbrk(t, ",;");
}

/* The people t selects, each once, in the order given (a filter: id order). */
static int resolve(struct loa_store *st, int64_t page_ref, const struct loa_audience_tagging *t,
                   struct ids *out, struct loa_diags *diags)
{
    int rc = 0;
    if (t->npsids) {
        for (size_t i = 0; i < t->npsids; i++) {
            struct loa_subscriber s;
            int frc = loa_store_subscriber_find(st, page_ref, t->psids[i], &s);
            if (frc == LOA_ENOENT) {
                char where[32];
                snprintf(where, sizeof(where), "psids[%zu]", i);
                loa_diags_add(diags, 0, 0, where, "no subscriber with PSID '%s' on this Page",
                              t->psids[i]);
                rc = LOA_EINVAL;
                continue;
            }
            if (frc < 0)
                return frc;
            push(out, s.id);
            loa_subscriber_release(&s);
        }
    } else if (t->nids) {
        for (size_t i = 0; i < t->nids; i++) {
            struct loa_subscriber s;
            int grc = loa_store_subscriber_get(st, t->ids[i], &s);
            if (grc == 0 && s.page_ref != page_ref)
                grc = LOA_ENOENT;
            if (grc == 0)
                loa_subscriber_release(&s);
            if (grc == LOA_ENOENT) {
                char where[32];
                snprintf(where, sizeof(where), "ids[%zu]", i);
                loa_diags_add(diags, 0, 0, where, "no subscriber %lld on this Page",
                              (long long)t->ids[i]);
                rc = LOA_EINVAL;
                continue;
            }
            if (grc < 0)
                return grc;
            push(out, t->ids[i]);
        }
    } else {
        rc = loa_store_audience_scan(st, page_ref, t->filter, LOA_AUDIENCE_UNORDERED, NULL, 0,
                                     collect, out);
    }
    if (rc < 0)
        return rc;
    /* Each person once, even when a PSID is given twice. */
    size_t n = 0;
    for (size_t i = 0; i < out->n; i++) {
        bool seen = false;
        for (size_t j = 0; j < n && !seen && t->npsids + t->nids > 0; j++)
            seen = out->v[j] == out->v[i];
        if (!seen)
            out->v[n++] = out->v[i];
    }
    out->n = n;
    return 0;
}

int loa_audience_tag_tx(struct loa_txn *tx, int64_t page_ref, const struct loa_audience_tagging *t,
                        struct loa_audience_tag_report *rep, struct loa_diags *diags)
{
    memset(rep, 0, sizeof(*rep));
    if (!tag_ok(t->tag)) {
        loa_diags_add(diags, 0, 0, "tag", "a tag name is 1 to 64 characters without ',' or ';'");
        return LOA_EINVAL;
    }
    struct loa_store *st = loa_txn_store(tx);
    struct ids people = { 0 };
    int rc = resolve(st, page_ref, t, &people, diags);
    int64_t tag_id = 0;
    if (rc == 0) {
        rep->matched = (int64_t)people.n;
        rc = loa_store_tag_find(st, page_ref, t->tag, &tag_id, &rep->tag);
        if (rc == LOA_ENOENT) {
            rc = 0;
            tag_id = 0;
        }
    }
    if (rc < 0 || (t->remove && !tag_id)) {
        loa_free(people.v);
        return rc;
    }
    if ((rc = loa_store_savepoint(tx)) < 0) {
        loa_free(people.v);
        return rc;
    }
    if (!tag_id)
        rc = loa_store_tag_ensure(tx, page_ref, t->tag, &tag_id);
    const char *name = rep->tag ? rep->tag : t->tag;
    for (size_t i = 0; rc == 0 && i < people.n; i++) {
        bool changed = false;
        if (t->remove) {
            rc = loa_store_tag_remove(tx, people.v[i], tag_id, &changed);
        } else {
            rc = loa_store_tag_add(tx, people.v[i], tag_id, &changed);
            if (rc == 0 && changed && t->on_added && !t->dry_run)
                rc = t->on_added(tx, page_ref, people.v[i], name, t->ud);
        }
        rep->changed += changed;
    }
    if (rc == 0 && !t->dry_run)
        rc = loa_store_savepoint_release(tx);
    else
        loa_store_savepoint_rollback(tx);
    if (rc == 0 && !rep->tag && !t->dry_run)
        rc = loa_store_tag_find(st, page_ref, t->tag, &tag_id, &rep->tag);
    loa_free(people.v);
    return rc;
}

int loa_audience_tag(struct loa_store *st, int64_t page_ref, const struct loa_audience_tagging *t,
                     struct loa_audience_tag_report *rep, struct loa_diags *diags)
{
    struct loa_txn *tx;
    int rc = loa_store_begin(st, &tx);
    if (rc < 0) {
        memset(rep, 0, sizeof(*rep));
        return rc;
    }
    rc = loa_audience_tag_tx(tx, page_ref, t, rep, diags);
    if (t->dry_run) {
        loa_store_rollback(tx);
        return rc;
    }
    return loa_store_end(tx, rc);
}
