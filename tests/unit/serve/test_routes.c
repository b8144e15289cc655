/* SPDX-License-Identifier: MIT */
/* Route matching, and docs/openapi.json against the route table (both directions). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include <loa/http.h>

#include "serve_int.h"
#include "test_serve.h"

static void route_matching(void **state)
{
    (void)state;
    size_t n;
    const struct loa_http_route *r = loa__serve_routes(&n);
    char buf[256];
    const char *params[LOA_HTTP_MAX_PARAMS];
    int i = loa_http_route_match(r, n, LOA_HTTP_GET, "/api/v1/pages/123/conversations/u9/messages",
                                 buf, sizeof(buf), params);
    assert_true(i >= 0);
    assert_string_equal(r[i].pattern, "/api/v1/pages/{page_id}/conversations/{psid}/messages");
    assert_string_equal(params[0], "123");
    assert_string_equal(params[1], "u9");
    /* Wrong method on an existing path is 405, unknown path 404, trailing slash 404. */
    assert_int_equal(
        loa_http_route_match(r, n, LOA_HTTP_DELETE, "/api/v1/pages", buf, sizeof(buf), params), -2);
    assert_int_equal(
        loa_http_route_match(r, n, LOA_HTTP_GET, "/api/v1/nope", buf, sizeof(buf), params), -1);
    assert_int_equal(
        loa_http_route_match(r, n, LOA_HTTP_GET, "/api/v1/pages/", buf, sizeof(buf), params), -1);
    assert_int_equal(loa_http_route_match(r, n, LOA_HTTP_GET, "/api/v1/pages//subscribers", buf,
                                          sizeof(buf), params),
                     -1);
    /* HEAD is served by GET routes. */
    assert_true(loa_http_route_match(r, n, LOA_HTTP_HEAD, "/healthz", buf, sizeof(buf), params) >=
                0);
}

static const char *method_key(enum loa_http_method m)
{
    static const char *const k[] = { "get", "post", "put", "patch", "delete", "head", "other" };
    return k[m];
}

/* Every route is documented with its method, and every documented operation is a route. */
static void openapi_matches_routes(void **state)
{
    (void)state;
    json_error_t err;
    json_t *doc = json_loadb(loa__openapi_json, loa__openapi_json_len, 0, &err);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
    json_t *paths = json_object_get(doc, "paths");
    size_t n;
    const struct loa_http_route *r = loa__serve_routes(&n);
    for (size_t i = 0; i < n; i++) {
        json_t *p = json_object_get(paths, r[i].pattern);
        if (!p || !json_object_get(p, method_key(r[i].method)))
            fail_msg("route %s %s is not in docs/openapi.json", method_key(r[i].method),
                     r[i].pattern);
        /* The documented role is the route's. */
        json_t *op = json_object_get(p, method_key(r[i].method));
        const char *role = json_string_value(json_object_get(op, "x-loa-role"));
        const char *want = r[i].min_role == LOA_ROLE_ADMIN   ? "admin"
                           : r[i].min_role == LOA_ROLE_STAFF ? "staff"
                                                             : NULL;
        if (want && (!role || strcmp(role, want) != 0))
            fail_msg("%s %s: x-loa-role should be %s", method_key(r[i].method), r[i].pattern, want);
    }
    const char *path;
    json_t *item;
    size_t ops = 0;
    json_object_foreach(paths, path, item) {
        const char *m;
        json_t *op;
        json_object_foreach(item, m, op) {
            bool found = false;
            for (size_t i = 0; i < n; i++)
                found |= strcmp(r[i].pattern, path) == 0 && strcmp(method_key(r[i].method), m) == 0;
            if (!found)
                fail_msg("docs/openapi.json documents %s %s, which is not a route", m, path);
            ops++;
        }
    }
    assert_int_equal(ops, n);
    json_decref(doc);
}

/* The error body of a refused request (api_diags_json): the first complaint is the error. */
static void diags_to_json(void **state)
{
    (void)state;
    struct loa_diags d;
    loa_diags_init(&d, 10);
    loa_diags_add(&d, 0, 0, "pacing.window.from", "must be HH:MM");
    loa_diags_add(&d, 2, 5, "blocks", "malformed");
    json_t *o = api_diags_json(400, &d);
    char *text = json_dumps(o, JSON_COMPACT);
    assert_string_equal(text, "{\"error\":{\"status\":400,\"field\":\"pacing.window.from\","
                              "\"reason\":\"must be HH:MM\"},\"errors\":[{\"field\":"
                              "\"pacing.window.from\",\"reason\":\"must be HH:MM\"},{\"field\":"
                              "\"blocks\",\"reason\":\"malformed\",\"line\":2,\"column\":5}]}");
    free(text);
    json_decref(o);
    loa_diags_release(&d);
}

int test_routes_group(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(route_matching),
        cmocka_unit_test(openapi_matches_routes),
        cmocka_unit_test(diags_to_json),
    };
    return cmocka_run_group_tests_name("routes", tests, NULL, NULL);
}
