/* SPDX-License-Identifier: MIT */
/* Route matching: a path against the table's patterns, segment by segment. */
#include <string.h>

#include <loa/err.h>
#include <loa/http.h>

const char *loa_http_method_name(enum loa_http_method m)
{
    static const char *const names[] = { "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OTHER" };
    return m <= LOA_HTTP_OTHER ? names[m] : "OTHER";
}

/* Whether path (split into segs) matches pattern; fills params. */
static bool match_one(const char *pattern, char **segs, size_t nseg,
                      const char *params[LOA_HTTP_MAX_PARAMS])
{
    size_t i = 0, np = 0;
    const char *p = pattern;
    while (*p == '/')
        p++;
    while (*p) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (i >= nseg)
            return false;
        if (p[0] == '{' && len > 2 && p[len - 1] == '}') {
            if (!segs[i][0] || np >= LOA_HTTP_MAX_PARAMS)
                return false;
            if (params)
                params[np] = segs[i];
            np++;
        } else if (strlen(segs[i]) != len || memcmp(segs[i], p, len) != 0) {
            return false;
        }
        i++;
        p += len;
        while (*p == '/')
            p++;
    }
    return i == nseg;
}

int loa_http_route_match(const struct loa_http_route *routes, size_t n, enum loa_http_method m,
                         const char *path, char *buf, size_t bufsize,
                         const char *params[LOA_HTTP_MAX_PARAMS])
{
    size_t len = strlen(path);
    if (len + 1 > bufsize)
        return -1;
    memcpy(buf, path, len + 1);
    char *segs[32];
    size_t nseg = 0;
    char *p = buf;
    while (*p == '/')
        p++;
    while (*p) {
        if (nseg == 32)
            return -1;
        segs[nseg++] = p;
        char *slash = strchr(p, '/');
        if (!slash)
            break;
        *slash = '\0';
        p = slash + 1;
        /* A trailing slash is an empty final segment: "/api/v1/pages/" is not a route. */
        if (!*p && nseg < 32)
            segs[nseg++] = p;
    }
    int found = -1;
    for (size_t i = 0; i < n; i++) {
        const char *tmp[LOA_HTTP_MAX_PARAMS];
        if (!match_one(routes[i].pattern, segs, nseg, tmp))
            continue;
        enum loa_http_method rm = routes[i].method;
        if (rm == m || (m == LOA_HTTP_HEAD && rm == LOA_HTTP_GET)) {
            if (params)
                memcpy(params, tmp, sizeof(tmp));
            return (int)i;
        }
        found = -2;
    }
    return found;
}
