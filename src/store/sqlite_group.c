/* SPDX-License-Identifier: MIT */
/*
 * Group commit on SQLite (loa_store_group). Many threads that each want a small durable write
 * (webhook requests) queue their functions on the store file's shared state; the first one to
 * find no group under way becomes the leader, runs every queued function in one transaction on
 * its own connection and commits once (one sync for all), then wakes the others with their
 * results. SQLite's single writer is never contended and nobody sleeps in its busy handler.
 */
#include <pthread.h>
#include <stdbool.h>

#include <loa/err.h>
#include <loa/store.h>

#include "store_int.h"

#define BUSY_RETRIES 5 /* BEGIN is busy only while another process (the CLI) writes */

/* Runs a group in one transaction; a failed commit undoes every job and is each one's result. */
static void run_group(struct loa_store *st, struct loa__gjob *group)
{
    struct loa_txn *tx = NULL;
    int rc = LOA_EBUSY;
    for (int attempt = 0; attempt < BUSY_RETRIES && rc == LOA_EBUSY; attempt++)
        rc = loa_store_begin(st, &tx);
    for (struct loa__gjob *j = group; j; j = j->next) {
        j->rc = rc < 0 ? rc : j->fn(tx, j->ud);
        /* An error that makes SQLite roll the whole transaction back (disk full, I/O) would
         * leave the rest running in autocommit, each savepoint a commit of its own: stop. */
        if (rc == 0 && sqlite3_get_autocommit(st->db))
            rc = LOA_ESTORE;
    }
    if (tx)
        rc = loa_store_end(tx, rc);
    if (rc < 0)
        for (struct loa__gjob *j = group; j; j = j->next)
            j->rc = rc;
}

int loa__sqlite_group(struct loa_store *st, int (*fn)(struct loa_txn *tx, void *ud), void *ud)
{
    struct loa__gjob job = { .fn = fn, .ud = ud };
    struct loa__wlock *w = st->wlock;
    if (!w) {
        run_group(st, &job);
        return job.rc;
    }
    pthread_mutex_lock(&w->gmu);
    struct loa__gjob **tail = &w->queue;
    while (*tail)
        tail = &(*tail)->next;
    *tail = &job;
    while (!job.done) {
        if (w->gbusy) {
            pthread_cond_wait(&w->gdone, &w->gmu);
            continue;
        }
        w->gbusy = true;
        struct loa__gjob *group = w->queue;
        w->queue = NULL;
        pthread_mutex_unlock(&w->gmu);
        run_group(st, group);
        pthread_mutex_lock(&w->gmu);
        for (struct loa__gjob *j = group, *next; j; j = next) {
            next = j->next;
            j->done = true; /* j may be gone once the lock is released */
        }
        w->gbusy = false;
        pthread_cond_broadcast(&w->gdone);
    }
    pthread_mutex_unlock(&w->gmu);
    return job.rc;
}
