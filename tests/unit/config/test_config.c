/* SPDX-License-Identifier: MIT */
/* Configuration: precedence of flags, environment, file and defaults; precise errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <loa/config.h>
#include <loa/diag.h>
#include <loa/err.h>

#include "testutil.h"

/* argv arrays must be writable (loa_config_take_flags compacts them). */
static char **make_argv(const char *const *words, int n)
{
    char **v = calloc((size_t)n + 1, sizeof(*v));
    for (int i = 0; i < n; i++)
        v[i] = strdup(words[i]);
    return v;
}

static void free_argv(char **v, int n)
{
    for (int i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void defaults(void **state)
{
    (void)state;
    struct loa_config *c = loa_config_new();
    assert_string_equal(loa_config_get(c, "store.path"), "loa.db");
    assert_string_equal(loa_config_get(c, "page.timezone"), "Asia/Ho_Chi_Minh");
    assert_int_equal(loa_config_get_int(c, "page.daily_cap"), 5000);
    assert_string_equal(loa_config_get(c, "graph.url"), "https://graph.facebook.com");
    assert_int_equal(loa_config_source_of(c, "store.path"), LOA_CONFIG_DEFAULT);
    loa_config_free(c);
}

/* The typed settings: one field per option of the table, defaults parsed, sets followed. */
static void typed_settings(void **state)
{
    (void)state;
    struct loa_config *c = loa_config_new();
    const struct loa_settings *s = loa_config_settings(c);
    assert_string_equal(s->store_path, "loa.db");
    assert_int_equal(s->page_daily_cap, 5000);
    assert_int_equal(s->dispatch_concurrency, 64);
    assert_int_equal(s->dispatch_margin_s, 60);
    assert_true(s->store_durable);
    assert_string_equal(s->webhook_app_secret, "");
    assert_int_equal(loa_config_source(c, LOA_OPTION_store_path), LOA_CONFIG_DEFAULT);
    struct loa_diags d;
    loa_diags_init(&d, 0);
    assert_int_equal(loa_config_set(c, "dispatch.concurrency", "8", LOA_CONFIG_ENV, &d), 0);
    assert_int_equal(loa_config_set(c, "store.durable", "off", LOA_CONFIG_FILE, &d), 0);
    assert_int_equal(loa_config_set(c, "store.path", "x.db", LOA_CONFIG_FLAG, &d), 0);
    assert_int_equal(loa_config_set(c, "dispatch.concurrency", "0", LOA_CONFIG_FLAG, &d),
                     LOA_EINVAL);
    assert_int_equal(s->dispatch_concurrency, 8);
    assert_false(s->store_durable);
    assert_string_equal(s->store_path, "x.db");
    assert_int_equal(loa_config_source(c, LOA_OPTION_store_path), LOA_CONFIG_FLAG);
    assert_int_equal(loa_config_source(c, LOA_OPTION_dispatch_concurrency), LOA_CONFIG_ENV);
    /* Every option of the table has its id, in order. */
    assert_int_equal(loa_config_source_of(c, "store.durable"),
                     loa_config_source(c, LOA_OPTION_store_durable));
    loa_diags_release(&d);
    loa_config_free(c);
}

static void precedence_flag_env_file_default(void **state)
{
    (void)state;
    char path[512];
    test_write_file(path, sizeof(path), "cfg.ini",
                    "[store]\npath = from-file.db\n[log]\nlevel = debug\n[phone]\nregion = TH\n");
    struct loa_config *c = loa_config_new();
    struct loa_diags d;
    loa_diags_init(&d, 0);
    /* Sources are applied in any order; precedence decides. */
    const char *words[] = { "loa", "--store", "from-flag.db", "subscribers", "--region=SG" };
    char **orig = make_argv(words, 5), **argv = calloc(6, sizeof(*argv));
    memcpy(argv, orig, 5 * sizeof(*argv));
    int argc = 5;
    const char *cfgfile;
    assert_int_equal(loa_config_take_flags(c, &argc, argv, &cfgfile, &d), 0);
    assert_int_equal(argc, 2);
    assert_string_equal(argv[1], "subscribers");
    assert_null(cfgfile);
    setenv("LOA_STORE", "from-env.db", 1);
    setenv("LOA_LOG_LEVEL", "warn", 1);
    assert_int_equal(loa_config_load_env(c, &d), 0);
    assert_int_equal(loa_config_load_file(c, path, &d), 0);
    assert_true(loa_diags_empty(&d));
    assert_string_equal(loa_config_get(c, "store.path"), "from-flag.db");
    assert_int_equal(loa_config_source_of(c, "store.path"), LOA_CONFIG_FLAG);
    assert_string_equal(loa_config_get(c, "log.level"), "warn"); /* env beats file */
    assert_int_equal(loa_config_source_of(c, "log.level"), LOA_CONFIG_ENV);
    assert_string_equal(loa_config_get(c, "phone.region"), "SG"); /* flag beats file */
    unsetenv("LOA_STORE");
    unsetenv("LOA_LOG_LEVEL");
    free_argv(orig, 5);
    free(argv);
    loa_diags_release(&d);
    loa_config_free(c);
    unlink(path);
}

static void file_errors_name_line_and_key(void **state)
{
    (void)state;
    char path[512];
    test_write_file(path, sizeof(path), "bad.ini",
                    "# comment\n[page]\ndaily_cap = lots\ntimezone = Mars/Base\n"
                    "[nope]\nkey = 1\n[log]\nlevel = loud\n");
    struct loa_config *c = loa_config_new();
    struct loa_diags d;
    loa_diags_init(&d, 0);
    assert_int_equal(loa_config_load_file(c, path, &d), LOA_ECONFIG);
    assert_int_equal(d.count, 4);
    assert_int_equal(d.items[0].line, 3);
    assert_string_equal(d.items[0].where, "page.daily_cap");
    assert_string_equal(d.items[0].reason, "'lots' is not a whole number");
    assert_int_equal(d.items[1].line, 4);
    assert_string_equal(d.items[1].where, "page.timezone");
    assert_int_equal(d.items[2].line, 6);
    assert_string_equal(d.items[2].where, "nope.key");
    assert_string_equal(d.items[2].reason, "unknown option");
    assert_int_equal(d.items[3].line, 8);
    /* Bad values never replace good ones. */
    assert_int_equal(loa_config_get_int(c, "page.daily_cap"), 5000);
    loa_diags_release(&d);
    loa_config_free(c);
    unlink(path);
}

static void bad_flag_values_and_missing_value(void **state)
{
    (void)state;
    struct loa_config *c = loa_config_new();
    struct loa_diags d;
    loa_diags_init(&d, 0);
    const char *words[] = {
        "loa", "--default-daily-cap", "0", "--graph-url", "ftp://x", "--store"
    };
    char **orig = make_argv(words, 6), **argv = calloc(7, sizeof(*argv));
    memcpy(argv, orig, 6 * sizeof(*argv));
    int argc = 6;
    const char *cfgfile;
    assert_int_equal(loa_config_take_flags(c, &argc, argv, &cfgfile, &d), LOA_EINVAL);
    assert_int_equal(d.count, 3);
    assert_string_equal(d.items[0].where, "page.daily_cap");
    assert_string_equal(d.items[0].reason, "0 is out of range [1, 100000000]");
    assert_string_equal(d.items[1].where, "graph.url");
    assert_string_equal(d.items[2].where, "--store");
    assert_string_equal(d.items[2].reason, "needs a value");
    free_argv(orig, 6);
    free(argv);
    loa_diags_release(&d);
    loa_config_free(c);
}

static void secret_key_validated_and_hidden(void **state)
{
    (void)state;
    struct loa_config *c = loa_config_new();
    struct loa_diags d;
    loa_diags_init(&d, 0);
    assert_int_equal(loa_config_set(c, "store.secret_key", "abc", LOA_CONFIG_ENV, &d), LOA_EINVAL);
    const char *key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    assert_int_equal(loa_config_set(c, "store.secret_key", key, LOA_CONFIG_ENV, &d), 0);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    loa_config_dump(c, f);
    fclose(f);
    assert_null(strstr(buf, key));
    assert_non_null(strstr(buf, "(set)"));
    free(buf);
    loa_diags_release(&d);
    loa_config_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults),
        cmocka_unit_test(typed_settings),
        cmocka_unit_test(precedence_flag_env_file_default),
        cmocka_unit_test(file_errors_name_line_and_key),
        cmocka_unit_test(bad_flag_values_and_missing_value),
        cmocka_unit_test(secret_key_validated_and_hidden),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
