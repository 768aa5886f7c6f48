/* SPDX-License-Identifier: BSD-2-Clause */
/* test_params: the count parameter of /queries, /cached-queries and /updates, clamped to
 * 1..500 whatever the client sends. */
#include "handlers/params.h"
#include "tests/unit/suites.h"

START_TEST(test_params_missing_or_not_a_number_is_one)
{
    ck_assert_int_eq(mr_clamp_queries(NULL), 1);
    ck_assert_int_eq(mr_clamp_queries(""), 1);
    ck_assert_int_eq(mr_clamp_queries("foo"), 1);
    ck_assert_int_eq(mr_clamp_queries("12abc"), 1);
    ck_assert_int_eq(mr_clamp_queries("1.5"), 1);
    ck_assert_int_eq(mr_clamp_queries(" "), 1);
}
END_TEST

START_TEST(test_params_in_range_is_kept)
{
    ck_assert_int_eq(mr_clamp_queries("1"), 1);
    ck_assert_int_eq(mr_clamp_queries("20"), 20);
    ck_assert_int_eq(mr_clamp_queries("+7"), 7);
    ck_assert_int_eq(mr_clamp_queries("500"), 500);
}
END_TEST

START_TEST(test_params_out_of_range_is_clamped)
{
    ck_assert_int_eq(mr_clamp_queries("0"), 1);
    ck_assert_int_eq(mr_clamp_queries("-3"), 1);
    ck_assert_int_eq(mr_clamp_queries("501"), 500);
    ck_assert_int_eq(mr_clamp_queries("99999999999999999999999"), 500);
    ck_assert_int_eq(mr_clamp_queries("-99999999999999999999999"), 1);
}
END_TEST

Suite *
params_suite(void)
{
    Suite *s = suite_create("params");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_params_missing_or_not_a_number_is_one);
    tcase_add_test(tc, test_params_in_range_is_kept);
    tcase_add_test(tc, test_params_out_of_range_is_clamped);
    suite_add_tcase(s, tc);
    return s;
}
