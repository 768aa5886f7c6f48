/* SPDX-License-Identifier: BSD-2-Clause */
/* api/cache: millrace.h's cache calls over the worker's Redis handle (cache/), with the
 * request's time in backends and the pool's hit and miss counters kept here, once.
 * mr_cache_fetch is cache-aside in one call (MGET, the loader once for every miss, one SET NX
 * pipeline); mr_cache_stale and mr_cache_replace queue work on the request that the request
 * path sends in one pipeline after the handler (app/serve/dispatch.c). A stale key is masked
 * rather than deleted: after a DEL, a reader served by a replica that has not replayed the
 * write would fill the old value back for a whole TTL; a mask makes that fill's SET NX fail.
 * A route flagged MR_ROUTE_CACHE_L1 reads through the worker's L1 first (cache/l1.c). */
#include <errno.h>
#include <string.h>

#include "app/include/millrace.h"
#include "app/lib/clock.h"
#include "app/serve/ctx.h"

static void
add(atomic_uint_fast64_t *counter, uint64_t n)
{
    if (n > 0)
        atomic_fetch_add_explicit(counter, (uint_fast64_t)n, memory_order_relaxed);
}

/* Redis's hits and misses are of the keys asked of Redis: an L1 hit is counted as L1's only.
 * L1's evictions, invalidations and flushes happen inside cache/ and are taken from it. */
static void
count(struct mr_ctx *ctx, const struct mr_cache_item *it, size_t n, bool failed)
{
    struct mr_sb *sb = ctx->sb;
    uint64_t hits = 0, local = 0, l1_asked = 0;
    for (size_t i = 0; i < n; i++) {
        l1_asked += it[i].use_l1;
        local += !failed && it[i].is_local;
        hits += !failed && it[i].hit && !it[i].is_local;
    }
    if (failed)
        add(&sb->cache_errors, 1);
    add(&sb->cache_hits, hits);
    add(&sb->cache_misses, n - local - hits);
    if (l1_asked == 0)
        return;
    struct mr_cache_l1_stats d;
    mr_cache_local_take(ctx->cache, &d);
    add(&sb->l1_hits, local);
    add(&sb->l1_misses, l1_asked - local);
    add(&sb->l1_evictions, d.evictions);
    add(&sb->l1_invalidations, d.invalidations);
    add(&sb->l1_flushes, d.flushes);
}

static bool
uses_l1(const struct mr_ctx *ctx)
{
    return ctx->route != NULL && (ctx->route->flags & MR_ROUTE_CACHE_L1) != 0;
}

/* The entries as cache/'s items, in the arena; NULL past its ceiling. */
static struct mr_cache_item *
items_of(struct mr_ctx *ctx, const struct mr_cache_entry *e, size_t n)
{
    struct mr_cache_item *it = mr_arena_calloc(ctx->arena, n > 0 ? n : 1, sizeof(*it));
    bool use_l1 = uses_l1(ctx);
    for (size_t i = 0; it != NULL && i < n; i++)
        it[i] = (struct mr_cache_item){.key = e[i].key,
                                       .key_len = e[i].key_len,
                                       .val = e[i].value,
                                       .val_len = e[i].value_len,
                                       .hit = e[i].hit,
                                       .early = e[i].refresh,
                                       .use_l1 = use_l1};
    return it;
}

/* mr_cache_read, leaving cache/'s items in *items for a refill that must know what each
 * early refresh read (mr_cache_item.seen). */
static int
read_items(struct mr_ctx *ctx, struct mr_cache_entry *e, size_t n, struct mr_cache_item **items)
{
    struct mr_cache_item *it = items_of(ctx, e, n);
    *items = it;
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
    count(ctx, it, n, rc < 0);
    if (rc < 0) {
        ctx->err_detail = "cache read failed";
        return 503;
    }
    return 0;
}

int
mr_cache_read(struct mr_ctx *ctx, struct mr_cache_entry *e, size_t n)
{
    struct mr_cache_item *items;
    return read_items(ctx, e, n, &items);
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

/* The loader's status as the call's: 0, or an HTTP error status (anything else is a bug of
 * the loader, which answers 500 like a handler's). */
static int
load_status(struct mr_ctx *ctx, int rc)
{
    if (rc == 0 || (rc >= 400 && rc <= 599))
        return rc;
    ctx->err_detail = "cache loader returned a value that is not an HTTP error status";
    return 500;
}

/* Runs the loader once on the m misses (their values cleared first), timed for XFetch. */
static int
load_misses(struct mr_ctx *ctx, struct mr_cache_entry **misses, size_t m, mr_cache_load_fn load,
            void *arg, int64_t *compute_us)
{
    for (size_t k = 0; k < m; k++) {
        misses[k]->value = NULL;
        misses[k]->value_len = 0;
    }
    int64_t t0 = mr_clock_us();
    int rc = load(ctx, misses, m, arg);
    *compute_us = mr_clock_us() - t0;
    return load_status(ctx, rc);
}

/* SET NX of what the loader found (a miss it left NULL is absent: nothing is stored), in one
 * pipeline with this call's TTL; an early refresh overwrites the value it refreshes, if the
 * key still holds it (read: the items of the read, e: the entries). Best effort: a failure
 * is counted and the answer stands. */
static void
fill(struct mr_ctx *ctx, const struct mr_cache_entry *e, const struct mr_cache_item *read,
     struct mr_cache_entry *const *misses, size_t m, int ttl_ms, int64_t compute_us)
{
    struct mr_cache_item *it = mr_arena_alloc(ctx->arena, m * sizeof(*it));
    if (it == NULL)
        return; /* the answer is complete; only the fill is skipped */
    size_t n = 0;
    for (size_t k = 0; k < m; k++)
        if (misses[k]->value != NULL)
            it[n++] = (struct mr_cache_item){.key = misses[k]->key,
                                             .key_len = misses[k]->key_len,
                                             .val = misses[k]->value,
                                             .val_len = misses[k]->value_len,
                                             .early = misses[k]->refresh,
                                             .seen = read[misses[k] - e].seen,
                                             .ttl_ms = ttl_ms};
    struct mr_err err;
    int64_t t0 = mr_clock_us();
    int rc = mr_cache_mset(ctx->cache, it, n, compute_us, true, &err);
    ctx->backend_us += mr_clock_us() - t0;
    if (rc < 0)
        atomic_fetch_add_explicit(&ctx->sb->cache_errors, 1, memory_order_relaxed);
}

int
mr_cache_fetch(struct mr_ctx *ctx, struct mr_cache_entry *e, size_t n, int ttl_ms,
               mr_cache_load_fn load, void *arg)
{
    if (n == 0)
        return 0;
    if (e == NULL || load == NULL || ttl_ms < 0) {
        ctx->err_detail = "mr_cache_fetch: no entries, no loader, or a negative ttl_ms";
        return 500;
    }
    struct mr_cache_entry **misses =
        mr_arena_alloc(ctx->arena, n * sizeof(struct mr_cache_entry *));
    if (misses == NULL)
        return 500;
    /* A failed read leaves every entry a miss; its status is not the call's: the loader
     * answers instead, and Redis is not asked again in this call (no second timeout). */
    struct mr_cache_item *read;
    int read_rc = read_items(ctx, e, n, &read);
    if (read_rc == 500)
        return 500; /* the arena's ceiling: the entries were not even looked at */
    bool is_redis_ok = read_rc == 0;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!e[i].hit)
            misses[m++] = &e[i];
    if (m == 0)
        return 0;
    int64_t compute_us = 0;
    int rc = load_misses(ctx, misses, m, load, arg, &compute_us);
    if (rc != 0)
        return rc;
    if (is_redis_ok)
        fill(ctx, e, read, misses, m, ttl_ms, compute_us);
    return 0;
}

/* Queues op on the request; the request path sends the queue after the handler. This
 * worker's L1 copy goes at once, so that a read later in the same request, or in the next
 * one, cannot be served the value the write replaces. */
static int
enqueue(struct mr_ctx *ctx, const struct mr_cache_op *op)
{
    if (op->key != NULL)
        mr_cache_local_drop(ctx->cache, op->key, op->key_len);
    int rc = mr_cache_queue_add(&ctx->cache_queue, ctx->arena, op);
    if (rc == 0)
        return 0;
    ctx->err_detail = rc == -EINVAL ? "cache invalidation without a key"
                                    : "cache invalidation: request arena exhausted";
    return 500;
}

/* How long a stale key is masked: a reader may still get the old value from a replica up to
 * max_replica_lag_ms after the commit, and then take up to its whole request to fill. */
static int
stale_mask_ms(const struct mr_ctx *ctx)
{
    int ms = ctx->cfg->db.max_replica_lag_ms + ctx->cfg->request_timeout_ms;
    return ms > 0 ? ms : 1;
}

int
mr_cache_stale(struct mr_ctx *ctx, const char *key, size_t key_len)
{
    struct mr_cache_op op = {
        .kind = MR_CACHE_OP_MASK, .key = key, .key_len = key_len, .ttl_ms = stale_mask_ms(ctx)};
    return enqueue(ctx, &op);
}

int
mr_cache_replace(struct mr_ctx *ctx, const char *key, size_t key_len, const void *value,
                 size_t value_len, int ttl_ms)
{
    if (ttl_ms < 0) {
        ctx->err_detail = "mr_cache_replace: negative ttl_ms";
        return 500;
    }
    struct mr_cache_op op = {
        .key = key, .key_len = key_len, .val = value, .val_len = value_len, .ttl_ms = ttl_ms};
    return enqueue(ctx, &op);
}
