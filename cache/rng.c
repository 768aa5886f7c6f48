/* SPDX-License-Identifier: BSD-2-Clause */
/* rng: the randomness behind TTL jitter and XFetch, one splitmix64 state per cache handle.
 * Statistical quality matters here, secrecy does not: nothing is guessable to advantage.
 * What matters is that sibling workers, forked from one manager at the same instant, never
 * draw the same sequence, or their early refreshes would fire together and bring back the
 * stampede XFetch is there to prevent. Hence the seed mixes the pid (distinct among
 * siblings) with both clocks (distinct across restarts) and, when the kernel answers,
 * getrandom. The handle is opened after fork (STYLE.md §1), so the seed is too. */
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "cache/internal.h"

uint64_t
mr_cache__rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

double
mr_cache__rng_unit(uint64_t *state)
{
    /* 53 random bits, shifted up by one: (0, 1] in steps of 2^-53. */
    return (double)((mr_cache__rng_next(state) >> 11) + 1) * 0x1.0p-53;
}

uint64_t
mr_cache__rng_seed(void)
{
    struct timespec rt;
    struct timespec mono;
    (void)clock_gettime(CLOCK_REALTIME, &rt);
    (void)clock_gettime(CLOCK_MONOTONIC, &mono);
    uint64_t s = (uint64_t)getpid() << 32;
    s ^= (uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec;
    uint64_t seed = mr_cache__rng_next(&s);
    s ^= (uint64_t)mono.tv_sec * 1000000000u + (uint64_t)mono.tv_nsec;
    seed ^= mr_cache__rng_next(&s);
    uint64_t extra;
    /* Best effort: an old kernel or an empty entropy pool leaves the pid-and-time seed. */
    if (getrandom(&extra, sizeof(extra), GRND_NONBLOCK) == (ssize_t)sizeof(extra))
        seed ^= extra;
    return seed;
}
