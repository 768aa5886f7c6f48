/* SPDX-License-Identifier: BSD-2-Clause */
/* test_keepconn: the kept-connection drop decision (app/serve/keepconn.h), one poll()
 * wake-up at a time: serve a request on the kept connection, drop it (idle, closed, stop,
 * or a new connection nobody else can take), or wait on while another worker accepts. */
#include <poll.h>

#include "app/serve/keepconn.h"
#include "tests/unit/suites.h"

static enum mr_keep_verdict
decide(int n, short conn, short listen, bool other)
{
    struct mr_keep_wake w = {n, conn, listen};
    return mr_keepconn_decide(&w, other);
}

START_TEST(test_keepconn_drops_after_idle_timeout)
{
    ck_assert_int_eq(decide(0, 0, 0, true), MR_KEEP_DROP);
    ck_assert_int_eq(decide(0, 0, 0, false), MR_KEEP_DROP);
}
END_TEST

START_TEST(test_keepconn_drops_when_poll_fails)
{
    ck_assert_int_eq(decide(-1, 0, 0, true), MR_KEEP_DROP);
}
END_TEST

START_TEST(test_keepconn_serves_a_request_on_the_kept_connection)
{
    ck_assert_int_eq(decide(1, POLLIN, 0, false), MR_KEEP_SERVE);
    /* A request on the kept connection beats unpinning, even with a connection waiting. */
    ck_assert_int_eq(decide(2, POLLIN, POLLIN, false), MR_KEEP_SERVE);
}
END_TEST

START_TEST(test_keepconn_drops_when_nginx_closes_it)
{
    ck_assert_int_eq(decide(1, POLLHUP, 0, true), MR_KEEP_DROP);
    ck_assert_int_eq(decide(1, POLLERR, 0, true), MR_KEEP_DROP);
    /* Data with the hang-up still gets read: libfcgi sees the end itself. */
    ck_assert_int_eq(decide(1, POLLIN | POLLHUP, 0, true), MR_KEEP_SERVE);
}
END_TEST

START_TEST(test_keepconn_unpins_when_no_other_worker_accepts)
{
    ck_assert_int_eq(decide(1, 0, POLLIN, false), MR_KEEP_DROP);
}
END_TEST

START_TEST(test_keepconn_waits_on_while_another_worker_accepts)
{
    ck_assert_int_eq(decide(1, 0, POLLIN, true), MR_KEEP_WAIT);
}
END_TEST

START_TEST(test_keepconn_drops_when_the_listening_fd_is_closed)
{
    ck_assert_int_eq(decide(1, 0, POLLNVAL, true), MR_KEEP_DROP);
    ck_assert_int_eq(decide(1, 0, POLLERR, true), MR_KEEP_DROP);
}
END_TEST

START_TEST(test_keepconn_asks_the_census_only_when_a_connection_waits)
{
    struct mr_keep_wake idle = {0, 0, 0}, req = {1, POLLIN, POLLIN}, waiting = {1, 0, POLLIN},
                        closed = {1, 0, POLLNVAL};
    ck_assert(!mr_keepconn_needs_census(&idle));
    ck_assert(!mr_keepconn_needs_census(&req));
    ck_assert(!mr_keepconn_needs_census(&closed));
    ck_assert(mr_keepconn_needs_census(&waiting));
}
END_TEST

Suite *
keepconn_suite(void)
{
    Suite *s = suite_create("keepconn");
    TCase *tc = tcase_create("decide");
    tcase_add_test(tc, test_keepconn_drops_after_idle_timeout);
    tcase_add_test(tc, test_keepconn_drops_when_poll_fails);
    tcase_add_test(tc, test_keepconn_serves_a_request_on_the_kept_connection);
    tcase_add_test(tc, test_keepconn_drops_when_nginx_closes_it);
    tcase_add_test(tc, test_keepconn_unpins_when_no_other_worker_accepts);
    tcase_add_test(tc, test_keepconn_waits_on_while_another_worker_accepts);
    tcase_add_test(tc, test_keepconn_drops_when_the_listening_fd_is_closed);
    tcase_add_test(tc, test_keepconn_asks_the_census_only_when_a_connection_waits);
    suite_add_tcase(s, tc);
    return s;
}
