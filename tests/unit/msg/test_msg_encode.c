/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for encoding blocks into Send API bodies: each body is parsed back with jansson
 * and compared with json_equal() to the body Meta documents; personalisation, fallbacks,
 * cutting by characters, escaping and the send options are checked one by one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include <loa/alloc.h>
#include <loa/buf.h>
#include <loa/err.h>
#include <loa/msg.h>
#include <loa/utf8.h>

#include "test_msg.h"

#define PSID "1254477777772919"

static const struct loa_msg_send_opts update_opts = {
    .recipient_kind = LOA_MSG_TO_PSID,
    .recipient = PSID,
    .messaging_type = LOA_MSG_UPDATE,
};

/* Encodes sendable block i of json; returns the body (loa_free) or fails the test. */
static char *encode(const char *json, size_t i, const struct loa_msg_person *p,
                    const struct loa_msg_send_opts *o)
{
    struct loa_msg *m = parse_ok(json);
    struct loa_buf b;
    loa_buf_init(&b, 1 << 20);
    int rc = loa_msg_encode(m, i, p, o ? o : &update_opts, &b);
    assert_int_equal(rc, 0);
    loa_msg_free(m);
    return loa_buf_detach(&b);
}

static void assert_json_eq_(const char *file, int line, const char *got, const char *want)
{
    json_error_t e1, e2;
    json_t *g = json_loads(got, 0, &e1);
    json_t *w = json_loads(want, 0, &e2);
    if (!g)
        fail_msg("%s:%d: body is not JSON (%s): %s", file, line, e1.text, got);
    if (!w)
        fail_msg("%s:%d: expected is not JSON (%s): %s", file, line, e2.text, want);
    bool eq = json_equal(g, w);
    json_decref(g);
    json_decref(w);
    if (!eq)
        fail_msg("%s:%d:\n   got: %s\n  want: %s", file, line, got, want);
}
#define assert_json_eq(got, want) assert_json_eq_(__FILE__, __LINE__, got, want)

/* A string field of a body, found by a dotted path ("message.attachment.payload.text";
 * one-digit parts index arrays), as a new string. */
static char *body_text(const char *body, const char *field_path)
{
    json_error_t e;
    json_t *root = json_loads(body, 0, &e);
    assert_non_null(root);
    json_t *v = root;
    for (const char *k = field_path; v && *k;) {
        size_t n = strcspn(k, ".");
        char part[64];
        assert_true(n < sizeof(part));
        memcpy(part, k, n);
        part[n] = '\0';
        v = (n == 1 && *k >= '0' && *k <= '9') ? json_array_get(v, (size_t)(*k - '0'))
                                               : json_object_get(v, part);
        k += n + (k[n] == '.');
    }
    assert_true(json_is_string(v));
    char *s = loa_strdup(json_string_value(v));
    json_decref(root);
    return s;
}

/* ---- each block type -------------------------------------------------------------------- */

static void encodes_text(void **state)
{
    (void)state;
    char *body = encode(
        "{\"blocks\":[{\"type\":\"text\",\"text\":\"Chào bạn\"}]}", 0, NULL,
        &(struct loa_msg_send_opts){ .recipient = "42", .messaging_type = LOA_MSG_RESPONSE });
    /* The exact bytes: compact, keys in Meta's documented order. */
    assert_string_equal(body, "{\"recipient\":{\"id\":\"42\"},\"messaging_type\":\"RESPONSE\","
                              "\"message\":{\"text\":\"Chào bạn\"}}");
    loa_free(body);
}

static void encodes_text_with_quick_replies(void **state)
{
    (void)state;
    char *body = encode(
        "{\"blocks\":[{\"type\":\"text\",\"text\":\"Bạn thích màu nào?\",\"quick_replies\":[{"
        "\"content_type\":\"text\",\"title\":\"Đỏ\",\"payload\":\"RED\",\"image_url\":"
        "\"https://x.vn/r.png\"},{\"content_type\":\"text\",\"title\":\"Xanh\",\"payload\":"
        "\"BLUE\"},{\"content_type\":\"user_phone_number\"},{\"content_type\":\"user_email\"}]}]}",
        0, NULL, NULL);
    assert_json_eq(
        body, "{\"recipient\":{\"id\":\"" PSID "\"},\"messaging_type\":\"UPDATE\",\"message\":{"
              "\"text\":\"Bạn thích màu nào?\",\"quick_replies\":[{\"content_type\":\"text\","
              "\"title\":\"Đỏ\",\"payload\":\"RED\",\"image_url\":\"https://x.vn/r.png\"},{"
              "\"content_type\":\"text\",\"title\":\"Xanh\",\"payload\":\"BLUE\"},{"
              "\"content_type\":\"user_phone_number\"},{\"content_type\":\"user_email\"}]}}");
    loa_free(body);
}

static void encodes_media(void **state)
{
    (void)state;
    const char *json = "{\"blocks\":[{\"type\":\"image\",\"url\":\"https://x.vn/a.jpg\","
                       "\"reusable\":true,\"quick_replies\":[{\"content_type\":\"user_email\"}]},"
                       "{\"type\":\"video\",\"attachment_id\":\"1857777774821032\"},{\"type\":"
                       "\"audio\",\"url\":\"https://x.vn/a.mp3\"},{\"type\":\"file\",\"url\":"
                       "\"https://x.vn/a.pdf\",\"reusable\":false}]}";
    static const char *const want[] = {
        "{\"attachment\":{\"type\":\"image\",\"payload\":{\"url\":\"https://x.vn/a.jpg\","
        "\"is_reusable\":true}},\"quick_replies\":[{\"content_type\":\"user_email\"}]}",
        "{\"attachment\":{\"type\":\"video\",\"payload\":{\"attachment_id\":"
        "\"1857777774821032\"}}}",
        "{\"attachment\":{\"type\":\"audio\",\"payload\":{\"url\":\"https://x.vn/a.mp3\"}}}",
        "{\"attachment\":{\"type\":\"file\",\"payload\":{\"url\":\"https://x.vn/a.pdf\"}}}",
    };
    for (size_t i = 0; i < 4; i++) {
        char *body = encode(json, i, NULL, NULL);
        char *expect = fmt("{\"recipient\":{\"id\":\"" PSID "\"},\"messaging_type\":\"UPDATE\","
                           "\"message\":%s}",
                           want[i]);
        assert_json_eq(body, expect);
        loa_free(body);
        loa_free(expect);
    }
}

static void encodes_cards(void **state)
{
    (void)state;
    char *body = encode(
        "{\"blocks\":[{\"type\":\"cards\",\"image_aspect_ratio\":\"square\",\"elements\":[{"
        "\"title\":\"Áo cho {{first_name|bạn}}\",\"subtitle\":\"199.000đ\",\"image_url\":"
        "\"https://x.vn/a.jpg\",\"default_action\":{\"url\":\"https://x.vn/a\"},\"buttons\":[{"
        "\"type\":\"web_url\",\"title\":\"Xem\",\"url\":\"https://x.vn/a\"},{\"type\":"
        "\"postback\",\"title\":\"Mua\",\"payload\":\"BUY_A\"}]},{\"title\":\"Quần\","
        "\"image_url\":\"https://x.vn/b.jpg\"}],\"quick_replies\":[{\"content_type\":\"text\","
        "\"title\":\"Thêm\",\"payload\":\"MORE\"}]}]}",
        0, &(struct loa_msg_person){ .first_name = "Lan" }, NULL);
    assert_json_eq(
        body, "{\"recipient\":{\"id\":\"" PSID "\"},\"messaging_type\":\"UPDATE\",\"message\":{"
              "\"attachment\":{\"type\":\"template\",\"payload\":{\"template_type\":\"generic\","
              "\"image_aspect_ratio\":\"square\",\"elements\":[{\"title\":\"Áo cho Lan\","
              "\"subtitle\":\"199.000đ\",\"image_url\":\"https://x.vn/a.jpg\",\"default_action\":"
              "{\"type\":\"web_url\",\"url\":\"https://x.vn/a\"},\"buttons\":[{\"type\":"
              "\"web_url\",\"url\":\"https://x.vn/a\",\"title\":\"Xem\"},{\"type\":\"postback\","
              "\"title\":\"Mua\",\"payload\":\"BUY_A\"}]},{\"title\":\"Quần\",\"image_url\":"
              "\"https://x.vn/b.jpg\"}]}},\"quick_replies\":[{\"content_type\":\"text\","
              "\"title\":\"Thêm\",\"payload\":\"MORE\"}]}}");
    loa_free(body);
}

static void encodes_buttons(void **state)
{
    (void)state;
    char *body =
        encode("{\"blocks\":[{\"type\":\"buttons\",\"text\":\"{{full_name}} ơi, cần gì ạ?\","
               "\"buttons\":[{\"type\":\"web_url\",\"title\":\"Web\",\"url\":\"https://x.vn\"},{"
               "\"type\":\"postback\",\"title\":\"Tư vấn\",\"payload\":\"HELP\"},{\"type\":"
               "\"phone_number\",\"title\":\"Gọi\",\"payload\":\"+842838221234\"}]}]}",
               0, &(struct loa_msg_person){ .first_name = "Lan", .last_name = "Nguyễn" }, NULL);
    assert_json_eq(
        body, "{\"recipient\":{\"id\":\"" PSID "\"},\"messaging_type\":\"UPDATE\",\"message\":{"
              "\"attachment\":{\"type\":\"template\",\"payload\":{\"template_type\":\"button\","
              "\"text\":\"Lan Nguyễn ơi, cần gì ạ?\",\"buttons\":[{\"type\":\"web_url\",\"url\":"
              "\"https://x.vn\",\"title\":\"Web\"},{\"type\":\"postback\",\"title\":\"Tư vấn\","
              "\"payload\":\"HELP\"},{\"type\":\"phone_number\",\"title\":\"Gọi\",\"payload\":"
              "\"+842838221234\"}]}}}}");
    loa_free(body);
}

static void sendable_index_skips_wait_reply(void **state)
{
    (void)state;
    const char *json = "{\"blocks\":[{\"type\":\"text\",\"text\":\"A\"},{\"type\":\"wait_reply\","
                       "\"attribute\":\"email\",\"kind\":\"email\"},{\"type\":\"text\","
                       "\"text\":\"B\"}]}";
    char *body = encode(json, 1, NULL, NULL);
    char *text = body_text(body, "message.text");
    assert_string_equal(text, "B");
    loa_free(text);
    loa_free(body);

    struct loa_msg *m = parse_ok(json);
    struct loa_buf b;
    loa_buf_init(&b, 4096);
    assert_int_equal(loa_msg_encode(m, 2, NULL, &update_opts, &b), LOA_ERANGE);
    assert_int_equal(b.len, 0);
    loa_buf_release(&b);
    loa_msg_free(m);
}

/* ---- personalisation -------------------------------------------------------------------- */

static char *render_text(const char *text, const struct loa_msg_person *p)
{
    char *json = fmt("{\"blocks\":[{\"type\":\"text\",\"text\":\"%s\"}]}", text);
    char *body = encode(json, 0, p, NULL);
    char *s = body_text(body, "message.text");
    /* The conversation's text (loa_msg_text) is the very text the body carries. */
    struct loa_msg *m = parse_ok(json);
    struct loa_buf t;
    loa_buf_init(&t, 1 << 20);
    assert_int_equal(loa_msg_text(m, 0, p, &t), 0);
    assert_string_equal(loa_buf_cstr(&t), s);
    loa_buf_release(&t);
    loa_msg_free(m);
    loa_free(body);
    loa_free(json);
    return s;
}

/* Only a text block has a conversation text; other blocks and bad indexes say so. */
static void text_of_other_blocks(void **state)
{
    (void)state;
    struct loa_msg *m = parse_ok("{\"blocks\":[{\"type\":\"image\",\"url\":\"https://a.vn/x.png\"},"
                                 "{\"type\":\"text\",\"text\":\"Giá \\\"sốc\\\"\\nhôm nay\"}]}");
    struct loa_buf t;
    loa_buf_init(&t, 1024);
    assert_int_equal(loa_msg_text(m, 0, NULL, &t), LOA_ENOENT);
    assert_int_equal(loa_msg_text(m, 2, NULL, &t), LOA_ERANGE);
    assert_int_equal(t.len, 0);
    assert_int_equal(loa_msg_text(m, 1, NULL, &t), 0);
    assert_string_equal(loa_buf_cstr(&t), "Giá \"sốc\"\nhôm nay"); /* unescaped */
    loa_buf_release(&t);
    loa_msg_free(m);
}

static void assert_render(const char *text, const struct loa_msg_person *p, const char *want)
{
    char *got = render_text(text, p);
    assert_string_equal(got, want);
    loa_free(got);
}

static const char *attr_cb(void *ctx, const char *name)
{
    (*(int *)ctx)++;
    if (strcmp(name, "city") == 0)
        return "Đà Nẵng";
    if (strcmp(name, "empty") == 0)
        return "";
    return NULL;
}

static void personalises_names_and_attributes(void **state)
{
    (void)state;
    const struct loa_msg_attr attrs[] = {
        { .name = "city", .value = "Huế" },
        { .name = "size", .value = "" },
        { .name = "bad", .value = "x\xff" },
    };
    struct loa_msg_person lan = {
        .first_name = "Lan", .last_name = "Nguyễn", .attrs = attrs, .attr_count = 3
    };
    assert_render("Chào {{first_name}} {{last_name}}!", &lan, "Chào Lan Nguyễn!");
    assert_render("{{full_name}}!", &lan, "Lan Nguyễn!");
    assert_render("Ở {{attr.city}}, cỡ {{attr.size|M}}, {{attr.bad|?}}, {{attr.none|-}}.", &lan,
                  "Ở Huế, cỡ M, ?, -.");
    assert_render("{{ first_name | bạn }}", &lan, "Lan");

    struct loa_msg_person first_only = { .first_name = "Lan" };
    assert_render("{{full_name|bạn}}!", &first_only, "Lan!");
    struct loa_msg_person last_only = { .last_name = "Nguyễn" };
    assert_render("{{full_name|bạn}}!", &last_only, "Nguyễn!");

    /* Missing values: the fallback, or nothing. */
    struct loa_msg_person nobody = { .first_name = "", .last_name = NULL };
    assert_render("Chào {{first_name|bạn}}{{last_name}}!", &nobody, "Chào bạn!");
    assert_render("Chào {{full_name| bạn thân}}!", NULL, "Chào  bạn thân!");
    assert_render("Chào {{first_name|}}!", NULL, "Chào !");

    /* A callback instead of the array. */
    int calls = 0;
    struct loa_msg_person cb = { .first_name = "An", .attr_cb = attr_cb, .attr_ctx = &calls };
    assert_render("{{attr.city}}/{{attr.empty|trống}}/{{attr.x|không}}", &cb,
                  "Đà Nẵng/trống/không");
    assert_int_equal(calls, 6); /* 3 by loa_msg_encode(), 3 by loa_msg_text() */

    /* Values are data: braces, quotes and backslashes are not interpreted. */
    struct loa_msg_person odd = { .first_name = "{{last_name}} \"q\" \\ \n" };
    assert_render("{{first_name}}.", &odd, "{{last_name}} \"q\" \\ \n.");
}

static void cuts_personalised_text_by_characters(void **state)
{
    (void)state;
    /* 1986 characters of literal text and a 14-character placeholder make exactly 2000 as
     * written; a 20-character name makes 2006, cut to 2000 by characters. */
    char *lit = repeat("ệ", 1986);
    char *text = fmt("%s{{first_name}}", lit);
    struct loa_msg_person p = { .first_name = "Nguyễn Thị Minh Khai" };
    char *got = render_text(text, &p);
    assert_true(loa_utf8_valid(got, strlen(got)));
    assert_int_equal(loa_utf8_count(got, strlen(got)), 2000);
    char *want = fmt("%sNguyễn Thị Min", lit);
    assert_string_equal(got, want);
    loa_free(got);
    loa_free(want);
    loa_free(text);

    /* A name placed first pushes the literal text over: the literal is cut. */
    text = fmt("{{first_name}}%s", lit);
    got = render_text(text, &p);
    assert_int_equal(loa_utf8_count(got, strlen(got)), 2000);
    want = fmt("Nguyễn Thị Minh Khai%.*s", (int)(1980 * strlen("ệ")), lit);
    assert_string_equal(got, want);
    loa_free(got);
    loa_free(want);
    loa_free(text);
    loa_free(lit);

    /* A fallback is cut the same way when another value took the room. */
    lit = repeat("ệ", 1967);
    text = fmt("{{first_name}}%s{{attr.x|ồồồồồồồồ}}", lit);
    struct loa_msg_person p28 = { .first_name = "Nguyễn Thị Minh Khai Lan Anh" };
    got = render_text(text, &p28);
    want = fmt("Nguyễn Thị Minh Khai Lan Anh%sồồồồồ", lit);
    assert_string_equal(got, want);
    loa_free(got);
    loa_free(want);
    loa_free(text);
    loa_free(lit);

    /* Card titles and subtitles are cut at 80 characters, button template text at 640. */
    char *t67 = repeat("ạ", 67), *t627 = repeat("ạ", 627), *long_attr = repeat("ư", 100);
    char *json =
        fmt("{\"blocks\":[{\"type\":\"cards\",\"elements\":[{\"title\":\"%s{{full_name}}\","
            "\"subtitle\":\"{{attr.s|-}}\"}]},{\"type\":\"buttons\",\"text\":"
            "\"%s{{full_name}}\",\"buttons\":[{\"type\":\"postback\",\"title\":\"a\","
            "\"payload\":\"a\"}]}]}",
            t67, t627);
    const struct loa_msg_attr attrs[] = { { .name = "s", .value = long_attr } };
    struct loa_msg_person full = {
        .first_name = "Minh Khai", .last_name = "Nguyễn Thị", .attrs = attrs, .attr_count = 1
    };
    char *body = encode(json, 0, &full, NULL);
    got = body_text(body, "message.attachment.payload.elements.0.title");
    want = fmt("%sMinh Khai Ngu", t67);
    assert_string_equal(got, want);
    loa_free(got);
    loa_free(want);
    got = body_text(body, "message.attachment.payload.elements.0.subtitle");
    want = repeat("ư", 80);
    assert_string_equal(got, want);
    loa_free(got);
    loa_free(want);
    loa_free(body);
    body = encode(json, 1, &full, NULL);
    got = body_text(body, "message.attachment.payload.text");
    want = fmt("%sMinh Khai Ngu", t627);
    assert_string_equal(got, want);
    loa_free(got);
    loa_free(want);
    loa_free(body);
    loa_free(json);
    loa_free(t67);
    loa_free(t627);
    loa_free(long_attr);
}

/* ---- escaping --------------------------------------------------------------------------- */

static void escapes_every_character(void **state)
{
    (void)state;
    /* Every control character, quotes, backslash, DEL, 2-, 3- and 4-byte characters,
     * U+2028 and U+2029, in a name and in the literal text. */
    struct loa_buf v;
    loa_buf_init(&v, 4096);
    for (int ch = 1; ch < 0x20; ch++)
        loa_buf_putc(&v, (char)ch);
    loa_buf_puts(&v, "\"\\/\x7f"
                     "ệ€😀\xe2\x80\xa8\xe2\x80\xa9<script>");
    const char *value = loa_buf_cstr(&v);
    struct loa_msg_person p = { .first_name = value };
    char *got = render_text("\\\"\\\\\\n\\t\\u0001\\u001f{{first_name}}\\u2028", &p);
    char *want = fmt("\"\\\n\t\x01\x1f%s\xe2\x80\xa8", value);
    assert_string_equal(got, want);
    loa_free(got);
    loa_free(want);

    /* The escaped body itself is pure JSON: no raw control character in it. */
    char *json = one_block("{\"type\":\"text\",\"text\":\"{{first_name}}\\n\"}");
    char *body = encode(json, 0, &p, NULL);
    for (const char *c = body; *c; c++)
        assert_true((unsigned char)*c >= 0x20);
    assert_non_null(strstr(body, "\\u0001\\u0002"));
    assert_non_null(strstr(body, "\\b\\t\\n\\u000b\\f\\r"));
    loa_free(body);
    loa_free(json);
    loa_buf_release(&v);
}

/* ---- send options ----------------------------------------------------------------------- */

static void encodes_send_options(void **state)
{
    (void)state;
    const char *json = "{\"blocks\":[{\"type\":\"text\",\"text\":\"Hi\"}]}";
    char *body = encode(json, 0, NULL,
                        &(struct loa_msg_send_opts){
                            .recipient_kind = LOA_MSG_TO_PSID,
                            .recipient = PSID,
                            .messaging_type = LOA_MSG_MESSAGE_TAG,
                            .tag = "HUMAN_AGENT",
                            .metadata = "delivery:7f3a\"x\"",
                            .notification_type = LOA_MSG_SILENT_PUSH,
                        });
    assert_string_equal(body, "{\"recipient\":{\"id\":\"" PSID "\"},\"messaging_type\":"
                              "\"MESSAGE_TAG\",\"tag\":\"HUMAN_AGENT\",\"message\":{\"text\":"
                              "\"Hi\",\"metadata\":\"delivery:7f3a\\\"x\\\"\"},"
                              "\"notification_type\":\"SILENT_PUSH\"}");
    loa_free(body);

    body = encode(json, 0, NULL,
                  &(struct loa_msg_send_opts){
                      .recipient_kind = LOA_MSG_TO_TOKEN,
                      .recipient = "tok-123",
                      .messaging_type = LOA_MSG_UPDATE,
                      .notification_type = LOA_MSG_NO_PUSH,
                  });
    assert_json_eq(body, "{\"recipient\":{\"notification_messages_token\":\"tok-123\"},"
                         "\"messaging_type\":\"UPDATE\",\"message\":{\"text\":\"Hi\"},"
                         "\"notification_type\":\"NO_PUSH\"}");
    loa_free(body);

    body = encode(json, 0, NULL,
                  &(struct loa_msg_send_opts){ .recipient = "1",
                                               .messaging_type = LOA_MSG_RESPONSE,
                                               .notification_type = LOA_MSG_NOTIFY_REGULAR });
    assert_json_eq(body, "{\"recipient\":{\"id\":\"1\"},\"messaging_type\":\"RESPONSE\","
                         "\"message\":{\"text\":\"Hi\"},\"notification_type\":\"REGULAR\"}");
    loa_free(body);
}

static void rejects_bad_options(void **state)
{
    (void)state;
    struct loa_msg *m = parse_ok("{\"blocks\":[{\"type\":\"text\",\"text\":\"Hi\"}]}");
    struct loa_buf b;
    loa_buf_init(&b, 1 << 16);
    loa_buf_puts(&b, "kept");
    char *m999 = repeat("ệ", 999), *m1000 = repeat("ệ", 1000);
    struct loa_msg_send_opts o = update_opts;

    o.metadata = m999;
    assert_int_equal(loa_msg_encode(m, 0, NULL, &o, &b), 0);
    assert_int_equal(strncmp(loa_buf_cstr(&b), "kept{\"recipient\"", 16), 0);
    loa_buf_reset(&b);
    loa_buf_puts(&b, "kept");
    o.metadata = m1000;
    assert_int_equal(loa_msg_encode(m, 0, NULL, &o, &b), LOA_EINVAL);
    o.metadata = "bad \xff";
    assert_int_equal(loa_msg_encode(m, 0, NULL, &o, &b), LOA_EINVAL);
    o = update_opts;
    o.messaging_type = LOA_MSG_MESSAGE_TAG;
    assert_int_equal(loa_msg_encode(m, 0, NULL, &o, &b), LOA_EINVAL);
    o = update_opts;
    o.tag = "HUMAN_AGENT";
    assert_int_equal(loa_msg_encode(m, 0, NULL, &o, &b), LOA_EINVAL);
    o = update_opts;
    o.recipient = NULL;
    assert_int_equal(loa_msg_encode(m, 0, NULL, &o, &b), LOA_EINVAL);
    o.recipient = "";
    assert_int_equal(loa_msg_encode(m, 0, NULL, &o, &b), LOA_EINVAL);
    assert_string_equal(loa_buf_cstr(&b), "kept");

    /* Past the buffer's cap: LOA_ETOOBIG and the buffer as it was. */
    struct loa_buf small;
    loa_buf_init(&small, 40);
    loa_buf_puts(&small, "kept");
    assert_int_equal(loa_msg_encode(m, 0, NULL, &update_opts, &small), LOA_ETOOBIG);
    assert_string_equal(loa_buf_cstr(&small), "kept");
    assert_int_equal(small.len, 4);
    loa_buf_release(&small);

    loa_free(m999);
    loa_free(m1000);
    loa_buf_release(&b);
    loa_msg_free(m);
}

/* The same message encoded many times from one parse gives the same bytes each time. */
static void encoding_is_repeatable(void **state)
{
    (void)state;
    struct loa_msg *m = parse_ok("{\"blocks\":[{\"type\":\"text\",\"text\":\"Chào "
                                 "{{first_name|bạn}}, mã của bạn: {{attr.code}}\"}]}");
    struct loa_buf b;
    loa_buf_init(&b, 4096);
    char name[32], code[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof(name), "Khách %d", i);
        snprintf(code, sizeof(code), "KM%04d", i);
        const struct loa_msg_attr attrs[] = { { .name = "code", .value = code } };
        struct loa_msg_person p = { .first_name = name, .attrs = attrs, .attr_count = 1 };
        char psid[32];
        snprintf(psid, sizeof(psid), "%d", 100000 + i);
        struct loa_msg_send_opts o = update_opts;
        o.recipient = psid;
        loa_buf_reset(&b);
        assert_int_equal(loa_msg_encode(m, 0, &p, &o, &b), 0);
        char *want = fmt("{\"recipient\":{\"id\":\"%s\"},\"messaging_type\":\"UPDATE\","
                         "\"message\":{\"text\":\"Chào %s, mã của bạn: %s\"}}",
                         psid, name, code);
        assert_string_equal(loa_buf_cstr(&b), want);
        loa_free(want);
    }
    loa_buf_release(&b);
    loa_msg_free(m);
}

int run_encode_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(encodes_text),
        cmocka_unit_test(text_of_other_blocks),
        cmocka_unit_test(encodes_text_with_quick_replies),
        cmocka_unit_test(encodes_media),
        cmocka_unit_test(encodes_cards),
        cmocka_unit_test(encodes_buttons),
        cmocka_unit_test(sendable_index_skips_wait_reply),
        cmocka_unit_test(personalises_names_and_attributes),
        cmocka_unit_test(cuts_personalised_text_by_characters),
        cmocka_unit_test(escapes_every_character),
        cmocka_unit_test(encodes_send_options),
        cmocka_unit_test(rejects_bad_options),
        cmocka_unit_test(encoding_is_repeatable),
    };
    return cmocka_run_group_tests_name("msg_encode", tests, NULL, NULL);
}
