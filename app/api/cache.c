/* SPDX-License-Identifier: BSD-2-Clause */
/* api/cache: millrace.h's cache calls over the worker's Redis handle (cache/), with the
 * request's time in backends and the pool's hit and miss counters kept here, once. */
#include <string.h>

#include "app/include/millrace.h"
#include "app/lib/clock.h"
#include "app/serve/ctx.h"

static void
count(struct mr_ctx *ctx, const struct mr_cache_entry *e, size_t n, bool failed)
{
    struct mr_sb *sb = ctx->sb;
    size_t hits = 0;
    for (size_t i = 0; i < n && !failed; i++)
        hits += e[i].hit;
    if (failed)
        atomic_fetch_add_explicit(&sb->cache_errors, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&sb->cache_hits, (uint_fast64_t)hits, memory_order_relaxed);
    atomic_fetch_add_explicit(&sb->cache_misses, (uint_fast64_t)(n - hits), memory_order_relaxed);
}

/* The entries as cache/'s items, in the arena; NULL past its ceiling. */
static struct mr_cache_item *
items_of(struct mr_ctx *ctx, const struct mr_cache_entry *e, size_t n)
{
    struct mr_cache_item *it = mr_arena_calloc(ctx->arena, n > 0 ? n : 1, sizeof(*it));
    for (size_t i = 0; it != NULL && i < n; i++)
        it[i] = (struct mr_cache_item){e[i].key,       e[i].key_len, e[i].value,
                                       e[i].value_len, e[i].hit,     e[i].refresh};
    return it;
}

int
mr_cache_read(struct mr_ctx *ctx, struct mr_cache_entry *e, size_t n)
{
    struct mr_cache_item *it = items_of(ctx, e, n);
    if (it == NULL)
        return 500;
    struct mr_err err;
    int64_t t0 = mr_clock_us();
    int rc = mr_cache_mget(ctx->cache, it, n, ctx->arena, &err);
    ctx->backend_us += mr_clock_us() - t0;
    for (size_t i = 0; i < n; i++) {
        e[i].hit = rc == 0 && it[i].hit;
        e[i].refresh = rc == 0 && it[i].early;
        e[i].value = e[i].hit ? it[i].val : NULL;
        e[i].value_len = e[i].hit ? it[i].val_len : 0;
    }
    count(ctx, e, n, rc < 0);
    if (rc < 0) {
        ctx->err_detail = "cache read failed";
        return 503;
    }
    return 0;
}

int
mr_cache_write(struct mr_ctx *ctx, const struct mr_cache_entry *e, size_t n, long long compute_us,
               bool if_absent)
{
    struct mr_cache_item *it = items_of(ctx, e, n);
    if (it == NULL)
        return 500;
    struct mr_err err;
    int64_t t0 = mr_clock_us();
    int rc = mr_cache_mset(ctx->cache, it, n, compute_us, if_absent, &err);
    ctx->backend_us += mr_clock_us() - t0;
    if (rc < 0) {
        ctx->err_detail = "cache fill failed";
        return 503;
    }
    return 0;
}
