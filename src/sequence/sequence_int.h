/* SPDX-License-Identifier: MIT */
/*
 * Private to src/sequence: a sequence as the service's calls need it (with its Page), a small
 * per-call cache of them, and the timing of a step.
 */
#ifndef LOA_SEQUENCE_SEQUENCE_INT_H
#define LOA_SEQUENCE_SEQUENCE_INT_H

#include <loa/schedule.h>
#include <loa/sequence.h>

struct loa__seq {
    struct loa_sequence seq; /* with its live steps */
    struct loa_page page;    /* its Page (time zone, activation) */
};

/* The sequences one call has read (owned; an entry stays where it is until the release, so a
 * pointer from loa__seq_cache_get() stays valid through the call). */
struct loa__seq_cache {
    struct loa__seq **v;
    size_t n, cap;
    size_t last; /* the entry found last (a drain meets one sequence many times in a row) */
};

void loa__seq_cache_release(struct loa__seq_cache *c);
/* Sequence id from the cache, read from the store on first use. LOA_ENOENT when gone. */
int loa__seq_cache_get(struct loa_store *st, struct loa__seq_cache *c, int64_t id,
                       struct loa__seq **out);
/* The first step at or after position from that is on; NULL when none. */
const struct loa_seq_step *loa__seq_next_step(const struct loa_sequence *s, int64_t from);
/* The live step with this id; NULL when none (retired). */
const struct loa_seq_step *loa__seq_find_step(const struct loa_sequence *s, int64_t id);
/*
 * When step t falls due for the person (their UTC offset, or LOA_UTC_OFFSET_UNKNOWN) after
 * base, as of now: the delay, then the send window in the sequence's clock, and for a
 * window-aware step the messaging window as the rules see it. Always fills *out.
 */
int loa__seq_step_due(struct loa_store *st, const struct loa_sequence_opts *o,
                      const struct loa__seq *s, const struct loa_seq_step *t, int64_t subscriber_id,
                      int32_t utc_offset_min, int64_t base, int64_t now, struct loa_step_due *out);

#endif /* LOA_SEQUENCE_SEQUENCE_INT_H */
