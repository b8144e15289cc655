/* SPDX-License-Identifier: MIT */
/*
 * loa sequence ...: drip sequences from the command line, the same operations as
 * /api/v1/sequences and /api/v1/sequence-groups, through the sequence service
 * (include/loa/sequence.h) which owns every rule; this file parses options and prints.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <loa/alloc.h>
#include <loa/buf.h>
#include <loa/clock.h>
#include <loa/config.h>
#include <loa/err.h>
#include <loa/link.h>
#include <loa/rules.h>
#include <loa/sequence.h>
#include <loa/store.h>

#include "common.h"

#define JSON_MAX   (1024 * 1024)
#define PSIDS_MAX  10000
#define ENTER_STEP 1000

static const char sequence_help[] =
    "usage: loa sequence list [--page PAGE_ID] [--json]\n"
    "       loa sequence show ID [--json]\n"
    "       loa sequence create --file FILE|JSON [--json]\n"
    "       loa sequence update ID --file FILE|JSON [--json]\n"
    "       loa sequence delete ID\n"
    "       loa sequence enter ID (--psid PSID ... | --filter FILE|JSON [--yes])\n"
    "       loa sequence remove ID --psid PSID ...\n"
    "       loa sequence people ID [--state S[,S...]] [--step STEP_ID] [--after ID] [--limit N]\n"
    "                              [--json]\n"
    "       loa sequence link ID [--qr FILE.png|FILE.svg]\n"
    "       loa sequence forecast ID [--json]\n"
    "       loa sequence group list [--page PAGE_ID]\n"
    "       loa sequence group add --page PAGE_ID NAME [--one-at-a-time]\n"
    "       loa sequence group rename ID NAME\n"
    "       loa sequence group move ID POSITION\n"
    "       loa sequence group one-at-a-time ID yes|no\n"
    "       loa sequence group delete ID\n\n"
    "A sequence sends its steps one after another to each person in it, each step a delay\n"
    "after the previous one was really sent, inside the sequence's send window in the\n"
    "person's own time (docs/sequences.md). The file is the JSON object of the REST API:\n"
    "  {\"page_id\":\"...\",\"name\":\"Chăm sóc\",\"window\":{\"from\":\"13:00\",\"to\":\"20:00\"},\n"
    "   \"triggers\":{\"welcome\":true},\"steps\":[{\"delay\":{\"value\":1,\"unit\":\"hours\"},\n"
    "   \"blocks\":[{\"type\":\"text\",\"text\":\"Chào {{first_name|bạn}}!\"}]}]}\n"
    "update takes the fields to change; \"steps\", when given, is the whole new list (keep a\n"
    "step's \"id\" to keep the people waiting for it).\n\n"
    "forecast: for each step, how many of the people waiting for it the rules will let loa\n"
    "reach when it falls due (as their messaging window stands now), by route or reason.\n"
    "enter with --filter counts first; --yes enters everyone counted. A person already in the\n"
    "sequence is left as they are. remove never sends anything.\n\n"
    "Exit status: 0 done; 64 usage; 65 invalid sequence or people (every complaint printed,\n"
    "nothing written); 66 unreadable file; 69 no such sequence or group; 74 store error.\n";

struct sopts {
    const char *page, *file, *filter, *state, *qr;
    const char **psids;
    size_t npsids;
    int64_t step, after, limit;
    bool json, yes, one;
};

enum {
    O_PAGE = 1,
    O_FILE,
    O_FILTER,
    O_PSID,
    O_STATE,
    O_STEP,
    O_AFTER,
    O_LIMIT,
    O_JSON,
    O_YES,
    O_ONE,
    O_QR
};

static int parse(struct loa_cli *cli, const char *cmd, int argc, char **argv, struct sopts *o)
{
    static const struct option opts[] = {
        { "page", required_argument, NULL, O_PAGE },
        { "file", required_argument, NULL, O_FILE },
        { "filter", required_argument, NULL, O_FILTER },
        { "psid", required_argument, NULL, O_PSID },
        { "state", required_argument, NULL, O_STATE },
        { "step", required_argument, NULL, O_STEP },
        { "after", required_argument, NULL, O_AFTER },
        { "limit", required_argument, NULL, O_LIMIT },
        { "json", no_argument, NULL, O_JSON },
        { "yes", no_argument, NULL, O_YES },
        { "one-at-a-time", no_argument, NULL, O_ONE },
        { "qr", required_argument, NULL, O_QR },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    optind = 1;
    o->limit = 100;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_PAGE:
            o->page = optarg;
            break;
        case O_FILE:
            o->file = optarg;
            break;
        case O_FILTER:
            o->filter = optarg;
            break;
        case O_STATE:
            o->state = optarg;
            break;
        case O_QR:
            o->qr = optarg;
            break;
        case O_JSON:
            o->json = true;
            break;
        case O_YES:
            o->yes = true;
            break;
        case O_ONE:
            o->one = true;
            break;
        case O_PSID:
            if (o->npsids == PSIDS_MAX)
                return cli_usage(cli, cmd, "at most %d --psid", PSIDS_MAX);
            o->psids = loa_reallocarray(o->psids, o->npsids + 1, sizeof(*o->psids));
            o->psids[o->npsids++] = optarg;
            break;
        case O_STEP:
        case O_AFTER:
        case O_LIMIT: {
            int64_t v;
            if (!cli_parse_count(optarg, &v) || (c == O_LIMIT && (v < 1 || v > 1000)))
                return cli_usage(cli, cmd, "--%s takes %s", opts[c - 1].name,
                                 c == O_LIMIT ? "a number from 1 to 1000" : "an id");
            *(c == O_STEP ? &o->step : c == O_AFTER ? &o->after : &o->limit) = v;
            break;
        }
        default:
            return cli_opt_other(cli, cmd, c, sequence_help);
        }
    }
    return LOA_EXIT_OK;
}

static bool parse_id(const char *s, int64_t *id)
{
    return s && cli_parse_count(s, id) && *id > 0;
}

static void print_json_text(struct loa_cli *cli, const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    char *pretty = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    fprintf(cli->out, "%s\n", pretty ? pretty : text);
    free(pretty); /* jansson allocates with malloc */
    json_decref(j);
}

static int store_fail(struct loa_cli *cli, const char *cmd, int rc, const char *what)
{
    if (rc == LOA_ENOENT) {
        fprintf(cli->err, "loa %s: no such %s\n", cmd, what);
        return 69;
    }
    if (rc == LOA_EEXIST) {
        fprintf(cli->err, "loa %s: the Page already has a %s with this name (or ref)\n", cmd, what);
        return LOA_EXIT_DATAERR;
    }
    if (rc == LOA_ESTATE) {
        fprintf(cli->err, "loa %s: the sequence is switched off; switch it on first\n", cmd);
        return LOA_EXIT_DATAERR;
    }
    fprintf(cli->err, "loa %s: %s\n", cmd, loa_strerror(rc));
    return LOA_EXIT_IOERR;
}

/* Every complaint, "loa <cmd>: where: reason", one a line; exit 65. */
static int report(struct loa_cli *cli, const struct loa_diags *d, const char *cmd)
{
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "loa %s", cmd);
    return cli_report(cli, d, prefix, LOA_EXIT_DATAERR);
}

/* Rules for window-aware steps; without a readable rules file such steps are skipped. */
static void sequence_opts(struct loa_cli *cli, struct loa_rules **rules,
                          struct loa_sequence_opts *o)
{
    *rules = NULL;
    if (loa_rules_load(cli->set->rules_file, rules, NULL) < 0)
        *rules = NULL;
    loa_sequence_opts_from(o, cli->set, *rules);
}

/* ---- Show and list ------------------------------------------------------------------------ */

static void print_show(struct loa_cli *cli, json_t *j)
{
    FILE *f = cli->out;
    json_t *w = json_object_get(j, "window"), *st = json_object_get(j, "stats");
    fprintf(f, "sequence    %lld \"%s\" (%s)\n",
            (long long)json_integer_value(json_object_get(j, "id")),
            json_string_value(json_object_get(j, "name")),
            json_is_true(json_object_get(j, "active")) ? "on" : "off");
    fprintf(f, "page        %s\n", json_string_value(json_object_get(j, "page_id")));
    if (json_is_object(w))
        fprintf(f, "window      %s-%s %s, %s's clock\n",
                json_string_value(json_object_get(w, "from")),
                json_string_value(json_object_get(w, "to")),
                json_is_string(json_object_get(w, "days"))
                    ? json_string_value(json_object_get(w, "days"))
                    : "every day",
                json_string_value(json_object_get(j, "clock")));
    else
        fprintf(f, "window      any time\n");
    fprintf(f, "people      entered %lld, waiting %lld, queued %lld, finished %lld, removed %lld\n",
            (long long)json_integer_value(json_object_get(st, "entered")),
            (long long)json_integer_value(json_object_get(st, "waiting")),
            (long long)json_integer_value(json_object_get(st, "queued")),
            (long long)json_integer_value(json_object_get(st, "finished")),
            (long long)json_integer_value(json_object_get(st, "removed")));
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(j, "steps"), i, s) {
        json_t *d = json_object_get(s, "delay"), *x = json_object_get(s, "stats");
        int64_t value = json_integer_value(json_object_get(d, "value"));
        const char *unit = json_string_value(json_object_get(d, "unit"));
        int unit_len = (int)strlen(unit ? unit : "") - (value == 1); /* "1 day", "2 days" */
        fprintf(f,
                "step %-2zu     id %lld, after %lld %.*s%s%s: waiting %lld, sent %lld, "
                "delivered %lld, read %lld, clicked %lld, skipped %lld, failed %lld\n",
                i + 1, (long long)json_integer_value(json_object_get(s, "id")), (long long)value,
                unit_len, unit ? unit : "",
                json_is_true(json_object_get(s, "inside_window")) ? ", inside the window" : "",
                json_is_true(json_object_get(s, "enabled")) ? "" : " (off)",
                (long long)json_integer_value(json_object_get(x, "waiting")),
                (long long)json_integer_value(json_object_get(x, "sent")),
                (long long)json_integer_value(json_object_get(x, "delivered")),
                (long long)json_integer_value(json_object_get(x, "read")),
                (long long)json_integer_value(json_object_get(x, "clicked")),
                (long long)json_integer_value(json_object_get(x, "skipped")),
                (long long)json_integer_value(json_object_get(x, "failed")));
        size_t k;
        json_t *r;
        json_array_foreach(json_object_get(x, "reasons"), k, r)
            fprintf(f, "              %s %s: %lld\n",
                    json_string_value(json_object_get(r, "state")),
                    json_string_value(json_object_get(r, "reason")),
                    (long long)json_integer_value(json_object_get(r, "count")));
    }
}

static int show(struct loa_cli *cli, struct loa_store *st, int64_t id, bool as_json)
{
    char *text = NULL;
    int rc = loa_sequence_describe(st, id, &text);
    if (rc < 0)
        return store_fail(cli, "sequence show", rc, "sequence");
    if (as_json) {
        print_json_text(cli, text);
    } else {
        json_t *j = json_loads(text, 0, NULL);
        print_show(cli, j);
        json_decref(j);
    }
    loa_free(text);
    return LOA_EXIT_OK;
}

struct list_ud {
    struct loa_cli *cli;
    bool json;
    json_t *arr;
};

static int list_row(const struct loa_sequence *s, void *ud)
{
    struct list_ud *l = ud;
    if (l->json) {
        json_array_append_new(l->arr, json_loads(loa_sequence_json(s, NULL), 0, NULL));
        return 0;
    }
    fprintf(l->cli->out, "%-6lld %-4s group %-6lld %s\n", (long long)s->id,
            s->active ? "on" : "off", (long long)s->group_id, s->name);
    return 0;
}

static void print_counts(FILE *f, json_t *o)
{
    const char *k;
    json_t *v;
    bool first = true;
    json_object_foreach(o, k, v) {
        fprintf(f, "%s%s %lld", first ? "" : ", ", k, (long long)json_integer_value(v));
        first = false;
    }
    if (first)
        fprintf(f, "-");
}

static void print_forecast(struct loa_cli *cli, const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(j, "steps"), i, s) {
        fprintf(cli->out, "step %-2zu id %-6lld waiting %-8lld reachable: ", i + 1,
                (long long)json_integer_value(json_object_get(s, "step_id")),
                (long long)json_integer_value(json_object_get(s, "waiting")));
        print_counts(cli->out, json_object_get(s, "reachable"));
        fprintf(cli->out, "; not: ");
        print_counts(cli->out, json_object_get(s, "not_reachable"));
        fputc('\n', cli->out);
    }
    json_decref(j);
}

/* ---- People ------------------------------------------------------------------------------- */

static int people_row(const struct loa_enrolment *e, void *ud)
{
    struct list_ud *l = ud;
    if (l->json) {
        char *t = loa_enrolment_json(e);
        json_array_append_new(l->arr, json_loads(t, 0, NULL));
        loa_free(t);
        return 0;
    }
    char due[40] = "-";
    if (e->due_at)
        loa_time_format(e->due_at, due, sizeof(due));
    fprintf(l->cli->out, "%-8lld %-20s %-9s step %-6lld due %s%s%s\n", (long long)e->id,
            e->psid ? e->psid : "-", loa_enrol_state_name(e->state), (long long)e->step_id, due,
            e->end_reason ? " " : "", e->end_reason ? e->end_reason : "");
    return 0;
}

static int state_mask(const char *s, unsigned *mask)
{
    *mask = 0;
    if (!s)
        return 0;
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", s);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int i = 0;
        while (i < LOA_ENROL_STATE_COUNT &&
               strcmp(t, loa_enrol_state_name((enum loa_enrol_state)i)) != 0)
            i++;
        if (i == LOA_ENROL_STATE_COUNT)
            return LOA_EINVAL;
        *mask |= 1u << i;
    }
    return 0;
}

static int enter_or_remove(struct loa_cli *cli, struct loa_store *st, int64_t id, bool enter,
                           const struct sopts *o)
{
    const char *cmd = enter ? "sequence enter" : "sequence remove";
    struct loa_sequence s;
    int rc = loa_store_sequence_get(st, id, &s);
    if (rc < 0)
        return store_fail(cli, cmd, rc, "sequence");
    int exit = LOA_EXIT_OK;
    char *filter = NULL;
    size_t flen;
    if (o->filter &&
        (exit = cli_read_json_text(cli, cmd, "--filter", o->filter, JSON_MAX, &filter, &flen))) {
        loa_sequence_release(&s);
        return exit;
    }
    struct loa_diags d;
    loa_diags_init(&d, 50);
    int64_t *ids = NULL;
    size_t n = 0;
    rc = loa_sequence_people(st, s.page_ref, o->psids, o->npsids, "--psid", filter, loa_now_ms(),
                             &ids, &n, &d);
    if (rc < 0) {
        exit = store_fail(cli, cmd, rc, "sequence");
    } else if (!loa_diags_empty(&d)) {
        exit = report(cli, &d, cmd);
    } else if (enter && filter && !o->yes) {
        fprintf(cli->out, "%zu people match; run again with --yes to enter them\n", n);
    } else if (enter) {
        struct loa_rules *rules;
        struct loa_sequence_opts so;
        sequence_opts(cli, &rules, &so);
        int64_t entered = 0;
        for (size_t i = 0; rc == 0 && i < n; i += ENTER_STEP) {
            int64_t e = 0;
            rc = loa_sequence_enter(st, &so, id, ids + i, n - i < ENTER_STEP ? n - i : ENTER_STEP,
                                    "cli", loa_now_ms(), &e);
            entered += e;
        }
        loa_rules_free(rules);
        if (rc < 0)
            exit = store_fail(cli, cmd, rc, "sequence");
        else
            fprintf(cli->out, "%lld entered (%lld already in it)\n", (long long)entered,
                    (long long)n - entered);
    } else {
        int64_t removed = 0;
        rc = loa_sequence_leave(st, id, ids, n, "cli", loa_now_ms(), &removed);
        if (rc < 0)
            exit = store_fail(cli, cmd, rc, "sequence");
        else
            fprintf(cli->out, "%lld removed\n", (long long)removed);
    }
    loa_free(ids);
    loa_free(filter);
    loa_diags_release(&d);
    loa_sequence_release(&s);
    return exit;
}

/* ---- Create and update -------------------------------------------------------------------- */

static int write_sequence(struct loa_cli *cli, struct loa_store *st, int64_t id,
                          const struct sopts *o)
{
    const char *cmd = id ? "sequence update" : "sequence create";
    if (!o->file)
        return cli_usage(cli, cmd, "--file is required");
    char *text;
    size_t len;
    int exit = cli_read_json_text(cli, cmd, "--file", o->file, JSON_MAX, &text, &len);
    if (exit)
        return exit;
    struct loa_sequence cur = { 0 }, s;
    int rc = id ? loa_store_sequence_get(st, id, &cur) : 0;
    if (rc < 0) {
        loa_free(text);
        return store_fail(cli, cmd, rc, "sequence");
    }
    struct loa_diags d;
    loa_diags_init(&d, 100);
    struct loa_sequence_parse_opts po = { .current = id ? &cur : NULL };
    char *page_id = NULL;
    struct loa_page page = { 0 };
    if (loa_sequence_parse(text, len, &po, &s, &page_id, &d) < 0) {
        exit = report(cli, &d, cmd);
        goto out;
    }
    if (!id) {
        if ((exit = cli_find_page(cli, st, page_id, &page))) {
            loa_sequence_release(&s);
            goto out;
        }
        s.page_ref = page.id;
    }
    if (s.group_id) {
        struct loa_seq_group g = { 0 };
        if (loa_store_seq_group_get(st, s.group_id, &g) < 0 || g.page_ref != s.page_ref) {
            loa_diags_add(&d, 0, 0, "group_id", "no sequence group with this id on the Page");
            exit = report(cli, &d, cmd);
        }
        loa_seq_group_release(&g);
    }
    if (!exit) {
        struct loa_rules *rules;
        struct loa_sequence_opts so;
        sequence_opts(cli, &rules, &so);
        int64_t new_id = id;
        rc = id ? loa_sequence_update(st, &so, &s, loa_now_ms())
                : loa_sequence_create(st, &s, loa_now_ms(), &new_id);
        loa_rules_free(rules);
        if (rc < 0)
            exit = store_fail(cli, cmd, rc, "sequence");
        else if (o->json)
            exit = show(cli, st, new_id, true);
        else
            fprintf(cli->out, "sequence %lld %s\n", (long long)new_id, id ? "updated" : "created");
    }
    loa_sequence_release(&s);
out:
    loa_page_release(&page);
    loa_free(page_id);
    loa_sequence_release(&cur);
    loa_diags_release(&d);
    loa_free(text);
    return exit;
}

/* ---- m.me link and QR code ---------------------------------------------------------------- */

static int link(struct loa_cli *cli, struct loa_store *st, int64_t id, const struct sopts *o)
{
    struct loa_sequence s;
    int rc = loa_store_sequence_get(st, id, &s);
    if (rc < 0)
        return store_fail(cli, "sequence link", rc, "sequence");
    int exit = LOA_EXIT_OK;
    struct loa_page p = { 0 };
    struct loa_buf url, img;
    loa_buf_init(&url, 4096);
    loa_buf_init(&img, 4 * 1024 * 1024);
    struct loa_diags d;
    loa_diags_init(&d, 10);
    if (!s.ref) {
        fprintf(cli->err,
                "loa sequence link: the sequence has no triggers.ref; set one with "
                "loa sequence update %lld --file '{\"triggers\":{\"ref\":\"...\"}}'\n",
                (long long)id);
        exit = LOA_EXIT_DATAERR;
    } else if ((rc = loa_store_page_get_ref(st, s.page_ref, &p)) < 0) {
        exit = store_fail(cli, "sequence link", rc, "Page");
    } else if (loa_link_mme(p.page_id, s.ref, &url, &d) < 0) {
        exit = report(cli, &d, "sequence link");
    } else {
        fprintf(cli->out, "%s\n", loa_buf_cstr(&url));
        if (o->qr) {
            size_t n = strlen(o->qr);
            bool svg = n > 4 && strcmp(o->qr + n - 4, ".svg") == 0;
            struct loa_qr_opts qo = { .format = svg ? LOA_QR_SVG : LOA_QR_PNG };
            FILE *f = NULL;
            if (loa_qr_image(loa_buf_cstr(&url), &qo, &img) < 0) {
                fprintf(cli->err, "loa sequence link: cannot make the QR code\n");
                exit = LOA_EXIT_SOFTWARE;
            } else if (!(f = fopen(o->qr, "wb")) || fwrite(img.ptr, 1, img.len, f) != img.len) {
                fprintf(cli->err, "loa sequence link: cannot write %s\n", o->qr);
                exit = LOA_EXIT_CANTCREAT;
            } else {
                fprintf(cli->out, "QR code written to %s\n", o->qr);
            }
            if (f)
                fclose(f);
        }
    }
    loa_diags_release(&d);
    loa_buf_release(&url);
    loa_buf_release(&img);
    loa_page_release(&p);
    loa_sequence_release(&s);
    return exit;
}

/* ---- Groups ------------------------------------------------------------------------------- */

static int group_row(const struct loa_seq_group *g, void *ud)
{
    struct loa_cli *cli = ud;
    fprintf(cli->out, "%-6lld pos %-4lld %-14s %s\n", (long long)g->id, (long long)g->position,
            g->one_at_a_time ? "one-at-a-time" : "", g->name);
    return 0;
}

static int group(struct loa_cli *cli, struct loa_store *st, int argc, char **argv)
{
    if (argc < 2)
        return cli_usage(cli, "sequence group",
                         "expected list, add, rename, move, one-at-a-time or delete");
    const char *sub = argv[1];
    struct sopts o = { 0 };
    int exit = parse(cli, "sequence group", argc - 1, argv + 1, &o);
    if (exit)
        return exit;
    int nargs = argc - 1 - optind;
    char **args = argv + 1 + optind;
    int64_t id = 0, pos = 0, ref = 0;
    int rc = 0;
    if (o.page) {
        struct loa_page p;
        if ((exit = cli_find_page(cli, st, o.page, &p)))
            return exit;
        ref = p.id;
        loa_page_release(&p);
    }
    if (strcmp(sub, "list") == 0 && nargs == 0) {
        rc = loa_store_seq_group_list(st, ref, group_row, cli);
    } else if (strcmp(sub, "add") == 0 && nargs == 1) {
        if (!ref)
            return cli_usage(cli, "sequence group add", "--page is required");
        rc = loa_sequence_group_create(st, ref, args[0], o.one, loa_now_ms(), &id);
        if (rc == 0)
            fprintf(cli->out, "group %lld created\n", (long long)id);
    } else if (nargs >= 1 && parse_id(args[0], &id)) {
        if (strcmp(sub, "rename") == 0 && nargs == 2)
            rc = loa_sequence_group_update(st, id, args[1], -1, -1, loa_now_ms());
        else if (strcmp(sub, "move") == 0 && nargs == 2 && cli_parse_count(args[1], &pos))
            rc = loa_sequence_group_update(st, id, NULL, pos, -1, loa_now_ms());
        else if (strcmp(sub, "one-at-a-time") == 0 && nargs == 2 &&
                 (strcmp(args[1], "yes") == 0 || strcmp(args[1], "no") == 0))
            rc = loa_sequence_group_update(st, id, NULL, -1, strcmp(args[1], "yes") == 0,
                                           loa_now_ms());
        else if (strcmp(sub, "delete") == 0 && nargs == 1)
            rc = loa_sequence_group_delete(st, id);
        else
            return cli_usage(cli, "sequence group", "unknown subcommand or wrong arguments");
        if (rc == 0)
            fprintf(cli->out, "ok\n");
    } else {
        return cli_usage(cli, "sequence group", "unknown subcommand or wrong arguments");
    }
    return rc < 0 ? store_fail(cli, "sequence group", rc, "sequence group") : LOA_EXIT_OK;
}

int loa_cmd_sequence(struct loa_cli *cli, int argc, char **argv)
{
    if (argc < 2)
        return cli_usage(cli, "sequence",
                         "expected list, show, create, update, delete, enter, remove, people, "
                         "forecast, link or group");
    const char *sub = argv[1];
    if (cli_is_help(sub))
        return cli_help(cli, sequence_help);
    struct loa_store *st = NULL;
    int exit = cli_open_store(cli, false, &st);
    if (exit)
        return exit;
    if (strcmp(sub, "group") == 0) {
        exit = group(cli, st, argc - 1, argv + 1);
        loa_store_close(st);
        return exit;
    }
    struct sopts o = { 0 };
    char cmd[48];
    snprintf(cmd, sizeof(cmd), "sequence %s", sub);
    if ((exit = parse(cli, cmd, argc - 1, argv + 1, &o)))
        goto out;
    int nargs = argc - 1 - optind;
    char **args = argv + 1 + optind;
    int64_t id = 0;
    bool needs_id = strcmp(sub, "list") != 0 && strcmp(sub, "create") != 0;
    if (needs_id && (nargs != 1 || !parse_id(args[0], &id))) {
        exit = cli_usage(cli, cmd, "expected one sequence ID");
        goto out;
    }
    if (!needs_id && nargs != 0) {
        exit = cli_usage(cli, cmd, "unexpected argument '%s'", args[0]);
        goto out;
    }
    if (strcmp(sub, "list") == 0) {
        int64_t ref = 0;
        struct loa_page p;
        if (o.page) {
            if ((exit = cli_find_page(cli, st, o.page, &p)))
                goto out;
            ref = p.id;
            loa_page_release(&p);
        }
        struct list_ud l = { .cli = cli, .json = o.json, .arr = json_array() };
        int rc = loa_store_sequence_list(st, ref, list_row, &l);
        if (rc < 0)
            exit = store_fail(cli, cmd, rc, "sequence");
        else if (o.json) {
            char *t = json_dumps(l.arr, JSON_INDENT(2));
            fprintf(cli->out, "%s\n", t);
            free(t); /* jansson allocates with malloc */
        }
        json_decref(l.arr);
    } else if (strcmp(sub, "show") == 0) {
        exit = show(cli, st, id, o.json);
    } else if (strcmp(sub, "create") == 0 || strcmp(sub, "update") == 0) {
        exit = write_sequence(cli, st, id, &o);
    } else if (strcmp(sub, "delete") == 0) {
        int rc = loa_sequence_delete(st, id, loa_now_ms());
        if (rc < 0)
            exit = store_fail(cli, cmd, rc, "sequence");
        else
            fprintf(cli->out, "sequence %lld deleted\n", (long long)id);
    } else if (strcmp(sub, "enter") == 0 || strcmp(sub, "remove") == 0) {
        bool enter = strcmp(sub, "enter") == 0;
        if ((o.npsids > 0) == (o.filter != NULL) || (!enter && o.filter))
            exit = cli_usage(cli, cmd,
                             enter ? "give --psid (one or more) or --filter"
                                   : "give --psid (one or more)");
        else
            exit = enter_or_remove(cli, st, id, enter, &o);
    } else if (strcmp(sub, "people") == 0) {
        unsigned mask;
        if (state_mask(o.state, &mask) < 0) {
            exit = cli_usage(cli, cmd, "--state takes waiting, queued, finished, removed");
        } else {
            struct list_ud l = { .cli = cli, .json = o.json, .arr = json_array() };
            int rc =
                loa_store_enrol_list(st, 0, id, 0, mask, o.step, o.after, o.limit, people_row, &l);
            if (rc < 0) {
                exit = store_fail(cli, cmd, rc, "sequence");
            } else if (o.json) {
                char *t = json_dumps(l.arr, JSON_INDENT(2));
                fprintf(cli->out, "%s\n", t);
                free(t); /* jansson allocates with malloc */
            }
            json_decref(l.arr);
        }
    } else if (strcmp(sub, "forecast") == 0) {
        struct loa_rules *rules;
        struct loa_sequence_opts so;
        sequence_opts(cli, &rules, &so);
        char *text = NULL;
        int rc = rules ? loa_sequence_forecast(st, &so, id, cli->set->dispatch_margin_s * 1000,
                                               loa_now_ms(), &text)
                       : LOA_EINVAL;
        if (!rules) {
            fprintf(cli->err, "loa %s: cannot load the rules file %s\n", cmd, cli->set->rules_file);
            exit = LOA_EXIT_CONFIG;
        } else if (rc < 0) {
            exit = store_fail(cli, cmd, rc, "sequence");
        } else if (o.json) {
            print_json_text(cli, text);
        } else {
            print_forecast(cli, text);
        }
        loa_free(text);
        loa_rules_free(rules);
    } else if (strcmp(sub, "link") == 0) {
        exit = link(cli, st, id, &o);
    } else {
        exit = cli_usage(cli, "sequence", "unknown subcommand '%s'", sub);
    }
out:
    loa_free(o.psids);
    loa_store_close(st);
    return exit;
}
