/* SPDX-License-Identifier: BSD-2-Clause */
/* test_rand: range bounds over many draws, both ends reachable, and seeds that differ giving
 * sequences that differ (workers are seeded apart after fork). */
#include <stdbool.h>
#include <stdint.h>

#include "app/lib/rand.h"
#include "tests/unit/suites.h"

START_TEST(test_rand_range_stays_in_bounds_and_hits_both_ends)
{
    struct mr_rand r;
    mr_rand_seed(&r, 0x5eed);
    bool lo = false, hi = false;
    for (int i = 0; i < 100000; i++) {
        int32_t v = mr_rand_range(&r, 1, 10000);
        ck_assert_int_ge(v, 1);
        ck_assert_int_le(v, 10000);
        lo |= v == 1;
        hi |= v == 10000;
    }
    ck_assert(lo);
    ck_assert(hi);
}
END_TEST

START_TEST(test_rand_range_is_roughly_uniform)
{
    struct mr_rand r;
    int counts[10] = {0};
    mr_rand_seed(&r, 12345);
    for (int i = 0; i < 100000; i++)
        counts[(mr_rand_range(&r, 1, 10000) - 1) / 1000]++;
    for (int d = 0; d < 10; d++) { /* 10000 expected per decile; 5 sigma is about 475 */
        ck_assert_int_gt(counts[d], 9400);
        ck_assert_int_lt(counts[d], 10600);
    }
}
END_TEST

START_TEST(test_rand_range_edge_spans)
{
    struct mr_rand r;
    mr_rand_seed(&r, 7);
    for (int i = 0; i < 1000; i++) {
        ck_assert_int_eq(mr_rand_range(&r, 5, 5), 5);
        int32_t v = mr_rand_range(&r, -10, -1);
        ck_assert_int_ge(v, -10);
        ck_assert_int_le(v, -1);
        (void)mr_rand_range(&r, INT32_MIN, INT32_MAX); /* UBSan: no overflow */
    }
}
END_TEST

START_TEST(test_rand_different_seeds_differ)
{
    struct mr_rand a, b, c;
    mr_rand_seed(&a, 1);
    mr_rand_seed(&b, 2);
    mr_rand_seed(&c, 1);
    int same_ab = 0;
    for (int i = 0; i < 100; i++) {
        uint64_t x = mr_rand_next(&a), y = mr_rand_next(&b), z = mr_rand_next(&c);
        same_ab += x == y;
        ck_assert_uint_eq(x, z); /* the same seed repeats its sequence */
    }
    ck_assert_int_eq(same_ab, 0);
    /* Seeds that differ by one bit still give different ranges draws. */
    mr_rand_seed(&a, 1000);
    mr_rand_seed(&b, 1001);
    int same = 0;
    for (int i = 0; i < 100; i++)
        same += mr_rand_range(&a, 1, 10000) == mr_rand_range(&b, 1, 10000);
    ck_assert_int_lt(same, 5);
}
END_TEST

Suite *
rand_suite(void)
{
    Suite *s = suite_create("rand");
    TCase *tc = tcase_create("rand");
    tcase_add_test(tc, test_rand_range_stays_in_bounds_and_hits_both_ends);
    tcase_add_test(tc, test_rand_range_is_roughly_uniform);
    tcase_add_test(tc, test_rand_range_edge_spans);
    tcase_add_test(tc, test_rand_different_seeds_differ);
    suite_add_tcase(s, tc);
    return s;
}
