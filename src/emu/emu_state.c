/* SPDX-License-Identifier: MIT */
/*
 * Pages, people and notification tokens, and what a person's action does to them.
 *
 * A token's text is derived from (Page, PSID, title), so accepting the same topic again refreshes
 * the same token, as Meta keeps one token per person and topic.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <loa/alloc.h>
#include <loa/err.h>

#include "emu_int.h"

#define DEFAULT_TOPIC "Updates and Promotions"

int emu_init(struct emu *emu, const struct emu_args *args)
{
    memset(emu, 0, sizeof(*emu));
    emu->args = *args;
    emu_clock_init(&emu->clock, args->fake_clock, args->now_ms);
    emu_rules_conf_default(&emu->rules_conf);
    if (args->recurring_retired_ms >= 0)
        emu->rules_conf.recurring_retired_ms = args->recurring_retired_ms;
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&emu->state_lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    pthread_mutex_init(&emu->faults.lock, NULL);
    emu_log_init(&emu->log);
    pthread_mutex_init(&emu->config.lock, NULL);
    emu->config.webhook_url = args->webhook_url ? loa_strdup(args->webhook_url) : NULL;
    atomic_store(&emu->config.has_webhook, args->webhook_url != NULL);
    atomic_store(&emu->config.echo, true);
    atomic_store(&emu->config.delivery_ppm, EMU_PPM);
    atomic_store(&emu->config.read_ppm, EMU_PPM);
    atomic_store(&emu->config.delivery_delay_ms, 50);
    atomic_store(&emu->config.read_delay_ms, 200);
    atomic_store(&emu->config.webhook_batch_max, 1);
    atomic_store(&emu->config.rate_limit_milli, (int64_t)(args->rate_limit * 1000.0));
    return 0;
}

static void free_state(struct emu *emu)
{
    struct emu_token *t, *tt;
    HASH_ITER(hh, emu->tokens, t, tt)
    {
        HASH_DEL(emu->tokens, t);
        loa_free(t->token);
        loa_free(t->title);
        loa_free(t);
    }
    HASH_CLEAR(hh_token, emu->pages_by_token);
    struct emu_page *pg, *pt;
    HASH_ITER(hh, emu->pages_by_id, pg, pt)
    {
        HASH_DEL(emu->pages_by_id, pg);
        struct emu_person *p, *q;
        HASH_ITER(hh, pg->people, p, q)
        {
            HASH_DEL(pg->people, p);
            pthread_mutex_destroy(&p->lock);
            loa_free(p->first_name);
            loa_free(p->last_name);
            loa_free(p->gender);
            loa_free(p->locale);
            loa_free(p);
        }
        pthread_mutex_destroy(&pg->rate_lock);
        loa_free(pg->name);
        loa_free(pg->access_token);
        loa_free(pg->app_secret);
        loa_free(pg);
    }
}

void emu_release(struct emu *emu)
{
    free_state(emu);
    emu_log_release(&emu->log);
    loa_free(emu->config.webhook_url);
    pthread_mutex_destroy(&emu->config.lock);
    pthread_mutex_destroy(&emu->faults.lock);
    pthread_rwlock_destroy(&emu->state_lock);
}

void emu_state_reset(struct emu *emu)
{
    pthread_rwlock_wrlock(&emu->state_lock);
    /* The log points at people: empty it first. */
    emu_log_reset(&emu->log);
    free_state(emu);
    atomic_fetch_add(&emu->generation, 1);
    pthread_rwlock_unlock(&emu->state_lock);
}

struct emu_page *emu_page_by_id(struct emu *emu, const char *id)
{
    struct emu_page *p = NULL;
    HASH_FIND_STR(emu->pages_by_id, id, p);
    return p;
}

struct emu_page *emu_page_by_token(struct emu *emu, const char *token)
{
    struct emu_page *p = NULL;
    HASH_FIND(hh_token, emu->pages_by_token, token, strlen(token), p);
    return p;
}

struct emu_person *emu_person_get(struct emu_page *page, const char *psid)
{
    struct emu_person *p = NULL;
    HASH_FIND_STR(page->people, psid, p);
    return p;
}

struct emu_token *emu_token_get(struct emu *emu, const char *token)
{
    struct emu_token *t = NULL;
    HASH_FIND_STR(emu->tokens, token, t);
    return t;
}

const char *emu_page_secret(struct emu *emu, const struct emu_page *page)
{
    if (page && page->app_secret)
        return page->app_secret;
    return emu->args.app_secret ? emu->args.app_secret : "";
}

static uint64_t fnv(uint64_t h, const char *s)
{
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    h ^= 0xff;
    h *= 1099511628211ULL;
    return h;
}

static void token_text(const struct emu_person *p, const char *title, char *out, size_t size)
{
    uint64_t h = fnv(fnv(fnv(1469598103934665603ULL, p->page->id), p->psid), title);
    uint64_t h2 = fnv(h ^ 0x5bd1e995, title);
    snprintf(out, size, "NMT%016" PRIx64 "%016" PRIx64, h, h2);
}

static const char *arg_str(const json_t *args, const char *key)
{
    return json_string_value(json_object_get(args, key));
}

static void item_head(struct loa_buf *b, const struct emu_person *p, int64_t at_ms)
{
    loa_buf_puts(b, "{\"sender\":{\"id\":");
    emu_buf_json_str(b, p->psid);
    loa_buf_puts(b, "},\"recipient\":{\"id\":");
    emu_buf_json_str(b, p->page->id);
    loa_buf_printf(b, "},\"timestamp\":%" PRId64, at_ms);
}

static void put_field(struct loa_buf *b, const char *key, const char *val)
{
    loa_buf_printf(b, ",\"%s\":", key);
    emu_buf_json_str(b, val);
}

static int act_optin(struct emu *emu, struct emu_person *p, enum emu_action_kind kind,
                     const json_t *args, int64_t at_ms, struct loa_buf *b, char *token_out,
                     size_t token_size, char *err, size_t err_size)
{
    const char *title = arg_str(args, "title");
    const char *tok = arg_str(args, "token");
    struct emu_token *t = NULL;
    if (!title || !*title)
        title = DEFAULT_TOPIC;
    char text[64];
    if (tok)
        snprintf(text, sizeof(text), "%s", tok);
    else
        token_text(p, title, text, sizeof(text));
    t = emu_token_get(emu, text);
    if (t && t->person != p) {
        snprintf(err, err_size, "token: belongs to another person");
        return LOA_EINVAL;
    }
    const char *status = NULL;
    if (kind == EMU_ACT_OPTIN_ACCEPT) {
        bool refreshed = t != NULL;
        if (!t) {
            t = loa_calloc(1, sizeof(*t));
            t->token = loa_strdup(text);
            t->title = loa_strdup(title);
            t->person = p;
            t->rules.last_sent_ms = -1;
            HASH_ADD_KEYPTR(hh, emu->tokens, t->token, strlen(t->token), t);
        }
        t->rules.created_ms = at_ms;
        t->rules.expiry_ms = at_ms + EMU_TOKEN_LIFE_MS;
        t->rules.stopped = false;
        status = refreshed ? "REFRESHED" : "NOT_REFRESHED";
    } else {
        if (!t) {
            snprintf(err, err_size, "title: the person has no token for this topic");
            return LOA_EINVAL;
        }
        t->rules.stopped = kind == EMU_ACT_OPTIN_STOP;
    }
    snprintf(token_out, token_size, "%s", t->token);
    const char *payload = arg_str(args, "payload");
    const char *tz = arg_str(args, "timezone");
    loa_buf_puts(b, ",\"optin\":{\"type\":\"notification_messages\"");
    put_field(b, "payload", payload ? payload : "");
    put_field(b, "title", t->title);
    put_field(b, "notification_messages_token", t->token);
    if (kind == EMU_ACT_OPTIN_ACCEPT) {
        put_field(b, "notification_messages_frequency", "DAILY");
        put_field(b, "notification_messages_timezone", tz ? tz : "UTC");
        loa_buf_printf(b, ",\"token_expiry_timestamp\":%" PRId64, t->rules.expiry_ms / 1000);
        put_field(b, "user_token_status", status);
    } else {
        put_field(b, "notification_messages_status",
                  kind == EMU_ACT_OPTIN_STOP ? "STOP_NOTIFICATIONS" : "RESUME_NOTIFICATIONS");
    }
    loa_buf_putc(b, '}');
    return 0;
}

int emu_person_act(struct emu *emu, struct emu_person *p, enum emu_action_kind kind,
                   const json_t *args, int64_t at_ms, char **item_out, char *token_out,
                   size_t token_size, char *err, size_t err_size)
{
    static _Atomic uint64_t in_seq;
    struct loa_buf b;
    int rc = 0;
    char mid[64];
    loa_buf_init(&b, EMU_BODY_MAX);
    *item_out = NULL;
    if (token_out && token_size)
        token_out[0] = '\0';
    const char *given_mid = arg_str(args, "mid");
    if (given_mid)
        snprintf(mid, sizeof(mid), "%s", given_mid);
    else
        snprintf(mid, sizeof(mid), "m_in_%s%" PRIu64, emu->log.mid_prefix,
                 atomic_fetch_add(&in_seq, 1) + 1);
    const char *text = arg_str(args, "text");
    const char *payload = arg_str(args, "payload");
    const char *ref = arg_str(args, "ref");
    const char *title = arg_str(args, "title");

    pthread_mutex_lock(&p->lock);
    item_head(&b, p, at_ms);
    switch (kind) {
    case EMU_ACT_MESSAGE:
    case EMU_ACT_QUICK_REPLY:
    case EMU_ACT_AD_REFERRAL:
        loa_buf_puts(&b, ",\"message\":{\"mid\":");
        emu_buf_json_str(&b, mid);
        put_field(&b, "text", text ? text : (kind == EMU_ACT_QUICK_REPLY && title ? title : "hi"));
        if (kind == EMU_ACT_QUICK_REPLY) {
            loa_buf_puts(&b, ",\"quick_reply\":{\"payload\":");
            emu_buf_json_str(&b, payload ? payload : "");
            loa_buf_putc(&b, '}');
        }
        if (kind == EMU_ACT_AD_REFERRAL) {
            loa_buf_puts(&b, ",\"referral\":{\"source\":\"ADS\",\"type\":\"OPEN_THREAD\"");
            put_field(&b, "ref", ref ? ref : "");
            put_field(&b, "ad_id", arg_str(args, "ad_id") ? arg_str(args, "ad_id") : "0");
            loa_buf_putc(&b, '}');
        }
        loa_buf_putc(&b, '}');
        break;
    case EMU_ACT_POSTBACK:
        loa_buf_puts(&b, ",\"postback\":{\"mid\":");
        emu_buf_json_str(&b, mid);
        put_field(&b, "title", title ? title : "Get Started");
        put_field(&b, "payload", payload ? payload : "");
        loa_buf_putc(&b, '}');
        break;
    case EMU_ACT_REACTION:
        loa_buf_puts(&b, ",\"reaction\":{\"reaction\":\"love\",\"emoji\":\"\\u2764\",\"action\":"
                         "\"react\",\"mid\":");
        emu_buf_json_str(&b, arg_str(args, "mid") ? arg_str(args, "mid") : "");
        loa_buf_putc(&b, '}');
        break;
    case EMU_ACT_REFERRAL:
        loa_buf_puts(&b, ",\"referral\":{\"source\":\"SHORTLINK\",\"type\":\"OPEN_THREAD\"");
        put_field(&b, "ref", ref ? ref : "");
        loa_buf_putc(&b, '}');
        break;
    case EMU_ACT_OPTIN_ACCEPT:
    case EMU_ACT_OPTIN_STOP:
    case EMU_ACT_OPTIN_RESUME:
        rc = act_optin(emu, p, kind, args, at_ms, &b, token_out, token_size, err, err_size);
        break;
    case EMU_ACT_READ:
        loa_buf_printf(&b, ",\"read\":{\"watermark\":%" PRId64 "}",
                       p->last_sent_ms > 0 ? p->last_sent_ms : at_ms);
        break;
    case EMU_ACT_DELIVERY:
        loa_buf_printf(&b, ",\"delivery\":{\"watermark\":%" PRId64 "}",
                       p->last_sent_ms > 0 ? p->last_sent_ms : at_ms);
        break;
    default:
        snprintf(err, err_size, "kind: unknown action");
        rc = LOA_EINVAL;
        break;
    }
    if (rc == 0) {
        emu_rules_note_action(&p->rules, kind, at_ms);
        if (emu_action_opens_window(kind)) {
            p->last_action_ms = at_ms;
            p->last_action_kind = kind;
        }
    }
    pthread_mutex_unlock(&p->lock);
    if (rc == 0) {
        loa_buf_putc(&b, '}');
        *item_out = loa_buf_detach(&b);
    }
    loa_buf_release(&b);
    return rc;
}
