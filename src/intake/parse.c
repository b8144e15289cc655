/* SPDX-License-Identifier: MIT */
/*
 * Parsing of Meta's webhook envelope into flat events:
 *
 *   {"object":"page","entry":[{"id":PAGE,"time":MS,"messaging":[ITEM...]}...]}
 *
 * Each ITEM has sender, recipient, timestamp and one field that names its kind (message,
 * postback, referral, optin, delivery, read, reaction). Items under "standby" and
 * change-style entries ("changes") are kept as unknown events. The envelope must be well
 * formed (a JSON object with an array of entries); the items themselves are read leniently: a
 * missing field is NULL and an item loa does not understand is kept raw, never an error.
 *
 * The de-duplication key is the mid where an event has its own (messages, echoes, postbacks);
 * other events (reactions carry the mid of the message reacted to, deliveries and reads have
 * none) are keyed by a hash of their kind, Page and canonical JSON, so a redelivered copy
 * gets the same key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include <loa/alloc.h>
#include <loa/err.h>
#include <loa/intake.h>

#define MAX_EVENTS 100000

const char *loa_intake_kind_name(enum loa_intake_kind k)
{
    static const char *const names[LOA_INTAKE_KIND_COUNT] = { "message",  "echo",     "postback",
                                                              "referral", "optin",    "delivery",
                                                              "read",     "reaction", "unknown" };
    return k < LOA_INTAKE_KIND_COUNT ? names[k] : "unknown";
}

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static int64_t num(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    if (json_is_real(v)) {
        double d = json_real_value(v);
        return d > 0 && d < 9e18 ? (int64_t)d : 0;
    }
    if (json_is_string(v))
        return strtoll(json_string_value(v), NULL, 10);
    return 0;
}

/* Copies jansson's malloc'd text into loa's allocator. */
static char *dump(const json_t *v, size_t flags)
{
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | flags);
    char *out = loa_strdup(t ? t : "null");
    free(t);
    return out;
}

static enum loa_intake_ref ref_source(const char *s)
{
    if (!s)
        return LOA_INTAKE_REF_NONE;
    if (strcmp(s, "ADS") == 0)
        return LOA_INTAKE_REF_ADS;
    if (strcmp(s, "SHORTLINK") == 0)
        return LOA_INTAKE_REF_SHORTLINK;
    if (strcmp(s, "CUSTOMER_CHAT_PLUGIN") == 0)
        return LOA_INTAKE_REF_PLUGIN;
    return LOA_INTAKE_REF_OTHER;
}

static void read_referral(struct loa_intake_event *e, const json_t *r)
{
    if (!json_is_object(r))
        return;
    e->ref_source = ref_source(str(r, "source"));
    e->ref = str(r, "ref");
    e->ad_id = str(r, "ad_id");
}

static char *hash_key(enum loa_intake_kind kind, const char *page_id, const json_t *item)
{
    char *canon = dump(item, JSON_SORT_KEYS);
    unsigned char h[16];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof(h));
    const char *k = loa_intake_kind_name(kind);
    crypto_generichash_update(&st, (const unsigned char *)k, strlen(k) + 1);
    crypto_generichash_update(&st, (const unsigned char *)(page_id ? page_id : ""),
                              strlen(page_id ? page_id : "") + 1);
    crypto_generichash_update(&st, (const unsigned char *)canon, strlen(canon));
    crypto_generichash_final(&st, h, sizeof(h));
    loa_free(canon);
    char *out = loa_malloc(2 + 2 * sizeof(h) + 1);
    memcpy(out, "h:", 2);
    sodium_bin2hex(out + 2, 2 * sizeof(h) + 1, h, sizeof(h));
    return out;
}

/* Fills e from one messaging item. */
static void read_item(struct loa_intake_event *e, const json_t *item, const char *page_id,
                      int64_t entry_time, bool standby)
{
    memset(e, 0, sizeof(*e));
    e->page_id = page_id;
    e->at = num(item, "timestamp");
    if (!e->at)
        e->at = entry_time;
    const char *sender = str(json_object_get(item, "sender"), "id");
    const char *recipient = str(json_object_get(item, "recipient"), "id");
    e->psid = sender;
    const json_t *v;
    e->kind = LOA_INTAKE_UNKNOWN;
    if (standby) {
        e->raw_kind = "standby";
    } else if (json_is_object(v = json_object_get(item, "message"))) {
        e->kind =
            json_is_true(json_object_get(v, "is_echo")) ? LOA_INTAKE_ECHO : LOA_INTAKE_MESSAGE;
        if (e->kind == LOA_INTAKE_ECHO)
            e->psid = recipient;
        e->mid = str(v, "mid");
        e->text = str(v, "text");
        e->quick_reply = str(json_object_get(v, "quick_reply"), "payload");
        const json_t *att = json_object_get(v, "attachments");
        if (json_is_array(att))
            e->attachments = dump(att, 0);
        e->app_id = str(v, "app_id");
        if (!e->app_id && json_is_integer(json_object_get(v, "app_id"))) {
            /* Meta sends app_id as a number. */
            snprintf(e->app_id_buf, sizeof(e->app_id_buf), "%lld",
                     (long long)json_integer_value(json_object_get(v, "app_id")));
            e->app_id = e->app_id_buf;
        }
        e->metadata = str(v, "metadata");
        /* A message after a click-to-Messenger ad carries the ad's referral. */
        read_referral(e, json_object_get(v, "referral"));
        if (e->ref_source == LOA_INTAKE_REF_NONE)
            read_referral(e, json_object_get(item, "referral"));
    } else if (json_is_object(v = json_object_get(item, "postback"))) {
        e->kind = LOA_INTAKE_POSTBACK;
        e->mid = str(v, "mid");
        e->text = str(v, "title");
        e->quick_reply = str(v, "payload");
        read_referral(e, json_object_get(v, "referral"));
    } else if (json_is_object(v = json_object_get(item, "referral"))) {
        e->kind = LOA_INTAKE_REFERRAL;
        read_referral(e, v);
    } else if (json_is_object(v = json_object_get(item, "optin"))) {
        e->kind = LOA_INTAKE_OPTIN;
        const char *type = str(v, "type");
        e->ntoken = type && strcmp(type, "notification_messages") == 0;
        e->token = str(v, "notification_messages_token");
        e->title = str(v, "title");
        e->optin_payload = str(v, "payload");
        e->frequency = str(v, "notification_messages_frequency");
        e->timezone = str(v, "notification_messages_timezone");
        int64_t exp = num(v, "token_expiry_timestamp");
        /* Documented as a unix time; accept seconds or milliseconds. */
        e->token_expiry = exp > 0 && exp < 100000000000LL ? exp * 1000 : exp;
        e->user_token_status = str(v, "user_token_status");
        const char *st = str(v, "notification_messages_status");
        e->stop = !st                                       ? 0
                  : strcmp(st, "STOP_NOTIFICATIONS") == 0   ? 1
                  : strcmp(st, "RESUME_NOTIFICATIONS") == 0 ? -1
                                                            : 0;
        e->optin_ref = str(v, "ref");
    } else if (json_is_object(v = json_object_get(item, "delivery"))) {
        e->kind = LOA_INTAKE_DELIVERY;
        e->watermark = num(v, "watermark");
        const json_t *mids = json_object_get(v, "mids");
        if (json_is_array(mids) && json_array_size(mids)) {
            e->mids = loa_calloc(json_array_size(mids), sizeof(*e->mids));
            size_t i;
            const json_t *m;
            json_array_foreach(mids, i, m) {
                if (json_is_string(m))
                    e->mids[e->nmids++] = json_string_value(m);
            }
        }
    } else if (json_is_object(v = json_object_get(item, "read"))) {
        e->kind = LOA_INTAKE_READ;
        e->watermark = num(v, "watermark");
    } else if (json_is_object(v = json_object_get(item, "reaction"))) {
        e->kind = LOA_INTAKE_REACTION;
        e->reaction = str(v, "reaction");
        e->emoji = str(v, "emoji");
        const char *action = str(v, "action");
        e->unreact = action && strcmp(action, "unreact") == 0;
        e->reaction_mid = str(v, "mid");
    }
    if (e->kind == LOA_INTAKE_UNKNOWN && !e->raw_kind) {
        const char *k;
        const json_t *val;
        json_object_foreach((json_t *)(uintptr_t)item, k, val) {
            if (strcmp(k, "sender") && strcmp(k, "recipient") && strcmp(k, "timestamp")) {
                e->raw_kind = k;
                break;
            }
        }
    }
    e->payload = dump(item, 0);
    bool own_mid = (e->kind == LOA_INTAKE_MESSAGE || e->kind == LOA_INTAKE_ECHO ||
                    e->kind == LOA_INTAKE_POSTBACK) &&
                   e->mid && *e->mid;
    e->key = own_mid ? loa_strdup(e->mid) : hash_key(e->kind, page_id, item);
}

static int fail(struct loa_diags *d, const char *where, const char *reason)
{
    loa_diags_add(d, 0, 0, where, "%s", reason);
    return LOA_EPARSE;
}

int loa_intake_parse(const char *body, size_t len, struct loa_intake_batch *out,
                     struct loa_diags *diags)
{
    memset(out, 0, sizeof(*out));
    if (sodium_init() < 0)
        return LOA_ECRYPTO;
    json_error_t err;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
    if (!root) {
        loa_diags_add(diags, err.line, err.column, "", "malformed JSON: %s", err.text);
        return LOA_EPARSE;
    }
    out->root = root;
    if (!json_is_object(root))
        return fail(diags, "", "the body must be a JSON object");
    const json_t *entries = json_object_get(root, "entry");
    if (!json_is_array(entries))
        return fail(diags, "entry", "must be an array of entries");
    /* Count first, so the events array is allocated once. */
    size_t total = 0, i;
    const json_t *entry;
    json_array_foreach(entries, i, entry) {
        char where[64];
        snprintf(where, sizeof(where), "entry[%zu]", i);
        if (!json_is_object(entry))
            return fail(diags, where, "must be an object");
        const json_t *id = json_object_get(entry, "id");
        if (!json_is_string(id) && !json_is_integer(id))
            return fail(diags, where, "id (the Page id) is missing");
        static const char *const lists[] = { "messaging", "standby", "changes" };
        for (int l = 0; l < 3; l++) {
            const json_t *a = json_object_get(entry, lists[l]);
            if (!a)
                continue;
            if (!json_is_array(a)) {
                snprintf(where, sizeof(where), "entry[%zu].%s", i, lists[l]);
                return fail(diags, where, "must be an array");
            }
            size_t j;
            const json_t *item;
            json_array_foreach(a, j, item) {
                if (!json_is_object(item)) {
                    snprintf(where, sizeof(where), "entry[%zu].%s[%zu]", i, lists[l], j);
                    return fail(diags, where, "must be an object");
                }
            }
            total += json_array_size(a);
        }
    }
    if (total > MAX_EVENTS)
        return fail(diags, "entry", "too many events in one batch");
    out->events = total ? loa_calloc(total, sizeof(*out->events)) : NULL;
    json_array_foreach(entries, i, entry) {
        json_t *id = json_object_get(entry, "id");
        if (json_is_integer(id)) {
            /* Page ids are strings in Meta's payloads; keep a string form in the tree. */
            char buf[32];
            snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(id));
            json_object_set_new((json_t *)(uintptr_t)entry, "id", json_string(buf));
            id = json_object_get(entry, "id");
        }
        const char *page_id = json_string_value(id);
        int64_t time = num(entry, "time");
        static const char *const lists[] = { "messaging", "standby", "changes" };
        for (int l = 0; l < 3; l++) {
            const json_t *a = json_object_get(entry, lists[l]);
            size_t j;
            const json_t *item;
            json_array_foreach(a, j, item) {
                struct loa_intake_event *e = &out->events[out->count++];
                read_item(e, item, page_id, time, l == 1);
                if (l == 2) {
                    e->kind = LOA_INTAKE_UNKNOWN;
                    e->raw_kind = "changes";
                }
            }
        }
    }
    return 0;
}

void loa_intake_batch_release(struct loa_intake_batch *b)
{
    for (size_t i = 0; i < b->count; i++) {
        /* The batch's own copies (const for the events' readers). */
        loa_free((void *)(uintptr_t)b->events[i].key);
        loa_free((void *)(uintptr_t)b->events[i].payload);
        loa_free((void *)(uintptr_t)b->events[i].attachments);
        loa_free(b->events[i].mids);
    }
    loa_free(b->events);
    json_decref(b->root);
    memset(b, 0, sizeof(*b));
}
