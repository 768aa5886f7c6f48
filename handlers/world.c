/* SPDX-License-Identifier: BSD-2-Clause */
/* world: the World-table endpoints, on millrace.h's data calls.
 *  /db, /queries   read replicas (mr_sql_read; a batch, one pipelined round trip, for
 *                  /queries), never a cache: TechEmpower forbids caching here.
 *  /cached-queries mr_cache_fetch: Redis first (one MGET), the misses from a replica in one
 *                  batch (the loader), then Redis filled (SET NX, so that a fill from a replica
 *                  that has not yet replayed an update cannot overwrite the updater's value).
 *  /updates        distinct random ids; the reads and the one UPDATE committed together on
 *                  the primary (mr_batch_commit: one round trip); after the commit the Redis
 *                  copies are replaced (mr_cache_replace, sent after the handler in one
 *                  round trip).
 * A cached World is its randomNumber in decimal ("4242"): the same bytes as in the JSON, read
 * back with a five-digit parse, and legible in redis-cli; docs/guide.md ("Cache-aside") has
 * why not binary.
 * A database failure, whatever its status, answers 503 with fixed text; the reason is in the
 * log line (the data calls put it there). */
#include <stdlib.h>

#include <millrace.h>

#include "handlers/handlers.h"
#include "handlers/params.h"

#define WORLD_ROWS 10000
#define KEY_CAP 16 /* "w:" and any int32 in decimal */
#define ID_CAP 12  /* "-2147483648" and NUL */
#define VAL_CAP 12 /* a cached randomNumber: any int32 in decimal */

struct mr_world {
    int32_t id;
    int32_t randomnumber;
};

/* The scratch row of an update: sorted by id, last write of an id wins. */
struct pair {
    int32_t id;
    int32_t randomnumber;
    uint32_t pos; /* index in the caller's array, the tie-break for duplicate ids */
};

/* Answers a failed data call: 500 stays (the request itself: arena, a bug), every other
 * status is the database's trouble and answers 503 with `what`. */
static void
data_failed(struct mr_ctx *ctx, int status, const char *what)
{
    (void)mr_error(ctx, status == 500 ? 500 : 503, status == 500 ? "request too large" : what);
}

/* A World row from the result of MR_TE_WORLD; a missing row gives id 0. */
static struct mr_world
world_of(const struct mr_rows *r)
{
    struct mr_world w = {0, 0};
    if (mr_rows_count(r) > 0) {
        w.id = (int32_t)mr_rows_int(r, 0, 0);
        w.randomnumber = (int32_t)mr_rows_int(r, 0, 1);
    }
    return w;
}

static void
write_world(struct mr_jw *j, const struct mr_world *w)
{
    mr_jw_object(j);
    mr_jw_key(j, "id");
    mr_jw_int(j, w->id);
    mr_jw_key(j, "randomNumber");
    mr_jw_int(j, w->randomnumber);
    mr_jw_object_end(j);
}

static void
write_worlds(struct mr_ctx *ctx, const struct mr_world *rows, int n)
{
    struct mr_jw *j = mr_json_begin(ctx);
    mr_jw_array(j);
    for (int i = 0; i < n; i++)
        write_world(j, &rows[i]);
    mr_jw_array_end(j);
}

static void
random_ids(struct mr_ctx *ctx, int32_t *ids, int n)
{
    for (int i = 0; i < n; i++)
        ids[i] = mr_random(ctx, 1, WORLD_ROWS);
}

/* Writes v in decimal at dst (room for 11 bytes); returns the length. By hand: snprintf
 * took 31-51 ns a value here, this 6 ns, and a miss or an update formats one per row. */
static size_t
put_decimal(char *dst, int32_t v)
{
    char rev[11];
    size_t n = 0;
    uint32_t u = v < 0 ? 0u - (uint32_t)v : (uint32_t)v;
    do {
        rev[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    size_t len = 0;
    if (v < 0)
        dst[len++] = '-';
    while (n > 0)
        dst[len++] = rev[--n];
    return len;
}

/* n ids as text parameters, ID_CAP bytes each, in the arena; NULL when it is full. */
static const char **
id_params(struct mr_ctx *ctx, const int32_t *ids, int n)
{
    const char **p = mr_alloc(ctx, (size_t)n * sizeof(*p));
    char *text = mr_alloc(ctx, (size_t)n * ID_CAP);
    if (p == NULL || text == NULL)
        return NULL;
    for (int i = 0; i < n; i++) {
        char *t = text + (size_t)i * ID_CAP;
        t[put_decimal(t, ids[i])] = '\0';
        p[i] = t;
    }
    return p;
}

/* Reads n rows in one batch (one pipelined round trip) into rows. Returns 0 or the data
 * call's status (500 at the arena's ceiling). */
static int
load_rows(struct mr_ctx *ctx, const int32_t *ids, int n, struct mr_world *rows)
{
    struct mr_rows **res = mr_alloc(ctx, (size_t)n * sizeof(*res));
    const char **params = id_params(ctx, ids, n);
    struct mr_batch *b = mr_batch_begin(ctx);
    if (res == NULL || params == NULL || b == NULL)
        return 500;
    int rc = 0;
    for (int i = 0; rc == 0 && i < n; i++)
        rc = mr_batch_add(b, MR_TE_WORLD, &params[i], 1);
    if (rc == 0)
        rc = mr_batch_read(b, res);
    for (int i = 0; rc == 0 && i < n; i++)
        rows[i] = world_of(res[i]);
    return rc;
}

/* Reads n rows into a new arena array. Returns NULL after answering the error. */
static struct mr_world *
read_worlds(struct mr_ctx *ctx, const int32_t *ids, int n)
{
    struct mr_world *rows = mr_alloc(ctx, (size_t)n * sizeof(*rows));
    int rc = rows != NULL ? load_rows(ctx, ids, n, rows) : 500;
    if (rc != 0) {
        data_failed(ctx, rc, "database unavailable");
        return NULL;
    }
    return rows;
}

int
h_db(struct mr_ctx *ctx)
{
    char id[ID_CAP];
    id[put_decimal(id, (int32_t)mr_random(ctx, 1, WORLD_ROWS))] = '\0';
    const char *params[1] = {id};
    struct mr_rows *r = NULL;
    int rc = mr_sql_read(ctx, MR_TE_WORLD, params, 1, &r);
    if (rc != 0) {
        data_failed(ctx, rc, "database unavailable");
        return 0;
    }
    struct mr_world row = world_of(r);
    write_world(mr_json_begin(ctx), &row);
    return 0;
}

int
h_queries(struct mr_ctx *ctx)
{
    int n = mr_clamp_queries(mr_query(ctx, "queries"));
    int32_t ids[MR_QUERIES_MAX];
    random_ids(ctx, ids, n);
    struct mr_world *rows = read_worlds(ctx, ids, n);
    if (rows != NULL)
        write_worlds(ctx, rows, n);
    return 0;
}

/* A cached value is the decimal randomNumber; anything else is not one. */
static bool
parse_cached(const char *s, size_t len, int32_t *out)
{
    if (s == NULL || len == 0 || len > 5)
        return false;
    int32_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return v >= 1 && v <= WORLD_ROWS;
}

/* The key of World row id ("w:42") into buf (KEY_CAP bytes); returns its length. */
static size_t
world_key(char *buf, int32_t id)
{
    buf[0] = 'w';
    buf[1] = ':';
    return 2 + put_decimal(buf + 2, id);
}

/* What the loader of /cached-queries needs: the entries (to turn a miss back into its index)
 * and the ids. */
struct world_keys {
    const struct mr_cache_entry *entries;
    const int32_t *ids;
};

/* mr_cache_fetch's loader: the misses' rows in one batch (one replica round trip), each value
 * the decimal randomNumber in the arena; a row that does not exist stays absent. */
static int
load_worlds(struct mr_ctx *ctx, struct mr_cache_entry **misses, size_t m, void *arg)
{
    const struct world_keys *wk = arg;
    int32_t *ids = mr_alloc(ctx, m * sizeof(*ids));
    struct mr_world *got = mr_alloc(ctx, m * sizeof(*got));
    char *vals = mr_alloc(ctx, m * VAL_CAP);
    if (ids == NULL || got == NULL || vals == NULL)
        return 500;
    for (size_t k = 0; k < m; k++)
        ids[k] = wk->ids[misses[k] - wk->entries];
    int rc = load_rows(ctx, ids, (int)m, got);
    for (size_t k = 0; rc == 0 && k < m; k++) {
        if (got[k].id == 0)
            continue;
        misses[k]->value = vals + VAL_CAP * k;
        misses[k]->value_len = put_decimal(vals + VAL_CAP * k, got[k].randomnumber);
    }
    return rc;
}

/* Rows whose cached bytes are not a randomNumber (written by another version of the app) are
 * loaded like misses and their copies replaced after the handler. Returns 0 or a status. */
static int
repair(struct mr_ctx *ctx, struct mr_cache_entry *e, struct world_keys *wk, struct mr_world *rows,
       int n)
{
    struct mr_cache_entry *bad[MR_QUERIES_MAX];
    size_t m = 0;
    for (int i = 0; i < n; i++)
        if (rows[i].id == 0 && e[i].hit)
            bad[m++] = &e[i];
    for (size_t k = 0; k < m; k++) {
        bad[k]->value = NULL;
        bad[k]->value_len = 0;
    }
    int rc = m > 0 ? load_worlds(ctx, bad, m, wk) : 0;
    for (size_t k = 0; rc == 0 && k < m; k++) {
        int i = (int)(bad[k] - e);
        if (parse_cached(e[i].value, e[i].value_len, &rows[i].randomnumber)) {
            rows[i].id = wk->ids[i];
            rc = mr_cache_replace(ctx, e[i].key, e[i].key_len, e[i].value, e[i].value_len, 0);
        } else {
            rc = mr_cache_stale(ctx, e[i].key, e[i].key_len);
        }
    }
    return rc;
}

int
h_cached_queries(struct mr_ctx *ctx)
{
    int n = mr_clamp_queries(mr_query(ctx, "count"));
    struct mr_cache_entry *entries = mr_calloc(ctx, (size_t)n, sizeof(*entries));
    struct mr_world *rows = mr_calloc(ctx, (size_t)n, sizeof(*rows));
    char *keys = mr_alloc(ctx, (size_t)n * KEY_CAP);
    if (entries == NULL || rows == NULL || keys == NULL)
        return mr_error(ctx, 500, "request too large");
    int32_t ids[MR_QUERIES_MAX];
    random_ids(ctx, ids, n);
    for (int i = 0; i < n; i++) {
        entries[i].key = keys + (size_t)i * KEY_CAP;
        entries[i].key_len = world_key(keys + (size_t)i * KEY_CAP, ids[i]);
    }
    struct world_keys wk = {entries, ids};
    int rc = mr_cache_fetch(ctx, entries, (size_t)n, 0, load_worlds, &wk);
    for (int i = 0; rc == 0 && i < n; i++)
        if (parse_cached(entries[i].value, entries[i].value_len, &rows[i].randomnumber))
            rows[i].id = ids[i];
    if (rc == 0)
        rc = repair(ctx, entries, &wk, rows, n);
    if (rc != 0) {
        data_failed(ctx, rc, "database unavailable");
        return 0;
    }
    write_worlds(ctx, rows, n);
    return 0;
}

/* n distinct ids: a bitmap of the 10,000 rows makes the draw O(n) without sorting. */
static void
distinct_ids(struct mr_ctx *ctx, int32_t *ids, int n)
{
    unsigned char seen[WORLD_ROWS / 8 + 1] = {0};
    for (int i = 0; i < n;) {
        int32_t id = mr_random(ctx, 1, WORLD_ROWS);
        if (seen[id >> 3] & (1u << (id & 7)))
            continue;
        seen[id >> 3] |= (unsigned char)(1u << (id & 7));
        ids[i++] = id;
    }
}

/* Queues the rows' new values for Redis, after their commit: sent after the handler, in one
 * round trip. A failure to queue (the arena's ceiling) leaves the old copies until their TTL;
 * the answer stands, since the update committed. */
static void
replace_cached(struct mr_ctx *ctx, const struct mr_world *rows, int n)
{
    for (int i = 0; i < n; i++) {
        char key[KEY_CAP], val[VAL_CAP];
        size_t key_len = world_key(key, rows[i].id);
        size_t val_len = put_decimal(val, rows[i].randomnumber);
        if (mr_cache_replace(ctx, key, key_len, val, val_len, 0) != 0)
            return;
    }
}

static int
pair_cmp(const void *a, const void *b)
{
    const struct pair *x = a, *y = b;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Writes "{a,b,...}" for one field of the m pairs at dst; returns the bytes used with NUL. */
static size_t
format_array(char *dst, const struct pair *p, size_t m, bool ids)
{
    size_t len = 0;
    dst[len++] = '{';
    for (size_t i = 0; i < m; i++) {
        /* Room is reserved for the widest int32 and a comma per value. */
        if (i > 0)
            dst[len++] = ',';
        len += put_decimal(dst + len, ids ? p[i].id : p[i].randomnumber);
    }
    dst[len++] = '}';
    dst[len++] = '\0';
    return len;
}

/* The two int[] parameters of MR_TE_UPDATE, in the arena: the rows sorted by id, so that
 * concurrent workers lock rows in one order and cannot deadlock, and each id once with the
 * last value given for it, since UPDATE ... FROM with a duplicate id would apply an
 * unpredictable one of them. Returns false when the arena is full. */
static bool
update_params(struct mr_ctx *ctx, const struct mr_world *rows, int n, const char *out[2])
{
    struct pair *pairs = mr_alloc(ctx, (size_t)n * sizeof(*pairs));
    /* "-2147483648," is 12 bytes; two arrays, each with braces and a terminator. */
    char *text = mr_alloc(ctx, 2 * ((size_t)n * 12 + 3));
    if (pairs == NULL || text == NULL)
        return false;
    for (int i = 0; i < n; i++)
        pairs[i] = (struct pair){rows[i].id, rows[i].randomnumber, (uint32_t)i};
    qsort(pairs, (size_t)n, sizeof(*pairs), pair_cmp);
    size_t m = 0;
    for (int i = 0; i < n; i++) {
        if (m > 0 && pairs[m - 1].id == pairs[i].id)
            m--; /* a later position of the same id replaces the earlier */
        pairs[m++] = pairs[i];
    }
    size_t used = format_array(text, pairs, m, true);
    (void)format_array(text + used, pairs, m, false);
    out[0] = text;
    out[1] = text + used;
    return true;
}

/* BEGIN, a SELECT per row, the one UPDATE, COMMIT: one round trip, one transaction, on the
 * primary. Returns 0 once committed, else the data call's status. */
static int
commit_updates(struct mr_ctx *ctx, const struct mr_world *rows, int n)
{
    int32_t ids[MR_QUERIES_MAX];
    for (int i = 0; i < n; i++)
        ids[i] = rows[i].id;
    const char **params = id_params(ctx, ids, n);
    const char **arrays = mr_alloc(ctx, 2 * sizeof(*arrays));
    struct mr_rows **res = mr_alloc(ctx, ((size_t)n + 1) * sizeof(*res));
    struct mr_batch *b = mr_batch_begin(ctx);
    if (params == NULL || arrays == NULL || res == NULL || b == NULL ||
        !update_params(ctx, rows, n, arrays))
        return 500;
    int rc = 0;
    for (int i = 0; rc == 0 && i < n; i++)
        rc = mr_batch_add(b, MR_TE_WORLD, &params[i], 1);
    if (rc == 0)
        rc = mr_batch_add(b, MR_TE_UPDATE, arrays, 2);
    return rc != 0 ? rc : mr_batch_commit(b, res);
}

int
h_updates(struct mr_ctx *ctx)
{
    int n = mr_clamp_queries(mr_query(ctx, "queries"));
    struct mr_world *rows = mr_alloc(ctx, (size_t)n * sizeof(*rows));
    if (rows == NULL) {
        mr_error(ctx, 500, "request too large");
        return 0;
    }
    int32_t ids[MR_QUERIES_MAX];
    distinct_ids(ctx, ids, n);
    for (int i = 0; i < n; i++) {
        rows[i].id = ids[i];
        rows[i].randomnumber = mr_random(ctx, 1, WORLD_ROWS);
    }
    int rc = commit_updates(ctx, rows, n);
    if (rc != 0) {
        data_failed(ctx, rc, "primary database unavailable");
        return 0;
    }
    replace_cached(ctx, rows, n);
    write_worlds(ctx, rows, n);
    return 0;
}
