/* SPDX-License-Identifier: MIT */
/*
 * The emulator's own copy of Meta's messaging rules. Pure functions: given what the emulator
 * knows about a person (and a notification token), a parsed request and the time, they decide
 * whether Meta would accept the send and, if not, with which error.
 *
 * This file deliberately shares no code with loa's rules module: the emulator exists to catch
 * loa's mistakes, so it keeps its own independent reading of the rules. Every date below is an
 * instant in UTC.
 *
 * Thread-safety: the functions hold no state; callers lock the person they pass in.
 */
#ifndef LOA_EMU_RULES_H
#define LOA_EMU_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Dates the rules change on (ms since the epoch, UTC). */
#define EMU_DATE_MESSAGING_TYPE_REQUIRED ((int64_t)1525651200000) /* 2018-05-07 */
#define EMU_DATE_TAGS_2020               ((int64_t)1583280000000) /* 2020-03-04 */
#define EMU_DATE_CADENCE_48H             ((int64_t)1756684800000) /* 2025-09-01 */
#define EMU_DATE_RECURRING_RETIRED       ((int64_t)1770681600000) /* 2026-02-10 */
#define EMU_DATE_TAGS_2026               ((int64_t)1777248000000) /* 2026-04-27 */
#define EMU_DATE_AD_WINDOW_7D            ((int64_t)1788220800000) /* 2026-09-01 */

#define EMU_TITLES_MAX 8 /* opt-in titles remembered per person */

/** What a person did; the kinds of POST /_admin/actions. */
enum emu_action_kind {
    EMU_ACT_NONE = 0,
    EMU_ACT_MESSAGE,
    EMU_ACT_POSTBACK,
    EMU_ACT_QUICK_REPLY,
    EMU_ACT_REACTION,
    EMU_ACT_REFERRAL,
    EMU_ACT_AD_REFERRAL, /* first message after a click-to-Messenger ad */
    EMU_ACT_OPTIN_ACCEPT,
    EMU_ACT_OPTIN_STOP,
    EMU_ACT_OPTIN_RESUME,
    EMU_ACT_READ,
    EMU_ACT_DELIVERY,
    EMU_ACT_COUNT_
};

enum emu_mtype {
    EMU_MT_NONE = 0, /* messaging_type absent */
    EMU_MT_RESPONSE,
    EMU_MT_UPDATE,
    EMU_MT_MESSAGE_TAG,
    EMU_MT_INVALID, /* present but not one of the above */
};

/** Rules whose refusals count as violations; names appear in /_admin/stats. */
#define EMU_RULE_MAP(X)                         \
    X(MESSAGING_TYPE, "messaging_type")         \
    X(CONTENT, "content")                       \
    X(WINDOW, "window")                         \
    X(TAG_MISSING, "tag_missing")               \
    X(TAG_UNKNOWN, "tag_unknown")               \
    X(TAG_RETIRED, "tag_retired")               \
    X(HUMAN_AGENT_WINDOW, "human_agent_window") \
    X(TOKEN_INVALID, "token_invalid")           \
    X(TOKEN_STOPPED, "token_stopped")           \
    X(TOKEN_CADENCE, "token_cadence")           \
    X(RECURRING_RETIRED, "recurring_retired")   \
    X(OPTIN_WINDOW, "optin_window")             \
    X(OPTIN_PER_WINDOW, "optin_per_window")     \
    X(OPTIN_TITLE_WEEK, "optin_title_week")

enum emu_rule {
    EMU_RULE_NONE = 0,
#define EMU__RULE_ENUM(id, name) EMU_RULE_##id,
    EMU_RULE_MAP(EMU__RULE_ENUM)
#undef EMU__RULE_ENUM
    EMU_RULE_COUNT_
};

/** Name of a rule for stats ("window"); "" for EMU_RULE_NONE. */
const char *emu_rule_name(enum emu_rule rule);

/** Parses an action kind name ("message", "ad_referral"); EMU_ACT_NONE when unknown. */
enum emu_action_kind emu_action_parse(const char *s);
const char *emu_action_name(enum emu_action_kind kind);
/** True for the actions that open (or refresh) the standard messaging window. */
bool emu_action_opens_window(enum emu_action_kind kind);

struct emu_title_stamp {
    uint64_t hash; /* FNV-1a of the title; 0 = unused slot */
    int64_t at_ms; /* when an opt-in request with that title was accepted */
};

/** What the rules remember about one person of one Page. Guarded by the person's lock. */
struct emu_person_rules {
    int64_t window_at_ms;        /* last window-opening action, or -1 if none */
    bool window_from_ad;         /* that action was the first message after a CTM ad */
    int64_t optin_request_at_ms; /* last accepted opt-in request, or -1 */
    struct emu_title_stamp titles[EMU_TITLES_MAX];
};

/** What the rules remember about one notification_messages token. */
struct emu_token_rules {
    int64_t created_ms;
    int64_t expiry_ms;
    int64_t last_sent_ms; /* last accepted send with this token, or -1 */
    bool stopped;         /* STOP_NOTIFICATIONS */
};

/** The parts of a Send API request the rules look at. Strings are borrowed. */
struct emu_send_req {
    enum emu_mtype mtype;
    const char *tag;         /* NULL when absent */
    bool to_token;           /* recipient.notification_messages_token */
    bool optin_request;      /* attachment template_type notification_messages */
    const char *optin_title; /* title of the opt-in request (defaulted) */
};

/** Settings of the rules that the operator may move. */
struct emu_rules_conf {
    int64_t recurring_retired_ms; /* default EMU_DATE_RECURRING_RETIRED */
};

/** A refusal in Meta's terms. */
struct emu_verdict {
    int code;    /* Graph error code, 0 = accepted */
    int subcode; /* error_subcode, 0 = none */
    enum emu_rule rule;
    char message[320]; /* Meta-style message naming the field */
};

void emu_person_rules_init(struct emu_person_rules *p);
void emu_rules_conf_default(struct emu_rules_conf *c);

/** Parses a messaging_type value (NULL = absent). */
enum emu_mtype emu_mtype_parse(const char *s);
const char *emu_mtype_name(enum emu_mtype m);

/**
 * Checks the shape and content limits of a `message` object and fills the opt-in fields of req.
 * Returns true when acceptable; otherwise fills v (code 100, rule CONTENT).
 * Ownership: req->optin_title borrows from message.
 */
bool emu_rules_check_content(const json_t *message, struct emu_send_req *req,
                             struct emu_verdict *v);

/**
 * Checks the messaging rules for a send to a PSID (person) or a token (token, with its
 * person). Either may be NULL when unknown (a NULL token with to_token refuses with 100).
 * Returns true when Meta would accept; otherwise fills v.
 */
bool emu_rules_check(const struct emu_rules_conf *conf, const struct emu_send_req *req,
                     const struct emu_person_rules *person, const struct emu_token_rules *token,
                     int64_t now_ms, struct emu_verdict *v);

/** Records an accepted send in the person's and token's state. */
void emu_rules_note_sent(const struct emu_send_req *req, struct emu_person_rules *person,
                         struct emu_token_rules *token, int64_t now_ms);

/** Records a person's action (window-opening ones refresh the window). */
void emu_rules_note_action(struct emu_person_rules *person, enum emu_action_kind kind,
                           int64_t at_ms);

/** Length of a token's life from opt-in (DAILY: 6 months, taken as 180 days). */
#define EMU_TOKEN_LIFE_MS ((int64_t)180 * 24 * 3600 * 1000)

#endif /* LOA_EMU_RULES_H */
