/* SPDX-License-Identifier: MIT */
/* Helpers shared by the msg module's tests. */
#ifndef LOA_TEST_MSG_H
#define LOA_TEST_MSG_H

#include <stddef.h>

#include <loa/msg.h>

/* One expected complaint: its JSON path and a part of its reason. */
struct expect {
    const char *where;
    const char *reason;
};

/* n copies of unit, concatenated. Ownership: loa_free(). */
char *repeat(const char *unit, size_t n);
/* printf into a new string. Ownership: loa_free(). */
char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
/* Parses json (NUL-terminated) with default limits; fails the test unless it is valid. */
struct loa_msg *parse_ok(const char *json);
/* Parses json and asserts rc and exactly the n complaints of exp, in order. */
void check_invalid_(const char *file, int line, const char *json, const struct loa_limits *lim,
                    int rc, const struct expect *exp, size_t n);
#define check_invalid(json, ...)                                         \
    do {                                                                 \
        const struct expect exp_[] = { __VA_ARGS__ };                    \
        check_invalid_(__FILE__, __LINE__, json, NULL, LOA_EINVAL, exp_, \
                       sizeof(exp_) / sizeof(exp_[0]));                  \
    } while (0)
/* A message of one block: {"blocks":[block]}. Ownership: loa_free(). */
char *one_block(const char *block);

int run_parse_tests(void);
int run_encode_tests(void);

#endif /* LOA_TEST_MSG_H */
