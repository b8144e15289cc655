/* SPDX-License-Identifier: MIT */
/* Sample subscribers for the demo and benchmarks: deterministic for a seed. */
#ifndef LOA_CLI_SAMPLE_H
#define LOA_CLI_SAMPLE_H

#include <stdbool.h>
#include <stddef.h>
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

/* The pieces the CSV is made of, for other generators (loa simulate): the same seed gives the
   same values. */

/** The next value of the generator whose state is *state (splitmix64). */
uint64_t loa_sample_next(uint64_t *state);

/** A Vietnamese name. Strings are static. */
struct loa_sample_name {
    bool female;
    const char *given;       /* "Lan", "Dũng", ... */
    const char *family;      /* "Nguyễn", ... */
    const char *ascii_given; /* the given name without diacritics, lower case (for emails) */
};

/** Draws a name (three values of *rng). */
void loa_sample_name(uint64_t *rng, struct loa_sample_name *out);

/** Draws a Vietnamese mobile number in E.164 ("+84" and 9 digits) into out (16+ bytes). */
void loa_sample_phone_e164(uint64_t *rng, char *out, size_t size);

#endif /* LOA_CLI_SAMPLE_H */
