/* SPDX-License-Identifier: BSD-2-Clause */
/* test_conns: the worker's connection table (app/serve/conns.h): room, the FRESH and KEPT
 * lists in age order, the bounds that close a connection, and which one a full worker gives
 * up for a newcomer (never a fresh one that may still carry nginx's request). */
#include "app/serve/conns.h"
#include "tests/unit/suites.h"

#define FRESH_MS 1000
#define IDLE_MS 75000

START_TEST(test_conns_room_and_reuse_of_slots)
{
    struct mr_conns t;
    mr_conns_init(&t, 2);
    ck_assert(mr_conns_has_room(&t));
    int a = mr_conns_add(&t, 10, 0), b = mr_conns_add(&t, 11, 0);
    ck_assert_int_ge(a, 0);
    ck_assert_int_ge(b, 0);
    ck_assert_int_ne(a, b);
    ck_assert(!mr_conns_has_room(&t));
    ck_assert_int_eq(mr_conns_add(&t, 12, 0), -1);
    ck_assert_int_eq(t.n, 2);
    mr_conns_remove(&t, a);
    mr_conns_remove(&t, a); /* twice: no effect */
    ck_assert_int_eq(t.n, 1);
    ck_assert_int_eq(mr_conns_add(&t, 12, 0), a);
    ck_assert_int_eq(t.slot[a].stream.fd, 12);
    mr_conns_fini(&t);
}
END_TEST

START_TEST(test_conns_answered_moves_to_kept_newest_last)
{
    struct mr_conns t;
    mr_conns_init(&t, 4);
    int a = mr_conns_add(&t, 10, 0), b = mr_conns_add(&t, 11, 5);
    ck_assert_int_eq(mr_conns_oldest(&t, MR_CONN_FRESH), a);
    mr_conns_answered(&t, a, 20);
    ck_assert_int_eq(mr_conns_oldest(&t, MR_CONN_FRESH), b);
    ck_assert_int_eq(mr_conns_oldest(&t, MR_CONN_KEPT), a);
    mr_conns_answered(&t, b, 30);
    mr_conns_answered(&t, a, 40); /* a used again: b is now the least recently used */
    ck_assert_int_eq(mr_conns_oldest(&t, MR_CONN_FRESH), -1);
    ck_assert_int_eq(mr_conns_oldest(&t, MR_CONN_KEPT), b);
    ck_assert_uint_eq(t.slot[a].served, 2);
    ck_assert_int_eq(t.n, 2);
    mr_conns_fini(&t);
}
END_TEST

START_TEST(test_conns_bounds_close_silent_and_idle_ones)
{
    struct mr_conns t;
    mr_conns_init(&t, 4);
    ck_assert_int_eq(mr_conns_next_expiry_ms(&t, 0, FRESH_MS, IDLE_MS), -1);
    int a = mr_conns_add(&t, 10, 0);
    int b = mr_conns_add(&t, 11, 0);
    mr_conns_answered(&t, b, 100);
    ck_assert_int_eq(mr_conns_next_expiry_ms(&t, 0, FRESH_MS, IDLE_MS), FRESH_MS);
    ck_assert_int_eq(mr_conns_expired(&t, FRESH_MS - 1, FRESH_MS, IDLE_MS), -1);
    ck_assert_int_eq(mr_conns_expired(&t, FRESH_MS, FRESH_MS, IDLE_MS), a);
    mr_conns_remove(&t, a);
    ck_assert_int_eq(mr_conns_next_expiry_ms(&t, FRESH_MS, FRESH_MS, IDLE_MS),
                     100 + IDLE_MS - FRESH_MS);
    ck_assert_int_eq(mr_conns_expired(&t, 100 + IDLE_MS - 1, FRESH_MS, IDLE_MS), -1);
    ck_assert_int_eq(mr_conns_expired(&t, 100 + IDLE_MS, FRESH_MS, IDLE_MS), b);
    ck_assert_int_eq(mr_conns_next_expiry_ms(&t, 200 + IDLE_MS, FRESH_MS, IDLE_MS), 0);
    mr_conns_fini(&t);
}
END_TEST

START_TEST(test_conns_victim_is_a_silent_fresh_one_first)
{
    struct mr_conns t;
    mr_conns_init(&t, 3);
    int k = mr_conns_add(&t, 10, 0);
    mr_conns_answered(&t, k, 0);
    int f = mr_conns_add(&t, 11, 1000);
    /* Fresh for less than MR_CONN_SILENT_MS: maybe nginx's, about to send. */
    ck_assert_int_eq(mr_conns_victim(&t, 1000 + MR_CONN_SILENT_MS - 1), k);
    ck_assert_int_eq(mr_conns_victim(&t, 1000 + MR_CONN_SILENT_MS), f);
    mr_conns_fini(&t);
}
END_TEST

START_TEST(test_conns_no_victim_when_all_may_be_nginx_requests)
{
    struct mr_conns t;
    mr_conns_init(&t, 2);
    (void)mr_conns_add(&t, 10, 0);
    (void)mr_conns_add(&t, 11, 0);
    ck_assert_int_eq(mr_conns_victim(&t, MR_CONN_SILENT_MS - 1), -1);
    mr_conns_fini(&t);
}
END_TEST

START_TEST(test_conns_partial_counts_from_the_first_byte_and_is_never_a_victim)
{
    struct mr_conns t;
    mr_conns_init(&t, 2);
    int k = mr_conns_add(&t, 10, 0);
    mr_conns_answered(&t, k, 0);
    int p = mr_conns_add(&t, 11, 0);
    mr_conns_partial(&t, p, 500);
    mr_conns_partial(&t, p, 900); /* more bytes: the bound still counts from 500 */
    ck_assert_int_eq(mr_conns_oldest(&t, MR_CONN_PARTIAL), p);
    ck_assert_int_eq(mr_conns_expired(&t, 500 + FRESH_MS - 1, FRESH_MS, IDLE_MS), -1);
    ck_assert_int_eq(mr_conns_expired(&t, 500 + FRESH_MS, FRESH_MS, IDLE_MS), p);
    ck_assert_int_eq(mr_conns_next_expiry_ms(&t, 600, FRESH_MS, IDLE_MS), 500 + FRESH_MS - 600);
    ck_assert_int_eq(mr_conns_victim(&t, 100000), k); /* the idle kept one, not p */
    mr_conns_remove(&t, k);
    ck_assert_int_eq(mr_conns_victim(&t, 100000), -1);
    /* Its read-ahead is its own. */
    ck_assert_ptr_nonnull(t.slot[p].stream.ahead);
    ck_assert_ptr_ne(t.slot[p].stream.ahead, t.slot[k].stream.ahead);
    mr_conns_fini(&t);
}
END_TEST

Suite *
conns_suite(void)
{
    Suite *s = suite_create("conns");
    TCase *tc = tcase_create("table");
    tcase_add_test(tc, test_conns_room_and_reuse_of_slots);
    tcase_add_test(tc, test_conns_answered_moves_to_kept_newest_last);
    tcase_add_test(tc, test_conns_bounds_close_silent_and_idle_ones);
    tcase_add_test(tc, test_conns_victim_is_a_silent_fresh_one_first);
    tcase_add_test(tc, test_conns_no_victim_when_all_may_be_nginx_requests);
    tcase_add_test(tc, test_conns_partial_counts_from_the_first_byte_and_is_never_a_victim);
    suite_add_tcase(s, tc);
    return s;
}
