/* SPDX-License-Identifier: MIT */
/*
 * Encoding of one sendable block into a Send API request body.
 *
 * This runs once per recipient, so it does no parsing: the block was compiled into literal JSON
 * and templates by loa_msg_parse(); here literals are copied, the person's values are checked,
 * counted, cut to the field's limit and escaped. Errors are sticky in struct enc so the writer
 * calls need no checks; on failure the output buffer is put back as it was.
 */
#include <stdint.h>
#include <string.h>

#include <loa/err.h>
#include <loa/msg.h>
#include <loa/utf8.h>

#include "msg_int.h"

int loa__msg_json_escape(struct loa_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;
    int rc = 0;
    for (size_t i = 0; i < len && rc == 0; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\')
            continue;
        if (i > run)
            rc = loa_buf_append(b, s + run, i - run);
        char esc[6] = { '\\', 0, 0, 0, 0, 0 };
        size_t n = 2;
        switch (ch) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[ch >> 4];
            esc[5] = hex[ch & 0xF];
            n = 6;
            break;
        }
        if (rc == 0)
            rc = loa_buf_append(b, esc, n);
        run = i + 1;
    }
    if (rc == 0 && len > run)
        rc = loa_buf_append(b, s + run, len - run);
    return rc;
}

struct enc {
    struct loa_buf *b;
    int rc;      /* first error */
    size_t left; /* characters the current field may still take */
    bool raw;    /* the text itself (for the conversation), not a JSON string */
};

static void put(struct enc *e, const char *s, size_t len)
{
    if (e->rc == 0)
        e->rc = loa_buf_append(e->b, s, len);
}

static void put_lit(struct enc *e, const char *s)
{
    put(e, s, strlen(s));
}

static void put_esc(struct enc *e, const char *s, size_t len)
{
    if (e->rc == 0)
        e->rc = e->raw ? loa_buf_append(e->b, s, len) : loa__msg_json_escape(e->b, s, len);
}

/* Writes a JSON string value ("..."). */
static void put_str(struct enc *e, const char *s)
{
    put(e, "\"", 1);
    put_esc(e, s, strlen(s));
    put(e, "\"", 1);
}

/* Writes text of chars characters within the field's budget, cutting it when needed. */
static void put_text(struct enc *e, const char *raw, size_t len, size_t chars, const char *esc,
                     size_t esc_len)
{
    if (chars <= e->left) {
        if (esc && !e->raw)
            put(e, esc, esc_len);
        else
            put_esc(e, raw, len);
        e->left -= chars;
        return;
    }
    put_esc(e, raw, loa_utf8_prefix(raw, len, e->left));
    e->left = 0;
}

static void put_piece(struct enc *e, const struct msg_piece *p)
{
    put_text(e, p->raw, p->len, p->chars, p->esc, p->esc_len);
}

/* A person's value: usable when non-empty, well-formed UTF-8. Sets *len. */
static bool usable(const char *v, size_t *len)
{
    if (!v || !*v)
        return false;
    *len = strlen(v);
    return loa_utf8_valid(v, *len);
}

static void put_value(struct enc *e, const char *v, size_t len)
{
    put_text(e, v, len, loa_utf8_count(v, len), NULL, 0);
}

static const char *attr_value(const struct loa_msg_person *p, const char *name)
{
    if (!p)
        return NULL;
    if (p->attr_cb)
        return p->attr_cb(p->attr_ctx, name);
    for (size_t i = 0; i < p->attr_count; i++)
        if (p->attrs[i].name && strcmp(p->attrs[i].name, name) == 0)
            return p->attrs[i].value;
    return NULL;
}

static void render(struct enc *e, const struct msg_tmpl *t, const struct loa_msg_person *p)
{
    e->left = t->limit;
    if (!e->raw)
        put(e, "\"", 1);
    for (size_t i = 0; i < t->nsegs && e->left > 0; i++) {
        const struct msg_seg *sg = &t->segs[i];
        const char *first = p ? p->first_name : NULL;
        const char *last = p ? p->last_name : NULL;
        size_t flen = 0, llen = 0, vlen = 0;
        bool has_first, has_last, done = true;
        const char *v;
        switch (sg->kind) {
        case MSG_SEG_LIT:
            put_piece(e, &sg->text);
            break;
        case MSG_SEG_FIRST:
            if ((done = usable(first, &flen)))
                put_value(e, first, flen);
            break;
        case MSG_SEG_LAST:
            if ((done = usable(last, &llen)))
                put_value(e, last, llen);
            break;
        case MSG_SEG_FULL:
            has_first = usable(first, &flen);
            has_last = usable(last, &llen);
            if (has_first)
                put_value(e, first, flen);
            if (has_first && has_last)
                put_value(e, " ", 1);
            if (has_last)
                put_value(e, last, llen);
            done = has_first || has_last;
            break;
        case MSG_SEG_ATTR:
            v = attr_value(p, sg->name);
            if ((done = usable(v, &vlen)))
                put_value(e, v, vlen);
            break;
        }
        if (!done && sg->has_fallback)
            put_piece(e, &sg->text);
    }
    if (!e->raw)
        put(e, "\"", 1);
}

static const char *const messaging_types[] = {
    [LOA_MSG_RESPONSE] = "RESPONSE",
    [LOA_MSG_UPDATE] = "UPDATE",
    [LOA_MSG_MESSAGE_TAG] = "MESSAGE_TAG",
};

static const char *const notification_types[] = {
    [LOA_MSG_NOTIFY_OMIT] = NULL,
    [LOA_MSG_NOTIFY_REGULAR] = "REGULAR",
    [LOA_MSG_SILENT_PUSH] = "SILENT_PUSH",
    [LOA_MSG_NO_PUSH] = "NO_PUSH",
};

static bool good_string(const char *s)
{
    return s && *s && loa_utf8_valid(s, strlen(s));
}

static int check_opts(const struct loa_msg *m, const struct loa_msg_send_opts *o)
{
    if (!good_string(o->recipient))
        return LOA_EINVAL;
    if ((size_t)o->recipient_kind > LOA_MSG_TO_TOKEN ||
        (size_t)o->messaging_type > LOA_MSG_MESSAGE_TAG ||
        (size_t)o->notification_type > LOA_MSG_NO_PUSH)
        return LOA_EINVAL;
    if ((o->messaging_type == LOA_MSG_MESSAGE_TAG) != (o->tag != NULL))
        return LOA_EINVAL;
    if (o->tag && !good_string(o->tag))
        return LOA_EINVAL;
    if (o->metadata) {
        size_t len = strlen(o->metadata);
        if (!loa_utf8_valid(o->metadata, len) ||
            loa_utf8_count(o->metadata, len) >= m->limits.metadata_chars)
            return LOA_EINVAL;
    }
    return 0;
}

int loa_msg_encode(const struct loa_msg *m, size_t i, const struct loa_msg_person *person,
                   const struct loa_msg_send_opts *opts, struct loa_buf *out)
{
    if (i >= m->nsendable)
        return LOA_ERANGE;
    int rc = check_opts(m, opts);
    if (rc < 0)
        return rc;

    size_t old_len = out->len;
    struct enc e = { .b = out, .rc = 0, .left = 0 };
    put_lit(&e, opts->recipient_kind == LOA_MSG_TO_TOKEN
                    ? "{\"recipient\":{\"notification_messages_token\":"
                    : "{\"recipient\":{\"id\":");
    put_str(&e, opts->recipient);
    put_lit(&e, "},\"messaging_type\":\"");
    put_lit(&e, messaging_types[opts->messaging_type]);
    put(&e, "\"", 1);
    if (opts->tag) {
        put_lit(&e, ",\"tag\":");
        put_str(&e, opts->tag);
    }
    put_lit(&e, ",\"message\":");
    const struct msg_block *b = &m->blocks[i];
    for (size_t k = 0; k < b->nops; k++) {
        if (b->ops[k].lit)
            put(&e, b->ops[k].lit, b->ops[k].len);
        else
            render(&e, b->ops[k].tmpl, person);
    }
    if (opts->metadata) {
        put_lit(&e, ",\"metadata\":");
        put_str(&e, opts->metadata);
    }
    put(&e, "}", 1);
    const char *nt = notification_types[opts->notification_type];
    if (nt) {
        put_lit(&e, ",\"notification_type\":\"");
        put_lit(&e, nt);
        put(&e, "\"", 1);
    }
    put(&e, "}", 1);

    if (e.rc < 0) {
        out->len = old_len;
        if (out->ptr)
            out->ptr[old_len] = '\0';
    }
    return e.rc;
}

int loa_msg_text(const struct loa_msg *m, size_t i, const struct loa_msg_person *person,
                 struct loa_buf *out)
{
    if (i >= m->nsendable)
        return LOA_ERANGE;
    const struct msg_block *b = &m->blocks[i];
    if (b->type != LOA_MSG_TEXT || !b->text)
        return LOA_ENOENT;
    size_t old_len = out->len;
    struct enc e = { .b = out, .rc = 0, .left = 0, .raw = true };
    render(&e, b->text, person);
    if (e.rc < 0) {
        out->len = old_len;
        if (out->ptr)
            out->ptr[old_len] = '\0';
    }
    return e.rc;
}
