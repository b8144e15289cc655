/* SPDX-License-Identifier: MIT */
/* Helpers shared by the subcommands of the loa CLI. */
#include "common.h"

#include <errno.h>
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

int cli_usage(struct loa_cli *cli, const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(cli->err, "loa %s: ", cmd);
    vfprintf(cli->err, fmt, ap);
    fprintf(cli->err, "\nTry 'loa %s --help'.\n", cmd);
    va_end(ap);
    return LOA_EXIT_USAGE;
}

bool cli_is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

int cli_help(struct loa_cli *cli, const char *help)
{
    fputs(help, cli->out);
    return LOA_EXIT_OK;
}

int cli_opt_other(struct loa_cli *cli, const char *cmd, int c, const char *help)
{
    if (c == 'h')
        return cli_help(cli, help);
    return cli_usage(cli, cmd, "unknown option");
}

int cli_no_operands(struct loa_cli *cli, const char *cmd, int argc, char **argv)
{
    if (optind != argc)
        return cli_usage(cli, cmd, "unexpected argument '%s'", argv[optind]);
    return LOA_EXIT_OK;
}

int cli_report(struct loa_cli *cli, const struct loa_diags *d, const char *what, int exit)
{
    loa_diags_print(d, cli->err, what);
    return exit;
}

int cli_open_store(struct loa_cli *cli, bool create, struct loa_store **out)
{
    struct loa_store_opts opts = { .path = cli->set->store_path, .create = create };
    *out = NULL;
    struct loa_diags d;
    loa_diags_init(&d, 20);
    int rc = loa_store_key_load(cli->set->store_secret_key, cli->set->store_key_file, opts.path,
                                create, opts.key, &d);
    if (rc == 0)
        rc = loa_store_open(&opts, out, &d);
    int exit = LOA_EXIT_OK;
    if (rc < 0) {
        exit = rc == LOA_ENOENT    ? LOA_EXIT_NOINPUT
               : rc == LOA_ECRYPTO ? LOA_EXIT_CONFIG
                                   : LOA_EXIT_IOERR;
        cli_report(cli, &d, "loa: store", exit);
    }
    loa_diags_release(&d);
    return exit;
}

int cli_find_page(struct loa_cli *cli, struct loa_store *st, const char *page_id,
                  struct loa_page *out)
{
    int rc = loa_store_page_get(st, page_id, out);
    if (rc == LOA_ENOENT) {
        fprintf(cli->err, "loa: no Page with id %s (see `loa page list`)\n", page_id);
        return LOA_EXIT_DATAERR;
    }
    if (rc < 0) {
        fprintf(cli->err, "loa: cannot read Page %s: %s\n", page_id, loa_strerror(rc));
        return LOA_EXIT_IOERR;
    }
    return LOA_EXIT_OK;
}

int cli_open_page(struct loa_cli *cli, const char *page_id, struct loa_store **st_out,
                  struct loa_page *page_out)
{
    int exit = cli_open_store(cli, false, st_out);
    if (exit)
        return exit;
    if ((exit = cli_find_page(cli, *st_out, page_id, page_out))) {
        loa_store_close(*st_out);
        *st_out = NULL;
    }
    return exit;
}

bool cli_parse_count(const char *s, int64_t *out)
{
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    long long n = strtoll(s, &end, 10);
    if (errno || *end || n < 0)
        return false;
    *out = n;
    return true;
}

int cli_read_json_text(struct loa_cli *cli, const char *cmd, const char *opt, const char *arg,
                       size_t max, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    if (arg[0] == '{' || arg[0] == '[') {
        *len = strlen(arg);
        *out = loa_strdup(arg);
        return LOA_EXIT_OK;
    }
    FILE *f = strcmp(arg, "-") == 0 ? stdin : fopen(arg, "rb");
    if (!f) {
        fprintf(cli->err, "loa %s: %s %s: %s\n", cmd, opt, arg, strerror(errno));
        return LOA_EXIT_NOINPUT;
    }
    char *buf = loa_malloc(max + 1);
    size_t n = fread(buf, 1, max + 1, f);
    bool failed = ferror(f) != 0;
    if (f != stdin)
        fclose(f);
    if (failed || n > max) {
        loa_free(buf);
        if (failed)
            fprintf(cli->err, "loa %s: %s %s: cannot read\n", cmd, opt, arg);
        else
            fprintf(cli->err, "loa %s: %s %s: more than %zu bytes\n", cmd, opt, arg, max);
        return failed ? LOA_EXIT_NOINPUT : LOA_EXIT_DATAERR;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return LOA_EXIT_OK;
}

int cli_read_secret(struct loa_cli *cli, const char *path, char **out)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f) {
        fprintf(cli->err, "loa: cannot open %s: %s\n", path, strerror(errno));
        return LOA_EXIT_NOINPUT;
    }
    char line[4096];
    bool ok = fgets(line, sizeof(line), f) != NULL;
    if (f != stdin)
        fclose(f);
    size_t n = ok ? strcspn(line, "\r\n") : 0;
    line[n] = '\0';
    if (n == 0) {
        fprintf(cli->err, "loa: %s holds no secret\n", path);
        return LOA_EXIT_DATAERR;
    }
    *out = loa_strdup(line);
    return LOA_EXIT_OK;
}

void cli_progress(struct loa_cli *cli, uint64_t done, uint64_t total, size_t items,
                  const char *unit, int64_t started_mono_ms, bool final)
{
    if (!cli->tty)
        return;
    double secs = (double)(loa_mono_ms() - started_mono_ms) / 1000.0;
    double rate = secs > 0 ? (double)items / secs : 0;
    char bar[31];
    double frac = total ? (double)done / (double)total : 0;
    if (frac > 1)
        frac = 1;
    int fill = (int)(frac * 30);
    for (int i = 0; i < 30; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[30] = '\0';
    if (total)
        fprintf(cli->err, "\r[%s] %3d%%  %zu %s  %.0f %s/s", bar, (int)(frac * 100), items, unit,
                rate, unit);
    else
        fprintf(cli->err, "\r%zu %s  %.0f %s/s", items, unit, rate, unit);
    if (total && !final && frac > 0.01) {
        double eta = secs / frac - secs;
        fprintf(cli->err, "  ETA %.0fs ", eta);
    }
    fputs(final ? "\n" : "   ", cli->err);
    fflush(cli->err);
}

#ifdef LOA_HAVE_RULES
int cli_load_rules(struct loa_cli *cli, const char *cmd, const char *path, struct loa_rules **out)
{
    *out = NULL;
    if ((!path || !*path) && cli->config)
        path = cli->set->rules_file;
    if (!path || !*path) {
        fprintf(cli->err, "loa %s: no rules file: pass --rules FILE or set rules.file\n", cmd);
        return LOA_EXIT_USAGE;
    }
    struct loa_diags d;
    loa_diags_init(&d, 100);
    int rc = loa_rules_load(path, out, &d);
    loa_diags_print(&d, cli->err, path);
    if (d.dropped)
        fprintf(cli->err, "%s: %zu more problems not shown\n", path, d.dropped);
    loa_diags_release(&d);
    if (rc == LOA_ENOENT || rc == LOA_EIO)
        return LOA_EXIT_NOINPUT;
    return rc ? LOA_EXIT_DATAERR : LOA_EXIT_OK;
}
#endif /* LOA_HAVE_RULES */
