/* SPDX-License-Identifier: MIT */
/*
 * Private to src/msg: the compiled form of a message.
 *
 * loa_msg_parse() turns each sendable block into a list of ops. An op is either literal JSON
 * (already escaped, copied as is) or a personalised text field (a template), rendered per
 * person. The ops of a block make the "message" object of the Send API body without its
 * closing brace, so the encoder can append "metadata". Everything is owned by the struct
 * loa_msg and never changes after parsing (which makes concurrent encoding safe).
 */
#ifndef LOA_MSG_MSG_INT_H
#define LOA_MSG_MSG_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <loa/buf.h>
#include <loa/limits.h>
#include <loa/msg.h>

/* A piece of literal text: raw UTF-8, its length in code points, and its JSON escape. */
struct msg_piece {
    char *raw;      /* owned, NUL-terminated */
    size_t len;     /* bytes of raw */
    size_t chars;   /* code points of raw */
    char *esc;      /* owned: raw escaped for a JSON string, without quotes */
    size_t esc_len; /* bytes of esc */
};

enum msg_seg_kind {
    MSG_SEG_LIT,   /* literal text */
    MSG_SEG_FIRST, /* {{first_name}} */
    MSG_SEG_LAST,  /* {{last_name}} */
    MSG_SEG_FULL,  /* {{full_name}} */
    MSG_SEG_ATTR,  /* {{attr.NAME}} */
};

/* One segment of a template. */
struct msg_seg {
    enum msg_seg_kind kind; /* what to render */
    struct msg_piece text;  /* LIT: the text; variables: the fallback (when has_fallback) */
    bool has_fallback;      /* variables: a "|fallback" was given */
    char *name;             /* ATTR: attribute name without "attr." (owned) */
};

/* A personalised text field, split at parse time into segments. */
struct msg_tmpl {
    struct msg_seg *segs; /* owned */
    size_t nsegs;         /* entries in segs */
    size_t limit;         /* most code points the rendered text may have */
};

/* One step of encoding a block. */
struct msg_op {
    char *lit;                   /* owned literal JSON, or NULL for a field */
    size_t len;                  /* bytes of lit */
    const struct msg_tmpl *tmpl; /* field to render (borrowed from loa_msg.tmpls) */
};

struct msg_block {
    enum loa_msg_block_type type; /* never LOA_MSG_WAIT_REPLY */
    bool has_quick_replies;       /* quick_replies given */
    const struct msg_tmpl *text;  /* a text block's text (borrowed from loa_msg.tmpls) */
    struct msg_op *ops;           /* owned */
    size_t nops;                  /* entries in ops */
};

struct loa_msg {
    struct loa_limits limits; /* copied at parse time */
    size_t nblocks;           /* all blocks, wait_reply included */
    struct msg_block *blocks; /* sendable blocks, owned */
    size_t nsendable;         /* entries in blocks */
    bool has_wait;            /* a wait_reply block was given */
    struct loa_msg_wait wait; /* its settings; strings point to wait_attr, wait_prompt */
    char *wait_attr;          /* owned */
    char *wait_prompt;        /* owned, may be NULL */
    char **vars;              /* owned names of the variables used, in order of first use */
    size_t nvars;             /* entries in vars */
    struct msg_tmpl **tmpls;  /* owned templates referenced by ops */
    size_t ntmpls;            /* entries in tmpls */
};

/* Appends s[0..len) escaped for a JSON string (no quotes). s must be valid UTF-8.
 * Returns 0 or LOA_ETOOBIG. */
int loa__msg_json_escape(struct loa_buf *b, const char *s, size_t len);

#endif /* LOA_MSG_MSG_INT_H */
