/* SPDX-License-Identifier: BSD-2-Clause */
/* test_rand: range bounds over many draws, both ends reachable, the (0, 1] unit draw, seeds
 * that differ giving sequences that differ, and forked siblings seeded apart. */
#include <stdbool.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app/lib/rand.h"
#include "tests/unit/suites.h"

START_TEST(test_rand_range_stays_in_bounds_and_hits_both_ends)
{
    struct mr_rand r = {0x5eed};
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
    struct mr_rand r = {12345};
    int counts[10] = {0};
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
    struct mr_rand r = {7};
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
    struct mr_rand a = {1}, b = {2}, c = {1};
    int same_ab = 0;
    for (int i = 0; i < 100; i++) {
        uint64_t x = mr_rand_next(&a), y = mr_rand_next(&b), z = mr_rand_next(&c);
        same_ab += x == y;
        ck_assert_uint_eq(x, z); /* the same seed repeats its sequence */
    }
    ck_assert_int_eq(same_ab, 0);
    /* Seeds that differ by one bit still give different ranges draws. */
    a.state = 1000;
    b.state = 1001;
    int same = 0;
    for (int i = 0; i < 100; i++)
        same += mr_rand_range(&a, 1, 10000) == mr_rand_range(&b, 1, 10000);
    ck_assert_int_lt(same, 5);
}
END_TEST

START_TEST(test_rand_unit_is_in_open_closed_interval)
{
    struct mr_rand r = {0}; /* the worst seed for some generators; fine for splitmix64 */
    double lo = 1.0;
    double hi = 0.0;
    for (int i = 0; i < 100000; i++) {
        double u = mr_rand_unit(&r);
        ck_assert(u > 0.0 && u <= 1.0);
        lo = u < lo ? u : lo;
        hi = u > hi ? u : hi;
    }
    ck_assert(lo < 0.001 && hi > 0.999);
}
END_TEST

START_TEST(test_rand_init_differs_between_forked_siblings)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    for (int i = 0; i < 2; i++) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            struct mr_rand r;
            mr_rand_init(&r);
            _exit(write(fds[1], &r.state, sizeof(r.state)) == (ssize_t)sizeof(r.state) ? 0 : 1);
        }
    }
    uint64_t seeds[2];
    for (int i = 0; i < 2; i++) {
        int status;
        ck_assert_int_gt(wait(&status), 0);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        ck_assert_int_eq(read(fds[0], &seeds[i], sizeof(seeds[i])), (ssize_t)sizeof(seeds[i]));
    }
    (void)close(fds[0]);
    (void)close(fds[1]);
    ck_assert(seeds[0] != seeds[1]);
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
    tcase_add_test(tc, test_rand_unit_is_in_open_closed_interval);
    tcase_add_test(tc, test_rand_init_differs_between_forked_siblings);
    suite_add_tcase(s, tc);
    return s;
}
