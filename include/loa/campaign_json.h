/* SPDX-License-Identifier: MIT */
/*
 * Campaigns as JSON: the one codec behind the REST API (src/serve/api_campaigns.c) and the CLI
 * (src/cli/cmd_campaign.c), so that both read the same fields with the same checks and print
 * the same shapes (docs/api.md, docs/campaigns.md).
 *
 *   - a campaign, its delivery counts and a delivery → JSON objects;
 *   - a campaign object (a REST body, or what the CLI assembles from its options) → a
 *     struct loa_campaign_input, every complaint in a struct loa_diags with its field path
 *     ("pacing.window.from", "blocks[0].text", "scheduled_at", ...);
 *   - times written as a Page's local time ("2026-05-04 09:00" in the Page's IANA zone);
 *   - the failure reasons that "retry failed" re-queues;
 *   - the lists of statuses and states that filter campaigns and deliveries.
 *
 * This header exposes jansson types on purpose: it is the JSON edge of the campaign module and
 * both of its users already speak jansson. Functions are thread-safe (loa_tz_offset() locks).
 */
#ifndef LOA_CAMPAIGN_JSON_H
#define LOA_CAMPAIGN_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <loa/diag.h>
#include <loa/store.h>

struct loa_rules;

/**
 * Parses a time for a campaign. With an offset ("2026-05-04T09:00:00Z",
 * "2026-05-04 09:00+07:00") it is that instant (loa_time_parse()). Without one
 * ("2026-05-04 09:00", "2026-05-04T09:00:30") it is the local time in IANA zone tz; across a
 * daylight-saving change a repeated local time means its first occurrence, and a skipped one
 * (02:30 on the morning clocks jump from 02:00 to 03:00) is refused. A date alone is refused.
 * Returns 0, LOA_EPARSE (not a time), LOA_EINVAL (no or unknown tz for a local time) or
 * LOA_ERANGE (the local time does not exist in tz).
 */
int loa_local_time_parse(const char *s, const char *tz, int64_t *out);

/**
 * The failure reasons "retry failed" re-queues: every reason the Graph client answers with its
 * retry action (server_error, temporary, graph_unknown, unexpected, and the transport failures
 * connect_failed, connect_timeout, send_failed, tls_error, ...), read from the client's
 * classification table so the list lives in one place. A failed delivery carries such a
 * reason when its attempts ran out; "encode" (the message cannot be built) is not among them.
 * Returns a static array of distinct reasons; *n_out receives its length.
 */
const char *const *loa_campaign_retryable_reasons(size_t *n_out);

/** Whether reason is one of loa_campaign_retryable_reasons(). */
bool loa_campaign_reason_is_retryable(const char *reason);

/**
 * Parses a comma-separated list of campaign statuses ("running,paused") or, with deliveries,
 * of delivery states ("sent,failed") into a bit mask (1 << value). Returns 0 with *mask_out,
 * or LOA_EINVAL (nothing listed, longer than 127 bytes, or a name that is none of them).
 */
int loa_campaign_mask_parse(const char *s, bool deliveries, unsigned *mask_out);

/**
 * A campaign as JSON: {"id","page_id","name","goal","purpose","tag","blocks","filter",
 * "scheduled_at","pacing":{"batch_size","batch_interval_s","rate_per_s","window"},"status",
 * "status_reason","created_at","updated_at","started_at","completed_at","total"}; times are
 * ISO 8601 UTC or null. page_id is the Page's Facebook id. Returns a new reference.
 */
json_t *loa_campaign_json(const struct loa_campaign *c, const char *page_id);

/** A delivery as JSON (times ISO 8601 or null). Returns a new reference. */
json_t *loa_delivery_json(const struct loa_delivery *d);

/**
 * Reads the counts of campaign id and answers them as JSON: {"total","by_state":{"pending",
 * "in_flight","sent","failed","skipped","unknown"},"reasons":[{"state","reason","count"}],
 * "funnel":{"sent","delivered","read","clicked","replied"},"rates":{"delivered","read",
 * "clicked","replied"}} (rates are fractions of sent, null when nothing was sent).
 * Returns 0 with *out (a new reference) or a store error.
 */
int loa_campaign_stats_json(struct loa_store *st, int64_t id, json_t **out);

/**
 * The Facebook id of the Page with internal id page_ref, copied into out (at least 72 bytes),
 * and its time zone into tz_out (may be NULL; at least 64 bytes). Returns 0, LOA_ENOENT or a
 * store error.
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
 * Reads and validates a campaign object: page_id (create only), name (1–200 characters),
 * goal, purpose, tag (null clears), blocks ({"blocks":[...]}, or the array alone), filter
 * (null = everyone), scheduled_at (loa_local_time_parse(); null clears), pacing
 * {batch_size, batch_interval_s, rate_per_s (0–300), window {"from":"HH:MM","to":"HH:MM"} or
 * null}. Unknown fields are refused. Every complaint goes to diags with its path.
 * Returns 0 with *out filled (release it), or LOA_EINVAL.
 */
int loa_campaign_body_parse(json_t *o, const struct loa_campaign_parse_opts *opts,
                            struct loa_campaign_body *out, struct loa_diags *diags);

/**
 * The error body of a refused request: {"error":{"status","field","reason"},"errors":[{"field",
 * "reason"[,"line","column"]}]} — the first complaint is the error. Returns a new reference.
 */
json_t *loa_campaign_diags_json(int status, const struct loa_diags *d);

#endif /* LOA_CAMPAIGN_JSON_H */
