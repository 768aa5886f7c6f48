/* SPDX-License-Identifier: BSD-2-Clause */
/* xfetch: when a cached value expires. The envelope (format in cache/internal.h) carries
 * the XFetch inputs next to the payload; the early-refresh decision is Vattani, Chierichetti
 * and Lowenstein, "Optimal Probabilistic Cache Stampede Prevention" (VLDB 2015); the TTL
 * jitter spreads the expiries of values written together (one mset) so that they are not
 * all recomputed in the same second. Pure functions: no clock, no I/O, no state. */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include "cache/internal.h"

static void
put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t
get_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

size_t
mr_cache__env_encode(char *dst, int64_t delta_us, int64_t expiry_ms, const char *payload,
                     size_t payload_len)
{
    assert(payload_len <= UINT32_MAX);
    unsigned char *p = (unsigned char *)dst;
    /* A compute time past 71 minutes is not a cache fill; saturating keeps it a u32. */
    uint32_t delta = delta_us <= 0 ? 0 : delta_us > UINT32_MAX ? UINT32_MAX : (uint32_t)delta_us;
    p[0] = MR_CACHE__ENV_MAGIC;
    p[1] = MR_CACHE__ENV_VERSION;
    put_le(p + 2, delta, 4);
    put_le(p + 6, (uint64_t)expiry_ms, 8);
    put_le(p + 14, payload_len, 4);
    if (payload_len > 0)
        memcpy(p + MR_CACHE__ENV_HEADER, payload, payload_len);
    return MR_CACHE__ENV_HEADER + payload_len;
}

int
mr_cache__env_parse(const char *buf, size_t len, struct mr_cache__env *out)
{
    const unsigned char *p = (const unsigned char *)buf;
    if (buf == NULL || len < MR_CACHE__ENV_HEADER)
        return -EINVAL;
    if (p[0] != MR_CACHE__ENV_MAGIC || p[1] != MR_CACHE__ENV_VERSION)
        return -EINVAL;
    int64_t expiry_ms = (int64_t)get_le(p + 6, 8);
    uint64_t payload_len = get_le(p + 14, 4);
    /* The exact length catches a truncated value and one that something APPENDed to. */
    if (expiry_ms <= 0 || payload_len != len - MR_CACHE__ENV_HEADER)
        return -EINVAL;
    out->delta_us = (uint32_t)get_le(p + 2, 4);
    out->expiry_ms = expiry_ms;
    out->payload = buf + MR_CACHE__ENV_HEADER;
    out->payload_len = (size_t)payload_len;
    return 0;
}

/* mr_rand_unit's least draw, 2^-53, and a bound just above -ln of it (53 ln 2 = 36.737). */
#define MIN_RND 0x1.0p-53
#define MAX_NEG_LN 36.75

bool
mr_cache__xfetch_early(int64_t now_ms, uint32_t delta_us, int64_t expiry_ms, double beta,
                       double rnd)
{
    assert(rnd > 0.0 && rnd <= 1.0);
    /* Written as a positive comparison so that a NaN beta also disables. */
    if (!(beta > 0.0))
        return false;
    /* -ln(rnd) is in [0, inf): the gap before expiry in which this reader refreshes grows
     * with the compute time, so slow sources start refreshing earlier. */
    double per_ln_ms = (double)delta_us / 1000.0 * beta;
    /* A read farther from expiry than the largest gap any draw can give cannot refresh, and
     * skips the log (most reads of a warm key, twenty per /cached-queries request). */
    if (rnd >= MIN_RND && (double)now_ms + per_ln_ms * MAX_NEG_LN < (double)expiry_ms)
        return false;
    return (double)now_ms + per_ln_ms * -log(rnd) >= (double)expiry_ms;
}

int
mr_cache__ttl_jitter(int ttl_ms, int jitter_pct, double rnd)
{
    if (jitter_pct < 0)
        jitter_pct = 0;
    if (jitter_pct > 100)
        jitter_pct = 100;
    if (rnd < 0.0)
        rnd = 0.0;
    if (rnd > 1.0)
        rnd = 1.0;
    int64_t span = (int64_t)ttl_ms * jitter_pct / 100;
    /* Rounded to the nearest ms, so both ends of [-span, +span] are reachable. */
    int64_t offset = (int64_t)floor((2.0 * rnd - 1.0) * (double)span + 0.5);
    int64_t ttl = (int64_t)ttl_ms + offset;
    if (ttl < 1)
        ttl = 1;
    if (ttl > INT32_MAX)
        ttl = INT32_MAX;
    return (int)ttl;
}
