/* SPDX-License-Identifier: MIT */
/*
 * The store: sequence groups, sequences with their steps, and enrolments (who is in which
 * sequence, waiting for which step until when). The rules of sequences (validation, when a
 * step falls due, entering and leaving) live in the sequence service (include/loa/sequence.h);
 * these calls only read and write rows (docs/sequences.md).
 * Part of the store interface (include/loa/store.h, which includes it); ownership and threading
 * as said there.
 */
#ifndef LOA_STORE_SEQUENCES_H
#define LOA_STORE_SEQUENCES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loa_store;
struct loa_txn;

/* ---- Groups ------------------------------------------------------------------------------ */

/** A sequence group. Owned strings (release); borrowed during a callback. */
struct loa_seq_group {
    int64_t id;
    int64_t page_ref;
    char *name;
    int64_t position;   /* display order, ascending */
    bool one_at_a_time; /* joining one of its sequences removes the person from the others */
    int64_t created_at;
    int64_t updated_at;
};
void loa_seq_group_release(struct loa_seq_group *g);

/** Creates a group at the end of the Page's order. LOA_EEXIST when the name is taken. */
int loa_store_seq_group_create(struct loa_txn *tx, int64_t page_ref, const char *name,
                               bool one_at_a_time, int64_t now, int64_t *id_out);
/**
 * Changes a group: name (NULL keeps it), position (< 0 keeps it), one_at_a_time (< 0 keeps
 * it). LOA_ENOENT, LOA_EEXIST (name taken).
 */
int loa_store_seq_group_update(struct loa_txn *tx, int64_t id, const char *name, int64_t position,
                               int one_at_a_time, int64_t now);
/** Deletes a group; its sequences stay, in no group. LOA_ENOENT when missing. */
int loa_store_seq_group_delete(struct loa_txn *tx, int64_t id);
int loa_store_seq_group_get(struct loa_store *st, int64_t id, struct loa_seq_group *out);
/** Calls fn for the Page's groups (0 = every Page) by position, then id. */
int loa_store_seq_group_list(struct loa_store *st, int64_t page_ref,
                             int (*fn)(const struct loa_seq_group *g, void *ud), void *ud);

/* ---- Sequences and steps ----------------------------------------------------------------- */

/** A step as stored. */
struct loa_seq_step {
    int64_t id;         /* 0 in an input: a new step */
    int64_t position;   /* order in the sequence, from 0 (assigned on write) */
    bool enabled;       /* a switched-off step is passed over */
    int64_t delay_n;    /* the delay as the author wrote it: delay_n delay_unit */
    int32_t delay_unit; /* enum loa_delay_unit (include/loa/schedule.h) */
    int64_t delay_ms;   /* the same in milliseconds, after the previous step's send */
    bool inside_window; /* must go while the person's messaging window is open */
    bool any_time;      /* the sequence's send window does not apply (a welcome's greeting) */
    bool waits;         /* its message ends with wait_reply: the next step counts from the answer,
                           or from the wait's timeout (set by the service) */
    char *note;         /* internal note; NULL = none */
    char *blocks;       /* the message, JSON text {"blocks":[...]} */
    char *purpose;      /* "promotional" or "non_promotional" */
};

/** A sequence with its live steps in order. Owned; release with loa_sequence_release(). */
struct loa_sequence {
    int64_t id;
    int64_t page_ref;
    int64_t group_id; /* 0 = none */
    char *name;
    bool active;
    int32_t window_from_min; /* send window in local minutes; from == to: any time */
    int32_t window_to_min;
    uint32_t weekdays;     /* bit 0 Monday .. bit 6 Sunday; 0 = every day */
    bool person_clock;     /* the person's own UTC offset when known, else the Page's zone */
    bool leave_on_reply;   /* a message from the person removes them */
    bool leave_on_refused; /* a step the rules refuse removes them (else they move on) */
    bool welcome;          /* people who write to the Page for the first time enter */
    char *ref;             /* m.me link ref that enters people; NULL = none */
    char *tags;            /* JSON array of tag names whose addition enters people ("[]") */
    int64_t created_at;
    int64_t updated_at;
    struct loa_seq_step *steps;
    size_t nsteps;
};
void loa_sequence_release(struct loa_sequence *s);

/**
 * Creates a sequence with its steps (their id and position are ignored). LOA_EEXIST when the
 * Page has a sequence of that name or with that ref. *id_out gets its id.
 */
int loa_store_sequence_create(struct loa_txn *tx, const struct loa_sequence *in, int64_t now,
                              int64_t *id_out);
/**
 * Replaces sequence in->id's settings and steps: a step with an id of this sequence is updated
 * in place (its waiting people keep waiting for it), a step with id 0 is added, and a stored
 * step that is not listed is retired (kept for history, never sent again). Steps take the
 * order listed. LOA_ENOENT (no such sequence, or a step id not of it), LOA_EEXIST (name/ref).
 */
int loa_store_sequence_update(struct loa_txn *tx, const struct loa_sequence *in, int64_t now);
/** Reads a sequence and its live steps. LOA_ENOENT. */
int loa_store_sequence_get(struct loa_store *st, int64_t id, struct loa_sequence *out);
/** Calls fn for the Page's sequences (0 = every Page), by id; steps not read (nsteps 0). */
int loa_store_sequence_list(struct loa_store *st, int64_t page_ref,
                            int (*fn)(const struct loa_sequence *s, void *ud), void *ud);
/** Deletes a sequence, its steps and enrolments (the service removes people first). */
int loa_store_sequence_delete(struct loa_txn *tx, int64_t id);

/** What makes people enter a sequence by itself. */
enum loa_seq_trigger {
    LOA_SEQ_TRIGGER_WELCOME = 0, /* a person writes to the Page for the first time */
    LOA_SEQ_TRIGGER_REF,         /* an m.me link with this ref (value) */
    LOA_SEQ_TRIGGER_TAG,         /* a tag (value) is added */
};
/**
 * Calls fn(sequence id, group id or 0, one_at_a_time of its group) for the active sequences of
 * Page page_ref that trigger fires for, oldest first.
 */
int loa_store_sequence_triggered(
    struct loa_store *st, int64_t page_ref, enum loa_seq_trigger trigger, const char *value,
    int (*fn)(int64_t id, int64_t group_id, bool one_at_a_time, void *ud), void *ud);

/** A step with what sending it needs from its sequence. Owned; loa_seq_step_info_release(). */
struct loa_seq_step_info {
    struct loa_seq_step step;
    int64_t sequence_id;
    int64_t page_ref;
    bool retired;                /* removed from its sequence */
    bool active;                 /* the sequence is active */
    int64_t sequence_updated_at; /* when the sequence (or any step) was last edited */
    int32_t window_from_min;     /* the sequence's send window and clock (struct loa_sequence) */
    int32_t window_to_min;
    uint32_t weekdays;
    bool person_clock;
};
void loa_seq_step_info_release(struct loa_seq_step_info *s);
/** Reads step id, retired or not. LOA_ENOENT. */
int loa_store_seq_step_get(struct loa_store *st, int64_t id, struct loa_seq_step_info *out);

/* ---- Enrolments -------------------------------------------------------------------------- */

enum loa_enrol_state {
    LOA_ENROL_WAITING = 0, /* waiting for step_id until due_at */
    LOA_ENROL_QUEUED,      /* step_id's send is in the outbox (delivery_id) */
    LOA_ENROL_FINISHED,    /* passed the last step */
    LOA_ENROL_REMOVED,     /* left before the end (end_reason) */
    LOA_ENROL_STATE_COUNT
};
const char *loa_enrol_state_name(enum loa_enrol_state s);

/** An enrolment. Strings borrowed during a callback. */
struct loa_enrolment {
    int64_t id;
    int64_t sequence_id;
    int64_t subscriber_id;
    enum loa_enrol_state state;
    int64_t step_id;     /* waiting/queued: the step; 0 otherwise */
    int64_t base_at;     /* when the previous step was sent (entry for the first) */
    int64_t due_at;      /* waiting/queued: when step_id falls due */
    int64_t delivery_id; /* queued: the outbox row */
    int64_t entered_at;
    int64_t ended_at;       /* finished/removed; 0 otherwise */
    const char *end_reason; /* removed: why; NULL otherwise */
    const char *source;     /* how the person entered ("api", "welcome", "ref", "tag", ...) */
    /* Read with the due list and lists (the person and their clock): */
    int64_t page_ref;
    const char *psid;
    int32_t utc_offset_min; /* LOA_UTC_OFFSET_UNKNOWN when unknown */
    int64_t last_interaction_at;
};

/**
 * Enters subscriber_id into sequence_id, waiting for step_id (0: nothing to wait for: the
 * enrolment is finished at once) until due_at. Nothing happens when the person is already in
 * the sequence (waiting or queued): *inserted_out (may be NULL) says which.
 */
int loa_store_enrol_insert(struct loa_txn *tx, int64_t sequence_id, int64_t subscriber_id,
                           int64_t step_id, int64_t base_at, int64_t due_at, const char *source,
                           int64_t now, bool *inserted_out);
/**
 * Removes the person's live enrolment in sequence_id (reason stored): a send of theirs still
 * pending in the outbox is skipped with reason "removed" (one in flight is left to settle).
 * *removed_out (may be NULL) is false when they were not in it.
 */
int loa_store_enrol_remove(struct loa_txn *tx, int64_t sequence_id, int64_t subscriber_id,
                           const char *reason, int64_t now, bool *removed_out);
/** Removes everyone live in sequence_id (as loa_store_enrol_remove()); *count_out may be NULL. */
int loa_store_enrol_remove_all(struct loa_txn *tx, int64_t sequence_id, const char *reason,
                               int64_t now, int64_t *count_out);
/**
 * Calls fn for the enrolments of the Page's sequences (0 = every Page) in sequence_id (0 =
 * any) of subscriber_id (0 = anyone), with state in state_mask (bits 1 << enum
 * loa_enrol_state; 0 = any), waiting for or queued at step_id (0 = any), after id after_id,
 * at most limit (0 = no limit), in id order.
 */
int loa_store_enrol_list(struct loa_store *st, int64_t page_ref, int64_t sequence_id,
                         int64_t subscriber_id, unsigned state_mask, int64_t step_id,
                         int64_t after_id, int64_t limit,
                         int (*fn)(const struct loa_enrolment *e, void *ud), void *ud);
/**
 * Calls fn for waiting enrolments of active sequences due at or before now, earliest first,
 * at most limit: the timers that fall due.
 */
int loa_store_enrol_due(struct loa_store *st, int64_t now, int64_t limit,
                        int (*fn)(const struct loa_enrolment *e, void *ud), void *ud);
/**
 * The due time of the first waiting enrolment of an active sequence due after after; *due_out
 * = 0 when none.
 */
int loa_store_enrol_next_due(struct loa_store *st, int64_t after, int64_t *due_out);
/** The enrolment whose queued send is delivery delivery_id. LOA_ENOENT. */
int loa_store_enrol_by_delivery(struct loa_store *st, int64_t delivery_id,
                                int (*fn)(const struct loa_enrolment *e, void *ud), void *ud);

/** A step's send for an enrolment, as loa_store_enrol_queue() writes it. */
struct loa_enrol_send {
    int64_t page_ref;
    int64_t subscriber_id;
    const char *psid;
    int64_t step_id;
    int64_t due_at;     /* the outbox row's next_at */
    int64_t priority;   /* LOA_PRIORITY_BULK */
    const char *reason; /* NULL: queue it (pending); else write it skipped with this reason */
    int64_t at;
};
/**
 * A waiting enrolment's step goes to the outbox: a pending delivery (source sequence, source
 * id the step) and the enrolment becomes queued — or, with s->reason, a skipped delivery that
 * records why and the enrolment stays as it is (the caller advances it). Refused with
 * LOA_ESTATE when the enrolment is not waiting for s->step_id any more. *delivery_out gets the
 * row's id.
 */
int loa_store_enrol_queue(struct loa_txn *tx, int64_t enrol_id, const struct loa_enrol_send *s,
                          int64_t *delivery_out);
/**
 * Moves an enrolment on: waiting for next_step until due_at from base_at, or, with next_step
 * 0, finished at now. Only a live enrolment changes.
 */
int loa_store_enrol_advance(struct loa_txn *tx, int64_t enrol_id, int64_t next_step,
                            int64_t base_at, int64_t due_at, int64_t now);
/**
 * Puts the queued enrolments of step_id (0 = every step of sequence_id) whose send is still
 * pending back to waiting with their due time, and deletes those outbox rows (nothing left):
 * for a sequence switched off, a step removed or re-timed. *count_out may be NULL.
 */
int loa_store_enrol_unqueue(struct loa_txn *tx, int64_t sequence_id, int64_t step_id,
                            int64_t *count_out);
/** Sets a waiting enrolment's due time. */
int loa_store_enrol_set_due(struct loa_txn *tx, int64_t enrol_id, int64_t due_at);
/**
 * Calls fn(delivery id, its state, when it was settled, when it was reconciled or 0) for
 * queued enrolments whose send has reached a final state (sent, failed, skipped, unknown),
 * after delivery id after_id in id order, at most limit. An unknown send with a reconciled
 * time was found not sent (reconciled_not_sent).
 */
int loa_store_enrol_sends_ended(struct loa_store *st, int64_t after_id, int64_t limit,
                                int (*fn)(int64_t delivery_id, const char *state, int64_t at,
                                          int64_t reconciled_at, void *ud),
                                void *ud);
/**
 * Puts a queued enrolment whose send delivery_id was found not sent back to waiting for the
 * same step, due at due_at (the outbox row stays, unknown, as history). Only an enrolment still
 * queued on that delivery changes; *changed_out (may be NULL) says.
 */
int loa_store_enrol_requeue(struct loa_txn *tx, int64_t enrol_id, int64_t delivery_id,
                            int64_t due_at, bool *changed_out);
/** Calls fn(step id, page_ref) for each step with sends queued in the outbox. */
int loa_store_seq_steps_live(struct loa_store *st,
                             int (*fn)(int64_t step_id, int64_t page_ref, void *ud), void *ud);

/** Progress of one step (or of a whole sequence with step_id 0 in the rows). */
struct loa_seq_step_stats {
    int64_t step_id;
    int64_t waiting; /* enrolments waiting for it */
    int64_t queued;
    int64_t sent, delivered, read, clicked, replied;
    int64_t failed, skipped, unknown;
};
/** Progress of a sequence. */
struct loa_seq_stats {
    int64_t entered, waiting, queued, finished, removed;
};
/**
 * Counts a sequence's enrolments, and calls fn for each of its steps (retired ones included)
 * with the step's counts, and fn_reason (may be NULL) for each (step, state, reason, count)
 * of its finished sends.
 */
int loa_store_sequence_stats(struct loa_store *st, int64_t id, struct loa_seq_stats *out,
                             int (*fn)(const struct loa_seq_step_stats *s, void *ud),
                             int (*fn_reason)(int64_t step_id, const char *state,
                                              const char *reason, int64_t count, void *ud),
                             void *ud);

#endif /* LOA_STORE_SEQUENCES_H */
