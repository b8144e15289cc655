/* SPDX-License-Identifier: MIT */
/* Unit tests for the msg module: shared helpers and main(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <loa/alloc.h>
#include <loa/buf.h>
#include <loa/diag.h>
#include <loa/err.h>

#include "test_msg.h"

char *repeat(const char *unit, size_t n)
{
    struct loa_buf b;
    loa_buf_init(&b, SIZE_MAX / 2);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(loa_buf_puts(&b, unit), 0);
    return loa_buf_detach(&b);
}

char *fmt(const char *f, ...)
{
    struct loa_buf b;
    loa_buf_init(&b, SIZE_MAX / 2);
    va_list ap;
    va_start(ap, f);
    assert_int_equal(loa_buf_vprintf(&b, f, ap), 0);
    va_end(ap);
    return loa_buf_detach(&b);
}

char *one_block(const char *block)
{
    return fmt("{\"blocks\":[%s]}", block);
}

struct loa_msg *parse_ok(const char *json)
{
    struct loa_diags d;
    loa_diags_init(&d, 0);
    struct loa_msg *m = NULL;
    int rc = loa_msg_parse(json, strlen(json), NULL, &d, &m);
    if (rc != 0) {
        fprintf(stderr, "unexpected complaints for %s:\n", json);
        loa_diags_print(&d, stderr, "  ");
    }
    assert_int_equal(rc, 0);
    assert_non_null(m);
    assert_true(loa_diags_empty(&d));
    loa_diags_release(&d);
    return m;
}

void check_invalid_(const char *file, int line, const char *json, const struct loa_limits *lim,
                    int rc_want, const struct expect *exp, size_t n)
{
    struct loa_diags d;
    loa_diags_init(&d, 0);
    static char sentinel;
    struct loa_msg *m = (struct loa_msg *)(void *)&sentinel; /* must be reset to NULL */
    int rc = loa_msg_parse(json, strlen(json), lim, &d, &m);
    bool ok = rc == rc_want && m == NULL && d.count == n;
    for (size_t i = 0; ok && i < n; i++)
        ok = strcmp(d.items[i].where, exp[i].where) == 0 &&
             strstr(d.items[i].reason, exp[i].reason) != NULL;
    if (!ok) {
        fprintf(stderr, "%s:%d: rc %d (want %d), %zu complaints (want %zu):\n", file, line, rc,
                rc_want, d.count, n);
        loa_diags_print(&d, stderr, "  got");
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, "  want: %s: ...%s...\n", exp[i].where, exp[i].reason);
    }
    loa_msg_free(rc == 0 ? m : NULL);
    loa_diags_release(&d);
    assert_true(ok);
}

int main(void)
{
    int failed = 0;
    failed += run_parse_tests();
    failed += run_encode_tests();
    return failed ? 1 : 0;
}
