/* SPDX-License-Identifier: MIT */
/*
 * Who may send for a store's Pages, on SQLite: one sender for the whole file, an flock() on
 * "<store>.dispatch.lock". The kernel drops it when its holder dies, so a crashed sender never
 * blocks the next; two senders would each pace a Page at its full rate, and one's recovery
 * would turn the other's requests in flight into unknowns.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <unistd.h>

#include <loa/alloc.h>
#include <loa/err.h>
#include <loa/log.h>
#include <loa/store.h>

#include "store_int.h"

struct loa_lease {
    int fd;
};

int loa__sqlite_lease_acquire(struct loa_store *st, struct loa_lease **out)
{
    *out = NULL;
    char path[4096];
    if (snprintf(path, sizeof(path), "%s.dispatch.lock", st->path) >= (int)sizeof(path))
        return LOA_EINVAL;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        LOA_ERROR("store", "cannot open the send lock file", "errno=%d", errno);
        return LOA_EIO;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int rc = errno == EWOULDBLOCK ? LOA_EBUSY : LOA_EIO;
        close(fd);
        return rc;
    }
    struct loa_lease *l = loa_calloc(1, sizeof(*l));
    l->fd = fd;
    *out = l;
    return 0;
}

bool loa_store_lease_owns(const struct loa_lease *l, int64_t page_ref)
{
    (void)page_ref; /* SQLite: the lease covers every Page of the file */
    return l != NULL;
}

void loa_store_lease_release(struct loa_lease *l)
{
    if (!l)
        return;
    close(l->fd); /* releases the lock */
    loa_free(l);
}
