/* SPDX-License-Identifier: MIT */
/*
 * loa-graph internals: the emulator's state shared by its files.
 *
 *   main.c / emu_args.c   command line, signals, start and stop
 *   emu_http.c            libmicrohttpd server, request bodies, routing, latency and drops
 *   emu_send.c            Send API, profile look-ups, Graph batch
 *   emu_conv.c            Conversations API, answered from the message log
 *   emu_rules.c           the rules checks (pure; see emu_rules.h)
 *   emu_state.c           Pages, people and notification tokens
 *   emu_admin.c           the /_admin API
 *   emu_webhook.c         the webhook sender thread (libcurl)
 *   emu_clock.c           real or fake clock
 *   emu_faults.c          fault injection and per-Page rate limiting
 *   emu_log.c             the log of accepted messages, statistics
 *
 * Locking: emu.state_lock (a rwlock) guards the hash tables of Pages, people and tokens; Send API
 * requests hold it for reading, admin writes that add or remove entries hold it for writing. A
 * person's mutable state is guarded by the person's own mutex (tokens of a person too). Counters
 * are atomics. The message log has its own mutex.
 */
#ifndef LOA_EMU_INT_H
#define LOA_EMU_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uthash.h>

#include <jansson.h>

#include <loa/buf.h>

#include "emu_rules.h"

struct emu;
struct emu_page;

#define EMU_ID_MAX        64                 /* Page ids, PSIDs */
#define EMU_BODY_MAX      ((size_t)64 << 20) /* request bodies (bulk people loads are big) */
#define EMU_LOG_CHUNK     65536
#define EMU_LOG_CHUNKS    8192 /* 536 M entries at most */
#define EMU_WEBHOOK_QUEUE 200000
#define EMU_PPM           1000000u /* probabilities are kept in parts per million */

/* ---- arguments ---------------------------------------------------------------------------- */

struct emu_args {
    char host[64];                /* --listen host */
    int port;                     /* --listen port (0 = pick one) */
    const char *port_file;        /* --port-file */
    const char *webhook_url;      /* --webhook-url */
    const char *app_secret;       /* --app-secret: default secret for Pages without one */
    bool fake_clock;              /* --clock fake */
    int64_t now_ms;               /* --now, or -1 */
    double rate_limit;            /* --rate-limit: calls/s per Page */
    int threads;                  /* --threads */
    int64_t recurring_retired_ms; /* --recurring-retired */
};

/**
 * Parses argv into out. Returns 0, 1 when --help was printed, or LOA_EINVAL after printing a
 * precise message to err.
 */
int emu_args_parse(int argc, char **argv, struct emu_args *out, char *err, size_t err_size);
void emu_args_usage(const char *prog);

/* ---- clock -------------------------------------------------------------------------------- */

struct emu_clock {
    _Atomic bool fake;
    _Atomic int64_t fake_ms;   /* the time in fake mode */
    _Atomic int64_t offset_ms; /* added to the real clock in real mode */
};

void emu_clock_init(struct emu_clock *c, bool fake, int64_t now_ms);
int64_t emu_clock_now(struct emu_clock *c);
/** Switches to fake mode at ms. */
void emu_clock_set(struct emu_clock *c, int64_t ms);
/** Moves the clock forward (fake mode; real mode switches to fake first). */
void emu_clock_advance(struct emu_clock *c, int64_t delta_ms);

/* ---- state -------------------------------------------------------------------------------- */

struct emu_token;

/** One simulated person of one Page. Fields below `lock` are guarded by it. */
struct emu_person {
    UT_hash_handle hh; /* in page->people, key psid */
    char psid[EMU_ID_MAX];
    char *first_name;
    char *last_name;
    char *gender;
    char *locale;
    int timezone;
    struct emu_page *page; /* borrowed */
    pthread_mutex_t lock;
    struct emu_person_rules rules;
    int64_t last_action_ms; /* -1 = none */
    enum emu_action_kind last_action_kind;
    int64_t last_sent_ms; /* last accepted message to this person (watermarks) */
};

/** A Page. Immutable after creation except the rate bucket (guarded by rate_lock). */
struct emu_page {
    UT_hash_handle hh;       /* in emu.pages_by_id */
    UT_hash_handle hh_token; /* in emu.pages_by_token */
    char id[EMU_ID_MAX];
    char *name;
    char *access_token;
    char *app_secret; /* NULL = the --app-secret default */
    struct emu_person *people;
    pthread_mutex_t rate_lock;
    double rate_tokens;
    int64_t rate_last_ns;
    double conv_tokens; /* the Conversations API's own bucket (EMU_CONV_RATE) */
    int64_t conv_last_ns;
};

/** A notification_messages token; its rules state is guarded by person->lock. */
struct emu_token {
    UT_hash_handle hh; /* in emu.tokens */
    char *token;
    char *title;
    struct emu_person *person; /* borrowed */
    struct emu_token_rules rules;
};

/* ---- faults ------------------------------------------------------------------------------- */

struct emu_fault {
    char page_id[EMU_ID_MAX]; /* "" = every Page */
    int code;
    int subcode;
    int http_status;
    uint32_t rate_ppm;
    uint32_t drop_ppm;
    int latency_ms;
};

#define EMU_FAULTS_MAX 16

struct emu_faults {
    pthread_mutex_t lock;
    _Atomic int count; /* 0 = the fast path skips the lock */
    struct emu_fault f[EMU_FAULTS_MAX];
};

/** What a Graph request should suffer. */
struct emu_fault_hit {
    bool drop;
    int latency_ms;
    int code; /* 0 = no injected error */
    int subcode;
    int http_status;
};

/** Decides the faults for one request to page_id (NULL = unknown Page). */
void emu_faults_roll(struct emu_faults *f, const char *page_id, struct emu_fault_hit *out);
/** True when a send to page may proceed under the per-Page rate limit. */
bool emu_rate_take(struct emu_page *page, double rate_per_s);
/** Conversations API calls per second per Page (Meta: 2). */
#define EMU_CONV_RATE 2.0
/** True when a Conversations API call to page may proceed under EMU_CONV_RATE. */
bool emu_conv_rate_take(struct emu_page *page);

/* ---- log and stats ------------------------------------------------------------------------ */

struct emu_log_entry {
    int64_t seq;
    int64_t at_ms;
    struct emu_person *person; /* borrowed; valid until reset */
    enum emu_mtype mtype;
    char *tag;  /* owned, or NULL */
    char *body; /* owned: the request as JSON */
};

struct emu_log {
    pthread_mutex_t lock;
    _Atomic int64_t count;
    char mid_prefix[16]; /* makes mids unique across resets and runs */
    struct emu_log_entry *chunks[EMU_LOG_CHUNKS];
};

struct emu_stats {
    _Atomic uint64_t accepted;
    _Atomic uint64_t refused;
    _Atomic uint64_t violations;
    _Atomic uint64_t by_rule[EMU_RULE_COUNT_];
    _Atomic uint64_t rate_limited;
    _Atomic uint64_t faults_injected;
    _Atomic uint64_t webhooks_sent;
    _Atomic uint64_t webhooks_failed;
    _Atomic uint64_t webhooks_dropped;
};

void emu_log_init(struct emu_log *log);
void emu_log_release(struct emu_log *log);
/** Drops every entry and picks a new mid prefix (callers hold state_lock for writing). */
void emu_log_reset(struct emu_log *log);
/** Appends an accepted message; takes ownership of body. Returns its seq (from 1). */
int64_t emu_log_append(struct emu_log *log, int64_t at_ms, struct emu_person *person,
                       enum emu_mtype mtype, const char *tag, char *body);
/** The entry with seq (1..count); borrowed. */
const struct emu_log_entry *emu_log_get(struct emu_log *log, int64_t seq);
/** Appends the JSON object of an entry to b. */
void emu_log_format(const struct emu_log *log, const struct emu_log_entry *e, struct loa_buf *b);
/** The message id of a seq ("m_" + fixed prefix + seq). */
void emu_mid_format(const struct emu_log *log, int64_t seq, char *out, size_t size);

/* ---- config (POST /_admin/config) --------------------------------------------------------- */

struct emu_config {
    pthread_mutex_t lock;     /* guards webhook_url */
    char *webhook_url;        /* owned, NULL = no webhooks */
    _Atomic bool has_webhook; /* webhook_url != NULL */
    _Atomic bool echo;
    _Atomic uint32_t delivery_ppm;
    _Atomic uint32_t read_ppm;
    _Atomic uint32_t reply_ppm;
    _Atomic uint32_t click_ppm;
    _Atomic int delivery_delay_ms;
    _Atomic int read_delay_ms;
    _Atomic int webhook_batch_max;
    _Atomic int64_t rate_limit_milli; /* calls/s per Page x 1000 */
};

/* ---- webhooks ----------------------------------------------------------------------------- */

struct emu_webhook;

/** Starts the sender thread. */
int emu_webhook_start(struct emu *emu, struct emu_webhook **out);
void emu_webhook_stop(struct emu_webhook *w);
/**
 * Queues one messaging[] item for page_id, to be sent after delay_ms. item (owned) is the JSON
 * text of the item. Never blocks; when the queue is full the event is dropped and counted.
 */
void emu_webhook_queue(struct emu_webhook *w, const char *page_id, char *item, int delay_ms);
/** Queues a simulated person's action, applied (and its webhook sent) after delay_ms. */
void emu_webhook_queue_action(struct emu_webhook *w, const char *page_id, const char *psid,
                              enum emu_action_kind kind, const char *payload, int delay_ms);
/** Drops everything queued (reset). */
void emu_webhook_clear(struct emu_webhook *w);

/* ---- the emulator ------------------------------------------------------------------------- */

struct emu {
    struct emu_args args;
    struct emu_clock clock;
    struct emu_rules_conf rules_conf;
    pthread_rwlock_t state_lock;
    struct emu_page *pages_by_id;    /* uthash, hh */
    struct emu_page *pages_by_token; /* uthash, hh_token */
    struct emu_token *tokens;        /* uthash */
    _Atomic uint64_t generation;     /* bumped by reset */
    struct emu_faults faults;
    struct emu_log log;
    struct emu_stats stats;
    struct emu_config config;
    struct emu_webhook *webhook;
};

int emu_init(struct emu *emu, const struct emu_args *args);
void emu_release(struct emu *emu);

/* State (emu_state.c). Lookups need state_lock held (read or write). */
struct emu_page *emu_page_by_id(struct emu *emu, const char *id);
struct emu_page *emu_page_by_token(struct emu *emu, const char *token);
struct emu_person *emu_person_get(struct emu_page *page, const char *psid);
struct emu_token *emu_token_get(struct emu *emu, const char *token);
/** Secret for signing page's webhooks (page's own, else --app-secret, else ""). */
const char *emu_page_secret(struct emu *emu, const struct emu_page *page);
/** Removes every Page, person, token and log entry. Takes state_lock for writing. */
void emu_state_reset(struct emu *emu);

/**
 * Applies a person's action at at_ms: updates the rules state and builds the webhook
 * messaging[] item (owned, into *item_out; NULL when the kind has none). For optin_accept,
 * issues a token (its text into token_out). Needs state_lock held for writing when kind is
 * optin_accept, otherwise for reading. Returns 0 or LOA_EINVAL with the reason in err.
 */
int emu_person_act(struct emu *emu, struct emu_person *p, enum emu_action_kind kind,
                   const json_t *args, int64_t at_ms, char **item_out, char *token_out,
                   size_t token_size, char *err, size_t err_size);

/* ---- request handling --------------------------------------------------------------------- */

/** A reply built by a handler. */
struct emu_reply {
    int status;
    struct loa_buf body; /* JSON */
    bool stream_log;     /* GET /_admin/log.ndjson */
};

/** A request handed to handlers; all fields borrowed for the call. */
struct emu_request {
    const char *method;
    const char *path; /* without the version prefix for Graph paths */
    const char *content_type;
    const char *body;
    size_t body_len;
    const char *(*query)(void *ctx, const char *key); /* query-string lookup */
    void *query_ctx;
    const char *authorization;
    const char *default_token; /* batch items: the batch's own access token */
};

/** Graph paths (emu_send.c). Fills fault into hit. */
void emu_graph_handle(struct emu *emu, const struct emu_request *req, struct emu_reply *out,
                      struct emu_fault_hit *hit);
/** /_admin paths (emu_admin.c). */
void emu_admin_handle(struct emu *emu, const struct emu_request *req, struct emu_reply *out);

/** Conversations API (emu_conv.c): GET {page-id}/conversations, GET {t_...}/messages. Needs
 * state_lock held for reading; page is the token's Page. */
void emu_conv_list(struct emu *emu, const struct emu_request *req, struct emu_page *page,
                   struct emu_reply *out);
void emu_conv_messages(struct emu *emu, const struct emu_request *req, struct emu_page *page,
                       const char *conversation_id, struct emu_reply *out);

/** Writes Meta's error object into out (status, body). */
void emu_reply_graph_error(struct emu_reply *out, int status, int code, int subcode,
                           const char *message);

/* HTTP server (emu_http.c). */
struct emu_http;
int emu_http_start(struct emu *emu, struct emu_http **out, int *port_out);
void emu_http_stop(struct emu_http *h);

/**
 * Decodes an application/x-www-form-urlencoded body into a JSON object of strings (the last
 * value of a repeated key wins). Returns a new reference.
 */
json_t *emu_form_parse(const char *s, size_t len);

/* Small helpers shared by the files. */
uint32_t emu_rand32(void);
bool emu_roll_ppm(uint32_t ppm);
/** Appends s to b as a JSON string literal (with quotes). */
void emu_buf_json_str(struct loa_buf *b, const char *s);

#endif /* LOA_EMU_INT_H */
