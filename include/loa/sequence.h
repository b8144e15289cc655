/* SPDX-License-Identifier: MIT */
/*
 * The sequence service: drip messages ("kịch bản chăm sóc"), one step after another, each in
 * the person's send window, once per person (docs/sequences.md). Everything a sequence is
 * allowed to do lives here, for the REST API (src/serve/api_sequences.c), the CLI
 * (src/cli/cmd_sequence.c), webhook intake (triggers) and the dispatcher (timers, settling):
 *
 *   - the codec: a sequence or a group as JSON text, and a sequence object read into a
 *     struct loa_sequence with the path of every complaint (nothing is written when any);
 *   - entering and leaving: once per person (entering again does nothing until removed), one
 *     sequence at a time per group when the group says so (the earlier-created sequence wins
 *     a tie), triggers (welcome, m.me ref, tag added), leave on reply;
 *   - timers: when each step falls due (schedule.h: delay from the previous step's actual send,
 *     then the next opening of the send window in the person's clock; window-aware steps),
 *     draining due timers into the outbox (too old: skipped "stale"), and moving the person on
 *     when a step's send is settled;
 *   - live edits: a changed delay re-times those waiting for the step, a removed or switched
 *     off step is passed over, a step added at the end reaches those still in the sequence.
 *
 * The send itself is the outbox's (include/loa/store_outbox.h): a step's send is a delivery
 * with source "sequence" and the step's id, claimed, checked by the rules at send time and
 * settled by the dispatcher like a campaign's.
 *
 * Ownership: text returned is the caller's (loa_free()); a struct loa_sequence filled here is
 * released with loa_sequence_release(). Threading: no state between calls; each thread passes
 * its own store connection.
 */
#ifndef LOA_SEQUENCE_H
#define LOA_SEQUENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <loa/diag.h>
#include <loa/store.h>

struct loa_rules;

/** The payload prefix of a step's buttons and quick replies: "loa:s:<step id>:". */
#define LOA_SEQUENCE_PAYLOAD_PREFIX "loa:s:"

/** How the service behaves; loa_sequence_opts_default() gives the defaults. */
struct loa_sequence_opts {
    const struct loa_rules *rules; /* window-aware steps ask when the window closes; may be
                                      NULL (then such steps are skipped "window_closed") */
    int64_t catchup_ms;            /* a step overdue by more than this is skipped "stale"
                                      (sequence.catchup_s, default 3 days) */
    int64_t window_margin_ms;      /* window-aware steps go this long before the window
                                      closes (sequence.window_margin_s, default 1 h) */
    int64_t lookahead_ms;          /* timers due within this are queued now, for their time
                                      (default 0: a sender wakes at loa_sequence_drained's
                                      next_due instead) */
    int64_t reply_timeout_ms;      /* a wait_reply block waits this long for the answer
                                      (reply.wait_timeout_s, default 24 h); the next step
                                      counts from the answer or from the timeout */
    const char *phone_region;      /* answers to phone questions are read in this region
                                      (phone.region, default "VN"); borrowed */
    void (*on_queued)(int64_t step_id, int64_t page_ref, int64_t due_at, void *ud); /* a drain
                                      queued a send of this step, due at due_at (the dispatcher
                                      wakes its sender then); may be NULL */
    void *on_queued_ud;
    bool await_reconcile; /* a step whose send ended unknown waits for the
                             reconciler's verdict (loa_sequence_reconciled()) before
                             the person moves on; false (the default, for senders
                             with no reconciler): unknown is final */
};
void loa_sequence_opts_default(struct loa_sequence_opts *o);
struct loa_settings;
/**
 * The defaults, then sequence.catchup_s, sequence.window_margin_s, reply.wait_timeout_s and
 * phone.region from s, and rules.
 */
void loa_sequence_opts_from(struct loa_sequence_opts *o, const struct loa_settings *s,
                            const struct loa_rules *rules);

/* ---- Codec ------------------------------------------------------------------------------- */

struct loa_sequence_parse_opts {
    const struct loa_sequence *current; /* update: the stored sequence; NULL on create */
};

/**
 * Reads a sequence object (JSON text, len bytes) into *out: page_id (create; copied to
 * *page_id_out, caller frees), group_id, name (1–200 characters), active, window {"from":
 * "HH:MM", "to": "HH:MM", "days": ["mon", ...]} or null (any time), clock ("person" or
 * "page"), leave_on_reply, on_refused ("continue" or "leave"), triggers {"welcome": bool,
 * "ref": text or null, "tags": [names]}, steps [{id (update: a stored step's), delay {"value",
 * "unit": seconds|minutes|hours|days}, note, blocks, purpose, inside_window, any_time (the send
 * window does not apply to this step), enabled}]. On
 * update, absent fields keep their stored values (steps, when given, replace the list).
 * Unknown fields are refused; every complaint goes to diags with its path. Returns 0 or
 * LOA_EINVAL (then *out is released).
 */
int loa_sequence_parse(const char *json, size_t len, const struct loa_sequence_parse_opts *o,
                       struct loa_sequence *out, char **page_id_out, struct loa_diags *diags);

/** A sequence as JSON text (the shape loa_sequence_parse() reads, plus ids and times). */
char *loa_sequence_json(const struct loa_sequence *s, const char *page_id);
/** A group as JSON text. */
char *loa_seq_group_json(const struct loa_seq_group *g, const char *page_id);
/**
 * Sequence id with its progress as JSON text: the sequence, "stats" {entered, waiting,
 * queued, finished, removed} and per step {waiting, queued, sent, delivered, read, clicked,
 * replied, failed, skipped, unknown, reasons [{state, reason, count}]}. Returns 0, LOA_ENOENT
 * or a store error.
 */
int loa_sequence_describe(struct loa_store *st, int64_t id, char **out);
/**
 * For each step of sequence id, how many of the people now waiting for it would be reachable
 * when it falls due: the rules at each person's due time (plus the dispatcher's margin
 * margin_ms), with their window as it stands now (nothing they may do before then is
 * assumed), by route, and how many not, by the refusing rule's code. JSON text:
 * {"sequence_id","at","steps":[{"step_id","waiting","reachable":{"window":N,...},
 * "not_reachable":{"window_closed":N,...}}]}. Needs o->rules. Returns 0, LOA_ENOENT,
 * LOA_EINVAL (no rules) or a store error.
 */
int loa_sequence_forecast(struct loa_store *st, const struct loa_sequence_opts *o, int64_t id,
                          int64_t margin_ms, int64_t now, char **out);
/** An enrolment as JSON text. */
char *loa_enrolment_json(const struct loa_enrolment *e);

/* ---- Sequences --------------------------------------------------------------------------- */

/** Stores a new sequence (in one transaction). LOA_EEXIST: name or ref taken on the Page. */
int loa_sequence_create(struct loa_store *st, const struct loa_sequence *in, int64_t now,
                        int64_t *id_out);
/**
 * Replaces a sequence's settings and steps (in one transaction) and applies the change to the
 * people in it: sends still pending of steps that were removed, switched off or re-timed go
 * back to waiting, and everyone waiting is re-timed against the new steps. Switching the
 * sequence off holds its people where they are. Returns 0, LOA_ENOENT, LOA_EEXIST.
 */
int loa_sequence_update(struct loa_store *st, const struct loa_sequence_opts *o,
                        const struct loa_sequence *in, int64_t now);
/** Removes everyone (nothing is sent) and deletes the sequence. LOA_ENOENT. */
int loa_sequence_delete(struct loa_store *st, int64_t id, int64_t now);

/* ---- Groups ------------------------------------------------------------------------------ */

/** Creates a group of Page page_ref at the end of its order. LOA_EEXIST: name taken. */
int loa_sequence_group_create(struct loa_store *st, int64_t page_ref, const char *name,
                              bool one_at_a_time, int64_t now, int64_t *id_out);
/**
 * Renames (name NULL keeps it), moves (position < 0 keeps it) or sets one_at_a_time (< 0 keeps
 * it). LOA_ENOENT, LOA_EEXIST.
 */
int loa_sequence_group_update(struct loa_store *st, int64_t id, const char *name, int64_t position,
                              int one_at_a_time, int64_t now);
/** Deletes a group; its sequences stay, in no group. LOA_ENOENT. */
int loa_sequence_group_delete(struct loa_store *st, int64_t id);

/* ---- People ------------------------------------------------------------------------------ */

/**
 * Enters subscribers ids[0..n) of the sequence's Page into sequence id (source says how:
 * "api", "cli", "welcome", "ref", "tag", "button"), in one transaction: each starts waiting
 * for the first step that is on, timed from now. Someone already in it is left as they are;
 * in a one-at-a-time group, entering removes the person from the group's other sequences.
 * A subscriber of another Page is refused with LOA_EINVAL (nothing entered). *entered_out
 * (may be NULL) gets how many entered. Returns 0, LOA_ENOENT (no such sequence), LOA_ESTATE
 * (the sequence is off), LOA_EINVAL or a store error.
 */
int loa_sequence_enter(struct loa_store *st, const struct loa_sequence_opts *o, int64_t id,
                       const int64_t *ids, size_t n, const char *source, int64_t now,
                       int64_t *entered_out);
/**
 * Who a request names, as subscriber ids of Page page_ref: the PSIDs psids[0..n) (a PSID that
 * is not one of the Page's subscribers gets a complaint at "<path>[i]"), or with filter (JSON
 * text of an audience filter, docs/audience.md; complaints under "filter") everyone it matches
 * at now. *ids_out (caller frees with loa_free) and *n_out. Returns 0 (with complaints in d:
 * nothing should be done), or a store error.
 */
int loa_sequence_people(struct loa_store *st, int64_t page_ref, const char *const *psids, size_t n,
                        const char *path, const char *filter, int64_t now, int64_t **ids_out,
                        size_t *n_out, struct loa_diags *d);

/**
 * Removes subscribers ids[0..n) from sequence id (reason stored; nothing is sent: a pending
 * send is skipped "removed"). *removed_out (may be NULL) gets how many were in it.
 */
int loa_sequence_leave(struct loa_store *st, int64_t id, const int64_t *ids, size_t n,
                       const char *reason, int64_t now, int64_t *removed_out);

/**
 * What webhook intake reports about a person, inside the caller's transaction (so a trigger
 * and the event that caused it commit together): the first message to the Page (welcome
 * sequences), an m.me link's ref, a tag added, a message (leave-on-reply sequences), or a
 * join/leave button (a sequence of another Page, or one switched off, is ignored).
 */
enum loa_sequence_event {
    LOA_SEQ_EVENT_FIRST_MESSAGE = 0,
    LOA_SEQ_EVENT_REF,
    LOA_SEQ_EVENT_TAG,
    LOA_SEQ_EVENT_MESSAGE,
    LOA_SEQ_EVENT_JOIN,     /* a "join sequence" button: value is the sequence id */
    LOA_SEQ_EVENT_LEAVE,    /* a "leave sequence" button: value is the sequence id */
    LOA_SEQ_EVENT_ANSWERED, /* the person answered the wait_reply of step value (its id): the
                               next step counts from now instead of the wait's timeout */
};
int loa_sequence_on_event(struct loa_txn *tx, const struct loa_sequence_opts *o, int64_t page_ref,
                          int64_t subscriber_id, enum loa_sequence_event ev, const char *value,
                          int64_t now);

/* ---- Timers (the dispatcher) -------------------------------------------------------------- */

/** What one drain did. */
struct loa_sequence_drained {
    int64_t handled; /* timers handled (queued, skipped or passed over); < limit: none left due */
    int64_t queued;  /* of which became pending sends */
    int64_t next_timer; /* when a drain has work next: now when the limit left some due, else
                           the first waiting timer's due time; 0 = none waits */
    int64_t next_send;  /* the earliest send this drain queued for later (a window-aware step
                           pulled into its window); 0 = none */
};

/**
 * Moves timers due by now + lookahead into the outbox, at most limit, in the caller's
 * transaction: each becomes a pending delivery due at its time (o->on_queued is told its step,
 * Page and due time), or, when it is overdue by more than the catch-up limit, a delivery skipped
 * "stale" and the person moves on; a step removed or switched off since is passed over. Each
 * store call is all or nothing, the drain is not (a savepoint around it would make every one
 * of its writes pay for two in SQLite): after an error, the timers before it are done and a
 * person left between a skip and the step after it is moved on by loa_sequence_resume(), as
 * after a stop. *out says what was done and when to come back.
 */
int loa_sequence_drain(struct loa_txn *tx, const struct loa_sequence_opts *o, int64_t now,
                       int64_t limit, struct loa_sequence_drained *out);

/**
 * A step's send reached a final state (sent, failed, skipped, unknown — unless
 * o->await_reconcile: then an unknown send changes nothing and loa_sequence_reconciled() moves
 * the person on when its fate is known): the person moves on to
 * the next step that is on, timed from at (when it was sent; for a sent step that waits for a
 * reply, from at + the reply timeout, until the answer comes), or finishes; a step the rules
 * refused (skipped) removes them when the sequence says so; a person who can no longer be messaged
 * (marked unreachable: blocked the Page, deleted their account) is removed ("unreachable"). Runs in
 * the caller's transaction, with the settle. A delivery of no live enrolment (removed meanwhile)
 * changes nothing.
 */
int loa_sequence_settled(struct loa_txn *tx, const struct loa_sequence_opts *o, int64_t delivery_id,
                         enum loa_delivery_state state, int64_t at, int64_t now);

/**
 * The reconciler's verdict on a step's send that ended unknown: sent (at: when Graph has it)
 * moves the person on as loa_sequence_settled() does; not sent puts them back to wait for the
 * same step, due now, so it goes again (nothing reached them: the step is not lost, and cannot
 * arrive twice). In the caller's transaction; a delivery of no queued enrolment changes nothing.
 */
int loa_sequence_reconciled(struct loa_txn *tx, const struct loa_sequence_opts *o,
                            int64_t delivery_id, bool sent, int64_t at, int64_t now);

/**
 * At a sender's start: people whose step's send reached a final state without moving them on
 * (a stop between the two, or an echo that settled it first) move on now, and those whose
 * unknown send was found not sent get the step again (loa_sequence_reconciled()), in
 * transactions of its own. *count_out (may be NULL) gets how many were looked at.
 */
int loa_sequence_resume(struct loa_store *st, const struct loa_sequence_opts *o, int64_t now,
                        int64_t *count_out);

#endif /* LOA_SEQUENCE_H */
