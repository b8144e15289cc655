/* SPDX-License-Identifier: MIT */
/*
 * A dispatcher on a thread of its own, for the dispatcher's tests. Failures are cmocka
 * assertions (on the calling thread only).
 */
#ifndef LOA_TESTS_DISPATCH_RUNNER_H
#define LOA_TESTS_DISPATCH_RUNNER_H

#include <pthread.h>
#include <signal.h>

struct loa_dispatch;
struct loa_dispatch_opts;

struct runner {
    struct loa_dispatch *d;
    pthread_t th;
    volatile sig_atomic_t stop; /* the running thread's own: stop it with runner_stop() */
    int rc;
};

/* Creates a dispatcher with o and runs it on a new thread. */
void runner_start(struct runner *x, const struct loa_dispatch_opts *o);
/* Waits until it ends by itself (with only_campaign, once that campaign is over) and frees it. */
void runner_join(struct runner *x);
/* Asks it to stop (what is in flight finishes), then as runner_join(). */
void runner_stop(struct runner *x);

#endif
