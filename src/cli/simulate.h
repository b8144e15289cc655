/* SPDX-License-Identifier: MIT */
/*
 * Simulated Pages and people, written into loa's store (their webhooks, as synthetic events,
 * through the intake service: include/loa/intake.h) and into the loa-graph emulator (so both sides
 * agree on each person's window). Used by `loa simulate` (src/cli/cmd_simulate.c) and `loa demo`.
 */
#ifndef LOA_CLI_SIMULATE_H
#define LOA_CLI_SIMULATE_H

#include <stdbool.h>
#include <stdint.h>

#include "cli.h"

struct loa_store;

#define LOA_SIM_FIRST_PAGE_ID 100000000000001LL
#define LOA_SIM_MAX_PAGES     99999

struct loa_sim_opts {
    int64_t pages;               /* N Pages: first_page_id, first_page_id + 1, ... */
    int64_t people;              /* M people per Page */
    int64_t first_page_id;       /* LOA_SIM_FIRST_PAGE_ID by default */
    unsigned outside_percent;    /* share of people outside the 24 h window (2-60 days ago) */
    uint64_t seed;               /* same seed, same people */
    int64_t send_rate;           /* > 0 sets the Pages' send rate */
    int64_t daily_cap;           /* > 0 sets the Pages' daily cap */
    int64_t default_daily_cap;   /* the cap of new Pages when daily_cap is not set */
    const char *page_name;       /* NULL = "Simulated shop K" (K = 1..N) */
    const char *campaign;        /* {"blocks":[...]} for a draft campaign per Page; NULL = none */
    const char *campaign_source; /* its file name, for messages; may be NULL */
    bool start;                  /* start the campaigns (snapshot) */
    const char *graph_url;       /* loa-graph's base URL */
    const char *app_secret;      /* given to loa-graph to sign webhooks; NULL/"" = none */
    const char *timezone;        /* IANA zone of new Pages */
    int64_t now;                 /* ms */
    const char *cmd;             /* "simulate" or "demo", for messages */
};

/** What was done for one Page. */
struct loa_sim_page {
    char page_id[24];
    int64_t page_ref;    /* internal id in the store */
    int64_t people;      /* people written */
    int64_t campaign_id; /* 0 = none */
    int64_t snapshot;    /* deliveries of the started campaign */
};

/**
 * Checks o->campaign (when set) with JSON paths (printed to cli->err), then for each Page:
 * registers it and its people in loa-graph, and writes them into st in one transaction (a
 * failed Page leaves st as it was). out must hold o->pages entries; *done_out gets how many
 * Pages were written. Errors name the Page (and loa-graph's field) on cli->err. Returns an
 * exit code (LOA_EXIT_*).
 */
int loa_sim_run(struct loa_cli *cli, struct loa_store *st, const struct loa_sim_opts *o,
                struct loa_sim_page *out, int64_t *done_out);

/**
 * POSTs body (JSON) to graph_url + path; *status_out gets the HTTP status and *resp_out (may be
 * NULL; caller frees) the answer. GET when body is NULL. Returns 0 or LOA_ENET (err_out says
 * why, 256 bytes).
 */
int loa_sim_http(const char *graph_url, const char *path, const char *body, long *status_out,
                 char **resp_out, char *err_out);

#endif /* LOA_CLI_SIMULATE_H */
