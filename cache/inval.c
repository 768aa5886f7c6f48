/* SPDX-License-Identifier: BSD-2-Clause */
/* inval: what one reply on the invalidation connection means for L1 (track.c reads the
 * replies; this file only interprets one). In RESP2, Redis's client-side caching delivers
 * an invalidation as a pubsub message on __redis__:invalidate whose payload is an array of
 * the changed keys, or nil after FLUSHDB/FLUSHALL:
 *
 *   *3 $7 message $20 __redis__:invalidate *1 $<n> <prefixed key>
 *   *3 $7 message $20 __redis__:invalidate $-1
 *
 * Keys outside our prefix cannot be in L1 and are skipped; anything we do not understand in
 * a message (a payload of another shape, a key that is not a string) flushes everything,
 * since we cannot tell what changed. Other replies (the subscribe confirmation) mean
 * nothing. Pure: no I/O, no clock; the fuzz target tests/fuzz/fuzz_inval.c drives it with
 * replies hiredis parsed from arbitrary bytes. */
#include <string.h>

#include "hiredis.h"

#include "cache/internal.h"

static bool
is_string(const redisReply *r, const char *s)
{
    size_t n = strlen(s);
    return r->type == REDIS_REPLY_STRING && (size_t)r->len == n && memcmp(r->str, s, n) == 0;
}

int
mr_cache__inval_apply(struct mr_cache_l1 *l1, const char *prefix, size_t prefix_len,
                      const struct redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || !is_string(r->element[0], "message") ||
        !is_string(r->element[1], MR_CACHE__INVAL_CHANNEL))
        return 0;
    const redisReply *keys = r->element[2];
    if (keys->type != REDIS_REPLY_ARRAY)
        return 1; /* nil: FLUSHDB/FLUSHALL; anything else: unknown */
    for (size_t i = 0; i < keys->elements; i++)
        if (keys->element[i]->type != REDIS_REPLY_STRING)
            return 1;
    for (size_t i = 0; i < keys->elements; i++) {
        const redisReply *k = keys->element[i];
        if ((size_t)k->len < prefix_len ||
            (prefix_len > 0 && memcmp(k->str, prefix, prefix_len) != 0))
            continue; /* not one of ours: never in L1 */
        (void)mr_cache_l1_del(l1, k->str + prefix_len, (size_t)k->len - prefix_len, true);
    }
    return 0;
}
