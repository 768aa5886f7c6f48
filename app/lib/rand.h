/* SPDX-License-Identifier: BSD-2-Clause */
/* rand: a per-process pseudo-random generator (splitmix64), seeded after fork from the pid and
 * the clock so that sibling workers never share a sequence. Not for secrets. */
#ifndef MR_RAND_H
#define MR_RAND_H

#include <stdint.h>

struct mr_rand {
    uint64_t state;
};

void mr_rand_seed(struct mr_rand *r, uint64_t seed);
uint64_t mr_rand_next(struct mr_rand *r);
/* Uniform in [lo, hi] (inclusive), lo <= hi. */
int32_t mr_rand_range(struct mr_rand *r, int32_t lo, int32_t hi);

#endif
