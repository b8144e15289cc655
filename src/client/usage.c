/* SPDX-License-Identifier: MIT */
/*
 * Parsing of Graph's usage headers, X-App-Usage and X-Business-Use-Case-Usage. Both carry JSON
 * with percentages of a limit. A malformed or oversized value leaves the output untouched, so a
 * broken header can never slow a Page down or crash the client. Pure functions; any thread.
 */
#include <math.h>
#include <string.h>

#include <jansson.h>

#include <loa/client.h>
#include <loa/err.h>

#include "client_int.h"

/* Percentages above this are clamped; Graph reports values over 100 when throttled. */
#define PCT_MAX 100000

static int imax(int a, int b)
{
    return a > b ? a : b;
}

void loa__client_usage_recompute(struct loa_client_usage *u)
{
    if (u->has_buc)
        u->max_percent = imax(u->buc_call_count, imax(u->buc_total_cputime, u->buc_total_time));
    else if (u->has_app)
        u->max_percent = imax(u->app_call_count, imax(u->app_total_cputime, u->app_total_time));
    else
        u->max_percent = 0;
}

/*
 * Reads the number at key in obj into *out (clamped, rounded up). Missing keys give 0 and
 * *seen untouched. Returns false when the key holds something other than a number.
 */
static bool get_pct(const json_t *obj, const char *key, int *out, bool *seen)
{
    json_t *v = json_object_get(obj, key);
    *out = 0;
    if (!v)
        return true;
    if (!json_is_number(v))
        return false;
    double d = json_number_value(v);
    if (!isfinite(d) || d < 0)
        d = 0;
    if (d > PCT_MAX)
        d = PCT_MAX;
    double up = ceil(d);
    *out = (int)up;
    *seen = true;
    return true;
}

static json_t *load(const char *value, size_t len, int *rc)
{
    if (len > LOA__CLIENT_USAGE_MAX) {
        *rc = LOA_ETOOBIG;
        return NULL;
    }
    json_t *j = json_loadb(value, len, JSON_DECODE_ANY, NULL);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        *rc = LOA_EPARSE;
        return NULL;
    }
    *rc = 0;
    return j;
}

int loa_client_parse_app_usage(const char *value, size_t len, struct loa_client_usage *u)
{
    int rc;
    json_t *j = load(value, len, &rc);
    if (!j)
        return rc;
    bool seen = false;
    int cc, cpu, tt;
    if (!get_pct(j, "call_count", &cc, &seen) || !get_pct(j, "total_cputime", &cpu, &seen) ||
        !get_pct(j, "total_time", &tt, &seen) || !seen) {
        rc = LOA_EPARSE;
        goto out;
    }
    u->has_app = true;
    u->app_call_count = cc;
    u->app_total_cputime = cpu;
    u->app_total_time = tt;
    loa__client_usage_recompute(u);
out:
    json_decref(j);
    return rc;
}

struct buc_acc {
    bool any;
    int cc, cpu, tt, eta, top;
    char type[32];
};

/* Folds one array of BUC entries into acc. Returns false when it is malformed. */
static bool fold_buc(const json_t *arr, struct buc_acc *acc)
{
    if (!json_is_array(arr))
        return false;
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        if (!json_is_object(e))
            return false;
        bool seen = false, eta_seen = false;
        int cc, cpu, tt, eta;
        if (!get_pct(e, "call_count", &cc, &seen) || !get_pct(e, "total_cputime", &cpu, &seen) ||
            !get_pct(e, "total_time", &tt, &seen) ||
            !get_pct(e, "estimated_time_to_regain_access", &eta, &eta_seen))
            return false;
        if (!seen)
            return false;
        acc->any = true;
        acc->cc = imax(acc->cc, cc);
        acc->cpu = imax(acc->cpu, cpu);
        acc->tt = imax(acc->tt, tt);
        acc->eta = imax(acc->eta, eta);
        int top = imax(cc, imax(cpu, tt));
        if (top >= acc->top) {
            acc->top = top;
            const char *type = json_string_value(json_object_get(e, "type"));
            if (type) {
                size_t n = strnlen(type, sizeof(acc->type) - 1);
                memcpy(acc->type, type, n);
                acc->type[n] = '\0';
            }
        }
    }
    return true;
}

int loa_client_parse_buc_usage(const char *value, size_t len, const char *page_id,
                               struct loa_client_usage *u)
{
    int rc;
    json_t *j = load(value, len, &rc);
    if (!j)
        return rc;
    struct buc_acc acc = { .top = -1 };
    json_t *mine = page_id ? json_object_get(j, page_id) : NULL;
    if (mine) {
        if (!fold_buc(mine, &acc)) {
            rc = LOA_EPARSE;
            goto out;
        }
    } else {
        const char *key;
        json_t *arr;
        json_object_foreach(j, key, arr) {
            if (!fold_buc(arr, &acc)) {
                rc = LOA_EPARSE;
                goto out;
            }
        }
    }
    if (!acc.any) {
        rc = LOA_EPARSE;
        goto out;
    }
    u->has_buc = true;
    u->buc_call_count = acc.cc;
    u->buc_total_cputime = acc.cpu;
    u->buc_total_time = acc.tt;
    u->buc_eta_minutes = acc.eta;
    memcpy(u->buc_type, acc.type, sizeof(u->buc_type));
    loa__client_usage_recompute(u);
out:
    json_decref(j);
    return rc;
}
