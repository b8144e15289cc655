/* SPDX-License-Identifier: MIT */
/*
 * loa campaign create|update|list|show|start|schedule|pause|resume|cancel|retry-failed|delete|
 * deliveries|unknowns|resend|run: campaigns from the command line (docs/campaigns.md).
 *
 * A thin adapter over the campaign service (include/loa/campaign.h, also behind the REST API):
 * the options of create and update are assembled into the same JSON object the REST API takes
 * and read by the service's codec, so a complaint names the same field ("pacing.window.from")
 * with the option it came from; which status allows which operation is the service's table. `run`
 * drives the dispatcher in the foreground for one campaign, with a live progress line on a
 * terminal.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include <loa/alloc.h>
#include <loa/campaign.h>
#include <loa/clock.h>
#include <loa/config.h>
#include <loa/dispatch.h>
#include <loa/err.h>
#include <loa/rules.h>
#include <loa/store.h>

#include "common.h"

#define BIT(s)          (1u << (s))
#define JSON_INPUT_MAX  (1024 * 1024)
#define LIST_LIMIT      50
#define DELIVERIES_MAX  1000
#define UNKNOWN_GRACE_S 60
#define PROGRESS_MS     250

static const char campaign_help[] =
    "usage: loa campaign create --page PAGE_ID --name NAME --blocks FILE|JSON [OPTIONS] [--json]\n"
    "       loa campaign update ID [OPTIONS] [--json]\n"
    "       loa campaign list [--page PAGE_ID] [--status S[,S...]] [--limit N] [--json]\n"
    "       loa campaign show ID [--json]\n"
    "       loa campaign start|pause|resume|cancel|retry-failed|delete ID [--json]\n"
    "       loa campaign schedule ID --at TIME [--json]\n"
    "       loa campaign deliveries ID [--state S[,S...]] [--after POS] [--limit N] [--json]\n"
    "       loa campaign unknowns ID [--older-than SECONDS] [--after POS] [--limit N] [--json]\n"
    "       loa campaign resend ID DELIVERY_ID... [--force]\n"
    "       loa campaign run ID\n\n"
    "A campaign sends one composed message (docs/messages.md) once to every member of an\n"
    "audience of one Page. It is created as a draft; only a draft can be edited.\n\n"
    "Options of create and update:\n"
    "  --page PAGE_ID            the Facebook Page (create only)\n"
    "  --name NAME               1 to 200 characters\n"
    "  --blocks FILE|JSON        the message {\"blocks\":[...]}: JSON text when the value starts\n"
    "                            with '{' or '[', else a file ('-' = stdin)\n"
    "  --filter FILE|JSON        the audience filter (docs/audience.md) [everyone]\n"
    "  --goal G                  promotion (default), care or engagement\n"
    "  --purpose P               promotional (default) or non_promotional\n"
    "  --tag TAG                 a message tag for non-promotional sends (none clears)\n"
    "  --at TIME                 start time: \"2026-05-04 09:00\" is the Page's local time;\n"
    "                            with Z or +07:00 it is that instant (none clears)\n"
    "  --batch-size N            sends per batch (0 = no batches)\n"
    "  --batch-interval SECONDS  pause after each batch\n"
    "  --rate N                  messages per second (0 = the Page's rate, default 40)\n"
    "  --window HH:MM-HH:MM      send only then, in the Page's time zone (none = any time)\n\n"
    "create prints the new campaign's id. start snapshots the audience now; schedule makes the\n"
    "daemon (`loa serve`) start it at --at; pause, resume and cancel change its status (cancel\n"
    "skips what is pending); retry-failed re-queues failed deliveries whose reason is\n"
    "retryable (server_error, temporary, graph_unknown, unexpected, transport failures);\n"
    "unknowns lists deliveries that may have arrived (claimed more than --older-than seconds\n"
    "ago, default 60) and resend sends the listed ones again — only those the dispatcher has\n"
    "reconciled (read the person's conversation: not delivered), unless --force; delete\n"
    "removes a draft or a cancelled campaign.\n\n"
    "run sends the campaign in the foreground until it is no longer running (a draft is\n"
    "started first; a scheduled one waits until due), showing progress on a terminal, and\n"
    "stops cleanly on SIGINT or SIGTERM (run it again to continue). It needs graph.url,\n"
    "graph.version and rules.file. One dispatcher sends from a store at a time: beside a\n"
    "running `loa serve` it exits 75 (the daemon sends running campaigns itself).\n\n"
    "Exit codes: 0 ok (run: completed, or stopped by a signal); 1 the campaign's status does\n"
    "not allow it (run: it ended paused or cancelled); 64 usage; 65 invalid campaign (each\n"
    "problem named by its field), unknown Page or campaign; 66 input file missing; 74 store;\n"
    "75 (run) another loa sends from this store;\n"
    "78 (run) the Page has no access token, or graph.url is unusable (a missing or invalid\n"
    "rules.file: 66 / 65).\n";

/* ---- Options ------------------------------------------------------------------------------ */

enum opt {
    O_PAGE = 'p',
    O_NAME = 'n',
    O_BLOCKS = 'b',
    O_FILTER = 'f',
    O_GOAL = 'g',
    O_PURPOSE = 'u',
    O_TAG = 't',
    O_AT = 'a',
    O_BATCH_SIZE = 'B',
    O_BATCH_INTERVAL = 'I',
    O_RATE = 'r',
    O_WINDOW = 'w',
    O_STATUS = 's',
    O_STATE = 'S',
    O_AFTER = 'A',
    O_LIMIT = 'l',
    O_OLDER = 'o',
    O_JSON = 'j',
    O_FORCE = 'F',
    O_HELP = 'h',
};

static const struct option long_opts[] = {
    { "page", required_argument, NULL, O_PAGE },
    { "name", required_argument, NULL, O_NAME },
    { "blocks", required_argument, NULL, O_BLOCKS },
    { "filter", required_argument, NULL, O_FILTER },
    { "goal", required_argument, NULL, O_GOAL },
    { "purpose", required_argument, NULL, O_PURPOSE },
    { "tag", required_argument, NULL, O_TAG },
    { "at", required_argument, NULL, O_AT },
    { "batch-size", required_argument, NULL, O_BATCH_SIZE },
    { "batch-interval", required_argument, NULL, O_BATCH_INTERVAL },
    { "rate", required_argument, NULL, O_RATE },
    { "window", required_argument, NULL, O_WINDOW },
    { "status", required_argument, NULL, O_STATUS },
    { "state", required_argument, NULL, O_STATE },
    { "after", required_argument, NULL, O_AFTER },
    { "limit", required_argument, NULL, O_LIMIT },
    { "older-than", required_argument, NULL, O_OLDER },
    { "json", no_argument, NULL, O_JSON },
    { "force", no_argument, NULL, O_FORCE },
    { "help", no_argument, NULL, O_HELP },
    { 0 },
};

/* Options of create/update; the others of their subcommands. */
static const char edit_opts[] = "nbfgutaBIrw";

struct copts {
    const char *cmd; /* "campaign create", ... for messages */
    const char *val[128];
    bool json;
    bool force;  /* --force (resend) */
    char **args; /* positional arguments */
    int nargs;
};

/* Parses argv (argv[0] = the subcommand) accepting only the options in allowed. */
static int parse_opts(struct loa_cli *cli, int argc, char **argv, const char *allowed,
                      struct copts *o)
{
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        if (c == O_HELP) {
            fputs(campaign_help, cli->out);
            return -1;
        }
        if (c == '?' || c == ':')
            return cli_usage(cli, o->cmd, "unknown option or missing value: '%s'",
                             argv[optind - 1]);
        if (c == O_JSON && strchr(allowed, 'j')) {
            o->json = true;
            continue;
        }
        if (c == O_FORCE && strchr(allowed, 'F')) {
            o->force = true;
            continue;
        }
        if (!strchr(allowed, c)) {
            const char *name = "?";
            for (const struct option *l = long_opts; l->name; l++)
                if (l->val == c)
                    name = l->name;
            return cli_usage(cli, o->cmd, "--%s is not an option of this command", name);
        }
        o->val[c] = optarg;
    }
    o->args = argv + optind;
    o->nargs = argc - optind;
    return 0;
}

/* The exit code of parse_opts(): -1 (help printed) becomes 0. */
static int opts_exit(int rc)
{
    return rc < 0 ? LOA_EXIT_OK : rc;
}

/* The option a field of the campaign object comes from. */
static const char *field_option(const char *where)
{
    static const struct {
        const char *prefix, *opt;
    } map[] = {
        { "page_id", "--page" },
        { "name", "--name" },
        { "goal", "--goal" },
        { "purpose", "--purpose" },
        { "tag", "--tag" },
        { "blocks", "--blocks" },
        { "filter", "--filter" },
        { "scheduled_at", "--at" },
        { "pacing.batch_size", "--batch-size" },
        { "pacing.batch_interval_s", "--batch-interval" },
        { "pacing.rate_per_s", "--rate" },
        { "pacing.window", "--window" },
    };
    for (size_t i = 0; where && i < sizeof(map) / sizeof(map[0]); i++)
        if (strncmp(where, map[i].prefix, strlen(map[i].prefix)) == 0)
            return map[i].opt;
    return NULL;
}

/* Prints every complaint as "loa CMD: FIELD (--option): REASON". */
static int print_diags(struct loa_cli *cli, const char *cmd, const struct loa_diags *d, int exit)
{
    for (size_t i = 0; i < d->count; i++) {
        const struct loa_diag *x = &d->items[i];
        const char *opt = field_option(x->where);
        fprintf(cli->err, "loa %s: %s", cmd, x->where && *x->where ? x->where : "campaign");
        if (opt)
            fprintf(cli->err, " (%s)", opt);
        if (x->line)
            fprintf(cli->err, " line %ld column %ld", x->line, x->column);
        fprintf(cli->err, ": %s\n", x->reason ? x->reason : "invalid");
    }
    if (d->dropped)
        fprintf(cli->err, "loa %s: ... and %zu more problems\n", cmd, d->dropped);
    return exit;
}

/* Reads --blocks/--filter: JSON text ('{' or '['), a file, or '-' (stdin). */
static int read_json_arg(struct loa_cli *cli, const struct copts *o, const char *opt,
                         const char *arg, json_t **out)
{
    char *text;
    size_t len;
    int exit = cli_read_json_text(cli, o->cmd, opt, arg, JSON_INPUT_MAX, &text, &len);
    if (exit)
        return exit;
    json_error_t err;
    *out = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    loa_free(text);
    if (!*out) {
        const char *what = arg[0] == '{' || arg[0] == '[' ? "the value" : arg;
        fprintf(cli->err, "loa %s: %s: %s: line %d column %d: malformed JSON: %s\n", o->cmd, opt,
                what, err.line, err.column, err.text);
        return LOA_EXIT_DATAERR;
    }
    return LOA_EXIT_OK;
}

static json_t *int_or_text(const char *s)
{
    int64_t n;
    return cli_parse_count(s, &n) ? json_integer((json_int_t)n) : json_string(s);
}

static bool is_none(const char *s)
{
    return strcmp(s, "none") == 0 || !*s;
}

/* The campaign object of create/update from the options. */
static int build_body(struct loa_cli *cli, const struct copts *o, bool create, json_t **out)
{
    json_t *b = json_object();
    json_t *pacing = json_object();
    int exit = LOA_EXIT_OK;
    if (create && o->val[O_PAGE])
        json_object_set_new(b, "page_id", json_string(o->val[O_PAGE]));
    if (o->val[O_NAME])
        json_object_set_new(b, "name", json_string(o->val[O_NAME]));
    if (o->val[O_GOAL])
        json_object_set_new(b, "goal", json_string(o->val[O_GOAL]));
    if (o->val[O_PURPOSE])
        json_object_set_new(b, "purpose", json_string(o->val[O_PURPOSE]));
    if (o->val[O_TAG])
        json_object_set_new(b, "tag",
                            is_none(o->val[O_TAG]) ? json_null() : json_string(o->val[O_TAG]));
    if (o->val[O_AT])
        json_object_set_new(b, "scheduled_at",
                            is_none(o->val[O_AT]) ? json_null() : json_string(o->val[O_AT]));
    for (int i = 0; i < 2; i++) {
        int k = i == 0 ? O_BLOCKS : O_FILTER;
        if (!o->val[k])
            continue;
        json_t *v = NULL;
        if ((exit = read_json_arg(cli, o, i == 0 ? "--blocks" : "--filter", o->val[k], &v)))
            goto out;
        json_object_set_new(b, i == 0 ? "blocks" : "filter", v);
    }
    if (o->val[O_BATCH_SIZE])
        json_object_set_new(pacing, "batch_size", int_or_text(o->val[O_BATCH_SIZE]));
    if (o->val[O_BATCH_INTERVAL])
        json_object_set_new(pacing, "batch_interval_s", int_or_text(o->val[O_BATCH_INTERVAL]));
    if (o->val[O_RATE])
        json_object_set_new(pacing, "rate_per_s", int_or_text(o->val[O_RATE]));
    if (o->val[O_WINDOW]) {
        const char *w = o->val[O_WINDOW];
        const char *dash = strchr(w, '-');
        if (is_none(w)) {
            json_object_set_new(pacing, "window", json_null());
        } else if (!dash) {
            exit = cli_usage(cli, o->cmd, "--window is HH:MM-HH:MM (e.g. 08:00-21:00) or none");
            goto out;
        } else {
            json_object_set_new(
                pacing, "window",
                json_pack("{s:s%,s:s}", "from", w, (size_t)(dash - w), "to", dash + 1));
        }
    }
    if (json_object_size(pacing))
        json_object_set(b, "pacing", pacing);
out:
    json_decref(pacing);
    if (exit)
        json_decref(b);
    else
        *out = b;
    return exit;
}

/* ---- Store, campaigns and rules ----------------------------------------------------------- */

/* Parses a campaign id argument and reads the campaign; prints what is wrong. */
static int get_campaign(struct loa_cli *cli, const struct copts *o, struct loa_store *st,
                        const char *arg, struct loa_campaign *out)
{
    int64_t id = 0;
    if (!cli_parse_count(arg, &id) || id <= 0)
        return cli_usage(cli, o->cmd, "'%s' is not a campaign id", arg);
    int rc = loa_store_campaign_get(st, id, out);
    if (rc == LOA_ENOENT) {
        fprintf(cli->err, "loa %s: no campaign with id %lld (see `loa campaign list`)\n", o->cmd,
                (long long)id);
        return LOA_EXIT_DATAERR;
    }
    if (rc < 0) {
        fprintf(cli->err, "loa %s: cannot read campaign %lld: %s\n", o->cmd, (long long)id,
                loa_strerror(rc));
        return LOA_EXIT_IOERR;
    }
    return LOA_EXIT_OK;
}

/* Opens the store and reads the campaign named by the only positional argument. */
static int open_campaign(struct loa_cli *cli, const struct copts *o, struct loa_store **st,
                         struct loa_campaign *c)
{
    if (o->nargs != 1)
        return cli_usage(cli, o->cmd,
                         o->nargs ? "expected one campaign ID, got '%s' too"
                                  : "expected a campaign ID%s",
                         o->nargs ? o->args[1] : "");
    int exit = cli_open_store(cli, false, st);
    if (exit)
        return exit;
    if ((exit = get_campaign(cli, o, *st, o->args[0], c))) {
        loa_store_close(*st);
        *st = NULL;
    }
    return exit;
}

/* JSON text made by the campaign service (loa memory, freed here) as a new reference. */
static json_t *from_text(char *text)
{
    json_t *o = text ? json_loads(text, 0, NULL) : NULL;
    loa_free(text);
    return o;
}

/* The campaign with its Page and counts, as the REST API answers it; NULL when it cannot be
   read. */
static json_t *full_json(struct loa_store *st, int64_t id)
{
    char *text = NULL;
    return loa_campaign_describe(st, id, &text) == 0 ? from_text(text) : NULL;
}

static void print_json(struct loa_cli *cli, json_t *o)
{
    char *text = json_dumps(o, JSON_COMPACT);
    if (text)
        fprintf(cli->out, "%s\n", text);
    free(text); /* jansson allocates with malloc */
}

/* Re-reads campaign id and prints it as JSON. */
static int print_campaign_json(struct loa_cli *cli, struct loa_store *st, int64_t id, json_t *extra)
{
    json_t *o = full_json(st, id);
    if (!o) {
        json_decref(extra);
        return LOA_EXIT_IOERR;
    }
    if (extra) {
        json_object_update(o, extra);
        json_decref(extra);
    }
    print_json(cli, o);
    json_decref(o);
    return LOA_EXIT_OK;
}

/* "campaign 3 is running; only a paused campaign can be resumed" (exit 1). */
static int state_error(struct loa_cli *cli, const struct copts *o, struct loa_store *st, int64_t id,
                       const char *needs)
{
    struct loa_campaign c;
    const char *status = "changed";
    bool got = loa_store_campaign_get(st, id, &c) == 0;
    if (got)
        status = loa_campaign_status_name(c.status);
    fprintf(cli->err, "loa %s: campaign %lld is %s; %s\n", o->cmd, (long long)id, status, needs);
    if (got)
        loa_campaign_release(&c);
    return LOA_EXIT_FAIL;
}

static int store_error(struct loa_cli *cli, const struct copts *o, int rc)
{
    fprintf(cli->err, "loa %s: %s\n", o->cmd, loa_strerror(rc));
    return rc == LOA_EINVAL ? LOA_EXIT_DATAERR : LOA_EXIT_IOERR;
}

/* ---- create, update ----------------------------------------------------------------------- */

static int do_edit(struct loa_cli *cli, int argc, char **argv, bool create)
{
    struct copts o = { .cmd = create ? "campaign create" : "campaign update" };
    char allowed[32];
    snprintf(allowed, sizeof(allowed), "%s%sj", edit_opts, create ? "p" : "");
    int exit = parse_opts(cli, argc, argv, allowed, &o);
    if (exit)
        return opts_exit(exit);
    if (create) {
        if (o.nargs)
            return cli_usage(cli, o.cmd, "unexpected argument '%s'", o.args[0]);
        if (!o.val[O_PAGE] || !o.val[O_NAME] || !o.val[O_BLOCKS])
            return cli_usage(cli, o.cmd, "--page, --name and --blocks are required");
    }
    struct loa_store *st = NULL;
    struct loa_campaign cur = { 0 };
    struct loa_page page = { 0 };
    struct loa_rules *rules = NULL;
    json_t *body = NULL;
    char *text = NULL; /* body as JSON text (jansson's memory) */
    struct loa_campaign_body b;
    loa_campaign_body_init(&b);
    struct loa_diags d;
    loa_diags_init(&d, 100);
    char tz[64] = "", page_id[72] = "";
    if (create) {
        if ((exit = cli_open_page(cli, o.val[O_PAGE], &st, &page)))
            goto out;
        snprintf(tz, sizeof(tz), "%s", page.timezone ? page.timezone : "");
    } else {
        if ((exit = open_campaign(cli, &o, &st, &cur)))
            goto out;
        if (!loa_campaign_op_allowed(LOA_CAMPAIGN_OP_EDIT, cur.status)) {
            exit = state_error(cli, &o, st, cur.id, loa_campaign_op_refusal(LOA_CAMPAIGN_OP_EDIT));
            goto out;
        }
        loa_campaign_page_of(st, cur.page_ref, page_id, sizeof(page_id), tz, sizeof(tz));
    }
    if ((exit = build_body(cli, &o, create, &body)))
        goto out;
    /* The rules know which message tags exist; only needed to check one. */
    if (o.val[O_TAG] && !is_none(o.val[O_TAG]) && (exit = cli_load_rules(cli, o.cmd, NULL, &rules)))
        goto out;
    struct loa_campaign_parse_opts po = {
        .create = create,
        .tz = *tz ? tz : NULL,
        .rules = rules,
        .current = create ? NULL : &cur,
        .now = loa_now_ms(),
    };
    text = json_dumps(body, JSON_COMPACT);
    if (loa_campaign_body_parse(text ? text : "", text ? strlen(text) : 0, &po, &b, &d) < 0) {
        exit = print_diags(cli, o.cmd, &d, LOA_EXIT_DATAERR);
        goto out;
    }
    int64_t id = cur.id;
    struct loa_campaign_args args = { .in = &b.in };
    const char *refusal = NULL;
    int rc = create ? loa_campaign_create(st, page.id, &b.in, loa_now_ms(), &id)
                    : loa_campaign_apply_with(st, id, LOA_CAMPAIGN_OP_EDIT, &args, loa_now_ms(),
                                              &refusal);
    if (rc == LOA_ESTATE) {
        exit = state_error(cli, &o, st, id, refusal);
        goto out;
    }
    if (rc < 0) {
        exit = store_error(cli, &o, rc);
        goto out;
    }
    if (o.json)
        exit = print_campaign_json(cli, st, id, NULL);
    else
        fprintf(cli->out, "%lld\n", (long long)id);
out:
    loa_diags_release(&d);
    loa_campaign_body_release(&b);
    free(text); /* jansson allocates with malloc */
    json_decref(body);
    loa_rules_free(rules);
    loa_campaign_release(&cur);
    loa_page_release(&page);
    loa_store_close(st);
    return exit;
}

/* ---- list, show --------------------------------------------------------------------------- */

/* A time as the Page's people live it: "2026-12-03 20:00 +07:00" in zone tz; "-" for none. */
static void time_text(int64_t ms, const char *tz, char *out, size_t size)
{
    if (ms <= 0)
        snprintf(out, size, "-");
    else
        loa_time_format_local(ms, tz, out, size);
}

struct list_ctx {
    struct loa_cli *cli;
    struct loa_store *st;
    json_t *arr; /* --json */
    int64_t left;
    int64_t page_ref;
    char page_id[72];
    char tz[64];
};

static int list_row(const struct loa_campaign *c, void *ud)
{
    struct list_ctx *l = ud;
    if (l->left-- <= 0)
        return 1;
    if (c->page_ref != l->page_ref) {
        l->page_ref = c->page_ref;
        l->page_id[0] = l->tz[0] = '\0';
        loa_campaign_page_of(l->st, c->page_ref, l->page_id, sizeof(l->page_id), l->tz,
                             sizeof(l->tz));
    }
    if (l->arr) {
        json_array_append_new(l->arr, from_text(loa_campaign_json(c, l->page_id)));
        return 0;
    }
    char when[40];
    time_text(c->started_at ? c->started_at : c->scheduled_at, l->tz, when, sizeof(when));
    fprintf(l->cli->out, "%-6lld %-10s %-18s %9lld  %-24s %s\n", (long long)c->id,
            loa_campaign_status_name(c->status), l->page_id, (long long)c->total, when, c->name);
    return 0;
}

static int do_list(struct loa_cli *cli, int argc, char **argv)
{
    struct copts o = { .cmd = "campaign list" };
    int exit = parse_opts(cli, argc, argv, "psl", &o);
    if (exit)
        return opts_exit(exit);
    if (o.nargs)
        return cli_usage(cli, o.cmd, "unexpected argument '%s'", o.args[0]);
    unsigned mask = 0;
    if (o.val[O_STATUS] && loa_campaign_mask_parse(o.val[O_STATUS], false, &mask) < 0)
        return cli_usage(cli, o.cmd,
                         "--status is draft, scheduled, running, paused, completed or "
                         "cancelled (comma-separated for several)");
    int64_t limit = LIST_LIMIT;
    if (o.val[O_LIMIT] && (!cli_parse_count(o.val[O_LIMIT], &limit) || limit == 0))
        return cli_usage(cli, o.cmd, "--limit is a whole number > 0");
    struct loa_store *st = NULL;
    struct loa_page page = { 0 };
    if (o.val[O_PAGE])
        exit = cli_open_page(cli, o.val[O_PAGE], &st, &page);
    else
        exit = cli_open_store(cli, false, &st);
    if (exit)
        return exit;
    struct list_ctx l = { .cli = cli, .st = st, .left = limit, .page_ref = -1 };
    if (o.json)
        l.arr = json_array();
    else
        fprintf(cli->out, "%-6s %-10s %-18s %9s  %-24s %s\n", "ID", "STATUS", "PAGE", "TOTAL",
                "STARTED/SCHEDULED", "NAME");
    int rc = loa_campaign_list(st, page.id, mask, list_row, &l);
    if (rc < 0)
        exit = store_error(cli, &o, rc);
    else if (l.arr)
        print_json(cli, l.arr);
    json_decref(l.arr);
    loa_page_release(&page);
    loa_store_close(st);
    return exit;
}

static int64_t jint(json_t *o, const char *k)
{
    return (int64_t)json_integer_value(json_object_get(o, k));
}

static void print_pct(FILE *f, const char *name, int64_t n, int64_t of)
{
    fprintf(f, ", %s %lld", name, (long long)n);
    if (of > 0)
        fprintf(f, " (%.1f%%)", 100.0 * (double)n / (double)of);
}

/* The text form of show, read from the same JSON the REST API answers. */
static void print_show(struct loa_cli *cli, json_t *c, const char *tz)
{
    FILE *f = cli->out;
    const char *tag = json_string_value(json_object_get(c, "tag"));
    const char *reason = json_string_value(json_object_get(c, "status_reason"));
    fprintf(f, "campaign    %lld \"%s\"\n", (long long)jint(c, "id"),
            json_string_value(json_object_get(c, "name")));
    fprintf(f, "status      %s%s%s%s\n", json_string_value(json_object_get(c, "status")),
            reason ? " (" : "", reason ? reason : "", reason ? ")" : "");
    fprintf(f, "page        %s\n", json_string_value(json_object_get(c, "page_id")));
    fprintf(f, "goal        %s, %s%s%s\n", json_string_value(json_object_get(c, "goal")),
            json_string_value(json_object_get(c, "purpose")), tag ? ", tag " : "", tag ? tag : "");
    json_t *p = json_object_get(c, "pacing");
    json_t *w = json_object_get(p, "window");
    fprintf(f, "pacing      rate %lld/s%s, batches ", (long long)jint(p, "rate_per_s"),
            jint(p, "rate_per_s") ? "" : " (the Page's)");
    if (jint(p, "batch_size"))
        fprintf(f, "of %lld every %lld s", (long long)jint(p, "batch_size"),
                (long long)jint(p, "batch_interval_s"));
    else
        fprintf(f, "none");
    if (json_is_object(w))
        fprintf(f, ", window %s-%s (Page time)\n", json_string_value(json_object_get(w, "from")),
                json_string_value(json_object_get(w, "to")));
    else
        fprintf(f, ", any time\n");
    static const char *const times[][2] = { { "scheduled_at", "scheduled" },
                                            { "created_at", "created" },
                                            { "started_at", "started" },
                                            { "completed_at", "completed" } };
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        const char *t = json_string_value(json_object_get(c, times[i][0]));
        int64_t ms = 0;
        char when[48] = "-";
        if (t && loa_time_parse(t, &ms) == 0)
            time_text(ms, tz, when, sizeof(when));
        fprintf(f, "%-11s %s\n", times[i][1], when);
    }
    json_t *s = json_object_get(c, "stats");
    fprintf(f, "total       %lld\n", (long long)jint(c, "total"));
    if (!s)
        return;
    json_t *by = json_object_get(s, "by_state");
    fprintf(f, "by state   ");
    const char *k;
    json_t *v;
    bool first = true;
    json_object_foreach(by, k, v) {
        fprintf(f, "%s %s %lld", first ? "" : ",", k, (long long)json_integer_value(v));
        first = false;
    }
    fputc('\n', f);
    size_t i;
    json_array_foreach(json_object_get(s, "reasons"), i, v) {
        fprintf(f, "%-11s %-8s %-24s %lld\n", i == 0 ? "reasons" : "",
                json_string_value(json_object_get(v, "state")),
                json_string_value(json_object_get(v, "reason")), (long long)jint(v, "count"));
    }
    json_t *fu = json_object_get(s, "funnel");
    int64_t sent = jint(fu, "sent");
    fprintf(f, "funnel      sent %lld", (long long)sent);
    print_pct(f, "delivered", jint(fu, "delivered"), sent);
    print_pct(f, "read", jint(fu, "read"), sent);
    print_pct(f, "clicked", jint(fu, "clicked"), sent);
    print_pct(f, "replied", jint(fu, "replied"), sent);
    fputc('\n', f);
}

static int do_show(struct loa_cli *cli, int argc, char **argv)
{
    struct copts o = { .cmd = "campaign show" };
    int exit = parse_opts(cli, argc, argv, "j", &o);
    if (exit)
        return opts_exit(exit);
    struct loa_store *st = NULL;
    struct loa_campaign c = { 0 };
    if ((exit = open_campaign(cli, &o, &st, &c)))
        return exit;
    json_t *j = full_json(st, c.id);
    if (!j)
        exit = store_error(cli, &o, LOA_ESTORE);
    else if (o.json)
        print_json(cli, j);
    else {
        char tz[64] = "";
        loa_campaign_page_of(st, c.page_ref, NULL, 0, tz, sizeof(tz));
        print_show(cli, j, tz);
    }
    json_decref(j);
    loa_campaign_release(&c);
    loa_store_close(st);
    return exit;
}

/* ---- Status changes ----------------------------------------------------------------------- */

/* Prints the result of a status change: the campaign as JSON, or one line. */
static int report(struct loa_cli *cli, const struct copts *o, struct loa_store *st, int64_t id,
                  json_t *extra, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int report(struct loa_cli *cli, const struct copts *o, struct loa_store *st, int64_t id,
                  json_t *extra, const char *fmt, ...)
{
    if (o->json)
        return print_campaign_json(cli, st, id, extra);
    json_decref(extra);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(cli->out, fmt, ap);
    va_end(ap);
    fputc('\n', cli->out);
    return LOA_EXIT_OK;
}

/* The operation of a status-change subcommand. */
static const struct {
    const char *sub;
    enum loa_campaign_op op;
} actions[] = {
    { "start", LOA_CAMPAIGN_OP_START },   { "schedule", LOA_CAMPAIGN_OP_SCHEDULE },
    { "pause", LOA_CAMPAIGN_OP_PAUSE },   { "resume", LOA_CAMPAIGN_OP_RESUME },
    { "cancel", LOA_CAMPAIGN_OP_CANCEL }, { "retry-failed", LOA_CAMPAIGN_OP_RETRY_FAILED },
    { "delete", LOA_CAMPAIGN_OP_DELETE },
};

/* schedule: the start time from --at (or the stored one), checked; sets args->at. */
static int schedule_at(struct loa_cli *cli, const struct copts *o, struct loa_store *st,
                       const struct loa_campaign *c, int64_t now, struct loa_campaign_args *args)
{
    char page_id[72] = "", tz[64] = "";
    loa_campaign_page_of(st, c->page_ref, page_id, sizeof(page_id), tz, sizeof(tz));
    int64_t at = c->scheduled_at;
    int rc;
    if (o->val[O_AT] && (rc = loa_time_parse_local(o->val[O_AT], tz, loa_now_ms(), &at)) < 0) {
        fprintf(cli->err, "loa %s: --at %s: %s\n", o->cmd, o->val[O_AT],
                rc == LOA_ERANGE ? "this local time does not exist (daylight saving time)"
                                 : "not a time: \"2026-05-04 09:00\" (the Page's local "
                                   "time) or ISO 8601 with Z or an offset");
        return LOA_EXIT_USAGE;
    }
    if (at <= 0)
        return cli_usage(cli, o->cmd, "--at TIME is required (the campaign has no start time)");
    if (at <= now)
        return cli_usage(cli, o->cmd, "--at must be in the future");
    args->at = at;
    return LOA_EXIT_OK;
}

/* The line (or JSON) a status change that went through prints. */
static int action_report(struct loa_cli *cli, struct copts *o, struct loa_store *st, int64_t id,
                         enum loa_campaign_op op, const struct loa_campaign_args *args)
{
    char when[40];
    switch (op) {
    case LOA_CAMPAIGN_OP_START:
        return report(cli, o, st, id, NULL,
                      "campaign %lld running: %lld deliveries (send with `loa serve` or "
                      "`loa campaign run %lld`)",
                      (long long)id, (long long)args->count, (long long)id);
    case LOA_CAMPAIGN_OP_SCHEDULE: {
        struct loa_campaign c;
        char tz[64] = "";
        if (loa_store_campaign_get(st, id, &c) == 0) {
            loa_campaign_page_of(st, c.page_ref, NULL, 0, tz, sizeof(tz));
            loa_campaign_release(&c);
        }
        loa_time_format_local(args->at, tz, when, sizeof(when));
        return report(cli, o, st, id, NULL, "campaign %lld scheduled for %s (the Page's time)",
                      (long long)id, when);
    }
    case LOA_CAMPAIGN_OP_DELETE:
        o->json = false;
        return report(cli, o, st, id, NULL, "campaign %lld deleted", (long long)id);
    case LOA_CAMPAIGN_OP_RETRY_FAILED:
        return report(cli, o, st, id, json_pack("{s:I}", "requeued", (json_int_t)args->count),
                      "campaign %lld: %lld failed deliveries re-queued", (long long)id,
                      (long long)args->count);
    default:
        break;
    }
    int to = loa_campaign_op_target(op); /* pause, resume, cancel */
    return report(cli, o, st, id, NULL, "campaign %lld %s", (long long)id,
                  loa_campaign_status_name((enum loa_campaign_status)to));
}

static int do_action(struct loa_cli *cli, int argc, char **argv, const char *sub,
                     enum loa_campaign_op op)
{
    char cmd[48];
    snprintf(cmd, sizeof(cmd), "campaign %s", sub);
    struct copts o = { .cmd = cmd };
    bool schedule = op == LOA_CAMPAIGN_OP_SCHEDULE;
    int exit = parse_opts(cli, argc, argv, schedule ? "aj" : "j", &o);
    if (exit)
        return opts_exit(exit);
    struct loa_store *st = NULL;
    struct loa_campaign c = { 0 };
    if ((exit = open_campaign(cli, &o, &st, &c)))
        return exit;
    int64_t id = c.id, now = loa_now_ms();
    struct loa_campaign_args args = { .reason = op == LOA_CAMPAIGN_OP_PAUSE ? "manual" : NULL };
    const char *refusal = loa_campaign_op_refusal(op);
    int rc = 0;
    /* schedule reads --at only for a campaign that may be scheduled */
    if (schedule && !loa_campaign_op_allowed(op, c.status))
        rc = LOA_ESTATE;
    else if (schedule)
        exit = schedule_at(cli, &o, st, &c, now, &args);
    if (rc == 0 && !exit)
        rc = loa_campaign_apply_with(st, id, op, &args, now, &refusal);
    if (rc == 0 && !exit)
        exit = action_report(cli, &o, st, id, op, &args);
    else if (op == LOA_CAMPAIGN_OP_START && rc == LOA_EINVAL) {
        fprintf(cli->err,
                "loa %s: filter: the stored audience filter is no longer valid; edit it\n", cmd);
        exit = LOA_EXIT_DATAERR;
    } else if (rc == LOA_ESTATE)
        exit = state_error(cli, &o, st, id, refusal);
    else if (rc < 0 && !exit)
        exit = store_error(cli, &o, rc);
    loa_campaign_release(&c);
    loa_store_close(st);
    return exit;
}

/* ---- deliveries, unknowns, resend --------------------------------------------------------- */

struct dlist_ctx {
    struct loa_cli *cli;
    json_t *arr;
    int64_t n, last;
    char tz[64]; /* the Page's zone: times are printed in it */
};

static int dlist_row(const struct loa_delivery *d, void *ud)
{
    struct dlist_ctx *l = ud;
    l->n++;
    l->last = d->position;
    if (l->arr) {
        json_array_append_new(l->arr, from_text(loa_delivery_json(d)));
        return 0;
    }
    char sent[40], claimed[40];
    time_text(d->sent_at, l->tz, sent, sizeof(sent));
    time_text(d->claimed_at, l->tz, claimed, sizeof(claimed));
    fprintf(l->cli->out, "%-8lld %-10lld %-9s %-24s %-20s %3lld  %-24s %s\n",
            (long long)d->position, (long long)d->id, loa_delivery_state_name(d->state),
            d->reason ? d->reason : "-", d->psid ? d->psid : "-", (long long)d->attempts, claimed,
            sent);
    return 0;
}

static int do_deliveries(struct loa_cli *cli, int argc, char **argv, bool unknowns)
{
    struct copts o = { .cmd = unknowns ? "campaign unknowns" : "campaign deliveries" };
    int exit = parse_opts(cli, argc, argv, unknowns ? "oAlj" : "SAlj", &o);
    if (exit)
        return opts_exit(exit);
    unsigned mask = unknowns ? BIT(LOA_DELIVERY_UNKNOWN) : 0;
    if (o.val[O_STATE] && loa_campaign_mask_parse(o.val[O_STATE], true, &mask) < 0)
        return cli_usage(cli, o.cmd,
                         "--state is pending, in_flight, sent, failed, skipped or unknown "
                         "(comma-separated for several)");
    int64_t after = -1, limit = 100, grace = UNKNOWN_GRACE_S;
    if (o.val[O_AFTER] && !cli_parse_count(o.val[O_AFTER], &after))
        return cli_usage(cli, o.cmd, "--after is a position (a whole number)");
    if (o.val[O_LIMIT] &&
        (!cli_parse_count(o.val[O_LIMIT], &limit) || limit == 0 || limit > DELIVERIES_MAX))
        return cli_usage(cli, o.cmd, "--limit is 1 to %d", DELIVERIES_MAX);
    if (o.val[O_OLDER] && !cli_parse_count(o.val[O_OLDER], &grace))
        return cli_usage(cli, o.cmd, "--older-than is a whole number of seconds");
    struct loa_store *st = NULL;
    struct loa_campaign c = { 0 };
    if ((exit = open_campaign(cli, &o, &st, &c)))
        return exit;
    struct dlist_ctx l = { .cli = cli };
    loa_campaign_page_of(st, c.page_ref, NULL, 0, l.tz, sizeof(l.tz));
    if (o.json)
        l.arr = json_array();
    else
        fprintf(cli->out, "%-8s %-10s %-9s %-24s %-20s %3s  %-24s %s\n", "POSITION", "ID", "STATE",
                "REASON", "PSID", "TRY", "CLAIMED", "SENT");
    int64_t older = unknowns ? loa_now_ms() - grace * 1000 : 0;
    int rc = loa_store_delivery_list(st, c.id, mask, after, limit, older, dlist_row, &l);
    if (rc < 0) {
        exit = store_error(cli, &o, rc);
    } else if (l.arr) {
        json_t *out =
            json_pack("{s:O,s:o}", "data", l.arr, "next_cursor",
                      l.n == limit ? json_sprintf("%lld", (long long)l.last) : json_null());
        print_json(cli, out);
        json_decref(out);
    } else if (l.n == limit) {
        fprintf(cli->out, "more: --after %lld\n", (long long)l.last);
    }
    json_decref(l.arr);
    loa_campaign_release(&c);
    loa_store_close(st);
    return exit;
}

static int do_resend(struct loa_cli *cli, int argc, char **argv)
{
    struct copts o = { .cmd = "campaign resend" };
    int exit = parse_opts(cli, argc, argv, "jF", &o);
    if (exit)
        return opts_exit(exit);
    if (o.nargs < 2)
        return cli_usage(cli, o.cmd,
                         "expected a campaign ID and delivery ids (from `loa "
                         "campaign unknowns ID`)");
    size_t n = (size_t)o.nargs - 1;
    int64_t *ids = loa_calloc(n, sizeof(*ids));
    for (size_t i = 0; i < n; i++) {
        if (!cli_parse_count(o.args[i + 1], &ids[i]) || ids[i] == 0) {
            loa_free(ids);
            return cli_usage(cli, o.cmd, "'%s' is not a delivery id", o.args[i + 1]);
        }
    }
    o.nargs = 1;
    struct loa_store *st = NULL;
    struct loa_campaign c = { 0 };
    if ((exit = open_campaign(cli, &o, &st, &c))) {
        loa_free(ids);
        return exit;
    }
    int64_t *unreconciled = loa_calloc(n, sizeof(*unreconciled));
    struct loa_campaign_args args = {
        .ids = ids, .nids = n, .force = o.force, .unreconciled = unreconciled
    };
    const char *refusal = NULL;
    int rc = loa_campaign_apply_with(st, c.id, LOA_CAMPAIGN_OP_RESEND_UNKNOWN, &args, loa_now_ms(),
                                     &refusal);
    int64_t count = args.count;
    if (rc == LOA_EAGAIN) {
        char why[1024];
        loa_campaign_unreconciled_text(unreconciled, args.nunreconciled, why, sizeof(why));
        fprintf(cli->err, "loa %s: campaign %lld: %s (--force); nothing was re-queued\n", o.cmd,
                (long long)c.id, why);
        exit = LOA_EXIT_FAIL;
    } else if (rc == LOA_ESTATE)
        exit = state_error(cli, &o, st, c.id, refusal);
    else if (rc < 0)
        exit = store_error(cli, &o, rc);
    else
        exit = report(cli, &o, st, c.id,
                      json_pack("{s:I,s:I}", "requeued", (json_int_t)count, "not_requeued",
                                (json_int_t)((int64_t)n - count)),
                      "campaign %lld: %lld of %zu deliveries re-queued%s", (long long)c.id,
                      (long long)count, n,
                      (size_t)count < n ? " (the others are not unknown deliveries of it)" : "");
    loa_free(unreconciled);
    loa_free(ids);
    loa_campaign_release(&c);
    loa_store_close(st);
    return exit;
}

/* ---- run ---------------------------------------------------------------------------------- */

static volatile sig_atomic_t run_stop;

static void on_stop_signal(int sig)
{
    (void)sig;
    run_stop = 1;
}

struct run_thread {
    struct loa_dispatch *d;
    atomic_bool done;
    int rc;
};

static void *run_main(void *arg)
{
    struct run_thread *t = arg;
    /* Signals go to the main thread, whose handler's flag it relays to this one
     * (loa_dispatch_request_stop). */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    static volatile sig_atomic_t never;
    t->rc = loa_dispatch_run(t->d, &never);
    atomic_store(&t->done, true);
    return NULL;
}

/* Deliveries of the campaign in a final state (sent, failed, skipped, unknown). */
static int64_t settled(const struct loa_campaign_stats *s)
{
    return s->by_state[LOA_DELIVERY_SENT] + s->by_state[LOA_DELIVERY_FAILED] +
           s->by_state[LOA_DELIVERY_SKIPPED] + s->by_state[LOA_DELIVERY_UNKNOWN];
}

static void run_progress(struct loa_cli *cli, const struct loa_dispatch_stats *ds, int64_t base,
                         int64_t total, int64_t started, bool final)
{
    if (!cli->tty)
        return;
    double secs = (double)(loa_mono_ms() - started) / 1000.0;
    uint64_t done_now = ds->sent + ds->failed + ds->skipped + ds->unknown;
    int64_t done = base + (int64_t)done_now;
    double frac = total > 0 ? (double)done / (double)total : 0;
    if (frac > 1)
        frac = 1;
    char bar[25];
    int fill = (int)(frac * 24);
    for (int i = 0; i < 24; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[24] = '\0';
    double rate = secs > 0 ? (double)ds->sent / secs : 0;
    fprintf(cli->err,
            "\r[%s] %3d%%  sent %llu  failed %llu  skipped %llu  unknown %llu  %.0f msgs/s", bar,
            (int)(frac * 100), (unsigned long long)ds->sent, (unsigned long long)ds->failed,
            (unsigned long long)ds->skipped, (unsigned long long)ds->unknown, rate);
    if (!final && frac > 0.01 && frac < 1 && done_now > 0) {
        double eta = secs * (double)(total - done) / (double)done_now;
        fprintf(cli->err, "  ETA %.0fs", eta);
    }
    fputs(final ? "\n" : "\033[K", cli->err);
    fflush(cli->err);
}

static int do_run(struct loa_cli *cli, int argc, char **argv)
{
    struct copts o = { .cmd = "campaign run" };
    int exit = parse_opts(cli, argc, argv, "", &o);
    if (exit)
        return opts_exit(exit);
    struct loa_store *st = NULL;
    struct loa_campaign c = { 0 };
    struct loa_rules *rules = NULL;
    struct loa_dispatch *d = NULL;
    struct loa_store_opts so = { 0 };
    if ((exit = open_campaign(cli, &o, &st, &c)))
        return exit;
    int64_t id = c.id;
    /* Without a token the dispatcher holds the Page back for ever: say so now. */
    char page_id[72] = "";
    struct loa_page page;
    if (loa_campaign_page_of(st, c.page_ref, page_id, sizeof(page_id), NULL, 0) == 0 &&
        loa_store_page_get(st, page_id, &page) == 0) {
        bool token = page.has_token;
        loa_page_release(&page);
        if (!token) {
            fprintf(cli->err,
                    "loa campaign run: Page %s has no access token (loa page set %s "
                    "--token-file FILE)\n",
                    page_id, page_id);
            exit = LOA_EXIT_CONFIG;
            goto out;
        }
    }
    if ((exit = cli_load_rules(cli, o.cmd, NULL, &rules)))
        goto out;
    if (c.status == LOA_CAMPAIGN_DRAFT) {
        int64_t total = 0;
        int rc = loa_campaign_start(st, id, loa_now_ms(), &total);
        if (rc == LOA_ESTATE) {
            exit = state_error(cli, &o, st, id, "it could not be started");
            goto out;
        }
        if (rc < 0) {
            exit = store_error(cli, &o, rc);
            goto out;
        }
        fprintf(cli->err, "loa campaign run: campaign %lld started: %lld deliveries\n",
                (long long)id, (long long)total);
    } else if (c.status == LOA_CAMPAIGN_PAUSED || c.status == LOA_CAMPAIGN_CANCELLED) {
        exit = state_error(cli, &o, st, id,
                           c.status == LOA_CAMPAIGN_PAUSED
                               ? "resume it first (`loa campaign resume ID`)"
                               : "there is nothing to send");
        goto out;
    } else if (c.status == LOA_CAMPAIGN_COMPLETED) {
        fprintf(cli->err, "loa campaign run: campaign %lld is already completed\n", (long long)id);
    } else if (c.status == LOA_CAMPAIGN_SCHEDULED) {
        char when[40], tz[64] = "";
        loa_campaign_page_of(st, c.page_ref, NULL, 0, tz, sizeof(tz));
        time_text(c.scheduled_at, tz, when, sizeof(when));
        fprintf(cli->err, "loa campaign run: campaign %lld is scheduled; waiting until %s\n",
                (long long)id, when);
    }
    /* The dispatcher opens its own connection with the same settings. */
    struct loa_diags diags;
    loa_diags_init(&diags, 10);
    so.path = cli->set->store_path;
    so.durable = cli->set->store_durable;
    int rc = loa_store_key_load(cli->set->store_secret_key, cli->set->store_key_file, so.path,
                                false, so.key, &diags);
    loa_diags_release(&diags);
    struct loa_dispatch_opts dopts = {
        .store = &so,
        .rules = rules,
        .only_campaign = id,
        .recover = true,
    };
    loa_dispatch_opts_from(&dopts, cli->set);
    if (rc == 0)
        rc = loa_dispatch_new(&dopts, &d);
    if (rc == LOA_EBUSY) {
        fprintf(cli->err,
                "loa campaign run: another loa (serve, or campaign run) is sending from this "
                "store; it sends running campaigns itself — or stop it first\n");
        exit = LOA_EXIT_TEMPFAIL;
        goto out;
    }
    if (rc < 0) {
        fprintf(cli->err, "loa campaign run: cannot start the dispatcher: %s\n", loa_strerror(rc));
        exit = rc == LOA_EINVAL ? LOA_EXIT_CONFIG : LOA_EXIT_IOERR;
        goto out;
    }
    struct loa_campaign_stats before;
    int64_t total = c.total;
    loa_campaign_release(&c);
    if (loa_store_campaign_get(st, id, &c) == 0)
        total = c.total;
    loa_store_campaign_stats(st, id, &before, NULL, NULL);

    struct sigaction sa = { .sa_handler = on_stop_signal }, old_int, old_term;
    sigemptyset(&sa.sa_mask);
    run_stop = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    struct run_thread t = { .d = d };
    atomic_init(&t.done, false);
    int64_t started = loa_mono_ms();
    pthread_t th;
    if (pthread_create(&th, NULL, run_main, &t) != 0) {
        t.rc = loa_dispatch_run(d, &run_stop);
    } else {
        bool relayed = false;
        while (!atomic_load(&t.done)) {
            if (run_stop && !relayed) {
                loa_dispatch_request_stop(d);
                relayed = true;
            }
            struct loa_dispatch_stats ds;
            loa_dispatch_get_stats(d, &ds);
            run_progress(cli, &ds, settled(&before), total, started, false);
            struct timespec ts = { 0, PROGRESS_MS * 1000 * 1000 };
            nanosleep(&ts, NULL);
        }
        pthread_join(th, NULL);
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    struct loa_dispatch_stats ds;
    loa_dispatch_get_stats(d, &ds);
    run_progress(cli, &ds, settled(&before), total, started, true);
    loa_dispatch_free(d);
    d = NULL;
    if (t.rc < 0) {
        exit = store_error(cli, &o, t.rc);
        goto out;
    }

    struct loa_campaign_stats after;
    loa_campaign_release(&c);
    if ((rc = loa_store_campaign_get(st, id, &c)) < 0 ||
        (rc = loa_store_campaign_stats(st, id, &after, NULL, NULL)) < 0) {
        exit = store_error(cli, &o, rc);
        goto out;
    }
    double secs = (double)(loa_mono_ms() - started) / 1000.0;
    const int64_t *b = after.by_state;
    fprintf(cli->out,
            "campaign %lld %s: %lld deliveries: sent %lld, failed %lld, skipped %lld, unknown "
            "%lld, pending %lld (%.0f msgs/s)\n",
            (long long)id, loa_campaign_status_name(c.status), (long long)after.total,
            (long long)b[LOA_DELIVERY_SENT], (long long)b[LOA_DELIVERY_FAILED],
            (long long)b[LOA_DELIVERY_SKIPPED], (long long)b[LOA_DELIVERY_UNKNOWN],
            (long long)(b[LOA_DELIVERY_PENDING] + b[LOA_DELIVERY_IN_FLIGHT]),
            secs > 0 ? (double)ds.sent / secs : 0.0);
    if (run_stop) {
        fprintf(cli->err, "loa campaign run: stopped by a signal; run it again to continue\n");
        exit = LOA_EXIT_OK;
    } else if (c.status == LOA_CAMPAIGN_COMPLETED) {
        exit = LOA_EXIT_OK;
    } else {
        fprintf(cli->err, "loa campaign run: campaign %lld is %s%s%s%s\n", (long long)id,
                loa_campaign_status_name(c.status), c.status_reason ? " (" : "",
                c.status_reason ? c.status_reason : "", c.status_reason ? ")" : "");
        exit = LOA_EXIT_FAIL;
    }
out:
    loa_dispatch_free(d);
    explicit_bzero(so.key, sizeof(so.key));
    loa_rules_free(rules);
    loa_campaign_release(&c);
    loa_store_close(st);
    return exit;
}

/* ---- Entry -------------------------------------------------------------------------------- */

int loa_cmd_campaign(struct loa_cli *cli, int argc, char **argv)
{
    if (argc < 2)
        return cli_usage(cli, "campaign",
                         "expected create, update, list, show, start, schedule, pause, resume, "
                         "cancel, retry-failed, delete, deliveries, unknowns, resend or run");
    const char *sub = argv[1];
    argc--;
    argv++;
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
        fputs(campaign_help, cli->out);
        return LOA_EXIT_OK;
    }
    if (strcmp(sub, "create") == 0 || strcmp(sub, "update") == 0)
        return do_edit(cli, argc, argv, sub[0] == 'c');
    if (strcmp(sub, "list") == 0)
        return do_list(cli, argc, argv);
    if (strcmp(sub, "show") == 0)
        return do_show(cli, argc, argv);
    if (strcmp(sub, "deliveries") == 0 || strcmp(sub, "unknowns") == 0)
        return do_deliveries(cli, argc, argv, sub[0] == 'u');
    if (strcmp(sub, "resend") == 0)
        return do_resend(cli, argc, argv);
    if (strcmp(sub, "run") == 0)
        return do_run(cli, argc, argv);
    for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
        if (strcmp(sub, actions[i].sub) == 0)
            return do_action(cli, argc, argv, sub, actions[i].op);
    return cli_usage(cli, "campaign", "unknown subcommand '%s'", sub);
}
