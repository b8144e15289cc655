/* SPDX-License-Identifier: MIT */
/*
 * Configuration values from four sources with a fixed precedence: flag > environment > file >
 * default. Values are validated when set, so a running loa never holds a bad one.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>

#include <loa/alloc.h>
#include <loa/config.h>
#include <loa/err.h>
#include <loa/log.h>

#include "config_int.h"

struct loa_config_value {
    char *value; /* owned; NULL = default */
    enum loa_config_source source;
};

struct loa_config {
    struct loa_config_value *values; /* parallel to loa_options */
    struct loa_settings settings;    /* typed copy of the effective values */
};

static const char *const source_names[] = { "default", "file", "env", "flag" };

static ssize_t find_option(const char *key)
{
    for (size_t i = 0; i < loa_options_count; i++)
        if (strcmp(loa_options[i].key, key) == 0)
            return (ssize_t)i;
    return -1;
}

static void refresh_settings(struct loa_config *c);

struct loa_config *loa_config_new(void)
{
    struct loa_config *c = loa_malloc(sizeof(*c));
    c->values = loa_calloc(loa_options_count, sizeof(*c->values));
    refresh_settings(c);
    return c;
}

void loa_config_free(struct loa_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < loa_options_count; i++)
        loa_free(c->values[i].value);
    loa_free(c->values);
    loa_free(c);
}

static bool parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = { "1", "true", "yes", "on" };
    static const char *const no[] = { "0", "false", "no", "off" };
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

static bool parse_int(const char *v, int64_t *out)
{
    if (!*v)
        return false;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || *end)
        return false;
    *out = n;
    return true;
}

static bool timezone_exists(const char *tz)
{
    /* An IANA name: letters, digits, '/', '_', '-', '+'; no "..", no leading '/'. */
    if (!*tz || tz[0] == '/' || strstr(tz, ".."))
        return false;
    for (const char *p = tz; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("/_-+", *p))
            return false;
    char path[512];
    snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", tz);
    return access(path, R_OK) == 0;
}

/* Validates value for option o; on failure adds a complaint and returns false. */
static bool validate(const struct loa_option *o, const char *value, struct loa_diags *diags,
                     long line)
{
    int64_t n;
    bool b;
    enum loa_log_level lvl;
    switch (o->type) {
    case LOA_OPT_STRING:
    case LOA_OPT_SECRET:
        if (strcmp(o->key, "store.secret_key") == 0 && *value) {
            size_t len = strlen(value);
            bool hex = len == 64;
            for (size_t i = 0; hex && i < len; i++)
                hex = isxdigit((unsigned char)value[i]) != 0;
            if (!hex) {
                loa_diags_add(diags, line, 0, o->key, "must be 64 hexadecimal digits (32 bytes)");
                return false;
            }
        }
        return true;
    case LOA_OPT_INT:
        if (!parse_int(value, &n)) {
            loa_diags_add(diags, line, 0, o->key, "'%s' is not a whole number", value);
            return false;
        }
        if (n < o->min || n > o->max) {
            loa_diags_add(diags, line, 0, o->key, "%lld is out of range [%lld, %lld]", (long long)n,
                          (long long)o->min, (long long)o->max);
            return false;
        }
        return true;
    case LOA_OPT_BOOL:
        if (!parse_bool(value, &b)) {
            loa_diags_add(diags, line, 0, o->key, "'%s' is not true or false", value);
            return false;
        }
        return true;
    case LOA_OPT_LEVEL:
        if (loa_log_parse_level(value, &lvl) < 0) {
            loa_diags_add(diags, line, 0, o->key, "'%s' is not one of error, warn, info, debug",
                          value);
            return false;
        }
        return true;
    case LOA_OPT_URL:
        if (strncmp(value, "http://", 7) != 0 && strncmp(value, "https://", 8) != 0) {
            loa_diags_add(diags, line, 0, o->key, "'%s' is not an http:// or https:// URL", value);
            return false;
        }
        return true;
    case LOA_OPT_REGION:
        if (strlen(value) != 2 || !isupper((unsigned char)value[0]) ||
            !isupper((unsigned char)value[1])) {
            loa_diags_add(diags, line, 0, o->key, "'%s' is not a two-letter region code such as VN",
                          value);
            return false;
        }
        return true;
    case LOA_OPT_TIMEZONE:
        if (!timezone_exists(value)) {
            loa_diags_add(diags, line, 0, o->key, "'%s' is not a known IANA time zone", value);
            return false;
        }
        return true;
    }
    return false;
}

static int set_at(struct loa_config *c, const char *key, const char *value,
                  enum loa_config_source src, struct loa_diags *diags, long line)
{
    ssize_t i = find_option(key);
    if (i < 0) {
        loa_diags_add(diags, line, 0, key, "unknown option");
        return LOA_ENOENT;
    }
    const struct loa_option *o = &loa_options[i];
    if (!validate(o, value, diags, line))
        return LOA_EINVAL;
    struct loa_config_value *v = &c->values[i];
    if (v->value && v->source > src)
        return 0;
    loa_free(v->value);
    v->value = loa_strdup(value);
    v->source = src;
    refresh_settings(c);
    return 0;
}

int loa_config_set(struct loa_config *c, const char *key, const char *value,
                   enum loa_config_source src, struct loa_diags *diags)
{
    return set_at(c, key, value, src, diags, 0);
}

/* inih calls the reader once per line, so counting lines there gives the handler its line. */
struct ini_ctx {
    FILE *f;
    long line;
    struct loa_config *c;
    struct loa_diags *diags;
    int rc;
};

static char *line_reader(char *str, int num, void *stream)
{
    struct ini_ctx *ctx = stream;
    char *r = fgets(str, num, ctx->f);
    if (r)
        ctx->line++;
    return r;
}

static int on_entry(void *user, const char *section, const char *name, const char *value)
{
    struct ini_ctx *ctx = user;
    char key[256];
    if (section && *section)
        snprintf(key, sizeof(key), "%s.%s", section, name);
    else
        snprintf(key, sizeof(key), "%s", name);
    int rc = set_at(ctx->c, key, value, LOA_CONFIG_FILE, ctx->diags, ctx->line);
    if (rc < 0)
        ctx->rc = LOA_ECONFIG;
    return 1; /* keep going: report every bad line */
}

int loa_config_load_file(struct loa_config *c, const char *path, struct loa_diags *diags)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        loa_diags_add(diags, 0, 0, path, "cannot open config file: %s", strerror(errno));
        return LOA_ENOENT;
    }
    struct ini_ctx ctx = { .f = f, .line = 0, .c = c, .diags = diags, .rc = 0 };
    int bad = ini_parse_stream(line_reader, &ctx, on_entry, &ctx);
    fclose(f);
    if (bad > 0) {
        loa_diags_add(diags, bad, 0, path, "syntax error: expected [section] or key = value");
        return LOA_ECONFIG;
    }
    if (bad < 0) {
        loa_diags_add(diags, 0, 0, path, "cannot read config file");
        return LOA_ECONFIG;
    }
    return ctx.rc;
}

int loa_config_load_env(struct loa_config *c, struct loa_diags *diags)
{
    int rc = 0;
    for (size_t i = 0; i < loa_options_count; i++) {
        const char *v = getenv(loa_options[i].env);
        if (v && set_at(c, loa_options[i].key, v, LOA_CONFIG_ENV, diags, 0) < 0)
            rc = LOA_ECONFIG;
    }
    return rc;
}

int loa_config_take_flags(struct loa_config *c, int *argc, char **argv,
                          const char **config_file_out, struct loa_diags *diags)
{
    int rc = 0, out = 1;
    *config_file_out = NULL;
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            while (i < *argc)
                argv[out++] = argv[i++];
            break;
        }
        const struct loa_option *o = NULL;
        const char *value = NULL;
        bool is_config = false;
        size_t namelen = 0;
        if (strncmp(a, "--", 2) == 0) {
            const char *eq = strchr(a + 2, '=');
            namelen = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
            if (namelen == 6 && strncmp(a + 2, "config", 6) == 0) {
                is_config = true;
            } else {
                for (size_t k = 0; k < loa_options_count; k++) {
                    const char *fl = loa_options[k].flag;
                    if (fl && strlen(fl) == namelen && strncmp(a + 2, fl, namelen) == 0) {
                        o = &loa_options[k];
                        break;
                    }
                }
            }
            if (o || is_config) {
                if (eq) {
                    value = eq + 1;
                } else if (i + 1 < *argc) {
                    value = argv[++i];
                } else {
                    loa_diags_add(diags, 0, 0, a, "needs a value");
                    rc = LOA_EINVAL;
                    continue;
                }
            }
        }
        if (is_config) {
            *config_file_out = value;
        } else if (o) {
            if (set_at(c, o->key, value, LOA_CONFIG_FLAG, diags, 0) < 0)
                rc = LOA_EINVAL;
        } else {
            argv[out++] = argv[i];
        }
    }
    *argc = out;
    argv[out] = NULL;
    return rc;
}

static const char *value_of(const struct loa_config *c, size_t i)
{
    return c->values[i].value ? c->values[i].value : loa_options[i].def;
}

static int64_t int_of(const struct loa_config *c, size_t i)
{
    int64_t n = 0;
    parse_int(value_of(c, i), &n);
    return n;
}

static bool bool_of(const struct loa_config *c, size_t i)
{
    bool b = false;
    parse_bool(value_of(c, i), &b);
    return b;
}

const char *loa_config_get(const struct loa_config *c, const char *key)
{
    ssize_t i = find_option(key);
    return i < 0 ? "" : value_of(c, (size_t)i);
}

int64_t loa_config_get_int(const struct loa_config *c, const char *key)
{
    ssize_t i = find_option(key);
    return i < 0 ? 0 : int_of(c, (size_t)i);
}

bool loa_config_get_bool(const struct loa_config *c, const char *key)
{
    ssize_t i = find_option(key);
    return i >= 0 && bool_of(c, (size_t)i);
}

/* The typed reader of each option type. */
#define READ_STRING   value_of
#define READ_SECRET   value_of
#define READ_LEVEL    value_of
#define READ_URL      value_of
#define READ_REGION   value_of
#define READ_TIMEZONE value_of
#define READ_INT      int_of
#define READ_BOOL     bool_of

static void refresh_settings(struct loa_config *c)
{
#define READ_SETTING(field, key, flag, env, type, ...) \
    c->settings.field = READ_##type(c, LOA_OPTION_##field);
    LOA_CONFIG_OPTIONS(READ_SETTING)
#undef READ_SETTING
}

const struct loa_settings *loa_config_settings(const struct loa_config *c)
{
    return &c->settings;
}

enum loa_config_source loa_config_source(const struct loa_config *c, enum loa_option_id id)
{
    return (size_t)id < loa_options_count && c->values[id].value ? c->values[id].source
                                                                 : LOA_CONFIG_DEFAULT;
}

enum loa_config_source loa_config_source_of(const struct loa_config *c, const char *key)
{
    ssize_t i = find_option(key);
    return i < 0 ? LOA_CONFIG_DEFAULT : loa_config_source(c, (enum loa_option_id)i);
}

void loa_config_dump(const struct loa_config *c, FILE *out)
{
    for (size_t i = 0; i < loa_options_count; i++) {
        const struct loa_option *o = &loa_options[i];
        const char *v = value_of(c, i);
        if (o->type == LOA_OPT_SECRET)
            v = *v ? "(set)" : "(not set)";
        enum loa_config_source s = c->values[i].value ? c->values[i].source : LOA_CONFIG_DEFAULT;
        fprintf(out, "%-18s = %-40s # %s\n", o->key, v, source_names[s]);
    }
}

void loa_config_print_options(FILE *out)
{
    for (size_t i = 0; i < loa_options_count; i++) {
        const struct loa_option *o = &loa_options[i];
        char flag[64];
        snprintf(flag, sizeof(flag), "%s%s", o->flag ? "--" : "", o->flag ? o->flag : "");
        fprintf(out, "  %-22s %-22s %s", flag, o->env, o->help);
        if (o->type != LOA_OPT_SECRET && *o->def)
            fprintf(out, " [%s]", o->def);
        fputc('\n', out);
    }
}
