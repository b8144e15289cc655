/* SPDX-License-Identifier: MIT */
/*
 * The sequence service's codec (include/loa/sequence.h): a sequence object read with the path
 * of every complaint, and sequences, groups, enrolments and progress as JSON text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <loa/alloc.h>
#include <loa/audience.h>
#include <loa/campaign.h>
#include <loa/clock.h>
#include <loa/err.h>
#include <loa/link.h>
#include <loa/msg.h>
#include <loa/rules.h>
#include <loa/schedule.h>
#include <loa/sequence.h>
#include <loa/utf8.h>

#include "sequence_int.h"

#define NAME_MAX_CHARS 200
#define NOTE_MAX_BYTES 2000
#define STEPS_MAX      100
#define TAGS_MAX       20
/* The longest step id, for checking payload lengths before the step exists. */
#define LONGEST_ID 999999999999LL

static char *dump(const json_t *v)
{
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    char *r = loa_strdup(t ? t : "null");
    free(t); /* jansson allocates with malloc */
    return r;
}

static bool one_of(const char *k, const char *const *keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(k, keys[i]) == 0)
            return true;
    return false;
}

static void unknown_keys(json_t *o, const char *const *keys, size_t n, const char *base,
                         struct loa_diags *d)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        if (!one_of(k, keys, n)) {
            char where[160];
            snprintf(where, sizeof(where), "%s%s%.60s", base, *base ? "." : "", k);
            loa_diags_add(d, 0, 0, where, "unknown field");
        }
    }
}

static bool get_bool(const json_t *o, const char *key, const char *where, bool *out,
                     struct loa_diags *d)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return true;
    if (!json_is_boolean(v)) {
        loa_diags_add(d, 0, 0, where, "must be true or false");
        return false;
    }
    *out = json_is_true(v);
    return true;
}

static void parse_window(json_t *w, struct loa_sequence *s, struct loa_diags *d)
{
    if (json_is_null(w)) {
        s->window_from_min = s->window_to_min = 0;
        s->weekdays = 0;
        return;
    }
    if (!json_is_object(w)) {
        loa_diags_add(d, 0, 0, "window",
                      "must be {\"from\":\"HH:MM\",\"to\":\"HH:MM\",\"days\":\"mon-fri\"} in "
                      "the sequence's clock, or null for any time");
        return;
    }
    static const char *const keys[] = { "from", "to", "days" };
    unknown_keys(w, keys, 3, "window", d);
    int min[2] = { 0, 0 };
    bool ok = true;
    for (int i = 0; i < 2; i++) {
        const char *name = keys[i];
        char where[32];
        snprintf(where, sizeof(where), "window.%s", name);
        json_t *x = json_object_get(w, name);
        if (!json_is_string(x)) {
            loa_diags_add(d, 0, 0, where, "is required: a time of day HH:MM");
            ok = false;
        } else if (loa_schedule_time_parse(json_string_value(x), where, &min[i], d) < 0) {
            ok = false;
        }
    }
    unsigned days = 0;
    json_t *x = json_object_get(w, "days");
    if (json_is_string(x)) {
        ok &= loa_schedule_weekdays_parse(json_string_value(x), "window.days", &days, d) == 0;
    } else if (json_is_array(x)) {
        size_t i;
        json_t *day;
        json_array_foreach(x, i, day) {
            char where[48];
            snprintf(where, sizeof(where), "window.days[%zu]", i);
            unsigned one = 0;
            if (!json_is_string(day)) {
                loa_diags_add(d, 0, 0, where, "must be a weekday such as \"mon\" or \"t2\"");
                ok = false;
            } else if (loa_schedule_weekdays_parse(json_string_value(day), where, &one, d) < 0) {
                ok = false;
            }
            days |= one;
        }
    } else if (x && !json_is_null(x)) {
        loa_diags_add(d, 0, 0, "window.days",
                      "must be a list of weekdays (\"mon-fri\" or [\"t2\", \"t3\"]) or null");
        ok = false;
    }
    if (!ok)
        return;
    if (min[0] == min[1]) {
        loa_diags_add(d, 0, 0, "window",
                      "from and to must differ (00:00 to 24:00 is all day; null is any time)");
        return;
    }
    struct loa_send_window sw = { .from_min = min[0] == 1440 ? 0 : min[0],
                                  .to_min = min[1],
                                  .weekdays = days };
    if (sw.from_min == 0 && sw.to_min == 1440)
        sw.to_min = 0; /* all day */
    if (loa_schedule_window_check(&sw, "window", d) < 0)
        return;
    s->window_from_min = sw.from_min;
    s->window_to_min = sw.to_min;
    s->weekdays = sw.weekdays == LOA_EVERY_DAY ? 0 : sw.weekdays;
}

static void parse_triggers(json_t *t, struct loa_sequence *s, struct loa_diags *d)
{
    if (!json_is_object(t)) {
        loa_diags_add(d, 0, 0, "triggers",
                      "must be {\"welcome\": bool, \"ref\": text or null, \"tags\": [names]}");
        return;
    }
    static const char *const keys[] = { "welcome", "ref", "tags" };
    unknown_keys(t, keys, 3, "triggers", d);
    get_bool(t, "welcome", "triggers.welcome", &s->welcome, d);
    json_t *ref = json_object_get(t, "ref");
    if (json_is_null(ref) || (json_is_string(ref) && json_string_length(ref) == 0)) {
        LOA_FREE(s->ref);
    } else if (ref && !json_is_string(ref)) {
        loa_diags_add(d, 0, 0, "triggers.ref", "must be the ref of an m.me link (text) or null");
    } else if (ref && loa_link_ref_check(json_string_value(ref), "triggers.ref", d) == 0) {
        loa_free(s->ref);
        s->ref = loa_strdup(json_string_value(ref));
    }
    json_t *tags = json_object_get(t, "tags");
    if (!tags)
        return;
    bool ok = json_is_array(tags) && json_array_size(tags) <= TAGS_MAX;
    size_t i;
    json_t *v;
    json_array_foreach(tags, i, v) {
        if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 100) {
            char where[48];
            snprintf(where, sizeof(where), "triggers.tags[%zu]", i);
            loa_diags_add(d, 0, 0, where, "must be a tag name (1-100 bytes)");
            ok = false;
        }
    }
    if (!json_is_array(tags) || json_array_size(tags) > TAGS_MAX)
        loa_diags_add(d, 0, 0, "triggers.tags", "must be a list of at most %d tag names", TAGS_MAX);
    if (ok) {
        loa_free(s->tags);
        s->tags = dump(tags);
    }
}

/* Reads step i into *t (defaults first); complaints under "steps[i]". */
static void parse_step(json_t *j, size_t i, const struct loa_sequence *current,
                       struct loa_seq_step *t, struct loa_diags *d)
{
    char base[32], where[64];
    snprintf(base, sizeof(base), "steps[%zu]", i);
    t->enabled = true;
    t->purpose = loa_strdup("promotional");
    t->delay_unit = LOA_DELAY_MINUTES;
    if (!json_is_object(j)) {
        loa_diags_add(d, 0, 0, base, "must be an object with delay and blocks");
        return;
    }
    static const char *const keys[] = { "id",      "delay",         "note",    "blocks",
                                        "purpose", "inside_window", "enabled", "any_time" };
    unknown_keys(j, keys, 8, base, d);
    json_t *id = json_object_get(j, "id");
    if (id && !json_is_null(id)) {
        snprintf(where, sizeof(where), "%s.id", base);
        bool found = false;
        for (size_t k = 0; current && json_is_integer(id) && k < current->nsteps; k++)
            found |= current->steps[k].id == json_integer_value(id);
        if (!found)
            loa_diags_add(d, 0, 0, where,
                          current ? "is not a step of this sequence (leave it out for a new step)"
                                  : "must be left out when creating a sequence");
        else
            t->id = json_integer_value(id);
    }
    json_t *delay = json_object_get(j, "delay");
    snprintf(where, sizeof(where), "%s.delay", base);
    if (!delay) {
        loa_diags_add(d, 0, 0, where, "is required: {\"value\": 2, \"unit\": \"hours\"}");
    } else if (!json_is_object(delay) || !json_is_integer(json_object_get(delay, "value")) ||
               !json_is_string(json_object_get(delay, "unit"))) {
        loa_diags_add(d, 0, 0, where,
                      "must be {\"value\": a whole number, \"unit\": seconds, minutes, hours "
                      "or days}");
    } else {
        static const char *const dkeys[] = { "value", "unit" };
        unknown_keys(delay, dkeys, 2, where, d);
        enum loa_delay_unit u;
        char w2[80];
        snprintf(w2, sizeof(w2), "%s.unit", where);
        int64_t n = json_integer_value(json_object_get(delay, "value"));
        if (loa_schedule_unit_parse(json_string_value(json_object_get(delay, "unit")), &u) < 0) {
            loa_diags_add(d, 0, 0, w2, "must be seconds, minutes, hours or days");
        } else if (loa_schedule_delay_ms(n, u, &t->delay_ms) < 0) {
            snprintf(w2, sizeof(w2), "%s.value", where);
            loa_diags_add(d, 0, 0, w2, "must be from 0 up to 3650 days");
        } else {
            t->delay_n = n;
            t->delay_unit = (int32_t)u;
        }
    }
    json_t *note = json_object_get(j, "note");
    snprintf(where, sizeof(where), "%s.note", base);
    if (json_is_string(note) && json_string_length(note) <= NOTE_MAX_BYTES) {
        if (json_string_length(note))
            t->note = loa_strdup(json_string_value(note));
    } else if (note && !json_is_null(note)) {
        loa_diags_add(d, 0, 0, where, "must be text of at most %d bytes, or null", NOTE_MAX_BYTES);
    }
    json_t *purpose = json_object_get(j, "purpose");
    snprintf(where, sizeof(where), "%s.purpose", base);
    if (purpose) {
        const char *p = json_string_value(purpose);
        if (!p || (strcmp(p, "promotional") != 0 && strcmp(p, "non_promotional") != 0)) {
            loa_diags_add(d, 0, 0, where, "must be \"promotional\" or \"non_promotional\"");
        } else {
            loa_free(t->purpose);
            t->purpose = loa_strdup(p);
        }
    }
    snprintf(where, sizeof(where), "%s.inside_window", base);
    get_bool(j, "inside_window", where, &t->inside_window, d);
    snprintf(where, sizeof(where), "%s.enabled", base);
    get_bool(j, "enabled", where, &t->enabled, d);
    snprintf(where, sizeof(where), "%s.any_time", base);
    get_bool(j, "any_time", where, &t->any_time, d);
    json_t *blocks = json_object_get(j, "blocks");
    snprintf(where, sizeof(where), "%s.blocks", base);
    if (!blocks) {
        loa_diags_add(d, 0, 0, where, "is required: the message's blocks");
        return;
    }
    json_t *wrapped =
        json_is_array(blocks) ? json_pack("{s:O}", "blocks", blocks) : json_incref(blocks);
    t->blocks = dump(wrapped);
    json_decref(wrapped);
    /* Compile it as it will be sent (payload prefix included) and move the paths under the
     * step: "blocks[0].text" becomes "steps[2].blocks[0].text". */
    struct loa_diags md;
    loa_diags_init(&md, 50);
    char prefix[48];
    snprintf(prefix, sizeof(prefix), LOA_SEQUENCE_PAYLOAD_PREFIX "%lld:", LONGEST_ID);
    struct loa_msg *m = NULL;
    loa_blocks_compile(t->blocks, prefix, NULL, &m, &md);
    struct loa_msg_wait w;
    t->waits = m && loa_msg_get_wait(m, &w) == 0;
    loa_msg_free(m);
    for (size_t k = 0; k < md.count; k++) {
        const struct loa_diag *x = &md.items[k];
        char w3[256];
        snprintf(w3, sizeof(w3), "%s.%s", base, x->where && *x->where ? x->where : "blocks");
        loa_diags_add(d, x->line, x->column, w3, "%s", x->reason);
    }
    loa_diags_release(&md);
}

static void copy_steps(struct loa_sequence *dst, const struct loa_sequence *src)
{
    dst->steps = src->nsteps ? loa_calloc(src->nsteps, sizeof(*dst->steps)) : NULL;
    dst->nsteps = src->nsteps;
    for (size_t i = 0; i < src->nsteps; i++) {
        dst->steps[i] = src->steps[i];
        dst->steps[i].note = src->steps[i].note ? loa_strdup(src->steps[i].note) : NULL;
        dst->steps[i].blocks = loa_strdup(src->steps[i].blocks);
        dst->steps[i].purpose = loa_strdup(src->steps[i].purpose);
    }
}

int loa_sequence_parse(const char *json, size_t len, const struct loa_sequence_parse_opts *o,
                       struct loa_sequence *out, char **page_id_out, struct loa_diags *diags)
{
    const struct loa_sequence *cur = o ? o->current : NULL;
    memset(out, 0, sizeof(*out));
    if (page_id_out)
        *page_id_out = NULL;
    size_t before = loa_diags_total(diags);
    json_error_t err;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
    if (!root) {
        loa_diags_add(diags, err.line > 0 ? err.line : 0, err.column > 0 ? err.column : 0, "body",
                      "malformed JSON: %s", err.text);
        return LOA_EINVAL;
    }
    if (!json_is_object(root)) {
        loa_diags_add(diags, 0, 0, "body", "must be a JSON object");
        json_decref(root);
        return LOA_EINVAL;
    }
    static const char *const keys[] = { "page_id",  "group_id", "name",           "active",
                                        "window",   "clock",    "leave_on_reply", "on_refused",
                                        "triggers", "steps" };
    unknown_keys(root, keys, 10, "", diags);
    /* Start from the stored sequence (update) or the defaults (create). */
    if (cur) {
        *out = *cur;
        out->name = loa_strdup(cur->name);
        out->ref = cur->ref ? loa_strdup(cur->ref) : NULL;
        out->tags = loa_strdup(cur->tags ? cur->tags : "[]");
        copy_steps(out, cur);
    } else {
        out->active = true;
        out->person_clock = true;
        out->tags = loa_strdup("[]");
    }
    json_t *v;
    if ((v = json_object_get(root, "page_id"))) {
        if (cur)
            loa_diags_add(diags, 0, 0, "page_id", "cannot be changed");
        else if (!json_is_string(v) || json_string_length(v) == 0)
            loa_diags_add(diags, 0, 0, "page_id", "must be the Page's id");
        else if (page_id_out)
            *page_id_out = loa_strdup(json_string_value(v));
    } else if (!cur) {
        loa_diags_add(diags, 0, 0, "page_id", "is required");
    }
    if ((v = json_object_get(root, "group_id"))) {
        if (json_is_null(v))
            out->group_id = 0;
        else if (json_is_integer(v) && json_integer_value(v) > 0)
            out->group_id = json_integer_value(v);
        else
            loa_diags_add(diags, 0, 0, "group_id", "must be a group's id or null");
    }
    if ((v = json_object_get(root, "name"))) {
        size_t chars =
            json_is_string(v) ? loa_utf8_count(json_string_value(v), json_string_length(v)) : 0;
        if (!json_is_string(v) || chars == 0 || chars > NAME_MAX_CHARS) {
            loa_diags_add(diags, 0, 0, "name", "must be text of 1 to %d characters",
                          NAME_MAX_CHARS);
        } else {
            loa_free(out->name);
            out->name = loa_strdup(json_string_value(v));
        }
    } else if (!cur) {
        loa_diags_add(diags, 0, 0, "name", "is required");
    }
    get_bool(root, "active", "active", &out->active, diags);
    get_bool(root, "leave_on_reply", "leave_on_reply", &out->leave_on_reply, diags);
    if ((v = json_object_get(root, "window")))
        parse_window(v, out, diags);
    if ((v = json_object_get(root, "clock"))) {
        const char *c = json_string_value(v);
        if (c && strcmp(c, "person") == 0)
            out->person_clock = true;
        else if (c && strcmp(c, "page") == 0)
            out->person_clock = false;
        else
            loa_diags_add(diags, 0, 0, "clock",
                          "must be \"person\" (the person's own time zone when known, else the "
                          "Page's) or \"page\"");
    }
    if ((v = json_object_get(root, "on_refused"))) {
        const char *c = json_string_value(v);
        if (c && strcmp(c, "continue") == 0)
            out->leave_on_refused = false;
        else if (c && strcmp(c, "leave") == 0)
            out->leave_on_refused = true;
        else
            loa_diags_add(diags, 0, 0, "on_refused",
                          "must be \"continue\" (the person moves on to the next step) or "
                          "\"leave\"");
    }
    if ((v = json_object_get(root, "triggers")))
        parse_triggers(v, out, diags);
    if ((v = json_object_get(root, "steps"))) {
        if (!json_is_array(v) || json_array_size(v) > STEPS_MAX) {
            loa_diags_add(diags, 0, 0, "steps", "must be a list of at most %d steps", STEPS_MAX);
        } else {
            struct loa_sequence tmp = { .steps = out->steps, .nsteps = out->nsteps };
            loa_sequence_release(&tmp);
            out->nsteps = json_array_size(v);
            out->steps = out->nsteps ? loa_calloc(out->nsteps, sizeof(*out->steps)) : NULL;
            size_t i;
            json_t *s;
            json_array_foreach(v, i, s) {
                parse_step(s, i, cur, &out->steps[i], diags);
                for (size_t k = 0; k < i; k++)
                    if (out->steps[i].id && out->steps[k].id == out->steps[i].id) {
                        char where[32];
                        snprintf(where, sizeof(where), "steps[%zu].id", i);
                        loa_diags_add(diags, 0, 0, where, "is listed twice");
                    }
            }
        }
    }
    json_decref(root);
    if (loa_diags_total(diags) > before) {
        loa_sequence_release(out);
        if (page_id_out)
            LOA_FREE(*page_id_out);
        return LOA_EINVAL;
    }
    return 0;
}

/* ---- Output -------------------------------------------------------------------------------- */

static json_t *time_json(int64_t ms)
{
    if (ms <= 0)
        return json_null();
    char buf[40];
    loa_time_format(ms, buf, sizeof(buf));
    return json_string(buf);
}

static json_t *window_json(const struct loa_sequence *s)
{
    if (s->window_from_min == s->window_to_min && s->weekdays == 0)
        return json_null();
    char from[8], to[8], days[40];
    loa_schedule_time_format(s->window_from_min, from, sizeof(from));
    loa_schedule_time_format(s->window_from_min == s->window_to_min ? 1440 : s->window_to_min, to,
                             sizeof(to));
    json_t *w = json_pack("{s:s,s:s}", "from", from, "to", to);
    if (s->weekdays) {
        loa_schedule_weekdays_format(s->weekdays, days, sizeof(days));
        json_object_set_new(w, "days", json_string(days));
    } else {
        json_object_set_new(w, "days", json_null());
    }
    return w;
}

static json_t *step_json(const struct loa_seq_step *t)
{
    json_t *blocks = json_loads(t->blocks, 0, NULL);
    json_t *arr = json_object_get(blocks, "blocks");
    json_t *j = json_pack(
        "{s:I,s:I,s:{s:I,s:s},s:s?,s:O,s:s,s:b,s:b,s:b}", "id", (json_int_t)t->id, "position",
        (json_int_t)t->position, "delay", "value", (json_int_t)t->delay_n, "unit",
        loa_schedule_unit_name((enum loa_delay_unit)t->delay_unit), "note", t->note, "blocks",
        arr ? arr : json_null(), "purpose", t->purpose, "inside_window", t->inside_window,
        "enabled", t->enabled, "any_time", t->any_time);
    json_decref(blocks);
    return j;
}

static json_t *sequence_obj(const struct loa_sequence *s, const char *page_id)
{
    json_t *tags = json_loads(s->tags ? s->tags : "[]", 0, NULL);
    json_t *steps = json_array();
    for (size_t i = 0; i < s->nsteps; i++)
        json_array_append_new(steps, step_json(&s->steps[i]));
    json_t *j = json_pack(
        "{s:I,s:s,s:o,s:s,s:b,s:o,s:s,s:b,s:s,s:{s:b,s:s?,s:o},s:o,s:o,s:o}", "id",
        (json_int_t)s->id, "page_id", page_id ? page_id : "", "group_id",
        s->group_id ? json_integer(s->group_id) : json_null(), "name", s->name, "active", s->active,
        "window", window_json(s), "clock", s->person_clock ? "person" : "page", "leave_on_reply",
        s->leave_on_reply, "on_refused", s->leave_on_refused ? "leave" : "continue", "triggers",
        "welcome", s->welcome, "ref", s->ref, "tags", tags ? tags : json_array(), "steps", steps,
        "created_at", time_json(s->created_at), "updated_at", time_json(s->updated_at));
    return j;
}

char *loa_sequence_json(const struct loa_sequence *s, const char *page_id)
{
    json_t *j = sequence_obj(s, page_id);
    char *r = dump(j);
    json_decref(j);
    return r;
}

char *loa_seq_group_json(const struct loa_seq_group *g, const char *page_id)
{
    json_t *j = json_pack("{s:I,s:s,s:s,s:I,s:b,s:o,s:o}", "id", (json_int_t)g->id, "page_id",
                          page_id ? page_id : "", "name", g->name, "position",
                          (json_int_t)g->position, "one_at_a_time", g->one_at_a_time, "created_at",
                          time_json(g->created_at), "updated_at", time_json(g->updated_at));
    char *r = dump(j);
    json_decref(j);
    return r;
}

char *loa_enrolment_json(const struct loa_enrolment *e)
{
    json_t *j = json_pack(
        "{s:I,s:I,s:I,s:s?,s:s,s:o,s:o,s:o,s:o,s:o,s:s?,s:s?}", "id", (json_int_t)e->id,
        "sequence_id", (json_int_t)e->sequence_id, "subscriber_id", (json_int_t)e->subscriber_id,
        "psid", e->psid, "state", loa_enrol_state_name(e->state), "step_id",
        e->step_id ? json_integer(e->step_id) : json_null(), "due_at", time_json(e->due_at),
        "last_step_at", time_json(e->base_at), "entered_at", time_json(e->entered_at), "ended_at",
        time_json(e->ended_at), "end_reason", e->end_reason, "source", e->source);
    char *r = dump(j);
    json_decref(j);
    return r;
}

struct stats_ud {
    json_t *steps; /* object: step id -> counts */
};

static int step_stats(const struct loa_seq_step_stats *x, void *ud)
{
    struct stats_ud *u = ud;
    char key[24];
    snprintf(key, sizeof(key), "%lld", (long long)x->step_id);
    json_object_set_new(u->steps, key,
                        json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:[]}", "step_id",
                                  (json_int_t)x->step_id, "waiting", (json_int_t)x->waiting,
                                  "queued", (json_int_t)x->queued, "sent", (json_int_t)x->sent,
                                  "delivered", (json_int_t)x->delivered, "read",
                                  (json_int_t)x->read, "clicked", (json_int_t)x->clicked, "replied",
                                  (json_int_t)x->replied, "failed", (json_int_t)x->failed,
                                  "skipped", (json_int_t)x->skipped, "unknown",
                                  (json_int_t)x->unknown, "reasons"));
    return 0;
}

static int reason_stats(int64_t step_id, const char *state, const char *reason, int64_t count,
                        void *ud)
{
    struct stats_ud *u = ud;
    char key[24];
    snprintf(key, sizeof(key), "%lld", (long long)step_id);
    json_t *reasons = json_object_get(json_object_get(u->steps, key), "reasons");
    if (reasons)
        json_array_append_new(reasons, json_pack("{s:s,s:s,s:I}", "state", state, "reason", reason,
                                                 "count", (json_int_t)count));
    return 0;
}

int loa_sequence_describe(struct loa_store *st, int64_t id, char **out)
{
    *out = NULL;
    struct loa__seq_cache cache = { 0 };
    struct loa__seq *s;
    int rc = loa__seq_cache_get(st, &cache, id, &s);
    if (rc < 0) {
        loa__seq_cache_release(&cache); /* the cache's array is allocated before the read */
        return rc;
    }
    struct loa_seq_stats stats;
    struct stats_ud u = { .steps = json_object() };
    rc = loa_store_sequence_stats(st, id, &stats, step_stats, reason_stats, &u);
    if (rc == 0) {
        json_t *j = sequence_obj(&s->seq, s->page.page_id);
        json_object_set_new(
            j, "stats",
            json_pack("{s:I,s:I,s:I,s:I,s:I}", "entered", (json_int_t)stats.entered, "waiting",
                      (json_int_t)stats.waiting, "queued", (json_int_t)stats.queued, "finished",
                      (json_int_t)stats.finished, "removed", (json_int_t)stats.removed));
        /* Each step's progress beside the step itself. */
        size_t i;
        json_t *step;
        json_array_foreach(json_object_get(j, "steps"), i, step) {
            char key[24];
            snprintf(key, sizeof(key), "%lld",
                     (long long)json_integer_value(json_object_get(step, "id")));
            json_t *x = json_object_get(u.steps, key);
            if (x)
                json_object_set(step, "stats", x);
        }
        *out = dump(j);
        json_decref(j);
    }
    json_decref(u.steps);
    loa__seq_cache_release(&cache);
    return rc;
}

/* ---- Forecast ------------------------------------------------------------------------------ */

#define FORECAST_BATCH 1000

struct forecast_step {
    int64_t id;
    bool promotional, structured;
    int64_t waiting;
    json_t *reachable, *refused; /* objects: name -> count */
};

struct forecast_batch {
    struct loa_enrolment v[FORECAST_BATCH];
    size_t n;
};

static int forecast_collect(const struct loa_enrolment *e, void *ud)
{
    struct forecast_batch *b = ud;
    b->v[b->n] = *e;
    b->v[b->n].psid = b->v[b->n].end_reason = b->v[b->n].source = NULL;
    b->n++;
    return 0;
}

static void bump(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    json_object_set_new(o, key, json_integer(v ? json_integer_value(v) + 1 : 1));
}

int loa_sequence_forecast(struct loa_store *st, const struct loa_sequence_opts *o, int64_t id,
                          int64_t margin_ms, int64_t now, char **out)
{
    *out = NULL;
    if (!o->rules)
        return LOA_EINVAL;
    struct loa__seq_cache cache = { 0 };
    struct loa__seq *s;
    int rc = loa__seq_cache_get(st, &cache, id, &s);
    if (rc < 0)
        return rc;
    size_t n = s->seq.nsteps;
    struct forecast_step *fs = loa_calloc(n ? n : 1, sizeof(*fs));
    for (size_t i = 0; i < n; i++) {
        fs[i].id = s->seq.steps[i].id;
        fs[i].promotional = strcmp(s->seq.steps[i].purpose, "promotional") == 0;
        struct loa_msg *m = NULL;
        if (loa_blocks_compile(s->seq.steps[i].blocks, "", NULL, &m, NULL) == 0)
            fs[i].structured = loa_msg_is_structured(m);
        loa_msg_free(m);
        fs[i].reachable = json_object();
        fs[i].refused = json_object();
    }
    struct forecast_batch *b = loa_malloc(sizeof(*b));
    int64_t after = 0;
    do {
        b->n = 0;
        rc = loa_store_enrol_list(st, 0, id, 0, 1u << LOA_ENROL_WAITING, 0, after, FORECAST_BATCH,
                                  forecast_collect, b);
        for (size_t k = 0; rc == 0 && k < b->n; k++) {
            const struct loa_enrolment *e = &b->v[k];
            after = e->id;
            struct forecast_step *f = NULL;
            for (size_t i = 0; i < n && !f; i++)
                if (fs[i].id == e->step_id)
                    f = &fs[i];
            struct loa_subscriber p;
            if (!f || loa_store_subscriber_get(st, e->subscriber_id, &p) < 0)
                continue;
            struct loa_audience_member m = {
                .id = p.id,
                .psid = p.psid,
                .first_seen_at = p.first_seen_at,
                .last_interaction_at = p.last_interaction_at,
                .last_interaction_kind = p.last_interaction_kind,
                .first_after_ctm_ad = p.first_after_ctm_ad,
                .unreachable = p.unreachable,
            };
            struct loa_rules_decision d;
            int64_t at = (e->due_at > now ? e->due_at : now) + margin_ms;
            loa_audience_decide(o->rules, &m, s->page.activated_at,
                                f->promotional ? LOA_AUD_PROMOTIONAL : LOA_AUD_NON_PROMOTIONAL,
                                NULL, f->structured, at, &d);
            f->waiting++;
            if (d.allowed)
                bump(f->reachable, loa_rules_route_name(d.route));
            else
                bump(f->refused, d.code);
            loa_subscriber_release(&p);
        }
    } while (rc == 0 && b->n == FORECAST_BATCH);
    loa_free(b);
    if (rc == 0) {
        json_t *steps = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(steps,
                                  json_pack("{s:I,s:I,s:O,s:O}", "step_id", (json_int_t)fs[i].id,
                                            "waiting", (json_int_t)fs[i].waiting, "reachable",
                                            fs[i].reachable, "not_reachable", fs[i].refused));
        json_t *j = json_pack("{s:I,s:o,s:o}", "sequence_id", (json_int_t)id, "at", time_json(now),
                              "steps", steps);
        *out = dump(j);
        json_decref(j);
    }
    for (size_t i = 0; i < n; i++) {
        json_decref(fs[i].reachable);
        json_decref(fs[i].refused);
    }
    loa_free(fs);
    loa__seq_cache_release(&cache);
    return rc;
}
