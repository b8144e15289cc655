/* SPDX-License-Identifier: MIT */
/*
 * The log of accepted messages and small JSON helpers.
 *
 * The log is an array of fixed-size chunks whose pointer table never moves, so readers can walk
 * entries below `count` without the lock while senders append: an entry is complete before
 * `count` is raised past it (release store, acquire load).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <loa/alloc.h>

#include "emu_int.h"

static void new_prefix(struct emu_log *log)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    for (int i = 0; i < 8; i++)
        log->mid_prefix[i] = al[emu_rand32() % (sizeof(al) - 1)];
    log->mid_prefix[8] = '\0';
}

void emu_log_init(struct emu_log *log)
{
    memset(log, 0, sizeof(*log));
    pthread_mutex_init(&log->lock, NULL);
    new_prefix(log);
}

static void free_entries(struct emu_log *log)
{
    int64_t n = atomic_load(&log->count);
    for (int64_t i = 0; i < n; i++) {
        struct emu_log_entry *e = &log->chunks[i / EMU_LOG_CHUNK][i % EMU_LOG_CHUNK];
        loa_free(e->tag);
        loa_free(e->body);
    }
    for (int c = 0; c < EMU_LOG_CHUNKS && log->chunks[c]; c++)
        LOA_FREE(log->chunks[c]);
    atomic_store(&log->count, 0);
}

void emu_log_reset(struct emu_log *log)
{
    pthread_mutex_lock(&log->lock);
    free_entries(log);
    new_prefix(log);
    pthread_mutex_unlock(&log->lock);
}

void emu_log_release(struct emu_log *log)
{
    free_entries(log);
    pthread_mutex_destroy(&log->lock);
}

int64_t emu_log_append(struct emu_log *log, int64_t at_ms, struct emu_person *person,
                       enum emu_mtype mtype, const char *tag, char *body)
{
    pthread_mutex_lock(&log->lock);
    int64_t i = atomic_load_explicit(&log->count, memory_order_relaxed);
    int64_t c = i / EMU_LOG_CHUNK;
    if (c >= EMU_LOG_CHUNKS) {
        /* Full (half a billion entries): keep accepting sends, stop logging them. */
        pthread_mutex_unlock(&log->lock);
        loa_free(body);
        return i + 1;
    }
    if (!log->chunks[c])
        log->chunks[c] = loa_calloc(EMU_LOG_CHUNK, sizeof(struct emu_log_entry));
    struct emu_log_entry *e = &log->chunks[c][i % EMU_LOG_CHUNK];
    e->seq = i + 1;
    e->at_ms = at_ms;
    e->person = person;
    e->mtype = mtype;
    e->tag = tag ? loa_strdup(tag) : NULL;
    e->body = body;
    atomic_store_explicit(&log->count, i + 1, memory_order_release);
    pthread_mutex_unlock(&log->lock);
    return i + 1;
}

const struct emu_log_entry *emu_log_get(struct emu_log *log, int64_t seq)
{
    if (seq < 1 || seq > atomic_load_explicit(&log->count, memory_order_acquire))
        return NULL;
    int64_t i = seq - 1;
    return &log->chunks[i / EMU_LOG_CHUNK][i % EMU_LOG_CHUNK];
}

void emu_mid_format(const struct emu_log *log, int64_t seq, char *out, size_t size)
{
    snprintf(out, size, "m_%s%" PRId64, log->mid_prefix, seq);
}

void emu_buf_json_str(struct loa_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    loa_buf_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        const char *run = (const char *)p;
        size_t n = 0;
        while (p[n] && p[n] >= 0x20 && p[n] != '"' && p[n] != '\\')
            n++;
        if (n) {
            loa_buf_append(b, run, n);
            p += n - 1;
            continue;
        }
        char esc[7] = { '\\', (char)*p, 0 };
        if (*p == '\n')
            esc[1] = 'n';
        else if (*p == '\r')
            esc[1] = 'r';
        else if (*p == '\t')
            esc[1] = 't';
        else if (*p < 0x20) {
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[*p >> 4];
            esc[5] = hex[*p & 15];
        }
        loa_buf_puts(b, esc);
    }
    loa_buf_putc(b, '"');
}

void emu_log_format(const struct emu_log *log, const struct emu_log_entry *e, struct loa_buf *b)
{
    char mid[48];
    emu_mid_format(log, e->seq, mid, sizeof(mid));
    loa_buf_printf(b, "{\"seq\":%" PRId64 ",\"mid\":\"%s\",\"page_id\":", e->seq, mid);
    emu_buf_json_str(b, e->person->page->id);
    loa_buf_puts(b, ",\"psid\":");
    emu_buf_json_str(b, e->person->psid);
    loa_buf_printf(b, ",\"at_ms\":%" PRId64 ",\"messaging_type\":", e->at_ms);
    if (e->mtype == EMU_MT_NONE)
        loa_buf_puts(b, "null");
    else
        emu_buf_json_str(b, emu_mtype_name(e->mtype));
    loa_buf_puts(b, ",\"tag\":");
    if (e->tag)
        emu_buf_json_str(b, e->tag);
    else
        loa_buf_puts(b, "null");
    /* metadata and body come from the stored request, which is valid JSON */
    json_t *root = json_loads(e->body, 0, NULL);
    const char *meta =
        json_string_value(json_object_get(json_object_get(root, "message"), "metadata"));
    loa_buf_puts(b, ",\"metadata\":");
    if (meta)
        emu_buf_json_str(b, meta);
    else
        loa_buf_puts(b, "null");
    loa_buf_puts(b, ",\"body\":");
    if (root)
        loa_buf_puts(b, e->body);
    else
        emu_buf_json_str(b, e->body);
    json_decref(root);
    loa_buf_putc(b, '}');
}

void emu_reply_graph_error(struct emu_reply *out, int status, int code, int subcode,
                           const char *message)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    char trace[12];
    for (int i = 0; i < 11; i++)
        trace[i] = al[emu_rand32() % (sizeof(al) - 1)];
    trace[11] = '\0';
    out->status = status;
    loa_buf_reset(&out->body);
    loa_buf_puts(&out->body, "{\"error\":{\"message\":");
    emu_buf_json_str(&out->body, message);
    loa_buf_printf(&out->body, ",\"type\":\"OAuthException\",\"code\":%d", code);
    if (subcode)
        loa_buf_printf(&out->body, ",\"error_subcode\":%d", subcode);
    loa_buf_printf(&out->body, ",\"fbtrace_id\":\"%s\"}}", trace);
}
