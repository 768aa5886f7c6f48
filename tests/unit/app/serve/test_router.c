/* SPDX-License-Identifier: BSD-2-Clause */
/* test_router: matching over a small local table (not the real one in handlers/table.c), so
 * the cases stay fixed while the endpoints change. */
#include <string.h>

#include "app/serve/router.h"
#include "tests/unit/suites.h"

static const struct mr_route table[] = {
    MR_ROUTE("GET", "/a", NULL),
    MR_ROUTE("POST", "/a", NULL),
    MR_ROUTE("GET", "/b", NULL),
    MR_ROUTE("POST", "/c", NULL),
};
#define N_ROUTES (sizeof(table) / sizeof(table[0]))

static int
match(const char *method, const char *path, char *allow, size_t cap)
{
    return mr_router_match(table, N_ROUTES, method, path, strlen(path), allow, cap);
}

START_TEST(test_router_matches_method_and_path)
{
    char allow[64];
    ck_assert_int_eq(match("GET", "/a", allow, sizeof(allow)), 0);
    ck_assert_int_eq(match("POST", "/a", allow, sizeof(allow)), 1);
    ck_assert_int_eq(match("GET", "/b", allow, sizeof(allow)), 2);
    ck_assert_int_eq(match("POST", "/c", allow, sizeof(allow)), 3);
}
END_TEST

START_TEST(test_router_unknown_path_is_404)
{
    char allow[64];
    ck_assert_int_eq(match("GET", "/nope", allow, sizeof(allow)), -404);
    ck_assert_int_eq(match("POST", "/", allow, sizeof(allow)), -404);
}
END_TEST

START_TEST(test_router_wrong_method_is_405_with_allow)
{
    char allow[64];
    ck_assert_int_eq(match("DELETE", "/a", allow, sizeof(allow)), -405);
    ck_assert_str_eq(allow, "GET, HEAD, POST");
    ck_assert_int_eq(match("POST", "/b", allow, sizeof(allow)), -405);
    ck_assert_str_eq(allow, "GET, HEAD");
    ck_assert_int_eq(match("GET", "/c", allow, sizeof(allow)), -405);
    ck_assert_str_eq(allow, "POST");
}
END_TEST

START_TEST(test_router_head_matches_get_route)
{
    char allow[64];
    ck_assert_int_eq(match("HEAD", "/a", allow, sizeof(allow)), 0);
    ck_assert_int_eq(match("HEAD", "/b", allow, sizeof(allow)), 2);
}
END_TEST

START_TEST(test_router_head_on_post_only_path_is_405)
{
    char allow[64];
    ck_assert_int_eq(match("HEAD", "/c", allow, sizeof(allow)), -405);
    ck_assert_str_eq(allow, "POST");
}
END_TEST

START_TEST(test_router_prefix_paths_do_not_match)
{
    char allow[64];
    ck_assert_int_eq(match("GET", "/ab", allow, sizeof(allow)), -404);
    ck_assert_int_eq(match("GET", "/", allow, sizeof(allow)), -404);
    ck_assert_int_eq(match("GET", "/a/", allow, sizeof(allow)), -404);
    /* path_len bounds the comparison: "/ab" with length 2 is "/a". */
    ck_assert_int_eq(mr_router_match(table, N_ROUTES, "GET", "/ab", 2, allow, sizeof(allow)), 0);
    /* Method names are case-sensitive. */
    ck_assert_int_eq(match("get", "/a", allow, sizeof(allow)), -405);
}
END_TEST

START_TEST(test_router_empty_path_is_404)
{
    char allow[64];
    ck_assert_int_eq(match("GET", "", allow, sizeof(allow)), -404);
    ck_assert_int_eq(mr_router_match(table, 0, "GET", "/a", 2, allow, sizeof(allow)), -404);
}
END_TEST

START_TEST(test_router_allow_is_truncated_to_cap)
{
    char allow[8];
    memset(allow, 'Z', sizeof(allow));
    ck_assert_int_eq(match("PUT", "/a", allow, 6), -405);
    ck_assert_uint_eq(strlen(allow), 5);
    ck_assert_int_eq(allow[6], 'Z'); /* nothing written past cap */
}
END_TEST

Suite *
router_suite(void)
{
    Suite *s = suite_create("router");
    TCase *tc = tcase_create("match");
    tcase_add_test(tc, test_router_matches_method_and_path);
    tcase_add_test(tc, test_router_unknown_path_is_404);
    tcase_add_test(tc, test_router_wrong_method_is_405_with_allow);
    tcase_add_test(tc, test_router_head_matches_get_route);
    tcase_add_test(tc, test_router_head_on_post_only_path_is_405);
    tcase_add_test(tc, test_router_prefix_paths_do_not_match);
    tcase_add_test(tc, test_router_empty_path_is_404);
    tcase_add_test(tc, test_router_allow_is_truncated_to_cap);
    suite_add_tcase(s, tc);
    return s;
}
