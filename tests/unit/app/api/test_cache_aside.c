/* SPDX-License-Identifier: BSD-2-Clause */
/* test_cache_aside: millrace.h's cache-aside calls where no Redis is needed: against a
 * loopback port that refuses connections (a real dead Redis), mr_cache_fetch answers every
 * key from the loader, called once, and sends nothing more; the loader's failure is the
 * call's status; and mr_cache_stale / mr_cache_replace queue copies on the request. Defines
 * cache_aside_suite for tests/unit/main.c. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "app/serve/ctx.h"
#include "tests/unit/suites.h"

struct fixture {
    int fd;
    struct mr_cache_cfg cfg;
    struct mr_backend_slot slot;
    struct mr_arena arena;
    struct mr_sb *sb;
    struct mr_cfg mcfg;
    struct mr_ctx ctx;
};

static void
fixture_init(struct fixture *f)
{
    memset(f, 0, sizeof(*f));
    f->cfg = (struct mr_cache_cfg){
        .host = "127.0.0.1",
        .port = mr_test_refusing_port(&f->fd),
        .connect_timeout_ms = 200,
        .command_timeout_ms = 200,
        .key_prefix = "t:",
        .ttl_ms = 60000,
        .ttl_jitter_pct = 10,
        .xfetch_beta = 1.0,
        .reconnect_backoff_ms = 60000,
        .reconnect_backoff_max_ms = 120000,
        .breaker = {.failures = 5, .cooldown_ms = 60000},
    };
    mr_backend_slot_init(&f->slot, "redis");
    mr_arena_init(&f->arena, 4096, 1 << 20);
    f->sb = calloc(1, sizeof(*f->sb));
    ck_assert_ptr_nonnull(f->sb);
    f->mcfg.db.max_replica_lag_ms = 1000;
    f->mcfg.request_timeout_ms = 5000;
    f->ctx = (struct mr_ctx){.arena = &f->arena, .sb = f->sb, .cfg = &f->mcfg};
    struct mr_err err;
    ck_assert_int_eq(mr_cache_open(&f->cfg, &f->slot, &f->ctx.cache, &err), 0);
}

static void
fixture_fini(struct fixture *f)
{
    mr_cache_close(&f->ctx.cache);
    mr_arena_fini(&f->arena);
    free(f->sb);
    (void)close(f->fd);
}

struct loads {
    int calls;
    size_t n;
    struct mr_cache_entry *base;
    size_t index[8];
    int status;
};

/* Values "v<index>"; the entry at index 1 absent. */
static int
loader(struct mr_ctx *ctx, struct mr_cache_entry **misses, size_t n, void *arg)
{
    struct loads *l = arg;
    l->calls++;
    l->n = n;
    for (size_t k = 0; k < n; k++) {
        size_t i = (size_t)(misses[k] - l->base);
        l->index[k] = i;
        ck_assert_ptr_null(misses[k]->value); /* cleared for the loader */
        if (i == 1)
            continue;
        char *v = mr_alloc(ctx, 8);
        misses[k]->value_len = (size_t)snprintf(v, 8, "v%zu", i);
        misses[k]->value = v;
    }
    return l->status;
}

START_TEST(test_fetch_redis_down_is_the_loaders_answer_for_every_key)
{
    struct fixture f;
    fixture_init(&f);
    struct mr_cache_entry e[3] = {
        {.key = "a", .key_len = 1, .value = "junk", .value_len = 4, .hit = true},
        {.key = "b", .key_len = 1},
        {.key = "c", .key_len = 1},
    };
    struct loads l = {.base = e};
    ck_assert_int_eq(mr_cache_fetch(&f.ctx, e, 3, 0, loader, &l), 0);
    ck_assert_int_eq(l.calls, 1);
    ck_assert_uint_eq(l.n, 3);
    for (size_t k = 0; k < 3; k++)
        ck_assert_uint_eq(l.index[k], k); /* in the caller's order */
    ck_assert(!e[0].hit && !e[1].hit && !e[2].hit);
    ck_assert_str_eq(e[0].value, "v0");
    ck_assert_ptr_null(e[1].value); /* absent */
    ck_assert_uint_eq(e[1].value_len, 0);
    ck_assert_str_eq(e[2].value, "v2");
    /* One Redis call (the MGET), none for the fill: no second timeout in a request. */
    ck_assert_uint_eq(mr_cache_stats(f.ctx.cache)->errors, 1);
    ck_assert_uint_eq(atomic_load(&f.sb->cache_errors), 1);
    ck_assert_uint_eq(atomic_load(&f.sb->cache_misses), 3);
    ck_assert_uint_eq(atomic_load(&f.sb->cache_hits), 0);
    fixture_fini(&f);
}
END_TEST

START_TEST(test_fetch_loader_failure_is_the_calls_status)
{
    struct fixture f;
    fixture_init(&f);
    struct mr_cache_entry e[2] = {{.key = "a", .key_len = 1}, {.key = "b", .key_len = 1}};
    struct loads l = {.base = e, .status = 409};
    ck_assert_int_eq(mr_cache_fetch(&f.ctx, e, 2, 0, loader, &l), 409);
    ck_assert_int_eq(l.calls, 1);
    l = (struct loads){.base = e, .status = -EIO}; /* not an HTTP status: a bug, 500 */
    ck_assert_int_eq(mr_cache_fetch(&f.ctx, e, 2, 0, loader, &l), 500);
    ck_assert_ptr_nonnull(f.ctx.err_detail);
    fixture_fini(&f);
}
END_TEST

START_TEST(test_fetch_refuses_bad_calls_and_skips_empty_ones)
{
    struct fixture f;
    fixture_init(&f);
    struct mr_cache_entry e[1] = {{.key = "a", .key_len = 1}};
    struct loads l = {.base = e};
    ck_assert_int_eq(mr_cache_fetch(&f.ctx, e, 0, 0, loader, &l), 0);
    ck_assert_int_eq(l.calls, 0);
    ck_assert_int_eq(mr_cache_fetch(&f.ctx, e, 1, -1, loader, &l), 500);
    ck_assert_int_eq(mr_cache_fetch(&f.ctx, e, 1, 0, NULL, &l), 500);
    ck_assert_int_eq(mr_cache_fetch(&f.ctx, NULL, 1, 0, loader, &l), 500);
    ck_assert_int_eq(l.calls, 0);
    ck_assert_uint_eq(mr_cache_stats(f.ctx.cache)->errors, 0); /* nothing was sent */
    fixture_fini(&f);
}
END_TEST

START_TEST(test_stale_and_replace_queue_copies_in_order)
{
    struct fixture f;
    fixture_init(&f);
    char key[8] = "w:1", val[8] = "42";
    ck_assert_int_eq(mr_cache_replace(&f.ctx, key, 3, val, 2, 5000), 0);
    ck_assert_int_eq(mr_cache_stale(&f.ctx, "w:2", 3), 0);
    memset(key, 0, sizeof(key));
    memset(val, 0, sizeof(val));
    const struct mr_cache_queue *q = &f.ctx.cache_queue;
    ck_assert_uint_eq(q->n, 2);
    ck_assert_mem_eq(q->ops[0].key, "w:1", 3);
    ck_assert_mem_eq(q->ops[0].val, "42", 2);
    ck_assert_int_eq(q->ops[0].ttl_ms, 5000);
    ck_assert_int_eq(q->ops[0].kind, MR_CACHE_OP_SET);
    ck_assert_mem_eq(q->ops[1].key, "w:2", 3);
    ck_assert_int_eq(q->ops[1].kind, MR_CACHE_OP_MASK);
    /* Masked for the replica lag limit plus a whole request. */
    ck_assert_int_eq(q->ops[1].ttl_ms, 1000 + 5000);
    /* Nothing is sent until the request path flushes the queue. */
    ck_assert_uint_eq(mr_cache_stats(f.ctx.cache)->errors, 0);
    ck_assert_int_eq(mr_cache_stale(&f.ctx, NULL, 0), 500);
    ck_assert_int_eq(mr_cache_replace(&f.ctx, "k", 1, "v", 1, -1), 500);
    ck_assert_uint_eq(q->n, 2);
    fixture_fini(&f);
}
END_TEST

Suite *
cache_aside_suite(void)
{
    Suite *s = suite_create("cache_aside");
    TCase *t = tcase_create("cache_aside");
    tcase_add_test(t, test_fetch_redis_down_is_the_loaders_answer_for_every_key);
    tcase_add_test(t, test_fetch_loader_failure_is_the_calls_status);
    tcase_add_test(t, test_fetch_refuses_bad_calls_and_skips_empty_ones);
    tcase_add_test(t, test_stale_and_replace_queue_copies_in_order);
    suite_add_tcase(s, t);
    return s;
}
