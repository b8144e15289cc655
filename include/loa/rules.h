/* SPDX-License-Identifier: MIT */
/*
 * Messaging rules: Meta's rules for who may be sent what, and when, as data with effective
 * dates (rules/messaging-rules.json, format in docs/rules.md), and the one function that
 * decides whether a message may be sent.
 *
 * A struct loa_rules is immutable once loaded: any number of threads may call the functions
 * below on the same rules at once. Every decision function is pure: the time is an argument,
 * nothing is read from the clock, the store or the network.
 *
 * Times are milliseconds since the epoch, UTC. In the input structs 0 means "never" or
 * "unknown" (zero-initialised structs are valid input and lead to the safest answer).
 */
#ifndef LOA_RULES_H
#define LOA_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <loa/buf.h>
#include <loa/diag.h>
#include <loa/limits.h>

/** A loaded rules file (opaque, immutable). */
struct loa_rules;

/* ---------------------------------------------------------------------------------------- */
/* Loading                                                                                   */

/**
 * Loads and validates a rules file. On success *out is a new rules object (free with
 * loa_rules_free()). Returns 0, LOA_ENOENT / LOA_EIO when the file cannot be read, or
 * LOA_EPARSE when it is malformed or invalid: then every complaint is in diags (JSON path such
 * as "rules[3].parameters.hours", line/column for malformed JSON, reason) and *out is NULL.
 * Complaints do not name the file: print them with the path as prefix (loa_diags_print).
 */
int loa_rules_load(const char *path, struct loa_rules **out, struct loa_diags *diags);

/** Same as loa_rules_load() on text in memory. */
int loa_rules_parse(const char *text, size_t len, struct loa_rules **out, struct loa_diags *diags);

void loa_rules_free(struct loa_rules *r);

/* ---------------------------------------------------------------------------------------- */
/* The entries of a rules file                                                               */

/** One entry of the rules file. Every string is borrowed from the rules object. */
struct loa_rule_info {
    const char *id;          /* unique entry id, "tags-2026" */
    const char *rule;        /* which rule the entry sets, "message_tags" */
    const char *title;       /* one line; "" when absent */
    const char *source;      /* URL or document reference */
    const char *note;        /* free text; "" when absent */
    const char *parameters;  /* the parameters as compact JSON */
    int64_t effective_from;  /* first instant in force (00:00 UTC of the date) */
    int64_t effective_until; /* first instant no longer in force; INT64_MAX when open-ended */
};

/** Number of entries in the file. */
size_t loa_rules_count(const struct loa_rules *r);
/** Entry i (0 <= i < count), in file order. Returns 0 or LOA_ERANGE. */
int loa_rules_get(const struct loa_rules *r, size_t i, struct loa_rule_info *out);
/** Whether entry i is in force at time at. */
bool loa_rules_in_force(const struct loa_rules *r, size_t i, int64_t at);

/* ---------------------------------------------------------------------------------------- */
/* Inputs of a decision                                                                      */

/** The kind of a person's interaction with the Page (what a webhook reported). */
enum loa_rules_action {
    LOA_RULES_ACT_NONE = 0,        /* never interacted, or unknown */
    LOA_RULES_ACT_MESSAGE,         /* sent the Page a message */
    LOA_RULES_ACT_POSTBACK,        /* tapped a postback button or persistent menu item */
    LOA_RULES_ACT_QUICK_REPLY,     /* tapped a quick reply */
    LOA_RULES_ACT_GET_STARTED,     /* tapped Get Started */
    LOA_RULES_ACT_REFERRAL,        /* a referral of unknown origin */
    LOA_RULES_ACT_REFERRAL_AD,     /* came from a click-to-Messenger ad */
    LOA_RULES_ACT_REFERRAL_MME,    /* followed an m.me link */
    LOA_RULES_ACT_REFERRAL_PLUGIN, /* came through a plugin (checkbox, chat plugin...) */
    LOA_RULES_ACT_REACTION,        /* reacted to a message */
    LOA_RULES_ACT_OPTIN,           /* opted in to a notification topic */
    LOA_RULES_ACT_COMMENT,         /* commented on a post of the Page */
    LOA_RULES_ACT_COUNT
};

enum loa_rules_purpose {
    LOA_RULES_NON_PROMOTIONAL = 0,
    LOA_RULES_PROMOTIONAL,
};

enum loa_rules_sender {
    LOA_RULES_AUTOMATION = 0, /* a campaign, sequence or bot */
    LOA_RULES_HUMAN,          /* a member of staff typing in a conversation */
};

enum loa_rules_frequency {
    LOA_RULES_DAILY = 0,
    LOA_RULES_WEEKLY,
    LOA_RULES_MONTHLY,
};

enum loa_rules_token_status {
    LOA_RULES_TOKEN_ACTIVE = 0, /* opted in (or resumed) */
    LOA_RULES_TOKEN_STOPPED,    /* the person tapped "Stop notifications" */
};

/** A notification-topic token the person holds (one per topic). Strings are borrowed. */
struct loa_rules_token {
    const char *topic_id;               /* loa's id of the topic */
    enum loa_rules_token_status status; /* STOP/RESUME status */
    enum loa_rules_frequency frequency; /* the frequency the token was created with */
    bool topic_inactive;                /* the topic is deactivated in loa (suspends it) */
    int64_t created;                    /* opt-in time */
    int64_t expires;                    /* token_expiry_timestamp; 0 = from the frequency */
    int64_t last_sent;                  /* last message sent with the token; 0 = never */
};

/** The person's opt-in to the Page's marketing messages (Marketing Message API, a token). */
struct loa_rules_marketing {
    bool held;                          /* the person holds a marketing-message token */
    enum loa_rules_token_status status; /* STOP/RESUME status */
    int64_t created;                    /* opt-in time */
};

/** What the rules need to know about one person. */
struct loa_rules_person {
    int64_t last_interaction;          /* the person's last interaction; 0 = never */
    enum loa_rules_action last_action; /* its kind */
    bool first_after_ctm_ad;           /* it was the first message after a click-to-Messenger ad */
    int64_t first_seen;         /* first message to the Page ("ngày đăng ký"); 0 = unknown */
    int64_t page_activated;     /* when the Page was activated in loa; 0 = unknown */
    unsigned sent_after_window; /* messages sent since the last window closed (24+1) */
    const struct loa_rules_token *tokens; /* notification-topic tokens; may be NULL */
    size_t token_count;
    struct loa_rules_marketing marketing; /* marketing-message opt-in; zero: none */
    const char *country; /* where the person is, ISO 3166-1 alpha-2 ("VN", "GB"); NULL or ""
                            unknown. Routes that depend on the recipient's region (topics from
                            2026, marketing messages) read it */
};

/** How the caller wants to send. */
enum loa_rules_route_kind {
    LOA_RULES_ROUTE_AUTO = 0,    /* pick the best allowed route for the purpose */
    LOA_RULES_ROUTE_WINDOW,      /* the standard messaging window (RESPONSE / UPDATE) */
    LOA_RULES_ROUTE_TAG,         /* a message tag (tag names it) */
    LOA_RULES_ROUTE_HUMAN_AGENT, /* the HUMAN_AGENT tag */
    LOA_RULES_ROUTE_TOPIC,       /* a notification-topic token (topic_id names the topic) */
    LOA_RULES_ROUTE_MARKETING,   /* the person's marketing-message token (paid, Meta-side
                                    campaign) */
    LOA_RULES_ROUTE_UTILITY,     /* a utility message template (template_id names it) */
    LOA_RULES_ROUTE_COUNT
};

/** Bit of a route kind in a set of routes (struct loa_rules_request.accept). */
#define LOA_RULES_ROUTE_BIT(k) (1u << (unsigned)(k))

struct loa_rules_route {
    enum loa_rules_route_kind kind;
    const char *tag;         /* ROUTE_TAG: "POST_PURCHASE_UPDATE"; borrowed */
    const char *topic_id;    /* ROUTE_TOPIC: the topic; borrowed */
    const char *template_id; /* ROUTE_UTILITY (and AUTO): the template the message would use;
                                borrowed; NULL = none */
    bool template_approved;  /* ... and Meta approved it */
};

/** One message to decide on. */
struct loa_rules_request {
    const struct loa_rules_person *person;
    enum loa_rules_purpose purpose;
    bool structured; /* has images, cards, buttons or quick replies (not text/emoji only) */
    enum loa_rules_sender sender;
    struct loa_rules_route route;
    int64_t at;      /* when it would be sent */
    unsigned accept; /* ROUTE_AUTO: the routes beyond the window (and HUMAN_AGENT for a person
                        typing) the sender accepts, as LOA_RULES_ROUTE_BIT()s of TOPIC,
                        MARKETING and UTILITY; 0 = topics only (paid and template routes are
                        never taken unless accepted) */
};

/* ---------------------------------------------------------------------------------------- */
/* Outputs                                                                                   */

enum loa_rules_mtype {
    LOA_RULES_MT_NONE = 0, /* refused */
    LOA_RULES_MT_RESPONSE,
    LOA_RULES_MT_UPDATE,
    LOA_RULES_MT_MESSAGE_TAG,
};

enum loa_rules_recipient {
    LOA_RULES_TO_PSID = 0, /* recipient.id */
    LOA_RULES_TO_TOKEN,    /* recipient.notification_messages_token */
};

#define LOA_RULES_TAG_MAX    48
#define LOA_RULES_REASON_MAX 320

/**
 * A decision. The rule fields name the entry that decided (for an allowed message: the one that
 * allows it; for a refused one: the one that refuses it); they are borrowed from the rules and
 * may be NULL only when no entry at all covers the case.
 *
 * code is a stable machine string. Allowed: "window_open", "ctm_window_open", "plus_one",
 * "tag", "human_agent", "topic_token", "marketing_token", "utility_template", "invite_ok".
 * Refused: "window_closed", "no_window",
 * "promotional_tag", "promotional_plus_one", "promotional_window", "promotional_topic",
 * "tag_retired", "tag_unknown", "human_only", "human_agent_expired", "topics_retired",
 * "topics_unavailable", "no_token", "topic_inactive", "token_stopped", "token_expired",
 * "token_frequency", "topic_text_only", "cadence", "not_activated", "invite_per_window",
 * "invite_same_title", "invite_pending", "invite_accepted", "frequency_unavailable", "no_route",
 * "marketing_unavailable", "no_marketing_token",
 * "marketing_stopped", "marketing_region", "country_unknown", "promotional_marketing",
 * "templates_unavailable", "no_template", "template_unapproved", "promotional_template",
 * "template_buttons".
 */
struct loa_rules_decision {
    bool allowed;
    const char *code;                    /* static string, see above */
    enum loa_rules_route_kind route;     /* the route used or refused (AUTO is resolved) */
    enum loa_rules_mtype messaging_type; /* what to put in messaging_type */
    bool messaging_type_required;        /* the messaging_type rule is in force */
    char tag[LOA_RULES_TAG_MAX];         /* the tag to send; "" unless MESSAGE_TAG */
    enum loa_rules_recipient recipient;  /* which recipient form to use */
    const char *topic_id;                /* ROUTE_TOPIC: borrowed from the request's tokens */
    const char *template_id;             /* ROUTE_UTILITY: borrowed from the request's route */
    int64_t until;       /* allowed: stays allowed before this instant; INT64_MAX = no known end */
    int64_t retry_at;    /* refused: allowed again from this instant if nothing changes; 0 = no */
    const char *rule_id; /* deciding entry's id */
    const char *rule_source;           /* its source */
    int64_t rule_effective;            /* its effective_from */
    char reason[LOA_RULES_REASON_MAX]; /* one line of English, no trailing full stop */
};

/* ---------------------------------------------------------------------------------------- */
/* Decisions                                                                                 */

/**
 * Decides whether req may be sent. Always fills *out. Returns 0, or LOA_EINVAL when the request
 * is unusable (no person, ROUTE_TAG without a tag, ROUTE_TOPIC without a topic id).
 */
int loa_rules_decide(const struct loa_rules *r, const struct loa_rules_request *req,
                     struct loa_rules_decision *out);

/** Every route a message could take, each with its decision, in the order loa tries them. */
#define LOA_RULES_ROUTES_MAX 12
struct loa_rules_routes {
    size_t n;
    struct loa_rules_decision v[LOA_RULES_ROUTES_MAX];
    int best; /* index of the first allowed (what ROUTE_AUTO picks); -1 when none */
};

/**
 * The routes req (its route kind is ignored) could take at req->at, in the order ROUTE_AUTO
 * tries them: the window (with 24+1 while it existed); for a person typing non-promotional
 * content, HUMAN_AGENT; then the routes req->accept allows: a utility template (when
 * route.template_id names one), the marketing-message token, each topic token. Every one is
 * listed, allowed or with the rule that refuses it, so that a console can say "window until
 * 21:14 · marketing message · topic: refused (cadence)". buttons is the message's button
 * count (utility templates allow at most a few). Returns 0 or LOA_EINVAL (no person).
 */
int loa_rules_routes(const struct loa_rules *r, const struct loa_rules_request *req,
                     unsigned buttons, struct loa_rules_routes *out);

/**
 * The route for a staff reply typed in a conversation (capability E): inside the window free
 * text (RESPONSE); from 24 h to 7 days the HUMAN_AGENT tag; after that only through a topic the
 * person follows; otherwise refused with the rule that blocks it. topic_usable, when not NULL,
 * has person->token_count entries and is set to whether each token may carry the reply now
 * (what the composer lists). Returns 0 or LOA_EINVAL.
 */
int loa_rules_staff_reply(const struct loa_rules *r, const struct loa_rules_person *person,
                          enum loa_rules_purpose purpose, int64_t at,
                          struct loa_rules_decision *out, bool *topic_usable);

/** An opt-in invitation (notification_messages template) loa would send. */
struct loa_rules_invite {
    const char *topic_id;               /* the topic; borrowed */
    enum loa_rules_frequency frequency; /* the frequency it asks for */
    bool topic_inactive;                /* the topic is deactivated */
    int64_t last_invite_topic;          /* last invitation for this topic to this person; 0 never */
    int64_t last_invite_any;            /* last invitation of any topic to this person; 0 never */
    int64_t last_invite_same_title;     /* last invitation with the same title; 0 never */
};

/**
 * May loa send this opt-in invitation to this person now? Inside the window only, one per
 * window, the same title at most once a week, re-invite 7 days after an unanswered invitation
 * and only after expiry when accepted (a token for the topic in person->tokens), never for a
 * deactivated topic or after topics were retired. Returns 0 or LOA_EINVAL.
 */
int loa_rules_may_invite(const struct loa_rules *r, const struct loa_rules_person *person,
                         const struct loa_rules_invite *inv, int64_t at,
                         struct loa_rules_decision *out);

/** The content limits in force at at. Returns 0, or LOA_ENOENT (then *out is the default). */
int loa_rules_content_limits(const struct loa_rules *r, int64_t at, struct loa_limits *out);

/** Send API rate parameters. */
struct loa_rules_send_rate {
    unsigned calls_per_second;       /* per Page, text/links/reactions/stickers: 300 */
    unsigned media_calls_per_second; /* per Page, audio/video: 10 */
    unsigned calls_per_engaged_user; /* per rolling window: 200 x people the Page can message */
    int64_t rolling_window;          /* length of that window: 24 h */
};

/** The send-rate parameters in force at at. Returns 0 or LOA_ENOENT. */
int loa_rules_send_rate(const struct loa_rules *r, int64_t at, struct loa_rules_send_rate *out);

/* ---------------------------------------------------------------------------------------- */
/* Names and text                                                                            */

const char *loa_rules_action_name(enum loa_rules_action a);
/** "message", "postback", ... Returns 0 or LOA_EINVAL. */
int loa_rules_action_parse(const char *s, enum loa_rules_action *out);
const char *loa_rules_frequency_name(enum loa_rules_frequency f);
int loa_rules_frequency_parse(const char *s, enum loa_rules_frequency *out);
/** "RESPONSE", "UPDATE", "MESSAGE_TAG" ("" for NONE). */
const char *loa_rules_mtype_name(enum loa_rules_mtype t);
const char *loa_rules_route_name(enum loa_rules_route_kind k);

/**
 * Parses "auto", "window", "human_agent", "marketing", "tag:NAME", "topic:ID" or
 * "utility:TEMPLATE" (tag:HUMAN_AGENT is ROUTE_HUMAN_AGENT; a template so named counts as
 * approved). The tag, topic_id and template_id point into s. Returns 0 or LOA_EINVAL.
 */
int loa_rules_route_parse(const char *s, struct loa_rules_route *out);

/**
 * Appends a decision to out as one line of text ("refused: rule tags-2026 (effective
 * 2026-04-27, source ...): reason") or, when json is true, as one JSON object. Returns 0 or
 * LOA_ETOOBIG.
 */
int loa_rules_format_decision(const struct loa_rules_decision *d, bool json, struct loa_buf *out);

/**
 * Appends the entries in force at at (all entries when all is true) to out, one block per
 * entry, or a JSON array when json is true. Returns 0 or LOA_ETOOBIG.
 */
int loa_rules_format_list(const struct loa_rules *r, int64_t at, bool all, bool json,
                          struct loa_buf *out);

#endif /* LOA_RULES_H */
