/* SPDX-License-Identifier: BSD-2-Clause */
/* testcache: test-build routes (MR_TEST_BUILD) that drive millrace.h's cache-aside calls with
 * keys and failures the integration tests choose (tests/integration/test_data_cache_aside.py).
 *  GET  /test/cache/fetch?key=K...[&ttl_ms=N][&absent=K][&fail=S][&sleep_ms=N]
 *       mr_cache_fetch of the keys; the loader gives "loaded:K", leaves `absent` keys absent,
 *       or fails with status S, after sleeping sleep_ms (at most 2000) if asked. Answers
 *       what happened: the loader's calls and misses, and per key whether it was a hit and
 *       its value.
 *  GET  /test/cache/fetch-l1?...  the same, on a route flagged MR_ROUTE_CACHE_L1 (the worker's
 *       L1 first); answers the worker's pid too, so a test can tell the workers apart.
 *  POST /test/cache/write?id=N&value=V&mode=stale|replace[&bad=1][&fail_after=1]
 *       World row N set to V on the primary (bad=1 sends a parameter the server refuses, a
 *       write that fails); once committed, key w:N is queued stale or replaced with "V", as
 *       /updates does; fail_after=1 then answers 500 (the data changed all the same). */
#ifdef MR_TEST_BUILD
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <millrace.h>

#include "handlers/handlers.h"

#define MAX_KEYS 16

struct load_log {
    int calls;
    size_t n_missed;
    const char *missed[MAX_KEYS];
    const char *absent; /* NULL: none */
    int fail;           /* 0, or the status the loader returns */
    long sleep_ms;      /* how long the loader takes: a window for a concurrent write */
};

static int
test_loader(struct mr_ctx *ctx, struct mr_cache_entry **misses, size_t n, void *arg)
{
    struct load_log *log = arg;
    log->calls++;
    if (log->sleep_ms > 0)
        (void)usleep((useconds_t)log->sleep_ms * 1000);
    for (size_t k = 0; k < n && log->n_missed < MAX_KEYS; k++)
        log->missed[log->n_missed++] = misses[k]->key;
    if (log->fail != 0)
        return log->fail;
    for (size_t k = 0; k < n; k++) {
        if (log->absent != NULL && strcmp(misses[k]->key, log->absent) == 0)
            continue;
        size_t len = strlen("loaded:") + misses[k]->key_len;
        char *v = mr_alloc(ctx, len + 1);
        if (v == NULL)
            return 500;
        (void)snprintf(v, len + 1, "loaded:%s", misses[k]->key);
        misses[k]->value = v;
        misses[k]->value_len = len;
    }
    return 0;
}

static long
query_long(struct mr_ctx *ctx, const char *name, long def)
{
    const char *s = mr_query(ctx, name);
    return s != NULL ? strtol(s, NULL, 10) : def;
}

int
h_test_cache_fetch(struct mr_ctx *ctx)
{
    struct mr_cache_entry e[MAX_KEYS];
    size_t n = 0;
    for (const char *k; n < MAX_KEYS && (k = mr_query_at(ctx, "key", n)) != NULL; n++)
        e[n] = (struct mr_cache_entry){.key = k, .key_len = strlen(k)};
    struct load_log log = {.absent = mr_query(ctx, "absent"),
                           .fail = (int)query_long(ctx, "fail", 0),
                           .sleep_ms = query_long(ctx, "sleep_ms", 0)};
    if (log.sleep_ms < 0 || log.sleep_ms > 2000)
        return mr_error(ctx, 400, "sleep_ms in 0..2000");
    int rc = mr_cache_fetch(ctx, e, n, (int)query_long(ctx, "ttl_ms", 0), test_loader, &log);
    if (rc != 0)
        return rc;
    struct mr_jw *j = mr_json_begin(ctx);
    mr_jw_object(j);
    mr_jw_key(j, "pid");
    mr_jw_int(j, (long long)getpid());
    mr_jw_key(j, "loader_calls");
    mr_jw_int(j, log.calls);
    mr_jw_key(j, "missed");
    mr_jw_array(j);
    for (size_t k = 0; k < log.n_missed; k++)
        mr_jw_string(j, log.missed[k]);
    mr_jw_array_end(j);
    mr_jw_key(j, "entries");
    mr_jw_array(j);
    for (size_t i = 0; i < n; i++) {
        mr_jw_object(j);
        mr_jw_key(j, "key");
        mr_jw_string(j, e[i].key);
        mr_jw_key(j, "hit");
        mr_jw_bool(j, e[i].hit);
        mr_jw_key(j, "value");
        if (e[i].value != NULL)
            mr_jw_stringn(j, e[i].value, e[i].value_len);
        else
            mr_jw_null(j);
        mr_jw_object_end(j);
    }
    mr_jw_array_end(j);
    mr_jw_object_end(j);
    return 0;
}

int
h_test_cache_write(struct mr_ctx *ctx)
{
    long id = query_long(ctx, "id", 0), value = query_long(ctx, "value", 0);
    const char *mode = mr_query(ctx, "mode");
    if (id < 1 || id > 10000 || value < 1 || value > 10000 || mode == NULL ||
        (strcmp(mode, "stale") != 0 && strcmp(mode, "replace") != 0))
        return mr_error(ctx, 400, "id and value in 1..10000, mode stale or replace");
    char ids[16], vals[16], key[16], val[8];
    (void)snprintf(ids, sizeof(ids), "{%ld}", id);
    (void)snprintf(vals, sizeof(vals), query_long(ctx, "bad", 0) ? "{x}" : "{%ld}", value);
    const char *params[2] = {ids, vals};
    struct mr_rows *r = NULL;
    int rc = mr_sql_write(ctx, MR_TE_UPDATE, params, 2, &r);
    if (rc != 0)
        return rc; /* not committed: nothing is queued, the cached copy stays */
    int key_len = snprintf(key, sizeof(key), "w:%ld", id);
    int val_len = snprintf(val, sizeof(val), "%ld", value);
    rc = strcmp(mode, "stale") == 0
             ? mr_cache_stale(ctx, key, (size_t)key_len)
             : mr_cache_replace(ctx, key, (size_t)key_len, val, (size_t)val_len, 0);
    if (rc != 0 || query_long(ctx, "fail_after", 0))
        return 500;
    struct mr_jw *j = mr_json_begin(ctx);
    mr_jw_object(j);
    mr_jw_key(j, "id");
    mr_jw_int(j, id);
    mr_jw_key(j, "randomNumber");
    mr_jw_int(j, value);
    mr_jw_object_end(j);
    return 0;
}
#else
/* ISO C forbids an empty translation unit. */
typedef int mr_testcache_unused;
#endif
