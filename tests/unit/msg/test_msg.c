/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for parsing and validating composed messages, the queries other modules use, and
 * the checks of wait_reply answers. Every complaint's JSON path is asserted.
 */
#include "test_msg.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <loa/alloc.h>
#include <loa/diag.h>
#include <loa/err.h>
#include <loa/limits.h>
#include <loa/msg.h>

#define E(w, r)                     \
    {                               \
        .where = (w), .reason = (r) \
    }

/* Asserts that block (a JSON object) alone makes a valid message, and frees it. */
static void block_ok(const char *block)
{
    char *json = one_block(block);
    loa_msg_free(parse_ok(json));
    loa_free(json);
}

/* ---- valid messages and queries --------------------------------------------------------- */

static void text_block_is_text_only(void **state)
{
    (void)state;
    struct loa_msg *m = parse_ok("{\"blocks\":[{\"type\":\"text\",\"text\":\"Chào bạn! 😀\"}]}");
    assert_int_equal(loa_msg_block_count(m), 1);
    assert_int_equal(loa_msg_sendable_count(m), 1);
    assert_int_equal(loa_msg_sendable_type(m, 0), LOA_MSG_TEXT);
    assert_true(loa_msg_is_text_only(m));
    assert_false(loa_msg_is_structured(m));
    assert_int_equal(loa_msg_var_count(m), 0);
    assert_null(loa_msg_var_name(m, 0));
    struct loa_msg_wait w;
    assert_int_equal(loa_msg_get_wait(m, &w), LOA_ENOENT);
    loa_msg_free(m);
}

static void variables_are_listed_once_in_order(void **state)
{
    (void)state;
    struct loa_msg *m = parse_ok(
        "{\"blocks\":[{\"type\":\"text\",\"text\":\"Chào {{first_name}} ở {{ attr.city | Hà Nội "
        "}}\"},{\"type\":\"buttons\",\"text\":\"{{full_name|bạn}} {{first_name}}, "
        "{{last_name|}}\",\"buttons\":[{\"type\":\"postback\",\"title\":\"OK\",\"payload\":\"ok\"}"
        "]},{\"type\":\"cards\",\"elements\":[{\"title\":\"{{attr.product_name|Áo}}\","
        "\"subtitle\":\"{{attr.city|?}}\"}]}]}");
    assert_int_equal(loa_msg_var_count(m), 5);
    assert_string_equal(loa_msg_var_name(m, 0), "first_name");
    assert_string_equal(loa_msg_var_name(m, 1), "attr.city");
    assert_string_equal(loa_msg_var_name(m, 2), "full_name");
    assert_string_equal(loa_msg_var_name(m, 3), "last_name");
    assert_string_equal(loa_msg_var_name(m, 4), "attr.product_name");
    assert_null(loa_msg_var_name(m, 5));
    loa_msg_free(m);
}

static void media_blocks_are_structured(void **state)
{
    (void)state;
    static const char *const types[] = { "image", "video", "audio", "file" };
    static const enum loa_msg_block_type want[] = { LOA_MSG_IMAGE, LOA_MSG_VIDEO, LOA_MSG_AUDIO,
                                                    LOA_MSG_FILE };
    for (size_t i = 0; i < 4; i++) {
        char *json = fmt("{\"blocks\":[{\"type\":\"%s\",\"url\":\"https://cdn.example.vn/a.bin\","
                         "\"reusable\":true},{\"type\":\"%s\",\"attachment_id\":\"1857777774\"},"
                         "{\"type\":\"%s\",\"url\":\"http://example.com/x?y=1#z\","
                         "\"reusable\":false}]}",
                         types[i], types[i], types[i]);
        struct loa_msg *m = parse_ok(json);
        assert_int_equal(loa_msg_sendable_count(m), 3);
        for (size_t k = 0; k < 3; k++)
            assert_int_equal(loa_msg_sendable_type(m, k), want[i]);
        assert_true(loa_msg_is_structured(m));
        assert_false(loa_msg_is_text_only(m));
        assert_string_equal(loa_msg_block_type_name(want[i]), types[i]);
        loa_msg_free(m);
        loa_free(json);
    }
}

static void cards_and_buttons_valid(void **state)
{
    (void)state;
    struct loa_msg *m = parse_ok(
        "{\"blocks\":[{\"type\":\"cards\",\"image_aspect_ratio\":\"square\",\"elements\":[{"
        "\"title\":\"Áo thun\",\"subtitle\":\"199.000đ\",\"image_url\":\"https://x.vn/a.jpg\","
        "\"default_action\":{\"url\":\"https://x.vn/a\"},\"buttons\":[{\"type\":\"web_url\","
        "\"title\":\"Xem\",\"url\":\"https://x.vn/a\"},{\"type\":\"postback\",\"title\":\"Mua\","
        "\"payload\":\"BUY_A\"},{\"type\":\"phone_number\",\"title\":\"Gọi\",\"payload\":"
        "\"+84912345678\"}]},{\"title\":\"Quần\",\"image_url\":\"https://x.vn/b.jpg\"},{"
        "\"title\":\"Mũ\",\"default_action\":{\"url\":\"https://x.vn/c\"}},{\"title\":\"Dép\","
        "\"buttons\":[{\"type\":\"postback\",\"title\":\"Mua\",\"payload\":\"BUY_D\"}]}]},"
        "{\"type\":\"buttons\",\"text\":\"Bạn muốn gì?\",\"buttons\":[{\"type\":\"web_url\","
        "\"title\":\"Web\",\"url\":\"https://x.vn\"},{\"type\":\"postback\",\"title\":\"Tư vấn\","
        "\"payload\":\"HELP\"},{\"type\":\"phone_number\",\"title\":\"Gọi\",\"payload\":"
        "\"+842838221234\"}]}]}");
    assert_int_equal(loa_msg_sendable_count(m), 2);
    assert_int_equal(loa_msg_sendable_type(m, 0), LOA_MSG_CARDS);
    assert_int_equal(loa_msg_sendable_type(m, 1), LOA_MSG_BUTTONS);
    assert_true(loa_msg_is_structured(m));
    assert_false(loa_msg_is_text_only(m));
    loa_msg_free(m);
    block_ok("{\"type\":\"cards\",\"image_aspect_ratio\":\"horizontal\",\"elements\":[{\"title\":"
             "\"A\",\"subtitle\":\"b\"}]}");
}

static void quick_replies_make_text_structured(void **state)
{
    (void)state;
    static const char *const qr =
        "\"quick_replies\":[{\"content_type\":\"text\",\"title\":\"Có\",\"payload\":\"YES\"},"
        "{\"content_type\":\"text\",\"title\":\"Màu đỏ\",\"payload\":\"RED\",\"image_url\":"
        "\"https://x.vn/red.png\"},{\"content_type\":\"user_phone_number\"},{\"content_type\":"
        "\"user_email\"}]";
    const char *blocks[] = {
        "{\"type\":\"text\",\"text\":\"Chọn nhé\"",
        "{\"type\":\"image\",\"url\":\"https://x.vn/a.jpg\"",
        "{\"type\":\"cards\",\"elements\":[{\"title\":\"A\",\"subtitle\":\"B\"}]",
        ("{\"type\":\"buttons\",\"text\":\"T\",\"buttons\":[{\"type\":\"postback\",\"title\":"
         "\"A\",\"payload\":\"A\"}]"),
    };
    for (size_t i = 0; i < 4; i++) {
        char *block = fmt("%s,%s}", blocks[i], qr);
        char *json = one_block(block);
        struct loa_msg *m = parse_ok(json);
        assert_true(loa_msg_is_structured(m));
        assert_false(loa_msg_is_text_only(m));
        loa_msg_free(m);
        loa_free(json);
        loa_free(block);
    }
}

static void wait_reply_is_not_sent(void **state)
{
    (void)state;
    struct loa_msg *m = parse_ok(
        "{\"blocks\":[{\"type\":\"text\",\"text\":\"Cho em xin số điện thoại ạ\"},{\"type\":"
        "\"wait_reply\",\"attribute\":\"phone\",\"kind\":\"phone\",\"prompt_retry\":\"Số chưa "
        "đúng, anh/chị nhập lại giúp em\"},{\"type\":\"text\",\"text\":\"Cảm ơn!\"}]}");
    assert_int_equal(loa_msg_block_count(m), 3);
    assert_int_equal(loa_msg_sendable_count(m), 2);
    assert_int_equal(loa_msg_sendable_type(m, 1), LOA_MSG_TEXT);
    assert_true(loa_msg_is_text_only(m));
    assert_false(loa_msg_is_structured(m));
    struct loa_msg_wait w;
    assert_int_equal(loa_msg_get_wait(m, &w), 0);
    assert_string_equal(w.attribute, "phone");
    assert_int_equal(w.kind, LOA_MSG_REPLY_PHONE);
    assert_string_equal(w.prompt_retry, "Số chưa đúng, anh/chị nhập lại giúp em");
    assert_int_equal(w.after, 1);
    loa_msg_free(m);

    static const char *const kinds[] = { "text", "phone", "email", "number" };
    for (size_t k = 0; k < 4; k++) {
        char *json = fmt("{\"blocks\":[{\"type\":\"text\",\"text\":\"?\"},{\"type\":"
                         "\"wait_reply\",\"attribute\":\"a_1\",\"kind\":\"%s\"}]}",
                         kinds[k]);
        m = parse_ok(json);
        assert_int_equal(loa_msg_get_wait(m, &w), 0);
        assert_int_equal(w.kind, (enum loa_msg_reply_kind)k);
        assert_null(w.prompt_retry);
        assert_int_equal(w.after, 1);
        assert_string_equal(loa_msg_reply_kind_name(w.kind), kinds[k]);
        loa_msg_free(m);
        loa_free(json);
    }
}

static void diags_may_be_null(void **state)
{
    (void)state;
    struct loa_msg *m = NULL;
    const char *bad = "{\"blocks\":[]}";
    assert_int_equal(loa_msg_parse(bad, strlen(bad), NULL, NULL, &m), LOA_EINVAL);
    assert_null(m);
    assert_int_equal(loa_msg_parse("{", 1, NULL, NULL, &m), LOA_EPARSE);
    const char *good = "{\"blocks\":[{\"type\":\"text\",\"text\":\"x\"}]}";
    assert_int_equal(loa_msg_parse(good, strlen(good), NULL, NULL, &m), 0);
    loa_msg_free(m);
    loa_msg_free(NULL);
}

/* ---- malformed JSON --------------------------------------------------------------------- */

static void check_parse_error(const char *json, long line, long column, const char *reason)
{
    struct loa_diags d;
    loa_diags_init(&d, 0);
    struct loa_msg *m = NULL;
    assert_int_equal(loa_msg_parse(json, strlen(json), NULL, &d, &m), LOA_EPARSE);
    assert_null(m);
    assert_int_equal(d.count, 1);
    assert_string_equal(d.items[0].where, "");
    assert_int_equal(d.items[0].line, line);
    assert_int_equal(d.items[0].column, column);
    if (!strstr(d.items[0].reason, reason))
        fail_msg("reason \"%s\" lacks \"%s\"", d.items[0].reason, reason);
    loa_diags_release(&d);
}

static void malformed_json_has_position(void **state)
{
    (void)state;
    check_parse_error("{\n  \"blocks\": [\n    {\"type\": \"text\" \"text\": \"x\"}\n  ]\n}", 3, 26,
                      "malformed JSON");
    check_parse_error("", 1, 0, "malformed JSON");
    check_parse_error("{\"blocks\":[", 1, 11, "malformed JSON");
    check_parse_error("{\"blocks\":[],\"blocks\":[]}", 1, 21, "duplicate");
    check_parse_error("{\"blocks\":[]} x", 1, 15, "end of file expected");
}

/* ---- structure errors ------------------------------------------------------------------- */

static void root_and_blocks_errors(void **state)
{
    (void)state;
    check_invalid("[]", E("", "must be an object"));
    check_invalid("\"hi\"", E("", "not a string"));
    check_invalid("{}", E("blocks", "is required"));
    check_invalid("{\"blocks\":[]}", E("blocks", "must hold at least one block"));
    check_invalid("{\"blocks\":{}}", E("blocks", "must be an array, not an object"));
    check_invalid("{\"blocks\":[{\"type\":\"text\",\"text\":\"a\"}],\"version\":2}",
                  E("version", "unknown field"));
    check_invalid("{\"blocks\":[1,null,{},{\"type\":7},{\"type\":\"carousel\"}]}",
                  E("blocks[0]", "must be an object, not a number"),
                  E("blocks[1]", "must be an object, not null"), E("blocks[2].type", "is required"),
                  E("blocks[3].type", "must be a string, not a number"),
                  E("blocks[4].type", "unknown block type \"carousel\""));

    /* LOA_MSG_MAX_BLOCKS blocks pass, one more fails. */
    struct loa_buf b;
    loa_buf_init(&b, SIZE_MAX / 2);
    loa_buf_puts(&b, "{\"blocks\":[");
    for (int i = 0; i < LOA_MSG_MAX_BLOCKS; i++)
        loa_buf_printf(&b, "%s{\"type\":\"text\",\"text\":\"%d\"}", i ? "," : "", i);
    loa_buf_puts(&b, "]}");
    struct loa_msg *m = parse_ok(loa_buf_cstr(&b));
    assert_int_equal(loa_msg_sendable_count(m), LOA_MSG_MAX_BLOCKS);
    loa_msg_free(m);
    b.len -= 2;
    loa_buf_puts(&b, ",{\"type\":\"text\",\"text\":\"x\"}]}");
    check_invalid(loa_buf_cstr(&b), E("blocks", "has 21 blocks; at most 20 allowed"));
    loa_buf_release(&b);
}

static void every_complaint_is_reported(void **state)
{
    (void)state;
    check_invalid(
        "{\"blocks\":[{\"type\":\"text\",\"text\":\"\",\"extra\":1},{\"type\":\"image\",\"url\":"
        "\"ftp://x\"},{\"type\":\"buttons\",\"text\":\"t\",\"buttons\":[{\"type\":\"postback\","
        "\"title\":\"\",\"payload\":5}]},{\"type\":\"cards\",\"elements\":[{\"title\":\"x\"}]}]}",
        E("blocks[0].extra", "unknown field"), E("blocks[0].text", "must not be empty"),
        E("blocks[1].url", "must be an http or https URL"),
        E("blocks[2].buttons[0].title", "must not be empty"),
        E("blocks[2].buttons[0].payload", "must be a string, not a number"),
        E("blocks[3].elements[0]", "needs a subtitle, image_url, default_action or buttons"));
}

/* ---- text blocks ------------------------------------------------------------------------ */

static void text_block_errors(void **state)
{
    (void)state;
    check_invalid("{\"blocks\":[{\"type\":\"text\"}]}", E("blocks[0].text", "is required"));
    check_invalid("{\"blocks\":[{\"type\":\"text\",\"text\":[\"a\"]}]}",
                  E("blocks[0].text", "must be a string, not an array"));
    check_invalid("{\"blocks\":[{\"type\":\"text\",\"text\":\"Chào {{email}}\"}]}",
                  E("blocks[0].text", "unknown variable {{email}}"));
    check_invalid("{\"blocks\":[{\"type\":\"text\",\"text\":\"Chào {{attr.}} {{attr.a b}} "
                  "{{First_Name}}\"}]}",
                  E("blocks[0].text", "unknown variable {{attr.}}"),
                  E("blocks[0].text", "unknown variable {{attr.a b}}"),
                  E("blocks[0].text", "unknown variable {{First_Name}}"));
    check_invalid("{\"blocks\":[{\"type\":\"text\",\"text\":\"Chào {{first_name\"}]}",
                  E("blocks[0].text", "\"{{\" at character 6 is never closed"));
    check_invalid("{\"blocks\":[{\"type\":\"text\",\"text\":\"{{first_name}}{{attr.x|}}\"}]}",
                  E("blocks[0].text", "could be sent empty"));
    check_invalid("{\"blocks\":[{\"type\":\"text\",\"text\":\"a\\u0000b\"}]}",
                  E("blocks[0].text", "must not contain NUL"));
    check_invalid("{\"blocks\":[{\"type\":\"text\",\"text\":\"a\",\"quick_replies\":[]}]}",
                  E("blocks[0].quick_replies", "must hold at least one quick reply"));
    block_ok("{\"type\":\"text\",\"text\":\"{{first_name|bạn}}\"}");
    block_ok("{\"type\":\"text\",\"text\":\"{ {a} } }} {x\"}");
}

static void text_limit_counts_characters(void **state)
{
    (void)state;
    char *ok = repeat("ệ", 2000);
    char *block = fmt("{\"type\":\"text\",\"text\":\"%s\"}", ok);
    block_ok(block);
    loa_free(block);
    char *over = repeat("ệ", 2001);
    char *json = fmt("{\"blocks\":[{\"type\":\"text\",\"text\":\"%s\"}]}", over);
    check_invalid(json, E("blocks[0].text", "has 2001 characters; at most 2000 allowed"));
    loa_free(json);
    loa_free(over);
    loa_free(ok);

    /* The limits in force come from the caller. */
    struct loa_limits lim = loa_limits_default();
    lim.text_chars = 5;
    const char *six = "{\"blocks\":[{\"type\":\"text\",\"text\":\"ạạạạạạ\"}]}";
    const struct expect exp[] = { E("blocks[0].text", "has 6 characters; at most 5 allowed") };
    check_invalid_(__FILE__, __LINE__, six, &lim, LOA_EINVAL, exp, 1);
    struct loa_msg *m = NULL;
    const char *five = "{\"blocks\":[{\"type\":\"text\",\"text\":\"ạạạạạ\"}]}";
    assert_int_equal(loa_msg_parse(five, strlen(five), &lim, NULL, &m), 0);
    loa_msg_free(m);
}

static void invalid_utf8_is_named(void **state)
{
    (void)state;
    check_invalid("{\"blocks\":[{\"type\":\"text\",\"text\":\"ok\"},{\"type\":\"text\",\"text\":"
                  "\"Ch\xe0o \xff\"}]}",
                  E("blocks[1].text", "contains invalid UTF-8"));
    check_invalid("{\"blocks\":[{\"type\":\"buttons\",\"text\":\"x\",\"buttons\":[{\"type\":"
                  "\"postback\",\"title\":\"\xc3\",\"payload\":\"p\"}]}]}",
                  E("blocks[0].buttons[0].title", "contains invalid UTF-8"));
    /* Outside a string, an invalid byte is malformed JSON. */
    struct loa_diags d;
    loa_diags_init(&d, 0);
    struct loa_msg *m = NULL;
    const char *j = "{\"blocks\":\xff[]}";
    assert_int_equal(loa_msg_parse(j, strlen(j), NULL, &d, &m), LOA_EPARSE);
    assert_int_equal(d.count, 1);
    assert_int_equal(d.items[0].line, 1);
    loa_diags_release(&d);
    /* An input that already holds U+FFFF gets the byte position instead. */
    loa_diags_init(&d, 0);
    const char *k =
        "{\"blocks\":[{\"type\":\"text\",\"text\":\"\xef\xbf\xbf\"},\n{\"x\":\"\xfe\"}]}";
    assert_int_equal(loa_msg_parse(k, strlen(k), NULL, &d, &m), LOA_EPARSE);
    assert_int_equal(d.count, 1);
    assert_int_equal(d.items[0].line, 2);
    assert_int_equal(d.items[0].column, 7);
    assert_non_null(strstr(d.items[0].reason, "invalid UTF-8 (byte 0xfe)"));
    loa_diags_release(&d);
}

/* ---- media blocks ----------------------------------------------------------------------- */

static void media_block_errors(void **state)
{
    (void)state;
    check_invalid("{\"blocks\":[{\"type\":\"image\"}]}",
                  E("blocks[0].url", "is required (or give an attachment_id)"));
    check_invalid("{\"blocks\":[{\"type\":\"video\",\"url\":\"https://a.vn/v.mp4\","
                  "\"attachment_id\":\"1\"}]}",
                  E("blocks[0]", "give either url or attachment_id, not both"));
    check_invalid("{\"blocks\":[{\"type\":\"audio\",\"url\":\"https://\"},{\"type\":\"file\","
                  "\"url\":\"https://a.vn/a b.pdf\"},{\"type\":\"file\",\"url\":\"//a.vn/x\"},"
                  "{\"type\":\"file\",\"url\":\"javascript:alert(1)\"},{\"type\":\"file\","
                  "\"url\":\"\"}]}",
                  E("blocks[0].url", "must be an http or https URL"),
                  E("blocks[1].url", "must be an http or https URL"),
                  E("blocks[2].url", "must be an http or https URL"),
                  E("blocks[3].url", "must be an http or https URL"),
                  E("blocks[4].url", "must not be empty"));
    check_invalid("{\"blocks\":[{\"type\":\"image\",\"url\":\"https://a.vn/a.png\",\"reusable\":"
                  "\"yes\",\"caption\":\"x\"}]}",
                  E("blocks[0].caption", "unknown field"),
                  E("blocks[0].reusable", "must be true or false, not a string"));
    check_invalid("{\"blocks\":[{\"type\":\"image\",\"attachment_id\":\"12\",\"reusable\":true}]}",
                  E("blocks[0].reusable", "applies only to a url"));
    check_invalid("{\"blocks\":[{\"type\":\"image\",\"attachment_id\":\"\"},{\"type\":\"image\","
                  "\"attachment_id\":12},{\"type\":\"image\",\"attachment_id\":\"1 2\"}]}",
                  E("blocks[0].attachment_id", "must not be empty"),
                  E("blocks[1].attachment_id", "must be a string, not a number"),
                  E("blocks[2].attachment_id", "must not contain spaces"));
    check_invalid("{\"blocks\":[{\"type\":\"video\",\"url\":\"https://a.vn/v.mp4\","
                  "\"quick_replies\":[{\"content_type\":\"user_email\"}]}]}",
                  E("blocks[0].quick_replies", "quick replies are not allowed on video blocks"));
}

/* ---- cards ------------------------------------------------------------------------------ */

static char *cards_with(size_t n_elements, const char *element)
{
    struct loa_buf b;
    loa_buf_init(&b, SIZE_MAX / 2);
    loa_buf_puts(&b, "{\"blocks\":[{\"type\":\"cards\",\"elements\":[");
    for (size_t i = 0; i < n_elements; i++)
        loa_buf_printf(&b, "%s%s", i ? "," : "", element);
    loa_buf_puts(&b, "]}]}");
    return loa_buf_detach(&b);
}

static void cards_limits(void **state)
{
    (void)state;
    const char *el = "{\"title\":\"A\",\"subtitle\":\"B\"}";
    char *ten = cards_with(10, el);
    loa_msg_free(parse_ok(ten));
    char *eleven = cards_with(11, el);
    check_invalid(eleven, E("blocks[0].elements", "has 11 elements; at most 10 allowed"));
    char *zero = cards_with(0, el);
    check_invalid(zero, E("blocks[0].elements", "must hold at least one element"));
    loa_free(ten);
    loa_free(eleven);
    loa_free(zero);

    char *t80 = repeat("ệ", 80), *t81 = repeat("ệ", 81);
    char *e80 = fmt("{\"title\":\"%s\",\"subtitle\":\"%s\"}", t80, t80);
    char *j80 = cards_with(1, e80);
    loa_msg_free(parse_ok(j80));
    char *e81 = fmt("{\"title\":\"%s\",\"subtitle\":\"%s\"}", t81, t81);
    char *j81 = cards_with(2, e81);
    check_invalid(j81, E("blocks[0].elements[0].title", "has 81 characters; at most 80 allowed"),
                  E("blocks[0].elements[0].subtitle", "has 81 characters; at most 80"),
                  E("blocks[0].elements[1].title", "has 81 characters"),
                  E("blocks[0].elements[1].subtitle", "has 81 characters"));
    loa_free(t80);
    loa_free(t81);
    loa_free(e80);
    loa_free(e81);
    loa_free(j80);
    loa_free(j81);
}

static void cards_errors(void **state)
{
    (void)state;
    check_invalid("{\"blocks\":[{\"type\":\"cards\"}]}", E("blocks[0].elements", "is required"));
    check_invalid("{\"blocks\":[{\"type\":\"cards\",\"image_aspect_ratio\":\"wide\","
                  "\"elements\":[\"x\",{\"subtitle\":\"s\"},{\"title\":\"t\",\"image_url\":"
                  "\"x.jpg\",\"default_action\":\"https://a.vn\"},{\"title\":\"t\","
                  "\"default_action\":{\"url\":\"https://a.vn\",\"webview\":\"full\"}},{"
                  "\"title\":\"t\",\"default_action\":{}},{\"title\":\"t\",\"buttons\":[]}]}]}",
                  E("blocks[0].image_aspect_ratio", "must be \"horizontal\" or \"square\""),
                  E("blocks[0].elements[0]", "must be an object, not a string"),
                  E("blocks[0].elements[1].title", "is required"),
                  E("blocks[0].elements[2].image_url", "must be an http or https URL"),
                  E("blocks[0].elements[2].default_action", "must be an object, not a string"),
                  E("blocks[0].elements[3].default_action.webview", "unknown field"),
                  E("blocks[0].elements[4].default_action.url", "is required"),
                  E("blocks[0].elements[5].buttons", "must hold at least one button"));
    check_invalid(
        "{\"blocks\":[{\"type\":\"cards\",\"elements\":[{\"title\":\"t\",\"buttons\":[{\"type\":"
        "\"postback\",\"title\":\"a\",\"payload\":\"a\"},{\"type\":\"postback\",\"title\":\"b\","
        "\"payload\":\"b\"},{\"type\":\"postback\",\"title\":\"c\",\"payload\":\"c\"},{\"type\":"
        "\"postback\",\"title\":\"d\",\"payload\":\"d\"}]}]}]}",
        E("blocks[0].elements[0].buttons", "has 4 buttons; at most 3 allowed"));
}

/* ---- buttons ---------------------------------------------------------------------------- */

static void button_block_limits(void **state)
{
    (void)state;
    char *t640 = repeat("ệ", 640), *t641 = repeat("ệ", 641);
    char *b = fmt("{\"type\":\"buttons\",\"text\":\"%s\",\"buttons\":[{\"type\":\"postback\","
                  "\"title\":\"a\",\"payload\":\"a\"}]}",
                  t640);
    block_ok(b);
    char *j = fmt("{\"blocks\":[{\"type\":\"buttons\",\"text\":\"%s\",\"buttons\":[{\"type\":"
                  "\"postback\",\"title\":\"a\",\"payload\":\"a\"}]}]}",
                  t641);
    check_invalid(j, E("blocks[0].text", "has 641 characters; at most 640 allowed"));
    loa_free(t640);
    loa_free(t641);
    loa_free(b);
    loa_free(j);

    char *title20 = repeat("ệ", 20), *title21 = repeat("ệ", 21);
    char *p1000 = repeat("ệ", 1000), *p1001 = repeat("ệ", 1001);
    b = fmt("{\"type\":\"buttons\",\"text\":\"t\",\"buttons\":[{\"type\":\"postback\","
            "\"title\":\"%s\",\"payload\":\"%s\"}]}",
            title20, p1000);
    block_ok(b);
    loa_free(b);
    j = fmt("{\"blocks\":[{\"type\":\"buttons\",\"text\":\"t\",\"buttons\":[{\"type\":"
            "\"web_url\",\"title\":\"ok\",\"url\":\"https://a.vn\"},{\"type\":\"postback\","
            "\"title\":\"%s\",\"payload\":\"%s\"}]}]}",
            title21, p1001);
    check_invalid(j, E("blocks[0].buttons[1].title", "has 21 characters; at most 20 allowed"),
                  E("blocks[0].buttons[1].payload", "has 1001 characters; at most 1000 allowed"));
    loa_free(j);
    loa_free(title20);
    loa_free(title21);
    loa_free(p1000);
    loa_free(p1001);
}

static void button_errors(void **state)
{
    (void)state;
    check_invalid("{\"blocks\":[{\"type\":\"buttons\",\"text\":\"t\"}]}",
                  E("blocks[0].buttons", "is required"));
    check_invalid("{\"blocks\":[{\"type\":\"buttons\",\"text\":\"t\",\"buttons\":[]}]}",
                  E("blocks[0].buttons", "must hold at least one button"));
    check_invalid("{\"blocks\":[{\"type\":\"buttons\",\"buttons\":[{\"type\":\"call\"},{"
                  "\"title\":\"x\"},{\"type\":\"web_url\",\"title\":\"x\"},{\"type\":"
                  "\"postback\",\"title\":\"Hi {{first_name}}\",\"payload\":\"p\",\"url\":"
                  "\"https://a.vn\"},{\"type\":\"phone_number\",\"title\":\"Gọi\",\"payload\":"
                  "\"0912345678\"}]}]}",
                  E("blocks[0].text", "is required"),
                  E("blocks[0].buttons", "has 5 buttons; at most 3 allowed"),
                  E("blocks[0].buttons[0].type", "unknown button type \"call\""),
                  E("blocks[0].buttons[1].type", "is required"),
                  E("blocks[0].buttons[2].url", "is required"),
                  E("blocks[0].buttons[3].url", "unknown field"),
                  E("blocks[0].buttons[3].title", "variables such as {{first_name}} are not"),
                  E("blocks[0].buttons[4].payload", "must be a phone number"));
    check_invalid("{\"blocks\":[{\"type\":\"buttons\",\"text\":\"t\",\"buttons\":[{\"type\":"
                  "\"phone_number\",\"title\":\"a\",\"payload\":\"+84 912\"},{\"type\":"
                  "\"phone_number\",\"title\":\"a\"},{\"type\":\"postback\",\"title\":\"a\","
                  "\"payload\":\"\"}]}]}",
                  E("blocks[0].buttons[0].payload", "must be a phone number"),
                  E("blocks[0].buttons[1].payload", "is required"),
                  E("blocks[0].buttons[2].payload", "must not be empty"));
}

/* ---- quick replies ---------------------------------------------------------------------- */

static char *text_with_qrs(size_t n, const char *qr)
{
    struct loa_buf b;
    loa_buf_init(&b, SIZE_MAX / 2);
    loa_buf_puts(&b, "{\"blocks\":[{\"type\":\"text\",\"text\":\"?\",\"quick_replies\":[");
    for (size_t i = 0; i < n; i++)
        loa_buf_printf(&b, "%s%s", i ? "," : "", qr);
    loa_buf_puts(&b, "]}]}");
    return loa_buf_detach(&b);
}

static void quick_reply_limits(void **state)
{
    (void)state;
    char *t20 = repeat("ệ", 20), *t21 = repeat("ệ", 21);
    char *p1000 = repeat("ệ", 1000), *p1001 = repeat("ệ", 1001);
    char *ok = fmt("{\"content_type\":\"text\",\"title\":\"%s\",\"payload\":\"%s\"}", t20, p1000);
    char *j13 = text_with_qrs(13, ok);
    loa_msg_free(parse_ok(j13));
    char *j14 = text_with_qrs(14, ok);
    check_invalid(j14, E("blocks[0].quick_replies", "has 14 quick replies; at most 13 allowed"));
    char *bad = fmt("{\"content_type\":\"text\",\"title\":\"%s\",\"payload\":\"%s\"}", t21, p1001);
    char *jb = text_with_qrs(1, bad);
    check_invalid(jb, E("blocks[0].quick_replies[0].title", "has 21 characters; at most 20"),
                  E("blocks[0].quick_replies[0].payload", "has 1001 characters; at most 1000"));
    loa_free(t20);
    loa_free(t21);
    loa_free(p1000);
    loa_free(p1001);
    loa_free(ok);
    loa_free(bad);
    loa_free(j13);
    loa_free(j14);
    loa_free(jb);
}

static void quick_reply_errors(void **state)
{
    (void)state;
    check_invalid("{\"blocks\":[{\"type\":\"text\",\"text\":\"?\",\"quick_replies\":{}}]}",
                  E("blocks[0].quick_replies", "must be an array, not an object"));
    check_invalid(
        "{\"blocks\":[{\"type\":\"text\",\"text\":\"?\",\"quick_replies\":[{\"content_type\":"
        "\"location\"},{\"content_type\":\"user_email\",\"title\":\"x\"},{\"content_type\":"
        "\"text\",\"title\":\"x\"},{\"content_type\":\"text\",\"payload\":\"x\",\"image_url\":"
        "\"nope\"},{\"title\":\"x\"},7]}]}",
        E("blocks[0].quick_replies[0].content_type", "unknown quick reply type \"location\""),
        E("blocks[0].quick_replies[1].title", "unknown field"),
        E("blocks[0].quick_replies[2].payload", "is required"),
        E("blocks[0].quick_replies[3].title", "is required"),
        E("blocks[0].quick_replies[3].image_url", "must be an http or https URL"),
        E("blocks[0].quick_replies[4].content_type", "is required"),
        E("blocks[0].quick_replies[5]", "must be an object, not a number"));
}

/* ---- wait_reply ------------------------------------------------------------------------- */

static void wait_reply_errors(void **state)
{
    (void)state;
    check_invalid("{\"blocks\":[{\"type\":\"text\",\"text\":\"?\"},{\"type\":\"wait_reply\"}]}",
                  E("blocks[1].attribute", "is required"), E("blocks[1].kind", "is required"));
    check_invalid("{\"blocks\":[{\"type\":\"text\",\"text\":\"?\"},{\"type\":\"wait_reply\","
                  "\"attribute\":\"số điện thoại\",\"kind\":\"date\",\"prompt_retry\":1,"
                  "\"quick_replies\":[]}]}",
                  E("blocks[1].quick_replies", "unknown field"),
                  E("blocks[1].attribute", "must be an attribute name"),
                  E("blocks[1].kind", "must be \"phone\", \"email\", \"text\" or \"number\""),
                  E("blocks[1].prompt_retry", "must be a string, not a number"));
    check_invalid("{\"blocks\":[{\"type\":\"text\",\"text\":\"?\"},{\"type\":\"wait_reply\","
                  "\"attribute\":\"a\",\"kind\":\"text\"},{\"type\":\"wait_reply\","
                  "\"attribute\":\"b\",\"kind\":\"text\"}]}",
                  E("blocks[2]", "only one wait_reply block"));
    check_invalid("{\"blocks\":[{\"type\":\"wait_reply\",\"attribute\":\"a\",\"kind\":\"text\"}]}",
                  E("blocks", "at least one block that is sent"));
}

/* ---- replies ---------------------------------------------------------------------------- */

static void reply_ok(enum loa_msg_reply_kind kind, const char *text, const char *want)
{
    char *norm = NULL;
    int rc = loa_msg_check_reply(kind, text, &norm);
    if (rc != 0)
        fail_msg("reply \"%s\" (%s) refused", text, loa_msg_reply_kind_name(kind));
    assert_string_equal(norm, want);
    loa_free(norm);
    assert_int_equal(loa_msg_check_reply(kind, text, NULL), 0);
}

static void reply_bad(enum loa_msg_reply_kind kind, const char *text)
{
    static char sentinel[] = "sentinel";
    char *norm = sentinel;
    int rc = loa_msg_check_reply(kind, text, &norm);
    if (rc != LOA_EINVAL)
        fail_msg("reply \"%s\" (%s) accepted as \"%s\"", text, loa_msg_reply_kind_name(kind),
                 norm ? norm : "");
    assert_null(norm);
}

static void replies_are_checked(void **state)
{
    (void)state;
    reply_ok(LOA_MSG_REPLY_PHONE, "0912 345 678", "0912345678");
    reply_ok(LOA_MSG_REPLY_PHONE, " +84 912-345-678\n", "+84912345678");
    reply_ok(LOA_MSG_REPLY_PHONE, "(028) 3822.1234", "02838221234");
    reply_bad(LOA_MSG_REPLY_PHONE, "abc");
    reply_bad(LOA_MSG_REPLY_PHONE, "1234567");
    reply_bad(LOA_MSG_REPLY_PHONE, "1234567890123456");
    reply_bad(LOA_MSG_REPLY_PHONE, "0912+345678");
    reply_bad(LOA_MSG_REPLY_PHONE, "09123a5678");
    reply_bad(LOA_MSG_REPLY_PHONE, "số 0912345678");
    reply_bad(LOA_MSG_REPLY_PHONE, "");
    reply_bad(LOA_MSG_REPLY_PHONE, "   ");
    reply_bad(LOA_MSG_REPLY_PHONE, NULL);

    reply_ok(LOA_MSG_REPLY_EMAIL, " Lan.Nguyen+shop@Example.COM.vn ",
             "Lan.Nguyen+shop@example.com.vn");
    reply_ok(LOA_MSG_REPLY_EMAIL, "a@b-c.io", "a@b-c.io");
    static const char *const bad_emails[] = {
        "lan@",       "@x.com",     "lan@x",     "lan@@x.com", "lan x@y.com", "lan@-x.com",
        "lan@x-.com", "lan@x..com", "lan@x.c",   ".lan@x.com", "lan.@x.com",  "la..n@x.com",
        "lan@x.123",  "lan",        "lân@x.com", "lan@x.com.", "lan@.x.com",  "lan@x_y.com",
    };
    for (size_t i = 0; i < sizeof(bad_emails) / sizeof(*bad_emails); i++)
        reply_bad(LOA_MSG_REPLY_EMAIL, bad_emails[i]);

    reply_ok(LOA_MSG_REPLY_NUMBER, "42", "42");
    reply_ok(LOA_MSG_REPLY_NUMBER, " -3,5 ", "-3.5");
    reply_ok(LOA_MSG_REPLY_NUMBER, "+2.75", "2.75");
    reply_ok(LOA_MSG_REPLY_NUMBER, "1.000.000", "1000000");
    reply_ok(LOA_MSG_REPLY_NUMBER, "1.000", "1000");
    reply_ok(LOA_MSG_REPLY_NUMBER, "2,500", "2500");
    reply_ok(LOA_MSG_REPLY_NUMBER, "1,234.5", "1234.5");
    reply_ok(LOA_MSG_REPLY_NUMBER, "1.234.567,89", "1234567.89");
    reply_ok(LOA_MSG_REPLY_NUMBER, "007", "7");
    reply_ok(LOA_MSG_REPLY_NUMBER, "0", "0");
    static const char *const bad_numbers[] = { "abc", "1..2",      "1.2.3",        "1,2.3,4",
                                               ".5",  "5.",        "1 000",        "12a",
                                               "--1", "1.000,5.2", "1234.567.890", "-" };
    for (size_t i = 0; i < sizeof(bad_numbers) / sizeof(*bad_numbers); i++)
        reply_bad(LOA_MSG_REPLY_NUMBER, bad_numbers[i]);

    reply_ok(LOA_MSG_REPLY_TEXT, "  xin chào  \n", "xin chào");
    reply_bad(LOA_MSG_REPLY_TEXT, " \t\n");
    reply_bad(LOA_MSG_REPLY_TEXT, "bad \xff utf-8");
}

int run_parse_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(text_block_is_text_only),
        cmocka_unit_test(variables_are_listed_once_in_order),
        cmocka_unit_test(media_blocks_are_structured),
        cmocka_unit_test(cards_and_buttons_valid),
        cmocka_unit_test(quick_replies_make_text_structured),
        cmocka_unit_test(wait_reply_is_not_sent),
        cmocka_unit_test(diags_may_be_null),
        cmocka_unit_test(malformed_json_has_position),
        cmocka_unit_test(root_and_blocks_errors),
        cmocka_unit_test(every_complaint_is_reported),
        cmocka_unit_test(text_block_errors),
        cmocka_unit_test(text_limit_counts_characters),
        cmocka_unit_test(invalid_utf8_is_named),
        cmocka_unit_test(media_block_errors),
        cmocka_unit_test(cards_limits),
        cmocka_unit_test(cards_errors),
        cmocka_unit_test(button_block_limits),
        cmocka_unit_test(button_errors),
        cmocka_unit_test(quick_reply_limits),
        cmocka_unit_test(quick_reply_errors),
        cmocka_unit_test(wait_reply_errors),
        cmocka_unit_test(replies_are_checked),
    };
    return cmocka_run_group_tests_name("msg_parse", tests, NULL, NULL);
}
