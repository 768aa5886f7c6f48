/* SPDX-License-Identifier: BSD-2-Clause */
/* test_scoreboard: the latency bucket boundaries, quantiles over known histograms, and the
 * per-route counters of a real (anonymous shared) mapping from mr_sb_new. */
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
    return s;
}
