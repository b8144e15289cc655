/* SPDX-License-Identifier: MIT */
/* A dispatcher on a thread of its own (runner.h). */
#include "runner.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <loa/dispatch.h>

static void *runner_main(void *arg)
{
    struct runner *x = arg;
    x->rc = loa_dispatch_run(x->d, &x->stop);
    return NULL;
}

void runner_start(struct runner *x, const struct loa_dispatch_opts *o)
{
    memset(x, 0, sizeof(*x));
    assert_int_equal(loa_dispatch_new(o, &x->d), 0);
    assert_int_equal(pthread_create(&x->th, NULL, runner_main, x), 0);
}

void runner_join(struct runner *x)
{
    pthread_join(x->th, NULL);
    assert_int_equal(x->rc, 0);
    loa_dispatch_free(x->d);
    x->d = NULL;
}

void runner_stop(struct runner *x)
{
    loa_dispatch_request_stop(x->d);
    runner_join(x);
}
