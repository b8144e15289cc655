/* SPDX-License-Identifier: MIT */
/*
 * The message model: what a user composes ({"blocks":[...]}), its validation against the
 * Send API's content rules, personalisation and encoding into Send API request bodies.
 *
 * A composed message is parsed once with loa_msg_parse(), which reports every problem with a
 * JSON path, and compiles each sendable block into literal JSON pieces and personalised
 * fields; loa_msg_encode() then only copies pieces and escapes the person's values, so it can
 * run for every recipient of a campaign. The format is described in docs/messages.md.
 *
 * Thread-safety: a parsed struct loa_msg is never modified, so any number of threads may query
 * and encode the same message at once. It must not be freed while they do.
 */
#ifndef LOA_MSG_H
#define LOA_MSG_H

#include <stdbool.h>
#include <stddef.h>

#include <loa/buf.h>
#include <loa/diag.h>
#include <loa/limits.h>

/** A parsed, valid composed message (opaque; immutable after loa_msg_parse()). */
struct loa_msg;

/** Most blocks one composed message may hold. */
#define LOA_MSG_MAX_BLOCKS 20

/** Kind of a block. */
enum loa_msg_block_type {
    LOA_MSG_TEXT,       /* text, optional quick replies */
    LOA_MSG_IMAGE,      /* image attachment */
    LOA_MSG_VIDEO,      /* video attachment (Meta allows 10 calls/s for these) */
    LOA_MSG_AUDIO,      /* audio attachment (Meta allows 10 calls/s for these) */
    LOA_MSG_FILE,       /* file attachment */
    LOA_MSG_CARDS,      /* generic template */
    LOA_MSG_BUTTONS,    /* button template */
    LOA_MSG_WAIT_REPLY, /* not sent: wait for the person's reply and store it */
};

/** What a wait_reply block accepts as an answer. */
enum loa_msg_reply_kind {
    LOA_MSG_REPLY_TEXT,   /* any non-empty text */
    LOA_MSG_REPLY_PHONE,  /* a phone number: digits, '+', spaces, '-', '.', '(', ')' */
    LOA_MSG_REPLY_EMAIL,  /* an e-mail address */
    LOA_MSG_REPLY_NUMBER, /* a decimal number, "1.000.000" and "12,5" included */
};

/** The wait_reply step of a message. All pointers are borrowed from the message. */
struct loa_msg_wait {
    const char *attribute;        /* custom attribute that receives the reply */
    enum loa_msg_reply_kind kind; /* how the reply is checked */
    const char *prompt_retry;     /* text to send when the reply is invalid; NULL if none */
    size_t after;                 /* number of sendable blocks sent before waiting */
};

/** One custom attribute of a person, for personalisation. */
struct loa_msg_attr {
    const char *name;  /* without the "attr." prefix */
    const char *value; /* UTF-8; NULL or "" means empty (the fallback applies) */
};

/**
 * Looks up a custom attribute by name (without "attr."). Returns a NUL-terminated UTF-8 value
 * that stays valid until loa_msg_encode() returns, or NULL when the person has none.
 */
typedef const char *(*loa_msg_attr_cb)(void *ctx, const char *name);

/**
 * The person a message is personalised for. Every string is borrowed for the duration of the
 * call. An empty, NULL or invalid-UTF-8 value counts as missing, so the fallback applies.
 */
struct loa_msg_person {
    const char *first_name;           /* may be NULL */
    const char *last_name;            /* may be NULL */
    const struct loa_msg_attr *attrs; /* looked up by name when attr_cb is NULL */
    size_t attr_count;                /* entries in attrs */
    loa_msg_attr_cb attr_cb;          /* when set, used instead of attrs */
    void *attr_ctx;                   /* passed to attr_cb */
};

/** How the recipient is addressed. */
enum loa_msg_recipient_kind {
    LOA_MSG_TO_PSID,  /* "recipient":{"id":...} */
    LOA_MSG_TO_TOKEN, /* "recipient":{"notification_messages_token":...} */
};

/** The Send API's messaging_type. */
enum loa_msg_messaging_type {
    LOA_MSG_RESPONSE,    /* reply inside the standard window */
    LOA_MSG_UPDATE,      /* proactive, inside the standard window */
    LOA_MSG_MESSAGE_TAG, /* outside the window; tag is required */
};

/** The Send API's notification_type. */
enum loa_msg_notification_type {
    LOA_MSG_NOTIFY_OMIT,    /* leave the property out (Meta's default: REGULAR) */
    LOA_MSG_NOTIFY_REGULAR, /* sound or vibration */
    LOA_MSG_SILENT_PUSH,    /* on-screen notification only */
    LOA_MSG_NO_PUSH,        /* no notification */
};

/** Options of one send. Strings are borrowed for the duration of the call. */
struct loa_msg_send_opts {
    enum loa_msg_recipient_kind recipient_kind;       /* PSID or notification token */
    const char *recipient;                            /* PSID or token; required */
    enum loa_msg_messaging_type messaging_type;       /* RESPONSE, UPDATE or MESSAGE_TAG */
    const char *tag;                                  /* required with MESSAGE_TAG, else NULL */
    const char *metadata;                             /* message.metadata or NULL */
    enum loa_msg_notification_type notification_type; /* OMIT leaves it out */
};

/**
 * Parses and validates a composed message and compiles it for encoding.
 *
 * limits: the content limits in force (copied); NULL means loa_limits_default().
 * diags: receives every complaint, each with a JSON path ("blocks[2].buttons[0].title") in
 * where and a reason; malformed JSON gives one complaint with jansson's line and column.
 * May be NULL when the caller only wants the result.
 *
 * Returns: 0 and *out set; LOA_EPARSE when json is not well-formed JSON; LOA_EINVAL when it is
 * JSON but breaks a rule (see diags). On failure *out is NULL.
 * Ownership: the caller frees *out with loa_msg_free(). json is not retained.
 */
int loa_msg_parse(const char *json, size_t len, const struct loa_limits *limits,
                  struct loa_diags *diags, struct loa_msg **out);

/** Frees a message; NULL is a no-op. */
void loa_msg_free(struct loa_msg *m);

/** Number of blocks, wait_reply included. */
size_t loa_msg_block_count(const struct loa_msg *m);

/** Number of blocks that are sent (every block except wait_reply); always >= 1. */
size_t loa_msg_sendable_count(const struct loa_msg *m);

/**
 * Type of sendable block i (0 <= i < loa_msg_sendable_count()), so that callers can pace audio
 * and video separately. Returns LOA_MSG_WAIT_REPLY only when i is out of range.
 */
enum loa_msg_block_type loa_msg_sendable_type(const struct loa_msg *m, size_t i);

/**
 * True when the message holds anything beyond plain text: an attachment, a template (cards,
 * buttons) or quick replies. Such "structured messages" go only to people who messaged the
 * Page after it was activated in loa. Always the negation of loa_msg_is_text_only().
 */
bool loa_msg_is_structured(const struct loa_msg *m);

/**
 * True when every sent block is a text block without quick replies (text and emoji only),
 * which is all a notification-topic message may hold. A wait_reply block does not count.
 */
bool loa_msg_is_text_only(const struct loa_msg *m);

/**
 * The wait_reply step. Returns 0 and fills *out (strings borrowed from m, valid until
 * loa_msg_free()), or LOA_ENOENT when the message has none (a message has at most one).
 */
int loa_msg_get_wait(const struct loa_msg *m, struct loa_msg_wait *out);

/** Number of distinct personalisation variables the message uses. */
size_t loa_msg_var_count(const struct loa_msg *m);

/**
 * Name of variable i in order of first use: "first_name", "last_name", "full_name" or
 * "attr.NAME". Borrowed, valid until loa_msg_free(); NULL when i is out of range.
 */
const char *loa_msg_var_name(const struct loa_msg *m, size_t i);

/**
 * Appends the Send API request body for sendable block i, personalised for person, to out:
 * {"recipient":{...},"messaging_type":...,"tag"?:...,"message":{...,"metadata"?:...},
 *  "notification_type"?:...}.
 * A personalised text longer than its limit is cut at the limit, by characters.
 *
 * person may be NULL (every variable is missing). Nothing is re-parsed; only the person's
 * values are counted and escaped.
 * Returns: 0; LOA_ERANGE when i is not a sendable block; LOA_EINVAL when opts are invalid
 * (no recipient, a tag without MESSAGE_TAG or MESSAGE_TAG without a tag, metadata that is not
 * UTF-8 or not shorter than limits.metadata_chars); LOA_ETOOBIG when out's cap is reached.
 * On failure out is left as it was.
 */
int loa_msg_encode(const struct loa_msg *m, size_t i, const struct loa_msg_person *person,
                   const struct loa_msg_send_opts *opts, struct loa_buf *out);

/**
 * Appends the text of sendable block i as the person reads it (personalised, cut at its limit
 * as loa_msg_encode() cuts it, not JSON-escaped): what the conversation records for a message
 * loa sent. Only a text block has one.
 * Returns: 0; LOA_ENOENT when block i is not a text block; LOA_ERANGE when i is not a sendable
 * block; LOA_ETOOBIG when out's cap is reached (out is then left as it was).
 */
int loa_msg_text(const struct loa_msg *m, size_t i, const struct loa_msg_person *person,
                 struct loa_buf *out);

/**
 * Checks a person's reply to a wait_reply block. text is NUL-terminated UTF-8.
 * The normalised value is trimmed; a phone keeps only a leading '+' and the digits (turning a
 * local number into international form is left to the caller); an e-mail has its domain in
 * lower case; a number is written with '.' as decimal point and no grouping ("1000000.5").
 *
 * Returns: 0, with *normalised_out set when normalised_out is not NULL; LOA_EINVAL when the
 * reply does not fit the kind (*normalised_out is then NULL).
 * Ownership: the caller frees *normalised_out with loa_free().
 */
int loa_msg_check_reply(enum loa_msg_reply_kind kind, const char *text, char **normalised_out);

/** The block type's name as written in the JSON ("text", "cards", "wait_reply"...). */
const char *loa_msg_block_type_name(enum loa_msg_block_type t);

/** The reply kind's name as written in the JSON ("phone", "email", "text", "number"). */
const char *loa_msg_reply_kind_name(enum loa_msg_reply_kind k);

#endif /* LOA_MSG_H */
