/* SPDX-License-Identifier: MIT */
/*
 * The classification table: every outcome of a Graph request (success, Graph error code and
 * subcode, HTTP status without a Graph error, transport failure) maps to exactly one action.
 *
 * Matching picks the most specific row: an exact subcode counts most, then an exact code, then
 * an exact HTTP status, then an HTTP status class; ties go to the row that comes first. The
 * last row matches everything, so every input gets an action. The table is constant data and
 * safe to use from any thread. Rows come from ../shared/docs/messenger-platform.md §2.2 and §9
 * ("mp §2.2"), generic Graph codes ("graph"), and loa's own defaults ("loa").
 */
#include <loa/client.h>

#define ANY LOA_CLIENT_ANY

#define DONE    LOA_CLIENT_DONE
#define RETRY   LOA_CLIENT_RETRY
#define SLOW    LOA_CLIENT_SLOW_PAGE
#define SKIP    LOA_CLIENT_SKIP_PERSON
#define STOP    LOA_CLIENT_STOP_PAGE
#define UNKNOWN LOA_CLIENT_UNKNOWN

static const struct loa_client_rule rules[] = {
    /* Success and HTTP statuses without a Graph error body. */
    { 2, 0, ANY, DONE, "ok", "2xx JSON reply without an error object", "mp §1.8" },
    { 429, 0, ANY, SLOW, "http_429", "HTTP 429 without a Graph error", "loa" },
    { 4, 0, ANY, SKIP, "unknown_error", "4xx without a Graph error body", "loa default" },
    { 5, 0, ANY, RETRY, "server_error", "5xx without a Graph error body", "loa default" },

    /* Graph error codes (messenger-platform.md §2.2). */
    { ANY, 1, ANY, RETRY, "graph_unknown", "unknown error", "mp §2.2" },
    { ANY, 1, 99, RETRY, "graph_unknown", "unknown error; may be missing permissions", "mp §2.2" },
    { ANY, 1, 1357046, UNKNOWN, "may_have_been_sent",
      "invalid JSON reply; messages may have been sent", "mp §2.2" },
    { ANY, 2, ANY, RETRY, "temporary", "temporary or unexpected error", "mp §2.2, §9" },
    { ANY, 4, ANY, SLOW, "app_rate_limit", "application request limit reached", "mp §2.2, §9" },
    { ANY, 4, 2018354, SKIP, "cadence", "marketing message sent before the minimum gap",
      "mp §2.2, §9" },
    { ANY, 9, 2018352, SKIP, "optin_limit", "marketing message opt-in request limit exceeded",
      "mp §2.2" },
    { ANY, 10, ANY, SKIP, "not_permitted", "permission denied for this recipient", "graph" },
    { ANY, 10, 2018278, SKIP, "window_closed", "sent outside the allowed window", "mp §2.2, §9" },
    { ANY, 10, 2534022, SKIP, "window_closed", "outside the allowed window (newer variant)",
      "mp §2.2, §9" },
    { ANY, 10, 2018065, SKIP, "window_closed", "outside the window; needs News Messaging",
      "mp §2.2" },
    { ANY, 10, 2018108, SKIP, "user_unavailable", "user can't receive your messages now",
      "mp §2.2" },
    { ANY, 10, 1893015, SKIP, "token_stopped", "user pressed \"Stop these messages\"", "mp §2.2" },
    { ANY, 10, 1404170, SKIP, "optin_restricted", "Page restricted from sending opt-in requests",
      "mp §2.2" },
    { ANY, 10, 1893063, STOP, "page_restricted", "Page temporarily restricted from sending",
      "mp §2.2" },
    { ANY, 10, 2018336, SKIP, "thread_impact", "user thread impact", "mp §2.2" },
    { ANY, 17, ANY, SLOW, "user_rate_limit", "user request limit reached", "graph" },
    { ANY, 32, ANY, SLOW, "page_rate_limit", "Page-level rate limit", "mp §2.2, §9" },
    { ANY, 100, ANY, SKIP, "invalid_parameter",
      "invalid parameter (bad FBID, expired token, deprecated tag)", "mp §2.2" },
    { ANY, 100, 33, SKIP, "no_such_object", "object does not exist or no permission", "mp §2.2" },
    { ANY, 100, 2018001, SKIP, "no_matching_user", "no matching user found", "mp §2.2" },
    { ANY, 100, 2018008, SKIP, "bad_attachment", "attachment URL could not be fetched", "mp §1.5" },
    { ANY, 100, 2018047, SKIP, "bad_attachment", "media type does not match the file", "mp §1.5" },
    { ANY, 100, 2018074, SKIP, "bad_attachment", "invalid or foreign attachment id", "mp §1.5" },
    { ANY, 100, 2018109, SKIP, "bad_attachment", "attachment too large", "mp §1.5" },
    { ANY, 100, 2018294, SKIP, "bad_attachment", "video fetch timed out or corrupt", "mp §1.5" },
    { ANY, 100, 2018328, SKIP, "bad_message", "template needs a newer API version", "mp §1.6" },
    { ANY, 190, ANY, STOP, "invalid_token", "invalid OAuth access token", "mp §2.2" },
    { ANY, 200, ANY, STOP, "permission", "permission error (app not live, not approved)",
      "mp §2.2" },
    { ANY, 200, 1545041, SKIP, "user_unavailable", "this person isn't available right now",
      "mp §2.2, §9" },
    { ANY, 200, 2018028, STOP, "permission", "can't message non-role users until live",
      "mp §1.1, §2.2" },
    { ANY, 200, 2018021, SKIP, "phone_matching", "phone-number recipient not allowed", "mp §1.3" },
    { ANY, 200, 2018027, SKIP, "phone_matching", "phone-number matching fee required", "mp §1.3" },
    { ANY, 551, ANY, SKIP, "blocked", "person isn't receiving your messages", "mp §2.2, §9" },
    { ANY, 551, 1545041, SKIP, "user_unavailable", "person isn't available right now", "mp §2.2" },
    { ANY, 613, ANY, SLOW, "rate_limit", "custom rate limit", "graph, mp §2.2" },
    { ANY, 613, 1893016, SKIP, "optin_repeat", "repeated opt-in request on the same topic",
      "mp §2.2" },
    { ANY, 613, 2018338, SKIP, "tag_overuse", "too many tagged messages to this person",
      "mp §2.2" },
    { ANY, 613, 2534040, SLOW, "rate_limit", "API rate limit exceeded", "mp §2.2, §9" },
    /* Rows the docs give as a bare number: matched as a code and as a subcode of any code. */
    { ANY, 2018218, ANY, SKIP, "no_profile", "no profile (phone-number account)", "mp §2.2, §7" },
    { ANY, ANY, 2018218, SKIP, "no_profile", "no profile (phone-number account)", "mp §2.2, §7" },
    { ANY, 2018247, ANY, SKIP, "profile_permission", "no permission for profile fields",
      "mp §2.2, §7" },
    { ANY, ANY, 2018247, SKIP, "profile_permission", "no permission for profile fields",
      "mp §2.2, §7" },
    { ANY, 2018300, ANY, SKIP, "handover", "another app controls this thread", "mp §2.2" },
    { ANY, ANY, 2018300, SKIP, "handover", "another app controls this thread", "mp §2.2" },
    { ANY, 2018321, ANY, RETRY, "automated_flow", "thread in an automated Q&A flow", "mp §2.2" },
    { ANY, ANY, 2018321, RETRY, "automated_flow", "thread in an automated Q&A flow", "mp §2.2" },
    { ANY, 9000001, ANY, SKIP, "message_deleted", "message deleted by user or business",
      "mp §2.2" },
    { ANY, ANY, 9000001, SKIP, "message_deleted", "message deleted by user or business",
      "mp §2.2" },

    /* Transport failures (pseudo-codes; http is 0). */
    { ANY, LOA_CLIENT_EC_CONNECT, ANY, RETRY, "connect_failed",
      "connection refused, unreachable or DNS failure; nothing sent", "loa" },
    { ANY, LOA_CLIENT_EC_CONNECT_TIMEOUT, ANY, RETRY, "connect_timeout",
      "timed out before the request was sent", "loa" },
    { ANY, LOA_CLIENT_EC_SEND_FAILED, ANY, RETRY, "send_failed",
      "connection failed before any byte of the request was sent", "loa" },
    { ANY, LOA_CLIENT_EC_TLS, ANY, RETRY, "tls_error", "TLS handshake or verification failed",
      "loa" },
    { ANY, LOA_CLIENT_EC_TIMEOUT, ANY, UNKNOWN, "timeout_after_send",
      "request sent, no complete reply in time", "loa" },
    { ANY, LOA_CLIENT_EC_DROPPED, ANY, UNKNOWN, "dropped_after_send",
      "request sent, connection closed or empty reply", "loa" },
    { ANY, LOA_CLIENT_EC_BAD_REPLY, ANY, UNKNOWN, "bad_reply",
      "2xx reply that is not a JSON object, or too big", "loa" },
    { ANY, LOA_CLIENT_EC_CANCELED, ANY, RETRY, "canceled", "canceled before being sent", "loa" },
    { ANY, LOA_CLIENT_EC_CANCELED_SENT, ANY, UNKNOWN, "canceled_after_send",
      "canceled after the request was sent", "loa" },
    { ANY, LOA_CLIENT_EC_INTERNAL, ANY, RETRY, "internal_error", "the client failed locally",
      "loa" },

    /* Defaults for Graph codes the table does not know. */
    { 4, ANY, ANY, SKIP, "unknown_error", "unknown Graph error with a 4xx status", "loa default" },
    { 5, ANY, ANY, RETRY, "server_error", "unknown Graph error with a 5xx status", "loa default" },
    { ANY, ANY, ANY, RETRY, "unexpected", "anything else (1xx/3xx, error in a 2xx reply)",
      "loa default" },
};

const struct loa_client_rule *loa_client_rules(size_t *count_out)
{
    *count_out = sizeof(rules) / sizeof(rules[0]);
    return rules;
}

/* Returns the row's score for the input, or -1 when it does not match. */
static int score(const struct loa_client_rule *r, int http, int code, int subcode)
{
    int s = 0;
    if (r->subcode != ANY) {
        if (r->subcode != subcode)
            return -1;
        s += 16;
    }
    if (r->code != ANY) {
        if (r->code != code)
            return -1;
        s += 8;
    }
    if (r->http != ANY) {
        if (r->http >= 1 && r->http <= 5) {
            if (http / 100 != r->http)
                return -1;
            s += 1;
        } else {
            if (r->http != http)
                return -1;
            s += 2;
        }
    }
    return s;
}

void loa_client_classify(int http_status, int code, int subcode, enum loa_client_action *action_out,
                         const char **reason_out)
{
    const struct loa_client_rule *best = &rules[sizeof(rules) / sizeof(rules[0]) - 1];
    int best_score = -1;
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        int s = score(&rules[i], http_status, code, subcode);
        if (s > best_score) {
            best_score = s;
            best = &rules[i];
        }
    }
    *action_out = best->action;
    if (reason_out)
        *reason_out = best->reason;
}

const char *loa_client_action_name(enum loa_client_action action)
{
    switch (action) {
    case LOA_CLIENT_DONE:
        return "done";
    case LOA_CLIENT_RETRY:
        return "retry";
    case LOA_CLIENT_SLOW_PAGE:
        return "slow_page";
    case LOA_CLIENT_SKIP_PERSON:
        return "skip_person";
    case LOA_CLIENT_STOP_PAGE:
        return "stop_page";
    case LOA_CLIENT_UNKNOWN:
        return "unknown";
    }
    return "invalid";
}
