/* SPDX-License-Identifier: MIT */
/*
 * The web console's side of `loa serve`: its files (embedded at build time, gzip-compressed
 * copies served to clients that accept them), console sessions (sign in, who am I, sign out,
 * sign out everywhere), the session hook that authorises cookie-signed requests (CSRF token
 * on every change) and the guard that keeps staff users to their own Pages.
 *
 * Sign-in failures are counted per login in the store (so the lock survives a restart): from
 * the second failure in a row the next try must wait console.signin_delay_ms, doubling with
 * each failure; console.signin_lock_after failures lock the login for console.signin_lock_s.
 * A password is checked with Argon2id (crypto_pwhash_str_verify); an unknown login is checked
 * against a dummy hash so that both cost the same.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <sodium.h>

#include <loa/alloc.h>
#include <loa/clock.h>
#include <loa/err.h>
#include <loa/log.h>

#include "serve_int.h"

#define COOKIE       "loa_session"
#define TOKEN_BYTES  32
#define CSRF_BYTES   24
#define MAX_PASSWORD 1024
#define MAX_LOGIN    128

#define B64(n) sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING)

/* ---- Files ------------------------------------------------------------------------------ */

static const char CSP[] = "default-src 'none'; script-src 'self'; style-src 'self'; "
                          "img-src 'self' data:; connect-src 'self'; font-src 'self'; "
                          "manifest-src 'self'; base-uri 'none'; form-action 'self'; "
                          "frame-ancestors 'none'";

static const struct serve_file *find_file(const char *path)
{
    for (size_t i = 0; i < loa__console_nfiles; i++)
        if (strcmp(loa__console_files[i].path, path) == 0)
            return &loa__console_files[i];
    return NULL;
}

static bool accepts_gzip(const struct loa_http_req *req)
{
    const char *ae = loa_http_header(req, "Accept-Encoding");
    if (!ae)
        return false;
    const char *g = strstr(ae, "gzip");
    return g && strncmp(g, "gzip;q=0", 8) != 0 && strncmp(g, "gzip; q=0", 9) != 0;
}

void serve_console_file(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    (void)ctx;
    const char *path = req->path;
    if (strncmp(path, "/api/", 5) == 0 || strcmp(path, "/api") == 0) {
        loa_http_error(resp, 404, NULL, "no such resource: %s %s",
                       loa_http_method_name(req->method), path);
        return;
    }
    const struct serve_file *f = find_file(path);
    /* Console routes (/signin, /p/123/campaigns, ...) are the app's: index.html. A missing
     * asset is a plain 404, not the app. */
    if (!f && strncmp(path, "/assets/", 8) != 0)
        f = find_file("/index.html");
    if (!f) {
        resp->status = 404;
        resp->content_type = "text/plain; charset=utf-8";
        loa_buf_puts(&resp->body, "not found\n");
        loa_http_add_header(resp, "X-Content-Type-Options", "nosniff");
        return;
    }
    resp->status = 200;
    resp->content_type = f->type;
    bool gz = f->gz && accepts_gzip(req);
    resp->static_body = gz ? f->gz : f->data;
    resp->static_len = gz ? f->gzlen : f->len;
    if (gz)
        loa_http_add_header(resp, "Content-Encoding", "gzip");
    loa_http_add_header(resp, "Vary", "Accept-Encoding");
    loa_http_add_header(resp, "Cache-Control", f->cache);
    loa_http_add_header(resp, "Content-Security-Policy", CSP);
    loa_http_add_header(resp, "X-Content-Type-Options", "nosniff");
    loa_http_add_header(resp, "X-Frame-Options", "DENY");
    loa_http_add_header(resp, "Referrer-Policy", "same-origin");
}

/* ---- Sessions --------------------------------------------------------------------------- */

void serve_user_free(void *user)
{
    struct serve_user *u = user;
    if (!u)
        return;
    loa_user_release(&u->u);
    loa_session_release(&u->s);
    loa_free(u->page_refs);
    loa_free(u);
}

static enum loa_role api_role(enum loa_user_role r)
{
    return r == LOA_USER_STAFF ? LOA_ROLE_STAFF : LOA_ROLE_ADMIN;
}

static bool token_ok(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > 2 * B64(TOKEN_BYTES))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' && t[i] <= 'Z') ||
              (t[i] >= '0' && t[i] <= '9') || t[i] == '-' || t[i] == '_'))
            return false;
    return true;
}

int serve_session_check(void *ctx, const struct loa_http_req *req, const char *cookie,
                        enum loa_role *role_out, void **user_out, struct loa_http_resp *resp)
{
    struct serve_app *app = ctx;
    struct loa_store *st = serve_store(app);
    if (!st) {
        loa_http_error(resp, 503, NULL, "the store cannot be opened");
        return 503;
    }
    struct serve_user *u = loa_calloc(1, sizeof(*u));
    int rc = token_ok(cookie)
                 ? loa_store_session_find(st, cookie, loa_now_ms(),
                                          app->set->console_session_idle_s * 1000,
                                          app->set->console_session_max_s * 1000, &u->s, &u->u)
                 : LOA_ENOENT;
    if (rc < 0) {
        loa_free(u);
        if (rc == LOA_ENOENT) {
            loa_http_error(resp, 401, COOKIE,
                           "the session has ended (signed out, expired or unknown); sign in again");
            return 401;
        }
        loa_http_error(resp, 503, NULL, "the store is busy; try again");
        return 503;
    }
    if (req->method != LOA_HTTP_GET && req->method != LOA_HTTP_HEAD) {
        const char *h = loa_http_header(req, "X-CSRF-Token");
        size_t n = u->s.csrf ? strlen(u->s.csrf) : 0;
        if (!h || strlen(h) != n || n == 0 || sodium_memcmp(h, u->s.csrf, n) != 0) {
            serve_user_free(u);
            loa_http_error(resp, 403, "X-CSRF-Token",
                           h ? "the CSRF token does not match this session's"
                             : "a change made with a session cookie needs the session's CSRF "
                               "token in the X-CSRF-Token header (GET /api/v1/session gives it)");
            return 403;
        }
    }
    if (u->u.role == LOA_USER_STAFF) {
        u->scoped = true;
        u->page_refs = loa_calloc(u->u.npages + 1, sizeof(*u->page_refs));
        for (size_t i = 0; i < u->u.npages; i++) {
            struct loa_page p;
            if (loa_store_page_get(st, u->u.pages[i], &p) == 0) {
                u->page_refs[u->npage_refs++] = p.id;
                loa_page_release(&p);
            }
        }
    }
    *role_out = api_role(u->u.role);
    *user_out = u;
    return 0;
}

bool serve_user_page(const struct serve_user *u, const char *page_id)
{
    if (!u || !u->scoped)
        return true;
    for (size_t i = 0; page_id && i < u->u.npages; i++)
        if (strcmp(u->u.pages[i], page_id) == 0)
            return true;
    return false;
}

static bool user_page_ref(const struct serve_user *u, int64_t ref)
{
    if (!u || !u->scoped)
        return true;
    for (size_t i = 0; i < u->npage_refs; i++)
        if (u->page_refs[i] == ref)
            return true;
    return false;
}

/* The Page of the resource a "{id}" route names, by the route's collection; 0 when unknown. */
static int64_t resource_page(struct loa_store *st, const char *pattern, const char *id_text)
{
    int64_t id, ref = 0;
    if (!api_parse_id(id_text, &id))
        return 0;
    if (strncmp(pattern, "/api/v1/campaigns/", 18) == 0) {
        struct loa_campaign c;
        if (loa_store_campaign_get(st, id, &c) == 0) {
            ref = c.page_ref;
            loa_campaign_release(&c);
        }
    } else if (strncmp(pattern, "/api/v1/subscribers/", 20) == 0) {
        struct loa_subscriber s;
        if (loa_store_subscriber_get(st, id, &s) == 0) {
            ref = s.page_ref;
            loa_subscriber_release(&s);
        }
    } else if (strncmp(pattern, "/api/v1/sequences/", 18) == 0) {
        struct loa_sequence q;
        if (loa_store_sequence_get(st, id, &q) == 0) {
            ref = q.page_ref;
            loa_sequence_release(&q);
        }
    } else if (strncmp(pattern, "/api/v1/sequence-groups/", 24) == 0) {
        struct loa_seq_group g;
        if (loa_store_seq_group_get(st, id, &g) == 0) {
            ref = g.page_ref;
            loa_seq_group_release(&g);
        }
    }
    return ref;
}

/* Whether the page_id of a JSON body (creating a campaign, a sequence, a group) is the user's. */
static bool body_page_ok(const struct serve_user *u, const struct loa_http_req *req)
{
    json_t *o = json_loadb(req->body, req->body_len, 0, NULL);
    json_t *p = o ? json_object_get(o, "page_id") : NULL;
    bool ok = json_is_string(p) && serve_user_page(u, json_string_value(p));
    json_decref(o);
    return ok;
}

bool serve_guard(void *ctx, const struct loa_http_route *route, const struct loa_http_req *req,
                 struct loa_http_resp *resp)
{
    struct serve_app *app = ctx;
    const struct serve_user *u = req->user;
    if (!u || !u->scoped)
        return true;
    const char *pat = route->pattern;
    bool ok;
    if (strncmp(pat, "/api/v1/session", 15) == 0 || strcmp(pat, "/api/v1/pages") == 0) {
        ok = true; /* the handlers answer for this user (the list is filtered) */
    } else if (strstr(pat, "{page_id}")) {
        ok = serve_user_page(u, req->params[0]);
    } else if (strstr(pat, "{id}")) {
        struct loa_store *st = serve_store(app);
        ok = st && user_page_ref(u, resource_page(st, pat, req->params[0]));
    } else if (req->method == LOA_HTTP_GET) {
        ok = serve_user_page(u, loa_http_query(req, "page_id"));
        if (!ok && !loa_http_query(req, "page_id")) {
            loa_http_error(resp, 403, "page_id", "a staff user must name one of their Pages");
            return false;
        }
    } else if (strcmp(pat, "/api/v1/rules/explain") == 0) {
        json_t *o = json_loadb(req->body, req->body_len, 0, NULL);
        json_t *sub = o ? json_object_get(o, "subscriber_id") : NULL;
        struct loa_store *st = serve_store(app);
        char id[32];
        snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(sub));
        ok = !sub || (st && user_page_ref(u, resource_page(st, "/api/v1/subscribers/", id)));
        json_decref(o);
    } else {
        ok = body_page_ok(u, req);
    }
    if (!ok)
        loa_http_error(resp, 403, "page_id", "this user may only see and change their own Pages");
    return ok;
}

/* ---- Session endpoints ------------------------------------------------------------------ */

static bool secure_request(struct serve_app *app, const struct loa_http_req *req)
{
    if (app->set->console_cookie_secure)
        return true;
    const char *p =
        app->set->console_trust_forwarded_proto ? loa_http_header(req, "X-Forwarded-Proto") : NULL;
    return p && strcasecmp(p, "https") == 0;
}

static void set_cookie(struct serve_app *app, const struct loa_http_req *req,
                       struct loa_http_resp *resp, const char *token)
{
    char v[256];
    snprintf(v, sizeof(v), COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld%s",
             token ? token : "", token ? (long long)app->set->console_session_max_s : 0LL,
             secure_request(app, req) ? "; Secure" : "");
    loa_http_add_header(resp, "Set-Cookie", v);
    loa_http_add_header(resp, "Cache-Control", "no-store");
}

static json_t *whoami_json(const struct loa_user *u, const char *csrf)
{
    json_t *pages = json_null();
    if (u->role == LOA_USER_STAFF) {
        pages = json_array();
        for (size_t i = 0; i < u->npages; i++)
            json_array_append_new(pages, json_string(u->pages[i]));
    }
    return json_pack("{s:s,s:s,s:o,s:s,s:s}", "login", u->login, "role",
                     loa_user_role_name(u->role), "pages", pages, "lang", u->lang ? u->lang : "vi",
                     "csrf_token", csrf);
}

static char dummy[crypto_pwhash_STRBYTES];
static void make_dummy(void)
{
    unsigned char pw[16];
    randombytes_buf(pw, sizeof(pw));
    if (crypto_pwhash_str(dummy, (const char *)pw, sizeof(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        dummy[0] = '\0';
}

/* Answers 429 for a locked (or, with slowed, a slowed) login; false when a try is allowed. */
static bool refuse_locked(struct serve_app *app, const struct loa_signin_state *s, int64_t now,
                          bool slowed, struct loa_http_resp *resp)
{
    int64_t wait_ms = 0;
    const char *why = NULL;
    char reason[256];
    if (s->locked_until > now) {
        wait_ms = s->locked_until - now;
        snprintf(reason, sizeof(reason),
                 "this login is locked for %lld s after %lld failed sign-ins in a row",
                 (long long)((wait_ms + 999) / 1000),
                 (long long)app->set->console_signin_lock_after);
        why = "locked";
    } else if (slowed && s->failures >= 2 && app->set->console_signin_delay_ms > 0) {
        int shift = s->failures - 2 > 20 ? 20 : (int)(s->failures - 2);
        int64_t delay = app->set->console_signin_delay_ms << shift;
        if (delay > app->set->console_signin_lock_s * 1000)
            delay = app->set->console_signin_lock_s * 1000;
        if (now < s->last_at + delay) {
            wait_ms = s->last_at + delay - now;
            snprintf(reason, sizeof(reason),
                     "too many failed sign-ins: wait %lld s before trying again",
                     (long long)((wait_ms + 999) / 1000));
            why = "slowed";
        }
    }
    if (!why)
        return false;
    json_t *err = json_pack("{s:i,s:s,s:s}", "status", 429, "field", "login", "reason", reason);
    api_reply(resp, 429,
              json_pack("{s:o,s:s,s:I}", "error", err, "lock", why, "retry_after_ms",
                        (json_int_t)wait_ms));
    char ra[32];
    snprintf(ra, sizeof(ra), "%lld", (long long)((wait_ms + 999) / 1000));
    loa_http_add_header(resp, "Retry-After", ra);
    return true;
}

static char *random_b64(size_t nbytes)
{
    unsigned char raw[64];
    char *out = loa_malloc(B64(sizeof(raw)));
    randombytes_buf(raw, nbytes);
    sodium_bin2base64(out, B64(sizeof(raw)), raw, nbytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
    return out;
}

struct signin {
    struct serve_app *app;
    const char *login;
    bool ok;
    int64_t user_id;
    int64_t now;
    char *token, *csrf;
    struct loa_signin_state state;
};

static int signin_write(struct loa_txn *tx, void *ud)
{
    struct signin *s = ud;
    if (!s->ok)
        return loa_store_signin_failed(tx, s->login, s->now, s->app->set->console_signin_lock_after,
                                       s->app->set->console_signin_lock_s * 1000, &s->state);
    int rc = loa_store_signin_clear(tx, s->login);
    return rc < 0 ? rc : loa_store_session_create(tx, s->user_id, s->token, s->csrf, s->now, NULL);
}

void api_session_create(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    struct serve_app *app = ctx;
    json_t *body = api_body(req, resp);
    if (!body)
        return;
    const char *login = json_string_value(json_object_get(body, "login"));
    const char *password = json_string_value(json_object_get(body, "password"));
    const char *unknown = NULL, *k;
    json_t *v;
    json_object_foreach(body, k, v) {
        if (strcmp(k, "login") != 0 && strcmp(k, "password") != 0)
            unknown = k;
    }
    struct loa_store *st = api_store(app, resp);
    if (!st)
        goto out;
    if (unknown) {
        loa_http_error(resp, 400, unknown, "unknown field (login and password only)");
        goto out;
    }
    if (!login || !*login || strlen(login) > MAX_LOGIN) {
        loa_http_error(resp, 400, "login", "a login is required (1 to %d characters)", MAX_LOGIN);
        goto out;
    }
    if (!password || !*password || strlen(password) > MAX_PASSWORD) {
        loa_http_error(resp, 400, "password", "a password is required");
        goto out;
    }
    int64_t now = loa_now_ms();
    struct signin s = { .app = app, .login = login, .now = now };
    int rc = loa_store_signin_state(st, login, &s.state);
    if (rc < 0) {
        api_fail(resp, rc, NULL, "reading sign-in failures");
        goto out;
    }
    if (refuse_locked(app, &s.state, now, true, resp))
        goto out;
    struct loa_user u;
    char *hash = NULL;
    rc = loa_store_user_get(st, login, &u, &hash);
    if (rc < 0 && rc != LOA_ENOENT) {
        api_fail(resp, rc, NULL, "reading the user");
        goto out;
    }
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, make_dummy);
    const char *check = hash ? hash : dummy;
    s.ok = *check && crypto_pwhash_str_verify(check, password, strlen(password)) == 0 && hash;
    if (s.ok) {
        s.user_id = u.id;
        s.token = random_b64(TOKEN_BYTES);
        s.csrf = random_b64(CSRF_BYTES);
    }
    rc = loa_store_write(st, signin_write, &s);
    if (rc < 0) {
        api_fail(resp, rc, NULL, "recording the sign-in");
    } else if (!s.ok) {
        LOA_INFO("console", "sign-in failed", "failures=%lld locked=%s",
                 (long long)s.state.failures, s.state.locked_until ? "true" : "false");
        if (!refuse_locked(app, &s.state, now, false, resp))
            loa_http_error(resp, 401, "password", "the login or the password is wrong");
    } else {
        LOA_INFO("console", "signed in", "user_id=%lld role=%s", (long long)u.id,
                 loa_user_role_name(u.role));
        set_cookie(app, req, resp, s.token);
        api_reply(resp, 200, whoami_json(&u, s.csrf));
    }
    if (s.token) {
        sodium_memzero(s.token, strlen(s.token));
        loa_free(s.token);
    }
    loa_free(s.csrf);
    if (hash) {
        sodium_memzero(hash, strlen(hash));
        loa_free(hash);
    }
    loa_user_release(&u);
out:
    json_decref(body);
}

/* The request's console user, or NULL with 400 set (an API key has no session). */
static struct serve_user *session_user(const struct loa_http_req *req, struct loa_http_resp *resp)
{
    if (!req->user)
        loa_http_error(resp, 400, "Authorization",
                       "this is about a console session (the loa_session cookie); an API key "
                       "has none");
    return req->user;
}

void api_session_get(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    (void)ctx;
    struct serve_user *u = session_user(req, resp);
    if (u)
        api_reply(resp, 200, whoami_json(&u->u, u->s.csrf));
}

static int end_one(struct loa_txn *tx, void *ud)
{
    const char *const *token = ud;
    return loa_store_session_delete(tx, *token);
}

struct end_all {
    int64_t user_id, n;
};

static int end_all(struct loa_txn *tx, void *ud)
{
    struct end_all *e = ud;
    return loa_store_session_delete_user(tx, e->user_id, &e->n);
}

void api_session_delete(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    struct serve_app *app = ctx;
    struct serve_user *u = session_user(req, resp);
    struct loa_store *st = u ? api_store(app, resp) : NULL;
    if (!st)
        return;
    const char *token = loa_http_cookie(req, COOKIE);
    int rc = loa_store_write(st, end_one, &token);
    if (rc < 0) {
        api_fail(resp, rc, NULL, "ending the session");
        return;
    }
    set_cookie(app, req, resp, NULL);
    resp->status = 204;
}

void api_session_everywhere(void *ctx, const struct loa_http_req *req, struct loa_http_resp *resp)
{
    struct serve_app *app = ctx;
    struct serve_user *u = session_user(req, resp);
    struct loa_store *st = u ? api_store(app, resp) : NULL;
    if (!st)
        return;
    struct end_all e = { .user_id = u->u.id };
    int rc = loa_store_write(st, end_all, &e);
    if (rc < 0) {
        api_fail(resp, rc, NULL, "ending the sessions");
        return;
    }
    LOA_INFO("console", "signed out everywhere", "user_id=%lld sessions=%lld", (long long)u->u.id,
             (long long)e.n);
    set_cookie(app, req, resp, NULL);
    api_reply(resp, 200, json_pack("{s:I}", "ended", (json_int_t)e.n));
}
