/* SPDX-License-Identifier: MIT */
/*
 * The filter language: JSON text → a validated tree of struct loa_audience_node.
 *
 * The parser reports every problem it finds, each with the path of the offending value
 * ("filter.all[1].tags.any[0]"), and keeps going so that one round trip shows them all. It
 * stops descending past the depth cap and stops adding nodes past the node cap, so hostile
 * input costs a bounded amount of work. jansson stays inside this file.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <loa/alloc.h>
#include <loa/audience.h>
#include <loa/clock.h>
#include <loa/err.h>
#include <loa/text.h>
#include <loa/utf8.h>

#define PATH_MAX_LEN 512

struct parser {
    struct loa_diags *d;
    int64_t now;
    size_t nodes;
    bool node_cap_reported;
    bool bad;
};

static void complain(struct parser *p, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void complain(struct parser *p, const char *path, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    loa_diags_add(p->d, 0, 0, path, "%s", msg);
    p->bad = true;
}

/* Appends text to out (PATH_MAX_LEN bytes), cutting it when full; paths are bounded by the
 * depth cap, so the cut is a safety net only. */
static void append(char *out, const char *text)
{
    size_t used = strlen(out), n = strlen(text);
    if (used + n >= PATH_MAX_LEN)
        n = PATH_MAX_LEN - 1 - used;
    memcpy(out + used, text, n);
    out[used + n] = '\0';
}

/* path + "." + key, or key alone at the root. */
static void join_key(char *out, const char *path, const char *key)
{
    out[0] = '\0';
    append(out, path);
    if (*path)
        append(out, ".");
    append(out, key);
}

static void join_index(char *out, const char *path, size_t i)
{
    char idx[32];
    snprintf(idx, sizeof(idx), "[%zu]", i);
    out[0] = '\0';
    append(out, path);
    append(out, idx);
}

void loa_audience_free(struct loa_audience_node *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->nchildren; i++)
        loa_audience_free(n->children[i]);
    loa_free(n->children);
    for (size_t i = 0; i < n->nnames; i++)
        loa_free(n->names[i]);
    loa_free(n->names);
    loa_free(n->value);
    loa_free(n->name);
    loa_free(n);
}

bool loa_audience_is_everyone(const struct loa_audience_node *n)
{
    return !n || (n->kind == LOA_AUD_ALL && n->nchildren == 0);
}

static struct loa_audience_node *new_node(enum loa_audience_kind kind)
{
    struct loa_audience_node *n = loa_calloc(1, sizeof(*n));
    n->kind = kind;
    return n;
}

/* A name (tag, list, attribute): a non-empty UTF-8 string of at most NAME_MAX characters. */
static bool name_ok(struct parser *p, json_t *v, const char *path, const char *what,
                    const char *forbidden)
{
    const char *s = json_string_value(v);
    size_t len = s ? json_string_length(v) : 0;
    if (!s || len == 0 || !loa_utf8_valid(s, len) || strlen(s) != len ||
        loa_utf8_count(s, len) > LOA_AUDIENCE_NAME_MAX) {
        complain(p, path, "%s names are 1-%d characters", what, LOA_AUDIENCE_NAME_MAX);
        return false;
    }
    for (const char *c = s; *c; c++) {
        if ((unsigned char)*c < 0x20 || (forbidden && strchr(forbidden, *c))) {
            complain(p, path, "%s names cannot contain control characters or any of %s", what,
                     forbidden ? forbidden : "them");
            return false;
        }
    }
    return true;
}

static struct loa_audience_node *parse_node(struct parser *p, json_t *v, const char *path,
                                            int depth);

static struct loa_audience_node *parse_group(struct parser *p, enum loa_audience_kind kind,
                                             json_t *v, const char *path, int depth)
{
    if (!json_is_array(v)) {
        complain(p, path, "must be an array of expressions");
        return NULL;
    }
    if (depth >= LOA_AUDIENCE_MAX_DEPTH) {
        complain(p, path, "expressions nest at most %d levels deep", LOA_AUDIENCE_MAX_DEPTH);
        return NULL;
    }
    struct loa_audience_node *n = new_node(kind);
    size_t count = json_array_size(v);
    n->children = loa_calloc(count ? count : 1, sizeof(*n->children));
    char sub[PATH_MAX_LEN];
    for (size_t i = 0; i < count; i++) {
        join_index(sub, path, i);
        struct loa_audience_node *c = parse_node(p, json_array_get(v, i), sub, depth + 1);
        if (c)
            n->children[n->nchildren++] = c;
    }
    return n;
}

static struct loa_audience_node *parse_tags(struct parser *p, json_t *v, const char *path)
{
    static const char *const modes[] = { "any", "all", "none" };
    static const enum loa_audience_kind kinds[] = { LOA_AUD_TAGS_ANY, LOA_AUD_TAGS_ALL,
                                                    LOA_AUD_TAGS_NONE };
    if (!json_is_object(v) || json_object_size(v) != 1) {
        complain(p, path, "must be an object with one of \"any\", \"all\" or \"none\"");
        return NULL;
    }
    const char *key = json_object_iter_key(json_object_iter(v));
    json_t *arr = json_object_iter_value(json_object_iter(v));
    int mode = -1;
    for (int i = 0; i < 3; i++)
        if (strcmp(key, modes[i]) == 0)
            mode = i;
    char sub[PATH_MAX_LEN];
    join_key(sub, path, key);
    if (mode < 0) {
        complain(p, sub, "unknown key; expected \"any\", \"all\" or \"none\"");
        return NULL;
    }
    size_t count = json_array_size(arr);
    if (!json_is_array(arr) || count == 0 || count > LOA_AUDIENCE_MAX_NAMES) {
        complain(p, sub, "must be an array of 1-%d tag names", LOA_AUDIENCE_MAX_NAMES);
        return NULL;
    }
    struct loa_audience_node *n = new_node(kinds[mode]);
    n->names = loa_calloc(count, sizeof(*n->names));
    bool ok = true;
    char item[PATH_MAX_LEN];
    for (size_t i = 0; i < count; i++) {
        join_index(item, sub, i);
        json_t *t = json_array_get(arr, i);
        if (!name_ok(p, t, item, "tag", ",;")) {
            ok = false;
            continue;
        }
        /* Tags compare without case or Unicode form: "VIP" and "vip" are one name (for
         * "all", two would ask for two tags that are one). */
        char *fold = loa_text_fold(json_string_value(t));
        bool dup = false;
        for (size_t j = 0; j < n->nnames && !dup; j++) {
            char *other = loa_text_fold(n->names[j]);
            dup = strcmp(other, fold) == 0;
            loa_free(other);
        }
        loa_free(fold);
        if (!dup)
            n->names[n->nnames++] = loa_strdup(json_string_value(t));
    }
    if (!ok) {
        loa_audience_free(n);
        return NULL;
    }
    return n;
}

static struct loa_audience_node *parse_field(struct parser *p, enum loa_audience_kind kind,
                                             json_t *v, const char *path)
{
    const char *s = json_string_value(v);
    struct loa_audience_node *n = NULL;
    if (s && strcmp(s, "phone") == 0) {
        n = new_node(kind);
        n->field = LOA_AUD_FIELD_PHONE;
    } else if (s && strcmp(s, "email") == 0) {
        n = new_node(kind);
        n->field = LOA_AUD_FIELD_EMAIL;
    } else {
        complain(p, path, "must be \"phone\" or \"email\"");
    }
    return n;
}

static struct loa_audience_node *parse_gender(struct parser *p, json_t *v, const char *path)
{
    const char *s = json_string_value(v);
    if (!s || (strcmp(s, "male") != 0 && strcmp(s, "female") != 0 && strcmp(s, "unknown") != 0)) {
        complain(p, path, "must be \"male\", \"female\" or \"unknown\"");
        return NULL;
    }
    struct loa_audience_node *n = new_node(LOA_AUD_GENDER);
    n->value = strcmp(s, "unknown") == 0 ? NULL : loa_strdup(s);
    return n;
}

/* A date alone ("2026-11-30") as the end of a range means the whole of that day. */
static bool is_date_only(const char *s)
{
    return strlen(s) == 10 && s[4] == '-' && s[7] == '-';
}

static struct loa_audience_node *parse_range(struct parser *p, enum loa_audience_kind kind,
                                             json_t *v, const char *path)
{
    if (!json_is_object(v) || json_object_size(v) != 1) {
        complain(p, path, "must be an object with \"between\" or \"within_days\"");
        return NULL;
    }
    const char *key = json_object_iter_key(json_object_iter(v));
    json_t *arg = json_object_iter_value(json_object_iter(v));
    char sub[PATH_MAX_LEN];
    join_key(sub, path, key);
    if (strcmp(key, "within_days") == 0) {
        json_int_t days = json_is_integer(arg) ? json_integer_value(arg) : 0;
        if (days < 1 || days > LOA_AUDIENCE_MAX_DAYS) {
            complain(p, sub, "must be a whole number of days from 1 to %d", LOA_AUDIENCE_MAX_DAYS);
            return NULL;
        }
        struct loa_audience_node *n = new_node(kind);
        n->from = p->now - (int64_t)days * LOA_DAY_MS;
        n->until = p->now + 1;
        return n;
    }
    if (strcmp(key, "between") != 0) {
        complain(p, sub, "unknown key; expected \"between\" or \"within_days\"");
        return NULL;
    }
    if (!json_is_array(arg) || json_array_size(arg) != 2) {
        complain(p, sub, "must be an array of two ISO 8601 times [from, to]");
        return NULL;
    }
    int64_t t[2] = { 0, 0 };
    bool ok = true;
    char item[PATH_MAX_LEN];
    for (size_t i = 0; i < 2; i++) {
        join_index(item, sub, i);
        const char *s = json_string_value(json_array_get(arg, i));
        if (!s || loa_time_parse(s, &t[i]) < 0) {
            complain(p, item, "must be an ISO 8601 time such as 2026-11-21 or 2026-11-21T20:00Z");
            ok = false;
        } else if (i == 1) {
            t[1] += is_date_only(s) ? LOA_DAY_MS : 1; /* "to" is inclusive */
        }
    }
    if (!ok)
        return NULL;
    if (t[0] >= t[1]) {
        complain(p, sub, "the start must not be after the end");
        return NULL;
    }
    struct loa_audience_node *n = new_node(kind);
    n->from = t[0];
    n->until = t[1];
    return n;
}

static struct loa_audience_node *parse_attr(struct parser *p, json_t *v, const char *path)
{
    static const char *const ops[] = {
        [LOA_AUD_OP_EQ] = "eq",         [LOA_AUD_OP_NE] = "ne", [LOA_AUD_OP_CONTAINS] = "contains",
        [LOA_AUD_OP_EXISTS] = "exists", [LOA_AUD_OP_GT] = "gt", [LOA_AUD_OP_LT] = "lt",
    };
    if (!json_is_object(v)) {
        complain(p, path, "must be an object {\"name\", \"op\", \"value\"}");
        return NULL;
    }
    bool ok = true;
    char sub[PATH_MAX_LEN];
    const char *key;
    json_t *val;
    json_object_foreach(v, key, val) {
        if (strcmp(key, "name") != 0 && strcmp(key, "op") != 0 && strcmp(key, "value") != 0) {
            join_key(sub, path, key);
            complain(p, sub, "unknown key; expected \"name\", \"op\" and \"value\"");
            ok = false;
        }
    }
    json_t *name = json_object_get(v, "name");
    join_key(sub, path, "name");
    if (!name) {
        complain(p, sub, "is required");
        ok = false;
    } else if (!name_ok(p, name, sub, "attribute", "\"\\")) {
        ok = false;
    }
    json_t *opv = json_object_get(v, "op");
    const char *op_s = json_string_value(opv);
    int op = -1;
    for (int i = 0; op_s && i < (int)(sizeof(ops) / sizeof(ops[0])); i++)
        if (strcmp(op_s, ops[i]) == 0)
            op = i;
    join_key(sub, path, "op");
    if (op < 0) {
        complain(p, sub, "must be one of eq, ne, contains, exists, gt, lt");
        ok = false;
    }
    json_t *value = json_object_get(v, "value");
    join_key(sub, path, "value");
    char *text = NULL;
    double number = 0;
    bool numeric = false;
    if (op == LOA_AUD_OP_EXISTS) {
        if (value) {
            complain(p, sub, "\"exists\" takes no value");
            ok = false;
        }
    } else if (op >= 0) {
        if (json_is_string(value)) {
            size_t len = json_string_length(value);
            const char *s = json_string_value(value);
            if (!loa_utf8_valid(s, len) || strlen(s) != len ||
                loa_utf8_count(s, len) > LOA_AUDIENCE_VALUE_MAX ||
                (len == 0 && op == LOA_AUD_OP_CONTAINS)) {
                complain(p, sub, "must be text of %s-%d characters",
                         op == LOA_AUD_OP_CONTAINS ? "1" : "0", LOA_AUDIENCE_VALUE_MAX);
                ok = false;
            } else {
                text = loa_text_nfc(s, len); /* typed decomposed or not, one form */
                /* Numbers as people write them: "5000000", "5.000.000", "5,000,000", "1,5". */
                numeric = s[0] != ' ' && loa_text_number(s, &number);
            }
        } else if (json_is_number(value)) {
            number = json_number_value(value);
            numeric = isfinite(number);
            char buf[64];
            if (json_is_integer(value))
                snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(value));
            else
                snprintf(buf, sizeof(buf), "%.17g", number);
            text = loa_strdup(buf);
        } else {
            complain(p, sub, value ? "must be a string or a number" : "is required");
            ok = false;
        }
    }
    if (!ok) {
        loa_free(text);
        return NULL;
    }
    struct loa_audience_node *n = new_node(LOA_AUD_ATTR);
    n->name = loa_text_nfc(json_string_value(name), strlen(json_string_value(name)));
    n->op = (enum loa_audience_op)op;
    n->value = text;
    n->numeric = numeric && op != LOA_AUD_OP_CONTAINS;
    n->number = number;
    return n;
}

static struct loa_audience_node *parse_node(struct parser *p, json_t *v, const char *path,
                                            int depth)
{
    if (!json_is_object(v)) {
        complain(p, path, "must be an object such as {\"tags\":{\"any\":[\"vip\"]}}");
        return NULL;
    }
    if (++p->nodes > LOA_AUDIENCE_MAX_NODES) {
        if (!p->node_cap_reported)
            complain(p, path, "an expression has at most %d parts", LOA_AUDIENCE_MAX_NODES);
        p->node_cap_reported = true;
        return NULL;
    }
    if (json_object_size(v) == 0)
        return new_node(LOA_AUD_ALL); /* {} = everyone */
    if (json_object_size(v) > 1) {
        complain(p, path, "an expression has exactly one key; combine several with \"all\"");
        return NULL;
    }
    const char *key = json_object_iter_key(json_object_iter(v));
    json_t *arg = json_object_iter_value(json_object_iter(v));
    char sub[PATH_MAX_LEN];
    join_key(sub, path, key);
    if (strcmp(key, "all") == 0)
        return parse_group(p, LOA_AUD_ALL, arg, sub, depth);
    if (strcmp(key, "any") == 0)
        return parse_group(p, LOA_AUD_ANY, arg, sub, depth);
    if (strcmp(key, "not") == 0) {
        if (depth >= LOA_AUDIENCE_MAX_DEPTH) {
            complain(p, sub, "expressions nest at most %d levels deep", LOA_AUDIENCE_MAX_DEPTH);
            return NULL;
        }
        struct loa_audience_node *c = parse_node(p, arg, sub, depth + 1);
        if (!c)
            return NULL;
        struct loa_audience_node *n = new_node(LOA_AUD_NOT);
        n->children = loa_calloc(1, sizeof(*n->children));
        n->children[0] = c;
        n->nchildren = 1;
        return n;
    }
    if (strcmp(key, "tags") == 0)
        return parse_tags(p, arg, sub);
    if (strcmp(key, "has") == 0)
        return parse_field(p, LOA_AUD_HAS, arg, sub);
    if (strcmp(key, "lacks") == 0)
        return parse_field(p, LOA_AUD_LACKS, arg, sub);
    if (strcmp(key, "gender") == 0)
        return parse_gender(p, arg, sub);
    if (strcmp(key, "last_interaction") == 0)
        return parse_range(p, LOA_AUD_LAST_INTERACTION, arg, sub);
    if (strcmp(key, "first_seen") == 0)
        return parse_range(p, LOA_AUD_FIRST_SEEN, arg, sub);
    if (strcmp(key, "attr") == 0)
        return parse_attr(p, arg, sub);
    if (strcmp(key, "list") == 0) {
        if (!name_ok(p, arg, sub, "list", NULL))
            return NULL;
        struct loa_audience_node *n = new_node(LOA_AUD_LIST);
        n->name = loa_strdup(json_string_value(arg));
        return n;
    }
    complain(p, sub,
             "unknown predicate; expected all, any, not, tags, has, lacks, gender, "
             "last_interaction, first_seen, attr or list");
    return NULL;
}

int loa_audience_parse(const char *json, size_t len, int64_t now, const char *root_path,
                       struct loa_audience_node **out, struct loa_diags *diags)
{
    *out = NULL;
    const char *root = root_path ? root_path : "";
    if (len > LOA_AUDIENCE_MAX_BYTES) {
        loa_diags_add(diags, 0, 0, root, "a filter is at most %d bytes", LOA_AUDIENCE_MAX_BYTES);
        return LOA_EINVAL;
    }
    json_error_t err;
    json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
    if (!doc) {
        loa_diags_add(diags, err.line, err.column, root, "malformed JSON: %s", err.text);
        return LOA_EPARSE;
    }
    struct parser p = { .d = diags, .now = now };
    struct loa_audience_node *n = parse_node(&p, doc, root, 0);
    json_decref(doc);
    if (p.bad || !n) {
        loa_audience_free(n);
        return LOA_EINVAL;
    }
    *out = n;
    return 0;
}
