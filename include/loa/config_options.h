/* SPDX-License-Identifier: MIT */
/*
 * The option table: every setting of loa, in one place, as an X-macro. Each line is
 *
 *   X(field, "section.name", "flag" or NULL, "LOA_ENV", TYPE, "default", min, max, "help")
 *
 * and gives the option a flag, an environment variable, a config-file key, validation, help
 * text, a line in `loa config show` (src/config/options.c expands it into the table), and a
 * typed field of struct loa_settings (config.h) that code reads instead of looking the key up
 * by string: a misspelt field does not compile. TYPE is STRING, SECRET (never printed), INT
 * (within [min, max]), BOOL, LEVEL (log level), URL, REGION (ISO 3166 alpha-2) or TIMEZONE
 * (IANA); INT is int64_t in struct loa_settings, BOOL bool, every other const char *.
 *
 * Adding an option is one line here.
 */
#ifndef LOA_CONFIG_OPTIONS_H
#define LOA_CONFIG_OPTIONS_H

/* clang-format off */
#define LOA_CONFIG_OPTIONS(X)                                                                      \
    X(store_path, "store.path", "store", "LOA_STORE", STRING, "loa.db", 0, 0,                      \
      "SQLite store file (created by `loa init`)")                                                 \
    X(store_key_file, "store.key_file", "key-file", "LOA_KEY_FILE", STRING, "", 0, 0,              \
      "file holding the 32-byte key that encrypts Page tokens at rest; default: <store>.key")      \
    X(store_secret_key, "store.secret_key", NULL, "LOA_SECRET_KEY", SECRET, "", 0, 0,              \
      "the encryption key itself, 64 hex digits (environment or file only; overrides key_file)")   \
    X(log_level, "log.level", "log-level", "LOA_LOG_LEVEL", LEVEL, "info", 0, 0,                   \
      "error, warn, info or debug")                                                                \
    X(rules_file, "rules.file", "rules", "LOA_RULES_FILE", STRING, LOA_RULES_DEFAULT, 0, 0,        \
      "messaging rules file (JSON)")                                                               \
    X(graph_url, "graph.url", "graph-url", "LOA_GRAPH_URL", URL,                                   \
      "https://graph.facebook.com", 0, 0,                                                          \
      "Graph API base URL (loa-graph's address in tests and the demo)")                            \
    X(graph_version, "graph.version", "graph-version", "LOA_GRAPH_VERSION", STRING, "v25.0",       \
      0, 0, "Graph API version used in request paths")                                             \
    X(http_listen, "http.listen", "listen", "LOA_LISTEN", STRING, "127.0.0.1:8080", 0, 0,          \
      "address:port that `loa serve` listens on")                                                  \
    X(http_threads, "http.threads", "http-threads", "LOA_HTTP_THREADS", INT, "16", 1, 64,          \
      "threads serving HTTP requests in `loa serve` (each with its own store connection)")         \
    X(http_body_limit, "http.body_limit", "body-limit", "LOA_HTTP_BODY_LIMIT", INT,                \
      "1048576", 1024, 67108864, "largest REST API request body in bytes (larger ones get 413)")   \
    X(webhook_verify_token, "webhook.verify_token", NULL, "LOA_WEBHOOK_VERIFY_TOKEN", SECRET,      \
      "", 0, 0,                                                                                    \
      "the Verify Token entered in Meta's dashboard for the webhook handshake "                    \
      "(environment or file only)")                                                                \
    X(webhook_app_secret, "webhook.app_secret", NULL, "LOA_WEBHOOK_APP_SECRET", SECRET, "",        \
      0, 0,                                                                                        \
      "app secret that signs webhooks (X-Hub-Signature-256); the app secrets of the stored "       \
      "Pages are tried too (environment or file only)")                                            \
    X(webhook_body_limit, "webhook.body_limit", "webhook-body-limit",                              \
      "LOA_WEBHOOK_BODY_LIMIT", INT, "1048576", 1024, 67108864,                                    \
      "largest webhook body in bytes (larger ones get 413)")                                       \
    X(dispatch_concurrency, "dispatch.concurrency", "concurrency",                                 \
      "LOA_DISPATCH_CONCURRENCY", INT, "64", 1, 1024,                                              \
      "deliveries in flight at once (also how many can end unknown after a crash)")                \
    X(dispatch_margin_s, "dispatch.margin_s", "margin", "LOA_DISPATCH_MARGIN_S", INT, "60",        \
      0, 3600,                                                                                     \
      "seconds a send must stay allowed by the rules after it leaves (time in flight): a "         \
      "window that closes sooner counts as closed")                                                \
    X(dispatch_reconcile_grace_s, "dispatch.reconcile_grace_s", "reconcile-grace",               \
      "LOA_DISPATCH_RECONCILE_GRACE_S", INT, "0", 0, 86400,                                        \
      "seconds an unknown delivery waits (for its echo webhook) before the dispatcher reads the "  \
      "person's conversation to reconcile it (0 = 60 for serve, 5 for campaign run)")              \
    X(sequence_catchup_s, "sequence.catchup_s", "catchup", "LOA_SEQUENCE_CATCHUP_S", INT,         \
      "259200", 0, 31536000,                                                                       \
      "a sequence step overdue by more than this many seconds (after downtime) is skipped "        \
      "\"stale\" instead of sent (0 = always send)")                                               \
    X(sequence_window_margin_s, "sequence.window_margin_s", "window-margin",                       \
      "LOA_SEQUENCE_WINDOW_MARGIN_S", INT, "3600", 60, 604800,                                     \
      "a step marked \"inside the messaging window\" goes at least this many seconds before "      \
      "the person's window closes")                                                                \
    X(reply_wait_timeout_s, "reply.wait_timeout_s", "reply-timeout",                             \
      "LOA_REPLY_WAIT_TIMEOUT_S", INT, "86400", 60, 604800,                                        \
      "how long a wait_reply block waits for the person's answer; a sequence's next step counts "  \
      "from the answer, or from the end of the wait")                                              \
    X(webhook_profiles, "webhook.profiles", "fetch-profiles", "LOA_WEBHOOK_PROFILES", BOOL,        \
      "true", 0, 0, "fetch the Graph profile of each new person in the background")                \
    X(webhook_profile_sweep_s, "webhook.profile_sweep_s", "profile-sweep",                         \
      "LOA_WEBHOOK_PROFILE_SWEEP_S", INT, "300", 0, 86400,                                         \
      "seconds between sweeps that retry failed profile look-ups (0 = no sweep)")                  \
    X(store_durable, "store.durable", "durable", "LOA_STORE_DURABLE", BOOL, "true", 0, 0,          \
      "`loa serve` syncs every commit to disk (SQLite synchronous=FULL), so an acknowledged "      \
      "webhook survives a power loss, not only a crash")                                           \
    X(phone_region, "phone.region", "region", "LOA_PHONE_REGION", REGION, "VN", 0, 0,              \
      "default region for phone numbers written without a country code")                           \
    X(page_timezone, "page.timezone", "default-timezone", "LOA_DEFAULT_TIMEZONE", TIMEZONE,        \
      "Asia/Ho_Chi_Minh", 0, 0, "IANA time zone of new Pages")                                     \
    X(page_daily_cap, "page.daily_cap", "default-daily-cap", "LOA_DEFAULT_DAILY_CAP", INT,         \
      "5000", 1, 100000000, "rolling 24 h send cap of new Pages")                                \
    X(console_cookie_secure, "console.cookie_secure", "cookie-secure", "LOA_COOKIE_SECURE",       \
      BOOL, "false", 0, 0,                                                                         \
      "always mark the console's session cookie Secure (loa behind an HTTPS proxy)")               \
    X(console_trust_forwarded_proto, "console.trust_forwarded_proto", "trust-forwarded-proto",    \
      "LOA_TRUST_FORWARDED_PROTO", BOOL, "false", 0, 0,                                            \
      "trust X-Forwarded-Proto from the proxy in front: \"https\" marks the cookie Secure")        \
    X(console_session_idle_s, "console.session_idle_s", "session-idle", "LOA_SESSION_IDLE_S",      \
      INT, "43200", 60, 31536000, "a console session unused this many seconds ends")              \
    X(console_session_max_s, "console.session_max_s", "session-max", "LOA_SESSION_MAX_S", INT,     \
      "604800", 60, 31536000, "a console session ends this many seconds after sign-in")           \
    X(console_signin_lock_after, "console.signin_lock_after", "signin-lock-after",                 \
      "LOA_SIGNIN_LOCK_AFTER", INT, "5", 1, 1000,                                                  \
      "failed sign-ins in a row (per login) that lock the login")                                  \
    X(console_signin_lock_s, "console.signin_lock_s", "signin-lock", "LOA_SIGNIN_LOCK_S", INT,     \
      "900", 1, 604800, "seconds a login stays locked after too many failed sign-ins")             \
    X(console_signin_delay_ms, "console.signin_delay_ms", "signin-delay", "LOA_SIGNIN_DELAY_MS",   \
      INT, "1000", 0, 60000,                                                                       \
      "after a second failed sign-in, the next try waits this long, doubling with each failure")
/* clang-format on */

#endif /* LOA_CONFIG_OPTIONS_H */
