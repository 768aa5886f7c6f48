/* SPDX-License-Identifier: BSD-2-Clause */
/* test_backend: the backend policy shared by db/ and cache/, driven with explicit times: the
 * doubling and capped backoff, the prober's up_since_ms voiding it, the breaker reports, a
 * probe's policy doing nothing, and the prober's verdict closing the breaker on recovery. */
#include <stdatomic.h>

#include "app/lib/backend.h"
#include "tests/unit/suites.h"

static const struct mr_breaker_cfg cfg = {.failures = 2, .cooldown_ms = 1000};

#define T0 1000000 /* an arbitrary monotonic "now", ms */

static void
setup(struct mr_backend_slot *s, struct mr_backend_policy *p)
{
    mr_backend_slot_init(s, "redis");
    mr_backend_policy_init(p, s, &cfg, 100, 500);
    p->is_conn_logged = true;
}

START_TEST(test_backend_new_policy_does_not_wait)
{
    struct mr_backend_slot s;
    struct mr_backend_policy p;
    setup(&s, &p);
    ck_assert(!mr_backend_waiting(&p, T0));
    ck_assert_int_eq(mr_backend_wait_ms(&p, T0), 0);
}
END_TEST

START_TEST(test_backend_backoff_doubles_up_to_the_cap)
{
    struct mr_backend_slot s;
    struct mr_backend_policy p;
    setup(&s, &p);
    const int want[] = {100, 200, 400, 500, 500};
    int64_t now = T0;
    for (int i = 0; i < 5; i++) {
        mr_backend_lost(&p, now, "refused");
        ck_assert(mr_backend_waiting(&p, now));
        ck_assert_int_eq(mr_backend_wait_ms(&p, now), want[i]);
        ck_assert(mr_backend_waiting(&p, now + want[i] - 1));
        ck_assert(!mr_backend_waiting(&p, now + want[i]));
        now += want[i];
    }
}
END_TEST

START_TEST(test_backend_ok_resets_the_backoff)
{
    struct mr_backend_slot s;
    struct mr_backend_policy p;
    setup(&s, &p);
    mr_backend_lost(&p, T0, "refused");
    mr_backend_lost(&p, T0 + 100, "refused");
    mr_backend_ok(&p);
    mr_backend_lost(&p, T0 + 1000, "refused");
    ck_assert_int_eq(mr_backend_wait_ms(&p, T0 + 1000), 100);
}
END_TEST

START_TEST(test_backend_prober_seeing_it_up_voids_the_backoff)
{
    struct mr_backend_slot s;
    struct mr_backend_policy p;
    setup(&s, &p);
    mr_backend_lost(&p, T0, "refused");
    ck_assert(mr_backend_waiting(&p, T0 + 50));
    /* Up since before the failure: that sighting says nothing about after it. */
    atomic_store(&s.up_since_ms, T0 - 10);
    ck_assert(mr_backend_waiting(&p, T0 + 50));
    atomic_store(&s.up_since_ms, T0 + 20);
    ck_assert(!mr_backend_waiting(&p, T0 + 50));
    ck_assert_int_eq(mr_backend_wait_ms(&p, T0 + 50), 0);
}
END_TEST

START_TEST(test_backend_retry_now_ends_the_backoff)
{
    struct mr_backend_slot s;
    struct mr_backend_policy p;
    setup(&s, &p);
    mr_backend_lost(&p, T0, "refused");
    mr_backend_retry_now(&p);
    ck_assert(!mr_backend_waiting(&p, T0));
}
END_TEST

START_TEST(test_backend_lost_is_logged_once_until_ok)
{
    struct mr_backend_slot s;
    struct mr_backend_policy p;
    setup(&s, &p);
    ck_assert(!p.is_down);
    mr_backend_lost(&p, T0, "refused");
    ck_assert(p.is_down);
    mr_backend_lost(&p, T0 + 100, NULL);
    ck_assert(p.is_down);
    mr_backend_ok(&p);
    ck_assert(!p.is_down);
}
END_TEST

START_TEST(test_backend_lost_unlogged_policy_stays_quiet)
{
    struct mr_backend_slot s;
    struct mr_backend_policy p;
    mr_backend_slot_init(&s, "primary");
    mr_backend_policy_init(&p, &s, &cfg, 100, 500);
    mr_backend_lost(&p, T0, "refused");
    ck_assert(!p.is_down);
    ck_assert(mr_backend_waiting(&p, T0)); /* the backoff is the same */
}
END_TEST

START_TEST(test_backend_failures_open_the_breaker_and_ok_closes_it)
{
    struct mr_backend_slot s;
    struct mr_backend_policy p;
    setup(&s, &p);
    mr_backend_failed(&p, T0, "timeout");
    ck_assert_int_eq(atomic_load(&s.breaker), MR_BREAKER_CLOSED);
    mr_backend_failed(&p, T0, "timeout");
    ck_assert_int_eq(atomic_load(&s.breaker), MR_BREAKER_OPEN);
    ck_assert_uint_eq(atomic_load(&s.opened_total), 1);
    ck_assert_uint_eq(atomic_load(&s.failures_total), 2);
    mr_backend_ok(&p);
    ck_assert_int_eq(atomic_load(&s.breaker), MR_BREAKER_CLOSED);
    ck_assert_int_eq(atomic_load(&s.fails), 0);
}
END_TEST

START_TEST(test_backend_probe_policy_never_waits_nor_feeds_the_breaker)
{
    struct mr_backend_slot s;
    struct mr_backend_policy p;
    mr_backend_slot_init(&s, "primary");
    mr_backend_policy_init(&p, &s, NULL, 0, 0);
    for (int i = 0; i < 5; i++) {
        mr_backend_lost(&p, T0, "refused");
        mr_backend_failed(&p, T0, "refused");
        ck_assert(!mr_backend_waiting(&p, T0));
    }
    ck_assert(!p.is_down);
    ck_assert_uint_eq(atomic_load(&s.failures_total), 0);
    ck_assert_int_eq(atomic_load(&s.breaker), MR_BREAKER_CLOSED);
}
END_TEST

START_TEST(test_backend_probed_first_up_sets_up_since_only)
{
    struct mr_backend_slot s;
    mr_backend_slot_init(&s, "redis");
    mr_backend_probed(&s, true, T0, NULL);
    ck_assert_int_eq(atomic_load(&s.up), 1);
    ck_assert_int_eq(atomic_load(&s.probed_ms), T0);
    ck_assert_int_eq(atomic_load(&s.up_since_ms), T0);
    /* Still up: up_since keeps the time it came up. */
    mr_backend_probed(&s, true, T0 + 500, NULL);
    ck_assert_int_eq(atomic_load(&s.up_since_ms), T0);
    ck_assert_int_eq(atomic_load(&s.probed_ms), T0 + 500);
}
END_TEST

START_TEST(test_backend_probed_recovery_closes_breaker_and_voids_backoff)
{
    struct mr_backend_slot s;
    struct mr_backend_policy p;
    setup(&s, &p);
    mr_backend_probed(&s, true, T0, NULL);
    mr_backend_probed(&s, false, T0 + 100, "connection refused");
    ck_assert_int_eq(atomic_load(&s.up), 0);
    mr_backend_lost(&p, T0 + 150, "refused");
    mr_backend_failed(&p, T0 + 150, "refused");
    mr_backend_failed(&p, T0 + 150, "refused");
    ck_assert_int_eq(atomic_load(&s.breaker), MR_BREAKER_OPEN);
    ck_assert(!mr_breaker_allow(&s, &cfg, T0 + 200));
    ck_assert(mr_backend_waiting(&p, T0 + 200));
    mr_backend_probed(&s, true, T0 + 200, NULL);
    ck_assert_int_eq(atomic_load(&s.up), 1);
    ck_assert_int_eq(atomic_load(&s.up_since_ms), T0 + 200);
    ck_assert_int_eq(atomic_load(&s.breaker), MR_BREAKER_CLOSED);
    ck_assert(mr_breaker_allow(&s, &cfg, T0 + 200));
    ck_assert(!mr_backend_waiting(&p, T0 + 200));
}
END_TEST

Suite *
backend_suite(void)
{
    Suite *s = suite_create("backend");
    TCase *tc = tcase_create("policy");
    tcase_add_test(tc, test_backend_new_policy_does_not_wait);
    tcase_add_test(tc, test_backend_backoff_doubles_up_to_the_cap);
    tcase_add_test(tc, test_backend_ok_resets_the_backoff);
    tcase_add_test(tc, test_backend_prober_seeing_it_up_voids_the_backoff);
    tcase_add_test(tc, test_backend_retry_now_ends_the_backoff);
    tcase_add_test(tc, test_backend_lost_is_logged_once_until_ok);
    tcase_add_test(tc, test_backend_lost_unlogged_policy_stays_quiet);
    tcase_add_test(tc, test_backend_failures_open_the_breaker_and_ok_closes_it);
    tcase_add_test(tc, test_backend_probe_policy_never_waits_nor_feeds_the_breaker);
    tcase_add_test(tc, test_backend_probed_first_up_sets_up_since_only);
    tcase_add_test(tc, test_backend_probed_recovery_closes_breaker_and_voids_backoff);
    suite_add_tcase(s, tc);
    return s;
}
