/* SPDX-License-Identifier: MIT */
/* Sample subscribers for the demo and benchmarks: deterministic for a seed. */
#ifndef LOA_CLI_SAMPLE_H
#define LOA_CLI_SAMPLE_H

#include <stdint.h>
#include <stdio.h>

struct loa_sample_opts {
    uint64_t count;
    uint64_t seed;
    unsigned invalid_percent; /* share of rows with a deliberate mistake */
    int64_t now_ms;
};

/** Writes a header and opts->count rows of CSV to out. */
void loa_sample_write_csv(FILE *out, const struct loa_sample_opts *opts);

#endif /* LOA_CLI_SAMPLE_H */
