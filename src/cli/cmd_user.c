/* SPDX-License-Identifier: MIT */
/*
 * loa user add|passwd|list|remove: the web console's users. Passwords are read from the
 * terminal (asked twice, not echoed) or from the first line of stdin, never from the command
 * line, and stored as Argon2id hashes (libsodium crypto_pwhash_str); --generate-password makes
 * a random one and prints it once.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include <loa/alloc.h>
#include <loa/clock.h>
#include <loa/err.h>
#include <loa/store.h>

#include "common.h"

#define PW_MIN    10
#define PW_MAX    1024
#define LOGIN_MAX 64
#define MAX_PAGES 256

static const char user_help[] =
    "usage: loa user add LOGIN --role owner|admin|staff [--page PAGE_ID]... "
    "[--generate-password]\n"
    "       loa user passwd LOGIN [--generate-password]\n"
    "       loa user list\n"
    "       loa user remove LOGIN\n\n"
    "Users of the web console (served by `loa serve` at /). Roles: owner and admin see every\n"
    "Page; staff only the Pages given with --page (one or more; required for staff) and never\n"
    "tokens, app secrets or API keys. The password is asked twice on a terminal, or read from\n"
    "the first line of stdin (`printf '%%s\\n' \"$PW\" | loa user add ...`); never from the\n"
    "command line. It needs 10 to 1024 bytes. --generate-password makes a random one and prints\n"
    "it once on stdout. A new password ends every session of the user.\n";

/* Reads one line into buf without its newline; false at end of input. */
static bool read_line(FILE *in, char *buf, size_t size)
{
    if (!fgets(buf, (int)size, in))
        return false;
    buf[strcspn(buf, "\r\n")] = '\0';
    return true;
}

static bool prompt(struct loa_cli *cli, const char *what, char *buf, size_t size)
{
    struct termios old, quiet;
    bool tty = tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        quiet = old;
        quiet.c_lflag &= (tcflag_t)~ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    fprintf(cli->err, "%s", what);
    fflush(cli->err);
    bool ok = read_line(stdin, buf, size);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fprintf(cli->err, "\n");
    }
    return ok;
}

/* The new password into pw (PW_MAX + 2 bytes): generated, asked twice, or read from stdin. */
static int get_password(struct loa_cli *cli, bool generate, char *pw, size_t size)
{
    if (generate) {
        unsigned char raw[15];
        randombytes_buf(raw, sizeof(raw));
        sodium_bin2base64(pw, size, raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        sodium_memzero(raw, sizeof(raw));
        return 0;
    }
    if (isatty(STDIN_FILENO)) {
        char again[PW_MAX + 2];
        if (!prompt(cli, "password: ", pw, size) || !prompt(cli, "again: ", again, sizeof(again)))
            return cli_usage(cli, "user", "no password given");
        bool same = strcmp(pw, again) == 0;
        sodium_memzero(again, sizeof(again));
        if (!same)
            return cli_usage(cli, "user", "password: the two entries differ");
    } else if (!read_line(stdin, pw, size)) {
        return cli_usage(cli, "user",
                         "password: stdin is empty (give the password as its first "
                         "line, or run on a terminal to be asked)");
    }
    size_t n = strlen(pw);
    if (n < PW_MIN || n > PW_MAX)
        return cli_usage(cli, "user", "password: %zu bytes; it needs %d to %d", n, PW_MIN, PW_MAX);
    return 0;
}

static int print_user(const struct loa_user *u, void *ud)
{
    struct loa_cli *cli = ud;
    char created[40];
    loa_time_format(u->created_at, created, sizeof(created));
    fprintf(cli->out, "%-24s %-6s created=%s pages=", u->login, loa_user_role_name(u->role),
            created);
    if (u->role != LOA_USER_STAFF)
        fprintf(cli->out, "all");
    for (size_t i = 0; i < u->npages; i++)
        fprintf(cli->out, "%s%s", i ? "," : "", u->pages[i]);
    fprintf(cli->out, "\n");
    return 0;
}

static bool login_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > LOGIN_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
            return false;
    return true;
}

/* Checks the --page ids exist; the exit code (LOA_EXIT_OK when they all do). */
static int pages_exist(struct loa_cli *cli, struct loa_store *st, char **pages, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct loa_page p;
        int rc = loa_store_page_get(st, pages[i], &p);
        if (rc == LOA_ENOENT) {
            fprintf(cli->err, "loa user: --page %s: no such Page (see `loa page list`)\n",
                    pages[i]);
            return LOA_EXIT_DATAERR;
        }
        if (rc < 0) {
            fprintf(cli->err, "loa user: reading Page %s: %s\n", pages[i], loa_strerror(rc));
            return LOA_EXIT_IOERR;
        }
        loa_page_release(&p);
    }
    return LOA_EXIT_OK;
}

static int write_user(struct loa_cli *cli, struct loa_store *st, const char *sub, const char *login,
                      enum loa_user_role role, const char *hash, char **pages, size_t npages)
{
    struct loa_txn *tx;
    int rc = loa_store_begin(st, &tx);
    int64_t now = loa_now_ms();
    if (rc == 0 && strcmp(sub, "add") == 0)
        rc = loa_store_end(tx, loa_store_user_add(tx, login, role, hash, (const char *const *)pages,
                                                  npages, now, NULL));
    else if (rc == 0 && strcmp(sub, "passwd") == 0)
        rc = loa_store_end(tx, loa_store_user_set_password(tx, login, hash, now));
    else if (rc == 0) {
        rc = loa_store_user_remove(tx, login);
        if (rc == 0)
            rc = loa_store_signin_clear(tx, login);
        rc = loa_store_end(tx, rc);
    }
    if (rc == LOA_EEXIST) {
        fprintf(cli->err, "loa user: %s: the login is taken (see `loa user list`)\n", login);
        return LOA_EXIT_DATAERR;
    }
    if (rc == LOA_ENOENT) {
        fprintf(cli->err, "loa user: %s: no such user (see `loa user list`)\n", login);
        return LOA_EXIT_DATAERR;
    }
    if (rc < 0) {
        fprintf(cli->err, "loa user %s: %s\n", sub, loa_strerror(rc));
        return rc == LOA_EBUSY ? LOA_EXIT_TEMPFAIL : LOA_EXIT_IOERR;
    }
    return LOA_EXIT_OK;
}

int loa_cmd_user(struct loa_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        { "role", required_argument, NULL, 'r' },
        { "page", required_argument, NULL, 'p' },
        { "generate-password", no_argument, NULL, 'g' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    if (argc < 2)
        return cli_usage(cli, "user", "expected add, passwd, list or remove");
    const char *sub = argv[1];
    if (cli_is_help(sub))
        return cli_help(cli, user_help);
    bool add = strcmp(sub, "add") == 0, passwd = strcmp(sub, "passwd") == 0;
    bool list = strcmp(sub, "list") == 0, remove = strcmp(sub, "remove") == 0;
    if (!add && !passwd && !list && !remove)
        return cli_usage(cli, "user", "unknown subcommand '%s' (add, passwd, list, remove)", sub);
    const char *role_s = NULL;
    char *pages[MAX_PAGES];
    size_t npages = 0;
    bool generate = false;
    argc--;
    argv++;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'r' && add)
            role_s = optarg;
        else if (c == 'p' && add) {
            if (npages == MAX_PAGES)
                return cli_usage(cli, "user", "--page: at most %d Pages", MAX_PAGES);
            pages[npages++] = optarg;
        } else if (c == 'g' && (add || passwd))
            generate = true;
        else if (c == 'r' || c == 'p' || c == 'g')
            return cli_usage(cli, "user", "%s takes no --%s", sub,
                             c == 'r'   ? "role"
                             : c == 'p' ? "page"
                                        : "generate-password");
        else
            return cli_opt_other(cli, "user", c, user_help);
    }
    int nargs = argc - optind;
    if (list ? nargs != 0 : nargs != 1)
        return cli_usage(cli, "user",
                         list ? "list takes no arguments" : "%s takes one LOGIN (got %d arguments)",
                         sub, nargs);
    const char *login = list ? NULL : argv[optind];
    if (login && !login_ok(login))
        return cli_usage(cli, "user", "LOGIN: 1 to %d bytes without spaces or control characters",
                         LOGIN_MAX);
    enum loa_user_role role = LOA_USER_STAFF;
    if (add) {
        if (!role_s)
            return cli_usage(cli, "user", "add needs --role owner, admin or staff");
        if (loa_user_role_parse(role_s, &role) < 0)
            return cli_usage(cli, "user", "--role %s: expected owner, admin or staff", role_s);
        if (role == LOA_USER_STAFF && npages == 0)
            return cli_usage(cli, "user", "--role staff needs at least one --page PAGE_ID");
        if (role != LOA_USER_STAFF && npages)
            return cli_usage(cli, "user", "--page is for staff; %s sees every Page", role_s);
    }
    if (sodium_init() < 0) {
        fprintf(cli->err, "loa user: libsodium cannot start\n");
        return LOA_EXIT_SOFTWARE;
    }
    struct loa_store *st;
    int exit = cli_open_store(cli, false, &st);
    if (exit)
        return exit;
    if (list) {
        int rc = loa_store_user_list(st, print_user, cli);
        loa_store_close(st);
        if (rc < 0) {
            fprintf(cli->err, "loa user list: %s\n", loa_strerror(rc));
            return LOA_EXIT_IOERR;
        }
        return LOA_EXIT_OK;
    }
    char pw[PW_MAX + 2] = "", hash[crypto_pwhash_STRBYTES];
    exit = add ? pages_exist(cli, st, pages, npages) : LOA_EXIT_OK;
    if (!exit && (add || passwd))
        exit = get_password(cli, generate, pw, sizeof(pw));
    if (!exit && (add || passwd) &&
        crypto_pwhash_str(hash, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        fprintf(cli->err, "loa user: not enough memory to hash the password\n");
        exit = LOA_EXIT_SOFTWARE;
    }
    if (!exit)
        exit = write_user(cli, st, sub, login, role, hash, pages, npages);
    if (!exit && generate)
        fprintf(cli->out, "%s\n", pw);
    if (!exit)
        fprintf(cli->err, "loa: %s %s%s\n",
                add      ? "added user"
                : passwd ? "new password for"
                         : "removed user",
                login, add ? (role == LOA_USER_STAFF ? " (staff)" : "") : "");
    sodium_memzero(pw, sizeof(pw));
    sodium_memzero(hash, sizeof(hash));
    loa_store_close(st);
    return exit;
}
