/* SPDX-License-Identifier: MIT */
/*
 * loa simulate: Pages full of simulated people, in loa's store and in the loa-graph emulator,
 * for the demo, the crash test and the benchmarks.
 *
 * Each person is drawn from a generator seeded by (seed, Page index, person index), so the same
 * seed gives the same people whatever N and M are; times are offsets from now. For each Page,
 * loa-graph learns the Page and its people first (bulk admin API), then loa's store gets them in
 * one transaction: their webhooks go through the intake service as synthetic events (a message
 * at first seen, one at the last interaction: the one path that writes people from events),
 * then the Graph profile, phone and email, tags.
 *
 * The HTTP here (libcurl easy, loa_sim_http) only talks to loa-graph's admin API
 * (/_admin/pages, /_admin/people, /_admin/stats, /_admin/config), which the Graph client
 * (include/loa/client.h: Send API and profiles) does not cover.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include <loa/alloc.h>
#include <loa/buf.h>
#include <loa/campaign.h>
#include <loa/clock.h>
#include <loa/config.h>
#include <loa/err.h>
#include <loa/intake.h>
#include <loa/store.h>

#include "common.h"
#include "sample.h"
#include "simulate.h"

#define MINUTE_MS     60000LL
#define HOUR_MS       (60 * MINUTE_MS)
#define DAY_MS        (24 * HOUR_MS)
#define GRAPH_CHUNK   20000                /* people per POST /_admin/people */
#define GRAPH_BODY    ((size_t)64 << 20)   /* loa-graph's request body limit */
#define ANSWER_MAX    ((size_t)4 << 20)    /* largest answer read from loa-graph */
#define CAMPAIGN_MAX  ((size_t)256 * 1024) /* --campaign file */
#define HTTP_TIMEOUT  120L                 /* seconds */
#define ACTIVATED_AGO (90 * DAY_MS)
#define INTAKE_CHUNK  256                    /* people per intake step */
#define SIM_PAYLOAD   "{\"simulated\":true}" /* the raw event kept for each */

static const char *const sim_tags[] = { "khach-quen", "vip",         "ha-noi",
                                        "tp-hcm",     "da-mua-hang", "moi" };
enum {
    TAG_REGULAR,
    TAG_VIP,
    TAG_HANOI,
    TAG_HCM,
    TAG_BOUGHT,
    TAG_NEW,
    NTAGS
};

struct sim_person {
    char psid[48];
    struct loa_sample_name name;
    char phone[20]; /* "" = none */
    char email[64]; /* "" = none */
    int64_t first_seen;
    int64_t last_at;
    unsigned tags; /* bit t = sim_tags[t] */
};

/* ---- HTTP to loa-graph ------------------------------------------------------------------ */

static size_t collect(char *data, size_t size, size_t n, void *ud)
{
    return loa_buf_append(ud, data, size * n) == 0 ? size * n : 0;
}

static int http_do(CURL *h, const char *base, const char *path, const char *body, long *status_out,
                   char **resp_out, char *err_out)
{
    size_t blen = strlen(base);
    while (blen && base[blen - 1] == '/')
        blen--;
    struct loa_buf url, answer;
    loa_buf_init(&url, 8192);
    loa_buf_init(&answer, ANSWER_MAX);
    int rc = 0;
    if (loa_buf_printf(&url, "%.*s%s", (int)blen, base, path) < 0) {
        snprintf(err_out, 256, "URL too long");
        rc = LOA_ENET;
        goto out;
    }
    char curl_err[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, "Expect:");
    curl_easy_setopt(h, CURLOPT_URL, loa_buf_cstr(&url));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &answer);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, HTTP_TIMEOUT);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    } else {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }
    CURLcode cc = curl_easy_perform(h);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(hdrs);
    if (cc != CURLE_OK) {
        snprintf(err_out, 256, "%.120s: %.120s", loa_buf_cstr(&url),
                 curl_err[0] ? curl_err : curl_easy_strerror(cc));
        rc = LOA_ENET;
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status_out);
    if (resp_out)
        *resp_out = loa_buf_detach(&answer);
out:
    loa_buf_release(&url);
    loa_buf_release(&answer);
    return rc;
}

int loa_sim_http(const char *graph_url, const char *path, const char *body, long *status_out,
                 char **resp_out, char *err_out)
{
    CURL *h = curl_easy_init();
    if (!h) {
        snprintf(err_out, 256, "cannot initialise libcurl");
        return LOA_ENET;
    }
    int rc = http_do(h, graph_url, path, body, status_out, resp_out, err_out);
    curl_easy_cleanup(h);
    return rc;
}

/* POSTs to loa-graph; on failure prints what and why (loa-graph's field and message). */
static int graph_post(struct loa_cli *cli, const struct loa_sim_opts *o, CURL *h,
                      const char *page_id, const char *path, const char *body, const char *what)
{
    long status = 0;
    char *answer = NULL, err[256];
    int rc = http_do(h, o->graph_url, path, body, &status, &answer, err);
    if (rc < 0) {
        fprintf(cli->err, "loa %s: Page %s: cannot send %s to loa-graph (graph.url): %s\n", o->cmd,
                page_id, what, err);
        return rc;
    }
    if (status != 200 && status != 201) {
        json_t *root = json_loads(answer, 0, NULL);
        json_t *e = json_object_get(root, "error");
        const char *msg = json_string_value(json_object_get(e, "message"));
        const char *field = json_string_value(json_object_get(e, "field"));
        fprintf(cli->err, "loa %s: Page %s: loa-graph refused %s (HTTP %ld)%s%s: %s\n", o->cmd,
                page_id, what, status, field ? " at " : "", field ? field : "",
                msg ? msg : "(no error message; is graph.url a loa-graph emulator?)");
        json_decref(root);
        rc = LOA_EIO;
    }
    loa_free(answer);
    return rc;
}

/* ---- People ----------------------------------------------------------------------------- */

static uint64_t person_seed(uint64_t seed, int64_t page_index, int64_t i)
{
    uint64_t s = seed ^ 0x5a17c0de5eedULL;
    s = loa_sample_next(&s) ^ ((uint64_t)page_index * 0x100000001b3ULL);
    s = loa_sample_next(&s) ^ (uint64_t)i;
    return loa_sample_next(&s);
}

static int64_t draw(uint64_t *rng, int64_t span)
{
    return span > 0 ? (int64_t)(loa_sample_next(rng) % (uint64_t)span) : 0;
}

static void make_person(const struct loa_sim_opts *o, int64_t k, int64_t i, int64_t activated,
                        struct sim_person *p)
{
    uint64_t rng = person_seed(o->seed, k, i);
    memset(p, 0, sizeof(*p));
    snprintf(p->psid, sizeof(p->psid), "24%05lld%09lld", (long long)k, (long long)i + 1);
    loa_sample_name(&rng, &p->name);
    bool outside = draw(&rng, 100) < (int64_t)o->outside_percent;
    int64_t last_ago = outside ? 2 * DAY_MS + draw(&rng, 58 * DAY_MS)
                               : MINUTE_MS + draw(&rng, 20 * HOUR_MS - MINUTE_MS);
    p->last_at = o->now - last_ago;
    /* About 3 % were first seen before loa served the Page: no structured messages for them. */
    if (draw(&rng, 100) < 3)
        p->first_seen = activated - DAY_MS - draw(&rng, 365 * DAY_MS);
    else
        p->first_seen = activated + draw(&rng, p->last_at - activated - MINUTE_MS);
    if (draw(&rng, 100) < 60)
        loa_sample_phone_e164(&rng, p->phone, sizeof(p->phone));
    if (draw(&rng, 100) < 30)
        snprintf(p->email, sizeof(p->email), "%s%lld@gmail.com", p->name.ascii_given,
                 (long long)(1000 + draw(&rng, 9000)));
    /* Tags that overlap as a shop's do: regulars have bought, VIPs are regulars, new people
       are rarely regulars; one city at most. */
    int64_t city = draw(&rng, 100), r_bought = draw(&rng, 100), r_regular = draw(&rng, 100),
            r_vip = draw(&rng, 100), r_new = draw(&rng, 100);
    if (city < 40)
        p->tags |= 1u << TAG_HANOI;
    else if (city < 75)
        p->tags |= 1u << TAG_HCM;
    bool bought = r_bought < 45;
    bool regular = bought ? r_regular < 50 : r_regular < 4;
    bool vip = regular ? r_vip < 35 : r_vip < 2;
    bool recent = p->first_seen >= o->now - 14 * DAY_MS;
    if (bought)
        p->tags |= 1u << TAG_BOUGHT;
    if (regular)
        p->tags |= 1u << TAG_REGULAR;
    if (vip)
        p->tags |= 1u << TAG_VIP;
    if (recent && !regular && r_new < 80)
        p->tags |= 1u << TAG_NEW;
}

/* Appends one chunk of people as a bulk load for loa-graph. */
static int graph_people_json(const char *page_id, const struct sim_person *v, size_t n,
                             struct loa_buf *b)
{
    loa_buf_reset(b);
    int rc = loa_buf_puts(b, "{\"people\":[");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const struct sim_person *p = &v[i];
        /* Every string here is digits or comes from the sample tables: nothing to escape. */
        rc = loa_buf_printf(b,
                            "%s{\"page_id\":\"%s\",\"psid\":\"%s\",\"first_name\":\"%s\","
                            "\"last_name\":\"%s\",\"gender\":\"%s\",\"locale\":\"vi_VN\","
                            "\"timezone\":7,\"last_action_at\":%lld,"
                            "\"last_action_kind\":\"message\"}",
                            i ? "," : "", page_id, p->psid, p->name.given, p->name.family,
                            p->name.female ? "female" : "male", (long long)p->last_at);
    }
    if (rc == 0)
        rc = loa_buf_puts(b, "]}");
    return rc;
}

/* ---- One Page --------------------------------------------------------------------------- */

struct page_job {
    const struct loa_sim_opts *o;
    int64_t index; /* 0-based */
    char page_id[24];
    char name[256];
    char token[80];
    int64_t activated;
    struct sim_person *people;
};

/*
 * The people's webhooks, through the same intake path as `loa serve` (include/loa/intake.h):
 * for each person a message at first seen and one at the last interaction, as synthetic
 * events (no JSON, no HTTP), applied in the caller's transaction in chunks.
 */
static int feed_intake(struct loa_txn *tx, const struct page_job *j)
{
    struct loa_intake_event *ev = loa_calloc(2 * INTAKE_CHUNK, sizeof(*ev));
    char(*keys)[128] = loa_calloc(2 * INTAKE_CHUNK, sizeof(*keys));
    int rc = 0;
    for (int64_t at = 0; rc == 0 && at < j->o->people; at += INTAKE_CHUNK) {
        size_t n = 0;
        for (int64_t i = at; i < j->o->people && i < at + INTAKE_CHUNK; i++) {
            const struct sim_person *p = &j->people[i];
            const int64_t times[2] = { p->first_seen, p->last_at };
            for (int t = 0; t < 2; t++, n++) {
                snprintf(keys[n], sizeof(keys[n]), "sim:%s:%s:%lld", j->page_id, p->psid,
                         (long long)times[t]);
                ev[n] = (struct loa_intake_event){ .kind = LOA_INTAKE_MESSAGE,
                                                   .page_id = j->page_id,
                                                   .psid = p->psid,
                                                   .at = times[t],
                                                   .key = keys[n],
                                                   .payload = SIM_PAYLOAD };
            }
        }
        struct loa_intake_result res;
        /* Past history, not live events: no sequence is entered by it (NULL). */
        rc = loa_intake_apply_step(tx, NULL, ev, n, &res);
        loa_intake_result_release(&res);
    }
    loa_free(ev);
    loa_free(keys);
    return rc;
}

/* Writes the Page, its people and its campaign in the caller's transaction. *what_out names
   the step that failed. */
static int store_page(struct loa_txn *tx, struct page_job *j, struct loa_sim_page *res,
                      const char **what_out)
{
    struct loa_store *st = loa_txn_store(tx);
    const struct loa_sim_opts *o = j->o;
    struct loa_page page = { 0 };
    bool exists = loa_store_page_get(st, j->page_id, &page) == 0;
    loa_page_release(&page);
    /* New Pages get the default cap, existing ones keep theirs unless asked. */
    struct loa_page_input in = {
        .page_id = j->page_id,
        .name = j->name,
        .access_token = j->token,
        .timezone = exists ? NULL : o->timezone,
        .activated_at = j->activated,
        .daily_cap = o->daily_cap > 0 ? o->daily_cap
                     : exists         ? -1
                                      : o->default_daily_cap,
        .plan_quota = -1,
        .send_rate = o->send_rate,
    };
    int rc;
    *what_out = "the Page";
    if ((rc = loa_store_page_put(tx, &in, loa_now_ms(), NULL)) < 0 ||
        (rc = loa_store_page_get(st, j->page_id, &page)) < 0)
        return rc;
    res->page_ref = page.id;
    loa_page_release(&page);
    int64_t tag_ids[NTAGS];
    *what_out = "tags";
    for (int t = 0; t < NTAGS; t++)
        if ((rc = loa_store_tag_ensure(tx, res->page_ref, sim_tags[t], &tag_ids[t])) < 0)
            return rc;
    *what_out = "people";
    if ((rc = feed_intake(tx, j)) < 0)
        return rc;
    for (int64_t i = 0; i < o->people; i++) {
        struct sim_person *p = &j->people[i];
        int64_t id;
        struct loa_window w;
        char *kind;
        rc = loa_store_window_get(st, res->page_ref, p->psid, &id, &w, &kind);
        loa_free(kind);
        if (rc < 0)
            return rc;
        if (!id)
            return LOA_ESTORE; /* intake wrote every person: cannot happen */
        struct loa_profile_input prof = { .first_name = p->name.given,
                                          .last_name = p->name.family,
                                          .locale = "vi_VN",
                                          .gender = p->name.female ? "female" : "male",
                                          .utc_offset_min = 7 * 60,
                                          .at = p->first_seen };
        if ((rc = loa_store_subscriber_set_profile(tx, id, &prof)) < 0)
            return rc;
        if (p->phone[0] || p->email[0]) {
            struct loa_subscriber s = { .page_ref = res->page_ref,
                                        .psid = p->psid,
                                        .phone = p->phone[0] ? p->phone : NULL,
                                        .email = p->email[0] ? p->email : NULL,
                                        .utc_offset_min = LOA_UTC_OFFSET_UNKNOWN };
            enum loa_upsert_result ur;
            if ((rc = loa_store_subscriber_upsert(tx, &s, LOA_UPSERT_NO_CONTACTS, loa_now_ms(), &ur,
                                                  &id)) < 0)
                return rc;
        }
        for (int k = 0; k < NTAGS; k++)
            if ((p->tags & (1u << k)) && (rc = loa_store_tag_add(tx, id, tag_ids[k], NULL)) < 0)
                return rc;
    }
    res->people = o->people;
    if (o->campaign) {
        *what_out = "the campaign";
        struct loa_campaign_input c = { .name = "Simulated campaign",
                                        .goal = "promotion",
                                        .purpose = "promotional",
                                        .blocks = o->campaign,
                                        .filter = "{}",
                                        .scheduled_at = 0,
                                        .window_from_min = -1,
                                        .window_to_min = -1 };
        if ((rc = loa_store_campaign_create(tx, res->page_ref, &c, o->now, &res->campaign_id)) < 0)
            return rc;
    }
    return 0;
}

static int sim_page(struct loa_cli *cli, struct loa_store *st, CURL *h, struct page_job *j,
                    struct loa_buf *body, struct loa_sim_page *res)
{
    const struct loa_sim_opts *o = j->o;
    unsigned char raw[32];
    char hex[65];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
    snprintf(j->token, sizeof(j->token), "EAA%s", hex);
    sodium_memzero(raw, sizeof(raw));
    if (o->page_name)
        snprintf(j->name, sizeof(j->name), "%s", o->page_name);
    else
        snprintf(j->name, sizeof(j->name), "Simulated shop %lld", (long long)j->index + 1);
    for (int64_t i = 0; i < o->people; i++)
        make_person(o, j->index, i, j->activated, &j->people[i]);

    /* loa-graph first: when it fails, loa's store is not touched. */
    json_t *pj =
        json_pack("{s:s,s:s,s:s}", "id", j->page_id, "name", j->name, "access_token", j->token);
    if (o->app_secret && *o->app_secret)
        json_object_set_new(pj, "app_secret", json_string(o->app_secret));
    char *pbody = json_dumps(pj, JSON_COMPACT);
    json_decref(pj);
    int rc = graph_post(cli, o, h, j->page_id, "/_admin/pages", pbody, "the Page");
    sodium_memzero(pbody, strlen(pbody));
    free(pbody); /* jansson allocates with malloc */
    for (int64_t at = 0; rc == 0 && at < o->people; at += GRAPH_CHUNK) {
        size_t n = (size_t)(o->people - at < GRAPH_CHUNK ? o->people - at : GRAPH_CHUNK);
        if (graph_people_json(j->page_id, j->people + at, n, body) < 0) {
            fprintf(cli->err, "loa %s: Page %s: people do not fit in one request\n", o->cmd,
                    j->page_id);
            return LOA_EXIT_SOFTWARE;
        }
        rc = graph_post(cli, o, h, j->page_id, "/_admin/people", loa_buf_cstr(body), "people");
    }
    if (rc < 0)
        return LOA_EXIT_IOERR;

    const char *what = "the Page";
    struct loa_txn *tx;
    rc = loa_store_begin(st, &tx);
    if (rc == 0)
        rc = loa_store_end(tx, store_page(tx, j, res, &what));
    if (rc < 0) {
        fprintf(cli->err, "loa %s: Page %s: cannot store %s: %s (nothing stored for this Page)\n",
                o->cmd, j->page_id, what, loa_strerror(rc));
        return LOA_EXIT_IOERR;
    }
    if (o->campaign && o->start) {
        rc = loa_campaign_start(st, res->campaign_id, o->now, &res->snapshot);
        if (rc < 0) {
            fprintf(cli->err, "loa %s: Page %s: cannot start campaign %lld: %s\n", o->cmd,
                    j->page_id, (long long)res->campaign_id, loa_strerror(rc));
            return LOA_EXIT_IOERR;
        }
    }
    return LOA_EXIT_OK;
}

/* Checks the campaign's message; prints every complaint with its JSON path. */
static int check_campaign(struct loa_cli *cli, const struct loa_sim_opts *o)
{
    if (!o->campaign)
        return LOA_EXIT_OK;
    struct loa_diags d;
    loa_diags_init(&d, 50);
    int rc = loa_campaign_validate(NULL, "promotion", o->campaign, NULL, "promotional", NULL,
                                   o->now, &d);
    if (rc < 0) {
        char prefix[512];
        snprintf(prefix, sizeof(prefix), "loa %s: %s", o->cmd,
                 o->campaign_source ? o->campaign_source : "campaign");
        loa_diags_print(&d, cli->err, prefix);
        fprintf(cli->err, "loa %s: the campaign's message is invalid; nothing was written\n",
                o->cmd);
    }
    loa_diags_release(&d);
    return rc < 0 ? LOA_EXIT_DATAERR : LOA_EXIT_OK;
}

int loa_sim_run(struct loa_cli *cli, struct loa_store *st, const struct loa_sim_opts *o,
                struct loa_sim_page *out, int64_t *done_out)
{
    *done_out = 0;
    int exit = check_campaign(cli, o);
    if (exit)
        return exit;
    if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(cli->err, "loa %s: cannot initialise libsodium or libcurl\n", o->cmd);
        return LOA_EXIT_SOFTWARE;
    }
    CURL *h = curl_easy_init();
    struct page_job j = { .o = o, .activated = o->now - ACTIVATED_AGO };
    j.people = loa_calloc(o->people ? (size_t)o->people : 1, sizeof(*j.people));
    struct loa_buf body;
    loa_buf_init(&body, GRAPH_BODY);
    exit = h ? LOA_EXIT_OK : LOA_EXIT_SOFTWARE;
    int64_t t0 = loa_mono_ms();
    for (int64_t k = 0; exit == LOA_EXIT_OK && k < o->pages; k++) {
        j.index = k;
        snprintf(j.page_id, sizeof(j.page_id), "%lld", (long long)(o->first_page_id + k));
        memset(&out[k], 0, sizeof(out[k]));
        snprintf(out[k].page_id, sizeof(out[k].page_id), "%s", j.page_id);
        exit = sim_page(cli, st, h, &j, &body, &out[k]);
        if (exit == LOA_EXIT_OK)
            *done_out = k + 1;
        if (o->pages > 1)
            cli_progress(cli, (uint64_t)k + 1, (uint64_t)o->pages, (size_t)k + 1, "Pages", t0,
                         k + 1 == o->pages || exit != LOA_EXIT_OK);
    }
    sodium_memzero(j.token, sizeof(j.token));
    loa_buf_release(&body);
    loa_free(j.people);
    if (h)
        curl_easy_cleanup(h);
    return exit;
}

/* ---- loa simulate ----------------------------------------------------------------------- */

static const char simulate_help[] =
    "usage: loa simulate --pages N --people M [--first-page-id ID] [--outside-percent P]\n"
    "                    [--seed S] [--rate R] [--daily-cap C] [--campaign FILE] [--start]\n"
    "                    [--json]\n\n"
    "Creates (or updates) N Pages with ids ID, ID+1, ... (default 100000000000001), named\n"
    "\"Simulated shop K\", each with a new random access token and activated 90 days ago, and\n"
    "M simulated people per Page: Vietnamese names, a phone for ~60 %, an email for ~30 %,\n"
    "tags (khach-quen, vip, ha-noi, tp-hcm, da-mua-hang, moi), last interaction within the\n"
    "last 20 hours, or 2-60 days ago for P % (default 10) of them. The same seed gives the\n"
    "same people. Pages and people are registered in the loa-graph emulator at graph.url\n"
    "(--graph-url) with the same tokens and windows, and written into loa's store by the path\n"
    "their webhooks take (intake; one transaction per Page: a failed Page is not stored).\n\n"
    "  --rate R          the Pages' send rate (messages/s)\n"
    "  --daily-cap C     the Pages' rolling 24 h cap [page.daily_cap for new Pages]\n"
    "  --campaign FILE   a message ({\"blocks\":[...]}) for a draft campaign per Page over\n"
    "                    everyone (\"Simulated campaign\", promotional)\n"
    "  --start           start the campaigns now (audience snapshot)\n"
    "  --json            print {\"pages\":[{\"id\",\"people\",\"campaign_id\"}]}\n\n"
    "Prints one line per Page: \"PAGE_ID campaign CID\" with --campaign, else\n"
    "\"PAGE_ID people M\". Exit 65 when the campaign's message is invalid (nothing written).\n";

static int read_file(struct loa_cli *cli, const char *path, char **out)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(cli->err, "loa simulate: cannot open %s\n", path);
        return LOA_EXIT_NOINPUT;
    }
    struct loa_buf b;
    loa_buf_init(&b, CAMPAIGN_MAX);
    char chunk[4096];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = loa_buf_append(&b, chunk, n);
    fclose(f);
    if (rc < 0) {
        loa_buf_release(&b);
        fprintf(cli->err, "loa simulate: %s is larger than %zu bytes\n", path, CAMPAIGN_MAX);
        return LOA_EXIT_DATAERR;
    }
    *out = loa_buf_detach(&b);
    return LOA_EXIT_OK;
}

/* Simulated Pages must never be sent to Meta. */
static bool is_emulator_url(const char *url)
{
    return strstr(url, "facebook.com") == NULL;
}

int loa_cmd_simulate(struct loa_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        { "pages", required_argument, NULL, 'n' },
        { "people", required_argument, NULL, 'm' },
        { "first-page-id", required_argument, NULL, 'i' },
        { "outside-percent", required_argument, NULL, 'o' },
        { "seed", required_argument, NULL, 's' },
        { "rate", required_argument, NULL, 'r' },
        { "daily-cap", required_argument, NULL, 'c' },
        { "campaign", required_argument, NULL, 'C' },
        { "start", no_argument, NULL, 'S' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    struct loa_sim_opts o = { .pages = -1,
                              .people = -1,
                              .first_page_id = LOA_SIM_FIRST_PAGE_ID,
                              .outside_percent = 10,
                              .seed = 1,
                              .cmd = "simulate" };
    const char *campaign_file = NULL;
    bool json = false;
    int64_t v;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (!cli_parse_count(optarg, &o.pages) || o.pages < 1 || o.pages > LOA_SIM_MAX_PAGES)
                return cli_usage(cli, "simulate", "--pages: '%s' is not a number from 1 to %d",
                                 optarg, LOA_SIM_MAX_PAGES);
            break;
        case 'm':
            if (!cli_parse_count(optarg, &o.people) || o.people > 100000000)
                return cli_usage(cli, "simulate", "--people: '%s' is not a number from 0 to %d",
                                 optarg, 100000000);
            break;
        case 'i':
            if (!cli_parse_count(optarg, &o.first_page_id) || o.first_page_id < 1 ||
                o.first_page_id > 999999999999999999LL)
                return cli_usage(cli, "simulate", "--first-page-id: '%s' is not a Page id", optarg);
            break;
        case 'o':
            if (!cli_parse_count(optarg, &v) || v > 100)
                return cli_usage(cli, "simulate", "--outside-percent: '%s' is not 0 to 100",
                                 optarg);
            o.outside_percent = (unsigned)v;
            break;
        case 's':
            if (!cli_parse_count(optarg, &v))
                return cli_usage(cli, "simulate", "--seed: '%s' is not a number", optarg);
            o.seed = (uint64_t)v;
            break;
        case 'r':
            if (!cli_parse_count(optarg, &o.send_rate) || o.send_rate < 1)
                return cli_usage(cli, "simulate", "--rate: '%s' is not a positive number", optarg);
            break;
        case 'c':
            if (!cli_parse_count(optarg, &o.daily_cap) || o.daily_cap < 1)
                return cli_usage(cli, "simulate", "--daily-cap: '%s' is not a positive number",
                                 optarg);
            break;
        case 'C':
            campaign_file = optarg;
            break;
        case 'S':
            o.start = true;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            fputs(simulate_help, cli->out);
            return LOA_EXIT_OK;
        default:
            return cli_usage(cli, "simulate", "unknown option");
        }
    }
    if (optind != argc)
        return cli_usage(cli, "simulate", "unexpected argument '%s'", argv[optind]);
    if (o.pages < 0 || o.people < 0)
        return cli_usage(cli, "simulate", "--pages and --people are required");
    if (o.start && !campaign_file)
        return cli_usage(cli, "simulate", "--start needs --campaign FILE");
    if (o.first_page_id + o.pages - 1 > 999999999999999999LL)
        return cli_usage(cli, "simulate", "--first-page-id: the last Page id is too large");
    o.graph_url = cli->set->graph_url;
    if (!is_emulator_url(o.graph_url)) {
        fprintf(cli->err,
                "loa simulate: graph.url is %s; simulated Pages go to the loa-graph emulator "
                "(set --graph-url http://127.0.0.1:PORT)\n",
                o.graph_url);
        return LOA_EXIT_CONFIG;
    }
    o.app_secret = cli->set->webhook_app_secret;
    o.timezone = cli->set->page_timezone;
    o.now = loa_now_ms();

    char *campaign = NULL;
    struct loa_sim_page *pages = NULL;
    struct loa_store *st = NULL;
    int exit = LOA_EXIT_OK;
    if (campaign_file && (exit = read_file(cli, campaign_file, &campaign)))
        goto out;
    o.campaign = campaign;
    o.campaign_source = campaign_file;
    if ((exit = check_campaign(cli, &o))) /* before the store is created */
        goto out;
    if ((exit = cli_open_store(cli, true, &st)))
        goto out;
    o.default_daily_cap = cli->set->page_daily_cap;
    pages = loa_calloc((size_t)o.pages, sizeof(*pages));
    int64_t done = 0, t0 = loa_mono_ms();
    exit = loa_sim_run(cli, st, &o, pages, &done);
    if (json) {
        fputs("{\"pages\":[", cli->out);
        for (int64_t k = 0; k < done; k++) {
            fprintf(cli->out, "%s{\"id\":\"%s\",\"people\":%lld,\"campaign_id\":", k ? "," : "",
                    pages[k].page_id, (long long)pages[k].people);
            if (pages[k].campaign_id)
                fprintf(cli->out, "%lld}", (long long)pages[k].campaign_id);
            else
                fputs("null}", cli->out);
        }
        fputs("]}\n", cli->out);
    } else {
        for (int64_t k = 0; k < done; k++) {
            if (o.campaign)
                fprintf(cli->out, "%s campaign %lld\n", pages[k].page_id,
                        (long long)pages[k].campaign_id);
            else
                fprintf(cli->out, "%s people %lld\n", pages[k].page_id, (long long)pages[k].people);
        }
    }
    if (exit == LOA_EXIT_OK)
        fprintf(cli->err, "simulated %lld Pages x %lld people in %.2f s\n", (long long)done,
                (long long)o.people, (double)(loa_mono_ms() - t0) / 1000.0);
out:
    loa_free(pages);
    loa_free(campaign);
    loa_store_close(st);
    return exit;
}
