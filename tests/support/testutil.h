/* SPDX-License-Identifier: MIT */
/* Helpers for loa's cmocka tests: temporary paths, files and stores. Header-only. */
#ifndef LOA_TESTS_TESTUTIL_H
#define LOA_TESTS_TESTUTIL_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A fresh path under LOA_TEST_TMPDIR (or /tmp), unique per process and call. */
static inline void test_path(char *out, size_t size, const char *name)
{
    static int counter;
    const char *dir = getenv("LOA_TEST_TMPDIR");
    snprintf(out, size, "%s/%s-%d-%d", dir && *dir ? dir : "/tmp", name, (int)getpid(), ++counter);
    unlink(out);
}

/*
 * The store backend a store contract test runs against: LOA_TEST_STORE_BACKEND, set by ctest
 * for each backend in LOA_STORE_BACKENDS (tests/CMakeLists.txt); "sqlite" when unset.
 */
static inline const char *test_store_backend(void)
{
    const char *b = getenv("LOA_TEST_STORE_BACKEND");
    return b && *b ? b : "sqlite";
}

static inline bool test_store_is_sqlite(void)
{
    return strcmp(test_store_backend(), "sqlite") == 0;
}

/*
 * Where a fresh store of the backend under test lives: a new file for SQLite. A backend this
 * helper does not know yet ends the test program with a message, never a silent pass.
 */
static inline void test_store_path(char *out, size_t size, const char *name)
{
    if (!test_store_is_sqlite()) {
        fprintf(stderr, "store backend '%s' is not known to the tests\n", test_store_backend());
        exit(1);
    }
    test_path(out, size, name);
}

/* Writes text to a new temporary file and returns its path in out. */
static inline void test_write_file(char *out, size_t size, const char *name, const char *text)
{
    test_path(out, size, name);
    FILE *f = fopen(out, "wb");
    if (f) {
        fwrite(text, 1, strlen(text), f);
        fclose(f);
    }
}

/* Removes a store file and its WAL, shared-memory and key files. */
static inline void test_remove_store(const char *path)
{
    const char *suffixes[] = { "", "-wal", "-shm", ".key", ".dispatch.lock" };
    char p[1024];
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        snprintf(p, sizeof(p), "%s%s", path, suffixes[i]);
        unlink(p);
    }
}

#endif /* LOA_TESTS_TESTUTIL_H */
