/* SPDX-License-Identifier: BSD-2-Clause */
/* lg_hist: loadgen's latency histogram. Log-linear buckets over microseconds: exact below
 * 64 us, then 32 buckets per power of two (at most 1/32 = 3.1% wide), up to 2^42 us (50 days). The
 * caller owns the storage (a fixed array, about 10 KiB); recording is an index computation
 * and an increment, with no allocation. */
#ifndef LG_HIST_H
#define LG_HIST_H

#include <stdint.h>

#define LG_HIST_SUB_BITS 5
#define LG_HIST_SUB (1u << LG_HIST_SUB_BITS)
#define LG_HIST_EXPONENTS 36
#define LG_HIST_BUCKETS (2 * LG_HIST_SUB + LG_HIST_EXPONENTS * LG_HIST_SUB)

struct lg_hist {
    uint64_t count;
    uint64_t sum_us;
    uint64_t min_us;
    uint64_t max_us;
    uint64_t bucket[LG_HIST_BUCKETS];
};

void lg_hist_init(struct lg_hist *h);
/* Records one value; values past the last bucket land in it (max_us keeps the true value). */
void lg_hist_record(struct lg_hist *h, uint64_t us);
/* Adds every count of src into dst. */
void lg_hist_merge(struct lg_hist *dst, const struct lg_hist *src);
/* The value at percentile p (0 < p <= 100): the highest value of the bucket that holds the
 * ceil(p% of count)-th smallest value, never above max_us. 0 when the histogram is empty. */
uint64_t lg_hist_percentile(const struct lg_hist *h, double p);

/* Bucket arithmetic, public for the self-test: index of a value, and a bucket's range. */
unsigned lg_hist_index(uint64_t us);
uint64_t lg_hist_low(unsigned index);
uint64_t lg_hist_high(unsigned index);

#endif
