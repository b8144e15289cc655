/* SPDX-License-Identifier: MIT */
/*
 * The webhook sender: one background thread with one libcurl easy handle (so the connection is
 * kept alive), fed through a bounded min-heap of events ordered by due time. Request handlers
 * only push onto the heap (never block: a full heap drops the event and counts it).
 *
 * An event is either a prepared messaging[] item (echo, delivery, read, an admin action) or a
 * simulated person's action that is applied to the state when it falls due and then produces its
 * item. Items of the same Page that fall due together are sent in one POST, up to
 * config.webhook_batch_max. Each POST is signed with X-Hub-Signature-256 and retried up to three
 * times on failure.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <sodium.h>

#include <loa/alloc.h>
#include <loa/buf.h>
#include <loa/clock.h>
#include <loa/err.h>
#include <loa/log.h>

#include "emu_int.h"

#define MAX_ATTEMPTS 4
#define BATCH_LIMIT  1000

struct event {
    int64_t due_ms; /* monotonic */
    char page_id[EMU_ID_MAX];
    char *item;     /* prepared messaging[] item, or NULL for an action */
    char *envelope; /* a whole body being retried, or NULL */
    int attempts;
    enum emu_action_kind kind;
    char psid[EMU_ID_MAX];
    char *payload;
};

struct emu_webhook {
    struct emu *emu;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop;
    struct event **heap;
    size_t n;
    CURL *curl;
};

static void event_free(struct event *e)
{
    if (!e)
        return;
    loa_free(e->item);
    loa_free(e->envelope);
    loa_free(e->payload);
    loa_free(e);
}

static void heap_swap(struct emu_webhook *w, size_t a, size_t b)
{
    struct event *t = w->heap[a];
    w->heap[a] = w->heap[b];
    w->heap[b] = t;
}

/* Pushes e (lock held). Returns false when the heap is full. */
static bool heap_push(struct emu_webhook *w, struct event *e)
{
    if (w->n >= EMU_WEBHOOK_QUEUE)
        return false;
    size_t i = w->n++;
    w->heap[i] = e;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (w->heap[parent]->due_ms <= w->heap[i]->due_ms)
            break;
        heap_swap(w, parent, i);
        i = parent;
    }
    return true;
}

static struct event *heap_pop(struct emu_webhook *w)
{
    struct event *top = w->heap[0];
    w->heap[0] = w->heap[--w->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < w->n && w->heap[l]->due_ms < w->heap[m]->due_ms)
            m = l;
        if (r < w->n && w->heap[r]->due_ms < w->heap[m]->due_ms)
            m = r;
        if (m == i)
            break;
        heap_swap(w, i, m);
        i = m;
    }
    return top;
}

static void push(struct emu_webhook *w, struct event *e)
{
    pthread_mutex_lock(&w->lock);
    bool ok = !w->stop && heap_push(w, e);
    if (ok && w->heap[0] == e)
        pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    if (!ok) {
        atomic_fetch_add_explicit(&w->emu->stats.webhooks_dropped, 1, memory_order_relaxed);
        event_free(e);
    }
}

void emu_webhook_queue(struct emu_webhook *w, const char *page_id, char *item, int delay_ms)
{
    struct event *e = loa_calloc(1, sizeof(*e));
    e->due_ms = loa_mono_ms() + (delay_ms > 0 ? delay_ms : 0);
    snprintf(e->page_id, sizeof(e->page_id), "%s", page_id);
    e->item = item;
    push(w, e);
}

void emu_webhook_queue_action(struct emu_webhook *w, const char *page_id, const char *psid,
                              enum emu_action_kind kind, const char *payload, int delay_ms)
{
    struct event *e = loa_calloc(1, sizeof(*e));
    e->due_ms = loa_mono_ms() + (delay_ms > 0 ? delay_ms : 0);
    snprintf(e->page_id, sizeof(e->page_id), "%s", page_id);
    snprintf(e->psid, sizeof(e->psid), "%s", psid);
    e->kind = kind;
    e->payload = payload ? loa_strdup(payload) : NULL;
    push(w, e);
}

void emu_webhook_clear(struct emu_webhook *w)
{
    pthread_mutex_lock(&w->lock);
    while (w->n)
        event_free(heap_pop(w));
    pthread_mutex_unlock(&w->lock);
}

/* Applies a simulated action; returns its item (owned) or NULL. */
static char *run_action(struct emu_webhook *w, struct event *e)
{
    struct emu *emu = w->emu;
    char *item = NULL;
    pthread_rwlock_rdlock(&emu->state_lock);
    struct emu_page *page = emu_page_by_id(emu, e->page_id);
    struct emu_person *p = page ? emu_person_get(page, e->psid) : NULL;
    if (p) {
        json_t *args = json_object();
        if (e->payload)
            json_object_set_new(args, "payload", json_string(e->payload));
        if (e->kind == EMU_ACT_MESSAGE)
            json_object_set_new(args, "text", json_string("Thanks!"));
        char err[128];
        if (emu_person_act(emu, p, e->kind, args, emu_clock_now(&emu->clock), &item, NULL, 0, err,
                           sizeof(err)) < 0)
            item = NULL;
        json_decref(args);
    }
    pthread_rwlock_unlock(&emu->state_lock);
    return item;
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *ud)
{
    (void)ptr;
    (void)ud;
    return size * nmemb;
}

/* POSTs body; returns true on a 2xx answer. */
static bool post(struct emu_webhook *w, const char *url, const char *body, const char *secret)
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, strlen(body));
    crypto_auth_hmacsha256_final(&st, mac);
    char header[64 + sizeof(mac) * 2 + 1] = "X-Hub-Signature-256: sha256=";
    sodium_bin2hex(header + strlen(header), sizeof(mac) * 2 + 1, mac, sizeof(mac));
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    h = curl_slist_append(h, header);
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(w->curl, CURLOPT_URL, url);
    curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(w->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(w->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    CURLcode rc = curl_easy_perform(w->curl);
    long status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(h);
    return rc == CURLE_OK && status >= 200 && status < 300;
}

/* Sends events (items of one Page, or one envelope being retried); frees or requeues them. */
static void deliver(struct emu_webhook *w, struct event **evs, size_t n)
{
    struct emu *emu = w->emu;
    char *url = NULL;
    pthread_mutex_lock(&emu->config.lock);
    if (emu->config.webhook_url)
        url = loa_strdup(emu->config.webhook_url);
    pthread_mutex_unlock(&emu->config.lock);
    char secret[256] = "";
    pthread_rwlock_rdlock(&emu->state_lock);
    struct emu_page *page = emu_page_by_id(emu, evs[0]->page_id);
    snprintf(secret, sizeof(secret), "%s", emu_page_secret(emu, page));
    pthread_rwlock_unlock(&emu->state_lock);
    char *body = evs[0]->envelope;
    evs[0]->envelope = NULL;
    if (!body) {
        struct loa_buf b;
        loa_buf_init(&b, (size_t)EMU_BODY_MAX * 16);
        loa_buf_puts(&b, "{\"object\":\"page\",\"entry\":[{\"id\":");
        emu_buf_json_str(&b, evs[0]->page_id);
        loa_buf_printf(&b, ",\"time\":%" PRId64 ",\"messaging\":[", emu_clock_now(&emu->clock));
        for (size_t i = 0; i < n; i++) {
            if (i)
                loa_buf_putc(&b, ',');
            loa_buf_puts(&b, evs[i]->item);
        }
        loa_buf_puts(&b, "]}]}");
        body = loa_buf_detach(&b);
        loa_buf_release(&b);
    }
    int attempts = evs[0]->attempts + 1;
    bool ok = url && post(w, url, body, secret);
    for (size_t i = 0; i < n; i++)
        event_free(evs[i]);
    if (ok) {
        atomic_fetch_add_explicit(&emu->stats.webhooks_sent, 1, memory_order_relaxed);
        loa_free(body);
    } else if (url && attempts < MAX_ATTEMPTS) {
        struct event *e = loa_calloc(1, sizeof(*e));
        e->due_ms = loa_mono_ms() + 100 * (1 << (2 * attempts)); /* 0.4 s, 1.6 s, 6.4 s */
        snprintf(e->page_id, sizeof(e->page_id), "%s", page ? page->id : "");
        e->envelope = body;
        e->attempts = attempts;
        push(w, e);
    } else {
        atomic_fetch_add_explicit(&emu->stats.webhooks_failed, 1, memory_order_relaxed);
        LOA_DEBUG("webhook", "webhook post failed", "attempts=%d", attempts);
        loa_free(body);
    }
    loa_free(url);
}

static void *run(void *arg)
{
    struct emu_webhook *w = arg;
    struct event **batch = loa_calloc(BATCH_LIMIT, sizeof(*batch));
    pthread_mutex_lock(&w->lock);
    while (!w->stop) {
        if (w->n == 0) {
            pthread_cond_wait(&w->cond, &w->lock);
            continue;
        }
        int64_t now = loa_mono_ms();
        if (w->heap[0]->due_ms > now) {
            int64_t wait = w->heap[0]->due_ms - now;
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += wait / 1000;
            ts.tv_nsec += (long)(wait % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&w->cond, &w->lock, &ts);
            continue;
        }
        struct event *first = heap_pop(w);
        pthread_mutex_unlock(&w->lock);
        if (!first->item && !first->envelope) {
            /* A simulated action: apply it, then send its webhook like any other item. */
            first->item = run_action(w, first);
            if (!first->item || !atomic_load(&w->emu->config.has_webhook)) {
                event_free(first);
                pthread_mutex_lock(&w->lock);
                continue;
            }
        }
        size_t n = 1;
        batch[0] = first;
        int max = atomic_load(&w->emu->config.webhook_batch_max);
        if (max > BATCH_LIMIT)
            max = BATCH_LIMIT;
        pthread_mutex_lock(&w->lock);
        while (!first->envelope && n < (size_t)max && w->n && w->heap[0]->due_ms <= now &&
               w->heap[0]->item && strcmp(w->heap[0]->page_id, first->page_id) == 0)
            batch[n++] = heap_pop(w);
        pthread_mutex_unlock(&w->lock);
        deliver(w, batch, n);
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    loa_free(batch);
    return NULL;
}

int emu_webhook_start(struct emu *emu, struct emu_webhook **out)
{
    struct emu_webhook *w = loa_calloc(1, sizeof(*w));
    w->emu = emu;
    w->heap = loa_calloc(EMU_WEBHOOK_QUEUE, sizeof(*w->heap));
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    w->curl = curl_easy_init();
    if (!w->curl)
        goto fail;
    curl_easy_setopt(w->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(w->curl, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(w->curl, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(w->curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(w->curl, CURLOPT_USERAGENT, "facebookexternalua");
    if (pthread_create(&w->thread, NULL, run, w) != 0)
        goto fail;
    *out = w;
    return 0;
fail:
    if (w->curl)
        curl_easy_cleanup(w->curl);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    loa_free(w->heap);
    loa_free(w);
    return LOA_EIO;
}

void emu_webhook_stop(struct emu_webhook *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    emu_webhook_clear(w);
    curl_easy_cleanup(w->curl);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    loa_free(w->heap);
    loa_free(w);
}
