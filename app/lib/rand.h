/* SPDX-License-Identifier: BSD-2-Clause */
/* rand: the per-process pseudo-random generator (splitmix64) behind the handlers' row ids, the
 * workers' max_requests jitter and the cache's TTL jitter and XFetch draws. Not for secrets. */
#ifndef MR_RAND_H
#define MR_RAND_H

#include <stdint.h>

/* A known state gives a known sequence: tests set it directly ({.state = 42}). */
struct mr_rand {
    uint64_t state;
};

/* Seeds r from the pid, both clocks and (when the kernel answers at once) getrandom, so that
 * siblings forked at the same instant, and restarts, never share a sequence. Call it after
 * fork, in the process that draws. Never blocks, never fails. */
void mr_rand_init(struct mr_rand *r);
uint64_t mr_rand_next(struct mr_rand *r);
/* Uniform in [lo, hi] (inclusive), lo <= hi. */
int32_t mr_rand_range(struct mr_rand *r, int32_t lo, int32_t hi);
/* Uniform in (0, 1] in steps of 2^-53: never 0, so that log() of it is finite. */
double mr_rand_unit(struct mr_rand *r);

#endif
