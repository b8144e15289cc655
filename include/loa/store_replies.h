/* SPDX-License-Identifier: MIT */
/*
 * The store: open waits for a person's reply. A message whose last block is wait_reply
 * (docs/messages.md) opens one when it is sent; the person's next message answers it
 * (include/loa/intake.h) or it expires. A person has at most one open wait per Page: a newer
 * one supersedes it. The rules (what counts as an answer, what happens next) live in intake and
 * the sequence service; these calls only read and write rows.
 * Part of the store interface (include/loa/store.h, which includes it); ownership and threading
 * as said there.
 */
#ifndef LOA_STORE_REPLIES_H
#define LOA_STORE_REPLIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <loa/store_outbox.h>

struct loa_store;
struct loa_txn;

/** A wait as opened. Strings are borrowed for the call. */
struct loa_wait_input {
    int64_t page_ref;
    int64_t subscriber_id;
    int64_t delivery_id;    /* the send that asked */
    enum loa_source source; /* what sent it (campaign, sequence step) */
    int64_t source_id;
    const char *attribute; /* custom attribute that receives the answer */
    int32_t kind;          /* enum loa_msg_reply_kind (include/loa/msg.h) */
    const char *prompt;    /* what to answer to a reply that does not fit; NULL = none */
    int64_t opened_at;
    int64_t expires_at;
};

/** An open wait. Owned strings; release with loa_wait_release(). */
struct loa_wait {
    int64_t id;
    int64_t page_ref;
    int64_t subscriber_id;
    int64_t delivery_id;
    enum loa_source source;
    int64_t source_id;
    char *attribute;
    int32_t kind;
    char *prompt;
    int64_t opened_at;
    int64_t expires_at;
    int64_t tries; /* replies that did not fit */
};
void loa_wait_release(struct loa_wait *w);

/** Opens a wait; the person's open wait on the Page, if any, is closed "superseded". */
int loa_store_wait_open(struct loa_txn *tx, const struct loa_wait_input *in, int64_t *id_out);
/** The person's open wait. LOA_ENOENT when none. */
int loa_store_wait_find(struct loa_store *st, int64_t subscriber_id, struct loa_wait *out);
/** Reads wait id, open or closed. LOA_ENOENT. */
int loa_store_wait_get(struct loa_store *st, int64_t id, struct loa_wait *out);
/**
 * Closes an open wait with outcome ("answered", "expired", "superseded") and the stored answer
 * (may be NULL). Only an open wait changes; *closed_out (may be NULL) says whether it did.
 */
int loa_store_wait_close(struct loa_txn *tx, int64_t id, const char *outcome, const char *answer,
                         int64_t at, bool *closed_out);
/** Counts a reply that did not fit. */
int loa_store_wait_tried(struct loa_txn *tx, int64_t id);
/** Calls fn with the ids of open waits expired at now (expires_at <= now), at most limit. */
int loa_store_waits_expired(struct loa_store *st, int64_t now, int64_t limit,
                            int (*fn)(int64_t id, void *ud), void *ud);

/**
 * Queues the wait's prompt (the answer to a reply that did not fit) as an outbox row: source
 * reply, id the wait, priority LOA_PRIORITY_REPLY, due at now. *delivery_out may be NULL.
 */
int loa_store_wait_prompt(struct loa_txn *tx, int64_t wait_id, int64_t page_ref,
                          int64_t subscriber_id, const char *psid, int64_t now,
                          int64_t *delivery_out);
/** Calls fn(wait id, page_ref) for each wait whose prompt is in the outbox (pending, in flight). */
int loa_store_prompts_live(struct loa_store *st,
                           int (*fn)(int64_t wait_id, int64_t page_ref, void *ud), void *ud);

#endif /* LOA_STORE_REPLIES_H */
