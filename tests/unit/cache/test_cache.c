/* SPDX-License-Identifier: BSD-2-Clause */
/* test_cache: the parts of cache/ that need no Redis. The envelope, the XFetch decision and
 * the TTL jitter are pure functions, reached through cache/internal.h (the only reason they
 * are not static); a request's queue of deferred writes is checked through the public header.
 * The failure policy (of calls and of the queue's flush) is checked against the real thing
 * that needs no server: a loopback port that refuses connections. Defines cache_suite
 * for tests/unit/main.c. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cache/cache.h"
#include "cache/internal.h"
#include "tests/unit/suites.h"

static size_t
encode(char *buf, const char *payload, size_t len)
{
    return mr_cache__env_encode(buf, 1234, 1700000000123, payload, len);
}

START_TEST(test_envelope_round_trips_binary_payload)
{
    static const char payload[] = {'a', '\0', 'b', '\xff', '\xf5', '\n'};
    char buf[64];
    size_t n = mr_cache__env_encode(buf, 987654, 1700000000123, payload, sizeof(payload));
    ck_assert_uint_eq(n, MR_CACHE__ENV_HEADER + sizeof(payload));
    struct mr_cache__env env;
    ck_assert_int_eq(mr_cache__env_parse(buf, n, &env), 0);
    ck_assert_uint_eq(env.delta_us, 987654);
    ck_assert_int_eq(env.expiry_ms, 1700000000123);
    ck_assert_uint_eq(env.payload_len, sizeof(payload));
    ck_assert_mem_eq(env.payload, payload, sizeof(payload));
}
END_TEST

START_TEST(test_envelope_round_trips_empty_payload)
{
    char buf[MR_CACHE__ENV_HEADER];
    size_t n = mr_cache__env_encode(buf, 0, 1, NULL, 0);
    struct mr_cache__env env;
    ck_assert_int_eq(mr_cache__env_parse(buf, n, &env), 0);
    ck_assert_uint_eq(env.payload_len, 0);
    ck_assert_int_eq(env.expiry_ms, 1);
}
END_TEST

START_TEST(test_envelope_saturates_delta)
{
    char buf[MR_CACHE__ENV_HEADER];
    struct mr_cache__env env;
    size_t n = mr_cache__env_encode(buf, (int64_t)1 << 40, 5, NULL, 0);
    ck_assert_int_eq(mr_cache__env_parse(buf, n, &env), 0);
    ck_assert_uint_eq(env.delta_us, UINT32_MAX);
    n = mr_cache__env_encode(buf, -5, 5, NULL, 0);
    ck_assert_int_eq(mr_cache__env_parse(buf, n, &env), 0);
    ck_assert_uint_eq(env.delta_us, 0);
}
END_TEST

START_TEST(test_envelope_rejects_every_truncation)
{
    char buf[64];
    size_t n = encode(buf, "hello", 5);
    struct mr_cache__env env;
    for (size_t len = 0; len < n; len++)
        ck_assert_int_eq(mr_cache__env_parse(buf, len, &env), -EINVAL);
    ck_assert_int_eq(mr_cache__env_parse(NULL, 0, &env), -EINVAL);
}
END_TEST

START_TEST(test_envelope_rejects_appended_bytes)
{
    char buf[64];
    size_t n = encode(buf, "hello", 5);
    buf[n] = 'x';
    struct mr_cache__env env;
    ck_assert_int_eq(mr_cache__env_parse(buf, n + 1, &env), -EINVAL);
}
END_TEST

START_TEST(test_envelope_rejects_bad_header_fields)
{
    char buf[64];
    struct mr_cache__env env;
    size_t n = encode(buf, "hello", 5);
    buf[0] = 'X';
    ck_assert_int_eq(mr_cache__env_parse(buf, n, &env), -EINVAL);
    n = encode(buf, "hello", 5);
    buf[1] = 2; /* a future version */
    ck_assert_int_eq(mr_cache__env_parse(buf, n, &env), -EINVAL);
    n = mr_cache__env_encode(buf, 1, 0, "hello", 5); /* no expiry */
    ck_assert_int_eq(mr_cache__env_parse(buf, n, &env), -EINVAL);
    n = mr_cache__env_encode(buf, 1, -1, "hello", 5);
    ck_assert_int_eq(mr_cache__env_parse(buf, n, &env), -EINVAL);
}
END_TEST

START_TEST(test_envelope_rejects_foreign_values)
{
    static const char *foreign[] = {
        "{\"id\":1,\"randomNumber\":4242}", "plain text value of some length", "",
        "\xf5", /* the magic alone */
    };
    struct mr_cache__env env;
    for (size_t i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++)
        ck_assert_int_eq(mr_cache__env_parse(foreign[i], strlen(foreign[i]), &env), -EINVAL);
}
END_TEST

START_TEST(test_xfetch_rnd_one_refreshes_exactly_at_expiry)
{
    /* ln(1) = 0: no early window at all, whatever delta and beta. */
    ck_assert(!mr_cache__xfetch_early(999, 5000000, 1000, 1.0, 1.0));
    ck_assert(mr_cache__xfetch_early(1000, 5000000, 1000, 1.0, 1.0));
    ck_assert(mr_cache__xfetch_early(1001, 0, 1000, 1.0, 1.0));
}
END_TEST

START_TEST(test_xfetch_window_scales_with_delta_and_beta)
{
    double rnd = exp(-2.0); /* -ln(rnd) = 2 */
    /* delta 10 ms, beta 1: window 20 ms before expiry. */
    ck_assert(mr_cache__xfetch_early(1000 - 19, 10000, 1000, 1.0, rnd));
    ck_assert(!mr_cache__xfetch_early(1000 - 21, 10000, 1000, 1.0, rnd));
    /* beta 2 doubles it to 40 ms. */
    ck_assert(mr_cache__xfetch_early(1000 - 39, 10000, 1000, 2.0, rnd));
    ck_assert(!mr_cache__xfetch_early(1000 - 41, 10000, 1000, 2.0, rnd));
    /* delta 0: only at expiry. */
    ck_assert(!mr_cache__xfetch_early(999, 0, 1000, 1.0, rnd));
}
END_TEST

/* The shortcut that skips the log far from expiry answers as the formula does, on both
 * sides of its bound, for every draw from the least the RNG gives to 1. */
START_TEST(test_xfetch_shortcut_agrees_with_the_formula)
{
    const double draws[] = {0x1.0p-53, 1e-12, 1e-6, 0.01, 0.5, 1.0};
    for (size_t k = 0; k < sizeof(draws) / sizeof(draws[0]); k++) {
        for (int64_t now = 0; now <= 1000; now++) {
            double gap = 10.0 * -log(draws[k]); /* delta 10 ms, beta 1 */
            bool want = (double)now + gap >= 1000.0;
            ck_assert_msg(mr_cache__xfetch_early(now, 10000, 1000, 1.0, draws[k]) == want,
                          "rnd %g now %lld", draws[k], (long long)now);
        }
    }
}
END_TEST

START_TEST(test_xfetch_tiny_rnd_refreshes_far_ahead)
{
    double rnd = 0x1.0p-53; /* the smallest the RNG gives: -ln = 36.7 */
    ck_assert(mr_cache__xfetch_early(1000 - 360, 10000, 1000, 1.0, rnd));
    ck_assert(!mr_cache__xfetch_early(1000 - 370, 10000, 1000, 1.0, rnd));
}
END_TEST

START_TEST(test_xfetch_beta_zero_disables)
{
    ck_assert(!mr_cache__xfetch_early(5000, 10000, 1000, 0.0, 0.001));
    ck_assert(!mr_cache__xfetch_early(5000, 10000, 1000, -1.0, 0.001));
    ck_assert(!mr_cache__xfetch_early(5000, 10000, 1000, NAN, 0.001));
}
END_TEST

START_TEST(test_ttl_jitter_reaches_both_ends)
{
    ck_assert_int_eq(mr_cache__ttl_jitter(1000, 10, 0.0), 900);
    ck_assert_int_eq(mr_cache__ttl_jitter(1000, 10, 1.0), 1100);
    ck_assert_int_eq(mr_cache__ttl_jitter(1000, 10, 0.5), 1000);
}
END_TEST

START_TEST(test_ttl_jitter_stays_in_bounds)
{
    struct mr_rand rng = {42};
    for (int i = 0; i < 100000; i++) {
        int ttl = mr_cache__ttl_jitter(60000, 10, mr_rand_unit(&rng));
        ck_assert_int_ge(ttl, 54000);
        ck_assert_int_le(ttl, 66000);
    }
}
END_TEST

START_TEST(test_ttl_jitter_zero_pct_and_clamps)
{
    ck_assert_int_eq(mr_cache__ttl_jitter(1000, 0, 0.0), 1000);
    ck_assert_int_eq(mr_cache__ttl_jitter(1000, 0, 1.0), 1000);
    ck_assert_int_eq(mr_cache__ttl_jitter(1000, 100, 0.0), 1); /* never 0: PX 0 is an error */
    ck_assert_int_eq(mr_cache__ttl_jitter(1000, 250, 1.0), 2000);
    ck_assert_int_eq(mr_cache__ttl_jitter(1000, -5, 1.0), 1000);
}
END_TEST

static struct mr_cache_cfg
test_cfg(int port)
{
    return (struct mr_cache_cfg){
        .host = "127.0.0.1",
        .port = port,
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
}

START_TEST(test_open_rejects_bad_config)
{
    struct mr_cache_cfg cfg = test_cfg(6379);
    struct mr_backend_slot slot;
    mr_backend_slot_init(&slot, "redis");
    struct mr_cache *c = (struct mr_cache *)&cfg; /* must be overwritten with NULL */
    struct mr_err err;
    cfg.command_timeout_ms = 0;
    ck_assert_int_eq(mr_cache_open(&cfg, &slot, &c, &err), -EINVAL);
    ck_assert_ptr_null(c);
    cfg = test_cfg(6379);
    cfg.reconnect_backoff_max_ms = 1;
    ck_assert_int_eq(mr_cache_open(&cfg, &slot, &c, &err), -EINVAL);
    ck_assert_ptr_null(c);
}
END_TEST

START_TEST(test_dead_redis_fails_fast_during_backoff)
{
    int fd;
    struct mr_cache_cfg cfg = test_cfg(mr_test_refusing_port(&fd));
    struct mr_backend_slot slot;
    mr_backend_slot_init(&slot, "redis");
    struct mr_cache *c;
    struct mr_err err;
    ck_assert_int_eq(mr_cache_open(&cfg, &slot, &c, &err), 0);
    struct mr_arena arena;
    mr_arena_init(&arena, 4096, 65536);
    struct mr_cache_item item = {.key = "k", .key_len = 1, .val = "stale", .hit = true};
    ck_assert_int_eq(mr_cache_mget(c, &item, 1, &arena, &err), -ECONNREFUSED);
    ck_assert(!item.hit && item.val == NULL);
    ck_assert_ptr_nonnull(strstr(err.msg, "connect"));
    /* The second call within the backoff sends nothing: its reason says so. */
    ck_assert_int_eq(mr_cache_mget(c, &item, 1, &arena, &err), -ECONNREFUSED);
    ck_assert_ptr_nonnull(strstr(err.msg, "reconnect in"));
    ck_assert_int_eq(atomic_load(&slot.failures_total), 1);
    ck_assert_uint_eq(mr_cache_stats(c)->errors, 2);
    mr_arena_fini(&arena);
    mr_cache_close(&c);
    mr_cache_close(&c);
    ck_assert_ptr_null(c);
    (void)close(fd);
}
END_TEST

START_TEST(test_open_breaker_sends_nothing)
{
    int fd;
    struct mr_cache_cfg cfg = test_cfg(mr_test_refusing_port(&fd));
    cfg.reconnect_backoff_ms = 1;
    cfg.reconnect_backoff_max_ms = 1;
    cfg.breaker.failures = 1;
    struct mr_backend_slot slot;
    mr_backend_slot_init(&slot, "redis");
    struct mr_cache *c;
    struct mr_err err;
    ck_assert_int_eq(mr_cache_open(&cfg, &slot, &c, &err), 0);
    struct mr_cache_item item = {.key = "k", .key_len = 1, .val = "v", .val_len = 1};
    ck_assert_int_eq(mr_cache_mset(c, &item, 1, 10, false, &err), -ECONNREFUSED);
    ck_assert_int_eq(atomic_load(&slot.breaker), MR_BREAKER_OPEN);
    (void)usleep(5000); /* past the backoff, well inside the cooldown */
    ck_assert_int_eq(mr_cache_mset(c, &item, 1, 10, false, &err), -ECONNREFUSED);
    ck_assert_ptr_nonnull(strstr(err.msg, "breaker"));
    ck_assert_int_eq(atomic_load(&slot.failures_total), 1);
    mr_cache_close(&c);
    (void)close(fd);
}
END_TEST

START_TEST(test_queue_copies_keys_and_values_in_order)
{
    struct mr_arena arena;
    mr_arena_init(&arena, 256, 1 << 20);
    struct mr_cache_queue q = {0};
    char key[16], val[16];
    for (int i = 0; i < 20; i++) { /* past the first capacity: the array doubles */
        int kl = snprintf(key, sizeof(key), "k%d", i);
        int vl = snprintf(val, sizeof(val), "v%d", i);
        struct mr_cache_op op = {.key = key,
                                 .key_len = (size_t)kl,
                                 .val = val,
                                 .val_len = (size_t)vl,
                                 .ttl_ms = i + 1,
                                 .kind = (enum mr_cache_op_kind)(i % 3)};
        ck_assert_int_eq(mr_cache_queue_add(&q, &arena, &op), 0);
    }
    memset(key, 'x', sizeof(key)); /* the caller's buffers may go at once */
    memset(val, 'x', sizeof(val));
    ck_assert_uint_eq(q.n, 20);
    for (int i = 0; i < 20; i++) {
        char want[16];
        int kl = snprintf(want, sizeof(want), "k%d", i);
        ck_assert_uint_eq(q.ops[i].key_len, (size_t)kl);
        ck_assert_mem_eq(q.ops[i].key, want, (size_t)kl);
        ck_assert_int_eq(q.ops[i].ttl_ms, i + 1);
        ck_assert_int_eq(q.ops[i].kind, i % 3);
        if (q.ops[i].kind != MR_CACHE_OP_SET) { /* DEL and MASK carry no value */
            ck_assert_ptr_null(q.ops[i].val);
            ck_assert_uint_eq(q.ops[i].val_len, 0);
        } else {
            int vl = snprintf(want, sizeof(want), "v%d", i);
            ck_assert_mem_eq(q.ops[i].val, want, (size_t)vl);
        }
    }
    mr_arena_fini(&arena);
}
END_TEST

START_TEST(test_queue_refuses_without_key_and_past_the_ceiling)
{
    struct mr_arena arena;
    mr_arena_init(&arena, 256, 1024);
    struct mr_cache_queue q = {0};
    struct mr_cache_op op = {.kind = MR_CACHE_OP_DEL, .key = NULL, .key_len = 0};
    ck_assert_int_eq(mr_cache_queue_add(&q, &arena, &op), -EINVAL);
    op = (struct mr_cache_op){.kind = MR_CACHE_OP_DEL, .key = "k", .key_len = 0};
    ck_assert_int_eq(mr_cache_queue_add(&q, &arena, &op), -EINVAL);
    op = (struct mr_cache_op){.kind = MR_CACHE_OP_MASK, .key = "k", .key_len = 1}; /* no time */
    ck_assert_int_eq(mr_cache_queue_add(&q, &arena, &op), -EINVAL);
    static char big[4096];
    op = (struct mr_cache_op){.key = "k", .key_len = 1, .val = big, .val_len = sizeof(big)};
    ck_assert_int_eq(mr_cache_queue_add(&q, &arena, &op), -ENOMEM);
    ck_assert_uint_eq(q.n, 0);
    /* An empty value is a value (SET ""), not an absent one. */
    op = (struct mr_cache_op){.key = "k", .key_len = 1, .val = NULL, .val_len = 0};
    ck_assert_int_eq(mr_cache_queue_add(&q, &arena, &op), 0);
    ck_assert_ptr_nonnull(q.ops[0].val);
    mr_arena_fini(&arena);
}
END_TEST

START_TEST(test_queue_flush_to_dead_redis_fails_once_and_empties)
{
    int fd;
    struct mr_cache_cfg cfg = test_cfg(mr_test_refusing_port(&fd));
    struct mr_backend_slot slot;
    mr_backend_slot_init(&slot, "redis");
    struct mr_cache *c;
    struct mr_err err;
    ck_assert_int_eq(mr_cache_open(&cfg, &slot, &c, &err), 0);
    struct mr_arena arena;
    mr_arena_init(&arena, 4096, 65536);
    struct mr_cache_queue q = {0};
    ck_assert_int_eq(mr_cache_queue_flush(c, &q, &err), 0); /* nothing queued: nothing sent */
    ck_assert_uint_eq(mr_cache_stats(c)->errors, 0);
    struct mr_cache_op del = {.kind = MR_CACHE_OP_DEL, .key = "a", .key_len = 1};
    struct mr_cache_op set = {.key = "b", .key_len = 1, .val = "1", .val_len = 1};
    ck_assert_int_eq(mr_cache_queue_add(&q, &arena, &del), 0);
    ck_assert_int_eq(mr_cache_queue_add(&q, &arena, &set), 0);
    ck_assert_int_eq(mr_cache_queue_flush(c, &q, &err), -ECONNREFUSED);
    ck_assert_uint_eq(q.n, 0);
    ck_assert_int_eq(atomic_load(&slot.failures_total), 1);
    /* A second request's flush within the backoff costs no connect. */
    ck_assert_int_eq(mr_cache_queue_add(&q, &arena, &del), 0);
    ck_assert_int_eq(mr_cache_queue_flush(c, &q, &err), -ECONNREFUSED);
    ck_assert_ptr_nonnull(strstr(err.msg, "reconnect in"));
    ck_assert_int_eq(atomic_load(&slot.failures_total), 1);
    mr_arena_fini(&arena);
    mr_cache_close(&c);
    (void)close(fd);
}
END_TEST

Suite *
cache_suite(void)
{
    Suite *s = suite_create("cache");
    TCase *env = tcase_create("envelope");
    tcase_add_test(env, test_envelope_round_trips_binary_payload);
    tcase_add_test(env, test_envelope_round_trips_empty_payload);
    tcase_add_test(env, test_envelope_saturates_delta);
    tcase_add_test(env, test_envelope_rejects_every_truncation);
    tcase_add_test(env, test_envelope_rejects_appended_bytes);
    tcase_add_test(env, test_envelope_rejects_bad_header_fields);
    tcase_add_test(env, test_envelope_rejects_foreign_values);
    suite_add_tcase(s, env);
    TCase *xf = tcase_create("xfetch");
    tcase_add_test(xf, test_xfetch_rnd_one_refreshes_exactly_at_expiry);
    tcase_add_test(xf, test_xfetch_window_scales_with_delta_and_beta);
    tcase_add_test(xf, test_xfetch_shortcut_agrees_with_the_formula);
    tcase_add_test(xf, test_xfetch_tiny_rnd_refreshes_far_ahead);
    tcase_add_test(xf, test_xfetch_beta_zero_disables);
    suite_add_tcase(s, xf);
    TCase *rnd = tcase_create("jitter");
    tcase_add_test(rnd, test_ttl_jitter_reaches_both_ends);
    tcase_add_test(rnd, test_ttl_jitter_stays_in_bounds);
    tcase_add_test(rnd, test_ttl_jitter_zero_pct_and_clamps);
    suite_add_tcase(s, rnd);
    TCase *fail = tcase_create("failure_policy");
    tcase_add_test(fail, test_open_rejects_bad_config);
    tcase_add_test(fail, test_dead_redis_fails_fast_during_backoff);
    tcase_add_test(fail, test_open_breaker_sends_nothing);
    suite_add_tcase(s, fail);
    TCase *queue = tcase_create("queue");
    tcase_add_test(queue, test_queue_copies_keys_and_values_in_order);
    tcase_add_test(queue, test_queue_refuses_without_key_and_past_the_ceiling);
    tcase_add_test(queue, test_queue_flush_to_dead_redis_fails_once_and_empties);
    suite_add_tcase(s, queue);
    return s;
}
