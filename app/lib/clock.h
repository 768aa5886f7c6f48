/* SPDX-License-Identifier: BSD-2-Clause */
/* clock: monotonic time in ms and µs, the only clock used for timeouts and latencies. */
#ifndef MR_CLOCK_H
#define MR_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t
mr_clock_us(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static inline int64_t
mr_clock_ms(void)
{
    return mr_clock_us() / 1000;
}

/* Milliseconds left until deadline_ms (monotonic); a deadline of 0 means none and gives
 * fallback_ms. Never negative. */
static inline int
mr_clock_left_ms(int64_t deadline_ms, int fallback_ms)
{
    if (deadline_ms == 0)
        return fallback_ms;
    int64_t left = deadline_ms - mr_clock_ms();
    if (left <= 0)
        return 0;
    return left < fallback_ms ? (int)left : fallback_ms;
}

#endif
