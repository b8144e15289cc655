/* SPDX-License-Identifier: MIT */
/*
 * The option table: every setting of loa, in one place. Adding an option here gives it a
 * flag, an environment variable, a config-file key, validation, help text and a line in
 * `loa config show`.
 */
#include "config_int.h"

#ifndef LOA_RULES_DEFAULT
#define LOA_RULES_DEFAULT LOA_SOURCE_DIR "/rules/messaging-rules.json"
#endif

const struct loa_option loa_options[] = {
    { "store.path", "store", "LOA_STORE", LOA_OPT_STRING, "loa.db", 0, 0,
      "SQLite store file (created by `loa init`)" },
    { "store.key_file", "key-file", "LOA_KEY_FILE", LOA_OPT_STRING, "", 0, 0,
      "file holding the 32-byte key that encrypts Page tokens at rest; default: <store>.key" },
    { "store.secret_key", NULL, "LOA_SECRET_KEY", LOA_OPT_SECRET, "", 0, 0,
      "the encryption key itself, 64 hex digits (environment or file only; overrides key_file)" },
    { "log.level", "log-level", "LOA_LOG_LEVEL", LOA_OPT_LEVEL, "info", 0, 0,
      "error, warn, info or debug" },
    { "rules.file", "rules", "LOA_RULES_FILE", LOA_OPT_STRING, LOA_RULES_DEFAULT, 0, 0,
      "messaging rules file (JSON)" },
    { "graph.url", "graph-url", "LOA_GRAPH_URL", LOA_OPT_URL, "https://graph.facebook.com", 0, 0,
      "Graph API base URL (loa-graph's address in tests and the demo)" },
    { "graph.version", "graph-version", "LOA_GRAPH_VERSION", LOA_OPT_STRING, "v25.0", 0, 0,
      "Graph API version used in request paths" },
    { "http.listen", "listen", "LOA_LISTEN", LOA_OPT_STRING, "127.0.0.1:8080", 0, 0,
      "address:port that `loa serve` listens on" },
    { "http.threads", "http-threads", "LOA_HTTP_THREADS", LOA_OPT_INT, "16", 1, 64,
      "threads serving HTTP requests in `loa serve` (each with its own store connection)" },
    { "http.body_limit", "body-limit", "LOA_HTTP_BODY_LIMIT", LOA_OPT_INT, "1048576", 1024,
      67108864, "largest REST API request body in bytes (larger ones get 413)" },
    { "webhook.verify_token", NULL, "LOA_WEBHOOK_VERIFY_TOKEN", LOA_OPT_SECRET, "", 0, 0,
      "the Verify Token entered in Meta's dashboard for the webhook handshake (environment or "
      "file only)" },
    { "webhook.app_secret", NULL, "LOA_WEBHOOK_APP_SECRET", LOA_OPT_SECRET, "", 0, 0,
      "app secret that signs webhooks (X-Hub-Signature-256); the app secrets of the stored "
      "Pages are tried too (environment or file only)" },
    { "webhook.body_limit", "webhook-body-limit", "LOA_WEBHOOK_BODY_LIMIT", LOA_OPT_INT, "1048576",
      1024, 67108864, "largest webhook body in bytes (larger ones get 413)" },
    { "dispatch.concurrency", "concurrency", "LOA_DISPATCH_CONCURRENCY", LOA_OPT_INT, "64", 1, 1024,
      "deliveries in flight at once (also how many can end unknown after a crash)" },
    { "dispatch.margin_s", "margin", "LOA_DISPATCH_MARGIN_S", LOA_OPT_INT, "60", 0, 3600,
      "seconds a send must stay allowed by the rules after it leaves (time in flight): a "
      "window that closes sooner counts as closed" },
    { "dispatch.reconcile_grace_s", "reconcile-grace", "LOA_DISPATCH_RECONCILE_GRACE_S",
      LOA_OPT_INT, "0", 0, 86400,
      "seconds an unknown delivery waits (for its echo webhook) before the dispatcher reads the "
      "person's conversation to reconcile it (0 = 60 for serve, 5 for campaign run)" },
    { "webhook.profiles", "fetch-profiles", "LOA_WEBHOOK_PROFILES", LOA_OPT_BOOL, "true", 0, 0,
      "fetch the Graph profile of each new person in the background" },
    { "webhook.profile_sweep_s", "profile-sweep", "LOA_WEBHOOK_PROFILE_SWEEP_S", LOA_OPT_INT, "300",
      0, 86400, "seconds between sweeps that retry failed profile look-ups (0 = no sweep)" },
    { "store.durable", "durable", "LOA_STORE_DURABLE", LOA_OPT_BOOL, "true", 0, 0,
      "`loa serve` syncs every commit to disk (SQLite synchronous=FULL), so an acknowledged "
      "webhook survives a power loss, not only a crash" },
    { "phone.region", "region", "LOA_PHONE_REGION", LOA_OPT_REGION, "VN", 0, 0,
      "default region for phone numbers written without a country code" },
    { "page.timezone", "default-timezone", "LOA_DEFAULT_TIMEZONE", LOA_OPT_TIMEZONE,
      "Asia/Ho_Chi_Minh", 0, 0, "IANA time zone of new Pages" },
    { "page.daily_cap", "default-daily-cap", "LOA_DEFAULT_DAILY_CAP", LOA_OPT_INT, "5000", 1,
      100000000, "rolling 24 h send cap of new Pages" },
};

const size_t loa_options_count = sizeof(loa_options) / sizeof(loa_options[0]);
