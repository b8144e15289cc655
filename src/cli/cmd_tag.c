/* SPDX-License-Identifier: MIT */
/* loa tag list|add|remove|rename|delete|merge. */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <loa/alloc.h>
#include <loa/clock.h>
#include <loa/config.h>
#include <loa/err.h>
#include <loa/store.h>
#ifdef LOA_HAVE_AUDIENCE
#include <loa/audience.h>
#endif
#ifdef LOA_HAVE_SEQUENCE
#include <loa/rules.h>
#include <loa/sequence.h>
#endif
#include <loa/text.h>
#include <loa/utf8.h>

#include "common.h"

#define MAX_PSIDS 100000

static const char tag_help[] =
    "usage: loa tag list --page PAGE_ID\n"
    "       loa tag add --page PAGE_ID (--psid PSID... | --psids FILE | --filter JSON|@FILE)\n"
    "                   [--dry-run] [--yes] TAG... [--tag TAG...]\n"
    "       loa tag remove --page PAGE_ID (same as add)\n"
    "       loa tag rename --page PAGE_ID OLD NEW\n"
    "       loa tag merge --page PAGE_ID FROM INTO\n"
    "       loa tag delete --page PAGE_ID TAG\n\n"
    "Tags group subscribers for audiences. A tag name is 1 to 64 characters without ',' or\n"
    "';'; tags compare without regard to case and Unicode form (\"VIP\" is \"vip\") and show\n"
    "as first written.\n"
    "add/remove  give or take tags for many people at once: repeat --psid for each person,\n"
    "            or --psids FILE (one PSID a line, '-' = stdin), or --filter (the audience\n"
    "            filter language, docs/audience.md). With --filter the count comes first:\n"
    "            nothing is written without --yes. --dry-run only counts. A TAG made of\n"
    "            digits looks like a PSID given without --psid: name it with --tag to mean\n"
    "            it. Adding a tag starts the sequences it triggers for each person who\n"
    "            newly has it.\n"
    "merge       gives INTO to everyone tagged FROM and deletes FROM (no sequence starts).\n";

static int print_tag(const char *name, int64_t count, void *ud)
{
    struct loa_cli *cli = ud;
    fprintf(cli->out, "%-32s %lld\n", name, (long long)count);
    return 0;
}

static bool tag_name_ok(const char *t)
{
    size_t n = strlen(t);
    return n > 0 && loa_utf8_valid(t, n) && loa_utf8_count(t, n) <= 64 && !strpbrk(t, ",;");
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

struct strs {
    char **v;
    size_t n, cap;
};

static void strs_push(struct strs *a, const char *s)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 16;
        a->v = loa_reallocarray(a->v, a->cap, sizeof(*a->v));
    }
    a->v[a->n++] = loa_text_nfc(s, strlen(s));
}

static void strs_release(struct strs *a)
{
    for (size_t i = 0; i < a->n; i++)
        loa_free(a->v[i]);
    loa_free(a->v);
}

/* Reads PSIDs one a line (blank lines and spaces around ignored). Returns an exit code. */
static int read_psids(struct loa_cli *cli, const char *path, struct strs *out)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f) {
        fprintf(cli->err, "loa tag: --psids %s: cannot open\n", path);
        return LOA_EXIT_NOINPUT;
    }
    char line[256];
    long n = 0;
    int exit = LOA_EXIT_OK;
    while (!exit && fgets(line, sizeof(line), f)) {
        n++;
        char *p = line;
        while (isspace((unsigned char)*p))
            p++;
        size_t len = strlen(p);
        while (len && isspace((unsigned char)p[len - 1]))
            p[--len] = '\0';
        if (!len)
            continue;
        if (!all_digits(p) || len > 32) {
            fprintf(cli->err, "%s:%ld: '%.40s' is not a PSID (digits only, at most 32)\n", path, n,
                    p);
            exit = LOA_EXIT_DATAERR;
        } else if (out->n == MAX_PSIDS) {
            fprintf(cli->err, "%s:%ld: more than %d PSIDs: use --filter\n", path, n, MAX_PSIDS);
            exit = LOA_EXIT_DATAERR;
        } else {
            strs_push(out, p);
        }
    }
    if (f != stdin)
        fclose(f);
    return exit;
}

#ifdef LOA_HAVE_SEQUENCE
/* The tag-added rule: sequences that start when a person gets this tag. */
static int tag_added(struct loa_txn *tx, int64_t page_ref, int64_t subscriber_id, const char *tag,
                     void *ud)
{
    return loa_sequence_on_event(tx, ud, page_ref, subscriber_id, LOA_SEQ_EVENT_TAG, tag,
                                 loa_now_ms());
}
#endif

#ifdef LOA_HAVE_AUDIENCE
struct bulk {
    bool remove, dry_run, yes;
    struct strs psids;
    const char *filter_arg;
};

/* add/remove for the people of b: one transaction for every tag. Returns an exit code. */
static int bulk(struct loa_cli *cli, struct loa_store *st, const struct loa_page *page,
                struct bulk *b, struct strs *tags)
{
    const char *verb = b->remove ? "remove" : "add";
    struct loa_audience_node *filter = NULL;
    struct loa_diags d;
    loa_diags_init(&d, 20);
    int exit = LOA_EXIT_OK;
    if (b->filter_arg) {
        char *text;
        size_t len;
        const char *arg = b->filter_arg[0] == '@' ? b->filter_arg + 1 : b->filter_arg;
        exit = cli_read_json_text(cli, "tag", "--filter", arg, LOA_AUDIENCE_MAX_BYTES, &text, &len);
        if (exit)
            goto out;
        if (loa_audience_parse(text, len, loa_now_ms(), "filter", &filter, &d) < 0) {
            loa_free(text);
            exit = cli_report(cli, &d, "loa tag: --filter", LOA_EXIT_DATAERR);
            goto out;
        }
        loa_free(text);
    }
#ifdef LOA_HAVE_SEQUENCE
    struct loa_sequence_opts so;
    struct loa_rules *rules = NULL;
    if (!b->remove && loa_rules_load(cli->set->rules_file, &rules, NULL) < 0)
        rules = NULL;
    loa_sequence_opts_from(&so, cli->set, rules);
#endif
    /* With a filter the count comes first: nothing is written without --yes. */
    bool write = !b->dry_run && (!filter || b->yes);
    struct loa_txn *tx = NULL;
    int rc = loa_store_begin(st, &tx);
    for (size_t i = 0; rc == 0 && i < tags->n; i++) {
        struct loa_audience_tagging t = {
            .tag = tags->v[i],
            .remove = b->remove,
            .psids = (const char *const *)b->psids.v,
            .npsids = b->psids.n,
            .filter = filter,
            .dry_run = !write,
        };
#ifdef LOA_HAVE_SEQUENCE
        t.on_added = tag_added;
        t.ud = &so;
#endif
        struct loa_audience_tag_report rep;
        rc = loa_audience_tag_tx(tx, page->id, &t, &rep, &d);
        if (rc == 0) {
            const char *shown = rep.tag ? rep.tag : tags->v[i];
            if (write)
                fprintf(cli->out, "%s '%s': %lld people matched, %lld %s\n", verb, shown,
                        (long long)rep.matched, (long long)rep.changed,
                        b->remove ? "untagged" : "newly tagged");
            else
                fprintf(cli->out, "%s '%s': %lld people match, %lld would be %s%s\n", verb, shown,
                        (long long)rep.matched, (long long)rep.changed,
                        b->remove ? "untagged" : "newly tagged",
                        b->dry_run ? "" : " (nothing written: add --yes to apply)");
        }
        loa_free(rep.tag);
    }
    if (tx)
        rc = write ? loa_store_end(tx, rc) : (loa_store_rollback(tx), rc);
    if (rc == LOA_EINVAL) {
        exit = cli_report(cli, &d, "loa tag", LOA_EXIT_DATAERR);
        fprintf(cli->err, "loa tag %s: nothing written\n", verb);
    } else if (rc < 0) {
        fprintf(cli->err, "loa tag %s: %s\n", verb, loa_strerror(rc));
        exit = LOA_EXIT_IOERR;
    }
#ifdef LOA_HAVE_SEQUENCE
    loa_rules_free(rules);
#endif
out:
    loa_audience_free(filter);
    loa_diags_release(&d);
    return exit;
}
#endif

int loa_cmd_tag(struct loa_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        { "page", required_argument, NULL, 'p' },
        { "psid", required_argument, NULL, 's' },
        { "psids", required_argument, NULL, 'S' },
        { "filter", required_argument, NULL, 'f' },
        { "tag", required_argument, NULL, 't' },
        { "dry-run", no_argument, NULL, 'n' },
        { "yes", no_argument, NULL, 'y' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    if (argc < 2)
        return cli_usage(cli, "tag", "expected list, add, remove, rename, merge or delete");
    const char *sub = argv[1];
    if (cli_is_help(sub))
        return cli_help(cli, tag_help);
    static const char *const subs[] = { "list", "add", "remove", "rename", "delete", "merge" };
    int which = -1;
    for (int i = 0; i < (int)(sizeof(subs) / sizeof(subs[0])); i++)
        if (strcmp(sub, subs[i]) == 0)
            which = i;
    if (which < 0)
        return cli_usage(cli, "tag", "unknown subcommand '%s'", sub);
    const char *page_id = NULL, *psids_file = NULL, *filter_arg = NULL;
    struct strs psids = { 0 }, tags = { 0 };
    bool dry_run = false, yes = false;
    argc--;
    argv++;
    optind = 1;
    int c, exit = LOA_EXIT_OK;
    while (!exit && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'p')
            page_id = optarg;
        else if (c == 's')
            strs_push(&psids, optarg);
        else if (c == 'S')
            psids_file = optarg;
        else if (c == 'f')
            filter_arg = optarg;
        else if (c == 't')
            strs_push(&tags, optarg);
        else if (c == 'n')
            dry_run = true;
        else if (c == 'y')
            yes = true;
        else
            exit = cli_opt_other(cli, "tag", c, tag_help);
    }
    int nargs = argc - optind;
    char **args = argv + optind;
    bool many = which == 1 || which == 2;
    if (exit)
        goto out;
    if (!page_id) {
        exit = cli_usage(cli, "tag", "--page is required");
        goto out;
    }
    if (!many && (psids.n || psids_file || filter_arg || tags.n || dry_run || yes)) {
        exit = cli_usage(cli, "tag",
                         "%s takes no --psid, --psids, --filter, --tag, --dry-run "
                         "or --yes",
                         sub);
        goto out;
    }
    if ((which == 0 && nargs != 0) || ((which == 3 || which == 5) && nargs != 2) ||
        (which == 4 && nargs != 1)) {
        exit = cli_usage(cli, "tag", "wrong number of arguments for %s", sub);
        goto out;
    }
    if (many) {
        int sources = (psids.n > 0) + (psids_file != NULL) + (filter_arg != NULL);
        if (sources != 1) {
            exit = cli_usage(cli, "tag",
                             "%s needs who: --psid (once per person), --psids FILE "
                             "or --filter, one of them",
                             sub);
            goto out;
        }
        /* "--psid 1 2 vip": the second PSID would silently become a tag. */
        for (int i = 0; i < nargs; i++) {
            if (all_digits(args[i])) {
                exit = cli_usage(cli, "tag",
                                 "'%s' looks like a PSID, not a tag: give each person with its "
                                 "own --psid (--psid %s), or write --tag %s for a tag made of "
                                 "digits",
                                 args[i], args[i], args[i]);
                goto out;
            }
            strs_push(&tags, args[i]);
        }
        if (tags.n == 0) {
            exit = cli_usage(cli, "tag", "%s needs at least one TAG", sub);
            goto out;
        }
        if (psids_file && (exit = read_psids(cli, psids_file, &psids)))
            goto out;
    } else {
        for (int i = 0; i < nargs; i++)
            strs_push(&tags, args[i]);
    }
    for (size_t i = 0; i < tags.n; i++) {
        if (!tag_name_ok(tags.v[i])) {
            exit = cli_usage(cli, "tag", "'%s' is not a tag name (1-64 characters, no , or ;)",
                             tags.v[i]);
            goto out;
        }
    }

    struct loa_store *st;
    struct loa_page page;
    if ((exit = cli_open_page(cli, page_id, &st, &page)))
        goto out;
    if (many) {
#ifdef LOA_HAVE_AUDIENCE
        struct bulk b = { .remove = which == 2,
                          .dry_run = dry_run,
                          .yes = yes,
                          .psids = psids,
                          .filter_arg = filter_arg };
        exit = bulk(cli, st, &page, &b, &tags);
#else
        fprintf(cli->err, "loa tag %s: this loa was built without audiences\n", sub);
        exit = LOA_EXIT_SOFTWARE;
#endif
        loa_page_release(&page);
        loa_store_close(st);
        goto out;
    }
    struct loa_txn *tx = NULL; /* changes are one transaction */
    int rc = which == 0 ? 0 : loa_store_begin(st, &tx);
    int64_t moved = 0;
    switch (rc < 0 ? -1 : which) {
    case 0:
        rc = loa_store_tag_list(st, page.id, print_tag, cli);
        break;
    case 3:
        rc = loa_store_tag_rename(tx, page.id, tags.v[0], tags.v[1]);
        if (rc == LOA_EEXIST || rc == LOA_ENOENT) {
            fprintf(cli->err, "loa tag rename: %s\n",
                    rc == LOA_EEXIST ? "a tag with the new name exists (merge them with loa tag "
                                       "merge)"
                                     : "no such tag");
            exit = LOA_EXIT_DATAERR;
            rc = 0;
        }
        break;
    case 4:
        rc = loa_store_tag_delete(tx, page.id, tags.v[0]);
        if (rc == LOA_ENOENT) {
            fprintf(cli->err, "loa tag delete: no tag '%s'\n", tags.v[0]);
            exit = LOA_EXIT_DATAERR;
            rc = 0;
        }
        break;
    case 5: {
        int64_t id;
        for (int i = 0; i < 2 && rc == 0; i++) {
            if (loa_store_tag_find(st, page.id, tags.v[i], &id, NULL) == LOA_ENOENT) {
                fprintf(cli->err, "loa tag merge: no tag '%s' on Page %s\n", tags.v[i], page_id);
                exit = LOA_EXIT_DATAERR;
                break;
            }
        }
        if (exit)
            break;
        rc = loa_store_tag_merge(tx, page.id, tags.v[0], tags.v[1], &moved);
        if (rc == LOA_EINVAL) {
            fprintf(cli->err, "loa tag merge: '%s' and '%s' are the same tag\n", tags.v[0],
                    tags.v[1]);
            exit = LOA_EXIT_DATAERR;
            rc = 0;
        }
        break;
    }
    }
    if (tx) { /* a refusal above (exit set) rolls back */
        int erc = loa_store_end(tx, exit ? LOA_EINVAL : rc);
        if (!exit)
            rc = erc;
    }
    if (rc < 0) {
        fprintf(cli->err, "loa tag %s: %s\n", sub, loa_strerror(rc));
        exit = LOA_EXIT_IOERR;
    } else if (!exit && which == 5) {
        fprintf(cli->out, "merged '%s' into '%s': %lld people newly tagged '%s'\n", tags.v[0],
                tags.v[1], (long long)moved, tags.v[1]);
    } else if (!exit && which != 0) {
        fprintf(cli->out, "ok\n");
    }
    loa_page_release(&page);
    loa_store_close(st);
out:
    strs_release(&psids);
    strs_release(&tags);
    return exit;
}
