/* SPDX-License-Identifier: MIT */
/*
 * Graph API client: Send API and User Profile API requests over a pool of persistent
 * connections (libcurl multi interface underneath; no curl type appears here).
 *
 * Model. One thread owns a struct loa_client and makes every call on it (the only exception is
 * loa_client_wakeup()). Requests are submitted without blocking; loa_client_run() drives the
 * transfers and calls the completion callback once per request, on the owning thread, with a
 * struct loa_client_result that carries the classified action (see "Classification"). A
 * program with its own event loop sets the watch/timer callbacks in the options instead and
 * feeds readiness back through loa_client_on_socket() / loa_client_on_timer().
 *
 * Secrets. Access tokens and app secrets travel in request URLs (access_token,
 * appsecret_proof) and are never logged: the client logs paths without their query.
 *
 * Classification. Every outcome (success, Graph error code/subcode, HTTP status without a Graph
 * error, transport failure) maps through one table to exactly one action; the table is
 * loa_client_rules() and is printed in docs/graph-client.md. Transport failures use the
 * negative pseudo-codes LOA_CLIENT_EC_* in place of a Graph error code.
 */
#ifndef LOA_CLIENT_H
#define LOA_CLIENT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loa_client;

/** What the caller (the dispatcher) should do with the request and the Page. */
enum loa_client_action {
    LOA_CLIENT_DONE = 0,        /* accepted by Graph; nothing more to do */
    LOA_CLIENT_RETRY = 1,       /* not sent; send again later with backoff */
    LOA_CLIENT_SLOW_PAGE = 2,   /* throttle this Page for delay_ms; see result.accepted */
    LOA_CLIENT_SKIP_PERSON = 3, /* do not send this message to this person; reason says why */
    LOA_CLIENT_STOP_PAGE = 4,   /* stop every send for this Page until someone intervenes */
    LOA_CLIENT_UNKNOWN = 5,     /* ambiguous: the message may have been delivered; don't resend
                                   blindly (see docs/graph-client.md) */
};

/** Wildcard for the code, subcode and http fields of a rule. */
#define LOA_CLIENT_ANY INT_MIN

/*
 * Pseudo error codes for failures without a Graph error body. They take the place of the
 * Graph code in loa_client_classify() and in result.code; http_status is 0 for transport
 * failures (the code 0 itself means "no Graph error in the body").
 */
#define LOA_CLIENT_EC_CONNECT         (-1)  /* refused / unreachable / DNS: nothing was sent */
#define LOA_CLIENT_EC_CONNECT_TIMEOUT (-2)  /* timed out before the request was sent */
#define LOA_CLIENT_EC_SEND_FAILED     (-3)  /* connection failed while sending the request */
#define LOA_CLIENT_EC_TLS             (-4)  /* TLS handshake or certificate verification failed */
#define LOA_CLIENT_EC_TIMEOUT         (-5)  /* request sent, no complete reply in time */
#define LOA_CLIENT_EC_DROPPED         (-6)  /* request sent, connection closed/empty reply */
#define LOA_CLIENT_EC_BAD_REPLY       (-7)  /* 2xx reply that is not a JSON object, or too big */
#define LOA_CLIENT_EC_CANCELED        (-8)  /* canceled before the request was sent */
#define LOA_CLIENT_EC_CANCELED_SENT   (-9)  /* canceled after the request was sent */
#define LOA_CLIENT_EC_INTERNAL        (-10) /* the client itself failed (curl setup error) */

/** One row of the classification table. */
struct loa_client_rule {
    int http;                      /* exact status, 1..5 for a class (4 = 4xx), or ANY */
    int code;                      /* Graph code, 0 = no Graph error, LOA_CLIENT_EC_*, or ANY */
    int subcode;                   /* Graph error_subcode or ANY */
    enum loa_client_action action; /* what to do */
    const char *reason;            /* short machine-readable reason, e.g. "window_closed" */
    const char *meaning;           /* one line for people */
    const char *source;            /* where the row comes from */
};

/**
 * The classification table, in the order it is documented.
 * Returns: a static array; *count_out receives its length. Ownership: static, never freed.
 */
const struct loa_client_rule *loa_client_rules(size_t *count_out);

/**
 * Classifies an outcome. code is the Graph error code (0 when the body has none, or a
 * LOA_CLIENT_EC_* pseudo-code); subcode is error_subcode (0 when absent). The most specific
 * matching row wins: an exact subcode beats an exact code, which beats the HTTP status.
 * reason_out (may be NULL) receives a static string.
 */
void loa_client_classify(int http_status, int code, int subcode, enum loa_client_action *action_out,
                         const char **reason_out);

/** "done", "retry", "slow_page", "skip_person", "stop_page" or "unknown". */
const char *loa_client_action_name(enum loa_client_action action);

/** Usage reported by Graph in X-App-Usage / X-Business-Use-Case-Usage (percent of limit). */
struct loa_client_usage {
    bool has_app;          /* X-App-Usage parsed */
    int app_call_count;    /* percent */
    int app_total_cputime; /* percent */
    int app_total_time;    /* percent */
    bool has_buc;          /* X-Business-Use-Case-Usage parsed (entries for this Page) */
    int buc_call_count;    /* percent, highest over the Page's entries */
    int buc_total_cputime; /* percent, highest */
    int buc_total_time;    /* percent, highest */
    int buc_eta_minutes;   /* estimated_time_to_regain_access, highest, minutes */
    char buc_type[32];     /* type of the entry with the highest percentage ("" if none) */
    int max_percent;       /* the number compared with the threshold (BUC if present, else app) */
};

/**
 * Parses an X-App-Usage value such as {"call_count":28,"total_time":25,"total_cputime":25}.
 * Fills the app_* fields and has_app of *u, recomputes max_percent, leaves the rest.
 * Returns: 0, LOA_EPARSE (malformed; *u unchanged) or LOA_ETOOBIG (over 16 KiB; unchanged).
 */
int loa_client_parse_app_usage(const char *value, size_t len, struct loa_client_usage *u);

/**
 * Parses an X-Business-Use-Case-Usage value ({"<id>":[{"type",...}],...}). Entries under
 * page_id are used when present; otherwise (page_id NULL or not found) every entry counts, so
 * the result errs on the side of slowing down. Fills the buc_* fields, has_buc, max_percent.
 * Returns: 0, LOA_EPARSE (malformed; *u unchanged) or LOA_ETOOBIG (over 16 KiB; unchanged).
 */
int loa_client_parse_buc_usage(const char *value, size_t len, const char *page_id,
                               struct loa_client_usage *u);

/**
 * Exponential backoff with full jitter: a value in [0, min(cap_ms, base_ms * 2^attempt)],
 * picked by rnd (any 64-bit random number; the function itself is pure). attempt counts from 0.
 * Returns 0 when base_ms <= 0 or cap_ms <= 0.
 */
int64_t loa_client_backoff_ms(int64_t base_ms, int64_t cap_ms, unsigned attempt, uint64_t rnd);

/**
 * Computes appsecret_proof: lowercase hex HMAC-SHA256 of access_token keyed with app_secret.
 * out receives 64 hex digits and a NUL. Returns: 0 or LOA_ECRYPTO (libsodium unusable).
 */
int loa_client_appsecret_proof(const char *access_token, const char *app_secret, char out[65]);

/** Profile fields returned by the User Profile API. All strings may be NULL (not returned). */
struct loa_client_profile {
    char *id;          /* the PSID */
    char *name;        /* full name */
    char *first_name;  /* first name */
    char *last_name;   /* last name */
    char *profile_pic; /* URL; it expires */
    char *locale;      /* e.g. "en_US" */
    char *gender;      /* when approved */
    bool has_timezone; /* timezone present */
    double timezone;   /* hours from UTC, may be fractional */
};

/** Frees a profile from loa_client_fetch_profile(); NULL is a no-op. */
void loa_client_profile_free(struct loa_client_profile *p);

enum loa_client_kind {
    LOA_CLIENT_KIND_SEND = 0,          /* Send API POST */
    LOA_CLIENT_KIND_PROFILE = 1,       /* User Profile API GET */
    LOA_CLIENT_KIND_CONVERSATIONS = 2, /* GET {page-id}/conversations?user_id= */
    LOA_CLIENT_KIND_MESSAGES = 3,      /* GET {conversation-id}/messages */
};

/** One message of a conversation, as the Conversations API lists it. */
struct loa_client_thread_message {
    const char *id;     /* "m_..." */
    int64_t created_ms; /* created_time (second precision), ms since the epoch; 0 unknown */
    bool from_page;     /* from.id is the request's Page */
    const char *text;   /* message; "" for attachments only */
};

/**
 * A page of the Conversations API (borrowed during the callback): for CONVERSATIONS the
 * person's conversation id (NULL: they have none with the Page); for MESSAGES the messages,
 * newest first, and the cursor of the next (older) page (NULL: no more).
 */
struct loa_client_thread {
    const char *conversation_id;
    const struct loa_client_thread_message *messages;
    size_t count;
    const char *after;
};

/**
 * The outcome of one request, passed to the completion callback. Every pointer is borrowed and
 * valid only during the callback; copy what you keep.
 */
struct loa_client_result {
    enum loa_client_kind kind;                /* send or profile */
    void *user;                               /* the request's user pointer */
    const char *page_id;                      /* the request's Page id */
    int err;                                  /* 0, or LOA_ENET / LOA_ETIMEDOUT / LOA_ECANCELED /
                                                 LOA_EPARSE when there is no usable reply */
    int http_status;                          /* 0 when no response was received */
    int code;                                 /* Graph error code, 0 = none, or LOA_CLIENT_EC_* */
    int subcode;                              /* Graph error_subcode, 0 = none */
    const char *error_message;                /* Graph error message or curl's text; may be NULL */
    const char *error_type;                   /* Graph error type (OAuthException); may be NULL */
    const char *fbtrace_id;                   /* may be NULL */
    const char *message_id;                   /* send success: "m_..."; else NULL */
    const char *recipient_id;                 /* send success: the PSID; may be NULL */
    const struct loa_client_profile *profile; /* profile success; else NULL */
    const struct loa_client_thread *thread;   /* conversations/messages success; else NULL */
    bool accepted;                            /* Graph accepted the request (2xx, no error): the
                                                 message was sent even if action is SLOW_PAGE */
    enum loa_client_action action;            /* final action, after usage thresholds */
    enum loa_client_action table_action;      /* the table's action before usage thresholds */
    const char *reason;                       /* static string: the table's reason, or "app_usage" /
                                                 "buc_usage" when usage turned the action SLOW_PAGE */
    int64_t delay_ms;              /* suggested wait for SLOW_PAGE (Retry-After, usage ETA or
                                      the configured default); for RETRY the
                                      Retry-After header if any; else 0 */
    struct loa_client_usage usage; /* usage headers of this reply */
    int64_t elapsed_us;            /* from submit to completion */
    bool new_connection;           /* this request opened a new connection */
};

/** Completion callback. May submit new requests; must not free the client. */
typedef void (*loa_client_done_cb)(void *arg, const struct loa_client_result *result);

/* Event-loop integration: readiness flags. */
#define LOA_CLIENT_POLL_IN     1
#define LOA_CLIENT_POLL_OUT    2
#define LOA_CLIENT_POLL_REMOVE 4

/** Watch fd for events (LOA_CLIENT_POLL_IN|OUT) or stop watching it (POLL_REMOVE). */
typedef void (*loa_client_watch_cb)(void *loop, int fd, int events);
/** Call loa_client_on_timer() after timeout_ms; -1 cancels the timer. */
typedef void (*loa_client_timer_cb)(void *loop, int64_t timeout_ms);

/** Client settings. Initialise with loa_client_options_init() and change what you need. */
struct loa_client_options {
    const char *base_url;       /* "https://graph.facebook.com"; copied */
    const char *api_version;    /* "v25.0"; copied */
    const char *ca_file;        /* CA bundle for https, NULL = system default; copied */
    bool page_id_path;          /* POST /{page-id}/messages (true) or /me/messages */
    bool http2;                 /* offer HTTP/2 over TLS and multiplex (default true) */
    long connect_timeout_ms;    /* 5000 */
    long timeout_ms;            /* whole request, 30000 */
    long max_host_connections;  /* per host, 64 */
    long max_total_connections; /* 64 */
    long max_connects;          /* idle connection cache, 64 */
    size_t max_in_flight;       /* submit fails with LOA_EBUSY beyond this, 1024 */
    size_t max_reply_bytes;     /* a bigger reply is LOA_CLIENT_EC_BAD_REPLY, 1 MiB */
    int usage_threshold_pct;    /* usage at or above this turns the action SLOW_PAGE, 75 */
    int64_t slow_page_delay_ms; /* delay for SLOW_PAGE without a better hint, 60000 */
    size_t max_pages;           /* per-Page states kept, 100000 */
    loa_client_done_cb done;    /* completion callback (required) */
    void *done_arg;             /* first argument of done */
    loa_client_watch_cb watch;  /* event-loop mode when both watch and timer are set */
    loa_client_timer_cb timer;  /* see watch */
    void *loop;                 /* first argument of watch and timer */
};

/** Fills *o with the defaults above (done is NULL and must be set). */
void loa_client_options_init(struct loa_client_options *o);

/**
 * Creates a client. Returns: 0, LOA_EINVAL (bad option), LOA_ECONFIG (base_url not http(s)),
 * LOA_ECRYPTO or LOA_EIO (libcurl/libsodium initialisation). Ownership: free *out with
 * loa_client_free(); the options are copied.
 */
int loa_client_new(const struct loa_client_options *o, struct loa_client **out);

/**
 * Cancels whatever is in flight (each gets its callback with action RETRY or UNKNOWN, see
 * loa_client_cancel_all()) and frees the client. NULL is a no-op. Not from a callback.
 */
void loa_client_free(struct loa_client *c);

/** Who a request is for. Strings are borrowed for the duration of the call. */
struct loa_client_request {
    const char *page_id;      /* Page id ([A-Za-z0-9_.-], <= 64); path and per-Page state key */
    const char *access_token; /* Page access token; never logged */
    const char *app_secret;   /* NULL or "": no appsecret_proof */
    void *user;               /* handed back in the result */
};

/**
 * Submits a Send API request: POST {base}/{version}/{page-id|me}/messages with body_len bytes
 * of JSON (already encoded by the message module; copied). Does not block.
 * Returns: 0; LOA_EINVAL (bad page id, empty token or body); LOA_EBUSY (max_in_flight
 * reached: run the client and try again); LOA_ESTATE (called during cancellation).
 */
int loa_client_submit_send(struct loa_client *c, const struct loa_client_request *req,
                           const char *body, size_t body_len);

/**
 * Submits a User Profile look-up: GET {base}/{version}/{psid}?fields=... (fields NULL means
 * "first_name,last_name,profile_pic,locale,timezone,gender"). Returns as loa_client_submit_send.
 */
int loa_client_submit_profile(struct loa_client *c, const struct loa_client_request *req,
                              const char *psid, const char *fields);

/**
 * Submits a Conversations API look-up of the person's conversation with the Page:
 * GET {base}/{version}/{page-id}/conversations?platform=messenger&user_id={psid}. The result's
 * thread gives the conversation id (NULL when there is none). Returns as
 * loa_client_submit_send.
 */
int loa_client_submit_conversation(struct loa_client *c, const struct loa_client_request *req,
                                   const char *psid);

/**
 * Submits a page of a conversation's messages, newest first:
 * GET {base}/{version}/{conversation-id}/messages?fields=id,created_time,from,message
 * &limit={limit}[&after={after}] (limit 1..100, 0 = 25; after NULL = the newest page). The
 * result's thread lists them and the cursor of the next page. Returns as
 * loa_client_submit_send.
 */
int loa_client_submit_messages(struct loa_client *c, const struct loa_client_request *req,
                               const char *conversation_id, const char *after, int limit);

/**
 * Drives transfers: waits up to timeout_ms (0 = don't wait) for network activity or
 * loa_client_wakeup(), then calls the callback for each finished request.
 * Returns: the number of completions (>= 0), LOA_ESTATE in event-loop mode, or LOA_EIO.
 */
int loa_client_run(struct loa_client *c, int timeout_ms);

/** Event-loop mode: fd became ready for events. Returns completions (>= 0) or LOA_EIO. */
int loa_client_on_socket(struct loa_client *c, int fd, int events);
/** Event-loop mode: the timer requested through the timer callback fired. As on_socket. */
int loa_client_on_timer(struct loa_client *c);

/** Interrupts a loa_client_run() wait. Thread-safety: may be called from any thread. */
void loa_client_wakeup(struct loa_client *c);

/** Requests submitted and not yet completed. */
size_t loa_client_in_flight(const struct loa_client *c);

/**
 * Cancels every request in flight; each one's callback runs now with err LOA_ECANCELED and
 * action RETRY (code LOA_CLIENT_EC_CANCELED: nothing was sent) or UNKNOWN
 * (LOA_CLIENT_EC_CANCELED_SENT: the request had been sent). Returns how many were canceled.
 */
size_t loa_client_cancel_all(struct loa_client *c);

/** What the client remembers of a Page, from the last reply that concerned it. */
struct loa_client_page_state {
    struct loa_client_usage usage; /* last usage seen for the Page */
    int64_t usage_at_ms;           /* when (loa_now_ms), 0 = never */
    int64_t slow_until_ms;         /* loa_now_ms time before which to hold back, 0 = none */
    uint64_t accepted;             /* requests Graph accepted */
    uint64_t failed;               /* requests with any other outcome */
};

/** Copies the Page's state to *out. Returns: 0 or LOA_ENOENT (no reply seen for it). */
int loa_client_page_state(const struct loa_client *c, const char *page_id,
                          struct loa_client_page_state *out);

/** Counters, for tests and metrics. */
struct loa_client_stats {
    uint64_t submitted;   /* requests accepted by submit */
    uint64_t completed;   /* callbacks made */
    uint64_t connections; /* TCP connections opened (curl's NUM_CONNECTS summed) */
    size_t in_flight;     /* as loa_client_in_flight() */
};

void loa_client_get_stats(const struct loa_client *c, struct loa_client_stats *out);

/** The outcome of a blocking call, when there is no profile to return. */
struct loa_client_outcome {
    enum loa_client_action action; /* as in the result */
    const char *reason;            /* static */
    int http_status;               /* 0 without a response */
    int code;                      /* Graph code or LOA_CLIENT_EC_* */
    int subcode;                   /* Graph subcode */
    char message[256];             /* Graph error message (truncated), "" if none */
};

/**
 * Blocking profile look-up for the CLI: submits, runs the client until this request completes
 * (other requests in flight complete through the normal callback meanwhile).
 * Returns: 0 with *out set (free with loa_client_profile_free()); LOA_ENOENT (SKIP_PERSON:
 * no such user or no profile); LOA_EPERM (STOP_PAGE); LOA_EAGAIN (RETRY, SLOW_PAGE or
 * UNKNOWN); LOA_ESTATE in event-loop mode; or a submit error. outcome (may be NULL) is filled
 * in every case where a request was made.
 */
int loa_client_fetch_profile(struct loa_client *c, const struct loa_client_request *req,
                             const char *psid, const char *fields, struct loa_client_profile **out,
                             struct loa_client_outcome *outcome);

#endif /* LOA_CLIENT_H */
