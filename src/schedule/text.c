/* SPDX-License-Identifier: MIT */
/*
 * Text forms of the schedule module (include/loa/schedule.h): times of day, weekday lists,
 * whole windows and delay units, for the CLI, the REST API and the console. The parsers keep
 * going after a complaint so that one pass reports everything wrong, each with the byte
 * position (column) of what is wrong.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <loa/diag.h>
#include <loa/err.h>
#include <loa/schedule.h>

#define DAY_MIN 1440

static const char *const day_names[7] = { "mon", "tue", "wed", "thu", "fri", "sat", "sun" };

/* Every spelling of a weekday the parser accepts, and the day (0 Monday .. 6 Sunday). */
static const struct {
    const char *name;
    unsigned day;
} day_spellings[] = {
    { "mon", 0 },      { "tue", 1 },    { "wed", 2 },      { "thu", 3 },     { "fri", 4 },
    { "sat", 5 },      { "sun", 6 },    { "monday", 0 },   { "tuesday", 1 }, { "wednesday", 2 },
    { "thursday", 3 }, { "friday", 4 }, { "saturday", 5 }, { "sunday", 6 },  { "t2", 0 },
    { "t3", 1 },       { "t4", 2 },     { "t5", 3 },       { "t6", 4 },      { "t7", 5 },
    { "cn", 6 },
};

static const char *const unit_names[] = {
    [LOA_DELAY_SECONDS] = "seconds",
    [LOA_DELAY_MINUTES] = "minutes",
    [LOA_DELAY_HOURS] = "hours",
    [LOA_DELAY_DAYS] = "days",
};

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Narrows [*i, *j) of s to leave out spaces at both ends. */
static void trim(const char *s, size_t *i, size_t *j)
{
    while (*i < *j && is_space(s[*i]))
        (*i)++;
    while (*j > *i && is_space(s[*j - 1]))
        (*j)--;
}

/* Reads up to two digits at s[*i] (before end) into *v; false when there is none. */
static bool digits2(const char *s, size_t *i, size_t end, int *v)
{
    size_t k = *i;
    int n = 0;
    while (k < end && k - *i < 2 && is_digit(s[k]))
        n = n * 10 + (s[k++] - '0');
    if (k == *i)
        return false;
    *v = n;
    *i = k;
    return true;
}

/* Parses the time of day s[i, j) ("13:00", "9:30", "13h", "13h30"). Columns are 1-based. */
static bool time_at(const char *s, size_t i, size_t j, const char *where, struct loa_diags *diags,
                    int *out)
{
    int len = (int)(j - i);
    size_t k = i;
    int h = 0, m = 0;
    bool shape = digits2(s, &k, j, &h) && k < j;
    if (shape && s[k] == ':') {
        size_t at = ++k;
        shape = digits2(s, &k, j, &m) && k - at == 2;
    } else if (shape && (s[k] == 'h' || s[k] == 'H')) {
        size_t at = ++k;
        shape = k == j || (digits2(s, &k, j, &m) && k - at == 2);
    } else {
        shape = false;
    }
    if (!shape || k != j) {
        loa_diags_add(diags, 0, (long)i + 1, where,
                      "'%.*s' is not a time of day (HH:MM, such as 13:00, or 13h30)", len, s + i);
        return false;
    }
    if (h > 24) {
        loa_diags_add(diags, 0, (long)i + 1, where, "hour %d is out of range (0 to 24)", h);
        return false;
    }
    if (m > 59) {
        loa_diags_add(diags, 0, (long)i + 1, where, "minute %d is out of range (00 to 59)", m);
        return false;
    }
    if (h == 24 && m != 0) {
        loa_diags_add(diags, 0, (long)i + 1, where,
                      "'%.*s' is past the end of the day (24:00 at the latest)", len, s + i);
        return false;
    }
    *out = h * 60 + m;
    return true;
}

int loa_schedule_time_parse(const char *s, const char *where, int *min_out, struct loa_diags *diags)
{
    int min;
    if (!s || !time_at(s, 0, strlen(s), where, diags, &min))
        return LOA_EPARSE;
    *min_out = min;
    return 0;
}

void loa_schedule_time_format(int min, char *out, size_t size)
{
    if (min < 0 || min > DAY_MIN)
        min = 0;
    snprintf(out, size, "%02d:%02d", min / 60, min % 60);
}

/* The day named by s[i, j), or -1. */
static int day_at(const char *s, size_t i, size_t j)
{
    for (size_t n = 0; n < sizeof(day_spellings) / sizeof(day_spellings[0]); n++) {
        const char *name = day_spellings[n].name;
        if (strlen(name) == j - i && strncasecmp(name, s + i, j - i) == 0)
            return (int)day_spellings[n].day;
    }
    return -1;
}

/* One item of a weekday list, s[i, j) already trimmed: a day or a range of days. */
static bool weekday_item(const char *s, size_t i, size_t j, const char *where,
                         struct loa_diags *diags, unsigned *mask)
{
    if (i == j) {
        loa_diags_add(diags, 0, (long)i + 1, where, "empty item in the weekday list");
        return false;
    }
    const char *dash = memchr(s + i, '-', j - i);
    size_t a = i, b = dash ? (size_t)(dash - s) : j, c = b, d = j;
    trim(s, &a, &b);
    int first = day_at(s, a, b), last = first;
    bool ok = true;
    if (first < 0) {
        loa_diags_add(diags, 0, (long)a + 1, where,
                      "unknown weekday '%.*s' (mon to sun, or t2 to t7 and cn)", (int)(b - a),
                      s + a);
        ok = false;
    }
    if (dash) {
        c++;
        trim(s, &c, &d);
        last = day_at(s, c, d);
        if (last < 0) {
            loa_diags_add(diags, 0, (long)c + 1, where,
                          "unknown weekday '%.*s' (mon to sun, or t2 to t7 and cn)", (int)(d - c),
                          s + c);
            ok = false;
        }
    }
    if (!ok)
        return false;
    /* A range may wrap past Sunday: "fri-mon" is fri, sat, sun, mon. */
    for (int k = first;; k = (k + 1) % 7) {
        *mask |= 1u << k;
        if (k == last)
            break;
    }
    return true;
}

/* Parses the weekday list s[i, j). */
static bool weekdays_at(const char *s, size_t i, size_t j, const char *where,
                        struct loa_diags *diags, unsigned *out)
{
    size_t a = i, b = j;
    trim(s, &a, &b);
    if (a == b) {
        loa_diags_add(diags, 0, (long)a + 1, where,
                      "empty weekday list (leave the weekdays out for every day)");
        return false;
    }
    unsigned mask = 0;
    bool ok = true;
    for (size_t k = a; k <= b;) {
        const char *comma = memchr(s + k, ',', b - k);
        size_t e = comma ? (size_t)(comma - s) : b, x = k, y = e;
        trim(s, &x, &y);
        ok = weekday_item(s, x, y, where, diags, &mask) && ok;
        k = e + 1;
    }
    if (ok)
        *out = mask;
    return ok;
}

int loa_schedule_weekdays_parse(const char *s, const char *where, unsigned *mask_out,
                                struct loa_diags *diags)
{
    unsigned mask;
    if (!s || !weekdays_at(s, 0, strlen(s), where, diags, &mask))
        return LOA_EPARSE;
    *mask_out = mask;
    return 0;
}

void loa_schedule_weekdays_format(unsigned mask, char *out, size_t size)
{
    if ((mask & LOA_EVERY_DAY) == 0)
        mask = LOA_EVERY_DAY;
    size_t n = 0;
    if (size > 0)
        out[0] = '\0';
    for (int d = 0; d < 7; d++) {
        if (!(mask >> d & 1u))
            continue;
        int w = snprintf(out + n, size > n ? size - n : 0, "%s%s", n ? "," : "", day_names[d]);
        n += w > 0 ? (size_t)w : 0;
        if (n >= size)
            break;
    }
}

/* The dash between the two times: '-' or an en dash (U+2013, E2 80 93). Sets *len. */
static const char *find_dash(const char *s, size_t *len)
{
    for (const char *p = s; *p; p++) {
        if (*p == '-') {
            *len = 1;
            return p;
        }
        if (strncmp(p, "\xe2\x80\x93", 3) == 0) {
            *len = 3;
            return p;
        }
    }
    return NULL;
}

int loa_schedule_window_parse(const char *s, const char *where, struct loa_send_window *out,
                              struct loa_diags *diags)
{
    if (!s) {
        loa_diags_add(diags, 0, 0, where, "no window");
        return LOA_EPARSE;
    }
    size_t n = strlen(s), dash_len = 0;
    const char *dash = find_dash(s, &dash_len);
    if (!dash) {
        size_t a = 0, b = n;
        trim(s, &a, &b);
        loa_diags_add(diags, 0, (long)a + 1, where,
                      "'%s' is not a window (HH:MM-HH:MM, such as 13:00-20:00)", s);
        return LOA_EPARSE;
    }
    size_t fa = 0, fb = (size_t)(dash - s), ta = fb + dash_len, tb;
    trim(s, &fa, &fb);
    while (ta < n && is_space(s[ta]))
        ta++;
    for (tb = ta; tb < n && !is_space(s[tb]);)
        tb++;
    struct loa_send_window w = { 0 };
    bool ok = time_at(s, fa, fb, where, diags, &w.from_min);
    ok = time_at(s, ta, tb, where, diags, &w.to_min) && ok;
    size_t da = tb, db = n;
    trim(s, &da, &db);
    if (da < db)
        ok = weekdays_at(s, da, db, where, diags, &w.weekdays) && ok;
    if (!ok)
        return LOA_EPARSE;
    if (w.from_min == DAY_MIN) {
        loa_diags_add(diags, 0, (long)fa + 1, where,
                      "a window cannot open at 24:00 (write 00:00: it opens at midnight)");
        return LOA_EPARSE;
    }
    if (w.from_min == w.to_min) {
        loa_diags_add(diags, 0, (long)fa + 1, where,
                      "the window opens and closes at the same time (write 00:00-24:00 for all "
                      "day)");
        return LOA_EPARSE;
    }
    if (loa_schedule_window_check(&w, where, diags) < 0)
        return LOA_EPARSE;
    *out = w;
    return 0;
}

void loa_schedule_window_format(const struct loa_send_window *w, char *out, size_t size)
{
    char from[8], to[8], days[32] = "";
    bool all_day = w->from_min == w->to_min;
    loa_schedule_time_format(all_day ? 0 : w->from_min, from, sizeof(from));
    loa_schedule_time_format(all_day ? DAY_MIN : w->to_min, to, sizeof(to));
    unsigned mask = w->weekdays & LOA_EVERY_DAY;
    if (mask != 0 && mask != LOA_EVERY_DAY)
        loa_schedule_weekdays_format(mask, days, sizeof(days));
    snprintf(out, size, "%s-%s%s%s", from, to, *days ? " " : "", days);
}

const char *loa_schedule_unit_name(enum loa_delay_unit u)
{
    return (unsigned)u < sizeof(unit_names) / sizeof(unit_names[0]) ? unit_names[u] : "?";
}

int loa_schedule_unit_parse(const char *s, enum loa_delay_unit *out)
{
    if (!s)
        return LOA_EINVAL;
    size_t n = strlen(s);
    for (unsigned u = 0; u < sizeof(unit_names) / sizeof(unit_names[0]); u++) {
        size_t len = strlen(unit_names[u]);
        /* The plural, or the singular: the plural without its final s. */
        if ((n == len || n == len - 1) && strncasecmp(s, unit_names[u], n) == 0) {
            *out = (enum loa_delay_unit)u;
            return 0;
        }
    }
    return LOA_EINVAL;
}
