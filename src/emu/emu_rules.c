/* SPDX-License-Identifier: MIT */
/*
 * The emulator's rules checks (see emu_rules.h). Pure: no clock, no locks, no globals that
 * change. Content limits are counted in UTF-8 code points, as Meta counts characters.
 */
#include "emu_rules.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <loa/utf8.h>

#define WINDOW_MS      ((int64_t)24 * 3600 * 1000)
#define AD_WINDOW_MS   ((int64_t)7 * 24 * 3600 * 1000)
#define HUMAN_AGENT_MS ((int64_t)7 * 24 * 3600 * 1000)
#define TITLE_WEEK_MS  ((int64_t)7 * 24 * 3600 * 1000)
#define CADENCE_24H_MS ((int64_t)24 * 3600 * 1000)
#define CADENCE_48H_MS ((int64_t)48 * 3600 * 1000)
#define DEFAULT_TOPIC  "Updates and Promotions"
#define MSG_WINDOW                                                                           \
    "(#10) This message is sent outside of allowed window. Learn more about the new policy " \
    "here: https://developers.facebook.com/docs/messenger-platform/policy-overview"

/* Content limits (characters). */
enum {
    TEXT_MAX = 2000,
    QUICK_REPLIES_MAX = 13,
    QR_TITLE_MAX = 20,
    PAYLOAD_MAX = 1000,
    ELEMENTS_MAX = 10,
    ELEMENT_TITLE_MAX = 80,
    ELEMENT_SUBTITLE_MAX = 80,
    BUTTONS_MAX = 3,
    BUTTON_TITLE_MAX = 20,
    BUTTON_TEXT_MAX = 640,
    METADATA_MAX = 1000, /* exclusive: metadata must be shorter */
};

static const char *const rule_names[] = { "",
#define EMU__RULE_NAME(id, name) name,
                                          EMU_RULE_MAP(EMU__RULE_NAME)
#undef EMU__RULE_NAME
};

static const char *const action_names[EMU_ACT_COUNT_] = {
    [EMU_ACT_NONE] = "",
    [EMU_ACT_MESSAGE] = "message",
    [EMU_ACT_POSTBACK] = "postback",
    [EMU_ACT_QUICK_REPLY] = "quick_reply",
    [EMU_ACT_REACTION] = "reaction",
    [EMU_ACT_REFERRAL] = "referral",
    [EMU_ACT_AD_REFERRAL] = "ad_referral",
    [EMU_ACT_OPTIN_ACCEPT] = "optin_accept",
    [EMU_ACT_OPTIN_STOP] = "optin_stop",
    [EMU_ACT_OPTIN_RESUME] = "optin_resume",
    [EMU_ACT_READ] = "read",
    [EMU_ACT_DELIVERY] = "delivery",
};

/* The 17 tags of 2016-2020. */
static const char *const tags_old[] = {
    "ACCOUNT_UPDATE",
    "APPLICATION_UPDATE",
    "APPOINTMENT_UPDATE",
    "COMMUNITY_ALERT",
    "CONFIRMED_EVENT_REMINDER",
    "FEATURE_FUNCTIONALITY_UPDATE",
    "GAME_EVENT",
    "HUMAN_AGENT",
    "ISSUE_RESOLUTION",
    "NON_PROMOTIONAL_SUBSCRIPTION",
    "PAIRING_UPDATE",
    "PAYMENT_UPDATE",
    "PERSONAL_FINANCE_UPDATE",
    "RESERVATION_UPDATE",
    "SHIPPING_UPDATE",
    "TICKET_UPDATE",
    "TRANSPORTATION_UPDATE",
};

/* The four tags of 2020-03-04 .. 2026-04-26 (HUMAN_AGENT outlives the other three). */
static const char *const tags_2020[] = {
    "CONFIRMED_EVENT_UPDATE",
    "POST_PURCHASE_UPDATE",
    "ACCOUNT_UPDATE",
    "HUMAN_AGENT",
};

const char *emu_rule_name(enum emu_rule rule)
{
    if ((int)rule < 0 || rule >= EMU_RULE_COUNT_)
        return "";
    return rule_names[rule];
}

enum emu_action_kind emu_action_parse(const char *s)
{
    if (!s)
        return EMU_ACT_NONE;
    for (int k = 1; k < EMU_ACT_COUNT_; k++)
        if (strcmp(s, action_names[k]) == 0)
            return (enum emu_action_kind)k;
    return EMU_ACT_NONE;
}

const char *emu_action_name(enum emu_action_kind kind)
{
    if ((int)kind < 0 || kind >= EMU_ACT_COUNT_)
        return "";
    return action_names[kind];
}

bool emu_action_opens_window(enum emu_action_kind kind)
{
    switch (kind) {
    case EMU_ACT_MESSAGE:
    case EMU_ACT_POSTBACK:
    case EMU_ACT_QUICK_REPLY:
    case EMU_ACT_REACTION:
    case EMU_ACT_REFERRAL:
    case EMU_ACT_AD_REFERRAL:
        return true;
    default:
        return false;
    }
}

void emu_person_rules_init(struct emu_person_rules *p)
{
    memset(p, 0, sizeof(*p));
    p->window_at_ms = -1;
    p->optin_request_at_ms = -1;
}

void emu_rules_conf_default(struct emu_rules_conf *c)
{
    c->recurring_retired_ms = EMU_DATE_RECURRING_RETIRED;
}

enum emu_mtype emu_mtype_parse(const char *s)
{
    if (!s)
        return EMU_MT_NONE;
    if (strcmp(s, "RESPONSE") == 0)
        return EMU_MT_RESPONSE;
    if (strcmp(s, "UPDATE") == 0)
        return EMU_MT_UPDATE;
    if (strcmp(s, "MESSAGE_TAG") == 0)
        return EMU_MT_MESSAGE_TAG;
    return EMU_MT_INVALID;
}

const char *emu_mtype_name(enum emu_mtype m)
{
    switch (m) {
    case EMU_MT_RESPONSE:
        return "RESPONSE";
    case EMU_MT_UPDATE:
        return "UPDATE";
    case EMU_MT_MESSAGE_TAG:
        return "MESSAGE_TAG";
    default:
        return "";
    }
}

__attribute__((format(printf, 5, 6))) static bool
refuse(struct emu_verdict *v, int code, int subcode, enum emu_rule rule, const char *fmt, ...)
{
    v->code = code;
    v->subcode = subcode;
    v->rule = rule;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->message, sizeof(v->message), fmt, ap);
    va_end(ap);
    return false;
}

static bool accept(struct emu_verdict *v)
{
    v->code = 0;
    v->subcode = 0;
    v->rule = EMU_RULE_NONE;
    v->message[0] = '\0';
    return true;
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h ? h : 1;
}

/* ---- content ------------------------------------------------------------------------------ */

/* Checks that obj[key] is absent (when optional) or a string of at most max characters (strict:
 * fewer than max). path names the field in the error. */
static bool check_str(const json_t *obj, const char *key, bool required, size_t max, bool strict,
                      const char *path, struct emu_verdict *v)
{
    const json_t *s = json_object_get(obj, key);
    if (!s) {
        if (required)
            return refuse(v, 100, 0, EMU_RULE_CONTENT, "(#100) %s.%s is required", path, key);
        return true;
    }
    if (!json_is_string(s))
        return refuse(v, 100, 0, EMU_RULE_CONTENT, "(#100) %s.%s must be a string", path, key);
    const char *str = json_string_value(s);
    size_t len = json_string_length(s);
    if (!loa_utf8_valid(str, len))
        return refuse(v, 100, 0, EMU_RULE_CONTENT, "(#100) %s.%s is not valid UTF-8", path, key);
    size_t n = loa_utf8_count(str, len);
    if (strict ? n >= max : n > max)
        return refuse(v, 100, 0, EMU_RULE_CONTENT,
                      "(#100) %s.%s must be %s %zu characters (got %zu)", path, key,
                      strict ? "fewer than" : "at most", max, n);
    return true;
}

static bool check_buttons(const json_t *buttons, size_t min, const char *path,
                          struct emu_verdict *v)
{
    if (!buttons && min == 0)
        return true;
    if (!json_is_array(buttons))
        return refuse(v, 100, 0, EMU_RULE_CONTENT, "(#100) %s.buttons must be an array", path);
    size_t n = json_array_size(buttons);
    if (n < min || n > BUTTONS_MAX)
        return refuse(v, 100, 0, EMU_RULE_CONTENT,
                      "(#100) %s.buttons must hold %zu to %d buttons (got %zu)", path, min,
                      BUTTONS_MAX, n);
    for (size_t i = 0; i < n; i++) {
        char bp[200];
        snprintf(bp, sizeof(bp), "%s.buttons[%zu]", path, i);
        const json_t *b = json_array_get(buttons, i);
        if (!json_is_object(b))
            return refuse(v, 100, 0, EMU_RULE_CONTENT, "(#100) %s must be an object", bp);
        const char *type = json_string_value(json_object_get(b, "type"));
        if (!type)
            return refuse(v, 100, 0, EMU_RULE_CONTENT, "(#100) %s.type is required", bp);
        bool titled = strcmp(type, "web_url") == 0 || strcmp(type, "postback") == 0 ||
                      strcmp(type, "phone_number") == 0;
        if (!check_str(b, "title", titled, BUTTON_TITLE_MAX, false, bp, v))
            return false;
        if (strcmp(type, "postback") == 0 || strcmp(type, "phone_number") == 0) {
            if (!check_str(b, "payload", true, PAYLOAD_MAX, false, bp, v))
                return false;
        } else if (strcmp(type, "web_url") == 0) {
            if (!check_str(b, "url", true, 2048, false, bp, v))
                return false;
        }
    }
    return true;
}

static bool check_quick_replies(const json_t *qrs, struct emu_verdict *v)
{
    if (!qrs)
        return true;
    if (!json_is_array(qrs))
        return refuse(v, 100, 0, EMU_RULE_CONTENT, "(#100) message.quick_replies must be an array");
    size_t n = json_array_size(qrs);
    if (n > QUICK_REPLIES_MAX)
        return refuse(v, 100, 0, EMU_RULE_CONTENT,
                      "(#100) message.quick_replies must hold at most %d items (got %zu)",
                      QUICK_REPLIES_MAX, n);
    for (size_t i = 0; i < n; i++) {
        char qp[64];
        snprintf(qp, sizeof(qp), "message.quick_replies[%zu]", i);
        const json_t *q = json_array_get(qrs, i);
        if (!json_is_object(q))
            return refuse(v, 100, 0, EMU_RULE_CONTENT, "(#100) %s must be an object", qp);
        const char *ct = json_string_value(json_object_get(q, "content_type"));
        if (!ct)
            return refuse(v, 100, 0, EMU_RULE_CONTENT, "(#100) %s.content_type is required", qp);
        bool text = strcmp(ct, "text") == 0;
        if (!text && strcmp(ct, "user_phone_number") != 0 && strcmp(ct, "user_email") != 0 &&
            strcmp(ct, "location") != 0)
            return refuse(v, 100, 0, EMU_RULE_CONTENT,
                          "(#100) %s.content_type must be text, user_phone_number or user_email",
                          qp);
        if (!check_str(q, "title", text, QR_TITLE_MAX, false, qp, v))
            return false;
        if (!check_str(q, "payload", text, PAYLOAD_MAX, false, qp, v))
            return false;
    }
    return true;
}

static bool check_generic(const json_t *payload, struct emu_verdict *v)
{
    const json_t *els = json_object_get(payload, "elements");
    if (!json_is_array(els) || json_array_size(els) == 0)
        return refuse(v, 100, 0, EMU_RULE_CONTENT,
                      "(#100) message.attachment.payload.elements must be a non-empty array");
    size_t n = json_array_size(els);
    if (n > ELEMENTS_MAX)
        return refuse(v, 100, 0, EMU_RULE_CONTENT,
                      "(#100) message.attachment.payload.elements must hold at most %d elements "
                      "(got %zu)",
                      ELEMENTS_MAX, n);
    for (size_t i = 0; i < n; i++) {
        char ep[96];
        snprintf(ep, sizeof(ep), "message.attachment.payload.elements[%zu]", i);
        const json_t *e = json_array_get(els, i);
        if (!json_is_object(e))
            return refuse(v, 100, 0, EMU_RULE_CONTENT, "(#100) %s must be an object", ep);
        if (!check_str(e, "title", true, ELEMENT_TITLE_MAX, false, ep, v) ||
            !check_str(e, "subtitle", false, ELEMENT_SUBTITLE_MAX, false, ep, v) ||
            !check_buttons(json_object_get(e, "buttons"), 0, ep, v))
            return false;
    }
    return true;
}

static bool check_attachment(const json_t *att, struct emu_send_req *req, struct emu_verdict *v)
{
    if (!json_is_object(att))
        return refuse(v, 100, 0, EMU_RULE_CONTENT, "(#100) message.attachment must be an object");
    const char *type = json_string_value(json_object_get(att, "type"));
    if (!type)
        return refuse(v, 100, 0, EMU_RULE_CONTENT, "(#100) message.attachment.type is required");
    const json_t *payload = json_object_get(att, "payload");
    if (strcmp(type, "template") != 0) {
        if (strcmp(type, "image") != 0 && strcmp(type, "audio") != 0 &&
            strcmp(type, "video") != 0 && strcmp(type, "file") != 0)
            return refuse(v, 100, 0, EMU_RULE_CONTENT,
                          "(#100) message.attachment.type must be image, audio, video, file or "
                          "template");
        if (!json_is_object(payload))
            return refuse(v, 100, 0, EMU_RULE_CONTENT,
                          "(#100) message.attachment.payload must be an object");
        return true;
    }
    if (!json_is_object(payload))
        return refuse(v, 100, 0, EMU_RULE_CONTENT,
                      "(#100) message.attachment.payload must be an object");
    const char *tt = json_string_value(json_object_get(payload, "template_type"));
    if (!tt)
        return refuse(v, 100, 0, EMU_RULE_CONTENT,
                      "(#100) message.attachment.payload.template_type is required");
    if (strcmp(tt, "generic") == 0)
        return check_generic(payload, v);
    if (strcmp(tt, "button") == 0) {
        return check_str(payload, "text", true, BUTTON_TEXT_MAX, false,
                         "message.attachment.payload", v) &&
               check_buttons(json_object_get(payload, "buttons"), 1, "message.attachment.payload",
                             v);
    }
    if (strcmp(tt, "notification_messages") == 0) {
        if (!check_str(payload, "title", false, 65, false, "message.attachment.payload", v) ||
            !check_str(payload, "payload", false, PAYLOAD_MAX, false, "message.attachment.payload",
                       v))
            return false;
        req->optin_request = true;
        const char *title = json_string_value(json_object_get(payload, "title"));
        req->optin_title = title && *title ? title : DEFAULT_TOPIC;
    }
    return true;
}

bool emu_rules_check_content(const json_t *message, struct emu_send_req *req, struct emu_verdict *v)
{
    req->optin_request = false;
    req->optin_title = NULL;
    if (!json_is_object(message))
        return refuse(v, 100, 0, EMU_RULE_CONTENT, "(#100) message must be an object");
    const json_t *text = json_object_get(message, "text");
    const json_t *att = json_object_get(message, "attachment");
    if (text && att)
        return refuse(v, 100, 0, EMU_RULE_CONTENT,
                      "(#100) message.text and message.attachment cannot both be set");
    if (!text && !att)
        return refuse(v, 100, 0, EMU_RULE_CONTENT,
                      "(#100) message.text or message.attachment is required");
    if (text && !check_str(message, "text", true, TEXT_MAX, false, "message", v))
        return false;
    if (text && json_string_length(text) == 0)
        return refuse(v, 100, 0, EMU_RULE_CONTENT, "(#100) message.text must not be empty");
    if (att && !check_attachment(att, req, v))
        return false;
    if (!check_quick_replies(json_object_get(message, "quick_replies"), v))
        return false;
    if (!check_str(message, "metadata", false, METADATA_MAX, true, "message", v))
        return false;
    return accept(v);
}

/* ---- rules -------------------------------------------------------------------------------- */

static bool in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

static bool window_open(const struct emu_person_rules *p, int64_t now)
{
    if (!p || p->window_at_ms < 0)
        return false;
    int64_t len = WINDOW_MS;
    if (p->window_from_ad && now >= EMU_DATE_AD_WINDOW_7D)
        len = AD_WINDOW_MS;
    return now - p->window_at_ms < len;
}

static bool check_tag(const struct emu_send_req *req, const struct emu_person_rules *p, int64_t now,
                      struct emu_verdict *v)
{
    const char *tag = req->tag;
    if (!tag || !*tag)
        return refuse(v, 100, 0, EMU_RULE_TAG_MISSING,
                      "(#100) tag is required when messaging_type is MESSAGE_TAG");
    bool old = in_list(tag, tags_old, sizeof(tags_old) / sizeof(tags_old[0]));
    bool cur = in_list(tag, tags_2020, sizeof(tags_2020) / sizeof(tags_2020[0]));
    if (!old && !cur)
        return refuse(v, 100, 0, EMU_RULE_TAG_UNKNOWN, "(#100) tag %s is not a valid message tag",
                      tag);
    if (now < EMU_DATE_TAGS_2020) {
        if (!old)
            return refuse(v, 100, 0, EMU_RULE_TAG_UNKNOWN,
                          "(#100) tag %s is not available before 2020-03-04", tag);
    } else if (now < EMU_DATE_TAGS_2026) {
        if (!cur)
            return refuse(v, 100, 0, EMU_RULE_TAG_RETIRED,
                          "(#100) tag %s was retired on 2020-03-04", tag);
    } else if (strcmp(tag, "HUMAN_AGENT") != 0) {
        return refuse(v, 100, 0, EMU_RULE_TAG_RETIRED, "(#100) tag %s was retired on %s", tag,
                      cur ? "2026-04-27" : "2020-03-04");
    }
    if (strcmp(tag, "HUMAN_AGENT") == 0 &&
        (!p || p->window_at_ms < 0 || now - p->window_at_ms >= HUMAN_AGENT_MS))
        return refuse(v, 10, 2018278, EMU_RULE_HUMAN_AGENT_WINDOW,
                      "(#10) HUMAN_AGENT messages may only be sent within 7 days of the "
                      "person's last message");
    return true;
}

static bool check_token(const struct emu_rules_conf *conf, const struct emu_token_rules *t,
                        int64_t now, struct emu_verdict *v)
{
    if (now >= conf->recurring_retired_ms)
        return refuse(v, 100, 0, EMU_RULE_RECURRING_RETIRED,
                      "(#100) Recurring Notifications (notification_messages) have been retired");
    if (!t || now >= t->expiry_ms)
        return refuse(v, 100, 0, EMU_RULE_TOKEN_INVALID,
                      "(#100) recipient.notification_messages_token is invalid or expired");
    if (t->stopped)
        return refuse(v, 10, 1893015, EMU_RULE_TOKEN_STOPPED,
                      "(#10) The person has stopped these notification messages");
    int64_t gap = now >= EMU_DATE_CADENCE_48H ? CADENCE_48H_MS : CADENCE_24H_MS;
    if (t->last_sent_ms >= 0 && now - t->last_sent_ms < gap)
        return refuse(v, 4, 2018354, EMU_RULE_TOKEN_CADENCE,
                      "(#4) A notification message was already sent with this token in the last "
                      "%d hours",
                      (int)(gap / 3600000));
    return true;
}

static bool check_optin_request(const struct emu_rules_conf *conf, const struct emu_send_req *req,
                                const struct emu_person_rules *p, int64_t now,
                                struct emu_verdict *v)
{
    if (now >= conf->recurring_retired_ms)
        return refuse(v, 100, 0, EMU_RULE_RECURRING_RETIRED,
                      "(#100) notification_messages opt-in requests have been retired");
    if (!window_open(p, now))
        return refuse(v, 10, 2018278, EMU_RULE_OPTIN_WINDOW,
                      "(#10) Opt-in requests may only be sent inside the standard messaging "
                      "window");
    if (p->optin_request_at_ms >= 0 && p->optin_request_at_ms >= p->window_at_ms)
        return refuse(v, 613, 1893016, EMU_RULE_OPTIN_PER_WINDOW,
                      "(#613) Only one opt-in request may be sent per messaging window");
    uint64_t h = fnv1a(req->optin_title ? req->optin_title : DEFAULT_TOPIC);
    for (int i = 0; i < EMU_TITLES_MAX; i++)
        if (p->titles[i].hash == h && now - p->titles[i].at_ms < TITLE_WEEK_MS)
            return refuse(v, 613, 1893016, EMU_RULE_OPTIN_TITLE_WEEK,
                          "(#613) An opt-in request with this title was sent to this person in "
                          "the last 7 days");
    return true;
}

bool emu_rules_check(const struct emu_rules_conf *conf, const struct emu_send_req *req,
                     const struct emu_person_rules *person, const struct emu_token_rules *token,
                     int64_t now, struct emu_verdict *v)
{
    if (req->to_token) {
        if (req->mtype == EMU_MT_INVALID)
            return refuse(v, 100, 0, EMU_RULE_MESSAGING_TYPE,
                          "(#100) messaging_type must be RESPONSE, UPDATE or MESSAGE_TAG");
        if (!check_token(conf, token, now, v))
            return false;
        if (req->optin_request)
            return refuse(v, 100, 0, EMU_RULE_CONTENT,
                          "(#100) an opt-in request cannot be sent with a notification token");
        return accept(v);
    }
    if (req->mtype == EMU_MT_NONE && now >= EMU_DATE_MESSAGING_TYPE_REQUIRED)
        return refuse(v, 100, 0, EMU_RULE_MESSAGING_TYPE,
                      "(#100) messaging_type is required (RESPONSE, UPDATE or MESSAGE_TAG)");
    if (req->mtype == EMU_MT_INVALID)
        return refuse(v, 100, 0, EMU_RULE_MESSAGING_TYPE,
                      "(#100) messaging_type must be RESPONSE, UPDATE or MESSAGE_TAG");
    if (req->optin_request)
        return check_optin_request(conf, req, person, now, v) && accept(v);
    if (req->mtype == EMU_MT_MESSAGE_TAG)
        return check_tag(req, person, now, v) && accept(v);
    if (!window_open(person, now))
        return refuse(v, 10, 2018278, EMU_RULE_WINDOW, MSG_WINDOW);
    return accept(v);
}

void emu_rules_note_sent(const struct emu_send_req *req, struct emu_person_rules *person,
                         struct emu_token_rules *token, int64_t now)
{
    if (req->to_token && token)
        token->last_sent_ms = now;
    if (req->optin_request && person) {
        person->optin_request_at_ms = now;
        uint64_t h = fnv1a(req->optin_title ? req->optin_title : DEFAULT_TOPIC);
        int slot = 0;
        for (int i = 0; i < EMU_TITLES_MAX; i++) {
            if (person->titles[i].hash == h) {
                slot = i;
                break;
            }
            if (person->titles[i].at_ms < person->titles[slot].at_ms)
                slot = i;
        }
        person->titles[slot].hash = h;
        person->titles[slot].at_ms = now;
    }
}

void emu_rules_note_action(struct emu_person_rules *person, enum emu_action_kind kind,
                           int64_t at_ms)
{
    if (!emu_action_opens_window(kind))
        return;
    if (at_ms < person->window_at_ms)
        return; /* an older action never shortens the window */
    person->window_at_ms = at_ms;
    person->window_from_ad = kind == EMU_ACT_AD_REFERRAL;
}
