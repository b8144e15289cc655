/* SPDX-License-Identifier: MIT */
/*
 * Audiences: who a campaign goes to, as a JSON filter expression (docs/audience.md).
 *
 *   {"all":[{"tags":{"any":["vip","khách-sỉ"]}},{"has":"phone"},
 *           {"last_interaction":{"within_days":30}},{"not":{"list":"crm-11"}}]}
 *
 * loa_audience_parse() validates the expression and gives a tree of struct loa_audience_node;
 * the store evaluates the tree in SQL (loa_store_audience_count/_list in store.h), and
 * loa_audience_preview() adds what the messaging rules would allow for each matching person.
 * Relative times ("within_days") are resolved against the now given to the parser, never the
 * wall clock, so one parse gives one fixed set of instants.
 *
 * The tree is plain data so that the store can compile it without depending on this module;
 * treat it as read-only. It holds no third-party type.
 *
 * Threading: a parsed tree is immutable: any number of threads may read it at once.
 */
#ifndef LOA_AUDIENCE_H
#define LOA_AUDIENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <loa/buf.h>
#include <loa/diag.h>

struct loa_store;
struct loa_txn;
struct loa_rules;
struct loa_page;
struct loa_rules_decision;

/* Caps on an expression: nesting, predicates, names in one predicate, text length. */
#define LOA_AUDIENCE_MAX_DEPTH 8
#define LOA_AUDIENCE_MAX_NODES 200
#define LOA_AUDIENCE_MAX_NAMES 100
#define LOA_AUDIENCE_MAX_BYTES (64 * 1024)
#define LOA_AUDIENCE_NAME_MAX  64   /* characters of a tag, list or attribute name */
#define LOA_AUDIENCE_VALUE_MAX 1000 /* characters of an attribute value */
#define LOA_AUDIENCE_MAX_DAYS  3650

enum loa_audience_kind {
    LOA_AUD_ALL = 0,          /* every child matches (no child: everyone) */
    LOA_AUD_ANY,              /* at least one child matches (no child: nobody) */
    LOA_AUD_NOT,              /* the one child does not match */
    LOA_AUD_TAGS_ANY,         /* has at least one of names */
    LOA_AUD_TAGS_ALL,         /* has every one of names */
    LOA_AUD_TAGS_NONE,        /* has none of names */
    LOA_AUD_HAS,              /* field is set */
    LOA_AUD_LACKS,            /* field is not set */
    LOA_AUD_GENDER,           /* gender is value (NULL = unknown) */
    LOA_AUD_LAST_INTERACTION, /* from <= last_interaction_at < until (never = no match) */
    LOA_AUD_FIRST_SEEN,       /* from <= first_seen_at < until (unknown = no match) */
    LOA_AUD_ATTR,             /* custom attribute comparison */
    LOA_AUD_LIST,             /* member of the imported list name */
};

enum loa_audience_field {
    LOA_AUD_FIELD_PHONE = 0,
    LOA_AUD_FIELD_EMAIL,
};

enum loa_audience_op {
    LOA_AUD_OP_EQ = 0,
    LOA_AUD_OP_NE, /* not equal, or the attribute is missing */
    LOA_AUD_OP_CONTAINS,
    LOA_AUD_OP_EXISTS,
    LOA_AUD_OP_GT,
    LOA_AUD_OP_LT,
};

/** One node of a parsed filter. Everything is owned by the tree. */
struct loa_audience_node {
    enum loa_audience_kind kind;
    struct loa_audience_node **children; /* ALL, ANY (nchildren >= 0), NOT (exactly 1) */
    size_t nchildren;
    char **names; /* TAGS_*: tag names, de-duplicated, nnames >= 1 */
    size_t nnames;
    enum loa_audience_field field; /* HAS, LACKS */
    char *value;                   /* GENDER: "male"/"female" or NULL for unknown;
                                      ATTR: the value as text (NULL for EXISTS) */
    int64_t from;                  /* LAST_INTERACTION, FIRST_SEEN: first instant (ms) */
    int64_t until;                 /* first instant after the range (ms) */
    char *name;                    /* ATTR: attribute name; LIST: list name */
    enum loa_audience_op op;       /* ATTR */
    bool numeric;                  /* ATTR: value parses as a number (compare as numbers
                                      with attribute values that do too) */
    double number;                 /* ATTR: that number */
};

/**
 * Parses and validates a filter expression (JSON text, len bytes). now resolves
 * "within_days". Every complaint goes to diags with its path, e.g.
 * "filter.all[1].tags.any[0]: tag names are 1-64 characters" (where = the path after
 * root_path; root_path such as "filter" may be NULL or "" for none).
 * Returns 0 with *out set (free with loa_audience_free()), LOA_EPARSE (malformed JSON) or
 * LOA_EINVAL (invalid expression); *out is NULL then.
 */
int loa_audience_parse(const char *json, size_t len, int64_t now, const char *root_path,
                       struct loa_audience_node **out, struct loa_diags *diags);

void loa_audience_free(struct loa_audience_node *n);

/** True when the expression matches everyone ({} or {"all":[]}). */
bool loa_audience_is_everyone(const struct loa_audience_node *n);

/* ---- Reachability and preview ----------------------------------------------------------- */

enum loa_audience_purpose {
    LOA_AUD_NON_PROMOTIONAL = 0,
    LOA_AUD_PROMOTIONAL,
};

/** What the rules need to know about one member (strings borrowed). */
struct loa_audience_member {
    int64_t id;
    const char *psid;                  /* NULL: an imported contact not seen on Messenger */
    int64_t first_seen_at;             /* 0 unknown */
    int64_t last_interaction_at;       /* 0 never */
    const char *last_interaction_kind; /* may be NULL */
    bool first_after_ctm_ad;
    bool unreachable; /* the Page cannot message this person any more (stored flag) */
};

/**
 * The rules' decision for sending a broadcast (route auto) to member m of a Page activated at
 * page_activated, at instant at; for a non-promotional message with a message tag (tag not
 * NULL or ""), the tag's route when the auto route is refused. Besides the rules' own codes,
 * refuses with "no_psid" (never seen on Messenger) and "unreachable" (stored flag) before
 * asking the rules. The one builder of the person the rules read: the preview and the
 * dispatcher decide through it alike.
 * Seam: notification-topic tokens and the count of messages sent since the window closed are
 * not loaded yet; the rules see none.
 * Returns 0 or LOA_EINVAL.
 */
int loa_audience_decide(const struct loa_rules *r, const struct loa_audience_member *m,
                        int64_t page_activated, enum loa_audience_purpose purpose, const char *tag,
                        bool structured, int64_t at, struct loa_rules_decision *out);

/** A count of members by route (reachable) or by refusal code. Strings are static. */
struct loa_audience_tally {
    const char *route;          /* reachable: "window", "tag", ...; refused: NULL */
    const char *messaging_type; /* reachable: "RESPONSE", "UPDATE", "MESSAGE_TAG" */
    char tag[48];               /* reachable with MESSAGE_TAG: the tag */
    const char *code;           /* the decision's code */
    int64_t count;
};

/** One person of the preview's page (owned strings). */
struct loa_audience_person {
    int64_t id;
    char *psid;
    char *name; /* "first last", may be "" */
    char *phone;
    int64_t last_interaction_at;
    bool reachable;
    const char *code;  /* static: the decision's code */
    const char *route; /* static: the route name when reachable, else NULL */
};

struct loa_audience_preview_opts {
    int64_t page_ref;
    int64_t page_activated;
    enum loa_audience_purpose purpose;
    const char *tag; /* non-promotional with a message tag: its route too (NULL = none) */
    bool structured;
    int64_t at;         /* decide as of this instant */
    int64_t limit;      /* people in the page (0 = none, just counts) */
    const char *cursor; /* from a previous page; NULL = first page */
    bool recent_first;  /* most recently active first (else by id) */
    bool counts_only;   /* skip the reachability tally (total only) */
};

struct loa_audience_preview {
    int64_t at;                        /* as of this instant */
    enum loa_audience_purpose purpose; /* as asked */
    bool structured;
    int64_t total;
    int64_t reachable;
    int64_t not_reachable;
    struct loa_audience_tally *by_route; /* reachable, most first */
    size_t nby_route;
    struct loa_audience_tally *by_reason; /* not reachable, most first */
    size_t nby_reason;
    struct loa_audience_person *people;
    size_t npeople;
    char next_cursor[48]; /* "" = no more */
    int64_t elapsed_ms;   /* time spent */
};

/**
 * Counts the filter's members of the Page, tallies the rules' decision for each (as
 * loa_audience_decide()) and lists one page of them. A bad cursor is LOA_EINVAL with a diag
 * at "cursor". Returns 0, LOA_EINVAL or the store's error. Release *out with
 * loa_audience_preview_release().
 */
int loa_audience_preview(struct loa_store *st, const struct loa_rules *r,
                         const struct loa_audience_node *filter,
                         const struct loa_audience_preview_opts *o,
                         struct loa_audience_preview *out, struct loa_diags *diags);
void loa_audience_preview_release(struct loa_audience_preview *p);

/** Appends the preview as one JSON object (docs/audience.md). Returns 0 or LOA_ETOOBIG. */
int loa_audience_preview_format(const struct loa_audience_preview *p, struct loa_buf *out);

/* ---- Tagging many people at once (src/audience/tag.c) ----------------------------------- */

/* Who gets (or loses) a tag: PSIDs, subscriber ids, or everyone a filter selects. */
struct loa_audience_tagging {
    const char *tag;          /* 1-64 characters; compared without case or Unicode form */
    bool remove;              /* take the tag away instead of adding it */
    const char *const *psids; /* the Page's people by PSID... */
    size_t npsids;
    const int64_t *ids; /* ...or by subscriber id... */
    size_t nids;
    const struct loa_audience_node *filter; /* ...or, when both are empty, by filter */
    bool dry_run;                           /* count only: write nothing */
    /*
     * Called inside the transaction for each person who newly got the tag (adding only), with
     * the tag's name as first written: where the tag-added rule runs (sequence triggers). A
     * negative return rolls everything back. May be NULL.
     */
    int (*on_added)(struct loa_txn *tx, int64_t page_ref, int64_t subscriber_id, const char *tag,
                    void *ud);
    void *ud;
};

struct loa_audience_tag_report {
    int64_t matched; /* people selected */
    int64_t changed; /* people who got the tag (or lost it) now; the others had it (or not) */
    char *tag;       /* the tag's name as stored (first written); NULL when it does not exist
                        (removing, or a dry run of a new tag); owned, loa_free() */
};

/**
 * Adds or removes one tag for many people, in tx (all or nothing: a savepoint). A PSID that
 * is not the Page's is reported in diags ("psids[i]") and nothing is written. Removing a tag
 * that does not exist changes nothing. Returns 0, LOA_EINVAL (unknown PSID or id, bad tag
 * name) or the store's error.
 */
int loa_audience_tag_tx(struct loa_txn *tx, int64_t page_ref, const struct loa_audience_tagging *t,
                        struct loa_audience_tag_report *rep, struct loa_diags *diags);
/** The same in a transaction of its own (none for a dry run). */
int loa_audience_tag(struct loa_store *st, int64_t page_ref, const struct loa_audience_tagging *t,
                     struct loa_audience_tag_report *rep, struct loa_diags *diags);

#endif /* LOA_AUDIENCE_H */
