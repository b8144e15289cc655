/* SPDX-License-Identifier: MIT */
/*
 * The campaign service: everything a campaign is allowed to do, in one place, for the REST API
 * (src/serve/api_campaigns.c), the CLI (src/cli/cmd_campaign.c), the dispatcher and later the
 * console (docs/campaigns.md).
 *
 *   - the transition table: every operation (edit, delete, start, schedule, pause, resume,
 *     cancel, retry failed, resend unknown) with the statuses it is allowed from, the status it
 *     leads to and the sentence that says why it is refused; loa_campaign_apply() performs an
 *     operation through it, so no caller holds a status mask of its own;
 *   - plans: validating a campaign's parts with JSON paths, compiling its blocks with the
 *     click-tracking payload prefix, starting it (the audience snapshot), scheduling it;
 *   - the codec: a campaign, its counts and a delivery as JSON text, and a campaign object
 *     (JSON text) read into a struct loa_campaign_input with the path of every complaint.
 *
 * No third-party type appears here: JSON goes in and out as text.
 *
 * Ownership: text returned by the codec is the caller's (free with loa_free()); a struct
 * loa_campaign_body owns its strings (loa_campaign_body_release()). Borrowed arguments are
 * only read during the call.
 *
 * Threading: no function keeps state between calls except the list of retryable reasons
 * (built once, thread-safe); each thread passes its own store connection. Time zones are read
 * through loa_tz_offset(), which locks.
 */
#ifndef LOA_CAMPAIGN_H
#define LOA_CAMPAIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <loa/diag.h>
#include <loa/store.h>

struct loa_rules;
struct loa_msg;
struct loa_limits;

/** The metadata prefix of a delivery ("loa:d:<id>") and the payload prefix of a campaign. */
#define LOA_DISPATCH_META_PREFIX    "loa:d:"
#define LOA_DISPATCH_PAYLOAD_PREFIX "loa:c:"

/* ---- The transition table ----------------------------------------------------------------- */

enum loa_campaign_op {
    LOA_CAMPAIGN_OP_EDIT = 0,       /* draft → (unchanged) */
    LOA_CAMPAIGN_OP_DELETE,         /* draft, cancelled → (gone) */
    LOA_CAMPAIGN_OP_START,          /* draft, scheduled → running */
    LOA_CAMPAIGN_OP_SCHEDULE,       /* draft, scheduled → scheduled */
    LOA_CAMPAIGN_OP_PAUSE,          /* running → paused */
    LOA_CAMPAIGN_OP_RESUME,         /* paused → running */
    LOA_CAMPAIGN_OP_CANCEL,         /* draft, scheduled, running, paused → cancelled */
    LOA_CAMPAIGN_OP_RETRY_FAILED,   /* started → (unchanged) */
    LOA_CAMPAIGN_OP_RESEND_UNKNOWN, /* started → (unchanged) */
    LOA_CAMPAIGN_OP_COUNT
};

/** The operation's name ("pause", "retry_failed"); NULL when op is out of range. */
const char *loa_campaign_op_name(enum loa_campaign_op op);
/** Whether op is allowed from status. */
bool loa_campaign_op_allowed(enum loa_campaign_op op, enum loa_campaign_status status);
/**
 * The status op leads to; -1 when it leaves the status as it is (edit, retry failed, resend
 * unknown) or removes the campaign (delete).
 */
int loa_campaign_op_target(enum loa_campaign_op op);
/** Why op is refused, e.g. "only a running campaign can be paused" (static text). */
const char *loa_campaign_op_refusal(enum loa_campaign_op op);
/** Whether a campaign has started: running, paused or completed (it has deliveries). */
bool loa_campaign_is_started(enum loa_campaign_status status);

/** What some operations take; zero-initialised = nothing. */
struct loa_campaign_args {
    const char *reason;                  /* pause: why (stored as status_reason) */
    const struct loa_campaign_input *in; /* edit: the changes (NULL changes nothing) */
    int64_t at;                          /* schedule: when (the caller checked it is later) */
    const int64_t *ids;                  /* resend unknown: the delivery ids */
    size_t nids;                         /*   and how many */
    bool force;                          /*   also those not reconciled yet (may be sent twice) */
    int64_t *unreconciled;               /*   out (caller storage of nids; may be NULL): ids not
                                              reconciled yet when the result is LOA_EAGAIN */
    size_t nunreconciled;                /*   out: how many */
    int64_t count;                       /* out: start: deliveries; retry/resend: re-queued */
};

/**
 * Performs op on campaign id at now through the transition table. args may be NULL for an
 * operation that needs none. *refusal_out (may be NULL) receives loa_campaign_op_refusal(op)
 * when the status does not allow op. Returns 0, LOA_ENOENT, LOA_ESTATE, LOA_EINVAL (start: the
 * stored filter is no longer valid), LOA_EAGAIN (resend unknown without force: some listed
 * deliveries are not reconciled yet, they may have been delivered; nothing was re-queued; see
 * args->unreconciled) or a store error. Runs in a transaction of its own on st (so st must not
 * have one open): the campaign is read and changed in it.
 */
int loa_campaign_apply_with(struct loa_store *st, int64_t id, enum loa_campaign_op op,
                            struct loa_campaign_args *args, int64_t now, const char **refusal_out);
/** loa_campaign_apply_with() with only a reason (pause). */
int loa_campaign_apply(struct loa_store *st, int64_t id, enum loa_campaign_op op,
                       const char *reason, int64_t now, const char **refusal_out);

/**
 * Why a resend of unknown deliveries was refused (LOA_EAGAIN): writes "deliveries 12, 15 are
 * not reconciled yet: ..." naming at most the first 20 ids, into out (always NUL-terminated).
 */
void loa_campaign_unreconciled_text(const int64_t *ids, size_t n, char *out, size_t size);

/**
 * Starts a draft or scheduled campaign now: parses its filter and snapshots the audience
 * (plan quota applied); *total_out (may be NULL) gets the deliveries. Returns 0, LOA_ENOENT,
 * LOA_ESTATE, LOA_EINVAL (stored filter no longer valid) or a store error.
 */
int loa_campaign_start(struct loa_store *st, int64_t id, int64_t now, int64_t *total_out);

/**
 * Schedules a draft or scheduled campaign to start at `at`, in a transaction of its own (st
 * must not have one open): a scheduled campaign goes back to draft, scheduled_at becomes at, and
 * the campaign is scheduled. The caller checks that at is later than now. Returns 0, LOA_ENOENT,
 * LOA_ESTATE (neither draft nor scheduled) or a store error.
 */
int loa_campaign_schedule(struct loa_store *st, int64_t id, int64_t at, int64_t now);

/**
 * Pauses every running campaign of Page page_ref with reason (the Page was stopped by Graph);
 * *count_out (may be NULL) gets how many. The PAUSE row of the table, for a whole Page; in the
 * caller's transaction tx (the dispatcher's, with the settle that found the Page stopped).
 */
int loa_campaign_pause_page(struct loa_txn *tx, int64_t page_ref, const char *reason, int64_t now,
                            int64_t *count_out);

/**
 * Calls fn for the campaigns of Page page_ref (0 = every Page) whose status is in statuses (a
 * set from loa_campaign_mask_parse(); 0 = any), newest first; the campaign is borrowed for
 * the call, and fn returns non-zero to stop. Returns 0 or a store error.
 */
int loa_campaign_list(struct loa_store *st, int64_t page_ref, unsigned statuses,
                      int (*fn)(const struct loa_campaign *c, void *ud), void *ud);
/** loa_campaign_list() of every Page's campaigns in status (the dispatcher's due, running). */
int loa_campaign_list_in(struct loa_store *st, enum loa_campaign_status status,
                         int (*fn)(const struct loa_campaign *c, void *ud), void *ud);

/** Creates a draft campaign of Page page_ref (loa_store_campaign_create()), in a transaction of
 * its own. */
int loa_campaign_create(struct loa_store *st, int64_t page_ref, const struct loa_campaign_input *in,
                        int64_t now, int64_t *id_out);

/* ---- Plans -------------------------------------------------------------------------------- */

/**
 * Compiles a campaign's blocks (JSON text {"blocks":[...]}) for campaign_id: every postback
 * button and quick-reply payload gets the prefix "loa:c:<campaign_id>:" and the result is
 * parsed and validated (limits may be NULL). Complaints go to diags with JSON paths under
 * "blocks". Returns 0 with *out (free with loa_msg_free()), LOA_EPARSE or LOA_EINVAL.
 */
int loa_campaign_compile(const char *blocks, int64_t campaign_id, const struct loa_limits *limits,
                         struct loa_msg **out, struct loa_diags *diags);
/**
 * loa_campaign_compile() with any payload prefix: what every kind of send that carries a
 * composed message uses (sequence steps: "loa:s:<step id>:"). A wait_reply block must be the
 * last block (the answer is waited for once everything is sent).
 */
int loa_blocks_compile(const char *blocks, const char *prefix, const struct loa_limits *limits,
                       struct loa_msg **out, struct loa_diags *diags);

/**
 * Validates the parts of a campaign before it is stored: blocks (as compiled, with the longest
 * campaign id), filter (NULL = everyone; paths under "filter"), purpose ("promotional" or
 * "non_promotional"), tag (NULL/"" = none; only with non_promotional, a tag the rules know and
 * have not retired at now), goal ("promotion", "care", "engagement"). Every complaint goes to
 * diags. Returns 0 or LOA_EINVAL.
 */
int loa_campaign_validate(const struct loa_rules *rules, const char *goal, const char *blocks,
                          const char *filter, const char *purpose, const char *tag, int64_t now,
                          struct loa_diags *diags);

/** Parses "HH:MM" into minutes after midnight. Returns 0 or LOA_EINVAL. */
int loa_campaign_parse_hhmm(const char *s, int *min_out);

/* ---- The codec ---------------------------------------------------------------------------- */

/**
 * The failure reasons "retry failed" re-queues: every reason the Graph client answers with its
 * retry action, read from the client's classification table so the list lives in one place.
 * Returns a static array of distinct reasons; *n_out receives its length.
 */
const char *const *loa_campaign_retryable_reasons(size_t *n_out);
/** Whether reason is one of loa_campaign_retryable_reasons(). */
bool loa_campaign_reason_is_retryable(const char *reason);

/**
 * Parses a comma-separated list of campaign statuses ("running,paused") or, with deliveries,
 * of delivery states ("sent,failed") into the mask the store's list functions take. Returns 0
 * with *mask_out, or LOA_EINVAL (nothing listed, longer than 127 bytes, or an unknown name).
 */
int loa_campaign_mask_parse(const char *s, bool deliveries, unsigned *mask_out);

/**
 * A campaign as JSON text: {"id","page_id","name","goal","purpose","tag","blocks","filter",
 * "scheduled_at","pacing":{"batch_size","batch_interval_s","rate_per_s","window"},"status",
 * "status_reason","created_at","updated_at","started_at","completed_at","total"}; times are
 * ISO 8601 UTC or null. page_id is the Page's Facebook id.
 */
char *loa_campaign_json(const struct loa_campaign *c, const char *page_id);

/** A delivery as JSON text (times ISO 8601 or null). */
char *loa_delivery_json(const struct loa_delivery *d);

/**
 * The counts of campaign id as JSON text: {"total","by_state":{...},"reasons":[{"state",
 * "reason","count"}],"funnel":{"sent","delivered","read","clicked","replied"},"rates":{...}}
 * (rates are fractions of sent, null when nothing was sent). Returns 0 with *out or a store
 * error.
 */
int loa_campaign_stats_json(struct loa_store *st, int64_t id, char **out);

/**
 * Campaign id as the REST API answers it and `loa campaign show --json` prints it:
 * loa_campaign_json() with "stats" (loa_campaign_stats_json()). Returns 0 with *out,
 * LOA_ENOENT or a store error.
 */
int loa_campaign_describe(struct loa_store *st, int64_t id, char **out);

/**
 * The Facebook id of the Page with internal id page_ref, copied into out (may be NULL; at
 * least 72 bytes), and its time zone into tz_out (may be NULL; at least 64 bytes). Returns 0,
 * LOA_ENOENT or a store error.
 */
int loa_campaign_page_of(struct loa_store *st, int64_t page_ref, char *out, size_t size,
                         char *tz_out, size_t tz_size);

/** A campaign object read by loa_campaign_body_parse(). */
struct loa_campaign_body {
    struct loa_campaign_input in; /* what to store; its strings point into this struct */
    char *page_id;                /* "page_id"; NULL when absent */
    char *strs[6];                /* owned copies behind in.name, goal, purpose, tag, blocks,
                                     filter */
};

/** Prepares an empty body: every field of in "keeps" its stored value. */
void loa_campaign_body_init(struct loa_campaign_body *b);
void loa_campaign_body_release(struct loa_campaign_body *b);

struct loa_campaign_parse_opts {
    bool create;                        /* page_id, name and blocks required; defaults apply
                                           (goal promotion, purpose promotional, filter {}) */
    const char *tz;                     /* the Page's IANA zone (times without an offset);
                                           NULL when the Page is unknown */
    const struct loa_rules *rules;      /* message tags are checked against it; may be NULL */
    const struct loa_campaign *current; /* update: the stored campaign (tag/purpose checked
                                           together); NULL on create */
    int64_t now;                        /* scheduled_at must be later */
};

/**
 * Reads and validates a campaign object given as JSON text (len bytes): page_id (create only),
 * name (1–200 characters), goal, purpose, tag (null clears), blocks ({"blocks":[...]}, or the
 * array alone), filter (null = everyone), scheduled_at (loa_time_parse_local(); null clears),
 * pacing {batch_size, batch_interval_s, rate_per_s (0–300), window {"from":"HH:MM",
 * "to":"HH:MM"} or null}. Unknown fields are refused. Every complaint goes to diags with its
 * path. Returns 0 with *out filled (release it), or LOA_EINVAL.
 */
int loa_campaign_body_parse(const char *json, size_t len,
                            const struct loa_campaign_parse_opts *opts,
                            struct loa_campaign_body *out, struct loa_diags *diags);

#endif /* LOA_CAMPAIGN_H */
