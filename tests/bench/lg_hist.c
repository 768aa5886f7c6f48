/* SPDX-License-Identifier: BSD-2-Clause */
/* lg_hist: the log-linear latency histogram (see lg_hist.h). Buckets 0..63 hold one
 * microsecond each; past that, a value's top LG_HIST_SUB_BITS + 1 bits pick the bucket
 * inside its power of two, as HdrHistogram does, so relative error stays under 3.2% from
 * 64 us to days without a table. */
#include "tests/bench/lg_hist.h"

#include <string.h>

void
lg_hist_init(struct lg_hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min_us = UINT64_MAX;
}

unsigned
lg_hist_index(uint64_t us)
{
    if (us < 2 * LG_HIST_SUB)
        return (unsigned)us;
    unsigned msb = 63u - (unsigned)__builtin_clzll(us);
    unsigned shift = msb - LG_HIST_SUB_BITS; /* >= 1 */
    if (shift > LG_HIST_EXPONENTS)
        return LG_HIST_BUCKETS - 1;
    unsigned mantissa = (unsigned)(us >> shift) - LG_HIST_SUB; /* 0..SUB-1 */
    return 2 * LG_HIST_SUB + (shift - 1) * LG_HIST_SUB + mantissa;
}

uint64_t
lg_hist_low(unsigned index)
{
    if (index < 2 * LG_HIST_SUB)
        return index;
    unsigned shift = (index - 2 * LG_HIST_SUB) / LG_HIST_SUB + 1;
    uint64_t mantissa = (index - 2 * LG_HIST_SUB) % LG_HIST_SUB + LG_HIST_SUB;
    return mantissa << shift;
}

uint64_t
lg_hist_high(unsigned index)
{
    if (index < 2 * LG_HIST_SUB)
        return index;
    unsigned shift = (index - 2 * LG_HIST_SUB) / LG_HIST_SUB + 1;
    return lg_hist_low(index) + (UINT64_C(1) << shift) - 1;
}

void
lg_hist_record(struct lg_hist *h, uint64_t us)
{
    h->bucket[lg_hist_index(us)]++;
    h->count++;
    h->sum_us += us;
    if (us < h->min_us)
        h->min_us = us;
    if (us > h->max_us)
        h->max_us = us;
}

void
lg_hist_merge(struct lg_hist *dst, const struct lg_hist *src)
{
    for (unsigned i = 0; i < LG_HIST_BUCKETS; i++)
        dst->bucket[i] += src->bucket[i];
    dst->count += src->count;
    dst->sum_us += src->sum_us;
    if (src->min_us < dst->min_us)
        dst->min_us = src->min_us;
    if (src->max_us > dst->max_us)
        dst->max_us = src->max_us;
}

uint64_t
lg_hist_percentile(const struct lg_hist *h, double p)
{
    if (h->count == 0)
        return 0;
    /* The rank of the wanted value, 1-based; computed in double, then clamped, so p = 100
     * is the maximum and a tiny p is the minimum. The small subtraction keeps 99.9% of 1000
     * at rank 999: 99.9 has no exact double, and its rounding must not add a rank. */
    double want = p * (double)h->count / 100.0 - 1e-9;
    uint64_t rank = (uint64_t)want;
    if ((double)rank < want)
        rank++;
    if (rank < 1)
        rank = 1;
    if (rank > h->count)
        rank = h->count;
    uint64_t seen = 0;
    for (unsigned i = 0; i < LG_HIST_BUCKETS; i++) {
        seen += h->bucket[i];
        if (seen >= rank) {
            uint64_t v = lg_hist_high(i);
            return v > h->max_us ? h->max_us : v;
        }
    }
    return h->max_us;
}
