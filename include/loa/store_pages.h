/* SPDX-License-Identifier: MIT */
/*
 * The store: Pages (their access tokens and app secrets encrypted at rest).
 * Part of the store interface (include/loa/store.h, which includes it); ownership and threading as
 * said there.
 */
#ifndef LOA_STORE_PAGES_H
#define LOA_STORE_PAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loa_store;
struct loa_txn;

/* ---- Pages ------------------------------------------------------------------------------- */

struct loa_page {
    int64_t id;    /* internal id */
    char *page_id; /* Facebook Page id */
    char *name;
    char *timezone;       /* IANA name */
    int64_t activated_at; /* when loa started serving the Page (ms) */
    int64_t daily_cap;    /* rolling 24 h send cap shared by all campaigns */
    int64_t plan_quota;   /* subscribers a plan allows to reach; 0 = unlimited */
    int64_t created_at;
    bool has_token;
    bool has_app_secret;
    int64_t send_rate; /* messages per second; 0 = the rules' default (schema 3) */
};

/** Fields to create or change; NULL strings / negative numbers leave a field as it is. */
struct loa_page_input {
    const char *page_id; /* required */
    const char *name;
    const char *access_token; /* stored encrypted */
    const char *app_secret;   /* stored encrypted */
    const char *timezone;
    int64_t activated_at;
    int64_t daily_cap;
    int64_t plan_quota;
    int64_t send_rate; /* > 0 sets it; 0 or negative leaves it (schema 3) */
};

/**
 * Creates the Page or updates the given fields. *created_out (may be NULL) tells which. A new
 * access token lifts the stop Graph put on the Page (struct loa_page_pacing.stopped_at).
 */
int loa_store_page_put(struct loa_txn *tx, const struct loa_page_input *in, int64_t now,
                       bool *created_out);
/** Returns 0 or LOA_ENOENT. Release *out with loa_page_release(). */
int loa_store_page_get(struct loa_store *st, const char *page_id, struct loa_page *out);
/** The same by internal id. Returns 0 or LOA_ENOENT. */
int loa_store_page_get_ref(struct loa_store *st, int64_t ref, struct loa_page *out);
/** Calls fn for each Page in page_id order; fn returns non-zero to stop. */
int loa_store_page_list(struct loa_store *st, int (*fn)(const struct loa_page *p, void *ud),
                        void *ud);
/** Decrypts the Page's secrets; either out may be NULL. Ownership: caller frees. */
int loa_store_page_secrets(struct loa_store *st, const char *page_id, char **token_out,
                           char **app_secret_out);
void loa_page_release(struct loa_page *p);

#endif /* LOA_STORE_PAGES_H */
