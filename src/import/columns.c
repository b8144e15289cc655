/* SPDX-License-Identifier: MIT */
/*
 * What a column header means, in English and Vietnamese, with or without diacritics, in any
 * case and spacing (headers are compared by loa_text_header_key()), and the separator of a
 * file. The table is the one documented in docs/import.md: keep them together.
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <loa/alloc.h>
#include <loa/import.h>
#include <loa/text.h>

struct alias {
    const char *key; /* a header key: lower case, no diacritics, single spaces */
    enum loa_import_field field;
    const char *attr; /* LOA_IMPORT_ATTR: the attribute's name */
};

static const struct alias aliases[] = {
    { "psid", LOA_IMPORT_PSID, NULL },
    { "page scoped id", LOA_IMPORT_PSID, NULL },
    { "messenger id", LOA_IMPORT_PSID, NULL },
    { "id messenger", LOA_IMPORT_PSID, NULL },

    { "first name", LOA_IMPORT_FIRST_NAME, NULL },
    { "firstname", LOA_IMPORT_FIRST_NAME, NULL },
    { "given name", LOA_IMPORT_FIRST_NAME, NULL },
    { "ten rieng", LOA_IMPORT_FIRST_NAME, NULL },
    { "ten goi", LOA_IMPORT_FIRST_NAME, NULL },

    { "last name", LOA_IMPORT_LAST_NAME, NULL },
    { "lastname", LOA_IMPORT_LAST_NAME, NULL },
    { "surname", LOA_IMPORT_LAST_NAME, NULL },
    { "family name", LOA_IMPORT_LAST_NAME, NULL },
    { "ho", LOA_IMPORT_LAST_NAME, NULL },
    { "ho dem", LOA_IMPORT_LAST_NAME, NULL },
    { "ho va ten dem", LOA_IMPORT_LAST_NAME, NULL },

    /* "Tên" alone: the given name beside a "Họ" column, else the full name (below). */
    { "ten", LOA_IMPORT_FULL_NAME, NULL },
    { "name", LOA_IMPORT_FULL_NAME, NULL },
    { "full name", LOA_IMPORT_FULL_NAME, NULL },
    { "fullname", LOA_IMPORT_FULL_NAME, NULL },
    { "customer name", LOA_IMPORT_FULL_NAME, NULL },
    { "ho va ten", LOA_IMPORT_FULL_NAME, NULL },
    { "ho ten", LOA_IMPORT_FULL_NAME, NULL },
    { "ten day du", LOA_IMPORT_FULL_NAME, NULL },
    { "ten khach hang", LOA_IMPORT_FULL_NAME, NULL },
    { "ten khach", LOA_IMPORT_FULL_NAME, NULL },
    { "ten kh", LOA_IMPORT_FULL_NAME, NULL },
    { "khach hang", LOA_IMPORT_FULL_NAME, NULL },

    { "phone", LOA_IMPORT_PHONE, NULL },
    { "phone number", LOA_IMPORT_PHONE, NULL },
    { "mobile", LOA_IMPORT_PHONE, NULL },
    { "mobile phone", LOA_IMPORT_PHONE, NULL },
    { "tel", LOA_IMPORT_PHONE, NULL },
    { "telephone", LOA_IMPORT_PHONE, NULL },
    { "sdt", LOA_IMPORT_PHONE, NULL },
    { "so dt", LOA_IMPORT_PHONE, NULL },
    { "so dien thoai", LOA_IMPORT_PHONE, NULL },
    { "dien thoai", LOA_IMPORT_PHONE, NULL },
    { "di dong", LOA_IMPORT_PHONE, NULL },
    { "so di dong", LOA_IMPORT_PHONE, NULL },
    { "dtdd", LOA_IMPORT_PHONE, NULL },

    { "email", LOA_IMPORT_EMAIL, NULL },
    { "e mail", LOA_IMPORT_EMAIL, NULL },
    { "mail", LOA_IMPORT_EMAIL, NULL },
    { "dia chi email", LOA_IMPORT_EMAIL, NULL },
    { "thu dien tu", LOA_IMPORT_EMAIL, NULL },

    { "gender", LOA_IMPORT_GENDER, NULL },
    { "sex", LOA_IMPORT_GENDER, NULL },
    { "gioi tinh", LOA_IMPORT_GENDER, NULL },
    { "phai", LOA_IMPORT_GENDER, NULL },

    { "locale", LOA_IMPORT_LOCALE, NULL },
    { "language", LOA_IMPORT_LOCALE, NULL },
    { "ngon ngu", LOA_IMPORT_LOCALE, NULL },

    { "tags", LOA_IMPORT_TAGS, NULL },
    { "tag", LOA_IMPORT_TAGS, NULL },
    { "labels", LOA_IMPORT_TAGS, NULL },
    { "label", LOA_IMPORT_TAGS, NULL },
    { "nhan", LOA_IMPORT_TAGS, NULL },
    { "the", LOA_IMPORT_TAGS, NULL },
    { "the tag", LOA_IMPORT_TAGS, NULL },

    { "birthday", LOA_IMPORT_ATTR, "birthday" },
    { "date of birth", LOA_IMPORT_ATTR, "birthday" },
    { "dob", LOA_IMPORT_ATTR, "birthday" },
    { "ngay sinh", LOA_IMPORT_ATTR, "birthday" },
    { "sinh nhat", LOA_IMPORT_ATTR, "birthday" },
    { "address", LOA_IMPORT_ATTR, "address" },
    { "dia chi", LOA_IMPORT_ATTR, "address" },
    { "city", LOA_IMPORT_ATTR, "city" },
    { "province", LOA_IMPORT_ATTR, "city" },
    { "thanh pho", LOA_IMPORT_ATTR, "city" },
    { "tinh thanh", LOA_IMPORT_ATTR, "city" },
    { "tinh thanh pho", LOA_IMPORT_ATTR, "city" },
    { "tinh", LOA_IMPORT_ATTR, "city" },
    { "note", LOA_IMPORT_ATTR, "note" },
    { "notes", LOA_IMPORT_ATTR, "note" },
    { "ghi chu", LOA_IMPORT_ATTR, "note" },
    { "customer code", LOA_IMPORT_ATTR, "customer_code" },
    { "customer id", LOA_IMPORT_ATTR, "customer_code" },
    { "ma khach hang", LOA_IMPORT_ATTR, "customer_code" },
    { "ma kh", LOA_IMPORT_ATTR, "customer_code" },
    { "last purchase", LOA_IMPORT_ATTR, "last_purchase" },
    { "ngay mua cuoi", LOA_IMPORT_ATTR, "last_purchase" },
    { "lan mua cuoi", LOA_IMPORT_ATTR, "last_purchase" },
    { "total spent", LOA_IMPORT_NUMBER, "total_spent" },
    { "spent", LOA_IMPORT_NUMBER, "total_spent" },
    { "tong chi tieu", LOA_IMPORT_NUMBER, "total_spent" },
    { "tong tien", LOA_IMPORT_NUMBER, "total_spent" },
    { "tong mua", LOA_IMPORT_NUMBER, "total_spent" },
    { "tong ban", LOA_IMPORT_NUMBER, "total_spent" },
    { "doanh so", LOA_IMPORT_NUMBER, "total_spent" },
    { "orders", LOA_IMPORT_NUMBER, "orders" },
    { "so don", LOA_IMPORT_NUMBER, "orders" },
    { "so don hang", LOA_IMPORT_NUMBER, "orders" },
    { "tong don", LOA_IMPORT_NUMBER, "orders" },
    { "tong so don", LOA_IMPORT_NUMBER, "orders" },
    { "points", LOA_IMPORT_NUMBER, "points" },
    { "diem", LOA_IMPORT_NUMBER, "points" },
    { "diem tich luy", LOA_IMPORT_NUMBER, "points" },

    /* Written by `loa subscribers export`; only Messenger events may set them. */
    { "id", LOA_IMPORT_IGNORED, NULL },
    { "first seen at", LOA_IMPORT_IGNORED, NULL },
    { "last interaction at", LOA_IMPORT_IGNORED, NULL },
    { "last interaction kind", LOA_IMPORT_IGNORED, NULL },
    { "unreachable", LOA_IMPORT_IGNORED, NULL },
};

enum loa_import_field loa_import_header(const char *header, const char **attr_out)
{
    char *key = loa_text_header_key(header);
    enum loa_import_field f = LOA_IMPORT_ATTR;
    *attr_out = NULL;
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
        if (strcmp(key, aliases[i].key) == 0) {
            f = aliases[i].field;
            *attr_out = aliases[i].attr;
            break;
        }
    }
    loa_free(key);
    return f;
}

const char *loa_import_field_name(enum loa_import_field f)
{
    static const char *const names[] = {
        [LOA_IMPORT_PSID] = "psid",           [LOA_IMPORT_FIRST_NAME] = "first_name",
        [LOA_IMPORT_LAST_NAME] = "last_name", [LOA_IMPORT_FULL_NAME] = "full_name",
        [LOA_IMPORT_PHONE] = "phone",         [LOA_IMPORT_EMAIL] = "email",
        [LOA_IMPORT_GENDER] = "gender",       [LOA_IMPORT_LOCALE] = "locale",
        [LOA_IMPORT_TAGS] = "tags",           [LOA_IMPORT_IGNORED] = "ignored",
        [LOA_IMPORT_ATTR] = "attribute",      [LOA_IMPORT_NUMBER] = "number",
    };
    return (size_t)f < sizeof(names) / sizeof(names[0]) ? names[f] : "?";
}

char loa_import_separator(const char *buf, size_t len)
{
    size_t comma = 0, semi = 0, tab = 0;
    bool quoted = false;
    size_t i = len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    for (; i < len; i++) {
        char c = buf[i];
        if (c == '"')
            quoted = !quoted;
        else if (quoted)
            continue;
        else if (c == '\n' || c == '\r')
            break;
        else if (c == ',')
            comma++;
        else if (c == ';')
            semi++;
        else if (c == '\t')
            tab++;
    }
    if (semi > comma && semi >= tab)
        return ';';
    if (tab > comma && tab > semi)
        return '\t';
    return ',';
}

void loa_import_split_name(char *full, char **first_out, char **last_out)
{
    /* Trim, then the last word is the given name; what comes before (family and middle
     * names) is the last name, spaces between words made single. */
    char *w = full, *o = full;
    bool space = false;
    for (; *w; w++) {
        if (*w == ' ' || *w == '\t') {
            space = o != full;
            continue;
        }
        if (space)
            *o++ = ' ';
        space = false;
        *o++ = *w;
    }
    *o = '\0';
    char *sp = strrchr(full, ' ');
    if (!sp) {
        *first_out = *full ? full : NULL;
        *last_out = NULL;
        return;
    }
    *sp = '\0';
    *first_out = sp + 1;
    *last_out = full;
}
