/* SPDX-License-Identifier: MIT */
/*
 * loa rules: explain a send decision, list the rules in force, check a rules file.
 * The decisions and their wording live in src/rules (loa_rules_decide, loa_rules_format_*).
 */
#include <ctype.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <loa/alloc.h>
#include <loa/buf.h>
#include <loa/clock.h>
#include <loa/config.h>
#include <loa/diag.h>
#include <loa/err.h>
#include <loa/rules.h>

#include "cli.h"
#include "common.h"

#define MAX_TOKENS 16
#define OUT_MAX    (4u * 1024 * 1024)

static const char usage_main[] =
    "usage: loa rules <command> [options]\n"
    "\n"
    "Meta's messaging rules as data (rules file, see docs/rules.md) and the send decision.\n"
    "\n"
    "commands:\n"
    "  explain   decide whether a message may be sent, and say which rule decides\n"
    "  list      print the rules in force at a time\n"
    "  check     validate a rules file\n"
    "\n"
    "Each command takes --help. The rules file is --rules FILE, else the rules.file option.\n";

static const char usage_explain[] =
    "usage: loa rules explain [options]\n"
    "\n"
    "Prints the decision for one message to one person: allowed (route, messaging_type, tag,\n"
    "recipient form, until when) or refused (rule id, effective date, source, reason).\n"
    "Exit status: 0 allowed, 1 refused, 64 bad command line, 65 bad rules file.\n"
    "\n"
    "  --at T                   when the message would be sent (default: now)\n"
    "  --last-interaction T     the person's last interaction\n"
    "  --kind K                 its kind: message, postback, quick_reply, get_started, referral,\n"
    "                           referral_ad, referral_mme, referral_plugin, reaction, optin,\n"
    "                           comment (default: message)\n"
    "  --ctm-ad                 it was the first message after a click-to-Messenger ad\n"
    "  --first-seen T           when the person first messaged the Page\n"
    "  --page-activated T       when the Page was activated in loa\n"
    "  --sent-after-window N    messages already sent after the window closed (24+1)\n"
    "  --purpose P              promotional or non-promotional (default: non-promotional)\n"
    "  --structured             the message has images, cards, buttons or quick replies\n"
    "  --sender S               automation or human (default: automation)\n"
    "  --route R                auto, window, human_agent, marketing, tag:NAME, topic:ID or\n"
    "                           utility:TEMPLATE (default: auto)\n"
    "  --staff                  the staff-reply route (human, text): window, HUMAN_AGENT, topic\n"
    "  --token SPEC             a topic token, repeatable: TOPIC[,status=active|stopped]\n"
    "                           [,frequency=DAILY|WEEKLY|MONTHLY][,created=T][,expires=T]\n"
    "                           [,last-sent=T][,inactive]   (created defaults to --at)\n"
    "  --country CC             where the person is (ISO 3166-1: VN, GB); topics and marketing\n"
    "                           messages depend on it\n"
    "  --marketing STATUS       the person holds a marketing-message token: active or stopped\n"
    "  --template NAME          a utility template for this message (add ,unapproved when Meta\n"
    "                           has not approved it)\n"
    "  --accept LIST            routes auto may take beyond the window: topic, marketing,\n"
    "                           utility, comma-separated (default: topic)\n"
    "  --routes                 every route in the order auto tries them, each with its verdict\n"
    "  --json                   print the decision as JSON\n"
    "  --rules FILE             rules file (default: the rules.file option)\n"
    "  -h, --help               this help\n"
    "\n"
    "Times are ISO 8601, UTC unless an offset is given: 2026-05-01T10:00Z.\n"
    "Example: loa rules explain --at 2026-05-01T10:00Z --last-interaction 2026-04-29T10:00Z \\\n"
    "           --kind message --purpose promotional --route tag:POST_PURCHASE_UPDATE\n";

static const char usage_list[] = "usage: loa rules list [--at T] [--all] [--json] [--rules FILE]\n"
                                 "\n"
                                 "Prints the rules in force at T (default: now), or every entry "
                                 "of the file with --all.\n";

static const char usage_check[] = "usage: loa rules check FILE\n"
                                  "\n"
                                  "Validates a rules file and prints every problem with its JSON "
                                  "path (exit 0 valid, 65 invalid, 66 unreadable).\n";

static int usage_error(struct loa_cli *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int usage_error(struct loa_cli *cli, const char *fmt, ...)
{
    va_list ap;
    fprintf(cli->err, "loa rules: ");
    va_start(ap, fmt);
    vfprintf(cli->err, fmt, ap);
    va_end(ap);
    fprintf(cli->err, "\n(see loa rules --help)\n");
    return LOA_EXIT_USAGE;
}

static int parse_time_arg(struct loa_cli *cli, const char *opt, const char *s, int64_t *out)
{
    if (loa_time_parse(s, out) == 0)
        return 0;
    fprintf(cli->err, "loa rules: %s: not a time: %s (want e.g. 2026-05-01T10:00Z)\n", opt, s);
    return LOA_EXIT_USAGE;
}

static int print_buf(struct loa_cli *cli, struct loa_buf *b, int rc)
{
    if (rc) {
        fprintf(cli->err, "loa rules: output too large\n");
        return LOA_EXIT_SOFTWARE;
    }
    fprintf(cli->out, "%s\n", loa_buf_cstr(b));
    return LOA_EXIT_OK;
}

/* "TOPIC[,key=value...]" into t; strings point into spec (modified in place). */
static int parse_token(struct loa_cli *cli, char *spec, int64_t at, struct loa_rules_token *t)
{
    char *save = NULL;
    char *part = strtok_r(spec, ",", &save);
    memset(t, 0, sizeof(*t));
    if (!part)
        return usage_error(cli, "--token: missing topic id");
    t->topic_id = part;
    t->created = at;
    while ((part = strtok_r(NULL, ",", &save))) {
        char *eq = strchr(part, '=');
        const char *val = eq ? eq + 1 : "";
        if (eq)
            *eq = '\0';
        int rc = 0;
        if (strcmp(part, "inactive") == 0 && !eq)
            t->topic_inactive = true;
        else if (strcmp(part, "status") == 0 && strcmp(val, "active") == 0)
            t->status = LOA_RULES_TOKEN_ACTIVE;
        else if (strcmp(part, "status") == 0 && strcmp(val, "stopped") == 0)
            t->status = LOA_RULES_TOKEN_STOPPED;
        else if (strcmp(part, "frequency") == 0) {
            if (loa_rules_frequency_parse(val, &t->frequency))
                return usage_error(cli, "--token: unknown frequency: %s", val);
        } else if (strcmp(part, "created") == 0)
            rc = parse_time_arg(cli, "--token created", val, &t->created);
        else if (strcmp(part, "expires") == 0)
            rc = parse_time_arg(cli, "--token expires", val, &t->expires);
        else if (strcmp(part, "last-sent") == 0)
            rc = parse_time_arg(cli, "--token last-sent", val, &t->last_sent);
        else
            return usage_error(cli, "--token: unknown field: %s", part);
        if (rc)
            return rc;
    }
    return 0;
}

enum {
    OPT_AT = 256,
    OPT_LAST,
    OPT_KIND,
    OPT_CTM,
    OPT_FIRST_SEEN,
    OPT_ACTIVATED,
    OPT_AFTER_WINDOW,
    OPT_PURPOSE,
    OPT_STRUCTURED,
    OPT_SENDER,
    OPT_ROUTE,
    OPT_STAFF,
    OPT_TOKEN,
    OPT_JSON,
    OPT_RULES,
    OPT_ALL,
    OPT_COUNTRY,
    OPT_MARKETING,
    OPT_TEMPLATE,
    OPT_ACCEPT,
    OPT_ROUTES,
};

/* "topic,marketing,utility" into route bits. */
static int parse_accept(struct loa_cli *cli, char *list, unsigned *out)
{
    *out = 0;
    char *save = NULL;
    for (char *part = strtok_r(list, ",", &save); part; part = strtok_r(NULL, ",", &save)) {
        if (strcmp(part, "topic") == 0)
            *out |= LOA_RULES_ROUTE_BIT(LOA_RULES_ROUTE_TOPIC);
        else if (strcmp(part, "marketing") == 0)
            *out |= LOA_RULES_ROUTE_BIT(LOA_RULES_ROUTE_MARKETING);
        else if (strcmp(part, "utility") == 0)
            *out |= LOA_RULES_ROUTE_BIT(LOA_RULES_ROUTE_UTILITY);
        else
            return usage_error(cli, "--accept: topic, marketing or utility, not %s", part);
    }
    if (!*out)
        return usage_error(cli, "--accept: name at least one route");
    return 0;
}

/* Every route's verdict: one line each ("1. window: refused ..."), or a JSON array. */
static int format_routes(const struct loa_rules_routes *all, bool json, struct loa_buf *b)
{
    int rc = loa_buf_puts(b, json ? "[" : "");
    for (size_t i = 0; !rc && i < all->n; i++) {
        if (json)
            rc = loa_buf_puts(b, i ? "," : "");
        else
            rc = loa_buf_printf(b, "%zu. %s%s: ", i + 1, loa_rules_route_name(all->v[i].route),
                                (int)i == all->best ? " (auto takes this one)" : "");
        if (!rc)
            rc = loa_rules_format_decision(&all->v[i], json, b);
        if (!rc && !json && (b->len == 0 || b->ptr[b->len - 1] != '\n'))
            rc = loa_buf_puts(b, "\n");
    }
    if (!rc && json)
        rc = loa_buf_puts(b, "]");
    return rc;
}

static int cmd_explain(struct loa_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        { "at", required_argument, NULL, OPT_AT },
        { "last-interaction", required_argument, NULL, OPT_LAST },
        { "kind", required_argument, NULL, OPT_KIND },
        { "ctm-ad", no_argument, NULL, OPT_CTM },
        { "first-seen", required_argument, NULL, OPT_FIRST_SEEN },
        { "page-activated", required_argument, NULL, OPT_ACTIVATED },
        { "sent-after-window", required_argument, NULL, OPT_AFTER_WINDOW },
        { "purpose", required_argument, NULL, OPT_PURPOSE },
        { "structured", no_argument, NULL, OPT_STRUCTURED },
        { "sender", required_argument, NULL, OPT_SENDER },
        { "route", required_argument, NULL, OPT_ROUTE },
        { "staff", no_argument, NULL, OPT_STAFF },
        { "token", required_argument, NULL, OPT_TOKEN },
        { "json", no_argument, NULL, OPT_JSON },
        { "rules", required_argument, NULL, OPT_RULES },
        { "country", required_argument, NULL, OPT_COUNTRY },
        { "marketing", required_argument, NULL, OPT_MARKETING },
        { "template", required_argument, NULL, OPT_TEMPLATE },
        { "accept", required_argument, NULL, OPT_ACCEPT },
        { "routes", no_argument, NULL, OPT_ROUTES },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct loa_rules_person person = { .last_action = LOA_RULES_ACT_MESSAGE };
    const char *template_id = NULL;
    bool template_approved = true, routes = false;
    struct loa_rules_request req = { .person = &person };
    struct loa_rules_token tokens[MAX_TOKENS];
    char *token_specs[MAX_TOKENS];
    size_t ntokens = 0;
    const char *rules_path = NULL, *route = "auto";
    bool json = false, staff = false, at_given = false;
    int c, rc;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        rc = 0;
        switch (c) {
        case 'h':
            fputs(usage_explain, cli->out);
            return LOA_EXIT_OK;
        case OPT_AT:
            rc = parse_time_arg(cli, "--at", optarg, &req.at);
            at_given = true;
            break;
        case OPT_LAST:
            rc = parse_time_arg(cli, "--last-interaction", optarg, &person.last_interaction);
            break;
        case OPT_KIND:
            if (loa_rules_action_parse(optarg, &person.last_action))
                return usage_error(cli, "--kind: unknown interaction kind: %s", optarg);
            break;
        case OPT_CTM:
            person.first_after_ctm_ad = true;
            break;
        case OPT_FIRST_SEEN:
            rc = parse_time_arg(cli, "--first-seen", optarg, &person.first_seen);
            break;
        case OPT_ACTIVATED:
            rc = parse_time_arg(cli, "--page-activated", optarg, &person.page_activated);
            break;
        case OPT_AFTER_WINDOW: {
            char *end;
            unsigned long n = strtoul(optarg, &end, 10);
            if (*optarg < '0' || *optarg > '9' || *end || n > 1000)
                return usage_error(cli, "--sent-after-window: not a count: %s", optarg);
            person.sent_after_window = (unsigned)n;
            break;
        }
        case OPT_PURPOSE:
            if (strcmp(optarg, "promotional") == 0)
                req.purpose = LOA_RULES_PROMOTIONAL;
            else if (strcmp(optarg, "non-promotional") == 0 ||
                     strcmp(optarg, "non_promotional") == 0)
                req.purpose = LOA_RULES_NON_PROMOTIONAL;
            else
                return usage_error(cli, "--purpose: promotional or non-promotional, not %s",
                                   optarg);
            break;
        case OPT_STRUCTURED:
            req.structured = true;
            break;
        case OPT_SENDER:
            if (strcmp(optarg, "automation") == 0)
                req.sender = LOA_RULES_AUTOMATION;
            else if (strcmp(optarg, "human") == 0)
                req.sender = LOA_RULES_HUMAN;
            else
                return usage_error(cli, "--sender: automation or human, not %s", optarg);
            break;
        case OPT_ROUTE:
            route = optarg;
            break;
        case OPT_STAFF:
            staff = true;
            break;
        case OPT_TOKEN:
            if (ntokens == MAX_TOKENS)
                return usage_error(cli, "--token: at most 16 tokens");
            token_specs[ntokens++] = optarg;
            break;
        case OPT_JSON:
            json = true;
            break;
        case OPT_RULES:
            rules_path = optarg;
            break;
        case OPT_COUNTRY:
            if (strlen(optarg) != 2 || !isupper((unsigned char)optarg[0]) ||
                !isupper((unsigned char)optarg[1]))
                return usage_error(cli, "--country: two capital letters (VN, GB), not %s", optarg);
            person.country = optarg;
            break;
        case OPT_MARKETING:
            person.marketing.held = true;
            person.marketing.created = 0;
            if (strcmp(optarg, "active") == 0)
                person.marketing.status = LOA_RULES_TOKEN_ACTIVE;
            else if (strcmp(optarg, "stopped") == 0)
                person.marketing.status = LOA_RULES_TOKEN_STOPPED;
            else
                return usage_error(cli, "--marketing: active or stopped, not %s", optarg);
            break;
        case OPT_TEMPLATE: {
            char *comma = strchr(optarg, ',');
            if (comma) {
                if (strcmp(comma + 1, "unapproved") != 0)
                    return usage_error(cli, "--template: NAME or NAME,unapproved, not %s", optarg);
                *comma = '\0'; /* argv strings are writable */
                template_approved = false;
            }
            if (!*optarg)
                return usage_error(cli, "--template: missing name");
            template_id = optarg;
            break;
        }
        case OPT_ACCEPT:
            rc = parse_accept(cli, optarg, &req.accept);
            break;
        case OPT_ROUTES:
            routes = true;
            break;
        default:
            return usage_error(cli, "explain: unknown or incomplete option %s", argv[optind - 1]);
        }
        if (rc)
            return rc;
    }
    if (optind < argc)
        return usage_error(cli, "explain: unexpected argument %s", argv[optind]);
    if (loa_rules_route_parse(route, &req.route))
        return usage_error(cli,
                           "--route: auto, window, human_agent, marketing, tag:NAME, topic:ID or "
                           "utility:TEMPLATE, not %s",
                           route);
    if (template_id && req.route.kind != LOA_RULES_ROUTE_UTILITY) {
        req.route.template_id = template_id;
        req.route.template_approved = template_approved;
    } else if (template_id) {
        req.route.template_approved = template_approved;
    }
    if (!at_given)
        req.at = loa_now_ms();
    if (person.last_interaction == 0)
        person.last_action = LOA_RULES_ACT_NONE;
    for (size_t i = 0; i < ntokens; i++) {
        char *copy = token_specs[i]; /* argv strings are writable */
        if ((rc = parse_token(cli, copy, req.at, &tokens[i])))
            return rc;
    }
    person.tokens = tokens;
    person.token_count = ntokens;

    struct loa_rules *rules = NULL;
    if ((rc = cli_load_rules(cli, "rules", rules_path, &rules)))
        return rc;
    struct loa_rules_decision d;
    struct loa_buf b;
    loa_buf_init(&b, OUT_MAX);
    if (routes) {
        struct loa_rules_routes all;
        rc = loa_rules_routes(rules, &req, 0, &all);
        if (rc == 0) {
            rc = print_buf(cli, &b, format_routes(&all, json, &b));
            if (rc == LOA_EXIT_OK && all.best < 0)
                rc = LOA_EXIT_FAIL;
        }
        loa_buf_release(&b);
        loa_rules_free(rules);
        return rc;
    }
    if (staff)
        rc = loa_rules_staff_reply(rules, &person, req.purpose, req.at, &d, NULL);
    else
        rc = loa_rules_decide(rules, &req, &d);
    if (rc) {
        rc = usage_error(cli, "explain: %s", d.reason);
    } else {
        rc = print_buf(cli, &b, loa_rules_format_decision(&d, json, &b));
        if (rc == LOA_EXIT_OK && !d.allowed)
            rc = LOA_EXIT_FAIL;
    }
    loa_buf_release(&b);
    loa_rules_free(rules);
    return rc;
}

static int cmd_list(struct loa_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        { "at", required_argument, NULL, OPT_AT }, { "all", no_argument, NULL, OPT_ALL },
        { "json", no_argument, NULL, OPT_JSON },   { "rules", required_argument, NULL, OPT_RULES },
        { "help", no_argument, NULL, 'h' },        { NULL, 0, NULL, 0 },
    };
    const char *rules_path = NULL;
    bool json = false, all = false;
    int64_t at = loa_now_ms();
    int c, rc;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            fputs(usage_list, cli->out);
            return LOA_EXIT_OK;
        case OPT_AT:
            if ((rc = parse_time_arg(cli, "--at", optarg, &at)))
                return rc;
            break;
        case OPT_ALL:
            all = true;
            break;
        case OPT_JSON:
            json = true;
            break;
        case OPT_RULES:
            rules_path = optarg;
            break;
        default:
            return usage_error(cli, "list: unknown or incomplete option %s", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error(cli, "list: unexpected argument %s", argv[optind]);
    struct loa_rules *rules = NULL;
    if ((rc = cli_load_rules(cli, "rules", rules_path, &rules)))
        return rc;
    struct loa_buf b;
    loa_buf_init(&b, OUT_MAX);
    rc = loa_rules_format_list(rules, at, all, json, &b);
    if (!rc && !json && b.len && b.ptr[b.len - 1] == '\n')
        b.ptr[--b.len] = '\0';
    rc = print_buf(cli, &b, rc);
    loa_buf_release(&b);
    loa_rules_free(rules);
    return rc;
}

static int cmd_check(struct loa_cli *cli, int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(usage_check, cli->out);
        return LOA_EXIT_OK;
    }
    if (argc != 2 || argv[1][0] == '-')
        return usage_error(cli, "check: want exactly one FILE");
    struct loa_rules *rules = NULL;
    int rc = cli_load_rules(cli, "rules", argv[1], &rules);
    if (rc == LOA_EXIT_OK)
        fprintf(cli->out, "%s: ok, %zu rules\n", argv[1], loa_rules_count(rules));
    loa_rules_free(rules);
    return rc;
}

int loa_cmd_rules(struct loa_cli *cli, int argc, char **argv)
{
    if (argc < 2)
        return usage_error(cli, "missing command (explain, list, check)");
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage_main, cli->out);
        return LOA_EXIT_OK;
    }
    if (strcmp(cmd, "explain") == 0)
        return cmd_explain(cli, argc - 1, argv + 1);
    if (strcmp(cmd, "list") == 0)
        return cmd_list(cli, argc - 1, argv + 1);
    if (strcmp(cmd, "check") == 0)
        return cmd_check(cli, argc - 1, argv + 1);
    return usage_error(cli, "unknown command %s (explain, list, check)", cmd);
}
