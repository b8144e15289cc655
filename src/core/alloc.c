/* SPDX-License-Identifier: MIT */
/* Allocation wrappers that abort on exhaustion; see include/loa/alloc.h for the reasoning. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <loa/alloc.h>

static void oom(size_t size) __attribute__((noreturn));

static void oom(size_t size)
{
    char msg[96];
    int n = snprintf(msg, sizeof(msg), "loa: out of memory allocating %zu bytes\n", size);
    if (n > 0)
        (void)!write(STDERR_FILENO, msg, (size_t)n);
    abort();
}

void *loa_malloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        oom(size);
    return p;
}

void *loa_calloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
    if (!p)
        oom(nmemb * size);
    return p;
}

void *loa_realloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);
    if (!p)
        oom(size);
    return p;
}

void *loa_reallocarray(void *ptr, size_t nmemb, size_t size)
{
    if (size && nmemb > SIZE_MAX / size)
        oom(SIZE_MAX);
    return loa_realloc(ptr, nmemb * size);
}

char *loa_strdup(const char *s)
{
    return loa_memdup(s, strlen(s) + 1);
}

char *loa_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = loa_malloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void *loa_memdup(const void *p, size_t n)
{
    void *q = loa_malloc(n);
    if (n)
        memcpy(q, p, n);
    return q;
}

void loa_free(void *ptr)
{
    int saved = errno;
    free(ptr);
    errno = saved;
}
