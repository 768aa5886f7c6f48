/* SPDX-License-Identifier: BSD-2-Clause */
/* test_scoreboard: the latency bucket boundaries, quantiles over known histograms, the
 * per-route counters, and the census, slot iterator and route labels of a real (anonymous
 * shared) mapping from mr_sb_new. */
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "app/board/scoreboard.h"
#include "tests/unit/suites.h"

static void
hist_clear(atomic_uint_fast64_t *hist)
{
    for (int i = 0; i < MR_HIST_BUCKETS; i++)
        atomic_init(&hist[i], 0);
}

/* Adds n samples of us µs, as mr_sb_record files them. */
static void
hist_add(atomic_uint_fast64_t *hist, int64_t us, uint64_t n)
{
    atomic_fetch_add(&hist[mr_sb_bucket(us)], n);
}

START_TEST(test_sb_bucket_boundaries)
{
    ck_assert_int_eq(mr_sb_bucket(-5), 0);
    ck_assert_int_eq(mr_sb_bucket(0), 0);
    ck_assert_int_eq(mr_sb_bucket(1), 0);
    ck_assert_int_eq(mr_sb_bucket(2), 1);
    ck_assert_int_eq(mr_sb_bucket(3), 2);
    ck_assert_int_eq(mr_sb_bucket(4), 2);
    ck_assert_int_eq(mr_sb_bucket(5), 3);
    ck_assert_int_eq(mr_sb_bucket(1023), 10);
    ck_assert_int_eq(mr_sb_bucket(1024), 10);
    ck_assert_int_eq(mr_sb_bucket(1025), 11);
    ck_assert_int_eq(mr_sb_bucket((int64_t)1 << 26), MR_HIST_BUCKETS - 2);
    ck_assert_int_eq(mr_sb_bucket(((int64_t)1 << 26) + 1), MR_HIST_BUCKETS - 1);
    ck_assert_int_eq(mr_sb_bucket(INT64_MAX), MR_HIST_BUCKETS - 1);
}
END_TEST

START_TEST(test_sb_bucket_le_is_upper_bound)
{
    ck_assert_int_eq(mr_sb_bucket_le(0), 1);
    ck_assert_int_eq(mr_sb_bucket_le(1), 2);
    ck_assert_int_eq(mr_sb_bucket_le(10), 1024);
    ck_assert_int_eq(mr_sb_bucket_le(MR_HIST_BUCKETS - 2), (int64_t)1 << 26);
    ck_assert_int_eq(mr_sb_bucket_le(MR_HIST_BUCKETS - 1), INT64_MAX);
    /* Every duration lands in the first bucket whose bound holds it. */
    for (int64_t us = 0; us < 5000; us++) {
        int b = mr_sb_bucket(us);
        ck_assert_int_le(us, mr_sb_bucket_le(b));
        if (b > 0)
            ck_assert_int_gt(us, mr_sb_bucket_le(b - 1));
    }
}
END_TEST

START_TEST(test_sb_quantile_empty_is_zero)
{
    atomic_uint_fast64_t hist[MR_HIST_BUCKETS];
    hist_clear(hist);
    ck_assert_int_eq(mr_sb_quantile(hist, 0.5), 0);
    ck_assert_int_eq(mr_sb_quantile(hist, 0.99), 0);
}
END_TEST

START_TEST(test_sb_quantile_one_bucket_stays_inside_it)
{
    atomic_uint_fast64_t hist[MR_HIST_BUCKETS];
    hist_clear(hist);
    hist_add(hist, 700, 50); /* bucket 10: (512, 1024] */
    static const double qs[] = {0.01, 0.25, 0.5, 0.9, 0.99, 1.0};
    for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
        int64_t v = mr_sb_quantile(hist, qs[i]);
        ck_assert_int_ge(v, 512);
        ck_assert_int_le(v, 1024);
    }
    ck_assert_int_eq(mr_sb_quantile(hist, 0.5), 768); /* interpolated to the middle */
}
END_TEST

START_TEST(test_sb_quantile_uniform_across_buckets)
{
    atomic_uint_fast64_t hist[MR_HIST_BUCKETS];
    hist_clear(hist);
    for (int b = 0; b < 10; b++)
        hist_add(hist, mr_sb_bucket_le(b), 10); /* 10 samples in each of buckets 0..9 */
    /* P50 is the 50th sample: the last of bucket 4, (8, 16]. */
    int64_t p50 = mr_sb_quantile(hist, 0.5);
    ck_assert_int_gt(p50, 8);
    ck_assert_int_le(p50, 16);
    int64_t p90 = mr_sb_quantile(hist, 0.9);
    ck_assert_int_gt(p90, 128);
    ck_assert_int_le(p90, 256);
    int64_t p95 = mr_sb_quantile(hist, 0.95);
    ck_assert_int_gt(p95, 256);
    ck_assert_int_le(p95, 512);
    ck_assert_int_le(mr_sb_quantile(hist, 0.05), 1);
    /* Monotone in q. */
    int64_t last = 0;
    for (int k = 1; k <= 100; k++) {
        int64_t v = mr_sb_quantile(hist, k / 100.0);
        ck_assert_int_ge(v, last);
        last = v;
    }
}
END_TEST

START_TEST(test_sb_quantile_99_fast_1_slow)
{
    atomic_uint_fast64_t hist[MR_HIST_BUCKETS];
    hist_clear(hist);
    hist_add(hist, 100, 99);    /* bucket 7: (64, 128] */
    hist_add(hist, 1000000, 1); /* bucket 20: (524288, 1048576] */
    int64_t p50 = mr_sb_quantile(hist, 0.5);
    ck_assert_int_gt(p50, 64);
    ck_assert_int_le(p50, 128);
    int64_t p99 = mr_sb_quantile(hist, 0.99);
    ck_assert_int_gt(p99, 64);
    ck_assert_int_le(p99, 128);
    int64_t p100 = mr_sb_quantile(hist, 1.0);
    ck_assert_int_gt(p100, 524288);
    ck_assert_int_le(p100, 1048576);
    int64_t p995 = mr_sb_quantile(hist, 0.995);
    ck_assert_int_gt(p995, 524288);
    ck_assert_int_le(p995, 1048576);
}
END_TEST

START_TEST(test_sb_quantile_inf_bucket_reports_lower_bound)
{
    atomic_uint_fast64_t hist[MR_HIST_BUCKETS];
    hist_clear(hist);
    hist_add(hist, INT64_MAX / 2, 3);
    ck_assert_int_eq(mr_sb_quantile(hist, 0.5), mr_sb_bucket_le(MR_HIST_BUCKETS - 2));
}
END_TEST

START_TEST(test_sb_new_names_health_slots)
{
    struct mr_err err;
    struct mr_sb *sb = mr_sb_new(2, &err);
    ck_assert_msg(sb != NULL, "%s", err.msg);
    ck_assert_str_eq(sb->redis.name, "redis");
    ck_assert_str_eq(sb->pg[0].name, "primary");
    ck_assert_str_eq(sb->pg[1].name, "replica1");
    ck_assert_str_eq(sb->pg[2].name, "replica2");
    ck_assert_int_eq(sb->n_pg, 3);
    ck_assert_int_eq(atomic_load(&sb->pg[1].up), -1);
    ck_assert_int_eq(atomic_load(&sb->workers[0].pid), 0);
    mr_sb_free(&sb);
    ck_assert_ptr_null(sb);
    mr_sb_free(&sb); /* harmless on NULL */
}
END_TEST

START_TEST(test_sb_record_counts_by_status_class)
{
    struct mr_err err;
    struct mr_sb *sb = mr_sb_new(0, &err);
    ck_assert_msg(sb != NULL, "%s", err.msg);
    mr_sb_record(sb, 1, 200, 100);
    mr_sb_record(sb, 1, 204, 100);
    mr_sb_record(sb, 1, 301, 3000);
    mr_sb_record(sb, 1, 404, 5);
    mr_sb_record(sb, 1, 503, 2000000);
    mr_sb_record(sb, 1, 101, 1);
    struct mr_sb_route *r = &sb->routes[1];
    ck_assert_uint_eq(atomic_load(&r->by_class[1]), 1);
    ck_assert_uint_eq(atomic_load(&r->by_class[2]), 2);
    ck_assert_uint_eq(atomic_load(&r->by_class[3]), 1);
    ck_assert_uint_eq(atomic_load(&r->by_class[4]), 1);
    ck_assert_uint_eq(atomic_load(&r->by_class[5]), 1);
    ck_assert_uint_eq(atomic_load(&r->hist[mr_sb_bucket(100)]), 2);
    ck_assert_uint_eq(atomic_load(&r->hist[mr_sb_bucket(2000000)]), 1);
    ck_assert_uint_eq(atomic_load(&r->sum_us), 100 + 100 + 3000 + 5 + 2000000 + 1);
    /* Other routes untouched. */
    ck_assert_uint_eq(atomic_load(&sb->routes[0].by_class[2]), 0);
    /* The unmatched route, one past the last real one, is usable. */
    mr_sb_record(sb, MR_SB_MAX_ROUTES, 404, 10);
    ck_assert_uint_eq(atomic_load(&sb->routes[MR_SB_MAX_ROUTES].by_class[4]), 1);
    mr_sb_free(&sb);
}
END_TEST

START_TEST(test_sb_record_odd_status_counts_as_5xx)
{
    struct mr_err err;
    struct mr_sb *sb = mr_sb_new(0, &err);
    ck_assert_ptr_nonnull(sb);
    mr_sb_record(sb, 0, 0, 10);
    mr_sb_record(sb, 0, 999, 10);
    mr_sb_record(sb, 0, 200, -7); /* a negative duration (clock step) adds nothing to the sum */
    ck_assert_uint_eq(atomic_load(&sb->routes[0].by_class[5]), 2);
    ck_assert_uint_eq(atomic_load(&sb->routes[0].sum_us), 20);
    mr_sb_free(&sb);
}
END_TEST

/* Puts a live worker in slot i: pid, state, generation, quitting, idle since, RSS. */
static void
put_worker(struct mr_sb *sb, int i, int state, unsigned gen, int quitting, int64_t idle_since_ms,
           long rss_kb)
{
    struct mr_sb_worker *w = &sb->workers[i];
    atomic_store(&w->pid, 1000 + i);
    atomic_store(&w->state, state);
    atomic_store(&w->generation, gen);
    atomic_store(&w->quitting, quitting);
    atomic_store(&w->idle_since_ms, idle_since_ms);
    atomic_store(&w->rss_kb, rss_kb);
}

START_TEST(test_sb_census_empty_counts_nothing)
{
    struct mr_err err;
    struct mr_sb *sb = mr_sb_new(0, &err);
    ck_assert_ptr_nonnull(sb);
    struct mr_sb_census c = mr_sb_census(sb, 1, 1000);
    ck_assert_int_eq(c.live, 0);
    ck_assert_int_eq(c.serving, 0);
    ck_assert_int_eq(c.old_serving, 0);
    ck_assert_int_eq(c.rss_kb, 0);
    mr_sb_free(&sb);
}
END_TEST

START_TEST(test_sb_census_counts_states_quitting_and_generations)
{
    struct mr_err err;
    struct mr_sb *sb = mr_sb_new(0, &err);
    ck_assert_ptr_nonnull(sb);
    put_worker(sb, 0, MR_W_IDLE, 2, 0, 100, 1000);      /* new, idle since 100: expired */
    put_worker(sb, 3, MR_W_IDLE, 2, 0, 900, 1000);      /* new, idle, recent */
    put_worker(sb, 7, MR_W_STARTING, 2, 0, 0, 500);     /* new, not ready */
    put_worker(sb, 8, MR_W_BUSY, 1, 0, 0, 2000);        /* old, active */
    put_worker(sb, 9, MR_W_READING, 1, 1, 0, 3000);     /* old, quitting */
    put_worker(sb, 511, MR_W_FINISHING, 1, 0, 0, 4000); /* old, active, last slot */
    atomic_store(&sb->workers[20].state, MR_W_BUSY);    /* no pid: not counted */
    struct mr_sb_census c = mr_sb_census(sb, 2, 500);
    ck_assert_int_eq(c.live, 6);
    ck_assert_int_eq(c.quitting, 1);
    ck_assert_int_eq(c.serving, 5);
    ck_assert_int_eq(c.by_state[MR_W_IDLE], 2);
    ck_assert_int_eq(c.by_state[MR_W_STARTING], 1);
    ck_assert_int_eq(c.by_state[MR_W_BUSY], 1);
    ck_assert_int_eq(c.by_state[MR_W_READING], 1);
    ck_assert_int_eq(c.by_state[MR_W_FINISHING], 1);
    ck_assert_int_eq(c.idle, 2);
    ck_assert_int_eq(c.active, 3); /* reading (quitting, still live), busy, finishing */
    ck_assert_int_eq(c.rss_kb, 11500);
    ck_assert_int_eq(c.serving_idle, 2);
    ck_assert_int_eq(c.serving_starting, 1);
    ck_assert_int_eq(c.idle_expired, 1);
    ck_assert_int_eq(c.serving_rss_kb, 8500);
    ck_assert_int_eq(c.new_serving, 3);
    ck_assert_int_eq(c.new_ready, 2);
    ck_assert_int_eq(c.old_serving, 2);
    mr_sb_free(&sb);
}
END_TEST

START_TEST(test_sb_census_without_generation_or_cutoff)
{
    struct mr_err err;
    struct mr_sb *sb = mr_sb_new(0, &err);
    ck_assert_ptr_nonnull(sb);
    put_worker(sb, 0, MR_W_IDLE, 1, 0, 5, 0);
    put_worker(sb, 1, MR_W_IDLE, 1, 0, 5, 0);
    /* Generation 0: every serving worker is old; cutoff 0: none expired. */
    struct mr_sb_census c = mr_sb_census(sb, 0, 0);
    ck_assert_int_eq(c.new_serving, 0);
    ck_assert_int_eq(c.old_serving, 2);
    ck_assert_int_eq(c.idle_expired, 0);
    mr_sb_free(&sb);
}
END_TEST

START_TEST(test_sb_iterator_visits_live_slots_in_order)
{
    struct mr_err err;
    struct mr_sb *sb = mr_sb_new(0, &err);
    ck_assert_ptr_nonnull(sb);
    ck_assert_int_eq(mr_sb_next_live(sb, -1), -1);
    ck_assert_int_eq(mr_sb_free_slot(sb), 0);
    put_worker(sb, 0, MR_W_IDLE, 1, 0, 0, 0);
    put_worker(sb, 5, MR_W_IDLE, 1, 0, 0, 0);
    put_worker(sb, MR_SB_MAX_WORKERS - 1, MR_W_IDLE, 1, 0, 0, 0);
    int seen[3], n = 0;
    for (int i = mr_sb_next_live(sb, -1); i >= 0; i = mr_sb_next_live(sb, i)) {
        ck_assert_int_lt(n, 3);
        seen[n++] = i;
    }
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(seen[0], 0);
    ck_assert_int_eq(seen[1], 5);
    ck_assert_int_eq(seen[2], MR_SB_MAX_WORKERS - 1);
    ck_assert_int_eq(mr_sb_find_pid(sb, 1005), 5);
    ck_assert_int_eq(mr_sb_find_pid(sb, 4242), -1);
    ck_assert_int_eq(mr_sb_free_slot(sb), 1);
    for (int i = 0; i < MR_SB_MAX_WORKERS; i++)
        atomic_store(&sb->workers[i].pid, 1);
    ck_assert_int_eq(mr_sb_free_slot(sb), -1);
    mr_sb_free(&sb);
}
END_TEST

START_TEST(test_sb_label_route_copies_and_cuts)
{
    struct mr_err err;
    struct mr_sb *sb = mr_sb_new(0, &err);
    ck_assert_ptr_nonnull(sb);
    ck_assert_int_eq(sb->n_labels, 0);
    mr_sb_label_route(sb, 2, "GET", "/json");
    ck_assert_int_eq(sb->n_labels, 3);
    ck_assert_str_eq(sb->labels[2].method, "GET");
    ck_assert_str_eq(sb->labels[2].path, "/json");
    char long_path[200];
    memset(long_path, 'a', sizeof(long_path) - 1);
    long_path[sizeof(long_path) - 1] = '\0';
    mr_sb_label_route(sb, 0, "PROPFIND-LONG", long_path);
    ck_assert_int_eq(sb->n_labels, 3);
    ck_assert_uint_eq(strlen(sb->labels[0].path), MR_SB_LABEL - 1);
    ck_assert_uint_eq(strlen(sb->labels[0].method), sizeof(sb->labels[0].method) - 1);
    mr_sb_label_route(sb, MR_SB_MAX_ROUTES, "GET", "/x"); /* the unmatched slot has no label */
    mr_sb_label_route(sb, -1, "GET", "/x");
    ck_assert_int_eq(sb->n_labels, 3);
    mr_sb_free(&sb);
}
END_TEST

Suite *
scoreboard_suite(void)
{
    Suite *s = suite_create("scoreboard");
    TCase *tc = tcase_create("histogram");
    tcase_add_test(tc, test_sb_bucket_boundaries);
    tcase_add_test(tc, test_sb_bucket_le_is_upper_bound);
    tcase_add_test(tc, test_sb_quantile_empty_is_zero);
    tcase_add_test(tc, test_sb_quantile_one_bucket_stays_inside_it);
    tcase_add_test(tc, test_sb_quantile_uniform_across_buckets);
    tcase_add_test(tc, test_sb_quantile_99_fast_1_slow);
    tcase_add_test(tc, test_sb_quantile_inf_bucket_reports_lower_bound);
    suite_add_tcase(s, tc);
    TCase *counters = tcase_create("counters");
    tcase_add_test(counters, test_sb_new_names_health_slots);
    tcase_add_test(counters, test_sb_record_counts_by_status_class);
    tcase_add_test(counters, test_sb_record_odd_status_counts_as_5xx);
    suite_add_tcase(s, counters);
    TCase *slots = tcase_create("slots");
    tcase_add_test(slots, test_sb_census_empty_counts_nothing);
    tcase_add_test(slots, test_sb_census_counts_states_quitting_and_generations);
    tcase_add_test(slots, test_sb_census_without_generation_or_cutoff);
    tcase_add_test(slots, test_sb_iterator_visits_live_slots_in_order);
    tcase_add_test(slots, test_sb_label_route_copies_and_cuts);
    suite_add_tcase(s, slots);
    return s;
}
