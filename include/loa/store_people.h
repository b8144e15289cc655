/* SPDX-License-Identifier: MIT */
/*
 * The store: subscribers, tags, imported lists and the audience scan.
 * Part of the store interface (include/loa/store.h, which includes it); ownership and threading as
 * said there.
 */
#ifndef LOA_STORE_PEOPLE_H
#define LOA_STORE_PEOPLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loa_store;
struct loa_txn;

/* ---- Subscribers ------------------------------------------------------------------------- */

#define LOA_UTC_OFFSET_UNKNOWN INT32_MIN

struct loa_subscriber {
    int64_t id;
    int64_t page_ref; /* internal id of the Page */
    char *psid;       /* NULL for an imported contact not yet seen on Messenger */
    char *first_name;
    char *last_name;
    char *gender;           /* "male", "female" or NULL */
    char *locale;           /* e.g. "vi_VN" */
    int32_t utc_offset_min; /* LOA_UTC_OFFSET_UNKNOWN when unknown */
    char *phone;            /* E.164 */
    char *email;
    int64_t first_seen_at;       /* ms; 0 unknown */
    int64_t last_interaction_at; /* ms; 0 never */
    char *last_interaction_kind; /* "message", "postback", "referral", "reaction", ... */
    bool unreachable;
    char *unreachable_reason;
    char *attrs; /* JSON object text of custom attributes, "{}" when none */
    int64_t created_at;
    int64_t updated_at;
    /* Read from schema 3 on; loa_store_subscriber_upsert() ignores them. */
    int64_t ad_referral_at;     /* last click-to-Messenger ad referral not yet followed by a
                                   message; 0 = none */
    bool first_after_ctm_ad;    /* the last interaction is the person's first message after a
                                   click-to-Messenger ad (the rules' longer window applies) */
    int64_t profile_fetched_at; /* when the Graph profile was last stored; 0 = never */
};

void loa_subscriber_release(struct loa_subscriber *s);

enum loa_upsert_result {
    LOA_UPSERT_INSERTED,
    LOA_UPSERT_UPDATED,
    LOA_UPSERT_UNCHANGED,
};

/* Flags of loa_store_subscriber_upsert(). */
#define LOA_UPSERT_NO_CONTACTS 1 /* the caller knows the Page has no contacts without a PSID */

/**
 * Imports one subscriber into Page s->page_ref: matched by PSID, else (when the row has a phone)
 * by phone among contacts without a PSID (skipped with LOA_UPSERT_NO_CONTACTS); a row without
 * a PSID matches any subscriber with its phone; otherwise inserted. Non-NULL fields of s replace
 * stored ones; NULL fields keep them; s->attrs (a JSON object, may be NULL) is merged key by
 * key. Nothing is written when nothing would change. *id_out receives the subscriber's id.
 */
int loa_store_subscriber_upsert(struct loa_txn *tx, const struct loa_subscriber *s, unsigned flags,
                                int64_t now, enum loa_upsert_result *result_out, int64_t *id_out);
/** Number of the Page's subscribers without a PSID (imported contacts). */
int loa_store_contacts_count(struct loa_store *st, int64_t page_ref, int64_t *count_out);

/** Finds a subscriber of Page page_ref by PSID. Returns 0 or LOA_ENOENT; release *out. */
int loa_store_subscriber_find(struct loa_store *st, int64_t page_ref, const char *psid,
                              struct loa_subscriber *out);

struct loa_subscriber_query {
    int64_t page_ref; /* 0 = every Page */
    const char *tag;  /* only subscribers with this tag; NULL = any */
    int64_t after_id; /* cursor: ids greater than this */
    int64_t limit;    /* 0 = no limit */
    int has_phone;    /* 0 = any, > 0 only with a phone, < 0 only without */
    const char *q;    /* case-insensitive substring of name, phone, email or PSID; NULL = any */
};

/** Calls fn for each matching subscriber in id order; fn returns non-zero to stop. */
int loa_store_subscriber_list(struct loa_store *st, const struct loa_subscriber_query *q,
                              int (*fn)(const struct loa_subscriber *s, void *ud), void *ud);
int loa_store_subscriber_count(struct loa_store *st, int64_t page_ref, int64_t *count_out);
/** Tag names of a subscriber joined by ',' into *out (caller frees); "" when none. */
int loa_store_subscriber_tags(struct loa_store *st, int64_t subscriber_id, char **out);

/* ---- Tags and lists ---------------------------------------------------------------------- */

/*
 * A tag's name is compared without regard to case and Unicode form ("VIP" = "vip"; "nữ" typed
 * as n + ư + combining tilde = "nữ"): every call below that takes a tag name finds the tag by
 * that key. A tag is shown as first written (in NFC).
 */

/** Finds or creates the tag; *id_out receives its id. */
int loa_store_tag_ensure(struct loa_txn *tx, int64_t page_ref, const char *name, int64_t *id_out);
/**
 * Finds a tag by name; *name_out (may be NULL) receives its name as first written (caller
 * frees). Returns 0 or LOA_ENOENT.
 */
int loa_store_tag_find(struct loa_store *st, int64_t page_ref, const char *name, int64_t *id_out,
                       char **name_out);
/** Tags a subscriber; *added_out (may be NULL) is false when it already had the tag. */
int loa_store_tag_add(struct loa_txn *tx, int64_t subscriber_id, int64_t tag_id, bool *added_out);
/** Untags a subscriber; *removed_out (may be NULL) is false when it did not have the tag. */
int loa_store_tag_remove(struct loa_txn *tx, int64_t subscriber_id, int64_t tag_id,
                         bool *removed_out);
/**
 * Renames a tag; LOA_ENOENT when missing, LOA_EEXIST when the new name is another tag's (a
 * change of case or form of its own name is a rename).
 */
int loa_store_tag_rename(struct loa_txn *tx, int64_t page_ref, const char *from, const char *to);
/** Deletes a tag and its assignments; LOA_ENOENT when missing. */
int loa_store_tag_delete(struct loa_txn *tx, int64_t page_ref, const char *name);
/**
 * Merges tag from into tag into: everyone tagged from is tagged into, and from is deleted, all
 * or nothing. *moved_out (may be NULL) receives how many people newly got into. LOA_ENOENT
 * when either tag is missing, LOA_EINVAL when both names are the same tag.
 */
int loa_store_tag_merge(struct loa_txn *tx, int64_t page_ref, const char *from, const char *into,
                        int64_t *moved_out);
/** Calls fn for each tag of the Page with its subscriber count, by name. */
int loa_store_tag_list(struct loa_store *st, int64_t page_ref,
                       int (*fn)(const char *name, int64_t count, void *ud), void *ud);

/** Finds or creates an imported list. */
int loa_store_list_ensure(struct loa_txn *tx, int64_t page_ref, const char *name, int64_t now,
                          int64_t *id_out);
int loa_store_list_add(struct loa_txn *tx, int64_t list_id, int64_t subscriber_id);
int loa_store_list_count(struct loa_store *st, int64_t list_id, int64_t *count_out);

/* ---- Lists and audiences (schema 4; src/store/sqlite_audience.c) ------------------------ */

/** Looks up an imported list by name. Returns 0 or LOA_ENOENT. */
int loa_store_list_find(struct loa_store *st, int64_t page_ref, const char *name, int64_t *id_out);
/** Removes every member of a list (the list stays). */
int loa_store_list_clear(struct loa_txn *tx, int64_t list_id);
/**
 * Adds to the list every subscriber of Page page_ref whose phone is one of phones[0..n)
 * (E.164). matched[i] receives how many subscribers have phones[i]; *added_out (may be NULL)
 * how many were not members yet. Runs in tx, all or nothing (a savepoint).
 */
int loa_store_list_add_phones(struct loa_txn *tx, int64_t list_id, int64_t page_ref,
                              const char *const *phones, size_t n, int64_t *matched,
                              int64_t *added_out);
/** Calls fn for each list of the Page with its member count, by name. */
int loa_store_list_list(struct loa_store *st, int64_t page_ref,
                        int (*fn)(const char *name, int64_t members, int64_t created_at, void *ud),
                        void *ud);

struct loa_audience_node;   /* include/loa/audience.h */
struct loa_audience_member; /* include/loa/audience.h */

enum loa_audience_order {
    LOA_AUDIENCE_BY_ID = 0, /* id ascending (stable: new subscribers come last) */
    LOA_AUDIENCE_BY_RECENT, /* last interaction descending, then id descending */
    LOA_AUDIENCE_UNORDERED, /* whatever order is fastest (tallies); no cursor */
};

/** Where a page of an audience listing starts: after this member in the chosen order. */
struct loa_audience_cursor {
    bool set;                    /* false = from the start */
    int64_t last_interaction_at; /* BY_RECENT: the last member's last interaction */
    int64_t id;                  /* the last member's id */
};

/**
 * Counts the subscribers of Page page_ref that the filter (NULL = everyone) matches. The tree
 * is compiled to SQL with bound parameters only. Returns 0 or LOA_ESTORE.
 */
int loa_store_audience_count(struct loa_store *st, int64_t page_ref,
                             const struct loa_audience_node *filter, int64_t *count_out);
/**
 * Calls fn for each matching subscriber in order, after cursor (may be NULL), at most limit
 * (0 = no limit); fn returns non-zero to stop. The subscriber is borrowed for the call.
 */
int loa_store_audience_list(struct loa_store *st, int64_t page_ref,
                            const struct loa_audience_node *filter, enum loa_audience_order order,
                            const struct loa_audience_cursor *cursor, int64_t limit,
                            int (*fn)(const struct loa_subscriber *s, void *ud), void *ud);
/**
 * Calls fn for every matching subscriber with only what the rules need (strings borrowed for
 * the call, no allocation per row): the fast path for tallies and snapshots. Same order and
 * cursor as loa_store_audience_list().
 */
int loa_store_audience_scan(struct loa_store *st, int64_t page_ref,
                            const struct loa_audience_node *filter, enum loa_audience_order order,
                            const struct loa_audience_cursor *cursor, int64_t limit,
                            int (*fn)(const struct loa_audience_member *m, void *ud), void *ud);

#endif /* LOA_STORE_PEOPLE_H */
