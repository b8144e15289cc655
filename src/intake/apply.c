/* SPDX-License-Identifier: MIT */
/*
 * The effects of a parsed webhook batch on the store, all in one transaction:
 *
 *   - every event is kept raw (webhook_events), keyed for de-duplication; an event whose key is
 *     already stored is a redelivery and has no further effect;
 *   - the person becomes a subscriber the first time any event names them; their window
 *     columns (first seen, last interaction, ad referral) are written as
 *     loa_intake_window_next() (window.c) computes them from the stored ones and the event;
 *   - messages and echoes are stored in their conversation, postbacks too (title and payload);
 *   - deliveries and reads move watermarks; reactions mark the message; notification opt-ins
 *     store or update the topic token (STOP/RESUME);
 *   - events for a Page loa does not know are kept raw only;
 *   - campaign deliveries (docs/campaigns.md): an echo whose metadata is "loa:d:<id>" settles
 *     that delivery as sent; delivery/read watermarks copy onto the person's deliveries; a
 *     postback or quick reply whose payload is "loa:c:<campaign>:..." marks it clicked; a
 *     message from the person marks deliveries sent in the 24 h before as replied;
 *   - sequences (docs/sequences.md), when the caller passes their options: a message removes
 *     the person from sequences that end on a reply; their first message or postback enters
 *     welcome sequences; an m.me ref enters the sequence with that ref; a button or quick reply
 *     whose payload carries "loa:join:<id>" or "loa:leave:<id>" enters or removes them.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <loa/alloc.h>
#include <loa/clock.h>
#include <loa/err.h>
#include <loa/intake.h>
#include <loa/log.h>
#include <loa/msg.h>
#include <loa/phone.h>
#include <loa/sequence.h>

#define PAGE_CACHE 8

struct page_cache {
    const char *page_id[PAGE_CACHE];
    int64_t ref[PAGE_CACHE]; /* 0 = unknown Page */
    size_t n;
};

static int page_ref(struct loa_store *st, struct page_cache *c, const char *page_id, int64_t *out)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->page_id[i], page_id) == 0) {
            *out = c->ref[i];
            return 0;
        }
    struct loa_page p;
    int rc = loa_store_page_get(st, page_id, &p);
    if (rc < 0 && rc != LOA_ENOENT)
        return rc;
    *out = rc == 0 ? p.id : 0;
    if (rc == 0)
        loa_page_release(&p);
    if (c->n < PAGE_CACHE) {
        c->page_id[c->n] = page_id;
        c->ref[c->n++] = *out;
    }
    return 0;
}

/* The number after prefix at the start of s ("loa:d:42" -> 42); 0 when s does not match. */
static int64_t tagged_id(const char *s, const char *prefix)
{
    size_t n = strlen(prefix);
    if (!s || strncmp(s, prefix, n) != 0 || s[n] < '0' || s[n] > '9')
        return 0;
    char *end;
    errno = 0;
    long long v = strtoll(s + n, &end, 10);
    return errno || v <= 0 ? 0 : v;
}

/* Outbox effects of one event (in the batch's transaction). */
static int apply_delivery(struct loa_txn *tx, const struct loa_sequence_opts *seq,
                          const struct loa_intake_event *e, int64_t ref)
{
    if (!e->psid)
        return 0;
    switch (e->kind) {
    case LOA_INTAKE_ECHO: {
        int64_t id = tagged_id(e->metadata, "loa:d:");
        bool settled = false;
        int rc = id ? loa_store_delivery_echo(tx, id, e->mid, e->at, &settled) : 0;
        /* The echo came before Graph's answer, or settled a send left unknown: a sequence
         * step's person moves on now (nothing for other sources). */
        if (rc == 0 && settled && seq)
            rc = loa_sequence_settled(tx, seq, id, LOA_DELIVERY_SENT, e->at, loa_now_ms());
        return rc;
    }
    case LOA_INTAKE_DELIVERY:
    case LOA_INTAKE_READ:
        return loa_store_delivery_funnel(tx, ref, e->psid);
    case LOA_INTAKE_MESSAGE:
    case LOA_INTAKE_POSTBACK: {
        /* The payload names what sent the button: a campaign or a sequence step. */
        int64_t cid = tagged_id(e->quick_reply, "loa:c:");
        int64_t sid = tagged_id(e->quick_reply, "loa:s:");
        int rc = cid ? loa_store_delivery_clicked(tx, LOA_SOURCE_CAMPAIGN, cid, ref, e->psid, e->at)
                 : sid
                     ? loa_store_delivery_clicked(tx, LOA_SOURCE_SEQUENCE, sid, ref, e->psid, e->at)
                     : 0;
        if (rc == 0 && e->kind == LOA_INTAKE_MESSAGE)
            rc = loa_store_delivery_replied(tx, ref, e->psid, e->at);
        return rc;
    }
    default:
        return 0;
    }
}

/* The sequence id after "loa:<verb>:" anywhere in a payload (after the click prefix of the
   message that carried the button); 0 when absent. */
static int64_t action_id(const char *payload, const char *verb)
{
    if (!payload)
        return 0;
    char key[24];
    snprintf(key, sizeof(key), "loa:%s:", verb);
    const char *p = strstr(payload, key);
    return p ? tagged_id(p, key) : 0;
}

#define WAIT_TRIES_MAX 3 /* wrong answers before a wait gives up (no more prompts) */

/* Stores a contact field of the person (phone or email), as a subscriber field. */
static int set_contact(struct loa_txn *tx, int64_t ref, const char *psid, const char *phone,
                       const char *email, int64_t at)
{
    struct loa_subscriber s = {
        .page_ref = ref,
        .psid = (char *)(uintptr_t)psid,
        .phone = (char *)(uintptr_t)phone,
        .email = (char *)(uintptr_t)email,
        .utc_offset_min = LOA_UTC_OFFSET_UNKNOWN,
    };
    enum loa_upsert_result r;
    int64_t id;
    return loa_store_subscriber_upsert(tx, &s, LOA_UPSERT_NO_CONTACTS, at, &r, &id);
}

/*
 * An answer's value as stored: a phone in E.164 (the region of the options), a number as a
 * JSON number, anything else as text. Writes the attribute patch {name: value} into *patch
 * (caller frees) and the E.164 phone into phone (empty when not a phone).
 */
static int answer_value(const struct loa_wait *w, const char *norm, const char *region,
                        char **patch, char phone[LOA_PHONE_MAX])
{
    phone[0] = '\0';
    json_t *v;
    if (w->kind == LOA_MSG_REPLY_PHONE) {
        if (loa_phone_normalize(norm, region ? region : "VN", phone, NULL) < 0)
            return LOA_EINVAL;
        v = json_string(phone);
    } else if (w->kind == LOA_MSG_REPLY_NUMBER) {
        v = json_loads(norm, JSON_DECODE_ANY, NULL);
        if (!json_is_number(v)) {
            json_decref(v);
            v = json_string(norm);
        }
    } else {
        v = json_string(norm);
    }
    json_t *o = json_object();
    json_object_set_new(o, w->attribute, v);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    *patch = text ? loa_strdup(text) : NULL;
    free(text); /* jansson allocates with malloc */
    return *patch ? 0 : LOA_ENOMEM;
}

/*
 * A message from the person answers their open wait (a message ending with wait_reply):
 * checked by the wait's kind, stored in its attribute (a phone or email also in the
 * subscriber's own field), and a sequence's next step counts from now; a reply that does not
 * fit gets the wait's prompt (at most WAIT_TRIES_MAX times). Messenger's own phone and email
 * quick replies (the value in the payload and the text) fill the person's phone or email even
 * without a wait. *answered_out: the message answered a sequence's question.
 */
static int apply_answer(struct loa_txn *tx, const struct loa_sequence_opts *seq,
                        const struct loa_intake_event *e, int64_t ref, int64_t sub,
                        bool *answered_out)
{
    *answered_out = false;
    const char *qr =
        e->quick_reply && strncmp(e->quick_reply, "loa:", 4) != 0 ? e->quick_reply : NULL;
    int rc = 0;
    char *norm = NULL;
    if (qr && e->text && strcmp(qr, e->text) == 0) { /* a phone or email quick reply */
        char phone[LOA_PHONE_MAX];
        if (loa_msg_check_reply(LOA_MSG_REPLY_EMAIL, qr, &norm) == 0)
            rc = set_contact(tx, ref, e->psid, NULL, norm, e->at);
        else if (loa_phone_normalize(qr, seq->phone_region ? seq->phone_region : "VN", phone,
                                     NULL) == 0)
            rc = set_contact(tx, ref, e->psid, phone, NULL, e->at);
        LOA_FREE(norm);
        if (rc < 0)
            return rc;
    }
    struct loa_wait w;
    if ((rc = loa_store_wait_find(loa_txn_store(tx), sub, &w)) < 0)
        return rc == LOA_ENOENT ? 0 : rc;
    if (w.expires_at <= e->at) {
        rc = loa_store_wait_close(tx, w.id, "expired", NULL, e->at, NULL);
        loa_wait_release(&w);
        return rc;
    }
    const char *value =
        qr && (w.kind == LOA_MSG_REPLY_PHONE || w.kind == LOA_MSG_REPLY_EMAIL) ? qr : e->text;
    char phone[LOA_PHONE_MAX] = "";
    char *patch = NULL;
    if (value && loa_msg_check_reply((enum loa_msg_reply_kind)w.kind, value, &norm) == 0 &&
        answer_value(&w, norm, seq->phone_region, &patch, phone) == 0) {
        rc = loa_store_subscriber_patch_attrs(tx, sub, patch, e->at);
        if (rc == 0 && w.kind == LOA_MSG_REPLY_PHONE)
            rc = set_contact(tx, ref, e->psid, phone, NULL, e->at);
        if (rc == 0 && w.kind == LOA_MSG_REPLY_EMAIL)
            rc = set_contact(tx, ref, e->psid, NULL, norm, e->at);
        if (rc == 0)
            rc = loa_store_wait_close(tx, w.id, "answered", phone[0] ? phone : norm, e->at, NULL);
        if (rc == 0 && w.source == LOA_SOURCE_SEQUENCE) {
            char step[24];
            snprintf(step, sizeof(step), "%lld", (long long)w.source_id);
            rc = loa_sequence_on_event(tx, seq, ref, sub, LOA_SEQ_EVENT_ANSWERED, step, e->at);
            *answered_out = true;
        }
    } else if (w.tries + 1 >= WAIT_TRIES_MAX) {
        rc = loa_store_wait_close(tx, w.id, "gave_up", NULL, e->at, NULL);
    } else {
        rc = loa_store_wait_tried(tx, w.id);
        if (rc == 0 && w.prompt && *w.prompt)
            rc = loa_store_wait_prompt(tx, w.id, ref, sub, e->psid, e->at, NULL);
    }
    loa_free(patch);
    loa_free(norm);
    loa_wait_release(&w);
    return rc;
}

/* What the event means for sequences (in the batch's transaction). */
static int apply_sequences(struct loa_txn *tx, const struct loa_sequence_opts *seq,
                           const struct loa_intake_event *e, int64_t ref, int64_t sub,
                           bool first_contact)
{
    int rc = 0;
    bool inbound = e->kind == LOA_INTAKE_MESSAGE || e->kind == LOA_INTAKE_POSTBACK;
    bool answered = false;
    if (e->kind == LOA_INTAKE_MESSAGE)
        rc = apply_answer(tx, seq, e, ref, sub, &answered);
    /* An answer to a sequence's own question does not end it (leave on reply). */
    if (rc == 0 && e->kind == LOA_INTAKE_MESSAGE && !answered)
        rc = loa_sequence_on_event(tx, seq, ref, sub, LOA_SEQ_EVENT_MESSAGE, NULL, e->at);
    if (rc == 0 && inbound && first_contact)
        rc = loa_sequence_on_event(tx, seq, ref, sub, LOA_SEQ_EVENT_FIRST_MESSAGE, NULL, e->at);
    if (rc == 0 && e->ref && *e->ref)
        rc = loa_sequence_on_event(tx, seq, ref, sub, LOA_SEQ_EVENT_REF, e->ref, e->at);
    const char *payload = e->quick_reply;
    char num[24];
    int64_t id;
    if (rc == 0 && inbound && (id = action_id(payload, "join"))) {
        snprintf(num, sizeof(num), "%lld", (long long)id);
        rc = loa_sequence_on_event(tx, seq, ref, sub, LOA_SEQ_EVENT_JOIN, num, e->at);
    }
    if (rc == 0 && inbound && (id = action_id(payload, "leave"))) {
        snprintf(num, sizeof(num), "%lld", (long long)id);
        rc = loa_sequence_on_event(tx, seq, ref, sub, LOA_SEQ_EVENT_LEAVE, num, e->at);
    }
    return rc;
}

static int apply_one(struct loa_txn *tx, const struct loa_sequence_opts *seq,
                     const struct loa_intake_event *e, int64_t ref, struct loa_intake_result *res,
                     size_t *cap)
{
    int rc = 0;
    int64_t sub = 0;
    bool first_contact = false;
    if (e->psid && *e->psid) {
        int64_t id = 0;
        struct loa_window cur, next;
        char *kind = NULL;
        rc = loa_store_window_get(loa_txn_store(tx), ref, e->psid, &id, &cur, &kind);
        if (rc == 0) {
            loa_intake_window_next(&cur, e, &next);
            rc = loa_store_window_put(tx, ref, e->psid, id, &next, loa_now_ms(), &id);
        }
        loa_free(kind);
        if (rc < 0)
            return rc;
        sub = id;
        first_contact = cur.last_interaction_at == 0;
        if (!cur.known) {
            if (res->nnew == *cap) {
                *cap = *cap ? *cap * 2 : 16;
                res->new_subscribers =
                    loa_reallocarray(res->new_subscribers, *cap, sizeof(int64_t));
            }
            res->new_subscribers[res->nnew++] = id;
        }
    }
    switch (e->kind) {
    case LOA_INTAKE_MESSAGE:
    case LOA_INTAKE_ECHO:
    case LOA_INTAKE_POSTBACK: {
        if (!e->mid || !e->psid)
            break;
        struct loa_message m = {
            .page_ref = ref,
            .psid = (char *)(uintptr_t)e->psid,
            .mid = (char *)(uintptr_t)e->mid,
            .direction = e->kind == LOA_INTAKE_ECHO ? LOA_DIR_OUT : LOA_DIR_IN,
            .text = (char *)(uintptr_t)e->text,
            .quick_reply = (char *)(uintptr_t)e->quick_reply,
            .attachments = (char *)(uintptr_t)e->attachments,
            .app_id = (char *)(uintptr_t)e->app_id,
            .metadata = (char *)(uintptr_t)e->metadata,
            .sent_at = e->at,
        };
        rc = loa_store_message_record(tx, &m, loa_now_ms(), NULL);
        break;
    }
    case LOA_INTAKE_DELIVERY:
        if (e->psid)
            rc = loa_store_conversation_delivered(tx, ref, e->psid, e->watermark, e->mids, e->nmids,
                                                  loa_now_ms());
        break;
    case LOA_INTAKE_READ:
        if (e->psid && e->watermark > 0)
            rc = loa_store_conversation_read(tx, ref, e->psid, e->watermark);
        break;
    case LOA_INTAKE_REACTION:
        if (e->reaction_mid)
            rc = loa_store_message_react(tx, e->reaction_mid,
                                         e->unreact ? NULL : (e->reaction ? e->reaction : "other"),
                                         NULL);
        break;
    case LOA_INTAKE_OPTIN:
        if (e->ntoken && e->psid) {
            struct loa_ntoken_input in = {
                .page_ref = ref,
                .psid = e->psid,
                .token = e->token,
                .title = e->title,
                .payload = e->optin_payload,
                .frequency = e->frequency,
                .timezone = e->timezone,
                .expires_at = e->token_expiry,
                .user_token_status = e->user_token_status,
                .stop = e->stop,
                .at = e->at,
            };
            rc = loa_store_ntoken_apply(tx, &in, loa_now_ms());
        }
        break;
    default:
        break;
    }
    if (rc == 0)
        rc = apply_delivery(tx, seq, e, ref);
    if (rc == 0 && seq && sub)
        rc = apply_sequences(tx, seq, e, ref, sub, first_contact);
    return rc;
}

/*
 * Times from outside are checked before they touch the store (issue 16): an event time before
 * 2015 (the Messenger Platform opened in 2016; 0 and negatives included) or more than
 * LOA_INTAKE_SKEW_MS ahead of this clock becomes the time it arrived, with a logged reason, so
 * that it can neither erase a first-seen time, nor open a window until 2100, nor overflow the
 * rules' arithmetic. Watermarks likewise (one ahead of us becomes now: the person has read up
 * to now; one before 2015 is dropped), and an opt-in token's expiry before its own opt-in is
 * unknown. Returns how many times were changed.
 */
static unsigned sane_times(struct loa_intake_event *e, int64_t now)
{
    unsigned fixed = 0;
    if (e->at < LOA_INTAKE_TIME_FLOOR_MS || e->at > now + LOA_INTAKE_SKEW_MS) {
        LOA_WARN("intake", "event time out of range; using the time it arrived",
                 "page=%s kind=%s at=%lld now=%lld", e->page_id ? e->page_id : "-",
                 loa_intake_kind_name(e->kind), (long long)e->at, (long long)now);
        e->at = now;
        fixed++;
    }
    if (e->watermark && e->watermark > now + LOA_INTAKE_SKEW_MS) {
        LOA_WARN("intake", "watermark ahead of this clock; read as now", "page=%s watermark=%lld",
                 e->page_id ? e->page_id : "-", (long long)e->watermark);
        e->watermark = now;
        fixed++;
    } else if (e->watermark && e->watermark < LOA_INTAKE_TIME_FLOOR_MS) {
        LOA_WARN("intake", "watermark before 2015; dropped", "page=%s watermark=%lld",
                 e->page_id ? e->page_id : "-", (long long)e->watermark);
        e->watermark = 0;
        fixed++;
    }
    if (e->token_expiry && e->token_expiry < e->at) {
        e->token_expiry = 0; /* unknown: the rules read the lifetime from the frequency */
        fixed++;
    }
    return fixed;
}

/* Applies the batch's events inside the caller's transaction; on failure the caller undoes. */
static int apply_events(struct loa_txn *tx, const struct loa_sequence_opts *seq,
                        const struct loa_intake_event *ev, size_t n, struct loa_intake_result *res)
{
    int rc = 0;
    struct page_cache pages = { .n = 0 };
    size_t cap = 0;
    int64_t now = loa_now_ms();
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct loa_intake_event checked = ev[i];
        res->clamped += sane_times(&checked, now);
        const struct loa_intake_event *e = &checked;
        const char *kind = e->kind == LOA_INTAKE_UNKNOWN && e->raw_kind
                               ? e->raw_kind
                               : loa_intake_kind_name(e->kind);
        struct loa_event_input in = {
            .key = e->key,
            .kind = e->kind == LOA_INTAKE_UNKNOWN ? "unknown" : kind,
            .page_id = e->page_id,
            .psid = e->psid,
            .at = e->at,
            .payload = e->payload,
        };
        bool inserted = false;
        if ((rc = loa_store_event_record(tx, &in, now, &inserted)) < 0)
            break;
        if (!inserted) {
            res->duplicates++;
            continue;
        }
        res->stored++;
        res->by_kind[e->kind]++;
        if (e->kind == LOA_INTAKE_UNKNOWN)
            continue;
        int64_t ref = 0;
        if ((rc = page_ref(loa_txn_store(tx), &pages, e->page_id, &ref)) < 0)
            break;
        if (!ref) {
            res->unknown_page++;
            continue;
        }
        rc = apply_one(tx, seq, e, ref, res, &cap);
    }
    return rc;
}

void loa_intake_result_release(struct loa_intake_result *res)
{
    LOA_FREE(res->new_subscribers);
    memset(res, 0, sizeof(*res));
}

int loa_intake_apply(struct loa_store *st, const struct loa_sequence_opts *seq,
                     const struct loa_intake_event *ev, size_t n, struct loa_intake_result *res)
{
    memset(res, 0, sizeof(*res));
    struct loa_txn *tx;
    int rc = loa_store_begin(st, &tx);
    if (rc < 0)
        return rc;
    rc = loa_store_end(tx, apply_events(tx, seq, ev, n, res));
    if (rc < 0)
        loa_intake_result_release(res);
    return rc;
}

int loa_intake_apply_step(struct loa_txn *tx, const struct loa_sequence_opts *seq,
                          const struct loa_intake_event *ev, size_t n,
                          struct loa_intake_result *res)
{
    memset(res, 0, sizeof(*res));
    int rc = loa_store_savepoint(tx);
    if (rc < 0)
        return rc;
    rc = apply_events(tx, seq, ev, n, res);
    if (rc == 0)
        rc = loa_store_savepoint_release(tx);
    if (rc < 0) {
        loa_store_savepoint_rollback(tx);
        loa_intake_result_release(res);
    }
    return rc;
}
