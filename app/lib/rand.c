/* SPDX-License-Identifier: BSD-2-Clause */
/* rand: splitmix64 (Steele, Lea, Flood 2014); multiply-shift range reduction, whose bias at a
 * range of 10,000 is below 2^-50.
 *
 * Statistical quality matters here, secrecy does not: nothing is guessable to advantage. What
 * matters is that sibling workers, forked from one manager at the same instant, never draw the
 * same sequence, or their early cache refreshes (XFetch) would fire together and bring back the
 * stampede XFetch is there to prevent, and their max_requests jitter would recycle them
 * together. Hence the seed mixes the pid (distinct among siblings) with both clocks (distinct
 * across restarts) and, when the kernel answers, getrandom. */
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "app/lib/rand.h"

uint64_t
mr_rand_next(struct mr_rand *r)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t
clock_ns(clockid_t id)
{
    struct timespec ts;
    (void)clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void
mr_rand_init(struct mr_rand *r)
{
    /* Each input goes through the mixer before the next is folded in, so that inputs that
     * differ in a few low bits still give seeds that differ in about half of theirs. */
    struct mr_rand mix = {(uint64_t)getpid() << 32 ^ clock_ns(CLOCK_REALTIME)};
    uint64_t seed = mr_rand_next(&mix);
    mix.state ^= clock_ns(CLOCK_MONOTONIC);
    seed ^= mr_rand_next(&mix);
    uint64_t extra;
    /* Best effort: an old kernel or an empty entropy pool leaves the pid-and-time seed. */
    if (getrandom(&extra, sizeof(extra), GRND_NONBLOCK) == (ssize_t)sizeof(extra))
        seed ^= extra;
    r->state = seed;
}

int32_t
mr_rand_range(struct mr_rand *r, int32_t lo, int32_t hi)
{
    uint64_t span = (uint64_t)((int64_t)hi - lo + 1);
    uint64_t x = mr_rand_next(r) >> 32;
    return (int32_t)(lo + (int64_t)((x * span) >> 32));
}

double
mr_rand_unit(struct mr_rand *r)
{
    /* 53 random bits, shifted up by one. */
    return (double)((mr_rand_next(r) >> 11) + 1) * 0x1.0p-53;
}
