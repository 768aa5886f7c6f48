/* SPDX-License-Identifier: BSD-2-Clause */
/* world: the World-table endpoints.
 *  /db, /queries   read replicas (via db/), never a cache: TechEmpower forbids caching here.
 *  /cached-queries Redis first (one MGET), the misses from a replica in one pipelined round
 *                  trip, then Redis filled (SET NX, so that a fill from a replica that has not
 *                  yet replayed an update cannot overwrite the updater's fresh value).
 *  /updates        distinct random ids; reads and the batched write on the primary in one
 *                  round trip (db/); after the commit the Redis copies are overwritten.
 * A backend failure gets mr_handler_unavailable's 503; the reason goes to the log line. */
#include <stdio.h>

#include "app/lib/clock.h"
#include "app/lib/json.h"
#include "handlers/handlers.h"
#include "handlers/params.h"

#define WORLD_ROWS 10000
#define KEY_CAP 16 /* "w:10000" and NUL */

static void
write_world(struct mr_json *j, const struct mr_world *w)
{
    mr_json_obj(j);
    mr_json_key(j, "id");
    mr_json_int(j, w->id);
    mr_json_key(j, "randomNumber");
    mr_json_int(j, w->randomnumber);
    mr_json_obj_end(j);
}

static void
write_worlds(struct mr_ctx *ctx, const struct mr_world *rows, int n)
{
    struct mr_json j;
    mr_json_init(&j, mr_resp_body(&ctx->resp));
    mr_json_arr(&j);
    for (int i = 0; i < n; i++)
        write_world(&j, &rows[i]);
    mr_json_arr_end(&j);
    mr_resp_type(&ctx->resp, "application/json");
}

static void
random_ids(struct mr_ctx *ctx, int32_t *ids, int n)
{
    for (int i = 0; i < n; i++)
        ids[i] = mr_rand_range(ctx->rng, 1, WORLD_ROWS);
}

/* Reads n rows (pipelined) into a new arena array. Returns NULL after answering 503. */
static struct mr_world *
read_worlds(struct mr_ctx *ctx, const int32_t *ids, int n)
{
    struct mr_world *rows = mr_arena_alloc(ctx->arena, (size_t)n * sizeof(*rows));
    if (rows == NULL) {
        mr_resp_error(&ctx->resp, 500, "request too large");
        return NULL;
    }
    struct mr_err err;
    int64_t t0 = mr_clock_us();
    int rc = mr_db_worlds_get(ctx->db, ids, (size_t)n, rows, &err);
    ctx->backend_us += mr_clock_us() - t0;
    if (rc < 0) {
        mr_handler_unavailable(ctx, "database unavailable", &err);
        return NULL;
    }
    return rows;
}

int
h_db(struct mr_ctx *ctx)
{
    int32_t id = mr_rand_range(ctx->rng, 1, WORLD_ROWS);
    struct mr_world *row = read_worlds(ctx, &id, 1);
    if (row == NULL)
        return 0;
    struct mr_json j;
    mr_json_init(&j, mr_resp_body(&ctx->resp));
    write_world(&j, row);
    mr_resp_type(&ctx->resp, "application/json");
    return 0;
}

int
h_queries(struct mr_ctx *ctx)
{
    int n = mr_clamp_queries(mr_req_query(&ctx->req, "queries"));
    int32_t ids[MR_QUERIES_MAX];
    random_ids(ctx, ids, n);
    struct mr_world *rows = read_worlds(ctx, ids, n);
    if (rows != NULL)
        write_worlds(ctx, rows, n);
    return 0;
}

static void
cache_count(struct mr_ctx *ctx, const struct mr_cache_item *items, int n, int rc)
{
    if (rc < 0) {
        atomic_fetch_add_explicit(&ctx->sb->cache_errors, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&ctx->sb->cache_misses, (uint_fast64_t)n, memory_order_relaxed);
        return;
    }
    int hits = 0;
    for (int i = 0; i < n; i++)
        hits += items[i].hit;
    atomic_fetch_add_explicit(&ctx->sb->cache_hits, (uint_fast64_t)hits, memory_order_relaxed);
    atomic_fetch_add_explicit(&ctx->sb->cache_misses, (uint_fast64_t)(n - hits),
                              memory_order_relaxed);
}

/* A cached value is the decimal randomNumber; anything else is treated as a miss. */
static bool
parse_cached(const struct mr_cache_item *it, int32_t *out)
{
    if (!it->hit || it->val_len == 0 || it->val_len > 5)
        return false;
    int32_t v = 0;
    for (size_t i = 0; i < it->val_len; i++) {
        if (it->val[i] < '0' || it->val[i] > '9')
            return false;
        v = v * 10 + (it->val[i] - '0');
    }
    *out = v;
    return v >= 1 && v <= WORLD_ROWS;
}

static void
set_key(struct mr_cache_item *it, char *buf, int32_t id)
{
    int len = snprintf(buf, KEY_CAP, "w:%d", (int)id);
    it->key = buf;
    it->key_len = (size_t)len;
}

/* Fills rows[i] for every miss from the database, then writes them back to Redis. Returns 0
 * or answers 503 and returns -1. */
static int
fill_misses(struct mr_ctx *ctx, const int32_t *ids, struct mr_cache_item *items,
            struct mr_world *rows, int n, bool redis_ok)
{
    int32_t miss_ids[MR_QUERIES_MAX];
    int where[MR_QUERIES_MAX];
    int m = 0;
    for (int i = 0; i < n; i++)
        if (rows[i].id == 0) {
            where[m] = i;
            miss_ids[m++] = ids[i];
        }
    if (m == 0)
        return 0;
    int64_t t0 = mr_clock_us();
    struct mr_world *got = read_worlds(ctx, miss_ids, m);
    if (got == NULL)
        return -1;
    int64_t compute_us = mr_clock_us() - t0;
    struct mr_cache_item *fill = mr_arena_alloc(ctx->arena, (size_t)m * sizeof(*fill));
    char *vals = mr_arena_alloc(ctx->arena, (size_t)m * 8);
    if (fill == NULL || vals == NULL)
        return 0; /* the answer is complete; only the cache fill is skipped */
    for (int k = 0; k < m; k++) {
        rows[where[k]] = got[k];
        fill[k] = items[where[k]];
        fill[k].val = vals + (size_t)8 * k;
        fill[k].val_len = (size_t)snprintf(vals + (size_t)8 * k, 8, "%d", (int)got[k].randomnumber);
    }
    if (!redis_ok)
        return 0; /* Redis just failed: do not spend a second timeout on it */
    struct mr_err err;
    t0 = mr_clock_us();
    if (mr_cache_mset(ctx->cache, fill, (size_t)m, compute_us, true, &err) < 0)
        ctx->err_detail = "cache fill failed"; /* best effort: the answer is complete */
    ctx->backend_us += mr_clock_us() - t0;
    return 0;
}

int
h_cached_queries(struct mr_ctx *ctx)
{
    int n = mr_clamp_queries(mr_req_query(&ctx->req, "count"));
    struct mr_cache_item *items = mr_arena_calloc(ctx->arena, (size_t)n, sizeof(*items));
    struct mr_world *rows = mr_arena_calloc(ctx->arena, (size_t)n, sizeof(*rows));
    char *keys = mr_arena_alloc(ctx->arena, (size_t)n * KEY_CAP);
    if (items == NULL || rows == NULL || keys == NULL) {
        mr_resp_error(&ctx->resp, 500, "request too large");
        return 0;
    }
    int32_t ids[MR_QUERIES_MAX];
    random_ids(ctx, ids, n);
    for (int i = 0; i < n; i++)
        set_key(&items[i], keys + (size_t)i * KEY_CAP, ids[i]);
    struct mr_err err;
    int64_t t0 = mr_clock_us();
    int rc = mr_cache_mget(ctx->cache, items, (size_t)n, ctx->arena, &err);
    ctx->backend_us += mr_clock_us() - t0;
    cache_count(ctx, items, n, rc);
    for (int i = 0; i < n; i++) {
        int32_t v;
        if (rc == 0 && parse_cached(&items[i], &v)) {
            rows[i].id = ids[i];
            rows[i].randomnumber = v;
        }
    }
    if (fill_misses(ctx, ids, items, rows, n, rc == 0) == 0)
        write_worlds(ctx, rows, n);
    return 0;
}

/* n distinct ids: a bitmap of the 10,000 rows makes the draw O(n) without sorting. */
static void
distinct_ids(struct mr_ctx *ctx, int32_t *ids, int n)
{
    unsigned char seen[WORLD_ROWS / 8 + 1] = {0};
    for (int i = 0; i < n;) {
        int32_t id = mr_rand_range(ctx->rng, 1, WORLD_ROWS);
        if (seen[id >> 3] & (1u << (id & 7)))
            continue;
        seen[id >> 3] |= (unsigned char)(1u << (id & 7));
        ids[i++] = id;
    }
}

static void
refresh_cache(struct mr_ctx *ctx, const struct mr_world *rows, int n)
{
    struct mr_cache_item *items = mr_arena_calloc(ctx->arena, (size_t)n, sizeof(*items));
    char *keys = mr_arena_alloc(ctx->arena, (size_t)n * (KEY_CAP + 8));
    if (items == NULL || keys == NULL)
        return;
    for (int i = 0; i < n; i++) {
        char *k = keys + (size_t)i * (KEY_CAP + 8);
        set_key(&items[i], k, rows[i].id);
        items[i].val = k + KEY_CAP;
        items[i].val_len = (size_t)snprintf(k + KEY_CAP, 8, "%d", (int)rows[i].randomnumber);
    }
    struct mr_err err;
    int64_t t0 = mr_clock_us();
    if (mr_cache_mset(ctx->cache, items, (size_t)n, 0, false, &err) < 0) {
        /* The old copies may outlive the update until their TTL: say so, once per event. */
        ctx->err_detail = "cache refresh after update failed";
    }
    ctx->backend_us += mr_clock_us() - t0;
}

int
h_updates(struct mr_ctx *ctx)
{
    int n = mr_clamp_queries(mr_req_query(&ctx->req, "queries"));
    struct mr_world *rows = mr_arena_alloc(ctx->arena, (size_t)n * sizeof(*rows));
    if (rows == NULL) {
        mr_resp_error(&ctx->resp, 500, "request too large");
        return 0;
    }
    int32_t ids[MR_QUERIES_MAX];
    distinct_ids(ctx, ids, n);
    for (int i = 0; i < n; i++) {
        rows[i].id = ids[i];
        rows[i].randomnumber = mr_rand_range(ctx->rng, 1, WORLD_ROWS);
    }
    struct mr_err err;
    int64_t t0 = mr_clock_us();
    int rc = mr_db_worlds_update(ctx->db, rows, (size_t)n, &err);
    ctx->backend_us += mr_clock_us() - t0;
    if (rc < 0) {
        mr_handler_unavailable(ctx, "primary database unavailable", &err);
        return 0;
    }
    refresh_cache(ctx, rows, n);
    write_worlds(ctx, rows, n);
    return 0;
}
