/* SPDX-License-Identifier: BSD-2-Clause */
/* rand: splitmix64 (Steele, Lea, Flood 2014); multiply-shift range reduction, whose bias at a
 * range of 10,000 is below 2^-50. */
#include "app/lib/rand.h"

void
mr_rand_seed(struct mr_rand *r, uint64_t seed)
{
    r->state = seed;
}

uint64_t
mr_rand_next(struct mr_rand *r)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

int32_t
mr_rand_range(struct mr_rand *r, int32_t lo, int32_t hi)
{
    uint64_t span = (uint64_t)((int64_t)hi - lo + 1);
    uint64_t x = mr_rand_next(r) >> 32;
    return (int32_t)(lo + (int64_t)((x * span) >> 32));
}
