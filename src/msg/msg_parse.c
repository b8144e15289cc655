/* SPDX-License-Identifier: MIT */
/*
 * Parsing and validation of composed messages, and their compilation for the encoder.
 *
 * One walk over the jansson tree does both jobs: each field is checked (every problem becomes
 * a complaint with its JSON path; the walk never stops at the first one) and, in the same
 * order, written as literal JSON or as a template op into the block being compiled. When any
 * complaint was made the compiled result is thrown away. jansson stays inside this file.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include <loa/alloc.h>
#include <loa/err.h>
#include <loa/msg.h>
#include <loa/utf8.h>

#include "msg_int.h"

/* Bytes that stand for an invalid UTF-8 byte of the input (U+FFFF, a noncharacter), so that
 * jansson accepts the text and the walk can name the field that held it. */
#define BAD_UTF8_MARK     "\xEF\xBF\xBF"
#define URL_MAX_CHARS     2048
#define ATTR_NAME_MAX     64
#define ATTACHMENT_ID_MAX 128
#define COMPILED_MAX      ((size_t)16 << 20)
#define SHOW_MAX          40 /* characters of user text quoted in a reason */

/* ---- JSON paths ------------------------------------------------------------------------- */

struct path {
    char s[512];
    size_t len;
};

static size_t path_add(struct path *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static size_t path_add(struct path *p, const char *fmt, ...)
{
    size_t old = p->len;
    if (p->len < sizeof(p->s) - 1) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(p->s + p->len, sizeof(p->s) - p->len, fmt, ap);
        va_end(ap);
        if (n > 0)
            p->len += (size_t)n < sizeof(p->s) - p->len ? (size_t)n : sizeof(p->s) - 1 - p->len;
    }
    return old;
}

/* Appends ".key" (or "key" at the root); key is shown at most SHOW_MAX characters long. */
static size_t path_key(struct path *p, const char *key)
{
    size_t klen = strlen(key);
    size_t cut = loa_utf8_prefix(key, klen, SHOW_MAX);
    return path_add(p, "%s%.*s%s", p->len ? "." : "", (int)cut, key, cut < klen ? "..." : "");
}

static size_t path_index(struct path *p, size_t i)
{
    return path_add(p, "[%zu]", i);
}

static void path_pop(struct path *p, size_t old)
{
    p->len = old;
    p->s[old] = '\0';
}

/* ---- compile writer --------------------------------------------------------------------- */

struct cw {
    struct loa_buf lit; /* literal JSON not yet turned into an op */
    struct msg_op *ops; /* ops so far */
    size_t nops;
    size_t cap;
    int rc; /* first error (LOA_ETOOBIG) */
};

static void cw_init(struct cw *w)
{
    loa_buf_init(&w->lit, COMPILED_MAX);
    w->ops = NULL;
    w->nops = 0;
    w->cap = 0;
    w->rc = 0;
}

static void ops_free(struct msg_op *ops, size_t n)
{
    for (size_t i = 0; i < n; i++)
        loa_free(ops[i].lit);
    loa_free(ops);
}

static void cw_release(struct cw *w)
{
    loa_buf_release(&w->lit);
    ops_free(w->ops, w->nops);
    w->ops = NULL;
    w->nops = 0;
}

static void cw_push(struct cw *w, struct msg_op op)
{
    if (w->nops == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 4;
        w->ops = loa_reallocarray(w->ops, w->cap, sizeof(*w->ops));
    }
    w->ops[w->nops++] = op;
}

static void cw_flush(struct cw *w)
{
    if (w->lit.len == 0)
        return;
    size_t len = w->lit.len;
    cw_push(w, (struct msg_op){ .lit = loa_buf_detach(&w->lit), .len = len, .tmpl = NULL });
}

static void cw_raw(struct cw *w, const char *json)
{
    int rc = loa_buf_puts(&w->lit, json);
    if (rc < 0 && !w->rc)
        w->rc = rc;
}

/* Writes a JSON string; s must be valid UTF-8. */
static void cw_str(struct cw *w, const char *s, size_t len)
{
    cw_raw(w, "\"");
    int rc = loa__msg_json_escape(&w->lit, s, len);
    if (rc < 0 && !w->rc)
        w->rc = rc;
    cw_raw(w, "\"");
}

/* Writes a personalised field; a template without variables is written as a plain string. */
static void cw_tmpl(struct cw *w, const struct msg_tmpl *t)
{
    if (t->nsegs == 0) {
        cw_str(w, "", 0);
    } else if (t->nsegs == 1 && t->segs[0].kind == MSG_SEG_LIT) {
        cw_str(w, t->segs[0].text.raw, t->segs[0].text.len);
    } else {
        cw_flush(w);
        cw_push(w, (struct msg_op){ .lit = NULL, .len = 0, .tmpl = t });
    }
}

/* ---- parse context ---------------------------------------------------------------------- */

struct pctx {
    struct loa_msg *m;
    const struct loa_limits *lim;
    struct loa_diags *d;
    size_t complaints; /* made by this parse (d may have a limit) */
    bool marked;       /* invalid UTF-8 bytes were replaced by BAD_UTF8_MARK */
    size_t untyped;    /* blocks whose type is missing or unknown */
    struct path path;
};

/* Complains at the current path, or at its field key when key is not NULL. */
static void complain_v(struct pctx *c, const char *key, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static void complain_v(struct pctx *c, const char *key, const char *fmt, va_list ap)
{
    char reason[512];
    vsnprintf(reason, sizeof(reason), fmt, ap);
    size_t old = key ? path_key(&c->path, key) : c->path.len;
    loa_diags_add(c->d, 0, 0, c->path.s, "%s", reason);
    if (key)
        path_pop(&c->path, old);
    c->complaints++;
}

static void complain(struct pctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void complain(struct pctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    complain_v(c, NULL, fmt, ap);
    va_end(ap);
}

/* Complains about field key of the current object. */
static void complain_at(struct pctx *c, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void complain_at(struct pctx *c, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    complain_v(c, key, fmt, ap);
    va_end(ap);
}

static const char *json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "a value";
}

/* Complains about every key of obj that is not in allowed (a NULL-terminated list). */
static void check_fields(struct pctx *c, json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, key) == 0;
        if (!ok)
            complain_at(c, key, "unknown field");
    }
}

/* A string field: *s and *len are set when it is present and a clean string.
 * Returns 1 (present and usable), 0 (absent; a complaint when required) or -1 (bad). */
static int get_string(struct pctx *c, json_t *obj, const char *key, bool required, const char **s,
                      size_t *len)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required)
            complain_at(c, key, "is required");
        return 0;
    }
    if (!json_is_string(v)) {
        complain_at(c, key, "must be a string, not %s", json_type_name(v));
        return -1;
    }
    *s = json_string_value(v);
    *len = json_string_length(v);
    if (strlen(*s) != *len) {
        complain_at(c, key, "must not contain NUL characters");
        return -1;
    }
    if (c->marked && memmem(*s, *len, BAD_UTF8_MARK, 3)) {
        complain_at(c, key, "contains invalid UTF-8");
        return -1;
    }
    return 1;
}

/* Checks the length of text in characters. Returns true when it is within 1..max (0..max when
 * allow_empty). */
static bool check_chars(struct pctx *c, const char *key, const char *s, size_t len, size_t max,
                        bool allow_empty)
{
    size_t n = loa_utf8_count(s, len);
    if (n == 0 && !allow_empty) {
        complain_at(c, key, "must not be empty");
        return false;
    }
    if (n > max) {
        complain_at(c, key, "has %zu characters; at most %zu allowed", n, max);
        return false;
    }
    return true;
}

static bool is_http_url(const char *s, size_t len)
{
    size_t skip;
    if (len >= 7 && strncasecmp(s, "http://", 7) == 0)
        skip = 7;
    else if (len >= 8 && strncasecmp(s, "https://", 8) == 0)
        skip = 8;
    else
        return false;
    if (skip == len || s[skip] == '/' || s[skip] == '?' || s[skip] == '#' || s[skip] == ':')
        return false; /* no host */
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= 0x20 || ch == 0x7F)
            return false;
    }
    return true;
}

/* A required or optional URL field; writes ,"out_key":"url" (or "out_key":"url" when first).
 * Returns true when present and valid. */
static bool url_field(struct pctx *c, json_t *obj, const char *key, bool required,
                      const char **s_out, size_t *len_out)
{
    const char *s;
    size_t len;
    if (get_string(c, obj, key, required, &s, &len) != 1)
        return false;
    if (!check_chars(c, key, s, len, URL_MAX_CHARS, false))
        return false;
    if (!is_http_url(s, len)) {
        complain_at(c, key, "must be an http or https URL");
        return false;
    }
    *s_out = s;
    *len_out = len;
    return true;
}

/* A plain (not personalised) text field checked for length; titles also refuse variables,
 * which would otherwise be sent as written. */
static bool text_field(struct pctx *c, json_t *obj, const char *key, bool required, size_t max,
                       bool no_vars, const char **s_out, size_t *len_out)
{
    const char *s;
    size_t len;
    if (get_string(c, obj, key, required, &s, &len) != 1)
        return false;
    if (!check_chars(c, key, s, len, max, false))
        return false;
    if (no_vars) {
        const char *open = memmem(s, len, "{{", 2);
        if (open && memmem(open, len - (size_t)(open - s), "}}", 2)) {
            complain_at(c, key, "variables such as {{first_name}} are not supported here");
            return false;
        }
    }
    *s_out = s;
    *len_out = len;
    return true;
}

static bool is_attr_name(const char *s, size_t len)
{
    if (len == 0 || len > ATTR_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_'))
            return false;
    }
    return true;
}

/* ---- templates -------------------------------------------------------------------------- */

static void piece_init(struct msg_piece *p, const char *s, size_t len)
{
    p->raw = loa_strndup(s, len);
    p->len = len;
    p->chars = loa_utf8_count(s, len);
    struct loa_buf b;
    loa_buf_init(&b, SIZE_MAX / 2);
    (void)loa__msg_json_escape(&b, s, len); /* cannot reach the cap */
    p->esc_len = b.len;
    p->esc = loa_buf_detach(&b);
}

static void piece_release(struct msg_piece *p)
{
    LOA_FREE(p->raw);
    LOA_FREE(p->esc);
}

static void tmpl_free(struct msg_tmpl *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nsegs; i++) {
        if (t->segs[i].kind == MSG_SEG_LIT || t->segs[i].has_fallback)
            piece_release(&t->segs[i].text);
        loa_free(t->segs[i].name);
    }
    loa_free(t->segs);
    loa_free(t);
}

static struct msg_seg *tmpl_add(struct msg_tmpl *t, size_t *cap)
{
    if (t->nsegs == *cap) {
        *cap = *cap ? *cap * 2 : 4;
        t->segs = loa_reallocarray(t->segs, *cap, sizeof(*t->segs));
    }
    struct msg_seg *sg = &t->segs[t->nsegs++];
    memset(sg, 0, sizeof(*sg));
    return sg;
}

static void add_var(struct loa_msg *m, const char *name, size_t len)
{
    for (size_t i = 0; i < m->nvars; i++)
        if (strlen(m->vars[i]) == len && memcmp(m->vars[i], name, len) == 0)
            return;
    m->vars = loa_reallocarray(m->vars, m->nvars + 1, sizeof(*m->vars));
    m->vars[m->nvars++] = loa_strndup(name, len);
}

static void trim(const char **s, size_t *len)
{
    while (*len && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*len)--;
    }
    while (*len && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
        (*len)--;
}

/*
 * Splits s into literal and variable segments. Complains (at field key) about unknown
 * variables, unclosed "{{" and a text that could render empty. Returns the template (owned by
 * the message) even when there were complaints, or NULL when the text was not usable at all.
 */
static const struct msg_tmpl *parse_tmpl(struct pctx *c, const char *key, const char *s, size_t len,
                                         size_t limit)
{
    struct msg_tmpl *t = loa_calloc(1, sizeof(*t));
    size_t cap = 0, before = c->complaints;
    t->limit = limit;
    bool never_empty = false; /* some literal or fallback is non-empty */
    size_t lit = 0, i = 0;
    while (i + 1 < len) {
        if (s[i] != '{' || s[i + 1] != '{') {
            i++;
            continue;
        }
        const char *close = memmem(s + i + 2, len - i - 2, "}}", 2);
        if (!close) {
            complain_at(c, key, "\"{{\" at character %zu is never closed with \"}}\"",
                        loa_utf8_count(s, i) + 1);
            break;
        }
        const char *inner = s + i + 2;
        size_t inner_len = (size_t)(close - inner);
        const char *bar = memchr(inner, '|', inner_len);
        const char *name = inner;
        size_t name_len = bar ? (size_t)(bar - inner) : inner_len;
        trim(&name, &name_len);

        enum msg_seg_kind kind = MSG_SEG_LIT;
        if (name_len == 10 && memcmp(name, "first_name", 10) == 0)
            kind = MSG_SEG_FIRST;
        else if (name_len == 9 && memcmp(name, "last_name", 9) == 0)
            kind = MSG_SEG_LAST;
        else if (name_len == 9 && memcmp(name, "full_name", 9) == 0)
            kind = MSG_SEG_FULL;
        else if (name_len > 5 && memcmp(name, "attr.", 5) == 0 &&
                 is_attr_name(name + 5, name_len - 5))
            kind = MSG_SEG_ATTR;
        if (kind == MSG_SEG_LIT) {
            size_t cut = loa_utf8_prefix(inner, inner_len, SHOW_MAX);
            complain_at(c, key,
                        "unknown variable {{%.*s%s}}; use first_name, last_name, full_name or "
                        "attr.NAME",
                        (int)cut, inner, cut < inner_len ? "..." : "");
        } else {
            if (i > lit) {
                struct msg_seg *sg = tmpl_add(t, &cap);
                sg->kind = MSG_SEG_LIT;
                piece_init(&sg->text, s + lit, i - lit);
                never_empty = true;
            }
            struct msg_seg *sg = tmpl_add(t, &cap);
            sg->kind = kind;
            if (kind == MSG_SEG_ATTR)
                sg->name = loa_strndup(name + 5, name_len - 5);
            if (bar) {
                sg->has_fallback = true;
                piece_init(&sg->text, bar + 1, (size_t)(close - bar - 1));
                never_empty |= sg->text.len > 0;
            }
            add_var(c->m, name, name_len);
            lit = (size_t)(close + 2 - s);
        }
        i = (size_t)(close + 2 - s);
    }
    if (len > lit) {
        struct msg_seg *sg = tmpl_add(t, &cap);
        sg->kind = MSG_SEG_LIT;
        piece_init(&sg->text, s + lit, len - lit);
        never_empty = true;
    }
    if (!never_empty && len > 0 && c->complaints == before)
        complain_at(c, key,
                    "could be sent empty: add text around the variables or give one a fallback "
                    "such as {{first_name|bạn}}");

    struct loa_msg *m = c->m;
    m->tmpls = loa_reallocarray(m->tmpls, m->ntmpls + 1, sizeof(*m->tmpls));
    m->tmpls[m->ntmpls++] = t;
    return t;
}

/* A personalised text field: checked as written against max, then split. Returns NULL when
 * absent or unusable. */
static const struct msg_tmpl *tmpl_field(struct pctx *c, json_t *obj, const char *key,
                                         bool required, size_t max)
{
    const char *s;
    size_t len;
    if (get_string(c, obj, key, required, &s, &len) != 1)
        return NULL;
    check_chars(c, key, s, len, max, false);
    return parse_tmpl(c, key, s, len, max);
}

/* ---- arrays ----------------------------------------------------------------------------- */

/* An array field with 1..max items (a complaint otherwise). Returns it, or NULL when absent
 * or not an array. */
static json_t *array_field(struct pctx *c, json_t *obj, const char *key, bool required, size_t max,
                           const char *one, const char *many)
{
    json_t *a = json_object_get(obj, key);
    if (!a) {
        if (required)
            complain_at(c, key, "is required");
        return NULL;
    }
    if (!json_is_array(a)) {
        complain_at(c, key, "must be an array, not %s", json_type_name(a));
        return NULL;
    }
    size_t n = json_array_size(a);
    if (n == 0)
        complain_at(c, key, "must hold at least one %s", one);
    else if (n > max)
        complain_at(c, key, "has %zu %s; at most %zu allowed", n, many, max);
    return a;
}

/* Writes each item of array a (field key of the current object) with fn, comma-separated. */
static void each_item(struct pctx *c, json_t *a, const char *key, struct cw *w,
                      void (*fn)(struct pctx *c, json_t *item, struct cw *w))
{
    size_t old = path_key(&c->path, key);
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        size_t o = path_index(&c->path, i);
        if (i)
            cw_raw(w, ",");
        fn(c, v, w);
        path_pop(&c->path, o);
    }
    path_pop(&c->path, old);
}

/* ---- buttons and quick replies ---------------------------------------------------------- */

static void parse_button(struct pctx *c, json_t *b, struct cw *w)
{
    if (!json_is_object(b)) {
        complain(c, "must be an object, not %s", json_type_name(b));
        return;
    }
    const struct loa_limits *lim = c->lim;
    const char *type, *title = NULL, *s = NULL;
    size_t type_len, title_len = 0, s_len = 0;
    if (get_string(c, b, "type", true, &type, &type_len) != 1)
        return;
    bool web = strcmp(type, "web_url") == 0, postback = strcmp(type, "postback") == 0;
    if (!web && !postback && strcmp(type, "phone_number") != 0) {
        size_t cut = loa_utf8_prefix(type, type_len, SHOW_MAX);
        complain_at(c, "type",
                    "unknown button type \"%.*s\"; use web_url, postback or phone_number", (int)cut,
                    type);
        return;
    }
    static const char *const url_fields[] = { "type", "title", "url", NULL };
    static const char *const payload_fields[] = { "type", "title", "payload", NULL };
    check_fields(c, b, web ? url_fields : payload_fields);
    text_field(c, b, "title", true, lim->button_title_chars, true, &title, &title_len);
    if (web) {
        url_field(c, b, "url", true, &s, &s_len);
    } else if (postback) {
        text_field(c, b, "payload", true, lim->payload_chars, false, &s, &s_len);
    } else if (get_string(c, b, "payload", true, &s, &s_len) == 1) {
        bool ok = s_len >= 7 && s_len <= 16 && s[0] == '+';
        for (size_t i = 1; ok && i < s_len; i++)
            ok = s[i] >= '0' && s[i] <= '9';
        if (!ok)
            complain_at(c, "payload",
                        "must be a phone number in international form, \"+\" and 6 to 15 "
                        "digits, such as +84912345678");
    }
    /* type is one of the three names above: plain ASCII, written as it is */
    cw_raw(w, "{\"type\":\"");
    cw_raw(w, type);
    cw_raw(w, web ? "\",\"url\":" : "\",\"payload\":");
    cw_str(w, s, s_len);
    cw_raw(w, ",\"title\":");
    cw_str(w, title, title_len);
    cw_raw(w, "}");
}

/* Writes ,"buttons":[...] when the field is present. */
static void parse_buttons(struct pctx *c, json_t *obj, bool required, struct cw *w)
{
    json_t *a = array_field(c, obj, "buttons", required, c->lim->buttons, "button", "buttons");
    if (!a)
        return;
    cw_raw(w, ",\"buttons\":[");
    each_item(c, a, "buttons", w, parse_button);
    cw_raw(w, "]");
}

static void parse_quick_reply(struct pctx *c, json_t *q, struct cw *w)
{
    if (!json_is_object(q)) {
        complain(c, "must be an object, not %s", json_type_name(q));
        return;
    }
    const char *type, *title = NULL, *payload = NULL, *img = NULL;
    size_t type_len, title_len = 0, payload_len = 0, img_len = 0;
    if (get_string(c, q, "content_type", true, &type, &type_len) != 1)
        return;
    if (strcmp(type, "text") == 0) {
        static const char *const fields[] = { "content_type", "title", "payload", "image_url",
                                              NULL };
        check_fields(c, q, fields);
        text_field(c, q, "title", true, c->lim->quick_reply_title, true, &title, &title_len);
        text_field(c, q, "payload", true, c->lim->payload_chars, false, &payload, &payload_len);
        bool has_img = url_field(c, q, "image_url", false, &img, &img_len);
        cw_raw(w, "{\"content_type\":\"text\",\"title\":");
        cw_str(w, title, title_len);
        cw_raw(w, ",\"payload\":");
        cw_str(w, payload, payload_len);
        if (has_img) {
            cw_raw(w, ",\"image_url\":");
            cw_str(w, img, img_len);
        }
        cw_raw(w, "}");
    } else if (strcmp(type, "user_phone_number") == 0 || strcmp(type, "user_email") == 0) {
        static const char *const fields[] = { "content_type", NULL };
        check_fields(c, q, fields);
        cw_raw(w, "{\"content_type\":");
        cw_str(w, type, type_len);
        cw_raw(w, "}");
    } else {
        size_t cut = loa_utf8_prefix(type, type_len, SHOW_MAX);
        complain_at(c, "content_type",
                    "unknown quick reply type \"%.*s\"; use text, user_phone_number or "
                    "user_email",
                    (int)cut, type);
    }
}

/* Writes ,"quick_replies":[...] when present. Returns true when present. */
static bool parse_quick_replies(struct pctx *c, json_t *obj, struct cw *w)
{
    json_t *a = array_field(c, obj, "quick_replies", false, c->lim->quick_replies, "quick reply",
                            "quick replies");
    if (!a)
        return false;
    cw_raw(w, ",\"quick_replies\":[");
    each_item(c, a, "quick_replies", w, parse_quick_reply);
    cw_raw(w, "]");
    return true;
}

/* ---- blocks ----------------------------------------------------------------------------- */

static const char *const block_names[] = {
    [LOA_MSG_TEXT] = "text",       [LOA_MSG_IMAGE] = "image",
    [LOA_MSG_VIDEO] = "video",     [LOA_MSG_AUDIO] = "audio",
    [LOA_MSG_FILE] = "file",       [LOA_MSG_CARDS] = "cards",
    [LOA_MSG_BUTTONS] = "buttons", [LOA_MSG_WAIT_REPLY] = "wait_reply",
};

static const char *const reply_names[] = {
    [LOA_MSG_REPLY_TEXT] = "text",
    [LOA_MSG_REPLY_PHONE] = "phone",
    [LOA_MSG_REPLY_EMAIL] = "email",
    [LOA_MSG_REPLY_NUMBER] = "number",
};

const char *loa_msg_block_type_name(enum loa_msg_block_type t)
{
    return (size_t)t < sizeof(block_names) / sizeof(*block_names) ? block_names[t] : "unknown";
}

const char *loa_msg_reply_kind_name(enum loa_msg_reply_kind k)
{
    return (size_t)k < sizeof(reply_names) / sizeof(*reply_names) ? reply_names[k] : "unknown";
}

static const struct msg_tmpl *parse_text(struct pctx *c, json_t *b, struct cw *w, bool *qr)
{
    static const char *const fields[] = { "type", "text", "quick_replies", NULL };
    check_fields(c, b, fields);
    const struct msg_tmpl *t = tmpl_field(c, b, "text", true, c->lim->text_chars);
    cw_raw(w, "{\"text\":");
    if (t)
        cw_tmpl(w, t);
    *qr = parse_quick_replies(c, b, w);
    return t;
}

static void parse_media(struct pctx *c, json_t *b, enum loa_msg_block_type type, struct cw *w,
                        bool *qr)
{
    static const char *const with_qr[] = { "type",     "url",           "attachment_id",
                                           "reusable", "quick_replies", NULL };
    bool qr_ok = type == LOA_MSG_IMAGE;
    check_fields(c, b, with_qr);
    if (!qr_ok && json_object_get(b, "quick_replies"))
        complain_at(c, "quick_replies", "quick replies are not allowed on %s blocks",
                    block_names[type]);

    json_t *url = json_object_get(b, "url");
    json_t *id = json_object_get(b, "attachment_id");
    json_t *reusable = json_object_get(b, "reusable");
    if (reusable && !json_is_boolean(reusable))
        complain_at(c, "reusable", "must be true or false, not %s", json_type_name(reusable));

    cw_raw(w, "{\"attachment\":{\"type\":\"");
    cw_raw(w, block_names[type]);
    cw_raw(w, "\",\"payload\":{");
    const char *s = NULL;
    size_t len = 0;
    if (url && id) {
        complain(c, "give either url or attachment_id, not both");
    } else if (id) {
        if (get_string(c, b, "attachment_id", true, &s, &len) == 1 &&
            check_chars(c, "attachment_id", s, len, ATTACHMENT_ID_MAX, false)) {
            if (memchr(s, ' ', len))
                complain_at(c, "attachment_id", "must not contain spaces");
        }
        if (reusable)
            complain_at(c, "reusable", "applies only to a url (an attachment_id is reusable)");
        cw_raw(w, "\"attachment_id\":");
        cw_str(w, s, len);
    } else if (url) {
        url_field(c, b, "url", true, &s, &len);
        cw_raw(w, "\"url\":");
        cw_str(w, s, len);
        if (json_is_true(reusable))
            cw_raw(w, ",\"is_reusable\":true");
    } else {
        complain_at(c, "url", "is required (or give an attachment_id)");
    }
    cw_raw(w, "}}");
    *qr = qr_ok && parse_quick_replies(c, b, w);
}

static void parse_element(struct pctx *c, json_t *e, struct cw *w)
{
    if (!json_is_object(e)) {
        complain(c, "must be an object, not %s", json_type_name(e));
        return;
    }
    static const char *const fields[] = { "title",          "subtitle", "image_url",
                                          "default_action", "buttons",  NULL };
    check_fields(c, e, fields);
    const struct loa_limits *lim = c->lim;
    const struct msg_tmpl *title = tmpl_field(c, e, "title", true, lim->element_title_chars);
    cw_raw(w, "{\"title\":");
    if (title)
        cw_tmpl(w, title);
    bool other = false;
    if (json_object_get(e, "subtitle")) {
        other = true;
        const struct msg_tmpl *sub =
            tmpl_field(c, e, "subtitle", false, lim->element_subtitle_chars);
        cw_raw(w, ",\"subtitle\":");
        if (sub)
            cw_tmpl(w, sub);
    }
    const char *s;
    size_t len;
    if (json_object_get(e, "image_url")) {
        other = true;
        if (url_field(c, e, "image_url", false, &s, &len)) {
            cw_raw(w, ",\"image_url\":");
            cw_str(w, s, len);
        }
    }
    json_t *da = json_object_get(e, "default_action");
    if (da) {
        other = true;
        size_t old = path_key(&c->path, "default_action");
        if (!json_is_object(da)) {
            complain(c, "must be an object, not %s", json_type_name(da));
        } else {
            static const char *const da_fields[] = { "url", NULL };
            check_fields(c, da, da_fields);
            if (url_field(c, da, "url", true, &s, &len)) {
                cw_raw(w, ",\"default_action\":{\"type\":\"web_url\",\"url\":");
                cw_str(w, s, len);
                cw_raw(w, "}");
            }
        }
        path_pop(&c->path, old);
    }
    if (json_object_get(e, "buttons")) {
        other = true;
        parse_buttons(c, e, false, w);
    }
    if (!other)
        complain(c, "needs a subtitle, image_url, default_action or buttons besides the title");
    cw_raw(w, "}");
}

static void parse_cards(struct pctx *c, json_t *b, struct cw *w, bool *qr)
{
    static const char *const fields[] = { "type", "elements", "image_aspect_ratio", "quick_replies",
                                          NULL };
    check_fields(c, b, fields);
    cw_raw(w, "{\"attachment\":{\"type\":\"template\",\"payload\":{\"template_type\":\"generic\"");
    const char *ratio;
    size_t ratio_len;
    if (get_string(c, b, "image_aspect_ratio", false, &ratio, &ratio_len) == 1) {
        if (strcmp(ratio, "horizontal") == 0 || strcmp(ratio, "square") == 0) {
            cw_raw(w, ",\"image_aspect_ratio\":");
            cw_str(w, ratio, ratio_len);
        } else {
            complain_at(c, "image_aspect_ratio", "must be \"horizontal\" or \"square\"");
        }
    }
    cw_raw(w, ",\"elements\":[");
    json_t *a =
        array_field(c, b, "elements", true, c->lim->generic_elements, "element", "elements");
    if (a)
        each_item(c, a, "elements", w, parse_element);
    cw_raw(w, "]}}");
    *qr = parse_quick_replies(c, b, w);
}

static void parse_button_block(struct pctx *c, json_t *b, struct cw *w, bool *qr)
{
    static const char *const fields[] = { "type", "text", "buttons", "quick_replies", NULL };
    check_fields(c, b, fields);
    const struct msg_tmpl *t = tmpl_field(c, b, "text", true, c->lim->button_text_chars);
    cw_raw(w, "{\"attachment\":{\"type\":\"template\",\"payload\":{\"template_type\":\"button\","
              "\"text\":");
    if (t)
        cw_tmpl(w, t);
    parse_buttons(c, b, true, w);
    cw_raw(w, "}}");
    *qr = parse_quick_replies(c, b, w);
}

static void parse_wait(struct pctx *c, json_t *b)
{
    static const char *const fields[] = { "type", "attribute", "kind", "prompt_retry", NULL };
    check_fields(c, b, fields);
    struct loa_msg *m = c->m;
    if (m->has_wait) {
        complain(c, "a message may hold only one wait_reply block");
        return;
    }
    m->has_wait = true;
    m->wait.after = m->nsendable;
    const char *s;
    size_t len;
    if (get_string(c, b, "attribute", true, &s, &len) == 1) {
        if (!is_attr_name(s, len))
            complain_at(c, "attribute",
                        "must be an attribute name: 1 to %d letters, digits or \"_\"",
                        ATTR_NAME_MAX);
        else
            m->wait_attr = loa_strndup(s, len);
    }
    if (get_string(c, b, "kind", true, &s, &len) == 1) {
        bool found = false;
        for (size_t k = 0; k < sizeof(reply_names) / sizeof(*reply_names); k++) {
            if (strcmp(s, reply_names[k]) == 0) {
                m->wait.kind = (enum loa_msg_reply_kind)k;
                found = true;
            }
        }
        if (!found)
            complain_at(c, "kind", "must be \"phone\", \"email\", \"text\" or \"number\"");
    }
    if (text_field(c, b, "prompt_retry", false, c->lim->text_chars, false, &s, &len))
        m->wait_prompt = loa_strndup(s, len);
}

static void parse_block(struct pctx *c, json_t *b)
{
    if (!json_is_object(b)) {
        complain(c, "must be an object, not %s", json_type_name(b));
        c->untyped++;
        return;
    }
    const char *type;
    size_t type_len;
    if (get_string(c, b, "type", true, &type, &type_len) != 1) {
        c->untyped++;
        return;
    }
    size_t t = 0, nt = sizeof(block_names) / sizeof(*block_names);
    while (t < nt && strcmp(type, block_names[t]) != 0)
        t++;
    if (t == nt) {
        size_t cut = loa_utf8_prefix(type, type_len, SHOW_MAX);
        complain_at(c, "type",
                    "unknown block type \"%.*s\"; use text, image, video, audio, file, cards, "
                    "buttons or wait_reply",
                    (int)cut, type);
        c->untyped++;
        return;
    }
    enum loa_msg_block_type bt = (enum loa_msg_block_type)t;
    if (bt == LOA_MSG_WAIT_REPLY) {
        parse_wait(c, b);
        return;
    }
    struct cw w;
    cw_init(&w);
    bool qr = false;
    const struct msg_tmpl *text = NULL;
    switch (bt) {
    case LOA_MSG_TEXT:
        text = parse_text(c, b, &w, &qr);
        break;
    case LOA_MSG_IMAGE:
    case LOA_MSG_VIDEO:
    case LOA_MSG_AUDIO:
    case LOA_MSG_FILE:
        parse_media(c, b, bt, &w, &qr);
        break;
    case LOA_MSG_CARDS:
        parse_cards(c, b, &w, &qr);
        break;
    case LOA_MSG_BUTTONS:
        parse_button_block(c, b, &w, &qr);
        break;
    case LOA_MSG_WAIT_REPLY:
        break;
    }
    cw_flush(&w);
    if (w.rc < 0)
        complain(c, "is too large to send");
    struct loa_msg *m = c->m;
    m->blocks = loa_reallocarray(m->blocks, m->nsendable + 1, sizeof(*m->blocks));
    m->blocks[m->nsendable++] = (struct msg_block){
        .type = bt, .has_quick_replies = qr, .text = text, .ops = w.ops, .nops = w.nops
    };
    w.ops = NULL;
    w.nops = 0;
    cw_release(&w);
}

static void parse_root(struct pctx *c, json_t *root)
{
    if (!json_is_object(root)) {
        complain(c, "a message must be an object such as {\"blocks\":[...]}, not %s",
                 json_type_name(root));
        return;
    }
    static const char *const fields[] = { "blocks", NULL };
    check_fields(c, root, fields);
    json_t *blocks = array_field(c, root, "blocks", true, LOA_MSG_MAX_BLOCKS, "block", "blocks");
    if (!blocks)
        return;
    c->m->nblocks = json_array_size(blocks);
    size_t old = path_key(&c->path, "blocks");
    size_t i;
    json_t *b;
    json_array_foreach(blocks, i, b) {
        size_t o = path_index(&c->path, i);
        parse_block(c, b);
        path_pop(&c->path, o);
    }
    path_pop(&c->path, old);
    if (c->m->nblocks > 0 && c->m->nsendable == 0 && c->untyped == 0)
        complain_at(c, "blocks", "must hold at least one block that is sent, not only wait_reply");
}

/* ---- invalid UTF-8 ---------------------------------------------------------------------- */

/* Length of the well-formed sequence at s[i], or 0. */
static size_t utf8_seq(const char *s, size_t i, size_t len)
{
    unsigned char ch = (unsigned char)s[i];
    size_t n = ch < 0x80 ? 1 : ch < 0xE0 ? 2 : ch < 0xF0 ? 3 : 4;
    if (n > len - i || !loa_utf8_valid(s + i, n))
        return 0;
    return n;
}

/* Line and column (1-based, in characters) of byte offset off. */
static void position(const char *s, size_t off, long *line, long *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off; i++) {
        if (s[i] == '\n') {
            (*line)++;
            *col = 1;
        } else if (((unsigned char)s[i] & 0xC0) != 0x80) {
            (*col)++;
        }
    }
}

/*
 * When json holds invalid UTF-8, returns a copy in which each bad byte is BAD_UTF8_MARK (so
 * the walk can name the field). When the input already holds the mark, which would make that
 * ambiguous, complains with the position of the first bad byte and sets *fail.
 */
static char *mark_bad_utf8(struct pctx *c, const char *json, size_t len, size_t *out_len,
                           bool *fail)
{
    *fail = false;
    if (loa_utf8_valid(json, len))
        return NULL;
    struct loa_buf b;
    loa_buf_init(&b, SIZE_MAX / 2);
    size_t first_bad = SIZE_MAX;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq(json, i, len);
        if (n) {
            (void)loa_buf_append(&b, json + i, n);
            i += n;
        } else {
            if (first_bad == SIZE_MAX)
                first_bad = i;
            (void)loa_buf_append(&b, BAD_UTF8_MARK, 3);
            i++;
        }
    }
    if (memmem(json, len, BAD_UTF8_MARK, 3)) {
        long line, col;
        position(json, first_bad, &line, &col);
        loa_diags_add(c->d, line, col, "", "invalid UTF-8 (byte 0x%02x)",
                      (unsigned)(unsigned char)json[first_bad]);
        c->complaints++;
        loa_buf_release(&b);
        *fail = true;
        return NULL;
    }
    *out_len = b.len;
    return loa_buf_detach(&b);
}

/* ---- public ----------------------------------------------------------------------------- */

void loa_msg_free(struct loa_msg *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nsendable; i++)
        ops_free(m->blocks[i].ops, m->blocks[i].nops);
    loa_free(m->blocks);
    for (size_t i = 0; i < m->ntmpls; i++)
        tmpl_free(m->tmpls[i]);
    loa_free(m->tmpls);
    for (size_t i = 0; i < m->nvars; i++)
        loa_free(m->vars[i]);
    loa_free(m->vars);
    loa_free(m->wait_attr);
    loa_free(m->wait_prompt);
    loa_free(m);
}

int loa_msg_parse(const char *json, size_t len, const struct loa_limits *limits,
                  struct loa_diags *diags, struct loa_msg **out)
{
    int rc = 0;
    struct loa_diags own;
    struct loa_limits defaults = loa_limits_default();
    json_t *root = NULL;
    char *marked = NULL;
    struct loa_msg *m = loa_calloc(1, sizeof(*m));
    m->limits = limits ? *limits : defaults;
    struct pctx c = { .m = m, .lim = &m->limits, .d = diags, .path = { .s = "", .len = 0 } };
    *out = NULL;
    if (!diags) {
        loa_diags_init(&own, 1);
        c.d = &own;
    }
    if (!json) {
        json = "";
        len = 0;
    }

    bool fail;
    size_t marked_len = 0;
    marked = mark_bad_utf8(&c, json, len, &marked_len, &fail);
    if (fail) {
        rc = LOA_EPARSE;
        goto out;
    }
    if (marked) {
        c.marked = true;
        json = marked;
        len = marked_len;
    }

    json_error_t err;
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | JSON_DECODE_ANY, &err);
    if (!root) {
        loa_diags_add(c.d, err.line > 0 ? err.line : 0, err.column > 0 ? err.column : 0, "",
                      "malformed JSON: %s", err.text);
        rc = LOA_EPARSE;
        goto out;
    }
    parse_root(&c, root);
    if (c.complaints) {
        rc = LOA_EINVAL;
        goto out;
    }
    if (m->has_wait)
        m->wait.attribute = m->wait_attr;
    m->wait.prompt_retry = m->wait_prompt;
    *out = m;
    m = NULL;
out:
    json_decref(root);
    loa_free(marked);
    loa_msg_free(m);
    if (!diags)
        loa_diags_release(&own);
    return rc;
}

size_t loa_msg_block_count(const struct loa_msg *m)
{
    return m->nblocks;
}

size_t loa_msg_sendable_count(const struct loa_msg *m)
{
    return m->nsendable;
}

enum loa_msg_block_type loa_msg_sendable_type(const struct loa_msg *m, size_t i)
{
    return i < m->nsendable ? m->blocks[i].type : LOA_MSG_WAIT_REPLY;
}

bool loa_msg_is_text_only(const struct loa_msg *m)
{
    for (size_t i = 0; i < m->nsendable; i++)
        if (m->blocks[i].type != LOA_MSG_TEXT || m->blocks[i].has_quick_replies)
            return false;
    return true;
}

bool loa_msg_is_structured(const struct loa_msg *m)
{
    return !loa_msg_is_text_only(m);
}

int loa_msg_get_wait(const struct loa_msg *m, struct loa_msg_wait *out)
{
    if (!m->has_wait)
        return LOA_ENOENT;
    *out = m->wait;
    return 0;
}

size_t loa_msg_var_count(const struct loa_msg *m)
{
    return m->nvars;
}

const char *loa_msg_var_name(const struct loa_msg *m, size_t i)
{
    return i < m->nvars ? m->vars[i] : NULL;
}
