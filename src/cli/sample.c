/* SPDX-License-Identifier: MIT */
/*
 * Sample subscribers: Vietnamese names with diacritics, phone numbers in the formats people
 * really type, tags and a custom attribute. The same seed always gives the same file.
 */
#include "sample.h"

#include <stdbool.h>
#include <string.h>

static const char *const family[] = { "Nguyễn", "Trần", "Lê",    "Phạm", "Hoàng", "Huỳnh",
                                      "Phan",   "Vũ",   "Võ",    "Đặng", "Bùi",   "Đỗ",
                                      "Hồ",     "Ngô",  "Dương", "Lý" };
static const char *const given_m[] = { "An",   "Dũng", "Huy",  "Long", "Tuấn", "Bảo",
                                       "Phúc", "Khoa", "Minh", "Quân", "Sơn",  "Đức" };
static const char *const given_f[] = { "Bích", "Châu", "Hà",    "Lan", "Mai",   "Ngọc",
                                       "Thảo", "Linh", "Trang", "Yến", "Hương", "Nhung" };
static const char *const tags[] = { "vip",     "khach-moi",     "da-mua",    "ha-noi",
                                    "sai-gon", "quan-tam-giay", "flash-sale" };
static const char *const cities[] = { "Hà Nội",    "TP. Hồ Chí Minh", "Đà Nẵng",
                                      "Hải Phòng", "Cần Thơ",         "Huế" };
static const char *const mobile_prefix[] = { "32", "33", "34", "35", "36", "37", "38", "39",
                                             "70", "76", "77", "78", "79", "81", "82", "83",
                                             "84", "85", "86", "88", "89", "90", "91", "93",
                                             "94", "96", "97", "98", "99" };
static const char *const ascii_given[] = { "an",   "dung", "huy",  "long", "tuan", "bao",
                                           "phuc", "khoa", "minh", "quan", "son",  "duc" };

#define N(a) (sizeof(a) / sizeof((a)[0]))

static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

uint64_t loa_sample_next(uint64_t *state)
{
    return next(state);
}

void loa_sample_name(uint64_t *rng, struct loa_sample_name *out)
{
    out->female = next(rng) & 1;
    size_t gi = next(rng) % N(given_m);
    out->given = out->female ? given_f[gi] : given_m[gi];
    out->ascii_given = ascii_given[gi];
    out->family = family[next(rng) % N(family)];
}

void loa_sample_phone_e164(uint64_t *rng, char *out, size_t size)
{
    const char *p = mobile_prefix[next(rng) % N(mobile_prefix)];
    snprintf(out, size, "+84%s%07u", p, (unsigned)(next(rng) % 10000000u));
}

static void phone(FILE *out, uint64_t *rng)
{
    const char *p = mobile_prefix[next(rng) % N(mobile_prefix)];
    unsigned rest = (unsigned)(next(rng) % 10000000u);
    char d[8];
    snprintf(d, sizeof(d), "%07u", rest);
    switch (next(rng) % 5) {
    case 0: /* 0912 345 678 */
        fprintf(out, "0%s%.1s %.3s %.3s", p, d, d + 1, d + 4);
        break;
    case 1: /* +84 912 345 678 */
        fprintf(out, "+84 %s%.1s %.3s %.3s", p, d, d + 1, d + 4);
        break;
    case 2: /* 84912345678 */
        fprintf(out, "84%s%s", p, d);
        break;
    case 3: /* 0912.345.678 */
        fprintf(out, "0%s%.1s.%.3s.%.3s", p, d, d + 1, d + 4);
        break;
    default: /* 912345678: a spreadsheet dropped the leading zero */
        fprintf(out, "%s%s", p, d);
        break;
    }
}

void loa_sample_write_csv(FILE *out, const struct loa_sample_opts *o)
{
    uint64_t rng = o->seed * 1000003u + 17u;
    fputs("psid,first_name,last_name,phone,email,gender,tags,city\n", out);
    for (uint64_t i = 0; i < o->count; i++) {
        struct loa_sample_name nm;
        loa_sample_name(&rng, &nm);
        bool female = nm.female;
        const char *given = nm.given, *fam = nm.family;
        unsigned mistake = o->invalid_percent && next(&rng) % 100 < o->invalid_percent
                               ? (unsigned)(next(&rng) % 3) + 1
                               : 0;
        /* psid: 16 digits, unique per row and seed */
        if (mistake != 3)
            fprintf(out, "%llu",
                    (unsigned long long)(2400000000000000ull + o->seed * 10000000ull + i));
        fprintf(out, ",%s,%s,", given, fam);
        if (mistake == 1)
            fputs("09xx 123", out);
        else if (mistake != 3 && next(&rng) % 10 < 8)
            phone(out, &rng);
        fputc(',', out);
        if (mistake == 2)
            fprintf(out, "%s.at.gmail.com", nm.ascii_given);
        else if (next(&rng) % 10 < 3)
            fprintf(out, "%s%llu@gmail.com", nm.ascii_given, (unsigned long long)(i % 9973));
        fputc(',', out);
        if (next(&rng) % 10 < 9)
            fputs(female ? "nữ" : "nam", out);
        fputc(',', out);
        unsigned ntags = (unsigned)(next(&rng) % 4);
        if (ntags > 1)
            fputc('"', out);
        uint64_t used = 0;
        for (unsigned k = 0; k < ntags; k++) {
            size_t t = next(&rng) % N(tags);
            if (used & (1u << t))
                continue;
            fprintf(out, "%s%s", used ? "," : "", tags[t]);
            used |= 1u << t;
        }
        if (ntags > 1)
            fputc('"', out);
        fprintf(out, ",%s\n", cities[next(&rng) % N(cities)]);
    }
}
